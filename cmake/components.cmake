# SPDX-License-Identifier: Apache-2.0 OR MIT
#
# The optional parts of rill and the tools each needs.  Configure looks for
# every tool, switches each component on or off, and never stops for a
# missing one; rill_components_report() prints the table at the end:
#
#   component, on/off, why, how to get it
#
# A component that `make test` needs (NEEDED_BY_TEST) and that is off is
# also written to ${PROJECT_BINARY_DIR}/rill-test-missing.txt, one line:
# `make test` reads it and stops at once, naming the packages to install.
# One that `make bench` uses (NEEDED_BY_BENCH) goes to rill-bench-missing.txt,
# a line each, which bench/deps.sh reads (it installs what apt-get can).

set_property(GLOBAL PROPERTY RILL_COMPONENT_ROWS "")
set_property(GLOBAL PROPERTY RILL_TEST_MISSING "")
set_property(GLOBAL PROPERTY RILL_BENCH_MISSING "")

# rill_component(NAME ON|OFF WHY HOW [NEEDED_BY_TEST] [NEEDED_BY_BENCH])
function(rill_component name state why how)
  set_property(GLOBAL APPEND PROPERTY RILL_COMPONENT_ROWS "${name}|${state}|${why}|${how}")
  if(NOT state AND "NEEDED_BY_TEST" IN_LIST ARGN)
    set_property(GLOBAL APPEND PROPERTY RILL_TEST_MISSING "${how}")
  endif()
  if(NOT state AND "NEEDED_BY_BENCH" IN_LIST ARGN)
    set_property(GLOBAL APPEND PROPERTY RILL_BENCH_MISSING "${name}: ${how}")
  endif()
endfunction()

# rill_fields(RECORD VAR...): the |-separated fields of RECORD into the VARs
function(rill_fields record)
  string(REPLACE "|" ";" f "${record}")
  set(i 0)
  foreach(var ${ARGN})
    list(GET f ${i} v)
    set(${var} "${v}" PARENT_SCOPE)
    math(EXPR i "${i} + 1")
  endforeach()
endfunction()

# rill_pad(OUT TEXT WIDTH): TEXT padded with spaces to WIDTH
function(rill_pad out text width)
  string(LENGTH "${text}" n)
  math(EXPR k "${width} - ${n}")
  set(sp "")
  if(k GREATER 0)
    string(REPEAT " " ${k} sp)
  endif()
  set(${out} "${text}${sp}" PARENT_SCOPE)
endfunction()

function(rill_components_report)
  get_property(rows GLOBAL PROPERTY RILL_COMPONENT_ROWS)
  set(w1 9)
  set(w3 3)
  foreach(row ${rows})
    rill_fields("${row}" name state why)
    string(LENGTH "${name}" n)
    string(LENGTH "${why}" m)
    if(n GREATER w1)
      set(w1 ${n})
    endif()
    if(m GREATER w3)
      set(w3 ${m})
    endif()
  endforeach()
  rill_pad(h1 "component" ${w1})
  rill_pad(h3 "why" ${w3})
  set(table "rill ${PROJECT_VERSION}: what this build has\n  ${h1}  on/off  ${h3}  how to get it\n")
  foreach(row ${rows})
    rill_fields("${row}" name state why how)
    rill_pad(c1 "${name}" ${w1})
    rill_pad(c3 "${why}" ${w3})
    if(state)
      rill_pad(c2 "on" 6)
      set(how "")
    else()
      rill_pad(c2 "off" 6)
    endif()
    string(REGEX REPLACE " +$" "" line "  ${c1}  ${c2}  ${c3}  ${how}")
    string(APPEND table "${line}\n")
  endforeach()
  message(STATUS "${table}")
  get_property(missing GLOBAL PROPERTY RILL_TEST_MISSING)
  set(file ${PROJECT_BINARY_DIR}/rill-test-missing.txt)
  if(missing)
    # one apt-get line for every Debian package, then the rest
    set(debs "")
    set(other "")
    foreach(how ${missing})
      if(how MATCHES "^apt-get install (.*)")
        string(REPLACE " " ";" pkgs "${CMAKE_MATCH_1}")
        list(APPEND debs ${pkgs})
      else()
        list(APPEND other "${how}")
      endif()
    endforeach()
    set(parts "")
    if(debs)
      list(REMOVE_DUPLICATES debs)
      string(REPLACE ";" " " debs "${debs}")
      list(APPEND parts "apt-get install ${debs}")
    endif()
    list(APPEND parts ${other})
    string(REPLACE ";" "; " line "${parts}")
    file(WRITE ${file} "make test needs what this machine lacks: ${line}\n")
  else()
    file(REMOVE ${file})
  endif()
  get_property(missing GLOBAL PROPERTY RILL_BENCH_MISSING)
  set(file ${PROJECT_BINARY_DIR}/rill-bench-missing.txt)
  if(missing)
    string(REPLACE ";" "\n" lines "${missing}")
    file(WRITE ${file} "${lines}\n")
  else()
    file(REMOVE ${file})
  endif()
