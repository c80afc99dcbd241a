// SPDX-License-Identifier: MIT
/* profile.pb.gz: the run as a pprof profile (gzip-compressed
 * perftools.profiles.Profile, field numbers as published; docs/profile.proto
 * is the project's copy of them, which the tests decode with protoc).
 *
 * Sample types: samples/count and cpu/nanoseconds for on-CPU samples,
 * off_cpu/nanoseconds for scheduler-measured off-CPU time (when the
 * collector ran); memory/bytes, alloc_space/bytes and inuse_space/bytes
 * for the memory rows (memory_columns). Labels: pid, tid, thread, process, and reason on off-CPU
 * samples; the process's labels under OpenTelemetry names (process_labels). One location per frame of the view, one function per (name,
 * file), one mapping per native file with its build id. The encoder is the
 * protobuf wire format's three cases used here (varint, length-delimited,
 * packed varints): no protobuf runtime for ~80 lines. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "analyze/analyze.h"
#include "hashmap.h"
#include "report/formats.h"

enum { WT_VARINT = 0, WT_LEN = 2 };

static void pb_varint(struct strbuf *b, uint64_t v)
{
	char tmp[10];
	size_t n = 0;

	do {
		tmp[n++] = (char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v);
	sb_append(b, tmp, n);
}

static void pb_key(struct strbuf *b, unsigned field, unsigned wt)
{
	pb_varint(b, (uint64_t)field << 3 | wt);
}

/* an integer field; zero is the default and is left out */
static void pb_int(struct strbuf *b, unsigned field, uint64_t v)
{
	if (!v)
		return;
	pb_key(b, field, WT_VARINT);
	pb_varint(b, v);
}

static void pb_bytes(struct strbuf *b, unsigned field, const void *data, size_t len)
{
	pb_key(b, field, WT_LEN);
	pb_varint(b, len);
	sb_append(b, data, len);
}

/* a sub-message in sub, appended and reset */
static void pb_msg(struct strbuf *b, unsigned field, struct strbuf *sub)
{
	pb_bytes(b, field, sub->buf ? sub->buf : "", sub->len);
	sub->len = 0;
}

/* packed repeated varints */
static void pb_packed(struct strbuf *b, unsigned field, const uint64_t *v, size_t n,
		      struct strbuf *tmp)
{
	size_t i;

	tmp->len = 0;
	for (i = 0; i < n; i++)
		pb_varint(tmp, v[i]);
	pb_msg(b, field, tmp);
}

struct pprof {
	struct strbuf out, sub, sub2;
	struct strbuf strtab;       /* field 6 entries, in order */
	struct hmap strs;
	uint64_t nr_strs;
	struct hmap funcs;          /* (name id, file id) -> function id */
	uint64_t nr_funcs;
	uint64_t *loc_of_frame;     /* frame -> location id, 0 none yet */
	uint64_t *map_of_module;    /* module -> mapping id, 0 none yet */
	uint64_t nr_locs, nr_maps;
	struct strbuf locs, maps, fns; /* the encoded tables */
	uint64_t *ids;
	size_t cap_ids;
};

static uint64_t str_id(struct pprof *pp, const char *s)
{
	bool is_new;
	uint64_t *id = hmap_upsert(&pp->strs, s, strlen(s), pp->nr_strs, &is_new);

	if (is_new) {
		pb_bytes(&pp->strtab, 6, s, strlen(s));
		pp->nr_strs++;
	}
	return *id;
}

static void value_type(struct pprof *pp, unsigned field, const char *type, const char *unit)
{
	pb_int(&pp->sub, 1, str_id(pp, type));
	pb_int(&pp->sub, 2, str_id(pp, unit));
	pb_msg(&pp->out, field, &pp->sub);
}

