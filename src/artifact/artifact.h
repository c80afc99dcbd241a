/* SPDX-License-Identifier: MIT */
/* Artifacts on disk: schema-versioned JSON written atomically, and loaders
 * that reject an unknown major version with a clear message. */
#ifndef AP_ARTIFACT_H
#define AP_ARTIFACT_H

#include <cjson/cJSON.h>
#include "profile/profile.h"

#define AP_SCHEMA_CPU "autoprof.cpu/1"
#define AP_SCHEMA_RUN "autoprof.run/1"

/* serialize root and write dirfd/name atomically; 0 or -errno */
int json_write_atomic(int dirfd, const char *name, const cJSON *root);
/* write root to artifacts/name under the run directory dirfd atomically
 * (creating artifacts/, never through a symlink) and free it; 0 or -errno */
int json_write_artifact(int dirfd, const char *name, cJSON *root);
/* parse text (named name in messages) and check that "schema" is
 * "<name>/<major>[.minor]"; NULL with errno set and a message logged */
cJSON *json_parse_checked(const char *text, size_t len, const char *name, const char *schema);
/* parse path and check that "schema" is "<name>/<major>[.minor]"; NULL with
 * errno set and a message logged on failure */
cJSON *json_load_checked(const char *path, const char *schema);
/* the same for dirfd/name, a file of ours (O_NOFOLLOW, regular, at most
 * AP_READ_MAX bytes); label names it in messages */
cJSON *json_load_checked_at(int dirfd, const char *name, const char *label, const char *schema);

#define AP_SCHEMA_OFFCPU "autoprof.offcpu/1.1"
#define AP_SCHEMA_SYSCALLS "autoprof.syscalls/1.1" /* 1.1: slow calls aggregated */
#define AP_SCHEMA_PROC "autoprof.proc/1"

/* the profile's strings, modules, frames and stacks tables (as in cpu.json) */
void json_add_tables(cJSON *root, const struct profile *p);

/* a file's table ids mapped to the ids they got in the profile */
struct json_tables {
	uint32_t *str, *mod, *frame, *stack;
	size_t nr_str, nr_mod, nr_frame, nr_stack;
};
/* intern root's tables into p (which may hold others already); 0 or
 * -EINVAL with *what naming the bad table; free t either way */
int json_load_tables(struct profile *p, const cJSON *root, struct json_tables *t, const char **what);
void json_tables_free(struct json_tables *t);
/* index field key of o, in [0, limit) (or -1 -> AP_NONE when allow_none); 0 or -EINVAL */
int json_get_index(const cJSON *o, const char *key, size_t limit, bool allow_none, uint32_t *out);

/* artifacts/offcpu.json and artifacts/syscalls.json */
cJSON *offcpu_json__build(const struct profile *p);
int offcpu_json__write(const struct profile *p, int dirfd);
cJSON *syscalls_json__build(const struct profile *p);
int syscalls_json__write(const struct profile *p, int dirfd);
/* load into p (empty, or holding cpu.json already); 0 or -errno, message logged */
int offcpu_json__load(struct profile *p, const char *path);
int offcpu_json__load_buf(struct profile *p, const char *text, size_t len, const char *name);
int syscalls_json__load(struct profile *p, const char *path);
int syscalls_json__load_buf(struct profile *p, const char *text, size_t len, const char *name);

/* artifacts/cpu.json of a profile */
cJSON *cpu_json__build(const struct profile *p);
int cpu_json__write(const struct profile *p, int dirfd);
/* load into an initialized, empty profile; 0 or -errno (message logged) */
int cpu_json__load(struct profile *p, const char *path);
int cpu_json__load_buf(struct profile *p, const char *text, size_t len, const char *name);

/* columns: an object of equal-length number arrays (the timelines) */
cJSON *json_add_column(cJSON *obj, const char *name);
void json_push(cJSON *col, double v);
/* the named columns of obj, all arrays of one length n; 0 or -EINVAL */
int json_get_columns(const cJSON *obj, const char *const *names, const cJSON **cols, size_t nr,
		     size_t *n);

/* offcpu.json's "intervals" (reason_map: the file's reason index -> ours, or -1) */
void json_add_intervals(cJSON *root, const struct profile *p);
int json_load_intervals(struct profile *p, const cJSON *o, const struct json_tables *t,
			const int *reason_map, size_t nr_reasons);

/* artifacts/memory.json (autoprof.memory/1): profile->mem, the memory
 * timeline and the memory flags; loaded into p (empty, or holding cpu.json
 * already); 0 or -errno, message logged */
#define AP_SCHEMA_MEMORY "autoprof.memory/1"
cJSON *memory_json__build(const struct profile *p);
int memory_json__write(const struct profile *p, int dirfd);
int memory_json__load(struct profile *p, const char *path);
int memory_json__load_buf(struct profile *p, const char *text, size_t len, const char *name);

/* u64 values that may exceed 2^53 (addresses) are written as "0x..." */
uint64_t json_u64(const cJSON *obj, const char *key);

#endif
