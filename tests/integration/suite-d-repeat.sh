# SPDX-License-Identifier: MIT
# `run --repeat N` and `diff` of two sets of repeated runs (issue 17 item
# 2). One set of 10 runs of one program serves three tests: the set's
# layout and aggregate with no abnormal-variance finding (repeat_same); the
# issue's truth "two runs of one program and configuration: exit 0 in at
# least 19 of 20 pairs" at 5 disjoint pairs, >= 4 exit 0 (suite-diff.sh's
# diff_same_program, with rp_set and rp_pairs from here; the 20 pairs of a
# --repeat 40 set are repeat_truth20, a named test that `make soak` runs);
# and the base of a set diff where hot()'s work doubles. A set whose sleep and one function's work
# depend on the run number gives both findings in its first 4 runs, and is
# stopped by SIGINT in its fifth. Sourced by run.sh.

SUITE_TESTS=(repeat_usage repeat_same repeat_set_diff repeat_findings)
NAMED_TESTS=(repeat_truth20)

RP_PY=/usr/bin/python3.11

# a set of N runs of the program into DIR (unless there); 0 or 1 with a line on stderr
rp_set() { # DIR N ARGS...
	local d=$1 n=$2
	shift 2
	[ -f $d/repeat.json ] && return 0
	mkdir -p $O/repeat
	$AP --repeat $n -F 999 -f none -o $d -- $RP_PY $PYW/hotcold.py "$@" >$d.out 2>$d.err ||
		{ echo "--repeat $n: exit $?: $(grep -v '^autoprof-bpf: run ' $d.err | tail -2)" >&2; return 1; }
}

t_repeat_usage() {
	local bad= a out
	for a in "--repeat 1 -- true" "--repeat 101 -- true" "--repeat 2x -- true" \
		"--repeat 3 -p 1" "--repeat 3 --all"; do
		# shellcheck disable=SC2086
		out=$($AP $a 2>&1)
		[ $? = 2 ] || bad="$bad [$a: exit not 2]"
		[ "$(echo "$out" | wc -l)" = 1 ] || bad="$bad [$a: not one line: $out]"
	done
	$AP --help | grep -q -- '--repeat N' || bad="$bad [--help has no --repeat]"
	[ -z "$bad" ] && pass repeat_usage || fail repeat_usage "$bad"
}

# the truth test over PAIRS disjoint pairs of a set of 2 PAIRS runs: at
# least PAIRS - ceil(PAIRS / 20) exit 0 (19 of 20; 4 of 5)
rp_pairs() { # NAME DIR PAIRS
	local name=$1 d=$2 p=$3 i rc ok=0 bad=
	for ((i = 1; i <= p; i++)); do
		mkdir -p $d.pairs/$i
		$AP diff -q -o $d.pairs/$i $d/run-$((2 * i - 1)) $d/run-$((2 * i)) 2>$d.pairs/$i.err
		rc=$?
		if [ $rc = 0 ]; then
			ok=$((ok + 1))
		else
			bad="$bad [run-$((2 * i - 1)) -> run-$((2 * i)): exit $rc: $(jq -c '[.functions[] | select(.regression) | [.name, .self_samples, .p_share, .p_abs]]' $d.pairs/$i/diff.json 2>/dev/null)$(tail -1 $d.pairs/$i.err)]"
		fi
	done
	echo "$ok"
	[ $ok -ge $((p - (p + 19) / 20)) ] || { echo "$ok of $p pairs exit 0:$bad" >&2; return 1; }
}

t_repeat_same() {
	mkdir -p $O/repeat
	local d=$O/repeat/base bad= n
	rp_set $d 10 600000 600000 2>$O/repeat/base.why ||
		{ fail repeat_same "$(cat $O/repeat/base.why)"; return; }
	for n in 1 10; do
		artifacts_ok $d/run-$n || bad="$bad [run-$n is not a complete run]"
	done
	[ ! -e $d/run-11 ] || bad="$bad [run-11 exists]"
	jq -e '.schema == "autoprof.repeat/1" and .requested == 10 and .included == 10 and
		(.runs | length) == 10 and .wall_s.min <= .wall_s.median and .wall_s.median <= .wall_s.max and
		.wall_s.cv >= 0' $d/repeat.json >/dev/null 2>&1 || bad="$bad [repeat.json: $(head -c 300 $d/repeat.json)]"
	# hot and cold have intervals; the same program gives no finding
	jq -e '[.functions[] | select(.name == "hot" or .name == "cold") |
		select(.self_pct.ci95_low < .self_pct.mean and .self_pct.mean < .self_pct.ci95_high)] | length == 2' \
		$d/repeat.json >/dev/null 2>&1 || bad="$bad [no intervals for hot and cold]"
	jq -e '.findings == []' $d/repeat.json >/dev/null 2>&1 ||
		bad="$bad [findings on one program: $(jq -c '.findings' $d/repeat.json)]"
	grep -q '^## Findings' $d/repeat.md || bad="$bad [repeat.md]"
	grep -q 'wall: min' $d.err || bad="$bad [no summary on the terminal]"
	[ -z "$bad" ] && pass repeat_same || fail repeat_same "$bad"
}

