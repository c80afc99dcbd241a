# SPDX-License-Identifier: MIT
# The output tree (issue 12): who owns it, symlinks another user planted,
# reuse of a directory, a full disk, files that are traps for analyze, report
# and --patterns, and runs that fail leave nothing behind. Sourced by run.sh.
# Another user is `nobody`; sudo is simulated with SUDO_UID/SUDO_GID.

SUITE_TESTS=(outdir_owner outdir_symlinks outdir_reuse outdir_enospc outdir_read_traps
	outdir_nothing_left outdir_swapped_by_target target_signals_caps patterns_links
	outdir_force_enospc)

OD_AP=$(readlink -f "$AP")
OD_O=$(readlink -f "$O")
OD_W=$(readlink -f "$W")
OD_NOBODY=$(id -u nobody 2>/dev/null)
OD_NOGROUP=$(id -g nobody 2>/dev/null)

# a fresh sticky, world-writable directory like /tmp (echoed)
od_tmp() {
	local t
	t=$(mktemp -d /tmp/ap-outdir.XXXXXX) && chmod 1777 "$t" && echo "$t"
}
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
# every line of stderr file $1 on one line, for a failure message
od_err() { tr '\n' ' ' <"$1" | cut -c1-300; }

od_need_nobody() { # TEST
	if [ -z "$OD_NOBODY" ] || ! command -v setpriv >/dev/null; then
		fail $1 "needs the user nobody and setpriv (util-linux) to act as another user"
		return 1
	fi
}

t_outdir_owner() {
	local t e bad
	od_need_nobody outdir_owner || return
	t=$(od_tmp) e=$OD_O/owner.err
	# sudo by nobody, umask 027: everything made is nobody's, nothing world-readable
	if ! (umask 027; SUDO_UID=$OD_NOBODY SUDO_GID=$OD_NOGROUP $OD_AP -q -o $t/a/b/run -- true) 2>$e; then
		fail outdir_owner "run as if by sudo failed: $(od_err $e)"
	elif bad=$(find $t/a \( ! -user nobody -o ! -group $OD_NOGROUP \) -printf '%p ') && [ -n "$bad" ]; then
		fail outdir_owner "not owned by the invoking user: $bad"
	elif bad=$(find $t/a -perm /007 -printf '%p ') && [ -n "$bad" ]; then
		fail outdir_owner "more readable than umask 027 allows: $bad"
	elif ! artifacts_ok $t/a/b/run; then
		fail outdir_owner "incomplete run"
	elif ! as_nobody rm -rf $t/a 2>$e || [ -e $t/a ]; then
		fail outdir_owner "the user cannot delete their own run: $(od_err $e)"
	# no sudo: our own umask decides (run.json may hold secrets)
	elif ! (umask 077; $OD_AP -q -o $t/own -- true) 2>$e; then
		fail outdir_owner "run with umask 077 failed: $(od_err $e)"
	elif [ "$(stat -c %a $t/own/run.json)" != 600 ] || [ "$(stat -c %a $t/own)" != 700 ]; then
		fail outdir_owner "umask 077 gave run.json $(stat -c %a $t/own/run.json), dir $(stat -c %a $t/own)"
	else
		pass outdir_owner
	fi
	rm -rf $t
}

