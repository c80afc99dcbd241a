// SPDX-License-Identifier: MIT
/* The analyzer's outputs: findings.json, report.md and the terminal's top
 * findings; and `analyze DIR`, which produces them from saved artifacts. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "analyze/pattern.h"
#include "artifact/artifact.h"
#include "log.h"
#include "report/report.h"
#include "util.h"

/* short and stable: integers exact, others to 4 decimals */
static double tidy(double v)
{
	if (v == floor(v) || fabs(v) >= 1e12)
		return v;
	return round(v * 1e4) / 1e4;
}

static const struct ap_value *val(const struct ap_analysis *an, const struct ap_finding *f, int id)
{
	return ap_analysis__value(an, f->subj, f->match, id);
}

static bool is_text(int id)
{
	return !strcmp(ap_metrics[id].unit, "text");
}

/* a memory metric (issue 18) without a value: a run without the memory
 * collector's data; its evidence is left out, so memory_growth's reads as
 * before the collector existed */
static bool absent_memory(const struct ap_value *v, int id)
{
	return (!v || (is_text(id) ? !v->s : isnan(v->v))) &&
	       !strncmp(ap_metrics[id].source, "memory.json", 11);
}

static cJSON *finding_json(const struct ap_analysis *an, const struct ap_finding *f)
{
	const struct ap_pattern *pt = f->pat;
	cJSON *o = cJSON_CreateObject(), *ev, *ci = NULL, *a;
	size_t i;

	cJSON_AddStringToObject(o, "id", f->id);
	cJSON_AddStringToObject(o, "pattern_id", pt->id);
	cJSON_AddStringToObject(o, "title", pt->title);
	cJSON_AddStringToObject(o, "severity", ap_severity_names[pt->severity]);
	cJSON_AddStringToObject(o, "scope", ap_scope_names[pt->scope]);
	cJSON_AddStringToObject(o, "location", f->subj->location);
	if (pt->impact_metric >= 0) {
		/* the wall time at stake, and the measured figure it was capped from */
		cJSON_AddNumberToObject(o, "impact_s", tidy(f->impact_s));
		cJSON_AddNumberToObject(o, "impact_raw_s", tidy(f->impact_raw_s));
		cJSON_AddStringToObject(o, "impact_metric", ap_metric_name(pt->impact_metric));
	} else { /* not a time cost of its own (memory, a classification) */
		cJSON_AddNullToObject(o, "impact_s");
	}
	cJSON_AddNumberToObject(o, "confidence", f->confidence);
	cJSON_AddStringToObject(o, "confidence_basis", f->basis);
	ev = cJSON_AddObjectToObject(o, "evidence");
	for (i = 0; i < pt->nr_cited; i++) {
		int id = pt->cited[i];
		const struct ap_value *v = val(an, f, id);

		if (absent_memory(v, id))
			continue;
		if (!v || (is_text(id) ? !v->s : isnan(v->v))) {
			cJSON_AddNullToObject(ev, ap_metric_name(id));
			continue;
		}
		if (is_text(id)) {
			cJSON_AddStringToObject(ev, ap_metric_name(id), v->s);
			continue;
		}
		cJSON_AddNumberToObject(ev, ap_metric_name(id), tidy(v->v));
		if (v->n) {
			double lo, hi;

			if (!ci)
				ci = cJSON_CreateObject();
			ap_wilson95(v->k, v->n, &lo, &hi);
			cJSON_AddItemToObject(ci, ap_metric_name(id), a = cJSON_CreateArray());
			cJSON_AddItemToArray(a, cJSON_CreateNumber(tidy(100 * lo)));
			cJSON_AddItemToArray(a, cJSON_CreateNumber(tidy(100 * hi)));
		}
	}
	if (ci)
		cJSON_AddItemToObject(o, "ci95_pct", ci);
	cJSON_AddStringToObject(o, "explanation", f->explanation);
	a = cJSON_AddArrayToObject(o, "suggestions");
	for (i = 0; i < f->nr_suggestions; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(f->suggestions[i]));
	cJSON_AddStringToObject(o, "verify", f->verify);
	a = cJSON_AddArrayToObject(o, "related");
	for (i = 0; i < f->nr_related; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(f->related[i]));
	return o;
}

static bool shown(const struct ap_finding *f)
{
	return !f->dropped && !f->uncertain;
}

static const struct ap_value *run_v(const struct ap_analysis *an, int id)
{
	return ap_analysis__value(an, NULL, NULL, id);
}

