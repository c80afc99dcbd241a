# Run by tests/workloads/pyembed.c inside an embedding program: work_a,
# work_b and work_z are called from three threads the program made, each
# working for the CPU seconds it is given (CPU time, so the split does not
# depend on the machine's load). work_a and work_b spin in Python (holding
# the GIL); work_z compresses, and zlib releases the GIL around deflate.
import os
import time
import zlib


def spin(cpu_s):
    s = 0
    end = time.thread_time() + cpu_s
    while time.thread_time() < end:
        for i in range(2000):
            s += i * i
    return s


def work_a(cpu_s):
    return spin(cpu_s)


def work_b(cpu_s):
    return spin(cpu_s)


def work_z(cpu_s):
    data = os.urandom(1 << 19)
    end = time.thread_time() + cpu_s
    n = 0
    while time.thread_time() < end:
        n += len(zlib.compress(data, 9))
    return n
