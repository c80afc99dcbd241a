// SPDX-License-Identifier: MIT
/* `autoprof-bpf [run] [options] -- CMD` and `-p PID`: parse, check the
 * environment, load, launch or attach, collect, write artifacts, summarize. */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <pwd.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "shared.h"
#include "artifact/artifact.h"
#include <sys/stat.h>
#include "analyze/analyze.h"
#include "artifact/run_json.h"
#include "cmds.h"
#include "engine.h"
#include "collect/cpu.h"
#include "collect/procstat.h"
#include "log.h"
#include "loop.h"
#include "outdir.h"
#include "report/formats.h"
#include "report/report.h"
#include "runner.h"
#include "run_repeat.h"
#include "diff/repeat.h"
#include "unwind/unwind.h"
#include "util.h"

static volatile sig_atomic_t sig_count, sig_last;
static const char *sig_name(int sig);
static int sig_count_at_stop; /* signals received when profiling stopped */
static volatile pid_t sig_child;

static const char usage_text[] =
"USAGE: autoprof-bpf [OPTIONS] -- CMD [ARGS...]\n"
"       autoprof-bpf [OPTIONS] -p PID[,PID...] [-d SEC]\n"
"       autoprof-bpf --all [FILTERS] [OPTIONS] [-d SEC]\n"
"\n"
"Profile a command from its first instruction, or running processes, with\n"
"eBPF: on-CPU samples with kernel and complete native user stacks, off-CPU\n"
"time by stack and reason, syscall statistics and a /proc metrics timeline;\n"
"then diagnose the run: findings.json and report.md name what dominated,\n"
"where, how sure we are and what to try; report.html shows it with an\n"
"interactive flame graph, and profile.pb.gz (pprof), speedscope.json and\n"
"trace.json (Perfetto) open in those tools. `autoprof-bpf analyze DIR` redoes\n"
"the diagnosis from a saved run, `autoprof-bpf report DIR` the pictures.\n"
"\n"
"  -p, --pid PID[,PID...]   attach to running processes (with --all: only these)\n"
"      --all                every process on the host, including those that\n"
"                           start later, until Ctrl-C or -d (needs no command)\n"
"  -d, --duration SEC       stop after SEC seconds (attach mode; an upper\n"
"                           bound on profiling in launch mode)\n"
"  -F, --frequency HZ       samples per second per CPU (default 99, 1-10000)\n"
"  -o, --output DIR         output directory (default ./autoprof-out/<UTC time>-<comm>);\n"
"                           it must be new, empty, or a finished run to replace\n"
"      --force              replace the finished run in DIR as a whole\n"
"      --no-children        do not follow processes the target forks\n"
"      --no-offcpu          no off-CPU collector (sched_switch)\n"
"      --no-syscalls        no syscall statistics\n"
"      --no-memory          no memory profile (page faults and mmap/brk calls)\n"
"      --memory             the memory profile (the default; with --all only when\n"
"                           given): page-fault samples\n"
"                           by stack (memory.folded) and mapping calls' bytes\n"
"      --memory-rate HZ     page-fault samples per second per CPU at most\n"
"                           (default 1000, 1-1000) of one per 256 faults (1 MiB);\n"
"                           over the rate, a random share, weighted to match\n"
"      --memory-thp         weigh a fault that maps a transparent huge page as\n"
"                           2 MiB (tp_btf/rss_stat: ~140 ns per change of any\n"
"                           process's anonymous memory); without, it is 4 KiB\n"
"      --min-block US       off-CPU stacks: only blocks of at least US\n"
"                           microseconds (default 0: all); per-thread totals\n"
"                           always count every block\n"
"      --slow-syscall MS    keep syscalls of at least MS milliseconds with their\n"
"                           stacks (default 10)\n"
"      --trace-min-block US keep each off-CPU interval of at least US\n"
"                           microseconds for trace.json (default 1000; 0: none)\n"
"  -f, --format LIST        files to write besides the report, comma-separated:\n"
"                           html, svg, pprof, speedscope, trace, all, none\n"
"                           (default: all)\n"
"      --stack-size BYTES   user stack bytes copied per sample (default 32768,\n"
"                           512-65536): deeper native stacks need more\n"
"      --ringbuf-mb MB      sample ring buffer size (default 16)\n"
"      --py-depth N         Python frames walked per sample (default and max 128;\n"
"                           deeper stacks are marked truncated)\n"
"      --python-only        stacks.folded and summary: Python frames only\n"
"      --native-only        ... native and kernel frames only\n"
"      --full-stacks        ... everything, interpreter internals included\n"
"                           (default: Python frames spliced into native stacks,\n"
"                           interpreter internals hidden)\n"
"      --patterns DIR       also evaluate the patterns in DIR/*.json (see\n"
"                           docs/PATTERNS.md); a bad file is reported and skipped\n"
"      --user NAME          run the command as user NAME (a name or uid)\n"
"      --as-root            run the command as root (default: as the user who\n"
"                           ran sudo, with that user's groups and HOME)\n"
"      --repeat N           run the command N times (2-100), one after another,\n"
"                           into DIR/run-1 .. DIR/run-N, then the run-to-run\n"
"                           variance and its findings in DIR/repeat.json and\n"
"                           repeat.md (the run's number is in $AUTOPROF_REPEAT_RUN)\n"
"      --py-calls           count entries into Python from C per code object with\n"
"                           a uprobe (artifacts/python_calls.json); costs ~1 us per\n"
"                           entry, so callback-heavy code slows down\n"
"      --malloc             count every malloc, calloc, realloc and free of the C\n"
"                           library with uprobes, sample allocations by bytes with\n"
"                           their stacks, and report what is still allocated at the\n"
"                           end (see README: it costs microseconds per call)\n"
"      --malloc-rate BYTES  --malloc: one sample per BYTES allocated on average\n"
"                           (default 524288, 1-1073741824)\n"
"  -q, --quiet              no status line and no summary\n"
"  -v, --verbose            more messages (-vv: debug and the BPF verifier log)\n"
"      --version            print the version and exit\n"
"  -h, --help               this help\n"
"\n"
"FILTERS (with --all; applied in the kernel: what they leave out is never\n"
"recorded, only counted as filtered_out):\n"
"%s"
"\n"
"EXAMPLES:\n"
"  sudo autoprof-bpf -- python3 app.py        # profile a script from start to end\n"
"  sudo autoprof-bpf -p 1234 -d 30            # attach to pid 1234 for 30 seconds\n"
"  sudo autoprof-bpf -F 999 -o out -- ./a.out # higher rate, chosen output directory\n"
"  sudo autoprof-bpf --all -d 10              # the whole host for 10 seconds\n"
"  sudo autoprof-bpf --all --comm python3     # every python3 process, until Ctrl-C\n"
"  sudo autoprof-bpf --repeat 10 -o set -- python3 app.py  # 10 runs and their variance\n"
"\n"
"The command runs as the user who ran sudo (its groups and HOME, no\n"
"capabilities) unless --user or --as-root say otherwise.\n"
"\n"
"EXIT STATUS: the target's (128+N if signal N killed it) in launch mode, else 0;\n"
"2 usage error, 125 profiling failed, 126 command not executable, 127 command not found;\n"
"128+N when signal N ended the wait for a target that still runs.\n";

