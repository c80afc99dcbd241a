// SPDX-License-Identifier: MIT
/* Memory rows (issue 18) in every output but memory.folded, on a profile
 * filled by hand: memory.json written and read back through the run
 * loader (rows, timeline, flags), its malformed inputs refused, alloc.folded
 * and live.folded, the OTLP window's memory profiles, report.html's data
 * and the terminal's memory block. profile.pb.gz's memory sample types are
 * decoded by protoc in tests/unit/test_formats.py. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "artifact/artifact.h"
#include "artifact/input.h"
#include "log.h"
#include "profile/compact.h"
#include "profile/profile.h"
#include "report/formats.h"
#include "report/report.h"
#include "sink/otlp.h"
#include "sink/push.h"
#include "sink/pyroscope.h"
#include "sink/spool.h"
#include "unit.h"
#include "util.h"
#include "opentelemetry/proto/collector/profiles/v1development/profiles_service.pb-c.h"

#define MiB (1024ull * 1024)

/* main -> fill (page faults, malloc), main -> grow (mmap); one mapping
 * call whose stack was not captured (the empty stack) */
static void build(struct profile *p, bool with_malloc)
{
	uint32_t exe, libc, fr[4], s_fill, s_grow, s_none, s_cold;
	struct ap_mem_time t;
	struct ap_process *pr;

	profile__init(p);
	p->frequency_hz = 99;
	p->duration_s = 2;
	p->start_mono_ns = 5000000000ull;
	p->has_memory = true;
	p->has_malloc = with_malloc;
	p->mem_period = 0;
	exe = profile__module(p, "/usr/bin/app", "abcd");
	libc = profile__module(p, "/lib/x86_64-linux-gnu/libc.so.6", "ef01");
	fr[0] = profile__frame(p, AP_FRAME_USER, "main", exe, 0x1100);
	fr[1] = profile__frame(p, AP_FRAME_USER, "fill", exe, 0x1200);
	fr[2] = profile__frame(p, AP_FRAME_USER, "grow", exe, 0x1300);
	fr[3] = profile__frame(p, AP_FRAME_USER, "cold", libc, 0x1400);
	s_fill = profile__stack(p, fr, 2);
	s_grow = profile__stack(p, (uint32_t[]){ fr[0], fr[2] }, 2);
	s_cold = profile__stack(p, (uint32_t[]){ fr[0], fr[3] }, 2);
	s_none = profile__stack(p, NULL, 0);
	profile__add(p, 10, 10, "app", s_fill, 0, 40);
	pr = profile__process(p, 10);
	pr->comm = profile__str(p, "app");
	pr->exe = profile__str(p, "/usr/bin/app");
	profile__add_mem(p, 10, 10, s_fill, AP_MEM_FAULT, 48 * MiB, 12);
	profile__add_mem(p, 10, 11, s_grow, AP_MEM_FAULT, 12 * MiB, 3);
	profile__add_mem(p, 10, 10, s_cold, AP_MEM_FAULT, 4 * MiB, 1);
	profile__add_mem(p, 10, 11, s_grow, AP_MEM_MAP, 64 * MiB, 2);
	profile__add_mem(p, 10, 11, s_none, AP_MEM_MAP, 1 * MiB, 1);
	profile__add_mem(p, 10, 11, s_grow, AP_MEM_UNMAP, 32 * MiB, 1);
	if (with_malloc) {
		profile__add_mem(p, 10, 10, s_fill, AP_MEM_ALLOC, 100 * MiB, 200);
		profile__add_mem(p, 10, 10, s_fill, AP_MEM_LIVE, 3 * MiB, 6);
	}
	t = (struct ap_mem_time){ .t_ns = p->start_mono_ns + 1500000, .bytes = 4 * MiB,
				  .addr = 0x7f0000001000ull, .pid = 10, .tid = 10, .stack = s_fill,
				  .kind = AP_MEM_FAULT };
	profile__add_mem_time(p, &t);
	t = (struct ap_mem_time){ .t_ns = p->start_mono_ns + 2000000, .bytes = 64 * MiB,
				  .addr = 0x7f1000000000ull, .pid = 10, .tid = 11, .stack = s_none,
				  .kind = AP_MEM_MAP };
	profile__add_mem_time(p, &t);
	p->mem_times_dropped = 7;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* rows and timeline as text independent of table ids: "kind pid/tid
 * frames bytes count" per row, sorted, then the timeline in order */
static char *canon(const struct profile *p)
{
	struct strbuf sb = { 0 };
	char **lines = xcalloc(p->nr_mem + 1, sizeof(*lines)), buf[512];
	size_t i;
	uint32_t j;

	for (i = 0; i < p->nr_mem; i++) {
		const struct ap_mem_row *r = &p->mem[i];
		const struct ap_stack *st = &p->stacks[r->stack];
		struct strbuf l = { 0 };

		sb_printf(&l, "%s %u/%u", ap_mem_kind_names[r->kind], r->pid, r->tid);
		for (j = 0; j < st->len; j++)
			sb_printf(&l, " %s", profile__frame_label(p, p->stack_frames[st->off + j], false,
								   buf, sizeof(buf)));
		sb_printf(&l, " %llu %llu", (unsigned long long)r->bytes, (unsigned long long)r->count);
		lines[i] = l.buf;
	}
	qsort(lines, p->nr_mem, sizeof(*lines), cmp_str);
	for (i = 0; i < p->nr_mem; i++) {
		sb_printf(&sb, "%s\n", lines[i]);
		free(lines[i]);
	}
	free(lines);
	for (i = 0; i < p->nr_mem_times; i++) {
		const struct ap_mem_time *t = &p->mem_times[i];

		sb_printf(&sb, "t %llu %s %u/%u len %u %llu 0x%llx\n",
			  (unsigned long long)(t->t_ns - p->start_mono_ns), ap_mem_kind_names[t->kind],
			  t->pid, t->tid, p->stacks[t->stack].len, (unsigned long long)t->bytes,
			  (unsigned long long)t->addr);
	}
	sb_printf(&sb, "dropped %llu malloc %d period %llu\n", (unsigned long long)p->mem_times_dropped,
		  p->has_malloc, (unsigned long long)p->mem_period);
	return sb.buf;
}

TEST(memory_json_round_trip)
{
	char *dir = unit_temp_dir("mem"), *a, *b;
	struct ap_input in;
	struct profile p;
	int fd, dfd;

	build(&p, true);
	p.mem_period = 1000; /* a fixed period survives too */
	if (!ASSERT_TRUE(dir != NULL, "temp dir"))
		return;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_EQ(cpu_json__write(&p, fd), 0, "cpu.json");
	ASSERT_EQ(memory_json__write(&p, fd), 0, "memory.json");
	dfd = fd;
	/* the run loader picks memory.json up, after cpu.json (other table ids) */
	ASSERT_EQ(ap_input__load(&in, dfd, dir), 0, "loaded");
	close(fd);
	ASSERT_TRUE(in.prof.has_memory && in.prof.has_malloc, "flags");
	ASSERT_EQ(in.prof.nr_mem, p.nr_mem, "rows");
	ASSERT_EQ(in.prof.nr_mem_times, 2, "timeline");
	ASSERT_EQ(in.prof.mem_times_dropped, 7, "dropped");
	ASSERT_EQ(in.prof.mem_period, 1000, "fixed period");
	/* canon() counts time from start_mono_ns: loaded times are relative (start 0) */
	in.prof.start_mono_ns = 0;
	a = canon(&p);
	b = canon(&in.prof);
	CHECK(a && b && !strcmp(a, b), "rows and timeline survive", "\n%s  vs\n%s", a, b);
	ASSERT_TRUE(a && strstr(a, "map 10/11 1048576 1\n") != NULL, "the empty stack's row kept");
	ASSERT_TRUE(a && strstr(a, "t 2000000 map 10/11 len 0 67108864 0x7f1000000000\n") != NULL,
		    "timeline: time, kind, empty stack, bytes, address");
	free(a);
	free(b);
	ap_input__free(&in);

	/* without --malloc and with no rows: the flags alone */
	{
		struct profile q, r;
		cJSON *o;
		char *txt;

		profile__init(&q);
		q.has_memory = true;
		txt = cJSON_PrintUnformatted(o = memory_json__build(&q));
		cJSON_Delete(o);
		profile__init(&r);
		ASSERT_EQ(memory_json__load_buf(&r, txt, strlen(txt), "m"), 0, "empty loads");
		ASSERT_TRUE(r.has_memory && !r.has_malloc && !r.nr_mem && !r.nr_mem_times, "empty");
		ASSERT_TRUE(strstr(txt, "\"schema\":\"autoprof.memory/1\"") != NULL, "schema");
		ASSERT_TRUE(strstr(txt, "\"has_malloc\":false,\"mem_period\":0") != NULL, "flags written");
		free(txt);
		profile__free(&q);
		profile__free(&r);
	}
	unit_rm_rf(dir);
	profile__free(&p);
}

static int load_str(const char *s)
{
	struct profile q;
	int err;

	profile__init(&q);
	err = memory_json__load_buf(&q, s, strlen(s), "memory.json");
	profile__free(&q);
	return err;
}

#define HEAD "{\"schema\":\"autoprof.memory/1\",\"strings\":[\"\"],\"frames\":[],\"stacks\":[[]],"

TEST(memory_json_malformed)
{
	ASSERT_EQ(load_str(HEAD "\"rows\":[{\"pid\":1,\"tid\":1,\"stack\":0,\"kind\":\"fault\","
			   "\"bytes\":4096,\"count\":1}]}"), 0, "a good row");
	ASSERT_EQ(load_str("{\"schema\":\"autoprof.memory/2\"}"), -ENOTSUP, "another major version");
	ASSERT_TRUE(load_str("{\"schema\":\"autoprof.cpu/1\"}") < 0, "another artifact");
	ASSERT_TRUE(load_str("{\"schema\":\"autoprof.memory/1\"") < 0, "truncated");
	ASSERT_EQ(load_str(HEAD "\"rows\":[{\"pid\":1,\"tid\":1,\"stack\":0,\"kind\":\"heap\","
			   "\"bytes\":1,\"count\":1}]}"), -EINVAL, "unknown kind");
	ASSERT_EQ(load_str(HEAD "\"rows\":[{\"pid\":1,\"tid\":1,\"stack\":1,\"kind\":\"fault\","
			   "\"bytes\":1,\"count\":1}]}"), -EINVAL, "stack past the table");
	ASSERT_EQ(load_str(HEAD "\"rows\":[{\"pid\":1,\"tid\":1,\"stack\":0,\"kind\":\"fault\","
			   "\"bytes\":-5,\"count\":1}]}"), -EINVAL, "negative bytes");
	ASSERT_EQ(load_str(HEAD "\"rows\":[{\"pid\":1,\"tid\":1,\"stack\":0,\"kind\":\"fault\","
			   "\"count\":1}]}"), -EINVAL, "bytes missing");
	ASSERT_EQ(load_str(HEAD "\"rows\":[{\"pid\":5000000000,\"tid\":1,\"stack\":0,\"kind\":\"fault\","
			   "\"bytes\":1,\"count\":1}]}"), -EINVAL, "pid past 32 bits");
	ASSERT_EQ(load_str(HEAD "\"rows\":{}}"), -EINVAL, "rows not an array");
	ASSERT_EQ(load_str(HEAD "\"timeline\":{\"t_us\":[1],\"pid\":[1],\"tid\":[1],\"stack\":[0],"
			   "\"kind\":[0],\"bytes\":[1]}}"), -EINVAL, "a timeline column missing");
	ASSERT_EQ(load_str(HEAD "\"timeline\":{\"t_us\":[1,2],\"pid\":[1],\"tid\":[1],\"stack\":[0],"
			   "\"kind\":[0],\"bytes\":[1],\"addr\":[0]}}"), -EINVAL, "columns of unequal length");
	ASSERT_EQ(load_str(HEAD "\"timeline\":{\"t_us\":[1],\"pid\":[1],\"tid\":[1],\"stack\":[0],"
			   "\"kind\":[9],\"bytes\":[1],\"addr\":[0]}}"), -EINVAL, "kind index past the table");
	ASSERT_EQ(load_str(HEAD "\"timeline\":{\"t_us\":[1],\"pid\":[1],\"tid\":[1],\"stack\":[3],"
			   "\"kind\":[0],\"bytes\":[1],\"addr\":[0]}}"), -EINVAL, "timeline stack past the table");
	ASSERT_EQ(load_str(HEAD "\"timeline\":{\"t_us\":[1],\"pid\":[1],\"tid\":[1],\"stack\":[0],"
			   "\"kind\":[0],\"bytes\":[\"x\"],\"addr\":[0]}}"), -EINVAL, "a string cell");
	ASSERT_EQ(load_str(HEAD "\"kinds\":[\"live\",\"fault\"],\"timeline\":{\"t_us\":[1],\"pid\":[1],"
			   "\"tid\":[1],\"stack\":[0],\"kind\":[1],\"bytes\":[1],\"addr\":[0]}}"), 0,
		  "the file's own kind table");
	ASSERT_EQ(load_str(HEAD "\"mem_period\":-1}"), -EINVAL, "negative period");
	ASSERT_EQ(load_str(HEAD "\"mem_period\":\"-0x10\"}"), -EINVAL, "a negative hex string");
	ASSERT_EQ(load_str(HEAD "\"mem_period\":\"0x10\"}"), 0, "a hex string");
}

TEST(memory_folded_malloc)
{
	struct profile p;
	struct strbuf sb = { 0 };
	char *dir = unit_temp_dir("memfold"), *text;
	size_t len;
	int fd;

	build(&p, true);
	folded_render_mem(&p, AP_VIEW_MIXED, AP_MEM_ALLOC, &sb);
	ASSERT_STREQ(sb.buf, "app;main;fill 104857600\n", "alloc bytes by stack");
	sb.len = 0;
	folded_render_mem(&p, AP_VIEW_MIXED, AP_MEM_LIVE, &sb);
	ASSERT_STREQ(sb.buf, "app;main;fill 3145728\n", "live bytes by stack");
	sb_free(&sb);
	if (dir) {
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		ASSERT_EQ(folded_write_malloc(&p, AP_VIEW_MIXED, fd), 0, "written");
		text = read_file_at(fd, "live.folded", 0, 1 << 20, &len);
		ASSERT_STREQ(text, "app;main;fill 3145728\n", "live.folded");
		free(text);
		text = read_file_at(fd, "alloc.folded", 0, 1 << 20, &len);
		ASSERT_STREQ(text, "app;main;fill 104857600\n", "alloc.folded");
		free(text);
		close(fd);
		unit_rm_rf(dir);
	}
	profile__free(&p);
}

typedef Opentelemetry__Proto__Collector__Profiles__V1development__ExportProfilesServiceRequest Req;
#define REQ(fn) opentelemetry__proto__collector__profiles__v1development__export_profiles_service_request__##fn

/* each memory sample type's total over the request */
static void otlp_totals(const Req *req, int64_t *fault, int64_t *alloc, int64_t *live, int64_t *other)
{
	const char *const *st = (const char *const *)req->dictionary->string_table;
	size_t i, j, k;

	*fault = *alloc = *live = *other = 0;
	for (i = 0; i < req->n_resource_profiles; i++)
		for (j = 0; j < req->resource_profiles[i]->scope_profiles[0]->n_profiles; j++) {
			const Opentelemetry__Proto__Profiles__V1development__Profile *pr =
				req->resource_profiles[i]->scope_profiles[0]->profiles[j];
			const char *type = st[pr->sample_type->type_strindex];
			const char *unit = st[pr->sample_type->unit_strindex];
			int64_t sum = 0;

			for (k = 0; k < pr->n_samples; k++)
				sum += pr->samples[k]->values[0];
			if (!strcmp(type, "memory") && !strcmp(unit, "bytes"))
				*fault += sum;
			else if (!strcmp(type, "alloc_space") && !strcmp(unit, "bytes"))
				*alloc += sum;
			else if (!strcmp(type, "inuse_space") && !strcmp(unit, "bytes"))
				*live += sum;
			else if (strcmp(type, "samples"))
				*other += sum;
		}
}

TEST(memory_otlp_window)
{
	struct ap_window_info wi = {
		.seq = 1, .nr_cpus = 2,
		.start_real_ns = 1796000000000000000ull, .end_real_ns = 1796000015000000000ull,
		.start_mono_ns = 1000000000ull, .end_mono_ns = 16000000000ull,
	};
	int64_t fault, alloc, live, other;
	struct profile p, cw;
	uint8_t *buf = NULL;
	size_t len = 0;
	Req *req;
	int m;

	for (m = 0; m < 2; m++) {
		build(&p, m);
		/* pid 20: memory only (its resource holds only memory profiles) */
		profile__add_mem(&p, 20, 20, p.mem[0].stack, AP_MEM_FAULT, 8192, 1);
		/* pid 30: a mapping call only: nothing to send, no resource */
		profile__add_mem(&p, 30, 30, p.mem[0].stack, AP_MEM_MAP, 8192, 1);
		profile__compact(&p, &cw);
		ASSERT_EQ(otlp__encode_window(&cw, &wi, "h", &buf, &len), 0, "encoded");
		req = REQ(unpack)(NULL, len, buf);
		if (!ASSERT_TRUE(req && req->dictionary, "unpacks"))
			goto next;
		otlp_totals(req, &fault, &alloc, &live, &other);
		ASSERT_EQ(fault, 64 * MiB + 8192, "memory/bytes: every fault row's bytes");
		ASSERT_EQ(alloc, m ? 100 * MiB : 0, "alloc_space/bytes with --malloc");
		ASSERT_EQ(live, m ? 3 * MiB : 0, "inuse_space/bytes with --malloc");
		ASSERT_EQ(other, 0, "no other sample type (mapping calls are not sent)");
		ASSERT_EQ(req->n_resource_profiles, 2, "pid 10 and the memory-only pid 20");
		if (req->n_resource_profiles == 2) {
			ASSERT_EQ(req->resource_profiles[0]->scope_profiles[0]->n_profiles, m ? 4 : 2,
				  "on-CPU, memory (, alloc, live)");
			ASSERT_EQ(req->resource_profiles[1]->scope_profiles[0]->n_profiles, 1,
				  "memory only");
		}
		REQ(free_unpacked)(req, NULL);
next:
		free(buf);
		buf = NULL;
		profile__free(&cw);
		profile__free(&p);
	}
}

TEST(memory_html_and_summary)
{
	struct summary_info si = { .target = "t", .exit_code = 0, .top_functions = 5, .top_stacks = 3 };
	struct ap_input in = { .target = (char *)"t", .wall_s = 2 };
	struct strbuf sb = { 0 };
	struct ap_pics x;
	char *out = NULL, *s;
	const char *want;
	size_t len = 0, lines = 0;
	FILE *f;

	build(&in.prof, true);
	ap_pics_init(&x, &in, AP_VIEW_MIXED, -1);
	html_render(&x, &sb);
	ap_pics_free(&x);
	ASSERT_TRUE(strstr(sb.buf, "\"memory\":true,\"malloc\":true,\"mkinds\":[\"fault\",\"map\","
				   "\"unmap\",\"alloc\",\"live\"]") != NULL, "the page's memory flags");
	/* fault, alloc and live rows; mapping calls are not drawn */
	want = "\"mem\":[10,10,0,0,50331648,10,11,1,0,12582912,10,10,2,0,4194304,"
	       "10,10,0,3,104857600,10,10,0,4,3145728]";
	s = strstr(sb.buf, "\"mem\":[");
	CHECK(s && !strncmp(s, want, strlen(want)), "rows [pid, tid, stack, kind, bytes]", "%.120s",
	      s ? s : "(none)");
	sb_free(&sb);

	f = open_memstream(&out, &len);
	ap_memory_print(&in.prof, AP_VIEW_MIXED, f);
	fclose(f);
	ASSERT_TRUE(strstr(out, "\nMemory: 64.0 MiB first touched (page faults, sampled: 16 samples)\n"
				"  where (innermost Python line, else native function): fill 75%, grow 19%, main 6%\n"
				"  mappings: 65.0 MiB mapped in 3 calls, 32.0 MiB unmapped in 1 call\n"
				"  malloc: 100 MiB allocated (sampled), 3.0 MiB of the samples still live at the end\n") == out,
		    "the memory block");
	for (s = out; *s; s++)
		lines += *s == '\n';
	ASSERT_TRUE(lines <= 5, "at most 5 lines");
	free(out);
	out = NULL;
	/* in the summary; and nothing without memory rows */
	f = open_memstream(&out, &len);
	summary_print(&in.prof, &si, f);
	fclose(f);
	ASSERT_TRUE(strstr(out, "\nMemory: 64.0 MiB") != NULL, "in the summary");
	free(out);
	out = NULL;
	profile__free(&in.prof);
	profile__init(&in.prof);
	in.prof.has_memory = true;
	f = open_memstream(&out, &len);
	ap_memory_print(&in.prof, AP_VIEW_MIXED, f);
	fclose(f);
	ASSERT_EQ(len, 0, "no rows: no block");
	free(out);
	profile__free(&in.prof);
}

/* a gzip body inflated into out; 0 or -1 */
static int gunzip(const void *in, size_t len, struct strbuf *out)
{
	z_stream z = { 0 };
	char buf[65536];
	int ret;

	if (inflateInit2(&z, 15 + 16) != Z_OK)
		return -1;
	z.next_in = (Bytef *)in;
	z.avail_in = len;
	do {
		z.next_out = (Bytef *)buf;
		z.avail_out = sizeof(buf);
		ret = inflate(&z, Z_NO_FLUSH);
		sb_append(out, buf, sizeof(buf) - z.avail_out);
	} while (ret == Z_OK);
	inflateEnd(&z);
	return ret == Z_STREAM_END ? 0 : -1;
}

static bool has_bytes(const struct strbuf *b, const char *s)
{
	return b->buf && memmem(b->buf, b->len, s, strlen(s)) != NULL;
}

/* The Pyroscope push of a window with memory rows: each service's pprof
 * has the memory sample types (alloc_space and inuse_space with --malloc),
 * and a process with memory rows only is pushed too. The sink's URL
 * refuses connections: the requests are read back from its spool. */
TEST(memory_pyroscope_window)
{
	char *dir = unit_temp_dir("mempush");
	struct ap_window_info wi = { .start_real_ns = 1795944615123456789ull,
				     .end_real_ns = 1795944630123456789ull,
				     .start_mono_ns = 1000000000ull, .end_mono_ns = 16000000000ull,
				     .nr_cpus = 2 };
	struct ap_push_conf c = { .name = "pyroscope", .url = "http://127.0.0.1:1",
				  .timeout_s = 1, .spool_max_bytes = 64 << 20 };
	struct ap_pyroscope_result res;
	struct ap_push *sink = NULL;
	struct ap_spool *s = NULL;
	struct ap_spool_entry e;
	struct profile p;
	int fd, n = 0, typed = 0, memonly = 0;

	if (!ASSERT_TRUE(dir != NULL, "temp dir"))
		return;
	build(&p, true);
	profile__add_mem(&p, 20, 20, p.mem[0].stack, AP_MEM_FAULT, 8192, 1);
	profile__process(&p, 20)->exe = profile__str(&p, "/opt/bin/toucher");
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	ASSERT_EQ(ap_push__open(fd, &c, &sink), 0, "sink");
	if (!sink)
		goto out;
	ASSERT_EQ(pyroscope__push_window(sink, &p, &wi, "h1", &res), 0, "pushed");
	ASSERT_EQ(res.requests, 2, "app and the memory-only process");
	ap_push__free(sink);
	ASSERT_EQ(ap_spool__open(fd, "pyroscope", 64 << 20, NULL, &s), 0, "spool");
	while (s && !ap_spool__peek(s, &e)) {
		struct strbuf pb = { 0 };

		n++;
		if (!gunzip(e.body, e.len, &pb) && has_bytes(&pb, "memory") &&
		    has_bytes(&pb, "alloc_space") && has_bytes(&pb, "inuse_space") && has_bytes(&pb, "bytes"))
			typed++;
		memonly += strstr(e.path, "unknown_service%3Atoucher") != NULL;
		sb_free(&pb);
		ap_spool__remove(s, e.seq);
		ap_spool_entry_free(&e);
	}
	ASSERT_EQ(n, 2, "requests spooled");
	ASSERT_EQ(typed, 2, "each pprof has the memory sample types");
	ASSERT_EQ(memonly, 1, "the memory-only process's request");
out:
	ap_spool__close(s);
	close(fd);
	unit_rm_rf(dir);
	profile__free(&p);
}

/* two stacks below one line of code are one place in the summary, named by
 * the code, not by the C library's leaf (a new user saw "_PyObject_Malloc
 * 24.2%, _PyObject_Malloc 14.7%") */
TEST(memory_summary_by_site)
{
	uint32_t exe, libc, py, fr[4], s1, s2;
	struct profile p;
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	profile__init(&p);
	p.has_memory = true;
	exe = profile__module(&p, "/usr/bin/python3.11", "");
	libc = profile__module(&p, "/lib/x86_64-linux-gnu/libc.so.6", "");
	py = profile__module(&p, "/tmp/load.py", "");
	fr[0] = profile__frame(&p, AP_FRAME_USER, "main", exe, 0x1100);
	fr[1] = profile__py_frame(&p, "load", py, 7);
	fr[2] = profile__frame(&p, AP_FRAME_USER, "_PyObject_Malloc", exe, 0x1200);
	fr[3] = profile__frame(&p, AP_FRAME_USER, "__memset_avx2", libc, 0x1300);
	s1 = profile__stack(&p, fr, 3);
	s2 = profile__stack(&p, (uint32_t[]){ fr[0], fr[1], fr[3] }, 3);
	profile__add_mem(&p, 10, 10, s1, AP_MEM_FAULT, 3 * MiB, 3);
	profile__add_mem(&p, 10, 10, s2, AP_MEM_FAULT, 1 * MiB, 1);
	f = open_memstream(&out, &len);
	ap_memory_print(&p, AP_VIEW_MIXED, f);
	fclose(f);
	CHECK(strstr(out, "): load (load.py:7) 100%\n") != NULL, "one site, the Python line", "%s", out);
	free(out);
	profile__free(&p);
}
