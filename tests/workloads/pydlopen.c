// SPDX-License-Identifier: MIT
/* A program that loads CPython at run time (dlopen, as a plug-in host
 * does): libpython's thread-locals are then a block the program did not
 * have at its start. Runs SCRIPT as __main__ with argv [SCRIPT, ARGS...].
 * Not built by make: tests/integration/suite-i16-tls.sh builds it.
 *   pydlopen LIBPYTHON SCRIPT [ARGS...] */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	char code[4096];
	size_t n;
	void (*init)(void);
	int (*run)(const char *, void *), (*fini)(void);
	void *h;
	int i, rc;

	if (argc < 3) {
		fprintf(stderr, "usage: pydlopen LIBPYTHON SCRIPT [ARGS...]\n");
		return 2;
	}
	h = dlopen(argv[1], RTLD_NOW | RTLD_GLOBAL);
	if (!h) {
		fprintf(stderr, "pydlopen: %s\n", dlerror());
		return 1;
	}
	init = (void (*)(void))dlsym(h, "Py_Initialize");
	run = (int (*)(const char *, void *))dlsym(h, "PyRun_SimpleStringFlags");
	fini = (int (*)(void))dlsym(h, "Py_FinalizeEx");
	if (!init || !run || !fini) {
		fprintf(stderr, "pydlopen: %s: no Py_Initialize/PyRun_SimpleStringFlags\n", argv[1]);
		return 1;
	}
	/* argv as Python string literals (the tests pass plain paths) */
	n = snprintf(code, sizeof(code), "import runpy, sys\nsys.argv = [");
	for (i = 2; i < argc && n < sizeof(code); i++) {
		if (strchr(argv[i], '\'') || strchr(argv[i], '\\')) {
			fprintf(stderr, "pydlopen: quotes in arguments\n");
			return 2;
		}
		n += snprintf(code + n, sizeof(code) - n, "%s'%s'", i > 2 ? ", " : "", argv[i]);
	}
	if (n < sizeof(code))
		n += snprintf(code + n, sizeof(code) - n,
			      "]\nrunpy.run_path(sys.argv[0], run_name='__main__')\n");
	if (n >= sizeof(code)) {
		fprintf(stderr, "pydlopen: arguments too long\n");
		return 2;
	}
	init();
	rc = run(code, NULL);
	return fini() < 0 || rc ? 1 : 0;
}
