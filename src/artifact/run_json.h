/* SPDX-License-Identifier: MIT */
/* run.json writer. */
#ifndef AP_RUN_JSON_H
#define AP_RUN_JSON_H

#include <stdbool.h>
#include "session.h"

/* write run.json into the run directory (ses->out->fd) atomically; 0 or -errno */
int run_json__write(const struct ap_session *ses, bool interrupted);

#endif
