// SPDX-License-Identifier: MIT
/* Small helpers: parsing, allocation, atomic writes, clocks, hashing. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>
#include "util.h"

int parse_long(const char *s, long min, long max, long *out)
{
	const char *d;
	char *end;
	long v;

	if (!s || !*s)
		return -EINVAL;
	/* decimal digits only, a '-' where negatives are allowed: strtol alone
	 * would take " 99", "+99" and, with base 0 elsewhere, "0x63" */
	d = *s == '-' && min < 0 ? s + 1 : s;
	if (*d < '0' || *d > '9')
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (*end || end == s)
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

void ap_invoking_user(unsigned *uid, unsigned *gid)
{
	const char *su = getenv("SUDO_UID"), *sg = getenv("SUDO_GID");
	long u, g;

	*uid = getuid();
	*gid = getgid();
	/* only root can have been made so by sudo; a user's own SUDO_UID means nothing */
	if (*uid != 0 || parse_long(su, 0, 0x7ffffffe, &u) || parse_long(sg, 0, 0x7ffffffe, &g))
		return;
	*uid = u;
	*gid = g;
}

int parse_seconds(const char *s, uint64_t *ns)
{
	const char *p = s;
	char *end;
	double v;

	/* DIGITS[.DIGITS] or .DIGITS: strtod alone would take " 1", "+1",
	 * "0x1p3", "1e3", "inf" and "nan" */
	if (!s)
		return -EINVAL;
	while (*p >= '0' && *p <= '9')
		p++;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	if (*p || p == s || !strcmp(s, "."))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || end == s || !(v > 0) || v > 365 * 86400.0)
		return -EINVAL;
	*ns = (uint64_t)(v * 1e9);
	return 0;
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

uint64_t now_mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

uint64_t now_real_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

void format_utc(uint64_t real_ns, char *buf, size_t len)
{
	time_t t = real_ns / 1000000000ull;
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (unsigned)(real_ns / 1000000 % 1000));
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		abort();
	return p;
}

void *xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz ? sz : 1);

	if (!p)
		abort();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		abort();
	return p;
}

char *xstrdup(const char *s)
{
	char *p = strdup(s ? s : "");

	if (!p)
		abort();
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	if (vasprintf(&p, fmt, ap) < 0)
		abort();
	va_end(ap);
	return p;
}

void grow_array(void **arr, size_t *cap, size_t need, size_t esz)
{
	size_t n = *cap ? *cap : 16;

	if (need <= *cap)
		return;
	while (n < need)
		n *= 2;
	*arr = xrealloc(*arr, n * esz);
	memset((char *)*arr + *cap * esz, 0, (n - *cap) * esz);
	*cap = n;
}

/* FNV-1a, 64-bit: short keys, good enough spread, no dependency */
uint64_t hash_bytes(const void *p, size_t n)
{
	const unsigned char *c = p;
	uint64_t h = 0xcbf29ce484222325ull;

	while (n--) {
		h ^= *c++;
		h *= 0x100000001b3ull;
	}
	return h;
}

static unsigned out_uid = -1u, out_gid = -1u;
static struct ap_write_failure last_failure;
static uint64_t bytes_written;

void ap_set_output_owner(unsigned uid, unsigned gid)
{
	out_uid = uid;
	out_gid = gid;
}

/* give a file or directory we just created to the output owner; only root
 * can, and only root needs to (anyone else creates files as themselves) */
int ap_chown_fd(int fd)
{
	if (geteuid() != 0 || out_uid == -1u || (out_uid == geteuid() && out_gid == getegid()))
		return 0;
	return fchown(fd, out_uid, out_gid) ? -errno : 0;
}

const struct ap_write_failure *ap_last_write_failure(void)
{
	return last_failure.err ? &last_failure : NULL;
}

void ap_note_write_failure(int dirfd, const char *name, size_t len, int err)
{
	struct statvfs vfs;

	snprintf(last_failure.name, sizeof(last_failure.name), "%s", name);
	last_failure.len = len;
	last_failure.err = err;
	last_failure.written = bytes_written;
	last_failure.avail = -1ull;
	if (dirfd >= 0 && !fstatvfs(dirfd, &vfs))
		last_failure.avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
}

int ap_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= n;
	}
	return 0;
}

/* a batch of this thread's atomic writes: temp files written, not yet
 * fsynced and renamed (see ap_write_batch_begin()) */
#define AP_WRITE_BATCH_MAX 16
struct pending_write {
	int dirfd;              /* a dup of the caller's */
	int fd;
	size_t len;
	char tmp[NAME_MAX + 1];
	char name[NAME_MAX + 1];
};
static __thread struct {
	unsigned depth, n;
	struct pending_write w[AP_WRITE_BATCH_MAX];
} batch;

/* fsync, close and rename one temp file into place; the temp removed on
 * failure. The directory is not fsynced here. 0 or -errno. */