t_outdir_symlinks() {
	local t v e rc
	od_need_nobody outdir_symlinks || return
	t=$(od_tmp) v=$(mktemp -d /tmp/ap-victim.XXXXXX) e=$OD_O/symlinks.err
	echo victim >$v/run.json
	as_nobody ln -s $v $t/x
	as_nobody mkdir $t/evil
	as_nobody ln -s $v $t/evil/artifacts
	as_nobody ln -s $v $t/autoprof-out
	as_nobody mkdir $t/mine
	as_nobody ln -s $t/mine $t/ok
	# -o through another user's link
	$OD_AP -q -o $t/x -- true 2>$e; rc=$?
	if [ $rc != 125 ] || ! grep -q "symbolic link owned by uid $OD_NOBODY" $e || [ "$(wc -l <$e)" != 1 ]; then
		fail outdir_symlinks "-o via a planted link: exit $rc, want 125 and one line: $(od_err $e)"
	elif [ "$(cat $v/run.json)" != victim ] || [ "$(ls -A $v | wc -l)" != 1 ]; then
		fail outdir_symlinks "files written through the planted link"
	# the default ./autoprof-out in a world-writable directory
	elif (cd $t && $OD_AP -q -- true) 2>$e; rc=$?; [ $rc != 125 ] || [ "$(ls -A $v | wc -l)" != 1 ]; then
		fail outdir_symlinks "default ./autoprof-out via a planted link: exit $rc: $(od_err $e)"
	# an artifacts link inside another user's directory
	elif $OD_AP -q -o $t/evil -- true 2>$e; rc=$?; [ $rc = 0 ] || [ "$(ls -A $v | wc -l)" != 1 ]; then
		fail outdir_symlinks "-o DIR with a planted artifacts link: exit $rc: $(od_err $e)"
	# analyze and report refuse it too, and write nothing there
	elif $OD_AP analyze -q $t/evil 2>$e; rc=$?; [ $rc != 125 ] || [ -e $t/evil/findings.json ] ||
		! grep -q "artifacts is a symbolic link" $e; then
		fail outdir_symlinks "analyze via a planted artifacts link: exit $rc: $(od_err $e)"
	elif $OD_AP report -q $t/evil 2>$e; rc=$?; [ $rc != 125 ] || [ -e $t/evil/report.html ]; then
		fail outdir_symlinks "report via a planted artifacts link: exit $rc: $(od_err $e)"
	# the invoking user's own link is followed
	elif ! SUDO_UID=$OD_NOBODY SUDO_GID=$OD_NOGROUP $OD_AP -q -o $t/ok/run -- true 2>$e ||
		! artifacts_ok $t/mine/run; then
		fail outdir_symlinks "the invoking user's own link was not followed: $(od_err $e)"
	else
		pass outdir_symlinks
	fi
	rm -rf $t $v
}

t_outdir_reuse() {
	local t e rc sum
	t=$(od_tmp) e=$OD_O/reuse.err
	# a run with off-CPU data (sleeps), then one without: nothing of the first may remain
	if ! $OD_AP -q -o $t/run -- sh -c 'sleep 0.2; sleep 0.2' 2>$e || [ ! -f $t/run/artifacts/offcpu.json ]; then
		fail outdir_reuse "first run failed or wrote no offcpu.json: $(od_err $e)"
		rm -rf $t
		return
	fi
	sum=$(md5sum <$t/run/run.json)
	$OD_AP -q --no-offcpu -o $t/run -- true 2>$e; rc=$?
	if [ $rc != 2 ] || ! grep -q "already holds a run: add --force" $e || [ "$(md5sum <$t/run/run.json)" != "$sum" ]; then
		fail outdir_reuse "reuse without --force: exit $rc, want 2 and the old run kept: $(od_err $e)"
	elif ! $OD_AP -q --force --no-offcpu -o $t/run -- true 2>$e; then
		fail outdir_reuse "--force failed: $(od_err $e)"
	elif [ -e $t/run/artifacts/offcpu.json ] || [ -e $t/run/offcpu.folded ] || ! artifacts_ok $t/run ||
		jq -e '.findings[]? | select(.location // "" | test("sleep"))' $t/run/findings.json >/dev/null 2>&1; then
		fail outdir_reuse "--force kept files of the old run: $(ls $t/run $t/run/artifacts | tr '\n' ' ')"
	elif mkdir $t/foreign && echo keep >$t/foreign/notes.txt &&
		$OD_AP -q --force -o $t/foreign -- true 2>$e; rc=$?; [ $rc != 2 ] || [ "$(ls -A $t/foreign)" != notes.txt ]; then
		fail outdir_reuse "a directory of other files: exit $rc, want 2 and untouched: $(od_err $e)"
	elif mkdir $t/empty && ! $OD_AP -q -o $t/empty -- true 2>$e || ! artifacts_ok $t/empty; then
		fail outdir_reuse "an empty directory was not used: $(od_err $e)"
	# default names: two runs in one second get two directories
	elif ! (cd $t && $OD_AP -q -- true && $OD_AP -q -- true) 2>$e || [ "$(ls $t/autoprof-out | wc -l)" != 2 ]; then
		fail outdir_reuse "two default runs: $(ls $t/autoprof-out | tr '\n' ' ') $(od_err $e)"
	else
		pass outdir_reuse
	fi
	rm -rf $t
}

