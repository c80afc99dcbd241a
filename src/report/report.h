/* SPDX-License-Identifier: MIT */
/* Reporters over a profile: folded stacks and the terminal summary. They
 * render what the profile holds and compute nothing new beyond ranking. */
#ifndef AP_REPORT_H
#define AP_REPORT_H

#include <stdio.h>
#include "profile/profile.h"
#include "util.h"

/* "comm;root;...;leaf count" lines, one per distinct stack and process name,
 * sorted; kernel frames end in "_[k]" */
void folded_render(const struct profile *p, enum ap_view view, struct strbuf *out);
/* off-CPU: weights in microseconds, the reason as a leaf frame "[lock]" */
void folded_render_off(const struct profile *p, enum ap_view view, struct strbuf *out);
int folded_write(const struct profile *p, enum ap_view view, bool offcpu, int dirfd,
		 const char *name);
/* memory: the bytes of the rows of one enum ap_mem_kind by stack
 * (memory.folded: AP_MEM_FAULT) */
void folded_render_mem(const struct profile *p, enum ap_view view, uint32_t kind,
		       struct strbuf *out);
int folded_write_mem(const struct profile *p, enum ap_view view, uint32_t kind, int dirfd,
		     const char *name);

struct summary_info {
	const char *target;       /* command or pids */
	double wall_s;
	int exit_code;            /* -1: still running / attach mode */
	int exit_signal;          /* the signal that killed the target, or 0 */
	bool core_dumped;         /* ... and it dumped core */
	const char *outdir;
	int top_functions;        /* rows per table (15) */
	int top_stacks;           /* 5 */
	enum ap_view view;
	unsigned formats;         /* AP_FMT_* written besides the report */
};
void summary_print(const struct profile *p, const struct summary_info *si, FILE *f);
/* threads blocked for the whole run, since before profiling (attach mode:
 * their off-CPU rows under the attach snapshot's marker root frame);
 * blocked.c. Sorted by pid and tid; *out malloc'ed */
struct ap_blocked_thread {
	uint32_t pid, tid, reason;  /* enum ap_off_reason */
	uint64_t ns;                /* blocked time */
	size_t of;                  /* threads of its process accounted in the run */
	uint32_t group;             /* the first tid of the threads waiting alike */
	const char *comm;
	char syscall[64];           /* the syscall it sits in ("futex"), or "the kernel" */
	char where[512];            /* its innermost Python frames ("f (x.py:3) <- g (x.py:7)"),
				     * or innermost native frame */
};
size_t ap_blocked_threads(const struct profile *p, struct ap_blocked_thread **out);
/* rows from i on of its group (threads waiting alike), and of its process */
size_t ap_blocked_group(const struct ap_blocked_thread *v, size_t n, size_t i);
size_t ap_blocked_of_pid(const struct ap_blocked_thread *v, size_t n, size_t i);
#define AP_BLOCKED_GROUPS 10     /* groups shown per process */
/* the terminal's "Blocked for the whole run" block, per process; nothing if none */
void ap_blocked_print(const struct profile *p, FILE *f);

/* The asyncio tasks suspended at the attach (profile.atasks), per process:
 * the first AP_ASYNC_SHOWN of each, then "N more" */
#define AP_ASYNC_SHOWN 10
/* "func (file.py:12)" of t's innermost coroutine, "?" without one: the
 * text sb now holds (emptied first) */
const char *ap_async_where(const struct ap_async_task *t, struct strbuf *sb);
/* t's await chain, the task's coroutine first: "main (x.py:9) > sleep
 * (tasks.py:716)", " > ..." when cut */
const char *ap_async_chain(const struct ap_async_task *t, struct strbuf *sb);
/* tasks from i on that belong to atasks[i]'s process */
size_t ap_async_of_pid(const struct profile *p, size_t i);
/* the terminal's block; nothing if no task was suspended */
void ap_async_print(const struct profile *p, FILE *f);
/* the processes grouped by their service label (process/labels.h; string
 * id 0: none known), most on-CPU samples first; malloc'ed, *n rows */
struct ap_service_row {
	uint32_t service;
	uint64_t samples;
	size_t nr_procs;
};
struct ap_service_row *services_rank(const struct profile *p, size_t *n);
/* Names from the target on a terminal: every control character (C0 with
 * ESC and newline, DEL, C1 as UTF-8) becomes "?", in place, so no escape
 * sequence or forged line reaches the terminal. tty_dup() cleans a copy
 * (free it). */
void tty_clean(char *s);
char *tty_dup(const char *s);

/* the analyzer's findings (src/report/findings.c), over an analysis of
 * analyze/analyze.h */
struct ap_analysis;
struct cJSON *ap_findings_json(const struct ap_analysis *an);
void ap_report_md(const struct ap_analysis *an, FILE *f);
/* the terminal's "Top findings" block */
void ap_findings_print_top(const struct ap_analysis *an, int top, FILE *f);

/* "Python frames unavailable for pid N (COMM): WHY; the times below are the
 * interpreter's native functions" for a process whose Python frames were
 * not walked (its py_missing label), NULL otherwise; malloc'ed (pynote.c).
 * The terminal's lines of those notes, at most AP_PY_NOTES_MAX. */
char *ap_py_missing_note(const struct profile *p, const struct ap_process *pr);
void ap_py_missing_print(const struct profile *p, FILE *f);
#define AP_PY_NOTES_MAX 10

/* --malloc's views: alloc.folded (AP_MEM_ALLOC) and live.folded (AP_MEM_LIVE)
 * into dirfd, weight = bytes; 0 or -errno */
int folded_write_malloc(const struct profile *p, enum ap_view view, int dirfd);
/* the terminal's memory block (memsummary.c): page-fault bytes, the three
 * heaviest stacks' leaf functions, mapping totals, --malloc's bytes; nothing
 * without memory rows */
void ap_memory_print(const struct profile *p, enum ap_view view, FILE *f);

#endif
