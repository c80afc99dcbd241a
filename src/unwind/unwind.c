// SPDX-License-Identifier: MIT
/* libdw unwinding. One Dwfl per distinct image layout (the files mapped and
 * their load biases), shared by every image with that layout (a fork and
 * its parent, until one of them maps something new) and freed when the
 * last image using it is released (procmaps__release at the process's
 * exit): libdw caches parsed CFI per module, so a stable process costs one
 * CFI lookup per frame, and a finished one costs nothing. Memory reads
 * outside the copied stack fail, which ends the unwind there, as in perf. */
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "log.h"
#include "unwind/unwind.h"
#include "util.h"

/* one Dwfl and what identifies its layout */
struct uw_dwfl {
	Dwfl *dwfl;
	bool attached;
	unsigned refs;              /* images using it */
	struct uw_mod *key;         /* the modules reported, in order */
	size_t nr_key;
	struct uw_dwfl *next;
	/* the sample being unwound */
	const struct ap_uctx *cur;
	uint64_t *pcs, *sps;
	int n, max;
};

struct uw_mod {
	const struct symfile *sf;
	uint64_t bias;
};

/* an image's handle (ap_image.unwind) */
struct uw_img {
	struct uw_dwfl *d;
	unsigned gen;
};

/* Dwfls in use. Short: one per distinct layout among images not yet
 * released, i.e. about one per live process. */
static struct uw_dwfl *uw_live;

/* No separate debug files: libdw falls back from .eh_frame to
 * .debug_frame at every outermost frame, and loading a debug file's DWARF
 * decompresses all of its sections, per Dwfl: with libc6-dbg installed
 * that was ~10 ms of CPU and ~2 MB for every short-lived process. The
 * .eh_frame of the mapped files (and their own .debug_frame) unwinds the
 * code of x86-64 distributions; symbols still come from debug files
 * (symbolize/elfsym.c). Nor does libdw's standard search run: it opens
 * paths next to the mapped file, which the target controls, with a
 * blocking open(). */
static int no_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
			const char *file_name, const char *debuglink_file, GElf_Word debuglink_crc,
			char **debuginfo_file_name)
{
	return -1;
}

static const Dwfl_Callbacks dwfl_cbs = {
	.find_elf = dwfl_build_id_find_elf, /* unused: every module comes with its fd */
	.find_debuginfo = no_debuginfo,
};

static pid_t next_thread(Dwfl *dwfl, void *arg, void **thread_argp)
{
	return 0; /* only get_thread is used */
}

static bool get_thread(Dwfl *dwfl, pid_t tid, void *arg, void **thread_argp)
{
	*thread_argp = arg;
	return true;
}

static bool memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result, void *arg)
{
	struct uw_dwfl *st = arg;
	const struct ap_uctx *uc = st->cur;
	uint64_t sp = uc->regs[7];

	/* no addr + 8: an address near the top of the address space (a
	 * garbage CFA, seen host-wide) wraps and passed the check */
	if (addr < sp || addr - sp > uc->stack_size || uc->stack_size - (addr - sp) < 8)
		return false;
	memcpy(result, uc->stack + (addr - sp), 8);
	return true;
}

static bool set_initial_registers(Dwfl_Thread *thread, void *arg)
{
	struct uw_dwfl *st = arg;
	Dwarf_Word regs[17];

	memcpy(regs, st->cur->regs, sizeof(regs));
	return dwfl_thread_state_registers(thread, 0, 17, regs);
}

static const Dwfl_Thread_Callbacks thread_cbs = {
	.next_thread = next_thread,
	.get_thread = get_thread,
	.memory_read = memory_read,
	.set_initial_registers = set_initial_registers,
};

static void dwfl_put(struct uw_dwfl *d)
{
	struct uw_dwfl **pp;

	if (!d || --d->refs)
		return;
	for (pp = &uw_live; *pp; pp = &(*pp)->next) {
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	}
	if (d->dwfl)
		dwfl_end(d->dwfl);
	free(d->key);
	free(d);
}

void unwind_image_free(void *state)
{
	struct uw_img *ui = state;

	if (!ui)
		return;
	dwfl_put(ui->d);
	free(ui);
}

/* the ELF files of img to report, each once at the bias of its newest mapping */
static size_t image_layout(const struct ap_image *img, struct uw_mod *out)
{
	size_t i, j, n = 0;

	for (i = 0; i < img->nr_maps; i++) {
		const struct ap_mapping *m = &img->maps[i];
		bool dup = false;

		if (!m->sf)
			continue;
		for (j = i + 1; j < img->nr_maps && !dup; j++) /* newest mapping of a file wins */
			dup = img->maps[j].sf == m->sf;
		if (!dup)
			out[n++] = (struct uw_mod){ m->sf, m->bias };
	}
	return n;
}

