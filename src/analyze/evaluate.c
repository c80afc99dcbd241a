// SPDX-License-Identifier: MIT
/* Evaluating patterns: conditions over metrics per subject, confidence from
 * sample counts, ranking by the wall time at stake weighted by confidence,
 * and de-duplication. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <fnmatch.h>
#include "analyze/pattern.h"
#include "util.h"

/* ---- confidence ---- */

static double phi(double z)
{
	return 0.5 * erfc(-z / M_SQRT2);
}

double ap_binomial_confidence(uint64_t k, uint64_t n, double threshold, bool above)
{
	double ph, z;

	if (!n)
		return 0;
	ph = (double)k / n;
	if (threshold <= 0 || threshold >= 1) /* nothing to test: the share is what it is */
		return (above ? ph > threshold : ph < threshold) ? 1 : 0;
	z = (ph - threshold) / sqrt(threshold * (1 - threshold) / n);
	return phi(above ? z : -z);
}

void ap_wilson95(uint64_t k, uint64_t n, double *lo, double *hi)
{
	const double z = 1.959963984540054;
	double ph, d, c, h;

	if (!n) {
		*lo = 0, *hi = 1;
		return;
	}
	ph = (double)k / n;
	d = 1 + z * z / n;
	c = (ph + z * z / (2.0 * n)) / d;
	h = z * sqrt(ph * (1 - ph) / n + z * z / (4.0 * n * n)) / d;
	*lo = c - h > 0 ? c - h : 0;
	*hi = c + h < 1 ? c + h : 1;
}

/* ---- frames matchers ---- */

#define FM_ANY 1  /* the frame matches a rule of "any" */
#define FM_NONE 2 /* ... of "none" */

/* each distinct frame is tested against the rules once */
static uint8_t *match_frames(const struct profile *p, const struct ap_matcher *m)
{
	uint8_t *fm = xcalloc(p->nr_frames + 1, 1);
	size_t f, k;

	for (f = 0; f < p->nr_frames; f++) {
		for (k = 0; k < m->nr_any && !(fm[f] & FM_ANY); k++)
			if (ap_rule_match(p, &m->any[k], f))
				fm[f] |= FM_ANY;
		for (k = 0; k < m->nr_none && !(fm[f] & FM_NONE); k++)
			if (ap_rule_match(p, &m->none[k], f))
				fm[f] |= FM_NONE;
	}
	return fm;
}

/* AP_NONE, or the frame that makes the stack match: the innermost matching
 * one (or the innermost Python frame with "where": "innermost_python") */
static uint32_t stack_match(const struct profile *p, const struct ap_matcher *m, const uint8_t *fm,
			    uint32_t stack)
{
	const struct ap_stack *s = &p->stacks[stack];
	uint32_t i, py_leaf = AP_NONE, hit = AP_NONE;

	for (i = 0; i < s->len; i++) {
		uint32_t fr = p->stack_frames[s->off + i];

		if (fm[fr] & FM_NONE)
			return AP_NONE;
		if (p->frames[fr].kind == AP_FRAME_PYTHON)
			py_leaf = fr;
		if (fm[fr] & FM_ANY)
			hit = fr;
	}
	if (m->innermost_python)
		return py_leaf != AP_NONE && (fm[py_leaf] & FM_ANY) ? py_leaf : AP_NONE;
	return hit;
}

static void set_match(struct ap_value *mv, int id, double v)
{
	mv[ap_metric_slot(id)].v = v;
}

/* the match metrics of one subject (run, process or thread) */
/* A table's rows ordered by (pid, row): the rows of one process are a
 * range, found by binary search, instead of a scan of every row per
 * subject (10,000 processes made that 2 CPU-s of analysis). Within a pid
 * the rows keep their order, so sums come out as a full scan's. */
struct by_pid {
	struct pid_row {
		uint32_t pid, row;
	} *v;
	size_t n;
};

static int pid_row_cmp(const void *a, const void *b)
{
	const struct pid_row *x = a, *y = b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return x->row < y->row ? -1 : x->row > y->row;
}

