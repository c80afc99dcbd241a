# SPDX-License-Identifier: MIT
# Memory truth workload (issue 18): allocate_big() touches a known amount
# (argv[1] MiB, default 200) of new memory and keeps it alive; little else
# allocates. The memory profile must put most of its bytes under
# allocate_big, and their total near the amount.
import sys


def allocate_big(mib):
    keep = []
    for _ in range(mib):
        keep.append(b"\x01" * (1 << 20))  # bytes repeat: every page written
    return keep


def main():
    mib = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    data = allocate_big(mib)
    print(len(data), "MiB kept")


if __name__ == "__main__":
    main()
