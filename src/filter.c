// SPDX-License-Identifier: MIT
/* The system-wide filters: parsing and checking the options (one clear
 * line and exit 2 on bad input), and loading them into the BPF maps of
 * bpf/filter.bpf.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "shared.h"
#include "autoprof.skel.h"
#include "filter.h"
#include "log.h"
#include "util.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

const char ap_filter_usage[] =
"      --comm NAME          only tasks named NAME (the thread's or its process's\n"
"                           name, at most 15 bytes, as in /proc/PID/comm)\n"
"      --cgroup PATH        only tasks in the cgroup v2 directory PATH or below it\n"
"                           (a path under the cgroup2 mount, or as /proc/PID/cgroup\n"
"                           shows it: /system.slice/nginx.service)\n"
"      --exclude-pid PID[,PID...], --exclude-comm NAME, --exclude-cgroup PATH\n"
"                           leave these out (an exclusion wins over any include)\n"
"                           Each filter option repeats (caps: 64 pids, 64 names,\n"
"                           16 cgroups); kinds combine with AND, values of one\n"
"                           kind with OR; the profiler itself is always left out.\n";

static const char *const kind_names[3][2] = {
	{ "pid", "exclude-pid" }, { "comm", "exclude-comm" }, { "cgroup", "exclude-cgroup" },
};
static const unsigned kind_caps[3] = { AP_FILTER_MAX_PIDS, AP_FILTER_MAX_COMMS,
				       AP_FILTER_MAX_CGROUPS };

static int bad(const char *opt, const char *arg, const char *why)
{
	fprintf(stderr, "autoprof-bpf: %s: '%s' %s (see --help)\n", opt, arg, why);
	return -2;
}

static struct ap_filter_rule *add_rule(struct ap_filter *f, enum ap_filter_kind kind, bool exclude)
{
	struct ap_filter_rule *r;

	GROW(f->rules, f->cap, f->nr + 1);
	r = &f->rules[f->nr++];
	memset(r, 0, sizeof(*r));
	r->kind = kind;
	r->exclude = exclude;
	f->nr_kind[kind][exclude]++;
	return r;
}

static bool too_many(const struct ap_filter *f, enum ap_filter_kind kind)
{
	return f->nr_kind[kind][0] + f->nr_kind[kind][1] >= kind_caps[kind];
}

/* a thread's id stands for its process; a pid that does not exist (now)
 * is kept as given */
static uint32_t tgid_of(uint32_t pid)
{
	char path[64], *text, *t;
	size_t len;
	long v;

	snprintf(path, sizeof(path), "/proc/%u/status", pid);
	text = read_file(path, &len);
	t = text ? strstr(text, "\nTgid:") : NULL;
	if (t) {
		t += 6;
		while (*t == ' ' || *t == '\t')
			t++;
		t[strcspn(t, "\n")] = 0;
		if (!parse_long(t, 1, 0x7fffffff, &v))
			pid = v;
	}
	free(text);
	return pid;
}

int ap_filter__add_pids(struct ap_filter *f, const char *arg, bool exclude)
{
	const char *opt = exclude ? "--exclude-pid" : "-p";
	char *dup = xstrdup(arg), *tok, *rest = dup;
	uint32_t pid;
	size_t i;
	long v;
	int err = 0;

	/* strsep: "1,,2" and a trailing comma are errors, not "1,2" */
	while ((tok = strsep(&rest, ","))) {
		if (parse_long(tok, 1, 0x7fffffff, &v)) {
			err = bad(opt, tok, "is not a process id");
			break;
		}
		pid = tgid_of(v);
		for (i = 0; i < f->nr; i++)
			if (f->rules[i].kind == AP_FILTER_PID && f->rules[i].pid == pid &&
			    f->rules[i].exclude == exclude)
				break;
		if (i < f->nr)
			continue;
		if (too_many(f, AP_FILTER_PID)) {
			err = bad(opt, tok, "is one pid too many (at most 64 with --exclude-pid)");
			break;
		}
		add_rule(f, AP_FILTER_PID, exclude)->pid = pid;
	}
	free(dup);
	return err;
}

static int add_comm(struct ap_filter *f, const char *arg, bool exclude)
{
	const char *opt = exclude ? "--exclude-comm" : "--comm";
	size_t len = strlen(arg);

	if (!len)
		return bad(opt, arg, "is empty: give a process or thread name");
	if (len > 15)
		return bad(opt, arg, "is longer than 15 bytes (the kernel keeps 15 of a task's name: "
			   "see /proc/PID/comm)");
	if (too_many(f, AP_FILTER_COMM))
		return bad(opt, arg, "is one name too many (at most 64 with --exclude-comm)");
	memcpy(add_rule(f, AP_FILTER_COMM, exclude)->comm, arg, len);
	return 0;
}

