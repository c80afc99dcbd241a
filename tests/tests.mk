# SPDX-License-Identifier: MIT
# Test builds: the unit test binary (library sources rebuilt with ASan and
# UBSan), ELF fixtures for the symbolizer, and the integration workloads.
TOUT := $(OUT)/tests
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
SAN_OBJS := $(patsubst src/%.c,$(TOUT)/san/%.o,$(LIB_SRCS)) $(TOUT)/san/patterns_builtin.o \
	$(patsubst $(OUT)/proto/%.c,$(TOUT)/san/proto/%.o,$(PROTO_SRCS))
UNIT_SRCS := $(wildcard tests/unit/test_*.c) tests/unit/unit.c
FIXTURES := $(TOUT)/linetable_check $(TOUT)/fixture_fp $(TOUT)/fixture_nofp $(TOUT)/fixture_stripped \
	$(TOUT)/fixture_fp.nm $(TOUT)/debugroot/.stamp \
	$(TOUT)/fixture_plt_lazy.plt $(TOUT)/fixture_plt_now.plt $(TOUT)/fixture_plt_ibt.plt \
	$(TOUT)/pylike/glibc/libpython3.12.so.1.0 $(TOUT)/pylike/musl/libpython3.12.so.1.0 \
	$(TOUT)/pylike/glibc/libpython3.15.so.1.0 $(TOUT)/pylike/musl/libpython3.15.so.1.0
FUZZERS := $(TOUT)/fuzz_cpu_json $(TOUT)/fuzz_elf $(TOUT)/fuzz_linetable $(TOUT)/fuzz_pattern $(TOUT)/fuzz_labels
FUZZERS += $(TOUT)/fuzz_diff_inputs
TEST_WORKLOADS := $(TOUT)/cxxwork $(TOUT)/ctr/app/cwork $(TOUT)/cwork $(TOUT)/sysheavy $(TOUT)/threads $(TOUT)/manythreads $(TOUT)/churn $(OUT)/demo
TEST_WORKLOADS += $(TOUT)/memwork
TEST_WORKLOADS += $(TOUT)/storetool
TEST_WORKLOADS += $(TOUT)/otlptool
TEST_WORKLOADS += $(TOUT)/pythreadtool
TEST_WORKLOADS += $(TOUT)/mallocwork

$(TOUT)/san/%.o: src/%.c $(HDRS) $(OUT)/autoprof.skel.h
	$(call msg,CC-SAN,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) -c $< -o $@

$(TOUT)/san/report/html.o: src/report/report.html

$(TOUT)/san/proto/%.o: $(OUT)/proto/%.c $(OUT)/proto/.stamp
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) -c $< -o $@
$(TOUT)/san/sink/otlp.o: $(OUT)/proto/.stamp

$(TOUT)/san/patterns_builtin.o: $(OUT)/patterns_builtin.c
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) -c $< -o $@

$(TOUT)/unit: $(UNIT_SRCS) tests/unit/unit.h $(SAN_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) -Itests/unit $(UNIT_SRCS) $(SAN_OBJS) $(LDLIBS) -o $@

