// SPDX-License-Identifier: MIT
/* Folded stacks (Brendan Gregg's format, read by flamegraph.pl, inferno and
 * speedscope): one line per distinct stack, frames root first, ';'
 * separated, then a space and the sample count. */
#include <stdlib.h>
#include <string.h>
#include "hashmap.h"
#include "report/report.h"

struct line {
	char *text;
	uint64_t count;
};

static int cmp_line(const void *a, const void *b)
{
	return strcmp(((const struct line *)a)->text, ((const struct line *)b)->text);
}

/* ';' and newlines inside a name would break the format */
static void put_frame(struct strbuf *sb, const char *s)
{
	for (; *s; s++)
		sb_append(sb, (*s == ';' || *s == '\n' || *s == '\r') ? ":" : s, 1);
}

void folded_render(const struct profile *p, enum ap_view view, struct strbuf *out)
{
	struct hmap idx = { 0 };
	struct line *lines = NULL;
	size_t nr = 0, cap = 0, i;
	struct strbuf sb = { 0 };
	uint32_t *vf = xcalloc(p->nr_stack_frames + 1, sizeof(*vf));
	char buf[512];

	for (i = 0; i < p->nr_counts; i++) {
		const struct ap_count *c = &p->counts[i];
		const struct ap_stack *s = &p->stacks[c->stack];
		const struct ap_process *pr = profile__find_process(p, c->pid);
		const char *comm = "";
		uint64_t *slot;
		bool is_new;
		uint32_t j, nv = profile__view(p, s, view, vf);

		if (pr)
			comm = profile__s(p, pr->comm);
		sb.len = 0;
		put_frame(&sb, *comm ? comm : "[unknown]");
		for (j = 0; j < nv; j++) {
			sb_puts(&sb, ";");
			put_frame(&sb, profile__frame_label(p, vf[j], true, buf, sizeof(buf)));
		}
		slot = hmap_upsert(&idx, sb.buf, sb.len, nr, &is_new);
		if (is_new) {
			GROW(lines, cap, nr + 1);
			lines[nr++] = (struct line){ xstrdup(sb.buf), 0 };
		}
		lines[*slot].count += c->count;
	}
	if (nr)
		qsort(lines, nr, sizeof(*lines), cmp_line);
	for (i = 0; i < nr; i++) {
		sb_printf(out, "%s %llu\n", lines[i].text, (unsigned long long)lines[i].count);
		free(lines[i].text);
	}
	free(lines);
	free(vf);
	sb_free(&sb);
	hmap_free(&idx);
}

int folded_write(const struct profile *p, enum ap_view view, const char *outdir, const char *name)
{
	struct strbuf sb = { 0 };
	int err;

	folded_render(p, view, &sb);
	err = write_file_atomic(outdir, name, sb.buf ? sb.buf : "", sb.len);
	sb_free(&sb);
	return err;
}
