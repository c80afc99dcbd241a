#!/bin/bash
# SPDX-License-Identifier: MIT
# `make bench`, memory (issue 18's budget: page-fault sampling costs at most
# 2% on an allocation-heavy program). The target, tests/workloads/py/
# memheavy.py (lists, dicts and bytearrays built and dropped, ~1 GB/s of
# first-touch page faults), runs RUNS times (default 9) in each of four
# variants, in rotating order: bare, under autoprof-bpf --memory, under
# autoprof-bpf --no-memory (every other collector on in both), and under
# --memory --memory-rate 1000 (every sample captured). Its own wall
# and CPU time are taken inside the profiler (bash's `time` around it), so
# start-up and report writing are not counted. Printed: medians, the
# medians of the paired ratios (run i against run i), memory's own cost
# (--memory / --no-memory) against the budget, the memory BPF programs' own
# time (kernel BPF statistics, STATS_RUNS more runs), the kernel's counting
# of every fault (RUNS pairs of a fault loop) and the page-fault samples
# the runs took. Timing on a shared 2-CPU machine moves 5-15% from run to
# run: a ratio inside that band is noise, and the loadavg is printed.
# ~3.5 min with RUNS=9 on a 2-CPU machine.
# AP=path/to/autoprof-bpf RUNS=N PY=python ROUNDS=memheavy's rounds
set -eu
cd "$(dirname "$0")/.."
RUNS=${RUNS:-9}
AP=${AP:-build/autoprof-bpf}
PY=${PY:-/usr/bin/python3.11}
[ -x "$PY" ] || PY=$(command -v python3)
ROUNDS=${ROUNDS:-20}
MAXRATE=1000 # --memory-rate's highest
OUT=${BENCH_OUT:-build/bench}/memory
W=tests/workloads/py/memheavy.py
rm -rf $OUT && mkdir -p $OUT
if [ "$(id -u)" -ne 0 ]; then
	echo "bench-memory: needs root: sudo make bench" >&2
	exit 1
fi
unset SUDO_UID SUDO_GID
for f in --memory --no-memory; do
	if ! $AP --help 2>&1 | grep -qE -- "(^|[ ,])$f([ ,=]|$)"; then
		echo "bench-memory: $AP has no $f (the memory collector of issue 18): nothing to measure" >&2
		exit 1
	fi
done

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# run CMD, appending "wall cpu" of it (seconds; cpu = user + system of it
# and its children) to FILE
inner() { # FILE CMD...
	bash -c 'TIMEFORMAT="%3R %3U %3S"; { time "$@" >/dev/null 2>&1; } 2>>"$0.raw"' "$@"
	tail -1 "$1.raw" | awk '{ printf "%.3f %.3f\n", $1, $2 + $3 }' >>"$1"
}
prof() { # VARIANT I FLAG
	$AP -q $3 -o $OUT/$1-$2 -- bash -c "$(declare -f inner); inner $OUT/$1.t \"\$@\"" _ $PY $W $ROUNDS \
		>$OUT/$1-$2.log 2>&1 || { echo "bench-memory: $AP $3 failed (run $2): $(tail -1 $OUT/$1-$2.log)" >&2; exit 1; }
}

load0=$(cut -d' ' -f1-3 /proc/loadavg)
V=(bare mem nomem memmax)
for ((i = 0; i < RUNS; i++)); do
	# rotate the order so drift in machine speed hits every variant alike
	for ((k = 0; k < ${#V[@]}; k++)); do
		v=${V[$(((i + k) % ${#V[@]}))]}
		case $v in
		bare) inner $OUT/bare.t $PY $W $ROUNDS ;;
		mem) prof mem $i --memory ;;
		nomem) prof nomem $i --no-memory ;;
		memmax) prof memmax $i "--memory --memory-rate $MAXRATE" ;;
		esac
	done
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)

col() { cut -d' ' -f$2 <$OUT/$1.t | median; } # VARIANT FIELD(1 wall, 2 cpu)
# median over i of A_i / B_i
pratio() { # A B FIELD
	paste -d' ' <(cut -d' ' -f$3 $OUT/$1.t) <(cut -d' ' -f$3 $OUT/$2.t) | awk '{ printf "%.4f\n", $1 / $2 }' | median
}
echo "== memory: page-fault sampling on an allocation-heavy program ($W $ROUNDS, $PY)"
echo "   medians of $RUNS runs in rotating order; the target's own seconds; loadavg $load0 -> $load1"
name() { case $1 in bare) echo bare ;; mem) echo --memory ;; nomem) echo --no-memory ;;
	memmax) echo "--memory --memory-rate $MAXRATE" ;; esac; }
