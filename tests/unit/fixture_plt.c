// SPDX-License-Identifier: MIT
/* PLT fixture: calls into libc through PLT stubs, built lazy (.plt), with
 * BIND_NOW and with IBT (.plt.sec) (see tests/tests.mk). The symbolizer
 * must name each stub "NAME@plt", not _init. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%d", (int)getpid());
	puts(buf);
	return (int)strlen(argv[0]) + abs(argc) + atoi(buf) > 0 ? 0 : 1;
}
