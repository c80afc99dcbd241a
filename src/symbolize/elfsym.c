// SPDX-License-Identifier: MIT
/* ELF symbol tables through libelf. A stripped distro binary keeps .dynsym
 * only; its .symtab may live in a debug file found by build id
 * (/usr/lib/debug/.build-id/ab/cdef....debug) or by .gnu_debuglink. */
#include <errno.h>
#include <fcntl.h>
#include <elfutils/libdw.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <zlib.h>
#include "elfsym.h"
#include "symbolize/safeopen.h"
#include "util.h"

#define AP_PAGE 4096

static const char *debug_root = "/usr/lib/debug";

void symfile_set_debug_root(const char *dir)
{
	debug_root = dir;
}

struct symfile_stats symfile_stats;
static uint64_t copies_live; /* bytes in memfd copies now open */

#define AP_FUSE_SUPER_MAGIC 0x65735546

/* May libelf map fd as it is? A mapped file that shrinks turns our next
 * read of a page past its new end into SIGBUS, which kills the profiler.
 * Only a file nobody but root can write is mapped directly: owned by root,
 * not group- or world-writable, not on FUSE (whose server reports any
 * owner and fails page reads at will), or a memfd sealed against
 * shrinking (our own copies, the vDSO). */
static bool map_is_safe(int fd, const struct stat *st)
{
	int seals = fcntl(fd, F_GET_SEALS);
	struct statfs fs;

	if (seals >= 0 && (seals & F_SEAL_SHRINK))
		return true;
	if (st->st_uid != 0 || (st->st_mode & (S_IWGRP | S_IWOTH)))
		return false;
	return !fstatfs(fd, &fs) && fs.f_type != AP_FUSE_SUPER_MAGIC;
}

/* A private copy of the file open at fd in a memfd sealed against any
 * change (size and contents), which is then safe to map: at most
 * AP_SYMFILE_COPY_MAX bytes, and AP_SYMFILE_COPY_TOTAL_MAX in all the
 * copies open at once (a target mapping many big files of its own), else
 * -EFBIG (counted). The copy ends where the file ends while it is read.
 * Returns the memfd or -errno; release it with map_fd_close(). */
static int copy_to_memfd(int fd, const struct stat *st)
{
	size_t bufsz = 1 << 20;
	char *buf = NULL;
	off_t off = 0;
	ssize_t n;
	int mfd, err = 0;

	if (st->st_size < 0 || (uint64_t)st->st_size > AP_SYMFILE_COPY_MAX ||
	    copies_live + st->st_size > AP_SYMFILE_COPY_TOTAL_MAX) {
		symfile_stats.too_big++;
		return -EFBIG;
	}
	mfd = memfd_create("autoprof-elf", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0)
		return -errno;
	buf = xmalloc(bufsz);
	while (off < st->st_size) {
		size_t want = (uint64_t)(st->st_size - off) < bufsz ? (size_t)(st->st_size - off) : bufsz;

		n = pread(fd, buf, want, off);
		if (n < 0) {
			err = -errno;
			goto out;
		}
		if (n == 0) /* shrunk meanwhile: the copy ends here */
			break;
		ssize_t w = write(mfd, buf, n);

		if (w != n) {
			err = w < 0 ? -errno : -EIO;
			goto out;
		}
		off += n;
	}
	if (fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL)) {
		err = -errno;
		goto out;
	}
	symfile_stats.copied++;
	symfile_stats.copied_bytes += off;
	copies_live += off;
out:
	free(buf);
	if (err) {
		close(mfd);
		return err;
	}
	return mfd;
}

/* The fd libelf and libdw may map for the file open at fd: fd itself when
 * that is safe (map_is_safe), else a sealed copy (copy_to_memfd). st may
 * be NULL (fstat'ed here). Returns an fd (== fd, or a new one the caller
 * closes) or -errno. */
static int map_fd(int fd, const struct stat *st)
{
	struct stat sb;

	if (!st) {
		if (fstat(fd, &sb))
			return -errno;
		st = &sb;
	}
	if (!S_ISREG(st->st_mode))
		return -EINVAL;
	return map_is_safe(fd, st) ? fd : copy_to_memfd(fd, st);
}

/* close mfd, map_fd's answer for fd, if it is a copy */
static void map_fd_close(int mfd, int fd)
{
	struct stat st;

	if (mfd < 0 || mfd == fd)
		return;
	if (!fstat(mfd, &st) && (uint64_t)st.st_size <= copies_live)
		copies_live -= st.st_size;
	close(mfd);
}

/* an ELF handle on fd (which stays the caller's and must be safe to map:
 * map_fd); NULL with errno set */
static Elf *elf_begin_fd(int fd)
{
	Elf *elf;

	if (elf_version(EV_CURRENT) == EV_NONE) {
		errno = EINVAL;
		return NULL;
	}
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		if (elf)
			elf_end(elf);
		errno = ENOEXEC;
		return NULL;
	}
	return elf;
}

/* path as a regular file only (open_checked, no symlink unless flags say
 * so): *fdp the file, *mfdp the fd mapped (map_fd); NULL with errno set */