printf "   %-32s %8s %8s\n" "" wall cpu
for v in "${V[@]}"; do
	printf "   %-32s %8.3f %8.3f\n" "$(name $v)" "$(col $v 1)" "$(col $v 2)"
done
printf "   paired ratios (median over i of run i / run i):  wall    cpu\n"
for v in mem nomem memmax; do
	printf "     %-44s %6.3f %6.3f\n" "$(name $v) / bare" "$(pratio $v bare 1)" "$(pratio $v bare 2)"
done
cost=$(pratio mem nomem 1)
printf "     %-44s %6.3f %6.3f  <- memory's own cost (budget: 1.020)\n" "--memory / --no-memory" "$cost" \
	"$(pratio mem nomem 2)"
printf "     %-44s %6.3f %6.3f\n" "--memory-rate $MAXRATE / --no-memory" "$(pratio memmax nomem 1)" \
	"$(pratio memmax nomem 2)"
# The memory programs' own time, from the kernel's BPF statistics
# (kernel.bpf_stats_enabled, on only for these runs: it adds two clock reads
# to every BPF program run, so the timed runs above go without): STATS_RUNS
# more runs of each --memory variant, whose command reads the programs'
# run_time_ns and run_cnt with bpftool right after the target exits, while
# the profiler is still attached. Their sum against the target's CPU time
# is memory's cost in the faulting threads, measured without the noise of
# whole-program timing (the other collectors' programs run in both variants)
STATS_RUNS=${STATS_RUNS:-3}
MEMPROGS='["on_page_fault","on_mem_enter","on_mem_exit","on_rss_stat"]'
stats0=$(sysctl -n kernel.bpf_stats_enabled)
trap 'sysctl -q -w kernel.bpf_stats_enabled=$stats0' EXIT
sysctl -q -w kernel.bpf_stats_enabled=1
for ((i = 0; i < STATS_RUNS; i++)); do
	for v in mem memmax; do
		flag=--memory
		[ $v = memmax ] && flag="--memory --memory-rate $MAXRATE"
		$AP -q $flag -o $OUT/stats-$v-$i -- bash -c "$(declare -f inner); inner $OUT/stats-$v.t \"\$@\";
			bpftool -j prog show >$OUT/stats-$v-$i.json" _ $PY $W $ROUNDS >/dev/null 2>&1 || true
	done
