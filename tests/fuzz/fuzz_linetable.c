// SPDX-License-Identifier: MIT
/* libFuzzer target: the CPython line-table decoders on arbitrary tables
 * (they parse bytes copied from the target's memory). */
#include <stdint.h>
#include <string.h>
#include "python/linetable.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	int16_t instr;

	if (size < 4)
		return 0;
	memcpy(&instr, data + 1, 2);
	py_line_for(8 + data[0] % 7, data + 4, size - 4, data[3], instr);
	return 0;
}
