# The Python half of tests/workloads/churn: `churn.py MS` computes for MS
# milliseconds of wall time and exits (a short-lived process); `churn.py
# spin` computes until it is killed (steady load). The hot function is
# churn_py_leaf under churn_py.
import sys
import time


def churn_py_leaf(n):
    s = 0
    for i in range(n):
        s += i * i
    return s


def churn_py(ms):
    end = time.monotonic() + ms / 1000.0
    while ms < 0 or time.monotonic() < end:
        churn_py_leaf(2000)


if __name__ == "__main__":
    churn_py(-1 if sys.argv[1] == "spin" else int(sys.argv[1]))
