/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/*
 * rill's join, leave, death, eviction and rejoin in Promela: the second
 * layer of issue 23.  See model/README.md for what is modelled, the
 * properties, the step-to-source table and the memory orderings.
 *
 * One producer and the reliable consumer of cursor slot 0, which may die
 * at any step; then a restarted process rejoins slot 0 (docs/PROTOCOL.md
 * §3.4 Rejoin), or nobody does.  With -DWITH_LOSSY, a lossy consumer in
 * slot 1 joins at any moment and may leave at any moment.  DEPTH
 * descriptors, DATA = DEPTH + 2 one-chunk payload slots (§2.5 with
 * mtu_chunks = 1), NMSG one-fragment messages: the payload of s sits at
 * chunk s % DATA and is two words, lo and hi, both written with s.
 *
 * Memory.  The words the join and the eviction rely on (the producer
 * page's seq and evicted[], each cursor's state, mode, seq and gen) are
 * tso.pml's memory: x86-TSO, one FIFO store buffer for the producer and one
 * for the reliable consumer, drained by the process drain() below, which
 * names each store as it reaches memory.  The meta and data rings are
 * plain (sequentially consistent) words as in rill.pml, whose data path is
 * release/acquire throughout; a store of the producer into a ring first
 * drains its buffer, so its stores still reach memory in program order.
 * The lossy consumer's stores go straight to memory: the producer reads
 * only its slot's state, gen and mode, and every value they take makes it
 * skip the slot.  Taking or testing a lock (F_OFD_SETLK, F_OFD_GETLK) is a
 * system call: a full fence, then the kernel's lock word.
 *
 * Every step is one Promela statement, atomic with the printf that names
 * it: one load or one store of shared memory (locals are free), with a
 * comment naming the PROTOCOL.md section and step.  Lines starting with
 * "@" make check.sh's trail.  Locals that no later step reads are reset to
 * 0, so that states differing only in them are one state.
 *
 * Switches (-D on the spin command line):
 *   DEPTH, NMSG, DATA, SB sizes (defaults 2, 4, DEPTH + 2, 3)
 *   WITH_LOSSY            add the lossy consumer (slot 1)
 *   NO_RELIABLE           leave the reliable consumer out
 *   NO_DEATH              the reliable consumer never dies
 *   DIE_ACTIVE            it dies only once its join is done (every rejoin
 *                         then finds its slot ACTIVE)
 *   NO_HK                 no housekeeping flushes of producer.seq (§2.2)
 *   SC                    no store buffers (sequential consistency)
 *   NO_LAP_CHECK          an overrun of the reliable consumer is not an
 *                         error (to see where one leads: a torn payload?)
 *   BUG_JOINING_PREV      a JOINING slot counts at prev, the producer's
 *                         flush before this refresh (rill up to 0.3,
 *                         FINDING 1 in model/README.md), instead of the
 *                         seq it flushed at its last refresh that found
 *                         the slot in another state
 *   BUG_REJOIN_BEHIND     a rejoin resumes at the slot's cursor even when
 *                         the producer may not have counted the slot
 *                         (rill up to 0.3, FINDINGS 2 and 3), instead of
 *                         no earlier than producer.seq (through JOINING:
 *                         the seq it loads after state <- JOINING; in
 *                         place: when evicted[i] is the old gen, loaded
 *                         after a full fence)
 *   BUG_REJOIN_JOINING    a rejoin of an ACTIVE slot goes through JOINING
 *                         (rill before a6c9efe)
 *   BUG_JOIN_PLAIN        the joiner's state <- JOINING is a plain store
 *   BUG_FLUSH_PLAIN       the producer's flush of producer.seq is a plain
 *                         store
 *   BUG_EVICT_NO_GEN      a refresh skips a slot whenever evicted[i] != 0
 *                         (no compare with the slot's gen)
 *   BUG_REJOIN_NO_FENCE   a rejoin without the locked RMW that follows its
 *                         gen bump (the bump of wait.cr_wake)
 *   BUG_RESYNC_FOUND      a reliable consumer's overrun resynchronises to
 *                         the slot's seq, not to the later producer.seq
 */

/* The fixes of FINDINGS 1-3 are the protocol since 0.4 (PROTOCOL.md §3.4,
 * §3.5); the BUG_ switches restore the steps before them. */
#ifndef BUG_JOINING_PREV
#define FIX_JOINING
#endif
#ifndef BUG_REJOIN_BEHIND
#define FIX_REJOIN
#endif

