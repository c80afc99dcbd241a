// SPDX-License-Identifier: MIT
/* libFuzzer target: the label parsers on what a process controls (its
 * environment; the names of cgroups it may create in a delegated subtree):
 * the bytes as /proc/PID/cgroup text, as a cgroup path and as an
 * environment block. */
#include <stdlib.h>
#include <string.h>
#include "process/labels.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char *s = malloc(size + 1), path[512], out[AP_LABELS_VALUE_MAX + 1];

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	if (labels_parse_cgroup(s, path, sizeof(path)) == 0) {
		labels_container_id(path, out, sizeof(out));
		labels_cgroup_service(path, out, sizeof(out));
	}
	labels_container_id(s, out, sizeof(out));
	labels_cgroup_service(s, out, sizeof(out));
	labels_environ_service(s, size, out, sizeof(out));
	free(s);
	return 0;
}
