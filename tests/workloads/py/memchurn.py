# SPDX-License-Identifier: MIT
"""Page-fault churn and large transient mappings, for page_fault_churn and
large_transient_mapping (issue 18): scratch() allocates a fresh 128 MiB
buffer (zero-filled: every page touched), drops it and sleeps 50 ms, for
SECS seconds. 128 MiB is over glibc's largest mmap threshold (32 MiB): each
buffer is its own mmap, unmapped on free, so the process touches about
1.3 GB a second while its resident set stays where it was."""
import sys
import time

SECS = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0


def scratch():
    b = bytearray(128 << 20)  # SCRATCH
    return len(b)


def main():
    end = time.monotonic() + SECS
    n = 0
    while time.monotonic() < end:
        n += scratch()
        time.sleep(0.05)
    return n


if __name__ == "__main__":
    main()
