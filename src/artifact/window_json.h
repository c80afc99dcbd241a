/* SPDX-License-Identifier: MIT */
/* window.json (schema autoprof.window/1): the agent's summary of one
 * window: its span, the processes sampled in it, totals, every loss and
 * eviction counter of the window, the store's deletions and drops, and the
 * agent's own cost. Small by construction: at most AP_WINDOW_PROCS_MAX
 * processes are listed (the most sampled; the rest are counted). */
#ifndef AP_WINDOW_JSON_H
#define AP_WINDOW_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "profile/profile.h"
#include "sink/push.h"

#define AP_SCHEMA_WINDOW "autoprof.window/1"
#define AP_WINDOW_PROCS_MAX 500

/* what the window's profile does not hold; filled by the agent */
struct ap_window_info {
	uint64_t seq;                   /* 1 for the agent's first window */
	uint64_t start_real_ns, end_real_ns;
	uint64_t start_mono_ns, end_mono_ns;
	bool last;                      /* flushed at SIGTERM/SIGINT: a partial window */
	int nr_cpus;
	/* the store: in this window, and since the agent started */
	uint64_t deleted, deleted_total;               /* windows deleted for --max-disk or a full disk */
	uint64_t deleted_bytes, deleted_bytes_total;
	uint64_t dropped, dropped_total;               /* windows that could not be written */
	uint64_t temp_removed;                         /* partial windows removed at start */
	uint64_t store_bytes, max_bytes;               /* the store's size now and its cap */
	/* the agent's own cost */
	double cpu_s;                   /* user + system CPU seconds in this window */
	double cpu_total_s;             /* ... since the agent started */
	long rss_kb, max_rss_kb;        /* resident now, and the peak so far */
	/* the counters since the agent started (the window's own are in its
	 * profile); NULL: not written */
	const struct ap_counter_val *totals;
	size_t nr_totals;
	/* the push sinks (window.json "sinks", by name): their counters, and
	 * this window's requests */
	struct ap_window_sink {
		struct ap_push_stats st;
		uint64_t requests, requests_failed, bytes;
		uint64_t services, services_merged, services_merged_total; /* pyroscope */
	} sinks[AP_PUSH_SINKS_MAX];
	size_t nr_sinks;
};

/* the summary of win; caller frees with cJSON_Delete */
cJSON *window_json__build(const struct profile *win, const struct ap_window_info *wi);
/* write dirfd/window.json atomically; 0 or -errno */
int window_json__write(const struct profile *win, const struct ap_window_info *wi, int dirfd);

#endif