static uint64_t mapping_of(struct pprof *pp, const struct profile *p, uint32_t mod)
{
	const struct ap_module *m = &p->modules[mod];

	if (pp->map_of_module[mod])
		return pp->map_of_module[mod];
	pp->map_of_module[mod] = ++pp->nr_maps;
	pb_int(&pp->sub, 1, pp->nr_maps);
	/* addresses are file virtual addresses: no load range is claimed */
	pb_int(&pp->sub, 5, str_id(pp, profile__s(p, m->path)));
	pb_int(&pp->sub, 6, str_id(pp, profile__s(p, m->build_id)));
	pb_int(&pp->sub, 7, 1); /* has_functions */
	pb_msg(&pp->maps, 3, &pp->sub);
	return pp->nr_maps;
}

static bool kept(const struct ap_pics *x, uint32_t pid)
{
	return !x->keep_pid || x->keep_pid(x->keep_ctx, pid);
}

/* pprof takes the first mapping for the main binary: the busiest process's */
static void main_mapping_first(struct pprof *pp, const struct ap_pics *x)
{
	const struct profile *p = x->p;
	const struct ap_process *best = NULL;
	size_t i;

	for (i = 0; i < p->nr_procs; i++)
		if (kept(x, p->procs[i].pid) && (!best || p->procs[i].samples > best->samples))
			best = &p->procs[i];
	for (i = 0; best && i < p->nr_modules; i++)
		if (p->modules[i].path == best->exe && best->exe) {
			mapping_of(pp, p, i);
			return;
		}
}

static uint64_t function_of(struct pprof *pp, const char *name, const char *file)
{
	uint64_t key[2] = { str_id(pp, name), str_id(pp, file) };
	bool is_new;
	uint64_t *id = hmap_upsert(&pp->funcs, key, sizeof(key), pp->nr_funcs + 1, &is_new);

	if (is_new) {
		pp->nr_funcs++;
		pb_int(&pp->sub, 1, *id);
		/* no system_name: pprof then takes the name as final (it
		 * "demangles" names equal to it, dropping "<module>" as a C++
		 * template argument list); ours are demangled already */
		pb_int(&pp->sub, 2, key[0]);
		pb_int(&pp->sub, 4, key[1]);
		pb_msg(&pp->fns, 5, &pp->sub);
	}
	return *id;
}

static uint64_t location_of(struct pprof *pp, const struct ap_pics *x, uint32_t frame)
{
	const struct profile *p = x->p;
	const struct ap_frame *f = &p->frames[frame];
	const char *file = f->module != AP_NONE ? profile__s(p, p->modules[f->module].path) : "";
	const char *name = f->kind == AP_FRAME_PYTHON ? profile__s(p, f->name) : x->labels[frame];
	uint64_t fn, map = 0;

	if (pp->loc_of_frame[frame])
		return pp->loc_of_frame[frame];
	if (f->kind != AP_FRAME_PYTHON && f->module != AP_NONE)
		map = mapping_of(pp, p, f->module);
	fn = function_of(pp, name, file);
	pp->loc_of_frame[frame] = ++pp->nr_locs;
	pb_int(&pp->sub, 1, pp->nr_locs);
	pb_int(&pp->sub, 2, map);
	if (f->kind != AP_FRAME_PYTHON)
		pb_int(&pp->sub, 3, f->addr);
	pb_int(&pp->sub2, 1, fn);
	pb_int(&pp->sub2, 2, f->kind == AP_FRAME_PYTHON ? f->line : 0);
	pb_msg(&pp->sub, 4, &pp->sub2);
	pb_msg(&pp->locs, 4, &pp->sub);
	return pp->nr_locs;
}

static void label(struct pprof *pp, struct strbuf *b, const char *key, const char *str, uint64_t num)
{
	pb_int(&pp->sub2, 1, str_id(pp, key));
	if (str)
		pb_int(&pp->sub2, 2, str_id(pp, str));
	else
		pb_int(&pp->sub2, 3, num);
	pb_msg(b, 3, &pp->sub2);
}

/* a string label, left out when empty */
static void label_str(struct pprof *pp, struct strbuf *b, const char *key, const char *str)
{
	if (str && *str)
		label(pp, b, key, str, 0);
}

/* The process's labels (process/labels.h), under OpenTelemetry semantic
 * convention names. The runtime "CPython 3.12" is split into name and
 * version. */
