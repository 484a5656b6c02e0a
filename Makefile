# SPDX-License-Identifier: Apache-2.0 OR MIT
#
# A thin wrapper over CMake.
#   make                      librill (shared and static), librill_core.a and the rill command
#   make test                 builds and runs every test (ctest)
#   make bench                the side-by-side benchmark, peers and plots included
#   make bench-windows        rill_bench under Wine beside Linux (bench/windows.sh)
#   make install PREFIX=X     installs into X (default /usr/local); make uninstall PREFIX=X
#   make test SANITIZE=address,undefined     (or SANITIZE=thread)
#   make test CC=clang
#   make BUILD=build-release CMAKE_ARGS=-DCMAKE_BUILD_TYPE=Release   (extra cmake options, at configure)
#   make fuzz FUZZ_TIME=60    each fuzz target for 60 s, built with clang (docs/testing.md)
#   make windows              cross-builds for Windows with mingw-w64 (build-windows)
#   make test-windows         builds the Windows tests and runs them under Wine
# Each compiler and sanitizer set gets its own build directory (BUILD).
SANITIZE ?=
CC ?= cc
comma := ,
BUILD ?= build$(if $(filter-out cc,$(notdir $(CC))),-$(notdir $(CC)))$(if $(SANITIZE),-$(subst $(comma),-,$(SANITIZE)))
# the C++ compiler that goes with CC: clang++ beside clang (make test
# CC=clang builds the C++ tests with clang++ too), else CMake's default
CXX_FOR_CC := $(if $(findstring clang,$(notdir $(CC))),$(dir $(CC))$(subst clang,clang++,$(notdir $(CC))))
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
PREFIX ?= /usr/local
# where make bench writes (git-ignored); bench/reference holds the results
# the README quotes, replaced only on purpose (make bench-save)
RESULTS ?= bench/results

.PHONY: all build configure test windows test-windows fuzz bench bench-build bench-workers gobench pybench rpcbench tangobench plots \
        bench-deps bench-save bench-windows install uninstall clean

all: build

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_C_COMPILER=$(CC) -DRILL_SANITIZE=$(SANITIZE) \
	  $(if $(CXX_FOR_CC),-DCMAKE_CXX_COMPILER=$(patsubst ./%,%,$(CXX_FOR_CC))) $(CMAKE_ARGS)

configure: $(BUILD)/CMakeCache.txt

build: configure
	cmake --build $(BUILD) -j $(JOBS)

# Every test component must be there (configure lists what is missing in
# rill-test-missing.txt); --no-tests=error: a run in which no test ran fails.
test: configure
	@cmake -S . -B $(BUILD) >/dev/null
	@if [ -s $(BUILD)/rill-test-missing.txt ]; then cat $(BUILD)/rill-test-missing.txt; exit 1; fi
	cmake --build $(BUILD) -j $(JOBS) --target all rill_tests
	cd $(BUILD) && ctest --output-on-failure --no-tests=error $(CTEST_ARGS)

# ---- Windows: cross-built with mingw-w64 (cmake/mingw-w64.cmake), the
# programs run under Wine (tools/wine/run, which makes a Wine prefix in
# $(WINDOWS_BUILD)/wine-prefix on first use).  rill.dll, librill.dll.a,
# librill.a and the rill command (unless configured with -DRILL_BUILD_CLI=OFF).
WINDOWS_BUILD ?= build-windows
$(WINDOWS_BUILD)/CMakeCache.txt:
	cmake -S . -B $(WINDOWS_BUILD) -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64.cmake

windows: $(WINDOWS_BUILD)/CMakeCache.txt
	cmake --build $(WINDOWS_BUILD) -j $(JOBS)

test-windows: windows
	cmake --build $(WINDOWS_BUILD) -j $(JOBS) --target rill_tests
	cd $(WINDOWS_BUILD) && ctest --output-on-failure --no-tests=error $(CTEST_ARGS)

# ---- fuzzing (tests/fuzz): each libFuzzer target for FUZZ_TIME seconds, one
# after the other, built with clang in its own build directory (the one of
# make test CC=clang).  Fails if one finds a crash, which it saves in
# $(FUZZ_BUILD)/fuzz/TARGET/.
FUZZ_TIME ?= 60
FUZZ_CC ?= clang
FUZZ_BUILD ?= build-$(notdir $(FUZZ_CC))
fuzz:
	@[ -f $(FUZZ_BUILD)/CMakeCache.txt ] || cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=$(FUZZ_CC)
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target rill_fuzz
	sh tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_TIME)

