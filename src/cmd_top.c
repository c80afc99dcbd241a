// SPDX-License-Identifier: MIT
/* `autoprof-bpf top`: a live view of the whole host, one window a second:
 * processes by CPU, top functions with Python names, hot stacks. Keys sort,
 * filter and switch the view; `--once` prints the same tables as text after
 * one collection. Data comes from the engine's windows (system-wide), or
 * with --replay from a saved run. */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "analyze/analyze.h"
#include "cmds.h"
#include "collect/cpu.h"
#include "process/procmaps.h"
#include "engine.h"
#include "filter.h"
#include "log.h"
#include "loop.h"
#include "outdir.h"
#include "report/report.h"
#include "session.h"
#include "symbolize/kallsyms.h"
#include "top/term.h"
#include "top/top.h"
#include "util.h"

static const char usage_text[] =
"USAGE: autoprof-bpf top [OPTIONS]\n"
"       autoprof-bpf top --once [-d SEC] [OPTIONS] > FILE\n"
"\n"
"A live view of every process on the host, refreshed every second: the\n"
"processes by CPU (with their Python version), the top functions with\n"
"Python names, \"qualname (file.py:LINE)\", by self and total time, and the\n"
"hot stacks folded into one line each.\n"
"\n"
"      --once               collect for -d SEC, print the tables as text, exit\n"
"  -d, --duration SEC       --once: how long to collect (default 5); live: stop\n"
"                           after SEC\n"
"  -F, --frequency HZ       samples per second per CPU (default 99, 1-10000)\n"
"  -n, --rows N             --once: rows per table (default 15)\n"
"      --sort KEY           processes by cpu (default), pid or name\n"
"      --filter TEXT        show only the processes whose pid is TEXT, or whose\n"
"                           name or command line contains it (the '/' key)\n"
"      --mode MODE          last: the last window (default); decay: windows\n"
"                           fading with a 5 s half-life; total: since start\n"
"      --python-only        functions and stacks: Python frames only\n"
"      --native-only        ... native and kernel frames only\n"
"      --replay DIR         show a saved run (its whole length as one window)\n"
"                           instead of the host\n"
"  -v, --verbose            more messages\n"
"  -h, --help               this help\n"
"\n"
"FILTERS (applied in the kernel: what they leave out is never recorded):\n"
"  -p, --pid PID[,PID...]   only these processes\n"
"%s"
"\n"
"KEYS: q quit; c, p, n sort processes by CPU, pid, name; / filter by pid,\n"
"name or command line (Enter applies, Esc cancels, an empty filter clears);\n"
"s functions or stacks; t functions by self or total time; v view (mixed,\n"
"python, native); a mode (last, decay, total); space pause.\n"
"\n"
"EXAMPLES:\n"
"  sudo autoprof-bpf top\n"
"  sudo autoprof-bpf top --once -d 10 --filter python > top.txt\n"
"  sudo autoprof-bpf top --comm python3 --exclude-pid 1\n"
"\n"
"The profiler's own process is left out of the tables; the header shows its\n"
"CPU (self %%). Samples are taken at 99 Hz per CPU by default: a 1-second\n"
"window of a busy process then holds ~99 samples.\n"
"\n"
"EXIT STATUS: 0; 2 usage error; 125 profiling failed or no terminal.\n";

enum { OPT_ONCE = 256, OPT_SORT, OPT_FILTER, OPT_MODE, OPT_PYTHON_ONLY, OPT_NATIVE_ONLY,
       OPT_REPLAY };

struct top_opts {
	bool once;
	uint64_t duration_ns;
	long freq, rows;
	enum top_sort sort;
	enum top_mode mode;
	enum ap_view view;
	const char *filter;
	const char *replay;
	struct ap_filter bpf_filter;    /* -p, --comm, ...: in BPF (src/filter.h) */
	int verbose;
};

struct top {
	struct top_opts o;
	struct top_model m;
	struct top_render_opts ro;
	struct top_term term;
	bool interactive;
	bool paused, quit;
	bool typing;                    /* the '/' prompt is open */
	char typed[64];
	struct strbuf frame;
	/* the window on screen, kept to redraw it under another filter or view */
	const struct profile *win;
	struct ap_input replay;
	/* live: the engine's session; the window on screen, freed before a purge */
	struct ap_session ses;
	struct profile cur;
	bool have_cur;
	uint64_t lost_before;           /* the cumulative loss counters at the last window */
	uint64_t start_ns;
	/* the profiler's own CPU between ticks */
	uint64_t last_tick_ns, last_cpu_ns;
};

