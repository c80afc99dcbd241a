# Splicing by stack address (issue 16): a C extension under its Python
# caller (SHA-256 in hashlib, called from hash_buffer), then naps in
# time.sleep: the native frames below each Python caller must stay.
import hashlib
import sys
import time


def hash_buffer(buf):
    return hashlib.sha256(buf).hexdigest()


def nap():
    time.sleep(0.01)


def main(hash_s, sleep_s):
    buf = b"x" * (4 << 20)
    end = time.monotonic() + hash_s
    while time.monotonic() < end:
        hash_buffer(buf)
    end = time.monotonic() + sleep_s
    while time.monotonic() < end:
        nap()


main(float(sys.argv[1]), float(sys.argv[2]))
