# SPDX-License-Identifier: MIT
# Known allocations for --malloc (tests/integration/suite-malloc.sh): bytes
# objects of 64 KiB (over pymalloc's 512-byte limit, so each one is a call
# of the C library's malloc) made in make_blobs(), N at a time kept, then
# dropped. Prints how many bytes it asked for.
import sys


def make_blobs(n, size):
    return [bytes(size) for _ in range(n)]


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    size = 64 * 1024
    total = 0
    for _ in range(rounds):
        blobs = make_blobs(16, size)
        total += len(blobs) * size
        del blobs
    print(f"make_blobs_bytes={total}")


main()
