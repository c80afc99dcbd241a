// SPDX-License-Identifier: MIT
/* `autoprof-bpf agent`: profile the whole host until SIGTERM or SIGINT, and
 * every --interval close one window into the store (-o DIR): run.json,
 * artifacts/cpu.json, profile.pb.gz (with process labels) and window.json
 * (processes, totals, every loss and eviction counter, the agent's own
 * cost). Stages: parse, check, open the store, start the engine, loop
 * (a window per report tick, a purge per slow tick), flush the last
 * window, stop. */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "analyze/analyze.h"
#include "artifact/artifact.h"
#include "artifact/run_json.h"
#include "artifact/window_json.h"
#include "cmds.h"
#include "collect/cpu.h"
#include "engine.h"
#include "filter.h"
#include "log.h"
#include "loop.h"
#include "outdir.h"
#include "process/labels.h"
#include "profile/compact.h"
#include "report/formats.h"
#include "session.h"
#include "sink/metrics.h"
#include "sink/creds.h"
#include "sink/http.h"
#include "sink/otlp.h"
#include "sink/push.h"
#include "sink/pyroscope.h"
#include "sink/store.h"
#include "unwind/unwind.h"
#include "util.h"

#define AGENT_PURGE_NS (60 * 1000000000ull) /* the slow tick: caches evicted past their caps */

static const char usage_text[] =
"USAGE: autoprof-bpf agent [OPTIONS]\n"
"\n"
"Profile every process on the host until SIGTERM or SIGINT. Every --interval\n"
"seconds one window is closed into the store (-o DIR): a directory named by\n"
"its start time holding profile.pb.gz (pprof, every process, labelled with\n"
"pid, comm, executable, build id, cgroup, container, service and runtime),\n"
"window.json (processes, CPU, every loss, the agent's own cost), run.json and\n"
"artifacts/cpu.json (so `autoprof-bpf analyze WINDOW` diagnoses it). The\n"
"oldest windows are deleted to keep the store under --max-disk, and counted.\n"
"On SIGTERM or SIGINT the last (partial) window is written and the agent\n"
"exits 0 (SIGHUP too); a second signal during that exits at once.\n"
"\n"
"  -o, --output DIR         the store (default " AP_STORE_DEFAULT_DIR ")\n"
"      --interval SEC       seconds per window (default 15, 1-3600)\n"
"      --max-disk MB        the store's size cap (default 256; fractions allowed)\n"
"  -F, --frequency HZ       samples per second per CPU (default 19, 1-1000)\n"
"      --offcpu             also record off-CPU time per stack and reason\n"
"                           (off by default: see README \"Agent\" for its cost)\n"
"      --memory             also record page faults by stack and mapping calls\n"
"                           (off by default)\n"
"      --memory-rate HZ     with --memory: page-fault samples per second per CPU\n"
"                           at most (default 1000, 1-1000)\n"
"      --ringbuf-mb MB      sample ring buffer size (default 4)\n"
"      --metrics-addr HOST:PORT  serve Prometheus metrics at http://HOST:PORT/metrics\n"
"                           (off by default; no authentication: bind loopback)\n"
"  -p, --pid PID[,PID...]   only these processes (a filter, as the ones below)\n"
"%s"
"      --otlp URL           also push every window to an OpenTelemetry Collector:\n"
"                           OTLP/HTTP profiles to URL/v1development/profiles\n"
"                           (a URL ending in that path is used as is)\n"
"      --pyroscope URL      also push every window to Grafana Pyroscope's ingest\n"
"                           (URL/ingest?name=SERVICE{host_name=...}&format=pprof...)\n"
"      --credentials FILE   KEY=VALUE lines: AUTOPROF_PYROSCOPE_TENANT (X-Scope-OrgID),\n"
"                           AUTOPROF_PYROSCOPE_USER and _PASSWORD (basic auth) or\n"
"                           AUTOPROF_PYROSCOPE_TOKEN (bearer), OTEL_EXPORTER_OTLP_HEADERS;\n"
"                           the same keys are read from the environment too\n"
"      --spool-mb MB        each sink's on-disk spool cap, in STORE/.spool (default 64)\n"
"      --push-timeout SEC   one HTTP request's total timeout (default 30, 1-3600)\n"
"      --no-store           keep no windows locally (only with a sink)\n"
"      --host-name NAME     the host.name / host_name label (default: the hostname)\n"
"  -q, --quiet              no start and stop lines\n"
"  -v, --verbose            more messages (-vv: debug and the BPF verifier log)\n"
"  -h, --help               this help\n"
"\n"
"EXAMPLES:\n"
"  sudo autoprof-bpf agent                        # 15 s windows in " AP_STORE_DEFAULT_DIR "\n"
"  sudo autoprof-bpf agent --interval 60 -o /srv/prof --max-disk 1024\n"
"  sudo autoprof-bpf agent --metrics-addr 127.0.0.1:9464   # Prometheus scrapes it\n"
"  autoprof-bpf analyze " AP_STORE_DEFAULT_DIR "/20261129T113015Z-180681   # one window\n"
"  sudo autoprof-bpf agent --otlp http://127.0.0.1:4318 --no-store\n"
"  sudo autoprof-bpf agent --pyroscope http://pyroscope:4040 --credentials /etc/autoprof-bpf/credentials\n"
"\n"
"EXIT STATUS: 0 after SIGTERM or SIGINT (128+N on a second signal N during\n"
"the last flush); 2 usage error; 125 the agent could not start (one line\n"
"says why, e.g. the store is not writable).\n";

