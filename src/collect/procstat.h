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
/* points kept per process: at the cap every other point is dropped and the
 * process is read half as often from then on, so a long run keeps 600-1200
 * points over its whole length (~100 KB of proc.json per process) */
#define AP_PROCSTAT_POINTS_MAX 1200

struct procstat;

struct procstat *procstat__new(uint64_t start_ns);
/* one sample of every pid in tracked (keys are uint32_t pids) at now_ns */
void procstat__sample(struct procstat *ps, const struct hmap *tracked, uint64_t now_ns);
/* artifacts/proc.json; 0 or -errno */
int procstat__write(const struct procstat *ps, int dirfd);
void procstat__free(struct procstat *ps);

#endif
