/* SPDX-License-Identifier: MIT */
/* Learns mappings, execs, forks and exits of every process from perf
 * side-band records (a dummy software event per CPU with mmap/comm/task
 * tracking), the way perf record does, so short-lived processes are
 * symbolized after they are gone. */
#ifndef AP_MMAPTRACK_H
#define AP_MMAPTRACK_H

#include <stdbool.h>
#include <stdint.h>
#include "process/procmaps.h"

struct mmaptrack;

/* interested(pid, ctx): only records of processes it accepts are applied */
typedef bool (*mmaptrack_filter_fn)(uint32_t pid, uint32_t ppid, void *ctx);

/* NULL with errno set on failure */
struct mmaptrack *mmaptrack__new(struct procmaps *pm, mmaptrack_filter_fn filter, void *ctx);
/* apply every record written so far, in time order; no syscalls */
void mmaptrack__consume(struct mmaptrack *mt);
void mmaptrack__free(struct mmaptrack *mt);
/* readable when records are waiting (every record wakes it) */
int mmaptrack__epoll_fd(const struct mmaptrack *mt);

#endif
