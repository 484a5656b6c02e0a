/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* The producer: publishes descriptors and payloads; credit-based flow control
 * against reliable consumers. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RILL_PROD_HK_INTERVAL 1024u /* publishes between housekeeping runs */

void rill__clock_init(rill_clock *k) {
  k->tk_base = rill__ticks();
  k->ns_base = rill__mono_ns();
  k->mult = 0;
  k->limit = 0; /* the first stamp reads the clock and measures the rate */
}

uint64_t rill__clock_rebase(rill_clock *k, uint64_t tk) {
  uint64_t ns = rill__mono_ns();
  uint64_t dt = tk - k->tk_base, dns = ns - k->ns_base;
  if (dt > 0 && dns > 0 && dns < (1ull << 31)) {
    k->mult = (dns << 32) / dt;
    /* one millisecond of ticks, at least one tick */
    uint64_t lim = k->mult ? (1000000ull << 32) / k->mult : 0;
    k->limit = lim ? lim : 1;
  } else {
    k->limit = 0; /* odd reading (first call, long pause): measure again */
  }
  k->tk_base = tk;
  k->ns_base = ns;
  return ns;
}

/* Writes position, counters and heartbeat to the producer page. */
static void prod_flush(rill_producer *p) {
  rill_prod_page *pp = p->prod;
  atomic_store_explicit(&pp->msgs, p->msgs, memory_order_relaxed);
  atomic_store_explicit(&pp->bytes, p->bytes, memory_order_relaxed);
  atomic_store_explicit(&pp->backpressure, p->backpressure, memory_order_relaxed);
  atomic_store_explicit(&pp->evictions, p->evictions, memory_order_relaxed);
  atomic_store_explicit(&pp->wakes, p->wakes, memory_order_relaxed);
  atomic_store_explicit(&pp->hb_ns, rill__mono_ns(), memory_order_relaxed);
  /* Sequentially consistent: a consumer joining as reliable stores JOINING
   * and then loads this seq (rill_consumer_join); credit_refresh() stores it
   * and then loads the consumers' states.  One of the two sees the other,
   * so a joiner is never lapped before it is counted. */
  atomic_store_explicit(&pp->seq, p->seq, memory_order_seq_cst);
  p->seq_flushed = p->seq;
}

/* Recomputes credits from the reliable consumers' cursors.  Runs only when
 * credits ran out (at most once per depth publishes when nobody lags). */
static void credit_refresh(rill_producer *p) {
  uint64_t prev = p->seq_flushed;
  prod_flush(p);
  uint64_t min = p->seq;
  uint32_t legacy = 0;
  for (uint32_t i = 0; i < p->max_consumers; i++) {
    rill_cursor *c = rill__cursor_at(p->cursors, i);
    uint32_t st = atomic_load_explicit(&c->state, memory_order_seq_cst);
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
    uint64_t s;
    if (st == RILL_CUR_JOINING) {
      /* It will start at a flushed seq no older than the one before ours. */
      s = prev;
    } else {
      /* Acquire: pairs with the release store of the cursor seq in
       * cursor_flush() (consumer.c): the consumer's reads of the payloads
       * before s are done before we reuse their chunks. */
      s = atomic_load_explicit(&c->seq, memory_order_acquire);
    }
    if ((int64_t)(s - min) < 0) min = s;
  }
  p->stamp_all = p->stamp_every | legacy;
  uint64_t lim = min + p->depth;
  p->cr_avail = (int64_t)(lim - p->seq) > 0 ? lim - p->seq : 0;
}

/* Short of NEED credits: looks (at most once a millisecond) for reliable
 * consumers that hold us back (leave fewer than NEED) and whose process is
 * dead, and evicts those found dead for evict_ns.  Returns 1 if it evicted
 * one. */
