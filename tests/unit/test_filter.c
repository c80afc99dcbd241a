// SPDX-License-Identifier: MIT
/* The system-wide filter options (src/filter.c): what they accept, the
 * caps, and the one-line refusals of bad input. */
#include <stdlib.h>
#include <unistd.h>
#include "filter.h"
#include "shared.h"
#include "unit.h"

TEST(filter_parse_and_describe)
{
	struct ap_filter f = { 0 };
	char *d;

	ASSERT_EQ(ap_filter__add_pids(&f, "4000000,4000001", false), 0, "two pids");
	ASSERT_EQ(ap_filter__add_pids(&f, "4000000", false), 0, "a pid again");
	ASSERT_EQ(ap_filter__option(&f, AP_OPT_FILTER_COMM, "python3"), 0, "--comm");
	ASSERT_EQ(ap_filter__option(&f, AP_OPT_FILTER_EXCL_COMM, "123456789012345"), 0,
		  "15 bytes is a comm");
	ASSERT_EQ(ap_filter__option(&f, AP_OPT_FILTER_EXCL_PID, "4000002"), 0, "--exclude-pid");
	ASSERT_EQ(ap_filter__option(&f, 'x', "y"), 1, "not a filter option");
	ASSERT_EQ(f.nr, 5, "rules (the repeated pid once)");
	ASSERT_EQ(f.nr_kind[AP_FILTER_PID][0], 2, "pid includes");
	ASSERT_EQ(f.nr_kind[AP_FILTER_PID][1], 1, "pid exclusions");
	d = ap_filter__describe(&f);
	ASSERT_STREQ(d, "pid=4000000 pid=4000001 comm=python3 exclude-comm=123456789012345 "
		     "exclude-pid=4000002", "described");
	free(d);
	ap_filter__free(&f);
	ASSERT_TRUE(ap_filter__empty(&f), "empty after free");
}

TEST(filter_bad_input)
{
	struct ap_filter f = { 0 };
	char pid[16];
	int i, err = 0;

	ASSERT_EQ(ap_filter__add_pids(&f, "12a", false), -2, "non-numeric pid");
	ASSERT_EQ(ap_filter__add_pids(&f, "1,,2", false), -2, "empty list item");
	ASSERT_EQ(ap_filter__add_pids(&f, "0", true), -2, "pid 0");
	ASSERT_EQ(ap_filter__option(&f, AP_OPT_FILTER_COMM, "1234567890123456"), -2,
		  "16-byte comm");
	ASSERT_EQ(ap_filter__option(&f, AP_OPT_FILTER_COMM, ""), -2, "empty comm");
	ASSERT_EQ(ap_filter__option(&f, AP_OPT_FILTER_CGROUP, "/no/such/cgroup/here"), -2,
		  "unknown cgroup");
	ASSERT_EQ(ap_filter__option(&f, AP_OPT_FILTER_EXCL_CGROUP, "/tmp"), -2,
		  "a directory that is not a cgroup");
	ap_filter__free(&f);
	for (i = 0; i < AP_FILTER_MAX_PIDS + 1 && !err; i++) {
		snprintf(pid, sizeof(pid), "%d", 4100000 + i);
		err = ap_filter__add_pids(&f, pid, i & 1);
	}
	ASSERT_EQ(err, -2, "one pid over the cap");
	ASSERT_EQ(i, AP_FILTER_MAX_PIDS + 1, "refused at the cap");
	ap_filter__free(&f);
}
