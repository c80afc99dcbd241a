# Four threads, each running its own function: every thread's samples
# must name its function and no other. Each thread spins for SECONDS / 4 of
# its own CPU time (so the samples each gets do not depend on the machine's
# load), calling time.monotonic() (the vDSO) all along.
import sys
import threading
import time

SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0


def spin(cpu_s):
    s = 0
    end = time.thread_time() + cpu_s
    while True:
        for _ in range(1000):
            s += time.monotonic() > 0
        if time.thread_time() >= end:
            return s


def alpha(end):
    return spin(end)


def beta(end):
    return spin(end)


def gamma(end):
    return spin(end)


def delta(end):
    return spin(end)


ts = [threading.Thread(target=f, args=(SECONDS / 4,), name=f.__name__) for f in (alpha, beta, gamma, delta)]
for t in ts:
    t.start()
for t in ts:
    t.join()
