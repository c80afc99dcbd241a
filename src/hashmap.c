// SPDX-License-Identifier: MIT
/* Open addressing with linear probing; grows at 50% load. No deletion: the
 * profiler only ever adds keys during a run. */
#include <string.h>
#include <stdlib.h>
#include "hashmap.h"
#include "util.h"

static struct hmap_ent *find(const struct hmap *m, uint64_t h, const void *key, size_t klen)
{
	size_t i = h & (m->cap - 1);

	for (;; i = (i + 1) & (m->cap - 1)) {
		struct hmap_ent *e = &m->ents[i];

		if (!e->key || (e->hash == h && e->klen == klen && (!klen || !memcmp(e->key, key, klen))))
			return e;
	}
}

static void rehash(struct hmap *m)
{
	struct hmap_ent *old = m->ents;
	size_t i, oldcap = m->cap;

	m->cap = oldcap ? oldcap * 2 : 64;
	m->ents = xcalloc(m->cap, sizeof(*m->ents));
	for (i = 0; i < oldcap; i++) {
		if (old[i].key)
			*find(m, old[i].hash, old[i].key, old[i].klen) = old[i];
	}
	free(old);
}

bool hmap_get(const struct hmap *m, const void *key, size_t klen, uint64_t *val)
{
	struct hmap_ent *e;

	if (!m->cap)
		return false;
	e = find(m, hash_bytes(key, klen), key, klen);
	if (!e->key)
		return false;
	*val = e->val;
	return true;
}

uint64_t *hmap_upsert(struct hmap *m, const void *key, size_t klen, uint64_t init, bool *is_new)
{
	uint64_t h = hash_bytes(key, klen);
	struct hmap_ent *e;

	if ((m->len + 1) * 2 > m->cap)
		rehash(m);
	e = find(m, h, key, klen);
	if (is_new)
		*is_new = !e->key;
	if (!e->key) {
		e->key = xmalloc(klen ? klen : 1);
		if (klen) /* an empty key may come as NULL; memcpy(d, NULL, 0) is undefined */
			memcpy(e->key, key, klen);
		e->klen = klen;
		e->hash = h;
		e->val = init;
		m->len++;
	}
	return &e->val;
}

void hmap_put(struct hmap *m, const void *key, size_t klen, uint64_t val)
{
	*hmap_upsert(m, key, klen, val, NULL) = val;
}

void hmap_free(struct hmap *m)
{
	size_t i;

	for (i = 0; i < m->cap; i++)
		free(m->ents[i].key);
	free(m->ents);
	m->ents = NULL;
	m->cap = m->len = 0;
}
