/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* A hostile (or broken) producer.  The test maps the region file read-write
 * itself and writes garbage where a producer writes:
 *
 * 1. Before join: damaged channel headers, field by field and at random.
 *    Joining (producer or consumer) and reading stats must fail with EMAGIC,
 *    EVERSION or ECORRUPT, never crash; region headers fuzzed the same way
 *    must fail to open with their own error codes.
 * 2. After join: while a reliable and a lossy consumer poll, recv, check and
 *    flush in a loop, garbage is written into the meta ring (random seq,
 *    chunk, sz, ctl, sig), the producer page, the channel header, the cursor
 *    pages and the region header -- by another process at full speed, then
 *    by this thread between calls (reproducible from the printed seed).  The
 *    consumers may return errors or garbage but must never crash, hang, or
 *    read or write out of bounds: every view returned must lie inside the
 *    data ring of the consumer's own read-only mapping of the channel (found
 *    in /proc/self/maps; on Windows: inside a read-only view, which cannot
 *    be placed in the file), every byte of it is read, and rill_recv() must
 *    not write past CAP (a canary; AddressSanitizer checks it too).  A call
 *    that hangs fails at once on Linux (an alarm); on Windows the test's
 *    time bound catches it. */
#include "layout.h"
#include "testutil.h"

#if TU_POSIX
#include <sys/sysmacros.h>
#endif

#define REGION "hostile"
#define DEPTH 64u
#define MTU 128u
#define MAXMSG 512u
#define MAXC 4u

static char region_path[256];
static uint64_t seed;
static uint64_t nchecks;

/* The region file, mapped read-write by the test. */
typedef struct target {
  uint8_t *base;
  uint64_t fsize;
  uint64_t choff;       /* channel offset in the file */
  rill_chan_hdr hdr;    /* its header as created */
} target;

static void map_target(target *t, const char *chan) {
  t->base = tu_map_file(region_path, &t->fsize);
  const rill_region_hdr *h = (const rill_region_hdr *)t->base;
  const rill_obj_entry *e = (const rill_obj_entry *)(t->base + RILL_TABLE_OFF);
  t->choff = 0;
  for (uint32_t i = 0; i < h->obj_cnt; i++)
    if (!strcmp(e[i].name, chan)) t->choff = e[i].off;
  CHECK(t->choff != 0);
  memcpy(&t->hdr, t->base + t->choff, sizeof t->hdr);
}

static void unmap_target(target *t) { tu_unmap_file(t->base, t->fsize); }

static int allowed(int rc, const int *ok, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (rc == ok[i]) return 1;
  return 0;
}

/* ---- 1. damaged headers before join ------------------------------------------ */

typedef struct hcase {
  const char *what;
  size_t off;
  int width;
  uint64_t val;
  int want;
} hcase;

static void join_expect(rill_region *r, const char *chan, int want, const char *what) {
  rill_producer *p = NULL;
  rill_consumer *c = NULL;
  int rc = rill_producer_join(r, chan, &p);
  CHECKF(rc == want, "%s: producer join %d (%s), want %d (%s)", what, rc, rill_strerror(rc),
         want, rill_strerror(want));
  rc = rill_consumer_join(r, chan, RILL_RELIABLE, &c);
  CHECKF(rc == want, "%s: reliable consumer join %d (%s), want %d (%s)", what, rc,
         rill_strerror(rc), want, rill_strerror(want));
  rc = rill_consumer_join(r, chan, RILL_LOSSY, &c);
  CHECKF(rc == want, "%s: lossy consumer join %d (%s), want %d (%s)", what, rc,
         rill_strerror(rc), want, rill_strerror(want));
  rill_channel_stats st;
  rc = rill_channel_stats_get(r, chan, &st);
  CHECKF(rc == want, "%s: stats %d (%s), want %d (%s)", what, rc, rill_strerror(rc), want,
         rill_strerror(want));
  rill_consumer_stats cs;
  rc = rill_consumer_stats_get(r, chan, 0, &cs);
  CHECKF(rc == want, "%s: consumer stats %d (%s), want %d (%s)", what, rc, rill_strerror(rc),
         want, rill_strerror(want));
  nchecks += 5;
}

static void put(uint8_t *p, int width, uint64_t v) {
  if (width == 1) *p = (uint8_t)v;
  else if (width == 2) { uint16_t x = (uint16_t)v; memcpy(p, &x, 2); }
  else if (width == 4) { uint32_t x = (uint32_t)v; memcpy(p, &x, 4); }
  else memcpy(p, &v, 8);
}

/* Joins that are expected to succeed are done here, and left. */
static void join_ok(rill_region *r, const char *chan) {
  rill_producer *p;
  rill_consumer *c, *l;
  CHECK_OK(rill_producer_join(r, chan, &p));
  CHECK_OK(rill_consumer_join(r, chan, RILL_RELIABLE, &c));
  CHECK_OK(rill_consumer_join(r, chan, RILL_LOSSY, &l));
  uint8_t b[MAXMSG];
  tu_fill(b, 300, 1, 0);
  CHECK_OK(rill_send(p, b, 300, 1));
  rill_meta m;
  CHECK_RC(rill_recv(c, b, sizeof b, &m), 300);
  CHECK_RC(rill_recv(l, b, sizeof b, &m), 300);
  CHECK_PAYLOAD(b, 300, 1, 0);
  rill_consumer_leave(l);
  rill_consumer_leave(c);
  rill_producer_leave(p);
}

