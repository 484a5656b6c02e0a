/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* Fuzz target: a region file's bytes.  The input is written as the region
 * file "fz" in a private directory (fuzz.h), then everything a tool or a
 * peer does with a region it finds is done to it: open it, read its info
 * and every object of its table, the stats, consumer stats and latency of
 * every object by name, join each as a reliable and a lossy consumer and
 * as the producer, send a few messages and poll, receive and check them.
 * Each call must return one of its documented codes and never crash, read
 * out of bounds or trip a sanitizer; a view must lie inside the data ring.
 * The seeds (tests/fuzz/corpus/region) are valid regions of different
 * geometries, made by gen_corpus.c, and damaged ones. */
#include "fuzz.h"

#include <string.h>

#define NAME "fz"
#define MAX_SLOTS 4u   /* consumer slots looked at per channel */
#define MAX_POLLS 64u  /* polls per consumer and round */

static uint8_t buf[1u << 17];

static int open_err_ok(int rc) {
  return rc == -RILL_EEMPTY || rc == -RILL_ETRUNC || rc == -RILL_EMAGIC ||
         rc == -RILL_EVERSION || rc == -RILL_ECORRUPT;
}

/* The errors of a call that finds and validates a channel by name. */
static int find_err_ok(int rc) {
  return rc == -RILL_ENOENT || rc == -RILL_EMAGIC || rc == -RILL_EVERSION ||
         rc == -RILL_ECORRUPT;
}

static void poll_some(rill_consumer *c, int lossy) {
  for (uint32_t i = 0; i < MAX_POLLS; i++) {
    rill_view v;
    int rc = rill_poll(c, &v);
    fuzz_check_poll(c, rc, &v);
    if (rc == 0 && lossy) {
      int k = rill_check(c, &v);
      FUZZ_CHECK(k == 0 || k == -RILL_EOVERRUN, k, 0);
    }
    if (rc == -RILL_EAGAIN) return;
  }
}

static void recv_some(rill_consumer *c) {
  for (uint32_t i = 0; i < MAX_POLLS; i++) {
    rill_meta m;
    const void *data = NULL;
    size_t cap = i & 1 ? sizeof buf : 64; /* small buffers: EMSGSIZE */
    int64_t rc = i & 2 ? rill_recv_view(c, buf, cap, &m, &data) : rill_recv(c, buf, cap, &m);
    fuzz_check_recv(c, rc, cap, &m, data, buf);
    if (rc == -RILL_EAGAIN) return;
  }
}

static void channel(rill_region *r, const char *name) {
  rill_channel_stats st;
  int rc = rill_channel_stats_get(r, name, &st);
  FUZZ_CHECK(rc == 0 || find_err_ok(rc), rc, 0);
  if (rc) {
    /* then nothing can join it either */
    rill_consumer *c;
    rill_producer *p;
    rc = rill_consumer_join(r, name, RILL_LOSSY, &c);
    FUZZ_CHECK(find_err_ok(rc), rc, 0);
    rc = rill_producer_join(r, name, &p);
    FUZZ_CHECK(find_err_ok(rc), rc, 0);
    return;
  }
  FUZZ_CHECK(st.depth >= 2 && st.mtu >= 1 && st.max_consumers >= 1 && st.max_msg >= st.mtu,
             st.depth, st.mtu);
  uint32_t slots = st.max_consumers < MAX_SLOTS ? st.max_consumers : MAX_SLOTS;
  for (uint32_t s = 0; s <= slots; s++) { /* and one past the last looked at */
    rill_consumer_stats cs;
    rill_latency h;
    int a = rill_consumer_stats_get(r, name, s, &cs);
    int b = rill_latency_get(r, name, s, &h);
    int want = s < st.max_consumers ? 0 : -RILL_EINVAL;
    FUZZ_CHECK(a == want && b == want, a, b);
    if (!a) (void)rill_latency_quantile(&h, 0.99);
  }

  rill_consumer *rel = NULL, *los = NULL;
  rill_producer *p = NULL;
  rc = rill_consumer_join(r, name, RILL_RELIABLE, &rel);
  FUZZ_CHECK(rc == 0 || rc == -RILL_EFULL, rc, 0);
  rc = rill_consumer_join(r, name, RILL_LOSSY, &los);
  FUZZ_CHECK(rc == 0 || rc == -RILL_EFULL, rc, 0);
  /* a producer recorded as alive in the file is not: its lock is gone */
  rc = rill_producer_join(r, name, &p);
  FUZZ_CHECK(rc == 0, rc, 0);
  if (rel) poll_some(rel, 0); /* what the file holds */
  if (los) poll_some(los, 1);
  static const size_t sizes[] = {0, 1, 63, 64, 65, 1000, 70000};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    size_t n = sizes[i] < sizeof buf ? sizes[i] : sizeof buf;
    memset(buf, (int)i, n);
    rc = rill_send(p, buf, n, i);
    FUZZ_CHECK(rc == 0 || rc == -RILL_EAGAIN || rc == -RILL_EMSGSIZE, rc, n);
    FUZZ_CHECK(rc != -RILL_EMSGSIZE || n > st.max_msg, rc, n);
  }
  void *res;
  if (rill_reserve(p, 1, &res) == 0) {
    memset(res, 7, 1);
    FUZZ_CHECK(rill_commit(p, 1, 99, RILL_CTL_MSG) == 0, 0, 0);
  }
  FUZZ_CHECK(rill_producer_flush(p) == 0, 0, 0);
  if (rel) recv_some(rel);
  if (los) {
    recv_some(los);
    int64_t k = rill_consumer_seek_last(los, 3);
    FUZZ_CHECK(k >= 0 && k <= 3, k, 0);
    poll_some(los, 1);
  }
  if (rel) {
    uint32_t slot = rill_consumer_slot(rel);
    FUZZ_CHECK(rill_consumer_leave(rel) == 0, 0, 0);
    rc = rill_consumer_rejoin(r, name, slot, &rel);
    FUZZ_CHECK(rc == 0, rc, slot);
    poll_some(rel, 0);
    rill_consumer_leave(rel);
  }
  rill_consumer_leave(los);
  rill_producer_leave(p);
  FUZZ_CHECK(rill_channel_stats_get(r, name, &st) == 0, 0, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (fuzz_write_file(NAME, data, size)) return 0;
  rill_region *r;
  rill_region_opts o = {.dir = fuzz_dir()};
  int rc = rill_region_open(NAME, &o, &r);
  FUZZ_CHECK(rc == 0 || open_err_ok(rc), rc, size);
  if (rc) return 0;
  rill_region_info info;
  FUZZ_CHECK(rill_region_info_get(r, &info) == 0, 0, 0);
  FUZZ_CHECK(info.nobjects <= 62 && info.size <= size, info.nobjects, info.size);
  for (uint32_t i = 0; i <= info.nobjects; i++) {
    rill_object_info oi;
    rc = rill_region_object_get(r, i, &oi);
    FUZZ_CHECK(i < info.nobjects ? rc == 0 : rc == -RILL_ENOENT, rc, i);
    if (rc) break;
    FUZZ_CHECK(memchr(oi.name, 0, sizeof oi.name) && rill_name_valid(oi.name), i, 0);
    FUZZ_CHECK(oi.off >= 4096 && oi.off <= info.size && oi.size <= info.size - oi.off,
               oi.off, oi.size);
    channel(r, oi.name);
  }
  FUZZ_CHECK(rill_region_in_use(NAME, fuzz_dir()) == 1, 0, 0);
  rill_region_close(r);
  return 0;
}
