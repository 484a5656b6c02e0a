/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill_bench references in shared memory:
 *
 * "ring": the simplest fast single-producer single-consumer ring: BENCH_DEPTH
 * fixed slots, each big enough for the largest message (an 8-byte length and
 * BENCH_MAX_SIZE bytes), a head index (written by the producer) and a tail
 * index (written by the consumer) on their own cache lines, each side keeping
 * a cached copy of the other's index.  Sending copies the message into the
 * slot; receiving copies it out.
 *
 * "cacheline": the hardware floor: one 64-byte aligned word bounced between
 * the two cores.  Side 0 writes an odd value v, side 1 waits for it and
 * writes v + 1, side 0 waits for that.
 *
 * Both live in memory shared by the two processes (bench_os_shared_new):
 * they run on Linux and on Windows alike.  The sleeping references are the
 * OS's own: bench/t_futex.c (Linux), bench/t_event.c (Windows).
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>

#define RING_SLOT_BYTES ((8u + BENCH_MAX_SIZE + 63u) & ~63u)
#define RING_HDR_BYTES 4096u
#define RING_BYTES (RING_HDR_BYTES + (size_t)BENCH_DEPTH * RING_SLOT_BYTES)

typedef struct ring_shared {
  _Alignas(64) _Atomic uint64_t head; /* messages published (producer)  */
  _Alignas(64) _Atomic uint64_t tail; /* messages consumed (consumer)   */
} ring_shared;

_Static_assert(sizeof(ring_shared) <= RING_HDR_BYTES, "ring header fits");
_Static_assert((BENCH_DEPTH & (BENCH_DEPTH - 1)) == 0, "depth power of 2");

/* One side's view of one ring. */
typedef struct ring_end {
  ring_shared *sh;
  unsigned char *slots;
  uint64_t pos;   /* producer: next to publish; consumer: next to read */
  uint64_t other; /* cached copy of the other side's index             */
} ring_end;

typedef struct ring_ep {
  ring_end tx, rx;
  unsigned char *sbuf, *rbuf;
} ring_ep;

static void ring_end_init(ring_end *e, unsigned char *base) {
  e->sh = (ring_shared *)base;
  e->slots = base + RING_HDR_BYTES;
  e->pos = 0;
  e->other = 0;
}

static inline int ring_put(ring_end *w, const void *msg, size_t n) {
  if (w->pos - w->other >= BENCH_DEPTH) {
    bench_spin sp = BENCH_SPIN_INIT;
    for (;;) {
      /* Acquire: pairs with the release store of tail in ring_get(): the
       * consumer's reads of the slot we are about to reuse are done. */
      w->other = atomic_load_explicit(&w->sh->tail, memory_order_acquire);
      if (w->pos - w->other < BENCH_DEPTH) break;
      if (bench_spin_step(&sp)) return -1;
    }
  }
  unsigned char *slot =
      w->slots + (size_t)(w->pos & (BENCH_DEPTH - 1)) * RING_SLOT_BYTES;
  uint64_t len = n;
  memcpy(slot, &len, 8);
  memcpy(slot + 8, msg, n);
  w->pos++;
  /* Release: pairs with the acquire load of head in ring_get(), so the
   * consumer sees the slot's length and bytes written above. */
  atomic_store_explicit(&w->sh->head, w->pos, memory_order_release);
  return 0;
}

/* Copies the next message into OUT (BENCH_MAX_SIZE bytes) and stores its
 * length in *N.  Spins (bounded) until there is one. */
