// SPDX-License-Identifier: MIT
/* Allocator collector (--malloc): uprobes on the C library's malloc,
 * calloc, realloc, free, posix_memalign, aligned_alloc and memalign of
 * every tracked process (bpf/malloc.bpf.h), attached per process when a
 * file that defines them is mapped (or, for a launched target, before its
 * exec). Every call is counted in the kernel; allocations sampled by bytes
 * become AP_MEM_ALLOC rows by stack, and the sampled ones still allocated
 * at the end AP_MEM_LIVE rows. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "collect/collect.h"
#include "collect/mapdrain.h"
#include "log.h"
#include "symbolize/elfsym.h"
#include "util.h"

#define AP_MALLOC_RATE_DEFAULT (512 * 1024)
/* sampled allocations remembered by id until their return put them in
 * malloc_live (or their free took them out): past this, the oldest go */
#define AP_MALLOC_SAMPLES_MAX (1u << 18)

const char *const ap_malloc_fn_names[AP_MALLOC__COUNT] = {
	"malloc", "calloc", "realloc", "free", "posix_memalign", "aligned_alloc", "memalign",
};
_Static_assert(AP_MALLOC__COUNT == 7, "name every enum ap_malloc_fn");

/* the symbols of each function: glibc defines them under __libc_ (and in
 * a static program __) names too, and the symbol table keeps one name per
 * address */
#define FN_NAMES 4
static const char *const fn_syms[AP_MALLOC__COUNT][FN_NAMES] = {
	{ "malloc", "__libc_malloc", "__malloc" },
	{ "calloc", "__libc_calloc", "__calloc" },
	{ "realloc", "__libc_realloc", "__realloc" },
	{ "free", "__libc_free", "__free", "cfree" },
	{ "posix_memalign", "__posix_memalign" },
	{ "aligned_alloc", "__aligned_alloc" },
	{ "memalign", "__libc_memalign", "__memalign" },
};

static const char *const mcnt_names[AP_MCNT__COUNT] = {
	"malloc_samples",          "malloc_samples_lost",   "malloc_stats_full",
	"malloc_live_full",        "malloc_live_freed",     "malloc_no_thread_state",
	"malloc_nested_calls",     "malloc_calls_before_exec",
};

struct msample {
	uint64_t id;
	uint32_t pid, tid, stack;
	uint32_t gen;               /* the flush it arrived in */
};

struct mlink {
	struct bpf_link *link;
	uint32_t pid;
};

struct mprobed_key {
	uint32_t pid, pad;
	uint64_t dev, ino;
};

struct malloc_coll {
	uint64_t rate;
	struct mlink *links;
	size_t nr_links, cap_links;
	struct hmap probed;         /* (pid, dev, ino) -> 1 while probed */
	struct msample *samples;    /* sampled allocations that may be live */
	size_t nr_samples, cap_samples;
	struct hmap sample_ids;     /* id -> 1 + index into samples */
	uint32_t gen;
	uint64_t calls[AP_MALLOC__COUNT], bytes[AP_MALLOC__COUNT];
	uint64_t received, bad, live_rows, live_bytes, live_unknown, samples_dropped;
	uint64_t files_probed, processes_probed, attach_errors, exited_before_probe;
	uint64_t live_read;         /* entries of malloc_live at the last read */
	bool held;                  /* the launched target was put in malloc_hold */
};

static int malloc_configure(struct ap_collector *c)
{
	struct cpu_collector *cc = c->cc;
	const struct ap_options *o = &cc->ses->opts;
	struct malloc_coll *m = xcalloc(1, sizeof(*m));

	c->priv = m;
	c->enabled = o->malloc;
	m->rate = o->malloc_rate ? o->malloc_rate : AP_MALLOC_RATE_DEFAULT;
	cc->skel->rodata->malloc_rate = m->rate;
	bpf_program__set_autoload(cc->skel->progs.on_malloc_entry, c->enabled);
	bpf_program__set_autoload(cc->skel->progs.on_malloc_return, c->enabled);
	bpf_program__set_autoload(cc->skel->progs.on_malloc_exec, c->enabled);
	map_drain_no_prealloc(cc->skel->maps.malloc_stats);
	cc->ses->prof.has_malloc = c->enabled;
	return 0;
}

