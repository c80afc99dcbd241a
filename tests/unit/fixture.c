// SPDX-License-Identifier: MIT
/* Symbolizer fixture: built with and without frame pointers, stripped, and
 * stripped with a separate build-id debug file (see tests/tests.mk). */
volatile int fixture_sink;

__attribute__((noinline)) static int fixture_static(int x)
{
	for (int i = 0; i < x; i++)
		fixture_sink += i;
	return fixture_sink;
}

__attribute__((noinline)) int fixture_exported(int x)
{
	return fixture_static(x) * 3;
}

int main(int argc, char **argv)
{
	return fixture_exported(argc) & 1;
}
