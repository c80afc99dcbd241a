// SPDX-License-Identifier: MIT
/* Syscall collector: sys_enter/sys_exit (on_sys_enter, on_sys_exit) count
 * calls, errors, time and bytes per (process, syscall, fd kind) in the
 * kernel, read at flush; a call over --slow-syscall arrives as a record
 * with its stack. The off-CPU collector also needs these programs (a
 * syscall names the stack of the intervals it blocked in), so they load
 * when either is on. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "collect/collect.h"
#include "collect/mapdrain.h"
#include "log.h"
#include "util.h"

static int syscalls_configure(struct ap_collector *c)
{
	struct cpu_collector *cc = c->cc;
	const struct ap_options *o = &cc->ses->opts;

	c->enabled = !o->no_offcpu || !o->no_syscalls;
	cc->skel->rodata->syscalls_on = !o->no_syscalls;
	cc->skel->rodata->slow_ns = o->slow_ns;
	bpf_program__set_autoload(cc->skel->progs.on_sys_enter, c->enabled);
	bpf_program__set_autoload(cc->skel->progs.on_sys_exit, c->enabled);
	/* drained per window with lookup-and-delete (mapdrain.h) */
	map_drain_no_prealloc(cc->skel->maps.sys_stats);
	cc->ses->prof.has_syscalls = !o->no_syscalls;
	cc->ses->prof.slow_ns = o->slow_ns;
	return 0;
}

static int syscalls_attach(struct ap_collector *c)
{
	int err = collect_attach_prog(c, c->cc->skel->progs.on_sys_enter);

	return err ? err : collect_attach_prog(c, c->cc->skel->progs.on_sys_exit);
}

static void handle_slow_syscall(struct cpu_collector *cc, const struct ap_cpu_sample *s, size_t size)
{
	struct ap_slow_example ex = {
		.start_ns = s->time_ns, .dur_ns = s->aux[1], .ret = (int64_t)s->aux[2], .tid = s->tid,
	};
	struct profile *p = &cc->ses->prof;
	uint32_t stack = collect_blocked_stack(cc, s, size);

	if (stack == AP_NONE)
		return;
	profile__add_slow(p, s->tgid, s->aux[0], stack, &ex);
}

/* a slow call whose stack an earlier record named */
static void handle_slow_known(struct cpu_collector *cc, const struct ap_slow_rec *r)
{
	struct ap_slow_example ex = {
		.start_ns = r->start_ns, .dur_ns = r->dur_ns, .ret = r->ret, .tid = r->tid,
	};

	profile__add_slow(&cc->ses->prof, r->tgid, r->nr, collect_off_stack_of(cc, r->tgid, r->sid, -1), &ex);
}

static int syscalls_on_record(struct ap_collector *c, uint32_t type, const void *data, size_t size)
{
	if (type == AP_REC_SLOW_SYSCALL)
		handle_slow_syscall(c->cc, data, size);
	else if (type == AP_REC_SLOW_KNOWN && size >= sizeof(struct ap_slow_rec))
		handle_slow_known(c->cc, data);
	else
		return -EINVAL;
	return 0;
}

static void sys_row(const void *k, const void *v, void *ctx)
{
	const struct ap_sys_key *key = k;
	const struct ap_sys_val *val = v;
	struct ap_sys_row row = {
		.pid = key->tgid, .nr = key->nr, .fd_kind = key->fd_kind, .count = val->count,
		.errors = val->errors, .total_ns = val->total_ns, .max_ns = val->max_ns,
		.bytes = val->bytes,
	};

	memcpy(row.hist, val->hist, sizeof(row.hist));
	profile__add_sys(ctx, &row);
}

static void sys_err_row(const void *k, const void *v, void *ctx)
{
	const struct ap_sys_err_key *key = k;

	profile__add_sys_err(ctx, key->tgid, key->nr, key->err, *(const uint64_t *)v);
}

/* what the kernel counted since the last flush, and the maps emptied */
static void drain_syscalls(struct cpu_collector *cc, struct profile *into)
{
	map_drain(bpf_map__fd(cc->skel->maps.sys_stats), sizeof(struct ap_sys_key),
		  sizeof(struct ap_sys_val), sys_row, into);
	map_drain(bpf_map__fd(cc->skel->maps.sys_errs), sizeof(struct ap_sys_err_key),
		  sizeof(uint64_t), sys_err_row, into);
}

static void syscalls_flush(struct ap_collector *c, uint64_t end_ns, struct profile *into)
{
	if (into->has_syscalls)
		drain_syscalls(c->cc, into);
}

static void syscalls_counters(struct ap_collector *c, struct profile *into)
{
	profile__set_counter(into, "syscalls_missed_in_kernel",
			     collect_prog_misses(c->cc->skel->progs.on_sys_enter) +
			     collect_prog_misses(c->cc->skel->progs.on_sys_exit));
	profile__trim_slow(into, AP_SLOW_ROWS_KEPT);
	profile__set_counter(into, "slow_syscalls_dropped", into->slow_dropped);
}

const struct ap_collector_ops syscalls_ops = {
	.name = "syscalls",
	.records = 1u << AP_REC_SLOW_SYSCALL | 1u << AP_REC_SLOW_KNOWN,
	.configure = syscalls_configure,
	.attach = syscalls_attach,
	.on_record = syscalls_on_record,
	.flush = syscalls_flush,
	.counters = syscalls_counters,
};
