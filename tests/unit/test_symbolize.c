// SPDX-License-Identifier: MIT
/* ELF symbolizer against fixture binaries (frame pointers or not, stripped,
 * stripped with a build-id debug file) and the kallsyms reader. */
#include <elf.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "symbolize/elfsym.h"
#include "symbolize/kallsyms.h"
#include "unit.h"
#include "util.h"

/* address of sym in the fixture, from `nm` output made by the Makefile */
static uint64_t nm_addr(const char *sym)
{
	char *path = xasprintf("%s/fixture_fp.nm", unit_fixtures()), line[512], name[256];
	unsigned long long a, found = 0;
	char type;
	FILE *f = fopen(path, "r");

	free(path);
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%llx %c %255s", &a, &type, name) == 3 && !strcmp(name, sym))
			found = a;
	fclose(f);
	return found;
}

static struct symfile *open_fixture(const char *name)
{
	char *path = xasprintf("%s/%s", unit_fixtures(), name);
	struct symfile *sf = symfile__open(path);

	free(path);
	return sf;
}

TEST(elfsym_full_symtab)
{
	const char *bins[] = { "fixture_fp", "fixture_nofp" };
	uint64_t off = 99;
	size_t i;

	for (i = 0; i < 2; i++) {
		struct symfile *sf = open_fixture(bins[i]);
		uint64_t a;

		if (!ASSERT_TRUE(sf != NULL, bins[i]))
			continue;
		ASSERT_TRUE(sf->has_symtab, "has .symtab");
		ASSERT_EQ(sf->e_type, ET_DYN, "PIE");
		ASSERT_EQ(strlen(sf->build_id), 40, "sha1 build id");
		/* same source, same layout: nm of the fp build names the nofp one too */
		a = i == 0 ? nm_addr("fixture_exported") : 0;
		if (i == 0) {
			ASSERT_STREQ(symfile__lookup(sf, a, &off), "fixture_exported", "exact start");
			ASSERT_EQ(off, 0, "offset at start");
			ASSERT_STREQ(symfile__lookup(sf, a + 3, &off), "fixture_exported", "inside");
			ASSERT_EQ(off, 3, "offset inside");
			a = nm_addr("fixture_static");
			if (a) /* gcc may inline or rename it (.constprop/.isra) */
				ASSERT_STREQ(symfile__lookup(sf, a, NULL), "fixture_static", "local symbol");
			ASSERT_STREQ(symfile__lookup(sf, nm_addr("main"), NULL), "main", "main");
		}
		ASSERT_STREQ(symfile__lookup(sf, sf->entry, NULL), "_start", "entry point");
		ASSERT_TRUE(symfile__lookup(sf, 1, NULL) == NULL, "below every symbol");
		symfile__free(sf);
	}
}

TEST(elfsym_stripped_and_debug_file)
{
	struct symfile *sf = open_fixture("fixture_stripped"), *full = open_fixture("fixture_nofp");
	char *root = xasprintf("%s/debugroot", unit_fixtures());
	const char *name;
	size_t i;
	uint64_t a = 0;

	if (!ASSERT_TRUE(sf && full, "fixtures open"))
		goto out;
	ASSERT_TRUE(!sf->has_symtab, "stripped: no .symtab");
	ASSERT_STREQ(sf->build_id, full->build_id, "strip keeps the build id");
	for (i = 0; i < full->nr_syms; i++)
		if (!strcmp(full->names + full->syms[i].name, "fixture_exported"))
			a = full->syms[i].addr;
	ASSERT_TRUE(a != 0, "fixture_exported in the unstripped file");
	ASSERT_STREQ(symfile__lookup(sf, a, NULL), "fixture_exported", "exported via .dynsym");
	name = symfile__lookup(sf, full->entry, NULL);
	ASSERT_STREQ(name, "_start", "stripped _start found by e_entry");
	/* a static function has no symbol left, but .eh_frame still bounds it */
	for (i = 0; i < full->nr_syms; i++) {
		uint64_t st = 0, fs = full->syms[i].addr;

		if (strncmp(full->names + full->syms[i].name, "fixture_static", 14))
			continue;
		ASSERT_TRUE(symfile__lookup(sf, fs + 2, NULL) == NULL, "static: no symbol");
		ASSERT_EQ(symfile__fde_start(sf, fs + 2, &st), 0, "static: FDE found");
		ASSERT_EQ(st, fs, "FDE starts at the function");
	}
	symfile__free(sf);

	symfile_set_debug_root(root);
	sf = open_fixture("fixture_stripped");
	symfile_set_debug_root("/usr/lib/debug");
	if (!ASSERT_TRUE(sf != NULL, "reopen with debug root"))
		goto out;
	ASSERT_TRUE(sf->has_symtab, "symtab from the build-id debug file");
	ASSERT_TRUE(sf->debug_path && strstr(sf->debug_path, "/.build-id/"), "debug path");
	ASSERT_EQ(sf->nr_syms, full->nr_syms, "same symbols as the unstripped file");
out:
	symfile__free(sf);
	symfile__free(full);
	free(root);
}

