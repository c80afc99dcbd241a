// SPDX-License-Identifier: MIT
/* Credentials of the push sinks (creds.h): a checked file, then the
 * environment. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "sink/creds.h"
#include "sink/http.h"
#include "util.h"

static const char *const keys[] = {
	"AUTOPROF_PYROSCOPE_TENANT", "AUTOPROF_PYROSCOPE_USER", "AUTOPROF_PYROSCOPE_PASSWORD",
	"AUTOPROF_PYROSCOPE_TOKEN", "OTEL_EXPORTER_OTLP_PROFILES_HEADERS",
	"OTEL_EXPORTER_OTLP_HEADERS",
};

static char **slot(struct ap_creds *c, size_t k, char **spare)
{
	switch (k) {
	case 0: return &c->tenant;
	case 1: return &c->user;
	case 2: return &c->password;
	case 3: return &c->token;
	case 4: return &c->otlp_headers;
	default: return spare; /* the general OTLP list: used when the profiles one is not set */
	}
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

/* one KEY=VALUE line; unknown keys are ignored (the file may be shared
 * with a systemd unit's other settings) */
static void take_line(struct ap_creds *c, char *line, char **spare)
{
	char *eq = strchr(line, '='), *k, *v;
	size_t i, n;

	line = trim(line);
	if (!*line || *line == '#' || *line == ';' || !eq)
		return;
	*eq = 0;
	k = trim(line);
	v = trim(eq + 1);
	n = strlen(v);
	if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
		v[n - 1] = 0;
		v++;
	}
	for (i = 0; i < AP_ARRAY_SIZE(keys); i++) {
		char **s = slot(c, i, spare);

		if (!strcmp(k, keys[i])) {
			free(*s);
			*s = xstrdup(v);
		}
	}
}

static int read_checked(const char *file, char **text, char *err, size_t errlen)
{
	struct stat st;
	size_t len;
	int fd;

	fd = open(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		int e = -errno;

		snprintf(err, errlen, "%s: %s%s", file, strerror(-e),
			 e == -ELOOP ? " (a symlink: not followed)" : "");
		return e;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", file);
		close(fd);
		return -EINVAL;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		snprintf(err, errlen, "%s: owned by uid %u, neither root nor us", file,
			 (unsigned)st.st_uid);
		close(fd);
		return -EPERM;
	}
	/* secrets: as ssh with a private key, a file others may read is refused */
	if (st.st_mode & 077) {
		snprintf(err, errlen, "%s: mode %03o: group or others may read or write it (chmod 600 it)",
			 file, (unsigned)(st.st_mode & 0777));
		close(fd);
		return -EPERM;
	}
	if (st.st_size > AP_CREDS_FILE_MAX) {
		snprintf(err, errlen, "%s: larger than %u bytes", file, AP_CREDS_FILE_MAX);
		close(fd);
		return -EFBIG;
	}
	*text = xmalloc(AP_CREDS_FILE_MAX + 1);
	for (len = 0; len < AP_CREDS_FILE_MAX;) {
		ssize_t n = read(fd, *text + len, AP_CREDS_FILE_MAX - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = -errno;

			snprintf(err, errlen, "%s: %s", file, strerror(-e));
			free(*text);
			*text = NULL;
			close(fd);
			return e;
		}
		if (!n)
			break;
		len += n;
	}
	(*text)[len] = 0;
	close(fd);
	return 0;
}

int ap_creds__load(const char *file, struct ap_creds *c, char *err, size_t errlen)
{
	char *text = NULL, *line, *save = NULL, *spare = NULL;
	size_t i;
	int e;

	memset(c, 0, sizeof(*c));
	if (file) {
		e = read_checked(file, &text, err, errlen);
		if (e)
			return e;
		for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
			take_line(c, line, &spare);
		free(text);
	}
	for (i = 0; i < AP_ARRAY_SIZE(keys); i++) {
		char **s = slot(c, i, &spare), *v = getenv(keys[i]);

		if (!*s && v && *v)
			*s = xstrdup(v);
	}
	if (!c->otlp_headers)
		c->otlp_headers = spare;
	else
		free(spare);
	for (i = 0; i < 4; i++) {
		char **s = slot(c, i, NULL);

		if (*s && !ap_http_value_ok(*s)) {
			snprintf(err, errlen, "%s: a control character in the value", keys[i]);
			ap_creds__free(c);
			return -EINVAL;
		}
	}
	return 0;
}

void ap_creds__free(struct ap_creds *c)
{
	free(c->tenant);
	free(c->user);
	free(c->password);
	free(c->token);
	free(c->otlp_headers);
	memset(c, 0, sizeof(*c));
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* percent-decode s in place; false on a bad escape */
static bool pct_decode(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (*s != '%') {
			*o++ = *s;
			continue;
		}
		if (hexval(s[1]) < 0 || hexval(s[2]) < 0)
			return false;
		*o++ = (char)(hexval(s[1]) << 4 | hexval(s[2]));
		s += 2;
	}
	*o = 0;
	return true;
}

int ap_creds_otlp_headers(const char *list, char ***out)
{
	char *dup = xstrdup(list), *item, *save = NULL, **v = NULL;
	size_t n = 0, cap = 0, i;
	int err = 0;

	for (item = strtok_r(dup, ",", &save); item && !err; item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '='), *k, *val;

		if (!*trim(item))
			continue;
		if (!eq) {
			err = -EINVAL;
			break;
		}
		*eq = 0;
		k = trim(item);
		val = trim(eq + 1);
		if (!*k || !pct_decode(k) || !pct_decode(val) || strpbrk(k, ": \t") ||
		    !ap_http_value_ok(k) || !ap_http_value_ok(val)) {
			err = -EINVAL;
			break;
		}
		GROW(v, cap, n + 1);
		v[n++] = xasprintf("%s: %s", k, val);
	}
	free(dup);
	if (err) {
		for (i = 0; i < n; i++)
			free(v[i]);
		free(v);
		return err;
	}
	*out = v;
	return (int)n;
}
