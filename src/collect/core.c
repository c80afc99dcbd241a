// SPDX-License-Identifier: MIT
/* The collection core: the BPF skeleton's lifecycle (open, configure every
 * collector, load, attach), the shared ring buffer and its dispatch of
 * records by type to the collector that owns them, the procmaps hooks
 * that configure CPython runtimes, and collect/cpu.h as a facade over the
 * collectors' ops. Each collector is one file beside this one. */
#include <elf.h>
#include <errno.h>
#include <stddef.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "collect/collect.h"
#include "collect/mapdrain.h"
#include "log.h"
#include "symbolize/safeopen.h"
#include "util.h"

/* in attach and flush order: lifecycle and scheduler accounting first,
 * sampling last (as before the split) */
static const struct ap_collector_ops *const collectors[AP_COLL__COUNT] = {
	[AP_COLL_PROCLIFE] = &proclife_ops,
	[AP_COLL_OFFCPU] = &offcpu_ops,
	[AP_COLL_SYSCALLS] = &syscalls_ops,
	[AP_COLL_PYCALLS] = &pycalls_ops,
	[AP_COLL_ONCPU] = &oncpu_ops,
	[AP_COLL_MEMORY] = &memory_ops,
	[AP_COLL_MALLOC] = &malloc_ops,
};

#define for_each_collector(cc, c) \
	for ((c) = (cc)->coll; (c) < (cc)->coll + AP_COLL__COUNT; (c)++)

static bool mt_filter(uint32_t pid, uint32_t ppid, void *ctx)
{
	return session__is_tracked(ctx, pid, ppid);
}

int collect_attach_prog(struct ap_collector *c, struct bpf_program *prog)
{
	struct bpf_link *l;
	int err;

	if (!bpf_program__autoload(prog))
		return 0;
	if (c->nr_links >= AP_COLLECTOR_LINKS) {
		ap_err("bpf: %s: more than %d programs", c->ops->name, AP_COLLECTOR_LINKS);
		return -E2BIG;
	}
	l = bpf_program__attach(prog);
	if (!l) {
		err = -errno;
		ap_err("bpf: attaching %s: %s", bpf_program__section_name(prog), ap_errstr(err));
		return err;
	}
	c->links[c->nr_links++] = l;
	return 0;
}

/* pid is about to run, or was found to run, the CPython runtime sf */
static void interpreter_found(struct cpu_collector *cc, uint32_t pid, const struct symfile *sf)
{
	struct ap_collector *c;

	for_each_collector(cc, c)
		if (c->enabled && c->ops->on_interpreter)
			c->ops->on_interpreter(c, pid, sf);
}

/* pid maps sf, or is about to exec a program that will */
static void file_found(struct cpu_collector *cc, uint32_t pid, const struct symfile *sf,
		       bool before_exec)
{
	struct ap_collector *c;

	for_each_collector(cc, c)
		if (c->enabled && c->ops->on_file)
			c->ops->on_file(c, pid, sf, before_exec);
}

void collect_release(struct cpu_collector *cc, uint32_t pid)
{
	struct ap_collector *c;

	for_each_collector(cc, c)
		if (c->enabled && c->ops->on_release)
			c->ops->on_release(c, pid);
	if (cc->ses->opts.all) /* its pid, if reused, is a new process */
		session__untrack(cc->ses, pid);
	procmaps__release(&cc->ses->pm, pid);
}

/* --all: a process is found by its first record (lazy discovery): its
 * /proc/PID/maps read now, as attach does, then followed by the side band
 * and the BPF exec record. A pid seen again after its process was released
 * is a new process: the old one's names, mappings and Python
 * configuration are not its. Only processes that were sampled are
 * followed, so nothing grows with the processes of the host. */
