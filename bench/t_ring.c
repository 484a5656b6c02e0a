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
 * "ring-batch": that ring with slots the size of their message and each
 * index published once per 4 KiB: the ceiling (below).
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

/* ---- batched ring ---------------------------------------------------------- */

/* "ring-batch": the ceiling a channel could reach on this machine, the
 * ring with nothing a message does not need (issue 21).  One byte ring of
 * records, each an 8-byte length and the message padded to 8 bytes, so a
 * slot is the size of its message; the producer publishes its index once
 * per BRING_BATCH bytes (and at the end of a send call), the consumer its
 * own once per BRING_BATCH bytes read, and each side caches the other's;
 * the consumer reads (checks) each message where it lies, no copy.
 * A record never wraps: where the rest of the ring is too short, a length
 * of BRING_SKIP sends the consumer to its start.  Throughput only (a round
 * trip is one message, which it would publish alone, as "ring" does). */
#define BRING_BYTES (4u << 20) /* the data ring: a power of two            */
#define BRING_BATCH 4096u      /* bytes between two index stores           */
#define BRING_SKIP UINT64_MAX

_Static_assert((BRING_BYTES & (BRING_BYTES - 1)) == 0, "ring bytes a power of 2");
_Static_assert(BRING_BYTES >= 4 * (8 + BENCH_MAX_SIZE), "ring holds several records");

typedef struct bring_ep {
  ring_shared *sh; /* head, tail: in bytes */
  unsigned char *data;
  uint64_t pos;    /* producer: bytes written; consumer: bytes read      */
  uint64_t shown;  /* the last value of our index we stored              */
  uint64_t other;  /* cached copy of the other side's index              */
  unsigned char *buf;
} bring_ep;

static int bring_setup(bench_test *t, char *err, size_t errlen) {
  size_t len = RING_HDR_BYTES + BRING_BYTES;
  if (bench_os_shared_new(&t->shm, len) != 0) { /* zeroed: every page allocated now */
    snprintf(err, errlen, "cannot map %zu bytes of shared memory", len);
    return -1;
  }
  return 0;
}

static void bring_close(void *vep) {
  bring_ep *e = vep;
  if (!e) return;
  bench_free(e->buf);
  free(e);
}

static int bring_open(bench_test *t, int side, void **out) {
  bring_ep *e = calloc(1, sizeof *e);
  if (!e) return bench_fail("out of memory");
  if (!(e->buf = bench_alloc(BENCH_MAX_SIZE))) {
    bring_close(e);
    return -1;
  }
  if (side == 0) bench_msg_template(e->buf, t->size);
  e->sh = (ring_shared *)t->shm.p;
  e->data = (unsigned char *)t->shm.p + RING_HDR_BYTES;
  *out = e;
  return 0;
}

/* Stores the producer's index: the records before it are written. */
static inline void bring_show_head(bring_ep *e) {
  /* Release: pairs with the acquire load of head in bring_recv(). */
  atomic_store_explicit(&e->sh->head, e->pos, memory_order_release);
  e->shown = e->pos;
}

static int bring_send(void *vep, size_t n, uint64_t seq, uint64_t count) {
  bring_ep *e = vep;
  uint64_t need = 8 + ((n + 7) & ~(uint64_t)7);
  for (uint64_t i = 0; i < count; i++) {
    uint64_t off = e->pos & (BRING_BYTES - 1);
    uint64_t skip = BRING_BYTES - off < need ? BRING_BYTES - off : 0;
    if (e->pos + skip + need - e->other > BRING_BYTES) {
      if (e->pos != e->shown) bring_show_head(e); /* the consumer needs them to go on */
      bench_spin sp = BENCH_SPIN_INIT;
      for (;;) {
        /* Acquire: pairs with the release store of tail in bring_recv():
         * its reads of the bytes we are about to reuse are done. */
        e->other = atomic_load_explicit(&e->sh->tail, memory_order_acquire);
        if (e->pos + skip + need - e->other <= BRING_BYTES) break;
        if (bench_spin_step(&sp)) return -1;
      }
    }
    if (skip) {
      uint64_t mark = BRING_SKIP;
      memcpy(e->data + off, &mark, 8);
      e->pos += skip;
      off = 0;
    }
    uint64_t len = n;
    bench_msg_stamp(e->buf, n, seq + i);
    memcpy(e->data + off, &len, 8);
    memcpy(e->data + off + 8, e->buf, n);
    e->pos += need;
    if (e->pos - e->shown >= BRING_BATCH) bring_show_head(e);
  }
  if (e->pos != e->shown) bring_show_head(e);
  return 0;
}

static int bring_recv(void *vep, size_t n, uint64_t seq, uint64_t count,
                      uint64_t *errors) {
  bring_ep *e = vep;
  uint64_t expect = seq, end = seq + count, midsum = bench_msg_midsum(n), errs = 0;
  while ((int64_t)(end - expect) > 0) {
    if (e->pos == e->other) {
      bench_spin sp = BENCH_SPIN_INIT;
      for (;;) {
        /* Acquire: pairs with the release store of head in
         * bring_show_head(): the records before it are written. */
        e->other = atomic_load_explicit(&e->sh->head, memory_order_acquire);
        if (e->pos != e->other) break;
        if (bench_spin_step(&sp)) {
          *errors += errs;
          return -1;
        }
      }
    }
    uint64_t off = e->pos & (BRING_BYTES - 1), len;
    memcpy(&len, e->data + off, 8);
    if (len == BRING_SKIP) {
      e->pos += BRING_BYTES - off;
      continue;
    }
    if (len != n) { /* (a length read from shared memory is not trusted) */
      errs++;
      expect++;
      len = n;
    } else {
      /* read in place, every byte: the least a consumer can do */
      errs += bench_msg_verify(e->data + off + 8, n, &expect, midsum);
    }
    e->pos += 8 + ((len + 7) & ~(uint64_t)7);
    if (e->pos - e->shown >= BRING_BATCH) {
      /* Release: pairs with the acquire load of tail in bring_send(): our
       * reads of these records happen before the producer reuses them. */
      atomic_store_explicit(&e->sh->tail, e->pos, memory_order_release);
      e->shown = e->pos;
    }
  }
  *errors += errs;
  return 0;
}

const bench_transport bench_ring_batch = {
    .name = "ring-batch",
    .kinds = BENCH_TPUT,
    .blocking = 0,
    .setup = bring_setup,
    .teardown = NULL, /* the harness frees t->shm */
    .open = bring_open,
    .close = bring_close,
    .send = bring_send,
    .recv = bring_recv,
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