cJSON *ap_findings_json(const struct ap_analysis *an)
{
	cJSON *root = cJSON_CreateObject(), *o, *arr;
	size_t i, builtin = 0, capped = 0;

	cJSON_AddStringToObject(root, "schema", AP_SCHEMA_FINDINGS);
	cJSON_AddStringToObject(root, "target", an->in.target);
	cJSON_AddNumberToObject(root, "wall_s", tidy(an->in.wall_s));
	cJSON_AddNumberToObject(root, "samples", an->in.prof.total_samples);
	o = cJSON_AddObjectToObject(root, "patterns");
	for (i = 0; i < an->nr_pats; i++)
		builtin += an->pats[i].builtin;
	cJSON_AddNumberToObject(o, "evaluated", an->nr_pats);
	cJSON_AddNumberToObject(o, "builtin", builtin);
	arr = cJSON_AddArrayToObject(o, "user_files");
	for (i = 0; i < an->nr_pats; i++)
		if (!an->pats[i].builtin)
			cJSON_AddItemToArray(arr, cJSON_CreateString(an->pats[i].file));
	arr = cJSON_AddArrayToObject(root, "findings");
	for (i = 0; i < an->nr_findings; i++)
		if (shown(&an->findings[i]))
			cJSON_AddItemToArray(arr, finding_json(an, &an->findings[i]));
		else if (an->findings[i].dropped && !an->findings[i].dedup_key)
			capped++;
	/* conditions met, but too close to a threshold for the samples taken */
	cJSON_AddNumberToObject(root, "min_confidence", AP_MIN_CONFIDENCE);
	arr = cJSON_AddArrayToObject(root, "uncertain");
	for (i = 0; i < an->nr_findings; i++) {
		const struct ap_finding *f = &an->findings[i];

		if (f->dropped || !f->uncertain)
			continue;
		cJSON_AddItemToArray(arr, o = cJSON_CreateObject());
		cJSON_AddStringToObject(o, "id", f->id);
		cJSON_AddStringToObject(o, "location", f->subj->location);
		cJSON_AddNumberToObject(o, "confidence", f->confidence);
		cJSON_AddStringToObject(o, "confidence_basis", f->basis);
	}
	/* a pattern's findings beyond its max_findings */
	cJSON_AddNumberToObject(root, "findings_over_cap", capped);
	arr = cJSON_AddArrayToObject(root, "not_evaluated");
	for (i = 0; i < an->nr_skipped; i++) {
		cJSON_AddItemToArray(arr, o = cJSON_CreateObject());
		cJSON_AddStringToObject(o, "pattern_id", an->skipped[i].pattern);
		cJSON_AddStringToObject(o, "reason", an->skipped[i].reason);
	}
	/* what the findings could not see: processes without Python frames */
	arr = cJSON_AddArrayToObject(root, "python_frames_missing");
	for (i = 0; i < an->in.prof.nr_procs; i++) {
		const struct profile *p = &an->in.prof;
		const struct ap_process *pr = &p->procs[i];
		char *note = ap_py_missing_note(p, pr);

		if (!note)
			continue;
		cJSON_AddItemToArray(arr, o = cJSON_CreateObject());
		cJSON_AddNumberToObject(o, "pid", pr->pid);
		cJSON_AddStringToObject(o, "comm", profile__s(p, pr->comm));
		cJSON_AddStringToObject(o, "reason", profile__s(p, pr->py_missing));
		cJSON_AddStringToObject(o, "why", profile__s(p, pr->py_missing_why));
		cJSON_AddStringToObject(o, "note", note);
		free(note);
	}
	return root;
}

/* ---- report.md ---- */

static double pv(const struct ap_subject *s, int id)
{
	return s->v[ap_metric_slot(id)].v;
}

/* Names in report.md come from the target (function, file, thread and
 * command names) and must stay text: no HTML, link, emphasis or table cell
 * of their own, no line break, and no terminal escape when the file is
 * cat'ed. A C0 or C1 control character is written as "\xNN". */

/* length of a C1 control character (U+0080..U+009F) at s, or 0 */
static int c1_len(const unsigned char *s)
{
	return s[0] == 0xc2 && s[1] >= 0x80 && s[1] <= 0x9f ? 2 : 0;
}

/* writes a control character at s as text; returns the bytes it took, or 0 */
static int md_ctrl(FILE *f, const char *s)
{
	const unsigned char *u = (const unsigned char *)s;

	if (*u < 0x20 || *u == 0x7f) {
		fprintf(f, "\\x%02x", *u);
		return 1;
	}
	if (c1_len(u)) {
		fprintf(f, "\\x%02x", u[1]);
		return 2;
	}
	return 0;
}

/* s as a code span: fenced by more backticks than the longest run in s
 * (CommonMark), so nothing inside is markup; in a table cell "|" is escaped,
 * which GFM undoes inside code spans too */
static void md_code(FILE *f, const char *s, bool cell)
{
	size_t run = 0, longest = 0, i;
	bool pad = *s == '`' || (*s && s[strlen(s) - 1] == '`');
	const char *p;
	int n;

	for (p = s; *p; p++) {
		run = *p == '`' ? run + 1 : 0;
		if (run > longest)
			longest = run;
	}
	for (i = 0; i <= longest; i++)
		fputc('`', f);
	if (pad || !*s)
		fputc(' ', f);
	for (p = s; *p; p += n) {
		n = md_ctrl(f, p);
		if (n)
			continue;
		n = 1;
		if (*p == '|' && cell)
			fputc('\\', f);
		fputc(*p, f);
	}
	if (pad)
		fputc(' ', f);
	for (i = 0; i <= longest; i++)
		fputc('`', f);
}

/* s as plain text in a paragraph or list item: every character that could
 * start markup is backslash-escaped ("\<" is no HTML tag, "\[" no link),
 * and "://" and "www." lose the shape GFM turns into links */