enum { OPT_INTERVAL = 256, OPT_MAX_DISK, OPT_OFFCPU, OPT_VERSION, OPT_RINGBUF_MB };
enum { OPT_METRICS_ADDR = 512 }; /* apart: other options are added above */
enum { OPT_MEMORY = 640, OPT_MEMORY_RATE }; /* issue 18's memory profile */
/* the push sinks' options (issue 14) */
enum { OPT_PYROSCOPE = 320, OPT_OTLP, OPT_CREDENTIALS, OPT_SPOOL_MB, OPT_PUSH_TIMEOUT, OPT_NO_STORE,
       OPT_HOST_NAME };

#define AGENT_PUSH_GRACE_NS (2 * 1000000000ull) /* the sinks' flush at SIGTERM */
#define AGENT_OTLP_PATH "v1development/profiles"   /* OTLP/HTTP profiles, after the URL */

/* the push sinks: options, then the open sinks */
struct agent_push {
	const char *pyroscope_url, *otlp_url, *creds_file, *host_name;
	uint64_t spool_bytes;
	long timeout_s;
	bool no_store;
	char host[256];
	struct ap_push *pyroscope;
	struct ap_pyroscope_result pyro_last;   /* the last window's requests */
	uint64_t pyro_merged_total;
	struct ap_push *otlp;
	struct ap_pyroscope_result otlp_last;   /* requests, failed and bytes only */
	/* requests not spooled: one line a minute per sink (0 otlp, 1 pyroscope) */
	uint64_t warn_last_ns[2], warn_quiet[2];
};

struct agent {
	struct ap_session ses;
	const char *dir;
	uint64_t interval_ns;
	uint64_t max_bytes;
	struct ap_store *store;
	struct ap_loop loop;
	const char *metrics_addr;       /* --metrics-addr (NULL: off) */
	struct ap_metrics *metrics;
	uint64_t seq;                   /* windows closed */
	uint64_t win_mono, win_real;    /* the open window's start */
	double cpu_start, cpu_win;      /* our CPU seconds at start and at the window's start */
	uint64_t deleted, deleted_bytes, dropped; /* the store's, at the last window */
	struct profile totals;          /* only its counters: the collectors' since the start */
	/* the window being written (ap_store__write_window's callback) */
	const struct profile *win;
	struct ap_window_info *wi;
	struct agent_push push;
};

static int usage_error(const char *fmt, const char *arg)
{
	fputs("autoprof-bpf agent: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs(" (see --help)\n", stderr);
	return -AP_EXIT_USAGE;
}

/* "256", "0.5": a positive plain decimal number of MiB (no sign, space,
 * exponent or hexadecimal) into bytes; 0 or -EINVAL */
static int parse_mb(const char *s, uint64_t *bytes)
{
	size_t digits = strspn(s, "0123456789"), frac = 0;
	char *end;
	double v;

	if (s[digits] == '.')
		frac = strspn(s + digits + 1, "0123456789") + 1;
	if (!digits || s[digits + frac])
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || v <= 0 || v > 1024.0 * 1024)
		return -EINVAL;
	*bytes = (uint64_t)(v * 1048576.0);
	return *bytes ? 0 : -EINVAL;
}

