# SPDX-License-Identifier: MIT
# The runner: who the launched target runs as, which PIDs may be attached
# to, how signals and a crashed target are reported, strict options.
# Sourced by tests/integration/run.sh (helpers and $AP, $W, $O come from it).

# a user with a supplementary group, for the switch to the invoking user
RUNNER_USER=ap-runner-test
runner_user() {
	getent passwd $RUNNER_USER >/dev/null ||
		useradd -r -M -d /tmp/$RUNNER_USER-home -s /bin/sh -G users $RUNNER_USER 2>/dev/null
	getent passwd $RUNNER_USER >/dev/null
}

# as `sudo autoprof-bpf -- CMD` runs it: the target gets the invoking user's
# uid, gid, groups and HOME, no capabilities, and the rest of the environment
t_target_user() {
	local d=$O/tuser uid gid err="" got want
	if ! runner_user; then
		fail target_user "could not create the test user $RUNNER_USER (useradd)"
		return
	fi
	uid=$(id -u $RUNNER_USER) gid=$(id -g $RUNNER_USER)
	SUDO_UID=$uid SUDO_GID=$gid AP_RUNNER_MARK=kept $AP -q -o $d -- sh -c \
		'echo "uid=$(id -u) gid=$(id -g) groups=$(id -G | tr " " "\n" | sort -n | tr "\n" ,)";
		 grep -E "^Cap(Eff|Prm|Amb):" /proc/self/status | tr -d "\t";
		 echo "home=$HOME user=$USER logname=$LOGNAME mark=$AP_RUNNER_MARK"' >$d.out 2>$d.err ||
		err="$err [exit $?: $(tail -1 $d.err)]"
	want="uid=$uid gid=$gid groups=$(id -G $RUNNER_USER | tr ' ' '\n' | sort -n | tr '\n' ,)"
	grep -qx "$want" $d.out || err="$err [ids: $(head -1 $d.out), want $want]"
	[ "$(grep -c ':0000000000000000$' $d.out)" = 3 ] || err="$err [capabilities: $(grep Cap $d.out | tr '\n' ' ')]"
	grep -qx "home=/tmp/$RUNNER_USER-home user=$RUNNER_USER logname=$RUNNER_USER mark=kept" $d.out ||
		err="$err [environment: $(tail -1 $d.out)]"
	# --as-root keeps root explicitly
	got=$(SUDO_UID=$uid SUDO_GID=$gid $AP -q --as-root -o $d-root -- id -u 2>$d.err)
	[ "$got" = 0 ] || err="$err [--as-root ran as '$got']"
	# --user NAME or uid, from root without sudo
	got=$(env -u SUDO_UID -u SUDO_GID $AP -q --user nobody -o $d-nobody -- id -u 2>$d.err)
	[ "$got" = 65534 ] || err="$err [--user nobody ran as '$got']"
	got=$(env -u SUDO_UID -u SUDO_GID $AP -q --user 65534 -o $d-nobody-uid -- id -un 2>$d.err)
	[ "$got" = nobody ] || err="$err [--user 65534 ran as '$got']"
	# root without sudo: root, as before
	got=$(env -u SUDO_UID -u SUDO_GID $AP -q -o $d-plain -- id -u 2>$d.err)
	[ "$got" = 0 ] || err="$err [plain root run as '$got']"
	[ -z "$err" ] && pass target_user || fail target_user "$err"
}

