// SPDX-License-Identifier: MIT
/* window.json: the agent's summary of one window (schema autoprof.window/1,
 * fields in docs/ARTIFACTS.md). Built from the window's profile and what
 * only the agent knows: the span, the store and its own cost. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "artifact/artifact.h"
#include "artifact/window_json.h"
#include "util.h"

static void add_time(cJSON *o, const char *key, uint64_t real_ns)
{
	char buf[40];

	format_utc(real_ns, buf, sizeof(buf));
	cJSON_AddStringToObject(o, key, buf);
}

static int by_samples_desc(const void *a, const void *b)
{
	const struct ap_process *x = *(const struct ap_process *const *)a;
	const struct ap_process *y = *(const struct ap_process *const *)b;

	if (x->samples != y->samples)
		return x->samples < y->samples ? 1 : -1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

static double cpu_of(const struct profile *p, uint64_t samples)
{
	return p->frequency_hz ? (double)samples / p->frequency_hz : 0;
}

/* the processes sampled in the window, most samples first, capped */
static void add_processes(cJSON *root, const struct profile *p)
{
	const struct ap_process **v = xcalloc(p->nr_procs + 1, sizeof(*v));
	size_t i, n = 0;
	cJSON *arr, *o;

	for (i = 0; i < p->nr_procs; i++)
		if (p->procs[i].samples)
			v[n++] = &p->procs[i];
	qsort(v, n, sizeof(*v), by_samples_desc);
	arr = cJSON_AddArrayToObject(root, "processes");
	for (i = 0; i < n && i < AP_WINDOW_PROCS_MAX; i++) {
		cJSON_AddItemToArray(arr, o = cJSON_CreateObject());
		cJSON_AddNumberToObject(o, "pid", v[i]->pid);
		cJSON_AddStringToObject(o, "comm", profile__s(p, v[i]->comm));
		cJSON_AddStringToObject(o, "exe", profile__s(p, v[i]->exe));
		/* labels (process/labels.h): "" when unknown or none */
		cJSON_AddStringToObject(o, "service", profile__s(p, v[i]->service));
		cJSON_AddStringToObject(o, "container_id", profile__s(p, v[i]->container_id));
		cJSON_AddStringToObject(o, "runtime", profile__s(p, v[i]->runtime));
		cJSON_AddNumberToObject(o, "samples", v[i]->samples);
		cJSON_AddNumberToObject(o, "cpu_s", cpu_of(p, v[i]->samples));
	}
	cJSON_AddNumberToObject(root, "processes_omitted", n > AP_WINDOW_PROCS_MAX ?
					  n - AP_WINDOW_PROCS_MAX : 0);
	free(v);
}

static void add_store(cJSON *root, const struct ap_window_info *wi)
{
	cJSON *s = cJSON_AddObjectToObject(root, "store");

	cJSON_AddNumberToObject(s, "windows_deleted", wi->deleted);
	cJSON_AddNumberToObject(s, "bytes_deleted", wi->deleted_bytes);
	cJSON_AddNumberToObject(s, "windows_dropped", wi->dropped);
	cJSON_AddNumberToObject(s, "windows_deleted_total", wi->deleted_total);
	cJSON_AddNumberToObject(s, "bytes_deleted_total", wi->deleted_bytes_total);
	cJSON_AddNumberToObject(s, "windows_dropped_total", wi->dropped_total);
	cJSON_AddNumberToObject(s, "partial_windows_removed_at_start", wi->temp_removed);
	cJSON_AddNumberToObject(s, "bytes", wi->store_bytes);
	cJSON_AddNumberToObject(s, "max_bytes", wi->max_bytes);
}

static void add_agent(cJSON *root, const struct ap_window_info *wi)
{
	cJSON *a = cJSON_AddObjectToObject(root, "agent");
	double span = (wi->end_mono_ns - wi->start_mono_ns) / 1e9;

	cJSON_AddNumberToObject(a, "pid", getpid());
	cJSON_AddNumberToObject(a, "cpu_s", wi->cpu_s);
	/* of one core, over the window */
	cJSON_AddNumberToObject(a, "cpu_pct", span > 0 ? 100.0 * wi->cpu_s / span : 0);
	cJSON_AddNumberToObject(a, "cpu_total_s", wi->cpu_total_s);
	cJSON_AddNumberToObject(a, "rss_kb", wi->rss_kb);
	cJSON_AddNumberToObject(a, "max_rss_kb", wi->max_rss_kb);
}

