# SPDX-License-Identifier: MIT
# The engine (src/engine.c, src/loop.c): the purge tick of the long-lived
# tables. Sourced by tests/integration/run.sh (helpers and variables come
# from there).

# A run whose purge tick fires every 200 ms with caps far below what it
# interns (so every tick compacts and renumbers the profile and the
# collectors' caches) still gives the native chain and split of cwork and
# the Python names of a script running beside it.
t_engine_purge_run() {
	local t=engine_purge_run d=$O/engine-purge n a b chain py purges
	AP_TEST_PURGE_MS=200 AP_TEST_PROFILE_CAPS=4,4,64 $AP -q -F 499 -o $d -- sh -c \
		"$W/cwork 3 & python3 -c '
def engine_hot(n):
    s = 0
    for i in range(n):
        s += i * i
    return s
for _ in range(40):
    engine_hot(200000)
'; wait" 2>$d.err || { fail $t "exit $?: $(tail -1 $d.err)"; return 1; }
	n=$(samples $d/stacks.folded '^cwork;')
	a=$(samples $d/stacks.folded '^cwork;.*;leaf_a$')
	b=$(samples $d/stacks.folded '^cwork;.*;leaf_b$')
	chain=$(samples $d/stacks.folded '^cwork;_start;__libc_start_main;__libc_start_call_main;main;run_workload;compute;leaf_[ab]$')
	py=$(samples $d/stacks.folded '^python3;.*engine_hot \(<string>:[0-9]+\)')
	purges=$(jq '.collectors.cpu.counters.profile_purges // 0' $d/run.json)
	if ! gt "$purges" 3; then
		fail $t "profile_purges is $purges in run.json: the purge tick did not compact"
	elif ! gt $n 500; then
		fail $t "only $n cwork samples at 499 Hz over 3 s"
	elif ! ge $(ratio $chain $n) 0.90; then
		fail $t "full main->leaf chain in $chain of $n cwork samples (< 90%)"
	elif ! awk -v a=$a -v b=$b 'BEGIN { p = 100 * a / (a + b); exit !(p >= 68 && p <= 82) }'; then
		fail $t "leaf_a/leaf_b split $a/$b, want 75/25"
	elif ! gt "$py" 50; then
		fail $t "only $py samples name engine_hot (<string>:N)"
	elif ! artifacts_ok $d; then
		fail $t "artifacts incomplete"
	else
		pass $t
		echo "     $purges purges; cwork $n samples, chain $(ratio $chain $n); engine_hot $py"
	fi
}

# The kernel's aggregates drained every 50 ms, as each window of a long
# run drains them (lookup-and-delete, per-thread deltas), add up to what
# one drain at the end gives: every write counted once with its bytes, and
# a sleeping thread's time under its stack and in its totals, neither lost
# nor counted twice.
t_engine_flush() {
	local t=engine_flush d=$O/engine-flush n=20000 size=137 file bytes r
	AP_TEST_FLUSH_MS=50 $AP -q -o $d -- /usr/bin/python3.11 $PYW/offcpu.py writes $n $size $d.dat \
		2>$d.err || { fail $t "exit $?: $(tail -1 $d.err)"; return 1; }
	file=$(jq '[.processes[].syscalls[] | select(.name == "write" and .fd_kind == "file") | .count] | add' \
		$d/artifacts/syscalls.json)
	bytes=$(jq '[.processes[].syscalls[] | select(.name == "write" and .fd_kind == "file") | .bytes] | add' \
		$d/artifacts/syscalls.json)
	if ! awk -v a="$file" -v n=$n 'BEGIN { exit !(a >= n * 0.99 && a <= n * 1.01) }'; then
		fail $t "$file writes to the file counted with 50 ms drains, want $n"; return 1
	elif [ "$bytes" != $((file * size)) ]; then
		# a write counted without its bytes, or bytes without their write
		fail $t "$bytes bytes written counted for $file writes of $size bytes with 50 ms drains"; return 1
	fi
	AP_TEST_FLUSH_MS=50 $AP -q -o $d-sleep -- /usr/bin/python3.11 $PYW/offcpu.py sleep 2 \
		2>$d-sleep.err || { fail $t "sleep: exit $?: $(tail -1 $d-sleep.err)"; return 1; }
	r=$($JQ 'include "lib"; (.threads | map(select(.tid == .pid)) | .[0]) as $m |
	  (($m.off_ns.preempted // 0) + ($m.off_ns.runqueue // 0)) as $runnable |
	  (offstacks | map(select(.tid == $m.tid and .reason == "sleep" and
	    (.py | .[-2:] == ["sleeper", "nap"]))) | map(.ns) | add // 0) as $nap |
	  if $m == null then "no accounting for the main thread"
	  elif $nap / ($m.wall_ns - $runnable) < 0.9 then
	    "sleep under sleeper;nap: \($nap / 1e6) ms of \($m.wall_ns / 1e6) ms wall"
	  elif $nap > $m.wall_ns * 1.02 then "sleep under nap \($nap / 1e6) ms > wall \($m.wall_ns / 1e6) ms: counted twice"
	  elif (uncovered(0.95) | length) > 0 then "on+off < 95% of wall: \(uncovered(0.95))"
	  elif ([.threads[] | select(.wall_ns > 50000000 and (.oncpu_ns + .offcpu_ns) > .wall_ns * 1.05)] | length) > 0
	    then "on+off > 105% of wall: deltas counted twice"
	  else empty end' $d-sleep/artifacts/offcpu.json)
	if [ -n "$r" ]; then
		fail $t "$r"
	else
		pass $t
		echo "     writes $file of $n, bytes $bytes; sleep accounted once under nap"
	fi
}

SUITE_TESTS=(engine_purge_run engine_flush)
