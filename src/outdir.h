/* SPDX-License-Identifier: MIT */
/* The output tree: opened component by component without following a
 * symlink another user could have planted, checked to be empty or a finished
 * run of ours, created only when there is something to write, and removed
 * again (only what we made) when a run cannot be completed. */
#ifndef AP_OUTDIR_H
#define AP_OUTDIR_H

#include <stdbool.h>
#include <stddef.h>

#define AP_WALK_MAX_MADE 32

struct ap_walk {
	char *rest;             /* without create: the missing tail ("" when all exists) */
	char *link;             /* -EPERM: the symlink refused, as walked */
	unsigned link_uid;      /* ... and its owner */
	bool made_last;         /* create: the final directory is new */
	int nr_made;            /* create: directories we made, outermost first */
	int made_parent[AP_WALK_MAX_MADE];
	char *made_name[AP_WALK_MAX_MADE];
};

/* Open directory path ("/"-rooted or from the cwd) one component at a time
 * with O_NOFOLLOW. A symlink is followed only when root or uid owns it (as
 * fs.protected_symlinks would: anybody else could have planted it). Without
 * create, stops at the first missing component and returns the deepest
 * directory that exists, w->rest naming what is missing. With create, makes
 * the missing directories (umask, chowned to the output owner). The fd, or
 * -errno: -EPERM a refused symlink (w->link), -ENOTDIR, -ELOOP ... Free w
 * with ap_walk_free() either way. */
int ap_dir_walk(const char *path, unsigned uid, bool create, struct ap_walk *w);
/* remove the directories ap_dir_walk made, innermost first (only if empty) */
void ap_walk_undo(struct ap_walk *w);
void ap_walk_free(struct ap_walk *w);

enum ap_dir_kind {
	AP_DIR_EMPTY,
	AP_DIR_RUN,             /* a finished run: run.json of our schema, artifacts/cpu.json */
	AP_DIR_OURS,            /* only names we write, but not a finished run */
	AP_DIR_FOREIGN,         /* something we did not write (*what names it) */
};
/* what the directory fd holds; enum ap_dir_kind or -errno */
int ap_dir_classify(int fd, char *what, size_t len);
/* remove every file a run writes (and artifacts/) from the directory fd,
 * nothing else; 0 or the first -errno */
int ap_dir_clear(int fd);

/* the output directory of `run` */
struct ap_outdir {
	char *path;             /* for messages */
	unsigned uid;           /* the invoking user: whose symlinks we follow */
	int base;               /* the deepest directory that existed at the check, else -1 */
	char *rest;             /* ... and the path below it still to be made ("" none) */
	int fd;                 /* the run directory once created, else -1 */
	/* --force over a run: the new one goes to parent/tmp_name until
	 * ap_outdir__commit() swaps it with parent/name (old_fd); else -1 */
	int parent, old_fd;
	char *name, *tmp_name;
	struct ap_walk made;    /* what ap_outdir__create made */
	bool existed;           /* the run directory existed before us */
};

/* Check out->path (for out->uid) before anything is loaded: a refused
 * symlink, a file, a directory we cannot write -> 125; a non-empty
 * directory that is not a finished run, or one that is without force -> 2
 * (usage). With pick_free, path is a default name and "-2", "-3" ... are
 * tried when it is taken. One line printed. 0 or -exit code; out->path may
 * be replaced; out->base and out->rest keep what was checked. */
int ap_outdir__check(struct ap_outdir *out, bool force, bool pick_free);
/* create (or reuse, clearing an earlier run with force) the directory below
 * out->base, never by its name again (the target may have planted links on
 * it meanwhile), and open it into out->fd; 0 or -errno with a line printed */
int ap_outdir__create(struct ap_outdir *out, bool force);
/* the run's files are all written: with --force over an earlier run, put
 * the new one in its place (one rename) and remove the old; 0 or -errno
 * with a line printed (the old run is then still there) */
int ap_outdir__commit(struct ap_outdir *out);
/* a run could not be completed: remove what we wrote and what we made (an
 * earlier run that --force was to replace stays) */
void ap_outdir__abandon(struct ap_outdir *out);
void ap_outdir__free(struct ap_outdir *out);

/* analyze/report: open an existing run directory for uid (symlinks as
 * above); the fd or -errno with a line printed */
int ap_run_dir_open(const char *path, unsigned uid);

#endif
