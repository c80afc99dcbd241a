# SPDX-License-Identifier: MIT
# Process labels, the agent's store, and `analyze` on a range of a store.
# Sourced by run.sh (pass, fail, want, AP, W, O). The workloads are started
# on their own (setsid, not children of the profiler) and the assertions
# are about them only, by pid.
SUITE_TESTS=(labels_cgroup_service labels_store_full_disk labels_store_sigkill
	labels_store_not_writable labels_analyze_store_range)

LB_AP=$(readlink -f "$AP")
LB_O=$(readlink -f "$O")
LB_W=$(readlink -f "$W")
LB_PY=/usr/bin/python3.11
LB_ID=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef

lb_err() { tr '\n' ' ' <"$1" | cut -c1-300; }
# the cgroup v2 mount (/sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid host)
lb_cg2() { awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts; }

# a Python script with a unique name spinning in label_spin() for SEC CPU-seconds
lb_script() { # PATH
	cat >"$1" <<'PY'
import sys, time
def label_spin(until):
    n = 0
    while time.process_time() < until:
        n += 1
    return n
label_spin(float(sys.argv[1]))
PY
}

# start CMD... in cgroup CG (a directory of the v2 tree) on its own; echo its pid
lb_start_in() { # CG ENV CMD...
	local cg=$1 env=$2
	shift 2
	setsid sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec env $0 "$@"' \
		"$env" "$cg" "$@" >/dev/null 2>&1 &
	echo $!
}

# the labels of pid in a cpu.json, as "cgroup|service|container_id|runtime|build_id"
lb_labels() { # CPU_JSON PID
	jq -r --argjson p "$2" '.processes[] | select(.pid == $p) |
		"\(.cgroup // "")|\(.service // "")|\(.container_id // "")|\(.runtime // "")|\(.build_id // "")"' "$1"
}

# the pprof labels of pid's samples: "key=value" lines, unique
lb_pprof_labels() { # PROFILE_PB_GZ PID
	python3 - "$1" "$2" <<'PY'
import sys
sys.path.insert(0, "tests/unit")
from test_formats import protoc_decode
p = protoc_decode(sys.argv[1])
st = p["string_table"]
out = set()
for x in p["sample"]:
    lab = {st[l["key"][0]]: (st[l["str"][0]] if l["str"] else l["num"][0]) for l in x["label"]}
    if lab.get("pid") == int(sys.argv[2]):
        out.update(f"{k}={v}" for k, v in lab.items() if k not in ("tid",))
print("\n".join(sorted(out)))
PY
}

