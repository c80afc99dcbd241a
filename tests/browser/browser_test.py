#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""report.html in a real browser: headless Chromium driven through
chromedriver's WebDriver HTTP API (standard library only), no network.

Opens RUN_DIR/report.html from disk and checks, against the run's own
stacks.folded (read independently here):
  - the page rendered, made no request, and its tree has as many frames as
    the folded stacks have distinct prefixes (+1 for "all");
  - the frames drawn are exactly those at least 0.5 px wide;
  - clicking a frame zooms to it (it then spans the whole width);
  - a search reports the share of samples whose stack matches;
  - the off-CPU switch shows off-CPU reasons; the top-functions table fills.
A screenshot is saved as SHOT. A missing browser or driver is a failure.

usage: browser_test.py RUN_DIR SHOT       ends with "N passed, N failed"
"""
import base64
import os
import re
import sys
import time

from webdriver import Chromium

PASSED = FAILED = 0
MINPX = 0.5


def check(name, cond, why=""):
    global PASSED, FAILED
    if cond:
        PASSED += 1
        print(f"ok   browser/{name}")
    else:
        FAILED += 1
        print(f"FAIL browser/{name}: {why}")
    return cond


def folded_tree(path):
    """prefix -> samples, as report.html merges frames (by label; kernel
    frames carry "_[k]" here and a kind of their own there)"""
    tree, total = {}, 0
    with open(path) as f:
        for line in f:
            stack, n = line.rstrip("\n").rsplit(" ", 1)
            n = int(n)
            total += n
            parts = stack.split(";")
            for i in range(1, len(parts) + 1):
                k = tuple(parts[:i])
                tree[k] = tree.get(k, 0) + n
    return tree, total


def main():
    run, shot = sys.argv[1], sys.argv[2]
    html = os.path.abspath(os.path.join(run, "report.html"))
    tree, total = folded_tree(os.path.join(run, "stacks.folded"))
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
        check("tree_frames", ap["nodes"] == len(tree) + 1, f"{ap['nodes']} frames in the page, "
              f"{len(tree) + 1} distinct prefixes in stacks.folded (+ all)")
        w = ap["width"]
        want = 1 + sum(1 for v in tree.values() if v / total * w >= MINPX)
        dom = d.js("return document.querySelectorAll('#flame .fr').length")
        check("frames_drawn", ap["rendered"] == want == dom,
              f"{ap['rendered']} drawn, {dom} in the DOM, {want} frames at least {MINPX} px wide of {w} px")
        # zoom: click the widest frame two levels below the process
        target = max((k for k in tree if len(k) == 3), key=lambda k: tree[k])
        label = re.sub(r"_\[k\]$", "", target[-1])
        path = ["all"] + [re.sub(r"_\[k\]$", "", x) for x in target]
        el = d.js("""const want = JSON.stringify(arguments[0]);
            return [...document.querySelectorAll('#flame .fr')].find(
              e => JSON.stringify(window.AP.path(+e.dataset.i)) === want) || null;""", path)
        if check("zoom_target_found", el is not None, f"no drawn frame labelled {label!r}"):
            eid = list(el.values())[0]
            d.s("POST", f"/element/{eid}/click", {})
            z = d.js("""const a = window.AP, f = [...document.querySelectorAll('#flame .fr:not(.anc)')];
                const widest = f.reduce((m, e) => Math.max(m, e.getBoundingClientRect().width), 0);
                return {zoomed: a.zoomed, widest: widest, width: a.width,
                        first: f.length ? f[0].textContent : null, anc: document.querySelectorAll('#flame .fr.anc').length};""")
            check("zoom", z["zoomed"] == label and abs(z["widest"] - z["width"]) < 2 and z["anc"] == 3,
                  f"after the click: zoomed {z['zoomed']!r} (want {label!r}), widest {z['widest']:.0f} of "
                  f"{z['width']} px, {z['anc']} ancestors shown (want 3)")
            # an ancestor bar zooms out to it: the process, one ancestor ("all") left
            d.js("[...document.querySelectorAll('#flame .fr.anc')].find(e => window.AP.path(+e.dataset.i).length === 2).click()")
            z = d.js("return {zoomed: window.AP.zoomed, anc: document.querySelectorAll('#flame .fr.anc').length}")
            check("zoom_out", z["zoomed"] == path[1] and z["anc"] == 1, f"after clicking the process bar: {z}")
            d.js("document.getElementById('reset').click()")
            check("zoom_reset", d.js("return window.AP.zoomed") == "all", "reset did not return to all")
        # search: the innermost frame of the heaviest stack
        leaf = max(((k, v) for k, v in tree.items()), key=lambda kv: (kv[1] if len(kv[0]) > 2 else 0))[0][-1]
        term = re.sub(r"_\[k\]$", "", leaf).split(" (")[0]
        want_pct = 100.0 * sum(v for k, v in tree.items() if len(k) > 1 and
                               re.search(re.escape(term), re.sub(r"_\[k\]$", "", k[-1]), re.I) and
                               not any(re.search(re.escape(term), re.sub(r"_\[k\]$", "", p), re.I)
                                       for p in k[1:-1])) / total
        box = d.s("POST", "/element", {"using": "css selector", "value": "#search"})
        d.s("POST", f"/element/{list(box.values())[0]}/value", {"text": re.escape(term)})
        got = d.js("return window.AP.matchPct")
        check("search", got is not None and abs(got - want_pct) < 0.01,
              f"search {term!r}: page says {got}%, stacks.folded {want_pct:.3f}%")
        marked = d.js("return document.querySelectorAll('#flame .fr.match').length")
        check("search_highlight", marked >= 1, "no frame highlighted")
        d.js("document.getElementById('search').value = ''; document.getElementById('search')"
             ".dispatchEvent(new Event('input'))")
        # top functions, sorted by self
        top = d.js("return window.AP.top")
        check("top_functions", top and all(top[i][1] >= top[i + 1][1] for i in range(len(top) - 1)),
              f"top rows {top[:3] if top else top}")
        # off-CPU: reasons as leaves
        d.js("document.querySelector('input[name=mode][value=off]').click()")
        off = d.js("""return {nodes: window.AP.nodes,
            reasons: [...new Set([...document.querySelectorAll('#flame .fr')].map(e => e.textContent)
                      .filter(t => /^\\[[a-z_]+\\]$/.test(t)))]}""")
        check("offcpu_mode", off["nodes"] > 1 and off["reasons"], f"off-CPU view: {off}")
        d.js("document.querySelector('input[name=mode][value=on]').click()")
        d.js("window.scrollTo(0, 0); document.getElementById('flame').parentNode.scrollIntoView({block: 'start'})")
        png = d.s("GET", "/screenshot")
        with open(shot, "wb") as f:
            f.write(base64.b64decode(png))
        check("screenshot", os.path.getsize(shot) > 10000, "screenshot too small")
        print(f"     screenshot: {shot}")
    except Exception as e:  # noqa: BLE001 - reported as the failure
        check("browser_session", False, str(e))
    finally:
        br.close()
    print(f"{PASSED} passed, {FAILED} failed")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
