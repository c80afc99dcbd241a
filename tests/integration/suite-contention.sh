# SPDX-License-Identifier: MIT
# Issue 15 items 4, 6 and 9: CPU contention from outside the run (who took
# the CPU), cpu_bound judged on demand, expected syscall errors (the GIL's
# timed waits) are not failures, the time at stake is wall time, and the
# ranking. Reuses the pattern table's runs (pattern_run). Sourced by run.sh.

SUITE_TESTS=(contention_outside gil_wall_stake)

# outside_wait_pct of a run's offcpu.json, all processes: waits for CPUs
# that ran processes the run does not follow, over on-CPU + runnable time
outside_pct() { # DIR
	jq '([.cpu_takers[] | select((.followed | not) and .taker_pid != 0) | .ns] | add // 0) as $o |
	  ([.threads[] | .oncpu_ns + (.off_ns.preempted // 0) + (.off_ns.runqueue // 0)] | add) as $d |
	  if $d > 0 then 100 * $o / $d | floor else 0 end' $1/artifacts/offcpu.json
}

# ap-hog, a thread per CPU at a much higher priority, not followed (--no-children),
# while the target computes: cpu_bound still fires (demand, not what the
# host let it have) and cpu_contention names the hog. The same computation
# without the hogs (the cpu row) is the measured comparison: this host may
# be loaded by work the test does not control (its waits are real
# contention too), but the hogs must add at least 20 points to the share
# of the demand lost to other processes
t_contention_outside() {
	local d c r pd pc
	d=$(pattern_run contended+--no-children)
	c=$(pattern_run cpu)
	if [ -e $d.failed ] || [ -e $c.failed ]; then
		fail contention_outside "profiling failed: $(tail -1 $d.err $c.err 2>/dev/null | tr '\n' ' ')"
		return
	fi
	r=$($JQ -s '.[0] as $f | .[1] as $o |
	  ($f.findings | map(select(.pattern_id == "cpu_contention")) | .[0]) as $x |
	  ([$o.cpu_takers[] | select((.followed | not) and .taker_comm == "ap-hog") | .ns] | add // 0) as $hog |
	  ([$o.cpu_takers[] | .ns] | add // 0) as $all |
	  if ($o.schema | startswith("autoprof.offcpu/1.")) | not then "offcpu.json schema \($o.schema)"
	  elif $x == null then "no cpu_contention: \([$f.findings[].id])"
	  elif ([$f.findings[] | .pattern_id, (.related[] | sub("#[0-9]+$"; ""))] | index("cpu_bound")) == null then
	    "cpu_bound not found under contention: \([$f.findings[].id])"
	  elif ($x.explanation | test("ap-hog \\(pid [0-9]+\\)")) | not then "the hog is not named: \($x.explanation)"
	  elif $all == 0 or $hog / $all < 0.25 then "cpu_takers: ap-hog \($hog) of \($all) ns"
	  elif $x.impact_s > $x.evidence["process.outside_wait_s"] + 0.001 then "impact \($x.impact_s) over the time lost"
	  else empty end' $d/findings.json $d/artifacts/offcpu.json)
	pd=$(outside_pct $d)
	pc=$(outside_pct $c)
	if [ -n "$r" ]; then
		fail contention_outside "$r"
	elif [ $pd -lt $((pc + 20)) ]; then
		fail contention_outside "with the hogs $pd% of the CPU demand went to other processes, without them $pc%"
	else
		pass contention_outside
		echo "     outside share of the demand: $pd% with the hogs, $pc% without"
		echo "     $(jq -r '.findings[] | select(.pattern_id == "cpu_contention") | .explanation' $d/findings.json)"
	fi
}

# four CPU-bound threads: the GIL's timed futex waits (ETIMEDOUT) are not
# failing syscalls; no finding puts more at stake than the wall time of
# its subject (4 threads' GIL wait is thread-seconds: gil_contention puts
# at stake what running them in parallel could save); findings are in
# order of wall time x confidence, and report.md says so
t_gil_wall_stake() {
	local d r
	d=$(pattern_run gil)
	if [ -e $d.failed ]; then
		fail gil_wall_stake "profiling failed: $(tail -1 $d.err)"
		return
	fi
	r=$($JQ -s '.[0] as $f | .[1] as $o | .[2] as $s |
	  ($o.threads | group_by(.pid) | map({key: (.[0].pid | tostring),
	    value: (((map(.start_s + .wall_ns / 1e9) | max) - (map(.start_s) | min)))}) | from_entries) as $pw |
	  ($f.findings | map(select(.pattern_id == "gil_contention")) | .[0]) as $g |
	  ([$f.findings[] | select(.impact_s != null) | .impact_s * .confidence]) as $keys |
	  ([$s.processes[] | select(.syscalls | any(.name == "futex" and .errors > 0))] | length) as $futex_errs |
	  if $futex_errs == 0 then "no futex errors in syscalls.json: the check would be empty"
	  elif ([$f.findings[] | select(.pattern_id == "failing_syscalls" and (.location | test("futex")))] | length) > 0 then
	    "futex timeouts reported as failing syscalls"
	  elif $g == null then "no gil_contention: \([$f.findings[].id])"
	  elif $g.evidence["process.gil_s"] <= $g.impact_s then "GIL wait \($g.evidence["process.gil_s"]) thread-s not above the wall time at stake \($g.impact_s)"
	  elif $g.impact_s > ($pw[$g.location | capture("pid (?<p>[0-9]+)").p] + 0.01) then
	    "gil_contention at stake \($g.impact_s) s, process wall \($pw[$g.location | capture("pid (?<p>[0-9]+)").p]) s"
	  elif [$f.findings[] | select(.impact_s != null and .impact_s > $f.wall_s + 0.01)] != [] then
	    "a finding over the run wall time: \([$f.findings[] | select(.impact_s > $f.wall_s + 0.01) | .id])"
	  elif $keys != ($keys | sort | reverse) then "not ranked by impact x confidence: \($keys)"
	  else empty end' $d/findings.json $d/artifacts/offcpu.json $d/artifacts/syscalls.json)
	if [ -n "$r" ]; then
		fail gil_wall_stake "$r"
	elif ! grep -q "^Risks first .*, then ranked by the wall time each could save, weighted by confidence" $d/report.md; then
		fail gil_wall_stake "report.md does not say how findings are ranked"
	else
		pass gil_wall_stake
		echo "     $(jq -r '.findings[] | select(.pattern_id == "gil_contention") | "gil_contention: \(.impact_s) s at stake; \(.evidence["process.gil_s"]) thread-s of GIL wait"' $d/findings.json)"
	fi
}
