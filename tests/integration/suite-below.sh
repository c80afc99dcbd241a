# SPDX-License-Identifier: MIT
# Time below the Python frame (issue 15 item 2), on Debian's stripped
# python3.11: a hot Python function whose time is in a native library or a
# builtin below it is reported as that library and function, with advice that
# fits it, and never with hot_function's "make the loop do less". Reuses the
# pattern table's runs (pattern_run). Sourced by run.sh.

SUITE_TESTS=(below_named below_no_loop_advice below_compileall)

# the findings kept (not merged) of a run, as "pattern_id<TAB>location<TAB>explanation"
bl_kept() { jq -r '.findings[] | [.pattern_id, .location, .explanation] | @tsv' $1/findings.json 2>/dev/null; }
# the one kept finding of pattern $2 in run $1, as JSON ("null" if none)
bl_find() { jq -c --arg p $2 '[.findings[] | select(.pattern_id == $p)][0]' $1/findings.json 2>/dev/null; }

t_below_named() {
	local d bad= f blas
	# compile(): named through importlib's trampoline, the trampoline never blamed
	d=$(pattern_run compile_src)
	f=$(bl_find $d compile_below)
	if [ "$f" = null ] || [ -z "$f" ]; then
		bad="$bad [compile_src: no compile_below: $(bl_kept $d | cut -c1-200 | tr '\n' '|')$(loaded $d)]"
	elif ! jq -e '(.location | test("source_to_code")) and (.explanation | test("in the builtin compile\\(\\)"))' <<<"$f" >/dev/null; then
		bad="$bad [compile_src: $(jq -r '.location + ": " + .explanation' <<<"$f")]"
	fi
	if jq -e '[.findings[] | .location] | any(test("_call_with_frames_removed"))' $d/findings.json >/dev/null 2>&1; then
		bad="$bad [compile_src: a finding blames _call_with_frames_removed]"
	fi
	# compile() called by the program's own function, no Python frame between
	d=$(pattern_run compile_direct)
	f=$(bl_find $d compile_below)
	if [ "$f" = null ] || [ -z "$f" ] || ! jq -e '.location | test(":compile_direct:")' <<<"$f" >/dev/null; then
		bad="$bad [compile_direct: no compile_below at compile_direct: $(bl_kept $d | cut -c1-200 | tr '\n' '|')$(loaded $d)]"
	fi
	# SHA-256 of 8 MiB buffers: libcrypto, the GIL released
	d=$(pattern_run hashing)
	f=$(bl_find $d gil_released_native)
	if [ "$f" = null ] || [ -z "$f" ]; then
		bad="$bad [hashing: no gil_released_native: $(bl_kept $d | cut -c1-200 | tr '\n' '|')$(loaded $d)]"
	elif ! jq -e '(.explanation | test("libcrypto[^ ]*[:+][^ ]+ \\([0-9.]+ CPU-s\\), and the GIL was released in [0-9]+%")) and
		(.suggestions[0] | test("GIL is released here"))' <<<"$f" >/dev/null; then
		bad="$bad [hashing: $(jq -r .explanation <<<"$f")]"
	fi
	# zlib level 9: compression_heavy's advice, one finding for one cost
	d=$(pattern_run compress)
	if [ "$(bl_find $d compression_heavy)" = null ]; then
		bad="$bad [compress: no compression_heavy$(loaded $d)]"
	elif [ "$(jq '[.findings[] | select(.pattern_id | test("^(native_library_dominated|native_below_python|gil_released_native)$"))] | length' $d/findings.json)" != 0 ]; then
		bad="$bad [compress: a second finding for libz: $(bl_kept $d | cut -c1-200 | tr '\n' '|')]"
	fi
	# json.dump(obj, fp, indent=2): the pure-Python encoder, not serialization_heavy's generic advice
	d=$(pattern_run json_indent)
	f=$(bl_find $d json_python_encoder)
	if [ "$f" = null ] || [ -z "$f" ]; then
		bad="$bad [json_indent: no json_python_encoder: $(bl_kept $d | cut -c1-200 | tr '\n' '|')$(loaded $d)]"
	elif ! jq -e '.suggestions[0] | test("json.dumps without indent uses the C encoder")' <<<"$f" >/dev/null; then
		bad="$bad [json_indent: advice $(jq -r '.suggestions[0]' <<<"$f")]"
	fi
	d=$(pattern_run json_c)
	if fired $d json_python_encoder; then
		bad="$bad [json_c: the C encoder was called pure-Python: $(jq -r .explanation <<<"$(bl_find $d json_python_encoder)")]"
	fi
	# NumPy on the reference BLAS: dgemm_ named, an optimised BLAS advised
	blas=$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null)
	if ! /usr/bin/python3.11 -c 'import numpy' 2>/dev/null || [[ $blas != */blas/libblas.so.3* ]]; then
		bad="$bad [matmul needs Debian's python3-numpy on the reference BLAS (libblas3, selected by update-alternatives); libblas.so.3 is ${blas:-missing}]"
	else
		d=$(pattern_run matmul)
		f=$(bl_find $d reference_blas)
		if [ "$f" = null ] || [ -z "$f" ]; then
			bad="$bad [matmul: no reference_blas: $(bl_kept $d | cut -c1-200 | tr '\n' '|')$(loaded $d)]"
		elif ! jq -e '(.explanation | test("libblas\\.so[.0-9]*:dgemm_ \\(")) and (.suggestions[0] | test("optimised BLAS"))' <<<"$f" >/dev/null; then
			bad="$bad [matmul: $(jq -r .explanation <<<"$f")]"
		fi
	fi
	[ -z "$bad" ] && pass below_named || fail below_named "$bad"
}

