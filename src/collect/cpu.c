// SPDX-License-Identifier: MIT
/* On-CPU collector: BPF lifecycle (open, size, load, attach), cpu-clock
 * perf events per CPU, and the sample path: ring buffer record -> mappings
 * of the sample's time -> libdw unwind -> symbols -> interned stack. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <linux/perf_event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "shared.h"
#include "autoprof.skel.h"
#include "artifact/artifact.h"
#include "collect/cpu.h"
#include "collect/mmaptrack.h"
#include "log.h"
#include "python/pyproc.h"
#include "symbolize/safeopen.h"
#include "unwind/unwind.h"
#include "util.h"

struct cpu_collector {
	struct ap_session *ses;
	struct autoprof_bpf *skel;
	struct ring_buffer *rb;
	struct mmaptrack *mt;
	struct bpf_link **links;
	int *pfds;
	int nr_links;
	struct bpf_link *fork_link;
	struct bpf_link *tp_links[8];  /* sched, exec and syscall tracepoints */
	int nr_tp_links;
	struct hmap off_stacks;     /* (tgid, sid) -> stack id of an AP_REC_OFF_STACK */
	struct hmap kstacks;        /* off-CPU kernel stack id -> stack id (kernel frames only) */
	uint64_t t0_ns;             /* when tracking began (BPF's t0_ns) */
	struct hmap ucache;         /* (symcache id, vaddr) -> frame id */
	struct hmap kcache;         /* kernel pc -> frame id */
	uint64_t received;          /* samples handled */
	uint64_t bad_records;
	uint64_t unwind_frames;
	uint64_t no_image;          /* samples of a process whose mappings we never saw */
	uint64_t py_unknown_code;   /* Python frames whose code object never arrived */
	uint32_t *frames;           /* scratch: one stack */
	struct pycode_cache pyc;
	struct hmap pyframes;       /* (tgid, sig, code, instr) -> frame id */
	struct hmap py_warned;      /* paths already warned about */
	struct py_link {            /* --py-calls uprobes, one per (pid, interpreter) */
		struct bpf_link *link;  /* a perf fd: destroyed at the process's release */
		uint32_t pid;
		char *key;              /* its py_probed key */
	} *py_links;
	struct hmap py_probed;      /* (pid, path) -> 1 while probed */
	size_t nr_py_links, cap_py_links;
	uint64_t py_calls_attach_errors;
	uint64_t py_links_released;
	struct py_pending {         /* placeholder frames awaiting their code record */
		uint32_t frame;
		uint32_t tgid, sig;
		uint64_t code;
		int32_t instr;
	} *pending;
	size_t nr_pending, cap_pending;
	size_t *iv_pending;         /* intervals whose stack a syscall exit will name */
	size_t nr_iv_pending, cap_iv_pending;
	struct hmap needs_libpython; /* symcache id -> 1 + (it loads libpython3*) */
	uint64_t exec_seen_ns;      /* the last exec record: drain every AP_EXEC_WAKEUP_GAP_NS */
	uint32_t py_wait_pid;       /* exec'd a program that loads libpython: poll */
	uint64_t py_wait_until;     /* every ms until it is configured, or this time */
	struct exiting {            /* processes that exited, in the order seen */
		uint32_t pid;
		uint64_t seen_ns;
	} *exiting;
	size_t nr_exiting, cap_exiting;
	int epfd;
};

/* C++ names: the demangler of libstdc++ (the Itanium ABI's own), rather
 * than a hand-written one; returns malloc'ed text or NULL */
extern char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

#define CC_MAX_FRAMES (AP_KSTACK_MAX + AP_MAX_UFRAMES + AP_MAX_PY_FRAMES)