static int usage_error(const char *fmt, const char *arg)
{
	fputs("autoprof-bpf top: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs(" (see --help)\n", stderr);
	return -AP_EXIT_USAGE;
}

static int pick(const char *arg, const char *const *names, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (!strcmp(arg, names[i]))
			return i;
	return -1;
}

/* 0 to run, 1 after --help, or -exit code */
static int parse_options(int argc, char **argv, struct top_opts *o)
{
	static const struct option longopts[] = {
		{ "once", no_argument, NULL, OPT_ONCE },
		{ "duration", required_argument, NULL, 'd' },
		{ "frequency", required_argument, NULL, 'F' },
		{ "rows", required_argument, NULL, 'n' },
		{ "sort", required_argument, NULL, OPT_SORT },
		{ "filter", required_argument, NULL, OPT_FILTER },
		{ "mode", required_argument, NULL, OPT_MODE },
		{ "python-only", no_argument, NULL, OPT_PYTHON_ONLY },
		{ "native-only", no_argument, NULL, OPT_NATIVE_ONLY },
		{ "replay", required_argument, NULL, OPT_REPLAY },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "pid", required_argument, NULL, 'p' },
		AP_FILTER_LONGOPTS,
		{},
	};
	int c, i, err;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+p:d:F:n:vh", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_ONCE:
			o->once = true;
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
		case 'n':
			if (parse_long(optarg, 1, 1000, &o->rows))
				return usage_error("-n: '%s' must be a number of rows from 1 to 1000", optarg);
			break;
		case OPT_SORT:
			i = pick(optarg, top_sort_names, TOP_SORT__COUNT);
			if (i < 0)
				return usage_error("--sort: '%s' is not cpu, pid or name", optarg);
			o->sort = i;
			break;
		case OPT_MODE:
			i = pick(optarg, top_mode_names, TOP_MODE__COUNT);
			if (i < 0)
				return usage_error("--mode: '%s' is not last, decay or total", optarg);
			o->mode = i;
			break;
		case OPT_FILTER:
			if (strlen(optarg) >= sizeof(((struct top_model *)0)->filter))
				return usage_error("--filter: '%s' is longer than 63 bytes", optarg);
			o->filter = optarg;
			break;
		case OPT_PYTHON_ONLY:
			o->view = AP_VIEW_PYTHON;
			break;
		case OPT_NATIVE_ONLY:
			o->view = AP_VIEW_NATIVE;
			break;
		case OPT_REPLAY:
			o->replay = optarg;
			break;
		case 'v':
			o->verbose++;
			break;
		case 'p':
			err = ap_filter__add_pids(&o->bpf_filter, optarg, false);
			if (err)
				return err;
			break;
		case 'h':
			printf(usage_text, ap_filter_usage);
			return 1;
		default:
			err = ap_filter__option(&o->bpf_filter, c, optarg);
			if (err < 0)
				return err;
			if (err > 0)
				return usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	return 0;
}

static uint64_t self_cpu_ns(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return 0;
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000ull +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ull;
}

static void clock_text(char *buf, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;

	if (!localtime_r(&t, &tm) || !strftime(buf, len, "%H:%M:%S", &tm))
		snprintf(buf, len, "--:--:--");
}

static void draw(struct top *t)
{
	char now[16];

	clock_text(now, sizeof(now));
	t->ro.time = now;
	t->ro.paused = t->paused;
	t->ro.prompt = t->typing ? t->typed : NULL;
	t->frame.len = 0;
	if (t->interactive) {
		t->ro.width = t->term.cols;
		t->ro.height = t->term.rows;
		top_render(&t->m, &t->ro, &t->frame);
		top_term__draw(&t->term, t->frame.buf);
	} else {
		top_render(&t->m, &t->ro, &t->frame);
		fputs(t->frame.buf, stdout);
	}
	t->ro.message = NULL;
}

/* the settings changed: the tables start again from the window on screen */
static void rebuild(struct top *t)
{
	top_model__reset(&t->m);
	if (t->win)
		top_model__add(&t->m, t->win);
}