done
sysctl -q -w kernel.bpf_stats_enabled=$stats0
# per run: "page_fault_ns page_fault_calls mapping_ns target_cpu_s"
bpfcost() { # VARIANT
	local i
	for ((i = 0; i < STATS_RUNS; i++)); do
		[ -s $OUT/stats-$1-$i.json ] || continue
		jq -r --argjson m "$MEMPROGS" '[.[] | select(.name as $n | $m | index($n))] |
			"\([.[] | select(.name == "on_page_fault") | .run_time_ns // 0] | add // 0)
			 \([.[] | select(.name == "on_page_fault") | .run_cnt // 0] | add // 0)
			 \([.[] | select(.name != "on_page_fault") | .run_time_ns // 0] | add // 0)"' \
			$OUT/stats-$1-$i.json | tr -s ' \n' ' '
		sed -n "$((i + 1))p" $OUT/stats-$1.t | cut -d' ' -f2
	done >$OUT/stats-$1.cost
	if [ -s $OUT/stats-$1.cost ] && awk '$2 > 0 { ok = 1 } END { exit !ok }' $OUT/stats-$1.cost; then
		awk '{ print $1 / $2 }' $OUT/stats-$1.cost | median | awk '{ printf "%.1f us a page-fault run, ", $1 / 1000 }'
		awk '{ print $2 }' $OUT/stats-$1.cost | median | awk '{ printf "%d runs, ", $1 }'
		awk '{ print $3 / 1e6 }' $OUT/stats-$1.cost | median | awk '{ printf "mapping calls and on_rss_stat (huge pages) %.1f ms; ", $1 }'
		awk '{ print ($1 + $3) / 1e9 / $4 }' $OUT/stats-$1.cost | median | awk '{ printf "%.2f%% of the target'"'"'s CPU time\n", 100 * $1 }'
	else
		echo "no BPF statistics of the memory programs (bpftool -j prog show in $OUT/stats-$1-0.json)"
	fi
}
selfcpu() { for ((i = 0; i < RUNS; i++)); do jq ".self.user_s + .self.sys_s" $OUT/$1-$i/run.json 2>/dev/null; done | median | awk "{ printf \"%.2f\", \$1 }"; }
echo "   the profiler's own CPU seconds (run.json self, medians): --no-memory $(selfcpu nomem)," \
	"--memory $(selfcpu mem), --memory-rate $MAXRATE $(selfcpu memmax)"
echo "   the memory programs' own time (kernel BPF statistics, medians of $STATS_RUNS runs):"
echo "     --memory: $(bpfcost mem)"
echo "     --memory-rate $MAXRATE: $(bpfcost memmax)"
# What the BPF statistics leave out: while the page-fault event is open on
# every CPU, the kernel counts every fault of every process for it. A loop
# touching fresh 32 MiB mappings (page faults and little else) with perf
# stat -a counting page faults in the background, against none, in pairs:
# the target's CPU time
FAULTLOOP='import mmap
for _ in range(40):
    m = mmap.mmap(-1, 32 << 20)
    for i in range(0, 32 << 20, 4096):
        m[i] = 1
    m.close()'
cputime() { # CMD...: user + system seconds of CMD
	bash -c 'TIMEFORMAT="%3U %3S"; { time "$@" >/dev/null 2>&1; } 2>&1' _ "$@" | awk '{ print $1 + $2 }'
}
for ((i = 0; i < RUNS; i++)); do
	b=$(cputime $PY -c "$FAULTLOOP")
	perf stat -a -e page-faults -x, -o /dev/null & # counts until SIGINT
	pstat=$!
	sleep 0.3
	c=$(cputime $PY -c "$FAULTLOOP")
	kill -INT $pstat && wait $pstat 2>/dev/null || true
	echo "$c $b"
done >$OUT/counting.t
# the page-fault samples of the --memory runs (run.json's counters: taken
# by the BPF program, of them over the rate cap, and received with a
# stack), and the received ones' rate over the target's wall time
cnt() { jq "first(.. | objects | .$2? // empty)" $1/run.json 2>/dev/null || true; }
samples() { # VARIANT
	local i n c r
	for ((i = 0; i < RUNS; i++)); do
		n=$(cnt $OUT/$1-$i memory_fault_samples)
		c=$(cnt $OUT/$1-$i memory_fault_samples_capped)
		r=$(cnt $OUT/$1-$i memory_fault_samples_received)
		[ -n "$n" ] || continue
		sed -n "$((i + 1))p" $OUT/$1.t | awk -v n=$n -v c=${c:-0} -v r=${r:-$n} \
			'{ printf "%d %d %d %.0f\n", n, c, r, r / $1 }'
	done >$OUT/$1.samples
	if [ -s $OUT/$1.samples ]; then
		echo "$(cut -d' ' -f1 <$OUT/$1.samples | median) taken, $(cut -d' ' -f2 <$OUT/$1.samples | median)" \
			"over the cap, $(cut -d' ' -f3 <$OUT/$1.samples | median) received" \
			"($(cut -d' ' -f4 <$OUT/$1.samples | median)/s of the target's wall time)"
	else
		echo "no memory_fault_samples counter in $OUT/$1-0/run.json"
	fi
}
faults=$(perf stat -x, -e page-faults $PY $W $ROUNDS 2>&1 >/dev/null | awk -F, '/page-faults/ { print $1 }' || true)
echo "   the kernel counting every page fault (a fault loop, perf stat -a -e page-faults beside it /" \
	"without, CPU time, median of $RUNS pairs): x$(awk '{ printf "%.4f\n", $1 / $2 }' $OUT/counting.t | median)"
echo "   page-fault samples a run (medians): --memory: $(samples mem)"
echo "     --memory-rate $MAXRATE: $(samples memmax)"
echo "   the target's page faults (perf stat, bare): ${faults:-?}; the default rate: $($AP --help 2>&1 |
	sed -n '/--memory-rate/,/^ *-/p' | grep -o 'default [0-9]*' | head -1)"
costc=$(pratio mem nomem 2)
verdict() { awk -v c=$1 'BEGIN { print (c <= 1.02) ? "within" : "OVER" }'; }
echo "   memory's own cost: x$cost on the target's wall time ($(verdict $cost) the 2% budget)," \
	"x$costc on its CPU time ($(verdict $costc)); the BPF program runs in the faulting" \
	"thread, so its cost is in the target's CPU time, which other load moves less than wall time"
