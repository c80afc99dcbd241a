#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""What each Python profiler sees, on which Pythons, and what breaks (issue 19).

autoprof-bpf and the peers of build/peers-venv (tools/peers-venv.sh: py-spy,
austin, pyinstrument, scalene, memray, pinned in tools/peers-requirements.txt)
run the small workloads of tools/peers/work.py, each about a second, with
known function names. Every cell is read from the tool's own output, with a
short evidence string in matrix.json; a run that fails is tried once more
and its cell says so:

- features, on pyenv's CPython 3.11.7: Python frames with lines, native
  frames below a Python frame (zlib's deflate under native_zlib), the GIL,
  off-CPU time, a child interpreter, all threads. Each tool runs with the
  documented option for the feature where it has one (the table says which);
- Python versions, 3.8 to 3.15 (pyenv's, Debian's static stripped
  /usr/bin/python3.11, Debian unstable's 3.14 and 3.15 from
  tools/debian-python.sh, run as ordinary executables: debian_unstable()):
  cpu_hot() in the output (memray: native_zlib's allocations) or the first
  error line. The in-process tools are installed per version (the same
  pinned versions, wheels only) into build/peers-by-version/X.Y/TOOL, cached
  by a stamp;
- what breaks: every failure, with its exit status and first error line.

Usage: tools/peers-matrix.py --out DIR [--secs S] [--tools a,b] [--pythons a,b]
(as root; AP=path overrides build/autoprof-bpf). Writes DIR/matrix.json,
DIR/matrix.md (Markdown for the README) and DIR/runs/ (each run's command
output), and prints matrix.md. Exit 0 when the matrix was written (failing
cells are results: no network makes the peers' cells say so), 2 for a
usage error. About 2 minutes; the first run also installs (about 1 more).
"""
import argparse
import concurrent.futures
import datetime
import json
import os
import platform
import re
import shutil
import signal
import struct
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.join(ROOT, "tools/peers/work.py")
VENV = os.path.join(ROOT, "build/peers-venv")
BYVER = os.path.join(ROOT, "build/peers-by-version")
AP = os.environ.get("AP", os.path.join(ROOT, "build/autoprof-bpf"))
REQ = os.path.join(ROOT, "tools/peers-requirements.txt")
PYENV = "/root/.pyenv/versions"
RUN_TIMEOUT = 60
# a failed install of a pinned version with no wheel is retried after a day
# (a wheel may be published for it); a network failure at the next run
NO_WHEEL_TTL = 86400

TOOLS = ["autoprof-bpf", "py-spy", "austin", "pyinstrument", "scalene", "memray"]
# memray profiles memory, not time: the versions table only, where "ok"
# means native_zlib's allocations are in its stats
GRID_ONLY = {"memray"}
IN_PROCESS = {"pyinstrument", "scalene", "memray"}
PYFRAME = re.compile(r"^(.*) \((.+):(\d+)\)$")
FEATURES = ["python", "native", "gil", "offcpu", "child", "threads"]
FEATURE_TITLES = {
    "python": "Python frames (cpu_hot, with lines)",
    "native": "Native frames (zlib's deflate under native_zlib)",
    "gil": "GIL (2 threads of gil_fight)",
    "offcpu": "Off-CPU (sleeper: time.sleep)",
    "child": "Subprocess (child_hot in a child interpreter)",
    "threads": "Threads (main_hot, thread_hot_a, thread_hot_b)",
}
# the workload mode of each feature
MODES = {"python": "cpu", "native": "native", "gil": "gil", "offcpu": "sleep",
         "child": "child", "threads": "threads"}
# each tool's documented option for a feature (none: its defaults), and
# the extra runs of COMPARE_OPTS: the same workload with another option,
# to say what the first one shows
FEATURE_OPTS = {
    "autoprof-bpf": {},
    "py-spy": {"native": ["--native"], "gil": ["--gil"], "offcpu": ["--idle"],
               "child": ["--subprocesses"]},
    "austin": {"native": ["<austinp>"], "child": ["-C"]},
    "pyinstrument": {},
    "scalene": {},
}
COMPARE_OPTS = {"py-spy": {"gil": ["--idle"]}, "austin": {"gil": ["-c"], "offcpu": ["-c"]}}


def log(msg):
    print("peers-matrix: " + msg, file=sys.stderr, flush=True)


# ---- interpreters -----------------------------------------------------------

class Interp:
    """One interpreter: the argv that runs it, the environment it needs."""

    def __init__(self, key, label, xy, argv=None, env=None, error=None):
        self.key, self.label, self.xy = key, label, xy
        self.argv, self.env, self.error = argv or [], env or {}, error
        self.version = None
        self.links = {}             # name -> target, made in the cwd of each run

    def make_links(self, d):
        for name, target in self.links.items():
            p = os.path.join(d, name)
            if not os.path.islink(p):
                os.symlink(target, p)

    def name(self):
        return "%s %s" % (self.version or self.key.replace("deb", ""), self.label)


LD_UNSTABLE = "ld-unstable.so.2"


def exec_copy(src, dst):
    """A copy of the ELF executable SRC whose PT_INTERP is LD_UNSTABLE, a
    relative path: the kernel opens it in the cwd of the exec, where each
    run has a link to Debian unstable's loader (an absolute path would not
    fit in place of /lib64/ld-linux-x86-64.so.2)."""
    st = os.stat(src)
    stamp = "%s %d %d" % (src, st.st_size, int(st.st_mtime))
    if os.path.exists(dst) and os.path.exists(dst + ".stamp") and \
            open(dst + ".stamp").read() == stamp:
        return
    with open(src, "rb") as f:
        b = bytearray(f.read())
    if b[:6] != b"\x7fELF\x02\x01":
        raise ValueError("%s: not a 64-bit little-endian ELF file" % src)
    phoff, = struct.unpack_from("<Q", b, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", b, 0x36)
    for i in range(phnum):
        o = phoff + i * phentsize
        if struct.unpack_from("<I", b, o)[0] == 3:             # PT_INTERP
            off, = struct.unpack_from("<Q", b, o + 8)
            size, = struct.unpack_from("<Q", b, o + 32)
            new = LD_UNSTABLE.encode()
            if len(new) + 1 > size:
                raise ValueError("%s: PT_INTERP has %d bytes" % (src, size))
            b[off:off + size] = new + b"\0" * (size - len(new))
            break
    else:
        raise ValueError("%s: no PT_INTERP" % src)
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    with open(dst + ".tmp", "wb") as f:
        f.write(b)
    os.chmod(dst + ".tmp", 0o755)
    os.rename(dst + ".tmp", dst)
    with open(dst + ".stamp", "w") as f:
        f.write(stamp)


def debian_unstable(v):
    """Debian unstable's python3.X (tools/debian-python.sh), run as an
    ordinary executable: the tests run it as a program of its loader
    (ld-linux-x86-64.so.2 --library-path ... python3.X), and then the
    process's executable is the loader, which py-spy and austin take for
    the program and fail on ("Failed to find python version from target
    process"), and scalene re-executes sys.executable with the host's
    loader and glibc (too old). So: a copy of the binary whose loader is
    unstable's (exec_copy) and LD_LIBRARY_PATH=unstable's libraries."""
    r = subprocess.run([os.path.join(ROOT, "tools/debian-python.sh"), "cmd", v],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    key, label = "deb" + v, "Debian unstable (stripped, PGO+LTO)"
    if r.returncode:
        err = (r.stderr.strip().splitlines() or ["exit %d" % r.returncode])[-1]
        return Interp(key, label, v, error="cannot fetch the interpreter: " + err)
    # env PYTHONHOME=DIR LOADER --library-path DIRS PYTHON
    words = r.stdout.split()
    i = words.index("--library-path")
    home = next(w.split("=", 1)[1] for w in words if w.startswith("PYTHONHOME="))
    copy = os.path.join(BYVER, "exec", "python" + v)
    try:
        exec_copy(words[-1], copy)
    except (OSError, ValueError) as e:
        return Interp(key, label, v, error="cannot make an executable copy: %s" % e)
    it = Interp(key, label, v, [copy], {"PYTHONHOME": home, "LD_LIBRARY_PATH": words[i + 1]})
    it.links = {LD_UNSTABLE: os.path.realpath(words[i - 1])}
    return it


def interpreters():
    out = []
    for full in ["3.8.18", "3.9.18", "3.10.13", "3.11.7", "3.12.1", "3.13.0"]:
        xy = full.rsplit(".", 1)[0]
        py = os.path.join(PYENV, full, "bin", "python" + xy)
        label = "pyenv"
        if os.access(py, os.X_OK):
            out.append(Interp(full, label, xy, [py]))
        else:
            out.append(Interp(full, label, xy, error="not on this machine: " + py))
    out.insert(4, Interp("deb3.11", "Debian /usr/bin/python3.11 (static, stripped)", "3.11",
                         ["/usr/bin/python3.11"]))
    for v in ["3.14", "3.15"]:
        out.append(debian_unstable(v))
    for it in out:
        if it.error:
            continue
        d = os.path.dirname(it.argv[0])
        it.make_links(d)
        r = run_quiet(it.argv + ["-c", "import sys; print(sys.version.split()[0])"], it.env, cwd=d)
        if r.returncode:
            it.error = "does not start: " + first_error(r.stderr, r.returncode)
        else:
            it.version = r.stdout.strip()
    return out


# ---- running ----------------------------------------------------------------

def run_quiet(argv, env=None, timeout=60, cwd=None):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=e, timeout=timeout, errors="replace", cwd=cwd)


ERRLINE = re.compile(r"error|fail|cannot|can't|unable|not found|no such|denied|not supported|"
                     r"unsupported|invalid|refused|killed|timed out", re.I)


def first_error(text, rc=None):
    """The line that says what failed: a traceback's exception line, else
    the first line that reads as an error, else the first line."""
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    if any(ln.startswith("Traceback") for ln in lines):
        exc = [ln for ln in lines if re.match(r"^[\w.]+(Error|Exception|Exit|Interrupt)\b", ln)]
        return exc[-1] if exc else lines[-1]
    for ln in lines:
        if ERRLINE.search(ln):
            # its first sentence: austin's message runs on over lines
            cut = ln.find(". ")
            return ln[:cut + 1 if cut > 0 else 300]
    if lines:
        return lines[0][:300]
    return "exit %s, no message" % rc


class Run:
    """One profiler run: its command, exit status, output files and time."""

    def __init__(self, tool, interp, mode, opts, d):
        self.tool, self.interp, self.mode, self.opts, self.dir = tool, interp, mode, opts, d
        self.argv, self.env, self.rc, self.err, self.secs = [], {}, None, None, 0.0
        self.stacks = None   # [(frames, weight)], frames root first: (kind, name, file, line)
        self.unit, self.stderr = None, ""
        self.extra = {}

    def shown_opts(self):
        # "<austinp>": austin-dist's other binary, austin with native frames
        opts = ["austinp" if o == "<austinp>" else o for o in self.opts]
        return " ".join(opts) if opts else "(defaults)"


def execute(run, timeout=RUN_TIMEOUT):
    """Run run.argv in its own session; a timeout kills the whole group."""
    os.makedirs(run.dir, exist_ok=True)
    run.interp.make_links(run.dir)
    env = dict(os.environ)
    env.update(run.env)
    t0 = time.monotonic()
    with open(os.path.join(run.dir, "stdout"), "w") as so, \
            open(os.path.join(run.dir, "stderr"), "w") as se:
        try:
            p = subprocess.Popen(run.argv, stdout=so, stderr=se, cwd=run.dir, env=env,
                                 start_new_session=True)
        except OSError as e:
            run.rc, run.err = 127, "cannot run %s: %s" % (run.argv[0], e.strerror)
            return run
        try:
            run.rc = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            run.rc, run.err = -9, "timed out after %d s (killed)" % timeout
    run.secs = time.monotonic() - t0
    with open(os.path.join(run.dir, "stderr"), errors="replace") as f:
        stderr = f.read()
    if run.rc and not run.err:
        run.err = first_error(stderr, run.rc)
    run.stderr = stderr
    return run


# ---- installs ---------------------------------------------------------------

def pins():
    """name -> version of tools/peers-requirements.txt"""
    out = {}
    with open(REQ) as f:
        for ln in f:
            m = re.match(r"^([A-Za-z0-9_.-]+)==(\S+)", ln)
            if m:
                out[m.group(1).lower()] = m.group(2)
    return out


def install(tool, xy, pyver, version):
    """tool==version for CPython pyver (X.Y.Z: Requires-Python may exclude
    a micro version, scalene's !=3.11.0), wheels only, into BYVER/xy/tool.
    Returns (path, None) or (None, reason); cached by a stamp either way."""
    d = os.path.join(BYVER, xy, tool)
    want = "%s==%s CPython %s" % (tool, version, pyver)
    stamp, failed = os.path.join(d, ".stamp"), os.path.join(BYVER, xy, tool + ".failed")
    if os.path.exists(stamp) and open(stamp).read().strip() == want:
        return d, None
    if os.path.exists(failed):
        lines = open(failed).read().splitlines()
        if lines and lines[0] == want and time.time() - os.path.getmtime(failed) < NO_WHEEL_TTL:
            return None, lines[1] if len(lines) > 1 else "failed"
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(os.path.dirname(d), exist_ok=True)
    r = run_quiet([os.path.join(VENV, "bin/python"), "-m", "pip", "install",
                   "--disable-pip-version-check", "--no-input", "-q", "--target", d,
                   "--python-version", pyver, "--only-binary=:all:", "%s==%s" % (tool, version)],
                  timeout=600)
    if r.returncode == 0:
        with open(stamp, "w") as f:
            f.write(want + "\n")
        return d, None
    shutil.rmtree(d, ignore_errors=True)
    lines = [ln.strip() for ln in r.stderr.splitlines() if ln.strip()]
    err = next((ln for ln in lines if ln.startswith("ERROR: No matching distribution")), None)
    if err:
        # the newest version the index has for this Python, from pip's list
        avail = next((ln for ln in lines if "from versions:" in ln), "")
        m = re.search(r"from versions: (.*)\)", avail)
        newest = m.group(1).split(", ")[-1] if m and m.group(1) != "none" else "none"
        reason = "no %s==%s wheel for CPython %s (newest there: %s)" % (tool, version, pyver,
                                                                         newest)
        with open(failed, "w") as f:
            f.write(want + "\n" + reason + "\n")
        return None, reason
    err = next((ln for ln in lines if ln.startswith("ERROR")), lines[-1] if lines else "")
    return None, "pip install failed: " + err[:300]


# ---- reading each tool's output ---------------------------------------------

def frame_of(s):
    """A folded-stack frame: Python 'name (file.py:LINE)', kernel 'x_[k]',
    an off-CPU reason '[sleep]', else native."""
    m = PYFRAME.match(s)
    if m and (m.group(2).endswith(".py") or m.group(2).startswith("<")):
        return ("py", m.group(1), os.path.basename(m.group(2)), int(m.group(3)))
    if s.endswith("_[k]"):
        return ("kernel", s[:-4], None, None)
    if s.startswith("[") and s.endswith("]"):
        return ("reason", s[1:-1], None, None)
    if m:
        return ("native", m.group(1), m.group(2), int(m.group(3)))
    return ("native", s, None, None)


def read_folded(path, skip_first=False):
    out = []
    with open(path, errors="replace") as f:
        for ln in f:
            ln = ln.rstrip("\n")
            stack, _, n = ln.rpartition(" ")
            if not stack:
                continue
            parts = stack.split(";")
            if skip_first:
                parts = parts[1:]
            out.append(([frame_of(p) for p in parts], float(n)))
    return out


def read_ours(run):
    on = read_folded(os.path.join(run.dir, "out/stacks.folded"), skip_first=True)
    off_path = os.path.join(run.dir, "out/offcpu.folded")
    off = read_folded(off_path, skip_first=True) if os.path.exists(off_path) else []
    run.extra["offcpu"] = off
    run.unit = "samples"
    return on


def read_pyspy(run):
    out = []
    with open(os.path.join(run.dir, "pyspy.txt"), errors="replace") as f:
        for ln in f:
            stack, _, n = ln.rstrip("\n").rpartition(" ")
            frames = []
            for p in stack.split(";"):
                if p.startswith("process ") or p.startswith("thread "):
                    continue
                frames.append(frame_of(p))
            out.append((frames, float(n)))
    run.unit = "samples"
    return out


def mojo_int(b, i):
    c = b[i]
    i += 1
    n, shift = c & 0x3F, 6
    neg = c & 0x40
    while c & 0x80:
        c = b[i]
        i += 1
        n |= (c & 0x7F) << shift
        shift += 7
    return (-n if neg else n), i


def mojo_str(b, i):
    j = b.index(0, i)
    return b[i:j].decode("utf-8", "replace"), j + 1


def read_mojo(path):
    """austin's binary output (MOJO 3 and 4) as [(frames, µs, idle)]."""
    with open(path, "rb") as f:
        b = f.read()
    if b[:3] != b"MOJ":
        raise ValueError("not a MOJO file (starts %r)" % b[:8])
    ver, i = mojo_int(b, 3)
    if ver < 3:
        raise ValueError("MOJO version %d not read here" % ver)
    strings, frames = {}, {}
    samples, cur, last = [], None, None

    def close():
        if cur is not None:
            samples.append(cur)

    while i < len(b):
        ev = b[i]
        i += 1
        if ev == 1:                                 # metadata: label, value
            _, i = mojo_str(b, i)
            _, i = mojo_str(b, i)
        elif ev == 2:                               # stack: pid, iid, tid
            close()
            pid, i = mojo_int(b, i)
            _, i = mojo_int(b, i)
            tid, i = mojo_str(b, i)
            cur = {"pid": pid, "tid": tid, "frames": [], "time": 0, "idle": False}
            last = cur
        elif ev == 13:                              # the previous stack again
            close()
            cur = dict(last, frames=list(last["frames"]), time=0, idle=False)
        elif ev == 3:                               # frame: key, file, scope, lines, columns
            key, i = mojo_int(b, i)
            fn, i = mojo_int(b, i)
            sc, i = mojo_int(b, i)
            line, i = mojo_int(b, i)
            for _ in range(3):
                _, i = mojo_int(b, i)
            frames[key] = (strings.get(fn, "?"), strings.get(sc, "?"), line)
        elif ev == 4:
            cur["frames"].append(("native", "[invalid]", None, None))
        elif ev == 5:
            key, i = mojo_int(b, i)
            fn, sc, line = frames.get(key, ("?", "?", 0))
            kind = "py" if fn.endswith(".py") or fn.startswith("<") else "native"
            cur["frames"].append((kind, sc, os.path.basename(fn), line))
        elif ev == 6:
            s, i = mojo_str(b, i)
            cur["frames"].append(("kernel", s, None, None))
        elif ev == 7:
            cur["frames"].append(("reason", "gc", None, None))
        elif ev == 8:
            cur["idle"] = True
        elif ev == 9:
            cur["time"], i = mojo_int(b, i)
        elif ev == 10:
            _, i = mojo_int(b, i)
        elif ev == 11:
            key, i = mojo_int(b, i)
            strings[key], i = mojo_str(b, i)
        elif ev == 12:
            _, i = mojo_int(b, i)
        elif ev in (14, 15):
            _, i = mojo_int(b, i)
            _, i = mojo_int(b, i)
        else:
            raise ValueError("MOJO %d: unknown event %d at byte %d" % (ver, ev, i - 1))
    close()
    return samples


def read_austin(run):
    samples = read_mojo(os.path.join(run.dir, "austin.mojo"))
    run.unit = "µs"
    run.extra["idle_us"] = sum(s["time"] for s in samples if s["idle"])
    return [(s["frames"], float(s["time"])) for s in samples]


def read_pyinstrument(run):
    """The json renderer's call tree, as stacks weighted by self time (s)."""
    with open(os.path.join(run.dir, "pyinstrument.json")) as f:
        doc = json.load(f)
    out = []

    def walk(node, path):
        fp = node.get("file_path") or node.get("file_path_short") or ""
        name = node.get("function", "?")
        kind = "py" if fp.endswith(".py") else ("reason" if name.startswith("[") else "native")
        fr = (kind, name, os.path.basename(fp) or None, node.get("line_no"))
        path = path + [fr]
        kids = node.get("children") or []
        self_t = node.get("time", 0) - sum(c.get("time", 0) for c in kids)
        if self_t > 0:
            out.append((path, self_t))
        for c in kids:
            walk(c, path)

    root = doc.get("root_frame")
    if root:
        walk(root, [])
    run.unit = "s"
    run.extra["duration"] = doc.get("duration")
    return out


def read_scalene(run):
    """Scalene's json: per line of the profiled files, the percent of the
    time in Python, in native code and in the system (scalene's "system"
    is wall time off the CPU too). Its "stacks" sample the main thread
    only, so the lines are the profile here: one single-frame stack per
    line, named by the function holding it, weighted in percent."""
    with open(os.path.join(run.dir, "scalene.json")) as f:
        doc = json.load(f)
    out, split = [], {}
    for path, fdoc in (doc.get("files") or {}).items():
        names = {fn.get("lineno"): fn.get("line", "?") for fn in fdoc.get("functions") or []}
        for ln in fdoc.get("lines") or []:
            py = ln.get("n_cpu_percent_python", 0) or 0
            c = ln.get("n_cpu_percent_c", 0) or 0
            sy = ln.get("n_sys_percent", 0) or 0
            if py + c + sy <= 0:
                continue
            name = names.get(ln.get("start_function_line"), "<module>")
            out.append(([("py", name, os.path.basename(path), ln.get("lineno"))], py + c + sy))
            t = split.setdefault(name, [0, 0, 0])
            t[0], t[1], t[2] = t[0] + py, t[1] + c, t[2] + sy
    run.unit = "%"
    run.extra["split"] = split
    return out


def read_memray(run):
    """memray's stats of the capture (its own command, by the same
    interpreter): the top allocating locations, as one-frame stacks in
    bytes."""
    js = os.path.join(run.dir, "memray-stats.json")
    r = run_quiet(run.argv[:run.argv.index("-m")] + [
        "-m", "memray", "stats", "--json", "-f", "-o", js, os.path.join(run.dir, "memray.bin")],
        run.env, cwd=run.dir)
    if r.returncode:
        raise ValueError("memray stats: " + first_error(r.stderr, r.returncode))
    with open(js) as f:
        doc = json.load(f)
    out = []
    for a in doc.get("top_allocations_by_size") or []:
        m = re.match(r"^([^:]*):(.*):(\d+)$", a.get("location", ""))   # func:file:line
        if m:
            out.append(([("py", m.group(1), os.path.basename(m.group(2)), int(m.group(3)))],
                        float(a.get("size", 0))))
    run.unit = "bytes"
    return out


READERS = {"memray": read_memray, "autoprof-bpf": read_ours, "py-spy": read_pyspy, "austin": read_austin,
           "pyinstrument": read_pyinstrument, "scalene": read_scalene}


# ---- commands ---------------------------------------------------------------

class Ctx:
    """What the runs share: the output directory, the tools' paths, the
    per-version installs (futures) and what broke on the way."""

    def __init__(self, out, secs):
        self.out, self.secs = out, secs
        self.pins = pins()
        self.austin_prefix = None      # [loader, --library-path, dirs] when needed
        self.austin_note = None
        self.installs = {}             # (tool, xy) -> future of (path, reason)
        self.breaks = []
        self.runs = []
        self.nrun = 0
        self.venv_error = None

    def workload(self, mode):
        return [WORK, mode, "%g" % self.secs]


BASE_OPTS = {
    "autoprof-bpf": "-q -f none -o DIR --",
    "py-spy": "record -r 100 -f raw -o FILE --",
    "austin": "-i 10ms -o FILE",
    "pyinstrument": "-m pyinstrument -r json -o FILE",
    "scalene": "-m scalene run -o FILE",
    "memray": "-m memray run -q -o FILE, then -m memray stats --json",
}


def command(ctx, run):
    """Set run.argv and run.env; returns a reason when it cannot run."""
    it, opts, d = run.interp, run.opts, run.dir
    if run.tool != "autoprof-bpf" and ctx.venv_error:
        return "cannot install: " + ctx.venv_error
    target = it.argv + ctx.workload(run.mode)
    run.env = dict(it.env)
    if run.tool == "autoprof-bpf":
        if not os.access(AP, os.X_OK):
            return "%s not built (make)" % AP
        # LD_LIBRARY_PATH is the target's, not for autoprof-bpf (the host's
        # glibc): env(1) sets it between the two (autoprof-bpf follows exec)
        if run.env:
            target = ["/usr/bin/env"] + ["%s=%s" % kv for kv in sorted(run.env.items())] + target
            run.env = {}
        run.argv = [AP, "-q", "-f", "none", "-o", os.path.join(d, "out")] + opts + ["--"] + target
    elif run.tool == "py-spy":
        run.argv = [os.path.join(VENV, "bin/py-spy"), "record", "-r", "100", "-f", "raw", "-o",
                    os.path.join(d, "pyspy.txt")] + opts + ["--"] + target
    elif run.tool == "austin":
        exe = "austinp" if "<austinp>" in opts else "austin"
        rest = [o for o in opts if o != "<austinp>"]
        run.argv = (ctx.austin_prefix or []) + [os.path.join(VENV, "bin", exe), "-i", "10ms", "-o",
                                                os.path.join(d, "austin.mojo")] + rest + target
    else:
        path, reason = ctx.installs[(run.tool, it.xy)].result()
        if reason:
            return "cannot install: " + reason
        pp = [path] + ([run.env["PYTHONPATH"]] if run.env.get("PYTHONPATH") else [])
        run.env["PYTHONPATH"] = os.pathsep.join(pp)
        if run.tool == "memray":
            run.argv = it.argv + ["-m", "memray", "run", "-q", "-o",
                                  os.path.join(d, "memray.bin")] + opts + ctx.workload(run.mode)
        elif run.tool == "pyinstrument":
            run.argv = it.argv + ["-m", "pyinstrument", "-r", "json", "-o",
                                  os.path.join(d, "pyinstrument.json")] + opts + ctx.workload(run.mode)
        else:
            w = ctx.workload(run.mode)
            run.argv = it.argv + ["-m", "scalene", "run", "-o", os.path.join(d, "scalene.json")] + \
                opts + [w[0], "---"] + w[1:]
    return None


def profile_twice(ctx, tool, it, mode, opts):
    """profile(), and once more when the tool ran and failed: a start-up
    race is a result too (the cell says so), not the whole answer.
    Returns (run, the failed first run or None)."""
    run = profile(ctx, tool, it, mode, opts)
    if run.stacks is not None or run.rc is None:
        return run, None
    again = profile(ctx, tool, it, mode, opts)
    return again, run


def profile(ctx, tool, it, mode, opts):
    """Run TOOL on workload MODE under interpreter IT; read its output."""
    ctx.nrun += 1
    tag = re.sub(r"[^\w.-]+", "_", "%02d-%s-%s-%s-%s" % (ctx.nrun, tool, it.key, mode,
                                                          "".join(opts) or "default"))
    run = Run(tool, it, mode, opts, os.path.join(ctx.out, "runs", tag))
    ctx.runs.append(run)
    if it.error:
        run.err = it.error
        return run
    why = command(ctx, run)
    if why:
        run.err = why
        return run
    execute(run)
    if run.rc:
        return run
    try:
        run.stacks = READERS[tool](run)
        if not run.stacks or not total(run.stacks):
            lines = [ln.strip() for ln in run.stderr.splitlines() if ln.strip()]
            run.err = "an empty profile" + (": " + lines[0][:200] if lines else "")
            run.stacks = None
    except (OSError, ValueError, KeyError, IndexError, TypeError) as e:
        run.err = "output not readable: %s: %s" % (type(e).__name__, e)
        if isinstance(e, FileNotFoundError):
            run.err = "wrote no output (%s); %s" % (os.path.basename(e.filename or "?"),
                                                    first_error(run.stderr, run.rc))
    return run


# ---- judging the cells ------------------------------------------------------

def func_ranges():
    """name -> (first, last) line of each function of work.py"""
    import ast
    with open(WORK) as f:
        tree = ast.parse(f.read())
    return {n.name: (n.lineno, n.end_lineno) for n in ast.walk(tree)
            if isinstance(n, ast.FunctionDef)}


RANGES = func_ranges()


def is_fn(fr, name):
    return fr[0] == "py" and (fr[1] == name or fr[1].endswith("." + name))


def under(stacks, name):
    """[(frames below NAME's innermost frame, weight)] of the stacks with NAME"""
    out = []
    for frames, w in stacks:
        idx = [i for i, fr in enumerate(frames) if is_fn(fr, name)]
        if idx:
            out.append((frames[idx[-1] + 1:], w))
    return out


def weight(stacks, name):
    return sum(w for _, w in under(stacks, name))


def total(stacks):
    return sum(w for _, w in stacks)


def fmt(w, unit):
    if unit == "samples":
        return "%d samples" % w
    if unit == "µs":
        return "%.2f s" % (w / 1e6)
    if unit == "s":
        return "%.2f s" % w
    if unit == "bytes":
        return "%.1f MiB" % (w / 1048576)
    return "%.0f%%" % w


def top_frames(stacks, n=3):
    """the heaviest innermost frames, as text"""
    agg = {}
    for frames, w in stacks:
        if frames:
            fr = frames[-1]
            agg[fr[1]] = agg.get(fr[1], 0) + w
    tot = sum(agg.values()) or 1
    return ", ".join("%s %.0f%%" % (k, 100 * v / tot)
                     for k, v in sorted(agg.items(), key=lambda kv: -kv[1])[:n]) or "nothing"


def failed(run):
    if run.stacks is None:
        return "failed", run.err or "no output"
    return None


def judge_python(run, ctx):
    f = failed(run)
    if f:
        return f
    w, tot = weight(run.stacks, "cpu_hot"), total(run.stacks)
    if not w:
        return "no", "cpu_hot not in the output (%s)" % top_frames(run.stacks)
    first, last = RANGES["cpu_hot"]
    lines = sorted({fr[3] for frames, _ in run.stacks for fr in frames
                    if is_fn(fr, "cpu_hot") and fr[3]})
    body = [ln for ln in lines if first < ln <= last]
    ev = "cpu_hot: %s of %s" % (fmt(w, run.unit), fmt(tot, run.unit))
    if body:
        return "yes", ev + ", lines %s" % ",".join(map(str, body))
    if lines:
        return "partly", ev + ", only its def line %s" % ",".join(map(str, lines))
    return "partly", ev + ", no line numbers"


ZLIB = re.compile(r"deflate|longest_match|fill_window|libz", re.I)


def judge_native(run, ctx):
    f = failed(run)
    if f:
        return f
    below = under(run.stacks, "native_zlib")
    zw = sum(w for _, w in below)
    if not zw:
        return "no", "native_zlib not in the output (%s)" % top_frames(run.stacks)
    if run.tool == "scalene":
        py, c, sy = run.extra["split"].get("native_zlib", (0, 0, 0))
        return "no", "no native names: native_zlib's lines %.0f%% Python, %.0f%% native, " \
                     "%.0f%% system" % (py, c, sy)
    # the native frames right below native_zlib (what it calls) and the
    # innermost ones (where the time is), each with its share of native_zlib
    paths, leaves = {}, {}
    for frames, w in below:
        nat = tuple(fr[1] for fr in frames if fr[0] == "native")
        if nat:
            paths[nat] = paths.get(nat, 0) + w
            leaves[nat[-1]] = leaves.get(nat[-1], 0) + w

    def top(d):
        return ", ".join("%s %.0f%%" % (k, 100 * v / zw)
                         for k, v in sorted(d.items(), key=lambda kv: -kv[1])[:3])

    zl = sum(w for frames, w in below if any(fr[0] == "native" and ZLIB.search(
        "%s %s" % (fr[1], fr[2] or "")) for fr in frames))
    heavy = max(paths, key=paths.get) if paths else ()
    names = "heaviest path %s; innermost %s" % (" > ".join(heavy[:6]) + (
        " > ..." if len(heavy) > 6 else ""), top(leaves))
    if zl >= 0.3 * zw:
        return "yes", "zlib below native_zlib in %.0f%% of its %s: %s" % (
            100 * zl / zw, fmt(zw, run.unit), names)
    if leaves:
        return "partly", "below native_zlib (%s): %s; no zlib frame" % (fmt(zw, run.unit), names)
    return "no", "native_zlib %s, nothing named below it" % fmt(zw, run.unit)


def reasons(off):
    """off-CPU µs by reason (the leaf of offcpu.folded)"""
    why = {}
    for frames, w in off:
        r = frames[-1][1] if frames and frames[-1][0] == "reason" else "?"
        why[r] = why.get(r, 0) + w
    return why


def fmt_reasons(why):
    return ", ".join("%s %.2f s" % (k, v / 1e6)
                     for k, v in sorted(why.items(), key=lambda kv: -kv[1]) if v >= 5000)


def judge_gil(run, ctx, cmp=None):
    f = failed(run)
    if f:
        return f
    if run.tool == "autoprof-bpf":
        why = reasons(under(run.extra["offcpu"], "gil_fight"))
        gil = why.get("gil", 0)
        on = weight(run.stacks, "gil_fight")
        ev = "gil_fight: %.2f thread-s waiting for the GIL ([gil] off-CPU), %d samples on CPU; " \
             "off CPU: %s" % (gil / 1e6, on, fmt_reasons(why))
        return ("yes" if gil >= 0.2e6 * ctx.secs else "no"), ev
    w = weight(run.stacks, "gil_fight")
    labelled = sum(wt for frames, wt in under(run.stacks, "gil_fight")
                   if any("gil" in fr[1].lower() for fr in frames))
    if labelled:
        return "yes", "gil_fight: %s labelled GIL of %s" % (fmt(labelled, run.unit), fmt(w, run.unit))
    ev = "gil_fight: %s (2 threads x %gs)" % (fmt(w, run.unit), ctx.secs)
    if cmp is not None and cmp.stacks is not None:
        cw = weight(cmp.stacks, "gil_fight")
        ev += "; %s: %s" % (cmp.shown_opts(), fmt(cw, cmp.unit))
        if run.tool == "py-spy" and w < 0.8 * cw:
            return "partly", ev + "; --gil keeps the samples of the thread holding the GIL, " \
                                  "--idle every thread's: the wait is their difference, " \
                                  "not labelled"
    return "no", ev + "; no GIL state in the output"


def judge_offcpu(run, ctx, cmp=None):
    f = failed(run)
    if f:
        return f
    want = 0.75 * ctx.secs
    if run.tool == "autoprof-bpf":
        why = reasons(under(run.extra["offcpu"], "sleeper"))
        s = sum(why.values()) / 1e6
        ev = "sleeper: %.2f s off CPU (%s) of %.2f s asleep; cpu_hot %d samples on CPU" % (
            s, fmt_reasons(why), want, weight(run.stacks, "cpu_hot"))
        return ("yes" if s >= 0.5 * want else "partly" if s else "no"), ev
    sl, hot = weight(run.stacks, "sleeper"), weight(run.stacks, "cpu_hot")
    share = sl / (sl + hot) if sl + hot else 0
    ev = "sleeper %s, cpu_hot %s (sleeper %.0f%%, 75%% of the wall time)" % (
        fmt(sl, run.unit), fmt(hot, run.unit), 100 * share)
    if run.tool == "scalene":
        ev += ", sleeper as scalene's system time %.0f%%" % run.extra["split"].get(
            "sleeper", (0, 0, 0))[2]
    if cmp is not None and cmp.stacks is not None:
        ev += "; %s: sleeper %s" % (cmp.shown_opts(), fmt(weight(cmp.stacks, "sleeper"), cmp.unit))
    return ("yes" if share >= 0.5 else "partly" if sl else "no"), ev


def judge_child(run, ctx):
    f = failed(run)
    if f:
        return f
    w, p = weight(run.stacks, "child_hot"), weight(run.stacks, "parent_waits")
    ev = "child_hot %s, parent_waits %s" % (fmt(w, run.unit), fmt(p, run.unit))
    return ("yes" if w else "no"), ev


def judge_threads(run, ctx):
    f = failed(run)
    if f:
        return f
    names = ["main_hot", "thread_hot_a", "thread_hot_b"]
    ws = [weight(run.stacks, n) for n in names]
    ev = ", ".join("%s %s" % (n, fmt(w, run.unit)) for n, w in zip(names, ws))
    seen = sum(1 for w in ws if w)
    if seen < 3:
        ev += " (where the time went: %s)" % top_frames(run.stacks)
    return ("yes" if seen == 3 else "partly" if seen else "no"), ev


JUDGES = {"python": judge_python, "native": judge_native, "gil": judge_gil,
          "offcpu": judge_offcpu, "child": judge_child, "threads": judge_threads}


def grid_mode(tool):
    """the workload of the versions table and the function it must name"""
    return ("native", "native_zlib") if tool == "memray" else ("cpu", "cpu_hot")


def judge_version(run, ctx):
    if run.stacks is None:
        return "fails", run.err or "no output"
    fn = grid_mode(run.tool)[1]
    w = weight(run.stacks, fn)
    if w:
        return "ok", "%s: %s of %s" % (fn, fmt(w, run.unit), fmt(total(run.stacks), run.unit))
    return "fails", "%s not in the output (%s)" % (fn, top_frames(run.stacks))


# ---- the tools themselves ---------------------------------------------------

def tool_versions(ctx):
    """tool -> version string, from the tools themselves where they say"""
    v = {}
    r = run_quiet([AP, "--version"]) if os.access(AP, os.X_OK) else None
    v["autoprof-bpf"] = (r.stdout.split("\n")[0].strip() if r and r.returncode == 0
                         else "not built")
    for tool, pin in [("py-spy", "py-spy"), ("austin", "austin-dist"),
                      ("pyinstrument", "pyinstrument"), ("scalene", "scalene"),
                      ("memray", "memray")]:
        v[tool] = "%s %s" % (tool if tool != "austin" else "austin-dist",
                             ctx.pins.get(pin, "(not pinned)"))
    return v


def setup_austin(ctx, interps):
    """austin-dist's binaries as installed, or through a newer glibc's
    loader when the host's is too old for them (a wheel tagged
    manylinux_2_12 that needs GLIBC_2.38): the failure is a result, and the
    loader lets the matrix still say what austin sees."""
    exe = os.path.join(VENV, "bin/austin")
    r = run_quiet([exe, "-V"])
    if r.returncode == 0:
        return
    err = first_error(r.stderr, r.returncode)
    libc = os.confstr("CS_GNU_LIBC_VERSION")
    ctx.breaks.append({"tool": "austin", "where": "every run (%s)" % libc,
                       "exit": r.returncode, "error": err.replace(VENV + "/", "")})
    deb = next((it for it in interps if it.links and not it.error), None)
    if not deb:
        ctx.austin_note = "austin does not run here: %s" % err
        return
    loader, libs = deb.links[LD_UNSTABLE], deb.env["LD_LIBRARY_PATH"]
    prefix = [loader, "--library-path", libs]
    r2 = run_quiet(prefix + [exe, "-V"])
    if r2.returncode:
        ctx.austin_note = "austin does not run here: %s; nor through %s: %s" % (
            err, loader, first_error(r2.stderr, r2.returncode))
        return
    glibc = run_quiet(prefix + [os.path.join(os.path.dirname(loader), "libc.so.6")])
    gv = re.search(r"release version (\d+(?:\.\d+)+)", glibc.stdout or "")
    ctx.austin_prefix = prefix
    ctx.austin_note = ("austin-dist's wheel is tagged manylinux_2_12 but its binaries need "
                       "GLIBC_2.38 (%s here): its cells are austin run through Debian unstable's "
                       "loader and glibc %s (`ld-linux-x86-64.so.2 --library-path ... austin`); "
                       "the profiled Python runs with the host's" % (
                           libc, gv.group(1) if gv else "(unstable's)"))


def start_installs(ctx, interps, pool):
    """One install per tool and X.Y, for the lowest X.Y.Z of the
    interpreters here (Debian's 3.11.2 beside pyenv's 3.11.7)."""
    lowest = {}
    for it in interps:
        if it.error:
            continue
        v = tuple(int(x) for x in re.match(r"(\d+)\.(\d+)\.(\d+)", it.version).groups())
        lowest[it.xy] = min(lowest.get(it.xy, v), v)
    for xy, v in lowest.items():
        for tool in IN_PROCESS:
            ctx.installs[(tool, xy)] = pool.submit(install, tool, xy, "%d.%d.%d" % v,
                                                   ctx.pins.get(tool, "0"))


# ---- the tables -------------------------------------------------------------

def code(text):
    """a Markdown code span, also of text holding backticks"""
    return "`` %s ``" % text if "`" in text else "`%s`" % text


def md_cell(text):
    return text.replace("|", "\\|").replace("\n", " ")


def machine():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")),
                         "?")
    except OSError:
        pass
    distro = "?"
    try:
        with open("/etc/os-release") as f:
            distro = next((ln.split("=", 1)[1].strip().strip('"') for ln in f
                           if ln.startswith("PRETTY_NAME=")), "?")
    except OSError:
        pass
    return {"cpu": model, "cpus": os.cpu_count(), "kernel": platform.release(),
            "distro": distro, "glibc": os.confstr("CS_GNU_LIBC_VERSION")}


def write_md(doc):
    L = []
    m = doc["machine"]
    tools = doc["tools"]
    vers = doc["versions"]
    L.append("#### What each profiler sees")
    L.append("")
    L.append("%s, %s (%d CPUs), Linux %s, %s (%s); `tools/peers-matrix.py`, %.0f s. Workloads: "
             "`tools/peers/work.py MODE %g` under CPython %s (pyenv); each cell is read from the "
             "tool's output (evidence in matrix.json)." % (
                 doc["date"], m["cpu"], m["cpus"], m["kernel"], m["distro"], m["glibc"],
                 doc["elapsed_s"], doc["secs"], doc["feature_python"]))
    ftools = [t for t in tools if t not in GRID_ONLY]
    if any(doc["features"][f] for f in FEATURES):
        L.append("")
        L.append("| | " + " | ".join(vers[t] for t in ftools) + " |")
        L.append("|---" * (len(ftools) + 1) + "|")
        for feat in FEATURES:
            row = []
            for t in ftools:
                c = doc["features"][feat].get(t)
                if not c:
                    row.append("")
                    continue
                opt = " %s" % code(c["options"]) if c["options"] != "(defaults)" else ""
                row.append(md_cell("**%s**%s: %s" % (c["result"], opt, c["evidence"])))
            L.append("| %s | %s |" % (FEATURE_TITLES[feat], " | ".join(row)))
    L.append("")
    L.append("Commands (then the interpreter and `work.py MODE %g`): " % doc["secs"] + "; ".join(
        "%s %s" % (t, code(doc["commands"][t])) for t in tools) + ".")
    if doc.get("austin_note"):
        L.append("")
        L.append("austin: " + doc["austin_note"] + ".")
    L.append("")
    L.append("#### On which Pythons")
    L.append("")
    L.append("`work.py cpu %g` with each tool's defaults: ok when cpu_hot is in its output (memray: "
             "`work.py native`, native_zlib's allocations in `memray stats`). Debian unstable's "
             "interpreters run as ordinary executables here: a copy of the binary whose ELF "
             "interpreter is unstable's loader, with unstable's libraries in LD_LIBRARY_PATH "
             "(run by its loader as a program, the process's executable is the loader, which "
             "py-spy and austin cannot read a Python version from). The in-process tools are "
             "installed per version, the same pinned versions, wheels only." % doc["secs"])
    L.append("")
    L.append("| Python | " + " | ".join(vers[t] for t in tools) + " |")
    L.append("|---" * (len(tools) + 1) + "|")
    for row in doc["pythons"]:
        cells = []
        for t in tools:
            c = row["cells"].get(t)
            if not c:
                cells.append("")
            elif c["result"] == "ok":
                cells.append(md_cell("ok, at the 2nd try (1st: %s)" % c["first_try"])
                             if c.get("first_try") else "ok")
            else:
                cells.append(md_cell("**%s**: %s" % (c["result"], c["evidence"])))
        L.append("| %s | %s |" % (md_cell(row["label"]), " | ".join(cells)))
    L.append("")
    L.append("#### What breaks")
    L.append("")
    if not doc["breaks"]:
        L.append("Nothing.")
    for b in doc["breaks"]:
        L.append(md_cell("- %s, %s: %s%s" % (b["tool"], b["where"], "exit %s: " % b["exit"]
                                              if b["exit"] is not None else "", code(b["error"]))))
    return "\n".join(L) + "\n"


# ---- main -------------------------------------------------------------------

def rel(s):
    return s.replace(ROOT + "/", "")


def cell(run, result, evidence):
    return {"result": result, "evidence": rel(evidence), "options": run.shown_opts(),
            "exit": run.rc, "error": rel(run.err) if run.err else None,
            "run": os.path.basename(run.dir)}


def note_retry(ctx, tool, where, run, first, res, bad):
    """Says in the cell and in what breaks when the first try failed;
    lists every failure."""
    if first is not None and run.stacks is not None:
        ctx.breaks.append({"tool": tool, "where": where + ", 1st of 2 tries (the 2nd ran)",
                           "exit": first.rc, "error": rel(first.err or "")})
        return (res[0], res[1] + "; the 1st try failed: " + (first.err or "?"))
    if res[0] in (bad, "cannot install"):
        err = res[1]
        if first is not None and first.err != run.err:
            err = "%s (1st try: %s)" % (err, first.err)
        ctx.breaks.append({"tool": tool, "where": where + (", both of 2 tries" if first else ""),
                           "exit": run.rc, "error": rel(err)})
        return (res[0], err)
    return res


def main():
    ap = argparse.ArgumentParser(description="what each profiler sees, on which Pythons")
    ap.add_argument("--out", required=True, help="directory for matrix.json, matrix.md, runs/")
    ap.add_argument("--secs", type=float, default=1.0, help="seconds per workload (1)")
    ap.add_argument("--tools", default=",".join(TOOLS), help="comma-separated subset")
    ap.add_argument("--pythons", default="", help="comma-separated interpreter keys (3.8.18, "
                    "deb3.11, deb3.14, ...): only these in the versions table")
    ap.add_argument("--no-features", action="store_true", help="the versions table only")
    args = ap.parse_args()
    tools = [t for t in args.tools.split(",") if t]
    bad = [t for t in tools if t not in TOOLS]
    if bad:
        ap.error("unknown tool %s (known: %s)" % (",".join(bad), ",".join(TOOLS)))
    if os.geteuid() != 0:
        sys.exit("peers-matrix: needs root (autoprof-bpf loads BPF; py-spy and austin read "
                 "other processes' memory)")
    t0 = time.monotonic()
    out = os.path.abspath(args.out)
    shutil.rmtree(os.path.join(out, "runs"), ignore_errors=True)
    os.makedirs(out, exist_ok=True)
    ctx = Ctx(out, args.secs)
    # no venv (no network, say): every peer's cell says why, ours still run
    r = subprocess.run([os.path.join(ROOT, "tools/peers-venv.sh")], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, cwd=ROOT)
    if r.returncode:
        ctx.venv_error = "the peers venv: " + first_error(r.stderr, r.returncode)
        log(ctx.venv_error)
    log("interpreters ...")
    interps = interpreters()
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=3)
    if not ctx.venv_error:
        start_installs(ctx, interps, pool)
    if "austin" in tools and not ctx.venv_error:
        setup_austin(ctx, interps)
    feat_it = next(it for it in interps if it.key == "3.11.7")
    features = {f: {} for f in FEATURES}
    if not args.no_features:
        for tool in [t for t in tools if t not in GRID_ONLY]:
            for feat in FEATURES:
                opts = FEATURE_OPTS[tool].get(feat, [])
                log("%s: %s %s" % (tool, feat, " ".join(opts)))
                run, first = profile_twice(ctx, tool, feat_it, MODES[feat], opts)
                cmp = None
                if feat in COMPARE_OPTS.get(tool, {}):
                    cmp, _ = profile_twice(ctx, tool, feat_it, MODES[feat],
                                           COMPARE_OPTS[tool][feat])
                    res = JUDGES[feat](run, ctx, cmp)
                else:
                    res = JUDGES[feat](run, ctx)
                res = note_retry(ctx, tool, "%s on %s (%s)" % (
                    MODES[feat], feat_it.name(), run.shown_opts()), run, first, res, "failed")
                features[feat][tool] = cell(run, *res)
    want = set(p for p in args.pythons.split(",") if p)
    rows = []
    for it in interps:
        if want and it.key not in want:
            continue
        row = {"key": it.key, "label": it.name(), "version": it.version, "cells": {}}
        for tool in tools:
            log("%s: %s" % (tool, it.key))
            run, first = profile_twice(ctx, tool, it, grid_mode(tool)[0], [])
            res = judge_version(run, ctx)
            if res[0] == "fails" and (run.err or "").startswith("cannot install: "):
                res = ("cannot install", run.err[len("cannot install: "):])
            res = note_retry(ctx, tool, it.name(), run, first, res, "fails")
            row["cells"][tool] = cell(run, *res)
            row["cells"][tool]["first_try"] = rel(first.err) if first else None
        rows.append(row)
    pool.shutdown()
    doc = {
        "schema": "autoprof.peers_matrix/1",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "secs": args.secs,
        "feature_python": feat_it.version,
        "tools": tools,
        "versions": tool_versions(ctx),
        "commands": {t: BASE_OPTS[t] for t in tools},
        "austin_note": ctx.austin_note,
        "features": features,
        "pythons": rows,
        "breaks": ctx.breaks,
        "runs": [{"tool": r.tool, "python": r.interp.key, "mode": r.mode, "options": r.opts,
                  "argv": rel(" ".join(r.argv)), "exit": r.rc, "error": r.err,
                  "secs": round(r.secs, 2), "dir": os.path.basename(r.dir)} for r in ctx.runs],
    }
    doc["elapsed_s"] = round(time.monotonic() - t0, 1)
    md = write_md(doc)
    with open(os.path.join(out, "matrix.json"), "w") as f:
        json.dump(doc, f, indent=1, ensure_ascii=False)
        f.write("\n")
    with open(os.path.join(out, "matrix.md"), "w") as f:
        f.write(md)
    sys.stdout.write(md)
    log("%d runs in %.0f s: %s" % (len(ctx.runs), doc["elapsed_s"],
                                   os.path.join(out, "matrix.md")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
