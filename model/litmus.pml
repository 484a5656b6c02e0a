/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/*
 * The store-buffering litmus test, checking tso.pml itself: two processes
 * each store 1 to their own word, then load the other's.  Under TSO both
 * may load 0 (each store still in its buffer); a full fence between store
 * and load on both sides (-DFENCED), or sequential consistency (-DSC),
 * forbids it.  This is the store -> load pair the join (§3.4/§3.5) and the
 * parking (§3.7) steps rely on.
 */
#define NPROC 2
#define SB 2
#define NWORDS 2
#include "tso.pml"

int r[2];
byte done;

proctype side(byte me) {
  ST(me, me, 1);
#ifdef FENCED
  FENCE(me);
#endif
  LD(me, 1 - me, r[me]);
  done++
}

init {
  atomic {
    TSO_START(0);
    TSO_START(1);
    run side(0);
    run side(1)
  }
  done == 2;
  printf("@ r0 %d r1 %d\n", r[0], r[1]);
  assert(r[0] == 1 || r[1] == 1)
}
