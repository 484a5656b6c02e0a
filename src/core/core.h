/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* The core's implementation (include/rill_core.h is its interface): the
 * channel layout here, the producer's data path in core/producer.h, the
 * consumer's in core/consumer.h.  Everything is a static function, so each
 * file that includes these headers compiles its own copy and inlines it:
 * src/core/core.c wraps them as librill_core.a's rill_core_* functions,
 * and librill's src/channel.c, producer.c and consumer.c call them in
 * rill_channel_create(), rill_send(), rill_poll(), rill_recv() ..., so that
 * the hot paths stay one inlined body, as before the core existed.
 *
 * Freestanding: nothing here calls the C library but memcpy and memset
 * (as __builtin_memcpy / __builtin_memset, which the compiler expands
 * inline where it can, -ffreestanding or not), and nothing calls the
 * operating system.  What the core leaves to the file that includes it
 * (a clock, waiting, eviction, heartbeats) it asks for through hooks that
 * file defines: see core/producer.h and core/consumer.h. */
#ifndef RILL_CORE_CORE_H
#define RILL_CORE_CORE_H

#include "../layout.h"
#include "rill_core.h"

#define rill_core__memcpy __builtin_memcpy
#define rill_core__memset __builtin_memset

#define RILL_MAX_DEPTH (1u << 24)
#define RILL_MAX_CONSUMERS 256u

_Static_assert(sizeof(rill_core_channel_info) == 96, "rill_core_channel_info");
_Static_assert(sizeof(((rill_core_channel_info *)0)->name) == RILL_OBJ_NAME_SZ,
               "info name holds a stored name");

/* 1 if the N bytes at P are all zero: how the reserved fields of an option
 * struct are checked (rill.h, ABI). */
static inline int rill__zeroed(const void *p, size_t n) {
  const uint8_t *b = p;
  for (size_t i = 0; i < n; i++)
    if (b[i]) return 0;
  return 1;
}

