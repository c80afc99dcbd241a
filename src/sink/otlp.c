// SPDX-License-Identifier: MIT
/* One window as one OTLP ExportProfilesServiceRequest (otlp.h says what it
 * holds). The messages are protobuf-c's, generated at build time from
 * proto/otlp; every message and array of the request comes from one arena
 * freed after packing, so the encoder has one cleanup and no per-message
 * frees. The frames of each stack are the mixed view's (ap_pics, as the
 * pprof writer uses), so OTLP and profile.pb.gz show the same stacks. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "artifact/input.h"
#include "hashmap.h"
#include "report/formats.h"
#include "sink/otlp.h"
#include "util.h"
#include "opentelemetry/proto/collector/profiles/v1development/profiles_service.pb-c.h"

typedef Opentelemetry__Proto__Collector__Profiles__V1development__ExportProfilesServiceRequest Req;
typedef Opentelemetry__Proto__Profiles__V1development__ProfilesDictionary Dict;
typedef Opentelemetry__Proto__Profiles__V1development__ResourceProfiles ResProf;
typedef Opentelemetry__Proto__Profiles__V1development__ScopeProfiles ScopeProf;
typedef Opentelemetry__Proto__Profiles__V1development__Profile Prof;
typedef Opentelemetry__Proto__Profiles__V1development__ValueType ValType;
typedef Opentelemetry__Proto__Profiles__V1development__Sample Sample;
typedef Opentelemetry__Proto__Profiles__V1development__Mapping Mapping;
typedef Opentelemetry__Proto__Profiles__V1development__Stack Stack;
typedef Opentelemetry__Proto__Profiles__V1development__Link Link;
typedef Opentelemetry__Proto__Profiles__V1development__Location Location;
typedef Opentelemetry__Proto__Profiles__V1development__Line Line;
typedef Opentelemetry__Proto__Profiles__V1development__Function Function;
typedef Opentelemetry__Proto__Profiles__V1development__KeyValueAndUnit KvUnit;
typedef Opentelemetry__Proto__Resource__V1__Resource Resource;
typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope Scope;
/* the request's functions: REQ(pack), REQ(get_packed_size) */
#define REQ(fn) opentelemetry__proto__collector__profiles__v1development__export_profiles_service_request__##fn
#define REQ_INIT OPENTELEMETRY__PROTO__COLLECTOR__PROFILES__V1DEVELOPMENT__EXPORT_PROFILES_SERVICE_REQUEST__INIT

#define ARENA_CHUNK 65536

struct chunk {
	struct chunk *next;
	size_t used, cap;
	max_align_t data[];
};

/* a growing table of pointers (a repeated message field) */
#define TABLE(type) struct { type **v; size_t n, cap; }
#define TABLE_ADD(t, item) \
	(GROW((t).v, (t).cap, (t).n + 1), (t).v[(t).n] = (item), (int32_t)(t).n++)

struct enc {
	struct chunk *chunks;
	const struct profile *p;
	const struct ap_pics *x;
	TABLE(char) strs;
	struct hmap str_ids;
	TABLE(Function) fns;
	struct hmap fn_ids;          /* (name, file) string ids -> function index */
	TABLE(Mapping) maps;
	int32_t *map_of_module;      /* module -> mapping index, 0 none yet */
	TABLE(Location) locs;
	int32_t *loc_of_frame;       /* frame -> location index, 0 none yet */
	TABLE(Stack) stacks;
	int32_t *stack_of;           /* profile stack -> stack index, -1 none yet */
	TABLE(KvUnit) attrs;
	struct hmap attr_ids;        /* (key, kind, value) -> attribute index */
	int32_t frame_type[AP_FRAME__COUNT]; /* profile.frame.type attribute per kind */
	TABLE(ResProf) res;
};

static void *arena_alloc(struct enc *e, size_t n)
{
	struct chunk *c = e->chunks;
	void *ret;

	n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
	if (!c || c->cap - c->used < n) {
		size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;

		c = xmalloc(sizeof(*c) + cap);
		c->next = e->chunks;
		c->used = 0;
		c->cap = cap;
		e->chunks = c;
	}
	ret = (char *)c->data + c->used;
	c->used += n;
	memset(ret, 0, n);
	return ret;
}


