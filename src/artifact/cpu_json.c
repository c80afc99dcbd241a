// SPDX-License-Identifier: MIT
/* artifacts/cpu.json: the on-CPU profile (schema autoprof.cpu/1), its writer
 * and loader. Field reference: docs/ARTIFACTS.md. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "artifact/artifact.h"
#include "log.h"
#include "util.h"

int json_write_atomic(int dirfd, const char *name, const cJSON *root)
{
	char *s = cJSON_PrintUnformatted(root);
	int err;

	if (!s)
		return -ENOMEM;
	err = write_file_atomic_at(dirfd, name, s, strlen(s));
	free(s);
	return err;
}

cJSON *json_parse_checked(const char *text, size_t len, const char *name, const char *schema)
{
	const char *slash = strchr(schema, '/'), *got;
	cJSON *root, *sc;

	root = cJSON_ParseWithLength(text, len);
	if (!root) {
		ap_err("%s: not valid JSON", name);
		errno = EINVAL;
		return NULL;
	}
	sc = cJSON_GetObjectItemCaseSensitive(root, "schema");
	got = cJSON_GetStringValue(sc);
	if (!got || strncmp(got, schema, slash - schema + 1)) {
		ap_err("%s: not a %.*s artifact (schema %s)", name, (int)(slash - schema), schema,
		       got ? got : "missing");
		cJSON_Delete(root);
		errno = EINVAL;
		return NULL;
	}
	/* same major version; a minor suffix (".2") only adds fields */
	if (strtol(got + (slash - schema) + 1, NULL, 10) != strtol(slash + 1, NULL, 10)) {
		ap_err("%s: schema %s is not supported (this version reads %s)", name, got, schema);
		cJSON_Delete(root);
		errno = ENOTSUP;
		return NULL;
	}
	return root;
}

cJSON *json_load_checked(const char *path, const char *schema)
{
	return json_load_checked_at(AT_FDCWD, path, path, schema);
}

cJSON *json_load_checked_at(int dirfd, const char *name, const char *label, const char *schema)
{
	size_t len;
	char *text = read_file_at(dirfd, name, dirfd == AT_FDCWD ? 0 : O_NOFOLLOW, AP_READ_MAX, &len);
	cJSON *root;
	int err;

	if (!text) {
		err = errno;
		ap_err("%s: cannot read: %s", label, ap_read_errstr(err, AP_READ_MAX));
		errno = err;
		return NULL;
	}
	root = json_parse_checked(text, len, label, schema);
	err = errno;
	free(text);
	errno = err;
	return root;
}

static void add_u64(cJSON *o, const char *key, uint64_t v)
{
	char buf[24];

	if (v < (1ull << 53)) {
		cJSON_AddNumberToObject(o, key, (double)v);
		return;
	}
	snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
	cJSON_AddStringToObject(o, key, buf);
}

uint64_t json_u64(const cJSON *obj, const char *key)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (cJSON_IsNumber(it))
		return it->valuedouble < 0 ? 0 : (uint64_t)it->valuedouble;
	if (cJSON_IsString(it))
		return strtoull(it->valuestring, NULL, 0);
	return 0;
}

void json_add_tables(cJSON *root, const struct profile *p)
{
	cJSON *arr, *o, *st;
	size_t i;

	arr = cJSON_AddArrayToObject(root, "strings");
	for (i = 0; i < p->nr_strs; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(p->strs[i]));

	arr = cJSON_AddArrayToObject(root, "modules");
	for (i = 0; i < p->nr_modules; i++) {
		cJSON_AddItemToArray(arr, o = cJSON_CreateObject());
		cJSON_AddNumberToObject(o, "path", p->modules[i].path);
		cJSON_AddNumberToObject(o, "build_id", p->modules[i].build_id);
		if (p->modules[i].flags & AP_MOD_PY_RUNTIME)
			cJSON_AddStringToObject(o, "runtime", "cpython");
	}

	arr = cJSON_AddArrayToObject(root, "frames");
	for (i = 0; i < p->nr_frames; i++) {
		const struct ap_frame *f = &p->frames[i];

		cJSON_AddItemToArray(arr, o = cJSON_CreateObject());
		cJSON_AddNumberToObject(o, "name", f->name);
		cJSON_AddNumberToObject(o, "module", f->module == AP_NONE ? -1 : (double)f->module);
		cJSON_AddStringToObject(o, "kind", ap_frame_kind_names[f->kind]);
		if (f->kind == AP_FRAME_PYTHON)
			cJSON_AddNumberToObject(o, "line", f->line);
		else
			add_u64(o, "addr", f->addr);
	}

	arr = cJSON_AddArrayToObject(root, "stacks");
	for (i = 0; i < p->nr_stacks; i++) {
		const struct ap_stack *s = &p->stacks[i];
		uint32_t j;

		cJSON_AddItemToArray(arr, st = cJSON_CreateArray());
		for (j = 0; j < s->len; j++)
			cJSON_AddItemToArray(st, cJSON_CreateNumber(p->stack_frames[s->off + j]));
	}
}

