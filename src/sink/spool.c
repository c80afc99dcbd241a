// SPDX-License-Identifier: MIT
/* The push sinks' on-disk spool (spool.h). An entry is a small text header
 * (what the sender needs to rebuild the request) then the body:
 *
 *   AUTOPROF-SPOOL 1\n [sink ID\n] path P\n type T\n encoding E\n start NS\n length N\n \n BODY
 *
 * ID (AP_SPOOL_IDENT_LEN hex digits) names the endpoint the entry is for;
 * entries written before it existed have no such line and are kept.
 *
 * Files are opened relative to the spool's directory fd with O_NOFOLLOW;
 * only names of ours (20 digits, or ".tmp-" and 20 digits) are ever
 * deleted. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "log.h"
#include "sink/spool.h"
#include "util.h"

#define SEQ_DIGITS 20
#define TMP_PREFIX ".tmp-"
#define MAGIC "AUTOPROF-SPOOL 1\n"

struct spool_ent {
	uint64_t seq, bytes;
};

struct ap_spool {
	char *name;
	char ident[AP_SPOOL_IDENT_LEN + 1];    /* "" none */
	int fd;
	uint64_t max_bytes;
	pthread_mutex_t mu;
	struct spool_ent *ents; /* ents[first .. first + nr): oldest first */
	size_t first, nr, cap;
	uint64_t last_seq;
	bool dirty;             /* entries put since the last ap_spool__sync() */
	struct ap_spool_stats st;
};

