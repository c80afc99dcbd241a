// SPDX-License-Identifier: MIT
/* Process metrics timeline from /proc/PID/{stat,io} and the status of each
 * thread (context switches are per thread in the kernel). Counters are
 * cumulative as the kernel reports them; CPU % is computed per interval. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include "artifact/artifact.h"
#include "collect/procstat.h"
#include "util.h"

struct pt {                     /* one sample */
	double t;               /* seconds since the start */
	double cpu_pct;         /* of one CPU over the interval before it */
	uint64_t rss_kb, threads, vol_cs, invol_cs, minflt, majflt;
	uint64_t rchar, wchar, read_bytes, write_bytes;
	uint64_t cpu_ticks;     /* utime + stime */
};

struct series {
	uint32_t pid;
	char comm[64];
	struct pt *pts;
	size_t nr, cap;
	bool gone;              /* /proc entry disappeared */
	uint32_t stride, skip;  /* read every stride-th tick (AP_PROCSTAT_POINTS_MAX) */
	long tck;
};

struct procstat {
	uint64_t start_ns;
	long tck, page_kb;
	struct series *s;
	size_t nr, cap;
	struct hmap idx;        /* pid -> index */
	uint64_t samples;
};

/* ps->idx value of a pid that exited before its first sample */
#define PS_GONE_UNSEEN UINT64_MAX

struct procstat *procstat__new(uint64_t start_ns)
{
	struct procstat *ps = xcalloc(1, sizeof(*ps));

	ps->start_ns = start_ns;
	ps->tck = sysconf(_SC_CLK_TCK);
	ps->page_kb = sysconf(_SC_PAGESIZE) / 1024;
	if (ps->tck <= 0)
		ps->tck = 100;
	return ps;
}

/* /proc/PID/stat after the ")" that ends comm (comm may hold spaces) */
static int read_stat(uint32_t pid, struct pt *pt, char *comm, size_t comm_len)
{
	char path[64], *text, *open, *close;
	unsigned long long v[50];
	int n = 0;
	size_t len;

	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	text = read_file(path, &len);
	if (!text)
		return -errno;
	open = strchr(text, '(');
	close = strrchr(text, ')');
	if (!open || !close || close < open) {
		free(text);
		return -EINVAL;
	}
	snprintf(comm, comm_len, "%.*s", (int)(close - open - 1), open + 1);
	/* fields from 3 (state) on; state is a letter, skip it */
	for (char *p = close + 2, *tok; n < 50 && (tok = strsep(&p, " ")); n++)
		v[n] = n ? strtoull(tok, NULL, 10) : 0;
	free(text);
	if (n < 22)
		return -EINVAL;
	/* v[i] is field i + 3 (1-based, proc(5)) */
	pt->minflt = v[10 - 3];
	pt->majflt = v[12 - 3];
	pt->cpu_ticks = v[14 - 3] + v[15 - 3];
	pt->threads = v[20 - 3];
	pt->rss_kb = v[24 - 3];
	return 0;
}

struct field {
	const char *key;        /* "rchar:" */
	uint64_t *dst;
};

/* add the value of each "key: value" line of path to its field */
static void add_fields(const char *path, const struct field *f, int n)
{
	size_t len, kl;
	char *text = read_file(path, &len), *line, *p;
	int i;

	if (!text)
		return;
	for (p = text; (line = strsep(&p, "\n"));)
		for (i = 0; i < n; i++)
			if (!strncmp(line, f[i].key, kl = strlen(f[i].key))) {
				*f[i].dst += strtoull(line + kl, NULL, 10);
				break;
			}
	free(text);
}

static void read_io(uint32_t pid, struct pt *pt)
{
	const struct field f[] = {
		{ "rchar:", &pt->rchar }, { "wchar:", &pt->wchar },
		{ "read_bytes:", &pt->read_bytes }, { "write_bytes:", &pt->write_bytes },
	};
	char path[64];

	snprintf(path, sizeof(path), "/proc/%u/io", pid);
	add_fields(path, f, 4);
}

/* voluntary and involuntary switches summed over the live threads */
static void read_switches(uint32_t pid, struct pt *pt)
{
	const struct field f[] = {
		{ "voluntary_ctxt_switches:", &pt->vol_cs },
		{ "nonvoluntary_ctxt_switches:", &pt->invol_cs },
	};
	char path[300];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%u/task", pid);
	d = opendir(path);
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%u/task/%s/status", pid, de->d_name);
		add_fields(path, f, 2);
	}
	closedir(d);
}

/* at the cap: keep every other point, recompute CPU % over the new
 * intervals, and read half as often */
static void thin(struct series *s)
{
	size_t j;

	for (j = 0; 2 * j < s->nr; j++)
		s->pts[j] = s->pts[2 * j];
	s->nr = j;
	for (j = 1; j < s->nr; j++)
		if (s->pts[j].t > s->pts[j - 1].t)
			s->pts[j].cpu_pct = 100.0 * (s->pts[j].cpu_ticks - s->pts[j - 1].cpu_ticks) /
					    s->tck / (s->pts[j].t - s->pts[j - 1].t);
	s->stride *= 2;
}

