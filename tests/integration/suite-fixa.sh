# SPDX-License-Identifier: MIT
# Safety and accounting fixes from the issue-15 review (branch fixa): the
# attach snapshot's time budget, the thread-name reads' rate limit at
# flush, the cap on generated-code argument reads.
# Sourced by tests/integration/run.sh (helpers and AP, W, O, PYW from there).

# a target whose memory does not answer the attach snapshot (stood in for
# by AP_TEST_SNAPSHOT_STALL_MS: the reader waits 10 s before its first
# read): one warning, the run goes on after the 2 s budget, not the 10 s,
# with snapshot_timeouts 1 and its artifacts complete
t_snapshot_timeout() {
	local t=snapshot_timeout d=$O/snapshot_timeout t0 took n
	local i rc pid
	rm -rf $d $d.ready
	/usr/bin/python3.11 $PYW/hung.py $d.ready >$d.target.log 2>&1 &
	pid=$!
	for ((i = 0; i < 200; i++)); do
		[ -s $d.ready ] && break
		sleep 0.1
	done
	if [ ! -s $d.ready ]; then
		kill $pid 2>/dev/null
		fail $t "hung.py did not start in 20 s: $(tail -1 $d.target.log)"
		return
	fi
	t0=$EPOCHREALTIME
	AP_TEST_SNAPSHOT_STALL_MS=10000 $AP -q -p $pid -d 1 -o $d 2>$d.err; rc=$?
	took=$(awk -v a=$t0 -v b=$EPOCHREALTIME 'BEGIN { printf "%.1f", b - a }')
	kill $pid 2>/dev/null
	wait $pid 2>/dev/null
	if [ $rc != 0 ] || ! artifacts_ok $d; then
		fail $t "exit $rc or artifacts incomplete: $(tail -1 $d.err)"
		return
	fi
	n=$(grep -c 'snapshot' $d.err)
	if [ "$n" != 1 ] || ! grep -q "snapshot: pid $pid: its memory did not answer within 2 s" $d.err; then
		fail $t "want one warning line naming pid $pid and the 2 s budget, got $n: $(head -3 $d.err)"
	elif [ "$(jq '.collectors.cpu.counters.snapshot_timeouts' $d/run.json)" != 1 ]; then
		fail $t "snapshot_timeouts is $(jq '.collectors.cpu.counters.snapshot_timeouts' $d/run.json), want 1"
	elif ! awk -v s=$took 'BEGIN { exit !(s < 8) }'; then
		fail $t "the attach took ${took} s with a 1 s run: it waited for the stalled reader (10 s)"
	else
		pass $t
		echo "     start to end ${took} s (1 s run + 2 s budget + start-up), $(jq '.collectors.cpu.counters.snapshot_threads' $d/run.json) threads before the budget ran out"
	fi
}

# names.py with a flush every 10 ms: each process's names are read at
# most every 250 ms (AP_PYNAMES_GAP_NS) while it runs, whatever the flush
# rate, plus the last flush; before the fix every flush read it (~100)
t_pynames_flush_rate() {
	local t=pynames_flush_rate d=$O/pynames_flush_rate reads wall max
	AP_TEST_FLUSH_MS=10 $AP -q -F 99 -o $d -- /usr/bin/python3.11 $PYW/names.py 1 $d.tids 0.3 \
		>/dev/null 2>$d.err || { fail $t "exit $?: $(tail -1 $d.err)"; return; }
	reads=$(jq '.counters.python_thread_name_process_reads' $d/artifacts/cpu.json)
	wall=$(jq .wall_s $d/run.json)
	# one process, a read per 250 ms of its life, its first and the last
	max=$(awk -v w=$wall 'BEGIN { printf "%d", w * 4 + 3 }')
	if [ "$reads" = null ] || [ "$reads" -lt 1 ]; then
		fail $t "python_thread_name_process_reads is $reads, want at least 1"
	elif [ "$reads" -gt "$max" ]; then
		fail $t "$reads reads of one process in $wall s with a flush every 10 ms, want at most $max"
	elif ! jq -e '[.threads[] | select(.python_name == "Worker-1")] | length == 1' \
		$d/artifacts/cpu.json >/dev/null; then
		fail $t "Worker-1 is not named any more"
	else
		pass $t
		echo "     $reads reads of its names in $wall s (at most $max), deferred: $(jq '.counters.python_thread_name_reads_deferred' $d/artifacts/cpu.json)"
	fi
}

# a program that evals a lambda per item (each line 1 of <string>, like
# namedtuple's __new__): at most 256 reads of their first argument per
# process, the rest counted
t_generated_reads_capped() {
	local t=generated_reads_capped d=$O/generated_reads_capped reads capped
	$AP -q -F 999 -o $d -- /usr/bin/python3.11 -c '
import time
keep = []
end = time.monotonic() + 1.5
while time.monotonic() < end:
    f = eval("lambda n: sum(range(n))")
    keep.append(f)
    f(20000)
' >/dev/null 2>$d.err || { fail $t "exit $?: $(tail -1 $d.err)"; return; }
	reads=$(jq '.counters.python_generated_name_reads' $d/artifacts/cpu.json)
	capped=$(jq '.counters.python_generated_name_reads_capped' $d/artifacts/cpu.json)
	if [ "$reads" = null ] || [ "$reads" -gt 256 ]; then
		fail $t "python_generated_name_reads is $reads, want at most 256"
	elif [ "$capped" = null ] || [ "$capped" -lt 1 ]; then
		fail $t "no read was capped ($reads reads): the workload's lambdas were not sampled enough"
	elif [ "$(samples $d/stacks.folded '<lambda> \(<string>:1\)')" = 0 ]; then
		fail $t "the capped lambdas are not shown as <lambda> (<string>:1)"
	else
		pass $t
		echo "     $reads reads, $capped capped"
	fi
}

