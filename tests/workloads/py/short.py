# A 0.3 s script: its frames must be named although it exits before the
# profiler has drained the last samples.
import time


def brief():
    end = time.monotonic() + 0.3
    s = 0
    while time.monotonic() < end:
        s += 1
    return s


brief()
