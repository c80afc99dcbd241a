#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`make bench-peers`: autoprof-bpf beside the Python profilers people
already use (py-spy, Austin, pyinstrument, Scalene) and perf, on the same
targets with the same interpreter (build/peers-venv's CPython, made by
tools/peers-venv.sh), in one run (issue 19).

For each tool:
1. Target overhead: the target's own wall time profiled / bare, timed
   inside the target by tools/peers-run.py (a profiler's start-up and
   teardown are not counted), paired runs in rotating order, median of
   RUNS. At each tool's default rate on every workload; at a matched
   ~100 Hz, a high ~1000 Hz and, for the external samplers, ~5 kHz on
   HIGH_WORKLOADS (nbody, and deeprec: 120 Python frames a sample), and
   from the 1 kHz and 5 kHz rows the cost per sample: (profiled - bare) /
   samples counted in the tool's own output.
2. The profiler's own CPU and peak RSS, without the target: os.wait4 on
   the profiler gives its rusage with the target's (its waited-for
   child) folded in; peers-run.py writes the target's own, which is
   subtracted. Peak RSS: the profiler's VmHWM, read every 50 ms (wait4's
   ru_maxrss is the largest of the profiler's and its descendants', a
   multiprocessing pool's workers among them). In-process tools
   (pyinstrument, Scalene) have no process of their own: the target's
   peak RSS over bare is given instead.
3. Attribution accuracy: tests/workloads/py/peertruth.py times five
   functions' own CPU (time.thread_time()); each tool's shares of the
   samples under those functions (inclusive), at the matched rate,
   against that run's truth: mean and max absolute error in points.
4. What broke: every failed run with its exit status and first error line.

