/* SPDX-License-Identifier: MIT */
/* The process metrics timeline: every 100 ms, for every tracked process
 * still alive, CPU %, RSS, threads, context switches, page faults and I/O
 * bytes read from /proc; written as artifacts/proc.json. */
#ifndef AP_PROCSTAT_H
#define AP_PROCSTAT_H

#include <stdint.h>
#include "hashmap.h"

#define AP_PROCSTAT_INTERVAL_NS 100000000ull
#define AP_PROCSTAT_THREADS 256    /* thread status files read per process and sample, about */

struct procstat;

struct procstat *procstat__new(uint64_t start_ns);
/* one sample of every pid in tracked (keys are uint32_t pids) at now_ns */
void procstat__sample(struct procstat *ps, const struct hmap *tracked, uint64_t now_ns);
/* artifacts/proc.json; 0 or -errno */
int procstat__write(const struct procstat *ps, int dirfd);
void procstat__free(struct procstat *ps);

#endif
