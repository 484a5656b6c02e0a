/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* Makes the seed corpus of the fuzz targets:
 *   rill_fuzz_corpus DIR   writes DIR/region/ and DIR/consumer/
 * region: valid region files of different geometries (no channel, one,
 * two; idle, with traffic, with endpoints still joined as a crashed
 * process leaves them) and damaged ones (empty, truncated, a wrong magic,
 * version, count, offset or channel field).  Times and pids are zeroed,
 * so that the files only change when the layout does.
 * consumer: programs for fuzz_consumer.c (its header comment has the
 * operations): clean traffic of every size, lapping, hostile writes, and
 * the sequence-number cycle of fuzz.h.
 * The corpus is committed (tests/fuzz/corpus); run this again after a
 * change of the layout or of fuzz_consumer.c's operations. */
#include "fuzz.h"
#include "layout.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

static const char *outdir;

static void die(const char *what, int rc) {
  fprintf(stderr, "rill_fuzz_corpus: %s: %s\n", what, rc < 0 ? rill_strerror(rc) : strerror(errno));
  exit(1);
}

static void save(const char *sub, const char *name, const uint8_t *b, size_t n) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s/%s", outdir, sub, name);
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(b, 1, n, f) != n || fclose(f)) die(path, 0);
}

/* ---- region files --------------------------------------------------------- */

typedef struct chan_spec {
  const char *name;
  rill_channel_opts o;
} chan_spec;

static rill_region *make_region(const chan_spec *cs, int n) {
  uint64_t size = RILL_PAGE;
  for (int i = 0; i < n; i++) size += rill_channel_footprint(&cs[i].o);
  if (size < 2 * RILL_PAGE) size = 2 * RILL_PAGE;
  rill_region_unlink("fz", fuzz_dir());
  rill_region_opts ro = {.size = size, .dir = fuzz_dir()};
  rill_region *r;
  int rc = rill_region_create("fz", &ro, &r);
  if (rc) die("rill_region_create", rc);
  for (int i = 0; i < n; i++)
    if ((rc = rill_channel_create(r, cs[i].name, &cs[i].o))) die("rill_channel_create", rc);
  return r;
}

/* The region file now, with times and pids zeroed. */
static uint8_t *snapshot(size_t *n) {
  size_t sz;
  uint8_t *m = fuzz_map_file("fz", &sz);
  if (!m) die("map", 0);
  uint8_t *b = malloc(sz);
  if (!b) die("malloc", 0);
  memcpy(b, m, sz);
  rill_region_hdr *h = (rill_region_hdr *)b;
  h->created_ns = 0;
  h->creator_pid = h->creator_uid = 0;
  const rill_obj_entry *t = (const rill_obj_entry *)(b + RILL_TABLE_OFF);
  for (uint32_t i = 0; i < h->obj_cnt; i++) {
    uint8_t *ch = b + t[i].off;
    rill_chan_hdr *c = (rill_chan_hdr *)ch;
    c->created_ns = 0;
    rill_prod_page *p = (rill_prod_page *)(ch + c->prod_off);
    atomic_store(&p->pid, 0);
    atomic_store(&p->hb_ns, 0);
    for (uint32_t k = 0; k < c->max_consumers; k++) {
      rill_cursor *cur = (rill_cursor *)(ch + c->cursor_off + (uint64_t)k * RILL_PAGE);
      atomic_store(&cur->pid, 0);
      atomic_store(&cur->hb_ns, 0);
      atomic_store(&cur->lat_sum, 0);
      for (uint32_t j = 0; j < RILL_LAT_BUCKETS; j++) atomic_store(&cur->lat[j], 0);
    }
    rill_desc *d = (rill_desc *)(ch + c->meta_off);
    for (uint32_t k = 0; k < c->depth; k++) atomic_store(&d[k].tspub, 0);
  }
  munmap(m, sz);
  *n = sz;
  return b;
}

static void traffic(rill_region *r, const char *name, int leave) {
  rill_producer *p;
  rill_consumer *rel, *los;
  int rc;
  if ((rc = rill_consumer_join(r, name, RILL_RELIABLE, &rel))) die("join", rc);
  if ((rc = rill_consumer_join(r, name, RILL_LOSSY, &los))) die("join", rc);
  if ((rc = rill_producer_join(r, name, &p))) die("join", rc);
  rill_channel_stats st;
  rill_channel_stats_get(r, name, &st);
  static uint8_t buf[1 << 16];
  for (uint64_t i = 0; i < 3 * st.depth; i++) {
    uint64_t n = (i * 37) % (st.max_msg + 1);
    memset(buf, (int)i, n);
    if (rill_send(p, buf, n, i) == -RILL_EAGAIN) {
      rill_meta m;
      while (rill_recv(rel, buf, sizeof buf, &m) >= 0) {}
      rill_send(p, buf, n, i);
    }
  }
  rill_view v;
  for (int i = 0; i < 3; i++) rill_poll(rel, &v);
  rill_producer_flush(p);
  rill_consumer_flush(rel);
  if (leave) {
    rill_consumer_leave(rel);
    rill_consumer_leave(los);
    rill_producer_leave(p);
  }
  /* else left joined: the file shows them alive, and dead once we exit */
}

