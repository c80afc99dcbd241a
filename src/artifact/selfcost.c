// SPDX-License-Identifier: MIT
/* The profiler's own cost by phase; see selfcost.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include "artifact/artifact.h"
#include "artifact/selfcost.h"
#include "log.h"
#include "util.h"

static const char *const phase_names[AP_PHASE__COUNT] = {
	[AP_PHASE_START] = "start",       [AP_PHASE_COLLECT] = "collect",
	[AP_PHASE_WRITE] = "write",       [AP_PHASE_ANALYZE] = "analyze",
	[AP_PHASE_PICTURES] = "pictures",
};

void self_cost__mark(struct ap_self_cost *sc, enum ap_phase ph)
{
	struct rusage ru;
	int i;

	if (ph < 0 || ph >= AP_PHASE__COUNT || getrusage(RUSAGE_SELF, &ru))
		return;
	sc->user_s = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
	sc->sys_s = ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	/* a phase skipped (an analysis that failed) costs nothing */
	for (i = sc->done; i <= (int)ph; i++) {
		sc->cpu_s[i] = sc->user_s + sc->sys_s;
		sc->max_rss_kb[i] = ru.ru_maxrss;
	}
	if ((int)ph + 1 > sc->done)
		sc->done = ph + 1;
}

void self_cost__add_json(const struct ap_self_cost *sc, cJSON *root)
{
	cJSON *o = cJSON_AddObjectToObject(root, "self"), *ph, *e;
	int i;

	if (!sc->done)
		return;
	cJSON_AddNumberToObject(o, "user_s", sc->user_s);
	cJSON_AddNumberToObject(o, "sys_s", sc->sys_s);
	cJSON_AddNumberToObject(o, "max_rss_kb", sc->max_rss_kb[sc->done - 1]);
	/* "pictures" once the figures cover the whole run */
	cJSON_AddStringToObject(o, "measured_until", phase_names[sc->done - 1]);
	ph = cJSON_AddArrayToObject(o, "phases");
	for (i = 0; i < sc->done; i++) {
		cJSON_AddItemToArray(ph, e = cJSON_CreateObject());
		cJSON_AddStringToObject(e, "phase", phase_names[i]);
		cJSON_AddNumberToObject(e, "cpu_s", sc->cpu_s[i] - (i ? sc->cpu_s[i - 1] : 0));
		cJSON_AddNumberToObject(e, "max_rss_kb", sc->max_rss_kb[i]);
	}
}

int self_cost__update_run_json(const struct ap_self_cost *sc, int dirfd)
{
	cJSON *root;
	int err;

	root = json_load_checked_at(dirfd, "run.json", "run.json", AP_SCHEMA_RUN);
	if (!root) {
		err = -errno;
		goto out;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(root, "self");
	self_cost__add_json(sc, root);
	err = json_write_atomic(dirfd, "run.json", root);
out:
	if (err)
		ap_warn("run.json: recording the profiler's own cost: %s", ap_errstr(err));
	cJSON_Delete(root);
	return err;
}

void self_cost__print(const struct ap_self_cost *sc, FILE *f)
{
	int i;

	if (!sc->done)
		return;
	fprintf(f, "autoprof-bpf itself: %.2f CPU-s (", sc->user_s + sc->sys_s);
	for (i = 0; i < sc->done; i++)
		fprintf(f, "%s%s %.2f", i ? ", " : "", phase_names[i],
			sc->cpu_s[i] - (i ? sc->cpu_s[i - 1] : 0));
	fprintf(f, "), peak RSS %ld MB\n", (sc->max_rss_kb[sc->done - 1] + 512) / 1024);
}
