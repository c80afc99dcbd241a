# SPDX-License-Identifier: MIT
# The workloads of tools/peers-matrix.py: one mode per capability, each about
# SECS of wall time (default 1), with known function names the matrix looks
# for in each profiler's output. CPython 3.8+, standard library only.
#
#   cpu SECS       cpu_hot(): a pure-Python loop
#   native SECS    native_zlib(): zlib.compress of compressible random bytes
#                  (the time is in zlib's deflate, below the Python frame)
#   sleep SECS     cpu_hot() for a quarter of SECS, then sleeper(): 10 ms
#                  naps in time.sleep for the rest (off CPU)
#   gil SECS       gil_fight() in two threads, pure-Python CPU: each holds
#                  the GIL about half of the time and waits for it otherwise
#   threads SECS   main_hot() in the main thread, thread_hot_a() and
#                  thread_hot_b() in two others, all spinning
#   child SECS     parent_waits() runs a child interpreter (sys.executable)
#                  doing child_hot() for SECS
import sys
import threading
import time
import zlib


# Each CPU-bound function has its own loop, not a shared helper: a profiler
# that names only the innermost function (scalene's lines, a leaf view) must
# still see the function the matrix looks for.
def cpu_hot(secs):
    end, n = time.monotonic() + secs, 0
    while time.monotonic() < end:
        for i in range(2000):
            n += i * i
    return n


def native_zlib(secs):
    import random

    raw = random.Random(1).getrandbits(8 * 262144).to_bytes(262144, "little")
    # 16 letters: compressible, so deflate searches for matches
    data = raw.translate(bytes(b"abcdefghijklmnop"[i % 16] for i in range(256)))
    end = time.monotonic() + secs
    n = 0
    while time.monotonic() < end:
        n += len(zlib.compress(data, 6))
    return n


def sleeper(secs):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        time.sleep(0.01)


def gil_fight(end):
    n = 0
    while time.monotonic() < end:
        for i in range(2000):
            n += i * i
    return n


def main_hot(end):
    n = 0
    while time.monotonic() < end:
        for i in range(2000):
            n += i * i
    return n


def thread_hot_a(end):
    n = 0
    while time.monotonic() < end:
        for i in range(2000):
            n += i * i
    return n


def thread_hot_b(end):
    n = 0
    while time.monotonic() < end:
        for i in range(2000):
            n += i * i
    return n


def child_hot(secs):
    end, n = time.monotonic() + secs, 0
    while time.monotonic() < end:
        for i in range(2000):
            n += i * i
    return n


def parent_waits(secs):
    import subprocess

    subprocess.run([sys.executable, __file__, "child-run", str(secs)], check=True)


def in_threads(funcs, end):
    ts = [threading.Thread(target=f, args=(end,), name=f.__name__) for f in funcs]
    for t in ts:
        t.start()
    return ts


def main():
    mode = sys.argv[1]
    secs = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
    if mode == "cpu":
        cpu_hot(secs)
    elif mode == "native":
        native_zlib(secs)
    elif mode == "sleep":
        cpu_hot(secs / 4)
        sleeper(secs * 3 / 4)
    elif mode == "gil":
        for t in in_threads([gil_fight, gil_fight], time.monotonic() + secs):
            t.join()
    elif mode == "threads":
        end = time.monotonic() + secs
        ts = in_threads([thread_hot_a, thread_hot_b], end)
        main_hot(end)
        for t in ts:
            t.join()
    elif mode == "child":
        parent_waits(secs)
    elif mode == "child-run":
        child_hot(secs)
    else:
        sys.exit("work.py: unknown mode " + mode)


if __name__ == "__main__":
    main()
