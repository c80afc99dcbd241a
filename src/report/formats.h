/* SPDX-License-Identifier: MIT */
/* Pictures and interchange files of a run, written from its artifacts:
 * report.html (interactive flame graph, tables, findings, timeline),
 * flame.svg (flamegraph.pl conventions), profile.pb.gz (pprof),
 * speedscope.json and trace.json (Chrome trace events). `autoprof-bpf
 * report DIR` and the end of a run both call ap_formats_write_dir(). */
#ifndef AP_FORMATS_H
#define AP_FORMATS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <cjson/cJSON.h>
#include "profile/profile.h"
#include "util.h"

enum ap_format {
	AP_FMT_HTML = 1 << 0,
	AP_FMT_SVG = 1 << 1,
	AP_FMT_PPROF = 1 << 2,
	AP_FMT_SPEEDSCOPE = 1 << 3,
	AP_FMT_TRACE = 1 << 4,
};
#define AP_FMT_ALL 0x1f
#define AP_FMT_DEFAULT AP_FMT_ALL

/* "html,svg" -> mask; "all", "none"; 0 or -EINVAL */
int ap_formats_parse(const char *list, unsigned *out);

/* ", report.html, flame.svg" for the files of mask */
void ap_formats_files(unsigned mask, struct strbuf *out);

struct ap_input;

/* what every writer reads: the run and the frames each stack shows */
struct ap_pics {
	const struct ap_input *in;
	const struct profile *p;
	enum ap_view view;
	uint32_t *vframes;      /* per profile stack: its view's frames, root first */
	size_t *voff;
	uint32_t *vlen;
	char **labels;          /* per frame: profile__frame_label(), no "_[k]" */
	cJSON *findings;        /* findings.json of the run, or NULL */
	/* pprof_render only (the Pyroscope sink renders one service at a
	 * time): keep_pid, when set, picks the processes rendered; num_labels
	 * leaves out the samples' string labels (Pyroscope makes each set of
	 * them a series of its own) */
	bool (*keep_pid)(void *ctx, uint32_t pid);
	void *keep_ctx;
	bool num_labels;
};

/* frame classes of the pictures' colours */
enum ap_frame_class { AP_FC_PYTHON, AP_FC_NATIVE, AP_FC_KERNEL, AP_FC_INTERP, AP_FC__COUNT };
enum ap_frame_class ap_frame_class(const struct profile *p, uint32_t frame);

/* dirfd: the run directory, for findings.json (-1: none) */
void ap_pics_init(struct ap_pics *x, const struct ap_input *in, enum ap_view view, int dirfd);
void ap_pics_free(struct ap_pics *x);
static inline const uint32_t *ap_pics_stack(const struct ap_pics *x, uint32_t stack, uint32_t *n)
{
	*n = x->vlen[stack];
	return x->vframes + x->voff[stack];
}

/* the writers: into out (binary for pprof: the gzip-compressed profile) */
int pprof_render(const struct ap_pics *x, struct strbuf *out);
/* in, gzip-compressed, appended to out (zlib's default level 6: on an
 * agent window's OTLP request or pprof 10-15% smaller than level 1, for
 * ~1.5 ms more per 100 KB); 0 or -ENOMEM / -EIO */
int ap_gzip_buf(const struct strbuf *in, struct strbuf *out);
void speedscope_render(const struct ap_pics *x, struct strbuf *out);
void trace_render(const struct ap_pics *x, struct strbuf *out);
/* what the threads' sample and interval slices may take of trace.json (64 MB;
 * a variable so that tests can lower it) */
extern size_t ap_trace_timeline_bytes;
void flamesvg_render(const struct ap_pics *x, struct strbuf *out);
void html_render(const struct ap_pics *x, struct strbuf *out);
/* s as a JSON string safe inside report.html's data script ("<" escaped),
 * and the page's template (@@AP_DATA@@ marks the data): for diff.html */
void html_json_str(struct strbuf *sb, const char *s);
extern const char ap_report_html[];

/* write the selected files into the run directory dirfd (named dir in
 * messages) from the run's artifacts (in, or loaded from dirfd when NULL),
 * naming each on progress unless NULL; 0 or -errno, message logged */
int ap_formats_write_dir(int dirfd, const char *dir, unsigned formats, const struct ap_input *in,
			 enum ap_view view, FILE *progress);

#endif
