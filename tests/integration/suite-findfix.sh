# SPDX-License-Identifier: MIT
# Findings the corpus found wrong on real programs (issue 15), on Debian's
# stripped python3.11: one cost, one claim (time below the Python frame
# leaves out the collector's and shutdown's samples, so the times at stake
# of one process add up to no more than its CPU time); a package's compiled
# Python (mypyc) reported as the package's own work, with its top functions.
# Reuses the pattern table's runs (pattern_run). Sourced by run.sh.

SUITE_TESTS=(findfix_one_claim findfix_compiled)

# "id impact_s" of each finding with a time at stake, and the CPU-s of the
# run's busiest process
ff_claims() { jq -r '.findings[] | select(.impact_s != null) | "\(.id) \(.impact_s)"' $1/findings.json 2>/dev/null; }
ff_cpu_s() { jq -r '(.frequency_hz // 99) as $hz | [.processes[].samples] | max / $hz' $1/artifacts/cpu.json 2>/dev/null; }

t_findfix_one_claim() {
	local w d cpu sum bad=
	for w in ast_parse compiled_black+-F999; do
		d=$(pattern_run $w)
		if [ -e $d.failed ] || [ ! -s $d/findings.json ]; then
			bad="$bad [$w: profiling failed: $(tail -1 $d.err)]"
			continue
		fi
		cpu=$(ff_cpu_s $d)
		sum=$(ff_claims $d | awk '{ s += $2 } END { print s + 0 }')
		# the collector runs in both: its time is gc_pressure's alone
		if ! fired $d gc_pressure; then
			bad="$bad [$w: no gc_pressure: $(ff_claims $d | tr '\n' ' ')$(loaded $d)]"
		# two samples of slack for rounding
		elif ! awk -v s=$sum -v c=$cpu -v hz=$(jq '.frequency_hz // 99' $d/artifacts/cpu.json) \
			'BEGIN { exit !(s <= c + 2 / hz) }'; then
			bad="$bad [$w: the findings claim $sum CPU-s of a $cpu CPU-s process: $(ff_claims $d | tr '\n' ' ')]"
		fi
	done
	[ -z "$bad" ] && pass findfix_one_claim || fail findfix_one_claim "$bad"
}

t_findfix_compiled() {
	local d=$(pattern_run compiled_black+-F999) f
	f=$(jq -c '[.findings[] | select(.pattern_id == "compiled_python_below")][0]' $d/findings.json 2>/dev/null)
	if [ -z "$f" ] || [ "$f" = null ]; then
		fail findfix_compiled "no compiled_python_below: $(ff_claims $d | tr '\n' ' ')$(loaded $d)"
	elif ! jq -e '(.explanation | test("black.s own compiled code \\(mypyc")) and
		([.explanation | scan("CPyDef_[A-Za-z0-9_]+ [0-9]+%")] | length == 3) and
		(.suggestions | any(test("no-binary black"))) and
		(.suggestions | all(test("less often") | not))' <<<"$f" >/dev/null; then
		fail findfix_compiled "$(jq -r '.explanation + " | " + (.suggestions | join(" | "))' <<<"$f")"
	elif fired $d native_below_python || fired $d native_library_dominated; then
		fail findfix_compiled "black's compiled code also called a native library: $(ff_claims $d | tr '\n' ' ')"
	else
		pass findfix_compiled
	fi
}