void collect_discover(struct cpu_collector *cc, uint32_t pid)
{
	struct ap_session *ses = cc->ses;
	uint64_t v = 0;
	__u8 one = 1;
	int err;

	if (hmap_get(&ses->tracked, &pid, sizeof(pid), &v) && v)
		return;
	procmaps__reuse(&ses->pm, pid);
	bpf_map__delete_elem(cc->skel->maps.py_procs, &pid, sizeof(pid), 0);
	/* the BPF tracked set: its exec records (the new program's command
	 * line, and the wakeup that configures a new interpreter in time) */
	if (bpf_map__update_elem(cc->skel->maps.tracked, &pid, sizeof(pid), &one, 1, BPF_ANY))
		cc->discover_untracked++;
	session__track(ses, pid);
	err = procmaps__load_proc(&ses->pm, pid, 0);
	if (err) {
		/* gone before its first record was handled: nothing to follow
		 * (a later process with this pid is discovered anew) */
		ap_debug("cpu: pid %u: reading its mappings: %s", pid, ap_errstr(err));
		bpf_map__delete_elem(cc->skel->maps.tracked, &pid, sizeof(pid), 0);
		session__untrack(ses, pid);
		return;
	}
	cc->discovered++;
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

/* The program a dynamic loader run as a program will load: glibc's
 * ld.so [OPTION]... PROGRAM [ARG]... (its options with an argument
 * first), or NULL. Relative to the launched child's cwd, which is ours */
static const char *loaded_program(char **argv)
{
	static const char *const with_arg[] = { "--library-path", "--preload", "--audit",
		"--argv0", "--inhibit-rpath", "--glibc-hwcaps-prepend", "--glibc-hwcaps-mask" };
	size_t k;
	int i;

	for (i = 1; argv[i]; i++) {
		if (strncmp(argv[i], "--", 2))
			return argv[i];
		for (k = 0; k < AP_ARRAY_SIZE(with_arg); k++)
			if (!strcmp(argv[i], with_arg[k]))
				break;
		if (k < AP_ARRAY_SIZE(with_arg) && !argv[++i])
			return NULL;
	}
	return NULL;
}

/* --py-calls: the walker's configuration at link-time addresses, for the
 * eval-loop uprobe to complete with the load bias at its first hit
 * (struct ap_py_pending): counting starts at the first call, before
 * userspace has seen the mapping */
static void py_prepare_pending(struct cpu_collector *cc, uint32_t pid, struct symfile *sf)
{
	struct ap_mapping m = { .sf = sf, .bias = 0 };
	struct ap_py_pending t = { 0 };
	struct py_refusal why;
	size_t i;
	int minor;

	if (!cc->ses->opts.py_calls || pyproc__detect(&m, &t.pp, &minor, &why))
		return;
	for (i = 0; i < sf->nr_syms && !t.eval_vaddr; i++) /* where the uprobe goes */
		if (!strcmp(sf->names + sf->syms[i].name, "_PyEval_EvalFrameDefault"))
			t.eval_vaddr = sf->syms[i].addr;
	if (!t.eval_vaddr)
		return;
	if (bpf_map__update_elem(cc->skel->maps.py_pending, &pid, sizeof(pid), &t, sizeof(t),
				 BPF_ANY))
		ap_warn("python: pid %u: --py-calls: configuring before the exec: %s", pid,
			ap_errstr(-errno));
	else
		cc->py_prepared_pid = pid;
}

void cpu_collector__prepare_exec(struct cpu_collector *cc, uint32_t pid, const char *exe)
{
	struct symfile *sf = warm_symfile(cc, exe);
	const char *prog;
	char *lib = NULL;
	uint64_t off;

	/* ld.so run as a program maps the program named in its arguments
	 * (Debian unstable's interpreters in the tests run so, on their own
	 * glibc): that program's interpreter is the one to prepare for. An
	 * ELF that defines __tls_get_addr is the dynamic loader */
	if (sf && !sf->py_runtime && sf->e_type == ET_DYN && cc->ses->opts.argv &&
	    !symfile__func_offset(sf, "__tls_get_addr", &off) &&
	    (prog = loaded_program(cc->ses->opts.argv))) {
		exe = prog;
		sf = warm_symfile(cc, exe);
	}
	/* --malloc: the probes go in before the program runs */
	if (sf && cc->ses->opts.malloc) {
		struct symfile *libc;

		file_found(cc, pid, sf, true);
		lib = symfile__links(sf, "libc.so") ? symfile__find_needed(sf, exe, "libc.so") : NULL;
		libc = lib ? warm_symfile(cc, lib) : NULL;
		if (libc)
			file_found(cc, pid, libc, true);
		free(lib);
		lib = NULL;
	}
	if (sf && !sf->py_runtime) {
		lib = symfile__find_needed(sf, exe, "libpython3");
		sf = lib ? warm_symfile(cc, lib) : NULL;
	}
	if (sf && sf->py_runtime) {
		py_prepare_pending(cc, pid, sf);
		cc->py_before_exec = true;
		interpreter_found(cc, pid, sf);
		cc->py_before_exec = false;
	}
	free(lib);
}

/* An interpreter whose Python frames will not be walked: the image keeps
 * why, for run.json and the reports (through the process's labels), and
 * its file still counts as the interpreter (AP_MOD_PY_RUNTIME), so no
 * finding sends the user into its eval loop. */
static void py_missing(struct cpu_collector *cc, uint32_t pid, struct ap_image *img,
		       const struct ap_mapping *m, const struct py_refusal *why)
{
	struct ap_proc *proc = procmaps__find(&cc->ses->pm, pid);

	img->py_minor = -1;
	img->py_sf = m->sf;
	img->py_missing = why->code;
	free(img->py_missing_why);
	free(img->py_seen);
	img->py_missing_why = xstrdup(why->text);
	img->py_seen = why->minor >= 0 ? xasprintf("CPython %d.%d", why->major, why->minor) : NULL;
	/* now, while it lives: a process that exits unsampled still says why */
	if (proc && proc__image_at(proc, UINT64_MAX) == img)
		proc__labels(proc);
}

/* AP_TEST_PY_REFUSE=MINOR: the tests' stand-in for a CPython 3.MINOR this
 * version does not support (refused as an unsupported version would be) */
static bool test_refuses(int minor, struct py_refusal *why)
{
	const char *e = getenv("AP_TEST_PY_REFUSE");
	char *end;
	long v;

	if (!e)
		return false;
	errno = 0;
	v = strtol(e, &end, 10);
	if (errno || end == e || *end || v != minor)
		return false;
	why->code = PY_NO_VERSION;
	why->major = 3;
	why->minor = minor;
	snprintf(why->text, sizeof(why->text),
		 "CPython 3.%d is not supported (refused by AP_TEST_PY_REFUSE)", minor);
	return true;
}

/* a mapping of a tracked process: is it a CPython runtime to configure? */
static void on_map(void *ctx, uint32_t pid, struct ap_image *img, const struct ap_mapping *m)
{
	struct cpu_collector *cc = ctx;
	struct py_refusal why;
	struct ap_py_proc pp;
	int minor, err;

	if (cc->skel)
		file_found(cc, pid, m->sf, false);
	if (img->py_minor || (!m->sf->py_runtime && !m->sf->py_code_type) || !cc->skel)
		return;
	err = pyproc__detect(m, &pp, &minor, &why);
	if (!err && test_refuses(minor, &why))
		err = -ENOTSUP;
	if (err) {
		img->py_minor = -1;
		if (err != -ENOTSUP)
			return;
		py_missing(cc, pid, img, m, &why);
		if (!hmap_get(&cc->py_warned, m->path, strlen(m->path), &(uint64_t){ 0 })) {
			hmap_put(&cc->py_warned, m->path, strlen(m->path), 1);
			ap_warn("python: %s: %s; native stacks only", m->sf->path, why.text);
		}
		return;
	}
	if (bpf_map__update_elem(cc->skel->maps.py_procs, &pid, sizeof(pid), &pp, sizeof(pp),
				 BPF_ANY)) {
		err = -errno;
		ap_warn("python: pid %u: configuring the frame walker: %s", pid, ap_errstr(err));
		why.code = PY_NO_WALKER;
		why.major = 3;
		why.minor = minor;
		snprintf(why.text, sizeof(why.text), "configuring the frame walker failed: %s",
			 ap_errstr(err));
		py_missing(cc, pid, img, m, &why);
		return;
	}
	bpf_map__delete_elem(cc->skel->maps.py_pending, &pid, sizeof(pid), 0);
	img->py_minor = minor;
	img->py_sf = m->sf;
	img->py_ft = pp.off.gil_enabled != AP_PY_OFF_NONE;
	ap_info("python: pid %u runs CPython 3.%d from %s (configured %.1f ms after its exec)", pid,
		minor, m->path, (now_mono_ns() - img->start_time) / 1e6);
	interpreter_found(cc, pid, m->sf);
}

/* Does the program pid just exec'd load a libpython3 (a --enable-shared
 * build)? Then its interpreter is mapped by ld.so after the exec, and the
 * side-band, which wakes us only when a quarter full, may hold the mapping
 * for up to a drain interval: poll every millisecond until the
 * interpreter is configured (on_map), so its first Python code is seen.
 * An interpreter in the executable itself is configured at the exec. */
#define CC_PY_WAIT_NS 300000000ull

void collect_watch_exec(struct cpu_collector *cc, uint32_t pid)
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

/* --all: the side band saw a followed process exit. Without off-CPU and
 * syscall accounting there is no thread exit record (the agent's
 * default): this is then what releases the process and lets its pid,
 * if reused, be discovered as a new process */
static void on_exit_sb(void *ctx, uint32_t pid)
{
	struct cpu_collector *cc = ctx;

	if (cc->ses->opts.all)
		collect_proclife_exited(cc, pid);
}

static void on_exec(void *ctx, uint32_t pid)
{
	struct cpu_collector *cc = ctx;

	/* the new program maps its own interpreter, if any. The launched
	 * target's first exec is the one its interpreter was prepared for:
	 * the eval-loop uprobe may have configured it already */
	if (cc->skel && pid == cc->py_prepared_pid) {
		cc->py_prepared_pid = 0;
	} else if (cc->skel) {
		bpf_map__delete_elem(cc->skel->maps.py_procs, &pid, sizeof(pid), 0);
		bpf_map__delete_elem(cc->skel->maps.py_pending, &pid, sizeof(pid), 0);
	}
	collect_pynames_exec(cc, pid);
	collect_pytasks_exec(cc, pid);
}


/* the BPF side's shared parts: the capture scratch, the ring buffer and
 * the stack capture knobs every collector's records use */
static void configure_core(struct cpu_collector *cc)
{
	struct ap_session *ses = cc->ses;

	cc->skel->rodata->ustack_limit = ses->opts.stack_size;
	cc->skel->rodata->py_depth = ses->opts.py_depth;
	cc->skel->rodata->nr_cpus = ses->nr_cpus;
	cc->skel->rodata->self_tgid = getpid();
	bpf_map__set_max_entries(cc->skel->maps.scratch, AP_NR_SLOTS * ses->nr_cpus);
	bpf_map__set_max_entries(cc->skel->maps.samples, ses->opts.ringbuf_mb << 20);
	cc->skel->rodata->wakeup_bytes = (ses->opts.ringbuf_mb << 20) / 4;
	ses->prof.has_timeline = true;
}

struct cpu_collector *cpu_collector__open(struct ap_session *ses)
{
	struct cpu_collector *cc = xcalloc(1, sizeof(*cc));
	bool snap_refused = false;
	const char *failed;
	int i, err;

	cc->ses = ses;
	cc->frames = xcalloc(CC_MAX_FRAMES, sizeof(*cc->frames));
	cc->epfd = -1;
	for (i = 0; i < AP_COLL__COUNT; i++)
		cc->coll[i] = (struct ap_collector){ .ops = collectors[i], .cc = cc };
	ses->pm.on_map = on_map;
	ses->pm.on_exec = on_exec;
	ses->pm.on_exit = on_exit_sb;
	ses->pm.hook_ctx = cc;
reopen:
	cc->skel = autoprof_bpf__open();
	if (!cc->skel) {
		err = -errno;
		ap_err("bpf: open: %s", ap_errstr(err));
		goto err_out;
	}
	configure_core(cc);
	for (i = 0; i < AP_COLL__COUNT; i++) {
		err = cc->coll[i].ops->configure(&cc->coll[i]);
		if (err) {
			ap_err("%s: configure: %s", cc->coll[i].ops->name, ap_errstr(err));
			goto err_out;
		}
	}
	collect_snapshot_configure(cc, snap_refused);
	if (ses->opts.all)
		ap_filter__configure(&ses->opts.filter, cc->skel);
	ap_log_libbpf_failed_reset();
	err = autoprof_bpf__load(cc->skel);
	failed = ap_log_libbpf_failed_prog();
	if (err && cc->snap && (!*failed || !strcmp(failed, "snap_threads"))) {
		/* the attach snapshot's sleepable iterator is new to kernels
		 * that passed its probe: one that refuses it must not cost the
		 * whole attach. Once more from the start, without it: when
		 * libbpf named it as the program that failed, or named none (a
		 * libbpf whose words we do not know); another program's failure
		 * is the error below. A second failure is reported below too */
		if (*failed)
			ap_warn("snapshot: the kernel refused its iterator (%s): threads blocked since "
				"before the attach get no user or Python stack", ap_errstr(err));
		else
			ap_warn("bpf: loading the BPF programs failed (%s): retrying without the attach "
				"snapshot's iterator (threads blocked since before the attach then get "
				"no user or Python stack)", ap_errstr(err));
		for (i = 0; i < AP_COLL__COUNT; i++)
			if (cc->coll[i].ops->free)
				cc->coll[i].ops->free(&cc->coll[i]);
		collect_snapshot_free(cc);
		autoprof_bpf__destroy(cc->skel);
		cc->skel = NULL;
		snap_refused = true;
		goto reopen;
	}
	if (err && !cc->mem_refused && cc->coll[AP_COLL_MEMORY].enabled &&
	    collect_memory_prog(cc, failed)) {
		/* the memory collector is new to this kernel's verifier: its
		 * refusal costs the memory profile, not the run */
		ap_warn("memory: the kernel refused %s (%s): no memory profile (-vv shows the verifier log)",
			failed, ap_errstr(err));
		for (i = 0; i < AP_COLL__COUNT; i++)
			if (cc->coll[i].ops->free)
				cc->coll[i].ops->free(&cc->coll[i]);
		collect_snapshot_free(cc);
		autoprof_bpf__destroy(cc->skel);
		cc->skel = NULL;
		cc->mem_refused = true;
		goto reopen;
	}
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

/* one ring buffer record, to the collector that owns its type */
static int handle_record(void *ctx, void *data, size_t size)
{
	struct cpu_collector *cc = ctx;
	uint32_t type = size >= 4 ? *(uint32_t *)data : 0;
	struct ap_collector *c;

	/* mappings, execs and forks that happened before this record */
	mmaptrack__consume(cc->mt);
	if (type == AP_REC_PY_CODE && size >= sizeof(struct ap_py_code)) {
		collect_py_code(cc, data);
		return 0;
	}
	for_each_collector(cc, c) {
		if (!c->enabled || type >= 32 || !(c->ops->records & (1u << type)))
			continue;
		if (c->ops->on_record(c, type, data, size))
			cc->bad_records++;
		return 0;
	}
	cc->bad_records++;
	return 0;
}

int cpu_collector__attach(struct cpu_collector *cc)
{
	struct ap_session *ses = cc->ses;
	struct ap_collector *c;
	int err;

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
	/* the moment accounting begins: time before it is "unknown" */
	cc->t0_ns = now_mono_ns();
	cc->skel->bss->t0_ns = cc->t0_ns;
	for_each_collector(cc, c) {
		if (!c->enabled || !c->ops->attach)
			continue;
		err = c->ops->attach(c);
		if (err)
			return err;
	}
	/* every collector is on: a thread blocked now with no switch from
	 * here on was blocked in this stack all along */
	collect_snapshot_take(cc);
	collect_pytasks_attach(cc);
	return 0;
}

uint64_t cpu_collector__t0(const struct cpu_collector *cc)
{
	return cc->t0_ns;
}

int cpu_collector__poll(struct cpu_collector *cc, int timeout_ms)
{
	/* The BPF side wakes us only when the sample buffer fills up (see
	 * wakeup_bytes) and at an exec (at most once per
	 * AP_EXEC_WAKEUP_GAP_NS), the side-band when a quarter full, so the
	 * timeout is the drain interval: that gap for 100 ms after an exec
	 * (the execs it did not wake us for), 1 ms while a new interpreter is
	 * awaited (collect_watch_exec) */
	const int exec_ms = AP_EXEC_WAKEUP_GAP_NS / 1000000;
	struct epoll_event ev[2];
	struct ap_collector *c;
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
		collect_py_fixup(cc, false);
	for_each_collector(cc, c)
		if (c->enabled && c->ops->poll)
			c->ops->poll(c);
	collect_pynames_tick(cc);
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

/* the entries of an id cache whose ids survived a compaction, renumbered */
static void remap_cache(struct hmap *m, const uint32_t *map, size_t n)
{
	struct hmap out = { 0 };
	uint32_t id;
	size_t i;

	for (i = 0; i < m->cap; i++) {
		if (!m->ents[i].key)
			continue;
		id = profile_remap__id(map, n, m->ents[i].val);
		if (id != AP_NONE)
			hmap_put(&out, m->ents[i].key, m->ents[i].klen, id);
	}
	hmap_free(m);
	*m = out;
}

void cpu_collector__remap(struct cpu_collector *cc, const struct profile_remap *rm)
{
	size_t i, keep = 0;

	if (!rm->moved)
		return;
	remap_cache(&cc->off_stacks, rm->stacks, rm->nr_stacks);
	remap_cache(&cc->ucache, rm->frames, rm->nr_frames);
	remap_cache(&cc->kcache, rm->frames, rm->nr_frames);
	remap_cache(&cc->pyframes, rm->frames, rm->nr_frames);
	remap_cache(&cc->pytasks, rm->frames, rm->nr_frames);
	for (i = 0; i < cc->nr_pending; i++) {
		uint32_t f = profile_remap__id(rm->frames, rm->nr_frames, cc->pending[i].frame);

		if (f == AP_NONE)
			continue; /* its stacks went: nothing to name */
		cc->pending[keep] = cc->pending[i];
		cc->pending[keep++].frame = f;
	}
	cc->nr_pending = keep;
}

/* is tgid a process the model still follows (not exited and released)? */
static bool proc_alive(uint32_t tgid, void *ctx)
{
	const struct ap_proc *p = procmaps__find(ctx, tgid);

	return p && !p->released;
}

/* the entries of a cache keyed by a tgid at offset off whose process is gone */
static size_t drop_dead(struct hmap *m, size_t off, struct procmaps *pm)
{
	struct hmap out = { 0 };
	size_t i, n = 0;
	uint32_t tgid;

	for (i = 0; i < m->cap; i++) {
		if (!m->ents[i].key)
			continue;
		memcpy(&tgid, (char *)m->ents[i].key + off, sizeof(tgid));
		if (proc_alive(tgid, pm))
			hmap_put(&out, m->ents[i].key, m->ents[i].klen, m->ents[i].val);
		else
			n++;
	}
	hmap_free(m);
	*m = out;
	return n;
}

static void drain_noop(const void *k, const void *v, void *ctx)
{
}

size_t cpu_collector__purge(struct cpu_collector *cc, struct ap_collect_evictions *ev)
{
	struct procmaps *pm = &cc->ses->pm;
	size_t n;

	/* --all: a process whose exit never reached us (a lost side-band
	 * record) would be followed for ever, and its pid, reused, unwound
	 * with its mappings: a process no longer there is released now */
	if (cc->ses->opts.all) {
		size_t i;

		for (i = 0; i < pm->nr_procs; i++) {
			const struct ap_proc *p = pm->procs[i];

			if (p->exited || p->released || !session__is_tracked(cc->ses, p->pid, 0))
				continue;
			if (kill(p->pid, 0) && errno == ESRCH) {
				collect_proclife_exited(cc, p->pid);
				ev->exits_missed++;
			}
		}
	}
	/* what belonged to processes gone: their off-CPU stack identities,
	 * code objects and Python frame names */
	ev->off_stacks += drop_dead(&cc->off_stacks, offsetof(struct off_key, tgid), pm);
	ev->cache_entries += drop_dead(&cc->pyframes, 8 /* after the code address */, pm);
	ev->cache_entries += drop_dead(&cc->pytasks, 8 /* after the task address */, pm);
	drop_dead(&cc->pytask_code, 8, pm);
	drop_dead(&cc->pytask_fails, 8, pm);
	ev->py_codes += pycode__retain(&cc->pyc, proc_alive, pm);
	ev->cache_entries += collect_pynames_purge(cc);
	/* caps on what live processes fill: past one, the cache starts over
	 * (the kernel's py_seen and off_seen too, so that it sends the code
	 * objects and stacks again) */
	if (cc->pyc.n > AP_PYCODE_MAX) {
		ev->py_codes += pycode__retain(&cc->pyc, NULL, NULL);
		map_drain(bpf_map__fd(cc->skel->maps.py_seen), bpf_map__key_size(cc->skel->maps.py_seen),
			  bpf_map__value_size(cc->skel->maps.py_seen), drain_noop, NULL);
	}
	if (cc->off_stacks.len > AP_OFF_STACKS_MAX) {
		ev->off_stacks += cc->off_stacks.len;
		hmap_free(&cc->off_stacks);
		map_drain(bpf_map__fd(cc->skel->maps.off_seen), bpf_map__key_size(cc->skel->maps.off_seen),
			  bpf_map__value_size(cc->skel->maps.off_seen), drain_noop, NULL);
	}
	/* asyncio task names: past the cap the table starts over (a server
	 * making a task per request keeps its new tasks named); the read
	 * budgets start over every AP_PYTASK_WINDOW_NS (pytasks.c) */
	if (cc->pytasks.len >= AP_PYTASKS_MAX) {
		ev->cache_entries += cc->pytasks.len;
		hmap_free(&cc->pytasks);
		hmap_free(&cc->pytask_code);
		hmap_free(&cc->pytask_fails);
	}
	hmap_free(&cc->pytask_reads);
	n = cc->ucache.len + cc->kcache.len + cc->pyframes.len;
	if (n > AP_ID_CACHE_MAX) {
		ev->cache_entries += n;
		hmap_free(&cc->ucache);
		hmap_free(&cc->kcache);
		hmap_free(&cc->pyframes);
	}
	return n;
}

void cpu_collector__stop(struct cpu_collector *cc)
{
	struct ap_collector *c;
	int i;

	if (!cc)
		return;
	/* sampling first, as it was attached last */
	for (c = cc->coll + AP_COLL__COUNT - 1; c >= cc->coll; c--) {
		if (c->ops->detach)
			c->ops->detach(c);
		for (i = 0; i < c->nr_links; i++)
			bpf_link__destroy(c->links[i]);
		c->nr_links = 0;
	}
	if (cc->rb)
		ring_buffer__consume(cc->rb);
	if (cc->mt)
		mmaptrack__consume(cc->mt);
	collect_py_fixup(cc, true);
	cc->stopped = true;
}

void cpu_collector__drain(struct cpu_collector *cc, uint64_t end_ns)
{
	struct ap_collector *c;

	for_each_collector(cc, c)
		if (c->enabled && c->ops->flush)
			c->ops->flush(c, end_ns, &cc->ses->prof);
	collect_pynames_flush(cc, &cc->ses->prof);
}

uint64_t collect_bpf_counter(struct cpu_collector *cc, enum ap_counter c)
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
uint64_t collect_prog_misses(const struct bpf_program *prog)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len))
		return 0;
	return info.recursion_misses;
}