# the command is found and checked with the target user's permissions
t_target_user_exec() {
	local d=$O/tuser-exec rc err="" x=$O/root-only-cmd
	printf '#!/bin/sh\necho ran\n' >$x && chmod 0700 $x
	SUDO_UID=65534 SUDO_GID=65534 $AP -q -o $d -- $x >$d.out 2>$d.err; rc=$?
	[ $rc = 126 ] && [ "$(wc -l <$d.err)" = 1 ] && grep -q "permission denied" $d.err &&
		[ ! -s $d.out ] || err="$err [root-only file as nobody: exit $rc, $(cat $d.err $d.out | tr '\n' ' ')]"
	SUDO_UID=65534 SUDO_GID=65534 $AP -q --as-root -o $d -- $x >$d.out 2>$d.err; rc=$?
	[ $rc = 0 ] && grep -qx ran $d.out || err="$err [--as-root: exit $rc]"
	# a PATH directory only root may enter: not searched for the user
	mkdir -p $O/rootbin && chmod 0700 $O/rootbin && cp $x $O/rootbin/ap-only-root && chmod 0755 $O/rootbin/ap-only-root
	PATH=$O/rootbin:$PATH SUDO_UID=65534 SUDO_GID=65534 $AP -q -o $d -- ap-only-root >$d.out 2>$d.err; rc=$?
	[ $rc = 127 ] || err="$err [command in a root-only PATH directory: exit $rc, want 127 (not found for the user)]"
	PATH=$O/rootbin:$PATH SUDO_UID=65534 SUDO_GID=65534 $AP -q -o $d -- no-such-command-ap 2>$d.err; rc=$?
	[ $rc = 127 ] && grep -q "command not found" $d.err || err="$err [missing command past a root-only PATH directory: exit $rc]"
	[ -z "$err" ] && pass target_user_exec || fail target_user_exec "$err"
}

# a switch that would leave capabilities (securebits keep them across the
# uid change) ends the child before it runs anything: one line, exit 125
t_target_user_drop_fails() {
	local d=$O/tuser-keepcaps rc
	SUDO_UID=65534 SUDO_GID=65534 setpriv --securebits +no_setuid_fixup \
		$AP -q -o $d -- sh -c 'echo RAN' >$d.out 2>$d.err; rc=$?
	if [ $rc != 125 ] || [ "$(wc -l <$d.err)" != 1 ] || ! grep -q "capabilities left" $d.err; then
		fail target_user_drop_fails "exit $rc: $(cat $d.err)"
	elif [ -s $d.out ]; then
		fail target_user_drop_fails "the target ran: $(cat $d.out)"
	else
		pass target_user_drop_fails
	fi
}

# bad --user uses: exit 2 and one line each
t_target_user_usage() {
	local err="" rc lines args
	while IFS='|' read -r want args; do
		# shellcheck disable=SC2086
		$AP $args >/dev/null 2>$O/tuser-usage.err; rc=$?
		lines=$(wc -l <$O/tuser-usage.err)
		[ "$rc" = "$want" ] && [ "$lines" = 1 ] || err="$err [$args: exit $rc, $lines lines: $(head -1 $O/tuser-usage.err)]"
	done <<-LIST
	2|--user no-such-user-ap -- true
	2|--user 4000000000 -- true
	2|--user nobody --as-root -- true
	2|--user nobody -p 1
	2|--as-root -p 1
	LIST
	[ -z "$err" ] && pass target_user_usage || fail target_user_usage "$err"
}

# -p of a thread's id profiles its process, and says so
t_pid_thread() {
	local d=$O/pidthread pid tid rc n
	python3 -c 'import threading, time
def work():
    end = time.time() + 6
    while time.time() < end:
        sum(range(1000))
t = threading.Thread(target=work); t.start(); t.join()' & pid=$!
	sleep 0.5
	tid=$(ls /proc/$pid/task | grep -vx $pid | head -1)
	$AP -p $tid,$pid -d 1.5 -o $d >/dev/null 2>$d.err; rc=$?
	n=$(jq '.collectors.cpu.samples' $d/run.json 2>/dev/null)
	if [ -z "$tid" ]; then
		fail pid_thread "no second thread in python3 (pid $pid)"
	elif [ $rc != 0 ]; then
		fail pid_thread "exit $rc: $(tail -1 $d.err)"
	elif ! grep -q "pid $tid is a thread of process $pid (python3): profiling $pid" $d.err; then
		fail pid_thread "no line saying that $tid is a thread of $pid: $(head -2 $d.err)"
	elif ! jq -e ".target.pids == [$pid]" $d/run.json >/dev/null; then
		fail pid_thread "run.json pids $(jq -c .target.pids $d/run.json), want [$pid]"
	elif ! gt "$n" 30; then
		fail pid_thread "$n samples in 1.5 s of a spinning thread at 99 Hz"
	else
		pass pid_thread
	fi
	kill $pid 2>/dev/null; wait $pid 2>/dev/null
}