cJSON *json_add_column(cJSON *obj, const char *name)
{
	return cJSON_AddArrayToObject(obj, name);
}

void json_push(cJSON *col, double v)
{
	cJSON_AddItemToArray(col, cJSON_CreateNumber(v));
}

int json_get_columns(const cJSON *obj, const char *const *names, const cJSON **cols, size_t nr,
		     size_t *n)
{
	size_t i;

	for (i = 0; i < nr; i++) {
		cols[i] = cJSON_GetObjectItemCaseSensitive(obj, names[i]);
		if (!cJSON_IsArray(cols[i]))
			return -EINVAL;
		if (!i)
			*n = cJSON_GetArraySize(cols[i]);
		else if ((size_t)cJSON_GetArraySize(cols[i]) != *n)
			return -EINVAL;
		cols[i] = cols[i]->child; /* walked in step by the caller */
	}
	return 0;
}

/* µs since profiling start */
static double rel_us(const struct profile *p, uint64_t t_ns)
{
	return t_ns > p->start_mono_ns ? (double)((t_ns - p->start_mono_ns) / 1000) : 0;
}

static const char *const timeline_cols[] = { "t_us", "pid", "tid", "stack" };

static void add_timeline(cJSON *root, const struct profile *p)
{
	cJSON *o = cJSON_AddObjectToObject(root, "timeline"), *c[4];
	size_t i, k;

	for (k = 0; k < 4; k++)
		c[k] = json_add_column(o, timeline_cols[k]);
	for (i = 0; i < p->nr_times; i++) {
		const struct ap_sample_time *t = &p->times[i];

		json_push(c[0], rel_us(p, t->t_ns));
		json_push(c[1], t->pid);
		json_push(c[2], t->tid);
		json_push(c[3], t->stack);
	}
}

static const char *const interval_cols[] = {
	"start_us", "pid", "tid", "reason", "block_us", "runq_us", "stack",
};

void json_add_intervals(cJSON *root, const struct profile *p)
{
	cJSON *o = cJSON_AddObjectToObject(root, "intervals"), *c[7];
	size_t i, k;

	cJSON_AddNumberToObject(o, "min_us", p->interval_min_ns / 1000.0);
	for (k = 0; k < 7; k++)
		c[k] = json_add_column(o, interval_cols[k]);
	for (i = 0; i < p->nr_ivals; i++) {
		const struct ap_interval *iv = &p->ivals[i];

		json_push(c[0], rel_us(p, iv->start_ns));
		json_push(c[1], iv->pid);
		json_push(c[2], iv->tid);
		json_push(c[3], iv->reason);
		json_push(c[4], iv->block_ns / 1000);
		json_push(c[5], iv->runq_ns / 1000);
		json_push(c[6], iv->stack);
	}
}

/* an index cell of a column, in [0, limit) */
static int cell_index(const cJSON *c, size_t limit, uint32_t *out)
{
	if (!cJSON_IsNumber(c) || c->valuedouble < 0 || c->valuedouble >= (double)limit)
		return -EINVAL;
	*out = (uint32_t)c->valuedouble;
	return 0;
}

static uint64_t cell_u64(const cJSON *c)
{
	return cJSON_IsNumber(c) && c->valuedouble > 0 ? (uint64_t)c->valuedouble : 0;
}

