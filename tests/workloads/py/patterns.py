# Workloads for the pattern table (tests/integration/run.sh, t_patterns):
# each one shows a single performance problem, by its physics, for about a
# second. usage: patterns.py NAME [DIR]   (DIR: scratch space on a real disk)
import gc
import hashlib
import json
import logging
import os
import re
import select
import subprocess
import sys
import threading
import time
import zlib

SECS = 1.0


def until(secs=SECS):
    return time.monotonic() + secs


def cpu():
    """pure Python arithmetic in one function"""
    def work(n):
        s = 0
        for i in range(n):
            s += i * i % 7
        return s

    end = until()
    while time.monotonic() < end:
        work(20000)


def spread():
    """the same work spread evenly over eight functions"""
    ns = {}
    for k in range(8):  # eight distinct code objects, part0 ... part7
        exec(f"def part{k}(n):\n    s = 0\n    for i in range(n):\n        s += (i ^ {k}) % 11\n"
             f"    return s\n", ns)
    parts = [ns[f"part{k}"] for k in range(8)]
    end = until()
    while time.monotonic() < end:
        for f in parts:
            f(3000)


def sleep():
    """a few long sleeps"""
    for _ in range(4):
        time.sleep(0.25)


def poll_sleep():
    """check a flag, sleep 1 ms, again"""
    flag = []
    end = until()
    while time.monotonic() < end and not flag:
        time.sleep(0.001)


def io_pipe():
    """wait for lines a child writes slowly into a pipe"""
    child = subprocess.Popen(
        [sys.executable, "-c",
         "import time\nfor i in range(10):\n    time.sleep(0.1)\n    print(i, flush=True)"],
        stdout=subprocess.PIPE)
    for _ in child.stdout:
        pass
    child.wait()


