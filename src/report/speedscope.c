// SPDX-License-Identifier: MIT
/* speedscope.json: one sampled profile per thread (speedscope's file
 * format, https://www.speedscope.app/file-format-schema.json). On-CPU
 * profiles hold the samples in time order when the run kept its timeline
 * (consecutive equal stacks merged, weight = samples), so speedscope's
 * "Time Order" view is the thread's real sequence; off-CPU profiles weigh
 * each (stack, reason) in nanoseconds, the reason as the leaf frame. */
#include <stdlib.h>
#include <string.h>
#include "analyze/analyze.h"
#include "report/formats.h"

struct ss {
	const struct ap_pics *x;
	cJSON *frames;
	int32_t *frame_idx;         /* profile frame -> speedscope frame, -1 none */
	int32_t reason_idx[AP_OFF__COUNT];
	int nr;
};

static int ss_frame(struct ss *s, uint32_t f)
{
	const struct profile *p = s->x->p;
	const struct ap_frame *fr = &p->frames[f];
	cJSON *o;

	if (s->frame_idx[f] >= 0)
		return s->frame_idx[f];
	cJSON_AddItemToArray(s->frames, o = cJSON_CreateObject());
	cJSON_AddStringToObject(o, "name", fr->kind == AP_FRAME_PYTHON ? profile__s(p, fr->name)
				: s->x->labels[f]);
	if (fr->module != AP_NONE)
		cJSON_AddStringToObject(o, "file", profile__s(p, p->modules[fr->module].path));
	if (fr->kind == AP_FRAME_PYTHON && fr->line)
		cJSON_AddNumberToObject(o, "line", fr->line);
	return s->frame_idx[f] = s->nr++;
}

static int ss_reason(struct ss *s, uint32_t r)
{
	char name[64];
	cJSON *o;

	if (s->reason_idx[r] >= 0)
		return s->reason_idx[r];
	snprintf(name, sizeof(name), "[%s]", ap_off_reason_names[r]);
	cJSON_AddItemToArray(s->frames, o = cJSON_CreateObject());
	cJSON_AddStringToObject(o, "name", name);
	return s->reason_idx[r] = s->nr++;
}

static cJSON *ss_stack(struct ss *s, uint32_t stack, int leaf)
{
	uint32_t n, i;
	const uint32_t *fr = ap_pics_stack(s->x, stack, &n);
	cJSON *a = cJSON_CreateArray();

	for (i = 0; i < n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateNumber(ss_frame(s, fr[i])));
	if (leaf >= 0)
		cJSON_AddItemToArray(a, cJSON_CreateNumber(leaf));
	return a;
}

/* the rows of each thread, in their own order: idx[first[t] .. first[t + 1])
 * for thread index t; one counting pass instead of a scan per thread */
struct groups {
	size_t *first, *idx;
};

static void group(const struct profile *p, size_t n, uint32_t (*pid_of)(const struct profile *, size_t),
		  uint32_t (*tid_of)(const struct profile *, size_t), struct groups *g)
{
	uint32_t *th = xcalloc(n + 1, sizeof(*th));
	size_t i, *fill;

	g->first = xcalloc(p->nr_threads + 2, sizeof(*g->first));
	g->idx = xcalloc(n + 1, sizeof(*g->idx));
	for (i = 0; i < n; i++) {
		const struct ap_thread *t = profile__find_thread(p, pid_of(p, i), tid_of(p, i));

		th[i] = t ? (uint32_t)(t - p->threads) : p->nr_threads; /* no thread entry: not shown */
		g->first[th[i] + 1]++;
	}
	for (i = 0; i <= p->nr_threads; i++)
		g->first[i + 1] += g->first[i];
	fill = xcalloc(p->nr_threads + 1, sizeof(*fill));
	for (i = 0; i < n; i++)
		g->idx[g->first[th[i]] + fill[th[i]]++] = i;
	free(fill);
	free(th);
}

static void groups_free(struct groups *g)
{
	free(g->first);
	free(g->idx);
}

static uint32_t time_pid(const struct profile *p, size_t i) { return p->times[i].pid; }
static uint32_t time_tid(const struct profile *p, size_t i) { return p->times[i].tid; }
static uint32_t count_pid(const struct profile *p, size_t i) { return p->counts[i].pid; }
static uint32_t count_tid(const struct profile *p, size_t i) { return p->counts[i].tid; }
static uint32_t off_pid(const struct profile *p, size_t i) { return p->off[i].pid; }
static uint32_t off_tid(const struct profile *p, size_t i) { return p->off[i].tid; }

static cJSON *new_profile(cJSON *profiles, const struct profile *p, const struct ap_thread *t,
			  const char *what, const char *unit, cJSON **samples, cJSON **weights)
{
	cJSON *o = cJSON_CreateObject();
	char name[160];

	snprintf(name, sizeof(name), "%s %u/%u %s", profile__thread_name(p, t), t->pid, t->tid, what);
	cJSON_AddItemToArray(profiles, o);
	cJSON_AddStringToObject(o, "type", "sampled");
	cJSON_AddStringToObject(o, "name", name);
	cJSON_AddStringToObject(o, "unit", unit);
	cJSON_AddNumberToObject(o, "startValue", 0);
	*samples = cJSON_AddArrayToObject(o, "samples");
	*weights = cJSON_AddArrayToObject(o, "weights");
	return o;
}