static int load_timeline(struct profile *p, const cJSON *o, const struct json_tables *t)
{
	const cJSON *c[4];
	uint32_t stack;
	size_t i, n = 0, k;

	if (!o)
		return 0;
	if (json_get_columns(o, timeline_cols, c, 4, &n))
		return -EINVAL;
	p->has_timeline = true;
	for (i = 0; i < n; i++) {
		if (cell_index(c[3], t->nr_stack, &stack))
			return -EINVAL;
		profile__add_time(p, cell_u64(c[1]), cell_u64(c[2]), t->stack[stack],
				  cell_u64(c[0]) * 1000);
		for (k = 0; k < 4; k++)
			c[k] = c[k]->next;
	}
	return 0;
}

int json_load_intervals(struct profile *p, const cJSON *o, const struct json_tables *t,
			const int *reason_map, size_t nr_reasons)
{
	const cJSON *c[7];
	struct ap_interval iv;
	uint32_t stack, r;
	size_t i, n = 0, k;

	if (!o)
		return 0;
	if (json_get_columns(o, interval_cols, c, 7, &n))
		return -EINVAL;
	p->interval_min_ns = cell_u64(cJSON_GetObjectItemCaseSensitive(o, "min_us")) * 1000;
	for (i = 0; i < n; i++) {
		if (cell_index(c[6], t->nr_stack, &stack) || cell_index(c[3], nr_reasons, &r) ||
		    reason_map[r] < 0)
			return -EINVAL;
		iv = (struct ap_interval){
			.start_ns = cell_u64(c[0]) * 1000, .pid = cell_u64(c[1]), .tid = cell_u64(c[2]),
			.reason = reason_map[r], .block_ns = cell_u64(c[4]) * 1000,
			.runq_ns = cell_u64(c[5]) * 1000, .stack = t->stack[stack],
		};
		profile__add_interval(p, &iv);
		for (k = 0; k < 7; k++)
			c[k] = c[k]->next;
	}
	return 0;
}

/* a process's labels (process/labels.h): optional keys, written when known */
static const struct {
	const char *key;
	size_t off;
} label_keys[] = {
	{ "cgroup", offsetof(struct ap_process, cgroup) },
	{ "container_id", offsetof(struct ap_process, container_id) },
	{ "service", offsetof(struct ap_process, service) },
	{ "runtime", offsetof(struct ap_process, runtime) },
	{ "build_id", offsetof(struct ap_process, build_id) },
	/* why its Python frames are missing (code, one line); absent when walked */
	{ "python_frames_missing", offsetof(struct ap_process, py_missing) },
	{ "python_frames_missing_why", offsetof(struct ap_process, py_missing_why) },
};

static void add_labels(cJSON *o, const struct profile *p, const struct ap_process *pr)
{
	size_t i;

	for (i = 0; i < sizeof(label_keys) / sizeof(label_keys[0]); i++) {
		uint32_t id = *(const uint32_t *)((const char *)pr + label_keys[i].off);

		if (id)
			cJSON_AddStringToObject(o, label_keys[i].key, profile__s(p, id));
	}
}

/* absent keys (runs before labels, or unknown) stay "" */
static void load_labels(const cJSON *o, struct profile *p, struct ap_process *pr)
{
	size_t i;

	for (i = 0; i < sizeof(label_keys) / sizeof(label_keys[0]); i++) {
		const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(o, label_keys[i].key));
		*(uint32_t *)((char *)pr + label_keys[i].off) = profile__str(p, v);
	}
}

/* AP_COUNT_* of a samples row; rows of older runs have at most "gil" */
static uint32_t row_flags(const cJSON *o)
{
	static const struct {
		const char *key;
		uint32_t flag;
	} keys[] = { { "gil", AP_COUNT_GIL }, { "py_state", AP_COUNT_PY_STATE },
		     { "gc", AP_COUNT_GC }, { "finalizing", AP_COUNT_FINALIZING },
		     { "gil_known", AP_COUNT_GIL_KNOWN }, { "nogil", AP_COUNT_NOGIL } };
	uint32_t f = 0;
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, keys[i].key)))
			f |= keys[i].flag;
	return f;
}

