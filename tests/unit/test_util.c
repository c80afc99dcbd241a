// SPDX-License-Identifier: MIT
/* Parsing, atomic writes and the hash map. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <unistd.h>
#include "hashmap.h"
#include "outdir.h"
#include "unit.h"
#include "util.h"

TEST(parse_long_strict)
{
	long v = 0;

	ASSERT_EQ(parse_long("99", 1, 10000, &v), 0, "plain number");
	ASSERT_EQ(v, 99, "value");
	ASSERT_EQ(parse_long("0", 1, 10000, &v), -ERANGE, "below range");
	ASSERT_EQ(parse_long("10001", 1, 10000, &v), -ERANGE, "above range");
	ASSERT_EQ(parse_long("12abc", 1, 10000, &v), -EINVAL, "trailing junk");
	ASSERT_EQ(parse_long("", 1, 10000, &v), -EINVAL, "empty");
	ASSERT_EQ(parse_long("99999999999999999999", 1, 10000, &v), -ERANGE, "overflow");
	ASSERT_EQ(parse_long(" 99", 1, 10000, &v), -EINVAL, "leading space");
	ASSERT_EQ(parse_long("+99", 1, 10000, &v), -EINVAL, "plus sign");
	ASSERT_EQ(parse_long("0x63", 0, 10000, &v), -EINVAL, "hexadecimal");
	ASSERT_EQ(parse_long("99 ", 1, 10000, &v), -EINVAL, "trailing space");
	ASSERT_EQ(parse_long("-5", 0, 10000, &v), -EINVAL, "sign where negatives are not allowed");
	ASSERT_EQ(parse_long("-5", -10, 10, &v), 0, "negative where allowed");
	ASSERT_EQ(v, -5, "negative value");
	ASSERT_EQ(parse_long("010", 0, 100, &v), 0, "leading zero is decimal");
	ASSERT_EQ(v, 10, "010 is ten");
}

TEST(parse_seconds)
{
	uint64_t ns = 0;

	ASSERT_EQ(parse_seconds("2.5", &ns), 0, "fraction");
	ASSERT_EQ(ns, 2500000000ull, "2.5 s in ns");
	ASSERT_EQ(parse_seconds("-1", &ns), -EINVAL, "negative");
	ASSERT_EQ(parse_seconds("0", &ns), -EINVAL, "zero");
	ASSERT_EQ(parse_seconds("3s", &ns), -EINVAL, "unit suffix");
	ASSERT_EQ(parse_seconds("nan", &ns), -EINVAL, "nan");
	ASSERT_EQ(parse_seconds(" 1", &ns), -EINVAL, "leading space");
	ASSERT_EQ(parse_seconds("+1", &ns), -EINVAL, "plus sign");
	ASSERT_EQ(parse_seconds("0x10", &ns), -EINVAL, "hexadecimal");
	ASSERT_EQ(parse_seconds("1e3", &ns), -EINVAL, "exponent");
	ASSERT_EQ(parse_seconds("inf", &ns), -EINVAL, "inf");
	ASSERT_EQ(parse_seconds(".", &ns), -EINVAL, "a dot alone");
	ASSERT_EQ(parse_seconds("1.", &ns), 0, "1.");
	ASSERT_EQ(parse_seconds(".5", &ns), 0, ".5");
	ASSERT_EQ(ns, 500000000ull, ".5 s in ns");
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.' || strncmp(e->d_name, ".f", 2) == 0;
	if (d)
		closedir(d);
	return n;
}

TEST(write_file_atomic)
{
	char dir[] = "/tmp/ap-unit-XXXXXX", *path, *got;
	size_t len;

	ASSERT_TRUE(mkdtemp(dir) != NULL, "temp dir");
	ASSERT_EQ(write_file_atomic(dir, "f", "hello", 5), 0, "first write");
	ASSERT_EQ(write_file_atomic(dir, "f", "bye", 3), 0, "overwrite");
	path = xasprintf("%s/f", dir);
	got = read_file(path, &len);
	ASSERT_STREQ(got, "bye", "content is the last write");
	ASSERT_EQ(count_entries(dir), 1, "no temp files left behind");
	ASSERT_EQ(write_file_atomic("/nonexistent/dir", "f", "x", 1), -ENOENT, "missing dir");
	unlink(path);
	rmdir(dir);
	free(got);
	free(path);
}

TEST(mkdir_p)
{
	char dir[] = "/tmp/ap-unit-XXXXXX", *deep;

	ASSERT_TRUE(mkdtemp(dir) != NULL, "temp dir");
	deep = xasprintf("%s/a/b/c", dir);
	ASSERT_EQ(mkdir_p(deep, 0755), 0, "nested");
	ASSERT_EQ(mkdir_p(deep, 0755), 0, "existing is fine");
	ASSERT_EQ(mkdir_p("/proc/self/status/x", 0755), -ENOTDIR, "under a file");
	free(deep);
	deep = xasprintf("rm -rf %s", dir);
	ASSERT_EQ(system(deep), 0, "cleanup");
	free(deep);
}

TEST(hashmap)
{
	struct hmap m = { 0 };
	uint64_t v = 0;
	bool is_new;
	int i, bad = 0;

	for (i = 0; i < 10000; i++)
		hmap_put(&m, &i, sizeof(i), i * 7);
	ASSERT_EQ(m.len, 10000, "size");
	for (i = 0; i < 10000; i++)
		bad += !hmap_get(&m, &i, sizeof(i), &v) || v != (uint64_t)i * 7;
	ASSERT_EQ(bad, 0, "every key maps to its value");
	i = 12345;
	ASSERT_TRUE(!hmap_get(&m, &i, sizeof(i), &v), "absent key");
	*hmap_upsert(&m, "abc", 3, 1, &is_new) += 1;
	ASSERT_TRUE(is_new, "upsert inserts");
	*hmap_upsert(&m, "abc", 3, 1, &is_new) += 1;
	ASSERT_TRUE(!is_new, "upsert finds");
	ASSERT_TRUE(hmap_get(&m, "abc", 3, &v) && v == 3, "upsert updates in place");
	hmap_free(&m);
}

TEST(write_file_atomic_at)
{
	char *dir = unit_temp_dir("unit"), *got;
	struct stat st;
	mode_t old;
	int fd;

	ASSERT_TRUE(dir != NULL, "temp dir");
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	/* the umask decides, never a fixed 0644: run.json may hold secrets */
	old = umask(077);
	ASSERT_EQ(write_file_atomic_at(fd, "secret", "x", 1), 0, "write under umask 077");
	umask(022);
	ASSERT_EQ(write_file_atomic_at(fd, "open", "x", 1), 0, "write under umask 022");
	umask(old);
	ASSERT_TRUE(!fstatat(fd, "secret", &st, 0) && (st.st_mode & 0777) == 0600, "0600 under 077");
	ASSERT_TRUE(!fstatat(fd, "open", &st, 0) && (st.st_mode & 0777) == 0644, "0644 under 022");
	/* a symlink at the name is replaced, its target untouched */
	ASSERT_EQ(write_file_atomic_at(fd, "victim", "keep", 4), 0, "victim");
	ASSERT_EQ(symlinkat("victim", fd, "link"), 0, "plant a link");
	ASSERT_EQ(write_file_atomic_at(fd, "link", "new", 3), 0, "write over the link");
	got = read_file_at(fd, "victim", 0, 100, NULL);
	ASSERT_STREQ(got, "keep", "the link's target is untouched");
	free(got);
	ASSERT_TRUE(!fstatat(fd, "link", &st, AT_SYMLINK_NOFOLLOW) && S_ISREG(st.st_mode),
		    "the name is now a regular file");
	ASSERT_EQ(write_file_atomic_at(fd, "a/b", "x", 1), -EINVAL, "one component only");
	ASSERT_EQ(count_entries(dir), 4, "no temp files left behind");
	/* a failed write is named, with its size */
	ASSERT_TRUE(write_file_atomic_at(-1, "cpu.json", "x", 1) < 0, "bad dir fd fails");
	ASSERT_TRUE(ap_last_write_failure() && !strcmp(ap_last_write_failure()->name, "cpu.json") &&
		    ap_last_write_failure()->len == 1, "the failure is kept for the message");
	close(fd);
	unit_rm_rf(dir);
}

