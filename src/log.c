// SPDX-License-Identifier: MIT
/* Message sink: every diagnostic of the tool and of libbpf passes here. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "log.h"

static int verbosity;

void ap_log_set_verbosity(int v)
{
	verbosity = v;
}

int ap_log_verbosity(void)
{
	return verbosity;
}

static void vlog(enum ap_log_level lvl, const char *fmt, va_list ap)
{
	if (verbosity < 0 || (lvl == AP_LOG_INFO && verbosity < 1) ||
	    ((lvl == AP_LOG_DEBUG || lvl == AP_LOG_LIBBPF) && verbosity < 2))
		return;
	char *msg = NULL;
	unsigned char *u;

	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	/* messages quote the target's names and paths: no terminal escape
	 * sequence (ESC, other controls, C1 as UTF-8) reaches the terminal */
	for (u = (unsigned char *)msg; u && *u; u++) {
		if ((*u < 0x20 && *u != '\n' && *u != '\t') || *u == 0x7f)
			*u = '?';
		else if (u[0] == 0xc2 && u[1] >= 0x80 && u[1] <= 0x9f)
			u[0] = u[1] = '?';
	}
	/* one line, whole: the agent's sender threads log too */
	flockfile(stderr);
	if (lvl != AP_LOG_LIBBPF)
		fputs("autoprof-bpf: ", stderr);
	if (msg)
		fputs(msg, stderr);
	else
		fputs("(out of memory)", stderr);
	if (lvl != AP_LOG_LIBBPF)
		fputc('\n', stderr);
	funlockfile(stderr);
	free(msg);
}

void ap_log(enum ap_log_level lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(lvl, fmt, ap);
	va_end(ap);
}

static char failed_prog[64]; /* the last program libbpf said it failed to load */

const char *ap_log_libbpf_failed_prog(void)
{
	return failed_prog;
}

void ap_log_libbpf_failed_reset(void)
{
	failed_prog[0] = 0;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* libbpf 1.x: "prog '%s': failed to load: %d" names the program a
	 * failed load stopped at (bpf_object__load_progs) */
	if (level == LIBBPF_WARN && strstr(fmt, "prog '%s': failed to load")) {
		va_list cp;

		va_copy(cp, ap);
		snprintf(failed_prog, sizeof(failed_prog), "%s", va_arg(cp, const char *));
		va_end(cp);
	}
	/* libbpf warnings are shown at -v: most are followed by our own message */
	if (level == LIBBPF_DEBUG && verbosity < 2)
		return 0;
	if (level != LIBBPF_DEBUG && verbosity < 1)
		return 0;
	vlog(AP_LOG_LIBBPF, fmt, ap);
	return 0;
}

void ap_log_setup_libbpf(void)
{
	libbpf_set_print(libbpf_print);
}

const char *ap_errstr(int err)
{
	static __thread char buf[64];

	if (err < 0)
		err = -err;
	switch (err) {
	case 524:
		return "-ENOTSUPP (operation not supported by this kernel)";
	case 523:
		return "-EBADCOOKIE";
	default:
		snprintf(buf, sizeof(buf), "-%s (%s)", strerrorname_np(err) ?: "E?", strerror(err));
		return buf;
	}
}