endfunction()

# ---- always there
rill_component("library and rill command" ON "C compiler" "")
rill_component("C tests and examples" ON "C compiler" "")
rill_component("benchmarks (C)" ON "C compiler" "")

# ---- the command line's optional libraries (rill_cli_optional in
# CMakeLists.txt): rill bridge (its tests and benchmark rows need it, and
# nats-server, cmake/tests.cmake), monitor --listen and compressed
# recordings (their tests need them).  rill_cli_component(NAME HAVE OPTION
# PREFIX LIBRARY MISSING PACKAGES NEED...): the row of one.
function(rill_cli_component name have option prefix library missing packages)
  if(WIN32 OR NOT RILL_BUILD_CLI)
    return()
  endif()
  if(${have})
    rill_component("${name}" ON "${library} ${${prefix}_VERSION}" "")
  elseif(NOT ${option})
    rill_component("${name}" OFF "-D${option}=OFF" "")
  else()
    rill_component("${name}" OFF "${missing} not found" "apt-get install ${packages}" ${ARGN})
  endif()
endfunction()
rill_cli_component("rill bridge (NATS)" RILL_HAVE_NATS RILL_BRIDGE NATS
                   "nats.c" "nats.c or libcrypto (pkg-config libnats, libcrypto)"
                   "libnats-dev libssl-dev"
                   NEEDED_BY_TEST NEEDED_BY_BENCH)
rill_cli_component("rill monitor --listen (HTTP)" RILL_HAVE_MHD RILL_MONITOR_HTTP MHD
                   "libmicrohttpd" "libmicrohttpd (pkg-config libmicrohttpd)" "libmicrohttpd-dev"
                   NEEDED_BY_TEST)
rill_cli_component("recordings compressed (zstd)" RILL_HAVE_ZSTD RILL_ZSTD ZSTD
                   "libzstd" "libzstd (pkg-config libzstd)" "libzstd-dev" NEEDED_BY_TEST)

# ---- man pages: generated from docs/*.md at install time
find_program(RILL_MD2MAN go-md2man)
if(RILL_MD2MAN)
  set(RILL_MAN ON)
  rill_component("man pages" ON "go-md2man" "")
else()
  set(RILL_MAN OFF)
  rill_component("man pages" OFF "go-md2man not found" "apt-get install go-md2man"
                 NEEDED_BY_TEST)
endif()

# ---- pkg-config: the install test builds the quickstart with it
find_program(RILL_PKG_CONFIG pkg-config)
if(RILL_PKG_CONFIG)
  rill_component("install test" ON "pkg-config" "")
else()
  rill_component("install test" OFF "pkg-config not found" "apt-get install pkg-config"
                 NEEDED_BY_TEST)
endif()