uint64_t cpu_collector__drops(struct cpu_collector *cc)
{
	return cc ? collect_bpf_counter(cc, AP_CNT_RINGBUF_FULL) : 0;
}

void cpu_collector__counters(struct cpu_collector *cc)
{
	struct profile *p = &cc->ses->prof;
	struct ap_collector *c;
	int i;

	for (i = 0; i < AP_CNT__COUNT; i++)
		profile__set_counter(p, ap_counter_names[i], collect_bpf_counter(cc, i));
	/* every collector, on or off: run.json has the same keys either way */
	for_each_collector(cc, c)
		if (c->ops->counters)
			c->ops->counters(c, p);
	profile__set_counter(p, "malformed_records", cc->bad_records);
	profile__set_counter(p, "samples_without_mappings", cc->no_image);
	if (cc->ses->opts.all) {
		profile__set_counter(p, "processes_discovered", cc->discovered);
		profile__set_counter(p, "processes_discovered_untracked", cc->discover_untracked);
	}
	profile__set_counter(p, "python_unknown_code_frames", cc->py_unknown_code);
	profile__set_counter(p, "python_splice_by_address", cc->py_splice_addr);
	profile__set_counter(p, "python_splice_by_name", cc->py_splice_name);
	profile__set_counter(p, "python_splice_fallbacks", cc->py_splice_fallback);
	profile__set_counter(p, "python_thread_name_reads", cc->pynames_reads);
	profile__set_counter(p, "python_thread_name_failures", cc->pynames_failed);
	profile__set_counter(p, "python_thread_names_dropped", cc->pynames_dropped);
	profile__set_counter(p, "python_thread_name_process_reads", cc->pynames_pid_reads);
	profile__set_counter(p, "python_thread_name_reads_deferred", cc->pynames_deferred);
	profile__set_counter(p, "python_memory_read_timeouts", cc->pynames_timeouts);
	profile__set_counter(p, "python_generated_name_reads", cc->pyarg0_total);
	profile__set_counter(p, "python_generated_name_reads_capped", cc->pyarg0_capped);
	profile__set_counter(p, "python_task_name_reads", cc->pytask_reads_total);
	profile__set_counter(p, "python_task_name_failures", cc->pytask_failed);
	profile__set_counter(p, "python_task_names_capped", cc->pytasks_capped);
	profile__set_counter(p, "python_task_name_reads_deferred", cc->pytask_deferred);
	collect_snapshot_counters(cc, p);
	collect_pytasks_counters(cc, p);
	profile__set_counter(p, "sideband_lost", cc->ses->pm.nr_lost_events);
	profile__set_counter(p, "timeline_samples_dropped", p->times_dropped);
	profile__set_counter(p, "mmap_events", cc->ses->pm.nr_mmap_events);
	profile__set_counter(p, "mapped_files_refused", cc->ses->pm.nr_refused);
	profile__set_counter(p, "processes_released", cc->ses->pm.nr_released);
	profile__set_counter(p, "symbol_files_closed", cc->ses->pm.sc.nr_evicted);
	profile__set_counter(p, "symbol_files_copied", symfile_stats.copied);
	profile__set_counter(p, "symbol_files_copied_bytes", symfile_stats.copied_bytes);
	profile__set_counter(p, "symbol_files_too_big", symfile_stats.too_big);
	profile__set_counter(p, "symbol_files_syms_capped", symfile_stats.syms_capped);
}

