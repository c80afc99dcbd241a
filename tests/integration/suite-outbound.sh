# SPDX-License-Identifier: MIT
# Bounded output (issue 12, items 8 and 9): per-event records are capped and
# aggregated, and what a run writes stays within the README's bound
# ("Output size") however many threads and events the target has.
# Sourced by tests/integration/run.sh.

# CPU ticks (utime + stime) of a process, and its state letter
ob_ticks() { awk '{ print $14 + $15 }' /proc/$1/stat 2>/dev/null; }
ob_state() { awk '{ print $3 }' /proc/$1/stat 2>/dev/null; }

# An idle pool: 50 threads sleeping 20 ms at a time, attached for 3 s with
# --slow-syscall 5: every sleep is a slow call (~7,500). They are kept as a
# few rows per call site with counts, not one row per call; every timed
# sleep is in a row, dropped or lost, and each of those is counted.
t_outbound_idle_pool() {
	local d=$O/outbound_pool tp s j calls rows lo hi got size
	$W/manythreads 50 8 20 &
	tp=$!
	sleep 0.3
	$AP -q -p $tp -d 3 --slow-syscall 5 -o $d 2>$d.err
	s=$?
	kill $tp 2>/dev/null
	wait $tp 2>/dev/null
	[ $s = 0 ] || { fail outbound_idle_pool "exit $s: $(tail -1 $d.err)"; return; }
	s=$d/artifacts/syscalls.json
	j=$d/run.json
	calls=$(jq '.collectors.syscalls.slow_calls' $j)
	rows=$(jq '.slow_calls | length' $s)
	size=$(stat -c %s $s)
	# the syscall statistics time every call; sleeps of 20 ms are in the
	# log2 buckets [8192, 16384) us and up (certainly slow) or, cut short,
	# [4096, 8192) (perhaps slow)
	lo=$(jq '[.processes[].syscalls[] | select(.name == "clock_nanosleep" or .name == "nanosleep")
		| .hist_log2_us[14:] | add // 0] | add // 0' $s)
	hi=$(jq '[.processes[].syscalls[] | select(.name == "clock_nanosleep" or .name == "nanosleep")
		| .hist_log2_us[13:] | add // 0] | add // 0' $s)
	got=$(jq '.collectors.syscalls | .slow_calls + .losses.slow_syscalls_dropped +
		.losses.slow_syscall_records_lost' $j)
	if ! gt "$lo" 1000; then
		fail outbound_idle_pool "only $lo sleeps of 8 ms or more timed in 3 s of 50 threads (want > 1000): the machine is too loaded or the syscall collector lost them"
	elif gt $size 1048576; then
		fail outbound_idle_pool "syscalls.json is $size bytes (bound: 1 MB for a few call sites)"
	elif ! jq -e '.collectors.syscalls.losses | has("slow_syscalls_dropped")' $j >/dev/null; then
		fail outbound_idle_pool "run.json has no slow_syscalls_dropped loss counter"
	elif [ "$(jq '[.slow_calls[].count] | add // 0' $s)" != "$calls" ] ||
		[ "$(jq '.slow_calls_dropped' $s)" != "$(jq '.collectors.syscalls.losses.slow_syscalls_dropped' $j)" ]; then
		fail outbound_idle_pool "run.json and syscalls.json disagree: $calls slow calls vs rows $(jq -c '[.slow_calls[].count]' $s)"
	elif ! awk -v g=$got -v lo=$lo -v hi=$hi 'BEGIN { exit !(g >= lo * 0.99 && g <= hi * 1.01 + 5) }'; then
		fail outbound_idle_pool "$got slow calls kept, dropped or lost; the statistics timed $lo-$hi sleeps of >= 5 ms"
	elif ! [ $rows -ge 1 ] || ! [ $rows -le 256 ] || ! gt $calls $((20 * rows)); then
		fail outbound_idle_pool "$rows rows for $calls calls: not aggregated per call site (or over the 256-row cap)"
	elif ! jq -e 'all(.slow_calls[]; (.examples | length) >= 1 and (.examples | length) <= 4 and
			(.examples | length) <= .count and .max_us == .examples[0].duration_us and
			.duration_us == .max_us and .total_us >= .max_us and
			([.examples[].duration_us] | . == (sort | reverse)))' $s >/dev/null; then
		fail outbound_idle_pool "a row's count, max, total or examples are inconsistent: $(jq -c '.slow_calls[0] | del(.frames, .stack)' $s)"
	elif ! jq -e '.slow_calls[0] | .count > 1000 and any(.stack[]; . == "pool_wait")' $s >/dev/null; then
		fail outbound_idle_pool "the top row is not the pool's sleep under pool_wait: $(jq -c '.slow_calls[0] | del(.frames)' $s | head -c 300)"
	elif ! $AP analyze $d >/dev/null 2>$d.analyze.err; then
		fail outbound_idle_pool "the saved run cannot be analysed again: $(tail -1 $d.analyze.err)"
	else
		pass outbound_idle_pool
		echo "     $calls slow calls in $rows rows, syscalls.json $size bytes, timed $lo-$hi"
	fi
}

# 500 threads blocking every 20 ms for 5 s of recording: many scheduler events, slow calls
# and off-CPU intervals per thread. The run directory stays within the
# README's bound, the per-event caps hold and count what they cut, and the
# profiler's own CPU time from the target's exit to its own is bounded.
t_outbound_many_threads() {
	local d=$O/outbound_threads tp ap s c1 c2 tck post size bound ivals drop nthr i
	tck=$(getconf CLK_TCK)
	# the 500 threads keep both CPUs busy, which can hold the profiler's
	# start-up back for seconds: the target runs for 5 s once it is
	# recorded (the profiler's per-CPU perf events open), then is ended
	$W/manythreads 500 120 20 &
	tp=$!
	sleep 0.3
	$AP -q -p $tp -o $d 2>$d.err &
	ap=$!
	for ((i = 0; i < 600; i++)); do
		[ "$(ls -l /proc/$ap/fd 2>/dev/null | grep -c perf_event)" -ge $(nproc) ] && break
		kill -0 $ap 2>/dev/null || break
		sleep 0.1
	done
	sleep 5
	kill $tp
	wait $tp
	c1=$(ob_ticks $ap)
	c2=$c1
	while [ -n "$(ob_state $ap)" ] && [ "$(ob_state $ap)" != Z ]; do
		c2=$(ob_ticks $ap || echo $c2)
		sleep 0.05
	done
	wait $ap
	s=$?
	[ $s = 0 ] || { fail outbound_many_threads "exit $s: $(tail -1 $d.err)"; return; }
	[ -n "$c1" ] || { fail outbound_many_threads "the profiler had exited before the target did"; return; }
	post=$(awk -v a=$c1 -v b=$c2 -v t=$tck 'BEGIN { printf "%.2f", (b - a) / t }')
	size=$(du -sk $d | cut -f1)
	nthr=$(jq '.threads | length' $d/artifacts/offcpu.json)
	# README, "Output size": 100 MB, 3 KB per thread and 400 KB per process
	bound=$((100 * 1024 + 3 * nthr + 400 * $(jq '.processes | length' $d/run.json)))
	ivals=$(jq '.intervals.start_us | length' $d/artifacts/offcpu.json)
	drop=$(jq '.collectors.offcpu.losses.offcpu_intervals_dropped' $d/run.json)
	if ! [ "$nthr" -ge 400 ]; then
		fail outbound_many_threads "only $nthr of 500 threads accounted"
	elif [ $size -gt $bound ]; then
		fail outbound_many_threads "the run directory is $size kB (bound $bound kB)"
	elif [ "$ivals" -gt 50000 ] || { [ "$ivals" -lt 50000 ] && [ "$drop" != 0 ]; }; then
		fail outbound_many_threads "$ivals intervals kept with $drop dropped (cap 50000)"
	elif [ "$(jq '.otherData.offcpu_intervals + .otherData.offcpu_intervals_not_on_timeline' $d/trace.json)" != $((ivals + drop)) ]; then
		fail outbound_many_threads "trace.json's interval counts disagree with offcpu.json and run.json"
	elif [ "$(stat -c %s $d/artifacts/syscalls.json)" -gt 1048576 ]; then
		fail outbound_many_threads "syscalls.json is $(stat -c %s $d/artifacts/syscalls.json) bytes"
	elif gt $post 4; then
		fail outbound_many_threads "the profiler used $post CPU-seconds after the target exited (bound 4)"
	else
		pass outbound_many_threads
		echo "     $nthr threads: $size kB written, $ivals intervals (+$drop dropped), $post CPU-s after the target's exit"
	fi
}

SUITE_TESTS=(outbound_idle_pool outbound_many_threads)
