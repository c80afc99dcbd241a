/* SPDX-License-Identifier: MIT */
/* run.json writer. */
#ifndef AP_RUN_JSON_H
#define AP_RUN_JSON_H

#include <stdbool.h>
#include "session.h"

/* write run.json into the run directory (ses->out->fd) atomically; 0 or -errno */
int run_json__write(const struct ap_session *ses, bool interrupted);
/* the same from the profile p (a window of ses->prof) into directory dirfd;
 * the times and options come from ses */
int run_json__write_at(const struct ap_session *ses, const struct profile *p, int dirfd,
		       bool interrupted);

#endif
