# SPDX-License-Identifier: MIT
# Issue 12, mapsafe: files named by the target's mappings are opened only
# when they are the mapped file (symlink and FIFO traps), fd kinds of
# character devices, kernel frames of our own BPF programs. Sourced by
# tests/integration/run.sh (helpers and variables come from there).

# writes to /dev/null are "chardev", writes to a pty are "tty"
t_fd_kinds() {
	local d=$O/fdkinds null tty wrong
	$AP -q -o $d -- /usr/bin/python3 -c '
import os
n = os.open("/dev/null", os.O_WRONLY)
m, s = os.openpty()
for i in range(3000):
    os.write(n, b"x")
    os.write(s, b"y")
    os.read(m, 64)
' 2>$d.err || { fail fd_kinds "exit $?: $(tail -1 $d.err)"; return; }
	null=$(jq '[.processes[].syscalls[] | select(.name == "write" and .fd_kind == "chardev") | .count] | add // 0' \
		$d/artifacts/syscalls.json)
	tty=$(jq '[.processes[].syscalls[] | select(.name == "write" and .fd_kind == "tty") | .count] | add // 0' \
		$d/artifacts/syscalls.json)
	if ! ge "$null" 2900; then
		fail fd_kinds "$null writes to /dev/null counted as chardev, want 3000"
	elif ! ge "$tty" 2900 || ! awk -v t="$tty" 'BEGIN { exit !(t <= 3100) }'; then
		fail fd_kinds "$tty writes counted as tty, want the 3000 writes to the pty alone"
	else
		pass fd_kinds
	fi
}

# A target (run as nobody) maps a copy of a small library, deletes it and
# plants at its path a symlink to a root-only library of the same layout
# (the one function renamed), or a FIFO, then runs the mapped code. It
# maps the file while the profiler is stopped (SIGSTOP), splits each
# mapping at once (its first page made read-only) and plants the trap, so
# when the profiler reads the mmap records the ranges they name are gone
# from /proc/PID/map_files and only the path is left: the profiler must
# refuse it. The root-only symbol never appears, the run never blocks on
# the FIFO, and run.json counts the refused mappings.
MS_DIR=""
ms_build() {
	MS_DIR=$PWD/$O/mapsafe-bin # under $O: removed with it at the next run
	[ -x "$MS_DIR/trap" ] && return 0
	mkdir -p "$MS_DIR" && chmod 755 "$MS_DIR" || return 1
	cat >"$MS_DIR/spin.c" <<'C'
unsigned long NAME(unsigned long n)
{
	unsigned long x = 0, i;

	for (i = 0; i < n; i++) {
		x = x * 31 + i;
		__asm__ volatile("" : "+r"(x));
	}
	return x;
}
C
	cat >"$MS_DIR/trap.c" <<'C'
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void say(const char *dir, const char *what)
{
	char p[4096];

	snprintf(p, sizeof(p), "%s/%s", dir, what);
	close(open(p, O_CREAT | O_WRONLY, 0644));
}

static void await(const char *dir, const char *what)
{
	char p[4096];
	double end = now() + 30;

	snprintf(p, sizeof(p), "%s/%s", dir, what);
	while (access(p, F_OK) && now() < end)
		usleep(1000);
}

/* trap LIB symlink|fifo TARGET SECONDS OFFSET SYNCDIR */
int main(int argc, char **argv)
{
	unsigned long (*fn[20])(unsigned long);
	struct stat st;
	double end;
	int fd, i;

	if (argc != 7)
		return 2;
	fd = open(argv[1], O_RDONLY);
	if (fd < 0 || fstat(fd, &st))
		return perror(argv[1]), 1;
	say(argv[6], "ready");
	await(argv[6], "go");
	for (i = 0; i < 20; i++) {
		char *p = mmap(NULL, st.st_size, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);

		/* splits the mapping: the reported range leaves map_files */
		if (p == MAP_FAILED || mprotect(p, 4096, PROT_READ))
			return perror("mmap"), 1;
		fn[i] = (unsigned long (*)(unsigned long))(p + strtoul(argv[5], NULL, 0));
	}
	if (unlink(argv[1]))
		return perror("unlink"), 1;
	if (!strcmp(argv[2], "symlink") ? symlink(argv[3], argv[1]) : mkfifo(argv[1], 0666))
		return perror("plant"), 1;
	say(argv[6], "mapped");
	await(argv[6], "cont");
	for (i = 0; i < 20; i++)
		for (end = now() + atof(argv[4]) / 20; now() < end;)
			fn[i](100000);
	await(argv[6], "quit"); /* alive past the profiler's -d */
	return 0;
}
C
	cc -O1 -fPIC -shared -nostdlib -DNAME=ms_pub_spin_fn -o "$MS_DIR/libpub.so" "$MS_DIR/spin.c" &&
		cc -O1 -fPIC -shared -nostdlib -DNAME=ms_sec_spin_fn -o "$MS_DIR/libsec.so" "$MS_DIR/spin.c" &&
		cc -O2 -o "$MS_DIR/trap" "$MS_DIR/trap.c" || return 1
	mkdir -p "$MS_DIR/secret" && chmod 700 "$MS_DIR/secret" &&
		mv "$MS_DIR/libsec.so" "$MS_DIR/secret/" && chmod 600 "$MS_DIR/secret/libsec.so"
}

