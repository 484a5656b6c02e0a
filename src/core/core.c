/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* librill_core.a: the functions of include/rill_core.h, each a thin
 * wrapper over the implementation in core/core.h, producer.h and
 * consumer.h that librill inlines too, with the core's own hooks: no clock
 * but the caller's, no eviction, no waiting, no heap.  Built -ffreestanding: the only symbols it may leave
 * undefined are memcpy and memset (ctest core_symbols checks). */
#include "consumer.h"
#include "producer.h"

/* ---- hooks (core/producer.h, core/consumer.h) ---------------------------- */

static inline uint64_t rill_core__now(rill_core_producer *p) {
  return p->clock ? p->clock(p->clock_arg) : 0;
}

static inline int rill_core__credit_slow(rill_core_producer *p, uint64_t need) {
  return rill_core__credit_get(p, need);
}

static inline void rill_core__published(rill_core_producer *p, uint64_t n) {
  (void)p;
  (void)n;
}

static inline void rill_core__flush(rill_core_consumer *c, int hb) {
  (void)hb; /* no clock: no heartbeat, no latency sample */
  rill_core__cursor_store(c);
}

static inline int rill_core__holdoff(rill_core_consumer *c, const rill_desc *d) {
  (void)d;
  c->streak = 0;
  return 0;
}

static inline void rill_core__lat(rill_core_consumer *c, uint32_t tspub) {
  (void)tspub;
  c->lat_due = 0;
}

static inline uint8_t *rill_core__asm_alloc(rill_core_consumer *c) {
  (void)c; /* no heap: rill_core_consumer_set_buffer() gives the buffer */
  return 0;
}

/* ---- channel ------------------------------------------------------------- */

uint64_t rill_core_channel_footprint(const rill_channel_opts *opts) { return rill_core__footprint(opts); }

int rill_core_channel_new(void *mem, uint64_t size, const char *name,
                          const rill_channel_opts *opts, uint64_t created_ns) {
  if (!mem || (uintptr_t)mem % RILL_CORE_ALIGN || (name && !rill_core__name_ok(name)))
    return -RILL_EINVAL;
  rill_channel_opts o;
  int rc = rill_core__opts_norm(opts, &o);
  if (rc) return rc;
  rill_chan_geom g;
  rill__chan_geom(o.depth, o.mtu, o.max_consumers, &g);
  if (size < g.size) return -RILL_ENOSPC;
  /* The layout's "everything else is zero" (docs/PROTOCOL.md §2.1).  The
   * magic, which a joiner may be polling, is cleared first: whatever the
   * memory held, no joiner takes it for a channel before the new magic is
   * stored (release, last). */
  atomic_store_explicit(&((rill_chan_hdr *)mem)->magic, 0, memory_order_relaxed);
  rill_core__memset((uint8_t *)mem + 8, 0, g.size - 8);
  rill_core__chan_write(mem, name, &o, created_ns);
  return 0;
}

int rill_core_channel_get(const void *mem, uint64_t size, rill_core_channel_info *info) {
  rill_core__chan ch;
  rill_chan_hdr h;
  int rc = rill_core__chan_open(mem, size, &ch, &h);
  if (rc || !info) return rc;
  rill_core__memset(info, 0, sizeof *info);
  info->size = ch.size;
  info->depth = ch.depth;
  info->mtu = ch.mtu;
  info->max_consumers = ch.max_consumers;
  info->max_msg = ch.max_msg;
  info->seq0 = ch.seq0;
  info->created_ns = ch.created_ns;
  info->data_chunks = ch.g.data_chunks;
  for (size_t i = 0; i < sizeof info->name - 1 && h.name[i]; i++) info->name[i] = h.name[i];
  return 0;
}

/* ---- producer ------------------------------------------------------------ */

int rill_core_producer_join(rill_core_producer *p, void *mem, uint64_t size) {
  if (!p) return -RILL_EINVAL;
  rill_core__chan ch;
  rill_chan_hdr h;
  int rc = rill_core__chan_open(mem, size, &ch, &h);
  if (rc) return rc;
  rill_core__memset(p, 0, sizeof *p);
  rill_core__prod_init(p, mem, &ch);
  /* Flags 0: no heavy barrier is relied on, and no fence on request.  A
   * consumer that parks with librill finds no lock held and reports the
   * producer dead rather than wait (include/rill_core.h). */
  rill_core__prod_start(p, 0, 0);
  rill_core__prod_flush(p);
  rill_core__prod_wake(p);
  return 0;
}

int rill_core_producer_leave(rill_core_producer *p) {
  if (!p || !p->prod) return 0;
  rill_core__prod_flush(p);
  rill_core__prod_close(p);
  return 0;
}

int rill_core_producer_set_clock(rill_core_producer *p, uint64_t (*now)(void *arg), void *arg) {
  if (!p) return -RILL_EINVAL;
  p->clock = now;
  p->clock_arg = arg;
  return 0;
}

int rill_core_producer_set_stamp(rill_core_producer *p, uint32_t mode) {
  if (!p || mode > RILL_STAMP_EVERY) return -RILL_EINVAL;
  rill_core__set_stamp(p, mode);
  return 0;
}

int rill_core_producer_flush(rill_core_producer *p) {
  if (!p || !p->prod) return -RILL_EINVAL;
  rill_core__prod_flush(p);
  return 0;
}

uint64_t rill_core_producer_seq(const rill_core_producer *p) { return p ? p->seq : 0; }

int rill_core_reserve(rill_core_producer *p, size_t n, void **buf) {
  if (!p || !buf) return -RILL_EINVAL;
  return rill_core__reserve(p, n, buf);
}