enum { OPT_NO_CHILDREN = 256, OPT_STACK_SIZE, OPT_RINGBUF_MB, OPT_VERSION, OPT_PY_DEPTH,
       OPT_PYTHON_ONLY, OPT_NATIVE_ONLY, OPT_FULL_STACKS, OPT_PY_CALLS, OPT_NO_OFFCPU,
       OPT_NO_SYSCALLS, OPT_MIN_BLOCK, OPT_SLOW_SYSCALL, OPT_PATTERNS, OPT_TRACE_MIN_BLOCK,
       OPT_FORCE, OPT_USER, OPT_AS_ROOT, OPT_ALL, OPT_REPEAT, OPT_NO_MEMORY, OPT_MEMORY,
       OPT_MEMORY_RATE, OPT_MALLOC, OPT_MALLOC_RATE, OPT_MEMORY_THP };

static int usage_error(const char *fmt, const char *arg)
{
	fputs("autoprof-bpf: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs(" (see --help)\n", stderr);
	return -AP_EXIT_USAGE;
}

static bool pid_listed(const struct ap_options *o, uint32_t pid)
{
	int i;

	for (i = 0; i < o->nr_pids; i++)
		if (o->pids[i] == pid)
			return true;
	return false;
}

static int parse_pids(struct ap_options *o, const char *arg)
{
	char *dup = xstrdup(arg), *tok, *rest = dup;
	long v;
	int err = 0;

	/* strsep, not strtok: "1,,2" and a trailing comma are errors, not "1,2" */
	while ((tok = strsep(&rest, ","))) {
		if (parse_long(tok, 1, 0x7fffffff, &v)) {
			err = usage_error("-p: '%s' is not a process id", tok);
			break;
		}
		if (!pid_listed(o, v)) { /* -p 1,1 is pid 1 once */
			o->pids = xrealloc(o->pids, (o->nr_pids + 1) * sizeof(*o->pids));
			o->pids[o->nr_pids++] = v;
		}
	}
	free(dup);
	return err;
}

/* 0 to run, 1 when --help/--version was handled, or -exit_code */
static int parse_options(int argc, char **argv, struct ap_options *o)
{
	static const struct option longopts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "duration", required_argument, NULL, 'd' },
		{ "frequency", required_argument, NULL, 'F' },
		{ "output", required_argument, NULL, 'o' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "no-children", no_argument, NULL, OPT_NO_CHILDREN },
		{ "stack-size", required_argument, NULL, OPT_STACK_SIZE },
		{ "ringbuf-mb", required_argument, NULL, OPT_RINGBUF_MB },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "py-depth", required_argument, NULL, OPT_PY_DEPTH },
		{ "python-only", no_argument, NULL, OPT_PYTHON_ONLY },
		{ "native-only", no_argument, NULL, OPT_NATIVE_ONLY },
		{ "full-stacks", no_argument, NULL, OPT_FULL_STACKS },
		{ "py-calls", no_argument, NULL, OPT_PY_CALLS },
		{ "no-offcpu", no_argument, NULL, OPT_NO_OFFCPU },
		{ "no-syscalls", no_argument, NULL, OPT_NO_SYSCALLS },
		{ "min-block", required_argument, NULL, OPT_MIN_BLOCK },
		{ "slow-syscall", required_argument, NULL, OPT_SLOW_SYSCALL },
		{ "patterns", required_argument, NULL, OPT_PATTERNS },
		{ "trace-min-block", required_argument, NULL, OPT_TRACE_MIN_BLOCK },
		{ "format", required_argument, NULL, 'f' },
		{ "force", no_argument, NULL, OPT_FORCE },
		{ "user", required_argument, NULL, OPT_USER },
		{ "as-root", no_argument, NULL, OPT_AS_ROOT },
		{ "all", no_argument, NULL, OPT_ALL },
		{ "repeat", required_argument, NULL, OPT_REPEAT },
		{ "no-memory", no_argument, NULL, OPT_NO_MEMORY },
		{ "memory", no_argument, NULL, OPT_MEMORY },
		{ "memory-rate", required_argument, NULL, OPT_MEMORY_RATE },
		{ "malloc", no_argument, NULL, OPT_MALLOC },
		{ "malloc-rate", required_argument, NULL, OPT_MALLOC_RATE },
		{ "memory-thp", no_argument, NULL, OPT_MEMORY_THP },
		AP_FILTER_LONGOPTS,
		{},
	};
	unsigned views = 0; /* which view options were given: one at most */
	bool filters = false; /* a filter option other than -p */
	bool memory_on = false; /* --memory was given */
	long v;
	int c, err;

	optind = 1;
	opterr = 0;
	/* '+': stop at the first non-option, the target's command */
	while ((c = getopt_long(argc, argv, "+p:d:F:o:f:qvh", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			err = parse_pids(o, optarg);
			if (err)
				return err;
			break;
		case OPT_ALL:
			o->all = true;
			break;
		case 'd':
			if (parse_seconds(optarg, &o->duration_ns))
				return usage_error("-d: '%s' is not a positive number of seconds", optarg);
			break;
		case 'F':
			if (parse_long(optarg, 1, 10000, &o->freq))
				return usage_error("-F: frequency '%s' must be an integer from 1 to 10000 Hz",
						   optarg);
			break;
		case 'o':
			o->outdir = optarg;
			break;
		case 'q':
			o->quiet = true;
			break;
		case OPT_FORCE:
			o->force = true;
			break;
		case 'v':
			o->verbose++;
			break;
		case 'h':
			printf(usage_text, ap_filter_usage);
			return 1;
		case OPT_NO_CHILDREN:
			o->no_children = true;
			break;
		case OPT_STACK_SIZE:
			if (parse_long(optarg, 512, AP_USTACK_MAX, &o->stack_size) || o->stack_size % 8)
				return usage_error("--stack-size: '%s' must be a multiple of 8 from 512 to 65536",
						   optarg);
			break;
		case OPT_RINGBUF_MB:
			if (parse_long(optarg, 1, 1024, &v) || (v & (v - 1)))
				return usage_error("--ringbuf-mb: '%s' must be a power of 2 from 1 to 1024",
						   optarg);
			o->ringbuf_mb = v;
			break;
		case OPT_PY_DEPTH:
			if (parse_long(optarg, 1, AP_MAX_PY_FRAMES, &o->py_depth))
				return usage_error("--py-depth: '%s' must be an integer from 1 to 128",
						   optarg);
			break;
		case OPT_PYTHON_ONLY:
			o->view = AP_VIEW_PYTHON;
			views |= 1u << o->view;
			break;
		case OPT_NATIVE_ONLY:
			o->view = AP_VIEW_NATIVE;
			views |= 1u << o->view;
			break;
		case OPT_FULL_STACKS:
			o->view = AP_VIEW_FULL;
			views |= 1u << o->view;
			break;
		case OPT_USER:
			o->user = optarg;
			break;
		case OPT_AS_ROOT:
			o->as_root = true;
			break;
		case OPT_PY_CALLS:
			o->py_calls = true;
			break;
		case OPT_NO_OFFCPU:
			o->no_offcpu = true;
			break;
		case OPT_NO_SYSCALLS:
			o->no_syscalls = true;
			break;
		case OPT_MIN_BLOCK:
			if (parse_long(optarg, 0, 60000000, &v))
				return usage_error("--min-block: '%s' is not a number of microseconds (0-60000000)",
						   optarg);
			o->min_block_ns = v * 1000ull;
			break;
		case OPT_TRACE_MIN_BLOCK:
			if (parse_long(optarg, 0, 60000000, &v))
				return usage_error("--trace-min-block: '%s' is not a number of microseconds (0-60000000)",
						   optarg);
			o->interval_min_ns = v * 1000ull;
			break;
		case 'f':
			if (ap_formats_parse(optarg, &o->formats))
				return usage_error("-f: '%s' is not a list of html, svg, pprof, speedscope, trace, all, none",
						   optarg);
			break;
		case OPT_SLOW_SYSCALL:
			if (parse_long(optarg, 0, 3600000, &v))
				return usage_error("--slow-syscall: '%s' is not a number of milliseconds (0-3600000)",
						   optarg);
			o->slow_ns = v * 1000000ull;
			break;
		case OPT_PATTERNS: {
			struct stat st;

			if (stat(optarg, &st) || !S_ISDIR(st.st_mode))
				return usage_error("--patterns: '%s' is not a directory", optarg);
			o->patterns_dir = optarg;
			break;
		}
		case OPT_VERSION:
			printf("autoprof-bpf %s\n", AP_VERSION);
			return 1;
		case OPT_NO_MEMORY:
			o->no_memory = true;
			break;
		case OPT_MEMORY:
			memory_on = true;
			break;
		case OPT_MEMORY_RATE:
			if (parse_long(optarg, 1, 1000, &o->memory_rate))
				return usage_error("--memory-rate: '%s' must be an integer from 1 to 1000 Hz",
						   optarg);
			break;
		case OPT_REPEAT:
			if (parse_long(optarg, 2, AP_REPEAT_MAX, &v))
				return usage_error("--repeat: '%s' must be a number of runs from 2 to 100",
						   optarg);
			o->repeat = v;
			break;
		case OPT_MALLOC:
			o->malloc = true;
			break;
		case OPT_MEMORY_THP:
			o->memory_thp = true;
			break;
		case OPT_MALLOC_RATE:
			if (parse_long(optarg, 1, 1L << 30, &v))
				return usage_error("--malloc-rate: '%s' must be a number of bytes from 1 to 1073741824",
						   optarg);
			o->malloc_rate = v;
			break;
		case '?':
		default:
			err = ap_filter__option(&o->filter, c, optarg);
			if (err <= 0) {
				if (err)
					return err;
				filters = true;
				break;
			}
			if (optopt && optopt < 256)
				return usage_error("unknown or incomplete option '-%s'",
						   (char[]){ (char)optopt, 0 });
			return usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc) {
		o->argv = argv + optind;
		o->argc = argc - optind;
	}
	if (o->repeat && (o->nr_pids || o->all))
		return usage_error("%s", "--repeat launches the command N times: not with -p or --all");
	if (o->all && o->argv)
		return usage_error("%s", "--all profiles every process: give no command with it");
	if (filters && !o->all)
		return usage_error("%s", "--comm, --cgroup and the --exclude options filter --all: add --all");
	if (o->all) { /* -p filters rather than attaches */
		char pid[16];

		for (c = 0; c < o->nr_pids; c++) {
			snprintf(pid, sizeof(pid), "%u", o->pids[c]);
			err = ap_filter__add_pids(&o->filter, pid, false);
			if (err)
				return err;
		}
		/* processes are found by their samples; following every fork
		 * would follow the host (init's children) */
		o->no_children = true;
		free(o->pids);
		o->pids = NULL;
		o->nr_pids = 0;
	}
	if (o->argv && o->nr_pids)
		return usage_error("%s", "give either a command or -p PID, not both");
	if (!o->argv && !o->nr_pids && !o->all)
		return usage_error("%s", "nothing to profile: give a command after -- or -p PID, or --all");
	if (views & (views - 1))
		return usage_error("%s", "--python-only, --native-only and --full-stacks exclude each other");
	if (o->user && o->as_root)
		return usage_error("%s", "--user and --as-root exclude each other");
	if (o->malloc_rate && !o->malloc)
		return usage_error("%s", "--malloc-rate sets the sampling of --malloc: add --malloc");
	/* the whole host: the memory profile only when asked for (as the
	 * agent's), its page-fault samples being every process's */
	if (o->all && !memory_on && !o->memory_rate && !o->malloc && !o->memory_thp)
		o->no_memory = true;
	if (o->no_memory && (memory_on || o->memory_rate || o->malloc || o->memory_thp))
		return usage_error("%s", memory_on ? "--memory and --no-memory exclude each other" :
				   o->malloc ? "--malloc writes into the memory profile: drop --no-memory" :
				   o->memory_thp ? "--memory-thp weighs the memory profile's huge pages: drop --no-memory" :
					       "--memory-rate sets the page-fault sampling: drop --no-memory");
	if ((o->user || o->as_root) && (o->nr_pids || o->all))
		return usage_error("%s", o->user ? "--user applies to a launched command, not to -p or --all"
					       : "--as-root applies to a launched command, not to -p or --all");
	return 0;
}

/* who owns the output (the invoking user) and who the launched target runs
 * as: that user, --user NAME, or root with --as-root */
static int target_user(struct ap_session *ses)
{
	const char *name = ses->opts.user;
	struct passwd *pw = NULL;
	long v;
	int err;

	ap_invoking_user(&ses->owner_uid, &ses->owner_gid);
	ses->target_uid = ses->opts.as_root ? 0 : ses->owner_uid;
	ses->target_gid = ses->opts.as_root ? 0 : ses->owner_gid;
	if (name) {
		pw = getpwnam(name);
		if (!pw && !parse_long(name, 0, 0x7ffffffe, &v))
			pw = getpwuid(v);
		if (!pw)
			return usage_error("--user: no user '%s' on this system", name);
		ses->target_uid = pw->pw_uid;
		ses->target_gid = pw->pw_gid;
	}
	if (!ses->opts.argv)
		return 0;
	ses->cred = xcalloc(1, sizeof(*ses->cred));
	err = runner_cred_init(ses->cred, ses->target_uid, ses->target_gid);
	if (err) {
		ap_err("runner: uid %u: reading its groups: %s", ses->target_uid, ap_errstr(err));
		return -AP_EXIT_FAILED;
	}
	if (ses->cred->drop)
		ap_info("runner: the command runs as uid %u, gid %u (--as-root: as root)",
			ses->target_uid, ses->target_gid);
	return 0;
}

/* find the command as its user would: 0, or -exit code after one line */
static int check_command(struct ap_session *ses)
{
	const char *cmd = ses->opts.argv[0];
	int err, step;

	err = runner_resolve(cmd, ses->cred, &ses->exe, &step);
	if (!err)
		return 0;
	if (step) {
		ap_err("runner: switching to uid %u: %s: %s", ses->target_uid,
		       runner_cred_step(step), ap_errstr(err));
		return -AP_EXIT_FAILED;
	}
	if (err == -ENOENT) {
		ap_err("%s: command not found", cmd);
		return -AP_EXIT_NOTFOUND;
	}
	if (ses->cred->drop)
		ap_err("%s: cannot execute as uid %u: %s", cmd, ses->target_uid,
		       err == -EACCES ? "permission denied" : ap_errstr(err));
	else
		ap_err("%s: cannot execute: %s", cmd,
		       err == -EACCES ? "permission denied" : ap_errstr(err));
	return -AP_EXIT_NOEXEC;
}

/* -p: each id names a live process with a user space; a thread's id
 * stands for its process. Duplicates go. 0, or -exit code after one line */
static int check_pids(struct ap_session *ses)
{
	struct ap_options *o = &ses->opts;
	struct runner_pid_info pi;
	int i, j, err;

	for (i = 0; i < o->nr_pids; i++) {
		err = runner_pid_info(o->pids[i], &pi);
		if (err) {
			ap_err("pid %u: %s", o->pids[i],
			       err == -ESRCH ? "no such process" : ap_errstr(err));
			return -AP_EXIT_USAGE;
		}
		if (pi.kthread) {
			ap_err("pid %u (%s) is a kernel thread: it has no user space to profile",
			       o->pids[i], pi.comm);
			return -AP_EXIT_USAGE;
		}
		if (pi.state == 'Z' && pi.threads <= 1) {
			ap_err("pid %u (%s) is a zombie: it has exited and waits for its parent to reap it",
			       o->pids[i], pi.comm);
			return -AP_EXIT_USAGE;
		}
		if (pi.tgid != o->pids[i]) {
			struct runner_pid_info proc;

			if (runner_pid_info(pi.tgid, &proc))
				snprintf(proc.comm, sizeof(proc.comm), "?");
			if (!o->quiet)
				ap_log(AP_LOG_WARN, "pid %u is a thread of process %u (%s): profiling %u",
				       o->pids[i], pi.tgid, proc.comm, pi.tgid);
			o->pids[i] = pi.tgid;
		}
		for (j = 0; j < i && o->pids[j] != o->pids[i]; j++)
			;
		if (j < i) { /* listed already (a thread and its process) */
			memmove(o->pids + i, o->pids + i + 1, (o->nr_pids - i - 1) * sizeof(*o->pids));
			o->nr_pids--;
			i--;
		}
	}
	return 0;
}

static char *default_outdir(const struct ap_session *ses)
{
	char t[40], comm[64] = "", path[64], *s;
	const char *base;
	FILE *f;

	format_utc(now_real_ns(), t, sizeof(t));
	/* 2026-11-24T05:49:24.123Z -> 20261124T054924Z */
	snprintf(path, sizeof(path), "%.4s%.2s%.2sT%.2s%.2s%.2sZ", t, t + 5, t + 8, t + 11, t + 14,
		 t + 17);
	if (ses->opts.all) {
		snprintf(comm, sizeof(comm), "all");
	} else if (ses->opts.argv) {
		base = strrchr(ses->opts.argv[0], '/');
		snprintf(comm, sizeof(comm), "%s", base ? base + 1 : ses->opts.argv[0]);
	} else {
		char p[64];

		snprintf(p, sizeof(p), "/proc/%u/comm", ses->opts.pids[0]);
		f = fopen(p, "re");
		if (f) {
			if (!fgets(comm, sizeof(comm), f))
				comm[0] = 0;
			fclose(f);
		}
	}
	for (s = comm; *s; s++)
		if (*s == '/' || *s == '\n' || *s == ' ')
			*s = *s == '\n' ? 0 : '_';
	return xasprintf("autoprof-out/%s-%s", path, comm[0] ? comm : "target");
}

/* Check the output directory now, so a bad path fails before anything is
 * loaded; create it only when there is something to write (write_outputs),
 * so a run that ends before that leaves nothing behind. */
static int prepare_outdir(struct ap_session *ses)
{
	char *path = ses->opts.outdir ? xstrdup(ses->opts.outdir) : default_outdir(ses);
	int ret;

	/* the invoking user: whose symlinks may be followed, who owns the files
	 * (the runner sets these after parse_options too; same values) */
	if (!ses->owner_uid && !ses->owner_gid)
		ap_invoking_user(&ses->owner_uid, &ses->owner_gid);
	ap_set_output_owner(ses->owner_uid, ses->owner_gid);
	ses->out = xcalloc(1, sizeof(*ses->out));
	ses->out->path = path;
	ses->out->uid = ses->owner_uid;
	ses->out->base = -1;
	ses->out->fd = -1;
	ses->out->parent = ses->out->old_fd = -1;
	/* the deepest existing directory is kept open: the run is written below it */
	ret = ap_outdir__check(ses->out, ses->opts.force, !ses->opts.outdir);
	if (ret) {
		ap_outdir__free(ses->out);
		ses->out = NULL;
		return ret;
	}
	ses->outdir = xstrdup(ses->out->path);
	/* --patterns read now too, for the same reason (reported at the analysis) */
	if (ses->opts.patterns_dir)
		ap_patterns__pin_dir(ses->opts.patterns_dir);
	return 0;
}

static void on_signal(int sig, siginfo_t *si, void *uc)
{
	sig_count++;
	sig_last = sig;
	/* a terminal's Ctrl-C already reached the target (same process group);
	 * forward only what was sent to us alone (kill, a supervisor) */
	if (sig_child > 0 && si->si_code != SI_KERNEL)
		kill(sig_child, sig);
}

static void on_sigchld(int sig)
{
	/* nothing: delivery interrupts the poll, so a target's exit is seen at once */
}

static void install_signals(void)
{
	struct sigaction sa = { .sa_sigaction = on_signal, .sa_flags = SA_SIGINFO };
	struct sigaction sc = { .sa_handler = on_sigchld, .sa_flags = SA_NOCLDSTOP };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigemptyset(&sc.sa_mask);
	sigaction(SIGCHLD, &sc, NULL);
}

/* a signal before profiling started (during the BPF load): stop there,
 * as if it had come before we ran. 0, or -(128+N) after one line */
static int early_signal(void)
{
	if (!sig_count)
		return 0;
	ap_err("interrupted by %s before profiling started", sig_name(sig_last));
	return -(128 + sig_last);
}

static int start_target(struct ap_session *ses)
{
	int gate, errfd, err, step, ret;
	pid_t pid;

	/* ses->exe was found as the target's user (check_command); the child
	 * executes that very path, the one prepared for here */
	pid = runner_spawn_gated(ses->opts.argv, ses->exe, ses->cred, &gate, &errfd);
	if (pid > 0)
		cpu_collector__prepare_exec(ses->cpu, pid, ses->exe);
	if (pid < 0) {
		ap_err("runner: fork: %s", ap_errstr(pid));
		return -AP_EXIT_FAILED;
	}
	ses->child = pid;
	err = cpu_collector__track(ses->cpu, pid);
	if (!err)
		err = cpu_collector__attach(ses->cpu);
	ret = err ? -AP_EXIT_FAILED : early_signal();
	if (ret) {
		close(gate); /* the child sees EOF and exits without running */
		close(errfd);
		waitpid(pid, NULL, 0);
		ses->child = 0;
		return ret;
	}
	ses->start_mono = now_mono_ns();
	ses->start_real = now_real_ns();
	err = runner_release(gate, errfd, &step);
	if (err) {
		waitpid(pid, &ses->wait_status, 0);
		ses->target_exited = true;
		if (step) { /* the child ended without running anything */
			ap_err("runner: switching to uid %u: %s: %s", ses->target_uid,
			       runner_cred_step(step), ap_errstr(err));
			return -AP_EXIT_FAILED;
		}
		ap_err("%s: cannot execute: %s", ses->opts.argv[0], ap_errstr(err));
		return err == -ENOENT ? -AP_EXIT_NOTFOUND : -AP_EXIT_NOEXEC;
	}
	sig_child = pid; /* from now on, a signal for us alone is passed on */
	return 0;
}

/* -p and --all: the run begins where the collectors began accounting,
 * before the attach snapshot, which may take a while on a busy host: its
 * samples and the threads' time are inside the run's wall time */
static void run_started(struct ap_session *ses)
{
	uint64_t t0 = cpu_collector__t0(ses->cpu), now = now_mono_ns();

	ses->start_mono = t0 && t0 <= now ? t0 : now;
	ses->start_real = now_real_ns() - (now - ses->start_mono);
}

static int attach_targets(struct ap_session *ses)
{
	int i, err;

	if (ses->opts.all) { /* nothing to track: processes are found by their samples */
		if (cpu_collector__attach(ses->cpu))
			return -AP_EXIT_FAILED;
		err = early_signal();
		if (err)
			return err;
		run_started(ses);
		return 0;
	}

	for (i = 0; i < ses->opts.nr_pids; i++) {
		err = runner_check_pid(ses->opts.pids[i]);
		if (err) {
			ap_err("pid %u: %s", ses->opts.pids[i],
			       err == -ESRCH ? "no such process" : ap_errstr(err));
			return -AP_EXIT_USAGE;
		}
	}
	for (i = 0; i < ses->opts.nr_pids; i++)
		if (cpu_collector__track(ses->cpu, ses->opts.pids[i]))
			return -AP_EXIT_FAILED;
	if (cpu_collector__attach(ses->cpu))
		return -AP_EXIT_FAILED;
	err = early_signal();
	if (err)
		return err;
	run_started(ses);
	return 0;
}

static bool attach_targets_alive(const struct ap_session *ses)
{
	int i;

	for (i = 0; i < ses->opts.nr_pids; i++)
		if (runner_pid_alive(ses->opts.pids[i]))
			return true;
	return false;
}

static void status_line(struct ap_session *ses, bool final)
{
	fprintf(stderr, "\r\033[Kautoprof-bpf: %.1fs  %llu samples  %zu processes  %llu dropped%s",
		(now_mono_ns() - ses->start_mono) / 1e9,
		(unsigned long long)cpu_collector__samples(ses->cpu), ses->tracked.len,
		(unsigned long long)cpu_collector__drops(ses->cpu), final ? "\r\033[K" : "");
}

/* The run's event loop (src/loop.h): the collectors' fds, the procstat
 * tick, the status line and -d as timers, and SIGINT, SIGTERM, SIGHUP and
 * SIGCHLD through a signalfd while it runs (before and after, the
 * handlers count them: on_signal). */
struct run_loop {
	struct ap_session *ses;
	bool tty, interrupted;
	int handled_sigs;
};

/* has the launched target exited? reaps it; 1 if so */
static int child_check(struct run_loop *rl)
{
	struct ap_session *ses = rl->ses;
	siginfo_t si = { 0 };

	if (!ses->child || ses->target_exited)
		return 0;
	/* a last metrics sample before reaping removes its /proc */
	if (waitid(P_PID, ses->child, &si, WEXITED | WNOHANG | WNOWAIT) || !si.si_pid)
		return 0;
	procstat__sample(ses->ps, &ses->tracked, now_mono_ns());
	if (waitpid(ses->child, &ses->wait_status, WNOHANG) != ses->child)
		return 0;
	ses->target_exited = true;
	return 1;
}

/* attach mode: the first signal ends the run; launch mode: the target got
 * it too, wait for it, unless asked twice */
static int signals_check(struct run_loop *rl)
{
	struct ap_session *ses = rl->ses;

	if (sig_count <= rl->handled_sigs)
		return 0;
	rl->handled_sigs = sig_count;
	if (ses->child && rl->handled_sigs < 2)
		return 0;
	ses->stopped_early = ses->child != 0;
	sig_count_at_stop = rl->handled_sigs;
	rl->interrupted = true;
	return 1;
}

static int run_on_signal(struct ap_loop *l, const struct signalfd_siginfo *si, void *ctx)
{
	struct run_loop *rl = ctx;

	if (child_check(rl))
		return 1;
	if (si->ssi_signo == SIGCHLD)
		return 0;
	/* what on_signal() does, from the signalfd */
	sig_count++;
	sig_last = si->ssi_signo;
	if (sig_child > 0 && si->ssi_code != SI_KERNEL)
		kill(sig_child, si->ssi_signo);
	return signals_check(rl);
}

static int run_on_procstat(struct ap_loop *l, void *ctx)
{
	struct run_loop *rl = ctx;
	struct ap_session *ses = rl->ses;

	procstat__sample(ses->ps, &ses->tracked, now_mono_ns());
	if (ses->child)
		return child_check(rl); /* a SIGCHLD that came before the loop */
	if (!ses->opts.all && !attach_targets_alive(ses)) {
		ap_info("every target process has exited");
		return 1;
	}
	return signals_check(rl);
}

static int run_on_duration(struct ap_loop *l, void *ctx)
{
	struct run_loop *rl = ctx;

	rl->ses->stopped_early = rl->ses->child != 0;
	sig_count_at_stop = sig_count;
	return 1;
}

static int run_on_status(struct ap_loop *l, void *ctx)
{
	struct run_loop *rl = ctx;

	status_line(rl->ses, false);
	return 0;
}

static int run_on_purge(struct ap_loop *l, void *ctx)
{
	struct run_loop *rl = ctx;

	engine__purge(rl->ses);
	return 0;
}

static int run_on_flush(struct ap_loop *l, void *ctx)
{
	struct run_loop *rl = ctx;

	return engine__flush(rl->ses, now_mono_ns());
}

/* collect until the target exits, -d elapses or the user insists: 1 when
 * signals stopped it, 0, or -errno */
static int collect(struct ap_session *ses)
{
	struct run_loop rl = { .ses = ses, .tty = isatty(STDERR_FILENO) && !ses->opts.quiet };
	struct ap_loop l;
	sigset_t sigs;
	int err;

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGCHLD);
	err = ap_loop__init(&l, &sigs, run_on_signal, &rl);
	if (!err)
		err = engine__add_sources(ses, &l);
	if (!err)
		err = ap_loop__add_timer(&l, AP_PROCSTAT_INTERVAL_NS, run_on_procstat, &rl);
	if (err >= 0 && ses->opts.duration_ns) { /* from the run's start, before the attach snapshot */
		uint64_t el = now_mono_ns() - ses->start_mono;

		err = ap_loop__add_timer(&l, ses->opts.duration_ns > el ? ses->opts.duration_ns - el : 1,
					 run_on_duration, &rl);
	}
	if (err >= 0 && rl.tty)
		err = ap_loop__add_timer(&l, 500000000ull, run_on_status, &rl);
	if (err >= 0 && ses->purge_ns) /* tests only: a run is one window */
		err = ap_loop__add_timer(&l, ses->purge_ns, run_on_purge, &rl);
	if (err >= 0 && ses->flush_ns)
		err = ap_loop__add_timer(&l, ses->flush_ns, run_on_flush, &rl);
	if (err >= 0) {
		procstat__sample(ses->ps, &ses->tracked, now_mono_ns());
		/* what happened before the loop saw it: an exit, a signal */
		if (!child_check(&rl) && !signals_check(&rl))
			err = ap_loop__run(&l);
	}
	ap_loop__free(&l);
	if (err < 0) {
		ap_err("cpu: collecting: %s", ap_errstr(err));
		return err;
	}
	if (rl.tty)
		status_line(ses, true);
	return rl.interrupted;
}

