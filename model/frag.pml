/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/*
 * Fragments, payloads of different sizes and the data ring's wrap: rill's
 * copying receive (reassembly, docs/PROTOCOL.md §3.3) by a reliable and a
 * lossy consumer.  See model/README.md.
 *
 * One producer sends NDESC fragments through a meta ring of DEPTH slots; a
 * message is one or two fragments, a fragment one or two chunks (mtu =
 * MTUC chunks), placed compactly in a data ring of (DEPTH + 2) * MTUC
 * chunks (§2.5), wrapping to chunk 0 when a fragment would cross the end.
 * The producer chooses every message's size at random among those rill
 * can send (one fragment of 1 to MTUC chunks, or a full fragment of MTUC
 * chunks and a last one of 1 to MTUC), NDESC descriptors in all, so the
 * search covers every schedule of sizes, and with it every way the ring
 * wraps.  Chunk k of the fragment with sequence number f holds f * 4 + k:
 * a consumer that accepts any other value has a torn or wrong payload.
 *
 * Every step is one load or store of shared memory (a chunk is one word)
 * and names its PROTOCOL.md section; printf lines starting with "@" make
 * the readable trail (check.sh).  Sequentially consistent, as rill.pml
 * (model/README.md, "Memory orderings").
 *
 * Switches (-D):
 *   DEPTH, MTUC, DATA, NDESC sizes (defaults 2, 2, (DEPTH + 2) * MTUC, 5)
 *   NO_LOSSY, NO_RELIABLE    leave a consumer out
 *   BUG_NO_FRAG_CHECK        the lossy receive checks only the last
 *                            fragment of a message, not each one (§3.3)
 *   BUG_KEEP_ON_GAP          the lossy receive keeps the message it was
 *                            gathering across an overrun (§3.3)
 */

#ifndef DEPTH
#define DEPTH 2
#endif
#ifndef MTUC
#define MTUC 2
#endif
#ifndef DATA
#define DATA ((DEPTH + 2) * MTUC)
#endif

#ifndef NDESC
#define NDESC 5
#endif
#define SOM 1
#define EOM 2
/* The schedule the producer chose, written before each publish (ghost: the
 * consumers' assertions read it, no step decides on it) */
byte fsz[NDESC];     /* chunks of fragment f */
byte fctl[NDESC];    /* SOM, EOM */
byte fmsg[NDESC];    /* the message fragment f belongs to */
byte mfirst[NDESC];  /* message m's first fragment */
byte mfrags[NDESC];  /* and its fragment count */
byte nmsg = 0;       /* messages the producer sent */

/* §2.4 meta ring: seq and the fields a poll copies */
short meta_seq[DEPTH];
byte meta_sig[DEPTH], meta_chunk[DEPTH], meta_sz[DEPTH], meta_ctl[DEPTH];
/* §2.5 data ring: one word per chunk */
byte data[DATA];
/* §2.2 producer.seq, §2.3 the reliable cursor's seq */
short prod_seq = 0;
short rel_cursor = 0;

/* ghost state, for the properties only */
short published = 0;

