// SPDX-License-Identifier: MIT
/* Loading and checking patterns (docs/PATTERNS.md). A pattern that cannot be
 * evaluated exactly as written is rejected with its file, the position (line
 * and column for JSON syntax, the field's path otherwise) and the reason. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "analyze/pattern.h"
#include "log.h"
#include "outdir.h"
#include "util.h"

const char *const ap_severity_names[4] = { "info", "low", "medium", "high" };

/* generated from patterns/NAME.json by tools/embed-patterns.sh */
struct ap_builtin_pattern {
	const char *name, *text;
};
extern const struct ap_builtin_pattern ap_builtin_patterns[];
extern const size_t ap_nr_builtin_patterns;

struct perr {
	char *buf;
	size_t len;
	bool failed;
};

static bool fail(struct perr *e, const char *where, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static bool fail(struct perr *e, const char *where, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (e->failed)
		return false;
	e->failed = true;
	n = snprintf(e->buf, e->len, "%s: ", where);
	if (n < 0 || (size_t)n >= e->len)
		return false;
	va_start(ap, fmt);
	vsnprintf(e->buf + n, e->len - n, fmt, ap);
	va_end(ap);
	return false;
}

static const char *const op_names[] = {
	[AP_OP_GT] = ">",  [AP_OP_GE] = ">=", [AP_OP_LT] = "<",      [AP_OP_LE] = "<=",
	[AP_OP_EQ] = "==", [AP_OP_NE] = "!=", [AP_OP_IN] = "in", [AP_OP_NOT_IN] = "not_in",
	[AP_OP_MATCHES] = "matches", [AP_OP_NOT_MATCHES] = "not_matches",
};

static void cite(struct ap_pattern *pt, int metric)
{
	size_t i;

	for (i = 0; i < pt->nr_cited; i++)
		if (pt->cited[i] == metric)
			return;
	pt->cited = xrealloc(pt->cited, (pt->nr_cited + 1) * sizeof(*pt->cited));
	pt->cited[pt->nr_cited++] = metric;
}

/* may scope `from` see metrics of scope `to`? its own, its process's, the run's */
static bool visible(enum ap_scope from, enum ap_scope to, bool has_frames)
{
	if (to == from || to == AP_SCOPE_RUN)
		return true;
	if (to == AP_SCOPE_MATCH)
		return has_frames;
	if (to == AP_SCOPE_PROCESS)
		return from == AP_SCOPE_THREAD || from == AP_SCOPE_SYSCALL || from == AP_SCOPE_PYCALL;
	return false;
}

static bool check_metric(struct perr *e, const char *where, struct ap_pattern *pt, const char *name,
			 int *out)
{
	int id = ap_metric_find(name);

	if (id < 0)
		return fail(e, where, "unknown metric \"%s\" (docs/METRICS.md lists them)", name);
	if (!visible(pt->scope, ap_metrics[id].scope, pt->frames.present))
		return fail(e, where, "metric \"%s\" is not visible from scope \"%s\"%s", name,
			    ap_scope_names[pt->scope],
			    ap_metrics[id].scope == AP_SCOPE_MATCH ? " (match metrics need \"frames\")" :
				    " (a scope sees its own metrics, its process's and the run's)");
	*out = id;
	cite(pt, id);
	return true;
}

static bool parse_cond(struct perr *e, const cJSON *j, const char *where, struct ap_pattern *pt,
		       struct ap_cond *c, int depth)
{
	const cJSON *all = cJSON_GetObjectItemCaseSensitive(j, "all");
	const cJSON *any = cJSON_GetObjectItemCaseSensitive(j, "any");
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "metric");
	const cJSON *op = cJSON_GetObjectItemCaseSensitive(j, "op");
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "value");
	char w[256];
	size_t i;
	bool numeric;

	memset(c, 0, sizeof(*c));
	c->rhs_metric = -1;
	if (!cJSON_IsObject(j))
		return fail(e, where, "expected an object");
	if (depth > 8)
		return fail(e, where, "conditions nested too deep");
	if (all || any) {
		const cJSON *arr = all ? all : any, *k;

		if ((all && any) || m)
			return fail(e, where, "give one of \"all\", \"any\" or \"metric\"");
		if (!cJSON_IsArray(arr) || !cJSON_GetArraySize(arr))
			return fail(e, where, "\"%s\" must be a non-empty array", all ? "all" : "any");
		c->kind = all ? AP_COND_ALL : AP_COND_ANY;
		c->nr_kids = cJSON_GetArraySize(arr);
		c->kids = xcalloc(c->nr_kids, sizeof(*c->kids));
		i = 0;
		cJSON_ArrayForEach(k, arr)
		{
			snprintf(w, sizeof(w), "%s.%s[%zu]", where, all ? "all" : "any", i);
			if (!parse_cond(e, k, w, pt, &c->kids[i++], depth + 1))
				return false;
		}
		return true;
	}
	c->kind = AP_COND_METRIC;
	snprintf(w, sizeof(w), "%s.metric", where);
	if (!cJSON_IsString(m))
		return fail(e, w, "missing: a condition needs \"metric\", \"op\" and \"value\" (or \"all\"/\"any\")");
	if (!check_metric(e, w, pt, m->valuestring, &c->metric))
		return false;
	snprintf(w, sizeof(w), "%s.op", where);
	if (!cJSON_IsString(op))
		return fail(e, w, "missing operator");
	for (i = 0; i < AP_ARRAY_SIZE(op_names); i++)
		if (!strcmp(op->valuestring, op_names[i]))
			break;
	if (i == AP_ARRAY_SIZE(op_names))
		return fail(e, w, "unknown operator \"%s\" (>, >=, <, <=, ==, !=, in, not_in, matches, not_matches)",
			    op->valuestring);
	c->op = i;
	numeric = strcmp(ap_metrics[c->metric].unit, "text") != 0;
	snprintf(w, sizeof(w), "%s.value", where);
	if (!v)
		return fail(e, w, "missing");
	if (c->op == AP_OP_IN || c->op == AP_OP_NOT_IN) {
		const cJSON *k;

		if (numeric)
			return fail(e, w, "\"%s\" applies to text metrics", op_names[c->op]);
		if (!cJSON_IsArray(v) || !cJSON_GetArraySize(v))
			return fail(e, w, "\"%s\" needs a non-empty array of strings", op_names[c->op]);
		c->nr_list = cJSON_GetArraySize(v);
		c->list = xcalloc(c->nr_list, sizeof(*c->list));
		i = 0;
		cJSON_ArrayForEach(k, v)
		{
			if (!cJSON_IsString(k))
				return fail(e, w, "element %zu is not a string", i);
			c->list[i++] = xstrdup(k->valuestring);
		}
		return true;
	}
	if ((c->op == AP_OP_MATCHES || c->op == AP_OP_NOT_MATCHES) && numeric)
		return fail(e, w, "\"%s\" applies to text metrics", op_names[c->op]);
	if (!numeric) {
		if (c->op != AP_OP_EQ && c->op != AP_OP_NE && c->op != AP_OP_MATCHES &&
		    c->op != AP_OP_NOT_MATCHES)
			return fail(e, w, "text metric \"%s\" takes ==, !=, in, not_in, matches or not_matches",
				    ap_metric_name(c->metric));
		if (!cJSON_IsString(v))
			return fail(e, w, "expected a string for text metric \"%s\"",
				    ap_metric_name(c->metric));
		c->str = xstrdup(v->valuestring);
		return true;
	}
	if (cJSON_IsNumber(v)) {
		c->value = v->valuedouble;
		return true;
	}
	if (cJSON_IsObject(v)) {
		const cJSON *rm = cJSON_GetObjectItemCaseSensitive(v, "metric");
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(v, "times");
		char w2[300];

		snprintf(w2, sizeof(w2), "%s.metric", w);
		if (!cJSON_IsString(rm))
			return fail(e, w2, "missing: an object value is {\"metric\": NAME, \"times\": N}");
		if (!check_metric(e, w2, pt, rm->valuestring, &c->rhs_metric))
			return false;
		if (!strcmp(ap_metrics[c->rhs_metric].unit, "text"))
			return fail(e, w2, "\"%s\" is a text metric", rm->valuestring);
		if (t && !cJSON_IsNumber(t))
			return fail(e, w, "\"times\" must be a number");
		c->times = t ? t->valuedouble : 1;
		return true;
	}
	return fail(e, w, "expected a number for metric \"%s\"", ap_metric_name(c->metric));
}