static void test_bad_headers(rill_region *r) {
  rill_channel_opts co = {.depth = DEPTH, .mtu = MTU, .max_consumers = MAXC, .max_msg = MAXMSG};
  CHECK_OK(rill_channel_create(r, "hdr", &co));
  join_ok(r, "hdr");
  target t;
  map_target(&t, "hdr");
  uint8_t *ch = t.base + t.choff;
  uint8_t saved[RILL_PAGE];
  memcpy(saved, ch, RILL_PAGE);
  const rill_chan_hdr *g = &t.hdr;
  const hcase cases[] = {
    {"magic", 0, 8, RILL_CHANNEL_MAGIC + 1, -RILL_EMAGIC},
    {"magic = region magic", 0, 8, RILL_REGION_MAGIC, -RILL_EMAGIC},
    {"magic 0", 0, 8, 0, -RILL_EMAGIC},
    {"version next", offsetof(rill_chan_hdr, version), 4, RILL_LAYOUT_VERSION + 1, -RILL_EVERSION},
    {"version 0", offsetof(rill_chan_hdr, version), 4, 0, -RILL_EVERSION},
    {"hdr_size", offsetof(rill_chan_hdr, hdr_size), 4, 152, -RILL_ECORRUPT},
    {"size + page", offsetof(rill_chan_hdr, size), 8, g->size + RILL_PAGE, -RILL_ECORRUPT},
    {"size - page", offsetof(rill_chan_hdr, size), 8, g->size - RILL_PAGE, -RILL_ECORRUPT},
    {"size huge", offsetof(rill_chan_hdr, size), 8, UINT64_MAX, -RILL_ECORRUPT},
    {"depth 0", offsetof(rill_chan_hdr, depth), 4, 0, -RILL_ECORRUPT},
    {"depth 3", offsetof(rill_chan_hdr, depth), 4, 3, -RILL_ECORRUPT},
    {"depth 128", offsetof(rill_chan_hdr, depth), 4, 128, -RILL_ECORRUPT},
    {"depth 32", offsetof(rill_chan_hdr, depth), 4, 32, -RILL_ECORRUPT},
    {"depth 2^31", offsetof(rill_chan_hdr, depth), 4, 1u << 31, -RILL_ECORRUPT},
    {"mtu 0", offsetof(rill_chan_hdr, mtu), 4, 0, -RILL_ECORRUPT},
    {"mtu 65536", offsetof(rill_chan_hdr, mtu), 4, 65536, -RILL_ECORRUPT},
    {"mtu 1024", offsetof(rill_chan_hdr, mtu), 4, 1024, -RILL_ECORRUPT},
    {"mtu 64", offsetof(rill_chan_hdr, mtu), 4, 64, -RILL_ECORRUPT},
    {"mtu max", offsetof(rill_chan_hdr, mtu), 4, UINT32_MAX, -RILL_ECORRUPT},
    {"max_consumers 0", offsetof(rill_chan_hdr, max_consumers), 4, 0, -RILL_ECORRUPT},
    {"max_consumers 5", offsetof(rill_chan_hdr, max_consumers), 4, 5, -RILL_ECORRUPT},
    {"max_consumers 257", offsetof(rill_chan_hdr, max_consumers), 4, 257, -RILL_ECORRUPT},
    {"flags", offsetof(rill_chan_hdr, flags), 4, 1, -RILL_ECORRUPT},
    {"max_msg 0", offsetof(rill_chan_hdr, max_msg), 8, 0, -RILL_ECORRUPT},
    {"max_msg < mtu", offsetof(rill_chan_hdr, max_msg), 8, MTU - 1, -RILL_ECORRUPT},
    {"max_msg > depth/2 frags", offsetof(rill_chan_hdr, max_msg), 8, 33 * MTU, -RILL_ECORRUPT},
    {"max_msg huge", offsetof(rill_chan_hdr, max_msg), 8, 1ull << 62, -RILL_ECORRUPT},
    {"data_chunks + 1", offsetof(rill_chan_hdr, data_chunks), 8, g->data_chunks + 1, -RILL_ECORRUPT},
    {"data_chunks huge", offsetof(rill_chan_hdr, data_chunks), 8, UINT64_MAX / 64, -RILL_ECORRUPT},
    {"prod_off", offsetof(rill_chan_hdr, prod_off), 8, 0, -RILL_ECORRUPT},
    {"prod_off huge", offsetof(rill_chan_hdr, prod_off), 8, 1ull << 40, -RILL_ECORRUPT},
    {"cursor_off", offsetof(rill_chan_hdr, cursor_off), 8, g->size, -RILL_ECORRUPT},
    {"cursor_stride", offsetof(rill_chan_hdr, cursor_stride), 8, 64, -RILL_ECORRUPT},
    {"meta_off + page", offsetof(rill_chan_hdr, meta_off), 8, g->meta_off + RILL_PAGE, -RILL_ECORRUPT},
    {"meta_off past end", offsetof(rill_chan_hdr, meta_off), 8, g->size, -RILL_ECORRUPT},
    {"meta_off huge", offsetof(rill_chan_hdr, meta_off), 8, UINT64_MAX - 4095, -RILL_ECORRUPT},
    {"data_off - page", offsetof(rill_chan_hdr, data_off), 8, g->data_off - RILL_PAGE, -RILL_ECORRUPT},
    {"data_off past end", offsetof(rill_chan_hdr, data_off), 8, g->size, -RILL_ECORRUPT},
    {"name", offsetof(rill_chan_hdr, name), 1, 'x', -RILL_ECORRUPT},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    memcpy(ch, saved, RILL_PAGE);
    put(ch + cases[i].off, cases[i].width, cases[i].val);
    join_expect(r, "hdr", cases[i].want, cases[i].what);
  }
  /* The table entry of the channel, read through an open region handle. */
  rill_obj_entry *e = NULL, *tab = (rill_obj_entry *)(t.base + RILL_TABLE_OFF);
  for (int i = 0; i < RILL_REGION_MAX_OBJECTS; i++)
    if (!strcmp(tab[i].name, "hdr")) e = &tab[i];
  CHECK(e != NULL);
  memcpy(ch, saved, RILL_PAGE);
  rill_obj_entry esaved = *e;
  const struct { const char *what; uint64_t off, size; } ecases[] = {
    {"entry off past the region", t.fsize, esaved.size},
    {"entry off + size past the region", t.fsize - RILL_PAGE, esaved.size},
    {"entry size too small for the channel", esaved.off, esaved.size - RILL_PAGE},
    {"entry size huge", esaved.off, UINT64_MAX & ~4095ull},
    {"entry off unaligned", esaved.off + 8, esaved.size},
    {"entry off 0", 0, esaved.size},
  };
  for (size_t i = 0; i < sizeof ecases / sizeof ecases[0]; i++) {
    *e = esaved;
    e->off = ecases[i].off;
    e->size = ecases[i].size;
    join_expect(r, "hdr", -RILL_ECORRUPT, ecases[i].what);
  }
  *e = esaved;
  e->type = 9;
  join_expect(r, "hdr", -RILL_ECORRUPT, "entry type");
  *e = esaved;
  join_ok(r, "hdr");

  /* Random damage: 1 to 4 random bytes of the header, or a random value in
   * a random field.  Whatever happens, no crash; a join that succeeds (the
   * damage missed every checked field) must work. */
  tu_rng g2 = {seed ^ 1};
  const int ok[] = {0, -RILL_EMAGIC, -RILL_EVERSION, -RILL_ECORRUPT};
  int joined = 0;
  for (int it = 0; it < 4000; it++) {
    memcpy(ch, saved, RILL_PAGE);
    int kind = (int)tu_below(&g2, 3);
    if (kind == 0) {
      int n = 1 + (int)tu_below(&g2, 4);
      for (int k = 0; k < n; k++) ch[tu_below(&g2, sizeof(rill_chan_hdr))] = (uint8_t)tu_rand(&g2);
    } else if (kind == 1) {
      size_t off = 8 + 4 * tu_below(&g2, (sizeof(rill_chan_hdr) - 8) / 4);
      put(ch + off, 4, tu_rand(&g2) >> tu_below(&g2, 64));
    } else {
      size_t off = 8 * tu_below(&g2, sizeof(rill_chan_hdr) / 8);
      put(ch + off, 8, tu_rand(&g2) >> tu_below(&g2, 64));
    }
    rill_producer *p = NULL;
    rill_consumer *c = NULL;
    int rc = rill_consumer_join(r, "hdr", it & 1 ? RILL_LOSSY : RILL_RELIABLE, &c);
    CHECKF(allowed(rc, ok, 4), "fuzzed header (seed %" PRIu64 ", iteration %d): consumer join %d "
           "(%s, OS error %d)", seed, it, rc, rill_strerror(rc), rill_os_error());
    int rc2 = rill_producer_join(r, "hdr", &p);
    CHECKF(allowed(rc2, ok, 4), "fuzzed header (seed %" PRIu64 ", iteration %d): producer join %d "
           "(%s, OS error %d)", seed, it, rc2, rill_strerror(rc2), rill_os_error());
    CHECKF(rc == rc2, "consumer join %d but producer join %d on the same header", rc, rc2);
    if (rc == 0) {
      joined++;
      uint8_t b[MAXMSG];
      tu_fill(b, 200, (uint64_t)it, 0);
      /* max_msg and mtu may have changed within what the geometry allows. */
      int s = rill_send(p, b, 200, (uint64_t)it);
      CHECKF(s == 0 || s == -RILL_EAGAIN || s == -RILL_EMSGSIZE, "send: %s", rill_strerror(s));
      rill_meta m;
      int64_t got = rill_recv(c, b, sizeof b, &m);
      CHECKF(got == -RILL_EAGAIN || got == 200, "recv: %" PRId64, got);
      if (got == 200) CHECK_PAYLOAD(b, 200, (uint64_t)it, 0);
      rill_consumer_leave(c);
      rill_producer_leave(p);
    }
    nchecks += 3;
  }
  memcpy(ch, saved, RILL_PAGE);
  join_ok(r, "hdr");
  printf("  damaged channel headers: %zu cases, 4000 random (%d joined: harmless damage)\n",
         sizeof cases / sizeof cases[0] + 7, joined);
  unmap_target(&t);
}

