// SPDX-License-Identifier: MIT
/* The push sender against a tiny HTTP server of its own (a thread here,
 * loopback only): a spool entry that cannot be read does not stall the
 * sink. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "sink/http.h"
#include "sink/push.h"
#include "sink/spool.h"
#include "unit.h"
#include "util.h"

enum srv_mode {
	SRV_SILENT,     /* read the request, never answer (until the client closes) */
	SRV_500,        /* answer 500 */
	SRV_SLOW_200,   /* answer 200 1.5 s after the request was read */
};

struct srv {
	int lfd, port;
	enum srv_mode mode;
	int requests;   /* requests read in full (atomic) */
	pthread_t th;
};

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, ms % 1000 * 1000000 };

	nanosleep(&ts, NULL);
}

/* one request: headers, then Content-Length bytes of body; 0 or -1 */
static int srv_read_request(int c)
{
	char buf[8192], *eoh, *cl;
	size_t len = 0, want;
	ssize_t n;

	for (;;) {
		n = recv(c, buf + len, sizeof(buf) - 1 - len, 0);
		if (n <= 0)
			return -1;
		len += n;
		buf[len] = 0;
		if ((eoh = strstr(buf, "\r\n\r\n")))
			break;
		if (len == sizeof(buf) - 1)
			return -1;
	}
	cl = strcasestr(buf, "\r\nContent-Length:");
	want = cl ? strtoul(cl + 17, NULL, 10) : 0;
	len -= eoh + 4 - buf;
	while (len < want) {
		n = recv(c, buf, sizeof(buf), 0);
		if (n <= 0)
			return -1;
		len += n;
	}
	return 0;
}

static void srv_answer(int c, int status)
{
	char b[256];
	int n = snprintf(b, sizeof(b),
			 "HTTP/1.1 %d X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
			 status);

	if (send(c, b, n, MSG_NOSIGNAL) != n)
		fprintf(stderr, "test server: answer not sent\n");
}

static void *srv_main(void *arg)
{
	struct srv *s = arg;
	char b[256];
	int c;

	while ((c = accept(s->lfd, NULL, NULL)) >= 0) {
		if (!srv_read_request(c)) {
			__atomic_fetch_add(&s->requests, 1, __ATOMIC_SEQ_CST);
			if (s->mode == SRV_SILENT)
				while (recv(c, b, sizeof(b), 0) > 0)
					;
			else if (s->mode == SRV_SLOW_200)
				sleep_ms(1500), srv_answer(c, 200);
			else
				srv_answer(c, 500);
		}
		close(c);
	}
	return NULL;
}

static int srv_start(struct srv *s, enum srv_mode mode)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);

	memset(s, 0, sizeof(*s));
	s->mode = mode;
	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&a, sizeof(a)) || listen(s->lfd, 8) ||
	    getsockname(s->lfd, (struct sockaddr *)&a, &al))
		return -1;
	s->port = ntohs(a.sin_port);
	return pthread_create(&s->th, NULL, srv_main, s) ? -1 : 0;
}

static void srv_stop(struct srv *s)
{
	shutdown(s->lfd, SHUT_RDWR); /* accept() returns */
	pthread_join(s->th, NULL);
	close(s->lfd);
}

/* the name of the (only) entry in dir/.spool/NAME, "" none */
static void entry_name(const char *dir, const char *name, char *out, size_t len)
{
	char *p = xasprintf("%s/.spool/%s", dir, name);
	DIR *d = opendir(p);
	struct dirent *de;

	*out = 0;
	while (d && (de = readdir(d)))
		if (strlen(de->d_name) == 20 && de->d_name[0] != '.')
			snprintf(out, len, "%s/%s", p, de->d_name);
	if (d)
		closedir(d);
	free(p);
}


/* An entry that cannot be read (here: a directory in its place, -EISDIR)
 * is retried a second apart, counted, and deleted as bad after
 * AP_PUSH_READ_TRIES failures; before, the sender retried it forever and
 * the sink was stuck. The server never answers, so the sender is busy in
 * its request (timeout 1 s) while the file is swapped. */
TEST(push_unreadable_entry_deleted)
{
	char *dir = unit_temp_dir("push-send"), path[512], *url;
	struct ap_push_conf c = { .name = "t", .timeout_s = 1, .spool_max_bytes = 1 << 20 };
	struct ap_push_stats st = { 0 };
	struct ap_push *p = NULL;
	struct srv srv;
	int fd = -1, i;

	ASSERT_TRUE(dir != NULL, "temp dir");
	if (!dir)
		return;
	if (!ASSERT_EQ(srv_start(&srv, SRV_SILENT), 0, "server")) {
		unit_rm_rf(dir);
		return;
	}
	url = xasprintf("http://127.0.0.1:%d", srv.port);
	c.url = url;
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	ASSERT_EQ(ap_push__open(fd, &c, &p), 0, "sink");
	if (!p)
		goto out;
	ASSERT_EQ(ap_push__enqueue(p, "/x", "text/plain", "", 1, "body", 4), 0, "enqueued");
	for (i = 0; i < 50 && !__atomic_load_n(&srv.requests, __ATOMIC_SEQ_CST); i++)
		sleep_ms(20);
	entry_name(dir, "t", path, sizeof(path));
	ASSERT_TRUE(*path && !unlink(path) && !mkdir(path, 0700), "a directory in the entry's place");
	for (i = 0; i < 100; i++) {
		ap_push__sink_stats(p, &st);
		if (st.spool_bad)
			break;
		sleep_ms(100);
	}
	ASSERT_EQ(st.spool_bad, 1, "the unreadable entry deleted as bad");
	ASSERT_EQ(st.spool_read_errors, AP_PUSH_READ_TRIES, "each failed read counted");
	ASSERT_EQ(st.spool_entries, 0, "the spool is free again");
out:
	ap_push__free(p);
	srv_stop(&srv);
	if (fd >= 0)
		close(fd);
	free(url);
	unit_rm_rf(dir);
}

