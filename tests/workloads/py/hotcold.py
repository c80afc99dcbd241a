# SPDX-License-Identifier: MIT
# hot(N) then cold(M) iterations of the same loop, so each function has self
# samples of its own; the workload of the diff, --repeat and baseline tests.
#   hotcold.py N M          the two loops
#   hotcold.py N M K        then K one-line writes to /dev/null, each flushed
#   hotcold.py N M 0 S      under --repeat: run I (AUTOPROF_REPEAT_RUN) sleeps
#                           S seconds when odd, 9 S and does 3 N of hot when
#                           even; run 5 and later sleep 30 s first
import os
import sys
import time


def hot(n):
    x = 0
    for i in range(n):
        x = (x * 31 + i) & 0xFFFFFFFF
    return x


def cold(n):
    x = 0
    for i in range(n):
        x = (x * 31 + i) & 0xFFFFFFFF
    return x


n, m = int(sys.argv[1]), int(sys.argv[2])
writes = int(sys.argv[3]) if len(sys.argv) > 3 else 0
if len(sys.argv) > 4:
    run = int(os.environ["AUTOPROF_REPEAT_RUN"])
    even = run % 2 == 0
    if run >= 5:
        time.sleep(30)
    time.sleep(float(sys.argv[4]) * (9 if even else 1))
    n *= 3 if even else 1
hot(n)
cold(m)
with open("/dev/null", "w") as f:
    for i in range(writes):
        f.write("x" * 100)
        f.flush()
