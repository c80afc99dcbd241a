# Emit, for a corpus of real code objects, the interpreter's own answer to
# "which line is instruction X on", to check autoprof-bpf's decoders:
#   MINOR FIRSTLINENO HEX_LINETABLE INSTR:LINE,INSTR:LINE,...
# INSTR is what the BPF walker records: a byte offset on <= 3.9, code units
# on 3.10+. LINE is -1 for "no line". Expectations come from co_positions()
# (3.11+), co_lines() (3.10) and dis.findlinestarts() (<= 3.9).
import dis
import importlib
import sys
import types

MODULES = ["argparse", "json.decoder", "dis", "inspect", "textwrap", "string", "tokenize"]
minor = sys.version_info[1]


def codes(co):
    yield co
    for c in co.co_consts:
        if isinstance(c, types.CodeType):
            yield from codes(c)


def expectations(co):
    n = len(co.co_code)
    if minor >= 11:
        return [(i, -1 if p[0] is None else p[0]) for i, p in enumerate(co.co_positions())]
    if minor == 10:
        out = []
        for start, end, line in co.co_lines():
            for off in range(start, end, 2):
                out.append((off // 2, -1 if line is None else line))
        return out
    starts = list(dis.findlinestarts(co))
    out, k, line = [], 0, co.co_firstlineno
    for off in range(0, n, 2):
        while k < len(starts) and starts[k][0] <= off:
            line = starts[k][1]
            k += 1
        out.append((off, line))
    return out


for name in MODULES:
    mod = importlib.import_module(name)
    src = open(mod.__file__, encoding="utf-8").read()
    for co in codes(compile(src, mod.__file__, "exec")):
        table = co.co_linetable if minor >= 10 else co.co_lnotab
        exp = ",".join("%d:%d" % e for e in expectations(co))
        print(minor, co.co_firstlineno, table.hex() or "-", exp or "-")