static struct bpf_link *attach_one(struct cpu_collector *cc, bool ret, uint32_t pid,
				   const char *self, uint64_t off, uint32_t fn)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = ret, .bpf_cookie = fn);

	return bpf_program__attach_uprobe_opts(ret ? cc->skel->progs.on_malloc_return :
						     cc->skel->progs.on_malloc_entry,
					       pid, self, off, &opts);
}

static void keep_link(struct malloc_coll *m, struct bpf_link *l, uint32_t pid)
{
	GROW(m->links, m->cap_links, m->nr_links + 1);
	m->links[m->nr_links++] = (struct mlink){ l, pid };
}

/* Where to put the probe of the function at file offset off. The kernel
 * emulates a probed push or conditional jump, but steps any other first
 * instruction out of line with the trap flag, and a VM whose hypervisor
 * intercepts the debug trap (KVM does) makes that ~15x slower than the
 * probe itself: glibc 2.36's free starts with `test %rdi,%rdi; je`, and
 * probing its je made a free cost ~2 us instead of ~30 us there. So a
 * first instruction that only sets flags or is a landing pad (endbr64,
 * test of an argument register with itself) is passed over when a push or
 * a conditional jump follows: the arguments and stack are the same there,
 * and the function's second instruction is not a jump target in these
 * prologues. Otherwise off itself. */
/* an instruction the kernel emulates: push %reg, or a conditional jump */
static bool emulated(const uint8_t *b)
{
	return (b[0] >= 0x50 && b[0] <= 0x57) || (b[0] == 0x41 && b[1] >= 0x50 && b[1] <= 0x57) ||
	       (b[0] >= 0x70 && b[0] <= 0x7f) || (b[0] == 0x0f && b[1] >= 0x80 && b[1] <= 0x8f);
}

static uint64_t probe_offset(const struct symfile *sf, uint64_t off)
{
	static const uint8_t endbr64[] = { 0xf3, 0x0f, 0x1e, 0xfa };
	static const uint8_t tests[][3] = {
		{ 0x48, 0x85, 0xff }, /* test %rdi,%rdi */
		{ 0x48, 0x85, 0xf6 }, /* test %rsi,%rsi */
	};
	uint8_t b[12];
	size_t skip = 0, k;

	if (pread(sf->elf_fd, b, sizeof(b), off) != (ssize_t)sizeof(b) || emulated(b))
		return off;
	if (!memcmp(b, endbr64, sizeof(endbr64)))
		skip = sizeof(endbr64);
	if (emulated(b + skip))
		return off + skip;
	for (k = 0; k < AP_ARRAY_SIZE(tests); k++)
		if (!memcmp(b + skip, tests[k], 3) && emulated(b + skip + 3))
			return off + skip + 3;
	return off;
}

/* the file offsets of sf's allocator functions; how many were found
 * (free and malloc must be: else 0). Aliases (glibc's memalign and
 * aligned_alloc are one function) are probed once, under the first name */
static int find_functions(const struct symfile *sf, uint64_t *off)
{
	int fn, k, n = 0, j;

	for (fn = 0; fn < AP_MALLOC__COUNT; fn++) {
		off[fn] = UINT64_MAX;
		for (k = 0; k < FN_NAMES && off[fn] == UINT64_MAX; k++)
			if (fn_syms[fn][k] && symfile__func_offset(sf, fn_syms[fn][k], &off[fn]))
				off[fn] = UINT64_MAX;
		for (j = 0; j < fn && off[fn] != UINT64_MAX; j++)
			if (off[j] == off[fn])
				off[fn] = UINT64_MAX;
		n += off[fn] != UINT64_MAX;
	}
	for (fn = 0; fn < AP_MALLOC__COUNT; fn++)
		if (off[fn] != UINT64_MAX)
			off[fn] = probe_offset(sf, off[fn]);
	if (off[AP_MALLOC_MALLOC] == UINT64_MAX || off[AP_MALLOC_FREE] == UINT64_MAX)
		return 0;
	return n;
}