t_outdir_enospc() {
	local m e rc
	m=$(mktemp -d /tmp/ap-full.XXXXXX) e=$OD_O/enospc.err
	if ! mount -t tmpfs -o size=16k tmpfs $m 2>$e; then
		fail outdir_enospc "cannot mount a 16k tmpfs to fill: $(od_err $e)"
		rmdir $m
		return
	fi
	# its artifacts (~50 KiB) cannot fit in 16 KiB; the target's status is 3
	$OD_AP -F 999 -o $m/a/b/run -- sh -c "$OD_W/cwork 1 >/dev/null; exit 3" 2>$e; rc=$?
	if [ $rc != 3 ]; then
		fail outdir_enospc "exit $rc, want the target's 3: $(od_err $e)"
	elif ! grep -q "could not write .*the run needs at least .*No space left on device" $e; then
		fail outdir_enospc "no line naming the file and the space needed: $(od_err $e)"
	elif ! grep -q "Top functions by self time" $e || ! grep -q "leaf_a (cwork)" $e; then
		fail outdir_enospc "no summary from memory: $(od_err $e)"
	elif [ -n "$(ls -A $m)" ]; then
		fail outdir_enospc "left behind: $(find $m | tr '\n' ' ')"
	else
		pass outdir_enospc
		echo "     $(grep 'could not write' $e | cut -c1-200)"
	fi
	umount $m && rmdir $m
}

t_outdir_read_traps() {
	local t r e rc
	t=$(od_tmp) e=$OD_O/traps.err
	r=$t/run
	if ! $OD_AP -q -o $r -- true 2>$e; then
		fail outdir_read_traps "a run to play with failed: $(od_err $e)"
		rm -rf $t
		return
	fi
	mkdir $t/p
	cp -a $r $t/zero && rm $t/zero/artifacts/cpu.json && ln -s /dev/zero $t/zero/artifacts/cpu.json
	cp -a $r $t/fifo && rm $t/fifo/run.json && mkfifo $t/fifo/run.json
	ln -s /dev/zero $t/p/zero.json
	mkfifo $t/p/fifo.json
	head -c 2M /dev/zero | tr '\0' ' ' >$t/p/big.json
	timeout 20 $OD_AP analyze -q $t/zero 2>$e; rc=$?
	if [ $rc != 125 ] || ! grep -q "cpu.json: cannot read: a symbolic link" $e; then
		fail outdir_read_traps "artifacts/cpu.json -> /dev/zero: exit $rc, want 125: $(od_err $e)"
	elif timeout 20 $OD_AP analyze -q $t/fifo 2>$e; rc=$?; [ $rc != 125 ] || ! grep -q "run.json: cannot read: not a regular file" $e; then
		fail outdir_read_traps "run.json a FIFO: exit $rc, want 125: $(od_err $e)"
	elif timeout 20 $OD_AP report -q $t/fifo 2>$e; rc=$?; [ $rc != 125 ]; then
		fail outdir_read_traps "report with run.json a FIFO: exit $rc, want 125: $(od_err $e)"
	elif timeout 20 $OD_AP analyze -q --patterns $t/p $r 2>$e; rc=$?; [ $rc != 1 ] ||
		! grep -q "zero.json: cannot read: not a regular file" $e ||
		! grep -q "fifo.json: cannot read: not a regular file" $e ||
		! grep -q "big.json: cannot read: larger than the limit of 1 MiB" $e; then
		fail outdir_read_traps "--patterns with traps: exit $rc, want 1 and a line each: $(od_err $e)"
	else
		pass outdir_read_traps
	fi
	rm -rf $t
}

