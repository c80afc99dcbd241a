#!/bin/bash
# SPDX-License-Identifier: MIT
# The agent's budgets, the last part of `make bench` (tools/bench.sh runs
# it; alone: tools/bench-agent.sh as root, after make all build/tests/churn).
#
# Workload: build/tests/churn, 20 processes a second starting and exiting
# (native and Python alternately, 100-300 ms each) and 2 steady spinners,
# so both CPUs are busy and processes churn. It runs through the whole
# section. Beside it, in rotating order, RUNS times each (medians):
#   agent           autoprof-bpf agent at its defaults (19 Hz, --interval 15)
#   agent-offcpu    ... with --offcpu
#   perf-fp         perf record -a -F 19 -g      (frame-pointer call chains)
#   perf-dwarf      perf record -a -F 19 --call-graph dwarf (the same method
#                   as ours: a copy of the user stack per sample)
# Each is started, left WARM seconds (BPF load, the first look at every
# process of the host), then measured over SPAN seconds: its CPU time from
# /proc/PID/stat (utime + stime: % of one core), its RSS (VmRSS at the
# end, VmHWM), and what it writes per minute (the agent: its windows, the
# window directories' bytes over their span; perf: perf.data's growth).
# The time our BPF programs run is charged to the sampled tasks, not to
# the agent: it is measured apart, in the per-sample run below.
#
# Per-sample costs: `autoprof-bpf --all -F 19 -d SPAN` beside the same
# churn, then beside the spinners and 1 new process a second (steady
# state: the processes' unwinders and symbols are cached), with the
# kernel's BPF statistics on (kernel.bpf_stats_enabled, restored after): ring-buffer bytes per sample, userspace unwind and
# symbolize CPU per sample (run.json counters), the collect phase's CPU per
# sample (everything the agent does while collecting), and the BPF
# programs' run time per sample (on_cpu_sample: the 32 KiB stack copy)
# and in all; then those projected to 64 and 128 busy CPUs at 19 Hz.
set -u
cd "$(dirname "$0")/.."
AP=${AP:-build/autoprof-bpf}
CHURN=${CHURN:-build/tests/churn}
RUNS=${AGENT_RUNS:-3}
SPAN=${AGENT_SPAN:-60}
WARM=${AGENT_WARM:-10}
VARIANTS=${AGENT_VARIANTS:-agent agent-offcpu perf-fp perf-dwarf}
OUT=${AGENT_OUT:-build/bench/agent}
PY=/usr/bin/python3
[ -x $PY ] || PY=$(command -v python3)
if [ "$(id -u)" -ne 0 ]; then
	echo "bench-agent: needs root: sudo make bench" >&2
	exit 1
fi
rm -rf $OUT && mkdir -p $OUT
hz=$(getconf CLK_TCK)

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
cpu_ticks() { local s; s=$(cat /proc/$1/stat) && echo "${s##*) }" | awk '{ print $12 + $13 }'; }
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' /proc/$1/status; }
now() { date +%s.%N; }

