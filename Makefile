# wsring build. `make` builds the programs into build/ (wsring-echo, wsring-load, wsring-bench) on
# every core; `make test` installs what is missing (as root), builds the programs and the tests
# and runs every test; `make run` starts wsring-echo. `make WERROR=1 ...` turns warnings into
# errors (CI). Objects go out of tree under build/, headers are tracked with -MMD -MP.

CXX      ?= g++
CXXFLAGS ?= -O2 -g
override CXXFLAGS += -std=c++20 -Wall -Wextra -I. -MMD -MP
ifeq ($(WERROR),1)
override CXXFLAGS += -Werror
endif
LDFLAGS  ?=
PKGS     := liburing openssl zlib
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -luring -lssl -lcrypto -lz)
override CXXFLAGS += $(PKG_CFLAGS)
LDLIBS   += $(PKG_LIBS) -lpthread
LDLIBS   += -lz

PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build
OBJ      = $(BUILD)/obj
MAKEFLAGS += --no-print-directory

ifeq ($(origin JOBS),undefined)
JOBS := $(shell nproc 2>/dev/null || echo 2)
endif
# Sub-makes run on every core, unless the user asked for a -j of their own (then the jobserver
# they started is shared, not overridden). Expanded in recipes, where MAKEFLAGS holds -j.
PARALLEL = $(if $(filter -j%,$(MAKEFLAGS)),,-j$(JOBS))

# Debian packages the build and the tests need (see README).
DEB_PACKAGES := g++ make pkg-config liburing-dev libssl-dev libgtest-dev libbenchmark-dev \
                python3 python3-websockets nodejs node-ws clang libclang-rt-14-dev procps openssl curl
# wsring-load's HdrHistogram logs (zlib: the compressed V2 format is DEFLATE) and the tests that
# check them with HdrHistogram's own Java tools and render its HTML report in headless Chromium.
DEB_PACKAGES += zlib1g-dev default-jre-headless libhdrhistogram-java chromium
# permessage-deflate tests run a gorilla/websocket client (built at test time).
DEB_PACKAGES += golang-go golang-github-gorilla-websocket-dev
# The scale-out test puts HAProxy in front of three backends (tests/integration/test_haproxy.py).
# Its nginx case is optional, skipped without nginx: the package would start a server on port 80.
DEB_PACKAGES += haproxy

