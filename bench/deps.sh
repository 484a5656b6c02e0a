#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 OR MIT
#
# bench/deps.sh BUILD: what `make bench` does about the peers and tools it
# lacks (configure lists them in BUILD/rill-bench-missing.txt).  Debian's
# packages (the peers, matplotlib) are installed with `make bench-deps`
# when this user may (root, or sudo without a password), and it says so;
# otherwise it prints the command to run and the benchmark goes on without
# them.  Go and Rust do not come from apt-get here: it says where to get
# them.
set -eu
build=${1:?usage: bench/deps.sh BUILD}
list=$build/rill-bench-missing.txt
[ -s "$list" ] || exit 0
echo "make bench: this machine lacks some of the benchmark's peers and tools:"
sed 's/^/  /' "$list"
grep -q 'apt-get install' "$list" || exit 0
if [ "$(id -u)" = 0 ]; then
  sudo=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo="sudo -n"
else
  echo "make bench: going on without them; to have them all, run: sudo make bench-deps"
  exit 0
fi
echo "make bench: installing the Debian packages with ${sudo:+$sudo }make bench-deps"
if ! $sudo ${MAKE:-make} --no-print-directory bench-deps BUILD="$build"; then
  echo "make bench: make bench-deps failed; going on without them"
  exit 0
fi
# (make bench-deps configured the build again, so the list is current)
if [ -s "$list" ]; then
  echo "make bench: still missing after make bench-deps:"
  sed 's/^/  /' "$list"
fi
