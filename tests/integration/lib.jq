# jq helpers over artifacts/cpu.json for the integration tests.
# pystacks: one entry per sample row, its Python frames root first.
def pystacks:
  .strings as $s | .frames as $f | .modules as $m | .stacks as $st |
  [.samples[] | {pid, tid, count,
    py: [$st[.stack][] | $f[.] | select(.kind == "python") |
         {name: $s[.name], line,
          file: (if .module >= 0 then $s[$m[.module].path] else "" end)}]}];
def total: map(.count) | add // 0;