proctype producer() {
  short next = 0;      /* sequence number of the next fragment */
  short credits = 0, min, c;
  byte m = 0, k, ch = 0, need, pos, last;
  do
  :: next == NDESC -> break
  :: else ->
    /* the message: one fragment, or two (the first one full) if they fit */
    d_step {
      mfirst[m] = next;
      mfrags[m] = 1;
      nmsg = m + 1
    };
    if
    :: next + 2 <= NDESC -> mfrags[m] = 2
    :: true -> skip
    fi;
    need = mfrags[m];  /* §3.5: every fragment's credit before writing any */
    k = 0;
    do
    :: k == mfrags[m] -> break
    :: else ->
      do
      :: credits >= need -> break
      :: else ->
        prod_seq = next;                              /* §3.5 refresh (seq_cst) */
        min = next;
#ifndef NO_RELIABLE
        c = rel_cursor;                               /* §3.5 cursor.seq (acquire) */
        if :: c < min -> min = c :: else -> skip fi;
#endif
        if
        :: min + DEPTH - next > 0 -> credits = min + DEPTH - next
        :: else -> credits = 0
        fi;
        printf("@ producer §3.5 refresh: cursor %d, credits %d (need %d)\n", c, credits, need);
        if
        :: credits >= need -> skip
        :: else -> (rel_cursor != c)                   /* a waiting send retries */
        fi
      od;
      need = 0;        /* the message's credits are taken */
      /* the fragment's size: a full one unless it is the last */
      last = (k + 1 == mfrags[m]);
      if
      :: !last -> fsz[next] = MTUC
      :: last -> fsz[next] = 1
      :: last -> fsz[next] = MTUC
      fi;
      d_step {
        fctl[next] = (k == 0 -> SOM : 0) | (last -> EOM : 0);
        fmsg[next] = m
      };
      /* §2.5 placement: the next free chunk, or 0 if it would cross the end */
      if :: ch + fsz[next] > DATA -> ch = 0 :: else -> skip fi;
      /* §3.1 "payload already written" (send_frag: copy_in, then publish) */
      printf("@ producer §2.5 writes fragment %d of message %d into chunks %d..%d\n", next, m, ch, ch + fsz[next] - 1);
      pos = 0;
      do
      :: pos == fsz[next] -> break
      :: else -> data[ch + pos] = next * 4 + pos; pos++
      od;
      meta_seq[next % DEPTH] = next - 1;              /* §3.1 mark (relaxed), fence(release) */
      printf("@ producer §3.1 mark slot %d: seq <- %d\n", next % DEPTH, next - 1);
      meta_sig[next % DEPTH] = m;                     /* §3.1 fields (relaxed) */
      meta_chunk[next % DEPTH] = ch;
      meta_sz[next % DEPTH] = fsz[next];
      meta_ctl[next % DEPTH] = fctl[next];
      d_step {
        meta_seq[next % DEPTH] = next;                /* §3.1 publish (release) */
        published = next + 1;
        printf("@ producer §3.1 publish %d (ctl %d)\n", next, fctl[next])
      }
      ch = ch + fsz[next];
      credits--;
      next++;
      k++
    od;
    m++
  od
}

/* §3.2 poll, the part both consumers share: a, the fields, b */
inline poll_fields() {
  sig = meta_sig[s % DEPTH];
  ch = meta_chunk[s % DEPTH];
  sz = meta_sz[s % DEPTH];
  ctl = meta_ctl[s % DEPTH];
  b = meta_seq[s % DEPTH]                             /* fence(acquire), b */
}

/* copy the fragment's chunks out; ok = 0 if any is not what s wrote */
inline copy_frag() {
  pos = 0;
  ok = 1;
  do
  :: pos == sz -> break
  :: else ->
    v = data[ch + pos];
    if :: v != s * 4 + pos -> ok = 0 :: else -> skip fi;
    pos++
  od
}

/* §3.4 flush: while a message is gathered, the cursor written is its
 * first fragment's sequence number */
inline rel_flush() {
  if
  :: got > 0 -> rel_cursor = gfirst
  :: else -> rel_cursor = s
  fi;
  flushed = s
}

proctype reliable() {
  short s = 0, flushed = 0, a, b, gfirst;
  byte sig, ch, sz, ctl, pos, v, m = 0, got = 0;
  bit ok;
  do
  :: s == NDESC ->
    rel_cursor = s;                                   /* §3.4 leaving */
    break
  :: else ->
    if                                                /* §3.4 countdown flush */
    :: s != flushed -> rel_flush()
    :: true -> skip
    fi;
    a = meta_seq[s % DEPTH];                          /* §3.2 a (acquire) */
    if
    :: a == s ->
      poll_fields();
      assert(b == s);                                 /* never lapped */
      /* a reliable receive: every fragment of every message, in order */
      assert(fmsg[s] == m && sig == m && sz == fsz[s] && ctl == fctl[s]);
      copy_frag();
      printf("@ reliable §3.3 fragment %d of message %d: %d chunks at %d, bytes ok %d\n", s, m, sz, ch, ok);
      assert(ok);                                     /* never torn */
      if :: got == 0 -> gfirst = s :: else -> skip fi;
      s++;
      got++;
      if
      :: ctl & EOM ->
        assert(got == mfrags[m]);
        printf("@ reliable message %d complete\n", m);
        m++;
        got = 0
      :: else -> skip
      fi
    :: a < s ->
      if                                              /* §3.2 idle flush */
      :: s != flushed -> rel_flush()
      :: else -> skip
      fi;
      (meta_seq[s % DEPTH] != a)
    :: a > s ->
      printf("@ reliable LAPPED at %d (slot holds %d)\n", s, a);
      assert(false)
    fi
  od;
  assert(m == nmsg)
}

