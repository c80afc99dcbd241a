// SPDX-License-Identifier: MIT
/* Per-process executable mappings over time; see procmaps.h. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "process/procmaps.h"
#include "log.h"
#include "symbolize/safeopen.h"
#include "util.h"

struct symfile *symcache__lookup(struct symcache *sc, uint64_t dev, uint64_t ino, bool *hit,
				 uint32_t *id)
{
	uint64_t key[2] = { dev, ino }, v = 0;
	bool known = hmap_get(&sc->by_id, key, sizeof(key), &v);

	/* a file the trim closed is known but not a hit: symcache__add opens it
	 * again under its id */
	*hit = known && (!v || sc->files[v - 1]);
	if (id)
		*id = *hit && v ? v : 0;
	return v ? sc->files[v - 1] : NULL;
}

struct symfile *symcache__add(struct symcache *sc, uint64_t dev, uint64_t ino, int fd,
			      const char *name, uint32_t *id)
{
	uint64_t key[2] = { dev, ino }, v = 0;
	struct symfile *sf;
	bool known;

	if (id)
		*id = 0;
	known = hmap_get(&sc->by_id, key, sizeof(key), &v);
	if (known && (!v || sc->files[v - 1])) {
		close(fd);
		if (id)
			*id = v;
		return v ? sc->files[v - 1] : NULL;
	}
	sf = symfile__open_fd(fd, name);
	if (!sf) {
		ap_debug("symbolize: %s: %s", name, ap_errstr(-errno));
		if (!known)
			hmap_put(&sc->by_id, key, sizeof(key), 0);
		return NULL;
	}
	if (known) { /* closed when no image used it: the same id again */
		sc->files[v - 1] = sf;
		if (id)
			*id = v;
		return sf;
	}
	GROW(sc->files, sc->cap, sc->nr_files + 1);
	sc->refs = xrealloc(sc->refs, sc->cap * sizeof(*sc->refs));
	sc->last_use = xrealloc(sc->last_use, sc->cap * sizeof(*sc->last_use));
	sc->refs[sc->nr_files] = 0;
	sc->last_use[sc->nr_files] = 0;
	sc->files[sc->nr_files++] = sf;
	hmap_put(&sc->by_id, key, sizeof(key), sc->nr_files);
	if (id)
		*id = sc->nr_files;
	return sf;
}

/* Close the files no live image uses beyond the AP_SYMCACHE_IDLE_MAX used
 * last. Called when images are released; nothing else keeps a symfile
 * pointer across that (caches key frames by id). */
static void symcache__trim(struct symcache *sc)
{
	size_t i, idle = 0, oldest;

	for (i = 0; i < sc->nr_files; i++)
		idle += sc->files[i] && !sc->refs[i];
	while (idle > AP_SYMCACHE_IDLE_MAX) {
		oldest = SIZE_MAX;
		for (i = 0; i < sc->nr_files; i++)
			if (sc->files[i] && !sc->refs[i] &&
			    (oldest == SIZE_MAX || sc->last_use[i] < sc->last_use[oldest]))
				oldest = i;
		symfile__free(sc->files[oldest]);
		sc->files[oldest] = NULL;
		sc->nr_evicted++;
		idle--;
	}
}

struct ap_proc *procmaps__find(struct procmaps *pm, uint32_t pid)
{
	uint64_t idx;

	return hmap_get(&pm->by_pid, &pid, sizeof(pid), &idx) ? pm->procs[idx] : NULL;
}

struct ap_proc *procmaps__get(struct procmaps *pm, uint32_t pid)
{
	struct ap_proc *p = procmaps__find(pm, pid);

	if (p)
		return p;
	p = xcalloc(1, sizeof(*p));
	p->pid = pid;
	GROW(pm->procs, pm->cap, pm->nr_procs + 1);
	hmap_put(&pm->by_pid, &pid, sizeof(pid), pm->nr_procs);
	pm->procs[pm->nr_procs++] = p;
	return p;
}

static struct ap_image *new_image(struct ap_proc *p, uint64_t time)
{
	struct ap_image *img = xcalloc(1, sizeof(*img));
	size_t i = p->nr_images;

