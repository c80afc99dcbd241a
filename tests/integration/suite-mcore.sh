# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# Issue 18 items 1 and 4, the memory collector: page-fault samples by mixed
# stack in memory.folded (bytes), against programs that write a known
# amount in a known function (the issue's truth: >= 80% of the bytes under
# it, and the total near the amount: faults x page size = bytes first
# touched); the mapping calls' stacks in run.json; the flags. Sourced by
# run.sh.

SUITE_TESTS=(mem_truth_py mem_truth_c mem_flags)

# "A T N": bytes under lines matching RE, all bytes, of memory.folded
mc_bytes() { # DIR RE
	echo "$(samples $1/memory.folded "$2") $(samples $1/memory.folded .)"
}
# a reason unless A/T >= 0.8 and T within a factor 2 of WANT bytes
mc_truth() { # A T WANT WHAT
	if ! gt $2 0; then
		echo "memory.folded has no bytes"
	elif ! ge $(ratio $1 $2) 0.80; then
		echo "$(ratio $1 $2) of $2 bytes under $4 (< 0.80)"
	elif ! ge $(ratio $2 $3) 0.5 || ! ge 2 $(ratio $2 $3); then
		echo "$2 bytes in all, $(ratio $2 $3) of the $3 written (want 0.5-2)"
	fi
}

# memtruth.py keeps 200 MiB of bytes objects made in allocate_big, on the
# stock python3.11 (static interpreter) and a pyenv 3.12 (shared
# libpython): its line is the allocation's, the Python frames spliced
# under the interpreter's native ones
t_mem_truth_py() {
	local py d n=0 err="" a t why line
	line=$(grep -n 'keep.append' $PYW/memtruth.py | cut -d: -f1)
	for py in /usr/bin/python3.11 /root/.pyenv/versions/3.12.*/bin/python3.12; do
		[ -x "$py" ] || { err+="; $py is needed and missing"; continue; }
		d=$O/mem_truth_py$((n++))
		if ! $AP -q -f none -o $d -- $py $PYW/memtruth.py 200 >$d.out 2>$d.err; then
			err+="; $py: exit $? $(tail -1 $d.err)"
			continue
		fi
		read -r a t < <(mc_bytes $d ";allocate_big \(memtruth\.py:$line\)(;|$)")
		why=$(mc_truth $a $t $((200 << 20)) "allocate_big (memtruth.py:$line)")
		[ -z "$why" ] && ! jq -e '.collectors.memory.enabled and .collectors.memory.fault_samples > 0' \
			$d/run.json >/dev/null && why="run.json: memory not enabled or no fault samples"
		[ -n "$why" ] && err+="; $py: $why"
		echo "     $py: $(ratio $a $t) of $t bytes under allocate_big"
	done
	[ -z "$err" ] && pass mem_truth_py || fail mem_truth_py "${err#; }"
}

# memwork writes 100 MiB in grow_heap (1 MiB mallocs, mmapped by glibc), 8
# MiB in map_transient (mmap, munmap) and 2 MiB in brk_grow: the native
# chain from main, each function's share, and the large mappings' stacks
t_mem_truth_c() {
	local d=$O/mem_truth_c a t m why
	$AP -q -f none -o $d -- $W/memwork 100 >$d.out 2>$d.err ||
		{ fail mem_truth_c "exit $? $(tail -1 $d.err)"; return; }
	read -r a t < <(mc_bytes $d '^memwork;.*;main;grow_heap[.a-z0-9]*;')
	m=$(samples $d/memory.folded '^memwork;.*;main;map_transient[.a-z0-9]*;')
	why=$(mc_truth $a $t $((110 << 20)) grow_heap)
	if [ -n "$why" ]; then
		fail mem_truth_c "$why"
	elif ! gt $m 0; then
		fail mem_truth_c "no bytes under map_transient (8 of 110 MiB)"
	elif ! jq -e '.collectors.memory.map_stacks >= 1' $d/run.json >/dev/null; then
		fail mem_truth_c "run.json: no mapping call stack (100 mmaps of 1 MiB, one of 8 MiB)"
	else
		pass mem_truth_c
		echo "     $(ratio $a $t) of $t bytes under grow_heap, $m under map_transient"
	fi
}

# --no-memory: no memory.folded and run.json says off; --memory-rate is
# parsed strictly (one line, exit 2)
t_mem_flags() {
	local d=$O/mem_off bad rc
	$AP -q -f none --no-memory -o $d -- $W/memwork 4 >/dev/null 2>$d.err ||
		{ fail mem_flags "--no-memory: exit $? $(tail -1 $d.err)"; return; }
	if [ -e $d/memory.folded ]; then
		fail mem_flags "--no-memory wrote memory.folded"
		return
	elif ! jq -e '.collectors.memory.enabled == false and .options.memory == false and
			.options.malloc == false' $d/run.json >/dev/null; then
		fail mem_flags "--no-memory: run.json collectors.memory.enabled or options.memory is not false"
		return
	fi
	for bad in 0 1001 abc 10x ""; do
		$AP -q --memory-rate "$bad" -o $O/mem_bad -- true >/dev/null 2>$O/mem_bad.err
		rc=$?
		if [ $rc != 2 ] || [ "$(wc -l <$O/mem_bad.err)" != 1 ] ||
			! grep -q -- '--memory-rate' $O/mem_bad.err; then
			fail mem_flags "--memory-rate '$bad': exit $rc, $(head -2 $O/mem_bad.err)"
			return
		fi
	done
	# --no-memory with an option of the memory profile is a usage error,
	# not a run that silently drops one of them
	for bad in --memory "--memory-rate 50" --malloc; do
		$AP -q --no-memory $bad -o $O/mem_bad -- true >/dev/null 2>$O/mem_bad.err
		rc=$?
		if [ $rc != 2 ] || [ "$(wc -l <$O/mem_bad.err)" != 1 ]; then
			fail mem_flags "--no-memory $bad: exit $rc, $(head -2 $O/mem_bad.err)"
			return
		fi
	done
	pass mem_flags
}
