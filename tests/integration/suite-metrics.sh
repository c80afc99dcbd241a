# SPDX-License-Identifier: MIT
# The agent's self-metrics (--metrics-addr, issue 14): a real Prometheus
# (Debian's prometheus package) scrapes the agent every second and its query
# API shows the agent's series, whose samples_total matches the windows the
# store holds; promtool lints the exposition; a bad address is exit 2, a
# port in use 125; silent clients (all slots taken) do not stall the windows
# and are closed when idle; 404 and 405. Sourced by run.sh.

SUITE_TESTS=(metrics_usage metrics_prometheus metrics_silent_clients)

MX_AP=$(readlink -f "$AP")
MX_O=$(readlink -f "$O")
MX_W=$(readlink -f "$W")
MX_PID=

# a free loopback TCP port (bound and released)
mx_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
mx_start() { # DIR ARGS...
	local d=$1
	shift
	rm -rf "$d" "$d.err"
	setsid "$MX_AP" agent -q -o "$d" "$@" 2>"$d.err" &
	MX_PID=$!
}
mx_stop() {
	local rc
	kill -TERM $MX_PID 2>/dev/null
	{ wait $MX_PID; } 2>/dev/null
	rc=$?
	MX_PID=
	return $rc
}
# wait until URL answers (1 after TIMEOUT seconds or when the agent exits)
mx_wait_url() { # URL TIMEOUT
	local i
	for ((i = 0; i < $2 * 5; i++)); do
		curl -sf -o /dev/null --max-time 2 "$1" && return 0
		[ -n "$MX_PID" ] && ! kill -0 $MX_PID 2>/dev/null && return 1
		sleep 0.2
	done
	return 1
}
mx_windows() { # DIR
	find "$1" -mindepth 1 -maxdepth 1 -type d ! -name '.*' 2>/dev/null | wc -l
}
mx_err() { tr '\n' ' ' <"$1" | cut -c1-300; }

t_metrics_usage() {
	local e=$MX_O/mx-usage.err bad= port lpid rc
	for a in "127.0.0.1" ":9464" "127.0.0.1:0" "127.0.0.1:99999" "localhost:x" "::1:9464" \
		"example.org:9464" "127.0.0.1:9464:1"; do
		$MX_AP agent -o $MX_O/mx-usage --metrics-addr "$a" 2>$e
		rc=$?
		if [ $rc != 2 ] || [ $(wc -l <$e) != 1 ] || ! grep -q -- "--metrics-addr" $e; then
			bad="$bad [$a: exit $rc, $(wc -l <$e) lines]"
		fi
	done
	# a port another socket listens on: one line naming it, 125, before the BPF load
	port=$(mx_port)
	: >$MX_O/mx-usage.listener
	python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); print("up", flush=True); time.sleep(30)' \
		$port >$MX_O/mx-usage.listener &
	lpid=$!
	for ((i = 0; i < 50; i++)); do grep -q up $MX_O/mx-usage.listener && break; sleep 0.1; done
	$MX_AP agent -o $MX_O/mx-usage-store --metrics-addr 127.0.0.1:$port 2>$e
	rc=$?
	kill $lpid 2>/dev/null
	wait $lpid 2>/dev/null
	if [ -n "$bad" ]; then
		fail metrics_usage "bad addresses:$bad"
	elif [ $rc != 125 ] || [ $(wc -l <$e) != 1 ] || ! grep -q "127.0.0.1:$port: bind: .*EADDRINUSE" $e; then
		fail metrics_usage "port in use: exit $rc (want 125 and one line): $(mx_err $e)"
	elif [ -e $MX_O/mx-usage ]; then
		fail metrics_usage "a usage error created the store"
	elif ! $MX_AP agent --help | grep -q -- "--metrics-addr HOST:PORT"; then
		fail metrics_usage "--help does not list --metrics-addr"
	else
		pass metrics_usage
	fi
}

