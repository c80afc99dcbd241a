# SPDX-License-Identifier: MIT
# `autoprof-bpf top`: --once system-wide while a Python workload started on
# its own (not our child) runs, the filters, and the live view under tmux
# (keys, q, SIGTERM, the terminal restored). Sourced by
# tests/integration/run.sh (helpers and variables come from there).

# a Python workload with a name of its own, started in its own session;
# sets TOPW (pid) and TOPW_NAME (the script's name, in its command line)
top_workload() { # SECONDS_OF_CPU
	TOPW_NAME=aptop_w$$_$RANDOM
	cp tests/workloads/py/split.py $O/$TOPW_NAME.py
	setsid /usr/bin/python3.11 $O/$TOPW_NAME.py "$1" </dev/null >/dev/null 2>&1 &
	TOPW=$!
	wait_cpu $TOPW 0.3 20
}

top_workload_end() {
	kill $TOPW 2>/dev/null
	wait $TOPW 2>/dev/null
}

# the process rows of a --once output: "PID COMMAND CPU% ..." lines of the
# first table
top_proc_rows() { # FILE
	awk '/^ +PID COMMAND/ { on = 1; next } on && /^$/ { exit } on' "$1"
}

t_top_once() {
	local t=top_once d=$O/top_once row cpu hot rc
	top_workload 30 || { top_workload_end; fail $t "the workload did not start"; return 1; }
	# stdout a pipe (through cat) into a file: no terminal anywhere
	$AP top --once -d 3 -n 60 2>$d.err </dev/null | cat >$d.txt
	rc=${PIPESTATUS[0]}
	if [ "$rc" != 0 ]; then
		top_workload_end
		fail $t "exit $rc: $(tail -1 $d.err)"
		return 1
	fi
	top_workload_end
	row=$(top_proc_rows $d.txt | awk -v p=$TOPW '$1 == p')
	cpu=$(echo "$row" | awk '{ sub(/%/, "", $3); print $3 + 0 }')
	# its Python function among the top functions, named as the profile does
	hot=$(awk '/FUNCTION \(by self time\)/ { on = 1; next } on && /^$/ { exit } on' $d.txt |
		grep -c "hot_a ($TOPW_NAME.py:[0-9]*)")
	if [ -z "$row" ]; then
		fail $t "pid $TOPW (python3.11 $TOPW_NAME.py) not among the processes: $(head -c 600 $d.txt)"
	elif ! gt "$cpu" 5 || ! echo "$row" | grep -q "CPython 3.11"; then
		fail $t "its row says '$row': want > 5% CPU and CPython 3.11"
	elif [ "$hot" = 0 ]; then
		fail $t "hot_a ($TOPW_NAME.py:LINE) not among the top functions"
	elif ! grep -q "^ *[0-9.]*%  python3.11;<module> ($TOPW_NAME.py:[0-9]*);main" $d.txt; then
		fail $t "no folded hot stack of the workload"
	else
		pass $t
		echo "     $(head -1 $d.txt | cut -d' ' -f5-)"
		echo "     workload: $cpu% CPU, hot_a among the top functions"
	fi
}

t_top_once_filter() {
	local t=top_once_filter d=$O/top_filter others rows err
	top_workload 30 || { top_workload_end; fail $t "the workload did not start"; return 1; }
	# the display filter: a part of the command line
	$AP top --once -d 2 -n 50 --filter $TOPW_NAME >$d.txt 2>$d.err </dev/null ||
		{ err=$?; top_workload_end; fail $t "--filter: exit $err: $(tail -1 $d.err)"; return 1; }
	# the BPF filter: only this pid is sampled at all
	$AP top --once -d 2 -n 50 -p $TOPW >$d.bpf.txt 2>$d.bpf.err </dev/null ||
		{ err=$?; top_workload_end; fail $t "-p: exit $err: $(tail -1 $d.bpf.err)"; return 1; }
	top_workload_end
	rows=$(top_proc_rows $d.txt | awk '$1 ~ /^[0-9]+$/' | wc -l)
	others=$(top_proc_rows $d.txt | awk -v p=$TOPW '$1 ~ /^[0-9]+$/ && $1 != p' | wc -l)
	if [ "$rows" != 1 ] || [ "$others" != 0 ]; then
		fail $t "--filter $TOPW_NAME: $rows process rows, $others of other pids"
	elif awk '/^SAMPLES%  STACK/ { on = 1; next } on' $d.txt | grep -v "^ *[0-9.]*%  python3.11;" |
		grep -q .; then
		fail $t "--filter: a stack of another process is shown"
	elif ! head -1 $d.bpf.txt | grep -q ' 1 processes ' ||
		[ "$(top_proc_rows $d.bpf.txt | awk '$1 ~ /^[0-9]+$/ { print $1 }')" != "$TOPW" ]; then
		fail $t "-p $TOPW: the window holds other processes: $(head -1 $d.bpf.txt)"
	else
		# bad input: one line, exit 2, before anything is loaded
		$AP top --once --comm 0123456789abcdefXYZ >/dev/null 2>$d.bad; err=$?
		if [ $err != 2 ] || [ "$(wc -l <$d.bad)" != 1 ]; then
			fail $t "--comm with 19 bytes: exit $err, '$(cat $d.bad)': want 2 and one line"
		elif $AP top </dev/null >$d.notty 2>&1; then
			fail $t "the live view without a terminal did not fail"
		elif ! timeout 5 $AP top --once --replay tests/fixtures/analyze/run1 -n 3 >$d.replay 2>&1 ||
			! grep -q '^ *60.0%   60.0%  score (main.py:42)$' $d.replay; then
			fail $t "--once --replay of the analyze fixture: $(head -c 300 $d.replay)"
		else
			pass $t
		fi
	fi
}

