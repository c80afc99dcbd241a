# SPDX-License-Identifier: MIT
# Installing (issue 14, item 5): `make install DESTDIR` installs the expected
# files and `make uninstall` removes them; the man page renders without
# warnings and, like the bash completion, covers every option of every
# command's --help; systemd-analyze verify passes on the installed unit; the
# agent runs in the unit's sandbox (its capability bounding set, no new
# privileges, the file system read-only but for the store) and still gets
# what each capability is there for. `make deb` + lintian (~90 s) is the
# named-only test install_deb (also `make deb-check`). Sourced by run.sh.

SUITE_TESTS=(install_files install_man install_completion install_unit_verify install_unit_sandbox)
NAMED_TESTS=(install_deb)

IN_D=$(readlink -f "$O")/install-root
IN_AP=$(readlink -f "$AP")
# the commands, as src/main.c's table has them
IN_CMDS=$(sed -n 's/^[[:space:]]*{ *"\([a-z]*\)", *cmd_[a-z_]*.*/\1/p' src/main.c)

# the options a command's --help lists on its option lines (indented 2-6
# columns, starting with -), one a line
in_help_opts() { # CMD
	"$IN_AP" "$1" --help | grep -E '^ {2,6}-' |
		grep -oE -- '(^|[ ,])--?[A-Za-z0-9][-A-Za-z0-9]*' | sed 's/^[ ,]*//' | sort -u
}
# make install into $IN_D (once per run); 1 when it failed
in_install() {
	[ -x "$IN_D/usr/bin/autoprof-bpf" ] && return 0
	rm -rf "$IN_D"
	make -s install DESTDIR="$IN_D" PREFIX=/usr >"$IN_D.log" 2>&1
}