static inline uint64_t rill__rng_next(uint64_t *s) {
  uint64_t x = (*s += 0x9e3779b97f4a7c15ull);
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/* A random interval in [n/2, n], at least 1: housekeeping never runs in
 * lock step between endpoints. */
static inline uint64_t rill__jitter(uint64_t *s, uint64_t n) {
  uint64_t lo = n / 2 ? n / 2 : 1;
  return lo + rill__rng_next(s) % (n - lo + 1);
}

static inline rill_cursor *rill__cursor_at(uint8_t *cursors, uint32_t i) {
  return (rill_cursor *)(cursors + (uint64_t)i * RILL_PAGE);
}

/* A channel as a joiner knows it: validated copies of its header's fields
 * and the layout they give (librill's rill_chan_info: OFF is where it lies
 * in its region, 0 in memory of the caller's). */
typedef struct rill_core__chan {
  uint64_t off;
  uint64_t size;
  uint32_t depth, mtu, max_consumers;
  uint64_t max_msg, seq0, created_ns;
  rill_chan_geom g;
} rill_core__chan;

/* 1 if NAME is a valid name: 1..RILL_NAME_MAX of [A-Za-z0-9._-], not
 * starting with '.' (docs/PROTOCOL.md, Conventions). */
static inline int rill_core__name_ok(const char *name) {
  if (!name || !name[0] || name[0] == '.') return 0;
  size_t n = 0;
  for (const char *p = name; *p; p++, n++) {
    char ch = *p;
    int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
             (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
    if (!ok || n >= RILL_NAME_MAX) return 0;
  }
  return 1;
}

/* Channel options IN (NULL: the defaults) with the defaults filled in, in
 * *O, checked against docs/PROTOCOL.md §2.  Returns 0 or -RILL_EINVAL. */
static inline int rill_core__opts_norm(const rill_channel_opts *in, rill_channel_opts *o) {
  *o = in ? *in : (rill_channel_opts){0};
  if (o->flags || !rill__zeroed(o->reserved, sizeof o->reserved)) return -RILL_EINVAL;
  if (!o->depth) o->depth = 4096;
  if (!o->mtu) o->mtu = 1024;
  if (!o->max_consumers) o->max_consumers = 8;
  if (o->depth < 2 || o->depth > RILL_MAX_DEPTH || (o->depth & (o->depth - 1)))
    return -RILL_EINVAL;
  if (o->mtu > UINT16_MAX) return -RILL_EINVAL;
  if (o->max_consumers > RILL_MAX_CONSUMERS) return -RILL_EINVAL;
  if (!o->max_msg) {
    uint64_t f = o->depth / 2 < 16 ? o->depth / 2 : 16;
    o->max_msg = f * o->mtu;
  }
  /* A whole message must fit in half the ring, so rill_send() can always
   * take the credit for all its fragments at once. */
  if (o->max_msg < o->mtu || rill__frags(o->max_msg, o->mtu) > o->depth / 2)
    return -RILL_EINVAL;
  /* A descriptor's chunk field is 32 bits: every chunk of the data ring
   * must have an index it can hold (docs/PROTOCOL.md 2.1). */
  rill_chan_geom g;
  rill__chan_geom(o->depth, o->mtu, o->max_consumers, &g);
  if (g.data_chunks > RILL_MAX_DATA_CHUNKS) return -RILL_EINVAL;
  return 0;
}

/* Bytes a channel with OPTS (NULL: the defaults) takes; 0 if OPTS are
 * invalid (rill_channel_footprint(), rill_core_channel_footprint()). */
static inline uint64_t rill_core__footprint(const rill_channel_opts *opts) {
  rill_channel_opts o;
  if (rill_core__opts_norm(opts, &o)) return 0;
  rill_chan_geom g;
  rill__chan_geom(o.depth, o.mtu, o.max_consumers, &g);
  return g.size;
}

/* Writes a channel with the normalised options O into BASE, whose
 * footprint bytes are zero (docs/PROTOCOL.md §2.1, "Creation"): the
 * header (NAME: a valid name, or NULL for none), the producer's first
 * sequence number, the meta ring's slots, and the magic last. */
static inline void rill_core__chan_write(uint8_t *base, const char *name,
                                         const rill_channel_opts *o, uint64_t created_ns) {
  rill_chan_geom g;
  rill__chan_geom(o->depth, o->mtu, o->max_consumers, &g);
  rill_chan_hdr *ch = (rill_chan_hdr *)base;
  ch->version = RILL_LAYOUT_VERSION;
  ch->hdr_size = RILL_PAGE;
  ch->size = g.size;
  ch->depth = o->depth;
  ch->mtu = o->mtu;
  ch->max_consumers = o->max_consumers;
  ch->flags = 0;
  ch->max_msg = o->max_msg;
  ch->seq0 = 0;
  ch->data_chunks = g.data_chunks;
  ch->prod_off = g.prod_off;
  ch->cursor_off = g.cursor_off;
  ch->cursor_stride = RILL_PAGE;
  ch->meta_off = g.meta_off;
  ch->data_off = g.data_off;
  ch->created_ns = created_ns;
  rill_core__memset(ch->name, 0, sizeof ch->name);
  for (size_t i = 0; name && name[i]; i++) ch->name[i] = name[i];

  rill_prod_page *pp = (rill_prod_page *)(base + g.prod_off);
  atomic_store_explicit(&pp->seq, ch->seq0, memory_order_relaxed);
  /* Slot i starts as "sequence i - depth": behind, so nothing is there yet. */
  rill_desc *meta = (rill_desc *)(base + g.meta_off);
  for (uint64_t i = 0; i < o->depth; i++)
    atomic_store_explicit(&meta[i].seq, ch->seq0 + i - o->depth, memory_order_relaxed);

  /* Release: pairs with the acquire load of the magic in
   * rill_core_channel_get() and the Go binding's findChannel(), and with
   * the acquire fence after the copy of obj_cnt in obj_count()
   * (channel.c; rill__chan_find() copies the header after it): everything
   * above is visible to a joiner. */
  atomic_store_explicit(&ch->magic, RILL_CHANNEL_MAGIC, memory_order_release);
}

/* Validates H, a private copy of a channel header whose object has AVAIL
 * bytes, as a joiner does (docs/PROTOCOL.md §2.1 steps 3 and 4, but for
 * comparing the name with the one looked up, which is the caller's), and
 * fills *CH (off 0).  Returns 0, -RILL_EMAGIC, -RILL_EVERSION or
 * -RILL_ECORRUPT. */
static inline int rill_core__chan_check(const rill_chan_hdr *h, uint64_t avail,
                                        rill_core__chan *ch) {
  if (atomic_load_explicit(&h->magic, memory_order_relaxed) != RILL_CHANNEL_MAGIC)
    return -RILL_EMAGIC;
  if (h->version != RILL_LAYOUT_VERSION) return -RILL_EVERSION;
  rill_channel_opts o = {.depth = h->depth, .mtu = h->mtu,
                         .max_consumers = h->max_consumers, .max_msg = h->max_msg};
  if (!h->depth || !h->mtu || !h->max_consumers || !h->max_msg || h->flags ||
      rill_core__opts_norm(&o, &o))
    return -RILL_ECORRUPT;
  rill_chan_geom g;
  rill__chan_geom(h->depth, h->mtu, h->max_consumers, &g);
  int named = 0; /* a NUL in the stored name */
  for (size_t i = 0; i < sizeof h->name; i++) named |= !h->name[i];
  if (h->hdr_size != RILL_PAGE || h->size != g.size || h->size > avail ||
      h->prod_off != g.prod_off || h->cursor_off != g.cursor_off ||
      h->cursor_stride != RILL_PAGE || h->meta_off != g.meta_off ||
      h->data_off != g.data_off || h->data_chunks != g.data_chunks || !named)
    return -RILL_ECORRUPT;
  ch->off = 0;
  ch->size = h->size;
  ch->depth = h->depth;
  ch->mtu = h->mtu;
  ch->max_consumers = h->max_consumers;
  ch->max_msg = h->max_msg;
  ch->seq0 = h->seq0;
  ch->created_ns = h->created_ns;
  ch->g = g;
  return 0;
}

/* rill_core__chan_check() of the channel in the SIZE bytes at MEM, memory
 * of the caller's (not a region, which librill reads through a private
 * copy): the magic is loaded with acquire first (pairs with the release
 * store in rill_core__chan_write()), then the header copied. */
static inline int rill_core__chan_open(const void *mem, uint64_t size, rill_core__chan *ch,
                                       rill_chan_hdr *copy) {
  if (!mem || (uintptr_t)mem % RILL_CORE_ALIGN) return -RILL_EINVAL;
  if (size < sizeof(rill_chan_hdr)) return -RILL_ECORRUPT;
  const rill_chan_hdr *h = mem;
  if (atomic_load_explicit(&h->magic, memory_order_acquire) != RILL_CHANNEL_MAGIC)
    return -RILL_EMAGIC;
  rill_core__memcpy(copy, h, sizeof *copy);
  return rill_core__chan_check(copy, size, ch);
}

#endif