# Prometheus scrapes the agent every 1 s; its query API shows up == 1 and
# the agent's series, and one scrape's samples_total is the sum of the
# samples of the windows it counts (windows_total of the same scrape); the
# agent also pushes both sinks (Pyroscope, OTLP) to a recording backend,
# whose accepted pushes show in each sink's series
t_metrics_prometheus() {
	local d=$MX_O/mx-prom pd=$MX_O/mx-prom-server job=autoprof-metrics-test ap pp wpid ppid q i
	local res up= n= w= ts sum rc fb fbp ok= okp= oko= nreq
	if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then
		fail metrics_prometheus "prometheus and promtool are needed (Debian package prometheus: tools/install-deps.sh --test)"
		return
	fi
	ap=$(mx_port)
	pp=$(mx_port)
	rm -rf $pd && mkdir -p $pd/data
	cat >$pd/prometheus.yml <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: $job
    static_configs:
      - targets: ['127.0.0.1:$ap']
EOF
	mkdir -p $pd/rec
	python3 tests/tools/fakebackend.py --dir $pd/rec --port-file $pd/fbport --mode 200 2>$pd/fb.err &
	fb=$!
	for ((i = 0; i < 50; i++)); do [ -s $pd/fbport ] && break; sleep 0.1; done
	fbp=$(cat $pd/fbport 2>/dev/null)
	setsid $MX_W/cwork 40 >/dev/null 2>&1 &
	wpid=$!
	mx_start $d --interval 1 --metrics-addr 127.0.0.1:$ap --pyroscope http://127.0.0.1:$fbp \
		--otlp http://127.0.0.1:$fbp
	setsid prometheus --config.file=$pd/prometheus.yml --storage.tsdb.path=$pd/data \
		--web.listen-address=127.0.0.1:$pp --log.level=warn >$pd/log 2>&1 &
	ppid=$!
	q="http://127.0.0.1:$pp/api/v1/query"
	# until Prometheus has a scrape with samples in it (at most ~25 s)
	for ((i = 0; i < 100; i++)); do
		res=$(curl -s --max-time 2 "$q" --data-urlencode \
			"query={job=\"$job\",__name__=~\"up|autoprof_samples_total|autoprof_windows_total\"} or autoprof_sink_pushes_total{job=\"$job\",result=\"ok\"}" 2>/dev/null)
		up=$(jq -r '.data.result[] | select(.metric.__name__ == "up") | .value[1]' <<<"$res" 2>/dev/null)
		n=$(jq -r '.data.result[] | select(.metric.__name__ == "autoprof_samples_total") | .value[1]' <<<"$res" 2>/dev/null)
		okp=$(jq -r '.data.result[] | select(.metric.sink == "pyroscope") | .value[1]' <<<"$res" 2>/dev/null)
		oko=$(jq -r '.data.result[] | select(.metric.sink == "otlp") | .value[1]' <<<"$res" 2>/dev/null)
		[ "$up" = 1 ] && [ -n "$n" ] && gt "$n" 0 && [ -n "$okp" ] && gt "$okp" 0 &&
			[ -n "$oko" ] && gt "$oko" 0 && break
		kill -0 $MX_PID 2>/dev/null && kill -0 $ppid 2>/dev/null || break
		sleep 0.25
	done
	# one scrape's pair: both series of the same timestamp
	ts=$(jq -r '[.data.result[] | select(.metric.__name__ | test("^autoprof_(samples|windows)_total$")) | .value[0]] | unique | length' <<<"$res" 2>/dev/null)
	w=$(jq -r '.data.result[] | select(.metric.__name__ == "autoprof_windows_total") | .value[1]' <<<"$res" 2>/dev/null)
	curl -s --max-time 2 http://127.0.0.1:$ap/metrics >$pd/scrape.txt
	promtool check metrics <$pd/scrape.txt >$pd/lint 2>&1
	rc=$?
	kill $ppid 2>/dev/null
	wait $ppid 2>/dev/null
	mx_stop
	kill $wpid 2>/dev/null
	wait $wpid 2>/dev/null
	kill $fb 2>/dev/null
	wait $fb 2>/dev/null
	nreq=$(ls $pd/rec/*.json 2>/dev/null | wc -l)
	sum=$(for f in $d/*/window.json; do cat $f; done 2>/dev/null |
		jq -s --argjson w "${w:-0}" '[.[] | select(.window.seq <= $w) | .totals.samples] | add // 0')
	if [ "$up" != 1 ]; then
		fail metrics_prometheus "Prometheus has no up == 1 for the agent (up=$up): $(mx_err $pd/log) $(mx_err $d.err)"
	elif [ -z "$n" ] || ! gt "$n" 0; then
		fail metrics_prometheus "Prometheus shows no autoprof_samples_total > 0 (got '$n'): $(mx_err $d.err)"
	elif [ "$ts" != 1 ] || [ -z "$w" ] || [ "$w" = 0 ]; then
		fail metrics_prometheus "samples_total and windows_total not from one scrape (w=$w): $res"
	elif [ "$n" != "$sum" ]; then
		fail metrics_prometheus "autoprof_samples_total $n, but the first $w windows in the store hold $sum samples"
	elif [ -z "$okp" ] || [ -z "$oko" ] || ! gt "$okp" 0 || ! gt "$oko" 0 ||
		gt $((${okp%.*} + ${oko%.*})) "$nreq"; then
		fail metrics_prometheus "pushes ok in Prometheus: pyroscope '$okp', otlp '$oko'; the backend recorded $nreq requests"
	elif ! grep -q '^autoprof_sink_spool_bytes{sink="pyroscope"} [0-9]' $pd/scrape.txt ||
		! grep -q '^autoprof_sink_spool_dropped_total{sink="otlp"} 0$' $pd/scrape.txt; then
		fail metrics_prometheus "the scrape lacks the sinks' spool series"
	elif [ $rc != 0 ]; then
		fail metrics_prometheus "promtool check metrics: $(mx_err $pd/lint)"
	elif ! grep -q '^process_resident_memory_bytes [1-9]' $pd/scrape.txt ||
		! grep -q '^process_cpu_seconds_total [0-9.]*[1-9]' $pd/scrape.txt ||
		! grep -q '^autoprof_events_total{event="ringbuf_full"} [0-9]' $pd/scrape.txt; then
		fail metrics_prometheus "the scrape lacks the agent's RSS, CPU or its loss counters"
	else
		pass metrics_prometheus
		echo "     Prometheus: up 1, $n samples in $w windows (the store agrees), pushes ok: pyroscope $okp, otlp $oko ($nreq received)"
	fi
}