/* the checked file fd as libelf reads it: itself, or a sealed copy
 * (map_fd) in *mfdp; NULL with errno set (fd stays open either way) */
static Elf *elf_from_fd(int fd, const struct stat *st, int *mfdp)
{
	int err, mfd = map_fd(fd, st);
	Elf *elf;

	if (mfd < 0) {
		errno = -mfd;
		return NULL;
	}
	elf = elf_begin_fd(mfd);
	if (!elf) {
		err = errno;
		map_fd_close(mfd, fd);
		errno = err;
		return NULL;
	}
	*mfdp = mfd;
	return elf;
}

static Elf *elf_open(const char *path, unsigned flags, int *fdp, int *mfdp)
{
	int err, fd = open_checked(path, flags, 0, 0, NULL);
	Elf *elf;

	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	elf = elf_from_fd(fd, NULL, mfdp);
	if (!elf) {
		err = errno;
		close(fd);
		errno = err;
		return NULL;
	}
	*fdp = fd;
	return elf;
}

static void hexify(const unsigned char *p, size_t n, char *out, size_t len)
{
	size_t i;

	out[0] = 0;
	for (i = 0; i < n && 2 * i + 2 < len; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
}

/* the NT_GNU_BUILD_ID note from any SHT_NOTE section or PT_NOTE segment */
static void read_build_id(Elf *elf, char *hex, size_t len)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	hex[0] = 0;
	while ((scn = elf_nextscn(elf, scn))) {
		Elf_Data *d;
		GElf_Nhdr nh;
		size_t off = 0, noff, doff;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE)
			continue;
		d = elf_getdata(scn, NULL);
		while (d && d->d_buf && (off = gelf_getnote(d, off, &nh, &noff, &doff)) > 0) {
			if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
			    !memcmp((char *)d->d_buf + noff, "GNU", 4)) {
				hexify((unsigned char *)d->d_buf + doff, nh.n_descsz, hex, len);
				return;
			}
		}
	}
}

int elf_read_build_id(const char *path, char *hex, size_t len)
{
	int fd, mfd;
	Elf *elf = elf_open(path, AP_OPEN_FOLLOW, &fd, &mfd);

	if (!elf)
		return -errno;
	read_build_id(elf, hex, len);
	elf_end(elf);
	map_fd_close(mfd, fd);
	close(fd);
	return 0;
}

static uint32_t add_name(struct symfile *sf, const char *name)
{
	size_t n = strlen(name) + 1;
	uint32_t off = sf->names_len;

	GROW(sf->names, sf->names_cap, sf->names_len + n);
	memcpy(sf->names + off, name, n);
	sf->names_len += n;
	return off;
}

/* the few data symbols the Python support needs (defined ones only:
 * extension modules import _PyRuntime undefined) */
static void note_object(struct symfile *sf, const char *name, const GElf_Sym *s)
{
	if (!name || (name[0] != '_' && name[0] != 'P'))
		return;
	if (!strcmp(name, "_PyRuntime")) {
		sf->py_runtime = s->st_value;
		sf->py_runtime_size = s->st_size;
	} else if (!strcmp(name, "Py_Version")) {
		sf->py_version = s->st_value;
	} else if (!strcmp(name, "PyCode_Type")) {
		sf->py_code_type = s->st_value;
	}
}

/* append every defined function symbol of the symbol table section scn */
static size_t read_symtab(struct symfile *sf, Elf *elf, Elf_Scn *scn, size_t *cap)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	GElf_Shdr sh;
	size_t i, n, added = 0;

	if (!d || !d->d_buf || !gelf_getshdr(scn, &sh) || !sh.sh_entsize)
		return 0;
	n = sh.sh_size / sh.sh_entsize;
	for (i = 0; i < n; i++) {
		GElf_Sym s;
		const char *name;
		int type;

		if (!gelf_getsym(d, i, &s))
			continue;
		type = GELF_ST_TYPE(s.st_info);
		if (type == STT_OBJECT && s.st_shndx != SHN_UNDEF)
			note_object(sf, elf_strptr(elf, sh.sh_link, s.st_name), &s);
		if ((type != STT_FUNC && type != STT_GNU_IFUNC) || s.st_shndx == SHN_UNDEF ||
		    !s.st_value)
			continue;
		name = elf_strptr(elf, sh.sh_link, s.st_name);
		if (!name || !*name)
			continue;
		if (name[0] == 'P' && !strcmp(name, "PyGILState_GetThisThreadState"))
			sf->py_gilstate_fn = s.st_value;
		if (sf->nr_syms >= AP_SYMFILE_MAX_SYMS ||
		    sf->names_len + strlen(name) + 1 > AP_SYMFILE_MAX_NAMES) {
			/* a crafted table of millions of symbols: keep what fits */
			if (!sf->syms_capped)
				symfile_stats.syms_capped++;
			sf->syms_capped = true;
			break;
		}
		GROW(sf->syms, *cap, sf->nr_syms + 1);
		sf->syms[sf->nr_syms++] = (struct ap_sym){
			.addr = s.st_value, .size = s.st_size,
			.name = add_name(sf, name), .bind = GELF_ST_BIND(s.st_info),
		};
		added++;
	}
	return added;
}