static bool parse_rules(struct perr *e, const cJSON *arr, const char *where,
			struct ap_frame_rule **out, size_t *nr)
{
	const cJSON *r;
	char w[256];
	size_t i = 0;

	if (!cJSON_IsArray(arr) || !cJSON_GetArraySize(arr))
		return fail(e, where, "must be a non-empty array of {kind, module, function}");
	*nr = cJSON_GetArraySize(arr);
	*out = xcalloc(*nr, sizeof(**out));
	cJSON_ArrayForEach(r, arr)
	{
		struct ap_frame_rule *fr = &(*out)[i];
		const cJSON *k = cJSON_GetObjectItemCaseSensitive(r, "kind");
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(r, "module");
		const cJSON *f = cJSON_GetObjectItemCaseSensitive(r, "function");
		const cJSON *x;

		snprintf(w, sizeof(w), "%s[%zu]", where, i++);
		fr->kind = -1;
		if (!cJSON_IsObject(r))
			return fail(e, w, "expected an object");
		cJSON_ArrayForEach(x, r)
			if (strcmp(x->string, "kind") && strcmp(x->string, "module") &&
			    strcmp(x->string, "function"))
				return fail(e, w, "unknown field \"%s\" (kind, module, function)", x->string);
		if (!k && !m && !f)
			return fail(e, w, "a rule needs at least one of kind, module, function");
		if (k) {
			if (!cJSON_IsString(k))
				return fail(e, w, "\"kind\" must be python, native or kernel");
			if (!strcmp(k->valuestring, "python"))
				fr->kind = AP_FRAME_PYTHON;
			else if (!strcmp(k->valuestring, "native"))
				fr->kind = AP_FRAME_USER;
			else if (!strcmp(k->valuestring, "kernel"))
				fr->kind = AP_FRAME_KERNEL;
			else
				return fail(e, w, "\"kind\" must be python, native or kernel, not \"%s\"",
					    k->valuestring);
		}
		if (m && !cJSON_IsString(m))
			return fail(e, w, "\"module\" must be a glob string");
		if (f && !cJSON_IsString(f))
			return fail(e, w, "\"function\" must be a glob string");
		fr->module = m ? xstrdup(m->valuestring) : NULL;
		fr->function = f ? xstrdup(f->valuestring) : NULL;
	}
	return true;
}