	/* records reach us per CPU, not in time order: keep images sorted */
	img->start_time = time;
	p->images = xrealloc(p->images, (p->nr_images + 1) * sizeof(*p->images));
	while (i > 0 && p->images[i - 1]->start_time > time) {
		p->images[i] = p->images[i - 1];
		i--;
	}
	p->images[i] = img;
	p->nr_images++;
	return img;
}

/* The file of pid's mapping [start, end), (dev, ino), which the kernel
 * names path. The target controls that path (it may delete the file and
 * plant a symlink, a FIFO or another file there), so the name alone is
 * never trusted:
 * 1. /proc/PID/map_files/START-END is the mapped file itself, deleted or
 *    not, in any mount namespace, while the process and that exact mapping
 *    live. Its device is not compared: a btrfs subvolume or overlayfs
 *    reports another st_dev than the mapping's, for the same file.
 * 2. /proc/PID/root/PATH (a container names files by its own root), then
 *    PATH: without following a final symlink, and only if device and inode
 *    are the mapping's.
 * Never blocks (open_checked). Returns an fd, or -errno; open_refused() of
 * it when a path held something else. */
static int open_mapped(uint32_t pid, uint64_t start, uint64_t end, const char *path,
		       uint64_t dev, uint64_t ino)
{
	char buf[PATH_MAX + 64];
	int fd, err;

	if (!ino) /* nothing to check the file against */
		return -ESTALE;
	snprintf(buf, sizeof(buf), "/proc/%u/map_files/%" PRIx64 "-%" PRIx64, pid, start, end);
	fd = open_checked(buf, AP_OPEN_FOLLOW, 0, ino, NULL);
	if (fd >= 0)
		return fd;
	snprintf(buf, sizeof(buf), "/proc/%u/root%s", pid, path);
	err = open_checked(buf, 0, dev, ino, NULL);
	if (err >= 0)
		return err;
	fd = open_checked(path, 0, dev, ino, NULL);
	if (fd >= 0 || open_refused(fd))
		return fd;
	return err;
}

/* Our own vDSO, copied to a memfd: every process of this kernel maps the
 * same image, so its symbols and CFI name and unwind frames in theirs. */
static struct symfile *vdso_symfile(struct symcache *sc)
{
	unsigned long base = getauxval(AT_SYSINFO_EHDR);
	char line[256];
	unsigned long long start, end;
	FILE *f;

	if (sc->vdso_tried)
		return sc->vdso;
	sc->vdso_tried = true;
	sc->vdso_fd = -1;
	f = fopen("/proc/self/maps", "re");
	if (!base || !f) {
		if (f)
			fclose(f);
		return NULL;
	}
	while (fgets(line, sizeof(line), f)) {
		if (!strstr(line, "[vdso]") || sscanf(line, "%llx-%llx", &start, &end) != 2 ||
		    start != base)
			continue;
		sc->vdso_fd = memfd_create("autoprof-vdso", MFD_CLOEXEC | MFD_ALLOW_SEALING);
		/* sealed: the symfile maps it as it is (no copy) */
		if (sc->vdso_fd >= 0 &&
		    write(sc->vdso_fd, (void *)base, end - start) == (ssize_t)(end - start) &&
		    !fcntl(sc->vdso_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)) {
			/* a dup (close-on-exec, as all our fds): the symfile keeps its own fd */
			int fd = fcntl(sc->vdso_fd, F_DUPFD_CLOEXEC, 0);

			if (fd >= 0)
				sc->vdso = symfile__open_fd(fd, "[vdso]");
		}
		break;
	}
	fclose(f);
	return sc->vdso;
}

