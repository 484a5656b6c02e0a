#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 OR MIT
# xpeer_stream.sh XPEER DIR [COUNT]
#
# The C-to-C run of the message stream (tests/vectors/README.md): in a fresh
# DIR, makes a channel, starts a reliable consumer and a slow lossy consumer
# in the background, waits for the "ready" line of each (read from a FIFO:
# no sleeps), then produces COUNT messages (default 200000).  Passes when the
# three processes exit 0 and the lossy one reports "ok RECEIVED LOST".
set -u
x=$1
dir=$2
count=${3:-200000}
seed=7

fail() {
  echo "xpeer_stream: $*" >&2
  [ -n "${rel:-}" ] && kill "$rel" 2>/dev/null
  [ -n "${lossy:-}" ] && kill "$lossy" 2>/dev/null
  exit 1
}

rm -rf "$dir" && mkdir -p "$dir" || fail "cannot make $dir"
# depth 256, mtu 512, 4 consumer slots, messages up to 4096 bytes, 1 MiB region
"$x" create "$dir" st c 256 512 4 4096 1048576 || fail "create failed"
mkfifo "$dir/rel.out" "$dir/lossy.out" || fail "mkfifo failed"

"$x" consume "$dir" st c "$count" "$seed" reliable >"$dir/rel.out" &
rel=$!
"$x" consume "$dir" st c "$count" "$seed" lossy slow >"$dir/lossy.out" &
lossy=$!
# Opening a FIFO for reading waits for its writer; a consumer that dies
# before "ready" closes it, and the read below gets end-of-file.
exec 3<"$dir/rel.out" 4<"$dir/lossy.out"
read -r line <&3 || line=
[ "$line" = ready ] || fail "reliable consumer: expected 'ready', got '$line'"
read -r line <&4 || line=
[ "$line" = ready ] || fail "lossy consumer: expected 'ready', got '$line'"

"$x" produce "$dir" st c "$count" "$seed"
prc=$?
wait "$rel"
rrc=$?
rel=
wait "$lossy"
lrc=$?
lossy=
read -r res <&4 || res=
exec 3<&- 4<&-

[ "$prc" -eq 0 ] || fail "produce exited $prc"
[ "$rrc" -eq 0 ] || fail "reliable consume exited $rrc"
[ "$lrc" -eq 0 ] || fail "lossy consume exited $lrc"
set -- $res
[ "$#" -eq 3 ] && [ "$1" = ok ] || fail "lossy consumer: expected 'ok RECEIVED LOST', got '$res'"
echo "xpeer_stream: $count messages; lossy consumer got $2, lost $3 descriptors"
rm -rf "$dir"
exit 0
