// SPDX-License-Identifier: MIT
/* The push sinks' pieces without a network: the spool (order, caps and
 * their counts, resume after a restart, a foreign file, a planted
 * symlink), the credentials file's checks and syntax, the OTel header
 * list, Pyroscope's name cleaning and its requests per service. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "artifact/window_json.h"
#include "profile/profile.h"
#include "sink/creds.h"
#include "sink/push.h"
#include "sink/pyroscope.h"
#include "sink/spool.h"
#include "unit.h"
#include "util.h"

static int put(struct ap_spool *s, const char *path, size_t len)
{
	char *body = xcalloc(1, len + 1);
	int err;

	memset(body, 'x', len);
	err = ap_spool__put(s, path, "application/octet-stream", "", 42, body, len);
	free(body);
	return err;
}

TEST(spool_order_caps_resume)
{
	char *dir = unit_temp_dir("push");
	struct ap_spool *s = NULL;
	struct ap_spool_entry e;
	struct ap_spool_stats st;
	struct stat sb;
	int fd;

	ASSERT_TRUE(dir != NULL, "temp dir");
	if (!dir)
		return;
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	ASSERT_EQ(ap_spool__open(fd, "t", 3 * 1200, NULL, &s), 0, "open");
	if (!s)
		goto out;
	ASSERT_EQ(ap_spool__peek(s, &e), -ENOENT, "empty");
	ASSERT_EQ(put(s, "/a?x=1", 1000), 0, "put a");
	ASSERT_EQ(put(s, "/b", 1000), 0, "put b");
	ASSERT_EQ(put(s, "/c", 1000), 0, "put c");
	ap_spool__stats(s, &st);
	ASSERT_EQ(st.entries, 3, "three under the cap");
	ASSERT_EQ(st.dropped, 0, "none dropped");
	/* puts never sync; one sync for all of them, then none to do */
	ASSERT_EQ(st.syncs, 0, "no sync per put");
	ASSERT_EQ(ap_spool__sync(s), 0, "sync");
	ASSERT_EQ(ap_spool__sync(s), 0, "sync again");
	ap_spool__stats(s, &st);
	ASSERT_EQ(st.syncs, 1, "one sync for three puts");
	ASSERT_EQ(put(s, "/d", 1000), 0, "put d");
	ap_spool__stats(s, &st);
	ASSERT_EQ(st.entries, 3, "the cap holds three");
	ASSERT_EQ(st.dropped, 1, "the oldest dropped");
	ASSERT_TRUE(st.dropped_bytes > 1000, "its bytes counted");
	ASSERT_EQ(ap_spool__peek(s, &e), 0, "peek");
	ASSERT_STREQ(e.path, "/b", "oldest first, a dropped");
	ASSERT_EQ(e.len, 1000, "body length");
	ASSERT_EQ(e.start_ns, 42, "start");
	ASSERT_STREQ(e.ctype, "application/octet-stream", "content type");
	ap_spool__remove(s, e.seq);
	ap_spool_entry_free(&e);
	/* a body alone over the cap is kept: the newest always is */
	ASSERT_EQ(put(s, "/big", 5000), 0, "put big");
	ap_spool__stats(s, &st);
	ASSERT_EQ(st.entries, 1, "only the newest left");
	ap_spool__close(s);
	s = NULL;
	/* a restart resumes; a foreign file and a half-written temp file */
	ASSERT_TRUE(!stat(dir, &sb), "dir");
	{
		char *p = xasprintf("%s/.spool/t/00000000000000000001", dir), *t;
		FILE *f = fopen(p, "w");

		if (f) {
			fputs("not a spool entry", f);
			fclose(f);
		}
		t = xasprintf("%s/.spool/t/.tmp-00000000000000000002", dir);
		f = fopen(t, "w");
		if (f)
			fclose(f);
		ASSERT_EQ(ap_spool__open(fd, "t", 100000, NULL, &s), 0, "reopen");
		ASSERT_TRUE(access(t, F_OK) != 0, "temp file removed");
		free(p);
		free(t);
	}
	if (!s)
		goto out;
	ap_spool__stats(s, &st);
	ASSERT_EQ(st.resumed, 2, "resumed: the big one and the foreign file");
	ASSERT_EQ(ap_spool__peek(s, &e), 0, "peek after restart");
	ASSERT_STREQ(e.path, "/big", "the foreign file skipped");
	ap_spool__stats(s, &st);
	ASSERT_EQ(st.bad, 1, "the foreign file counted and deleted");
	ap_spool__remove(s, e.seq);
	ap_spool_entry_free(&e);
	ASSERT_EQ(put(s, "/e", 10), 0, "put after restart");
	ASSERT_EQ(ap_spool__peek(s, &e), 0, "peek e");
	ASSERT_TRUE(e.seq > 2, "the sequence goes on increasing");
	ap_spool_entry_free(&e);
	ASSERT_EQ(put(s, "/bad\nline", 10), -EINVAL, "a path of two lines refused");
