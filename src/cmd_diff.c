// SPDX-License-Identifier: MIT
/* `autoprof-bpf diff BASE NEW`: what changed between two saved runs, per
 * function, with a verdict of real or noise (src/diff/). Reads both runs'
 * artifacts as `analyze` does, writes diff.json into NEW (or -o DIR) and
 * exits 1 when a function regressed, so a CI job can gate on it. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "analyze/analyze.h"
#include "artifact/artifact.h"
#include "cmds.h"
#include "diff/diff.h"
#include "diff/repeat.h"
#include "log.h"
#include "outdir.h"
#include "session.h"
#include "util.h"

static const char usage_text[] =
"USAGE: autoprof-bpf diff [OPTIONS] BASE NEW\n"
"       autoprof-bpf diff [OPTIONS] --baseline NAME NEW\n"
"\n"
"Compare two saved runs (directories written by `autoprof-bpf -o DIR -- CMD`)\n"
"function by function: self and total samples, shares and CPU-seconds of each,\n"
"and the change. A change of self share is tested with a two-proportion z-test,\n"
"a change of self CPU-seconds with a Poisson z-test, both Holm-corrected over\n"
"the functions with at least 20 self samples in one run. A function whose\n"
"share moved while its CPU time did not is a share shift (another function's\n"
"time changed), not a regression. Wall time by reason, syscalls (exact\n"
"accounting: changes under 5% or 10 ms, 10 calls, 64 KiB not shown) and the\n"
"findings that appeared or went away are compared too. Writes diff.json\n"
"(schema autoprof.diff/1), diff.md and diff.html into NEW, replacing earlier\n"
"ones with a note, or into -o DIR. Call paths (the merged call tree of both\n"
"runs) get the same tests on their total samples; diff.html is a differential\n"
"flame graph: width the new run's samples, red grew, blue shrank, grey noise.\n"
"\n"
"When BASE and NEW are both sets of repeated runs (`autoprof-bpf --repeat N`),\n"
"each run is one observation: Welch t-tests of the per-run self shares and\n"
"self CPU-seconds, Holm-corrected (diff.json schema autoprof.diff-repeat/1).\n"
"\n"
"      --max-regression PCT  a growth of self share under PCT points is not a\n"
"                            regression (default 0)\n"
"      --speed-noise PCT     how much the same work's CPU time varies between\n"
"                            runs on this machine (default 20); added to the\n"
"                            sampling noise of the CPU-seconds tests\n"
"      --focus REGEX         only functions whose FILE:NAME matches REGEX\n"
"                            (POSIX extended)\n"
"  -o, --output DIR          write DIR/diff.json (DIR exists) instead\n"
"  -n, --top N               regressions and improvements shown (default 10)\n"
"  -q, --quiet               write diff.json, print nothing\n"
"      --baseline NAME       gate NEW on the budgets of baseline NAME (or a path\n"
"                            to its .json; see `autoprof-bpf baseline`): exit 1\n"
"                            when one is exceeded by more than --max-regression\n"
"                            PCT percent (default 25) and beyond noise\n"
"      --baseline-dir DIR    where baseline NAME is (default $AUTOPROF_BASELINES,\n"
"                            else ./.autoprof-baselines)\n"
"  -h, --help                this help\n"
"\n"
"EXAMPLES:\n"
"  autoprof-bpf diff before/ after/\n"
"  autoprof-bpf diff --max-regression 2 --focus 'app\\.py:' before/ after/\n"
"  autoprof-bpf diff --baseline app-main after/\n"
"\n"
"EXIT STATUS: 0 no significant regression; 1 a significant regression (self\n"
"share and self CPU-seconds both grew beyond noise; with --baseline, a budget\n"
"exceeded); 2 usage error; 125 when a run directory or the baseline cannot be\n"
"read or diff.json cannot be written.\n";

enum { OPT_MAX_REGRESSION = 256, OPT_FOCUS, OPT_BASELINE, OPT_BASELINE_DIR, OPT_SPEED_NOISE };

struct load_job {
	const char *dir;
	unsigned uid;
	struct ap_analysis *an;
};

static void *load_thread(void *arg)
{
	struct load_job *j = arg;

	j->an = ap_diff_load_run(j->dir, j->uid, true);
	return NULL;
}

/* both runs at once, base in a thread of its own: loading is nearly all of
 * diff's time (issue 17's budget: two runs of 50k stacks in 2 s); *base
 * and *new NULL where a run could not be read (a line printed for each) */
