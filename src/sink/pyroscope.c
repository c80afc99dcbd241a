// SPDX-License-Identifier: MIT
/* Pyroscope ingest requests (pyroscope.h): the window's processes grouped
 * by service, one pprof per group rendered by the pprof writer with a
 * process filter (struct ap_pics keep_pid), the frames' view computed once
 * for all groups. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "artifact/input.h"
#include "artifact/window_json.h"
#include "hashmap.h"
#include "log.h"
#include "profile/profile.h"
#include "report/formats.h"
#include "sink/push.h"
#include "sink/pyroscope.h"
#include "util.h"

struct group {
	char *name;
	uint64_t weight;        /* samples, off-CPU and memory rows */
	size_t out;             /* the request it goes into */
};

struct groups {
	struct group *g;
	size_t nr, cap;
	struct hmap by_name, by_pid;    /* -> group index */
	size_t want;                    /* keep_pid: the request being rendered */
};

void pyroscope_clean(const char *s, char *out, size_t len)
{
	size_t i;

	/* strict UTF-8, cut at a character boundary */
	ap_utf8_clean(out, len < AP_PYROSCOPE_NAME_MAX + 1 ? len : AP_PYROSCOPE_NAME_MAX + 1, s,
		      strlen(s), true);
	for (i = 0; out[i]; i++)
		if ((unsigned char)out[i] <= ' ' || out[i] == 0x7f || strchr("{},=\"\\", out[i]))
			out[i] = '_';
}

/* the OpenTelemetry service of pid: its label, else unknown_service:EXE */
static void service_of(const struct profile *p, uint32_t pid, char *out, size_t len)
{
	const struct ap_process *pr = profile__find_process(p, pid);
	const char *svc = pr ? profile__s(p, pr->service) : "", *exe, *base;
	char buf[512];

	if (*svc) {
		pyroscope_clean(svc, out, len);
		return;
	}
	exe = pr ? profile__s(p, pr->exe) : "";
	if (!*exe && pr)
		exe = profile__s(p, pr->comm);
	base = strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe;
	snprintf(buf, sizeof(buf), "unknown_service%s%s", *base ? ":" : "", base);
	pyroscope_clean(buf, out, len);
}

static void add_weight(struct groups *gs, const struct profile *p, uint32_t pid, uint64_t w)
{
	char name[AP_PYROSCOPE_NAME_MAX + 1];
	uint64_t gi;
	bool is_new;

	if (!hmap_get(&gs->by_pid, &pid, sizeof(pid), &gi)) {
		service_of(p, pid, name, sizeof(name));
		gi = *hmap_upsert(&gs->by_name, name, strlen(name), gs->nr, &is_new);
		if (is_new) {
			GROW(gs->g, gs->cap, gs->nr + 1);
			gs->g[gs->nr++] = (struct group){ .name = xstrdup(name) };
		}
		hmap_put(&gs->by_pid, &pid, sizeof(pid), gi);
	}
	gs->g[gi].weight += w;
}

static int by_weight_desc(const void *a, const void *b)
{
	const struct group *x = *(const struct group *const *)a, *y = *(const struct group *const *)b;

	return x->weight < y->weight ? 1 : x->weight > y->weight ? -1 : strcmp(x->name, y->name);
}

/* each group's request: its own, or the last (merged) past the cap;
 * how many requests */
static size_t assign(struct groups *gs, struct ap_pyroscope_result *res)
{
	struct group **v = xcalloc(gs->nr + 1, sizeof(*v));
	size_t i, n = 0;

	for (i = 0; i < gs->nr; i++)
		if (gs->g[i].weight)
			v[n++] = &gs->g[i];
	qsort(v, n, sizeof(*v), by_weight_desc);
	res->services = n;
	for (i = 0; i < n; i++)
		v[i]->out = i < AP_PYROSCOPE_SERVICES_MAX - 1 || n <= AP_PYROSCOPE_SERVICES_MAX ?
				    i : AP_PYROSCOPE_SERVICES_MAX - 1;
	if (n > AP_PYROSCOPE_SERVICES_MAX) {
		res->merged = n - (AP_PYROSCOPE_SERVICES_MAX - 1);
		n = AP_PYROSCOPE_SERVICES_MAX;
	}
	for (i = 0; i < gs->nr; i++)
		if (!gs->g[i].weight)
			gs->g[i].out = SIZE_MAX;
	free(v);
	return n;
}

