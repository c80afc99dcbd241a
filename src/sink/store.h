/* SPDX-License-Identifier: MIT */
/* The local store of the agent: a directory of windows, each a directory
 * named by its start time (UTC, sortable: 20261129T113015Z-000123, the
 * suffix being the microseconds) holding what the agent wrote for it. A
 * window is written into a hidden temp directory (".tmp-NAME") and renamed
 * into place, so a crash never leaves a partial window; the next open
 * removes leftover temp directories. The store keeps at most max_bytes
 * (disk blocks) of windows, deleting the oldest first; every deletion is
 * counted. Nothing that is not a window of ours is ever deleted. */
#ifndef AP_STORE_H
#define AP_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AP_STORE_DEFAULT_DIR "/var/lib/autoprof-bpf"
#define AP_STORE_DEFAULT_MAX_MB 256
#define AP_STORE_NAME_LEN 24 /* "20261129T113015Z-000123" + NUL */

struct ap_store;

struct ap_store_stats {
	uint64_t windows;           /* windows in the store now */
	uint64_t bytes;             /* their disk usage now */
	uint64_t committed;         /* windows written by us */
	uint64_t evicted;           /* windows deleted (cap or full disk) */
	uint64_t evicted_bytes;     /* ... their disk usage */
	uint64_t dropped;           /* windows that could not be written */
	uint64_t enospc;            /* writes that found the disk full */
	uint64_t temp_removed;      /* leftover temp directories removed at open */
	uint64_t delete_failed;     /* windows that could not be deleted */
};

/* Open (creating it 0700 if missing, with the ap_dir_walk() rules: no
 * symlink followed unless root or the invoking user owns it) the store at
 * dir, lock it (flock: one writer; -EBUSY when another holds it), check
 * that it is writable, remove leftover temp directories and apply
 * max_bytes (0: no cap). 0 or -errno with one line printed ("store: DIR:
 * ..."); the agent exits 125 on it. */
int ap_store__open(const char *dir, uint64_t max_bytes, struct ap_store **out);
/* Start the window that began at start_real_ns (CLOCK_REALTIME): a fresh
 * hidden temp directory; *dirfd (owned by the store, valid until commit or
 * abort) is where its files go. 0 or -errno. */
int ap_store__begin(struct ap_store *s, uint64_t start_real_ns, int *dirfd);
/* fsync the window's files, rename it into place, fsync the store, then
 * delete the oldest windows while the store is over its cap. 0 or -errno
 * (the window is then aborted). */
int ap_store__commit(struct ap_store *s);
/* drop the window being written (its temp directory removed) */
void ap_store__abort(struct ap_store *s);
/* One window, all steps: begin, write(dirfd, ctx), commit. When the disk is
 * full (-ENOSPC, -EDQUOT), the oldest window is deleted and the window
 * written once more; when that fails too it is dropped (counted). 0 or the
 * -errno of the dropped window. */
int ap_store__write_window(struct ap_store *s, uint64_t start_real_ns,
			   int (*write)(int dirfd, void *ctx), void *ctx);
/* the name of the last committed window ("" none) */
const char *ap_store__last(const struct ap_store *s);
/* the store directory's fd (for listing; owned by the store) */
int ap_store__fd(const struct ap_store *s);
/* windows deleted to stay under max_bytes or to free a full disk */
uint64_t ap_store__evicted(const struct ap_store *s);
void ap_store__stats(const struct ap_store *s, struct ap_store_stats *out);
void ap_store__close(struct ap_store *s);

/* is name a window directory name of ours ("YYYYMMDDTHHMMSSZ-UUUUUU")? */
bool ap_store_is_window_name(const char *name);
/* the window name of a start time; buf >= AP_STORE_NAME_LEN */
void ap_store_window_name(uint64_t real_ns, char *buf, size_t len);
/* the start time a window name says (CLOCK_REALTIME ns); 0 or -EINVAL */
int ap_store_window_time(const char *name, uint64_t *real_ns);
/* The window names of the store directory fd, sorted oldest first, into
 * *names (caller frees each and the array); how many, or -errno. */
int ap_store_list(int fd, char ***names);

#endif