/* s as protobuf's string type requires it, strict UTF-8: an executable's
 * path, a thread's name (cut by the kernel at 15 bytes, maybe inside a
 * character) or a symbol can be any bytes, and one invalid string makes
 * a receiver built on the Go protobuf runtime reject the whole request.
 * Invalid bytes become '_' in a copy in the arena. */
static const char *utf8(struct enc *e, const char *s)
{
	size_t n;
	char *c;

	if (ap_utf8_valid(s))
		return s;
	n = strlen(s);
	c = arena_alloc(e, n + 1);
	ap_utf8_clean(c, n + 1, s, n, false);
	return c;
}

/* the string's index; s must outlive the encoding (the profile's, the
 * view's labels, literals or the arena's) */
static int32_t str_id(struct enc *e, const char *s)
{
	bool is_new;
	uint64_t *id;

	s = utf8(e, s);
	id = hmap_upsert(&e->str_ids, s, strlen(s), e->strs.n, &is_new);

	if (is_new)
		TABLE_ADD(e->strs, (char *)s);
	return (int32_t)*id;
}

static AnyValue *any_str(struct enc *e, const char *s)
{
	AnyValue *v = arena_alloc(e, sizeof(*v));

	opentelemetry__proto__common__v1__any_value__init(v);
	v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
	v->string_value = (char *)utf8(e, s);
	return v;
}

static AnyValue *any_int(struct enc *e, int64_t n)
{
	AnyValue *v = arena_alloc(e, sizeof(*v));

	opentelemetry__proto__common__v1__any_value__init(v);
	v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
	v->int_value = n;
	return v;
}

/* a dictionary attribute: a string (s) or an integer (s NULL) */
static int32_t attr_id(struct enc *e, const char *key, const char *s, int64_t n)
{
	struct { int32_t key; int32_t is_str; int64_t val; } k = {
		.key = str_id(e, key), .is_str = !!s, .val = s ? str_id(e, s) : n,
	};
	bool is_new;
	uint64_t *id = hmap_upsert(&e->attr_ids, &k, sizeof(k), e->attrs.n, &is_new);

	if (is_new) {
		KvUnit *a = arena_alloc(e, sizeof(*a));

		opentelemetry__proto__profiles__v1development__key_value_and_unit__init(a);
		a->key_strindex = k.key;
		a->value = s ? any_str(e, s) : any_int(e, n);
		TABLE_ADD(e->attrs, a);
	}
	return (int32_t)*id;
}

static int32_t function_id(struct enc *e, const char *name, const char *file)
{
	int32_t key[2] = { str_id(e, name), str_id(e, file) };
	bool is_new;
	uint64_t *id = hmap_upsert(&e->fn_ids, key, sizeof(key), e->fns.n, &is_new);

	if (is_new) {
		Function *f = arena_alloc(e, sizeof(*f));

		opentelemetry__proto__profiles__v1development__function__init(f);
		f->name_strindex = key[0];
		f->filename_strindex = key[1];
		TABLE_ADD(e->fns, f);
	}
	return (int32_t)*id;
}

/* one mapping per native file: addresses are file virtual addresses (as in
 * profile.pb.gz), so no load range is claimed */
static int32_t mapping_id(struct enc *e, uint32_t mod)
{
	const struct ap_module *m = &e->p->modules[mod];
	const char *bid = profile__s(e->p, m->build_id);
	Mapping *mp;

	if (e->map_of_module[mod])
		return e->map_of_module[mod];
	mp = arena_alloc(e, sizeof(*mp));
	opentelemetry__proto__profiles__v1development__mapping__init(mp);
	mp->filename_strindex = str_id(e, profile__s(e->p, m->path));
	if (*bid) {
		mp->attribute_indices = arena_alloc(e, sizeof(int32_t));
		mp->attribute_indices[0] = attr_id(e, "process.executable.build_id.gnu", bid, 0);
		mp->n_attribute_indices = 1;
	}
	e->map_of_module[mod] = TABLE_ADD(e->maps, mp);
	return e->map_of_module[mod];
}

