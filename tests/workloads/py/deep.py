# Recursion to depth 500, then spin at the bottom: stacks deeper than the
# frame limit must be cut cleanly (flagged truncated), innermost kept.
# Usage: deep.py SECONDS (of CPU time at the bottom, whatever the load)
import sys
import time

sys.setrecursionlimit(2000)


def down(n, end):
    if n == 0:
        s = 0
        while time.process_time() < end:
            for _ in range(1000):
                s += 1  # the leaf
        return s
    return down(n - 1, end) + 1


down(500, time.process_time() + (float(sys.argv[1]) if len(sys.argv) > 1 else 1.5))
