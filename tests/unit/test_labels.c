// SPDX-License-Identifier: MIT
/* Process labels: cgroup lines of the container runtimes and systemd, the
 * service from the environment, and a real read of our own process. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include "artifact/artifact.h"
#include "process/labels.h"
#include "profile/profile.h"
#include "unit.h"

#define ID64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static const char *cid(const char *path)
{
	static char out[80];

	return labels_container_id(path, out, sizeof(out)) ? out : "";
}

static const char *svc(const char *path)
{
	static char out[256];

	return labels_cgroup_service(path, out, sizeof(out)) ? out : "";
}

TEST(labels_cgroup_line)
{
	char out[256];

	ASSERT_EQ(labels_parse_cgroup("0::/system.slice/nginx.service\n", out, sizeof(out)), 0,
		  "v2 line");
	ASSERT_STREQ(out, "/system.slice/nginx.service", "v2 path");
	/* hybrid: v1 controllers first, the v2 line last */
	ASSERT_EQ(labels_parse_cgroup("12:cpuset:/\n1:name=systemd:/user.slice/x.service\n"
				      "0::/user.slice/user-1000.slice/session-3.scope\n",
				      out, sizeof(out)),
		  0, "hybrid");
	ASSERT_STREQ(out, "/user.slice/user-1000.slice/session-3.scope", "hybrid takes v2");
	ASSERT_EQ(labels_parse_cgroup("4:memory:/a\n1:name=systemd:/system.slice/cron.service\n",
				      out, sizeof(out)),
		  0, "v1 only");
	ASSERT_STREQ(out, "/system.slice/cron.service", "v1 systemd hierarchy");
	ASSERT_EQ(labels_parse_cgroup("4:memory:/a\n", out, sizeof(out)), -ENOENT, "no v2");
	ASSERT_EQ(labels_parse_cgroup("", out, sizeof(out)), -ENOENT, "empty");
	ASSERT_EQ(labels_parse_cgroup("0::/a\x01\x1b[31m\n", out, sizeof(out)), 0, "controls");
	ASSERT_STREQ(out, "/a__[31m", "control bytes replaced");
	ASSERT_EQ(labels_parse_cgroup("0::/aaaaaaaaaa\n", out, 6), 0, "cut");
	ASSERT_STREQ(out, "/aaaa", "cut to the buffer");
}

TEST(labels_container_ids)
{
	ASSERT_STREQ(cid("/system.slice/docker-" ID64 ".scope"), ID64, "docker systemd driver");
	ASSERT_STREQ(cid("/docker/" ID64), ID64, "docker cgroupfs driver");
	ASSERT_STREQ(cid("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234.slice/"
			 "cri-containerd-" ID64 ".scope"),
		     ID64, "containerd under kubernetes");
	ASSERT_STREQ(cid("/kubepods/besteffort/pod5678/" ID64), ID64, "kubernetes cgroupfs");
	ASSERT_STREQ(cid("/kubepods.slice/kubepods-pod1.slice/crio-" ID64 ".scope"), ID64, "cri-o");
	ASSERT_STREQ(cid("/machine.slice/libpod-" ID64 ".scope/container"), ID64, "podman");
	ASSERT_STREQ(cid("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" ID64
			 ".scope"),
		     ID64, "rootless podman");
	ASSERT_STREQ(cid("/machine.slice/libpod-conmon-" ID64 ".scope"), "", "conmon is not it");
	ASSERT_STREQ(cid("/system.slice/nginx.service"), "", "a service");
	ASSERT_STREQ(cid("/docker/" ID64 "0"), "", "65 digits");
	ASSERT_STREQ(cid("/docker/0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"),
		     "", "upper case is not an id");
	ASSERT_STREQ(cid("/"), "", "root");
	ASSERT_STREQ(cid(""), "", "empty");
}

