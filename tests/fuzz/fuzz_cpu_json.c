// SPDX-License-Identifier: MIT
/* libFuzzer target: the cpu.json loader on arbitrary bytes. */
#include "artifact/artifact.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct profile p;

	ap_log_set_verbosity(-1);
	profile__init(&p);
	cpu_json__load_buf(&p, (const char *)data, size, "fuzz");
	profile__free(&p);
	return 0;
}