/* wait up to ms for a sink counter to be at least want */
static uint64_t wait_stat(struct ap_push *p, size_t off, uint64_t want, long ms)
{
	struct ap_push_stats st;
	uint64_t v;

	for (;;) {
		ap_push__sink_stats(p, &st);
		v = *(uint64_t *)((char *)&st + off);
		if (v >= want || ms <= 0)
			return v;
		sleep_ms(50);
		ms -= 50;
	}
}

/* A request the backend always fails (500) is given up past its attempt
 * budget (here 2 tries, no wait), deleted and counted; a failed connect
 * never counts (a backend that is down loses nothing). */
TEST(push_poison_entry_given_up)
{
	char *dir = unit_temp_dir("push-send"), *url = NULL;
	struct ap_push_conf c = { .name = "t", .timeout_s = 5, .spool_max_bytes = 1 << 20,
				  .give_up_tries = 2, .give_up_s = -1 };
	struct ap_push_stats st;
	struct ap_push *p = NULL;
	struct srv srv;
	int fd = -1;

	ASSERT_TRUE(dir != NULL, "temp dir");
	if (!dir)
		return;
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	/* nobody listens on port 1: connection refused, never given up */
	c.url = "http://127.0.0.1:1";
	ASSERT_EQ(ap_push__open(fd, &c, &p), 0, "sink, refused");
	if (!p)
		goto out;
	ASSERT_EQ(ap_push__enqueue(p, "/x", "text/plain", "", 1, "body", 4), 0, "enqueued");
	ASSERT_TRUE(wait_stat(p, offsetof(struct ap_push_stats, pushes_retried), 2, 6000) >= 2,
		    "retried twice");
	ap_push__sink_stats(p, &st);
	ASSERT_EQ(st.pushes_given_up, 0, "a refused connection does not count");
	ASSERT_EQ(st.spool_entries, 1, "kept");
	ap_push__free(p);
	p = NULL;
	if (!ASSERT_EQ(srv_start(&srv, SRV_500), 0, "server"))
		goto out;
	url = xasprintf("http://127.0.0.1:%d", srv.port);
	c.url = url;
	ASSERT_EQ(ap_push__open(fd, &c, &p), 0, "sink, 500");
	if (p) {
		ap_push__sink_stats(p, &st);
		ASSERT_EQ(st.spool_foreign, 1, "the other URL's entry deleted at start");
		ASSERT_EQ(ap_push__enqueue(p, "/x", "text/plain", "", 1, "body", 4), 0, "enqueued");
		ASSERT_EQ(wait_stat(p, offsetof(struct ap_push_stats, pushes_given_up), 1, 6000), 1,
			  "given up");
		ap_push__sink_stats(p, &st);
		ASSERT_EQ(st.pushes_retried, 2, "after two 500s");
		ASSERT_EQ(st.spool_entries, 0, "deleted");
		ASSERT_EQ(__atomic_load_n(&srv.requests, __ATOMIC_SEQ_CST), 2, "two requests");
	}
	ap_push__free(p);
	p = NULL;
	srv_stop(&srv);
out:
	ap_push__free(p);
	if (fd >= 0)
		close(fd);
	free(url);
	unit_rm_rf(dir);
}

/* At least once: stopped while the server holds a request it read in
 * full, the sender awaits the answer (past the stop's deadline, up to
 * AP_PUSH_ANSWER_GRACE_NS) and deletes the entry, instead of aborting it
 * and sending it again at the next start. */
