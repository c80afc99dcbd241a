// SPDX-License-Identifier: MIT
/* artifacts/offcpu.json (autoprof.offcpu/1): per-thread wall-clock
 * accounting and off-CPU time per stack and reason; artifacts/syscalls.json
 * (autoprof.syscalls/1): per-process syscall statistics and slow calls.
 * Field reference: docs/ARTIFACTS.md. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "artifact/artifact.h"
#include "util.h"

uint64_t profile__thread_wall_ns(const struct ap_thread *t)
{
	return t->end_ns > t->start_ns ? t->end_ns - t->start_ns : 0;
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
	return root;
}

int offcpu_json__write(const struct profile *p, const char *outdir)
{
	return json_write_artifact(outdir, "offcpu.json", offcpu_json__build(p));
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

	arr = cJSON_AddArrayToObject(root, "slow_calls");
	for (i = 0; i < p->nr_slow; i++) {
		const struct ap_slow_call *sc = &p->slow[i];

		cJSON_AddItemToArray(arr, o = cJSON_CreateObject());
		cJSON_AddNumberToObject(o, "pid", sc->pid);
		cJSON_AddNumberToObject(o, "tid", sc->tid);
		syscall_label(sc->nr, name, sizeof(name));
		cJSON_AddStringToObject(o, "syscall", name);
		cJSON_AddNumberToObject(o, "start_s", sc->start_ns > p->start_mono_ns ?
					(sc->start_ns - p->start_mono_ns) / 1e9 : 0);
		cJSON_AddNumberToObject(o, "duration_us", sc->dur_ns / 1e3);
		cJSON_AddNumberToObject(o, "ret", (double)sc->ret);
		if (sc->ret < 0 && sc->ret >= -4095 && strerrorname_np(-sc->ret))
			cJSON_AddStringToObject(o, "errno", strerrorname_np(-sc->ret));
		cJSON_AddItemToObject(o, "stack", stack_labels(p, sc->stack));
	}
	return root;
}

int syscalls_json__write(const struct profile *p, const char *outdir)
{
	return json_write_artifact(outdir, "syscalls.json", syscalls_json__build(p));
}
