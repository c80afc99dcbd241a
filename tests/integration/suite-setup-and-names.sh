# SPDX-License-Identifier: MIT
# The suite on a fresh machine (issue 12): the README's own commands work
# as root and from another user, with or without sudo; target-controlled
# names cannot inject Markdown, HTML, script or terminal escapes.
# Sourced by tests/integration/run.sh (helpers and AP, W, O from there).

# README's first commands are `make demo` / `make test`; from a user other
# than root they re-run through sudo, or stop with one line when there is
# none; .ci/run calls the same command
t_make_needs_root() {
	local t rc cmds
	# outside the tree: user nobody cannot reach a clone under /root
	t=$(mktemp -d /tmp/autoprof-mkroot.XXXXXX) && mkdir -p $t/repo $t/nosudo $t/sudo
	cp Makefile $t/repo/
	for d in nosudo sudo; do
		ln -s "$(command -v make)" $t/$d/make
		ln -s "$(command -v id)" $t/$d/id
	done
	printf '#!/bin/sh\necho "$*" >%s/sudo.args\n' $t >$t/sudo/sudo
	chmod 755 $t $t/repo $t/nosudo $t/sudo $t/sudo/sudo && chmod 644 $t/repo/Makefile
	chmod 777 $t
	cmds=$(sed -n '/^```sh$/,/^```$/p' README.md | sed -n '2,3p' | awk '{ print $1, $2, $3 }' | tr '\n' ,)
	runuser -u nobody -- env PATH=$t/nosudo make -C $t/repo --no-print-directory demo \
		>$t/nosudo.out 2>&1; rc=$?
	runuser -u nobody -- env PATH=$t/sudo make -C $t/repo --no-print-directory test V=1 \
		>$t/sudo.out 2>&1
	if [ "$cmds" != "make demo #,make test #," ]; then
		fail make_needs_root "the README's first commands are not make demo / make test: $cmds"
	elif [ $rc = 0 ] || [ "$(wc -l <$t/nosudo.out)" != 1 ] || ! grep -q "needs root.*no sudo" $t/nosudo.out; then
		fail make_needs_root "without root and sudo: exit $rc, $(wc -l <$t/nosudo.out) lines: $(head -c 300 $t/nosudo.out)"
	elif ! grep -q -- "-- make .*-C $t/repo test V=1" $t/sudo.args 2>/dev/null; then
		fail make_needs_root "without root, with sudo: not re-run through sudo: $(cat $t/sudo.args $t/sudo.out 2>&1 | head -c 300)"
	elif ! make -n demo 2>/dev/null | grep -q tools/demo.sh; then
		fail make_needs_root "as root, make demo does not run tools/demo.sh"
	elif ! grep -qx 'make test' .ci/run; then
		fail make_needs_root ".ci/run does not call make test as the README gives it"
	else
		pass make_needs_root
	fi
	rm -rf $t
}

# names the target controls (function, file, thread, command line) with
# HTML closing a script, Markdown, pipes, backticks, ESC, U+2028 and line
# breaks: report.md, report.html, flame.svg and the terminal summary keep
# them as text (tests/integration/check_escaping.py)
t_hostile_names() {
	local d=$O/hostile s f
	s=$(printf '%s/hostile-src/<img src=x onerror=alert(1)>`|\033[31m\n[x](y).py' $O)
	mkdir -p $O/hostile-src && cp $PYW/hostile.py "$s"
	$AP -o $d -- /usr/bin/python3.11 "$s" 1.5 >/dev/null 2>$d.summary ||
		{ fail hostile_names "exit $?: $(tail -1 $d.summary)"; return; }
	f=$(python3 tests/integration/check_escaping.py $d $d.summary 2>&1)
	# the same summary from `analyze` (stdout), and a diagnostic quoting a path
	$AP analyze $d >$d.analyze 2>&1
	$AP analyze "$(printf '/nonexistent/\033[2J\033[31mred')" 2>$d.diag
	if [ -z "$f" ] && grep -q "$(printf '\033')" $d.analyze $d.diag; then
		f="an escape sequence reached the terminal: $(cat -v $d.analyze $d.diag | grep -m1 '\^\[')"
	fi
	if [ -n "$f" ]; then
		fail hostile_names "$(echo "$f" | head -5 | tr '\n' ' ')"
	else
		pass hostile_names
	fi
}

SUITE_TESTS=(make_needs_root hostile_names)