static void process_labels(struct pprof *pp, struct strbuf *b, const struct profile *p,
			   const struct ap_process *pr)
{
	const char *rt = profile__s(p, pr->runtime), *sp = strchr(rt, ' ');
	char name[64];

	label_str(pp, b, "process.executable.path", profile__s(p, pr->exe));
	label_str(pp, b, "process.executable.build_id.gnu", profile__s(p, pr->build_id));
	label_str(pp, b, "process.linux.cgroup", profile__s(p, pr->cgroup));
	label_str(pp, b, "container.id", profile__s(p, pr->container_id));
	label_str(pp, b, "service.name", profile__s(p, pr->service));
	if (sp && (size_t)(sp - rt) < sizeof(name)) {
		snprintf(name, sizeof(name), "%.*s", (int)(sp - rt), rt);
		label_str(pp, b, "process.runtime.name", name);
		label_str(pp, b, "process.runtime.version", sp + 1);
	} else {
		label_str(pp, b, "process.runtime.name", rt);
	}
}

/* one Sample: the stack leaf first, its values and the thread's labels */
static void sample(struct pprof *pp, const struct ap_pics *x, uint32_t pid, uint32_t tid,
		   uint32_t stack, const uint64_t *vals, size_t nvals, const char *reason)
{
	const struct profile *p = x->p;
	const struct ap_process *pr = profile__find_process(p, pid);
	const struct ap_thread *t = profile__find_thread(p, pid, tid);
	struct strbuf s = { 0 };
	char task[128];
	uint32_t n, i;
	const uint32_t *fr = ap_pics_stack(x, stack, &n);

	GROW(pp->ids, pp->cap_ids, n + 1);
	for (i = 0; i < n; i++)
		pp->ids[i] = location_of(pp, x, fr[n - 1 - i]);
	pb_packed(&s, 1, pp->ids, n, &pp->sub);
	pb_packed(&s, 2, vals, nvals, &pp->sub);
	label(pp, &s, "pid", NULL, pid);
	label(pp, &s, "tid", NULL, tid);
	if (x->num_labels) {
		pb_msg(&pp->out, 2, &s);
		sb_free(&s);
		return;
	}
	if (t)
		label(pp, &s, "thread", profile__thread_name(p, t), 0);
	if (profile__stack_task(p, stack, task, sizeof(task))) /* asyncio, 3.14+ */
		label(pp, &s, "task", task, 0);
	if (pr) {
		label(pp, &s, "process", profile__s(p, pr->comm), 0);
		process_labels(pp, &s, p, pr);
	}
	if (reason)
		label(pp, &s, "reason", reason, 0);
	pb_msg(&pp->out, 2, &s);
	sb_free(&s);
}

int ap_gzip_buf(const struct strbuf *in, struct strbuf *out)
{
	z_stream z = { 0 };
	size_t cap = in->len / 2 + 1024;
	int ret;

	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	z.next_in = (Bytef *)in->buf;
	z.avail_in = in->len;
	do {
		GROW(out->buf, out->cap, out->len + cap);
		z.next_out = (Bytef *)out->buf + out->len;
		z.avail_out = out->cap - out->len;
		ret = deflate(&z, Z_FINISH);
		out->len = out->cap - z.avail_out;
	} while (ret == Z_OK || ret == Z_BUF_ERROR);
	deflateEnd(&z);
	return ret == Z_STREAM_END ? 0 : -EIO;
}

/* The memory sample types after the CPU ones (when the memory collector
 * ran): memory/bytes for page faults (resident memory first touched,
 * sampled), and with --malloc pprof's heap names alloc_space/bytes
 * (allocated) and inuse_space/bytes (sampled allocations live at the end).
 * Mapping calls have no column: address space mapped is not memory used.
 * col[kind]: the kind's value index, or -1; the number of values */
