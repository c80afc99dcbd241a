/* SPDX-License-Identifier: MIT */
/* `autoprof-bpf top`: the model behind the live view and its text
 * rendering, with no terminal I/O. The model is fed one window (a profile
 * of the last second) at a time and keeps its rows by text (function
 * labels, folded stacks, pids), not by the window's ids, so it survives the
 * engine purging its symbol tables between windows. */
#ifndef AP_TOP_H
#define AP_TOP_H

#include <stdbool.h>
#include <stdint.h>
#include "hashmap.h"
#include "profile/profile.h"
#include "util.h"

/* Caps of the model's tables: past them a window's new rows are counted in
 * top_model.rows_dropped, not kept (the heaviest rows come first in any
 * window worth reading, and decayed rows leave again). */
#define TOP_PROCS_MAX 4096
#define TOP_FUNCS_MAX 8192
#define TOP_STACKS_MAX 4096

enum top_sort { TOP_SORT_CPU, TOP_SORT_PID, TOP_SORT_NAME, TOP_SORT__COUNT };
enum top_pane { TOP_PANE_FUNCTIONS, TOP_PANE_STACKS, TOP_PANE__COUNT };
/* how windows add up: the last one only, exponentially decayed (half-life
 * TOP_HALF_LIFE_S), or everything since start (or the last reset) */
enum top_mode { TOP_MODE_LAST, TOP_MODE_DECAY, TOP_MODE_TOTAL, TOP_MODE__COUNT };
#define TOP_HALF_LIFE_S 5.0

extern const char *const top_sort_names[TOP_SORT__COUNT];
extern const char *const top_mode_names[TOP_MODE__COUNT];

struct top_proc {
	uint32_t pid;
	char *comm, *service, *runtime; /* terminal-safe copies; "" when unknown */
	double samples;                 /* weighted (see top_model.span_s) */
	uint64_t window;                /* the last window (top_model.windows) that sampled it */
};

struct top_func {
	char *label;                    /* "qualname (file.py:LINE)", "name (module)" */
	double self, total;
};

struct top_stack {
	char *text;                     /* "comm;root;...;leaf", kernel frames "_[k]" */
	double count;
};

struct top_model {
	/* settings: change them with top_model__reset() in between */
	enum ap_view view;
	enum top_mode mode;
	char filter[64];                /* a pid, or part of a process name or command
					 * line; "" none */

	/* the last window, for the header (filled by top_model__add and the caller) */
	double window_s;                /* its length */
	uint64_t window_samples;        /* every sample in it, before the filter */
	uint64_t window_losses;         /* samples lost in it (ring buffer, BPF, unwinding) */
	size_t window_procs;            /* processes sampled in it */
	uint32_t freq;                  /* samples per second per CPU */
	int nr_cpus;
	double self_cpu_pct;            /* the profiler's own CPU, % of one CPU (caller) */
	uint64_t windows;               /* windows added since the last reset */

	/* weighted sums: each window's rows and length, older windows times
	 * the decay factor */
	double span_s;                  /* seconds the weights stand for */
	double samples;                 /* samples passing the filter */
	uint64_t rows_dropped;          /* rows past the TOP_*_MAX caps */

	struct top_proc *procs;
	size_t nr_procs, cap_procs;
	struct hmap proc_idx;
	struct top_func *funcs;
	size_t nr_funcs, cap_funcs;
	struct hmap func_idx;
	struct top_stack *stacks;
	size_t nr_stacks, cap_stacks;
	struct hmap stack_idx;
};

void top_model__init(struct top_model *m);
void top_model__free(struct top_model *m);
/* empty the tables and weights (after the filter, view or mode changed) */
void top_model__reset(struct top_model *m);
/* Add one window: older weights decay per the mode, then the window's
 * samples of the processes that pass the filter are added. win->duration_s
 * is its length; win->procs name the processes (comm, and the labels when
 * the collector set them). Reads win only; keeps nothing of it. */
void top_model__add(struct top_model *m, const struct profile *win);
/* does a process pass the filter? (its pid exactly, or a part of its name or
 * command line; either may be NULL) */
bool top_model__match(const struct top_model *m, uint32_t pid, const char *comm,
		      const char *cmdline);

/* the row of pid, or NULL; its service and runtime may be set by the caller
 * (malloc'ed, terminal-safe) when the window did not name them */
struct top_proc *top_model__proc(struct top_model *m, uint32_t pid);
/* CPU of a process row, % of one CPU */
double top_model__proc_cpu(const struct top_model *m, const struct top_proc *p);

struct top_render_opts {
	int width;              /* columns; 0: lines are not cut (--once to a file) */
	int height;             /* rows; 0: every table gets max_rows */
	int max_rows;           /* rows per table when height is 0 */
	enum top_sort sort;
	enum top_pane pane;     /* interactive: functions or stacks; --once shows both */
	bool func_by_total;     /* functions by total time (default: by self time) */
	bool all_tables;        /* --once: processes, functions and stacks */
	bool paused;
	const char *time;       /* header clock, "12:01:02" */
	const char *prompt;     /* the filter being typed, or NULL */
	const char *message;    /* a one-line note under the header, or NULL */
};

/* The view as text lines ending in '\n', each at most width columns (UTF-8
 * aware) when width is set, and at most height lines when height is set. */
void top_render(const struct top_model *m, const struct top_render_opts *o, struct strbuf *out);

/* columns of UTF-8 text s (one per code point) */
size_t top_text_cols(const char *s);

#endif
