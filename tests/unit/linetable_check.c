// SPDX-License-Identifier: MIT
/* Reads tests/workloads/py/linetable_dump.py output on stdin and checks
 * py_line_for() against every expectation. Prints "N passed, N failed"
 * counting code objects. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "python/linetable.h"

int main(void)
{
	static char line[1 << 22];
	static unsigned char tab[1 << 20];
	long passed = 0, failed = 0, checks = 0;

	while (fgets(line, sizeof(line), stdin)) {
		char *hex = NULL, *exp = NULL, *tok, *save = NULL;
		int minor, first, bad = 0;
		size_t n = 0, i;

		minor = strtol(strtok_r(line, " ", &save), NULL, 10);
		first = strtol(strtok_r(NULL, " ", &save), NULL, 10);
		hex = strtok_r(NULL, " ", &save);
		exp = strtok_r(NULL, " \n", &save);
		if (!hex || !exp)
			continue;
		if (strcmp(hex, "-"))
			for (i = 0; hex[2 * i] && hex[2 * i + 1] && n < sizeof(tab); i++)
				sscanf(hex + 2 * i, "%2hhx", &tab[n++]);
		for (tok = strtok_r(exp, ",", &save); tok && strcmp(tok, "-");
		     tok = strtok_r(NULL, ",", &save)) {
			int instr, want, got;

			if (sscanf(tok, "%d:%d", &instr, &want) != 2)
				continue;
			got = py_line_for(minor, tab, n, first, instr);
			checks++;
			if (got != want && bad++ < 3)
				fprintf(stderr, "3.%d firstlineno %d instr %d: got %d want %d\n", minor,
					first, instr, got, want);
		}
		bad ? failed++ : passed++;
	}
	fprintf(stderr, "%ld instruction offsets checked\n", checks);
	printf("%ld passed, %ld failed\n", passed, failed);
	return failed || !checks;
}
