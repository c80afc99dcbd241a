// SPDX-License-Identifier: MIT
/* artifacts/memory.json (autoprof.memory/1): memory bytes by (pid, tid,
 * stack, kind) and the memory timeline (profile.h, "Memory"), with the
 * symbol tables of cpu.json. Field reference: docs/ARTIFACTS.md. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "artifact/artifact.h"
#include "log.h"
#include "util.h"

static const char *const mem_time_cols[] = { "t_us", "pid", "tid", "stack", "kind", "bytes", "addr" };
#define NR_TIME_COLS AP_ARRAY_SIZE(mem_time_cols)

/* µs since profiling start */
static uint64_t rel_us(const struct profile *p, uint64_t t_ns)
{
	return t_ns > p->start_mono_ns ? (t_ns - p->start_mono_ns) / 1000 : 0;
}

static const char *kind_name(uint32_t kind)
{
	return kind < AP_MEM__COUNT ? ap_mem_kind_names[kind] : "?";
}

cJSON *memory_json__build(const struct profile *p)
{
	cJSON *root = cJSON_CreateObject(), *arr, *o, *tl;
	uint64_t bytes[AP_MEM__COUNT] = { 0 }, count[AP_MEM__COUNT] = { 0 };
	size_t i, k;

	cJSON_AddStringToObject(root, "schema", AP_SCHEMA_MEMORY);
	cJSON_AddNumberToObject(root, "duration_s", p->duration_s);
	cJSON_AddBoolToObject(root, "has_malloc", p->has_malloc);
	cJSON_AddNumberToObject(root, "mem_period", (double)p->mem_period);
	arr = cJSON_AddArrayToObject(root, "kinds");
	for (k = 0; k < AP_MEM__COUNT; k++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(ap_mem_kind_names[k]));
	json_add_tables(root, p);

	arr = cJSON_AddArrayToObject(root, "rows");
	for (i = 0; i < p->nr_mem; i++) {
		const struct ap_mem_row *r = &p->mem[i];

		cJSON_AddItemToArray(arr, o = cJSON_CreateObject());
		cJSON_AddNumberToObject(o, "pid", r->pid);
		cJSON_AddNumberToObject(o, "tid", r->tid);
		cJSON_AddNumberToObject(o, "stack", r->stack);
		cJSON_AddStringToObject(o, "kind", kind_name(r->kind));
		cJSON_AddNumberToObject(o, "bytes", (double)r->bytes);
		cJSON_AddNumberToObject(o, "count", (double)r->count);
		if (r->kind < AP_MEM__COUNT) {
			bytes[r->kind] += r->bytes;
			count[r->kind] += r->count;
		}
	}
	o = cJSON_AddObjectToObject(root, "totals");
	for (k = 0; k < AP_MEM__COUNT; k++) {
		cJSON *t = cJSON_AddObjectToObject(o, ap_mem_kind_names[k]);

		cJSON_AddNumberToObject(t, "bytes", (double)bytes[k]);
		cJSON_AddNumberToObject(t, "count", (double)count[k]);
	}

	/* The timeline's columns as raw JSON text: a cJSON node per number
	 * would be 1.75 million nodes (~110 MB) at the cap */
	tl = cJSON_AddObjectToObject(root, "timeline");
	cJSON_AddNumberToObject(tl, "dropped", (double)p->mem_times_dropped);
	for (k = 0; k < NR_TIME_COLS; k++) {
		struct strbuf sb = { 0 };

		sb_puts(&sb, "[");
		for (i = 0; i < p->nr_mem_times; i++) {
			const struct ap_mem_time *t = &p->mem_times[i];
			uint64_t v = k == 0 ? rel_us(p, t->t_ns) : k == 1 ? t->pid : k == 2 ? t->tid :
				     k == 3 ? t->stack : k == 4 ? t->kind : k == 5 ? t->bytes : t->addr;

			sb_printf(&sb, "%s%" PRIu64, i ? "," : "", v);
		}
		sb_puts(&sb, "]");
		cJSON_AddRawToObject(tl, mem_time_cols[k], sb.buf);
		sb_free(&sb);
	}
	return root;
}

int memory_json__write(const struct profile *p, int dirfd)
{
	return json_write_artifact(dirfd, "memory.json", memory_json__build(p));
}

/* ---- loader ---- */

static int kind_index(const char *name)
{
	int k;

	for (k = 0; name && k < AP_MEM__COUNT; k++)
		if (!strcmp(name, ap_mem_kind_names[k]))
			return k;
	return -1;
}

/* a number cell >= 0 (a count, bytes, an address); -EINVAL otherwise */
static int cell_u64(const cJSON *c, uint64_t *out)
{
	if (!cJSON_IsNumber(c) || !(c->valuedouble >= 0) || c->valuedouble >= 18446744073709551616.0)
		return -EINVAL;
	*out = (uint64_t)c->valuedouble;
	return 0;
}

