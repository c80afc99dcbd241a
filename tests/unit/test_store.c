// SPDX-License-Identifier: MIT
/* The agent's store: window names, commit by rename, the disk cap and its
 * eviction count, leftover temp directories, a full disk, a planted
 * symlink, a directory we cannot write. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "sink/store.h"
#include "unit.h"
#include "util.h"

#define T0 1795944615123456789ull /* 2026-11-29T09:30:15.123456789Z */

/* a window's content: one file of size bytes */
static int write_blob(int dirfd, void *ctx)
{
	size_t n = *(size_t *)ctx;
	char *buf = xcalloc(1, n);
	int err = write_file_atomic_at(dirfd, "run.json", buf, n);

	free(buf);
	return err;
}

static int exists_at(const char *dir, const char *name)
{
	char *p = xasprintf("%s/%s", dir, name);
	struct stat st;
	int r = lstat(p, &st) == 0;

	free(p);
	return r;
}

TEST(store_window_names)
{
	char name[AP_STORE_NAME_LEN];
	uint64_t t = 0;

	ap_store_window_name(T0, name, sizeof(name));
	ASSERT_STREQ(name, "20261129T093015Z-123456", "UTC start, microseconds");
	ASSERT_TRUE(ap_store_is_window_name(name), "ours");
	ASSERT_EQ(ap_store_window_time(name, &t), 0, "parsed back");
	ASSERT_EQ(t, T0 / 1000 * 1000, "to the microsecond");
	ASSERT_TRUE(!ap_store_is_window_name("20261129T093015Z-12345"), "short");
	ASSERT_TRUE(!ap_store_is_window_name("20261129T093015Z-1234567"), "long");
	ASSERT_TRUE(!ap_store_is_window_name("2026112xT093015Z-123456"), "not digits");
	ASSERT_TRUE(!ap_store_is_window_name(".tmp-20261129T093015Z-123456"), "a temp dir");
	ASSERT_EQ(ap_store_window_time("notes.txt", &t), -EINVAL, "not a window");
}