static inline int ring_get(ring_end *r, void *out, size_t *n) {
  if (r->pos == r->other) {
    bench_spin sp = BENCH_SPIN_INIT;
    for (;;) {
      /* Acquire: pairs with the release store of head in ring_put(). */
      r->other = atomic_load_explicit(&r->sh->head, memory_order_acquire);
      if (r->pos != r->other) break;
      if (bench_spin_step(&sp)) return -1;
    }
  }
  const unsigned char *slot =
      r->slots + (size_t)(r->pos & (BENCH_DEPTH - 1)) * RING_SLOT_BYTES;
  uint64_t len;
  memcpy(&len, slot, 8);
  if (len > BENCH_MAX_SIZE) len = BENCH_MAX_SIZE; /* trust nothing shared */
  memcpy(out, slot + 8, len);
  *n = len;
  r->pos++;
  /* Release: pairs with the acquire load of tail in ring_put(): our reads of
   * the slot happen before the producer may overwrite it. */
  atomic_store_explicit(&r->sh->tail, r->pos, memory_order_release);
  return 0;
}

static int ring_setup(bench_test *t, char *err, size_t errlen) {
  size_t nrings = t->kind == BENCH_RTT ? 2 : 1;
  size_t len = nrings * RING_BYTES;
  /* zeroed: every page allocated now, as rill's regions do */
  if (bench_os_shared_new(&t->shm, len) != 0) {
    snprintf(err, errlen, "cannot map %zu bytes of shared memory", len);
    return -1;
  }
  return 0;
}

static void ring_close(void *vep) {
  ring_ep *e = vep;
  if (!e) return;
  bench_free(e->sbuf);
  bench_free(e->rbuf);
  free(e);
}

static int ring_open(bench_test *t, int side, void **out) {
  ring_ep *e = calloc(1, sizeof *e);
  if (!e) return bench_fail("out of memory");
  e->sbuf = bench_alloc(BENCH_MAX_SIZE);
  e->rbuf = bench_alloc(BENCH_MAX_SIZE);
  if (!e->sbuf || !e->rbuf) {
    ring_close(e);
    return -1;
  }
  bench_msg_template(e->sbuf, t->size);
  unsigned char *base = t->shm.p;
  /* ring 0 carries side 0 -> side 1, ring 1 (round trips) side 1 -> side 0 */
  if (t->kind == BENCH_TPUT) {
    ring_end_init(side == 0 ? &e->tx : &e->rx, base);
  } else {
    ring_end_init(side == 0 ? &e->tx : &e->rx, base);
    ring_end_init(side == 0 ? &e->rx : &e->tx, base + RING_BYTES);
  }
  *out = e;
  return 0;
}

static inline int ring_send_one(ring_ep *e, size_t n, uint64_t seq) {
  bench_msg_stamp(e->sbuf, n, seq);
  return ring_put(&e->tx, e->sbuf, n);
}

static inline int ring_recv_one(ring_ep *e, size_t n, uint64_t *expect,
                                uint64_t midsum, uint64_t *errs) {
  size_t got;
  if (ring_get(&e->rx, e->rbuf, &got)) return -1;
  if (got != n) {
    *errs += 1;
    *expect += 1;
    return 0;
  }
  *errs += bench_msg_verify(e->rbuf, n, expect, midsum);
  return 0;
}

static int ring_send(void *vep, size_t n, uint64_t seq, uint64_t count) {
  ring_ep *e = vep;
  for (uint64_t i = 0; i < count; i++)
    if (ring_send_one(e, n, seq + i)) return -1;
  return 0;
}

static int ring_recv(void *vep, size_t n, uint64_t seq, uint64_t count,
                     uint64_t *errors) {
  ring_ep *e = vep;
  uint64_t expect = seq, end = seq + count, midsum = bench_msg_midsum(n);
  uint64_t errs = 0;
  int rc = 0;
  while ((int64_t)(end - expect) > 0)
    if ((rc = ring_recv_one(e, n, &expect, midsum, &errs)) != 0) break;
  *errors += errs;
  return rc;
}

