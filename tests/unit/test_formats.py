#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The writers of report.html, flame.svg, profile.pb.gz, speedscope.json and
trace.json, on artifacts whose content is known: the hand-written fixture run
(tests/fixtures/analyze/run1), or a run directory given as argument (the
integration tests pass real runs). Each file is read back with an
independent reader (protoc with docs/profile.proto, json, xml.etree) and its
totals compared with the artifacts'. No BPF, no root.

usage: test_formats.py [--ap BINARY] [RUN_DIR]     ends with "N passed, N failed"
"""
import argparse
import collections
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PASSED = FAILED = 0


def check(name, cond, why=""):
    global PASSED, FAILED
    if cond:
        PASSED += 1
        print(f"ok   formats/{name}")
    else:
        FAILED += 1
        print(f"FAIL formats/{name}: {why}")
    return cond


def load(d, name):
    with open(os.path.join(d, name)) as f:
        return json.load(f)


def protoc_decode(path):
    """profile.pb.gz as protoc's text format, parsed into nested dicts of lists"""
    raw = gzip.open(path).read()
    out = subprocess.run(["protoc", "--decode=perftools.profiles.Profile", "-I", os.path.join(ROOT, "docs"),
                          os.path.join(ROOT, "docs", "profile.proto")], input=raw, capture_output=True)
    if out.returncode:
        raise RuntimeError("protoc: " + out.stderr.decode().strip())
    stack = [collections.defaultdict(list)]
    for line in out.stdout.decode().splitlines():
        line = line.strip()
        if line.endswith("{"):
            d = collections.defaultdict(list)
            stack[-1][line[:-1].strip()].append(d)
            stack.append(d)
        elif line == "}":
            stack.pop()
        elif line:
            k, v = line.split(":", 1)
            v = v.strip()
            stack[-1][k].append(json.loads(v) if v.startswith('"') else int(v) if re.fullmatch(r"-?\d+", v) else v)
    return stack[0]


def artifacts(d):
    cpu = load(d, "artifacts/cpu.json")
    off = load(d, "artifacts/offcpu.json") if os.path.exists(os.path.join(d, "artifacts/offcpu.json")) else None
    return cpu, off


def memory(d):
    """artifacts/memory.json, or None"""
    return load(d, "artifacts/memory.json") if os.path.exists(os.path.join(d, "artifacts/memory.json")) else None


# the memory kinds drawn in profile.pb.gz and report.html, and their pprof sample types
MEM_TYPES = [("fault", "memory"), ("alloc", "alloc_space"), ("live", "inuse_space")]


def mem_types(mem):
    return [t for k, t in MEM_TYPES if k == "fault" or mem.get("has_malloc")] if mem else []


def mem_bytes(mem, kind):
    return sum(r["bytes"] for r in mem["rows"] if r["kind"] == kind)