TEST(labels_cgroup_services)
{
	ASSERT_STREQ(svc("/system.slice/nginx.service"), "nginx.service", "system service");
	ASSERT_STREQ(svc("/system.slice/postgresql@15-main.service"), "postgresql@15-main.service",
		     "template instance");
	ASSERT_STREQ(svc("/user.slice/user-1000.slice/session-3.scope"), "session-3.scope",
		     "login session");
	ASSERT_STREQ(svc("/user.slice/user-1000.slice/user@1000.service/app.slice/"
			 "app-org.gnome.Terminal.slice/vte-spawn-1.scope"),
		     "user@1000.service", "user manager");
	ASSERT_STREQ(svc("/user.slice/user-1000.slice/user@1000.service/app.slice/"
			 "syncthing.service"),
		     "syncthing.service", "user service: innermost wins");
	ASSERT_STREQ(svc("/autoprof-test.slice/x.service"), "x.service", "a slice we made");
	ASSERT_STREQ(svc("/system.slice/docker-" ID64 ".scope"), "", "container: no unit");
	ASSERT_STREQ(svc("/system.slice/.service"), "", "empty unit name");
	ASSERT_STREQ(svc("/"), "", "root cgroup");
}

TEST(labels_environ)
{
	static const char with[] = "PATH=/bin\0OTEL_SERVICE_NAME=checkout\0HOME=/root\0";
	static const char attrs[] = "OTEL_RESOURCE_ATTRIBUTES=deployment.environment=prod, "
				    "service.name=cart,team=x\0";
	static const char both[] = "OTEL_RESOURCE_ATTRIBUTES=service.name=cart\0"
				   "OTEL_SERVICE_NAME=checkout\0";
	static const char without[] = "PATH=/bin\0OTEL_SERVICE_NAMES=no\0XOTEL_SERVICE_NAME=no\0";
	static const char empty[] = "OTEL_SERVICE_NAME=\0";
	static const char unterminated[] = { 'O', 'T', 'E', 'L', '_', 'S', 'E', 'R', 'V', 'I', 'C',
					     'E', '_', 'N', 'A', 'M', 'E', '=', 'a', 'b' };
	char out[64];

	ASSERT_TRUE(labels_environ_service(with, sizeof(with) - 1, out, sizeof(out)), "set");
	ASSERT_STREQ(out, "checkout", "OTEL_SERVICE_NAME");
	ASSERT_TRUE(labels_environ_service(attrs, sizeof(attrs) - 1, out, sizeof(out)), "attrs");
	ASSERT_STREQ(out, "cart", "service.name of OTEL_RESOURCE_ATTRIBUTES");
	ASSERT_TRUE(labels_environ_service(both, sizeof(both) - 1, out, sizeof(out)), "both");
	ASSERT_STREQ(out, "checkout", "OTEL_SERVICE_NAME wins");
	ASSERT_TRUE(!labels_environ_service(without, sizeof(without) - 1, out, sizeof(out)),
		    "look-alike names do not count");
	ASSERT_TRUE(!labels_environ_service(empty, sizeof(empty) - 1, out, sizeof(out)),
		    "empty value does not count");
	ASSERT_TRUE(labels_environ_service(unterminated, sizeof(unterminated), out, sizeof(out)),
		    "a block cut at the cap");
	ASSERT_STREQ(out, "ab", "read only within the block");
	ASSERT_TRUE(!labels_environ_service("", 0, out, sizeof(out)), "empty block");
}

/* what a process sets reaches JSON and pprof as valid UTF-8 only: overlong
 * forms, surrogates, code points past U+10FFFF and C1 controls become '_' */
TEST(labels_strict_utf8)
{
	static const struct {
		const char *env, *want, *what;
	} cases[] = {
		{ "OTEL_SERVICE_NAME=caf\xc3\xa9", "caf\xc3\xa9", "valid 2-byte kept" },
		{ "OTEL_SERVICE_NAME=\xe2\x82\xac\xf0\x9f\x98\x80", "\xe2\x82\xac\xf0\x9f\x98\x80",
		  "valid 3- and 4-byte kept" },
		{ "OTEL_SERVICE_NAME=a\xc0\x80" "b", "a__b", "overlong NUL" },
		{ "OTEL_SERVICE_NAME=a\xed\xa0\x80" "b", "a___b", "surrogate" },
		{ "OTEL_SERVICE_NAME=a\xf5\x80\x80\x80" "b", "a____b", "past U+10FFFF" },
		{ "OTEL_SERVICE_NAME=a\xc2\x9b" "2Jb", "a__2Jb", "C1 CSI" },
		{ "OTEL_SERVICE_NAME=a\xe0\x80\xaf" "b", "a___b", "overlong 3-byte" },
	};
	char out[64];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ASSERT_TRUE(labels_environ_service(cases[i].env, strlen(cases[i].env), out, sizeof(out)),
			    cases[i].what);
		ASSERT_STREQ(out, cases[i].want, cases[i].what);
	}
}

