// SPDX-License-Identifier: MIT
/* Issue 12 (mapsafe): empty keys and stacks under UBSan, the fd-kind names,
 * opening target-named files, and kernel symbols of BPF programs. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "hashmap.h"
#include "profile/profile.h"
#include "shared.h"
#include "symbolize/elfsym.h"
#include "symbolize/kallsyms.h"
#include "symbolize/safeopen.h"
#include "unit.h"
#include "util.h"

static struct symfile *open_fixture_nofp_stripped(void)
{
	char *p = xasprintf("%s/fixture_stripped", unit_fixtures());
	struct symfile *sf = symfile__open(p);

	free(p);
	return sf;
}

/* an empty stack reaches memcpy/memcmp as (dst, NULL, 0): undefined, and
 * UBSan (nonnull-attribute, no recovery in this binary) aborts on it */
TEST(empty_key_and_stack)
{
	struct hmap m = { 0 };
	struct profile p;
	uint64_t v = 0;
	uint32_t a, b;

	hmap_put(&m, NULL, 0, 7);
	ASSERT_TRUE(hmap_get(&m, NULL, 0, &v), "empty key found");
	ASSERT_EQ(v, 7, "empty key value");
	hmap_put(&m, "x", 1, 8);
	ASSERT_TRUE(hmap_get(&m, NULL, 0, &v) && v == 7, "empty key distinct from \"x\"");
	hmap_free(&m);

	profile__init(&p);
	a = profile__stack(&p, NULL, 0);
	b = profile__stack(&p, NULL, 0);
	ASSERT_EQ(a, b, "the empty stack interned once");
	ASSERT_EQ(p.stacks[a].len, 0, "empty stack has no frames");
	profile__free(&p);
}

TEST(fd_kind_names)
{
	int k;

	for (k = AP_FD_NONE + 1; k < AP_FD__COUNT; k++)
		ASSERT_TRUE(ap_fd_kind_names[k] && ap_fd_kind_names[k][0], "every fd kind named");
	ASSERT_STREQ(ap_fd_kind_names[AP_FD_TTY], "tty", "terminals");
	ASSERT_STREQ(ap_fd_kind_names[AP_FD_CHARDEV], "chardev", "other character devices");
}

/* a scratch directory with a regular file, a symlink to it, a FIFO */
static char *scratch(void)
{
	char *dir = xstrdup("/tmp/ap-mapsafe-XXXXXX"), *p;
	int fd;

	if (!mkdtemp(dir))
		return NULL;
	p = xasprintf("%s/file", dir);
	fd = open(p, O_CREAT | O_WRONLY, 0600);
	if (fd >= 0)
		close(fd);
	free(p);
	p = xasprintf("%s/link", dir);
	if (symlink("file", p))
		perror("symlink");
	free(p);
	p = xasprintf("%s/fifo", dir);
	if (mkfifo(p, 0600))
		perror("mkfifo");
	free(p);
	return dir;
}

static void rm_scratch(char *dir)
{
	const char *names[] = { "file", "link", "fifo", "dbg/x.debug", "dbg" };
	size_t i;

	for (i = 0; dir && i < sizeof(names) / sizeof(names[0]); i++) {
		char *p = xasprintf("%s/%s", dir, names[i]);

		if (unlink(p))
			rmdir(p);
		free(p);
	}
	if (dir)
		rmdir(dir);
	free(dir);
}