/* the symbol a GOT slot is relocated to, by the slot's address; its
 * "NAME@plt" is added to symfile.names only once a PLT stub jumps through
 * the slot (a crafted file's relocations cannot fill the names budget) */
struct got_name {
	uint64_t slot;
	Elf_Data *dynsym;
	size_t strtab;    /* section index of dynsym's string table */
	uint32_t symndx;  /* index into dynsym */
	uint32_t name;    /* offset into symfile.names, or UINT32_MAX: not yet added */
};

static int cmp_got(const void *a, const void *b)
{
	const struct got_name *x = a, *y = b;

	return (x->slot > y->slot) - (x->slot < y->slot);
}

/* every x86-64 JUMP_SLOT and GLOB_DAT relocation with a function symbol:
 * its GOT slot and dynsym index, sorted by slot; at most max of them; how
 * many */
static size_t got_names(Elf *elf, size_t max, struct got_name **out)
{
	Elf_Scn *scn = NULL;
	size_t n = 0, cap = 0, i;
	GElf_Shdr sh, ssh;

	*out = NULL;
	while ((scn = elf_nextscn(elf, scn)) && n < max) {
		Elf_Data *d = elf_getdata(scn, NULL), *sd;
		Elf_Scn *sym;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_RELA ||
		    sh.sh_entsize != sizeof(Elf64_Rela) || !d ||
		    !(sym = elf_getscn(elf, sh.sh_link)) || !gelf_getshdr(sym, &ssh) ||
		    ssh.sh_type != SHT_DYNSYM || !(sd = elf_getdata(sym, NULL)))
			continue;
		for (i = 0; i < d->d_size / sizeof(Elf64_Rela) && n < max; i++) {
			GElf_Rela r;
			GElf_Sym s;

			if (!gelf_getrela(d, i, &r))
				break;
			if ((GELF_R_TYPE(r.r_info) != R_X86_64_JUMP_SLOT &&
			     GELF_R_TYPE(r.r_info) != R_X86_64_GLOB_DAT) ||
			    !GELF_R_SYM(r.r_info) || GELF_R_SYM(r.r_info) > UINT32_MAX ||
			    !gelf_getsym(sd, GELF_R_SYM(r.r_info), &s) ||
			    GELF_ST_TYPE(s.st_info) == STT_OBJECT)
				continue;
			GROW(*out, cap, n + 1);
			(*out)[n++] = (struct got_name){ .slot = r.r_offset, .dynsym = sd,
							 .strtab = ssh.sh_link,
							 .symndx = GELF_R_SYM(r.r_info),
							 .name = UINT32_MAX };
		}
	}
	if (n)
		qsort(*out, n, sizeof(**out), cmp_got);
	return n;
}

/* g's "NAME@plt" in symfile.names, added the first time; UINT32_MAX if it
 * has no name or the names budget is spent */
static uint32_t got_name(struct symfile *sf, Elf *elf, struct got_name *g)
{
	char buf[256];
	const char *name;
	GElf_Sym s;

	if (g->name != UINT32_MAX)
		return g->name;
	if (!gelf_getsym(g->dynsym, g->symndx, &s) ||
	    !(name = elf_strptr(elf, g->strtab, s.st_name)) || !*name)
		return UINT32_MAX;
	snprintf(buf, sizeof(buf), "%s@plt", name);
	if (sf->names_len + strlen(buf) + 1 > AP_SYMFILE_MAX_NAMES)
		return UINT32_MAX;
	return g->name = add_name(sf, buf);
}

/* The GOT slot an x86-64 PLT entry jumps through: "[endbr64] [bnd] jmp
 * *disp32(%rip)" (.plt's lazy entries, .plt.sec, .plt.got); 0 if not one */
static uint64_t plt_slot(const uint8_t *b, size_t len, uint64_t addr)
{
	static const uint8_t endbr64[] = { 0xf3, 0x0f, 0x1e, 0xfa };
	size_t i = 0;
	int32_t disp;

	if (len >= 4 && !memcmp(b, endbr64, 4))
		i = 4;
	if (i < len && b[i] == 0xf2) /* bnd */
		i++;
	if (i + 6 > len || b[i] != 0xff || b[i + 1] != 0x25)
		return 0;
	memcpy(&disp, b + i + 2, 4);
	return addr + i + 6 + (int64_t)disp;
}

/* x86-64 PLT stubs as "NAME@plt", as objdump and perf name them. Without
 * them a call through the PLT takes the name of the symbol before it:
 * _init, which crti.o leaves without a size. Each entry of .plt, .plt.sec
 * (IBT builds) and .plt.got is named by the relocation of the GOT slot it
 * jumps through, not by its index, so lazy, BIND_NOW and IBT layouts all
 * work; entries that jump elsewhere (.plt's first, IBT .plt's) stay as
 * they were. */
