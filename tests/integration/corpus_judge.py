#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Judge autoprof-bpf's findings on a corpus program against truths measured
without it (tools/corpus_truth.py: gc.callbacks, atexit, getrusage,
schedstat, cProfile). Issue 15's acceptance: (a) the biggest real cost is
among the top three findings, with its share within a tolerance of the
truth; (b) each of the top three findings is true.

  corpus_judge.py NAME RUN_DIR TRUTH.json CPROFILE.json

Prints one line per failure (and exits 1), else a summary line.

What "true" means, per kind of finding (the kind is read from pattern_id):
  gc          its share of CPU is within TOL_GC points of the truth: at least
              gc.callbacks' share (collections during the run) - 10 and at
              most that plus the shutdown share + 10 (the interpreter's final
              collections run in Py_FinalizeEx, where no callback sees them)
  shutdown    within TOL_GC points of the CPU spent after the last atexit
              handler (module teardown, final collections, exit)
  imports     within TOL_PROF points of cProfile's cumulative share of
              importlib's _find_and_load
  function    (hot_function, hot_library_function, hot_path, deep_recursion:
              a Python function) its function is among the top 5 of cProfile
              own time (tottime); and no "make the loop do less" advice when
              cProfile says its own code is under half of the share we give
              it (its time is below it, in native code it calls)
  native      (time below Python in native code, reference BLAS) it names
              a builtin that cProfile puts in its top 5 with >= 10% own time
              (as compile, builtin_compile or Py_CompileString...), or the
              program's native module (ALIASES); for compile(), its share
              within TOL_GC points of a timer around builtins.compile in
              the same run
  serialization  within TOL_PROF points of the CPU share of json.dump (the
              pure-Python encoder's pattern) or of json.load and json.dump
              together or json.load alone (serialization in general), timed
              by wrappers in the profiled run (phases_pct; else in the stored
              unprofiled run's); where there are
              none, cProfile's own time in json/ and pickle
  classification (cpu_bound) true when the program's CPU demand (on CPU or
              waiting for one, schedstat) is >= 70% of its wall time;
              io/sleep/lock-bound are false for a program whose demand is
              >= 70%
  contention  (CPU contention from other processes) the program waited in
              the run queue (schedstat, the same run) >= 10% of its wall
              time, and the time at stake is at most that wait
  lock, GIL   false for a program that ran one thread
  memory      "high" (or memory_exhaustion) only for growth that would
              exhaust memory: false for a batch program whose peak RSS is
              under a quarter of the RAM
Every finding: its time at stake is at most the run's wall time.
All findings of CPU time (the kinds above but classification, contention,
threads and memory): their times at stake add up to at most the program's
CPU time (one cost, one claim).
A finding of another kind has no judge yet: that fails, naming it.
"""
import json
import re
import sys

TOL_GC = 10.0    # points: the brief's tolerance for shares measured exactly
TOL_PROF = 15.0  # points: against cProfile, whose per-call cost skews shares

# the biggest real cost of each program, from its truths (see the report
# table: tools/corpus.sh table): kind, and what names it
EXPECT = {
    # builtins.compile: 84% of cProfile own time, builtin_compile 80% in perf
    "compileall": {"kind": "native", "names": ["compile"],
                   "advice": r"(?i)parallel|-j|workers|cach|compil"},
    # Py_FinalizeEx 17.6% in perf (17.4 points of it the final collections);
    # 10-20% of the CPU after the last atexit handler
    "rst2html": {"kind": "shutdown", "advice": r"os\._exit|gc\.freeze|gc\.disable"},
    # the collector: 20-26% by gc.callbacks; perf (pyenv 3.11): 22.6% during
    # the run (21.9 points of it inside compile(), building AST objects) and
    # 13.8% in the final collections; compile() without them 17.5%
    "pyflakes": {"kind": "gc", "advice": r"gc\.freeze|gc\.set_threshold|gc\.disable"},
    # the collector: 19-29% by gc.callbacks; perf: 23.0% during the run,
    # 10.1% in the final collections (mypyc's own code is the program's work)
    "black": {"kind": "gc", "advice": r"gc\.freeze|gc\.set_threshold|gc\.disable"},
    # json.tool indents: the pure-Python encoder, ~80% of own time
    "jsontool": {"kind": "serialization", "advice": r"(?i)indent|C encoder|c_make_encoder"},
    # networkx's Brandes BFS: 48% of own time
    "networkx": {"kind": "function", "names": ["_single_source_shortest_path_basic"]},
    # importing sympy: 36% of cProfile's time (cumulative _find_and_load)
    "sympy": {"kind": "imports", "advice": r"(?i)lazil|importtime"},
}
# the native module a program's compiled code lives in
ALIASES = {"black": ["mypyc", "black"]}

LOOP_ADVICE = re.compile(r"(?i)loop do less|per iteration")
# "call it less often from X" where X is a framework's forwarding function
# (click's new_func, decorators' wrappers, invoke): not a caller to change
TRAMPOLINE_ADVICE = re.compile(r"(?i)less often[^.]* from [\w.<>]*(new_func|invoke|wrapper|decorator|__call__)\b")
CLASSIFY = {"cpu_bound", "io_bound", "sleep_bound", "lock_bound"}
# kinds of findings whose time at stake is CPU time of the process
CPU_CLAIMS = {"gc", "shutdown", "imports", "native", "function", "serialization"}


def kind_of(f):
    p = f["pattern_id"]
    if p in CLASSIFY:
        return "classification"
    if re.search(r"gil|lock", p):
        return "threads"
    if re.search(r"contention|oversub|runqueue|run_queue|preempt|host_load|noisy", p):
        return "contention"
    if re.search(r"gc", p) and not re.search(r"gc_freeze_shutdown", p):
        return "gc"
    if re.search(r"shutdown|finali[sz]|teardown|atexit", p):
        return "shutdown"
    if "import" in p:
        return "imports"
    if re.search(r"serializ|json|pickle", p):
        return "serialization"
    if re.search(r"memory|rss|working_set|leak|page_fault_churn|transient_mapping", p):
        return "memory"
    if re.search(r"below|native|blas", p):
        return "native"
    if f.get("scope") in ("function", "stack") or p in ("hot_path", "deep_recursion"):
        return "function"
    return None


def share(f, cpu_s, scale=1.0):
    """the share of the program's CPU the finding claims, in percent. SCALE
    turns a share of all the run's samples (function, stack and module
    scopes) into a share of the program's process: the run also holds the
    truth wrapper's parent process (its start-up, ~30 ms)"""
    ev = f.get("evidence") or {}
    # time below a Python frame: the claim is its time at stake (the
    # function's own share also holds the collector's samples)
    if kind_of(f) == "native" and f.get("impact_s") is not None and cpu_s > 0:
        return 100.0 * f["impact_s"] / cpu_s
    for k in ("match.pct", "function.work_pct", "function.self_pct", "stack.work_pct", "stack.pct", "module.self_pct"):
        if isinstance(ev.get(k), (int, float)):
            return float(ev[k]) * (scale if k != "match.pct" else 1.0)
    for k, v in ev.items():
        if isinstance(v, (int, float)) and re.search(r"(gc|shutdown|final|below|native|import).*pct$", k):
            return float(v)
    if f.get("impact_s") is not None and cpu_s > 0:
        return 100.0 * f["impact_s"] / cpu_s
    return None


