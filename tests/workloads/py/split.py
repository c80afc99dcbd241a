# Known truth: hot_a gets 70% of the CPU, hot_b 30%: identical bodies and
# arguments, called 7 and 3 times per round; each has one marked hot line.
import sys
import time


def hot_a(n):
    s = 0
    for i in range(n):
        s += i * i  # HOT: hot_a
    return s


def hot_b(n):
    s = 0
    for i in range(n):
        s += i * i  # HOT: hot_b
    return s


# SECONDS of CPU time: the samples it gets do not depend on the machine's load
def main(seconds):
    end = time.process_time() + seconds
    while time.process_time() < end:
        for k in range(10):
            if k < 7:
                hot_a(1000)
            else:
                hot_b(1000)


main(float(sys.argv[1]) if len(sys.argv) > 1 else 3.0)