cJSON *cpu_json__build(const struct profile *p)
{
	cJSON *root = cJSON_CreateObject(), *arr, *o;
	struct ap_completeness c;
	char task[128];
	size_t i;

	cJSON_AddStringToObject(root, "schema", AP_SCHEMA_CPU);
	cJSON_AddNumberToObject(root, "frequency_hz", p->frequency_hz);
	cJSON_AddNumberToObject(root, "duration_s", p->duration_s);
	json_add_tables(root, p);

	arr = cJSON_AddArrayToObject(root, "samples");
	for (i = 0; i < p->nr_counts; i++) {
		const struct ap_count *k = &p->counts[i];

		cJSON_AddItemToArray(arr, o = cJSON_CreateObject());
		cJSON_AddNumberToObject(o, "pid", k->pid);
		cJSON_AddNumberToObject(o, "tid", k->tid);
		cJSON_AddNumberToObject(o, "stack", k->stack);
		if (k->flags & AP_COUNT_GIL)
			cJSON_AddBoolToObject(o, "gil", true);
		if (k->flags & AP_COUNT_PY_STATE)
			cJSON_AddBoolToObject(o, "py_state", true);
		if (k->flags & AP_COUNT_GC)
			cJSON_AddBoolToObject(o, "gc", true);
		if (k->flags & AP_COUNT_FINALIZING)
			cJSON_AddBoolToObject(o, "finalizing", true);
		if (k->flags & AP_COUNT_GIL_KNOWN)
			cJSON_AddBoolToObject(o, "gil_known", true);
		if (k->flags & AP_COUNT_NOGIL)
			cJSON_AddBoolToObject(o, "nogil", true);
		if (profile__stack_task(p, k->stack, task, sizeof(task)))
			cJSON_AddStringToObject(o, "task", task);
		cJSON_AddNumberToObject(o, "count", k->count);
	}

	arr = cJSON_AddArrayToObject(root, "threads");
	for (i = 0; i < p->nr_threads; i++) {
		const struct ap_thread *t = &p->threads[i];

		cJSON_AddItemToArray(arr, o = cJSON_CreateObject());
		cJSON_AddNumberToObject(o, "pid", t->pid);
		cJSON_AddNumberToObject(o, "tid", t->tid);
		cJSON_AddStringToObject(o, "comm", profile__s(p, t->comm));
		cJSON_AddStringToObject(o, "python_name", profile__s(p, t->pyname));
		cJSON_AddNumberToObject(o, "samples", t->samples);
		cJSON_AddNumberToObject(o, "python_samples", t->python_samples);
		cJSON_AddNumberToObject(o, "gil_samples", t->gil_samples);
		if (t->nogil_samples)
			cJSON_AddNumberToObject(o, "nogil_samples", t->nogil_samples);
		cJSON_AddNumberToObject(o, "gc_samples", t->gc_samples);
		cJSON_AddNumberToObject(o, "finalizing_samples", t->finalizing_samples);
	}

	arr = cJSON_AddArrayToObject(root, "processes");
	for (i = 0; i < p->nr_procs; i++) {
		const struct ap_process *pr = &p->procs[i];

		cJSON_AddItemToArray(arr, o = cJSON_CreateObject());
		cJSON_AddNumberToObject(o, "pid", pr->pid);
		cJSON_AddNumberToObject(o, "ppid", pr->ppid);
		cJSON_AddStringToObject(o, "comm", profile__s(p, pr->comm));
		cJSON_AddStringToObject(o, "exe", profile__s(p, pr->exe));
		cJSON_AddStringToObject(o, "cmdline", profile__s(p, pr->cmdline));
		add_labels(o, p, pr);
		cJSON_AddNumberToObject(o, "samples", pr->samples);
		cJSON_AddBoolToObject(o, "exited", pr->exited);
		if (pr->exit_status >= 0)
			cJSON_AddNumberToObject(o, "exit_status", pr->exit_status);
	}

	profile__completeness(p, &c);
	o = cJSON_AddObjectToObject(root, "totals");
	cJSON_AddNumberToObject(o, "samples", p->total_samples);
	cJSON_AddNumberToObject(o, "user_stack_samples", c.user_samples);
	cJSON_AddNumberToObject(o, "complete_user_stacks", c.complete);
	cJSON_AddNumberToObject(o, "kernel_only_samples", c.kernel_only);
	cJSON_AddNumberToObject(o, "user_stack_completeness",
				c.user_samples ? (double)c.complete / c.user_samples : 0);

	o = cJSON_AddObjectToObject(root, "counters");
	for (i = 0; i < p->nr_counters; i++)
		add_u64(o, p->counters[i].name, p->counters[i].value);
	if (p->has_timeline)
		add_timeline(root, p);
	return root;
}