static void fill_processes(struct ap_session *ses)
{
	struct ap_labels_stats ls;
	size_t i;

	for (i = 0; i < ses->pm.nr_procs; i++) {
		const struct ap_proc *pp = ses->pm.procs[i];
		struct ap_process *pr;
		uint64_t v;

		if (!hmap_get(&ses->tracked, &pp->pid, sizeof(pp->pid), &v))
			continue;
		procmaps__refresh(ses->pm.procs[i]); /* still alive and never sampled */
		pr = profile__process(&ses->prof, pp->pid);
		pr->ppid = pp->ppid;
		pr->comm = profile__str(&ses->prof, pp->comm);
		pr->exe = profile__str(&ses->prof, pp->exe);
		pr->cmdline = profile__str(&ses->prof, pp->cmdline);
		pr->exited = pp->exited || (runner_check_pid(pp->pid) != 0);
		/* read at its first sample; one gone since is not read (its pid may be reused) */
		if (pp->labels || !pr->exited)
			ap_labels__to_process(proc__labels(ses->pm.procs[i]), &ses->prof, pr);
		if (ses->child && pp->pid == (uint32_t)ses->child && ses->target_exited)
			pr->exit_status = ses->wait_status;
	}
	/* labels not read in full: counted, as every cap is */
	ap_labels__stats(&ls);
	profile__set_counter(&ses->prof, "labels_environ_truncated", ls.environ_truncated);
	profile__set_counter(&ses->prof, "labels_cgroup_unreadable", ls.cgroup_failed);
}

