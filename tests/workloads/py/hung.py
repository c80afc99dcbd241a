# SPDX-License-Identifier: MIT
"""A hung process: every thread blocked forever, each in its own way, each
in a function of its own called from another of its own, so a profiler
attached afterwards can be checked for the Python stack of each wait.

Usage: hung.py [THREADS] READY_FILE
Writes its pid to READY_FILE once every thread is blocked (or about to be:
it waits a little after starting them). THREADS (default 0): that many
more threads blocked in Event.wait(), for a process with many threads.
With HUNG_WAKE_FIFO=PATH (a FIFO) one more thread reads a byte from it
(blocked until the test writes one), then waits forever like the rest."""
import os
import queue
import socket
import sys
import threading
import time

lock = threading.Lock()
lock.acquire()  # never released
jobs = queue.Queue()  # never fed
never = threading.Event()  # never set
rpipe, wpipe = os.pipe()  # never written
sock_a, sock_b = socket.socketpair()  # never written


def hung_lock_wait():
    lock.acquire()


def hung_lock_caller():
    hung_lock_wait()


def hung_queue_wait():
    jobs.get()


def hung_queue_caller():
    hung_queue_wait()


def hung_sleep_wait():
    time.sleep(1000)


def hung_sleep_caller():
    hung_sleep_wait()


def hung_pipe_wait():
    os.read(rpipe, 1)


def hung_pipe_caller():
    hung_pipe_wait()


def hung_sock_wait():
    sock_a.recv(1)


def hung_sock_caller():
    hung_sock_wait()


def hung_pool_wait():
    never.wait()


def hung_pool_caller():
    hung_pool_wait()


def hung_late_wait(fd):
    os.read(fd, 1)


def hung_late_caller(fd):
    hung_late_wait(fd)
    never.wait()


def hung_main_wait():
    never.wait()


def hung_main_caller():
    hung_main_wait()


def main():
    targets = [hung_lock_caller, hung_queue_caller, hung_sleep_caller, hung_pipe_caller,
               hung_sock_caller]
    extra = int(sys.argv[1]) if len(sys.argv) > 2 else 0
    targets += [hung_pool_caller] * extra
    for t in targets:
        threading.Thread(target=t, daemon=True).start()
    if os.environ.get("HUNG_WAKE_FIFO"):
        fd = os.open(os.environ["HUNG_WAKE_FIFO"], os.O_RDWR)  # no wait for a writer
        threading.Thread(target=hung_late_caller, args=(fd,), daemon=True).start()
    time.sleep(0.3)
    ready = sys.argv[-1]
    with open(ready + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.rename(ready + ".tmp", ready)
    hung_main_caller()


main()
