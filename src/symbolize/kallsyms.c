// SPDX-License-Identifier: MIT
/* /proc/kallsyms reader: "ffffffff81000000 T _stext [module]" lines. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kallsyms.h"
#include "util.h"

struct ksym {
	uint64_t addr;
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
	size_t nonzero = 0;
	FILE *f = fopen(path, "re");

	if (!f)
		return NULL;
	ks = xcalloc(1, sizeof(*ks));
	while (fgets(line, sizeof(line), f)) {
		if (!parse_line(line, &addr, &name, &mod))
			continue;
		if (addr)
			nonzero++;
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
	qsort(ks->syms, ks->n, sizeof(*ks->syms), cmp_ksym);
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

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (ks->syms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
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
