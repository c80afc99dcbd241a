/* SPDX-License-Identifier: MIT */
/* Merging profiles: the windows of the agent's store read back as one
 * profile, for `analyze STORE`. */
#ifndef AP_PROFILE_MERGE_H
#define AP_PROFILE_MERGE_H

#include "profile/profile.h"

/* Add src into dst: its modules, frames and stacks re-interned in dst's
 * tables; sample counts, threads (with their scheduler totals), processes
 * (names and labels; the later window's win where both have one), off-CPU
 * rows and counters summed. Per-event records (timeline, intervals) and
 * syscall rows are not merged. Processes are keyed by pid, so two
 * processes of one reused pid in the range become one. */
void profile__merge(struct profile *dst, const struct profile *src);

#endif
