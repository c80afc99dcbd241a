# SPDX-License-Identifier: MIT
# --malloc: the allocator probes (bpf/malloc.bpf.c, src/collect/malloc.c).
# Sourced by tests/integration/run.sh (helpers and variables come from there).
# Truth: mallocwork counts its own calls and knows which function allocated
# what; mallocs.py allocates 64 KiB bytes objects in make_blobs().

MW_PY=/usr/bin/python3.11 # static libpython, libc.so.6 dynamic: libc's malloc

# bytes of the alloc or live rows whose stack matches an extended regex,
# from alloc.folded / live.folded (-1 when the file is missing)
mw_bytes() { # DIR KIND REGEX
	if [ -f "$1/$2.folded" ]; then
		samples "$1/$2.folded" "$3"
	else
		echo -1
	fi
}

mw_run() { # DIR ARGS... (the target after --)
	local d=$1
	shift
	[ -f $d/run.json ] && return 0
	$AP -q --malloc -f none -o $d -- "$@" >$d.out 2>$d.err ||
		{ echo "exit $?: $(tail -1 $d.err)"; return 1; }
}

mw_counter() { # DIR NAME
	jq -r ".collectors.cpu.counters.$2 // -1" $1/run.json
}

# every call counted exactly (the program's own counts: probes go in before
# its exec); the live bytes at the end are keep_live's; the bytes allocated
# under churn() and keep_live() within sampling error of the truth
t_malloc_truth() {
	local t=malloc_truth d=$O/malloc_truth why bad= f want got live under churn keep n
	why=$(mw_run $d $W/mallocwork truth) || { fail $t "$why"; return 1; }
	for f in malloc calloc realloc free; do
		want=$(grep -o "\b$f=[0-9]*" $d.out | cut -d= -f2)
		got=$(mw_counter $d malloc_calls_$f)
		[ -n "$want" ] && [ "$want" = "$got" ] || bad="$bad [$f: counted $got, the program made $want]"
	done
	n=$(mw_counter $d malloc_samples_received)
	live=$(mw_bytes $d live '.')
	under=$(mw_bytes $d live 'keep_live')
	churn=$(mw_bytes $d alloc 'churn')
	keep=$(mw_bytes $d alloc 'keep_live')
	# ~500 samples of 512 KiB: a standard error of ~5%; 20% is 4 of them
	gt "$n" 300 || bad="$bad [only $n samples]"
	ge "$(ratio $under $live)" 0.8 || bad="$bad [live: $under of $live bytes under keep_live]"
	ge "$(ratio $live 65536000)" 0.8 && ge 1.2 "$(ratio $live 65536000)" ||
		bad="$bad [live: $live bytes, the program kept 65536000]"
	ge "$(ratio $churn 262144000)" 0.8 && ge 1.2 "$(ratio $churn 262144000)" ||
		bad="$bad [churn: $churn bytes, the program allocated 262144000]"
	ge "$(ratio $keep 65536000)" 0.8 && ge 1.2 "$(ratio $keep 65536000)" ||
		bad="$bad [keep_live: $keep bytes allocated, the program 65536000]"
	[ "$(mw_counter $d malloc_samples_lost)" = 0 ] || bad="$bad [samples lost]"
	if [ -n "$bad" ]; then
		fail $t "$bad"
	else
		pass $t
		echo "     calls exact; $n samples; live $live (keep_live $(ratio $under $live)); churn $(ratio $churn 262144000) of the truth"
	fi
}

# a Python program's allocations over pymalloc's limit reach malloc, under
# the Python function that made them
t_malloc_python() {
	local t=malloc_python d=$O/malloc_python why truth got all
	[ -x $MW_PY ] || { fail $t "$MW_PY is not there"; return 1; }
	why=$(mw_run $d $MW_PY tests/workloads/py/mallocs.py) || { fail $t "$why"; return 1; }
	truth=$(grep -o 'make_blobs_bytes=[0-9]*' $d.out | cut -d= -f2)
	got=$(mw_bytes $d alloc 'make_blobs \(mallocs.py:[0-9]+\)')
	all=$(mw_bytes $d alloc '.')
	if [ -z "$truth" ]; then
		fail $t "the program did not say what it allocated: $(tail -1 $d.err)"
	elif ! ge "$(ratio $got $truth)" 0.8 || ! ge 1.2 "$(ratio $got $truth)"; then
		fail $t "$got bytes under make_blobs, the program allocated $truth ($all in all)"
	else
		pass $t
		echo "     make_blobs: $got of $truth bytes ($(ratio $got $truth)); $all in all"
	fi
}

# off by default; strict flags, one-line usage errors
t_malloc_flags() {
	local t=malloc_flags d=$O/malloc_off bad= a out
	for a in "--malloc-rate 0 --malloc -- true" "--malloc-rate 12k --malloc -- true" \
		"--malloc-rate 4096 -- true" "--malloc-rate 2147483648 --malloc -- true"; do
		# shellcheck disable=SC2086
		out=$($AP $a 2>&1)
		[ $? = 2 ] || bad="$bad [$a: exit not 2]"
		[ "$(echo "$out" | wc -l)" = 1 ] || bad="$bad [$a: not one line: $out]"
	done
	$AP --help | grep -q -- '--malloc-rate BYTES' || bad="$bad [--help has no --malloc-rate]"
	$AP -q -f none -o $d -- $W/mallocwork truth >/dev/null 2>$d.err || bad="$bad [exit $?: $(tail -1 $d.err)]"
	[ "$(mw_counter $d malloc_files_probed)" = 0 ] && [ "$(mw_counter $d malloc_calls_malloc)" = 0 ] ||
		bad="$bad [probes without --malloc]"
	[ -z "$bad" ] && pass $t || fail $t "$bad"
}

SUITE_TESTS=(malloc_truth malloc_python malloc_flags)
