// SPDX-License-Identifier: MIT
/* report.html: the template src/report/report.html (compiled in with
 * .incbin) with the run's data as one JSON document in place of
 * @@AP_DATA@@. The data is written by hand rather than through cJSON: a
 * 50k-stack profile is a few million numbers, and a cJSON node per number
 * would cost ~100 MB. Only the frames and stacks that rows use are kept. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "analyze/analyze.h"
#include "report/formats.h"
#include "report/report.h"

__asm__(".section .rodata\n"
	".global ap_report_html\n"
	"ap_report_html:\n"
	".incbin \"src/report/report.html\"\n"
	".byte 0\n"
	".previous\n");
extern const char ap_report_html[];

/* U+2028 and U+2029 (LINE / PARAGRAPH SEPARATOR) at s: JavaScript before
 * ES2019 ends a string literal there, so the page escapes them */
static bool js_line_sep(const char *s)
{
	return (unsigned char)s[0] == 0xe2 && (unsigned char)s[1] == 0x80 &&
	       ((unsigned char)s[2] == 0xa8 || (unsigned char)s[2] == 0xa9);
}

/* a JSON string; every "<" escaped too, so neither "</script>" nor "<!--"
 * can end or change the script block that holds the data */
static void jstr(struct strbuf *sb, const char *s)
{
	sb_puts(sb, "\"");
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\') {
			sb_printf(sb, "\\%c", c);
		} else if (c < 0x20 || c == '<' || c == '>' || c == 0x7f) {
			sb_printf(sb, "\\u%04x", c);
		} else if (js_line_sep(s)) {
			sb_printf(sb, "\\u%04x", 0x2028 + ((unsigned char)s[2] - 0xa8));
			s += 2;
		} else {
			sb_append(sb, (const char *)&c, 1);
		}
	}
	sb_puts(sb, "\"");
}

/* cJSON text made safe inside a script element the same way: "<" and ">"
 * occur only inside JSON strings, where "\u003c" means the same */
static void jraw(struct strbuf *sb, const cJSON *j)
{
	char *t = cJSON_PrintUnformatted(j), *s;

	for (s = t; s && *s; s++) {
		if (*s == '<' || *s == '>') {
			sb_printf(sb, "\\u%04x", *s);
		} else if (js_line_sep(s)) {
			sb_printf(sb, "\\u%04x", 0x2028 + ((unsigned char)s[2] - 0xa8));
			s += 2;
		} else {
			sb_append(sb, s, 1);
		}
	}
	if (!t)
		sb_puts(sb, "null");
	free(t);
}

static void series(struct strbuf *sb, const struct ap_pics *x)
{
	const struct ap_input *in = x->in;
	size_t i, j;

	sb_puts(sb, ",\"series\":[");
	for (i = 0; i < in->nr_series; i++) {
		const struct ap_series *s = &in->series[i];
		const struct ap_process *pr = profile__find_process(x->p, s->pid);

		sb_printf(sb, "%s{\"pid\":%u,\"comm\":", i ? "," : "", s->pid);
		jstr(sb, pr ? profile__s(x->p, pr->comm) : "");
		sb_puts(sb, ",\"t\":[");
		for (j = 0; j < s->n; j++)
			sb_printf(sb, "%s%.2f", j ? "," : "", s->t[j]);
		sb_puts(sb, "],\"cpu\":[");
		for (j = 0; j < s->n; j++)
			sb_printf(sb, s->cpu_pct[j] == s->cpu_pct[j] ? "%s%.1f" : "%snull", j ? "," : "",
				  s->cpu_pct[j]);
		sb_puts(sb, "],\"rss\":[");
		for (j = 0; j < s->n; j++)
			sb_printf(sb, s->rss_kb[j] == s->rss_kb[j] ? "%s%.0f" : "%snull", j ? "," : "",
				  s->rss_kb[j]);
		sb_puts(sb, "]}");
	}
	sb_puts(sb, "]");
}

/* the memory rows the page's memory views weigh: page faults, and with
 * --malloc allocated and live bytes (mapping calls are not drawn) */
