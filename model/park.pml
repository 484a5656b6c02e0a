/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/*
 * Parking and waking, both sides (docs/PROTOCOL.md §3.7), over the x86-TSO
 * store buffers of tso.pml.  See model/README.md.
 *
 * One producer (process 0) publishes NMSG one-fragment messages through a
 * meta ring of DEPTH descriptors, then leaves.  One reliable consumer
 * (process 1) reads until the channel is closed.  Either side, when it
 * finds nothing to do, may poll again (spin) or park: the consumer on the
 * producer page's `wake` word, the producer (for credit) on the wait page's
 * `cr_wake` word.  Futex waits have no timeout here: if a side sleeps
 * forever, a wake-up was lost (pan reports an invalid end state).  The
 * payload and the descriptor's fields are rill.pml's business; here a
 * descriptor is its seq word.
 *
 * Switches (-D):
 *   DEPTH, NMSG, SB          sizes (defaults 2, 3, 2)
 *   ASYM                     the producer registered for heavy barriers:
 *                            it runs no fence after a publish, the parking
 *                            consumer runs the heavy barrier (§3.7)
 *   CONS_REG                 the consumer registered: it runs no fence after
 *                            a cursor flush, the producer's mandatory heavy
 *                            barrier covers it (§3.7, credit)
 *   LAZY                     the producer joined LAZY (§3.7a): it fences
 *                            after a publish only once a consumer asked
 *                            (fence_req) and it set FENCING; a consumer
 *                            that finds LAZY without FENCING asks and naps
 *                            (never sleeps for good) until it sees FENCING
 *   FD                       the consumer waits on its fd (§3.8) instead of
 *                            the futex: it arms (fd_gen += 1, arm_gen += 1,
 *                            barrier, a look, the producer's state) and
 *                            sleeps until the producer writes its FIFO
 *   SC                       no store buffers (tso.pml)
 *   BUG_NO_PUBLISH_FENCE     a producer without ASYM skips its fence after
 *                            the publish
 *   BUG_ARM_GEN_FIRST        the producer loads arm_gen before its fence
 *   BUG_WAKE_LOADED_LATE     the consumer loads `wake` after its look, just
 *                            before it sleeps
 *   BUG_CREDIT_NO_BARRIER    the producer parks for credit without its heavy
 *                            barrier
 *   BUG_STATE_BEFORE_WAKE    the consumer looks at producer.state before it
 *                            loads `wake` (rill before this model)
 *   BUG_FD_GEN_LATE          (with FD) the consumer stores fd_gen after its
 *                            bump of arm_gen instead of before
 *   BUG_LAZY_SLEEPS          (with LAZY) a consumer that asked a LAZY
 *                            producer to fence sleeps for good at once,
 *                            instead of napping until it sees FENCING
 */

#ifndef DEPTH
#define DEPTH 2
#endif
#ifndef NMSG
#define NMSG 3
#endif
#ifndef SB
#define SB 2
#endif

#define NPROC 2
#define P 0                     /* the producer's store buffer */
#define C 1                     /* the consumer's */

/* words of shared memory */
#define W_SEQ 0                 /* §2.4 meta ring: slot i's seq at W_SEQ + i */
#define W_CUR (DEPTH)           /* §2.3 cursor.seq */
#define W_PARK (DEPTH + 1)      /* §2.3 cursor.park */
#define W_WAKE (DEPTH + 2)      /* §2.2 producer.wake */
#define W_CRWAIT (DEPTH + 3)    /* §2.2 producer.cr_wait */
#define W_STATE (DEPTH + 4)     /* §2.2 producer.state: 1 joined, 2 left */
#define W_ARM (DEPTH + 5)       /* §2.2a wait.arm_gen */
#define W_CRWAKE (DEPTH + 6)    /* §2.2a wait.cr_wake */
#define W_FLAGS (DEPTH + 7)     /* §2.2 producer.flags: LAZY 1, FENCING 2 */
#define W_FREQ (DEPTH + 8)      /* §2.2a wait.fence_req */
#define W_FDGEN (DEPTH + 9)     /* §2.3 cursor.fd_gen */
#define NWORDS (DEPTH + 10)
#define F_LAZY 1
#define F_FENCING 2

#include "tso.pml"

/* §3.8 the consumer's FIFO: bytes written (a kernel object, not memory:
 * no store buffer) */
int fifo = 0;
int drained = 0;                /* the FIFO's bytes the consumer drained */

