# SPDX-License-Identifier: MIT
"""A leak among a one-off load, for the leak_candidate finding (issue 18):
load() touches 40 MiB once at the start and keeps it (a working set);
remember() then keeps 1 MiB more every 20 ms (50 MiB/s, by the clock: a
loaded machine delays the sleeps, not the rate) for SECS seconds. The leak
is the line marked LEAK."""
import sys
import time

SECS = float(sys.argv[1]) if len(sys.argv) > 1 else 2.5


def load():
    return [bytearray(1 << 20) for _ in range(40)]


def remember(cache, n):
    while len(cache) < n:
        cache.append(bytearray(1 << 20))  # LEAK


def main():
    data = load()
    cache = []
    start = time.monotonic()
    while time.monotonic() - start < SECS:
        remember(cache, int((time.monotonic() - start) * 50))
        time.sleep(0.02)
    return len(data) + len(cache)


if __name__ == "__main__":
    main()
