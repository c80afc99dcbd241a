/* SPDX-License-Identifier: MIT */
/* One message sink with levels. Diagnostics go to stderr; data never does. */
#ifndef AP_LOG_H
#define AP_LOG_H

enum ap_log_level { AP_LOG_ERROR, AP_LOG_WARN, AP_LOG_INFO, AP_LOG_DEBUG, AP_LOG_LIBBPF };

/* 0: warnings and errors; 1 (-v): info; 2 (-vv): debug and libbpf's output */
void ap_log_set_verbosity(int v);
int ap_log_verbosity(void);
void ap_log(enum ap_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* route libbpf's messages through ap_log (debug ones only at -vv) */
void ap_log_setup_libbpf(void);
/* the name of the program libbpf last said it failed to load ("" if none
 * since the reset): which one a failed skeleton load stopped at */
const char *ap_log_libbpf_failed_prog(void);
void ap_log_libbpf_failed_reset(void);
/* strerror for -errno values, including kernel-internal ones (524 ENOTSUPP) */
const char *ap_errstr(int err);

#define ap_err(...) ap_log(AP_LOG_ERROR, __VA_ARGS__)
#define ap_warn(...) ap_log(AP_LOG_WARN, __VA_ARGS__)
#define ap_info(...) ap_log(AP_LOG_INFO, __VA_ARGS__)
#define ap_debug(...) ap_log(AP_LOG_DEBUG, __VA_ARGS__)

#endif
