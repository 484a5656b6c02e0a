#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 OR MIT
# Checks the protocol's models (model/*.pml) exhaustively with spin: each
# correct model must pass with no errors, and each buggy variant must fail
# the way it is expected to (an assertion violated, or an invalid end state:
# a deadlock or a lost wake-up).  A failure prints its trail as a readable
# sequence of protocol steps.  Exits nonzero on any unexpected outcome.  See
# model/README.md.
#
#   model/check.sh            every run below
#   model/check.sh NAME...    only the runs with these names
#
# Needs spin (Debian: apt-get install spin) and a C compiler ($CC, or cc).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cc="${CC:-cc}"
limit="${RILL_MODEL_TIMEOUT:-120}" # seconds for each pan run
spin="${SPIN:-spin}"
command -v "$spin" >/dev/null 2>&1 || { echo "check.sh: spin not found (apt-get install spin)"; exit 2; }

# name | model | spin -D flags | expected: pass, assert or endstate | why
runs=(
  "litmus_sb_tso|litmus.pml||assert|tso.pml's store buffer: without fences both loads may see 0 (store -> load reordering, as on x86)"
  "litmus_sb_fenced|litmus.pml|-DFENCED|pass|a full fence between each side's store and load forbids it"
  "litmus_sb_sc|litmus.pml|-DSC|pass|so does sequential consistency (no store buffer)"
  "correct|rill.pml|-DDEPTH=2 -DNMSG=6|pass|the protocol as docs/PROTOCOL.md states it: data ring of depth + 2 chunks"
  "correct_reliable_no_margin|rill.pml|-DDATA=2 -DNO_LOSSY|pass|a reliable consumer alone is safe even with a data ring of depth chunks: credits after the read protect it"
  "finding_credit_before_read_rill_layout|rill.pml|-DBUG_CREDIT_BEFORE_READ|pass|FINDING: rill's depth + 2 data ring absorbs a cursor flushed one message early (see README)"
  "bug_credit_before_read|rill.pml|-DBUG_CREDIT_BEFORE_READ -DDATA=2 -DNO_LOSSY|assert|the crate rill replaces: credit released before the read, payload ring of depth slots: the reliable consumer reads a torn payload"
  "bug_data_ring_depth|rill.pml|-DDATA=2|assert|a data ring of depth chunks: the lossy consumer's check cannot see a payload written before its slot is marked"
  "bug_no_check|rill.pml|-DBUG_NO_CHECK|assert|a lossy consumer that skips rill_check (§3.3) accepts an overwritten payload"
  "bug_no_recheck|rill.pml|-DBUG_NO_RECHECK|assert|a poll without its second load of seq (§3.2) returns another message's fields"
  "bug_no_idle_flush|rill.pml|-DBUG_NO_IDLE_FLUSH|endstate|a consumer that finds nothing yet without flushing its moved cursor (§3.2, §3.4) leaves the producer without credit: deadlock"
  "finding_joining_prev|join.pml||assert|FINDING 1 (README): rill counts a JOINING slot at prev; a flush made after the joiner loaded producer.seq (here housekeeping) puts prev past its start, and a reliable consumer that was never evicted is lapped"
  "finding_joining_prev_sc|join.pml|-DSC -DNO_HK|assert|the same without store buffers and without housekeeping: two refreshes while the consumer joins"
  "finding_joining_prev_torn|join.pml|-DSC -DNO_HK -DNO_DEATH -DNO_LAP_CHECK -DDEPTH=4 -DNMSG=7|assert|with depth 4 that consumer reads a payload overwritten under it"
  "join_fixed|join.pml|-DFIX_JOINING|pass|with the candidate fix of FINDING 1: death at any step, eviction, rejoin in place or through joining, housekeeping flushes, x86-TSO"
  "join_fixed_5|join.pml|-DFIX_JOINING -DNMSG=5 -DDIE_ACTIVE -DNO_HK|pass|five messages, death once joined: the configuration of the rejoin variants below"
  "join_fixed_all|join.pml|-DFIX_JOINING -DFIX_REJOIN|pass|with the candidate fixes of FINDINGS 1-3: a reliable consumer is never lapped, and reports a loss only where its slot was evicted or not counted"
  "join_fixed_all_depth4_sc|join.pml|-DFIX_JOINING -DFIX_REJOIN -DSC -DNO_HK -DDEPTH=4 -DNMSG=7|pass|the same at depth 4, where FINDINGS 2 and 3 tear payloads (sequentially consistent: at x86-TSO it passes too, 4.9 M states, 17 s, not run here)"
  "join_lossy|join.pml|-DFIX_JOINING -DWITH_LOSSY -DNO_RELIABLE -DNMSG=6|pass|a lossy consumer that joins at any moment and may leave: its loss count is exact from where it joined"
  "bug_rejoin_joining|join.pml|-DFIX_JOINING -DBUG_REJOIN_JOINING -DNO_HK -DNMSG=3|assert|rill before a6c9efe: a rejoin of a dead consumer's ACTIVE slot through JOINING is counted at the producer's position, not at its cursor: lapped"
  "bug_join_plain|join.pml|-DFIX_JOINING -DBUG_JOIN_PLAIN -DNO_DEATH -DNO_HK -DNMSG=3|assert|the joiner's state <- JOINING as a plain store (x86: stays in the store buffer while it loads producer.seq): a joining reliable consumer is lapped"
  "bug_flush_plain|join.pml|-DFIX_JOINING -DBUG_FLUSH_PLAIN -DNO_DEATH -DNO_HK -DNMSG=3|assert|the producer's flush of producer.seq as a plain store (in its store buffer while it loads the state): the same"
  "bug_join_flush_plain_sc|join.pml|-DFIX_JOINING -DBUG_JOIN_PLAIN -DBUG_FLUSH_PLAIN -DNO_DEATH -DNO_HK -DNMSG=3 -DSC|pass|both plain stores, without store buffers: no error, so only the store buffer model finds the two above"
  "bug_evict_no_gen|join.pml|-DFIX_JOINING -DBUG_EVICT_NO_GEN -DNMSG=5 -DDIE_ACTIVE -DNO_HK|assert|a refresh that skips a slot whenever evicted[i] != 0, not only at the evicted gen: the rejoined consumer stays uncounted and reads a torn payload"
  "bug_rejoin_no_fence|join.pml|-DFIX_JOINING -DBUG_REJOIN_NO_FENCE -DNMSG=5 -DDIE_ACTIVE -DNO_HK|assert|a rejoin without a full fence after its gen bump (rill has the locked RMW of wait.cr_wake there): the producer misses the new gen and tears its payload"
  "bug_rejoin_no_fence_sc|join.pml|-DFIX_JOINING -DBUG_REJOIN_NO_FENCE -DNMSG=5 -DDIE_ACTIVE -DNO_HK -DSC|pass|the same without store buffers: no error (join_fixed_5 passes with the fence)"
  "bug_resync_found|join.pml|-DFIX_JOINING -DBUG_RESYNC_FOUND -DNMSG=5 -DDIE_ACTIVE -DNO_HK|assert|an evicted reliable consumer that resynchronises to the slot's seq, not to the later producer.seq (§3.2): lapped again"
  "finding_rejoin_behind|join.pml|-DFIX_JOINING -DSC -DNO_HK -DDEPTH=4 -DNMSG=7|assert|FINDING 2 (README): a rejoin through JOINING resumes at the slot's old cursor, behind credits the producer holds: a torn payload"
  "finding_evicted_rejoin|join.pml|-DFIX_JOINING -DSC -DNO_HK -DDEPTH=4 -DNMSG=7 -DDIE_ACTIVE|assert|FINDING 3 (README): an evicted slot rejoined in place; its first poll finds its descriptor before the producer laps it, and the payload is overwritten under it"
)

