# SPDX-License-Identifier: MIT
# A target that makes reading its thread names hard (issue 15, item 8):
# threads that start and exit all the time (gone mid-read), names that are
# not str, 1 MB long, non-ASCII or full of escapes, a _native_id that is
# negative, huge or a str, and 3,000 fake entries in threading._active.
# The thread "Good-1" burns CPU and keeps its name.
# Usage: names_hostile.py SECONDS
import sys
import threading
import time

end = time.monotonic() + float(sys.argv[1])


def spin():
    n = 0
    while time.monotonic() < end:
        n += 1


def nap():
    while time.monotonic() < end:
        time.sleep(0.05)


good = threading.Thread(target=spin, name="Good-1")
good.start()
odd = []
for name, nid in ((12345, None), ("x" * (1 << 20), None), ("W\u00f6rker-\u7ebf\u7a0b-\U0001f600", None),
                  ("\x1b[2J\x1b[31mred\n|`<b>", None), ("neg", -1), ("huge", 1 << 70), ("str", "7")):
    t = threading.Thread(target=nap, name="tmp")
    t.start()
    t._name = name
    if nid is not None:
        t._native_id = nid
    odd.append(t)


class Fake:
    pass


for i in range(3000):
    f = Fake()
    f._name = "fake-%d" % i
    f._native_id = 1
    threading._active[(1 << 40) + i] = f


def churn():
    while time.monotonic() < end:
        t = threading.Thread(target=lambda: None, name="short")
        t.start()
        t.join()


c = threading.Thread(target=churn, name="Churn")
c.start()
spin()
for i in range(3000):
    threading._active.pop((1 << 40) + i, None)
for t in [good, c] + odd:
    t.join()
