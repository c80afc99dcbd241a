// SPDX-License-Identifier: MIT
/* What the analyzer reads: run.json and the artifacts of one run. cpu.json
 * is required; offcpu.json, syscalls.json, memory.json, proc.json and
 * python_calls.json are used when present (the metrics they feed are then
 * missing, and the patterns that need them say so). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "artifact/artifact.h"
#include "artifact/input.h"
#include "artifact/json_arena.h"
#include "log.h"
#include "util.h"

/* name is in dirfd (as anything: a symlink or FIFO is then refused by the read) */
static bool exists(int dirfd, const char *name)
{
	struct stat st;

	return dirfd >= 0 && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* dirfd/name, one of our artifacts: regular, not a symlink, at most AP_READ_MAX */
static char *read_ours(int dirfd, const char *name, const char *label, size_t *len)
{
	char *text = read_file_at(dirfd, name, O_NOFOLLOW, AP_READ_MAX, len);

	if (!text)
		ap_err("%s: cannot read: %s", label, ap_read_errstr(errno, AP_READ_MAX));
	return text;
}

typedef int (*load_buf_fn)(struct profile *p, const char *text, size_t len, const char *name);

static int load_artifact(struct profile *p, int afd, const char *dir, const char *name,
			 load_buf_fn fn)
{
	char *label = xasprintf("%s/artifacts/%s", dir, name), *text;
	size_t len;
	int err;

	text = read_ours(afd, name, label, &len);
	json_arena_begin(); /* fn parses, loads and deletes its tree */
	err = text ? fn(p, text, len, label) : -EINVAL;
	json_arena_end();
	free(text);
	free(label);
	return err;
}

static double num(const cJSON *o, const char *key, double dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

static void load_run(struct ap_input *in, const cJSON *root)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "target");
	const cJSON *h = cJSON_GetObjectItemCaseSensitive(root, "host");
	const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(t, "command");
	const cJSON *pids = cJSON_GetObjectItemCaseSensitive(t, "pids");
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, "interrupted");
	const cJSON *e;
	struct strbuf sb = { 0 };

	in->wall_s = num(root, "wall_s", 0);
	in->profiler_pid = (uint32_t)num(cJSON_GetObjectItemCaseSensitive(root, "tool"), "pid", 0);
	in->nr_cpus = (int)num(h, "nr_cpus", 0);
	in->mem_available_mb = num(h, "mem_available_kb", NAN) / 1024;
	in->interrupted = cJSON_IsTrue(it);
	in->system_wide = cJSON_IsString(cJSON_GetObjectItemCaseSensitive(t, "mode")) &&
			  !strcmp(cJSON_GetObjectItemCaseSensitive(t, "mode")->valuestring, "all");
	if (in->system_wide) {
		const char *f = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "filters"));

		sb_printf(&sb, "all processes%s%s", f && *f ? ", " : "", f && *f ? f : "");
	} else if (cJSON_IsArray(cmd)) {
		cJSON_ArrayForEach(e, cmd)
			if (cJSON_IsString(e))
				sb_printf(&sb, "%s%s", sb.len ? " " : "", e->valuestring);
	} else if (cJSON_IsArray(pids)) {
		sb_puts(&sb, "pid");
		cJSON_ArrayForEach(e, pids)
			if (cJSON_IsNumber(e))
				sb_printf(&sb, " %d", e->valueint);
	}
	in->target = sb.buf ? sb.buf : xstrdup("?");
}

/* a numeric column: null (not read) becomes NAN */
static double *column(const cJSON *series, const char *key, size_t n)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(series, key), *e;
	double *v = xcalloc(n ? n : 1, sizeof(*v));
	size_t i = 0;

	for (i = 0; i < n; i++)
		v[i] = NAN;
	i = 0;
	cJSON_ArrayForEach(e, a)
	{
		if (i >= n)
			break;
		v[i++] = cJSON_IsNumber(e) ? e->valuedouble : NAN;
	}
	return v;
}

static int load_proc(struct ap_input *in, int afd, const char *label)
{
	cJSON *root = json_load_checked_at(afd, "proc.json", label, AP_SCHEMA_PROC), *o;
	const cJSON *arr;

	if (!root)
		return -errno;
	arr = cJSON_GetObjectItemCaseSensitive(root, "processes");
	cJSON_ArrayForEach(o, arr)
	{
		const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "series");
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(s, "t_s");
		struct ap_series *sr;
		size_t n = cJSON_GetArraySize(t);

		if (!cJSON_IsArray(t))
			continue;
		in->series = xrealloc(in->series, (in->nr_series + 1) * sizeof(*in->series));
		sr = &in->series[in->nr_series++];
		sr->pid = (uint32_t)num(o, "pid", 0);
		sr->n = n;
		sr->t = column(s, "t_s", n);
		sr->rss_kb = column(s, "rss_kb", n);
		sr->cpu_pct = column(s, "cpu_pct", n);
		sr->threads = column(s, "threads", n);
		sr->minflt = column(s, "minor_faults", n);
		sr->majflt = column(s, "major_faults", n);
		sr->rchar = column(s, "rchar", n);
		sr->wchar = column(s, "wchar", n);
	}
	in->has_proc = true;
	cJSON_Delete(root);
	return 0;
}

