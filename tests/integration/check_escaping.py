#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Checks a run of tests/workloads/py/hostile.py (issue 12, item 4): names
# the target controls stay text in every report. Prints one line per
# problem and exits 1 if there is any.
# Usage: check_escaping.py RUN_DIR SUMMARY_FILE
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

NAME = "onerror=alert(1)"   # part of the hostile names that must reach every report
problems = []


def bad(why):
    problems.append(why)


def controls(data):
    """C0 controls but newline and tab, DEL, and C1 controls (UTF-8)"""
    return re.findall(rb"[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]", data)


def check_md(path):
    raw = open(path, "rb").read()
    if controls(raw):
        bad(f"report.md holds raw control characters: {controls(raw)[:3]}")
    md = raw.decode("utf-8", "replace")
    if NAME not in md:
        bad("report.md does not name the hostile function at all")
    # every table keeps its column count on every line, and no line of a
    # table block lacks its pipes (a raw newline would end the row early)
    lines = md.split("\n")
    i = 0
    while i < len(lines):
        if lines[i].startswith("|") and i + 1 < len(lines) and re.match(r"^\|(-+\|)+$", lines[i + 1]):
            cols = lines[i + 1].count("|")
            j = i + 2
            while j < len(lines) and lines[j].strip():
                cells = len(re.findall(r"(?<!\\)\|", lines[j]))
                if not (lines[j].startswith("|") and lines[j].endswith("|")) or cells != cols:
                    bad(f"report.md table row {j + 1} has {cells - 1} cells, want {cols - 1}: {lines[j][:120]!r}")
                j += 1
            i = j
        else:
            i += 1
    # GitHub's renderer (no raw HTML allowed) must find none, nor a link
    try:
        html = subprocess.run(["cmark-gfm", "-e", "table", "-e", "autolink", path],
                              capture_output=True, check=True).stdout.decode("utf-8", "replace")
    except (OSError, subprocess.CalledProcessError) as e:
        bad(f"cmark-gfm could not render report.md ({e}); tools/install-deps.sh --test installs it")
        return
    if "raw HTML omitted" in html:
        bad("report.md holds raw HTML: " + md[md.find("<"):][:80])
    for tag in re.findall(r"<(img|script|a|b)\b", html):
        bad(f"report.md renders a <{tag}> element")
    if "&lt;img src=x " + NAME not in html:
        bad("report.md rendered does not show the hostile name as text")


class Html(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.scripts, self.cur = [], [], None

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "script":
            self.cur = [dict(attrs).get("id"), ""]

    def handle_data(self, data):
        if self.cur is not None:
            self.cur[1] += data

    def handle_endtag(self, tag):
        if tag == "script" and self.cur is not None:
            self.scripts.append(self.cur)
            self.cur = None


def check_html(path):
    raw = open(path, "rb").read()
    p = Html()
    p.feed(raw.decode("utf-8", "replace"))
    if "img" in p.tags:
        bad("report.html: a name opened an <img> element")
    if len(p.scripts) != 2 or p.scripts[0][0] != "ap-data":
        bad(f"report.html: {len(p.scripts)} script blocks, want the data block and the code")
        return
    try:
        data = p.scripts[0][1]
        json.loads(data)
    except ValueError as e:
        bad(f"report.html: the data block is not JSON any more: {e}")
        return
    if NAME not in json.loads(data).__repr__():
        bad("report.html: the data block lacks the hostile name")
    if "\u2028" in data or "\u2029" in data:
        bad("report.html: U+2028/U+2029 raw inside the script block")


def check_svg(path):
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        bad(f"flame.svg is not well-formed XML: {e}")
        return
    titles = [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}title")]
    if not any(NAME in t for t in titles):
        bad("flame.svg does not name the hostile function")


def check_summary(path):
    raw = open(path, "rb").read()
    if controls(raw):
        bad(f"terminal summary holds raw control characters: {controls(raw)[:3]}")
    if NAME.encode() not in raw:
        bad("terminal summary does not name the hostile function")


d = sys.argv[1]
check_md(d + "/report.md")
check_html(d + "/report.html")
check_svg(d + "/flame.svg")
check_summary(sys.argv[2])
for p in problems:
    print(p)
sys.exit(1 if problems else 0)