static uint8_t *region_seed(const char *file, const chan_spec *cs, int n, int tr, int leave,
                            size_t *len) {
  rill_region *r = make_region(cs, n);
  for (int i = 0; i < n && tr; i++) traffic(r, cs[i].name, leave);
  uint8_t *b = snapshot(len);
  save("region", file, b, *len);
  rill_region_close(r);
  return b;
}

static void region_seeds(void) {
  size_t n;
  free(region_seed("no-channel", NULL, 0, 0, 1, &n));
  chan_spec tiny[] = {{"t", {.depth = 2, .mtu = 1, .max_consumers = 2}}};
  free(region_seed("tiny-d2-m1", tiny, 1, 1, 1, &n));
  chan_spec mid[] = {{"quotes", {.depth = 16, .mtu = 100, .max_consumers = 3, .max_msg = 700}}};
  chan_spec two[] = {{"a", {.depth = 4, .mtu = 64, .max_consumers = 2}},
                     {"b.2", {.depth = 32, .mtu = 8, .max_consumers = 4, .max_msg = 128}}};
  free(region_seed("two-channels-joined", two, 2, 1, 0, &n));
  chan_spec big[] = {{"m", {.depth = 8, .mtu = 4000, .max_consumers = 1}}};
  free(region_seed("d8-m4000-idle", big, 1, 0, 1, &n));

  /* damaged copies of the one with traffic */
  size_t gn;
  uint8_t *g = region_seed("d16-m100-traffic", mid, 1, 1, 1, &gn);
  uint8_t *b = malloc(gn);
  rill_region_hdr *h = (rill_region_hdr *)b;
  rill_obj_entry *e = (rill_obj_entry *)(b + RILL_TABLE_OFF);
#define DAMAGED(name, change) \
  do { memcpy(b, g, gn); change; save("region", name, b, gn); } while (0)
  save("region", "empty", g, 0);
  save("region", "truncated-header", g, 100);
  save("region", "truncated-page", g, RILL_PAGE);
  save("region", "truncated-channel", g, gn - RILL_PAGE);
  DAMAGED("bad-magic", b[0] ^= 1);
  DAMAGED("bad-version", h->version = 3);
  DAMAGED("bad-size", h->size = gn + RILL_PAGE);
  DAMAGED("bad-count", atomic_store(&h->obj_cnt, RILL_REGION_MAX_OBJECTS + 1));
  DAMAGED("bad-alloc", h->alloc_off = 3);
  DAMAGED("bad-entry-off", e[0].off = gn);
  DAMAGED("bad-entry-name", e[0].name[0] = '.');
  rill_chan_hdr *c = (rill_chan_hdr *)(b + RILL_PAGE);
  DAMAGED("bad-chan-magic", atomic_store(&c->magic, 1));
  DAMAGED("bad-chan-depth", c->depth = 3);
  DAMAGED("bad-chan-mtu", c->mtu = 70000);
  DAMAGED("bad-chan-meta-off", c->meta_off += RILL_PAGE);
  DAMAGED("bad-chan-chunks", c->data_chunks *= 2);
  DAMAGED("bad-chan-name", c->name[0] = 'X');
  rill_desc *d = (rill_desc *)(b + RILL_PAGE + c->meta_off);
  DAMAGED("bad-desc-chunk", atomic_store(&d[0].chunk, 0xffffffffu); atomic_store(&d[1].sz, 65535));
  DAMAGED("bad-desc-seq", atomic_store(&d[2].seq, 1ull << 63));
  rill_cursor *k = (rill_cursor *)(b + RILL_PAGE + c->cursor_off);
  DAMAGED("bad-cursor", atomic_store(&k->mode, 9); atomic_store(&k->seq, ~0ull));
  free(b);
  free(g);
}

/* ---- consumer programs (fuzz_consumer.c) ---------------------------------- */

static uint8_t prog[4096];
static size_t plen;