static bool is_seq_name(const char *s)
{
	size_t i;

	for (i = 0; i < SEQ_DIGITS; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return !s[SEQ_DIGITS];
}

static void seq_name(uint64_t seq, char *buf, size_t len)
{
	snprintf(buf, len, "%0*llu", SEQ_DIGITS, (unsigned long long)seq);
}

static int cmp_ent(const void *a, const void *b)
{
	const struct spool_ent *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* append at the newest end; the caller holds mu */
static void push_ent(struct ap_spool *s, uint64_t seq, uint64_t bytes)
{
	if (s->first + s->nr == s->cap && s->first) {
		memmove(s->ents, s->ents + s->first, s->nr * sizeof(*s->ents));
		s->first = 0;
	}
	GROW(s->ents, s->cap, s->first + s->nr + 1);
	s->ents[s->first + s->nr++] = (struct spool_ent){ seq, bytes };
	s->st.entries++;
	s->st.bytes += bytes;
}

/* delete the oldest entry; the caller holds mu */
static void drop_oldest(struct ap_spool *s, bool counted)
{
	struct spool_ent *e = &s->ents[s->first];
	char name[32];

	seq_name(e->seq, name, sizeof(name));
	if (unlinkat(s->fd, name, 0) && errno != ENOENT)
		ap_warn("spool: %s: deleting %s: %s", s->name, name, ap_errstr(-errno));
	if (counted) {
		s->st.dropped++;
		s->st.dropped_bytes += e->bytes;
	}
	s->st.entries--;
	s->st.bytes -= e->bytes;
	s->first++;
	s->nr--;
	if (!s->nr)
		s->first = 0;
}

/* over the caps: the oldest go, but the newest entry is always kept */
static void apply_caps(struct ap_spool *s)
{
	while (s->nr > 1 && (s->st.bytes > s->max_bytes || s->nr > AP_SPOOL_ENTRIES_MAX))
		drop_oldest(s, true);
}

/* Is entry name for another endpoint (its sink line names another ID)?
 * Only the first bytes are read. An entry without the line, or one that
 * cannot be read, is left to peek. */
static bool foreign_entry(struct ap_spool *s, const char *name)
{
	char buf[64], want[64];
	ssize_t n;
	int fd;

	if (!*s->ident)
		return false;
	fd = openat(s->fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	snprintf(want, sizeof(want), MAGIC "sink %s\n", s->ident);
	return !strncmp(buf, MAGIC "sink ", strlen(MAGIC) + 5) && strncmp(buf, want, strlen(want));
}

/* the oldest deleted down to AP_SPOOL_ENTRIES_MAX during the scan; the
 * caller holds what the scan found in ents[0 .. nr) */
static void trim_scanned(struct ap_spool *s)
{
	qsort(s->ents, s->nr, sizeof(*s->ents), cmp_ent);
	while (s->nr > AP_SPOOL_ENTRIES_MAX)
		drop_oldest(s, true);
	memmove(s->ents, s->ents + s->first, s->nr * sizeof(*s->ents));
	s->first = 0;
}

/* the entries of the directory, sorted; leftover temp files removed */
static int scan(struct ap_spool *s)
{
	struct dirent *de;
	struct stat st;
	int dfd, err = 0;
	DIR *d;

	dfd = openat(s->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	d = fdopendir(dfd);
	if (!d) {
		err = -errno;
		close(dfd);
		return err;
	}
	while ((de = readdir(d))) {
		bool tmp = !strncmp(de->d_name, TMP_PREFIX, strlen(TMP_PREFIX));
		const char *n = tmp ? de->d_name + strlen(TMP_PREFIX) : de->d_name;

		if (!is_seq_name(n) || fstatat(s->fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) ||
		    !S_ISREG(st.st_mode))
			continue;
		if (tmp) {
			unlinkat(s->fd, de->d_name, 0);
			continue;
		}
		if (foreign_entry(s, de->d_name)) {
			if (!unlinkat(s->fd, de->d_name, 0))
				s->st.foreign++;
			continue;
		}
		GROW(s->ents, s->cap, s->nr + 1);
		s->ents[s->nr++] = (struct spool_ent){ strtoull(n, NULL, 10), st.st_size };
		s->st.entries++;
		s->st.bytes += st.st_size;
		/* capped while scanning: memory stays under twice the cap's
		 * (16 bytes an entry) whatever the directory holds */
		if (s->nr >= 2 * AP_SPOOL_ENTRIES_MAX)
			trim_scanned(s);
	}
	closedir(d);
	if (s->nr)
		qsort(s->ents, s->nr, sizeof(*s->ents), cmp_ent);
	s->last_seq = s->nr ? s->ents[s->nr - 1].seq : 0;
	s->st.resumed = s->nr;
	return 0;
}

/* store_fd/.spool/name: ours, 0700 */
static int open_dir(int parent, const char *name)
{
	struct stat st;
	bool made;
	int fd = mkdir_at(parent, name, &made);

	if (fd < 0)
		return fd;
	if (fstat(fd, &st) || st.st_uid != geteuid()) {
		close(fd);
		return -EPERM;
	}
	if ((st.st_mode & 07777) != 0700 && fchmod(fd, 0700)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int ap_spool__open(int store_fd, const char *name, uint64_t max_bytes, const char *ident,
		   struct ap_spool **out)
{
	struct ap_spool *s = xcalloc(1, sizeof(*s));
	int top, err;

	*out = NULL;
	s->name = xstrdup(name);
	s->fd = -1;
	s->max_bytes = max_bytes;
	snprintf(s->ident, sizeof(s->ident), "%s", ident ? ident : "");
	pthread_mutex_init(&s->mu, NULL);
	top = open_dir(store_fd, ".spool");
	if (top < 0) {
		err = top;
		ap_err("spool: %s: the store's .spool directory: %s%s", name, ap_errstr(err),
		       err == -ENOTDIR ? " (a symlink or not a directory)" :
		       err == -EPERM ? " (owned by another user)" : "");
		goto err_out;
	}
	s->fd = open_dir(top, name);
	close(top);
	if (s->fd < 0) {
		err = s->fd;
		ap_err("spool: %s: .spool/%s: %s%s", name, name, ap_errstr(err),
		       err == -ENOTDIR ? " (a symlink or not a directory)" :
		       err == -EPERM ? " (owned by another user)" : "");
		goto err_out;
	}
	err = scan(s);
	if (err) {
		ap_err("spool: %s: listing .spool/%s: %s", name, name, ap_errstr(err));
		goto err_out;
	}
	if (s->st.foreign)
		ap_warn("spool: %s: %llu entries were for another URL or tenant: deleted", name,
			(unsigned long long)s->st.foreign);
	apply_caps(s);
	*out = s;
	return 0;

err_out:
	ap_spool__close(s);
	return err;
}

static bool one_line(const char *s)
{
	return !strpbrk(s, "\r\n");
}

int ap_spool__put(struct ap_spool *s, const char *path, const char *ctype, const char *cenc,
		  uint64_t start_ns, const void *body, size_t len)
{
	char name[32], tmp[40];
	struct strbuf h = { 0 };
	uint64_t seq, now = now_real_ns() / 1000;
	struct stat st;
	int fd = -1, err;

	if (!one_line(path) || !one_line(ctype) || !one_line(cenc) || len > AP_SPOOL_ENTRY_MAX) {
		err = -EINVAL;
		goto out;
	}
	pthread_mutex_lock(&s->mu);
	seq = s->last_seq = s->last_seq + 1 > now ? s->last_seq + 1 : now;
	pthread_mutex_unlock(&s->mu);
	seq_name(seq, name, sizeof(name));
	snprintf(tmp, sizeof(tmp), TMP_PREFIX "%s", name);
	sb_puts(&h, MAGIC);
	if (*s->ident)
		sb_printf(&h, "sink %s\n", s->ident);
	sb_printf(&h, "path %s\ntype %s\nencoding %s\nstart %llu\nlength %zu\n\n", path, ctype,
		  cenc, (unsigned long long)start_ns, len);
	fd = openat(s->fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	/* no fsync here: ap_spool__sync() makes a window's entries durable
	 * at once (one call, not two a request on the agent's loop) */
	err = ap_write_all(fd, h.buf, h.len);
	if (!err)
		err = ap_write_all(fd, body, len);
	if (!err && fstat(fd, &st))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	if (!err && renameat(s->fd, tmp, s->fd, name))
		err = -errno;
	if (err) {
		unlinkat(s->fd, tmp, 0);
		goto out;
	}
	pthread_mutex_lock(&s->mu);
	push_ent(s, seq, st.st_size);
	s->st.put++;
	s->dirty = true;
	apply_caps(s);
	pthread_mutex_unlock(&s->mu);
out:
	if (err) {
		pthread_mutex_lock(&s->mu);
		s->st.put_failed++;
		pthread_mutex_unlock(&s->mu);
	}
	sb_free(&h);
	return err;
}

/* One syncfs() of the spool's file system: the entries' data and their
 * names (the renames) reach the disk together, once a window instead of
 * a file fsync and a directory fsync per request. What a crash before it
 * can lose: the entries put since the last sync. They are then absent, or
 * present with a short or empty body; the header's length no longer
 * matches, so peek deletes them as bad (counted). A temp file is never
 * taken for an entry: only complete files are renamed into place, and
 * leftover temp names are deleted at open. */
int ap_spool__sync(struct ap_spool *s)
{
	bool dirty;

	pthread_mutex_lock(&s->mu);
	dirty = s->dirty;
	s->dirty = false;
	if (dirty)
		s->st.syncs++;
	pthread_mutex_unlock(&s->mu);
	/* outside mu: the sender peeks meanwhile */
	return dirty && syncfs(s->fd) ? -errno : 0;
}

void ap_spool_entry_free(struct ap_spool_entry *e)
{
	if (!e)
		return;
	free(e->path);
	free(e->ctype);
	free(e->cenc);
	free(e->file);
	memset(e, 0, sizeof(*e));
}

/* "key VALUE\n" at *p: VALUE copied; false when the line is not that */
static bool header_line(char **p, const char *key, char **val)
{
	size_t kl = strlen(key);
	char *nl;

	if (strncmp(*p, key, kl) || (*p)[kl] != ' ' || !(nl = strchr(*p, '\n')))
		return false;
	*val = strndup(*p + kl + 1, nl - (*p + kl + 1));
	*p = nl + 1;
	return *val != NULL;
}

/* parse a whole entry file (buf, len, NUL-terminated) into e; 0 or -EBADMSG */
static int parse_entry(char *buf, size_t len, struct ap_spool_entry *e)
{
	char *p = buf, *start = NULL, *length = NULL, *end;
	unsigned long long v, n;
	int err = -EBADMSG;

	if (strncmp(p, MAGIC, strlen(MAGIC)))
		return err;
	p += strlen(MAGIC);
	if (!strncmp(p, "sink ", 5)) { /* checked at open */
		if (!(p = strchr(p, '\n')))
			return err;
		p++;
	}
	if (!header_line(&p, "path", &e->path) || !header_line(&p, "type", &e->ctype) ||
	    !header_line(&p, "encoding", &e->cenc) || !header_line(&p, "start", &start) ||
	    !header_line(&p, "length", &length) || *p != '\n')
		goto out;
	p++;
	errno = 0;
	v = strtoull(start, &end, 10);
	if (errno || *end || !*start)
		goto out;
	n = strtoull(length, &end, 10);
	if (errno || *end || !*length || n != (unsigned long long)(buf + len - p))
		goto out;
	e->start_ns = v;
	e->len = n;
	e->body = p; /* into the file's buffer: one copy of the entry in memory */
	err = 0;
out:
	free(start);
	free(length);
	return err;
}

int ap_spool__peek(struct ap_spool *s, struct ap_spool_entry *e)
{
	char name[32];
	uint64_t seq;
	size_t len;
	char *buf;
	int err;

	memset(e, 0, sizeof(*e));
	for (;;) {
		pthread_mutex_lock(&s->mu);
		if (!s->nr) {
			pthread_mutex_unlock(&s->mu);
			return -ENOENT;
		}
		seq = s->ents[s->first].seq;
		e->file_bytes = s->ents[s->first].bytes;
		pthread_mutex_unlock(&s->mu);
		seq_name(seq, name, sizeof(name));
		buf = read_file_at(s->fd, name, O_NOFOLLOW,
				   AP_SPOOL_ENTRY_MAX + AP_SPOOL_HEADER_MAX, &len);
		if (!buf && errno == ENOENT) {  /* dropped meanwhile, or removed by hand */
			ap_spool__remove(s, seq);
			continue;
		}
		err = buf ? parse_entry(buf, len, e) : -errno;
		if (!err) {
			e->seq = seq;
			e->file = buf;
			return 0;
		}
		free(buf);
		ap_spool_entry_free(e);
		if (err != -EBADMSG && err != -EFBIG && err != -EINVAL && err != -ELOOP) {
			e->seq = seq; /* e.g. -EIO, -ENOMEM: the caller decides */
			return err;
		}
		ap_warn("spool: %s: %s: not a spool entry: deleted", s->name, name);
		ap_spool__remove_bad(s, seq);
	}
}

void ap_spool__remove_bad(struct ap_spool *s, uint64_t seq)
{
	pthread_mutex_lock(&s->mu);
	s->st.bad++;
	pthread_mutex_unlock(&s->mu);
	ap_spool__remove(s, seq);
}

void ap_spool__remove(struct ap_spool *s, uint64_t seq)
{
	size_t i;

	pthread_mutex_lock(&s->mu);
	for (i = 0; i < s->nr && s->ents[s->first + i].seq != seq; i++)
		;
	if (i == 0 && s->nr) {
		drop_oldest(s, false);
	} else if (i < s->nr) { /* not the oldest: not expected, handled anyway */
		struct spool_ent *e = &s->ents[s->first + i];
		char name[32];

		seq_name(seq, name, sizeof(name));
		unlinkat(s->fd, name, 0);
		s->st.entries--;
		s->st.bytes -= e->bytes;
		memmove(e, e + 1, (s->nr - i - 1) * sizeof(*e));
		s->nr--;
	}
	pthread_mutex_unlock(&s->mu);
}

void ap_spool__stats(struct ap_spool *s, struct ap_spool_stats *out)
{
	pthread_mutex_lock(&s->mu);
	*out = s->st;
	pthread_mutex_unlock(&s->mu);
}

void ap_spool__close(struct ap_spool *s)
{
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	pthread_mutex_destroy(&s->mu);
	free(s->ents);
	free(s->name);
	free(s);
}