static void load_both(const char *b, const char *n, unsigned uid, struct ap_analysis **base,
		      struct ap_analysis **new)
{
	struct load_job job = { .dir = b, .uid = uid };
	pthread_t th;
	bool threaded;

	ap_scope_nr_metrics(AP_SCOPE_RUN); /* the shared metric tables, set up before */
	threaded = !pthread_create(&th, NULL, load_thread, &job);
	if (!threaded)
		load_thread(&job);
	*new = ap_diff_load_run(n, uid, true);
	if (threaded)
		pthread_join(th, NULL);
	*base = job.an;
	/* the parsed JSON is gone: hand its pages back before the call tree
	 * grows (max RSS of a 50k-stack pair 522 -> 434 MB) */
	malloc_trim(0);
}

/* diff.md into the directory fd (named dir), atomically (temp + rename);
 * 0 or -errno with a line printed */
static int write_md(const struct ap_diff *d, int fd, const char *dir)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int err = 0;

	if (!f) {
		err = -errno;
		goto out;
	}
	ap_diff__markdown(d, 50, f);
	if (fclose(f)) {
		err = -errno;
		goto out;
	}
	err = write_file_atomic_at(fd, "diff.md", buf, len);
out:
	if (err)
		ap_err("diff: writing %s/diff.md: %s", dir, ap_errstr(err));
	free(buf);
	return err;
}

struct html_job {
	const struct ap_diff *d;
	struct strbuf sb;
};

static void *html_thread(void *arg)
{
	struct html_job *j = arg;

	ap_diff_html__render(j->d, &j->sb);
	return NULL;
}

/* diff.html, the differential flame graph, beside diff.json (rendered in
 * j); 0 or -errno */
static int write_diff_html(struct html_job *j, int fd, const char *dir)
{
	int err;

	err = write_file_atomic_at(fd, "diff.html", j->sb.buf ? j->sb.buf : "", j->sb.len);
	if (err)
		ap_err("diff: writing %s/diff.html: %s", dir, ap_errstr(err));
	return err;
}

/* diff.json, diff.md and diff.html into outdir (NEW when NULL); 0 or
 * AP_EXIT_FAILED. diff.html is rendered on a thread of its own meanwhile
 * (d is only read): on a 50k-stack pair it is as long as the other two */
static int write_diff(const struct ap_diff *d, const char *outdir, unsigned uid)
{
	const char *dir = outdir ? outdir : d->new_dir;
	struct html_job hj = { .d = d };
	struct stat st;
	pthread_t th;
	bool threaded;
	cJSON *j;
	int fd, err;

	fd = ap_run_dir_open(dir, uid);
	if (fd < 0)
		return AP_EXIT_FAILED;
	threaded = !pthread_create(&th, NULL, html_thread, &hj);
	if (!fstatat(fd, "diff.json", &st, AT_SYMLINK_NOFOLLOW))
		fprintf(stderr, "autoprof-bpf diff: replacing %s/diff.json\n", dir);
	j = ap_diff__json(d);
	err = json_write_atomic(fd, "diff.json", j);
	cJSON_Delete(j);
	if (err)
		ap_err("diff: writing %s/diff.json: %s", dir, ap_errstr(err));
	else
		err = write_md(d, fd, dir);
	if (threaded)
		pthread_join(th, NULL);
	else if (!err)
		html_thread(&hj);
	if (!err)
		err = write_diff_html(&hj, fd, dir);
	sb_free(&hj.sb);
	close(fd);
	return err ? AP_EXIT_FAILED : 0;
}

static int parse_num(const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return errno || end == s || *end || *out < 0 || *out > 100 ? -EINVAL : 0;
}

