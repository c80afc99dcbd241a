/* SPDX-License-Identifier: MIT */
/* What each tracked process had mapped and when: one image per exec, each a
 * list of executable mappings learned from /proc/PID/maps (attach) and from
 * perf mmap/comm/fork records (everything after), so samples are unwound and
 * symbolized with the mappings of their own time even after the process has
 * exited or exec'd. */
#ifndef AP_PROCMAPS_H
#define AP_PROCMAPS_H

#include <stdbool.h>
#include <stdint.h>
#include "hashmap.h"
#include "process/labels.h"
#include "symbolize/elfsym.h"

struct ap_mapping {
	uint64_t start, end, pgoff;
	uint64_t dev, ino;      /* the mapped file (st_dev encoding: makedev) */
	char *path;             /* NULL for anonymous memory */
	struct symfile *sf;     /* owned by the symcache; NULL if not a readable ELF */
	uint32_t sf_id;         /* its symcache id (stable for the file; 0: none or the vDSO) */
	uint64_t bias;          /* runtime = file vaddr + bias, valid if sf */
	bool special;           /* [vdso], [vsyscall], ... */
};

struct ap_image {
	uint64_t start_time;    /* exec (or first sight) time, CLOCK_MONOTONIC ns */
	struct ap_mapping *maps;
	size_t nr_maps, cap;
	unsigned gen;           /* bumped on every change, for the unwinder's cache */
	void *unwind;           /* unwinder state, freed through procmaps.unwind_free */
	int py_minor;           /* CPython 3.<minor> runs in this image; 0 if none, -1 if
				 * one runs whose frames are not walked (py_missing) */
	const struct symfile *py_sf; /* the file holding that interpreter (walked or not) */
	bool py_ft;             /* that interpreter is free-threaded (3.13t+: no GIL unless
				 * PYTHON_GIL=1 or an extension turns it on) */
	const char *py_missing; /* why its Python frames are not walked: a reason code
				 * (static string), NULL when walked or no interpreter */
	char *py_missing_why;   /* the reason in one line, owned */
	char *py_seen;          /* "CPython 3.16": the interpreter not walked, owned */
};

struct ap_proc {
	uint32_t pid, ppid;
	char comm[16];
	char *cmdline;          /* spaces between args; NULL if never read */
	uint64_t cmdline_time;  /* when the exec that set it happened (0: read from /proc) */
	char *exe;
	struct ap_image **images;
	size_t nr_images;
	bool exited;
	bool released;          /* images freed after its exit (procmaps__release) */
	uint64_t nr_samples;
	struct ap_labels *labels; /* read at first sight after each exec (proc__labels) */
};

/* Symbol files by (device, inode), shared by every process that maps one.
 * A file stays open while a mapping of a live image uses it; of the files
 * no image uses, the AP_SYMCACHE_IDLE_MAX used last stay open too, the
 * others are closed, and opened again if mapped again (same id). */
#define AP_SYMCACHE_IDLE_MAX 32

struct symcache {
	struct hmap by_id;      /* (dev, ino) -> id = index + 1 in files (0: not an ELF) */
	struct symfile **files; /* NULL: closed (evicted, or failed to reopen) */
	uint32_t *refs;         /* mappings of live images using each */
	uint64_t *last_use;     /* when the last of them went */
	size_t nr_files, cap;
	uint64_t clock;
	uint64_t nr_evicted;
	struct symfile *vdso;   /* this kernel's vDSO, the same image in every process */
	int vdso_fd;            /* memfd holding it (libdw opens it by path) */
	bool vdso_tried;
};

