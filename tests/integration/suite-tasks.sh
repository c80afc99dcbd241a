# SPDX-License-Identifier: MIT
# Issue 16 point 5: attaching (-p) to a CPython 3.14+ process lists its
# suspended asyncio tasks, each with its await chain (the task's coroutine
# first, down to what the innermost one awaits), in offcpu.json
# (asyncio_tasks), report.md and the terminal summary. Truth: the
# workload's source (tests/workloads/py/awaits.py, "# at:NAME" markers);
# Debian unstable's 3.14 and 3.15, and an older interpreter, where nothing
# is listed and nothing fails. Sourced by run.sh.

SUITE_TESTS=(py_attach_tasks)

# start awaits.py under PY (with EXTRA more tasks), attach for 1 s into
# DIR; prints a reason on failure
tasks_attach() { # PY DIR [EXTRA]
	local py=$1 d=$2 pid i rc
	rm -rf $d $d.ready
	$py $PYW/awaits.py 20 $d.ready ${3:-} >$d.target.log 2>&1 &
	pid=$!
	for ((i = 0; i < 100; i++)); do
		[ -s $d.ready ] && break
		sleep 0.1
	done
	if [ ! -s $d.ready ]; then
		kill $pid 2>/dev/null
		echo "the workload did not start in 10 s: $(tail -1 $d.target.log)"
		return
	fi
	# (the summary is on stderr)
	$AP -p $pid -d 1 -o $d >$d.out 2>$d.err
	rc=$?
	kill $pid 2>/dev/null
	wait $pid 2>/dev/null
	if [ $rc != 0 ] || ! artifacts_ok $d; then
		echo "exit $rc or artifacts incomplete: $(tail -1 $d.err)"
	fi
}

# the line of marker "# at:NAME" in awaits.py
tasks_at() { grep -n "# at:$1\$" $PYW/awaits.py | cut -d: -f1; }

