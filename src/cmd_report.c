// SPDX-License-Identifier: MIT
/* `autoprof-bpf report DIR [-f LIST]`: the pictures and interchange files
 * (report.html, flame.svg, profile.pb.gz, speedscope.json, trace.json)
 * again from a saved run's artifacts, without BPF or root. The same
 * artifacts give the same bytes. */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "analyze/analyze.h"
#include "artifact/artifact.h"
#include "cmds.h"
#include "log.h"
#include "outdir.h"
#include "report/formats.h"
#include "session.h"

static const char usage_text[] =
"USAGE: autoprof-bpf report [OPTIONS] DIR\n"
"\n"
"Write the pictures and interchange files of a saved run (DIR holds\n"
"run.json and artifacts/) into DIR: report.html, flame.svg, profile.pb.gz,\n"
"speedscope.json, trace.json. Findings come from DIR/findings.json\n"
"(`autoprof-bpf analyze DIR` writes it).\n"
"\n"
"  -f, --format LIST     comma-separated: html, svg, pprof, speedscope, trace,\n"
"                        all, none (default: all)\n"
"      --python-only     stacks: Python frames only\n"
"      --native-only     ... native and kernel frames only\n"
"      --full-stacks     ... everything, interpreter internals included\n"
"                        (default: the view the run used)\n"
"  -q, --quiet           print nothing\n"
"  -h, --help            this help\n"
"\n"
"EXIT STATUS: 0; 2 usage error; 125 when DIR cannot be read or written.\n";

enum { OPT_PYTHON_ONLY = 256, OPT_NATIVE_ONLY, OPT_FULL_STACKS };

/* the view recorded in DIR/run.json ("mixed" if none) */
static enum ap_view run_view(int dirfd, const char *dir)
{
	char *path = xasprintf("%s/run.json", dir);
	struct stat st;
	cJSON *run = fstatat(dirfd, "run.json", &st, AT_SYMLINK_NOFOLLOW) ? NULL :
		     json_load_checked_at(dirfd, "run.json", path, AP_SCHEMA_RUN);
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(run, "options"), "view"));
	enum ap_view view = AP_VIEW_MIXED;
	size_t i;

	for (i = 0; v && i < AP_ARRAY_SIZE(ap_view_names); i++)
		if (!strcmp(v, ap_view_names[i]))
			view = i;
	cJSON_Delete(run);
	free(path);
	return view;
}

int cmd_report(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "python-only", no_argument, NULL, OPT_PYTHON_ONLY },
		{ "native-only", no_argument, NULL, OPT_NATIVE_ONLY },
		{ "full-stacks", no_argument, NULL, OPT_FULL_STACKS },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	unsigned formats = AP_FMT_DEFAULT, uid, gid;
	int c, view = -1, fd, err;
	bool quiet = false;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "f:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (ap_formats_parse(optarg, &formats)) {
				fprintf(stderr, "autoprof-bpf report: -f: '%s' is not a list of html, svg, "
					"pprof, speedscope, trace, all, none\n", optarg);
				return AP_EXIT_USAGE;
			}
			break;
		case OPT_PYTHON_ONLY:
		case OPT_NATIVE_ONLY:
		case OPT_FULL_STACKS: {
			int v = c == OPT_PYTHON_ONLY ? AP_VIEW_PYTHON :
				c == OPT_NATIVE_ONLY ? AP_VIEW_NATIVE : AP_VIEW_FULL;

			if (view >= 0 && view != v) {
				fprintf(stderr, "autoprof-bpf report: --python-only, --native-only and "
					"--full-stacks exclude each other (see --help)\n");
				return AP_EXIT_USAGE;
			}
			view = v;
			break;
		}
		case 'q':
			quiet = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			fprintf(stderr, "autoprof-bpf report: unknown or incomplete option '%s' (see --help)\n",
				argv[optind - 1]);
			return AP_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "autoprof-bpf report: give one run directory (see --help)\n");
		return AP_EXIT_USAGE;
	}
	/* as run's -o: no symlink another user could have planted; the files
	 * written belong to the caller, with the caller's umask */
	ap_invoking_user(&uid, &gid);
	fd = ap_run_dir_open(argv[optind], uid);
	if (fd < 0)
		return AP_EXIT_FAILED;
	err = ap_formats_write_dir(fd, argv[optind], formats, NULL,
				   view >= 0 ? (enum ap_view)view : run_view(fd, argv[optind]),
				   quiet ? NULL : stdout);
	close(fd);
	return err ? AP_EXIT_FAILED : 0;
}