def fn_name(f):
    """the Python function a function/stack finding is about"""
    loc = f["location"]
    parts = loc.split(":")
    if f.get("scope") == "function" and len(parts) >= 2:
        name = parts[1] if parts[-1].isdigit() or len(parts) > 2 else parts[-1]
        return name.split(".")[-1]
    # a stack: its innermost function is the last of "a;b;c" or "a -> b"
    m = re.split(r";|->| > ", loc)[-1].strip()
    return m.split(":")[0].split(".")[-1]


def native_re(n):
    """a builtin's name as a finding may give it: compile, compile(),
    builtin_compile, Py_CompileStringObject (the C function under it)"""
    e = re.escape(n)
    return r"(?<![\w.:])%s(?![\w.:])|builtin_%s|Py_?%s" % (e, e, re.escape(n[:1].upper() + n[1:]))


def builtin_names(top):
    """short names of the builtins and C methods in cProfile's top 5 with >= 10%"""
    out = []
    for r in top[:5]:
        if r["file"] != "~" or r["tottime_pct"] < 10:
            continue
        m = re.search(r"(?:method|function) ([\w.]+)", r["name"]) or re.search(r"'(\w+)'", r["name"])
        if m:
            bits = m.group(1).split(".")
            if bits[-1] not in ("main", "run", "call"):  # too common to name anything
                out.append(bits[-1])
            if len(bits) > 1 and bits[0] not in ("builtins", "posix", "_io"):
                out.append(bits[0])
    return out


