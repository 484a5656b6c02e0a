/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/*
 * rill_wait_any (docs/PROTOCOL.md §3.7, "Parking on several channels"):
 * one consumer parked on two channels at once, over the x86-TSO store
 * buffers of tso.pml.  See model/README.md.
 *
 * Two producers (processes 0 and 1) publish NMSG0 and NMSG1 messages into
 * their own channel (a ring deep enough that credits never run out: credit waits
 * are park.pml's).  One consumer (process 2) reads both channels until it
 * has every message: when neither has one, it parks on both as
 * rill_wait_any does (each channel's wake loaded, park set and arm_gen
 * bumped, then one barrier for all, a look at each, then a futex_waitv on
 * both wake words), and a wake of either returns it.
 *
 * Switches (-D):
 *   NMSG0, NMSG1, SB         sizes (defaults 2, 1, 2)
 *   ASYM                     producer 0 registered for heavy barriers: it
 *                            does not fence after a publish; the consumer's
 *                            one heavy barrier covers both channels
 *   SC                       no store buffers (tso.pml)
 *   BUG_ASYM_OF_LAST         (with ASYM) the consumer chooses its barrier
 *                            by the last channel's producer alone (a
 *                            fence), not "a heavy barrier if any has ASYM"
 *   BUG_WAIT_FIRST_ONLY      the consumer sleeps on channel 0's wake word
 *                            alone
 */

#ifndef NMSG0
#define NMSG0 2
#endif
#ifndef NMSG1
#define NMSG1 1
#endif
#define NMSG(i) ((i) == 0 -> NMSG0 : NMSG1)
#ifndef SB
#define SB 2
#endif

#define NPROC 3
#define C 2

/* words of shared memory, per channel i (0, 1) */
#define W_SEQ(i) (5 * (i))              /* its last published seq (one slot
                                         * per message would do the same:
                                         * nothing is lapped here) */
#define W_WAKE(i) (5 * (i) + 1)         /* §2.2 producer.wake */
#define W_ARM(i) (5 * (i) + 2)          /* §2.2a wait.arm_gen */
#define W_PARK(i) (5 * (i) + 3)         /* §2.3 cursor.park */
#define NWORDS 10

#include "tso.pml"

/* ghost state, for the properties only */
int published[2];
int got[2];                             /* the consumer's s on each channel */

/* No lost wake-up: once producer i is done with a publish (its wake-up
 * check included), the consumer is not asleep while that channel has a
 * message for it. */
#define WOKEN_IF_DUE(i) assert(!(asleep[C] && got[i] < published[i]))

proctype producer(byte i) {
  int next = 0, g, seen = 0, x;
  bit pk;
  do
  :: next == NMSG(i) -> break
  :: else ->
    next++;
    /* §3.1 publish: slot.seq <- s (release) */
    ST(i, W_SEQ(i), next);
    published[i] = next;
    printf("@ producer %d §3.1 publish %d\n", i, next);
    /* §3.7 after every publish: fence seq_cst unless ASYM; g <- arm_gen */
#ifdef ASYM
    if
    :: i == 1 -> FENCE(i); skip
    :: else -> skip
    fi;
#else
    FENCE(i);
#endif
    LD(i, W_ARM(i), g);
    if
    :: g != seen ->
      /* §3.7 wake-up path */
      seen = g;
      XADD(i, W_WAKE(i), 1, x);
      LD(i, W_PARK(i), pk);
      printf("@ producer %d §3.7 wake-up path: wake %d -> %d, park %d\n", i, x, x + 1, pk);
      if
      :: pk -> FUTEX_WAKE(i, W_WAKE(i))
      :: else -> skip
      fi
    :: else -> skip
    fi;
    WOKEN_IF_DUE(i)
  od
}

/* §3.2 a look at channel k: is its next message there? */
inline look(k) {
  LD(C, W_SEQ(k), a);
  if
  :: a > got[k] ->
    got[k]++;
    printf("@ consumer takes message %d of channel %d\n", got[k], k)
  :: else -> skip
  fi
}

/* §3.7 wait_any's steps for channel k, up to the barrier */
inline arm(k) {
  LD(C, W_WAKE(k), w[k]);                 /* w <- wake (acquire) */
  ST(C, W_PARK(k), 1);                    /* park <- 1 */
  XADD(C, W_ARM(k), 1, x);                /* arm_gen += 1 (seq_cst RMW) */
  printf("@ consumer §3.7 channel %d: w %d, park <- 1, arm_gen %d -> %d\n", k, w[k], x, x + 1)
}

proctype consumer() {
  int a, x, w[2], before;
  do
  :: got[0] == NMSG0 && got[1] == NMSG1 -> break
  :: else ->
    before = got[0] + got[1];
    look(0);
    look(1);
    if
    :: got[0] + got[1] != before -> skip  /* something read: poll again */
    :: else ->
      /* rill_wait_any: park on both channels */
      arm(0);
      arm(1);
#if defined(ASYM) && !defined(BUG_ASYM_OF_LAST)
      HEAVY();                            /* one heavy barrier for all */
      printf("@ consumer §3.7 one heavy barrier for both channels\n");
#else
      FENCE(C);
      printf("@ consumer §3.7 fence\n");
#endif
      look(0);
      look(1);
      if
      :: got[0] + got[1] != before -> skip
      :: else ->
#ifndef BUG_WAIT_FIRST_ONLY
        printf("@ consumer §3.7 futex_waitv(wake 0 = %d, wake 1 = %d)\n", w[0], w[1]);
        FUTEX_WAIT2(C, W_WAKE(0), w[0], W_WAKE(1), w[1]);
#else
        printf("@ consumer futex_wait(wake 0 = %d) only\n", w[0]);
        FUTEX_WAIT(C, W_WAKE(0), w[0]);
#endif
        printf("@ consumer §3.7 woken (or a wake word moved)\n")
      fi;
      ST(C, W_PARK(0), 0);
      ST(C, W_PARK(1), 0)
    fi
  od
}

init {
  atomic {
    TSO_START(0);
    TSO_START(1);
    TSO_START(C);
    run producer(0);
    run producer(1);
    run consumer()
  }
}
