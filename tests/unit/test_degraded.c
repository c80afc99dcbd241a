// SPDX-License-Identifier: MIT
/* Issue 16 points 4 and 6: why a process's Python frames are missing
 * (pyproc's refusal codes, through cpu.json and into the summary's note),
 * CPython's internal _Py_InitCleanup code object, and the summary's note
 * about unnamed vDSO functions. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include "artifact/artifact.h"
#include "profile/profile.h"
#include "python/offsets.h"
#include "python/pyproc.h"
#include "report/report.h"
#include "unit.h"
#include "util.h"

/* pyproc__detect on a file that is only named: no read of its contents
 * happens before these refusals */
static int detect_named(const char *path, uint64_t runtime, struct py_refusal *why)
{
	struct symfile sf = { .path = (char *)path, .py_runtime = runtime, .py_code_type = 0x100,
			      .fd = -1, .elf_fd = -1 };
	struct ap_mapping m = { .sf = &sf };
	struct ap_py_proc pp;
	int minor = 0;

	memset(why, 0, sizeof(*why));
	return pyproc__detect(&m, &pp, &minor, why);
}

TEST(py_refusal_codes)
{
	char *v27 = xasprintf("CPython 2.7 is not supported (3.8 to 3.%d are)", AP_PY_MINOR_MAX);
	char *v36 = xasprintf("CPython 3.6 is not supported (3.8 to 3.%d are)", AP_PY_MINOR_MAX);
	char *v99 = xasprintf("CPython 3.99 is not supported (3.8 to 3.%d are)", AP_PY_MINOR_MAX);
	struct py_refusal why;

	ASSERT_EQ(detect_named("/opt/py/bin/python2.7", 0, &why), -ENOTSUP, "2.7 refused");
	ASSERT_STREQ(why.code, PY_NO_VERSION, "2.7: code");
	ASSERT_STREQ(why.text, v27, "2.7: text");
	ASSERT_EQ(why.major * 100 + why.minor, 207, "2.7: version seen");
	ASSERT_EQ(detect_named("/usr/bin/python3.6", 0, &why), -ENOTSUP, "3.6 refused");
	ASSERT_STREQ(why.text, v36, "3.6: text");
	ASSERT_EQ(detect_named("/usr/bin/python3.12d", 0x1000, &why), -ENOTSUP, "debug refused");
	ASSERT_STREQ(why.code, PY_NO_DEBUG, "debug: code");
	ASSERT_EQ(why.minor, 12, "debug: minor from the name");
	ASSERT_EQ(detect_named("/usr/lib/libpython3.13t.so.1.0", 0x1000, &why), -ENOTSUP,
		  "free-threaded refused");
	ASSERT_STREQ(why.code, PY_NO_FREE_THREADED, "free-threaded: code");
	ASSERT_EQ(detect_named("/usr/bin/python3.99", 0x1000, &why), -ENOTSUP, "3.99 refused");
	ASSERT_STREQ(why.code, PY_NO_VERSION, "3.99: code");
	ASSERT_STREQ(why.text, v99, "3.99: text");
	free(v27);
	free(v36);
	free(v99);
}

/* a CPython linked with musl is refused with its own code; the same file
 * linked with glibc is not: 3.12 (thread states through glibc's thread
 * keys) and a shared 3.15 (a thread-local through __tls_get_addr, whose
 * DTV musl lays out otherwise) */
TEST(py_refusal_musl)
{
	const char *libc[] = { "glibc", "musl" };
	const int minors[] = { 12, 15 };
	int i, v;

	for (v = 0; v < 2; v++) {
		for (i = 0; i < 2; i++) {
			char *path = xasprintf("%s/pylike/%s/libpython3.%d.so.1.0", unit_fixtures(),
					       libc[i], minors[v]);
			struct symfile *sf = symfile__open(path);
			struct ap_mapping m = { .sf = sf };
			struct py_refusal why = { 0 };
			struct ap_py_proc pp;
			int minor = 0, err;

			free(path);
			if (!ASSERT_TRUE(sf != NULL, libc[i]))
				continue;
			err = pyproc__detect(&m, &pp, &minor, &why);
			CHECK(minor == minors[v], libc[i], "version read from Py_Version: 3.%d",
			      minor);
			if (i == 0) {
				CHECK(err == 0, libc[i], "3.%d walked: %d %s", minors[v], err,
				      why.text);
				if (minors[v] == 15)
					ASSERT_TRUE(!err && pp.tls_index, "3.15: the DTV path");
			} else {
				CHECK(err == -ENOTSUP, libc[i], "3.%d refused: %d", minors[v], err);
				ASSERT_STREQ(why.code, PY_NO_MUSL, "musl: code");
				ASSERT_TRUE(strstr(why.text, "musl") != NULL, "musl: said");
			}
			symfile__free(sf);
		}
	}
}

/* the reason travels with the process through cpu.json (and old files,
 * without it, load), and the summary says it in one line */
