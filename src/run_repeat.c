// SPDX-License-Identifier: MIT
/* `run --repeat N`: N runs of one command, one after another, each a
 * forked `run` writing DIR/run-I as a run without --repeat would, then the
 * aggregate of the runs that finished (src/diff/variance.c).
 *
 * Why a fork per run rather than one BPF load for all: a run's collectors
 * hold per-target state (tracked pids, Python offsets, mappings, unwinders,
 * the open window) that a run drops as a whole before its analysis; a fresh
 * process per run gives each run exactly what a single run gets, so its
 * numbers are comparable with a run made alone. Measured on the 2-CPU test
 * host: a run's "start" phase (BPF load and attach) is ~0.23 s of CPU of
 * ~0.3 s of overhead per run (run.json "self"); keeping the programs loaded
 * would save about that per run.
 *
 * Signals: the parent stops starting runs at the first SIGINT, SIGTERM or
 * SIGHUP. A signal sent to us alone is passed to the running child (which
 * passes it on to its target, as a single run does); a terminal's Ctrl-C
 * reached them already. The run it cut short is kept on disk but left out
 * of the statistics. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "artifact/artifact.h"
#include "cmds.h"
#include "diff/repeat.h"
#include "log.h"
#include "outdir.h"
#include "run_repeat.h"
#include "util.h"

const char *run_repeat_child_dir;

static volatile sig_atomic_t rep_sig;
static volatile pid_t rep_child;

static void rep_on_signal(int sig, siginfo_t *si, void *uc)
{
	rep_sig = sig;
	if (rep_child > 0 && si->si_code != SI_KERNEL)
		kill(rep_child, sig);
}

static void rep_signals(bool install)
{
	struct sigaction sa = { .sa_sigaction = rep_on_signal, .sa_flags = SA_SIGINFO };

	if (!install)
		sa = (struct sigaction){ .sa_handler = SIG_DFL };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

/* one run: fork, cmd_run in the child; its exit status (or -errno) */
static int run_one(const char *dir, int i, int argc, char **argv)
{
	char n[16];
	int st;
	pid_t pid, r;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		rep_signals(false);
		snprintf(n, sizeof(n), "%d", i);
		setenv(AP_REPEAT_ENV, n, 1);
		run_repeat_child_dir = dir;
		exit(cmd_run(argc, argv));
	}
	rep_child = pid;
	while ((r = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
		;
	rep_child = 0;
	if (r < 0)
		return -errno;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* did the run write its run.json (a complete run directory)? */
static bool run_written(const char *dir)
{
	char *p = xasprintf("%s/run.json", dir);
	struct stat st;
	bool yes = !lstat(p, &st) && S_ISREG(st.st_mode);

	free(p);
	return yes;
}

/* repeat.json and repeat.md into fd; 0 or -errno with a line */
static int write_set(const struct ap_repeat_set *s, int fd)
{
	cJSON *j = ap_repeat__json(s);
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int err;

	err = json_write_atomic(fd, "repeat.json", j);
	cJSON_Delete(j);
	if (!err) {
		f = open_memstream(&buf, &len);
		if (!f)
			return -errno;
		ap_repeat__print(s, true, f);
		fclose(f);
		err = write_file_atomic_at(fd, "repeat.md", buf, len);
		free(buf);
	}
	if (err)
		ap_err("repeat: writing %s/repeat.json and repeat.md: %s", s->dir, ap_errstr(err));
	return err;
}

static struct ap_outdir *make_dir(const struct ap_options *o, const char *default_dir, int *ret)
{
	struct ap_outdir *out = xcalloc(1, sizeof(*out));
	unsigned gid;

	ap_invoking_user(&out->uid, &gid);
	ap_set_output_owner(out->uid, gid);
	out->path = xstrdup(o->outdir ? o->outdir : default_dir);
	out->base = out->fd = out->parent = out->old_fd = -1;
	/* a set is never replaced (--force is for one run) */
	*ret = ap_outdir__check(out, false, !o->outdir);
	if (!*ret && ap_outdir__create(out, false))
		*ret = -AP_EXIT_FAILED;
	if (*ret) {
		ap_outdir__free(out);
		return NULL;
	}
	return out;
}

int run_repeat(const struct ap_options *o, const char *default_dir, int argc, char **argv)
{
	struct ap_repeat_set s = { .requested = o->repeat };
	int i, st, ret = 0, first_bad = 0, err;
	struct ap_outdir *out;
	size_t cap = 0;
	char *dir;

	out = make_dir(o, default_dir, &ret);
	if (!out)
		return -ret;
	s.dir = xstrdup(out->path);
	rep_signals(true);
	for (i = 1; i <= o->repeat && !rep_sig; i++) {
		struct ap_repeat_run *r;

		dir = xasprintf("%s/run-%d", s.dir, i);
		st = run_one(dir, i, argc, argv);
		if (st < 0 || !run_written(dir)) { /* could not be profiled: it said why */
			if (st < 0)
				ap_err("repeat: run %d: fork: %s", i, ap_errstr(st));
			ret = st < 0 ? AP_EXIT_FAILED : st;
			free(dir);
			break;
		}
		GROW(s.runs, cap, s.nr_runs + 1);
		r = &s.runs[s.nr_runs++];
		*r = (struct ap_repeat_run){ .name = xasprintf("run-%d", i), .included = !rep_sig,
					     .exit_status = st };
		if (rep_sig)
			r->excluded = xasprintf("cut short by %s",
						sigabbrev_np(rep_sig) ?: "a signal");
		if (st && !first_bad)
			first_bad = st;
		if (!o->quiet)
			fprintf(stderr, "autoprof-bpf: run %d of %d: target exit %d -> %s\n", i,
				o->repeat, st, dir);
		free(dir);
	}
	s.interrupted = rep_sig != 0;
	if (!s.nr_runs) { /* nothing to aggregate: leave nothing behind */
		ap_outdir__abandon(out);
		goto done;
	}
	err = ap_repeat__load(&s, out->uid);
	if (!err)
		err = write_set(&s, out->fd);
	if (err) {
		ret = AP_EXIT_FAILED;
		goto done;
	}
	if (!o->quiet) {
		fputc('\n', stderr);
		ap_repeat__print(&s, false, stderr);
		fprintf(stderr, "\nWritten: %s/repeat.json, %s/repeat.md\n", s.dir, s.dir);
	}
	if (!ret)
		ret = rep_sig ? 128 + rep_sig : first_bad;
done:
	rep_signals(false);
	ap_repeat__free(&s);
	ap_outdir__free(out);
	return ret;
}