static int perf_event_open_cpu_clock(int cpu, long freq)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.config = PERF_COUNT_SW_CPU_CLOCK,
		.size = sizeof(attr),
		/* a fixed period in ns is exact for cpu-clock; freq mode would
		 * make the kernel re-tune it */
		.sample_period = 1000000000ull / freq,
	};

	return syscall(__NR_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

static bool mt_filter(uint32_t pid, uint32_t ppid, void *ctx)
{
	return session__is_tracked(ctx, pid, ppid);
}

/* uprobe on this process's eval loop; per pid, so other users of the same
 * interpreter binary are not trapped */
static void attach_py_calls(struct cpu_collector *cc, uint32_t pid, const struct symfile *sf)
{
	const char *path = sf->path;
	struct bpf_link *l;
	uint64_t off, v;
	char key[PATH_MAX + 16], self[64];
	int kl = snprintf(key, sizeof(key), "%u:%s", pid, path);

	if (hmap_get(&cc->py_probed, key, kl, &v) && v)
		return;
	hmap_put(&cc->py_probed, key, kl, 1);

	/* our own symbol table: asking libbpf to resolve the name re-parses
	 * the ELF, slow enough for a short script to run past the probe */
	if (symfile__func_offset(sf, "_PyEval_EvalFrameDefault", &off)) {
		if (!cc->py_calls_attach_errors++)
			ap_warn("python: --py-calls: %s has no _PyEval_EvalFrameDefault symbol", path);
		return;
	}
	uint64_t t0 = now_mono_ns();

	/* the kernel resolves a uprobe's path itself: give it the file this
	 * symfile read (its fd), not a name the target could re-point */
	snprintf(self, sizeof(self), "/proc/self/fd/%d", sf->fd);
	l = bpf_program__attach_uprobe(cc->skel->progs.on_py_eval_entry, false, pid, self, off);
	ap_debug("python: pid %u: uprobe attached in %.2f ms", pid, (now_mono_ns() - t0) / 1e6);
	if (!l) {
		if (!cc->py_calls_attach_errors++)
			ap_warn("python: --py-calls: uprobe on %s:_PyEval_EvalFrameDefault: %s", path,
				ap_errstr(-errno));
		return;
	}
	GROW(cc->py_links, cc->cap_py_links, cc->nr_py_links + 1);
	cc->py_links[cc->nr_py_links++] = (struct py_link){ l, pid, xstrdup(key) };
}

/* pid was released: its uprobes go (one perf fd each, which would
 * otherwise add up over a run's Python processes), and a later process
 * with the same pid is probed anew */
static void release_py_links(struct cpu_collector *cc, uint32_t pid)
{
	size_t i = 0;

	while (i < cc->nr_py_links) {
		struct py_link *pl = &cc->py_links[i];

		if (pl->pid != pid) {
			i++;
			continue;
		}
		bpf_link__destroy(pl->link);
		hmap_put(&cc->py_probed, pl->key, strlen(pl->key), 0);
		free(pl->key);
		*pl = cc->py_links[--cc->nr_py_links];
		cc->py_links_released++;
	}
}

/* through the cache under the key a mapping of it will use (dev, inode):
 * the file the command's path names now (realpath: as exec will follow
 * its symlinks), opened without blocking and only if it is a regular file */
static struct symfile *warm_symfile(struct cpu_collector *cc, const char *path)
{
	struct symcache *sc = &cc->ses->pm.sc;
	char real[PATH_MAX];
	struct symfile *sf;
	struct stat st;
	bool hit;
	int fd;

	if (!realpath(path, real))
		return NULL;
	fd = open_checked(real, 0, 0, 0, &st);
	if (fd < 0)
		return NULL;
	sf = symcache__lookup(sc, st.st_dev, st.st_ino, &hit, NULL);
	if (hit) {
		close(fd);
		return sf;
	}
	return symcache__add(sc, st.st_dev, st.st_ino, fd, real, NULL);
}

void cpu_collector__prepare_exec(struct cpu_collector *cc, uint32_t pid, const char *exe)
{
	struct symfile *sf = warm_symfile(cc, exe);
	char *lib = NULL;

	if (sf && !sf->py_runtime) {
		lib = symfile__find_needed(sf, exe, "libpython3");
		sf = lib ? warm_symfile(cc, lib) : NULL;
	}
	if (sf && sf->py_runtime && cc->ses->opts.py_calls)
		attach_py_calls(cc, pid, sf);
	free(lib);
}

/* a mapping of a tracked process: is it a CPython runtime to configure? */
static void on_map(void *ctx, uint32_t pid, struct ap_image *img, const struct ap_mapping *m)
{
	struct cpu_collector *cc = ctx;
	struct ap_py_proc pp;
	char why[512];
	int minor, err;

	if (img->py_minor || (!m->sf->py_runtime && !m->sf->py_code_type) || !cc->skel)
		return;
	err = pyproc__detect(m, &pp, &minor, why, sizeof(why));
	if (err) {
		img->py_minor = -1;
		if (err == -ENOTSUP && !hmap_get(&cc->py_warned, m->path, strlen(m->path), &(uint64_t){ 0 })) {
			hmap_put(&cc->py_warned, m->path, strlen(m->path), 1);
			ap_warn("python: %s; native stacks only", why);
		}
		return;
	}
	if (bpf_map__update_elem(cc->skel->maps.py_procs, &pid, sizeof(pid), &pp, sizeof(pp),
				 BPF_ANY)) {
		ap_warn("python: pid %u: configuring the frame walker: %s", pid, ap_errstr(-errno));
		return;
	}
	img->py_minor = minor;
	img->py_sf = m->sf;
	ap_info("python: pid %u runs CPython 3.%d from %s (configured %.1f ms after its exec)", pid,
		minor, m->path, (now_mono_ns() - img->start_time) / 1e6);
	if (cc->ses->opts.py_calls)
		attach_py_calls(cc, pid, m->sf);
}

/* Does the program pid just exec'd load a libpython3 (a --enable-shared
 * build)? Then its interpreter is mapped by ld.so after the exec, and the
 * side-band, which wakes us only when a quarter full, may hold the mapping
 * for up to a drain interval: poll every millisecond until the
 * interpreter is configured (on_map), so its first Python code is seen.
 * An interpreter in the executable itself is configured at the exec. */
#define CC_PY_WAIT_NS 300000000ull

static void watch_exec(struct cpu_collector *cc, uint32_t pid)
{
	struct ap_proc *proc = procmaps__find(&cc->ses->pm, pid);
	struct ap_image *img = proc ? proc__image_at(proc, UINT64_MAX) : NULL;
	const struct ap_mapping *m = NULL;
	uint64_t *slot;
	bool is_new;
	size_t i;

	if (!img || img->py_minor)
		return;
	for (i = 0; i < img->nr_maps && !m; i++) /* the executable is mapped first */
		if (img->maps[i].sf_id)
			m = &img->maps[i];
	if (!m)
		return;
	slot = hmap_upsert(&cc->needs_libpython, &m->sf_id, sizeof(m->sf_id), 0, &is_new);
	if (is_new) {
		/* the file the mapping was checked to be, not its name again */
		char *lib = symfile__find_needed(m->sf, m->sf->path, "libpython3");

		*slot = 1 + (lib != NULL);
		free(lib);
	}
	if (*slot == 2) {
		cc->py_wait_pid = pid;
		cc->py_wait_until = now_mono_ns() + CC_PY_WAIT_NS;
	}
}

/* still waiting for the interpreter of cc->py_wait_pid? */
static bool py_waiting(struct cpu_collector *cc)
{
	struct ap_proc *proc;
	struct ap_image *img;

	if (!cc->py_wait_pid)
		return false;
	proc = procmaps__find(&cc->ses->pm, cc->py_wait_pid);
	img = proc ? proc__image_at(proc, UINT64_MAX) : NULL;
	if (!img || img->py_minor || now_mono_ns() >= cc->py_wait_until)
		cc->py_wait_pid = 0;
	return cc->py_wait_pid != 0;
}

static void on_exec(void *ctx, uint32_t pid)
{
	struct cpu_collector *cc = ctx;

	/* the new program maps its own interpreter, if any */
	if (cc->skel)
		bpf_map__delete_elem(cc->skel->maps.py_procs, &pid, sizeof(pid), 0);
}

struct cpu_collector *cpu_collector__open(struct ap_session *ses)
{
	struct cpu_collector *cc = xcalloc(1, sizeof(*cc));
	int err;

	cc->ses = ses;
	cc->frames = xcalloc(CC_MAX_FRAMES, sizeof(*cc->frames));
	cc->epfd = -1;
	ses->pm.on_map = on_map;
	ses->pm.on_exec = on_exec;
	ses->pm.hook_ctx = cc;
	cc->skel = autoprof_bpf__open();
	if (!cc->skel) {
		err = -errno;
		ap_err("bpf: open: %s", ap_errstr(err));
		goto err_out;
	}
	cc->skel->rodata->ustack_limit = ses->opts.stack_size;
	cc->skel->rodata->follow_children = !ses->opts.no_children;
	cc->skel->rodata->py_depth = ses->opts.py_depth;
	cc->skel->rodata->nr_cpus = ses->nr_cpus;
	bpf_map__set_max_entries(cc->skel->maps.scratch, AP_NR_SLOTS * ses->nr_cpus);
	bpf_program__set_autoload(cc->skel->progs.on_py_eval_entry, ses->opts.py_calls);
	cc->skel->rodata->syscalls_on = !ses->opts.no_syscalls;
	cc->skel->rodata->offcpu_stacks = !ses->opts.no_offcpu;
	cc->skel->rodata->min_block_ns = ses->opts.min_block_ns;
	cc->skel->rodata->interval_min_ns = ses->opts.no_offcpu ? 0 : ses->opts.interval_min_ns;
	cc->skel->rodata->slow_ns = ses->opts.slow_ns;
	bpf_program__set_autoload(cc->skel->progs.on_switch, !ses->opts.no_offcpu);
	bpf_program__set_autoload(cc->skel->progs.on_wakeup, !ses->opts.no_offcpu);
	bpf_program__set_autoload(cc->skel->progs.on_sys_enter,
				  !ses->opts.no_offcpu || !ses->opts.no_syscalls);
	bpf_program__set_autoload(cc->skel->progs.on_sys_exit,
				  !ses->opts.no_offcpu || !ses->opts.no_syscalls);
	ses->prof.has_offcpu = !ses->opts.no_offcpu;
	ses->prof.min_block_ns = ses->opts.min_block_ns;
	ses->prof.interval_min_ns = ses->opts.no_offcpu ? 0 : ses->opts.interval_min_ns;
	ses->prof.has_timeline = true;
	ses->prof.has_syscalls = !ses->opts.no_syscalls;
	ses->prof.slow_ns = ses->opts.slow_ns;
	bpf_map__set_max_entries(cc->skel->maps.samples, ses->opts.ringbuf_mb << 20);
	cc->skel->rodata->wakeup_bytes = (ses->opts.ringbuf_mb << 20) / 4;
	if (ses->opts.all)
		ap_filter__configure(&ses->opts.filter, cc->skel);
	err = autoprof_bpf__load(cc->skel);
	if (err) {
		ap_err("bpf: loading the BPF programs failed: %s (run with -vv to see the verifier log)",
		       ap_errstr(err));
		goto err_out;
	}
	if (ses->opts.all) {
		err = ap_filter__load(&ses->opts.filter, cc->skel, getpid());
		if (err)
			goto err_out;
	}
	/* kallsyms was read before our programs existed: name their frames
	 * (and every other program's) by their real address ranges */
	if (ses->ks)
		ap_debug("kallsyms: %d BPF functions added", kallsyms__add_bpf(ses->ks));
	return cc;

err_out:
	cpu_collector__free(cc);
	errno = -err;
	return NULL;
}

int cpu_collector__track(struct cpu_collector *cc, uint32_t pid)
{
	__u8 one = 1;
	int err;

	if (bpf_map__update_elem(cc->skel->maps.tracked, &pid, sizeof(pid), &one, 1, BPF_ANY)) {
		err = -errno;
		ap_err("bpf: tracking pid %u: %s", pid, ap_errstr(err));
		return err;
	}
	session__track(cc->ses, pid);
	err = procmaps__load_proc(&cc->ses->pm, pid, 0);
	if (err)
		ap_warn("cpu: pid %u: reading its mappings: %s", pid, ap_errstr(err));
	return 0;
}

static int handle_record(void *ctx, void *data, size_t size);

int cpu_collector__attach(struct cpu_collector *cc)
{
	struct ap_session *ses = cc->ses;
	int cpu, fd, err;

	/* side-band first: nothing mapped after this point is missed */
	cc->mt = mmaptrack__new(&ses->pm, mt_filter, ses);
	if (!cc->mt) {
		err = -errno;
		ap_err("cpu: cannot track process mappings: %s", ap_errstr(err));
		return err;
	}
	cc->rb = ring_buffer__new(bpf_map__fd(cc->skel->maps.samples), handle_record, cc, NULL);
	if (!cc->rb) {
		err = -errno;
		ap_err("cpu: ring buffer: %s", ap_errstr(err));
		return err;
	}
	cc->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (cc->epfd < 0 ||
	    epoll_ctl(cc->epfd, EPOLL_CTL_ADD, ring_buffer__epoll_fd(cc->rb),
		      &(struct epoll_event){ .events = EPOLLIN }) ||
	    epoll_ctl(cc->epfd, EPOLL_CTL_ADD, mmaptrack__epoll_fd(cc->mt),
		      &(struct epoll_event){ .events = EPOLLIN })) {
		err = -errno;
		ap_err("cpu: epoll: %s", ap_errstr(err));
		return err;
	}
	cc->fork_link = bpf_program__attach(cc->skel->progs.on_fork);
	if (!cc->fork_link) {
		err = -errno;
		ap_warn("proc: cannot attach sched_process_fork (%s): child processes will not be followed",
			ap_errstr(err));
	}
	{
		struct bpf_program *tps[] = {
			cc->skel->progs.on_thread_exit, cc->skel->progs.on_exec, cc->skel->progs.on_switch,
			cc->skel->progs.on_wakeup, cc->skel->progs.on_sys_enter,
			cc->skel->progs.on_sys_exit,
		};
		size_t i;

		/* the moment accounting begins: time before it is "unknown" */
		cc->t0_ns = now_mono_ns();
		cc->skel->bss->t0_ns = cc->t0_ns;
		for (i = 0; i < sizeof(tps) / sizeof(tps[0]); i++) {
			if (!bpf_program__autoload(tps[i]))
				continue;
			cc->tp_links[cc->nr_tp_links] = bpf_program__attach(tps[i]);
			if (!cc->tp_links[cc->nr_tp_links]) {
				err = -errno;
				ap_err("bpf: attaching %s: %s", bpf_program__section_name(tps[i]),
				       ap_errstr(err));
				return err;
			}
			cc->nr_tp_links++;
		}
	}
	cc->links = xcalloc(ses->nr_cpus, sizeof(*cc->links));
	cc->pfds = xcalloc(ses->nr_cpus, sizeof(*cc->pfds));
	for (cpu = 0; cpu < ses->nr_cpus; cpu++) {
		fd = perf_event_open_cpu_clock(cpu, ses->opts.freq);
		if (fd < 0) {
			err = -errno;
			if (err == -ENODEV) /* offline CPU */
				continue;
			ap_err("cpu: perf_event_open(cpu-clock) on cpu %d: %s", cpu, ap_errstr(err));
			return err;
		}
		cc->links[cc->nr_links] = bpf_program__attach_perf_event(cc->skel->progs.on_cpu_sample, fd);
		if (!cc->links[cc->nr_links]) {
			err = -errno;
			close(fd);
			ap_err("cpu: attach on cpu %d: %s", cpu, ap_errstr(err));
			return err;
		}
		cc->pfds[cc->nr_links++] = fd;
	}
	return 0;
}

static uint32_t kernel_frame(struct cpu_collector *cc, uint64_t pc)
{
	struct profile *p = &cc->ses->prof;
	const char *name = NULL, *mod = NULL;
	uint64_t *slot, off;
	bool is_new;
	uint32_t m = AP_NONE;

	slot = hmap_upsert(&cc->kcache, &pc, sizeof(pc), 0, &is_new);
	if (!is_new)
		return *slot;
	if (cc->ses->ks)
		name = kallsyms__lookup(cc->ses->ks, pc, &mod, &off);
	m = profile__module(p, mod ? mod : "[kernel.kallsyms]", "");
	*slot = profile__frame(p, AP_FRAME_KERNEL, name ? name : "[unknown]", m, name ? pc - off : 0);
	return *slot;
}

/* symbolize one user pc (already adjusted to lie inside its call instruction) */
static uint32_t user_frame(struct cpu_collector *cc, const struct ap_image *img, uint64_t pc)
{
	struct profile *p = &cc->ses->prof;
	const struct ap_mapping *m = img ? image__find(img, pc) : NULL;
	struct {
		uint64_t sf_id; /* 0: the vDSO; ids outlive a closed symfile */
		uint64_t vaddr;
	} key;
	const char *name;
	char *dem, fn[300];
	uint64_t *slot, off, vaddr, start;
	bool is_new;
	uint32_t mod;
	int st;

	if (!m)
		return profile__frame(p, AP_FRAME_USER, "[unknown]", AP_NONE, 0);
	if (!m->sf) {
		if (m->special) /* "[vdso]" */
			return profile__frame(p, AP_FRAME_USER, m->path, AP_NONE, 0);
		if (!m->path || m->path[0] != '/')
			return profile__frame(p, AP_FRAME_USER, "[anon]", AP_NONE, 0);
		mod = profile__module(p, m->path, "");
		return profile__frame(p, AP_FRAME_USER, "[unknown]", mod, 0);
	}
	vaddr = pc - m->bias;
	memset(&key, 0, sizeof(key));
	key.sf_id = m->sf_id;
	key.vaddr = vaddr;
	slot = hmap_upsert(&cc->ucache, &key, sizeof(key), 0, &is_new);
	if (!is_new)
		return *slot;
	/* the vDSO's file is our memfd copy; name it as the process does */
	mod = profile__module(p, m->special ? m->path : m->sf->path, m->sf->build_id);
	if (m->sf == img->py_sf)
		p->modules[mod].flags |= AP_MOD_PY_RUNTIME;
	name = symfile__lookup(m->sf, vaddr, &off);
	if (!name && !symfile__fde_start(m->sf, vaddr, &start)) {
		/* no symbol, but .eh_frame knows the function: one frame per
		 * function ("libz.so.1+0x3a10"), not one per module */
		const char *base = strrchr(m->path, '/');

		snprintf(fn, sizeof(fn), "%s+%#llx", base ? base + 1 : m->path,
			 (unsigned long long)start);
		*slot = profile__frame(p, AP_FRAME_USER, fn, mod, start);
		return *slot;
	}
	dem = name && name[0] == '_' && name[1] == 'Z' ? __cxa_demangle(name, NULL, NULL, &st) : NULL;
	*slot = profile__frame(p, AP_FRAME_USER, dem ? dem : name ? name : "[unknown]", mod,
			       name ? vaddr - off : 0);
	free(dem);
	return *slot;
}

static uint32_t python_frame(struct cpu_collector *cc, uint32_t tgid, const struct ap_py_frame *f)
{
	struct profile *p = &cc->ses->prof;
	struct {
		uint64_t code;
		uint32_t tgid, sig;
		int32_t instr, pad;
	} key = { f->code, tgid, f->sig, f->instr, 0 };
	const struct py_code *pc;
	uint64_t id;
	int line;

	if (hmap_get(&cc->pyframes, &key, sizeof(key), &id))
		return id;
	pc = pycode__find(&cc->pyc, tgid, f->code, f->sig);
	if (!pc) {
		/* its code record was deferred to a later sample (BPF copies a
		 * few per sample) or could not be read: a placeholder, unique
		 * per key, named by py_fixup() if the record arrives */
		char name[64];

		snprintf(name, sizeof(name), "[unknown code %#llx:%u:%d]",
			 (unsigned long long)f->code, f->sig, f->instr);
		id = profile__py_frame(p, name, AP_NONE, 0);
		hmap_put(&cc->pyframes, &key, sizeof(key), id);
		GROW(cc->pending, cc->cap_pending, cc->nr_pending + 1);
		cc->pending[cc->nr_pending++] = (struct py_pending){
			id, tgid, f->sig, f->code, f->instr };
		return id;
	}
	line = pycode__line(pc, f->instr);
	id = profile__py_frame(p, pc->qualname, profile__module(p, pc->filename, ""),
			       line > 0 ? line : 0);
	hmap_put(&cc->pyframes, &key, sizeof(key), id);
	return id;
}

/* name the placeholder frames whose code record has arrived since */
static void py_fixup(struct cpu_collector *cc, bool final)
{
	struct profile *p = &cc->ses->prof;
	size_t i, keep = 0;

	for (i = 0; i < cc->nr_pending; i++) {
		struct py_pending *pd = &cc->pending[i];
		const struct py_code *pc = pycode__find(&cc->pyc, pd->tgid, pd->code, pd->sig);
		struct ap_frame *f = &p->frames[pd->frame];
		int line;

		if (pc) {
			line = pycode__line(pc, pd->instr);
			f->name = profile__str(p, pc->qualname);
			f->module = profile__module(p, pc->filename, "");
			f->line = line > 0 ? line : 0;
		} else if (final) {
			f->name = profile__str(p, "[unknown code]");
			cc->py_unknown_code++;
		} else {
			cc->pending[keep++] = *pd;
		}
	}
	cc->nr_pending = keep;
}

/* stands where the frames beyond --py-depth were: a cut stack is visible */
static uint32_t trunc_frame(struct profile *p)
{
	return profile__py_frame(p, "[truncated]", AP_NONE, 0);
}

static bool is_eval_frame(const struct profile *p, uint32_t frame)
{
	/* includes GCC's split-off "_PyEval_EvalFrameDefault.cold" */
	return !strncmp(profile__s(p, p->frames[frame].name), "_PyEval_EvalFrameDefault", 24);
}

/*
 * Splice Python frames into the native stack. BPF gives frames innermost
 * first; they fall into groups, one per C-level activation of the eval loop:
 * one frame each up to 3.10, up to the is_entry frame on 3.11, between shim
 * frames on 3.12+. Native eval activations are paired with groups from the
 * innermost outwards, so a native stack cut short at its root, or a Python
 * stack cut at its depth limit, still line up at the leaf where it matters.
 * Outer groups without an activation go before the outermost one.
 */
static uint32_t splice(struct cpu_collector *cc, const struct ap_cpu_sample *s, int minor,
		       const uint32_t *native, int nu, uint32_t *out)
{
	struct profile *p = &cc->ses->prof;
	uint16_t gstart[AP_MAX_PY_FRAMES], gend[AP_MAX_PY_FRAMES];
	int ng = 0, cur = -1, nact = 0, act, i, g, j;
	uint32_t n = 0;

	for (i = 0; i < s->nr_py && i < AP_MAX_PY_FRAMES; i++) {
		const struct ap_py_frame *f = &s->py[i];

		if (f->flags & AP_PYF_SHIM) {
			if (cur >= 0)
				ng++;
			cur = -1;
			continue;
		}
		if (cur < 0) {
			cur = ng;
			gstart[cur] = i;
		}
		gend[cur] = i;
		if (minor <= 10 || (minor == 11 && (f->flags & AP_PYF_ENTRY))) {
			ng++;
			cur = -1;
		}
	}
	if (cur >= 0)
		ng++;
	for (i = 0; i < nu; i++)
		nact += is_eval_frame(p, native[i]);

	act = nact; /* activations still to meet, counted from the innermost */
	for (i = nu - 1; i >= 0; i--) {
		out[n++] = native[i];
		if (!is_eval_frame(p, native[i]))
			continue;
		act--;
		/* the outermost activation also takes the groups beyond nact */
		for (g = act == nact - 1 ? ng - 1 : act; g >= act; g--) {
			if (g >= ng)
				continue;
			if (g == ng - 1 && (s->py_flags & AP_SPY_TRUNC))
				out[n++] = trunc_frame(p);
			for (j = gend[g]; j >= gstart[g]; j--)
				out[n++] = python_frame(cc, s->tgid, &s->py[j]);
		}
	}
	if (!nact && ng && (s->py_flags & AP_SPY_TRUNC))
		out[n++] = trunc_frame(p);
	if (!nact) /* no eval loop found natively: Python frames at the leaf */
		for (g = ng - 1; g >= 0; g--)
			for (j = gend[g]; j >= gstart[g]; j--)
				out[n++] = python_frame(cc, s->tgid, &s->py[j]);
	return n;
}

/* Unwind, symbolize and intern the stack of a sample-shaped record; kernel
 * frames kf[0..nk) innermost first. AP_NONE for a malformed record. */
static uint32_t record_stack(struct cpu_collector *cc, const struct ap_cpu_sample *s, size_t size,
			     const uint64_t *kf, int nk)
{
	struct ap_session *ses = cc->ses;
	uint64_t pcs[AP_MAX_UFRAMES];
	uint32_t native[AP_MAX_UFRAMES];
	struct ap_image *img = NULL;
	struct ap_proc *proc;
	uint32_t n = 0;
	int i, nu = 0;

	if (size < AP_CPU_SAMPLE_HDR || s->ustack_size > size - AP_CPU_SAMPLE_HDR ||
	    s->nr_kframes > AP_KSTACK_MAX || s->nr_py > AP_MAX_PY_FRAMES) {
		cc->bad_records++;
		return AP_NONE;
	}
	proc = procmaps__find(&ses->pm, s->tgid);
	if (proc && proc->released) {
		cc->no_image++; /* a record that came after its exit and release */
		proc = NULL;
	} else if (!proc || !proc->nr_images) {
		/* a process we never saw start (e.g. forked before side-band
		 * tracking began): read it now while it lives */
		if (procmaps__load_proc(&ses->pm, s->tgid, 0) == 0)
			proc = procmaps__find(&ses->pm, s->tgid);
		else
			cc->no_image++;
	}
	if (proc) {
		img = proc__image_at(proc, s->time_ns);
		if (!proc->nr_samples++)
			procmaps__refresh(proc);
		if (!proc->labels) /* first sight of this process (or of its exec) */
			proc__labels(proc);
	}
	if (!(s->flags & AP_SF_KERNEL_THREAD) && s->regs[16]) {
		struct ap_uctx uc = {
			.pid = s->tgid, .tid = s->tid, .regs = (const uint64_t *)s->regs,
			.stack = s->ustack, .stack_size = s->ustack_size,
		};

		nu = img ? unwind_user(img, &uc, pcs, AP_MAX_UFRAMES) : (pcs[0] = s->regs[16], 1);
		cc->unwind_frames += nu;
	}
	/* leaf first; callers are looked up inside their call instruction */
	for (i = 0; i < nu; i++)
		native[i] = user_frame(cc, img, i ? pcs[i] - 1 : pcs[i]);
	if (s->nr_py && img && img->py_minor > 0) {
		n = splice(cc, s, img->py_minor, native, nu, cc->frames);
	} else {
		for (i = nu - 1; i >= 0; i--)
			cc->frames[n++] = native[i];
	}
	for (i = nk - 1; i >= 0; i--)
		cc->frames[n++] = kernel_frame(cc, kf[i]);
	return profile__stack(&ses->prof, cc->frames, n);
}

/* kernel frames of an off-CPU stack id (innermost first); how many */
static int off_kstack(struct cpu_collector *cc, int32_t id, uint64_t *kf)
{
	int n;

	if (id < 0 || bpf_map__lookup_elem(cc->skel->maps.off_kstacks, &id, sizeof(id), kf,
					   AP_KSTACK_MAX * sizeof(*kf), 0))
		return 0;
	for (n = 0; n < AP_KSTACK_MAX && kf[n]; n++)
		;
	return n;
}

static int handle_sample(struct cpu_collector *cc, const struct ap_cpu_sample *s, size_t size)
{
	char comm[AP_COMM_LEN + 1];
	uint32_t stack = record_stack(cc, s, size, (const uint64_t *)s->kstack, s->nr_kframes);

	if (stack == AP_NONE)
		return 0;
	cc->received++;
	memcpy(comm, s->comm, AP_COMM_LEN);
	comm[AP_COMM_LEN] = 0;
	profile__add(&cc->ses->prof, s->tgid, s->tid, comm, stack,
		     (s->py_flags & AP_SPY_GIL) ? AP_COUNT_GIL : 0, 1);
	profile__add_time(&cc->ses->prof, s->tgid, s->tid, stack, s->time_ns);
	return 0;
}

/* key of cc->off_stacks: an off-CPU stack identity of the BPF side */
struct off_key {
	uint32_t tgid, pad;
	uint64_t sid;
};

/* An off-CPU or slow-syscall record: its stack, with the kernel frames of
 * the block; a record carrying a stack identity (aux[3]) names it for the
 * kernel's off-CPU aggregates. AP_NONE if malformed. */
static uint32_t blocked_stack(struct cpu_collector *cc, const struct ap_cpu_sample *s, size_t size)
{
	uint64_t kf[AP_KSTACK_MAX];
	int nk = off_kstack(cc, s->kstack_id, kf);
	uint32_t stack = record_stack(cc, s, size, kf, nk);
	struct off_key key = { s->tgid, 0, s->aux[3] };

	if (stack != AP_NONE && key.sid)
		hmap_put(&cc->off_stacks, &key, sizeof(key), stack);
	return stack;
}

static void handle_slow_syscall(struct cpu_collector *cc, const struct ap_cpu_sample *s, size_t size)
{
	struct ap_slow_example ex = {
		.start_ns = s->time_ns, .dur_ns = s->aux[1], .ret = (int64_t)s->aux[2], .tid = s->tid,
	};
	struct profile *p = &cc->ses->prof;
	uint32_t stack = blocked_stack(cc, s, size);

	if (stack == AP_NONE)
		return;
	profile__add_slow(p, s->tgid, s->aux[0], stack, &ex);
}

static uint32_t off_stack_of(struct cpu_collector *cc, uint32_t tgid, uint64_t sid, int32_t kstack);

/* a slow call whose stack an earlier record named */
static void handle_slow_known(struct cpu_collector *cc, const struct ap_slow_rec *r)
{
	struct ap_slow_example ex = {
		.start_ns = r->start_ns, .dur_ns = r->dur_ns, .ret = r->ret, .tid = r->tid,
	};

	profile__add_slow(&cc->ses->prof, r->tgid, r->nr, off_stack_of(cc, r->tgid, r->sid, -1), &ex);
}

/* scheduler accounting of one thread, at its exit or the end of the run */
static void thread_account(struct cpu_collector *cc, const struct ap_thread_stat *st)
{
	struct profile *p = &cc->ses->prof;
	char comm[AP_COMM_LEN + 1];
	struct ap_thread *t;
	int r;

	memcpy(comm, st->comm, AP_COMM_LEN);
	comm[AP_COMM_LEN] = 0;
	t = profile__thread(p, st->tgid, st->tid, comm);
	if (!t->accounted || st->start_ns < t->start_ns)
		t->start_ns = st->start_ns > cc->t0_ns ? st->start_ns : cc->t0_ns;
	t->accounted = true;
	if (st->end_ns > t->end_ns)
		t->end_ns = st->end_ns;
	t->oncpu_ns += st->oncpu_ns;
	for (r = 0; r < AP_OFF__COUNT; r++)
		t->off_ns[r] += st->off_ns[r];
	t->nr_vol += st->nr_vol;
	t->nr_invol += st->nr_invol;
}

static void handle_thread(struct cpu_collector *cc, const struct ap_thread_rec *r)
{
	thread_account(cc, &r->st);
	if (r->st.group_dead) {
		struct ap_process *pr = profile__process(&cc->ses->prof, r->st.tgid);
		uint32_t pid = r->st.tgid;

		pr->exit_status = r->st.exit_code;
		pr->exited = true;
		/* its slot in the BPF tracked set is free for the next child
		 * (the map has AP_MAX_TRACKED entries; a build runs more
		 * commands than that); its mappings and unwinder are freed
		 * once the records it left in flight are drained */
		bpf_map__delete_elem(cc->skel->maps.tracked, &pid, sizeof(pid), 0);
		GROW(cc->exiting, cc->cap_exiting, cc->nr_exiting + 1);
		cc->exiting[cc->nr_exiting++] = (struct exiting){ pid, now_mono_ns() };
	}
}

/* Free the state of processes whose exit was seen two drain intervals
 * ago. The ring buffer hands records over in the order they were reserved,
 * so what a process recorded before its exit record has been handled; the
 * grace is for the few samples of its last kernel instants (exit_files,
 * the final switch), reserved after the exit record. */
#define CC_RELEASE_GRACE_NS 200000000ull

static void release_exited(struct cpu_collector *cc)
{
	uint64_t now = now_mono_ns();
	size_t i = 0;

	while (i < cc->nr_exiting && now - cc->exiting[i].seen_ns >= CC_RELEASE_GRACE_NS) {
		release_py_links(cc, cc->exiting[i].pid);
		procmaps__release(&cc->ses->pm, cc->exiting[i++].pid);
	}
	if (!i)
		return;
	memmove(cc->exiting, cc->exiting + i, (cc->nr_exiting - i) * sizeof(*cc->exiting));
	cc->nr_exiting -= i;
}

static void handle_py_code(struct cpu_collector *cc, const struct ap_py_code *r)
{
	struct ap_proc *proc = procmaps__find(&cc->ses->pm, r->tgid);
	struct ap_image *img = proc ? proc__image_at(proc, UINT64_MAX) : NULL;

	if (img && img->py_minor > 0)
		pycode__add(&cc->pyc, r, img->py_minor);
}

static void handle_interval(struct cpu_collector *cc, const struct ap_off_interval *r);
static void resolve_intervals(struct cpu_collector *cc, uint32_t tid, uint32_t tgid, uint64_t sid,
			      uint64_t since_ns);

static int handle_record(void *ctx, void *data, size_t size)
{
	struct cpu_collector *cc = ctx;
	uint32_t type = size >= 4 ? *(uint32_t *)data : 0;

	/* mappings, execs and forks that happened before this record */
	mmaptrack__consume(cc->mt);
	if (type == AP_REC_SAMPLE)
		return handle_sample(cc, data, size);
	if (type == AP_REC_PY_CODE && size >= sizeof(struct ap_py_code))
		handle_py_code(cc, data);
	else if (type == AP_REC_OFF_STACK)
		blocked_stack(cc, data, size);
	else if (type == AP_REC_SLOW_SYSCALL)
		handle_slow_syscall(cc, data, size);
	else if (type == AP_REC_SLOW_KNOWN && size >= sizeof(struct ap_slow_rec))
		handle_slow_known(cc, data);
	else if (type == AP_REC_THREAD && size >= sizeof(struct ap_thread_rec))
		handle_thread(cc, data);
	else if (type == AP_REC_OFF_INTERVAL && size >= sizeof(struct ap_off_interval))
		handle_interval(cc, data);
	else if (type == AP_REC_OFF_LINK && size >= sizeof(struct ap_off_link)) {
		const struct ap_off_link *l = data;

		if (l->sid)
			resolve_intervals(cc, l->tid, l->tgid, l->sid, l->since_ns);
	}
	else if (type == AP_REC_EXEC && size >= sizeof(struct ap_exec_rec)) {
		const struct ap_exec_rec *r = data;
		char comm[AP_COMM_LEN + 1];

		memcpy(comm, r->comm, AP_COMM_LEN);
		comm[AP_COMM_LEN] = 0;
		procmaps__set_cmdline(&cc->ses->pm, r->tgid, r->time_ns, comm, r->args,
				      r->args_len < AP_ARGS_MAX ? r->args_len : AP_ARGS_MAX);
		cc->exec_seen_ns = now_mono_ns();
		watch_exec(cc, r->tgid);
	}
	else
		cc->bad_records++;
	return 0;
}

int cpu_collector__poll(struct cpu_collector *cc, int timeout_ms)
{
	/* The BPF side wakes us only when the sample buffer fills up (see
	 * wakeup_bytes) and at an exec (at most once per
	 * AP_EXEC_WAKEUP_GAP_NS), the side-band when a quarter full, so the
	 * timeout is the drain interval: that gap for 100 ms after an exec
	 * (the execs it did not wake us for), 1 ms while a new interpreter is
	 * awaited (watch_exec) */
	const int exec_ms = AP_EXEC_WAKEUP_GAP_NS / 1000000;
	struct epoll_event ev[2];
	int n;

	if (timeout_ms > exec_ms && cc->exec_seen_ns &&
	    now_mono_ns() - cc->exec_seen_ns < 100000000ull)
		timeout_ms = exec_ms;
	if (timeout_ms > 1 && py_waiting(cc))
		timeout_ms = 1;
	n = epoll_wait(cc->epfd, ev, 2, timeout_ms);

	if (n < 0 && errno != EINTR)
		return -errno;
	mmaptrack__consume(cc->mt);
	n = ring_buffer__consume(cc->rb);
	if (cc->nr_pending)
		py_fixup(cc, false);
	if (cc->nr_exiting)
		release_exited(cc);
	return n < 0 ? n : 0;
}

int cpu_collector__fd(const struct cpu_collector *cc)
{
	return cc->epfd;
}

int cpu_collector__timeout_ms(struct cpu_collector *cc)
{
	/* as cpu_collector__poll() shortens its timeout: the drain interval,
	 * the exec wakeup gap for 100 ms after an exec, 1 ms while a new
	 * interpreter is awaited */
	const int exec_ms = AP_EXEC_WAKEUP_GAP_NS / 1000000;

	if (py_waiting(cc))
		return 1;
	if (cc->exec_seen_ns && now_mono_ns() - cc->exec_seen_ns < 100000000ull)
		return exec_ms;
	return 100;
}

void cpu_collector__end_window(struct cpu_collector *cc)
{
	/* pending intervals are indices into the window's rows: they go with
	 * it, without the stack their syscall's exit would have named */
	resolve_intervals(cc, 0, 0, 0, 0);
}

void cpu_collector__stop(struct cpu_collector *cc)
{
	int i;

	if (!cc)
		return;
	for (i = 0; i < cc->nr_links; i++) {
		bpf_link__destroy(cc->links[i]);
		close(cc->pfds[i]);
		cc->links[i] = NULL;
	}
	cc->nr_links = 0;
	bpf_link__destroy(cc->fork_link);
	cc->fork_link = NULL;
	for (i = 0; i < cc->nr_tp_links; i++)
		bpf_link__destroy(cc->tp_links[i]);
	cc->nr_tp_links = 0;
	for (i = 0; i < (int)cc->nr_py_links; i++) {
		bpf_link__destroy(cc->py_links[i].link);
		free(cc->py_links[i].key);
	}
	cc->nr_py_links = 0;
	if (cc->rb)
		ring_buffer__consume(cc->rb);
	if (cc->mt)
		mmaptrack__consume(cc->mt);
	py_fixup(cc, true);
}

/* A stack for off-CPU time whose user part was never captured: the
 * kernel frames of the block under a marker frame saying why */
static uint32_t kernel_only_stack(struct cpu_collector *cc, int32_t kstack, const char *why)
{
	struct profile *p = &cc->ses->prof;
	uint64_t kf[AP_KSTACK_MAX];
	int nk = off_kstack(cc, kstack, kf), i;
	uint32_t n = 0;

	cc->frames[n++] = profile__frame(p, AP_FRAME_USER, why, AP_NONE, 0);
	for (i = nk - 1; i >= 0; i--)
		cc->frames[n++] = kernel_frame(cc, kf[i]);
	return profile__stack(p, cc->frames, n);
}

static uint32_t off_stack_of(struct cpu_collector *cc, uint32_t tgid, uint64_t sid, int32_t kstack)
{
	struct off_key key = { tgid, 0, sid };
	uint64_t stack;

	if (sid && hmap_get(&cc->off_stacks, &key, sizeof(key), &stack))
		return stack;
	return kernel_only_stack(cc, kstack, sid ? "[user stack lost]" : "[user stack not captured]");
}

/* one off-CPU interval of the timeline; its stack is known now, or named
 * by the AP_REC_OFF_LINK its syscall's exit sends */
static void handle_interval(struct cpu_collector *cc, const struct ap_off_interval *r)
{
	struct profile *p = &cc->ses->prof;
	struct ap_interval iv = {
		.start_ns = r->start_ns, .block_ns = r->block_ns, .runq_ns = r->runq_ns,
		.pid = r->tgid, .tid = r->tid,
		.reason = r->reason < AP_OFF__COUNT ? r->reason : AP_OFF_OTHER,
		.stack = r->sid ? off_stack_of(cc, r->tgid, r->sid, -1) : AP_NONE,
	};

	if (!profile__add_interval(p, &iv)) {
		/* at the cap: the kernel can stop sending them (the rest of
		 * what is in flight is counted as dropped here) */
		cc->skel->bss->intervals_full = 1;
		return;
	}
	if (iv.stack != AP_NONE)
		return;
	GROW(cc->iv_pending, cc->cap_iv_pending, cc->nr_iv_pending + 1);
	cc->iv_pending[cc->nr_iv_pending++] = p->nr_ivals - 1;
}

/* The stack of thread tid's pending intervals: sid for those since its
 * syscall's entry; older ones belong to a syscall whose stack was not
 * taken. sid 0: every pending interval is left without its stack (the end). */
static void resolve_intervals(struct cpu_collector *cc, uint32_t tid, uint32_t tgid, uint64_t sid,
			      uint64_t since_ns)
{
	struct profile *p = &cc->ses->prof;
	size_t i, n = 0;

	for (i = 0; i < cc->nr_iv_pending; i++) {
		struct ap_interval *iv = &p->ivals[cc->iv_pending[i]];

		if (sid && iv->tid != tid) {
			cc->iv_pending[n++] = cc->iv_pending[i];
			continue;
		}
		iv->stack = sid && iv->start_ns >= since_ns ? off_stack_of(cc, tgid, sid, -1)
			: kernel_only_stack(cc, -1, "[user stack not captured]");
	}
	cc->nr_iv_pending = n;
}

/* threads still alive at the end: close their open interval at end_ns */
static void drain_threads(struct cpu_collector *cc, uint64_t end_ns)
{
	struct profile *p = &cc->ses->prof;
	struct bpf_link *link = bpf_program__attach_iter(cc->skel->progs.dump_threads, NULL);
	struct ap_thread_stat st;
	int fd = link ? bpf_iter_create(bpf_link__fd(link)) : -1;
	ssize_t n;

	if (fd < 0) {
		ap_warn("offcpu: cannot read the accounting of live threads: %s", ap_errstr(-errno));
		bpf_link__destroy(link);
		return;
	}
	/* the iterator writes whole records; a read returns one or more */
	while ((n = read(fd, &st, sizeof(st))) == sizeof(st)) {
		if (!st.end_ns) {
			st.end_ns = end_ns;
			if (st.ts_in && end_ns > st.ts_in)
				st.oncpu_ns += end_ns - st.ts_in;
			if (st.ts_out && end_ns > st.ts_out && st.out_reason < AP_OFF__COUNT) {
				uint64_t block = end_ns - st.ts_out, runq = 0;
				uint32_t stack;

				if (st.ts_wake >= st.ts_out && st.ts_wake <= end_ns) {
					block = st.ts_wake - st.ts_out;
					runq = end_ns - st.ts_wake;
				}
				st.off_ns[st.out_reason] += block;
				st.off_ns[AP_OFF_RUNQUEUE] += runq;
				if (p->has_offcpu) {
					stack = st.out_sid ? off_stack_of(cc, st.tgid, st.out_sid, st.out_kstack)
						: kernel_only_stack(cc, st.out_kstack,
								    "[still blocked at the end]");
					profile__add_off(p, st.tgid, st.tid, stack, st.out_reason, block, 1);
					if (runq)
						profile__add_off(p, st.tgid, st.tid, stack, AP_OFF_RUNQUEUE, runq, 0);
				}
			}
			if (p->has_offcpu && st.pend_block + st.pend_runq) {
				uint32_t stack = kernel_only_stack(cc, st.pend_kstack, "[still blocked at the end]");

				profile__add_off(p, st.tgid, st.tid, stack, st.pend_reason, st.pend_block, 1);
				profile__add_off(p, st.tgid, st.tid, stack, AP_OFF_RUNQUEUE, st.pend_runq, 0);
			}
		}
		thread_account(cc, &st);
	}
	if (n < 0)
		ap_warn("offcpu: reading live threads: %s", ap_errstr(-errno));
	close(fd);
	bpf_link__destroy(link);
}

static void drain_offcpu(struct cpu_collector *cc)
{
	struct profile *p = &cc->ses->prof;
	int fd = bpf_map__fd(cc->skel->maps.off_time);
	struct ap_off_key key, next, *prev = NULL;
	struct ap_off_val v;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &v) || key.reason >= AP_OFF__COUNT)
			continue;
		profile__add_off(p, key.tgid, key.tid, off_stack_of(cc, key.tgid, key.sid, key.kstack),
				 key.reason, v.ns, key.reason == AP_OFF_RUNQUEUE ? 0 : v.count);
	}
}