static void add_sinks(cJSON *root, const struct ap_window_info *wi)
{
	cJSON *all, *o;
	size_t i;

	if (!wi->nr_sinks)
		return;
	all = cJSON_AddObjectToObject(root, "sinks");
	for (i = 0; i < wi->nr_sinks && i < AP_PUSH_SINKS_MAX; i++) {
		const struct ap_window_sink *k = &wi->sinks[i];

		o = cJSON_AddObjectToObject(all, k->st.name);
		/* this window's requests, spooled at its close */
		cJSON_AddNumberToObject(o, "requests", k->requests);
		cJSON_AddNumberToObject(o, "requests_failed", k->requests_failed);
		cJSON_AddNumberToObject(o, "bytes", k->bytes);
		if (!strcmp(k->st.name, "pyroscope")) {
			cJSON_AddNumberToObject(o, "services", k->services);
			cJSON_AddNumberToObject(o, "services_merged", k->services_merged);
			cJSON_AddNumberToObject(o, "services_merged_total", k->services_merged_total);
		}
		/* since the agent started; the spool as the window closed,
		 * before its own requests were added */
		cJSON_AddNumberToObject(o, "pushes_ok", k->st.pushes_ok);
		cJSON_AddNumberToObject(o, "pushes_retried", k->st.pushes_retried);
		cJSON_AddNumberToObject(o, "pushes_rejected", k->st.pushes_rejected);
		cJSON_AddNumberToObject(o, "pushes_given_up", k->st.pushes_given_up);
		cJSON_AddNumberToObject(o, "bytes_sent", k->st.bytes_sent);
		cJSON_AddNumberToObject(o, "last_status", k->st.last_status);
		if (k->st.last_ok_real_ns)
			add_time(o, "last_ok_time", k->st.last_ok_real_ns);
		cJSON_AddNumberToObject(o, "spool_entries", k->st.spool_entries);
		cJSON_AddNumberToObject(o, "spool_bytes", k->st.spool_bytes);
		cJSON_AddNumberToObject(o, "spool_dropped", k->st.spool_dropped);
		cJSON_AddNumberToObject(o, "spool_dropped_bytes", k->st.spool_dropped_bytes);
		cJSON_AddNumberToObject(o, "spool_put_failed", k->st.spool_put_failed);
		cJSON_AddNumberToObject(o, "spool_resumed", k->st.spool_resumed);
		cJSON_AddNumberToObject(o, "spool_bad", k->st.spool_bad);
		cJSON_AddNumberToObject(o, "spool_foreign", k->st.spool_foreign);
		cJSON_AddNumberToObject(o, "spool_read_errors", k->st.spool_read_errors);
	}
}

cJSON *window_json__build(const struct profile *p, const struct ap_window_info *wi)
{
	cJSON *root = cJSON_CreateObject(), *w, *t, *c;
	size_t i, nproc = 0;

	cJSON_AddStringToObject(root, "schema", AP_SCHEMA_WINDOW);
	w = cJSON_AddObjectToObject(root, "window");
	cJSON_AddNumberToObject(w, "seq", wi->seq);
	add_time(w, "start_time", wi->start_real_ns);
	add_time(w, "end_time", wi->end_real_ns);
	cJSON_AddNumberToObject(w, "start_mono_ns", wi->start_mono_ns);
	cJSON_AddNumberToObject(w, "end_mono_ns", wi->end_mono_ns);
	cJSON_AddNumberToObject(w, "duration_s", (wi->end_mono_ns - wi->start_mono_ns) / 1e9);
	cJSON_AddBoolToObject(w, "last", wi->last);
	for (i = 0; i < p->nr_procs; i++)
		nproc += p->procs[i].samples != 0;
	t = cJSON_AddObjectToObject(root, "totals");
	cJSON_AddNumberToObject(t, "samples", p->total_samples);
	cJSON_AddNumberToObject(t, "cpu_s", cpu_of(p, p->total_samples));
	cJSON_AddNumberToObject(t, "processes", nproc);
	cJSON_AddNumberToObject(t, "frequency_hz", p->frequency_hz);
	cJSON_AddNumberToObject(t, "nr_cpus", wi->nr_cpus);
	add_processes(root, p);
	/* every loss and eviction counter of the collectors and the caches */
	c = cJSON_AddObjectToObject(root, "counters");
	for (i = 0; i < p->nr_counters; i++)
		cJSON_AddNumberToObject(c, p->counters[i].name, p->counters[i].value);
	if (wi->totals) {
		c = cJSON_AddObjectToObject(root, "counters_total");
		for (i = 0; i < wi->nr_totals; i++)
			cJSON_AddNumberToObject(c, wi->totals[i].name, wi->totals[i].value);
	}
	add_store(root, wi);
	add_agent(root, wi);
	add_sinks(root, wi);
	return root;
}

int window_json__write(const struct profile *p, const struct ap_window_info *wi, int dirfd)
{
	cJSON *root = window_json__build(p, wi);
	int err = json_write_atomic(dirfd, "window.json", root);

	cJSON_Delete(root);
	return err;
}
