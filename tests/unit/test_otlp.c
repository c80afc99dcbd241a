// SPDX-License-Identifier: MIT
/* The OTLP profiles encoder (sink/otlp.c) on a window built by hand: the
 * request unpacked again with protobuf-c (resources, attributes, the
 * dictionary's tables and their zero rows, sample counts, stacks leaf
 * first, frame types), and decoded independently by `protoc --decode`
 * against proto/otlp. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "profile/compact.h"
#include "profile/profile.h"
#include "sink/otlp.h"
#include "unit.h"
#include "util.h"
#include "opentelemetry/proto/collector/profiles/v1development/profiles_service.pb-c.h"

typedef Opentelemetry__Proto__Collector__Profiles__V1development__ExportProfilesServiceRequest Req;
typedef Opentelemetry__Proto__Profiles__V1development__ProfilesDictionary Dict;
typedef Opentelemetry__Proto__Profiles__V1development__Profile Prof;
typedef Opentelemetry__Proto__Profiles__V1development__Sample Sample;
typedef Opentelemetry__Proto__Resource__V1__Resource Resource;
typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;
#define REQ(fn) opentelemetry__proto__collector__profiles__v1development__export_profiles_service_request__##fn

#define PROTO_DIR "proto/otlp"
#define PROTO_FILE "opentelemetry/proto/collector/profiles/v1development/profiles_service.proto"
#define REQ_TYPE "opentelemetry.proto.collector.profiles.v1development.ExportProfilesServiceRequest"

static const AnyValue *res_attr(const Resource *r, const char *key)
{
	size_t i;

	for (i = 0; r && i < r->n_attributes; i++)
		if (!strcmp(r->attributes[i]->key, key))
			return r->attributes[i]->value;
	return NULL;
}

static const char *res_str(const Resource *r, const char *key)
{
	const AnyValue *v = res_attr(r, key);

	return v && v->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE
		? v->string_value : NULL;
}

/* the sample's attribute key = string value, or NULL */
static const char *sample_attr(const Dict *d, const Sample *s, const char *key)
{
	size_t i;

	for (i = 0; i < s->n_attribute_indices; i++) {
		int32_t a = s->attribute_indices[i];

		if (a <= 0 || (size_t)a >= d->n_attribute_table)
			return NULL;
		if (!strcmp(d->string_table[d->attribute_table[a]->key_strindex], key))
			return d->attribute_table[a]->value->value_case ==
					OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE
				? d->attribute_table[a]->value->string_value : "(int)";
	}
	return NULL;
}

/* the function name of a stack's location i (leaf first) */
static const char *loc_fn(const Dict *d, int32_t stack, size_t i, const char **ftype)
{
	const Opentelemetry__Proto__Profiles__V1development__Location *l;
	int32_t li;

	if (stack <= 0 || (size_t)stack >= d->n_stack_table ||
	    i >= d->stack_table[stack]->n_location_indices)
		return NULL;
	li = d->stack_table[stack]->location_indices[i];
	if (li <= 0 || (size_t)li >= d->n_location_table)
		return NULL;
	l = d->location_table[li];
	if (ftype && l->n_attribute_indices)
		*ftype = d->attribute_table[l->attribute_indices[0]]->value->string_value;
	if (l->n_lines != 1)
		return NULL;
	return d->string_table[d->function_table[l->lines[0]->function_index]->name_strindex];
}

