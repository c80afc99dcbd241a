// SPDX-License-Identifier: MIT
/* Issue 12 (mapsafe): empty keys and stacks under UBSan, the fd-kind names,
 * opening target-named files, and kernel symbols of BPF programs. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "hashmap.h"
#include "profile/profile.h"
#include "shared.h"
#include "unit.h"
#include "util.h"

/* an empty stack reaches memcpy/memcmp as (dst, NULL, 0): undefined, and
 * UBSan (nonnull-attribute, no recovery in this binary) aborts on it */
TEST(empty_key_and_stack)
{
	struct hmap m = { 0 };
	struct profile p;
	uint64_t v = 0;
	uint32_t a, b;

	hmap_put(&m, NULL, 0, 7);
	ASSERT_TRUE(hmap_get(&m, NULL, 0, &v), "empty key found");
	ASSERT_EQ(v, 7, "empty key value");
	hmap_put(&m, "x", 1, 8);
	ASSERT_TRUE(hmap_get(&m, NULL, 0, &v) && v == 7, "empty key distinct from \"x\"");
	hmap_free(&m);

	profile__init(&p);
	a = profile__stack(&p, NULL, 0);
	b = profile__stack(&p, NULL, 0);
	ASSERT_EQ(a, b, "the empty stack interned once");
	ASSERT_EQ(p.stacks[a].len, 0, "empty stack has no frames");
	profile__free(&p);
}

TEST(fd_kind_names)
{
	int k;

	for (k = AP_FD_NONE + 1; k < AP_FD__COUNT; k++)
		ASSERT_TRUE(ap_fd_kind_names[k] && ap_fd_kind_names[k][0], "every fd kind named");
	ASSERT_STREQ(ap_fd_kind_names[AP_FD_TTY], "tty", "terminals");
	ASSERT_STREQ(ap_fd_kind_names[AP_FD_CHARDEV], "chardev", "other character devices");
}
