/* SPDX-License-Identifier: MIT */
/* Subcommands: each parses its own options and returns the exit code. */
#ifndef AP_CMDS_H
#define AP_CMDS_H

int cmd_run(int argc, char **argv);
int cmd_analyze(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_agent(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_diff(int argc, char **argv);

#endif
