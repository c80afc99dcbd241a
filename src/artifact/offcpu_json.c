// SPDX-License-Identifier: MIT
/* artifacts/offcpu.json (autoprof.offcpu/1.1): per-thread wall-clock
 * accounting and off-CPU time per stack and reason; artifacts/syscalls.json
 * (autoprof.syscalls/1.1): per-process syscall statistics and slow calls
 * (aggregated per process, syscall and stack since 1.1).
 * Field reference: docs/ARTIFACTS.md. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "artifact/artifact.h"
#include "log.h"
#include "util.h"

uint64_t profile__thread_wall_ns(const struct ap_thread *t)
{
	return t->end_ns > t->start_ns ? t->end_ns - t->start_ns : 0;
}

/* the asyncio tasks suspended at the attach, each with its await chain
 * (the task's coroutine first) */
static void add_async_tasks(cJSON *root, const struct profile *p)
{
	cJSON *arr = cJSON_AddArrayToObject(root, "asyncio_tasks"), *o, *ch, *f;
	size_t i;
	uint32_t j;

	for (i = 0; i < p->nr_atasks; i++) {
		const struct ap_async_task *t = &p->atasks[i];

		cJSON_AddItemToArray(arr, o = cJSON_CreateObject());
		cJSON_AddNumberToObject(o, "pid", t->pid);
		cJSON_AddNumberToObject(o, "tid", t->tid);
		cJSON_AddStringToObject(o, "name", t->name);
		cJSON_AddStringToObject(o, "waits", t->waits);
		ch = cJSON_AddArrayToObject(o, "chain");
		for (j = 0; j < t->nr_chain; j++) {
			cJSON_AddItemToArray(ch, f = cJSON_CreateObject());
			cJSON_AddStringToObject(f, "function", t->chain[j].func);
			cJSON_AddStringToObject(f, "file", t->chain[j].file);
			cJSON_AddNumberToObject(f, "line", t->chain[j].line);
		}
		cJSON_AddBoolToObject(o, "chain_cut", t->cut);
	}
}

static void load_async_tasks(struct profile *p, const cJSON *arr)
{
	struct ap_async_frame fr[64];
	const cJSON *o, *f;

#define STR(o, k) cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k))
	p->has_atasks = true;
	cJSON_ArrayForEach(o, arr) {
		struct ap_async_task t = {
			.pid = json_u64(o, "pid"), .tid = json_u64(o, "tid"),
			.name = STR(o, "name"),
			.waits = STR(o, "waits"),
			.cut = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "chain_cut")),
			.chain = fr,
		};

		cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(o, "chain")) {
			if (t.nr_chain == AP_ARRAY_SIZE(fr)) {
				t.cut = true;
				break;
			}
			fr[t.nr_chain++] = (struct ap_async_frame){ STR(f, "function"), STR(f, "file"),
								    (uint32_t)json_u64(f, "line") };
		}
		profile__add_async_task(p, &t);
	}
#undef STR
}

