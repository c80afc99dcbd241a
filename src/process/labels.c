// SPDX-License-Identifier: MIT
/* Per-process labels (labels.h): cgroup, container id, service, runtime,
 * build id. Everything read here comes from procfs files of the process
 * (never a path it controls), opened O_NONBLOCK and read with a size cap;
 * the values are the process's own text, so they are cut and cleaned of
 * control bytes and invalid UTF-8 before they reach any output. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "process/labels.h"
#include "profile/profile.h"
#include "symbolize/elfsym.h"
#include "util.h"

static struct ap_labels_stats stats;

/* copy n bytes of s into out (len), cut at a character boundary, control
 * bytes and invalid UTF-8 replaced with '_' */
static void clean_copy(char *out, size_t len, const char *s, size_t n)
{
	ap_utf8_clean(out, len, s, n, true);
}

int labels_parse_cgroup(const char *text, char *out, size_t len)
{
	const char *line = text, *v1 = NULL, *nl;
	size_t n;

	for (; line && *line; line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		if (!strncmp(line, "0::", 3)) {
			line += 3;
			n = nl ? (size_t)(nl - line) : strlen(line);
			clean_copy(out, len, line, n);
			return 0;
		}
		/* cgroup v1 only: systemd's own hierarchy names the unit */
		if (!v1) {
			const char *c = strchr(line, ':');

			if (c && (!nl || c < nl) && !strncmp(c + 1, "name=systemd:", 13))
				v1 = c + 14;
		}
	}
	if (!v1)
		return -ENOENT;
	nl = strchr(v1, '\n');
	clean_copy(out, len, v1, nl ? (size_t)(nl - v1) : strlen(v1));
	return 0;
}

