// SPDX-License-Identifier: MIT
/* libdw unwinding. One Dwfl per process image, rebuilt when the image's
 * mappings change (image.gen); libdw caches parsed CFI per module, so a
 * stable process costs one CFI lookup per frame. Memory reads outside the
 * copied stack fail, which ends the unwind there, as in perf. */
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

struct uw_state {
	Dwfl *dwfl;
	unsigned gen;
	bool attached;
	const struct ap_uctx *cur;   /* the sample being unwound */
	uint64_t *pcs;
	int n, max;
};

/* .debug_frame of a module, from the debug file its symfile already found
 * and checked (module user data: the symfile). Not libdw's standard search:
 * that opens paths next to the mapped file, which the target controls,
 * with a blocking open(). */
static int find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname,
			  Dwarf_Addr base, const char *file_name, const char *debuglink_file,
			  GElf_Word debuglink_crc, char **debuginfo_file_name)
{
	const struct symfile *sf = *userdata;
	int fd = sf ? symfile__open_debug(sf) : -ENOENT;

	if (fd < 0)
		return -1;
	*debuginfo_file_name = strdup(sf->debug_path);
	return fd;
}

static const Dwfl_Callbacks dwfl_cbs = {
	.find_elf = dwfl_build_id_find_elf, /* unused: every module comes with its fd */
	.find_debuginfo = find_debuginfo,
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
	struct uw_state *st = arg;
	const struct ap_uctx *uc = st->cur;
	uint64_t sp = uc->regs[7];

	if (addr < sp || addr + 8 > sp + uc->stack_size)
		return false;
	memcpy(result, uc->stack + (addr - sp), 8);
	return true;
}

static bool set_initial_registers(Dwfl_Thread *thread, void *arg)
{
	struct uw_state *st = arg;
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

void unwind_image_free(void *state)
{
	struct uw_state *st = state;

	if (!st)
		return;
	if (st->dwfl)
		dwfl_end(st->dwfl);
	free(st);
}

/* report each ELF file of the image once, at the bias of its mapping */
static int build_dwfl(struct uw_state *st, struct ap_image *img, uint32_t pid)
{
	size_t i, j;

	if (st->dwfl)
		dwfl_end(st->dwfl);
	st->attached = false;
	st->dwfl = dwfl_begin(&dwfl_cbs);
	if (!st->dwfl)
		return -ENOMEM;
	dwfl_report_begin(st->dwfl);
	for (i = 0; i < img->nr_maps; i++) {
		const struct ap_mapping *m = &img->maps[i];
		Dwfl_Module *mod;
		bool dup = false;
		void **ud;
		int fd;

		if (!m->sf)
			continue;
		for (j = i + 1; j < img->nr_maps && !dup; j++) /* newest mapping of a file wins */
			dup = img->maps[j].sf == m->sf;
		if (dup)
			continue;
		/* the file the symfile opened and checked, by its fd (libdw
		 * takes it on success): never re-opened by name */
		fd = fcntl(m->sf->fd, F_DUPFD_CLOEXEC, 0);
		mod = fd < 0 ? NULL :
			       dwfl_report_elf(st->dwfl, m->path, m->sf->path, fd, m->bias, false);
		if (!mod) {
			if (fd >= 0)
				close(fd);
			ap_debug("unwind: pid %u: %s: %s", pid, m->path, dwfl_errmsg(-1));
			continue;
		}
		if (dwfl_module_info(mod, &ud, NULL, NULL, NULL, NULL, NULL, NULL))
			*ud = m->sf;
	}
	dwfl_report_end(st->dwfl, NULL, NULL);
	if (!dwfl_attach_state(st->dwfl, NULL, pid, &thread_cbs, st)) {
		ap_debug("unwind: pid %u: attach: %s", pid, dwfl_errmsg(-1));
		return -EINVAL;
	}
	st->attached = true;
	st->gen = img->gen;
	return 0;
}

static int frame_cb(Dwfl_Frame *frame, void *arg)
{
	struct uw_state *st = arg;
	Dwarf_Addr pc;

	if (!dwfl_frame_pc(frame, &pc, NULL) || pc == 0)
		return DWARF_CB_ABORT;
	/* a frame that repeats the previous pc with no progress is a loop */
	if (st->n >= st->max)
		return DWARF_CB_ABORT;
	st->pcs[st->n++] = pc;
	return DWARF_CB_OK;
}

int unwind_user(struct ap_image *img, const struct ap_uctx *uc, uint64_t *pcs, int max)
{
	struct uw_state *st = img->unwind;

	if (max <= 0)
		return 0;
	if (!st) {
		st = xcalloc(1, sizeof(*st));
		img->unwind = st;
	}
	if (!st->dwfl || st->gen != img->gen)
		build_dwfl(st, img, uc->pid);
	st->cur = uc;
	st->pcs = pcs;
	st->max = max;
	st->n = 0;
	if (st->attached)
		dwfl_getthread_frames(st->dwfl, uc->tid, frame_cb, st);
	if (st->n == 0) /* no CFI at all for the pc: still report where it was */
		pcs[st->n++] = uc->regs[16];
	return st->n;
}