static void md_text(FILE *f, const char *s)
{
	const char *p = s;
	int n;

	/* at the start of a line: no indented code block, no list or heading */
	for (; *p == ' ' || *p == '\t'; p++)
		fputs("&#32;", f);
	if (*p == '-' || *p == '+' || *p == '=')
		fputc('\\', f);
	for (; *p; p += n) {
		n = md_ctrl(f, p);
		if (n)
			continue;
		n = 1;
		/* "_" inside a word (audit_log) is no emphasis: left as it is */
		if (*p == '_' && p > s && isalnum((unsigned char)p[-1]) &&
		    isalnum((unsigned char)p[1])) {
			fputc('_', f);
			continue;
		}
		if (strchr("\\`*_[]<>|~&#!", *p) ||
		    (*p == ':' && p[1] == '/' && p[2] == '/') ||
		    (*p == '.' && p - s >= 3 && !strncasecmp(p - 3, "www", 3)) ||
		    (p == s + strspn(s, "0123456789") && p > s && (*p == '.' || *p == ')')))
			fputc('\\', f);
		fputc(*p, f);
	}
}

static void fmt_value(FILE *f, const struct ap_value *v, int id)
{
	if (!v || (is_text(id) ? !v->s : isnan(v->v))) {
		fputs("n/a", f);
		return;
	}
	if (is_text(id)) {
		md_code(f, v->s, true);
	} else if (v->v == floor(v->v) && fabs(v->v) < 1e15) {
		fprintf(f, "%.0f", v->v);
	} else {
		fprintf(f, fabs(v->v) >= 10 ? "%.1f" : "%.3g", v->v);
	}
	if (!is_text(id) && strcmp(ap_metrics[id].unit, "count"))
		fprintf(f, " %s", ap_metrics[id].unit);
}

static size_t top_subjects(const struct ap_analysis *an, enum ap_scope sc, int id, size_t n,
			   const struct ap_subject **out);

/* the longest-lived processes first: a run that spawns hundreds of short
 * children lists ten; a system-wide run (whose processes mostly lived
 * through it) the busiest ten */
static void md_behaviour(const struct ap_analysis *an, FILE *f)
{
	const struct ap_subject *top[10];
	size_t i, n = top_subjects(an, AP_SCOPE_PROCESS,
				   an->in.system_wide ? AP_M_P_CPU_S : AP_M_P_WALL_S, 10, top);

	fprintf(f, "## What the run did\n\n");
	for (i = 0; i < n; i++) {
		const struct ap_subject *s = top[i];

		fprintf(f, "- ");
		md_code(f, s->location, false);
		fprintf(f, ": %.2f CPU-s sampled over %.2f s", pv(s, AP_M_P_CPU_S), pv(s, AP_M_P_WALL_S));
		/* shares of a few milliseconds say nothing */
		if (!isnan(pv(s, AP_M_P_ACTIVE_S)) && pv(s, AP_M_P_ACTIVE_S) >= 0.01) {
			fprintf(f, "; of its active thread time (%.2f s): on CPU %.0f%%, waiting for a CPU %.0f%%, "
				"I/O %.0f%%, locks %.0f%%", pv(s, AP_M_P_ACTIVE_S), pv(s, AP_M_P_ONCPU_PCT),
				pv(s, AP_M_P_RUNNABLE_PCT), pv(s, AP_M_P_IO_PCT), pv(s, AP_M_P_LOCK_PCT));
			/* free-threaded with the GIL off: no GIL to wait for */
			if (pv(s, AP_M_P_NOGIL_PCT) >= 50 && !(pv(s, AP_M_P_GIL_S) > 0))
				fprintf(f, ", no GIL (free-threaded)");
			else if (pv(s, AP_M_P_GIL_S) > 0 || pv(s, AP_M_P_PYTHON_PCT) > 0)
				fprintf(f, ", GIL %.0f%%%s", pv(s, AP_M_P_GIL_PCT),
					pv(s, AP_M_P_FREE_THREADED) == 1 ?
						" (free-threaded, its GIL turned on: PYTHON_GIL=1 "
						"or an extension module)" : "");
			fprintf(f, ", sleep %.0f%%, other %.0f%%", pv(s, AP_M_P_SLEEP_PCT),
				pv(s, AP_M_P_OTHER_PCT));
		}
		if (!isnan(pv(s, AP_M_P_IDLE_PCT)) &&
		    (pv(s, AP_M_P_IDLE_PCT) >= 1 || pv(s, AP_M_P_CHILD_PCT) >= 1))
			fprintf(f, "; idle waits %.0f%% and child waits %.0f%% of all thread time",
				pv(s, AP_M_P_IDLE_PCT), pv(s, AP_M_P_CHILD_PCT));
		if (!isnan(pv(s, AP_M_P_RSS_PEAK_MB)))
			fprintf(f, "; peak RSS %.0f MB", pv(s, AP_M_P_RSS_PEAK_MB));
		if (pv(s, AP_M_P_EXIT_SIGNAL) > 0)
			fprintf(f, "; %s", s->v[ap_metric_slot(AP_M_P_EXIT_TEXT)].s);
		fprintf(f, ".\n");
	}
	if (an->nr_subj[AP_SCOPE_PROCESS] > n)
		fprintf(f, "- ... and %zu more processes (run.json lists all).\n",
			an->nr_subj[AP_SCOPE_PROCESS] - n);
	fputc('\n', f);
}

