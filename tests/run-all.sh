#!/bin/bash
# SPDX-License-Identifier: MIT
# Every test, cheapest first: unit tests (ASan/UBSan) then integration tests
# (real BPF, real processes). Ends with the combined "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
total_p=0
total_f=0
run() { # NAME COMMAND...
	local name=$1 log=build/tests/$1.log out p f t0=$SECONDS
	shift
	echo "== $name"
	"$@" 2>&1 | tee "$log"
	echo "== $name: $((SECONDS - t0)) s"
	out=$(tail -1 "$log")
	p=$(echo "$out" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
	f=$(echo "$out" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
	if [ -z "$p" ]; then # the runner itself crashed: count it as a failure
		echo "FAIL $name: runner ended without a result line"
		p=0 f=1
	fi
	total_p=$((total_p + p))
	total_f=$((total_f + f))
}
if [ "$(id -u)" != 0 ]; then
	echo "tests must run as root (they load BPF programs): run make test as root" >&2
fi
# the test Collector of suite-otlp.sh is built once per machine (minutes on
# a fresh one, mostly compiling): it builds niced beside the first stages,
# and the suite waits for it (flock) or, failing, says why
nice -n 19 tools/build-otelcol.sh -q >/dev/null 2>&1 &
# Debian unstable's python3.14 and python3.15, which every Python check also
# runs (tools/debian-python.sh: apt-get download, unpacked under
# build/debian-python once per machine): fetched beside the first stages;
# the integration stage waits for it (a lock) and, if the archive could not
# be reached, fails its Python checks with the reason
mkdir -p build/tests
(for v in 3.14 3.15; do nice -n 19 tools/debian-python.sh fetch-lib $v || break; done) \
	>build/tests/debian-python.log 2>&1 &
# the corpus' packages (tools/corpus.sh setup: pip from the package index,
# then compiled, ~8 s of the pattern table's time on a fresh machine), which
# the pattern table needs: fetched beside the first stages; the table's own
# setup waits for it (a lock) and, if it failed, tries again and says why
nice -n 19 tools/corpus.sh setup >build/tests/corpus-setup-early.log 2>&1 &
# the fuzzers (the library compiled once more by clang: ~75 CPU-s, ~40 s
# of make test's build on a fresh clone) build beside the first stages in
# the idle scheduling class, on a CPU no test wants (the integration stage
# leaves its second CPU half idle); the fuzz smoke round, last, waits for them
(nice -n 19 chrt --idle 0 make --no-print-directory -j"$(nproc)" fuzz-build ||
	{ echo "make fuzz-build: exit $?"; exit 1; }) >build/tests/fuzz-build.log 2>&1 &
fuzz_build=$!
run unit env AP_FIXTURES=build/tests build/tests/unit
run formats python3 tests/unit/test_formats.py
run bpf build/tests/test_pywalk
run integration tests/integration/run.sh
# the same profiler built with ASan/UBSan (leaks fail the run) on the paths
# that exercise unwinding, symbolization, forks, signals and short targets,
# the agent's sinks (sender threads, spool, metrics server, OTLP encoder;
# not push_hang: its flat-RSS check means nothing beside ASan's quarantine),
# and the safety paths (memory bounds are checked with the normal build:
# ASan holds freed memory in quarantine). Its Python checks run one
# interpreter of each layout and line-table family (the integration stage
# runs them all): 3.8 (PyFrameObject, lnotab, the frame as the eval loop's
# first argument), 3.10 (its line table), Debian's stripped static 3.11,
# and Debian unstable's 3.15 (debug offsets, PGO-split eval loop, thread
# state in TLS); 3.9, 3.11.7, 3.12, 3.13 and 3.14 repeat their neighbours'
# userspace code (saves ~5 s each). Its tests that mostly wait run in the
# second lane (T_LANE=2: LANE_LIST and LANE_MORE in tests/integration/run.sh)
# from agent_sigterm on, beside its suites' tests, not beside its first,
# CPU-bound ones (attach, threads, the Python checks)
asan_pythons="/root/.pyenv/versions/3.8.*/bin/python3.8 /root/.pyenv/versions/3.10.*/bin/python3.10
	/usr/bin/python3.11 build/debian-python/bin/python3.15-unstable"
run integration-asan env AP=build/tests/autoprof-bpf-asan ASAN_OPTIONS=detect_leaks=1 T_LANE=2 T_LANE_AT=agent_sigterm T_OUT=build/tests/out-asan \
	PYTHONS="$(echo $asan_pythons)" \
	tests/integration/run.sh bpf_loads c_split_and_chain threads attach sigint_launch \
	short_lived children python_native py_short py_calls py_threads syscall_writes \
	syscall_errors_slow process_tree proc_metrics_attach user_patterns analyze_reproduces formats \
	hostile_names maps_fifo_trap bpf_prog_names target_user pid_thread target_crash outdir_enospc \
	outdir_read_traps outbound_idle_pool outdir_swapped_by_target target_signals_caps \
	maps_truncated nofile_limit labels_cgroup_service labels_analyze_store_range agent_sigterm \
	push_outage push_spool_full_resume metrics_silent_clients otlp_collector_agent hung_py311
if wait $fuzz_build; then
	run fuzz-smoke tests/fuzz/run.sh 3
else
	run fuzz-smoke sh -c 'tail -15 build/tests/fuzz-build.log; echo "FAIL fuzz/build: the fuzzers did not build (build/tests/fuzz-build.log)"; echo "0 passed, 1 failed"'
fi
# the failures again, by stage, where a truncated log's tail shows them
if [ $total_f != 0 ]; then
	echo "== failed"
	for s in unit formats bpf integration integration-asan fuzz-smoke; do
		grep -h "^FAIL" build/tests/$s.log 2>/dev/null | cut -c1-300 | sed "s/^/$s: /"
	done
fi
echo "$total_p passed, $total_f failed"
[ $total_f = 0 ]