# ---- the benchmark: rill_bench, the one driver (docs/benchmark.md): rill
# beside its references and peers, the Go and Python bindings beside C
# (their workers, built by bench-workers), request/response, rill beside
# rust-tango, then the plots and the report (summary.md, printed).  Results
# in $(RESULTS).
bench: configure
	@sh bench/deps.sh $(BUILD)
	@$(MAKE) --no-print-directory bench-build bench-workers
	@mkdir -p $(RESULTS)
	$(BUILD)/rill_bench --workers $(BUILD) --out $(RESULTS)/latest.json $(BENCH_ARGS)
	@$(MAKE) --no-print-directory plots
	@echo "results in $(RESULTS)/ (make bench-save makes them the README's reference)"

bench-build: configure
	cmake --build $(BUILD) -j $(JOBS) --target rill_benches

# The workers of the other languages, beside rill_bench in $(BUILD) (each
# left out, with a line saying why, when its toolchain is missing; rill_bench
# then skips its rows): rill-goworker (bench/go), rill-guest (the Go
# request/response server, bindings/go/cmd/rill-guest), rill-tangoworker
# (bench/tango, rill beside the rust-tango crate, on the rill crate of
# bindings/rust, whose rill-sys compiles librill from src/ itself; cargo's
# output stays in $(BUILD)/tango-target), and
# rill-pyworker, a launcher of bench/python/pyworker.py in a venv of its
# own with the rill package built from this tree and pyzmq from PyPI.
PYBENCH_VENV = $(BUILD)/bench-venv
bench-workers: bench-build
	@rm -f $(BUILD)/rill-goworker $(BUILD)/rill-pyworker $(BUILD)/rill-guest $(BUILD)/rill-tangoworker
	@if command -v go >/dev/null 2>&1; then \
	  (cd bench/go && go build -o $(abspath $(BUILD))/rill-goworker ./cmd/rill-goworker) && \
	  (cd bindings/go && go build -o $(abspath $(BUILD))/rill-guest ./cmd/rill-guest); \
	else \
	  echo "Go not found: the Go binding's rows are left out (Go 1.22 or newer: https://go.dev/dl)"; \
	fi
	@if python3 -c 'import venv, ensurepip, os, sysconfig; assert os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h"))' 2>/dev/null; then \
	  cmake -DPYTHON=python3 -DVENV=$(abspath $(PYBENCH_VENV)) \
	        -DREQUIREMENTS=$(CURDIR)/bench/python/requirements.txt -DPACKAGE=$(CURDIR)/bindings/python \
	        -DPACKAGE_BUILD=$(abspath $(BUILD))/pybench-build -P cmake/pyenv.cmake && \
	  printf '#!/bin/sh\nexec "%s" "%s" "$$@"\n' $(abspath $(PYBENCH_VENV))/bin/python \
	    $(CURDIR)/bench/python/pyworker.py > $(BUILD)/rill-pyworker && chmod +x $(BUILD)/rill-pyworker; \
	else \
	  echo "python3 with venv and its headers not found: the Python rows are left out (apt-get install python3-venv python3-dev)"; \
	fi
	@if command -v cargo >/dev/null 2>&1; then \
	  (cd bench/tango && CARGO_TARGET_DIR=$(abspath $(BUILD))/tango-target cargo build --release --locked) && \
	  cp $(BUILD)/tango-target/release/rill-tangoworker $(BUILD)/rill-tangoworker; \
	else \
	  echo "cargo not found: rill beside rust-tango is left out (Rust from https://rustup.rs)"; \
	fi

# One suite alone, into $(RESULTS)/SUITE.json (the summary takes a suite
# from there when latest.json has not got it).
gobench: bench-workers
	$(BUILD)/rill_bench --workers $(BUILD) --suites lang --out $(RESULTS)/lang.json $(BENCH_ARGS)
pybench: bench-workers
	$(BUILD)/rill_bench --workers $(BUILD) --suites lang,python --out $(RESULTS)/python.json $(BENCH_ARGS)
rpcbench: bench-workers
	$(BUILD)/rill_bench --workers $(BUILD) --suites rpc --out $(RESULTS)/rpc.json $(BENCH_ARGS)
tangobench: bench-workers
	$(BUILD)/rill_bench --workers $(BUILD) --suites tango --out $(RESULTS)/tango.json $(BENCH_ARGS)