static int evict_dead(rill_producer *p, uint64_t need) {
  if (p->evict_ns == RILL_FOREVER) return 0;
  uint64_t now = rill__mono_ns();
  if (now < p->next_live_check) return 0;
  p->next_live_check = now + 1000000;
  int evicted = 0;
  for (uint32_t i = 0; i < p->max_consumers; i++) {
    rill_cursor *c = rill__cursor_at(p->cursors, i);
    struct rill_prod_slot *ps = &p->slots[i];
    if (atomic_load_explicit(&c->state, memory_order_acquire) == RILL_CUR_FREE ||
        atomic_load_explicit(&c->mode, memory_order_relaxed) != RILL_RELIABLE)
      continue;
    uint32_t gen = atomic_load_explicit(&c->gen, memory_order_relaxed);
    if (gen == atomic_load_explicit(&p->prod->evicted[i], memory_order_relaxed)) continue;
    uint64_t s = atomic_load_explicit(&c->seq, memory_order_relaxed);
    /* Not holding us back: it leaves the credit a whole send needs. */
    if ((int64_t)(s + p->depth - p->seq) >= (int64_t)need) continue;
    if (rill__lock_held(p->fd, p->cursor_lock_off + (uint64_t)i * RILL_PAGE) != 0) {
      ps->dead_since = 0; /* alive (or cannot tell: never evict then) */
      continue;
    }
    if (!ps->dead_since || ps->dead_gen != gen) {
      ps->dead_since = now;
      ps->dead_gen = gen;
    }
    if (now - ps->dead_since < p->evict_ns) continue;
    atomic_store_explicit(&p->prod->evicted[i], gen, memory_order_relaxed);
    p->evictions++;
    ps->dead_since = 0;
    evicted = 1;
  }
  return evicted;
}

/* 1 if NEED descriptors may be published now, else counts backpressure. */
static int credit_get(rill_producer *p, uint64_t need) {
  credit_refresh(p);
  if (p->cr_avail >= need) return 1;
  if (evict_dead(p, need)) {
    credit_refresh(p);
    if (p->cr_avail >= need) return 1;
  }
  if (!p->in_wait) { /* a wait counts once, at its first try */
    p->backpressure++;
    atomic_store_explicit(&p->prod->backpressure, p->backpressure, memory_order_relaxed);
  }
  return 0;
}

static void housekeeping(rill_producer *p) {
  prod_flush(p);
  p->hk_left = rill__jitter(&p->rng, RILL_PROD_HK_INTERVAL);
}

/* tspub for the next N descriptors (one message's fragments, or a batch):
 * the clock if one of them must be stamped, else 0, "not stamped", and no
 * clock read (docs/PROTOCOL.md §2.4).  Stamped: every descriptor whose seq
 * is a multiple of RILL_STAMP_PERIOD, so that a consumer sampling after a
 * stall finds a stamped message in its backlog; the first publish after a
 * consumer asked for a latency sample (it bumps the wait page's stamp_req
 * at each heartbeat, so a slow channel's messages are sampled as they
 * come); and all of them while stamp_all is set.  stamp_req shares the
 * line with arm_gen, which every publish loads anyway.  Relaxed: a stamp
 * is a reading of our own clock, valid whatever order the request is seen
 * in. */
static inline uint32_t stamp(rill_producer *p, uint64_t n) {
  uint32_t r = atomic_load_explicit(p->stamp_req, memory_order_relaxed);
  uint64_t s = p->seq;
  int periodic = ((s - 1) >> RILL_STAMP_PERIOD_SHIFT) != ((s + n - 1) >> RILL_STAMP_PERIOD_SHIFT);
  if (__builtin_expect(!periodic && r == p->stamp_seen && !p->stamp_all, 1)) return 0;
  p->stamp_seen = r;
  uint32_t ts = (uint32_t)rill__clock_ns(&p->clock);
  return ts ? ts : 1; /* 0 means "not stamped" */
}

/* Writes the descriptor of sequence number p->seq.  The payload is already
 * in the data ring.  publish_end() finishes the publish. */