static void by_pid_sort(struct by_pid *bp)
{
	if (bp->n)
		qsort(bp->v, bp->n, sizeof(*bp->v), pid_row_cmp);
}

/* [*lo, *hi) of pid's rows in bp; every row when pid is AP_NONE */
static void by_pid_range(const struct by_pid *bp, uint32_t pid, size_t *lo, size_t *hi)
{
	size_t a = 0, b = bp->n, m;

	*lo = 0;
	*hi = bp->n;
	if (pid == AP_NONE)
		return;
	while (a < b) { /* first row with v.pid >= pid */
		m = a + (b - a) / 2;
		if (bp->v[m].pid < pid)
			a = m + 1;
		else
			b = m;
	}
	*lo = a;
	for (b = bp->n; a < b;) { /* first row with v.pid > pid */
		m = a + (b - a) / 2;
		if (bp->v[m].pid <= pid)
			a = m + 1;
		else
			b = m;
	}
	*hi = a;
}

static struct ap_value *match_values(struct ap_analysis *an, const uint32_t *hit,
				     const struct ap_subject *s, const struct by_pid *counts,
				     const struct by_pid *offs)
{
	const struct profile *p = &an->in.prof;
	uint32_t nm = ap_scope_nr_metrics(AP_SCOPE_MATCH), i;
	struct ap_value *mv = xcalloc(nm, sizeof(*mv));
	uint64_t samples = 0, all = 0, best = 0;
	double off = 0, thread_s = NAN, hz = p->frequency_hz ? p->frequency_hz : 1;
	struct hmap names = { 0 };
	const char *top = NULL;
	size_t j, lo, hi;

	for (i = 0; i < nm; i++)
		mv[i].v = NAN;
	by_pid_range(counts, s->pid, &lo, &hi);
	for (j = lo; j < hi; j++) {
		const struct ap_count *c = &p->counts[counts->v[j].row];

		if ((s->pid != AP_NONE && c->pid != s->pid) || (s->tid != AP_NONE && c->tid != s->tid))
			continue;
		all += c->count;
		if (hit[c->stack] != AP_NONE) {
			bool is_new;

			samples += c->count;
			*hmap_upsert(&names, &p->frames[hit[c->stack]].name, sizeof(uint32_t), 0,
				     &is_new) += c->count;
		}
	}
	for (j = 0; j < names.cap; j++) {
		uint32_t name;

		if (!names.ents[j].key)
			continue;
		memcpy(&name, names.ents[j].key, sizeof(name));
		if (names.ents[j].val > best ||
		    (names.ents[j].val == best && strcmp(profile__s(p, name), top) < 0)) {
			best = names.ents[j].val;
			top = profile__s(p, name);
		}
	}
	hmap_free(&names);
	set_match(mv, AP_M_MA_SAMPLES, samples);
	mv[ap_metric_slot(AP_M_MA_PCT)] = (struct ap_value){ all ? 100.0 * samples / all : NAN, NULL,
							      samples, all };
	set_match(mv, AP_M_MA_CPU_S, samples / hz);
	mv[ap_metric_slot(AP_M_MA_TOP)].s = top ? top : "";
	mv[ap_metric_slot(AP_M_MA_TOP)].v = 0;
	if (p->has_offcpu) {
		by_pid_range(offs, s->pid, &lo, &hi);
		for (j = lo; j < hi; j++) {
			const struct ap_off_row *r = &p->off[offs->v[j].row];

			if ((s->pid != AP_NONE && r->pid != s->pid) ||
			    (s->tid != AP_NONE && r->tid != s->tid) || hit[r->stack] == AP_NONE ||
			    r->reason == AP_OFF_RUNQUEUE || r->reason == AP_OFF_PREEMPTED)
				continue;
			off += r->ns / 1e9;
		}
		thread_s = s->scope == AP_SCOPE_THREAD ?
				   s->v[ap_metric_slot(AP_M_T_WALL_S)].v :
			   s->scope == AP_SCOPE_PROCESS ? s->v[ap_metric_slot(AP_M_P_THREAD_S)].v :
							  s->v[ap_metric_slot(AP_M_RUN_THREAD_S)].v;
		set_match(mv, AP_M_MA_OFF_S, off);
		set_match(mv, AP_M_MA_OFF_PCT, thread_s > 0 ? 100 * off / thread_s : NAN);
	}
	return mv;
}