int json_write_artifact(int dirfd, const char *name, cJSON *root)
{
	char label[300];
	bool made;
	int fd = mkdir_at(dirfd, "artifacts", &made), err = fd < 0 ? fd : 0;
	const struct ap_write_failure *wf;

	if (!err)
		err = json_write_atomic(fd, name, root);
	snprintf(label, sizeof(label), "artifacts/%s", name);
	wf = ap_last_write_failure();
	if (err && wf && !strcmp(wf->name, name))
		ap_note_write_failure(fd, label, wf->len, err);
	else if (err) /* artifacts/ itself, or serializing */
		ap_note_write_failure(dirfd, label, 0, err);
	if (fd >= 0)
		close(fd);
	cJSON_Delete(root);
	return err;
}

int cpu_json__write(const struct profile *p, int dirfd)
{
	return json_write_artifact(dirfd, "cpu.json", cpu_json__build(p));
}

/* index field of o, checked against the size of the table it refers to */
int json_get_index(const cJSON *o, const char *key, size_t limit, bool allow_none,
		     uint32_t *out)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(it))
		return -EINVAL;
	if (allow_none && it->valuedouble == -1) {
		*out = AP_NONE;
		return 0;
	}
	if (it->valuedouble < 0 || it->valuedouble >= (double)limit ||
	    it->valuedouble != (uint32_t)it->valuedouble)
		return -EINVAL;
	*out = (uint32_t)it->valuedouble;
	return 0;
}

void json_tables_free(struct json_tables *t)
{
	free(t->str);
	free(t->mod);
	free(t->frame);
	free(t->stack);
	memset(t, 0, sizeof(*t));
}

/* table ids of the file -> ids in p: a profile may already hold tables
 * (cpu.json, then offcpu.json), so everything is interned anew */
int json_load_tables(struct profile *p, const cJSON *root, struct json_tables *t, const char **what)
{
	const cJSON *it, *o;
	uint32_t a, b, *fr = NULL;
	size_t cap = 0;
	int err = 0;

	memset(t, 0, sizeof(*t));
	*what = "strings";
	t->str = xcalloc(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(root, "strings")) + 1,
			 sizeof(*t->str));
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(root, "strings")) {
		if (!cJSON_IsString(it))
			return -EINVAL;
		t->str[t->nr_str++] = profile__str(p, it->valuestring);
	}
	*what = "modules";
	t->mod = xcalloc(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(root, "modules")) + 1,
			 sizeof(*t->mod));
	cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(root, "modules")) {
		if (json_get_index(o, "path", t->nr_str, false, &a) ||
		    json_get_index(o, "build_id", t->nr_str, false, &b))
			return -EINVAL;
		uint32_t m = profile__module(p, profile__s(p, t->str[a]), profile__s(p, t->str[b]));
		const char *rt = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "runtime"));

		if (rt && !strcmp(rt, "cpython"))
			p->modules[m].flags |= AP_MOD_PY_RUNTIME;
		t->mod[t->nr_mod++] = m;
	}
	*what = "frames";
	t->frame = xcalloc(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(root, "frames")) + 1,
			   sizeof(*t->frame));
	cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(root, "frames")) {
		const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "kind"));
		const char *name;
		uint32_t mod;
		int k;

		if (json_get_index(o, "name", t->nr_str, false, &a) ||
		    json_get_index(o, "module", t->nr_mod, true, &b) || !kind)
			return -EINVAL;
		for (k = 0; k < AP_FRAME__COUNT && strcmp(kind, ap_frame_kind_names[k]); k++)
			;
		if (k == AP_FRAME__COUNT)
			return -EINVAL;
		name = profile__s(p, t->str[a]);
		mod = b == AP_NONE ? AP_NONE : t->mod[b];
		t->frame[t->nr_frame++] = k == AP_FRAME_PYTHON ?
			profile__py_frame(p, name, mod, json_u64(o, "line")) :
			profile__frame(p, k, name, mod, json_u64(o, "addr"));
	}
	*what = "stacks";
	t->stack = xcalloc(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(root, "stacks")) + 1,
			   sizeof(*t->stack));
	cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(root, "stacks")) {
		uint32_t n = 0;

		cJSON_ArrayForEach(it, o) {
			if (!cJSON_IsNumber(it) || it->valuedouble < 0 ||
			    it->valuedouble >= (double)t->nr_frame) {
				err = -EINVAL;
				goto out;
			}
			GROW(fr, cap, n + 1);
			fr[n++] = t->frame[(uint32_t)it->valuedouble];
		}
		t->stack[t->nr_stack++] = profile__stack(p, fr, n);
	}
