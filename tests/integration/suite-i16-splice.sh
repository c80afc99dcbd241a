# SPDX-License-Identifier: MIT
# Issue 16 point 2: Python frames are spliced where the interpreter entered
# them, found by the stack address of each eval loop activation's entry
# shim (3.12+), not by the loop's symbol name. AP_TEST_NO_EVAL_NAME takes
# the name away (no _PyEval_EvalFrameDefault.cold naming, no pairing by
# name), so these runs pass only if the addresses pair. Debian unstable's
# stripped PGO+LTO python3.14/3.15 are the case that needs it; pyenv's
# 3.12/3.13 check the same on builds with symbols. Sourced by run.sh.

SUITE_TESTS=(py_splice_addr)

# one interpreter: prints a reason on failure
sp_check() { # PY DIR
	local d=$2 n hash under native nap by_addr by_name fb pys
	AP_TEST_NO_EVAL_NAME=1 $AP -q -F 499 -o $d -- $1 $PYW/splice.py 1.5 0.6 2>$d.err ||
		{ echo "exit $?: $(tail -1 $d.err)"; return; }
	n=$(samples $d/stacks.folded .)
	# the hashing's native frames, and those with hash_buffer above them
	native=$(samples $d/stacks.folded '(libcrypto|_hashlib|_sha2|sha256|SHA256)')
	under=$(samples $d/stacks.folded ';hash_buffer \(splice.py:[0-9]+\);(.*;)?[^;]*(libcrypto|_hashlib|_sha2|sha256|SHA256)')
	read -r by_addr by_name fb pys <<<"$(jq -r '.collectors.cpu.counters |
		"\(.python_splice_by_address) \(.python_splice_by_name) \(.python_splice_fallbacks) \(.python_samples)"' \
		$d/run.json)"
	nap=$(samples $d/offcpu.folded ';nap \(splice.py:[0-9]+\);(.*;)?[^;]*clock_nanosleep[^;]*;(.*;)?\[sleep\]')
	if ! gt $native $((n / 2)); then
		echo "hashing in $native of $n samples"
	elif ! ge $(ratio $under $native) 0.9; then
		echo "hash_buffer above the hashing's native frames in $under of $native samples"
	elif [ "$by_name" != 0 ] || ! gt $by_addr $((pys / 2)); then
		echo "spliced by address $by_addr, by name $by_name, of $pys Python samples"
	elif gt $((fb * 20)) $pys; then
		echo "$fb of $pys Python samples not spliced (Python frames at the leaf)"
	elif ! gt $nap 0; then
		echo "no off-CPU sleep with clock_nanosleep under nap: $(grep -m1 'nap (' $d/offcpu.folded)"
	else
		echo "ok: under $(ratio $under $native), by address $by_addr of $pys, fallbacks $fb" >$d.ok
	fi
}

t_py_splice_addr() {
	local py v r err="" ok="" tested="" deb
	deb=$(debian_unstable_pythons)
	case "$deb" in FETCH:*) fail py_splice_addr "Debian unstable's python3.14/3.15 are needed: ${deb#FETCH: }"; return ;; esac
	for py in $( (pythons; printf "%s\n" $deb) | sort -u); do
		"$py" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null || continue
		v=$(pyver $py)
		tested="$tested $v"
		r=$(sp_check $py $O/splice-$v)
		if [ -n "$r" ]; then err="$err [$v: $r]"; else ok="$ok $v($(cut -d' ' -f3 $O/splice-$v.ok | tr -d ,))"; fi
	done
	echo "     interpreters tested:$tested"
	if [[ "$tested" != *" 3.14."* || "$tested" != *" 3.15."* ]]; then
		fail py_splice_addr "Debian unstable's 3.14 and 3.15 were not both tested:$tested"
	elif [ -n "$err" ]; then
		fail py_splice_addr "$err"
	else
		pass py_splice_addr
		echo "     share of the hashing's samples under hash_buffer:$ok"
	fi
}