/* ---- conditions ---- */

enum tri { T_FALSE, T_TRUE, T_UNKNOWN };

struct eval_ctx {
	struct ap_analysis *an;
	const struct ap_subject *s;
	const struct ap_value *match;
	int missing;                /* a metric without a value, for the skip note */
	struct strbuf *basis;
};

static const char *op_text(enum ap_op op)
{
	static const char *const t[] = { ">", ">=", "<", "<=", "==", "!=", "in", "not in", "matches" };

	return t[op];
}

static enum tri eval(struct eval_ctx *x, const struct ap_cond *c, double *conf)
{
	const struct ap_value *v, *r;
	double rhs, lhs;
	bool ok = false, text;
	size_t i;

	if (c->kind != AP_COND_METRIC) {
		bool all = c->kind == AP_COND_ALL, unknown = false;
		double best = all ? 1 : 0, kc;

		for (i = 0; i < c->nr_kids; i++) {
			enum tri t = eval(x, &c->kids[i], &kc);

			if (t == T_UNKNOWN) {
				unknown = true;
			} else if (all && t == T_FALSE) {
				*conf = 0;
				return T_FALSE;
			} else if (!all && t == T_TRUE) {
				best = kc > best ? kc : best;
			} else if (all) {
				best = kc < best ? kc : best;
			}
		}
		if (!all && best > 0) {
			*conf = best;
			return T_TRUE;
		}
		if (unknown)
			return T_UNKNOWN;
		if (!all) {
			*conf = 0;
			return T_FALSE;
		}
		*conf = best;
		return T_TRUE;
	}
	*conf = 0;
	v = ap_analysis__value(x->an, x->s, x->match, c->metric);
	text = !strcmp(ap_metrics[c->metric].unit, "text");
	if (!v || (!text && isnan(v->v)) || (text && !v->s)) {
		if (x->missing < 0)
			x->missing = c->metric;
		return T_UNKNOWN;
	}
	if (text) {
		const char *s = v->s;

		switch (c->op) {
		case AP_OP_EQ: ok = !strcmp(s, c->str); break;
		case AP_OP_NE: ok = strcmp(s, c->str) != 0; break;
		case AP_OP_MATCHES: ok = !fnmatch(c->str, s, 0); break;
		case AP_OP_NOT_MATCHES: ok = fnmatch(c->str, s, 0) != 0; break;
		case AP_OP_IN:
		case AP_OP_NOT_IN:
			for (i = 0; i < c->nr_list && strcmp(s, c->list[i]); i++)
				;
			ok = (i < c->nr_list) == (c->op == AP_OP_IN);
			break;
		default: break;
		}
		*conf = ok ? 1 : 0;
		return ok ? T_TRUE : T_FALSE;
	}
	lhs = v->v;
	rhs = c->value;
	if (c->rhs_metric >= 0) {
		r = ap_analysis__value(x->an, x->s, x->match, c->rhs_metric);
		if (!r || isnan(r->v)) {
			if (x->missing < 0)
				x->missing = c->rhs_metric;
			return T_UNKNOWN;
		}
		rhs = r->v * c->times;
	}
	switch (c->op) {
	case AP_OP_GT: ok = lhs > rhs; break;
	case AP_OP_GE: ok = lhs >= rhs; break;
	case AP_OP_LT: ok = lhs < rhs; break;
	case AP_OP_LE: ok = lhs <= rhs; break;
	case AP_OP_EQ: ok = lhs == rhs; break;
	case AP_OP_NE: ok = lhs != rhs; break;
	default: break;
	}
	if (!ok)
		return T_FALSE;
	*conf = 1;
	/* a share of samples: how sure is it to lie beyond the threshold? */
	if (v->n && !strcmp(ap_metrics[c->metric].basis, "samples") &&
	    c->op >= AP_OP_GT && c->op <= AP_OP_LE) {
		bool above = c->op == AP_OP_GT || c->op == AP_OP_GE;

		/* a threshold of 0% or 100% leaves nothing to test: the condition
		 * held on the counts themselves; samples never make anything certain */
		*conf = rhs <= 0 || rhs >= 100 ? 0.999 :
			fmin(ap_binomial_confidence(v->k, v->n, rhs / 100, above), 0.999);
		if (x->basis)
			sb_printf(x->basis, "%s%s = %.1f%% (%llu of %llu) %s %g%% with probability %.3f "
				  "(one-sided binomial score test)",
				  x->basis->len ? "; " : "", ap_metric_name(c->metric), lhs,
				  (unsigned long long)v->k, (unsigned long long)v->n, op_text(c->op), rhs,
				  *conf);
	}
	return T_TRUE;
}

