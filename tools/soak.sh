#!/bin/bash
# SPDX-License-Identifier: MIT
# `make soak`: the agent's memory over a long run beside process churn.
# Runs `autoprof-bpf agent` for SOAK_MIN minutes (default 30) while
# build/tests/churn starts and ends SOAK_RATE processes a second (default
# 20, native and Python alternately) beside SOAK_BUSY steady spinners
# (default 2: both CPUs busy), samples the agent's RSS (/proc/PID/status
# VmRSS) and CPU time (/proc/PID/stat utime + stime) every SOAK_EVERY
# seconds (default 10) into build/soak/soak.csv, then stops it with SIGTERM
# and gives a verdict:
#   - RSS <= SOAK_RSS_MAX_MB (64) at every point;
#   - flat: the least-squares slope of RSS over the second half is under
#     SOAK_SLOPE_MAX_MB MB per 10 minutes (default 1; a 20 procs/s churn
#     starts 12,000 processes in 10 minutes, so 1 MB / 10 min is under
#     90 bytes per process);
#   - the store (-o) never exceeded --max-disk (SOAK_MAX_DISK_MB, default
#     16, so that a 30-minute soak reaches the cap and deletes windows:
#     its windows take ~1 MB a minute);
#   - the agent exits 0 on SIGTERM, having flushed its last window;
# and prints the loss and eviction counters of the window summaries.
# Exit status 0 when every check holds, 1 otherwise.
#
# SOAK_SEC overrides SOAK_MIN (seconds). SOAK_NICE (default 0) runs the
# churn under `nice -n SOAK_NICE`. SOAK_INTERVAL (15) is the agent's
# --interval. SOAK_AGENT_ARGS adds options to the agent (e.g. --offcpu).
# AP names the profiler binary (default build/autoprof-bpf); SOAK_AGENT_CMD
# replaces the agent's command line as a whole (bash -c; it must exec the
# process to watch).
# The soak is not a timing measurement; it loads BPF, so it runs as root.
set -u
cd "$(dirname "$0")/.."
AP=${AP:-build/autoprof-bpf}
CHURN=${CHURN:-build/tests/churn}
SEC=${SOAK_SEC:-$((${SOAK_MIN:-30} * 60))}
EVERY=${SOAK_EVERY:-10}
RATE=${SOAK_RATE:-20}
BUSY=${SOAK_BUSY:-2}
INTERVAL=${SOAK_INTERVAL:-15}
MAX_DISK=${SOAK_MAX_DISK_MB:-16}
RSS_MAX=${SOAK_RSS_MAX_MB:-64}
SLOPE_MAX=${SOAK_SLOPE_MAX_MB:-1}
OUT=${SOAK_OUT:-build/soak}
STORE=$OUT/store
CSV=$OUT/soak.csv
PY=/usr/bin/python3
[ -x $PY ] || PY=$(command -v python3)

if [ "$(id -u)" -ne 0 ]; then
	echo "soak: needs root (the agent loads BPF programs): sudo make soak" >&2
	exit 1
fi
for f in "$AP" "$CHURN"; do
	[ -x "$f" ] || { echo "soak: $f: not built (make all build/tests/churn)" >&2; exit 1; }
done
rm -rf "$OUT" && mkdir -p "$OUT"
unset SUDO_UID SUDO_GID

