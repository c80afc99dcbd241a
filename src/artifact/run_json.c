// SPDX-License-Identifier: MIT
/* run.json (schema autoprof.run/1): what was run, how, for how long, on
 * which host, and the status and loss counters of every collector. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>
#include "shared.h"
#include "artifact/artifact.h"
#include "artifact/run_json.h"
#include "artifact/selfcost.h"
#include "outdir.h"
#include "session.h"
#include "util.h"

static void add_time(cJSON *o, const char *key, uint64_t real_ns)
{
	char buf[40];

	format_utc(real_ns, buf, sizeof(buf));
	cJSON_AddStringToObject(o, key, buf);
}

static void add_target(cJSON *root, const struct ap_session *ses)
{
	cJSON *t = cJSON_AddObjectToObject(root, "target"), *arr;
	int i;

	cJSON_AddStringToObject(t, "mode", ses->opts.all ? "all" : ses->child ? "launch" : "attach");
	if (ses->opts.all) {
		char *f = ap_filter__describe(&ses->opts.filter);

		cJSON_AddStringToObject(t, "filters", f);
		free(f);
	} else if (ses->opts.argv) {
		arr = cJSON_AddArrayToObject(t, "command");
		for (i = 0; i < ses->opts.argc; i++)
			cJSON_AddItemToArray(arr, cJSON_CreateString(ses->opts.argv[i]));
		cJSON_AddNumberToObject(t, "pid", ses->child);
		cJSON_AddBoolToObject(t, "exited", ses->target_exited);
		if (ses->target_exited && WIFEXITED(ses->wait_status))
			cJSON_AddNumberToObject(t, "exit_status", WEXITSTATUS(ses->wait_status));
		else
			cJSON_AddNullToObject(t, "exit_status");
		if (ses->target_exited && WIFSIGNALED(ses->wait_status))
			cJSON_AddNumberToObject(t, "exit_signal", WTERMSIG(ses->wait_status));
		else
			cJSON_AddNullToObject(t, "exit_signal");
	} else {
		arr = cJSON_AddArrayToObject(t, "pids");
		for (i = 0; i < ses->opts.nr_pids; i++)
			cJSON_AddItemToArray(arr, cJSON_CreateNumber(ses->opts.pids[i]));
	}
}

/* MemTotal and MemAvailable of /proc/meminfo, in kB; false if unreadable */
static bool meminfo(uint64_t *total_kb, uint64_t *avail_kb)
{
	FILE *f = fopen("/proc/meminfo", "re");
	char line[128];
	unsigned long long v;
	int found = 0;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f) && found < 2) {
		if (sscanf(line, "MemTotal: %llu kB", &v) == 1)
			*total_kb = v, found++;
		else if (sscanf(line, "MemAvailable: %llu kB", &v) == 1)
			*avail_kb = v, found++;
	}
	fclose(f);
	return found == 2;
}

static void add_host(cJSON *root, const struct ap_session *ses)
{
	uint64_t total_kb = 0, avail_kb = 0;
	cJSON *h = cJSON_AddObjectToObject(root, "host");
	struct utsname u;
	char host[256] = "";

	gethostname(host, sizeof(host) - 1);
	cJSON_AddStringToObject(h, "hostname", host);
	if (!uname(&u)) {
		cJSON_AddStringToObject(h, "kernel", u.release);
		cJSON_AddStringToObject(h, "machine", u.machine);
	}
	cJSON_AddNumberToObject(h, "nr_cpus", ses->nr_cpus);
	/* when the run ended: what a growing process could still take */
	if (meminfo(&total_kb, &avail_kb)) {
		cJSON_AddNumberToObject(h, "mem_total_kb", (double)total_kb);
		cJSON_AddNumberToObject(h, "mem_available_kb", (double)avail_kb);
	}
}

static void add_options(cJSON *root, const struct ap_session *ses)
{
	cJSON *o = cJSON_AddObjectToObject(root, "options");

	cJSON_AddNumberToObject(o, "frequency_hz", ses->opts.freq);
	cJSON_AddNumberToObject(o, "duration_limit_s", ses->opts.duration_ns / 1e9);
	cJSON_AddNumberToObject(o, "stack_size", ses->opts.stack_size);
	cJSON_AddNumberToObject(o, "ringbuf_mb", ses->opts.ringbuf_mb);
	cJSON_AddBoolToObject(o, "follow_children", !ses->opts.no_children);
	cJSON_AddStringToObject(o, "view", ap_view_names[ses->opts.view]);
	cJSON_AddNumberToObject(o, "trace_min_block_us", ses->opts.interval_min_ns / 1000.0);
	cJSON_AddBoolToObject(o, "memory", !ses->opts.no_memory);
	cJSON_AddBoolToObject(o, "malloc", ses->opts.malloc);
	cJSON_AddBoolToObject(o, "memory_thp", ses->opts.memory_thp);
}

