// SPDX-License-Identifier: MIT
/* The output tree, safe beside other users: path walks that refuse planted
 * symlinks, the "empty or a finished run of ours" rule for reuse (--force
 * replaces a run as a whole), late creation and removal of what we made. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include "log.h"
#include "outdir.h"
#include "session.h"
#include "util.h"

/* Every file a run, `analyze` and `report` write. Keep in step with
 * write_outputs() (cmd_run.c), ap_analyze_dir() and formats[] (formats.c). */
static const char *const run_files[] = {
	"run.json", "findings.json", "report.md", "stacks.folded", "offcpu.folded",
	"report.html", "flame.svg", "profile.pb.gz", "speedscope.json", "trace.json",
	"memory.folded", "alloc.folded", "live.folded",
};
static const char *const artifact_files[] = {
	"cpu.json", "offcpu.json", "syscalls.json", "proc.json", "python_calls.json", "memory.json",
};

static bool in_list(const char *name, const char *const *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(name, list[i]))
			return true;
	return false;
}

/* a temp file of write_file_atomic_at(), left by a crash: ".NAME.tmpXXXXXX" */
static bool is_our_temp(const char *name, const char *const *list, size_t n)
{
	const char *t = strstr(name, ".tmp");
	char base[NAME_MAX + 1];

	if (name[0] != '.' || !t || strlen(t) != 10 || (size_t)(t - name - 1) >= sizeof(base))
		return false;
	snprintf(base, sizeof(base), "%.*s", (int)(t - name - 1), name + 1);
	return in_list(base, list, n);
}

/* next component of *todo (a malloc'd string consumed from the front) */
static char *next_comp(char **cur)
{
	char *s = *cur, *e;

	while (*s == '/')
		s++;
	if (!*s)
		return NULL;
	e = strchr(s, '/');
	if (e) {
		*e = 0;
		*cur = e + 1;
	} else {
		*cur = s + strlen(s);
	}
	return s;
}

int ap_dir_walk(const char *path, unsigned uid, bool create, struct ap_walk *w)
{
	char *todo, *cur, *c, shown[PATH_MAX] = "", target[PATH_MAX];
	int fd, nfd, lfd, links = 0, err;
	struct stat st;
	ssize_t n;
	bool made;

	memset(w, 0, sizeof(*w));
	if (!*path)
		return -ENOENT;
	todo = xstrdup(path);
	cur = todo;
	fd = open(path[0] == '/' ? "/" : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	if (path[0] == '/')
		strcpy(shown, "/");
	while ((c = next_comp(&cur))) {
		if (!strcmp(c, "."))
			continue;
		nfd = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nfd >= 0) {
			w->made_last = false;
			goto next;
		}
		err = -errno;
		if (err == -ENOENT && !create) {
			/* the rest, unconsumed, from c on */
			w->rest = *cur ? xasprintf("%s/%s", c, cur) : xstrdup(c);
			goto done;
		}
		if (err == -ENOENT) {
			if (w->nr_made == AP_WALK_MAX_MADE) {
				err = -ENAMETOOLONG;
				goto fail;
			}
			nfd = mkdir_at(fd, c, &made);
			if (nfd >= 0) {
				if (made) {
					w->made_parent[w->nr_made] = fcntl(fd, F_DUPFD_CLOEXEC, 0);
					w->made_name[w->nr_made++] = xstrdup(c);
				}
				w->made_last = made;
				goto next;
			}
			if (nfd != -ENOTDIR) {
				err = nfd;
				goto fail;
			}
			/* something appeared there meanwhile: judge it as if found */
			err = -ELOOP;
		}
		if (err != -ELOOP && err != -ENOTDIR)
			goto fail;
		/* the link itself, held: its owner and its text are of one inode,
		 * whatever is renamed over the name meanwhile */
		lfd = openat(fd, c, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (lfd < 0 || fstat(lfd, &st)) {
			err = -errno;
			if (lfd >= 0)
				close(lfd);
			goto fail;
		}
		if (!S_ISLNK(st.st_mode)) {
			close(lfd);
			err = -ENOTDIR;
			snprintf(target, sizeof(target), "%s%s%s", shown,
				 *shown && shown[strlen(shown) - 1] != '/' ? "/" : "", c);
			free(w->link);
			w->link = xstrdup(target);
			goto fail;
		}
		if (st.st_uid != 0 && st.st_uid != uid) {
			close(lfd);
			err = -EPERM;
			snprintf(target, sizeof(target), "%s%s%s", shown,
				 *shown && shown[strlen(shown) - 1] != '/' ? "/" : "", c);
			w->link = xstrdup(target);
			w->link_uid = st.st_uid;
			goto fail;
		}
		n = readlinkat(lfd, "", target, sizeof(target) - 1);
		if (n < 0)
			err = -errno;
		close(lfd);
		if (n < 0 || ++links > 40) {
			err = n < 0 ? err : -ELOOP;
			goto fail;
		}
		target[n] = 0;
		{
			char *rest = xasprintf("%s/%s", target, cur);

			free(todo);
			todo = cur = rest;
		}
		if (target[0] == '/') {
			close(fd);
			fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (fd < 0) {
				err = -errno;
				goto out;
			}
			strcpy(shown, "/");
		}
		w->made_last = false;
		continue;
next:
		close(fd);
		fd = nfd;
		snprintf(target, sizeof(target), "%s", shown);
		snprintf(shown, sizeof(shown), "%s%s%s", target,
			 *target && target[strlen(target) - 1] != '/' ? "/" : "", c);
	}
	if (!w->rest)
		w->rest = xstrdup("");
done:
	err = fd;
	fd = -1;
	goto out;
fail:
	if (fd >= 0)
		close(fd);
out:
	free(todo);
	return err;
}

void ap_walk_undo(struct ap_walk *w)
{
	while (w->nr_made > 0) {
		w->nr_made--;
		unlinkat(w->made_parent[w->nr_made], w->made_name[w->nr_made], AT_REMOVEDIR);
		close(w->made_parent[w->nr_made]);
		free(w->made_name[w->nr_made]);
	}
}

void ap_walk_free(struct ap_walk *w)
{
	int i;

	for (i = 0; i < w->nr_made; i++) {
		close(w->made_parent[i]);
		free(w->made_name[i]);
	}
	free(w->rest);
	free(w->link);
	memset(w, 0, sizeof(*w));
}

/* run.json of our schema (quietly: this only classifies) */
static bool has_run_json(int fd)
{
	char *text = read_file_at(fd, "run.json", O_NOFOLLOW, AP_READ_MAX, NULL);
	cJSON *root = text ? cJSON_Parse(text) : NULL;
	const char *schema = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "schema"));
	bool ok = schema && !strncmp(schema, "autoprof.run/", 13);

	cJSON_Delete(root);
	free(text);
	return ok;
}