/* Random damage to a region's first page (header and table): open fails
 * with a region error, or succeeds and then channel joins fail cleanly. */
static void test_bad_region_pages(void) {
  rill_region_opts o = tu_opts(1 << 20);
  rill_region *r;
  CHECK_OK(rill_region_create("fuzzreg", &o, &r));
  rill_channel_opts co = {.depth = DEPTH, .mtu = MTU, .max_consumers = 2, .max_msg = MAXMSG};
  CHECK_OK(rill_channel_create(r, "a", &co));
  CHECK_OK(rill_channel_create(r, "b", &co));
  rill_region_close(r);
  char path[256];
  tu_path(path, sizeof path, "fuzzreg");
  uint64_t flen;
  uint8_t *file = tu_map_file(path, &flen); /* the page is written through it */
  uint8_t saved[RILL_PAGE], page[RILL_PAGE];
  memcpy(saved, file, RILL_PAGE);
  tu_rng g = {seed ^ 2};
  const int ok_open[] = {0, -RILL_EMAGIC, -RILL_EVERSION, -RILL_ETRUNC, -RILL_ECORRUPT};
  const int ok_join[] = {0, -RILL_ENOENT, -RILL_EMAGIC, -RILL_EVERSION, -RILL_ECORRUPT};
  int opened = 0;
  for (int it = 0; it < 3000; it++) {
    memcpy(page, saved, RILL_PAGE);
    int n = 1 + (int)tu_below(&g, 4);
    for (int k = 0; k < n; k++) {
      /* Mostly where it matters: the header and the two entries in use. */
      uint64_t span = tu_below(&g, 4) ? RILL_TABLE_OFF + 2 * 64 : RILL_PAGE;
      if (tu_below(&g, 2)) page[tu_below(&g, span)] = (uint8_t)tu_rand(&g);
      else put(page + 8 * tu_below(&g, span / 8), 8, tu_rand(&g) >> tu_below(&g, 64));
    }
    memcpy(file, page, RILL_PAGE);
    int rc = rill_region_open("fuzzreg", &o, &r);
    CHECKF(allowed(rc, ok_open, 5), "fuzzed region (seed %" PRIu64 ", it %d): open %d (%s)", seed,
           it, rc, rill_strerror(rc));
    if (rc == 0) {
      opened++;
      const char *names[] = {"a", "b"};
      for (int k = 0; k < 2; k++) {
        rill_consumer *c;
        int j = rill_consumer_join(r, names[k], RILL_LOSSY, &c);
        CHECKF(allowed(j, ok_join, 5), "fuzzed region (seed %" PRIu64 ", it %d): join %d (%s)",
               seed, it, j, rill_strerror(j));
        if (j == 0) {
          rill_view v;
          int p = rill_poll(c, &v);
          CHECK(p == -RILL_EAGAIN || p == -RILL_EOVERRUN || p == 0 || p == -RILL_ECORRUPT);
          rill_consumer_leave(c);
        }
      }
      rill_region_info info;
      CHECK_OK(rill_region_info_get(r, &info));
      rill_region_close(r);
    }
    nchecks++;
  }
  tu_unmap_file(file, flen);
  CHECK_OK(rill_region_unlink("fuzzreg", tu_dir()));
  printf("  damaged region pages: 3000 random (%d opened)\n", opened);
}

