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

int write_file_atomic(const char *dir, const char *name, const void *buf, size_t len)
{
	char tmp[PATH_MAX], dst[PATH_MAX];
	const char *p = buf;
	int fd, dfd, err = 0;
	ssize_t n;

	if (snprintf(dst, sizeof(dst), "%s/%s", dir, name) >= (int)sizeof(dst) ||
	    snprintf(tmp, sizeof(tmp), "%s/.%s.tmpXXXXXX", dir, name) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkstemp(tmp);
	if (fd < 0)
		return -errno;
	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto err_out;
		}
		p += n;
		len -= n;
	}
	if (fchmod(fd, 0644) || fsync(fd)) {
		err = -errno;
		goto err_out;
	}
	if (close(fd)) {
		fd = -1;
		err = -errno;
		goto err_out;
	}
	fd = -1;
	if (rename(tmp, dst)) {
		err = -errno;
		goto err_out;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;

err_out:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return err;
}

char *read_file(const char *path, size_t *lenp)
{
	size_t len = 0, cap = 0;
	char *buf = NULL;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC), err;

	if (fd < 0)
		return NULL;
	for (;;) {
		GROW(buf, cap, len + 4097);
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = errno;
			free(buf);
			close(fd);
			errno = err;
			return NULL;
		}
		if (n == 0)
			break;
		len += n;
	}
	close(fd);
	buf[len] = 0;
	if (lenp)
		*lenp = len;
	return buf;
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