cJSON *offcpu_json__build(const struct profile *p)
{
	cJSON *root = cJSON_CreateObject(), *arr, *o, *r;
	uint64_t by_reason[AP_OFF__COUNT] = { 0 };
	size_t i;
	int k;

	cJSON_AddStringToObject(root, "schema", AP_SCHEMA_OFFCPU);
	cJSON_AddNumberToObject(root, "duration_s", p->duration_s);
	cJSON_AddNumberToObject(root, "min_block_us", p->min_block_ns / 1000.0);
	arr = cJSON_AddArrayToObject(root, "reasons");
	for (k = 0; k < AP_OFF__COUNT; k++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(ap_off_reason_names[k]));
	json_add_tables(root, p);

	arr = cJSON_AddArrayToObject(root, "threads");
	for (i = 0; i < p->nr_threads; i++) {
		const struct ap_thread *t = &p->threads[i];
		uint64_t off = 0;

		if (!t->accounted)
			continue;
		cJSON_AddItemToArray(arr, o = cJSON_CreateObject());
		cJSON_AddNumberToObject(o, "pid", t->pid);
		cJSON_AddNumberToObject(o, "tid", t->tid);
		cJSON_AddStringToObject(o, "comm", profile__s(p, t->comm));
		cJSON_AddStringToObject(o, "python_name", profile__s(p, t->pyname));
		cJSON_AddNumberToObject(o, "start_s", t->start_ns > p->start_mono_ns ?
					(t->start_ns - p->start_mono_ns) / 1e9 : 0);
		cJSON_AddNumberToObject(o, "wall_ns", profile__thread_wall_ns(t));
		cJSON_AddNumberToObject(o, "oncpu_ns", t->oncpu_ns);
		r = cJSON_AddObjectToObject(o, "off_ns");
		for (k = 0; k < AP_OFF__COUNT; k++) {
			off += t->off_ns[k];
			by_reason[k] += t->off_ns[k];
			if (t->off_ns[k])
				cJSON_AddNumberToObject(r, ap_off_reason_names[k], t->off_ns[k]);
		}
		cJSON_AddNumberToObject(o, "offcpu_ns", off);
		cJSON_AddNumberToObject(o, "voluntary_switches", t->nr_vol);
		cJSON_AddNumberToObject(o, "involuntary_switches", t->nr_invol);
	}

	arr = cJSON_AddArrayToObject(root, "offcpu");
	for (i = 0; i < p->nr_off; i++) {
		const struct ap_off_row *row = &p->off[i];

		cJSON_AddItemToArray(arr, o = cJSON_CreateObject());
		cJSON_AddNumberToObject(o, "pid", row->pid);
		cJSON_AddNumberToObject(o, "tid", row->tid);
		cJSON_AddNumberToObject(o, "stack", row->stack);
		cJSON_AddStringToObject(o, "reason", ap_off_reason_names[row->reason]);
		cJSON_AddNumberToObject(o, "ns", row->ns);
		cJSON_AddNumberToObject(o, "count", row->count);
	}
	o = cJSON_AddObjectToObject(root, "totals_ns");
	for (k = 0; k < AP_OFF__COUNT; k++)
		cJSON_AddNumberToObject(o, ap_off_reason_names[k], by_reason[k]);
	if (p->has_takers) {
		arr = cJSON_AddArrayToObject(root, "cpu_takers");
		for (i = 0; i < p->nr_takers; i++) {
			const struct ap_taker *t = &p->takers[i];

			cJSON_AddItemToArray(arr, o = cJSON_CreateObject());
			cJSON_AddNumberToObject(o, "pid", t->pid);
			cJSON_AddNumberToObject(o, "taker_pid", t->taker);
			cJSON_AddStringToObject(o, "taker_comm", t->comm);
			cJSON_AddBoolToObject(o, "followed", t->followed);
			if (t->kthread)
				cJSON_AddBoolToObject(o, "taker_kernel", true);
			cJSON_AddNumberToObject(o, "ns", t->ns);
			cJSON_AddNumberToObject(o, "count", t->count);
		}
		cJSON_AddNumberToObject(root, "cpu_takers_dropped", (double)p->takers_dropped);
	}
	if (p->has_atasks)
		add_async_tasks(root, p);
	if (p->interval_min_ns)
		json_add_intervals(root, p);
	return root;
}

int offcpu_json__write(const struct profile *p, int dirfd)
{
	return json_write_artifact(dirfd, "offcpu.json", offcpu_json__build(p));
}

static int by_total(const void *a, const void *b)
{
	const struct ap_sys_row *x = *(const struct ap_sys_row *const *)a;
	const struct ap_sys_row *y = *(const struct ap_sys_row *const *)b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if (x->total_ns != y->total_ns)
		return x->total_ns < y->total_ns ? 1 : -1;
	return x->nr != y->nr ? (x->nr < y->nr ? -1 : 1) : (int)x->fd_kind - (int)y->fd_kind;
}

static void syscall_label(uint32_t nr, char *buf, size_t len)
{
	const char *name = ap_syscall_name(nr);

	if (name)
		snprintf(buf, len, "%s", name);
	else
		snprintf(buf, len, "syscall_%u", nr);
}

static cJSON *stack_labels(const struct profile *p, uint32_t stack)
{
	cJSON *arr = cJSON_CreateArray();
	uint32_t *vf = xcalloc(p->stacks[stack].len + 1, sizeof(*vf));
	uint32_t n = profile__view(p, &p->stacks[stack], AP_VIEW_MIXED, vf), j;
	char buf[512];

	for (j = 0; j < n; j++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(profile__frame_label(p, vf[j], true, buf,
										    sizeof(buf))));
	free(vf);
	return arr;
}