static inline void publish_desc(rill_producer *p, uint64_t chunk, uint64_t sz,
                                uint64_t sig, uint16_t ctl, uint32_t tsorig,
                                uint32_t tspub) {
  uint64_t seq = p->seq;
  rill_desc *d = &p->meta[seq & p->mask];
  /* Mark the slot "being written": a consumer expecting the old sequence
   * sees it ahead (overrun), one expecting SEQ sees it behind (not yet). */
  atomic_store_explicit(&d->seq, seq - 1, memory_order_relaxed);
  /* Release fence: the mark is ordered before the field stores below;
   * pairs with the acquire fence in rill_poll()/rill_check() before their
   * second load of seq. */
  atomic_thread_fence(memory_order_release);
  atomic_store_explicit(&d->sig, sig, memory_order_relaxed);
  atomic_store_explicit(&d->chunk, (uint32_t)chunk, memory_order_relaxed);
  atomic_store_explicit(&d->sz, (uint16_t)sz, memory_order_relaxed);
  atomic_store_explicit(&d->ctl, ctl, memory_order_relaxed);
  atomic_store_explicit(&d->tsorig, tsorig, memory_order_relaxed);
  atomic_store_explicit(&d->tspub, tspub, memory_order_relaxed);
  /* Release: pairs with the acquire load of d->seq in rill_poll(); the
   * payload and the fields above are visible once SEQ is. */
  atomic_store_explicit(&d->seq, seq, memory_order_release);
  p->seq = seq + 1;
}

/* After N descriptors of BYTES payload bytes: credits, counters,
 * housekeeping and the wake-up check, once for them all. */
static inline void publish_end(rill_producer *p, uint64_t n, uint64_t bytes) {
  p->cr_avail -= n;
  p->msgs += n;
  p->bytes += bytes;
  if (p->hk_left > n) p->hk_left -= n;
  else housekeeping(p);
  /* Has a consumer parked or armed its fd since we last looked?  The word
   * changes only then, so this load hits our cache.  Ordering against a
   * parking consumer (docs/PROTOCOL.md, "Waiting"): the seq stores above
   * must be visible before this load, or the consumer must see our load
   * happen after its bump.  With asymmetric barriers, the consumer's
   * rill__heavy_barrier() gives that and a compiler barrier is enough here;
   * without them we fence. */
  if (p->fence_each) atomic_thread_fence(memory_order_seq_cst);
  else atomic_signal_fence(memory_order_seq_cst);
  /* Acquire: pairs with the consumer's seq_cst bump of arm_gen, after its
   * stores of park / fd_gen that rill__wake_consumers() reads. */
  uint32_t g = atomic_load_explicit(p->arm_gen, memory_order_acquire);
  /* A LAZY producer learns of a request to fence there too: a consumer
   * sets fence_req before it bumps arm_gen (docs/PROTOCOL.md §3.7a). */
  if (__builtin_expect(g != p->arm_seen, 0)) rill__wake_consumers(p, g, 0);
}

static inline void publish(rill_producer *p, uint64_t chunk, uint64_t sz,
                           uint64_t sig, uint16_t ctl, uint32_t tsorig,
                           uint32_t tspub) {
  publish_desc(p, chunk, sz, sig, ctl, tsorig, tspub);
  publish_end(p, 1, sz);
}

/* Where a payload of NEED chunks goes: the next free chunk, or the ring's
 * start if it would cross the end.  The ring holds depth + 2 MTUs, so the
 * chunks of the last depth messages are never reused (docs/PROTOCOL.md). */
static inline uint64_t place(const rill_producer *p, uint64_t need) {
  uint64_t ch = p->chunk;
  return ch + need > p->data_chunks ? 0 : ch;
}

int rill_reserve(rill_producer *p, size_t n, void **buf) {
  if (!p || !buf) return -RILL_EINVAL;
  if (n > p->mtu) return -RILL_EMSGSIZE;
  if (!p->cr_avail && !credit_get(p, 1)) return -RILL_EAGAIN;
  uint64_t ch = place(p, rill__chunks(n));
  p->res_chunk = ch;
  p->res_cap = n;
  p->res_count = 1;
  *buf = p->data + (ch << RILL_CHUNK_SHIFT);
  return 0;
}

/* Publishes N bytes at SKIP chunks into the reservation.  The message
 * still takes no more than the reserved chunks, so the ring's sizing rule
 * holds (docs/PROTOCOL.md 2.5). */
static int commit_at(rill_producer *p, uint64_t skip, size_t n, uint64_t sig, uint16_t ctl,
                     uint32_t tsorig) {
  if (p->res_cap == UINT64_MAX || skip > p->res_cap >> RILL_CHUNK_SHIFT ||
      n > p->res_cap - (skip << RILL_CHUNK_SHIFT))
    return -RILL_EINVAL;
  uint64_t ch = p->res_chunk + skip;
  publish(p, ch, n, sig, ctl, tsorig, stamp(p, 1));
  p->chunk = ch + rill__chunks(n);
  p->res_cap = UINT64_MAX;
  return 0;
}

