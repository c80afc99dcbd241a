// SPDX-License-Identifier: MIT
/* `autoprof-bpf analyze DIR [--patterns DIR]`: the analyzers and reporters
 * again, on a saved run, without BPF or root. Same artifacts and patterns,
 * byte-identical findings.json and report.md. On the agent's store, a time
 * range of its windows merged into one profile (analyze/range.c). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "analyze/analyze.h"
#include "analyze/range.h"
#include "artifact/artifact.h"
#include "cmds.h"
#include "log.h"
#include "outdir.h"
#include "report/report.h"
#include "session.h"
#include "sink/store.h"
#include "util.h"

static const char usage_text[] =
"USAGE: autoprof-bpf analyze [OPTIONS] DIR\n"
"       autoprof-bpf analyze [OPTIONS] STORE [--from T] [--to T] [-o OUT]\n"
"\n"
"Compute the metrics of a saved run (DIR holds run.json and artifacts/; a\n"
"window of the agent's store is one), evaluate the patterns and write\n"
"DIR/findings.json and DIR/report.md.\n"
"\n"
"On the agent's store (a directory of windows), merge the windows that\n"
"started in [--from, --to] into one profile and analyze it: findings per\n"
"process and per service, printed; written to OUT with -o.\n"
"\n"
"      --patterns PDIR   also evaluate the patterns in PDIR/*.json (a file\n"
"                        whose id is a built-in pattern's replaces it)\n"
"      --from T, --to T  the store's windows that started from T to T\n"
"                        (default: all); T is UTC ISO 8601\n"
"                        (2026-11-29T11:30:00Z, 2026-11-29 11:30), an offset\n"
"                        back from now (-10m, -90s, -2h, -1d) or now\n"
"  -o, --output OUT      store only: write the merged run to the new\n"
"                        directory OUT (artifacts/cpu.json, findings.json,\n"
"                        report.md), so `analyze OUT` and `report OUT` work\n"
"      --list-metrics    print the metrics namespace (docs/METRICS.md) and exit\n"
"  -q, --quiet           write the files, print nothing\n"
"  -h, --help            this help\n"
"\n"
"EXAMPLES:\n"
"  autoprof-bpf analyze /var/lib/autoprof-bpf --from -1h\n"
"  autoprof-bpf analyze /var/lib/autoprof-bpf/20261129T113015Z-000123\n"
"\n"
"EXIT STATUS: 0; 1 when a pattern file was rejected (the others were used);\n"
"2 usage error; 125 when DIR cannot be read or written, or no window of the\n"
"store is in the range.\n";

enum { OPT_PATTERNS = 256, OPT_LIST_METRICS, OPT_FROM, OPT_TO };

/* a directory of windows and no run of its own */
static bool is_store(int fd)
{
	struct stat st;
	char **names;
	int n, i;

	if (!fstatat(fd, "artifacts", &st, AT_SYMLINK_NOFOLLOW))
		return false;
	n = ap_store_list(fd, &names);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return n > 0;
}

static int write_text(int fd, const char *name, const struct ap_analysis *an)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int err;

	if (!f)
		return -errno;
	ap_report_md(an, f);
	fclose(f);
	err = write_file_atomic_at(fd, name, buf, len);
	free(buf);
	return err;
}

/* the merged run into a new directory: artifacts/cpu.json, findings.json, report.md */
static int write_merged(const char *path, unsigned uid, const struct ap_analysis *an)
{
	struct ap_outdir *out = xcalloc(1, sizeof(*out));
	cJSON *j = NULL;
	int err;

	*out = (struct ap_outdir){ .path = xstrdup(path), .uid = uid, .base = -1, .fd = -1,
				   .parent = -1, .old_fd = -1 };
	err = ap_outdir__check(out, false, false);
	if (err) {
		ap_outdir__free(out);
		return err;
	}
	err = ap_outdir__create(out, false);
	if (err)
		goto out;
	err = cpu_json__write(&an->in.prof, out->fd); /* into artifacts/ */
	if (!err) {
		j = ap_findings_json(an);
		err = json_write_atomic(out->fd, "findings.json", j);
	}
	if (!err)
		err = write_text(out->fd, "report.md", an);
	if (!err)
		err = ap_outdir__commit(out);
	if (err) {
		ap_err("analyze: writing %s: %s", path, ap_errstr(err));
		ap_outdir__abandon(out);
	}
out:
	cJSON_Delete(j);
	ap_outdir__free(out);
	return err ? -AP_EXIT_FAILED : 0;
}

