# Four threads, each running its own function: every thread's samples
# must name its function and no other.
import sys
import threading
import time

SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0


def spin(end):
    s = 0
    while time.monotonic() < end:
        s += 1
    return s


def alpha(end):
    return spin(end)


def beta(end):
    return spin(end)


def gamma(end):
    return spin(end)


def delta(end):
    return spin(end)


end = time.monotonic() + SECONDS
ts = [threading.Thread(target=f, args=(end,), name=f.__name__) for f in (alpha, beta, gamma, delta)]
for t in ts:
    t.start()
for t in ts:
    t.join()
