// SPDX-License-Identifier: MIT
/* Python calls collector (--py-calls): a uprobe on the eval loop of each
 * Python process (on_py_eval_entry) counts C->Python entries per code
 * object in the kernel; written out as artifacts/python_calls.json. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "artifact/artifact.h"
#include "collect/collect.h"
#include "log.h"
#include "util.h"

struct pycalls {
	struct py_link {            /* one uprobe per (pid, interpreter) */
		struct bpf_link *link;  /* a perf fd: destroyed at the process's release */
		uint32_t pid;
		char *key;              /* its py_probed key */
	} *py_links;
	size_t nr_py_links, cap_py_links;
	struct hmap py_probed;      /* (pid, path) -> 1 while probed */
	uint64_t attach_errors;
	uint64_t links_released;
	uint64_t probes_running;    /* attached to a process already running its interpreter */
	uint64_t exited_before_probe; /* processes gone before their probe went in (-ESRCH) */
};

static int pycalls_configure(struct ap_collector *c)
{
	struct cpu_collector *cc = c->cc;

	c->priv = xcalloc(1, sizeof(struct pycalls));
	c->enabled = cc->ses->opts.py_calls;
	bpf_program__set_autoload(cc->skel->progs.on_py_eval_entry, c->enabled);
	return 0;
}

/* uprobe on this process's eval loop; per pid, so other users of the same
 * interpreter binary are not trapped */
static void attach_py_calls(struct ap_collector *c, uint32_t pid, const struct symfile *sf)
{
	struct cpu_collector *cc = c->cc;
	struct pycalls *pc = c->priv;
	const char *path = sf->path;
	struct bpf_link *l;
	uint64_t off, v;
	char key[PATH_MAX + 16], self[64];
	int kl = snprintf(key, sizeof(key), "%u:%s", pid, path);

	if (hmap_get(&pc->py_probed, key, kl, &v) && v)
		return;
	hmap_put(&pc->py_probed, key, kl, 1);

	/* our own symbol table: asking libbpf to resolve the name re-parses
	 * the ELF, slow enough for a short script to run past the probe */
	if (symfile__func_offset(sf, "_PyEval_EvalFrameDefault", &off)) {
		if (!pc->attach_errors++)
			ap_warn("python: --py-calls: %s has no _PyEval_EvalFrameDefault symbol", path);
		return;
	}
	uint64_t t0 = now_mono_ns();

	/* the kernel resolves a uprobe's path itself: give it the file this
	 * symfile read (its fd), not a name the target could re-point */
	snprintf(self, sizeof(self), "/proc/self/fd/%d", sf->fd);
	l = bpf_program__attach_uprobe(cc->skel->progs.on_py_eval_entry, false, pid, self, off);
	ap_debug("python: pid %u: uprobe attached in %.2f ms", pid, (now_mono_ns() - t0) / 1e6);
	if (!l && errno == ESRCH) {
		/* it ended before the probe went in: nothing of it counted */
		if (!pc->exited_before_probe++)
			ap_info("python: --py-calls: pid %u ended before its probe went in (a short "
				"program run through a wrapper): its calls are not counted", pid);
		return;
	}
	if (!l) {
		if (!pc->attach_errors++)
			ap_warn("python: --py-calls: uprobe on %s:_PyEval_EvalFrameDefault: %s", path,
				ap_errstr(-errno));
		return;
	}
	/* a process found running (attach, a child, a libpython loaded
	 * later): its calls before now are not counted, and the artifact
	 * says how many processes that was */
	if (!cc->py_before_exec)
		pc->probes_running++;
	GROW(pc->py_links, pc->cap_py_links, pc->nr_py_links + 1);
	pc->py_links[pc->nr_py_links++] = (struct py_link){ l, pid, xstrdup(key) };
}

/* pid was released: its uprobes go (one perf fd each, which would
 * otherwise add up over a run's Python processes), and a later process
 * with the same pid is probed anew */
static void release_py_links(struct ap_collector *c, uint32_t pid)
{
	struct pycalls *pc = c->priv;
	size_t i = 0;

	while (i < pc->nr_py_links) {
		struct py_link *pl = &pc->py_links[i];

		if (pl->pid != pid) {
			i++;
			continue;
		}
		bpf_link__destroy(pl->link);
		hmap_put(&pc->py_probed, pl->key, strlen(pl->key), 0);
		free(pl->key);
		*pl = pc->py_links[--pc->nr_py_links];
		pc->links_released++;
	}
}


static void pycalls_detach(struct ap_collector *c)
{
	struct pycalls *pc = c->priv;
	size_t i;

	if (!pc)
		return;
	for (i = 0; i < pc->nr_py_links; i++) {
		bpf_link__destroy(pc->py_links[i].link);
		free(pc->py_links[i].key);
	}
	pc->nr_py_links = 0;
}

struct call_row {
	uint32_t tgid;
	const struct py_code *pc;
	uint64_t count;
};