/* where cgroup v2 is mounted ("" if nowhere) */
static void cgroup2_mount(char *out, size_t len)
{
	char dev[256], dir[PATH_MAX], type[64];
	FILE *m = fopen("/proc/self/mounts", "re");

	snprintf(out, len, "%s", "");
	if (!m)
		return;
	while (fscanf(m, "%255s %4095s %63s %*[^\n]", dev, dir, type) == 3) {
		if (!strcmp(type, "cgroup2")) {
			snprintf(out, len, "%s", dir);
			break;
		}
	}
	fclose(m);
}

/* fd of the cgroup v2 directory at path, or -errno (-EMEDIUMTYPE: a
 * directory, but not of cgroup v2) */
static int open_cgroup2(const char *path)
{
	struct statfs sfs;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstatfs(fd, &sfs) || sfs.f_type != CGROUP2_SUPER_MAGIC) {
		close(fd);
		return -EMEDIUMTYPE;
	}
	return fd;
}

/* the cgroup id of a cgroup v2 directory: the id of its file handle, as
 * the kernel's cgroup_get_from_id and bpf's kn->id know it */
static int cgroup_id(int fd, uint64_t *id)
{
	struct {
		struct file_handle fh;
		uint64_t id;
	} h = { .fh.handle_bytes = sizeof(uint64_t) };
	int mnt;

	if (name_to_handle_at(fd, "", &h.fh, &mnt, AT_EMPTY_PATH))
		return -errno;
	memcpy(id, h.fh.f_handle, sizeof(*id));
	return 0;
}

/* how deep path is below the cgroup2 mount mnt (0: the mount itself), as
 * the kernel's cgroup->level counts it when the mount is the root cgroup
 * (not in a cgroup namespace); -errno if path is not under mnt */
static int cgroup_level(const char *mnt, const char *path)
{
	char *rm = realpath(mnt, NULL), *rp = realpath(path, NULL), *p;
	size_t n;
	int level = -ENOENT;

	if (!rm || !rp)
		goto out;
	n = strcmp(rm, "/") ? strlen(rm) : 0;
	if (strncmp(rp, rm, n) || (rp[n] && rp[n] != '/')) {
		level = -EXDEV;
		goto out;
	}
	level = 0;
	for (p = rp + n; *p; p++)
		if (*p == '/' && p[1] && p[1] != '/')
			level++;
out:
	free(rm);
	free(rp);
	return level;
}

static int add_cgroup(struct ap_filter *f, const char *arg, bool exclude)
{
	const char *opt = exclude ? "--exclude-cgroup" : "--cgroup";
	char mnt[PATH_MAX], path[PATH_MAX * 2], why[PATH_MAX + 128];
	struct ap_filter_rule *r;
	uint64_t id = 0;
	int fd, err, level;

	if (!arg[0])
		return bad(opt, arg, "is empty: give a cgroup v2 directory");
	cgroup2_mount(mnt, sizeof(mnt));
	snprintf(path, sizeof(path), "%s", arg);
	fd = open_cgroup2(path);
	/* as /proc/PID/cgroup names it: below the cgroup2 mount */
	if (fd < 0 && mnt[0] && strncmp(arg, mnt, strlen(mnt))) {
		snprintf(path, sizeof(path), "%s/%s", mnt, arg + (arg[0] == '/'));
		err = open_cgroup2(path);
		if (err >= 0 || fd == -ENOENT) /* else the first error says more */
			fd = err;
	}
	if (fd < 0) {
		if (!mnt[0])
			return bad(opt, arg, "cannot be used: cgroup v2 is not mounted here");
		if (fd == -EMEDIUMTYPE)
			snprintf(why, sizeof(why), "is not a cgroup v2 directory (cgroup2 is mounted at %s)",
				 mnt);
		else
			snprintf(why, sizeof(why), "is not a cgroup: %s (cgroup2 is mounted at %s)",
				 fd == -ENOENT ? "no such directory" : ap_errstr(fd), mnt);
		return bad(opt, arg, why);
	}
	err = cgroup_id(fd, &id);
	close(fd);
	if (err)
		return bad(opt, arg, "has no cgroup id (name_to_handle_at failed)");
	if (too_many(f, AP_FILTER_CGROUP))
		return bad(opt, arg, "is one cgroup too many (at most 16 with --exclude-cgroup)");
	level = cgroup_level(mnt, path);
	if (level < 0) {
		snprintf(why, sizeof(why), "is not below the cgroup2 mount %s", mnt);
		return bad(opt, arg, why);
	}
	r = add_rule(f, AP_FILTER_CGROUP, exclude);
	r->cgroup_id = id;
	r->cgroup_level = level;
	r->cgroup_path = xstrdup(path);
	return 0;
}