static void add_map(struct procmaps *pm, uint32_t pid, struct ap_image *img, uint64_t start,
		    uint64_t end, uint64_t pgoff, uint64_t dev, uint64_t ino, const char *path)
{
	struct symcache *sc = &pm->sc;
	struct ap_mapping *m;
	bool hit;
	int fd;

	GROW(img->maps, img->cap, img->nr_maps + 1);
	m = &img->maps[img->nr_maps++];
	*m = (struct ap_mapping){
		.start = start, .end = end, .pgoff = pgoff, .dev = dev, .ino = ino,
	};
	img->gen++;
	if (!path || !*path)
		return;
	m->path = xstrdup(path);
	if (path[0] == '[') {
		m->special = true;
		if (!strcmp(path, "[vdso]") && (m->sf = vdso_symfile(sc)) &&
		    symfile__bias(m->sf, start, 0, &m->bias))
			m->sf = NULL;
		return;
	}
	if (path[0] != '/')
		return;
	m->sf = symcache__lookup(sc, dev, ino, &hit, &m->sf_id);
	if (!hit) {
		fd = open_mapped(pid, start, end, path, dev, ino);
		if (fd >= 0) {
			m->sf = symcache__add(sc, dev, ino, fd, path, &m->sf_id);
		} else if (open_refused(fd)) {
			/* not cached: a later mapping may reach the real file */
			pm->nr_refused++;
			ap_debug("symbolize: pid %u: %s is not the mapped file (%" PRIx64 ":%" PRIu64
				 "): %s", pid, path, dev, ino, ap_errstr(fd));
		}
	}
	if (m->sf && symfile__bias(m->sf, start, pgoff, &m->bias))
		m->sf = NULL, m->sf_id = 0;
	if (m->sf_id)
		sc->refs[m->sf_id - 1]++;
	if (m->sf && pm->on_map)
		pm->on_map(pm->hook_ctx, pid, img, m);
}

static void read_small(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	size_t n = 0;

	buf[0] = 0;
	if (!f)
		return;
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = 0;
	if (n && buf[n - 1] == '\n')
		buf[n - 1] = 0;
}

static void read_proc_identity(struct ap_proc *p)
{
	char path[64], buf[4096], exe[PATH_MAX];
	size_t i, n;
	ssize_t k;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%u/comm", p->pid);
	read_small(path, buf, sizeof(p->comm));
	if (buf[0]) /* gone: keep what we knew */
		memcpy(p->comm, buf, sizeof(p->comm));
	snprintf(path, sizeof(path), "/proc/%u/cmdline", p->pid);
	f = fopen(path, "re");
	if (f) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		for (i = 0; i + 1 < n; i++)
			if (!buf[i])
				buf[i] = ' ';
		buf[n] = 0;
		free(p->cmdline);
		p->cmdline = xstrdup(buf);
	}
	snprintf(path, sizeof(path), "/proc/%u/exe", p->pid);
	k = readlink(path, exe, sizeof(exe) - 1);
	if (k > 0) {
		exe[k] = 0;
		free(p->exe);
		p->exe = xstrdup(exe);
	}
	snprintf(path, sizeof(path), "/proc/%u/stat", p->pid);
	read_small(path, buf, sizeof(buf));
	{
		char *rp = strrchr(buf, ')');
		unsigned ppid;

		if (rp && sscanf(rp + 1, " %*c %u", &ppid) == 1)
			p->ppid = ppid;
	}
}

int procmaps__load_proc(struct procmaps *pm, uint32_t pid, uint64_t time)
{
	char path[64], line[PATH_MAX + 128], perms[8], name[PATH_MAX];
	struct ap_proc *p;
	struct ap_image *img;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%u/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	p = procmaps__get(pm, pid);
	img = new_image(p, time);
	while (fgets(line, sizeof(line), f)) {
		unsigned long long start, end, off, ino;
		unsigned maj, min;
		int n;

		name[0] = 0;
		n = sscanf(line, "%llx-%llx %7s %llx %x:%x %llu %4095[^\n]", &start, &end, perms,
			   &off, &maj, &min, &ino, name);
		if (n < 7 || perms[2] != 'x')
			continue;
		n = strlen(name);
		if (n > 10 && !strcmp(name + n - 10, " (deleted)"))
			name[n - 10] = 0;
		add_map(pm, pid, img, start, end, off, makedev(maj, min), ino, name[0] ? name : NULL);
	}
	fclose(f);
	read_proc_identity(p);
	return 0;
}

