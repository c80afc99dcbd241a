/* SPDX-License-Identifier: MIT */
/* Subcommands: each parses its own options and returns the exit code. */
#ifndef AP_CMDS_H
#define AP_CMDS_H

#include <stdbool.h>

int cmd_run(int argc, char **argv);
int cmd_analyze(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_agent(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_baseline(int argc, char **argv);
/* diff --baseline REF NEW (src/cmd_baseline.c): argv[0..argc) the operands
 * after the options, tolerance NAN for the default */
int cmd_diff_baseline(const char *ref, const char *dir, int argc, char **argv, double tolerance,
		      const char *focus, const char *outdir, bool quiet);

#endif