t_labels_cgroup_service() {
	local d=$LB_O/labels cg root a b c la lb lc pl e=$LB_O/labels.err why=""
	root=$(lb_cg2)
	if [ -z "$root" ] || ! mkdir -p "$root/autoprof-test.slice/x.service" \
		"$root/autoprof-test.slice/docker-$LB_ID.scope" 2>$e; then
		fail labels_cgroup_service "needs a writable cgroup v2 tree: ${root:-no cgroup2 mount} $(lb_err $e)"
		return
	fi
	cg=$root/autoprof-test.slice
	lb_script $LB_O/lbl_svc.py
	# one with OTEL_SERVICE_NAME, one named by its unit, one in a "container"
	a=$(lb_start_in $cg/x.service OTEL_SERVICE_NAME=ap-otel-checkout $LB_PY $LB_O/lbl_svc.py 4)
	b=$(lb_start_in $cg/x.service AP_LABEL_TEST=1 $LB_PY $LB_O/lbl_svc.py 4)
	c=$(lb_start_in $cg/docker-$LB_ID.scope AP_LABEL_TEST=1 $LB_W/cwork 3)
	sleep 0.3
	$LB_AP -q -F 199 -d 2 -p $a,$b,$c -o $d 2>$e || why="profiler exit $?: $(lb_err $e)"
	kill $a $b $c 2>/dev/null
	wait $a $b $c 2>/dev/null
	la=$(lb_labels $d/artifacts/cpu.json $a)
	lb=$(lb_labels $d/artifacts/cpu.json $b)
	lc=$(lb_labels $d/artifacts/cpu.json $c)
	[ -n "$why" ] || pl=$(lb_pprof_labels $d/profile.pb.gz $a 2>$e) || why="protoc: $(lb_err $e)"
	rmdir $cg/x.service $cg/docker-$LB_ID.scope $cg 2>/dev/null
	if [ -n "$why" ]; then
		fail labels_cgroup_service "$why"
	elif [[ "$la" != "/autoprof-test.slice/x.service|ap-otel-checkout||CPython 3.11|"?* ]]; then
		fail labels_cgroup_service "OTEL_SERVICE_NAME process: labels '$la'"
	elif [[ "$lb" != "/autoprof-test.slice/x.service|x.service||CPython 3.11|"?* ]]; then
		fail labels_cgroup_service "unit-named process: labels '$lb'"
	elif [[ "$lc" != "/autoprof-test.slice/docker-$LB_ID.scope||$LB_ID||"?* ]]; then
		fail labels_cgroup_service "container process: labels '$lc'"
	elif ! grep -qx "service.name=ap-otel-checkout" <<<"$pl" ||
		! grep -qx "process.linux.cgroup=/autoprof-test.slice/x.service" <<<"$pl" ||
		! grep -qx "process.runtime.name=CPython" <<<"$pl" ||
		! grep -qx "process.runtime.version=3.11" <<<"$pl" ||
		! grep -qx "process.executable.path=$(readlink -f $LB_PY)" <<<"$pl" ||
		! grep -q "^process.executable.build_id.gnu=[0-9a-f]\{16,\}$" <<<"$pl" ||
		! grep -qx "pid=$a" <<<"$pl" || ! grep -qx "process=python3.11" <<<"$pl"; then
		fail labels_cgroup_service "pprof labels of pid $a: $(tr '\n' ' ' <<<"$pl")"
	else
		pass labels_cgroup_service
	fi
}

# windows that do not fit a 64 KiB tmpfs: the oldest deleted, counted, the
# writer keeps going, and no temp directory is left
t_labels_store_full_disk() {
	local m e=$LB_O/store-full.err out
	m=$(mktemp -d /tmp/ap-store-full.XXXXXX)
	if ! mount -t tmpfs -o size=64k tmpfs $m 2>$e; then
		fail labels_store_full_disk "cannot mount a 64k tmpfs to fill: $(lb_err $e)"
		rmdir $m
		return
	fi
	# no cap: only the full disk limits it; 12 windows of 20 KB
	out=$($LB_W/storetool $m/store 0 12 20000 2>$e)
	if [ $? != 0 ]; then
		fail labels_store_full_disk "storetool: $(lb_err $e)"
	elif ! jq -e '.committed == 12 and .evicted >= 8 and .enospc >= 8 and .dropped == 0 and
		.windows >= 1 and .windows + .evicted == 12' <<<"$out" >/dev/null; then
		fail labels_store_full_disk "counters $out"
	elif [ -n "$(find $m/store -name '.tmp-*')" ]; then
		fail labels_store_full_disk "temp dirs left: $(ls -A $m/store)"
	elif [ "$(ls $m/store | wc -l)" != "$(jq .windows <<<"$out")" ]; then
		fail labels_store_full_disk "$(ls $m/store | wc -l) windows on disk, counters say $out"
	else
		pass labels_store_full_disk
		echo "     $out"
	fi
	umount $m && rmdir $m
}

# SIGKILL while a window is being written: no partial window, and the next
# open removes the temp directory and counts it
t_labels_store_sigkill() {
	local s=$LB_O/store-kill e=$LB_O/store-kill.err pid out i
	rm -rf $s
	$LB_W/storetool $s 0 hold >$s.out 2>$e &
	pid=$!
	for ((i = 0; i < 50; i++)); do grep -q held $s.out 2>/dev/null && break; sleep 0.1; done
	kill -KILL $pid
	wait $pid 2>/dev/null
	if [ "$(ls -A $s | grep -c '^\.tmp-')" != 1 ] || [ -n "$(ls $s)" ]; then
		fail labels_store_sigkill "after the kill, want one hidden temp dir only: $(ls -A $s)"
		return
	fi
	out=$($LB_W/storetool $s 0 1 100 2>$e)
	if ! jq -e '.temp_removed == 1 and .windows == 1' <<<"$out" >/dev/null; then
		fail labels_store_sigkill "reopened: $out $(lb_err $e)"
	elif [ -n "$(ls -A $s | grep '^\.')" ]; then
		fail labels_store_sigkill "left: $(ls -A $s)"
	else
		pass labels_store_sigkill
	fi
}