out:
	free(fr);
	return err;
}

static int load_root(struct profile *p, cJSON *root, const char *path);

int cpu_json__load(struct profile *p, const char *path)
{
	cJSON *root = json_load_checked(path, AP_SCHEMA_CPU);

	return root ? load_root(p, root, path) : -errno;
}

int cpu_json__load_buf(struct profile *p, const char *text, size_t len, const char *name)
{
	cJSON *root = json_parse_checked(text, len, name, AP_SCHEMA_CPU);

	return root ? load_root(p, root, name) : -errno;
}

/* fill p from a parsed cpu.json; frees root */
static int load_root(struct profile *p, cJSON *root, const char *path)
{
	const char *what = "file";
	struct json_tables t;
	uint32_t stack;
	cJSON *o, *ctr;
	int err;

	p->frequency_hz = json_u64(root, "frequency_hz");
	o = cJSON_GetObjectItemCaseSensitive(root, "duration_s");
	p->duration_s = cJSON_IsNumber(o) ? o->valuedouble : 0;
	err = json_load_tables(p, root, &t, &what);
	if (err)
		goto out;
	what = "threads";
	cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(root, "threads")) {
		/* only the names: every count is rebuilt from the sample rows */
		const char *comm = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "comm"));
		uint32_t pid = json_u64(o, "pid"), key[2] = { pid, json_u64(o, "tid") };
		bool is_new;
		uint64_t *id = hmap_upsert(&p->thread_ids, key, sizeof(key), p->nr_threads, &is_new);

		if (is_new) {
			/* two steps: the call may move p->procs */
			struct ap_process *pr = profile__process(p, pid);
			uint32_t proc = pr - p->procs;

			GROW(p->threads, p->cap_threads, p->nr_threads + 1);
			p->threads[p->nr_threads++] = (struct ap_thread){
				.pid = key[0], .tid = key[1], .proc = proc };
		}
		p->threads[*id].comm = profile__str(p, comm);
		/* absent before python_name was written: "" */
		comm = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "python_name"));
		if (comm && *comm)
			p->threads[*id].pyname = profile__str(p, comm);
	}
	what = "processes";
	cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(root, "processes")) {
		struct ap_process *pr = profile__process(p, json_u64(o, "pid"));

		pr->ppid = json_u64(o, "ppid");
		pr->comm = profile__str(p, cJSON_GetStringValue(cJSON_GetObjectItem(o, "comm")));
		pr->exe = profile__str(p, cJSON_GetStringValue(cJSON_GetObjectItem(o, "exe")));
		pr->cmdline = profile__str(p, cJSON_GetStringValue(cJSON_GetObjectItem(o, "cmdline")));
		load_labels(o, p, pr);
		pr->exited = cJSON_IsTrue(cJSON_GetObjectItem(o, "exited"));
		if (cJSON_IsNumber(cJSON_GetObjectItem(o, "exit_status")))
			pr->exit_status = json_u64(o, "exit_status");
	}
	what = "samples";
	cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(root, "samples")) {
		if (json_get_index(o, "stack", t.nr_stack, false, &stack)) {
			err = -EINVAL;
			goto out;
		}
		profile__add(p, json_u64(o, "pid"), json_u64(o, "tid"), NULL, t.stack[stack],
			     row_flags(o), json_u64(o, "count"));
	}
	what = "timeline";
	err = load_timeline(p, cJSON_GetObjectItemCaseSensitive(root, "timeline"), &t);
	if (err)
		goto out;
	what = "counters";
	ctr = cJSON_GetObjectItemCaseSensitive(root, "counters");
	if (ctr && !cJSON_IsObject(ctr)) { /* members need names (found by fuzzing) */
		err = -EINVAL;
		goto out;
	}
	cJSON_ArrayForEach(o, ctr)
		profile__set_counter(p, o->string,
				     cJSON_IsNumber(o) ? (uint64_t)o->valuedouble :
				     cJSON_IsString(o) ? strtoull(o->valuestring, NULL, 0) : 0);
out:
	if (err)
		ap_err("%s: malformed %s table", path, what);
	json_tables_free(&t);
	cJSON_Delete(root);
	return err;
}