def small_writes(d):
    """unbuffered 16-byte writes"""
    fd = os.open(os.path.join(d, "small"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    end = until(0.8)
    while time.monotonic() < end:
        for _ in range(1000):
            os.write(fd, b"0123456789abcdef")
    os.close(fd)


def buffered_writes(d):
    """the same 16-byte records through a buffered file"""
    with open(os.path.join(d, "small"), "wb") as f:
        end = until(0.8)
        while time.monotonic() < end:
            for _ in range(1000):
                f.write(b"0123456789abcdef")


def fsync(d):
    """a 4 KiB record, then fsync, many times"""
    fd = os.open(os.path.join(d, "journal"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    end = until(0.8)
    while time.monotonic() < end:
        os.write(fd, b"r" * 4096)
        os.fsync(fd)
    os.close(fd)


def reads(d, flags):
    """1 MiB reads of a 16 MiB file over and over"""
    import mmap
    path = os.path.join(d, "data")
    with open(path, "wb") as f:
        f.write(os.urandom(16 << 20))
    buf = mmap.mmap(-1, 1 << 20)  # page-aligned, as O_DIRECT wants
    fd = os.open(path, os.O_RDONLY | flags)
    end = until()
    while time.monotonic() < end:
        for i in range(16):
            os.preadv(fd, [buf], i << 20)
    os.close(fd)


def direct_reads(d):
    """reads that bypass the page cache (O_DIRECT): each waits for the disk"""
    reads(d, os.O_DIRECT)


def cached_reads(d):
    """the same reads from the page cache"""
    reads(d, 0)


def busy_select():
    """select() with a zero timeout in a loop"""
    r, w = os.pipe()
    end = until()
    while time.monotonic() < end:
        select.select([r], [], [], 0)


def lock():
    """three threads taking turns on one lock, holding it 10 ms"""
    lk = threading.Lock()
    end = until()

    def contend():
        while time.monotonic() < end:
            with lk:
                time.sleep(0.01)

    ts = [threading.Thread(target=contend) for _ in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def gil():
    """four CPU-bound Python threads"""
    end = until()

    def spin():
        s = 0
        while time.monotonic() < end:
            s += 1

    ts = [threading.Thread(target=spin) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def pool_idle():
    """workers idle on a queue while the main thread computes"""
    import queue
    q = queue.Queue()

    def worker():
        while q.get() is not None:
            pass

    ts = [threading.Thread(target=worker) for _ in range(3)]
    for t in ts:
        t.start()
    cpu()
    for t in ts:
        q.put(None)
    for t in ts:
        t.join()


def grow():
    """keep 1 MiB more every 20 ms, for 3.5 s (by the clock: a loaded
    machine delays the sleeps, not the rate)"""
    keep = []
    start = time.monotonic()
    end = start + 3.5
    while time.monotonic() < end:
        while len(keep) < (time.monotonic() - start) * 50:
            keep.append(bytearray(1 << 20))
        time.sleep(0.02)


def faults():
    """fresh 32 MiB buffers, touched and freed, over and over"""
    end = until()
    while time.monotonic() < end:
        b = bytearray(32 << 20)
        b[::4096] = b"x" * len(b[::4096])
        del b


def gc_heavy():
    """short-lived reference cycles: only the cyclic GC can free them"""
    end = until()
    while time.monotonic() < end:
        for _ in range(1000):
            a = {}
            a["self"] = a


def explicit_gc():
    """gc.collect() after every small batch, with 200k objects alive"""
    keep = [[i] for i in range(200000)]
    end = until()
    while time.monotonic() < end:
        [str(i) for i in range(100)]
        gc.collect()
    return keep


def imports(d):
    """import 300 fresh modules (compiled each time: no .pyc written)"""
    sys.dont_write_bytecode = True
    pkg = os.path.join(d, "mods")
    os.makedirs(pkg, exist_ok=True)
    body = "".join(f"def f{j}(x):\n    y = x + {j}\n    return [y * k for k in range(10)]\n"
                   for j in range(60))
    for i in range(300):
        with open(os.path.join(pkg, f"m{i}.py"), "w") as f:
            f.write(body)
    sys.path.insert(0, pkg)
    for i in range(300):
        __import__(f"m{i}")


def regex():
    """a new pattern for every record"""
    end = until()
    i = 0
    while time.monotonic() < end:
        re.compile(rf"(?P<id>{i})-[a-z]+\d{{2,{i % 7 + 3}}}").match(f"{i}-abc123")
        i += 1


def regex_cached():
    """one compiled pattern, many matches"""
    pat = re.compile(r"(?P<id>\d+)-[a-z]+\d{2,9}")
    end = until()
    i = 0
    while time.monotonic() < end:
        pat.match(f"{i}-abc123")
        i += 1


def serialize():
    """JSON round trips of a medium document"""
    doc = {"items": [{"id": i, "name": f"item{i}", "tags": ["a", "b"], "price": i * 1.5}
                     for i in range(200)]}
    end = until()
    while time.monotonic() < end:
        json.loads(json.dumps(doc))


def log(d):
    """a debug record per loop iteration, written to a file"""
    logger = logging.getLogger("w")
    h = logging.FileHandler(os.path.join(d, "log.txt"))
    h.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(funcName)s %(message)s"))
    logger.addHandler(h)
    logger.setLevel(logging.DEBUG)
    end = until()
    i = 0
    while time.monotonic() < end:
        logger.debug("processed record %d of batch %s", i, "b1")
        i += 1


def spawn():
    """one `true` per item"""
    end = until()
    while time.monotonic() < end:
        subprocess.run(["true"])


def oversub():
    """six CPU-bound processes at once"""
    code = "import time\nend = time.monotonic() + 1.0\nwhile time.monotonic() < end: pass"
    ps = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(6)]
    for p in ps:
        p.wait()


def deep():
    """recursion 300 deep, then work at the bottom"""
    sys.setrecursionlimit(2000)

    def down(n, end):
        if n == 0:
            s = 0
            while time.monotonic() < end:
                s += 1
            return s
        return down(n - 1, end) + 1

    down(300, until())


def callbacks():
    """sort with a Python key function: C calls back into Python per element"""
    data = [(i * 7919) % 10007 for i in range(50000)]
    end = until()
    while time.monotonic() < end:
        sorted(data, key=lambda x: -x)


def calls():
    """the same number of Python calls, from Python"""
    data = [(i * 7919) % 10007 for i in range(50000)]
    key = lambda x: -x  # noqa: E731
    end = until()
    while time.monotonic() < end:
        [key(x) for x in data]


def hashing():
    """SHA-256 of large buffers: the time is in the crypto library"""
    buf = b"x" * (8 << 20)
    end = until()
    while time.monotonic() < end:
        hashlib.sha256(buf).hexdigest()


def compress():
    """zlib at level 9 (gzip's and tarfile's default) over text"""
    data = "\n".join(f"record {i}: value={i * 7919 % 10007} name=item{i % 97}" for i in range(60000)).encode()
    end = until()
    while time.monotonic() < end:
        zlib.compress(data, 9)


def enoent():
    """probe for files that are not there"""
    end = until(0.8)
    while time.monotonic() < end:
        for i in range(100):
            try:
                os.stat(f"/nonexistent/dir/file{i}.conf")
            except FileNotFoundError:
                pass



def crash_child():
    """a worker that crashes (SIGSEGV) after some work; the parent carries on and exits 0"""
    code = ("import os, time\nend = time.monotonic() + 0.3\nwhile time.monotonic() < end: pass\n"
            "os.kill(os.getpid(), 11)")
    subprocess.run([sys.executable, "-c", code])
    end = until(0.3)
    while time.monotonic() < end:
        pass

def gc_truth(d):
    """gc_heavy, timing its own collections with gc.callbacks (CPU time of
    this thread) into DIR/gc_truth.json"""
    import json as _json
    spent = [0.0, 0.0]

    def cb(phase, info):
        if phase == "start":
            spent[1] = time.thread_time()
        else:
            spent[0] += time.thread_time() - spent[1]
    gc.callbacks.append(cb)
    t0 = time.thread_time()
    gc_heavy()
    gc.callbacks.remove(cb)
    with open(os.path.join(d, "gc_truth.json"), "w") as f:
        _json.dump({"gc_s": spent[0], "cpu_s": time.thread_time() - t0}, f)


# module-level data a batch tool leaves behind: interpreter shutdown frees
# it object by object (and its final collections walk it)
SHUTDOWN_DATA = []


def _shutdown_build(d):
    import atexit

    def last():  # registered first, so it runs last
        with open(os.path.join(d, "atexit_cpu"), "w") as f:
            f.write("%.6f\n" % time.process_time())
    atexit.register(last)
    SHUTDOWN_DATA.append({i: (i, [i]) for i in range(400000)})


class _SlowDel:
    """sleeps while the interpreter tears modules down: off CPU, so not
    shutdown CPU time"""
    def __del__(self):
        time.sleep(0.2)


def shutdown_heavy(d):
    """a large module-level object graph left for interpreter shutdown"""
    _shutdown_build(d)
    SHUTDOWN_DATA.append(_SlowDel())


def shutdown_skipped(d):
    """the same graph, but the tool flushes and leaves with os._exit"""
    _shutdown_build(d)
    sys.stdout.flush()
    os._exit(0)


def shutdown_truth(d):
    """runs shutdown_heavy in a child; writes its total CPU time (rusage) and
    the CPU time at its last atexit handler to DIR/shutdown_truth.json"""
    import json as _json
    p = subprocess.Popen([sys.executable, __file__, "shutdown_heavy", d])
    _, status, ru = os.wait4(p.pid, 0)
    with open(os.path.join(d, "atexit_cpu")) as f:
        at = float(f.read())
    with open(os.path.join(d, "shutdown_truth.json"), "w") as f:
        _json.dump({"pid": p.pid, "status": status, "cpu_s": ru.ru_utime + ru.ru_stime,
                    "atexit_cpu_s": at}, f)

# ---- time below the Python frame (suite-below.sh) ----

def _source(kb):
    """about kb KiB of Python source: many small functions"""
    parts = []
    for i in range(kb * 1024 // 200):
        parts.append(f"def f{i}(a, b={i}):\n    x = [a * k + b for k in range({i % 13})]\n"
                     f"    return {{'n': len(x), 's': sum(x), 't': str(a) + 'x{i}'}}\n")
    return "".join(parts)


def hashing_spread():
    """SHA-256 of large buffers from three functions: one library, several callers"""
    buf = b"x" * (8 << 20)

    def index():
        hashlib.sha256(buf).digest()

    def verify():
        hashlib.sha256(buf).digest()

    def sign():
        hashlib.sha256(buf).digest()
    end = until(1.5)
    while time.monotonic() < end:
        index(), verify(), sign()


def compile_src(d):
    """py_compile a generated 400 KiB module over and over, as compileall -f does:
    the time is in the builtin compile(), called through importlib's
    _call_with_frames_removed from source_to_code"""
    import py_compile
    src = os.path.join(d, "gen_mod.py")
    with open(src, "w") as f:
        f.write(_source(400))
    end = until(1.5)
    while time.monotonic() < end:
        py_compile.compile(src, cfile=os.path.join(d, "gen_mod.pyc"), doraise=True)


def compile_direct():
    """compile() called directly by the program's own function: on a stripped
    interpreter it is known by the exported Py_CompileStringObject below"""
    src = _source(200)
    end = until(1.5)
    while time.monotonic() < end:
        compile(src, "<gen>", "exec")


def compiled_exec():
    """the control: the same kind of code compiled once, then run over and over"""
    code = compile(_source(40) + "for i in range(200):\n    f7(i)\n    f12(i, 3)\n", "<gen>", "exec")
    end = until(1.5)
    while time.monotonic() < end:
        exec(code, {})


def json_indent(d):
    """json.dump(obj, fp, indent=2): json's pure-Python encoder"""
    doc = {"items": [{"id": i, "name": f"item{i}", "tags": ["a", "b"], "price": i * 1.5}
                     for i in range(2000)]}
    end = until(1.5)
    while time.monotonic() < end:
        with open(os.path.join(d, "out.json"), "w") as f:
            json.dump(doc, f, indent=2)


def json_c(d):
    """the control: fp.write(json.dumps(obj)), the C encoder"""
    doc = {"items": [{"id": i, "name": f"item{i}", "tags": ["a", "b"], "price": i * 1.5}
                     for i in range(2000)]}
    end = until(1.5)
    while time.monotonic() < end:
        with open(os.path.join(d, "out.json"), "w") as f:
            f.write(json.dumps(doc))


def matmul():
    """NumPy matrix products: the time is in the BLAS library's dgemm"""
    import numpy
    a = numpy.random.default_rng(1).random((300, 300))
    end = until(1.5)
    while time.monotonic() < end:
        a = (a @ a) / 300.0


def expat():
    """parse a large XML document with expat and no handlers: the time is in
    libexpat, with the GIL held"""
    from xml.parsers import expat as xp
    doc = ("<r>" + "".join(f'<item id="{i}" name="n{i}"><v>{i * 7}</v><t>text {i}</t></item>'
                           for i in range(20000)) + "</r>").encode()
    end = until(1.5)
    while time.monotonic() < end:
        xp.ParserCreate().Parse(doc, True)


def plateau():
    """load 150 MiB in the first 0.8 s, then work on it for 2.7 s: a working set"""
    keep = []
    end = until(0.8)
    while time.monotonic() < end and len(keep) < 150:
        keep.append(bytearray(1 << 20))
        time.sleep(0.004)
    while len(keep) < 150:
        keep.append(bytearray(1 << 20))
    end = until(2.7)
    i = 0
    while time.monotonic() < end:
        keep[i % 150][0] += 1
        i += 1
        time.sleep(0.01)


def contended():
    """the cpu workload while a busy process (comm ap-hog) with a thread per
    CPU, at a much higher priority (nice 9 lower, its own autogroup at nice
    -19), takes the CPUs; run with --no-children so that it is a process the
    run does not follow"""
    me = os.getpid()
    hog = os.fork()
    if hog == 0:
        try:  # per thread on Linux: before the threads, which inherit it
            os.setpriority(os.PRIO_PROCESS, 0, max(-20, min(0, os.getpriority(os.PRIO_PROCESS, 0)) - 9))
        except OSError:
            pass
        # With autogroups (kernel.sched_autogroup_enabled), nice weighs only
        # within a session, and every other session on the host gets an equal
        # share: a session of its own, weighted as nice -19, makes the hog
        # the one that takes the CPU whatever else runs
        os.setsid()
        try:
            with open("/proc/self/autogroup", "w") as f:
                f.write("-19")
        except OSError:
            pass
        with open("/proc/self/comm", "w") as f:
            f.write("ap-hog")
        buf = bytes(1 << 20)
        stop = until(10)

        def spin():  # SHA-256 of 1 MiB releases the GIL: every thread gets a CPU
            while time.monotonic() < stop and os.getppid() == me:
                hashlib.sha256(buf).digest()

        ts = [threading.Thread(target=spin) for _ in range(len(os.sched_getaffinity(0)))]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        os._exit(0)

    def work(n):
        s = 0
        for i in range(n):
            s += i * i % 7
        return s

    try:
        # 0.3 s of CPU, however little of it the hog leaves (at most 3 s)
        end = until(3)
        while time.process_time() < 0.3 and time.monotonic() < end:
            work(20000)
    finally:
        os.kill(hog, 9)
        os.waitpid(hog, 0)

def ast_parse():
    """a linter's parse step: ast.parse() of generated source over and over;
    the time is in compile() below ast.parse (a syntax tree, no bytecode)"""
    import ast
    src = _source(100)
    end = until(1.5)
    while time.monotonic() < end:
        ast.parse(src)


def compiled_black():
    """black, compiled by mypyc (the corpus' pinned wheel under
    build/corpus/site-packages), formatting generated source: the time is
    the package's own compiled code, below this Python function"""
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
    site = os.path.join(root, "build", "corpus", "site-packages")
    # cached: installs only when the pins changed (needs the package index)
    r = subprocess.run([os.path.join(root, "tools", "corpus.sh"), "setup"], capture_output=True, text=True)
    if r.returncode:
        sys.exit("compiled_black: the corpus could not be installed: " + r.stderr.strip()[-200:])
    sys.path.insert(0, site)
    import black
    src = "".join(f"def f{i}(a,b = {i}):\n  return {{'k':[a,b,{i}],'v':(a+b)*{i}}}\n" for i in range(300))
    mode = black.Mode()
    end = until(1.5)
    while time.monotonic() < end:
        black.format_str(src, mode=mode)
def grow_live():
    """grow's 1 MiB every 20 ms, for 4.5 s: profiled with -d 4 it is still
    growing, and running, when the run ends (live growth)"""
    keep = []
    start = time.monotonic()
    end = start + 4.5
    while time.monotonic() < end:
        while len(keep) < (time.monotonic() - start) * 50:
            keep.append(bytearray(1 << 20))
        time.sleep(0.02)


def transient_buffers():
    """a fresh 128 MiB buffer every 10 ms, dropped at once: over glibc's
    largest mmap threshold (32 MiB), so each is mapped and unmapped (large
    transient mappings; faults' 32 MiB buffers are the control)"""
    end = until()
    while time.monotonic() < end:
        b = bytearray(128 << 20)
        del b
        time.sleep(0.01)

if __name__ == "__main__":
    gc.collect()
    name = sys.argv[1]
    fn = globals()[name]
    if fn.__code__.co_argcount:
        fn(sys.argv[2])
    else:
        fn()
