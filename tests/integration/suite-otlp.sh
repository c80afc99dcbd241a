# SPDX-License-Identifier: MIT
# OTLP profiles against a real OpenTelemetry Collector (v0.165.0, built once
# per machine by tools/build-otelcol.sh into build/otelcol/): its core OTLP
# receiver decodes what we send and our profilejson exporter writes what it
# decoded as OTLP JSON, which tests/integration/otlp_check.py summarises.
#   otlp_collector_agent    `agent --otlp`: every window's samples of a Python
#                           workload arrive once, with its service name,
#                           resource attributes and Python frames
#   otlp_collector_encoder  one stored window encoded (otlptool) and POSTed
#                           with curl: the Collector's counts are the window's
# Without go or the Go module proxy the tests fail saying so. Sourced by run.sh.

SUITE_TESTS=(otlp_collector_agent otlp_collector_encoder)

OT_AP=$(readlink -f "$AP")
OT_O=$(readlink -f "$O")
OT_COL=
OT_COL_PID=
OT_PORT=
OT_OUT=

# build the Collector (cached) and start it on a free loopback port; its
# decoded batches go to $OT_OUT. 1 with the reason in OT_WHY.
ot_collector() {
	local i cfg=$OT_O/otelcol.yaml
	OT_WHY=
	if ! OT_COL=$(tools/build-otelcol.sh -q 2>$OT_O/otelcol-build.err); then
		OT_WHY="the test Collector could not be built: $(tr '\n' ' ' <$OT_O/otelcol-build.err | cut -c1-300)"
		return 1
	fi
	OT_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	OT_OUT=$OT_O/otelcol-received.jsonl
	rm -f $OT_OUT
	cat >$cfg <<EOF
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:$OT_PORT
exporters:
  profilejson:
    path: $OT_OUT
service:
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
  pipelines:
    profiles:
      receivers: [otlp]
      exporters: [profilejson]
EOF
	"$OT_COL" --config=$cfg --feature-gates=service.profilesSupport >$OT_O/otelcol.log 2>&1 &
	OT_COL_PID=$!
	for ((i = 0; i < 100; i++)); do
		curl -s -o /dev/null http://127.0.0.1:$OT_PORT/ && return 0
		kill -0 $OT_COL_PID 2>/dev/null || break
		sleep 0.1
	done
	OT_WHY="the Collector did not start: $(tail -3 $OT_O/otelcol.log | tr '\n' ' ' | cut -c1-300)"
	return 1
}

ot_collector_stop() {
	[ -n "$OT_COL_PID" ] && kill $OT_COL_PID 2>/dev/null && wait $OT_COL_PID 2>/dev/null
	OT_COL_PID=
}

# samples of PID over every window of store DIR (cpu.json)
ot_store_samples() { # DIR PID
	local w n=0
	for w in $(find "$1" -mindepth 1 -maxdepth 1 -type d ! -name '.*' | sort); do
		n=$((n + $(jq --argjson pid $2 '[.samples[] | select(.pid == $pid) | .count] | add // 0' \
			$w/artifacts/cpu.json)))
	done
	echo $n
}

# the common checks of one process in otlp_check.py's summary $1; prints
# what is wrong (nothing when all is right)
ot_check_proc() { # SUMMARY PID SERVICE HOST WANT_SAMPLES SCRIPT
	python3 - "$@" <<'PY'
import json, sys
summary, pid, service, host, want, script = sys.argv[1:7]
d = json.load(open(summary))
p = d["procs"].get(pid)
if not d["zero_rows_ok"]:
    print("a dictionary table's row 0 is not the empty value")
elif not p:
    print("pid %s not among the %d processes received" % (pid, len(d["procs"])))
else:
    r = p["resource"]
    bad = []
    if r.get("service.name") != service:
        bad.append("service.name %r, want %r" % (r.get("service.name"), service))
    if r.get("host.name") != host:
        bad.append("host.name %r, want %r" % (r.get("host.name"), host))
    if r.get("process.executable.name") != "python3.11" or not str(r.get("process.executable.path", "")).endswith("/python3.11"):
        bad.append("executable %r %r" % (r.get("process.executable.name"), r.get("process.executable.path")))
    if p["scope"] != "autoprof-bpf":
        bad.append("scope %r" % p["scope"])
    if p["cpu_samples"] != int(want):
        bad.append("%d on-CPU samples received, the windows hold %s" % (p["cpu_samples"], want))
    if p["period"] <= 0:
        bad.append("period %d" % p["period"])
    for fn in ("hot_a", "hot_b", "main"):
        ft, file = p["frames"].get(fn, [None, ""])
        if ft != "cpython" or not file.endswith(script):
            bad.append("frame %s: type %r file %r" % (fn, ft, file))
    if p["match_samples"] * 2 < p["cpu_samples"]:
        bad.append("only %d of %d samples under hot_a/hot_b" % (p["match_samples"], p["cpu_samples"]))
    print("; ".join(bad))
PY
}

