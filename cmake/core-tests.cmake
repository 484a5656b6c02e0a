# SPDX-License-Identifier: Apache-2.0 OR MIT
#
# The freestanding core's tests (include/rill_core.h, librill_core.a), on
# Linux and in the Windows cross build alike (cmake/tests.cmake and
# cmake/windows-tests.cmake include this file):
#   core_symbols        the undefined symbols of librill_core.a are memcpy
#                       and memset (and, in a sanitizer build, the
#                       sanitizer's runtime), checked with the toolchain's nm;
#   test_core           a producer and three consumer threads over a channel
#                       in memory of the test's, through the core's calls only;
#   test_core_interop   the core beside librill: the same bytes as
#                       rill_channel_create(), a core producer read by a
#                       rill_consumer, a rill_producer read by core consumers.
foreach(name test_core test_core_interop)
  if(NOT TARGET ${name}) # on Linux, the glob of tests/test_*.c made it
    rill_test_program(${name} ${PROJECT_SOURCE_DIR}/tests/${name}.c)
    add_test(NAME ${name} COMMAND ${name})
    set_tests_properties(${name} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600
                                            ENVIRONMENT "${RILL_TSAN_ENV}")
  endif()
  target_link_libraries(${name} PRIVATE rill_core)
endforeach()

set(nm "${CMAKE_NM}")
if(NOT nm)
  set(nm nm)
endif()
add_test(NAME core_symbols COMMAND sh ${PROJECT_SOURCE_DIR}/tests/core/symbols.sh ${nm}
         $<TARGET_FILE:rill_core> ${PROJECT_SOURCE_DIR}/include/rill_core.h "${RILL_SANITIZE}")