/* ---- findings ---- */

static const char *const missing_source[AP_SCOPE__COUNT] = {
	[AP_SCOPE_SYSCALL] = "artifacts/syscalls.json (syscall collector off)",
	[AP_SCOPE_PYCALL] = "artifacts/python_calls.json (run with --py-calls)",
};

static void skip(struct ap_analysis *an, const struct ap_pattern *pt, const char *reason)
{
	an->skipped = xrealloc(an->skipped, (an->nr_skipped + 1) * sizeof(*an->skipped));
	an->skipped[an->nr_skipped++] = (struct ap_skipped){ xstrdup(pt->id), xstrdup(reason) };
}

/* where a metric's data comes from, for "not evaluated" notes */
static const char *needs(int metric)
{
	const char *src = ap_metrics[metric].source;

	if (strstr(src, "offcpu.json") || strstr(src, "off_ns"))
		return "artifacts/offcpu.json (off-CPU collector off)";
	if (strstr(src, "syscalls.json"))
		return "artifacts/syscalls.json (syscall collector off)";
	if (!strncmp(src, "memory.json", 11))
		return "artifacts/memory.json (memory collector off: --no-memory, or a run from before it)";
	if (strstr(src, "proc.json"))
		return "artifacts/proc.json";
	if (strstr(src, "python_calls.json"))
		return "artifacts/python_calls.json (run with --py-calls)";
	if (strstr(src, "py_state"))
		return "the interpreter's GC and finalizing state, read for CPython 3.8-3.13 "
		       "(this interpreter's layout is not known), or for the GC its symbols";
	return "data this run does not have";
}

/* The wall time during which the subject existed: no change to it can save
 * more. Thread-seconds summed over threads (GIL or lock waits of four
 * threads, CPU time of parallel processes) can exceed it; the time at stake
 * cannot. A process, its threads' syscalls and calls: the process's
 * observed span; a thread: its own; the run and code (functions, paths,
 * modules, summed over every process): the run's wall time. */
static double wall_cap(const struct ap_analysis *an, const struct ap_subject *s)
{
	const struct ap_value *w = NULL;

	switch (s->scope) {
	case AP_SCOPE_THREAD:
		w = ap_analysis__value(an, s, NULL, AP_M_T_WALL_S);
		if (w && !isnan(w->v) && w->v > 0)
			break;
		/* not scheduler-accounted: its process's */
		/* fall through */
	case AP_SCOPE_PROCESS:
	case AP_SCOPE_SYSCALL:
	case AP_SCOPE_PYCALL:
		w = ap_analysis__value(an, s, NULL, AP_M_P_WALL_S);
		break;
	default:
		break;
	}
	if (!w || isnan(w->v) || w->v <= 0)
		w = ap_analysis__value(an, s, NULL, AP_M_RUN_WALL_S);
	return w && !isnan(w->v) && w->v > 0 ? w->v : INFINITY;
}