int cmd_diff(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "max-regression", required_argument, NULL, OPT_MAX_REGRESSION },
		{ "focus", required_argument, NULL, OPT_FOCUS },
		{ "output", required_argument, NULL, 'o' },
		{ "top", required_argument, NULL, 'n' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "baseline", required_argument, NULL, OPT_BASELINE },
		{ "baseline-dir", required_argument, NULL, OPT_BASELINE_DIR },
		{ "speed-noise", required_argument, NULL, OPT_SPEED_NOISE },
		{},
	};
	const char *baseline = NULL, *baseline_dir = NULL;
	bool max_given = false;
	struct ap_diff_opts opts = { .max_regression = 0, .speed_noise = AP_DIFF_SPEED_NOISE };
	struct ap_analysis *base = NULL, *new = NULL;
	const char *focus = NULL, *outdir = NULL;
	struct ap_diff d = { 0 };
	double top = 10;
	bool quiet = false;
	unsigned uid, gid;
	regex_t re;
	int c, ret = AP_EXIT_FAILED;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "hqo:n:", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_MAX_REGRESSION:
			if (parse_num(optarg, &opts.max_regression)) {
				fprintf(stderr, "autoprof-bpf diff: --max-regression %s: not a number of points from 0 to 100\n",
					optarg);
				return AP_EXIT_USAGE;
			}
			max_given = true;
			break;
		case OPT_SPEED_NOISE:
			if (parse_num(optarg, &opts.speed_noise)) {
				fprintf(stderr, "autoprof-bpf diff: --speed-noise %s: not a percentage from 0 to 100\n",
					optarg);
				return AP_EXIT_USAGE;
			}
			opts.speed_noise /= 100;
			break;
		case OPT_FOCUS:
			focus = optarg;
			break;
		case 'o':
			outdir = optarg;
			break;
		case 'n':
			if (parse_num(optarg, &top) || top != (int)top) {
				fprintf(stderr, "autoprof-bpf diff: --top %s: not a count from 0 to 100\n",
					optarg);
				return AP_EXIT_USAGE;
			}
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case OPT_BASELINE:
			baseline = optarg;
			break;
		case OPT_BASELINE_DIR:
			baseline_dir = optarg;
			break;
		default:
			fprintf(stderr, "autoprof-bpf diff: unknown or incomplete option '%s' (see --help)\n",
				argv[optind - 1]);
			return AP_EXIT_USAGE;
		}
	}
	if (baseline) /* the gate on a baseline's budgets: src/cmd_baseline.c */
		return cmd_diff_baseline(baseline, baseline_dir, argc - optind, argv + optind,
					 max_given ? opts.max_regression : NAN, focus, outdir, quiet);
	if (optind != argc - 2) {
		fprintf(stderr, "autoprof-bpf diff: give two run directories, BASE and NEW (see --help)\n");
		return AP_EXIT_USAGE;
	}
	if (focus) {
		if (regcomp(&re, focus, REG_EXTENDED | REG_NOSUB)) {
			fprintf(stderr, "autoprof-bpf diff: --focus %s: not a regular expression\n",
				focus);
			return AP_EXIT_USAGE;
		}
		opts.focus = &re;
	}
	ap_invoking_user(&uid, &gid);
	/* two sets of repeated runs: the between-run variance (diff/repeat.c) */
	ret = ap_rdiff__cmd(argv[optind], argv[optind + 1], &opts, outdir, (size_t)top, quiet, uid);
	if (ret >= 0)
		goto out;
	ret = AP_EXIT_FAILED;
	load_both(argv[optind], argv[optind + 1], uid, &base, &new);
	if (!base || !new)
		goto out;
	d.base_dir = argv[optind];
	d.new_dir = argv[optind + 1];
	ap_diff__compute(&d, base, new, &opts);
	if (!d.same_target)
		fprintf(stderr, "autoprof-bpf diff: warning: different targets: '%s' and '%s'; compared anyway\n",
			d.target[0], d.target[1]);
	ret = write_diff(&d, outdir, uid);
	if (ret)
		goto out;
	if (!quiet) {
		ap_diff__print(&d, (size_t)top, stdout);
		printf("Written: %s/diff.json, diff.md, diff.html\n", outdir ? outdir : d.new_dir);
	}
	ret = d.nr_regressions ? 1 : 0;
out:
	ap_diff__free(&d);
	if (base)
		ap_analysis__free(base);
	if (new)
		ap_analysis__free(new);
	free(base);
	free(new);
	if (focus)
		regfree(&re);
	return ret;
}