t_otlp_collector_agent() {
	local d=$OT_O/otlp-agent s=otlp_probe_$$.py svc=otlp-probe-$$ wpid apid rc want got why
	if ! $OT_AP agent --help 2>/dev/null | grep -q -- '--otlp'; then
		fail otlp_collector_agent "the agent has no --otlp option"
		return
	fi
	if ! ot_collector; then
		fail otlp_collector_agent "$OT_WHY"
		return
	fi
	cp tests/workloads/py/split.py $OT_O/$s
	OTEL_SERVICE_NAME=$svc setsid /usr/bin/python3.11 $OT_O/$s 30 >/dev/null 2>&1 &
	wpid=$!
	rm -rf $d
	setsid "$OT_AP" agent -q -o $d --interval 2 -F 19 --host-name otlp-host \
		--otlp http://127.0.0.1:$OT_PORT 2>$d.err &
	apid=$!
	wait_cpu $wpid 4 40
	kill -TERM $apid 2>/dev/null
	wait $apid
	rc=$?
	kill $wpid 2>/dev/null
	wait $wpid 2>/dev/null
	sleep 0.5 # the Collector's export of the last request
	ot_collector_stop
	want=$(ot_store_samples $d $wpid)
	python3 tests/integration/otlp_check.py $OT_OUT 'hot_[ab]' >$d.summary 2>$d.check-err
	why=$(ot_check_proc $d.summary $wpid $svc otlp-host $want $s 2>&1)
	if [ $rc != 0 ]; then
		fail otlp_collector_agent "agent exit $rc: $(tr '\n' ' ' <$d.err | cut -c1-300)"
	elif [ ! -s $OT_OUT ]; then
		fail otlp_collector_agent "the Collector received nothing: $(tr '\n' ' ' <$d.err | cut -c1-300)"
	elif ! gt $want 20; then
		fail otlp_collector_agent "only $want samples of pid $wpid in the store"
	elif [ -n "$why" ]; then
		fail otlp_collector_agent "$why"
	else
		got=$(jq -r .batches $d.summary)
		pass otlp_collector_agent
		echo "     $want samples of pid $wpid in $(find $d -mindepth 1 -maxdepth 1 -type d ! -name '.*' | wc -l) windows, $got requests decoded"
	fi
	rm -f $OT_O/$s
}

t_otlp_collector_encoder() {
	local d=$OT_O/otlp-enc s=otlp_enc_probe_$$.py svc=otlp-enc-$$ wpid rc w code want why sizes
	if ! ot_collector; then
		fail otlp_collector_encoder "$OT_WHY"
		return
	fi
	cp tests/workloads/py/split.py $OT_O/$s
	OTEL_SERVICE_NAME=$svc setsid /usr/bin/python3.11 $OT_O/$s 30 >/dev/null 2>&1 &
	wpid=$!
	rm -rf $d
	setsid "$OT_AP" agent -q -o $d --interval 60 -F 97 2>$d.err &
	wait_cpu $wpid 2 30
	kill -TERM $! 2>/dev/null
	wait $!
	rc=$?
	kill $wpid 2>/dev/null
	wait $wpid 2>/dev/null
	w=$(find $d -mindepth 1 -maxdepth 1 -type d ! -name '.*' | head -1)
	if [ $rc != 0 ] || [ -z "$w" ]; then
		ot_collector_stop
		fail otlp_collector_encoder "agent exit $rc, window '$w': $(tr '\n' ' ' <$d.err | cut -c1-300)"
		return
	fi
	sizes=$($W/otlptool $w otlp-enc-host $d.pb 2>&1)
	gzip -c $d.pb >$d.pb.gz
	code=$(curl -s -o $d.resp -w '%{http_code}' -X POST -H 'Content-Type: application/x-protobuf' \
		-H 'Content-Encoding: gzip' --data-binary @$d.pb.gz http://127.0.0.1:$OT_PORT/v1development/profiles)
	sleep 0.5
	ot_collector_stop
	want=$(ot_store_samples $d $wpid)
	python3 tests/integration/otlp_check.py $OT_OUT 'hot_[ab]' >$d.summary 2>$d.check-err
	why=$(ot_check_proc $d.summary $wpid $svc otlp-enc-host $want $s 2>&1)
	if [ "$code" != 200 ]; then
		fail otlp_collector_encoder "the Collector answered $code: $(head -c 300 $d.resp) $(tail -2 $OT_O/otelcol.log)"
	elif ! gt $want 20; then
		fail otlp_collector_encoder "only $want samples of pid $wpid in the window"
	elif [ -n "$why" ]; then
		fail otlp_collector_encoder "$why"
	else
		pass otlp_collector_encoder
		echo "     $want samples of pid $wpid; request $sizes; profile.pb.gz $(stat -c %s $w/profile.pb.gz) bytes"
	fi
	rm -f $OT_O/$s
}