static bool mem_shown(const struct ap_mem_row *r)
{
	return r->bytes && (r->kind == AP_MEM_FAULT || r->kind == AP_MEM_ALLOC || r->kind == AP_MEM_LIVE);
}

/* "memory", "malloc", the kind names and the rows [pid, tid, stack, kind,
 * bytes] (pid and tid: a row's thread may have no on-CPU sample) */
static void mem_rows(struct strbuf *sb, const struct profile *p, const int32_t *smap)
{
	const char *sep = "";
	size_t i;
	int k;

	sb_printf(sb, ",\"memory\":%s,\"malloc\":%s,\"mkinds\":[", p->has_memory ? "true" : "false",
		  p->has_malloc ? "true" : "false");
	for (k = 0; k < AP_MEM__COUNT; k++)
		sb_printf(sb, "%s\"%s\"", k ? "," : "", ap_mem_kind_names[k]);
	sb_puts(sb, "],\"mem\":[");
	for (i = 0; p->has_memory && i < p->nr_mem; i++) {
		const struct ap_mem_row *r = &p->mem[i];

		if (!mem_shown(r))
			continue;
		sb_printf(sb, "%s%u,%u,%d,%u,%llu", sep, r->pid, r->tid, smap[r->stack], r->kind,
			  (unsigned long long)r->bytes);
		sep = ",";
	}
	sb_puts(sb, "]");
}