static bool parse_frames(struct perr *e, const cJSON *j, struct ap_pattern *pt)
{
	const cJSON *x;

	if (!cJSON_IsObject(j))
		return fail(e, "frames", "expected an object {\"any\": [...], \"none\": [...], \"where\": ...}");
	cJSON_ArrayForEach(x, j)
		if (strcmp(x->string, "any") && strcmp(x->string, "none") && strcmp(x->string, "where"))
			return fail(e, "frames", "unknown field \"%s\" (any, none, where)", x->string);
	if (pt->scope != AP_SCOPE_RUN && pt->scope != AP_SCOPE_PROCESS && pt->scope != AP_SCOPE_THREAD)
		return fail(e, "frames", "only scopes run, process and thread take \"frames\"");
	pt->frames.present = true;
	x = cJSON_GetObjectItemCaseSensitive(j, "where");
	if (x) {
		if (!cJSON_IsString(x) ||
		    (strcmp(x->valuestring, "any") && strcmp(x->valuestring, "innermost_python")))
			return fail(e, "frames.where", "must be \"any\" or \"innermost_python\"");
		pt->frames.innermost_python = !strcmp(x->valuestring, "innermost_python");
	}
	if (!parse_rules(e, cJSON_GetObjectItemCaseSensitive(j, "any"), "frames.any", &pt->frames.any,
			 &pt->frames.nr_any))
		return false;
	x = cJSON_GetObjectItemCaseSensitive(j, "none");
	return !x || parse_rules(e, x, "frames.none", &pt->frames.none, &pt->frames.nr_none);
}

/* {name} or {name:.Nf}; names are metrics, "location" or "confidence" */
static bool check_template(struct perr *e, const char *where, struct ap_pattern *pt, const char *t)
{
	const char *p = t;

	while ((p = strchr(p, '{'))) {
		const char *end = strchr(p, '}'), *colon;
		char name[128];
		size_t n;
		int id;

		if (!end)
			return fail(e, where, "unclosed '{' at offset %zu", (size_t)(p - t));
		colon = memchr(p, ':', end - p);
		n = (colon ? colon : end) - p - 1;
		if (n >= sizeof(name) || !n)
			return fail(e, where, "bad placeholder at offset %zu", (size_t)(p - t));
		memcpy(name, p + 1, n);
		name[n] = 0;
		if (colon) {
			char *q;
			long prec;

			if (colon[1] != '.' || (prec = strtol(colon + 2, &q, 10)) < 0 || prec > 6 ||
			    q[0] != 'f' || q + 1 != end)
				return fail(e, where, "bad format in {%s%.*s}: use {name:.Nf}, N in 0..6",
					    name, (int)(end - colon), colon);
		}
		if (strcmp(name, "location") && strcmp(name, "confidence") &&
		    !check_metric(e, where, pt, name, &id))
			return false;
		p = end + 1;
	}
	return true;
}

