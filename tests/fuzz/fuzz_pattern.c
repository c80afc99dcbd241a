// SPDX-License-Identifier: MIT
/* libFuzzer target: the pattern loader (user files given with --patterns)
 * on arbitrary bytes; what it accepts is then evaluated on an empty run, and
 * its templates rendered. */
#include "analyze/analyze.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct ap_analysis an = { 0 };
	char err[512];

	ap_log_set_verbosity(-1);
	profile__init(&an.in.prof);
	an.in.target = NULL;
	if (!ap_patterns__load_text(&an, (const char *)data, size, "fuzz", err, sizeof(err))) {
		ap_metrics__compute(&an);
		ap_analysis__evaluate(&an);
	}
	ap_analysis__free(&an);
	return 0;
}