static int by_calls(const void *a, const void *b)
{
	const struct call_row *x = a, *y = b;

	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	if (x->tgid != y->tgid)
		return x->tgid < y->tgid ? -1 : 1;
	return x->pc && y->pc ? strcmp(x->pc->qualname, y->pc->qualname) : 0;
}

static bool same_function(const struct call_row *x, const struct call_row *y)
{
	return x->tgid == y->tgid && x->pc && y->pc && x->pc->firstlineno == y->pc->firstlineno &&
	       !strcmp(x->pc->qualname, y->pc->qualname) && !strcmp(x->pc->filename, y->pc->filename);
}

static int by_identity(const void *a, const void *b)
{
	const struct call_row *x = a, *y = b;
	int c;

	if (x->tgid != y->tgid)
		return x->tgid < y->tgid ? -1 : 1;
	if (!x->pc || !y->pc)
		return !x->pc - !y->pc;
	c = strcmp(x->pc->filename, y->pc->filename);
	if (!c)
		c = strcmp(x->pc->qualname, y->pc->qualname);
	return c ? c : x->pc->firstlineno - y->pc->firstlineno;
}

static int pycalls_artifact(struct ap_collector *c, int dirfd)
{
	struct cpu_collector *cc = c->cc;
	struct pycalls *pc = c->priv;
	struct {
		uint64_t code;
		uint32_t tgid, sig;
	} key, next, *prev = NULL;
	struct call_row *rows = NULL;
	size_t nr = 0, cap = 0, i, j;
	uint64_t total = 0, unnamed = 0, unconfigured = 0;
	cJSON *root = cJSON_CreateObject(), *arr, *o;
	int fd = bpf_map__fd(cc->skel->maps.py_calls);

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		uint64_t count = 0;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &count))
			continue;
		if (!key.code) { /* entries before the walker was configured */
			unconfigured += count;
			continue;
		}
		GROW(rows, cap, nr + 1);
		rows[nr++] = (struct call_row){ key.tgid, pycode__find(&cc->pyc, key.tgid, key.code,
								       key.sig), count };
		total += count;
	}
	/* one row per function: a code object can show two signatures when
	 * CPython swaps an interned name right after its first call */
	if (nr)
		qsort(rows, nr, sizeof(*rows), by_identity);
	for (i = 0, j = 0; i < nr; i++) {
		if (j && same_function(&rows[j - 1], &rows[i]))
			rows[j - 1].count += rows[i].count;
		else
			rows[j++] = rows[i];
	}
	nr = j;
	if (nr)
		qsort(rows, nr, sizeof(*rows), by_calls);
	cJSON_AddStringToObject(root, "schema", "autoprof.python_calls/1");
	cJSON_AddStringToObject(root, "probe", "uprobe:_PyEval_EvalFrameDefault");
	cJSON_AddNumberToObject(root, "total_entries", total);
	cJSON_AddNumberToObject(root, "attach_errors", pc->attach_errors);
	/* uprobes destroyed when their process was released */
	cJSON_AddNumberToObject(root, "probes_released", pc->links_released);
	/* entries the probe saw before the process's interpreter was
	 * configured (mapped after the exec, read later): not attributed */
	cJSON_AddNumberToObject(root, "entries_before_configured", unconfigured);
	/* probes attached to a process already running its interpreter:
	 * what it called before is not counted */
	cJSON_AddNumberToObject(root, "probes_attached_running", pc->probes_running);
	cJSON_AddNumberToObject(root, "exited_before_probe", pc->exited_before_probe);
	arr = cJSON_AddArrayToObject(root, "code_objects");
	for (i = 0; i < nr; i++) {
		cJSON_AddItemToArray(arr, o = cJSON_CreateObject());
		cJSON_AddNumberToObject(o, "pid", rows[i].tgid);
		cJSON_AddStringToObject(o, "qualname", rows[i].pc ? rows[i].pc->qualname : "[unknown code]");
		cJSON_AddStringToObject(o, "file", rows[i].pc ? rows[i].pc->filename : "");
		cJSON_AddNumberToObject(o, "firstlineno", rows[i].pc ? rows[i].pc->firstlineno : 0);
		cJSON_AddNumberToObject(o, "entries", rows[i].count);
		if (rows[i].pc)
			cJSON_AddNumberToObject(o, "python_minor", rows[i].pc->minor);
		unnamed += !rows[i].pc;
	}
	cJSON_AddNumberToObject(root, "unnamed_code_objects", unnamed);
	free(rows);
	return json_write_artifact(dirfd, "python_calls.json", root);
}


static void pycalls_free(struct ap_collector *c)
{
	struct pycalls *pc = c->priv;

	if (!pc)
		return;
	pycalls_detach(c);
	hmap_free(&pc->py_probed);
	free(pc->py_links);
	free(pc);
	c->priv = NULL;
}

const struct ap_collector_ops pycalls_ops = {
	.name = "pycalls",
	.configure = pycalls_configure,
	.artifact = pycalls_artifact,
	.on_interpreter = attach_py_calls,
	.on_release = release_py_links,
	.detach = pycalls_detach,
	.free = pycalls_free,
};
