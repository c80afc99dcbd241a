// SPDX-License-Identifier: MIT
/* Parsing, atomic writes and the hash map. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include "hashmap.h"
#include "unit.h"
#include "util.h"

TEST(parse_long_strict)
{
	long v = 0;

	ASSERT_EQ(parse_long("99", 1, 10000, &v), 0, "plain number");
	ASSERT_EQ(v, 99, "value");
	ASSERT_EQ(parse_long("0", 1, 10000, &v), -ERANGE, "below range");
	ASSERT_EQ(parse_long("10001", 1, 10000, &v), -ERANGE, "above range");
	ASSERT_EQ(parse_long("12abc", 1, 10000, &v), -EINVAL, "trailing junk");
	ASSERT_EQ(parse_long("", 1, 10000, &v), -EINVAL, "empty");
	ASSERT_EQ(parse_long("99999999999999999999", 1, 10000, &v), -ERANGE, "overflow");
	ASSERT_EQ(parse_long(" 99", 1, 10000, &v), -EINVAL, "leading space");
	ASSERT_EQ(parse_long("+99", 1, 10000, &v), -EINVAL, "plus sign");
	ASSERT_EQ(parse_long("0x63", 0, 10000, &v), -EINVAL, "hexadecimal");
	ASSERT_EQ(parse_long("99 ", 1, 10000, &v), -EINVAL, "trailing space");
	ASSERT_EQ(parse_long("-5", 0, 10000, &v), -EINVAL, "sign where negatives are not allowed");
	ASSERT_EQ(parse_long("-5", -10, 10, &v), 0, "negative where allowed");
	ASSERT_EQ(v, -5, "negative value");
	ASSERT_EQ(parse_long("010", 0, 100, &v), 0, "leading zero is decimal");
	ASSERT_EQ(v, 10, "010 is ten");
}

TEST(parse_seconds)
{
	uint64_t ns = 0;

	ASSERT_EQ(parse_seconds("2.5", &ns), 0, "fraction");
	ASSERT_EQ(ns, 2500000000ull, "2.5 s in ns");
	ASSERT_EQ(parse_seconds("-1", &ns), -EINVAL, "negative");
	ASSERT_EQ(parse_seconds("0", &ns), -EINVAL, "zero");
	ASSERT_EQ(parse_seconds("3s", &ns), -EINVAL, "unit suffix");
	ASSERT_EQ(parse_seconds("nan", &ns), -EINVAL, "nan");
	ASSERT_EQ(parse_seconds(" 1", &ns), -EINVAL, "leading space");
	ASSERT_EQ(parse_seconds("+1", &ns), -EINVAL, "plus sign");
	ASSERT_EQ(parse_seconds("0x10", &ns), -EINVAL, "hexadecimal");
	ASSERT_EQ(parse_seconds("1e3", &ns), -EINVAL, "exponent");
	ASSERT_EQ(parse_seconds("inf", &ns), -EINVAL, "inf");
	ASSERT_EQ(parse_seconds(".", &ns), -EINVAL, "a dot alone");
	ASSERT_EQ(parse_seconds("1.", &ns), 0, "1.");
	ASSERT_EQ(parse_seconds(".5", &ns), 0, ".5");
	ASSERT_EQ(ns, 500000000ull, ".5 s in ns");
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.' || strncmp(e->d_name, ".f", 2) == 0;
	if (d)
		closedir(d);
	return n;
}

TEST(write_file_atomic)
{
	char dir[] = "/tmp/ap-unit-XXXXXX", *path, *got;
	size_t len;

	ASSERT_TRUE(mkdtemp(dir) != NULL, "temp dir");
	ASSERT_EQ(write_file_atomic(dir, "f", "hello", 5), 0, "first write");
	ASSERT_EQ(write_file_atomic(dir, "f", "bye", 3), 0, "overwrite");
	path = xasprintf("%s/f", dir);
	got = read_file(path, &len);
	ASSERT_STREQ(got, "bye", "content is the last write");
	ASSERT_EQ(count_entries(dir), 1, "no temp files left behind");
	ASSERT_EQ(write_file_atomic("/nonexistent/dir", "f", "x", 1), -ENOENT, "missing dir");
	unlink(path);
	rmdir(dir);
	free(got);
	free(path);
}

TEST(mkdir_p)
{
	char dir[] = "/tmp/ap-unit-XXXXXX", *deep;

	ASSERT_TRUE(mkdtemp(dir) != NULL, "temp dir");
	deep = xasprintf("%s/a/b/c", dir);
	ASSERT_EQ(mkdir_p(deep, 0755), 0, "nested");
	ASSERT_EQ(mkdir_p(deep, 0755), 0, "existing is fine");
	ASSERT_EQ(mkdir_p("/proc/self/status/x", 0755), -ENOTDIR, "under a file");
	free(deep);
	deep = xasprintf("rm -rf %s", dir);
	ASSERT_EQ(system(deep), 0, "cleanup");
	free(deep);
}

TEST(hashmap)
{
	struct hmap m = { 0 };
	uint64_t v = 0;
	bool is_new;
	int i, bad = 0;

	for (i = 0; i < 10000; i++)
		hmap_put(&m, &i, sizeof(i), i * 7);
	ASSERT_EQ(m.len, 10000, "size");
	for (i = 0; i < 10000; i++)
		bad += !hmap_get(&m, &i, sizeof(i), &v) || v != (uint64_t)i * 7;
	ASSERT_EQ(bad, 0, "every key maps to its value");
	i = 12345;
	ASSERT_TRUE(!hmap_get(&m, &i, sizeof(i), &v), "absent key");
	*hmap_upsert(&m, "abc", 3, 1, &is_new) += 1;
	ASSERT_TRUE(is_new, "upsert inserts");
	*hmap_upsert(&m, "abc", 3, 1, &is_new) += 1;
	ASSERT_TRUE(!is_new, "upsert finds");
	ASSERT_TRUE(hmap_get(&m, "abc", 3, &v) && v == 3, "upsert updates in place");
	hmap_free(&m);
}