static int32_t location_id(struct enc *e, uint32_t frame)
{
	const struct profile *p = e->p;
	const struct ap_frame *f = &p->frames[frame];
	const char *file = f->module != AP_NONE ? profile__s(p, p->modules[f->module].path) : "";
	const char *name = f->kind == AP_FRAME_PYTHON ? profile__s(p, f->name) : e->x->labels[frame];
	Location *l;
	Line *ln;

	if (e->loc_of_frame[frame])
		return e->loc_of_frame[frame];
	l = arena_alloc(e, sizeof(*l));
	ln = arena_alloc(e, sizeof(*ln));
	opentelemetry__proto__profiles__v1development__location__init(l);
	opentelemetry__proto__profiles__v1development__line__init(ln);
	/* No address: frames are named here, and ap_frame.addr is the
	 * symbol's start (an unnamed frame has none), which tells a consumer
	 * nothing the name does not, while a host's worth of them was 15% of
	 * a gzip'ed request (README "OTLP profiles") */
	if (f->kind != AP_FRAME_PYTHON && f->module != AP_NONE)
		l->mapping_index = mapping_id(e, f->module);
	if (f->kind == AP_FRAME_PYTHON)
		ln->line = f->line;
	ln->function_index = function_id(e, name, file);
	l->lines = arena_alloc(e, sizeof(*l->lines));
	l->lines[0] = ln;
	l->n_lines = 1;
	l->attribute_indices = arena_alloc(e, sizeof(int32_t));
	l->attribute_indices[0] = e->frame_type[f->kind < AP_FRAME__COUNT ? f->kind : AP_FRAME_USER];
	l->n_attribute_indices = 1;
	e->loc_of_frame[frame] = TABLE_ADD(e->locs, l);
	return e->loc_of_frame[frame];
}

/* the view's frames of a profile stack, leaf first; an empty view is
 * stack 0 (the empty stack) */
static int32_t stack_id(struct enc *e, uint32_t stack)
{
	uint32_t n, i;
	const uint32_t *fr;
	Stack *s;

	if (stack >= e->p->nr_stacks)
		return 0;
	if (e->stack_of[stack] >= 0)
		return e->stack_of[stack];
	fr = ap_pics_stack(e->x, stack, &n);
	if (!n)
		return e->stack_of[stack] = 0;
	s = arena_alloc(e, sizeof(*s));
	opentelemetry__proto__profiles__v1development__stack__init(s);
	s->location_indices = arena_alloc(e, n * sizeof(int32_t));
	s->n_location_indices = n;
	for (i = 0; i < n; i++)
		s->location_indices[i] = location_id(e, fr[n - 1 - i]);
	e->stack_of[stack] = TABLE_ADD(e->stacks, s);
	return e->stack_of[stack];
}

static ValType *value_type(struct enc *e, const char *type, const char *unit)
{
	ValType *v = arena_alloc(e, sizeof(*v));

	opentelemetry__proto__profiles__v1development__value_type__init(v);
	v->type_strindex = str_id(e, type);
	v->unit_strindex = str_id(e, unit);
	return v;
}

static Sample *sample(struct enc *e, uint32_t pid, uint32_t tid, uint32_t stack,
		      const char *reason, uint64_t value)
{
	const struct ap_thread *t = profile__find_thread(e->p, pid, tid);
	const char *comm = t ? profile__thread_name(e->p, t) : ""; /* Python's name if known */
	Sample *s = arena_alloc(e, sizeof(*s));

	opentelemetry__proto__profiles__v1development__sample__init(s);
	s->stack_index = stack_id(e, stack);
	s->attribute_indices = arena_alloc(e, 3 * sizeof(int32_t));
	s->attribute_indices[s->n_attribute_indices++] = attr_id(e, "thread.id", NULL, tid);
	if (*comm)
		s->attribute_indices[s->n_attribute_indices++] = attr_id(e, "thread.name", comm, 0);
	if (reason)
		s->attribute_indices[s->n_attribute_indices++] =
			attr_id(e, "autoprof.offcpu.reason", reason, 0);
	s->values = arena_alloc(e, sizeof(int64_t));
	s->values[0] = value > INT64_MAX ? INT64_MAX : (int64_t)value;
	s->n_values = 1;
	return s;
}

static Prof *profile_msg(struct enc *e, const struct ap_window_info *wi, size_t nsamples)
{
	Prof *pr = arena_alloc(e, sizeof(*pr));

	opentelemetry__proto__profiles__v1development__profile__init(pr);
	pr->time_unix_nano = wi->start_real_ns;
	pr->duration_nano = wi->end_real_ns > wi->start_real_ns ? wi->end_real_ns - wi->start_real_ns
		: wi->end_mono_ns - wi->start_mono_ns;
	pr->samples = arena_alloc(e, (nsamples + 1) * sizeof(*pr->samples));
	return pr;
}