# ---- Go 1.22 or newer: the Go binding's tests, rill-guest, the Go benchmark
set(RILL_GO_MIN 1.22)
set(RILL_GO OFF)
set(go_how "Go ${RILL_GO_MIN} or newer from https://go.dev/dl (Debian 12's golang-go is 1.19)")
find_program(RILL_GO_EXE go)
if(RILL_GO_EXE)
  # The go found answers for itself: GOTOOLCHAIN=local, so that it never
  # fetches a newer toolchain, and GOWORK=off, so that the go.work of the
  # source tree does not make an older one fail instead of saying its version
  execute_process(COMMAND ${CMAKE_COMMAND} -E env GOTOOLCHAIN=local GOWORK=off
                          ${RILL_GO_EXE} env GOVERSION
                  OUTPUT_VARIABLE go_v OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE rc)
  string(REGEX MATCH "[0-9]+\\.[0-9]+(\\.[0-9]+)?" go_v "${go_v}")
  if(NOT rc EQUAL 0 OR NOT go_v)
    # go env GOVERSION is Go 1.16+; older ones say nothing useful
    rill_component("Go binding" OFF "${RILL_GO_EXE} is too old or broken" "${go_how}" NEEDED_BY_TEST NEEDED_BY_BENCH)
  elseif(go_v VERSION_LESS RILL_GO_MIN)
    rill_component("Go binding" OFF "Go ${go_v} found, ${RILL_GO_MIN} or newer needed" "${go_how}"
                   NEEDED_BY_TEST NEEDED_BY_BENCH)
  else()
    set(RILL_GO ON)
    rill_component("Go binding" ON "Go ${go_v}" "")
  endif()
else()
  rill_component("Go binding" OFF "go not found" "${go_how}" NEEDED_BY_TEST NEEDED_BY_BENCH)
endif()

# ---- Python 3 for the command line's tests (tests/cli): the Python found,
# if it has their packages, else a virtual environment that `make test`
# makes in the build directory (cmake/pyenv.cmake).
set(RILL_CLI_TESTS OFF)
find_package(Python3 3.8 COMPONENTS Interpreter QUIET)
if(NOT Python3_FOUND)
  rill_component("command-line tests" OFF "Python 3.8 or newer not found"
                 "apt-get install python3 python3-venv" NEEDED_BY_TEST)
