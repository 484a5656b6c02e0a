/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* The producer's data path (docs/PROTOCOL.md §2.5 placement, §3.1 publish,
 * §3.5 credits, §3.6 resume), over a rill_core_producer: one
 * implementation, compiled into librill_core.a by src/core/core.c and
 * inlined into librill's rill_send(), rill_reserve(), rill_commit() ... by
 * src/producer.c (core/core.h says why).
 *
 * Hooks.  The file that includes this header defines these three static
 * functions (a declaration before the include is enough); they are where
 * librill adds what needs the operating system:
 *
 *   uint64_t rill_core__now(rill_core_producer *p);
 *       a CLOCK_MONOTONIC reading for a stamp (§2.4), called only for a
 *       publish that must be stamped; 0 means "no clock" (tspub 0; a
 *       reading whose low 32 bits are 0 is stamped 1).
 *   int rill_core__credit_slow(rill_core_producer *p, uint64_t need);
 *       fewer than NEED credits are left: refresh them (with
 *       rill_core__credit_refresh()) and return 1 if NEED descriptors may
 *       be published now, else count backpressure and return 0.  The
 *       core's is rill_core__credit_get(); librill's also evicts dead
 *       consumers, writes the heartbeat and counts a wait once.
 *   void rill_core__published(rill_core_producer *p, uint64_t n);
 *       after the seq stores of N descriptors (one publish, a fragmenting
 *       send's fragments, or a batch): librill's housekeeping countdown
 *       and its wake-up check (§3.7); nothing in the core. */
#ifndef RILL_CORE_PRODUCER_H
#define RILL_CORE_PRODUCER_H

#include "core.h"

static inline uint64_t rill_core__now(rill_core_producer *p);
static inline int rill_core__credit_slow(rill_core_producer *p, uint64_t need);
static inline void rill_core__published(rill_core_producer *p, uint64_t n);

/* Writes position and counters to the producer page (a flush, §2.2;
 * librill writes the heartbeat and its own counters before calling it). */
static inline void rill_core__prod_flush(rill_core_producer *p) {
  rill_prod_page *pp = p->prod;
  atomic_store_explicit(&pp->msgs, p->msgs, memory_order_relaxed);
  atomic_store_explicit(&pp->bytes, p->bytes, memory_order_relaxed);
  atomic_store_explicit(&pp->backpressure, p->backpressure, memory_order_relaxed);
  /* Sequentially consistent: a consumer joining as reliable stores JOINING
   * and then loads this seq (rill_core__cursor_join(), core/consumer.h);
   * rill_core__credit_refresh() stores it and then loads the consumers'
   * states.  One of the two sees the other, so a joiner is never lapped
   * before it is counted. */
  atomic_store_explicit(&pp->seq, p->seq, memory_order_seq_cst);
  p->seq_flushed = p->seq;
}

/* Where a refresh counts slot I, in state ST (not free), whose cursor is
 * C (§3.5): its cursor seq if active; if joining, the seq we flushed at
 * our last refresh that found it not joining, or, with none on record (we
 * joined while it was joining), seq - depth: it holds every credit back
 * until it is active.  A joiner loads producer.seq after its seq_cst
 * store of JOINING, and a refresh that found the slot not joining loaded
 * its state after its seq_cst flush: the joiner starts at or after that
 * flush, so it is never lapped.  (Counting it at the flush before this
 * refresh, as rill did up to 0.3, could lap it: that flush may come after
 * the joiner's load.  model/join.pml, FINDING 1.) */
static inline uint64_t rill_core__slot_pos(const rill_core_producer *p, uint32_t i, uint32_t st,
                                           const rill_cursor *c) {
  if (st == RILL_CUR_JOINING)
    return p->seen_ok[i >> 6] >> (i & 63) & 1 ? p->seen[i] : p->seq - p->depth;
  /* Acquire: pairs with the release store of the cursor seq in
   * rill_core__cursor_store() (core/consumer.h): the consumer's reads of
   * the payloads before it are done before we reuse their chunks. */
  return atomic_load_explicit(&c->seq, memory_order_acquire);
}

/* Recomputes credits from the reliable consumers' cursors (§3.5), right
 * after a flush (p->seq is the value flushed).  Runs only when credits ran
 * out (at most once per depth publishes when nobody lags). */
static inline void rill_core__credit_scan(rill_core_producer *p) {
  uint64_t min = p->seq;
  uint32_t legacy = 0;
  for (uint32_t i = 0; i < p->max_consumers; i++) {
    rill_cursor *c = rill__cursor_at(p->cursors, i);
    /* Sequentially consistent: pairs with the joiner's seq_cst store of
     * JOINING (rill_core__cursor_join()) against our flush's store. */
    uint32_t st = atomic_load_explicit(&c->state, memory_order_seq_cst);
    if (st != RILL_CUR_JOINING) { /* a joiner from now on starts at or after p->seq */
      p->seen[i] = p->seq;
      p->seen_ok[i >> 6] |= 1ull << (i & 63);
    }
    if (st == RILL_CUR_FREE) continue;
    uint32_t gen = atomic_load_explicit(&c->gen, memory_order_relaxed);
    /* A consumer older than 0.4 never asks for stamps and samples its
     * latency from any message: stamp them all while it is joined (a
     * joiner not yet past its stamp_gen store counts as one, briefly).
     * An evicted slot (its consumer died) does not count. */
    uint32_t ev = atomic_load_explicit(&p->prod->evicted[i], memory_order_relaxed);
    int evicted = ev && ev == gen;
    legacy |= !evicted && atomic_load_explicit(&c->stamp_gen, memory_order_relaxed) != gen;
    if (evicted || atomic_load_explicit(&c->mode, memory_order_relaxed) != RILL_RELIABLE) continue;
    uint64_t s = rill_core__slot_pos(p, i, st, c);
    if ((int64_t)(s - min) < 0) min = s;
  }
  p->stamp_all = p->stamp_every | legacy;
  uint64_t lim = min + p->depth;
  p->cr_avail = (int64_t)(lim - p->seq) > 0 ? lim - p->seq : 0;
}

/* A credit refresh of the core's own: flush, then scan. */
static inline void rill_core__credit_refresh(rill_core_producer *p) {
  rill_core__prod_flush(p);
  rill_core__credit_scan(p);
}

/* Counts one attempt that found no credit (§2.2: stored at once). */
static inline void rill_core__backpressure(rill_core_producer *p) {
  p->backpressure++;
  atomic_store_explicit(&p->prod->backpressure, p->backpressure, memory_order_relaxed);
}

/* The core's rill_core__credit_slow(): 1 if NEED descriptors may be
 * published now, else counts backpressure. */
static inline int rill_core__credit_get(rill_core_producer *p, uint64_t need) {
  rill_core__credit_refresh(p);
  if (p->cr_avail >= need) return 1;
  rill_core__backpressure(p);
  return 0;
}

/* tspub for the next N descriptors (one message's fragments, or a batch):
 * the clock if one of them must be stamped, else 0, "not stamped", and no
 * clock read (docs/PROTOCOL.md §2.4).  Stamped: every descriptor whose seq
 * is a multiple of RILL_STAMP_PERIOD, so that a consumer sampling after a
 * stall finds a stamped message in its backlog; the first publish after a
 * consumer asked for a latency sample (it bumps the wait page's stamp_req
 * at each heartbeat, so a slow channel's messages are sampled as they
 * come); and all of them while stamp_all is set.  stamp_req shares the
 * line with arm_gen, which librill loads after every publish anyway.
 * Relaxed: a stamp is a reading of our own clock, valid whatever order the
 * request is seen in. */
static inline uint32_t rill_core__stamp(rill_core_producer *p, uint64_t n) {
  uint32_t r = atomic_load_explicit(&p->wait->stamp_req, memory_order_relaxed);
  uint64_t s = p->seq;
  int periodic = ((s - 1) >> RILL_STAMP_PERIOD_SHIFT) != ((s + n - 1) >> RILL_STAMP_PERIOD_SHIFT);
  if (__builtin_expect(!periodic && r == p->stamp_seen && !p->stamp_all, 1)) return 0;
  p->stamp_seen = r;
  uint64_t now = rill_core__now(p);
  if (!now) return 0; /* no clock: nothing is stamped */
  uint32_t ts = (uint32_t)now;
  return ts ? ts : 1; /* 0 means "not stamped" */
}

/* Writes the descriptor of sequence number p->seq (§3.1).  The payload is
 * already in the data ring.  rill_core__publish_end() finishes the
 * publish. */
static inline void rill_core__publish_desc(rill_core_producer *p, uint64_t chunk, uint64_t sz,
                                           uint64_t sig, uint16_t ctl, uint32_t tsorig,
                                           uint32_t tspub) {
  uint64_t seq = p->seq;
  rill_desc *d = &p->meta[seq & p->mask];
  /* Mark the slot "being written": a consumer expecting the old sequence
   * sees it ahead (overrun), one expecting SEQ sees it behind (not yet). */
  atomic_store_explicit(&d->seq, seq - 1, memory_order_relaxed);
  /* Release fence: the mark is ordered before the field stores below;
   * pairs with the acquire fence in rill_core__desc_read() and
   * rill_core__check_seq() (core/consumer.h) before their second load of
   * seq. */
  atomic_thread_fence(memory_order_release);
  atomic_store_explicit(&d->sig, sig, memory_order_relaxed);
  atomic_store_explicit(&d->chunk, (uint32_t)chunk, memory_order_relaxed);
  atomic_store_explicit(&d->sz, (uint16_t)sz, memory_order_relaxed);
  atomic_store_explicit(&d->ctl, ctl, memory_order_relaxed);
  atomic_store_explicit(&d->tsorig, tsorig, memory_order_relaxed);
  atomic_store_explicit(&d->tspub, tspub, memory_order_relaxed);
  /* Release: pairs with the acquire load of d->seq in
   * rill_core__poll_one() (core/consumer.h); the payload and the fields
   * above are visible once SEQ is. */
  atomic_store_explicit(&d->seq, seq, memory_order_release);
  p->seq = seq + 1;
}

/* After N descriptors of BYTES payload bytes: credits and counters, then
 * the hook (librill: housekeeping and the wake-up check), once for them
 * all. */
static inline void rill_core__publish_end(rill_core_producer *p, uint64_t n, uint64_t bytes) {
  p->cr_avail -= n;
  p->msgs += n;
  p->bytes += bytes;
  rill_core__published(p, n);
}

static inline void rill_core__publish(rill_core_producer *p, uint64_t chunk, uint64_t sz,
                                      uint64_t sig, uint16_t ctl, uint32_t tsorig,
                                      uint32_t tspub) {
  rill_core__publish_desc(p, chunk, sz, sig, ctl, tsorig, tspub);
  rill_core__publish_end(p, 1, sz);
}

/* Where a payload of NEED chunks goes: the next free chunk, or the ring's
 * start if it would cross the end.  The ring holds depth + 2 MTUs, so the
 * chunks of the last depth messages are never reused (§2.5). */
static inline uint64_t rill_core__place(const rill_core_producer *p, uint64_t need) {
  uint64_t ch = p->chunk;
  return ch + need > p->data_chunks ? 0 : ch;
}

static inline int rill_core__reserve(rill_core_producer *p, size_t n, void **buf) {
  if (n > p->mtu) return -RILL_EMSGSIZE;
  if (!p->cr_avail && !rill_core__credit_slow(p, 1)) return -RILL_EAGAIN;
  uint64_t ch = rill_core__place(p, rill__chunks(n));
  p->res_chunk = ch;
  p->res_cap = n;
  p->res_count = 1;
  *buf = p->data + (ch << RILL_CHUNK_SHIFT);
  return 0;
}

/* Publishes N bytes at SKIP chunks into the reservation.  The message
 * still takes no more than the reserved chunks, so the ring's sizing rule
 * holds (§2.5). */
static inline int rill_core__commit_at(rill_core_producer *p, uint64_t skip, size_t n,
                                       uint64_t sig, uint16_t ctl, uint32_t tsorig) {
  if (p->res_cap == UINT64_MAX || skip > p->res_cap >> RILL_CHUNK_SHIFT ||
      n > p->res_cap - (skip << RILL_CHUNK_SHIFT))
    return -RILL_EINVAL;
  uint64_t ch = p->res_chunk + skip;
  rill_core__publish(p, ch, n, sig, ctl, tsorig, rill_core__stamp(p, 1));
  p->chunk = ch + rill__chunks(n);
  p->res_cap = UINT64_MAX;
  return 0;
}

/* rill_commit_at()'s AT as chunks into the reservation: 0 with *SKIP set,
 * or -RILL_EINVAL if AT is not a chunk boundary in it. */
static inline int rill_core__commit_skip(const rill_core_producer *p, const void *at,
                                         uint64_t *skip) {
  if (!at || p->res_cap == UINT64_MAX) return -RILL_EINVAL;
  const uint8_t *base = p->data + (p->res_chunk << RILL_CHUNK_SHIFT);
  if ((const uint8_t *)at < base) return -RILL_EINVAL;
  uint64_t off = (uint64_t)((const uint8_t *)at - base);
  if (off & ((1u << RILL_CHUNK_SHIFT) - 1)) return -RILL_EINVAL;
  *skip = off >> RILL_CHUNK_SHIFT;
  return 0;
}

/* Copies a payload into the ring.  A small one goes by fixed-size 64-byte
 * copies the compiler inlines (measured: a 64-byte batch publish 3.4 ns
 * instead of 3.9), a larger one by memcpy, faster from a few chunks on. */
static inline void rill_core__copy_in(uint8_t *dst, const uint8_t *src, uint64_t n) {
  if (n > 4 * RILL_CHUNK) {
    rill_core__memcpy(dst, src, n);
    return;
  }
  for (; n >= RILL_CHUNK; n -= RILL_CHUNK, dst += RILL_CHUNK, src += RILL_CHUNK)
    rill_core__memcpy(dst, src, RILL_CHUNK);
  if (n) rill_core__memcpy(dst, src, n);
}

/* Copies one fragment of N bytes into the ring and publishes it.  Forced
 * inline where a send's single (or last) fragment goes, the hot path of
 * rill_send(); rill_core__send_frag() is the same for the loop over the
 * fragments before it, which the compiler may leave out of line. */
static inline __attribute__((always_inline)) void
rill_core__frag_put(rill_core_producer *p, const void *src, uint64_t n, uint64_t sig,
                    uint16_t ctl, uint32_t ts) {
  uint64_t need = rill__chunks(n);
  uint64_t ch = rill_core__place(p, need);
  if (n) rill_core__copy_in(p->data + (ch << RILL_CHUNK_SHIFT), src, n); /* src may be NULL then */
  rill_core__publish(p, ch, n, sig, ctl, 0, ts);
  p->chunk = ch + need;
}

static inline void rill_core__send_frag(rill_core_producer *p, const void *src, uint64_t n,
                                        uint64_t sig, uint16_t ctl, uint32_t ts) {
  rill_core__frag_put(p, src, n, sig, ctl, ts);
}

/* rill_send() with the bits UCTL (application and ERR bits; SOM/EOM are
 * ignored) on every fragment.  DATA may be NULL only if N is 0 (the
 * caller checked). */
static inline int rill_core__send(rill_core_producer *p, const void *data, size_t n,
                                  uint64_t sig, uint16_t uctl) {
  p->res_cap = UINT64_MAX; /* a send drops any pending reservation */
  uctl &= (uint16_t)~RILL_CTL_MSG;
  if (n <= p->mtu) {
    if (!p->cr_avail && !rill_core__credit_slow(p, 1)) return -RILL_EAGAIN;
    rill_core__frag_put(p, data, n, sig, (uint16_t)(RILL_CTL_MSG | uctl), rill_core__stamp(p, 1));
    return 0;
  }
  if (n > p->max_msg) return -RILL_EMSGSIZE;
  uint64_t nfrag = rill__frags(n, p->mtu);
  if (p->cr_avail < nfrag && !rill_core__credit_slow(p, nfrag)) return -RILL_EAGAIN;
  const uint8_t *src = data;
  uint16_t ctl = (uint16_t)(RILL_CTL_SOM | uctl);
  uint32_t ts = rill_core__stamp(p, nfrag);
  while (n > p->mtu) {
    rill_core__send_frag(p, src, p->mtu, sig, ctl, ts);
    src += p->mtu;
    n -= p->mtu;
    ctl = uctl;
  }
  rill_core__frag_put(p, src, n, sig, (uint16_t)(ctl | RILL_CTL_EOM), ts);
  return 0;
}

/* The fragments of a batch's messages, or 0 if one is over max_msg, or
 * if there are more than the ring holds (the batch could never go). */
static inline uint64_t rill_core__batch_frags(const rill_core_producer *p, const rill_msg *m,
                                              size_t count) {
  uint64_t total = 0;
  for (size_t i = 0; i < count; i++) {
    if (m[i].sz > p->max_msg || (!m[i].data && m[i].sz)) return 0;
    total += m[i].sz <= p->mtu ? 1 : rill__frags(m[i].sz, p->mtu); /* no division for most */
    if (total > p->depth) return 0;
  }
  return total;
}

static inline int rill_core__send_many(rill_core_producer *p, const rill_msg *m, size_t count) {
  if (!count || count > p->depth) return -RILL_EINVAL;
  p->res_cap = UINT64_MAX; /* a send drops any pending reservation */
  uint64_t nfrag = rill_core__batch_frags(p, m, count);
  if (!nfrag) {
    for (size_t i = 0; i < count; i++)
      if (m[i].sz > p->max_msg) return -RILL_EMSGSIZE;
    return -RILL_EINVAL; /* a NULL payload, or more fragments than the ring */
  }
  if (p->cr_avail < nfrag && !rill_core__credit_slow(p, nfrag)) return -RILL_EAGAIN;
  uint32_t ts = rill_core__stamp(p, nfrag); /* one clock read, if any, for the batch */
  uint64_t bytes = 0;
  for (size_t i = 0; i < count; i++) {
    const uint8_t *src = m[i].data;
    uint64_t n = m[i].sz;
    uint16_t uctl = (uint16_t)(m[i].ctl & ~RILL_CTL_MSG);
    uint16_t ctl = (uint16_t)(RILL_CTL_SOM | uctl);
    bytes += n;
    while (n > p->mtu) {
      uint64_t ch = rill_core__place(p, rill__chunks(p->mtu));
      rill_core__copy_in(p->data + (ch << RILL_CHUNK_SHIFT), src, p->mtu);
      rill_core__publish_desc(p, ch, p->mtu, m[i].sig, ctl, m[i].tsorig, ts);
      p->chunk = ch + rill__chunks(p->mtu);
      src += p->mtu;
      n -= p->mtu;
      ctl = uctl;
    }
    uint64_t need = rill__chunks(n);
    uint64_t ch = rill_core__place(p, need);
    if (n) rill_core__copy_in(p->data + (ch << RILL_CHUNK_SHIFT), src, n);
    rill_core__publish_desc(p, ch, n, m[i].sig, (uint16_t)(ctl | RILL_CTL_EOM), m[i].tsorig, ts);
    p->chunk = ch + need;
  }
  rill_core__publish_end(p, nfrag, bytes);
  return 0;
}

static inline int rill_core__reserve_many(rill_core_producer *p, size_t count, size_t n,
                                          void **bufs) {
  if (!count || count > p->depth) return -RILL_EINVAL;
  if (n > p->mtu) return -RILL_EMSGSIZE;
  if (p->cr_avail < count && !rill_core__credit_slow(p, count)) return -RILL_EAGAIN;
  uint64_t need = rill__chunks(n), ch = p->chunk;
  /* Laid out as COUNT sends of N bytes would be, so the ring's sizing rule
   * holds for each (§2.5); the first is the reservation rill_commit()
   * would publish. */
  for (size_t i = 0; i < count; i++) {
    ch = ch + need > p->data_chunks ? 0 : ch;
    bufs[i] = p->data + (ch << RILL_CHUNK_SHIFT);
    if (!i) p->res_chunk = ch;
    ch += need;
  }
  /* Mark the batch's slots "being written" first (§3.1, "Batches").  The
   * application writes every payload before any of these descriptors is
   * published, so the payload of the K-th may overlap that of the message
   * still in the slot of the (K-1)-th (single publishes keep the ring's
   * sizing rule by themselves); a lossy consumer reading that message
   * must fail its check, and finds the mark.  The mark is s - 1, the last
   * sequence number published: ahead of every message the slots hold (a
   * consumer expecting one resynchronises to s - 1, which it can read)
   * and behind every one of the batch ("nothing yet").  The release fence
   * orders the marks before every later store, the application's payload
   * writes included; it pairs with the acquire fence in
   * rill_core__check_seq() (core/consumer.h) before its load of seq. */
  uint64_t s = p->seq;
  for (size_t i = 0; i < count; i++)
    atomic_store_explicit(&p->meta[(s + i) & p->mask].seq, s - 1, memory_order_relaxed);
  atomic_thread_fence(memory_order_release);
  p->res_cap = n;
  p->res_count = count;
  return 0;
}

static inline int rill_core__commit_many(rill_core_producer *p, const rill_msg *m,
                                         size_t count) {
  if (!count || p->res_cap == UINT64_MAX || count > p->res_count) return -RILL_EINVAL;
  for (size_t i = 0; i < count; i++)
    if (m[i].sz > p->res_cap) return -RILL_EINVAL;
  uint32_t ts = rill_core__stamp(p, count);
  uint64_t need = rill__chunks(p->res_cap), ch = p->res_chunk, bytes = 0;
  for (size_t i = 0; i < count; i++) {
    ch = ch + need > p->data_chunks ? 0 : ch; /* as rill_core__reserve_many() placed it */
    rill_core__publish_desc(p, ch, m[i].sz, m[i].sig, m[i].ctl, m[i].tsorig, ts);
    bytes += m[i].sz;
    p->chunk = ch + rill__chunks(m[i].sz);
    ch += need;
  }
  p->res_cap = UINT64_MAX;
  rill_core__publish_end(p, count, bytes);
  return 0;
}

static inline void rill_core__set_stamp(rill_core_producer *p, uint32_t mode) {
  p->stamp_every = mode == RILL_STAMP_EVERY;
  p->stamp_all |= p->stamp_every; /* at once; rill_core__credit_scan() keeps it */
}

/* After a crash the flushed seq may lag what was published: walk forward
 * over descriptors that hold their own sequence number (§3.6). */
static inline void rill_core__resume(rill_core_producer *p) {
  uint64_t s = atomic_load_explicit(&p->prod->seq, memory_order_acquire);
  for (uint64_t i = 0; i < p->depth; i++) {
    if (atomic_load_explicit(&p->meta[s & p->mask].seq, memory_order_acquire) != s) break;
    s++;
  }
  p->seq = s;
  p->chunk = 0;
  const rill_desc *d = &p->meta[(s - 1) & p->mask];
  if (atomic_load_explicit(&d->seq, memory_order_acquire) == s - 1) {
    uint64_t next = (uint64_t)atomic_load_explicit(&d->chunk, memory_order_relaxed) +
                    rill__chunks(atomic_load_explicit(&d->sz, memory_order_relaxed));
    p->chunk = next <= p->data_chunks ? next : 0;
  }
}

/* Points P at channel CH mapped read-write at BASE, loads the counters
 * from the producer page (they continue) and resumes the sequence (§3.6).
 * The channel's state is untouched until rill_core__prod_start(). */
static inline void rill_core__prod_init(rill_core_producer *p, uint8_t *base,
                                        const rill_core__chan *ch) {
  p->prod = (rill_prod_page *)(base + ch->g.prod_off);
  p->wait = (rill_wait_page *)(base + ch->g.wait_off);
  p->cursors = base + ch->g.cursor_off;
  p->meta = (rill_desc *)(base + ch->g.meta_off);
  p->data = base + ch->g.data_off;
  p->mask = ch->depth - 1;
  p->depth = ch->depth;
  p->mtu = ch->mtu;
  p->max_msg = ch->max_msg;
  p->max_consumers = ch->max_consumers;
  p->data_chunks = ch->g.data_chunks;
  p->res_cap = UINT64_MAX;
  p->msgs = atomic_load_explicit(&p->prod->msgs, memory_order_relaxed);
  p->bytes = atomic_load_explicit(&p->prod->bytes, memory_order_relaxed);
  p->backpressure = atomic_load_explicit(&p->prod->backpressure, memory_order_relaxed);
  /* The first publish is stamped: consumers may have asked before we came. */
  p->stamp_seen = atomic_load_explicit(&p->wait->stamp_req, memory_order_relaxed) - 1;
  rill_core__resume(p);
  p->cr_avail = 0; /* the first publish computes credits */
}

/* The producer page's join stores of §3.6, up to the flush that follows
 * them (the caller's: librill's writes the heartbeat too). */
static inline void rill_core__prod_start(rill_core_producer *p, uint32_t pid, uint32_t flags) {
  rill_prod_page *pp = p->prod;
  atomic_store_explicit(&pp->pid, pid, memory_order_relaxed);
  /* Relaxed: consumers read flags after their acquire load of wake,
   * which the release bump after the flush publishes
   * (rill_core__prod_wake()). */
  atomic_store_explicit(&pp->flags, flags, memory_order_relaxed);
  atomic_store_explicit(&pp->cr_wait, 0, memory_order_relaxed);
  atomic_fetch_add_explicit(&pp->gen, 1, memory_order_relaxed);
  atomic_store_explicit(&pp->state, RILL_PROD_JOINED, memory_order_relaxed);
}

/* The last join step (§3.6): consumers parked under an earlier producer
 * look again, at our flags and state.  The bump is a release that pairs
 * with their acquire load of wake (wait.c), which comes before their load
 * of flags; librill then wakes the futex. */
static inline void rill_core__prod_wake(rill_core_producer *p) {
  atomic_fetch_add_explicit(&p->prod->wake, 1, memory_order_release);
}

/* Leaving, after the caller's flush: the channel is closed.  Release:
 * pairs with the acquire load of state in a waiting consumer (wait.c),
 * which then polls once more and sees every message published before. */
static inline void rill_core__prod_close(rill_core_producer *p) {
  atomic_store_explicit(&p->prod->state, RILL_PROD_LEFT, memory_order_release);
}

#endif
