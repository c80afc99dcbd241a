# SPDX-License-Identifier: MIT
"""Inputs for the corpus programs (tools/corpus.sh): deterministic, sized by
SCALE (1 = the tests' small inputs, ~2-3 s per program on the stock
python3.11; the bench uses larger ones).
  gen_inputs.py DIR SCALE"""
import json
import os
import random
import shutil
import sys

STDLIB = "/usr/lib/python3.11"
# stdlib packages copied for compileall and the linters (pure Python, stable)
PKGS = ["email", "json", "http", "logging", "xml", "asyncio", "concurrent",
        "importlib", "unittest", "urllib", "wsgiref", "xmlrpc", "html", "sqlite3"]


def copy_stdlib(dst, n):
    if os.path.isdir(dst):
        shutil.rmtree(dst)
    os.makedirs(dst)
    for p in PKGS[:n]:
        shutil.copytree(os.path.join(STDLIB, p), os.path.join(dst, p),
                        ignore=shutil.ignore_patterns("__pycache__", "test", "tests"))


def rst(path, sections):
    rnd = random.Random(1)
    words = ("profile sample stack frame thread kernel python interpreter collector "
             "allocation object graph latency throughput cache buffer").split()
    with open(path, "w") as f:
        f.write("==================\nA generated manual\n==================\n\n.. contents::\n\n")
        for s in range(sections):
            title = "Section %d: %s" % (s, " ".join(rnd.sample(words, 3)))
            f.write("%s\n%s\n\n" % (title, "=" * len(title)))
            for p in range(6):
                sent = " ".join(rnd.choice(words) for _ in range(40))
                f.write("This is *emphasis*, **strong**, ``literal`` and a link_ %s.\n\n" % sent)
            f.write("- item one with ``code``\n- item two\n\n  - nested *item*\n\n")
            f.write(".. code-block:: text\n\n   a = b + c\n   print(a)\n\n")
            f.write("+------+------+\n| a    | b    |\n+======+======+\n| %-4d | %-4d |\n+------+------+\n\n" % (s, s * 2))
            f.write("term %d\n   definition of the term\n\n" % s)
        f.write(".. _link: http://example.invalid/\n")


def bigjson(path, n):
    rnd = random.Random(2)
    recs = [{"id": i, "name": "user%d" % i, "tags": ["t%d" % (i % 7), "x"],
             "score": rnd.random(), "active": i % 3 == 0,
             "addr": {"city": "c%d" % (i % 100), "zip": "%05d" % (i % 99999)}}
            for i in range(n)]
    with open(path, "w") as f:
        json.dump(recs, f)


def main():
    d, scale = sys.argv[1], float(sys.argv[2])
    os.makedirs(d, exist_ok=True)
    copy_stdlib(os.path.join(d, "stdlib"), max(1, min(len(PKGS), int(round(4 * scale)))))
    # compileall's tree: compile() is fast, so more of it
    copy_stdlib(os.path.join(d, "stdlib-all"), len(PKGS))
    rst(os.path.join(d, "manual.rst"), int(150 * scale))
    bigjson(os.path.join(d, "records.json"), int(40000 * scale))
    # one large module for black (formatting a single file runs in-process)
    with open(os.path.join(d, "big.py"), "w") as f:
        src = open(os.path.join(STDLIB, "_pydecimal.py")).read()
        f.write(src)
        if scale > 1:
            for _ in range(int(scale) - 1):
                f.write("\n\nclass _Copy%d:\n    pass\n" % _)
                f.write(open(os.path.join(STDLIB, "typing.py")).read().replace("from __future__", "# from __future__"))


if __name__ == "__main__":
    main()