CORE_SRC   := $(wildcard core/*.cpp)
NET_SRC    := $(wildcard net/*.cpp)
SERVER_SRC := $(filter-out server/main.cpp,$(wildcard server/*.cpp))
LOAD_SRC   := $(wildcard bench/load/*.cpp)
LOAD_LIB_SRC := $(filter-out bench/load/main.cpp,$(LOAD_SRC))
MICRO_SRC  := $(wildcard bench/micro/*.cpp)
UNIT_SRC   := $(wildcard tests/unit/*.cpp)

obj = $(patsubst %.cpp,$(OBJ)/%.o,$(1))

LIB_OBJS := $(call obj,$(CORE_SRC) $(NET_SRC) $(SERVER_SRC))

PROGRAMS := $(BUILD)/wsring-echo $(BUILD)/wsring-load $(BUILD)/wsring-bench
TEST_PROGRAMS := $(BUILD)/wsring-tests $(BUILD)/deny-io-uring $(BUILD)/fail-allocations.so

.PHONY: programs all test run bench asan fuzz install clean deps soak compare
# The default goal: the programs, built in parallel on every core (JOBS=N to change).
.DEFAULT_GOAL := programs
programs:
	@$(MAKE) $(PARALLEL) $(PROGRAMS)

# The programs and the test binaries.
all:
	@$(MAKE) $(PARALLEL) $(PROGRAMS) $(TEST_PROGRAMS)

# The unit tests' own sources compile unoptimised (the library and programs they link keep their
# flags): at -O2 (-O1 sanitized) their GoogleTest bodies took four fifths of a clean build.
# Not the two whose run time is their own code (every failure point through a fake reactor):
# unoptimised, they took a minute of the sanitized unit suite instead of 15 s.
UNIT_TEST_CXXFLAGS ?= -O0
UNIT_TESTS_OPTIMISED := tests/unit/fault_injection_test.cpp tests/unit/engine_test.cpp
$(call obj,$(filter-out $(UNIT_TESTS_OPTIMISED),$(UNIT_SRC))): override CXXFLAGS += $(UNIT_TEST_CXXFLAGS)

# Objects depend on the flags they were compiled with: changing CXX or CXXFLAGS (WERROR=1, a
# sanitizer) recompiles. The file is rewritten only when the flags differ. $(2) names the
# variable holding the flags (a value could hold commas, which $(call) would split).
define track_flags
ifneq ($$(file <$(1)),$$($(2)))
$$(shell mkdir -p $$(dir $(1)))
$$(file >$(1),$$($(2)))
endif
endef
COMPILE_LINE := $(strip $(CXX) $(CXXFLAGS) unit tests: $(UNIT_TEST_CXXFLAGS) but $(UNIT_TESTS_OPTIMISED))
$(eval $(call track_flags,$(OBJ)/flags,COMPILE_LINE))

$(OBJ)/%.o: %.cpp $(OBJ)/flags
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c $< -o $@

$(BUILD)/libwsring.a: $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/wsring-echo: $(call obj,server/main.cpp) $(BUILD)/libwsring.a
	$(CXX) $(CXXFLAGS) $^ -o $@ $(LDFLAGS) $(LDLIBS)

$(BUILD)/wsring-load: $(call obj,$(LOAD_SRC)) $(BUILD)/libwsring.a
	$(CXX) $(CXXFLAGS) $^ -o $@ $(LDFLAGS) $(LDLIBS)

$(BUILD)/wsring-bench: $(call obj,$(MICRO_SRC)) $(BUILD)/libwsring.a
	$(CXX) $(CXXFLAGS) $^ -o $@ $(LDFLAGS) -lbenchmark $(LDLIBS)

$(BUILD)/wsring-tests: $(call obj,$(UNIT_SRC) $(LOAD_LIB_SRC)) $(BUILD)/libwsring.a
	$(CXX) $(CXXFLAGS) $^ -o $@ $(LDFLAGS) -lgtest -lgtest_main $(LDLIBS)

# Test tool: runs a command with io_uring_setup blocked (tests the epoll fallback).
$(BUILD)/deny-io-uring: $(call obj,tests/tools/deny_io_uring.cpp)
	$(CXX) $(CXXFLAGS) $^ -o $@ $(LDFLAGS)

# Test tool: an LD_PRELOAD library that makes operator new fail now and then (a sanitizer's
# own allocator would not let it in, so it is built without one).
$(BUILD)/fail-allocations.so: tests/tools/fail_allocations.cpp $(OBJ)/flags
	$(CXX) $(filter-out -fsanitize%,$(CXXFLAGS)) -fPIC -shared $< -o $@

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# --- set-up: install missing Debian packages (as root), or say exactly what to run.
deps:
	@missing=""; for p in $(DEB_PACKAGES) $(EXTRA_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) >&2 || exit 1; \
	  else \
	    echo "missing Debian packages; run as root:"; \
	    echo "  apt-get update && apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi

run: deps
	@$(MAKE) $(PARALLEL) $(BUILD)/wsring-echo
	exec $(BUILD)/wsring-echo $(ARGS)

test: deps
	@$(MAKE) all
	@tests/run_all.sh $(BUILD)

# Micro-benchmarks on CPU 0. FILTER picks benchmarks by regular expression, e.g.
# `make bench FILTER='Unmask|Utf8'`; BENCH_ARGS passes other flags to Google Benchmark, e.g.
# BENCH_ARGS=--benchmark_repetitions=3.
bench: deps
	@$(MAKE) $(PARALLEL) $(BUILD)/wsring-bench
	taskset -c 0 $(BUILD)/wsring-bench $(if $(FILTER),'--benchmark_filter=$(FILTER)') $(BENCH_ARGS)

# wsring-echo (both backends) against gorilla/websocket and node's ws under the same wsring-load
# scenarios; DURATION, RUNS, EXTRA_URL from the environment (see bench/compare.sh).
compare: EXTRA_PACKAGES = golang-go golang-github-gorilla-websocket-dev
compare: deps
	@$(MAKE) $(PARALLEL) $(BUILD)/wsring-echo $(BUILD)/wsring-load
	bench/compare.sh $(BUILD)

# Soak: 10,000 concurrent connections, then 10 minutes of churn + slowloris against
# wsring-echo (tests/soak/soak.py; SOAK_ARGS="--backend epoll" or "--duration 120" to vary).
soak: deps
	@$(MAKE) all
	/usr/bin/python3 tests/soak/soak.py --build $(BUILD) --long $(SOAK_ARGS)

# The whole test suite under AddressSanitizer + UndefinedBehaviorSanitizer. Built with clang and
# the fuzzers' coverage instrumentation (harmless without libFuzzer: the sanitizer runtime has the
# hooks), so `make fuzz` links its targets against these same objects instead of compiling the
# library a second time (CI runs both). No micro-benchmarks here: they measure nothing under ASan.
ASAN_DIR := build/asan
ASAN_CXXFLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
ASAN_MAKE = $(MAKE) BUILD=$(ASAN_DIR) CXX=clang++ CXXFLAGS="$(ASAN_CXXFLAGS)" LDFLAGS="-fsanitize=address,undefined"
asan: deps
	@$(ASAN_MAKE) $(PARALLEL) $(ASAN_DIR)/wsring-echo $(ASAN_DIR)/wsring-load $(TEST_PROGRAMS:$(BUILD)/%=$(ASAN_DIR)/%)
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  WSRING_SANITIZED=1 tests/run_all.sh $(ASAN_DIR)

# libFuzzer targets (clang): one binary per tests/fuzz/*_fuzz.cpp, linked against the sanitizer
# build's library archives (see asan above), so the library is compiled once for both.
FUZZ_DIR := build/fuzz
FUZZ_SRC := $(wildcard tests/fuzz/*_fuzz.cpp)
FUZZ_BIN := $(patsubst tests/fuzz/%.cpp,$(FUZZ_DIR)/%,$(FUZZ_SRC))
fuzz: deps
	@$(ASAN_MAKE) $(PARALLEL) $(FUZZ_BIN)
# Reached only through the sub-make above (BUILD=$(ASAN_DIR), CXX=clang++).
$(FUZZ_DIR)/%_fuzz: $(OBJ)/tests/fuzz/%_fuzz.o $(BUILD)/libwsring-load.a $(BUILD)/libwsring.a
	@mkdir -p $(dir $@)
	$(CXX) -fsanitize=fuzzer,address,undefined $^ -o $@ $(LDLIBS)
.SECONDARY: $(call obj,$(FUZZ_SRC))
$(BUILD)/libwsring-load.a: $(call obj,$(LOAD_LIB_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^

install: $(BUILD)/wsring-echo $(BUILD)/wsring-load
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(BUILD)/wsring-echo $(BUILD)/wsring-load $(DESTDIR)$(PREFIX)/bin/

clean:
	rm -rf build
