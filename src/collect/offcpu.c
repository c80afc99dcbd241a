// SPDX-License-Identifier: MIT
/* Off-CPU collector: sched_switch and sched_wakeup (on_switch, on_wakeup)
 * account why and where threads wait. Off-CPU time per stack is read from
 * the kernel's aggregate (off_time) at flush; each long interval arrives as
 * an AP_REC_OFF_INTERVAL for the timeline, its stack named at once or by
 * the AP_REC_OFF_LINK its syscall's exit sends. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "collect/collect.h"
#include "collect/mapdrain.h"
#include "log.h"
#include "util.h"

struct offcpu {
	size_t *iv_pending;         /* intervals whose stack a syscall exit will name */
	size_t nr_iv_pending, cap_iv_pending;
};

static int offcpu_configure(struct ap_collector *c)
{
	struct cpu_collector *cc = c->cc;
	const struct ap_options *o = &cc->ses->opts;
	struct profile *p = &cc->ses->prof;

	c->priv = xcalloc(1, sizeof(struct offcpu));
	c->enabled = !o->no_offcpu;
	cc->skel->rodata->offcpu_stacks = !o->no_offcpu;
	cc->skel->rodata->min_block_ns = o->min_block_ns;
	cc->skel->rodata->interval_min_ns = o->no_offcpu ? 0 : o->interval_min_ns;
	bpf_program__set_autoload(cc->skel->progs.on_switch, !o->no_offcpu);
	bpf_program__set_autoload(cc->skel->progs.on_wakeup, !o->no_offcpu);
	/* drained per window with lookup-and-delete (mapdrain.h) */
	map_drain_no_prealloc(cc->skel->maps.off_time);
	map_drain_no_prealloc(cc->skel->maps.cpu_takers);
	p->has_offcpu = !o->no_offcpu;
	p->has_takers = !o->no_offcpu;
	p->min_block_ns = o->min_block_ns;
	p->interval_min_ns = o->no_offcpu ? 0 : o->interval_min_ns;
	return 0;
}

static int offcpu_attach(struct ap_collector *c)
{
	int err = collect_attach_prog(c, c->cc->skel->progs.on_switch);

	return err ? err : collect_attach_prog(c, c->cc->skel->progs.on_wakeup);
}

/* one off-CPU interval of the timeline; its stack is known now, or named
 * by the AP_REC_OFF_LINK its syscall's exit sends */
static void handle_interval(struct ap_collector *c, const struct ap_off_interval *r)
{
	struct cpu_collector *cc = c->cc;
	struct offcpu *o = c->priv;
	struct profile *p = &cc->ses->prof;
	struct ap_interval iv = {
		.start_ns = r->start_ns, .block_ns = r->block_ns, .runq_ns = r->runq_ns,
		.pid = r->tgid, .tid = r->tid,
		.reason = r->reason < AP_OFF__COUNT ? r->reason : AP_OFF_OTHER,
		.stack = r->sid ? collect_off_stack_of(cc, r->tgid, r->sid, -1) : AP_NONE,
	};

	if (!profile__add_interval(p, &iv)) {
		/* at the cap: the kernel can stop sending them (the rest of
		 * what is in flight is counted as dropped here) */
		cc->skel->bss->intervals_full = 1;
		return;
	}
	if (iv.stack != AP_NONE)
		return;
	GROW(o->iv_pending, o->cap_iv_pending, o->nr_iv_pending + 1);
	o->iv_pending[o->nr_iv_pending++] = p->nr_ivals - 1;
}

/* The stack of thread tid's pending intervals: sid for those since its
 * syscall's entry; older ones belong to a syscall whose stack was not
 * taken. sid 0: every pending interval is left without its stack (the end). */
static void resolve_intervals(struct ap_collector *c, uint32_t tid, uint32_t tgid, uint64_t sid,
			      uint64_t since_ns)
{
	struct cpu_collector *cc = c->cc;
	struct offcpu *o = c->priv;
	struct profile *p = &cc->ses->prof;
	size_t i, n = 0;

	for (i = 0; i < o->nr_iv_pending; i++) {
		struct ap_interval *iv = &p->ivals[o->iv_pending[i]];

		if (sid && iv->tid != tid) {
			o->iv_pending[n++] = o->iv_pending[i];
			continue;
		}
		iv->stack = sid && iv->start_ns >= since_ns ? collect_off_stack_of(cc, tgid, sid, -1)
			: collect_kernel_only_stack(cc, -1, "[user stack not captured]");
	}
	o->nr_iv_pending = n;
}


