# SPDX-License-Identifier: MIT
# `diff`'s exact deltas on two real runs (issue 17): a Python program that
# sleeps and stats files, the second run sleeping 0.05 -> 0.4 s and making
# 200 -> 5000 stat calls. diff shows the process's sleep time and the stat
# calls past their floors, in the summary, diff.json and diff.md. (That two
# identical runs stay quiet is a unit test on fixtures: exact but jittery
# real runs would make it flaky.) Sourced by run.sh.

SUITE_TESTS=(diff_exact_deltas)

t_diff_exact_deltas() {
	local d=$O/diff-core rc bad=
	mkdir -p $d
	cat >$d/w.py <<'PY'
import os, sys, time
time.sleep(float(sys.argv[1]))
for i in range(int(sys.argv[2])):
    os.stat("/")
PY
	$AP -q -o $d/base -- /usr/bin/python3.11 $d/w.py 0.05 200 2>$d/base.err ||
		{ fail diff_exact_deltas "base run: exit $?: $(tail -1 $d/base.err)"; return; }
	$AP -q -o $d/new -- /usr/bin/python3.11 $d/w.py 0.4 5000 2>$d/new.err ||
		{ fail diff_exact_deltas "new run: exit $?: $(tail -1 $d/new.err)"; return; }
	$AP diff $d/base $d/new >$d/diff.out 2>$d/diff.err
	rc=$?
	[ $rc = 0 ] || [ $rc = 1 ] || bad="$bad [exit $rc: $(tail -1 $d/diff.err)]"
	jq -e '.wall.processes[] | select(.name == "python3.11") |
		(.changed | index("sleep_s")) and .sleep_s[1] - .sleep_s[0] > 0.3' \
		$d/new/diff.json >/dev/null 2>&1 ||
		bad="$bad [sleep: $(jq -c '.wall.processes' $d/new/diff.json 2>&1 | head -c 300)]"
	jq -e '[.syscalls.rows[] | select(.process == "python3.11" and (.changed | index("calls"))
		and .calls[1] - .calls[0] >= 4500)] | length >= 1' $d/new/diff.json >/dev/null 2>&1 ||
		bad="$bad [stat calls: $(jq -c '[.syscalls.rows[] | select(.calls[1] > 3000)]' $d/new/diff.json 2>&1 | head -c 300)]"
	jq -e '.findings | has("appeared") and has("gone")' $d/new/diff.json >/dev/null 2>&1 ||
		bad="$bad [no findings part]"
	grep -q "^Wall time by reason" $d/diff.out && grep -q "process python3.11: .*sleep_s" $d/diff.out ||
		bad="$bad [summary: no sleep_s line]"
	grep -q "^## Wall time by reason" $d/new/diff.md && grep -q "^## Syscalls" $d/new/diff.md &&
		grep -q "| process python3.11 |.*sleep\\\\_s" $d/new/diff.md || bad="$bad [diff.md]"
	[ -z "$bad" ] && pass diff_exact_deltas || fail diff_exact_deltas "$bad"
}
