// SPDX-License-Identifier: MIT
/* The agent's local store (store.h): windows written into hidden temp
 * directories and renamed into place, the oldest deleted past the disk cap
 * or when the disk is full. Everything is done relative to the store's
 * directory fd, never by path again, and only entries that look like ours
 * (a window or temp name, a directory, owned by us) are ever deleted. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "log.h"
#include "outdir.h"
#include "sink/store.h"
#include "util.h"

#define TMP_PREFIX ".tmp-"
#define TREE_DEPTH_MAX 4 /* window/artifacts/file: deeper is not ours */

struct store_win {
	char name[AP_STORE_NAME_LEN];
	uint64_t bytes;
};

struct ap_store {
	char *path;
	int fd;
	uint64_t max_bytes;
	struct store_win *wins; /* oldest first: by name at open, then in commit order */
	size_t nr_wins, cap_wins;
	uint64_t bytes;         /* the sum of wins[].bytes */
	int cur_fd;             /* the window being written, else -1 */
	char cur_name[AP_STORE_NAME_LEN];
	char cur_tmp[sizeof(TMP_PREFIX) + AP_STORE_NAME_LEN];
	char last[AP_STORE_NAME_LEN];
	struct ap_store_stats st;
};

static bool digits(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

bool ap_store_is_window_name(const char *n)
{
	return strlen(n) == AP_STORE_NAME_LEN - 1 && digits(n, 8) && n[8] == 'T' &&
	       digits(n + 9, 6) && n[15] == 'Z' && n[16] == '-' && digits(n + 17, 6);
}

void ap_store_window_name(uint64_t real_ns, char *buf, size_t len)
{
	time_t sec = real_ns / 1000000000ull;
	struct tm tm;
	char t[64];

	gmtime_r(&sec, &tm); /* years past 9999 do not fit the name: not expected */
	strftime(t, sizeof(t), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(buf, len, "%.16s-%06u", t, (unsigned)(real_ns % 1000000000ull / 1000));
}

int ap_store_window_time(const char *name, uint64_t *real_ns)
{
	struct tm tm = { 0 };
	long us;
	time_t t;

	if (!ap_store_is_window_name(name) ||
	    sscanf(name, "%4d%2d%2dT%2d%2d%2dZ-%6ld", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &us) != 7)
		return -EINVAL;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	t = timegm(&tm);
	if (t < 0)
		return -EINVAL;
	*real_ns = (uint64_t)t * 1000000000ull + (uint64_t)us * 1000;
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* a directory entry of ours: a directory (not a link to one) owned by us */
static bool ours(int fd, const char *name)
{
	struct stat st;

	return !fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) && S_ISDIR(st.st_mode) &&
	       st.st_uid == geteuid();
}

/* names of fd's entries accepted by keep, sorted; how many or -errno */
static int list_dir(int fd, bool (*keep)(int fd, const char *name), char ***out)
{
	char **names = NULL;
	size_t nr = 0, cap = 0;
	struct dirent *de;
	DIR *d;
	int dfd;

	*out = NULL;
	dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return -errno;
	}
	while ((de = readdir(d))) {
		if (!keep(fd, de->d_name))
			continue;
		GROW(names, cap, nr + 1);
		names[nr++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (nr)
		qsort(names, nr, sizeof(*names), cmp_names);
	*out = names;
	return (int)nr;
}

static bool keep_window(int fd, const char *name)
{
	return ap_store_is_window_name(name) && ours(fd, name);
}

static bool keep_temp(int fd, const char *name)
{
	return !strncmp(name, TMP_PREFIX, strlen(TMP_PREFIX)) &&
	       ap_store_is_window_name(name + strlen(TMP_PREFIX)) && ours(fd, name);
}

int ap_store_list(int fd, char ***names)
{
	return list_dir(fd, keep_window, names);
}

static void free_names(char **names, int n)
{
	int i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* Walk the tree dirfd/name (a directory) without following links: sum its
 * disk usage into *bytes when bytes, fsync everything when sync, remove
 * everything (the directory too) when rm. 0 or the first -errno. */
static int tree_at(int dirfd, const char *name, int depth, uint64_t *bytes, bool sync, bool rm)
{
	struct dirent *de;
	struct stat st;
	int fd, err = 0, e;
	DIR *d;

	if (depth > TREE_DEPTH_MAX)
		return -ELOOP;
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (bytes && !fstat(fd, &st))
		*bytes += (uint64_t)st.st_blocks * 512;
	d = fdopendir(fd);
	if (!d) {
		err = -errno;
		close(fd);
		return err;
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW)) {
			err = err ?: -errno;
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			e = tree_at(fd, de->d_name, depth + 1, bytes, sync, rm);
			err = err ?: e;
			continue;
		}
		if (bytes)
			*bytes += (uint64_t)st.st_blocks * 512;
		if (sync && S_ISREG(st.st_mode)) {
			int ffd = openat(fd, de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
								 O_NONBLOCK);

			if (ffd < 0 || fsync(ffd))
				err = err ?: -errno;
			if (ffd >= 0)
				close(ffd);
		}
		if (rm && unlinkat(fd, de->d_name, 0))
			err = err ?: -errno;
	}
	if (sync && fsync(fd))
		err = err ?: -errno;
	closedir(d);
	if (rm && unlinkat(dirfd, name, AT_REMOVEDIR))
		err = err ?: -errno;
	return err;
}

/* delete the oldest window; 0, -ENOENT (none left) or -errno */
static int evict_oldest(struct ap_store *s)
{
	struct store_win w;
	int err;

	if (!s->nr_wins)
		return -ENOENT;
	w = s->wins[0];
	memmove(s->wins, s->wins + 1, (s->nr_wins - 1) * sizeof(*s->wins));
	s->nr_wins--;
	s->bytes -= w.bytes;
	if (!keep_window(s->fd, w.name)) /* renamed or replaced behind our back */
		return 0;
	err = tree_at(s->fd, w.name, 0, NULL, false, true);
	if (err) {
		s->st.delete_failed++;
		ap_warn("store: %s/%s: deleting the window: %s", s->path, w.name, ap_errstr(err));
		return err;
	}
	s->st.evicted++;
	s->st.evicted_bytes += w.bytes;
	return 0;
}

static void enforce_cap(struct ap_store *s)
{
	while (s->max_bytes && s->nr_wins && s->bytes > s->max_bytes)
		if (evict_oldest(s) && !s->nr_wins)
			break;
}

/* a window at the end, as the newest: in commit order, not by name, so a
 * clock stepped back (names earlier than the windows there) does not make
 * each new window the first to be deleted */
static void add_window(struct ap_store *s, const char *name, uint64_t bytes)
{
	GROW(s->wins, s->cap_wins, s->nr_wins + 1);
	snprintf(s->wins[s->nr_wins].name, sizeof(s->wins[s->nr_wins].name), "%s", name);
	s->wins[s->nr_wins].bytes = bytes;
	s->nr_wins++;
	s->bytes += bytes;
}

/* remove leftover temp directories, learn the windows and their sizes */
static int scan(struct ap_store *s)
{
	char **names;
	int n, i, err;

	n = list_dir(s->fd, keep_temp, &names);
	if (n < 0)
		return n;
	for (i = 0; i < n; i++) {
		err = tree_at(s->fd, names[i], 0, NULL, false, true);
		if (err)
			ap_warn("store: %s/%s: removing an unfinished window: %s", s->path,
				names[i], ap_errstr(err));
		else
			s->st.temp_removed++;
	}
	free_names(names, n);
	n = list_dir(s->fd, keep_window, &names);
	if (n < 0)
		return n;
	for (i = 0; i < n; i++) {
		uint64_t b = 0;

		tree_at(s->fd, names[i], 0, &b, false, false);
		add_window(s, names[i], b);
	}
	free_names(names, n);
	return 0;
}

static bool disk_full(int err)
{
	return err == -ENOSPC || err == -EDQUOT;
}

/* can we make a directory there? (root passes every access check: a
 * read-only file system or a full inode table only shows when we try) */
static int probe_writable(int fd)
{
	char name[sizeof(TMP_PREFIX) + AP_STORE_NAME_LEN];

	/* a temp directory's name: if we die right here, the next open removes it */
	memcpy(name, TMP_PREFIX, strlen(TMP_PREFIX));
	ap_store_window_name(now_real_ns(), name + strlen(TMP_PREFIX), AP_STORE_NAME_LEN);
	if (mkdirat(fd, name, 0700) && errno != EEXIST)
		return -errno;
	unlinkat(fd, name, AT_REMOVEDIR);
	return 0;
}

int ap_store__open(const char *dir, uint64_t max_bytes, struct ap_store **out)
{
	struct ap_store *s = xcalloc(1, sizeof(*s));
	unsigned uid, gid;
	struct ap_walk w;
	int err;

	*out = NULL;
	s->path = xstrdup(dir);
	s->cur_fd = -1;
	s->max_bytes = max_bytes;
	ap_invoking_user(&uid, &gid);
	s->fd = ap_dir_walk(dir, uid, true, &w);
	if (s->fd < 0) {
		err = s->fd;
		if (err == -EPERM && w.link)
			ap_err("store: %s: not opened: %s is a symlink owned by uid %u, who could "
			       "have planted it",
			       dir, w.link, w.link_uid);
		else
			ap_err("store: %s: cannot open or create the directory: %s", dir,
			       ap_errstr(err));
		ap_walk_free(&w);
		goto err_out;
	}
	if (w.made_last && fchmod(s->fd, 0700)) {
		err = -errno;
		ap_err("store: %s: chmod 0700: %s", dir, ap_errstr(err));
		ap_walk_free(&w);
		goto err_out;
	}
	ap_walk_free(&w);
	/* a directory another user owns or may write into is theirs to lock
	 * (the agent would refuse to start) or to rename windows in */
	if (!w.made_last) {
		struct stat st;

		if (fstat(s->fd, &st)) {
			err = -errno;
			ap_err("store: %s: %s", dir, ap_errstr(err));
			goto err_out;
		}
		if ((st.st_uid != geteuid() && st.st_uid != uid) || (st.st_mode & 022)) {
			err = -EPERM;
			ap_err("store: %s: owned by uid %u with mode %04o: another user could lock it or "
			       "rename its windows; give a directory that only root can write, or a new one",
			       dir, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
			goto err_out;
		}
	}
	/* one writer: a second agent on the same store would delete under the first */
	if (flock(s->fd, LOCK_EX | LOCK_NB)) {
		err = errno == EWOULDBLOCK ? -EBUSY : -errno;
		ap_err("store: %s: %s", dir, err == -EBUSY ? "in use by another autoprof-bpf agent" :
							     ap_errstr(err));
		goto err_out;
	}
	err = probe_writable(s->fd);
	if (err && !disk_full(err)) {
		ap_err("store: %s: not writable: %s", dir, ap_errstr(err));
		goto err_out;
	}
	err = scan(s);
	if (err) {
		ap_err("store: %s: reading the directory: %s", dir, ap_errstr(err));
		goto err_out;
	}
	enforce_cap(s);
	/* a full disk at start is what the store recovers from: room is made
	 * as for a window (the oldest goes), and the next writes may succeed */
	if (disk_full(probe_writable(s->fd))) {
		s->st.enospc++;
		if (evict_oldest(s) == -ENOENT)
			ap_warn("store: %s: the disk is full and no window of ours is there to "
				"delete; windows are dropped until there is room", dir);
	}
	*out = s;
	return 0;

err_out:
	ap_store__close(s);
	return err;
}

int ap_store__begin(struct ap_store *s, uint64_t start_real_ns, int *dirfd)
{
	int tries, err;

	if (s->cur_fd >= 0)
		ap_store__abort(s);
	/* a name that is free both as a window and as a temp directory */
	for (tries = 0; tries < 1000; tries++, start_real_ns += 1000) {
		ap_store_window_name(start_real_ns, s->cur_name, sizeof(s->cur_name));
		snprintf(s->cur_tmp, sizeof(s->cur_tmp), TMP_PREFIX "%s", s->cur_name);
		if (faccessat(s->fd, s->cur_name, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
			continue;
		if (mkdirat(s->fd, s->cur_tmp, 0700) == 0)
			break;
		if (errno != EEXIST) {
			err = -errno;
			ap_warn("store: %s/%s: %s", s->path, s->cur_tmp, ap_errstr(err));
			return err;
		}
	}
	if (tries == 1000)
		return -EEXIST;
	s->cur_fd = openat(s->fd, s->cur_tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (s->cur_fd < 0) {
		err = -errno;
		unlinkat(s->fd, s->cur_tmp, AT_REMOVEDIR);
		return err;
	}
	*dirfd = s->cur_fd;
	return 0;
}

void ap_store__abort(struct ap_store *s)
{
	if (!s || s->cur_fd < 0)
		return;
	close(s->cur_fd);
	s->cur_fd = -1;
	tree_at(s->fd, s->cur_tmp, 0, NULL, false, true);
}

int ap_store__commit(struct ap_store *s)
{
	uint64_t bytes = 0;
	int err;

	if (s->cur_fd < 0)
		return -EINVAL;
	err = tree_at(s->fd, s->cur_tmp, 0, &bytes, true, false);
	if (err)
		goto err_out;
	if (renameat2(s->fd, s->cur_tmp, s->fd, s->cur_name, RENAME_NOREPLACE)) {
		err = -errno;
		goto err_out;
	}
	close(s->cur_fd);
	s->cur_fd = -1;
	if (fsync(s->fd))
		ap_warn("store: %s: fsync: %s", s->path, ap_errstr(-errno));
	add_window(s, s->cur_name, bytes);
	snprintf(s->last, sizeof(s->last), "%s", s->cur_name);
	s->st.committed++;
	enforce_cap(s);
	return 0;

err_out:
	ap_store__abort(s);
	return err;
}

int ap_store__write_window(struct ap_store *s, uint64_t start_real_ns,
			   int (*write)(int dirfd, void *ctx), void *ctx)
{
	int attempt, dirfd, err = 0;

	for (attempt = 0; attempt < 2; attempt++) {
		err = ap_store__begin(s, start_real_ns, &dirfd);
		if (!err) {
			err = write(dirfd, ctx);
			if (err)
				ap_store__abort(s);
			else
				err = ap_store__commit(s);
		}
		if (!err)
			return 0;
		if (!disk_full(err))
			break;
		s->st.enospc++;
		/* make room: the oldest window goes, then one more try */
		if (attempt || evict_oldest(s) == -ENOENT)
			break;
	}
	s->st.dropped++;
	ap_warn("store: %s: window %s dropped: %s", s->path, s->cur_name, ap_errstr(err));
	return err;
}

const char *ap_store__last(const struct ap_store *s)
{
	return s->last;
}

int ap_store__fd(const struct ap_store *s)
{
	return s->fd;
}

uint64_t ap_store__evicted(const struct ap_store *s)
{
	return s->st.evicted;
}

void ap_store__stats(const struct ap_store *s, struct ap_store_stats *out)
{
	*out = s->st;
	out->windows = s->nr_wins;
	out->bytes = s->bytes;
}

void ap_store__close(struct ap_store *s)
{
	if (!s)
		return;
	ap_store__abort(s);
	if (s->fd >= 0)
		close(s->fd);
	free(s->wins);
	free(s->path);
	free(s);
}
