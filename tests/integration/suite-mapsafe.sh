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

SUITE_TESTS=(fd_kinds)
