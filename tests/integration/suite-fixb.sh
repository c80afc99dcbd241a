# SPDX-License-Identifier: MIT
# Issue 15 review items 5, 6, 10 and 11 on real runs: autoprof-bpf's own
# process is overhead and kernel threads are kernel work, not competitors;
# cpu_contention puts wall time at stake; risks without a time figure rank
# first; memory_exhaustion needs live growth. Reuses the pattern table's
# runs (pattern_run: contended+--no-children, grow_live+-d4, grow). Sourced
# by run.sh.

SUITE_TESTS=(contention_self_kernel risks_first)

# the contended run: run.json names our pid; our rows in cpu_takers are
# process.profiler_wait_s, never top_taker nor in outside_wait_s; kernel
# threads' rows carry taker_kernel; at stake at most the wall bound
t_contention_self_kernel() {
	local d r
	d=$(pattern_run contended+--no-children)
	if [ -e $d.failed ]; then
		fail contention_self_kernel "profiling failed: $(tail -1 $d.err)"
		return
	fi
	r=$(jq -rn --slurpfile f $d/findings.json --slurpfile o $d/artifacts/offcpu.json \
		--slurpfile run $d/run.json '$f[0] as $f | $o[0] as $o | ($run[0].tool.pid // 0) as $me |
	  ($f.findings | map(select(.pattern_id == "cpu_contention")) | .[0]) as $x |
	  (([($x.location // "") | capture("pid (?<p>[0-9]+)") | .p] | .[0]) // "0" | tonumber) as $pid |
	  ([$o.cpu_takers[] | select(.pid == $pid and .taker_pid == $me) | .ns] | add // 0) as $mine |
	  ([$o.cpu_takers[] | select(.pid == $pid and (.followed | not) and .taker_pid != 0 and .taker_pid != $me) | .ns] | add // 0) as $out |
	  if $me <= 0 then "run.json has no tool.pid"
	  elif $x == null then "no cpu_contention: \([$f.findings[].id])"
	  elif ($x.explanation | test("\\(pid \($me)\\) most")) then "autoprof-bpf named as the competitor: \($x.explanation)"
	  elif (($x.evidence["process.profiler_wait_s"] // -1) - $mine / 1e9 | fabs) > 0.001 then
	    "profiler_wait_s \($x.evidence["process.profiler_wait_s"]) but our rows in cpu_takers \($mine / 1e9)"
	  elif (($x.evidence["process.outside_wait_s"] // -1) - $out / 1e9 | fabs) > 0.001 then
	    "outside_wait_s \($x.evidence["process.outside_wait_s"]) but the rows not ours \($out / 1e9)"
	  elif [$o.cpu_takers[] | select((.taker_comm | test("^(kworker|ksoftirqd|migration|rcu_)")) and (.taker_kernel | not))] != [] then
	    "a kernel thread without taker_kernel: \([$o.cpu_takers[] | select((.taker_comm | test("^(kworker|ksoftirqd)")) and (.taker_kernel | not)) | .taker_comm])"
	  elif [$o.cpu_takers[] | select(.taker_kernel and .taker_pid == $me)] != [] then "our own process marked as a kernel thread"
	  elif $x.impact_metric != "process.outside_wall_s" then "at stake is \($x.impact_metric), not the wall bound"
	  elif $x.impact_s > ($x.evidence["process.outside_wait_s"] + 0.001) then "at stake \($x.impact_s) over the waits"
	  elif $x.impact_s > $f.wall_s + 0.01 then "at stake \($x.impact_s) over the run wall \($f.wall_s)"
	  else "OK" end' 2>&1)
	if [ "$r" != OK ]; then
		fail contention_self_kernel "${r:-jq gave nothing}"
	else
		pass contention_self_kernel
		echo "     $(jq -r '.findings[] | select(.pattern_id == "cpu_contention") | "\(.impact_s) s at stake of \(.evidence["process.outside_wait_s"]) thread-s; ours \(.evidence["process.profiler_wait_s"]) s; kernel \(.evidence["process.kernel_wait_s"]) s"' $d/findings.json)"
	fi
}

# 4.5 s of growth at 50 MB/s profiled for 4 s: still running at the end,
# memory_exhaustion, ranked first in findings.json, report.md and the
# terminal, which say risks come first; the same growth that exits after
# 3.5 s (grow) is memory_growth at most
t_risks_first() {
	local d c r top
	d=$(pattern_run grow_live+-d4)
	c=$(pattern_run grow)
	if [ -e $d.failed ] || [ -e $c.failed ]; then
		fail risks_first "profiling failed: $(tail -1 $d.err $c.err 2>/dev/null | tr '\n' ' ')"
		return
	fi
	r=$(jq -rn --slurpfile f $d/findings.json --slurpfile g $c/findings.json '$f[0] as $f | $g[0] as $g |
	  ($f.findings | map(select(.pattern_id == "memory_exhaustion")) | .[0]) as $x |
	  if $x == null then "no memory_exhaustion for growth still running at the end: \([$f.findings[].id])"
	  elif $x.evidence["process.alive_at_end"] != 1 then "alive_at_end \($x.evidence["process.alive_at_end"])"
	  elif $f.findings[0].pattern_id != "memory_exhaustion" then "not first: \([$f.findings[].id])"
	  elif [$g.findings[] | .pattern_id, (.related[] | sub("#[0-9]+$"; ""))] | index("memory_exhaustion") then
	    "memory_exhaustion for a process that exited while growing: \([$g.findings[].id])"
	  elif ([$g.findings[] | .pattern_id] | index("memory_growth")) == null then "grow: no memory_growth: \([$g.findings[].id])"
	  else "OK" end' 2>&1)
	top=$($AP analyze $d 2>/dev/null)
	if [ "$r" != OK ]; then
		fail risks_first "${r:-jq gave nothing}"
	elif ! grep -q "^Risks first (high severity without a time figure" $d/report.md ||
		! grep -A2 "^## Key bottlenecks" $d/report.md >/dev/null ||
		! grep -m1 "^1\. \*\*" $d/report.md | grep -q "Memory growth would exhaust"; then
		fail risks_first "report.md: no ranking line or memory_exhaustion not first: $(grep -m1 '^1\. ' $d/report.md)"
	elif ! grep -q "^Top findings (.*risks first" <<<"$top" ||
		! sed -n '/^Top findings/,$p' <<<"$top" | grep -m1 "^  1\. " | grep -q "Memory growth would exhaust"; then
		fail risks_first "terminal: $(grep -m2 -A1 '^Top findings' <<<"$top" | tr '\n' ' ')"
	else
		pass risks_first
		echo "     $(sed -n '/^Top findings/,$p' <<<"$top" | grep -m1 '^  1\. ')"
	fi
}
