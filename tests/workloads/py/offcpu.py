# Off-CPU workloads with known truth (tests/integration/run.sh):
#   sleep SECS             one thread sleeping in 10 ms naps
#   lock SECS              three threads taking turns on one threading.Lock,
#                          each holding it for 10 ms: two wait at any time
#   gil SECS               four CPU-bound threads: three wait for the GIL
#   writes N SIZE PATH     N os.write calls of SIZE bytes to a new file
#   pread PATH             read PATH with os.preadv in 64 KiB chunks
#   children SECS          subprocess.run of a CPU-burning child, then a
#                          multiprocessing.Pool(2) mapping a CPU-bound function
import multiprocessing
import os
import subprocess
import sys
import threading
import time


def nap():
    time.sleep(0.01)


def sleeper(secs):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        nap()


LOCK = threading.Lock()


def contend(end):
    while time.monotonic() < end:
        with LOCK:
            time.sleep(0.01)


def spin(end):
    s = 0
    while time.monotonic() < end:
        s += 1
    return s


def run_threads(fn, n, secs):
    end = time.monotonic() + secs
    ts = [threading.Thread(target=fn, args=(end,)) for _ in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def writer(n, size, path):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    buf = b"x" * size
    for _ in range(n):
        os.write(fd, buf)
    os.close(fd)


def reader(path):
    # preadv: a syscall nothing else in the interpreter uses (the dynamic
    # loader reads ELF headers with pread64)
    fd = os.open(path, os.O_RDONLY)
    buf = bytearray(65536)
    off = 0
    while True:
        n = os.preadv(fd, [buf], off)
        if not n:
            break
        off += n
    os.close(fd)
    return off


def burn(n):
    s = 0
    for i in range(n):
        s += i * i
    return s


def children(secs):
    subprocess.run([sys.executable, "-c",
                    "import time\nend = time.process_time() + %f\n"
                    "def child_burn():\n"
                    "    s = 0\n"
                    "    while time.process_time() < end:\n"
                    "        s += 1\n"
                    "child_burn()\n" % secs], check=True)
    with multiprocessing.Pool(2) as pool:
        pool.map(burn, [3000000] * 4)


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "sleep":
        sleeper(float(sys.argv[2]))
    elif mode == "lock":
        run_threads(contend, 3, float(sys.argv[2]))
    elif mode == "gil":
        run_threads(spin, 4, float(sys.argv[2]))
    elif mode == "writes":
        writer(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    elif mode == "pread":
        print(reader(sys.argv[2]))
    elif mode == "children":
        children(float(sys.argv[2]))
