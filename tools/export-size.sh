#!/bin/bash
# SPDX-License-Identifier: MIT
# Bytes on the wire per window and per busy core per second of the fleet
# export at 19 Hz: gzip'ed OTLP (the request otlp__encode_window builds,
# gzip level 6 as sent) next to gzip'ed pprof (the window's profile.pb.gz,
# the Pyroscope body), for the agent beside busy processes of its own
# (Python: two hot functions; Python: json/re/hashlib/sorting, many stacks;
# C; C++). The agent is filtered to those processes (-p) so that the
# numbers are theirs, not the host's. Loads BPF: run as root and, on a
# shared machine, under the test lock:
#   flock /tmp/autoprof-bpf.lock tools/export-size.sh [SECONDS]   (default 47)
# ALL=1: the whole host (no -p), whatever else it runs.
# Needs `make all build/tests/otlptool build/tests/cwork build/tests/cxxwork`.
set -eu
cd "$(dirname "$0")/.."
secs=${1:-47}
d=$(mktemp -d /tmp/ap-export-size-XXXXXX)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$d"; }
trap cleanup EXIT
cat >$d/mix.py <<'PY'
import hashlib, json, re, random, sys, time
end = time.process_time() + float(sys.argv[1])
words = re.compile(r"[a-z]+")
def encode(n):
    return json.dumps([{"id": i, "name": "item%d" % i, "tags": ["a", "b"]} for i in range(n)])
def decode(s):
    return json.loads(s)
def digest(s):
    return hashlib.sha256(s.encode()).hexdigest()
def tokens(s):
    return words.findall(s)
def order(xs):
    return sorted(xs, key=lambda x: (x["name"], -x["id"]))
while time.process_time() < end:
    s = encode(random.randint(50, 200))
    digest(s)
    tokens(s)
    order(decode(s))
PY
setsid /usr/bin/python3.11 tests/workloads/py/split.py 600 >/dev/null 2>&1 & pids+=($!)
setsid /usr/bin/python3.11 $d/mix.py 600 >/dev/null 2>&1 & pids+=($!)
setsid build/tests/cwork 600 >/dev/null 2>&1 & pids+=($!)
setsid build/tests/cxxwork 600 >/dev/null 2>&1 & pids+=($!)
list=$(IFS=,; echo "${pids[*]}")
filter=(-p "$list")
[ "${ALL:-}" = 1 ] && filter=()
build/autoprof-bpf agent -q -F 19 --interval 15 -o $d/store "${filter[@]}" 2>$d/agent.err &
apid=$!
sleep "$secs"
kill -TERM $apid
wait $apid
printf '%-28s %8s %10s %10s %9s %14s %14s\n' window samples otlp_gz pprof_gz busy_cpu \
	"otlp_B/core/s" "pprof_B/core/s"
for w in $(find $d/store -mindepth 1 -maxdepth 1 -type d ! -name '.*' | sort); do
	jq -e '.window.last' $w/window.json >/dev/null && continue # the partial last window
	o=$(build/tests/otlptool $w "$(hostname)" $d/req.pb | jq .gzip_bytes)
	p=$(stat -c %s $w/profile.pb.gz)
	jq -r --argjson o $o --argjson p $p '(.totals.samples / .totals.frequency_hz) as $cpu_s |
		[.window.start_time, .totals.samples, $o, $p, ($cpu_s / .window.duration_s),
		 ($o / $cpu_s), ($p / $cpu_s)] |
		"\(.[0]) \(.[1]) \(.[2]) \(.[3]) \(.[4] * 100 | round / 100) \(.[5] | round) \(.[6] | round)"' \
		$w/window.json | awk '{ printf "%-28s %8s %10s %10s %9s %14s %14s\n", $1, $2, $3, $4, $5, $6, $7 }'
done