def main():
    name, run, truth_f, cprof_f = sys.argv[1:5]
    fails = []
    try:
        fj = json.load(open(run + "/findings.json"))
        cpu = json.load(open(run + "/artifacts/cpu.json"))
        truth = json.load(open(truth_f))
        cp = json.load(open(cprof_f))["cprofile"]
    except (OSError, ValueError, KeyError) as e:
        print("cannot read the run or the truths: %s" % e)
        sys.exit(1)
    hz = cpu.get("frequency_hz") or 99
    # the program's process: the one with the most samples (the other is
    # the truth wrapper's parent, waiting for it)
    proc = max([p.get("samples", 0) for p in cpu.get("processes", [])] or [0])
    scale = fj["samples"] / proc if proc else 1.0
    cpu_s = (proc or fj["samples"]) / hz
    wall = fj["wall_s"]
    top = cp["top"]
    py_top5 = [r["name"] for r in top if r["file"] != "~"][:5]
    gc_lo = truth["gc_pct"] - TOL_GC
    gc_hi = truth["gc_pct"] + truth["shutdown_pct"] + TOL_GC
    # timed in the profiled run itself (the truth wrapper's CORPUS_TIME):
    # the same run on the same machine; else the stored unprofiled run's
    phases = truth.get("phases_pct") or json.load(open(cprof_f)).get("phases_pct") or {}
    # serialization: the CPU share of json.load and json.dump calls, timed
    # by wrappers (an unprofiled run); without them, cProfile's own time in
    # json/ and pickle
    if "json.dump" in phases:
        serial = {"encoder": phases["json.dump"], "decoder": phases.get("json.load", 0)}
        serial["all"] = serial["encoder"] + serial["decoder"]
    else:
        x = sum(r["tottime_pct"] for r in top
                if re.search(r"/json/|pickle", r["file"]) or "TextIOWrapper" in r["name"])
        serial = {"encoder": x, "decoder": x, "all": x}
    natives = [native_re(n) for n in builtin_names(top)] + [re.escape(a) for a in ALIASES.get(name, [])]
    mem_kb = 0
    with open("/proc/meminfo") as m:
        for line in m:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])

    def true_or_why(f):
        k = kind_of(f)
        s = share(f, cpu_s, scale)
        text = f["location"] + " " + f["explanation"]
        sug = " ".join(f.get("suggestions", []))
        if f.get("impact_s") is not None and f["impact_s"] > wall * 1.001:
            return "at stake %.2f s exceeds the run's wall time %.2f s" % (f["impact_s"], wall)
        if k is None:
            return "no judge for a %s finding in tests/integration/corpus_judge.py" % f["pattern_id"]
        if k == "gc":
            if s is None or not gc_lo <= s <= gc_hi:
                return "GC share %s%%, truth %.0f%% by gc.callbacks (+%.0f%% shutdown): want %.0f..%.0f" % (
                    s if s is None else round(s), truth["gc_pct"], truth["shutdown_pct"], gc_lo, gc_hi)
        elif k == "shutdown":
            if s is None or abs(s - truth["shutdown_pct"]) > TOL_GC:
                return "shutdown share %s%%, truth %.0f%% after the last atexit handler" % (
                    s if s is None else round(s), truth["shutdown_pct"])
        elif k == "imports":
            if s is None or abs(s - cp["import_cum_pct"]) > TOL_PROF:
                return "import share %s%%, cProfile's _find_and_load %.0f%%" % (
                    s if s is None else round(s), cp["import_cum_pct"])
        elif k == "serialization":
            # the pure-Python encoder's pattern, or serialization in general
            # (all of it on main; without the encoder once that has its own)
            want = [serial["encoder"]] if "encoder" in f["pattern_id"] else [serial["all"], serial["decoder"]]
            if s is None or all(abs(s - w) > TOL_PROF for w in want):
                return "serialization share %s%%, truth %s%% (json.dump %.0f%%, json.load %.0f%%)" % (
                    s if s is None else round(s), "/".join("%.0f" % w for w in want),
                    serial["encoder"], serial["decoder"])
        elif k == "function":
            fn = fn_name(f)
            if fn not in py_top5:
                return "%s is not in cProfile's top 5 own time %s" % (fn, py_top5)
            own = max([r["tottime_pct"] for r in top if r["name"] == fn] or [0])
            if LOOP_ADVICE.search(sug) and s is not None and own < 0.5 * s:
                return "advises a leaner loop for %s, but its own code is %.0f%% of %.0f%%: the time is below it" % (
                    fn, own, s)
        elif k == "native":
            if TRAMPOLINE_ADVICE.search(sug):
                return "advises calling it less often from a framework's forwarding function: %s" % (
                    TRAMPOLINE_ADVICE.search(sug).group(0))
            if re.search(r"ast\.py:parse|ast\.parse", text) and re.search(r"\.pyc|compileall", sug):
                return "compile() below ast.parse() builds syntax trees, but the advice is about .pyc files"
            if "compiled" in f["pattern_id"] and len(re.findall(r"\w+ \d+%", f["explanation"])) < 3:
                return "names fewer than three of the compiled code's functions with their shares"
            if not any(re.search(n, text) for n in natives):
                return "names none of the native functions cProfile measured (%s)" % (
                    builtin_names(top) + ALIASES.get(name, []))
            if "builtins.compile" in phases and re.search(native_re("compile"), text) and (
                    s is None or abs(s - phases["builtins.compile"]) > TOL_GC):
                return "compile() share %s%%, %.0f%% of the CPU by a timer around compile()" % (
                    s if s is None else round(s), phases["builtins.compile"])
        elif k == "classification":
            d = truth.get("demand") or 0
            bound = f["pattern_id"] == "cpu_bound"
            if bound != (d >= 0.7):
                return "%s, but the program's CPU demand was %.0f%% of its wall time" % (f["pattern_id"], 100 * d)
        elif k == "threads":
            if (truth.get("threads") or 1) <= 1:
                return "%s in a program that ran one thread" % f["pattern_id"]
        elif k == "contention":
            rq = truth.get("runqueue_s") or 0
            if rq < 0.1 * truth["wall_s"]:
                return "the program waited %.2f s for a CPU in a %.2f s run (< 10%%)" % (rq, truth["wall_s"])
            if f.get("impact_s") is not None and f["impact_s"] > rq + 0.1 * truth["wall_s"]:
                return "at stake %.2f s, but the program waited %.2f s for a CPU" % (f["impact_s"], rq)
        elif k == "memory":
            if (f["severity"] == "high" or "exhaust" in f["pattern_id"]) and truth["max_rss_kb"] < mem_kb / 4:
                return "high severity for a peak RSS of %d MB (RAM %d MB)" % (
                    truth["max_rss_kb"] // 1024, mem_kb // 1024)
        return None

    # the truth wrapper's parent process is not the program: a finding about
    # it (its few ms of start-up) is the measurement's, not the program's
    run_j = json.load(open(run + "/run.json"))
    wrapper = {p["pid"] for p in run_j.get("processes", [])
               if "corpus_truth.py measure" in (p.get("cmdline") or "")}
    findings = [f for f in fj["findings"]
                if not any(f["location"].startswith("pid %d " % w) for w in wrapper)]
    for f in fj["findings"]:
        if f not in findings:
            # its few ms of start-up are no finding (import_dominated has a
            # 0.1 CPU-s floor for that)
            fails.append("%s on the truth wrapper's process (a few ms of start-up): %s" % (
                f["id"], f["explanation"][:100]))
    top3 = findings[:3]
    for i, f in enumerate(top3):
        why = true_or_why(f)
        if why:
            fails.append("#%d %s (%s) is not true: %s" % (i + 1, f["id"], f["location"], why))

    # one cost, one claim: the CPU time the findings put at stake adds up
    # to no more than the program's CPU time (the collector's and
    # shutdown's samples are gc_pressure's and interpreter_shutdown's, not
    # also time below a Python frame's)
    claims = [f for f in findings if f.get("impact_s") is not None and kind_of(f) in CPU_CLAIMS]
    claimed = sum(f["impact_s"] for f in claims)
    if claimed > cpu_s * 1.02 + 2.0 / hz:
        fails.append("the findings claim %.2f CPU-s of a %.2f CPU-s process: %s" % (
            claimed, cpu_s, ", ".join("%s %.2f s" % (f["id"], f["impact_s"]) for f in claims)))

    # (a) the biggest real cost, among the top three, with fitting advice
    ex = EXPECT[name]
    hit = None
    for i, f in enumerate(top3):
        if kind_of(f) != ex["kind"] or true_or_why(f):
            continue
        if "names" in ex and not any(n in f["location"] + " " + f["explanation"] for n in ex["names"]):
            continue
        hit = (i, f)
        break
    truth_share = {"gc": truth["gc_pct"], "shutdown": truth["shutdown_pct"],
                   "imports": cp["import_cum_pct"], "serialization": serial["encoder"]}.get(ex["kind"])
    if ex.get("names") == ["compile"] and "builtins.compile" in phases:
        truth_share = phases["builtins.compile"]
    if truth_share is None:
        n = ex["names"][0]
        truth_share = max([r["tottime_pct"] for r in top if n in r["name"]] or [0])
    if not hit:
        fails.append("the biggest real cost, %s %s (%.0f%% by the truth), is not among the top three true findings: %s" % (
            ex["kind"], " ".join(ex.get("names", [])), truth_share,
            [f["id"] + " " + f["location"] for f in top3]))
    elif "advice" in ex and not re.search(ex["advice"], " ".join(hit[1]["suggestions"])):
        fails.append("%s: the advice does not fit the cause (want /%s/): %s" % (
            hit[1]["id"], ex["advice"], hit[1]["suggestions"]))
    summary = "truth: wall %.2f s cpu %.2f s gc %.0f%% shutdown %.0f%% imports %.0f%% top %s; ours: %s" % (
        truth["wall_s"], truth["cpu_s"], truth["gc_pct"], truth["shutdown_pct"], cp["import_cum_pct"],
        py_top5[:2], ", ".join("%s %s%%" % (f["id"], None if share(f, cpu_s, scale) is None else round(share(f, cpu_s, scale)))
                               for f in top3))
    for x in fails:
        print(x)
    print(("     " if not fails else "     ") + summary)
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