Usage: tools/bench-peers.py [--out DIR]   (as root)
Env: RUNS (default 7), WORKLOADS=a,b (subset of the default-rate
workloads), HIGH_WORKLOADS=a,b (default nbody,deeprec), QUICK=1 (RUNS 3, three
workloads), TIMEOUT_S (30: a run still going then is killed), AP=path/to/autoprof-bpf.
Writes DIR/results.json and DIR/results.md (default build/bench-peers);
then runs tools/peers-matrix.py --out DIR/matrix when it exists.
Exit 0 when the bench ran (failures of the tools are results, listed);
1 when the bench itself could not run.
"""
import ast
import collections
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNNER = os.path.join(ROOT, "tools/peers-run.py")
TRUTH = os.path.join(ROOT, "tests/workloads/py/peertruth.py")
# austin-dist 4.0.0's binary needs glibc 2.38 (its wheel says manylinux
# 2.12; upstream P403n1x87/austin#347); when it does not run, the newest
# release that does is measured instead, from a venv of its own
AUSTIN_FALLBACK = "austin-dist==3.7.0"
TRUTH_SECONDS = "4"
POLL_S = 0.05
# a run still going after this is killed (Scalene can hang at exit in a
# multiprocessing Pool's worker); the tool is not run on that workload again
TIMEOUT_S = int(os.environ.get("TIMEOUT_S", "30"))


class Env:
    """paths and versions found at start"""


E = Env()


# -- workloads: (name, kind, argv after the interpreter); fixed work, ~1 s bare

def bm(name, *args):
    v = os.path.join(ROOT, "build/peers-venv/lib/python3.11/site-packages/pyperformance",
                     "data-files/benchmarks", "bm_" + name, "run_benchmark.py")
    # pyperf's worker mode: the benchmark in this one process, no workers
    return [v, "--worker", "--values", "1", "--warmups", "0"] + list(args)


def workloads(out):
    """name -> (what it is, argv after `python`)"""
    src = setup_compile_src(out)
    big = setup_big_json(out)
    return collections.OrderedDict([
        ("nbody", ("pyperformance nbody: CPU, floats", bm("nbody", "--loops", "10"))),
        ("richards", ("pyperformance richards: CPU, objects", bm("richards", "--loops", "12"))),
        ("concurrent_imap", ("pyperformance concurrent_imap: a Pool of 2 processes and a "
                             "ThreadPool of 2 threads", bm("concurrent_imap", "--loops", "30"))),
        ("pathlib", ("pyperformance pathlib: stat, listdir, open on 2000 files",
                     bm("pathlib", "--loops", "25"))),
        ("json.tool", ("python -m json.tool on a 4 MB file (it writes to /dev/null "
                       "in ~1.2M write(2)s)", ["-m", "json.tool", big])),
        ("compileall", ("python -m compileall -f -q on a copy of 17 stdlib packages",
                        ["-m", "compileall", "-f", "-q", src])),
        # only in the rate rows (HIGH_WORKLOADS): samples with 120 Python frames
        ("deeprec", ("tests/workloads/py/deeprec.py: CPU at the bottom of a 120-frame "
                     "recursion", [os.path.join(ROOT, "tests/workloads/py/deeprec.py"), "80"])),
    ])


def setup_big_json(out):
    path = os.path.join(out, "big.json")
    if not os.path.exists(path):
        import random
        r = random.Random(19)
        d = [{"id": i, "name": "user%d" % i, "score": r.random(),
              "tags": [r.choice("abcdef") * 3 for _ in range(5)],
              "nested": {"a": [1, 2, 3], "b": None, "c": True}} for i in range(25000)]
        with open(path + ".tmp", "w") as f:
            json.dump(d, f)
        os.rename(path + ".tmp", path)
    return path


def setup_compile_src(out):
    dst = os.path.join(out, "compile-src")
    if os.path.isdir(dst):
        return dst
    lib = E.stdlib
    for d in ("email", "asyncio", "xml", "http", "logging", "unittest", "json",
              "multiprocessing", "concurrent", "importlib", "urllib", "ctypes", "sqlite3",
              "wsgiref", "xmlrpc", "html", "tomllib"):
        shutil.copytree(os.path.join(lib, d), os.path.join(dst, d),
                        ignore=shutil.ignore_patterns("__pycache__"))
    return dst


# -- the tools: argv for a rate, where the output goes, samples, shares

TOOLS = ["autoprof-bpf", "py-spy", "austin", "pyinstrument", "scalene", "perf"]
IN_PROCESS = {"pyinstrument", "scalene"}
# the rate options; None: the tool's default. Hz are nominal
RATES = {
    "autoprof-bpf": {"default": (None, 99), "matched": (["-F", "99"], 99),
                     "high": (["-F", "999"], 999)},
    "py-spy": {"default": (None, 100), "matched": (["-r", "100"], 100),
               "high": (["-r", "1000"], 1000)},
    "austin": {"default": (None, 10000), "matched": (["-i", "10ms"], 100),
               "high": (["-i", "1ms"], 1000)},
    "pyinstrument": {"default": (None, 1000), "matched": (["-i", "0.01"], 100),
                     "high": (["-i", "0.001"], 1000)},
    # Scalene's default also profiles memory (and GPU); the matched and high
    # rows are CPU only, at its sampling interval
    "scalene": {"default": (None, 100),
                "matched": (["--cpu-only", "--cpu-sampling-rate", "0.01"], 100),
                "high": (["--cpu-only", "--cpu-sampling-rate", "0.001"], 1000)},
    "perf": {"default": (None, 4000), "matched": (["-F", "99"], 99),
             "high": (["-F", "999"], 999)},
}
# ~5 kHz, where the cost per sample stands out of the noise: the external
# samplers only (the in-process ones are far slower already at 1 kHz)
RATES["autoprof-bpf"]["5k"] = (["-F", "4999"], 4999)
RATES["perf"]["5k"] = (["-F", "4999"], 4999)
RATES["py-spy"]["5k"] = (["-r", "5000"], 5000)
RATES["austin"]["5k"] = (["-i", "200us"], 5000)
RATE_NAMES = ("default", "matched", "high", "5k")


def command(tool, rate, d, target):
    """argv running TARGET (argv after the interpreter) under TOOL at RATE,
    and its output file; tool None: bare"""
    py = E.py
    if tool is None:
        return [py] + target, None
    opt = RATES[tool][rate][0] or []
    if tool == "autoprof-bpf":
        return [E.ap, "-q", "-o", os.path.join(d, "ours")] + opt + ["--", py] + target, \
            os.path.join(d, "ours")
    if tool == "py-spy":
        o = os.path.join(d, "py-spy.txt")
        return [E.pyspy, "record", "--format", "raw", "-o", o] + opt + ["--", py] + target, o
    if tool == "austin":
        o = os.path.join(d, "austin.txt")
        return [E.austin] + opt + ["-o", o, py] + target, o
    if tool == "pyinstrument":
        o = os.path.join(d, "pyinstrument.json")
        return [py, "-m", "pyinstrument", "-r", "json", "-o", o] + opt + target, o
    if tool == "scalene":
        o = os.path.join(d, "scalene.json")
        # Scalene takes the program's arguments after ---
        return [py, "-m", "scalene", "run", "-o", o] + opt + target[:1] + ["---"] + target[1:], o
    if tool == "perf":
        o = os.path.join(d, "perf.data")
        return ["perf", "record", "-q", "--call-graph", "dwarf", "-o", o] + opt + \
            ["--", py] + target, o
    raise ValueError(tool)


def first_error(path, rc):
    """the line of stderr that says what failed: the first naming an error,
    else the last paragraph"""
    try:
        with open(path, errors="replace") as f:
            text = re.sub(r"\x1b\[[0-9;]*m", "", f.read())
    except OSError:
        text = ""
    lines = [ln.strip() for ln in text.splitlines()]
    for ln in lines:
        if "error" in ln.lower() or "traceback" in ln.lower() or "not found" in ln:
            return ln[:240]
    para = text.strip().split("\n\n")[-1] if text.strip() else ""
    return " ".join(para.split())[:240] or f"exit {rc}, nothing on stderr"


def vm_hwm(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for ln in f:
                if ln.startswith("VmHWM:"):
                    return int(ln.split()[1])
    except OSError:
        pass
    return 0


def launch(cmd, d):
    """run CMD to its end, or kill its session after TIMEOUT_S; its exit
    code (None: killed), its rusage (its waited-for children's folded in),
    its polled VmHWM and where its stderr went"""
    errp = os.path.join(d, "stderr.txt")
    with open(errp, "w") as err:
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=err, cwd=E.out, start_new_session=True)
    hwm, end = 0, time.monotonic() + TIMEOUT_S
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > end:
            os.killpg(p.pid, signal.SIGKILL)
            os.wait4(p.pid, 0)
            p.returncode = -9
            # what is left of the session (a hung pool worker), too
            subprocess.run(["pkill", "-9", "-s", str(p.pid)], stderr=subprocess.DEVNULL)
            with open(errp, "a") as err:
                err.write(f"\nerror: killed after {TIMEOUT_S} s (a ~1 s workload)\n")
            return None, None, hwm, errp
        hwm = max(hwm, vm_hwm(p.pid))
        time.sleep(POLL_S)
    p.returncode = rc = os.waitstatus_to_exitcode(status)
    return rc, ru, hwm, errp


def fresh(out):
    if out and os.path.isdir(out):
        shutil.rmtree(out)
    elif out and os.path.exists(out):
        os.unlink(out)


def run(tool, rate, wl, argv, d):
    """one timed run; a dict of what was measured, or of what failed"""
    os.makedirs(d, exist_ok=True)
    tjson = os.path.join(d, "target.json")
    fresh(tjson)
    cmd, out = command(tool, rate, d, [RUNNER, tjson] + argv)
    fresh(out)
    rc, ru, hwm, errp = launch(cmd, d)
    res = {"tool": tool or "bare", "rate": rate, "workload": wl, "exit": rc}
    try:
        with open(tjson) as f:
            t = json.load(f)
    except (OSError, ValueError):
        t = None
    if rc != 0 or not t or t["exit"] or (out and not os.path.exists(out)):
        res["error"] = first_error(errp, rc) if rc != 0 or not t else \
            (f"target exit {t['exit']}" if t["exit"] else f"no {os.path.basename(out)}")
        return res
    res["wall_s"] = t["wall_s"]
    res["target_cpu_s"] = t["self"]["cpu_s"] + t["children"]["cpu_s"]
    res["target_rss_kb"] = t["self"]["max_rss_kb"]
    if tool and tool not in IN_PROCESS:
        res["prof_cpu_s"] = ru.ru_utime + ru.ru_stime - res["target_cpu_s"]
        res["prof_rss_kb"] = hwm
    if tool:
        try:
            res["samples"] = count_samples(tool, out, res)
        except (OSError, ValueError, KeyError) as e:
            res["samples"] = None
            res["samples_error"] = str(e)
    if tool == "autoprof-bpf":
        try:
            with open(os.path.join(out, "run.json")) as f:
                s = json.load(f)["self"]
            res["self_json"] = {"cpu_s": s["user_s"] + s["sys_s"], "max_rss_kb": s["max_rss_kb"]}
        except (OSError, ValueError, KeyError):
            pass
    if tool == "perf" and out:
        os.unlink(out)  # tens of MB each at the default rate
    return res


def folded(path):
    with open(path, errors="replace") as f:
        for ln in f:
            stack, _, n = ln.rstrip("\n").rpartition(" ")
            if stack and n.isdigit():
                yield stack, int(n)


def count_samples(tool, out, res):
    if tool == "autoprof-bpf":
        return sum(n for _, n in folded(os.path.join(out, "stacks.folded")))
    if tool == "py-spy":
        return sum(n for _, n in folded(out))
    if tool == "austin":
        with open(out, errors="replace") as f:
            return sum(1 for ln in f if ln.startswith("P"))
    if tool == "pyinstrument":
        with open(out) as f:
            return json.load(f)["sample_count"]
    if tool == "scalene":
        # Scalene's JSON holds no count of its CPU samples: the target's CPU
        # time over the sampling interval (an estimate, said so)
        return int(res["target_cpu_s"] * RATES[tool][res["rate"]][1])
    if tool == "perf":
        r = subprocess.run(["perf", "report", "-i", out, "--stats"], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True)
        for ln in r.stdout.splitlines():
            if "SAMPLE events:" in ln:
                return int(ln.split(":")[1].split()[0])
        raise ValueError("perf report --stats: no SAMPLE events line")
    raise ValueError(tool)


# -- accuracy: shares of the five functions of peertruth.py

FUNCS = ("py_loop", "zlib_c", "sort_c", "regex_c", "py_dict")


def truth_func(name, path):
    """the truth function a frame is, or None"""
    name = name.rpartition(".")[2]  # ours and py-spy qualify methods; none here
    return name if name in FUNCS and os.path.basename(path) == "peertruth.py" else None


def split_frame(fr):
    """`name (file:line)` (ours, py-spy) -> (name, file)"""
    if fr.endswith(")") and " (" in fr:
        name, _, loc = fr[:-1].rpartition(" (")
        return name, loc.rpartition(":")[0]
    return fr, ""


def shares_folded(path):
    got = collections.Counter()
    for stack, n in folded(path):
        for fr in stack.split(";"):
            f = truth_func(*split_frame(fr))
            if f:
                got[f] += n
                break
    return got


def shares_austin(path):
    """austin 3's collapsed stacks: P<pid>;T<tid>;file:function:line;... µs"""
    got = collections.Counter()
    for stack, n in folded(path):
        for fr in stack.split(";")[2:]:
            file_, func = (fr.rsplit(":", 2) + ["", ""])[:2]
            f = truth_func(func, file_)
            if f:
                got[f] += n
                break
    return got


def shares_pyinstrument(path):
    with open(path) as f:
        root = json.load(f)["root_frame"]
    got = collections.Counter()
    todo = [root]
    while todo:
        fr = todo.pop()
        f = truth_func(fr["function"], fr["file_path"])
        if f:
            got[f] += fr["time"]
        else:
            todo.extend(fr["children"])
    return got


def shares_scalene(path):
    """Scalene's per-line CPU (Python + native + system %), summed over the
    lines of each function (ranges from peertruth.py's syntax tree)"""
    with open(TRUTH) as f:
        tree = ast.parse(f.read())
    where = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name in FUNCS:
            for ln in range(node.lineno, node.end_lineno + 1):
                where[ln] = node.name
    with open(path) as f:
        files = json.load(f)["files"]
    got = collections.Counter()
    for fname, v in files.items():
        if os.path.basename(fname) != "peertruth.py":
            continue
        for ln in v["lines"]:
            if ln["lineno"] in where:
                got[where[ln["lineno"]]] += ln["n_cpu_percent_python"] + \
                    ln["n_cpu_percent_c"] + ln["n_sys_percent"]
    return got


def shares(tool, out):
    if tool == "autoprof-bpf":
        return shares_folded(os.path.join(out, "stacks.folded"))
    return {"py-spy": shares_folded, "austin": shares_austin,
            "pyinstrument": shares_pyinstrument, "scalene": shares_scalene}[tool](out)


def accuracy(tool, broke):
    """the tool on peertruth.py at the matched rate (Austin: CPU mode, -s).
    A run that fails is tried again, twice at most: each failure is listed"""
    d = os.path.join(E.out, "runs", "accuracy", tool)
    os.makedirs(d, exist_ok=True)
    tf = os.path.join(d, "truth.json")
    for _ in range(3):
        fresh(tf)
        cmd, out = command(tool, "matched", d, [TRUTH, "--truth", tf, TRUTH_SECONDS])
        if tool == "austin":
            cmd.insert(1, "-s")
        fresh(out)
        rc, _, _, errp = launch(cmd, d)
        res = {"tool": tool, "rate": "matched", "workload": "peertruth", "exit": rc}
        if rc == 0 and os.path.exists(tf) and os.path.exists(out):
            break
        res["error"] = first_error(errp, rc) if rc != 0 else \
            f"no {'truth' if not os.path.exists(tf) else os.path.basename(out)}"
        broke.append(res)
    else:
        return res
    with open(tf) as f:
        truth = json.load(f)["share"]
    try:
        got = shares(tool, out)
    except (OSError, ValueError, KeyError) as e:
        res["error"] = f"reading {os.path.basename(out)}: {e}"
        return res
    total = sum(got.values())
    if not total:
        res["error"] = f"none of the five functions in {os.path.basename(out)}"
        return res
    share = {k: got[k] / total for k in FUNCS}
    err = [abs(share[k] - truth[k]) * 100 for k in FUNCS]
    res.update(truth=truth, share=share, mean_err=statistics.mean(err), max_err=max(err),
               under=total)
    if tool in ("autoprof-bpf", "py-spy"):
        res["samples"] = total
    elif tool == "austin":
        res["samples"] = sum(1 for _ in folded(out))
    elif tool == "pyinstrument":
        with open(out) as f:
            res["samples"] = json.load(f)["sample_count"]
    return res


# -- the runs and their medians

# rows that are the same runs as another row: the tool's default is that rate
ALIAS = {("autoprof-bpf", "matched"): "default", ("py-spy", "matched"): "default",
         ("pyinstrument", "high"): "default"}


# workloads for the external samplers' cost per sample only: the in-process
# tools, 3-5 times slower there already, would add minutes to the bench
EXTERNAL_ONLY = {"deeprec"}


def variants(high, w=None):
    v = [(None, None)]
    for t in TOOLS:
        if t not in E.tools or (w in EXTERNAL_ONLY and t in IN_PROCESS):
            continue
        for r in (RATE_NAMES if high else ("default",)):
            if r in RATES[t] and (t, r) not in ALIAS:
                v.append((t, r))
    return v


def overhead(wls, high_wls, runs):
    """RUNS rounds; in each, every workload's variants once, the order
    rotated each round so drift in the machine's speed hits all alike"""
    res = collections.defaultdict(list)  # (wl, tool, rate) -> [result per round]
    plan = {w: variants(w in high_wls, w) for w in wls}
    n = sum(len(v) for v in plan.values())
    hung = set()
    t0 = time.monotonic()
    for i in range(runs):
        for w, v in plan.items():
            k = i % len(v)
            for tool, rate in v[k:] + v[:k]:
                d = os.path.join(E.out, "runs", w, f"{tool or 'bare'}-{rate or ''}".rstrip("-"))
                if (w, tool, rate) in hung:
                    r = {"tool": tool, "rate": rate, "workload": w, "exit": None,
                         "error": "not run: it hung in an earlier round"}
                else:
                    r = run(tool, rate, w, wls[w][1], d)
                    if r["exit"] is None:
                        hung.add((w, tool, rate))
                r["round"] = i
                prev = res[(w, tool or "bare", rate)]
                if "error" in r and not any("error" in x for x in prev):
                    log(f"{w}: {tool or 'bare'} {rate or ''}: exit {r['exit']}: {r['error']}")
                prev.append(r)
        log(f"round {i + 1}/{runs} done ({n} runs each, {time.monotonic() - t0:.0f} s so far)")
    return res


def log(msg):
    print(f"bench-peers: {msg}", file=sys.stderr, flush=True)


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def quartiles(xs):
    xs = sorted(xs)
    if len(xs) < 3:
        return (xs[0], xs[-1]) if xs else (None, None)
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return q[0], q[2]


def summarize(res, wls, high_wls):
    """medians per row; paired ratios per round"""
    rows = {}
    for (w, tool, rate), rs in res.items():
        if tool == "bare":
            continue
        key = (w, tool, rate)
        bare = {r["round"]: r for r in res[(w, "bare", None)] if "error" not in r}
        ok = [r for r in rs if "error" not in r]
        pairs = [(r, bare[r["round"]]) for r in ok if r["round"] in bare]
        ratios = [r["wall_s"] / b["wall_s"] for r, b in pairs]
        cost = [(r["wall_s"] - b["wall_s"]) / r["samples"] * 1e6 for r, b in pairs
                if r.get("samples")]
        q1, q3 = quartiles(ratios)
        row = {"workload": w, "tool": tool, "rate": rate, "hz": RATES[tool][rate][1],
               "options": RATES[tool][rate][0] or [], "runs": len(rs), "ok": len(ok),
               "ratio": med(ratios), "ratio_q1": q1, "ratio_q3": q3,
               "wall_s": med(r["wall_s"] for r in ok), "samples": med(r.get("samples") for r in ok),
               "us_per_sample": med(cost),
               "target_rss_kb": med(r["target_rss_kb"] for r in ok)}
        if tool not in IN_PROCESS:
            row["prof_cpu_s"] = med(r["prof_cpu_s"] for r in ok)
            row["prof_rss_kb"] = med(r["prof_rss_kb"] for r in ok)
        if tool == "autoprof-bpf":
            sj = [r["self_json"] for r in ok if "self_json" in r]
            row["self_json_cpu_s"] = med(s["cpu_s"] for s in sj)
            row["self_json_rss_kb"] = med(s["max_rss_kb"] for s in sj)
        rows[key] = row
        for alias, of in ALIAS.items():
            if (tool, rate) == (alias[0], of) and w in high_wls:
                rows[(w, tool, alias[1])] = dict(row, rate=alias[1], same_as=of)
    bare = {}
    for w in wls:
        b = [r["wall_s"] for r in res[(w, "bare", None)] if "error" not in r]
        q1, q3 = quartiles(b)
        bare[w] = {"wall_s": med(b), "runs": len(b), "rss_kb": med(
            r["target_rss_kb"] for r in res[(w, "bare", None)] if "error" not in r),
            "spread": (q3 - q1) / med(b) if b else None}
    return rows, bare


# -- tables

def fx(x, f="{:.2f}", none="-"):
    return none if x is None else f.format(x)


def hz(h):
    return f"{h // 1000} kHz" if h >= 1000 and h % 1000 == 0 else f"{h} Hz"


def table(head, rows):
    """plain text and markdown of the same rows"""
    w = [max(len(str(c)) for c in col) for col in zip(head, *rows)]
    txt = ["  ".join(str(c).ljust(n) for c, n in zip(r, w)).rstrip() for r in [head] + rows]
    md = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    md += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(txt), "\n".join(md)


def cell(rows, key):
    r = rows.get(key)
    if not r or r["ratio"] is None:
        return "FAILED" if r else "-"
    failed = r["runs"] - r["ok"]
    return f"{r['ratio']:.2f}" + (f" ({failed} failed)" if failed else "")


def section_default(rows, bare, wls):
    head = ["workload", "bare s"] + [f"{t} {hz(RATES[t]['default'][1])}" for t in E.tools]
    body = [[w, f"{bare[w]['wall_s']:.3f} ±{bare[w]['spread'] * 50:.0f}%" if bare[w]["wall_s"]
             else "FAILED"] + [cell(rows, (w, t, "default")) for t in E.tools] for w in wls]
    return table(head, body)


def section_rates(rows, bare, high_wls):
    head = ["workload", "tool", "rate", "options", "ratio [IQR]", "samples", "µs/sample"]
    body = []
    for w in high_wls:
        for t in E.tools:
            for r in RATE_NAMES:
                x = rows.get((w, t, r))
                if not x:
                    continue
                opt = " ".join(x["options"]) or "(default)"
                if x.get("same_as"):
                    opt += f" = {x['same_as']}"
                body.append([w, t, f"{r} {hz(x['hz'])}", opt,
                             f"{fx(x['ratio'])} [{fx(x['ratio_q1'])}–{fx(x['ratio_q3'])}]"
                             if x["ratio"] else "FAILED",
                             fx(x["samples"], "{:.0f}") + (" est." if t == "scalene" else ""),
                             # at ~100 Hz the noise of the wall time swamps the cost
                             fx(x["us_per_sample"], "{:.1f}") if x["hz"] >= 999 and
                             t != "pyinstrument" else "-"])
    return table(head, body)


def section_cost(rows, bare, wls):
    head = ["tool", "CPU s, median (min–max over workloads)", "CPU per target s",
            "peak RSS MB, median (max)", "how"]
    body = []
    for t in E.tools:
        rs = [rows[(w, t, "default")] for w in wls if (w, t, "default") in rows
              and rows[(w, t, "default")]["ok"]]
        if not rs:
            body.append([t, "FAILED", "", "", ""])
            continue
        if t in IN_PROCESS:
            grow = [(r["target_rss_kb"] - bare[r["workload"]]["rss_kb"]) / 1024 for r in rs
                    if bare[r["workload"]]["rss_kb"]]
            body.append([t, "in-process", "", f"target +{med(grow):.0f} MB over bare "
                         f"(max +{max(grow):.0f})", "target's getrusage"])
            continue
        cpu = [r["prof_cpu_s"] for r in rs]
        per = [r["prof_cpu_s"] / bare[r["workload"]]["wall_s"] for r in rs]
        rss = [r["prof_rss_kb"] / 1024 for r in rs]
        how = "CPU: wait4 - target; RSS: VmHWM"
        if t == "autoprof-bpf":
            how += (f"; run.json self: {med(r['self_json_cpu_s'] for r in rs):.2f} s, "
                    f"{med(r['self_json_rss_kb'] for r in rs) / 1024:.0f} MB")
        body.append([t, f"{med(cpu):.2f} ({min(cpu):.2f}–{max(cpu):.2f})", f"{med(per):.2f}",
                     f"{med(rss):.0f} ({max(rss):.0f})", how])
    return table(head, body)


def section_accuracy(acc):
    head = ["tool", "samples"] + list(FUNCS) + ["mean err", "max err", "binomial noise"]
    body = []
    for a in acc:
        if "error" in a:
            body.append([a["tool"], "FAILED"] + [""] * (len(FUNCS) + 3))
            continue
        n = a.get("samples")
        noise = statistics.mean((p * (1 - p) / n) ** 0.5 * 0.798 * 100
                                for p in a["truth"].values()) if n else None
        body.append([a["tool"], fx(n, "{:.0f}")] +
                    [f"{a['share'][k] * 100:.1f} ({a['truth'][k] * 100:.1f})" for k in FUNCS] +
                    [f"{a['mean_err']:.1f}", f"{a['max_err']:.1f}", fx(noise, "{:.1f}")])
    return table(head, body)


def broke_list(res, extra):
    """every failure once, with how many runs it was"""
    out, seen = [], {}
    for r in list(extra) + [r for rs in res.values() for r in rs]:
        if "error" not in r:
            continue
        k = (r["tool"], r["workload"], r["rate"], r["error"])
        if k in seen:
            seen[k]["count"] += 1
            continue
        seen[k] = dict(r, count=1)
        out.append(seen[k])
    return out


# -- set-up

def sh(cmd):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return r.returncode, r.stdout.strip()


def find_austin(v, broke):
    a = os.path.join(v, "bin/austin")
    rc, txt = sh([a, "-V"])
    if not rc:
        return a, txt
    broke.append({"tool": "austin", "workload": "(start)", "rate": "-", "exit": rc,
                  "error": f"austin-dist as pinned: austin -V: {txt.splitlines()[0][-120:]}"})
    av = os.path.join(ROOT, "build/peers-austin-venv")
    a = os.path.join(av, "bin/austin")
    if not os.path.exists(a):
        log(f"austin of the venv does not run here; installing {AUSTIN_FALLBACK} into {av}")
        rc, txt = sh([E.py, "-m", "venv", av])
        if not rc:
            rc, txt = sh([os.path.join(av, "bin/pip"), "install", "-q",
                          "--disable-pip-version-check", "--no-input", AUSTIN_FALLBACK])
        if rc:
            broke.append({"tool": "austin", "workload": "(start)", "rate": "-", "exit": rc,
                          "error": f"installing {AUSTIN_FALLBACK}: {txt.splitlines()[-1][:160]}"})
            return None, None
    rc, txt = sh([a, "-V"])
    return (a, txt + f" ({AUSTIN_FALLBACK}, instead of the pinned one)") if not rc else (None, None)


def setup(out, broke):
    r = subprocess.run([os.path.join(ROOT, "tools/peers-venv.sh")], stdout=subprocess.PIPE,
                       text=True)
    if r.returncode:
        sys.exit(1)
    v = os.path.join(ROOT, r.stdout.strip())
    E.out = out
    E.py = os.path.join(v, "bin/python")
    E.ap = os.path.abspath(os.environ.get("AP", os.path.join(ROOT, "build/autoprof-bpf")))
    E.pyspy = os.path.join(v, "bin/py-spy")
    E.stdlib = os.path.join(sh([E.py, "-c", "import sys; print(sys.base_prefix)"])[1],
                            "lib/python3.11")
    E.austin, austin_v = find_austin(v, broke)
    E.versions = {
        "python": sh([E.py, "-V"])[1],
        "autoprof-bpf": sh([E.ap, "--version"])[1].splitlines()[0] + " (commit " +
        sh(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"])[1] + ")",
        "py-spy": sh([E.pyspy, "--version"])[1],
        "austin": austin_v or "does not run",
        "pyinstrument": sh([E.py, "-m", "pyinstrument", "--version"])[1].splitlines()[0],
        "scalene": sh([E.py, "-m", "scalene", "--version"])[1].splitlines()[0],
        "perf": sh(["perf", "--version"])[1],
    }
    E.tools = [t for t in TOOLS if t != "austin" or E.austin]


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for ln in f:
            if ln.startswith("model name"):
                model = ln.split(":", 1)[1].strip()
                break
    return {"nproc": os.cpu_count(), "kernel": platform.release(), "cpu": model,
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def main():
    out = os.path.join(ROOT, "build/bench-peers")
    if "--out" in sys.argv:
        out = os.path.abspath(sys.argv[sys.argv.index("--out") + 1])
    if os.geteuid():
        print("bench-peers: needs root (autoprof-bpf and perf load programs): "
              "sudo make bench-peers", file=sys.stderr)
        return 1
    # the target runs as root under every tool, as bare; under sudo
    # autoprof-bpf would otherwise run it as the invoking user
    for k in ("SUDO_UID", "SUDO_GID"):
        os.environ.pop(k, None)
    t_start = time.monotonic()
    quick = os.environ.get("QUICK") == "1"
    runs = int(os.environ.get("RUNS", "3" if quick else "7"))
    os.makedirs(out, exist_ok=True)
    shutil.rmtree(os.path.join(out, "runs"), ignore_errors=True)
    broke = []
    setup(out, broke)
    allw = workloads(out)
    names = os.environ.get("WORKLOADS", "nbody,concurrent_imap,json.tool" if quick else "")
    names = [n for n in names.split(",") if n] or [n for n in allw if n != "deeprec"]
    bad = [n for n in names if n not in allw]
    if bad:
        print(f"bench-peers: no workload {', '.join(bad)} (there are {', '.join(allw)})",
              file=sys.stderr)
        return 1
    high = [n for n in os.environ.get("HIGH_WORKLOADS", "nbody,deeprec").split(",") if n in allw]
    wls = collections.OrderedDict((n, allw[n]) for n in names + [h for h in high if h not in names])
    m = machine()
    print(f"== peers: autoprof-bpf beside py-spy, Austin, pyinstrument, Scalene and perf "
          f"({m['date']}; {m['nproc']} CPUs, {m['cpu']}, kernel {m['kernel']}; RUNS={runs})")
    for k, v in E.versions.items():
        print(f"   {k}: {v}")
    log(f"{len(wls)} workloads x {runs} rounds; matched and high rates on {', '.join(high)}")
    res = overhead(wls, high, runs)
    rows, bare = summarize(res, wls, high)
    log("accuracy runs (peertruth.py, matched rate)")
    acc = [accuracy(t, broke) for t in E.tools if t != "perf"]
    noise = med(b["spread"] for b in bare.values() if b["spread"] is not None)

    secs = [
        ("1. Target overhead at each tool's default rate",
         f"The target's own wall time profiled / bare (timed inside the target), median of "
         f"{runs} paired runs in rotating order; bare: median s ± half the interquartile range. "
         f"This machine's noise: half the bare runs' interquartile range is "
         f"{fx(noise and noise * 50, '{:.0f}')}% of their median (median over workloads).",
         section_default(rows, bare, wls)),
        ("1b. Matched (~100 Hz), high (~1000 Hz) and ~5 kHz rates, and the cost per sample",
         "µs/sample (at 1 kHz and more): median over paired runs of (profiled - bare) target "
         "wall / samples in the tool's own output (Scalene's JSON holds no sample count: its "
         "CPU time / interval, est.; pyinstrument takes a sample only at a call or return once "
         "the interval has passed: its cost is per call, not per sample, and its count is lower "
         "than the rate says).",
         section_rates(rows, bare, high)),
        ("2. The profiler's own CPU and peak RSS (default rate)",
         "External tools: CPU is the profiler's rusage (os.wait4, the target's folded in) minus "
         "the target's own (getrusage in the target); peak RSS is the profiler's VmHWM, read "
         "every 50 ms (growth in its last 50 ms is missed; autoprof-bpf's run.json beside it). "
         "In-process tools cost the target itself: its peak RSS over bare is shown.",
         section_cost(rows, bare, wls)),
        ("3. Attribution accuracy against a truth (matched rate)",
         "tests/workloads/py/peertruth.py times five functions' own CPU (time.thread_time()); "
         "each cell: the tool's share % of samples under the five (inclusive) (the truth % of "
         "that run); errors in points. Austin in CPU mode (-s), Scalene per line summed by "
         "function. Binomial noise: the mean error expected from the sample count alone.",
         section_accuracy(acc)),
    ]
    broke = broke_list(res, broke)
    md = [f"# make bench-peers: {m['date']}", "",
          f"Machine: {m['nproc']} CPUs, {m['cpu']}, kernel {m['kernel']}. "
          f"Target interpreter: {E.versions['python']} (build/peers-venv). RUNS={runs}.", "",
          "Tools: " + "; ".join(f"{k}: {v}" for k, v in E.versions.items() if k != "python"), "",
          "Workloads (fixed work; the pyperformance benchmarks in pyperf's worker mode, "
          "without worker processes): " +
          "; ".join(f"{w}: {wls[w][0]}" for w in wls) + ".", ""]
    for title, note, (txt, mdt) in secs:
        print(f"\n== {title}\n   {note}\n{txt}")
        md += [f"## {title}", "", note, "", mdt, ""]
    print("\n== 4. What broke")
    md += ["## 4. What broke", ""]
    for b in broke:
        st = "killed" if b["exit"] is None else f"exit {b['exit']}"
        ln = (f"{b['tool']} on {b['workload']} ({b['rate']}): {st}: {b['error']}"
              + (f" ({b['count']} of the runs)" if b.get("count", 1) > 1 else ""))
        print("   " + ln)
        md.append("- " + ln)
    if not broke:
        print("   nothing")
        md.append("nothing")
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"machine": m, "versions": E.versions, "runs": runs,
                   "noise_half_iqr": noise and noise / 2,
                   "workloads": {w: wls[w][0] for w in wls}, "bare": bare,
                   "rows": list(rows.values()), "accuracy": acc, "broke": broke,
                   "raw": [r for rs in res.values() for r in rs]}, f, indent=1)
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    print(f"\n   (results: {out}/results.md, results.json; "
          f"{time.monotonic() - t_start:.0f} s)")
    matrix = os.path.join(ROOT, "tools/peers-matrix.py")
    if os.path.exists(matrix):
        r = subprocess.run(["python3", matrix, "--out", os.path.join(out, "matrix")])
        if r.returncode:
            print(f"bench-peers: tools/peers-matrix.py exited {r.returncode}", file=sys.stderr)
    log(f"done in {time.monotonic() - t_start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
