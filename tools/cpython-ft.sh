#!/bin/sh
# SPDX-License-Identifier: MIT
# A free-threaded CPython (3.14t: configure --disable-gil), built from source
# into build/cpython-ft/<version>/ once per machine, for make test-ft. The
# source comes through the Go module proxy (`go mod download` of
# github.com/python/cpython@v<version>+incompatible); everything Go writes
# stays under build/cpython-ft/. Release build (no --with-pydebug), -O2 with
# symbols (-g), libpython linked statically into the executable, as Debian's
# /usr/bin/python3.X is. Safe to run concurrently (flock) and idempotent.
# The compile runs at nice 19. Fails with a one-line reason (exit 1).
#   tools/cpython-ft.sh [-q] [VERSION]   prints the interpreter's path
#                                        (VERSION 3.14.7 by default; 3.13.15
#                                        builds 3.13t)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
quiet=
[ "${1:-}" = -q ] && { quiet=1; shift; }
ver=${1:-3.14.7}
case $ver in
3.1[3-9].*) ;;
*) echo "cpython-ft: $ver: free-threaded builds exist from 3.13 on" >&2; exit 1 ;;
esac
mm=${ver%.*}
base=$root/build/cpython-ft
out=$base/$ver
py=$out/bin/python${mm}t
mkdir -p "$base"
exec 9>"$base/.lock-$ver"
flock 9
if [ -x "$py" ] && [ -f "$out/.stamp" ]; then
	echo "$py"
	exit 0
fi
say() { [ -n "$quiet" ] || echo "cpython-ft: $*" >&2; }
fail() { echo "cpython-ft: $*" >&2; exit 1; }

if ! command -v go >/dev/null 2>&1; then
	fail "go is not installed: the CPython source comes through the Go module proxy"
fi
export GOPATH="$base/gopath" GOMODCACHE="$base/gopath/pkg/mod" GOCACHE="$base/gocache"
export GOFLAGS=-modcacherw GOTOOLCHAIN=local
say "downloading CPython $ver source (once per machine)"
log=$base/$ver.log
: > "$log"
# -json prints the module's Dir, or its Error, on stdout
json=$(cd "$base" && go mod download -json "github.com/python/cpython@v$ver+incompatible" 2>>"$log") || true
printf '%s\n' "$json" >>"$log"
dir=$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')
if [ -z "$dir" ] || [ ! -f "$dir/configure" ]; then
	err=$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Error": "\(.*\)",*$/\1/p' | head -n 1)
	if grep -qE 'dial tcp|lookup |proxyconnect|connection refused|i/o timeout|no such host|Forbidden|403|410 Gone' "$log"; then
		fail "the Go module proxy refused or could not be reached for github.com/python/cpython@v$ver: ${err:-see $log}"
	fi
	fail "go mod download of CPython $ver failed: ${err:-see $log}"
fi

# a module zip keeps no file modes: give the scripts (#!) back their x bit
find "$dir" -type f -size -2M -exec grep -lIm1 '^#!' {} + 2>/dev/null |
	while IFS= read -r f; do
		[ "$(head -c 2 "$f")" = "#!" ] && chmod u+x "$f"
	done
# build out of tree: the source in the module cache stays clean
bld=$base/build-$ver
rm -rf "$bld" "$out"
mkdir -p "$bld"
say "building CPython $ver free-threaded (nice 19, ~10 min on 2 CPUs): log in $log"
jobs=$(nproc 2>/dev/null || echo 2)
if ! (cd "$bld" &&
	nice -n 19 "$dir/configure" --prefix="$out" --disable-gil --without-ensurepip \
		OPT="-DNDEBUG -g -O2" &&
	nice -n 19 make -j"$jobs" &&
	nice -n 19 make altinstall) >>"$log" 2>&1; then
	fail "building CPython $ver failed: see $log"
fi
[ -x "$py" ] || fail "CPython $ver built but $py is missing: see $log"
if ! "$py" -c 'import sys; sys.exit(0 if not sys._is_gil_enabled() else 1)' 2>>"$log"; then
	fail "$py is not free-threaded: see $log"
fi
rm -rf "$bld"
date -u +%FT%TZ > "$out/.stamp"
echo "$py"