/* 1 all entries are ours (*nr counts them), 0 one is not (*what) , -errno */
static int scan_dir(int fd, const char *const *list, size_t n, bool top, char *what, size_t len,
		    int *nr)
{
	int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0), ret = 1;
	struct dirent *de;
	struct stat st;
	DIR *d;

	if (dfd < 0)
		return -errno;
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return -errno;
	}
	rewinddir(d); /* the dup shares the offset of an earlier listing */
	while (ret == 1 && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		++*nr;
		if (top && !strcmp(de->d_name, "artifacts")) {
			int afd = openat(fd, "artifacts", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			int sub = 0;

			if (afd < 0) {
				snprintf(what, len, "artifacts (not a directory)");
				ret = 0;
				continue;
			}
			ret = scan_dir(afd, artifact_files, AP_ARRAY_SIZE(artifact_files), false,
				       what, len, &sub);
			close(afd);
			if (!ret)
				snprintf(what + strlen(what), len - strlen(what), " in artifacts/");
			continue;
		}
		if ((!in_list(de->d_name, list, n) && !is_our_temp(de->d_name, list, n)) ||
		    fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode)) {
			snprintf(what, len, "%s", de->d_name);
			ret = 0;
		}
	}
	closedir(d);
	return ret;
}

int ap_dir_classify(int fd, char *what, size_t len)
{
	int nr = 0, ret, afd;
	struct stat st;

	*what = 0;
	ret = scan_dir(fd, run_files, AP_ARRAY_SIZE(run_files), true, what, len, &nr);
	if (ret < 0)
		return ret;
	if (!ret)
		return AP_DIR_FOREIGN;
	if (!nr)
		return AP_DIR_EMPTY;
	afd = openat(fd, "artifacts", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	ret = afd >= 0 && !fstatat(afd, "cpu.json", &st, AT_SYMLINK_NOFOLLOW) &&
	      S_ISREG(st.st_mode) && has_run_json(fd);
	if (afd >= 0)
		close(afd);
	return ret ? AP_DIR_RUN : AP_DIR_OURS;
}

/* unlink our names (and their temp leftovers) in fd */
static int clear_names(int fd, const char *const *list, size_t n)
{
	int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0), err = 0;
	char **tmps = NULL;
	size_t i, nr = 0;
	struct dirent *de;
	DIR *d;

	for (i = 0; i < n; i++)
		if (unlinkat(fd, list[i], 0) && errno != ENOENT && !err)
			err = -errno;
	if (dfd < 0)
		return err ? err : -errno;
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return err ? err : -errno;
	}
	rewinddir(d); /* the dup shares the offset of an earlier listing */
	/* collected first: unlinking while reading a directory may skip entries */
	while ((de = readdir(d)))
		if (is_our_temp(de->d_name, list, n)) {
			tmps = xrealloc(tmps, (nr + 1) * sizeof(*tmps));
			tmps[nr++] = xstrdup(de->d_name);
		}
	closedir(d);
	for (i = 0; i < nr; i++) {
		if (unlinkat(fd, tmps[i], 0) && errno != ENOENT && !err)
			err = -errno;
		free(tmps[i]);
	}
	free(tmps);
	return err;
}

