/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* The producer: publishes descriptors and payloads; credit-based flow control
 * against reliable consumers.  The data path is the core's (core/producer.h,
 * inlined here); this file adds what needs the operating system: the lock
 * and the mapping, the clock, the heartbeat, eviction of dead consumers and
 * the wake-up path (wait.c). */
#include "internal.h"

#include "core/producer.h"

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

/* Writes position, counters and heartbeat to the producer page (a flush,
 * docs/PROTOCOL.md §2.2): librill's counters and the heartbeat, then the
 * core's counters and seq. */
static void prod_flush(rill_producer *p) {
  rill_prod_page *pp = p->core.prod;
  atomic_store_explicit(&pp->evictions, p->evictions, memory_order_relaxed);
  atomic_store_explicit(&pp->wakes, p->wakes, memory_order_relaxed);
  atomic_store_explicit(&pp->hb_ns, rill__mono_ns(), memory_order_relaxed);
  rill_core__prod_flush(&p->core);
}

/* Recomputes credits from the reliable consumers' cursors: a flush with
 * heartbeat, then the core's scan.  Runs only when credits ran out (at
 * most once per depth publishes when nobody lags). */
static void credit_refresh(rill_producer *p) {
  prod_flush(p);
  rill_core__credit_scan(&p->core);
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
  rill_core_producer *k = &p->core;
  for (uint32_t i = 0; i < k->max_consumers; i++) {
    rill_cursor *c = rill__cursor_at(k->cursors, i);
    struct rill_prod_slot *ps = &p->slots[i];
    /* Acquire: pairs with the release stores of the state at join and
     * leave (core/consumer.h). */
    uint32_t st = atomic_load_explicit(&c->state, memory_order_acquire);
    if (st == RILL_CUR_FREE || atomic_load_explicit(&c->mode, memory_order_relaxed) != RILL_RELIABLE)
      continue;
    uint32_t gen = atomic_load_explicit(&c->gen, memory_order_relaxed);
    if (gen == atomic_load_explicit(&k->prod->evicted[i], memory_order_relaxed)) continue;
    /* Where the refresh counts it: a joiner that died holds us back too. */
    uint64_t s = rill_core__slot_pos(k, i, st, c);
    /* Not holding us back: it leaves the credit a whole send needs. */
    if ((int64_t)(s + k->depth - k->seq) >= (int64_t)need) continue;
    if (rill__lock_held(p->fd, p->cursor_lock_off + (uint64_t)i * RILL_PAGE) != 0) {
      ps->dead_since = 0; /* alive (or cannot tell: never evict then) */
      continue;
    }
    if (!ps->dead_since || ps->dead_gen != gen) {
      ps->dead_since = now;
      ps->dead_gen = gen;
    }
    if (now - ps->dead_since < p->evict_ns) continue;
    atomic_store_explicit(&k->prod->evicted[i], gen, memory_order_relaxed);
    p->evictions++;
    ps->dead_since = 0;
    evicted = 1;
  }
  return evicted;
}

/* 1 if NEED descriptors may be published now, else counts backpressure. */
static int credit_get(rill_producer *p, uint64_t need) {
  credit_refresh(p);
  if (p->core.cr_avail >= need) return 1;
  if (evict_dead(p, need)) {
    credit_refresh(p);
    if (p->core.cr_avail >= need) return 1;
  }
  if (!p->in_wait) rill_core__backpressure(&p->core); /* a wait counts once, at its first try */
  return 0;
}

static void housekeeping(rill_producer *p) {
  prod_flush(p);
  p->hk_left = rill__jitter(&p->rng, RILL_PROD_HK_INTERVAL);
}

/* ---- the core's hooks (core/producer.h) ---------------------------------- */

/* The tick-counter clock for a stamp. */
static inline uint64_t rill_core__now(rill_core_producer *p) {
  return rill__clock_ns(&rill__prod_of(p)->clock);
}

static inline int rill_core__credit_slow(rill_core_producer *p, uint64_t need) {
  return credit_get(rill__prod_of(p), need);
}

/* After N descriptors: housekeeping and the wake-up check, once for them
 * all. */