static void kv(struct enc *e, Resource *r, const char *key, AnyValue *v)
{
	KeyValue *a = arena_alloc(e, sizeof(*a));

	opentelemetry__proto__common__v1__key_value__init(a);
	a->key = (char *)key;
	a->value = v;
	r->attributes[r->n_attributes++] = a;
}

#define RES_ATTRS_MAX 6

/* the process's resource (otlp.h) */
static Resource *resource(struct enc *e, uint32_t pid, const char *host)
{
	const struct profile *p = e->p;
	const struct ap_process *pr = profile__find_process(p, pid);
	const char *exe = pr ? profile__s(p, pr->exe) : "", *svc = pr ? profile__s(p, pr->service) : "";
	const char *name = strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe;
	const char *ctr = pr ? profile__s(p, pr->container_id) : "";
	Resource *r = arena_alloc(e, sizeof(*r));
	char *buf;

	if (!*name && pr)
		name = profile__s(p, pr->comm);
	opentelemetry__proto__resource__v1__resource__init(r);
	r->attributes = arena_alloc(e, RES_ATTRS_MAX * sizeof(*r->attributes));
	if (!*svc) {
		buf = arena_alloc(e, strlen(name) + sizeof("unknown_service:"));
		strcpy(buf, "unknown_service:");
		strcat(buf, name);
		svc = buf;
	}
	kv(e, r, "service.name", any_str(e, svc));
	kv(e, r, "process.pid", any_int(e, pid));
	if (*exe)
		kv(e, r, "process.executable.path", any_str(e, exe));
	if (*name)
		kv(e, r, "process.executable.name", any_str(e, name));
	if (*ctr)
		kv(e, r, "container.id", any_str(e, ctr));
	if (host && *host)
		kv(e, r, "host.name", any_str(e, host));
	return r;
}

/* rows ordered by (pid, tid, stack), so that a process's rows are together
 * and a thread's rows of one stack (split by flags) are neighbours */
static int cmp_count(const void *a, const void *b, void *ctx)
{
	const struct profile *p = ctx;
	const struct ap_count *x = &p->counts[*(const uint32_t *)a], *y = &p->counts[*(const uint32_t *)b];

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if (x->tid != y->tid)
		return x->tid < y->tid ? -1 : 1;
	return x->stack < y->stack ? -1 : x->stack > y->stack;
}

static int cmp_off(const void *a, const void *b, void *ctx)
{
	const struct profile *p = ctx;
	const struct ap_off_row *x = &p->off[*(const uint32_t *)a], *y = &p->off[*(const uint32_t *)b];

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if (x->tid != y->tid)
		return x->tid < y->tid ? -1 : 1;
	return x->stack < y->stack ? -1 : x->stack > y->stack;
}

/* memory rows by (pid, kind, tid, stack): a process's rows of one kind are
 * one profile */
static int cmp_mem(const void *a, const void *b, void *ctx)
{
	const struct profile *p = ctx;
	const struct ap_mem_row *x = &p->mem[*(const uint32_t *)a], *y = &p->mem[*(const uint32_t *)b];

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	if (x->tid != y->tid)
		return x->tid < y->tid ? -1 : 1;
	return x->stack < y->stack ? -1 : x->stack > y->stack;
}

/* the sample type of a memory kind's profile (pprof's names, as
 * profile.pb.gz), NULL for the kinds not sent (mapping calls) */
static const char *mem_type(const struct profile *p, uint32_t kind)
{
	switch (kind) {
	case AP_MEM_FAULT:
		return "memory";
	case AP_MEM_ALLOC:
		return p->has_malloc ? "alloc_space" : NULL;
	case AP_MEM_LIVE:
		return p->has_malloc ? "inuse_space" : NULL;
	}
	return NULL;
}

static uint32_t *sorted_rows(size_t n, int (*cmp)(const void *, const void *, void *),
			     const struct profile *p)
{
	uint32_t *ix = xcalloc(n + 1, sizeof(*ix));
	size_t i;

	for (i = 0; i < n; i++)
		ix[i] = i;
	qsort_r(ix, n, sizeof(*ix), cmp, (void *)p);
	return ix;
}

