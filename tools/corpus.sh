#!/bin/bash
# SPDX-License-Identifier: MIT
# The corpus of real programs nobody here wrote (issue 15), their truths
# measured without autoprof-bpf, and autoprof-bpf's findings beside them.
#   tools/corpus.sh setup               install the pinned packages (cached)
#   tools/corpus.sh list                the programs
#   tools/corpus.sh truth NAME [SCALE]  gc.callbacks/atexit/getrusage truths
#                                       and cProfile's own-time ranking
#   tools/corpus.sh perf NAME [SCALE]   perf record -g on the pyenv 3.11 build
#                                       (symbols): GC, shutdown, top symbols
#   tools/corpus.sh cprofile NAME [SCALE]  re-measure cProfile's ranking
#   tools/corpus.sh run NAME [SCALE]    autoprof-bpf on the program
#   tools/corpus.sh judge NAME [SCALE [DIR]]  run it and judge the findings
#   tools/corpus.sh table [SCALE]       all of it for every program, a table
# SCALE 1 (default) is the tests' small inputs; make bench uses 4. The
# program runs on CORPUS_PY (default Debian's stripped /usr/bin/python3.11).
# Outputs go to build/corpus/{truth,perf,ours}-SCALE/NAME*.
# Packages are installed with the pip of the pyenv 3.11 (same ABI as the
# stock 3.11) into build/corpus/site-packages, wheels only, reinstalled only when
# tests/workloads/corpus/requirements.txt changes. Without a package index
# setup fails, and so does everything that needs it.
set -u
cd "$(dirname "$0")/.."
AP=${AP:-build/autoprof-bpf}
PY=${CORPUS_PY:-/usr/bin/python3.11}
PIP=${CORPUS_PIP:-$(ls -d /root/.pyenv/versions/3.11.*/bin/pip 2>/dev/null | tail -1)}
SYMS_PY=${CORPUS_SYMS_PY:-$(ls -d /root/.pyenv/versions/3.11.*/bin/python3.11 2>/dev/null | tail -1)}
CW=tests/workloads/corpus
REQ=$CW/requirements.txt
# named like a virtual environment's: installed packages are libraries
SITE=build/corpus/site-packages
PROGRAMS="compileall rst2html pyflakes black jsontool networkx sympy"

die() { echo "corpus: $*" >&2; exit 1; }

setup() {
	# one at a time (make test starts one beside its first stages, and the
	# pattern table's asks too): the second waits, then finds it installed
	mkdir -p build/corpus
	exec 8>build/corpus/.setup-lock
	flock 8
	if cmp -s $REQ $SITE/.pinned 2>/dev/null; then
		exec 8>&-
		return 0
	fi
	[ -n "$PIP" ] && [ -x "$PIP" ] || die "no pip of a CPython 3.11 under /root/.pyenv/versions to install the corpus"
	rm -rf $SITE.tmp
	mkdir -p build/corpus
	if ! "$PIP" install -q --disable-pip-version-check --no-deps --only-binary :all: --no-compile \
		--target $SITE.tmp -r $REQ >build/corpus/pip.log 2>&1; then
		die "installing $REQ failed (is the package index reachable?): $(grep -m1 ERROR build/corpus/pip.log)"
	fi
	# the .pyc files, by the interpreter that runs the programs and on every
	# CPU (9 s here; pip's own byte-compiling took 30): a program's first run
	# must not compile its imports. A file that does not compile (test data
	# in a package) is no reason to fail
	$PY -m compileall -q -j 0 $SITE.tmp >>build/corpus/pip.log 2>&1 || true
	cp $REQ $SITE.tmp/.pinned
	rm -rf $SITE && mv $SITE.tmp $SITE
	exec 8>&-
}

data() { # SCALE -> the inputs' directory
	local d=build/corpus/data-$1
	if [ ! -e $d/.done ] || [ $CW/gen_inputs.py -nt $d/.done ]; then
		rm -rf $d
		python3 $CW/gen_inputs.py $d $1 >&2 || die "generating the inputs failed"
		touch $d/.done
	fi
	echo $d
}

# the program's arguments after the interpreter
args() { # NAME SCALE
	local d s=$2 i
	d=$(data $s) || exit 1
	case $1 in
	# compile() behind importlib; at SCALE > 1 the same tree SCALE times
	compileall) echo "-m compileall -f -q$(for ((i = 0; i < s; i++)); do printf " %s" $d/stdlib-all; done)" ;;
	rst2html) echo "-m docutils $d/manual.rst /dev/null" ;;   # docutils: a doc builder
	pyflakes) echo "-m pyflakes $d/stdlib" ;;                 # a linter: ast + tree walk
	black) echo "-m black -q --fast --check $d/big.py" ;;      # mypyc-compiled: native below
	jsontool) echo "-m json.tool $d/records.json /dev/null" ;; # indent: the pure-Python encoder
	networkx) echo "$CW/nx_paths.py $((2000 * s))" ;;           # object graph, GC
	sympy) echo "$CW/sym_series.py $s" ;;               # imports, symbolic
	*) die "unknown program $1 (tools/corpus.sh list)" ;;
	esac
}

