# SPDX-License-Identifier: MIT
# A target whose names try to leave their place in the reports (issue 12):
# a function and its file named with HTML that closes a script block, a
# Markdown link, backticks, table pipes, a terminal escape, U+2028 and a
# line break, and a thread named with a terminal escape. The test runs this
# file under a hostile name of its own. Usage: hostile.py SECONDS
import ctypes
import sys
import threading
import time

# (the profiler keeps the first 64 bytes of a name)
EVIL = "`|``\x1b[31m\u2028\n\u009b2J</script><img src=x onerror=alert(1)>[x](y)#"
SRC = "def burn(end):\n    n = 0\n    while time.monotonic() < end:\n        n += 1\n    return n\n"
ns = {"time": time}
exec(compile(SRC, EVIL + ".py", "exec"), ns)
burn = ns["burn"]
names = {k: EVIL for k in ("co_name", "co_qualname") if hasattr(burn.__code__, k)}
burn.__code__ = burn.__code__.replace(**names)


def worker(end):
    ctypes.CDLL(None).prctl(15, b"\x1b[31m<b>|`\n", 0, 0, 0)  # PR_SET_NAME
    burn(end)


end = time.monotonic() + float(sys.argv[1])
t = threading.Thread(target=worker, args=(end,), name=EVIL)
t.start()
burn(end)
t.join()