else()
  execute_process(COMMAND ${Python3_EXECUTABLE} -c "import pytest, pyte, prometheus_client"
                  RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
  if(rc EQUAL 0)
    set(RILL_CLI_TESTS ON)
    set(RILL_CLI_PYTHON ${Python3_EXECUTABLE})
    set(RILL_CLI_VENV "")
    rill_component("command-line tests" ON "Python ${Python3_VERSION} with pytest" "")
  else()
    execute_process(COMMAND ${Python3_EXECUTABLE} -c "import venv, ensurepip"
                    RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
    if(rc EQUAL 0)
      set(RILL_CLI_TESTS ON)
      set(RILL_CLI_VENV ${PROJECT_BINARY_DIR}/cli-venv)
      set(RILL_CLI_PYTHON ${RILL_CLI_VENV}/bin/python)
      rill_component("command-line tests" ON
                     "Python ${Python3_VERSION}, make test makes a venv (PyPI)" "")
    else()
      rill_component("command-line tests" OFF "Python ${Python3_VERSION} cannot make a venv"
                     "apt-get install python3-venv" NEEDED_BY_TEST)
    endif()
  endif()
endif()

# ---- the Python binding (bindings/python): `make test` installs it with pip
# into a virtual environment in the build directory (cmake/pyenv.cmake),
# compiling librill's sources into its extension, and runs its tests there.
set(RILL_PY_BINDING OFF)
set(py_how "apt-get install python3 python3-venv python3-dev")
if(NOT Python3_FOUND)
  rill_component("Python binding" OFF "Python 3.8 or newer not found" "${py_how}" NEEDED_BY_TEST)
else()
  execute_process(COMMAND ${Python3_EXECUTABLE} -c
    "import os, sys, sysconfig, venv, ensurepip; sys.exit(not os.path.isfile(os.path.join(sysconfig.get_paths()['include'], 'Python.h')))"
    RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
  if(rc EQUAL 0)
    set(RILL_PY_BINDING ON)
    set(RILL_PY_VENV ${PROJECT_BINARY_DIR}/py-venv)
    rill_component("Python binding" ON
                   "Python ${Python3_VERSION}, make test makes a venv (PyPI)" "")
  else()
    rill_component("Python binding" OFF
                   "Python ${Python3_VERSION} cannot make a venv or lacks Python.h"
                   "${py_how}" NEEDED_BY_TEST)
  endif()
endif()

# ---- C++: the README's C++ quickstart, the FlatBuffers example
include(CheckLanguage)
check_language(CXX)
set(RILL_CXX OFF)
if(CMAKE_CXX_COMPILER)
  enable_language(CXX)
  set(CMAKE_CXX_STANDARD 17)
  set(CMAKE_CXX_STANDARD_REQUIRED ON)
  set(CMAKE_CXX_EXTENSIONS OFF)
  set(CMAKE_CXX_FLAGS_RELWITHDEBINFO "-O2 -g")
  set(RILL_CXX ON)
  rill_component("C++" ON "${CMAKE_CXX_COMPILER_ID} ${CMAKE_CXX_COMPILER_VERSION}" "")
else()
  rill_component("C++" OFF "no C++ compiler" "apt-get install g++" NEEDED_BY_TEST)
endif()

find_program(RILL_FLATC flatc)
find_path(RILL_FLATBUFFERS_INCLUDE flatbuffers/flatbuffers.h)
set(missing "")
if(NOT RILL_CXX)
  string(APPEND missing " g++")
endif()
if(NOT RILL_FLATC)
  string(APPEND missing " flatbuffers-compiler")
endif()
if(NOT RILL_FLATBUFFERS_INCLUDE)
  string(APPEND missing " libflatbuffers-dev")
endif()
if(missing)
  set(RILL_FLATBUFFERS OFF)
  string(STRIP "${missing}" m)
  rill_component("FlatBuffers example" OFF "not found: ${m}" "apt-get install${missing}"
                 NEEDED_BY_TEST)
elseif(NOT RILL_GO)
  set(RILL_FLATBUFFERS OFF)
  rill_component("FlatBuffers example" OFF "its guest needs the Go binding (off)" "as Go above")
else()
  set(RILL_FLATBUFFERS ON)
  rill_component("FlatBuffers example" ON "flatc, C++, Go" "")
endif()

# ---- the benchmark's real peers (docs/benchmark.md); make bench-deps
# installs them all
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(ZMQ QUIET IMPORTED_TARGET libzmq)
endif()
if(ZMQ_FOUND)
  rill_component("peer: ZeroMQ" ON "libzmq ${ZMQ_VERSION}" "")
else()
  rill_component("peer: ZeroMQ" OFF "libzmq not found" "apt-get install libzmq3-dev pkg-config"
                 NEEDED_BY_BENCH)
endif()
# Debian's libnng-dev ships a CMake package and no pkg-config file; other
# builds of nng may have only the latter.
find_package(nng CONFIG QUIET)
if(nng_FOUND)
  set(RILL_NNG_TARGET nng::nng)
elseif(PkgConfig_FOUND)
  pkg_check_modules(NNG QUIET IMPORTED_TARGET nng)
  if(NNG_FOUND)
    set(RILL_NNG_TARGET PkgConfig::NNG)
  endif()
endif()
if(RILL_NNG_TARGET)
  rill_component("peer: nng" ON "nng" "")
else()
  rill_component("peer: nng" OFF "nng not found" "apt-get install libnng-dev" NEEDED_BY_BENCH)
endif()
# iceoryx: the C binding, and RouDi (iox-roudi), which rill_bench starts.
find_package(iceoryx_binding_c CONFIG QUIET)
find_program(RILL_IOX_ROUDI iox-roudi)
if(iceoryx_binding_c_FOUND AND RILL_IOX_ROUDI)
  set(RILL_ICEORYX ON)
  rill_component("peer: iceoryx" ON "iceoryx ${iceoryx_binding_c_VERSION}" "")
else()
  set(RILL_ICEORYX OFF)
  rill_component("peer: iceoryx" OFF "iceoryx C binding or iox-roudi not found"
                 "apt-get install iceoryx libiceoryx-binding-c-dev" NEEDED_BY_BENCH)
endif()
# NATS, for the bridge suite (bench/s_bridge.c): the C client nats.c
# (pkg-config libnats) for its direct clients, nats-server, which
# rill_bench starts (Debian installs it in /usr/sbin), and ip (iproute2)
# for the network namespaces its hosts are.
if(PkgConfig_FOUND)
  pkg_check_modules(RILL_BENCH_NATS QUIET IMPORTED_TARGET libnats)
endif()
find_program(RILL_NATS_SERVER nats-server PATHS /usr/sbin /usr/local/sbin)
find_program(RILL_IP ip PATHS /usr/sbin /sbin)
if(RILL_BENCH_NATS_FOUND AND RILL_NATS_SERVER AND RILL_IP)
  rill_component("peer: NATS" ON "nats.c ${RILL_BENCH_NATS_VERSION}, nats-server, ip" "")
else()
  rill_component("peer: NATS" OFF "nats.c (libnats), nats-server or ip not found"
                 "apt-get install libnats-dev nats-server iproute2" NEEDED_BY_BENCH)
endif()

# ---- the plots: a Python with matplotlib (the one on PATH, else Debian's)
set(RILL_PLOT_PYTHON "")
foreach(py ${Python3_EXECUTABLE} /usr/bin/python3)
  if(NOT RILL_PLOT_PYTHON AND EXISTS "${py}")
    execute_process(COMMAND ${py} -c "import matplotlib" RESULT_VARIABLE rc
                    OUTPUT_QUIET ERROR_QUIET)
    if(rc EQUAL 0)
      set(RILL_PLOT_PYTHON ${py})
    endif()
  endif()
endforeach()
if(RILL_PLOT_PYTHON)
  rill_component("benchmark plots" ON "matplotlib" "")
else()
  rill_component("benchmark plots" OFF "matplotlib not found" "apt-get install python3-matplotlib"
                 NEEDED_BY_BENCH)
endif()

# ---- Rust, cargo 1.85 or newer (edition 2024): rill beside rust-tango
# (bench/tango), and the Rust binding's tests (bindings/rust), which also
# need cargo's clippy and rustfmt
set(RILL_CARGO OFF)
set(cargo_v "")
set(rust_how "Rust 1.85 or newer from https://rustup.rs")
find_program(RILL_CARGO_EXE cargo)
if(RILL_CARGO_EXE)
  execute_process(COMMAND ${RILL_CARGO_EXE} --version OUTPUT_VARIABLE cargo_v ERROR_QUIET)
  string(REGEX MATCH "[0-9]+\\.[0-9]+\\.[0-9]+" cargo_v "${cargo_v}")
  if(cargo_v AND cargo_v VERSION_GREATER_EQUAL 1.85)
    set(RILL_CARGO ON)
    rill_component("benchmark: rust-tango" ON "cargo ${cargo_v}" "")
  else()
    rill_component("benchmark: rust-tango" OFF "cargo ${cargo_v} found, 1.85 or newer needed"
                   "${rust_how}" NEEDED_BY_BENCH)
  endif()
else()
  rill_component("benchmark: rust-tango" OFF "cargo not found" "${rust_how}" NEEDED_BY_BENCH)
endif()

# The Rust binding's tests: cargo compiles librill's sources into rill-sys
# with the cc crate, which knows nothing of RILL_SANITIZE: in a sanitizer
# build they would run uninstrumented C (and Rust's own sanitizers need a
# nightly compiler), repeating the plain build's run, so they are left to
# the builds without sanitizers (cmake/tests.cmake).
set(RILL_RUST_SYS OFF)
if(RILL_SANITIZE)
  rill_component("Rust binding (rill-sys)" OFF "not under -fsanitize: cc does not sanitize"
                 "make test without SANITIZE")
elseif(NOT RILL_CARGO)
  if(cargo_v)
    set(why "cargo ${cargo_v} found, 1.85 or newer needed")
  else()
    set(why "cargo not found")
  endif()
  rill_component("Rust binding (rill-sys)" OFF "${why}" "${rust_how}, with clippy and rustfmt"
                 NEEDED_BY_TEST)
else()
  set(missing "")
  foreach(tool clippy fmt)
    execute_process(COMMAND ${RILL_CARGO_EXE} ${tool} --version
                    RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
    if(NOT rc EQUAL 0)
      string(REPLACE fmt rustfmt tool "${tool}")
      list(APPEND missing ${tool})
    endif()
  endforeach()
  if(missing)
    string(REPLACE ";" " " missing "${missing}")
    rill_component("Rust binding (rill-sys)" OFF "cargo ${cargo_v} lacks ${missing}"
                   "rustup component add ${missing}" NEEDED_BY_TEST)
  else()
    set(RILL_RUST_SYS ON)
    rill_component("Rust binding (rill-sys)" ON "cargo ${cargo_v}, clippy, rustfmt (crates.io)" "")
  endif()
endif()

# ---- libFuzzer (tests/fuzz, cmake/fuzz.cmake): clang with -fsanitize=fuzzer,
# in a build without ThreadSanitizer (libFuzzer's targets use AddressSanitizer)
set(RILL_FUZZ OFF)
if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
  rill_component("fuzz targets" OFF "${CMAKE_C_COMPILER_ID} is not clang"
                 "make fuzz, or make test CC=clang (apt-get install clang)")
elseif(RILL_SANITIZE MATCHES "thread|memory")
  rill_component("fuzz targets" OFF "not with -fsanitize=${RILL_SANITIZE}"
                 "a build without SANITIZE, or SANITIZE=address,undefined")
else()
  include(CheckCSourceCompiles)
  set(CMAKE_REQUIRED_FLAGS "-fsanitize=fuzzer,address,undefined")
  set(CMAKE_REQUIRED_LINK_OPTIONS "-fsanitize=fuzzer,address,undefined")
  set(CMAKE_REQUIRED_QUIET ON)
  check_c_source_compiles("
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }"
    RILL_HAVE_LIBFUZZER)
  unset(CMAKE_REQUIRED_FLAGS)
  unset(CMAKE_REQUIRED_LINK_OPTIONS)
  unset(CMAKE_REQUIRED_QUIET)
  if(RILL_HAVE_LIBFUZZER)
    set(RILL_FUZZ ON)
    rill_component("fuzz targets" ON "clang ${CMAKE_C_COMPILER_VERSION}, libFuzzer" "")
  else()
    rill_component("fuzz targets" OFF "clang cannot link -fsanitize=fuzzer"
                   "apt-get install clang (with its libFuzzer)")
  endif()
endif()

# ---- spin (Debian's spin 6.5): model/check.sh checks the protocol's model
# (model/*.pml, issue 23) and their buggy variants.  make test needs it:
# the model is the only test that covers every interleaving.  Not in the
# Windows cross build (its tests run under Wine; the model is the same).
set(RILL_SPIN OFF)
if(NOT WIN32)
  find_program(RILL_SPIN_EXE spin)
  if(RILL_SPIN_EXE)
    execute_process(COMMAND ${RILL_SPIN_EXE} -V OUTPUT_VARIABLE spin_v
                    OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    string(REGEX MATCH "[0-9]+\\.[0-9]+(\\.[0-9]+)?" spin_v "${spin_v}")
    set(RILL_SPIN ON)
    rill_component("protocol model (spin)" ON "spin ${spin_v}" "")
  else()
    rill_component("protocol model (spin)" OFF "spin not found" "apt-get install spin"
                   NEEDED_BY_TEST)
  endif()
endif()

# ---- the NATS bridge's tests (tests/bridge, issue 24; docs/testing.md): a
# cluster of three nats-servers with JetStream on hosts in network
# namespaces (ip from iproute2, setpriv from util-linux), driven by pytest
# with nats-py: the Python found if it has both, else a virtual environment
# that `make test` makes in the build directory (cmake/pyenv.cmake).  They
# run as root (ip netns), and skip otherwise.
set(RILL_BRIDGE_TESTS OFF)
if(NOT WIN32)
  find_program(RILL_NATS_SERVER nats-server PATHS /usr/sbin /usr/local/sbin /sbin)
  find_program(RILL_IP_EXE ip PATHS /usr/sbin /sbin)
  find_program(RILL_SETPRIV_EXE setpriv PATHS /usr/bin /bin)
  set(missing "")
  if(NOT RILL_NATS_SERVER)
    string(APPEND missing " nats-server")
  endif()
  if(NOT RILL_IP_EXE)
    string(APPEND missing " iproute2")
  endif()
  if(NOT RILL_SETPRIV_EXE)
    string(APPEND missing " util-linux")
  endif()
  if(DEFINED RILL_HAVE_NATS AND NOT RILL_HAVE_NATS)
    # rill bridge is not built (its own row above says why and what make
    # test needs): nothing to test
    rill_component("bridge tests (NATS)" OFF "rill bridge is not built" "as rill bridge above")
  elseif(missing)
    string(STRIP "${missing}" m)
    rill_component("bridge tests (NATS)" OFF "not found: ${m}" "apt-get install${missing}"
                   NEEDED_BY_TEST)
  elseif(NOT Python3_FOUND)
    rill_component("bridge tests (NATS)" OFF "Python 3.8 or newer not found"
                   "apt-get install python3 python3-venv" NEEDED_BY_TEST)
  else()
    execute_process(COMMAND ${RILL_NATS_SERVER} --version OUTPUT_VARIABLE nats_v ERROR_QUIET)
    string(REGEX MATCH "[0-9]+\\.[0-9]+\\.[0-9]+" nats_v "${nats_v}")
    execute_process(COMMAND ${Python3_EXECUTABLE} -c "import pytest, nats, nkeys"
                    RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
    if(rc EQUAL 0)
      set(RILL_BRIDGE_TESTS ON)
      set(RILL_BRIDGE_PYTHON ${Python3_EXECUTABLE})
      set(RILL_BRIDGE_VENV "")
      rill_component("bridge tests (NATS)" ON
                     "nats-server ${nats_v}, Python with nats-py and nkeys" "")
    else()
      execute_process(COMMAND ${Python3_EXECUTABLE} -c "import venv, ensurepip"
                      RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
      if(rc EQUAL 0)
        set(RILL_BRIDGE_TESTS ON)
        set(RILL_BRIDGE_VENV ${PROJECT_BINARY_DIR}/bridge-venv)
        set(RILL_BRIDGE_PYTHON ${RILL_BRIDGE_VENV}/bin/python)
        rill_component("bridge tests (NATS)" ON
                       "nats-server ${nats_v}, make test makes a venv (PyPI)" "")
      else()
        rill_component("bridge tests (NATS)" OFF "Python ${Python3_VERSION} cannot make a venv"
                       "apt-get install python3-venv" NEEDED_BY_TEST)
      endif()
    endif()
  endif()
endif()
