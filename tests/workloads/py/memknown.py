# Known amounts in known functions, for the memory truth and the memray
# comparison of `make bench` (tools/bench-memray.py). Every byte is touched
# where it is allocated, so resident memory (autoprof-bpf's page faults)
# and allocated memory (memray) should both put the bytes here:
#   keep_300: 300 MiB in 300 bytearrays of 1 MiB, kept to the end
#   keep_100: 100 MiB as one b"x" * n, kept to the end
#   keep_50:  50 MiB in 512 bytearrays of 100 KiB, kept to the end
#   churn:    5 times 40 MiB allocated and freed (200 MiB first touched;
#             over the C library's largest mmap threshold, 32 MiB, so each
#             one is mapped afresh and unmapped when freed)
# `memknown.py [SCALE]` multiplies every amount by SCALE (default 1).
# Prints the expected MiB per function as a JSON line on stdout.
import json
import sys

MiB = 1 << 20


def keep_300(scale):
    return [bytearray(MiB) for _ in range(300 * scale)]


def keep_100(scale):
    return b"x" * (100 * scale * MiB)


def keep_50(scale):
    return [bytearray(100 << 10) for _ in range(512 * scale)]


def churn(scale):
    n = 0
    for _ in range(5 * scale):
        b = bytearray(40 * MiB)
        n += len(b)
        del b
    return n


def main(scale):
    kept = [keep_300(scale), keep_100(scale), keep_50(scale)]
    churn(scale)
    print(json.dumps({"keep_300": 300 * scale, "keep_100": 100 * scale,
                      "keep_50": 50 * scale, "churn": 200 * scale}))
    return kept


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
