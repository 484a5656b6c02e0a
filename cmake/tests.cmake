# SPDX-License-Identifier: Apache-2.0 OR MIT
#
# The tests.  Nothing here is built by a plain build: target rill_tests
# builds every test program (and the Python test environment, the Go
# guest, the FlatBuffers example), and ctest runs them; `make test` does
# both, and `cmake --build build --target check` too.  Every test program
# exits 0 (pass), 1 (fail) or 77 (skip).
enable_testing()
add_custom_target(rill_tests)
add_custom_target(check
  COMMAND ${CMAKE_CTEST_COMMAND} --output-on-failure --no-tests=error
  WORKING_DIRECTORY ${PROJECT_BINARY_DIR} USES_TERMINAL)
add_dependencies(check rill_tests)

# rill_test_program(NAME SOURCES...): a program built by rill_tests only,
# linked with librill.a, with tests/ and src/ on its include path.
function(rill_test_program name)
  add_executable(${name} EXCLUDE_FROM_ALL ${ARGN})
  target_link_libraries(${name} PRIVATE rill_static)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/tests)
  add_dependencies(rill_tests ${name})
endfunction()

set(RILL_TSAN_ENV
  "TSAN_OPTIONS=suppressions=${PROJECT_SOURCE_DIR}/tests/tsan.supp halt_on_error=1")

# ---- Windows (cross-built, run under Wine): its own list of tests
if(WIN32)
  include(${PROJECT_SOURCE_DIR}/cmake/windows-tests.cmake)
  return()
endif()

# ---- every tests/test_*.c is one program and one test
file(GLOB RILL_TESTS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/test_*.c)
# the Windows platform layer's own test (cmake/windows-tests.cmake)
list(FILTER RILL_TESTS EXCLUDE REGEX "/test_win32_[^/]*$")
foreach(src ${RILL_TESTS})
  get_filename_component(name ${src} NAME_WE)
  rill_test_program(${name} ${src})
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600
                                          ENVIRONMENT "${RILL_TSAN_ENV}")
endforeach()

# ---- the freestanding core (include/rill_core.h): test_core runs it alone
# over memory of its own, test_core_interop beside librill on a region; and
# librill_core.a leaves nothing undefined but memcpy and memset
include(${PROJECT_SOURCE_DIR}/cmake/core-tests.cmake)

# ---- the waiting tests again with LAZY producers (docs/PROTOCOL.md §3.7a:
# fencing on request, what every Windows producer does), which Linux
# producers use only when RILL_LAZY_FENCE=1
foreach(name test_wait test_rpc test_backpressure test_crossproc)
  add_test(NAME ${name}_lazy COMMAND ${name})
  set_tests_properties(${name}_lazy PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600
                       ENVIRONMENT "${RILL_TSAN_ENV};RILL_LAZY_FENCE=1")
endforeach()

# ---- every source file carries the license line (tools/dev/spdx.sh)
add_test(NAME license_spdx COMMAND sh ${PROJECT_SOURCE_DIR}/tools/dev/spdx.sh)

# ---- the ABI (include/rill.h, rill_rpc.h): librill.so's exported symbols
# and the structs' layout, against the lists in abi/ (abi/check.sh says how
# to update them)
add_test(NAME abi_symbols COMMAND sh ${PROJECT_SOURCE_DIR}/abi/check.sh symbols $<TARGET_FILE:rill>)
add_test(NAME abi_layout COMMAND sh ${PROJECT_SOURCE_DIR}/abi/check.sh layout $<TARGET_FILE:test_abi>)

