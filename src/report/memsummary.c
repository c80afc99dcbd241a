// SPDX-License-Identifier: MIT
/* The terminal summary's memory block (summary_print): page-fault bytes,
 * the three stacks that touched the most with their leaf function, the
 * mapping totals and, with --malloc, allocated and live bytes. At most 4
 * lines. */
#include <stdio.h>
#include <stdlib.h>
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

/* the innermost function of stack in view, "[not captured]" for an empty one */
static void leaf_name(const struct profile *p, enum ap_view view, uint32_t stack, uint32_t *vf,
		      char *buf, size_t len)
{
	uint32_t n = profile__view(p, &p->stacks[stack], view, vf);

	if (!n)
		snprintf(buf, len, "[not captured]");
	else
		profile__frame_label(p, vf[n - 1], false, buf, len);
}

void ap_memory_print(const struct profile *p, enum ap_view view, FILE *f)
{
	uint64_t bytes[AP_MEM__COUNT] = { 0 }, count[AP_MEM__COUNT] = { 0 }, *by_stack;
	uint32_t top[3] = { 0 }, *vf;
	size_t i, ntop = 0, j;
	char a[32], b[32], name[512];

	if (!p->has_memory || !p->nr_mem)
		return;
	by_stack = xcalloc(p->nr_stacks + 1, sizeof(*by_stack));
	for (i = 0; i < p->nr_mem; i++) {
		const struct ap_mem_row *r = &p->mem[i];

		if (r->kind >= AP_MEM__COUNT)
			continue;
		bytes[r->kind] += r->bytes;
		count[r->kind] += r->count;
		if (r->kind == AP_MEM_FAULT && r->stack < p->nr_stacks)
			by_stack[r->stack] += r->bytes;
	}
	/* the three heaviest stacks, heaviest first */
	for (i = 0; i < p->nr_stacks; i++) {
		if (!by_stack[i])
			continue;
		if (ntop < 3)
			top[ntop++] = i;
		else if (by_stack[i] > by_stack[top[2]])
			top[2] = i;
		else
			continue;
		for (j = ntop - 1; j > 0 && by_stack[top[j]] > by_stack[top[j - 1]]; j--) {
			uint32_t t = top[j];

			top[j] = top[j - 1];
			top[j - 1] = t;
		}
	}
	fprintf(f, "\nMemory: %s first touched (page faults, sampled: %llu samples)\n",
		human_bytes(bytes[AP_MEM_FAULT], a, sizeof(a)),
		(unsigned long long)count[AP_MEM_FAULT]);
	if (ntop) {
		vf = xcalloc(p->nr_stack_frames + 1, sizeof(*vf));
		fprintf(f, "  top stacks by leaf:");
		for (j = 0; j < ntop; j++) {
			char *clean;

			leaf_name(p, view, top[j], vf, name, sizeof(name));
			clean = tty_dup(name);
			fprintf(f, "%s %s %.1f%%", j ? "," : "", clean,
				100.0 * by_stack[top[j]] / bytes[AP_MEM_FAULT]);
			free(clean);
		}
		fputc('\n', f);
		free(vf);
	}
	fprintf(f, "  mappings: %s mapped in %llu call%s, %s unmapped in %llu call%s\n",
		human_bytes(bytes[AP_MEM_MAP], a, sizeof(a)), (unsigned long long)count[AP_MEM_MAP],
		count[AP_MEM_MAP] == 1 ? "" : "s", human_bytes(bytes[AP_MEM_UNMAP], b, sizeof(b)),
		(unsigned long long)count[AP_MEM_UNMAP], count[AP_MEM_UNMAP] == 1 ? "" : "s");
	if (p->has_malloc)
		fprintf(f, "  malloc: %s allocated (sampled), %s of the samples still live at the end\n",
			human_bytes(bytes[AP_MEM_ALLOC], a, sizeof(a)),
			human_bytes(bytes[AP_MEM_LIVE], b, sizeof(b)));
	free(by_stack);
}
