#!/bin/bash
# SPDX-License-Identifier: MIT
# `make bench`: overhead of profiling, measured side by side in one run.
# For each workload (fixed work, so wall time reflects overhead) it runs, in
# rotating order, the bare target, the target under autoprof-bpf at 99 Hz
# and under `perf record -F 99 --call-graph dwarf`, RUNS times each. The
# target's own wall time is taken inside the profiler (bash's `time` around
# the target), so profiler start-up and report writing are not counted as
# overhead on the target; they are shown separately ("ours-total"). Printed:
# medians, ratios profiled/bare, and autoprof-bpf's own CPU time and peak
# RSS (from run.json). Timing here is noisy (5-15%): read ratios with that.
set -eu
cd "$(dirname "$0")/.."
RUNS=${RUNS:-7}
AP=${AP:-build/autoprof-bpf}
OUT=build/bench
rm -rf $OUT && mkdir -p $OUT
if [ "$(id -u)" -ne 0 ]; then
	echo "bench: needs root: sudo make bench" >&2
	exit 1
fi
# bare, profiled and perf runs all run the target as root: under sudo the
# profiler would otherwise run it as the invoking user, and the bare run not
unset SUDO_UID SUDO_GID
PY=/usr/bin/python3.11
[ -x $PY ] || PY=$(command -v python3)

now() { date +%s.%N; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
timeit() { # FILE CMD... : append the wall time of CMD to FILE
	local f=$1 t0 t1
	shift
	t0=$(now)
	"$@" >/dev/null 2>&1 || true
	t1=$(now)
	echo "$t1 $t0" | awk '{ printf "%.4f\n", $1 - $2 }' >>"$f"
}
# run CMD under a profiler, appending the target's own wall time to FILE
inner() { # FILE CMD...
	local f=$1
	shift
	bash -c 'TIMEFORMAT=%3R; { time "$@" >/dev/null 2>&1; } 2>>"$0"' "$f" "$@"
}

bench() { # NAME CMD...
	local name=$1 i
	shift
	for ((i = 0; i < RUNS; i++)); do
		# rotate the order so drift in machine speed hits every variant alike
		case $((i % 3)) in
		0) order="bare ours perf" ;;
		1) order="ours perf bare" ;;
		2) order="perf bare ours" ;;
		esac
		for v in $order; do
			case $v in
			bare) inner $OUT/$name.bare "$@" ;;
			ours) timeit $OUT/$name.total $AP -q -F 99 -o $OUT/$name-ours-$i -- \
				bash -c "$(declare -f inner); inner $OUT/$name.ours \"\$@\"" _ "$@" ;;
			perf) perf record -q -F 99 --call-graph dwarf -o $OUT/$name.perf.data -- \
				bash -c "$(declare -f inner); inner $OUT/$name.perf \"\$@\"" _ "$@" \
				>/dev/null 2>&1 ;;
			esac
		done
	done
	local b o p t cpu rss
	t=$(median <$OUT/$name.total)
	b=$(median <$OUT/$name.bare)
	o=$(median <$OUT/$name.ours)
	p=$(median <$OUT/$name.perf)
	cpu=$(for f in $OUT/$name-ours-*/run.json; do jq '.self.user_s + .self.sys_s' $f; done | median)
	rss=$(for f in $OUT/$name-ours-*/run.json; do jq '.self.max_rss_kb' $f; done | median)
	printf "%-14s %8.3f %8.3f %8.3f   %6.3f   %6.3f   %8.3f  %7.3f %8d\n" "$name" "$b" "$o" "$p" \
		"$(echo "$o $b" | awk '{ print $1 / $2 }')" "$(echo "$p $b" | awk '{ print $1 / $2 }')" \
		"$t" "$cpu" "$rss"
}

echo "autoprof-bpf overhead, medians of $RUNS runs (wall seconds; ratio = profiled / bare)"
printf "%-14s %8s %8s %8s   %6s   %6s   %8s  %7s %8s\n" workload bare ours perf ours/b perf/b \
	ours-total ours-cpu rss-KB
