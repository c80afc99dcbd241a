#!/bin/bash
# SPDX-License-Identifier: MIT
# Run each fuzz target for SECONDS from its seed corpus; a crash fails.
# Ends with "N passed, N failed". Usage: tests/fuzz/run.sh SECONDS
set -u
cd "$(dirname "$0")/../.."
secs=${1:-10}
T=build/tests
passed=0 failed=0
mkdir -p $T/fuzz-cpu $T/fuzz-elf $T/fuzz-lt $T/fuzz-pat $T/fuzz-labels $T/fuzz-artifacts \
	$T/fuzz-diff
cp tests/fuzz/corpus-cpu/* $T/fuzz-cpu/
cp tests/fuzz/corpus-linetable/* $T/fuzz-lt/
cp $T/fixture_nofp $T/fuzz-elf/ 2>/dev/null
cp patterns/*.json $T/fuzz-pat/
cp tests/fuzz/corpus-labels/* $T/fuzz-labels/
cp tests/fuzz/corpus-diff/* $T/fuzz-diff/
# one target per CPU at a time (FUZZ_JOBS): each has its SECONDS on a CPU
# of its own, as one after another did (~2x less wall time on 2 CPUs)
jobs=${FUZZ_JOBS:-$(nproc)}
targets="cpu_json:fuzz-cpu elf:fuzz-elf linetable:fuzz-lt pattern:fuzz-pat labels:fuzz-labels diff_inputs:fuzz-diff"
for t in $targets; do
	name=${t%%:*} corpus=$T/${t#*:} s=$secs
	# diff_inputs runs 2 s less (at least 1 s), so that it adds under 3 s to
	# the smoke round: a 3-s target took 4.3-4.8 s of wall time on the loaded
	# 2-CPU test machine, a 1-s one 2.4-2.6 s
	[ $name = diff_inputs ] && s=$((secs > 3 ? secs - 2 : 1))
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
	rm -f $T/fuzz_$name.rc
	($T/fuzz_$name -max_total_time=$s -rss_limit_mb=2048 -artifact_prefix=$T/fuzz-artifacts/ \
		$corpus >$T/fuzz_$name.log 2>&1; echo "$? $s" >$T/fuzz_$name.rc) &
done
wait
for t in $targets; do
	name=${t%%:*}
	read -r rc s <$T/fuzz_$name.rc 2>/dev/null || rc=1 s=?
	if [ "$rc" = 0 ]; then
		passed=$((passed + 1)); echo "ok   fuzz/$name ($(grep -c . $T/fuzz_$name.log) log lines, ${s}s)"
	else
		failed=$((failed + 1)); echo "FAIL fuzz/$name: see $T/fuzz_$name.log"; tail -20 $T/fuzz_$name.log
	fi
done
echo "$passed passed, $failed failed"
[ $failed = 0 ]