void procmaps__exec(struct procmaps *pm, uint32_t pid, uint64_t time, const char *comm)
{
	struct ap_proc *p = procmaps__get(pm, pid);

	if (pm->on_exec)
		pm->on_exec(pm->hook_ctx, pid);
	ap_labels__free(p->labels); /* another program: its environment, its build id */
	p->labels = NULL;
	new_image(p, time);
	free(p->exe);
	p->exe = NULL;
	if (p->cmdline_time >= time) /* the BPF exec record of this exec came first */
		return;
	snprintf(p->comm, sizeof(p->comm), "%s", comm);
	/* the exec record comes before the kernel has set up the new argv,
	 * so /proc/PID/cmdline is still empty: the BPF exec record brings it,
	 * or it is read later (procmaps__refresh) */
	free(p->cmdline);
	p->cmdline = NULL;
}

void procmaps__set_cmdline(struct procmaps *pm, uint32_t pid, uint64_t time, const char *comm,
			   const char *args, size_t len)
{
	struct ap_proc *p = procmaps__get(pm, pid);
	char *s = xcalloc(1, len + 1);
	size_t i;

	memcpy(s, args, len);
	while (len && !s[len - 1]) /* the terminating NUL(s) */
		len--;
	for (i = 0; i < len; i++)
		if (!s[i])
			s[i] = ' ';
	s[len] = 0;
	free(p->cmdline);
	p->cmdline = s;
	p->cmdline_time = time;
	if (comm[0])
		snprintf(p->comm, sizeof(p->comm), "%.15s", comm);
}

void procmaps__refresh(struct ap_proc *p)
{
	/* after its exit the pid may name another process */
	if (p->released)
		return;
	if (!p->cmdline || !*p->cmdline)
		read_proc_identity(p);
}

void procmaps__fork(struct procmaps *pm, uint32_t ppid, uint32_t pid, uint64_t time)
{
	struct ap_proc *parent = procmaps__find(pm, ppid), *p;
	struct ap_image *src, *img;
	size_t i;

	if (!parent || !parent->nr_images)
		return;
	procmaps__refresh(parent);
	p = procmaps__get(pm, pid);
	if (p->released) { /* the pid of an exited process, reused */
		p->released = p->exited = false;
		pm->nr_released--;
		ap_labels__free(p->labels);
		p->labels = NULL;
	}
	p->ppid = ppid;
	memcpy(p->comm, parent->comm, sizeof(p->comm));
	if (parent->cmdline && !p->cmdline)
		p->cmdline = xstrdup(parent->cmdline);
	if (parent->exe && !p->exe)
		p->exe = xstrdup(parent->exe);
	src = proc__image_at(parent, time);
	img = new_image(p, time);
	for (i = 0; i < src->nr_maps; i++) {
		const struct ap_mapping *m = &src->maps[i];

		add_map(pm, pid, img, m->start, m->end, m->pgoff, m->dev, m->ino, m->path);
	}
}

void procmaps__mmap(struct procmaps *pm, uint32_t pid, uint64_t time, uint64_t start,
		    uint64_t len, uint64_t pgoff, uint64_t dev, uint64_t ino, const char *path)
{
	struct ap_proc *p = procmaps__get(pm, pid);
	struct ap_image *img = proc__image_at(p, time);

	pm->nr_mmap_events++;
	if (!img)
		img = new_image(p, time);
	add_map(pm, pid, img, start, start + len, pgoff, dev, ino, path);
	if (!p->exe && path && path[0] == '/')
		p->exe = xstrdup(path);
}

const struct ap_labels *proc__labels(struct ap_proc *p)
{
	struct ap_image *img = p->nr_images ? p->images[p->nr_images - 1] : NULL;
	const char *build_id = NULL;
	size_t i;

	if (!p->labels && (p->exited || p->released)) {
		/* gone: /proc/PID may be another process by now */
		p->labels = xcalloc(1, sizeof(*p->labels));
	} else if (!p->labels) {
		/* the executable's build id, already read with its mapping */
		for (i = 0; img && p->exe && i < img->nr_maps && !build_id; i++)
			if (img->maps[i].sf && img->maps[i].path && !strcmp(img->maps[i].path, p->exe))
				build_id = img->maps[i].sf->build_id;
		p->labels = ap_labels__read(p->pid, build_id);
	}
	if (!p->labels->runtime && img && img->py_minor > 0)
		ap_labels__set_runtime(p->labels, 3, img->py_minor, img->py_ft);
	if (!p->labels->py_missing && img && img->py_missing)
		ap_labels__set_py_missing(p->labels, img->py_seen, img->py_missing, img->py_missing_why);
	return p->labels;
}