/* pid maps (or is about to exec a program that maps) sf: if it defines
 * the allocator, probe it in pid */
static void malloc_on_file(struct ap_collector *c, uint32_t pid, const struct symfile *sf,
			   bool before_exec)
{
	struct cpu_collector *cc = c->cc;
	struct malloc_coll *m = c->priv;
	struct mprobed_key key = { .pid = pid, .dev = sf->dev, .ino = sf->ino };
	uint64_t off[AP_MALLOC__COUNT], v = 0;
	struct bpf_link *l;
	char self[64];
	int fn;

	/* the launched target before its exec: held (not counted) until then */
	if (before_exec && !m->held) {
		uint8_t one = 1;

		if (!bpf_map__update_elem(cc->skel->maps.malloc_hold, &pid, sizeof(pid), &one, 1,
					  BPF_ANY)) {
			cc->skel->bss->malloc_holding = true;
			m->held = true;
		}
	}
	if (hmap_get(&m->probed, &key, sizeof(key), &v) && v)
		return;
	if (!find_functions(sf, off))
		return;
	hmap_put(&m->probed, &key, sizeof(key), 1);
	/* the kernel resolves a uprobe's path itself: give it the file this
	 * symfile checked (its fd), not a name the target could re-point */
	snprintf(self, sizeof(self), "/proc/self/fd/%d", sf->fd);
	for (fn = 0; fn < AP_MALLOC__COUNT; fn++) {
		if (off[fn] == UINT64_MAX)
			continue;
		l = attach_one(cc, false, pid, self, off[fn], fn);
		if (l && fn != AP_MALLOC_FREE) {
			keep_link(m, l, pid);
			l = attach_one(cc, true, pid, self, off[fn], fn);
		}
		if (!l && errno == ESRCH) {
			m->exited_before_probe++;
			return;
		}
		if (!l) {
			if (!m->attach_errors++)
				ap_warn("malloc: %s: uprobe on %s: %s", sf->path, ap_malloc_fn_names[fn],
					ap_errstr(-errno));
			continue;
		}
		keep_link(m, l, pid);
	}
	m->files_probed++;
	ap_debug("malloc: pid %u: probes on %s (malloc at file offset %#" PRIx64 ")", pid, sf->path,
		 off[AP_MALLOC_MALLOC]);
}

/* pid was released: its probes go (perf fds), and a later process with
 * the same pid is probed anew */
static void malloc_release(struct ap_collector *c, uint32_t pid)
{
	struct malloc_coll *m = c->priv;
	size_t i = 0, k;

	while (i < m->nr_links) {
		if (m->links[i].pid != pid) {
			i++;
			continue;
		}
		bpf_link__destroy(m->links[i].link);
		m->links[i] = m->links[--m->nr_links];
	}
	for (k = 0; k < m->probed.cap; k++) {
		const struct mprobed_key *pk = m->probed.ents[k].key;

		if (pk && pk->pid == pid)
			m->probed.ents[k].val = 0;
	}
}

static void malloc_detach(struct ap_collector *c)
{
	struct malloc_coll *m = c->priv;
	size_t i;

	if (!m)
		return;
	/* counting stops at one instant, not at each probe's (slow) detach */
	if (c->cc->skel && c->cc->skel->bss)
		c->cc->skel->bss->malloc_on = false;
	for (i = 0; i < m->nr_links; i++)
		bpf_link__destroy(m->links[i].link);
	m->nr_links = 0;
}

static void sample_keep(struct malloc_coll *m, const struct msample *s)
{
	if (m->nr_samples >= AP_MALLOC_SAMPLES_MAX) {
		m->samples_dropped++;
		return;
	}
	GROW(m->samples, m->cap_samples, m->nr_samples + 1);
	m->samples[m->nr_samples++] = *s;
	hmap_put(&m->sample_ids, &s->id, sizeof(s->id), m->nr_samples);
}

