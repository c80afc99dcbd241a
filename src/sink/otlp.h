/* SPDX-License-Identifier: MIT */
/* One agent window as one OTLP profiles export request (the body of
 * POST URL/v1development/profiles, Content-Type application/x-protobuf;
 * messages opentelemetry.proto.profiles.v1development of
 * opentelemetry-proto 1.10/1.11, our .proto files in proto/otlp, encoded by
 * protobuf-c).
 *
 * The request holds:
 *  - one ResourceProfiles per process of the window, with the resource
 *    attributes service.name (the process's service label, else
 *    "unknown_service:" + executable name), process.pid,
 *    process.executable.path, process.executable.name, container.id (when
 *    known) and host.name; one ScopeProfiles (scope "autoprof-bpf",
 *    AP_VERSION) holding
 *      - the on-CPU profile: sample type samples/count, period type
 *        cpu/nanoseconds, period 1e9/Hz, one Sample per (thread, stack)
 *        whose single value is its number of samples;
 *      - when the window has off-CPU data, an off-CPU profile: sample type
 *        off_cpu/nanoseconds, one Sample per (thread, stack, reason);
 *      - when the window has memory data, one profile per memory kind
 *        with rows: memory/bytes (page faults' bytes, sampled), and with
 *        --malloc alloc_space/bytes and inuse_space/bytes (pprof's heap
 *        names), one Sample per (thread, stack) whose value is its bytes;
 *    each Sample has the attributes thread.id and thread.name (and
 *    autoprof.offcpu.reason off CPU); every profile spans the window
 *    (time_unix_nano, duration_nano from its wall-clock start and end);
 *  - one ProfilesDictionary shared by all processes: strings, functions,
 *    mappings (one per native file, with its GNU build id), locations (one
 *    per frame, with profile.frame.type cpython, native or kernel, and no
 *    address: frames are named here), stacks
 *    (leaf first, the frames of the mixed view that profile.pb.gz shows)
 *    and attributes, each deduplicated, row 0 of each the empty value.
 *
 * Bounds: the window is already capped (the engine's tables and
 * per-window caps, profile.h); the request is linear in the window's
 * compacted tables and rows (every table index fits an int32 by those
 * caps) and built in one pass with a few temporary arrays of the same
 * size, freed before returning. Not compressed: gzip is the caller's
 * (ap_gzip_buf in report/formats.h). */
#ifndef AP_SINK_OTLP_H
#define AP_SINK_OTLP_H

#include <stddef.h>
#include <stdint.h>
#include "artifact/window_json.h"
#include "profile/profile.h"

#define AP_OTLP_SCOPE "autoprof-bpf"

/* Encode win (a window as the agent writes it: compacted, counters as
 * deltas) with its span from wi and host_name (NULL or "": no host.name)
 * into *out (malloc'd protobuf bytes, caller frees) and *len. 0 or
 * -EINVAL (a NULL argument). */
int otlp__encode_window(const struct profile *win, const struct ap_window_info *wi,
			const char *host_name, uint8_t **out, size_t *len);

#endif
