// SPDX-License-Identifier: MIT
/* A program that embeds CPython through its shared libpython, as an
 * application with a scripting layer does: it runs SCRIPT in __main__, then
 * calls the script's work_a, work_b and work_z from three threads of its own
 * (PyGILState_Ensure, so the interpreter learns of them as an embedder's
 * threads do), giving them SECONDS * 0.7, * 0.3 and * 0.25 of CPU time
 * (work_z's is spent with the GIL released). The main thread releases the
 * GIL and waits. Not built by make: the
 * integration test links it against the libpython under test
 * (tests/integration/suite-i16-tls.sh).
 *   pyembed SCRIPT SECONDS */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

struct job {
	const char *fn;
	double cpu_s;
	int rc;
};

static PyObject *main_dict;

static void *worker(void *arg)
{
	struct job *j = arg;
	PyGILState_STATE g = PyGILState_Ensure();
	PyObject *f = PyDict_GetItemString(main_dict, j->fn); /* borrowed */
	PyObject *r = f ? PyObject_CallFunction(f, "d", j->cpu_s) : NULL;

	j->rc = r ? 0 : 1;
	if (!r)
		PyErr_Print();
	Py_XDECREF(r);
	PyGILState_Release(g);
	return NULL;
}

int main(int argc, char **argv)
{
	struct job jobs[3] = { { "work_a", 0, 1 }, { "work_b", 0, 1 }, { "work_z", 0, 1 } };
	pthread_t t[3];
	PyThreadState *save;
	double secs;
	FILE *fp;
	int i, rc = 0;

	if (argc != 3 || (secs = atof(argv[2])) <= 0) {
		fprintf(stderr, "usage: pyembed SCRIPT SECONDS\n");
		return 2;
	}
	jobs[0].cpu_s = secs * 0.7;
	jobs[1].cpu_s = secs * 0.3;
	jobs[2].cpu_s = secs * 0.25;
	Py_Initialize();
	fp = fopen(argv[1], "r");
	if (!fp || PyRun_SimpleFileExFlags(fp, argv[1], 1, NULL)) {
		fprintf(stderr, "pyembed: cannot run %s\n", argv[1]);
		return 1;
	}
	main_dict = PyModule_GetDict(PyImport_AddModule("__main__"));
	save = PyEval_SaveThread();
	for (i = 0; i < 3; i++)
		if (pthread_create(&t[i], NULL, worker, &jobs[i])) {
			fprintf(stderr, "pyembed: pthread_create failed\n");
			return 1;
		}
	for (i = 0; i < 3; i++) {
		pthread_join(t[i], NULL);
		rc |= jobs[i].rc;
	}
	PyEval_RestoreThread(save);
	if (Py_FinalizeEx() < 0)
		rc = 1;
	return rc;
}