# a target whose memory does not answer the thread-name reads
# (process_vm_readv; stood in for by AP_TEST_PYTHREADS_STALL_MS: each read
# on the helper thread waits 6 s first): one warning, one timeout counted,
# the process never read again, the run not held up (each wait 100 ms)
t_pynames_timeout() {
	local t=pynames_timeout d=$O/pynames_timeout t0 took n
	t0=$EPOCHREALTIME
	AP_TEST_PYTHREADS_STALL_MS=6000 $AP -q -F 99 -o $d -- /usr/bin/python3.11 $PYW/names.py 1 \
		$d.tids 0.3 >/dev/null 2>$d.err || { fail $t "exit $?: $(tail -1 $d.err)"; return; }
	took=$(awk -v a=$t0 -v b=$EPOCHREALTIME 'BEGIN { printf "%.1f", b - a }')
	n=$(grep -c 'python: pid' $d.err)
	if [ "$n" != 1 ] || ! grep -q "python: pid [0-9]*: reading its memory: no answer within 100 ms" $d.err; then
		fail $t "want one warning line about the 100 ms budget, got $n: $(head -3 $d.err)"
	elif [ "$(jq '.counters.python_memory_read_timeouts' $d/artifacts/cpu.json)" != 1 ]; then
		fail $t "python_memory_read_timeouts is $(jq '.counters.python_memory_read_timeouts' $d/artifacts/cpu.json), want 1"
	elif ! artifacts_ok $d; then
		fail $t "artifacts incomplete"
	elif ! awk -v s=$took 'BEGIN { exit !(s < 5) }'; then
		fail $t "a 1 s run took ${took} s: the reads held the profiler up"
	else
		pass $t
		echo "     a 1 s run took ${took} s with every read stalled 6 s"
	fi
}

# system-wide with --comm: a process's main thread renamed (by a sibling,
# through /proc) while it waits for the CPU they share leaves the filter
# at its next switch-in. Its entry in the CPU's run-queue list must go with
# it: before the fix it stayed, and every later slice of that CPU was
# charged to the process in cpu_takers until the run ended (3 s here).
# The process waited for the CPU only before the rename: at most its 2
# threads' time from the start of their spin to the rename (written by
# the workload; 0.5 s on an idle machine)
t_stale_cpu_waiter() {
	local t=stale_cpu_waiter d=$O/stale_cpu_waiter pid ns span
	rm -rf $d $d.span
	/usr/bin/python3.11 -c '
import os, sys, threading, time
os.sched_setaffinity(0, {0})
with open("/proc/self/comm", "w") as f:
    f.write("apstale")
time.sleep(1.5)
t0 = time.monotonic()
end = t0 + 0.5
def renamer():
    while time.monotonic() < end:
        pass
    with open("/proc/self/task/%d/comm" % os.getpid(), "w") as f:
        f.write("apstale-gone")
    with open(sys.argv[1], "w") as f:
        f.write("%.3f" % (time.monotonic() - t0))
    while time.monotonic() < end + 0.5:
        pass
threading.Thread(target=renamer).start()
while time.monotonic() < end + 0.5:
    pass
' $d.span >$d.target.log 2>&1 &
	pid=$!
	$AP -q --all --comm apstale -d 5 -o $d 2>$d.err
	wait $pid
	if ! artifacts_ok $d; then
		fail $t "artifacts incomplete: $(tail -1 $d.err)"
		return
	fi
	ns=$(jq --argjson p $pid '[.cpu_takers[] | select(.pid == $p) | .ns] | add // 0' $d/artifacts/offcpu.json)
	span=$(cat $d.span 2>/dev/null)
	if [ -z "$span" ]; then
		fail $t "the workload did not rename its main thread: $(tail -1 $d.target.log)"
	elif ! gt $ns 50000000; then
		fail $t "pid $pid waited ${ns} ns for its CPU before the rename: the run did not see it (started late?)"
	elif gt $ns $(awk -v s=$span 'BEGIN { printf "%d", (2 * s + 0.1) * 1e9 }'); then
		fail $t "pid $pid charged $(awk -v n=$ns 'BEGIN { printf "%.2f", n / 1e9 }') s of waits; its 2 threads spun ${span} s before leaving the filter"
	else
		pass $t
		echo "     $(awk -v n=$ns 'BEGIN { printf "%.2f", n / 1e9 }') s of CPU waits charged (2 threads, ${span} s before the rename); cpu_waits_expired $(jq '.counters.cpu_waits_expired' $d/artifacts/cpu.json)"
	fi
}

SUITE_TESTS=(snapshot_timeout pynames_flush_rate generated_reads_capped pynames_timeout stale_cpu_waiter)
