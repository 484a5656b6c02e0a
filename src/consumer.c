/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* Consumers: poll descriptors by sequence number, validate, reassemble. */
#include "internal.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* Wakes a producer parked for credit after our cursor moved.  It stores
 * cr_wait, runs a heavy barrier, then loads our seq; we stored seq and now
 * load cr_wait: one of us sees the other.  Without asymmetric barriers we
 * fence (once per flush, never per message). */
static void credit_wake(rill_consumer *c) {
  if (c->fence_flush) atomic_thread_fence(memory_order_seq_cst);
  else atomic_signal_fence(memory_order_seq_cst);
  if (atomic_load_explicit(&c->prod->cr_wait, memory_order_relaxed)) {
    /* Release: pairs with the acquire load of cr_wake in the producer's
     * wait (wait.c), taken before it parks on the word. */
    atomic_fetch_add_explicit(&c->wait->cr_wake, 1, memory_order_release);
    rill__unpark(&c->wait->cr_wake);
  }
}

void rill__cursor_flush(rill_consumer *c, int hb) {
  rill_cursor *cur = c->cur;
  if (hb) {
    uint64_t now = rill__mono_ns();
    atomic_store_explicit(&cur->hb_ns, now, memory_order_relaxed);
    /* A latency sample at the next stamped message.  Ask the producer to
     * stamp one (docs/PROTOCOL.md §2.4), at most once a millisecond: the
     * bump costs the producer a cache miss on its next publish, and a
     * consumer spinning on a busy channel heartbeats every few
     * microseconds, where the stamps every 64 sequence numbers serve.
     * Relaxed: a stamp is valid whenever the producer sees the request. */
    if (now - c->stamp_asked_ns >= RILL_STAMP_ASK_NS) {
      atomic_fetch_add_explicit(&c->wait->stamp_req, 1, memory_order_relaxed);
      c->stamp_asked_ns = now;
    }
    c->lat_due = 1;
  }
  atomic_store_explicit(&cur->msgs, c->msgs, memory_order_relaxed);
  atomic_store_explicit(&cur->bytes, c->bytes, memory_order_relaxed);
  atomic_store_explicit(&cur->overrun_poll, c->overrun_poll, memory_order_relaxed);
  atomic_store_explicit(&cur->overrun_read, c->overrun_read, memory_order_relaxed);
  atomic_store_explicit(&cur->lost, c->lost, memory_order_relaxed);
  /* While rill_recv() holds part of a message (or a whole one it could not
   * hand over), the cursor stays at its first fragment: a consumer that
   * dies and rejoins gets the whole message again, never half of it. */
  uint64_t s = c->asm_frags || c->pend ? c->pend_meta.seq : c->seq;
  /* Release: pairs with the acquire load of the cursor seq in the producer's
   * credit_refresh() (producer.c): our reads of every payload before seq
   * happen before the producer reuses those chunks. */
  atomic_store_explicit(&cur->seq, s, memory_order_release);
  c->seq_flushed = c->seq;
  if (!c->lossy) credit_wake(c); /* lossy cursors give no credit */
}

#define cursor_flush(c) rill__cursor_flush((c), 0)

/* The consumer was lapped: FOUND is the sequence number the slot holds.
 * It resyncs forward to FOUND only if a producer could have published it
 * (docs/PROTOCOL.md 3.2): no further ahead of the producer's flushed seq
 * than a flush can lag, and not so far that the consumer's jumps since it
 * joined would add up to RILL_MAX_JUMPED (a cycle of planted sequence
 * numbers would otherwise bring it round 2^64 to messages it already
 * delivered).  Anything else is a garbage descriptor, skipped: a poll
 * that finds something moves the consumer forward, so it never loops (a
 * value planted 2^63 or more ahead reads as "behind": nothing yet). */
