// SPDX-License-Identifier: MIT
/* The push sinks' HTTP client (http.h), on libcurl's easy interface. The
 * handle is kept between requests so that the connection is reused. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include "sink/http.h"
#include "util.h"

struct ap_http {
	CURL *curl;
	struct curl_slist *headers;
	long timeout_s;
	char errbuf[CURL_ERROR_SIZE];
	char body[96];          /* the first bytes of the answer, for messages */
	size_t body_len;
	const int *abort_flag;
	size_t len;             /* the body being sent */
};

int ap_http_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) ? -EIO : 0;
}

bool ap_http_value_ok(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

bool ap_http_url_plain_remote(const char *url)
{
	const char *host = url + 7;
	size_t n;

	if (strncasecmp(url, "http://", 7))
		return false;
	n = strcspn(host, "/?#");
	if (*host == '[') /* [v6]:port */
		return !(n >= 5 && !strncmp(host, "[::1]", 5));
	n = strcspn(host, ":/?#");
	if (n == 9 && !strncasecmp(host, "localhost", 9))
		return false;
	/* 127.0.0.0/8 */
	return !(n > 4 && !strncmp(host, "127.", 4) && strspn(host, "0123456789.") >= n);
}

bool ap_http_url_ok(const char *url)
{
	const char *host, *at;

	if (!strncmp(url, "http://", 7))
		host = url + 7;
	else if (!strncmp(url, "https://", 8))
		host = url + 8;
	else
		return false;
	/* no user:password@ in the authority: credentials never come from
	 * the command line (--credentials) */
	at = strchr(host, '@');
	if (at && at < host + strcspn(host, "/?#"))
		return false;
	return *host && *host != '/' && *host != '?' && *host != '#' && ap_http_value_ok(url) &&
	       !strchr(url, ' ');
}

/* the answer's body: its first bytes kept for a message, the rest dropped */
static size_t on_body(char *p, size_t sz, size_t n, void *ctx)
{
	struct ap_http *h = ctx;
	size_t len = sz * n, room = sizeof(h->body) - 1 - h->body_len;

	if (room) {
		memcpy(h->body + h->body_len, p, len < room ? len : room);
		h->body_len += len < room ? len : room;
	}
	return len;
}

static int on_progress(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct ap_http *h = ctx;
	int a = h->abort_flag ? __atomic_load_n(h->abort_flag, __ATOMIC_ACQUIRE) : AP_HTTP_GO_ON;

	/* non-zero ends the transfer */
	if (a == AP_HTTP_ABORT_UNSENT)
		return !(h->len && ultotal >= (curl_off_t)h->len && ulnow >= ultotal);
	return a == AP_HTTP_ABORT_NOW;
}

struct ap_http *ap_http__new(const char *const *headers, size_t nr_headers, const char *user,
			     const char *password, long timeout_s, char *err, size_t errlen)
{
	struct ap_http *h = xcalloc(1, sizeof(*h));
	const char *what;
	struct curl_slist *l;
	CURLcode rc;
	size_t i;

	snprintf(err, errlen, "%s", "");
	h->curl = curl_easy_init();
	if (!h->curl) {
		free(h);
		snprintf(err, errlen, "libcurl: no handle");
		errno = ENOMEM;
		return NULL;
	}
	for (i = 0; i < nr_headers; i++) {
		if (!ap_http_value_ok(headers[i]) ||
		    !(l = curl_slist_append(h->headers, headers[i]))) {
			ap_http__free(h);
			snprintf(err, errlen, "a header with a control character, or no memory");
			errno = EINVAL;
			return NULL;
		}
		h->headers = l;
	}
	/* curl adds "Expect: 100-continue" to large POSTs: one round trip more */
	h->headers = curl_slist_append(h->headers, "Expect:");
	h->timeout_s = timeout_s;
	curl_easy_setopt(h->curl, CURLOPT_NOSIGNAL, 1L);        /* threads: no SIGALRM */
	curl_easy_setopt(h->curl, CURLOPT_VERBOSE, 0L);
	curl_easy_setopt(h->curl, CURLOPT_ERRORBUFFER, h->errbuf);
	/* what keeps requests (and credentials) where they were meant to go:
	 * a libcurl that refuses one of these is not used */
	what = "no redirects";
	if ((rc = curl_easy_setopt(h->curl, CURLOPT_FOLLOWLOCATION, 0L)))
		goto err_setopt;
	what = "http and https only";
	if ((rc = curl_easy_setopt(h->curl, CURLOPT_PROTOCOLS_STR, "http,https")))
		goto err_setopt;
	what = "http and https only (redirects)";
	if ((rc = curl_easy_setopt(h->curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https")))
		goto err_setopt;
	/* "" disables proxies, those of the environment (http_proxy ...) too */
	what = "no proxy";
	if ((rc = curl_easy_setopt(h->curl, CURLOPT_PROXY, "")))
		goto err_setopt;
	curl_easy_setopt(h->curl, CURLOPT_CONNECTTIMEOUT, (long)AP_HTTP_CONNECT_TIMEOUT_S);
	curl_easy_setopt(h->curl, CURLOPT_TIMEOUT, timeout_s);
	curl_easy_setopt(h->curl, CURLOPT_LOW_SPEED_LIMIT, (long)AP_HTTP_LOW_SPEED_BPS);
	curl_easy_setopt(h->curl, CURLOPT_LOW_SPEED_TIME, (long)AP_HTTP_LOW_SPEED_S);
	curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, h);
	curl_easy_setopt(h->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h->curl, CURLOPT_XFERINFODATA, h);
	curl_easy_setopt(h->curl, CURLOPT_USERAGENT, "autoprof-bpf/" AP_VERSION);
	if (user) {
		curl_easy_setopt(h->curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(h->curl, CURLOPT_USERNAME, user);
		curl_easy_setopt(h->curl, CURLOPT_PASSWORD, password ? password : "");
	}
	return h;

err_setopt:
	snprintf(err, errlen, "libcurl refused the option for %s: %s", what, curl_easy_strerror(rc));
	ap_http__free(h);
	errno = ENOTSUP;
	return NULL;
}

/* printable first bytes of the answer */
static void body_excerpt(struct ap_http *h, char *out, size_t len)
{
	size_t i;

	for (i = 0; i < h->body_len; i++)
		if (!isprint((unsigned char)h->body[i]))
			h->body[i] = ' ';
	h->body[h->body_len] = 0;
	snprintf(out, len, "%s", h->body);
}

void ap_http__post(struct ap_http *h, const char *url, const char *ctype, const char *cenc,
		   const void *body, size_t len, const int *abort_flag,
		   struct ap_http_result *res)
{
	struct curl_slist *hdrs = NULL, *l;
	char line[256], excerpt[96];
	curl_off_t retry = 0;
	CURLcode rc;

	memset(res, 0, sizeof(*res));
	h->errbuf[0] = 0;
	h->body_len = 0;
	h->abort_flag = abort_flag;
	h->len = len;
	/* the sink's headers, then this request's */
	for (l = h->headers; l; l = l->next)
		hdrs = curl_slist_append(hdrs, l->data);
	snprintf(line, sizeof(line), "Content-Type: %s", ctype);
	hdrs = curl_slist_append(hdrs, line);
	if (cenc && *cenc) {
		snprintf(line, sizeof(line), "Content-Encoding: %s", cenc);
		hdrs = curl_slist_append(hdrs, line);
	}
	curl_easy_setopt(h->curl, CURLOPT_URL, url);
	curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h->curl, CURLOPT_POST, 1L);
	curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	rc = curl_easy_perform(h->curl);
	curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdrs);
	h->abort_flag = NULL;
	if (rc != CURLE_OK) {
		curl_off_t sent_at = 0;

		res->cls = AP_HTTP_RETRY;
		/* a timeout after the request went out: the server's (a poison
		 * request can hang it); before that, the network's */
		res->server_fault = rc == CURLE_OPERATION_TIMEDOUT &&
				    !curl_easy_getinfo(h->curl, CURLINFO_PRETRANSFER_TIME_T, &sent_at) &&
				    sent_at > 0;
		snprintf(res->what, sizeof(res->what), "%.150s",
			 h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc));
		return;
	}
	curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &res->status);
	/* seconds, or an HTTP date made seconds from now by libcurl */
	if (!curl_easy_getinfo(h->curl, CURLINFO_RETRY_AFTER, &retry) && retry > 0)
		res->retry_after_s = retry > AP_HTTP_RETRY_AFTER_MAX ? AP_HTTP_RETRY_AFTER_MAX :
								       (long)retry;
	if (res->status >= 200 && res->status < 300)
		res->cls = AP_HTTP_OK;
	else if (res->status == 429 || res->status >= 500)
		res->cls = AP_HTTP_RETRY, res->server_fault = res->status >= 500;
	else
		res->cls = AP_HTTP_PERMANENT;
	body_excerpt(h, excerpt, sizeof(excerpt));
	snprintf(res->what, sizeof(res->what), "HTTP %ld%s%s", res->status, *excerpt ? ": " : "",
		 excerpt);
}

void ap_http__free(struct ap_http *h)
{
	if (!h)
		return;
	curl_slist_free_all(h->headers);
	if (h->curl)
		curl_easy_cleanup(h->curl);
	free(h);
}