/* one window arrived: into the model, with the header's numbers */
static void take_window(struct top *t, const struct profile *win, uint64_t losses)
{
	uint64_t now = now_mono_ns(), cpu = self_cpu_ns();

	if (t->last_tick_ns && now > t->last_tick_ns)
		t->m.self_cpu_pct = 100.0 * (cpu - t->last_cpu_ns) / (now - t->last_tick_ns);
	t->last_tick_ns = now;
	t->last_cpu_ns = cpu;
	t->m.window_losses = losses;
	t->win = win;
	if (!t->paused)
		top_model__add(&t->m, win);
}

static void on_prompt_key(struct top *t, int k)
{
	size_t n = strlen(t->typed);

	if (k == '\r' || k == '\n') {
		t->typing = false;
		snprintf(t->m.filter, sizeof(t->m.filter), "%s", t->typed);
		rebuild(t);
	} else if (k == 0x1b) {
		t->typing = false;
	} else if ((k == 0x7f || k == 0x08) && n) {
		t->typed[n - 1] = 0;
	} else if (k >= 0x20 && k < 0x7f && n + 1 < sizeof(t->typed)) {
		t->typed[n] = k;
		t->typed[n + 1] = 0;
	}
}

/* a key: true when the screen needs drawing again */
static bool on_key(struct top *t, int k)
{
	if (t->typing) {
		on_prompt_key(t, k);
		return true;
	}
	switch (k) {
	case 'q':
	case 'Q':
		t->quit = true;
		return false;
	case 'c':
	case 'C':
		t->ro.sort = TOP_SORT_CPU;
		break;
	case 'p':
	case 'P':
		t->ro.sort = TOP_SORT_PID;
		break;
	case 'n':
	case 'N':
		t->ro.sort = TOP_SORT_NAME;
		break;
	case '/':
		t->typing = true;
		snprintf(t->typed, sizeof(t->typed), "%s", t->m.filter);
		break;
	case 's':
		t->ro.pane = (t->ro.pane + 1) % TOP_PANE__COUNT;
		break;
	case 't':
		t->ro.func_by_total = !t->ro.func_by_total;
		break;
	case 'v':
		/* mixed -> python -> native -> mixed */
		t->m.view = t->m.view == AP_VIEW_MIXED ? AP_VIEW_PYTHON :
			    t->m.view == AP_VIEW_PYTHON ? AP_VIEW_NATIVE : AP_VIEW_MIXED;
		rebuild(t);
		break;
	case 'a':
		t->m.mode = (t->m.mode + 1) % TOP_MODE__COUNT;
		rebuild(t);
		break;
	case ' ':
		t->paused = !t->paused;
		break;
	case 0x0c: /* Ctrl-L */
		break;
	default:
		return false;
	}
	return true;
}

static void read_keys(struct top *t)
{
	bool redraw = false;
	int k;

	while (!t->quit && (k = top_term__key(&t->term)) != TOP_KEY_NONE)
		redraw |= on_key(t, k);
	if (redraw && !t->quit)
		draw(t);
}

/* --replay: the saved run is every window */
static int replay_open(struct top *t)
{
	unsigned uid, gid;
	int fd, err;

	ap_invoking_user(&uid, &gid);
	fd = ap_run_dir_open(t->o.replay, uid);
	if (fd < 0)
		return -AP_EXIT_FAILED;
	err = ap_input__load(&t->replay, fd, t->o.replay);
	close(fd);
	if (err)
		return -AP_EXIT_FAILED;
	t->m.nr_cpus = t->replay.nr_cpus;
	return 0;
}

/* samples that never reached us (cumulative in a live window; a saved run's
 * whole count) */
static uint64_t lost_samples(const struct profile *p)
{
	return profile__counter(p, "ringbuf_full") + profile__counter(p, "samples_missed_in_kernel");
}

/* Live: the collectors system-wide (the filters in BPF), on-CPU only: top
 * shows where CPU goes, and off-CPU and syscall tracing would cost on every
 * context switch and syscall of the host. */
