#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 OR MIT
# run.sh XPEER SCRATCH [COUNT [SENT [SEED]]]
#
# A user's Go program outside the repository reads a stream that the C
# library publishes.  consumer.go (here) is built as a module of its own by
# tests/go_outside.sh, in SCRATCH/app, and joins a channel in SCRATCH/dir as
# a reliable consumer; once it has printed "ready" (read from a FIFO: no
# sleeps), the C peer XPEER (rill_xpeer) produces COUNT messages (default
# 200000) of the stream of seed 7 (tests/vectors/README.md), which the
# consumer checks one by one, every byte.  Passes (exit 0) when both exit 0
# and the consumer says "ok COUNT"; SCRATCH is then removed.
#
# SENT (default COUNT) is how many messages the producer sends and SEED
# (default 7) the seed the consumer checks against: a run with SENT < COUNT
# (a message missing) or another SEED (every message wrong) must fail.
set -u
if [ $# -lt 2 ] || [ $# -gt 5 ]; then
  echo "usage: run.sh XPEER SCRATCH [COUNT [SENT [SEED]]]" >&2
  exit 2
fi
x=$1
scratch=$2
count=${3:-200000}
sent=${4:-$count}
cseed=${5:-7}
seed=7
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

fail() {
  echo "go_outside: $*" >&2
  [ -n "${cons:-}" ] && kill "$cons" 2>/dev/null
  exit 1
}

rm -rf "$scratch" && mkdir -p "$scratch/dir" || fail "cannot make $scratch"
scratch=$(cd "$scratch" && pwd)
# depth 256, mtu 512, 4 consumer slots, messages up to 4096 bytes (so some
# come in fragments), 1 MiB region
"$x" create "$scratch/dir" st c 256 512 4 4096 1048576 || fail "create failed"
mkfifo "$scratch/consumer.out" || fail "mkfifo failed"

sh "$root/tests/go_outside.sh" "$root" "$here/consumer.go" "$scratch/app" \
  "$scratch/dir" st c "$count" "$cseed" >"$scratch/consumer.out" &
cons=$!
# Opening the FIFO waits for its writer; if the build or the consumer fails
# before "ready", the read gets end-of-file.
exec 3<"$scratch/consumer.out"
read -r line <&3 || line=
[ "$line" = ready ] || fail "consumer: expected 'ready', got '$line'"

"$x" produce "$scratch/dir" st c "$sent" "$seed"
prc=$?
wait "$cons"
crc=$?
cons=
read -r res <&3 || res=
exec 3<&-

[ "$prc" -eq 0 ] || fail "produce exited $prc"
[ "$crc" -eq 0 ] || fail "consumer exited $crc"
[ "$res" = "ok $count" ] || fail "consumer: expected 'ok $count', got '$res'"
echo "go_outside: a Go module outside the repository received the $count messages of a C producer intact"
rm -rf "$scratch"
exit 0
