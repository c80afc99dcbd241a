/* SPDX-License-Identifier: MIT */
/* Python thread names (threading.Thread.name) read from a live process's
 * memory: CPython <= 3.13 never gives the OS thread the Python name, so
 * every thread's comm is "python3.X". Read in userspace, bounded in reads
 * and time; any failure leaves the comm. */
#ifndef AP_PYTHREADS_H
#define AP_PYTHREADS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "process/procmaps.h"

#define AP_PYTHREAD_NAME_MAX 64 /* bytes kept of a name, with its NUL */
#define AP_PYTHREADS_MAX 4096   /* threads read per process */

struct py_thread_name {
	uint32_t tid;                   /* Thread._native_id: the kernel tid */
	char name[AP_PYTHREAD_NAME_MAX]; /* UTF-8, cut at a character boundary */
};

/* a live process's interpreter, from pythreads__target() */
struct py_target {
	uint32_t pid;
	int minor;              /* CPython 3.<minor> */
	uint64_t runtime;       /* run-time address of _PyRuntime */
	uint64_t dev, ino;      /* the file holding it (st_dev encoding) */
};

struct pythreads_stats {
	uint64_t reads;         /* process_vm_readv calls */
	uint64_t refused;       /* addresses outside anonymous memory and the interpreter */
	uint64_t incomplete;    /* calls that returned names but stopped early (budget, fault) */
};

/*
 * Read the threads of threading._active in t->pid: follow
 * _PyRuntime.interpreters.head -> modules (sys.modules) -> "threading" ->
 * its dict -> "_active" {ident: Thread}, and each Thread's "_name" and
 * "_native_id" (instance dicts, split or managed, per version). Only
 * anonymous memory and the mappings of the interpreter's file are
 * read (never memory a file the target controls backs, which could block
 * us), at most a few thousand reads and 50 ms per call. Fills up to max
 * entries of out; returns how many, or -ENOTSUP (version), -ESRCH (gone),
 * -EFAULT/-EINVAL (unreadable or not what CPython builds), -ETIME (out of
 * budget). st (may be NULL) gets what the call cost.
 */
int pythreads__read(const struct py_target *t, struct py_thread_name *out, size_t max,
		    struct pythreads_stats *st);

/* The name of the first local (the first argument) of the code object
 * code in pid, into out (cap bytes): co_varnames[0] (3.8-3.10) or
 * co_localsplusnames[0] (3.11+). Here because it reads the process's
 * memory as pythreads__read() does; 0 or -errno. */
int pythreads__first_local(const struct py_target *t, uint64_t code, char *out, size_t cap);

/* The same on a helper thread, waited for at most budget_ns (CLOCK_MONOTONIC):
 * process_vm_readv has no timeout and the 50 ms budget above is checked
 * between reads only, so a read that faults on memory nobody answers (an
 * anonymous mapping registered with userfaultfd) or waits for the
 * target's mmap_lock would block the caller as long as that lasts.
 * -ETIMEDOUT then: the helper stays blocked in the kernel (killable) and
 * frees its own copies if the read ever returns. Else as the above. */
int pythreads__read_bounded(const struct py_target *t, struct py_thread_name *out, size_t max,
			    struct pythreads_stats *st, uint64_t budget_ns);
int pythreads__first_local_bounded(const struct py_target *t, uint64_t code, char *out, size_t cap,
				   uint64_t budget_ns);

/* The name of the asyncio Task object task in pid (3.14+), into out (cap
 * bytes): its task_name str, or "Task-N" for the int N of a name not
 * given; *code gets its coroutine's code object (0 if unread). Bounded as
 * pythreads__read(); 0 or -errno (-ENOTSUP before 3.14). */
int pythreads__task_name(const struct py_target *t, uint64_t task, char *out, size_t cap,
			 uint64_t *code);
int pythreads__task_name_bounded(const struct py_target *t, uint64_t task, char *out, size_t cap,
				 uint64_t *code, uint64_t budget_ns);

/* Suspended asyncio tasks (3.14+): the Tasks on the interpreter's and
 * each thread's task list (asyncio_tasks_head, the lists `python -m
 * asyncio ps` reads), less those running or done, each with its await
 * chain: the task's coroutine, the coroutine it awaits, and so on, down to
 * what the innermost one waits on. */
#define AP_PYASYNC_DEPTH 12     /* coroutines of an await chain kept */
#define AP_PYASYNC_TASKS 256    /* suspended tasks read per process */
#define AP_PYASYNC_FUNC_MAX 96
#define AP_PYASYNC_FILE_MAX 192

struct py_async_frame {
	char func[AP_PYASYNC_FUNC_MAX];  /* co_qualname */
	char file[AP_PYASYNC_FILE_MAX];  /* co_filename */
	int32_t line;                    /* where it is suspended; 0 unknown */
};

struct py_async_task {
	char name[AP_PYTHREAD_NAME_MAX];
	/* what the innermost coroutine awaits: "Future" (or its class's
	 * name), "Task NAME", another awaitable's type name, or "?" */
	char waits[AP_PYTHREAD_NAME_MAX + 8];
	uint32_t tid;                    /* the thread whose list holds it; 0: the
					  * interpreter's (its thread ended) */
	uint32_t depth;                  /* frames in chain */
	bool cut;                        /* the chain went deeper than AP_PYASYNC_DEPTH */
	struct py_async_frame chain[AP_PYASYNC_DEPTH]; /* the task's coroutine first */
};

struct pyasync_stats {
	uint64_t reads, refused;         /* as pythreads_stats */
	uint64_t capped;                 /* suspended tasks beyond max, not read */
	uint64_t cut;                    /* chains cut at AP_PYASYNC_DEPTH */
	uint64_t failed;                 /* tasks left out: not what a Task looks like */
	uint64_t incomplete;             /* 1: out of reads or time, the lists stopped early */
};

/* Fill up to max entries of out with t->pid's suspended tasks; how many,
 * or -ENOTSUP (before 3.14, or a version not known), -ESRCH, -EFAULT,
 * -ETIME (out of budget before any task). Bounded as pythreads__read();
 * st (may be NULL) gets what it cost and what it left out. */
int pythreads__async_tasks(const struct py_target *t, struct py_async_task *out, size_t max,
			   struct pyasync_stats *st);
int pythreads__async_tasks_bounded(const struct py_target *t, struct py_async_task *out,
				   size_t max, struct pyasync_stats *st, uint64_t budget_ns);

/* the task list offsets pythreads__async_tasks() uses for 3.<minor> (the
 * unit tests compare them with the _AsyncioDebug sections); 0 or -ENOTSUP */
struct py_async_offsets {
	uint16_t tstate_tasks, interp_tasks, task_node;
};
int pythreads__async_offsets(int minor, struct py_async_offsets *o);

/* pid's image img, if it has a configured interpreter (img->py_minor >
 * 0), as a target; 0 or -ENOENT */
int pythreads__target(uint32_t pid, const struct ap_image *img, struct py_target *t);

#endif