#ifndef DEPTH
#define DEPTH 2
#endif
#ifndef NMSG
#define NMSG 4
#endif
#ifndef DATA
#define DATA (DEPTH + 2)
#endif
#ifdef WITH_LOSSY
#define NSLOT 2
#else
#define NSLOT 1
#endif

/* tso.pml: buffer P is the producer's, C the reliable consumer's (both of
 * its lives: the restarted process starts after the dead one's buffer has
 * drained, see its death below) */
#define P 0
#define C 1
#define NPROC 2
#ifndef SB
#define SB 3
#endif
/* shared words: producer page, then the cursor pages */
#define W_PSEQ 0              /* producer.seq (§2.2) */
#define W_EV(i) (1 + (i))     /* producer.evicted[i] (§2.2) */
#define W_ST(i) (3 + (i))     /* cursor i state (§2.3) */
#define W_MODE(i) (5 + (i))   /* cursor i mode */
#define W_SEQ(i) (7 + (i))    /* cursor i seq */
#define W_GEN(i) (9 + (i))    /* cursor i gen */
#define NWORDS 11
#include "tso.pml"

#define FREE 0
#define JOINING 1
#define ACTIVE 2
#define RELIABLE 1
#define LOSSY 2

#ifdef SC
#define DRAIN(p) skip
#else
#define DRAIN(p) tso_drain_all(p)

/* The drainer of buffer p (tso.pml's, with a trail line for each store
 * that reaches memory).  Blocking with nothing to drain is a valid end. */
proctype drain(byte p) {
end:
  do
  :: d_step {
       sb[p].n > 0 ->
       if
       :: sb[p].a[0] == W_PSEQ -> printf("@ memory: producer.seq = %d (drained from the producer's buffer)\n", sb[p].v[0])
       :: sb[p].a[0] == W_EV(0) -> printf("@ memory: evicted[0] = %d (drained from the producer's buffer)\n", sb[p].v[0])
       :: sb[p].a[0] == W_ST(0) -> printf("@ memory: cursor.state = %d (drained from the consumer's buffer)\n", sb[p].v[0])
       :: sb[p].a[0] == W_MODE(0) -> printf("@ memory: cursor.mode = %d (drained from the consumer's buffer)\n", sb[p].v[0])
       :: sb[p].a[0] == W_SEQ(0) -> printf("@ memory: cursor.seq = %d (drained from the consumer's buffer)\n", sb[p].v[0])
       :: sb[p].a[0] == W_GEN(0) -> printf("@ memory: cursor.gen = %d (drained from the consumer's buffer)\n", sb[p].v[0])
       :: else -> skip
       fi;
       tso_drain1(p)
     }
  od
}
#endif

/* The producer's stores into the rings are plain words: before the first
 * of a publish (the payload's lo) its buffer drains, so that its stores
 * reach memory in program order (TSO); it makes no buffered store between
 * that one and the publish's last. */

/* §2.4 meta ring, §2.5 data ring (as rill.pml) */
int  meta_seq[DEPTH];
int  meta_sig[DEPTH];
byte meta_chunk[DEPTH];
int  data_lo[DATA];
int  data_hi[DATA];
/* §2.3 ownership: the OFD lock of each cursor page, held by a live
 * consumer; the kernel drops it when its holder dies */
bit  lock[2];
/* set by init at any moment, or never: the reliable consumer is killed */
bit  kill;

/* ghost state, for the properties only (no process reads it to decide) */
int  published = 0;       /* sequence numbers whose release store is done */
byte alive_gen = 0;       /* gen of the live reliable consumer, 0 if none */
bit  ev_ghost = 0;        /* the producer evicted slot 0: one overrun allowed */
int  last_flush = 0;      /* the last cursor seq the reliable consumer stored */
bit  got[NMSG];           /* delivered to the reliable consumer (either life) */
bit  skipped[NMSG];       /* reported lost by a reliable consumer's overrun */
int  rel_from = -1;       /* where the reliable consumer first started */
int  lossy_acc = 0, lossy_lost = 0, lossy_bad = 0;

/* ---- the producer ------------------------------------------------------ */

/* The producer's wait for credit (rill_wait's loop of tries, or an
 * application retrying rill_send) is modelled as: block until a try could
 * do something the last one did not.  That is when a word it loaded has
 * another value now (lv[]; DIRTY if two loads of it in one try differed),
 * a lock it tested changed (lk[]), the prev of its last refresh was older
 * than what it flushed (the next refresh's prev is that flush), or it
 * found a dead consumer whose eviction timeout may have run out since
 * (could_ev).  A try with the same inputs computes the same credits. */
