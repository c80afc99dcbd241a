# SPDX-License-Identifier: MIT
# The agent's memory stays flat under process churn: the CI version of
# `make soak` (tools/soak.sh runs it for 30 minutes). Sourced by
# tests/integration/run.sh (helpers and variables come from there).
# This test takes ~2.2 minutes.

# 2 minutes of `agent` beside build/tests/churn: 20 processes a second
# (native and Python alternately, 100-300 ms each) and 2 steady spinners,
# started on their own (setsid), not by the agent. The agent's RSS
# (/proc/PID/status VmRSS) is read every 2 s. Asserted:
#   - RSS <= 64 MB at every point (the budget);
#   - the second minute's growth, the least-squares slope of RSS over
#     t = 60..120 s times 60 s, is under 8 MB. The churn starts 20 x 60 =
#     1200 processes in that minute, so a leak of 50 kB per process would
#     add ~59 MB and one of 7 kB ~8 MB; the first minute is left out (the
#     caches of the two binaries, the kernel symbols and the allocator's
#     arenas fill then). The churn runs on wall time, so a loaded machine
#     still starts and ends its 1200 processes;
#   - the agent saw the churn (>= 100 distinct pids of build/tests/churn in
#     its window summaries: the test is not about an idle agent);
#   - SIGTERM: exit 0 and the last window flushed (window.last).
t_soak_flat() {
	local t=soak_flat d=$O/soak cpid apid rc i rss tt t0 max growth pids last
	rm -rf $d && mkdir -p $d
	[ -x $W/churn ] || { fail $t "$W/churn not built"; return 1; }
	setsid $W/churn -r 20 -b 2 -p /usr/bin/python3 -s tests/workloads/py/churn.py 140 \
		>$d.churn 2>&1 </dev/null &
	cpid=$!
	sleep 1
	$AP agent -q --interval 10 --max-disk 64 -o $d/store 2>$d.err &
	apid=$!
	t0=$(date +%s.%N)
	: >$d.csv
	for ((i = 0; i < 60; i++)); do
		sleep 2
		kill -0 $apid 2>/dev/null || break
		rss=$(awk '$1 == "VmRSS:" { print $2 }' /proc/$apid/status 2>/dev/null)
		tt=$(awk -v a="$(date +%s.%N)" -v b=$t0 'BEGIN { printf "%.2f", a - b }')
		echo "$tt ${rss:-0}" >>$d.csv
		gt $tt 120 && break
	done
	if ! kill -0 $apid 2>/dev/null; then
		wait $apid
		fail $t "the agent exited early (exit $?): $(tail -2 $d.err)"
		kill $cpid 2>/dev/null; wait $cpid 2>/dev/null
		return 1
	fi
	kill -TERM $apid
	wait $apid; rc=$?
	kill $cpid 2>/dev/null; wait $cpid 2>/dev/null
	read -r max growth < <(awk '{ if ($2 > m) m = $2 }
		$1 >= 60 { k++; sx += $1; sy += $2; sxx += $1 * $1; sxy += $1 * $2 }
		END { d = k * sxx - sx * sx; printf "%d %.0f\n", m, d ? 60 * (k * sxy - sx * sy) / d : 0 }' $d.csv)
	pids=$(jq -s '[.[].processes[] | select(.exe | endswith("/churn")) | .pid] | unique | length' \
		$d/store/*/window.json 2>/dev/null || echo 0)
	last=$(ls -d $d/store/*/ 2>/dev/null | sort | tail -1)
	echo "     agent RSS max $((max / 1024)) MB, second-minute growth ${growth} kB," \
		"$pids churn pids in $(ls -d $d/store/*/ 2>/dev/null | wc -l) windows; $(cat $d.churn)"
	if [ $rc != 0 ]; then
		fail $t "the agent exited $rc on SIGTERM: $(tail -2 $d.err)"
	elif [ "$(wc -l <$d.csv)" -lt 50 ]; then
		fail $t "only $(wc -l <$d.csv) RSS readings in 2 minutes"
	elif [ $max -gt $((64 * 1024)) ]; then
		fail $t "agent RSS reached $max kB, over 64 MB"
	elif [ $growth -gt $((8 * 1024)) ]; then
		fail $t "agent RSS grew $growth kB over the second minute (limit 8 MB: 1200 processes started)"
	elif [ "$pids" -lt 100 ]; then
		fail $t "the window summaries name $pids pids of $W/churn, want >= 100 (of ~1200 native)"
	elif ! jq -e '.window.last == true' "$last/window.json" >/dev/null 2>&1; then
		fail $t "the last window ($last) is not flushed as the last one"
	else
		pass $t
	fi
}

# run only when named (tests/integration/run.sh soak_flat, make soak's short
# form): 2.2 minutes would take make test past its 15-minute budget
NAMED_TESTS=(soak_flat)
