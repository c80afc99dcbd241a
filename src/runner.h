/* SPDX-License-Identifier: MIT */
/* The runner: launches the target held at a gate until the collectors are
 * attached, or validates PIDs to attach to. It never reads the target's
 * output and never injects anything into it. */
#ifndef AP_RUNNER_H
#define AP_RUNNER_H

#include <stdint.h>
#include <sys/types.h>

/* Resolve argv0 like a shell (PATH search unless it has a '/').
 * 0, -ENOENT (not found: exit 127) or -EACCES (not executable: exit 126). */
int runner_resolve(const char *argv0, char **path);
/* fork a child that waits at the gate; returns its pid or -errno */
pid_t runner_spawn_gated(char *const argv[], int *gate_fd, int *err_fd);
/* open the gate; 0 once exec succeeded, else -errno of the failed exec */
int runner_release(int gate_fd, int err_fd);
/* 0 if pid is a live process we may trace, else -ESRCH / -errno */
int runner_check_pid(uint32_t pid);

#endif