TEST(open_checked)
{
	char *dir = scratch(), *file, *link, *fifo;
	struct stat st, got;
	int fd;

	if (!ASSERT_TRUE(dir != NULL, "scratch directory"))
		return;
	file = xasprintf("%s/file", dir);
	link = xasprintf("%s/link", dir);
	fifo = xasprintf("%s/fifo", dir);
	stat(file, &st);
	fd = open_checked(file, 0, st.st_dev, st.st_ino, &got);
	ASSERT_TRUE(fd >= 0, "the regular file with its own dev and inode");
	ASSERT_EQ(got.st_ino, st.st_ino, "stat of what was opened");
	ASSERT_TRUE(fcntl(fd, F_GETFL) & O_NONBLOCK, "opened O_NONBLOCK");
	if (fd >= 0)
		close(fd);
	ASSERT_EQ(open_checked(file, 0, st.st_dev, st.st_ino + 1, NULL), -ESTALE, "another inode");
	ASSERT_EQ(open_checked(file, 0, st.st_dev + 1, st.st_ino, NULL), -ESTALE, "another device");
	ASSERT_EQ(open_checked(link, 0, 0, 0, NULL), -ELOOP, "a symlink is not followed");
	fd = open_checked(link, AP_OPEN_FOLLOW, 0, st.st_ino, NULL);
	ASSERT_TRUE(fd >= 0, "followed when asked");
	if (fd >= 0)
		close(fd);
	/* a FIFO with no writer: an open() for reading would wait forever */
	ASSERT_EQ(open_checked(fifo, 0, 0, 0, NULL), -EINVAL, "a FIFO is refused, not waited on");
	ASSERT_EQ(open_checked("/dev/null", 0, 0, 0, NULL), -EINVAL, "a device is refused");
	ASSERT_EQ(open_checked("/nonexistent-ap", 0, 0, 0, NULL), -ENOENT, "missing");
	ASSERT_TRUE(open_refused(-ESTALE) && open_refused(-ELOOP) && !open_refused(-ENOENT),
		    "refusals told from absence");
	free(file);
	free(link);
	free(fifo);
	rm_scratch(dir);
}

TEST(symfile_open_traps)
{
	char *dir = scratch(), *p, *fix = xasprintf("%s/fixture_nofp", unit_fixtures());
	struct symfile *sf;

	if (!ASSERT_TRUE(dir != NULL, "scratch directory"))
		goto out;
	p = xasprintf("%s/elf", dir);
	if (symlink(fix, p))
		perror("symlink");
	errno = 0;
	sf = symfile__open(p);
	ASSERT_TRUE(sf == NULL && errno == ELOOP, "an ELF file behind a symlink is not opened");
	symfile__free(sf);
	unlink(p);
	free(p);
	p = xasprintf("%s/fifo", dir);
	errno = 0;
	sf = symfile__open(p);
	ASSERT_TRUE(sf == NULL && errno == EINVAL, "a FIFO is not opened (nor waited on)");
	symfile__free(sf);
	free(p);
	sf = symfile__open(fix);
	if (ASSERT_TRUE(sf != NULL, "the fixture itself")) {
		uint64_t v;

		/* reads go through the symfile's fd, not its path */
		ASSERT_TRUE(sf->fd >= 0, "kept open");
		ASSERT_EQ(symfile__read_vaddr(sf, sf->loads[0].vaddr, &v, sizeof(v)), 0, "read");
	}
	symfile__free(sf);
out:
	rm_scratch(dir);
	free(fix);
}

/* a build-id debug file owned by neither root nor the binary's owner is
 * not used: whoever could write it could name the binary's frames */
TEST(debug_file_owner)
{
	char *root = xasprintf("%s/debugroot", unit_fixtures()), *dir = scratch();
	char *id_dir = NULL, *copy = NULL, *src = NULL, *cmd = NULL, *dbg = NULL;
	struct symfile *sf = open_fixture_nofp_stripped(), *sf2 = NULL;

	if (!ASSERT_TRUE(sf && dir, "fixture and scratch directory"))
		goto out;
	if (!ASSERT_TRUE(geteuid() == 0, "runs as root (to chown a file to nobody)"))
		goto out;
	/* the debug tree of the fixture, copied, its file given to nobody */
	id_dir = xasprintf("%s/dbg/.build-id/%.2s", dir, sf->build_id);
	src = xasprintf("%s/.build-id/%.2s/%s.debug", root, sf->build_id, sf->build_id + 2);
	copy = xasprintf("%s/%s.debug", id_dir, sf->build_id + 2);
	cmd = xasprintf("mkdir -p %s && cp %s %s && chown 65534 %s", id_dir, src, copy, copy);
	if (!ASSERT_EQ(system(cmd), 0, cmd))
		goto out;
	symfile__free(sf);
	dbg = xasprintf("%s/dbg", dir);
	symfile_set_debug_root(dbg); /* kept, not copied */
	sf = open_fixture_nofp_stripped();
	ASSERT_TRUE(sf && !sf->debug_path, "a debug file owned by another user is not read");
	free(cmd);
	cmd = xasprintf("chown 0 %s", copy);
	ASSERT_EQ(system(cmd), 0, cmd);
	sf2 = open_fixture_nofp_stripped();
	ASSERT_TRUE(sf2 && sf2->debug_path, "the same file owned by root is");
	symfile_set_debug_root("/usr/lib/debug");
	free(cmd);
	cmd = xasprintf("rm -rf %s/dbg", dir);
	if (system(cmd))
		perror("rm");
out:
	symfile_set_debug_root("/usr/lib/debug");
	symfile__free(sf);
	symfile__free(sf2);
	free(root);
	free(id_dir);
	free(copy);
	free(src);
	free(cmd);
	free(dbg);
	rm_scratch(dir);
}

