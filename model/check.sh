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
  "frag_lossy|frag.pml|-DNO_RELIABLE|pass|fragments, sizes chosen at random, the ring's wrap: the lossy copying receive accepts only whole exact messages and counts every descriptor it did not deliver"
  "frag_reliable|frag.pml|-DNO_LOSSY -DNDESC=6|pass|the same for the reliable copying receive: every message, whole, exact, in order"
  "frag_data_ring_depth_plus_1|frag.pml|-DNO_RELIABLE -DDATA=6|assert|a data ring of depth + 1 MTUs: with payloads of different sizes the lossy check misses a payload overwritten before its slot was marked"
  "finding_frag_margin_one_chunk|frag.pml|-DNO_RELIABLE -DDATA=7|pass|FINDING: depth + 1 MTUs and one chunk are enough at these sizes (see README)"
  "frag_reliable_data_ring_depth|frag.pml|-DNO_LOSSY -DNDESC=6 -DDATA=4|assert|a data ring of depth MTUs: the chunks a wrap skips let a reliable consumer read a payload being overwritten"
  "bug_no_frag_check|frag.pml|-DNO_RELIABLE -DBUG_NO_FRAG_CHECK|assert|a lossy receive that checks only a message's last fragment (§3.3) accepts an earlier one overwritten while copied"
  "bug_keep_on_gap|frag.pml|-DNO_RELIABLE -DBUG_KEEP_ON_GAP|assert|a lossy receive that keeps the message it was gathering across an overrun (§3.3) miscounts what it lost"
  "park|park.pml||pass|parking and waking on both sides, TSO store buffers, producer and consumer fence (no heavy barrier registered): no lost wake-up, never lapped, closed only after everything"
  "park_asym|park.pml|-DASYM|pass|the producer registered for heavy barriers: it does not fence after a publish, the parking consumer runs the heavy barrier"
  "park_cons_reg|park.pml|-DCONS_REG|pass|the consumer registered: it does not fence after a flush, the producer's mandatory heavy barrier (credit) covers it"
  "park_asym_cons_reg|park.pml|-DASYM -DCONS_REG|pass|both registered"
  "park_lazy|park.pml|-DLAZY|pass|a LAZY producer (§3.7a, the Windows ports): it fences only once a parking consumer asked and it set FENCING; the consumer naps until then"
  "bug_lazy_sleeps|park.pml|-DLAZY -DBUG_LAZY_SLEEPS|assert|a consumer that asked a LAZY producer to fence and sleeps for good at once: the producer, not fencing yet, missed its bump"
  "bug_lazy_sleeps_sc|park.pml|-DLAZY -DBUG_LAZY_SLEEPS -DSC|pass|the same without store buffers passes: only the TSO model finds it"
  "waitany|waitany.pml||pass|rill_wait_any: one consumer parked on two channels, one barrier for all, futex_waitv on both wake words: no lost wake-up"
  "waitany_asym|waitany.pml|-DASYM|pass|one of the two producers registered for heavy barriers: the consumer's one heavy barrier covers both channels"
  "bug_asym_of_last|waitany.pml|-DASYM -DBUG_ASYM_OF_LAST|assert|a consumer that picks its barrier by the last channel's producer (a fence) while another has ASYM: that producer's publish sits in its store buffer"
  "bug_asym_of_last_sc|waitany.pml|-DASYM -DBUG_ASYM_OF_LAST -DSC|pass|the same without store buffers passes: only the TSO model finds it"
  "bug_wait_first_only|waitany.pml|-DBUG_WAIT_FIRST_ONLY|assert|a consumer that sleeps on the first channel's wake word alone misses the second channel's wake-up"
  "park_fd|park.pml|-DFD|pass|the consumer waits on its fd (rill_consumer_arm, §3.8): fd_gen, the arm_gen handshake, the FIFO byte; no lost wake-up, the fd readable after the producer left"
  "park_fd_asym|park.pml|-DFD -DASYM|pass|the same with a producer registered for heavy barriers"
  "bug_fd_gen_late|park.pml|-DFD -DBUG_FD_GEN_LATE|assert|a consumer that bumps fd_gen after arm_gen: the producer sees the bump, then the old fd_gen, and writes no byte"
  "bug_state_before_wake|park.pml|-DBUG_STATE_BEFORE_WAKE|assert|FINDING: the consumer looks at producer.state before it loads wake; a producer that leaves in between is missed until the 50 ms nap ends"
  "bug_no_publish_fence|park.pml|-DBUG_NO_PUBLISH_FENCE|assert|a producer without ASYM that skips its fence after a publish: the descriptor sits in its store buffer while it reads an old arm_gen"
  "bug_no_publish_fence_sc|park.pml|-DBUG_NO_PUBLISH_FENCE -DSC|pass|the same without store buffers passes: only the TSO model finds it"
  "bug_arm_gen_first|park.pml|-DBUG_ARM_GEN_FIRST|assert|the producer loads arm_gen before its fence: the descriptor is still in its store buffer when the consumer looks, and the producer saw no bump: the consumer sleeps with a message there"
  "bug_arm_gen_first_sc|park.pml|-DBUG_ARM_GEN_FIRST -DSC|pass|the same without store buffers passes: only the TSO model finds it"
  "bug_wake_loaded_late|park.pml|-DBUG_WAKE_LOADED_LATE|assert|the consumer loads wake after its look instead of before its arm_gen bump: the producer's bump in between is not noticed"
  "bug_credit_no_barrier|park.pml|-DBUG_CREDIT_NO_BARRIER -DCONS_REG|endstate|a producer parking for credit without its heavy barrier, with a registered consumer that does not fence: the cursor flush and cr_wait pass each other"
  "bug_credit_no_barrier_sc|park.pml|-DBUG_CREDIT_NO_BARRIER -DCONS_REG -DSC|pass|the same without store buffers passes: only the TSO model finds it"
  "bug_joining_prev|join.pml|-DBUG_JOINING_PREV -DBUG_REJOIN_BEHIND|assert|FINDING 1 (README), rill up to 0.3: a JOINING slot counted at prev; a flush made after the joiner loaded producer.seq (here housekeeping) puts prev past its start, and a reliable consumer that was never evicted is lapped"
  "bug_joining_prev_sc|join.pml|-DBUG_JOINING_PREV -DBUG_REJOIN_BEHIND -DSC -DNO_HK|assert|the same without store buffers and without housekeeping: two refreshes while the consumer joins"
  "bug_joining_prev_torn|join.pml|-DBUG_JOINING_PREV -DSC -DNO_HK -DNO_DEATH -DNO_LAP_CHECK -DDEPTH=4 -DNMSG=7|assert|with depth 4 that consumer reads a payload overwritten under it"
  "join|join.pml||pass|the join as PROTOCOL.md states it since 0.4: death at any step, eviction, rejoin in place or through joining, housekeeping flushes, x86-TSO; a reliable consumer is never lapped and reports a loss only where its slot was evicted or not counted"
  "join_5|join.pml|-DNMSG=5 -DDIE_ACTIVE -DNO_HK|pass|five messages, death once joined: the configuration of the rejoin variants below"
  "join_depth4_sc|join.pml|-DSC -DNO_HK -DDEPTH=4 -DNMSG=7|pass|the same at depth 4, where FINDINGS 2 and 3 tear payloads (sequentially consistent: at x86-TSO it passes too, 4.9 M states, 17 s, not run here)"
  "join_lossy|join.pml|-DWITH_LOSSY -DNO_RELIABLE -DNMSG=6|pass|a lossy consumer that joins at any moment and may leave: its loss count is exact from where it joined"
  "bug_rejoin_joining|join.pml|-DBUG_REJOIN_JOINING -DNO_HK -DNMSG=3|assert|rill before a6c9efe: a rejoin of a dead consumer's ACTIVE slot through JOINING is counted at the producer's position, not at its cursor: lapped"
  "bug_join_plain|join.pml|-DBUG_JOIN_PLAIN -DNO_DEATH -DNO_HK -DNMSG=3|assert|the joiner's state <- JOINING as a plain store (x86: stays in the store buffer while it loads producer.seq): a joining reliable consumer is lapped"
  "bug_flush_plain|join.pml|-DBUG_FLUSH_PLAIN -DNO_DEATH -DNO_HK -DNMSG=3|assert|the producer's flush of producer.seq as a plain store (in its store buffer while it loads the state): the same"
  "bug_join_flush_plain_sc|join.pml|-DBUG_JOIN_PLAIN -DBUG_FLUSH_PLAIN -DNO_DEATH -DNO_HK -DNMSG=3 -DSC|pass|both plain stores, without store buffers: no error, so only the store buffer model finds the two above"
  "bug_evict_no_gen|join.pml|-DBUG_EVICT_NO_GEN -DNMSG=5 -DDIE_ACTIVE -DNO_HK|assert|a refresh that skips a slot whenever evicted[i] != 0, not only at the evicted gen: the rejoined consumer stays uncounted and reads a torn payload"
  "bug_rejoin_no_fence|join.pml|-DBUG_REJOIN_NO_FENCE -DNMSG=5 -DDIE_ACTIVE -DNO_HK|assert|a rejoin without a full fence after its gen bump (rill has the locked RMW of wait.cr_wake there): the producer misses the new gen and tears its payload"
  "bug_rejoin_no_fence_sc|join.pml|-DBUG_REJOIN_NO_FENCE -DNMSG=5 -DDIE_ACTIVE -DNO_HK -DSC|pass|the same without store buffers: no error (join_5 passes with the fence)"
  "bug_resync_found|join.pml|-DBUG_RESYNC_FOUND -DBUG_REJOIN_BEHIND -DNMSG=5 -DDIE_ACTIVE -DNO_HK|assert|an evicted reliable consumer (rejoined as in 0.3, so that it is lapped) that resynchronises to the slot's seq, not to the later producer.seq (§3.2): lapped again"
  "bug_rejoin_behind|join.pml|-DBUG_REJOIN_BEHIND -DSC -DNO_HK -DDEPTH=4 -DNMSG=7|assert|FINDING 2 (README), rill up to 0.3: a rejoin through JOINING resumes at the slot's old cursor, behind credits the producer holds: a torn payload"
  "bug_evicted_rejoin|join.pml|-DBUG_REJOIN_BEHIND -DSC -DNO_HK -DDEPTH=4 -DNMSG=7 -DDIE_ACTIVE|assert|FINDING 3 (README), rill up to 0.3: an evicted slot rejoined in place; its first poll finds its descriptor before the producer laps it, and the payload is overwritten under it"
)