static bool keep_pid(void *ctx, uint32_t pid)
{
	struct groups *gs = ctx;
	uint64_t gi;

	return hmap_get(&gs->by_pid, &pid, sizeof(pid), &gi) && gs->g[gi].out == gs->want;
}

static void url_escape(struct strbuf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = *s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("-._~", c))
			sb_append(b, (const char *)&c, 1);
		else
			sb_printf(b, "%%%02X", c);
	}
}

/* the group's name, the merged one's past the cap */
static const char *request_name(const struct groups *gs, size_t r, bool merged)
{
	size_t i;

	if (merged && r == AP_PYROSCOPE_SERVICES_MAX - 1)
		return AP_PYROSCOPE_OTHER;
	for (i = 0; i < gs->nr; i++)
		if (gs->g[i].out == r)
			return gs->g[i].name;
	return "unknown_service";
}

int pyroscope__push_window(struct ap_push *sink, const struct profile *win,
			   const struct ap_window_info *wi, const char *host_name,
			   struct ap_pyroscope_result *res)
{
	struct ap_input in = { .wall_s = (wi->end_mono_ns - wi->start_mono_ns) / 1e9,
			       .nr_cpus = wi->nr_cpus, .target = (char *)"agent" };
	char host[AP_PYROSCOPE_NAME_MAX + 1];
	struct groups gs = { 0 };
	struct ap_pics x;
	size_t i, n;
	int err = 0, e;

	memset(res, 0, sizeof(*res));
	for (i = 0; i < win->nr_counts; i++)
		add_weight(&gs, win, win->counts[i].pid, win->counts[i].count);
	for (i = 0; win->has_offcpu && i < win->nr_off; i++)
		add_weight(&gs, win, win->off[i].pid, 1);
	for (i = 0; win->has_memory && i < win->nr_mem; i++) /* pprof's memory sample types */
		if (win->mem[i].kind == AP_MEM_FAULT || win->mem[i].kind == AP_MEM_ALLOC ||
		    win->mem[i].kind == AP_MEM_LIVE)
			add_weight(&gs, win, win->mem[i].pid, 1);
	n = assign(&gs, res);
	pyroscope_clean(host_name, host, sizeof(host));
	in.prof = *win; /* a shallow view: the pprof writer reads a run as loaded artifacts */
	ap_pics_init(&x, &in, AP_VIEW_MIXED, -1);
	x.keep_pid = keep_pid;
	x.keep_ctx = &gs;
	x.num_labels = true;
	for (i = 0; i < n; i++) {
		struct strbuf gz = { 0 }, path = { 0 }, name = { 0 };

		gs.want = i;
		e = pprof_render(&x, &gz);
		if (!e) {
			sb_printf(&name, "%s{host_name=%s}", request_name(&gs, i, res->merged), host);
			sb_puts(&path, "/ingest?name=");
			url_escape(&path, name.buf);
			sb_printf(&path, "&from=%llu&until=%llu&format=pprof&sampleRate=%u"
					 "&spyName=autoprof-bpf",
				  (unsigned long long)(wi->start_real_ns / 1000000000ull),
				  (unsigned long long)(wi->end_real_ns / 1000000000ull),
				  win->frequency_hz);
			e = ap_push__enqueue(sink, path.buf, "application/octet-stream", "",
					     wi->start_real_ns, gz.buf, gz.len);
		}
		if (e) {
			res->failed++;
			err = err ?: e;
		} else {
			res->requests++;
			res->bytes += gz.len;
		}
		sb_free(&gz), sb_free(&path), sb_free(&name);
	}
	/* one sync for all of the window's requests (a failure is printed
	 * there: the requests are spooled all the same) */
	if (res->requests)
		ap_push__sync(sink);
	ap_pics_free(&x);
	for (i = 0; i < gs.nr; i++)
		free(gs.g[i].name);
	free(gs.g);
	hmap_free(&gs.by_name);
	hmap_free(&gs.by_pid);
	return err;
}
