# SPDX-License-Identifier: MIT
# Attaching to a hung process (-p): threads blocked since before the
# attach, that stay blocked, get their whole stack (Python, native and
# kernel) from the attach snapshot, their blocked time under it, the
# reason of the wait, and report.md says which threads are stuck where.
# Sourced by tests/integration/run.sh (helpers and variables from there).

# start tests/workloads/py/hung.py (or any command writing its pid to the
# ready file) and attach to it for SECONDS; sets HUNG_PID. 1 on failure
# (reported as test NAME)
hung_attach() { # NAME DIR SECONDS COMMAND...
	local t=$1 d=$2 secs=$3 i rc
	shift 3
	rm -rf $d $d.ready
	"$@" $d.ready >$d.target.log 2>&1 &
	HUNG_PID=$!
	for ((i = 0; i < 200; i++)); do
		[ -s $d.ready ] && break
		sleep 0.1
	done
	if [ ! -s $d.ready ]; then
		kill $HUNG_PID 2>/dev/null
		fail $t "the hung workload did not start in 20 s: $(tail -1 $d.target.log)"
		return 1
	fi
	$AP -q -p $HUNG_PID -d $secs -o $d 2>$d.err; rc=$?
	kill $HUNG_PID 2>/dev/null
	wait $HUNG_PID 2>/dev/null
	if [ $rc != 0 ] || ! artifacts_ok $d; then
		fail $t "exit $rc or artifacts incomplete: $(tail -1 $d.err)"
		return 1
	fi
}

# the offcpu.folded line of a thread blocked in FUNC (called from CALLER)
# since before profiling: root marker, CALLER, FUNC, then a native frame,
# then a kernel frame, ending in [REASON]; prints its microseconds, or
# nothing
hung_line_us() { # FOLDED FUNC CALLER REASON
	awk -v fn="$2 (hung.py:" -v caller="$3 (hung.py:" -v reason="[$4]" '
		{ n = split($0, f, ";"); us = f[n]; sub(/.* /, "", us); sub(/ [0-9]+$/, "", f[n]) }
		f[2] !~ /^\[blocked in .* since before profiling\]$/ || f[n] != reason { next }
		{
			c = w = nat = k = 0
			for (i = 3; i < n; i++) {
				if (index(f[i], caller) == 1) c = i
				else if (c && index(f[i], fn) == 1) w = i
				else if (w && !nat && f[i] !~ /\.py(:[0-9]+)?\)$/ && f[i] !~ /_\[k\]$/ &&
					 f[i] !~ /^\[/) nat = i
				else if (nat && f[i] ~ /_\[k\]$/) k = i
			}
			if (c && w && nat && k) { print us; exit }
		}' "$1"
}

