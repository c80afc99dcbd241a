# SPDX-License-Identifier: MIT
# run --all (every process on the host) and the filters applied in BPF.
# Sourced by tests/integration/run.sh (helpers and variables come from
# there). The host runs other processes too (builds, other profilers):
# every check is about workloads these tests start on their own (setsid,
# not children of the profiler, started once it records), named apall_*
# so that their samples are told apart by name and pid.

ALL_KILL=()
# start CMD... in its own session, detached; its pid in ALL_PID
all_start() {
	setsid "$@" </dev/null >/dev/null 2>&1 &
	ALL_PID=$!
	ALL_KILL+=($ALL_PID)
}
all_cleanup() {
	local p
	for p in "${ALL_KILL[@]}"; do kill -9 $p 2>/dev/null; done
	for p in "${ALL_KILL[@]}"; do wait $p 2>/dev/null; done
	ALL_KILL=()
}
# a copy of a workload binary under a name of its own (the comm)
all_bin() { # SRC NAME
	cp "$1" "$O/$2" && echo "$O/$2"
}
# wait until profiler PID records (its per-CPU sampling and side-band perf
# events are open); 1 after 30 s or if it died
all_wait_attached() { # PID
	local i n want=$((2 * $(nproc)))
	for ((i = 0; i < 300; i++)); do
		n=$(ls -l /proc/$1/fd 2>/dev/null | grep -c 'perf_event')
		[ "$n" -ge $want ] && return 0
		kill -0 $1 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
# start the profiler: --all -q -d 60 ARGS... -o DIR; its pid in ALL_AP
all_profile() { # DIR ARGS...
	local d=$1
	shift
	$AP --all -q -d 60 "$@" -o $d 2>$d.err &
	ALL_AP=$!
	all_wait_attached $ALL_AP && return 0
	kill -9 $ALL_AP 2>/dev/null
	wait $ALL_AP
	return 1
}
# Ctrl-C ends the recording: its exit status
all_stop() {
	kill -INT $ALL_AP 2>/dev/null
	wait $ALL_AP
}
# samples of folded lines whose first field (the process name) is NAME
all_comm_samples() { # FILE NAME
	samples "$1" "^$2;"
}

# A C workload and a Python script, both started after the recording
# began: the native main->leaf chain and the 70/30 Python split, found by
# lazy discovery (their first sample)
t_all_native_python() {
	local t=all_native_python d=$O/all-np cw py pyexe n chain r rc
	cw=$(all_bin $W/cwork apall_cw) || { fail $t "cannot copy cwork"; return; }
	pyexe=/usr/bin/python3.11
	[ -x $pyexe ] || { fail $t "needs $pyexe"; return; }
	ln -sf $pyexe $O/apall_py
	all_profile $d -F 199 || { fail $t "the profiler did not start: $(tail -1 $d.err)"; return; }
	all_start $cw 60
	cw=$ALL_PID
	all_start $O/apall_py $PYW/split.py 60
	py=$ALL_PID
	wait_cpu $cw 2 40
	wait_cpu $py 3 40
	all_stop
	rc=$?
	all_cleanup
	[ $rc = 0 ] || { fail $t "exit $rc: $(tail -1 $d.err)"; return; }
	artifacts_ok $d || { fail $t "artifacts missing or malformed"; return; }
	n=$(all_comm_samples $d/stacks.folded apall_cw)
	chain=$(samples $d/stacks.folded '^apall_cw;_start;__libc_start_main;__libc_start_call_main;main;run_workload;compute;leaf_[ab]$')
	r=$($JQ --argjson pid $py 'include "lib"; [pystacks[] | select(.pid == $pid)] as $p |
	  ($p | total) as $t |
	  ($p | map(select(.py[0].name == "<module>" and (.py[0].file | endswith("split.py")))) | total) as $mod |
	  ($p | map(select(.py[-1].name == "hot_a")) | total) as $a |
	  ($p | map(select(.py[-1].name == "hot_b")) | total) as $b |
	  if $t < 300 then "only \($t) samples of the Python script (3 CPU-s at 199 Hz)"
	  elif $mod / $t < 0.95 then "<module> outermost in \($mod) of \($t)"
	  elif ($a / ($a + $b) * 100 | . < 60 or . > 80) then "Python split \($a)/\($b), want 70/30"
	  else empty end' $d/artifacts/cpu.json)
	if ! gt $n 200; then
		fail $t "only $n samples of the C workload (2 CPU-s at 199 Hz)"
	elif ! ge $(ratio $chain $n) 0.90; then
		fail $t "full main->leaf chain in $chain of $n C samples (< 90%)"
	elif [ -n "$r" ]; then
		fail $t "$r"
	elif ! jq -e --argjson pid $py '.counters.processes_discovered > 0 and
		([.processes[] | select(.pid == $pid and .comm == "apall_py" and
		  (.cmdline | contains("split.py")))] | length) == 1' $d/artifacts/cpu.json >/dev/null; then
		fail $t "the Python process is not listed by pid, name and command line"
	elif ! jq -e '.target.mode == "all"' $d/run.json >/dev/null; then
		fail $t "run.json target mode is not all"
	else
		pass $t
		echo "     C: $n samples, full chain $(ratio $chain $n); Python split checked"
	fi
}

# A process found by its samples, which then execs another program: the
# samples after the exec are unwound with the new program's mappings, and
# the process carries the new command line
t_all_exec() {
	local t=all_exec d=$O/all-exec ex pid i c0 n chain rc
	ex=$(all_bin $W/cwork apall_ex) || { fail $t "cannot copy cwork"; return; }
	all_profile $d -F 199 || { fail $t "the profiler did not start: $(tail -1 $d.err)"; return; }
	# a busy shell first (sampled, so discovered), then the exec
	all_start bash -c 'e=$((SECONDS + 2)); while ((SECONDS < e)); do :; done; exec "$0" 60' $ex
	pid=$ALL_PID
	for ((i = 0; i < 200; i++)); do
		[ "$(cat /proc/$pid/comm 2>/dev/null)" = apall_ex ] && break
		sleep 0.1
	done
	c0=$(cpu_s $pid)
	wait_cpu $pid $(awk -v c=$c0 'BEGIN { print c + 2 }') 40
	all_stop
	rc=$?
	all_cleanup
	[ $rc = 0 ] || { fail $t "exit $rc: $(tail -1 $d.err)"; return; }
	n=$(samples $d/stacks.folded '^apall_ex;.*run_workload')
	chain=$(samples $d/stacks.folded '^apall_ex;_start;__libc_start_main;__libc_start_call_main;main;run_workload;compute;leaf_[ab]$')
	if ! gt $n 200; then
		fail $t "only $n samples of the exec'd program (2 CPU-s at 199 Hz)"
	elif ! ge $(ratio $chain $n) 0.90; then
		fail $t "full main->leaf chain in $chain of $n samples after the exec (< 90%)"
	elif ! jq -e --argjson pid $pid '[.processes[] | select(.pid == $pid and .comm == "apall_ex" and
		(.cmdline | endswith("apall_ex 60")))] | length == 1' $d/artifacts/cpu.json >/dev/null; then
		fail $t "pid $pid is not listed as apall_ex with its new command line"
	elif ! gt $(samples $d/stacks.folded '^apall_ex;') $n; then
		fail $t "no samples of the shell before its exec"
	else
		pass $t
		echo "     $n samples after the exec, full chain $(ratio $chain $n)"
	fi
}

