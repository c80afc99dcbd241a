/* SPDX-License-Identifier: MIT */
/* Small helpers used everywhere: strict number parsing, growable buffers,
 * atomic file writes, clocks, hashing. */
#ifndef AP_UTIL_H
#define AP_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AP_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* strict decimal parse of the whole string into [min, max]; 0 or -EINVAL/-ERANGE */
int parse_long(const char *s, long min, long max, long *out);
/* same for a positive decimal with optional fraction ("2.5"), seconds -> ns */
int parse_seconds(const char *s, uint64_t *ns);

uint64_t now_mono_ns(void);  /* CLOCK_MONOTONIC, the clock of bpf_ktime_get_ns */
uint64_t now_real_ns(void);  /* CLOCK_REALTIME */
/* "2026-11-24T05:49:24.123Z" into buf (>= 32 bytes) */
void format_utc(uint64_t real_ns, char *buf, size_t len);

/* abort()s on allocation failure: a profiler that cannot allocate a few
 * bytes cannot do anything useful, and partial states are worse */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t sz);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* grow *arr (element size esz) so that it holds at least need elements */
void grow_array(void **arr, size_t *cap, size_t need, size_t esz);
#define GROW(arr, cap, need) grow_array((void **)&(arr), &(cap), (need), sizeof(*(arr)))

uint64_t hash_bytes(const void *p, size_t n);

/* Write len bytes to dir/name atomically: temp file in the same directory,
 * fsync, rename, fsync of the directory. 0 or -errno. */
int write_file_atomic(const char *dir, const char *name, const void *buf, size_t len);
/* read a whole file (NUL-terminated); NULL and errno set on failure */
char *read_file(const char *path, size_t *len);
/* The user who asked for this run: SUDO_UID/SUDO_GID when root got them
 * from sudo (strictly parsed, ignored unless we are root), else our own
 * real uid and gid. Outputs belong to this user; a launched target runs as
 * this user unless told otherwise. Always succeeds. */
void ap_invoking_user(unsigned *uid, unsigned *gid);
/* mkdir -p; 0 or -errno */
int mkdir_p(const char *path, unsigned mode);

/* growable string */
struct strbuf {
	char *buf;
	size_t len, cap;
};
void sb_append(struct strbuf *sb, const char *s, size_t n);
void sb_puts(struct strbuf *sb, const char *s);
void sb_printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_free(struct strbuf *sb);

#endif