apid= cpid=
cleanup() {
	[ -n "$cpid" ] && kill -TERM $cpid 2>/dev/null
	[ -n "$apid" ] && kill -KILL $apid 2>/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# the churn first, so the agent starts on a host already churning
nice -n ${SOAK_NICE:-0} "$CHURN" -r $RATE -b $BUSY -p $PY -s tests/workloads/py/churn.py $((SEC + 30)) \
	>$OUT/churn.out 2>&1 &
cpid=$!
sleep 1
# shellcheck disable=SC2086 # SOAK_AGENT_ARGS is a list of words
if [ -n "${SOAK_AGENT_CMD:-}" ]; then # another command to watch (a dry run of this script)
	bash -c "$SOAK_AGENT_CMD" >$OUT/agent.out 2>$OUT/agent.err &
else
	"$AP" agent -q --interval $INTERVAL --max-disk $MAX_DISK -o $STORE ${SOAK_AGENT_ARGS:-} \
		>$OUT/agent.out 2>$OUT/agent.err &
fi
apid=$!
hz=$(getconf CLK_TCK)
t0=$(date +%s.%N)
echo "t_s,rss_kb,cpu_s,cpu_pct,store_kb,windows" >$CSV
prev_t=0 prev_c=0
echo "soak: agent pid $apid for $SEC s beside $RATE processes/s and $BUSY spinners; $CSV every $EVERY s"
while :; do
	sleep $EVERY
	if ! kill -0 $apid 2>/dev/null; then
		echo "soak: FAIL: the agent exited early: $(tail -3 $OUT/agent.err)"
		apid=
		exit 1
	fi
	rss=$(awk '$1 == "VmRSS:" { print $2 }' /proc/$apid/status)
	st=$(cat /proc/$apid/stat)
	cpu=$(echo "${st##*) }" | awk -v hz=$hz '{ printf "%.2f", ($12 + $13) / hz }')
	t=$(awk -v a="$(date +%s.%N)" -v b=$t0 'BEGIN { printf "%.1f", a - b }')
	store=$(du -sk $STORE 2>/dev/null | awk '{ print $1 }')
	nwin=$(find $STORE -mindepth 2 -maxdepth 2 -name window.json 2>/dev/null | wc -l)
	pct=$(awk -v c=$cpu -v pc=$prev_c -v t=$t -v pt=$prev_t 'BEGIN { printf "%.2f", 100 * (c - pc) / (t - pt) }')
	echo "$t,$rss,$cpu,$pct,${store:-0},$nwin" >>$CSV
	prev_t=$t prev_c=$cpu
	awk -v t=$t -v s=$SEC 'BEGIN { exit !(t >= s) }' && break
done
kill -TERM $apid
wait $apid
arc=$?
apid=
kill -TERM $cpid 2>/dev/null
wait $cpid 2>/dev/null
cpid=

# the verdict, from the CSV
read -r rss_max slope n cpu_avg store_max < <(awk -F, -v sec=$SEC 'NR > 1 {
	t[++n] = $1; r[n] = $2; s = ($5 > s) ? $5 : s; if ($2 > m) m = $2; last_c = $3; last_t = $1
} END {
	# least squares over the second half: kB per second
	for (i = 1; i <= n; i++) if (t[i] >= sec / 2) { k++; sx += t[i]; sy += r[i]; sxx += t[i] * t[i]; sxy += t[i] * r[i] }
	slope = (k > 1 && k * sxx - sx * sx) ? (k * sxy - sx * sy) / (k * sxx - sx * sx) : 0
	printf "%d %.6f %d %.3f %d\n", m, slope, k, 100 * last_c / last_t, s
}' $CSV)
ok=1
slope10=$(awk -v s=$slope 'BEGIN { printf "%.2f", s * 600 / 1024 }')
echo "soak: $(tail -1 $OUT/churn.out)"
echo "soak: agent RSS max $((rss_max / 1024)) MB ($rss_max kB; limit $RSS_MAX MB)," \
	"slope over the second half $slope10 MB per 10 min ($n points; limit $SLOPE_MAX)," \
	"CPU $cpu_avg% of one core on average, store max $((store_max / 1024)) MB (--max-disk $MAX_DISK)"
awk -F, 'NR > 1 && (NR - 2) % 6 == 0 { printf "  t=%6.0f s  RSS %6.1f MB  CPU %5.2f%%  store %5.1f MB  windows %d\n", $1, $2 / 1024, $4, $5 / 1024, $6 }' $CSV
if [ $rss_max -gt $((RSS_MAX * 1024)) ]; then
	echo "soak: FAIL: RSS reached $rss_max kB, over $RSS_MAX MB"
	ok=0
fi
if ! awk -v s=$slope10 -v m=$SLOPE_MAX 'BEGIN { exit !(s < m) }'; then
	echo "soak: FAIL: RSS grows $slope10 MB per 10 min over the second half (limit $SLOPE_MAX)"
	ok=0
fi
# du counts directories and blocks; the store's own accounting is in
# window.json (store.bytes); allow 5% for the directories' blocks
if [ $store_max -gt $((MAX_DISK * 1024 * 105 / 100)) ]; then
	echo "soak: FAIL: the store reached $store_max kB, over --max-disk $MAX_DISK MB"
	ok=0
fi
if [ $arc -ne 0 ]; then
	echo "soak: FAIL: the agent exited $arc on SIGTERM: $(tail -3 $OUT/agent.err)"
	ok=0
fi
wins=$(find $STORE -mindepth 2 -maxdepth 2 -name window.json | sort)
if [ -z "$wins" ]; then
	echo "soak: FAIL: no window.json in $STORE"
	ok=0
else
	last=$(echo "$wins" | tail -1)
	# shellcheck disable=SC2086
	echo "soak: $(echo "$wins" | wc -l) windows kept; counters summed over them (non-zero):"
	# shellcheck disable=SC2086
	jq -s -r 'map(.counters // {}) | map(to_entries) | add | group_by(.key) |
		map({key: .[0].key, value: (map(.value) | add)}) | map(select(.value != 0)) |
		map("  \(.key) \(.value)") | .[]' $wins
	jq -r '"soak: the last window (last: \(.window.last)): store \(.store.bytes) of \(.store.max_bytes) bytes, \(.store.windows_deleted_total) windows deleted (\(.store.bytes_deleted_total) bytes), \(.store.windows_dropped_total) dropped; agent RSS \(.agent.rss_kb) kB, peak \(.agent.max_rss_kb) kB, \(.agent.cpu_total_s) CPU-s in all"' "$last"
	if ! jq -e '.window.last == true and .store.bytes <= .store.max_bytes' "$last" >/dev/null; then
		echo "soak: FAIL: the last window is not marked last, or the store is over its cap"
		ok=0
	fi
fi
[ $ok = 1 ] && echo "soak: PASS" || echo "soak: FAIL"
[ $ok = 1 ]
