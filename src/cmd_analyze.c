// SPDX-License-Identifier: MIT
/* `autoprof-bpf analyze DIR [--patterns DIR]`: the analyzers and reporters
 * again, on a saved run, without BPF or root. Same artifacts and patterns,
 * byte-identical findings.json and report.md. */
#include <getopt.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "analyze/analyze.h"
#include "cmds.h"
#include "log.h"
#include "outdir.h"
#include "report/report.h"
#include "session.h"

static const char usage_text[] =
"USAGE: autoprof-bpf analyze [OPTIONS] DIR\n"
"\n"
"Compute the metrics of a saved run (DIR holds run.json and artifacts/),\n"
"evaluate the patterns and write DIR/findings.json and DIR/report.md.\n"
"\n"
"      --patterns PDIR   also evaluate the patterns in PDIR/*.json (a file\n"
"                        whose id is a built-in pattern's replaces it)\n"
"      --list-metrics    print the metrics namespace (docs/METRICS.md) and exit\n"
"  -q, --quiet           write the files, print nothing\n"
"  -h, --help            this help\n"
"\n"
"EXIT STATUS: 0; 1 when a pattern file was rejected (the others were used);\n"
"2 usage error; 125 when DIR cannot be read or written.\n";

enum { OPT_PATTERNS = 256, OPT_LIST_METRICS };

int cmd_analyze(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "patterns", required_argument, NULL, OPT_PATTERNS },
		{ "list-metrics", no_argument, NULL, OPT_LIST_METRICS },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const char *pdir = NULL, *dir;
	struct ap_analysis *an = NULL;
	bool quiet = false;
	unsigned uid, gid;
	struct stat st;
	int c, err, bad, fd;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
		switch (c) {
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