# every client slot taken by a silent client: the windows keep closing on
# time, the next scrape is refused (503) until the idle ones are closed
# (5 s), then served; 404 and 405
t_metrics_silent_clients() {
	local d=$MX_O/mx-silent ap i fds=() before after code1 code2 c404 c405 txt
	ap=$(mx_port)
	mx_start $d --interval 1 --metrics-addr 127.0.0.1:$ap
	if ! mx_wait_url http://127.0.0.1:$ap/metrics 60; then
		mx_stop
		fail metrics_silent_clients "the agent never served /metrics: $(mx_err $d.err)"
		return
	fi
	# the probe above closed; its slot must be free before the silent
	# ones come, or one of them is refused and the slot frees up later
	sleep 1
	for ((i = 0; i < 8; i++)); do
		exec {fd}<>/dev/tcp/127.0.0.1/$ap && fds+=($fd)
	done
	sleep 0.5
	before=$(mx_windows $d)
	code1=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 http://127.0.0.1:$ap/metrics)
	sleep 3.5
	after=$(mx_windows $d)
	sleep 2.5 # the silent clients are past their 5 s now
	txt=$(curl -s --max-time 3 http://127.0.0.1:$ap/metrics)
	code2=$?
	c404=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 http://127.0.0.1:$ap/)
	c405=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 -X POST -d x=1 http://127.0.0.1:$ap/metrics)
	for fd in "${fds[@]}"; do exec {fd}>&-; done
	mx_stop
	if [ "$code1" != 503 ]; then
		fail metrics_silent_clients "a scrape with 8 silent clients connected got $code1, want 503"
	elif [ $((after - before)) -lt 2 ]; then
		fail metrics_silent_clients "$((after - before)) windows in 3.5 s at --interval 1 with silent clients"
	elif [ $code2 != 0 ] || ! grep -q '^autoprof_metrics_refused_total{reason="idle"} [1-9]' <<<"$txt" ||
		! grep -q '^autoprof_metrics_refused_total{reason="too_many_clients"} [1-9]' <<<"$txt"; then
		fail metrics_silent_clients "after 6 s the idle clients were not closed and counted (curl $code2)"
	elif [ "$c404" != 404 ] || [ "$c405" != 405 ]; then
		fail metrics_silent_clients "GET / gave $c404 (want 404), POST /metrics $c405 (want 405)"
	else
		pass metrics_silent_clients
	fi
}