# --comm keeps only the tasks of that name: every sample is of it, and the
# others are counted as filtered_out
t_all_filter_comm() {
	local t=all_filter_comm d=$O/all-comm a b n other rc
	a=$(all_bin $W/cwork apall_fc) && b=$(all_bin $W/cwork apall_fo) ||
		{ fail $t "cannot copy cwork"; return; }
	all_profile $d --comm apall_fc || { fail $t "the profiler did not start: $(tail -1 $d.err)"; return; }
	all_start $a 60
	a=$ALL_PID
	all_start $b 60
	b=$ALL_PID
	wait_cpu $a 1.5 40
	wait_cpu $b 1.5 40
	all_stop
	rc=$?
	all_cleanup
	[ $rc = 0 ] || { fail $t "exit $rc: $(tail -1 $d.err)"; return; }
	n=$(all_comm_samples $d/stacks.folded apall_fc)
	other=$(grep -v '^apall_fc;' $d/stacks.folded | samples /dev/stdin .)
	if ! gt $n 50; then
		fail $t "only $n samples of apall_fc (1.5 CPU-s at 99 Hz)"
	elif [ "$other" != 0 ]; then
		fail $t "$other samples of other processes with --comm apall_fc"
	elif ! jq -e '[.processes[] | select(.comm != "apall_fc")] | length == 0' \
		$d/artifacts/cpu.json >/dev/null; then
		fail $t "cpu.json lists processes other than apall_fc"
	elif ! jq -e '.counters.filtered_out > 0' $d/artifacts/cpu.json >/dev/null; then
		fail $t "filtered_out is not counted"
	else
		pass $t
		echo "     $n samples, all of apall_fc; filtered_out $(jq .counters.filtered_out $d/artifacts/cpu.json)"
	fi
}

