#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 OR MIT
# go_outside.sh ROOT MAIN.go SCRATCH [ARG...]
#
# Builds MAIN.go the way a user's program that imports the Go binding is
# built outside the repository, then runs it with the ARGs and exits with
# its status.  In SCRATCH (emptied first) it makes a brand-new module,
# example.com/app, whose go.mod requires github.com/rill-ipc/rill/bindings/go
# v0.2.0, and a go.work that uses it and ROOT/bindings/go, as someone who
# cloned rill (ROOT) does until that version is published; golang.org/x/sys
# comes from the module proxy (or the module cache).  The go.work also
# replaces v0.2.0 by ROOT/bindings/go: Go reads the go.mod of every version
# a module requires, even of a module the workspace uses, and v0.2.0 is
# not published yet (see bindings/go/README.md).
#
# The build's messages go to stderr; stdout is the program's alone.  GO
# names the go command (default: go).  Exit status: the program's; 1 if the
# module could not be made or built (with a line on stderr); 2: usage.
set -u
if [ $# -lt 3 ]; then
  echo "usage: go_outside.sh ROOT MAIN.go SCRATCH [ARG...]" >&2
  exit 2
fi
go=${GO:-go}
fail() {
  echo "go_outside: $*" >&2
  exit 1
}
here=$(pwd)
root=$(cd "$1" && pwd) || fail "no directory $1"
main=$2
scratch=$3
shift 3
[ -f "$root/bindings/go/go.mod" ] || fail "$root is not a rill repository (no bindings/go/go.mod)"
[ -f "$main" ] || fail "no file $main"
rm -rf "$scratch" && mkdir -p "$scratch" || fail "cannot make $scratch"
scratch=$(cd "$scratch" && pwd)
cp "$main" "$scratch/main.go" || fail "cannot copy $main"
bind=$root/bindings/go
mod=github.com/rill-ipc/rill/bindings/go

# The module and the workspace are this directory's alone: no go.work of
# an enclosing directory (SCRATCH may lie inside the repository) takes part.
cd "$scratch" || exit 1
# (go mod init's advice to run go mod tidy does not apply: tidy ignores the
# workspace and would look for v0.2.0 on the proxy.)
out=$(GOWORK=off "$go" mod init example.com/app 2>&1) || fail "go mod init failed: $out"
GOWORK=off "$go" mod edit -require="$mod@v0.2.0" || fail "go mod edit failed"
export GOWORK="$scratch/go.work"
"$go" work init . "$bind" >&2 || fail "go work init failed"
"$go" work edit -replace="$mod@v0.2.0=$bind" || fail "go work edit failed"
# -buildvcs=false: SCRATCH is nobody's repository (it may lie inside
# rill's, whose commit is not this program's).
"$go" build -buildvcs=false -o app . >&2 || fail "go build failed in $scratch"
cd "$here" || exit 1 # relative ARGs name files from where we were called
exec "$scratch/app" "$@"
