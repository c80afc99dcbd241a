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

static cJSON *new_profile(cJSON *profiles, const struct profile *p, const struct ap_thread *t,
			  const char *what, const char *unit, cJSON **samples, cJSON **weights)
{
	cJSON *o = cJSON_CreateObject();
	char name[160];

	snprintf(name, sizeof(name), "%s %u/%u %s", profile__s(p, t->comm), t->pid, t->tid, what);
	cJSON_AddItemToArray(profiles, o);
	cJSON_AddStringToObject(o, "type", "sampled");
	cJSON_AddStringToObject(o, "name", name);
	cJSON_AddStringToObject(o, "unit", unit);
	cJSON_AddNumberToObject(o, "startValue", 0);
	*samples = cJSON_AddArrayToObject(o, "samples");
	*weights = cJSON_AddArrayToObject(o, "weights");
	return o;
}

/* the on-CPU profile of thread t: the timeline's samples in order, or the
 * sample rows when the run has no timeline */
static void thread_oncpu(struct ss *s, cJSON *profiles, const struct ap_thread *t)
{
	const struct profile *p = s->x->p;
	cJSON *prof, *samples, *weights, *last_w = NULL;
	uint32_t last = AP_NONE;
	double total = 0;
	size_t i;

	prof = new_profile(profiles, p, t, "on-CPU", "none", &samples, &weights);
	if (p->has_timeline) {
		for (i = 0; i < p->nr_times; i++) {
			const struct ap_sample_time *st = &p->times[i];

			if (st->tid != t->tid || st->pid != t->pid)
				continue;
			total++;
			if (st->stack == last && last_w) {
				cJSON_SetNumberValue(last_w, last_w->valuedouble + 1);
				continue;
			}
			cJSON_AddItemToArray(samples, ss_stack(s, st->stack, -1));
			cJSON_AddItemToArray(weights, last_w = cJSON_CreateNumber(1));
			last = st->stack;
		}
	} else {
		for (i = 0; i < p->nr_counts; i++) {
			const struct ap_count *c = &p->counts[i];

			if (c->tid != t->tid || c->pid != t->pid)
				continue;
			total += c->count;
			cJSON_AddItemToArray(samples, ss_stack(s, c->stack, -1));
			cJSON_AddItemToArray(weights, cJSON_CreateNumber(c->count));
		}
	}
	cJSON_AddNumberToObject(prof, "endValue", total);
}

static void thread_offcpu(struct ss *s, cJSON *profiles, const struct ap_thread *t)
{
	const struct profile *p = s->x->p;
	cJSON *prof = NULL, *samples = NULL, *weights = NULL;
	double total = 0;
	size_t i;

	for (i = 0; i < p->nr_off; i++) {
		const struct ap_off_row *r = &p->off[i];

		if (r->tid != t->tid || r->pid != t->pid || !r->ns)
			continue;
		if (!prof)
			prof = new_profile(profiles, p, t, "off-CPU", "nanoseconds", &samples, &weights);
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
	for (i = 0; i < p->nr_threads; i++)
		if (p->threads[order[i]].samples)
			thread_oncpu(&s, profiles, &p->threads[order[i]]);
	for (i = 0; p->has_offcpu && i < p->nr_threads; i++)
		thread_offcpu(&s, profiles, &p->threads[order[i]]);
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
