# SPDX-License-Identifier: MIT
# `autoprof-bpf agent` (issue 13): windows rotate into the store, each with
# run.json, cpu.json, a decodable profile.pb.gz with process labels and
# window.json; SIGTERM flushes the last window; SIGKILL leaves no partial
# window; --max-disk deletes (and counts); a full disk drops (and counts);
# a store that cannot be written is one line and exit 125; `analyze` on a
# window; a deleted binary keeps its names. The workloads are started on
# their own (setsid), not by the agent, and every assertion is about them
# (by pid): the agent sees every process on the host. Sourced by run.sh.

SUITE_TESTS=(agent_usage agent_rotation agent_python agent_sigterm agent_second_signal
	agent_sigkill agent_max_disk agent_disk_full agent_not_writable agent_store_foreign agent_deleted_binary
	agent_purge agent_offcpu)

AG_AP=$(readlink -f "$AP")
AG_O=$(readlink -f "$O")
AG_W=$(readlink -f "$W")
AG_PID=

# start the agent on store $1 with more options; its stderr in $1.err
ag_start() { # DIR ARGS...
	local d=$1
	shift
	rm -rf "$d" "$d.err"
	setsid "$AG_AP" agent -o "$d" "$@" 2>"$d.err" &
	AG_PID=$!
}
# SIGTERM (or $1) to the agent; its exit status
ag_stop() { # [SIGNAL]
	local rc
	kill -${1:-TERM} $AG_PID 2>/dev/null
	{ wait $AG_PID; } 2>/dev/null
	rc=$?
	AG_PID=
	return $rc
}
# the committed windows of a store, oldest first (hidden entries are not windows)
ag_windows() { # DIR
	find "$1" -mindepth 1 -maxdepth 1 -type d ! -name '.*' 2>/dev/null | sort
}
# wait until the store holds N windows (1 after TIMEOUT seconds)
ag_wait_windows() { # DIR N [TIMEOUT]
	local i
	for ((i = 0; i < ${3:-30} * 10; i++)); do
		[ $(ag_windows "$1" | wc -l) -ge $2 ] && return 0
		kill -0 $AG_PID 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
# folded stacks of one process in a window's cpu.json ("f1;f2;...;leaf COUNT")
ag_folded() { # WINDOW PID
	jq -r --argjson pid $2 '.strings as $s | .frames as $f | .stacks as $st |
		.samples[] | select(.pid == $pid) |
		([$st[.stack][] | $s[$f[.].name]] | join(";")) + " " + (.count | tostring)' \
		"$1/artifacts/cpu.json" 2>/dev/null
}
# samples of PID over every window of a store whose stack matches REGEX
ag_samples() { # DIR PID REGEX
	local w
	for w in $(ag_windows "$1"); do ag_folded $w $2; done >"$1.folded-$2"
	samples "$1.folded-$2" "$3"
}
# profile.pb.gz as protoc's text
ag_pprof() { # WINDOW
	gzip -dc "$1/profile.pb.gz" | protoc --decode=perftools.profiles.Profile -I docs docs/profile.proto
}
# the labels (key=value, one a line) of the first pprof sample of PID
ag_pprof_labels() { # WINDOW PID
	python3 - "$1/profile.pb.gz" "$2" <<'PY'
import gzip, subprocess, sys
raw = gzip.open(sys.argv[1]).read()
out = subprocess.run(["protoc", "--decode=perftools.profiles.Profile", "-I", "docs", "docs/profile.proto"],
                     input=raw, capture_output=True, check=True).stdout.decode()
# string_table entries, then each sample's labels (key, str or num)
strings = [l.split(":", 1)[1].strip()[1:-1] for l in out.splitlines() if l.startswith("string_table:")]
samples, cur, lab = [], None, None
for line in out.splitlines():
    t = line.strip()
    if line.startswith("sample {"):
        cur = {}
        samples.append(cur)
    elif t == "label {":
        lab = {}
    elif lab is not None and t == "}":
        k = strings[int(lab["key"])]
        cur[k] = strings[int(lab["str"])] if "str" in lab else lab.get("num", "")
        lab = None
    elif lab is not None and ":" in t:
        a, b = t.split(":", 1)
        lab[a.strip()] = b.strip()
for s in samples:
    if s.get("pid") == sys.argv[2]:
        print("\n".join("%s=%s" % kv for kv in sorted(s.items())))
        break
else:
    sys.exit(1)
PY
}
ag_err() { tr '\n' ' ' <"$1" | cut -c1-300; }
# a window is complete: every file, each readable
ag_window_ok() { # WINDOW
	jq -e '.schema == "autoprof.run/1"' "$1/run.json" >/dev/null 2>&1 &&
		jq -e '.schema == "autoprof.cpu/1"' "$1/artifacts/cpu.json" >/dev/null 2>&1 &&
		jq -e '.schema == "autoprof.window/1"' "$1/window.json" >/dev/null 2>&1 &&
		ag_pprof "$1" >/dev/null 2>&1
}

t_agent_usage() {
	local e=$AG_O/agent-usage.err bad=
	for args in "--interval 0" "--interval x" "--max-disk -1" "--max-disk 1e3" "--max-disk 0" "-F 0" "--bogus" "--comm" "--exclude-pid x" "some command"; do
		# shellcheck disable=SC2086
		$AG_AP agent -o $AG_O/agent-usage $args 2>$e
		rc=$?
		if [ $rc != 2 ] || [ $(wc -l <$e) != 1 ]; then
			bad="$bad [$args: exit $rc, $(wc -l <$e) lines]"
		fi
	done
	if [ -n "$bad" ]; then
		fail agent_usage "usage errors:$bad"
	elif ! $AG_AP agent --help | grep -q "^USAGE: autoprof-bpf agent"; then
		fail agent_usage "--help has no USAGE line"
	elif [ -e $AG_O/agent-usage ]; then
		fail agent_usage "a usage error created the store"
	else
		pass agent_usage
	fi
}

# --interval 2 for ~7 s: >= 3 windows, each complete; the C workload's
# chain main->leaf and its labels in the pprof; analyze on a window
t_agent_rotation() {
	local d=$AG_O/agent-rot wpid n chain bad= w first last rc lab
	OTEL_SERVICE_NAME=agent-rot-svc setsid $AG_W/cwork 30 >/dev/null 2>&1 &
	wpid=$!
	ag_start $d --interval 2
	ag_wait_windows $d 3 30
	ag_stop
	rc=$?
	kill $wpid 2>/dev/null
	wait $wpid 2>/dev/null
	for w in $(ag_windows $d); do ag_window_ok $w || bad="$bad $(basename $w)"; done
	n=$(ag_samples $d $wpid '^_start;')
	# the user chain, with or without the kernel frames of an interrupt
	# taken in the leaf (a reschedule IPI, the timer: more on a busy host)
	chain=$(ag_samples $d $wpid '^_start;__libc_start_main;__libc_start_call_main;main;run_workload;compute;leaf_[ab](;|$)')
	first=$(ag_windows $d | sed -n 2p)
	last=$(ag_windows $d | tail -1)
	if [ $rc != 0 ]; then
		fail agent_rotation "agent exit $rc after SIGTERM: $(ag_err $d.err)"
	elif [ $(ag_windows $d | wc -l) -lt 3 ]; then
		fail agent_rotation "$(ag_windows $d | wc -l) windows in ~7 s at --interval 2: $(ag_err $d.err)"
	elif [ -n "$bad" ]; then
		fail agent_rotation "incomplete windows:$bad"
	elif [ -n "$(find $d -mindepth 1 -maxdepth 1 -name '.*')" ]; then
		fail agent_rotation "temp entries left: $(ls -A $d | grep '^\.')"
	elif ! gt $n 20; then
		fail agent_rotation "only $n samples of cwork (pid $wpid) in the windows"
	elif ! ge $(ratio $chain $n) 0.9; then
		fail agent_rotation "main->leaf chain in $chain of $n samples (< 90%)"
	elif ! jq -e --argjson p $wpid '.window.duration_s > 1.5 and .window.duration_s < 4 and
			(.processes | map(select(.pid == $p and .comm == "cwork" and .cpu_s > 0)) | length) == 1 and
			.agent.cpu_s >= 0 and .agent.rss_kb > 0 and (.counters | length) > 0' \
			$first/window.json >/dev/null; then
		fail agent_rotation "window.json of $(basename $first) lacks the span, cwork or the agent's cost"
	elif ! jq -e '.window.last' $last/window.json >/dev/null; then
		fail agent_rotation "the last window is not marked last"
	elif ! lab=$(ag_pprof $first) || ! grep -q "\"cwork\"" <<<"$lab" || ! grep -q "leaf_a" <<<"$lab"; then
		fail agent_rotation "profile.pb.gz of $(basename $first) does not name cwork and leaf_a"
	elif ! lab=$(ag_pprof_labels $first $wpid) ||
		! grep -qx "process=cwork" <<<"$lab" || ! grep -qx "service.name=agent-rot-svc" <<<"$lab" ||
		! grep -qx "process.executable.path=$AG_W/cwork" <<<"$lab" ||
		! grep -q "^process.executable.build_id.gnu=[0-9a-f]\{40\}$" <<<"$lab"; then
		fail agent_rotation "the pprof labels of cwork's samples: $(tr '\n' ' ' <<<"$lab")"
	elif ! jq -e --argjson p $wpid '.processes[] | select(.pid == $p) | .service == "agent-rot-svc"' \
			$first/window.json >/dev/null; then
		fail agent_rotation "window.json does not give cwork's service"
	elif ! $AG_AP analyze $first >$d.analyze 2>&1 || [ ! -s $first/findings.json ]; then
		fail agent_rotation "analyze on a window: $(ag_err $d.analyze)"
	else
		pass agent_rotation
		echo "     $(ag_windows $d | wc -l) windows; cwork: $n samples, chain $(ratio $chain $n)"
	fi
}

# a Python script's split with its function names, in the windows
t_agent_python() {
	local d=$AG_O/agent-py t=$AG_O/agent_split_py.py wpid a b nat rc
	cp tests/workloads/py/split.py $t
	setsid /usr/bin/python3.11 $t 30 >/dev/null 2>&1 &
	wpid=$!
	ag_start $d --interval 2 -F 97
	wait_cpu $wpid 4 40
	ag_stop
	rc=$?
	kill $wpid 2>/dev/null
	wait $wpid 2>/dev/null
	a=$(ag_samples $d $wpid ';main;hot_a(;|$)')
	b=$(ag_samples $d $wpid ';main;hot_b(;|$)')
	nat=$(ag_samples $d $wpid '^_start;.*;main;hot_[ab];.*_PyEval|^_start;.*main;hot_[ab]$')
	if [ $rc != 0 ]; then
		fail agent_python "agent exit $rc: $(ag_err $d.err)"
	elif ! gt $((a + b)) 50; then
		fail agent_python "hot_a $a, hot_b $b samples of pid $wpid (want > 50)"
	elif ! awk -v a=$a -v b=$b 'BEGIN { p = 100 * a / (a + b); exit !(p >= 60 && p <= 80) }'; then
		fail agent_python "hot_a/hot_b split $a/$b, want 70/30 +-10"
	elif [ "$(ag_samples $d $wpid '^_start;')" = 0 ]; then
		fail agent_python "no native chain from _start under the Python frames"
	else
		pass agent_python
		echo "     hot_a/hot_b $a/$b"
	fi
	rm -f $t
}

# SIGTERM flushes the last, partial window and exits 0
t_agent_sigterm() {
	local d=$AG_O/agent-term wpid rc w
	setsid $AG_W/cwork 30 >/dev/null 2>&1 &
	wpid=$!
	ag_start $d --interval 600
	wait_cpu $wpid 2 30
	sleep 1
	ag_stop TERM
	rc=$?
	kill $wpid 2>/dev/null
	wait $wpid 2>/dev/null
	w=$(ag_windows $d)
	if [ $rc != 0 ]; then
		fail agent_sigterm "exit $rc after SIGTERM: $(ag_err $d.err)"
	elif [ $(echo "$w" | grep -c .) != 1 ]; then
		fail agent_sigterm "$(echo "$w" | grep -c .) windows, want the one flushed"
	elif ! ag_window_ok $w; then
		fail agent_sigterm "the flushed window is incomplete"
	elif ! jq -e --argjson p $wpid '.window.last and (.processes | map(select(.pid == $p)) | length) == 1' \
			$w/window.json >/dev/null; then
		fail agent_sigterm "the flushed window is not last or lacks cwork"
	elif ! gt $(ag_samples $d $wpid 'leaf_[ab]$') 5; then
		fail agent_sigterm "the flushed window has no leaf samples of cwork"
	else
		pass agent_sigterm
	fi
}

# a second signal while the last window is written ends the agent at once
# (128+N), leaving only the store's temp directory, which the next start
# removes; if the write was done by then, the window is complete and the
# exit 0
t_agent_second_signal() {
	local d=$AG_O/agent-2sig rc n left
	ag_start $d --interval 600
	sleep 3
	kill -TERM $AG_PID
	sleep 0.001
	ag_stop INT
	rc=$?
	n=$(ag_windows $d | wc -l)
	if [ $rc = 130 ] && [ $n = 0 ]; then
		# the second signal came while the last window was being written
		# (a temp directory left) or before its writing began (none)
		left=$(find $d -mindepth 1 -maxdepth 1 -name '.*' | wc -l)
		# (not under timeout(1): it sends its signal to the group too, a second one)
		setsid "$AG_AP" agent -q -o $d --interval 1 2>$d.err2 &
		AG_PID=$!
		ag_wait_windows $d 1 20
		ag_stop
		if [ -n "$(find $d -mindepth 1 -maxdepth 1 -name '.*')" ]; then
			fail agent_second_signal "the temp directory survived the next start: $(ls -A $d | tr '\n' ' ')"
		elif ! jq -e --argjson n $left '.store.partial_windows_removed_at_start == $n' \
			$(ag_windows $d | tail -1)/window.json >/dev/null; then
			fail agent_second_signal "the next start did not count the $left temp directories it removed"
		else
			pass agent_second_signal
			echo "     exit 130 at the second signal; $left temp directory removed (and counted) at the next start"
		fi
	elif [ $rc = 0 ] || [ $rc = 130 ] && [ $n = 1 ] && ag_window_ok $(ag_windows $d); then
		# (130: the window was in place when the second signal came, as
		# the agent was exiting)
		pass agent_second_signal
		echo "     the last window was written before the second signal came (exit $rc)"
	else
		fail agent_second_signal "exit $rc with $n windows: $(ls -A $d | tr '\n' ' ') $(ag_err $d.err)"
	fi
}

# SIGKILL at any point leaves only complete windows, and the next start
# removes a partial one (planted as a SIGKILL mid-write leaves it)
t_agent_sigkill() {
	local d=$AG_O/agent-kill bad= w tmp rc
	ag_start $d --interval 1
	ag_wait_windows $d 2 30
	sleep 0.$((RANDOM % 10))
	ag_stop KILL
	for w in $(ag_windows $d); do ag_window_ok $w || bad="$bad $(basename $w)"; done
	tmp=.tmp-20200101T000000Z-000001 # the store's temp name of a window
	mkdir -p "$d/$tmp/artifacts" && echo '{"schema":' >"$d/$tmp/artifacts/cpu.json"
	setsid "$AG_AP" agent -o "$d" --interval 1 2>"$d.err2" &
	AG_PID=$!
	ag_wait_windows $d $(($(ag_windows $d | wc -l) + 1)) 30
	ag_stop
	rc=$?
	if [ -n "$bad" ]; then
		fail agent_sigkill "partial windows after SIGKILL:$bad"
	elif [ $rc != 0 ]; then
		fail agent_sigkill "restart: exit $rc: $(ag_err $d.err2)"
	elif [ -e "$d/$tmp" ] || [ -n "$(find $d -mindepth 1 -maxdepth 1 -name '.*')" ]; then
		fail agent_sigkill "the partial window survived the restart: $(ls -A $d | tr '\n' ' ')"
	elif ! jq -e '.store.partial_windows_removed_at_start >= 1' $(ag_windows $d | tail -1)/window.json >/dev/null; then
		fail agent_sigkill "the removal was not counted in window.json"
	else
		pass agent_sigkill
	fi
}

# a tiny --max-disk: the oldest windows go, every deletion is counted, and
# the store stays under the cap. Only cwork is profiled (--comm): a window
# of the whole host is bigger than the cap when other jobs run beside (with
# make test's ASan stage beside, every window was deleted), one of cwork ~22 KB
t_agent_max_disk() {
	local d=$AG_O/agent-disk cap=0.06 size del n rc
	setsid $AG_W/cwork 30 >/dev/null 2>&1 &
	local wpid=$!
	ag_start $d --interval 1 --max-disk $cap --comm cwork
	sleep 7
	ag_stop
	rc=$?
	kill $wpid 2>/dev/null
	wait $wpid 2>/dev/null
	# disk usage of the windows, as the store counts it
	size=$(du -s -B1 -c $(ag_windows $d) | tail -1 | cut -f1)
	del=$(jq -s 'map(.store.windows_deleted) | add' $(ag_windows $d | sed 's|$|/window.json|'))
	n=$(ag_windows $d | wc -l)
	if [ $rc != 0 ]; then
		fail agent_max_disk "exit $rc: $(ag_err $d.err)"
	elif [ $n = 0 ]; then
		fail agent_max_disk "no window kept with --max-disk $cap: $(ag_err $d.err)"
	elif ! gt $(jq '.store.windows_deleted_total' $(ag_windows $d | tail -1)/window.json) 0; then
		fail agent_max_disk "no deletion counted with --max-disk $cap ($n windows, $size bytes)"
	elif ! ge $(awk -v c=$cap 'BEGIN { print c * 1048576 }') $size; then
		fail agent_max_disk "the store holds $size bytes, over the cap of $cap MB"
	else
		pass agent_max_disk
		echo "     $n windows kept, $size bytes; deletions counted in the windows kept: $del"
	fi
}

# a full disk: windows are dropped and counted, the agent keeps running
t_agent_disk_full() {
	local m rc
	m=$(mktemp -d /tmp/ap-agfull.XXXXXX)
	if ! mount -t tmpfs -o size=16k tmpfs $m 2>$AG_O/agent-full.err; then
		fail agent_disk_full "cannot mount a 16k tmpfs: $(ag_err $AG_O/agent-full.err)"
		rmdir $m
		return
	fi
	ag_start $m/store --interval 1
	sleep 4
	kill -0 $AG_PID 2>/dev/null
	local alive=$?
	ag_stop
	rc=$?
	cp $m/store.err $AG_O/agent-full.err 2>/dev/null
	if [ $alive != 0 ]; then
		fail agent_disk_full "the agent died on a full disk: $(ag_err $m/store.err)"
	elif [ $rc != 0 ]; then
		fail agent_disk_full "exit $rc: $(ag_err $m/store.err)"
	elif ! grep -Eq "stopped after [0-9]+ windows \(([2-9]|[1-9][0-9]+) dropped" $m/store.err; then
		fail agent_disk_full "drops not counted: $(ag_err $m/store.err)"
	elif [ -n "$(find $m/store -mindepth 1 -maxdepth 1 -name '.*')" ]; then
		fail agent_disk_full "partial windows left: $(ls -A $m/store | tr '\n' ' ')"
	else
		pass agent_disk_full
	fi
	umount $m && rmdir $m
}

# a store that cannot be written: one line, exit 125, before any BPF
t_agent_not_writable() {
	local m e=$AG_O/agent-nw.err rc bad=
	m=$(mktemp -d /tmp/ap-agro.XXXXXX)
	mount -t tmpfs -o ro,size=16k tmpfs $m 2>$e || { fail agent_not_writable "cannot mount ro tmpfs"; rmdir $m; return; }
	touch $AG_O/agent-file
	for dir in $m/store $AG_O/agent-file/store $AG_O/agent-file; do
		timeout 20 $AG_AP agent -o $dir 2>$e
		rc=$?
		if [ $rc != 125 ] || [ $(wc -l <$e) != 1 ]; then
			bad="$bad [$dir: exit $rc: $(ag_err $e)]"
		fi
	done
	umount $m && rmdir $m
	[ -z "$bad" ] && pass agent_not_writable || fail agent_not_writable "$bad"
}

# an existing store another user could write into (or owns) is refused: they
# could lock it (the agent would not start) or rename its windows
t_agent_store_foreign() {
	local d=$AG_O/agent-foreign e=$AG_O/agent-foreign.err rc bad=
	rm -rf $d && mkdir -p $d
	for mode in 0777 0775; do
		chmod $mode $d
		timeout 20 $AG_AP agent -o $d 2>$e
		rc=$?
		if [ $rc != 125 ] || [ $(wc -l <$e) != 1 ] || ! grep -q "another user" $e; then
			bad="$bad [mode $mode: exit $rc: $(ag_err $e)]"
		fi
	done
	chmod 0755 $d && chown 65534 $d
	timeout 20 $AG_AP agent -o $d 2>$e
	rc=$?
	if [ $rc != 125 ] || ! grep -q "owned by uid 65534" $e; then
		bad="$bad [owned by 65534: exit $rc: $(ag_err $e)]"
	fi
	[ -z "$(ls -A $d)" ] || bad="$bad [the refused store was written into]"
	rm -rf $d
	[ -z "$bad" ] && pass agent_store_foreign || fail agent_store_foreign "$bad"
}

# a binary deleted while its process runs keeps its names in the windows
# closed after the deletion
t_agent_deleted_binary() {
	local d=$AG_O/agent-del t wpid n named rc w
	t=$(mktemp -d /tmp/ap-agdel.XXXXXX)
	cp $AG_W/cwork $t/cwork-deleted
	ag_start $d --interval 1
	setsid $t/cwork-deleted 30 >/dev/null 2>&1 &
	wpid=$!
	wait_cpu $wpid 1.5 30
	rm -f $t/cwork-deleted
	n=$(ag_windows $d | wc -l)
	ag_wait_windows $d $((n + 3)) 30
	ag_stop
	rc=$?
	kill $wpid 2>/dev/null
	wait $wpid 2>/dev/null
	rmdir $t
	# the windows that closed after the deletion
	for w in $(ag_windows $d | tail -n +$((n + 2))); do ag_folded $w $wpid; done >$d.after
	named=$(samples $d.after 'main;run_workload;compute;leaf_[ab]$')
	if [ $rc != 0 ]; then
		fail agent_deleted_binary "agent exit $rc: $(ag_err $d.err)"
	elif ! gt $(samples $d.after .) 5; then
		fail agent_deleted_binary "only $(samples $d.after .) samples of pid $wpid after the deletion"
	elif ! ge $(ratio $named $(samples $d.after .)) 0.8; then
		fail agent_deleted_binary "named main..leaf in $named of $(samples $d.after .) samples after the deletion"
	else
		pass agent_deleted_binary
	fi
}

# the purge tick evicts from small symbol tables while windows go on: the
# evictions are counted per window, and every window still names cwork's
# and the Python script's frames (ids renumbered under the collector)
t_agent_purge() {
	local d=$AG_O/agent-purge t=$AG_O/agent_purge_py.py cw py n chain a rc purges ev
	cp tests/workloads/py/split.py $t
	setsid $AG_W/cwork 30 >/dev/null 2>&1 &
	cw=$!
	setsid /usr/bin/python3.11 $t 30 >/dev/null 2>&1 &
	py=$!
	rm -rf $d
	AP_TEST_PURGE_MS=500 AP_TEST_PROFILE_CAPS=48,96,192 setsid "$AG_AP" agent -o $d --interval 1 -F 97 \
		2>$d.err &
	AG_PID=$!
	ag_wait_windows $d 6 40
	ag_stop
	rc=$?
	kill $cw $py 2>/dev/null
	wait $cw $py 2>/dev/null
	purges=$(jq -s 'map(.counters.profile_purges // 0) | add' $(ag_windows $d | sed 's|$|/window.json|'))
	ev=$(jq -s 'map(.counters.profile_stacks_evicted // 0) | add' $(ag_windows $d | sed 's|$|/window.json|'))
	n=$(ag_samples $d $cw '^_start;')
	chain=$(ag_samples $d $cw '^_start;__libc_start_main;__libc_start_call_main;main;run_workload;compute;leaf_[ab]$')
	a=$(ag_samples $d $py ';main;hot_[ab](;|$)')
	if [ $rc != 0 ]; then
		fail agent_purge "agent exit $rc: $(ag_err $d.err)"
	elif ! gt "$purges" 3 || ! gt "$ev" 0; then
		fail agent_purge "purges $purges, stacks evicted $ev over the windows (want > 3 and > 0)"
	elif ! gt $n 50 || ! ge $(ratio $chain $n) 0.9; then
		fail agent_purge "cwork's main->leaf chain in $chain of $n samples after purges"
	elif ! ge $(ratio $a $(ag_samples $d $py .)) 0.7; then
		fail agent_purge "the script's hot_a/hot_b under main in $a of $(ag_samples $d $py .) samples"
	else
		pass agent_purge
		echo "     $purges purges, $ev stacks evicted; cwork chain $(ratio $chain $n), script $(ratio $a $(ag_samples $d $py .))"
	fi
	rm -f $t
}

# --offcpu: each window (not only the last) has the off-CPU time of its
# interval, here a Python script sleeping in 10 ms naps
t_agent_offcpu() {
	local d=$AG_O/agent-off t=$AG_O/agent_off_py.py wpid rc w ns nap
	cp tests/workloads/py/offcpu.py $t
	setsid /usr/bin/python3.11 $t sleep 30 >/dev/null 2>&1 &
	wpid=$!
	ag_start $d --interval 2 --offcpu
	ag_wait_windows $d 3 30
	ag_stop
	rc=$?
	kill $wpid 2>/dev/null
	wait $wpid 2>/dev/null
	w=$(ag_windows $d | sed -n 2p)
	ns=$(jq --argjson p $wpid '[.offcpu[] | select(.pid == $p) | .ns] | add // 0' $w/artifacts/offcpu.json 2>/dev/null)
	nap=$(jq --argjson p $wpid '.strings as $s | .frames as $f | .stacks as $st |
		[.offcpu[] | select(.pid == $p and ([$st[.stack][] | $s[$f[.].name]] | index("nap"))) | .ns] | add // 0' \
		$w/artifacts/offcpu.json 2>/dev/null)
	if [ $rc != 0 ]; then
		fail agent_offcpu "agent exit $rc: $(ag_err $d.err)"
	elif ! gt "${ns:-0}" 1000000000; then
		fail agent_offcpu "window $(basename $w) has ${ns:-no} ns off CPU for the sleeper (want > 1 s of its 2 s)"
	elif ! ge $(ratio ${nap:-0} $ns) 0.8; then
		fail agent_offcpu "only $nap of $ns ns under the Python function nap"
	else
		pass agent_offcpu
		echo "     window 2: $(awk -v n=$ns 'BEGIN { printf "%.2f", n / 1e9 }') s off CPU, $(ratio $nap $ns) under nap"
	fi
	rm -f $t
}