struct ap_image *proc__image_at(struct ap_proc *p, uint64_t time)
{
	size_t i;

	for (i = p->nr_images; i > 0; i--) {
		if (p->images[i - 1]->start_time <= time)
			return p->images[i - 1];
	}
	return p->nr_images ? p->images[0] : NULL;
}

const struct ap_mapping *image__find(const struct ap_image *img, uint64_t addr)
{
	size_t i;

	for (i = img->nr_maps; i > 0; i--) {
		const struct ap_mapping *m = &img->maps[i - 1];

		if (addr >= m->start && addr < m->end)
			return m;
	}
	return NULL;
}

static void free_images(struct procmaps *pm, struct ap_proc *p)
{
	struct symcache *sc = &pm->sc;
	size_t j, k;

	for (j = 0; j < p->nr_images; j++) {
		struct ap_image *img = p->images[j];

		for (k = 0; k < img->nr_maps; k++) {
			uint32_t id = img->maps[k].sf_id;

			free(img->maps[k].path);
			if (id && !--sc->refs[id - 1])
				sc->last_use[id - 1] = ++sc->clock;
		}
		if (img->unwind && pm->unwind_free)
			pm->unwind_free(img->unwind);
		free(img->maps);
		free(img->py_missing_why);
		free(img->py_seen);
		free(img);
	}
	free(p->images);
	p->images = NULL;
	p->nr_images = 0;
}

void procmaps__release(struct procmaps *pm, uint32_t pid)
{
	struct ap_proc *p = procmaps__find(pm, pid);

	if (!p || p->released)
		return;
	free_images(pm, p);
	p->exited = true;
	p->released = true;
	pm->nr_released++;
	symcache__trim(&pm->sc);
}

size_t procmaps__forget_released(struct procmaps *pm)
{
	size_t i, n = 0, gone;

	hmap_free(&pm->by_pid);
	for (i = 0; i < pm->nr_procs; i++) {
		struct ap_proc *p = pm->procs[i];

		if (p->released) {
			free(p->cmdline);
			free(p->exe);
			ap_labels__free(p->labels);
			free(p);
			continue;
		}
		pm->procs[n] = p;
		hmap_put(&pm->by_pid, &p->pid, sizeof(p->pid), n);
		n++;
	}
	gone = pm->nr_procs - n;
	pm->nr_procs = n;
	pm->nr_forgotten += gone;
	return gone;
}

void procmaps__reuse(struct procmaps *pm, uint32_t pid)
{
	struct ap_proc *p = procmaps__find(pm, pid);

	if (!p || !p->released)
		return;
	free_images(pm, p); /* none, unless the side band added some since */
	p->released = p->exited = false;
	p->ppid = 0;
	p->comm[0] = 0;
	free(p->cmdline);
	p->cmdline = NULL;
	p->cmdline_time = 0;
	free(p->exe);
	p->exe = NULL;
	p->nr_samples = 0;
	ap_labels__free(p->labels);
	p->labels = NULL;
}

void procmaps__free(struct procmaps *pm)
{
	size_t i;

	for (i = 0; i < pm->nr_procs; i++) {
		struct ap_proc *p = pm->procs[i];

		free_images(pm, p);
		free(p->cmdline);
		free(p->exe);
		ap_labels__free(p->labels);
		free(p);
	}
	free(pm->procs);
	hmap_free(&pm->by_pid);
	for (i = 0; i < pm->sc.nr_files; i++)
		symfile__free(pm->sc.files[i]);
	symfile__free(pm->sc.vdso);
	if (pm->sc.vdso_tried && pm->sc.vdso_fd >= 0)
		close(pm->sc.vdso_fd);
	free(pm->sc.files);
	free(pm->sc.refs);
	free(pm->sc.last_use);
	hmap_free(&pm->sc.by_id);
	memset(pm, 0, sizeof(*pm));
}