static const char *str_field(const cJSON *j, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const char *const known_fields[] = {
	"id", "title", "description", "scope", "severity", "when", "min_samples", "samples_metric",
	"impact", "explanation", "suggestions", "verify", "dedup", "frames", "max_findings",
	"evidence",
};

/* default sample support of each scope */
static const char *const support_metric[AP_SCOPE__COUNT] = {
	[AP_SCOPE_RUN] = "run.samples",          [AP_SCOPE_PROCESS] = "process.samples",
	[AP_SCOPE_THREAD] = "thread.samples",    [AP_SCOPE_FUNCTION] = "function.total_samples",
	[AP_SCOPE_STACK] = "stack.samples",      [AP_SCOPE_MODULE] = "module.self_samples",
	[AP_SCOPE_SYSCALL] = "syscall.count",    [AP_SCOPE_PYCALL] = "pycall.entries",
};

static bool parse_pattern(struct perr *e, const cJSON *j, struct ap_pattern *pt)
{
	const cJSON *x, *sug;
	const char *s;
	size_t i;

	if (!cJSON_IsObject(j))
		return fail(e, "(top level)", "a pattern file holds one JSON object");
	cJSON_ArrayForEach(x, j)
	{
		for (i = 0; i < AP_ARRAY_SIZE(known_fields); i++)
			if (!strcmp(x->string, known_fields[i]))
				break;
		if (i == AP_ARRAY_SIZE(known_fields))
			return fail(e, x->string, "unknown field");
	}
	if (!(s = str_field(j, "id")) || !*s)
		return fail(e, "id", "missing or not a string");
	for (i = 0; s[i]; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return fail(e, "id", "\"%s\": use lower-case letters, digits and '_'", s);
	pt->id = xstrdup(s);
	if (!(s = str_field(j, "title")))
		return fail(e, "title", "missing or not a string");
	pt->title = xstrdup(s);
	s = str_field(j, "description");
	pt->description = s ? xstrdup(s) : NULL;
	if (!(s = str_field(j, "scope")))
		return fail(e, "scope", "missing or not a string");
	for (i = 0; i < AP_SCOPE_MATCH; i++)
		if (!strcmp(s, ap_scope_names[i]))
			break;
	if (i == AP_SCOPE_MATCH)
		return fail(e, "scope", "unknown scope \"%s\" (run, process, thread, function, stack, module, syscall, pycall)", s);
	pt->scope = i;
	if (!(s = str_field(j, "severity")))
		return fail(e, "severity", "missing or not a string");
	for (i = 0; i < 4; i++)
		if (!strcmp(s, ap_severity_names[i]))
			break;
	if (i == 4)
		return fail(e, "severity", "\"%s\": use info, low, medium or high", s);
	pt->severity = i;
	/* frames first: they decide whether match metrics may be named */
	x = cJSON_GetObjectItemCaseSensitive(j, "frames");
	if (x && !parse_frames(e, x, pt))
		return false;
	x = cJSON_GetObjectItemCaseSensitive(j, "when");
	if (!x)
		return fail(e, "when", "missing: the conditions, {\"all\": [...]} or {\"any\": [...]}");
	if (!parse_cond(e, x, "when", pt, &pt->when, 0))
		return false;
	x = cJSON_GetObjectItemCaseSensitive(j, "min_samples");
	pt->samples_metric = -1;
	if (x) {
		if (!cJSON_IsNumber(x) || x->valuedouble < 0)
			return fail(e, "min_samples", "must be a number >= 0");
		pt->min_samples = x->valuedouble;
		s = str_field(j, "samples_metric");
		if (!s)
			s = support_metric[pt->scope];
		if (!check_metric(e, "samples_metric", pt, s, &pt->samples_metric))
			return false;
	} else if (cJSON_GetObjectItemCaseSensitive(j, "samples_metric")) {
		return fail(e, "samples_metric", "given without min_samples");
	}
	/* optional: a problem that costs no time directly (memory) ranks by severity after those that do */
	pt->impact_metric = -1;
	x = cJSON_GetObjectItemCaseSensitive(j, "impact");
	if (x && !cJSON_IsString(x))
		return fail(e, "impact", "must be the name of a metric in seconds");
	if (x && !check_metric(e, "impact", pt, (s = x->valuestring), &pt->impact_metric))
		return false;
	if (x && strcmp(ap_metrics[pt->impact_metric].unit, "s"))
		return fail(e, "impact", "\"%s\" is in %s, not seconds", s, ap_metrics[pt->impact_metric].unit);
	if (!(s = str_field(j, "explanation")))
		return fail(e, "explanation", "missing or not a string");
	if (!check_template(e, "explanation", pt, s))
		return false;
	pt->explanation = xstrdup(s);
	sug = cJSON_GetObjectItemCaseSensitive(j, "suggestions");
	if (!cJSON_IsArray(sug) || !cJSON_GetArraySize(sug))
		return fail(e, "suggestions", "missing: a non-empty array of strings");
	pt->nr_suggestions = cJSON_GetArraySize(sug);
	pt->suggestions = xcalloc(pt->nr_suggestions, sizeof(char *));
	i = 0;
	cJSON_ArrayForEach(x, sug)
	{
		char w[64];

		snprintf(w, sizeof(w), "suggestions[%zu]", i);
		if (!cJSON_IsString(x))
			return fail(e, w, "not a string");
		if (!check_template(e, w, pt, x->valuestring))
			return false;
		pt->suggestions[i++] = xstrdup(x->valuestring);
	}
	if (!(s = str_field(j, "verify")))
		return fail(e, "verify", "missing: how to check that a change helped");
	if (!check_template(e, "verify", pt, s))
		return false;
	pt->verify = xstrdup(s);
	if ((x = cJSON_GetObjectItemCaseSensitive(j, "dedup"))) {
		if (!cJSON_IsString(x) || !check_template(e, "dedup", pt, x->valuestring))
			return fail(e, "dedup", "must be a template string");
		pt->dedup = xstrdup(x->valuestring);
	}
	/* optional: metrics the evidence shows beyond those the conditions and
	 * texts name (memory_growth's code, when the memory data is there) */
	if ((x = cJSON_GetObjectItemCaseSensitive(j, "evidence"))) {
		const cJSON *m;
		int id;

		if (!cJSON_IsArray(x))
			return fail(e, "evidence", "must be an array of metric names");
		cJSON_ArrayForEach(m, x)
		{
			if (!cJSON_IsString(m))
				return fail(e, "evidence", "must be an array of metric names");
			if (!check_metric(e, "evidence", pt, m->valuestring, &id))
				return false;
		}
	}
	pt->max_findings = 10;
	if ((x = cJSON_GetObjectItemCaseSensitive(j, "max_findings"))) {
		if (!cJSON_IsNumber(x) || x->valuedouble < 1 || x->valuedouble != floor(x->valuedouble))
			return fail(e, "max_findings", "must be an integer >= 1");
		pt->max_findings = x->valuedouble;
	}
	return true;
}

static void free_cond(struct ap_cond *c)
{
	size_t i;

	for (i = 0; i < c->nr_kids; i++)
		free_cond(&c->kids[i]);
	free(c->kids);
	for (i = 0; i < c->nr_list; i++)
		free(c->list[i]);
	free(c->list);
	free(c->str);
}

static void free_rules(struct ap_frame_rule *r, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(r[i].module), free(r[i].function);
	free(r);
}

static void free_pattern(struct ap_pattern *pt)
{
	size_t i;

	free(pt->id), free(pt->title), free(pt->file), free(pt->description);
	free_cond(&pt->when);
	free(pt->explanation), free(pt->verify), free(pt->dedup);
	for (i = 0; i < pt->nr_suggestions; i++)
		free(pt->suggestions[i]);
	free(pt->suggestions);
	free_rules(pt->frames.any, pt->frames.nr_any);
	free_rules(pt->frames.none, pt->frames.nr_none);
	free(pt->cited);
}

/* line and column of offset off in text */
static void line_col(const char *text, size_t off, int *line, int *col)
{
	size_t i;

	*line = 1, *col = 1;
	for (i = 0; i < off && text[i]; i++) {
		if (text[i] == '\n')
			(*line)++, *col = 1;
		else
			(*col)++;
	}
}

int ap_patterns__load_text(struct ap_analysis *an, const char *text, size_t len, const char *name,
			   char *err, size_t errlen)
{
	const char *end = NULL;
	cJSON *j = cJSON_ParseWithLengthOpts(text, len, &end, false);
	struct ap_pattern pt = { 0 };
	char buf[512];
	struct perr e = { buf, sizeof(buf), false };
	size_t i;

	if (j && end) { /* one value, then only white space */
		const char *q = end;

		while (q < text + len && (*q == ' ' || *q == '\n' || *q == '\t' || *q == '\r'))
			q++;
		if (q < text + len) {
			cJSON_Delete(j);
			j = NULL;
			end = q;
		}
	}
	if (!j) {
		int line, col;
		size_t off = end && end >= text ? (size_t)(end - text) : 0;

		line_col(text, off, &line, &col);
		snprintf(err, errlen, "%s:%d:%d: invalid JSON%s", name, line, col,
			 off >= len ? " (ended early)" : "");
		return -EINVAL;
	}
	if (!parse_pattern(&e, j, &pt)) {
		snprintf(err, errlen, "%s: %s%s%sfield %s", name, pt.id ? "pattern " : "",
			 pt.id ? pt.id : "", pt.id ? ", " : "", buf);
		free_pattern(&pt);
		cJSON_Delete(j);
		return -EINVAL;
	}
	cJSON_Delete(j);
	pt.file = xstrdup(name);
	for (i = 0; i < an->nr_pats; i++)
		if (!strcmp(an->pats[i].id, pt.id)) {
			if (!an->pats[i].builtin) {
				snprintf(err, errlen, "%s: pattern %s: id already defined in %s", name, pt.id,
					 an->pats[i].file);
				free_pattern(&pt);
				return -EINVAL;
			}
			ap_info("patterns: %s replaces the built-in pattern %s", name, pt.id);
			free_pattern(&an->pats[i]);
			an->pats[i] = pt;
			return 0;
		}
	an->pats = xrealloc(an->pats, (an->nr_pats + 1) * sizeof(*an->pats));
	an->pats[an->nr_pats++] = pt;
	return 0;
}

int ap_patterns__load_builtin(struct ap_analysis *an)
{
	char err[768];
	size_t i;
	int ret = 0;

	for (i = 0; i < ap_nr_builtin_patterns; i++) {
		const struct ap_builtin_pattern *b = &ap_builtin_patterns[i];

		if (ap_patterns__load_text(an, b->text, strlen(b->text), b->name, err, sizeof(err))) {
			ap_err("built-in %s", err);
			ret = -EINVAL;
			continue;
		}
		an->pats[an->nr_pats - 1].builtin = true;
	}
	return ret;
}

/* name in dfd (dir, as given, in messages): a symlink is followed only when
 * root or uid owns it, as on the output path (another user's link could
 * point at anything root may read), and only to a file (not to another
 * link). The text, or NULL with errno set: EPERM another user's link
 * (*link_uid its owner), else as read_file_at(). */
static char *read_pattern_file(int dfd, const char *dir, const char *name, unsigned uid,
			       size_t *len, unsigned *link_uid)
{
	char target[PATH_MAX], *path, *base, *text = NULL;
	struct ap_walk w;
	struct stat st;
	int lfd, fd, e;
	ssize_t n;

	/* the link held: its owner and its text are of one inode */
	lfd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (lfd < 0)
		return NULL;
	if (fstat(lfd, &st)) {
		e = errno;
		close(lfd);
		errno = e;
		return NULL;
	}
	if (!S_ISLNK(st.st_mode)) {
		close(lfd);
		/* replaced by a link meanwhile: ELOOP, refused */
		return read_file_at(dfd, name, O_NOFOLLOW, AP_PATTERN_MAX, len);
	}
	if (st.st_uid != 0 && st.st_uid != uid) {
		close(lfd);
		*link_uid = st.st_uid;
		errno = EPERM;
		return NULL;
	}
	n = readlinkat(lfd, "", target, sizeof(target) - 1);
	e = errno;
	close(lfd);
	if (n <= 0) {
		errno = n < 0 ? e : ENOENT;
		return NULL;
	}
	target[n] = 0;
	path = target[0] == '/' ? xstrdup(target) : xasprintf("%s/%s", dir, target);
	base = strrchr(path, '/');
	*base++ = 0;
	/* the link's directories under the same rule */
	fd = ap_dir_walk(*path ? path : "/", uid, false, &w);
	if (fd >= 0 && *w.rest) {
		close(fd);
		fd = -ENOENT;
	}
	if (fd == -EPERM)
		*link_uid = w.link_uid;
	if (fd >= 0) {
		text = read_file_at(fd, base, O_NOFOLLOW, AP_PATTERN_MAX, len);
		e = errno;
		close(fd);
	} else {
		e = -fd;
	}
	ap_walk_free(&w);
	free(path);
	errno = e;
	return text;
}

/* a --patterns directory as read: each *.json file's text, or why not */
struct pat_file {
	char *name, *text;
	size_t len;
	int err;                /* errno of the read */
	unsigned link_uid;      /* EPERM: the owner of the link refused */
};
struct pat_dir {
	char *dir;
	int err;                /* -errno: the directory itself */
	char *link;             /* -EPERM: the link refused, and its owner */
	unsigned link_uid;
	struct pat_file *files;
	size_t nr;
};
/* read before the target ran (ap_patterns__pin_dir) */
static struct pat_dir *pinned;

static void pat_dir_free(struct pat_dir *pd)
{
	size_t i;

	if (!pd)
		return;
	for (i = 0; i < pd->nr; i++) {
		free(pd->files[i].name);
		free(pd->files[i].text);
	}
	free(pd->files);
	free(pd->link);
	free(pd->dir);
	free(pd);
}

static struct pat_dir *pat_dir_read(const char *dir)
{
	struct pat_dir *pd = xcalloc(1, sizeof(*pd));
	unsigned uid, gid;
	struct ap_walk w;
	struct dirent *de;
	int dfd, tfd;
	size_t i;
	DIR *d = NULL;

	pd->dir = xstrdup(dir);
	/* as run's -o: no symlink another user could have planted (the
	 * invoking user's are followed) */
	ap_invoking_user(&uid, &gid);
	dfd = ap_dir_walk(dir, uid, false, &w);
	if (dfd >= 0 && *w.rest) {
		close(dfd);
		dfd = -ENOENT;
	}
	if (dfd >= 0) {
		tfd = fcntl(dfd, F_DUPFD_CLOEXEC, 0);
		d = tfd < 0 ? NULL : fdopendir(tfd);
		pd->err = d ? 0 : -errno;
		if (!d && tfd >= 0)
			close(tfd);
	} else {
		pd->err = dfd;
		if (dfd == -EPERM && w.link) {
			pd->link = xstrdup(w.link);
			pd->link_uid = w.link_uid;
		}
	}
	ap_walk_free(&w);
	if (!d) {
		if (dfd >= 0)
			close(dfd);
		return pd;
	}
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);

		if (n > 5 && !strcmp(de->d_name + n - 5, ".json") && de->d_name[0] != '.') {
			pd->files = xrealloc(pd->files, (pd->nr + 1) * sizeof(*pd->files));
			memset(&pd->files[pd->nr], 0, sizeof(*pd->files));
			pd->files[pd->nr++].name = xstrdup(de->d_name);
		}
	}
	closedir(d);
	for (i = 0; i < pd->nr; i++) {
		struct pat_file *f = &pd->files[i];

		/* regular files only, never blocking on a FIFO, at most 1 MiB */
		f->text = read_pattern_file(dfd, dir, f->name, uid, &f->len, &f->link_uid);
		f->err = f->text ? 0 : errno;
	}
	close(dfd);
	return pd;
}

