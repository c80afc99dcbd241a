// SPDX-License-Identifier: MIT
/* The note every report carries for a process whose Python frames were not
 * walked (an unsupported CPython version or build, a layout not found):
 * its time is then the interpreter's native functions, and the reader must
 * know before reading the tables. From the process's python_frames_missing
 * label (cpu.json, run.json). */
#include <stdlib.h>
#include "report/report.h"
#include "util.h"

char *ap_py_missing_note(const struct profile *p, const struct ap_process *pr)
{
	const char *why = profile__s(p, pr->py_missing_why);

	if (!pr->py_missing)
		return NULL;
	return xasprintf("Python frames unavailable for pid %u (%s): %s; the times below are the "
			 "interpreter's native functions", pr->pid, profile__s(p, pr->comm),
			 *why ? why : profile__s(p, pr->py_missing));
}

void ap_py_missing_print(const struct profile *p, FILE *f)
{
	size_t i, n = 0;

	for (i = 0; i < p->nr_procs; i++) {
		char *note, *safe;

		if (!p->procs[i].py_missing)
			continue;
		if (n++ == AP_PY_NOTES_MAX)
			continue;
		note = ap_py_missing_note(p, &p->procs[i]);
		safe = tty_dup(note); /* the process name is the target's */
		fprintf(f, "  note: %s\n", safe);
		free(safe);
		free(note);
	}
	if (n > AP_PY_NOTES_MAX)
		fprintf(f, "  note: and %zu more processes without Python frames (run.json has each)\n",
			n - AP_PY_NOTES_MAX);
}
