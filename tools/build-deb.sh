#!/bin/sh
# SPDX-License-Identifier: MIT
# `make deb`: the Debian package, built by dpkg-buildpackage -b from a copy of
# the tree (debian/), into build/deb/. `make deb-check` (--check): lintian on
# it (an error fails, warnings are listed) and its contents: the files of
# `make install`, Depends from dpkg-shlibdeps, /etc/default/autoprof-bpf a
# conffile, the unit enabled and started by the maintainer scripts.
set -eu
cd "$(dirname "$0")/.."
out=build/deb
version=$(sed -n 's/^VERSION := //p' Makefile)
deb_version=$(dpkg-parsechangelog -S Version)
if [ "$version" != "$deb_version" ]; then
	echo "build-deb: debian/changelog is at $deb_version, the Makefile at $version: add a changelog entry" >&2
	exit 1
fi
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
deb=$out/autoprof-bpf_${version}_$arch.deb

check() {
	[ -f "$deb" ] || { echo "build-deb: no $deb (make deb)" >&2; return 1; }
	bad=0
	lintian --fail-on error --tag-display-limit 0 "$out/autoprof-bpf_${version}_$arch.changes" \
		>$out/lintian.log 2>&1 || bad=1
	echo "lintian: $(grep -c '^E:' $out/lintian.log) errors, $(grep -c '^W:' $out/lintian.log) warnings"
	grep '^[EW]:' $out/lintian.log || true
	files=$(dpkg-deb -c "$deb" | awk '{ print $6 }')
	for f in ./usr/bin/autoprof-bpf ./usr/share/man/man8/autoprof-bpf.8.gz \
		./usr/share/bash-completion/completions/autoprof-bpf \
		./lib/systemd/system/autoprof-bpf.service ./etc/default/autoprof-bpf; do
		echo "$files" | grep -qx "$f" || { echo "deb-check: $f missing from $deb"; bad=1; }
	done
	dpkg-deb -f "$deb" Depends | grep -q libbpf || { echo "deb-check: Depends lacks libbpf"; bad=1; }
	tmp=$(mktemp -d)
	dpkg-deb -e "$deb" "$tmp"
	grep -qx /etc/default/autoprof-bpf "$tmp/conffiles" || { echo "deb-check: /etc/default/autoprof-bpf is no conffile"; bad=1; }
	grep -q 'deb-systemd-helper.*enable.*autoprof-bpf.service' "$tmp/postinst" ||
		{ echo "deb-check: postinst does not enable autoprof-bpf.service"; bad=1; }
	rm -rf "$tmp"
	[ $bad = 0 ] && echo "deb-check: $deb ok (Depends: $(dpkg-deb -f "$deb" Depends))"
	return $bad
}
if [ "${1:-}" = --check ]; then
	check
	exit
fi

src=$out/src/autoprof-bpf-$version
rm -rf "$out" && mkdir -p "$src"
# the tracked and new files, as the work tree has them (no build/)
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -C "$src" -xf -
else
	tar --exclude=./build -cf - . | tar -C "$src" -xf -
fi
echo "build-deb: dpkg-buildpackage -b in $src (log: $out/build.log)"
if ! (cd "$src" && nice -n 10 dpkg-buildpackage -b -us -uc -j2) >$out/build.log 2>&1; then
	tail -20 $out/build.log >&2
	echo "build-deb: dpkg-buildpackage failed (log: $out/build.log)" >&2
	exit 1
fi
mv "$out"/src/*.deb "$out"/src/*.changes "$out"/src/*.buildinfo "$out"/ 2>/dev/null || true
mv "$out"/src/*.ddeb "$out"/ 2>/dev/null || true
ls "$out"/*.deb