static int pat_file_cmp(const void *a, const void *b)
{
	return strcmp(((const struct pat_file *)a)->name, ((const struct pat_file *)b)->name);
}

int ap_patterns__pin_dir(const char *dir)
{
	pat_dir_free(pinned);
	pinned = pat_dir_read(dir);
	return pinned->err;
}

void ap_patterns__unpin(void)
{
	pat_dir_free(pinned);
	pinned = NULL;
}

int ap_patterns__load_dir(struct ap_analysis *an, const char *dir)
{
	struct pat_dir *pd = pinned && !strcmp(pinned->dir, dir) ? pinned : pat_dir_read(dir);
	char err[768];
	int ret = 0;
	size_t i;

	if (pd->err) {
		if (pd->err == -EPERM && pd->link)
			ap_err("--patterns %s: %s is a symbolic link owned by uid %u, not by you or "
			       "root: refusing to follow it", dir, pd->link, pd->link_uid);
		else
			ap_err("--patterns %s: %s", dir, strerror(-pd->err));
		ret = pd->err;
		goto out;
	}
	if (!pd->nr)
		ap_warn("--patterns %s: no *.json files", dir);
	if (pd->nr) /* a fixed order: same input, same output */
		qsort(pd->files, pd->nr, sizeof(*pd->files), pat_file_cmp);
	for (i = 0; i < pd->nr; i++) {
		const struct pat_file *f = &pd->files[i];
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/%s", dir, f->name);
		if (!f->text && f->err == EPERM && f->link_uid) {
			ap_err("%s: cannot read: a symbolic link owned by uid %u (not you or root) "
			       "on its way: refusing to follow it", path, f->link_uid);
			ret = -EINVAL;
		} else if (!f->text) {
			ap_err("%s: cannot read: %s", path, ap_read_errstr(f->err, AP_PATTERN_MAX));
			ret = -EINVAL;
		} else if (ap_patterns__load_text(an, f->text, f->len, path, err, sizeof(err))) {
			ap_err("%s", err);
			ret = -EINVAL;
		}
	}
out:
	if (pd != pinned)
		pat_dir_free(pd);
	return ret;
}