int ap_filter__option(struct ap_filter *f, int opt, const char *arg)
{
	switch (opt) {
	case AP_OPT_FILTER_COMM:
		return add_comm(f, arg, false);
	case AP_OPT_FILTER_EXCL_COMM:
		return add_comm(f, arg, true);
	case AP_OPT_FILTER_CGROUP:
		return add_cgroup(f, arg, false);
	case AP_OPT_FILTER_EXCL_CGROUP:
		return add_cgroup(f, arg, true);
	case AP_OPT_FILTER_EXCL_PID:
		return ap_filter__add_pids(f, arg, true);
	}
	return 1;
}

bool ap_filter__empty(const struct ap_filter *f)
{
	return f->nr == 0;
}

static const unsigned kind_bits[3] = { AP_FILT_K_PID, AP_FILT_K_COMM, AP_FILT_K_CGROUP };

void ap_filter__configure(const struct ap_filter *f, struct autoprof_bpf *skel)
{
	unsigned incl = 0, excl = AP_FILT_K_PID; /* our own pid, always */
	unsigned nlv = 0, lv, j;
	size_t i;
	int k;

	for (k = 0; k < 3; k++) {
		if (f->nr_kind[k][0])
			incl |= kind_bits[k];
		if (f->nr_kind[k][1])
			excl |= kind_bits[k];
	}
	/* the distinct levels of the cgroups, ascending (at most one per cgroup) */
	for (i = 0; i < f->nr; i++) {
		if (f->rules[i].kind != AP_FILTER_CGROUP)
			continue;
		lv = f->rules[i].cgroup_level;
		for (j = 0; j < nlv && skel->rodata->filter_cg_levels[j] < lv; j++)
			;
		if (j < nlv && skel->rodata->filter_cg_levels[j] == lv)
			continue;
		if (nlv == AP_FILTER_MAX_CGROUPS)
			break;
		memmove((void *)&skel->rodata->filter_cg_levels[j + 1],
			(void *)&skel->rodata->filter_cg_levels[j], (nlv - j) * sizeof(lv));
		skel->rodata->filter_cg_levels[j] = lv;
		nlv++;
	}
	skel->rodata->filter_cg_nlevels = nlv;
	skel->rodata->filter_system_wide = true;
	skel->rodata->filter_incl = incl;
	skel->rodata->filter_excl = excl;
}

/* include and exclude of one key: the values are bits, so or them in */
static int put(struct bpf_map *map, const void *key, size_t ksz, bool exclude)
{
	uint8_t v = 0, bit = exclude ? AP_FILT_EXCLUDE : AP_FILT_INCLUDE;

	bpf_map__lookup_elem(map, key, ksz, &v, 1, 0);
	v |= bit;
	return bpf_map__update_elem(map, key, ksz, &v, 1, BPF_ANY) ? -errno : 0;
}

int ap_filter__load(const struct ap_filter *f, struct autoprof_bpf *skel, uint32_t self_pid)
{
	size_t i;
	int err;

	err = put(skel->maps.filter_pids, &self_pid, sizeof(self_pid), true);
	for (i = 0; i < f->nr && !err; i++) {
		const struct ap_filter_rule *r = &f->rules[i];
		struct ap_filter_comm c = { 0 };

		switch (r->kind) {
		case AP_FILTER_PID:
			err = put(skel->maps.filter_pids, &r->pid, sizeof(r->pid), r->exclude);
			break;
		case AP_FILTER_COMM:
			memcpy(c.name, r->comm, sizeof(c.name));
			err = put(skel->maps.filter_comms, &c, sizeof(c), r->exclude);
			break;
		case AP_FILTER_CGROUP:
			err = put(skel->maps.filter_cgroups, &r->cgroup_id, sizeof(r->cgroup_id),
				  r->exclude);
			break;
		}
	}
	if (err)
		ap_err("filter: loading the filters into BPF: %s", ap_errstr(err));
	return err;
}

char *ap_filter__describe(const struct ap_filter *f)
{
	struct strbuf sb = { 0 };
	size_t i;

	sb_puts(&sb, "");
	for (i = 0; i < f->nr; i++) {
		const struct ap_filter_rule *r = &f->rules[i];
		const char *name = kind_names[r->kind][r->exclude];

		if (r->kind == AP_FILTER_PID)
			sb_printf(&sb, "%s%s=%u", i ? " " : "", name, r->pid);
		else if (r->kind == AP_FILTER_COMM)
			sb_printf(&sb, "%s%s=%s", i ? " " : "", name, r->comm);
		else
			sb_printf(&sb, "%s%s=%s", i ? " " : "", name, r->cgroup_path);
	}
	return sb.buf;
}

void ap_filter__free(struct ap_filter *f)
{
	size_t i;

	if (!f)
		return;
	for (i = 0; i < f->nr; i++)
		free(f->rules[i].cgroup_path);
	free(f->rules);
	memset(f, 0, sizeof(*f));
}
