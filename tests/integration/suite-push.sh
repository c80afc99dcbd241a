# SPDX-License-Identifier: MIT
# The agent's push sinks (issue 14) against tests/tools/fakebackend.py, a
# recording HTTP endpoint: the Pyroscope ingest request's parameters,
# headers and decoded pprof; and the faults: a backend that goes away and
# comes back (every window arrives once), a full spool (the oldest dropped
# and counted), 400 (not retried), a hanging backend (windows on time, RSS
# flat), a restart (the spool resumed). Workloads are started on their own
# and the assertions are about them (by pid or service name), not about the
# whole host. Sourced by run.sh.

SUITE_TESTS=(push_usage push_pyroscope push_both_sinks push_outage push_spool_full_resume push_reject_400
	push_retry_after push_hang)

PS_AP=$(readlink -f "$AP")
PS_O=$(readlink -f "$O")/push
PS_W=$(readlink -f "$W")
PS_FB=$(readlink -f tests/tools/fakebackend.py)
PS_AGENT= PS_BACK= PS_PORT=

ps_err() { tr '\n' ' ' <"$1" | cut -c1-300; }
# the recording backend on $1 (records in $1/rec), port in PS_PORT; a
# second call with the same port comes back on it
ps_back_start() { # DIR MODE [PORT]
	rm -f "$1/port"
	mkdir -p "$1/rec"
	python3 "$PS_FB" --dir "$1/rec" --port-file "$1/port" --mode "$2" ${3:+--port $3} \
		2>>"$1/back.err" &
	PS_BACK=$!
	for ((i = 0; i < 300; i++)); do # Python's start-up on a loaded machine
		[ -s "$1/port" ] && break
		sleep 0.1
	done
	PS_PORT=$(cat "$1/port" 2>/dev/null)
}
ps_back_stop() {
	[ -n "$PS_BACK" ] && kill $PS_BACK 2>/dev/null && wait $PS_BACK 2>/dev/null
	PS_BACK=
}
# the agent on store $1/store with more options; its stderr in $1/agent.err.
# (Not setsid: a session of its own is an autogroup of its own, which the
# scheduler gives as much CPU as the whole session of the tests beside it,
# the pattern table's workloads at nice -10 among them; so is the workload's)
ps_agent_start() { # DIR ARGS...
	local d=$1
	shift
	"$PS_AP" agent -q -o "$d/store" "$@" 2>>"$d/agent.err" &
	PS_AGENT=$!
}
ps_agent_stop() {
	local rc
	kill -TERM $PS_AGENT 2>/dev/null
	{ wait $PS_AGENT; } 2>/dev/null
	rc=$?
	PS_AGENT=
	return $rc
}
ps_windows() { find "$1/store" -mindepth 1 -maxdepth 1 -type d ! -name '.*' 2>/dev/null | sort; }
ps_wait_windows() { # DIR N [TIMEOUT]
	local i
	for ((i = 0; i < ${3:-30} * 10; i++)); do
		[ $(ps_windows "$1" | wc -l) -ge $2 ] && return 0
		kill -0 $PS_AGENT 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
# the recorded requests, one JSON object a line, in arrival order
ps_reqs() { cat "$1"/rec/*.json 2>/dev/null | jq -c .; }
# "from until" of every store window in which pid had samples (seconds)
ps_window_spans() { # DIR PID
	local w
	for w in $(ps_windows "$1"); do
		jq -r --argjson pid $2 'select(any(.processes[]; .pid == $pid)) |
			[(.window.start_time | sub("\\.[0-9]+Z$"; "Z") | fromdate),
			 (.window.end_time | sub("\\.[0-9]+Z$"; "Z") | fromdate)] | "\(.[0]) \(.[1])"' \
			"$w/window.json"
	done
}
# "from until" of the requests of one service answered with 200
ps_req_spans() { # DIR SERVICE|NAME
	ps_reqs "$1" | jq -r --arg s "$2" 'select(.status == 200 and (.query.name == $s or
		(.query.name // "" | startswith($s + "{")))) |
		"\(.query.from) \(.query.until)"'
}
# requests received more than once (answered STATUS, or any), as "name
# from-until" lines: a request sent again has the same body (an entry goes
# out as it was spooled). Not the same service and from: two windows share
# a from second when a late tick is followed by one on time (a window under
# 1 s; the ASan agent beside the lane), which once failed push_outage
ps_dups() { # DIR [STATUS]
	jq -r --arg st "${2:-}" 'select($st == "" or (.status | tostring) == $st) |
		input_filename | sub("\\.json$"; ".body")' "$1"/rec/*.json 2>/dev/null |
		xargs -r md5sum | sort | uniq -D -w32 | awk '{ print $2 }' | sed 's/\.body$/.json/' |
		xargs -r jq -r '"\(.query.name) \(.query.from)-\(.query.until)"' | head -3
}
ps_last_json() { jq "$2" "$(ps_windows "$1" | tail -1)/window.json"; }
ps_cleanup() {
	[ -n "$PS_AGENT" ] && ps_agent_stop
	ps_back_stop
	[ -n "${PS_WL:-}" ] && kill $PS_WL 2>/dev/null && wait $PS_WL 2>/dev/null
	PS_WL=
}
# a workload with a service name of its own, on CPU a quarter of the time
# (5 ms of work, 15 ms asleep: ~5 samples a second at the agent's 19 Hz, in
# every 1 s window), so that these tests mostly wait for the agent's windows
# and run in the second lane (LANE_LIST in run.sh) beside the others
ps_workload() { # SERVICE SECONDS
	OTEL_SERVICE_NAME=$1 /usr/bin/python3.11 -c '
import sys, time
end = time.monotonic() + float(sys.argv[1])
while time.monotonic() < end:
    t = time.monotonic() + 0.005
    while time.monotonic() < t:
        pass
    time.sleep(0.015)
' $2 >/dev/null 2>&1 &
	PS_WL=$!
}

t_push_usage() {
	local d=$PS_O/usage bad= rc
	rm -rf $d && mkdir -p $d
	printf 'AUTOPROF_PYROSCOPE_TOKEN=x\n' >$d/creds-ww && chmod 666 $d/creds-ww
	printf 'AUTOPROF_PYROSCOPE_TOKEN=x\n' >$d/creds-wr && chmod 644 $d/creds-wr
	printf 'AUTOPROF_PYROSCOPE_TOKEN=x\n' >$d/creds-ok && chmod 600 $d/creds-ok
	printf 'OTEL_EXPORTER_OTLP_HEADERS=authorization=Bearer%%20s3cr3t,oops\n' >$d/creds-hdr &&
		chmod 600 $d/creds-hdr
	ln -sf $d/creds-ok $d/creds-link
	printf 'AUTOPROF_PYROSCOPE_TOKEN=x\nAUTOPROF_PYROSCOPE_USER=u\n' >$d/creds-both && chmod 600 $d/creds-both
	while read -r args; do
		# shellcheck disable=SC2086
		$PS_AP agent -o $d/store $args 2>$d/err
		rc=$?
		if [ $rc != 2 ] || [ $(wc -l <$d/err) != 1 ]; then
			bad="$bad [$args: exit $rc, $(wc -l <$d/err) lines: $(ps_err $d/err)]"
		fi
	done <<EOT
--pyroscope ftp://host:21
--otlp file:///tmp/x
--pyroscope localhost:4040
--pyroscope http://user:pw@localhost:4040
--no-store
--pyroscope http://h --credentials $d/missing
--pyroscope http://h --credentials $d/creds-ww
--pyroscope http://h --credentials $d/creds-wr
--otlp http://h --credentials $d/creds-hdr
--pyroscope http://h --credentials $d/creds-link
--pyroscope http://h --credentials $d/creds-both
--pyroscope http://h --spool-mb 0
--pyroscope http://h --push-timeout 0
--pyroscope http://h --push-timeout 1.5
--pyroscope http://h --host-name
EOT
	$PS_AP agent -o $d/store --otlp http://h --credentials $d/creds-hdr 2>$d/err
	if [ -n "$bad" ]; then
		fail push_usage "usage errors:$bad"
	elif grep -q s3cr3t $d/err; then
		fail push_usage "a malformed header list is shown with its secret: $(cat $d/err)"
	elif [ -e $d/store ]; then
		fail push_usage "a usage error created the store"
	elif ! $PS_AP agent --help | grep -q -- "--pyroscope URL"; then
		fail push_usage "--help does not list --pyroscope"
	else
		pass push_usage
	fi
}

# the ingest request: path, name (service and host_name), from/until =
# the window's span, format, sampleRate, spyName; tenant and basic auth
# from a credentials file, then bearer and tenant from the environment; the
# pprof holds the workload's Python frames
t_push_pyroscope() {
	local d=$PS_O/pyro t rc bad= want got reqs f pp auth n wpid
	rm -rf $d && mkdir -p $d
	t=$d/push_pyro_split.py
	cp tests/workloads/py/split.py $t
	printf '# a comment\nAUTOPROF_PYROSCOPE_TENANT=tenant-a\nAUTOPROF_PYROSCOPE_USER=alice\nAUTOPROF_PYROSCOPE_PASSWORD="s3cret pw"\nOTHER=ignored\n' >$d/creds
	chmod 600 $d/creds
	ps_back_start $d 200
	OTEL_SERVICE_NAME=push-py-svc setsid /usr/bin/python3.11 $t 40 >/dev/null 2>&1 &
	PS_WL=$!
	wpid=$PS_WL
	ps_agent_start $d --interval 2 --host-name push-host --pyroscope "http://127.0.0.1:$PS_PORT/" \
		--credentials $d/creds
	wait_cpu $PS_WL 3 40
	ps_wait_windows $d 2 20
	ps_agent_stop
	rc=$?
	# the environment: a bearer token and another tenant
	AUTOPROF_PYROSCOPE_TOKEN=tok-b AUTOPROF_PYROSCOPE_TENANT=tenant-b \
		setsid "$PS_AP" agent -q -o $d/store2 --interval 1 --no-store --pyroscope "http://127.0.0.1:$PS_PORT" \
		2>>$d/agent.err &
	PS_AGENT=$!
	sleep 2.5
	ps_agent_stop
	ps_cleanup
	reqs=$(ps_reqs $d | jq -c 'select(.query.name == "push-py-svc{host_name=push-host}")')
	n=$(echo "$reqs" | grep -c .)
	# every such request's documented parameters and headers
	bad=$(echo "$reqs" | jq -r 'select(.method != "POST" or .path != "/ingest" or
		.query.format != "pprof" or .query.sampleRate != "19" or
		.query.spyName != "autoprof-bpf" or (.query.until | tonumber) < (.query.from | tonumber) or
		.headers["x-scope-orgid"] != "tenant-a" or
		.headers.authorization != "Basic YWxpY2U6czNjcmV0IHB3") | .raw_query' | head -3)
	# from/until: exactly the spans of the store's windows with the workload
	want=$(ps_window_spans $d $wpid | sort)
	got=$(ps_req_spans $d 'push-py-svc{host_name=push-host}' | sort)
	f=$(ls $d/rec/*.json | xargs grep -l 'push-py-svc' | head -1)
	pp=$(python3 "$PS_FB" decode "${f%.json}.body" 2>&1)
	auth=$(ps_reqs $d | jq -r 'select(.headers.authorization == "Bearer tok-b" and
		.headers["x-scope-orgid"] == "tenant-b") | .query.name' | head -1)
	if [ $rc != 0 ]; then
		fail push_pyroscope "agent exit $rc: $(ps_err $d/agent.err)"
	elif [ "$(echo "$want" | grep -c .)" -lt 2 ]; then
		fail push_pyroscope "the workload (pid $wpid) in only $(echo "$want" | grep -c .) windows"
	elif [ "$n" -lt 2 ]; then
		fail push_pyroscope "$n requests named push-py-svc{host_name=push-host} (want one per window, >= 2): $(ps_reqs $d | jq -r .query.name | sort -u | head -5 | tr '\n' ' ')"
	elif [ -n "$bad" ]; then
		fail push_pyroscope "requests with wrong parameters or headers: $bad"
	elif [ "$want" != "$got" ]; then
		fail push_pyroscope "from/until of the requests: $(echo $got | tr '\n' ,) but the windows with the workload: $(echo $want | tr '\n' ,)"
	elif ! echo "$pp" | grep -q 'string_table: "hot_a"' || ! echo "$pp" | grep -q "push_pyro_split.py"; then
		fail push_pyroscope "the pprof has no hot_a frame of the script: $(echo "$pp" | head -3)"
	elif [ -z "$auth" ]; then
		fail push_pyroscope "no request with the environment's bearer token and tenant (--no-store)"
	elif [ -n "$(find $d/store2 -mindepth 1 -maxdepth 1 ! -name '.*')" ]; then
		fail push_pyroscope "--no-store kept windows: $(ls $d/store2 | head -3)"
	else
		pass push_pyroscope
		echo "     $n requests of the workload's service, sizes $(echo "$reqs" | jq -r .len | tr '\n' ' ')"
	fi
	rm -f $t
}

# --otlp and --pyroscope at once, with the store: every window with the
# workload reaches both; the OTLP request (POST URL/v1development/profiles,
# protobuf, gzip, OTEL_EXPORTER_OTLP_HEADERS) decodes with protoc from our
# .proto files and names the workload's service; a URL already ending in
# the path is used as is
t_push_both_sinks() {
	local d=$PS_O/both rc wpid want otlp pyro bad body dec
	rm -rf $d && mkdir -p $d
	ps_back_start $d 200
	ps_workload push-both-svc 60
	wpid=$PS_WL
	OTEL_EXPORTER_OTLP_HEADERS='x-api-key=k%20v,x-org=o1' ps_agent_start $d --interval 1 \
		--otlp "http://127.0.0.1:$PS_PORT/v1development/profiles" --pyroscope "http://127.0.0.1:$PS_PORT"
	ps_wait_windows $d 4 20
	ps_agent_stop
	rc=$?
	ps_cleanup
	want=$(ps_window_spans $d $wpid | awk '{ print $1 }' | sort)
	pyro=$(ps_req_spans $d push-both-svc | awk '{ print $1 }' | sort)
	# the OTLP requests' windows: their start (Unix s) from the spool's
	# header is not sent; count them against the store's windows instead
	otlp=$(ps_reqs $d | jq -r 'select(.path == "/v1development/profiles" and .status == 200)' | grep -c '"method"')
	bad=$(ps_reqs $d | jq -r 'select(.path == "/v1development/profiles" and
		(.headers["content-type"] != "application/x-protobuf" or .headers["content-encoding"] != "gzip" or
		 .headers["x-api-key"] != "k v" or .headers["x-org"] != "o1")) | .headers' | head -c 300)
	body=$(ls $d/rec/*.json | while read -r f; do
		jq -e '.path == "/v1development/profiles"' $f >/dev/null && echo ${f%.json}.body; done | head -2 | tail -1)
	dec=$(gzip -dc "$body" 2>/dev/null | protoc -Iproto/otlp \
		--decode=opentelemetry.proto.collector.profiles.v1development.ExportProfilesServiceRequest \
		opentelemetry/proto/collector/profiles/v1development/profiles_service.proto 2>&1)
	if [ $rc != 0 ]; then
		fail push_both_sinks "agent exit $rc: $(ps_err $d/agent.err)"
	elif [ "$(echo "$want" | grep -c .)" -lt 3 ]; then
		fail push_both_sinks "the workload in only $(echo "$want" | grep -c .) windows"
	elif [ "$want" != "$pyro" ]; then
		fail push_both_sinks "Pyroscope got the windows $(echo $pyro | tr '\n' ,), the store has $(echo $want | tr '\n' ,)"
	elif [ "$otlp" != "$(ps_windows $d | wc -l)" ]; then
		fail push_both_sinks "$otlp OTLP requests for $(ps_windows $d | wc -l) windows"
	elif [ -n "$bad" ]; then
		fail push_both_sinks "OTLP request headers: $bad"
	elif ! echo "$dec" | grep -q 'string_value: "push-both-svc"'; then
		fail push_both_sinks "the OTLP request does not decode or lacks the service: $(echo "$dec" | head -3)"
	else
		pass push_both_sinks
		echo "     $(echo "$want" | grep -c .) windows to Pyroscope, $otlp OTLP requests ($(ps_reqs $d | jq -r 'select(.path == "/v1development/profiles") | .len' | tr '\n' ' ')bytes)"
	fi
}

# the backend goes away (at a request, which it does not take) for ~3 s
# and comes back on the same port: every window with the workload
# arrives, none twice
t_push_outage() {
	local d=$PS_O/outage rc port want got dup entries wpid
	rm -rf $d && mkdir -p $d
	ps_back_start $d 200
	port=$PS_PORT
	ps_workload push-outage-svc 60
	wpid=$PS_WL
	ps_agent_start $d --interval 1 --pyroscope "http://127.0.0.1:$port"
	ps_wait_windows $d 2 20
	# it goes away at the next request, which it neither records nor
	# answers (a kill could land between recording one and answering it,
	# and the agent would rightly send that one again)
	echo exit >$d/rec/mode
	for ((i = 0; i < 100; i++)); do
		kill -0 $PS_BACK 2>/dev/null || break
		sleep 0.1
	done
	wait $PS_BACK 2>/dev/null
	PS_BACK=
	ps_wait_windows $d 5 20
	echo 200 >$d/rec/mode
	ps_back_start $d 200 $port
	# the spool drains (backoff at most ~8 s by now), the agent still running
	for ((i = 0; i < 200; i++)); do
		[ "$(ps_last_json $d '.sinks.pyroscope.spool_entries')" = 0 ] &&
			[ "$(ps_last_json $d '.sinks.pyroscope.pushes_retried')" -gt 0 ] && break
		sleep 0.1
	done
	ps_agent_stop
	rc=$?
	entries=$(ls $d/store/.spool/pyroscope | wc -l)
	want=$(ps_window_spans $d $wpid | sort)
	got=$(ps_req_spans $d push-outage-svc | sort)
	dup=$(ps_dups $d 200)
	ps_cleanup
	if [ $rc != 0 ]; then
		fail push_outage "agent exit $rc: $(ps_err $d/agent.err)"
	elif [ "$(ps_last_json $d '.sinks.pyroscope.pushes_retried')" = 0 ]; then
		fail push_outage "no retried push while the backend was away"
	elif [ "$(echo "$want" | grep -c .)" -lt 4 ]; then
		fail push_outage "the workload (pid $wpid) in only $(echo "$want" | grep -c .) windows"
	elif [ -n "$dup" ]; then
		fail push_outage "requests received twice: $(echo $dup)"
	elif [ "$want" != "$got" ]; then
		fail push_outage "windows with the workload (from until): $(echo $want | tr '\n' ,) but received: $(echo $got | tr '\n' ,)"
	elif [ "$entries" != 0 ]; then
		fail push_outage "$entries entries left in the spool after the backend came back"
	else
		pass push_outage
		echo "     $(echo "$want" | wc -l) windows, each received once; $(ps_last_json $d '.sinks.pyroscope.pushes_retried') retried attempts"
	fi
}

# no backend: a 0.004 MB spool fills, the oldest are dropped and counted;
# the next start (backend up) resumes the spool and sends what is left
t_push_spool_full_resume() {
	local d=$PS_O/spool rc cap dropped dbytes sbytes files n1 resumed old i
	rm -rf $d && mkdir -p $d
	cap=$((4 * 1048576 / 1000))
	ps_workload push-spool-svc 60
	# a port nothing listens on: the backend that was there is gone
	ps_back_start $d 200
	ps_back_stop
	ps_agent_start $d --interval 1 --spool-mb 0.004 --pyroscope "http://127.0.0.1:$PS_PORT"
	ps_wait_windows $d 5 20
	ps_agent_stop
	rc=$?
	dropped=$(ps_last_json $d '.sinks.pyroscope.spool_dropped')
	dbytes=$(ps_last_json $d '.sinks.pyroscope.spool_dropped_bytes')
	sbytes=$(ps_last_json $d '.sinks.pyroscope.spool_bytes')
	files=$(ls $d/store/.spool/pyroscope | wc -l)
	n1=$(ps_windows $d | wc -l)
	# the backend comes back; a new agent on the same store
	ps_back_start $d 200 $PS_PORT
	ps_agent_start $d --interval 1 --spool-mb 0.004 --pyroscope "http://127.0.0.1:$PS_PORT"
	ps_wait_windows $d $((n1 + 3)) 20
	# the resumed entries go out oldest first, after any backoff the agent
	# was in; on a loaded machine that can take longer than three windows
	for ((i = 0; i < 300; i++)); do
		[ "$(ls $d/store/.spool/pyroscope | wc -l)" = 0 ] && break
		kill -0 $PS_AGENT 2>/dev/null || break
		sleep 0.1
	done
	sleep 1
	ps_agent_stop
	ps_cleanup
	resumed=$(jq -s '[.[].sinks.pyroscope.spool_resumed] | max' $(ps_windows $d | sed 1,${n1}d | sed 's,$,/window.json,'))
	# requests of the first agent's windows that reached the backend: from
	# at or before its last window's end, in whole seconds (a partial last
	# window's from is its end's second, and a busy host fills the spool
	# with that window's services alone)
	old=$(ps_reqs $d | jq -r 'select(.status == 200) | .query.from' | sort -u |
		awk -v t="$(jq -r '.window.end_time | sub("\\.[0-9]+Z$"; "Z") | fromdate' $(ps_windows $d | sed -n ${n1}p)/window.json)" '$1 <= t' | wc -l)
	if [ $rc != 0 ]; then
		fail push_spool_full_resume "agent exit $rc: $(ps_err $d/agent.err)"
	elif ! gt "$dropped" 0 || ! gt "$dbytes" 0; then
		fail push_spool_full_resume "a 0.004 MB spool with no backend dropped $dropped entries ($dbytes bytes)"
	elif ! ge "$cap" "$sbytes" && [ "$files" -gt 1 ]; then
		fail push_spool_full_resume "spool at $sbytes bytes over its cap $cap ($files files)"
	elif [ "$files" = 0 ]; then
		fail push_spool_full_resume "the spool was empty at the first agent's exit"
	elif ! gt "$resumed" 0; then
		fail push_spool_full_resume "the second agent resumed no spool entries"
	elif ! gt "$old" 0; then
		fail push_spool_full_resume "no request of the first agent's windows reached the backend after the restart"
	elif [ "$(ls $d/store/.spool/pyroscope | wc -l)" != 0 ]; then
		fail push_spool_full_resume "entries left in the spool: $(ls $d/store/.spool/pyroscope | wc -l)"
	else
		pass push_spool_full_resume
		echo "     $dropped dropped, $files entries ($sbytes bytes) kept, $resumed resumed, $old old windows sent"
	fi
}

# a backend answering 400: one request per entry, none retried, at most
# one log line about it (a minute)
t_push_reject_400() {
	local d=$PS_O/reject rc dup n rej lines
	rm -rf $d && mkdir -p $d
	ps_back_start $d 400
	ps_workload push-reject-svc 60
	ps_agent_start $d --interval 1 --pyroscope "http://127.0.0.1:$PS_PORT"
	ps_wait_windows $d 4 20
	ps_agent_stop
	rc=$?
	ps_cleanup
	n=$(ps_reqs $d | grep -c .)
	dup=$(ps_dups $d)
	rej=$(ps_last_json $d '.sinks.pyroscope.pushes_rejected')
	lines=$(grep -c 'refused' $d/agent.err)
	if [ $rc != 0 ]; then
		fail push_reject_400 "agent exit $rc: $(ps_err $d/agent.err)"
	elif ! gt "$n" 3; then
		fail push_reject_400 "only $n requests reached the backend"
	elif [ -n "$dup" ]; then
		fail push_reject_400 "a request refused with 400 was sent again: $(echo $dup)"
	elif [ "$(ps_last_json $d '.sinks.pyroscope.pushes_retried')" != 0 ] || ! gt "$rej" 0; then
		fail push_reject_400 "retried $(ps_last_json $d '.sinks.pyroscope.pushes_retried'), rejected $rej"
	elif [ "$lines" != 1 ]; then
		fail push_reject_400 "$lines log lines about refused requests (want 1 a minute): $(ps_err $d/agent.err)"
	else
		pass push_reject_400
		echo "     $n requests, each once; $rej rejected by the last window"
	fi
}

# 429 with Retry-After: 3, then 200: the entry is sent again no sooner
# than the server asked, then once with 200
t_push_retry_after() {
	local d=$PS_O/retry rc first key same gap ok
	rm -rf $d && mkdir -p $d/rec
	echo "429 3" >$d/rec/mode
	ps_back_start $d 200
	ps_workload push-retry-svc 60
	ps_agent_start $d --interval 1 --pyroscope "http://127.0.0.1:$PS_PORT"
	for ((i = 0; i < 100; i++)); do
		ls $d/rec/*.json >/dev/null 2>&1 && break
		sleep 0.1
	done
	sleep 3.5
	echo 200 >$d/rec/mode
	for ((i = 0; i < 150; i++)); do
		[ "$(ps_last_json $d '.sinks.pyroscope.spool_entries')" = 0 ] &&
			gt "$(ps_last_json $d '.sinks.pyroscope.pushes_ok')" 0 && break
		sleep 0.1
	done
	ps_agent_stop
	rc=$?
	ps_cleanup
	first=$(ps_reqs $d | head -1)
	# the first request's attempts (its body: see ps_dups), in arrival
	# order: the gap between the first two, and a 200
	key=$(ls $d/rec/*.body 2>/dev/null | head -1 | xargs -r md5sum | cut -c1-32)
	same=$(md5sum $d/rec/*.body 2>/dev/null | awk -v k="$key" '$1 == k { sub(/\.body$/, ".json", $2); print $2 }')
	gap=$(echo "$same" | xargs -r jq -s -r 'if length < 2 then -1 else (.[1].time_ns - .[0].time_ns) / 1e9 end')
	ok=$(echo "$same" | xargs -r jq -r 'select(.status == 200) | .status' | grep -c .)
	if [ $rc != 0 ]; then
		fail push_retry_after "agent exit $rc: $(ps_err $d/agent.err)"
	elif [ "$(echo "$first" | jq .status)" != 429 ]; then
		fail push_retry_after "the first request was answered $(echo "$first" | jq .status), not 429"
	elif ! ge "$gap" 2.9; then
		fail push_retry_after "sent again $gap s after a 429 with Retry-After: 3"
	elif [ "$ok" != 1 ]; then
		fail push_retry_after "the first request taken $ok times with 200 (want 1)"
	elif [ "$(ls $d/store/.spool/pyroscope | wc -l)" != 0 ]; then
		fail push_retry_after "$(ls $d/store/.spool/pyroscope | wc -l) entries still spooled after the 200s and the exit"
	else
		pass push_retry_after
		echo "     sent again after $gap s (Retry-After: 3)"
	fi
}

# a backend that never answers (--push-timeout 2): the windows keep being
# closed on time, the RSS stays flat, SIGTERM ends the agent in ~grace.
# Only the workload is profiled (-p): the RSS is the hung pushes' and the
# spool's, not that of the other processes the host starts meanwhile (this
# test runs in the second lane, beside the others)
t_push_hang() {
	local d=$PS_O/hang rc n late rss2 rssl t0 t1
	rm -rf $d && mkdir -p $d
	ps_back_start $d hang
	ps_workload push-hang-svc 60
	ps_agent_start $d --interval 1 --push-timeout 2 -p $PS_WL --pyroscope "http://127.0.0.1:$PS_PORT"
	ps_wait_windows $d 9 30
	t0=$(date +%s%N)
	ps_agent_stop
	rc=$?
	t1=$(date +%s%N)
	ps_cleanup
	n=$(ps_windows $d | wc -l)
	# every window but the last (partial) one spans its interval
	late=$(for w in $(ps_windows $d | head -n -1); do jq '.window.duration_s' $w/window.json; done |
		awk '$1 > 1.8' | wc -l)
	rss2=$(jq .agent.rss_kb "$(ps_windows $d | sed -n 3p)/window.json")
	rssl=$(jq .agent.rss_kb "$(ps_windows $d | sed -n 8p)/window.json")
	if [ $rc != 0 ]; then
		fail push_hang "agent exit $rc: $(ps_err $d/agent.err)"
	elif [ "$late" != 0 ]; then
		fail push_hang "$late of $n windows longer than 1.8 s at --interval 1 with a hung backend"
	elif [ "$(ps_reqs $d | grep -c .)" = 0 ]; then
		fail push_hang "the hung backend got no request"
	elif ! gt "$(ps_last_json $d '.sinks.pyroscope.spool_entries')" 0; then
		fail push_hang "nothing waiting in the spool with a hung backend"
	elif gt "$rssl" "$((rss2 + rss2 / 5 + 2048))"; then
		fail push_hang "RSS grew from $rss2 KB (window 3) to $rssl KB (window 8)"
	elif gt $(((t1 - t0) / 1000000)) 6000; then
		fail push_hang "SIGTERM took $(((t1 - t0) / 1000000)) ms with a hung backend (grace 2 s)"
	else
		pass push_hang
		echo "     $n windows on time; RSS $rss2 -> $rssl KB; stop in $(((t1 - t0) / 1000000)) ms"
	fi
}