bench c-cwork build/tests/cwork -n 2500
bench python-cpu $PY -c 'sum(i * i for i in range(40000000))'
bench python-fib $PY -c 'exec("def f(n):\n return n if n < 2 else f(n - 1) + f(n - 2)\nf(32)")'
# a "normal" program: JSON encoding, buffered file writes, a thread pool
# that sleeps and waits on locks, a subprocess: every collector has work
bench python-mixed $PY -c 'import json, os, subprocess, tempfile, threading, time
from concurrent.futures import ThreadPoolExecutor
def io_task(k):
    with tempfile.TemporaryFile() as f:
        for i in range(20000):
            f.write((json.dumps({"k": k, "i": i, "s": str(i) * 3}) + "\n").encode())
        f.flush(); os.fsync(f.fileno())
    time.sleep(0.01)
with ThreadPoolExecutor(4) as ex:
    list(ex.map(io_task, range(16)))
subprocess.run(["true"])'
# a build or test suite: many short commands, each followed (issue 12: the
# per-exec work of the profiler must stay off the target's path)
bench shell-3000 bash -c 'for i in $(seq 3000); do /bin/true; done'
echo "(ours: every collector on: on-CPU sampling at 99 Hz, off-CPU, syscalls, /proc metrics)"

# the --py-calls uprobe on a callback-heavy workload (a key function called
# from C 1.5M times): target wall time with sampling only vs with the uprobe
echo
echo "--py-calls uprobe on sorted(key=lambda), medians of $RUNS runs (target wall seconds)"
CB='import random; d = [(random.random(), i) for i in range(300000)]
for _ in range(5): sorted(d, key=lambda r: r[0])'
for ((i = 0; i < RUNS; i++)); do
	inner $OUT/cb.bare $PY -c "$CB"
	$AP -q -o $OUT/cb-s -- bash -c "$(declare -f inner); inner $OUT/cb.sampling \"\$@\"" _ $PY -c "$CB"
	$AP -q --py-calls -o $OUT/cb-u -- bash -c "$(declare -f inner); inner $OUT/cb.uprobe \"\$@\"" _ $PY -c "$CB"
done
b=$(median <$OUT/cb.bare)
s=$(median <$OUT/cb.sampling)
u=$(median <$OUT/cb.uprobe)
printf "bare %.3f  sampling %.3f (x%.3f)  sampling+uprobe %.3f (x%.3f), %s entries counted\n" \
	$b $s $(echo "$s $b" | awk '{ print $1 / $2 }') $u $(echo "$u $b" | awk '{ print $1 / $2 }') \
	"$(jq .total_entries $OUT/cb-u/artifacts/python_calls.json)"

# Syscall storms, fixed work: dd copying 4 KiB blocks of /dev/urandom
# (~170k syscalls/s bare here: each read does real work) and dd copying one
# byte at a time from /dev/zero (~4M syscalls/s: nothing but syscall entry
# and exit, the worst case for any syscall tracer). Target wall time bare,
# under autoprof-bpf with every collector, with sampling only, and under
# strace -c -f and perf trace -s (far slower per syscall: 3 runs each)
storm() { # NAME CMD...
	local name=$1 i b
	shift
	for ((i = 0; i < RUNS; i++)); do
		inner $OUT/$name.bare "$@"
		$AP -q -o $OUT/$name-all -- bash -c "$(declare -f inner); inner $OUT/$name.all \"\$@\"" _ "$@"
		$AP -q --no-offcpu --no-syscalls -o $OUT/$name-cpu -- \
			bash -c "$(declare -f inner); inner $OUT/$name.cpu \"\$@\"" _ "$@"
	done
	for ((i = 0; i < 3; i++)); do
		strace -f -c -o $OUT/$name.strace.txt bash -c "$(declare -f inner); inner $OUT/$name.strace \"\$@\"" _ "$@"
		[ -n "$PTRACE" ] &&
			perf trace -s -o $OUT/$name.ptrace.txt -- bash -c "$(declare -f inner); inner $OUT/$name.ptrace \"\$@\"" _ "$@"
	done
	b=$(median <$OUT/$name.bare)
	r() { printf "%.3f (x%.3f)" $(median <$OUT/$name.$1) $(echo "$(median <$OUT/$name.$1) $b" | awk '{ print $1 / $2 }'); }
	echo "$*:"
	echo "  bare $b  autoprof-bpf $(r all)  sampling only $(r cpu)  strace -c -f $(r strace)" \
		" perf trace -s $([ -n "$PTRACE" ] && r ptrace || echo "not run: $PTRACE_WHY")"
	echo "  syscalls counted by autoprof-bpf: $(jq '.collectors.syscalls.calls' $OUT/$name-all/run.json)" \
		"($(jq '.collectors.syscalls.calls' $OUT/$name-all/run.json | awk -v b=$b '{ printf "%.0f", $1 / b }')/s bare)," \
		"losses: $(jq -c '.collectors.syscalls.losses' $OUT/$name-all/run.json)"
}
# perf trace reads the syscall tracepoints' formats from tracefs, which a
# machine may not have mounted (autoprof-bpf needs none): then its column
# says so instead of ending the bench under set -e
PTRACE=1 PTRACE_WHY=
if ! perf trace -s -o /dev/null -- true >$OUT/ptrace-probe.txt 2>&1; then
	PTRACE= PTRACE_WHY="perf trace -s -- true failed ($(tail -1 $OUT/ptrace-probe.txt | cut -c1-80))"
