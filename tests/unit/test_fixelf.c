// SPDX-License-Identifier: MIT
/* Issue 12 (fix-elf): a file others can write is read through a sealed
 * copy (a mapped file truncated under libelf/libdw raised SIGBUS), and a
 * debuglink name is a file name, never a path. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "symbolize/elfsym.h"
#include "unit.h"
#include "util.h"

static char *fx_scratch(void)
{
	char tmpl[] = "/tmp/ap-fixelf-XXXXXX";

	return mkdtemp(tmpl) ? xstrdup(tmpl) : NULL;
}

static void fx_rm(char *dir)
{
	char *cmd;

	if (!dir)
		return;
	cmd = xasprintf("rm -rf %s", dir);
	if (system(cmd))
		perror("rm");
	free(cmd);
	free(dir);
}

TEST(symfile_copies_writable_files)
{
	char *dir = fx_scratch(), *cmd = NULL, *copy = NULL, *orig = NULL, fix[PATH_MAX];
	struct symfile *sf = NULL, *root = NULL;
	uint64_t before = symfile_stats.copied, st = 0, v;
	size_t i;
	int fd;

	if (!ASSERT_TRUE(dir && realpath(unit_fixtures(), fix), "scratch directory"))
		goto out;
	if (!ASSERT_TRUE(geteuid() == 0, "runs as root (to chown a file to nobody)"))
		goto out;
	copy = xasprintf("%s/lib.so", dir);
	cmd = xasprintf("cp %s/fixture_nofp %s && chown 65534 %s && chmod 644 %s", fix, copy, copy, copy);
	if (!ASSERT_EQ(system(cmd), 0, cmd))
		goto out;
	/* root's own file, writable by root alone: mapped as it is */
	orig = xasprintf("%s/fixture_nofp", fix);
	root = symfile__open(orig);
	if (ASSERT_TRUE(root != NULL, "root's file"))
		ASSERT_EQ(root->elf_fd, root->fd, "a root-only file is not copied");
	sf = symfile__open(copy);
	if (!ASSERT_TRUE(sf != NULL, "nobody's file"))
		goto out;
	ASSERT_TRUE(sf->elf_fd != sf->fd, "another user's file is read through a copy");
	ASSERT_EQ(symfile_stats.copied, before + 1, "counted");
	ASSERT_TRUE(fcntl(sf->elf_fd, F_GET_SEALS) & F_SEAL_SHRINK, "the copy cannot shrink");
	/* its owner truncates it: every later read is of the copy (a mapping of
	 * the file itself would SIGBUS here) */
	fd = open(copy, O_WRONLY);
	ASSERT_TRUE(fd >= 0 && !ftruncate(fd, 0), "truncated");
	if (fd >= 0)
		close(fd);
	for (i = 0; i < sf->nr_syms; i++) {
		if (strncmp(sf->names + sf->syms[i].name, "fixture_static", 14))
			continue;
		ASSERT_EQ(symfile__fde_start(sf, sf->syms[i].addr + 2, &st), 0, "FDE after the truncation");
		ASSERT_EQ(st, sf->syms[i].addr, "its start");
	}
	ASSERT_EQ(symfile__read_vaddr(sf, sf->loads[0].vaddr, &v, sizeof(v)), 0, "data from the copy");
out:
	symfile__free(sf);
	symfile__free(root);
	free(cmd);
	free(copy);
	free(orig);
	fx_rm(dir);
}

/* ".gnu_debuglink" names a file next to the binary; one with a '/' would
 * lead the lookup into other directories ("../../x"): refused */