/* on-CPU time by service, when the processes belong to more than one */
static void md_services(const struct ap_analysis *an, FILE *f)
{
	const struct profile *p = &an->in.prof;
	size_t n, i;
	struct ap_service_row *r = services_rank(p, &n);

	if (n >= 2) {
		fprintf(f, "## Services\n\n");
		for (i = 0; i < n && i < 10; i++) {
			fprintf(f, "- ");
			md_code(f, r[i].service ? profile__s(p, r[i].service) : "(none known)", false);
			fprintf(f, ": %.2f CPU-s sampled (%.1f%%), %zu process%s\n",
				p->frequency_hz ? (double)r[i].samples / p->frequency_hz : 0.0,
				p->total_samples ? 100.0 * r[i].samples / p->total_samples : 0.0,
				r[i].nr_procs, r[i].nr_procs == 1 ? "" : "es");
		}
		if (n > 10)
			fprintf(f, "- ... and %zu more services.\n", n - 10);
		fputc('\n', f);
	}
	free(r);
}

/* on-CPU time per asyncio task name, per process (3.14+: the "[task NAME]"
 * frames), largest first; a process on an older CPython whose stacks show
 * an event loop gets a line saying why it has none */
struct task_row {
	uint32_t pid;
	char *name;
	uint64_t samples;
};

static int task_row_cmp(const void *a, const void *b)
{
	const struct task_row *x = a, *y = b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if (x->samples != y->samples)
		return x->samples < y->samples ? 1 : -1;
	return strcmp(x->name, y->name);
}

/* does stack run an asyncio event loop (a frame of asyncio/base_events.py)? */
static bool stack_has_loop(const struct profile *p, uint32_t stack)
{
	const struct ap_stack *st = &p->stacks[stack];
	uint32_t i;

	for (i = 0; i < st->len; i++) {
		const struct ap_frame *fr = &p->frames[p->stack_frames[st->off + i]];

		if (fr->kind == AP_FRAME_PYTHON && fr->module != AP_NONE &&
		    strstr(profile__s(p, p->modules[fr->module].path), "asyncio/base_events.py"))
			return true;
	}
	return false;
}

static void md_tasks(const struct ap_analysis *an, FILE *f)
{
	const struct profile *p = &an->in.prof;
	struct task_row *v = NULL;
	struct hmap idx = { 0 }, loops = { 0 };
	size_t n = 0, cap = 0, i, j, shown = 0;
	char name[128];
	uint64_t k;

	for (i = 0; i < p->nr_counts; i++) {
		const struct ap_count *c = &p->counts[i];
		char key[160];
		bool is_new;
		uint64_t *slot;

		if (c->stack >= p->nr_stacks || !p->stacks[c->stack].python)
			continue;
		if (!profile__stack_task(p, c->stack, name, sizeof(name))) {
			if (!hmap_get(&loops, &c->pid, sizeof(c->pid), &k) && stack_has_loop(p, c->stack))
				hmap_put(&loops, &c->pid, sizeof(c->pid), 1);
			continue;
		}
		hmap_put(&loops, &c->pid, sizeof(c->pid), 2); /* has tasks */
		snprintf(key, sizeof(key), "%u %s", c->pid, name);
		slot = hmap_upsert(&idx, key, strlen(key), n, &is_new);
		if (is_new) {
			GROW(v, cap, n + 1);
			v[n++] = (struct task_row){ c->pid, xstrdup(name), 0 };
		}
		v[*slot].samples += c->count;
	}
	if (n) /* v is NULL without tasks: qsort must not see it */
		qsort(v, n, sizeof(*v), task_row_cmp);
	for (i = 0; i < n; i = j) {
		const struct ap_process *pr = profile__find_process(p, v[i].pid);
		uint64_t all = 0;

		for (j = i; j < n && v[j].pid == v[i].pid; j++)
			all += v[j].samples;
		if (!shown++)
			fprintf(f, "## asyncio tasks\n\nOn-CPU time per task name, from the running task of "
				   "each sample (CPython 3.14+).\n\n");
		fprintf(f, "pid %u", v[i].pid);
		if (pr && pr->comm) {
			fputs(" (", f);
			md_code(f, profile__s(p, pr->comm), false);
			fputc(')', f);
		}
		fprintf(f, ": %.2f CPU-s in tasks, %.1f%% of its samples\n\n",
			p->frequency_hz ? (double)all / p->frequency_hz : 0.0,
			pr && pr->samples ? 100.0 * all / pr->samples : 0.0);
		fprintf(f, "| task | CPU-s | share of task time |\n|---|---:|---:|\n");
		for (k = i; k < j && k < i + 20; k++) {
			fputs("| ", f);
			md_code(f, v[k].name, true);
			fprintf(f, " | %.2f | %.1f%% |\n",
				p->frequency_hz ? (double)v[k].samples / p->frequency_hz : 0.0,
				100.0 * v[k].samples / all);
		}
		if (j - i > 20)
			fprintf(f, "| ... %zu more | | |\n", j - i - 20);
		fputc('\n', f);
	}
	for (i = 0; i < loops.cap; i++) {
		const struct ap_process *pr;
		uint32_t pid;
		int minor = 0;

		if (!loops.ents[i].key || loops.ents[i].val != 1)
			continue;
		memcpy(&pid, loops.ents[i].key, sizeof(pid));
		pr = profile__find_process(p, pid);
		/* a 3.14+ loop with no task sampled has nothing to add */
		if (!pr || sscanf(profile__s(p, pr->runtime), "CPython 3.%d", &minor) != 1 ||
		    minor >= 14)
			continue;
		if (!shown++)
			fprintf(f, "## asyncio tasks\n\n");
		fprintf(f, "pid %u runs an asyncio event loop on %s: time per task needs CPython "
			   "3.14 or later (the running task in the thread state).\n\n",
			pid, profile__s(p, pr->runtime));
	}
	for (i = 0; i < n; i++)
		free(v[i].name);
	free(v);
	hmap_free(&idx);
	hmap_free(&loops);
}