# --exclude-comm and --exclude-pid: nothing of those processes in any
# artifact (they never reach userspace), counted as filtered_out, while a
# third workload is recorded. A process that starts during the recording
# is its parent's copy (another name) until its exec: from the exec on,
# none of its samples may be recorded
t_all_filter_exclude() {
	local t=all_filter_exclude d=$O/all-excl xc xc2 xp ok n hits pids late rc
	xc=$(all_bin $W/cwork apall_xc) && xp=$(all_bin $W/sysheavy apall_xp) &&
		ok=$(all_bin $W/cwork apall_ok) || { fail $t "cannot copy workloads"; return; }
	all_start $xp 60
	xp=$ALL_PID
	all_start $xc 60
	xc2=$O/apall_xc
	xc=$ALL_PID
	all_profile $d --exclude-comm apall_xc --exclude-pid $xp ||
		{ fail $t "the profiler did not start: $(tail -1 $d.err)"; all_cleanup; return; }
	all_start $xc2 60
	xc2=$ALL_PID
	all_start $ok 60
	ok=$ALL_PID
	wait_cpu $xc2 1.5 40
	wait_cpu $ok 1.5 40
	all_stop
	rc=$?
	all_cleanup
	[ $rc = 0 ] || { fail $t "exit $rc: $(tail -1 $d.err)"; return; }
	n=$(all_comm_samples $d/stacks.folded apall_ok)
	# the data files (run.json and the reports state the filters themselves)
	hits=$( (grep -l -e apall_xp $d/artifacts/* $d/*.folded $d/speedscope.json \
		$d/trace.json $d/flame.svg; zcat $d/profile.pb.gz | grep -c -e apall_xp |
		grep -v '^0$') 2>/dev/null | tr '\n' ' ')
	pids=$(jq -s --argjson a $xc --argjson b $xp '[.. | objects | select(has("pid")) |
		select(.pid == $a or .pid == $b)] | length' $d/artifacts/*.json)
	# after its exec (a sample of the shell that forks it, before the exec,
	# is that shell's, not the excluded program's): stacks in cwork's code
	late=$(jq --argjson p $xc2 '.strings as $s | .frames as $f | .stacks as $st |
		[.samples[] | select(.pid == $p) |
		 select(any($st[.stack][]; $s[$f[.].name] | test("^(compute|leaf_a|leaf_b|run_workload)$"))) |
		 .count] | add // 0' $d/artifacts/cpu.json)
	if ! gt $n 50; then
		fail $t "only $n samples of apall_ok (1.5 CPU-s at 99 Hz)"
	elif [ -n "$hits" ]; then
		fail $t "the excluded pid's process is named in: $hits"
	elif [ "$pids" != 0 ]; then
		fail $t "$pids rows of the excluded processes $xc (apall_xc), $xp (pid) in the artifacts"
	elif [ "$late" != 0 ] || [ "$(samples $d/stacks.folded "^apall_xc;.*(compute|leaf_a|leaf_b|run_workload)")" != 0 ]; then
		fail $t "$late samples of apall_xc started during the recording (pid $xc2)"
	elif ! jq -e '.counters.filtered_out > 0' $d/artifacts/cpu.json >/dev/null; then
		fail $t "filtered_out is not counted"
	else
		pass $t
		echo "     apall_ok $n samples; apall_xc and pid $xp absent; filtered_out $(jq .counters.filtered_out $d/artifacts/cpu.json)"
	fi
}

# --cgroup keeps the tasks of a cgroup v2 directory (given as
# /proc/PID/cgroup shows it), --exclude-cgroup leaves them out
t_all_filter_cgroup() {
	local t=all_filter_cgroup d=$O/all-cg mnt cg name in out n other rc
	mnt=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
	[ -n "$mnt" ] || { fail $t "cgroup v2 is not mounted"; return; }
	name=apall-test-$$
	cg=$mnt/$name
	mkdir -p $cg || { fail $t "cannot create $cg"; return; }
	in=$(all_bin $W/cwork apall_cg) && out=$(all_bin $W/cwork apall_nc) ||
		{ fail $t "cannot copy cwork"; rmdir $cg; return; }
	all_start $in 60
	in=$ALL_PID
	echo $in >$cg/cgroup.procs || { fail $t "cannot move pid $in into $cg"; all_cleanup; rmdir $cg; return; }
	all_start $out 60
	out=$ALL_PID
	all_profile $d --cgroup /$name ||
		{ fail $t "the profiler did not start: $(tail -1 $d.err)"; all_cleanup; rmdir $cg; return; }
	wait_cpu $in $(awk -v c=$(cpu_s $in) 'BEGIN { print c + 1.5 }') 40
	all_stop
	rc=$?
	n=$(all_comm_samples $d/stacks.folded apall_cg)
	other=$(grep -v '^apall_cg;' $d/stacks.folded | samples /dev/stdin .)
	# the other way round: everything but the cgroup (of these two)
	all_profile $d-x --exclude-cgroup $cg --comm apall_cg --comm apall_nc ||
		{ fail $t "the profiler did not start: $(tail -1 $d-x.err)"; all_cleanup; rmdir $cg; return; }
	wait_cpu $out $(awk -v c=$(cpu_s $out) 'BEGIN { print c + 1.5 }') 40
	all_stop
	rc=$((rc | $?))
	all_cleanup
	rmdir $cg
	if [ $rc != 0 ]; then
		fail $t "exit $rc: $(tail -1 $d.err) $(tail -1 $d-x.err)"
	elif ! gt $n 50; then
		fail $t "only $n samples of the workload in $cg"
	elif [ "$other" != 0 ]; then
		fail $t "$other samples from outside $cg with --cgroup /$name"
	elif [ "$(all_comm_samples $d-x/stacks.folded apall_cg)" != 0 ]; then
		fail $t "samples of apall_cg with --exclude-cgroup $cg"
	elif ! gt $(all_comm_samples $d-x/stacks.folded apall_nc) 50; then
		fail $t "too few samples of apall_nc with --exclude-cgroup"
	elif ! jq -e --arg cg "$cg" '.target.filters == "cgroup=\($cg)"' $d/run.json >/dev/null; then
		fail $t "run.json does not state the filter: $(jq -c .target $d/run.json)"
	else
		pass $t
		echo "     $n samples inside $name, none outside; exclusion holds"
	fi
}

# bad filter input: one clear line, exit 2, nothing loaded
t_all_bad_filters() {
	local t=all_bad_filters d=$O/all-bad err="" args rc lines
	while IFS='|' read -r args want; do
		# shellcheck disable=SC2086
		$AP --all -d 1 -o $d $args >$d.out 2>$d.err
		rc=$?
		lines=$(wc -l <$d.err)
		if [ $rc != 2 ] || [ "$lines" != 1 ] || ! grep -q -- "$want" $d.err || [ -e $d ]; then
			err="$err [$args: exit $rc, $lines lines: $(head -c 200 $d.err)]"
		fi
	done <<'EOF'
-p 12x|'12x' is not a process id
--exclude-pid 1,,2|is not a process id
--comm abcdefghijklmnop|longer than 15 bytes
--exclude-comm abcdefghijklmnop|longer than 15 bytes
--cgroup /no-such-cgroup-apall|is not a cgroup
--exclude-cgroup /tmp|is not a cgroup v2 directory
EOF
	$AP --comm python3 -- true >/dev/null 2>$d.err
	rc=$?
	[ $rc = 2 ] && grep -q 'add --all' $d.err || err="$err [--comm without --all: exit $rc]"
	$AP --all -- true >/dev/null 2>$d.err
	rc=$?
	[ $rc = 2 ] && grep -q 'give no command' $d.err || err="$err [--all with a command: exit $rc]"
	if [ -n "$err" ]; then
		fail $t "$err"
	else
		pass $t
	fi
}

# --exclude-cgroup and --cgroup hold at any depth: a busy task 18 levels
# down (the excluded cgroup, then l1 .. l17) is left out of an exclusion of
# the top one, and kept by an include of a middle one (l1)
t_all_filter_deep_cgroup() {
	local t=all_filter_deep_cgroup d=$O/all-deep mnt top leaf i in out rc n x nin other
	mnt=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
	[ -n "$mnt" ] || { fail $t "cgroup v2 is not mounted"; return; }
	top=$mnt/apall-deep-$$
	leaf=$top
	for ((i = 1; i <= 17; i++)); do leaf=$leaf/l$i; done
	mkdir -p $leaf || { fail $t "cannot create $leaf"; all_rmdirs $leaf $mnt; return; }
	in=$(all_bin $W/cwork apall_dp) && out=$(all_bin $W/cwork apall_dn) ||
		{ fail $t "cannot copy cwork"; all_rmdirs $leaf $mnt; return; }
	all_start $in 60
	in=$ALL_PID
	echo $in >$leaf/cgroup.procs || { fail $t "cannot move pid $in into $leaf"; all_cleanup; all_rmdirs $leaf $mnt; return; }
	all_start $out 60
	out=$ALL_PID
	all_profile $d --exclude-cgroup $top --comm apall_dp --comm apall_dn ||
		{ fail $t "the profiler did not start: $(tail -1 $d.err)"; all_cleanup; all_rmdirs $leaf $mnt; return; }
	wait_cpu $out $(awk -v c=$(cpu_s $out) 'BEGIN { print c + 1.5 }') 40
	wait_cpu $in $(awk -v c=$(cpu_s $in) 'BEGIN { print c + 1 }') 40
	all_stop
	rc=$?
	x=$(all_comm_samples $d/stacks.folded apall_dp)
	n=$(all_comm_samples $d/stacks.folded apall_dn)
	all_profile $d-in --cgroup $top/l1 ||
		{ fail $t "the profiler did not start: $(tail -1 $d-in.err)"; all_cleanup; all_rmdirs $leaf $mnt; return; }
	wait_cpu $in $(awk -v c=$(cpu_s $in) 'BEGIN { print c + 1.5 }') 40
	all_stop
	rc=$((rc | $?))
	all_cleanup
	all_rmdirs $leaf $mnt
	nin=$(all_comm_samples $d-in/stacks.folded apall_dp)
	other=$(grep -v '^apall_dp;' $d-in/stacks.folded | samples /dev/stdin .)
	if [ $rc != 0 ]; then
		fail $t "exit $rc: $(tail -1 $d.err) $(tail -1 $d-in.err)"
	elif [ "$x" != 0 ]; then
		fail $t "$x samples of apall_dp, 18 levels below the excluded $top"
	elif ! gt $n 50; then
		fail $t "only $n samples of apall_dn with --exclude-cgroup"
	elif ! gt $nin 50; then
		fail $t "only $nin samples of apall_dp with --cgroup $top/l1 (17 levels above it)"
	elif [ "$other" != 0 ]; then
		fail $t "$other samples from outside $top/l1 with --cgroup $top/l1"
	else
		pass $t
		echo "     excluded 18 deep: 0 samples (apall_dn $n); included from l1: $nin"
	fi
}
# rmdir LEAF and its parents up to (not including) STOP
all_rmdirs() { # LEAF STOP
	local c=$1
	while [ "$c" != "$2" ] && [ "${#c}" -gt "${#2}" ]; do
		rmdir $c 2>/dev/null
		c=${c%/*}
	done
}

# -p takes its full 64 pids (the profiler's own exclusion is on top of
# them): 63 sleeping processes and a busy one, whose samples are the only
# ones recorded
t_all_filter_64_pids() {
	local t=all_filter_64_pids d=$O/all-64p b pids i rc n other
	b=$(all_bin $W/cwork apall_pp) || { fail $t "cannot copy cwork"; return; }
	all_start $b 60
	b=$ALL_PID
	pids=$b
	for ((i = 0; i < 63; i++)); do
		all_start sleep 60
		pids=$pids,$ALL_PID
	done
	all_profile $d -p $pids ||
		{ fail $t "the profiler did not start with 64 pids: $(tail -1 $d.err)"; all_cleanup; return; }
	wait_cpu $b $(awk -v c=$(cpu_s $b) 'BEGIN { print c + 1.5 }') 40
	all_stop
	rc=$?
	all_cleanup
	n=$(all_comm_samples $d/stacks.folded apall_pp)
	other=$(grep -v '^apall_pp;' $d/stacks.folded | samples /dev/stdin .)
	if [ $rc != 0 ]; then
		fail $t "exit $rc with 64 pids: $(tail -1 $d.err)"
	elif ! gt $n 50; then
		fail $t "only $n samples of apall_pp (pid $b, one of the 64)"
	elif [ "$other" != 0 ]; then
		fail $t "$other samples of processes not among the 64 pids"
	else
		pass $t
		echo "     64 pids loaded; apall_pp $n samples, nothing else"
	fi
}

# a thread that renames itself (as PR_SET_NAME does) to an excluded name is
# judged again: its syscalls after the rename are not counted any more
t_all_filter_rename() {
	local t=all_filter_rename d=$O/all-ren py pyexe pid i rc calls
	pyexe=/usr/bin/python3.11
	[ -x $pyexe ] || { fail $t "needs $pyexe"; return; }
	ln -sf $pyexe $O/apall_rn
	rm -f $O/apall_rn.done
	cat >$O/apall_rn.py <<'PY'
import sys, time
for _ in range(300):
    time.sleep(0.001)
with open("/proc/self/comm", "w") as f:
    f.write("apall_rx")
for _ in range(3000):
    time.sleep(0.001)
open(sys.argv[1], "w").close()
time.sleep(60)
PY
	all_profile $d --comm apall_rn --exclude-comm apall_rx ||
		{ fail $t "the profiler did not start: $(tail -1 $d.err)"; return; }
	all_start $O/apall_rn $O/apall_rn.py $O/apall_rn.done
	pid=$ALL_PID
	for ((i = 0; i < 400; i++)); do
		[ -e $O/apall_rn.done ] && break
		sleep 0.1
	done
	all_stop
	rc=$?
	all_cleanup
	calls=$(jq --argjson p $pid '[.processes[] | select(.pid == $p) | .syscalls[] |
		select(.name == "clock_nanosleep" or .name == "nanosleep" or .name == "select") | .count] |
		add // 0' $d/artifacts/syscalls.json)
	if [ $rc != 0 ]; then
		fail $t "exit $rc: $(tail -1 $d.err)"
	elif [ ! -e $O/apall_rn.done ]; then
		fail $t "the workload did not finish its 3300 sleeps"
	elif ! gt $calls 100; then
		fail $t "only $calls sleeps of pid $pid counted before its rename (300 made)"
	elif gt $calls 1000; then
		fail $t "$calls sleeps of pid $pid counted: the 3000 after its rename to the excluded apall_rx are in"
	else
		pass $t
		echo "     $calls sleeps counted (300 before the rename, 3000 after it)"
	fi
}

SUITE_TESTS=(all_native_python all_exec all_filter_comm all_filter_exclude all_filter_cgroup
	all_bad_filters all_filter_deep_cgroup all_filter_64_pids all_filter_rename)
