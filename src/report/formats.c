// SPDX-License-Identifier: MIT
/* The pictures and interchange files: format selection, the view of every
 * stack computed once for all writers, and writing them atomically. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "analyze/analyze.h"
#include "artifact/artifact.h"
#include "log.h"
#include "report/formats.h"

static const struct {
	const char *name, *file;
	unsigned bit;
} formats[] = {
	{ "html", "report.html", AP_FMT_HTML },
	{ "svg", "flame.svg", AP_FMT_SVG },
	{ "pprof", "profile.pb.gz", AP_FMT_PPROF },
	{ "speedscope", "speedscope.json", AP_FMT_SPEEDSCOPE },
	{ "trace", "trace.json", AP_FMT_TRACE },
};

int ap_formats_parse(const char *list, unsigned *out)
{
	char *dup = xstrdup(list), *tok, *save = NULL;
	unsigned mask = 0;
	size_t i;
	int err = 0, n = 0;

	for (tok = strtok_r(dup, ",", &save); tok && !err; tok = strtok_r(NULL, ",", &save), n++) {
		if (!strcmp(tok, "all")) {
			mask |= AP_FMT_ALL;
			continue;
		}
		if (!strcmp(tok, "none"))
			continue;
		for (i = 0; i < AP_ARRAY_SIZE(formats) && strcmp(tok, formats[i].name); i++)
			;
		if (i == AP_ARRAY_SIZE(formats))
			err = -EINVAL;
		else
			mask |= formats[i].bit;
	}
	free(dup);
	if (!err && !n)
		err = -EINVAL;
	if (!err)
		*out = mask;
	return err;
}

void ap_formats_files(unsigned mask, struct strbuf *out)
{
	size_t i;

	for (i = 0; i < AP_ARRAY_SIZE(formats); i++)
		if (mask & formats[i].bit)
			sb_printf(out, ", %s", formats[i].file);
}

enum ap_frame_class ap_frame_class(const struct profile *p, uint32_t frame)
{
	const struct ap_frame *f = &p->frames[frame];

	if (f->kind == AP_FRAME_PYTHON)
		return AP_FC_PYTHON;
	if (f->kind == AP_FRAME_KERNEL)
		return AP_FC_KERNEL;
	if (f->module != AP_NONE && (p->modules[f->module].flags & AP_MOD_PY_RUNTIME))
		return AP_FC_INTERP;
	return AP_FC_NATIVE;
}

void ap_pics_init(struct ap_pics *x, const struct ap_input *in, enum ap_view view, int dirfd)
{
	const struct profile *p = &in->prof;
	struct stat st;
	char buf[1024];
	size_t i, total = 0;

	memset(x, 0, sizeof(*x));
	x->in = in;
	x->p = p;
	x->view = view;
	for (i = 0; i < p->nr_stacks; i++)
		total += p->stacks[i].len;
	x->vframes = xcalloc(total + 1, sizeof(*x->vframes));
	x->voff = xcalloc(p->nr_stacks + 1, sizeof(*x->voff));
	x->vlen = xcalloc(p->nr_stacks + 1, sizeof(*x->vlen));
	for (i = 0, total = 0; i < p->nr_stacks; i++) {
		x->voff[i] = total;
		x->vlen[i] = profile__view(p, &p->stacks[i], view, x->vframes + total);
		total += x->vlen[i];
	}
	x->labels = xcalloc(p->nr_frames + 1, sizeof(*x->labels));
	for (i = 0; i < p->nr_frames; i++)
		x->labels[i] = xstrdup(profile__frame_label(p, i, false, buf, sizeof(buf)));
	if (dirfd >= 0 && !fstatat(dirfd, "findings.json", &st, AT_SYMLINK_NOFOLLOW)) {
		x->findings = json_load_checked_at(dirfd, "findings.json", "findings.json",
						   AP_SCHEMA_FINDINGS);
		if (!x->findings)
			ap_warn("findings.json: the pictures show no findings");
	}
}

void ap_pics_free(struct ap_pics *x)
{
	size_t i;

	for (i = 0; x->labels && i < x->p->nr_frames; i++)
		free(x->labels[i]);
	free(x->labels);
	free(x->vframes);
	free(x->voff);
	free(x->vlen);
	cJSON_Delete(x->findings);
	memset(x, 0, sizeof(*x));
}

int ap_formats_write_dir(int dirfd, const char *dir, unsigned mask, const struct ap_input *in,
			 enum ap_view view, FILE *progress)
{
	struct ap_input own;
	struct ap_pics x;
	size_t i;
	int err = 0;

	if (!mask)
		return 0;
	if (!in) {
		err = ap_input__load(&own, dirfd, dir);
		if (err) {
			ap_input__free(&own);
			return err;
		}
		in = &own;
	}
	ap_pics_init(&x, in, view, dirfd);
	/* the pictures' fsyncs and renames at the end, in one journal commit */
	ap_write_batch_begin();
	for (i = 0; i < AP_ARRAY_SIZE(formats) && !err; i++) {
		struct strbuf sb = { 0 };

		if (!(mask & formats[i].bit))
			continue;
		switch (formats[i].bit) {
		case AP_FMT_HTML:
			html_render(&x, &sb);
			break;
		case AP_FMT_SVG:
			flamesvg_render(&x, &sb);
			break;
		case AP_FMT_PPROF:
			err = pprof_render(&x, &sb);
			break;
		case AP_FMT_SPEEDSCOPE:
			speedscope_render(&x, &sb);
			break;
		case AP_FMT_TRACE:
			trace_render(&x, &sb);
			break;
		}
		if (!err)
			err = write_file_atomic_at(dirfd, formats[i].file, sb.buf ? sb.buf : "", sb.len);
		if (err)
			ap_err("writing %s/%s (%zu bytes): %s", dir, formats[i].file, sb.len,
			       ap_errstr(err));
		else if (progress)
			fprintf(progress, "wrote %s/%s (%zu bytes)\n", dir, formats[i].file, sb.len);
		sb_free(&sb);
	}
	{
		int e = ap_write_batch_end();

		if (e && !err) {
			err = e;
			ap_err("writing %s/%s: %s", dir, ap_last_write_failure()->name, ap_errstr(err));
		}
	}
	ap_pics_free(&x);
	if (in == &own)
		ap_input__free(&own);
	return err;
}