static __attribute__((noinline)) int overrun(rill_consumer *c, uint64_t found, rill_view *v) {
  uint64_t lost = found - c->seq;
  /* Acquire: pairs with the seq_cst store of the producer's seq in
   * prod_flush() (producer.c). */
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

/* Records the publish-to-consume latency of a message just consumed: one
 * clock read per heartbeat flush, never per message.  The difference is
 * taken modulo 2^32 like the stamps; one past 2^31 means the producer's
 * stamp ran ahead of our clock (its tick-counter estimate) and counts as 0.
 * Our cursor page has one writer, us: plain load and store suffice. */
static __attribute__((noinline, cold)) void lat_sample(rill_consumer *c, uint32_t tspub) {
  c->lat_due = 0;
  /* The tick-counter clock the producer stamps with: a third of the cost
   * of a system clock reading, on the path of the message it samples. */
  uint32_t d = (uint32_t)rill__clock_ns(&c->clock) - tspub;
  if ((int32_t)d < 0) d = 0;
  rill_cursor *k = c->cur;
  _Atomic uint64_t *b = &k->lat[rill__lat_bucket(d)];
  atomic_store_explicit(b, atomic_load_explicit(b, memory_order_relaxed) + 1,
                        memory_order_relaxed);
  atomic_store_explicit(&k->lat_sum, atomic_load_explicit(&k->lat_sum, memory_order_relaxed) + d,
                        memory_order_relaxed);
}

/* A consumer that has just caught up with a streaming producer (a streak
 * of RILL_STREAM_STREAK messages or more, then nothing) waits holdoff_ns
 * before it looks again (rill_consumer_set_holdoff()): looking at once
 * reads the cache line the producer is writing, and every look costs the
 * producer that line.  Returns 1 if the slot it waits for was published
 * meanwhile (it looks at the end only). */
static __attribute__((noinline, cold)) int holdoff(rill_consumer *c, const rill_desc *d) {
  c->streak = 0;
  if (!c->holdoff_ns) return 0;
  uint64_t end = rill__mono_ns() + c->holdoff_ns;
  while (rill__mono_ns() < end) rill__cpu_relax();
  /* Acquire: pairs with the release store of seq in publish_desc(). */
  return atomic_load_explicit(&d->seq, memory_order_acquire) == c->seq;
}

/* Reads descriptor D, whose seq the caller loaded (acquire) as S1, into
 * *V and its payload's offset into *OFF (neither checked yet), and loads
 * seq again: the fields belong to S1 if that second load gives S1 back. */
static inline __attribute__((always_inline)) uint64_t desc_read(const rill_desc *d, uint64_t s1,
                                                                 rill_view *v, uint64_t *off) {
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
   * publish_desc() (producer.c).  Equal seqs mean the fields belong to S1. */
  atomic_thread_fence(memory_order_acquire);
  return atomic_load_explicit(&d->seq, memory_order_relaxed);
}

/* Points V->data at the payload at OFF, if it lies inside the data ring
 * (trust nothing); 0 or -1. */
static inline __attribute__((always_inline)) int view_place(const rill_consumer *c,
                                                            rill_view *v, uint64_t off) {
  if (v->sz > c->mtu || off + v->sz > c->data_bytes) return -1;
  v->data = c->data + off;
  return 0;
}

/* Where the payload after one of SZ bytes at OFF starts if the producer
 * places the next message right after it (chunk 0 past the ring's end). */
static inline __attribute__((always_inline)) void next_off_set(rill_consumer *c, uint64_t off,
                                                              uint64_t sz) {
  uint64_t n = off + ((sz + RILL_CHUNK - 1) & ~(uint64_t)(RILL_CHUNK - 1));
  c->next_off = n < c->data_bytes ? n : 0;
}

/* rill_poll() itself, inlined into rill_recv() so that the view stays in
 * registers (through memory, the copy stalls on store forwarding). */
static inline __attribute__((always_inline)) int poll_one(rill_consumer *c,
                                                          rill_view *v) {
  /* The periodic flush carries the heartbeat.  It comes at the start of
   * a poll, before the look: the poll that counted it down has returned
   * its message first (docs/PROTOCOL.md 3.4). */
  if (__builtin_expect(c->flush_left == 0, 0)) {
    rill__cursor_flush(c, 1);
    c->flush_left = rill__jitter(&c->rng, c->flush_every);
  }
  const rill_desc *d = &c->meta[c->seq & c->mask];
  /* Acquire: pairs with the release store of seq in publish() (producer.c). */
  uint64_t s1 = atomic_load_explicit(&d->seq, memory_order_acquire);
  /* The payload's line, fetched beside the descriptor's: the message that
   * comes after a wait is usually placed where the last one ended
   * (docs/PROTOCOL.md 2.5), and a consumer that waits for the descriptor
   * before it asks for the payload pays two cache-line transfers in a row.
   * Only after a wait: a streaming consumer's payloads are read in order,
   * which the hardware prefetches, and fetching the line the producer is
   * about to write would only take it away from it.  A hint: a wrong guess
   * costs a useless fetch inside the data ring, never a wrong byte. */
  if (c->streak == 0) rill__prefetch(c->data + c->next_off);
  int64_t diff = (int64_t)(s1 - c->seq);
  if (diff != 0 && __builtin_expect(c->streak >= RILL_STREAM_STREAK, 0) && holdoff(c, d)) {
    s1 = c->seq; /* published while we waited */
    diff = 0;
  }
  if (diff != 0) {
    c->streak = 0;
    if (diff > 0) {
      c->flush_left--;
      return overrun(c, s1, v);
    }
    /* Nothing yet.  Idle is the time to tell the producer how far we got.
     * An empty poll counts one in RILL_IDLE_POLLS: a consumer spinning on
     * an idle channel heartbeats every few tens of microseconds, not
     * every few round trips of a busy one. */
    if (c->seq != c->seq_flushed) cursor_flush(c);
    if (--c->idle_left == 0) {
      c->idle_left = RILL_IDLE_POLLS;
      c->flush_left--;
    }
    return -RILL_EAGAIN;
  }
  c->flush_left--;
  c->streak++;
  uint64_t off;
  uint64_t s2 = desc_read(d, s1, v, &off);
  if (s2 != s1) return overrun(c, s2, v);
  c->seq++;
  if (view_place(c, v, off)) return -RILL_ECORRUPT;
  next_off_set(c, off, v->sz);
  if (__builtin_expect(c->lat_due, 0) && v->tspub) lat_sample(c, v->tspub);
  c->msgs++;
  c->bytes += v->sz;
  return 0;
}

int rill_poll(rill_consumer *c, rill_view *v) {
  if (!c || !v) return -RILL_EINVAL;
  return poll_one(c, v);
}

int rill_poll_many(rill_consumer *c, rill_view *v, size_t max) {
  if (!c || !v || !max) return -RILL_EINVAL;
  if (max > INT_MAX) max = INT_MAX;
  /* The first descriptor is an ordinary poll: it flushes the cursor when
   * due (releasing the views of the last call) and reports what it finds. */
  int rc = poll_one(c, v);
  if (rc) return rc;
  /* The rest are taken only while they are whole and in order, without
   * a flush: the cursor stays behind every view handed out, so a reliable
   * consumer's payloads stay put until the next call. */
  size_t k = 1;
  uint64_t bytes = 0, left = c->flush_left;
  for (; k < max; k++) {
    const rill_desc *d = &c->meta[c->seq & c->mask];
    /* Acquire: pairs with the release store of seq in publish_desc(). */
    uint64_t s1 = atomic_load_explicit(&d->seq, memory_order_acquire);
    if (s1 != c->seq) break;
    rill_view *w = &v[k];
    /* not whole, or outside the ring: the next call reports it */
    uint64_t off;
    if (desc_read(d, s1, w, &off) != s1 || view_place(c, w, off)) break;
    c->seq++;
    if (__builtin_expect(c->lat_due, 0) && w->tspub) lat_sample(c, w->tspub);
    bytes += w->sz;
  }
  if (k > 1) next_off_set(c, (uint64_t)((const uint8_t *)v[k - 1].data - c->data), v[k - 1].sz);
  c->msgs += k - 1;
  c->bytes += bytes;
  c->streak += k - 1;
  /* The polls of the burst count toward the next flush, which the next
   * call makes at its start (never one in this call: see above). */
  c->flush_left = left > k - 1 ? left - (k - 1) : 0;
  return (int)k;
}

/* rill_check() on a sequence number. */
static inline int check_seq(rill_consumer *c, uint64_t seq) {
  /* Acquire fence: our payload reads happen before the load of seq below;
   * pairs with the release fence in publish() (a producer that started to
   * overwrite the slot has stored its mark, seen here). */
  atomic_thread_fence(memory_order_acquire);
  uint64_t s = atomic_load_explicit(&c->meta[seq & c->mask].seq, memory_order_relaxed);
  if (s == seq) return 0;
  c->overrun_read++;
  return -RILL_EOVERRUN;
}

int rill_check(rill_consumer *c, const rill_view *v) {
  if (!c || !v) return -RILL_EINVAL;
  return check_seq(c, v->seq);
}

/* Copies a payload that a lossy consumer reads while the producer may be
 * overwriting it (the copy is validated afterwards by rill_check()).  Not
 * inlined, so that ThreadSanitizer can be told about this one benign race. */
__attribute__((noinline)) void rill__copy_racy(void *dst, const void *src, size_t n);
__attribute__((noinline)) void rill__copy_racy(void *dst, const void *src, size_t n) {
  memcpy(dst, src, n);
}

/* Copies a fragment's payload; 0 if the copy is good. */
static inline int copy_frag(rill_consumer *c, void *dst, const void *src,
                            uint32_t sz, uint64_t seq) {
  if (!c->lossy) {
    if (sz) memcpy(dst, src, sz); /* dst may be NULL when sz is 0 */
    return 0;
  }
  if (sz) rill__copy_racy(dst, src, sz);
  return check_seq(c, seq);
}

static void fill_meta(rill_meta *m, const rill_view *first, const rill_view *last,
                      uint64_t sz, uint64_t lost) {
  m->seq = first->seq;
  m->sig = first->sig;
  m->sz = sz;
  m->lost = lost;
  m->ctl = last->ctl;
  m->tsorig = first->tsorig;
  m->tspub = last->tspub;
}

/* Drops a partly gathered message: its fragments count as lost. */
static void asm_drop(rill_consumer *c) {
  c->lost_acc += c->asm_frags;
  c->asm_frags = 0;
  c->asm_len = 0;
}

/* rill_recv(), and with DATA rill_recv_view(): a whole message in one
 * fragment read by a reliable consumer is not copied but pointed at. */
static inline __attribute__((always_inline)) int64_t
recv_one(rill_consumer *c, void *buf, size_t cap, rill_meta *meta, const void **data) {
  if (data) *data = buf;
  if (c->pend) { /* a message too large for the last buffer */
    *meta = c->pend_meta;
    if (c->asm_len > cap) return -RILL_EMSGSIZE;
    memcpy(buf, c->asm_buf, c->asm_len);
    c->pend = 0;
    c->asm_len = 0;
    return (int64_t)meta->sz;
  }
  /* Bounded: a ring full of garbage (or of fragments that never complete)
   * makes us give up after two laps and say "nothing yet"; what was
   * skipped is reported as lost with the next message. */
  for (uint64_t budget = 2 * c->depth + 2; budget; budget--) {
    rill_view v;
    v.ctl = 0; /* for gcc, which cannot see that poll_one() sets it on 0 */
    int rc = poll_one(c, &v);
    if (rc) {
      if (rc == -RILL_EAGAIN) return rc;
      /* lapped (v.lost skipped) or a garbage descriptor (skipped): any
       * message being gathered is cut */
      c->lost_acc += rc == -RILL_EOVERRUN ? v.lost : 1;
      asm_drop(c);
      continue;
    }
    int som = (v.ctl & RILL_CTL_SOM) != 0, eom = (v.ctl & RILL_CTL_EOM) != 0;
    if (som && c->asm_frags) asm_drop(c); /* the previous message was cut */
    if (!som && !c->asm_frags) { c->lost_acc++; continue; } /* its start is gone */

    if (data && som && eom && !c->lossy) { /* in place: the producer does not
                                              * reuse it before we move on */
      *data = v.data;
      fill_meta(meta, &v, &v, v.sz, c->lost_acc);
      c->lost_acc = 0;
      return (int64_t)v.sz;
    }
    if (som && eom && v.sz <= cap) { /* a whole message that fits: the fast path */
      if (copy_frag(c, buf, v.data, v.sz, v.seq)) { c->lost_acc++; continue; }
      fill_meta(meta, &v, &v, v.sz, c->lost_acc);
      c->lost_acc = 0;
      return (int64_t)v.sz;
    }
    if (c->asm_len + v.sz > c->max_msg) { c->lost_acc++; asm_drop(c); continue; }
    if (!c->asm_buf && !(c->asm_buf = malloc(c->max_msg))) {
      c->seq--; /* leave the fragment for a later call (counted then) */
      c->msgs--;
      c->bytes -= v.sz;
      return -RILL_ENOMEM;
    }
    if (copy_frag(c, c->asm_buf + c->asm_len, v.data, v.sz, v.seq)) {
      c->lost_acc++;
      asm_drop(c);
      continue;
    }
    if (som) c->pend_meta.seq = v.seq, c->pend_meta.sig = v.sig,
             c->pend_meta.tsorig = v.tsorig;
    c->asm_len += v.sz;
    c->asm_frags++;
    if (!eom) continue;
    rill_view first = {.seq = c->pend_meta.seq, .sig = c->pend_meta.sig,
                       .tsorig = c->pend_meta.tsorig};
    fill_meta(meta, &first, &v, c->asm_len, c->lost_acc);
    c->lost_acc = 0;
    c->asm_frags = 0;
    if (c->asm_len > cap) {
      c->pend = 1;
      c->pend_meta = *meta;
      return -RILL_EMSGSIZE;
    }
    memcpy(buf, c->asm_buf, c->asm_len);
    c->asm_len = 0;
    return (int64_t)meta->sz;
  }
  return -RILL_EAGAIN;
}

int64_t rill_recv(rill_consumer *c, void *buf, size_t cap, rill_meta *meta) {
  if (!c || !meta || (!buf && cap)) return -RILL_EINVAL;
  return recv_one(c, buf, cap, meta, NULL);
}

int64_t rill_recv_view(rill_consumer *c, void *buf, size_t cap, rill_meta *meta,
                       const void **data) {
  if (!c || !meta || !data || (!buf && cap)) return -RILL_EINVAL;
  return recv_one(c, buf, cap, meta, data);
}

int rill_poll_spin(rill_consumer *c, rill_view *v, uint64_t timeout_ns) {
  int rc = rill_poll(c, v);
  if (rc != -RILL_EAGAIN || timeout_ns == 0) return rc;
  uint64_t deadline = rill__mono_ns() + timeout_ns;
  for (uint32_t i = 1;; i++) {
    rill__cpu_relax();
    rc = rill_poll(c, v);
    if (rc != -RILL_EAGAIN) return rc;
    if ((i & 1023) == 0 && rill__mono_ns() >= deadline) return -RILL_ETIMEDOUT;
  }
}

/* 1 if the slot of S holds S, with its ctl in *CTL (read between two
 * loads of seq, as a poll reads). */
static int slot_holds(const rill_consumer *c, uint64_t s, uint16_t *ctl) {
  const rill_desc *d = &c->meta[s & c->mask];
  /* Acquire: pairs with the release store of seq in publish() (producer.c). */
  if (atomic_load_explicit(&d->seq, memory_order_acquire) != s) return 0;
  *ctl = atomic_load_explicit(&d->ctl, memory_order_relaxed);
  /* Acquire fence: pairs with the release fence after the "being written"
   * mark in publish(), as in poll_one(). */
  atomic_thread_fence(memory_order_acquire);
  return atomic_load_explicit(&d->seq, memory_order_relaxed) == s;
}

int64_t rill_consumer_seek_last(rill_consumer *c, uint64_t n) {
  if (!c || !c->lossy) return -RILL_EINVAL;
  /* The newest end: from the producer's flushed seq (or ours, if ahead),
   * forward over what was published since; a slot that holds a later
   * sequence number (the flushed seq is a lap or more behind) is jumped
   * to.  Bounded: a producer that keeps publishing does not hold us. */
  uint64_t head = atomic_load_explicit(&c->prod->seq, memory_order_acquire);
  if ((int64_t)(c->seq - head) > 0) head = c->seq;
  uint16_t ctl;
  for (uint64_t i = 0; i < 2 * c->depth; i++) {
    /* Acquire: pairs with the release store of seq in publish(). */
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
    if ((int64_t)(t - c->seq0) < 0 || !slot_holds(c, t, &ctl)) break;
    s = t;
    if (ctl & RILL_CTL_SOM) found++;
  }
  c->seq = s;
  c->asm_frags = c->asm_len = 0; /* nothing half-gathered carries over */
  c->pend = 0;
  c->lost_acc = 0;
  return (int64_t)found;
}

int rill_consumer_flush(rill_consumer *c) {
  if (!c) return -RILL_EINVAL;
  rill__cursor_flush(c, 1);
  /* The SIGBUS guard replaced pages of our mappings: the file was shrunk. */
  return rill__cons_lost(c) ? -RILL_ETRUNC : 0;
}

int rill_consumer_set_spin(rill_consumer *c, uint64_t ns) {
  if (!c) return -RILL_EINVAL;
  c->spin_ns = ns;
  return 0;
}

int rill_consumer_set_holdoff(rill_consumer *c, uint64_t ns) {
  if (!c) return -RILL_EINVAL;
  c->holdoff_ns = ns > 1000000000u ? 1000000000u : ns; /* 1 s at most */
  return 0;
}

uint32_t rill_consumer_slot(const rill_consumer *c) { return c ? c->slot : 0; }

/* Takes the lock of SLOT; 0, -RILL_EBUSY (live consumer) or an error. */
static int slot_lock(rill_consumer *c, const rill_chan_info *ci, uint32_t slot) {
  c->lock_off = ci->off + ci->g.cursor_off + (uint64_t)slot * RILL_PAGE;
  return rill__lock_try(c->fd, c->lock_off);
}

/* Joins channel NAME: slot ANY (-1: the first free one, else the first
 * whose consumer died) or SLOT to resume it.  MODE 0 takes the slot's. */
static int join(rill_region *r, const char *name, int mode, int64_t want,
                rill_consumer **out) {
  if (!r || !out) return -RILL_EINVAL;
  if (r->readonly) return -RILL_EACCES; /* an observer's handle */
  rill_chan_info ci;
  int rc = rill__chan_find(r, name, &ci);
  if (rc) return rc;
  if (want >= (int64_t)ci.max_consumers) return -RILL_EINVAL;
  rill_consumer *c = calloc(1, sizeof *c);
  if (!c) return -RILL_ENOMEM;
  c->fd = -1;
  c->fifo_fd = -1;
  if ((rc = rill__file_reopen(r->fd, &c->fd))) goto fail;
  if ((rc = rill__file_mode(c->fd, &c->mode))) goto fail;
  const uint8_t *base = r->base + ci.off;
  uint32_t slot = 0;
  if (want >= 0) {
    slot = (uint32_t)want;
    const rill_cursor *k = (const rill_cursor *)(base + ci.g.cursor_off + (uint64_t)slot * RILL_PAGE);
    if ((rc = slot_lock(c, &ci, slot))) goto fail;
    if (!atomic_load_explicit(&k->gen, memory_order_acquire)) { rc = -RILL_ENOENT; goto fail_lock; }
    uint32_t m = atomic_load_explicit(&k->mode, memory_order_relaxed);
    if (m != RILL_RELIABLE && m != RILL_LOSSY) { rc = -RILL_ECORRUPT; goto fail_lock; }
    mode = (int)m;
  } else {
    /* Claim a slot: its lock is ours for as long as we live.  Free slots
     * first, so that a dead consumer's slot waits for it to rejoin. */
    for (int pass = 0; pass < 2; pass++) {
      for (slot = 0; slot < ci.max_consumers; slot++) {
        const rill_cursor *k = (const rill_cursor *)(base + ci.g.cursor_off + (uint64_t)slot * RILL_PAGE);
        if (pass == 0 && atomic_load_explicit(&k->state, memory_order_acquire) != RILL_CUR_FREE)
          continue;
        rc = slot_lock(c, &ci, slot);
        if (rc == 0) break;
        if (rc != -RILL_EBUSY) goto fail;
      }
      if (slot < ci.max_consumers) break;
    }
    if (slot == ci.max_consumers) { rc = -RILL_EFULL; goto fail; }
  }
  /* The producer's parts read-only; our own cursor page and the wait page
   * read-write. */
  void *map, *cur, *wait;
  if ((rc = rill__map(c->fd, ci.off, ci.size, 0, &map))) goto fail_lock;
  rill__map_fill(map, ci.g.meta_off); /* slot 0, should the guard detach it */
  c->map = map;
  c->map_size = ci.size;
  if ((rc = rill__map(c->fd, c->lock_off, RILL_PAGE, 1, &cur))) goto fail_map;
  c->cur = cur;
  if ((rc = rill__map(c->fd, ci.off + ci.g.wait_off, RILL_PAGE, 1, &wait))) goto fail_map;
  c->wait = wait;
  if ((rc = rill__fifo_path(c->fifo, sizeof c->fifo, r->dir, r->name, name, slot))) goto fail_map;
  c->slot = slot;
  c->prod = (const rill_prod_page *)(c->map + ci.g.prod_off);
  c->prod_lock_off = ci.off + ci.g.prod_off;
  c->meta = (const rill_desc *)(c->map + ci.g.meta_off);
  c->data = c->map + ci.g.data_off;
  c->data_bytes = ci.g.data_chunks << RILL_CHUNK_SHIFT;
  c->mask = ci.depth - 1;
  c->depth = ci.depth;
  c->mtu = ci.mtu;
  c->max_msg = ci.max_msg;
  c->seq0 = ci.seq0;
  c->lossy = mode == RILL_LOSSY;
  c->rng = rill__random();
  rill__clock_init(&c->clock);
  c->flush_every = ci.depth / 4 ? ci.depth / 4 : 1;
  c->flush_left = rill__jitter(&c->rng, c->flush_every);
  c->idle_left = RILL_IDLE_POLLS;
  c->holdoff_ns = RILL_HOLDOFF_DEFAULT_NS;
  c->spin_ns = RILL_SPIN_DEFAULT_NS;
  c->fence_flush = rill__heavy_barrier_register() != 0;

  rill_cursor *k = c->cur;
  uint64_t last = atomic_load_explicit(&k->seq, memory_order_relaxed);
  if (want < 0) {
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
  atomic_store_explicit(&k->pid, rill__pid(), memory_order_relaxed);
  atomic_store_explicit(&k->mode, (uint32_t)mode, memory_order_relaxed);
  atomic_store_explicit(&k->park, 0, memory_order_relaxed);
  uint32_t gen = atomic_load_explicit(&k->gen, memory_order_relaxed) + 1;
  gen = gen ? gen : 1;
  atomic_store_explicit(&k->gen, gen, memory_order_relaxed);
  /* This join samples latency from stamped messages only (0.4): the
   * producer need not stamp the others (credit_refresh(), producer.c). */
  atomic_store_explicit(&k->stamp_gen, gen, memory_order_relaxed);
  uint64_t prod_seq = atomic_load_explicit(&c->prod->seq, memory_order_seq_cst);
  if (want >= 0) {
    /* A rejoin resumes where it last flushed.  That may be ahead of the
     * producer's flushed seq, but not ahead of what it published: the slot
     * before it must hold that sequence number or a later one.  Otherwise
     * (garbage) it starts at the producer. */
    uint64_t before = atomic_load_explicit(&c->meta[(last - 1) & c->mask].seq, memory_order_acquire);
    c->seq = (int64_t)(prod_seq - last) >= 0 || (int64_t)(before - (last - 1)) >= 0 ? last : prod_seq;
  }
  if (want >= 0 && atomic_load_explicit(&k->state, memory_order_acquire) == RILL_CUR_ACTIVE) {
    /* The slot of a consumer that died: the producer has counted its
     * cursor all along, so it takes over in place (going through JOINING
     * would let the producer count it at its own position meanwhile). */
    if (c->seq != last) atomic_store_explicit(&k->seq, c->seq, memory_order_release);
  } else {
    /* Sequentially consistent with prod_flush() (producer.c): see there. */
    atomic_store_explicit(&k->state, RILL_CUR_JOINING, memory_order_seq_cst);
    uint64_t s = atomic_load_explicit(&c->prod->seq, memory_order_seq_cst);
    if (want < 0) c->seq = s;
    atomic_store_explicit(&k->seq, c->seq, memory_order_relaxed);
    /* Release: pairs with the seq_cst (acquire) load of the state in
     * credit_refresh(); the seq stored above is seen with ACTIVE. */
    atomic_store_explicit(&k->state, RILL_CUR_ACTIVE, memory_order_release);
  }
  atomic_store_explicit(&k->hb_ns, rill__mono_ns(), memory_order_relaxed);
  c->seq_flushed = c->seq;
  /* Release: pairs with the acquire load of cr_wake in
   * rill_producer_wait_consumers() (wait.c), taken before it counts the
   * active slots: it sees our ACTIVE, or the word moved and it wakes. */
  atomic_fetch_add_explicit(&c->wait->cr_wake, 1, memory_order_release);
  rill__unpark(&c->wait->cr_wake);
  *out = c;
  return 0;
fail_map:
  rill__unmap((void *)c->map, c->map_size);
  rill__unmap(c->cur, RILL_PAGE);
  rill__unmap(c->wait, RILL_PAGE);
fail_lock:
  rill__lock_release(c->fd, c->lock_off);
fail:
  rill__file_close(c->fd);
  free(c);
  return rc;
}

int rill_consumer_join(rill_region *r, const char *name, int mode,
                       rill_consumer **out) {
  if (mode != RILL_RELIABLE && mode != RILL_LOSSY) return -RILL_EINVAL;
  return join(r, name, mode, -1, out);
}

int rill_consumer_rejoin(rill_region *r, const char *name, uint32_t slot,
                         rill_consumer **out) {
  return join(r, name, 0, (int64_t)slot, out);
}

int rill_consumer_leave(rill_consumer *c) {
  if (!c) return 0;
  rill__cursor_flush(c, 1);
  atomic_store_explicit(&c->cur->park, 0, memory_order_relaxed);
  /* Release: pairs with the state load in credit_refresh(); the producer
   * stops counting this slot. */
  atomic_store_explicit(&c->cur->state, RILL_CUR_FREE, memory_order_release);
  if (!c->lossy) credit_wake(c); /* our slot no longer holds it back */
  rill__file_close(c->fifo_fd);
  rill__unmap((void *)c->map, c->map_size);
  rill__unmap(c->cur, RILL_PAGE);
  rill__unmap(c->wait, RILL_PAGE);
  rill__lock_release(c->fd, c->lock_off);
  rill__file_close(c->fd);
  free(c->asm_buf);
  free(c);
  return 0;
}
