/* SPDX-License-Identifier: MIT */
/* The Pyroscope sink's requests: Grafana Pyroscope's HTTP ingest,
 *   POST URL/ingest?name=SERVICE{host_name=H}&from=S&until=E&format=pprof
 *        &sampleRate=HZ&spyName=autoprof-bpf
 * with one window's pprof (gzip) of one service as the body. A process's
 * service is its labels' service, else "unknown_service:" + its
 * executable's name (the OpenTelemetry convention). At most
 * AP_PYROSCOPE_SERVICES_MAX requests a window: past that, the services
 * with the fewest samples are merged into one request named
 * AP_PYROSCOPE_OTHER (and counted).
 *
 * Series labels are only those of the name (service_name from it, and
 * host_name): Pyroscope makes every distinct set of a sample's string
 * labels a series of its own, so the samples carry only pid and tid, as
 * numbers, which it keeps in the profile but not in series. */
#ifndef AP_PYROSCOPE_H
#define AP_PYROSCOPE_H

#include <stddef.h>
#include <stdint.h>

#define AP_PYROSCOPE_SERVICES_MAX 256
#define AP_PYROSCOPE_OTHER "autoprof-bpf.other_services"
#define AP_PYROSCOPE_NAME_MAX 200       /* a service name or label value is cut there */

struct profile;
struct ap_window_info;
struct ap_push;

struct ap_pyroscope_result {
	size_t requests;        /* spooled */
	size_t failed;          /* could not be rendered or spooled */
	size_t services;        /* in the window */
	size_t merged;          /* services merged into AP_PYROSCOPE_OTHER */
	uint64_t bytes;         /* bodies spooled */
};

/* Render win (a compacted window) per service and spool each request on
 * sink, then sync the spool once (ap_push__sync). 0, or the first -errno (the other services are still tried). */
int pyroscope__push_window(struct ap_push *sink, const struct profile *win,
			   const struct ap_window_info *wi, const char *host_name,
			   struct ap_pyroscope_result *res);

/* "name" made safe inside Pyroscope's name{k=v,...} syntax: { } , = " \
 * spaces and control characters become _, cut at AP_PYROSCOPE_NAME_MAX */
void pyroscope_clean(const char *s, char *out, size_t len);

#endif