static int finish_write(int dirfd, int fd, const char *tmp, const char *name, size_t len)
{
	int err = 0;

	if (fsync(fd))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	if (!err && renameat(dirfd, tmp, dirfd, name))
		err = -errno;
	if (err) {
		unlinkat(dirfd, tmp, 0);
		ap_note_write_failure(dirfd, name, len, err);
		return err;
	}
	bytes_written += len;
	return 0;
}

static bool same_dir(int a, int b)
{
	struct stat x, y;

	return !fstat(a, &x) && !fstat(b, &y) && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

/* the pending writes, in the order they were made: each file fsynced and
 * renamed, then each directory once. 0 or the first -errno. */
static int batch_commit(void)
{
	unsigned i, j, n = batch.n;
	bool ok[AP_WRITE_BATCH_MAX];
	int err = 0, e;

	batch.n = 0;
	/* the first fsync commits the journal transaction that holds every
	 * file's blocks (their writeback was started as each was written); the
	 * later ones find their data on disk and their inode committed */
	for (i = 0; i < n; i++) {
		struct pending_write *w = &batch.w[i];

		e = finish_write(w->dirfd, w->fd, w->tmp, w->name, w->len);
		ok[i] = !e;
		if (e && !err)
			err = e;
	}
	for (i = 0; i < n; i++) {
		for (j = 0; j < i && ok[i]; j++)
			if (ok[j] && same_dir(batch.w[i].dirfd, batch.w[j].dirfd))
				break;
		if (ok[i] && j == i)
			fsync(batch.w[i].dirfd);
	}
	for (i = 0; i < n; i++)
		close(batch.w[i].dirfd);
	return err;
}

void ap_write_batch_begin(void)
{
	batch.depth++;
}

int ap_write_batch_end(void)
{
	if (!batch.depth || --batch.depth)
		return 0;
	return batch_commit();
}

int write_file_atomic_at(int dirfd, const char *name, const void *buf, size_t len)
{
	char tmp[NAME_MAX + 1];
	unsigned tries;
	int fd = -1, err, dfd;

	if (strchr(name, '/') || strlen(name) > NAME_MAX - 12)
		return -EINVAL;
	/* a fresh name each try: O_EXCL never reuses, O_NOFOLLOW never follows */
	for (tries = 0; fd < 0 && tries < 100; tries++) {
		snprintf(tmp, sizeof(tmp), ".%s.tmp%06x", name,
			 (unsigned)(hash_bytes(&(uint64_t[]){ now_mono_ns(), getpid(), tries }, 24) &
				    0xffffff));
		/* 0666: the kernel applies the umask, so nothing is more readable than asked */
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
		if (fd < 0 && errno != EEXIST) {
			err = -errno;
			goto err_out;
		}
	}
	if (fd < 0) {
		err = -EEXIST;
		goto err_out;
	}
	err = ap_chown_fd(fd);
	if (!err)
		err = ap_write_all(fd, buf, len);
	if (err) {
		close(fd);
		unlinkat(dirfd, tmp, 0);
		goto err_out;
	}
	if (!batch.depth) {
		err = finish_write(dirfd, fd, tmp, name, len);
		if (!err)
			fsync(dirfd);
		return err;
	}
	if (batch.n == AP_WRITE_BATCH_MAX && (err = batch_commit())) {
		close(fd);
		unlinkat(dirfd, tmp, 0);
		return err;     /* noted by batch_commit() */
	}
	dfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
	if (dfd < 0) {
		err = -errno;
		close(fd);
		unlinkat(dirfd, tmp, 0);
		goto err_out;
	}
	/* start the writeback now: its blocks join the transaction the
	 * batch's first fsync commits */
	sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
	batch.w[batch.n++] = (struct pending_write){ .dirfd = dfd, .fd = fd, .len = len };
	snprintf(batch.w[batch.n - 1].tmp, sizeof(tmp), "%s", tmp);
	snprintf(batch.w[batch.n - 1].name, sizeof(tmp), "%s", name);
	return 0;

err_out:
	ap_note_write_failure(dirfd, name, len, err);
	return err;
}

int write_file_atomic(const char *dir, const char *name, const void *buf, size_t len)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), err;

	if (dfd < 0)
		return -errno;
	err = write_file_atomic_at(dfd, name, buf, len);
	close(dfd);
	return err;
}

int mkdir_at(int dirfd, const char *name, bool *made)
{
	int fd, err;

	*made = false;
	if (!mkdirat(dirfd, name, 0777)) /* the umask applies */
		*made = true;
	else if (errno != EEXIST)
		return -errno;
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		return err == -ENOTDIR || err == -ELOOP ? -ENOTDIR : err;
	}
	if (*made) {
		err = ap_chown_fd(fd);
		if (err) {
			close(fd);
			return err;
		}
	}
	return fd;
}