static int analyze_store(int fd, const char *dir, struct ap_range *r, const char *pdir,
			 const char *outpath, unsigned uid, bool quiet)
{
	struct ap_analysis *an = xcalloc(1, sizeof(*an));
	char from[40], to[40];
	int err, ret = AP_EXIT_FAILED;

	err = ap_range__load(fd, dir, r, &an->in);
	if (err == -ENOENT) {
		format_utc(r->from, from, sizeof(from));
		format_utc(r->to, to, sizeof(to));
		ap_err("analyze: %s: no window%s started from %s to %s", dir,
		       r->nr_skipped ? " that could be read" : "", from, to);
	}
	if (err || ap_analysis__run(an, pdir))
		goto out;
	if (outpath && write_merged(outpath, uid, an))
		goto out;
	ret = an->rejected_patterns ? 1 : 0;
	if (quiet)
		goto out;
	format_utc(r->first_ns, from, sizeof(from));
	format_utc(r->last_end_ns, to, sizeof(to));
	printf("Merged %zu window%s of %s (%s .. %s), %s to %s, %.1f s covered%s\n",
	       r->nr_windows, r->nr_windows == 1 ? "" : "s", dir, r->first, r->last, from, to,
	       r->covered_s, r->nr_skipped ? "; some windows could not be read (above)" : "");
	summary_print(&an->in.prof, &(struct summary_info){ .target = an->in.target,
			.wall_s = an->in.wall_s, .exit_code = -1, .top_functions = 15,
			.top_stacks = 5, .view = AP_VIEW_MIXED }, stdout);
	ap_services_print(an, 3, stdout);
	ap_findings_print_top(an, 10, stdout);
	if (outpath)
		printf("\nWritten: %s/findings.json, %s/report.md\n", outpath, outpath);
out:
	ap_analysis__free(an);
	free(an);
	return ret;
}

int cmd_analyze(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "patterns", required_argument, NULL, OPT_PATTERNS },
		{ "list-metrics", no_argument, NULL, OPT_LIST_METRICS },
		{ "from", required_argument, NULL, OPT_FROM },
		{ "to", required_argument, NULL, OPT_TO },
		{ "output", required_argument, NULL, 'o' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const char *pdir = NULL, *dir, *from = NULL, *to = NULL, *outpath = NULL;
	struct ap_range range = { 0 };
	uint64_t now = now_real_ns();
	struct ap_analysis *an = NULL;
	bool quiet = false;
	unsigned uid, gid;
	struct stat st;
	int c, err, bad, fd;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "qho:", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_FROM:
			from = optarg;
			break;
		case OPT_TO:
			to = optarg;
			break;
		case 'o':
			outpath = optarg;
			break;
		case OPT_PATTERNS:
			pdir = optarg;
			break;
		case OPT_LIST_METRICS:
			ap_metrics_markdown(stdout);
			return 0;
		case 'q':
			quiet = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			fprintf(stderr, "autoprof-bpf analyze: unknown or incomplete option '%s' (see --help)\n",
				argv[optind - 1]);
			return AP_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "autoprof-bpf analyze: give one run directory (see --help)\n");
		return AP_EXIT_USAGE;
	}
	dir = argv[optind];
	range.to = now;
	if (from && ap_time_parse(from, now, &range.from)) {
		fprintf(stderr, "autoprof-bpf analyze: --from %s: not a time (see --help)\n", from);
		return AP_EXIT_USAGE;
	}
	if (to && ap_time_parse(to, now, &range.to)) {
		fprintf(stderr, "autoprof-bpf analyze: --to %s: not a time (see --help)\n", to);
		return AP_EXIT_USAGE;
	}
	if (range.from > range.to) {
		fprintf(stderr, "autoprof-bpf analyze: --from is after --to\n");
		return AP_EXIT_USAGE;
	}
	if (pdir && (stat(pdir, &st) || !S_ISDIR(st.st_mode))) {
		fprintf(stderr, "autoprof-bpf analyze: --patterns %s: not a directory\n", pdir);
		return AP_EXIT_USAGE;
	}
	/* as run's -o: no symlink another user could have planted; the files
	 * written belong to the caller, with the caller's umask */
	ap_invoking_user(&uid, &gid);
	fd = ap_run_dir_open(dir, uid);
	if (fd < 0)
		return AP_EXIT_FAILED;
	if (is_store(fd)) {
		err = analyze_store(fd, dir, &range, pdir, outpath, uid, quiet);
		close(fd);
		return err;
	}
	if (from || to || outpath) {
		fprintf(stderr, "autoprof-bpf analyze: --from, --to and -o are for a store of "
			"windows; %s is a run directory\n", dir);
		close(fd);
		return AP_EXIT_USAGE;
	}
	err = ap_analyze_dir(fd, dir, pdir, &an);
	close(fd);
	if (err)
		return AP_EXIT_FAILED;
	bad = an->rejected_patterns;
	if (!quiet) {
		struct summary_info si = {
			.target = an->in.target,
			.wall_s = an->in.wall_s,
			.exit_code = -1,
			.outdir = NULL,
			.top_functions = 15,
			.top_stacks = 5,
			.view = AP_VIEW_MIXED,
		};

		summary_print(&an->in.prof, &si, stdout);
		ap_findings_print_top(an, 5, stdout);
		printf("\nWritten: %s/findings.json, %s/report.md\n", dir, dir);
	}
	ap_analysis__free(an);
	free(an);
	return bad ? 1 : 0;
}