ms_wait() { # FILE [SECONDS]: up to 20 s
	local i
	for ((i = 0; i < ${2:-20} * 100; i++)); do
		[ -e "$1" ] && return 0
		sleep 0.01
	done
	return 1
}

ms_run() { # NAME symlink|fifo
	local t=$1 mode=$2 d=$O/$1 w off pub sec refused st tpid apid n in_trap at_d stopped
	ms_build || { fail $t "could not build the trap workload (cc)"; return 1; }
	pub=$(nm -D "$MS_DIR/libpub.so" | awk '$3 == "ms_pub_spin_fn" { print $1 }')
	sec=$(nm "$MS_DIR/secret/libsec.so" 2>/dev/null | awk '$3 == "ms_sec_spin_fn" { print $1 }')
	# the same layout, so the root-only file would name the same addresses
	[ -n "$pub" ] && [ "$pub" = "$sec" ] || { fail $t "the two libraries differ in layout ($pub, $sec)"; return 1; }
	off=0x$pub # file offset = address in this layout (text at 0x1000, offset 0x1000)
	w=$(mktemp -d /tmp/ap-mapsafe-run.XXXXXX) && cp "$MS_DIR/libpub.so" "$w/libtrap.so" &&
		chown -R nobody "$w" || { fail $t "scratch directory"; return 1; }
	# -d 4: the report is due at 4 s, while the target still lives
	timeout 60 $AP -q -F 499 -d 4 -o $d -- setpriv --reuid=nobody --regid=nogroup --clear-groups \
		"$MS_DIR/trap" "$w/libtrap.so" $mode "$MS_DIR/secret/libsec.so" 2 $off "$w" 2>$d.err &
	tpid=$!
	stopped=0
	# the profiler is timeout's only child
	if ms_wait "$w/ready" && apid=$(pgrep -P $tpid | head -1) && [ -n "$apid" ] &&
		kill -STOP $apid; then
		stopped=1
		touch "$w/go"
		ms_wait "$w/mapped"
		kill -CONT $apid
	fi
	touch "$w/go" "$w/cont"
	ms_wait $d/run.json 15 && at_d=1 || at_d=0
	touch "$w/quit"
	wait $tpid
	st=$?
	rm -rf "$w"
	if [ $stopped = 0 ]; then
		fail $t "the target never got ready, or the profiler could not be stopped: $(tail -1 $d.err)"
		return 1
	elif [ $at_d = 0 ]; then
		fail $t "no report 15 s after the start with -d 4 (blocked on the planted $mode?)"
		return 1
	elif [ $st = 124 ]; then
		fail $t "the run did not end within 60 s (blocked on the planted $mode?)"
		return 1
	elif [ $st != 0 ]; then
		fail $t "exit $st: $(tail -1 $d.err)"
		return 1
	fi
	refused=$(jq '.collectors.cpu.counters.mapped_files_refused // 0' $d/run.json)
	n=$(samples $d/stacks.folded '^trap;')
	in_trap=$(samples $d/stacks.folded '^trap;.*libtrap')
	if grep -rq ms_sec_spin_fn $d; then
		fail $t "the root-only library's symbol is in the output: $(grep -rl ms_sec_spin_fn $d | head -3)"
	elif ! gt "$refused" 0; then
		fail $t "mapped_files_refused is $refused, want > 0"
	elif ! gt "$in_trap" 200; then
		fail $t "only $in_trap samples in the trapped mapping, of $n (machine too loaded?)"
	else
		pass $t
		echo "     $refused mappings refused; $in_trap of $n samples in the trapped mapping, unnamed"
	fi
}