# -p 1,1 is one pid
t_pid_dedup() {
	local d=$O/piddup pid rc
	sleep 10 & pid=$!
	$AP -q -p $pid,$pid -d 0.5 -o $d 2>$d.err; rc=$?
	if [ $rc != 0 ]; then
		fail pid_dedup "exit $rc: $(tail -1 $d.err)"
	elif ! jq -e ".target.pids == [$pid]" $d/run.json >/dev/null; then
		fail pid_dedup "run.json pids $(jq -c .target.pids $d/run.json), want [$pid]"
	else
		pass pid_dedup
	fi
	kill $pid 2>/dev/null; wait $pid 2>/dev/null
}

# nothing to profile: a kernel thread, a zombie. One line, exit 2
t_pid_refused() {
	local err="" rc z=$O/zombie.pid holder kt
	# a child that exits and whose parent (now `sleep`) never reaps it
	bash -c "sleep 0.1 & echo \$! >$z; exec sleep 10" & holder=$!
	sleep 0.6
	# a kernel thread: PF_KTHREAD (0x00200000) in the flags, field 9 of stat
	# (kthreadd is pid 2 on a host, but not in every PID namespace)
	local f st flags
	kt=
	for f in /proc/[0-9]*/stat; do
		st=$(<$f) 2>/dev/null || continue
		read -r _ _ _ _ _ _ flags _ <<<"${st##*) }"
		if [ -n "$flags" ] && (( (flags >> 21) & 1 )); then
			kt=${f#/proc/}
			kt=${kt%/stat}
			break
		fi
	done
	if [ -z "$kt" ]; then
		err="$err [no kernel thread visible in /proc (a PID namespace?): cannot test the refusal]"
	else
		$AP -q -p $kt -d 1 -o $O/kthread 2>$O/kthread.err; rc=$?
		[ $rc = 2 ] && [ "$(wc -l <$O/kthread.err)" = 1 ] && grep -q "kernel thread" $O/kthread.err ||
			err="$err [pid $kt (kernel thread): exit $rc, $(cat $O/kthread.err)]"
	fi
	if [ "$(awk '/^State:/ { print $2 }' /proc/$(cat $z)/status 2>/dev/null)" != Z ]; then
		err="$err [could not make a zombie: pid $(cat $z) is $(grep State: /proc/$(cat $z)/status 2>&1)]"
	else
		$AP -q -p $(cat $z) -d 1 -o $O/zombie 2>$O/zombie.err; rc=$?
		[ $rc = 2 ] && [ "$(wc -l <$O/zombie.err)" = 1 ] && grep -q "zombie" $O/zombie.err ||
			err="$err [zombie $(cat $z): exit $rc, $(cat $O/zombie.err)]"
	fi
	kill $holder 2>/dev/null; wait $holder 2>/dev/null
	[ -z "$err" ] && pass pid_refused || fail pid_refused "$err"
}

# numbers are strict decimal; contradictory views are refused. One line, exit 2
t_strict_options() {
	local err="" rc lines args
	while IFS='|' read -r want args; do
		# shellcheck disable=SC2086
		eval "\$AP $args" >/dev/null 2>$O/strict.err; rc=$?
		lines=$(wc -l <$O/strict.err)
		[ "$rc" = "$want" ] && [ "$lines" = 1 ] || err="$err [$args: exit $rc, $lines lines]"
	done <<-'LIST'
	2|-F ' 99' -- true
	2|-F +99 -- true
	2|-F 0x63 -- true
	2|-F '99 ' -- true
	2|-d ' 1' -- true
	2|-d 0x1 -- true
	2|-d 1e1 -- true
	2|-d inf -- true
	2|--stack-size 0x1000 -- true
	2|--ringbuf-mb ' 16' -- true
	2|--py-depth +8 -- true
	2|--min-block -1 -- true
	2|--slow-syscall 0x10 -- true
	2|--trace-min-block ' 5' -- true
	2|-p ' 1'
	2|-p +1
	2|-p 0x1
	2|-p 1,,
	2|--python-only --native-only -- true
	2|--python-only --full-stacks -- true
	2|--native-only --full-stacks -- true
	2|report --python-only --full-stacks /tmp
	LIST
	[ -z "$err" ] && pass strict_options || fail strict_options "$err"
}

# wait up to 10 s for a line matching RE in FILE
runner_wait_line() { # FILE RE
	local i
	for i in $(seq 100); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# signals sent to autoprof-bpf alone (kill, a supervisor): the messages name
# the signal received, and giving up exits 128+N for that signal
t_signal_words() {
	local d=$O/sigwords apid rc tpid err=""
	# a target that ignores SIGTERM: the 1st is passed on, the 2nd stops
	# profiling, the 3rd stops waiting
	$AP -o $d -- sh -c 'trap "" TERM; exec sleep 12' >/dev/null 2>$d.err & apid=$!
	sleep 1.5
	kill -TERM $apid; sleep 0.3; kill -TERM $apid
	runner_wait_line $d.err "waiting for pid" || err="$err [no waiting line after two SIGTERMs]"
	kill -TERM $apid
	wait $apid; rc=$?
	tpid=$(jq .target.pid $d/run.json 2>/dev/null)
	[ -n "$tpid" ] && [ "$tpid" != 0 ] && kill -KILL $tpid 2>/dev/null
	[ $rc = 143 ] || err="$err [exit $rc after three SIGTERMs, want 143]"
	grep -q "profiling stopped on a second signal (SIGTERM); waiting for pid $tpid" $d.err ||
		err="$err [stop line: $(grep -i 'stopped' $d.err | head -1)]"
	grep -q "stopped waiting for pid $tpid on SIGTERM" $d.err || err="$err [no give-up line naming SIGTERM]"
	grep -qi "ctrl-c" $d.err && err="$err [speaks of Ctrl-C though none was pressed]"
	artifacts_ok $d || err="$err [artifacts incomplete]"
	# -d in launch mode: said, and the target's status is still passed on
	$AP -d 0.5 -o $d-dur -- sh -c 'sleep 1.5; exit 3' >/dev/null 2>$d-dur.err; rc=$?
	[ $rc = 3 ] || err="$err [-d: exit $rc, want the target's 3]"
	grep -q "profiling stopped after -d 0.5 s; waiting for pid [0-9]* to exit" $d-dur.err ||
		err="$err [-d line: $(grep -i stopped $d-dur.err | head -1)]"
	# after -d, the 1st signal is passed on (ignored here), the 2nd stops waiting
	$AP -q -d 0.3 -o $d-hup -- sh -c 'trap "" HUP; exec sleep 12' >/dev/null 2>$d-hup.err & apid=$!
	sleep 1.5
	kill -HUP $apid; sleep 0.3; kill -HUP $apid
	wait $apid; rc=$?
	tpid=$(jq .target.pid $d-hup/run.json 2>/dev/null)
	[ -n "$tpid" ] && [ "$tpid" != 0 ] && kill -KILL $tpid 2>/dev/null
	[ $rc = 129 ] || err="$err [exit $rc after -d and two SIGHUPs, want 129]"
	[ -z "$err" ] && pass signal_words || fail signal_words "$err"
}

# a crashed or killed target, or followed child, is named as such: in the
# summary, in report.md and as a killed_by_signal finding; a SIGTERM is not a crash
runner_crash_finding() { # DIR PID
	jq -e --argjson pid "$2" '[.findings[] | select(.pattern_id == "killed_by_signal" and
		(.location | startswith("pid \($pid) ")))] | length == 1' "$1/findings.json" >/dev/null 2>&1
}
t_target_crash() {
	local d=$O/crash rc pid err=""
	$AP -o $d -- python3 -c 'import os; os.kill(os.getpid(), 11)' >/dev/null 2>$d.err; rc=$?
	pid=$(jq .target.pid $d/run.json 2>/dev/null)
	[ $rc = 139 ] || err="$err [SIGSEGV: exit $rc, want 139]"
	grep -q "the target was killed by SIGSEGV" $d.err || err="$err [summary does not name SIGSEGV]"
	grep -q "was killed by SIGSEGV" $d/report.md 2>/dev/null || err="$err [report.md does not name SIGSEGV]"
	runner_crash_finding $d "$pid" || err="$err [no killed_by_signal finding for pid $pid]"
	$AP -q -o $d-kill -- sh -c 'kill -KILL $$' 2>/dev/null; rc=$?
	pid=$(jq .target.pid $d-kill/run.json 2>/dev/null)
	[ $rc = 137 ] || err="$err [SIGKILL: exit $rc, want 137]"
	runner_crash_finding $d-kill "$pid" || err="$err [no killed_by_signal finding for SIGKILL]"
	grep -q "was killed by SIGKILL" $d-kill/report.md 2>/dev/null || err="$err [report.md does not name SIGKILL]"
	# a followed child that aborts while the target itself exits 0
	$AP -q -o $d-child -- sh -c 'python3 -c "import os; os.abort()"; exit 0' 2>/dev/null; rc=$?
	pid=$(jq '[.processes[] | select(.comm == "python3")][0].pid' $d-child/run.json 2>/dev/null)
	[ $rc = 0 ] || err="$err [child abort: exit $rc, want the target's 0]"
	runner_crash_finding $d-child "$pid" || err="$err [no killed_by_signal finding for the aborted child $pid]"
	# control: a target stopped by SIGTERM did not crash
	$AP -q -o $d-term -- sh -c 'kill -TERM $$' 2>/dev/null
	jq -e '[.findings[] | select(.pattern_id == "killed_by_signal")] | length == 0' \
		$d-term/findings.json >/dev/null 2>&1 || err="$err [SIGTERM reported as a crash]"
	[ -z "$err" ] && pass target_crash || fail target_crash "$err"
}

