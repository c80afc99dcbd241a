# SPDX-License-Identifier: MIT
# Issue 16 point 1: CPython embedded through a shared libpython. 3.15 keeps
# the thread state in a thread-local that a shared libpython reaches through
# __tls_get_addr (the walker reads the thread's DTV); 3.14 still has its
# pthread key. tests/workloads/pyembed.c is linked here against Debian
# unstable's libpython3.X (tools/debian-python.sh fetch-lib) and run through
# the unpacked loader and glibc. An unreachable archive fails the test with
# the reason. Sourced by run.sh.

SUITE_TESTS=(py_embed)

# "" or why not: build $W/pyembed-3.X against unstable's libpython3.X
embed_build() { # VERSION
	local v=$1 flags out=$W/pyembed-$1
	flags=$(tools/debian-python.sh cflags $v 2>&1) || { echo "$flags"; return; }
	mkdir -p $W
	cc -O2 -g -fno-omit-frame-pointer tests/workloads/pyembed.c $flags -lpthread -o $out \
		2>$O/pyembed-$v.cc.err || { echo "cc: $(head -3 $O/pyembed-$v.cc.err | tr '\n' ' ')"; return; }
	# run by the unpacked loader under the program's name (comm pyembed-3.X)
	ln -sf "$(tools/debian-python.sh root)/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" \
		$W/pyembed-$v.run
}

