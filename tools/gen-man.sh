#!/bin/sh
# SPDX-License-Identifier: MIT
# autoprof-bpf(8) from the binary's own --help texts, so the man page and
# --help cannot drift: each command's USAGE lines make the SYNOPSIS, its
# text the DESCRIPTION, its option lines OPTIONS, its EXAMPLES and EXIT
# STATUS blocks those sections. Only NAME, the first paragraph, FILES and
# SEE ALSO are written here. The format of a help text it relies on:
# "USAGE: " lines; option lines indented 2-6 columns and starting with '-',
# the description after two spaces, continued on deeper-indented lines; a
# block header ("EXAMPLES:", "EXIT STATUS: ...", "FILTERS (...):") in
# capitals at the start of a paragraph.
# Usage: tools/gen-man.sh BINARY VERSION CMD... > autoprof-bpf.8
set -eu
[ $# -ge 3 ] || { echo "usage: $0 BINARY VERSION CMD..." >&2; exit 2; }
bin=$1 version=$2
shift 2
# the page's date: the build's (reproducible builds set SOURCE_DATE_EPOCH),
# else the last commit's, else today
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
date=$(date -u -d "@$epoch" +%Y-%m-%d)
help=$(for c in "$@"; do
	printf '\001%s\n' "$c"
	"$bin" "$c" --help || { echo "gen-man: $bin $c --help failed" >&2; exit 1; }
done) || exit 1
# FILES lists the credentials file only when the agent has --credentials
creds=0
case "$help" in *--credentials*) creds=1 ;; esac