void ap_patterns__free(struct ap_analysis *an)
{
	size_t i;

	for (i = 0; i < an->nr_pats; i++)
		free_pattern(&an->pats[i]);
	free(an->pats);
	an->pats = NULL;
	an->nr_pats = 0;
}

/* the length of a compiler suffix token at s ("lto_priv", "cold", a
 * number ...), after its dot; 0 if s does not start with one */
static size_t suffix_token(const char *s, bool *named)
{
	static const char *const words[] = { "lto_priv", "cold", "isra", "part", "constprop",
					     "llvm", "localalias", "clone" };
	size_t i, n;

	for (i = 0; i < AP_ARRAY_SIZE(words); i++) {
		n = strlen(words[i]);
		if (!strncmp(s, words[i], n) && (s[n] == '.' || !s[n])) {
			*named = true;
			return n;
		}
	}
	for (n = 0; s[n] >= '0' && s[n] <= '9'; n++)
		;
	/* clang's .llvm.<hash> is decimal; anything else ends the search */
	return (s[n] == '.' || !s[n]) ? n : 0;
}

size_t ap_symbol_base_len(const char *name)
{
	const char *dot;

	/* the first dot from which everything is suffix tokens, one of them named */
	for (dot = strchr(name, '.'); dot; dot = strchr(dot + 1, '.')) {
		const char *q = dot;
		bool named = false;
		size_t n;

		while (*q == '.' && (n = suffix_token(q + 1, &named)) > 0)
			q += 1 + n;
		if (!*q && named && dot > name)
			return dot - name;
	}
	return strlen(name);
}

