# Known CPU shares in five functions, for the accuracy rows of
# `make bench-peers` (tools/bench-peers.py): each profiler's per-function
# shares of on-CPU samples are compared with what the functions measured of
# their own CPU time (time.thread_time() around each call). Aimed at
# 40/25/15/10/10; the truth is what was measured, not the aim:
#   py_loop   pure Python arithmetic
#   zlib_c    zlib.compress: C below a Python frame
#   sort_c    sorted() of floats: C below a Python frame
#   regex_c   re.findall: C below a Python frame
#   py_dict   dict and str work in Python
# `peertruth.py [--truth FILE] [SECONDS]`: about SECONDS (default 3) of CPU
# in rounds of 100 ms; one calibration round (not counted) sizes each call
# on this machine. Writes the truth as JSON to FILE (or stdout).
import json
import random
import re
import sys
import time
import zlib

AIM = {"py_loop": 0.40, "zlib_c": 0.25, "sort_c": 0.15, "regex_c": 0.10, "py_dict": 0.10}
ROUND = 0.1
rng = random.Random(19)
BLOB = bytes(rng.getrandbits(8) for _ in range(1 << 15)) * 4
FLOATS = [rng.random() for _ in range(20000)]
TEXT = " ".join(rng.choice(["alpha", "beta42", "gamma", "x7y", "delta_9"]) for _ in range(20000))
WORD = re.compile(r"\b[a-z]+\d+\w*\b")


def py_loop(n):
    s = 0
    for i in range(n * 2000):
        s += i * i % 7
    return s


def zlib_c(n):
    for _ in range(n):
        zlib.compress(BLOB, 9)


def sort_c(n):
    for _ in range(n):
        sorted(FLOATS)


def regex_c(n):
    for _ in range(n):
        WORD.findall(TEXT)


def py_dict(n):
    d = {}
    for i in range(n * 1000):
        d[str(i)] = d.get(str(i - 1), 0) + 1
    return len(d)


FUNCS = [py_loop, zlib_c, sort_c, regex_c, py_dict]


def timed(f, n, spent):
    t0 = time.thread_time()
    f(n)
    spent[f.__name__] += time.thread_time() - t0


def calibrate():
    """calls per round of each function so that its share is its aim"""
    units = {}
    for f in FUNCS:
        n, t = 1, 0.0
        while t < 0.02:
            n *= 2
            t0 = time.thread_time()
            f(n)
            t = time.thread_time() - t0
        units[f.__name__] = max(1, round(n * AIM[f.__name__] * ROUND / t))
    return units


def main(argv):
    out = None
    if argv[:1] == ["--truth"]:
        out, argv = argv[1], argv[2:]
    seconds = float(argv[0]) if argv else 3.0
    units = calibrate()
    spent = dict.fromkeys(AIM, 0.0)
    for _ in range(max(1, round(seconds / ROUND))):
        for f in FUNCS:
            timed(f, units[f.__name__], spent)
    total = sum(spent.values())
    truth = {"cpu_s": spent, "share": {k: v / total for k, v in spent.items()},
             "units": units}
    if out:
        with open(out, "w") as f:
            json.dump(truth, f, indent=1)
    else:
        print(json.dumps(truth))


main(sys.argv[1:])
