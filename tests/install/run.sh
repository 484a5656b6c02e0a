#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 OR MIT
#
# tests/install/run.sh SRC BUILD SCRATCH: rill installed as a user installs
# it, and used as a user uses it.
#   1. make install PREFIX=SCRATCH/prefix after the build (the prefix given
#      at install time), then the prefix moved elsewhere: what is installed
#      must not name the place it was installed to;
#   2. the README's C quickstart built with pkg-config, and a CMake project
#      (tests/install/project) with find_package(rill CONFIG), linking
#      rill::rill and rill::rill_static: all run; the freestanding core
#      (tests/install/project/core.c) built with pkg-config rill-core and
#      with rill::rill_core, linked with librill_core.a alone;
#   3. the rill command, the man pages, no benchmark in bin;
#   4. make uninstall: nothing is left;
#   5. a prefix that cannot be written: make install fails, naming it and
#      why, and leaves nothing behind (root: read-only tmpfs mounts; others:
#      chmod).
# CC and CFLAGS (sanitizer flags) come from the environment.
set -eu
src=$1 build=$2 scratch=$3
CC=${CC:-cc}
CFLAGS=${CFLAGS:-}
MAKE=${MAKE:-make}
# the make that runs this test must not lend its jobserver to ours
unset MAKEFLAGS MFLAGS MAKELEVEL || true
fail() { echo "FAIL: $*"; exit 1; }
step() { printf '\n== %s\n' "$*"; }

mounts=""
cleanup() {
  for m in $mounts; do umount "$m" 2>/dev/null || true; done
  chmod -R u+w "$scratch" 2>/dev/null || true
  rm -rf "$scratch"
}
trap cleanup EXIT
rm -rf "$scratch"
mkdir -p "$scratch"

step "make install PREFIX=$scratch/prefix"
$MAKE -s -C "$src" install BUILD="$build" PREFIX="$scratch/prefix" >"$scratch/install.log" 2>&1 ||
  { cat "$scratch/install.log"; fail "make install"; }
mv "$scratch/prefix" "$scratch/moved"
p=$scratch/moved
find "$p" -type f | sed "s|^$p/||" | sort
grep -rl "$scratch/prefix" "$p" && fail "installed files name the prefix they were installed to"
pc=$(dirname "$(find "$p" -name rill.pc)")
[ -n "$pc" ] || fail "no rill.pc"
lib=$(dirname "$(find "$p" -name 'librill.so' | head -n 1)")

step "the README's C quickstart, built with pkg-config"
export PKG_CONFIG_PATH=$pc
# rill.pc finds its prefix from where it lies (not from a rill installed
# elsewhere on this machine, which the builds below might use instead)
[ "$(cd "$(pkg-config --variable=prefix rill)" && pwd -P)" = "$(cd "$p" && pwd -P)" ] ||
  fail "rill.pc's prefix is $(pkg-config --variable=prefix rill), not where it was moved, $p"
"${PYTHON:-python3}" "$src/tests/readme/check.py" extract c >"$scratch/quickstart.c"
# shellcheck disable=SC2046
$CC $CFLAGS "$scratch/quickstart.c" $(pkg-config --cflags --libs rill) -o "$scratch/quickstart" ||
  fail "the quickstart does not build with pkg-config"
mkdir "$scratch/run"
(cd "$scratch/run" && RILL_DIR="$scratch/run" LD_LIBRARY_PATH="$lib" "$scratch/quickstart") ||
  fail "the quickstart did not run"
[ "$(pkg-config --modversion rill)" = "$("$p/bin/rill" --version | sed -n 's/^rill \([0-9.]*\).*/\1/p')" ] ||
  fail "rill.pc's version is not the rill command's"

step "a program of the freestanding core, built with pkg-config rill-core"
# shellcheck disable=SC2046
$CC $CFLAGS "$src/tests/install/project/core.c" $(pkg-config --cflags --libs rill-core) \
    -o "$scratch/core" || fail "the core program does not build with pkg-config rill-core"
"$scratch/core" || fail "the core program did not run"
ldd "$scratch/core" | grep -q 'librill\.so' && fail "the core program is linked with librill.so"