/* 0 to run, 1 when --help/--version was handled, or -exit_code */
static int parse_options(int argc, char **argv, struct agent *ag)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "interval", required_argument, NULL, OPT_INTERVAL },
		{ "max-disk", required_argument, NULL, OPT_MAX_DISK },
		{ "frequency", required_argument, NULL, 'F' },
		{ "offcpu", no_argument, NULL, OPT_OFFCPU },
		{ "memory", no_argument, NULL, OPT_MEMORY },
		{ "memory-rate", required_argument, NULL, OPT_MEMORY_RATE },
		{ "ringbuf-mb", required_argument, NULL, OPT_RINGBUF_MB },
		{ "metrics-addr", required_argument, NULL, OPT_METRICS_ADDR },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "pyroscope", required_argument, NULL, OPT_PYROSCOPE },
		{ "otlp", required_argument, NULL, OPT_OTLP },
		{ "credentials", required_argument, NULL, OPT_CREDENTIALS },
		{ "spool-mb", required_argument, NULL, OPT_SPOOL_MB },
		{ "push-timeout", required_argument, NULL, OPT_PUSH_TIMEOUT },
		{ "no-store", no_argument, NULL, OPT_NO_STORE },
		{ "host-name", required_argument, NULL, OPT_HOST_NAME },
		AP_FILTER_LONGOPTS,
		{},
	};
	struct ap_options *o = &ag->ses.opts;
	long v;
	int c, err;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+o:F:p:qvh", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			ag->dir = optarg;
			break;
		case 'p':
			err = ap_filter__add_pids(&o->filter, optarg, false);
			if (err)
				return err;
			break;
		case OPT_INTERVAL:
			if (parse_long(optarg, 1, 3600, &v))
				return usage_error("--interval: '%s' must be a whole number of seconds from 1 to 3600",
						   optarg);
			ag->interval_ns = v * 1000000000ull;
			break;
		case OPT_MAX_DISK:
			if (parse_mb(optarg, &ag->max_bytes))
				return usage_error("--max-disk: '%s' is not a positive number of MB", optarg);
			break;
		case 'F':
			if (parse_long(optarg, 1, 1000, &o->freq))
				return usage_error("-F: frequency '%s' must be an integer from 1 to 1000 Hz",
						   optarg);
			break;
		case OPT_OFFCPU:
			o->no_offcpu = false;
			break;
		case OPT_MEMORY:
			o->no_memory = false;
			break;
		case OPT_MEMORY_RATE:
			if (parse_long(optarg, 1, 1000, &o->memory_rate))
				return usage_error("--memory-rate: '%s' must be an integer from 1 to 1000 Hz",
						   optarg);
			break;
		case OPT_RINGBUF_MB:
			if (parse_long(optarg, 1, 1024, &v) || (v & (v - 1)))
				return usage_error("--ringbuf-mb: '%s' must be a power of 2 from 1 to 1024",
						   optarg);
			o->ringbuf_mb = v;
			break;
		case OPT_METRICS_ADDR: {
			struct sockaddr_storage sa;
			socklen_t len;

			if (ap_metrics_parse_addr(optarg, &sa, &len))
				return usage_error("--metrics-addr: '%s' is not HOST:PORT (a numeric IPv4 "
						   "address, [IPv6] or localhost, and a port 1-65535)",
						   optarg);
			ag->metrics_addr = optarg;
			break;
		}
		case OPT_PYROSCOPE:
			if (!ap_http_url_ok(optarg))
				return usage_error("--pyroscope: '%s' is not an http:// or https:// URL (without user:password@: see --credentials)",
						   optarg);
			ag->push.pyroscope_url = optarg;
			break;
		case OPT_OTLP:
			if (!ap_http_url_ok(optarg))
				return usage_error("--otlp: '%s' is not an http:// or https:// URL (without user:password@: see --credentials)",
						   optarg);
			ag->push.otlp_url = optarg;
			break;
		case OPT_CREDENTIALS:
			ag->push.creds_file = optarg;
			break;
		case OPT_SPOOL_MB:
			if (parse_mb(optarg, &ag->push.spool_bytes))
				return usage_error("--spool-mb: '%s' is not a positive number of MB", optarg);
			break;
		case OPT_PUSH_TIMEOUT:
			if (parse_long(optarg, 1, 3600, &ag->push.timeout_s))
				return usage_error("--push-timeout: '%s' must be a whole number of seconds from 1 to 3600",
						   optarg);
			break;
		case OPT_NO_STORE:
			ag->push.no_store = true;
			break;
		case OPT_HOST_NAME:
			if (!*optarg || strlen(optarg) >= sizeof(ag->push.host) ||
			    !ap_http_value_ok(optarg))
				return usage_error("--host-name: '%s' must be 1-255 printable characters",
						   optarg);
			ag->push.host_name = optarg;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'v':
			o->verbose++;
			break;
		case 'h':
			printf(usage_text, ap_filter_usage);
			return 1;
		case OPT_VERSION:
			printf("autoprof-bpf %s\n", AP_VERSION);
			return 1;
		case '?':
		default:
			err = ap_filter__option(&o->filter, c, optarg);
			if (err <= 0) {
				if (err)
					return err;
				break;
			}
			if (optopt && optopt < 256)
				return usage_error("unknown or incomplete option '-%s'",
						   (char[]){ (char)optopt, 0 });
			return usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("'%s': the agent profiles the whole host and takes no command",
				   argv[optind]);
	if (ag->push.no_store && !ag->push.pyroscope_url && !ag->push.otlp_url)
		return usage_error("--no-store needs a sink (--otlp or --pyroscope)%s", "");
	return 0;
}

/* user + system CPU seconds of this process so far, and RSS now and peak */
static double self_cpu_s(long *max_rss_kb)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return 0;
	if (max_rss_kb)
		*max_rss_kb = ru.ru_maxrss;
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

static long self_rss_kb(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "re");

	if (!f)
		return 0;
	if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
		rss = 0;
	fclose(f);
	return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

/* The window's files into dirfd. run.json's writer reads a session: the
 * window is shown to it as one (a shallow, read-only copy whose profile
 * and span are the window's). 0 or -errno */
/* The window's files into dirfd (the store's temp directory; called again
 * after the store freed space on a full disk). run.json's writer reads a
 * session: the window is shown to it as one (a shallow, read-only copy
 * whose profile and span are the window's). 0 or -errno */
