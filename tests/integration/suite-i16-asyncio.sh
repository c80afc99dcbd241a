# SPDX-License-Identifier: MIT
# Issue 16 point 5: each on-CPU sample of an event loop's thread names the
# asyncio task it runs (CPython 3.14+: the thread state's running task),
# as a "[task NAME]" frame under the task's coroutine and a "task" field
# in cpu.json, and report.md gives on-CPU time per task name. Truth comes
# from the workload, which times its three tasks itself (60/30/10).
# Older interpreters: the report says why there are no tasks. Sourced by
# run.sh.

SUITE_TESTS=(py_asyncio_tasks)

# one 3.14+ interpreter: prints a reason on failure
aio_check() { # PY DIR
	local d=$2 truth got t a b bad=""
	truth=$($AP -q -F 499 -o $d -- $1 $PYW/tasks.py 1.5 2>$d.err) ||
		{ echo "exit $?: $(tail -1 $d.err)"; return; }
	# samples per task, from cpu.json's task field
	got=$(jq -c '[.samples[] | select(.task)] | group_by(.task) |
		map({key: .[0].task, value: (map(.count) | add)}) | from_entries' $d/artifacts/cpu.json)
	for t in alpha beta gamma; do
		a=$(jq -r --arg t $t '.[$t] // 0' <<<"$truth")
		b=$(jq -r --arg t $t '(.[$t] // 0) * 100 / ([.[]] | add // 1)' <<<"$got")
		awk -v a=$a -v b=$b 'BEGIN { exit !(b - a <= 5 && a - b <= 5) }' ||
			bad="$bad $t ${b%.*}% (truth $a%)"
	done
	if [ "$(jq '[.[]] | add // 0' <<<"$got")" -lt 100 ]; then
		echo "only $(jq '[.[]] | add // 0' <<<"$got") samples name a task: $got"
	elif [ -n "$bad" ]; then
		echo "task shares off by more than 5 points:$bad"
	elif ! gt $(samples $d/stacks.folded ';\[task alpha\];worker \(tasks\.py:[0-9]+\);') 0; then
		echo "no [task alpha] frame right under worker: $(grep -m1 -o '\[task[^;]*\];[^;]*' $d/stacks.folded)"
	elif ! grep -q '^| `alpha` | ' $d/report.md; then
		echo "report.md has no per-task table: $(grep -A3 'asyncio' $d/report.md | head -4)"
	else
		echo "ok: $got truth $truth" >$d.ok
	fi
}

t_py_asyncio_tasks() {
	local py v r err="" ok="" deb old="" oldhex=0 hex d
	deb=$(debian_unstable_pythons)
	case "$deb" in FETCH:*) fail py_asyncio_tasks "Debian unstable's python3.14/3.15 are needed: ${deb#FETCH: }"; return ;; esac
	for py in $( (pythons; printf "%s\n" $deb) | sort -u); do
		hex=$("$py" -c 'import sys; print(sys.hexversion)' 2>/dev/null) || continue
		if [ "$hex" -lt $((0x030e0000)) ]; then
			# the newest older one is checked below
			[ "$hex" -gt $oldhex ] && old=$py oldhex=$hex
			continue
		fi
		v=$(pyver $py)
		r=$(aio_check $py $O/asyncio-$v)
		if [ -n "$r" ]; then err="$err [$v: $r]"; else ok="$ok $v"; fi
	done
	# an older interpreter: no task frames, and the report says why
	if [ -n "$old" ]; then
		v=$(pyver $old)
		d=$O/asyncio-$v
		if ! $AP -q -F 499 -o $d -- $old $PYW/tasks.py 0.5 >/dev/null 2>$d.err; then
			err="$err [$v: exit $?: $(tail -1 $d.err)]"
		elif grep -q '\[task ' $d/stacks.folded; then
			err="$err [$v: task frames on a CPython before 3.14]"
		elif ! grep -q 'time per task needs CPython 3.14 or later' $d/report.md; then
			err="$err [$v: report.md does not say task names need 3.14+]"
		else
			ok="$ok $v(note)"
		fi
	fi
	PYMATRIX="$PYMATRIX\n     py_asyncio_tasks:$ok"
	if [ -z "$ok" ] && [ -z "$err" ]; then
		fail py_asyncio_tasks "no CPython 3.14+ found"
	elif [ -n "$err" ]; then
		fail py_asyncio_tasks "$err"
	else
		pass py_asyncio_tasks
		for py in $O/asyncio-*.ok; do [ -f "$py" ] && echo "     $(basename $py .ok): $(cat $py)"; done
	fi
}