int rill_commit_ts(rill_producer *p, size_t n, uint64_t sig, uint16_t ctl,
                   uint32_t tsorig) {
  if (!p) return -RILL_EINVAL;
  return commit_at(p, 0, n, sig, ctl, tsorig);
}

int rill_commit_at(rill_producer *p, const void *at, size_t n, uint64_t sig, uint16_t ctl) {
  if (!p || !at || p->res_cap == UINT64_MAX) return -RILL_EINVAL;
  const uint8_t *base = p->data + (p->res_chunk << RILL_CHUNK_SHIFT);
  if ((const uint8_t *)at < base) return -RILL_EINVAL;
  uint64_t off = (uint64_t)((const uint8_t *)at - base);
  if (off & ((1u << RILL_CHUNK_SHIFT) - 1)) return -RILL_EINVAL;
  return commit_at(p, off >> RILL_CHUNK_SHIFT, n, sig, ctl, 0);
}

int rill_commit(rill_producer *p, size_t n, uint64_t sig, uint16_t ctl) {
  return rill_commit_ts(p, n, sig, ctl, 0);
}

/* Copies a payload into the ring.  A small one goes by fixed-size 64-byte
 * copies the compiler inlines (measured: a 64-byte batch publish 3.4 ns
 * instead of 3.9), a larger one by memcpy, faster from a few chunks on. */
static inline void copy_in(uint8_t *dst, const uint8_t *src, uint64_t n) {
  if (n > 4 * RILL_CHUNK) {
    memcpy(dst, src, n);
    return;
  }
  for (; n >= RILL_CHUNK; n -= RILL_CHUNK, dst += RILL_CHUNK, src += RILL_CHUNK)
    memcpy(dst, src, RILL_CHUNK);
  if (n) memcpy(dst, src, n);
}

static inline void send_frag(rill_producer *p, const void *src, uint64_t n,
                             uint64_t sig, uint16_t ctl, uint32_t ts) {
  uint64_t need = rill__chunks(n);
  uint64_t ch = place(p, need);
  if (n) copy_in(p->data + (ch << RILL_CHUNK_SHIFT), src, n); /* src may be NULL then */
  publish(p, ch, n, sig, ctl, 0, ts);
  p->chunk = ch + need;
}

int rill__send_ctl(rill_producer *p, const void *data, size_t n, uint64_t sig, uint16_t uctl) {
  if (!p || (!data && n)) return -RILL_EINVAL;
  p->res_cap = UINT64_MAX; /* a send drops any pending reservation */
  uctl &= (uint16_t)~RILL_CTL_MSG;
  if (n <= p->mtu) {
    if (!p->cr_avail && !credit_get(p, 1)) return -RILL_EAGAIN;
    send_frag(p, data, n, sig, (uint16_t)(RILL_CTL_MSG | uctl), stamp(p, 1));
    return 0;
  }
  if (n > p->max_msg) return -RILL_EMSGSIZE;
  uint64_t nfrag = rill__frags(n, p->mtu);
  if (p->cr_avail < nfrag && !credit_get(p, nfrag)) return -RILL_EAGAIN;
  const uint8_t *src = data;
  uint16_t ctl = (uint16_t)(RILL_CTL_SOM | uctl);
  uint32_t ts = stamp(p, nfrag);
  while (n > p->mtu) {
    send_frag(p, src, p->mtu, sig, ctl, ts);
    src += p->mtu;
    n -= p->mtu;
    ctl = uctl;
  }
  send_frag(p, src, n, sig, (uint16_t)(ctl | RILL_CTL_EOM), ts);
  return 0;
}

int rill_send(rill_producer *p, const void *data, size_t n, uint64_t sig) {
  return rill__send_ctl(p, data, n, sig, 0);
}

/* The fragments of a batch's messages, or 0 if one is over max_msg, or
 * if there are more than the ring holds (the batch could never go). */
static uint64_t batch_frags(const rill_producer *p, const rill_msg *m, size_t count) {
  uint64_t total = 0;
  for (size_t i = 0; i < count; i++) {
    if (m[i].sz > p->max_msg || (!m[i].data && m[i].sz)) return 0;
    total += m[i].sz <= p->mtu ? 1 : rill__frags(m[i].sz, p->mtu); /* no division for most */
    if (total > p->depth) return 0;
  }
  return total;
}