static int write_window(int dirfd, void *ctx)
{
	struct agent *ag = ctx;
	const struct profile *win = ag->win;
	const struct ap_window_info *wi = ag->wi;
	struct ap_session ws = ag->ses;
	struct ap_outdir wout = { .path = (char *)"window", .fd = dirfd, .base = -1, .parent = -1,
				  .old_fd = -1 };
	struct ap_input in = { .wall_s = (wi->end_mono_ns - wi->start_mono_ns) / 1e9,
			       .nr_cpus = ag->ses.nr_cpus, .target = (char *)"agent" };
	int err;

	err = cpu_json__write(win, dirfd);
	if (!err && win->has_offcpu)
		err = offcpu_json__write(win, dirfd);
	if (!err && win->has_memory)
		err = memory_json__write(win, dirfd);
	if (err)
		return err;
	ws.prof = *win;
	ws.out = &wout;
	ws.start_mono = wi->start_mono_ns;
	ws.end_mono = wi->end_mono_ns;
	ws.start_real = wi->start_real_ns;
	ws.end_real = wi->end_real_ns;
	err = run_json__write(&ws, wi->last);
	if (err)
		return err;
	/* the pprof writer reads a run as loaded artifacts: the window is one */
	in.prof = *win;
	err = ap_formats_write_dir(dirfd, "window", AP_FMT_PPROF, &in, AP_VIEW_MIXED, NULL);
	if (err)
		return err;
	return window_json__write(win, wi, dirfd);
}

/* the store's counters into wi: since the last window and in all */
static void store_counters(struct agent *ag, struct ap_window_info *wi)
{
	struct ap_store_stats st;

	ap_store__stats(ag->store, &st);
	wi->deleted_total = st.evicted;
	wi->deleted_bytes_total = st.evicted_bytes;
	wi->dropped_total = st.dropped;
	wi->deleted = st.evicted - ag->deleted;
	wi->deleted_bytes = st.evicted_bytes - ag->deleted_bytes;
	wi->dropped = wi->dropped_total - ag->dropped;
	wi->temp_removed = st.temp_removed;
	wi->store_bytes = st.bytes;
	wi->max_bytes = ag->max_bytes;
	ag->deleted = st.evicted;
	ag->deleted_bytes = st.evicted_bytes;
	ag->dropped = wi->dropped_total;
}

/* Counters the engine sets per window (engine.h: its evictions, and what
 * the per-window caps of the timeline, intervals and slow calls dropped);
 * every other counter is the collectors', a total since the start. */
static const char *const per_window_counters[] = {
	"profile_purges", "profile_stacks_evicted", "profile_frames_evicted",
	"profile_modules_evicted", "profile_strings_evicted", "python_code_objects_evicted",
	"offcpu_stack_ids_evicted", "frame_id_cache_evicted", "processes_forgotten",
	"process_exits_missed",
	"timeline_samples_dropped", "offcpu_intervals_dropped", "slow_syscalls_dropped",
};

static bool is_per_window(const char *name)
{
	size_t i;

	for (i = 0; i < AP_ARRAY_SIZE(per_window_counters); i++)
		if (!strcmp(name, per_window_counters[i]))
			return true;
	return false;
}

/* The window's counters become what it added; ag->totals keeps the totals
 * since the agent started (window.json's counters_total). */
static void counters_to_deltas(struct agent *ag, struct profile *win)
{
	size_t i;

	for (i = 0; i < win->nr_counters; i++) {
		struct ap_counter_val *c = &win->counters[i];
		uint64_t before = profile__counter(&ag->totals, c->name);

		if (is_per_window(c->name)) {
			profile__set_counter(&ag->totals, c->name, before + c->value);
			continue;
		}
		profile__set_counter(&ag->totals, c->name, c->value);
		/* a total that went down was reset: all it holds is new */
		c->value = c->value >= before ? c->value - before : c->value;
	}
}

/* the push sinks' live counters for the metrics server (any sink open) */
static int metrics_sinks(void *ctx, struct ap_metrics_sink *out, int max)
{
	struct ap_push_stats st[AP_PUSH_SINKS_MAX];
	size_t n = ap_push__stats(st, AP_PUSH_SINKS_MAX), i;

	for (i = 0; i < n && i < (size_t)max; i++) {
		snprintf(out[i].name, sizeof(out[i].name), "%.15s", st[i].name);
		out[i].pushes_ok = st[i].pushes_ok;
		out[i].pushes_failed = st[i].pushes_retried;
		out[i].pushes_rejected = st[i].pushes_rejected;
		out[i].pushes_given_up = st[i].pushes_given_up;
		out[i].bytes_sent = st[i].bytes_sent;
		out[i].spool_entries = st[i].spool_entries;
		out[i].spool_bytes = st[i].spool_bytes;
		out[i].spool_dropped = st[i].spool_dropped;
		out[i].spool_dropped_bytes = st[i].spool_dropped_bytes;
		out[i].spool_failed = st[i].spool_put_failed;
		out[i].spool_bad = st[i].spool_bad;
		out[i].spool_foreign = st[i].spool_foreign;
		out[i].spool_read_errors = st[i].spool_read_errors;
		out[i].last_ok_real_ns = st[i].last_ok_real_ns;
	}
	return (int)i;
}

