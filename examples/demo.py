# The bundled demo for `make demo`: a small "order pipeline" that spends its
# time in the places real Python programs do:
#   - pure-Python scoring (the interpreter itself),
#   - json decoding (the _json C accelerator),
#   - sha256 and zlib (C extensions calling libcrypto and libz),
#   - a worker thread matching regular expressions.
# Usage: python3 demo.py [SECONDS]
import hashlib
import json
import re
import sys
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


def main():
    end = time.monotonic() + SECONDS
    auditor = threading.Thread(target=audit_log, args=(end,), name="auditor")
    auditor.start()
    batches = 0
    while time.monotonic() < end:
        process_batch(make_orders(2000, batches))
        batches += 1
    auditor.join()
    print("demo: %d batches processed" % batches)


main()