static size_t memory_columns(struct pprof *pp, const struct profile *p, size_t nv, int *col)
{
	int k;

	for (k = 0; k < AP_MEM__COUNT; k++)
		col[k] = -1;
	if (!p->has_memory)
		return nv;
	value_type(pp, 1, "memory", "bytes");
	col[AP_MEM_FAULT] = nv++;
	if (p->has_malloc) {
		value_type(pp, 1, "alloc_space", "bytes");
		col[AP_MEM_ALLOC] = nv++;
		value_type(pp, 1, "inuse_space", "bytes");
		col[AP_MEM_LIVE] = nv++;
	}
	return nv;
}

int pprof_render(const struct ap_pics *x, struct strbuf *gz)
{
	const struct profile *p = x->p;
	uint64_t period = p->frequency_hz ? 1000000000ull / p->frequency_hz : 0, v[6] = { 0 };
	size_t nv = p->has_offcpu ? 3 : 2, i;
	/* memory: each kind's value column, or -1 (memory_columns) */
	int mcol[AP_MEM__COUNT];
	struct pprof pp = { 0 };
	int err;

	pp.loc_of_frame = xcalloc(p->nr_frames + 1, sizeof(uint64_t));
	pp.map_of_module = xcalloc(p->nr_modules + 1, sizeof(uint64_t));
	str_id(&pp, "");
	main_mapping_first(&pp, x);
	value_type(&pp, 1, "samples", "count");
	value_type(&pp, 1, "cpu", "nanoseconds");
	if (p->has_offcpu)
		value_type(&pp, 1, "off_cpu", "nanoseconds");
	nv = memory_columns(&pp, p, nv, mcol);
	for (i = 0; i < p->nr_counts; i++) {
		const struct ap_count *c = &p->counts[i];

		if (!kept(x, c->pid))
			continue;
		v[0] = c->count;
		v[1] = c->count * period;
		sample(&pp, x, c->pid, c->tid, c->stack, v, nv, NULL);
	}
	for (i = 0; p->has_offcpu && i < p->nr_off; i++) {
		const struct ap_off_row *r = &p->off[i];

		if (!kept(x, r->pid))
			continue;
		v[0] = v[1] = 0;
		v[2] = r->ns;
		sample(&pp, x, r->pid, r->tid, r->stack, v, nv, ap_off_reason_names[r->reason]);
	}
	memset(v, 0, sizeof(v));
	for (i = 0; p->has_memory && i < p->nr_mem; i++) {
		const struct ap_mem_row *r = &p->mem[i];

		if (r->kind >= AP_MEM__COUNT || mcol[r->kind] < 0 || !r->bytes || !kept(x, r->pid))
			continue;
		v[mcol[r->kind]] = r->bytes;
		sample(&pp, x, r->pid, r->tid, r->stack, v, nv, NULL);
		v[mcol[r->kind]] = 0;
	}
	sb_append(&pp.out, pp.maps.buf ? pp.maps.buf : "", pp.maps.len);
	sb_append(&pp.out, pp.locs.buf ? pp.locs.buf : "", pp.locs.len);
	sb_append(&pp.out, pp.fns.buf ? pp.fns.buf : "", pp.fns.len);
	pb_int(&pp.out, 10, (uint64_t)(x->in->wall_s * 1e9));
	value_type(&pp, 11, "cpu", "nanoseconds");
	pb_int(&pp.out, 12, period);
	pb_int(&pp.out, 13, str_id(&pp, "autoprof-bpf " AP_VERSION));
	pb_int(&pp.out, 14, str_id(&pp, "cpu"));
	/* the string table last: every index above is in it */
	sb_append(&pp.out, pp.strtab.buf ? pp.strtab.buf : "", pp.strtab.len);
	err = ap_gzip_buf(&pp.out, gz);
	sb_free(&pp.out), sb_free(&pp.sub), sb_free(&pp.sub2), sb_free(&pp.strtab);
	sb_free(&pp.locs), sb_free(&pp.maps), sb_free(&pp.fns);
	hmap_free(&pp.strs);
	hmap_free(&pp.funcs);
	free(pp.loc_of_frame);
	free(pp.map_of_module);
	free(pp.ids);
	return err;
}
