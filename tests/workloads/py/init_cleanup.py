# SPDX-License-Identifier: MIT
# Instances of a class with a Python __init__, created in a loop: from 3.13
# on the interpreter runs each __init__ under a frame of its own code object
# _Py_InitCleanup (shown as "__init__ (__init__)" unless hidden).
# Usage: init_cleanup.py SECONDS
import sys
import time


class Point:
    def __init__(self, x):
        s = 0
        for i in range(300):
            s += i * x
        self.s = s


end = time.monotonic() + float(sys.argv[1])
n = 0
while time.monotonic() < end:
    n += Point(3).s