struct procmaps {
	struct hmap by_pid;     /* pid -> index in procs */
	struct ap_proc **procs;
	size_t nr_procs, cap;
	struct symcache sc;
	void (*unwind_free)(void *);
	/* hooks: a mapping was added to pid's image; pid exec'd */
	void (*on_map)(void *ctx, uint32_t pid, struct ap_image *img, const struct ap_mapping *m);
	void (*on_exec)(void *ctx, uint32_t pid);
	/* a followed process's main thread exited (side band; may be NULL) */
	void (*on_exit)(void *ctx, uint32_t pid);
	void *hook_ctx;
	uint64_t nr_mmap_events, nr_lost_events;
	uint64_t nr_refused;    /* mappings whose path named another file (or a
				 * symlink, FIFO, device) and that were not opened */
	uint64_t nr_released;   /* processes whose images were freed at their exit */
	uint64_t nr_forgotten;  /* released processes dropped once a window named them */
};

/* The cached file of identity (dev, ino), and *id (if id) its id. *hit says
 * whether it is known and usable: a known file may be NULL (not an ELF
 * file); one the trim closed is not a hit. Not counted as used: keep the
 * pointer only until the next image is released. */
struct symfile *symcache__lookup(struct symcache *sc, uint64_t dev, uint64_t ino, bool *hit,
				 uint32_t *id);
/* read the file open at fd (checked with open_checked; taken in every
 * case) into the cache under (dev, ino), named name, reusing the id of a
 * closed entry; NULL if it is not an ELF file, which is remembered */
struct symfile *symcache__add(struct symcache *sc, uint64_t dev, uint64_t ino, int fd,
			      const char *name, uint32_t *id);

struct ap_proc *procmaps__find(struct procmaps *pm, uint32_t pid);
struct ap_proc *procmaps__get(struct procmaps *pm, uint32_t pid);
/* read /proc/PID/{maps,comm,cmdline,exe} into a new image; 0 or -errno */
int procmaps__load_proc(struct procmaps *pm, uint32_t pid, uint64_t time);
void procmaps__exec(struct procmaps *pm, uint32_t pid, uint64_t time, const char *comm);
void procmaps__fork(struct procmaps *pm, uint32_t ppid, uint32_t pid, uint64_t time);
void procmaps__mmap(struct procmaps *pm, uint32_t pid, uint64_t time, uint64_t start,
		    uint64_t len, uint64_t pgoff, uint64_t dev, uint64_t ino, const char *path);
/* the command line the BPF exec record read from the process at its exec
 * (NUL-separated args); an earlier exec record of the side band does not
 * clear it */
void procmaps__set_cmdline(struct procmaps *pm, uint32_t pid, uint64_t time, const char *comm,
			   const char *args, size_t len);
/* read pid's comm, cmdline, exe and parent from /proc if the cmdline is
 * not known yet (best effort: the process may be gone) */
void procmaps__refresh(struct ap_proc *p);
/* pid has exited and no record of it can still arrive: free its images
 * (mappings, unwinder state), keep what the report names it by (pid,
 * ppid, comm, exe, cmdline, counts). Later samples of it have no image. */
void procmaps__release(struct procmaps *pm, uint32_t pid);
/* pid names a new process (a pid reused after procmaps__release): forget
 * the old one's names and labels; its images are gone already */
void procmaps__reuse(struct procmaps *pm, uint32_t pid);
/* p's labels (process/labels.h), read from /proc on the first call after
 * its exec while it lives (empty for a process already gone), the runtime
 * filled in once its image is known to run CPython. Owned by p. */
const struct ap_labels *proc__labels(struct ap_proc *p);
/* Drop the processes released so far entirely (what names them too): the
 * engine calls this once a window has named them. A sample of one that
 * comes later finds no process (samples_without_mappings). Returns how
 * many went (counted in nr_forgotten). */
size_t procmaps__forget_released(struct procmaps *pm);
/* the image in force at time, NULL if none */
struct ap_image *proc__image_at(struct ap_proc *p, uint64_t time);
/* the mapping containing addr (newest wins where mappings overlap) */
const struct ap_mapping *image__find(const struct ap_image *img, uint64_t addr);
void procmaps__free(struct procmaps *pm);

#endif
