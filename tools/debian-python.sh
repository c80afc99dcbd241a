#!/bin/sh
# SPDX-License-Identifier: MIT
# Debian unstable's python3.X, unpacked (not installed) under build/, and run
# through its own dynamic loader and glibc.
#
#   tools/debian-python.sh fetch 3.15        download + unpack (cached)
#   tools/debian-python.sh run 3.15 -c '...' run it (fetches first if needed)
#   tools/debian-python.sh cmd 3.15          print a command line that runs it
#   tools/debian-python.sh root              print the unpacked tree
#   tools/debian-python.sh fetch-lib 3.15    also libpython3.15 (the shared
#                                            library) and its headers
#   tools/debian-python.sh cflags 3.15       compiler flags that embed it
#                                            (fetch-lib first if needed)
#
# fetch also writes build/debian-python/bin/python3.X-unstable, a script
# that runs it (for tests, which take one path).
#
# apt keeps its sources list, lists and cache in build/debian-python/apt; the
# system's apt configuration is read only to find its Debian mirror (the same
# URL, suite unstable). DEBIAN_MIRROR overrides that. Needs apt-get and
# dpkg-deb; no root.
#
# sys.executable is the unpacked binary, which the host's own loader and
# glibc may refuse: a child started from it (subprocess, multiprocessing
# spawn) needs the same command line.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
base=${AP_DEBIAN_PYTHON_DIR:-$top/build/debian-python}
apt=$base/apt
root=$base/root
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

die() {
	echo "debian-python: $*" >&2
	exit 1
}

# the system's Debian mirror: the first URI of a source that serves "main"
# for a Debian suite, not the security archive
mirror() {
	if [ -n "${DEBIAN_MIRROR:-}" ]; then
		echo "$DEBIAN_MIRROR"
		return
	fi
	cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources \
		2>/dev/null | awk '
		/^deb[ \t]/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; break } }
		/^URIs:/ { print $2 }' | grep -E '/debian/?$' | head -n1
}

aptget() {
	apt-get -q -o Dir::Etc::SourceList="$apt/sources.list" \
		-o Dir::Etc::SourceParts="$apt/empty" \
		-o Dir::Etc::Preferences="$apt/empty/none" \
		-o Dir::Etc::PreferencesParts="$apt/empty" \
		-o Dir::State="$apt/state" -o Dir::State::status="$apt/state/status" \
		-o Dir::Cache="$apt/cache" -o Debug::NoLocking=1 \
		-o APT::Architecture=amd64 -o APT::Architectures=amd64 \
		-o Acquire::Languages=none -o Acquire::http::Timeout=20 \
		-o Acquire::https::Timeout=20 "$@"
}

aptcache() {
	apt-cache -o Dir::Etc::SourceList="$apt/sources.list" \
		-o Dir::Etc::SourceParts="$apt/empty" \
		-o Dir::Etc::Preferences="$apt/empty/none" \
		-o Dir::Etc::PreferencesParts="$apt/empty" \
		-o Dir::State="$apt/state" -o Dir::State::status="$apt/state/status" \
		-o Dir::Cache="$apt/cache" \
		-o APT::Architecture=amd64 -o APT::Architectures=amd64 "$@"
}

update() {
	m=$(mirror)
	[ -n "$m" ] || die "no Debian mirror in /etc/apt/sources.list*; set DEBIAN_MIRROR"
	mkdir -p "$apt/empty" "$apt/state/lists/partial" "$apt/cache/archives/partial"
	: >"$apt/state/status"
	echo "deb [signed-by=$keyring] $m unstable main" >"$apt/sources.list"
	# lists less than a day old are fine (the stamp, not their mtimes: apt
	# may set those from the server)
	if [ -z "$(find "$apt/updated" -mmin -1440 2>/dev/null)" ]; then
		aptget update >"$apt/update.log" 2>&1 || true
		# apt-get update exits 0 when a fetch fails (a "W:" line)
		if grep -qE '^(E:|W: Failed|Err:)' "$apt/update.log" ||
			! ls "$apt/state/lists/"*_Packages* >/dev/null 2>&1; then
			die "cannot reach the Debian archive ($m, unstable): $(grep -E '^(E|W):' "$apt/update.log" | head -n1)"
		fi
		touch "$apt/updated"
	fi
	return 0
}

# package names python3.X needs at run time: the Depends/Pre-Depends closure,
# without virtual packages and without what a bare interpreter never loads
closure() {
	aptcache depends --recurse --no-recommends --no-suggests --no-conflicts \
		--no-breaks --no-replaces --no-enhances "$@" 2>/dev/null |
		grep -E '^[a-z0-9]' | grep -v '^<' | sort -u |
		grep -vE '^(debconf|cdebconf|libdebian-installer4|libnewt0.52|libslang2|libtextwrap1|perl-base|dpkg|tar|install-info|media-types|tzdata|mime-support|readline-common|netbase|debianutils|usrmerge|libc-bin|ca-certificates|openssl)$'
}

