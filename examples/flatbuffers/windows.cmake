# SPDX-License-Identifier: Apache-2.0 OR MIT
#
# The FlatBuffers example under Wine (README.md here, "On Windows"):
# included by cmake/windows-tests.cmake in a Windows build (mingw-w64,
# cmake/mingw-w64.cmake), where ctest runs the host through Wine
# (CMAKE_CROSSCOMPILING_EMULATOR, tools/wine/run).  The C++ host is
# cross-built (flatc runs on Linux; FlatBuffers' C++ library is header-only,
# and the cross compiler sees it through a directory of the build that holds
# only a link named flatbuffers, never /usr/include itself), the Go guest is
# built with GOOS=windows, and they run together with the Linux test's
# checks: every answer checked, the copies counted on both sides.  Needs
# C++, flatc, Debian's libflatbuffers-dev headers and Go; the Wine prefix
# needs the ProcessPrng DLL for Go binaries (tools/wine).
set(RILL_FB_HEADERS /usr/include/flatbuffers CACHE PATH
    "the host's FlatBuffers C++ headers (the directory holding flatbuffers.h)")
# The guest needs the Go binding's Windows port (bindings/go/sys_windows.go).
if(RILL_CXX AND RILL_FLATC AND RILL_GO_EXE AND EXISTS ${RILL_FB_HEADERS}/flatbuffers.h
   AND EXISTS ${PROJECT_SOURCE_DIR}/bindings/go/sys_windows.go AND NOT TARGET rill_fbhost)
  set(fb ${PROJECT_SOURCE_DIR}/examples/flatbuffers)
  set(fb_gen ${PROJECT_BINARY_DIR}/flatbuffers/gen)
  set(fb_inc ${PROJECT_BINARY_DIR}/flatbuffers/include)
  file(MAKE_DIRECTORY ${fb_inc})
  file(CREATE_LINK ${RILL_FB_HEADERS} ${fb_inc}/flatbuffers SYMBOLIC)
  add_custom_command(OUTPUT ${fb_gen}/calc_generated.h
                     COMMAND ${RILL_FLATC} --cpp -o ${fb_gen} ${fb}/calc.fbs
                     DEPENDS ${fb}/calc.fbs
                     COMMENT "flatc --cpp calc.fbs")
  add_executable(rill_fbhost EXCLUDE_FROM_ALL ${fb}/host.cpp ${fb_gen}/calc_generated.h)
  target_include_directories(rill_fbhost PRIVATE ${fb_gen} ${fb_inc})
  # libstdc++, libgcc and winpthread inside the .exe: Wine has no mingw DLLs
  target_link_libraries(rill_fbhost PRIVATE rill_static -static)
  add_dependencies(rill_tests rill_fbhost)
  file(GLOB_RECURSE fb_guest_src CONFIGURE_DEPENDS ${fb}/guest/*.go ${fb}/guest/go.mod
       ${PROJECT_SOURCE_DIR}/bindings/go/*.go ${PROJECT_SOURCE_DIR}/bindings/go/go.mod
       ${PROJECT_SOURCE_DIR}/go.work)
  set(fb_guest ${PROJECT_BINARY_DIR}/rill-fbguest.exe)
  add_custom_command(OUTPUT ${fb_guest}
                     COMMAND ${CMAKE_COMMAND} -E env GOOS=windows GOARCH=amd64 CGO_ENABLED=0
                             ${RILL_GO_EXE} build -o ${fb_guest} .
                     WORKING_DIRECTORY ${fb}/guest
                     DEPENDS ${fb_guest_src}
                     COMMENT "GOOS=windows go build rill-fbguest.exe")
  add_custom_target(rill_fbguest DEPENDS ${fb_guest})
  add_dependencies(rill_tests rill_fbguest)
  # the host starts the guest by its Windows path (Wine's Z: is /)
  string(REPLACE "/" "\\" fb_guest_win "Z:${fb_guest}")
  add_test(NAME flatbuffers_example
           COMMAND rill_fbhost --guest ${fb_guest_win} --calls 200000 --inflight 16)
  set_tests_properties(flatbuffers_example PROPERTIES TIMEOUT 300)
endif()