static void build(struct profile *p)
{
	uint32_t mod, py_mod, fr[4], s1, s2, s3;
	struct ap_process *pr;

	profile__init(p);
	p->frequency_hz = 19;
	p->has_offcpu = true;
	mod = profile__module(p, "/usr/bin/python3.12", "abcdef");
	py_mod = profile__module(p, "/srv/app/job.py", "");
	fr[0] = profile__frame(p, AP_FRAME_USER, "_start", mod, 0x1000);
	fr[1] = profile__py_frame(p, "main", py_mod, 10);
	fr[2] = profile__py_frame(p, "crunch", py_mod, 42);
	fr[3] = profile__frame(p, AP_FRAME_KERNEL, "do_syscall_64", AP_NONE, 0xffffffff81000000ull);
	s1 = profile__stack(p, fr, 3);
	s2 = profile__stack(p, fr, 4);
	s3 = profile__stack(p, fr, 1);
	/* pid 100: a labelled service, two threads; the GIL flag splits a row */
	profile__add(p, 100, 100, "job", s1, 0, 5);
	profile__add(p, 100, 100, "job", s1, AP_COUNT_GIL, 7);
	profile__add(p, 100, 101, "worker", s2, 0, 3);
	profile__add_off(p, 100, 101, s2, AP_OFF_LOCK, 2000000, 4);
	pr = profile__process(p, 100);
	pr->exe = profile__str(p, "/usr/bin/python3.12");
	pr->comm = profile__str(p, "job");
	pr->service = profile__str(p, "billing");
	pr->container_id = profile__str(p, "c0ffee");
	/* pid 200: no service label */
	profile__add(p, 200, 200, "cwork", s3, 0, 2);
	pr = profile__process(p, 200);
	pr->exe = profile__str(p, "/opt/bin/cwork");
	pr->comm = profile__str(p, "cwork");
	/* pid 300: only off-CPU time */
	profile__add_off(p, 300, 300, s3, AP_OFF_SLEEP, 5000, 1);
	profile__process(p, 300)->comm = profile__str(p, "sleeper");
}