# a signal while the BPF programs load ends the run there: one line naming
# it, exit 128+N, and the target never runs (tried a few times: the load
# takes ~0.1 s, the signal must land inside it)
t_signal_during_load() {
	local d=$O/sigload apid rc i ok=0 seen=""
	for i in 1 2 3 4 5 6; do
		rm -f $d.ran
		$AP -q -o $d-$i -- sh -c "touch $d.ran" 2>$d.err & apid=$!
		sleep 0.0$((i + 2))
		kill -INT $apid
		wait $apid; rc=$?
		seen="$seen [$rc$([ -e $d.ran ] && echo ' ran')]"
		if [ $rc = 130 ] && [ ! -e $d.ran ] &&
			grep -qx "autoprof-bpf: interrupted by SIGINT before profiling started" $d.err &&
			[ "$(wc -l <$d.err)" = 1 ]; then
			ok=1
			break
		fi
	done
	[ $ok = 1 ] && pass signal_during_load ||
		fail signal_during_load "no attempt ended with the line and 130 before the target ran:$seen $(tail -1 $d.err)"
}

# an attached process that exits but is never reaped (a zombie) has ended:
# the run stops as for any exit, not at -d
t_attach_zombie_end() {
	local d=$O/attzombie holder pid rc start
	bash -c "sleep 1 & echo \$! >$d.pid; exec sleep 15" & holder=$!
	sleep 0.3
	pid=$(cat $d.pid)
	start=$(date +%s%N)
	$AP -q -p $pid -d 10 -o $d 2>$d.err; rc=$?
	local secs=$(( ($(date +%s%N) - start) / 1000000000 ))
	kill $holder 2>/dev/null; wait $holder 2>/dev/null
	if [ $rc != 0 ]; then
		fail attach_zombie_end "exit $rc: $(tail -1 $d.err)"
	elif [ $secs -ge 6 ]; then
		fail attach_zombie_end "ran $secs s: did not stop when pid $pid exited (a zombie left unreaped)"
	else
		pass attach_zombie_end
	fi
}

SUITE_TESTS=(target_user target_user_exec target_user_drop_fails target_user_usage pid_thread pid_dedup pid_refused
	strict_options signal_words target_crash signal_during_load
	attach_zombie_end)
