/* SPDX-License-Identifier: MIT */
/* One HTTP POST through libcurl's easy interface, for the push sinks:
 * connect timeout 5 s, a total timeout per request, a stalled transfer
 * ended (under 100 B/s for 20 s, or the total timeout when shorter), no
 * redirects, no proxy
 * (not even from the environment), http and https only, nothing printed,
 * and the result classified for the sender: 2xx ok; 429, 5xx, network
 * errors and timeouts retryable (Retry-After honoured, seconds or an HTTP
 * date, capped at AP_HTTP_RETRY_AFTER_MAX); every other status permanent.
 * A handle is used by one thread at a time (the sink's sender). */
#ifndef AP_HTTP_H
#define AP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AP_HTTP_CONNECT_TIMEOUT_S 5
#define AP_HTTP_LOW_SPEED_BPS 100       /* a transfer slower than this ... */
#define AP_HTTP_LOW_SPEED_S 20          /* ... for this long is a stall: ended (retryable) */
#define AP_HTTP_RETRY_AFTER_MAX 300     /* seconds */
#define AP_HTTP_HEADERS_MAX 32

enum ap_http_class { AP_HTTP_OK, AP_HTTP_RETRY, AP_HTTP_PERMANENT };

struct ap_http_result {
	enum ap_http_class cls;
	long status;            /* 0: no HTTP answer (network error, timeout) */
	long retry_after_s;     /* from the answer, 0 none */
	bool server_fault;      /* retryable and the server's doing: 5xx, or a timeout or a
				 * stall once connected (not 429, not a failed connect) */
	char what[160];         /* "HTTP 503: <first bytes of the body>" or curl's error */
};

struct ap_http;

/* What every request of a sink carries: extra headers ("Name: value"; no
 * CR/LF allowed), basic-auth user and password (NULL none), the total
 * timeout in seconds. NULL, errno set and what failed in err on failure
 * (a libcurl that refuses no redirects, http/https only or no proxy is
 * not used: -ENOTSUP). */
struct ap_http *ap_http__new(const char *const *headers, size_t nr_headers, const char *user,
			     const char *password, long timeout_s, char *err, size_t errlen);
/* what *abort_flag of ap_http__post() asks (read with __atomic) */
enum ap_http_abort {
	AP_HTTP_GO_ON,
	AP_HTTP_ABORT_UNSENT,   /* end the transfer unless the body was sent in full: then
				 * the answer is awaited (the server may have taken it) */
	AP_HTTP_ABORT_NOW,      /* end it whatever its state */
};

/* POST body to url. abort_flag (may be NULL; enum ap_http_abort), when it
 * is set, ends the transfer early (a retryable result). Always fills
 * *res. */
void ap_http__post(struct ap_http *h, const char *url, const char *ctype, const char *cenc,
		   const void *body, size_t len, const int *abort_flag,
		   struct ap_http_result *res);
void ap_http__free(struct ap_http *h);

/* once, before any thread starts: libcurl's global setup; 0 or -EIO */
int ap_http_global_init(void);
/* is url plain http to a host that is not loopback (localhost,
 * 127.0.0.0/8, [::1])? Credentials sent there cross the network in clear. */
bool ap_http_url_plain_remote(const char *url);
/* is url "http://..." or "https://..." with a host and no user:password@? */
bool ap_http_url_ok(const char *url);
/* does a header value hold only printable characters (no CR, LF, NUL)? */
bool ap_http_value_ok(const char *s);

#endif
