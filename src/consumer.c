/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* Consumers: poll descriptors by sequence number, validate, reassemble.
 * The data path is the core's (core/consumer.h, inlined here); this file
 * adds what needs the operating system: the lock and the mappings, the
 * heartbeat and latency samples, the hold-off, the wake-up of a producer
 * waiting for credit, the reassembly buffer from the heap. */
#include "internal.h"

#include "core/consumer.h"

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
  if (atomic_load_explicit(&c->core.prod->cr_wait, memory_order_relaxed)) {
    /* Release: pairs with the acquire load of cr_wake in the producer's
     * wait (wait.c), taken before it parks on the word. */
    atomic_fetch_add_explicit(&c->core.wait->cr_wake, 1, memory_order_release);
    rill__unpark(&c->core.wait->cr_wake);
  }
}

void rill__cursor_flush(rill_consumer *c, int hb) {
  if (hb) {
    uint64_t now = rill__mono_ns();
    atomic_store_explicit(&c->core.cur->hb_ns, now, memory_order_relaxed);
    /* A latency sample at the next stamped message.  Ask the producer to
     * stamp one (docs/PROTOCOL.md §2.4), at most once a millisecond: the
     * bump costs the producer a cache miss on its next publish, and a
     * consumer spinning on a busy channel heartbeats every few
     * microseconds, where the stamps every 64 sequence numbers serve.
     * Relaxed: a stamp is valid whenever the producer sees the request. */
    if (now - c->stamp_asked_ns >= RILL_STAMP_ASK_NS) {
      atomic_fetch_add_explicit(&c->core.wait->stamp_req, 1, memory_order_relaxed);
      c->stamp_asked_ns = now;
    }
    c->core.lat_due = 1;
  }
  /* The counters and the position (release), the core's part; by hand,
   * no further than what was committed. */
  uint64_t s = rill_core__cursor_pos(&c->core);
  if (c->manual && (int64_t)(s - c->committed) > 0) s = c->committed;
  rill_core__cursor_store_at(&c->core, s);
  if (!c->core.lossy) credit_wake(c); /* lossy cursors give no credit */
}

/* Records the publish-to-consume latency of a message just consumed: one
 * clock read per heartbeat flush, never per message.  The difference is
 * taken modulo 2^32 like the stamps; one past 2^31 means the producer's
 * stamp ran ahead of our clock (its tick-counter estimate) and counts as 0.
 * Our cursor page has one writer, us: plain load and store suffice. */
static __attribute__((noinline, cold)) void lat_sample(rill_consumer *c, uint32_t tspub) {
  c->core.lat_due = 0;
  /* The tick-counter clock the producer stamps with: a third of the cost
   * of a system clock reading, on the path of the message it samples. */
  uint32_t d = (uint32_t)rill__clock_ns(&c->clock) - tspub;
  if ((int32_t)d < 0) d = 0;
  rill_cursor *k = c->core.cur;
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
  c->core.streak = 0;
  if (!c->holdoff_ns) return 0;
  uint64_t end = rill__mono_ns() + c->holdoff_ns;
  while (rill__mono_ns() < end) rill__cpu_relax();
  /* Acquire: pairs with the release store of seq in
   * rill_core__publish_desc() (core/producer.h). */
  return atomic_load_explicit(&d->seq, memory_order_acquire) == c->core.seq;
}

/* ---- the core's hooks (core/consumer.h) ---------------------------------- */

static inline void rill_core__flush(rill_core_consumer *c, int hb) {
  rill__cursor_flush(rill__cons_of(c), hb);
}

static inline int rill_core__holdoff(rill_core_consumer *c, const rill_desc *d) {
  return holdoff(rill__cons_of(c), d);
}

static inline void rill_core__lat(rill_core_consumer *c, uint32_t tspub) {
  lat_sample(rill__cons_of(c), tspub);
}

static inline uint8_t *rill_core__asm_alloc(rill_core_consumer *c) {
  return c->asm_buf = malloc(c->max_msg);
}

/* ---- the API --------------------------------------------------------------- */

int rill_poll(rill_consumer *c, rill_view *v) {
  if (!c || !v) return -RILL_EINVAL;
  return rill_core__poll_one(&c->core, v);
}

int rill_poll_many(rill_consumer *c, rill_view *v, size_t max) {
  if (!c || !v || !max) return -RILL_EINVAL;
  if (max > INT_MAX) max = INT_MAX;
  return rill_core__poll_many(&c->core, v, max);
}

int rill_check(rill_consumer *c, const rill_view *v) {
  if (!c || !v) return -RILL_EINVAL;
  return rill_core__check_seq(&c->core, v->seq);
}

int64_t rill_recv(rill_consumer *c, void *buf, size_t cap, rill_meta *meta) {
  if (!c || !meta || (!buf && cap)) return -RILL_EINVAL;
  return rill_core__recv_one(&c->core, buf, cap, meta, NULL);
}