step "a CMake project with find_package(rill CONFIG REQUIRED)"
cmake -S "$src/tests/install/project" -B "$scratch/project" -DCMAKE_PREFIX_PATH="$p" \
      -DCMAKE_C_COMPILER="$CC" -DCMAKE_C_FLAGS="$CFLAGS" >"$scratch/project.log" 2>&1 &&
  cmake --build "$scratch/project" >>"$scratch/project.log" 2>&1 ||
  { cat "$scratch/project.log"; fail "the find_package project does not build"; }
grep -q "^rill_DIR:PATH=$p/" "$scratch/project/CMakeCache.txt" ||
  fail "find_package found $(grep '^rill_DIR' "$scratch/project/CMakeCache.txt"), not the moved prefix"
for exe in uses_shared uses_static uses_core; do
  (cd "$scratch/run" && RILL_DIR="$scratch/run" LD_LIBRARY_PATH="$lib" "$scratch/project/$exe") ||
    fail "$exe did not run"
done
ldd "$scratch/project/uses_shared" | grep -q 'librill\.so' || fail "uses_shared is not linked with librill.so"
ldd "$scratch/project/uses_static" | grep -q 'librill\.so' && fail "uses_static is linked with librill.so"
ldd "$scratch/project/uses_core" | grep -q 'librill\.so' && fail "uses_core is linked with librill.so"

step "the command, the man pages, no benchmark installed"
"$p/bin/rill" --version
"$p/bin/rill" --help >/dev/null
for page in man1/rill.1 man3/librill.3; do
  f=$(find "$p" -path "*/man/$page")
  [ -s "$f" ] || fail "no man page $page"
  head -n 5 "$f" | grep -q '^\.TH' || fail "$page is not a man page"
  if command -v groff >/dev/null 2>&1; then
    w=$(groff -K utf-8 -man -ww -z "$f" 2>&1) || true
    [ -z "$w" ] || { echo "$w"; fail "groff warns about $page"; }
  fi
done
ls "$p/bin"
[ "$(ls "$p/bin")" = rill ] || fail "bin holds more than the rill command"

step "make uninstall"
$MAKE -s -C "$src" uninstall BUILD="$build" PREFIX="$p" >"$scratch/uninstall.log" 2>&1 ||
  { cat "$scratch/uninstall.log"; fail "make uninstall"; }
left=$(find "$p" -type f -o -type l)
[ -z "$left" ] || { echo "$left"; fail "make uninstall left files behind"; }
find "$p" -type d -name rill | grep . && fail "make uninstall left rill's own directories"

step "a prefix that cannot be written"
# ro DIR: makes DIR read-only (a read-only tmpfs for root, whom chmod does
# not stop), or says it cannot.
ro() {
  mkdir -p "$1"
  if [ "$(id -u)" = 0 ]; then
    mount -t tmpfs -o ro,size=1m rill-install-test "$1" 2>/dev/null || return 1
    mounts="$1 $mounts"
  else
    chmod a-w "$1"
  fi
}
if ! ro "$scratch/ro"; then
  echo "cannot make a read-only directory here (root without mount): skipped"
  exit 77
fi
out=$($MAKE -s -C "$src" install BUILD="$build" PREFIX="$scratch/ro/x" 2>&1) &&
  fail "make install into a read-only directory succeeded"
echo "$out"
echo "$out" | grep -q "$scratch/ro" || fail "the error does not name the directory"
echo "$out" | grep -qi "permission\|read-only" || fail "the error does not say why"

# half-way: the prefix can be written but its share/ cannot, so the
# library, headers and command go in before the man pages fail
mkdir -p "$scratch/half"
ro "$scratch/half/share"
out=$($MAKE -s -C "$src" install BUILD="$build" PREFIX="$scratch/half" 2>&1) &&
  fail "make install with a read-only share/ succeeded"
echo "$out" | tail -n 3
echo "$out" | grep -q "$scratch/half/share" || fail "the error does not name share/"
left=$(find "$scratch/half" -path "$scratch/half/share" -prune -o \( -type f -o -type l \) -print)
[ -z "$left" ] || { echo "$left"; fail "a failed install left files behind"; }
echo "install test passed"
