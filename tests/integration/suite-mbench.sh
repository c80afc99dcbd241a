# SPDX-License-Identifier: MIT
# Issue 18's truth across functions (helper mbench): memory.folded puts the
# bytes of tests/workloads/py/memknown.py where they were allocated:
# 300, 100 and 50 MiB kept in three functions, 5 x 40 MiB allocated and
# freed in a fourth, ~0.7 s of ~1 GB/s page faults. At the default
# --memory-rate, so a cap that keeps only the first samples of a burst
# shows here. Sourced by run.sh.

SUITE_TESTS=(mem_known_functions)

t_mem_known_functions() {
	local d=$O/mem_known py=/usr/bin/python3.11 total fn want got bad= mib
	[ -x $py ] || py=$(command -v python3)
	if ! $AP -q -o $d -- $py $PYW/memknown.py >$d.out 2>$d.err; then
		fail mem_known_functions "the run failed: $(tr '\n' ' ' <$d.err | cut -c1-200)"
		return
	fi
	if [ ! -s $d/memory.folded ]; then
		fail mem_known_functions "no memory.folded (or an empty one) in $d"
		return
	fi
	total=$(samples $d/memory.folded '.')
	mib=$((1 << 20))
	# at least 80% of the attributed bytes under the four functions
	got=$(samples $d/memory.folded '(^|;)(keep_300|keep_100|keep_50|churn) \(memknown\.py:')
	ge "$got" "$(awk -v t=$total 'BEGIN { print 0.8 * t }')" ||
		bad+=" $((got / mib)) of $((total / mib)) MiB under the four functions (want 80%);"
	# each function's MiB within half of what it allocates: the samples
	# weigh 1 MiB each (50 for the smallest) while the CPU is under the
	# cap; over it, a sample is kept with probability q and weighs 1/q, so
	# a function whose burst came when q was 0.15 has a relative sd near
	# 0.17 (a fresh clone: churn 146 of 200 MiB, 371 of 655 samples over
	# the cap). A cap that drops a burst's weight gives 0 (the bug this
	# caught: keep_100, keep_50 and churn at 0).
	for fn in keep_300:300 keep_100:100 keep_50:50 churn:200; do
		want=${fn#*:} fn=${fn%:*}
		got=$(samples $d/memory.folded "(^|;)$fn \\(memknown\\.py:")
		awk -v g=$got -v w=$want -v m=$mib 'BEGIN { exit !(g / m >= 0.5 * w && g / m <= 1.5 * w) }' ||
			bad+=" $fn $((got / mib)) MiB (allocates $want);"
	done
	if [ -n "$bad" ]; then
		fail mem_known_functions "${bad%;} of $((total / mib)) MiB in all; run.json memory: $(jq -c \
			'.collectors.memory | {fault_samples, fault_samples_capped, rate_hz}' $d/run.json 2>&1 | cut -c1-200)"
	else
		pass mem_known_functions
	fi
}
