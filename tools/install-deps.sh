#!/bin/sh
# SPDX-License-Identifier: MIT
# Install the Debian packages autoprof-bpf needs to build, run and test.
# Idempotent and quiet when everything is present; called by `make demo`
# and `make test` (with --test) so that a fresh machine needs nothing else.
set -eu
PKGS="make gcc g++ clang llvm libbpf-dev bpftool libelf-dev libdw-dev zlib1g-dev
libcjson-dev pkg-config jq python3 python3.11 linux-perf strace libclang-rt-14-dev
valgrind util-linux time"
# the agent's push sinks: HTTP by libcurl, OTLP protobuf by protobuf-c
PKGS="$PKGS libcurl4-openssl-dev libprotobuf-c-dev protobuf-c-compiler"
# what only the tests need: protoc decodes profile.pb.gz, headless Chromium
# opens report.html, cmark-gfm renders report.md as GitHub does, tmux is the
# terminal of the `top` tests
[ "${1:-}" = --test ] && PKGS="$PKGS protobuf-compiler chromium chromium-driver cmark-gfm tmux"
# a real Prometheus (and promtool) scrapes the agent's --metrics-addr
[ "${1:-}" = --test ] && PKGS="$PKGS prometheus"
# the install tests: man renders the man page, systemd-analyze verifies the unit
[ "${1:-}" = --test ] && PKGS="$PKGS man-db systemd"
# the OTLP Collector test: curl POSTs a request and probes the Collector's
# port (Go and its module proxy are the machine's: tools/build-otelcol.sh)
[ "${1:-}" = --test ] && PKGS="$PKGS curl"
# time below the Python frame (suite-below.sh): Debian's NumPy on the
# reference BLAS (libblas3: dgemm_ is the unoptimised Fortran loop)
[ "${1:-}" = --test ] && PKGS="$PKGS python3-numpy libblas3"
# Debian unstable's python3.14/3.15 (tools/debian-python.sh): apt-get
# checks unstable's Release file with the archive's signing keys
[ "${1:-}" = --test ] && PKGS="$PKGS debian-archive-keyring"
# `make deb`: dpkg-buildpackage, debhelper, lintian
[ "${1:-}" = --deb ] && PKGS="$PKGS dpkg-dev debhelper lintian"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages:$missing (run as root: sudo $0)" >&2
	exit 1
fi
echo "install-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
