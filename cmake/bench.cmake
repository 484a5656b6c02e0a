# SPDX-License-Identifier: Apache-2.0 OR MIT
#
# The benchmark (docs/benchmark.md), built by target rill_benches (`make
# bench`) and never by a plain build, nor installed: rill_bench, the one
# driver (rill beside its references and real peers, the workers of the
# other languages, request/response, rust-tango, scaling).
# Each real peer is built in when configure found its library
# (cmake/components.cmake), else the benchmark prints how to install it
# and leaves its rows out; `make bench-deps` installs them all.
#
# On Windows (the mingw-w64 build, `make bench-windows`) rill_bench is
# built from the same sources with its Windows OS layer (bench/os.h) and
# measures rill and the in-tree references only: the real peers, the
# kernel references of Linux (pipe, UNIX socket, futex) and the suites
# that start workers stay on Linux; the named-event round trip
# (bench/t_event.c) is Windows's.
add_custom_target(rill_benches)

set(RILL_BENCH_SOURCES bench/main.c bench/harness.c bench/rows.c bench/worker.c
    bench/t_rill.c bench/t_ring.c bench/peers.c)
if(WIN32)
  list(APPEND RILL_BENCH_SOURCES bench/os_win32.c bench/t_event.c)
else()
  list(APPEND RILL_BENCH_SOURCES bench/os_posix.c bench/t_futex.c bench/t_stream.c
       bench/peers_ipc.c bench/t_zmq.c bench/t_nng.c bench/t_iceoryx.c bench/proc.c
       bench/s_lang.c bench/s_scale.c bench/s_tango.c bench/s_bridge.c bench/w_net.c bench/rpc/suite.c bench/rpc/proc.c bench/rpc/t_rill.c bench/rpc/t_sock.c
       bench/rpc/t_zmq.c)
endif()
add_executable(rill_bench EXCLUDE_FROM_ALL ${RILL_BENCH_SOURCES})
target_link_libraries(rill_bench PRIVATE rill_static m)
if(WIN32) # C99's printf (%zu, %llu), not msvcrt's
  target_compile_definitions(rill_bench PRIVATE __USE_MINGW_ANSI_STDIO=1)
endif()
add_dependencies(rill_benches rill_bench)
if(WIN32)
  return()
endif()

target_link_libraries(rill_bench PRIVATE Threads::Threads)

if(ZMQ_FOUND)
  target_link_libraries(rill_bench PRIVATE PkgConfig::ZMQ)
  target_compile_definitions(rill_bench PRIVATE RILL_HAVE_ZMQ)
endif()
if(RILL_NNG_TARGET)
  target_link_libraries(rill_bench PRIVATE ${RILL_NNG_TARGET})
  target_compile_definitions(rill_bench PRIVATE RILL_HAVE_NNG)
endif()
if(RILL_ICEORYX)
  target_link_libraries(rill_bench PRIVATE iceoryx_binding_c::iceoryx_binding_c)
  target_compile_definitions(rill_bench PRIVATE RILL_HAVE_ICEORYX
    RILL_IOX_ROUDI="${RILL_IOX_ROUDI}"
    RILL_ICEORYX_VERSION="${iceoryx_binding_c_VERSION}")
endif()

# The bridge suite (bench/s_bridge.c): the direct NATS clients (nats.c),
# the nats-server it starts, the script that makes its network namespaces,
# and the rill command (its `rill bridge`), built with rill_bench.
if(RILL_BENCH_NATS_FOUND AND RILL_NATS_SERVER)
  target_link_libraries(rill_bench PRIVATE PkgConfig::RILL_BENCH_NATS)
  target_compile_definitions(rill_bench PRIVATE RILL_HAVE_NATS
    RILL_NATS_SERVER="${RILL_NATS_SERVER}" RILL_NATS_C_VERSION="${RILL_BENCH_NATS_VERSION}")
endif()
target_compile_definitions(rill_bench PRIVATE
  RILL_BENCH_NETNS="${PROJECT_SOURCE_DIR}/tests/bridge/netns.sh")
if(TARGET rill_cli)
  add_dependencies(rill_benches rill_cli)
endif()

# The command line's tests run `rill bench --help`, which runs rill_bench.
add_dependencies(rill_tests rill_bench)