/* the closed window's figures to the metrics server (if on) */
static void agent_metrics(struct agent *ag, const struct profile *win,
			  const struct ap_window_info *wi)
{
	struct ap_metrics_window mw = {
		.windows = wi->seq, .samples = win->total_samples, .end_real_ns = wi->end_real_ns,
		.totals = wi->totals, .nr_totals = wi->nr_totals, .store_max_bytes = ag->max_bytes,
	};

	if (!ag->metrics)
		return;
	ap_store__stats(ag->store, &mw.store);
	ap_metrics__window(ag->metrics, &mw);
}

/* The credentials (file, then environment) into the sinks' headers, and
 * the host name. 0 or -AP_EXIT_USAGE (one line printed). */
static int push_prepare(struct agent *ag, struct ap_creds *cr)
{
	struct agent_push *ps = &ag->push;
	char err[512];
	char **h = NULL;
	int n, i;

	if (!ps->pyroscope_url && !ps->otlp_url)
		return 0;
	if (ap_creds__load(ps->creds_file, cr, err, sizeof(err)))
		return usage_error("--credentials: %s", err);
	if (ps->pyroscope_url && cr->token && cr->user)
		return usage_error("%s: both a bearer token and a user for Pyroscope: set one",
				   ps->creds_file ? ps->creds_file : "the environment");
	if (ps->otlp_url && cr->otlp_headers) {
		n = ap_creds_otlp_headers(cr->otlp_headers, &h);
		if (n < 0)
			/* the value is never shown: it holds secrets */
			return usage_error("%s: OTEL_EXPORTER_OTLP_PROFILES_HEADERS or OTEL_EXPORTER_OTLP_HEADERS is not a list of key=value with percent-encoded values (the value is not shown: it may hold secrets)",
					   ps->creds_file ? ps->creds_file : "the environment");
		for (i = 0; i < n; i++)
			free(h[i]);
		free(h);
	}
	if (ps->host_name)
		snprintf(ps->host, sizeof(ps->host), "%s", ps->host_name);
	else if (gethostname(ps->host, sizeof(ps->host) - 1) || !*ps->host)
		snprintf(ps->host, sizeof(ps->host), "unknown");
	return 0;
}

/* url without its trailing slashes; malloc'ed */
static char *url_base(const char *url)
{
	char *u = xstrdup(url);
	size_t len;

	for (len = strlen(u); len > 0 && u[len - 1] == '/'; len--)
		u[len - 1] = 0;
	return u;
}

static int open_pyroscope(struct agent *ag, const struct ap_creds *cr, struct ap_push_conf *c)
{
	struct agent_push *ps = &ag->push;
	char *hdr[2] = { NULL, NULL };
	size_t n = 0;
	int err;

	if (cr->tenant)
		hdr[n++] = xasprintf("X-Scope-OrgID: %s", cr->tenant);
	if (cr->token)
		hdr[n++] = xasprintf("Authorization: Bearer %s", cr->token);
	c->name = "pyroscope";
	c->url = url_base(ps->pyroscope_url);
	c->headers = (const char *const *)hdr;
	c->nr_headers = n;
	c->user = cr->user;
	c->password = cr->password;
	c->tenant = cr->tenant;
	if ((cr->user || cr->token) && ap_http_url_plain_remote(c->url))
		ap_warn("agent: --pyroscope %s: basic auth or a bearer token sent in clear (plain http, not loopback): use https",
			c->url);
	err = ap_push__open(ap_store__fd(ag->store), c, &ps->pyroscope);
	free((char *)c->url);
	free(hdr[0]);
	free(hdr[1]);
	return err;
}

/* OTLP/HTTP: URL/v1development/profiles, or URL as given when it ends so */
static int open_otlp(struct agent *ag, const struct ap_creds *cr, struct ap_push_conf *c)
{
	static const char suffix[] = "/" AGENT_OTLP_PATH;
	struct agent_push *ps = &ag->push;
	char *url = url_base(ps->otlp_url), **h = NULL;
	size_t len = strlen(url);
	int n = 0, i, err;

	if (len >= strlen(suffix) && !strcmp(url + len - strlen(suffix), suffix)) {
		url[len - strlen(suffix)] = 0;
	}
	if (cr->otlp_headers)
		n = ap_creds_otlp_headers(cr->otlp_headers, &h);
	c->name = "otlp";
	c->url = url;
	c->headers = (const char *const *)h;
	c->nr_headers = n > 0 ? n : 0;
	c->user = c->password = NULL;
	c->tenant = NULL;
	if (n > 0 && ap_http_url_plain_remote(url))
		ap_warn("agent: --otlp %s: OTEL_EXPORTER_OTLP_*HEADERS (credentials, as a rule) sent in clear (plain http, not loopback): use https",
			url);
	err = ap_push__open(ap_store__fd(ag->store), c, &ps->otlp);
	for (i = 0; i < n; i++)
		free(h[i]);
	free(h);
	free(url);
	return err;
}