t_outdir_nothing_left() {
	local t e rc d n=0 m=0 bad=""
	t=$(od_tmp) e=$OD_O/nothing.err
	# failures before collection: no directory at all
	(cd $t && $OD_AP -q -p 2147483646 2>$e); rc=$?
	[ $rc = 2 ] && [ -z "$(ls -A $t)" ] || bad="$bad -p of no process: exit $rc, left $(ls -A $t);"
	(cd $t && $OD_AP -q -- /nonexistent/cmd 2>$e); rc=$?
	[ $rc = 127 ] && [ -z "$(ls -A $t)" ] || bad="$bad command not found: exit $rc, left $(ls -A $t);"
	$OD_AP -q -o /proc/self/x -- true 2>$e; rc=$?
	[ $rc = 125 ] || bad="$bad -o under /proc: exit $rc;"
	# Ctrl-C at any moment of start-up: nothing, or a complete run
	for delay in 0.01 0.05 0.1 0.2 0.4 0.8; do
		d=$t/int$delay
		# a background job of a script ignores SIGINT: restore it, as a terminal has it
		env --default-signal=INT $OD_AP -q -o $d -- sleep 3 2>$e &
		sleep $delay
		kill -INT $! 2>/dev/null
		wait $!
		if [ -e $d ]; then
			n=$((n + 1))
			artifacts_ok $d || bad="$bad Ctrl-C after ${delay}s left an incomplete $(ls -A $d | tr '\n' ' ');"
		fi
	done
	# a PID that exits during start-up: nothing, or a complete run
	for delay in 0.05 0.2 0.5; do
		d=$t/pid$delay
		sleep $delay &
		$OD_AP -q -o $d -p $! 2>$e; rc=$?
		wait
		if [ -e $d ]; then
			m=$((m + 1))
			artifacts_ok $d || bad="$bad pid gone after ${delay}s: exit $rc, left an incomplete $(ls -A $d | tr '\n' ' ');"
		fi
	done
	if [ -n "$bad" ]; then
		fail outdir_nothing_left "$bad"
	else
		pass outdir_nothing_left
		echo "     Ctrl-C at 6 moments of start-up: $n complete runs, $((6 - n)) left nothing;" \
			"a pid exiting at 3: $m complete, $((3 - m)) nothing"
	fi
	rm -rf $t
}