TEST(push_stop_awaits_sent_request)
{
	char *dir = unit_temp_dir("push-send"), *url = NULL;
	struct ap_push_conf c = { .name = "t", .timeout_s = 10, .spool_max_bytes = 1 << 20 };
	struct ap_push_stats st;
	struct ap_push *p = NULL;
	uint64_t t0, took;
	struct srv srv;
	int fd = -1, i;

	ASSERT_TRUE(dir != NULL, "temp dir");
	if (!dir)
		return;
	if (!ASSERT_EQ(srv_start(&srv, SRV_SLOW_200), 0, "server")) {
		unit_rm_rf(dir);
		return;
	}
	url = xasprintf("http://127.0.0.1:%d", srv.port);
	c.url = url;
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	ASSERT_EQ(ap_push__open(fd, &c, &p), 0, "sink");
	if (!p)
		goto out;
	ASSERT_EQ(ap_push__enqueue(p, "/x", "text/plain", "", 1, "body", 4), 0, "enqueued");
	for (i = 0; i < 100 && !__atomic_load_n(&srv.requests, __ATOMIC_SEQ_CST); i++)
		sleep_ms(10);
	ASSERT_EQ(__atomic_load_n(&srv.requests, __ATOMIC_SEQ_CST), 1, "the server has it");
	t0 = now_mono_ns();
	ap_push__drain(p);
	ap_push__stop(p, t0 + 100000000ull);
	took = now_mono_ns() - t0;
	ap_push__sink_stats(p, &st);
	ASSERT_EQ(st.pushes_ok, 1, "its answer awaited past the deadline");
	ASSERT_EQ(st.spool_entries, 0, "not sent again at the next start");
	ASSERT_TRUE(took < 100000000ull + AP_PUSH_ANSWER_GRACE_NS + 500000000ull,
		    "the stop is bounded");
out:
	ap_push__free(p);
	srv_stop(&srv);
	if (fd >= 0)
		close(fd);
	free(url);
	unit_rm_rf(dir);
}

/* which URLs get the "credentials in clear" warning at start */
TEST(http_url_plain_remote)
{
	ASSERT_TRUE(ap_http_url_plain_remote("http://pyro.example:4040"), "remote http");
	ASSERT_TRUE(ap_http_url_plain_remote("HTTP://10.0.0.1/x"), "remote http, upper case");
	ASSERT_TRUE(ap_http_url_plain_remote("http://127.evil.example/"), "not an address");
	ASSERT_TRUE(ap_http_url_plain_remote("http://[2001:db8::1]:4040"), "remote v6");
	ASSERT_TRUE(!ap_http_url_plain_remote("https://pyro.example"), "https");
	ASSERT_TRUE(!ap_http_url_plain_remote("http://localhost:4040"), "localhost");
	ASSERT_TRUE(!ap_http_url_plain_remote("http://127.0.0.1:4040/p"), "127.0.0.1");
	ASSERT_TRUE(!ap_http_url_plain_remote("http://127.1.2.3"), "127/8");
	ASSERT_TRUE(!ap_http_url_plain_remote("http://[::1]:4040"), "[::1]");
}

/* Entries name their endpoint: reopened for another URL or tenant, the
 * spool deletes (and counts) the old endpoint's entries instead of
 * sending them to the new one; entries from before the ID existed stay. */
TEST(spool_other_endpoint_dropped)
{
	char *dir = unit_temp_dir("push-send");
	struct ap_spool *s = NULL;
	struct ap_spool_entry e;
	struct ap_spool_stats st;
	int fd;

	ASSERT_TRUE(dir != NULL, "temp dir");
	if (!dir)
		return;
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	ASSERT_EQ(ap_spool__open(fd, "t", 1 << 20, NULL, &s), 0, "no ID");
	if (s)
		ASSERT_EQ(ap_spool__put(s, "/old", "t", "", 1, "o", 1), 0, "an entry without an ID");
	ap_spool__close(s);
	ASSERT_EQ(ap_spool__open(fd, "t", 1 << 20, "00000000000000aa", &s), 0, "ID aa");
	if (s) {
		ASSERT_EQ(ap_spool__put(s, "/a1", "t", "", 1, "1", 1), 0, "put a1");
		ASSERT_EQ(ap_spool__put(s, "/a2", "t", "", 1, "2", 1), 0, "put a2");
	}
	ap_spool__close(s);
	ASSERT_EQ(ap_spool__open(fd, "t", 1 << 20, "00000000000000aa", &s), 0, "ID aa again");
	if (s) {
		ap_spool__stats(s, &st);
		ASSERT_EQ(st.foreign, 0, "the same endpoint keeps its entries");
		ASSERT_EQ(st.entries, 3, "all three");
	}
	ap_spool__close(s);
	ASSERT_EQ(ap_spool__open(fd, "t", 1 << 20, "00000000000000bb", &s), 0, "ID bb");
	if (!s)
		goto out;
	ap_spool__stats(s, &st);
	ASSERT_EQ(st.foreign, 2, "aa's entries deleted and counted");
	ASSERT_EQ(st.entries, 1, "the entry without an ID kept");
	ASSERT_EQ(ap_spool__peek(s, &e), 0, "peek");
	ASSERT_STREQ(e.path, "/old", "the old entry");
	ap_spool__remove(s, e.seq);
	ap_spool_entry_free(&e);
	ASSERT_EQ(ap_spool__put(s, "/b", "t", "", 1, "b", 1), 0, "put b");
	ASSERT_EQ(ap_spool__peek(s, &e), 0, "an entry with an ID reads back");
	ASSERT_STREQ(e.path, "/b", "b");
	ASSERT_TRUE(e.len == 1 && !memcmp(e.body, "b", 1), "its body");
	ap_spool_entry_free(&e);
out:
	ap_spool__close(s);
	close(fd);
	unit_rm_rf(dir);
}
