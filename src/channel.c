/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* Channels: creation, lookup and validation of their layout in a region.
 * The layout itself, and what a joiner checks of it, are the core's
 * (core/core.h); this file places channels in a region's table. */
#include "internal.h"

#include <string.h>

uint64_t rill_channel_footprint(const rill_channel_opts *opts) { return rill_core__footprint(opts); }

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
  int rc = rill_core__opts_norm(opts, &o);
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

  /* The channel, written by the core (its magic last, release: pairs with
   * the acquire fence after the copy of obj_cnt in obj_count(), as
   * rill__chan_find() copies the header after it).  The region's bytes
   * past alloc_off are zero, as the layout wants the rest. */
  rill_core__chan_write(r->base + off, name, &o, rill__real_ns());

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
  rill_core__chan ch;
  if ((rc = rill_core__chan_check(&c, e.size, &ch))) return rc;
  if (strncmp(c.name, name, sizeof c.name) != 0) return -RILL_ECORRUPT;
  *ci = ch;
  ci->off = e.off;
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
