// SPDX-License-Identifier: MIT
/* The cJSON arena of json_arena.h: blocks of 4 MB (or one larger block
 * for a larger request), pointers bumped 16-byte aligned, per thread.
 * Freeing inside the arena does nothing, so a tree parsed before begin must
 * not be deleted between begin and end (it would leak). */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <cjson/cJSON.h>
#include "artifact/json_arena.h"
#include "util.h"

#define BLOCK_SIZE (4u << 20)

struct block {
	struct block *next;
	char *end, *cur;
	_Alignas(16) char data[];
};

static __thread struct block *arena; /* NULL: no arena on this thread */
static __thread bool arena_on;

static void *arena_malloc(size_t n)
{
	struct block *b = arena;
	size_t sz;
	void *p;

	if (!arena_on)
		return malloc(n);
	n = (n + 15) & ~(size_t)15;
	if (!b || (size_t)(b->end - b->cur) < n) {
		sz = n > BLOCK_SIZE ? n : BLOCK_SIZE;
		b = malloc(sizeof(*b) + sz);
		if (!b)
			return NULL;
		b->cur = b->data, b->end = b->data + sz;
		/* a large one-off block goes second, so the current one stays in use */
		if (arena && n > BLOCK_SIZE) {
			b->next = arena->next, arena->next = b;
			b->cur = b->end;
			return b->data;
		}
		b->next = arena, arena = b;
	}
	p = b->cur;
	b->cur += n;
	return p;
}

/* inside an arena every cJSON allocation is the arena's (the trees parsed
 * there are deleted there): nothing to free one by one */
static void arena_free(void *p)
{
	if (!arena_on)
		free(p);
}

static void install(void)
{
	cJSON_Hooks h = { .malloc_fn = arena_malloc, .free_fn = arena_free };

	cJSON_InitHooks(&h);
}

void json_arena_begin(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, install);
	arena_on = true;
}

void json_arena_end(void)
{
	struct block *b;

	arena_on = false;
	while ((b = arena)) {
		arena = b->next;
		free(b);
	}
}