int rill_send_many(rill_producer *p, const rill_msg *m, size_t count) {
  if (!p || !m || !count || count > p->depth) return -RILL_EINVAL;
  p->res_cap = UINT64_MAX; /* a send drops any pending reservation */
  uint64_t nfrag = batch_frags(p, m, count);
  if (!nfrag) {
    for (size_t i = 0; i < count; i++)
      if (m[i].sz > p->max_msg) return -RILL_EMSGSIZE;
    return -RILL_EINVAL; /* a NULL payload, or more fragments than the ring */
  }
  if (p->cr_avail < nfrag && !credit_get(p, nfrag)) return -RILL_EAGAIN;
  uint32_t ts = stamp(p, nfrag); /* one clock read, if any, for the batch */
  uint64_t bytes = 0;
  for (size_t i = 0; i < count; i++) {
    const uint8_t *src = m[i].data;
    uint64_t n = m[i].sz;
    uint16_t uctl = (uint16_t)(m[i].ctl & ~RILL_CTL_MSG);
    uint16_t ctl = (uint16_t)(RILL_CTL_SOM | uctl);
    bytes += n;
    while (n > p->mtu) {
      uint64_t ch = place(p, rill__chunks(p->mtu));
      copy_in(p->data + (ch << RILL_CHUNK_SHIFT), src, p->mtu);
      publish_desc(p, ch, p->mtu, m[i].sig, ctl, m[i].tsorig, ts);
      p->chunk = ch + rill__chunks(p->mtu);
      src += p->mtu;
      n -= p->mtu;
      ctl = uctl;
    }
    uint64_t need = rill__chunks(n);
    uint64_t ch = place(p, need);
    if (n) copy_in(p->data + (ch << RILL_CHUNK_SHIFT), src, n);
    publish_desc(p, ch, n, m[i].sig, (uint16_t)(ctl | RILL_CTL_EOM), m[i].tsorig, ts);
    p->chunk = ch + need;
  }
  publish_end(p, nfrag, bytes);
  return 0;
}

int rill_reserve_many(rill_producer *p, size_t count, size_t n, void **bufs) {
  if (!p || !bufs || !count || count > p->depth) return -RILL_EINVAL;
  if (n > p->mtu) return -RILL_EMSGSIZE;
  if (p->cr_avail < count && !credit_get(p, count)) return -RILL_EAGAIN;
  uint64_t need = rill__chunks(n), ch = p->chunk;
  /* Laid out as COUNT sends of N bytes would be, so the ring's sizing rule
   * holds for each (docs/PROTOCOL.md 2.5); the first is the reservation
   * rill_commit() would publish. */
  for (size_t i = 0; i < count; i++) {
    ch = ch + need > p->data_chunks ? 0 : ch;
    bufs[i] = p->data + (ch << RILL_CHUNK_SHIFT);
    if (!i) p->res_chunk = ch;
    ch += need;
  }
  /* Mark the batch's slots "being written" first (docs/PROTOCOL.md 3.1,
   * "Batches").  The application writes every payload before any of
   * these descriptors is published, so the payload of the K-th may
   * overlap that of the message still in the slot of the (K-1)-th (single
   * publishes keep the ring's sizing rule by themselves); a lossy consumer
   * reading that message must fail its check, and finds the mark.  The
   * mark is s - 1, the last sequence number published: ahead of every
   * message the slots hold (a consumer expecting one resynchronises to
   * s - 1, which it can read) and behind every one of the batch ("nothing
   * yet").  The release fence orders the marks before every later store,
   * the application's payload writes included; it pairs with the acquire
   * fence in rill_check() before its load of seq. */
  uint64_t s = p->seq;
  for (size_t i = 0; i < count; i++)
    atomic_store_explicit(&p->meta[(s + i) & p->mask].seq, s - 1, memory_order_relaxed);
  atomic_thread_fence(memory_order_release);
  p->res_cap = n;
  p->res_count = count;
  return 0;
}

