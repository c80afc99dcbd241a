# The allocation-heavy program of `make bench`'s memory overhead row
# (tools/bench-memory.sh): fixed work, so its wall time shows the cost of
# sampling its page faults. Each round builds and drops lists of ints,
# dicts of strings and bytearrays (64 KiB to 48 MiB: the large ones are
# mapped afresh and unmapped by the C library each time, so their pages
# fault again), several hundred MB of first-touch page faults a second.
# `memheavy.py [ROUNDS]`, default 20 rounds (1.5-2 s on a 2-CPU VM).
import sys


def build_lists(n):
    return [[i, i + 1, i * 2] for i in range(n)]


def build_dicts(n):
    return [{"k": str(i), "v": i, "w": [i]} for i in range(n)]


def build_buffers():
    out = []
    for size in (1 << 16, 1 << 18, 1 << 20, 4 << 20):
        for _ in range(4):
            out.append(bytearray(size))
    out.append(bytearray(48 << 20))
    return out


def round_():
    a = build_lists(40000)
    b = build_dicts(20000)
    c = build_buffers()
    return len(a) + len(b) + len(c)


def main(rounds):
    total = 0
    for _ in range(rounds):
        total += round_()
    return total


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
