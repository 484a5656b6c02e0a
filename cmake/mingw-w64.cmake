# SPDX-License-Identifier: Apache-2.0 OR MIT
#
# Cross-building rill for 64-bit Windows with mingw-w64 (Debian:
# gcc-mingw-w64-x86-64, g++-mingw-w64-x86-64), the programs run under Wine
# (tools/wine/run) when ctest or a custom command runs them:
#   cmake -S . -B build-windows -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64.cmake
# or `make windows` / `make test-windows`.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(RILL_MINGW_PREFIX x86_64-w64-mingw32 CACHE STRING "mingw-w64 tool prefix")
set(CMAKE_C_COMPILER ${RILL_MINGW_PREFIX}-gcc)
set(CMAKE_CXX_COMPILER ${RILL_MINGW_PREFIX}-g++)
set(CMAKE_RC_COMPILER ${RILL_MINGW_PREFIX}-windres)

# Headers and libraries from the mingw-w64 sysroot only; programs from the host.
set(CMAKE_FIND_ROOT_PATH /usr/${RILL_MINGW_PREFIX})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# ctest (and add_custom_command) run the .exe files through Wine.
set(CMAKE_CROSSCOMPILING_EMULATOR ${CMAKE_CURRENT_LIST_DIR}/../tools/wine/run)