t_labels_store_not_writable() {
	local m e=$LB_O/store-ro.err rc
	m=$(mktemp -d /tmp/ap-store-ro.XXXXXX)
	if ! mount -t tmpfs -o size=64k,ro,mode=0755 tmpfs $m 2>$e; then
		fail labels_store_not_writable "cannot mount a read-only tmpfs: $(lb_err $e)"
		rmdir $m
		return
	fi
	$LB_W/storetool $m 0 1 100 >/dev/null 2>$e
	rc=$?
	if [ $rc != 125 ]; then
		fail labels_store_not_writable "exit $rc, want 125"
	elif [ "$(wc -l <$e)" != 1 ] || ! grep -q "store: $m: not writable: .*Read-only file system" $e; then
		fail labels_store_not_writable "want one line: $(lb_err $e)"
	else
		pass labels_store_not_writable
	fi
	umount $m && rmdir $m
}

# a store of three windows (two in the last minutes, one an hour ago), made
# from the analyzer's fixture run with a service label added (no BPF):
# --from -10m merges the two, names the service and writes a run with -o
t_labels_analyze_store_range() {
	local s=$LB_O/store-range d=tests/fixtures/analyze/run1 e=$LB_O/analyze-range.err out now w1 w2 w3 w rc
	rm -rf $s $s.out && mkdir -m 700 $s
	now=$(date -u +%s)
	w1=$(date -u -d @$((now - 120)) +%Y%m%dT%H%M%SZ-000000)
	w2=$(date -u -d @$((now - 60)) +%Y%m%dT%H%M%SZ-000000)
	w3=$(date -u -d @$((now - 3600)) +%Y%m%dT%H%M%SZ-000000)
	for w in $w1 $w2 $w3; do
		cp -r $d $s/$w &&
			jq '.processes[0].service = "ap-store-svc"' $d/artifacts/cpu.json >$s/$w/artifacts/cpu.json
	done
	out=$($LB_AP analyze $s --from -10m -o $s.out 2>$e)
	rc=$?
	if [ $rc != 0 ]; then
		fail labels_analyze_store_range "exit $rc: $(lb_err $e)"
	elif ! grep -q "^Merged 2 windows of $s ($w1 .. $w2)" <<<"$out"; then
		fail labels_analyze_store_range "no 'Merged 2 windows ($w1 .. $w2)' line: $(head -2 <<<"$out")"
	elif ! grep -A12 "^Services" <<<"$out" | grep -q "ap-store-svc .* 1 process"; then
		fail labels_analyze_store_range "the service is not in the services table: $(grep -A8 '^Services' <<<"$out")"
	elif [ "$(jq .totals.samples $s.out/artifacts/cpu.json)" != \
		"$(jq '.totals.samples * 2' $d/artifacts/cpu.json)" ]; then
		fail labels_analyze_store_range "merged samples $(jq .totals.samples $s.out/artifacts/cpu.json), want twice the window's"
	elif ! jq -e '.processes[0].service == "ap-store-svc"' $s.out/artifacts/cpu.json >/dev/null; then
		fail labels_analyze_store_range "the merged run lost the service label"
	elif ! jq -e '.findings | length > 0' $s.out/findings.json >/dev/null ||
		! $LB_AP analyze -q $s.out 2>$e; then
		fail labels_analyze_store_range "the merged run has no findings or does not analyze again: $(lb_err $e)"
	elif $LB_AP analyze -q $s -o $s.out 2>$e; [ $? != 2 ]; then
		fail labels_analyze_store_range "-o over an existing run: not a usage error: $(lb_err $e)"
	elif ! $LB_AP analyze -q $s/$w3 2>$e || [ ! -f $s/$w3/findings.json ]; then
		fail labels_analyze_store_range "analyze on one window: $(lb_err $e)"
	else
		pass labels_analyze_store_range
	fi
}
