# SPDX-License-Identifier: MIT
"""Touches MIB MiB (argv[1], default 256) of anonymous memory madvised
MADV_HUGEPAGE in touch_huge, then prints the process's AnonHugePages (kB,
/proc/self/smaps_rollup): how much of it the kernel gave as huge pages."""
import mmap
import sys


def touch_huge(m, size):
    for i in range(0, size, 4096):
        m[i] = 1


def anon_huge_kb():
    with open("/proc/self/smaps_rollup") as f:
        for line in f:
            if line.startswith("AnonHugePages:"):
                return int(line.split()[1])
    return 0


def main():
    size = int(sys.argv[1] if len(sys.argv) > 1 else 256) << 20
    m = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    m.madvise(mmap.MADV_HUGEPAGE)
    touch_huge(m, size)
    print("AnonHugePages_kB", anon_huge_kb(), flush=True)


main()