TEST(labels_read_self)
{
	struct ap_labels *l;

	setenv("OTEL_SERVICE_NAME", "unit-svc", 1); /* not in /proc/self/environ: exec-time */
	l = ap_labels__read(getpid(), NULL);
	ASSERT_TRUE(l != NULL, "labels");
	ASSERT_TRUE(l->cgroup && l->cgroup[0] == '/', "a cgroup path");
	ASSERT_TRUE(l->build_id && strlen(l->build_id) >= 16, "the test binary's build id");
	ASSERT_TRUE(!l->runtime, "no runtime until set");
	ap_labels__set_runtime(l, 3, 14, true);
	ASSERT_STREQ(l->runtime, "CPython 3.14t", "free-threaded runtime");
	ap_labels__set_runtime(l, 3, 12, false);
	ASSERT_STREQ(l->runtime, "CPython 3.12", "runtime");
	{
		struct profile p;
		struct ap_process *pr;

		profile__init(&p);
		pr = profile__process(&p, 1);
		ap_labels__to_process(l, &p, pr);
		ASSERT_STREQ(profile__s(&p, pr->runtime), "CPython 3.12", "runtime in the profile");
		ASSERT_STREQ(profile__s(&p, pr->cgroup), l->cgroup, "cgroup in the profile");
		ap_labels__to_process(NULL, &p, pr);
		ASSERT_EQ(pr->runtime, 0, "none");
		profile__free(&p);
	}
	ap_labels__free(l);
	l = ap_labels__read(getpid(), "abcd");
	ASSERT_STREQ(l->build_id, "abcd", "a known build id is taken");
	ap_labels__free(l);
	ap_labels__free(NULL);
	unsetenv("OTEL_SERVICE_NAME");
}

TEST(labels_cpu_json_round_trip)
{
	struct profile p, q;
	struct ap_process *pr;
	const struct ap_process *back;
	cJSON *root;
	char *text;

	profile__init(&p);
	profile__init(&q);
	pr = profile__process(&p, 42);
	pr->comm = profile__str(&p, "app");
	pr->cgroup = profile__str(&p, "/system.slice/app.service");
	pr->container_id = profile__str(&p, ID64);
	pr->service = profile__str(&p, "checkout");
	pr->runtime = profile__str(&p, "CPython 3.12");
	pr->build_id = profile__str(&p, "abcd");
	pr->exit_status = -1;
	profile__process(&p, 43)->exit_status = -1; /* no labels */
	root = cpu_json__build(&p);
	text = cJSON_PrintUnformatted(root);
	ASSERT_TRUE(strstr(text, "\"service\":\"checkout\"") != NULL, "written");
	ASSERT_EQ(cpu_json__load_buf(&q, text, strlen(text), "cpu.json"), 0, "loaded");
	back = profile__find_process(&q, 42);
	ASSERT_TRUE(back != NULL, "process");
	if (back) {
		ASSERT_STREQ(profile__s(&q, back->cgroup), "/system.slice/app.service", "cgroup");
		ASSERT_STREQ(profile__s(&q, back->container_id), ID64, "container id");
		ASSERT_STREQ(profile__s(&q, back->service), "checkout", "service");
		ASSERT_STREQ(profile__s(&q, back->runtime), "CPython 3.12", "runtime");
		ASSERT_STREQ(profile__s(&q, back->build_id), "abcd", "build id");
	}
	back = profile__find_process(&q, 43);
	ASSERT_TRUE(back && back->service == 0 && back->cgroup == 0, "absent labels load as none");
	free(text);
	cJSON_Delete(root);
	profile__free(&p);
	profile__free(&q);
}