# the target runs as the invoking user for the whole run: a link it plants on
# the not-yet-created output path is "owned by the user", yet must not be
# followed; the run goes below the directory checked at the start, or nowhere
t_outdir_swapped_by_target() {
	local t v e rc msg bad=""
	od_need_nobody outdir_swapped_by_target || return
	t=$(mktemp -d /tmp/ap-swap.XXXXXX) v=$(mktemp -d /tmp/ap-victim.XXXXXX) e=$OD_O/swapped.err
	chmod 755 $t && mkdir $t/home && chown $OD_NOBODY:$OD_NOGROUP $t/home
	chmod 700 $v # root's only
	# -o home/out/run, home/out missing at the start: the target makes it a link to root's directory
	SUDO_UID=$OD_NOBODY SUDO_GID=$OD_NOGROUP $OD_AP -q -o $t/home/out/run -- \
		sh -c "ln -s $v $t/home/out" 2>$e; rc=$?
	if [ -n "$(ls -A $v)" ]; then
		bad="$bad -o: written through the target's link into root's directory: $(ls -A $v | tr '\n' ' ');"
	elif [ ! -L $t/home/out ]; then
		bad="$bad -o: the target could not plant its link (exit $rc): $(od_err $e);"
	elif [ "$(wc -l <$e)" != 1 ] || ! grep -q "changed during the run.*symbolic link" $e; then
		bad="$bad -o: exit $rc, want one line naming the link: $(od_err $e);"
	fi
	msg=$(cut -c1-200 $e | head -1)
	rm -rf $v/* $t/home/*
	# the default ./autoprof-out, as in `cd ~/proj && sudo autoprof-bpf -- ./untrusted`
	(cd $t/home && SUDO_UID=$OD_NOBODY SUDO_GID=$OD_NOGROUP $OD_AP -q -- \
		sh -c "ln -sfn $v autoprof-out") 2>$e; rc=$?
	if [ -n "$(ls -A $v)" ]; then
		bad="$bad default: written through the target's link into root's directory: $(ls -A $v | tr '\n' ' ');"
	elif [ "$(wc -l <$e)" != 1 ] || ! grep -q "changed during the run" $e; then
		bad="$bad default: exit $rc, want one line naming the link: $(od_err $e);"
	fi
	rm -rf $v/* $t/home/*
	# the existing directory renamed away and replaced by a link: the run
	# lands in the directory checked (now moved), never in root's
	mkdir $t/home/out && chown $OD_NOBODY:$OD_NOGROUP $t/home/out
	SUDO_UID=$OD_NOBODY SUDO_GID=$OD_NOGROUP $OD_AP -q -o $t/home/out/run -- \
		sh -c "mv $t/home/out $t/home/moved && ln -s $v $t/home/out" 2>$e; rc=$?
	if [ -n "$(ls -A $v)" ]; then
		bad="$bad renamed: written into root's directory: $(ls -A $v | tr '\n' ' ');"
	elif [ $rc != 0 ] || ! artifacts_ok $t/home/moved/run; then
		bad="$bad renamed: exit $rc, want the run in the directory checked: $(od_err $e);"
	fi
	if [ -n "$bad" ]; then
		fail outdir_swapped_by_target "$bad"
	else
		pass outdir_swapped_by_target
		echo "     $msg"
	fi
	rm -rf $t $v
}

# the profiler ignores SIGPIPE (a gate or a stderr whose reader is gone must
# not kill it silently), the target gets the default back; the target as a
# user has no inheritable capabilities left, even when we had some
t_target_signals_caps() {
	local t e rc out bad=""
	od_need_nobody target_signals_caps || return
	t=$(od_tmp) e=$OD_O/sigcaps.err
	# started with SIGPIPE ignored: the target still has the default (bit 13 of SigIgn)
	out=$(env --ignore-signal=PIPE $OD_AP -q -o $t/a -- sh -c 'grep SigIgn /proc/self/status' 2>$e)
	if [ -z "$out" ]; then
		bad="$bad no SigIgn line from the target: $(od_err $e);"
	elif (( 0x${out##*[[:space:]]} & 0x1000 )); then
		bad="$bad the target inherited SIGPIPE ignored ($out);"
	fi
	# the summary to a stderr nobody reads any more: the target's status, not 141
	rc=$( { $OD_AP -o $t/b -- sh -c 'sleep 0.5; exit 3' 2>&1 >/dev/null; echo $? >$t/rc; } | true; cat $t/rc)
	[ "$rc" = 3 ] || bad="$bad summary to a closed pipe: exit $rc, want the target's 3;"
	# inheritable capabilities of ours do not reach the target run as nobody
	out=$(setpriv --inh-caps=+sys_admin env SUDO_UID=$OD_NOBODY SUDO_GID=$OD_NOGROUP \
		$OD_AP -q -o $t/c -- sh -c 'grep CapInh /proc/self/status' 2>$e)
	if [ -z "$out" ]; then
		bad="$bad no CapInh line from the target: $(od_err $e);"
	elif [ "$(( 0x${out##*[[:space:]]} ))" != 0 ]; then
		bad="$bad the target kept inheritable capabilities ($out);"
	fi
	if [ -n "$bad" ]; then
		fail target_signals_caps "$bad"
	else
		pass target_signals_caps
	fi
	rm -rf $t
}

# --patterns, read as root: another user's link (to the directory, to a file)
# is refused with a line; root's own link is followed as before
t_patterns_links() {
	local t e rc v bad=""
	od_need_nobody patterns_links || return
	t=$(od_tmp) v=$(mktemp -d /tmp/ap-victim.XXXXXX) e=$OD_O/patlinks.err
	if ! $OD_AP -q -o $t/run -- true 2>$e; then
		fail patterns_links "a run to analyze failed: $(od_err $e)"
		rm -rf $t $v
		return
	fi
	printf '{"id": "secret"\n' >$v/secret.json # root's, unreadable by nobody
	as_nobody ln -s $v $t/pdir
	mkdir $t/p && chmod 1777 $t/p && as_nobody ln -s $v/secret.json $t/p/x.json
	ln -s /dev/null $t/p/rootlink.json
	$OD_AP analyze -q --patterns $t/pdir $t/run 2>$e; rc=$?
	if [ $rc != 1 ] || ! grep -q "pdir is a symbolic link owned by uid $OD_NOBODY" $e || grep -q secret $e; then
		bad="$bad a directory link of nobody's: exit $rc: $(od_err $e);"
	fi
	$OD_AP analyze -q --patterns $t/p $t/run 2>$e; rc=$?
	if [ $rc != 1 ] || ! grep -q "x.json: cannot read: a symbolic link owned by uid $OD_NOBODY" $e ||
		grep -q "secret" $e; then
		bad="$bad a file link of nobody's: exit $rc: $(od_err $e);"
	elif ! grep -q "rootlink.json: cannot read: not a regular file" $e; then
		bad="$bad root's own link was not followed: $(od_err $e);"
	fi
	# run --patterns, read at the start: the target (as nobody) swapping the
	# directory for a link to root's by the end changes nothing
	mkdir $t/home && chown $OD_NOBODY:$OD_NOGROUP $t/home
	as_nobody mkdir $t/home/pats && as_nobody sh -c "printf '[' >$t/home/pats/a.json"
	SUDO_UID=$OD_NOBODY SUDO_GID=$OD_NOGROUP $OD_AP -q --patterns $t/home/pats -o $t/home/run -- \
		sh -c "mv $t/home/pats $t/home/old && ln -s $v $t/home/pats" 2>$e; rc=$?
	if [ ! -L $t/home/pats ]; then
		bad="$bad run: the target could not swap the directory: $(od_err $e);"
	elif grep -q secret $e || ! grep -q "pats/a.json:1:[0-9]*: invalid JSON" $e || ! artifacts_ok $t/home/run; then
		bad="$bad run: exit $rc, want a.json (read at the start) reported, not root's file: $(od_err $e);"
	fi
	if [ -n "$bad" ]; then
		fail patterns_links "$bad"
	else
		pass patterns_links
	fi
	rm -rf $t $v
}

# --force over a run on a full disk: the new run cannot be written, the old
# one is still there, whole (it is replaced only once the new one is complete)
t_outdir_force_enospc() {
	local m e rc sum src=$OD_O/force-src
	m=$(mktemp -d /tmp/ap-full.XXXXXX) e=$OD_O/force-enospc.err
	if ! $OD_AP -q --no-offcpu -o $src -- true 2>$e; then
		fail outdir_force_enospc "a run to copy failed: $(od_err $e)"
		rmdir $m
		return
	elif ! mount -t tmpfs -o size=32k tmpfs $m 2>$e; then
		fail outdir_force_enospc "cannot mount a 32k tmpfs to fill: $(od_err $e)"
		rmdir $m
		return
	fi
	# the old run, its essential files (4 pages): the new one needs ~50 KiB
	mkdir -p $m/run/artifacts && cp $src/run.json $src/stacks.folded $m/run/ &&
		cp $src/artifacts/cpu.json $m/run/artifacts/
	sum=$(md5sum <$m/run/run.json)
	$OD_AP -q --force -F 999 -o $m/run -- sh -c "$OD_W/cwork 1 >/dev/null; exit 3" 2>$e; rc=$?
	if [ $rc != 3 ] || ! grep -q "could not write .*No space left on device" $e; then
		fail outdir_force_enospc "exit $rc, want the target's 3 and a line: $(od_err $e)"
	elif [ "$(md5sum <$m/run/run.json 2>/dev/null)" != "$sum" ] || ! artifacts_ok $m/run; then
		fail outdir_force_enospc "the old run was lost: $(find $m | tr '\n' ' ')"
	elif [ "$(ls -A $m)" != run ]; then
		fail outdir_force_enospc "left behind: $(ls -A $m | tr '\n' ' ')"
	else
		pass outdir_force_enospc
	fi
	umount $m && rmdir $m
}
