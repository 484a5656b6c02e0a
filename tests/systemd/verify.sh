#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 OR MIT
# The systemd units of dist/systemd, the service naming this build's rill
# (installed, it names rill, which systemd finds in /usr/bin or
# /usr/local/bin), checked by `systemd-analyze verify` (which
# fails on a unit it cannot load or a command that is not there; a key
# it does not know it only warns about, so any output fails too), then
# the service's command line run as it is written, with --dry-run, over
# a directory with a region nobody uses.
# Usage: verify.sh SOURCE_DIR BUILD_DIR
set -eu
src=$1 build=$(cd "$2" && pwd)
command -v systemd-analyze >/dev/null 2>&1 || { echo "no systemd-analyze: skipped"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

sed "s|^ExecStart=rill |ExecStart=$build/rill |" "$src/dist/systemd/rill-clean.service" \
  > "$work/rill-clean.service"
cp "$src/dist/systemd/rill-clean.timer" "$work/"
grep -q "^ExecStart=$build/rill clean " "$work/rill-clean.service" ||
  fail "the service does not run 'rill clean' (found on systemd's search path)"
out=$(cd "$work" && systemd-analyze verify ./rill-clean.service ./rill-clean.timer 2>&1) ||
  fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify warns: $out"

# The timer starts the service of its own name (no Unit= elsewhere).
! grep -q '^Unit=' "$work/rill-clean.timer" || fail "the timer names another unit"

# ExecStart as written, over a region nobody uses: with --dry-run it is
# kept; with the grace period set to 0 (the region is seconds old) it goes.
exec_line=$(sed -n 's/^ExecStart=//p' "$work/rill-clean.service")
[ -n "$exec_line" ] || fail "no ExecStart"
mkdir "$work/dir"
"$build/rill" --dir "$work/dir" create stale --size 1M >/dev/null
# shellcheck disable=SC2086 # the line is split as systemd splits it (no quotes in it)
out=$(RILL_DIR="$work/dir" $exec_line --dry-run) || fail "$exec_line --dry-run: $out"
[ -e "$work/dir/stale" ] || fail "--dry-run removed the region"
# shellcheck disable=SC2086
out=$(RILL_DIR="$work/dir" $(echo "$exec_line" | sed 's/--min-age [^ ]*/--min-age 0/')) ||
  fail "$exec_line with --min-age 0: $out"
[ ! -e "$work/dir/stale" ] || fail "rill clean as the service runs it kept a region nobody uses: $out"
echo "ok: rill-clean.service and rill-clean.timer verified; ExecStart runs"