t_repeat_truth20() {
	mkdir -p $O/repeat
	local d=$O/repeat/truth40 ok
	rp_set $d 40 600000 600000 2>$O/repeat/t40.why || { fail repeat_truth20 "$(cat $O/repeat/t40.why)"; return; }
	ok=$(rp_pairs repeat_truth20 $d 20 2>$O/repeat/t40.pairs) &&
		pass repeat_truth20 || fail repeat_truth20 "$(cat $O/repeat/t40.pairs)"
	echo "     repeat_truth20: $ok of 20 pairs exit 0"
}

t_repeat_set_diff() {
	mkdir -p $O/repeat
	local b=$O/repeat/base n=$O/repeat/double rc bad=
	rp_set $b 10 600000 600000 2>$O/repeat/base.why ||
		{ fail repeat_set_diff "$(cat $O/repeat/base.why)"; return; }
	rp_set $n 6 1200000 600000 2>$O/repeat/double.why ||
		{ fail repeat_set_diff "$(cat $O/repeat/double.why)"; return; }
	$AP diff $b $n >$n.diff.out 2>$n.diff.err
	rc=$?
	[ $rc = 1 ] || bad="$bad [exit $rc, want 1: $(tail -1 $n.diff.err)]"
	jq -e '.schema == "autoprof.diff-repeat/1" and .base.runs == 10 and .new.runs == 6' $n/diff.json \
		>/dev/null 2>&1 || bad="$bad [diff.json: $(head -c 300 $n/diff.json)]"
	jq -e '.functions[0] | .name == "hot" and .regression and .class == "absolute"' $n/diff.json >/dev/null 2>&1 ||
		bad="$bad [first: $(jq -c '.functions[0] | [.name, .class, .regression, .p_share, .p_abs]' $n/diff.json)]"
	jq -e '[.functions[] | select(.name == "cold")][0] | .regression == false' $n/diff.json >/dev/null 2>&1 ||
		bad="$bad [cold a regression]"
	grep -q 'hot (hotcold.py)' $n.diff.out || bad="$bad [hot not in the summary]"
	# the other way round: an improvement; a set and one run: usage error
	mkdir -p $n.rev
	$AP diff -q -o $n.rev $n $b 2>$n.rev.err
	rc=$?
	[ $rc = 0 ] || bad="$bad [reverse: exit $rc, want 0]"
	jq -e '[.functions[] | select(.name == "hot")][0] | .self_s_delta < 0 and .class == "absolute"' \
		$n.rev/diff.json >/dev/null 2>&1 || bad="$bad [reverse: hot not an absolute improvement]"
	$AP diff -q -o $n.rev $b $n/run-1 2>$n.mix.err
	rc=$?
	[ $rc = 2 ] && [ "$(wc -l <$n.mix.err)" = 1 ] || bad="$bad [set vs run: exit $rc: $(cat $n.mix.err)]"
	[ -z "$bad" ] && pass repeat_set_diff || fail repeat_set_diff "$bad"
}

# odd runs sleep 0.1 s, even ones 0.9 s and do 3x hot: both findings in
# runs 1-4; SIGINT to the profiler alone during run 5 (its target sleeps):
# the run it cut is kept but left out, run 6 never starts, exit 130
t_repeat_findings() {
	mkdir -p $O/repeat
	local d=$O/repeat/modes pid rc i bad=
	$AP --repeat 6 -F 999 -f none -o $d -- $RP_PY $PYW/hotcold.py 600000 600000 0 0.1 >$d.out 2>$d.err &
	pid=$!
	for ((i = 0; i < 600; i++)); do
		[ -f $d/run-4/run.json ] && break
		kill -0 $pid 2>/dev/null || break
		sleep 0.05
	done
	sleep 1 # run 5 loads (~0.3 s) and sleeps 30 s
	kill -INT $pid
	wait $pid
	rc=$?
	[ $rc = 130 ] || bad="$bad [exit $rc, want 130: $(grep -v '^autoprof-bpf: run ' $d.err | tail -2)]"
	[ ! -e $d/run-6 ] || bad="$bad [run-6 started]"
	# run 5 is kept and left out (or, stopped while loading, never written)
	jq -e '.interrupted and .included == 4 and ([.runs[:4][] | .included] | all) and
		(.runs | length == 4 or (.[4].included | not) and (.[4].excluded | test("INT")))' \
		$d/repeat.json >/dev/null 2>&1 ||
		bad="$bad [repeat.json: $(jq -c '[.interrupted, .included, .runs]' $d/repeat.json 2>&1 | head -c 400)]"
	jq -e '.findings[] | select(.kind == "bimodal_wall_time") |
		.evidence.largest_gap | .low_runs == 2 and .high_runs == 2 and .gap_s > 0.3' \
		$d/repeat.json >/dev/null 2>&1 || bad="$bad [no bimodal finding: $(jq -c '.wall_s' $d/repeat.json)]"
	jq -e '[.findings[] | select(.kind == "share_swing") | .function] | index("hot") != null' \
		$d/repeat.json >/dev/null 2>&1 ||
		bad="$bad [no swing of hot: $(jq -c '[.functions[] | [.name, .self_pct.per_run, .swing]]' $d/repeat.json)]"
	grep -q 'bimodal wall time' $d.err && grep -q 'hot (hotcold.py) swings' $d.err ||
		bad="$bad [findings not in the summary]"
	[ -z "$bad" ] && pass repeat_findings || fail repeat_findings "$bad"
}
