# karpenter-c build. `make` builds build/karpenter; `make test` runs unit,
# scenario and malformed-input tests, then the unit tests again under
# ASan+UBSan; `make demo` runs the main job; `make bench` prints figures.
# Every target that needs Debian packages first runs scripts/install-deps.

CC      ?= cc
O       ?= build
PKGS    := yaml-0.1 jansson libmicrohttpd openssl sqlite3 libcurl libxml-2.0 clp
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-unused-parameter
CSTD    := -std=c11 -D_GNU_SOURCE
OPT     ?= -O2 -g
SANFLAGS :=
ifeq ($(SAN),1)
O       := build/san
OPT     := -O1 -g -fno-omit-frame-pointer
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all
endif
# TSAN=1: ThreadSanitizer build in build/tsan (the unit tests run under it in `make test`)
ifeq ($(TSAN),1)
O       := build/tsan
OPT     := -O1 -g -fno-omit-frame-pointer
SANFLAGS := -fsanitize=thread
endif

# V=1 shows the full commands
ifeq ($(V),1)
Q :=
else
Q := @
endif

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS  += $(CSTD) $(OPT) $(WARN) $(SANFLAGS) -Iinclude -Isrc $(PKG_CFLAGS) -MMD -MP
LDFLAGS += $(SANFLAGS)
LDLIBS  += $(PKG_LIBS) -lm -lpthread

LIB_SRC  := $(sort $(filter-out src/cli/%,$(wildcard src/*/*.c src/*/*/*.c)))
CLI_SRC  := $(sort $(wildcard src/cli/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
TOOL_SRC := $(sort $(wildcard tests/tools/*.c))
BENCH_SRC:= $(sort $(wildcard bench/*.c))

LIB_OBJ  := $(LIB_SRC:%.c=$(O)/obj/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(O)/obj/%.o)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(O)/tests/%)
TOOL_BIN := $(TOOL_SRC:tests/tools/%.c=$(O)/tools/%)
BENCH_BIN:= $(BENCH_SRC:bench/%.c=$(O)/bench/%)

# (fuzz targets: see the fuzzing section)
.PHONY: fuzz fuzz-build fuzz-check
.PHONY: all deps test unit unit-san unit-tsan scenarios malformed e2e aws demo bench clean check-banned valgrind image install-test

all: deps $(O)/karpenter

deps:
	@./scripts/install-deps

$(O)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(O)/libkarpenter.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(O)/karpenter: $(CLI_OBJ) $(O)/libkarpenter.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(O)/libkarpenter.a $(LDLIBS)

$(O)/tests/%: tests/unit/%.c $(O)/libkarpenter.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(shell pkg-config --cflags cmocka) -o $@ $< $(O)/libkarpenter.a $(LDFLAGS) $(LDLIBS) $(shell pkg-config --libs cmocka)

$(O)/tools/%: tests/tools/%.c $(O)/libkarpenter.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $< $(O)/libkarpenter.a $(LDFLAGS) $(LDLIBS)

$(O)/bench/%: bench/%.c $(O)/libkarpenter.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $< $(O)/libkarpenter.a $(LDFLAGS) $(LDLIBS)

# ---- tests ----
# The test target's builds use every core (JOBS); the stages themselves run one at a time.
JOBS    ?= $(shell nproc 2>/dev/null || echo 2)
test: deps
	@./scripts/run-tests reset
	@$(MAKE) --no-print-directory -j$(JOBS) all $(UNIT_BIN) $(TOOL_BIN)
	@$(MAKE) --no-print-directory check-banned
	@./scripts/run-tests unit $(O)
	@./scripts/run-tests scenarios $(O)
	@./scripts/run-tests malformed $(O)
	@./scripts/run-tests nosignal $(O)
	@./scripts/run-tests promtool $(O)
	@./scripts/run-tests install $(O)
	@$(MAKE) --no-print-directory -j$(JOBS) SAN=1 unit-san
	@$(MAKE) --no-print-directory -j$(JOBS) TSAN=1 unit-tsan
	@./scripts/run-tests e2e build/san   # on the sanitizer build: its "no sanitizer reports" check can fail
	@./scripts/run-tests aws build/san   # on the sanitizer build, as e2e: its "no sanitizer reports" check can fail
	@$(MAKE) --no-print-directory -j$(JOBS) fuzz-check
	@./scripts/run-tests summary

unit: deps $(O)/karpenter $(UNIT_BIN)
	@./scripts/run-tests unit $(O)

unit-san: $(UNIT_BIN) $(O)/karpenter $(TOOL_BIN)
	@ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ./scripts/run-tests unit $(O) san
	@ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ./scripts/run-tests malformed $(O) san
	@ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ./scripts/run-tests nosignal $(O) san

# halt_on_error: a data race fails the binary (and so the stage)
unit-tsan: $(UNIT_BIN) $(O)/karpenter
	@TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$(CURDIR)/tests/tsan.supp" ./scripts/run-tests unit $(O) tsan

scenarios: all $(TOOL_BIN)
	@./scripts/run-tests scenarios $(O)

malformed: all $(TOOL_BIN)
	@./scripts/run-tests malformed $(O)

e2e: all
	@./scripts/run-tests e2e $(O)

aws: all $(TOOL_BIN)
	@./scripts/run-tests aws $(O)

# The OCI image (scripts/build-image): $(O)/karpenter-c.oci.tar
image: all
	@./scripts/install-deps image
	@./scripts/build-image $(O)

install-test: all
	@./scripts/run-tests install $(O)

valgrind: all $(UNIT_BIN)
	@./scripts/run-tests valgrind $(O)

check-banned:
	@./scripts/check-banned

demo: all
	@./scripts/demo

bench: deps
	@$(MAKE) --no-print-directory OPT="-O2 -g -DNDEBUG" all $(BENCH_BIN)
	@./scripts/run-bench $(O)

# ---- fuzzing (tests/fuzz; docs/fuzzing.md) ----
# libFuzzer harnesses built with clang against a fuzzer-instrumented copy of
# the library in build/fuzz. `make fuzz` runs each for FUZZ_SECONDS; the
# fuzz stage of `make test` replays every committed corpus entry, then
# fuzzes each harness for FUZZ_TEST_SECONDS.
FUZZ_CC      ?= clang
FUZZ_O       := build/fuzz
FUZZ_SECONDS ?= 60
FUZZ_TEST_SECONDS ?= 5
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS  := $(CSTD) -O1 -g $(WARN) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -Iinclude -Isrc $(PKG_CFLAGS) -MMD -MP
FUZZ_SRC     := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN     := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_O)/%)
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_O)/obj/%.o)

$(FUZZ_O)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZCC  $<")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_O)/libkarpenter.a: $(FUZZ_LIB_OBJ)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(FUZZ_O)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_O)/libkarpenter.a
	@$(if $(Q),echo "  FUZZLD  $@")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_O)/libkarpenter.a $(PKG_LIBS) -lm -lpthread

fuzz-build: deps $(FUZZ_BIN)

fuzz: fuzz-build
	@./scripts/run-fuzz run $(FUZZ_O) $(FUZZ_SECONDS)

fuzz-check: fuzz-build
	@./scripts/run-tests fuzz $(FUZZ_O) $(FUZZ_TEST_SECONDS)

clean:
	rm -rf build

-include $(shell find $(O)/obj -name '*.d' 2>/dev/null)
-include $(shell find $(FUZZ_O) -name '*.d' 2>/dev/null)
