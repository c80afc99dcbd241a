/* SPDX-License-Identifier: MIT */
/* ELF symbol tables for user-space symbolization: .symtab and .dynsym of a
 * file (and of its build-id or debuglink debug file when one exists),
 * PT_LOAD segments for address translation, and the GNU build id. */
#ifndef AP_ELFSYM_H
#define AP_ELFSYM_H

#include <stdbool.h>
#include <stdint.h>

struct ap_sym {
	uint64_t addr;
	uint64_t size;
	uint32_t name;  /* offset into symfile.names */
	uint8_t bind;   /* STB_* (for picking among aliases) */
};

struct ap_load_seg {
	uint64_t vaddr, memsz, offset, filesz;
	uint32_t flags; /* PF_* */
};

struct symfile {
	char *path;            /* its name: the mapping's path (not necessarily openable) */
	int fd;                /* the file itself, open for the symfile's life: uprobes
				* attach through it */
	int elf_fd;            /* what every read of its contents (symbols, CFI, data,
				* libdw) goes through: fd itself if only root can write
				* the file, else a sealed memfd copy of it (a mapped
				* file that shrinks would SIGBUS the profiler) */
	uint64_t dev, ino;     /* st_dev, st_ino of fd: the symcache key */
	uint32_t uid;          /* its owner, who may also own its debug file */
	char *debug_path;      /* debug file that supplied .symtab, or NULL */
	uint64_t debug_dev, debug_ino;
	char build_id[129];    /* lower-case hex, "" if none */
	int e_type;            /* ET_EXEC, ET_DYN, ... */
	uint64_t eh_hdr;       /* PT_GNU_EH_FRAME vaddr (.eh_frame_hdr), 0 if none */
	uint64_t entry;        /* e_entry: where _start is, named or not */
	struct ap_load_seg *loads;
	int nr_loads;
	struct ap_sym *syms;   /* sorted by addr, aliases removed */
	size_t nr_syms;
	char *names;
	size_t names_len, names_cap;
	bool has_symtab;       /* a full .symtab was found (file or debug file) */
	bool syms_capped;      /* AP_SYMFILE_MAX_SYMS or _NAMES reached: the rest dropped */
	void *cfi_elf;         /* Elf * kept open for .eh_frame lookups, lazily */
	void *cfi;             /* Dwarf_CFI * of it */
	bool cfi_tried;
	/* CPython's runtime, when this file defines it (0 otherwise): file vaddrs */
	uint64_t py_runtime, py_runtime_size, py_version, py_code_type;
	uint64_t py_gilstate_fn; /* PyGILState_GetThisThreadState (3.15: a TLS read) */
	uint64_t py_eval_cold;   /* symfile__eval_cold's answer, once tried */
	bool py_eval_cold_tried;
};

/* A file only root can write is mapped as it is; any other (the target's
 * own .so, a venv) is first copied to a sealed memfd, up to this size: a
 * bigger one is refused (EFBIG, counted in too_big) and stays unnamed. */
#define AP_SYMFILE_COPY_MAX (256ull << 20)
/* and all the copies open at once (memfd pages are ours: shmem) */
#define AP_SYMFILE_COPY_TOTAL_MAX (1ull << 30)
/* a debug file is not read (nor its CRC computed) beyond this size */
#define AP_DEBUG_FILE_MAX (2ull << 30)
/* per file (with its debug file): function symbols and their name bytes */
#define AP_SYMFILE_MAX_SYMS 2000000
#define AP_SYMFILE_MAX_NAMES (128u << 20)

/* process-wide counts, reported in run.json (collectors.cpu.counters) */
struct symfile_stats {
	uint64_t copied, copied_bytes; /* files copied to a memfd before mapping */
	uint64_t too_big;              /* files and debug files refused for their size */
	uint64_t syms_capped;          /* files whose symbols were capped */
};
extern struct symfile_stats symfile_stats;

/* Where build-id and debuglink debug files are looked up; default
 * /usr/lib/debug. Tests point this at fixture trees. */
void symfile_set_debug_root(const char *dir);

/* Open path (a regular file, not through a final symlink: open_checked)
 * and read its symbols. NULL with errno set on failure (ENOENT, ELOOP,
 * EINVAL for a FIFO or device, ENOEXEC for a non-ELF file). Free with
 * symfile__free(). */
struct symfile *symfile__open(const char *path);
/* The same for a file already opened and checked (open_checked): fd is
 * taken in every case, and kept open until symfile__free(). name is what
 * the file is called (a mapping's path): debuglink files are looked up
 * next to it. */
struct symfile *symfile__open_fd(int fd, const char *name);
void symfile__free(struct symfile *sf);

/* Name of the function containing vaddr and the offset into it; NULL if no
 * symbol covers vaddr. Code just after the ELF entry point is "_start" even
 * when the symbol was stripped (ld.so, stripped executables), so stacks that
 * begin there count as complete. The string lives as long as sf. */
const char *symfile__lookup(const struct symfile *sf, uint64_t vaddr, uint64_t *off);
/* Start of the function containing vaddr according to the file's .eh_frame
 * (a stripped file still has one per function); 0 or -ENOENT. */
int symfile__fde_start(struct symfile *sf, uint64_t vaddr, uint64_t *start);
/* A stripped PGO build (Debian's python3.14/3.15) keeps only a stub under the
 * name _PyEval_EvalFrameDefault; the loop is an unnamed ".cold" function the
 * stub jumps into. Its FDE start, found from the stub's jumps; -ENOENT when
 * there is no such part (a named whole loop, or no stub). */
int symfile__eval_cold(struct symfile *sf, uint64_t *start);
/* Translate a file offset to a virtual address through the PT_LOAD that
 * contains it. 0 or -ENOENT. */
int symfile__offset_to_vaddr(const struct symfile *sf, uint64_t offset, uint64_t *vaddr);
/* Load bias of a mapping of this file that starts at map_start with file
 * offset pgoff: runtime address = vaddr + bias. 0 or -ENOENT. */
int symfile__bias(const struct symfile *sf, uint64_t map_start, uint64_t pgoff, uint64_t *bias);

/* file offset of the function named name (for uprobes); 0 or -ENOENT */
int symfile__func_offset(const struct symfile *sf, const char *name, uint64_t *offset);

/* copy len bytes of the file's initialized data at vaddr; 0 or -errno */
int symfile__read_vaddr(const struct symfile *sf, uint64_t vaddr, void *buf, size_t len);

/* the type (R_X86_64_*) of the dynamic relocation that writes vaddr, from
 * the file's SHT_RELA sections; 0, -ENOENT (none) or -errno */
int symfile__reloc_at(const struct symfile *sf, uint64_t vaddr, uint32_t *type);

/* the DT_NEEDED entry of sf that starts with prefix, resolved the way
 * ld.so would for the common cases (DT_RUNPATH/DT_RPATH with $ORIGIN, the
 * directory of path, LD_LIBRARY_PATH, the multiarch and standard
 * directories); caller frees. NULL if none. Reads sf's checked file. */
char *symfile__find_needed(const struct symfile *sf, const char *path, const char *prefix);
/* does sf name a DT_NEEDED library, or a PT_INTERP loader, that contains
 * part ("libc.musl", "ld-musl")? Reads sf's checked file. */
bool symfile__links(const struct symfile *sf, const char *part);

/* read just the build id of an ELF file; 0 or -errno */
int elf_read_build_id(const char *path, char *hex, size_t len);

#endif
