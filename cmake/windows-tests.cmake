# SPDX-License-Identifier: Apache-2.0 OR MIT
#
# The tests of a Windows build (included by cmake/tests.cmake in place of
# the Linux list).  Each runs through CMAKE_CROSSCOMPILING_EMULATOR (Wine,
# tools/wine/run) when cross-built; exit 0 pass, 1 fail, 77 skip.  Tests
# are added here one by one as they are ported (tests/testutil.h's
# portable process helper).

# rill_windows_test(NAME [TIMEOUT]): tests/NAME.c, one program, one test.
function(rill_windows_test name)
  set(timeout 600)
  if(ARGC GREATER 1)
    set(timeout ${ARGV1})
  endif()
  rill_test_program(${name} ${PROJECT_SOURCE_DIR}/tests/${name}.c)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT ${timeout})
endfunction()

# the platform layer itself (src/platform_win32.c), on its own
rill_windows_test(test_win32_platform 300)
# the public API end to end: a producer and a consumer process, the event
rill_windows_test(test_win32_api 300)
# the freestanding core, alone and beside librill, and its undefined
# symbols (cmake/core-tests.cmake, as on Linux)
include(${PROJECT_SOURCE_DIR}/cmake/core-tests.cmake)

# the C peer of the Go binding's cross-language tests (RILL_XPEER), which
# run the Go test binary under Wine against it (bindings/go/README.md)
rill_test_program(rill_xpeer ${PROJECT_SOURCE_DIR}/tests/xpeer.c)
target_compile_definitions(rill_xpeer PRIVATE __USE_MINGW_ANSI_STDIO=1) # %zu

# ---- the Go binding's tests under Wine (GOOS=windows go test -c), against
# that C peer: the shared test vector both ways on Windows, and the rest of
# the Go suite (bindings/go/README.md says which tests skip on Windows)
if(RILL_GO_EXE AND CMAKE_CROSSCOMPILING_EMULATOR)
  set(gotest ${PROJECT_BINARY_DIR}/rill_go_test.exe)
  file(GLOB go_src CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/bindings/go/*.go
       ${PROJECT_SOURCE_DIR}/bindings/go/go.mod)
  add_custom_command(OUTPUT ${gotest}
                     COMMAND ${CMAKE_COMMAND} -E env GOOS=windows GOARCH=amd64 CGO_ENABLED=0
                             ${RILL_GO_EXE} test -c -o ${gotest} .
                     WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}/bindings/go
                     DEPENDS ${go_src} COMMENT "GOOS=windows go test -c rill_go_test.exe")
  add_custom_target(rill_go_test_exe DEPENDS ${gotest})
  add_dependencies(rill_tests rill_go_test_exe)
  # The peer's path as Windows sees it (Wine's drive Z: is /).
  add_test(NAME go_test_wine WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}/bindings/go COMMAND sh -c
           "RILL_REQUIRE_XPEER=1 RILL_XPEER=\"Z:$(echo '$<TARGET_FILE:rill_xpeer>' | tr / '\\\\')\" exec '${CMAKE_CROSSCOMPILING_EMULATOR}' '${gotest}' -test.count=1")
  set_tests_properties(go_test_wine PROPERTIES TIMEOUT 900)
endif()

# ---- the C++ API's tests (tests/cpp/test_*.cpp, as on Linux: each with
# tests/cpp/tu_cpp.c, testutil.h's watchdog, region directory and child
# processes).  test_cpp_xpeer runs against the Windows C peer above and,
# when Go is there, the Go peer: the Go binding's Windows test binary
# (rill_go_test.exe, run with RILL_GO_PEER=1), both by their Windows paths
# (Wine's drive Z: is /).  With both, a missing one fails rather than
# skips (RILL_REQUIRE_XPEER).
if(RILL_CXX)
  string(REPLACE "/" "\\" cpp_xpeer_win "Z:${PROJECT_BINARY_DIR}/rill_xpeer.exe")
  set(cpp_peer_env "RILL_XPEER=${cpp_xpeer_win}")
  if(TARGET rill_go_test_exe)
    string(REPLACE "/" "\\" cpp_gopeer_win "Z:${PROJECT_BINARY_DIR}/rill_go_test.exe")
    list(APPEND cpp_peer_env "RILL_GOPEER=${cpp_gopeer_win}" RILL_REQUIRE_XPEER=1)
  endif()
  file(GLOB RILL_CPP_TESTS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/cpp/test_*.cpp)
  foreach(src ${RILL_CPP_TESTS})
    get_filename_component(name ${src} NAME_WE)
    rill_test_program(${name} ${src} ${PROJECT_SOURCE_DIR}/tests/cpp/tu_cpp.c)
    add_test(NAME ${name} COMMAND ${name})
    set_tests_properties(${name} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600
                                            ENVIRONMENT "${cpp_peer_env}")
  endforeach()
  add_dependencies(test_cpp_xpeer rill_xpeer)
  if(TARGET rill_go_test_exe)
    add_dependencies(test_cpp_xpeer rill_go_test_exe)
  endif()
endif()

# the FlatBuffers example under Wine: C++ host and Go guest (its own file)
include(${PROJECT_SOURCE_DIR}/examples/flatbuffers/windows.cmake)

# ---- the rill command line under Wine (tests/cli/wine_cli.py): rill.exe's
# commands (create, ls, info, monitor --once/--json/--prometheus and on a
# pseudo-terminal, tail, rm, clean) against a channel that
# rill_cli_fixture.exe fills; Python on the build host drives both.
if(TARGET rill_cli)
  rill_test_program(rill_cli_fixture ${PROJECT_SOURCE_DIR}/tests/cli/fixture.c)
  find_program(RILL_HOST_PYTHON NAMES python3)
  if(RILL_HOST_PYTHON AND CMAKE_CROSSCOMPILING_EMULATOR)
    add_test(NAME cli_wine COMMAND ${RILL_HOST_PYTHON} ${PROJECT_SOURCE_DIR}/tests/cli/wine_cli.py
             $<TARGET_FILE:rill_cli> $<TARGET_FILE:rill_cli_fixture>
             ${CMAKE_CROSSCOMPILING_EMULATOR})
    set_tests_properties(cli_wine PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300)
  endif()
endif()

# the portable tests (tests/testutil.h: children are new processes of the
# test program, tu_spawn), from the same sources as on Linux; what is
# Linux-only in them says "skipped on this system" on a line of its own.
# RILL_TEST_SCALE is 10 unless set (testutil.h): Wine starts processes
# slowly and makes every system call dearer.
foreach(t test_region test_channel test_crossproc test_broadcast test_lapping test_hostile
          test_backpressure test_wait test_fault test_rpc test_lazyfence test_batch)
  rill_windows_test(${t} 600)
endforeach()
