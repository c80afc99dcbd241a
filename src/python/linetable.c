// SPDX-License-Identifier: MIT
/* CPython line-table decoders; formats in ref sheet §4 and CPython's
 * Objects/lnotab_notes.txt / InternalDocs/code_objects.md. */
#include "python/linetable.h"

/* <=3.9: (addr_incr u8, line_incr i8) pairs; addr is a byte offset */
static int lnotab_line(const uint8_t *t, size_t len, int line, int addr)
{
	int a = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2) {
		a += t[i];
		if (a > addr)
			break;
		line += (int8_t)t[i + 1];
	}
	return line;
}

/* 3.10: (sdelta u8, ldelta i8) pairs over byte offsets; -128 = no line */
static int linetable310_line(const uint8_t *t, size_t len, int line, int addr)
{
	int end = 0, start, cur;
	size_t i;

	for (i = 0; i + 1 < len; i += 2) {
		start = end;
		end += t[i];
		if ((int8_t)t[i + 1] != -128) {
			line += (int8_t)t[i + 1];
			cur = line;
		} else {
			cur = -1;
		}
		if (start <= addr && addr < end)
			return cur;
	}
	return -1;
}

static int varint(const uint8_t *t, size_t len, size_t *i)
{
	unsigned v = 0, shift = 0;
	uint8_t b;

	do {
		if (*i >= len)
			return 0;
		b = t[(*i)++];
		v |= (unsigned)(b & 63) << shift;
		shift += 6;
	} while ((b & 64) && shift < 30);
	return (int)v;
}

static int svarint(const uint8_t *t, size_t len, size_t *i)
{
	unsigned v = (unsigned)varint(t, len, i);

	return (v & 1) ? -(int)(v >> 1) : (int)(v >> 1);
}

/* 3.11+: location entries over code units */
static int location_line(const uint8_t *t, size_t len, int line, int unit)
{
	size_t i = 0;
	int start = 0;

	while (i < len) {
		uint8_t h = t[i++];
		int code = (h >> 3) & 15, n = (h & 7) + 1, delta = 0, cur;

		if (!(h & 0x80)) /* not an entry header: resync */
			continue;
		switch (code) {
		case 15: /* no location */
			break;
		case 14: /* long form */
			delta = svarint(t, len, &i);
			varint(t, len, &i);
			varint(t, len, &i);
			varint(t, len, &i);
			break;
		case 13: /* no columns */
			delta = svarint(t, len, &i);
			break;
		case 10: case 11: case 12: /* one-line form */
			delta = code - 10;
			i += 2;
			break;
		default: /* short form */
			i += 1;
			break;
		}
		if (code != 15)
			line += delta;
		cur = code == 15 ? -1 : line;
		if (start <= unit && unit < start + n)
			return cur;
		start += n;
	}
	return -1;
}

int py_line_for(int minor, const uint8_t *tab, size_t len, int firstlineno, int instr)
{
	if (instr < 0)
		return firstlineno;
	if (minor <= 9)
		return lnotab_line(tab, len, firstlineno, instr);
	if (minor == 10)
		return linetable310_line(tab, len, firstlineno, instr * 2);
	return location_line(tab, len, firstlineno, instr);
}
