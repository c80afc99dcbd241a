// SPDX-License-Identifier: MIT
/* libFuzzer target: the artifact loaders (cpu.json, offcpu.json,
 * syscalls.json, memory.json) on arbitrary bytes, one after the other into one profile
 * as `analyze` would load them (the schema field picks which accepts it),
 * then every picture and interchange writer on whatever was loaded. */
#include <string.h>
#include "analyze/analyze.h"
#include "artifact/artifact.h"
#include "log.h"
#include "report/formats.h"
#include "report/report.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct ap_input in;
	struct ap_pics x;
	struct strbuf sb = { 0 };
	int v;

	ap_log_set_verbosity(-1);
	memset(&in, 0, sizeof(in));
	profile__init(&in.prof);
	cpu_json__load_buf(&in.prof, (const char *)data, size, "fuzz");
	offcpu_json__load_buf(&in.prof, (const char *)data, size, "fuzz");
	syscalls_json__load_buf(&in.prof, (const char *)data, size, "fuzz");
	memory_json__load_buf(&in.prof, (const char *)data, size, "fuzz");
	in.target = (char *)"fuzz";
	for (v = AP_VIEW_MIXED; v <= AP_VIEW_FULL; v += 3) {
		ap_pics_init(&x, &in, v, -1);
		html_render(&x, &sb);
		flamesvg_render(&x, &sb);
		pprof_render(&x, &sb);
		speedscope_render(&x, &sb);
		trace_render(&x, &sb);
		folded_render_mem(&in.prof, v, AP_MEM_ALLOC, &sb);
		sb.len = 0;
		ap_pics_free(&x);
	}
	sb_free(&sb);
	profile__free(&in.prof);
	return 0;
}