export PYTHONPATH=$PWD/$SITE
# black's cache (unused with --check of a file that needs formatting) stays
# under build/
export BLACK_CACHE_DIR=$PWD/build/corpus/black-cache

# run a measurement holding the shared lock (CORPUS_LOCKED=1: the caller, a
# test or make bench, holds it already)
locked() {
	if [ -n "${CORPUS_LOCKED:-}" ]; then
		"$@"
	else
		flock /tmp/autoprof-bpf.lock "$@"
	fi
}

# cProfile's ranking of own time: a fact about the program and its inputs,
# not the machine. For the tests' scale it is kept in the tree
# (tests/workloads/corpus/cprofile/, rewritten by `tools/corpus.sh cprofile
# NAME`), for others cached under build/corpus/truth-SCALE/
cprof_file() { # NAME SCALE
	[ $2 = 1 ] && echo $CW/cprofile/$1.json || echo build/corpus/truth-$2/$1.cprofile.json
}
# the calls that are a program's phases (timed by the truth wrapper)
phases_of() { # NAME
	case $1 in
	compileall | pyflakes) echo "builtins.compile" ;; # pyflakes: ast.parse's compile()
	jsontool) echo "json.load json.dump" ;;
	esac
}
cprof() { # NAME SCALE [force]
	local f a
	f=$(cprof_file $1 $2)
	[ -s $f ] && [ -z "${3:-}" ] && return 0
	mkdir -p "$(dirname $f)"
	a=$(args $1 $2) || die "$1: no command line (see above)"
	# shellcheck disable=SC2086
	CORPUS_QUIET=1 locked nice -n -10 python3 tools/corpus_truth.py cprofile $f.tmp $PY $a || return 1
	# the CPU share of the calls that are the program's phases, timed by
	# wrappers in an unprofiled run (cProfile's per-call cost skews them)
	local ph
	ph=$(phases_of $1)
	if [ -n "$ph" ]; then
		# shellcheck disable=SC2086
		CORPUS_QUIET=1 CORPUS_TIME="$ph" locked python3 tools/corpus_truth.py measure $f.ph $PY $a ||
			return 1
	else
		echo '{}' >$f.ph
	fi
	# paths relative to the tree: the same file on every machine
	jq -s '.[0] + {phases_pct: .[1].phases_pct}' $f.tmp $f.ph | sed -e "s|$PWD/||g" |
		jq '{program, python, cpu_s, phases_pct, cprofile}' >$f && rm -f $f.tmp $f.ph
}

# the truths of an unprofiled run (wall, CPU, GC, shutdown, demand)
truth() { # NAME SCALE
	local o=build/corpus/truth-$2 a
	mkdir -p $o
	a=$(args $1 $2) || die "$1: no command line (see above)"
	# shellcheck disable=SC2086
	CORPUS_QUIET=1 python3 tools/corpus_truth.py measure $o/$1.json $PY $a || return 1
	cprof $1 $2
}

# perf with symbols: the share of samples under the collector and under
# Py_FinalizeEx (children), and the top symbols by self samples
perfrun() { # NAME SCALE
	local o=build/corpus/perf-$2 a
	mkdir -p $o
	[ -x "$SYMS_PY" ] || die "no pyenv CPython 3.11 with symbols"
	command -v perf >/dev/null || die "perf is not installed (tools/install-deps.sh)"
	a=$(args $1 $2) || die "$1: no command line (see above)"
	# shellcheck disable=SC2086
	perf record -q -e cpu-clock -F 499 --call-graph dwarf,16384 -o $o/$1.data -- $SYMS_PY $a \
		>/dev/null 2>$o/$1.err
	perf report -i $o/$1.data --children --stdio --no-demangle -g none --sort sym \
		--percent-limit 0.5 2>/dev/null >$o/$1.children.txt
	perf report -i $o/$1.data --no-children --stdio -g none --sort dso,sym \
		--percent-limit 1 2>/dev/null >$o/$1.self.txt
	{
		echo "perf (cpu-clock, $SYMS_PY, children %):"
		grep -E ' (gc_collect_main|Py_FinalizeEx|_PyImport_|builtin_compile)' $o/$1.children.txt |
			awk '{ print "  " $1 " " $NF }' | head -6
		echo "top self:"
		grep -E '^ +[0-9]' $o/$1.self.txt | head -6 | awk '{ $1 = "  " $1; print }'
	} >$o/$1.summary.txt
	cat $o/$1.summary.txt
}