static void add_finding(struct ap_analysis *an, const struct ap_pattern *pt,
			const struct ap_subject *s, struct ap_value *match, double conf,
			char *basis)
{
	struct ap_finding *f;
	const struct ap_value *iv = pt->impact_metric < 0 ? NULL :
				    ap_analysis__value(an, s, match, pt->impact_metric);
	size_t i;

	an->findings = xrealloc(an->findings, (an->nr_findings + 1) * sizeof(*an->findings));
	f = &an->findings[an->nr_findings++];
	memset(f, 0, sizeof(*f));
	f->pat = pt;
	f->subj = s;
	f->match = match;
	f->impact_raw_s = iv && !isnan(iv->v) ? iv->v : 0;
	f->impact_s = fmin(f->impact_raw_s, wall_cap(an, s));
	/* lost sample records make every sampled share less certain */
	f->confidence = conf * (1 - an->in.lost_pct / 100);
	f->confidence = round(f->confidence * 1000) / 1000;
	f->basis = basis;
	f->explanation = ap_template_render(an, pt->explanation, s, match, f->confidence);
	f->verify = ap_template_render(an, pt->verify, s, match, f->confidence);
	f->nr_suggestions = pt->nr_suggestions;
	f->suggestions = xcalloc(pt->nr_suggestions, sizeof(char *));
	for (i = 0; i < pt->nr_suggestions; i++)
		f->suggestions[i] = ap_template_render(an, pt->suggestions[i], s, match, f->confidence);
	if (pt->dedup)
		f->dedup_key = ap_template_render(an, pt->dedup, s, match, f->confidence);
}

static void evaluate_pattern(struct ap_analysis *an, const struct ap_pattern *pt)
{
	const struct profile *p = &an->in.prof;
	struct by_pid counts = { 0 }, offs = { 0 };
	uint32_t *hit = NULL;
	size_t i, known = 0;
	int missing = -1;

	if (!an->nr_subj[pt->scope]) {
		if (missing_source[pt->scope]) {
			char *r = xasprintf("needs %s", missing_source[pt->scope]);

			skip(an, pt, r);
			free(r);
		}
		return;
	}
	if (pt->frames.present) {
		uint8_t *fm = match_frames(p, &pt->frames);

		hit = xmalloc((p->nr_stacks + 1) * sizeof(*hit));
		for (i = 0; i < p->nr_stacks; i++)
			hit[i] = stack_match(p, &pt->frames, fm, i);
		free(fm);
		counts.v = xmalloc((p->nr_counts + 1) * sizeof(*counts.v));
		for (i = 0; i < p->nr_counts; i++)
			counts.v[counts.n++] = (struct pid_row){ p->counts[i].pid, i };
		by_pid_sort(&counts);
		offs.v = xmalloc((p->nr_off + 1) * sizeof(*offs.v));
		for (i = 0; i < p->nr_off; i++)
			offs.v[offs.n++] = (struct pid_row){ p->off[i].pid, i };
		by_pid_sort(&offs);
	}
	for (i = 0; i < an->nr_subj[pt->scope]; i++) {
		const struct ap_subject *s = &an->subj[pt->scope][i];
		struct ap_value *match = hit ? match_values(an, hit, s, &counts, &offs) : NULL;
		struct strbuf basis = { 0 };
		struct eval_ctx x = { an, s, match, -1, &basis };
		double conf;
		enum tri t;

		if (pt->samples_metric >= 0) {
			const struct ap_value *sv = ap_analysis__value(an, s, match, pt->samples_metric);

			if (!sv || isnan(sv->v) || sv->v < pt->min_samples) {
				free(match);
				known++; /* evaluated: too little data to say anything */
				continue;
			}
		}
		t = eval(&x, &pt->when, &conf);
		if (t == T_UNKNOWN && missing < 0)
			missing = x.missing;
		known += t != T_UNKNOWN;
		if (t != T_TRUE) {
			free(match);
			sb_free(&basis);
			continue;
		}
		if (!basis.len)
			sb_puts(&basis, "exact measurements (scheduler, syscall and /proc accounting)");
		add_finding(an, pt, s, match, conf, basis.buf);
	}
	free(hit);
	free(counts.v);
	free(offs.v);
	if (!known && missing >= 0) {
		char *r = xasprintf("needs %s (no value for %s)", needs(missing), ap_metric_name(missing));

		skip(an, pt, r);
		free(r);
	}
}

