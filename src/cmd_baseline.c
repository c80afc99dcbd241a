// SPDX-License-Identifier: MIT
/* `autoprof-bpf baseline save|list|show` and `diff --baseline NAME NEW`:
 * a run's budgets kept as DIR/NAME.json (src/diff/baseline.c) and a new run
 * gated on them. The baselines' directory is --dir, else
 * $AUTOPROF_BASELINES, else ./.autoprof-baselines; it is never a symlink
 * (its parents are walked as run directories are, src/outdir.c), and a
 * baseline is written to a fresh temp name and renamed into place. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "analyze/analyze.h"
#include "artifact/artifact.h"
#include "cmds.h"
#include "diff/baseline.h"
#include "diff/diff.h"
#include "log.h"
#include "outdir.h"
#include "session.h"
#include "util.h"

#define BASELINE_READ_MAX (16u << 20)   /* a baseline is a few KiB */
#define BASELINE_LIST_MAX 10000         /* entries `list` reads */

static const char usage_text[] =
"USAGE: autoprof-bpf baseline save [--dir DIR] [--force] RUNDIR NAME\n"
"       autoprof-bpf baseline list [--dir DIR]\n"
"       autoprof-bpf baseline show [--dir DIR] [--json] NAME\n"
"\n"
"Keep a run's budgets as a baseline that `autoprof-bpf diff --baseline NAME NEW`\n"
"gates a later run on: wall time, CPU-seconds, the self CPU-seconds of the top\n"
"20 functions (with their sample counts, so noise can be judged), and per\n"
"syscall its calls, time and bytes, with the command line and the interpreter.\n"
"A baseline is DIR/NAME.json (schema autoprof.baseline/1). NAME is letters,\n"
"digits, '.', '_' and '-', not starting with '.' or '-' nor ending in .json.\n"
"DIR is --dir, else $AUTOPROF_BASELINES, else ./.autoprof-baselines (created\n"
"by save); it must not be a symbolic link.\n"
"\n"
"      --dir DIR             the baselines' directory\n"
"  -f, --force               save: replace an existing baseline NAME\n"
"      --json                show: print the stored JSON\n"
"  -h, --help                this help\n"
"\n"
"EXAMPLES:\n"
"  autoprof-bpf -o run1 -- python3 app.py\n"
"  autoprof-bpf baseline save run1 app-main\n"
"  autoprof-bpf baseline list\n"
"  autoprof-bpf -o run2 -- python3 app.py && autoprof-bpf diff --baseline app-main run2\n"
"\n"
"EXIT STATUS: 0 ok; 2 usage error (a bad NAME, NAME exists without --force);\n"
"125 when the run or a baseline cannot be read or the baseline cannot be\n"
"written.\n";

enum { OPT_DIR = 256, OPT_JSON };

static const char *baselines_dir(const char *opt)
{
	const char *env = getenv("AUTOPROF_BASELINES");

	return opt ? opt : env && *env ? env : AP_BASELINE_DEFAULT_DIR;
}

/* path's last component (trailing slashes cut) into *last, its parent
 * into *parent ("." when none); both malloc'ed */
static void split_path(const char *path, char **parent, char **last)
{
	char *p = xstrdup(path), *s;
	size_t n = strlen(p);

	while (n > 1 && p[n - 1] == '/')
		p[--n] = 0;
	s = strrchr(p, '/');
	if (!s) {
		*parent = xstrdup(".");
		*last = p;
		return;
	}
	*last = xstrdup(s[1] ? s + 1 : ".");
	if (s == p)
		s[1] = 0; /* "/name": the parent is "/" */
	else
		*s = 0;
	*parent = p;
}

static void walk_failed(const char *path, const struct ap_walk *w, int err)
{
	if (err == -EPERM && w->link)
		ap_err("baseline: %s is a symbolic link owned by uid %u, not by you or root: "
		       "refusing to follow it", w->link, w->link_uid);
	else if (err == -ENOTDIR && w->link)
		ap_err("baseline: %s is not a directory", w->link);
	else
		ap_err("baseline: %s: %s", path, ap_errstr(err));
}

/* The baselines' directory path, created (with its parents) when create;
 * the directory itself is never a symlink. The fd, or -errno with one line
 * printed (-ENOENT: it does not exist, without create). */