/* kallsyms has no sizes: an address past a symbol's end is not that
 * symbol's. A BPF program loaded after kallsyms was read sat past the
 * previous program (or _einittext) and took its name. */
TEST(kallsyms_ranges)
{
	char path[] = "/tmp/ap-kallsyms-bpf-XXXXXX";
	int fd = mkstemp(path);
	const char *text = "ffffffff81000000 T _stext\n"
			   "ffffffff81000100 T small_fn\n"
			   "ffffffff82000000 T _etext\n"
			   "ffffffffc0001000 t bpf_prog_1111111111111111_on_exec\t[bpf]\n";
	const uint64_t exec_at = 0xffffffffc0001000ull, enter_at = 0xffffffffc0001800ull;
	struct kallsyms *ks = NULL;
	const char *mod = NULL;
	uint64_t off = 0;

	if (!ASSERT_TRUE(fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text),
			 "fixture written"))
		goto out;
	ks = kallsyms__load(path);
	if (!ASSERT_TRUE(ks != NULL, "load"))
		goto out;
	ASSERT_STREQ(kallsyms__lookup(ks, 0xffffffff81000180ull, NULL, &off), "small_fn",
		     "unsized symbol, near its start");
	ASSERT_EQ(off, 0x80, "offset");
	ASSERT_TRUE(kallsyms__lookup(ks, 0xffffffff82400000ull, NULL, NULL) == NULL,
		    "4 MB past _etext is not _etext");
	/* before the load of on_sys_enter it is unknown, not on_exec ... */
	ASSERT_STREQ(kallsyms__lookup(ks, exec_at + 0x10, &mod, NULL),
		     "bpf_prog_1111111111111111_on_exec", "a BPF program from kallsyms");
	ASSERT_STREQ(mod, "bpf", "its module");
	/* ... and after it, with the real ranges of both */
	kallsyms__add(ks, exec_at, 0x200, "bpf_prog_1111111111111111_on_exec", "bpf");
	kallsyms__add(ks, enter_at, 0x300, "bpf_prog_2222222222222222_on_sys_enter", "bpf");
	ASSERT_STREQ(kallsyms__lookup(ks, enter_at + 0x20, NULL, &off),
		     "bpf_prog_2222222222222222_on_sys_enter", "inside the new program");
	ASSERT_EQ(off, 0x20, "offset in it");
	ASSERT_TRUE(kallsyms__lookup(ks, exec_at + 0x300, NULL, NULL) == NULL,
		    "between the two programs: neither");
	ASSERT_TRUE(kallsyms__lookup(ks, enter_at + 0x300, NULL, NULL) == NULL,
		    "past the last program's end");
	ASSERT_STREQ(kallsyms__lookup(ks, exec_at + 0x1ff, NULL, NULL),
		     "bpf_prog_1111111111111111_on_exec", "last byte of the resized one");
	ASSERT_EQ(kallsyms__count(ks), 5, "the resized symbol is not doubled");