# autoprof-bpf on the program, run by the truth wrapper (on the same
# interpreter), so the same run also measures its own GC, shutdown and
# run-queue time: DIR/NAME (the run) and DIR/NAME.truth.json
ours() { # NAME SCALE [DIR]
	local o=${3:-build/corpus/ours-$2} a
	mkdir -p $o
	a=$(args $1 $2) || die "$1: no command line (see above)"
	rm -rf $o/$1 $o/$1.truth.json
	# shellcheck disable=SC2086
	# (its phases timed in this run too: the judge compares like with like)
	$AP -q -F ${CORPUS_HZ:-499} -o $o/$1 -- env CORPUS_QUIET=1 CORPUS_TIME="$(phases_of $1)" \
		$PY -S tools/corpus_truth.py measure $o/$1.truth.json $PY $a >/dev/null 2>$o/$1.err
	[ -s $o/$1/findings.json ] || die "$1: autoprof-bpf wrote no findings.json: $(tail -1 $o/$1.err)"
	[ -s $o/$1.truth.json ] || die "$1: the truth wrapper wrote nothing: $(tail -1 $o/$1.err)"
}

# issue 15's acceptance for one program (tests/integration/corpus_judge.py)
judge() { # NAME SCALE [DIR]
	local o=${3:-build/corpus/ours-$2}
	python3 tests/integration/corpus_judge.py $1 $o/$1 $o/$1.truth.json "$(cprof_file $1 $2)"
}

# one line per program: the truths of an unprofiled run, cProfile's top
# own time; then autoprof-bpf's top three findings and the judge's verdict
table() { # SCALE
	local s=$1 n t c f v
	printf "%-10s %6s %6s %5s %6s %5s  %s\n" program wall-s cpu-s gc% shut% imp% "cProfile: top own time (share)"
	for n in $PROGRAMS; do
		t=build/corpus/truth-$s/$n.json c=$(cprof_file $n $s)
		f=build/corpus/ours-$s/$n/findings.json
		jq -r -s '.[0] as $t | .[1].cprofile as $c |
			"\($t.wall_s * 100 | round / 100) \($t.cpu_s * 100 | round / 100) \($t.gc_pct | round) \($t.shutdown_pct | round) \($c.import_cum_pct | round) \($c.top[0].name | sub(".*/"; "")) (\($c.top[0].tottime_pct | round)%), \($c.top[1].name | sub(".*/"; "")) (\($c.top[1].tottime_pct | round)%)"' \
			$t $c | awk -v n=$n '{ printf "%-10s %6s %6s %5s %6s %5s  ", n, $1, $2, $3, $4, $5; $1 = $2 = $3 = $4 = $5 = ""; sub(/^ +/, ""); print }'
		jq -r '.findings[:3][] | "    \(.id) [\(.location)] at stake \(.impact_s // "-") s: \(.explanation[:120])"' \
			$f 2>/dev/null || echo "    no findings.json"
		if v=$(judge $n $s 2>&1); then
			echo "    judge: all true, the biggest cost among them"
		else
			echo "$v" | grep -v '^     ' | sed 's/^/    judge: /'
		fi
	done
}

cmd=${1:-}
shift || true
case $cmd in
setup) setup ;;
list) echo $PROGRAMS ;;
args) setup && args $1 ${2:-1} ;;
truth) setup && truth $1 ${2:-1} && jq -c 'del(.cprofile)' build/corpus/truth-${2:-1}/$1.json ;;
perf) setup && perfrun $1 ${2:-1} ;;
cprofile) setup && cprof $1 ${2:-1} force ;;
run) setup && ours $1 ${2:-1} && jq -r '.findings[:3][] | "\(.pattern_id) \(.impact_s) \(.explanation)"' \
	build/corpus/ours-${2:-1}/$1/findings.json ;;
judge) setup && cprof $1 ${2:-1} && ours $1 ${2:-1} "${3:-}" && judge $1 ${2:-1} "${3:-}" ;;
table)
	s=${1:-1}
	setup || exit 1
	for n in $PROGRAMS; do
		truth $n $s || echo "corpus: $n: truth failed" >&2
		ours $n $s
	done
	table $s
	;;
*) sed -n '3,20p' "$0" >&2; exit 2 ;;
esac
