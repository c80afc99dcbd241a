# A script of 0.3 s of CPU time: its frames must be named although it exits
# before the profiler has drained the last samples.
import time


def brief():
    end = time.process_time() + 0.3
    s = 0
    while time.process_time() < end:
        for _ in range(1000):
            s += 1
    return s


brief()