/* the sinks' spools in the store and their senders; 0 or -errno (printed) */
static int push_open(struct agent *ag, const struct ap_creds *cr)
{
	struct agent_push *ps = &ag->push;
	struct ap_push_conf c = { .timeout_s = ps->timeout_s, .spool_max_bytes = ps->spool_bytes };
	int err = 0;

	if (!ps->pyroscope_url && !ps->otlp_url)
		return 0;
	if (ap_http_global_init()) {
		ap_err("agent: libcurl: global init failed");
		return -EIO;
	}
	if (ps->pyroscope_url)
		err = open_pyroscope(ag, cr, &c);
	if (!err && ps->otlp_url)
		err = open_otlp(ag, cr, &c);
	if (err) { /* a sink opened before the one that failed: its sender ends too */
		ap_push__free(ps->pyroscope);
		ap_push__free(ps->otlp);
		ps->pyroscope = ps->otlp = NULL;
	}
	return err;
}

/* requests of window seq not spooled on sink k (0 otlp, 1 pyroscope):
 * one line a minute per sink, the windows in between counted in it (the
 * counts are in window.json's sinks.*.requests_failed) */
static void push_warn(struct agent_push *ps, int k, uint64_t seq, size_t failed, int err)
{
	uint64_t now = now_mono_ns();

	if (ps->warn_last_ns[k] && now - ps->warn_last_ns[k] < AP_PUSH_LOG_EVERY_NS) {
		ps->warn_quiet[k]++;
		return;
	}
	ap_warn("agent: window %llu: %zu of its %s requests not spooled: %s (%llu more such windows since the last line)",
		(unsigned long long)seq, failed, k ? "Pyroscope" : "OTLP", ap_errstr(err),
		(unsigned long long)ps->warn_quiet[k]);
	ps->warn_last_ns[k] = now;
	ps->warn_quiet[k] = 0;
}

/* the window as one OTLP request, gzip'ed, into the OTLP spool */
static void push_otlp(struct agent *ag, const struct profile *cw, const struct ap_window_info *wi)
{
	struct agent_push *ps = &ag->push;
	struct strbuf raw = { 0 }, gz = { 0 };
	uint8_t *buf = NULL;
	size_t len = 0;
	int err;

	memset(&ps->otlp_last, 0, sizeof(ps->otlp_last));
	err = otlp__encode_window(cw, wi, ps->host, &buf, &len);
	if (!err) {
		raw.buf = (char *)buf;
		raw.len = raw.cap = len;
		err = ap_gzip_buf(&raw, &gz);
	}
	if (!err)
		err = ap_push__enqueue(ps->otlp, "/" AGENT_OTLP_PATH, "application/x-protobuf",
				       "gzip", wi->start_real_ns, gz.buf, gz.len);
	if (!err)
		ap_push__sync(ps->otlp); /* a failure is printed there; the request is spooled */
	if (err) {
		ps->otlp_last.failed = 1;
		push_warn(ps, 0, wi->seq, 1, err);
	} else {
		ps->otlp_last.requests = 1;
		ps->otlp_last.bytes = gz.len;
	}
	free(buf);
	sb_free(&gz);
}

/* hand the compacted window to each sink (only spool files are written
 * here: the senders do the network) */
static void push_window(struct agent *ag, const struct profile *cw, const struct ap_window_info *wi)
{
	struct agent_push *ps = &ag->push;
	int err;

	if (ps->otlp)
		push_otlp(ag, cw, wi);
	if (!ps->pyroscope)
		return;
	err = pyroscope__push_window(ps->pyroscope, cw, wi, ps->host, &ps->pyro_last);
	ps->pyro_merged_total += ps->pyro_last.merged;
	if (err)
		push_warn(ps, 1, wi->seq, ps->pyro_last.failed, err);
}

/* the sinks' counters into window.json, as the window closes (before its
 * own requests are spooled) */
static void push_counters(struct agent *ag, struct ap_window_info *wi)
{
	struct agent_push *ps = &ag->push;

	wi->nr_sinks = 0;
	if (ps->pyroscope)
		ap_push__sink_stats(ps->pyroscope, &wi->sinks[wi->nr_sinks++].st);
	if (ps->otlp)
		ap_push__sink_stats(ps->otlp, &wi->sinks[wi->nr_sinks++].st);
}

/* this window's requests into window.json */
static void push_requests(struct agent *ag, struct ap_window_info *wi)
{
	struct agent_push *ps = &ag->push;
	struct ap_window_sink *k = wi->sinks;

	if (ps->pyroscope) {
		k->requests = ps->pyro_last.requests;
		k->requests_failed = ps->pyro_last.failed;
		k->bytes = ps->pyro_last.bytes;
		k->services = ps->pyro_last.services;
		k->services_merged = ps->pyro_last.merged;
		k->services_merged_total = ps->pyro_merged_total;
		k++;
	}
	if (ps->otlp) {
		k->requests = ps->otlp_last.requests;
		k->requests_failed = ps->otlp_last.failed;
		k->bytes = ps->otlp_last.bytes;
	}
}

/* the senders flush together for AGENT_PUSH_GRACE_NS, then end; what is
 * left waits in the spools for the next start */
