# SPDX-License-Identifier: MIT
# diff's call paths and diff.html on suite-diff.sh's pair of real runs
# (df_pair: hot() does three times the work in NEW, cold() the same): the
# summary's first call path goes through hot, diff.json lists it first as a
# real growth, and diff.html passes tests/browser/diff_browser_test.py in headless
# Chromium (colours match the changes, hot red, zoom, search, tooltip, no
# console error). Sourced by run.sh.

SUITE_TESTS=(diff_html_browser)

t_diff_html_browser() {
	local d=$O/diff-html rc line bad=
	df_pair || { fail diff_html_browser "$DF_PAIR_ERR"; return; }
	mkdir -p $d
	$AP diff -o $d $O/diff/base $O/diff/new >$d/diff.out 2>$d/diff.err
	rc=$?
	[ $rc = 1 ] || bad="$bad [exit $rc, want 1: $(tail -1 $d/diff.err)]"
	line=$(grep -A1 '^Call paths that changed' $d/diff.out | tail -1)
	# a slower path first; diff.json's says it goes through hot (it may end
	# below hot, in the interpreter's C, and the summary elides its callers)
	[[ "$line" =~ ^" "+\+[0-9.]+" pts  ".*"; real: its CPU time grew" ]] ||
		bad="$bad [summary's first call path: '$line']"
	jq -e '.call_paths[0] | (.path | map(startswith("hot (")) | any) and .class == "absolute" and .total_pct_delta > 0' \
		$d/diff.json >/dev/null 2>&1 ||
		bad="$bad [diff.json's first call path: $(jq -c '.call_paths[0] | [.path[-2:], .class]' $d/diff.json 2>&1)]"
	[ -s $d/diff.html ] || bad="$bad [no diff.html beside diff.json]"
	if [ -z "$bad" ] && ! python3 tests/browser/diff_browser_test.py $d hot $O/diff-screenshot.png \
		>$O/diff-browser.log 2>&1; then
		bad="$bad $(grep -m3 FAIL $O/diff-browser.log | tr '\n' ' ')$(tail -1 $O/diff-browser.log)"
	fi
	if [ -z "$bad" ]; then
		pass diff_html_browser
		grep -E "rendered in|hot:" $O/diff-browser.log
	else
		fail diff_html_browser "$bad"
	fi
}