# 2 CPU-s of Python in two of the program's threads, 70/30, and 0.5 CPU-s of
# zlib in a third: Python frames on the workers' samples, the split, one
# function per thread, the native frames below (the program's worker()),
# and the GIL flag
py_embed_one() { # VERSION DIR
	local v=$1 d=$2 r root lib
	r=$(embed_build $v)
	[ -z "$r" ] || { echo "$r"; return; }
	root=$(tools/debian-python.sh root)
	lib=$root/usr/lib/x86_64-linux-gnu:$root/lib/x86_64-linux-gnu
	PYTHONHOME=$root/usr $AP -q -F 499 -o $d -- $W/pyembed-$v.run --library-path $lib \
		$W/pyembed-$v $PYW/embed.py 2 2>$d.err || { echo "exit $? $(tail -1 $d.err)"; return; }
	grep -q 'native stacks only' $d.err && { echo "$(grep -m1 'native stacks only' $d.err)"; return; }
	$JQ 'include "lib"; (.threads | map(select(.tid != .pid)) | map(.tid)) as $w |
	  pystacks | map(select(.tid as $t | $w | index($t))) as $ws |
	  ($ws | total) as $n |
	  ($ws | map(select(.py | length > 0)) | total) as $py |
	  ($ws | map(select(any(.py[]; .name == "work_a")))) as $a |
	  ($ws | map(select(any(.py[]; .name == "work_b")))) as $b |
	  ($ws | map({tid, fn: [.py[].name | select(. == "work_a" or . == "work_b")] | unique}) |
	    group_by(.tid) | map([.[].fn[]] | unique | length) | max // 0) as $mix |
	  if ($w | length) != 3 then "\($w | length) worker threads, want 3"
	  elif $n < 700 then "only \($n) worker samples (2.5 CPU-s at 499 Hz)"
	  elif $py / $n < 0.9 then "Python frames in \($py) of \($n) worker samples"
	  elif ($a | total) / (($a | total) + ($b | total)) * 100 | . < 65 or . > 75 then
	    "split \($a | total)/\($b | total), want 70/30"
	  elif $mix > 1 then "a thread has samples of both work_a and work_b"
	  else empty end' $d/artifacts/cpu.json
	# the full stacks (the mixed view of stacks.folded hides what is above
	# the first Python frame): the program's worker() below the Python
	# frames, the eval loop between them
	$JQ '.strings as $s | .frames as $f | .stacks as $st |
	  [.samples[] | {count, fr: [$st[.stack][] | $s[$f[.].name]]} |
	    select(.fr | index("work_a") // index("work_b"))] as $r |
	  ($r | map(.count) | add // 0) as $n |
	  ($r | map(select((.fr | index("worker")) as $w | (.fr | index("_PyEval_EvalFrameDefault")) as $e |
	    $w != null and $e != null and $w < $e and $e < (.fr | index("work_a") // index("work_b")))) |
	    map(.count) | add // 0) as $under |
	  if $n == 0 or $under / $n < 0.9 then
	    "worker;...;_PyEval_EvalFrameDefault;work_x in \($under) of \($n) samples"
	  else empty end' $d/artifacts/cpu.json
	# the GIL flag (3.15: the thread state's holds_gil; 3.14: the gil
	# struct): held while Python spins, not while zlib deflates without it
	$JQ '.strings as $s | .frames as $f | .stacks as $st | .modules as $m |
	  [.samples[] | {count, gil: (.gil == true), fr: [$st[.stack][] | $f[.] |
	    {n: $s[.name], mod: (if .module >= 0 then $s[$m[.module].path] else "" end)}]}] as $r |
	  ($r | map(select(any(.fr[]; .n == "work_a" or .n == "work_b")))) as $py |
	  ($r | map(select(any(.fr[]; .n == "work_z") and any(.fr[]; .mod | test("libz[.]so"))))) as $z |
	  def n: map(.count) | add // 0;
	  if ($py | n) == 0 or ($py | map(select(.gil)) | n) / ($py | n) < 0.9 then
	    "GIL held in \($py | map(select(.gil)) | n) of \($py | n) samples of work_a/work_b"
	  elif ($z | n) < 50 then "only \($z | n) samples of work_z in libz"
	  elif ($z | map(select(.gil)) | n) / ($z | n) > 0.1 then
	    "GIL held in \($z | map(select(.gil)) | n) of \($z | n) samples of work_z in libz (it releases it)"
	  else empty end' $d/artifacts/cpu.json
}

# a program that dlopens libpython3.15: its TLS block is not the program's
# from the start. run.sh's py_threads check (four threads, each naming its
# own function) through a wrapper that runs tests/workloads/pydlopen.c
py_dlopen_one() { # VERSION DIR
	local v=$1 d=$2 root lib w=$PWD/$W
	root=$(tools/debian-python.sh root)
	lib=$root/usr/lib/x86_64-linux-gnu
	mkdir -p $W
	cc -O2 -g tests/workloads/pydlopen.c -ldl -o $W/pydlopen 2>$d.cc.err ||
		{ echo "cc: $(head -3 $d.cc.err | tr '\n' ' ')"; return; }
	ln -sf $lib/ld-linux-x86-64.so.2 $W/pydlopen.run
	cat >$W/pydlopen-$v.sh <<-EOF
		#!/bin/sh
		PYTHONHOME=$root/usr exec $w/pydlopen.run --library-path $lib:$root/lib/x86_64-linux-gnu \\
		    $w/pydlopen $lib/libpython$v.so.1.0 "\$@"
	EOF
	chmod +x $W/pydlopen-$v.sh
	py_threads $W/pydlopen-$v.sh $d
	grep -q 'native stacks only' $d.err && echo "$(grep -m1 'native stacks only' $d.err)"
}

t_py_embed() {
	local v err="" ok="" r
	for v in 3.15 3.14; do
		r=$(py_embed_one $v $O/pyembed-$v)
		if [ -n "$r" ]; then err="$err [$v: $r]"; else ok="$ok $v"; fi
	done
	r=$(py_dlopen_one 3.15 $O/pydlopen-3.15)
	if [ -n "$r" ]; then err="$err [3.15 dlopen: $r]"; else ok="$ok 3.15-dlopen"; fi
	PYMATRIX="$PYMATRIX\n     py_embed (Debian unstable's libpython):$ok"
	[ -z "$err" ] && pass py_embed || fail py_embed "$err"
}
