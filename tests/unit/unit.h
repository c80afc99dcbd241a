/* SPDX-License-Identifier: MIT */
/* A minimal test harness: named checks in the style of the BPF selftests'
 * ASSERT_EQ(got, want, "what"). Each TEST() registers itself; the runner
 * prints one line per failed check and "N passed, N failed" per test. */
#ifndef AP_UNIT_H
#define AP_UNIT_H

#include <stdio.h>
#include <string.h>

struct unit_test {
	const char *name;
	void (*fn)(void);
	struct unit_test *next;
};

extern int unit_failed_checks;
void unit_register(struct unit_test *t);
/* directory with the ELF fixtures (AP_FIXTURES) */
const char *unit_fixtures(void);
/* a new directory /tmp/ap-NAME-XXXXXX (malloc'ed), NULL on failure */
char *unit_temp_dir(const char *name);
/* remove dir and what it holds, then free the string */
void unit_rm_rf(char *dir);

#define TEST(name)                                                                     \
	static void test_##name(void);                                                 \
	static struct unit_test unit_##name = { #name, test_##name, NULL };            \
	__attribute__((constructor)) static void reg_##name(void)                      \
	{                                                                              \
		unit_register(&unit_##name);                                           \
	}                                                                              \
	static void test_##name(void)

#define CHECK(cond, what, ...)                                                          \
	({                                                                             \
		int ok_ = !!(cond);                                                    \
		if (!ok_) {                                                            \
			unit_failed_checks++;                                          \
			fprintf(stderr, "    %s:%d: %s: ", __FILE__, __LINE__, what);  \
			fprintf(stderr, __VA_ARGS__);                                  \
			fputc('\n', stderr);                                           \
		}                                                                      \
		ok_;                                                                   \
	})

#define ASSERT_TRUE(c, what) CHECK((c), what, "expected true: %s", #c)
#define ASSERT_EQ(got, want, what)                                                     \
	({                                                                             \
		long long g_ = (long long)(got), w_ = (long long)(want);               \
		CHECK(g_ == w_, what, "got %lld, want %lld", g_, w_);                  \
	})
#define ASSERT_STREQ(got, want, what)                                                  \
	({                                                                             \
		const char *g_ = (got), *w_ = (want);                                  \
		CHECK(g_ && w_ && !strcmp(g_, w_), what, "got \"%s\", want \"%s\"",    \
		      g_ ? g_ : "(null)", w_ ? w_ : "(null)");                          \
	})
#define ASSERT_NEAR(got, want, tol, what)                                              \
	({                                                                             \
		double g_ = (got), w_ = (want);                                        \
		CHECK(g_ >= w_ - (tol) && g_ <= w_ + (tol), what, "got %g, want %g±%g", \
		      g_, w_, (double)(tol));                                          \
	})

struct ap_analysis;
/* load the run directory dir into an (zeroed first) and compute its
 * metrics; 0 or -1 */
int unit_analysis_load(struct ap_analysis *an, const char *dir);

#endif
