#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 OR MIT
#
# tests/build/configure.sh SRC SCRATCH: what configure and `make test` do
# when a tool is missing or too old.  A fake `go` that says it is Go 1.19
# comes first on PATH:
#   - configure still succeeds, and its table of components says the Go
#     binding is off because Go 1.19 is older than 1.22;
#   - `make test` stops at once, before building anything, with one line
#     that names what to install;
#   - a plain `make` still builds librill (and its freestanding core,
#     librill_core.a) and rill, and nothing else.
set -eu
src=$1 scratch=$2
unset MAKEFLAGS MFLAGS MAKELEVEL || true
fail() { echo "FAIL: $*"; exit 1; }
rm -rf "$scratch"
mkdir -p "$scratch/bin"
cat >"$scratch/bin/go" <<'GO'
#!/bin/sh
[ "$1 $2" = "env GOVERSION" ] && { echo go1.19.8; exit 0; }
echo "go version go1.19.8 linux/amd64"
GO
chmod +x "$scratch/bin/go"
PATH=$scratch/bin:$PATH
export PATH

out=$(cmake -S "$src" -B "$scratch/build" 2>&1) || { echo "$out"; fail "configure failed"; }
echo "$out" | sed -n '/what this build has/,/^-- Configuring/p'
echo "$out" | grep -q "Go binding  *off  *Go 1.19.8 found, 1.22 or newer needed  *Go 1.22 or newer from https://go.dev/dl" ||
  fail "the table does not say that Go 1.19 is too old and where to get a newer one"

out=$(make -C "$src" test BUILD="$scratch/build" 2>&1) && fail "make test ran without Go"
echo "$out"
[ "$(echo "$out" | grep -c 'make test needs')" = 1 ] || fail "make test did not say in one line what it needs"
echo "$out" | grep 'make test needs' | grep -q "Go 1.22 or newer" || fail "the line does not name Go"
[ -e "$scratch/build/test_channel" ] && fail "make test built tests before stopping"

make -s -C "$src" BUILD="$scratch/build" >/dev/null 2>&1 || fail "a plain make failed"
for f in librill.so librill.a librill_core.a rill; do [ -e "$scratch/build/$f" ] || fail "make did not build $f"; done
for f in rill_bench test_channel rill_xpeer rill-fbguest; do
  [ -e "$scratch/build/$f" ] && fail "a plain make built $f"
done
rm -rf "$scratch"
echo "configure test passed"
