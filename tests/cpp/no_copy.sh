#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 OR MIT
# no_copy.sh CXX INCLUDE_DIR: tests/cpp/no_copy.cpp compiles with CASE 0
# (moves) and fails to compile for every case that copies a handle.
set -u
cxx=$1
inc=$2
src=$(dirname "$0")/no_copy.cpp
"$cxx" -std=c++17 -fsyntax-only -Wall -Wextra -Werror -I"$inc" -DCASE=0 "$src" ||
  { echo "no_copy: the moves do not compile"; exit 1; }
for c in 1 2 3 4 5 6 7; do
  if "$cxx" -std=c++17 -fsyntax-only -I"$inc" -DCASE=$c "$src" 2>/dev/null; then
    echo "no_copy: case $c (a copy) compiled"
    exit 1
  fi
done
echo "no_copy: copying every handle is ill-formed"