static void add_plt_symbols(struct symfile *sf, Elf *elf, size_t *cap)
{
	struct got_name *g = NULL;
	Elf_Scn *scn = NULL;
	uint32_t name_off;
	size_t ng, shstrndx;
	GElf_Ehdr eh;
	GElf_Shdr sh;

	if (!gelf_getehdr(elf, &eh) || eh.e_machine != EM_X86_64 ||
	    elf_getshdrstrndx(elf, &shstrndx) || sf->nr_syms >= AP_SYMFILE_MAX_SYMS ||
	    !(ng = got_names(elf, AP_SYMFILE_MAX_SYMS - sf->nr_syms, &g)))
		goto out;
	while ((scn = elf_nextscn(elf, scn))) {
		const char *name;
		Elf_Data *d;
		size_t es, off;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS ||
		    !(name = elf_strptr(elf, shstrndx, sh.sh_name)) || strncmp(name, ".plt", 4) ||
		    (name[4] && strcmp(name + 4, ".sec") && strcmp(name + 4, ".got")) ||
		    !(d = elf_getdata(scn, NULL)) || !d->d_buf)
			continue;
		es = sh.sh_entsize >= 8 && sh.sh_entsize <= 32 ? sh.sh_entsize : 16;
		for (off = 0; off + es <= d->d_size; off += es) {
			struct got_name key = { .slot = plt_slot((const uint8_t *)d->d_buf + off, es,
								 sh.sh_addr + off) };
			struct got_name *hit;

			if (!key.slot || !(hit = bsearch(&key, g, ng, sizeof(*g), cmp_got)))
				continue;
			if (sf->nr_syms >= AP_SYMFILE_MAX_SYMS) {
				if (!sf->syms_capped)
					symfile_stats.syms_capped++;
				sf->syms_capped = true;
				goto out;
			}
			if ((name_off = got_name(sf, elf, hit)) == UINT32_MAX)
				continue;
			GROW(sf->syms, *cap, sf->nr_syms + 1);
			sf->syms[sf->nr_syms++] = (struct ap_sym){
				.addr = sh.sh_addr + off, .size = es, .name = name_off,
				.bind = STB_LOCAL,
			};
		}
	}
out:
	free(g);
}

/* .symtab and .dynsym of elf; returns whether a .symtab was present */
static bool read_symbols(struct symfile *sf, Elf *elf, size_t *cap)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	bool symtab = false;

	while ((scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &sh))
			continue;
		/* a debug file's .symtab is NOBITS-free; a stub section has size 0 */
		if (sh.sh_type == SHT_SYMTAB && read_symtab(sf, elf, scn, cap))
			symtab = true;
		else if (sh.sh_type == SHT_DYNSYM)
			read_symtab(sf, elf, scn, cap);
	}
	return symtab;
}

/* the .gnu_debuglink file name, and its CRC-32 (which follows the name,
 * 4-byte aligned) in *crc */
static const char *debuglink(Elf *elf, uint32_t *crc)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	if (elf_getshdrstrndx(elf, &shstrndx))
		return NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		const char *name;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh))
			continue;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (name && !strcmp(name, ".gnu_debuglink") && sh.sh_type != SHT_NOBITS) {
			d = elf_getdata(scn, NULL);
			/* NOBITS-like data has d_buf NULL (found by fuzzing) */
			if (d && d->d_buf && d->d_size > 4 && memchr(d->d_buf, 0, d->d_size)) {
				size_t at = (strlen(d->d_buf) + 4) & ~(size_t)3;

				*crc = 0;
				if (at + 4 <= d->d_size)
					memcpy(crc, (char *)d->d_buf + at, 4);
				return d->d_buf;
			}
		}
	}
	return NULL;
}

/* CRC-32 of the whole file, as .gnu_debuglink records it (zlib's); the
 * caller has capped its size (AP_DEBUG_FILE_MAX) */
static uint32_t file_crc32(int fd)
{
	unsigned char buf[65536];
	uLong crc = crc32(0L, Z_NULL, 0);
	off_t off = 0;
	ssize_t n;

	while ((n = pread(fd, buf, sizeof(buf), off)) > 0) {
		crc = crc32(crc, buf, n);
		off += n;
	}
	return crc;
}

/* One candidate debug file. Its path may be one the target influences (the
 * debuglink directory is the mapped file's), so: a regular file only,
 * owned by root or by the owner of the binary, and the same build as the
 * binary: its build id, or for a binary without one the debuglink CRC. A
 * debug file of another build would misname frames. */
static bool try_debug_file(struct symfile *sf, const char *cand, unsigned flags, uint32_t crc,
			   size_t *cap)
{
	char bid[sizeof(sf->build_id)];
	struct stat st;
	bool ok = false;
	Elf *elf;
	int mfd = -1, fd = open_checked(cand, flags, 0, 0, &st);

	if (fd < 0)
		return false;
	if (st.st_uid != 0 && st.st_uid != sf->uid)
		goto out;
	/* a sparse terabyte would stall the collection loop in the CRC */
	if ((uint64_t)st.st_size > AP_DEBUG_FILE_MAX) {
		symfile_stats.too_big++;
		goto out;
	}
	mfd = map_fd(fd, &st); /* its owner may truncate it while we read */
	if (mfd < 0)
		goto out;
	elf = elf_begin_fd(mfd);
	if (!elf)
		goto out;
	read_build_id(elf, bid, sizeof(bid));
	if (sf->build_id[0] ? !strcmp(bid, sf->build_id) : crc && file_crc32(mfd) == crc)
		ok = read_symbols(sf, elf, cap);
	elf_end(elf);
	if (ok) {
		sf->debug_path = xstrdup(cand);
		sf->debug_dev = st.st_dev;
		sf->debug_ino = st.st_ino;
	}
out:
	map_fd_close(mfd, fd);
	close(fd);
	return ok;
}