/* the lossy receive's accounting (ghost): descriptors delivered in whole
 * messages, and the sum of meta.lost over the messages delivered */
short ldesc = 0, lostsum = 0;

proctype lossy() {
  short s = 0, a, b, found, skipped = 0, gfirst;
  byte sig, ch, sz, ctl, pos, v, gn = 0, gmsg;
  bit ok, gathering = 0;
  do
  :: s == NDESC -> break
  :: else ->
    a = meta_seq[s % DEPTH];                          /* §3.2 a (acquire) */
    if
    :: a == s ->
      poll_fields();
      if
      :: b != s -> found = b; goto FOUND
      :: else -> skip
      fi;
      copy_frag();
      printf("@ lossy copies fragment %d: %d chunks at %d, bytes ok %d\n", s, sz, ch, ok);
      s++;
      /* §3.3 check after the copy: fence(acquire), slot.seq == s */
#ifdef BUG_NO_FRAG_CHECK
      if
      :: ctl & EOM -> v = meta_seq[(s - 1) % DEPTH]
      :: else -> v = s - 1
      fi;
#else
      v = meta_seq[(s - 1) % DEPTH];
#endif
      if
      :: v != s - 1 ->
        /* §3.3 a failed check adds 1 and drops the message gathered */
        printf("@ lossy §3.3 fragment %d overwritten while copied\n", s - 1);
        skipped = skipped + 1 + gn;
        gathering = 0;
        gn = 0
      :: else ->
        /* the check passed: the copy is exact and the fields are s's */
        assert(ok && sz == fsz[s - 1] && ctl == fctl[s - 1] && sig == fmsg[s - 1]);
        if
        :: ctl & SOM ->
          /* a SOM while gathering drops that message (§3.3) */
          skipped = skipped + gn;
          gathering = 1; gfirst = s - 1; gn = 1; gmsg = sig
        :: else ->
          if
          :: gathering -> gn++
          :: else -> skipped++                        /* its start is gone */
          fi
        fi;
        if
        :: gathering && (ctl & EOM) ->
          /* a whole message: its fragments, exact, in order */
          assert(gfirst == mfirst[gmsg] && gn == mfrags[gmsg]);
          /* meta.lost exact: every descriptor before it was delivered or
           * counted lost */
          assert(ldesc + lostsum + skipped == gfirst);
          printf("@ lossy message %d delivered, lost %d\n", gmsg, skipped);
          ldesc = ldesc + gn;
          lostsum = lostsum + skipped;
          skipped = 0;
          gathering = 0;
          gn = 0
        :: else -> skip
        fi
      fi
    :: a < s ->
      (meta_seq[s % DEPTH] != a)
    :: a > s ->
      found = a;
FOUND:
      assert(found > s && found < published);
      printf("@ lossy §3.2 overrun at %d: resync to %d\n", s, found);
#ifdef BUG_KEEP_ON_GAP
      skipped = skipped + found - s;
#else
      /* §3.3 an overrun adds its lost and drops the message gathered */
      skipped = skipped + found - s + gn;
      gathering = 0;
      gn = 0;
#endif
      s = found
    fi
  od;
  /* everything is accounted for: delivered, lost, or in an unfinished message */
  assert(ldesc + lostsum + skipped + gn == NDESC)
}

init {
  byte i;
  d_step {
    /* §2.1 creation: slot i holds i - depth */
    for (i : 0 .. DEPTH - 1) {
      meta_seq[i] = i - DEPTH
    }
    i = 0
  }
  atomic {
    run producer();
#ifndef NO_RELIABLE
    run reliable();
#endif
#ifndef NO_LOSSY
    run lossy();
#endif
  }
}