static int sev_rank(const struct ap_finding *f)
{
	return (int)f->pat->severity;
}

/* what ranks a finding: the wall time it could save, weighted by how sure
 * the finding is (a 0.85-sure 2 s ranks after a 0.999-sure 1.8 s) */
static double rank_key(const struct ap_finding *f)
{
	return f->impact_s * f->confidence;
}

bool ap_finding__is_risk(const struct ap_finding *f)
{
	return f->pat->severity == AP_SEV_HIGH && f->pat->impact_metric < 0;
}

static int finding_cmp(const void *a, const void *b)
{
	const struct ap_finding *x = a, *y = b;
	int c;

	/* a risk (memory about to run out, a crash) has no time figure to rank
	 * by: with key 0 it came after a 0.05 s finding; it goes first */
	if (ap_finding__is_risk(x) != ap_finding__is_risk(y))
		return ap_finding__is_risk(x) ? -1 : 1;
	if (rank_key(x) != rank_key(y))
		return rank_key(x) < rank_key(y) ? 1 : -1;
	if (sev_rank(x) != sev_rank(y))
		return sev_rank(x) < sev_rank(y) ? 1 : -1;
	if (x->confidence != y->confidence)
		return x->confidence < y->confidence ? 1 : -1;
	c = strcmp(x->pat->id, y->pat->id);
	return c ? c : strcmp(x->subj->location, y->subj->location);
}

void ap_analysis__evaluate(struct ap_analysis *an)
{
	size_t i, j, k;

	for (i = 0; i < an->nr_pats; i++)
		evaluate_pattern(an, &an->pats[i]);
	if (an->nr_findings)
		qsort(an->findings, an->nr_findings, sizeof(*an->findings), finding_cmp);
	/* ids in rank order within each pattern; the pattern's cap applies */
	for (i = 0; i < an->nr_findings; i++) {
		struct ap_finding *f = &an->findings[i];

		for (j = 0, k = 1; j < i; j++)
			k += an->findings[j].pat == f->pat;
		snprintf(f->id, sizeof(f->id), "%s#%zu", f->pat->id, k);
		if (k > f->pat->max_findings)
			f->dropped = true;
		f->uncertain = f->confidence < AP_MIN_CONFIDENCE;
	}
	/* the same problem seen by two patterns: keep the larger, cite the other */
	for (i = 0; i < an->nr_findings; i++) {
		struct ap_finding *f = &an->findings[i];

		if (!f->dedup_key || f->dropped || f->uncertain)
			continue;
		for (j = 0; j < i; j++) {
			struct ap_finding *g = &an->findings[j];

			if (g->dropped || g->uncertain || !g->dedup_key || strcmp(g->dedup_key, f->dedup_key))
				continue;
			f->dropped = true;
			g->related = xrealloc(g->related, (g->nr_related + 1) * sizeof(char *));
			g->related[g->nr_related++] = xstrdup(f->id);
			break;
		}
	}
}

void ap_analysis__free(struct ap_analysis *an)
{
	size_t i, j;

	for (i = 0; i < an->nr_findings; i++) {
		struct ap_finding *f = &an->findings[i];

		free(f->match), free(f->explanation), free(f->basis), free(f->verify);
		free(f->dedup_key);
		for (j = 0; j < f->nr_suggestions; j++)
			free(f->suggestions[j]);
		free(f->suggestions);
		for (j = 0; j < f->nr_related; j++)
			free(f->related[j]);
		free(f->related);
	}
	free(an->findings);
	for (i = 0; i < an->nr_skipped; i++)
		free(an->skipped[i].pattern), free(an->skipped[i].reason);
	free(an->skipped);
	for (i = 0; i < AP_SCOPE__COUNT; i++) {
		for (j = 0; j < an->nr_subj[i]; j++)
			free(an->subj[i][j].location), free(an->subj[i][j].v);
		free(an->subj[i]);
	}
	for (i = 0; i < an->nr_owned; i++)
		free(an->owned[i]);
	free(an->owned);
	free(an->stack_idle);
	ap_patterns__free(an);
	ap_input__free(&an->in);
}
