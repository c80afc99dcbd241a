# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# Free-threaded CPython (issue 16 item 3: 3.13t/3.14t). make test-ft runs
# these with PYTHONS set to one free-threaded interpreter (PYTHON_FT, or the
# one tools/cpython-ft.sh builds), beside the generic Python checks that
# hold there. Named only (NAMED_TESTS): make test and a run.sh without names
# never run them, and on a GIL build they fail ("not free-threaded").

# run.json says pid's interpreter is free-threaded with the GIL $2 ("off"
# also when it was on in under 2% of the samples: CPython turns it on while
# an extension module initializes, at start-up)
ft_runjson() { # DIR GIL -> a reason on failure
	jq -r --arg g "$2" '[.processes[] | select(.free_threaded)] as $p |
	  if ($p | length) == 0 then "not free-threaded: runtime \([.processes[].runtime])"
	  elif $g == "off" and ($p[0].gil | startswith("off") | not) or
	       $g == "off" and $p[0].gil_on_samples > ($p[0].gil_off_samples / 50) or
	       $g == "on" and $p[0].gil != "on" then
	    "run.json gil \($p[0].gil) (off in \($p[0].gil_off_samples), on in \($p[0].gil_on_samples)), want \($g)"
	  else empty end' "$1/run.json" 2>&1 || echo "jq failed"
}

# Four threads spin in parallel, each in its own function for 1 CPU-s of
# its own time (threads.py: the share each gets does not depend on the
# host's load): each thread's samples name its function and no other, each
# function has 25% of the four's samples within 5 points (499 Hz, ~2000
# samples: sigma 1 point), and the line is the spin loop's. No sample of
# the four held a GIL, >= 90% of the Python samples saw it off, and
# run.json says so (the main thread may catch the GIL that CPython turns on
# while an extension module initializes)
ft_parallel() { # PY DIR
	local d=$2 line
	$AP -q -F 499 -o $d -- $1 $PYW/threads.py 4 2>$d.err || { echo "exit $?"; return; }
	line=$(grep -n 's += time.monotonic() > 0' $PYW/threads.py | cut -d: -f1)
	$JQ --argjson line "$line" 'include "lib"; pystacks | map(select(.py | length > 0)) |
	  map({tid, count, line: .py[-1].line, leaf: .py[-1].name,
	       fn: ([.py[].name] | map(select(. == "alpha" or . == "beta" or . == "gamma" or
	         . == "delta")))}) as $r |
	  ($r | group_by(.tid) | map([.[].fn[]] | unique | length) | max) as $mix |
	  ($r | map(select(.fn | length == 1)) | group_by(.fn[0]) |
	    map({key: .[0].fn[0], value: (map(.count) | add)}) | from_entries) as $per |
	  ($per | to_entries | map(.value) | add) as $all |
	  ([$r[] | select(.leaf == "spin")] | group_by(.line) | map({l: .[0].line,
	    c: (map(.count) | add)}) | max_by(.c) | .l) as $hot |
	  if $mix > 1 then "a thread has samples of two functions"
	  elif ($per | length) != 4 then "functions seen: \($per)"
	  elif ($per | to_entries | map(.value / $all * 100) | any(. < 20 or . > 30)) then
	    "split \($per), want 25% each within 5 points"
	  elif $hot != $line then "spin hottest on line \($hot), want \($line)"
	  else empty end' $d/artifacts/cpu.json
	$JQ '(.threads | map(select(.python_samples > 0))) as $t |
	  ($t | map(.python_samples) | add) as $py |
	  ($t | map(.nogil_samples // 0) | add) as $off |
	  if ([.samples[] | select(.gil and .tid != .pid)] | length) > 0 then
	    "a worker thread held a GIL"
	  elif $off / $py < 0.9 then "GIL off in \($off) of \($py) Python samples"
	  else empty end' $d/artifacts/cpu.json
	ft_runjson $d off
}

# PYTHON_GIL=1 turns the GIL back on: four CPU-bound threads on it wait for
# the GIL (py_off_gil: >= 40% of their time outside the run queue, lock
# waits under a tenth of that), and run.json says the GIL was on
ft_gil_on() { # PY DIR
	PYTHON_GIL=1 py_off_gil "$1" "$2"
	ft_runjson $2 on
}

# the same four threads with the GIL off: no GIL wait, no lock wait in its
# place (they only wait for a CPU)
ft_gil_off() { # PY DIR
	local d=$2
	$AP -q -o $d -- $1 $PYW/offcpu.py gil 1.5 2>$d.err || { echo "exit $?"; return; }
	$JQ 'include "lib"; (.threads | map(select(.tid != .pid))) as $w |
	  ($w | map(.off_ns.gil // 0) | add // 0) as $gil |
	  ($w | map(.off_ns.lock // 0) | add // 0) as $lock |
	  ($w | map(.wall_ns) | add // 1) as $wall |
	  if ($w | length) != 4 then "\($w | length) spinning threads accounted, want 4"
	  elif $gil > 0 then "GIL wait \($gil) ns with the GIL off"
	  elif $lock / $wall > 0.05 then "lock wait \($lock / $wall * 100 | floor)% of the threads wall"
	  else empty end' $d/artifacts/offcpu.json
	ft_runjson $d off
}

t_ft_parallel() { t_py ft_parallel ft_parallel; }
t_ft_gil_on() { t_py ft_gil_on ft_gil_on; }
t_ft_gil_off() { t_py ft_gil_off ft_gil_off; }

NAMED_TESTS=(ft_parallel ft_gil_on ft_gil_off)
