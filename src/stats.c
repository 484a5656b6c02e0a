/* Metrics snapshot: reads counters any endpoint flushed, from any process. */
#include "internal.h"

#include <string.h>

int rill_channel_stats_get(rill_region *r, const char *name, rill_channel_stats *st) {
  if (!st) return -RILL_EINVAL;
  rill_chan_info ci;
  int rc = rill__chan_find(r, name, &ci);
  if (rc) return rc;
  memset(st, 0, sizeof *st);
  const uint8_t *base = r->base + ci.off;
  const rill_prod_page *pp = (const rill_prod_page *)(base + ci.g.prod_off);
  st->depth = ci.depth;
  st->mtu = ci.mtu;
  st->max_consumers = ci.max_consumers;
  st->max_msg = ci.max_msg;
  st->seq = atomic_load_explicit(&pp->seq, memory_order_acquire);
  st->msgs = atomic_load_explicit(&pp->msgs, memory_order_relaxed);
  st->bytes = atomic_load_explicit(&pp->bytes, memory_order_relaxed);
  st->backpressure = atomic_load_explicit(&pp->backpressure, memory_order_relaxed);
  st->producer_joined = atomic_load_explicit(&pp->state, memory_order_relaxed) == RILL_PROD_JOINED;
  st->producer_liveness = rill__liveness(r->fd, ci.off + ci.g.prod_off, st->producer_joined);
  st->producer_pid = atomic_load_explicit(&pp->pid, memory_order_relaxed);
  st->producer_heartbeat_ns = atomic_load_explicit(&pp->hb_ns, memory_order_relaxed);
  st->evictions = atomic_load_explicit(&pp->evictions, memory_order_relaxed);
  st->wakes = atomic_load_explicit(&pp->wakes, memory_order_relaxed);
  for (uint32_t i = 0; i < ci.max_consumers; i++) {
    const rill_cursor *k = (const rill_cursor *)(base + ci.g.cursor_off + (uint64_t)i * RILL_PAGE);
    rill_consumer_stats *cs = &st->consumers[i];
    cs->slot = i;
    uint32_t state = atomic_load_explicit(&k->state, memory_order_acquire);
    if (state != RILL_CUR_ACTIVE) continue;
    uint64_t lock_off = ci.off + ci.g.cursor_off + (uint64_t)i * RILL_PAGE;
    cs->liveness = rill__liveness(r->fd, lock_off, 1);
    uint32_t gen = atomic_load_explicit(&k->gen, memory_order_relaxed);
    cs->evicted = gen && gen == atomic_load_explicit(&pp->evicted[i], memory_order_relaxed);
    cs->parked = atomic_load_explicit(&k->park, memory_order_relaxed) != 0;
    cs->pid = atomic_load_explicit(&k->pid, memory_order_relaxed);
    cs->heartbeat_ns = atomic_load_explicit(&k->hb_ns, memory_order_relaxed);
    st->nconsumers++;
    cs->mode = atomic_load_explicit(&k->mode, memory_order_relaxed);
    cs->seq = atomic_load_explicit(&k->seq, memory_order_acquire);
    cs->lag = (int64_t)(st->seq - cs->seq) > 0 ? st->seq - cs->seq : 0;
    cs->msgs = atomic_load_explicit(&k->msgs, memory_order_relaxed);
    cs->bytes = atomic_load_explicit(&k->bytes, memory_order_relaxed);
    cs->overrun_poll = atomic_load_explicit(&k->overrun_poll, memory_order_relaxed);
    cs->overrun_read = atomic_load_explicit(&k->overrun_read, memory_order_relaxed);
    cs->lost = atomic_load_explicit(&k->lost, memory_order_relaxed);
  }
  return 0;
}

uint32_t rill__liveness(int fd, uint64_t off, int joined) {
  if (!joined) return RILL_PEER_NONE;
  int held = rill__lock_held(fd, off);
  if (held < 0) return RILL_PEER_UNKNOWN;
  return held ? RILL_PEER_ALIVE : RILL_PEER_DEAD;
}