/* a batch renames its files into place only at its end, every one of
 * them, also past the batch's cap and from a directory fd closed since */
TEST(write_batch)
{
	char *dir = unit_temp_dir("unit"), *got, name[16];
	struct dirent *e;
	int fd, sub, i, temps = 0;
	bool made;
	DIR *d;

	ASSERT_TRUE(dir != NULL, "temp dir");
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	ASSERT_EQ(write_file_atomic_at(fd, "a", "old", 3), 0, "the old a");
	ap_write_batch_begin();
	ASSERT_EQ(write_file_atomic_at(fd, "a", "new", 3), 0, "a in the batch");
	sub = mkdir_at(fd, "sub", &made);
	ASSERT_EQ(write_file_atomic_at(sub, "s", "x", 1), 0, "sub/s in the batch");
	close(sub);
	got = read_file_at(fd, "a", 0, 100, NULL);
	ASSERT_STREQ(got, "old", "before the end: the old a");
	free(got);
	for (i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		ASSERT_EQ(write_file_atomic_at(fd, name, "y", 1), 0, "more than the cap");
	}
	ASSERT_TRUE(write_file_atomic_at(-1, "bad", "x", 1) < 0, "a failed write fails at once");
	ASSERT_EQ(ap_write_batch_end(), 0, "the end");
	got = read_file_at(fd, "a", 0, 100, NULL);
	ASSERT_STREQ(got, "new", "after the end: the new a");
	free(got);
	got = read_file_at(fd, "sub/s", 0, 100, NULL);
	ASSERT_STREQ(got, "x", "sub/s in place from a closed dir fd");
	free(got);
	got = read_file_at(fd, "n19", 0, 100, NULL);
	ASSERT_STREQ(got, "y", "the last past the cap");
	free(got);
	d = opendir(dir);
	while (d && (e = readdir(d)))
		temps += e->d_name[0] == '.' && strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	if (d)
		closedir(d);
	ASSERT_EQ(temps, 0, "no temp files left behind");
	ASSERT_EQ(ap_write_batch_end(), 0, "an end without a begin does nothing");
	close(fd);
	unit_rm_rf(dir);
}