cpid= vpid= stats0=
cleanup() {
	[ -n "$vpid" ] && kill -KILL $vpid 2>/dev/null
	[ -n "$cpid" ] && kill -TERM $cpid 2>/dev/null
	[ -n "$stats0" ] && sysctl -q kernel.bpf_stats_enabled=$stats0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# AGENT_CHURN_EXTERNAL=1: the same churn is already running (make soak's,
# beside which this then measures): use it, and skip the steady run
if [ "${AGENT_CHURN_EXTERNAL:-0}" = 1 ]; then
	echo "(beside an external churn: $(pgrep -c -x churn) churn processes now)"
else
	$CHURN -r 20 -b 2 -p $PY -s tests/workloads/py/churn.py 0 >$OUT/churn.out 2>&1 &
	cpid=$!
	sleep 2
fi

# one measurement: VARIANT RUN -> appends to $OUT/VARIANT.{cpu,rss,hwm,rate}
measure() {
	local v=$1 i=$2 d=$OUT/$1-$2 c0 c1 t0 t1 s0 s1 rate
	mkdir -p $d
	case $v in
	agent) $AP agent -q -o $d/store 2>$d/err & ;;
	agent-offcpu) $AP agent -q --offcpu -o $d/store 2>$d/err & ;;
	perf-fp) perf record -q -a -F 19 -g -o $d/perf.data 2>$d/err & ;;
	perf-dwarf) perf record -q -a -F 19 --call-graph dwarf -o $d/perf.data 2>$d/err & ;;
	esac
	vpid=$!
	sleep $WARM
	if ! kill -0 $vpid 2>/dev/null; then
		echo "  $v: exited during start-up: $(tail -1 $d/err)"
		vpid=
		return
	fi
	c0=$(cpu_ticks $vpid) t0=$(now) s0=$(stat -c %s $d/perf.data 2>/dev/null || echo 0)
	sleep $SPAN
	c1=$(cpu_ticks $vpid) t1=$(now) s1=$(stat -c %s $d/perf.data 2>/dev/null || echo 0)
	status_kb $vpid VmRSS >>$OUT/$v.rss
	status_kb $vpid VmHWM >>$OUT/$v.hwm
	kill -INT $vpid
	wait $vpid
	echo "$? $v $i" >>$OUT/exits
	vpid=
	awk -v c=$((c1 - c0)) -v hz=$hz -v t=$t1 -v T=$t0 'BEGIN { printf "%.3f\n", 100 * c / hz / (t - T) }' \
		>>$OUT/$v.cpu
	if [ "${v#perf}" != "$v" ]; then
		rate=$(awk -v a=$s0 -v b=$s1 -v t=$t1 -v T=$t0 'BEGIN { printf "%.3f", (b - a) / 1048576 / (t - T) * 60 }')
	else
		# the windows written: their bytes over the time they cover
		rate=$(for w in $d/store/*/window.json; do
			[ -f "$w" ] || continue
			echo "$(du -sb "${w%/window.json}" | cut -f1) $(jq .window.duration_s "$w")"
		done | awk '{ b += $1; s += $2 } END { printf "%.3f", s ? b / 1048576 / s * 60 : 0 }')
	fi
	echo $rate >>$OUT/$v.rate
}

echo
echo "agent budgets: beside build/tests/churn (20 processes/s, native and Python, + 2 spinners:" \
	"both CPUs busy), 19 Hz; medians of $RUNS runs of $SPAN s after $WARM s of start-up"
for ((i = 0; i < RUNS; i++)); do
	# rotate the order so drift in the machine hits every variant alike
	set -- $VARIANTS
	for ((k = 0; k < i % $#; k++)); do set -- "${@:2}" "$1"; done
	for v in "$@"; do
		measure $v $i
	done
done
printf "  %-14s %12s %10s %10s %14s\n" variant "cpu % core" "rss MB" "peak MB" "written MB/min"
for v in $VARIANTS; do
	[ -s $OUT/$v.cpu ] || { printf "  %-14s did not run (%s)\n" $v "$(tail -1 $OUT/$v-0/err 2>/dev/null)"; continue; }
	printf "  %-14s %12.3f %10.1f %10.1f %14.3f\n" $v "$(median <$OUT/$v.cpu)" \
		"$(median <$OUT/$v.rss | awk '{ print $1 / 1024 }')" "$(median <$OUT/$v.hwm | awk '{ print $1 / 1024 }')" \
		"$(median <$OUT/$v.rate)"
done
awk '$1 != 0 && $2 ~ /^agent/ { bad = bad " " $2 "#" $3 "=" $1 } END { if (bad) print "  exit status not 0 on SIGINT:" bad }' $OUT/exits

# per-sample costs: a system-wide recording with BPF statistics on, beside
# a workload NAME (the churn above, or only the spinners: steady)
persample() { # NAME
	local d=$OUT/persample-$1 t0 bpf_s rc
	stats0=$(sysctl -n kernel.bpf_stats_enabled)
	sysctl -q kernel.bpf_stats_enabled=1
	$AP --all -q -F 19 -d $SPAN -o $d 2>$d.err &
	vpid=$!
	t0=$(now)
	sleep $((SPAN - 5))
	bpf_s=$(awk -v a="$(now)" -v b=$t0 'BEGIN { printf "%.3f", a - b }')
	# our programs' run time and count, read while they are loaded (the
	# profiler's BPF program fds name them; bpftool here lists no pids)
	for id in $(grep -h '^prog_id:' /proc/$vpid/fdinfo/* 2>/dev/null | awk '{ print $2 }' | sort -u); do
		bpftool prog show id $id -j
	done | jq -s '{ sample: (map(select(.name == "on_cpu_sample")) | { ns: (map(.run_time_ns // 0) | add), n: (map(.run_cnt // 0) | add) }),
		all: { ns: (map(.run_time_ns // 0) | add) }, progs: map({ name, run_time_ns, run_cnt }) }' >$d.bpf.json
	wait $vpid
	rc=$?
	vpid=
	sysctl -q kernel.bpf_stats_enabled=$stats0
	stats0=
	if [ $rc != 0 ] || [ ! -f $d/run.json ]; then
		echo "per sample, $1: the --all run failed (exit $rc): $(tail -1 $d.err)"
		return
	fi
	jq -r --slurpfile b $d.bpf.json --argjson span $SPAN --argjson bpf_s $bpf_s --arg w "$1" '
	.collectors.cpu.counters as $c | ($c.samples_received) as $n |
	(.self.phases[] | select(.phase == "collect") | .cpu_s) as $collect |
	($b[0].sample.ns / ($b[0].sample.n | if . > 0 then . else 1 end) / 1000) as $bpf_us |
	($c.sample_ringbuf_bytes / $n) as $rb | ($c.unwind_cpu_ns / $n / 1000) as $uw |
	($c.symbolize_cpu_ns / $n / 1000) as $sy | ($collect / $n * 1e6) as $all |
	"per sample, \($w) (--all -F 19 -d \($span): \($n) samples of \(.processes | length) processes):",
	"  ring buffer \($rb | floor) bytes; userspace: unwind \($uw * 10 | round / 10) us, symbolize \($sy * 10 | round / 10) us, all of collect \($all | round) us (\($collect * 100 | round / 100) CPU-s);",
	"  BPF on_cpu_sample \($bpf_us * 10 | round / 10) us (\($b[0].sample.n) runs); all our BPF programs \($b[0].all.ns / 1e9 / $bpf_s * 100 * 100 | round / 100)% of one core (\($b[0].all.ns / 1e9 * 1000 | round / 1000) CPU-s in \($bpf_s) s)",
	( [64, 128][] as $cpus | ($cpus * 19) as $sps |
	  "  projected to \($cpus) busy CPUs at 19 Hz: \($sps) samples/s, ring buffer \($sps * $rb / 1048576 * 10 | round / 10) MB/s, userspace \($sps * $all / 1e4 | . * 10 | round / 10)% of one core (unwind + symbolize \($sps * ($uw + $sy) / 1e4 | . * 10 | round / 10)%), BPF \($sps * $bpf_us / 1e4 | . * 100 | round / 100)% of one core over all CPUs" )
	' $d/run.json
}
echo
persample churn
[ "${AGENT_CHURN_EXTERNAL:-0}" = 1 ] && exit 0
kill -TERM $cpid && wait $cpid
$CHURN -r 1 -b 2 -p $PY -s tests/workloads/py/churn.py 0 >$OUT/steady.out 2>&1 &
cpid=$!
sleep 2
persample steady