static const char *const offcpu_losses[] = {
	"offcpu_kernel_stack_errors", "offcpu_aggregation_full", "offcpu_stack_records_lost",
	"threads_not_accounted", "thread_records_lost", "offcpu_missed_in_kernel",
	"offcpu_interval_records_lost", "offcpu_intervals_dropped", NULL,
};
static const char *const syscall_losses[] = {
	"syscall_aggregation_full", "slow_syscall_records_lost", "syscalls_missed_in_kernel",
	"slow_syscalls_dropped", NULL,
};
static const char *const memory_losses[] = {
	"memory_fault_records_lost", "memory_fault_pages_lost", "memory_map_records_lost",
	"memory_map_aggregation_full", "memory_faults_missed_in_kernel", "memory_timeline_dropped",
	NULL,
};

/* a collector's status and its own loss counters */
static void add_collector(cJSON *c, const struct profile *p, const char *name, bool enabled,
			  const char *artifact, const char *const *losses)
{
	cJSON *o = cJSON_AddObjectToObject(c, name), *l;

	cJSON_AddBoolToObject(o, "enabled", enabled);
	if (!enabled)
		return;
	cJSON_AddStringToObject(o, "artifact", artifact);
	l = cJSON_AddObjectToObject(o, "losses");
	for (; *losses; losses++)
		cJSON_AddNumberToObject(l, *losses, profile__counter(p, *losses));
}

static void add_collectors(cJSON *root, const struct ap_session *ses, const struct profile *p)
{
	cJSON *c = cJSON_AddObjectToObject(root, "collectors"), *cpu, *cnt, *o;
	struct ap_completeness comp;
	size_t i;

	cpu = cJSON_AddObjectToObject(c, "cpu");
	cJSON_AddStringToObject(cpu, "status", ses->cpu ? "ok" : "failed");
	cJSON_AddStringToObject(cpu, "artifact", "artifacts/cpu.json");
	cJSON_AddNumberToObject(cpu, "samples", p->total_samples);
	profile__completeness(p, &comp);
	cJSON_AddNumberToObject(cpu, "user_stack_samples", comp.user_samples);
	cJSON_AddNumberToObject(cpu, "complete_user_stacks", comp.complete);
	cJSON_AddNumberToObject(cpu, "user_stack_completeness",
				comp.user_samples ? (double)comp.complete / comp.user_samples : 0);
	cnt = cJSON_AddObjectToObject(cpu, "counters");
	for (i = 0; i < p->nr_counters; i++)
		cJSON_AddNumberToObject(cnt, p->counters[i].name, p->counters[i].value);
	add_collector(c, p, "offcpu", p->has_offcpu, "artifacts/offcpu.json", offcpu_losses);
	if (p->has_offcpu) {
		uint64_t n = 0;

		for (i = 0; i < p->nr_threads; i++)
			n += p->threads[i].accounted;
		o = cJSON_GetObjectItem(c, "offcpu");
		cJSON_AddNumberToObject(o, "threads_accounted", n);
		cJSON_AddNumberToObject(o, "min_block_us", p->min_block_ns / 1e3);
	}
	add_collector(c, p, "syscalls", p->has_syscalls, "artifacts/syscalls.json", syscall_losses);
	if (p->has_syscalls) {
		uint64_t n = 0;

		for (i = 0; i < p->nr_sys; i++)
			n += p->sys[i].count;
		o = cJSON_GetObjectItem(c, "syscalls");
		cJSON_AddNumberToObject(o, "calls", n);
		cJSON_AddNumberToObject(o, "slow_calls", profile__slow_calls(p));
		cJSON_AddNumberToObject(o, "slow_call_stacks", p->nr_slow);
		cJSON_AddNumberToObject(o, "slow_threshold_ms", p->slow_ns / 1e6);
	}
	/* memory (src/collect/memory.c): off with --no-memory, or when its
	 * attach failed (the run went on without it) */
	add_collector(c, p, "memory", p->has_memory, "artifacts/memory.json", memory_losses);
	o = cJSON_GetObjectItem(c, "memory");
	if (profile__counter(p, "memory_failed"))
		cJSON_AddBoolToObject(o, "failed", true);
	if (p->has_memory) {
		cJSON_AddNumberToObject(o, "fault_samples",
					profile__counter(p, "memory_fault_samples_received"));
		cJSON_AddNumberToObject(o, "fault_samples_capped",
					profile__counter(p, "memory_fault_samples_capped"));
		cJSON_AddNumberToObject(o, "map_stacks", profile__counter(p, "memory_map_records_received"));
		cJSON_AddNumberToObject(o, "map_stacks_capped",
					profile__counter(p, "memory_map_stacks_capped"));
		cJSON_AddNumberToObject(o, "rate_hz", ses->opts.memory_rate ? ses->opts.memory_rate : AP_MEM_RATE_DEFAULT);
		cJSON_AddNumberToObject(o, "faults_per_sample", AP_MEM_FAULT_PERIOD);
	}
	o = cJSON_AddObjectToObject(c, "proc");
	cJSON_AddBoolToObject(o, "enabled", true);
	cJSON_AddStringToObject(o, "artifact", "artifacts/proc.json");
}

