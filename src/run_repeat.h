/* SPDX-License-Identifier: MIT */
/* `run --repeat N -o DIR -- CMD`: the command profiled N times, one run
 * after another, each a complete run directory DIR/run-1 .. DIR/run-N, then
 * the set's variance and findings in DIR/repeat.json and DIR/repeat.md
 * (src/diff/repeat.h). Each run is a forked `run` of its own, loading the
 * BPF programs afresh (see docs/ARCHITECTURE.md "Repeated runs"). */
#ifndef AP_RUN_REPEAT_H
#define AP_RUN_REPEAT_H

#include "session.h"

/* in a run forked by run_repeat(): its output directory, else NULL */
extern const char *run_repeat_child_dir;

/* Run o's command o->repeat times as cmd_run(argc, argv) in forked
 * children (run_repeat_child_dir set), into o->outdir or default_dir.
 * Returns the exit status: 0 when every target exited 0, else the first
 * non-zero target status; a run that could not be profiled stops the
 * repeats with its own status (2, 125, 126, 127); 128+N when signal N
 * stopped them; 125 when the aggregate could not be written. */
int run_repeat(const struct ap_options *o, const char *default_dir, int argc, char **argv);

#endif
