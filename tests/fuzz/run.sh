#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 OR MIT
#
# Runs each libFuzzer target of BUILD for SECONDS (one job each, one after
# the other), as `make fuzz` and CI do:
#   tests/fuzz/run.sh BUILD SECONDS
# Each starts from the committed seeds (tests/fuzz/corpus/TARGET) and from
# what earlier runs found (BUILD/fuzz/TARGET/corpus, kept); nothing is
# written into the source tree.  A failing input is saved as
# BUILD/fuzz/TARGET/crash-* (or leak-*, timeout-*), and the run fails
# after every target ran.  docs/testing.md says how to make it a
# regression seed.  Region files go to a private directory under
# $RILL_FUZZ_TMP (default /dev/shm), removed at the end.
set -u
[ $# -eq 2 ] || { echo "usage: $0 BUILD SECONDS"; exit 2; }
build=$1
secs=$2
src=$(cd "$(dirname "$0")" && pwd)
case $secs in ''|*[!0-9]*) echo "$0: SECONDS must be a number, not '$secs'"; exit 2 ;; esac

tmp=$(mktemp -d "${RILL_FUZZ_TMP:-/dev/shm}/rill-fuzz-run.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
failed=""
for t in region consumer; do
  bin=$build/rill_fuzz_$t
  if [ ! -x "$bin" ]; then
    echo "$bin not found: the fuzz targets need clang with libFuzzer (make fuzz builds them in build-clang)"
    exit 1
  fi
  out=$build/fuzz/$t
  mkdir -p "$out/corpus"
  echo "== fuzz_$t for $secs s (seeds: tests/fuzz/corpus/$t; findings: $out)"
  # -timeout: one input may not take 10 s (a consumer that never returns);
  # the library must not leak either (LeakSanitizer, on by default)
  if RILL_FUZZ_TMP=$tmp "$bin" -max_total_time="$secs" -timeout=10 -print_final_stats=1 \
       -artifact_prefix="$out/" "$out/corpus" "$src/corpus/$t" >"$out/log.txt" 2>&1; then
    grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)' "$out/log.txt"
  else
    tail -n 60 "$out/log.txt"
    echo "fuzz_$t FAILED: the input is $(ls -t "$out"/crash-* "$out"/leak-* "$out"/timeout-* "$out"/oom-* 2>/dev/null | head -n 1) (whole log: $out/log.txt)"
    failed="$failed fuzz_$t"
  fi
done
if [ -n "$failed" ]; then
  echo "fuzzing failed:$failed"
  exit 1
fi
echo "fuzzing: no finding"