#define UNSEEN (-100)
#define DIRTY (-101)
#define WATCH(w, r) \
  if \
  :: lv[w] == UNSEEN -> lv[w] = r \
  :: lv[w] != UNSEEN && lv[w] != DIRTY && lv[w] != r -> lv[w] = DIRTY \
  :: else -> skip \
  fi
/* the producer's load of a cursor word (it never stores one: memory) */
#define PLD(w, r) d_step { r = mem[w]; WATCH(w, r) }
#define WCH(w) (lv[w] != UNSEEN && (lv[w] == DIRTY || mem[w] != lv[w]))
#define LCH(i) (lk[i] != 2 && lock[i] != lk[i])
#define SLOTCH(i) (WCH(W_ST(i)) || WCH(W_GEN(i)) || WCH(W_MODE(i)) || WCH(W_SEQ(i)) || LCH(i))
#ifdef WITH_LOSSY
#define CHANGED (SLOTCH(0) || SLOTCH(1))
#else
#define CHANGED (SLOTCH(0))
#endif

#ifdef BUG_FLUSH_PLAIN
#define FLUSH_SEQ(x) ST(P, W_PSEQ, x)
#else
#define FLUSH_SEQ(x) ST_SC(P, W_PSEQ, x)
#endif

#ifdef BUG_EVICT_NO_GEN
#define IS_EVICTED(e, g) (e != 0)
#else
#define IS_EVICTED(e, g) (e != 0 && e == g)
#endif

/* §3.5 refresh (credit_refresh) */
inline refresh() {
  prev = flushed;
  /* §3.5 producer.seq <- next: the flush (prod_flush), seq_cst */
  atomic {
    FLUSH_SEQ(next);
#ifdef BUG_FLUSH_PLAIN
    printf("@ producer §3.5 refresh: producer.seq <- %d (BUG: a plain store; prev %d)\n", next, prev)
#else
    printf("@ producer §3.5 refresh: producer.seq <- %d (seq_cst; prev %d)\n", next, prev)
#endif
  }
  flushed = next;
  lprev = prev;
  min = next;
  i = 0;
  do
  :: i == NSLOT -> break
  :: else ->
    /* §3.5 st <- state (seq_cst) */
    atomic {
      PLD(W_ST(i), st);
      printf("@ producer §3.5 slot %d: state %d\n", i, st)
    }
#ifdef FIX_JOINING
    if :: st != JOINING -> seen[i] = next :: else -> skip fi;
#endif
    if
    :: st == FREE -> skip
    :: else ->
      /* §3.5 gen (relaxed); evicted[i] (relaxed) */
      atomic {
        PLD(W_GEN(i), g);
        printf("@ producer §3.5 slot %d: gen %d\n", i, g)
      }
      atomic {
        LD(P, W_EV(i), ev);
        printf("@ producer §3.5 slot %d: evicted %d\n", i, ev)
      }
      if
      :: IS_EVICTED(ev, g) -> skip
      :: else ->
        /* §3.5 mode (relaxed) */
        atomic {
          PLD(W_MODE(i), m);
          printf("@ producer §3.5 slot %d: mode %d\n", i, m)
        }
        if
        :: m != RELIABLE -> skip
        :: else ->
          if
          :: st == JOINING ->
#ifdef FIX_JOINING
            c = seen[i];
#else
            c = prev;
#endif
            printf("@ producer §3.5 slot %d joining: counts it at %d\n", i, c)
          :: else ->
            /* §3.5 c <- cursor.seq (acquire) */
            atomic {
              PLD(W_SEQ(i), c);
              printf("@ producer §3.5 slot %d: cursor %d\n", i, c)
            }
          fi;
          if :: c < min -> min = c :: else -> skip fi
        fi
      fi
    fi;
    i++
  od;
  /* §3.5 credits <- max(0, min + depth - next) */
  if
  :: min + DEPTH - next > 0 -> credits = min + DEPTH - next
  :: else -> credits = 0
  fi;
  printf("@ producer §3.5 refresh: credits %d (up to %d)\n", credits, next + credits - 1)
}