TEST(read_file_at_refuses_traps)
{
	char *dir = unit_temp_dir("unit"), *got;
	size_t len = 0;
	int fd;

	ASSERT_TRUE(dir != NULL, "temp dir");
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	ASSERT_EQ(write_file_atomic_at(fd, "f", "0123456789", 10), 0, "a file");
	got = read_file_at(fd, "f", O_NOFOLLOW, 10, &len);
	ASSERT_TRUE(got && len == 10, "at the limit is fine");
	free(got);
	errno = 0;
	ASSERT_TRUE(!read_file_at(fd, "f", 0, 9, NULL) && errno == EFBIG, "over the limit: EFBIG");
	/* a FIFO must neither hang nor be read */
	ASSERT_EQ(mkfifoat(fd, "fifo", 0600), 0, "mkfifo");
	errno = 0;
	ASSERT_TRUE(!read_file_at(fd, "fifo", 0, 100, NULL) && errno == EINVAL, "FIFO refused");
	ASSERT_EQ(symlinkat("/dev/zero", fd, "zero"), 0, "link to /dev/zero");
	errno = 0;
	ASSERT_TRUE(!read_file_at(fd, "zero", 0, AP_READ_MAX, NULL) && errno == EINVAL,
		    "a device through a link refused");
	errno = 0;
	ASSERT_TRUE(!read_file_at(fd, "zero", O_NOFOLLOW, AP_READ_MAX, NULL) && errno == ELOOP,
		    "no link at all under O_NOFOLLOW");
	ASSERT_STREQ(ap_read_errstr(EINVAL, AP_READ_MAX), "not a regular file", "message");
	ASSERT_STREQ(ap_read_errstr(EFBIG, AP_PATTERN_MAX), "larger than the limit of 1 MiB",
		     "limit message");
	/* procfs files say size 0 and still read */
	got = read_file("/proc/self/stat", &len);
	ASSERT_TRUE(got && len > 0, "procfs reads");
	free(got);
	close(fd);
	unit_rm_rf(dir);
}