/* ---- 2. garbage while consumers run ------------------------------------------- */

/* Read-only mappings of the region file in this process: the consumers'. */
typedef struct mrange {
  uintptr_t lo, hi;
  uint64_t off;
} mrange;

static int nmaps;

#if TU_POSIX
static mrange maps[64];

/* By device and inode: the path shown may be the temporary name the file
 * was built under. */
static void load_maps(void) {
  struct stat rs;
  CHECK(stat(region_path, &rs) == 0);
  FILE *f = fopen("/proc/self/maps", "r");
  CHECK(f != NULL);
  char line[1024];
  nmaps = 0;
  while (fgets(line, sizeof line, f)) {
    unsigned long lo, hi, off, ino;
    unsigned maj, mnr;
    char perms[8];
    if (sscanf(line, "%lx-%lx %7s %lx %x:%x %lu", &lo, &hi, perms, &off, &maj, &mnr, &ino) != 7)
      continue;
    if (ino != (unsigned long)rs.st_ino || maj != major(rs.st_dev) || mnr != minor(rs.st_dev))
      continue;
    if (strcmp(perms, "r--s") != 0) continue;
    CHECK(nmaps < 64);
    maps[nmaps++] = (mrange){lo, hi, off};
  }
  fclose(f);
}
#else
/* Windows: check_view() asks VirtualQuery instead. */
static void load_maps(void) { nmaps = 2; }
#endif

typedef struct ring {
  uint64_t lo, hi; /* the data ring, as offsets in the region file */
  uint32_t mtu;
  uint64_t max_msg;
} ring;