# none of these gets hot_function's loop advice or a hot path ending in the
# caller; every finding's time at stake is within the run's wall time
t_below_no_loop_advice() {
	local d w bad=
	for w in compile_src compile_direct hashing compress json_indent matmul expat; do
		d=$(pattern_run $w)
		[ -e $d.failed ] && { bad="$bad [$w: profiling failed: $(tail -1 $d.err)]"; continue; }
		if jq -e '[.findings[] | .suggestions[]] | any(test("make the loop do less"))' $d/findings.json >/dev/null; then
			bad="$bad [$w: loop advice: $(jq -r '[.findings[] | select(any(.suggestions[]; test("make the loop do less"))) | .id + " at " + .location] | join(", ")' $d/findings.json)]"
		fi
		if fired $d hot_path || fired $d hot_function || fired $d hot_library_function; then
			bad="$bad [$w: $(jq -r '[.findings[] | select(.pattern_id | test("^hot_")) | .id + " at " + .location] | join(", ")' $d/findings.json)]"
		fi
		if ! jq -e --slurpfile r $d/run.json '[.findings[] | .impact_s // 0] | all(. <= $r[0].wall_s + 0.01)' $d/findings.json >/dev/null; then
			bad="$bad [$w: time at stake over the wall time]"
		fi
	done
	[ -z "$bad" ] && pass below_no_loop_advice || fail below_no_loop_advice "$bad"
}

# a real program: compileall -f over a copy of part of the standard library
# (the case of the issue). Its truth, from cProfile on this host: compile()
# is about 94% of compileall's CPU time. The first finding must be
# compile_below at importlib's source_to_code, within the wall time, and
# none may blame the trampoline or advise loop work.
t_below_compileall() {
	local d=$O/below_compileall src=$O/below_cstd lib=/usr/lib/python3.11 f
	rm -rf $src && mkdir -p $src
	cp -r $lib/asyncio $lib/email $lib/http $lib/xml $lib/unittest $lib/json $lib/logging \
		$lib/concurrent $lib/importlib $lib/multiprocessing $lib/urllib $src/ &&
		cp $lib/*.py $src/ && find $src -name __pycache__ -prune -exec rm -rf {} + ||
		{ fail below_compileall "cannot copy the standard library from $lib"; return; }
	if ! nice -n -10 $AP -q -o $d -- /usr/bin/python3.11 -m compileall -f -q $src 2>$d.err; then
		fail below_compileall "profiling compileall failed: $(tail -1 $d.err)"
		return
	fi
	f=$(jq -c '.findings[0]' $d/findings.json)
	if ! jq -e '.pattern_id == "compile_below" and (.location | test("source_to_code"))' <<<"$f" >/dev/null; then
		fail below_compileall "first finding is not compile() at source_to_code: $(jq -r '[.findings[] | .id + " at " + .location] | join(", ")' $d/findings.json)$(loaded $d)"
	elif ! jq -e --slurpfile r $d/run.json '.impact_s <= $r[0].wall_s and (.explanation | test("spends (9[0-9]|100|[89][0-9])% of its time in the builtin compile\\(\\)"))' <<<"$f" >/dev/null; then
		fail below_compileall "compile() share or time at stake wrong: $(jq -r '.explanation + " (" + (.impact_s | tostring) + " s)"' <<<"$f")"
	elif jq -e '[.findings[] | (.location | test("_call_with_frames_removed")) or any(.suggestions[]; test("make the loop do less"))] | any' $d/findings.json >/dev/null; then
		fail below_compileall "a finding blames the trampoline or gives loop advice"
	else
		pass below_compileall
		echo "     $(jq -r '.explanation' <<<"$f")"
	fi
}