TEST(otlp_encode_window)
{
	struct ap_window_info wi = {
		.seq = 1, .nr_cpus = 2,
		.start_real_ns = 1796000000000000000ull, .end_real_ns = 1796000015000000000ull,
		.start_mono_ns = 1000000000ull, .end_mono_ns = 16000000000ull,
	};
	struct profile p, cw;
	uint8_t *buf = NULL;
	size_t len = 0, i;
	Req *req;
	const Dict *d;
	const Prof *cpu, *off;
	const char *ft = NULL;
	int64_t total = 0;

	build(&p);
	profile__compact(&p, &cw);
	ASSERT_EQ(otlp__encode_window(&cw, &wi, "host-a", &buf, &len), 0, "encoded");
	ASSERT_EQ(otlp__encode_window(&cw, NULL, "host-a", &buf, &len), -EINVAL, "NULL info");
	req = REQ(unpack)(NULL, len, buf);
	if (!ASSERT_TRUE(req && req->dictionary, "unpacks"))
		goto out;
	d = req->dictionary;
	/* zero rows */
	ASSERT_STREQ(d->string_table[0], "", "string 0 is empty");
	ASSERT_TRUE(d->n_function_table > 1 && !d->function_table[0]->name_strindex, "function 0");
	ASSERT_TRUE(d->n_location_table > 1 && !d->location_table[0]->n_lines, "location 0");
	ASSERT_TRUE(d->n_stack_table > 1 && !d->stack_table[0]->n_location_indices, "stack 0");
	ASSERT_TRUE(d->n_mapping_table >= 1 && !d->mapping_table[0]->filename_strindex, "mapping 0");
	ASSERT_TRUE(d->n_attribute_table > 1 && !d->attribute_table[0]->key_strindex, "attribute 0");
	ASSERT_TRUE(d->n_link_table == 1 && !d->link_table[0]->trace_id.len && !d->link_table[0]->span_id.len,
		    "link 0, the only one");
	/* 4 frames, 3 stacks, 3 functions, 1 native mapping: no duplicates */
	ASSERT_EQ(d->n_location_table, 1 + 4, "one location per frame");
	ASSERT_EQ(d->n_stack_table, 1 + 3, "one stack per stack");
	ASSERT_EQ(d->n_function_table, 1 + 4, "one function per (name, file)");
	ASSERT_EQ(d->n_mapping_table, 1 + 1, "one mapping per native file");
	for (i = 1; i < d->n_string_table; i++)
		ASSERT_TRUE(strcmp(d->string_table[i], d->string_table[i - 1]), "no adjacent duplicate");
	ASSERT_EQ(req->n_resource_profiles, 3, "one resource per process");
	if (req->n_resource_profiles != 3)
		goto out;

	/* pid 100 */
	ASSERT_STREQ(res_str(req->resource_profiles[0]->resource, "service.name"), "billing", "service");
	ASSERT_EQ(res_attr(req->resource_profiles[0]->resource, "process.pid")->int_value, 100, "pid");
	ASSERT_STREQ(res_str(req->resource_profiles[0]->resource, "process.executable.path"),
		     "/usr/bin/python3.12", "exe path");
	ASSERT_STREQ(res_str(req->resource_profiles[0]->resource, "process.executable.name"),
		     "python3.12", "exe name");
	ASSERT_STREQ(res_str(req->resource_profiles[0]->resource, "container.id"), "c0ffee", "container");
	ASSERT_STREQ(res_str(req->resource_profiles[0]->resource, "host.name"), "host-a", "host");
	ASSERT_STREQ(req->resource_profiles[0]->scope_profiles[0]->scope->name, "autoprof-bpf", "scope");
	ASSERT_EQ(req->resource_profiles[0]->scope_profiles[0]->n_profiles, 2, "on- and off-CPU");
	cpu = req->resource_profiles[0]->scope_profiles[0]->profiles[0];
	off = req->resource_profiles[0]->scope_profiles[0]->profiles[1];
	ASSERT_STREQ(d->string_table[cpu->sample_type->type_strindex], "samples", "sample type");
	ASSERT_STREQ(d->string_table[cpu->sample_type->unit_strindex], "count", "its unit");
	ASSERT_STREQ(d->string_table[cpu->period_type->type_strindex], "cpu", "period type");
	ASSERT_STREQ(d->string_table[cpu->period_type->unit_strindex], "nanoseconds", "its unit");
	ASSERT_EQ(cpu->period, 1000000000 / 19, "period 1e9/Hz");
	ASSERT_EQ(cpu->time_unix_nano, wi.start_real_ns, "start");
	ASSERT_EQ(cpu->duration_nano, 15000000000ull, "duration");
	ASSERT_EQ(cpu->n_samples, 2, "one sample per (thread, stack): the GIL split merged");
	if (cpu->n_samples == 2) {
		ASSERT_EQ(cpu->samples[0]->values[0], 12, "5 + 7 samples");
		ASSERT_STREQ(sample_attr(d, cpu->samples[0], "thread.name"), "job", "thread name");
		ASSERT_STREQ(sample_attr(d, cpu->samples[0], "thread.id"), "(int)", "thread id");
		ASSERT_EQ(cpu->samples[1]->values[0], 3, "worker");
		ASSERT_STREQ(loc_fn(d, cpu->samples[1]->stack_index, 0, &ft), "do_syscall_64", "leaf first");
		ASSERT_STREQ(ft, "kernel", "kernel frame type");
		ASSERT_STREQ(loc_fn(d, cpu->samples[1]->stack_index, 1, &ft), "crunch", "python frame");
		ASSERT_STREQ(ft, "cpython", "cpython frame type");
		/* the mixed view: the interpreter's bootstrap above main hidden */
		ASSERT_STREQ(loc_fn(d, cpu->samples[1]->stack_index, 2, &ft), "main", "root last");
		ASSERT_TRUE(!loc_fn(d, cpu->samples[1]->stack_index, 3, NULL), "3 frames shown");
	}
	ASSERT_STREQ(d->string_table[off->sample_type->type_strindex], "off_cpu", "off-CPU type");
	ASSERT_STREQ(d->string_table[off->sample_type->unit_strindex], "nanoseconds", "its unit");
	ASSERT_EQ(off->n_samples, 1, "one off-CPU row");
	if (off->n_samples == 1) {
		ASSERT_EQ(off->samples[0]->values[0], 2000000, "off-CPU ns");
		ASSERT_STREQ(sample_attr(d, off->samples[0], "autoprof.offcpu.reason"), "lock", "reason");
	}
	/* pid 200: unknown_service:<executable name>; pid 300: off-CPU only */
	ASSERT_STREQ(res_str(req->resource_profiles[1]->resource, "service.name"),
		     "unknown_service:cwork", "service without a label");
	ASSERT_TRUE(!res_str(req->resource_profiles[1]->resource, "container.id"), "no container");
	ASSERT_EQ(req->resource_profiles[1]->scope_profiles[0]->n_profiles, 1, "on-CPU only");
	cpu = req->resource_profiles[1]->scope_profiles[0]->profiles[0];
	ASSERT_STREQ(loc_fn(d, cpu->samples[0]->stack_index, 0, &ft), "_start", "native frame");
	ASSERT_STREQ(ft, "native", "native frame type");
	ASSERT_EQ(req->resource_profiles[2]->scope_profiles[0]->n_profiles, 1, "off-CPU only");
	ASSERT_STREQ(res_str(req->resource_profiles[2]->resource, "service.name"),
		     "unknown_service:sleeper", "no executable: the comm");
	for (i = 0; i < req->n_resource_profiles; i++) {
		const Prof *pr = req->resource_profiles[i]->scope_profiles[0]->profiles[0];
		size_t j;

		if (strcmp(d->string_table[pr->sample_type->type_strindex], "samples"))
			continue;
		for (j = 0; j < pr->n_samples; j++)
			total += pr->samples[j]->values[0];
	}
	ASSERT_EQ(total, cw.total_samples, "every sample of the window, once");
out:
	REQ(free_unpacked)(req, NULL);
	free(buf);
	profile__free(&cw);
	profile__free(&p);
}

