# SPDX-License-Identifier: MIT
"""networkx: a random graph held for the whole run, betweenness centrality
of a sample of its nodes (networkx's own pure-Python Brandes algorithm:
dicts and lists per source; the graph is a dict of dicts of dicts, so every
full collection walks it).  nx_paths.py NODES"""
import sys

import networkx as nx

n = int(sys.argv[1])
G = nx.gnm_random_graph(n, 6 * n, seed=3)
H = [nx.path_graph(200) for _ in range(n // 10)]  # live object graph, as a program's state
bc = nx.betweenness_centrality(G, k=min(n, 150), seed=4)
print(max(bc.values()))