want=("$@")
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$here"/*.pml "$work/"
cd "$work"
bad=0
for r in "${runs[@]}"; do
  IFS='|' read -r name model flags expect why <<<"$r"
  if ((${#want[@]})); then
    skip=1
    for w in "${want[@]}"; do [ "$w" = "$name" ] && skip=0; done
    ((skip)) && continue
  fi
  printf '\n=== %s (%s %s): expect %s\n    %s\n' "$name" "$model" "$flags" "$expect" "$why"
  rm -f pan pan.* ./*.trail
  # shellcheck disable=SC2086
  "$spin" $flags -a "$model" >spin.out 2>&1 || { cat spin.out; echo "FAIL: spin -a"; bad=1; continue; }
  # a run expected to fail searches breadth-first: its trail is a shortest one
  bfs=""
  [ "$expect" != pass ] && bfs=-DBFS
  "$cc" -O2 -w -DSAFETY -DCOLLAPSE $bfs -o pan pan.c || { echo "FAIL: compiling pan"; bad=1; continue; }
  t0=${EPOCHREALTIME/./}
  set +e
  timeout "$limit" ./pan -m200000 >pan.out 2>&1
  rc=$?
  set -e
  t1=${EPOCHREALTIME/./}
  if [ $rc -eq 124 ]; then echo "FAIL: pan ran over ${limit} s"; bad=1; continue; fi
  grep -E '^pan:[0-9]|errors:|states, stored|total actual memory|elapsed time' pan.out | sed 's/^/    /'
  us=$((t1 - t0))
  printf '    wall %d.%02d s\n' $((us / 1000000)) $((us % 1000000 / 10000))
  errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' pan.out)
  got=pass
  if [ "${errors:-x}" != 0 ]; then
    if grep -q 'assertion violated' pan.out; then got=assert
    elif grep -q 'invalid end state' pan.out; then got=endstate
    else got=other; fi
  fi
  if [ "$got" != pass ] && [ -e "$model.trail" ]; then
    echo "    trail (spin -t -p, protocol steps only):"
    # shellcheck disable=SC2086
    "$spin" $flags -t -p "$model" 2>&1 |
      grep -E '^ *@ |assertion violated|spin: trail ends|invalid end state' |
      sed -E 's/^ +/      /'
  fi
  if [ "$got" = "$expect" ]; then
    echo "ok: $name ($got, as expected)"
  else
    echo "FAIL: $name gave $got, expected $expect"
    bad=1
  fi
done
exit $bad