/* processes that ended by a signal (a crash, a kill), before anything else */
static void md_killed(const struct ap_analysis *an, FILE *f)
{
	size_t i, n = 0, total = 0;

	for (i = 0; i < an->nr_subj[AP_SCOPE_PROCESS]; i++) {
		const struct ap_subject *s = &an->subj[AP_SCOPE_PROCESS][i];

		if (!(pv(s, AP_M_P_EXIT_SIGNAL) > 0))
			continue;
		if (total++ >= 5)
			continue;
		fprintf(f, "%s", n++ ? "; " : "**Ended by a signal:** ");
		md_code(f, s->location, false);
		fprintf(f, " was %s", s->v[ap_metric_slot(AP_M_P_EXIT_TEXT)].s);
	}
	if (total > n)
		fprintf(f, "; and %zu more", total - n);
	if (n)
		fprintf(f, ".\n\n");
}

/* processes whose Python frames were not walked: their time is the
 * interpreter's native functions, which the reader must know first */
static void md_py_missing(const struct profile *p, FILE *f)
{
	size_t i, n = 0;

	for (i = 0; i < p->nr_procs; i++) {
		char *note;

		if (!p->procs[i].py_missing || n++ >= AP_PY_NOTES_MAX)
			continue;
		note = ap_py_missing_note(p, &p->procs[i]);
		if (!note)
			continue;
		fprintf(f, "%s", n > 1 ? "- " : "**Python frames missing:**\n\n- ");
		md_text(f, note); /* the process name is the target's */
		fputc('\n', f);
		free(note);
	}
	if (n > AP_PY_NOTES_MAX) /* a host with many old interpreters: the list stays short */
		fprintf(f, "- and %zu more processes without Python frames (run.json has each)\n",
			n - AP_PY_NOTES_MAX);
	if (n)
		fputc('\n', f);
}

/* a stuck process: threads blocked for the whole run, and where */
static void md_blocked(const struct ap_analysis *an, FILE *f)
{
	struct ap_blocked_thread *v;
	size_t n = ap_blocked_threads(&an->in.prof, &v), i, k, groups = 0;

	for (i = 0; i < n; i += k) {
		if (!i || v[i].pid != v[i - 1].pid) {
			fprintf(f, "%s**Blocked for the whole run:** %zu of %zu threads of pid %u were "
				"blocked from before profiling began to its end (%.2f s), each where its "
				"stack was at the attach:\n\n", i ? "\n" : "", ap_blocked_of_pid(v, n, i),
				v[i].of, v[i].pid, v[i].ns / 1e9);
			groups = 0;
		}
		k = ap_blocked_group(v, n, i);
		if (groups++ == AP_BLOCKED_GROUPS) {
			fprintf(f, "- ... and more (offcpu.folded has every stack)\n");
			k = ap_blocked_of_pid(v, n, i);
			continue;
		}
		if (k > 1)
			fprintf(f, "- %zu threads (%u and others) ", k, v[i].tid);
		else
			fprintf(f, "- thread %u ", v[i].tid);
		md_code(f, v[i].comm, false);
		fprintf(f, ", %s in `%s`: ",
			ap_off_reason_names[v[i].reason < AP_OFF__COUNT ? v[i].reason : AP_OFF_OTHER],
			v[i].syscall);
		md_code(f, v[i].where, false);
		fputc('\n', f);
	}
	if (n)
		fputc('\n', f);
	free(v);
}

