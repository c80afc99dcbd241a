# SPDX-License-Identifier: MIT
# Issue 16 points 4 and 6 (sourced by run.sh): a process whose Python
# frames are not walked says why in run.json, cpu.json, report.md and
# report.html, and no finding sends the user into the interpreter's eval
# loop; CPython's internal _Py_InitCleanup frames are hidden.

# "pid: reason" checks of one run of an interpreter whose frames are refused
py_missing_check() { # DIR PID COMM CODE TEXT
	local d=$1 pid=$2 comm=$3 code=$4 text=$5
	jq -e --argjson p $pid --arg c "$code" --arg t "$text" '.processes[] | select(.pid == $p) |
		.python_frames_missing == $c and (.python_frames_missing_why | contains($t))' \
		$d/run.json >/dev/null || { echo "run.json: no $code/'$text' for pid $pid"; return; }
	jq -e --argjson p $pid --arg c "$code" '.processes[] | select(.pid == $p) |
		.python_frames_missing == $c' $d/artifacts/cpu.json >/dev/null ||
		{ echo "cpu.json: no $code for pid $pid"; return; }
	jq -e --argjson p $pid --arg c "$code" '.python_frames_missing[] | select(.pid == $p) |
		.reason == $c' $d/findings.json >/dev/null || { echo "findings.json: no $code for pid $pid"; return; }
	grep -qF "Python frames unavailable for pid $pid ($comm): $text" $d/report.md ||
		{ echo "report.md: no note for pid $pid"; return; }
	grep -qF "Python frames unavailable for pid $pid ($comm): $text" $d/report.html ||
		{ echo "report.html: no note for pid $pid"; return; }
	# no finding names an interpreter function (the eval loop, or any
	# function of the interpreter's file)
	jq -e '[.findings[] | tostring | select(test("EvalFrame|_PyEval|ceval|python[23]\\.[0-9]+\\+0x"))] |
		length == 0' $d/findings.json >/dev/null ||
		echo "a finding names the interpreter: $(jq -c '[.findings[].id]' $d/findings.json)"
}

t_py_frames_missing() {
	local d=$O/pymiss-forced c=$O/pymiss-walked err="" r pid n eval py v forced=" 3.11"
	local loop='import time
e = time.monotonic() + 1.2
def f(n):
    return n if n < 2 else f(n - 1) + f(n - 2)
while time.monotonic() < e:
    f(18)'
	# a supported interpreter refused through the tests' hook: its hot eval
	# loop is what a finding used to point at ("try perf annotate")
	AP_TEST_PY_REFUSE=11 $AP -q -F 199 -o $d -- /usr/bin/python3.11 -c "$loop" 2>$d.err ||
		{ fail py_frames_missing "exit $? $(tail -1 $d.err)"; return; }
	pid=$(jq .target.pid $d/run.json)
	n=$(samples $d/stacks.folded '^python3.11;')
	eval=$(samples $d/stacks.folded '^python3.11;.*_PyEval_EvalFrameDefault')
	if ! ge $(ratio $eval $n) 0.5; then
		err="$err [forced: the eval loop in $eval of $n samples: not the case this checks]"
	fi
	r=$(py_missing_check $d $pid python3.11 unsupported_version \
		"CPython 3.11 is not supported (refused by AP_TEST_PY_REFUSE)")
	[ -n "$r" ] && err="$err [forced: $r]"
	grep -q "CPython 3.11 is not supported" $d.err || err="$err [forced: no warning on stderr]"
	# Debian unstable's stripped PGO builds (tools/debian-python.sh), when
	# fetched: their eval loop is an unnamed .cold part
	for py in build/debian-python/bin/python3.*-unstable; do
		[ -x "$py" ] || continue
		v=${py##*/python3.}
		v=${v%-unstable}
		d=$O/pymiss-forced-3.$v
		AP_TEST_PY_REFUSE=$v $AP -q -F 199 -o $d -- $py -c "$loop" 2>$d.err ||
			{ err="$err [3.$v: exit $?]"; continue; }
		r=$(py_missing_check $d $(jq .target.pid $d/run.json) python3.$v unsupported_version \
			"CPython 3.$v is not supported (refused by AP_TEST_PY_REFUSE)")
		[ -n "$r" ] && err="$err [forced 3.$v: $r]"
		forced="$forced 3.$v"
	done
	# the same interpreter walked: nothing missing, no note
	$AP -q -F 99 -o $c -- /usr/bin/python3.11 -c 'sum(range(3000000))' 2>$c.err ||
		err="$err [walked: exit $?]"
	if jq -e '.processes[] | has("python_frames_missing")' $c/run.json | grep -q true ||
		grep -q "Python frames unavailable" $c/report.md; then
		err="$err [walked: a note where Python frames were walked]"
	fi
	# interpreters this version does not support, as they are
	for py in /root/.pyenv/versions/2.7.*/bin/python2.7 /root/.pyenv/versions/3.7.*/bin/python3.7; do
		[ -x "$py" ] || { err="$err [$py: not installed]"; continue; }
		v=${py##*/python}
		d=$O/pymiss-$v
		$AP -q -F 199 -o $d -- $py -c 'sum(range(3000000))' 2>$d.err ||
			{ err="$err [$v: exit $?]"; continue; }
		r=$(py_missing_check $d $(jq .target.pid $d/run.json) python$v unsupported_version \
			"CPython $v is not supported")
		[ -n "$r" ] && err="$err [$v: $r]"
	done
	if [ -n "$err" ]; then
		fail py_frames_missing "$err"
	else
		pass py_frames_missing
		echo "     reason in run.json, cpu.json, report.md, report.html: forced$forced; 2.7, 3.7"
	fi
}

# _Py_InitCleanup (3.13+): no "__init__ (__init__)" frame; the class's
# __init__ right under its caller
py_init_cleanup() { # PY DIR -> prints a reason on failure
	local d=$2 init direct shim
	$AP -q -F 499 -o $d -- $1 $PYW/init_cleanup.py 1 2>$d.err || { echo "exit $?"; return; }
	init=$(samples $d/stacks.folded ';Point\.__init__ \(init_cleanup.py:[0-9]+\)')
	direct=$(samples $d/stacks.folded ';<module> \(init_cleanup.py:[0-9]+\);Point\.__init__ \(init_cleanup.py:[0-9]+\)')
	shim=$(samples $d/stacks.folded '__init__ \(__init__')
	if ! gt $init 50; then echo "$init samples in Point.__init__"
	elif ! ge $(ratio $direct $init) 0.95; then echo "__init__ under <module> in $direct of $init"
	elif ! ge 0.01 $(ratio $shim $init); then echo "__init__ (__init__) in $shim of $init samples"
	fi
}

t_py_init_cleanup() {
	local py v err="" ok="" r
	for py in $(pythons); do
		"$py" -c 'import sys; sys.exit(sys.version_info < (3, 13))' || continue
		v=$(pyver $py)
		r=$(py_init_cleanup $py "$O/py_init_cleanup-$v")
		if [ -n "$r" ]; then err="$err [$v: $r]"; else ok="$ok $v"; fi
	done
	PYMATRIX="$PYMATRIX\n     py_init_cleanup:$ok"
	if [ -z "$ok$err" ]; then
		fail py_init_cleanup "no CPython 3.13+ found (pyenv 3.13, tools/debian-python.sh fetch 3.14 3.15)"
	elif [ -n "$err" ]; then
		fail py_init_cleanup "$err"
	else
		pass py_init_cleanup
	fi
}

SUITE_TESTS=(py_frames_missing py_init_cleanup)