TEST(py_missing_note)
{
	struct summary_info si = { .target = "python3.16 app.py", .exit_code = 0,
				   .top_functions = 5, .top_stacks = 1 };
	char *dir = unit_temp_dir("pymissing"), *path, *buf = NULL, *note;
	struct profile p, q;
	struct ap_process *pr;
	uint32_t mod, fr, st;
	size_t len = 0;
	const char *old = "{\"schema\":\"autoprof.cpu/1\",\"strings\":[\"\",\"x\"],"
			  "\"processes\":[{\"pid\":7,\"ppid\":1,\"comm\":1,\"exe\":1,"
			  "\"cmdline\":1,\"samples\":0,\"exited\":true}]}";
	FILE *f;
	int fd;

	profile__init(&p);
	p.frequency_hz = 99;
	mod = profile__module(&p, "/usr/bin/python3.16", "");
	fr = profile__frame(&p, AP_FRAME_USER, "_PyEval_EvalFrameDefault", mod, 0x1000);
	st = profile__stack(&p, &fr, 1);
	profile__add(&p, 42, 42, "python3.16", st, 0, 50);
	pr = profile__process(&p, 42);
	pr->comm = profile__str(&p, "python3.16");
	pr->runtime = profile__str(&p, "CPython 3.16");
	pr->py_missing = profile__str(&p, PY_NO_VERSION);
	pr->py_missing_why = profile__str(&p, "CPython 3.16 is not supported (3.8 to 3.15 are)");
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_EQ(cpu_json__write(&p, fd), 0, "write cpu.json");
	close(fd);
	path = xasprintf("%s/artifacts/cpu.json", dir);
	profile__init(&q);
	ASSERT_EQ(cpu_json__load(&q, path), 0, "load cpu.json");
	pr = profile__process(&q, 42);
	ASSERT_STREQ(profile__s(&q, pr->py_missing), "unsupported_version", "code kept");
	ASSERT_STREQ(profile__s(&q, pr->runtime), "CPython 3.16", "runtime seen kept");
	note = ap_py_missing_note(&q, pr);
	ASSERT_STREQ(note, "Python frames unavailable for pid 42 (python3.16): CPython 3.16 is not "
			   "supported (3.8 to 3.15 are); the times below are the interpreter's "
			   "native functions", "the note");
	free(note);
	f = open_memstream(&buf, &len);
	summary_print(&q, &si, f);
	fclose(f);
	ASSERT_TRUE(strstr(buf, "  note: Python frames unavailable for pid 42 (python3.16): ") != NULL,
		    "summary line");
	if (unit_failed_checks)
		fputs(buf, stderr);
	free(buf);
	profile__free(&q);
	/* a file from before the keys: no note */
	profile__init(&q);
	ASSERT_EQ(cpu_json__load_buf(&q, old, strlen(old), "old"), 0, "old cpu.json loads");
	pr = profile__process(&q, 7);
	ASSERT_EQ(pr->py_missing, 0, "old file: nothing missing");
	ASSERT_TRUE(ap_py_missing_note(&q, pr) == NULL, "old file: no note");
	profile__free(&q);
	profile__free(&p);
	free(path);
	unit_rm_rf(dir);
}

TEST(py_init_cleanup_hidden)
{
	struct py_code pc = { .minor = 13, .firstlineno = 0, .qualname = "__init__",
			      .filename = "__init__" };

	ASSERT_TRUE(pycode__is_internal(&pc), "_Py_InitCleanup (3.13)");
	pc.minor = 15;
	ASSERT_TRUE(pycode__is_internal(&pc), "_Py_InitCleanup (3.15)");
	pc.filename = "/app/shapes.py";
	pc.firstlineno = 12;
	ASSERT_TRUE(!pycode__is_internal(&pc), "a class's own __init__");
	pc.filename = "<string>";
	pc.firstlineno = 2;
	ASSERT_TRUE(!pycode__is_internal(&pc), "a generated __init__ (dataclass)");
	pc.filename = "__init__";
	pc.firstlineno = 0;
	pc.minor = 12;
	ASSERT_TRUE(!pycode__is_internal(&pc), "not before 3.13");
}

/* "[vdso]+0x78" rows: the note names [vdso] whole */
TEST(summary_vdso_note)
{
	struct summary_info si = { .target = "t", .exit_code = 0, .top_functions = 5,
				   .top_stacks = 1 };
	uint32_t vdso, fr[2], st;
	struct profile p;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	profile__init(&p);
	p.frequency_hz = 99;
	vdso = profile__module(&p, "[vdso]", "");
	fr[0] = profile__frame(&p, AP_FRAME_USER, "main", profile__module(&p, "/bin/t", ""), 0x10);
	fr[1] = profile__frame(&p, AP_FRAME_USER, "[vdso]+0x78", vdso, 0x78);
	st = profile__stack(&p, fr, 2);
	profile__add(&p, 5, 5, "t", st, 0, 60);
	f = open_memstream(&buf, &len);
	summary_print(&p, &si, f);
	fclose(f);
	ASSERT_TRUE(strstr(buf, "functions of [vdso] that have no symbol (shown\n"
				"        as [vdso]+0xADDR)") != NULL, "the module named whole");
	ASSERT_TRUE(strstr(buf, "vdso]+0x7 ") == NULL && strstr(buf, "of vdso]") == NULL,
		    "not cut");
	if (unit_failed_checks)
		fputs(buf, stderr);
	free(buf);
	profile__free(&p);
}