/* ghost state, for the properties only */
int published = 0;              /* messages whose publish store is issued */
bit fdwait = 0;                 /* the consumer waits for its fd */
#define FD_QUIET (fdwait && fifo == drained)   /* ... and nothing wakes it */
int rs = 0;                     /* the consumer's s (its next message); global
                                 * so that the producer's assertions see it */

/* No lost wake-up: once the producer is done with a publish (its wake-up
 * check included), the consumer is not asleep waiting for a message that
 * is published. */
#define WOKEN_IF_DUE assert(!((asleep[C] && asleep_on[C] == W_WAKE || FD_QUIET) && rs < published))

/* §3.7 wake-up path: last g seen <- g; wake += 1 (release RMW); park (the
 * one slot) 1, or FORCE: futex_wake(&wake, all) */
inline wake_path(g, FORCE) {
  force = FORCE;
#ifdef LAZY
  /* §3.7a: not FENCING yet: did the consumer that moved arm_gen ask? */
  if
  :: !fencing ->
    LD(P, W_FREQ, fr);              /* fence_req (relaxed) */
    if
    :: fr ->
      XADD(P, W_FLAGS, F_FENCING, x); /* flags |= FENCING (seq_cst RMW) */
      printf("@ producer §3.7a fence_req seen: flags |= FENCING, path forced\n");
      fencing = 1;
      force = 1
    :: else -> skip
    fi
  :: else -> skip
  fi;
#endif
  seen = g;
  XADD(P, W_WAKE, 1, x);
  printf("@ producer §3.7 wake-up path: wake %d -> %d\n", x, x + 1);
#ifdef FD
  if
  :: force -> FENCE(P); skip          /* at leave: LEFT before the fd_gen load */
  :: else -> skip
  fi;
  /* §3.7 the slot's fd_gen differs from the one last signalled (or
   * forced and nonzero): write one byte to its FIFO */
  LD(P, W_FDGEN, fg);
  if
  :: fg != fdseen || (force && fg != 0) ->
    fdseen = fg;
    fifo++;
    printf("@ producer §3.7 fd_gen %d: writes the FIFO\n", fg)
  :: else -> skip
  fi;
#endif
  LD(P, W_PARK, pk);
  if
  :: pk || force ->
    printf("@ producer §3.7 futex_wake(wake) (park %d)\n", pk);
    FUTEX_WAKE(P, W_WAKE)
  :: else -> skip
  fi
}

/* §3.5 refresh (the one cursor): c <- cursor.seq (acquire); the seq_cst
 * flush of producer.seq before it is a full fence */
inline refresh() {
  FENCE(P);
  LD(P, W_CUR, c);
  credits = c + DEPTH - next;
  printf("@ producer §3.5 refresh: cursor %d, credits %d\n", c, credits)
}

proctype producer() {
  int next = 0, credits = 0, c, g, seen = 0, x, w;
  bit pk, force, fr;
  int fg, fdseen = 0;             /* fd_gen last signalled: 0 at join */
#ifdef LAZY
  bit fencing = 0;                  /* fence_each: only once FENCING is set */
#endif
  do
  :: next == NMSG -> break
  :: else ->
    /* §3.5 a publish needs 1 credit; refresh when none is left */
    do
    :: credits > 0 -> break
    :: else ->
      refresh();
      if
      :: credits > 0 -> break
      :: true -> skip               /* spin: refresh again */
      :: true ->
        /* §3.7 producer parking for credit */
        LD(P, W_CRWAKE, w);         /* w <- wait.cr_wake (acquire) */
        printf("@ producer §3.7 park for credit: w <- cr_wake %d\n", w);
        ST_SC(P, W_CRWAIT, 1);      /* producer.cr_wait <- 1 (seq_cst) */
        printf("@ producer §3.7 cr_wait <- 1 (seq_cst)\n");
#ifndef BUG_CREDIT_NO_BARRIER
        HEAVY();                    /* heavy barrier, mandatory */
        printf("@ producer §3.7 heavy barrier\n");
#endif
        refresh();                  /* retry */
        if
        :: credits > 0 ->
          ST(P, W_CRWAIT, 0);
          break
        :: else ->
          printf("@ producer §3.7 futex_wait(cr_wake, %d)\n", w);
          FUTEX_WAIT(P, W_CRWAKE, w);
          printf("@ producer §3.7 woken (or cr_wake moved)\n");
          ST(P, W_CRWAIT, 0)        /* cr_wait <- 0, then retry */
        fi
      fi
    od;
    /* §3.1 publish: slot.seq <- s (release; the mark and the fields before
     * it are rill.pml's) */
    skip;
    ST(P, W_SEQ + next % DEPTH, next);
    published = next + 1;
    printf("@ producer §3.1 publish %d\n", next);
    credits--;
    next++;
    /* §3.7 after every publish: fence seq_cst unless ASYM; g <- arm_gen */
#ifdef BUG_ARM_GEN_FIRST
    LD(P, W_ARM, g);
#endif
#if defined(LAZY)
    if
    :: fencing -> FENCE(P); skip    /* (a d_step may not end a branch) */
    :: else -> skip
    fi;
#elif !defined(ASYM) && !defined(BUG_NO_PUBLISH_FENCE)
    FENCE(P);
#endif
#ifndef BUG_ARM_GEN_FIRST
    LD(P, W_ARM, g);                /* acquire */
#endif
    printf("@ producer §3.7 after publish: arm_gen %d (last seen %d)\n", g, seen);
    if
    :: g != seen -> wake_path(g, 0)
    :: else -> skip
    fi;
    WOKEN_IF_DUE
  od;
  /* §3.6 leaving: flush; state <- 2 (release); the wake-up path forced */
  skip;                             /* (a jump may not land in a d_step) */
  FENCE(P);
  ST(P, W_STATE, 2);
  printf("@ producer §3.6 leave: state <- 2\n");
  LD(P, W_ARM, g);
  wake_path(g, 1);
  assert(!(asleep[C] && asleep_on[C] == W_WAKE || FD_QUIET))
}