/* the asyncio tasks suspended at the attach: a table per process */
static void md_async_tasks(const struct profile *p, FILE *f)
{
	struct strbuf sb = { 0 };
	size_t i, k, n;

	for (i = 0; i < p->nr_atasks; i += n) {
		n = ap_async_of_pid(p, i);
		fprintf(f, "**Suspended asyncio tasks at the attach:** %zu of pid %u, each with its "
			"await chain (the task's coroutine first):\n\n", n, p->atasks[i].pid);
		fprintf(f, "| task | waiting in | on | await chain |\n|---|---|---|---|\n");
		for (k = 0; k < n && k < AP_ASYNC_SHOWN; k++) {
			const struct ap_async_task *t = &p->atasks[i + k];

			fprintf(f, "| ");
			md_code(f, t->name, true);
			fprintf(f, " | ");
			md_code(f, ap_async_where(t, &sb), true);
			fprintf(f, " | ");
			md_code(f, t->waits, true);
			fprintf(f, " | ");
			md_code(f, ap_async_chain(t, &sb), true);
			fprintf(f, " |\n");
		}
		if (n > AP_ASYNC_SHOWN)
			fprintf(f, "\nand %zu more (offcpu.json `asyncio_tasks` has every one)\n",
				n - AP_ASYNC_SHOWN);
		fputc('\n', f);
	}
	if (profile__counter(p, "python_async_tasks_capped"))
		fprintf(f, "%llu more suspended tasks were not read: over the cap "
			"(`python_async_tasks_capped`).\n\n",
			(unsigned long long)profile__counter(p, "python_async_tasks_capped"));
	if (profile__counter(p, "python_async_processes_skipped"))
		fprintf(f, "Suspended asyncio tasks were not read in %llu process(es): the memory did not "
			"answer in time, or the attach's budget ran out (`python_async_processes_skipped`)."
			"\n\n",
			(unsigned long long)profile__counter(p, "python_async_processes_skipped"));
	sb_free(&sb);
}

/* "1.23 s at stake"; "1.50 s at stake (capped at its wall time; 3.00 s
 * measured, summed over threads)" when capped; or "no direct time cost" */
static const char *stake(const struct ap_finding *x, char *buf, size_t len)
{
	if (ap_finding__is_risk(x))
		return "no direct time cost, a risk: listed first";
	if (x->pat->impact_metric < 0)
		return "no direct time cost";
	if (x->impact_raw_s > x->impact_s + 0.005)
		snprintf(buf, len, "%.2f s at stake (capped at its wall time; %.2f s measured, summed over threads)",
			 x->impact_s, x->impact_raw_s);
	else
		snprintf(buf, len, "%.2f s at stake", x->impact_s);
	return buf;
}

static void md_finding(const struct ap_analysis *an, const struct ap_finding *x, int n, FILE *f)
{
	const struct ap_pattern *pt = x->pat;
	char buf[128];
	size_t i;

	fprintf(f, "### %d. ", n);
	md_text(f, pt->title);
	fprintf(f, " (`%s`)\n\n", x->id);
	fprintf(f, "- **Where:** ");
	md_code(f, x->subj->location, false);
	fputc('\n', f);
	fprintf(f, "- **Severity:** %s; **%s**; **confidence:** %.3g\n\n",
		ap_severity_names[pt->severity], stake(x, buf, sizeof(buf)), x->confidence);
	md_text(f, x->explanation);
	fprintf(f, "\n\n");
	fprintf(f, "| evidence | value | 95%% interval |\n|---|---|---|\n");
	for (i = 0; i < pt->nr_cited; i++) {
		int id = pt->cited[i];
		const struct ap_value *v = val(an, x, id);

		if (absent_memory(v, id))
			continue;
		fprintf(f, "| `%s` | ", ap_metric_name(id));
		fmt_value(f, v, id);
		if (v && v->n && !isnan(v->v)) {
			double lo, hi;

			ap_wilson95(v->k, v->n, &lo, &hi);
			fprintf(f, " | %.1f–%.1f %% (%llu of %llu) |\n", 100 * lo, 100 * hi,
				(unsigned long long)v->k, (unsigned long long)v->n);
		} else {
			fprintf(f, " | |\n");
		}
	}
	fprintf(f, "\n**Confidence basis:** %s.\n\n**Suggested actions:**\n\n", x->basis);
	for (i = 0; i < x->nr_suggestions; i++) {
		fprintf(f, "- ");
		md_text(f, x->suggestions[i]);
		fputc('\n', f);
	}
	fprintf(f, "\n**How to verify:** ");
	md_text(f, x->verify);
	fputc('\n', f);
	if (x->nr_related) {
		fprintf(f, "\n*Also seen as:*");
		for (i = 0; i < x->nr_related; i++)
			fprintf(f, " `%s`", x->related[i]);
		fputc('\n', f);
	}
	fputc('\n', f);
}

/* subjects of a scope, best first by metric id (descending); at most n */
static size_t top_subjects(const struct ap_analysis *an, enum ap_scope sc, int id, size_t n,
			   const struct ap_subject **out)
{
	size_t i, j, k = 0;

	for (i = 0; i < an->nr_subj[sc]; i++) {
		const struct ap_subject *s = &an->subj[sc][i];
		double v = pv(s, id);

		if (isnan(v) || v <= 0)
			continue;
		for (j = k; j > 0 && pv(out[j - 1], id) < v; j--)
			if (j < n)
				out[j] = out[j - 1];
		if (j < n) {
			out[j] = s;
			if (k < n)
				k++;
		}
	}
	return k;
}

