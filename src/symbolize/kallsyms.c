// SPDX-License-Identifier: MIT
/* /proc/kallsyms reader: "ffffffff81000000 T _stext [module]" lines, and
 * the BPF programs loaded when asked (kallsyms__add_bpf), with their real
 * sizes from the kernel. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include "kallsyms.h"
#include "util.h"

/* kallsyms has no sizes: a symbol without one covers at most this much.
 * The largest kernel functions are about 20 KB (x86-64, 6.x); the gaps
 * after the last symbol of a text region (_etext, _einittext, the last BPF
 * program) run to megabytes, and no address there is that symbol's. */
#define AP_KSYM_MAX_SPAN (128u << 10)

struct ksym {
	uint64_t addr;
	uint64_t size;  /* 0: unknown (capped at AP_KSYM_MAX_SPAN) */
	char *name;
	char *module;
};

struct kallsyms {
	struct ksym *syms;
	size_t n, cap;
};

static int cmp_ksym(const void *a, const void *b)
{
	const struct ksym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static void merge_tail(struct kallsyms *ks, size_t sorted);

/* "ADDR TYPE NAME[\t[MODULE]]": hand-parsed, sscanf made this the largest
 * part of the profiler's start-up */
static bool parse_line(char *line, uint64_t *addr, char **name, char **mod)
{
	char *p, *end;

	*addr = strtoull(line, &end, 16);
	if (end == line || end[0] != ' ' || !end[1] || end[2] != ' ')
		return false;
	if (!strchr("tTwW", end[1]))
		return false;
	*name = p = end + 3;
	p += strcspn(p, " \t\n");
	*mod = NULL;
	if (*p == '\t' || *p == ' ') {
		*p++ = 0;
		if (*p == '[') {
			*mod = ++p;
			p += strcspn(p, "]\n");
		}
	}
	*p = 0;
	return **name != 0;
}

struct kallsyms *kallsyms__load(const char *path)
{
	struct kallsyms *ks;
	char line[512], *name, *mod;
	uint64_t addr;
	size_t nonzero = 0, unsorted = 0;
	FILE *f = fopen(path, "re");

	if (!f)
		return NULL;
	/* /proc files say st_blksize 1024: 120k symbols were 6,800 reads */
	setvbuf(f, NULL, _IOFBF, 1 << 16);
	ks = xcalloc(1, sizeof(*ks));
	while (fgets(line, sizeof(line), f)) {
		if (!parse_line(line, &addr, &name, &mod))
			continue;
		if (addr)
			nonzero++;
		if (ks->n && addr < ks->syms[ks->n - 1].addr && !unsorted)
			unsorted = ks->n;
		GROW(ks->syms, ks->cap, ks->n + 1);
		ks->syms[ks->n++] = (struct ksym){
			.addr = addr, .name = xstrdup(name), .module = mod ? xstrdup(mod) : NULL,
		};
	}
	fclose(f);
	if (!nonzero) {
		kallsyms__free(ks);
		errno = EPERM;
		return NULL;
	}
	/* the kernel lists its symbols in address order (6.x: all of them,
	 * modules too): sort only what follows the sorted head */
	merge_tail(ks, unsorted ? unsorted : ks->n);
	return ks;
}

void kallsyms__free(struct kallsyms *ks)
{
	size_t i;

	if (!ks)
		return;
	for (i = 0; i < ks->n; i++) {
		free(ks->syms[i].name);
		free(ks->syms[i].module);
	}
	free(ks->syms);
	free(ks);
}

const char *kallsyms__lookup(const struct kallsyms *ks, uint64_t addr, const char **module,
			     uint64_t *off)
{
	size_t lo = 0, hi = ks->n;

	const struct ksym *s;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (ks->syms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	/* past the symbol's end: code no symbol names (a BPF program loaded
	 * after we read kallsyms, a trampoline), not the symbol before it */
	s = &ks->syms[lo - 1];
	if (addr - s->addr >= (s->size ? s->size : AP_KSYM_MAX_SPAN))
		return NULL;
	if (module)
		*module = ks->syms[lo - 1].module;
	if (off)
		*off = addr - ks->syms[lo - 1].addr;
	return ks->syms[lo - 1].name;
}

size_t kallsyms__count(const struct kallsyms *ks)
{
	return ks ? ks->n : 0;
}

static struct ksym *find_exact(struct kallsyms *ks, uint64_t addr)
{
	size_t lo = 0, hi = ks->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (ks->syms[mid].addr < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < ks->n && ks->syms[lo].addr == addr ? &ks->syms[lo] : NULL;
}

/* add or resize (the same address: the name is replaced); unsorted after */
static void put_sym(struct kallsyms *ks, size_t sorted, uint64_t addr, uint64_t size,
		    const char *name, const char *module)
{
	struct ksym *s;
	struct kallsyms view = { ks->syms, sorted, 0 };

	s = find_exact(&view, addr);
	if (s) {
		free(s->name);
		free(s->module);
	} else {
		GROW(ks->syms, ks->cap, ks->n + 1);
		s = &ks->syms[ks->n++];
	}
	*s = (struct ksym){
		.addr = addr, .size = size, .name = xstrdup(name),
		.module = module ? xstrdup(module) : NULL,
	};
}

/* sort the entries from sorted on and merge them into the sorted head: a
 * qsort of all 120k symbols took 16 ms, this a few */
static void merge_tail(struct kallsyms *ks, size_t sorted)
{
	size_t nt = ks->n - sorted, i = 0, j = 0, k = 0;
	struct ksym *tail, *out;

	if (!nt)
		return;
	tail = ks->syms + sorted;
	qsort(tail, nt, sizeof(*tail), cmp_ksym);
	out = xmalloc(ks->n * sizeof(*out));
	while (i < sorted || j < nt)
		out[k++] = j >= nt || (i < sorted && ks->syms[i].addr <= tail[j].addr) ?
				   ks->syms[i++] : tail[j++];
	free(ks->syms);
	ks->syms = out;
	ks->cap = ks->n;
}

void kallsyms__add(struct kallsyms *ks, uint64_t addr, uint64_t size, const char *name,
		   const char *module)
{
	size_t sorted = ks->n;

	put_sym(ks, sorted, addr, size, name, module);
	merge_tail(ks, sorted);
}

/* the kernel's name for function i of a program (kernel/bpf/core.c,
 * bpf_get_prog_name): bpf_prog_<tag>_<BTF name of the function, else the
 * program's name> */
static void bpf_sym_name(const struct bpf_prog_info *info, const __u8 (*tags)[BPF_TAG_SIZE],
			 const struct bpf_func_info *fi, const struct btf *btf, __u32 i, char *buf,
			 size_t len)
{
	const char *fname = info->name;
	const struct btf_type *t;
	int n, k;

	if (btf && fi && i < info->nr_func_info) {
		t = btf__type_by_id(btf, fi[i].type_id);
		if (t && btf__name_by_offset(btf, t->name_off))
			fname = btf__name_by_offset(btf, t->name_off);
	}
	n = snprintf(buf, len, "bpf_prog_");
	for (k = 0; k < BPF_TAG_SIZE && n + 2 < (int)len; k++)
		n += snprintf(buf + n, len - n, "%02x", tags[i][k]);
	if (fname[0])
		snprintf(buf + n, len - n, "_%s", fname);
}

/* the BTF of the program last asked for: our programs share one object's */
struct btf_cache {
	struct btf *btf;
	__u32 id;
};

static const struct btf *btf_get(struct btf_cache *bc, __u32 id)
{
	if (bc->id != id) {
		btf__free(bc->btf);
		bc->btf = btf__load_from_kernel_by_id(id);
		if (libbpf_get_error(bc->btf))
			bc->btf = NULL;
		bc->id = id;
	}
	return bc->btf;
}

/* one program: each of its JITed functions at its address, with its length */
static int add_prog(struct kallsyms *ks, size_t sorted, int fd, struct btf_cache *bc)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info), i, nr;
	__u64 *addrs = NULL;
	__u32 *lens = NULL;
	__u8 (*tags)[BPF_TAG_SIZE] = NULL;
	struct bpf_func_info *fi = NULL;
	const struct btf *btf = NULL;
	char name[256];
	int added = 0;

	if (bpf_obj_get_info_by_fd(fd, &info, &len) || !info.nr_jited_ksyms)
		return 0;
	nr = info.nr_jited_ksyms;
	if (info.nr_jited_func_lens != nr || info.nr_prog_tags != nr)
		return 0;
	addrs = xcalloc(nr, sizeof(*addrs));
	lens = xcalloc(nr, sizeof(*lens));
	tags = xcalloc(nr, sizeof(*tags));
	if (info.nr_func_info && info.func_info_rec_size == sizeof(*fi))
		fi = xcalloc(info.nr_func_info, sizeof(*fi));
	struct bpf_prog_info q = {
		.nr_jited_ksyms = nr, .jited_ksyms = (__u64)(uintptr_t)addrs,
		.nr_jited_func_lens = nr, .jited_func_lens = (__u64)(uintptr_t)lens,
		.nr_prog_tags = nr, .prog_tags = (__u64)(uintptr_t)tags,
		.nr_func_info = fi ? info.nr_func_info : 0, .func_info_rec_size = sizeof(*fi),
		.func_info = (__u64)(uintptr_t)fi,
	};
	len = sizeof(q);
	if (bpf_obj_get_info_by_fd(fd, &q, &len) || q.nr_jited_ksyms != nr)
		goto out;
	if (fi && q.btf_id)
		btf = btf_get(bc, q.btf_id);
	for (i = 0; i < nr; i++) {
		if (!addrs[i] || !lens[i])
			continue;
		bpf_sym_name(&q, (const __u8 (*)[BPF_TAG_SIZE])tags, fi, btf, i, name,
			     sizeof(name));
		put_sym(ks, sorted, addrs[i], lens[i], name, "bpf");
		added++;
	}
out:
	free(addrs);
	free(lens);
	free(tags);
	free(fi);
	return added;
}

int kallsyms__add_bpf(struct kallsyms *ks)
{
	struct btf_cache bc = { NULL, 0 };
	size_t sorted = ks->n;
	__u32 id = 0;
	int fd, added = 0;

	while (!bpf_prog_get_next_id(id, &id)) {
		fd = bpf_prog_get_fd_by_id(id);
		if (fd < 0)
			continue; /* unloaded meanwhile */
		added += add_prog(ks, sorted, fd, &bc);
		close(fd);
	}
	btf__free(bc.btf);
	merge_tail(ks, sorted);
	return added;
}