out:
	kallsyms__free(ks);
	if (fd >= 0)
		close(fd);
	unlink(path);
}

/* kallsyms__load sorts only what follows the sorted head of the file: a
 * file out of order still gives the same lookups, and of symbols at one
 * address the last listed names it, as with the full sort before */
TEST(kallsyms_unsorted)
{
	char path[] = "/tmp/ap-kallsyms-sort-XXXXXX";
	int fd = mkstemp(path);
	const char *text = "ffffffff81000000 T _stext\n"
			   "ffffffff81000100 T fn_b\n"
			   "ffffffff81000300 T fn_d\n"
			   "ffffffff81000080 T fn_a\n"
			   "ffffffff81000100 T fn_b_alias\n"
			   "ffffffff81000200 T fn_c\n";
	struct kallsyms *ks = NULL;
	uint64_t off = 0;

	if (!ASSERT_TRUE(fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text),
			 "fixture written"))
		goto out;
	ks = kallsyms__load(path);
	if (!ASSERT_TRUE(ks != NULL, "load"))
		goto out;
	ASSERT_STREQ(kallsyms__lookup(ks, 0xffffffff81000090ull, NULL, &off), "fn_a", "fn_a");
	ASSERT_EQ(off, 0x10, "offset in fn_a");
	ASSERT_STREQ(kallsyms__lookup(ks, 0xffffffff81000110ull, NULL, NULL), "fn_b_alias",
		     "the last listed of one address");
	ASSERT_STREQ(kallsyms__lookup(ks, 0xffffffff81000210ull, NULL, NULL), "fn_c", "fn_c");
	ASSERT_STREQ(kallsyms__lookup(ks, 0xffffffff81000310ull, NULL, NULL), "fn_d", "fn_d");
	ASSERT_STREQ(kallsyms__lookup(ks, 0xffffffff81000010ull, NULL, NULL), "_stext", "_stext");
out:
	kallsyms__free(ks);
	if (fd >= 0)
		close(fd);
	unlink(path);
}

/* a binary without a build id: its .gnu_debuglink file is used only if its
 * CRC-32 is the one the link records (any file of that name was before) */
TEST(debuglink_crc)
{
	char *dir = scratch(), *cmd = NULL, *bin = NULL, fix[PATH_MAX];
	struct symfile *sf = NULL;

	if (!ASSERT_TRUE(dir != NULL && realpath(unit_fixtures(), fix), "scratch directory"))
		goto out;
	bin = xasprintf("%s/nobid", dir);
	/* fixture_nofp without its build id, its symbols moved to .debug/ */
	cmd = xasprintf("cd %s && objcopy --remove-section .note.gnu.build-id %s/fixture_nofp full && "
			"mkdir .debug && objcopy --only-keep-debug full .debug/nobid.debug && "
			"strip --strip-all -o nobid full && "
			"cd .debug && objcopy --add-gnu-debuglink=nobid.debug ../nobid && rm ../full",
			dir, fix);
	if (!ASSERT_EQ(system(cmd), 0, "objcopy/strip (binutils)"))
		goto out;
	sf = symfile__open(bin);
	if (!ASSERT_TRUE(sf != NULL, "open"))
		goto out;
	ASSERT_STREQ(sf->build_id, "", "no build id");
	ASSERT_TRUE(sf->has_symtab && sf->debug_path && strstr(sf->debug_path, "/.debug/nobid.debug"),
		    "the debuglink file with the recorded CRC");
	symfile__free(sf);
	free(cmd);
	/* the same name, other contents */
	cmd = xasprintf("echo >> %s/.debug/nobid.debug", dir);
	ASSERT_EQ(system(cmd), 0, "append");
	sf = symfile__open(bin);
	ASSERT_TRUE(sf && !sf->debug_path && !sf->has_symtab, "another file of that name: not used");
out:
	symfile__free(sf);
	free(bin);
	free(cmd);
	if (dir) {
		cmd = xasprintf("rm -rf %s", dir);
		if (system(cmd))
			perror("rm");
		free(cmd);
		free(dir);
	}
}
