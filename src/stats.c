/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* Metrics snapshot: reads counters any endpoint flushed, from any process. */
#include "internal.h"

#include <string.h>

_Static_assert(RILL_LATENCY_BUCKETS == RILL_LAT_BUCKETS, "latency buckets");

/* Where consumer slot I's cursor page starts in the region file (its
 * first byte is the slot's lock byte). */
static uint64_t cursor_off(const rill_chan_info *ci, uint32_t i) {
  return ci->off + ci->g.cursor_off + (uint64_t)i * RILL_PAGE;
}

/* Every reading goes through rill__region_read_stable(): a private copy
 * made with pread, never the mapping, so an observer survives a file that
 * someone shrinks under it (-RILL_ETRUNC), and a read-only handle, which
 * maps nothing, works the same. */

/* The producer page's first two lines: position, state, counters. */
#define PROD_HEAD_BYTES offsetof(rill_prod_page, evicted)
/* A cursor page's first two lines: position, state, counters. */
#define CUR_HEAD_BYTES offsetof(rill_cursor, lat_sum)

int rill_channel_stats_get(rill_region *r, const char *name, rill_channel_stats *st) {
  if (!st) return -RILL_EINVAL;
  rill_chan_info ci;
  int rc = rill__chan_find(r, name, &ci);
  if (rc) return rc;
  rill_prod_page pp;
  if ((rc = rill__region_read_stable(r, ci.off + ci.g.prod_off, &pp, PROD_HEAD_BYTES)))
    return rc;
  memset(st, 0, sizeof *st);
  st->depth = ci.depth;
  st->mtu = ci.mtu;
  st->max_consumers = ci.max_consumers;
  st->max_msg = ci.max_msg;
  st->off = ci.off;
  st->size = ci.size;
  st->meta_off = ci.g.meta_off;
  st->data_off = ci.g.data_off;
  st->data_chunks = ci.g.data_chunks;
  st->seq0 = ci.seq0;
  st->created_ns = ci.created_ns;
  /* Relaxed loads of our private copy: the copy itself is the reading. */
  st->seq = atomic_load_explicit(&pp.seq, memory_order_relaxed);
  st->msgs = atomic_load_explicit(&pp.msgs, memory_order_relaxed);
  st->bytes = atomic_load_explicit(&pp.bytes, memory_order_relaxed);
  st->backpressure = atomic_load_explicit(&pp.backpressure, memory_order_relaxed);
  st->producer_joined = atomic_load_explicit(&pp.state, memory_order_relaxed) == RILL_PROD_JOINED;
  st->producer_liveness = rill__liveness(r->fd, ci.off + ci.g.prod_off, st->producer_joined);
  st->producer_pid = atomic_load_explicit(&pp.pid, memory_order_relaxed);
  st->producer_heartbeat_ns = atomic_load_explicit(&pp.hb_ns, memory_order_relaxed);
  st->evictions = atomic_load_explicit(&pp.evictions, memory_order_relaxed);
  st->wakes = atomic_load_explicit(&pp.wakes, memory_order_relaxed);
  st->producer_gen = atomic_load_explicit(&pp.gen, memory_order_relaxed);
  for (uint32_t i = 0; i < ci.max_consumers; i++) {
    _Atomic uint32_t state;
    if ((rc = rill__region_read(r, cursor_off(&ci, i), &state, sizeof state))) return rc;
    st->nconsumers += atomic_load_explicit(&state, memory_order_relaxed) == RILL_CUR_ACTIVE;
  }
  return 0;
}

/* Channel NAME of R into *CI, if it has consumer slot SLOT (-RILL_EINVAL
 * if not). */
static int slot_find(rill_region *r, const char *name, uint32_t slot, rill_chan_info *ci) {
  int rc = rill__chan_find(r, name, ci);
  if (rc) return rc;
  return slot < ci->max_consumers ? 0 : -RILL_EINVAL;
}