static void find_debug_file(struct symfile *sf, Elf *elf, size_t *cap)
{
	char cand[PATH_MAX + 256], dir[PATH_MAX];
	uint32_t crc = 0;
	const char *link = debuglink(elf, &crc), *slash;

	/* the build-id tree is the system's (some distributions link its
	 * entries to the debug files): the link is followed there only */
	if (sf->build_id[0] && strlen(sf->build_id) > 2) {
		snprintf(cand, sizeof(cand), "%s/.build-id/%.2s/%s.debug", debug_root,
			 sf->build_id, sf->build_id + 2);
		if (try_debug_file(sf, cand, AP_OPEN_FOLLOW, 0, cap))
			return;
	}
	/* a file name, not a path: "../../x" would leave the directories */
	if (!link || strchr(link, '/') || !strcmp(link, ".") || !strcmp(link, ".."))
		return;
	slash = strrchr(sf->path, '/');
	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - sf->path) : 1,
		 slash ? sf->path : ".");
	snprintf(cand, sizeof(cand), "%s%s/%s", debug_root, dir, link);
	if (try_debug_file(sf, cand, 0, crc, cap))
		return;
	snprintf(cand, sizeof(cand), "%s/.debug/%s", dir, link);
	try_debug_file(sf, cand, 0, crc, cap);
}

static int cmp_sym(const void *a, const void *b)
{
	const struct ap_sym *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	/* among aliases prefer GLOBAL, then WEAK, then LOCAL */
	static const int rank[] = { [STB_LOCAL] = 2, [STB_GLOBAL] = 0, [STB_WEAK] = 1 };
	int rx = x->bind <= STB_WEAK ? rank[x->bind] : 3, ry = y->bind <= STB_WEAK ? rank[y->bind] : 3;

	if (rx != ry)
		return rx - ry;
	return (x->size < y->size) - (x->size > y->size); /* larger size first */
}

static void sort_symbols(struct symfile *sf)
{
	size_t i, j = 0;

	if (!sf->nr_syms) /* qsort(NULL, 0) is undefined */
		return;
	qsort(sf->syms, sf->nr_syms, sizeof(*sf->syms), cmp_sym);
	for (i = 0; i < sf->nr_syms; i++) {
		if (j && sf->syms[j - 1].addr == sf->syms[i].addr)
			continue;
		sf->syms[j++] = sf->syms[i];
	}
	sf->nr_syms = j;
}

static int read_loads(struct symfile *sf, Elf *elf)
{
	size_t i, n;
	GElf_Ehdr eh;

	if (!gelf_getehdr(elf, &eh) || elf_getphdrnum(elf, &n))
		return -ENOEXEC;
	sf->e_type = eh.e_type;
	sf->entry = eh.e_entry;
	sf->loads = xcalloc(n, sizeof(*sf->loads));
	for (i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(elf, i, &ph) && ph.p_type == PT_GNU_EH_FRAME)
			sf->eh_hdr = ph.p_vaddr;
		if (!gelf_getphdr(elf, i, &ph) || ph.p_type != PT_LOAD)
			continue;
		sf->loads[sf->nr_loads++] = (struct ap_load_seg){
			.vaddr = ph.p_vaddr, .memsz = ph.p_memsz, .offset = ph.p_offset,
			.filesz = ph.p_filesz, .flags = ph.p_flags,
		};
	}
	return 0;
}

struct symfile *symfile__open(const char *path)
{
	int fd = open_checked(path, 0, 0, 0, NULL);

	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	return symfile__open_fd(fd, path);
}

struct symfile *symfile__open_fd(int fd, const char *name)
{
	struct symfile *sf;
	struct stat st;
	size_t cap = 0;
	int err, mfd;
	Elf *elf;

	err = fstat(fd, &st) ? errno : S_ISREG(st.st_mode) ? 0 : EINVAL;
	elf = err ? NULL : elf_from_fd(fd, &st, &mfd);
	if (!elf) {
		err = err ?: errno;
		close(fd);
		errno = err;
		return NULL;
	}
	sf = xcalloc(1, sizeof(*sf));
	sf->fd = fd;
	sf->elf_fd = mfd;
	sf->dev = st.st_dev;
	sf->ino = st.st_ino;
	sf->uid = st.st_uid;
	sf->path = xstrdup(name);
	err = read_loads(sf, elf);
	if (err) {
		elf_end(elf);
		symfile__free(sf);
		errno = -err;
		return NULL;
	}
	read_build_id(elf, sf->build_id, sizeof(sf->build_id));
	sf->has_symtab = read_symbols(sf, elf, &cap);
	add_plt_symbols(sf, elf, &cap);
	if (!sf->has_symtab) {
		find_debug_file(sf, elf, &cap);
		sf->has_symtab = sf->debug_path != NULL;
	}
	elf_end(elf);
	sort_symbols(sf);
	return sf;
}

