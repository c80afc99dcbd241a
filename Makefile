# SPDX-License-Identifier: MIT
# autoprof-bpf: one entry point. make, make test, make demo, make bench, make install.

# demo, test, test-ft, bench, bench-peers and soak load BPF programs. From a
# user other than root they re-run themselves through sudo before anything is
# built, or stop with one line saying root is needed when there is no sudo.
ifneq ($(filter demo test test-ft bench bench-peers soak,$(MAKECMDGOALS)),)
ifneq ($(shell id -u),0)
AS_ROOT := 1
endif
endif
ifdef AS_ROOT
ifeq ($(shell command -v sudo),)
$(error make $(MAKECMDGOALS) needs root (it loads BPF programs) and there is no sudo here: run it as root)
endif
.PHONY: $(MAKECMDGOALS)
$(firstword $(MAKECMDGOALS)):
	@echo "make $(MAKECMDGOALS): needs root (it loads BPF programs): running it through sudo" >&2
	@exec sudo -- $(MAKE) --no-print-directory -C $(CURDIR) $(MAKECMDGOALS) $(MAKEOVERRIDES)
ifneq ($(words $(MAKECMDGOALS)),1)
$(wordlist 2,$(words $(MAKECMDGOALS)),$(MAKECMDGOALS)):
	@:
endif
else # the rest of the file, as root or for goals that need no root

ARCH ?= x86
OUT := build
CLANG ?= clang
BPFTOOL ?= bpftool
CC ?= cc
PREFIX ?= /usr/local
VERSION := 0.1.0

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

PKGS := libbpf libelf libdw libcjson zlib libcurl libprotobuf-c
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror -Ivmlinux/$(ARCH) -Ibpf
CFLAGS ?= -O2 -g
override CFLAGS += -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter -Werror=int-conversion \
	-Werror=implicit-function-declaration -Werror=incompatible-pointer-types -I$(OUT) -Ibpf -Isrc \
	-DAP_VERSION='"$(VERSION)"' $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lbpf -lelf -ldw -lcjson -lz -lcurl -lprotobuf-c) -lstdc++ -lm

# OTLP profiles messages (proto/otlp, ours): protoc-c generates the C into
# build/proto (not committed); the objects go into libautoprof.a
PROTOS := $(sort $(shell find proto/otlp -name '*.proto'))
PROTO_SRCS := $(patsubst proto/otlp/%.proto,$(OUT)/proto/%.pb-c.c,$(PROTOS))
override CFLAGS += -I$(OUT)/proto

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(OUT)/bpf/%.bpf.o,$(BPF_SRCS))
LIB_SRCS := $(filter-out src/main.c,$(wildcard src/*.c src/*/*.c))
LIB_OBJS := $(patsubst src/%.c,$(OUT)/obj/%.o,$(LIB_SRCS)) $(OUT)/obj/patterns_builtin.o \
	$(patsubst $(OUT)/proto/%.c,$(OUT)/obj/proto/%.o,$(PROTO_SRCS))
