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
                python3 python3-websockets nodejs node-ws clang libclang-rt-14-dev procps openssl curl \
                zlib1g-dev golang-go golang-github-gorilla-websocket-dev

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
TEST_PROGRAMS := $(BUILD)/wsring-tests $(BUILD)/deny-io-uring

.PHONY: programs all test run bench asan fuzz install clean deps soak compare
# The default goal: the programs, built in parallel on every core (JOBS=N to change).
.DEFAULT_GOAL := programs
programs:
	@$(MAKE) $(PARALLEL) $(PROGRAMS)

# The programs and the test binaries.
all:
	@$(MAKE) $(PARALLEL) $(PROGRAMS) $(TEST_PROGRAMS)

# Objects depend on the flags they were compiled with: changing CXX or CXXFLAGS (WERROR=1, a
# sanitizer) recompiles. The file is rewritten only when the flags differ. $(2) names the
# variable holding the flags (a value could hold commas, which $(call) would split).
define track_flags
ifneq ($$(file <$(1)),$$($(2)))
$$(shell mkdir -p $$(dir $(1)))
$$(file >$(1),$$($(2)))
endif
endef
COMPILE_LINE := $(strip $(CXX) $(CXXFLAGS))
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

# The whole test suite under AddressSanitizer + UndefinedBehaviorSanitizer.
asan: deps
	@$(MAKE) BUILD=build/asan \
	  CXXFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	  LDFLAGS="-fsanitize=address,undefined" all
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  WSRING_SANITIZED=1 tests/run_all.sh build/asan

# libFuzzer targets (clang): one binary per tests/fuzz/*_fuzz.cpp. The library (core, net, server
# and bench/load without the mains) is compiled once with the fuzz flags into an archive; each
# target links only what it uses from it.
FUZZ_DIR := build/fuzz
FUZZ_SRC := $(wildcard tests/fuzz/*_fuzz.cpp)
FUZZ_BIN := $(patsubst tests/fuzz/%.cpp,$(FUZZ_DIR)/%,$(FUZZ_SRC))
FUZZ_LIB_SRC := $(CORE_SRC) $(NET_SRC) $(SERVER_SRC) $(LOAD_LIB_SRC)
FUZZ_CXXFLAGS := -std=c++20 -O1 -g -Wall -Wextra -I. -MMD -MP -fsanitize=fuzzer-no-link,address,undefined \
                 $(PKG_CFLAGS) $(if $(filter 1,$(WERROR)),-Werror)
fuzz: deps
	@$(MAKE) $(PARALLEL) $(FUZZ_BIN)
FUZZ_COMPILE_LINE := $(strip $(FUZZ_CXXFLAGS))
ifneq ($(filter fuzz $(FUZZ_DIR)/%,$(MAKECMDGOALS)),)
$(eval $(call track_flags,$(FUZZ_DIR)/obj/flags,FUZZ_COMPILE_LINE))
endif
$(FUZZ_DIR)/obj/%.o: %.cpp $(FUZZ_DIR)/obj/flags
	@mkdir -p $(dir $@)
	clang++ $(FUZZ_CXXFLAGS) -c $< -o $@
$(FUZZ_DIR)/libwsring-fuzz.a: $(patsubst %.cpp,$(FUZZ_DIR)/obj/%.o,$(FUZZ_LIB_SRC))
	rm -f $@ && $(AR) rcs $@ $^
.SECONDARY: $(patsubst %.cpp,$(FUZZ_DIR)/obj/%.o,$(FUZZ_SRC))
$(FUZZ_DIR)/%_fuzz: $(FUZZ_DIR)/obj/tests/fuzz/%_fuzz.o $(FUZZ_DIR)/libwsring-fuzz.a
	clang++ -fsanitize=fuzzer,address,undefined $^ -o $@ $(PKG_LIBS) -lpthread

ifneq ($(BUILD),build)
-include $(shell find $(FUZZ_DIR) -name '*.d' 2>/dev/null)
endif

install: $(BUILD)/wsring-echo $(BUILD)/wsring-load
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(BUILD)/wsring-echo $(BUILD)/wsring-load $(DESTDIR)$(PREFIX)/bin/

clean:
	rm -rf build
