# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# Issue 18 fix round, helper fixA: the weight of transparent huge pages in
# memory.folded; the stacks of mapping calls in an attach (-p) run.
# Sourced by run.sh.

SUITE_TESTS=(mem_thp mem_map_stacks)

# thp.py madvises 256 MiB of anonymous memory MADV_HUGEPAGE and touches
# every 4 KiB of it in touch_huge: the bytes under touch_huge are 256 MiB
# +-25% whether the kernel gave huge pages (one fault per 2 MiB, weighed
# by on_rss_stat) or not (512 faults per 2 MiB); which it was, is said
t_mem_thp() {
	local d=$O/mem_thp a huge want=$((256 << 20)) why=""
	$AP -q -f none --memory-thp -o $d -- /usr/bin/python3.11 $PYW/thp.py 256 >$d.out 2>$d.err ||
		{ fail mem_thp "exit $? $(tail -1 $d.err)"; return; }
	huge=$(awk '$1 == "AnonHugePages_kB" { print $2 }' $d.out)
	a=$(samples $d/memory.folded ';touch_huge \(thp\.py:[0-9]+\)(;|$)')
	if [ -z "$huge" ]; then
		why="thp.py printed no AnonHugePages"
	elif ! ge $(ratio $a $want) 0.75 || ! ge 1.25 $(ratio $a $want); then
		why="$a bytes under touch_huge, $(ratio $a $want) of 256 MiB (want 0.75-1.25)"
	elif ! jq -e '.collectors.cpu.counters.memory_thp_tracked == 1' $d/run.json >/dev/null; then
		why="run.json: memory_thp_tracked is not 1"
	elif gt $huge $((128 << 10)) &&
		! jq -e '.collectors.cpu.counters.memory_thp_faults >= 64' $d/run.json >/dev/null; then
		why="$huge kB in huge pages but memory_thp_faults < 64"
	fi
	if gt $huge $((128 << 10)); then
		echo "     the kernel gave $huge kB of huge pages; $(ratio $a $want) of 256 MiB under touch_huge"
	else
		echo "     the kernel gave NO huge pages ($huge kB): only the 4 KiB weighting was checked;" \
			"$(ratio $a $want) of 256 MiB under touch_huge"
	fi
	[ -z "$why" ] && pass mem_thp || fail mem_thp "$why"
}

# bytes of memory.json rows of KIND whose stack has a frame named RE
fa_map_bytes() { # DIR KIND RE
	jq --arg k "$2" --arg re "$3" '. as $m | [.rows[] | select(.kind == $k) |
		select([$m.stacks[.stack][] | $m.strings[$m.frames[.].name]] | any(test($re))) | .bytes] | add // 0' \
		$1/artifacts/memory.json
}

# the mapping calls' stacks: memwork's 100 mallocs of 1 MiB (mmapped by
# glibc) in under a second all get a stack (at 50 a second per CPU half
# went under the empty stack); in an attach run (-p), mapcalls.py's 8 mmaps
# of 16 MiB made after the attach get stacks naming map_some; with
# --malloc (a uretprobe on malloc hijacks its return address) memwork's
# mmaps made inside malloc still unwind to grow_heap, not to [unknown]
t_mem_map_stacks() {
	local d=$O/mem_map_stacks dp=$O/mem_map_stacks_p dm=$O/mem_map_stacks_m b pid why=""
	$AP -q -f none -o $d -- $W/memwork 100 >$d.out 2>$d.err ||
		{ fail mem_map_stacks "memwork: exit $? $(tail -1 $d.err)"; return; }
	b=$(fa_map_bytes $d map '^grow_heap')
	ge $b $((100 << 20)) || why+="; memwork: $b bytes mapped under grow_heap (want 100 MiB)"
	jq -e '.collectors.memory.map_stacks_capped == 0' $d/run.json >/dev/null ||
		why+="; memwork: map_stacks_capped $(jq .collectors.memory.map_stacks_capped $d/run.json)"
	if $AP -q -f none --malloc -o $dm -- $W/memwork 100 >$dm.out 2>$dm.err; then
		b=$(fa_map_bytes $dm map '^grow_heap')
		ge $b $((100 << 20)) ||
			why+="; --malloc: $b bytes mapped under grow_heap (want 100 MiB; [unknown]: $(fa_map_bytes $dm map '^\[unknown\]$'))"
	else
		why+="; --malloc: exit $? $(tail -1 $dm.err)"
	fi
	/usr/bin/python3.11 $PYW/mapcalls.py 1.0 >$dp.out 2>&1 &
	pid=$!
	$AP -q -f none -o $dp -p $pid -d 3 >$dp.pout 2>$dp.err || why+="; -p: exit $? $(tail -1 $dp.err)"
	wait $pid
	b=$(fa_map_bytes $dp map '^map_some$')
	[ "$b" = $((128 << 20)) ] || why+="; -p: $b bytes mapped under map_some (want 8 x 16 MiB)"
	echo "     memwork $(fa_map_bytes $d map '^grow_heap') bytes mapped under grow_heap; -p: $b under map_some"
	[ -z "$why" ] && pass mem_map_stacks || fail mem_map_stacks "${why#; }"
}
