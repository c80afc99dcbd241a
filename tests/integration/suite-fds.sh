# SPDX-License-Identifier: MIT
# File descriptors (the open-files limit, --py-calls
# uprobes released with their process). Sourced by tests/integration/run.sh
# (helpers and variables come from there). The truncated-library test is
# maps_truncated in suite-mapsafe.sh.

# Started with a low soft RLIMIT_NOFILE, the profiler raises its own to the
# hard limit, and the command it launches gets the low one back.
t_nofile_limit() {
	local t=nofile_limit d=$O/nofile hard prof child
	hard=$(ulimit -Hn)
	[ "$hard" = unlimited ] || gt "$hard" 1000 || { fail $t "hard open-files limit $hard: need > 1000"; return 1; }
	(ulimit -Sn 1000 && $AP -q -o $d -- sh -c \
		'ulimit -Sn >"$0.child"; awk "/Max open files/ { print \$4 }" /proc/$PPID/limits >"$0.prof"' $d) \
		2>$d.err || { fail $t "exit $?: $(tail -1 $d.err)"; return 1; }
	child=$(cat $d.child 2>/dev/null)
	prof=$(cat $d.prof 2>/dev/null)
	if [ "$child" != 1000 ]; then
		fail $t "the launched command's soft limit is '$child', want the original 1000"
	elif [ "$prof" != "$hard" ]; then
		fail $t "the profiler's soft limit is '$prof', want the hard limit $hard"
	else
		pass $t
		echo "     profiler $prof, command 1000"
	fi
}

# --py-calls attaches a uprobe (a perf fd) per Python process: each one is
# destroyed when its process is released, not kept to the end of the run
t_py_links_released() {
	local t=py_links_released d=$O/pylinks released errors gone pids
	$AP -q --py-calls -o $d -- sh -c \
		'for i in 1 2 3 4 5 6; do python3 -c "sum(sorted(range(20000), key=lambda x: -x)); import time; time.sleep(0.3)"; sleep 0.05; done' \
		2>$d.err || { fail $t "exit $?: $(tail -1 $d.err)"; return 1; }
	released=$(jq '.probes_released // -1' $d/artifacts/python_calls.json)
	errors=$(jq '.attach_errors // -1' $d/artifacts/python_calls.json)
	gone=$(jq '.exited_before_probe // 0' $d/artifacts/python_calls.json)
	pids=$(jq '[.code_objects[].pid] | unique | length' $d/artifacts/python_calls.json)
	# every probe attached is released; the last process may end within the
	# release grace (200 ms) of the stop. A probe registered after its
	# process ended is counted in exited_before_probe, not a leak; with the
	# attach errors, at most 2. Each process lives 0.3 s past its calls, so
	# that its probe is attached and released, the point of the test (it
	# lived ~50 ms: on a fresh VM 3 of 6 ended before their probe, twice)
	if [ "$errors" -lt 0 ] || [ $((errors + gone)) -gt 2 ]; then
		fail $t "$errors of 6 uprobes could not be attached, $gone processes ended first ($pids processes seen with calls)"
	elif ! ge "$released" $((6 - errors - gone - 1)); then
		fail $t "probes_released is $released of $((6 - errors - gone)) attached ($gone ended before their probe; $pids seen with calls)"
	else
		pass $t
		echo "     $released of 6 uprobes released; $pids processes with counted calls"
	fi
}

SUITE_TESTS=(nofile_limit py_links_released)