static void human_bytes(uint64_t n, char *buf, size_t len)
{
	if (n < 10240)
		snprintf(buf, len, "%llu bytes", (unsigned long long)n);
	else if (n < 10ull << 20)
		snprintf(buf, len, "%.0f KiB", n / 1024.0);
	else
		snprintf(buf, len, "%.1f MiB", n / 1048576.0);
}

/* one line: what could not be written, how big it was, what space was left */
static void report_write_failure(const struct ap_session *ses, int err)
{
	const struct ap_write_failure *wf = ap_last_write_failure();
	char need[32], total[32], avail[48] = "";

	if (!wf) {
		ap_err("output: writing the run to %s: %s; nothing was kept", ses->outdir,
		       ap_errstr(err));
		return;
	}
	human_bytes(wf->len, need, sizeof(need));
	human_bytes(wf->written + wf->len, total, sizeof(total));
	if (wf->avail != -1ull) {
		snprintf(avail, sizeof(avail), ", ");
		human_bytes(wf->avail, avail + 2, sizeof(avail) - 2);
		strncat(avail, " free there", sizeof(avail) - strlen(avail) - 1);
	}
	ap_err("output: could not write %s/%s (%s; the run needs at least %s%s): %s; the partial "
	       "run was removed", ses->outdir, wf->name, need, total, avail, ap_errstr(wf->err));
}

