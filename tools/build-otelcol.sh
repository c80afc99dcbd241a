#!/bin/sh
# SPDX-License-Identifier: MIT
# Build the test Collector (tools/otelcol: core otlpreceiver, debug exporter
# and our profilejson exporter, collector v0.165.0 / pdata v1.71.0) into
# build/otelcol/otelcol, once per machine: rebuilt only when tools/otelcol's
# go.mod, go.sum or main.go change. Everything Go writes (module cache,
# build cache) stays under build/otelcol/; nothing system-wide. Safe to run
# concurrently (flock) and idempotent. Needs go and the Go module proxy: when
# either is missing it fails saying so (exit 1).
#   tools/build-otelcol.sh [-q]     prints the binary's path on success
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
src=$root/tools/otelcol
out=$root/build/otelcol
quiet=${1:-}
mkdir -p "$out"
exec 9>"$out/.lock"
flock 9
stamp=$(cat "$src/go.mod" "$src/go.sum" "$src/main.go" | sha256sum | cut -c1-16)
if [ -x "$out/otelcol" ] && [ "$(cat "$out/.stamp" 2>/dev/null)" = "$stamp" ]; then
	echo "$out/otelcol"
	exit 0
fi
if ! command -v go >/dev/null 2>&1; then
	echo "build-otelcol: go is not installed: the OpenTelemetry Collector test needs Go (1.26 or newer) and the Go module proxy" >&2
	exit 1
fi
export GOPATH="$out/gopath" GOMODCACHE="$out/gopath/pkg/mod" GOCACHE="$out/gocache"
export GOFLAGS="-modcacherw -mod=readonly" GOTOOLCHAIN=local CGO_ENABLED=0
[ -n "$quiet" ] || echo "build-otelcol: building the test Collector (v0.165.0) into $out (once per machine)" >&2
if ! (cd "$src" && go mod download) >"$out/build.log" 2>&1; then
	echo "build-otelcol: 'go mod download' failed (is the Go module proxy reachable?): see $out/build.log" >&2
	tail -n 5 "$out/build.log" >&2
	exit 1
fi
if ! (cd "$src" && nice -n 10 go build -trimpath -o "$out/otelcol.tmp" .) >>"$out/build.log" 2>&1; then
	echo "build-otelcol: go build failed: see $out/build.log" >&2
	tail -n 20 "$out/build.log" >&2
	exit 1
fi
mv -f "$out/otelcol.tmp" "$out/otelcol"
echo "$stamp" > "$out/.stamp"
echo "$out/otelcol"