/* the on-CPU profile of thread t (its rows in g: the timeline's samples
 * in order, or the sample rows when the run has no timeline) */
static void thread_oncpu(struct ss *s, cJSON *profiles, size_t t, const struct groups *g)
{
	const struct profile *p = s->x->p;
	cJSON *prof, *samples, *weights, *last_w = NULL;
	uint32_t last = AP_NONE;
	double total = 0;
	size_t k;

	prof = new_profile(profiles, p, &p->threads[t], "on-CPU", "none", &samples, &weights);
	for (k = g->first[t]; k < g->first[t + 1]; k++) {
		uint32_t stack = p->has_timeline ? p->times[g->idx[k]].stack : p->counts[g->idx[k]].stack;
		uint64_t n = p->has_timeline ? 1 : p->counts[g->idx[k]].count;

		total += n;
		if (p->has_timeline && stack == last && last_w) {
			cJSON_SetNumberValue(last_w, last_w->valuedouble + 1);
			continue;
		}
		cJSON_AddItemToArray(samples, ss_stack(s, stack, -1));
		cJSON_AddItemToArray(weights, last_w = cJSON_CreateNumber(n));
		last = stack;
	}
	cJSON_AddNumberToObject(prof, "endValue", total);
}

static void thread_offcpu(struct ss *s, cJSON *profiles, size_t t, const struct groups *g)
{
	const struct profile *p = s->x->p;
	cJSON *prof = NULL, *samples = NULL, *weights = NULL;
	double total = 0;
	size_t k;

	for (k = g->first[t]; k < g->first[t + 1]; k++) {
		const struct ap_off_row *r = &p->off[g->idx[k]];

		if (!r->ns)
			continue;
		if (!prof)
			prof = new_profile(profiles, p, &p->threads[t], "off-CPU", "nanoseconds", &samples,
					   &weights);
		total += r->ns;
		cJSON_AddItemToArray(samples, ss_stack(s, r->stack, ss_reason(s, r->reason)));
		cJSON_AddItemToArray(weights, cJSON_CreateNumber(r->ns));
	}
	if (prof)
		cJSON_AddNumberToObject(prof, "endValue", total);
}

static const struct profile *sort_p;

static int by_samples(const void *a, const void *b)
{
	const struct ap_thread *x = &sort_p->threads[*(const size_t *)a];
	const struct ap_thread *y = &sort_p->threads[*(const size_t *)b];

	if (x->samples != y->samples)
		return x->samples < y->samples ? 1 : -1;
	return x->tid < y->tid ? -1 : x->tid > y->tid;
}

void speedscope_render(const struct ap_pics *x, struct strbuf *out)
{
	const struct profile *p = x->p;
	struct ss s = { .x = x };
	cJSON *root = cJSON_CreateObject(), *profiles;
	size_t i, *order = xcalloc(p->nr_threads + 1, sizeof(*order));
	struct groups on, off;
	char *text;

	for (i = 0; i < p->nr_threads; i++)
		order[i] = i;
	sort_p = p;
	qsort(order, p->nr_threads, sizeof(*order), by_samples);
	s.frame_idx = xmalloc((p->nr_frames + 1) * sizeof(*s.frame_idx));
	memset(s.frame_idx, 0xff, (p->nr_frames + 1) * sizeof(*s.frame_idx));
	memset(s.reason_idx, 0xff, sizeof(s.reason_idx));
	cJSON_AddStringToObject(root, "$schema", "https://www.speedscope.app/file-format-schema.json");
	s.frames = cJSON_AddObjectToObject(root, "shared");
	s.frames = cJSON_AddArrayToObject(s.frames, "frames");
	profiles = cJSON_AddArrayToObject(root, "profiles");
	/* threads with samples first, busiest first, as speedscope opens the first */
	if (p->has_timeline)
		group(p, p->nr_times, time_pid, time_tid, &on);
	else
		group(p, p->nr_counts, count_pid, count_tid, &on);
	group(p, p->nr_off, off_pid, off_tid, &off);
	for (i = 0; i < p->nr_threads; i++)
		if (p->threads[order[i]].samples)
			thread_oncpu(&s, profiles, order[i], &on);
	for (i = 0; p->has_offcpu && i < p->nr_threads; i++)
		thread_offcpu(&s, profiles, order[i], &off);
	groups_free(&on);
	groups_free(&off);
	cJSON_AddStringToObject(root, "name", x->in->target);
	cJSON_AddNumberToObject(root, "activeProfileIndex", 0);
	cJSON_AddStringToObject(root, "exporter", "autoprof-bpf " AP_VERSION);
	text = cJSON_PrintUnformatted(root);
	sb_puts(out, text);
	free(text);
	cJSON_Delete(root);
	free(s.frame_idx);
	free(order);
}