/* the run's files, from its window p, into a directory made now; on
 * failure none are left */
static int write_outputs(struct ap_session *ses, const struct profile *p, bool interrupted)
{
	int fd, err, end_err;

	err = ap_outdir__create(ses->out, ses->opts.force);
	if (err)
		return err;
	fd = ses->out->fd;
	/* the files' fsyncs and renames at the end, in one journal commit */
	ap_write_batch_begin();
	err = cpu_json__write(p, fd);
	if (!err && ses->opts.py_calls)
		err = cpu_collector__write_py_calls(ses->cpu, fd);
	if (!err)
		err = folded_write(p, ses->opts.view, false, fd, "stacks.folded");
	if (!err && p->has_offcpu)
		err = folded_write(p, ses->opts.view, true, fd, "offcpu.folded");
	if (!err && p->has_memory)
		err = folded_write_mem(p, ses->opts.view, AP_MEM_FAULT, fd, "memory.folded");
	if (!err && p->has_offcpu)
		err = offcpu_json__write(p, fd);
	if (!err && p->has_syscalls)
		err = syscalls_json__write(p, fd);
	if (!err && p->has_memory)
		err = memory_json__write(p, fd);
	if (!err && p->has_malloc)
		err = folded_write_malloc(p, ses->opts.view, fd);
	if (!err)
		err = procstat__write(ses->ps, fd);
	self_cost__mark(&ses->cost, AP_PHASE_WRITE);
	if (!err)
		err = run_json__write_at(ses, p, fd, interrupted);
	end_err = ap_write_batch_end();
	if (!err)
		err = end_err;
	if (err)
		report_write_failure(ses, err);
	/* an earlier run replaced (--force) only now that this one is complete */
	if (!err)
		err = ap_outdir__commit(ses->out);
	if (err)
		ap_outdir__abandon(ses->out);
	return err;
}