static int malloc_attach(struct ap_collector *c)
{
	int err = collect_attach_prog(c, c->cc->skel->progs.on_malloc_exec);

	/* every function of the processes found so far counted from now on,
	 * not each from its own probe's attach */
	c->cc->skel->bss->malloc_on = true;
	return err;
}

static int malloc_on_record(struct ap_collector *c, uint32_t type, const void *data, size_t size)
{
	struct cpu_collector *cc = c->cc;
	struct malloc_coll *m = c->priv;
	const struct ap_cpu_sample *s = data;
	struct ap_mem_time t;
	uint32_t stack;

	if (type != AP_REC_MALLOC_SAMPLE || size < AP_CPU_SAMPLE_HDR) {
		m->bad++;
		return -EINVAL;
	}
	/* the trap is in user mode: no kernel frames */
	stack = collect_record_stack(cc, s, size, NULL, 0);
	if (stack == AP_NONE)
		return 0; /* counted by collect_record_stack */
	m->received++;
	profile__add_mem(&cc->ses->prof, s->tgid, s->tid, stack, AP_MEM_ALLOC, s->aux[1], 1);
	t = (struct ap_mem_time){ .t_ns = s->time_ns, .bytes = s->aux[1], .addr = 0,
				  .pid = s->tgid, .tid = s->tid, .stack = stack,
				  .kind = AP_MEM_ALLOC };
	profile__add_mem_time(&cc->ses->prof, &t);
	sample_keep(m, &(struct msample){ .id = s->aux[2], .pid = s->tgid, .tid = s->tid,
					  .stack = stack, .gen = m->gen });
	return 0;
}

static void stats_row(const void *k, const void *v, void *ctx)
{
	const struct ap_malloc_key *key = k;
	const struct ap_malloc_val *val = v;
	struct malloc_coll *m = ctx;

	if (key->fn >= AP_MALLOC__COUNT)
		return;
	m->calls[key->fn] += val->calls;
	m->bytes[key->fn] += val->bytes;
}

/* The sampled allocations still in malloc_live: as AP_MEM_LIVE rows into
 * `into` when rows is set; the samples neither live nor recent forgotten */
static void read_live(struct ap_collector *c, struct profile *into, bool rows)
{
	struct malloc_coll *m = c->priv;
	int fd = bpf_map__fd(c->cc->skel->maps.malloc_live);
	struct ap_malloc_live_key key, next, *prev = NULL;
	struct ap_malloc_live v;
	struct hmap live = { 0 };
	struct msample *keep = NULL;
	size_t nk = 0, ck = 0, i;
	uint64_t idx, n = 0;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &v))
			continue;
		n++;
		hmap_put(&live, &v.sample_id, sizeof(v.sample_id), 1);
		if (!rows)
			continue;
		if (hmap_get(&m->sample_ids, &v.sample_id, sizeof(v.sample_id), &idx) && idx) {
			const struct msample *s = &m->samples[idx - 1];

			profile__add_mem(into, s->pid, s->tid, s->stack, AP_MEM_LIVE, v.weight, 1);
		} else {
			/* its record was lost or dropped: not captured */
			m->live_unknown++;
			profile__add_mem(into, key.tgid, 0, profile__stack(into, NULL, 0), AP_MEM_LIVE,
					 v.weight, 1);
		}
		m->live_rows++;
		m->live_bytes += v.weight;
	}
	m->live_read = n;
	/* a sample of this flush may not have returned yet: kept one more */
	for (i = 0; i < m->nr_samples; i++) {
		const struct msample *s = &m->samples[i];

		if (s->gen != m->gen && !hmap_get(&live, &s->id, sizeof(s->id), &idx))
			continue;
		GROW(keep, ck, nk + 1);
		keep[nk++] = *s;
	}
	free(m->samples);
	hmap_free(&m->sample_ids);
	m->samples = keep;
	m->nr_samples = nk;
	m->cap_samples = ck;
	for (i = 0; i < nk; i++)
		hmap_put(&m->sample_ids, &keep[i].id, sizeof(keep[i].id), i + 1);
	hmap_free(&live);
	m->gen++;
}