static void drain_syscalls(struct cpu_collector *cc)
{
	struct profile *p = &cc->ses->prof;
	int fd = bpf_map__fd(cc->skel->maps.sys_stats), ncpu = libbpf_num_possible_cpus(), c, b;
	struct ap_sys_key key, next, *prev = NULL;
	struct ap_sys_err_key ekey, enext, *eprev = NULL;
	struct ap_sys_val *vals = xcalloc(ncpu > 0 ? ncpu : 1, sizeof(*vals));
	uint64_t count;

	while (ncpu > 0 && bpf_map_get_next_key(fd, prev, &next) == 0) {
		struct ap_sys_row row = { 0 };

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, vals))
			continue;
		row.pid = key.tgid;
		row.nr = key.nr;
		row.fd_kind = key.fd_kind;
		for (c = 0; c < ncpu; c++) {
			row.count += vals[c].count;
			row.errors += vals[c].errors;
			row.total_ns += vals[c].total_ns;
			row.bytes += vals[c].bytes;
			if (vals[c].max_ns > row.max_ns)
				row.max_ns = vals[c].max_ns;
			for (b = 0; b < AP_SYS_HIST; b++)
				row.hist[b] += vals[c].hist[b];
		}
		GROW(p->sys, p->cap_sys, p->nr_sys + 1);
		p->sys[p->nr_sys++] = row;
	}
	free(vals);
	fd = bpf_map__fd(cc->skel->maps.sys_errs);
	while (bpf_map_get_next_key(fd, eprev, &enext) == 0) {
		ekey = enext;
		eprev = &ekey;
		if (bpf_map_lookup_elem(fd, &ekey, &count))
			continue;
		GROW(p->sys_errs, p->cap_sys_errs, p->nr_sys_errs + 1);
		p->sys_errs[p->nr_sys_errs++] = (struct ap_sys_err){ ekey.tgid, ekey.nr, ekey.err, count };
	}
}