int cpu_collector__write_py_calls(struct cpu_collector *cc, int dirfd)
{
	struct ap_collector *c = &cc->coll[AP_COLL_PYCALLS];

	return c->ops->artifact(c, dirfd);
}

void cpu_collector__free(struct cpu_collector *cc)
{
	struct ap_collector *c;

	if (!cc)
		return;
	cpu_collector__stop(cc);
	if (cc->ses->pm.hook_ctx == cc) { /* the session's procmaps outlives us */
		cc->ses->pm.on_map = NULL;
		cc->ses->pm.on_exec = NULL;
		cc->ses->pm.hook_ctx = NULL;
	}
	ring_buffer__free(cc->rb);
	mmaptrack__free(cc->mt);
	for_each_collector(cc, c)
		if (c->ops && c->ops->free)
			c->ops->free(c);
	autoprof_bpf__destroy(cc->skel);
	hmap_free(&cc->ucache);
	hmap_free(&cc->kcache);
	hmap_free(&cc->pyframes);
	collect_pytasks_free(cc);
	hmap_free(&cc->py_warned);
	hmap_free(&cc->needs_libpython);
	hmap_free(&cc->off_stacks);
	collect_snapshot_free(cc);
	pycode__free(&cc->pyc);
	collect_pynames_free(cc);
	free(cc->pending);
	if (cc->epfd >= 0)
		close(cc->epfd);
	free(cc->frames);
	free(cc);
}
