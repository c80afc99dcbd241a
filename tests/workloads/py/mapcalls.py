# SPDX-License-Identifier: MIT
"""Waits DELAY seconds (argv[1], default 1: time for a profiler to attach),
then maps 8 x 16 MiB of anonymous memory in map_some (mmap calls made
after the attach), touches a page of each and exits."""
import mmap
import sys
import time


def map_some(n, size):
    maps = []
    for _ in range(n):
        m = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        m[0] = 1
        maps.append(m)
    return maps


def main():
    time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0)
    maps = map_some(8, 16 << 20)
    time.sleep(0.3)
    for m in maps:
        m.close()


main()
