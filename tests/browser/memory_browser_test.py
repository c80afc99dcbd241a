#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""report.html's memory views in headless Chromium, like browser_test.py:
standard library only, no network.

Opens DIR/report.html of a run with artifacts/memory.json and checks, for
each memory view the run has (page faults; allocated and live with
--malloc): its radio button is there, selecting it draws a tree whose root
("all") weighs the bytes of memory.json's rows of that kind, the tooltip of
the root says them in KiB/MiB, the top table is in bytes too; then that
the on-CPU view comes back, and no error reached the console.

usage: memory_browser_test.py DIR SHOT       ends with "N passed, N failed"
"""
import base64
import json
import os
import sys

from webdriver import Chromium

PASSED = FAILED = 0
VIEWS = [("mem", "fault"), ("alloc", "alloc"), ("live", "live")]


def check(name, cond, why=""):
    global PASSED, FAILED
    if cond:
        PASSED += 1
        print(f"ok   memory-browser/{name}")
    else:
        FAILED += 1
        print(f"FAIL memory-browser/{name}: {why}")
    return cond


def human(b):
    """the page's fmtBytes()"""
    units = ["bytes", "KiB", "MiB", "GiB", "TiB"]
    i = 0
    while b >= 1024 and i < len(units) - 1:
        b /= 1024
        i += 1
    if not i:
        return f"{round(b)} bytes"
    return f"{b:.{0 if b >= 100 else 1 if b >= 10 else 2}f} {units[i]}"


def main():
    out, shot = sys.argv[1], sys.argv[2]
    html = os.path.abspath(os.path.join(out, "report.html"))
    with open(os.path.join(out, "artifacts", "memory.json")) as f:
        mem = json.load(f)
    want = {k: sum(r["bytes"] for r in mem["rows"] if r["kind"] == k) for _, k in VIEWS}
    views = [(m, k) for m, k in VIEWS if k == "fault" or mem.get("has_malloc")]
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
        modes = d.js("return [...document.querySelectorAll('input[name=mode]')].map(e => e.value)")
        check("mode_buttons", all(m in modes for m, _ in views) and
              (mem.get("has_malloc") or "alloc" not in modes), f"modes {modes}")
        for m, k in views:
            d.js("const e = document.querySelector('input[name=mode][value=\"' + arguments[0] + '\"]');"
                 "e.checked = true; e.dispatchEvent(new Event('change', {bubbles: true}));", m)
            got = d.js("const a = window.AP; return {total: a.total, unit: a.unit, rendered: a.rendered,"
                       "root: document.querySelector('#flame .fr[data-i=\"0\"]').getBoundingClientRect().width,"
                       "width: a.width};")
            check(f"{m}_root_bytes", got["unit"] == "bytes" and got["total"] == want[k] and got["rendered"] > 1 and
                  abs(got["root"] - got["width"]) < 2,
                  f"view {m}: {got}, want {want[k]} bytes across the whole width")
            d.js("""const e = document.querySelector('#flame .fr[data-i="0"]'), r = e.getBoundingClientRect();
                e.dispatchEvent(new MouseEvent('mousemove', {bubbles: true, clientX: r.left + 2, clientY: r.top + 2}));""")
            tip = d.js("return document.getElementById('tip').textContent")
            check(f"{m}_tooltip", human(want[k]) in tip, f"tooltip {tip!r}, want {human(want[k])!r}")
            cell = d.js("const c = document.querySelector('#top tbody tr td:nth-child(4)'); return c ? c.textContent : null")
            check(f"{m}_top_table", cell and cell.split()[-1] in ("bytes", "KiB", "MiB", "GiB"), f"top table total {cell!r}")
            if m == "mem":
                d.js("document.getElementById('flame').scrollIntoView()")
                png = d.s("GET", "/screenshot")
                with open(shot, "wb") as f:
                    f.write(base64.b64decode(png))
                print(f"     page faults: {human(want[k])}; screenshot: {shot}")
        d.js("const e = document.querySelector('input[name=mode][value=\"on\"]');"
             "e.checked = true; e.dispatchEvent(new Event('change', {bubbles: true}));")
        check("back_to_cpu", d.js("return window.AP.unit") == "samples", "the on-CPU view did not come back")
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