int rill_commit_many(rill_producer *p, const rill_msg *m, size_t count) {
  if (!p || !m || !count || p->res_cap == UINT64_MAX || count > p->res_count)
    return -RILL_EINVAL;
  for (size_t i = 0; i < count; i++)
    if (m[i].sz > p->res_cap) return -RILL_EINVAL;
  uint32_t ts = stamp(p, count);
  uint64_t need = rill__chunks(p->res_cap), ch = p->res_chunk, bytes = 0;
  for (size_t i = 0; i < count; i++) {
    ch = ch + need > p->data_chunks ? 0 : ch; /* as rill_reserve_many() placed it */
    publish_desc(p, ch, m[i].sz, m[i].sig, m[i].ctl, m[i].tsorig, ts);
    bytes += m[i].sz;
    p->chunk = ch + rill__chunks(m[i].sz);
    ch += need;
  }
  p->res_cap = UINT64_MAX;
  publish_end(p, count, bytes);
  return 0;
}

int rill_producer_set_stamp(rill_producer *p, uint32_t mode) {
  if (!p || mode > RILL_STAMP_EVERY) return -RILL_EINVAL;
  p->stamp_every = mode == RILL_STAMP_EVERY;
  p->stamp_all |= p->stamp_every; /* at once; credit_refresh() keeps it */
  return 0;
}

int rill_producer_flush(rill_producer *p) {
  if (!p) return -RILL_EINVAL;
  prod_flush(p);
  /* The SIGBUS guard replaced pages of our mapping: the file was shrunk. */
  return rill__map_lost(p->map) ? -RILL_ETRUNC : 0;
}

/* After a crash the flushed seq may lag what was published: walk forward
 * over descriptors that hold their own sequence number. */
