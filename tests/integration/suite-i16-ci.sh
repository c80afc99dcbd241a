# SPDX-License-Identifier: MIT
# Issue 16, the test setup: Debian unstable's interpreters are fetched by
# the tests themselves, and an archive that cannot be reached fails the
# Python checks with its reason (sourced by run.sh)

# an unreachable archive: tools/debian-python.sh exits 1 with one line, and
# a Python check fails with that line (nothing is skipped); a closed local
# port, so this needs no network and takes well under a second
t_debian_python_unreachable() {
	local d=$O/debpy-unreach out rc
	rm -rf $d && mkdir -p $d
	out=$(DEBIAN_MIRROR=http://127.0.0.1:9/debian AP_DEBIAN_PYTHON_DIR=$d \
		tools/debian-python.sh fetch 3.15 2>&1)
	rc=$?
	if [ $rc != 1 ] || [ "$(echo "$out" | grep -c .)" != 1 ] ||
		[[ "$out" != "debian-python: cannot reach the Debian archive (http://127.0.0.1:9/debian, unstable): "* ]]; then
		fail debian_python_unreachable "fetch exit $rc, want 1 and one line: $out"
		return
	fi
	# t_py in a subshell (its counters stay there), one local interpreter
	# and a check that always passes: the fetch failure alone fails it
	out=$(
		export DEBIAN_MIRROR=http://127.0.0.1:9/debian AP_DEBIAN_PYTHON_DIR=$d
		unset PYTHONS
		DEBIAN_PY_TRIED="" DEBIAN_PY_ERR="" PYMATRIX=""
		pythons() { echo /usr/bin/python3.11; }
		check_ok() { :; }
		t_py probe check_ok
	)
	if [[ "$out" != "FAIL integration/probe: "*"python3.14 is needed and unavailable: debian-python: cannot reach the Debian archive"* ]]; then
		fail debian_python_unreachable "a Python check did not fail with the reason: $out"
	else
		pass debian_python_unreachable
	fi
}

# --py-calls through a wrapper script that execs the interpreter (Debian
# unstable's python3.15-unstable: sh, then ld.so maps python3.15): the
# probe can only go in once the interpreter is seen, and the artifact says
# so (probes_attached_running), whatever it missed. py_calls checks the
# launched case, where nothing is missed
t_py_calls_late_said() {
	local d=$O/py-calls-late r py=build/debian-python/bin/python3.15-unstable
	debian_pythons
	if [ ! -x $py ]; then
		fail py_calls_late_said "no $py: $DEBIAN_PY_ERR"
		return
	fi
	# a second of sorted(key=lambda) calls (the probe goes in ~20 ms after
	# the interpreter appears, more on a loaded host), their count written
	if ! $AP -q --py-calls -o $d -- $py -c 'import sys, time
n, end = 0, time.monotonic() + 1
while time.monotonic() < end:
    sorted(range(1000), key=lambda x: -x)
    n += 1000
open(sys.argv[1], "w").write(str(n))' $d.calls 2>$d.err; then
		fail py_calls_late_said "exit $?: $(tail -1 $d.err)"
		return
	fi
	r=$(jq -r --argjson n "$(cat $d.calls 2>/dev/null || echo 0)" '[.code_objects[] | select(.qualname == "<lambda>")] as $l |
	  ([$l[].entries] | add // 0) as $e |
	  if .probes_attached_running != 1 then "probes_attached_running \(.probes_attached_running), want 1"
	  elif $e > $n or $e == 0 then "lambda entries \($e) of \($n) calls"
	  elif .attach_errors != 0 then "\(.attach_errors) attach errors" else empty end' \
		$d/artifacts/python_calls.json 2>&1)
	[ -z "$r" ] && pass py_calls_late_said || fail py_calls_late_said "$r"
}

SUITE_TESTS=(debian_python_unreachable py_calls_late_said)