static struct uw_dwfl *build_dwfl(const struct ap_image *img, struct uw_mod *key, size_t nr,
				  uint32_t pid)
{
	struct uw_dwfl *d = xcalloc(1, sizeof(*d));
	size_t i, k;
	int fd;

	d->key = key;
	d->nr_key = nr;
	d->refs = 1;
	d->next = uw_live;
	uw_live = d;
	d->dwfl = dwfl_begin(&dwfl_cbs);
	if (!d->dwfl)
		return d;
	dwfl_report_begin(d->dwfl);
	for (k = 0; k < nr; k++) {
		const struct ap_mapping *m = NULL;

		for (i = img->nr_maps; i > 0 && !m; i--) /* the newest mapping of key[k].sf */
			if (img->maps[i - 1].sf == key[k].sf)
				m = &img->maps[i - 1];
		/* the file the symfile opened and checked, by its fd (libdw
		 * takes it on success): never re-opened by name, and the
		 * sealed copy of a file the target could truncate under
		 * libdw's mapping (symfile.elf_fd) */
		fd = fcntl(m->sf->elf_fd, F_DUPFD_CLOEXEC, 0);
		if (fd < 0 || !dwfl_report_elf(d->dwfl, m->path, m->sf->path, fd, m->bias, false)) {
			if (fd >= 0)
				close(fd);
			ap_debug("unwind: pid %u: %s: %s", pid, m->path, dwfl_errmsg(-1));
		}
	}
	dwfl_report_end(d->dwfl, NULL, NULL);
	/* the pid only names the Dwfl: our callbacks serve any thread */
	if (!dwfl_attach_state(d->dwfl, NULL, pid, &thread_cbs, d)) {
		ap_debug("unwind: pid %u: attach: %s", pid, dwfl_errmsg(-1));
		return d;
	}
	d->attached = true;
	return d;
}

/* the Dwfl for img's current layout: an existing one with the same
 * layout, or a new one */
static struct uw_dwfl *dwfl_get(const struct ap_image *img, uint32_t pid)
{
	struct uw_mod *key = xcalloc(img->nr_maps + 1, sizeof(*key));
	size_t nr = image_layout(img, key);
	struct uw_dwfl *d;

	for (d = uw_live; d; d = d->next) {
		if (d->nr_key == nr && !memcmp(d->key, key, nr * sizeof(*key))) {
			d->refs++;
			free(key);
			return d;
		}
	}
	return build_dwfl(img, key, nr, pid);
}

static int frame_cb(Dwfl_Frame *frame, void *arg)
{
	struct uw_dwfl *st = arg;
	Dwarf_Addr pc;

	if (!dwfl_frame_pc(frame, &pc, NULL) || pc == 0)
		return DWARF_CB_ABORT;
	/* a frame that repeats the previous pc with no progress is a loop */
	if (st->n >= st->max)
		return DWARF_CB_ABORT;
	if (st->sps) {
		Dwarf_Word sp;

		/* DWARF register 7, rsp: a caller's is the CFA (x86-64's ABI CFI) */
		st->sps[st->n] = dwfl_frame_reg(frame, 7, &sp) == 0 ? sp : 0;
	}
	st->pcs[st->n++] = pc;
	return DWARF_CB_OK;
}

int unwind_user(struct ap_image *img, const struct ap_uctx *uc, uint64_t *pcs, uint64_t *sps,
		int max)
{
	struct uw_img *ui = img->unwind;
	struct uw_dwfl *st;

	if (max <= 0)
		return 0;
	if (!ui) {
		ui = xcalloc(1, sizeof(*ui));
		img->unwind = ui;
	}
	if (!ui->d || ui->gen != img->gen) {
		dwfl_put(ui->d);
		ui->d = dwfl_get(img, uc->pid);
		ui->gen = img->gen;
	}
	st = ui->d;
	st->cur = uc;
	st->pcs = pcs;
	st->sps = sps;
	st->max = max;
	st->n = 0;
	if (st->attached)
		dwfl_getthread_frames(st->dwfl, uc->tid, frame_cb, st);
	if (st->n == 0) { /* no CFI at all for the pc: still report where it was */
		if (sps)
			sps[0] = uc->regs[7];
		pcs[st->n++] = uc->regs[16];
	}
	return st->n;
}
