/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/*
 * rill's data path in Promela: the first layer of issue 23.  See
 * model/README.md for what is modelled, the step-to-source table and the
 * memory orderings assumed.
 *
 * One producer, one reliable consumer, one lossy consumer, over one channel
 * of DEPTH descriptors (docs/PROTOCOL.md §2.4) and DATA one-chunk payload
 * slots (§2.5: data_chunks = (depth + 2) * mtu_chunks, mtu_chunks = 1).
 * Every message is one fragment of one chunk, so the producer's compact
 * placement puts the payload of s at chunk s % DATA.
 *
 * A payload is two words, lo and hi, each written with the sequence number
 * of its message: "torn or wrong" is a consumer that accepts a payload
 * whose words are not both the sequence number it believes it read.
 *
 * Every step is one Promela statement, i.e. one load or one store of shared
 * memory (locals are free), and carries a comment naming the PROTOCOL.md
 * section and step.  printf lines starting with "@" name the step for the
 * readable trail (check.sh).
 *
 * Switches (-D on the spin command line):
 *   DEPTH, NMSG, DATA            sizes (defaults 2, 6, DEPTH + 2)
 *   NO_LOSSY                     leave the lossy consumer out
 *   BUG_CREDIT_BEFORE_READ       reliable consumer flushes its cursor past s
 *                                before it reads the payload of s (the
 *                                crate rill replaces)
 *   BUG_NO_CHECK                 lossy consumer skips rill_check (§3.3)
 *   BUG_NO_RECHECK               poll skips its second load of seq (§3.2)
 *   BUG_NO_IDLE_FLUSH            a poll that finds nothing yet does not
 *                                flush a moved cursor (§3.2, §3.4)
 */

#ifndef DEPTH
#define DEPTH 2
#endif
#ifndef NMSG
#define NMSG 6
#endif
#ifndef DATA
#define DATA (DEPTH + 2)
#endif

/* §2.4 meta ring: seq and the fields a poll copies (sig, chunk) */
int  meta_seq[DEPTH];
int  meta_sig[DEPTH];
byte meta_chunk[DEPTH];
/* §2.5 data ring: one chunk per message, two words per chunk */
int  data_lo[DATA];
int  data_hi[DATA];
/* §2.2 producer page seq, §2.3 the reliable consumer's cursor seq */
int  prod_seq = 0;
int  rel_cursor = 0;

/* ghost state, for the properties only (no process reads it to decide) */
int  published = 0;        /* sequence numbers whose release store is done */
int  lossy_acc = 0, lossy_lost = 0, lossy_bad = 0;
bool rel_done = false, lossy_done = false;

/* Wrap-safe comparison of §3.2 is (int64)(a - b); sequence numbers here stay
 * small, so plain int comparison is the same thing. */

proctype producer() {
  int next = 0;        /* p->seq: the next sequence number */
  int credits = 0;     /* p->cr_avail, in a register */
  int min, c, ch;
  do
  :: next == NMSG -> break
  :: else ->
    /* §3.5 credits: refresh only when fewer than need (1) remain */
    do
    :: credits > 0 -> break
    :: else ->
      /* §3.5 refresh: producer.seq <- next (seq_cst flush, prod_flush) */
      prod_seq = next;
      printf("@ producer §3.5 refresh: producer.seq <- %d\n", next);
      min = next;
      /* §3.5 refresh: c <- cursor.seq (acquire), the reliable cursor */
      c = rel_cursor;
      if
      :: c < min -> min = c
      :: else -> skip
      fi;
      /* §3.5 refresh: credits <- max(0, min + depth - next) */
      if
      :: min + DEPTH - next > 0 -> credits = min + DEPTH - next
      :: else -> credits = 0
      fi;
      printf("@ producer §3.5 refresh: cursor %d, credits %d\n", c, credits);
      if
      :: credits > 0 -> skip
      :: else ->
        /* §3.5/§3.7 a waiting publish retries when the cursor moves
         * (parking is not modelled: the retry waits for the change) */
        (rel_cursor != c)
      fi
    od;
    /* §2.5 placement, §3.1 "payload already written": rill_core__frag_put's copy_in */
    ch = next % DATA;
    printf("@ producer §2.5 writes payload of %d into chunk %d (lo, then hi)\n", next, ch);
    data_lo[ch] = next;
    data_hi[ch] = next;
    /* §3.1 slot.seq <- s - 1 (relaxed), "being written"; fence(release) */
    meta_seq[next % DEPTH] = next - 1;
    printf("@ producer §3.1 mark slot %d: seq <- %d\n", next % DEPTH, next - 1);
    /* §3.1 fields sig, chunk (relaxed) */
    meta_sig[next % DEPTH] = next;
    meta_chunk[next % DEPTH] = ch;
    /* §3.1 slot.seq <- s (release) */
    d_step {
      meta_seq[next % DEPTH] = next;
      published = next + 1
    }
    printf("@ producer §3.1 publish slot %d: seq <- %d\n", next % DEPTH, next);
    credits--;
    next++
  od
}