/* §3.5 eviction (evict_dead, need = 1) */
inline evict() {
  evicted = 0;
  i = 0;
  do
  :: i == NSLOT -> break
  :: else ->
    /* state (acquire), mode (relaxed) */
    atomic {
      PLD(W_ST(i), st);
      printf("@ producer §3.5 evict check, slot %d: state %d\n", i, st)
    }
    if
    :: st == FREE -> skip
    :: else ->
      atomic {
        PLD(W_MODE(i), m);
        printf("@ producer §3.5 evict check, slot %d: mode %d\n", i, m)
      }
      if
      :: m != RELIABLE -> skip
      :: else ->
        /* gen (relaxed), evicted[i] (relaxed) */
        atomic {
          PLD(W_GEN(i), g);
          printf("@ producer §3.5 evict check, slot %d: gen %d\n", i, g)
        }
        atomic {
          LD(P, W_EV(i), ev);
          printf("@ producer §3.5 evict check, slot %d: evicted %d\n", i, ev)
        }
        if
        :: g == ev -> skip
        :: else ->
#ifdef FIX_JOINING
          if
          :: st == JOINING -> s = seen[i]
          :: else ->
#else
          if
          :: true ->
#endif
            /* cursor seq (relaxed) */
            atomic {
              PLD(W_SEQ(i), s);
              printf("@ producer §3.5 evict check, slot %d: cursor %d\n", i, s)
            }
          fi;
          if
          :: s + DEPTH - next >= 1 -> skip   /* leaves a credit: not holding us back */
          :: else ->
            /* F_OFD_GETLK: a system call (a full fence), then the lock */
            atomic {
              d_step { DRAIN(P); held = lock[i]; lk[i] = held };
              printf("@ producer §3.5 evict check, slot %d: lock held %d (F_OFD_GETLK: a full fence)\n", i, held)
            }
            if
            :: held -> skip
            :: else ->
              could_ev = 1;
              if
              :: /* dead for longer than the eviction timeout */
                atomic {
                  ST(P, W_EV(i), g);
                  printf("@ producer §3.5 EVICTS slot %d: evicted[%d] <- gen %d (relaxed)\n", i, i, g);
                  /* never a live consumer's gen */
                  assert(i != 0 || g != alive_gen);
                  if :: i == 0 -> ev_ghost = 1 :: else -> skip fi
                }
                evicted = 1
              :: /* not dead for long enough yet */
                printf("@ producer §3.5 evict check, slot %d: dead, not for long enough\n", i)
              fi
            fi
          fi
        fi
      fi
    fi;
    i++
  od
}

proctype producer() {
  int next = 0;        /* p->seq */
  int credits = 0;     /* p->cr_avail: the first publish refreshes */
  int flushed = 0;     /* p->seq_flushed: the producer's join flushed seq0 = 0 */
  int prev, lprev, min, c, st, g, ev, m, s, ch;
  byte i;
  bit evicted, held, could_ev;
  int lv[NWORDS];
  byte lk[2];
#ifdef FIX_JOINING
  int seen[2];         /* 0 = seq0: no joiner starts before it */
#endif
  do
  :: next == NMSG -> break
  :: else ->
    /* §3.5 credits: refresh only when fewer than need (1) remain */
    do
    :: credits > 0 -> break
    :: else ->
      /* a try (credit_get): refresh; short, the eviction check and, if it
       * evicted, one more refresh */
      d_step {
        i = 0;
        do :: i < NWORDS -> lv[i] = UNSEEN; i++ :: else -> break od;
        lk[0] = 2; lk[1] = 2; could_ev = 0; i = 0
      }
      do
      :: refresh();
        if
        :: credits == 0 && !evicted ->
          evict();
          if :: evicted -> skip :: else -> break fi
        :: else -> break
        fi
      od;
      skip;
      d_step { prev = 0; min = 0; c = 0; st = 0; g = 0; ev = 0; m = 0; s = 0; held = 0; evicted = 0; i = 0 }
      if
      :: credits > 0 ->
        d_step {
          do :: i < NWORDS -> lv[i] = 0; i++ :: else -> break od;
          lk[0] = 0; lk[1] = 0; could_ev = 0; lprev = 0; i = 0
        }
      :: else ->
        /* the next try that could differ (rill_wait retries) */
        atomic {
          (CHANGED || lprev != flushed || could_ev);
          printf("@ producer §3.5 no credit: tries again\n")
        }
      fi
    od;
    /* §2.5 placement, §3.1 "payload already written" (send_frag) */
    ch = next % DATA;
    atomic {
      d_step { DRAIN(P); data_lo[ch] = next };
      printf("@ producer §2.5 payload of %d into chunk %d: lo\n", next, ch)
    }
    atomic {
      data_hi[ch] = next;
      printf("@ producer §2.5 payload of %d into chunk %d: hi\n", next, ch)
    }
    /* §3.1 slot.seq <- s - 1 (relaxed), "being written"; fence(release) */
    atomic {
      meta_seq[next % DEPTH] = next - 1;
      printf("@ producer §3.1 mark slot %d: seq <- %d\n", next % DEPTH, next - 1)
    }
    /* §3.1 fields (relaxed) */
    meta_sig[next % DEPTH] = next;
    meta_chunk[next % DEPTH] = ch;
    /* §3.1 slot.seq <- s (release) */
    atomic {
      d_step {
        meta_seq[next % DEPTH] = next;
        published = next + 1
      };
      printf("@ producer §3.1 publish slot %d: seq <- %d\n", next % DEPTH, next)
    }
    d_step { credits--; next++; ch = 0 }
#ifndef NO_HK
    /* §2.2 housekeeping flush (every 512-1024 publishes: at any publish,
     * as seen from a consumer that joins at some moment) */
    if
    :: atomic {
         FLUSH_SEQ(next);
         printf("@ producer §2.2 housekeeping flush: producer.seq <- %d (seq_cst)\n", next)
       }
       flushed = next
    :: skip
    fi
#endif
  od
}

