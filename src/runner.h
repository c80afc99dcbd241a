/* SPDX-License-Identifier: MIT */
/* The runner: launches the target held at a gate until the collectors are
 * attached, or validates PIDs to attach to. It never reads the target's
 * output and never injects anything into it. A launched target runs as the
 * user it is meant for (struct runner_cred), never as root by accident. */
#ifndef AP_RUNNER_H
#define AP_RUNNER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Who the target runs as. Built in the parent (the passwd and group
 * lookups may go through NSS), applied in the child before exec. */
struct runner_cred {
	bool drop;              /* switch to uid/gid/groups; else keep ours */
	uid_t uid;
	gid_t gid;
	gid_t *groups;          /* supplementary groups of the user */
	int nr_groups;
	char **envp;            /* our environment with HOME, USER, LOGNAME, SHELL
				 * of the user; NULL: our environment as is */
};

/* Fill rc for running as uid/gid: drop when that is not who we are. The
 * user's groups and environment come from its passwd entry (a uid without
 * one gets gid alone, and no HOME). 0, or -errno. runner_cred_free() frees. */
int runner_cred_init(struct runner_cred *rc, uid_t uid, gid_t gid);
void runner_cred_free(struct runner_cred *rc);
/* the failed step of a credential switch, for messages ("setresuid") */
const char *runner_cred_step(int step);

/* Resolve argv0 like a shell (PATH search unless it has a '/'), with the
 * permissions of rc's user: when rc drops, a helper process that switched
 * to the user does the search, so a file or directory only root may use is
 * not found for the user. *path is malloc'ed. 0, -ENOENT (not found: exit
 * 127), -EACCES (not executable: exit 126), or another -errno with
 * *step > 0 when the switch to the user failed (runner_cred_step). */
int runner_resolve(const char *argv0, const struct runner_cred *rc, char **path, int *step);
/* Fork a child that waits at the gate, then switches to rc's user and
 * executes path (runner_resolve's answer, so the file the collectors were
 * prepared for is the one that runs) with argv. Returns its pid or -errno. */
pid_t runner_spawn_gated(char *const argv[], const char *path, const struct runner_cred *rc,
			 int *gate_fd, int *err_fd);
/* Open the gate; 0 once exec succeeded, else -errno of what failed and
 * *step: 0 the exec itself, > 0 the credential switch (runner_cred_step). */
int runner_release(int gate_fd, int err_fd, int *step);
/* Raise the soft RLIMIT_NOFILE to the hard limit (the profiler holds an fd
 * per cached symbol file and one per module of each live process's
 * unwinder); runner_spawn_gated's child restores the original before its
 * exec. 0 or -errno. */
int runner_raise_nofile(void);

/* what /proc says about a PID given with -p */
struct runner_pid_info {
	uint32_t tgid;          /* its process (differs for a thread's id) */
	char state;             /* R S D Z T ... */
	bool kthread;           /* a kernel thread: no user space to profile */
	unsigned threads;       /* of its process (a zombie leader may have live ones) */
	char comm[32];
};
/* 0, or -ESRCH when there is no such task, -errno otherwise */
int runner_pid_info(uint32_t pid, struct runner_pid_info *pi);
/* 0 if pid is a live process we may trace, else -ESRCH / -errno */
int runner_check_pid(uint32_t pid);
/* runner_check_pid() and not a zombie: does anything of pid still run? */
bool runner_pid_alive(uint32_t pid);

#endif