/* protoc, from our .proto files, reads the same bytes: the field numbers
 * and types are what the files say */
TEST(otlp_protoc_decode)
{
	struct ap_window_info wi = { .start_real_ns = 1, .end_real_ns = 2, .end_mono_ns = 1 };
	char path[] = "/tmp/ap-otlp-XXXXXX", cmd[512], line[512];
	struct profile p, cw;
	uint8_t *buf = NULL;
	size_t len = 0;
	int fd, seen = 0;
	FILE *f;

	build(&p);
	profile__compact(&p, &cw);
	if (!ASSERT_EQ(otlp__encode_window(&cw, &wi, "host-b", &buf, &len), 0, "encoded"))
		goto out;
	fd = mkstemp(path);
	if (!ASSERT_TRUE(fd >= 0 && write(fd, buf, len) == (ssize_t)len, "temp file"))
		goto out;
	close(fd);
	if (!CHECK(system("command -v protoc >/dev/null") == 0, "protoc",
		   "protoc is missing: install protobuf-compiler (tools/install-deps.sh --test)"))
		goto rm;
	snprintf(cmd, sizeof(cmd), "protoc -I%s --decode=%s %s < %s 2>&1", PROTO_DIR, REQ_TYPE,
		 PROTO_FILE, path);
	f = popen(cmd, "r");
	while (f && fgets(line, sizeof(line), f)) {
		seen |= strstr(line, "string_value: \"unknown_service:cwork\"") ? 1 : 0;
		seen |= strstr(line, "string_table: \"crunch\"") ? 2 : 0;
		seen |= strstr(line, "string_table: \"cpython\"") ? 4 : 0;
		seen |= strstr(line, "string_value: \"host-b\"") ? 8 : 0;
		seen |= strstr(line, "time_unix_nano: 1") ? 16 : 0;
		if (strstr(line, "Failed") || strstr(line, "rror"))
			CHECK(0, "protoc --decode", "%s", line);
	}
	ASSERT_EQ(f ? pclose(f) : -1, 0, "protoc --decode exit status");
	ASSERT_EQ(seen, 31, "service, function, frame type, host and time decoded");
rm:
	unlink(path);
out:
	free(buf);
	profile__free(&cw);
	profile__free(&p);
}

