# SPDX-License-Identifier: Apache-2.0 OR MIT
#
# Removes from PREFIX every file that installing BUILD there writes:
#   cmake -DBUILD=build -DPREFIX=/usr/local -P cmake/uninstall.cmake
# The list is not a manifest left by an earlier install (which may have
# gone to another prefix, or stopped half-way): the build is installed
# again into a scratch DESTDIR, and what lands there is what goes.  Then
# the directories of rill's own (lib/cmake/rill, share/doc/rill, share/rill/...) are
# removed if empty.  Files that are not there are skipped.
foreach(v BUILD PREFIX)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "cmake/uninstall.cmake: -D${v}= is missing")
  endif()
endforeach()
get_filename_component(PREFIX "${PREFIX}" ABSOLUTE)
set(stage "${BUILD}/uninstall-stage")
file(REMOVE_RECURSE "${stage}")
execute_process(COMMAND ${CMAKE_COMMAND} -E env DESTDIR=${stage}
                        ${CMAKE_COMMAND} --install "${BUILD}" --prefix "${PREFIX}"
                RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  # An install that fails fails here too, at the same step: what it wrote
  # before that step is staged, and is what goes.
  message(WARNING "uninstall: installing into the scratch directory failed too, so only "
                  "what an install writes before that failure is removed")
endif()
file(GLOB_RECURSE staged LIST_DIRECTORIES false RELATIVE "${stage}${PREFIX}" "${stage}${PREFIX}/*")
set(n 0)
set(dirs "")
foreach(rel ${staged})
  set(f "${PREFIX}/${rel}")
  if(EXISTS "${f}" OR IS_SYMLINK "${f}")
    file(REMOVE "${f}")
    if(EXISTS "${f}" OR IS_SYMLINK "${f}")
      message(FATAL_ERROR "uninstall: could not remove ${f}")
    endif()
    message(STATUS "removed ${f}")
    math(EXPR n "${n} + 1")
  endif()
  get_filename_component(d "${f}" DIRECTORY)
  list(APPEND dirs "${d}")
  if(d MATCHES "^(.*/rill)/")  # share/rill/systemd: share/rill as well
    list(APPEND dirs "${CMAKE_MATCH_1}")
  endif()
endforeach()
file(REMOVE_RECURSE "${stage}")
# rill's own directories, deepest first, if nothing else is in them
list(REMOVE_DUPLICATES dirs)
list(SORT dirs)
list(REVERSE dirs)
foreach(d ${dirs})
  if(d MATCHES "/rill(/|$)")
    file(GLOB left "${d}/*")
    if(NOT left)
      file(REMOVE_RECURSE "${d}")
    endif()
  endif()
endforeach()
message(STATUS "uninstall: ${n} files removed from ${PREFIX}")