static int ring_ping(void *vep, uint64_t seq, uint64_t count,
                     uint64_t *samples, uint64_t *errors) {
  ring_ep *e = vep;
  uint64_t errs = 0;
  int rc = 0;
  for (uint64_t i = 0; i < count; i++) {
    uint64_t expect = seq + i;
    uint64_t t0 = bench_now_ns();
    if ((rc = ring_send_one(e, 8, seq + i)) != 0) break;
    if ((rc = ring_recv_one(e, 8, &expect, 0, &errs)) != 0) break;
    uint64_t t1 = bench_now_ns();
    if (samples) samples[i] = t1 - t0;
  }
  *errors += errs;
  return rc;
}

static int ring_pong(void *vep, uint64_t seq, uint64_t count,
                     uint64_t *errors) {
  ring_ep *e = vep;
  uint64_t errs = 0;
  int rc = 0;
  for (uint64_t i = 0; i < count; i++) {
    uint64_t expect = seq + i;
    if ((rc = ring_recv_one(e, 8, &expect, 0, &errs)) != 0) break;
    if ((rc = ring_send_one(e, 8, seq + i)) != 0) break;
  }
  *errors += errs;
  return rc;
}

const bench_transport bench_ring = {
    .name = "ring",
    .kinds = BENCH_TPUT | BENCH_RTT,
    .blocking = 0,
    .setup = ring_setup,
    .teardown = NULL, /* the harness frees t->shm */
    .open = ring_open,
    .close = ring_close,
    .send = ring_send,
    .recv = ring_recv,
    .ping = ring_ping,
    .pong = ring_pong,
};

/* ---- cache line ------------------------------------------------------------ */

/* One zeroed page shared by the two sides (the cache-line test, and the
 * sleeping references of bench/t_futex.c and bench/t_event.c). */
int bench_page_setup(bench_test *t, char *err, size_t errlen) {
  if (bench_os_shared_new(&t->shm, 4096) != 0) {
    snprintf(err, errlen, "cannot map a page of shared memory");
    return -1;
  }
  return 0;
}

static int cl_open(bench_test *t, int side, void **out) {
  (void)side;
  *out = t->shm.p; /* the word at offset 0 of a page: 64-byte aligned */
  return 0;
}

static void cl_close(void *ep) { (void)ep; }

static int cl_ping(void *ep, uint64_t seq, uint64_t count, uint64_t *samples,
                   uint64_t *errors) {
  _Atomic uint64_t *w = ep;
  (void)errors;
  for (uint64_t i = 0; i < count; i++) {
    uint64_t v = 2 * (seq + i) + 1;
    uint64_t t0 = bench_now_ns();
    /* Release: pairs with the acquire load in cl_pong()'s wait. */
    atomic_store_explicit(w, v, memory_order_release);
    bench_spin sp = BENCH_SPIN_INIT;
    /* Acquire: pairs with the release store of v + 1 in cl_pong(). */
    while (atomic_load_explicit(w, memory_order_acquire) != v + 1)
      if (bench_spin_step(&sp)) return -1;
    uint64_t t1 = bench_now_ns();
    if (samples) samples[i] = t1 - t0;
  }
  return 0;
}

static int cl_pong(void *ep, uint64_t seq, uint64_t count, uint64_t *errors) {
  _Atomic uint64_t *w = ep;
  (void)errors;
  for (uint64_t i = 0; i < count; i++) {
    uint64_t v = 2 * (seq + i) + 1;
    bench_spin sp = BENCH_SPIN_INIT;
    /* Acquire: pairs with the release store of v in cl_ping(). */
    while (atomic_load_explicit(w, memory_order_acquire) != v)
      if (bench_spin_step(&sp)) return -1;
    /* Release: pairs with the acquire load in cl_ping()'s wait. */
    atomic_store_explicit(w, v + 1, memory_order_release);
  }
  return 0;
}

const bench_transport bench_cacheline = {
    .name = "cacheline",
    .kinds = BENCH_RTT,
    .blocking = 0,
    .setup = bench_page_setup,
    .teardown = NULL,
    .open = cl_open,
    .close = cl_close,
    .send = NULL,
    .recv = NULL,
    .ping = cl_ping,
    .pong = cl_pong,
};
