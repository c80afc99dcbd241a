# SPDX-License-Identifier: MIT
# The engine (src/engine.c, src/loop.c): the purge tick of the long-lived
# tables. Sourced by tests/integration/run.sh (helpers and variables come
# from there).

# A run whose purge tick fires every 200 ms with caps far below what it
# interns (so every tick compacts and renumbers the profile and the
# collectors' caches) still gives the native chain and split of cwork and
# the Python names of a script running beside it.
t_engine_purge_run() {
	local t=engine_purge_run d=$O/engine-purge n a b chain py purges
	AP_TEST_PURGE_MS=200 AP_TEST_PROFILE_CAPS=4,4,64 $AP -q -F 499 -o $d -- sh -c \
		"$W/cwork 3 & python3 -c '
def engine_hot(n):
    s = 0
    for i in range(n):
        s += i * i
    return s
for _ in range(40):
    engine_hot(200000)
'; wait" 2>$d.err || { fail $t "exit $?: $(tail -1 $d.err)"; return 1; }
	n=$(samples $d/stacks.folded '^cwork;')
	a=$(samples $d/stacks.folded '^cwork;.*;leaf_a$')
	b=$(samples $d/stacks.folded '^cwork;.*;leaf_b$')
	chain=$(samples $d/stacks.folded '^cwork;_start;__libc_start_main;__libc_start_call_main;main;run_workload;compute;leaf_[ab]$')
	py=$(samples $d/stacks.folded '^python3;.*engine_hot \(<string>:[0-9]+\)')
	purges=$(jq '.collectors.cpu.counters.profile_purges // 0' $d/run.json)
	if ! gt "$purges" 3; then
		fail $t "profile_purges is $purges in run.json: the purge tick did not compact"
	elif ! gt $n 500; then
		fail $t "only $n cwork samples at 499 Hz over 3 s"
	elif ! ge $(ratio $chain $n) 0.90; then
		fail $t "full main->leaf chain in $chain of $n cwork samples (< 90%)"
	elif ! awk -v a=$a -v b=$b 'BEGIN { p = 100 * a / (a + b); exit !(p >= 68 && p <= 82) }'; then
		fail $t "leaf_a/leaf_b split $a/$b, want 75/25"
	elif ! gt "$py" 50; then
		fail $t "only $py samples name engine_hot (<string>:N)"
	elif ! artifacts_ok $d; then
		fail $t "artifacts incomplete"
	else
		pass $t
		echo "     $purges purges; cwork $n samples, chain $(ratio $chain $n); engine_hot $py"
	fi
}

SUITE_TESTS=(engine_purge_run)
