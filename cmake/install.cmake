# SPDX-License-Identifier: Apache-2.0 OR MIT
#
# What `make install` / `cmake --install` puts under the prefix, which is
# read at install time (`make install PREFIX=X`, `cmake --install build
# --prefix X`), so nothing installed names the configure-time prefix:
#
#   lib/librill.so.*, lib/librill.a     the library (targets rill, rill_static)
#   include/rill.h, include/rill_rpc.h  its headers
#   lib/librill_core.a, include/rill_core.h   the freestanding core (target rill_core)
#   lib/pkgconfig/rill.pc, rill-core.pc relocatable (${pcfiledir})
#   lib/cmake/rill/                     find_package(rill CONFIG): rill::rill,
#                                       rill::rill_static, rill::rill_core
#   bin/rill                            the command line
#   share/man/man1/rill.1, share/man/man3/librill.3   generated from docs/ (go-md2man)
#   share/doc/rill/                     licenses, README, CHANGELOG
#   share/rill/systemd/                 rill-clean.service and .timer (docs/cli.md)
#
# `make uninstall PREFIX=X` (cmake/uninstall.cmake) removes exactly this.
include(CMakePackageConfigHelpers)

set(RILL_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/rill)
# (RUNTIME: rill.dll on Windows, which goes beside the programs)
install(TARGETS rill rill_static rill_core EXPORT rill-targets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${RILL_HEADERS} ${RILL_CORE_HEADERS} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
if(TARGET rill_cli)
  install(TARGETS rill_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

# pkg-config: the prefix is found from the .pc file's own place.
# (A directory given as an absolute path stays absolute.)
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(RILL_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  set(RILL_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
else()
  file(RELATIVE_PATH up "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
  string(REGEX REPLACE "/$" "" up "${up}")
  set(RILL_PC_PREFIX "\${pcfiledir}/${up}")
  set(RILL_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(RILL_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(RILL_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
configure_file(rill.pc.in rill.pc @ONLY)
configure_file(rill-core.pc.in rill-core.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/rill.pc ${PROJECT_BINARY_DIR}/rill-core.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# find_package(rill CONFIG): relocatable too (paths relative to the file).
install(EXPORT rill-targets NAMESPACE rill:: DESTINATION ${RILL_CMAKE_DIR})
configure_package_config_file(cmake/rill-config.cmake.in ${PROJECT_BINARY_DIR}/rill-config.cmake
                              INSTALL_DESTINATION ${RILL_CMAKE_DIR})
# A later version keeps the API and ABI of an earlier one (rill.h), so
# find_package(rill 0.2) accepts 0.2 and anything after it with major 0.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/rill-config-version.cmake
                                 COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/rill-config.cmake ${PROJECT_BINARY_DIR}/rill-config-version.cmake
        DESTINATION ${RILL_CMAKE_DIR})

# Man pages, made from the docs when installing (cmake/man.cmake).
if(RILL_MAN)
  set(man ${PROJECT_BINARY_DIR}/man)
  set(RILL_MAN_PAGES
    "docs/cli.md|rill|1|see, watch and manage rill shared-memory regions and channels"
    "docs/api.md|librill|3|lock-free shared-memory channels between processes (the C library)")
  foreach(page ${RILL_MAN_PAGES})
    rill_fields("${page}" src name sec what)
    install(CODE "
      execute_process(COMMAND \"${CMAKE_COMMAND}\" -DMD2MAN=${RILL_MD2MAN}
                        -DINPUT=${PROJECT_SOURCE_DIR}/${src} -DOUTPUT=${man}/${name}.${sec}
                        -DNAME=${name} -DSECTION=${sec} \"-DWHAT=${what}\"
                        -DVERSION=${PROJECT_VERSION} -P ${PROJECT_SOURCE_DIR}/cmake/man.cmake
                      RESULT_VARIABLE rc)
      if(NOT rc EQUAL 0)
        message(FATAL_ERROR \"could not make the man page ${name}(${sec}) from ${src}\")
      endif()")
    install(FILES ${man}/${name}.${sec} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${sec})
  endforeach()
else()
  install(CODE "message(STATUS \"man pages left out: go-md2man not found (apt-get install go-md2man)\")")
endif()

install(FILES LICENSE-APACHE LICENSE-MIT README.md CHANGELOG.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})

# The systemd units (systemd finds rill in /usr/bin or /usr/local/bin).
if(TARGET rill_cli AND NOT WIN32)
  install(FILES dist/systemd/rill-clean.service dist/systemd/rill-clean.timer
          DESTINATION ${CMAKE_INSTALL_DATADIR}/rill/systemd)
endif()

# cmake --build build --target uninstall: what was installed under the
# configured prefix (make uninstall PREFIX=X for another one).
add_custom_target(uninstall
  COMMAND ${CMAKE_COMMAND} -DBUILD=${PROJECT_BINARY_DIR} -DPREFIX=${CMAKE_INSTALL_PREFIX}
          -P ${PROJECT_SOURCE_DIR}/cmake/uninstall.cmake
  COMMENT "removing rill from ${CMAKE_INSTALL_PREFIX}" VERBATIM)
