#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""How long report.html takes in headless Chromium (for `make bench`): RUNS
loads of one file; medians of the page's own time from script start to the
flame graph drawn (window.AP.renderMs: JSON parse, tree, layout, DOM) and
of navigation start to ready as WebDriver sees it.

usage: render_time.py REPORT_HTML [RUNS]"""
import os
import statistics
import sys
import time

from webdriver import Chromium


def main():
    path, runs = os.path.abspath(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 5
    br = Chromium()
    try:
        page, wall = [], []
        for _ in range(runs):
            br.d.s("POST", "/url", {"url": "about:blank"})
            t0 = time.time()
            ap = br.open(path)
            if not ap:
                print("render_time: the page never became ready", file=sys.stderr)
                return 1
            wall.append(time.time() - t0)
            page.append(ap["renderMs"] / 1000)
        print(f"{statistics.median(page):.3f} s in the page (parse, tree, layout, draw), "
              f"{statistics.median(wall):.3f} s from navigation to drawn; {ap['nodes']} frames in the tree, "
              f"{ap['rendered']} drawn; medians of {runs}")
    finally:
        br.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
