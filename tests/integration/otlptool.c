// SPDX-License-Identifier: MIT
/* The OTLP encoder (src/sink/otlp.c) on a window the agent stored, for the
 * integration tests and the size measurement (README "Fleet export"):
 *   otlptool WINDOW_DIR HOST OUT      OUT: the ExportProfilesServiceRequest
 * The window is loaded from its artifacts (cpu.json, offcpu.json) as
 * `analyze` loads it; its span from window.json (mono) and the clock now
 * (the wall-clock start is not needed by the checks). Prints the request's
 * size and its gzip'ed size as one JSON line. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "artifact/input.h"
#include "log.h"
#include "report/formats.h"
#include "sink/otlp.h"
#include "util.h"

int main(int argc, char **argv)
{
	struct ap_window_info wi = { .seq = 1 };
	struct ap_input in;
	struct strbuf raw = { 0 }, gz = { 0 };
	uint8_t *buf = NULL;
	size_t len = 0;
	int dirfd, err;

	if (argc != 4) {
		fprintf(stderr, "usage: otlptool WINDOW_DIR HOST OUT\n");
		return 2;
	}
	dirfd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0 || ap_input__load(&in, dirfd, argv[1]))
		return 1;
	wi.end_real_ns = now_real_ns();
	wi.start_real_ns = wi.end_real_ns - (uint64_t)(in.wall_s * 1e9);
	wi.end_mono_ns = (uint64_t)(in.wall_s * 1e9);
	wi.nr_cpus = in.nr_cpus;
	err = otlp__encode_window(&in.prof, &wi, argv[2], &buf, &len);
	if (!err) {
		FILE *f = fopen(argv[3], "we");

		if (!f || fwrite(buf, 1, len, f) != len)
			err = -EIO;
		if (f && fclose(f))
			err = -EIO;
		if (err)
			fprintf(stderr, "otlptool: %s: cannot write\n", argv[3]);
	}
	raw.buf = (char *)buf;
	raw.len = len;
	if (!err)
		err = ap_gzip_buf(&raw, &gz);
	if (!err)
		printf("{\"bytes\": %zu, \"gzip_bytes\": %zu}\n", len, gz.len);
	free(buf);
	sb_free(&gz);
	ap_input__free(&in);
	close(dirfd);
	return err ? 1 : 0;
}