int ap_dir_clear(int fd)
{
	int afd = openat(fd, "artifacts", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int err = 0, e;

	if (afd >= 0) {
		err = clear_names(afd, artifact_files, AP_ARRAY_SIZE(artifact_files));
		close(afd);
		if (unlinkat(fd, "artifacts", AT_REMOVEDIR) && errno != ENOENT && !err)
			err = -errno;
	}
	e = clear_names(fd, run_files, AP_ARRAY_SIZE(run_files));
	return err ? err : e;
}

static void walk_error(const char *path, const struct ap_walk *w, int err)
{
	if (err == -EPERM && w->link)
		ap_err("output: %s is a symbolic link owned by uid %u, not by you or root: "
		       "refusing to follow it (choose another -o)", w->link, w->link_uid);
	else if (err == -ENOTDIR && w->link)
		ap_err("output: %s is not a directory", w->link);
	else
		ap_err("output: %s: %s", path, ap_errstr(err));
}

/* 0 usable (*fdp the deepest directory that exists, *restp what is missing
 * below it), 1 taken (a run, or anything else), or -exit code with a line
 * printed */
static int check_one(const char *path, unsigned uid, bool force, bool quiet_taken, int *fdp,
		     char **restp)
{
	struct ap_walk w;
	char what[NAME_MAX + 32], *probe;
	int fd, kind, ret = 0;

	fd = ap_dir_walk(path, uid, false, &w);
	if (fd < 0) {
		walk_error(path, &w, fd);
		ap_walk_free(&w);
		return -AP_EXIT_FAILED;
	}
	/* root passes every permission check but a read-only file system's, and
	 * /proc or /sys refuse only the create itself: so try one, gone at once */
	probe = xasprintf(".autoprof-probe-%d-%llx", (int)getpid(),
			  (unsigned long long)(now_real_ns() & 0xffffffffff));
	if (mkdirat(fd, probe, 0700) || unlinkat(fd, probe, AT_REMOVEDIR)) {
		ap_err("output: %s is not writable: %s", path, ap_errstr(-errno));
		ret = -AP_EXIT_FAILED;
	} else if (!*w.rest) {
		kind = ap_dir_classify(fd, what, sizeof(what));
		if (kind < 0) {
			ap_err("output: %s: cannot list it: %s", path, ap_errstr(kind));
			ret = -AP_EXIT_FAILED;
		} else if (kind != AP_DIR_EMPTY && quiet_taken) {
			ret = 1;
		} else if (kind == AP_DIR_FOREIGN) {
			ap_err("output: %s holds files that are not from autoprof-bpf (%s): "
			       "choose an empty or new directory", path, what);
			ret = -AP_EXIT_USAGE;
		} else if (kind != AP_DIR_EMPTY && !force) {
			ap_err("output: %s already holds %s: add --force to replace it, or choose "
			       "another -o", path, kind == AP_DIR_RUN ? "a run" : "an unfinished run");
			ret = -AP_EXIT_USAGE;
		}
	}
	free(probe);
	if (!ret) {
		*fdp = fd;
		*restp = w.rest;
		w.rest = NULL;
	} else {
		close(fd);
	}
	ap_walk_free(&w);
	return ret;
}

int ap_outdir__check(struct ap_outdir *out, bool force, bool pick_free)
{
	char *alt, *rest = NULL;
	int i, ret, fd = -1;

	ret = check_one(out->path, out->uid, force, pick_free, &fd, &rest);
	/* two runs of one command in the same second: a fresh name, never a merge */
	for (i = 2; ret == 1 && i < 100; i++) {
		alt = xasprintf("%s-%d", out->path, i);
		ret = check_one(alt, out->uid, force, true, &fd, &rest);
		if (ret) {
			free(alt);
			continue;
		}
		free(out->path);
		out->path = alt;
	}
	if (ret == 1) {
		ap_err("output: %s and 98 variants are taken: choose -o", out->path);
		ret = -AP_EXIT_FAILED;
	}
	if (!ret) {
		out->base = fd;
		out->rest = rest;
	}
	return ret;
}

/* Make the missing tail rest below base, the deepest directory that existed
 * at the check: one component at a time, never through a symlink. The
 * target ran as the user meanwhile, so a link "owned by the user" there may
 * be its own; nothing that appeared on that path is followed, and the run
 * lands below the very directory that was checked. The fd, or -errno
 * (-ENOTDIR: w->link names the component that is no directory). */
static int create_below(int base, const char *rest, struct ap_walk *w)
{
	char *todo = xstrdup(rest), *cur = todo, *c;
	int fd, nfd, err;
	bool made;

	memset(w, 0, sizeof(*w));
	fd = fcntl(base, F_DUPFD_CLOEXEC, 0);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	while ((c = next_comp(&cur))) {
		if (!strcmp(c, "."))
			continue;
		if (w->nr_made == AP_WALK_MAX_MADE) {
			err = -ENAMETOOLONG;
			goto fail;
		}
		nfd = mkdir_at(fd, c, &made);
		if (nfd < 0) {
			err = nfd;
			if (err == -ENOTDIR)
				w->link = xstrdup(c);
			goto fail;
		}
		if (made) {
			w->made_parent[w->nr_made] = fcntl(fd, F_DUPFD_CLOEXEC, 0);
			w->made_name[w->nr_made++] = xstrdup(c);
		}
		w->made_last = made;
		close(fd);
		fd = nfd;
	}
	err = fd;
	fd = -1;
	goto out;
fail:
	close(fd);
out:
	free(todo);
	return err;
}

/* the name of directory fd in its parent (found by inode: the path may have
 * reached it through a link); the parent's fd and the name, or -errno */
static int name_in_parent(int fd, char **name)
{
	struct stat st, e;
	struct dirent *de;
	int pfd, dfd;
	DIR *d;

	*name = NULL;
	if (fstat(fd, &st))
		return -errno;
	pfd = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0)
		return -errno;
	dfd = fcntl(pfd, F_DUPFD_CLOEXEC, 0);
	d = dfd < 0 ? NULL : fdopendir(dfd);
	if (!d) {
		if (dfd >= 0)
			close(dfd);
		close(pfd);
		return -ENOENT;
	}
	while (!*name && (de = readdir(d)))
		if (de->d_ino == st.st_ino && strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    !fstatat(pfd, de->d_name, &e, AT_SYMLINK_NOFOLLOW) && e.st_dev == st.st_dev &&
		    e.st_ino == st.st_ino)
			*name = xstrdup(de->d_name);
	closedir(d);
	if (!*name) {
		close(pfd);
		return -ENOENT;
	}
	return pfd;
}