TEST(elfsym_address_translation)
{
	struct symfile *sf = open_fixture("fixture_nofp");
	uint64_t bias = 0, vaddr = 0;
	int i;

	if (!ASSERT_TRUE(sf != NULL, "open"))
		return;
	for (i = 0; i < sf->nr_loads; i++) {
		const struct ap_load_seg *l = &sf->loads[i];
		uint64_t pgoff = l->offset & ~4095ull;
		uint64_t start = 0x555555554000ull + (l->vaddr & ~4095ull);

		if (!(l->flags & PF_X)) /* only executable mappings are tracked */
			continue;
		ASSERT_EQ(symfile__bias(sf, start, pgoff, &bias), 0, "bias of a PT_LOAD mapping");
		ASSERT_EQ(bias, 0x555555554000ull, "PIE loaded at 0x555555554000");
		ASSERT_EQ(symfile__offset_to_vaddr(sf, l->offset, &vaddr), 0, "offset -> vaddr");
		ASSERT_EQ(vaddr, l->vaddr, "segment start");
	}
	ASSERT_TRUE(symfile__bias(sf, 0x1000, 1ull << 40, &bias) != 0, "offset past the file");
	symfile__free(sf);
	ASSERT_TRUE(symfile__open("/nonexistent") == NULL, "missing file");
	ASSERT_TRUE(symfile__open("/proc/self/status") == NULL, "not an ELF file");
}

TEST(kallsyms)
{
	char path[] = "/tmp/ap-kallsyms-XXXXXX";
	int fd = mkstemp(path);
	const char *text =
		"ffffffff81000000 T _stext\n"
		"ffffffff81000100 t do_one_thing\n"
		"ffffffff81000200 D some_data\n"
		"ffffffff81000300 T vfs_write\n"
		"ffffffffc0000000 t ext4_write [ext4]\n";
	const char *mod = "x";
	struct kallsyms *ks;
	uint64_t off;

	ASSERT_TRUE(fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text), "fixture");
	close(fd);
	ks = kallsyms__load(path);
	if (!ASSERT_TRUE(ks != NULL, "load"))
		goto out;
	ASSERT_EQ(kallsyms__count(ks), 4, "text symbols only");
	ASSERT_STREQ(kallsyms__lookup(ks, 0xffffffff81000150, &mod, &off), "do_one_thing", "inside");
	ASSERT_EQ(off, 0x50, "offset");
	ASSERT_TRUE(mod == NULL, "core kernel");
	ASSERT_STREQ(kallsyms__lookup(ks, 0xffffffff81000250, NULL, NULL), "do_one_thing",
		     "data symbols are skipped");
	ASSERT_STREQ(kallsyms__lookup(ks, 0xffffffffc0000010, &mod, NULL), "ext4_write", "module");
	ASSERT_STREQ(mod, "ext4", "module name");
	ASSERT_TRUE(kallsyms__lookup(ks, 0x1000, NULL, NULL) == NULL, "below the kernel");
	kallsyms__free(ks);
	/* kptr_restrict: every address zero */
	fd = open(path, O_WRONLY | O_TRUNC);
	ASSERT_TRUE(write(fd, "0000000000000000 T _stext\n", 26) == 26, "zeroed fixture");
	close(fd);
	ASSERT_TRUE(kallsyms__load(path) == NULL, "zeroed addresses are refused");
out:
	unlink(path);
}

/* every PLT stub objdump names (fixture_plt_*.plt: "ADDR NAME@plt") is
 * named so, at its start and inside it, in lazy, BIND_NOW and IBT builds */
TEST(elfsym_plt_stubs)
{
	const char *bins[] = { "fixture_plt_lazy", "fixture_plt_now", "fixture_plt_ibt" };
	size_t i;

	for (i = 0; i < 3; i++) {
		char *path = xasprintf("%s/%s.plt", unit_fixtures(), bins[i]), line[512], name[256];
		struct symfile *sf = open_fixture(bins[i]);
		FILE *f = fopen(path, "r");
		unsigned long long a;
		int n = 0, puts_seen = 0;
		uint64_t off;

		free(path);
		if (!ASSERT_TRUE(sf && f, bins[i])) {
			symfile__free(sf);
			if (f)
				fclose(f);
			continue;
		}
		while (fgets(line, sizeof(line), f)) {
			if (sscanf(line, "%llx %255s", &a, name) != 2)
				continue;
			n++;
			puts_seen += !strcmp(name, "puts@plt");
			CHECK(symfile__lookup(sf, a, &off) &&
				      !strcmp(symfile__lookup(sf, a, &off), name) && off == 0,
			      bins[i], "%s at %#llx: got %s", name, a,
			      symfile__lookup(sf, a, NULL) ?: "(null)");
			CHECK(symfile__lookup(sf, a + 6, &off) &&
				      !strcmp(symfile__lookup(sf, a + 6, &off), name) && off == 6,
			      bins[i], "%s inside: got %s", name,
			      symfile__lookup(sf, a + 6, NULL) ?: "(null)");
		}
		fclose(f);
		ASSERT_TRUE(n >= 5, "objdump names the stubs");
		ASSERT_EQ(puts_seen, 1, "puts@plt among them");
		symfile__free(sf);
	}
}