/* ---- the reliable consumer (slot 0), and its restart ----------------- */

proctype reliable() {
  int s;               /* c->seq */
  int flushed;         /* c->seq_flushed */
  int at, bt, sg, lo, hi, found, head, g, last, p, before, st, x;
  byte ch;
  byte life = 1;       /* 1: the first process; 2: the restarted one; 3: done */
  bit fresh, lap_ok, joined;
  do
  :: life == 3 -> break
  :: else ->
    {
      /* §2.3 claim the slot: its OFD lock (a system call: a full fence) */
      atomic {
        d_step { lock[0] == 0 -> DRAIN(C); lock[0] = 1 };
        printf("@ consumer (life %d) takes the lock of slot 0 (a system call: a full fence)\n", life)
      }
      fresh = 1;
      lap_ok = 0;
      if
      :: life == 2 ->
        /* §3.4 Rejoin: gen (acquire); 0 -> ENOENT (the dead process
         * never bumped it): the application joins anew instead */
        atomic {
          LD(C, W_GEN(0), g);
          printf("@ consumer §3.4 rejoin: gen %d\n", g)
        }
        if
        :: g != 0 ->
          fresh = 0;
          /* mode, 1 or 2 (the kernel made every store of the dead
           * process visible before it dropped the lock) */
          atomic {
            LD(C, W_MODE(0), x);
            printf("@ consumer §3.4 rejoin: mode %d\n", x);
            assert(x == RELIABLE)
          }
          /* last <- seq (the slot's, before the gen bump, as core/consumer.h
           * and PROTOCOL.md §3.4 do; only this process writes it) */
          atomic {
            LD(C, W_SEQ(0), last);
            printf("@ consumer §3.4 rejoin: last <- cursor.seq %d\n", last);
            /* no store of the dead process is lost */
            assert(last == last_flush)
          }
          /* gen <- gen + 1 (relaxed) */
          atomic {
            ST(C, W_GEN(0), g + 1);
            printf("@ consumer §3.4 rejoin: gen <- %d (relaxed)\n", g + 1);
            alive_gen = g + 1
          }
          /* p <- producer.seq (seq_cst load: a plain load on x86) */
          atomic {
            LD(C, W_PSEQ, p);
            printf("@ consumer §3.4 rejoin: p <- producer.seq %d\n", p)
          }
          /* slot last - 1 (acquire): resume at last unless it is ahead of
           * what was published */
          atomic {
            before = meta_seq[(last - 1 + DEPTH) % DEPTH];
            if
            :: p - last >= 0 || before - (last - 1) >= 0 -> s = last
            :: else -> s = p
            fi;
            printf("@ consumer §3.4 rejoin: slot of %d holds %d, resume at %d\n", last - 1, before, s);
            /* at the last flushed position (docs/waiting.md) */
            assert(s == last);
            if :: rel_from < 0 -> rel_from = s :: else -> skip fi
          }
          /* state (acquire) */
          atomic {
            LD(C, W_ST(0), st);
            printf("@ consumer §3.4 rejoin: state %d\n", st);
            /* lapped meanwhile, allowed once: a slot the producer did
             * not count (its consumer died joining) */
            lap_ok = (st != ACTIVE)
          }
#ifndef BUG_REJOIN_JOINING
          if
          :: st == ACTIVE ->
            /* in place: seq (release) only if it resumes elsewhere */
            if
            :: s != last ->
              atomic {
                ST(C, W_SEQ(0), s);
                printf("@ consumer §3.4 rejoin in place: cursor.seq <- %d (release)\n", s);
                last_flush = s
              }
            :: else ->
              printf("@ consumer §3.4 rejoin: takes over the active slot in place\n")
            fi
          :: else ->
#else
          if
          :: true ->
#endif
            /* through joining, starting at the resume point */
            atomic {
              ST_SC(C, W_ST(0), JOINING);
              printf("@ consumer §3.4 rejoin: state <- joining (seq_cst)\n")
            }
            atomic {
              LD(C, W_PSEQ, x);
              printf("@ consumer §3.4 rejoin: producer.seq %d\n", x)
            }
#ifdef FIX_REJOIN
            /* candidate fix: not behind what the producer may have given
             * credit for while it did not count the slot (every such
             * refresh flushed at most x): the rest is reported lost */
            if
            :: x - s > 0 ->
              d_step {
                printf("@ consumer FIX rejoin: starts at %d, not %d (lost %d)\n", x, s, x - s);
                /* a loss only where the producer did not count the slot */
                assert(lap_ok || ev_ghost);
                lap_ok = 0; ev_ghost = 0;
                do :: s < x -> skipped[s] = 1; s++ :: else -> break od
              }
            :: else -> skip
            fi;
#endif
            atomic {
              ST(C, W_SEQ(0), s);
              printf("@ consumer §3.4 rejoin: cursor.seq <- %d (relaxed)\n", s);
              last_flush = s
            }
            atomic {
              ST(C, W_ST(0), ACTIVE);
              printf("@ consumer §3.4 rejoin: state <- active (release)\n")
            }
          fi
        :: else -> skip
        fi
      :: else -> skip
      fi;
      if
      :: fresh ->
        /* §3.4 Joining: mode (relaxed) */
        atomic {
          ST(C, W_MODE(0), RELIABLE);
          printf("@ consumer (life %d) §3.4 join: mode <- reliable (relaxed)\n", life)
        }
        /* gen <- gen + 1 (relaxed; its own word: no other writer) */
        atomic {
          LD(C, W_GEN(0), g);
          ST(C, W_GEN(0), g + 1);
          printf("@ consumer (life %d) §3.4 join: gen <- %d (relaxed)\n", life, g + 1);
          alive_gen = g + 1
        }
        /* state <- 1 (joining), seq_cst */
        atomic {
#ifdef BUG_JOIN_PLAIN
          ST(C, W_ST(0), JOINING);
          printf("@ consumer (life %d) §3.4 join: state <- joining (BUG: plain store)\n", life)
#else
          ST_SC(C, W_ST(0), JOINING);
          printf("@ consumer (life %d) §3.4 join: state <- joining (seq_cst)\n", life)
#endif
        }
        /* s0 <- producer.seq (seq_cst) */
        atomic {
          LD(C, W_PSEQ, s);
          printf("@ consumer (life %d) §3.4 join: s0 <- producer.seq %d\n", life, s);
          if :: rel_from < 0 -> rel_from = s :: else -> skip fi
        }
        /* seq <- s0 (relaxed) */
        atomic {
          ST(C, W_SEQ(0), s);
          printf("@ consumer (life %d) §3.4 join: cursor.seq <- %d (relaxed)\n", life, s);
          last_flush = s
        }
        /* state <- 2 (active), release */
        atomic {
          ST(C, W_ST(0), ACTIVE);
          printf("@ consumer (life %d) §3.4 join: state <- active (release)\n", life)
        }
      :: else -> skip
      fi;
      /* wait.cr_wake += 1 (release; a locked RMW, so a full fence on x86) */
#ifdef BUG_REJOIN_NO_FENCE
      if
      :: !fresh -> skip
      :: else ->
#else
      if
      :: true ->
#endif
        atomic {
          FENCE(C);
          printf("@ consumer (life %d) §3.4 join: wait.cr_wake += 1 (a full fence)\n", life);
          joined = 1
        }
      fi;
      flushed = s;   /* c->seq_flushed: what the cursor holds */
#ifdef FIX_REJOIN
      /* candidate fix: a rejoin in place of a slot the producer evicted
       * (evicted[0] == the old gen, loaded after the full fence above)
       * starts no earlier than producer.seq loaded after that fence: every
       * refresh that skipped the slot flushed at most that */
      if
      :: !fresh && st == ACTIVE ->
        atomic {
          LD(C, W_EV(0), x);
          printf("@ consumer FIX rejoin: evicted[0] %d (old gen %d)\n", x, g)
        }
        if
        :: x == g ->
          atomic {
            LD(C, W_PSEQ, p);
            printf("@ consumer FIX rejoin: producer.seq %d\n", p)
          }
          if
          :: p - s > 0 ->
            d_step {
              printf("@ consumer FIX rejoin: starts at %d, not %d (lost %d)\n", p, s, p - s);
              assert(lap_ok || ev_ghost);
              lap_ok = 0; ev_ghost = 0;
              do :: s < p -> skipped[s] = 1; s++ :: else -> break od
            }
          :: else -> skip
          fi
        :: else -> skip
        fi
      :: else -> skip
      fi;
#endif
      d_step { g = 0; last = 0; p = 0; before = 0; st = 0; x = 0 }

      do
      :: s == NMSG -> break
      :: else ->
        /* §3.2/§3.4 countdown flush at the start of a poll (the countdown
         * is random: any poll) */
        if
        :: s != flushed ->
          atomic {
            ST(C, W_SEQ(0), s);
            printf("@ consumer §3.4 countdown flush: cursor.seq <- %d (release)\n", s);
            last_flush = s
          }
          flushed = s
        :: true -> skip
        fi;
        /* §3.2 a <- slot.seq (acquire) */
        atomic {
          at = meta_seq[s % DEPTH];
          printf("@ consumer §3.2 poll %d: slot holds %d\n", s, at)
        }
        if
        :: at == s ->
          /* §3.2 fields (relaxed); fence(acquire); b <- slot.seq */
          sg = meta_sig[s % DEPTH];
          ch = meta_chunk[s % DEPTH];
          atomic {
            bt = meta_seq[s % DEPTH];
            printf("@ consumer §3.2 poll %d: second load of seq %d\n", s, bt)
          }
          if
          :: bt != s -> found = bt; goto LAPPED
          :: else -> skip
          fi;
          s++;
          /* the application reads the payload (no check: §3.3) */
          lo = data_lo[ch];
          atomic {
            hi = data_hi[ch];
            printf("@ consumer reads payload of %d: lo %d hi %d\n", s - 1, lo, hi);
            assert(sg == s - 1 && lo == s - 1 && hi == s - 1);
            got[s - 1] = 1
          }
          d_step { at = 0; bt = 0; sg = 0; lo = 0; hi = 0; ch = 0 }
        :: at < s ->
          /* §3.2 nothing yet: flush if s moved (§3.4) */
          if
          :: s != flushed ->
            atomic {
              ST(C, W_SEQ(0), s);
              printf("@ consumer §3.4 idle flush: cursor.seq <- %d (release)\n", s);
              last_flush = s
            }
            flushed = s
          :: else -> skip
          fi;
          /* the next poll: only a change of the slot changes its answer */
          (meta_seq[s % DEPTH] != at);
          at = 0
        :: at > s ->
          found = at;
LAPPED:
          /* a reliable consumer is lapped only after its slot was evicted
           * or when it rejoined a slot the producer did not count; and then
           * once: it resynchronises where no credit can reach (§3.2) */
          atomic {
            printf("@ consumer §3.2 LAPPED at %d (found %d)\n", s, found);
#if defined(FIX_REJOIN)
            /* with the candidate fix of findings 2 and 3: never */
            assert(false);
#elif !defined(NO_LAP_CHECK)
            assert(lap_ok || ev_ghost);
#endif
            lap_ok = 0;
            ev_ghost = 0
          }
          /* §3.2 FOUND: head <- producer.seq (acquire) */
          atomic {
            LD(C, W_PSEQ, head);
            printf("@ consumer §3.2 overrun: producer.seq %d\n", head);
            assert(found > s && found < published)
          }
          d_step {
#ifndef BUG_RESYNC_FOUND
            if :: head - found > 0 -> found = head :: else -> skip fi;
#endif
            x = s;
            do :: x < found -> skipped[x] = 1; x++ :: else -> break od;
            printf("@ consumer §3.2 overrun: lost %d, resync %d -> %d\n", found - s, s, found);
            x = 0;
            s = found;
            found = 0; head = 0; at = 0; bt = 0; sg = 0; ch = 0
          }
        fi
      od;
      /* §3.4 leaving: flush with heartbeat, state <- 0 (release), unlock */
      atomic {
        ST(C, W_SEQ(0), s);
        printf("@ consumer (life %d) §3.4 leave: cursor.seq <- %d (release)\n", life, s);
        last_flush = s
      }
      atomic {
        ST(C, W_ST(0), FREE);
        printf("@ consumer (life %d) §3.4 leave: state <- free (release)\n", life)
      }
      atomic {
        d_step { DRAIN(C); lock[0] = 0; alive_gen = 0 };
        printf("@ consumer (life %d) §3.4 leave: unlock (a system call: a full fence)\n", life);
        /* docs/waiting.md: from where the consumer started, every message
         * was delivered at least once or reported lost */
        d_step {
          x = rel_from;
          do
          :: x < NMSG -> assert(got[x] || skipped[x]); x++
          :: else -> break
          od;
          x = 0
        }
      }
      life = 3
#ifdef DIE_ACTIVE
    } unless { kill && life == 1 && joined };
#else
    } unless { kill && life == 1 };