out:
	ap_spool__close(s);
	close(fd);
	unit_rm_rf(dir);
}

TEST(spool_symlink_refused)
{
	char *dir = unit_temp_dir("push"), *target, *link;
	struct ap_spool *s = NULL;
	int fd;

	ASSERT_TRUE(dir != NULL, "temp dir");
	if (!dir)
		return;
	target = xasprintf("%s/elsewhere", dir);
	link = xasprintf("%s/.spool", dir);
	ASSERT_EQ(mkdir(target, 0700), 0, "target");
	ASSERT_EQ(symlink(target, link), 0, "planted symlink");
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	ASSERT_TRUE(ap_spool__open(fd, "t", 1000, NULL, &s) < 0, "a symlinked .spool refused");
	ap_spool__close(s);
	close(fd);
	free(target);
	free(link);
	unit_rm_rf(dir);
}

static char *write_creds(const char *dir, const char *text, unsigned mode)
{
	char *p = xasprintf("%s/creds", dir);
	FILE *f = fopen(p, "w");

	if (f) {
		fputs(text, f);
		fclose(f);
	}
	chmod(p, mode);
	return p;
}

TEST(creds_file_and_env)
{
	char *dir = unit_temp_dir("push"), *p, err[256];
	struct ap_creds c;

	ASSERT_TRUE(dir != NULL, "temp dir");
	if (!dir)
		return;
	p = write_creds(dir, "# comment\n; other comment\n\n AUTOPROF_PYROSCOPE_USER = bob \n"
			     "AUTOPROF_PYROSCOPE_PASSWORD=\"a b=c\"\nUNRELATED=1\n", 0600);
	setenv("AUTOPROF_PYROSCOPE_USER", "env-user", 1);
	setenv("AUTOPROF_PYROSCOPE_TENANT", "env-tenant", 1);
	setenv("OTEL_EXPORTER_OTLP_HEADERS", "a=1", 1);
	ASSERT_EQ(ap_creds__load(p, &c, err, sizeof(err)), 0, "load");
	ASSERT_STREQ(c.user, "bob", "the file wins over the environment");
	ASSERT_STREQ(c.password, "a b=c", "quotes removed");
	ASSERT_STREQ(c.tenant, "env-tenant", "the environment fills the rest");
	ASSERT_STREQ(c.otlp_headers, "a=1", "the general OTLP headers");
	ASSERT_TRUE(c.token == NULL, "no token");
	ap_creds__free(&c);
	setenv("OTEL_EXPORTER_OTLP_PROFILES_HEADERS", "b=2", 1);
	ASSERT_EQ(ap_creds__load(NULL, &c, err, sizeof(err)), 0, "environment only");
	ASSERT_STREQ(c.otlp_headers, "b=2", "the profiles' list wins");
	ASSERT_STREQ(c.user, "env-user", "user from the environment");
	ap_creds__free(&c);
	unsetenv("AUTOPROF_PYROSCOPE_USER");
	unsetenv("AUTOPROF_PYROSCOPE_TENANT");
	unsetenv("OTEL_EXPORTER_OTLP_HEADERS");
	unsetenv("OTEL_EXPORTER_OTLP_PROFILES_HEADERS");
	chmod(p, 0666);
	ASSERT_EQ(ap_creds__load(p, &c, err, sizeof(err)), -EPERM, "world-writable refused");
	ASSERT_TRUE(strstr(err, "chmod 600") != NULL, "says why");
	chmod(p, 0644);
	ASSERT_EQ(ap_creds__load(p, &c, err, sizeof(err)), -EPERM, "world-readable refused");
	ASSERT_TRUE(strstr(err, "may read") != NULL, "says why");
	free(p);
	p = write_creds(dir, "AUTOPROF_PYROSCOPE_TOKEN=a\x01" "b\n", 0600);
	ASSERT_EQ(ap_creds__load(p, &c, err, sizeof(err)), -EINVAL, "a control character refused");
	free(p);
	p = xasprintf("%s/link", dir);
	if (symlink("creds", p) == 0)
		ASSERT_EQ(ap_creds__load(p, &c, err, sizeof(err)), -ELOOP, "a symlink refused");
	free(p);
	unit_rm_rf(dir);
}

TEST(creds_otlp_headers)
{
	char **h = NULL;
	int n, i;

	n = ap_creds_otlp_headers("api-key=s%20ecret, x-tenant = t1 ,", &h);
	ASSERT_EQ(n, 2, "two headers");
	if (n == 2) {
		ASSERT_STREQ(h[0], "api-key: s ecret", "percent-decoded");
		ASSERT_STREQ(h[1], "x-tenant: t1", "trimmed");
	}
	for (i = 0; i < n; i++)
		free(h[i]);
	free(h);
	ASSERT_EQ(ap_creds_otlp_headers("novalue", &h), -EINVAL, "no =");
	ASSERT_EQ(ap_creds_otlp_headers("a=%0d%0aInjected: 1", &h), -EINVAL, "CR LF refused");
	ASSERT_EQ(ap_creds_otlp_headers("a b=1", &h), -EINVAL, "a space in a name refused");
}