static int baseline_dir_open(const char *path, unsigned uid, bool create)
{
	char *parent, *last;
	struct ap_walk w;
	struct stat st;
	int pfd, fd, err;
	bool made;

	split_path(path, &parent, &last);
	pfd = ap_dir_walk(parent, uid, create, &w);
	if (pfd < 0) {
		walk_failed(parent, &w, pfd);
		err = pfd;
		goto out;
	}
	if (*w.rest) {
		ap_err("baseline: %s: no such directory", path);
		err = -ENOENT;
		goto out;
	}
	if (!strcmp(last, ".") || !strcmp(last, "..") || !strcmp(last, "/")) {
		err = openat(pfd, last, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		err = err < 0 ? -errno : err;
	} else if (create) {
		err = mkdir_at(pfd, last, &made);
	} else {
		err = openat(pfd, last, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		err = err >= 0 ? err : errno == ELOOP ? -ENOTDIR : -errno;
	}
	fd = err;
	if (fd == -ENOTDIR && !fstatat(pfd, last, &st, AT_SYMLINK_NOFOLLOW) && S_ISLNK(st.st_mode))
		ap_err("baseline: %s is a symbolic link: refusing it (baselines go into a real "
		       "directory; give its target with --dir)", path);
	else if (fd < 0)
		ap_err("baseline: %s: %s", path, fd == -ENOTDIR ? "not a directory" : ap_errstr(fd));
out:
	if (pfd >= 0)
		close(pfd);
	ap_walk_free(&w);
	free(parent);
	free(last);
	return err;
}

static void run_free(struct ap_analysis *an)
{
	if (an)
		ap_analysis__free(an);
	free(an);
}

static bool is_path_ref(const char *ref)
{
	size_t n = strlen(ref);

	return strchr(ref, '/') || (n > 5 && !strcmp(ref + n - 5, ".json"));
}

/* Read the baseline ref (a NAME in dir, or a path to a .json) into b;
 * *shown: the path read (malloc'ed). 0 or -errno with one line printed. */
static int baseline_read(const char *ref, const char *dir, unsigned uid, struct ap_baseline *b,
			 char **shown)
{
	char *parent = NULL, *file = NULL, *text = NULL;
	struct ap_walk w = { 0 };
	size_t len;
	int fd, err;

	if (is_path_ref(ref)) {
		split_path(ref, &parent, &file);
		*shown = xstrdup(ref);
		fd = ap_dir_walk(parent, uid, false, &w);
		if (fd >= 0 && *w.rest) {
			close(fd);
			fd = -ENOENT;
		}
		if (fd < 0)
			walk_failed(parent, &w, fd);
	} else {
		file = xasprintf("%s.json", ref);
		*shown = xasprintf("%s/%s", dir, file);
		fd = baseline_dir_open(dir, uid, false);
	}
	if (fd < 0) {
		err = fd;
		goto out;
	}
	text = read_file_at(fd, file, O_NOFOLLOW, BASELINE_READ_MAX, &len);
	err = text ? 0 : -errno;
	close(fd);
	if (err == -ENOENT && !is_path_ref(ref))
		ap_err("baseline: no baseline %s in %s (see `autoprof-bpf baseline list`)", ref, dir);
	else if (err)
		ap_err("baseline: %s: %s", *shown, ap_read_errstr(-err, BASELINE_READ_MAX));
	else
		err = ap_baseline__parse(b, text, len, *shown);
out:
	ap_walk_free(&w);
	free(text);
	free(parent);
	free(file);
	return err;
}

/* text as dirfd/file, written whole to a fresh temp name first; without
 * force never over an existing file, even one made since the check (a
 * rename that does not replace). 0, -EEXIST, or -errno */
static int write_baseline(int dirfd, const char *file, const char *text, bool force)
{
	char *tmp;
	int err;

	if (force)
		return write_file_atomic_at(dirfd, file, text, strlen(text));
	tmp = xasprintf(".%s.%d", file, (int)getpid());
	err = write_file_atomic_at(dirfd, tmp, text, strlen(text));
	if (!err && renameat2(dirfd, tmp, dirfd, file, RENAME_NOREPLACE)) {
		err = -errno;
		/* a file system without RENAME_NOREPLACE: a hard link fails alike */
		if (err == -EINVAL)
			err = linkat(dirfd, tmp, dirfd, file, 0) ? -errno : 0;
		unlinkat(dirfd, tmp, 0);
	}
	if (!err)
		fsync(dirfd);
	free(tmp);
	return err;
}

static int baseline_save(const char *run, const char *name, const char *dir, bool force)
{
	struct ap_analysis *an = NULL;
	unsigned uid, gid;
	struct stat st;
	char *file = xasprintf("%s.json", name), *text = NULL;
	cJSON *j = NULL;
	int fd = -1, err, ret = AP_EXIT_FAILED;

	ap_invoking_user(&uid, &gid);
	an = ap_diff_load_run(run, uid, false);
	if (!an)
		goto out;
	ap_set_output_owner(uid, gid);
	fd = baseline_dir_open(dir, uid, true);
	if (fd < 0)
		goto out;
	if (!fstatat(fd, file, &st, AT_SYMLINK_NOFOLLOW)) {
		if (!force) {
			fprintf(stderr, "autoprof-bpf baseline: %s/%s exists: --force replaces it\n",
				dir, file);
			ret = AP_EXIT_USAGE;
			goto out;
		}
		fprintf(stderr, "autoprof-bpf baseline: replacing %s/%s\n", dir, file);
	}
	j = ap_baseline__build(an, name, run);
	/* indented: baselines are kept in a repository, where diffs are read */
	text = cJSON_Print(j);
	err = text ? write_baseline(fd, file, text, force) : -ENOMEM;
	if (err == -EEXIST) { /* made meanwhile */
		fprintf(stderr, "autoprof-bpf baseline: %s/%s exists: --force replaces it\n", dir,
			file);
		ret = AP_EXIT_USAGE;
		goto out;
	}
	if (err) {
		ap_err("baseline: writing %s/%s: %s", dir, file, ap_errstr(err));
		goto out;
	}
	printf("Saved baseline %s: %s/%s (wall %.3f s, CPU %.3f s, %d functions, %d syscalls)\n",
	       name, dir, file, an->in.wall_s,
	       cJSON_GetNumberValue(cJSON_GetObjectItem(j, "cpu_s")),
	       cJSON_GetArraySize(cJSON_GetObjectItem(j, "functions")),
	       cJSON_GetArraySize(cJSON_GetObjectItem(j, "syscalls")));
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	cJSON_Delete(j);
	free(text);
	free(file);
	run_free(an);
	return ret;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int baseline_list(const char *dir)
{
	char **names = NULL, *text;
	size_t n = 0, cap = 0, i, len;
	struct ap_baseline b;
	struct dirent *de;
	unsigned uid, gid;
	struct stat st;
	DIR *d;
	int fd;

	ap_invoking_user(&uid, &gid);
	fd = baseline_dir_open(dir, uid, false);
	if (fd < 0)
		return AP_EXIT_FAILED;
	d = fdopendir(fd);
	if (!d) {
		ap_err("baseline: %s: %s", dir, ap_errstr(-errno));
		close(fd);
		return AP_EXIT_FAILED;
	}
	while ((de = readdir(d)) && n < BASELINE_LIST_MAX) {
		size_t l = strlen(de->d_name);

		if (l <= 5 || strcmp(de->d_name + l - 5, ".json") ||
		    fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode))
			continue;
		GROW(names, cap, n + 1);
		names[n] = xstrdup(de->d_name);
		names[n][l - 5] = 0;
		if (ap_baseline_name_ok(names[n]))
			n++;
		else
			free(names[n]);
	}
	if (n)
		qsort(names, n, sizeof(*names), name_cmp);
	printf("%zu baseline%s in %s\n", n, n == 1 ? "" : "s", dir);
	for (i = 0; i < n; i++) {
		char *file = xasprintf("%s.json", names[i]);

		text = read_file_at(fd, file, O_NOFOLLOW, BASELINE_READ_MAX, &len);
		if (text && !ap_baseline__parse(&b, text, len, file)) {
			printf("  %-24s %s  wall %8.3f s  CPU %8.3f s  %s\n", names[i], b.created,
			       b.wall_s, b.samples / b.hz, b.target);
			ap_baseline__free(&b);
		} else {
			printf("  %-24s (unreadable)\n", names[i]);
		}
		free(text);
		free(file);
		free(names[i]);
	}
	free(names);
	closedir(d);
	return 0;
}

static int baseline_show(const char *name, const char *dir, bool json)
{
	struct ap_baseline b;
	unsigned uid, gid;
	char *shown = NULL, *text;
	size_t i;

	ap_invoking_user(&uid, &gid);
	if (baseline_read(name, dir, uid, &b, &shown)) {
		free(shown);
		return AP_EXIT_FAILED;
	}
	if (json) {
		text = cJSON_Print(b.root);
		puts(text ? text : "{}");
		free(text);
		goto out;
	}
	printf("baseline %s (%s)\n  saved %s from %s\n  target: %s\n  interpreter: %s%s%s%s\n",
	       b.name, shown, b.created, b.source, b.target, *b.runtime ? b.runtime : "none seen",
	       *b.exe ? " (" : "", b.exe, *b.exe ? ")" : "");
	printf("  wall %.3f s, CPU %.3f s (%llu samples at %g Hz)\n", b.wall_s, b.samples / b.hz,
	       (unsigned long long)b.samples, b.hz);
	printf("\n  %-40s %10s %8s\n", "function (self)", "CPU-s", "samples");
	for (i = 0; i < b.nr_fns; i++)
		printf("  %-40.40s %10.3f %8llu\n", b.fns[i].name, b.fns[i].samples / b.hz,
		       (unsigned long long)b.fns[i].samples);
	printf("\n  %-20s %10s %10s %12s\n", "syscall", "calls", "time s", "bytes");
	for (i = 0; i < b.nr_scs; i++)
		printf("  %-20.20s %10llu %10.3f %12llu\n", b.scs[i].name,
		       (unsigned long long)b.scs[i].calls, b.scs[i].time_s,
		       (unsigned long long)b.scs[i].bytes);
	if (!b.has_syscalls)
		printf("  (the run did not measure syscalls)\n");
out:
	ap_baseline__free(&b);
	free(shown);
	return 0;
}

int cmd_baseline(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dir", required_argument, NULL, OPT_DIR },
		{ "force", no_argument, NULL, 'f' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const char *verb = argc > 1 ? argv[1] : "", *dir = NULL;
	bool force = false, json = false;
	int c, want;

	if (!strcmp(verb, "-h") || !strcmp(verb, "--help")) {
		fputs(usage_text, stdout);
		return 0;
	}
	want = !strcmp(verb, "save") ? 2 : !strcmp(verb, "show") ? 1 : !strcmp(verb, "list") ? 0 : -1;
	if (want < 0) {
		fprintf(stderr, "autoprof-bpf baseline: give save, list or show (see --help)\n");
		return AP_EXIT_USAGE;
	}
	/* no target command follows, so options may come after the operands
	 * (no leading '+'); a NAME never starts with '-'. optind 0 makes glibc
	 * start afresh (its ordering is set at the first call otherwise) */
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc - 1, argv + 1, "hf", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_DIR:
			dir = optarg;
			break;
		case 'f':
			force = true;
			break;
		case OPT_JSON:
			json = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			fprintf(stderr, "autoprof-bpf baseline: unknown or incomplete option '%s' (see --help)\n",
				argv[optind]);
			return AP_EXIT_USAGE;
		}
	}
	argc--, argv++;
	if (argc - optind != want) {
		fprintf(stderr, "autoprof-bpf baseline %s: give %s (see --help)\n", verb,
			want == 2 ? "a run directory and a NAME" : want ? "a NAME" : "no operand");
		return AP_EXIT_USAGE;
	}
	if (want && !ap_baseline_name_ok(argv[argc - 1])) {
		fprintf(stderr, "autoprof-bpf baseline: '%s': a NAME is 1 to %d letters, digits, '.', '_' or '-', not starting with '.' or '-' nor ending in .json\n",
			argv[argc - 1], AP_BASELINE_NAME_MAX);
		return AP_EXIT_USAGE;
	}
	dir = baselines_dir(dir);
	if (want == 2)
		return baseline_save(argv[optind], argv[optind + 1], dir, force);
	if (want == 1)
		return baseline_show(argv[optind], dir, json);
	return baseline_list(dir);
}

/* diff.json with the gate's part into outdir (NEW when NULL); 0 or
 * AP_EXIT_FAILED */
static int write_gate(const struct ap_baseline *b, const struct ap_baseline_gate *g,
		      const struct ap_analysis *new, const char *path, const char *new_dir,
		      const char *outdir, unsigned uid)
{
	const char *where = outdir ? outdir : new_dir;
	struct ap_diff d = { .base_dir = path, .new_dir = new_dir };
	double se;
	struct stat st;
	cJSON *j, *part;
	int fd, err;

	/* the run-level facts diff.json carries, the baseline as BASE */
	d.target[0] = b->target, d.target[1] = g->new_target;
	d.same_target = g->same_target;
	d.samples[0] = b->samples, d.hz[0] = b->hz, d.wall_s[0] = b->wall_s;
	d.samples[1] = g->budgets[1].samples[1];
	d.hz[1] = new->in.prof.frequency_hz ? new->in.prof.frequency_hz : 1;
	d.wall_s[1] = new->in.wall_s;
	d.cpu_s[0] = d.samples[0] / d.hz[0], d.cpu_s[1] = d.samples[1] / d.hz[1];
	se = sqrt(d.samples[0] / (d.hz[0] * d.hz[0]) + d.samples[1] / (d.hz[1] * d.hz[1]));
	d.z_cpu = se > 0 ? (d.cpu_s[1] - d.cpu_s[0]) / se : 0;
	d.p_cpu = ap_norm_p2(d.z_cpu);
	d.cpu_change = d.p_cpu >= AP_DIFF_ALPHA ? 0 : d.z_cpu > 0 ? 1 : -1;
	part = ap_baseline_gate__json(g, b, path);
	d.baseline = part;
	fd = ap_run_dir_open(where, uid);
	if (fd < 0) {
		cJSON_Delete(part);
		return AP_EXIT_FAILED;
	}
	if (!fstatat(fd, "diff.json", &st, AT_SYMLINK_NOFOLLOW))
		fprintf(stderr, "autoprof-bpf diff: replacing %s/diff.json\n", where);
	j = ap_diff__json(&d);
	err = json_write_atomic(fd, "diff.json", j);
	cJSON_Delete(j);
	cJSON_Delete(part);
	close(fd);
	if (err) {
		ap_err("diff: writing %s/diff.json: %s", where, ap_errstr(err));
		return AP_EXIT_FAILED;
	}
	return 0;
}

int cmd_diff_baseline(const char *ref, const char *dir, int argc, char **argv, double tolerance,
		      const char *focus, const char *outdir, bool quiet)
{
	struct ap_baseline b = { 0 };
	struct ap_baseline_gate g = { 0 };
	struct ap_analysis *new = NULL;
	char *shown = NULL;
	unsigned uid, gid;
	regex_t re;
	int ret = AP_EXIT_FAILED;

	if (argc != 1) {
		fprintf(stderr, "autoprof-bpf diff: --baseline NAME takes one run directory, NEW (see --help)\n");
		return AP_EXIT_USAGE;
	}
	if (!is_path_ref(ref) && !ap_baseline_name_ok(ref)) {
		fprintf(stderr, "autoprof-bpf diff: --baseline '%s': neither a baseline NAME (letters, digits, '.', '_', '-') nor a path to a .json\n",
			ref);
		return AP_EXIT_USAGE;
	}
	if (focus && regcomp(&re, focus, REG_EXTENDED | REG_NOSUB)) {
		fprintf(stderr, "autoprof-bpf diff: --focus %s: not a regular expression\n", focus);
		return AP_EXIT_USAGE;
	}
	ap_invoking_user(&uid, &gid);
	if (baseline_read(ref, baselines_dir(dir), uid, &b, &shown))
		goto out;
	new = ap_diff_load_run(argv[0], uid, false);
	if (!new)
		goto out;
	ap_baseline__gate(&g, &b, new, isnan(tolerance) ? AP_BASELINE_TOLERANCE_PCT : tolerance,
			  focus ? &re : NULL);
	if (!g.same_target)
		fprintf(stderr, "autoprof-bpf diff: warning: different targets: baseline '%s', run '%s'; gated anyway\n",
			b.target, g.new_target);
	if (!g.same_runtime)
		fprintf(stderr, "autoprof-bpf diff: warning: different interpreters: baseline '%s', run '%s'\n",
			b.runtime, g.new_runtime);
	ret = write_gate(&b, &g, new, shown, argv[0], outdir, uid);
	if (ret)
		goto out;
	if (!quiet) {
		ap_baseline_gate__print(&g, &b, shown, argv[0], stdout);
		printf("Written: %s/diff.json\n", outdir ? outdir : argv[0]);
	}
	ret = g.nr_exceeded ? 1 : 0;
out:
	ap_baseline_gate__free(&g);
	ap_baseline__free(&b);
	run_free(new);
	free(shown);
	if (focus)
		regfree(&re);
	return ret;
}