t_maps_symlink_trap() { ms_run maps_symlink_trap symlink; }
t_maps_fifo_trap() { ms_run maps_fifo_trap fifo; }

# Kernel frames inside our own BPF programs carry the program's own name:
# the syscall entry tracepoint runs on_sys_enter, never a name taken from
# the program (or symbol) loaded before it
t_bpf_prog_names() {
	local d=$O/bpfnames all enter wrong
	$AP -q -F 999 -o $d -- $W/sysheavy 2 2>$d.err || { fail bpf_prog_names "exit $?: $(tail -1 $d.err)"; return; }
	all=$(samples $d/stacks.folded '^sysheavy;.*;__bpf_trace_sys_enter_\[k\];bpf_trace_run2_\[k\];[^;]+_\[k\]')
	enter=$(samples $d/stacks.folded '^sysheavy;.*;__bpf_trace_sys_enter_\[k\];bpf_trace_run2_\[k\];bpf_prog_[0-9a-f]+_on_sys_enter_\[k\]')
	# what the tracepoint calls: our program, or kernel helpers (rcu, thunks);
	# a BPF program of another name or the end of kernel text is a misnaming.
	# Our programs' bpf_loop() callbacks (bpf/python.bpf.h) are subprograms
	# with kallsyms names of their own: a sample inside one names it (a
	# fresh clone: py_send_step, sending a slow syscall's code objects), as
	# is the memory collector's mem_sys_exit (bpf/memmap.bpf.h)
	wrong=$(grep -oE '__bpf_trace_sys_(enter|exit)_\[k\];bpf_trace_run2_\[k\];[^; ]+' $d/stacks.folded |
		grep -E ';(bpf_prog_|_einittext|_etext)' |
		grep -vE 'bpf_prog_[0-9a-f]{16}_(on_(sys|mem)_(enter|exit)|mem_sys_exit|py_(send|str|walk)_step)_\[k\]$' |
		sort | uniq -c | head -3)
	if [ -n "$wrong" ]; then
		fail bpf_prog_names "the syscall tracepoints ran programs named otherwise: $(echo $wrong)"
	elif ! gt "$enter" 0; then
		fail bpf_prog_names "no sample inside on_sys_enter ($all inside whatever the sys_enter tracepoint ran; $(samples $d/stacks.folded '_\[k\]') kernel samples)"
	else
		pass bpf_prog_names
		echo "     $enter samples inside bpf_prog_*_on_sys_enter"
	fi
}