/* the whole stack, root first, each frame self-contained (the loader's input) */
static cJSON *stack_frames(const struct profile *p, uint32_t stack)
{
	const struct ap_stack *st = &p->stacks[stack];
	cJSON *arr = cJSON_CreateArray(), *o;
	uint32_t j;

	for (j = 0; j < st->len; j++) {
		const struct ap_frame *f = &p->frames[p->stack_frames[st->off + j]];

		cJSON_AddItemToArray(arr, o = cJSON_CreateObject());
		cJSON_AddStringToObject(o, "kind", ap_frame_kind_names[f->kind]);
		cJSON_AddStringToObject(o, "name", profile__s(p, f->name));
		cJSON_AddStringToObject(o, "module", f->module == AP_NONE ? "" :
					profile__s(p, p->modules[f->module].path));
		if (f->kind == AP_FRAME_PYTHON)
			cJSON_AddNumberToObject(o, "line", f->line);
		else
			cJSON_AddNumberToObject(o, "addr", (double)f->addr);
	}
	return arr;
}

/* one slow call: its thread, start, duration and result */
static void slow_example_fields(cJSON *o, const struct profile *p, const struct ap_slow_example *ex)
{
	cJSON_AddNumberToObject(o, "tid", ex->tid);
	cJSON_AddNumberToObject(o, "start_s", ex->start_ns > p->start_mono_ns ?
				(ex->start_ns - p->start_mono_ns) / 1e9 : 0);
	cJSON_AddNumberToObject(o, "duration_us", ex->dur_ns / 1e3);
	cJSON_AddNumberToObject(o, "ret", (double)ex->ret);
	if (ex->ret < 0 && ex->ret >= -4095 && strerrorname_np(-ex->ret))
		cJSON_AddStringToObject(o, "errno", strerrorname_np(-ex->ret));
}

cJSON *syscalls_json__build(const struct profile *p)
{
	cJSON *root = cJSON_CreateObject(), *procs, *arr = NULL, *o, *e, *h;
	const struct ap_sys_row **rows = xcalloc(p->nr_sys + 1, sizeof(*rows));
	uint32_t cur = UINT32_MAX;
	char name[64];
	size_t i, j;
	int b, last;

	cJSON_AddStringToObject(root, "schema", AP_SCHEMA_SYSCALLS);
	cJSON_AddNumberToObject(root, "duration_s", p->duration_s);
	cJSON_AddNumberToObject(root, "slow_threshold_ms", p->slow_ns / 1e6);
	for (i = 0; i < p->nr_sys; i++)
		rows[i] = &p->sys[i];
	if (p->nr_sys)
		qsort(rows, p->nr_sys, sizeof(*rows), by_total);
	procs = cJSON_AddArrayToObject(root, "processes");
	for (i = 0; i < p->nr_sys; i++) {
		const struct ap_sys_row *r = rows[i];

		if (r->pid != cur) {
			const struct ap_process *pr = profile__find_process(p, r->pid);

			cur = r->pid;
			cJSON_AddItemToArray(procs, o = cJSON_CreateObject());
			cJSON_AddNumberToObject(o, "pid", r->pid);
			cJSON_AddStringToObject(o, "comm", pr ? profile__s(p, pr->comm) : "");
			arr = cJSON_AddArrayToObject(o, "syscalls");
		}
		cJSON_AddItemToArray(arr, o = cJSON_CreateObject());
		syscall_label(r->nr, name, sizeof(name));
		cJSON_AddStringToObject(o, "name", name);
		cJSON_AddNumberToObject(o, "nr", r->nr);
		if (r->fd_kind != AP_FD_NONE && r->fd_kind < AP_FD__COUNT)
			cJSON_AddStringToObject(o, "fd_kind", ap_fd_kind_names[r->fd_kind]);
		cJSON_AddNumberToObject(o, "count", r->count);
		cJSON_AddNumberToObject(o, "errors", r->errors);
		e = cJSON_AddObjectToObject(o, "errnos");
		for (j = 0; j < p->nr_sys_errs; j++) {
			const struct ap_sys_err *se = &p->sys_errs[j];
			const char *en = strerrorname_np(se->err);
			char eb[16];

			if (se->pid != r->pid || se->nr != r->nr)
				continue;
			snprintf(eb, sizeof(eb), "%u", se->err);
			cJSON_AddNumberToObject(e, en ? en : eb, se->count);
		}
		cJSON_AddNumberToObject(o, "total_us", r->total_ns / 1e3);
		cJSON_AddNumberToObject(o, "mean_us", r->count ? r->total_ns / 1e3 / r->count : 0);
		cJSON_AddNumberToObject(o, "max_us", r->max_ns / 1e3);
		cJSON_AddNumberToObject(o, "bytes", r->bytes);
		/* bucket i holds calls under 2^i us (bucket 0: under 1 us) */
		for (last = AP_SYS_HIST - 1; last > 0 && !r->hist[last]; last--)
			;
		h = cJSON_AddArrayToObject(o, "hist_log2_us");
		for (b = 0; b <= last; b++)
			cJSON_AddItemToArray(h, cJSON_CreateNumber(r->hist[b]));
	}
	free(rows);

	cJSON_AddNumberToObject(root, "slow_calls_dropped", (double)p->slow_dropped);
	arr = cJSON_AddArrayToObject(root, "slow_calls");
	for (i = 0; i < p->nr_slow; i++) {
		const struct ap_slow_call *sc = &p->slow[i];

		cJSON_AddItemToArray(arr, o = cJSON_CreateObject());
		cJSON_AddNumberToObject(o, "pid", sc->pid);
		syscall_label(sc->nr, name, sizeof(name));
		cJSON_AddStringToObject(o, "syscall", name);
		/* the slowest call's fields, as in 1.0 (one row per call) */
		if (sc->nr_examples)
			slow_example_fields(o, p, &sc->ex[0]);
		cJSON_AddNumberToObject(o, "count", (double)sc->count);
		cJSON_AddNumberToObject(o, "errors", (double)sc->errors);
		cJSON_AddNumberToObject(o, "total_us", sc->total_ns / 1e3);
		cJSON_AddNumberToObject(o, "max_us", sc->max_ns / 1e3);
		e = cJSON_AddArrayToObject(o, "examples");
		for (j = 0; j < sc->nr_examples; j++) {
			cJSON_AddItemToArray(e, h = cJSON_CreateObject());
			slow_example_fields(h, p, &sc->ex[j]);
		}
		cJSON_AddItemToObject(o, "stack", stack_labels(p, sc->stack));
		cJSON_AddItemToObject(o, "frames", stack_frames(p, sc->stack));
	}
	return root;
}