static void put(unsigned n, uint32_t x) {
  for (unsigned i = 0; i < n; i++) prog[plen++] = (uint8_t)(x >> (8 * i));
}

/* the geometry: depth 2 << dl, mtu, consumer slots 2 + cs, fragments */
static void geometry(uint32_t dl, uint32_t mtu, uint32_t cs, uint32_t frags) {
  plen = 0;
  put(1, dl);
  put(1, mtu - 1);
  put(1, cs);
  put(1, frags - 1);
}

enum { SEND = 0, POLL_R = 3, POLL_L = 4, RECV_R = 5, RECV_L = 6, HOSTILE = 7, SEQ = 8, DESC = 9,
       PROD_REJOIN = 10, CONS_REJOIN = 11, SEEK = 12, WAIT = 13, STATS = 14, DRAIN = 15 };

static void send(uint32_t n) { put(1, SEND); put(2, n); }
static void op(uint32_t o, uint32_t arg) { put(1, o); put(1, arg); }

static void consumer_seeds(void) {
  /* clean: sizes from 0 to max_msg, polls and receives of every kind */
  geometry(3, 100, 0, 4); /* depth 16, mtu 100, max_msg 400 */
  for (uint32_t n = 0; n <= 400; n += 57) send(n);
  op(POLL_R, 5); op(RECV_R, 1); op(RECV_R, 3); op(RECV_R, 0); op(RECV_R, 1);
  op(RECV_L, 1); op(POLL_L, 15);
  send(401); send(100); op(RECV_R, 2 | 1); op(RECV_L, 3);
  put(1, DRAIN);
  save("consumer", "clean-sizes", prog, plen);

  /* lapping: the lossy consumer falls behind, seeks back */
  geometry(1, 8, 1, 2); /* depth 4, mtu 8 */
  for (int i = 0; i < 12; i++) { send((uint32_t)i * 3); op(RECV_R, 1); }
  op(POLL_L, 3); op(RECV_L, 1); put(1, SEEK | (2 << 4)); op(POLL_L, 8);
  put(1, PROD_REJOIN); put(1, CONS_REJOIN); put(1, CONS_REJOIN | 0x10);
  send(5); put(1, SEND | 0x10); put(2, 3); /* reserve and commit */
  put(1, WAIT); put(1, WAIT | 0x10 | 0x80); put(1, WAIT | 0x20); put(1, WAIT | 0x40);
  put(1, WAIT | 0x60);
  put(1, STATS);
  save("consumer", "lapping-rejoin", prog, plen);

  /* hostile: a seq ahead (overrun), a chunk and sz out of the ring, bytes
   * in every area */
  geometry(2, 64, 2, 2); /* depth 8, mtu 64 */
  for (int i = 0; i < 4; i++) send(10);
  put(1, SEQ); put(1, 2); put(1, 0); put(2, 9);          /* slot 2: producer + 9 */
  put(1, DESC); put(1, 1); put(1, 3); put(4, 0xfffffff0u); put(2, 65535);
  op(POLL_R, 8); op(POLL_L, 8);
  for (uint32_t a = 0; a < 7; a++) {
    put(1, HOSTILE); put(1, a); put(2, 40 + a); put(1, 7);
    put(4, 0xdeadbeef); put(4, 0xffffffff);
  }
  send(70); op(RECV_R, 1); op(RECV_L, 1); put(1, PROD_REJOIN); put(1, CONS_REJOIN);
  put(1, STATS);
  save("consumer", "hostile-areas", prog, plen);

  /* the cycle (fuzz.h): depth 4, four whole messages, then slot i holds
   * i + i * 2^62.  From each one the next is "ahead" (by 2^62), and from
   * the last the first is too: a consumer goes round for ever. */
  geometry(1, 16, 0, 1);
  for (int i = 0; i < 4; i++) send(1);
  for (uint32_t i = 0; i < 4; i++) {
    put(1, SEQ); put(1, i); put(1, 3 | (2 << 2) | (i << 4)); put(2, i);
  }
  put(1, DRAIN);
  save("consumer", "seq-cycle", prog, plen);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: rill_fuzz_corpus DIR (writes DIR/region and DIR/consumer)\n");
    return 2;
  }
  outdir = argv[1];
  char path[1024];
  if (mkdir(outdir, 0755) && errno != EEXIST) die(outdir, 0);
  for (int i = 0; i < 2; i++) {
    snprintf(path, sizeof path, "%s/%s", outdir, i ? "consumer" : "region");
    if (mkdir(path, 0755) && errno != EEXIST) die(path, 0);
  }
  region_seeds();
  consumer_seeds();
  return 0;
}