/* a field of o as a u64 (a number >= 0, or "0x..."); -EINVAL when absent or bad */
static int field_u64(const cJSON *o, const char *key, uint64_t *out)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);

	if (cJSON_IsString(it)) {
		char *end;

		if (!isdigit((unsigned char)it->valuestring[0])) /* strtoull takes " -5" */
			return -EINVAL;
		errno = 0;
		*out = strtoull(it->valuestring, &end, 0);
		return errno || end == it->valuestring || *end ? -EINVAL : 0;
	}
	return cell_u64(it, out);
}

static int load_timeline(struct profile *p, const cJSON *o, const struct json_tables *t,
			 const int *kind_map, size_t nr_kinds)
{
	const cJSON *c[NR_TIME_COLS];
	uint64_t v[NR_TIME_COLS], dropped = 0;
	size_t i, n = 0, k;

	if (!o)
		return 0;
	if (!cJSON_IsObject(o) || json_get_columns(o, mem_time_cols, c, NR_TIME_COLS, &n))
		return -EINVAL;
	if (cJSON_HasObjectItem(o, "dropped") && field_u64(o, "dropped", &dropped))
		return -EINVAL;
	p->mem_times_dropped += dropped;
	for (i = 0; i < n; i++) {
		struct ap_mem_time mt;

		for (k = 0; k < NR_TIME_COLS; k++) {
			if (cell_u64(c[k], &v[k]))
				return -EINVAL;
			c[k] = c[k]->next;
		}
		if (v[3] >= t->nr_stack || v[4] >= nr_kinds || kind_map[v[4]] < 0 ||
		    v[1] > UINT32_MAX || v[2] > UINT32_MAX || v[0] > UINT64_MAX / 1000)
			return -EINVAL;
		mt = (struct ap_mem_time){
			.t_ns = v[0] * 1000, .bytes = v[5], .addr = v[6], .pid = (uint32_t)v[1],
			.tid = (uint32_t)v[2], .stack = t->stack[v[3]], .kind = (uint32_t)kind_map[v[4]],
		};
		profile__add_mem_time(p, &mt);
	}
	return 0;
}

static int memory_load_root(struct profile *p, cJSON *root, const char *path)
{
	const char *what = "file";
	const cJSON *o, *ks;
	struct json_tables t = { 0 };
	int map[AP_MEM__COUNT * 4];
	size_t nr_kinds = 0;
	int err = 0, k;

	p->has_memory = true;
	p->has_malloc |= cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "has_malloc"));
	if (cJSON_HasObjectItem(root, "mem_period")) {
		uint64_t period;

		if (field_u64(root, "mem_period", &period)) {
			err = -EINVAL;
			what = "mem_period";
			goto out_notables;
		}
		p->mem_period = period;
	}
	if (!p->duration_s) {
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(root, "duration_s");

		if (cJSON_IsNumber(d) && d->valuedouble > 0)
			p->duration_s = d->valuedouble;
	}
	what = "kinds";
	ks = cJSON_GetObjectItemCaseSensitive(root, "kinds");
	if (ks && !cJSON_IsArray(ks)) {
		err = -EINVAL;
		goto out_notables;
	}
	cJSON_ArrayForEach(o, ks) {
		if (nr_kinds == AP_ARRAY_SIZE(map))
			break;
		map[nr_kinds++] = kind_index(cJSON_GetStringValue(o));
	}
	if (!ks) /* no table: this version's order */
		for (nr_kinds = 0; nr_kinds < AP_MEM__COUNT; nr_kinds++)
			map[nr_kinds] = nr_kinds;
	what = "file";
	err = json_load_tables(p, root, &t, &what);
	if (err)
		goto out;
	what = "rows";
	o = cJSON_GetObjectItemCaseSensitive(root, "rows");
	if (o && !cJSON_IsArray(o)) {
		err = -EINVAL;
		goto out;
	}
	cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(root, "rows")) {
		uint64_t pid, tid, bytes, count;
		uint32_t stack;

		k = kind_index(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "kind")));
		if (k < 0 || json_get_index(o, "stack", t.nr_stack, false, &stack) ||
		    field_u64(o, "pid", &pid) || field_u64(o, "tid", &tid) ||
		    field_u64(o, "bytes", &bytes) || field_u64(o, "count", &count) ||
		    pid > UINT32_MAX || tid > UINT32_MAX) {
			err = -EINVAL;
			goto out;
		}
		profile__add_mem(p, pid, tid, t.stack[stack], k, bytes, count);
	}
	what = "timeline";
	err = load_timeline(p, cJSON_GetObjectItemCaseSensitive(root, "timeline"), &t, map, nr_kinds);
out:
	json_tables_free(&t);
out_notables:
	if (err)
		ap_err("%s: malformed %s table", path, what);
	cJSON_Delete(root);
	return err;
}

int memory_json__load_buf(struct profile *p, const char *text, size_t len, const char *name)
{
	cJSON *root = json_parse_checked(text, len, name, AP_SCHEMA_MEMORY);

	return root ? memory_load_root(p, root, name) : -errno;
}

int memory_json__load(struct profile *p, const char *path)
{
	cJSON *root = json_load_checked(path, AP_SCHEMA_MEMORY);

	return root ? memory_load_root(p, root, path) : -errno;
}
