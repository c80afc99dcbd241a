/* SPDX-License-Identifier: MIT */
/* A window with only the symbols it uses. A window borrows the live
 * profile's symbol tables, which hold every string, frame and stack of the
 * run up to the purge caps (tens of thousands on a busy host); the agent
 * writes each window with only the stacks its rows name, and the frames,
 * modules and strings those need, so a window's files are the size of
 * what happened in it, not of the tables. */
#ifndef AP_PROFILE_COMPACT_H
#define AP_PROFILE_COMPACT_H

#include "profile/profile.h"

/* Initialize out as a copy of win's rows (counts, threads with their
 * scheduler totals, processes with their labels, off-CPU rows, syscall rows
 * and errors, slow calls, the timeline and intervals, counters, and the
 * scalars) over tables holding only what those rows use: stacks
 * re-interned, their frames, modules and strings. out owns everything;
 * free it with profile__free(). win may be a window or any profile. */
void profile__compact(const struct profile *win, struct profile *out);

#endif