# the live view in a terminal (tmux): the workload is shown, sort keys
# reorder, '/' filters, q exits 0, and the terminal's modes come back
top_tmux() { tmux -L aptop$$ "$@"; }
top_screen_has() { # REGEX [TENTHS]: wait until the screen shows it
	local i
	for ((i = 0; i < ${2:-80}; i++)); do
		top_tmux capture-pane -p 2>/dev/null | grep -q -- "$1" && return 0
		sleep 0.1
	done
	return 1
}
top_screen_pids() { # the process table's pids, top to bottom
	top_tmux capture-pane -p | awk '/^ +PID COMMAND/ { on = 1; next } on && !/^ +[0-9]+ / { exit }
		on { print $1 }'
}
# the process table's CPU % column (after the 8-wide pid and 16-wide name)
top_screen_cpus() {
	top_tmux capture-pane -p | awk '/^ +PID COMMAND/ { on = 1; next } on && !/^ +[0-9]+ / { exit }
		on { print substr($0, 27, 6) + 0 }'
}

t_top_tty() {
	local t=top_tty d=$O/top_tty bypid bycpu cpus sorted msg= tpid wide last i
	command -v tmux >/dev/null || { fail $t "tmux is needed (apt-get install tmux)"; return 1; }
	top_workload 60 || { top_workload_end; fail $t "the workload did not start"; return 1; }
	top_tmux kill-server 2>/dev/null
	top_tmux new-session -d -x 160 -y 45 \
		"$AP top 2>$d.err; echo EXIT=\$?; stty -a | tr ' ;' '\n\n' | grep -x -- '-\?icanon\|-\?echo'; sleep 60"
	if ! top_screen_has "^ *$TOPW python3.11 .*CPython 3.11" 100; then
		msg="the workload (pid $TOPW) is not on the screen: $(top_tmux capture-pane -p | head -8)"
	else
		top_tmux send-keys p
		top_screen_has "sort pid" 20
		bypid=$(top_screen_pids | tr '\n' ' ')
		sorted=$(echo $bypid | tr ' ' '\n' | sort -n | tr '\n' ' ')
		top_tmux send-keys c
		top_screen_has "sort cpu" 20
		bycpu=$(top_screen_pids | tr '\n' ' ')
		cpus=$(top_screen_cpus | tr '\n' ' ')
		top_tmux send-keys / $TOPW Enter
		# SIGWINCH: the next frame fits the new size, the keys on its last line
		top_tmux resize-window -x 90 -y 30
		top_screen_has "filter $TOPW" 20
		for ((i = 0; i < 20; i++)); do
			[ "$(top_tmux capture-pane -p | tail -1 | cut -c1-6)" = "q quit" ] && break
			sleep 0.1
		done
		wide=$(top_tmux capture-pane -p | awk 'length($0) > 90' | wc -l)
		last=$(top_tmux capture-pane -p | tail -1)
		if [ "$bypid" != "$sorted" ]; then
			msg="p: pids not in order: $bypid"
		elif ! echo $cpus | awk '{ for (i = 2; i <= NF; i++) if ($i > $(i - 1)) exit 1 }' ||
			[ -z "$cpus" ]; then
			msg="c: rows not by CPU, most first: pids $bycpu, CPU % $cpus"
		elif ! top_screen_has "filter $TOPW" 20 ||
			[ "$(top_screen_pids | tr '\n' ' ')" != "$TOPW " ]; then
			msg="/$TOPW: the table shows $(top_screen_pids | tr '\n' ' ')"
		elif [ "$wide" != 0 ] || [ "${last:0:6}" != "q quit" ] || [ ${#last} -gt 90 ]; then
			msg="resized to 90x30: $wide lines wider, last line '$last'"
		fi
	fi
	top_tmux send-keys q
	if [ -z "$msg" ] && ! top_screen_has "^EXIT=0" 30; then
		msg="q: no exit 0: $(top_tmux capture-pane -p | grep -v '^$' | tail -3) $(tail -1 $d.err)"
	elif [ -z "$msg" ] && ! { top_screen_has "^icanon$" 20 && top_screen_has "^echo$" 1; }; then
		msg="the terminal's modes were not restored: $(top_tmux capture-pane -p | grep -v '^$' | tail -3)"
	fi
	top_tmux kill-server 2>/dev/null
	# the server gone before the next one starts (a new-session racing the
	# old server's exit fails, and the pane is then empty)
	for _ in $(seq 50); do top_tmux has-session 2>/dev/null || break; sleep 0.1; done
	# SIGTERM: a clean exit too, with the terminal restored
	if [ -z "$msg" ]; then
		top_tmux new-session -d -x 120 -y 30 \
			"$AP top 2>$d.err2; echo EXIT=\$?; stty -a | tr ' ;' '\n\n' | grep -x -- '-\?icanon'; sleep 60"
		top_screen_has "^ *PID COMMAND" 100
		tpid=$(pgrep -P "$(top_tmux display -p '#{pane_pid}')" | head -1)
		[ -n "$tpid" ] && kill -TERM $tpid
		if ! top_screen_has "^EXIT=0" 30 || ! top_screen_has "^icanon$" 20; then
			msg="SIGTERM: $(top_tmux capture-pane -p | grep -v '^$' | tail -3)"
		fi
		top_tmux kill-server 2>/dev/null
	fi
	top_workload_end
	if [ -n "$msg" ]; then
		fail $t "$msg"
	else
		pass $t
		echo "     by pid: $bypid"
		echo "     by cpu: $bycpu (CPU %: $cpus)"
	fi
}

SUITE_TESTS=(top_once top_once_filter top_tty)
