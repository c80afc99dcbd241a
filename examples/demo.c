// SPDX-License-Identifier: MIT
/* The bundled demo for `make demo`: a small "log pipeline" with three
 * threads doing different kinds of work, built -O2 -fomit-frame-pointer
 * like distro code:
 *   compressor: zlib deflate (a distro library without frame pointers)
 *   sorter:     libc qsort calling back into our comparator
 *   main:       parses records and writes them out (syscalls: kernel frames)
 * Usage: demo [SECONDS] */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

static double seconds = 3.0;
static volatile unsigned long sink;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* pseudo log lines: compressible but not trivially */
static void make_log(char *buf, size_t len, unsigned seed)
{
	static const char *const words[] = { "GET", "POST", "/api/v1/items", "/login", "200",
					     "404", "500", "user=", "ms=", "cache=hit", "cache=miss" };
	size_t off = 0;

	while (off + 32 < len) {
		seed = seed * 1103515245 + 12345;
		off += snprintf(buf + off, len - off, "%s %u ", words[(seed >> 16) % 11],
				(seed >> 8) % 1000);
		if ((seed & 7) == 0)
			buf[off++] = '\n';
	}
	memset(buf + off, ' ', len - off);
}

__attribute__((noinline)) static unsigned long compress_block(const char *in, size_t len)
{
	static unsigned char out[1 << 20];
	uLongf outlen = sizeof(out);

	if (compress2(out, &outlen, (const Bytef *)in, len, 6) != Z_OK)
		return 0;
	return outlen;
}

static void *compressor(void *arg)
{
	size_t len = 512 << 10;
	char *buf = malloc(len);
	double end = now() + seconds;
	unsigned seed = 1;

	while (buf && now() < end) {
		make_log(buf, len, seed++);
		sink += compress_block(buf, len);
	}
	free(buf);
	return arg;
}

struct record {
	unsigned key;
	char name[12];
};

static int by_key(const void *a, const void *b)
{
	const struct record *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return strcmp(x->name, y->name);
}

__attribute__((noinline)) static void sort_batch(struct record *r, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1664525 + 1013904223;
		r[i].key = seed % 5000;
		snprintf(r[i].name, sizeof(r[i].name), "k%u", seed % 9973);
	}
	qsort(r, n, sizeof(*r), by_key);
	sink += r[n / 2].key;
}

static void *sorter(void *arg)
{
	size_t n = 200000;
	struct record *r = malloc(n * sizeof(*r));
	double end = now() + seconds;
	unsigned seed = 7;

	while (r && now() < end)
		sort_batch(r, n, seed++);
	free(r);
	return arg;
}

/* parse "WORD NUMBER" pairs and write a summary line per block */
__attribute__((noinline)) static unsigned long parse_block(const char *buf, size_t len)
{
	unsigned long sum = 0;

	for (size_t i = 0; i < len; i++)
		if (buf[i] >= '0' && buf[i] <= '9')
			sum = sum * 31 + (buf[i] - '0');
	return sum;
}

__attribute__((noinline)) static void write_out(int fd, const char *buf, size_t len)
{
	for (size_t off = 0; off < len; off += 256)
		if (write(fd, buf + off, len - off < 256 ? len - off : 256) < 0)
			return;
}

int main(int argc, char **argv)
{
	pthread_t c, s;
	size_t len = 256 << 10;
	char *buf = malloc(len);
	int fd = open("/dev/null", O_WRONLY);
	double end;
	unsigned seed = 3;

	if (argc > 1)
		seconds = atof(argv[1]);
	if (!buf || fd < 0)
		return 1;
	pthread_create(&c, NULL, compressor, NULL);
	pthread_create(&s, NULL, sorter, NULL);
	end = now() + seconds;
	while (now() < end) {
		make_log(buf, len, seed++);
		sink += parse_block(buf, len);
		write_out(fd, buf, len);
	}
	pthread_join(c, NULL);
	pthread_join(s, NULL);
	printf("demo: done (checksum %lu)\n", sink);
	free(buf);
	return 0;
}