# ---- the examples run as tests, each in a fresh private directory (not
# the build directory itself, where a file may share the region's name)
file(GLOB RILL_EXAMPLES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/examples/*.c)
foreach(src ${RILL_EXAMPLES})
  get_filename_component(name ${src} NAME_WE)
  rill_test_program(${name} ${src})
  set(dir ${PROJECT_BINARY_DIR}/example-dirs/${name})
  add_test(NAME example_${name} COMMAND sh -c
           "rm -rf '${dir}' && mkdir -p '${dir}' && RILL_DIR='${dir}' exec '$<TARGET_FILE:${name}>'")
endforeach()

# ---- cross-language peer (tests/vectors/README.md): the C side of the
# tests that bindings run against the C library.  Two C-to-C runs of it
# are tests.
rill_test_program(rill_xpeer tests/xpeer.c)
set(dir ${PROJECT_BINARY_DIR}/xpeer-dirs/vector_c)
set(vec ${PROJECT_SOURCE_DIR}/tests/vectors/basic.vec)
add_test(NAME xpeer_vector_c COMMAND sh -c
         "rm -rf '${dir}' && mkdir -p '${dir}' && '$<TARGET_FILE:rill_xpeer>' vector write '${vec}' '${dir}' && '$<TARGET_FILE:rill_xpeer>' vector check '${vec}' '${dir}'")
set(dir ${PROJECT_BINARY_DIR}/xpeer-dirs/stream_c)
add_test(NAME xpeer_stream_c COMMAND sh ${PROJECT_SOURCE_DIR}/tests/xpeer_stream.sh
         $<TARGET_FILE:rill_xpeer> ${dir})
set_tests_properties(xpeer_vector_c xpeer_stream_c PROPERTIES TIMEOUT 300)

# ---- the command line's tests (tests/cli, pytest): the rill program run
# against live channels of rill_cli_fixture, its monitor drawn on a
# pseudo-terminal (pyte), its Prometheus output parsed (prometheus_client).
rill_test_program(rill_cli_fixture tests/cli/fixture.c)
if(RILL_CLI_TESTS)
  if(RILL_CLI_VENV)
    # made when the tests are built, not at configure (cmake/pyenv.cmake)
    set(req ${PROJECT_SOURCE_DIR}/tests/cli/requirements.txt)
    add_custom_command(OUTPUT ${RILL_CLI_VENV}/rill-requirements.stamp
      COMMAND ${CMAKE_COMMAND} -DPYTHON=${Python3_EXECUTABLE} -DVENV=${RILL_CLI_VENV}
              -DREQUIREMENTS=${req} -P ${PROJECT_SOURCE_DIR}/cmake/pyenv.cmake
      DEPENDS ${req} ${PROJECT_SOURCE_DIR}/cmake/pyenv.cmake
      COMMENT "tests/cli: a Python environment with tests/cli/requirements.txt (PyPI)")
    add_custom_target(rill_cli_pyenv DEPENDS ${RILL_CLI_VENV}/rill-requirements.stamp)
    add_dependencies(rill_tests rill_cli_pyenv)
  endif()
  # -p no:cacheprovider: nothing written into the source tree
  add_test(NAME cli_test WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
           COMMAND ${RILL_CLI_PYTHON} -m pytest -q -p no:cacheprovider tests/cli)
  set_tests_properties(cli_test PROPERTIES TIMEOUT 300 ENVIRONMENT
    "RILL_CLI=$<TARGET_FILE:rill_cli>;RILL_CLI_FIXTURE=$<TARGET_FILE:rill_cli_fixture>;PYTHONDONTWRITEBYTECODE=1")
endif()

# ---- the NATS bridge (tests/bridge, pytest; issue 24, docs/testing.md):
# `rill bridge` between hosts in network namespaces, over a cluster of
# three nats-servers with JetStream; rill_bridge_check produces and checks
# the streams.  As root only (it skips otherwise: exit 77).
rill_test_program(rill_bridge_check tests/bridge/check.c)
if(RILL_BRIDGE_TESTS)
  if(RILL_BRIDGE_VENV)
    set(req ${PROJECT_SOURCE_DIR}/tests/bridge/requirements.txt)
    add_custom_command(OUTPUT ${RILL_BRIDGE_VENV}/rill-requirements.stamp
      COMMAND ${CMAKE_COMMAND} -DPYTHON=${Python3_EXECUTABLE} -DVENV=${RILL_BRIDGE_VENV}
              -DREQUIREMENTS=${req} -P ${PROJECT_SOURCE_DIR}/cmake/pyenv.cmake
      DEPENDS ${req} ${PROJECT_SOURCE_DIR}/cmake/pyenv.cmake
      COMMENT "tests/bridge: a Python environment with tests/bridge/requirements.txt (PyPI)")
    add_custom_target(rill_bridge_pyenv DEPENDS ${RILL_BRIDGE_VENV}/rill-requirements.stamp)
    add_dependencies(rill_tests rill_bridge_pyenv)
  endif()
  # -rs: the reason of a skip is printed; the conftest turns "everything
  # skipped" into exit 77
  add_test(NAME bridge_test WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
           COMMAND ${RILL_BRIDGE_PYTHON} -m pytest -q -rs -p no:cacheprovider tests/bridge)
  set_tests_properties(bridge_test PROPERTIES TIMEOUT 1200 SKIP_RETURN_CODE 77 ENVIRONMENT
    "RILL_CLI=$<TARGET_FILE:rill_cli>;RILL_BRIDGE_CHECK=$<TARGET_FILE:rill_bridge_check>;NATS_SERVER=${RILL_NATS_SERVER};PYTHONDONTWRITEBYTECODE=1;${RILL_TSAN_ENV}")
endif()

# ---- the Go peer: the Go binding's test binary, which runs one peer
# command when RILL_GO_PEER=1 is set (bindings/go/peer_test.go); the C++
# and Python tests take it as $RILL_GOPEER, beside the C peer's $RILL_XPEER.
set(RILL_GOPEER_ENV "")
if(RILL_GO)
  set(RILL_GOPEER ${PROJECT_BINARY_DIR}/rill-gopeer)
  set(RILL_GOPEER_ENV "RILL_GOPEER=${RILL_GOPEER}")
  file(GLOB gopeer_src CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/bindings/go/*.go ${PROJECT_SOURCE_DIR}/bindings/go/go.mod)
  add_custom_command(OUTPUT ${RILL_GOPEER}
                     COMMAND ${RILL_GO_EXE} test -c -o ${RILL_GOPEER} .
                     WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}/bindings/go DEPENDS ${gopeer_src}
                     COMMENT "go test -c rill-gopeer (the Go peer)")
  add_custom_target(rill_gopeer DEPENDS ${RILL_GOPEER})
  add_dependencies(rill_tests rill_gopeer)
endif()

# ---- the Python binding (bindings/python, pytest): pip installs it into a
# venv of its own (cmake/pyenv.cmake), built in BUILD/python-build from the
# sources of src/ and include/; its tests talk to rill_xpeer and rill-gopeer.
if(RILL_PY_BINDING)
  set(pydir ${PROJECT_SOURCE_DIR}/bindings/python)
  file(GLOB py_deps CONFIGURE_DEPENDS ${pydir}/*.py ${pydir}/*.c ${pydir}/pyproject.toml ${pydir}/rill/*
       ${PROJECT_SOURCE_DIR}/src/*.c ${PROJECT_SOURCE_DIR}/src/*.h ${PROJECT_SOURCE_DIR}/src/core/*.h
       ${PROJECT_SOURCE_DIR}/include/*.h)
  # The extension is built with this build's compiler, our warnings as
  # errors (but -Wmissing-prototypes: cffi's PyInit has none) and its
  # sanitizers; under AddressSanitizer the interpreter (not instrumented)
  # runs with the runtime preloaded, leaks not reported (CPython's own at
  # exit).  Not under ThreadSanitizer: it would need an instrumented CPython.
  string(REPLACE ";" " " py_cflags "-Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wstrict-prototypes ${RILL_SANITIZE_FLAGS}")
  set(py_test_env "")
  if(RILL_SANITIZE MATCHES "thread")
    string(REPLACE ";" " " py_cflags "-Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wstrict-prototypes")
  elseif(RILL_SANITIZE MATCHES "address")
    foreach(rt libasan.so libclang_rt.asan-x86_64.so libclang_rt.asan.so)
      execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=${rt}
                      OUTPUT_VARIABLE asan_rt OUTPUT_STRIP_TRAILING_WHITESPACE)
      if(IS_ABSOLUTE "${asan_rt}" AND EXISTS "${asan_rt}")
        break()
      endif()
    endforeach()
    set(py_test_env "LD_PRELOAD=${asan_rt};ASAN_OPTIONS=detect_leaks=0")
  endif()
  add_custom_command(OUTPUT ${RILL_PY_VENV}/rill-package.stamp
    COMMAND ${CMAKE_COMMAND} -DPYTHON=${Python3_EXECUTABLE} -DVENV=${RILL_PY_VENV}
            -DREQUIREMENTS=${pydir}/tests/requirements.txt -DPACKAGE=${pydir}
            -DPACKAGE_BUILD=${PROJECT_BINARY_DIR}/python-build
            -DPACKAGE_CC=${CMAKE_C_COMPILER} "-DPACKAGE_CFLAGS=${py_cflags}"
            -P ${PROJECT_SOURCE_DIR}/cmake/pyenv.cmake
    DEPENDS ${pydir}/tests/requirements.txt ${PROJECT_SOURCE_DIR}/cmake/pyenv.cmake ${py_deps}
    COMMENT "bindings/python: pip install into ${RILL_PY_VENV} (PyPI)" VERBATIM)
  add_custom_target(rill_py_binding DEPENDS ${RILL_PY_VENV}/rill-package.stamp)
  add_dependencies(rill_tests rill_py_binding)
  # Its cross-process tests run against both peers, C and Go; a missing
  # peer fails them (RILL_REQUIRE_XPEER), but for a build without Go, which
  # says so (RILL_SKIP_GOPEER) and skips the Go half.
  set(py_gopeer_env "${RILL_GOPEER_ENV}")
  if(NOT RILL_GO)
    set(py_gopeer_env "RILL_SKIP_GOPEER=this build has no Go (RILL_GO is off)")
  endif()
  add_test(NAME python_binding WORKING_DIRECTORY ${PROJECT_BINARY_DIR}
           COMMAND ${RILL_PY_VENV}/bin/python -m pytest -q -p no:cacheprovider ${pydir}/tests)
  set_tests_properties(python_binding PROPERTIES TIMEOUT 300 ENVIRONMENT
    "RILL_XPEER=$<TARGET_FILE:rill_xpeer>;RILL_REQUIRE_XPEER=1;PYTHONDONTWRITEBYTECODE=1;${py_gopeer_env};${py_test_env}")
endif()

# ---- the Go binding (bindings/go): gofmt and go vet, then go test -race,
# whose cross-language tests run against this build's rill_xpeer.
if(RILL_GO)
  get_filename_component(godir ${RILL_GO_EXE} DIRECTORY)
  find_program(RILL_GOFMT_EXE gofmt HINTS ${godir})
  set(gosrc ${PROJECT_SOURCE_DIR}/bindings/go)
  add_test(NAME go_vet WORKING_DIRECTORY ${gosrc} COMMAND sh -c
           "bad=$('${RILL_GOFMT_EXE}' -l .) && test -z \"$bad\" || { echo \"not gofmt-ed: $bad\"; exit 1; }; exec '${RILL_GO_EXE}' vet ./...")
  add_test(NAME go_test WORKING_DIRECTORY ${gosrc}
           COMMAND ${RILL_GO_EXE} test -race -count=1 ./...)
  set_tests_properties(go_test PROPERTIES TIMEOUT 900 ENVIRONMENT
    "RILL_XPEER=$<TARGET_FILE:rill_xpeer>;RILL_REQUIRE_XPEER=1")
  # the repository's other Go modules (bench/go; examples/flatbuffers/guest
  # has its own test) are formatted and vetted too
  add_test(NAME go_vet_bench WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}/bench/go COMMAND sh -c
           "bad=$('${RILL_GOFMT_EXE}' -l .) && test -z \"$bad\" || { echo \"not gofmt-ed: $bad\"; exit 1; }; exec '${RILL_GO_EXE}' vet ./...")
  # a user's module outside the repository imports the binding by its path
  # (through a go.work) and checks a stream that the C library publishes
  add_test(NAME go_outside COMMAND sh ${PROJECT_SOURCE_DIR}/tests/go_outside/run.sh
           $<TARGET_FILE:rill_xpeer> ${PROJECT_BINARY_DIR}/go-outside)
  set_tests_properties(go_outside PROPERTIES TIMEOUT 300 ENVIRONMENT "GO=${RILL_GO_EXE}")
endif()

# ---- the protocol's models (model/, issue 23): spin checks each correct
# model exhaustively and each buggy variant must fail (model/check.sh).  Not
# in sanitizer builds: it checks the models, not the compiled library, and
# takes two minutes.
if(RILL_SPIN AND NOT RILL_SANITIZE)
  add_test(NAME model_check COMMAND bash ${PROJECT_SOURCE_DIR}/model/check.sh)
  set_tests_properties(model_check PROPERTIES TIMEOUT 600 ENVIRONMENT
    "SPIN=${RILL_SPIN_EXE};CC=${CMAKE_C_COMPILER}")
endif()

# ---- the Rust binding (bindings/rust): the tests of both crates (rill-sys:
# its ABI against rill.h, the raw calls; rill: the safe API, its doctests,
# the tokio feature, cross-process tests against rill_xpeer and
# rill-gopeer), then clippy, rustfmt and rustdoc (a broken doc link fails).  cargo builds in BUILD/rust-target,
# not in the source tree, and compiles librill's sources with this build's
# compiler (CC, read by the cc crate); --locked: Cargo.lock as committed.
# Not in sanitizer builds (cmake/components.cmake says why).
if(RILL_RUST_SYS)
  set(rustdir ${PROJECT_SOURCE_DIR}/bindings/rust)
  set(rust_gopeer_env "${RILL_GOPEER_ENV}")
  if(NOT RILL_GO)
    set(rust_gopeer_env "RILL_SKIP_GOPEER=this build has no Go (RILL_GO is off)")
  endif()
  set(rust_env "CARGO_TARGET_DIR=${PROJECT_BINARY_DIR}/rust-target;CC=${CMAKE_C_COMPILER};RILL_XPEER=$<TARGET_FILE:rill_xpeer>;RILL_REQUIRE_XPEER=1;${rust_gopeer_env}")
  add_test(NAME rust_test WORKING_DIRECTORY ${rustdir}
           COMMAND ${RILL_CARGO_EXE} test --locked --all-features)
  add_test(NAME rust_clippy WORKING_DIRECTORY ${rustdir} COMMAND sh -c
           "'${RILL_CARGO_EXE}' fmt --check && '${RILL_CARGO_EXE}' clippy --locked --all-targets --all-features -- -D warnings && RUSTDOCFLAGS=-Dwarnings exec '${RILL_CARGO_EXE}' doc --locked --no-deps --all-features")
  set_tests_properties(rust_test rust_clippy PROPERTIES TIMEOUT 900
                       ENVIRONMENT "${rust_env}")
endif()

# ---- the FlatBuffers example: a C++ host and a Go guest
if(RILL_FLATBUFFERS)
  add_subdirectory(examples/flatbuffers)
endif()

# ---- install into a temporary prefix and build against it as a user
# would: the README's C quickstart with pkg-config, a CMake project with
# find_package(rill), then uninstall (tests/install/run.sh)
if(RILL_PKG_CONFIG)
  add_test(NAME install_prefix COMMAND sh ${PROJECT_SOURCE_DIR}/tests/install/run.sh
           ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR} ${PROJECT_BINARY_DIR}/install-test)
  string(REPLACE ";" " " cflags "${RILL_SANITIZE_FLAGS}")
  set_tests_properties(install_prefix PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77
    ENVIRONMENT "CC=${CMAKE_C_COMPILER};CFLAGS=${cflags};PYTHON=${Python3_EXECUTABLE};${RILL_TSAN_ENV}")
endif()

# ---- the systemd units (dist/systemd): systemd-analyze verify, and the
# service's command line run as written (skipped without systemd-analyze)
if(TARGET rill_cli AND NOT WIN32)
  add_test(NAME systemd_units COMMAND sh ${PROJECT_SOURCE_DIR}/tests/systemd/verify.sh
           ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  set_tests_properties(systemd_units PROPERTIES TIMEOUT 60 SKIP_RETURN_CODE 77)
endif()

# ---- every code block of the README compiled, and run where it is a
# program (tests/readme/check.py): C and C++ against this build, Go as a
# module of its own outside the repository, the shell blocks checked
# and the command line's run
if(Python3_FOUND AND RILL_CXX AND RILL_GO)
  string(REPLACE ";" " " cflags "${RILL_SANITIZE_FLAGS}")
  add_test(NAME readme_blocks
           COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/tests/readme/check.py run
                   ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR} ${PROJECT_BINARY_DIR}/readme-test)
  set_tests_properties(readme_blocks PROPERTIES TIMEOUT 300 ENVIRONMENT
    "CC=${CMAKE_C_COMPILER};CXX=${CMAKE_CXX_COMPILER};GO=${RILL_GO_EXE};CFLAGS=${cflags};CXXFLAGS=${cflags};${RILL_TSAN_ENV}")
endif()

# ---- configure with a tool too old: it goes on, says which version is
# needed; make test stops at once naming it; a plain make still builds
add_test(NAME build_configure COMMAND sh ${PROJECT_SOURCE_DIR}/tests/build/configure.sh
         ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR}/configure-test)
set_tests_properties(build_configure PROPERTIES TIMEOUT 300)

# ---- the C++ API (include/rill.hpp): every tests/cpp/test_*.cpp is one
# program and one test, with tests/cpp/tu_cpp.c (testutil.h's region
# directory, watchdog and child processes, compiled as C); test_cpp_xpeer
# runs against the C peer and the Go peer (RILL_REQUIRE_XPEER when both
# are built: a missing one fails rather than skips).  no_copy.sh checks
# that copying the handles does not compile.
if(RILL_CXX)
  set(cpp_peer_env "RILL_XPEER=$<TARGET_FILE:rill_xpeer>")
  if(RILL_GO)
    list(APPEND cpp_peer_env ${RILL_GOPEER_ENV} RILL_REQUIRE_XPEER=1)
  endif()
  file(GLOB RILL_CPP_TESTS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/cpp/test_*.cpp)
  foreach(src ${RILL_CPP_TESTS})
    get_filename_component(name ${src} NAME_WE)
    rill_test_program(${name} ${src} ${PROJECT_SOURCE_DIR}/tests/cpp/tu_cpp.c)
    target_link_libraries(${name} PRIVATE pthread)
    add_test(NAME ${name} COMMAND ${name})
    set_tests_properties(${name} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600
                                            ENVIRONMENT "${RILL_TSAN_ENV};${cpp_peer_env}")
  endforeach()
  add_dependencies(test_cpp_xpeer rill_xpeer)
  if(RILL_GO)
    add_dependencies(test_cpp_xpeer rill_gopeer)
  endif()
  # test_cpp with LAZY producers, as every Windows producer is (the wake-up
  # object's first arm then says "read now")
  add_test(NAME test_cpp_lazy COMMAND test_cpp)
  set_tests_properties(test_cpp_lazy PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600
                       ENVIRONMENT "${RILL_TSAN_ENV};RILL_LAZY_FENCE=1")
  add_test(NAME cpp_no_copy COMMAND sh ${PROJECT_SOURCE_DIR}/tests/cpp/no_copy.sh
           ${CMAKE_CXX_COMPILER} ${PROJECT_SOURCE_DIR}/include)
endif()
