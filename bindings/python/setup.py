# SPDX-License-Identifier: Apache-2.0 OR MIT
# The extension rill._rill is made by cffi (API mode) from rill_build.py.
# librill's own C sources (../../src) are compiled into it: they are added
# to the extension by build_ext only, because setuptools lists an
# extension's sources in its manifest and refuses paths outside this
# directory there (nothing is copied: the files are compiled where they are).
import os
import sys

from setuptools import setup
from setuptools.command.build_ext import build_ext

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rill_build  # noqa: E402


class BuildExt(build_ext):
    def build_extension(self, ext):
        if ext.name == "rill._rill":
            ext.sources = list(ext.sources) + [s for s in rill_build.SOURCES if s not in ext.sources]
            ext.depends = list(ext.depends) + rill_build.DEPENDS
        super().build_extension(ext)


# $RILL_PY_BUILD_DIR (set by make test, cmake/pyenv.cmake): build there, not
# in the source tree, so that two build directories do not share one
options = {}
if os.environ.get("RILL_PY_BUILD_DIR"):
    b = os.environ["RILL_PY_BUILD_DIR"]
    os.makedirs(b, exist_ok=True)
    options = {"build": {"build_base": b}, "egg_info": {"egg_base": b}}

setup(cffi_modules=["rill_build.py:ffibuilder"], cmdclass={"build_ext": BuildExt}, options=options)