int rill_consumer_stats_get(rill_region *r, const char *name, uint32_t slot,
                            rill_consumer_stats *cs) {
  if (!cs) return -RILL_EINVAL;
  rill_chan_info ci;
  int rc = slot_find(r, name, slot, &ci);
  if (rc) return rc;
  /* A copy that agrees with the one before it (rill__region_read_stable(),
   * region.c): seeing ACTIVE in it, we see the cursor stored before the
   * release store of ACTIVE when the consumer joined (consumer.c). */
  rill_cursor k;
  if ((rc = rill__region_read_stable(r, cursor_off(&ci, slot), &k, CUR_HEAD_BYTES))) return rc;
  memset(cs, 0, sizeof *cs);
  cs->slot = slot;
  if (atomic_load_explicit(&k.state, memory_order_relaxed) != RILL_CUR_ACTIVE) return 0;
  _Atomic uint64_t pseq;
  _Atomic uint32_t evicted;
  if ((rc = rill__region_read(r, ci.off + ci.g.prod_off + offsetof(rill_prod_page, seq),
                              &pseq, sizeof pseq)) ||
      (rc = rill__region_read(r, ci.off + ci.g.prod_off + offsetof(rill_prod_page, evicted) +
                                     (uint64_t)slot * sizeof evicted,
                              &evicted, sizeof evicted)))
    return rc;
  uint64_t prod_seq = atomic_load_explicit(&pseq, memory_order_relaxed);
  cs->liveness = rill__liveness(r->fd, cursor_off(&ci, slot), 1);
  uint32_t gen = atomic_load_explicit(&k.gen, memory_order_relaxed);
  cs->evicted = gen && gen == atomic_load_explicit(&evicted, memory_order_relaxed);
  cs->parked = atomic_load_explicit(&k.park, memory_order_relaxed) != 0;
  cs->pid = atomic_load_explicit(&k.pid, memory_order_relaxed);
  cs->heartbeat_ns = atomic_load_explicit(&k.hb_ns, memory_order_relaxed);
  cs->mode = atomic_load_explicit(&k.mode, memory_order_relaxed);
  cs->seq = atomic_load_explicit(&k.seq, memory_order_relaxed);
  cs->lag = (int64_t)(prod_seq - cs->seq) > 0 ? prod_seq - cs->seq : 0;
  cs->msgs = atomic_load_explicit(&k.msgs, memory_order_relaxed);
  cs->bytes = atomic_load_explicit(&k.bytes, memory_order_relaxed);
  cs->overrun_poll = atomic_load_explicit(&k.overrun_poll, memory_order_relaxed);
  cs->overrun_read = atomic_load_explicit(&k.overrun_read, memory_order_relaxed);
  cs->lost = atomic_load_explicit(&k.lost, memory_order_relaxed);
  return 0;
}

int rill_latency_get(rill_region *r, const char *name, uint32_t slot, rill_latency *h) {
  if (!h) return -RILL_EINVAL;
  rill_chan_info ci;
  int rc = slot_find(r, name, slot, &ci);
  if (rc) return rc;
  /* Counters written by their consumer alone; a snapshot taken while it
   * writes may be off by the sample in flight. */
  rill_cursor k;
  size_t from = offsetof(rill_cursor, lat_sum);
  if ((rc = rill__region_read_stable(r, cursor_off(&ci, slot) + from, (uint8_t *)&k + from,
                                     sizeof k - from)))
    return rc;
  h->count = 0;
  h->sum_ns = atomic_load_explicit(&k.lat_sum, memory_order_relaxed);
  for (uint32_t i = 0; i < RILL_LAT_BUCKETS; i++) {
    h->buckets[i] = atomic_load_explicit(&k.lat[i], memory_order_relaxed);
    h->count += h->buckets[i];
  }
  return 0;
}

uint64_t rill_latency_bucket_ns(uint32_t i) {
  if (i < 4) return i;
  if (i >= 124) return 1ull << 32; /* past the last bucket */
  uint32_t e = i / 4 + 1, m = i % 4;
  return (uint64_t)(4 + m) << (e - 2);
}

uint64_t rill_latency_quantile(const rill_latency *h, double q) {
  if (!h || !h->count || !(q >= 0)) return 0;
  if (q > 1) q = 1;
  /* The rank-th smallest sample (1-based), found in its bucket and placed
   * linearly between the bucket's bounds. */
  double rank = q * (double)h->count;
  if (rank < 1) rank = 1;
  uint64_t below = 0;
  for (uint32_t i = 0; i < RILL_LATENCY_BUCKETS; i++) {
    uint64_t n = h->buckets[i];
    if (!n || (double)(below + n) < rank) { below += n; continue; }
    if (i >= 120) break; /* samples stay below 2^31, bucket 119: garbage */
    uint64_t lo = rill_latency_bucket_ns(i), hi = rill_latency_bucket_ns(i + 1);
    double f = (rank - (double)below) / (double)n; /* in (0, 1] */
    return lo + (uint64_t)(f * (double)(hi - lo - 1) + 0.5);
  }
  return rill_latency_bucket_ns(RILL_LATENCY_BUCKETS);
}

uint32_t rill__liveness(int fd, uint64_t off, int joined) {
  if (!joined) return RILL_PEER_NONE;
  int held = rill__lock_held(fd, off);
  if (held < 0) return RILL_PEER_UNKNOWN;
  return held ? RILL_PEER_ALIVE : RILL_PEER_DEAD;
}