int rill_core_commit(rill_core_producer *p, size_t n, uint64_t sig, uint16_t ctl,
                     uint32_t tsorig) {
  if (!p) return -RILL_EINVAL;
  return rill_core__commit_at(p, 0, n, sig, ctl, tsorig);
}

int rill_core_commit_at(rill_core_producer *p, const void *at, size_t n, uint64_t sig,
                        uint16_t ctl) {
  uint64_t skip;
  if (!p || rill_core__commit_skip(p, at, &skip)) return -RILL_EINVAL;
  return rill_core__commit_at(p, skip, n, sig, ctl, 0);
}

int rill_core_send(rill_core_producer *p, const void *data, size_t n, uint64_t sig,
                   uint16_t ctl) {
  if (!p || (!data && n)) return -RILL_EINVAL;
  return rill_core__send(p, data, n, sig, ctl);
}

int rill_core_send_many(rill_core_producer *p, const rill_msg *m, size_t count) {
  if (!p || !m) return -RILL_EINVAL;
  return rill_core__send_many(p, m, count);
}

int rill_core_reserve_many(rill_core_producer *p, size_t count, size_t n, void **bufs) {
  if (!p || !bufs) return -RILL_EINVAL;
  return rill_core__reserve_many(p, count, n, bufs);
}

int rill_core_commit_many(rill_core_producer *p, const rill_msg *m, size_t count) {
  if (!p || !m) return -RILL_EINVAL;
  return rill_core__commit_many(p, m, count);
}

/* ---- consumer ------------------------------------------------------------ */

/* Joins slot SLOT of the channel at MEM: a new consumer in MODE, or with
 * REJOIN the slot's earlier one. */
static int cons_join(rill_core_consumer *c, void *mem, uint64_t size, uint32_t slot, int mode,
                     int rejoin) {
  if (!c) return -RILL_EINVAL;
  rill_core__chan ch;
  rill_chan_hdr h;
  int rc = rill_core__chan_open(mem, size, &ch, &h);
  if (rc) return rc;
  if (slot >= ch.max_consumers) return -RILL_EINVAL;
  uint8_t *base = mem;
  rill_cursor *k = rill__cursor_at(base + ch.g.cursor_off, slot);
  if (rejoin) {
    /* Acquire: the mode below is the one stored with this gen. */
    if (!atomic_load_explicit(&k->gen, memory_order_acquire)) return -RILL_ENOENT;
    uint32_t m = atomic_load_explicit(&k->mode, memory_order_relaxed);
    if (m != RILL_RELIABLE && m != RILL_LOSSY) return -RILL_ECORRUPT;
    mode = (int)m;
  } else if (atomic_load_explicit(&k->state, memory_order_acquire) != RILL_CUR_FREE) {
    return -RILL_EBUSY;
  }
  rill_core__memset(c, 0, sizeof *c);
  /* The flushes' jitter keeps endpoints out of lock step; without a
   * random source, the handle's address and the slot's joins serve. */
  uint64_t seed = (uint64_t)(uintptr_t)c ^ ((uint64_t)slot << 32) ^
                  atomic_load_explicit(&k->gen, memory_order_relaxed);
  rill_core__cons_init(c, base, k, (rill_wait_page *)(base + ch.g.wait_off), &ch, slot, mode,
                       seed);
  rill_core__cursor_join(c, rejoin, (uint32_t)mode, 0);
  rill_core__cursor_joined(c);
  return 0;
}

int rill_core_consumer_join(rill_core_consumer *c, void *mem, uint64_t size, uint32_t slot,
                            int mode) {
  if (mode != RILL_RELIABLE && mode != RILL_LOSSY) return -RILL_EINVAL;
  return cons_join(c, mem, size, slot, mode, 0);
}

int rill_core_consumer_rejoin(rill_core_consumer *c, void *mem, uint64_t size, uint32_t slot) {
  return cons_join(c, mem, size, slot, 0, 1);
}

int rill_core_consumer_leave(rill_core_consumer *c) {
  if (!c || !c->cur) return 0;
  rill_core__cursor_store(c);
  rill_core__cursor_leave(c);
  c->cur = 0;
  return 0;
}

int rill_core_consumer_set_buffer(rill_core_consumer *c, void *buf, uint64_t cap) {
  if (!c || !c->cur || !buf || cap < c->max_msg || c->asm_frags || c->pend)
    return -RILL_EINVAL;
  c->asm_buf = buf;
  return 0;
}

int rill_core_consumer_flush(rill_core_consumer *c) {
  if (!c || !c->cur) return -RILL_EINVAL;
  rill_core__cursor_store(c);
  return 0;
}

uint64_t rill_core_consumer_seq(const rill_core_consumer *c) { return c ? c->seq : 0; }

int rill_core_poll(rill_core_consumer *c, rill_view *v) {
  if (!c || !v) return -RILL_EINVAL;
  return rill_core__poll_one(c, v);
}

int rill_core_poll_many(rill_core_consumer *c, rill_view *v, size_t max) {
  if (!c || !v || !max) return -RILL_EINVAL;
  if (max > INT32_MAX) max = INT32_MAX;
  return rill_core__poll_many(c, v, max);
}

int rill_core_check(rill_core_consumer *c, const rill_view *v) {
  if (!c || !v) return -RILL_EINVAL;
  return rill_core__check_seq(c, v->seq);
}

int64_t rill_core_recv(rill_core_consumer *c, void *buf, size_t cap, rill_meta *meta) {
  if (!c || !meta || (!buf && cap)) return -RILL_EINVAL;
  return rill_core__recv_one(c, buf, cap, meta, 0);
}
