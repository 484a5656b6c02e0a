/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/*
 * Shared memory for the models that depend on store -> load order (join,
 * parking): x86-TSO, one FIFO store buffer per process.  See
 * model/README.md, "Memory orderings".
 *
 * A store goes into its process's buffer; a load sees the process's own
 * newest buffered store to that word, else memory; a drainer process per
 * buffer moves the oldest store to memory at any time (TSO: stores become
 * visible in program order; a store may stay invisible while later loads
 * run).  A full fence (mfence, or any locked RMW: C11 seq_cst stores,
 * RMWs and fences compile to these on x86) empties the buffer first.  A
 * heavy barrier (membarrier GLOBAL_EXPEDITED) makes every thread of every
 * registered process pass a full fence: it empties every buffer.
 *
 * With -DSC the buffers are not there: every store goes straight to memory
 * (sequential consistency), to show which bugs only the store buffer finds.
 *
 * The including model defines NPROC (buffers), SB (capacity of each) and
 * NWORDS (words of shared memory, addressed 0 .. NWORDS - 1).
 */

int mem[NWORDS];
byte tso_i, tso_j; /* scratch of the d_steps below, always 0 between them */

#ifndef SC
typedef sbuf {
  byte n;          /* stores buffered */
  byte a[SB];      /* their words, oldest first */
  int  v[SB];      /* their values */
};
sbuf sb[NPROC];

/* the oldest buffered store of process p reaches memory */
inline tso_drain1(p) {
  mem[sb[p].a[0]] = sb[p].v[0];
  tso_i = 1;
  do
  :: tso_i < sb[p].n ->
    sb[p].a[tso_i - 1] = sb[p].a[tso_i];
    sb[p].v[tso_i - 1] = sb[p].v[tso_i];
    tso_i++
  :: else -> break
  od;
  sb[p].n--;
  sb[p].a[sb[p].n] = 0;
  sb[p].v[sb[p].n] = 0;
  tso_i = 0
}

inline tso_drain_all(p) {
  do
  :: sb[p].n > 0 -> tso_drain1(p)
  :: else -> break
  od
}

/* a store: into the buffer (a full buffer first drains its oldest) */
#define ST(p, w, x) \
  d_step { \
    if :: sb[p].n == SB -> tso_drain1(p) :: else -> skip fi; \
    sb[p].a[sb[p].n] = w; sb[p].v[sb[p].n] = x; sb[p].n++ \
  }

/* a load: the newest buffered store to w, else memory */
#define LD(p, w, r) \
  d_step { \
    r = mem[w]; tso_i = 0; \
    do \
    :: tso_i < sb[p].n -> \
      if :: sb[p].a[tso_i] == w -> r = sb[p].v[tso_i] :: else -> skip fi; \
      tso_i++ \
    :: else -> break \
    od; \
    tso_i = 0 \
  }

/* a full fence: the buffer empties first */
#define FENCE(p) d_step { tso_drain_all(p) }

/* a seq_cst store (xchg on x86): store, then fence */
#define ST_SC(p, w, x) d_step { tso_drain_all(p); mem[w] = x }

/* a locked RMW adding d, old value into r (lock xadd) */
#define XADD(p, w, d, r) d_step { tso_drain_all(p); r = mem[w]; mem[w] = r + d }

/* the heavy barrier: every process's buffer empties */
#define HEAVY() \
  d_step { tso_j = 0; \
    do :: tso_j < NPROC -> tso_drain_all(tso_j); tso_j++ :: else -> break od; \
    tso_j = 0 }

/* The drainer of process p's buffer: TSO lets a buffered store reach
 * memory at any moment.  Blocking with nothing to drain is a valid end. */
proctype drainer(byte p) {
end:
  do
  :: d_step { sb[p].n > 0 -> tso_drain1(p) }
  od
}

#define TSO_START(p) run drainer(p)

#else /* SC: no store buffer */

#define ST(p, w, x) mem[w] = x
#define LD(p, w, r) r = mem[w]
#define FENCE(p) skip
#define ST_SC(p, w, x) mem[w] = x
#define XADD(p, w, d, r) d_step { r = mem[w]; mem[w] = r + d }
#define HEAVY() skip
#define TSO_START(p) skip

#endif

/* Futexes: the kernel compares the word in memory (its locked operations
 * make the caller's own stores visible first) and sleeps; a wake makes
 * every sleeper on that word runnable.  FUTEX_WAIT2 is futex_waitv on two
 * words: it sleeps only if both hold their values, and a wake of either
 * ends it.  No timeout: a model that needs the protocol's timeouts to make
 * progress has lost a wake-up. */
bit asleep[NPROC];
int asleep_on[NPROC], asleep_on2[NPROC];

#define FUTEX_WAIT(p, w, x) \
  FENCE(p); \
  d_step { if :: mem[w] == x -> asleep[p] = 1; asleep_on[p] = w; asleep_on2[p] = w :: else -> skip fi }; \
  (asleep[p] == 0); \
  d_step { asleep_on[p] = 0; asleep_on2[p] = 0 }

#define FUTEX_WAIT2(p, w, x, w2, x2) \
  FENCE(p); \
  d_step { if :: mem[w] == x && mem[w2] == x2 -> asleep[p] = 1; asleep_on[p] = w; asleep_on2[p] = w2 :: else -> skip fi }; \
  (asleep[p] == 0); \
  d_step { asleep_on[p] = 0; asleep_on2[p] = 0 }

#define FUTEX_WAKE(p, w) \
  FENCE(p); \
  d_step { tso_j = 0; \
    do :: tso_j < NPROC -> \
      if :: asleep[tso_j] && (asleep_on[tso_j] == w || asleep_on2[tso_j] == w) -> asleep[tso_j] = 0 :: else -> skip fi; \
      tso_j++ \
    :: else -> break od; \
    tso_j = 0 }