HDRS := $(wildcard src/*.h src/*/*.h src/*/*.def) bpf/shared.h
PATTERNS := $(sort $(wildcard patterns/*.json))

.PHONY: all clean test test-ft unit integration demo bench bench-peers soak install deps deps-test docs
.PHONY: uninstall deb deb-check
.DELETE_ON_ERROR:

all: $(OUT)/autoprof-bpf $(OUT)/autoprof-bpf.8 $(OUT)/autoprof-bpf.bash

deps:
	$(Q)tools/install-deps.sh

deps-test:
	$(Q)tools/install-deps.sh --test

$(OUT) $(OUT)/bpf $(OUT)/obj:
	$(Q)mkdir -p $@

$(OUT)/bpf/%.bpf.o: bpf/%.bpf.c bpf/shared.h $(wildcard bpf/*.bpf.h) | $(OUT)/bpf
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

# maps.bpf.h maps are __weak; bpftool 7.1 links extern maps only when the
# defining object comes first, so the order here is the wildcard's (cpu first)
$(OUT)/autoprof.bpf.o: $(BPF_OBJS)
	$(call msg,GEN-OBJ,$@)
	$(Q)$(BPFTOOL) gen object $@ $^
	$(Q)llvm-objdump -h $@ | while read -r idx name size rest; do \
		case "$$name" in perf_event*|tp_btf*|tracepoint*|uprobe*|raw_tp*|iter*) \
		printf '  %-8s %s: %d insns\n' INSNS "$$name" $$((0x$$size / 8));; esac; done

$(OUT)/autoprof.skel.h: $(OUT)/autoprof.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name autoprof_bpf > $@

# syscall names of this architecture, from the kernel's UAPI header
# (linux-libc-dev): [nr] = "name",
SYSCALL_H := $(firstword $(wildcard /usr/include/$(shell $(CC) -dumpmachine)/asm/unistd_64.h \
	/usr/include/asm/unistd_64.h))
$(OUT)/syscall_names.h: $(SYSCALL_H) | $(OUT)
	$(call msg,GEN,$@)
	$(Q)awk '$$1 == "#define" && $$2 ~ /^__NR_/ && $$3 ~ /^[0-9]+$$/ \
		{ printf "[%d] = \"%s\",\n", $$3, substr($$2, 6) }' $< > $@.tmp && mv $@.tmp $@

$(OUT)/obj/%.o: src/%.c $(HDRS) $(OUT)/autoprof.skel.h $(OUT)/syscall_names.h
	$(call msg,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(OUT)/proto/.stamp: $(PROTOS)
	$(call msg,PROTOC,$(OUT)/proto)
	$(Q)rm -rf $(OUT)/proto && mkdir -p $(OUT)/proto
	$(Q)protoc-c -Iproto/otlp --c_out=$(OUT)/proto $(PROTOS) && touch $@
$(PROTO_SRCS): $(OUT)/proto/.stamp
$(OUT)/obj/proto/%.o: $(OUT)/proto/%.c $(OUT)/proto/.stamp
	$(call msg,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@
$(OUT)/obj/sink/otlp.o: $(OUT)/proto/.stamp

# the built-in patterns, compiled in so the binary stands alone
$(OUT)/patterns_builtin.c: $(PATTERNS) tools/embed-patterns.sh | $(OUT)
	$(call msg,GEN,$@)
	$(Q)tools/embed-patterns.sh $@ $(PATTERNS)

$(OUT)/obj/patterns_builtin.o: $(OUT)/patterns_builtin.c | $(OUT)/obj
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

# made afresh: `ar r` keeps the members of source files that were removed or
# renamed, whose stale symbols the linker may then pick
$(OUT)/libautoprof.a: $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(OUT)/autoprof-bpf: $(OUT)/obj/main.o $(OUT)/libautoprof.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $^ $(LDLIBS) -o $@

# the report.html template is compiled in (.incbin)
$(OUT)/obj/report/html.o: src/report/report.html

include tests/tests.mk

demo: deps all
	$(Q)tools/demo.sh

# issue 18's memory rows (tools/bench-memory.sh: page-fault sampling's cost;
# tools/bench-memray.py: memray beside us, and the truth) need the peers venv
bench: deps all $(TEST_WORKLOADS)
	$(Q)tools/peers-venv.sh >/dev/null
	$(Q)tools/bench.sh
	$(Q)tools/bench-memory.sh
	$(Q)tools/bench-memray.py
	$(Q)tools/bench-peers.py

# issue 19: autoprof-bpf beside py-spy, Austin, pyinstrument, Scalene and perf
# on pyperformance benchmarks and stdlib programs, same CPython (the peers
# venv): overhead, own cost, accuracy, what broke (tools/bench-peers.py; RUNS,
# WORKLOADS, QUICK=1). About 20 minutes; build/bench-peers/results.md
bench-peers: deps all
	$(Q)tools/peers-venv.sh >/dev/null
	$(Q)tools/bench-peers.py

# the agent's RSS over SOAK_MIN minutes (default 30) beside 20 processes a
# second starting and exiting (tools/soak.sh says what else can be set);
# then the issue-17 truth at 20 pairs: `diff` of 20 disjoint pairs of a
# --repeat 40 set exits 0 in at least 19 (~20 s; make test runs 5 pairs)
soak: deps all $(TOUT)/churn
	$(Q)SOAK_MIN=$(or $(SOAK_MIN),30) tools/soak.sh
	$(Q)T_OUT=$(OUT)/soak/repeat TIMES=$(OUT)/soak/repeat/times.log tests/integration/run.sh repeat_truth20

# docs/METRICS.md from src/analyze/metrics.def and the pattern catalogue of
# docs/PATTERNS.md from patterns/*.json (a test compares both)
docs: all
	$(Q)$(OUT)/autoprof-bpf analyze --list-metrics > docs/METRICS.md
	$(Q)tools/pattern-docs.py > docs/PATTERNS.md.tmp && mv docs/PATTERNS.md.tmp docs/PATTERNS.md

# the man page and the bash completion, made from the binary's own --help
# texts of every command in src/main.c's table, so neither drifts from it
CMDS := $(shell sed -n 's/^[[:space:]]*{ *"\([a-z]*\)", *cmd_[a-z_]*.*/\1/p' src/main.c)
$(OUT)/autoprof-bpf.8: $(OUT)/autoprof-bpf tools/gen-man.sh
	$(call msg,GEN,$@)
	$(Q)tools/gen-man.sh $< $(VERSION) $(CMDS) > $@
$(OUT)/autoprof-bpf.bash: $(OUT)/autoprof-bpf tools/gen-completion.sh
	$(call msg,GEN,$@)
	$(Q)tools/gen-completion.sh $< $(CMDS) > $@

# make install [PREFIX=/usr/local] [DESTDIR=]: the binary, autoprof-bpf(8),
# the bash completion, the systemd unit (its ExecStart in BINDIR) and
# /etc/default/autoprof-bpf, which an install on this host (no DESTDIR) keeps
# when it exists. `make uninstall` removes them; the settings only when
# unchanged, and never the store.
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
COMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions
UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR ?= /etc
install: all
	install -D -m 0755 $(OUT)/autoprof-bpf $(DESTDIR)$(BINDIR)/autoprof-bpf
	install -d $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR)
	gzip -9n -c $(OUT)/autoprof-bpf.8 > $(DESTDIR)$(MANDIR)/man8/autoprof-bpf.8.gz
	install -D -m 0644 $(OUT)/autoprof-bpf.bash $(DESTDIR)$(COMPLETIONDIR)/autoprof-bpf
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' dist/autoprof-bpf.service.in \
		> $(DESTDIR)$(UNITDIR)/autoprof-bpf.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/autoprof-bpf.service
	@if [ -z "$(DESTDIR)" ] && [ -e $(SYSCONFDIR)/default/autoprof-bpf ]; then \
		echo "install: kept $(SYSCONFDIR)/default/autoprof-bpf (the new default: dist/autoprof-bpf.default)"; \
	else \
		echo "install -D -m 0644 dist/autoprof-bpf.default $(DESTDIR)$(SYSCONFDIR)/default/autoprof-bpf"; \
		install -D -m 0644 dist/autoprof-bpf.default $(DESTDIR)$(SYSCONFDIR)/default/autoprof-bpf; \
	fi

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/autoprof-bpf $(DESTDIR)$(MANDIR)/man8/autoprof-bpf.8.gz \
		$(DESTDIR)$(COMPLETIONDIR)/autoprof-bpf $(DESTDIR)$(UNITDIR)/autoprof-bpf.service
	@if cmp -s dist/autoprof-bpf.default $(DESTDIR)$(SYSCONFDIR)/default/autoprof-bpf; then \
		rm -f $(DESTDIR)$(SYSCONFDIR)/default/autoprof-bpf; \
	elif [ -e $(DESTDIR)$(SYSCONFDIR)/default/autoprof-bpf ]; then \
		echo "uninstall: kept $(DESTDIR)$(SYSCONFDIR)/default/autoprof-bpf (changed)"; \
	fi

# a Debian package into build/deb/ (debian/; dpkg-buildpackage on a copy of
# the tree), and the same checked: lintian (errors fail) and its contents
deb:
	$(Q)tools/install-deps.sh --deb
	$(Q)tools/build-deb.sh

deb-check: deb
	$(Q)tools/build-deb.sh --check

clean:
	rm -rf $(OUT)

endif # AS_ROOT
