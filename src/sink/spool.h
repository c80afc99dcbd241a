/* SPDX-License-Identifier: MIT */
/* The on-disk spool of one push sink (STORE/.spool/NAME, 0700): one file
 * per HTTP request still to send, oldest first. An entry is written to a
 * temp file and renamed into place (made durable by ap_spool__sync(),
 * once a window), named by a sequence number
 * that keeps increasing across restarts (the larger of the last one + 1
 * and the wall clock in microseconds), so a restart resumes the spool in
 * order. Over max_bytes (or AP_SPOOL_ENTRIES_MAX entries) the oldest are
 * deleted and counted. Bodies are read one entry at a time; in memory the
 * spool keeps only (sequence, size) per entry, 16 bytes, capped.
 *
 * Thread-safe: the agent's loop thread puts, the sink's sender thread
 * takes and removes. */
#ifndef AP_SPOOL_H
#define AP_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AP_SPOOL_ENTRIES_MAX 65536
#define AP_SPOOL_ENTRY_MAX (256u << 20) /* a body larger than this is refused */
#define AP_SPOOL_HEADER_MAX 8192        /* the entry's header lines */
#define AP_SPOOL_IDENT_LEN 16           /* hex digits naming an entry's endpoint */

struct ap_spool;

/* one request, as spooled */
struct ap_spool_entry {
	uint64_t seq;
	uint64_t start_ns;      /* the window's start (CLOCK_REALTIME) */
	char *path;             /* path and query, appended to the sink's URL */
	char *ctype;            /* Content-Type */
	char *cenc;             /* Content-Encoding, "" none */
	void *body;             /* points into file */
	size_t len;
	char *file;             /* the entry's file as read */
	uint64_t file_bytes;    /* the file's size */
};

struct ap_spool_stats {
	uint64_t entries, bytes;        /* in the spool now */
	uint64_t put;                   /* entries written */
	uint64_t put_failed;            /* entries that could not be written */
	uint64_t dropped, dropped_bytes;/* oldest deleted over the caps */
	uint64_t resumed;               /* entries found at open */
	uint64_t bad;                   /* unreadable entries removed */
	uint64_t foreign;               /* entries for another endpoint, deleted at open */
	uint64_t syncs;                 /* ap_spool__sync() calls that synced */
};

/* Open (create) store_fd/.spool/name, 0700, never following a symlink and
 * refusing a directory another user owns; resume the entries found.
 * ident (AP_SPOOL_IDENT_LEN hex digits, or NULL) names the endpoint: it
 * is written into each entry, and entries found with another one are
 * deleted (counted in foreign, one line printed). 0 or -errno (one line
 * printed: "spool: NAME: ..."). */
int ap_spool__open(int store_fd, const char *name, uint64_t max_bytes, const char *ident,
		   struct ap_spool **out);
/* Write one entry (the newest, renamed into place but not yet synced:
 * ap_spool__sync()), then delete the oldest while over the caps. 0 or
 * -errno (counted in put_failed). */
int ap_spool__put(struct ap_spool *s, const char *path, const char *ctype, const char *cenc,
		  uint64_t start_ns, const void *body, size_t len);
/* Make the entries put so far durable: one syncfs() of the spool's file
 * system (a no-op when nothing was put since the last call). Called once
 * per window by the agent's loop, after all of its entries. 0 or -errno. */
int ap_spool__sync(struct ap_spool *s);
/* Read the oldest entry into *e (free with ap_spool_entry_free). 0,
 * -ENOENT when the spool is empty, or -errno (another error reading it,
 * e.g. -EIO, -ENOMEM, -EISDIR: e->seq is the entry's, nothing else is
 * set). An entry that cannot be parsed is deleted (counted in bad) and
 * the next one read. */
int ap_spool__peek(struct ap_spool *s, struct ap_spool_entry *e);
/* Delete entry seq as unreadable, counted in bad */
void ap_spool__remove_bad(struct ap_spool *s, uint64_t seq);
/* Delete entry seq (sent, or refused for good); a no-op when it was
 * dropped meanwhile. */
void ap_spool__remove(struct ap_spool *s, uint64_t seq);
void ap_spool__stats(struct ap_spool *s, struct ap_spool_stats *out);
void ap_spool__close(struct ap_spool *s);
void ap_spool_entry_free(struct ap_spool_entry *e);

#endif