static bool is_hex64(const char *s, size_t n)
{
	size_t i;

	if (n != AP_CONTAINER_ID_LEN)
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static bool ends_with(const char *s, size_t n, const char *suf)
{
	size_t k = strlen(suf);

	return n >= k && !memcmp(s + n - k, suf, k);
}

/* the container id of one path component, or NULL */
static const char *component_id(const char *c, size_t n)
{
	static const char *const prefixes[] = { "docker-", "cri-containerd-", "crio-", "libpod-",
						"containerd-" };
	size_t i;

	if (is_hex64(c, n))
		return c;
	if (!ends_with(c, n, ".scope"))
		return NULL;
	n -= strlen(".scope");
	for (i = 0; i < AP_ARRAY_SIZE(prefixes); i++) {
		size_t k = strlen(prefixes[i]);

		if (n > k && !memcmp(c, prefixes[i], k) && is_hex64(c + k, n - k))
			return c + k;
	}
	return NULL;
}

/* call fn on each component of path, innermost first, until it returns true */
static bool each_component_inner_first(const char *path, bool (*fn)(const char *c, size_t n,
								  void *ctx),
				       void *ctx)
{
	const char *end = path + strlen(path), *p;

	while (end > path) {
		p = end;
		while (p > path && p[-1] != '/')
			p--;
		if (end > p && fn(p, end - p, ctx))
			return true;
		end = p > path ? p - 1 : path;
	}
	return false;
}

struct out_buf {
	char *out;
	size_t len;
};

static bool container_fn(const char *c, size_t n, void *ctx)
{
	struct out_buf *o = ctx;
	const char *id = component_id(c, n);

	if (!id)
		return false;
	clean_copy(o->out, o->len, id, AP_CONTAINER_ID_LEN);
	return true;
}

bool labels_container_id(const char *cgpath, char *out, size_t len)
{
	struct out_buf o = { out, len };

	if (len <= AP_CONTAINER_ID_LEN)
		return false;
	return each_component_inner_first(cgpath, container_fn, &o);
}

static bool service_fn(const char *c, size_t n, void *ctx)
{
	struct out_buf *o = ctx;

	if ((n > strlen(".service") && ends_with(c, n, ".service")) ||
	    (n > strlen("session-.scope") && !strncmp(c, "session-", 8) && ends_with(c, n, ".scope"))) {
		clean_copy(o->out, o->len, c, n);
		return true;
	}
	return false;
}

bool labels_cgroup_service(const char *cgpath, char *out, size_t len)
{
	struct out_buf o = { out, len };

	return len > 1 && each_component_inner_first(cgpath, service_fn, &o);
}

/* the value of NAME=value in env, or NULL; *n its length */
static const char *env_get(const char *env, size_t len, const char *name, size_t *n)
{
	size_t k = strlen(name), i = 0;

	while (i < len) {
		const char *e = env + i;
		size_t el = strnlen(e, len - i);

		if (el > k && !memcmp(e, name, k) && e[k] == '=') {
			*n = el - k - 1;
			return e + k + 1;
		}
		i += el + 1;
	}
	return NULL;
}

bool labels_environ_service(const char *env, size_t len, char *out, size_t outlen)
{
	const char *v, *p, *end;
	size_t n = 0;

	if (outlen < 2)
		return false;
	v = env_get(env, len, "OTEL_SERVICE_NAME", &n);
	if (v && n) {
		clean_copy(out, outlen, v, n);
		return true;
	}
	/* OTEL_RESOURCE_ATTRIBUTES=key1=value1,service.name=NAME,... */
	v = env_get(env, len, "OTEL_RESOURCE_ATTRIBUTES", &n);
	for (p = v, end = v + n; v && p < end;) {
		const char *comma = memchr(p, ',', end - p), *q;
		const char *stop = comma ? comma : end;

		while (p < stop && *p == ' ')
			p++;
		q = p + strlen("service.name");
		if (q < stop && !strncmp(p, "service.name", q - p)) {
			while (q < stop && *q == ' ')
				q++;
			if (q < stop && *q == '=' && stop > q + 1) {
				clean_copy(out, outlen, q + 1, stop - q - 1);
				return true;
			}
		}
		p = stop + 1;
	}
	return false;
}

/* read at most max bytes of a procfs file of pid; NULL and errno on failure,
 * *truncated when there was more */
static char *read_proc(uint32_t pid, const char *name, size_t max, size_t *len, bool *truncated)
{
	char path[64], *buf;
	size_t got = 0;
	ssize_t n;
	int fd, err;

	snprintf(path, sizeof(path), "/proc/%u/%s", pid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0)
		return NULL;
	buf = xmalloc(max + 1);
	*truncated = false;
	while (got < max) {
		n = read(fd, buf + got, max - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = errno;
			free(buf);
			close(fd);
			errno = err;
			return NULL;
		}
		if (!n)
			break;
		got += n;
	}
	if (got == max) {
		char c;

		*truncated = read(fd, &c, 1) > 0;
	}
	close(fd);
	buf[got] = 0;
	*len = got;
	return buf;
}

static char *dup_nonempty(const char *s)
{
	return s && *s ? xstrdup(s) : NULL;
}

struct ap_labels *ap_labels__read(uint32_t pid, const char *exe_build_id)
{
	struct ap_labels *l = xcalloc(1, sizeof(*l));
	char val[AP_LABELS_VALUE_MAX + 1], path[AP_LABELS_CGROUP_MAX], *buf;
	bool trunc;
	size_t len;

	stats.reads++;
	buf = read_proc(pid, "cgroup", AP_LABELS_CGROUP_MAX, &len, &trunc);
	if (buf && labels_parse_cgroup(buf, path, sizeof(path)) == 0) {
		l->cgroup = xstrdup(path);
		if (labels_container_id(path, val, sizeof(val)))
			l->container_id = xstrdup(val);
		if (labels_cgroup_service(path, val, sizeof(val)))
			l->service = xstrdup(val);
	} else {
		stats.cgroup_failed++;
	}
	free(buf);

	buf = read_proc(pid, "environ", AP_LABELS_ENVIRON_MAX, &len, &trunc);
	if (!buf)
		stats.environ_failed++;
	else if (trunc)
		stats.environ_truncated++;
	if (buf && labels_environ_service(buf, len, val, sizeof(val))) {
		free(l->service);
		l->service = xstrdup(val);
		l->service_from_env = true;
	}
	free(buf);

	if (exe_build_id && *exe_build_id) {
		l->build_id = xstrdup(exe_build_id);
	} else {
		/* the kernel's link to the executable, not a path the process names */
		snprintf(path, sizeof(path), "/proc/%u/exe", pid);
		if (elf_read_build_id(path, val, sizeof(val)) == 0)
			l->build_id = dup_nonempty(val);
	}
	return l;
}

void ap_labels__set_runtime(struct ap_labels *l, int py_major, int py_minor, bool ft)
{
	if (!l || py_major <= 0 || py_minor < 0)
		return;
	free(l->runtime);
	l->runtime = xasprintf("CPython %d.%d%s", py_major, py_minor, ft ? "t" : "");
}

void ap_labels__set_py_missing(struct ap_labels *l, const char *runtime, const char *code,
			       const char *why)
{
	if (!l || !code)
		return;
	if (runtime && !l->runtime)
		l->runtime = xstrdup(runtime);
	free(l->py_missing);
	free(l->py_missing_why);
	l->py_missing = xstrdup(code);
	l->py_missing_why = why ? xstrdup(why) : NULL;
}

void ap_labels__to_process(const struct ap_labels *l, struct profile *p, struct ap_process *pr)
{
	pr->cgroup = profile__str(p, l ? l->cgroup : NULL);
	pr->container_id = profile__str(p, l ? l->container_id : NULL);
	pr->service = profile__str(p, l ? l->service : NULL);
	pr->runtime = profile__str(p, l ? l->runtime : NULL);
	pr->build_id = profile__str(p, l ? l->build_id : NULL);
	pr->py_missing = profile__str(p, l ? l->py_missing : NULL);
	pr->py_missing_why = profile__str(p, l ? l->py_missing_why : NULL);
}

void ap_labels__free(struct ap_labels *l)
{
	if (!l)
		return;
	free(l->cgroup);
	free(l->container_id);
	free(l->service);
	free(l->runtime);
	free(l->py_missing);
	free(l->py_missing_why);
	free(l->build_id);
	free(l);
}

void ap_labels__stats(struct ap_labels_stats *out)
{
	*out = stats;
}