static void resume(rill_producer *p) {
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

int rill_producer_join(rill_region *r, const char *name, rill_producer **out) {
  if (!r || !out) return -RILL_EINVAL;
  if (r->readonly) return -RILL_EACCES; /* an observer's handle */
  rill_chan_info ci;
  int rc = rill__chan_find(r, name, &ci);
  if (rc) return rc;
  rill_producer *p = calloc(1, sizeof *p);
  if (!p) return -RILL_ENOMEM;
  p->fd = -1;
  if ((rc = rill__file_reopen(r->fd, &p->fd))) goto fail;
  p->lock_off = ci.off + ci.g.prod_off;
  if ((rc = rill__lock_try(p->fd, p->lock_off))) {
    rill__file_close(p->fd);
    free(p);
    return rc;
  }
  void *map;
  if ((rc = rill__map(p->fd, ci.off, ci.size, 1, &map))) goto fail;
  rill__map_fill(map, ci.g.meta_off); /* slot 0, should the guard detach it */
  p->map = map;
  p->map_size = ci.size;
  p->prod = (rill_prod_page *)(p->map + ci.g.prod_off);
  p->wait = (rill_wait_page *)(p->map + ci.g.wait_off);
  p->arm_gen = &p->wait->arm_gen;
  p->cursors = p->map + ci.g.cursor_off;
  p->cursor_lock_off = ci.off + ci.g.cursor_off;
  if (!(p->slots = calloc(ci.max_consumers, sizeof *p->slots))) { rc = -RILL_ENOMEM; goto fail_map; }
  for (uint32_t i = 0; i < ci.max_consumers; i++) p->slots[i].fifo_fd = -1;
  snprintf(p->region, sizeof p->region, "%s", r->name);
  snprintf(p->chan, sizeof p->chan, "%s", name);
  snprintf(p->dir, sizeof p->dir, "%s", r->dir);
  p->spin_ns = RILL_SPIN_DEFAULT_NS;
  p->evict_ns = RILL_EVICT_DEFAULT_NS;
  p->meta = (rill_desc *)(p->map + ci.g.meta_off);
  p->data = p->map + ci.g.data_off;
  p->mask = ci.depth - 1;
  p->depth = ci.depth;
  p->mtu = ci.mtu;
  p->max_msg = ci.max_msg;
  p->max_consumers = ci.max_consumers;
  p->data_chunks = ci.g.data_chunks;
  p->res_cap = UINT64_MAX;
  p->rng = rill__random();
  p->msgs = atomic_load_explicit(&p->prod->msgs, memory_order_relaxed);
  p->bytes = atomic_load_explicit(&p->prod->bytes, memory_order_relaxed);
  p->backpressure = atomic_load_explicit(&p->prod->backpressure, memory_order_relaxed);
  p->evictions = atomic_load_explicit(&p->prod->evictions, memory_order_relaxed);
  p->wakes = atomic_load_explicit(&p->prod->wakes, memory_order_relaxed);
  /* How the store-load order after each publish is kept (§3.7, §3.7a):
   * by the consumers' heavy barriers (ASYM); by a fence of ours only once
   * a consumer that sleeps asks (LAZY: where there is no heavy barrier
   * and no consumer older than the rule can exist, or for tests); or by
   * a fence after every publish. */
  uint32_t flags = 0;
  p->fence_req = &p->wait->fence_req;
  p->stamp_req = &p->wait->stamp_req;
  /* The first publish is stamped: consumers may have asked before we came. */
  p->stamp_seen = atomic_load_explicit(p->stamp_req, memory_order_relaxed) - 1;
  if (rill__lazy_fence()) {
    /* Acquire: pairs with the consumer's seq_cst RMW of fence_req; one
     * that asked an earlier producer gets a fencing one at once. */
    int asked = atomic_load_explicit(p->fence_req, memory_order_acquire) != 0;
    flags = RILL_PROD_F_LAZY | (asked ? RILL_PROD_F_FENCING : 0);
    p->fence_each = (uint32_t)asked;
    p->lazy = !asked;
  } else {
    p->fence_each = rill__heavy_barrier_register() != 0;
    flags = p->fence_each ? 0 : RILL_PROD_F_ASYM;
  }
  resume(p);
  rill__clock_init(&p->clock);
  p->cr_avail = 0; /* the first publish computes credits */
  p->hk_left = rill__jitter(&p->rng, RILL_PROD_HK_INTERVAL);
  rill_prod_page *pp = p->prod;
  atomic_store_explicit(&pp->pid, rill__pid(), memory_order_relaxed);
  /* Relaxed: consumers read flags after their acquire load of wake,
   * which our release bump below publishes. */
  atomic_store_explicit(&pp->flags, flags, memory_order_relaxed);
  atomic_store_explicit(&pp->cr_wait, 0, memory_order_relaxed);
  atomic_fetch_add_explicit(&pp->gen, 1, memory_order_relaxed);
  atomic_store_explicit(&pp->state, RILL_PROD_JOINED, memory_order_relaxed);
  prod_flush(p);
  /* The first publish looks at every slot: consumers may have parked or
   * armed before we came. */
  p->arm_seen = atomic_load_explicit(p->arm_gen, memory_order_acquire) - 1;
  /* Consumers parked under an earlier producer look again (at our flags
   * and state): the bump is a release that pairs with their acquire load
   * of wake, which comes before their load of flags. */
  atomic_fetch_add_explicit(&pp->wake, 1, memory_order_release);
  rill__unpark(&pp->wake);
  *out = p;
  return 0;
fail_map:
  rill__unmap(p->map, p->map_size);
fail:
  rill__lock_release(p->fd, p->lock_off);
  rill__file_close(p->fd);
  free(p->slots);
  free(p);
  return rc;
}

int rill_producer_leave(rill_producer *p) {
  if (!p) return 0;
  prod_flush(p);
  /* Release: pairs with the acquire load of state in a waiting consumer,
   * which then polls once more and sees every message published before. */
  atomic_store_explicit(&p->prod->state, RILL_PROD_LEFT, memory_order_release);
  rill__wake_consumers(p, atomic_load_explicit(p->arm_gen, memory_order_acquire), 1);
  for (uint32_t i = 0; i < p->max_consumers; i++) rill__file_close(p->slots[i].fifo_fd);
  free(p->slots);
  rill__unmap(p->map, p->map_size);
  rill__lock_release(p->fd, p->lock_off);
  rill__file_close(p->fd);
  free(p);
  return 0;
}

int rill_producer_set_spin(rill_producer *p, uint64_t ns) {
  if (!p) return -RILL_EINVAL;
  p->spin_ns = ns;
  return 0;
}

int rill_producer_set_evict(rill_producer *p, uint64_t ns) {
  if (!p) return -RILL_EINVAL;
  p->evict_ns = ns;
  return 0;
}

uint64_t rill_producer_seq(const rill_producer *p) { return p ? p->seq : 0; }