static void malloc_flush(struct ap_collector *c, uint64_t end_ns, struct profile *into)
{
	struct malloc_coll *m = c->priv;
	uint64_t calls;
	int i;

	map_drain(bpf_map__fd(c->cc->skel->maps.malloc_stats), sizeof(struct ap_malloc_key),
		  sizeof(struct ap_malloc_val), stats_row, m);
	/* live is a state, not a flow: its rows once, at the end (after the
	 * detach, nothing changes it any more) */
	read_live(c, into, c->cc->stopped);
	if (!c->cc->stopped)
		return;
	for (i = 0, calls = 0; i < AP_MALLOC__COUNT; i++)
		calls += m->calls[i];
	if (!calls)
		ap_warn("malloc: no call of malloc or free was seen (a static program without its "
			"symbol table has no malloc to probe)");
}

static void malloc_counters(struct ap_collector *c, struct profile *into)
{
	struct malloc_coll *m = c->priv;
	int ncpu = libbpf_num_possible_cpus(), i, k;
	uint64_t total = 0;
	char name[64];

	for (i = 0; i < AP_MALLOC__COUNT; i++) {
		snprintf(name, sizeof(name), "malloc_calls_%s", ap_malloc_fn_names[i]);
		profile__set_counter(into, name, m && c->enabled ? m->calls[i] : 0);
		total += m && c->enabled && i != AP_MALLOC_FREE ? m->bytes[i] : 0;
	}
	profile__set_counter(into, "malloc_bytes_requested", total);
	for (i = 0; i < AP_MCNT__COUNT; i++) {
		uint64_t vals[ncpu > 0 ? ncpu : 1], sum = 0;
		uint32_t key = i;

		memset(vals, 0, sizeof(vals));
		if (c->enabled && ncpu > 0 &&
		    !bpf_map__lookup_elem(c->cc->skel->maps.malloc_cnt, &key, sizeof(key), vals,
					  sizeof(vals), 0))
			for (k = 0; k < ncpu; k++)
				sum += vals[k];
		profile__set_counter(into, mcnt_names[i], sum);
	}
	profile__set_counter(into, "malloc_rate_bytes", m && c->enabled ? m->rate : 0);
	profile__set_counter(into, "malloc_samples_received", m ? m->received : 0);
	profile__set_counter(into, "malloc_samples_dropped", m ? m->samples_dropped : 0);
	profile__set_counter(into, "malloc_live_allocations", m ? m->live_rows : 0);
	profile__set_counter(into, "malloc_live_bytes", m ? m->live_bytes : 0);
	profile__set_counter(into, "malloc_live_not_captured", m ? m->live_unknown : 0);
	profile__set_counter(into, "malloc_files_probed", m ? m->files_probed : 0);
	profile__set_counter(into, "malloc_attach_errors", m ? m->attach_errors : 0);
	profile__set_counter(into, "malloc_exited_before_probe", m ? m->exited_before_probe : 0);
	profile__set_counter(into, "malloc_missed_in_kernel",
			     c->enabled ? collect_prog_misses(c->cc->skel->progs.on_malloc_entry) +
						  collect_prog_misses(c->cc->skel->progs.on_malloc_return) :
					  0);
}

static void malloc_free(struct ap_collector *c)
{
	struct malloc_coll *m = c->priv;

	if (!m)
		return;
	malloc_detach(c);
	free(m->links);
	hmap_free(&m->probed);
	free(m->samples);
	hmap_free(&m->sample_ids);
	free(m);
	c->priv = NULL;
}

const struct ap_collector_ops malloc_ops = {
	.name = "malloc",
	.records = 1u << AP_REC_MALLOC_SAMPLE,
	.configure = malloc_configure,
	.attach = malloc_attach,
	.on_record = malloc_on_record,
	.flush = malloc_flush,
	.counters = malloc_counters,
	.on_release = malloc_release,
	.detach = malloc_detach,
	.free = malloc_free,
	.on_file = malloc_on_file,
};
