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
  for (uint32_t i = 0; i < ci.max_consumers; i++) {
    const rill_cursor *k = (const rill_cursor *)(base + ci.g.cursor_off + (uint64_t)i * RILL_PAGE);
    rill_consumer_stats *cs = &st->consumers[i];
    cs->slot = i;
    uint32_t state = atomic_load_explicit(&k->state, memory_order_acquire);
    if (state != RILL_CUR_ACTIVE) continue;
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