int syscalls_json__write(const struct profile *p, int dirfd)
{
	return json_write_artifact(dirfd, "syscalls.json", syscalls_json__build(p));
}

/* ---- loaders ---- */

static int name_index(const char *name, const char *const *names, int n)
{
	int i;

	for (i = 0; name && i < n; i++)
		if (names[i] && !strcmp(name, names[i]))
			return i;
	return -1;
}

static uint64_t num_ns(const cJSON *o, const char *key, double scale)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(it) && it->valuedouble > 0 ? (uint64_t)(it->valuedouble * scale + 0.5) : 0;
}

static int offcpu_load_root(struct profile *p, cJSON *root, const char *path)
{
	const char *what = "file";
	struct json_tables t;
	const cJSON *o, *r;
	uint32_t stack;
	int err, k;

	p->has_offcpu = true;
	p->min_block_ns = num_ns(root, "min_block_us", 1e3);
	if (!p->duration_s)
		p->duration_s = num_ns(root, "duration_s", 1e9) / 1e9;
	err = json_load_tables(p, root, &t, &what);
	if (err)
		goto out;
	what = "threads";
	cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(root, "threads")) {
		const char *comm = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "comm"));
		struct ap_thread *th = profile__thread(p, json_u64(o, "pid"), json_u64(o, "tid"), comm);
		const char *pyname =
			cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "python_name"));

		if (pyname && *pyname) /* absent in older run directories */
			th->pyname = profile__str(p, pyname);
		th->accounted = true;
		th->start_ns = num_ns(o, "start_s", 1e9);
		th->end_ns = th->start_ns + json_u64(o, "wall_ns");
		th->oncpu_ns = json_u64(o, "oncpu_ns");
		th->nr_vol = json_u64(o, "voluntary_switches");
		th->nr_invol = json_u64(o, "involuntary_switches");
		r = cJSON_GetObjectItemCaseSensitive(o, "off_ns");
		for (k = 0; k < AP_OFF__COUNT; k++)
			th->off_ns[k] = json_u64(r, ap_off_reason_names[k]);
	}
	what = "offcpu";
	cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(root, "offcpu")) {
		k = name_index(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "reason")),
			       ap_off_reason_names, AP_OFF__COUNT);
		if (k < 0 || json_get_index(o, "stack", t.nr_stack, false, &stack)) {
			err = -EINVAL;
			goto out;
		}
		profile__add_off(p, json_u64(o, "pid"), json_u64(o, "tid"), t.stack[stack], k,
				 json_u64(o, "ns"), json_u64(o, "count"));
	}
	what = "cpu_takers";
	r = cJSON_GetObjectItemCaseSensitive(root, "cpu_takers");
	if (r) {
		p->has_takers = true;
		p->takers_dropped += json_u64(root, "cpu_takers_dropped");
	}
	cJSON_ArrayForEach(o, r) {
		const char *comm = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "taker_comm"));
		struct ap_taker tk = { .pid = json_u64(o, "pid"), .taker = json_u64(o, "taker_pid"),
				       .followed = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "followed")),
				       .kthread = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "taker_kernel")),
				       .ns = json_u64(o, "ns"), .count = json_u64(o, "count") };

		snprintf(tk.comm, sizeof(tk.comm), "%s", comm ? comm : "");
		profile__add_taker(p, &tk);
	}
	r = cJSON_GetObjectItemCaseSensitive(root, "asyncio_tasks");
	if (cJSON_IsArray(r))
		load_async_tasks(p, r);
	what = "intervals";
	{
		const cJSON *rs = cJSON_GetObjectItemCaseSensitive(root, "reasons");
		size_t nr = 0;
		int map[64];

		cJSON_ArrayForEach(o, rs) {
			if (nr == 64)
				break;
			map[nr++] = name_index(cJSON_GetStringValue(o), ap_off_reason_names, AP_OFF__COUNT);
		}
		if (!rs) /* no table: this version's order */
			for (nr = 0; nr < AP_OFF__COUNT; nr++)
				map[nr] = nr;
		err = json_load_intervals(p, cJSON_GetObjectItemCaseSensitive(root, "intervals"), &t,
					  map, nr);
	}