# every blocked thread of hung.py under PY: its Python frames (the function
# that blocks and its caller), a native and a kernel frame, its reason and
# ~ the whole run's time; report.md names the stuck threads
hung_python() { # NAME PY
	local t=$1 py=$2 d=$O/$1 wall spec fn us bad=""
	[ -x "$py" ] || { fail $t "no interpreter $py"; return; }
	hung_attach $t $d 1.5 $py tests/workloads/py/hung.py || return
	wall=$(jq .wall_s $d/run.json)
	for spec in lock:lock queue:lock sleep:sleep pipe:io_pipe sock:io_net main:lock; do
		fn=${spec%%:*}
		us=$(hung_line_us $d/offcpu.folded hung_${fn}_wait hung_${fn}_caller ${spec#*:})
		if [ -z "$us" ]; then
			bad="$bad $fn(no stack with caller, function, native and kernel frames as ${spec#*:})"
		elif ! awk -v us=$us -v w=$wall 'BEGIN { r = us / 1e6 / w; exit !(r > 0.95 && r < 1.1) }'; then
			bad="$bad $fn($us us blocked of $wall s)"
		fi
	done
	if [ -n "$bad" ]; then
		fail $t "threads without their blocked stack:$bad (see $d/offcpu.folded)"
	elif ! grep -q 'Blocked for the whole run:\*\* 6 of 6 threads' $d/report.md ||
		! grep -q 'hung_lock_caller (hung.py:[0-9]*) > hung_lock_wait (hung.py:[0-9]*)`' $d/report.md; then
		fail $t "report.md does not list the 6 stuck threads with their Python frames"
	else
		pass $t
		echo "     6 threads blocked $(jq '.collectors.cpu.counters.snapshot_threads' $d/run.json) in the snapshot, each with its stack over ${wall} s"
	fi
}

t_hung_py311() { hung_python hung_py311 /usr/bin/python3.11; }
t_hung_py312() { hung_python hung_py312 "$(ls /root/.pyenv/versions/3.12.*/bin/python3.12 2>/dev/null | tail -1)"; }
t_hung_py39() { hung_python hung_py39 "$(ls /root/.pyenv/versions/3.9.*/bin/python3.9 2>/dev/null | tail -1)"; }

# a C program blocked in read(): native and kernel frames under the marker
t_hung_native() {
	local t=hung_native d=$O/hung_native wall us
	# cat on a FIFO it also holds open for writing: a read that never returns
	hung_attach $t $d 1 sh -c 'rm -f "$0.fifo" && mkfifo "$0.fifo" && exec 3<>"$0.fifo" &&
		echo $$ >"$0.tmp" && mv "$0.tmp" "$0" && exec cat <&3' || return
	wall=$(jq .wall_s $d/run.json)
	us=$(awk '/^cat;\[blocked in read since before profiling\];(.*;)?[^;[]*read[^;]*;(.*;)?[a-z_0-9]+_\[k\];(.*;)?\[io_pipe\] [0-9]+$/ { print $NF; exit }' $d/offcpu.folded)
	if [ -z "$us" ]; then
		fail $t "no blocked read stack with native and kernel frames in $d/offcpu.folded"
	elif ! awk -v us=$us -v w=$wall 'BEGIN { r = us / 1e6 / w; exit !(r > 0.95 && r < 1.1) }'; then
		fail $t "$us us blocked in a run of $wall s"
	else
		pass $t
	fi
}

# 200 more threads: every one is in the snapshot (within its caps: one
# thread per ring buffer round) and its time under the pool's stack
t_hung_many() {
	local t=hung_many d=$O/hung_many n lost us wall
	hung_attach $t $d 1 /usr/bin/python3.11 tests/workloads/py/hung.py 200 || return
	n=$(jq '.collectors.cpu.counters.snapshot_threads' $d/run.json)
	lost=$(jq '.collectors.cpu.counters.snapshot_threads_lost + .collectors.cpu.counters.snapshot_threads_cut' $d/run.json)
	wall=$(jq .wall_s $d/run.json)
	us=$(hung_line_us $d/offcpu.folded hung_pool_wait hung_pool_caller lock)
	if [ "$n" != 206 ] || [ "$lost" != 0 ]; then
		fail $t "snapshot of $n threads ($lost lost or cut), want all 206"
	elif [ -z "$us" ] || ! awk -v us=$us -v w=$wall 'BEGIN { r = us / 1e6 / w / 200; exit !(r > 0.95 && r < 1.1) }'; then
		fail $t "the 200 pool threads have ${us:-no} us under their stack in $wall s"
	elif ! grep -q 'Blocked for the whole run:\*\* 206 of 206 threads' $d/report.md; then
		fail $t "report.md does not say 206 of 206 threads are blocked"
	else
		pass $t
	fi
}

# a kernel without the snapshot's needs (stood in for by
# AP_TEST_NO_SNAPSHOT), or one whose verifier refuses the iterator
# (AP_TEST_SNAPSHOT_REJECT): one warning, the attach works, and the threads
# keep what they had before: a root frame naming the syscall, reason unknown
t_hung_fallback() {
	local t=hung_fallback d=$O/hung_fallback n v why
	for v in AP_TEST_NO_SNAPSHOT AP_TEST_SNAPSHOT_REJECT; do
		[ $v = AP_TEST_NO_SNAPSHOT ] && why='Linux 6.1' || why='the kernel refused its iterator'
		AP="env $v=1 $AP" hung_attach $t $d 1 /usr/bin/python3.11 tests/workloads/py/hung.py ||
			return
		n=$(grep -c 'snapshot' $d.err)
		if [ "$n" != 1 ] || ! grep -q "snapshot: .*$why" $d.err; then
			fail $t "$v: want one warning line ($why), got $n: $(head -3 $d.err)"
			return
		fi
		hung_fallback_rows $t $d $v || return
	done
	pass $t
}
hung_fallback_rows() { # NAME DIR CASE
	local t=$1 d=$2
	if [ "$(grep -c '^python3.11;\[blocked in futex since before profiling\];\[unknown\] ' $d/offcpu.folded)" != 1 ] ||
		! jq -e '[.threads[] | .off_ns.unknown > 0.9e9] | length == 6 and all' \
			$d/artifacts/offcpu.json >/dev/null; then
		fail $t "$3: the 6 threads are not under [blocked in futex since before profiling] with reason unknown"
		return 1
	fi
}

# a thread blocked since before the attach that wakes during the run: its
# time up to the wakeup goes under the snapshot's stack and reason too,
# not to unknown
t_hung_woke() {
	local t=hung_woke d=$O/hung_woke fifo=$O/hung_woke.fifo pid apid i n us unknown
	rm -rf $d $d.ready $fifo && mkfifo $fifo
	HUNG_WAKE_FIFO=$fifo /usr/bin/python3.11 tests/workloads/py/hung.py $d.ready >$d.target.log 2>&1 &
	pid=$!
	for ((i = 0; i < 200; i++)); do
		[ -s $d.ready ] && break
		sleep 0.1
	done
	$AP -q -p $pid -d 1.5 -o $d 2>$d.err & apid=$!
	# attached (its perf events open), then 0.5 s more: the snapshot, taken
	# right after, is long done even on a loaded machine
	for ((i = 0; i < 200; i++)); do
		n=$(ls -l /proc/$apid/fd 2>/dev/null | grep -c 'perf_event')
		[ "$n" -ge $(nproc) ] && break
		sleep 0.05
	done
	sleep 0.5
	echo x >$fifo
	wait $apid; i=$?
	kill $pid 2>/dev/null
	wait $pid 2>/dev/null
	[ $i = 0 ] && artifacts_ok $d || { fail $t "exit $i or artifacts incomplete: $(tail -1 $d.err)"; return; }
	us=$(hung_line_us $d/offcpu.folded hung_late_wait hung_late_caller io_pipe)
	unknown=$(jq '[.threads[] | .off_ns.unknown // 0] | add' $d/artifacts/offcpu.json)
	if [ -z "$us" ] || ! gt $us 450000; then
		fail $t "the woken thread has ${us:-no} us under its snapshot stack (want >= 0.45 s, the time before the wakeup)"
	elif [ "$unknown" != 0 ]; then
		fail $t "$unknown ns still unknown"
	elif ! grep -q 'Blocked for the whole run:\*\* 6 of 7 threads' $d/report.md; then
		fail $t "report.md does not say 6 of 7 threads were blocked the whole run (the 7th woke)"
	else
		pass $t
		echo "     $((us / 1000)) ms from the attach to the wakeup under the snapshot's stack"
	fi
}

SUITE_TESTS=(hung_py311 hung_py312 hung_py39 hung_native hung_many hung_fallback hung_woke)