# BPF logic tests: the production walker on fake CPython structures
$(TOUT)/bpf/pywalk.bpf.o: tests/bpf/pywalk.bpf.c bpf/shared.h $(wildcard bpf/*.bpf.h)
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@
$(TOUT)/pywalk.skel.h: $(TOUT)/bpf/pywalk.bpf.o
	$(Q)$(BPFTOOL) gen skeleton $< name pywalk_bpf > $@
$(TOUT)/test_pywalk: tests/bpf/test_pywalk.c $(TOUT)/pywalk.skel.h src/python/offsets.c src/python/pyproc.c \
		src/python/linetable.c $(SAN_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) -I$(TOUT) $< $(SAN_OBJS) $(LDLIBS) -o $@

# the whole profiler under ASan/UBSan, for integration runs that check it
$(TOUT)/autoprof-bpf-asan: $(TOUT)/san/main.o $(SAN_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) $^ $(LDLIBS) -o $@

$(TOUT)/linetable_check: tests/unit/linetable_check.c src/python/linetable.c src/python/linetable.h
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) $< src/python/linetable.c -o $@

$(TOUT)/fixture_fp: tests/unit/fixture.c
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) -O2 -g -fno-omit-frame-pointer -rdynamic $< -o $@
$(TOUT)/fixture_nofp: tests/unit/fixture.c
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) -O2 -g -fomit-frame-pointer -rdynamic $< -o $@
$(TOUT)/fixture_fp.nm: $(TOUT)/fixture_fp
	$(Q)nm $< > $@
# PLT stubs: lazy .plt, BIND_NOW, IBT's .plt.sec; objdump's names of them
# (NAME@plt at each stub's address) are what the symbolizer must say
$(TOUT)/fixture_plt_lazy: tests/unit/fixture_plt.c
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) -O1 -fno-builtin -fcf-protection=none -Wl,-z,lazy $< -o $@
$(TOUT)/fixture_plt_now: tests/unit/fixture_plt.c
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) -O1 -fno-builtin -fcf-protection=none -Wl,-z,now $< -o $@
$(TOUT)/fixture_plt_ibt: tests/unit/fixture_plt.c
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) -O1 -fno-builtin -fcf-protection=full -Wl,-z,ibtplt $< -o $@
$(TOUT)/fixture_plt_%.plt: $(TOUT)/fixture_plt_%
	$(Q)objdump -d $< | sed -n 's/^\([0-9a-f]*\) <\(.*@plt\)>:$$/\1 \2/p' > $@
# a CPython lookalike (pyproc__detect's symbols) with glibc, and with musl:
# an empty library standing in for musl's libc, by its soname
$(TOUT)/pylike/libc.musl-x86_64.so.1:
	$(Q)mkdir -p $(dir $@)
	$(Q)echo 'int musl_stand_in;' | $(CC) -shared -fPIC -Wl,-soname,libc.musl-x86_64.so.1 -x c - -o $@
$(TOUT)/pylike/glibc/libpython3.12.so.1.0: tests/unit/fixture_pylike.c
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) -shared -fPIC $< -o $@
$(TOUT)/pylike/musl/libpython3.12.so.1.0: tests/unit/fixture_pylike.c $(TOUT)/pylike/libc.musl-x86_64.so.1
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) -shared -fPIC $< -Wl,--no-as-needed $(TOUT)/pylike/libc.musl-x86_64.so.1 -o $@
# 3.15: the thread state in a thread-local read through __tls_get_addr
$(TOUT)/pylike/glibc/libpython3.15.so.1.0: tests/unit/fixture_pylike315.c
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) -O2 -fno-omit-frame-pointer -shared -fPIC $< -o $@
$(TOUT)/pylike/musl/libpython3.15.so.1.0: tests/unit/fixture_pylike315.c $(TOUT)/pylike/libc.musl-x86_64.so.1
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) -O2 -fno-omit-frame-pointer -shared -fPIC $< -Wl,--no-as-needed $(TOUT)/pylike/libc.musl-x86_64.so.1 -o $@
# stripped: .dynsym only (fixture_exported via -rdynamic, fixture_static gone)
$(TOUT)/fixture_stripped: $(TOUT)/fixture_nofp
	$(Q)strip --strip-all -o $@ $<
# the same stripped binary's .symtab in a build-id debug tree
$(TOUT)/debugroot/.stamp: $(TOUT)/fixture_nofp
	$(Q)id=$$(readelf -n $< | awk '/Build ID/ {print $$3}'); \
		mkdir -p $(TOUT)/debugroot/.build-id/$${id%$${id#??}} && \
		objcopy --only-keep-debug $< $(TOUT)/debugroot/.build-id/$${id%$${id#??}}/$${id#??}.debug
	$(Q)touch $@

# the agent's store driven on real file systems (tests/integration/suite-labels.sh)
$(TOUT)/storetool: tests/integration/storetool.c $(OUT)/libautoprof.a
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $< $(OUT)/libautoprof.a $(LDLIBS) -o $@

# the OTLP encoder on a stored window (tests/integration/suite-otlp.sh)
$(TOUT)/otlptool: tests/integration/otlptool.c $(OUT)/libautoprof.a
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $< $(OUT)/libautoprof.a $(LDLIBS) -o $@

# Python thread names of a live process (tests/integration/suite-names.sh)
$(TOUT)/pythreadtool: tests/integration/pythreadtool.c $(OUT)/libautoprof.a
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $< $(OUT)/libautoprof.a $(LDLIBS) -o $@

$(TOUT)/cwork: tests/workloads/cwork.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) -O2 -g -fomit-frame-pointer $< -o $@
# static, so it runs alone in a chroot (the container-path test)
$(TOUT)/ctr/app/cwork: tests/workloads/cwork.c
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) -O2 -g -fomit-frame-pointer -static $< -o $@

$(TOUT)/sysheavy: tests/workloads/sysheavy.c
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) -O2 -g -fomit-frame-pointer $< -o $@
$(TOUT)/memwork: tests/workloads/memwork.c
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) -O2 -g -fomit-frame-pointer $< -o $@
$(TOUT)/cxxwork: tests/workloads/cxxwork.cc
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CXX) -O2 -g -fomit-frame-pointer $< -o $@
$(TOUT)/threads: tests/workloads/threads.c
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) -O2 -g -fomit-frame-pointer -pthread $< -o $@
$(TOUT)/manythreads: tests/workloads/manythreads.c
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) -O2 -g -fomit-frame-pointer -pthread $< -o $@
# process churn for make soak, make bench and the CI soak (20 a second)
$(TOUT)/churn: tests/workloads/churn.c
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) -O2 -g -fomit-frame-pointer $< -o $@
# known allocations and the cost per call of --malloc (suite-malloc.sh)
$(TOUT)/mallocwork: tests/workloads/mallocwork.c
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) -O2 -g -fomit-frame-pointer $< -o $@
$(OUT)/demo: examples/demo.c
	$(call msg,CC,$@)
	$(Q)$(CC) -O2 -g -fomit-frame-pointer -pthread $< -lz -o $@

unit: $(TOUT)/unit $(FIXTURES)
	$(Q)AP_FIXTURES=$(TOUT) $(TOUT)/unit

integration: all $(TEST_WORKLOADS)
	$(Q)tests/integration/run.sh

# everything the tests run, built on every CPU (one make -j: the build was
# about a third of make test's time on 2 CPUs), then the tests. The
# fuzzers, needed last, build beside the first stages (tests/run-all.sh:
# make fuzz-build in the idle scheduling class)
TEST_BUILD := all $(TOUT)/unit $(TOUT)/test_pywalk $(TOUT)/autoprof-bpf-asan $(FIXTURES) $(TEST_WORKLOADS)
.PHONY: fuzz-build
fuzz-build: $(FUZZERS)
test: deps-test
	@# Debian unstable's python3.14/3.15 (tools/debian-python.sh) download
	@# and unpack beside the build, niced; the tests wait for them (a lock)
	$(Q)mkdir -p $(TOUT) && (for v in 3.14 3.15; do nice -n 19 tools/debian-python.sh fetch-lib $$v || break; \
		done) >$(TOUT)/debian-python-early.log 2>&1 &
	$(Q)$(MAKE) --no-print-directory -j$(shell nproc) $(TEST_BUILD)
	$(Q)tests/run-all.sh

# make test-ft (not part of make test): the Python checks that hold on a
# free-threaded CPython (3.13t/3.14t), and tests/integration/suite-ft.sh's,
# on PYTHON_FT=/path/to/python3.14t, or else on the 3.14.7t that
# tools/cpython-ft.sh builds under build/cpython-ft (once per machine, ~6
# minutes on 2 CPUs; needs go and the Go module proxy). Neither: it fails
# saying why, it never skips
FT_CHECKS := py_split py_deep py_threads py_cext py_short py_linetable py_attach py_calls off_lock \
	off_sleep ft_parallel ft_gil_on ft_gil_off
test-ft: all $(TEST_WORKLOADS)
	$(Q)py="$${PYTHON_FT:-}"; \
	if [ -z "$$py" ]; then \
		py=$$(tools/cpython-ft.sh) || { echo "make test-ft: no free-threaded CPython: PYTHON_FT is not set and tools/cpython-ft.sh could not build one (its reason above)" >&2; exit 1; }; \
	fi; \
	if ! [ -x "$$py" ] || ! "$$py" -c 'import sys; sys.exit(sys._is_gil_enabled())' 2>/dev/null; then \
		echo "make test-ft: $$py is not a free-threaded CPython 3.13+ (sys._is_gil_enabled() is not False)" >&2; exit 1; \
	fi; \
	echo "make test-ft: $$py ($$("$$py" -c 'import sys; print(sys.version.split()[0])'))"; \
	PYTHONS="$$py" tests/integration/run.sh $(FT_CHECKS)

# libFuzzer targets (clang) over the parsers of untrusted input; `make fuzz`
# runs each for FUZZ_SECONDS, and `make test` runs a short smoke round
FUZZ_SECONDS ?= 60
# the library is compiled for the fuzzers once (fuzzer-no-link: coverage
# without libFuzzer's main) into an archive each fuzzer links: five
# fuzzers each compiling every source took ~4 minutes of make test
FUZZ_CFLAGS = -g -O1 $(filter-out -O2,$(CFLAGS))
FUZZ_OBJS := $(patsubst src/%.c,$(TOUT)/fuzzobj/%.o,$(LIB_SRCS)) $(TOUT)/fuzzobj/patterns_builtin.o \
	$(patsubst $(OUT)/proto/%.c,$(TOUT)/fuzzobj/proto/%.o,$(PROTO_SRCS))
$(TOUT)/fuzzobj/%.o: src/%.c $(HDRS) $(OUT)/autoprof.skel.h $(OUT)/syscall_names.h $(OUT)/proto/.stamp
	$(call msg,CC-FUZZ,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined -c $< -o $@
$(TOUT)/fuzzobj/report/html.o: src/report/report.html
$(TOUT)/fuzzobj/proto/%.o: $(OUT)/proto/%.c $(OUT)/proto/.stamp
	$(Q)mkdir -p $(dir $@)
	$(Q)clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined -c $< -o $@
$(TOUT)/fuzzobj/patterns_builtin.o: $(OUT)/patterns_builtin.c
	$(Q)mkdir -p $(dir $@)
	$(Q)clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined -c $< -o $@
$(TOUT)/libfuzz.a: $(FUZZ_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^
$(TOUT)/fuzz_%: tests/fuzz/fuzz_%.c $(TOUT)/libfuzz.a
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)clang $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined $< $(TOUT)/libfuzz.a $(LDLIBS) -o $@

fuzz: $(FUZZERS) $(TOUT)/fixture_nofp
	$(Q)tests/fuzz/run.sh $(FUZZ_SECONDS)