out:
	if (err)
		ap_err("%s: malformed %s table", path, what);
	json_tables_free(&t);
	cJSON_Delete(root);
	return err;
}

int offcpu_json__load_buf(struct profile *p, const char *text, size_t len, const char *name)
{
	cJSON *root = json_parse_checked(text, len, name, AP_SCHEMA_OFFCPU);

	return root ? offcpu_load_root(p, root, name) : -errno;
}

int offcpu_json__load(struct profile *p, const char *path)
{
	cJSON *root = json_load_checked(path, AP_SCHEMA_OFFCPU);

	return root ? offcpu_load_root(p, root, path) : -errno;
}

/* a slow call's stack from its self-contained frames */
static int load_frames(struct profile *p, const cJSON *arr, uint32_t *stack)
{
	const cJSON *o;
	uint32_t *fr = NULL, n = 0;
	size_t cap = 0;

	cJSON_ArrayForEach(o, arr) {
		const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "name"));
		const char *mod = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "module"));
		int k = name_index(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "kind")),
				   ap_frame_kind_names, AP_FRAME__COUNT);
		uint32_t m;

		if (k < 0 || !name || !mod) {
			free(fr);
			return -EINVAL;
		}
		m = *mod ? profile__module(p, mod, "") : AP_NONE;
		GROW(fr, cap, n + 1);
		fr[n++] = k == AP_FRAME_PYTHON ? profile__py_frame(p, name, m, json_u64(o, "line")) :
			profile__frame(p, k, name, m, json_u64(o, "addr"));
	}
	*stack = profile__stack(p, fr, n);
	free(fr);
	return 0;
}

static void load_slow_example(const cJSON *o, struct ap_slow_example *ex)
{
	const cJSON *ret = cJSON_GetObjectItemCaseSensitive(o, "ret");

	ex->tid = json_u64(o, "tid");
	ex->ret = cJSON_IsNumber(ret) ? (int64_t)ret->valuedouble : 0;
	ex->start_ns = num_ns(o, "start_s", 1e9);
	ex->dur_ns = num_ns(o, "duration_us", 1e3);
}

