// SPDX-License-Identifier: MIT
/* Syscall-heavy workload: small writes to /dev/null and large reads from
 * /dev/zero, so most CPU time is spent in the kernel. Usage: sysheavy SECONDS */
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static char buf[1 << 16];

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 2.0;
	int null = open("/dev/null", O_WRONLY), zero = open("/dev/zero", O_RDONLY);
	struct timespec ts;
	double end;

	if (null < 0 || zero < 0)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	end = ts.tv_sec + ts.tv_nsec / 1e9 + secs;
	do {
		for (int i = 0; i < 1000; i++) {
			if (write(null, buf, 1) != 1 || read(zero, buf, sizeof(buf)) < 0)
				return 1;
		}
		clock_gettime(CLOCK_MONOTONIC, &ts);
	} while (ts.tv_sec + ts.tv_nsec / 1e9 < end);
	return 0;
}