static void push_stop(struct agent *ag)
{
	uint64_t deadline = now_mono_ns() + AGENT_PUSH_GRACE_NS;

	ap_push__drain(ag->push.pyroscope);
	ap_push__drain(ag->push.otlp);
	ap_push__stop(ag->push.pyroscope, deadline);
	ap_push__stop(ag->push.otlp, deadline);
}

/* Close the open window into the store; the next one starts now. Never
 * fatal: a window that cannot be written is dropped and counted (the
 * next window.json says so). */
static void close_window(struct agent *ag, bool last)
{
	struct ap_window_info wi = { .last = last, .nr_cpus = ag->ses.nr_cpus };
	struct profile win, cw;
	struct ap_labels_stats ls;
	double cpu;
	int err;

	wi.start_mono_ns = ag->win_mono;
	wi.start_real_ns = ag->win_real;
	wi.end_mono_ns = now_mono_ns();
	wi.end_real_ns = now_real_ns();
	ag->win_mono = wi.end_mono_ns;
	ag->win_real = wi.end_real_ns;
	wi.seq = ++ag->seq;
	err = engine__window(&ag->ses, wi.end_mono_ns, &win);
	if (err) /* what was drained is kept; the rest is in the next window */
		ap_warn("agent: window %llu: draining the collectors: %s",
			(unsigned long long)wi.seq, ap_errstr(err));
	/* labels not read in full (totals since the start; made deltas below) */
	ap_labels__stats(&ls);
	profile__set_counter(&win, "labels_cgroup_unreadable", ls.cgroup_failed);
	profile__set_counter(&win, "labels_environ_unreadable", ls.environ_failed);
	profile__set_counter(&win, "labels_environ_truncated", ls.environ_truncated);
	counters_to_deltas(ag, &win);
	/* the files hold what the window used, not the live tables */
	profile__compact(&win, &cw);
	profile__window_free(&win);
	wi.totals = ag->totals.counters;
	wi.nr_totals = ag->totals.nr_counters;
	cpu = self_cpu_s(&wi.max_rss_kb);
	wi.cpu_s = cpu - ag->cpu_win;
	wi.cpu_total_s = cpu - ag->cpu_start;
	wi.rss_kb = self_rss_kb();
	store_counters(ag, &wi);
	/* the sinks' counters as the window closed, then its requests */
	push_counters(ag, &wi);
	push_window(ag, &cw, &wi);
	push_requests(ag, &wi);
	ag->win = &cw;
	ag->wi = &wi;
	err = ag->push.no_store ? 0 :
	      ap_store__write_window(ag->store, wi.start_real_ns, write_window, ag);
	if (err)
		ap_warn("agent: window %llu not kept: %s", (unsigned long long)wi.seq,
			ap_errstr(err));
	ag->win = NULL;
	ag->wi = NULL;
	agent_metrics(ag, &cw, &wi);
	profile__free(&cw);
	/* the window's rows and JSON trees are freed: give the heap back, so
	 * the RSS between windows is what the agent keeps, not its peak */
	malloc_trim(0);
	/* the cost of writing this window counts in the next one's cpu_s
	 * (this one's window.json was written by then) */
	ag->cpu_win = cpu;
}

static int on_report_tick(struct ap_loop *l, void *ctx)
{
	close_window(ctx, false);
	return 0;
}

static int on_purge_tick(struct ap_loop *l, void *ctx)
{
	struct agent *ag = ctx;

	engine__purge(&ag->ses);
	return 0;
}

static void die_now(int sig)
{
	_exit(128 + sig);
}

/* After the first signal: a second one ends the agent at once (the partial
 * window's temp directory goes at the next start). The loop's signalfd
 * keeps the signals blocked until this. */
static void second_signal_exits(void)
{
	struct sigaction sa = { .sa_handler = die_now };
	sigset_t set;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
}

/* the loop: SIGINT, SIGTERM and SIGHUP end it (blocked and read from its
 * signalfd from now: one during the BPF load ends the agent after it) */
static int setup_loop(struct agent *ag)
{
	sigset_t sigs;
	int err;

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	err = ap_loop__init(&ag->loop, &sigs, NULL, NULL);
	if (err)
		ap_err("agent: event loop: %s", ap_errstr(err));
	return err;
}

static int start(struct agent *ag)
{
	struct ap_session *ses = &ag->ses;
	int err;

	/* the tests' AP_TEST_PURGE_MS and AP_TEST_PROFILE_CAPS (engine.h) */
	if (engine__test_env(ses)) {
		ap_err("agent: a malformed AP_TEST_* setting in the environment");
		return -EINVAL;
	}
	/* set: the windows carry what each purge evicted */
	if (!ses->purge_ns)
		ses->purge_ns = AGENT_PURGE_NS;
	err = engine__start(ses);
	if (!err)
		err = engine__add_sources(ses, &ag->loop);
	if (err)
		return err;
	ag->win_mono = ses->win_start_mono;
	ag->win_real = ses->win_start_real;
	err = ap_loop__add_timer(&ag->loop, ag->interval_ns, on_report_tick, ag);
	if (err >= 0)
		err = ap_loop__add_timer(&ag->loop, ses->purge_ns, on_purge_tick, ag);
	if (err < 0) {
		ap_err("agent: timers: %s", ap_errstr(err));
		return err;
	}
	return 0;
}

