// SPDX-License-Identifier: MIT
/* What the analyzer reads: run.json and the artifacts of one run. cpu.json
 * is required; offcpu.json, syscalls.json, proc.json and python_calls.json
 * are used when present (the metrics they feed are then missing, and the
 * patterns that need them say so). */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "analyze/analyze.h"
#include "artifact/artifact.h"
#include "log.h"
#include "util.h"

static bool exists(const char *dir, const char *name, char *path, size_t len)
{
	snprintf(path, len, "%s/%s", dir, name);
	return access(path, F_OK) == 0;
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
	in->nr_cpus = (int)num(h, "nr_cpus", 0);
	in->interrupted = cJSON_IsTrue(it);
	if (cJSON_IsArray(cmd)) {
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

static int load_proc(struct ap_input *in, const char *path)
{
	cJSON *root = json_load_checked(path, AP_SCHEMA_PROC), *o;
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

static int load_pycalls(struct ap_input *in, const char *path)
{
	cJSON *root = json_load_checked(path, "autoprof.python_calls/1"), *o;

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

int ap_input__load(struct ap_input *in, const char *dir)
{
	char path[PATH_MAX];
	cJSON *run;
	int err;

	memset(in, 0, sizeof(*in));
	profile__init(&in->prof);
	if (!exists(dir, "artifacts/cpu.json", path, sizeof(path))) {
		ap_err("%s: not a run directory (no artifacts/cpu.json)", dir);
		return -ENOENT;
	}
	err = cpu_json__load(&in->prof, path);
	if (!err && exists(dir, "artifacts/offcpu.json", path, sizeof(path)))
		err = offcpu_json__load(&in->prof, path);
	if (!err && exists(dir, "artifacts/syscalls.json", path, sizeof(path)))
		err = syscalls_json__load(&in->prof, path);
	if (!err && exists(dir, "artifacts/proc.json", path, sizeof(path)))
		err = load_proc(in, path);
	if (!err && exists(dir, "artifacts/python_calls.json", path, sizeof(path)))
		err = load_pycalls(in, path);
	if (err)
		return err;
	/* run.json adds the machine and the target; without it (artifacts
	 * copied alone) the profile's own duration stands in */
	in->wall_s = in->prof.duration_s;
	if (exists(dir, "run.json", path, sizeof(path))) {
		run = json_load_checked(path, AP_SCHEMA_RUN);
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
