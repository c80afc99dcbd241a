#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""diff.html (report.html's page in its diff mode) in headless Chromium,
like browser_test.py: standard library only, no network.

Opens DIR/diff.html, written by `autoprof-bpf diff -o DIR BASE NEW` with
DIR/diff.json beside it, where FN's work grew (a real growth), and checks:
  - the page rendered, made no request, its tree has as many frames as
    diff.html carries nodes, and the diff's own sections replaced the run's;
  - every drawn frame's colour matches its node's change: grey when noise or
    untested, red when its share grew, blue when it shrank; FN's is red;
  - each call path diff.json lists is drawn in the colour of its change,
    and the page's table lists them all;
  - the tooltip of FN's frame gives both runs' samples and the verdict;
  - clicking FN's frame zooms to it (it then spans the whole width), reset
    zooms out; a search for FN highlights it and reports a share;
  - no error reached the browser's console.
A screenshot is saved as SHOT. A missing browser or driver is a failure.

usage: diff_browser_test.py DIR FN SHOT       ends with "N passed, N failed"
"""
import base64
import json
import os
import re
import sys
import time

from webdriver import Chromium

PASSED = FAILED = 0


def check(name, cond, why=""):
    global PASSED, FAILED
    if cond:
        PASSED += 1
        print(f"ok   diff-browser/{name}")
    else:
        FAILED += 1
        print(f"FAIL diff-browser/{name}: {why}")
    return cond


def rgb(css):
    m = re.match(r"rgba?\((\d+), (\d+), (\d+)", css or "")
    return tuple(int(x) for x in m.groups()) if m else None


def hue(c):
    """"grey", "red" or "blue" for an rgb triple, None otherwise"""
    if not c:
        return None
    r, g, b = c
    if max(c) - min(c) < 8:
        return "grey"
    if r > g + 20 and r > b + 20:
        return "red"
    if b > r + 20 and b >= g:
        return "blue"
    return None


def want_hue(cls, delta):
    return "grey" if cls < 2 else "red" if delta > 0 else "blue"


# every drawn frame: its path, node (counts, change, class) and colour
FRAMES_JS = """return [...document.querySelectorAll('#flame .fr')].map(e => {
  const i = +e.dataset.i;
  return {i: i, path: window.AP.path(i), node: window.AP.node(i), bg: getComputedStyle(e).backgroundColor,
          anc: e.classList.contains('anc')};
});"""


def main():
    out, fn, shot = sys.argv[1], sys.argv[2], sys.argv[3]
    html = os.path.abspath(os.path.join(out, "diff.html"))
    with open(os.path.join(out, "diff.json")) as f:
        dj = json.load(f)
    t0 = time.time()
    try:
        br = Chromium()
    except Exception as e:  # noqa: BLE001 - reported as the failure
        check("browser_starts", False, str(e))
        print(f"{PASSED} passed, {FAILED} failed")
        return 1
    d = br.d
    try:
        ap = br.open(html)
        if not check("page_ready", ap and ap.get("ready"), "window.AP.ready never set (a script error?)"):
            raise RuntimeError("page did not render")
        print(f"     rendered in {ap['renderMs']:.0f} ms in the page ({time.time() - t0:.2f} s with the browser's start)")
        reqs = d.js("return performance.getEntriesByType('resource').map(e => e.name)")
        check("no_requests", reqs == [], f"the page fetched {reqs[:3]}")
        df = d.js("const D = JSON.parse(document.getElementById('ap-data').textContent).diff;"
                  "return {kept: D.nodes === D.kept ? D.kept : -D.kept, nodes: D.nodes, hz: D.hz};")
        check("tree_frames", ap["nodes"] == df["kept"], f"{ap['nodes']} frames in the page, {df['kept']} nodes in diff.html "
              f"({df['nodes']} in the merged tree)")
        shown = d.js("return ['dpaths', 'findings', 'topsec', 'timeline', 'reasons', 'modes']"
                     ".map(id => document.getElementById(id).getBoundingClientRect().height > 0)")
        check("diff_sections", shown == [True, False, False, False, False, False],
              f"call paths, findings, top functions, timeline, off-CPU reasons, modes shown: {shown}")
        frames = d.js(FRAMES_JS)
        bad = [(f["path"][-1], f["node"]["c"], round(f["node"]["d"], 2), f["bg"]) for f in frames
               if hue(rgb(f["bg"])) != want_hue(f["node"]["c"], f["node"]["d"] or
                                                f["node"]["n"] / df["hz"][1] - f["node"]["b"] / df["hz"][0])]
        check("colours_match_deltas", frames and not bad, f"{len(bad)} of {len(frames)} frames: {bad[:4]}")
        # the frame of fn: the widest frame labelled fn
        mine = [f for f in frames if f["path"][-1].split(" (")[0] == fn]
        grown = max(mine, key=lambda f: f["node"]["n"]) if mine else None
        if check("fn_red", grown and hue(rgb(grown["bg"])) == "red" and grown["node"]["c"] == 3 and grown["node"]["d"] > 0,
                 f"{fn}: {grown}" if grown else f"no drawn frame labelled {fn}"):
            print(f"     {fn}: {grown['node']['b']} -> {grown['node']['n']} samples, "
                  f"{grown['node']['d']:+.1f} pts, {grown['bg']}")
        # diff.json's call paths, drawn in the colour of their change
        byp = {tuple(f["path"][1:]): f for f in frames}
        paths = dj.get("call_paths", [])
        miss = [p["path"] for p in paths if tuple(p["path"]) in byp and
                hue(rgb(byp[tuple(p["path"])]["bg"])) != want_hue(2, p["total_pct_delta"] or p["total_s_delta"])]
        drawn = sum(1 for p in paths if tuple(p["path"]) in byp)
        check("paths_coloured", paths and drawn and not miss,
              f"{len(paths)} call paths in diff.json, {drawn} drawn, wrong colour: {miss[:3]}")
        rows = d.js("return document.querySelectorAll('#dptab tbody tr').length")
        check("paths_table", rows == len(paths), f"{rows} rows in the page's table, {len(paths)} paths in diff.json")
        if grown:
            d.js("""const e = document.querySelector('#flame .fr[data-i="' + arguments[0] + '"]'), r = e.getBoundingClientRect();
                e.dispatchEvent(new MouseEvent('mousemove', {bubbles: true, clientX: r.left + 2, clientY: r.top + 2}));""",
                 grown["i"])
            tip = d.js("return document.getElementById('tip').textContent")
            check("tooltip", f"base: {grown['node']['b']} samples" in tip and f"new: {grown['node']['n']} samples" in tip
                  and "real: its CPU time grew" in tip, f"tooltip: {tip!r}")
            el = d.js("return document.querySelector('#flame .fr[data-i=\"' + arguments[0] + '\"]')", grown["i"])
            d.s("POST", f"/element/{list(el.values())[0]}/click", {})
            z = d.js("""const a = window.AP, f = [...document.querySelectorAll('#flame .fr:not(.anc)')];
                return {zoomed: a.zoomed, widest: f.reduce((m, e) => Math.max(m, e.getBoundingClientRect().width), 0),
                        width: a.width, first: f.length ? getComputedStyle(f[0]).backgroundColor : null};""")
            check("zoom", z["zoomed"] == grown["path"][-1] and abs(z["widest"] - z["width"]) < 2 and
                  hue(rgb(z["first"])) == "red",
                  f"after the click: zoomed {z['zoomed']!r} (want {grown['path'][-1]!r}), widest {z['widest']:.0f} of "
                  f"{z['width']} px, colour {z['first']}")
            d.js("document.getElementById('reset').click()")
            check("zoom_reset", d.js("return window.AP.zoomed") == "all", "reset did not return to all")
        box = d.s("POST", "/element", {"using": "css selector", "value": "#search"})
        d.s("POST", f"/element/{list(box.values())[0]}/value", {"text": "^" + re.escape(fn) + " \\("})
        got = d.js("return window.AP.matchPct")
        marked = d.js("return [...document.querySelectorAll('#flame .fr.match')].map(e => e.textContent)")
        # the share of the width: fn's samples in NEW of the width, plus at
        # most the width of the paths gone in NEW (drawn at their share of
        # BASE; some may be fn's callees)
        fnj = [x for x in dj["functions"] if x["name"] == fn]
        width = d.js("const on = JSON.parse(document.getElementById('ap-data').textContent).on;"
                     "let w = 0; for (let i = 2; i < on.length; i += 3) w += on[i]; return w;")
        want = 100.0 * fnj[0]["total_samples"][1] / width if fnj and width else None
        gone = 100.0 * max(width - dj["new"]["samples"], 0) / width if width else 0
        check("search", got and marked and any(m.startswith(fn) for m in marked) and want and
              want - 1 < got < want + gone + 1,
              f"search {fn!r}: page says {got}%, {fn}'s total samples in NEW are {want}% of the width "
              f"(+ at most {gone:.1f} points of paths gone in NEW), highlighted {marked[:3]}")
        d.js("document.getElementById('search').value = ''; document.getElementById('search')"
             ".dispatchEvent(new Event('input'))")
        d.js("window.scrollTo(0, 0)")
        png = d.s("GET", "/screenshot")
        with open(shot, "wb") as f:
            f.write(base64.b64decode(png))
        check("screenshot", os.path.getsize(shot) > 10000, "screenshot too small")
        print(f"     screenshot: {shot}")
        logs = d.s("POST", "/se/log", {"type": "browser"}) or []
        errs = [x["message"] for x in logs if x.get("level") == "SEVERE"]
        check("no_console_errors", not errs, f"{len(errs)} errors: {errs[:3]}")
    except Exception as e:  # noqa: BLE001 - reported as the failure
        check("browser_session", False, str(e))
    finally:
        br.close()
    print(f"{PASSED} passed, {FAILED} failed")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
