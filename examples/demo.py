# The bundled demo for `make demo`: a small "order pipeline" that spends its
# time in the places real Python programs do:
#   - pure-Python scoring (the interpreter itself),
#   - json decoding (the _json C accelerator),
#   - sha256 and zlib (C extensions calling libcrypto and libz),
#   - a worker thread matching regular expressions (the two threads
#     take turns on the GIL),
#   - waiting: an fsync'ed archive file after each few batches, and a
#     "price service" child process it waits for.
# Usage: python3 demo.py [SECONDS]
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import zlib

SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
PATTERN = re.compile(r"(?P<user>u\d+)-(?P<item>[a-z]+)-(?P<qty>\d+)")


def make_orders(n, seed):
    return json.dumps([{"user": "u%d" % ((seed + i) % 97), "item": "item%d" % (i % 13),
                        "qty": (seed * i) % 7 + 1, "price": (i * 37) % 101 / 10}
                       for i in range(n)])


def score(order):
    s = 0.0
    for k in range(40):  # deliberately slow pure-Python arithmetic
        s += (order["qty"] * order["price"] + k) % 7
    return s


def process_batch(blob):
    orders = json.loads(blob)
    total = sum(score(o) for o in orders)
    digest = hashlib.sha256(blob.encode()).hexdigest()
    packed = zlib.compress(blob.encode() * 8, 6)
    return total, digest, len(packed)


def audit_log(end):
    lines = ["u%d-widget-%d" % (i, i % 9) for i in range(20000)]
    hits = 0
    while time.monotonic() < end:
        for line in lines:
            m = PATTERN.match(line)
            if m and m.group("qty") == "3":
                hits += 1
    return hits


def archive(f, packed_len):
    f.write(b"x" * packed_len)
    f.flush()
    os.fsync(f.fileno())


def fetch_prices():
    # a slow backend: a child process that answers after 150 ms
    out = subprocess.run([sys.executable, "-c", "import time; time.sleep(0.15); print(42)"],
                         capture_output=True, check=True)
    return int(out.stdout)


def main():
    end = time.monotonic() + SECONDS
    auditor = threading.Thread(target=audit_log, args=(end,), name="auditor")
    auditor.start()
    batches = 0
    with tempfile.TemporaryFile() as f:
        while time.monotonic() < end:
            _, _, packed_len = process_batch(make_orders(2000, batches))
            batches += 1
            if batches % 4 == 0:
                archive(f, packed_len)
            if batches % 10 == 0:
                fetch_prices()
    auditor.join()
    print("demo: %d batches processed" % batches)


main()