t_install_files() {
	local want got left keep
	want="/etc/default/autoprof-bpf
/usr/bin/autoprof-bpf
/usr/lib/systemd/system/autoprof-bpf.service
/usr/share/bash-completion/completions/autoprof-bpf
/usr/share/man/man8/autoprof-bpf.8.gz"
	rm -rf "$IN_D"
	if ! in_install; then
		fail install_files "make install DESTDIR failed: $(tail -3 $IN_D.log | tr '\n' ' ')"
		return
	fi
	got=$(cd "$IN_D" && find . -type f | sed 's/^\.//' | sort)
	rm -rf "$IN_D.local"
	make -s install DESTDIR="$IN_D.local" >/dev/null 2>&1
	make -s uninstall DESTDIR="$IN_D.local" >/dev/null 2>&1
	left=$(find "$IN_D.local" -type f 2>/dev/null)
	# on this host (no DESTDIR): an existing /etc/default/autoprof-bpf is
	# kept, a missing one installed, an unchanged one uninstalled (/etc/default
	# a tmpfs of a private mount namespace, the rest under PREFIX)
	keep=$(unshare -m --propagation private sh -c '
		mount -t tmpfs tmpfs /etc/default || exit 1
		echo "AUTOPROF_ARGS=\"--interval 61\"" >/etc/default/autoprof-bpf
		make -s install PREFIX="$1" >/dev/null 2>&1 || echo "install failed"
		grep -q "interval 61" /etc/default/autoprof-bpf || echo "overwritten"
		rm /etc/default/autoprof-bpf
		make -s install PREFIX="$1" >/dev/null 2>&1
		cmp -s dist/autoprof-bpf.default /etc/default/autoprof-bpf || echo "not installed when missing"
		make -s uninstall PREFIX="$1" >/dev/null 2>&1
		[ -e /etc/default/autoprof-bpf ] && echo "not uninstalled"
		[ -n "$(find "$1" -type f)" ] && echo "uninstall left files in PREFIX"
		exit 0
	' _ "$IN_D.host" 2>&1)
	rm -rf "$IN_D.host"
	if [ "$got" != "$want" ]; then
		fail install_files "installed: $(echo $got), want: $(echo $want)"
	elif ! gzip -t "$IN_D/usr/share/man/man8/autoprof-bpf.8.gz"; then
		fail install_files "the man page is no gzip file"
	elif ! grep -qx 'ExecStart=/usr/bin/autoprof-bpf agent $AUTOPROF_ARGS' \
		"$IN_D/usr/lib/systemd/system/autoprof-bpf.service"; then
		fail install_files "the unit's ExecStart is not /usr/bin/autoprof-bpf agent \$AUTOPROF_ARGS"
	elif [ -n "$left" ]; then
		fail install_files "make uninstall left $(echo $left)"
	elif [ -n "$keep" ]; then
		fail install_files "/etc/default/autoprof-bpf without DESTDIR: $(echo $keep)"
	else
		pass install_files
	fi
}

# rendered (man -l, no warnings); every option of each command in that
# command's part of OPTIONS; every section
t_install_man() {
	local page=$IN_D/usr/share/man/man8/autoprof-bpf.8.gz txt=$O/install-man.txt c o miss= s
	in_install || { fail install_man "make install failed"; return; }
	[ $(echo $IN_CMDS | wc -w) -ge 5 ] ||
		{ fail install_man "src/main.c's command table not found (got '$IN_CMDS')"; return; }
	MANWIDTH=80 man --warnings -l "$page" >"$txt" 2>"$txt.err"
	if [ -s "$txt.err" ] || [ ! -s "$txt" ]; then
		fail install_man "man --warnings -l: $(head -3 $txt.err | tr '\n' ' ')"
		return
	fi
	for s in NAME SYNOPSIS DESCRIPTION OPTIONS 'EXIT STATUS' FILES EXAMPLES 'SEE ALSO'; do
		grep -qx "$s" "$txt" || miss="$miss section:$s"
	done
	for c in $IN_CMDS; do
		# the command's subsection of OPTIONS
		awk -v c="$c" '/^[A-Z]/ { sec = $0 } sec == "OPTIONS" && /^   [a-z]/ { sub_ = $1 }
			sec == "OPTIONS" && sub_ == c' "$txt" >"$txt.$c"
		for o in $(in_help_opts $c); do
			grep -qE -- "(^|[ ,])$o([ ,=]|$)" "$txt.$c" || miss="$miss $c:$o"
		done
	done
	if [ -n "$miss" ]; then
		fail install_man "missing from the man page:$miss"
	else
		pass install_man
		echo "     $(wc -l <$txt) lines, options of: $(echo $IN_CMDS)"
	fi
}

# the installed completion, sourced from a function as bash-completion's
# loader does: every option of each command at "CMD -", the commands at the
# first word, directories after -o
t_install_completion() {
	local f=$IN_D/usr/share/bash-completion/completions/autoprof-bpf out
	in_install || { fail install_completion "make install failed"; return; }
	out=$(IN_CMDS="$IN_CMDS" bash -c '
		load() { . "$1"; }
		load "$1"
		comp() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=(); _autoprof_bpf; }
		comp autoprof-bpf ""
		for c in $IN_CMDS; do
			[[ " ${COMPREPLY[*]} " == *" $c "* ]] || echo "command:$c"
		done
		while read -r c o; do
			if [ $c = run ]; then comp autoprof-bpf -; else comp autoprof-bpf $c -; fi
			[[ " ${COMPREPLY[*]} " == *" $o "* ]] || echo "$c:$o"
		done
		comp autoprof-bpf agent -o /
		[[ " ${COMPREPLY[*]} " == *" /tmp "* ]] || echo "agent -o: no directories"
	' _ "$f" < <(for c in $IN_CMDS; do in_help_opts $c | sed "s/^/$c /"; done) 2>&1)
	if [ -n "$out" ]; then
		fail install_completion "not completed: $(echo $out | cut -c1-300)"
	else
		pass install_completion
	fi
}

# the installed unit, its ExecStart path moved into DESTDIR (verify checks
# that the binary exists) and the man page found there (Documentation=)
t_install_unit_verify() {
	local u=$O/install-verify/autoprof-bpf.service out
	in_install || { fail install_unit_verify "make install failed"; return; }
	command -v systemd-analyze >/dev/null ||
		{ fail install_unit_verify "systemd-analyze is not installed (package systemd)"; return; }
	mkdir -p ${u%/*}
	sed "s|^ExecStart=/usr/bin/|ExecStart=$IN_D/usr/bin/|" \
		$IN_D/usr/lib/systemd/system/autoprof-bpf.service >$u
	out=$(MANPATH=$IN_D/usr/share/man systemd-analyze verify $u 2>&1)
	if [ $? != 0 ] || [ -n "$out" ]; then
		fail install_unit_verify "systemd-analyze verify: $(echo $out | cut -c1-300)"
	else
		pass install_unit_verify
	fi
}

# The agent as the unit runs it, without systemd: root with only the unit's
# CapabilityBoundingSet, no new privileges, every mount read-only but the
# store (ProtectSystem=strict, ProtectHome=read-only, ProtectKernelTunables,
# ProtectControlGroups) and a private /tmp.
# The workload runs as nobody from a copy of python3 deleted before the agent
# starts, with OTEL_SERVICE_NAME in its environment, so each capability shows:
# its exe (CAP_SYS_PTRACE), its service from /proc/PID/environ, mode 0400 and
# nobody's (CAP_DAC_READ_SEARCH), its Python frames through the deleted
# binary's /proc/PID/map_files/ (CAP_CHECKPOINT_RESTORE), kernel symbols
# (CAP_SYSLOG), and windows at all (CAP_BPF, CAP_PERFMON); its windows reach
# a Pyroscope and an OTLP endpoint through the spools in the store, with the
# tenant of a credentials file, and --metrics-addr answers.
t_install_unit_sandbox() {
	local unit=$IN_D/usr/lib/systemd/system/autoprof-bpf.service d=$(readlink -f $O)/install-sandbox
	local caps t wpid apid rc i w py exe svc t0 t1 fb fbpid cred push otlp mport metrics
	in_install || { fail install_unit_sandbox "make install failed"; return; }
	# a Pyroscope sink with a credentials file, as the default file shows:
	# the spool is written in the store, the file read from a read-only mount
	fb=$d.backend
	cred=$d.credentials
	rm -rf $fb && mkdir -p $fb/rec
	python3 tests/tools/fakebackend.py --dir $fb/rec --port-file $fb/port --mode 200 >$fb/log 2>&1 &
	fbpid=$!
	for ((i = 0; i < 50; i++)); do [ -s $fb/port ] && break; sleep 0.1; done
	echo AUTOPROF_PYROSCOPE_TENANT=apinst-tenant >$cred
	mport=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	chmod 600 $cred
	caps=$(sed -n 's/^CapabilityBoundingSet=//p' $unit | tr 'A-Z' 'a-z' | sed 's/cap_/+/g; s/ /,/g')
	rm -rf $d $d.err
	mkdir -p $d
	chmod 700 $d
	t=$(mktemp -d /tmp/ap-inst.XXXXXX)
	chmod 755 $t
	cp "$(readlink -f /usr/bin/python3)" $t/apinst-python
	printf 'import time\ndef apinst_spin():\n    t = time.time()\n    while time.time() - t < 40: pass\napinst_spin()\n' >$t/apinst.py
	chmod 755 $t/apinst-python
	chmod 644 $t/apinst.py
	OTEL_SERVICE_NAME=apinst-svc setsid setpriv --reuid=65534 --regid=65534 --clear-groups \
		$t/apinst-python $t/apinst.py >/dev/null 2>&1 &
	wpid=$!
	wait_cpu $wpid 0.3 20
	rm -f $t/apinst-python
	# the store writable (its own mount), then every other mount read-only,
	# /sys and /proc/sys too (ProtectKernelTunables, ProtectControlGroups),
	# /tmp a new tmpfs
	setsid unshare -m --propagation private sh -c '
		mount --bind "$1" "$1" || exit 120
		mount --bind /proc/sys /proc/sys || exit 120
		awk "{ print \$5 }" /proc/self/mountinfo | grep -vE "^/(proc|dev)(/|$)" |
			grep -vxF "$1" | while read -r m; do mount -o remount,bind,ro "$m" 2>/dev/null; done
		mount -o remount,bind,ro /proc/sys || exit 120
		# a checkout under /tmp (and the store in it) stays visible, as
		# a unit'"'"'s ExecStart and store are outside its private /tmp
		case "$PWD/" in /tmp/*) exec 9<"$PWD" ;; esac
		mount -t tmpfs tmpfs /tmp || exit 121
		case "$PWD/" in /tmp/*)
			mkdir -p "$PWD" && mount -c --rbind /proc/self/fd/9 "$PWD" || exit 121
			exec 9<&- ;;
		esac
		test -w /usr && exit 122
		test -w /proc/sys/kernel/perf_event_paranoid && exit 122
		exec setpriv --bounding-set=-all,$2 --no-new-privs "$3" agent -o "$1" --interval 1 \
			--pyroscope "$4" --otlp "$4" --credentials "$5" --metrics-addr "$6"
	' _ $d "$caps" "$IN_AP" http://127.0.0.1:$(cat $fb/port 2>/dev/null) $cred 127.0.0.1:$mport 2>$d.err &
	apid=$!
	for ((i = 0; i < 300; i++)); do
		[ $(find $d -mindepth 1 -maxdepth 1 -type d ! -name '.*' | wc -l) -ge 4 ] && break
		kill -0 $apid 2>/dev/null || break
		sleep 0.1
	done
	metrics=$(python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' \
		http://127.0.0.1:$mport/metrics 2>&1 | grep -c '^autoprof_samples_total')
	t0=$(date +%s.%N)
	kill -TERM $apid 2>/dev/null
	wait $apid
	rc=$?
	t1=$(date +%s.%N)
	kill $wpid $fbpid 2>/dev/null
	wait $wpid $fbpid 2>/dev/null
	rm -rf $t
	# the workload's service pushed with the tenant from the file
	push=$(grep -l 'apinst-svc' $fb/rec/*.json 2>/dev/null | xargs -r grep -l '"x-scope-orgid": "apinst-tenant"' | wc -l)
	otlp=$(grep -l '"path": "/v1development/profiles"' $fb/rec/*.json 2>/dev/null | wc -l)
	# the last full window with the workload in it
	for w in $(find $d -mindepth 1 -maxdepth 1 -type d ! -name '.*' | sort); do
		jq -e --argjson p $wpid '.processes[] | select(.pid == $p and .samples > 3)' \
			$w/window.json >/dev/null 2>&1 && py=$w
	done
	if [ $rc -ge 120 ] && [ $rc -le 122 ]; then
		fail install_unit_sandbox "the sandbox could not be set up (unshare -m, mounts read-only: $rc)"
		return
	elif [ $rc != 0 ]; then
		fail install_unit_sandbox "agent exit $rc (caps ${caps//+/}): $(head -3 $d.err | tr '\n' ' ')"
		return
	elif [ -z "$py" ]; then
		fail install_unit_sandbox "no window with samples of pid $wpid: $(head -3 $d.err | tr '\n' ' ')"
		return
	fi
	exe=$(jq -r --argjson p $wpid '.processes[] | select(.pid == $p) | .exe' $py/window.json)
	svc=$(jq -r --argjson p $wpid '.processes[] | select(.pid == $p) | .service' $py/window.json)
	py=$(jq -r --argjson pid $wpid '.strings as $s | .frames as $f | .stacks as $st |
		.samples[] | select(.pid == $pid) | [$st[.stack][] | $s[$f[.].name]] | join(";")' \
		$py/artifacts/cpu.json | grep -c 'apinst_spin')
	if grep -q 'kernel symbols unavailable' $d.err; then
		fail install_unit_sandbox "no kernel symbols (CAP_SYSLOG): $(grep -m1 kallsyms $d.err)"
	elif [[ $exe != */apinst-python* ]]; then
		fail install_unit_sandbox "exe '$exe' of the workload, want its deleted apinst-python (CAP_SYS_PTRACE)"
	elif [ "$svc" != apinst-svc ]; then
		fail install_unit_sandbox "service '$svc', want apinst-svc from its environment (CAP_DAC_READ_SEARCH)"
	elif [ "$py" = 0 ]; then
		fail install_unit_sandbox "no apinst_spin Python frame in the workload's stacks (map_files: CAP_CHECKPOINT_RESTORE)"
	elif [ "$push" = 0 ]; then
		fail install_unit_sandbox "no Pyroscope request for apinst-svc with the tenant of $cred ($(ls $fb/rec | wc -l) requests)"
	elif [ "$otlp" = 0 ]; then
		fail install_unit_sandbox "no OTLP request ($(ls $fb/rec | wc -l) requests)"
	elif [ "$metrics" = 0 ]; then
		fail install_unit_sandbox "no autoprof_samples_total at --metrics-addr 127.0.0.1:$mport"
	else
		pass install_unit_sandbox
		echo "     caps ${caps//+/}; $push Pyroscope requests of apinst-svc, $otlp OTLP requests; SIGTERM to exit (last window flushed): $(awk -v a=$t0 -v b=$t1 'BEGIN { printf "%.2f", b - a }') s"
	fi
}

# make deb + deb-check: lintian without errors, the package's files, Depends,
# conffile and postinst (~90 s: named only)
t_install_deb() {
	if ! make -s deb >$O/install-deb.log 2>&1; then
		fail install_deb "make deb: $(tail -3 $O/install-deb.log | tr '\n' ' ')"
	elif ! tools/build-deb.sh --check >$O/install-deb-check.log 2>&1; then
		fail install_deb "$(tr '\n' ' ' <$O/install-deb-check.log | cut -c1-400)"
	else
		pass install_deb
		sed 's/^/     /' $O/install-deb-check.log
	fi
}