int run_json__write(const struct ap_session *ses, bool interrupted)
{
	return run_json__write_at(ses, &ses->prof, ses->out->fd, interrupted);
}

/* the CPython it runs and, when its Python frames are missing, why; a
 * free-threaded one ("CPython 3.14t"): whether its samples saw the GIL off
 * or turned on (PYTHON_GIL=1, or an extension module that does not declare
 * free-threading support; CPython also turns it on for the moment an
 * extension module initializes: a few samples at start-up), and how many */
static void add_python(cJSON *o, const struct profile *p, const struct ap_process *pr)
{
	const char *rt = profile__s(p, pr->runtime);
	size_t n = strlen(rt);

	if (pr->runtime)
		cJSON_AddStringToObject(o, "runtime", rt);
	if (n && rt[n - 1] == 't' && !strncmp(rt, "CPython ", 8)) {
		cJSON_AddBoolToObject(o, "free_threaded", true);
		if (pr->nogil_samples && pr->gil_known_samples)
			cJSON_AddStringToObject(o, "gil", "off, and on in some samples");
		else if (pr->nogil_samples)
			cJSON_AddStringToObject(o, "gil", "off");
		else if (pr->gil_known_samples)
			cJSON_AddStringToObject(o, "gil", "on");
		cJSON_AddNumberToObject(o, "gil_off_samples", pr->nogil_samples);
		cJSON_AddNumberToObject(o, "gil_on_samples", pr->gil_known_samples);
	}
	if (!pr->py_missing)
		return;
	cJSON_AddStringToObject(o, "python_frames_missing", profile__s(p, pr->py_missing));
	cJSON_AddStringToObject(o, "python_frames_missing_why", profile__s(p, pr->py_missing_why));
}

int run_json__write_at(const struct ap_session *ses, const struct profile *p, int dirfd,
		       bool interrupted)
{
	cJSON *root = cJSON_CreateObject(), *tool, *arr, *o;
	size_t i;
	int err;

	cJSON_AddStringToObject(root, "schema", AP_SCHEMA_RUN);
	tool = cJSON_AddObjectToObject(root, "tool");
	cJSON_AddStringToObject(tool, "name", "autoprof-bpf");
	cJSON_AddStringToObject(tool, "version", AP_VERSION);
	/* our own process: the CPU it takes from a waiting thread is the
	 * profiler's overhead, not contention to move elsewhere */
	cJSON_AddNumberToObject(tool, "pid", getpid());
	add_target(root, ses);
	add_time(root, "start_time", ses->start_real);
	add_time(root, "end_time", ses->end_real);
	cJSON_AddNumberToObject(root, "wall_s", (ses->end_mono - ses->start_mono) / 1e9);
	cJSON_AddBoolToObject(root, "interrupted", interrupted);
	cJSON_AddBoolToObject(root, "stopped_before_target_exit", ses->stopped_early);
	add_host(root, ses);
	add_options(root, ses);
	add_collectors(root, ses, p);
	/* so far; rewritten after the analysis and the pictures */
	self_cost__add_json(&ses->cost, root);
	arr = cJSON_AddArrayToObject(root, "processes");
	for (i = 0; i < p->nr_procs; i++) {
		cJSON_AddItemToArray(arr, o = cJSON_CreateObject());
		cJSON_AddNumberToObject(o, "pid", p->procs[i].pid);
		cJSON_AddNumberToObject(o, "ppid", p->procs[i].ppid);
		cJSON_AddStringToObject(o, "comm", profile__s(p, p->procs[i].comm));
		cJSON_AddStringToObject(o, "exe", profile__s(p, p->procs[i].exe));
		cJSON_AddStringToObject(o, "cmdline", profile__s(p, p->procs[i].cmdline));
		cJSON_AddNumberToObject(o, "samples", p->procs[i].samples);
		add_python(o, p, &p->procs[i]);
		if (p->procs[i].exit_status >= 0)
			cJSON_AddNumberToObject(o, "exit_status", p->procs[i].exit_status);
	}
	err = json_write_atomic(dirfd, "run.json", root);
	cJSON_Delete(root);
	return err;
}