/* the resource profiles of every process with rows, in pid order */
static void processes(struct enc *e, const struct ap_window_info *wi, const char *host)
{
	const struct profile *p = e->p;
	size_t nc = p->nr_counts, no = p->has_offcpu ? p->nr_off : 0, ic = 0, io = 0;
	size_t nm = p->has_memory ? p->nr_mem : 0, im = 0;
	uint32_t *cs = sorted_rows(nc, cmp_count, p), *os = sorted_rows(no, cmp_off, p);
	uint32_t *ms = sorted_rows(nm, cmp_mem, p);
	int64_t period = p->frequency_hz ? 1000000000ll / p->frequency_hz : 0;
	Scope *scope = arena_alloc(e, sizeof(*scope));

	opentelemetry__proto__common__v1__instrumentation_scope__init(scope);
	scope->name = (char *)AP_OTLP_SCOPE;
	scope->version = (char *)AP_VERSION;
	while (ic < nc || io < no || im < nm) {
		uint32_t pid = ic < nc ? p->counts[cs[ic]].pid : UINT32_MAX;
		size_t ec = ic, eo = io, em = im;
		ResProf *rp = arena_alloc(e, sizeof(*rp));
		ScopeProf *sp = arena_alloc(e, sizeof(*sp));
		Prof *pr;

		if (io < no && p->off[os[io]].pid < pid)
			pid = p->off[os[io]].pid;
		if (im < nm && p->mem[ms[im]].pid < pid)
			pid = p->mem[ms[im]].pid;
		while (ec < nc && p->counts[cs[ec]].pid == pid)
			ec++;
		while (eo < no && p->off[os[eo]].pid == pid)
			eo++;
		while (em < nm && p->mem[ms[em]].pid == pid)
			em++;
		opentelemetry__proto__profiles__v1development__resource_profiles__init(rp);
		opentelemetry__proto__profiles__v1development__scope_profiles__init(sp);
		rp->resource = resource(e, pid, host);
		rp->scope_profiles = arena_alloc(e, sizeof(*rp->scope_profiles));
		rp->scope_profiles[rp->n_scope_profiles++] = sp;
		sp->scope = scope;
		sp->profiles = arena_alloc(e, (2 + AP_MEM__COUNT) * sizeof(*sp->profiles));
		if (ec > ic) {
			pr = profile_msg(e, wi, ec - ic);
			pr->sample_type = value_type(e, "samples", "count");
			pr->period_type = value_type(e, "cpu", "nanoseconds");
			pr->period = period;
			while (ic < ec) { /* rows of one (tid, stack) merged */
				const struct ap_count *c = &p->counts[cs[ic]];
				uint64_t n = 0;

				for (; ic < ec && p->counts[cs[ic]].tid == c->tid &&
				       p->counts[cs[ic]].stack == c->stack; ic++)
					n += p->counts[cs[ic]].count;
				pr->samples[pr->n_samples++] = sample(e, pid, c->tid, c->stack, NULL, n);
			}
			sp->profiles[sp->n_profiles++] = pr;
		}
		if (eo > io) {
			pr = profile_msg(e, wi, eo - io);
			pr->sample_type = value_type(e, "off_cpu", "nanoseconds");
			for (; io < eo; io++) {
				const struct ap_off_row *r = &p->off[os[io]];

				pr->samples[pr->n_samples++] =
					sample(e, pid, r->tid, r->stack,
					       r->reason < AP_OFF__COUNT ? ap_off_reason_names[r->reason] : "other",
					       r->ns);
			}
			sp->profiles[sp->n_profiles++] = pr;
		}
		while (im < em) { /* one profile per memory kind, in kind order */
			uint32_t kind = p->mem[ms[im]].kind;
			const char *type = mem_type(p, kind);
			size_t ek = im;

			while (ek < em && p->mem[ms[ek]].kind == kind)
				ek++;
			pr = NULL;
			for (; im < ek; im++) {
				const struct ap_mem_row *r = &p->mem[ms[im]];

				if (!type || !r->bytes)
					continue;
				if (!pr) {
					pr = profile_msg(e, wi, ek - im);
					pr->sample_type = value_type(e, type, "bytes");
					sp->profiles[sp->n_profiles++] = pr;
				}
				pr->samples[pr->n_samples++] = sample(e, pid, r->tid, r->stack, NULL, r->bytes);
			}
		}
		if (sp->n_profiles)
			TABLE_ADD(e->res, rp);
	}
	free(cs);
	free(os);
	free(ms);
}

