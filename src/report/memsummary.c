// SPDX-License-Identifier: MIT
/* The terminal summary's memory block (summary_print): page-fault bytes,
 * the three places in the code that touched the most (a stack's innermost
 * Python line, else its innermost native function outside the C library:
 * malloc's and memset's frames say nothing), the mapping totals and, with
 * --malloc, allocated and live bytes. At most 4 lines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "report/report.h"

/* "12.3 MiB" */
static const char *human_bytes(uint64_t b, char *buf, size_t len)
{
	static const char *const u[] = { "bytes", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)b;
	size_t i = 0;

	while (v >= 1024 && i < AP_ARRAY_SIZE(u) - 1) {
		v /= 1024;
		i++;
	}
	if (!i)
		snprintf(buf, len, "%llu bytes", (unsigned long long)b);
	else
		snprintf(buf, len, "%.*f %s", v >= 100 ? 0 : 1, v, u[i]);
	return buf;
}

static bool libc_file(const struct profile *p, uint32_t mod)
{
	const char *path, *b;

	if (mod == AP_NONE)
		return false;
	path = profile__s(p, p->modules[mod].path);
	b = strrchr(path, '/');
	b = b ? b + 1 : path;
	return !strncmp(b, "libc.so", 7) || !strncmp(b, "libc-", 5) || !strncmp(b, "ld-linux", 8);
}

/* the code a stack's memory is charged to: its innermost Python frame (one
 * line of the program), else its innermost native frame outside the C
 * library, else its leaf; AP_NONE for a stack not captured */
static uint32_t site_frame(const struct profile *p, uint32_t stack)
{
	const struct ap_stack *st = &p->stacks[stack];
	const uint32_t *fr = &p->stack_frames[st->off];
	uint32_t i, user = AP_NONE;

	for (i = st->len; i > 0; i--) {
		const struct ap_frame *f = &p->frames[fr[i - 1]];

		if (f->kind == AP_FRAME_PYTHON)
			return fr[i - 1];
		if (f->kind == AP_FRAME_USER && user == AP_NONE && !libc_file(p, f->module))
			user = fr[i - 1];
	}
	return user != AP_NONE ? user : st->len ? fr[st->len - 1] : AP_NONE;
}

void ap_memory_print(const struct profile *p, enum ap_view view, FILE *f)
{
	uint64_t bytes[AP_MEM__COUNT] = { 0 }, count[AP_MEM__COUNT] = { 0 }, *by_site;
	uint32_t top[3] = { 0 };
	size_t i, ntop = 0, j;
	char a[32], b[32], name[512];

	if (!p->has_memory || !p->nr_mem)
		return;
	/* by site frame; the last slot: stacks not captured */
	by_site = xcalloc(p->nr_frames + 1, sizeof(*by_site));
	for (i = 0; i < p->nr_mem; i++) {
		const struct ap_mem_row *r = &p->mem[i];

		if (r->kind >= AP_MEM__COUNT)
			continue;
		bytes[r->kind] += r->bytes;
		count[r->kind] += r->count;
		if (r->kind == AP_MEM_FAULT && r->stack < p->nr_stacks) {
			uint32_t fr = site_frame(p, r->stack);

			by_site[fr == AP_NONE ? p->nr_frames : fr] += r->bytes;
		}
	}
	/* the three heaviest sites, heaviest first */
	for (i = 0; i <= p->nr_frames; i++) {
		if (!by_site[i])
			continue;
		if (ntop < 3)
			top[ntop++] = i;
		else if (by_site[i] > by_site[top[2]])
			top[2] = i;
		else
			continue;
		for (j = ntop - 1; j > 0 && by_site[top[j]] > by_site[top[j - 1]]; j--) {
			uint32_t t = top[j];

			top[j] = top[j - 1];
			top[j - 1] = t;
		}
	}
	fprintf(f, "\nMemory: %s first touched (page faults, sampled: %llu samples)\n",
		human_bytes(bytes[AP_MEM_FAULT], a, sizeof(a)),
		(unsigned long long)count[AP_MEM_FAULT]);
	if (ntop) {
		fprintf(f, "  where (innermost Python line, else native function):");
		for (j = 0; j < ntop; j++) {
			char *clean;

			if (top[j] == p->nr_frames)
				snprintf(name, sizeof(name), "[stack not captured]");
			else
				profile__frame_label(p, top[j], false, name, sizeof(name));
			clean = tty_dup(name);
			fprintf(f, "%s %s %.0f%%", j ? "," : "", clean,
				100.0 * by_site[top[j]] / bytes[AP_MEM_FAULT]);
			free(clean);
		}
		fputc('\n', f);
	}
	fprintf(f, "  mappings: %s mapped in %llu call%s, %s unmapped in %llu call%s\n",
		human_bytes(bytes[AP_MEM_MAP], a, sizeof(a)), (unsigned long long)count[AP_MEM_MAP],
		count[AP_MEM_MAP] == 1 ? "" : "s", human_bytes(bytes[AP_MEM_UNMAP], b, sizeof(b)),
		(unsigned long long)count[AP_MEM_UNMAP], count[AP_MEM_UNMAP] == 1 ? "" : "s");
	if (p->has_malloc)
		fprintf(f, "  malloc: %s allocated (sampled), %s of the samples still live at the end\n",
			human_bytes(bytes[AP_MEM_ALLOC], a, sizeof(a)),
			human_bytes(bytes[AP_MEM_LIVE], b, sizeof(b)));
	free(by_site);
}