static char *describe_target(const struct ap_session *ses)
{
	struct strbuf sb = { 0 };
	int i;

	if (ses->opts.all) {
		char *f = ap_filter__describe(&ses->opts.filter);

		sb_printf(&sb, "all processes%s%s", f[0] ? ", " : "", f);
		free(f);
	} else if (ses->opts.argv) {
		for (i = 0; i < ses->opts.argc; i++)
			sb_printf(&sb, "%s%s", i ? " " : "", ses->opts.argv[i]);
		if (ses->child)
			sb_printf(&sb, " (pid %d)", ses->child);
	} else {
		sb_puts(&sb, ses->opts.nr_pids > 1 ? "pids " : "pid ");
		for (i = 0; i < ses->opts.nr_pids; i++)
			sb_printf(&sb, "%s%u", i ? "," : "", ses->opts.pids[i]);
	}
	return sb.buf;
}

static void session_free(struct ap_session *ses)
{
	cpu_collector__free(ses->cpu);
	procstat__free(ses->ps);
	procmaps__free(&ses->pm);
	kallsyms__free(ses->ks);
	hmap_free(&ses->tracked);
	profile__free(&ses->prof);
	ap_outdir__free(ses->out);
	ap_patterns__unpin();
	free(ses->outdir);
	free(ses->target_desc);
	free(ses->opts.pids);
	ap_filter__free(&ses->opts.filter);
	free(ses->exe);
	runner_cred_free(ses->cred);
	free(ses->cred);
}