int otlp__encode_window(const struct profile *win, const struct ap_window_info *wi,
			const char *host_name, uint8_t **out, size_t *len)
{
	static const char *const frame_types[AP_FRAME__COUNT] = {
		[AP_FRAME_USER] = "native", [AP_FRAME_KERNEL] = "kernel", [AP_FRAME_PYTHON] = "cpython",
	};
	struct ap_input in = { .nr_cpus = wi ? wi->nr_cpus : 0, .target = (char *)"agent" };
	Req req = REQ_INIT;
	Dict dict = OPENTELEMETRY__PROTO__PROFILES__V1DEVELOPMENT__PROFILES_DICTIONARY__INIT;
	Link link0, *link0p = &link0;
	struct ap_pics x;
	struct enc e = { 0 };
	size_t i;

	if (!win || !wi || !out || !len)
		return -EINVAL;
	in.prof = *win;
	in.wall_s = (wi->end_mono_ns - wi->start_mono_ns) / 1e9;
	ap_pics_init(&x, &in, AP_VIEW_MIXED, -1);
	e.p = &in.prof;
	e.x = &x;
	e.map_of_module = xcalloc(win->nr_modules + 1, sizeof(int32_t));
	e.loc_of_frame = xcalloc(win->nr_frames + 1, sizeof(int32_t));
	e.stack_of = xmalloc((win->nr_stacks + 1) * sizeof(int32_t));
	for (i = 0; i <= win->nr_stacks; i++)
		e.stack_of[i] = -1;
	/* row 0 of every table: the empty value */
	str_id(&e, "");
	TABLE_ADD(e.fns, arena_alloc(&e, sizeof(Function)));
	opentelemetry__proto__profiles__v1development__function__init(e.fns.v[0]);
	TABLE_ADD(e.maps, arena_alloc(&e, sizeof(Mapping)));
	opentelemetry__proto__profiles__v1development__mapping__init(e.maps.v[0]);
	TABLE_ADD(e.locs, arena_alloc(&e, sizeof(Location)));
	opentelemetry__proto__profiles__v1development__location__init(e.locs.v[0]);
	TABLE_ADD(e.stacks, arena_alloc(&e, sizeof(Stack)));
	opentelemetry__proto__profiles__v1development__stack__init(e.stacks.v[0]);
	TABLE_ADD(e.attrs, arena_alloc(&e, sizeof(KvUnit)));
	opentelemetry__proto__profiles__v1development__key_value_and_unit__init(e.attrs.v[0]);
	{ /* the zero function's key, so that ("", "") is row 0 */
		int32_t key[2] = { 0, 0 };

		hmap_put(&e.fn_ids, key, sizeof(key), 0);
	}
	for (i = 0; i < AP_FRAME__COUNT; i++)
		e.frame_type[i] = attr_id(&e, "profile.frame.type", frame_types[i], 0);

	processes(&e, wi, host_name);

	dict.string_table = e.strs.v, dict.n_string_table = e.strs.n;
	dict.function_table = e.fns.v, dict.n_function_table = e.fns.n;
	dict.mapping_table = e.maps.v, dict.n_mapping_table = e.maps.n;
	dict.location_table = e.locs.v, dict.n_location_table = e.locs.n;
	dict.stack_table = e.stacks.v, dict.n_stack_table = e.stacks.n;
	dict.attribute_table = e.attrs.v, dict.n_attribute_table = e.attrs.n;
	/* the link table: only its zero row, which must be there */
	opentelemetry__proto__profiles__v1development__link__init(&link0);
	dict.link_table = &link0p, dict.n_link_table = 1;
	req.resource_profiles = e.res.v, req.n_resource_profiles = e.res.n;
	req.dictionary = &dict;
	*len = REQ(get_packed_size)(&req);
	*out = xmalloc(*len + 1);
	REQ(pack)(&req, *out);

	while (e.chunks) {
		struct chunk *c = e.chunks;

		e.chunks = c->next;
		free(c);
	}
	free(e.strs.v), free(e.fns.v), free(e.maps.v), free(e.locs.v), free(e.stacks.v);
	free(e.attrs.v), free(e.res.v);
	hmap_free(&e.str_ids), hmap_free(&e.fn_ids), hmap_free(&e.attr_ids);
	free(e.map_of_module), free(e.loc_of_frame), free(e.stack_of);
	ap_pics_free(&x);
	return 0;
}