TEST(dir_walk_symlinks)
{
	char *dir = unit_temp_dir("unit"), *p;
	unsigned other = geteuid() == 0 ? 54321 : geteuid() + 1;
	struct ap_walk w;
	int fd, dfd;

	ASSERT_TRUE(dir != NULL, "temp dir");
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	/* without create: the deepest existing directory and what is missing */
	p = xasprintf("%s/a/b", dir);
	fd = ap_dir_walk(p, geteuid(), false, &w);
	ASSERT_TRUE(fd >= 0 && !strcmp(w.rest, "a/b"), "missing tail reported");
	ASSERT_TRUE(faccessat(dfd, "a", F_OK, 0) != 0, "nothing created");
	close(fd);
	ap_walk_free(&w);
	/* with create: made, then undone */
	fd = ap_dir_walk(p, geteuid(), true, &w);
	ASSERT_TRUE(fd >= 0 && w.nr_made == 2 && w.made_last, "two directories made");
	close(fd);
	ap_walk_undo(&w);
	ap_walk_free(&w);
	ASSERT_TRUE(faccessat(dfd, "a", F_OK, 0) != 0, "undo removed them");
	free(p);
	/* a link of ours (or root's) is followed */
	ASSERT_EQ(mkdirat(dfd, "real", 0700), 0, "target dir");
	ASSERT_EQ(symlinkat("real", dfd, "mine"), 0, "our link");
	p = xasprintf("%s/mine/out", dir);
	fd = ap_dir_walk(p, geteuid(), true, &w);
	ASSERT_TRUE(fd >= 0 && faccessat(dfd, "real/out", F_OK, 0) == 0, "own link followed");
	close(fd);
	ap_walk_free(&w);
	free(p);
	/* another user's link is not: someone could have planted it */
	ASSERT_EQ(symlinkat("real", dfd, "planted"), 0, "planted link");
	if (geteuid() == 0) {
		ASSERT_EQ(fchownat(dfd, "planted", other, other, AT_SYMLINK_NOFOLLOW), 0, "give it away");
		p = xasprintf("%s/planted/out2", dir);
		fd = ap_dir_walk(p, 0, true, &w);
	} else {
		p = xasprintf("%s/planted/out2", dir);
		fd = ap_dir_walk(p, other, true, &w); /* as if other had invoked us */
	}
	ASSERT_EQ(fd, -EPERM, "another user's link refused");
	ASSERT_TRUE(w.link && strstr(w.link, "/planted"), "the refused link is named");
	ASSERT_TRUE(faccessat(dfd, "real/out2", F_OK, 0) != 0, "nothing made through it");
	ap_walk_free(&w);
	free(p);
	/* a file in the way */
	ASSERT_EQ(write_file_atomic_at(dfd, "file", "", 0), 0, "a file");
	p = xasprintf("%s/file/x", dir);
	ASSERT_EQ(ap_dir_walk(p, geteuid(), true, &w), -ENOTDIR, "a file is not a directory");
	ap_walk_free(&w);
	free(p);
	close(dfd);
	unit_rm_rf(dir);
}

TEST(dir_classify_and_clear)
{
	char *dir = unit_temp_dir("unit"), what[300];
	int fd, afd;
	bool made;

	ASSERT_TRUE(dir != NULL, "temp dir");
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	ASSERT_EQ(ap_dir_classify(fd, what, sizeof(what)), AP_DIR_EMPTY, "empty");
	afd = mkdir_at(fd, "artifacts", &made);
	ASSERT_TRUE(afd >= 0 && made, "artifacts made");
	ASSERT_EQ(write_file_atomic_at(afd, "cpu.json", "{}", 2), 0, "cpu.json");
	ASSERT_EQ(write_file_atomic_at(fd, "stacks.folded", "", 0), 0, "stacks.folded");
	ASSERT_EQ(ap_dir_classify(fd, what, sizeof(what)), AP_DIR_OURS, "ours, no run.json");
	ASSERT_EQ(write_file_atomic_at(fd, "run.json", "{\"schema\":\"autoprof.run/1\"}", 27), 0,
		  "run.json");
	ASSERT_EQ(ap_dir_classify(fd, what, sizeof(what)), AP_DIR_RUN, "a finished run");
	ASSERT_EQ(write_file_atomic_at(afd, "notes.txt", "", 0), 0, "a foreign file");
	ASSERT_EQ(ap_dir_classify(fd, what, sizeof(what)), AP_DIR_FOREIGN, "foreign");
	ASSERT_TRUE(strstr(what, "notes.txt") != NULL, "the foreign file is named");
	/* clear removes our files and nothing else */
	ap_dir_clear(fd);
	ASSERT_TRUE(faccessat(fd, "run.json", F_OK, 0) && faccessat(afd, "cpu.json", F_OK, 0),
		    "our files removed");
	ASSERT_EQ(faccessat(afd, "notes.txt", F_OK, 0), 0, "the foreign file is kept");
	close(afd);
	close(fd);
	unit_rm_rf(dir);
}