/* Threads of a process attached to that never ran while we watched (idle
 * workers blocked since before the attach) have no scheduler event and so
 * no accounting: off CPU the whole time, reason unknown; /proc says which
 * syscall they sit in */
static void idle_threads(struct cpu_collector *cc, uint64_t end_ns)
{
	struct ap_session *ses = cc->ses;
	struct profile *p = &ses->prof;
	char path[64], why[96], *text, comm[AP_COMM_LEN + 1];
	struct ap_thread_stat st;
	struct dirent *de;
	size_t len;
	DIR *d;
	int i;

	for (i = 0; i < ses->opts.nr_pids; i++) {
		uint32_t pid = ses->opts.pids[i];

		snprintf(path, sizeof(path), "/proc/%u/task", pid);
		d = opendir(path);
		if (!d)
			continue;
		while ((de = readdir(d))) {
			uint32_t tid = strtoul(de->d_name, NULL, 10);
			const struct ap_thread *known = profile__find_thread(p, pid, tid);
			uint64_t stack;
			long nr = -1;

			if (!tid || (known && known->accounted))
				continue;
			memset(&st, 0, sizeof(st));
			st.tgid = pid;
			st.tid = tid;
			st.start_ns = cc->t0_ns;
			st.end_ns = end_ns;
			st.off_ns[AP_OFF_UNKNOWN] = end_ns - cc->t0_ns;
			snprintf(path, sizeof(path), "/proc/%u/task/%u/comm", pid, tid);
			text = read_file(path, &len);
			snprintf(comm, sizeof(comm), "%s", text ? text : "");
			comm[strcspn(comm, "\n")] = 0;
			free(text);
			memcpy(st.comm, comm, AP_COMM_LEN);
			thread_account(cc, &st);
			snprintf(path, sizeof(path), "/proc/%u/task/%u/syscall", pid, tid);
			text = read_file(path, &len);
			if (text)
				nr = strtol(text, NULL, 10);
			free(text);
			snprintf(why, sizeof(why), "[blocked in %s since before profiling]",
				 nr >= 0 && ap_syscall_name(nr) ? ap_syscall_name(nr) : "the kernel");
			stack = kernel_only_stack(cc, -1, why);
			if (p->has_offcpu)
				profile__add_off(p, pid, tid, stack, AP_OFF_UNKNOWN, st.off_ns[AP_OFF_UNKNOWN], 1);
		}
		closedir(d);
	}
}