/* --force over a run: a fresh sibling directory for the new one; 0, 1 to
 * clear the old run in place instead, or -errno */
static int replace_begin(struct ap_outdir *out, int old)
{
	struct stat pst, ost;
	bool made;
	int pfd, nfd;

	pfd = name_in_parent(old, &out->name);
	if (pfd < 0)
		return pfd;
	/* only where the user could have renamed it: their own directory or a
	 * sticky world-writable one (/tmp) holding their run; elsewhere the old
	 * run is cleared in place as before (nothing made in another's directory) */
	if (out->uid != 0 && (fstat(pfd, &pst) || fstat(old, &ost) ||
			      !(pst.st_uid == out->uid ||
				((pst.st_mode & (S_IWOTH | S_ISVTX)) == (S_IWOTH | S_ISVTX) &&
				 ost.st_uid == out->uid)))) {
		close(pfd);
		free(out->name);
		out->name = NULL;
		return 1;
	}
	out->tmp_name = xasprintf(".autoprof-new-%d-%llx", (int)getpid(),
				  (unsigned long long)(now_real_ns() & 0xffffffffff));
	nfd = mkdir_at(pfd, out->tmp_name, &made);
	if (nfd >= 0 && !made) { /* not ours: leave it */
		close(nfd);
		nfd = -EEXIST;
	}
	if (nfd < 0) {
		close(pfd);
		free(out->name);
		free(out->tmp_name);
		out->name = out->tmp_name = NULL;
		return nfd;
	}
	out->parent = pfd;
	out->old_fd = old;
	out->fd = nfd;
	return 0;
}

