#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# What the test Collector decoded (build/otelcol/otelcol's profilejson
# exporter: one line of OTLP JSON per batch), summarised per process as one
# JSON object for tests/integration/suite-otlp.sh:
#   {"batches": N, "zero_rows_ok": bool, "procs": {PID: {"resource": {...},
#    "scope": NAME, "cpu_samples": N, "off_ns": N, "period": N,
#    "frames": {FUNCTION: [FRAME_TYPE, FILE]}, "match_samples": N}}}
# match_samples: the process's on-CPU samples whose stack has a function
# matching MATCH (a regular expression) of frame type cpython.
#   otlp_check.py FILE [MATCH]
import json
import re
import sys

path = sys.argv[1]
match = re.compile(sys.argv[2]) if len(sys.argv) > 2 else None
out = {"batches": 0, "zero_rows_ok": True, "procs": {}}


def value(v, st):
    if "stringValue" in v:
        return v["stringValue"]
    if "stringValueStrindex" in v:
        return st[v["stringValueStrindex"]]
    if "intValue" in v:
        return int(v["intValue"])
    return None


with open(path) as f:
    for line in f:
        d = json.loads(line)
        out["batches"] += 1
        dic = d.get("dictionary", {})
        st = dic.get("stringTable", [])
        attrs = dic.get("attributeTable", [])
        locs = dic.get("locationTable", [])
        fns = dic.get("functionTable", [])
        stacks = dic.get("stackTable", [])
        # row 0 of every table is the empty value
        for t in (attrs, locs, fns, stacks, dic.get("mappingTable", [])):
            if t and t[0] not in ({}, {"value": {}}):
                out["zero_rows_ok"] = False
        if not st or st[0] != "":
            out["zero_rows_ok"] = False

        def key(a):
            return a.get("key") or st[a.get("keyStrindex", 0)]

        def frame(li):
            loc = locs[li]
            ft = None
            for ai in loc.get("attributeIndices", []):
                if key(attrs[ai]) == "profile.frame.type":
                    ft = value(attrs[ai].get("value", {}), st)
            res = []
            for ln in loc.get("lines", []):
                fn = fns[ln.get("functionIndex", 0)]
                res.append((st[fn.get("nameStrindex", 0)], st[fn.get("filenameStrindex", 0)], ft))
            return res

        for rp in d.get("resourceProfiles", []):
            ra = {key(a): value(a.get("value", {}), st)
                  for a in rp.get("resource", {}).get("attributes", [])}
            p = out["procs"].setdefault(str(ra.get("process.pid")), {
                "resource": ra, "scope": None, "cpu_samples": 0, "off_ns": 0, "period": 0,
                "frames": {}, "match_samples": 0})
            for sp in rp.get("scopeProfiles", []):
                p["scope"] = sp.get("scope", {}).get("name")
                for prof in sp.get("profiles", []):
                    stype = st[prof.get("sampleType", {}).get("typeStrindex", 0)]
                    if stype == "samples":
                        p["period"] = int(prof.get("period", 0))
                    for s in prof.get("samples", []):
                        v = sum(int(x) for x in s.get("values", []))
                        frames = [fr for li in stacks[s.get("stackIndex", 0)].get("locationIndices", [])
                                  for fr in frame(li)]
                        for name, file, ft in frames:
                            p["frames"][name] = [ft, file]
                        if stype == "samples":
                            p["cpu_samples"] += v
                            if match and any(ft == "cpython" and match.search(n) for n, _, ft in frames):
                                p["match_samples"] += v
                        elif stype == "off_cpu":
                            p["off_ns"] += v
json.dump(out, sys.stdout)