void symfile__free(struct symfile *sf)
{
	if (!sf)
		return;
	if (sf->cfi)
		dwarf_cfi_end(sf->cfi); /* a CFI from dwarf_getcfi_elf is not freed with the Elf */
	if (sf->cfi_elf)
		elf_end(sf->cfi_elf);
	map_fd_close(sf->elf_fd, sf->fd);
	if (sf->fd >= 0) /* always an open fd (symfile__open_fd) */
		close(sf->fd);
	free(sf->path);
	free(sf->debug_path);
	free(sf->loads);
	free(sf->syms);
	free(sf->names);
	free(sf);
}

const char *symfile__lookup(const struct symfile *sf, uint64_t vaddr, uint64_t *off)
{
	size_t lo = 0, hi = sf->nr_syms;
	const struct ap_sym *s;
	uint64_t end;

	while (lo < hi) { /* first symbol with addr > vaddr */
		size_t mid = (lo + hi) / 2;

		if (sf->syms[mid].addr <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		goto entry;
	s = &sf->syms[lo - 1];
	/* a zero-size symbol (hand-written assembly) runs to the next one */
	end = s->size ? s->addr + s->size : (lo < sf->nr_syms ? sf->syms[lo].addr : s->addr + 1);
	if (vaddr >= end)
		goto entry;
	if (off)
		*off = vaddr - s->addr;
	return sf->names + s->name;

entry:
	/* _start: a few instructions, then the call into libc or _dl_start */
	if (sf->entry && vaddr >= sf->entry && vaddr < sf->entry + 64) {
		if (off)
			*off = vaddr - sf->entry;
		return "_start";
	}
	return NULL;
}

int symfile__func_offset(const struct symfile *sf, const char *name, uint64_t *offset)
{
	size_t i;
	int j;

	for (i = 0; i < sf->nr_syms; i++) {
		uint64_t a = sf->syms[i].addr;

		if (strcmp(sf->names + sf->syms[i].name, name))
			continue;
		for (j = 0; j < sf->nr_loads; j++) {
			const struct ap_load_seg *l = &sf->loads[j];

			if (a >= l->vaddr && a < l->vaddr + l->filesz) {
				*offset = a - l->vaddr + l->offset;
				return 0;
			}
		}
	}
	return -ENOENT;
}

/* The FDE around vaddr from .eh_frame_hdr's sorted table (GNU ld writes it
 * as datarel sdata4 pairs): [start of that FDE, start of the next). libdw's
 * dwarf_frame_info gives the CFI *row* instead, so a function that pushes
 * and pops registers would be cut into several "functions". */
static int fde_table(struct symfile *sf, uint64_t vaddr, uint64_t *start, uint64_t *end)
{
	uint8_t h[12];
	uint32_t count, lo = 0, hi, mid;
	int32_t e[2];
	uint64_t base = sf->eh_hdr, tab = base + 12;

	/* version 1; eh_frame_ptr pcrel|sdata4 (0x1b); count udata4 (0x03);
	 * table datarel|sdata4 (0x3b) */
	if (!base || symfile__read_vaddr(sf, base, h, sizeof(h)) || h[0] != 1 || h[2] != 0x03 ||
	    h[3] != 0x3b)
		return -ENOENT;
	memcpy(&count, h + 8, 4);
	if (!count || count > (1u << 24))
		return -ENOENT;
	hi = count;
	while (hi - lo > 1) { /* the last entry with start <= vaddr */
		mid = lo + (hi - lo) / 2;
		if (symfile__read_vaddr(sf, tab + 8ull * mid, e, 4))
			return -ENOENT;
		if (base + (int64_t)e[0] <= vaddr)
			lo = mid;
		else
			hi = mid;
	}
	if (symfile__read_vaddr(sf, tab + 8ull * lo, e, 4) || base + (int64_t)e[0] > vaddr)
		return -ENOENT;
	*start = base + (int64_t)e[0];
	*end = UINT64_MAX;
	if (lo + 1 < count && !symfile__read_vaddr(sf, tab + 8ull * (lo + 1), e, 4))
		*end = base + (int64_t)e[0];
	return 0;
}

static int fde_range(struct symfile *sf, uint64_t vaddr, uint64_t *start, uint64_t *end)
{
	Dwarf_Frame *frame = NULL;
	Dwarf_Addr lo, hi, row_lo;

	if (!sf->cfi_tried) {
		sf->cfi_tried = true;
		sf->cfi_elf = elf_begin_fd(sf->elf_fd);
		if (sf->cfi_elf)
			sf->cfi = dwarf_getcfi_elf(sf->cfi_elf);
	}
	if (!sf->cfi || dwarf_cfi_addrframe(sf->cfi, vaddr, &frame) || !frame)
		return -ENOENT;
	if (dwarf_frame_info(frame, &lo, &hi, NULL) < 0 || vaddr < lo || vaddr >= hi) {
		free(frame);
		return -ENOENT;
	}
	free(frame);
	/* a CFI row is known here: widen it to its FDE when the table says */
	row_lo = lo;
	if (!fde_table(sf, vaddr, start, end) && *start <= row_lo && *end >= hi)
		return 0;
	*start = lo;
	*end = hi;
	return 0;
}

int symfile__fde_start(struct symfile *sf, uint64_t vaddr, uint64_t *start)
{
	uint64_t end;

	return fde_range(sf, vaddr, start, &end);
}

#define EVAL_STUB_MAX 4096         /* Debian's stubs: 1,184 (3.14) and 844 (3.15) bytes */
#define EVAL_COLD_MIN (16u << 10)  /* the loop bodies: 84 KB and 82 KB */

int symfile__eval_cold(struct symfile *sf, uint64_t *start)
{
	uint64_t addr = 0, size = 0, best = 0, lo, hi;
	uint8_t code[EVAL_STUB_MAX];
	struct {
		uint64_t lo, hi;
		int n;
	} fde[8];
	int nf = 0, i, k;
	size_t j;

	if (sf->py_eval_cold_tried)
		goto out;
	sf->py_eval_cold_tried = true;
	for (j = 0; j < sf->nr_syms; j++)
		if (!strcmp(sf->names + sf->syms[j].name, "_PyEval_EvalFrameDefault")) {
			addr = sf->syms[j].addr;
			size = sf->syms[j].size;
		}
	/* a whole loop is far bigger than a stub: nothing to find */
	if (!addr || !size || size > sizeof(code) || symfile__read_vaddr(sf, addr, code, size))
		goto out;
	/* jmp rel32 (e9) and jcc rel32 (0f 8x) out of the stub. A byte scan, not
	 * a decoder: a false target lands in no FDE or in a small or named one */
	for (j = 0; j + 5 <= size; j++) {
		int32_t rel;
		uint64_t t;

		if (code[j] == 0xe9) {
			memcpy(&rel, code + j + 1, 4);
			t = addr + j + 5 + rel;
		} else if (code[j] == 0x0f && j + 6 <= size && (code[j + 1] & 0xf0) == 0x80) {
			memcpy(&rel, code + j + 2, 4);
			t = addr + j + 6 + rel;
		} else {
			continue;
		}
		if (t >= addr && t < addr + size)
			continue;
		for (k = 0; k < nf; k++)
			if (t >= fde[k].lo && t < fde[k].hi)
				break;
		if (k < nf) {
			fde[k].n++;
			continue;
		}
		if (nf == (int)(sizeof(fde) / sizeof(fde[0])) || fde_range(sf, t, &lo, &hi) ||
		    hi - lo < EVAL_COLD_MIN || symfile__lookup(sf, lo, NULL))
			continue;
		fde[nf].lo = lo, fde[nf].hi = hi, fde[nf].n = 1;
		nf++;
	}
	for (i = 0, k = -1; i < nf; i++)
		if (k < 0 || fde[i].n > fde[k].n)
			k = i;
	/* more than one jump: the stub's fall-backs all go to the body */
	if (k >= 0 && fde[k].n >= 2)
		best = fde[k].lo;
	sf->py_eval_cold = best;
out:
	if (!sf->py_eval_cold)
		return -ENOENT;
	*start = sf->py_eval_cold;
	return 0;
}

int symfile__read_vaddr(const struct symfile *sf, uint64_t vaddr, void *buf, size_t len)
{
	ssize_t n;
	int i;

	for (i = 0; i < sf->nr_loads; i++) {
		const struct ap_load_seg *l = &sf->loads[i];

		if (vaddr < l->vaddr || vaddr + len > l->vaddr + l->filesz)
			continue;
		/* the file opened and checked at symfile__open (or its copy),
		 * not its path */
		n = pread(sf->elf_fd, buf, len, l->offset + (vaddr - l->vaddr));
		return n < 0 ? -errno : (size_t)n == len ? 0 : -EIO;
	}
	return -ENOENT; /* .bss or outside the file */
}

int symfile__offset_to_vaddr(const struct symfile *sf, uint64_t offset, uint64_t *vaddr)
{
	int i;

	for (i = 0; i < sf->nr_loads; i++) {
		const struct ap_load_seg *l = &sf->loads[i];

		if (offset >= l->offset && offset < l->offset + l->filesz) {
			*vaddr = l->vaddr + (offset - l->offset);
			return 0;
		}
	}
	return -ENOENT;
}

int symfile__bias(const struct symfile *sf, uint64_t map_start, uint64_t pgoff, uint64_t *bias)
{
	int i, pass;

	/* pgoff is page aligned and may precede the segment's p_offset. A file
	 * page can belong to two segments (end of .rodata, start of .data);
	 * we only track executable mappings, so PF_X segments win */
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < sf->nr_loads; i++) {
			const struct ap_load_seg *l = &sf->loads[i];
			uint64_t seg_off = l->offset & ~(uint64_t)(AP_PAGE - 1);

			if (pass == 0 && !(l->flags & PF_X))
				continue;
			if (pgoff >= seg_off && pgoff < l->offset + l->filesz) {
				*bias = map_start - ((l->vaddr & ~(uint64_t)(AP_PAGE - 1)) +
						     (pgoff - seg_off));
				return 0;
			}
		}
	}
	return -ENOENT;
}