/* The view must lie inside the data ring of a read-only mapping. */
static void check_view(const ring *rg, const rill_view *v, const char *who) {
  uintptr_t p = (uintptr_t)v->data;
  CHECKF(v->sz <= rg->mtu, "%s: view of %u bytes > mtu", who, v->sz);
#if TU_WINDOWS
  (void)p;
  CHECKF(v->sz == 0 || tu_in_readonly_view(v->data, v->sz),
         "%s: view %p (+%u) is in no read-only view of a file", who, v->data, v->sz);
  volatile uint8_t sum = 0;
  for (uint32_t k = 0; k < v->sz; k++) sum ^= ((const volatile uint8_t *)v->data)[k];
  (void)sum;
#else
  for (int pass = 0; pass < 2; pass++) {
    for (int i = 0; i < nmaps; i++) {
      const mrange *m = &maps[i];
      if (p < m->lo || p > m->hi || v->sz > m->hi - p) continue;
      uint64_t fo = m->off + (p - m->lo);
      CHECKF(fo >= rg->lo && fo + v->sz <= rg->hi,
             "%s: view [file offset %" PRIu64 ", +%u) outside the data ring [%" PRIu64
             ", %" PRIu64 ")", who, fo, v->sz, rg->lo, rg->hi);
      /* Read every byte: outside the mapping this faults. */
      volatile uint8_t sum = 0;
      for (uint32_t k = 0; k < v->sz; k++) sum ^= ((const volatile uint8_t *)v->data)[k];
      (void)sum;
      return;
    }
    load_maps(); /* maybe a new mapping: look again */
  }
  tu_failf(__FILE__, __LINE__, "%s: view %p (+%u) is in no read-only mapping of the region",
           who, v->data, v->sz);
#endif
}

/* Writes one piece of garbage somewhere a producer (or anyone) writes. */
static void scribble(const target *t, tu_rng *g) {
  uint8_t *ch = t->base + t->choff;
  const rill_chan_hdr *h = &t->hdr;
  uint64_t what = tu_below(g, 100);
  if (what < 70) {
    rill_desc *d = (rill_desc *)(ch + h->meta_off) + tu_below(g, h->depth);
    uint64_t cur = atomic_load_explicit(&d->seq, memory_order_relaxed), seq;
    switch (tu_below(g, 7)) {
    case 0: seq = tu_rand(g); break;
    case 1: seq = cur + h->depth; break;          /* looks like the next lap */
    case 2: seq = cur + h->depth * (2 + tu_below(g, 5)); break;
    case 3: seq = cur - h->depth; break;
    case 4: seq = cur + 1; break;
    case 5: seq = cur - 1; break;
    default: seq = cur; break;                   /* fields change under it */
    }
    uint32_t chunk;
    switch (tu_below(g, 5)) {
    case 0: chunk = (uint32_t)tu_rand(g); break;
    case 1: chunk = (uint32_t)(h->data_chunks - tu_below(g, 4)); break;
    case 2: chunk = (uint32_t)(h->data_chunks + tu_below(g, 4)); break;
    case 3: chunk = UINT32_MAX - (uint32_t)tu_below(g, 3); break;
    default: chunk = (uint32_t)tu_below(g, h->data_chunks); break;
    }
    uint16_t sz;
    switch (tu_below(g, 4)) {
    case 0: sz = (uint16_t)tu_rand(g); break;
    case 1: sz = (uint16_t)(h->mtu + tu_below(g, 3)); break;
    case 2: sz = UINT16_MAX; break;
    default: sz = (uint16_t)tu_below(g, h->mtu + 1); break;
    }
    int seq_first = (int)tu_below(g, 2);
    if (seq_first) atomic_store_explicit(&d->seq, seq, memory_order_relaxed);
    atomic_store_explicit(&d->chunk, chunk, memory_order_relaxed);
    atomic_store_explicit(&d->sz, sz, memory_order_relaxed);
    atomic_store_explicit(&d->ctl, (uint16_t)tu_rand(g), memory_order_relaxed);
    atomic_store_explicit(&d->sig, tu_rand(g), memory_order_relaxed);
    atomic_store_explicit(&d->tsorig, (uint32_t)tu_rand(g), memory_order_relaxed);
    if (!seq_first) atomic_store_explicit(&d->seq, seq, memory_order_release);
  } else if (what < 80) {
    rill_prod_page *pp = (rill_prod_page *)(ch + h->prod_off);
    switch (tu_below(g, 4)) {
    case 0: atomic_store(&pp->seq, tu_rand(g)); break;
    case 1: atomic_store(&pp->seq, atomic_load(&pp->seq) + tu_below(g, 200) - 100); break;
    case 2: atomic_store(&pp->state, (uint32_t)tu_rand(g)); break;
    default: atomic_store(&pp->backpressure, tu_rand(g)); break;
    }
  } else if (what < 88) {
    /* The channel header: endpoints keep their own validated copies. */
    volatile uint8_t *b = ch + tu_below(g, sizeof(rill_chan_hdr));
    *b = (uint8_t)tu_rand(g);
  } else if (what < 97) {
    rill_cursor *k = (rill_cursor *)(ch + h->cursor_off + tu_below(g, h->max_consumers) * RILL_PAGE);
    switch (tu_below(g, 4)) {
    case 0: atomic_store(&k->seq, tu_rand(g)); break;
    case 1: atomic_store(&k->seq, atomic_load(&k->seq) + tu_below(g, 2 * h->depth) - h->depth); break;
    case 2: atomic_store(&k->state, (uint32_t)tu_below(g, 4)); break;
    default: atomic_store(&k->mode, (uint32_t)tu_below(g, 4)); break;
    }
  } else {
    /* The region header and table (stats re-validate it). */
    volatile uint8_t *b = t->base + tu_below(g, RILL_TABLE_OFF + 64 * 2);
    *b = (uint8_t)tu_rand(g);
  }
}

