// SPDX-License-Identifier: MIT
/* Draining a BPF hash map; see mapdrain.h. */
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <sys/utsname.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "collect/mapdrain.h"
#include "util.h"

#define BATCH 256

/* one entry at a time: the first key, read and deleted, until none */
static long drain_one_by_one(int fd, uint32_t ksz, uint32_t vsz, map_drain_fn fn, void *ctx)
{
	char *k = xmalloc(ksz), *v = xmalloc(vsz);
	long n = 0;

	while (!bpf_map_get_next_key(fd, NULL, k)) {
		if (bpf_map_lookup_elem(fd, k, v)) {
			bpf_map_delete_elem(fd, k); /* gone or unreadable: do not loop on it */
			continue;
		}
		bpf_map_delete_elem(fd, k);
		fn(k, v, ctx);
		n++;
	}
	free(k);
	free(v);
	return n;
}

long map_drain(int fd, uint32_t ksz, uint32_t vsz, map_drain_fn fn, void *ctx)
{
	uint32_t cap = BATCH, count, i;
	char *keys = xmalloc((size_t)cap * ksz), *vals = xmalloc((size_t)cap * vsz);
	uint64_t in_tok = 0, out_tok = 0; /* a hash map's batch position: a bucket index */
	void *in = NULL;
	long n = 0;
	int err;

	for (;;) {
		count = cap;
		err = bpf_map_lookup_and_delete_batch(fd, in, &out_tok, keys, vals, &count, NULL);
		err = err ? -errno : 0;
		for (i = 0; i < count && (!err || err == -ENOENT); i++)
			fn(keys + (size_t)i * ksz, vals + (size_t)i * vsz, ctx);
		if (!err || err == -ENOENT)
			n += count;
		if (err == -ENOENT)
			break;
		if (err == -ENOSPC && cap < 65536) { /* a bucket holds more than cap */
			cap *= 2;
			keys = xrealloc(keys, (size_t)cap * ksz);
			vals = xrealloc(vals, (size_t)cap * vsz);
			continue;
		}
		if (err) {
			/* no batch operations on this kernel or map: one by one */
			if (!n && (err == -EINVAL || err == -ENOTSUP || err == -524 /* ENOTSUPP */))
				n = drain_one_by_one(fd, ksz, vsz, fn, ctx);
			else if (!n)
				n = err;
			break;
		}
		in_tok = out_tok;
		in = &in_tok;
	}
	free(keys);
	free(vals);
	return n;
}

bool map_drain_no_prealloc(struct bpf_map *map)
{
	struct utsname u;
	int major = 0, minor = 0;

	if (uname(&u) || sscanf(u.release, "%d.%d", &major, &minor) != 2)
		return false;
	if (major < 6 || (major == 6 && minor < 1))
		return false;
	return !bpf_map__set_map_flags(map, bpf_map__map_flags(map) | BPF_F_NO_PREALLOC);
}