bool ap_symbol_match(const char *glob, const char *name)
{
	char base[512];
	size_t n;

	if (!fnmatch(glob, name, 0))
		return true;
	n = ap_symbol_base_len(name);
	if (n == strlen(name) || n >= sizeof(base))
		return false; /* no suffix, or a name no rule spells out */
	memcpy(base, name, n);
	base[n] = 0;
	return !fnmatch(glob, base, 0);
}

bool ap_rule_match(const struct profile *p, const struct ap_frame_rule *r, uint32_t frame)
{
	const struct ap_frame *f = &p->frames[frame];
	const char *name = profile__s(p, f->name);

	if (r->kind >= 0 && (uint32_t)r->kind != f->kind)
		return false;
	if (r->module && fnmatch(r->module, f->module == AP_NONE ? "" :
				 profile__s(p, p->modules[f->module].path), 0))
		return false;
	if (!r->function)
		return true;
	/* Python qualified names have dots of their own: no suffixes there */
	return f->kind == AP_FRAME_PYTHON ? !fnmatch(r->function, name, 0) :
					    ap_symbol_match(r->function, name);
}

/* numbers as a reader wants them: integers plain, others to 1 or 2 decimals */
static void fmt_num(struct strbuf *sb, double v, int prec)
{
	if (isnan(v))
		sb_puts(sb, "n/a");
	else if (prec >= 0)
		sb_printf(sb, "%.*f", prec, v);
	else if (v == floor(v) && fabs(v) < 1e15)
		sb_printf(sb, "%.0f", v);
	else
		sb_printf(sb, fabs(v) >= 10 ? "%.1f" : "%.2f", v);
}