static void md_facts(const struct ap_analysis *an, FILE *f)
{
	const struct profile *p = &an->in.prof;
	const struct ap_subject *top[15];
	size_t i, n;

	fprintf(f, "## Raw facts\n\n### Top functions by self time\n\n"
		   "| function | self %% | total %% | self samples |\n|---|---|---|---|\n");
	n = top_subjects(an, AP_SCOPE_FUNCTION, AP_M_F_SELF_SAMPLES, 15, top);
	for (i = 0; i < n; i++) {
		fputs("| ", f);
		md_code(f, top[i]->location, true);
		fprintf(f, " | %.1f | %.1f | %.0f |\n", pv(top[i], AP_M_F_SELF_PCT),
			pv(top[i], AP_M_F_TOTAL_PCT), pv(top[i], AP_M_F_SELF_SAMPLES));
	}
	fprintf(f, "\n### Top call paths (functions, Python view)\n\n| samples | %% | path |\n|---|---|---|\n");
	n = top_subjects(an, AP_SCOPE_STACK, AP_M_S_SAMPLES, 8, top);
	for (i = 0; i < n; i++) {
		fprintf(f, "| %.0f | %.1f | ", pv(top[i], AP_M_S_SAMPLES), pv(top[i], AP_M_S_PCT));
		md_code(f, top[i]->location, true);
		fprintf(f, " |\n");
	}
	if (p->has_offcpu) {
		fprintf(f, "\n### Threads (wall-time breakdown, %% of each thread's time)\n\n"
			   "| thread | wall s | cpu | runnable | io | lock | gil | sleep | idle wait |\n"
			   "|---|---|---|---|---|---|---|---|---|\n");
		n = top_subjects(an, AP_SCOPE_THREAD, AP_M_T_WALL_S, 15, top);
		for (i = 0; i < n; i++) {
			const struct ap_subject *s = top[i];

			fprintf(f, "| ");
			md_code(f, s->location, true);
			fprintf(f, " | %.2f | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f |\n",
				pv(s, AP_M_T_WALL_S), pv(s, AP_M_T_ONCPU_PCT), pv(s, AP_M_T_RUNNABLE_PCT),
				pv(s, AP_M_T_IO_PCT), pv(s, AP_M_T_LOCK_PCT), pv(s, AP_M_T_GIL_PCT),
				pv(s, AP_M_T_SLEEP_PCT), pv(s, AP_M_T_IDLE_PCT));
		}
	}
	if (p->has_syscalls) {
		fprintf(f, "\n### System calls by time inside\n\n"
			   "| call | count | errors | total s | avg µs | p99 µs ≤ | bytes |\n"
			   "|---|---|---|---|---|---|---|\n");
		n = top_subjects(an, AP_SCOPE_SYSCALL, AP_M_SC_TOTAL_S, 12, top);
		for (i = 0; i < n; i++) {
			const struct ap_subject *s = top[i];

			fputs("| ", f);
			md_code(f, s->location, true);
			fprintf(f, " | %.0f | %.0f | %.3f | %.1f | %.0f | %.0f |\n", pv(s, AP_M_SC_COUNT), pv(s, AP_M_SC_ERRORS), pv(s, AP_M_SC_TOTAL_S),
				pv(s, AP_M_SC_AVG_US), pv(s, AP_M_SC_P99_US), pv(s, AP_M_SC_BYTES));
		}
	}
	if ((p->has_memory || p->has_malloc) && p->nr_mem) {
		/* the terminal's block: bytes first touched, where, mappings, malloc */
		fprintf(f, "\n### Memory\n\n```text");
		ap_memory_print(p, AP_VIEW_MIXED, f);
		fprintf(f, "```\n");
	}
	fprintf(f, "\n### Data quality\n\n");
	fprintf(f, "- sample records lost: %.2f%%; user stacks complete: ", an->in.lost_pct);
	fmt_value(f, run_v(an, AP_M_RUN_COMPLETENESS_PCT), AP_M_RUN_COMPLETENESS_PCT);
	fputc('\n', f);
	for (i = 0; i < p->nr_counters; i++)
		if (p->counters[i].value && (strstr(p->counters[i].name, "lost") ||
					     strstr(p->counters[i].name, "full") ||
					     strstr(p->counters[i].name, "error") ||
					     strstr(p->counters[i].name, "truncated") ||
					     strstr(p->counters[i].name, "capped") ||
					     strstr(p->counters[i].name, "dropped")))
			fprintf(f, "- %s: %llu\n", p->counters[i].name,
				(unsigned long long)p->counters[i].value);
	if (an->nr_skipped) {
		fprintf(f, "\n### Patterns not evaluated\n\n");
		for (i = 0; i < an->nr_skipped; i++)
			fprintf(f, "- `%s`: %s\n", an->skipped[i].pattern, an->skipped[i].reason);
	}
}

