// SPDX-License-Identifier: MIT
/* libFuzzer target: the artifact loaders (cpu.json, offcpu.json,
 * syscalls.json) on arbitrary bytes, one after the other into one profile
 * as `analyze` would load them. The schema field picks which accepts it. */
#include "artifact/artifact.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct profile p;

	ap_log_set_verbosity(-1);
	profile__init(&p);
	cpu_json__load_buf(&p, (const char *)data, size, "fuzz");
	offcpu_json__load_buf(&p, (const char *)data, size, "fuzz");
	syscalls_json__load_buf(&p, (const char *)data, size, "fuzz");
	profile__free(&p);
	return 0;
}