static void data(struct strbuf *sb, const struct ap_pics *x)
{
	const struct profile *p = x->p;
	int32_t *fmap = xmalloc((p->nr_frames + 1) * sizeof(*fmap));
	int32_t *smap = xmalloc((p->nr_stacks + 1) * sizeof(*smap));
	uint32_t *frames = xcalloc(p->nr_frames + 1, sizeof(*frames));
	uint32_t nf = 0, ns = 0, n, j;
	size_t i, nn;
	const char *sep = "";

	memset(fmap, 0xff, (p->nr_frames + 1) * sizeof(*fmap));
	memset(smap, 0xff, (p->nr_stacks + 1) * sizeof(*smap));
	/* the stacks rows use, numbered in first use; their frames likewise */
	for (i = 0; i < p->nr_counts + p->nr_off + p->nr_mem; i++) {
		uint32_t st = i < p->nr_counts ? p->counts[i].stack :
			      i < p->nr_counts + p->nr_off ? p->off[i - p->nr_counts].stack :
			      p->mem[i - p->nr_counts - p->nr_off].stack;
		const uint32_t *fr;

		if (i >= p->nr_counts + p->nr_off && !mem_shown(&p->mem[i - p->nr_counts - p->nr_off]))
			continue;
		if (smap[st] >= 0)
			continue;
		smap[st] = ns++;
		fr = ap_pics_stack(x, st, &n);
		for (j = 0; j < n; j++)
			if (fmap[fr[j]] < 0) {
				fmap[fr[j]] = nf;
				frames[nf++] = fr[j];
			}
	}
	sb_puts(sb, "{\"target\":");
	jstr(sb, x->in->target);
	sb_printf(sb, ",\"tool\":\"autoprof-bpf %s\",\"wall_s\":%.3f,\"freq\":%u,\"samples\":%llu,"
		  "\"view\":\"%s\",\"offcpu\":%s", AP_VERSION, x->in->wall_s, p->frequency_hz,
		  (unsigned long long)p->total_samples, ap_view_names[x->view],
		  p->has_offcpu ? "true" : "false");
	sb_puts(sb, ",\"frames\":[");
	for (j = 0; j < nf; j++) {
		sb_puts(sb, j ? "," : "");
		jstr(sb, x->labels[frames[j]]);
	}
	sb_puts(sb, "],\"fcls\":[");
	for (j = 0; j < nf; j++)
		sb_printf(sb, "%s%d", j ? "," : "", ap_frame_class(p, frames[j]));
	/* in smap order: a stack's number is its place in this array */
	sb_puts(sb, "],\"stacks\":[");
	{
		uint32_t *order = xcalloc(ns + 1, sizeof(*order));

		for (i = 0; i < p->nr_stacks; i++)
			if (smap[i] >= 0)
				order[smap[i]] = i;
		for (j = 0; j < ns; j++) {
			const uint32_t *fr = ap_pics_stack(x, order[j], &n);
			uint32_t k;

			sb_puts(sb, j ? ",[" : "[");
			for (k = 0; k < n; k++)
				sb_printf(sb, "%s%d", k ? "," : "", fmap[fr[k]]);
			sb_puts(sb, "]");
		}
		free(order);
	}
	sb_puts(sb, "],\"procs\":[");
	for (i = 0; i < p->nr_procs; i++) {
		sb_printf(sb, "%s[%u,", i ? "," : "", p->procs[i].pid);
		jstr(sb, profile__s(p, p->procs[i].comm));
		sb_puts(sb, ",");
		jstr(sb, profile__s(p, p->procs[i].cmdline));
		sb_puts(sb, "]");
	}
	/* the reports' notes: processes whose Python frames are missing */
	sb_puts(sb, "],\"notes\":[");
	for (i = 0, nn = 0, sep = ""; i < p->nr_procs; i++) {
		char *note;

		if (!p->procs[i].py_missing || nn++ >= AP_PY_NOTES_MAX)
			continue;
		note = ap_py_missing_note(p, &p->procs[i]);
		if (!note)
			continue;
		sb_puts(sb, sep);
		jstr(sb, note);
		sep = ",";
		free(note);
	}
	if (nn > AP_PY_NOTES_MAX) {
		char more[96];

		snprintf(more, sizeof(more),
			 "and %zu more processes without Python frames (run.json has each)",
			 nn - AP_PY_NOTES_MAX);
		sb_puts(sb, sep);
		jstr(sb, more);
	}
	sb_puts(sb, "],\"threads\":[");
	for (i = 0; i < p->nr_threads; i++) {
		sb_printf(sb, "%s[%u,%u,", i ? "," : "", p->threads[i].pid, p->threads[i].tid);
		jstr(sb, profile__thread_name(p, &p->threads[i]));
		sb_puts(sb, "]");
	}
	/* rows: [thread, stack, count] and [thread, stack, reason, µs] */
	sb_puts(sb, "],\"on\":[");
	for (i = 0, sep = ""; i < p->nr_counts; i++) {
		const struct ap_count *c = &p->counts[i];
		const struct ap_thread *t = profile__find_thread(p, c->pid, c->tid);

		sb_printf(sb, "%s%zu,%d,%llu", sep, t ? (size_t)(t - p->threads) : 0, smap[c->stack],
			  (unsigned long long)c->count);
		sep = ",";
	}
	sb_puts(sb, "],\"reasons\":[");
	for (j = 0; j < AP_OFF__COUNT; j++)
		sb_printf(sb, "%s\"%s\"", j ? "," : "", ap_off_reason_names[j]);
	sb_puts(sb, "],\"off\":[");
	for (i = 0, sep = ""; i < p->nr_off; i++) {
		const struct ap_off_row *r = &p->off[i];
		const struct ap_thread *t = profile__find_thread(p, r->pid, r->tid);

		if (r->ns < 1000)
			continue;
		sb_printf(sb, "%s%zu,%d,%u,%llu", sep, t ? (size_t)(t - p->threads) : 0, smap[r->stack],
			  r->reason, (unsigned long long)(r->ns / 1000));
		sep = ",";
	}
	sb_puts(sb, "]");
	mem_rows(sb, p, smap);
	sb_puts(sb, ",\"findings\":");
	if (x->findings)
		jraw(sb, cJSON_GetObjectItemCaseSensitive(x->findings, "findings"));
	else
		sb_puts(sb, "null");
	series(sb, x);
	sb_puts(sb, "}");
	free(fmap);
	free(smap);
	free(frames);
}

void html_render(const struct ap_pics *x, struct strbuf *out)
{
	const char *mark = "@@AP_DATA@@", *at = strstr(ap_report_html, mark);

	if (!at) { /* the template is part of the build: cannot happen */
		sb_puts(out, ap_report_html);
		return;
	}
	sb_append(out, ap_report_html, at - ap_report_html);
	data(out, x);
	sb_puts(out, at + strlen(mark));
}

void html_json_str(struct strbuf *sb, const char *s)
{
	jstr(sb, s);
}
