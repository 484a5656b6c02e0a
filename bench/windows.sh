#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 OR MIT
#
# rill on Windows (under Wine) beside rill on Linux, in one run, on the same
# two pinned cores (docs/benchmark.md, "Windows under Wine"):
#
#   bench/windows.sh [--quick] [--rounds N] [--cpus A,B] [--out FILE]
#                    [--linux-build DIR] [--windows-build DIR]
#
# Each round runs, in an order that rotates from round to round so that the
# machine's drifts touch every configuration alike:
#
#   linux      the Linux rill_bench
#   linux-nmb  the Linux rill_bench with --no-membarrier: rill's producer
#              fences after every publish (a Windows producer does so only
#              once a consumer that sleeps asks: PROTOCOL.md §3.7a)
#   windows    the Windows rill_bench (rill_bench.exe) under Wine
#
# each with one run per row (--runs 1) of: busy-poll throughput at 64 B and
# 1 KiB (rill-copy, rill-zerocopy, and the in-tree ring), the busy-polling
# round trips, the parked round trip (rill-sleep), and the OS's raw parked
# round trip (futex on Linux, two named events on Windows).
# bench/windows.py then takes the medians over the rounds, writes the JSON
# (FILE, default bench/results/windows.json; each round's own JSON beside it
# in windows-rounds/) and prints the table with the Windows/Linux ratios.
#
# The bar (issue 19): rill's busy-poll throughput under Wine at least 0.8x
# the Linux build's.  The exit status is 1 when a run failed or a payload
# was wrong, not when the bar is missed (the table says so).
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
quick=
rounds=
cpus=0,1
out=$here/bench/results/windows.json
lbuild=$here/build
wbuild=$here/build-windows
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=--quick ;;
    --rounds) rounds=$2; shift ;;
    --cpus) cpus=$2; shift ;;
    --out) out=$2; shift ;;
    --linux-build) lbuild=$2; shift ;;
    --windows-build) wbuild=$2; shift ;;
    -h|--help) sed -n '3,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/windows.sh: unknown option $1 (--help)" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$rounds" ] || { [ -n "$quick" ] && rounds=2 || rounds=9; }

lbench=$lbuild/rill_bench
wbench=$wbuild/rill_bench.exe
for f in "$lbench" "$wbench"; do
  [ -x "$f" ] || [ -f "$f" ] || {
    echo "bench/windows.sh: $f is missing (make bench-windows builds both)" >&2; exit 1; }
done
# Wine: the project's wrapper (its WINEPREFIX and WINEDEBUG), else wine.
if [ -x "$here/tools/wine/run" ]; then
  wine="$here/tools/wine/run"
else
  command -v wine >/dev/null 2>&1 || { echo "bench/windows.sh: wine not found" >&2; exit 1; }
  wine=wine
  export WINEDEBUG=${WINEDEBUG:--all}
fi

case $out in /*) ;; *) out=$PWD/$out ;; esac
dir=$(dirname "$out")/windows-rounds
mkdir -p "$dir"
rm -f "$dir"/round-*.json
# A Linux path as Wine's Z: drive sees it (Z: is / in every prefix).
winpath() { printf 'Z:%s' "$1" | tr / '\\'; }
# Both builds make their regions on the same tmpfs.
shmdir=/dev/shm
[ -d $shmdir ] && [ -w $shmdir ] || shmdir=/tmp

busy=rill-copy,rill-zerocopy,ring
common="$quick --suites core --runs 1 --cpus $cpus --sizes 64,1024"
status=0
run() { # NAME ROUND
  f=$dir/round-$2-$1.json
  echo "== round $2: $1"
  case $1 in
    linux) "$lbench" $common --dir $shmdir --only $busy,rill-sleep,futex --out "$f" ;;
    linux-nmb) "$lbench" $common --dir $shmdir --no-membarrier --only rill-copy,rill-zerocopy,rill-sleep --out "$f" ;;
    windows) $wine "$wbench" $common --dir "$(winpath $shmdir)" --only $busy,rill-sleep,event \
               --out "$(winpath "$f")" ;;
  esac > "$dir/round-$2-$1.log" 2>&1 || {
    echo "   failed (exit $?): $dir/round-$2-$1.log"; tail -5 "$dir/round-$2-$1.log"; status=1; }
  grep -E '^(rill|ring|event|futex)' "$dir/round-$2-$1.log" | sed 's/^/   /' || true
}

echo "rill on Linux and on Windows under Wine ($(wine --version 2>/dev/null || echo wine)): $rounds rounds, CPUs $cpus${quick:+, quick}"
r=1
while [ "$r" -le "$rounds" ]; do
  case $((r % 3)) in
    1) order="linux windows linux-nmb" ;;
    2) order="windows linux-nmb linux" ;;
    0) order="linux-nmb linux windows" ;;
  esac
  for c in $order; do run "$c" "$r"; done
  r=$((r + 1))
done

python3 "$here/bench/windows.py" --rounds-dir "$dir" --out "$out" --cpus "$cpus" \
  --wine "$(wine --version 2>/dev/null || echo unknown)" ${quick:+--quick} || status=1
exit $status
