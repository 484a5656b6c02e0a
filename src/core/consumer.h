/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* The consumer's data path (docs/PROTOCOL.md §3.2 poll, §3.3 check and
 * reassembly, §3.4 cursor and joining), over a rill_core_consumer: one
 * implementation, compiled into librill_core.a by src/core/core.c and
 * inlined into librill's rill_poll(), rill_poll_many(), rill_recv() ... by
 * src/consumer.c (core/core.h says why).
 *
 * Hooks.  The file that includes this header defines these four static
 * functions (a declaration before the include is enough); they are where
 * librill adds what needs the operating system:
 *
 *   void rill_core__flush(rill_core_consumer *c, int hb);
 *       a cursor flush (§3.4), with heartbeat if HB: it calls
 *       rill_core__cursor_store(), which is all the core's does; librill
 *       writes the heartbeat, asks for a stamp and wakes a producer parked
 *       for credit.
 *   int rill_core__holdoff(rill_core_consumer *c, const rill_desc *d);
 *       the first empty poll after a streak of RILL_STREAM_STREAK
 *       messages: sets c->streak to 0 and returns 1 if D now holds
 *       c->seq (librill waits its hold-off first, §3.2 "What a consumer
 *       may do locally"); the core's returns 0.
 *   void rill_core__lat(rill_core_consumer *c, uint32_t tspub);
 *       a latency sample is due (c->lat_due, set by a heartbeat flush)
 *       and a poll took a descriptor stamped TSPUB: librill samples it and
 *       clears lat_due (§2.3); the core never sets lat_due.
 *   uint8_t *rill_core__asm_alloc(rill_core_consumer *c);
 *       the reassembly buffer (max_msg bytes) is needed and c->asm_buf is
 *       NULL: librill allocates it (and sets c->asm_buf); the core's,
 *       which has no heap, returns NULL (-RILL_ENOMEM). */
#ifndef RILL_CORE_CONSUMER_H
#define RILL_CORE_CONSUMER_H

#include "core.h"

/* A consumer that caught up after a streak of this many messages calls
 * its hold-off hook (librill waits a moment before it looks again: local
 * tuning, not part of the protocol: docs/PROTOCOL.md 3.2, "What a
 * consumer may do locally"). */
#define RILL_STREAM_STREAK 64u

static inline void rill_core__flush(rill_core_consumer *c, int hb);
static inline int rill_core__holdoff(rill_core_consumer *c, const rill_desc *d);
static inline void rill_core__lat(rill_core_consumer *c, uint32_t tspub);
static inline uint8_t *rill_core__asm_alloc(rill_core_consumer *c);

/* The position a flush writes (§3.4): the next sequence number to read,
 * or, while a copying receive holds part of a message (or a whole one it
 * could not hand over), its first fragment's: a consumer that dies and
 * rejoins gets the whole message again, never half of it. */
static inline uint64_t rill_core__cursor_pos(const rill_core_consumer *c) {
  return c->asm_frags || c->pend ? c->pend_meta.seq : c->seq;
}

/* Writes the counters and position S (rill_core__cursor_pos(), or a
 * position behind it) to the cursor. */
static inline void rill_core__cursor_store_at(rill_core_consumer *c, uint64_t s) {
  rill_cursor *cur = c->cur;
  atomic_store_explicit(&cur->msgs, c->msgs, memory_order_relaxed);
  atomic_store_explicit(&cur->bytes, c->bytes, memory_order_relaxed);
  atomic_store_explicit(&cur->overrun_poll, c->overrun_poll, memory_order_relaxed);
  atomic_store_explicit(&cur->overrun_read, c->overrun_read, memory_order_relaxed);
  atomic_store_explicit(&cur->lost, c->lost, memory_order_relaxed);
  /* Release: pairs with the acquire load of the cursor seq in the
   * producer's rill_core__credit_scan() (core/producer.h): our reads of
   * every payload before seq happen before the producer reuses those
   * chunks. */
  atomic_store_explicit(&cur->seq, s, memory_order_release);
  c->seq_flushed = c->seq;
}

/* Writes the counters and the position to the cursor (§3.4: the flush
 * without what librill adds around it). */
static inline void rill_core__cursor_store(rill_core_consumer *c) {
  rill_core__cursor_store_at(c, rill_core__cursor_pos(c));
}

/* The consumer was lapped: FOUND is the sequence number the slot holds.
 * It resyncs forward to FOUND only if a producer could have published it
 * (§3.2): no further ahead of the producer's flushed seq than a flush can
 * lag, and not so far that the consumer's jumps since it joined would add
 * up to RILL_MAX_JUMPED (a cycle of planted sequence numbers would
 * otherwise bring it round 2^64 to messages it already delivered).
 * Anything else is a garbage descriptor, skipped: a poll that finds
 * something moves the consumer forward, so it never loops (a value
 * planted 2^63 or more ahead reads as "behind": nothing yet). */
static __attribute__((noinline)) int rill_core__overrun(rill_core_consumer *c, uint64_t found,
                                                        rill_view *v) {
  uint64_t lost = found - c->seq;
  /* Acquire: pairs with the seq_cst store of the producer's seq in
   * rill_core__prod_flush() (core/producer.h). */
  uint64_t head = atomic_load_explicit(&c->prod->seq, memory_order_acquire);
  if ((int64_t)lost <= 0 || /* slots only move forward */
      (int64_t)(found - head) > (int64_t)RILL_MAX_FLUSH_LAG ||
      lost > RILL_MAX_JUMPED - c->jumped) {
    c->seq++;
    return -RILL_ECORRUPT;
  }
  /* A reliable consumer is lapped only after the producer evicted it (or
   * by a broken one): its slot may have been rejoined while the producer
   * still holds credits it computed without it, good up to the seq it
   * flushed then plus depth.  Resynced to FOUND behind that seq, it could
   * be lapped again while it reads a payload it never checks; at the
   * producer's flushed seq (HEAD, or later) it cannot. */
  if (!c->lossy && (int64_t)(head - found) > 0) {
    found = head;
    lost = found - c->seq;
  }
  c->jumped += lost;
  c->seq = found;
  c->overrun_poll++;
  c->lost += lost;
  v->lost = lost;
  return -RILL_EOVERRUN;
}

/* Reads descriptor D, whose seq the caller loaded (acquire) as S1, into
 * *V and its payload's offset into *OFF (neither checked yet), and loads
 * seq again: the fields belong to S1 if that second load gives S1 back. */
static inline __attribute__((always_inline)) uint64_t
rill_core__desc_read(const rill_desc *d, uint64_t s1, rill_view *v, uint64_t *off) {
  v->seq = s1;
  v->sig = atomic_load_explicit(&d->sig, memory_order_relaxed);
  *off = (uint64_t)atomic_load_explicit(&d->chunk, memory_order_relaxed) << RILL_CHUNK_SHIFT;
  v->sz = atomic_load_explicit(&d->sz, memory_order_relaxed);
  v->ctl = atomic_load_explicit(&d->ctl, memory_order_relaxed);
  v->reserved0 = 0;
  v->tsorig = atomic_load_explicit(&d->tsorig, memory_order_relaxed);
  v->tspub = atomic_load_explicit(&d->tspub, memory_order_relaxed);
  v->lost = 0;
  /* Acquire fence: the field loads above happen before the second load of
   * seq; pairs with the release fence after the "being written" mark in
   * rill_core__publish_desc() (core/producer.h).  Equal seqs mean the
   * fields belong to S1. */
  atomic_thread_fence(memory_order_acquire);
  return atomic_load_explicit(&d->seq, memory_order_relaxed);
}

/* Points V->data at the payload at OFF, if it lies inside the data ring
 * (trust nothing); 0 or -1. */
static inline __attribute__((always_inline)) int
rill_core__view_place(const rill_core_consumer *c, rill_view *v, uint64_t off) {
  if (v->sz > c->mtu || off + v->sz > c->data_bytes) return -1;
  v->data = c->data + off;
  return 0;
}

/* Where the payload after one of SZ bytes at OFF starts if the producer
 * places the next message right after it (chunk 0 past the ring's end). */
static inline __attribute__((always_inline)) void
rill_core__next_off_set(rill_core_consumer *c, uint64_t off, uint64_t sz) {
  uint64_t n = off + ((sz + RILL_CHUNK - 1) & ~(uint64_t)(RILL_CHUNK - 1));
  c->next_off = n < c->data_bytes ? n : 0;
}

/* One poll (§3.2), inlined into the receive so that the view stays in
 * registers (through memory, the copy stalls on store forwarding). */
static inline __attribute__((always_inline)) int rill_core__poll_one(rill_core_consumer *c,
                                                                     rill_view *v) {
  /* The periodic flush carries the heartbeat.  It comes at the start of
   * a poll, before the look: the poll that counted it down has returned
   * its message first (§3.4). */
  if (__builtin_expect(c->flush_left == 0, 0)) {
    rill_core__flush(c, 1);
    c->flush_left = rill__jitter(&c->rng, c->flush_every);
  }
  const rill_desc *d = &c->meta[c->seq & c->mask];
  /* Acquire: pairs with the release store of seq in
   * rill_core__publish_desc() (core/producer.h). */
  uint64_t s1 = atomic_load_explicit(&d->seq, memory_order_acquire);
  /* The payload's line, fetched beside the descriptor's: the message that
   * comes after a wait is usually placed where the last one ended (§2.5),
   * and a consumer that waits for the descriptor before it asks for the
   * payload pays two cache-line transfers in a row.  Only after a wait: a
   * streaming consumer's payloads are read in order, which the hardware
   * prefetches, and fetching the line the producer is about to write
   * would only take it away from it.  A hint: a wrong guess costs a
   * useless fetch inside the data ring, never a wrong byte. */
  if (c->streak == 0) __builtin_prefetch(c->data + c->next_off, 0, 3);
  int64_t diff = (int64_t)(s1 - c->seq);
  if (diff != 0 && __builtin_expect(c->streak >= RILL_STREAM_STREAK, 0) &&
      rill_core__holdoff(c, d)) {
    s1 = c->seq; /* published while we waited */
    diff = 0;
  }
  if (diff != 0) {
    c->streak = 0;
    if (diff > 0) {
      c->flush_left--;
      return rill_core__overrun(c, s1, v);
    }
    /* Nothing yet.  Idle is the time to tell the producer how far we got.
     * An empty poll counts one in RILL_IDLE_POLLS: a consumer spinning on
     * an idle channel heartbeats every few tens of microseconds, not
     * every few round trips of a busy one. */
    if (c->seq != c->seq_flushed) rill_core__flush(c, 0);
    if (--c->idle_left == 0) {
      c->idle_left = RILL_IDLE_POLLS;
      c->flush_left--;
    }
    return -RILL_EAGAIN;
  }
  c->flush_left--;
  c->streak++;
  uint64_t off;
  uint64_t s2 = rill_core__desc_read(d, s1, v, &off);
  if (s2 != s1) return rill_core__overrun(c, s2, v);
  c->seq++;
  if (rill_core__view_place(c, v, off)) return -RILL_ECORRUPT;
  rill_core__next_off_set(c, off, v->sz);
  if (__builtin_expect(c->lat_due, 0) && v->tspub) rill_core__lat(c, v->tspub);
  c->msgs++;
  c->bytes += v->sz;
  return 0;
}

/* A burst (§3.4): MAX >= 1, at most INT_MAX. */
static inline int rill_core__poll_many(rill_core_consumer *c, rill_view *v, size_t max) {
  /* The first descriptor is an ordinary poll: it flushes the cursor when
   * due (releasing the views of the last call) and reports what it finds. */
  int rc = rill_core__poll_one(c, v);
  if (rc) return rc;
  /* The rest are taken only while they are whole and in order, without
   * a flush: the cursor stays behind every view handed out, so a reliable
   * consumer's payloads stay put until the next call. */
  size_t k = 1;
  uint64_t bytes = 0, left = c->flush_left;
  for (; k < max; k++) {
    const rill_desc *d = &c->meta[c->seq & c->mask];
    /* Acquire: pairs with the release store of seq in
     * rill_core__publish_desc(). */
    uint64_t s1 = atomic_load_explicit(&d->seq, memory_order_acquire);
    if (s1 != c->seq) break;
    rill_view *w = &v[k];
    /* not whole, or outside the ring: the next call reports it */
    uint64_t off;
    if (rill_core__desc_read(d, s1, w, &off) != s1 || rill_core__view_place(c, w, off)) break;
    c->seq++;
    if (__builtin_expect(c->lat_due, 0) && w->tspub) rill_core__lat(c, w->tspub);
    bytes += w->sz;
  }
  if (k > 1)
    rill_core__next_off_set(c, (uint64_t)((const uint8_t *)v[k - 1].data - c->data),
                            v[k - 1].sz);
  c->msgs += k - 1;
  c->bytes += bytes;
  c->streak += k - 1;
  /* The polls of the burst count toward the next flush, which the next
   * call makes at its start (never one in this call: see above). */
  c->flush_left = left > k - 1 ? left - (k - 1) : 0;
  return (int)k;
}

/* The check (§3.3) of sequence number SEQ. */
static inline int rill_core__check_seq(rill_core_consumer *c, uint64_t seq) {
  /* Acquire fence: our payload reads happen before the load of seq below;
   * pairs with the release fence in rill_core__publish_desc() (a producer
   * that started to overwrite the slot has stored its mark, seen here). */
  atomic_thread_fence(memory_order_acquire);
  uint64_t s = atomic_load_explicit(&c->meta[seq & c->mask].seq, memory_order_relaxed);
  if (s == seq) return 0;
  c->overrun_read++;
  return -RILL_EOVERRUN;
}

/* Built with ThreadSanitizer? */
#if defined(__SANITIZE_THREAD__)
#define RILL_CORE_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RILL_CORE_TSAN 1
#endif
#endif

/* Copies a payload that a lossy consumer reads while the producer may be
 * overwriting it (the copy is validated afterwards by the check): the one
 * race the protocol allows (§3.3).  ThreadSanitizer is kept out of it:
 * the function is not instrumented, and under ThreadSanitizer it copies
 * with a loop of volatile loads rather than memcpy, which the sanitizer
 * intercepts (and a loop of plain loads the compiler may turn back into
 * memcpy).  A suppression by name (tests/tsan.supp) is not enough: when
 * the producer's write comes second, the reader's stack must be restored
 * from the sanitizer's history to match it, which a consumer that has
 * done much since no longer has. */
static __attribute__((noinline, no_sanitize_thread)) void rill__copy_racy(void *dst, const void *src,
                                                                          size_t n) {
#ifdef RILL_CORE_TSAN
  uint8_t *d = dst;
  const volatile uint8_t *s = src;
  for (size_t i = 0; i < n; i++) d[i] = s[i];
#else
  rill_core__memcpy(dst, src, n);
#endif
}

/* Copies a fragment's payload; 0 if the copy is good. */
static inline int rill_core__copy_frag(rill_core_consumer *c, void *dst, const void *src,
                                       uint32_t sz, uint64_t seq) {
  if (!c->lossy) {
    if (sz) rill_core__memcpy(dst, src, sz); /* dst may be NULL when sz is 0 */
    return 0;
  }
  if (sz) rill__copy_racy(dst, src, sz);
  return rill_core__check_seq(c, seq);
}

static inline void rill_core__fill_meta(rill_meta *m, const rill_view *first,
                                        const rill_view *last, uint64_t sz, uint64_t lost) {
  m->seq = first->seq;
  m->sig = first->sig;
  m->sz = sz;
  m->lost = lost;
  m->ctl = last->ctl;
  m->tsorig = first->tsorig;
  m->tspub = last->tspub;
}

/* Drops a partly gathered message: its fragments count as lost. */
static inline void rill_core__asm_drop(rill_core_consumer *c) {
  c->lost_acc += c->asm_frags;
  c->asm_frags = 0;
  c->asm_len = 0;
}

/* The copying receive with reassembly (§3.3), and with DATA the one that
 * points at a reliable consumer's whole message in one fragment instead of
 * copying it. */
static inline __attribute__((always_inline)) int64_t
rill_core__recv_one(rill_core_consumer *c, void *buf, size_t cap, rill_meta *meta,
                    const void **data) {
  if (data) *data = buf;
  if (c->pend) { /* a message too large for the last buffer */
    *meta = c->pend_meta;
    if (c->asm_len > cap) return -RILL_EMSGSIZE;
    rill_core__memcpy(buf, c->asm_buf, c->asm_len);
    c->pend = 0;
    c->asm_len = 0;
    return (int64_t)meta->sz;
  }
  /* Bounded: a ring full of garbage (or of fragments that never complete)
   * makes us give up after two laps and say "nothing yet"; what was
   * skipped is reported as lost with the next message. */
  for (uint64_t budget = 2 * c->depth + 2; budget; budget--) {
    rill_view v;
    v.ctl = 0; /* for gcc, which cannot see that rill_core__poll_one() sets it on 0 */
    int rc = rill_core__poll_one(c, &v);
    if (rc) {
      if (rc == -RILL_EAGAIN) return rc;
      /* lapped (v.lost skipped) or a garbage descriptor (skipped): any
       * message being gathered is cut */
      c->lost_acc += rc == -RILL_EOVERRUN ? v.lost : 1;
      rill_core__asm_drop(c);
      continue;
    }
    int som = (v.ctl & RILL_CTL_SOM) != 0, eom = (v.ctl & RILL_CTL_EOM) != 0;
    if (som && c->asm_frags) rill_core__asm_drop(c); /* the previous message was cut */
    if (!som && !c->asm_frags) { c->lost_acc++; continue; } /* its start is gone */

    if (data && som && eom && !c->lossy) { /* in place: the producer does not
                                              * reuse it before we move on */
      *data = v.data;
      rill_core__fill_meta(meta, &v, &v, v.sz, c->lost_acc);
      c->lost_acc = 0;
      return (int64_t)v.sz;
    }
    if (som && eom && v.sz <= cap) { /* a whole message that fits: the fast path */
      if (rill_core__copy_frag(c, buf, v.data, v.sz, v.seq)) { c->lost_acc++; continue; }
      rill_core__fill_meta(meta, &v, &v, v.sz, c->lost_acc);
      c->lost_acc = 0;
      return (int64_t)v.sz;
    }
    if (c->asm_len + v.sz > c->max_msg) { c->lost_acc++; rill_core__asm_drop(c); continue; }
    if (!c->asm_buf && !rill_core__asm_alloc(c)) {
      c->seq--; /* leave the fragment for a later call (counted then) */
      c->msgs--;
      c->bytes -= v.sz;
      return -RILL_ENOMEM;
    }
    if (rill_core__copy_frag(c, c->asm_buf + c->asm_len, v.data, v.sz, v.seq)) {
      c->lost_acc++;
      rill_core__asm_drop(c);
      continue;
    }
    if (som) c->pend_meta.seq = v.seq, c->pend_meta.sig = v.sig,
             c->pend_meta.tsorig = v.tsorig;
    c->asm_len += v.sz;
    c->asm_frags++;
    if (!eom) continue;
    rill_view first = {.seq = c->pend_meta.seq, .sig = c->pend_meta.sig,
                       .tsorig = c->pend_meta.tsorig};
    rill_core__fill_meta(meta, &first, &v, c->asm_len, c->lost_acc);
    c->lost_acc = 0;
    c->asm_frags = 0;
    if (c->asm_len > cap) {
      c->pend = 1;
      c->pend_meta = *meta;
      return -RILL_EMSGSIZE;
    }
    rill_core__memcpy(buf, c->asm_buf, c->asm_len);
    c->asm_len = 0;
    return (int64_t)meta->sz;
  }
  return -RILL_EAGAIN;
}

/* 1 if the slot of S holds S, with its ctl in *CTL (read between two
 * loads of seq, as a poll reads). */
static inline int rill_core__slot_holds(const rill_core_consumer *c, uint64_t s, uint16_t *ctl) {
  const rill_desc *d = &c->meta[s & c->mask];
  /* Acquire: pairs with the release store of seq in
   * rill_core__publish_desc() (core/producer.h). */
  if (atomic_load_explicit(&d->seq, memory_order_acquire) != s) return 0;
  *ctl = atomic_load_explicit(&d->ctl, memory_order_relaxed);
  /* Acquire fence: pairs with the release fence after the "being written"
   * mark in rill_core__publish_desc(), as in rill_core__desc_read(). */
  atomic_thread_fence(memory_order_acquire);
  return atomic_load_explicit(&d->seq, memory_order_relaxed) == s;
}

/* rill_consumer_seek_last() of a lossy consumer: moves to the start of
 * the N-th newest message still in the ring; returns how many message
 * starts it went back over. */
static inline int64_t rill_core__seek_last(rill_core_consumer *c, uint64_t n) {
  /* The newest end: from the producer's flushed seq (or ours, if ahead),
   * forward over what was published since; a slot that holds a later
   * sequence number (the flushed seq is a lap or more behind) is jumped
   * to.  Bounded: a producer that keeps publishing does not hold us. */
  uint64_t head = atomic_load_explicit(&c->prod->seq, memory_order_acquire);
  if ((int64_t)(c->seq - head) > 0) head = c->seq;
  uint16_t ctl;
  for (uint64_t i = 0; i < 2 * c->depth; i++) {
    /* Acquire: pairs with the release store of seq in
     * rill_core__publish_desc(). */
    uint64_t x = atomic_load_explicit(&c->meta[head & c->mask].seq, memory_order_acquire);
    if (x == head) head++;
    else if ((int64_t)(x - head) > 0) head = x;
    else break;
  }
  /* Back over N starts of messages, while the descriptors are still there
   * and no further than the channel's first sequence number. */
  uint64_t s = head, found = 0;
  for (uint64_t i = 0; found < n && i < c->depth; i++) {
    uint64_t t = s - 1;
    if ((int64_t)(t - c->seq0) < 0 || !rill_core__slot_holds(c, t, &ctl)) break;
    s = t;
    if (ctl & RILL_CTL_SOM) found++;
  }
  c->seq = s;
  c->asm_frags = c->asm_len = 0; /* nothing half-gathered carries over */
  c->pend = 0;
  c->lost_acc = 0;
  return (int64_t)found;
}

/* Points C at channel CH: its descriptors and data at BASE (mapped
 * read-only by librill), its own cursor page CUR and the wait page WAIT
 * (read-write), slot SLOT, mode MODE; SEED drives the jitter of its
 * flushes.  Nothing in shared memory is written. */
static inline void rill_core__cons_init(rill_core_consumer *c, const uint8_t *base,
                                        rill_cursor *cur, rill_wait_page *wait,
                                        const rill_core__chan *ch, uint32_t slot, int mode,
                                        uint64_t seed) {
  c->prod = (const rill_prod_page *)(base + ch->g.prod_off);
  c->meta = (const rill_desc *)(base + ch->g.meta_off);
  c->data = base + ch->g.data_off;
  c->data_bytes = ch->g.data_chunks << RILL_CHUNK_SHIFT;
  c->cur = cur;
  c->wait = wait;
  c->slot = slot;
  c->mask = ch->depth - 1;
  c->depth = ch->depth;
  c->mtu = ch->mtu;
  c->max_msg = ch->max_msg;
  c->seq0 = ch->seq0;
  c->lossy = mode == RILL_LOSSY;
  c->rng = seed;
  c->flush_every = ch->depth / 4 ? ch->depth / 4 : 1;
  c->flush_left = rill__jitter(&c->rng, c->flush_every);
  c->idle_left = RILL_IDLE_POLLS;
}

/* REJOIN for rill_core__cursor_join(): a new join, a rejoin, or a rejoin
 * that resumes at the slot's cursor even where the producer may not have
 * counted it (for a caller whose own flow control keeps the producer from
 * reusing what lies past it: a request lane, rpc.c). */
#define RILL_CORE__JOIN 0
#define RILL_CORE__REJOIN 1
#define RILL_CORE__REJOIN_AT_CURSOR 2

/* A reliable rejoin moves forward to S if S is past where it would resume
 * (wrap-safe), and counts what it passes over as lost, as an overrun does
 * (§3.4 Rejoin): the cursor's lost and overrun_poll, stored now with the
 * cursor seq the join stores next (a consumer dying before its first
 * flush leaves no gap uncounted), and the next copying receive's
 * meta.lost. */
static inline void rill_core__resume_no_earlier(rill_core_consumer *c, uint64_t s) {
  uint64_t gap = s - c->seq;
  if ((int64_t)gap <= 0) return;
  c->seq = s;
  c->lost += gap;
  c->lost_acc += gap;
  c->overrun_poll++;
  /* Relaxed: the release store of the cursor seq (or of ACTIVE) that
   * follows in the join publishes them. */
  atomic_store_explicit(&c->cur->lost, c->lost, memory_order_relaxed);
  atomic_store_explicit(&c->cur->overrun_poll, c->overrun_poll, memory_order_relaxed);
}

/* The cursor's join stores (§3.4, "Joining" and "Rejoin"), once the slot
 * is ours: a new join (REJOIN RILL_CORE__JOIN) zeroes the counters and
 * starts at the producer's flushed seq; a rejoin keeps them and resumes at
 * the slot's last flushed seq, a reliable one no earlier than the
 * producer's flushed seq where the producer may not have counted the slot.
 * MODE is stored as given (a rejoin passes the slot's); PID is
 * informative.  The caller then stores the heartbeat (if it has a clock)
 * and calls rill_core__cursor_joined(). */
static inline void rill_core__cursor_join(rill_core_consumer *c, int rejoin, uint32_t mode,
                                          uint32_t pid) {
  /* Only a reliable consumer needs the rejoin's catch-up: a lossy one
   * checks what it reads (§3.3). */
  int catch_up = rejoin == RILL_CORE__REJOIN && mode == RILL_RELIABLE;
  rill_cursor *k = c->cur;
  uint64_t last = atomic_load_explicit(&k->seq, memory_order_relaxed);
  if (!rejoin) {
    atomic_store_explicit(&k->msgs, 0, memory_order_relaxed);
    atomic_store_explicit(&k->bytes, 0, memory_order_relaxed);
    atomic_store_explicit(&k->overrun_poll, 0, memory_order_relaxed);
    atomic_store_explicit(&k->overrun_read, 0, memory_order_relaxed);
    atomic_store_explicit(&k->lost, 0, memory_order_relaxed);
    atomic_store_explicit(&k->lat_sum, 0, memory_order_relaxed);
    for (uint32_t i = 0; i < RILL_LAT_BUCKETS; i++)
      atomic_store_explicit(&k->lat[i], 0, memory_order_relaxed);
  } else {
    c->msgs = atomic_load_explicit(&k->msgs, memory_order_relaxed);
    c->bytes = atomic_load_explicit(&k->bytes, memory_order_relaxed);
    c->overrun_poll = atomic_load_explicit(&k->overrun_poll, memory_order_relaxed);
    c->overrun_read = atomic_load_explicit(&k->overrun_read, memory_order_relaxed);
    c->lost = atomic_load_explicit(&k->lost, memory_order_relaxed);
  }
  atomic_store_explicit(&k->pid, pid, memory_order_relaxed);
  atomic_store_explicit(&k->mode, mode, memory_order_relaxed);
  atomic_store_explicit(&k->park, 0, memory_order_relaxed);
  uint32_t old_gen = atomic_load_explicit(&k->gen, memory_order_relaxed);
  uint32_t gen = old_gen + 1;
  gen = gen ? gen : 1;
  atomic_store_explicit(&k->gen, gen, memory_order_relaxed);
  /* This join samples latency from stamped messages only (0.4): the
   * producer need not stamp the others (rill_core__credit_scan(),
   * core/producer.h). */
  atomic_store_explicit(&k->stamp_gen, gen, memory_order_relaxed);
  uint64_t prod_seq = atomic_load_explicit(&c->prod->seq, memory_order_seq_cst);
  if (rejoin) {
    /* A rejoin resumes where it last flushed.  That may be ahead of the
     * producer's flushed seq, but not ahead of what it published: the slot
     * before it must hold that sequence number or a later one.  Otherwise
     * (garbage) it starts at the producer. */
    uint64_t before = atomic_load_explicit(&c->meta[(last - 1) & c->mask].seq, memory_order_acquire);
    c->seq = (int64_t)(prod_seq - last) >= 0 || (int64_t)(before - (last - 1)) >= 0 ? last : prod_seq;
  }
  if (rejoin && atomic_load_explicit(&k->state, memory_order_acquire) == RILL_CUR_ACTIVE) {
    /* The slot of a consumer that died: the producer has counted its
     * cursor all along, so it takes over in place (going through JOINING
     * would let the producer count it at its own position meanwhile);
     * unless the producer evicted it.  Then credits it computed without
     * the slot, up to a flush plus depth - 1, may reach the payload at
     * the resume point before our first poll sees a lap (model/join.pml,
     * FINDING 3).  A full barrier between our store of the new gen and
     * the loads below: a refresh that still skipped the slot loaded the
     * old gen before that store, so its flush, and the store of
     * evicted[i] before it, come before our loads (we see the old gen in
     * evicted[i], and a producer.seq at least that flush); every later
     * refresh sees the new gen and counts our cursor.  Seq_cst: pairs with
     * the seq_cst flush and state load of rill_core__credit_scan().  Every
     * rejoin in place runs it (§3.4): without it our first polls could
     * run while the producer's refreshes still find the old, evicted gen
     * (model/join.pml, bug_rejoin_no_fence). */
    atomic_thread_fence(memory_order_seq_cst);
    if (catch_up &&
        atomic_load_explicit(&c->prod->evicted[c->slot], memory_order_relaxed) == old_gen)
      rill_core__resume_no_earlier(c, atomic_load_explicit(&c->prod->seq, memory_order_seq_cst));
    /* Release: pairs with the acquire load of the cursor seq in
     * rill_core__credit_scan(), as a flush's store does. */
    if (c->seq != last) atomic_store_explicit(&k->seq, c->seq, memory_order_release);
  } else {
    /* Sequentially consistent with rill_core__prod_flush()
     * (core/producer.h): see there. */
    atomic_store_explicit(&k->state, RILL_CUR_JOINING, memory_order_seq_cst);
    uint64_t s = atomic_load_explicit(&c->prod->seq, memory_order_seq_cst);
    if (!rejoin) c->seq = s;
    /* A rejoin through JOINING: the producer did not count the slot (its
     * consumer left, or died before ACTIVE), and may hold credits up to a
     * flush plus depth - 1 computed without it, past the resume point
     * (model/join.pml, FINDING 2).  Every refresh that skipped the slot
     * loaded its state before our store of JOINING, so flushed at most s;
     * one that finds it JOINING counts it no later than that
     * (rill_core__slot_pos()): from s on we are never lapped. */
    if (catch_up) rill_core__resume_no_earlier(c, s);
    atomic_store_explicit(&k->seq, c->seq, memory_order_relaxed);
    /* Release: pairs with the seq_cst (acquire) load of the state in
     * rill_core__credit_scan(); the seq stored above is seen with ACTIVE. */
    atomic_store_explicit(&k->state, RILL_CUR_ACTIVE, memory_order_release);
  }
  c->seq_flushed = c->seq;
}

/* The join's last store (§3.4): a producer waiting for consumers to join
 * counts again.  Release: pairs with the acquire load of cr_wake in
 * rill_producer_wait_consumers() (wait.c), taken before it counts the
 * active slots: it sees our ACTIVE, or the word moved.  librill then wakes
 * the futex. */
static inline void rill_core__cursor_joined(rill_core_consumer *c) {
  atomic_fetch_add_explicit(&c->wait->cr_wake, 1, memory_order_release);
}

/* Leaving, after the caller's flush (§3.4): the slot is free. */
static inline void rill_core__cursor_leave(rill_core_consumer *c) {
  atomic_store_explicit(&c->cur->park, 0, memory_order_relaxed);
  /* Release: pairs with the state load in rill_core__credit_scan(); the
   * producer stops counting this slot. */
  atomic_store_explicit(&c->cur->state, RILL_CUR_FREE, memory_order_release);
}

#endif
