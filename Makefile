# SPDX-License-Identifier: Apache-2.0 OR MIT
# Thin wrapper over CMake: make, make test, make bench, make clean, make install.
#   make test SANITIZE=address,undefined     (or SANITIZE=thread)
#   make test CC=clang
SANITIZE ?=
CC ?= cc
comma := ,
BUILD ?= build$(if $(filter-out cc,$(notdir $(CC))),-$(notdir $(CC)))$(if $(SANITIZE),-$(subst $(comma),-,$(SANITIZE)))
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
PREFIX ?= /usr/local

.PHONY: all build test bench gobench rpcbench plots bench-deps clean install

all: build

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_C_COMPILER=$(CC) -DRILL_SANITIZE=$(SANITIZE) \
	      -DCMAKE_INSTALL_PREFIX=$(PREFIX)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# --no-tests=error: a run in which no test ran is a failure.
test: build
	cd $(BUILD) && ctest --output-on-failure --no-tests=error $(CTEST_ARGS)

# The C benchmark, then the Go binding beside C (bindings/go/cmd/rill-gobench,
# which drives rill_bench's worker mode for the C side).
GOBENCH_ARGS ?= $(filter --quick,$(BENCH_ARGS))
bench: build
	$(BUILD)/rill_bench --out bench/results/latest.json $(BENCH_ARGS)
	@$(MAKE) --no-print-directory gobench
	@$(MAKE) --no-print-directory rpcbench
	@$(MAKE) --no-print-directory tangobench
	@$(MAKE) --no-print-directory plots

gobench: build
	@if command -v go >/dev/null 2>&1; then \
	  echo "== Go binding beside C"; \
	  (cd bindings/go && go build -o $(abspath $(BUILD))/rill-gobench ./cmd/rill-gobench) && \
	  $(BUILD)/rill-gobench --cbench $(BUILD)/rill_bench --out bench/results/go.json $(GOBENCH_ARGS); \
	else \
	  echo "Go not found: the Go binding's rows are left out (install Go, e.g. apt-get install golang-go)"; \
	fi

# Request/response (bench/rpc): a C host calling the Go guest
# (bindings/go/cmd/rill-guest) and the C guest, beside a UNIX socket and ZeroMQ.
RPCBENCH_ARGS ?= $(filter --quick,$(BENCH_ARGS))
rpcbench: build
	@echo "== request/response: rill (Go and C guests) beside a UNIX socket and ZeroMQ"
	@if command -v go >/dev/null 2>&1; then \
	  (cd bindings/go && go build -o $(abspath $(BUILD))/rill-guest ./cmd/rill-guest) && \
	  $(BUILD)/rill_rpcbench --goguest $(BUILD)/rill-guest --out bench/results/rpc.json $(RPCBENCH_ARGS); \
	else \
	  echo "Go not found: the Go guest's rows are left out (install Go, e.g. apt-get install golang-go)"; \
	  $(BUILD)/rill_rpcbench --out bench/results/rpc.json $(RPCBENCH_ARGS); \
	fi

# rill beside the rust-tango crate between two threads of one process
# (bench/tango, a Rust program that links $(BUILD)/librill.a); cargo's
# output stays in $(BUILD)/tango-target.
.PHONY: tangobench
TANGOBENCH_ARGS ?= $(filter --quick,$(BENCH_ARGS))
tangobench: build
	@echo "== rill beside rust-tango, between two threads of one process"
	@if command -v cargo >/dev/null 2>&1; then \
	  (cd bench/tango && RILL_LIB_DIR=$(abspath $(BUILD)) CARGO_TARGET_DIR=$(abspath $(BUILD))/tango-target \
	     cargo build --release --locked) && \
	  $(BUILD)/tango-target/release/rill-tangobench --out bench/results/tango.json $(TANGOBENCH_ARGS); \
	else \
	  echo "cargo not found: rill beside rust-tango is left out (install Rust with rustup: https://rustup.rs)"; \
	fi

# PNG plots (bench/plot.py, matplotlib) and summary.md, the tables
# (bench/summary.py), next to the JSON results in RESULTS: the first
# python3 on PATH that has matplotlib, else Debian's.
RESULTS ?= bench/results
PYTHON ?= $(shell for p in python3 /usr/bin/python3; do $$p -c 'import matplotlib' 2>/dev/null && { echo $$p; exit 0; }; done; echo python3)
plots:
	@$(PYTHON) bench/plot.py $(RESULTS)
	@$(PYTHON) bench/summary.py $(RESULTS)

# The packages of rill_bench's real peers (ZeroMQ, nng, iceoryx; see
# docs/benchmark.md) and of the plots (matplotlib), from Debian.  A build
# directory that exists is reconfigured, so that rill_bench finds them.
BENCH_DEBS = pkg-config libzmq3-dev libnng-dev iceoryx libiceoryx-binding-c-dev \
             python3-matplotlib
bench-deps:
	DEBIAN_FRONTEND=noninteractive apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BENCH_DEBS)
	@if [ -f $(BUILD)/CMakeCache.txt ]; then cmake -S . -B $(BUILD) >/dev/null; fi

install: build
	cmake --install $(BUILD)

clean:
	rm -rf build build-*