static void agent_free(struct agent *ag)
{
	struct ap_session *ses = &ag->ses;

	engine__stop(ses);
	ap_push__free(ag->push.pyroscope);
	ap_push__free(ag->push.otlp);
	ag->push.pyroscope = ag->push.otlp = NULL;
	cpu_collector__free(ses->cpu);
	procmaps__free(&ses->pm);
	kallsyms__free(ses->ks);
	hmap_free(&ses->tracked);
	profile__free(&ses->prof);
	ap_store__close(ag->store);
	ap_loop__free(&ag->loop);
	ap_metrics__free(ag->metrics);
	ap_filter__free(&ses->opts.filter);
	profile__free(&ag->totals);
}

int cmd_agent(int argc, char **argv)
{
	struct agent ag = {
		.ses.opts = {
			.freq = 19,
			.stack_size = AP_USTACK_DEFAULT,
			.ringbuf_mb = 4,
			.py_depth = AP_MAX_PY_FRAMES,
			.view = AP_VIEW_MIXED,
			.slow_ns = 10000000,
			.no_offcpu = true,
			.no_syscalls = true,
			.no_memory = true,
			.all = true,
		},
		.dir = AP_STORE_DEFAULT_DIR,
		.interval_ns = 15 * 1000000000ull,
		.max_bytes = (uint64_t)AP_STORE_DEFAULT_MAX_MB << 20,
		.push = { .spool_bytes = (uint64_t)AP_PUSH_SPOOL_DEFAULT_MB << 20,
			  .timeout_s = AP_PUSH_TIMEOUT_DEFAULT_S },
	};
	struct ap_creds creds = { 0 };
	struct ap_session *ses = &ag.ses;
	int ret;

	ret = parse_options(argc, argv, &ag);
	if (!ret)
		ret = push_prepare(&ag, &creds);
	if (ret) {
		ap_filter__free(&ses->opts.filter);
		ap_creds__free(&creds);
		return ret > 0 ? 0 : -ret;
	}
	ap_log_set_verbosity(ses->opts.verbose);
	ap_log_setup_libbpf();
	if (engine__preflight(ses, "agent")) {
		ap_filter__free(&ses->opts.filter);
		return AP_EXIT_FAILED;
	}
	/* the store first: a store that cannot be written is one line, 125 */
	if (ap_store__open(ag.dir, ag.max_bytes, &ag.store)) {
		ap_filter__free(&ses->opts.filter);
		kallsyms__free(ses->ks);
		return AP_EXIT_FAILED;
	}
	/* bound before the BPF load: an address in use is one line, 125 */
	if (ag.metrics_addr && (!(ag.metrics = ap_metrics__new(AP_VERSION)) ||
				ap_metrics__listen(ag.metrics, ag.metrics_addr))) {
		ap_metrics__free(ag.metrics);
		ap_creds__free(&creds);
		ap_store__close(ag.store);
		ap_filter__free(&ses->opts.filter);
		kallsyms__free(ses->ks);
		return AP_EXIT_FAILED;
	}
	if (ag.metrics)
		ap_metrics__set_sinks(ag.metrics, metrics_sinks, NULL);
	/* the sinks' spools are in the store: a sink that cannot start is 125 */
	ret = push_open(&ag, &creds);
	ap_creds__free(&creds);
	if (ret) {
		ap_metrics__free(ag.metrics);
		ap_store__close(ag.store);
		ap_filter__free(&ses->opts.filter);
		kallsyms__free(ses->ks);
		return AP_EXIT_FAILED;
	}
	ses->nr_cpus = libbpf_num_possible_cpus();
	profile__init(&ag.totals);
	ag.cpu_start = ag.cpu_win = self_cpu_s(NULL);
	if (setup_loop(&ag) || start(&ag) ||
	    (ag.metrics && ap_metrics__attach(ag.metrics, &ag.loop))) {
		agent_free(&ag);
		return AP_EXIT_FAILED;
	}
	if (!ses->opts.quiet)
		ap_log(AP_LOG_WARN, "agent: profiling the host at %ld Hz per CPU, a window every %g s into %s",
		       ses->opts.freq, ag.interval_ns / 1e9, ag.dir);
	ret = ap_loop__run(&ag.loop);
	second_signal_exits();
	if (ret)
		ap_err("agent: event loop: %s; writing the last window", ap_errstr(ret));
	engine__stop(ses);
	close_window(&ag, true);
	/* the last window is in the spools: a short grace to send it */
	push_stop(&ag);
	if (!ses->opts.quiet) {
		struct ap_store_stats st;

		ap_store__stats(ag.store, &st);
		ap_log(AP_LOG_WARN, "agent: stopped after %llu windows (%llu dropped, %llu deleted)",
		       (unsigned long long)ag.seq, (unsigned long long)st.dropped,
		       (unsigned long long)st.evicted);
	}
	agent_free(&ag);
	return ret ? AP_EXIT_FAILED : 0;
}