static char *search_dirs(const char *dirs, const char *origin, const char *lib)
{
	char *d = xstrdup(dirs), *tok, *save = NULL, cand[PATH_MAX], *found = NULL;

	for (tok = strtok_r(d, ":", &save); tok && !found; tok = strtok_r(NULL, ":", &save)) {
		if (!strncmp(tok, "$ORIGIN", 7))
			snprintf(cand, sizeof(cand), "%s%s/%s", origin, tok + 7, lib);
		else
			snprintf(cand, sizeof(cand), "%s/%s", tok, lib);
		if (!access(cand, R_OK))
			found = xstrdup(cand);
	}
	free(d);
	return found;
}

bool symfile__links(const struct symfile *sf, const char *part)
{
	Elf *elf = elf_begin_fd(sf->elf_fd);
	Elf_Scn *scn = NULL;
	bool found = false;
	size_t i, n;
	GElf_Shdr sh;

	if (!elf)
		return false;
	for (i = 0; !elf_getphdrnum(elf, &n) && i < n && !found; i++) {
		GElf_Phdr ph;
		char interp[256];

		if (!gelf_getphdr(elf, i, &ph) || ph.p_type != PT_INTERP || !ph.p_filesz ||
		    ph.p_filesz >= sizeof(interp) ||
		    pread(sf->elf_fd, interp, ph.p_filesz, ph.p_offset) != (ssize_t)ph.p_filesz)
			continue;
		interp[ph.p_filesz] = 0;
		found = strstr(interp, part) != NULL;
	}
	while (!found && (scn = elf_nextscn(elf, scn))) {
		Elf_Data *d;
		GElf_Dyn dyn;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNAMIC || !sh.sh_entsize)
			continue;
		d = elf_getdata(scn, NULL);
		for (i = 0; d && d->d_buf && i < sh.sh_size / sh.sh_entsize && !found; i++) {
			const char *v;

			if (!gelf_getdyn(d, i, &dyn))
				break;
			v = dyn.d_tag == DT_NEEDED ? elf_strptr(elf, sh.sh_link, dyn.d_un.d_val) : NULL;
			found = v && strstr(v, part);
		}
	}
	elf_end(elf);
	return found;
}