TEST(pyroscope_name_clean)
{
	char out[AP_PYROSCOPE_NAME_MAX + 8];
	char longname[400];

	pyroscope_clean("my svc{a=b},\"x\"\n", out, sizeof(out));
	ASSERT_STREQ(out, "my_svc_a_b___x__", "the name syntax's characters replaced");
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	pyroscope_clean(longname, out, sizeof(out));
	ASSERT_EQ(strlen(out), AP_PYROSCOPE_NAME_MAX, "cut");
}

/* A window of 301 services: 256 requests, the 46 smallest merged into
 * AP_PYROSCOPE_OTHER; names, from/until and sampleRate in each request's
 * query; the bodies are gzip'ed pprof. The sink's URL refuses connections,
 * so the requests stay in its spool, read back after it stopped. */
TEST(pyroscope_services_cap)
{
	char *dir = unit_temp_dir("push");
	struct ap_window_info wi = { .start_real_ns = 1795944615123456789ull,
				     .end_real_ns = 1795944630123456789ull,
				     .start_mono_ns = 1000000000ull, .end_mono_ns = 16000000000ull,
				     .nr_cpus = 2 };
	struct ap_push_conf c = { .name = "pyroscope", .url = "http://127.0.0.1:1",
				  .timeout_s = 1, .spool_max_bytes = 64 << 20 };
	struct ap_pyroscope_result res;
	struct ap_push_stats ps;
	struct ap_push *sink = NULL;
	struct ap_spool *s = NULL;
	struct ap_spool_entry e;
	struct profile p;
	uint32_t mod, fr, st;
	char name[32];
	int fd, i, n = 0, other = 0, cwork = 0, bad = 0;

	ASSERT_TRUE(dir != NULL, "temp dir");
	if (!dir)
		return;
	profile__init(&p);
	p.frequency_hz = 19;
	mod = profile__module(&p, "/opt/bin/app", "");
	fr = profile__frame(&p, AP_FRAME_USER, "work", mod, 0x1000);
	st = profile__stack(&p, &fr, 1);
	for (i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "svc-%03d", i);
		profile__add(&p, 1000 + i, 1000 + i, "app", st, 0, i + 1);
		profile__process(&p, 1000 + i)->service = profile__str(&p, name);
	}
	profile__add(&p, 5000, 5000, "cwork", st, 0, 1000);
	profile__process(&p, 5000)->exe = profile__str(&p, "/opt/bin/cwork");
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	ASSERT_EQ(ap_push__open(fd, &c, &sink), 0, "sink");
	if (!sink)
		goto out;
	ASSERT_EQ(pyroscope__push_window(sink, &p, &wi, "h1", &res), 0, "pushed");
	ASSERT_EQ(res.services, 301, "services");
	ASSERT_EQ(res.requests, AP_PYROSCOPE_SERVICES_MAX, "requests capped");
	ASSERT_EQ(res.merged, 301 - (AP_PYROSCOPE_SERVICES_MAX - 1), "merged");
	ap_push__sink_stats(sink, &ps);
	ASSERT_EQ(ps.spool_syncs, 1, "one spool sync for the window's 256 requests");
	ap_push__free(sink);
	ASSERT_EQ(ap_spool__open(fd, "pyroscope", 64 << 20, NULL, &s), 0, "spool");
	while (s && !ap_spool__peek(s, &e)) {
		n++;
		other += strstr(e.path, "name=autoprof-bpf.other_services%7Bhost_name%3Dh1%7D&") != NULL;
		cwork += strstr(e.path, "name=unknown_service%3Acwork%7Bhost_name%3Dh1%7D&") != NULL;
		bad += !strstr(e.path, "&from=1795944615&until=1795944630&format=pprof&sampleRate=19"
				       "&spyName=autoprof-bpf") ||
		       strncmp(e.path, "/ingest?name=", 13) || e.len < 2 ||
		       memcmp(e.body, "\x1f\x8b", 2);
		if (strstr(e.path, "svc-000") || strstr(e.path, "svc-045"))
			bad++; /* merged */
		ap_spool__remove(s, e.seq);
		ap_spool_entry_free(&e);
	}
	ASSERT_EQ(n, AP_PYROSCOPE_SERVICES_MAX, "requests spooled");
	ASSERT_EQ(other, 1, "one merged request");
	ASSERT_EQ(cwork, 1, "unknown_service:EXE for a process without a service");
	ASSERT_EQ(bad, 0, "requests with a wrong path, query or body");
out:
	ap_spool__close(s);
	profile__free(&p);
	close(fd);
	unit_rm_rf(dir);
}
