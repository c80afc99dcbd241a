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

size_t session__prune_untracked(struct ap_session *ses)
{
	struct hmap keep = { 0 };
	size_t i, n = 0;

	for (i = 0; i < ses->tracked.cap; i++) {
		const struct hmap_ent *e = &ses->tracked.ents[i];

		if (!e->key)
			continue;
		if (e->val)
			hmap_put(&keep, e->key, e->klen, e->val);
		else
			n++;
	}
	if (!n) {
		hmap_free(&keep);
		return 0;
	}
	hmap_free(&ses->tracked);
	ses->tracked = keep;
	return n;
}

void session__untrack(struct ap_session *ses, uint32_t pid)
{
	uint64_t v;

	if (hmap_get(&ses->tracked, &pid, sizeof(pid), &v))
		hmap_put(&ses->tracked, &pid, sizeof(pid), 0);
}
