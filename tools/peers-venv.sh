#!/bin/bash
# SPDX-License-Identifier: MIT
# build/peers-venv: a venv holding the peer profilers `make bench` compares
# autoprof-bpf with (tools/peers-requirements.txt, pinned). Made with
# CPython 3.11.7 of pyenv when it is there (PEERS_PYTHON overrides), else
# with the python3 on PATH. Cached: when the venv was made from the same
# requirements by the same Python, a second run does nothing. A failed
# install fails, with pip's error line; nothing is skipped.
# Prints the venv's path on success.
set -eu
cd "$(dirname "$0")/.."
VENV=build/peers-venv
REQ=tools/peers-requirements.txt
PY=${PEERS_PYTHON:-/root/.pyenv/versions/3.11.7/bin/python3.11}
[ -x "$PY" ] || PY=$(command -v python3) || {
	echo "peers-venv: no python3 to make the venv with" >&2
	exit 1
}
want="$(sha256sum $REQ | cut -d' ' -f1) $("$PY" -c 'import sys; print(sys.version.split()[0])') $PY"
if [ -x $VENV/bin/python ] && [ "$(cat $VENV/.stamp 2>/dev/null)" = "$want" ]; then
	echo $VENV
	exit 0
fi
rm -rf $VENV
mkdir -p build
log=build/peers-venv.log
echo "peers-venv: installing $(grep -c '^[A-Za-z]' $REQ) pinned packages into $VENV with $PY" >&2
if ! "$PY" -m venv $VENV >$log 2>&1; then
	echo "peers-venv: $PY -m venv $VENV failed: $(grep -m1 -i error $log || tail -1 $log)" >&2
	exit 1
fi
if ! $VENV/bin/python -m pip install --disable-pip-version-check --no-input -q -r $REQ >>$log 2>&1; then
	echo "peers-venv: pip install -r $REQ failed: $(grep -m1 '^ERROR' $log || tail -1 $log) (all of it: $log)" >&2
	exit 1
fi
echo "$want" >$VENV/.stamp
echo $VENV
