# SPDX-License-Identifier: MIT
"""sympy: series expansions and simplification (sympy's own code; its import
alone is ~0.5 s of module execution).  sym_series.py N"""
import sys

from sympy import cos, exp, log, series, simplify, sin, sqrt, symbols

x = symbols("x")
n = int(sys.argv[1])
out = []
for k in range(1, n + 1):
    out.append(series(exp(sin(x)) * cos(k * x) / (1 + x), x, 0, 8))
    out.append(simplify((sin(x) ** 2 + cos(x) ** 2) * sqrt(k * x ** 2) + log(exp(x))))
print(len(str(out)))