void procstat__sample(struct procstat *ps, const struct hmap *tracked, uint64_t now_ns)
{
	size_t i;

	for (i = 0; i < tracked->cap; i++) {
		const struct hmap_ent *e = &tracked->ents[i];
		struct series *s;
		struct pt pt = { 0 };
		char comm[64];
		uint32_t pid;
		uint64_t idx;
		bool known;

		if (!e->key || e->klen != sizeof(pid))
			continue;
		memcpy(&pid, e->key, sizeof(pid));
		known = hmap_get(&ps->idx, &pid, sizeof(pid), &idx);
		if (known && (idx == PS_GONE_UNSEEN || ps->s[idx].gone))
			continue;
		if (known && ps->s[idx].skip) {
			ps->s[idx].skip--;
			continue;
		}
		if (read_stat(pid, &pt, comm, sizeof(comm))) {
			/* gone: never open its /proc files again (a build's
			 * thousands of finished commands stay in tracked) */
			if (known)
				ps->s[idx].gone = true;
			else
				hmap_put(&ps->idx, &pid, sizeof(pid), PS_GONE_UNSEEN);
			continue;
		}
		read_io(pid, &pt);
		/* context switches cost a file read per thread: for a process
		 * with many threads, read them every few samples (about 256
		 * threads' worth per sample) and leave the others unknown */
		if (pt.threads <= AP_PROCSTAT_THREADS ||
		    (known ? ps->s[idx].nr : 0) % (pt.threads / AP_PROCSTAT_THREADS + 1) == 0)
			read_switches(pid, &pt);
		else
			pt.vol_cs = pt.invol_cs = UINT64_MAX;
		if (!known) {
			idx = ps->nr;
			hmap_put(&ps->idx, &pid, sizeof(pid), idx);
			GROW(ps->s, ps->cap, ps->nr + 1);
			ps->s[ps->nr++] = (struct series){ .pid = pid, .stride = 1, .tck = ps->tck };
		}
		s = &ps->s[idx];
		snprintf(s->comm, sizeof(s->comm), "%s", comm);
		pt.t = now_ns > ps->start_ns ? (now_ns - ps->start_ns) / 1e9 : 0;
		pt.rss_kb *= ps->page_kb;
		if (s->nr && pt.t > s->pts[s->nr - 1].t)
			pt.cpu_pct = 100.0 * (pt.cpu_ticks - s->pts[s->nr - 1].cpu_ticks) / ps->tck /
				     (pt.t - s->pts[s->nr - 1].t);
		GROW(s->pts, s->cap, s->nr + 1);
		s->pts[s->nr++] = pt;
		ps->samples++;
		if (s->nr >= AP_PROCSTAT_POINTS_MAX)
			thin(s);
		s->skip = s->stride - 1;
	}
}

/* a column of the series; UINT64_MAX (not read) is written as null */
#define COLUMN(name, expr)                                                        \
	do {                                                                      \
		cJSON *a_ = cJSON_AddArrayToObject(cols, name);                   \
		for (j = 0; j < s->nr; j++) {                                     \
			const struct pt *pt = &s->pts[j];                         \
			double v_ = (expr);                                       \
			cJSON_AddItemToArray(a_, v_ == (double)UINT64_MAX ?       \
					     cJSON_CreateNull() : cJSON_CreateNumber(v_)); \
		}                                                                 \
	} while (0)

int procstat__write(const struct procstat *ps, int dirfd)
{
	cJSON *root = cJSON_CreateObject(), *arr, *o, *cols;
	size_t i, j;

	cJSON_AddStringToObject(root, "schema", AP_SCHEMA_PROC);
	cJSON_AddNumberToObject(root, "interval_ms", AP_PROCSTAT_INTERVAL_NS / 1e6);
	cJSON_AddStringToObject(root, "note", "counters are cumulative since each process started; "
				"cpu_pct is of one CPU over the interval before each sample");
	arr = cJSON_AddArrayToObject(root, "processes");
	for (i = 0; i < ps->nr; i++) {
		const struct series *s = &ps->s[i];

		cJSON_AddItemToArray(arr, o = cJSON_CreateObject());
		cJSON_AddNumberToObject(o, "pid", s->pid);
		cJSON_AddStringToObject(o, "comm", s->comm);
		cJSON_AddNumberToObject(o, "samples", s->nr);
		cols = cJSON_AddObjectToObject(o, "series");
		COLUMN("t_s", pt->t);
		COLUMN("cpu_pct", pt->cpu_pct);
		COLUMN("rss_kb", pt->rss_kb);
		COLUMN("threads", pt->threads);
		COLUMN("voluntary_switches", pt->vol_cs);
		COLUMN("involuntary_switches", pt->invol_cs);
		COLUMN("minor_faults", pt->minflt);
		COLUMN("major_faults", pt->majflt);
		COLUMN("rchar", pt->rchar);
		COLUMN("wchar", pt->wchar);
		COLUMN("read_bytes", pt->read_bytes);
		COLUMN("write_bytes", pt->write_bytes);
	}
	return json_write_artifact(dirfd, "proc.json", root);
}

void procstat__free(struct procstat *ps)
{
	size_t i;

	if (!ps)
		return;
	for (i = 0; i < ps->nr; i++)
		free(ps->s[i].pts);
	free(ps->s);
	hmap_free(&ps->idx);
	free(ps);
}
