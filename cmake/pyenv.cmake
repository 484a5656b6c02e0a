# SPDX-License-Identifier: Apache-2.0 OR MIT
#
# A Python virtual environment with pinned packages, for the tests:
#   cmake -DPYTHON=python3 -DVENV=build/cli-venv -DREQUIREMENTS=tests/cli/requirements.txt
#         -P cmake/pyenv.cmake
# Run when `make test` builds the tests (never at configure); writes
# VENV/rill-requirements.stamp when done, so it runs again only when the
# requirements change.
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
file(WRITE ${VENV}/rill-requirements.stamp "")
