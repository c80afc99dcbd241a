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

/* Files and directories we create belong to uid:gid (the invoking user);
 * -1u: to whoever we are. Process-wide, like the umask, which every create
 * here also obeys (files 0666 & ~umask, directories 0777 & ~umask). */
void ap_set_output_owner(unsigned uid, unsigned gid);
/* fchown a file we just created to the output owner (when root); 0 or -errno */
int ap_chown_fd(int fd);
/* Write len bytes to dirfd/name atomically: a fresh temp file beside it
 * (O_CREAT|O_EXCL|O_NOFOLLOW), fsync, renameat, fsync of the directory.
 * name is one component. On failure nothing is left behind and the failure
 * is kept for ap_last_write_failure(). 0 or -errno. */
/* all of buf to fd (EINTR retried); 0 or -errno */
int ap_write_all(int fd, const void *buf, size_t len);
int write_file_atomic_at(int dirfd, const char *name, const void *buf, size_t len);
/* Batch this thread's write_file_atomic_at() calls: until the matching
 * ap_write_batch_end(), each writes its temp file and starts its
 * writeback; the end fsyncs each file, renames it into place and fsyncs
 * each directory once. With ext4's ordered journal the first fsync
 * commits the blocks of all the files, so a batch costs about one commit
 * where each file cost two. Each file is still replaced whole (a crash
 * leaves its old or its new version); what a batch wrote is at its name
 * only after the end (or once 16 files are pending, when they are
 * committed to make room), so nothing in a batch may read it back. Batches
 * nest: the outermost end commits. A write failing in a batch returns its
 * -errno as before. */
void ap_write_batch_begin(void);
/* 0 or the first -errno of the pending files (kept for
 * ap_last_write_failure()); failed temp files are removed */
int ap_write_batch_end(void);
/* the same for a directory path the caller trusts (opened following links) */
int write_file_atomic(const char *dir, const char *name, const void *buf, size_t len);
/* the last write that failed: which file, how big, the error, and the
 * space available to us on that file system then (-1ull: unknown) */
struct ap_write_failure {
	char name[256];
	size_t len;
	int err;
	uint64_t avail;
	uint64_t written;       /* bytes this process wrote successfully before it */
};
const struct ap_write_failure *ap_last_write_failure(void); /* NULL if none */
void ap_note_write_failure(int dirfd, const char *name, size_t len, int err);
/* mkdirat(dirfd, name) unless it exists, then open it without following a
 * symlink; a directory we made is chowned to the output owner and *made
 * set. The new fd, or -errno (-ENOTDIR: not a directory or a symlink). */
int mkdir_at(int dirfd, const char *name, bool *made);

/* Size limits of what we read: artifacts and run files, and a pattern file. */
#define AP_READ_MAX (1ull << 30)
#define AP_PATTERN_MAX (1ull << 20)
/* Read a whole regular file (NUL-terminated) of at most max bytes, opened
 * relative to dirfd with O_NONBLOCK and oflags (O_NOFOLLOW for files we
 * own). NULL and errno set on failure: EINVAL not a regular file (a FIFO, a
 * device), EISDIR, EFBIG over max, ELOOP a symlink under O_NOFOLLOW. */
char *read_file_at(int dirfd, const char *name, int oflags, size_t max, size_t *len);
/* read_file_at(AT_FDCWD, path, 0, AP_READ_MAX, len) */
char *read_file(const char *path, size_t *len);
/* what a read_file_at() errno means, for a message */
const char *ap_read_errstr(int err, size_t max);
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
/* Copy at most n bytes of s (stopping at a NUL) into out (len > 0) as
 * strict UTF-8: each byte of an invalid sequence (overlong, surrogate,
 * past U+10FFFF, C1 control) becomes '_', and with controls also C0
 * controls and DEL; cut at a character boundary. The bytes written. */
size_t ap_utf8_clean(char *out, size_t len, const char *s, size_t n, bool controls);
/* is s strict UTF-8 (as ap_utf8_clean takes it, controls allowed)? */
bool ap_utf8_valid(const char *s);
void sb_append(struct strbuf *sb, const char *s, size_t n);
void sb_puts(struct strbuf *sb, const char *s);
void sb_printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_free(struct strbuf *sb);

#endif