void cpu_collector__drain(struct cpu_collector *cc, uint64_t end_ns)
{
	drain_threads(cc, end_ns);
	if (cc->ses->prof.has_offcpu && !cc->ses->opts.argv)
		idle_threads(cc, end_ns);
	if (cc->ses->prof.has_offcpu)
		drain_offcpu(cc);
	resolve_intervals(cc, 0, 0, 0, 0); /* syscalls that never returned */
	if (cc->ses->prof.has_syscalls)
		drain_syscalls(cc);
}

static uint64_t bpf_counter(struct cpu_collector *cc, enum ap_counter c)
{
	int ncpu = libbpf_num_possible_cpus(), i;
	uint64_t vals[ncpu > 0 ? ncpu : 1], sum = 0;
	uint32_t key = c;

	/* zeroed: the kernel fills it, but checkers such as valgrind cannot see that */
	memset(vals, 0, sizeof(vals));
	if (ncpu <= 0 || bpf_map__lookup_elem(cc->skel->maps.counters, &key, sizeof(key), vals,
					      sizeof(vals), 0))
		return 0;
	for (i = 0; i < ncpu; i++)
		sum += vals[i];
	return sum;
}

/* samples the kernel did not run the program for, because another BPF
 * program was running on that CPU (bpf_prog_active; e.g. the --py-calls
 * uprobe) */