fetch() {
	v=$1
	[ -f "$base/.done-$v" ] && [ -x "$base/bin/python$v-unstable" ] && return 0
	# one fetch at a time (make test starts one beside its first stages,
	# and the integration tests ask again): the second finds it done
	mkdir -p "$base"
	exec 9>"$base/.lock"
	flock 9
	[ -f "$base/.done-$v" ] && [ -x "$base/bin/python$v-unstable" ] && return 0
	update
	aptcache show "python$v" >/dev/null 2>&1 || die "unstable has no python$v"
	pkgs=$(closure "python$v" libc6)
	mkdir -p "$base/debs" "$root"
	(cd "$base/debs" && aptget download $pkgs >"$base/download-$v.log" 2>&1) ||
		die "download failed: $(grep '^E:' "$base/download-$v.log" | head -n1)"
	for p in $pkgs; do
		for d in "$base/debs/${p}_"*.deb; do
			[ -f "$d" ] && dpkg-deb -x "$d" "$root"
		done
	done
	[ -x "$root/usr/bin/python$v" ] || die "python$v not found in the unpacked packages"
	# the loader under the interpreter's name, so the process's comm is
	# python3.X rather than ld-linux-x86-64 (ld.so runs as a program by
	# whatever name it is called)
	mkdir -p "$base/bin"
	ln -sf "$(loader)" "$base/bin/python$v"
	# and one program that runs it, for what takes a single path (tests)
	cat >"$base/bin/python$v-unstable" <<-EOF
		#!/bin/sh
		PYTHONHOME=$root/usr exec $base/bin/python$v --library-path \\
		    $root/usr/lib/x86_64-linux-gnu:$root/lib/x86_64-linux-gnu $root/usr/bin/python$v "\$@"
	EOF
	chmod +x "$base/bin/python$v-unstable"
	# its standard library byte-compiled, as the package's postinst
	# (py3compile) leaves it on an installed system: else each start
	# compiles what it imports when it may not write its cache
	# (PYTHONDONTWRITEBYTECODE), 0.15 CPU-s for the off-CPU workload's
	# imports. One process: a worker would run under the host's loader
	"$base/bin/python$v-unstable" -m compileall -q "$root/usr/lib/python$v" \
		>"$base/compile-$v.log" 2>&1 ||
		die "byte-compiling python$v's standard library: $(tail -n1 "$base/compile-$v.log")"
	aptcache policy "python$v" libc6 | awk '/^[a-z]/{p=$1} /Candidate/{print p, $2}' >"$base/.done-$v"
}

# the shared library libpython3.X and its headers (libpython3.X-dev, without
# the -dev package's own dependencies: only its headers and the .so link are
# used), unpacked into the same tree, for programs that embed it
fetch_lib() {
	v=$1
	[ -f "$base/.done-lib-$v" ] && return 0
	# one at a time (tests may ask from two stages); its own lock: fetch
	# takes the interpreter's
	mkdir -p "$base"
	exec 8>"$base/.lock-lib"
	flock 8
	[ -f "$base/.done-lib-$v" ] && return 0
	fetch "$v"
	update
	aptcache show "libpython$v" "libpython$v-dev" >/dev/null 2>&1 ||
		die "unstable has no libpython$v or libpython$v-dev"
	# and what fetch did not download and unpack (the closure of python3.X
	# has libpython3.X-stdlib and the libraries, not the shared library)
	pkgs="libpython$v libpython$v-dev"
	for p in $(closure "libpython$v"); do
		[ "$p" = "libpython$v" ] && continue
		ls "$base/debs/${p}_"*.deb >/dev/null 2>&1 || pkgs="$pkgs $p"
	done
	(cd "$base/debs" && aptget download $pkgs >"$base/download-lib-$v.log" 2>&1) ||
		die "download failed: $(grep '^E:' "$base/download-lib-$v.log" | head -n1)"
	for p in $pkgs; do
		for d in "$base/debs/${p}_"*.deb; do
			[ -f "$d" ] && dpkg-deb -x "$d" "$root"
		done
	done
	[ -e "$root/usr/lib/x86_64-linux-gnu/libpython$v.so" ] &&
		[ -f "$root/usr/include/python$v/Python.h" ] ||
		die "libpython$v.so or Python.h not found in the unpacked packages"
	aptcache policy "libpython$v" "libpython$v-dev" |
		awk '/^[a-z]/{p=$1} /Candidate/{print p, $2}' >"$base/.done-lib-$v"
}

# compile and link against the unpacked libpython (with the host's compiler
# and glibc headers); the program then runs through the unpacked loader
# (cmd's --library-path and PYTHONHOME). The host's linker finds
# libpython's own libraries through rpath-link, but checks its symbols
# against the host's older glibc (the program links that one): the check is
# left to the unpacked loader, which runs it with unstable's
cflags() {
	v=$1
	lib=$root/usr/lib/x86_64-linux-gnu
	echo "-I$root/usr/include/python$v -I$root/usr/include -L$lib -Wl,-rpath-link,$lib:$root/lib/x86_64-linux-gnu -Wl,--allow-shlib-undefined -lpython$v"
}

loader() {
	for l in "$root/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" "$root/lib64/ld-linux-x86-64.so.2"; do
		[ -e "$l" ] && { echo "$l"; return; }
	done
	die "no ld-linux-x86-64.so.2 under $root"
}

# one line for a shell (assumes no spaces in the build path)
cmdline() {
	v=$1
	echo "env PYTHONHOME=$root/usr $base/bin/python$v --library-path $root/usr/lib/x86_64-linux-gnu:$root/lib/x86_64-linux-gnu $root/usr/bin/python$v"
}

[ $# -ge 1 ] || die "usage: $0 fetch|run|cmd VERSION [args] | root"
what=$1
shift
case $what in
fetch) fetch "$1" && cat "$base/.done-$1" ;;
run)
	v=$1
	shift
	fetch "$v"
	PYTHONHOME=$root/usr exec "$base/bin/python$v" \
		--library-path "$root/usr/lib/x86_64-linux-gnu:$root/lib/x86_64-linux-gnu" \
		"$root/usr/bin/python$v" "$@"
	;;
cmd) fetch "$1" && cmdline "$1" ;;
root) echo "$root" ;;
fetch-lib) fetch_lib "$1" && cat "$base/.done-lib-$1" ;;
cflags) fetch_lib "$1" && cflags "$1" ;;
*) die "unknown command $what" ;;
esac