/* What only collecting needed (BPF objects and their buffers, mappings,
 * symbol files, unwinders, kernel symbols) goes before the analysis and
 * the pictures load the artifacts back; the profile stays for the
 * summary. The profiler's peak RSS is then one of the two, not their sum. */
static void session_drop_collectors(struct ap_session *ses)
{
	cpu_collector__free(ses->cpu);
	ses->cpu = NULL;
	procstat__free(ses->ps);
	ses->ps = NULL;
	procmaps__free(&ses->pm);
	kallsyms__free(ses->ks);
	ses->ks = NULL;
	malloc_trim(0); /* return the freed heap to the system */
}

static const char *sig_name(int sig)
{
	static char buf[32];
	const char *abbrev = sigabbrev_np(sig);

	if (abbrev)
		snprintf(buf, sizeof(buf), "SIG%s", abbrev);
	else
		snprintf(buf, sizeof(buf), "signal %d", sig);
	return buf;
}

/* After the report: pass the target's status on, like time(1). When
 * profiling stopped before the target ended, say why and wait for it; a
 * signal now goes to it too (a terminal's Ctrl-C reaches both), and we stop
 * waiting on the next one after the run was stopped by signals, or on the
 * second one after -d, exiting 128+N for that signal N. */
static int finish_target(struct ap_session *ses, bool interrupted)
{
	int give_up = interrupted ? 1 : 2, r;

	if (!ses->child)
		return 0;
	if (ses->stopped_early && !ses->target_exited && !ses->opts.quiet) {
		if (interrupted)
			ap_log(AP_LOG_WARN, "profiling stopped on a second signal (%s); waiting for pid %d "
			       "to exit (another signal stops waiting)", sig_name(sig_last), ses->child);
		else
			ap_log(AP_LOG_WARN, "profiling stopped after -d %g s; waiting for pid %d to exit "
			       "(a signal is passed on to it; a second one stops waiting)",
			       ses->opts.duration_ns / 1e9, ses->child);
	}
	while (!ses->target_exited) {
		r = waitpid(ses->child, &ses->wait_status, WNOHANG);
		if (r == ses->child) {
			ses->target_exited = true;
			break;
		}
		if (r < 0 && errno != EINTR) {
			ap_err("runner: waiting for pid %d: %s", ses->child, ap_errstr(-errno));
			return AP_EXIT_FAILED;
		}
		if (sig_count - sig_count_at_stop >= give_up) {
			if (!ses->opts.quiet)
				ap_log(AP_LOG_WARN, "stopped waiting for pid %d on %s; it still runs",
				       ses->child, sig_name(sig_last));
			return 128 + sig_last;
		}
		/* SIGCHLD or another signal cuts the sleep short */
		nanosleep(&(struct timespec){ .tv_nsec = 100000000 }, NULL);
	}
	return session__target_exit_code(ses);
}