char *ap_template_render(const struct ap_analysis *an, const char *tpl, const struct ap_subject *s,
			 const struct ap_value *match, double confidence)
{
	struct strbuf sb = { 0 };
	const char *p = tpl, *q;

	while ((q = strchr(p, '{'))) {
		const char *end = strchr(q, '}'), *colon;
		char name[128];
		int prec = -1, id;
		size_t n;

		sb_append(&sb, p, q - p);
		if (!end)
			break; /* checked at load */
		colon = memchr(q, ':', end - q);
		n = (colon ? colon : end) - q - 1;
		snprintf(name, sizeof(name), "%.*s", (int)n, q + 1);
		if (colon)
			prec = atoi(colon + 2);
		if (!strcmp(name, "location")) {
			sb_puts(&sb, s->location);
		} else if (!strcmp(name, "confidence")) {
			fmt_num(&sb, confidence, 2);
		} else if ((id = ap_metric_find(name)) >= 0) {
			const struct ap_value *v = ap_analysis__value(an, s, match, id);

			if (!v)
				sb_puts(&sb, "n/a");
			else if (!strcmp(ap_metrics[id].unit, "text"))
				sb_puts(&sb, v->s ? v->s : "");
			else
				fmt_num(&sb, v->v, prec);
		}
		p = end + 1;
	}
	sb_puts(&sb, p);
	return sb.buf ? sb.buf : xstrdup("");
}
