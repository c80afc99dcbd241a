# A C extension under Python: SHA-256 of a large buffer in hashlib, called
# from hash_buffer(); native frames must appear below the Python caller.
import hashlib
import sys
import time


def hash_buffer(buf):
    return hashlib.sha256(buf).hexdigest()


def main(seconds):
    buf = b"x" * (8 << 20)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        hash_buffer(buf)


main(float(sys.argv[1]) if len(sys.argv) > 1 else 2.0)