int cmd_run(int argc, char **argv)
{
	struct ap_session ses = {
		.opts = {
			.freq = 99,
			.stack_size = AP_USTACK_DEFAULT,
			.ringbuf_mb = 16,
			.py_depth = AP_MAX_PY_FRAMES,
			.view = AP_VIEW_MIXED,
			.slow_ns = 10000000,
			.interval_min_ns = 1000000,
			.formats = AP_FMT_DEFAULT,
		},
	};
	struct ap_analysis *an = NULL;
	struct profile win = { 0 }; /* the run's one window */
	int ret;
	bool interrupted, written;

	ret = parse_options(argc, argv, &ses.opts);
	if (ret) {
		free(ses.opts.pids);
		ap_filter__free(&ses.opts.filter);
		return ret > 0 ? 0 : -ret;
	}
	ap_log_set_verbosity(ses.opts.verbose);
	if (run_repeat_child_dir) { /* one run of a --repeat set */
		ses.opts.outdir = run_repeat_child_dir;
		ses.opts.repeat = 0;
		ses.opts.quiet = true;
	} else if (ses.opts.repeat) {
		char *def = ses.opts.outdir ? NULL : default_outdir(&ses);

		ret = run_repeat(&ses.opts, def, argc, argv);
		free(def);
		free(ses.opts.pids);
		ap_filter__free(&ses.opts.filter);
		return ret;
	}
	ret = target_user(&ses);
	if (ret) {
		runner_cred_free(ses.cred);
		free(ses.cred);
		free(ses.opts.pids);
		ap_filter__free(&ses.opts.filter);
		return -ret;
	}
	/* from here a signal is counted, not fatal: the checks and the BPF
	 * load end cleanly on it (early_signal) */
	install_signals();
	ap_log_setup_libbpf();
	profile__init(&ses.prof);
	ses.pm.unwind_free = unwind_image_free;
	ses.nr_cpus = libbpf_num_possible_cpus();
	ses.prof.frequency_hz = ses.opts.freq;

	ret = engine__test_env(&ses) ? -AP_EXIT_USAGE : 0;
	if (ret)
		ap_err("AP_TEST_PURGE_MS, AP_TEST_FLUSH_MS or AP_TEST_PROFILE_CAPS: malformed");
	if (!ret)
		ret = engine__preflight(&ses, NULL) ? -AP_EXIT_FAILED : 0;
	/* fail fast on a missing command or a bad pid, before loading */
	if (!ret)
		ret = ses.opts.argv ? check_command(&ses) : ses.opts.all ? 0 : check_pids(&ses);
	if (!ret)
		ret = prepare_outdir(&ses);
	if (!ret) {
		ses.cpu = cpu_collector__open(&ses);
		if (!ses.cpu) /* a load cut short by a signal says so */
			ret = sig_count ? early_signal() : -AP_EXIT_FAILED;
	}
	if (!ret)
		ret = early_signal(); /* a Ctrl-C during the load: nothing ran */
	if (ret)
		goto out;
	ret = ses.opts.argv ? start_target(&ses) : attach_targets(&ses);
	if (ret)
		goto out;

	ses.ps = procstat__new(ses.start_mono);
	ses.win_start_mono = ses.start_mono;
	ses.win_start_real = ses.start_real;
	self_cost__mark(&ses.cost, AP_PHASE_START);
	interrupted = collect(&ses) != 0;
	/* a one-shot run is one window of the engine */
	engine__stop(&ses);
	fill_processes(&ses);
	engine__window(&ses, ses.end_mono, &win);
	self_cost__mark(&ses.cost, AP_PHASE_COLLECT);
	ses.target_desc = describe_target(&ses);
	written = write_outputs(&ses, &win, interrupted) == 0;
	session_drop_collectors(&ses);
	/* the diagnosis reads back only what was written */
	if (written && ap_analyze_dir(ses.out->fd, ses.outdir, ses.opts.patterns_dir, &an))
		ap_warn("no findings: the analysis of %s failed (the profile is complete; "
			"`autoprof-bpf analyze %s` retries)", ses.outdir, ses.outdir);
	self_cost__mark(&ses.cost, AP_PHASE_ANALYZE);
	/* the pictures, from the same artifacts (and findings) */
	if (written && ap_formats_write_dir(ses.out->fd, ses.outdir, ses.opts.formats,
					    an ? &an->in : NULL, ses.opts.view, NULL))
		ap_warn("the pictures of %s are incomplete (`autoprof-bpf report %s` retries)",
			ses.outdir, ses.outdir);
	/* the whole cost is known now: run.json says it (the summary below
	 * and freeing memory are not counted) */
	self_cost__mark(&ses.cost, AP_PHASE_PICTURES);
	if (written)
		self_cost__update_run_json(&ses.cost, ses.out->fd);
	if (!ses.opts.quiet) {
		struct summary_info si = {
			.target = ses.target_desc,
			.wall_s = win.duration_s,
			.exit_code = session__target_exit_code(&ses),
			.exit_signal = ses.target_exited && WIFSIGNALED(ses.wait_status) ?
					       WTERMSIG(ses.wait_status) : 0,
			.core_dumped = ses.target_exited && WIFSIGNALED(ses.wait_status) &&
				       WCOREDUMP(ses.wait_status),
			.outdir = written ? ses.outdir : NULL, /* else: from memory only */
			.top_functions = 15,
			.top_stacks = 5,
			.view = ses.opts.view,
			.formats = ses.opts.formats,
		};
		/* stderr: in launch mode stdout belongs to the target */
		summary_print(&win, &si, stderr);
		/* before the findings, which end the summary */
		self_cost__print(&ses.cost, stderr);
		if (an)
			ap_findings_print_top(an, 3, stderr);
	}
	if (an) {
		ap_analysis__free(an);
		free(an);
	}
	ret = finish_target(&ses, interrupted);
	/* the target's status is passed on even when its profile could not be
	 * written; in attach mode there is none, so say profiling failed */
	if (!written && !ses.child)
		ret = AP_EXIT_FAILED;
	profile__window_free(&win);
	session_free(&ses);
	return ret;

out:
	if (ses.child && !ses.target_exited) { /* we could not profile it: do not leave it gated */
		kill(ses.child, SIGKILL);
		waitpid(ses.child, NULL, 0);
	}
	session_free(&ses);
	return -ret;
}