TEST(store_commit_and_cap)
{
	char *dir = unit_temp_dir("store"), *sub = dir ? xasprintf("%s/store/sub", dir) : NULL;
	struct ap_store_stats st;
	struct ap_store *s = NULL;
	size_t size = 40000;
	struct stat sb;
	char **names = NULL;
	int i, n, dirfd;

	ASSERT_TRUE(sub != NULL, "temp dir");
	if (!sub)
		return;
	/* a cap of three 40 KB windows (disk blocks: 40960 and the directory's) */
	ASSERT_EQ(ap_store__open(sub, 3 * 45056 + 1000, &s), 0, "created");
	if (!s)
		goto out;
	ASSERT_TRUE(stat(sub, &sb) == 0 && (sb.st_mode & 0777) == 0700, "created 0700");
	for (i = 0; i < 5; i++)
		ASSERT_EQ(ap_store__write_window(s, T0 + i * 15000000000ull, write_blob, &size), 0,
			  "window written");
	ap_store__stats(s, &st);
	ASSERT_EQ(st.committed, 5, "committed");
	ASSERT_EQ(st.evicted, 2, "the oldest two deleted");
	ASSERT_EQ(ap_store__evicted(s), 2, "evicted()");
	ASSERT_EQ(st.windows, 3, "three kept");
	ASSERT_TRUE(st.bytes <= 3 * 45056 + 1000, "under the cap");
	ASSERT_STREQ(ap_store__last(s), "20261129T093115Z-123456", "last window");
	n = ap_store_list(ap_store__fd(s), &names);
	ASSERT_EQ(n, 3, "listed");
	if (n == 3) {
		ASSERT_STREQ(names[0], "20261129T093045Z-123456", "oldest kept");
		ASSERT_STREQ(names[2], "20261129T093115Z-123456", "newest kept");
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	ASSERT_TRUE(exists_at(sub, "20261129T093115Z-123456/run.json"), "its file");
	ASSERT_TRUE(!exists_at(sub, "20261129T093015Z-123456"), "the oldest gone");

	/* the same start twice: the second gets the next microsecond */
	ASSERT_EQ(ap_store__write_window(s, T0 + 4 * 15000000000ull, write_blob, &size), 0,
		  "same start");
	ASSERT_STREQ(ap_store__last(s), "20261129T093115Z-123457", "a free name");

	/* a window being written is invisible, and abort leaves nothing */
	ASSERT_EQ(ap_store__begin(s, T0 + 100000000000ull, &dirfd), 0, "begin");
	ASSERT_TRUE(exists_at(sub, ".tmp-20261129T093155Z-123456"), "hidden temp dir");
	ap_store__abort(s);
	ASSERT_TRUE(!exists_at(sub, ".tmp-20261129T093155Z-123456"), "aborted: removed");

	/* one writer at a time */
	{
		struct ap_store *s2 = NULL;

		ASSERT_EQ(ap_store__open(sub, 0, &s2), -EBUSY, "a second writer is refused");
		ASSERT_TRUE(s2 == NULL, "no second store");
	}
	ap_store__close(s);
	s = NULL;

	/* reopened with a smaller cap: evicted at open */
	ASSERT_EQ(ap_store__open(sub, 45056 + 1000, &s), 0, "reopened");
	if (s) {
		ap_store__stats(s, &st);
		ASSERT_EQ(st.windows, 1, "one left under the new cap");
		ASSERT_EQ(st.evicted, 2, "counted at open");
	}
out:
	ap_store__close(s);
	free(sub);
	unit_rm_rf(dir);
}

/* a clock stepped back: the new windows have earlier names than those
 * there, yet the oldest written is the one deleted, not the one just made */
TEST(store_clock_stepped_back)
{
	char *dir = unit_temp_dir("store"), *sub = dir ? xasprintf("%s/store", dir) : NULL;
	struct ap_store *s = NULL;
	size_t size = 40000;

	ASSERT_TRUE(sub != NULL, "temp dir");
	if (!sub)
		return;
	ASSERT_EQ(ap_store__open(sub, 2 * 45056 + 1000, &s), 0, "created");
	if (!s)
		goto out;
	ASSERT_EQ(ap_store__write_window(s, T0 + 3600000000000ull, write_blob, &size), 0, "ahead");
	ASSERT_EQ(ap_store__write_window(s, T0 + 3615000000000ull, write_blob, &size), 0, "ahead");
	/* the clock corrected by an hour */
	ASSERT_EQ(ap_store__write_window(s, T0, write_blob, &size), 0, "after the step");
	ASSERT_TRUE(exists_at(sub, "20261129T093015Z-123456"), "the new window kept");
	ASSERT_TRUE(!exists_at(sub, "20261129T103015Z-123456"), "the oldest written deleted");
	ASSERT_TRUE(exists_at(sub, "20261129T103030Z-123456"), "the next kept");
	ASSERT_EQ(ap_store__write_window(s, T0 + 15000000000ull, write_blob, &size), 0, "next");
	ASSERT_TRUE(exists_at(sub, "20261129T093030Z-123456") && exists_at(sub, "20261129T093015Z-123456"),
		    "both new windows kept");
out:
	ap_store__close(s);
	free(sub);
	unit_rm_rf(dir);
}

TEST(store_leftovers_and_foreign_entries)
{
	char *dir = unit_temp_dir("store"), *p;
	struct ap_store_stats st;
	struct ap_store *s = NULL;
	size_t size = 100;
	int fd;

	ASSERT_TRUE(dir != NULL, "temp dir");
	if (!dir)
		return;
	/* a window a SIGKILL interrupted, with a file and a subdirectory */
	p = xasprintf("%s/.tmp-20261129T093015Z-000001", dir);
	ASSERT_EQ(mkdir(p, 0700), 0, "leftover");
	free(p);
	p = xasprintf("%s/.tmp-20261129T093015Z-000001/artifacts", dir);
	ASSERT_EQ(mkdir(p, 0700), 0, "leftover subdir");
	free(p);
	p = xasprintf("%s/.tmp-20261129T093015Z-000001/artifacts/cpu.json", dir);
	fd = open(p, O_CREAT | O_WRONLY, 0600);
	close(fd);
	free(p);
	/* things that are not ours */
	p = xasprintf("%s/notes.txt", dir);
	fd = open(p, O_CREAT | O_WRONLY, 0600);
	close(fd);
	free(p);
	p = xasprintf("%s/.tmp-other", dir);
	ASSERT_EQ(mkdir(p, 0700), 0, "foreign temp-like dir");
	free(p);
	p = xasprintf("%s/20261129T000000Z-000000", dir);
	fd = open(p, O_CREAT | O_WRONLY, 0600); /* a file with a window's name */
	close(fd);
	free(p);
	p = xasprintf("%s/20261128T000000Z-000000", dir);
	ASSERT_EQ(symlink("/etc", p), 0, "a symlink with a window's name");
	free(p);

	ASSERT_EQ(ap_store__open(dir, 1, &s), 0, "opened with a tiny cap");
	if (s) {
		ap_store__stats(s, &st);
		ASSERT_EQ(st.temp_removed, 1, "leftover temp dir removed, counted");
		ASSERT_EQ(st.windows, 0, "no window of ours");
		/* a window bigger than the whole cap is not kept either */
		ASSERT_EQ(ap_store__write_window(s, T0, write_blob, &size), 0, "written");
		ap_store__stats(s, &st);
		ASSERT_EQ(st.evicted, 1, "over the cap: deleted");
		ASSERT_EQ(st.windows, 0, "store under the cap");
	}
	ASSERT_TRUE(!exists_at(dir, ".tmp-20261129T093015Z-000001"), "leftover gone");
	ASSERT_TRUE(exists_at(dir, "notes.txt"), "foreign file kept");
	ASSERT_TRUE(exists_at(dir, ".tmp-other"), "foreign dir kept");
	ASSERT_TRUE(exists_at(dir, "20261129T000000Z-000000"), "a file named like a window kept");
	ASSERT_TRUE(exists_at(dir, "20261128T000000Z-000000"), "a symlink named like one kept");
	ASSERT_TRUE(exists_at("/etc", "passwd"), "and not followed");
	ap_store__close(s);
	unit_rm_rf(dir);
}

static int full_disk_writes;

/* the first full_disk_writes calls find the disk full */
static int write_full(int dirfd, void *ctx)
{
	if (full_disk_writes > 0) {
		full_disk_writes--;
		return -ENOSPC;
	}
	return write_blob(dirfd, ctx);
}

TEST(store_full_disk)
{
	char *dir = unit_temp_dir("store");
	struct ap_store_stats st;
	struct ap_store *s = NULL;
	size_t size = 100;
	int i;

	ASSERT_TRUE(dir != NULL, "temp dir");
	if (!dir)
		return;
	ASSERT_EQ(ap_store__open(dir, 0, &s), 0, "opened without a cap");
	if (!s)
		goto out;
	for (i = 0; i < 3; i++)
		ap_store__write_window(s, T0 + i * 1000000000ull, write_blob, &size);
	full_disk_writes = 1; /* room after one deletion */
	ASSERT_EQ(ap_store__write_window(s, T0 + 10000000000ull, write_full, &size), 0,
		  "written after making room");
	ap_store__stats(s, &st);
	ASSERT_EQ(st.evicted, 1, "the oldest deleted for room");
	ASSERT_EQ(st.enospc, 1, "full disk counted");
	ASSERT_EQ(st.dropped, 0, "nothing dropped");
	ASSERT_TRUE(!exists_at(dir, "20261129T093015Z-123456"), "it was the oldest");
	full_disk_writes = 2; /* still full after one deletion */
	ASSERT_EQ(ap_store__write_window(s, T0 + 20000000000ull, write_full, &size), -ENOSPC,
		  "dropped");
	ap_store__stats(s, &st);
	ASSERT_EQ(st.evicted, 2, "one more deleted trying");
	ASSERT_EQ(st.dropped, 1, "dropped counted");
	ASSERT_EQ(st.windows, 2, "the others kept");
	ASSERT_TRUE(!exists_at(dir, ".tmp-20261129T093035Z-123456"), "no temp dir left");
out:
	ap_store__close(s);
	unit_rm_rf(dir);
}

TEST(store_refuses_planted_symlink)
{
	char *dir = unit_temp_dir("store"), *target, *link;
	struct ap_store *s = NULL;

	ASSERT_TRUE(dir != NULL, "temp dir");
	if (!dir)
		return;
	target = xasprintf("%s/target", dir);
	link = xasprintf("%s/link", dir);
	ASSERT_EQ(mkdir(target, 0700), 0, "target");
	ASSERT_EQ(symlink(target, link), 0, "link");
	if (geteuid() == 0) {
		/* a link another user owns is not followed */
		ASSERT_EQ(lchown(link, 12345, 12345), 0, "lchown");
		ASSERT_EQ(ap_store__open(link, 0, &s), -EPERM, "planted symlink refused");
		ASSERT_TRUE(s == NULL, "no store");
	}
	ap_store__close(s);
	free(target);
	free(link);
	unit_rm_rf(dir);
}

TEST(store_not_writable)
{
	char *dir = unit_temp_dir("store"), *ro;
	int status = -1;
	pid_t pid;

	ASSERT_TRUE(dir != NULL, "temp dir");
	if (!dir)
		return;
	ro = xasprintf("%s/ro", dir);
	ASSERT_EQ(mkdir(ro, 0755), 0, "dir");
	/* root passes the permission check: try as nobody, in a child */
	pid = fork();
	if (pid == 0) {
		struct ap_store *s = NULL;
		int err;

		if (geteuid() != 0 ? chmod(ro, 0555) != 0 :
				     setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(3);
		err = ap_store__open(ro, 0, &s);
		if (err != -EACCES || s)
			fprintf(stderr, "    open as uid %u: %d\n", (unsigned)geteuid(), err);
		_exit(err == -EACCES && !s ? 0 : 1);
	}
	ASSERT_TRUE(pid > 0 && waitpid(pid, &status, 0) == pid, "child");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "not writable: -EACCES, no store",
	      "child status 0x%x", status);
	free(ro);
	unit_rm_rf(dir);
}