TEST(debuglink_with_slash)
{
	char *dir = fx_scratch(), *cmd = NULL, *bin = NULL, fix[PATH_MAX];
	struct symfile *sf = NULL;

	if (!ASSERT_TRUE(dir != NULL && realpath(unit_fixtures(), fix), "scratch directory"))
		goto out;
	bin = xasprintf("%s/nobid", dir);
	/* as in debuglink_crc, then the link renamed "d/bid.debug" (same
	 * length: the CRC stays where it is), which exists with that CRC */
	cmd = xasprintf("cd %s && objcopy --remove-section .note.gnu.build-id %s/fixture_nofp full && "
			"mkdir -p .debug/d && objcopy --only-keep-debug full .debug/nobid.debug && "
			"strip --strip-all -o nobid full && "
			"cd .debug && objcopy --add-gnu-debuglink=nobid.debug ../nobid && rm ../full && "
			"cp nobid.debug d/bid.debug && cd .. && "
			"python3 -c 'import sys; p=sys.argv[1]; b=open(p,\"rb\").read(); "
			"assert b.count(b\"nobid.debug\\0\")==1; "
			"open(p,\"wb\").write(b.replace(b\"nobid.debug\\0\", b\"d/bid.debug\\0\"))' nobid",
			dir, fix);
	if (!ASSERT_EQ(system(cmd), 0, "objcopy/strip (binutils), python3"))
		goto out;
	sf = symfile__open(bin);
	if (!ASSERT_TRUE(sf != NULL, "open"))
		goto out;
	ASSERT_TRUE(!sf->debug_path && !sf->has_symtab, "a debuglink name with a '/' is not followed");
out:
	symfile__free(sf);
	free(bin);
	free(cmd);
	fx_rm(dir);
}

/* Issue 16 (fix-elf): a GOT relocation's "NAME@plt" is added to the names
 * only when a PLT stub jumps through its slot, once per slot. */
static size_t plt_names(const struct symfile *sf)
{
	size_t n = 0, off, len;

	for (off = 0; off < sf->names_len; off += len + 1) {
		len = strlen(sf->names + off);
		n += len >= 4 && !strcmp(sf->names + off + len - 4, "@plt");
	}
	return n;
}

/* each fixture's stubs (as objdump lists them) and no other "@plt" name:
 * GLOB_DAT slots no stub uses (__gmon_start__, ...) add none */
TEST(elfsym_plt_names_only_for_stubs)
{
	const char *bins[] = { "fixture_plt_lazy", "fixture_plt_now", "fixture_plt_ibt" };
	size_t i;

	for (i = 0; i < 3; i++) {
		char *path = xasprintf("%s/%s", unit_fixtures(), bins[i]), *plt, line[512];
		struct symfile *sf = symfile__open(path);
		FILE *f;
		size_t n = 0;

		plt = xasprintf("%s.plt", path);
		f = fopen(plt, "r");
		free(plt);
		free(path);
		if (ASSERT_TRUE(sf && f, bins[i])) {
			while (fgets(line, sizeof(line), f))
				n += strstr(line, "@plt") != NULL;
			ASSERT_TRUE(n >= 5, "objdump names the stubs");
			CHECK(plt_names(sf) == n, bins[i], "%zu @plt names for %zu stubs",
			      plt_names(sf), n);
		}
		if (f)
			fclose(f);
		symfile__free(sf);
	}
}

/* a generated library with 3000 GLOB_DAT function slots and no PLT stub
 * for them: their names take no room */
TEST(elfsym_got_without_stubs_adds_no_names)
{
	char *dir = fx_scratch(), *cmd = NULL, *lib = NULL;
	struct symfile *sf = NULL;
	size_t off, got = 0;

	if (!ASSERT_TRUE(dir != NULL, "scratch directory"))
		goto out;
	cmd = xasprintf("cd %s && python3 -c 'import sys\n"
			"for i in range(3000): print(\"extern void got_fn_%%d(void); "
			"void *take_%%d(void) { return (void *)got_fn_%%d; }\" %% (i, i, i))' > got.c && "
			"cc -O1 -fPIC -shared -o libgot.so got.c",
			dir);
	if (!ASSERT_EQ(system(cmd), 0, "python3, cc"))
		goto out;
	lib = xasprintf("%s/libgot.so", dir);
	sf = symfile__open(lib);
	if (!ASSERT_TRUE(sf != NULL, "open"))
		goto out;
	for (off = 0; off < sf->names_len; off += strlen(sf->names + off) + 1)
		got += !strncmp(sf->names + off, "got_fn_", 7);
	ASSERT_EQ(got, 0, "no got_fn_N@plt name without a stub");
out:
	symfile__free(sf);
	free(lib);
	free(cmd);
	fx_rm(dir);
}