fi
echo
echo "syscall storms, medians (target wall seconds; strace and perf trace: 3 runs)"
storm storm-urandom dd if=/dev/urandom of=/dev/null bs=4096 count=100000
storm storm-zero dd if=/dev/zero of=/dev/null bs=1 count=300000

# The pictures at scale: a synthetic run of 50k distinct stacks (1.5M frames
# in the merged tree, the worst case: long unshared tails). Time to write
# each file with `autoprof-bpf report`, then report.html in headless Chromium
# (tests/browser/render_time.py): medians of RUNS loads.
echo
echo "pictures of a 50k-stack profile (tools/synth-profile.py), medians of $RUNS"
python3 tools/synth-profile.py $OUT/big 50000
for f in html svg pprof speedscope; do
	for ((i = 0; i < RUNS; i++)); do
		timeit $OUT/big.$f $AP report -q -f $f $OUT/big
	done
	printf "  report -f %-11s %.3f s (load + write), %s bytes\n" $f "$(median <$OUT/big.$f)" \
		"$(stat -c %s $OUT/big/$(case $f in html) echo report.html ;; svg) echo flame.svg ;;
			pprof) echo profile.pb.gz ;; speedscope) echo speedscope.json ;; esac))"
done
echo "  report.html in Chromium: $(python3 tests/browser/render_time.py $OUT/big/report.html $RUNS)"

# issue 17's budget: `diff` of two runs with 50k distinct stacks each
# (tools/synth-diff.py: 20-40 frames deep, shared prefixes, offcpu.json and
# syscalls.json too) in at most 2 s and 500 MB. Medians of RUNS
echo
echo "diff of two 50k-stack runs (tools/synth-diff.py), medians of $RUNS; budget 2 s, 500 MB"
python3 tools/synth-diff.py $OUT/diff 50000
for ((i = 0; i < RUNS; i++)); do
	/usr/bin/time -f "%e %U %S %M" -a -o $OUT/diff.time $AP diff -q -o $OUT/diff \
		$OUT/diff/base $OUT/diff/new 2>/dev/null || true
done
grep -v "status" $OUT/diff.time | awk '{ print $1, $2 + $3, $4 }' >$OUT/diff.t
printf "  wall %.2f s, CPU %.2f s, max RSS %d MB\n" "$(cut -d' ' -f1 <$OUT/diff.t | median)" \
	"$(cut -d' ' -f2 <$OUT/diff.t | median)" "$(cut -d' ' -f3 <$OUT/diff.t | median | awk '{ print int($1 / 1024) }')"

# the agent's budgets: its CPU and RSS at 19 Hz beside process churn, perf
# record -a beside it, the per-sample costs and their projection
tools/bench-agent.sh

# the fleet export's bytes on the wire per busy core per second at 19 Hz
# (gzip'ed OTLP request and pprof, four busy processes of our own)
echo "== fleet export: bytes on the wire at 19 Hz"
make -s build/tests/otlptool build/tests/cwork build/tests/cxxwork >/dev/null
tools/export-size.sh

# issue 15: real programs nobody here wrote, larger inputs (SCALE 4): the
# truths measured without autoprof-bpf (gc.callbacks, atexit, getrusage,
# cProfile) beside autoprof-bpf's top three findings and the judge's verdict.
# No timing gates
echo "== corpus: truths vs findings (tools/corpus.sh table 4)"
CORPUS_LOCKED=1 tools/corpus.sh table 4 || echo "corpus: not run (tools/corpus.sh setup failed)"
