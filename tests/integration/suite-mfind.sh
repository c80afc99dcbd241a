# SPDX-License-Identifier: MIT
# Issue 18, memory findings on a real run: a Python program that keeps
# 1 MiB every 20 ms in one line (50 MiB/s for 2.5 s) after a one-off 40 MiB
# load (tests/workloads/py/memleak.py). The memory collector (page faults,
# mapping calls; on by default) must give leak_candidate naming the leaking
# line, with a slope near the workload's and most of the growth; the load is
# not named. And a program that allocates and drops a 128 MiB buffer every
# 50 ms for 1.5 s (tests/workloads/py/memchurn.py): page_fault_churn and
# large_transient_mapping name that line, and it is no leak (the mappings
# unmapped in its last 0.5 s, on the way out, do not count: 1.5 s leaves
# about 6 of its about 10). Sourced by run.sh.

SUITE_TESTS=(mem_leak_named mem_churn_transient)

t_mem_leak_named() {
	local d=$O/mfind_leak line r
	line=$(grep -n '# LEAK$' $PYW/memleak.py | cut -d: -f1)
	nice -n -10 $AP -q -o $d -- /usr/bin/python3.11 $PYW/memleak.py 2.5 2>$d.err
	if [ $? != 0 ] || ! artifacts_ok $d; then
		fail mem_leak_named "profiling failed: $(tail -1 $d.err)"
		return
	fi
	if [ ! -f $d/artifacts/memory.json ]; then
		fail mem_leak_named "no artifacts/memory.json: the memory collector (on by default) did not run or wrote nothing"
		return
	fi
	r=$(jq -r --arg line "$line" '
	  (.findings | map(select(.pattern_id == "leak_candidate")) | .[0]) as $x |
	  if $x == null then "no leak_candidate: \([.findings[].id]); uncertain: \([.uncertain[]?.id]); not evaluated: \([.not_evaluated[]?.pattern_id])"
	  elif ($x.evidence["process.leak_site"] | test("^remember \\(.*memleak\\.py:\($line)\\)$") | not) then
	    "leak_site is \($x.evidence["process.leak_site"]), want remember (.../memleak.py:\($line))"
	  elif ($x.explanation | test("load \\(")) then "the load named: \($x.explanation)"
	  elif $x.evidence["process.leak_slope_mb_s"] < 15 or $x.evidence["process.leak_slope_mb_s"] > 150 then
	    "leak slope \($x.evidence["process.leak_slope_mb_s"]) MB/s, the workload keeps 52 MB/s"
	  elif $x.evidence["process.leak_share_pct"] < 40 then "leak share of the growth \($x.evidence["process.leak_share_pct"])%"
	  elif $x.evidence["process.leak_samples"] < 20 then "only \($x.evidence["process.leak_samples"]) samples"
	  else "OK" end' $d/findings.json 2>&1)
	if [ "$r" != OK ]; then
		fail mem_leak_named "${r:-jq gave nothing}"
	else
		pass mem_leak_named
		echo "     $(jq -r '.findings[] | select(.pattern_id == "leak_candidate") | "\(.evidence["process.leak_site"]): \(.evidence["process.leak_slope_mb_s"]) MB/s, \(.evidence["process.leak_share_pct"])% of the growth, \(.evidence["process.leak_samples"]) samples, fit \(.evidence["process.leak_fit_pct"])%"' $d/findings.json)"
	fi
}

t_mem_churn_transient() {
	local d=$O/mfind_churn line r
	line=$(grep -n '# SCRATCH$' $PYW/memchurn.py | cut -d: -f1)
	nice -n -10 $AP -q -o $d -- /usr/bin/python3.11 $PYW/memchurn.py 1.5 2>$d.err
	if [ $? != 0 ] || ! artifacts_ok $d; then
		fail mem_churn_transient "profiling failed: $(tail -1 $d.err)"
		return
	fi
	if [ ! -f $d/artifacts/memory.json ]; then
		fail mem_churn_transient "no artifacts/memory.json: the memory collector (on by default) did not run or wrote nothing"
		return
	fi
	r=$(jq -r --arg line "$line" '
	  def site: test("^scratch \\(.*memchurn\\.py:\($line)\\)$");
	  (.findings | map(select(.pattern_id == "page_fault_churn")) | .[0]) as $c |
	  (.findings | map(select(.pattern_id == "large_transient_mapping")) | .[0]) as $t |
	  if $c == null then "no page_fault_churn: \([.findings[].id]); uncertain: \([.uncertain[]?.id])"
	  elif ($c.evidence["process.fault_top"] | site | not) then "churn names \($c.evidence["process.fault_top"])"
	  elif $c.evidence["process.fault_top_churn_x"] < 4 then "churn only \($c.evidence["process.fault_top_churn_x"])x"
	  elif $t == null then "no large_transient_mapping: \([.findings[].id])"
	  elif $t.evidence["process.transient_maps"] < 3 then "\($t.evidence["process.transient_maps"]) transient mappings, the workload made about 10 (about 6 before its last 0.5 s)"
	  elif $t.evidence["process.transient_largest_mb"] < 128 then "largest \($t.evidence["process.transient_largest_mb"]) MB"
	  elif ($t.evidence["process.transient_site"] | site | not) then "transient site \($t.evidence["process.transient_site"])"
	  elif any(.findings[]; .pattern_id == "leak_candidate") then "a leak_candidate for churn"
	  else "OK" end' $d/findings.json 2>&1)
	if [ "$r" != OK ]; then
		fail mem_churn_transient "${r:-jq gave nothing}"
	else
		pass mem_churn_transient
		echo "     $(jq -r '[.findings[] | select(.pattern_id == "page_fault_churn" or .pattern_id == "large_transient_mapping")] | map(.explanation | split(";")[0]) | join(" / ")' $d/findings.json)"
	fi
}