#endif
    if
    :: life == 1 ->
      /* killed: the kernel's exit path drains the store buffer (its locked
       * instructions) and drops the OFD lock */
      atomic {
        d_step {
          DRAIN(C); lock[0] = 0; alive_gen = 0;
          s = 0; flushed = 0; at = 0; bt = 0; sg = 0; lo = 0; hi = 0; ch = 0;
          found = 0; head = 0; g = 0; last = 0; p = 0; before = 0; st = 0; x = 0;
          fresh = 0; lap_ok = 0; joined = 0
        };
        printf("@ consumer DIES: the kernel drains its store buffer and drops its lock\n")
      }
      if
      :: life = 2; printf("@ consumer restarts: rill_consumer_rejoin(slot 0)\n")
      :: life = 3; printf("@ consumer stays dead\n")
      fi
    :: else -> skip
    fi
  od
}

/* ---- the lossy consumer (slot 1) --------------------------------------- */

proctype lossy() {
  int s, s0, at, bt, sg, lo, hi, found, ok;
  byte ch;
  /* §3.4 Joining (its stores straight to memory: see the top) */
  mem[W_MODE(1)] = LOSSY;
  mem[W_GEN(1)] = 1;
  mem[W_ST(1)] = JOINING;
  atomic {
    s0 = mem[W_PSEQ];
    printf("@ lossy §3.4 join: s0 <- producer.seq %d\n", s0)
  }
  s = s0;
  mem[W_SEQ(1)] = s;
  mem[W_ST(1)] = ACTIVE;
  do
  :: s == NMSG -> break
  :: s < NMSG ->
    /* §3.4 leaving (a lossy cursor gives no credit: its flushes are not
     * modelled) */
    atomic {
      mem[W_ST(1)] = FREE;
      printf("@ lossy §3.4 leave at %d\n", s)
    }
    break
  :: s < NMSG ->
    atomic {
      at = meta_seq[s % DEPTH];
      printf("@ lossy §3.2 poll %d: slot holds %d\n", s, at)
    }
    if
    :: at == s ->
      sg = meta_sig[s % DEPTH];
      ch = meta_chunk[s % DEPTH];
      bt = meta_seq[s % DEPTH];
      if
      :: bt != s -> found = bt; goto FOUND
      :: else -> skip
      fi;
      s++;
      assert(sg == s - 1 && ch == (s - 1) % DATA);
      lo = data_lo[ch];
      hi = data_hi[ch];
      /* §3.3 fence(acquire); valid <- slot.seq == s */
      ok = (meta_seq[(s - 1) % DEPTH] == s - 1);
      atomic {
        if
        :: ok ->
          printf("@ lossy §3.3 check: %d accepted (lo %d hi %d)\n", s - 1, lo, hi);
          assert(sg == s - 1 && lo == s - 1 && hi == s - 1);
          lossy_acc++
        :: else ->
          printf("@ lossy §3.3 check: %d overwritten while read\n", s - 1);
          lossy_bad++
        fi;
        at = 0; bt = 0; sg = 0; lo = 0; hi = 0; ch = 0; ok = 0
      }
    :: at < s ->
      (meta_seq[s % DEPTH] != at);
      at = 0
    :: at > s ->
      found = at;
FOUND:
      atomic {
        assert(found > s && found < published);
        lossy_lost = lossy_lost + found - s;
        printf("@ lossy §3.2 overrun: lost %d, resync %d -> %d\n", found - s, s, found);
        s = found;
        found = 0; at = 0; bt = 0; sg = 0; ch = 0
      }
    fi;
    /* the loss count is exact from where it joined */
    assert(lossy_acc + lossy_lost + lossy_bad == s - s0)
  od
}

init {
  int i;
  /* §2.1 creation: slot i holds seq0 + i - depth (seq0 = 0) */
  for (i : 0 .. DEPTH - 1) {
    meta_seq[i] = i - DEPTH
  }
  atomic {
#ifndef SC
    run drain(P);
    run drain(C);
#endif
    run producer();
#ifndef NO_RELIABLE
    run reliable();
#endif
#ifdef WITH_LOSSY
    run lossy();
#endif
  }
#if !defined(NO_DEATH) && !defined(NO_RELIABLE)
  /* the reliable consumer is killed at any moment, or never */
  if
  :: kill = 1
  :: skip
  fi
#endif
}
