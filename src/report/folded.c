// SPDX-License-Identifier: MIT
/* Folded stacks (Brendan Gregg's format, read by flamegraph.pl, inferno and
 * speedscope): one line per distinct stack, frames root first, ';'
 * separated, then a space and the sample count. */
#include <stdio.h>
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

struct folder {
	const struct profile *p;
	enum ap_view view;
	struct hmap idx;
	struct line *lines;
	size_t nr, cap;
	struct strbuf sb;
	uint32_t *vf;
};

/* weight on the line "comm;stack frames[;leaf]" */
static void fold(struct folder *fo, uint32_t pid, uint32_t stack, const char *leaf, uint64_t weight)
{
	const struct profile *p = fo->p;
	const struct ap_process *pr = profile__find_process(p, pid);
	const char *comm = pr ? profile__s(p, pr->comm) : "";
	uint32_t j, nv = profile__view(p, &p->stacks[stack], fo->view, fo->vf);
	uint64_t *slot;
	bool is_new;
	char buf[512];

	fo->sb.len = 0;
	put_frame(&fo->sb, *comm ? comm : "[unknown]");
	for (j = 0; j < nv; j++) {
		sb_puts(&fo->sb, ";");
		put_frame(&fo->sb, profile__frame_label(p, fo->vf[j], true, buf, sizeof(buf)));
	}
	if (leaf) {
		sb_puts(&fo->sb, ";");
		put_frame(&fo->sb, leaf);
	}
	slot = hmap_upsert(&fo->idx, fo->sb.buf, fo->sb.len, fo->nr, &is_new);
	if (is_new) {
		GROW(fo->lines, fo->cap, fo->nr + 1);
		fo->lines[fo->nr++] = (struct line){ xstrdup(fo->sb.buf), 0 };
	}
	fo->lines[*slot].count += weight;
}

static void fold_finish(struct folder *fo, struct strbuf *out)
{
	size_t i;

	if (fo->nr)
		qsort(fo->lines, fo->nr, sizeof(*fo->lines), cmp_line);
	for (i = 0; i < fo->nr; i++) {
		if (fo->lines[i].count) /* off-CPU time under 1 us rounds to nothing */
			sb_printf(out, "%s %llu\n", fo->lines[i].text,
				  (unsigned long long)fo->lines[i].count);
		free(fo->lines[i].text);
	}
	free(fo->lines);
	free(fo->vf);
	sb_free(&fo->sb);
	hmap_free(&fo->idx);
}

void folded_render(const struct profile *p, enum ap_view view, struct strbuf *out)
{
	struct folder fo = { .p = p, .view = view };
	size_t i;

	fo.vf = xcalloc(p->nr_stack_frames + 1, sizeof(*fo.vf));
	for (i = 0; i < p->nr_counts; i++)
		fold(&fo, p->counts[i].pid, p->counts[i].stack, NULL, p->counts[i].count);
	fold_finish(&fo, out);
}

void folded_render_off(const struct profile *p, enum ap_view view, struct strbuf *out)
{
	struct folder fo = { .p = p, .view = view };
	char leaf[64];
	size_t i;

	fo.vf = xcalloc(p->nr_stack_frames + 1, sizeof(*fo.vf));
	for (i = 0; i < p->nr_off; i++) {
		snprintf(leaf, sizeof(leaf), "[%s]", ap_off_reason_names[p->off[i].reason]);
		fold(&fo, p->off[i].pid, p->off[i].stack, leaf, p->off[i].ns / 1000);
	}
	fold_finish(&fo, out);
}

void folded_render_mem(const struct profile *p, enum ap_view view, uint32_t kind,
		       struct strbuf *out)
{
	struct folder fo = { .p = p, .view = view };
	size_t i;

	fo.vf = xcalloc(p->nr_stack_frames + 1, sizeof(*fo.vf));
	for (i = 0; i < p->nr_mem; i++)
		if (p->mem[i].kind == kind)
			fold(&fo, p->mem[i].pid, p->mem[i].stack, NULL, p->mem[i].bytes);
	fold_finish(&fo, out);
}

int folded_write_mem(const struct profile *p, enum ap_view view, uint32_t kind, int dirfd,
		     const char *name)
{
	struct strbuf sb = { 0 };
	int err;

	folded_render_mem(p, view, kind, &sb);
	err = write_file_atomic_at(dirfd, name, sb.buf ? sb.buf : "", sb.len);
	sb_free(&sb);
	return err;
}

int folded_write(const struct profile *p, enum ap_view view, bool offcpu, int dirfd,
		 const char *name)
{
	struct strbuf sb = { 0 };
	int err;

	if (offcpu)
		folded_render_off(p, view, &sb);
	else
		folded_render(p, view, &sb);
	err = write_file_atomic_at(dirfd, name, sb.buf ? sb.buf : "", sb.len);
	sb_free(&sb);
	return err;
}

int folded_write_malloc(const struct profile *p, enum ap_view view, int dirfd)
{
	int err = folded_write_mem(p, view, AP_MEM_ALLOC, dirfd, "alloc.folded");

	return err ? err : folded_write_mem(p, view, AP_MEM_LIVE, dirfd, "live.folded");
}
