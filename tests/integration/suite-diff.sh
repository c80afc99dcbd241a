# SPDX-License-Identifier: MIT
# `diff BASE NEW` on two real runs (issue 17, first slice): a Python program
# whose hot() does three times the work in the second run while cold() does
# the same. diff names hot first as a real regression and exits 1; the other
# way round it is an improvement and exits 0. Sourced by run.sh.

SUITE_TESTS=(diff_moved_function diff_same_program)

# the pair of runs, $O/diff/base and $O/diff/new, made once per run.sh for
# the tests that read them (suite-d-html.sh's too); 1 with DF_PAIR_ERR set
df_pair() {
	local d=$O/diff
	[ -e $d/.pair ] && return 0
	mkdir -p $d
	$AP -q -o $d/base -- /usr/bin/python3.11 $PYW/hotcold.py 8000000 8000000 2>$d/base.err ||
		{ DF_PAIR_ERR="base run: exit $?: $(tail -1 $d/base.err)"; return 1; }
	$AP -q -o $d/new -- /usr/bin/python3.11 $PYW/hotcold.py 24000000 8000000 2>$d/new.err ||
		{ DF_PAIR_ERR="new run: exit $?: $(tail -1 $d/new.err)"; return 1; }
	touch $d/.pair
}

t_diff_moved_function() {
	local d=$O/diff rc first bad=
	df_pair || { fail diff_moved_function "$DF_PAIR_ERR"; return; }
	$AP diff $d/base $d/new >$d/diff.out 2>$d/diff.err
	rc=$?
	[ $rc = 1 ] || bad="$bad [exit $rc, want 1: $(tail -1 $d/diff.err)]"
	if ! jq -e '.schema == "autoprof.diff/1"' $d/new/diff.json >/dev/null 2>&1; then
		bad="$bad [no diff.json in NEW]"
	else
		first=$(jq -r '.functions[0] | select(.regression) | .name' $d/new/diff.json)
		[ "$first" = hot ] || bad="$bad [first function: '$first', want hot as a regression]"
		jq -e '[.functions[] | select(.name == "cold")][0] | .regression == false and .class != "absolute"' \
			$d/new/diff.json >/dev/null ||
			bad="$bad [cold: $(jq -c '[.functions[] | select(.name == "cold")][0] | [.class, .self_s, .p_abs]' $d/new/diff.json)]"
	fi
	grep -q "hot (hotcold.py)" $d/diff.out || bad="$bad [hot not in the summary]"
	# the other way round: an improvement, exit 0; -o keeps base's directory as it was
	mkdir -p $d/rev
	$AP diff -q -o $d/rev $d/new $d/base 2>$d/rev.err
	rc=$?
	[ $rc = 0 ] || bad="$bad [reverse: exit $rc, want 0: $(tail -1 $d/rev.err)]"
	[ ! -e $d/base/diff.json ] || bad="$bad [reverse wrote into BASE's directory]"
	jq -e '[.functions[] | select(.name == "hot")][0] | .self_s_delta < 0 and .class == "absolute"' \
		$d/rev/diff.json >/dev/null 2>&1 || bad="$bad [reverse: hot not an absolute improvement]"
	[ -z "$bad" ] && pass diff_moved_function || fail diff_moved_function "$bad"
}

# the issue's truth "two runs of one program and configuration: exit 0 in at
# least 19 of 20 pairs", at 5 disjoint pairs of the 10-run --repeat set of
# suite-d-repeat.sh (made once, shared with repeat_same and repeat_set_diff):
# at least 4 exit 0. The 20 pairs are repeat_truth20, which `make soak` runs.
t_diff_same_program() {
	mkdir -p $O/repeat
	rp_set $O/repeat/base 10 600000 600000 2>$O/repeat/base.why ||
		{ fail diff_same_program "$(cat $O/repeat/base.why)"; return; }
	rp_pairs diff_same_program $O/repeat/base 5 >/dev/null 2>$O/repeat/pairs.why &&
		pass diff_same_program || fail diff_same_program "$(cat $O/repeat/pairs.why)"
}
