// SPDX-License-Identifier: MIT
/* Session helpers shared by the stages. */
#include <sys/wait.h>
#include "session.h"

int session__target_exit_code(const struct ap_session *ses)
{
	if (!ses->target_exited)
		return -1;
	if (WIFEXITED(ses->wait_status))
		return WEXITSTATUS(ses->wait_status);
	if (WIFSIGNALED(ses->wait_status))
		return 128 + WTERMSIG(ses->wait_status);
	return -1;
}

bool session__is_tracked(struct ap_session *ses, uint32_t pid, uint32_t ppid)
{
	uint64_t v;

	if (hmap_get(&ses->tracked, &pid, sizeof(pid), &v) && v)
		return true;
	/* a fork of a tracked process: the BPF side follows it too */
	if (ppid && !ses->opts.no_children && hmap_get(&ses->tracked, &ppid, sizeof(ppid), &v)) {
		session__track(ses, pid);
		return true;
	}
	return false;
}

void session__track(struct ap_session *ses, uint32_t pid)
{
	hmap_put(&ses->tracked, &pid, sizeof(pid), 1);
}

void session__untrack(struct ap_session *ses, uint32_t pid)
{
	uint64_t v;

	if (hmap_get(&ses->tracked, &pid, sizeof(pid), &v))
		hmap_put(&ses->tracked, &pid, sizeof(pid), 0);
}
