# SPDX-License-Identifier: MIT
# Bounded memory per followed child (issue 12, item 7) and the profiler's
# own cost (item 11). Sourced by run.sh. Peak RSS comes from the kernel
# (getrusage of the waited-for profiler and its descendants: the profiler
# is the largest of them), not from the product's own figure.

# peak RSS in kB of a command and everything it ran, then its exit status
peak_rss() {
	python3 -c 'import resource, subprocess, sys
rc = subprocess.call(sys.argv[1:])
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, rc)' "$@"
}

# N short commands from a shell: the profiler's peak grows by well under
# 50 kB per child (it grew by 1-2 MB per child, kept to the end), and the
# report still names every child
bounded_loop() { # NAME N CMD
	local name=$1 n=$2 cmd=$3 d=$O/$1 small big rc named
	read -r small rc < <(peak_rss $AP -q -o $d.small -- bash -c "for i in \$(seq 20); do $cmd; done" 2>$d.err)
	[ "$rc" = 0 ] || { fail $name "20 commands: exit $rc: $(head -c 300 $d.err)"; return; }
	read -r big rc < <(peak_rss $AP -q -o $d -- bash -c "for i in \$(seq $n); do $cmd; done" 2>$d.err)
	[ "$rc" = 0 ] || { fail $name "$n commands: exit $rc: $(head -c 300 $d.err)"; return; }
	named=$(jq --arg c "${cmd%% *}" '[.processes[] | select(.cmdline == $c and .exit_status == 0)] | length' $d/run.json)
	echo "     $name: profiler peak $((small / 1024)) MB with 20 commands, $((big / 1024)) MB with $n ($(( (big - small) * 1024 / n )) bytes per child)"
	if ! ge $named $n; then
		fail $name "run.json names $named of the $n children ('$cmd', exit 0)"
	elif ! gt $((50 * n)) $((big - small)); then
		fail $name "peak RSS grew $(( (big - small) / 1024 )) MB from 20 to $n commands (over 50 kB per child)"
	elif ! gt 200000 $big; then
		fail $name "peak RSS $((big / 1024)) MB with $n commands, over 200 MB"
	elif [ "$(jq '.collectors.cpu.counters.processes_released' $d/run.json)" -lt $((n / 2)) ]; then
		fail $name "only $(jq '.collectors.cpu.counters.processes_released' $d/run.json) of $n exited children released"
	else
		pass $name
	fi
}

t_bounded_children() { bounded_loop bounded_children 2000 /bin/true; }
t_bounded_py_forks() {
	local d=$O/bounded_py_forks small big rc n=500 named
	local prog='import os, sys
for i in range(int(sys.argv[1])):
    pid = os.fork()
    if pid == 0:
        sum(range(20000))
        os._exit(0)
    os.waitpid(pid, 0)'
	read -r small rc < <(peak_rss $AP -q -o $d.small -- python3 -c "$prog" 20 2>$d.err)
	[ "$rc" = 0 ] || { fail bounded_py_forks "20 forks: exit $rc: $(head -c 300 $d.err)"; return; }
	read -r big rc < <(peak_rss $AP -q -o $d -- python3 -c "$prog" $n 2>$d.err)
	[ "$rc" = 0 ] || { fail bounded_py_forks "$n forks: exit $rc: $(head -c 300 $d.err)"; return; }
	named=$(jq '[.processes[] | select(.comm | startswith("python3"))] | length' $d/run.json)
	echo "     bounded_py_forks: profiler peak $((small / 1024)) MB with 20 forks, $((big / 1024)) MB with $n"
	if ! ge $named $n; then
		fail bounded_py_forks "run.json names $named python3 processes, want $((n + 1))"
	elif ! gt $((50 * n)) $((big - small)); then
		fail bounded_py_forks "peak RSS grew $(( (big - small) / 1024 )) MB from 20 to $n forks (over 50 kB per child)"
	else
		pass bounded_py_forks
	fi
}

# run.json's own cost covers the whole process: the kernel's peak RSS of
# the profiler (its analysis and pictures included), phases that add up,
# and the summary says it
t_self_cost() {
	local d=$O/self_cost peak rc self
	# a small target: the kernel's peak is then the profiler's own
	read -r peak rc < <(peak_rss $AP -o $d -- bash -c 'for i in $(seq 50); do /bin/true; done' 2>$d.err)
	[ "$rc" = 0 ] || { fail self_cost "exit $rc: $(head -c 300 $d.err)"; return; }
	self=$(jq -r '.self | "\(.max_rss_kb) \(.measured_until) \(.phases | length) \(.user_s + .sys_s) \([.phases[].cpu_s] | add)"' $d/run.json)
	read -r rss until nph cpu sum <<<"$self"
	if [ "$until" != pictures ] || [ "$nph" != 5 ]; then
		fail self_cost "run.json self measured until '$until' in $nph phases, want pictures, 5 ('$self')"
	elif ! ge $rss $((peak * 95 / 100)); then
		fail self_cost "run.json self.max_rss_kb $rss, the kernel saw a peak of $peak kB"
	elif ! ge $(ratio $sum $cpu) 0.99 || ! ge $(ratio $cpu $sum) 0.99; then
		fail self_cost "phases add up to $sum CPU-s of $cpu"
	elif ! grep -q '^autoprof-bpf itself: [0-9.]* CPU-s (start .*pictures [0-9.]*), peak RSS [0-9]* MB$' $d.err; then
		fail self_cost "the summary does not state the profiler's own cost"
	else
		pass self_cost
	fi
}

# 40 distinct executables, one after another, then the first again: the
# symbol files no live process maps are closed beyond the 32 used last,
# and the first one, closed by then, is opened again and names its frames
t_bounded_symfiles() {
	local d=$O/bounded_symfiles bin=$O/bounded_symfiles.bin i closed n named
	rm -rf $bin && mkdir -p $bin
	for i in $(seq 40); do cp $W/cwork $bin/cw$i; done
	$AP -q -F 499 -o $d -- bash -c "for i in \$(seq 40); do $bin/cw\$i 0.05; done; $bin/cw1 0.3" 2>$d.err ||
		{ fail bounded_symfiles "exit $?: $(head -c 300 $d.err)"; return; }
	closed=$(jq '.collectors.cpu.counters.symbol_files_closed' $d/run.json)
	# bash execs its last command: samples of the shell before that exec
	# (waiting for the 40 others) carry cw1's pid and name too
	n=$(( $(samples $d/stacks.folded '^cw1;') - $(samples $d/stacks.folded '^cw1;.*(bash\+0x|parse_and_execute)') ))
	named=$(samples $d/stacks.folded '^cw1;_start;__libc_start_main;__libc_start_call_main;main;run_workload;(compute;leaf_[ab]$|clock_gettime;)')
	if ! ge $closed 8; then
		fail bounded_symfiles "$closed symbol files closed, want >= 8 (40 executables, 32 kept idle)"
	elif ! gt $n 60; then
		fail bounded_symfiles "$n samples of cw1 at 499 Hz (0.35 s of CPU)"
	elif ! ge $(ratio $named $n) 0.9; then
		fail bounded_symfiles "cw1, reopened, fully named in $named of $n samples"
	else
		pass bounded_symfiles
	fi
}

SUITE_TESTS=(bounded_children bounded_py_forks self_cost bounded_symfiles)
