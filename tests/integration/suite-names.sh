# SPDX-License-Identifier: MIT
# Names (issue 15, item 8): Python thread names (threading.Thread.name) in
# the thread tables, functions namedtuple and dataclasses generate named
# for what they are, and a target that makes the names hard to read.
# Sourced by tests/integration/run.sh (helpers and AP, W, O, PYW from there).

# "TID NAME" lines a names.py run wrote, as a JSON object {tid: name}
names_tids_json() { # FILE
	awk '$1 != "code" { t = $1; $1 = ""; sub(/^ /, ""); printf "%s\"%s\":\"%s\"", n++ ? "," : "{", t, $0 }
		END { print n ? "}" : "{}" }' "$1"
}

# one profiled run on the stock interpreter: every thread of threading's
# table has its Python name in offcpu.json (Idle-1 only waits: it is named
# while the target lives, from its thread count), cpu.json, report.md and
# the summary; the
# generated __new__ and __init__ are named, not "<lambda> (<string>)"
t_py_thread_names() {
	local d=$O/pynames want got
	$AP -F 499 -o $d -- /usr/bin/python3.11 $PYW/names.py 2 $d.tids 0.8 >/dev/null 2>$d.summary ||
		{ fail py_thread_names "exit $?: $(tail -1 $d.summary)"; return; }
	want=$(names_tids_json $d.tids)
	got=$(jq -c --argjson w "$want" '. as $c | [$w | to_entries[] | .key as $t | .value as $n |
		select(([$c.threads[] | select(.tid == ($t | tonumber))][0].python_name // "") != $n) |
		"\($t) \($n)"]' $d/artifacts/offcpu.json)
	if [ "$(echo "$want" | jq length)" != 5 ]; then
		fail py_thread_names "the workload listed $(echo "$want" | jq length) threads, want 5: $want"
	elif [ "$got" != "[]" ]; then
		fail py_thread_names "offcpu.json threads without their Python name: $got (of $want)"
	elif ! jq -e '[.threads[] | select(.python_name == "Worker-1" or .python_name == "pool_0")] |
		length == 2' $d/artifacts/cpu.json >/dev/null; then
		fail py_thread_names "cpu.json does not name Worker-1 and pool_0"
	elif ! grep -q "tid [0-9]* (Worker-1)" $d/report.md || ! grep -q "tid [0-9]* (pool_1)" $d/report.md; then
		fail py_thread_names "report.md's thread table does not name Worker-1 and pool_1"
	elif ! grep -Eq "^ +[0-9]+ +[0-9]+ Worker-1 " $d.summary; then
		fail py_thread_names "the summary's thread table does not name Worker-1"
	elif [ "$(samples $d/stacks.folded 'namedtuple __new__ \(generated\) \(<string>:1\)')" = 0 ] ||
		[ "$(samples $d/stacks.folded 'dataclass __init__ \(generated\) \(<string>:[0-9]+\)')" = 0 ]; then
		fail py_thread_names "no sample names namedtuple __new__ and dataclass __init__ (generated)"
	elif [ "$(samples $d/stacks.folded '<lambda> \(<string>:')" != 0 ]; then
		fail py_thread_names "a generated function is still shown as <lambda> (<string>)"
	else
		pass py_thread_names
		echo "     $(jq -r '[.threads[] | select(.python_name != "") | .python_name] | join(", ")' \
			$d/artifacts/offcpu.json); $(jq '.counters.python_thread_name_reads' $d/artifacts/cpu.json) reads;" \
			"samples: namedtuple __new__ $(samples $d/stacks.folded 'namedtuple __new__ \(generated\)')," \
			"dataclass __init__ $(samples $d/stacks.folded 'dataclass __init__ \(generated\)')"
	fi
}

# every pyenv CPython 3.8-3.13 (the reader without BPF, on a live
# process): the names and tids threading.enumerate() gives, and the first
# argument of namedtuple's generated __new__ (how it is recognized)
t_py_thread_names_versions() {
	local v py pid i want got arg err=""
	for v in 3.8 3.9 3.10 3.11 3.12 3.13; do
		py=$(ls -d /root/.pyenv/versions/$v.*/bin/python$v 2>/dev/null | head -1)
		[ -x "$py" ] || { err="$err $v:no-interpreter"; continue; }
		rm -f $O/pynames-$v.tids
		$py $PYW/names.py 3 $O/pynames-$v.tids >/dev/null 2>&1 & pid=$!
		for ((i = 0; i < 100; i++)); do
			grep -q '^code' $O/pynames-$v.tids 2>/dev/null && break
			sleep 0.05
		done
		want=$(grep -v '^code' $O/pynames-$v.tids 2>/dev/null | sort)
		got=$($W/pythreadtool $pid 2>&1 | grep -v '^reads' | sort)
		arg=$($W/pythreadtool $pid "$(awk '/^code/ { print $2 }' $O/pynames-$v.tids)" 2>&1)
		kill $pid 2>/dev/null; wait $pid 2>/dev/null
		[ -n "$want" ] && [ "$want" = "$got" ] || err="$err $v:names[$(echo $got)]!=[$(echo $want)]"
		[ "$arg" = _cls ] || err="$err $v:first-argument[$arg]"
	done
	[ -z "$err" ] && pass py_thread_names_versions || fail py_thread_names_versions "$err"
}

# names.py's hostile sibling: threads exiting mid-read, names not str, 1 MB
# long, non-ASCII and escapes, bad _native_id, 3,000 fake _active entries:
# the run ends on time, Good-1 is named, names stay within 63 bytes, no
# escape reaches the report or the terminal
t_py_thread_names_hostile() {
	local d=$O/pynames-hostile rc
	timeout 60 $AP -o $d -- /usr/bin/python3.11 $PYW/names_hostile.py 1.5 >/dev/null 2>$d.summary
	rc=$?
	if [ $rc != 0 ]; then
		fail py_thread_names_hostile "exit $rc: $(tail -1 $d.summary | cat -v)"
	elif ! artifacts_ok $d; then
		fail py_thread_names_hostile "artifacts incomplete"
	elif ! jq -e '[.threads[] | select(.python_name == "Good-1")] | length == 1' \
		$d/artifacts/cpu.json >/dev/null; then
		fail py_thread_names_hostile "Good-1 not named: $(jq -c '[.threads[].python_name]' $d/artifacts/cpu.json)"
	elif ! jq -e '[.threads[].python_name | utf8bytelength] | max <= 63' $d/artifacts/cpu.json >/dev/null; then
		fail py_thread_names_hostile "a name longer than 63 bytes"
	elif grep -q "$(printf '\033')" $d.summary $d/report.md; then
		fail py_thread_names_hostile "an escape sequence reached the summary or report.md"
	else
		pass py_thread_names_hostile
		echo "     $(jq '.counters | "\(.python_thread_name_reads) reads, \(.python_thread_name_failures) failed"' \
			$d/artifacts/cpu.json)"
	fi
}



# a Python process that execs a C program: the thread (tid = pid) is shown
# with the new program's name, not the Python name it had before the exec
t_py_thread_names_exec() {
	local d=$O/pynames-exec
	$AP -q -o $d -- /usr/bin/python3.11 -c 'import os, threading, time
end = time.monotonic() + 0.7
while time.monotonic() < end:
    pass
os.execv("'$W/cwork'", ["cwork", "1"])' 2>$d.err || { fail py_thread_names_exec "exit $?: $(tail -1 $d.err)"; return; }
	if ! jq -e '[.threads[] | select(.comm == "cwork")] | length == 1' $d/artifacts/cpu.json >/dev/null; then
		fail py_thread_names_exec "no thread named cwork: $(jq -c '[.threads[] | [.comm, .python_name]]' $d/artifacts/cpu.json)"
	elif ! jq -e '[.threads[] | select(.python_name != "")] | length == 0' $d/artifacts/cpu.json >/dev/null; then
		fail py_thread_names_exec "the exec'd program keeps a Python name: $(jq -c '[.threads[] | [.comm, .python_name]]' $d/artifacts/cpu.json)"
	else
		pass py_thread_names_exec
	fi
}
SUITE_TESTS=(py_thread_names py_thread_names_versions py_thread_names_hostile py_thread_names_exec)
