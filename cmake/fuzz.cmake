# SPDX-License-Identifier: Apache-2.0 OR MIT
#
# Fuzzing (tests/fuzz, docs/testing.md).  Two targets, each a
# LLVMFuzzerTestOneInput(): fuzz_region (a region file's bytes) and
# fuzz_consumer (a program of legitimate and hostile operations on a live
# channel).  Their committed seed corpus (tests/fuzz/corpus/TARGET, made by
# rill_fuzz_corpus) is replayed as a test by every `make test`:
#   - with clang and libFuzzer (cmake/components.cmake, RILL_FUZZ), by the
#     libFuzzer programs rill_fuzz_TARGET, built with the library's sources
#     instrumented (-fsanitize=fuzzer-no-link,address,undefined); target
#     rill_fuzz builds them, `make fuzz` runs them for a while
#     (tests/fuzz/run.sh);
#   - otherwise by rill_fuzz_replay_TARGET (tests/fuzz/replay.c), the same
#     target run once per input against librill.a as this build made it.
# Nothing here is built by a plain build.
set(RILL_FUZZ_TARGETS region consumer)
set(fdir ${PROJECT_SOURCE_DIR}/tests/fuzz)

# the corpus generator (tests/fuzz/gen_corpus.c): built on request only
add_executable(rill_fuzz_corpus EXCLUDE_FROM_ALL ${fdir}/gen_corpus.c ${fdir}/fuzz.c)
target_link_libraries(rill_fuzz_corpus PRIVATE rill_static)
target_include_directories(rill_fuzz_corpus PRIVATE ${PROJECT_SOURCE_DIR}/src)

if(RILL_FUZZ)
  set(RILL_FUZZ_FLAGS -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=all)
  add_library(rill_fuzz_objects OBJECT EXCLUDE_FROM_ALL ${RILL_SOURCES})
  target_include_directories(rill_fuzz_objects PUBLIC ${PROJECT_SOURCE_DIR}/include
                                               PRIVATE ${PROJECT_SOURCE_DIR}/src)
  target_compile_options(rill_fuzz_objects PRIVATE -fsanitize=fuzzer-no-link,address,undefined
                         -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_custom_target(rill_fuzz)
  file(MAKE_DIRECTORY ${PROJECT_BINARY_DIR}/fuzz-artifacts)
  foreach(t ${RILL_FUZZ_TARGETS})
    add_executable(rill_fuzz_${t} EXCLUDE_FROM_ALL ${fdir}/fuzz_${t}.c ${fdir}/fuzz.c
                   $<TARGET_OBJECTS:rill_fuzz_objects>)
    target_include_directories(rill_fuzz_${t} PRIVATE ${PROJECT_SOURCE_DIR}/include
                                                      ${PROJECT_SOURCE_DIR}/src)
    target_compile_options(rill_fuzz_${t} PRIVATE ${RILL_FUZZ_FLAGS})
    target_link_options(rill_fuzz_${t} PRIVATE ${RILL_FUZZ_FLAGS})
    target_link_libraries(rill_fuzz_${t} PRIVATE Threads::Threads)
    add_dependencies(rill_fuzz rill_fuzz_${t})
    add_dependencies(rill_tests rill_fuzz_${t})
    # every seed run once (-runs=0: no fuzzing; nothing written to the corpus)
    # (a failing one is saved in fuzz-artifacts/)
    add_test(NAME fuzz_${t} COMMAND $<TARGET_FILE:rill_fuzz_${t}> -runs=0 -timeout=30
             -artifact_prefix=${PROJECT_BINARY_DIR}/fuzz-artifacts/ ${fdir}/corpus/${t})
  endforeach()
else()
  add_custom_target(rill_fuzz
    COMMAND ${CMAKE_COMMAND} -E echo "the fuzz targets need clang with libFuzzer, and no ThreadSanitizer (see the table of components)"
    COMMAND ${CMAKE_COMMAND} -E false)
  foreach(t ${RILL_FUZZ_TARGETS})
    rill_test_program(rill_fuzz_replay_${t} ${fdir}/replay.c ${fdir}/fuzz_${t}.c ${fdir}/fuzz.c)
    add_test(NAME fuzz_${t} COMMAND rill_fuzz_replay_${t} ${fdir}/corpus/${t})
  endforeach()
endif()
foreach(t ${RILL_FUZZ_TARGETS})
  set_tests_properties(fuzz_${t} PROPERTIES TIMEOUT 300 ENVIRONMENT "${RILL_TSAN_ENV}")
endforeach()