static int syscalls_load_root(struct profile *p, cJSON *root, const char *path)
{
	const char *what = "processes";
	const cJSON *pr, *o, *e, *h;
	int err = 0, b, n;

	p->has_syscalls = true;
	p->slow_ns = num_ns(root, "slow_threshold_ms", 1e6);
	if (!p->duration_s)
		p->duration_s = num_ns(root, "duration_s", 1e9) / 1e9;
	cJSON_ArrayForEach(pr, cJSON_GetObjectItemCaseSensitive(root, "processes")) {
		uint32_t pid = json_u64(pr, "pid");
		const char *comm = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(pr, "comm"));
		struct ap_process *proc = profile__process(p, pid);

		if (comm && !*profile__s(p, proc->comm))
			proc->comm = profile__str(p, comm);

		cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(pr, "syscalls")) {
			struct ap_sys_row row = { .pid = pid, .nr = json_u64(o, "nr") };
			const char *fk = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "fd_kind"));

			n = fk ? name_index(fk, ap_fd_kind_names, AP_FD__COUNT) : AP_FD_NONE;
			if (n < 0) {
				err = -EINVAL;
				goto out;
			}
			row.fd_kind = n;
			row.count = json_u64(o, "count");
			row.errors = json_u64(o, "errors");
			row.total_ns = num_ns(o, "total_us", 1e3);
			row.max_ns = num_ns(o, "max_us", 1e3);
			row.bytes = json_u64(o, "bytes");
			b = 0;
			h = cJSON_GetObjectItemCaseSensitive(o, "hist_log2_us");
			cJSON_ArrayForEach(e, h)
				if (b < AP_SYS_HIST)
					row.hist[b++] = cJSON_IsNumber(e) && e->valuedouble > 0 ? e->valuedouble : 0;
			GROW(p->sys, p->cap_sys, p->nr_sys + 1);
			p->sys[p->nr_sys++] = row;
			cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(o, "errnos")) {
				int en;

				for (en = 1; en < 4096; en++)
					if (strerrorname_np(en) && e->string && !strcmp(strerrorname_np(en), e->string))
						break;
				if (en == 4096)
					en = e->string ? atoi(e->string) : 0;
				GROW(p->sys_errs, p->cap_sys_errs, p->nr_sys_errs + 1);
				p->sys_errs[p->nr_sys_errs++] = (struct ap_sys_err){
					pid, row.nr, en, cJSON_IsNumber(e) && e->valuedouble > 0 ? e->valuedouble : 0 };
			}
		}
	}
	what = "slow_calls";
	p->slow_dropped += json_u64(root, "slow_calls_dropped");
	cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(root, "slow_calls")) {
		const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "syscall"));
		const cJSON *exs = cJSON_GetObjectItemCaseSensitive(o, "examples");
		struct ap_slow_call sc = { .pid = json_u64(o, "pid") };

		for (n = 0; n < 1024 && !(ap_syscall_name(n) && name && !strcmp(ap_syscall_name(n), name)); n++)
			;
		if (!name || load_frames(p, cJSON_GetObjectItemCaseSensitive(o, "frames"), &sc.stack)) {
			err = -EINVAL;
			goto out;
		}
		sc.nr = n < 1024 ? (uint32_t)n : (uint32_t)strtoul(name + strcspn(name, "0123456789"), NULL, 10);
		/* 1.1 rows aggregate calls; a 1.0 row is one call, its own example */
		if (cJSON_IsArray(exs)) {
			cJSON_ArrayForEach(e, exs)
				if (sc.nr_examples < AP_SLOW_EXAMPLES)
					load_slow_example(e, &sc.ex[sc.nr_examples++]);
		} else {
			load_slow_example(o, &sc.ex[sc.nr_examples++]);
		}
		sc.count = cJSON_HasObjectItem(o, "count") ? json_u64(o, "count") : 1;
		sc.errors = cJSON_HasObjectItem(o, "errors") ? json_u64(o, "errors") :
			(uint64_t)(sc.ex[0].ret < 0 && sc.ex[0].ret >= -4095);
		sc.total_ns = cJSON_HasObjectItem(o, "total_us") ? num_ns(o, "total_us", 1e3) : sc.ex[0].dur_ns;
		sc.max_ns = cJSON_HasObjectItem(o, "max_us") ? num_ns(o, "max_us", 1e3) : sc.ex[0].dur_ns;
		profile__merge_slow(p, &sc);
	}
out:
	if (err)
		ap_err("%s: malformed %s table", path, what);
	cJSON_Delete(root);
	return err;
}

int syscalls_json__load_buf(struct profile *p, const char *text, size_t len, const char *name)
{
	cJSON *root = json_parse_checked(text, len, name, AP_SCHEMA_SYSCALLS);

	return root ? syscalls_load_root(p, root, name) : -errno;
}

int syscalls_json__load(struct profile *p, const char *path)
{
	cJSON *root = json_load_checked(path, AP_SCHEMA_SYSCALLS);

	return root ? syscalls_load_root(p, root, path) : -errno;
}
