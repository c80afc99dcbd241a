/* SPDX-License-Identifier: MIT */
/* A byte-keyed open-addressing hash map from keys to 64-bit values.
 * Hand-written because libc has no reentrant hash table (hsearch is one
 * global table) and the only well-kept ones (GLib) would pull in a large
 * dependency for ~100 lines. Keys are copied; values are plain integers
 * (an index into an array owned by the caller). */
#ifndef AP_HASHMAP_H
#define AP_HASHMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hmap_ent {
	uint64_t hash;
	void *key;      /* NULL: empty slot */
	uint32_t klen;
	uint64_t val;
};

struct hmap {
	struct hmap_ent *ents;
	size_t cap, len; /* cap is a power of 2 */
};

/* true and *val set if key is present */
bool hmap_get(const struct hmap *m, const void *key, size_t klen, uint64_t *val);
/* insert or overwrite */
void hmap_put(struct hmap *m, const void *key, size_t klen, uint64_t val);
/* pointer to the value slot for key, inserting init if absent; *is_new tells which */
uint64_t *hmap_upsert(struct hmap *m, const void *key, size_t klen, uint64_t init, bool *is_new);
void hmap_free(struct hmap *m);

#endif
