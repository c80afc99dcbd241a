/* SPDX-License-Identifier: MIT */
/* The push sinks' credentials, never from the command line: KEY=VALUE
 * lines of a file (systemd EnvironmentFile syntax: # and ; comments, blank
 * lines, values optionally in matching quotes), then the environment for
 * the keys the file does not set:
 *   AUTOPROF_PYROSCOPE_TENANT      X-Scope-OrgID
 *   AUTOPROF_PYROSCOPE_USER, AUTOPROF_PYROSCOPE_PASSWORD   basic auth
 *   AUTOPROF_PYROSCOPE_TOKEN       Authorization: Bearer
 *   OTEL_EXPORTER_OTLP_PROFILES_HEADERS, else OTEL_EXPORTER_OTLP_HEADERS
 *                                  "k=v,k2=v2" (values percent-decoded)
 * The file must be a regular file (not a symlink: O_NOFOLLOW) owned by
 * root or us and not writable by group or others. */
#ifndef AP_CREDS_H
#define AP_CREDS_H

#include <stddef.h>

#define AP_CREDS_FILE_MAX (64u << 10)

struct ap_creds {
	char *tenant, *user, *password, *token;
	char *otlp_headers;     /* the OTel "k=v,..." list, raw */
};

/* Read file (NULL: none) and the environment into c. 0, or -errno with
 * what went wrong in err ("FILE: owned by uid 1000", ...). */
int ap_creds__load(const char *file, struct ap_creds *c, char *err, size_t errlen);
void ap_creds__free(struct ap_creds *c);
/* The OTel header list as "Name: value" strings into *out (caller frees
 * each and the array): how many, or -EINVAL (a malformed item or a value
 * that would not be one header line). */
int ap_creds_otlp_headers(const char *list, char ***out);

#endif