int64_t rill_recv_view(rill_consumer *c, void *buf, size_t cap, rill_meta *meta,
                       const void **data) {
  if (!c || !meta || !data || (!buf && cap)) return -RILL_EINVAL;
  return rill_core__recv_one(&c->core, buf, cap, meta, data);
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

int64_t rill_consumer_seek_last(rill_consumer *c, uint64_t n) {
  if (!c || !c->core.lossy) return -RILL_EINVAL;
  return rill_core__seek_last(&c->core, n);
}

int rill_consumer_flush(rill_consumer *c) {
  if (!c) return -RILL_EINVAL;
  rill__cursor_flush(c, 1);
  /* The SIGBUS guard replaced pages of our mappings: the file was shrunk. */
  return rill__cons_lost(c) ? -RILL_ETRUNC : 0;
}

int rill_consumer_set_commit(rill_consumer *c, int manual) {
  if (!c || (manual != 0 && manual != 1)) return -RILL_EINVAL;
  /* What was read before the switch counts as committed. */
  if (manual && !c->manual) c->committed = rill_core__cursor_pos(&c->core);
  c->manual = manual;
  return 0;
}

int rill_consumer_commit(rill_consumer *c, uint64_t seq) {
  if (!c || !c->manual) return -RILL_EINVAL;
  /* Wrap-safe: never past what was read, never back. */
  if ((int64_t)(seq - rill_core__cursor_pos(&c->core)) > 0 || (int64_t)(seq - c->committed) < 0)
    return -RILL_EINVAL;
  c->committed = seq;
  rill__cursor_flush(c, 0);
  return rill__cons_lost(c) ? -RILL_ETRUNC : 0;
}

uint64_t rill_consumer_seq(const rill_consumer *c) { return c ? c->core.seq : 0; }

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

uint32_t rill_consumer_slot(const rill_consumer *c) { return c ? c->core.slot : 0; }

/* Takes the lock of SLOT; 0, -RILL_EBUSY (live consumer) or an error. */
static int slot_lock(rill_consumer *c, const rill_chan_info *ci, uint32_t slot) {
  c->lock_off = ci->off + ci->g.cursor_off + (uint64_t)slot * RILL_PAGE;
  return rill__lock_try(c->fd, c->lock_off);
}

/* Joins channel NAME: slot ANY (-1: the first free one, else the first
 * whose consumer died) or SLOT to resume it.  MODE 0 takes the slot's.
 * AT_CURSOR: a rejoin resumes at the slot's cursor even where the producer
 * may not have counted the slot (RILL_CORE__REJOIN_AT_CURSOR). */
static int join(rill_region *r, const char *name, int mode, int64_t want, int at_cursor,
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
  c->core.cur = cur;
  if ((rc = rill__map(c->fd, ci.off + ci.g.wait_off, RILL_PAGE, 1, &wait))) goto fail_map;
  c->core.wait = wait;
  if ((rc = rill__fifo_path(c->fifo, sizeof c->fifo, r->dir, r->name, name, slot))) goto fail_map;
  c->prod_lock_off = ci.off + ci.g.prod_off;
  rill_core__cons_init(&c->core, c->map, cur, wait, &ci, slot, mode, rill__random());
  rill__clock_init(&c->clock);
  c->holdoff_ns = RILL_HOLDOFF_DEFAULT_NS;
  c->spin_ns = RILL_SPIN_DEFAULT_NS;
  c->fence_flush = rill__heavy_barrier_register() != 0;
  /* The cursor's join stores (docs/PROTOCOL.md §3.4), the heartbeat, then
   * the bump of cr_wake (the core's, release) and the futex wake-up. */
  rill_core__cursor_join(&c->core,
                         want < 0    ? RILL_CORE__JOIN
                         : at_cursor ? RILL_CORE__REJOIN_AT_CURSOR
                                     : RILL_CORE__REJOIN,
                         (uint32_t)mode, rill__pid());
  atomic_store_explicit(&c->core.cur->hb_ns, rill__mono_ns(), memory_order_relaxed);
  rill_core__cursor_joined(&c->core);
  rill__unpark(&c->core.wait->cr_wake);
  *out = c;
  return 0;
fail_map:
  rill__unmap((void *)c->map, c->map_size);
  rill__unmap(c->core.cur, RILL_PAGE);
  rill__unmap(c->core.wait, RILL_PAGE);
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
  return join(r, name, mode, -1, 0, out);
}

int rill_consumer_rejoin(rill_region *r, const char *name, uint32_t slot,
                         rill_consumer **out) {
  return join(r, name, 0, (int64_t)slot, 0, out);
}

int rill__consumer_rejoin_at_cursor(rill_region *r, const char *name, uint32_t slot,
                                    rill_consumer **out) {
  return join(r, name, 0, (int64_t)slot, 1, out);
}

int rill_consumer_leave(rill_consumer *c) {
  if (!c) return 0;
  rill__cursor_flush(c, 1);
  /* park 0, then the slot is free (release, the core's) */
  rill_core__cursor_leave(&c->core);
  if (!c->core.lossy) credit_wake(c); /* our slot no longer holds it back */
  rill__file_close(c->fifo_fd);
  rill__unmap((void *)c->map, c->map_size);
  rill__unmap(c->core.cur, RILL_PAGE);
  rill__unmap(c->core.wait, RILL_PAGE);
  rill__lock_release(c->fd, c->lock_off);
  rill__file_close(c->fd);
  free(c->core.asm_buf);
  free(c);
  return 0;
}