printf '%s\n' "$help" | awk -v version="$version" -v date="$date" -v creds="$creds" -v sq="'" '
# roff: a backslash is \e, every hyphen a minus (options copy-paste as
# typed); `code` is bold; a line starting with . or a quote is guarded by \&
function esc(s) {
	gsub(/\\/, "\\e", s)
	gsub(/-/, "\\-", s)
	return s
}
function guard(s,   n, i, out, l, lines) {
	n = split(s, lines, "\n")
	out = ""
	for (i = 1; i <= n; i++) {
		l = lines[i]
		sub(/^[ \t]+/, "", l)
		if (substr(l, 1, 1) == "." || substr(l, 1, 1) == sq)
			l = "\\&" l
		out = out l (i < n ? "\n" : "")
	}
	return out
}
function text(s) {
	s = esc(s)
	while (match(s, /`[^`]*`/))
		s = substr(s, 1, RSTART - 1) "\\fB" substr(s, RSTART + 1, RLENGTH - 2) "\\fR" \
			substr(s, RSTART + RLENGTH)
	return guard(s)
}
# an option or usage line: options and literal words bold, metavariables
# (capitals) italic, punctuation roman
function spec(s,   out, t) {
	out = ""
	while (length(s)) {
		if (match(s, /^--?[A-Za-z0-9][-A-Za-z0-9]*/) || match(s, /^--/) ||
		    match(s, /^[a-z][-a-z0-9]*/)) {
			out = out "\\fB" esc(substr(s, 1, RLENGTH)) "\\fR"
		} else if (match(s, /^[A-Z][A-Z0-9_]*/)) {
			out = out "\\fI" substr(s, 1, RLENGTH) "\\fR"
		} else {
			RLENGTH = 1
			out = out esc(substr(s, 1, 1))
		}
		s = substr(s, RLENGTH + 1)
	}
	return guard(out)
}
function indent(s) {
	match(s, /^ */)
	return RLENGTH
}
# the paragraph being collected goes to the section it belongs to
function flush_par() {
	sub(/^[ \n]+/, "", par)
	if (par == "" && opt == "")
		return
	if (state == "desc" || state == "notes")
		desc[cmd] = desc[cmd] ".PP\n" text(par) "\n"
	else if (state == "opts" && opt != "")
		opts[cmd] = opts[cmd] ".TP\n" spec(opt) "\n" text(par) "\n"
	else if (state == "opts" || state == "header")
		opts[cmd] = opts[cmd] ".PP\n" hdr text(par) "\n"
	else if (state == "exit")
		exits[cmd] = exits[cmd] text(par) "\n"
	par = ""
	opt = ""
	hdr = ""
}
function add(s) {
	par = par (par == "" ? "" : "\n") s
}
/^\001/ {
	flush_par()
	cmd = substr($0, 2)
	cmds[++ncmds] = cmd
	state = "usage"
	prev_blank = 1
	next
}
state == "usage" && /^USAGE: / {
	syn[cmd] = syn[cmd] spec(substr($0, 8)) "\n.br\n"
	next
}
state == "usage" && /^ +autoprof-bpf/ {
	syn[cmd] = syn[cmd] spec($0) "\n.br\n"
	next
}
state == "usage" && /^$/ {
	state = "desc"
	prev_blank = 1
	next
}
/^$/ {
	flush_par()
	prev_blank = 1
	if (state == "examples")
		state = "notes"
	else if (state == "header")
		state = "opts"
	next
}
# a block header: capitals at the start of a paragraph
prev_blank && /^[A-Z][A-Z ]*[A-Z]( \(|:)/ {
	flush_par()
	prev_blank = 0
	if ($0 ~ /^EXAMPLES:/) {
		state = "examples"
		next
	}
	if ($0 ~ /^EXIT STATUS:/) {
		state = "exit"
		add(substr($0, 14))
		next
	}
	state = "header"
	match($0, /^[A-Z][A-Z ]*[A-Z]/)
	hdr = "\\fB" substr($0, 1, RLENGTH) "\\fR"
	if (substr($0, RLENGTH + 1, 1) == " ")
		hdr = hdr " "
	add(substr($0, RLENGTH + 1))
	next
}
# an option line: indented 2-6 columns, starting with -
/^ +-/ && indent($0) <= 6 && state != "examples" {
	flush_par()
	state = "opts"
	prev_blank = 0
	# the spec: options, each with its metavariable, joined by ", "; the
	# text after it (one space is enough when the spec fills its column)
	s = substr($0, indent($0) + 1)
	opt = ""
	while (match(s, /^--?[A-Za-z0-9][-A-Za-z0-9]*/)) {
		opt = opt substr(s, 1, RLENGTH)
		s = substr(s, RLENGTH + 1)
		if (match(s, /^[ =][A-Z][A-Z0-9_:]*(\[[^] ]*\])?/)) {
			opt = opt substr(s, 1, RLENGTH)
			s = substr(s, RLENGTH + 1)
		}
		if (!match(s, /^, /))
			break
		opt = opt ", "
		s = substr(s, 3)
	}
	sub(/^ +/, "", s)
	add(s)
	next
}
state == "examples" {
	sub(/^  /, "")
	ex[cmd] = ex[cmd] esc($0) "\n"
	prev_blank = 0
	next
}
{
	if (state == "opts" && opt == "" && par == "")
		state = "notes"
	add($0)
	prev_blank = 0
}
END {
	flush_par()
	print ".\\\" Generated by tools/gen-man.sh from autoprof-bpf CMD --help; do not edit."
	printf ".TH AUTOPROF\\-BPF 8 \"%s\" \"autoprof\\-bpf %s\" \"System Administration\"\n", date, version
	print ".nh"
	print ".ad l"
	print ".SH NAME"
	print "autoprof\\-bpf \\- system\\-wide eBPF profiler with Python stacks in native and kernel stacks"
	print ".SH SYNOPSIS"
	for (i = 1; i <= ncmds; i++)
		printf "%s", syn[cmds[i]]
	print ".SH DESCRIPTION"
	print "\\fBautoprof\\-bpf\\fR samples the CPU with eBPF, walks CPython stacks in the"
	print "kernel and splices them into the native and kernel frames, then writes"
	print "the run as files and a diagnosis. Its commands are"
	for (i = 1; i <= ncmds; i++)
		printf "\\fB%s\\fR%s\n", esc(cmds[i]), i == ncmds ? "." : i == ncmds - 1 ? " and" : ","
	print "\\fBrun\\fR is the default: \\fBautoprof\\-bpf \\-\\- CMD\\fR is \\fBautoprof\\-bpf run \\-\\- CMD\\fR."
	for (i = 1; i <= ncmds; i++) {
		printf ".SS %s\n%s", esc(cmds[i]), desc[cmds[i]]
	}
	print ".SH OPTIONS"
	for (i = 1; i <= ncmds; i++)
		printf ".SS %s\n%s", esc(cmds[i]), opts[cmds[i]]
	print ".SH EXIT STATUS"
	for (i = 1; i <= ncmds; i++)
		printf ".TP\n.B %s\n%s", esc(cmds[i]), exits[cmds[i]]
	print ".SH FILES"
	print ".TP\n.I /etc/default/autoprof\\-bpf"
	print "The agent\\(aqs options for the systemd unit, as \\fBAUTOPROF_ARGS=\\fR\\(dq...\\(dq."
	if (creds) {
		print ".TP\n.I /etc/autoprof\\-bpf/credentials"
		print "The sinks\\(aq credentials (\\fB\\-\\-credentials\\fR), KEY=VALUE lines; root\\(aqs, mode 0600."
	}
	print ".TP\n.I /var/lib/autoprof\\-bpf"
	print "The agent\\(aqs store of windows (the default of \\fBagent \\-o\\fR)."
	print ".TP\n.I autoprof\\-bpf.service"
	print "The systemd unit that runs \\fBautoprof\\-bpf agent\\fR."
	print ".SH EXAMPLES"
	for (i = 1; i <= ncmds; i++) {
		if (ex[cmds[i]] == "")
			continue
		printf ".PP\n.nf\n.RS 4\n%s.RE\n.fi\n", ex[cmds[i]]
	}
	print ".SH SEE ALSO"
	print ".BR systemctl (1),"
	print ".BR systemd.exec (5),"
	print ".BR perf (1),"
	print ".BR bpftool (8)"
}'
