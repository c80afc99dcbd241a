// SPDX-License-Identifier: MIT
/* The file part of a function's identity across runs. Two runs of one
 * program under Python 3.11 and 3.12, in two virtual environments or two
 * checkouts name the same function in different files
 * (/usr/lib/python3.11/difflib.py, .../python3.12/difflib.py;
 * libpython3.11.so.1.0, libpython3.12.so.1.0; ~/v1/app.py, ~/v2/app.py):
 * diff, --repeat sets and baselines match functions by this key instead.
 *   Python: "<stdlib>/" and the path below lib/pythonX.Y/
 *           (<stdlib>/json/encoder.py), "<site-packages>/" and the path below
 *           site-packages/ or dist-packages/, else the file's name (app.py);
 *           "<frozen ...>" as it is;
 *   native: the file's name without its version (libpython.so, python,
 *           libz.so), so a library's update keeps its functions;
 *   kernel and the rest: as they are.
 * A key is its own key. Keys are interned for the command's life (one per distinct file of the
 * runs compared; they only live in one-shot commands). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "diff/diff.h"
#include "hashmap.h"
#include "util.h"

static pthread_mutex_t keys_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hmap keys;
static char **key_texts;
static size_t nr_keys, cap_keys;

/* p after "/lib/pythonX.Y/" (X.Y digits and dots, any ABI letters), or NULL */
static const char *below_stdlib(const char *p)
{
	const char *s;

	for (s = strstr(p, "/lib/python"); s; s = strstr(s + 1, "/lib/python")) {
		const char *v = s + 11, *d = v;

		while ((*d >= '0' && *d <= '9') || *d == '.' || (*d >= 'a' && *d <= 'z'))
			d++;
		if (d > v && *d == '/')
			return d + 1;
	}
	return NULL;
}

static const char *basename_of(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

/* the key of file into out (at least strlen(file) + 16 bytes) */
static void key_of(const char *kind, const char *file, char *out)
{
	const char *s;
	size_t n, i, letters = 0, dots = 0;
	char *so;

	if (!strcmp(kind, "python")) {
		if (file[0] == '<') {
			strcpy(out, file);
			return;
		}
		if ((s = strstr(file, "/site-packages/")) || (s = strstr(file, "/dist-packages/")))
			sprintf(out, "<site-packages>/%s", s + 15);
		else if ((s = below_stdlib(file)))
			sprintf(out, "<stdlib>/%s", s);
		else
			strcpy(out, basename_of(file));
		return;
	}
	if (strcmp(kind, "user")) {
		strcpy(out, file);
		return;
	}
	strcpy(out, basename_of(file));
	/* libz.so.1.2.13 -> libz.so */
	so = strstr(out, ".so");
	if (so && (!so[3] || so[3] == '.'))
		so[3] = 0;
	/* a version X.Y (and ABI letters) ending the stem: python3.11 -> python,
	 * libpython3.13t -> libpython; x86-64 has no dot and stays */
	n = so ? (size_t)(so - out) : strlen(out);
	for (i = n; i > 0 && out[i - 1] >= 'a' && out[i - 1] <= 'z' && letters < 2; i--)
		letters++;
	if (!(i > 0 && out[i - 1] >= '0' && out[i - 1] <= '9'))
		return;
	for (; i > 0 && ((out[i - 1] >= '0' && out[i - 1] <= '9') || out[i - 1] == '.'); i--)
		dots += out[i - 1] == '.';
	if (dots && i > 0 && out[i] != '.')
		memmove(out + i, out + n, strlen(out + n) + 1);
}

const char *ap_diff_file_key(const char *kind, const char *file)
{
	char *text = xmalloc(strlen(file ? file : "") + 16);
	uint64_t *id;
	bool is_new;

	key_of(kind ? kind : "", file ? file : "", text);
	pthread_mutex_lock(&keys_lock);
	id = hmap_upsert(&keys, text, strlen(text), nr_keys, &is_new);
	if (is_new) {
		GROW(key_texts, cap_keys, nr_keys + 1);
		key_texts[nr_keys++] = text;
		text = NULL;
	}
	text = text ? (free(text), key_texts[*id]) : key_texts[*id];
	pthread_mutex_unlock(&keys_lock);
	return text;
}