char *read_file_at(int dirfd, const char *name, int oflags, size_t max, size_t *lenp)
{
	size_t len = 0, cap = 0;
	char *buf = NULL;
	struct stat st;
	ssize_t n;
	int fd, err;

	/* O_NONBLOCK: a FIFO or a device must not hang us before fstat says what it is */
	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | oflags);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st)) {
		err = errno;
		goto err_out;
	}
	if (!S_ISREG(st.st_mode)) {
		err = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		goto err_out;
	}
	if ((uint64_t)st.st_size > max) {
		err = EFBIG;
		goto err_out;
	}
	for (;;) {
		/* st_size is a hint (procfs says 0); the limit holds for what is read */
		GROW(buf, cap, len + (len < max ? 4097 : 2));
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = errno;
			goto err_out;
		}
		if (n == 0)
			break;
		len += n;
		if (len > max) {
			err = EFBIG;
			goto err_out;
		}
	}
	close(fd);
	buf[len] = 0;
	if (lenp)
		*lenp = len;
	return buf;

err_out:
	free(buf);
	close(fd);
	errno = err;
	return NULL;
}

char *read_file(const char *path, size_t *lenp)
{
	return read_file_at(AT_FDCWD, path, 0, AP_READ_MAX, lenp);
}

const char *ap_read_errstr(int err, size_t max)
{
	static __thread char buf[64];

	if (err < 0)
		err = -err;
	if (err == EINVAL)
		return "not a regular file";
	if (err == ELOOP)
		return "a symbolic link (refused here)";
	if (err == EFBIG) {
		snprintf(buf, sizeof(buf), "larger than the limit of %zu MiB", max >> 20);
		return buf;
	}
	return strerror(err);
}

int mkdir_p(const char *path, unsigned mode)
{
	char *p = xstrdup(path), *s;
	int err = 0;

	for (s = p + 1; ; s++) {
		if (*s == '/' || !*s) {
			char c = *s;

			*s = 0;
			if (mkdir(p, mode) && errno != EEXIST) {
				err = -errno;
				break;
			}
			*s = c;
			if (!c)
				break;
		}
	}
	free(p);
	if (!err) {
		struct stat st;

		if (stat(path, &st))
			err = -errno;
		else if (!S_ISDIR(st.st_mode))
			err = -ENOTDIR;
	}
	return err;
}

void sb_append(struct strbuf *sb, const char *s, size_t n)
{
	GROW(sb->buf, sb->cap, sb->len + n + 1);
	memcpy(sb->buf + sb->len, s, n);
	sb->len += n;
	sb->buf[sb->len] = 0;
}

void sb_puts(struct strbuf *sb, const char *s)
{
	sb_append(sb, s, strlen(s));
}

void sb_printf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	GROW(sb->buf, sb->cap, sb->len + n + 1);
	va_start(ap, fmt);
	vsnprintf(sb->buf + sb->len, n + 1, fmt, ap);
	va_end(ap);
	sb->len += n;
}

void sb_free(struct strbuf *sb)
{
	free(sb->buf);
	sb->buf = NULL;
	sb->len = sb->cap = 0;
}

bool ap_utf8_valid(const char *s)
{
	size_t n = strlen(s);
	char *tmp;
	bool ok;

	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			goto slow;
	return true;
slow:
	tmp = xmalloc(n + 1);
	ok = ap_utf8_clean(tmp, n + 1, s, n, false) == n && !memcmp(tmp, s, n);
	free(tmp);
	return ok;
}

size_t ap_utf8_clean(char *out, size_t len, const char *s, size_t n, bool controls)
{
	size_t i = 0, o = 0;

	while (i < n && s[i] && o + 1 < len) {
		unsigned char c = s[i];
		size_t k = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 :
					   (c & 0xf8) == 0xf0 ? 4 : 0;
		size_t j;

		for (j = 1; k && j < k; j++)
			if (i + j >= n || ((unsigned char)s[i + j] & 0xc0) != 0x80)
				k = 0;
		if (k == 1 && controls && (c < 0x20 || c == 0x7f))
			k = 0;
		if (k > 1) { /* strict: no overlong form, surrogate, code point past
			      * U+10FFFF or C1 control (a terminal's CSI) */
			unsigned char d = s[i + 1];

			if (c < 0xc2 || c > 0xf4 || (c == 0xc2 && d < 0xa0) || (c == 0xe0 && d < 0xa0) ||
			    (c == 0xed && d >= 0xa0) || (c == 0xf0 && d < 0x90) || (c == 0xf4 && d >= 0x90))
				k = 0;
		}
		if (!k) {
			out[o++] = '_';
			i++;
			continue;
		}
		if (o + k >= len)
			break;
		memcpy(out + o, s + i, k);
		o += k;
		i += k;
	}
	out[o] = 0;
	return o;
}