static uint64_t prog_misses(const struct bpf_program *prog)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len))
		return 0;
	return info.recursion_misses;
}

uint64_t cpu_collector__samples(const struct cpu_collector *cc)
{
	return cc ? cc->received : 0;
}

uint64_t cpu_collector__drops(struct cpu_collector *cc)
{
	return cc ? bpf_counter(cc, AP_CNT_RINGBUF_FULL) : 0;
}

void cpu_collector__counters(struct cpu_collector *cc)
{
	struct profile *p = &cc->ses->prof;
	int c;

	for (c = 0; c < AP_CNT__COUNT; c++)
		profile__set_counter(p, ap_counter_names[c], bpf_counter(cc, c));
	profile__set_counter(p, "samples_received", cc->received);
	profile__set_counter(p, "samples_missed_in_kernel", prog_misses(cc->skel->progs.on_cpu_sample));
	profile__set_counter(p, "offcpu_missed_in_kernel",
			     prog_misses(cc->skel->progs.on_switch) + prog_misses(cc->skel->progs.on_wakeup));
	profile__set_counter(p, "syscalls_missed_in_kernel",
			     prog_misses(cc->skel->progs.on_sys_enter) +
			     prog_misses(cc->skel->progs.on_sys_exit));
	profile__set_counter(p, "malformed_records", cc->bad_records);
	profile__set_counter(p, "samples_without_mappings", cc->no_image);
	profile__set_counter(p, "python_unknown_code_frames", cc->py_unknown_code);
	profile__set_counter(p, "sideband_lost", cc->ses->pm.nr_lost_events);
	profile__set_counter(p, "timeline_samples_dropped", p->times_dropped);
	/* beyond the cap: those that reached us, and those the kernel then kept back */
	profile__set_counter(p, "offcpu_intervals_dropped",
			     p->ivals_dropped + bpf_counter(cc, AP_CNT_OFF_INTERVAL_CAPPED));
	profile__trim_slow(p, AP_SLOW_ROWS_KEPT);
	profile__set_counter(p, "slow_syscalls_dropped", p->slow_dropped);
	profile__set_counter(p, "mmap_events", cc->ses->pm.nr_mmap_events);
	profile__set_counter(p, "mapped_files_refused", cc->ses->pm.nr_refused);
	profile__set_counter(p, "processes_released", cc->ses->pm.nr_released);
	profile__set_counter(p, "symbol_files_closed", cc->ses->pm.sc.nr_evicted);
	profile__set_counter(p, "symbol_files_copied", symfile_stats.copied);
	profile__set_counter(p, "symbol_files_copied_bytes", symfile_stats.copied_bytes);
	profile__set_counter(p, "symbol_files_too_big", symfile_stats.too_big);
	profile__set_counter(p, "symbol_files_syms_capped", symfile_stats.syms_capped);
}