/* protobuf strings must be UTF-8: an executable path with a stray byte, a
 * thread name cut inside a character and a symbol of Latin-1 bytes arrive
 * cleaned ('_' per invalid byte), valid ones unchanged */
TEST(otlp_strings_utf8)
{
	struct ap_window_info wi = {
		.seq = 1, .nr_cpus = 1,
		.start_real_ns = 1796000000000000000ull, .end_real_ns = 1796000015000000000ull,
		.start_mono_ns = 1000000000ull, .end_mono_ns = 16000000000ull,
	};
	struct profile p, cw;
	struct ap_process *pr;
	uint32_t fr[2], mod, st;
	uint8_t *buf = NULL;
	size_t len = 0, i;
	Req *req;
	const Dict *d;

	profile__init(&p);
	p.frequency_hz = 19;
	mod = profile__module(&p, "/opt/bin/caf\xc3\xa9", "");
	fr[0] = profile__frame(&p, AP_FRAME_USER, "na\xefve_fn", mod, 0x1000);
	fr[1] = profile__frame(&p, AP_FRAME_USER, "\xe2\x82\xac_ok", mod, 0x2000);
	st = profile__stack(&p, fr, 2);
	profile__add(&p, 7, 7, "th\xe2\x82", st, 0, 3);
	pr = profile__process(&p, 7);
	pr->exe = profile__str(&p, "/opt/bin/c\xffw");
	pr->comm = profile__str(&p, "c\xffw");
	profile__compact(&p, &cw);
	ASSERT_EQ(otlp__encode_window(&cw, &wi, "host-a", &buf, &len), 0, "encoded");
	req = opentelemetry__proto__collector__profiles__v1development__export_profiles_service_request__unpack(
		NULL, len, buf);
	if (!ASSERT_TRUE(req && req->dictionary && req->n_resource_profiles == 1, "unpacks"))
		goto out;
	d = req->dictionary;
	for (i = 0; i < d->n_string_table; i++)
		ASSERT_TRUE(ap_utf8_valid(d->string_table[i]), "every string is UTF-8");
	for (i = 0; i < req->resource_profiles[0]->resource->n_attributes; i++) {
		const AnyValue *v = req->resource_profiles[0]->resource->attributes[i]->value;

		if (v->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE)
			ASSERT_TRUE(ap_utf8_valid(v->string_value), "every resource string is UTF-8");
	}
	ASSERT_STREQ(res_str(req->resource_profiles[0]->resource, "process.executable.path"),
		     "/opt/bin/c_w", "a stray byte: '_'");
	ASSERT_STREQ(res_str(req->resource_profiles[0]->resource, "service.name"),
		     "unknown_service:c_w", "the service from the cleaned name");
	{
		bool cut = false, euro = false, latin = false;

		for (i = 0; i < d->n_string_table; i++) {
			cut |= !strcmp(d->string_table[i], "th__");
			euro |= !strcmp(d->string_table[i], "\xe2\x82\xac_ok");
			latin |= !strcmp(d->string_table[i], "na_ve_fn");
		}
		ASSERT_TRUE(cut, "a name cut inside a character: '_' per byte");
		ASSERT_TRUE(euro, "valid UTF-8 unchanged");
		ASSERT_TRUE(latin, "a Latin-1 symbol cleaned");
	}
out:
	if (req)
		opentelemetry__proto__collector__profiles__v1development__export_profiles_service_request__free_unpacked(
			req, NULL);
	free(buf);
	profile__free(&cw);
	profile__free(&p);
}
