#!/bin/sh
# SPDX-License-Identifier: MIT
# `make demo`: profile the bundled Python demo (examples/demo.py) with
# Debian's python3.11, and show the summary.
set -eu
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
	echo "demo: loading BPF programs needs root: run make demo as root" >&2
	exit 1
fi
PY=/usr/bin/python3.11
[ -x $PY ] || PY=$(command -v python3)
exec build/autoprof-bpf --force -o autoprof-out/demo -- $PY examples/demo.py 3