# PNG plots (bench/plot.py, matplotlib) and summary.md, the tables
# (bench/summary.py), next to the JSON results in RESULTS: the first
# python3 on PATH that has matplotlib, else Debian's.
PYTHON ?= $(shell for p in python3 /usr/bin/python3; do $$p -c 'import matplotlib' 2>/dev/null && { echo $$p; exit 0; }; done; echo python3)
plots:
	@if $(PYTHON) -c 'import matplotlib' 2>/dev/null; then \
	  $(PYTHON) bench/plot.py $(RESULTS); \
	else \
	  echo "matplotlib not found: no plots (apt-get install python3-matplotlib, or make bench-deps)"; \
	fi
	@$(PYTHON) bench/summary.py $(RESULTS)

# rill_bench built for Windows (mingw-w64, cmake/mingw-w64.cmake) and run
# under Wine beside the Linux build, alternating rounds on the same pinned
# cores (bench/windows.sh; docs/benchmark.md, "Windows under Wine").
# BENCH_ARGS=--quick makes it a smoke run; WINDOWS_BENCH_ARGS passes
# --rounds N or --cpus A,B.  Results in $(RESULTS)/windows.json.
WINDOWS_BUILD ?= build-windows
WINDOWS_BENCH_ARGS ?= $(filter --quick,$(BENCH_ARGS))
bench-windows: bench-build
	@[ -f $(WINDOWS_BUILD)/CMakeCache.txt ] || \
	  cmake -S . -B $(WINDOWS_BUILD) -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64.cmake
	cmake --build $(WINDOWS_BUILD) -j $(JOBS) --target rill_bench
	@mkdir -p $(RESULTS)
	sh bench/windows.sh --linux-build $(BUILD) --windows-build $(WINDOWS_BUILD) \
	  --out $(RESULTS)/windows.json $(WINDOWS_BENCH_ARGS)

# The results of the last make bench become the reference the README quotes.
bench-save:
	mkdir -p bench/reference
	cp $(RESULTS)/*.json $(RESULTS)/*.png $(RESULTS)/summary.md bench/reference/

# The packages of rill_bench's real peers (ZeroMQ, nng, iceoryx, NATS
# and iproute2 for the bridge suite; see docs/benchmark.md) and of the
# plots (matplotlib), from Debian.  A build
# directory that exists is reconfigured, so that rill_bench finds them.
BENCH_DEBS = pkg-config libzmq3-dev libnng-dev iceoryx libiceoryx-binding-c-dev \
             libnats-dev libssl-dev nats-server iproute2 python3-matplotlib
bench-deps:
	DEBIAN_FRONTEND=noninteractive apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BENCH_DEBS)
	@if [ -f $(BUILD)/CMakeCache.txt ]; then cmake -S . -B $(BUILD) >/dev/null; fi

# ---- install: the prefix is the one given now, not the one configure saw.
# An install that stops half-way removes what it wrote.  As root, the
# loader's cache is refreshed (ldconfig), so that programs find
# librill.so.1 in /usr/local/lib at once.
install: build
	@p="$(abspath $(PREFIX))"; d="$$p"; \
	while [ ! -e "$$d" ] && [ ! -L "$$d" ]; do d=$$(dirname "$$d"); done; \
	if [ ! -d "$$d" ]; then echo "make install: cannot install into $$p: $$d is not a directory"; exit 1; fi; \
	if ! t=$$(mktemp -d "$$d/.rill-install.XXXXXX" 2>&1); then \
	  echo "make install: cannot install into $$p: cannot write in $$d: $${t##*: } (run as root, or choose PREFIX=)"; exit 1; fi; \
	rmdir "$$t"; \
	if cmake --install $(BUILD) --prefix "$$p"; then \
	  if [ "$$(id -u)" = 0 ] && command -v ldconfig >/dev/null 2>&1; then ldconfig; fi; \
	  exit 0; \
	fi; \
	echo "make install: installing into $$p failed (above: what and why); removing what was installed"; \
	cmake -DBUILD=$(abspath $(BUILD)) -DPREFIX="$$p" -P cmake/uninstall.cmake >/dev/null 2>&1; \
	exit 1

uninstall: configure
	cmake --build $(BUILD) -j $(JOBS)
	cmake -DBUILD=$(abspath $(BUILD)) -DPREFIX="$(abspath $(PREFIX))" -P cmake/uninstall.cmake

clean:
	rm -rf build build-*