static int live_start(struct top *t)
{
	struct ap_session *ses = &t->ses;
	int err;

	ses->opts = (struct ap_options){
		.freq = t->o.freq,
		.stack_size = AP_USTACK_DEFAULT,
		.ringbuf_mb = 16,
		.py_depth = AP_MAX_PY_FRAMES,
		.view = t->o.view,
		.no_offcpu = true,
		.no_syscalls = true,
		.no_memory = true,
		.quiet = true,
		.all = true,
		.filter = t->o.bpf_filter,
		.verbose = t->o.verbose,
	};
	err = engine__preflight(ses, "top");
	if (err)
		return err;
	ap_log_setup_libbpf();
	profile__init(&ses->prof);
	ses->prof.frequency_hz = ses->opts.freq;
	ses->nr_cpus = libbpf_num_possible_cpus();
	err = engine__start(ses);
	if (err)
		return err;
	t->m.nr_cpus = ses->nr_cpus;
	return 0;
}

static void live_stop(struct top *t)
{
	struct ap_session *ses = &t->ses;

	engine__stop(ses);
	if (t->have_cur)
		profile__window_free(&t->cur);
	t->have_cur = false;
	cpu_collector__free(ses->cpu);
	procmaps__free(&ses->pm);
	kallsyms__free(ses->ks);
	hmap_free(&ses->tracked);
	profile__free(&ses->prof);
	memset(&ses->opts.filter, 0, sizeof(ses->opts.filter)); /* t->o's, freed with it */
}

/* the service and runtime of the window's processes, from the process
 * model's labels (read once per process, process/labels.h) when the window
 * does not carry them */
static void live_labels(struct top *t)
{
	size_t i;

	for (i = 0; i < t->cur.nr_procs; i++) {
		struct top_proc *r = top_model__proc(&t->m, t->cur.procs[i].pid);
		const struct ap_labels *l;
		struct ap_proc *pp;

		if (!r || (r->service && r->runtime))
			continue;
		pp = procmaps__find(&t->ses.pm, r->pid);
		if (!pp)
			continue;
		l = proc__labels(pp);
		if (!r->service && l->service)
			r->service = tty_dup(l->service);
		if (!r->runtime && l->runtime)
			r->runtime = tty_dup(l->runtime);
	}
}

/* the window of the last second into the model */
static int live_window(struct top *t)
{
	uint64_t lost;
	int err;

	if (t->have_cur)
		profile__window_free(&t->cur);
	err = engine__window(&t->ses, now_mono_ns(), &t->cur);
	t->have_cur = true;
	/* the engine's loss counters run since the start: the window's share */
	lost = lost_samples(&t->cur);
	take_window(t, &t->cur, lost >= t->lost_before ? lost - t->lost_before : lost);
	t->lost_before = lost;
	if (!t->paused)
		live_labels(t);
	return err;
}

static int on_tick(struct ap_loop *l, void *ctx)
{
	struct top *t = ctx;
	int err = 0;

	if (t->o.replay)
		take_window(t, &t->replay.prof, lost_samples(&t->replay.prof));
	else
		err = live_window(t);
	if (err)
		return err;
	if (t->interactive)
		draw(t);
	if (t->o.duration_ns && now_mono_ns() - t->start_ns >= t->o.duration_ns)
		return 1;
	return t->quit;
}

/* the slow tick: the window on screen borrows the engine's tables, so it
 * goes first (the model keeps its own copies of what it shows) */
static int on_purge(struct ap_loop *l, void *ctx)
{
	struct top *t = ctx;

	if (t->o.replay)
		return 0;
	if (t->have_cur)
		profile__window_free(&t->cur);
	t->have_cur = false;
	t->win = NULL;
	engine__purge(&t->ses);
	malloc_trim(0);
	return 0;
}

/* --once: the end of the collection */
static int on_once_done(struct ap_loop *l, void *ctx)
{
	return 1;
}

static int on_keys(struct ap_loop *l, void *ctx)
{
	struct top *t = ctx;

	read_keys(t);
	return t->quit;
}

static int on_winch(struct ap_loop *l, void *ctx)
{
	struct top *t = ctx;

	top_term__size(&t->term);
	draw(t);
	return 0;
}

#define TOP_TICK_NS 1000000000ull
#define TOP_PURGE_NS 30000000000ull

/* one loop for every mode: the engine's sources, the 1 s tick, the purge
 * tick, the keys and resizes; SIGINT, SIGTERM and SIGHUP end it */
