# SPDX-License-Identifier: MIT
# report.html's memory views (issue 18) in headless Chromium: the analyze
# fixture's run with tests/fixtures/memory/memory.json (page faults and
# --malloc's rows) beside it, reported by `autoprof-bpf report`; each view
# draws a root weighing its rows' bytes (tests/browser/memory_browser_test.py).
# No BPF: the memory collector's own runs are checked by its suite.
# Sourced by run.sh.

SUITE_TESTS=(mem_html_browser)

t_mem_html_browser() {
	local d=$O/mem-html
	rm -rf $d && cp -r tests/fixtures/analyze/run1 $d && cp tests/fixtures/memory/memory.json $d/artifacts/ ||
		{ fail mem_html_browser "cannot copy the fixture run to $d"; return; }
	if ! $AP report -q -f html $d >$O/mem-html.out 2>&1; then
		fail mem_html_browser "report: $(tail -1 $O/mem-html.out)"
	elif python3 tests/browser/memory_browser_test.py $d $O/mem-html-screenshot.png >$O/mem-browser.log 2>&1; then
		pass mem_html_browser
		grep -E "page faults:" $O/mem-browser.log
	else
		fail mem_html_browser "$(grep -m3 FAIL $O/mem-browser.log | tr '\n' ' ')$(tail -1 $O/mem-browser.log)"
	fi
}