char *symfile__find_needed(const struct symfile *sf, const char *path, const char *prefix)
{
	char origin[PATH_MAX], *found = NULL;
	const char *needed = NULL, *runpath = NULL, *env;
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	/* the file the symfile checked, not a name the target may re-point */
	Elf *elf = elf_begin_fd(sf->elf_fd);

	if (!elf)
		return NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		Elf_Data *d;
		GElf_Dyn dyn;
		size_t i;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNAMIC || !sh.sh_entsize)
			continue;
		d = elf_getdata(scn, NULL);
		for (i = 0; d && d->d_buf && i < sh.sh_size / sh.sh_entsize; i++) {
			const char *v;

			if (!gelf_getdyn(d, i, &dyn))
				break;
			if (dyn.d_tag != DT_NEEDED && dyn.d_tag != DT_RUNPATH && dyn.d_tag != DT_RPATH)
				continue;
			v = elf_strptr(elf, sh.sh_link, dyn.d_un.d_val);
			if (!v)
				continue;
			if (dyn.d_tag == DT_NEEDED && !needed && !strncmp(v, prefix, strlen(prefix)))
				needed = v;
			else if (dyn.d_tag != DT_NEEDED && !runpath)
				runpath = v;
		}
	}
	if (needed) {
		const char *slash = strrchr(path, '/');

		snprintf(origin, sizeof(origin), "%.*s", slash ? (int)(slash - path) : 1,
			 slash ? path : ".");
		if (runpath)
			found = search_dirs(runpath, origin, needed);
		env = getenv("LD_LIBRARY_PATH");
		if (!found && env)
			found = search_dirs(env, origin, needed);
		if (!found)
			found = search_dirs("/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:"
					    "/usr/local/lib:/lib64:/usr/lib64:/lib:/usr/lib",
					    origin, needed);
	}
	elf_end(elf);
	return found;
}

int symfile__reloc_at(const struct symfile *sf, uint64_t vaddr, uint32_t *type)
{
	/* the file the symfile checked, not a name the target may re-point */
	Elf *elf = elf_begin_fd(sf->elf_fd);
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	int err = -ENOENT;

	if (!elf)
		return -errno;
	while (err == -ENOENT && (scn = elf_nextscn(elf, scn))) {
		Elf_Data *d;
		GElf_Rela r;
		size_t i;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_RELA || !sh.sh_entsize)
			continue;
		d = elf_getdata(scn, NULL);
		for (i = 0; d && d->d_buf && i < sh.sh_size / sh.sh_entsize; i++) {
			if (!gelf_getrela(d, i, &r))
				break;
			if (r.r_offset == vaddr) {
				*type = GELF_R_TYPE(r.r_info);
				err = 0;
				break;
			}
		}
	}
	elf_end(elf);
	return err;
}
