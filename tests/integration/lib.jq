# jq helpers over artifacts/cpu.json for the integration tests.
# pystacks: one entry per sample row, its Python frames root first.
def pystacks:
  .strings as $s | .frames as $f | .modules as $m | .stacks as $st |
  [.samples[] | {pid, tid, count,
    py: [$st[.stack][] | $f[.] | select(.kind == "python") |
         {name: $s[.name], line,
          file: (if .module >= 0 then $s[$m[.module].path] else "" end)}]}];
def total: map(.count) | add // 0;
# offstacks: over artifacts/offcpu.json, one entry per off-CPU row with the
# Python frame names of its stack, root first.
def offstacks:
  .strings as $s | .frames as $f | .stacks as $st |
  [.offcpu[] | {pid, tid, reason, ns,
    py: [$st[.stack][] | $f[.] | select(.kind == "python") | $s[.name]]}];
# threads whose on-CPU + off-CPU time covers less than `min` of their wall time
def uncovered(min):
  [.threads[] | select(.wall_ns > 50000000 and (.oncpu_ns + .offcpu_ns) / .wall_ns < min) |
   {tid, comm, wall_ns, covered: ((.oncpu_ns + .offcpu_ns) / .wall_ns)}];