typedef struct hostile_ctl {
  _Atomic int stop;
  _Atomic uint64_t writes;
  uint64_t seed;
  int mode; /* cycle_child: the consumer's mode */
} hostile_ctl;

static hostile_ctl *hc;
static target live;

static void hostile_writer(void *arg) {
  hc = arg;
  seed = hc->seed;
  tu_path(region_path, sizeof region_path, REGION);
  map_target(&live, "live");
  tu_rng g = {seed ^ 3};
  uint64_t n = 0;
  while (!atomic_load_explicit(&hc->stop, memory_order_relaxed)) {
    scribble(&live, &g);
    if ((++n & 1023) == 0) atomic_store_explicit(&hc->writes, n, memory_order_relaxed);
  }
  atomic_store(&hc->writes, n);
  unmap_target(&live);
}

/* A call that never returns is a failure too: exercise() arms an alarm and
 * says which call it is in. */
static const char *volatile in_call = "(none)";

#if TU_POSIX
static void on_alarm(int sig) {
  (void)sig;
  static const char m[] = "test_hostile: FAIL: no return within 5 s from ";
  ssize_t w = write(2, m, sizeof m - 1);
  w = write(2, in_call, strlen(in_call));
  w = write(2, "\n", 1);
  (void)w;
  _exit(1);
}

static void arm_hang_alarm(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sigaction(SIGALRM, &sa, NULL);
}

static void hang_bound(unsigned seconds) { alarm(seconds); }
#else
static void arm_hang_alarm(void) {
  tu_skip_part("a bound on each call", "no SIGALRM: a call that never returns is caught by "
               "the test's time bound instead");
}

static void hang_bound(unsigned seconds) { (void)seconds; }
#endif

typedef struct counts {
  uint64_t calls, views, corrupt, overrun, eagain, msgs, emsgsize, checks_failed, stats_err;
} counts;

/* One round of calls on consumer C; every result must be one the API
 * allows, every view in bounds, recv within its buffer. */
static void exercise(rill_consumer *c, const char *who, const ring *rg, tu_rng *g, counts *n) {
  rill_view v;
  int lossy = who[0] == 'l';
  hang_bound(5);
  for (int k = 0; k < 4; k++) {
    memset(&v, 0, sizeof v);
    in_call = lossy ? "rill_poll (lossy consumer)" : "rill_poll (reliable consumer)";
    int rc = rill_poll(c, &v);
    n->calls++;
    if (rc == 0) {
      check_view(rg, &v, who);
      n->views++;
      in_call = "rill_check";
      int ck = rill_check(c, &v);
      CHECKF(ck == 0 || ck == -RILL_EOVERRUN, "%s: check %d (%s)", who, ck, rill_strerror(ck));
      n->checks_failed += ck != 0;
    } else if (rc == -RILL_EOVERRUN) {
      n->overrun++;
    } else if (rc == -RILL_ECORRUPT) {
      n->corrupt++;
    } else {
      CHECKF(rc == -RILL_EAGAIN, "%s: poll %d (%s)", who, rc, rill_strerror(rc));
      n->eagain++;
    }
  }
  /* rill_recv with a buffer of exactly CAP bytes and a canary after it. */
  static const size_t caps[] = {0, 1, 63, 64, 100, 128, 129, 300, 511, 512, 4096};
  size_t cap = caps[tu_below(g, sizeof caps / sizeof caps[0])];
  uint8_t *buf = malloc(cap + 16);
  CHECK(buf != NULL);
  memset(buf + cap, 0xc5, 16);
  rill_meta m;
  memset(&m, 0, sizeof m);
  in_call = lossy ? "rill_recv (lossy consumer) in a ring of garbage"
                  : "rill_recv (reliable consumer) in a ring of garbage";
  int64_t got = rill_recv(c, cap ? buf : NULL, cap, &m);
  n->calls++;
  if (got >= 0) {
    CHECKF((uint64_t)got <= cap, "%s: recv returned %" PRId64 " bytes into %zu", who, got, cap);
    CHECKF(m.sz == (uint64_t)got, "%s: recv returned %" PRId64 ", meta.sz %" PRIu64, who, got, m.sz);
    n->msgs++;
  } else if (got == -RILL_EMSGSIZE) {
    CHECKF(m.sz > cap && m.sz <= rg->max_msg, "%s: EMSGSIZE with meta.sz %" PRIu64 ", cap %zu",
           who, m.sz, cap);
    n->emsgsize++;
  } else {
    CHECKF(got == -RILL_EAGAIN, "%s: recv %" PRId64 " (%s)", who, got, rill_strerror((int)got));
    n->eagain++;
  }
  for (int i = 0; i < 16; i++) CHECKF(buf[cap + i] == 0xc5, "%s: recv wrote past cap %zu", who, cap);
  free(buf);
  in_call = "rill_poll_spin";
  int rc = rill_poll_spin(c, &v, 2000);
  n->calls++;
  CHECKF(rc == 0 || rc == -RILL_EOVERRUN || rc == -RILL_ECORRUPT || rc == -RILL_ETIMEDOUT ||
         rc == -RILL_EAGAIN, "%s: poll_spin %d (%s)", who, rc, rill_strerror(rc));
  if (rc == 0) check_view(rg, &v, who);
  in_call = "rill_consumer_flush";
  if (tu_below(g, 16) == 0) CHECK_OK(rill_consumer_flush(c));
  hang_bound(0);
}