# one 3.14+ interpreter: every task with its chain; prints a reason on failure
tasks_check() { # PY DIR
	local d=$2 r want got bad="" spec
	r=$(tasks_attach $1 $d)
	[ -n "$r" ] && { echo "$r"; return; }
	# each task: name, what it waits on, chain as "func:line" (the
	# workload's frames) or "func" (asyncio's own), innermost last
	for spec in "Task-1|Future|main:$(tasks_at main) sleep" \
		"sleeper|Future|sleeper:$(tasks_at sleeper) sleep" \
		"waiter|Future|waiter:$(tasks_at waiter) Event.wait" \
		"getter|Future|getter:$(tasks_at getter) Queue.get" \
		"joiner|Task sleeper|joiner:$(tasks_at joiner)" \
		"deep|Future|outer:$(tasks_at outer) middle:$(tasks_at middle) inner:$(tasks_at inner) sleep"; do
		want=${spec%%|*}
		got=$(jq -r --arg n "$want" '.asyncio_tasks[]? | select(.name == $n) |
			.name + "|" + .waits + "|" + ([.chain[] | if (.file | endswith("awaits.py"))
			then "\(.function):\(.line)" else .function end] | join(" "))' \
			$d/artifacts/offcpu.json)
		[ "$got" = "$spec" ] || bad="$bad [want '$spec' got '$got']"
	done
	got=$(jq '.asyncio_tasks | length' $d/artifacts/offcpu.json)
	if [ -n "$bad" ]; then
		echo "offcpu.json asyncio_tasks:$bad"
	elif [ "$got" != 6 ] || [ "$(jq .collectors.cpu.counters.python_async_tasks $d/run.json)" != 6 ]; then
		echo "$got tasks in offcpu.json, python_async_tasks $(jq .collectors.cpu.counters.python_async_tasks $d/run.json): want 6"
	elif ! grep -q "^| \`deep\` | \`sleep (tasks.py:[0-9]*)\` | \`Future\` | \`outer (awaits.py:$(tasks_at outer)) > middle (awaits.py:$(tasks_at middle)) > inner (awaits.py:$(tasks_at inner)) > sleep (tasks.py:[0-9]*)\` |$" $d/report.md ||
		! grep -q '^\*\*Suspended asyncio tasks at the attach:\*\* 6 of pid' $d/report.md; then
		echo "report.md has no table of the 6 tasks: $(grep -A4 'Suspended asyncio' $d/report.md | head -5)"
	elif ! grep -q "^  joiner  *joiner (awaits.py:$(tasks_at joiner))  *Task sleeper  *joiner (awaits.py:$(tasks_at joiner))\$" $d.err; then
		echo "the summary does not list joiner: $(grep -A3 'Suspended asyncio' $d.err | head -4)"
	else
		echo "ok" >$d.ok
	fi
}

t_py_attach_tasks() {
	local py deb old="" oldhex=0 hex v r err="" ok="" d t0 t1
	deb=$(debian_unstable_pythons)
	case "$deb" in FETCH:*) fail py_attach_tasks "Debian unstable's python3.14/3.15 are needed: ${deb#FETCH: }"; return ;; esac
	for py in $deb; do
		v=$(pyver $py)
		r=$(tasks_check $py $O/tasks-$v)
		if [ -n "$r" ]; then err="$err [$v: $r]"; else ok="$ok $v"; fi
	done
	# the caps: 6 + 1 + 300 tasks, 256 read (the 10 first shown), 51
	# counted; the chain of 15 coroutines (+ sleep) cut at 12
	d=$O/tasks-caps
	py=${deb##*$'\n'}
	r=$(tasks_attach $py $d 300)
	if [ -z "$r" ]; then
		r=$(jq -r '.collectors.cpu.counters | "\(.python_async_tasks) \(.python_async_tasks_capped) \(.python_async_chains_cut)"' $d/run.json)
		if [ "$r" != "256 51 1" ]; then
			r="listed, capped, cut: $r, want 256 51 1"
		elif [ "$(jq -c '.asyncio_tasks[] | select(.name == "long") | [.chain_cut, (.chain | length)]' $d/artifacts/offcpu.json)" != "[true,12]" ]; then
			r="the long chain is not cut at 12: $(jq -c '.asyncio_tasks[] | select(.name == "long")' $d/artifacts/offcpu.json | head -c 300)"
		elif ! grep -q '^and 246 more (offcpu.json `asyncio_tasks` has every one)$' $d/report.md ||
			! grep -q '^51 more suspended tasks were not read: over the cap' $d/report.md; then
			r="report.md does not say how many more: $(grep -i 'more' $d/report.md | head -2)"
		else
			r=""
			ok="$ok caps"
		fi
	fi
	[ -n "$r" ] && err="$err [caps: $r]"
	# a target whose memory does not answer (the tests' stand-in: the
	# helper thread stalls 5 s): the attach waits 100 ms for it, goes on
	# and counts the process; the whole check (start, attach, 1 s) well
	# under those 5 s
	d=$O/tasks-stall
	t0=$EPOCHREALTIME
	r=$(AP_TEST_PYTHREADS_STALL_MS=5000 tasks_attach ${deb%%$'\n'*} $d)
	t1=$EPOCHREALTIME
	if [ -z "$r" ]; then
		r=$(jq -r '.collectors.cpu.counters | "\(.python_async_tasks) \(.python_async_processes_skipped)"' $d/run.json)
		if [ "$r" != "0 1" ] || jq -e '(.asyncio_tasks // []) | length > 0' $d/artifacts/offcpu.json >/dev/null; then
			r="listed, skipped: $r, want 0 1"
		elif ! grep -q '^Suspended asyncio tasks were not read in 1 process(es): the memory did not answer in time' $d/report.md; then
			r="report.md does not say the tasks were not read: $(grep -i asyncio $d/report.md | head -2)"
		elif ! awk -v a=$t0 -v b=$t1 'BEGIN { exit !(b - a < 4) }'; then
			r="the attach took $(awk -v a=$t0 -v b=$t1 'BEGIN { print b - a }') s: it waited for the stalled read"
		else
			r=""
			ok="$ok stall"
		fi
	fi
	[ -n "$r" ] && err="$err [stall: $r]"
	# the newest older interpreter: nothing listed, nothing fails
	for py in $(pythons); do
		hex=$("$py" -c 'import sys; print(sys.hexversion)' 2>/dev/null) || continue
		[ "$hex" -lt $((0x030e0000)) ] && [ "$hex" -gt $oldhex ] && old=$py oldhex=$hex
	done
	if [ -n "$old" ]; then
		v=$(pyver $old)
		d=$O/tasks-$v
		r=$(tasks_attach $old $d)
		if [ -n "$r" ]; then
			err="$err [$v: $r]"
		elif jq -e 'has("asyncio_tasks")' $d/artifacts/offcpu.json >/dev/null ||
			grep -q 'Suspended asyncio' $d/report.md $d.err; then
			err="$err [$v: tasks listed on a CPython before 3.14]"
		elif grep -v '^Files: \|^Open ' $d.err | grep -qi 'asyncio'; then
			err="$err [$v: a message about asyncio: $(grep -i 'asyncio' $d.err | head -1)]"
		else
			ok="$ok $v(none)"
		fi
	else
		err="$err [no CPython before 3.14 found]"
	fi
	PYMATRIX="$PYMATRIX\n     py_attach_tasks:$ok"
	if [ -n "$err" ]; then
		fail py_attach_tasks "$err"
	else
		pass py_attach_tasks
	fi
}
