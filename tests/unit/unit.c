// SPDX-License-Identifier: MIT
/* Unit test runner: runs every registered test (or those named on the
 * command line) and ends with "N passed, N failed". */
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include "analyze/analyze.h"
#include "util.h"
#include "log.h"
#include "unit.h"

int unit_failed_checks;
static struct unit_test *head, **tail = &head;

void unit_register(struct unit_test *t)
{
	*tail = t;
	tail = &t->next;
}

const char *unit_fixtures(void)
{
	const char *d = getenv("AP_FIXTURES");

	return d ? d : "build/tests";
}

char *unit_temp_dir(const char *name)
{
	char *d = xasprintf("/tmp/ap-%s-XXXXXX", name);

	if (mkdtemp(d))
		return d;
	free(d);
	return NULL;
}

void unit_rm_rf(char *dir)
{
	char *cmd;

	if (!dir)
		return;
	cmd = xasprintf("rm -rf %s", dir);
	if (system(cmd))
		fprintf(stderr, "rm -rf %s failed\n", dir);
	free(cmd);
	free(dir);
}

int main(int argc, char **argv)
{
	int passed = 0, failed = 0, i;
	struct unit_test *t;

	ap_log_set_verbosity(-1);
	for (t = head; t; t = t->next) {
		int before = unit_failed_checks, pick = argc < 2;

		for (i = 1; i < argc; i++)
			pick |= !strcmp(argv[i], t->name);
		if (!pick)
			continue;
		t->fn();
		if (unit_failed_checks == before) {
			passed++;
			printf("ok   unit/%s\n", t->name);
		} else {
			failed++;
			printf("FAIL unit/%s\n", t->name);
		}
		fflush(stdout);
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}

int unit_analysis_load(struct ap_analysis *an, const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), err;

	memset(an, 0, sizeof(*an));
	err = ap_input__load(&an->in, fd, dir);
	if (fd >= 0)
		close(fd);
	if (err)
		return -1;
	ap_metrics__compute(an);
	return 0;
}