static int offcpu_on_record(struct ap_collector *c, uint32_t type, const void *data, size_t size)
{
	struct cpu_collector *cc = c->cc;

	if (type == AP_REC_OFF_STACK) {
		collect_blocked_stack(cc, data, size);
	} else if (type == AP_REC_OFF_INTERVAL && size >= sizeof(struct ap_off_interval)) {
		handle_interval(c, data);
	} else if (type == AP_REC_OFF_LINK && size >= sizeof(struct ap_off_link)) {
		const struct ap_off_link *l = data;

		if (l->sid)
			resolve_intervals(c, l->tid, l->tgid, l->sid, l->since_ns);
	} else {
		return -EINVAL;
	}
	return 0;
}

struct off_drain {
	struct cpu_collector *cc;
	struct profile *p;
};

static void off_row(const void *k, const void *v, void *ctx)
{
	const struct ap_off_key *key = k;
	const struct ap_off_val *val = v;
	struct off_drain *d = ctx;

	if (key->reason >= AP_OFF__COUNT)
		return;
	profile__add_off(d->p, key->tgid, key->tid,
			 collect_off_stack_of(d->cc, key->tgid, key->sid, key->kstack), key->reason,
			 val->ns, key->reason == AP_OFF_RUNQUEUE ? 0 : val->count);
}

/* off-CPU time per stack since the last flush, and the map emptied */
static void drain_offcpu(struct cpu_collector *cc, struct profile *into)
{
	struct off_drain d = { cc, into };

	map_drain(bpf_map__fd(cc->skel->maps.off_time), sizeof(struct ap_off_key),
		  sizeof(struct ap_off_val), off_row, &d);
}

static void taker_row(const void *k, const void *v, void *ctx)
{
	const struct ap_taker_key *key = k;
	const struct ap_taker_val *val = v;
	struct ap_taker t = { .pid = key->tgid, .taker = key->taker, .followed = val->followed,
			      .kthread = val->kthread, .ns = val->ns, .count = val->count };

	_Static_assert(sizeof(t.comm) == sizeof(val->comm), "comm sizes");
	memcpy(t.comm, val->comm, sizeof(t.comm));
	t.comm[sizeof(t.comm) - 1] = 0;
	profile__add_taker(ctx, &t);
}

static void offcpu_flush(struct ap_collector *c, uint64_t end_ns, struct profile *into)
{
	if (into->has_offcpu) {
		drain_offcpu(c->cc, into);
		into->has_takers = true;
		map_drain(bpf_map__fd(c->cc->skel->maps.cpu_takers), sizeof(struct ap_taker_key),
			  sizeof(struct ap_taker_val), taker_row, into);
	}
	resolve_intervals(c, 0, 0, 0, 0); /* syscalls that never returned */
}

static void offcpu_counters(struct ap_collector *c, struct profile *into)
{
	struct cpu_collector *cc = c->cc;

	profile__set_counter(into, "offcpu_missed_in_kernel",
			     collect_prog_misses(cc->skel->progs.on_switch) +
			     collect_prog_misses(cc->skel->progs.on_wakeup));
	/* beyond the cap: those that reached us, and those the kernel then kept back */
	profile__set_counter(into, "offcpu_intervals_dropped",
			     into->ivals_dropped + collect_bpf_counter(cc, AP_CNT_OFF_INTERVAL_CAPPED));
	/* waits not attributed to who had the CPU: our rows full, the kernel
	 * map full or a fifth waiter on one CPU (cpu_waiting has 4 slots) */
	profile__set_counter(into, "cpu_taker_waits_dropped",
			     into->takers_dropped + collect_bpf_counter(cc, AP_CNT_OFF_TAKERS_FULL));
}

static void offcpu_free(struct ap_collector *c)
{
	struct offcpu *o = c->priv;

	if (!o)
		return;
	free(o->iv_pending);
	free(o);
	c->priv = NULL;
}

const struct ap_collector_ops offcpu_ops = {
	.name = "offcpu",
	.records = 1u << AP_REC_OFF_STACK | 1u << AP_REC_OFF_INTERVAL | 1u << AP_REC_OFF_LINK,
	.configure = offcpu_configure,
	.attach = offcpu_attach,
	.on_record = offcpu_on_record,
	.flush = offcpu_flush,
	.counters = offcpu_counters,
	.free = offcpu_free,
};
