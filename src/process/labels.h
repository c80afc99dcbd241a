/* SPDX-License-Identifier: MIT */
/* Per-process labels: the cgroup v2 path, the container id found in it, the
 * service (OTEL_SERVICE_NAME from the environment, else the systemd unit or
 * session scope of the cgroup), the runtime ("CPython 3.12") and the build
 * id of the executable. Read once when a process is first seen, kept with
 * it (struct ap_proc.labels), dropped at its exec; a reused pid is a new
 * process. The parsers are pure functions on text, for the unit tests. */
#ifndef AP_LABELS_H
#define AP_LABELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct profile;
struct ap_process;

/* caps on what is read from a process and kept */
#define AP_LABELS_ENVIRON_MAX (256u << 10) /* bytes of /proc/PID/environ read */
#define AP_LABELS_CGROUP_MAX 4096          /* bytes of /proc/PID/cgroup read */
#define AP_LABELS_VALUE_MAX 255            /* a label value longer than this is cut */
#define AP_CONTAINER_ID_LEN 64

struct ap_labels {
	char *cgroup;           /* cgroup v2 path ("/system.slice/nginx.service"), NULL unknown */
	char *container_id;     /* 64 lower-case hex digits, NULL none */
	char *service;          /* OTEL_SERVICE_NAME, else the unit or scope, NULL none */
	char *runtime;          /* "CPython 3.12", NULL unknown */
	char *py_missing;       /* why its Python frames were not walked (a reason code), NULL */
	char *py_missing_why;   /* the same in one line, NULL */
	char *build_id;         /* of the executable, lower-case hex, NULL unknown */
	bool service_from_env;  /* service came from the environment */
};

/* counters of the label reads (process-wide, monotonic) */
struct ap_labels_stats {
	uint64_t reads;             /* processes whose labels were read */
	uint64_t cgroup_failed;     /* /proc/PID/cgroup unreadable (gone, no v2 line) */
	uint64_t environ_failed;    /* /proc/PID/environ unreadable */
	uint64_t environ_truncated; /* environments longer than AP_LABELS_ENVIRON_MAX */
};

/* The path of the cgroup v2 line ("0::PATH") of /proc/PID/cgroup text,
 * else of the v1 name=systemd line; copied (cut) into out. 0 or -ENOENT. */
int labels_parse_cgroup(const char *text, char *out, size_t len);
/* The container id in a cgroup path: a 64-hex component, bare (/docker/ID,
 * /kubepods/.../ID) or as docker-ID.scope, cri-containerd-ID.scope,
 * crio-ID.scope, libpod-ID.scope, containerd-ID.scope; the innermost wins.
 * out >= 65 bytes. true if found. */
bool labels_container_id(const char *cgpath, char *out, size_t len);
/* The service of a cgroup path: the innermost component that is a systemd
 * service ("nginx.service", "user@1000.service") or a login session scope
 * ("session-3.scope"). true if found. */
bool labels_cgroup_service(const char *cgpath, char *out, size_t len);
/* The service named by an environment block (NUL-separated, len bytes):
 * OTEL_SERVICE_NAME, else service.name in OTEL_RESOURCE_ATTRIBUTES (the
 * OpenTelemetry SDK's order). Empty values do not count. true if found. */
bool labels_environ_service(const char *env, size_t len, char *out, size_t outlen);

/* Read pid's labels from /proc (cgroup, environ; the build id from
 * exe_build_id when the caller knows it, else from /proc/PID/exe). Best
 * effort: what cannot be read stays NULL (and is counted). Free with
 * ap_labels__free(). Never NULL. */
struct ap_labels *ap_labels__read(uint32_t pid, const char *exe_build_id);
/* the interpreter this process runs: "CPython 3.<minor>" (minor > 0) */
/* "CPython 3.12"; free-threaded: "CPython 3.14t" */
void ap_labels__set_runtime(struct ap_labels *l, int py_major, int py_minor, bool ft);
/* an interpreter whose Python frames are not walked: runtime seen ("CPython
 * 3.16", NULL unknown; does not replace a walked one), reason code, text */
void ap_labels__set_py_missing(struct ap_labels *l, const char *runtime, const char *code,
			       const char *why);
/* copy l into pr's label string ids of profile p (NULL l: none) */
void ap_labels__to_process(const struct ap_labels *l, struct profile *p, struct ap_process *pr);
void ap_labels__free(struct ap_labels *l);
void ap_labels__stats(struct ap_labels_stats *out);

#endif
