/* SPDX-License-Identifier: MIT */
/* A bump arena for the cJSON trees of artifacts being loaded: a 20 MB
 * cpu.json parses into about a million small allocations, and their
 * malloc and free were a third of `diff`'s time on two runs of 50k stacks
 * (issue 17). Between begin and end, this thread's cJSON allocations come
 * from the arena and freeing them does nothing; end frees it all. Every
 * tree parsed inside must be deleted (or dropped) before end. */
#ifndef AP_JSON_ARENA_H
#define AP_JSON_ARENA_H

/* install the cJSON hooks once (idempotent; outside an arena they are
 * malloc and free), then start this thread's arena */
void json_arena_begin(void);
/* free this thread's arena; no-op without one */
void json_arena_end(void);

#endif