want=("$@")
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# One run, in a directory of its own (spin and pan write their files in
# the current one): its report on stdout, status 0 if it came out as
# expected.
check_one() {
  local name=$1 model=$2 flags=$3 expect=$4 why=$5
  printf '\n=== %s (%s %s): expect %s\n    %s\n' "$name" "$model" "$flags" "$expect" "$why"
  # shellcheck disable=SC2086
  "$spin" $flags -a "$model" >spin.out 2>&1 || { cat spin.out; echo "FAIL: spin -a"; return 1; }
  # a run expected to fail searches breadth-first: its trail is a shortest one
  local bfs=""
  [ "$expect" != pass ] && bfs=-DBFS
  "$cc" -O2 -w -DSAFETY -DCOLLAPSE -DMEMLIM=4000 $bfs -o pan pan.c || { echo "FAIL: compiling pan"; return 1; }
  local t0=${EPOCHREALTIME/./} rc
  set +e
  timeout "$limit" ./pan -m200000 >pan.out 2>&1
  rc=$?
  set -e
  local t1=${EPOCHREALTIME/./}
  if [ $rc -eq 124 ]; then echo "FAIL: pan ran over ${limit} s"; return 1; fi
  grep -E '^pan:[0-9]|errors:|states, stored|total actual memory|elapsed time' pan.out | sed 's/^/    /'
  local us=$((t1 - t0))
  printf '    wall %d.%02d s\n' $((us / 1000000)) $((us % 1000000 / 10000))
  local errors got=pass
  errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' pan.out)
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
    return 1
  fi
}

# The runs are independent: RILL_MODEL_JOBS at a time (default: a CPU
# each), their reports printed in the order of the table.
jobs="${RILL_MODEL_JOBS:-$(nproc 2>/dev/null || echo 1)}"
pids=()
logs=()
for r in "${runs[@]}"; do
  IFS='|' read -r name model flags expect why <<<"$r"
  if ((${#want[@]})); then
    skip=1
    for w in "${want[@]}"; do [ "$w" = "$name" ] && skip=0; done
    ((skip)) && continue
  fi
  while (($(jobs -rp | wc -l) >= jobs)); do wait -n || true; done
  dir="$work/${#pids[@]}"
  mkdir "$dir"
  cp "$here"/*.pml "$dir/"
  (cd "$dir" && check_one "$name" "$model" "$flags" "$expect" "$why") >"$dir.log" 2>&1 &
  pids+=($!)
  logs+=("$dir.log")
done
bad=0
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || bad=1
  cat "${logs[$i]}"
done
exit $bad
