// SPDX-License-Identifier: MIT
/* `diff`'s findings that appeared or went away: the findings of each run
 * (the built-in patterns, evaluated when `diff` loads the run), matched by
 * pattern id and subject. A subject is named without pids, which differ
 * from run to run: a function by file and name, a process by its name,
 * others by their location with "pid N" / "tid N" as "pid *" / "tid *".
 * Findings dropped (merged into another, over their pattern's cap) or
 * uncertain are left out, as the report lists them apart. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include "analyze/pattern.h"
#include "diff/diff.h"
#include "util.h"

/* "pid 12 tid 13 (x)" -> "pid * tid * (x)" */
static char *without_ids(const char *loc)
{
	char *out = xstrdup(loc), *w = out;
	const char *r = loc;

	while (*r) {
		if ((!strncmp(r, "pid ", 4) || !strncmp(r, "tid ", 4)) && isdigit((unsigned char)r[4])) {
			memcpy(w, r, 4), w += 4, r += 4;
			*w++ = '*';
			while (isdigit((unsigned char)*r))
				r++;
			continue;
		}
		*w++ = *r++;
	}
	*w = 0;
	return out;
}

static char *subject_key(const struct ap_subject *s)
{
	const char *a, *b;

	switch (s->scope) {
	case AP_SCOPE_FUNCTION:
		a = s->v[ap_metric_slot(AP_M_F_FILE)].s, b = s->v[ap_metric_slot(AP_M_F_NAME)].s;
		a = ap_diff_file_key(s->v[ap_metric_slot(AP_M_F_KIND)].s, a);
		return xasprintf("%s:%s", a, b ? b : "");
	case AP_SCOPE_PROCESS:
		a = s->v[ap_metric_slot(AP_M_P_COMM)].s;
		return xasprintf("process %s", a ? a : "");
	default:
		return without_ids(s->location ? s->location : "");
	}
}

struct keyed {
	const struct ap_finding *f;
	char *subject;
};

static int keyed_cmp(const void *a, const void *b)
{
	const struct keyed *x = a, *y = b;
	int c = strcmp(x->f->pat->id, y->f->pat->id);

	return c ? c : strcmp(x->subject, y->subject);
}

/* the kept findings of an, sorted by (pattern, subject), one per key */
static struct keyed *kept(const struct ap_analysis *an, size_t *n)
{
	struct keyed *v = xcalloc(an->nr_findings + 1, sizeof(*v));
	size_t i, m = 0;

	for (i = 0; i < an->nr_findings; i++) {
		const struct ap_finding *f = &an->findings[i];

		if (f->dropped || f->uncertain || !f->subj)
			continue;
		v[m++] = (struct keyed){ .f = f, .subject = subject_key(f->subj) };
	}
	if (m)
		qsort(v, m, sizeof(*v), keyed_cmp);
	/* the larger of equal keys stays (rank order: ids were given in it) */
	for (i = *n = 0; i < m; i++) {
		if (*n && !keyed_cmp(&v[*n - 1], &v[i])) {
			if (v[i].f->impact_s > v[*n - 1].f->impact_s)
				free(v[*n - 1].subject), v[*n - 1] = v[i];
			else
				free(v[i].subject);
			continue;
		}
		v[(*n)++] = v[i];
	}
	return v;
}

static void add(struct ap_diff *d, size_t *cap, struct keyed *k, int change)
{
	struct ap_diff_finding *o;

	GROW(d->found, *cap, d->nr_found + 1);
	o = &d->found[d->nr_found++];
	*o = (struct ap_diff_finding){ .pattern = k->f->pat->id, .title = k->f->pat->title,
				       .severity = ap_severity_names[k->f->pat->severity],
				       .subject = k->subject, .impact_s = k->f->impact_s,
				       .change = change };
	k->subject = NULL;
}

/* appeared first, then gone; each by the wall time at stake */
static int found_cmp(const void *a, const void *b)
{
	const struct ap_diff_finding *x = a, *y = b;
	int c;

	if (x->change != y->change)
		return x->change > y->change ? -1 : 1;
	if (x->impact_s != y->impact_s)
		return x->impact_s < y->impact_s ? 1 : -1;
	c = strcmp(x->pattern, y->pattern);
	return c ? c : strcmp(x->subject, y->subject);
}

void ap_diff__compute_findings(struct ap_diff *d, const struct ap_analysis *base,
			       const struct ap_analysis *new)
{
	size_t nb, nn, i = 0, j = 0, cap = 0;
	struct keyed *b = kept(base, &nb), *n = kept(new, &nn);
	int c;

	d->has_findings = base->nr_pats && new->nr_pats;
	while (i < nb || j < nn) {
		c = i == nb ? 1 : j == nn ? -1 : keyed_cmp(&b[i], &n[j]);
		if (c < 0)
			add(d, &cap, &b[i], -1);
		else if (c > 0)
			add(d, &cap, &n[j], +1);
		i += c <= 0;
		j += c >= 0;
	}
	for (i = 0; i < nb; i++)
		free(b[i].subject);
	for (j = 0; j < nn; j++)
		free(n[j].subject);
	free(b), free(n);
	if (d->nr_found)
		qsort(d->found, d->nr_found, sizeof(*d->found), found_cmp);
}