/* A cycle of descriptors whose sequence numbers are each "ahead" of the one
 * before, all the way around 2^64: slot 0 holds b, slot 1 holds c, slot 2
 * holds a, with b - a, c - b and a - c each about 2^64 / 3.  A consumer
 * expecting 0 would be sent from overrun to overrun forever if it trusted
 * them; rill_recv() must return. */
static void cycle_child(void *arg) {
  int mode = ((const hostile_ctl *)arg)->mode;
  tu_path(region_path, sizeof region_path, REGION);
  rill_region_opts o = tu_opts(0);
  rill_region *r;
  CHECK_OK(rill_region_open(REGION, &o, &r));
  rill_consumer *c;
  CHECK_OK(rill_consumer_join(r, "cycle", mode, &c));
  target t;
  map_target(&t, "cycle");
  rill_desc *meta = (rill_desc *)(t.base + t.choff + t.hdr.meta_off);
  const uint64_t D = 0x5555555555555540ull; /* a multiple of 64, about 2^64 / 3 */
  uint64_t a = 64, b = a + D + 1, c2 = b + D + 1;
  atomic_store(&meta[0].seq, b);
  atomic_store(&meta[1].seq, c2);
  atomic_store(&meta[2].seq, a);
  for (int i = 0; i < 3; i++) atomic_store(&meta[i].ctl, (uint16_t)RILL_CTL_MSG);
  rill_view v;
  /* Each planted seq is far ahead of the producer's: garbage, skipped
   * (test_hardening has the cycle that once made consumers deliver the
   * same messages for ever). */
  for (int i = 0; i < 10; i++) {
    int rc = rill_poll(c, &v);
    CHECKF(rc == -RILL_ECORRUPT || rc == -RILL_EAGAIN, "poll in the cycle: %d", rc);
  }
  uint8_t buf[64];
  rill_meta m;
  in_call = mode == RILL_LOSSY ? "rill_recv (lossy) on a cycle of overruns (docs: hostile producer)"
                               : "rill_recv (reliable) on a cycle of overruns";
  hang_bound(5);
  int64_t got = rill_recv(c, buf, sizeof buf, &m);
  hang_bound(0);
  CHECKF(got == -RILL_EAGAIN || got == -RILL_ECORRUPT || got == -RILL_EOVERRUN,
         "rill_recv in a cycle: %" PRId64, got);
  unmap_target(&t);
  rill_consumer_leave(c);
  rill_region_close(r);
}

static void test_cycle(void) {
  static const int modes[2] = {RILL_RELIABLE, RILL_LOSSY};
  for (int i = 0; i < 2; i++) {
    hostile_ctl *x = tu_shared(sizeof *x);
    x->mode = modes[i];
    tu_wait(tu_spawn("consumer in a cycle", cycle_child, x));
    nchecks += 11;
  }
}

