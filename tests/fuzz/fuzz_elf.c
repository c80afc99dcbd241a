// SPDX-License-Identifier: MIT
/* libFuzzer target: the ELF symbol reader on arbitrary bytes (through a
 * memfd, since it reads files), then lookups over the whole range. */
#include <sys/mman.h>
#include <unistd.h>
#include <stdio.h>
#include "symbolize/elfsym.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	struct symfile *sf;
	uint64_t a, bias;

	if (fd < 0) {
		fd = memfd_create("fuzz-elf", 0);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size)
		return 0;
	sf = symfile__open(path);
	if (!sf)
		return 0;
	for (a = 0; a < 0x10000; a += 0x101)
		symfile__lookup(sf, a, NULL);
	symfile__bias(sf, 0x400000, 0, &bias);
	symfile__free(sf);
	return 0;
}