/* §3.7 credit wake-up check after a reliable consumer's cursor flush:
 * fence seq_cst unless registered; cr_wait (relaxed) nonzero: cr_wake += 1
 * (release RMW), futex_wake(&cr_wake, all) */
inline credit_wake() {
#ifndef CONS_REG
  FENCE(C);
#endif
  LD(C, W_CRWAIT, cw);
  if
  :: cw ->
    XADD(C, W_CRWAKE, 1, x);
    printf("@ reliable §3.7 credit wake: cr_wake %d -> %d, futex_wake\n", x, x + 1);
    FUTEX_WAKE(C, W_CRWAKE)
  :: else -> skip
  fi
}

/* §3.4 flush (the cursor's seq, release), then the credit check */
inline flush() {
  ST(C, W_CUR, rs);
  flushed = rs;
  printf("@ reliable §3.4 flush: cursor.seq <- %d\n", rs);
  credit_wake()
}

/* §3.2 poll: a <- slot.seq (acquire) */
inline look() {
  LD(C, W_SEQ + rs % DEPTH, a);
  assert(a <= rs)                    /* never lapped */
}

proctype reliable() {
  int flushed = 0, a, w, st, x, fl, fg;
  bit cw, unsure;
  do
  :: look();
    if
    :: a == rs ->
      rs++;                          /* valid: take it */
      printf("@ reliable §3.2 poll: valid %d\n", rs - 1);
      if
      :: rs != flushed -> flush()      /* §3.4 countdown: any value */
      :: true -> skip
      fi
    :: else ->
      /* §3.2 nothing yet: flush a moved cursor (§3.4) */
      if
      :: rs != flushed -> flush()      /* §3.4 stale cursor */
      :: else -> skip
      fi;
      printf("@ reliable §3.2 poll: nothing yet at %d\n", rs);
      if
      :: true -> skip               /* spin: poll again */
#ifdef FD
      :: true ->
        /* §3.8 rill_consumer_arm: drain the FIFO (the stale cursor was
         * flushed above), then the handshake of §3.7 with fd_gen */
        drained = fifo;
#ifdef BUG_FD_GEN_LATE
        XADD(C, W_ARM, 1, x);
        LD(C, W_FDGEN, fg); ST(C, W_FDGEN, fg + 1);
#else
        LD(C, W_FDGEN, fg); ST(C, W_FDGEN, fg + 1);   /* fd_gen += 1 (relaxed) */
        XADD(C, W_ARM, 1, x);       /* arm_gen += 1 (seq_cst RMW) */
#endif
        printf("@ reliable §3.8 arm: fd_gen %d -> %d, arm_gen %d -> %d\n", fg, fg + 1, x, x + 1);
#ifdef ASYM
        HEAVY();
#else
        FENCE(C);
#endif
        look();
        if
        :: a == rs ->
          rs++;
          printf("@ reliable §3.8 arm: ready, takes %d\n", rs - 1)
        :: else ->
          LD(C, W_STATE, st);
          if
          :: st == 2 -> goto closed
          :: else -> skip
          fi;
          /* armed: the event loop waits for the fd */
          printf("@ reliable §3.8 armed: waits for the fd\n");
          fdwait = 1;
          (fifo != drained);
          fdwait = 0;
          printf("@ reliable §3.8 the fd is readable\n")
        fi
#else
      :: true ->
        /* §3.7 consumer parking, one round */
#ifdef BUG_STATE_BEFORE_WAKE
        LD(C, W_STATE, st);         /* state (acquire) */
        printf("@ reliable §3.7 park: producer state %d (BUG: before w)\n", st);
        if
        :: st == 2 -> goto closed
        :: else -> skip
        fi;
#endif
#ifndef BUG_WAKE_LOADED_LATE
        LD(C, W_WAKE, w);           /* w <- producer.wake (acquire) */
        printf("@ reliable §3.7 park: w <- wake %d\n", w);
#endif
#ifndef BUG_STATE_BEFORE_WAKE
        LD(C, W_STATE, st);         /* state (acquire), after w */
        printf("@ reliable §3.7 park: producer state %d\n", st);
        if
        :: st == 2 -> goto closed
        :: else -> skip
        fi;
#endif
#ifdef LAZY
        LD(C, W_FLAGS, fl);         /* flags (acquire) */
        if
        :: (fl & F_FENCING) == 0 ->
          /* §3.7a LAZY, not FENCING: ask (before the bump), then nap */
          unsure = 1;
          LD(C, W_FREQ, x);
          if
          :: x == 0 -> XADD(C, W_FREQ, 1, x); printf("@ reliable §3.7a fence_req <- 1\n")
          :: else -> skip
          fi
        :: else -> unsure = 0
        fi;
#endif
        ST(C, W_PARK, 1);           /* cursor.park <- 1 */
        XADD(C, W_ARM, 1, x);       /* arm_gen += 1 (seq_cst RMW) */
        printf("@ reliable §3.7 park <- 1, arm_gen %d -> %d\n", x, x + 1);
#ifdef ASYM
        HEAVY();
        printf("@ reliable §3.7 heavy barrier\n");
#else
        FENCE(C);
#endif
        look();                     /* poll: something there? */
        if
        :: a == rs ->
          ST(C, W_PARK, 0);
          rs++;
          printf("@ reliable §3.7 poll before sleeping: valid %d\n", rs - 1)
        :: else ->
          printf("@ reliable §3.7 poll before sleeping: nothing at %d\n", rs);
#ifdef BUG_WAKE_LOADED_LATE
          LD(C, W_WAKE, w);
#endif
#if defined(LAZY) && !defined(BUG_LAZY_SLEEPS)
          if
          :: unsure ->
            /* §3.7a a nap of at most 1 ms: it ends by itself.  Another
             * round finds the same unless the slot, the producer's state
             * or its flags changed: the model lets the nap end then (so
             * that the rounds, each bumping arm_gen, stay finite) */
            printf("@ reliable §3.7a nap (LAZY, not FENCING)\n");
            (mem[W_SEQ + rs % DEPTH] != a || mem[W_STATE] == 2 || mem[W_FLAGS] != fl)
          :: else ->
            printf("@ reliable §3.7 futex_wait(wake, %d)\n", w);
            FUTEX_WAIT(C, W_WAKE, w);
            printf("@ reliable §3.7 woken (or wake moved)\n")
          fi;
#else
          printf("@ reliable §3.7 futex_wait(wake, %d)\n", w);
          FUTEX_WAIT(C, W_WAKE, w);
          printf("@ reliable §3.7 woken (or wake moved)\n");
#endif
          ST(C, W_PARK, 0)
        fi
#endif
      fi
    fi
  od;
closed:
  /* §3.7 results: state is 2: poll once more, then closed */
  skip;
  look();
  if
  :: a == rs -> rs++; goto closed
  :: else -> skip
  fi;
  printf("@ reliable closed after %d messages\n", rs);
  assert(rs == NMSG);                /* everything published was read */
  /* §3.4 leaving: flush (the producer left: nobody parks for credit) */
  ST(C, W_CUR, rs)
}

init {
  byte i;
  /* §2.1 creation: slot i holds i - depth ("not yet"); the producer joined */
  d_step {
    for (i : 0 .. DEPTH - 1) {
      mem[W_SEQ + i] = i - DEPTH
    }
    mem[W_STATE] = 1;
#ifdef LAZY
    mem[W_FLAGS] = F_LAZY;          /* §3.7a join: LAZY, fence_req was 0 */
#endif
    i = 0
  }
  atomic {
    TSO_START(P);
    TSO_START(C);
    run producer();
    run reliable()
  }
}