void ap_report_md(const struct ap_analysis *an, FILE *f)
{
	const struct profile *p = &an->in.prof;
	size_t i, nr_shown = 0, n = 0;
	char buf[128];

	fprintf(f, "# autoprof-bpf report: ");
	md_code(f, an->in.target, false);
	fprintf(f, "\n\n");
	fprintf(f, "%.2f s wall; %llu on-CPU samples at %u Hz (%.2f CPU-s)", an->in.wall_s,
		(unsigned long long)p->total_samples, p->frequency_hz,
		p->frequency_hz ? (double)p->total_samples / p->frequency_hz : 0.0);
	if (an->in.nr_cpus > 0)
		fprintf(f, " on %d CPUs", an->in.nr_cpus);
	fprintf(f, "; %zu process%s, %zu thread%s.%s\n\n", p->nr_procs, p->nr_procs == 1 ? "" : "es",
		p->nr_threads, p->nr_threads == 1 ? "" : "s",
		an->in.interrupted ? " The run was interrupted; this is what was collected." : "");
	md_killed(an, f);
	md_py_missing(p, f);
	md_blocked(an, f);
	md_async_tasks(&an->in.prof, f);
	md_behaviour(an, f);
	md_services(an, f);
	md_tasks(an, f);
	fprintf(f, "## Key bottlenecks\n\n%s.\n\n", AP_RANKING_NOTE);
	for (i = 0; i < an->nr_findings; i++) {
		const struct ap_finding *x = &an->findings[i];

		if (!shown(x))
			continue;
		n++;
		fprintf(f, "%zu. **", n);
		md_text(f, x->pat->title);
		fprintf(f, "** (%s): ", ap_severity_names[x->pat->severity]);
		md_code(f, x->subj->location, false);
		fprintf(f, ", %s, confidence %.3g\n", stake(x, buf, sizeof(buf)), x->confidence);
	}
	for (i = 0; i < an->nr_findings; i++) {
		const struct ap_finding *x = &an->findings[i];

		if (x->dropped || !x->uncertain)
			continue;
		fprintf(f, "- *uncertain* (confidence %.2f, under %.1f): ", x->confidence,
			AP_MIN_CONFIDENCE);
		md_text(f, x->pat->title);
		fputs(" at ", f);
		md_code(f, x->subj->location, false);
		fputc('\n', f);
	}
	if (!n)
		fprintf(f, "No pattern matched: nothing in this run crossed a threshold of the %zu "
			   "patterns evaluated. The raw facts below still show where time went.\n",
			an->nr_pats);
	fprintf(f, "\n## Findings\n\n");
	for (i = 0; i < an->nr_findings; i++)
		if (shown(&an->findings[i]))
			md_finding(an, &an->findings[i], (int)++nr_shown, f);
	md_facts(an, f);
}

void ap_findings_print_top(const struct ap_analysis *an, int top, FILE *f)
{
	char buf[128];
	size_t i;
	int n = 0, total = 0;

	for (i = 0; i < an->nr_findings; i++)
		total += shown(&an->findings[i]);
	fprintf(f, "\nTop findings (%d of %d, %s; report.md explains each):\n",
		total < top ? total : top, total, AP_RANKING_LOWER);
	if (!total)
		fprintf(f, "  none: no pattern matched this run\n");
	for (i = 0; i < an->nr_findings && n < top; i++) {
		const struct ap_finding *x = &an->findings[i];
		char *loc, *expl, *sug;

		if (!shown(x))
			continue;
		/* names from the target: no terminal escapes, no forged lines */
		loc = tty_dup(x->subj->location);
		expl = tty_dup(x->explanation);
		sug = tty_dup(x->nr_suggestions ? x->suggestions[0] : "");
		fprintf(f, "  %d. [%s] %s: %s (%s, confidence %.3g)\n     %s\n", ++n,
			ap_severity_names[x->pat->severity], x->pat->title, loc,
			stake(x, buf, sizeof(buf)), x->confidence, expl);
		if (x->nr_suggestions)
			fprintf(f, "     try: %s\n", sug);
		free(loc);
		free(expl);
		free(sug);
	}
}

int ap_analyze_dir(int dirfd, const char *dir, const char *patterns_dir, struct ap_analysis **out)
{
	struct ap_analysis *an = xcalloc(1, sizeof(*an));
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int err;

	err = ap_input__load(&an->in, dirfd, dir);
	if (!err)
		err = ap_patterns__load_builtin(an);
	/* a bad user pattern is reported; the others still run */
	if (!err && patterns_dir && ap_patterns__load_dir(an, patterns_dir)) {
		ap_warn("patterns: the files above were skipped; the others were evaluated");
		an->rejected_patterns = true;
	}
	if (err)
		goto out;
	ap_metrics__compute(an);
	ap_analysis__evaluate(an);
	ap_write_batch_begin(); /* findings.json and report.md: one journal commit */
	{
		cJSON *j = ap_findings_json(an);

		err = json_write_atomic(dirfd, "findings.json", j);
		cJSON_Delete(j);
	}
	if (!err) {
		f = open_memstream(&buf, &len);
		err = f ? 0 : -errno;
	}
	if (!err) {
		ap_report_md(an, f);
		fclose(f);
		err = write_file_atomic_at(dirfd, "report.md", buf, len);
		free(buf);
	}
	{
		int e = ap_write_batch_end();

		if (e && !err)
			err = e;
	}
	if (err && ap_last_write_failure())
		ap_err("writing the analysis to %s: %s (%zu bytes): %s", dir,
		       ap_last_write_failure()->name, ap_last_write_failure()->len, strerror(-err));
	else if (err)
		ap_err("writing the analysis to %s: %s", dir, strerror(-err));
out:
	if (err || !out) {
		ap_analysis__free(an);
		free(an);
		an = NULL;
	}
	if (out)
		*out = an;
	return err;
}