struct call_row {
	uint32_t tgid;
	const struct py_code *pc;
	uint64_t count;
};

static int by_calls(const void *a, const void *b)
{
	const struct call_row *x = a, *y = b;

	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	if (x->tgid != y->tgid)
		return x->tgid < y->tgid ? -1 : 1;
	return x->pc && y->pc ? strcmp(x->pc->qualname, y->pc->qualname) : 0;
}

static bool same_function(const struct call_row *x, const struct call_row *y)
{
	return x->tgid == y->tgid && x->pc && y->pc && x->pc->firstlineno == y->pc->firstlineno &&
	       !strcmp(x->pc->qualname, y->pc->qualname) && !strcmp(x->pc->filename, y->pc->filename);
}

static int by_identity(const void *a, const void *b)
{
	const struct call_row *x = a, *y = b;
	int c;

	if (x->tgid != y->tgid)
		return x->tgid < y->tgid ? -1 : 1;
	if (!x->pc || !y->pc)
		return !x->pc - !y->pc;
	c = strcmp(x->pc->filename, y->pc->filename);
	if (!c)
		c = strcmp(x->pc->qualname, y->pc->qualname);
	return c ? c : x->pc->firstlineno - y->pc->firstlineno;
}

int cpu_collector__write_py_calls(struct cpu_collector *cc, int dirfd)
{
	struct {
		uint64_t code;
		uint32_t tgid, sig;
	} key, next, *prev = NULL;
	struct call_row *rows = NULL;
	size_t nr = 0, cap = 0, i, j;
	uint64_t total = 0, unnamed = 0;
	cJSON *root = cJSON_CreateObject(), *arr, *o;
	int fd = bpf_map__fd(cc->skel->maps.py_calls);

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		uint64_t count = 0;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &count))
			continue;
		GROW(rows, cap, nr + 1);
		rows[nr++] = (struct call_row){ key.tgid, pycode__find(&cc->pyc, key.tgid, key.code,
								       key.sig), count };
		total += count;
	}
	/* one row per function: a code object can show two signatures when
	 * CPython swaps an interned name right after its first call */
	if (nr)
		qsort(rows, nr, sizeof(*rows), by_identity);
	for (i = 0, j = 0; i < nr; i++) {
		if (j && same_function(&rows[j - 1], &rows[i]))
			rows[j - 1].count += rows[i].count;
		else
			rows[j++] = rows[i];
	}
	nr = j;
	if (nr)
		qsort(rows, nr, sizeof(*rows), by_calls);
	cJSON_AddStringToObject(root, "schema", "autoprof.python_calls/1");
	cJSON_AddStringToObject(root, "probe", "uprobe:_PyEval_EvalFrameDefault");
	cJSON_AddNumberToObject(root, "total_entries", total);
	cJSON_AddNumberToObject(root, "attach_errors", cc->py_calls_attach_errors);
	/* uprobes destroyed when their process was released */
	cJSON_AddNumberToObject(root, "probes_released", cc->py_links_released);
	arr = cJSON_AddArrayToObject(root, "code_objects");
	for (i = 0; i < nr; i++) {
		cJSON_AddItemToArray(arr, o = cJSON_CreateObject());
		cJSON_AddNumberToObject(o, "pid", rows[i].tgid);
		cJSON_AddStringToObject(o, "qualname", rows[i].pc ? rows[i].pc->qualname : "[unknown code]");
		cJSON_AddStringToObject(o, "file", rows[i].pc ? rows[i].pc->filename : "");
		cJSON_AddNumberToObject(o, "firstlineno", rows[i].pc ? rows[i].pc->firstlineno : 0);
		cJSON_AddNumberToObject(o, "entries", rows[i].count);
		if (rows[i].pc)
			cJSON_AddNumberToObject(o, "python_minor", rows[i].pc->minor);
		unnamed += !rows[i].pc;
	}
	cJSON_AddNumberToObject(root, "unnamed_code_objects", unnamed);
	free(rows);
	return json_write_artifact(dirfd, "python_calls.json", root);
}

void cpu_collector__free(struct cpu_collector *cc)
{
	if (!cc)
		return;
	cpu_collector__stop(cc);
	ring_buffer__free(cc->rb);
	mmaptrack__free(cc->mt);
	autoprof_bpf__destroy(cc->skel);
	hmap_free(&cc->ucache);
	hmap_free(&cc->kcache);
	hmap_free(&cc->pyframes);
	hmap_free(&cc->py_warned);
	hmap_free(&cc->py_probed);
	hmap_free(&cc->needs_libpython);
	hmap_free(&cc->off_stacks);
	hmap_free(&cc->kstacks);
	pycode__free(&cc->pyc);
	free(cc->pending);
	free(cc->iv_pending);
	free(cc->exiting);
	free(cc->py_links);
	if (cc->epfd >= 0)
		close(cc->epfd);
	free(cc->links);
	free(cc->pfds);
	free(cc->frames);
	free(cc);
}
