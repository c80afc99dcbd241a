// SPDX-License-Identifier: MIT
// A C++ workload: frames must come out demangled (ns::Widget::spin(int)).
// Usage: cxxwork SECONDS
#include <chrono>
#include <cstdlib>

namespace shop {
struct Widget {
	unsigned long spin(int rounds);
};

__attribute__((noinline)) unsigned long Widget::spin(int rounds)
{
	volatile unsigned long x = 1;
	for (int i = 0; i < rounds; i++)
		x = x * 2862933555777941757ul + 3037000493ul;
	return x;
}
} // namespace shop

int main(int argc, char **argv)
{
	double secs = argc > 1 ? std::atof(argv[1]) : 1.0;
	auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(secs);
	shop::Widget w;
	unsigned long acc = 0;

	while (std::chrono::steady_clock::now() < end)
		acc += w.spin(100000);
	return acc == 42;
}