static int run_loop(struct top *t)
{
	struct ap_loop l;
	sigset_t sigs;
	int err;

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	err = ap_loop__init(&l, &sigs, NULL, NULL);
	if (err)
		return err;
	if (!t->o.replay)
		err = engine__add_sources(&t->ses, &l);
	if (!err && t->o.once)
		err = ap_loop__add_timer(&l, t->o.duration_ns, on_once_done, t);
	else if (!err)
		err = ap_loop__add_timer(&l, TOP_TICK_NS, on_tick, t);
	if (err >= 0 && !t->o.replay)
		err = ap_loop__add_timer(&l, TOP_PURGE_NS, on_purge, t);
	if (err >= 0 && t->interactive)
		err = ap_loop__add_fd(&l, STDIN_FILENO, on_keys, NULL, t);
	if (err >= 0 && t->interactive)
		err = ap_loop__add_fd(&l, t->term.winch_fd, on_winch, NULL, t);
	if (err >= 0) {
		t->start_ns = now_mono_ns();
		err = ap_loop__run(&l);
	}
	/* the terminal first: freeing the loop unblocks SIGINT, and a second
	 * Ctrl-C then would end us with the terminal still raw */
	if (t->interactive)
		top_term__restore();
	ap_loop__free(&l);
	return err < 0 ? err : 0;
}

int cmd_top(int argc, char **argv)
{
	struct top t = {
		.o = {
			.freq = 99,
			.rows = 15,
			.view = AP_VIEW_MIXED,
		},
	};
	int ret;

	ret = parse_options(argc, argv, &t.o);
	if (ret) {
		ap_filter__free(&t.o.bpf_filter);
		return ret > 0 ? 0 : -ret;
	}
	ap_log_set_verbosity(t.o.verbose);
	top_model__init(&t.m);
	t.m.view = t.o.view;
	t.m.mode = t.o.mode;
	t.m.freq = t.o.freq;
	if (t.o.filter)
		snprintf(t.m.filter, sizeof(t.m.filter), "%s", t.o.filter);
	t.ro.sort = t.o.sort;
	t.ro.max_rows = t.o.rows;
	t.ro.all_tables = t.o.once;
	if (t.o.once && isatty(STDOUT_FILENO)) { /* a terminal's lines are cut to it */
		struct winsize ws;

		if (!ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) && ws.ws_col)
			t.ro.width = ws.ws_col;
	}
	if (!t.o.duration_ns && t.o.once)
		t.o.duration_ns = 5000000000ull;

	if (!t.o.once) {
		ret = top_term__open(&t.term);
		if (ret) {
			ap_err("top: %s; --once prints the tables without one",
			       ret == -ENOTTY ? "the live view needs a terminal" : ap_errstr(ret));
			ret = AP_EXIT_FAILED;
			goto out;
		}
		t.interactive = true;
	}
	ret = t.o.replay ? replay_open(&t) : live_start(&t);
	if (ret) {
		ret = AP_EXIT_FAILED;
		goto out;
	}
	t.last_tick_ns = now_mono_ns();
	t.last_cpu_ns = self_cpu_ns();
	if (t.interactive) { /* at once, not a second later */
		t.ro.message = t.o.replay ? NULL : "collecting the first second...";
		if (t.o.replay)
			take_window(&t, &t.replay.prof, lost_samples(&t.replay.prof));
		draw(&t);
	}
	/* a saved run is there at once: no collection to wait for */
	ret = t.o.once && t.o.replay ? 0 : run_loop(&t);
	if (!ret && t.o.once) {
		/* the whole collection as one window; its cost over all of it */
		if (t.o.replay) {
			take_window(&t, &t.replay.prof, lost_samples(&t.replay.prof));
		} else {
			engine__stop(&t.ses);
			t.last_tick_ns = t.ses.start_mono;
			ret = live_window(&t);
		}
		if (!ret)
			draw(&t);
		if (!ret && fflush(stdout))
			ret = -errno;
	}
	if (ret) {
		top_term__restore();
		ap_err("top: %s", ap_errstr(ret));
		ret = AP_EXIT_FAILED;
	}
out:
	top_term__close(&t.term);
	if (!t.o.replay)
		live_stop(&t);
	sb_free(&t.frame);
	top_model__free(&t.m);
	ap_input__free(&t.replay);
	ap_filter__free(&t.o.bpf_filter);
	return ret;
}