static void replace_end(struct ap_outdir *out)
{
	if (out->old_fd >= 0)
		close(out->old_fd);
	if (out->parent >= 0)
		close(out->parent);
	free(out->name);
	free(out->tmp_name);
	out->name = out->tmp_name = NULL;
	out->old_fd = out->parent = -1;
}

int ap_outdir__create(struct ap_outdir *out, bool force)
{
	char what[NAME_MAX + 32];
	int fd, kind, err;

	fd = create_below(out->base, out->rest ? out->rest : "", &out->made);
	if (fd < 0) {
		if (fd == -ENOTDIR && out->made.link)
			ap_err("output: %s changed during the run: %s is now a symbolic link or not "
			       "a directory; refusing to write through it", out->path,
			       out->made.link);
		else
			ap_err("output: %s: %s", out->path, ap_errstr(fd));
		ap_walk_undo(&out->made);
		return fd;
	}
	out->existed = !out->made.made_last;
	if (out->existed) {
		/* checked at the start; checked again, as it may have changed since */
		kind = ap_dir_classify(fd, what, sizeof(what));
		err = kind < 0 ? kind : 0;
		if (!err && kind == AP_DIR_FOREIGN)
			err = -ENOTEMPTY;
		if (!err && kind != AP_DIR_EMPTY && !force)
			err = -EEXIST;
		if (err) {
			ap_err("output: %s changed since the start and is no longer empty: %s",
			       out->path, ap_errstr(err));
			close(fd);
			return err;
		}
		/* replace as a whole, and only once the new run is complete: it is
		 * written beside the old one, which ap_outdir__commit() swaps out */
		if (kind != AP_DIR_EMPTY) {
			err = replace_begin(out, fd);
			if (err == 1)
				err = ap_dir_clear(fd);
			else if (!err)
				return 0;
			if (err) {
				ap_err("output: %s: cannot replace the run there: %s", out->path,
				       ap_errstr(err));
				close(fd);
				return err;
			}
		}
	}
	out->fd = fd;
	return 0;
}

int ap_outdir__commit(struct ap_outdir *out)
{
	int err = 0;

	if (out->old_fd < 0)
		return 0;
	/* one step: the old run or the new one is at the name, never neither */
	if (renameat2(out->parent, out->tmp_name, out->parent, out->name, RENAME_EXCHANGE)) {
		err = -errno;
		if (err != -EINVAL && err != -ENOSYS)
			goto fail;
		/* a file system without the exchange: an empty directory is replaced */
		err = ap_dir_clear(out->old_fd);
		if (!err && renameat(out->parent, out->tmp_name, out->parent, out->name))
			err = -errno;
		if (err)
			goto fail;
	} else if (ap_dir_clear(out->old_fd) || /* now at tmp_name */
		   unlinkat(out->parent, out->tmp_name, AT_REMOVEDIR)) {
		ap_warn("output: %s is the new run; the one it replaced could not be removed "
			"entirely from %s beside it", out->path, out->tmp_name);
	}
	replace_end(out);
	return 0;
fail:
	ap_err("output: %s: cannot put the new run in place of the old one: %s", out->path,
	       ap_errstr(err));
	return err;
}

void ap_outdir__abandon(struct ap_outdir *out)
{
	if (out->fd < 0)
		return;
	ap_dir_clear(out->fd);
	if (out->old_fd >= 0) { /* the old run stays as it was */
		unlinkat(out->parent, out->tmp_name, AT_REMOVEDIR);
		replace_end(out);
	}
	ap_walk_undo(&out->made);
	close(out->fd);
	out->fd = -1;
}

void ap_outdir__free(struct ap_outdir *out)
{
	if (!out)
		return;
	if (out->fd >= 0)
		close(out->fd);
	if (out->base >= 0)
		close(out->base);
	replace_end(out);
	ap_walk_free(&out->made);
	free(out->rest);
	free(out->path);
	free(out);
}

int ap_run_dir_open(const char *path, unsigned uid)
{
	struct ap_walk w;
	int fd;

	fd = ap_dir_walk(path, uid, false, &w);
	if (fd < 0) {
		walk_error(path, &w, fd);
	} else if (*w.rest) {
		close(fd);
		fd = -ENOENT;
		ap_err("%s: no such directory", path);
	}
	ap_walk_free(&w);
	return fd;
}
