/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* Channels: creation, lookup and validation of their layout in a region. */
#include "internal.h"

#include <string.h>

#define RILL_MAX_DEPTH (1u << 24)
#define RILL_MAX_CONSUMERS 256u

/* Fills defaults and checks ranges.  Returns 0 or -RILL_EINVAL. */
static int opts_norm(const rill_channel_opts *in, rill_channel_opts *o) {
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

uint64_t rill_channel_footprint(const rill_channel_opts *opts) {
  rill_channel_opts o;
  if (opts_norm(opts, &o)) return 0;
  rill_chan_geom g;
  rill__chan_geom(o.depth, o.mtu, o.max_consumers, &g);
  return g.size;
}

/* Observers read the table through rill__region_read() (a private copy,
 * never the mapping), so a shrunk file is an error, not a SIGBUS. */

/* Objects in R's table now, or a negative error. */
static int64_t obj_count(rill_region *r) {
  _Atomic uint32_t n;
  int rc = rill__region_read(r, offsetof(rill_region_hdr, obj_cnt), &n, sizeof n);
  if (rc) return rc;
  /* Acquire fence: the copy of obj_cnt above comes before the copies of
   * the entries after it; pairs with the release increment in
   * rill_channel_create(). */
  atomic_thread_fence(memory_order_acquire);
  uint32_t v = atomic_load_explicit(&n, memory_order_relaxed);
  return v > RILL_REGION_MAX_OBJECTS ? RILL_REGION_MAX_OBJECTS : v;
}

static int entry_read(rill_region *r, uint32_t i, rill_obj_entry *e) {
  return rill__region_read(r, RILL_TABLE_OFF + (uint64_t)i * sizeof *e, e, sizeof *e);
}

static int find_entry(rill_region *r, const char *name, rill_obj_entry *out) {
  int64_t n = obj_count(r);
  if (n < 0) return (int)n;
  rill_obj_entry t[RILL_REGION_MAX_OBJECTS];
  int rc = n ? rill__region_read(r, RILL_TABLE_OFF, t, (size_t)n * sizeof *t) : 0;
  if (rc) return rc;
  for (int64_t i = 0; i < n; i++) {
    if (strncmp(t[i].name, name, sizeof t[i].name) == 0) {
      *out = t[i]; /* a private copy: validate what we use */
      return 0;
    }
  }
  return -RILL_ENOENT;
}

int rill_region_object_get(rill_region *r, uint32_t i, rill_object_info *o) {
  if (!r || !o) return -RILL_EINVAL;
  int64_t n = obj_count(r);
  if (n < 0) return (int)n;
  if (i >= n) return -RILL_ENOENT;
  rill_obj_entry e;
  int rc = entry_read(r, i, &e);
  if (rc) return rc;
  /* Validated when the region was opened, and entries never change after;
   * but whoever can write the file can change it since: check again. */
  if (!memchr(e.name, 0, sizeof e.name) || !rill__name_ok(e.name) ||
      e.type != RILL_OBJ_CHANNEL || e.off < RILL_PAGE || e.off % RILL_PAGE ||
      !e.size || e.size % RILL_PAGE || e.off > r->size || e.size > r->size - e.off)
    return -RILL_ECORRUPT;
  memset(o, 0, sizeof *o);
  memcpy(o->name, e.name, sizeof o->name - 1);
  o->type = e.type;
  o->off = e.off;
  o->size = e.size;
  return 0;
}

int rill_channel_create(rill_region *r, const char *name,
                        const rill_channel_opts *opts) {
  if (!r || !rill__name_ok(name)) return -RILL_EINVAL;
  if (r->readonly) return -RILL_EACCES;
  rill_channel_opts o;
  int rc = opts_norm(opts, &o);
  if (rc) return rc;
  rill_chan_geom g;
  rill__chan_geom(o.depth, o.mtu, o.max_consumers, &g);

  if ((rc = rill__file_lock(r->fd))) return rc;
  rill_region_hdr *h = (rill_region_hdr *)r->base;
  rill_obj_entry tmp;
  int64_t cnt = obj_count(r);
  if (cnt < 0) { rc = (int)cnt; goto out; }
  uint32_t n = (uint32_t)cnt;
  uint64_t off = h->alloc_off;
  if ((rc = find_entry(r, name, &tmp)) != -RILL_ENOENT) {
    if (rc == 0) rc = -RILL_EEXIST;
    goto out;
  }
  rc = 0;
  if (n >= RILL_REGION_MAX_OBJECTS || off % RILL_PAGE || off > r->size ||
      g.size > r->size - off) {
    rc = -RILL_ENOSPC;
    goto out;
  }

  uint8_t *base = r->base + off;
  rill_chan_hdr *ch = (rill_chan_hdr *)base;
  ch->version = RILL_LAYOUT_VERSION;
  ch->hdr_size = RILL_PAGE;
  ch->size = g.size;
  ch->depth = o.depth;
  ch->mtu = o.mtu;
  ch->max_consumers = o.max_consumers;
  ch->flags = 0;
  ch->max_msg = o.max_msg;
  ch->seq0 = 0;
  ch->data_chunks = g.data_chunks;
  ch->prod_off = g.prod_off;
  ch->cursor_off = g.cursor_off;
  ch->cursor_stride = RILL_PAGE;
  ch->meta_off = g.meta_off;
  ch->data_off = g.data_off;
  ch->created_ns = rill__real_ns();
  memset(ch->name, 0, sizeof ch->name);
  memcpy(ch->name, name, strlen(name));

  rill_prod_page *pp = (rill_prod_page *)(base + g.prod_off);
  atomic_store_explicit(&pp->seq, ch->seq0, memory_order_relaxed);
  /* Slot i starts as "sequence i - depth": behind, so nothing is there yet. */
  rill_desc *meta = (rill_desc *)(base + g.meta_off);
  for (uint64_t i = 0; i < o.depth; i++)
    atomic_store_explicit(&meta[i].seq, ch->seq0 + i - o.depth, memory_order_relaxed);

  /* Release: pairs with the acquire load of the channel magic in the Go
   * binding's findChannel(), and with the acquire fence after the copy of
   * obj_cnt in obj_count() (rill__chan_find() copies the header after it):
   * everything above is visible to a joiner. */
  atomic_store_explicit(&ch->magic, RILL_CHANNEL_MAGIC, memory_order_release);

  rill_obj_entry *e = (rill_obj_entry *)(r->base + RILL_TABLE_OFF) + n;
  memset(e, 0, sizeof *e);
  memcpy(e->name, name, strlen(name));
  e->type = RILL_OBJ_CHANNEL;
  e->off = off;
  e->size = g.size;
  h->alloc_off = off + g.size;
  /* Release: pairs with the acquire fence after the copy of obj_cnt in
   * obj_count() (and the Go binding's acquire load), and with the acquire
   * load in rill_channel_wait() before it parks on the word. */
  atomic_store_explicit(&h->obj_cnt, n + 1, memory_order_release);
  rill__unpark(&h->obj_cnt); /* rill_channel_wait() sleeps on it */
out:
  rill__file_unlock(r->fd);
  return rc;
}

int rill__chan_find(rill_region *r, const char *name, rill_chan_info *ci) {
  if (!r || !ci || !rill__name_ok(name)) return -RILL_EINVAL;
  rill_obj_entry e;
  int rc = find_entry(r, name, &e);
  if (rc) return rc;
  uint64_t hsize;
  if ((rc = rill__region_read(r, offsetof(rill_region_hdr, size), &hsize, sizeof hsize)))
    return rc;
  uint64_t rsize = hsize < r->size ? hsize : r->size;
  if (e.type != RILL_OBJ_CHANNEL || e.off < RILL_PAGE || e.off % RILL_PAGE ||
      e.size < 2 * RILL_PAGE || e.off > rsize || e.size > rsize - e.off)
    return -RILL_ECORRUPT;
  /* A private copy to validate.  The channel's magic was stored (release,
   * rill_channel_create()) before its entry was counted; the acquire fence
   * in obj_count() orders this copy after the count's. */
  rill_chan_hdr c;
  if ((rc = rill__region_read(r, e.off, &c, sizeof c))) return rc;
  if (atomic_load_explicit(&c.magic, memory_order_relaxed) != RILL_CHANNEL_MAGIC)
    return -RILL_EMAGIC;
  if (c.version != RILL_LAYOUT_VERSION) return -RILL_EVERSION;
  rill_channel_opts o = {.depth = c.depth, .mtu = c.mtu,
                         .max_consumers = c.max_consumers, .max_msg = c.max_msg};
  if (!c.depth || !c.mtu || !c.max_consumers || !c.max_msg || c.flags ||
      opts_norm(&o, &o))
    return -RILL_ECORRUPT;
  rill_chan_geom g;
  rill__chan_geom(c.depth, c.mtu, c.max_consumers, &g);
  if (c.hdr_size != RILL_PAGE || c.size != g.size || c.size > e.size ||
      c.prod_off != g.prod_off || c.cursor_off != g.cursor_off ||
      c.cursor_stride != RILL_PAGE || c.meta_off != g.meta_off ||
      c.data_off != g.data_off || c.data_chunks != g.data_chunks ||
      strncmp(c.name, name, sizeof c.name) != 0)
    return -RILL_ECORRUPT;
  ci->off = e.off;
  ci->size = c.size;
  ci->depth = c.depth;
  ci->mtu = c.mtu;
  ci->max_consumers = c.max_consumers;
  ci->max_msg = c.max_msg;
  ci->seq0 = c.seq0;
  ci->created_ns = c.created_ns;
  ci->g = g;
  return 0;
}

int rill_channel_wait(rill_region *r, const char *name, uint64_t timeout_ns) {
  if (!r || !rill__name_ok(name)) return -RILL_EINVAL;
  /* A read-only handle maps nothing: it reads the count with pread and
   * looks again every 10 ms instead of parking on the word. */
  const rill_region_hdr *h = (const rill_region_hdr *)r->base;
  rill_obj_entry e;
  uint64_t deadline = rill__add_sat(rill__mono_ns(), timeout_ns);
  for (;;) {
    /* Acquire: pairs with the release store of obj_cnt in
     * rill_channel_create().  Loaded before the look: a channel added
     * after it changes the word, and the park below returns at once. */
    int64_t cnt = h ? atomic_load_explicit(&h->obj_cnt, memory_order_acquire) : obj_count(r);
    if (cnt < 0) return (int)cnt;
    uint32_t n = (uint32_t)cnt;
    if (find_entry(r, name, &e) == 0) return 0;
    if (n >= RILL_REGION_MAX_OBJECTS) return -RILL_ENOENT; /* the table is full */
    uint64_t now = rill__mono_ns();
    if (now >= deadline) return -RILL_ETIMEDOUT;
    /* Woken by rill_channel_create(); the slices bound the wait for a
     * creator that does not wake (librill 0.2). */
    uint64_t slice = deadline - now < RILL_NOWAKE_SLICE_NS ? deadline - now : RILL_NOWAKE_SLICE_NS;
    uint32_t nap = 0;
    int rc = h ? rill__park(&h->obj_cnt, n, slice)
               : rill__park(&nap, 0, slice < 10000000ull ? slice : 10000000ull);
    if (rc < 0 && rc != -RILL_ETIMEDOUT) return rc;
  }
}