def test_pprof(d, cpu, off, mem=None):
    try:
        p = protoc_decode(os.path.join(d, "profile.pb.gz"))
    except Exception as e:  # noqa: BLE001 - reported as the failure
        check("pprof_decodes", False, str(e))
        return
    check("pprof_decodes", True)
    st = p["string_table"]
    s = lambda i: st[i] if i < len(st) else None  # noqa: E731
    types = [(s(v["type"][0]), s(v["unit"][0])) for v in p["sample_type"]]
    want = [("samples", "count"), ("cpu", "nanoseconds")] + ([("off_cpu", "nanoseconds")] if off else [])
    want += [(t, "bytes") for t in mem_types(mem)]
    check("pprof_sample_types", types == want, f"{types} != {want}")
    check("pprof_string0", st and st[0] == "", "string_table[0] is not empty")
    freq = cpu["frequency_hz"]
    period = p["period"][0] if p["period"] else 0
    check("pprof_period", period == 10**9 // freq, f"period {period} for {freq} Hz")
    samples = p["sample"]
    vals = [x["value"] + [0] * (len(types) - len(x["value"])) for x in samples]
    n_on = sum(v[0] for v in vals)
    check("pprof_samples_total", n_on == cpu["totals"]["samples"], f"{n_on} != {cpu['totals']['samples']}")
    check("pprof_cpu_ns", sum(v[1] for v in vals) == n_on * period, "cpu/nanoseconds != samples x period")
    if off:
        want_ns = sum(r["ns"] for r in off["offcpu"])
        got = sum(v[2] for v in vals)
        check("pprof_offcpu_ns", got == want_ns, f"{got} != {want_ns}")
    locs = {x["id"][0]: x for x in p["location"]}
    funcs = {x["id"][0]: x for x in p["function"]}
    maps = {x["id"][0] for x in p["mapping"]}
    ok = all(l in locs for x in samples for l in x["location_id"])
    ok = ok and all(ln["function_id"][0] in funcs for x in locs.values() for ln in x["line"])
    ok = ok and all(x["mapping_id"][0] in maps for x in locs.values() if x["mapping_id"])
    check("pprof_references", ok, "a sample, location or line refers to a missing id")
    ok = all(i < len(st) for f in funcs.values() for k in ("name", "filename") for i in f[k])
    check("pprof_string_refs", ok, "a function refers past the string table")
    # named, and no system_name: pprof would "demangle" names equal to it ("<module>" -> "")
    check("pprof_function_names", all(f["name"] and st[f["name"][0]] and not f["system_name"] for f in funcs.values()),
          "a function without a name, or with a system_name")
    # per-thread samples and the thread-name label: the Python name if known, else the comm
    names = {(t["pid"], t["tid"]): t.get("python_name") or
             (cpu["strings"][t["comm"]] if isinstance(t["comm"], int) else t["comm"])
             for t in cpu["threads"]}
    per = collections.Counter()
    bad_label = 0
    for x, v in zip(samples, vals):
        lab = {s(lb["key"][0]): (s(lb["str"][0]) if lb["str"] else lb["num"][0]) for lb in x["label"]}
        per[(lab.get("pid"), lab.get("tid"))] += v[0]
        if (lab.get("pid"), lab.get("tid")) in names and lab.get("thread") != names[(lab["pid"], lab["tid"])]:
            bad_label += 1
        if off and v[2] and not lab.get("reason"):
            bad_label += 1
    want = collections.Counter()
    for r in cpu["samples"]:
        want[(r["pid"], r["tid"])] += r["count"]
    check("pprof_per_thread", +per == +want, f"{dict(per)} != {dict(want)}")
    check("pprof_labels", bad_label == 0, f"{bad_label} samples with a wrong thread or missing reason label")
    # memory: each kind's column sums to memory.json's rows of that kind
    for k, t in MEM_TYPES:
        if (t, "bytes") in types:
            got = sum(v[types.index((t, "bytes"))] for v in vals)
            check(f"pprof_{t}_bytes", got == mem_bytes(mem, k), f"{got} != {mem_bytes(mem, k)} bytes of {k} rows")
    # Python frames: no mapping, their source file and line
    py = [(s(funcs[ln["function_id"][0]]["filename"][0]), ln["line"][0] if ln["line"] else 0)
          for x in locs.values() if not x["mapping_id"] for ln in x["line"]
          if funcs[ln["function_id"][0]]["filename"]]
    py = [(f, ln) for f, ln in py if f.endswith(".py")]
    if any(f["kind"] == "python" for f in cpu["frames"]):
        check("pprof_python_lines", py and sum(1 for _, ln in py if ln > 0) >= 0.9 * len(py),
              f"python locations {py[:3]}")


def test_speedscope(d, cpu, off):
    s = load(d, "speedscope.json")
    check("speedscope_schema", s.get("$schema") == "https://www.speedscope.app/file-format-schema.json", "no $schema")
    frames = s["shared"]["frames"]
    ok = all(p["type"] == "sampled" and len(p["samples"]) == len(p["weights"]) and
             all(0 <= i < len(frames) for st in p["samples"] for i in st) and
             p["endValue"] == sum(p["weights"]) for p in s["profiles"])
    check("speedscope_fields", ok, "a profile is malformed")
    got = {p["name"]: sum(p["weights"]) for p in s["profiles"] if p["unit"] == "none"}
    want = collections.Counter()
    for r in cpu["samples"]:
        want[(r["pid"], r["tid"])] += r["count"]
    tot = sum(got.values())
    check("speedscope_total", tot == cpu["totals"]["samples"], f"{tot} != {cpu['totals']['samples']}")
    ok = all(any(n.endswith(f" {pid}/{tid} on-CPU") and w == c for n, w in got.items()) for (pid, tid), c in want.items())
    check("speedscope_per_thread", ok, f"{got} vs {dict(want)}")
    if off:
        ns = sum(sum(p["weights"]) for p in s["profiles"] if p["unit"] == "nanoseconds")
        want_ns = sum(r["ns"] for r in off["offcpu"])
        check("speedscope_offcpu_ns", ns == want_ns, f"{ns} != {want_ns}")


def test_trace(d, cpu, off):
    t = load(d, "trace.json")
    ev = t["traceEvents"]
    check("trace_fields", all({"ph", "pid", "tid", "ts"} <= e.keys() for e in ev) and
          all("name" in e for e in ev if e["ph"] in "BXibeMC"), "an event lacks ph/pid/tid/ts/name")
    per = collections.defaultdict(list)
    for e in ev:
        if e["ph"] in "BEXi":
            per[(e["pid"], e["tid"])].append(e)
    bad = []
    for k, lst in per.items():
        depth, last = 0, -1.0
        for e in lst:
            if e["ts"] < last - 1e-6:
                bad.append(f"{k}: time goes back at {e}")
                break
            last = e["ts"]
            if e["ph"] == "B":
                depth += 1
            elif e["ph"] == "E":
                depth -= 1
            elif e["ph"] == "X":
                if depth:
                    bad.append(f"{k}: off-CPU slice inside an open stack")
                    break
                last = e["ts"] + e["dur"]
            if depth < 0:
                bad.append(f"{k}: E without B")
                break
        if depth:
            bad.append(f"{k}: {depth} slices left open")
    check("trace_nesting", not bad, "; ".join(bad[:3]))
    ticks = collections.Counter((e["pid"], e["tid"]) for e in ev if e["ph"] == "i")
    want = collections.Counter()
    tl = cpu.get("timeline")
    if tl:
        for pid, tid in zip(tl["pid"], tl["tid"]):
            want[(pid, tid)] += 1
        check("trace_samples", ticks == want, f"{dict(ticks)} != {dict(want)}")
        check("trace_timeline_complete", len(tl["t_us"]) == cpu["totals"]["samples"],
              f"timeline {len(tl['t_us'])} of {cpu['totals']['samples']} samples")
    iv = off.get("intervals") if off else None
    if iv:
        xs = [e for e in ev if e["ph"] == "X"]
        check("trace_intervals", len(xs) == len(iv["start_us"]), f"{len(xs)} X events, {len(iv['start_us'])} intervals")
        want_us = sum(iv["block_us"]) + sum(iv["runq_us"])
        got_us = sum(e["dur"] for e in xs)
        # a slice may start a little later than its interval to keep the nesting
        check("trace_interval_time", abs(got_us - want_us) <= 0.01 * want_us + 1,
              f"{got_us:.0f} us of off-CPU slices, {want_us} us of intervals")
        reasons = off.get("reasons") or []
        ok = all(e["args"]["reason"] == (reasons[r] if reasons else e["args"]["reason"])
                 for e, r in zip(sorted(xs, key=lambda e: (e["pid"], e["tid"], e["ts"])),
                                 [r for _, _, _, r in sorted(zip(iv["pid"], iv["tid"], iv["start_us"], iv["reason"]))]))
        check("trace_interval_reasons", ok, "an off-CPU slice has another reason than its interval")
        # what the timeline shows of each reason, against the threads' totals
        cov = t["otherData"].get("offcpu_ms_on_timeline", {})
        blocked = {}
        for e in xs:
            blocked[e["args"]["reason"]] = blocked.get(e["args"]["reason"], 0) + e["args"]["blocked_ms"]
        ok = all(r in cov and abs(cov[r][0] - ms - (sum(e["args"]["runnable_ms"] for e in xs) if r == "runqueue" else 0)) < 0.01 * ms + 0.01
                 for r, ms in blocked.items()) and all(v[0] <= v[1] + 0.001 for v in cov.values())
        check("trace_offcpu_coverage", ok, f"offcpu_ms_on_timeline {cov} vs slices {blocked}")


def test_svg(d, cpu):
    try:
        root = ET.parse(os.path.join(d, "flame.svg")).getroot()
    except ET.ParseError as e:
        check("svg_parses", False, str(e))
        return
    check("svg_parses", True)
    ns = "{http://www.w3.org/2000/svg}"
    titles = [g.find(ns + "title").text for g in root.iter(ns + "g") if g.find(ns + "title") is not None]
    m = re.match(r"all \((\d+) samples, 100\.00%\)", titles[0] if titles else "")
    check("svg_root", m and int(m.group(1)) == cpu["totals"]["samples"], f"first frame {titles[:1]}")
    check("svg_tooltips", len(titles) > 1 and all(re.search(r"\(\d+ samples, [\d.]+%", x) for x in titles),
          "frames without a sample tooltip")
    folded = os.path.join(d, "stacks.folded")
    if os.path.exists(folded):  # a real run: the frames flamegraph.pl would draw from it
        tree, tot = {}, 0
        with open(folded) as f:
            for line in f:
                st, c = line.rstrip("\n").rsplit(" ", 1)
                tot += int(c)
                parts = st.split(";")
                for i in range(1, len(parts) + 1):
                    tree[tuple(parts[:i])] = tree.get(tuple(parts[:i]), 0) + int(c)
        want = 1 + sum(1 for v in tree.values() if v * 1180 / tot >= 0.1)
        check("svg_frames", len(titles) == want, f"{len(titles)} frames, {want} in stacks.folded at >= 0.1 px")
    rects = [r for g in root.iter(ns + "g") for r in g.findall(ns + "rect")]
    check("svg_widths", all(0 < float(r.get("width")) <= 1180.001 for r in rects), "a frame is wider than the graph")


def test_html(d, cpu, findings, mem=None):
    with open(os.path.join(d, "report.html")) as f:
        html = f.read()
    m = re.search(r'<script id="ap-data" type="application/json">(.*?)</script>', html, re.S)
    check("html_data_block", m is not None, "no data block")
    if not m:
        return
    data = json.loads(m.group(1))
    on = data["on"]
    check("html_samples", sum(on[2::3]) == cpu["totals"]["samples"], f"{sum(on[2::3])} samples in the page")
    check("html_stacks", all(0 <= i < len(data["frames"]) for s in data["stacks"] for i in s) and
          all(0 <= s < len(data["stacks"]) for s in on[1::3]), "a row or stack refers past its table")
    want = len(findings["findings"]) if findings else 0
    got = len(data["findings"] or [])
    check("html_findings", got == want, f"{got} findings in the page, {want} in findings.json")
    if mem:  # rows [pid, tid, stack, kind, bytes] of the memory views
        rows = data.get("mem") or []
        kinds = data.get("mkinds") or []
        for k, _ in MEM_TYPES[:len(mem_types(mem))]:
            got = sum(rows[i + 4] for i in range(0, len(rows), 5) if kinds[rows[i + 3]] == k)
            check(f"html_mem_{k}", data.get("memory") and got == mem_bytes(mem, k), f"{got} != {mem_bytes(mem, k)} bytes")
    # self-contained: nothing fetched (no src=/href= to anything, no url())
    ext = re.findall(r'(?:src|href)\s*=\s*["\'](?!#)[^"\']+|url\((?!#)', html)
    check("html_self_contained", not ext, f"external references {ext[:3]}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ap", default=os.path.join(ROOT, "build", "autoprof-bpf"))
    ap.add_argument("run", nargs="?")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="ap-formats-")
    try:
        d = os.path.join(tmp, "run")
        shutil.copytree(a.run or os.path.join(ROOT, "tests/fixtures/analyze/run1"), d)
        if not a.run:  # the fixture's memory rows (page faults and --malloc's)
            shutil.copy(os.path.join(ROOT, "tests/fixtures/memory/memory.json"), os.path.join(d, "artifacts"))
        for f in ("report.html", "flame.svg", "profile.pb.gz", "speedscope.json", "trace.json"):
            if os.path.exists(os.path.join(d, f)):
                os.unlink(os.path.join(d, f))
        if not os.path.exists(os.path.join(d, "findings.json")):
            subprocess.run([a.ap, "analyze", "-q", d], check=True)
        r = subprocess.run([a.ap, "report", "-q", d], capture_output=True, text=True)
        check("report_runs", r.returncode == 0 and not r.stdout, f"exit {r.returncode}: {r.stderr.strip()}")
        cpu, off = artifacts(d)
        mem = memory(d)
        findings = load(d, "findings.json")
        test_pprof(d, cpu, off, mem)
        test_speedscope(d, cpu, off)
        test_trace(d, cpu, off)
        test_svg(d, cpu)
        test_html(d, cpu, findings, mem)
        # the same artifacts give the same bytes
        first = {f: open(os.path.join(d, f), "rb").read() for f in
                 ("report.html", "flame.svg", "profile.pb.gz", "speedscope.json", "trace.json")}
        subprocess.run([a.ap, "report", "-q", d], check=True)
        same = [f for f, b in first.items() if open(os.path.join(d, f), "rb").read() == b]
        check("report_reproducible", len(same) == len(first), f"differ: {sorted(set(first) - set(same))}")
        # -f selects; a bad list is a usage error with one line, nothing written
        e = os.path.join(tmp, "only")
        shutil.copytree(os.path.join(d, "artifacts"), os.path.join(e, "artifacts"))
        r = subprocess.run([a.ap, "report", "-q", "-f", "svg,pprof", e], capture_output=True, text=True)
        check("format_select", r.returncode == 0 and sorted(f for f in os.listdir(e) if "." in f) ==
              ["flame.svg", "profile.pb.gz"], f"exit {r.returncode}, files {os.listdir(e)}")
        r = subprocess.run([a.ap, "report", "-f", "svg,png", e], capture_output=True, text=True)
        check("format_bad", r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "png" in r.stderr,
              f"exit {r.returncode}: {r.stderr!r}")
        r = subprocess.run([a.ap, "report", os.path.join(tmp, "nonexistent")], capture_output=True, text=True)
        check("report_missing_dir", r.returncode == 125 and len(r.stderr.strip().splitlines()) == 1,
              f"exit {r.returncode}: {r.stderr!r}")
    finally:
        shutil.rmtree(tmp)
    print(f"{PASSED} passed, {FAILED} failed")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
