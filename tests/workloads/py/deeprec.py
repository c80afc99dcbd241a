# SPDX-License-Identifier: MIT
# Fixed CPU work at the bottom of a 120-frame Python recursion, repeated:
# each sample of it carries a deep Python stack (the cost per sample of a
# profiler that walks every frame; make bench-peers).
# Usage: deeprec.py [ROUNDS]
import sys


def down(d, n):
    if d:
        return down(d - 1, n)
    s = 0
    for i in range(n):
        s += i * i
    return s


for _ in range(int(sys.argv[1]) if len(sys.argv) > 1 else 80):
    down(120, 300000)