# A target (run as nobody) dlopens a copy of a small library it owns, runs
# in it long enough to be sampled and unwound through it, then, from a
# callback the library called (so its frames stay on the stack), truncates
# the file to 0 and spins on. Each later sample is unwound through the
# library's CFI: a profiler that mapped the file itself would die of
# SIGBUS. It must finish the run and pass on the target's exit status (3).
MT_DIR=""
mt_build() {
	MT_DIR=$PWD/$O/maptrunc-bin
	[ -x "$MT_DIR/trunc" ] && return 0
	mkdir -p "$MT_DIR" && chmod 755 "$MT_DIR" || return 1
	cat >"$MT_DIR/lib.c" <<'C'
unsigned long mt_lib_spin(unsigned long n, void (*cb)(void))
{
	unsigned long x = 0, i;

	for (i = 0; i < n; i++) {
		x = x * 31 + i;
		__asm__ volatile("" : "+r"(x));
	}
	cb(); /* never returns: the file is gone under it */
	__asm__ volatile("" : "+r"(x));
	return x;
}
C
	cat >"$MT_DIR/trunc.c" <<'C'
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static const char *lib;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

__attribute__((noinline)) static void mt_after_truncate(void)
{
	volatile unsigned long x = 0;
	double end;
	int fd = open(lib, O_WRONLY);

	if (fd < 0 || ftruncate(fd, 0))
		_exit(1);
	close(fd);
	for (end = now() + 2; now() < end;)
		x++;
	_exit(3);
}

/* trunc LIB */
int main(int argc, char **argv)
{
	unsigned long (*fn)(unsigned long, void (*)(void));
	void *h;

	lib = argv[1];
	h = dlopen(lib, RTLD_NOW);
	fn = h ? (unsigned long (*)(unsigned long, void (*)(void)))dlsym(h, "mt_lib_spin") : NULL;
	if (!fn)
		return fprintf(stderr, "%s\n", dlerror()), 1;
	fn(1500000000ul, mt_after_truncate); /* ~1 s in the library, then the callback */
	return 2;
}
C
	cc -O1 -fPIC -shared -nostdlib -o "$MT_DIR/libtrunc.so" "$MT_DIR/lib.c" &&
		cc -O1 -o "$MT_DIR/trunc" "$MT_DIR/trunc.c" -ldl
}

t_maps_truncated() {
	local t=maps_truncated d=$O/maptrunc w st n after copied
	mt_build || { fail $t "could not build the workload (cc)"; return 1; }
	w=$(mktemp -d /tmp/ap-maptrunc.XXXXXX) && cp "$MT_DIR/libtrunc.so" "$w/" &&
		chown -R nobody "$w" || { fail $t "scratch directory"; return 1; }
	timeout 60 $AP -q -F 999 -o $d -- setpriv --reuid=nobody --regid=nogroup --clear-groups \
		"$MT_DIR/trunc" "$w/libtrunc.so" 2>$d.err
	st=$?
	rm -rf "$w"
	n=$(samples $d/stacks.folded '^trunc;' 2>/dev/null)
	after=$(samples $d/stacks.folded '^trunc;.*mt_lib_spin;mt_after_truncate' 2>/dev/null)
	copied=$(jq '.collectors.cpu.counters.symbol_files_copied // 0' $d/run.json 2>/dev/null)
	if [ $st != 3 ]; then
		fail $t "exit $st, want the target's 3 (135: the profiler died of SIGBUS): $(tail -1 $d.err)"
	elif ! artifacts_ok $d; then
		fail $t "the run is incomplete: $(ls $d)"
	elif ! gt "${copied:-0}" 0; then
		fail $t "symbol_files_copied is $copied: the target's own library was mapped, not copied"
	elif ! gt "${after:-0}" 100; then
		fail $t "only $after samples after the truncation unwound through the library, of $n"
	else
		pass $t
		echo "     $after of $n samples after the truncation, unwound through the library; $copied files copied"
	fi
}

SUITE_TESTS=(fd_kinds maps_symlink_trap maps_fifo_trap bpf_prog_names maps_truncated)