static int load_pycalls(struct ap_input *in, int afd, const char *label)
{
	cJSON *root = json_load_checked_at(afd, "python_calls.json", label, "autoprof.python_calls/1"), *o;

	if (!root)
		return -errno;
	cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(root, "code_objects"))
	{
		const cJSON *q = cJSON_GetObjectItemCaseSensitive(o, "qualname");
		const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, "file");
		struct ap_pycall *c;

		in->pycalls = xrealloc(in->pycalls, (in->nr_pycalls + 1) * sizeof(*in->pycalls));
		c = &in->pycalls[in->nr_pycalls++];
		c->pid = (uint32_t)num(o, "pid", 0);
		c->qualname = xstrdup(cJSON_IsString(q) ? q->valuestring : "");
		c->file = xstrdup(cJSON_IsString(f) ? f->valuestring : "");
		c->entries = (uint64_t)num(o, "entries", 0);
		c->minor = (int)num(o, "python_minor", 0);
	}
	in->has_pycalls = true;
	cJSON_Delete(root);
	return 0;
}

int ap_input__load(struct ap_input *in, int dirfd, const char *dir)
{
	char label[PATH_MAX];
	cJSON *run;
	int afd, err;

	memset(in, 0, sizeof(*in));
	profile__init(&in->prof);
	/* only our own files, relative to the run directory, never through a link */
	afd = openat(dirfd, "artifacts", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (afd < 0 || !exists(afd, "cpu.json")) {
		struct stat st;
		bool link = !fstatat(dirfd, "artifacts", &st, AT_SYMLINK_NOFOLLOW) &&
			    S_ISLNK(st.st_mode);

		ap_err("%s: not a run directory (no artifacts/cpu.json%s)", dir,
		       link ? ": artifacts is a symbolic link, refused" : "");
		if (afd >= 0)
			close(afd);
		return -ENOENT;
	}
	err = load_artifact(&in->prof, afd, dir, "cpu.json", cpu_json__load_buf);
	if (!err && exists(afd, "offcpu.json"))
		err = load_artifact(&in->prof, afd, dir, "offcpu.json", offcpu_json__load_buf);
	if (!err && exists(afd, "syscalls.json"))
		err = load_artifact(&in->prof, afd, dir, "syscalls.json", syscalls_json__load_buf);
	if (!err && exists(afd, "memory.json"))
		err = load_artifact(&in->prof, afd, dir, "memory.json", memory_json__load_buf);
	snprintf(label, sizeof(label), "%s/artifacts/proc.json", dir);
	if (!err && exists(afd, "proc.json"))
		err = load_proc(in, afd, label);
	snprintf(label, sizeof(label), "%s/artifacts/python_calls.json", dir);
	if (!err && exists(afd, "python_calls.json"))
		err = load_pycalls(in, afd, label);
	close(afd);
	if (err)
		return err;
	/* run.json adds the machine and the target; without it (artifacts
	 * copied alone) the profile's own duration stands in */
	in->wall_s = in->prof.duration_s;
	if (exists(dirfd, "run.json")) {
		snprintf(label, sizeof(label), "%s/run.json", dir);
		run = json_load_checked_at(dirfd, "run.json", label, AP_SCHEMA_RUN);
		if (!run)
			return -errno;
		load_run(in, run);
		cJSON_Delete(run);
	}
	if (!in->target)
		in->target = xstrdup("?");
	if (in->wall_s <= 0)
		in->wall_s = in->prof.duration_s;
	{
		uint64_t lost = profile__counter(&in->prof, "ringbuf_full");

		in->lost_pct = lost ? 100.0 * lost / (lost + in->prof.total_samples) : 0;
	}
	return 0;
}

void ap_input__free(struct ap_input *in)
{
	size_t i;

	for (i = 0; i < in->nr_series; i++) {
		struct ap_series *s = &in->series[i];

		free(s->t), free(s->rss_kb), free(s->cpu_pct), free(s->threads), free(s->minflt);
		free(s->majflt), free(s->rchar), free(s->wchar);
	}
	free(in->series);
	for (i = 0; i < in->nr_pycalls; i++)
		free(in->pycalls[i].qualname), free(in->pycalls[i].file);
	free(in->pycalls);
	free(in->target);
	profile__free(&in->prof);
}