static void test_live(rill_region *r) {
  rill_channel_opts co = {.depth = DEPTH, .mtu = MTU, .max_consumers = MAXC, .max_msg = MAXMSG};
  CHECK_OK(rill_channel_create(r, "live", &co));
  rill_consumer *rc, *lc;
  rill_producer *p;
  CHECK_OK(rill_consumer_join(r, "live", RILL_RELIABLE, &rc));
  CHECK_OK(rill_consumer_join(r, "live", RILL_LOSSY, &lc));
  CHECK_OK(rill_producer_join(r, "live", &p));
  map_target(&live, "live");
  uint8_t region_page[RILL_PAGE];
  memcpy(region_page, live.base, RILL_PAGE);
  ring rg = {.lo = live.choff + live.hdr.data_off,
             .hi = live.choff + live.hdr.data_off + live.hdr.data_chunks * RILL_CHUNK,
             .mtu = MTU, .max_msg = MAXMSG};
  load_maps();
  CHECKF(nmaps >= 2, "found %d read-only mappings of %s", nmaps, region_path);
  /* Some honest traffic first. */
  uint8_t b[MAXMSG];
  for (uint64_t i = 0; i < 20; i++) {
    tu_fill(b, (size_t)(i * 25), i, 0);
    CHECK_OK(rill_send(p, b, (size_t)(i * 25), i));
  }
  tu_rng g = {seed ^ 4};
  counts n = {0};
  rill_channel_stats st;
  rill_consumer_stats cs;
  const int ok_stats[] = {0, -RILL_ENOENT, -RILL_EMAGIC, -RILL_EVERSION, -RILL_ECORRUPT};

  /* (a) A writer process at full speed while the consumers run. */
  hc = tu_shared(sizeof *hc);
  hc->seed = seed;
  tu_pid w = tu_spawn("hostile writer", hostile_writer, hc);
  const double secs = tu_sanitized() ? 3.0 : 1.5;
  double t0 = tu_now();
  while (tu_now() - t0 < secs) {
    for (int k = 0; k < 16; k++) {
      exercise(rc, "reliable", &rg, &g, &n);
      exercise(lc, "lossy", &rg, &g, &n);
      /* The honest producer goes on too (it may find no credit). */
      size_t len = (size_t)tu_below(&g, MAXMSG + 1);
      int s = rill_send(p, b, len, 7);
      CHECKF(s == 0 || s == -RILL_EAGAIN, "send: %s", rill_strerror(s));
    }
    int sr = rill_channel_stats_get(r, "live", &st);
    CHECKF(allowed(sr, ok_stats, 5), "stats: %d (%s)", sr, rill_strerror(sr));
    n.stats_err += sr != 0;
    sr = rill_consumer_stats_get(r, "live", (uint32_t)tu_below(&g, MAXC), &cs);
    CHECKF(allowed(sr, ok_stats, 5), "consumer stats: %d (%s)", sr, rill_strerror(sr));
    n.stats_err += sr != 0;
    tu_kids_poll();
  }
  atomic_store(&hc->stop, 1);
  tu_wait(w);
  uint64_t forked_writes = atomic_load(&hc->writes);
  counts nf = n;

  /* (b) The same garbage from this thread, between the calls. */
  memset(&n, 0, sizeof n);
  t0 = tu_now();
  uint64_t writes = 0;
  while (tu_now() - t0 < secs) {
    for (int k = 0; k < 64; k++) {
      int nw = (int)tu_below(&g, 8);
      for (int i = 0; i < nw; i++, writes++) scribble(&live, &g);
      exercise(tu_below(&g, 2) ? rc : lc, tu_below(&g, 2) ? "reliable" : "lossy", &rg, &g, &n);
      size_t len = (size_t)tu_below(&g, MAXMSG + 1);
      int s = rill_send(p, b, len, 8);
      CHECKF(s == 0 || s == -RILL_EAGAIN, "send: %s", rill_strerror(s));
    }
    int sr = rill_channel_stats_get(r, "live", &st);
    CHECKF(allowed(sr, ok_stats, 5), "stats: %d (%s)", sr, rill_strerror(sr));
    n.stats_err += sr != 0;
    sr = rill_consumer_stats_get(r, "live", (uint32_t)tu_below(&g, MAXC), &cs);
    CHECKF(allowed(sr, ok_stats, 5), "consumer stats: %d (%s)", sr, rill_strerror(sr));
    n.stats_err += sr != 0;
  }
  CHECK_OK(rill_consumer_leave(rc));
  CHECK_OK(rill_consumer_leave(lc));
  CHECK_OK(rill_producer_leave(p));
  memcpy(live.base, region_page, RILL_PAGE); /* for the tests after this one */
  unmap_target(&live);
  printf("  forked writer: %" PRIu64 " writes; %" PRIu64 " calls: %" PRIu64 " views, %" PRIu64
         " msgs, %" PRIu64 " overruns, %" PRIu64 " ECORRUPT, %" PRIu64 " EMSGSIZE, %" PRIu64
         " failed checks\n", forked_writes, nf.calls, nf.views, nf.msgs, nf.overrun, nf.corrupt,
         nf.emsgsize, nf.checks_failed);
  printf("  in-thread writer: %" PRIu64 " writes; %" PRIu64 " calls: %" PRIu64 " views, %" PRIu64
         " msgs, %" PRIu64 " overruns, %" PRIu64 " ECORRUPT, %" PRIu64 " EMSGSIZE\n", writes,
         n.calls, n.views, n.msgs, n.overrun, n.corrupt, n.emsgsize);
  /* The garbage must have reached the consumers. */
  CHECK(nf.corrupt + n.corrupt > 0 && nf.overrun + n.overrun > 0);
  CHECK(nf.views + n.views > 0);
  nchecks += nf.calls + n.calls;
}

static const tu_role roles[] = {TU_ROLE(hostile_writer), TU_ROLE(cycle_child), {0}};

int main(int argc, char **argv) {
  tu_start_roles("hostile", 120, argc, argv, roles);
  const char *s = getenv("RILL_TEST_SEED");
  seed = s ? strtoull(s, NULL, 0) : tu_ns();
  printf("  seed %" PRIu64 " (RILL_TEST_SEED=%" PRIu64 " repeats it)\n", seed, seed);
  rill_region_opts o = tu_opts(4 << 20);
  rill_region *r;
  CHECK_OK(rill_region_create(REGION, &o, &r));
  tu_path(region_path, sizeof region_path, REGION);
  test_bad_headers(r);
  test_bad_region_pages();
  arm_hang_alarm();
  /* Made now: test_live() damages the region's table. */
  rill_channel_opts co = {.depth = DEPTH, .mtu = MTU, .max_consumers = MAXC, .max_msg = MAXMSG};
  CHECK_OK(rill_channel_create(r, "cycle", &co));
  test_live(r);
  test_cycle();
  rill_region_close(r);
  return tu_pass("%" PRIu64 " checked calls: damaged headers refused, garbage survived", nchecks);
}
