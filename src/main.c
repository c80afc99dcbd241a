// SPDX-License-Identifier: MIT
/* autoprof-bpf: the command table. `run` is also the default, so
 * `autoprof-bpf -- CMD` and `autoprof-bpf -p PID` work without naming it. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include "cmds.h"
#include "runner.h"

struct ap_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
};

static const struct ap_cmd cmds[] = {
	{ "run", cmd_run },
	{ "analyze", cmd_analyze },
	{ "report", cmd_report },
	{ "agent", cmd_agent },
	{ "top", cmd_top },
	{ "diff", cmd_diff },
	{ "baseline", cmd_baseline },
};

int main(int argc, char **argv)
{
	size_t i;

	/* a write to a gone reader (the gate of a child that died, a closed
	 * stderr) is an EPIPE to report, never a silent death that loses the run
	 * and the target's status; a launched target gets the default back */
	signal(SIGPIPE, SIG_IGN);
	/* best effort: at the usual soft limit of 1024 a few dozen processes'
	 * unwinders would exhaust it (the target keeps its own: runner.c) */
	runner_raise_nofile();
	if (argc > 1 && argv[1][0] != '-') {
		for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
			if (!strcmp(argv[1], cmds[i].name))
				return cmds[i].fn(argc - 1, argv + 1);
	}
	/* `autoprof-bpf python3 app.py` is a run of that command too */
	return cmd_run(argc, argv);
}
