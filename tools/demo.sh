#!/bin/sh
# SPDX-License-Identifier: MIT
# `make demo`: profile the bundled demo (examples/demo.c) and show the summary.
set -eu
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
	echo "demo: loading BPF programs needs root: sudo make demo" >&2
	exit 1
fi
exec build/autoprof-bpf -o autoprof-out/demo -- build/demo 3