proctype reliable() {
  int s = 0;           /* c->seq: the next sequence number to read */
  int flushed = 0;     /* c->seq_flushed */
  int a, b, sig, lo, hi;
  byte ch;
  do
  :: s == NMSG ->
    /* §3.4 leaving: flush with heartbeat */
    rel_cursor = s;
    printf("@ reliable §3.4 leave: cursor.seq <- %d\n", s);
    break
  :: else ->
    /* §3.2/§3.4 countdown flush at the start of a poll: the countdown is
     * random, so the model lets it reach 0 before any poll */
    if
    :: s != flushed ->
      rel_cursor = s;
      printf("@ reliable §3.4 countdown flush: cursor.seq <- %d\n", s);
      flushed = s
    :: true -> skip
    fi;
    /* §3.2 a <- slot.seq (acquire) */
    a = meta_seq[s % DEPTH];
    if
    :: a == s ->
      /* §3.2 read sig, chunk (relaxed); fence(acquire) */
      sig = meta_sig[s % DEPTH];
      ch = meta_chunk[s % DEPTH];
#ifndef BUG_NO_RECHECK
      /* §3.2 b <- slot.seq (relaxed) */
      b = meta_seq[s % DEPTH];
#else
      b = s;
#endif
      /* A reliable consumer is never lapped (no eviction here) */
      assert(b == s);
      /* §3.2 s <- s + 1; valid */
      s++;
      printf("@ reliable §3.2 poll: valid %d, chunk %d\n", s - 1, ch);
#ifdef BUG_CREDIT_BEFORE_READ
      /* BUG: the cursor (and with it the credit) released before the read */
      rel_cursor = s;
      printf("@ reliable BUG cursor.seq <- %d before reading %d\n", s, s - 1);
      flushed = s;
#endif
      /* application reads the payload at chunk (no check: §3.3) */
      lo = data_lo[ch];
      hi = data_hi[ch];
      printf("@ reliable reads payload of %d: lo %d hi %d\n", s - 1, lo, hi);
      assert(sig == s - 1 && lo == s - 1 && hi == s - 1)
    :: a < s ->
      /* §3.2 nothing yet: if s moved since the last flush, flush (§3.4) */
#ifndef BUG_NO_IDLE_FLUSH
      if
      :: s != flushed ->
        rel_cursor = s;
        printf("@ reliable §3.4 idle flush: cursor.seq <- %d\n", s);
        flushed = s
      :: else -> skip
      fi;
#endif
      printf("@ reliable §3.2 poll: nothing yet at %d (slot holds %d)\n", s, a);
      /* the next poll: only a change of the slot can change its answer */
      (meta_seq[s % DEPTH] != a)
    :: a > s ->
      /* §3.2 ahead: overrun.  A reliable consumer is never lapped. */
      printf("@ reliable §3.2 poll: LAPPED at %d (slot holds %d)\n", s, a);
      assert(false)
    fi
  od;
  rel_done = true
}

proctype lossy() {
  int s = 0;
  int a, b, sig, lo, hi, found, v;
  byte ch;
  do
  :: s == NMSG -> break
  :: else ->
    /* §3.2 a <- slot.seq (acquire) */
    a = meta_seq[s % DEPTH];
    if
    :: a == s ->
      /* §3.2 read sig, chunk (relaxed); fence(acquire) */
      sig = meta_sig[s % DEPTH];
      ch = meta_chunk[s % DEPTH];
#ifndef BUG_NO_RECHECK
      /* §3.2 b <- slot.seq (relaxed) */
      b = meta_seq[s % DEPTH];
#else
      b = s;
#endif
      if
      :: b != s ->
        found = b;
        printf("@ lossy §3.2 poll: second load of seq %d is %d\n", s, b);
        goto FOUND
      :: else -> skip
      fi;
      /* §3.2 s <- s + 1; valid */
      s++;
      printf("@ lossy §3.2 poll: valid %d, chunk %d\n", s - 1, ch);
      /* a valid poll returns the fields of s (the descriptor alone, before
       * any payload: what an application reading only sig relies on) */
      assert(sig == s - 1 && ch == (s - 1) % DATA);
      /* application reads the payload */
      lo = data_lo[ch];
      hi = data_hi[ch];
      printf("@ lossy reads payload of %d: lo %d hi %d\n", s - 1, lo, hi);
#ifndef BUG_NO_CHECK
      /* §3.3 fence(acquire); valid <- (slot.seq relaxed) == s */
      v = meta_seq[(s - 1) % DEPTH];
#else
      v = s - 1;
#endif
      if
      :: v == s - 1 ->
        printf("@ lossy §3.3 check: %d accepted\n", s - 1);
        assert(sig == s - 1 && lo == s - 1 && hi == s - 1);
        lossy_acc++
      :: else ->
        printf("@ lossy §3.3 check: %d overwritten while read (slot holds %d)\n", s - 1, v);
        lossy_bad++
      fi
    :: a < s ->
      /* §3.2 nothing yet (a lossy cursor gives no credit: its flush is not
       * modelled) */
      printf("@ lossy §3.2 poll: nothing yet at %d (slot holds %d)\n", s, a);
      (meta_seq[s % DEPTH] != a)
    :: a > s ->
      found = a;
      printf("@ lossy §3.2 poll: ahead at %d (slot holds %d)\n", s, a);
FOUND:
      /* §3.2 FOUND: forward only (a correct producer never goes back) */
      assert(found > s);
      /* every sequence number skipped was published (the lost count is not
       * inflated by phantom messages) */
      assert(found < published);
      /* §3.2 overrun: lost = found - s; s <- found */
      lossy_lost = lossy_lost + found - s;
      printf("@ lossy §3.2 overrun: lost %d, resync %d -> %d\n", found - s, s, found);
      s = found
    fi;
    /* loss count exact: every sequence number before s was accepted,
     * reported lost, or failed its check */
    assert(lossy_acc + lossy_lost + lossy_bad == s)
  od;
  lossy_done = true
}

init {
  int i;
  /* §2.1 creation: slot i holds seq0 + i - depth (seq0 = 0), "not yet" */
  for (i : 0 .. DEPTH - 1) {
    meta_seq[i] = i - DEPTH
  }
  atomic {
    run producer();
    run reliable();
#ifndef NO_LOSSY
    run lossy();
#endif
  }
}
