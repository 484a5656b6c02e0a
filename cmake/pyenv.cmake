# SPDX-License-Identifier: Apache-2.0 OR MIT
#
# A Python virtual environment with pinned packages, for the tests:
#   cmake -DPYTHON=python3 -DVENV=build/cli-venv -DREQUIREMENTS=tests/cli/requirements.txt
#         -P cmake/pyenv.cmake
# Run when `make test` builds the tests (never at configure); writes
# VENV/rill-requirements.stamp when done, so it runs again only when the
# requirements change.
#
# With -DPACKAGE=DIR it then installs the Python project in DIR into the
# venv too (pip, with the build backend the requirements installed, so no
# isolated build environment is fetched), building it in -DPACKAGE_BUILD=
# (not in the source tree), and writes VENV/rill-package.stamp instead.
# -DPACKAGE_CC= and -DPACKAGE_CFLAGS= set CC and CFLAGS for that build.
foreach(v PYTHON VENV REQUIREMENTS)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "cmake/pyenv.cmake: -D${v}= is missing")
  endif()
endforeach()
execute_process(COMMAND ${PYTHON} -m venv ${VENV} RESULT_VARIABLE rc)
if(rc EQUAL 0)
  execute_process(COMMAND ${VENV}/bin/python -m pip install -q --disable-pip-version-check
                          -r ${REQUIREMENTS} RESULT_VARIABLE rc)
endif()
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "could not install ${REQUIREMENTS} into ${VENV} (PyPI must be "
                      "reachable, or install those packages for ${PYTHON})")
endif()
if(NOT DEFINED PACKAGE)
  file(WRITE ${VENV}/rill-requirements.stamp "")
  return()
endif()
if(NOT DEFINED PACKAGE_BUILD)
  message(FATAL_ERROR "cmake/pyenv.cmake: -DPACKAGE_BUILD= is missing")
endif()
file(MAKE_DIRECTORY ${PACKAGE_BUILD})
set(env RILL_PY_BUILD_DIR=${PACKAGE_BUILD})
if(DEFINED PACKAGE_CC)
  list(APPEND env "CC=${PACKAGE_CC}")
endif()
if(DEFINED PACKAGE_CFLAGS)
  list(APPEND env "CFLAGS=${PACKAGE_CFLAGS}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -E env ${env}
                        ${VENV}/bin/python -m pip install -q --disable-pip-version-check
                        --no-build-isolation --no-deps --force-reinstall --no-cache-dir ${PACKAGE}
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "could not build and install ${PACKAGE} into ${VENV} (a C compiler "
                      "and Python's headers are needed: apt-get install python3-dev)")
endif()
file(WRITE ${VENV}/rill-package.stamp "")