static inline void rill_core__published(rill_core_producer *k, uint64_t n) {
  rill_producer *p = rill__prod_of(k);
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

/* ---- the API --------------------------------------------------------------- */

int rill_reserve(rill_producer *p, size_t n, void **buf) {
  if (!p || !buf) return -RILL_EINVAL;
  return rill_core__reserve(&p->core, n, buf);
}

int rill_commit_ts(rill_producer *p, size_t n, uint64_t sig, uint16_t ctl,
                   uint32_t tsorig) {
  if (!p) return -RILL_EINVAL;
  return rill_core__commit_at(&p->core, 0, n, sig, ctl, tsorig);
}

int rill_commit_at(rill_producer *p, const void *at, size_t n, uint64_t sig, uint16_t ctl) {
  uint64_t skip;
  if (!p || rill_core__commit_skip(&p->core, at, &skip)) return -RILL_EINVAL;
  return rill_core__commit_at(&p->core, skip, n, sig, ctl, 0);
}

int rill_commit(rill_producer *p, size_t n, uint64_t sig, uint16_t ctl) {
  return rill_commit_ts(p, n, sig, ctl, 0);
}

int rill__send_ctl(rill_producer *p, const void *data, size_t n, uint64_t sig, uint16_t uctl) {
  if (!p || (!data && n)) return -RILL_EINVAL;
  return rill_core__send(&p->core, data, n, sig, uctl);
}

int rill_send(rill_producer *p, const void *data, size_t n, uint64_t sig) {
  return rill__send_ctl(p, data, n, sig, 0);
}

int rill_send_many(rill_producer *p, const rill_msg *m, size_t count) {
  if (!p || !m) return -RILL_EINVAL;
  return rill_core__send_many(&p->core, m, count);
}

int rill_reserve_many(rill_producer *p, size_t count, size_t n, void **bufs) {
  if (!p || !bufs) return -RILL_EINVAL;
  return rill_core__reserve_many(&p->core, count, n, bufs);
}

int rill_commit_many(rill_producer *p, const rill_msg *m, size_t count) {
  if (!p || !m) return -RILL_EINVAL;
  return rill_core__commit_many(&p->core, m, count);
}

int rill_producer_set_stamp(rill_producer *p, uint32_t mode) {
  if (!p || mode > RILL_STAMP_EVERY) return -RILL_EINVAL;
  rill_core__set_stamp(&p->core, mode);
  return 0;
}

void rill__producer_flush_counts(rill_producer *p) {
  rill_prod_page *pp = p->core.prod;
  atomic_store_explicit(&pp->msgs, p->core.msgs, memory_order_relaxed);
  atomic_store_explicit(&pp->bytes, p->core.bytes, memory_order_relaxed);
}

int rill_producer_flush(rill_producer *p) {
  if (!p) return -RILL_EINVAL;
  prod_flush(p);
  /* The SIGBUS guard replaced pages of our mapping: the file was shrunk. */
  return rill__map_lost(p->map) ? -RILL_ETRUNC : 0;
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
  p->cursor_lock_off = ci.off + ci.g.cursor_off;
  if (!(p->slots = calloc(ci.max_consumers, sizeof *p->slots))) { rc = -RILL_ENOMEM; goto fail_map; }
  for (uint32_t i = 0; i < ci.max_consumers; i++) p->slots[i].fifo_fd = -1;
  snprintf(p->region, sizeof p->region, "%s", r->name);
  snprintf(p->chan, sizeof p->chan, "%s", name);
  snprintf(p->dir, sizeof p->dir, "%s", r->dir);
  p->spin_ns = RILL_SPIN_DEFAULT_NS;
  p->evict_ns = RILL_EVICT_DEFAULT_NS;
  p->rng = rill__random();
  /* The channel's pointers, the counters, the resumed sequence: the
   * core's (docs/PROTOCOL.md §3.6). */
  rill_core__prod_init(&p->core, p->map, &ci);
  rill_prod_page *pp = p->core.prod;
  p->evictions = atomic_load_explicit(&pp->evictions, memory_order_relaxed);
  p->wakes = atomic_load_explicit(&pp->wakes, memory_order_relaxed);
  p->arm_gen = &p->core.wait->arm_gen;
  /* How the store-load order after each publish is kept (§3.7, §3.7a):
   * by the consumers' heavy barriers (ASYM); by a fence of ours only once
   * a consumer that sleeps asks (LAZY: where there is no heavy barrier
   * and no consumer older than the rule can exist, or for tests); or by
   * a fence after every publish. */
  uint32_t flags = 0;
  p->fence_req = &p->core.wait->fence_req;
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
  rill__clock_init(&p->clock);
  p->hk_left = rill__jitter(&p->rng, RILL_PROD_HK_INTERVAL);
  rill_core__prod_start(&p->core, rill__pid(), flags);
  prod_flush(p);
  /* The first publish looks at every slot: consumers may have parked or
   * armed before we came. */
  p->arm_seen = atomic_load_explicit(p->arm_gen, memory_order_acquire) - 1;
  /* Consumers parked under an earlier producer look again (at our flags
   * and state): the core's release bump of wake, then the futex. */
  rill_core__prod_wake(&p->core);
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
  /* The channel is closed (the core's release store of state, which a
   * waiting consumer's acquire load pairs with), then every sleeper is
   * woken. */
  rill_core__prod_close(&p->core);
  rill__wake_consumers(p, atomic_load_explicit(p->arm_gen, memory_order_acquire), 1);
  for (uint32_t i = 0; i < p->core.max_consumers; i++) rill__file_close(p->slots[i].fifo_fd);
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

uint64_t rill_producer_seq(const rill_producer *p) { return p ? p->core.seq : 0; }
