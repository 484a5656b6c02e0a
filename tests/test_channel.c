/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* Channels in one process (plus a few forked helpers): creation and options,
 * producer exclusivity, poll/recv, zero-copy reserve/commit, fragments,
 * buffer sizes, consumer slots, statistics, producer restart (clean and
 * after kill -9), lossy consumers without backpressure, sequence wrap. */
#include "layout.h"
#include "testutil.h"

#define REGION "chan"

static rill_region *R;
static int checks_run;

static void mkchan(const char *name, uint32_t depth, uint32_t mtu, uint32_t maxc,
                   uint64_t max_msg) {
  rill_channel_opts o = {.depth = depth, .mtu = mtu, .max_consumers = maxc, .max_msg = max_msg};
  CHECK_OK(rill_channel_create(R, name, &o));
}

/* Sends message SIG of N bytes (payload derived from SIG); must succeed. */
static void send_msg(rill_producer *p, uint64_t sig, size_t n) {
  static uint8_t buf[1 << 16];
  CHECK(n <= sizeof buf);
  tu_fill(buf, n, sig, 0);
  CHECK_OK(rill_send(p, buf, n, sig));
}

/* Receives the next whole message: it must be SIG with N bytes and no loss. */
static rill_meta recv_msg(rill_consumer *c, uint64_t sig, size_t n) {
  static uint8_t buf[1 << 16];
  rill_meta m;
  memset(&m, 0xee, sizeof m);
  int64_t got = rill_recv(c, buf, sizeof buf, &m);
  CHECKF(got == (int64_t)n, "recv of sig %" PRIu64 ": %" PRId64 " (%s), want %zu bytes", sig,
         got, got < 0 ? rill_strerror((int)got) : "ok", n);
  CHECK_EQ(m.sig, sig);
  CHECK_EQ(m.sz, n);
  CHECK_EQ(m.lost, 0);
  CHECK(m.ctl & RILL_CTL_EOM);
  CHECK_PAYLOAD(buf, n, sig, 0);
  return m;
}

/* tspub must lie in [before, after] as CLOCK_MONOTONIC ns, low 32 bits,
 * give or take 20 us: a thread that moves between CPUs may read clocks a few
 * tens of ns apart (seen on VMs). */
static void check_ts(uint32_t ts, uint64_t before, uint64_t after) {
  const uint64_t slack = 20000;
  uint32_t lo = (uint32_t)(before - slack);
  uint32_t d = (uint32_t)(ts - lo), w = (uint32_t)(after + slack - (before - slack));
  CHECKF(d <= w, "tspub %u not within [%u, %u] (+/- %u ns)", ts, (uint32_t)before,
         (uint32_t)after, (unsigned)slack);
}

/* ---- options and creation ------------------------------------------------ */

static void test_create(void) {
  rill_channel_opts dflt = {0};
  rill_chan_geom g;
  rill__chan_geom(4096, 1024, 8, &g);
  CHECK_EQ(rill_channel_footprint(&dflt), g.size);
  CHECK_EQ(rill_channel_footprint(NULL), g.size);
  CHECK_EQ(rill_channel_footprint(&dflt) % RILL_PAGE, 0);
  rill_channel_opts ok = {.depth = 64, .mtu = 100, .max_consumers = 3, .max_msg = 3200};
  rill__chan_geom(64, 100, 3, &g);
  CHECK_EQ(rill_channel_footprint(&ok), g.size);
  const rill_channel_opts edge_ok[] = {
    {.depth = 2, .mtu = 1, .max_consumers = 1},
    {.depth = 1u << 24, .mtu = 64},
    {.depth = 64, .mtu = 65535, .max_consumers = 256},
    {.depth = 64, .mtu = 10, .max_msg = 10},
    {.depth = 64, .mtu = 10, .max_msg = 320},
  };
  for (size_t i = 0; i < sizeof edge_ok / sizeof edge_ok[0]; i++) {
    uint64_t f = rill_channel_footprint(&edge_ok[i]);
    CHECKF(f > 0 && f % RILL_PAGE == 0, "valid options #%zu: footprint %" PRIu64, i, f);
  }
  const rill_channel_opts bad[] = {
    {.depth = 3},
    {.depth = 1},
    {.depth = 96},
    {.depth = 1u << 25},
    {.depth = 0x80000000u},
    {.mtu = 65536},
    {.mtu = UINT32_MAX},
    {.max_consumers = 257},
    {.flags = 1},
    {.depth = 64, .mtu = 10, .max_msg = 9},          /* max_msg < mtu */
    {.depth = 64, .mtu = 10, .max_msg = 321},        /* 33 fragments > depth/2 */
    {.depth = 2, .mtu = 10, .max_msg = 11},          /* 2 fragments > 1 */
    {.depth = 64, .mtu = 10, .max_msg = 1ull << 63},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    CHECKF(rill_channel_footprint(&bad[i]) == 0, "invalid options #%zu have a footprint", i);
    int rc = rill_channel_create(R, "bad", &bad[i]);
    CHECKF(rc == -RILL_EINVAL, "invalid options #%zu: create returned %d (%s)", i, rc,
           rill_strerror(rc));
    checks_run += 2;
  }
  CHECK_RC(rill_channel_create(R, "", &ok), -RILL_EINVAL);
  CHECK_RC(rill_channel_create(R, ".dot", &ok), -RILL_EINVAL);
  CHECK_RC(rill_channel_create(R, "a/b", &ok), -RILL_EINVAL);
  CHECK_RC(rill_channel_create(R, NULL, &ok), -RILL_EINVAL);
  CHECK_RC(rill_channel_create(NULL, "x", &ok), -RILL_EINVAL);
  CHECK_RC(rill_channel_create(R, "0123456789012345678901234567890123456789", &ok),
           -RILL_EINVAL);

  CHECK_OK(rill_channel_create(R, "c1", &ok));
  CHECK_RC(rill_channel_create(R, "c1", &ok), -RILL_EEXIST);
  CHECK_RC(rill_channel_create(R, "c1", &dflt), -RILL_EEXIST);
  rill_channel_stats st;
  CHECK_OK(rill_channel_stats_get(R, "c1", &st));
  CHECK_EQ(st.depth, 64);
  CHECK_EQ(st.mtu, 100);
  CHECK_EQ(st.max_consumers, 3);
  CHECK_EQ(st.max_msg, 3200);
  CHECK_EQ(st.nconsumers, 0);
  CHECK_EQ(st.producer_joined, 0);
  CHECK_RC(rill_channel_stats_get(R, "nope", &st), -RILL_ENOENT);
  /* Defaults as documented. */
  CHECK_OK(rill_channel_create(R, "c2", NULL));
  CHECK_OK(rill_channel_stats_get(R, "c2", &st));
  CHECK_EQ(st.depth, 4096);
  CHECK_EQ(st.mtu, 1024);
  CHECK_EQ(st.max_consumers, 8);
  CHECK_EQ(st.max_msg, 16 * 1024);
  rill_channel_opts small_depth = {.depth = 8, .mtu = 100};
  CHECK_OK(rill_channel_create(R, "c3", &small_depth));
  CHECK_OK(rill_channel_stats_get(R, "c3", &st));
  CHECK_EQ(st.max_msg, 4 * 100); /* min(16, depth/2) * mtu */

  rill_producer *p;
  rill_consumer *c;
  CHECK_RC(rill_producer_join(R, "nope", &p), -RILL_ENOENT);
  CHECK_RC(rill_consumer_join(R, "nope", RILL_RELIABLE, &c), -RILL_ENOENT);
  CHECK_RC(rill_consumer_join(R, "c1", 0, &c), -RILL_EINVAL);
  CHECK_RC(rill_consumer_join(R, "c1", 3, &c), -RILL_EINVAL);
  CHECK_RC(rill_consumer_join(R, "c1", RILL_RELIABLE, NULL), -RILL_EINVAL);
  CHECK_RC(rill_producer_join(R, "c1", NULL), -RILL_EINVAL);
  CHECK_RC(rill_producer_join(R, "", &p), -RILL_EINVAL);
  CHECK_OK(rill_producer_leave(NULL));
  CHECK_OK(rill_consumer_leave(NULL));

  /* No room: a small region, then a full object table. */
  rill_region_opts so = tu_opts(64 << 10);
  rill_region *sr;
  CHECK_OK(rill_region_create("small", &so, &sr));
  CHECK_RC(rill_channel_create(sr, "big", NULL), -RILL_ENOSPC);
  rill_channel_opts tiny = {.depth = 2, .mtu = 64, .max_consumers = 1};
  uint64_t tf = rill_channel_footprint(&tiny);
  /* header, producer, wait, one cursor, meta, data */
  CHECK_EQ(tf, 6 * RILL_PAGE);
  /* 60 KiB after the header: 2 tiny channels fit, the 3rd does not. */
  char nm[16];
  for (int i = 0; i < 2; i++) {
    snprintf(nm, sizeof nm, "t%d", i);
    CHECK_OK(rill_channel_create(sr, nm, &tiny));
  }
  CHECK_RC(rill_channel_create(sr, "t2", &tiny), -RILL_ENOSPC);
  rill_region_info info;
  CHECK_OK(rill_region_info_get(sr, &info));
  CHECK_EQ(info.nobjects, 2);
  CHECK_EQ(info.used, RILL_PAGE + 2 * tf);
  rill_region_close(sr);
  CHECK_OK(rill_region_unlink("small", tu_dir()));

  so.size = 4 << 20;
  CHECK_OK(rill_region_create("table", &so, &sr));
  for (int i = 0; i < RILL_REGION_MAX_OBJECTS; i++) {
    snprintf(nm, sizeof nm, "t%d", i);
    CHECK_OK(rill_channel_create(sr, nm, &tiny));
  }
  CHECK_RC(rill_channel_create(sr, "one-more", &tiny), -RILL_ENOSPC);
  /* Every one of them is usable. */
  for (int i = 0; i < RILL_REGION_MAX_OBJECTS; i++) {
    snprintf(nm, sizeof nm, "t%d", i);
    CHECK_OK(rill_producer_join(sr, nm, &p));
    CHECK_OK(rill_consumer_join(sr, nm, RILL_RELIABLE, &c));
    send_msg(p, (uint64_t)i, 33);
    recv_msg(c, (uint64_t)i, 33);
    rill_consumer_leave(c);
    rill_producer_leave(p);
  }
  rill_region_close(sr);
  CHECK_OK(rill_region_unlink("table", tu_dir()));
  checks_run += 60;
}

/* rill_recv(c, NULL, 0, &m) is allowed (only buf == NULL with cap > 0 is
 * EINVAL) and an empty message fits it.  In a child: with UBSan, a
 * memcpy(NULL, ..., 0) in the library aborts it. */
static void recv_null_child(void *arg) {
  (void)arg;
  rill_region *r = tu_region_open(REGION);
  rill_producer *p;
  rill_consumer *c;
  CHECK_OK(rill_consumer_join(r, "null", RILL_RELIABLE, &c));
  CHECK_OK(rill_producer_join(r, "null", &p));
  send_msg(p, 1, 0);
  rill_meta m;
  CHECK_RC(rill_recv(c, NULL, 0, &m), 0);
  CHECK_EQ(m.sig, 1);
  CHECK_RC(rill_recv(c, NULL, 10, &m), -RILL_EINVAL);
  rill_producer_leave(p);
  rill_consumer_leave(c);
  rill_region_close(r);
}


/* max_msg so large that counting its fragments overflows: still invalid.
 * (Checked last so that the other checks run even if this one fails.) */
static void max_msg_overflow_child(void *arg) {
  (void)arg;
  rill_region *r = tu_region_open(REGION);
  for (uint64_t d = 0; d < 10; d++) {
    rill_channel_opts o = {.depth = 64, .mtu = 10, .max_msg = UINT64_MAX - d};
    uint64_t f = rill_channel_footprint(&o);
    CHECKF(f == 0, "max_msg 2^64-1-%" PRIu64 " (mtu 10, depth 64) accepted: footprint %" PRIu64,
           d, f);
    int rc = rill_channel_create(r, "overflow", &o);
    CHECKF(rc == -RILL_EINVAL, "max_msg 2^64-1-%" PRIu64 ": create returned %d (%s)", d, rc,
           rill_strerror(rc));
  }
  rill_region_close(r);
}

/* ---- producer exclusivity ---------------------------------------------------- */

static void child_join_busy(void *arg) {
  (void)arg;
  rill_region *r = tu_region_open(REGION);
  rill_producer *p = NULL;
  CHECK_RC(rill_producer_join(r, "excl", &p), -RILL_EBUSY);
  rill_region_close(r);
}

static void child_join_ok(void *arg) {
  (void)arg;
  rill_region *r = tu_region_open(REGION);
  rill_producer *p = NULL;
  CHECK_OK(rill_producer_join(r, "excl", &p));
  send_msg(p, 1000, 10);
  CHECK_OK(rill_producer_leave(p));
  rill_region_close(r);
}

static void test_exclusive(void) {
  mkchan("excl", 64, 64, 2, 0);
  rill_producer *p1, *p2;
  rill_consumer *c;
  CHECK_OK(rill_consumer_join(R, "excl", RILL_RELIABLE, &c));
  CHECK_OK(rill_producer_join(R, "excl", &p1));
  CHECK_RC(rill_producer_join(R, "excl", &p2), -RILL_EBUSY);
  /* Through another handle of the region in this process, too. */
  rill_region *r2 = tu_region_open(REGION);
  CHECK_RC(rill_producer_join(r2, "excl", &p2), -RILL_EBUSY);
  tu_wait(tu_spawn("join while held", child_join_busy, NULL));
  rill_channel_stats st;
  CHECK_OK(rill_channel_stats_get(R, "excl", &st));
  CHECK_EQ(st.producer_joined, 1);
  send_msg(p1, 1, 5);
  CHECK_OK(rill_producer_leave(p1));
  CHECK_OK(rill_channel_stats_get(R, "excl", &st));
  CHECK_EQ(st.producer_joined, 0);
  /* Free again: another handle may join; then the child is refused. */
  CHECK_OK(rill_producer_join(r2, "excl", &p2));
  tu_wait(tu_spawn("join while held again", child_join_busy, NULL));
  send_msg(p2, 2, 6);
  CHECK_OK(rill_producer_leave(p2));
  /* And a child may join once nobody holds it. */
  tu_wait(tu_spawn("join when free", child_join_ok, NULL));
  recv_msg(c, 1, 5);
  recv_msg(c, 2, 6);
  recv_msg(c, 1000, 10);
  rill_meta m;
  uint8_t b[64];
  CHECK_RC(rill_recv(c, b, sizeof b, &m), -RILL_EAGAIN);
  rill_consumer_leave(c);
  rill_region_close(r2);
  checks_run += 12;
}

/* ---- round trip, zero copy ------------------------------------------------- */

static void test_roundtrip(void) {
  mkchan("rt", 64, 128, 2, 512);
  rill_producer *p;
  rill_consumer *c;
  rill_view v;
  rill_meta m;
  uint8_t buf[1024];
  CHECK_OK(rill_consumer_join(R, "rt", RILL_RELIABLE, &c));
  CHECK_RC(rill_poll(c, &v), -RILL_EAGAIN);
  CHECK_RC(rill_recv(c, buf, sizeof buf, &m), -RILL_EAGAIN);
  CHECK_OK(rill_producer_join(R, "rt", &p));
  CHECK_OK(rill_producer_set_stamp(p, RILL_STAMP_EVERY)); /* tspub checked below */
  CHECK_RC(rill_producer_set_stamp(p, 2), -RILL_EINVAL);
  CHECK_RC(rill_producer_set_stamp(NULL, RILL_STAMP_EVERY), -RILL_EINVAL);
  CHECK_RC(rill_poll(c, &v), -RILL_EAGAIN);
  rill_channel_stats st;
  CHECK_OK(rill_channel_stats_get(R, "rt", &st));
  const uint64_t s0 = st.seq;

  /* rill_send, rill_poll */
  uint64_t t0 = tu_ns();
  send_msg(p, 0x1122334455667788ull, 100);
  uint64_t t1 = tu_ns();
  memset(&v, 0xee, sizeof v);
  CHECK_OK(rill_poll(c, &v));
  CHECK_EQ(v.seq, s0);
  CHECK_EQ(v.sig, 0x1122334455667788ull);
  CHECK_EQ(v.sz, 100);
  CHECK_EQ(v.ctl, RILL_CTL_MSG);
  CHECK_EQ(v.tsorig, 0);
  check_ts(v.tspub, t0, t1);
  CHECK_PAYLOAD(v.data, 100, 0x1122334455667788ull, 0);
  CHECK_OK(rill_check(c, &v)); /* nothing overwrote it */
  CHECK_RC(rill_poll(c, &v), -RILL_EAGAIN);

  /* Empty message. */
  send_msg(p, 5, 0);
  CHECK_OK(rill_poll(c, &v));
  CHECK_EQ(v.seq, s0 + 1);
  CHECK_EQ(v.sz, 0);
  CHECK_EQ(v.ctl, RILL_CTL_MSG);
  send_msg(p, 6, 0);
  m = recv_msg(c, 6, 0);
  CHECK_EQ(m.seq, s0 + 2);

  /* Zero copy: reserve, write in place, commit_ts. */
  void *b1, *b2;
  CHECK_RC(rill_reserve(p, 129, &b1), -RILL_EMSGSIZE);
  CHECK_OK(rill_reserve(p, 50, &b1));
  CHECK_OK(rill_reserve(p, 128, &b2));
  CHECK(b1 == b2); /* the same space, resized */
  tu_fill(b2, 120, 77, 0);
  CHECK_RC(rill_commit_ts(p, 129, 77, RILL_CTL_MSG, 1), -RILL_EINVAL);
  CHECK_OK(rill_reserve(p, 128, &b2));
  CHECK(b1 == b2);
  uint16_t ctl = (uint16_t)(RILL_CTL_MSG | RILL_CTL_ERR | RILL_CTL_USER(0x1abc));
  t0 = tu_ns();
  CHECK_OK(rill_commit_ts(p, 120, 77, ctl, 0xdeadbeefu));
  t1 = tu_ns();
  CHECK_RC(rill_commit(p, 1, 78, RILL_CTL_MSG), -RILL_EINVAL); /* nothing reserved */
  CHECK_OK(rill_poll(c, &v));
  CHECK_EQ(v.seq, s0 + 3);
  CHECK_EQ(v.sig, 77);
  CHECK_EQ(v.sz, 120);
  CHECK_EQ(v.ctl, ctl);
  CHECK_EQ(v.tsorig, 0xdeadbeefu);
  check_ts(v.tspub, t0, t1);
  CHECK_PAYLOAD(v.data, 120, 77, 0);
  CHECK_RC(rill_poll(c, &v), -RILL_EAGAIN);
  /* rill_commit stamps tsorig 0; a zero-byte reservation works. */
  CHECK_OK(rill_reserve(p, 0, &b1));
  CHECK_OK(rill_commit(p, 0, 79, RILL_CTL_USER(3) | RILL_CTL_MSG));
  CHECK_OK(rill_reserve(p, 64, &b1));
  memset(b1, 0xab, 64);
  CHECK_OK(rill_commit(p, 64, 80, RILL_CTL_MSG));
  CHECK_OK(rill_poll(c, &v));
  CHECK_EQ(v.sig, 79);
  CHECK_EQ(v.sz, 0);
  CHECK_EQ(v.ctl, RILL_CTL_USER(3) | RILL_CTL_MSG);
  CHECK_EQ(v.tsorig, 0);
  CHECK_OK(rill_poll(c, &v));
  CHECK_EQ(v.seq, s0 + 5);
  CHECK_EQ(v.sig, 80);
  CHECK_EQ(v.sz, 64);
  for (int i = 0; i < 64; i++) CHECK_EQ(((const uint8_t *)v.data)[i], 0xab);

  /* Larger than max_msg: refused, nothing published. */
  CHECK_RC(rill_send(p, buf, 513, 1), -RILL_EMSGSIZE);
  CHECK_RC(rill_send(p, buf, SIZE_MAX, 1), -RILL_EMSGSIZE);
  CHECK_RC(rill_poll(c, &v), -RILL_EAGAIN);
  send_msg(p, 90, 512); /* exactly max_msg */
  recv_msg(c, 90, 512);

  /* Many round trips around the ring (depth 64) with polls in between. */
  for (uint64_t i = 0; i < 1000; i++) {
    size_t n = (size_t)tu_msg_size(1, i, 512);
    send_msg(p, 1000 + i, n);
    recv_msg(c, 1000 + i, n);
    CHECK_RC(rill_poll(c, &v), -RILL_EAGAIN);
  }
  rill_consumer_leave(c);
  rill_producer_leave(p);
  checks_run += 60;
}

/* ---- fragments ------------------------------------------------------------ */

static void test_fragments(void) {
  const uint32_t mtu = 100;
  mkchan("frag", 64, mtu, 2, 8 * mtu);
  rill_producer *p;
  rill_consumer *c;
  rill_view v;
  rill_meta m;
  static uint8_t buf[4096];
  CHECK_OK(rill_consumer_join(R, "frag", RILL_RELIABLE, &c));
  CHECK_OK(rill_producer_join(R, "frag", &p));
  rill_channel_stats st;
  CHECK_OK(rill_channel_stats_get(R, "frag", &st));
  uint64_t seq = st.seq;

  /* 5 * mtu + 7 bytes: six fragments, seen one by one with rill_poll. */
  const size_t n = 5 * mtu + 7;
  send_msg(p, 42, n);
  for (int k = 0; k < 6; k++) {
    CHECK_OK(rill_poll(c, &v));
    CHECK_EQ(v.seq, seq + (uint64_t)k);
    CHECK_EQ(v.sig, 42);
    CHECK_EQ(v.sz, k < 5 ? mtu : 7);
    uint16_t want = (uint16_t)((k == 0 ? RILL_CTL_SOM : 0) | (k == 5 ? RILL_CTL_EOM : 0));
    CHECKF(v.ctl == want, "fragment %d: ctl 0x%x, want 0x%x", k, v.ctl, want);
    CHECK_PAYLOAD(v.data, v.sz, 42, (uint64_t)k * mtu);
  }
  CHECK_RC(rill_poll(c, &v), -RILL_EAGAIN);
  seq += 6;

  /* rill_recv reassembles it. */
  send_msg(p, 43, n);
  memset(&m, 0xee, sizeof m);
  CHECK_RC(rill_recv(c, buf, sizeof buf, &m), (int64_t)n);
  CHECK_EQ(m.seq, seq);
  CHECK_EQ(m.sig, 43);
  CHECK_EQ(m.sz, n);
  CHECK_EQ(m.lost, 0);
  CHECK_EQ(m.ctl, RILL_CTL_EOM);
  CHECK_PAYLOAD(buf, n, 43, 0);
  seq += 6;
  /* Exact multiples of the mtu: no empty last fragment. */
  send_msg(p, 44, 3 * mtu);
  for (int k = 0; k < 3; k++) {
    CHECK_OK(rill_poll(c, &v));
    CHECK_EQ(v.sz, mtu);
    CHECK_EQ(v.ctl, (k == 0 ? RILL_CTL_SOM : 0) | (k == 2 ? RILL_CTL_EOM : 0));
  }
  CHECK_RC(rill_poll(c, &v), -RILL_EAGAIN);
  seq += 3;

  /* Fragments made by hand with reserve/commit: rill_recv keeps what it
   * gathered while the rest is missing. */
  void *b;
  uint32_t tso = 0x01020304u;
  for (int k = 0; k < 3; k++) {
    CHECK_OK(rill_reserve(p, mtu, &b));
    tu_fill(b, mtu, 45, (uint64_t)k * mtu);
    uint16_t ctl = (uint16_t)((k == 0 ? RILL_CTL_SOM : 0) | (k == 2 ? RILL_CTL_EOM : 0) |
                              RILL_CTL_USER(k + 1));
    CHECK_OK(rill_commit_ts(p, mtu, 45, ctl, tso + (uint32_t)k));
    if (k < 2) CHECK_RC(rill_recv(c, buf, sizeof buf, &m), -RILL_EAGAIN);
  }
  memset(&m, 0xee, sizeof m);
  CHECK_RC(rill_recv(c, buf, sizeof buf, &m), 3 * mtu);
  CHECK_EQ(m.seq, seq);
  CHECK_EQ(m.sig, 45);
  CHECK_EQ(m.sz, 3 * mtu);
  CHECK_EQ(m.ctl, RILL_CTL_EOM | RILL_CTL_USER(3)); /* the last fragment's */
  CHECK_EQ(m.lost, 0);
  CHECK_PAYLOAD(buf, 3 * mtu, 45, 0);
  seq += 3;

  /* Too small a buffer: EMSGSIZE with the size, then the same message. */
  send_msg(p, 46, n);
  send_msg(p, 47, 30);
  memset(&m, 0xee, sizeof m);
  CHECK_RC(rill_recv(c, buf, 10, &m), -RILL_EMSGSIZE);
  CHECK_EQ(m.sz, n);
  CHECK_RC(rill_recv(c, buf, n - 1, &m), -RILL_EMSGSIZE);
  CHECK_EQ(m.sz, n);
  CHECK_RC(rill_recv(c, NULL, 0, &m), -RILL_EMSGSIZE);
  CHECK_EQ(m.sz, n);
  memset(&m, 0xee, sizeof m);
  CHECK_RC(rill_recv(c, buf, n, &m), (int64_t)n);
  CHECK_EQ(m.seq, seq);
  CHECK_EQ(m.sig, 46);
  CHECK_EQ(m.sz, n);
  CHECK_EQ(m.lost, 0);
  CHECK_PAYLOAD(buf, n, 46, 0);
  seq += 6;
  /* A single-fragment message too. */
  CHECK_RC(rill_recv(c, buf, 29, &m), -RILL_EMSGSIZE);
  CHECK_EQ(m.sz, 30);
  memset(&m, 0xee, sizeof m);
  CHECK_RC(rill_recv(c, buf, 30, &m), 30);
  CHECK_EQ(m.seq, seq);
  CHECK_EQ(m.sig, 47);
  CHECK_EQ(m.lost, 0);
  CHECK_EQ(m.ctl, RILL_CTL_MSG);
  CHECK_PAYLOAD(buf, 30, 47, 0);
  seq += 1;
  CHECK_RC(rill_recv(c, buf, sizeof buf, &m), -RILL_EAGAIN);
  /* An empty message fits an empty buffer. */
  send_msg(p, 48, 0);
  CHECK_RC(rill_recv(c, buf, 0, &m), 0);
  CHECK_EQ(m.sig, 48);
  CHECK_EQ(m.seq, seq);
  seq += 1;

  /* The largest message (8 fragments) many times around the ring. */
  for (uint64_t i = 0; i < 200; i++) {
    size_t len = (i & 1) ? 8 * mtu : (size_t)tu_msg_size(2, i, 8 * mtu);
    send_msg(p, 100 + i, len);
    m = recv_msg(c, 100 + i, len);
    CHECK_EQ(m.seq, seq);
    seq += tu_frags(len, mtu);
  }
  rill_consumer_leave(c);
  rill_producer_leave(p);
  checks_run += 70;
}

/* ---- consumer slots ----------------------------------------------------------- */

static void child_join_full(void *arg) {
  (void)arg;
  rill_region *r = tu_region_open(REGION);
  rill_consumer *c = NULL;
  CHECK_RC(rill_consumer_join(r, "slots", RILL_LOSSY, &c), -RILL_EFULL);
  rill_region_close(r);
}

static void test_slots(void) {
  mkchan("slots", 64, 64, 2, 0);
  rill_consumer *c1, *c2, *c3;
  CHECK_OK(rill_consumer_join(R, "slots", RILL_RELIABLE, &c1));
  CHECK_OK(rill_consumer_join(R, "slots", RILL_LOSSY, &c2));
  CHECK_RC(rill_consumer_join(R, "slots", RILL_RELIABLE, &c3), -RILL_EFULL);
  CHECK_RC(rill_consumer_join(R, "slots", RILL_LOSSY, &c3), -RILL_EFULL);
  tu_wait(tu_spawn("consumer join when full", child_join_full, NULL));
  rill_channel_stats st;
  CHECK_OK(rill_channel_stats_get(R, "slots", &st));
  CHECK_EQ(st.nconsumers, 2);
  CHECK_OK(rill_consumer_leave(c1));
  CHECK_OK(rill_channel_stats_get(R, "slots", &st));
  CHECK_EQ(st.nconsumers, 1);
  CHECK_OK(rill_consumer_join(R, "slots", RILL_RELIABLE, &c3));
  CHECK_RC(rill_consumer_join(R, "slots", RILL_RELIABLE, &c1), -RILL_EFULL);
  /* The slot that came back works. */
  rill_producer *p;
  CHECK_OK(rill_producer_join(R, "slots", &p));
  send_msg(p, 9, 9);
  recv_msg(c3, 9, 9);
  recv_msg(c2, 9, 9);
  rill_producer_leave(p);
  rill_consumer_leave(c2);
  rill_consumer_leave(c3);
  CHECK_OK(rill_channel_stats_get(R, "slots", &st));
  CHECK_EQ(st.nconsumers, 0);
  checks_run += 10;
}

/* ---- statistics ------------------------------------------------------------- */

/* The stats of channel NAME's one consumer in MODE. */
static rill_consumer_stats find_mode(const char *name, uint32_t mode) {
  rill_consumer_stats f = {0}, cs;
  for (uint32_t i = 0; tu_consumer_next(R, name, &i, &cs); i++) {
    if (cs.mode != mode) continue;
    CHECKF(f.mode == 0, "two consumers with mode %u", mode);
    f = cs;
  }
  CHECKF(f.mode != 0, "no consumer with mode %u", mode);
  return f;
}

static void test_stats(void) {
  mkchan("stats", 64, 100, 3, 1000);
  rill_producer *p;
  rill_consumer *rc, *lc;
  rill_channel_stats st;
  rill_consumer_stats cs;
  rill_view v;
  CHECK_OK(rill_consumer_join(R, "stats", RILL_RELIABLE, &rc));
  CHECK_OK(rill_consumer_join(R, "stats", RILL_LOSSY, &lc));
  CHECK_OK(rill_producer_join(R, "stats", &p));
  CHECK_OK(rill_channel_stats_get(R, "stats", &st));
  const uint64_t s0 = st.seq;
  CHECK_EQ(st.depth, 64);
  CHECK_EQ(st.mtu, 100);
  CHECK_EQ(st.max_consumers, 3);
  CHECK_EQ(st.max_msg, 1000);
  CHECK_EQ(st.nconsumers, 2);
  CHECK_EQ(st.producer_joined, 1);
  CHECK_EQ(st.msgs, 0);
  CHECK_EQ(st.bytes, 0);
  CHECK_EQ(st.backpressure, 0);
  cs = find_mode("stats", RILL_RELIABLE);
  CHECK_EQ(cs.seq, s0);
  CHECK_EQ(cs.lag, 0);
  CHECK_EQ(cs.msgs, 0);
  cs = find_mode("stats", RILL_LOSSY);
  CHECK_EQ(cs.seq, s0);

  /* 0, 50, 100, 250 (3 fragments), 1000 (10 fragments): 16 descriptors. */
  const size_t sizes[] = {0, 50, 100, 250, 1000};
  for (int i = 0; i < 5; i++) send_msg(p, (uint64_t)i, sizes[i]);
  CHECK_OK(rill_producer_flush(p));
  CHECK_OK(rill_channel_stats_get(R, "stats", &st));
  CHECK_EQ(st.seq, s0 + 16);
  CHECK_EQ(st.msgs, 16);
  CHECK_EQ(st.bytes, 1400);
  CHECK_EQ(st.backpressure, 0);
  /* The reliable consumer takes 5 descriptors: 0 + 50 + 100 + 100 + 100. */
  for (int i = 0; i < 5; i++) CHECK_OK(rill_poll(rc, &v));
  CHECK_OK(rill_consumer_flush(rc));
  CHECK_OK(rill_channel_stats_get(R, "stats", &st));
  cs = find_mode("stats", RILL_RELIABLE);
  CHECK_EQ(cs.seq, s0 + 5);
  CHECK_EQ(cs.lag, 11);
  CHECK_EQ(cs.msgs, 5);
  CHECK_EQ(cs.bytes, 350);
  CHECK_EQ(cs.overrun_poll, 0);
  CHECK_EQ(cs.lost, 0);
  cs = find_mode("stats", RILL_LOSSY);
  CHECK_EQ(cs.lag, 16);

  /* Out of credit: the reliable consumer is at s0 + 5, so the producer may
   * go up to s0 + 5 + depth and no further (docs/PROTOCOL.md 3.5). */
  uint64_t sent = 16;
  int rc_send;
  while ((rc_send = rill_send(p, "x", 1, 500 + sent)) == 0) {
    sent++;
    CHECKF(sent <= 5 + 64, "producer went past a reliable consumer: %" PRIu64, sent);
  }
  CHECK_RC(rc_send, -RILL_EAGAIN);
  CHECK_EQ(sent, 5 + 64);
  void *b;
  CHECK_RC(rill_reserve(p, 1, &b), -RILL_EAGAIN);
  CHECK_RC(rill_send(p, "x", 1, 1), -RILL_EAGAIN);
  CHECK_OK(rill_producer_flush(p));
  CHECK_OK(rill_channel_stats_get(R, "stats", &st));
  CHECK_EQ(st.backpressure, 3);
  CHECK_EQ(st.seq, s0 + sent);
  CHECK_EQ(st.msgs, sent);
  CHECK_EQ(st.bytes, 1400 + (sent - 16));
  cs = find_mode("stats", RILL_RELIABLE);
  CHECK_EQ(cs.lag, sent - 5);

  /* The lossy consumer, 69 behind in a ring of 64, was lapped. */
  v.lost = 0;
  CHECK_RC(rill_poll(lc, &v), -RILL_EOVERRUN);
  CHECK_EQ(v.lost, 64);
  CHECK_OK(rill_poll(lc, &v));
  CHECK_EQ(v.seq, s0 + 64);
  CHECK_EQ(v.sig, 500 + 64);
  CHECK_OK(rill_consumer_flush(lc));
  CHECK_OK(rill_channel_stats_get(R, "stats", &st));
  cs = find_mode("stats", RILL_LOSSY);
  CHECK_EQ(cs.overrun_poll, 1);
  CHECK_EQ(cs.lost, 64);
  CHECK_EQ(cs.msgs, 1);
  CHECK_EQ(cs.bytes, 1);
  CHECK_EQ(cs.seq, s0 + 65);
  CHECK_EQ(cs.lag, sent - 65);

  /* The reliable consumer drains; credit comes back. */
  for (uint64_t i = 5; i < sent; i++) CHECK_OK(rill_poll(rc, &v));
  CHECK_RC(rill_poll(rc, &v), -RILL_EAGAIN); /* idle: the cursor is flushed */
  CHECK_OK(rill_send(p, "y", 1, 999));
  CHECK_OK(rill_poll(rc, &v));
  CHECK_EQ(v.sig, 999);
  CHECK_OK(rill_consumer_flush(rc));
  CHECK_OK(rill_producer_flush(p));
  CHECK_OK(rill_channel_stats_get(R, "stats", &st));
  cs = find_mode("stats", RILL_RELIABLE);
  CHECK_EQ(cs.seq, s0 + sent + 1);
  CHECK_EQ(cs.lag, 0);
  CHECK_EQ(cs.msgs, sent + 1);
  CHECK_EQ(st.backpressure, 3);

  CHECK_OK(rill_consumer_leave(rc));
  CHECK_OK(rill_channel_stats_get(R, "stats", &st));
  CHECK_EQ(st.nconsumers, 1);
  /* Each slot on its own: the one left is free, the last is the lossy
   * consumer's, and there is none past the last. */
  uint32_t freed = rill_consumer_slot(lc) == 0 ? 1 : 0;
  memset(&cs, 0xa5, sizeof cs);
  CHECK_OK(rill_consumer_stats_get(R, "stats", freed, &cs));
  CHECK_EQ(cs.slot, freed);
  CHECK_EQ(cs.mode, 0);
  CHECK_EQ(cs.msgs, 0);
  CHECK_EQ(cs.liveness, RILL_PEER_NONE);
  CHECK_OK(rill_consumer_stats_get(R, "stats", rill_consumer_slot(lc), &cs));
  CHECK_EQ(cs.mode, RILL_LOSSY);
  CHECK_EQ(cs.liveness, RILL_PEER_ALIVE);
  CHECK_OK(rill_consumer_stats_get(R, "stats", st.max_consumers - 1, &cs));
  CHECK_RC(rill_consumer_stats_get(R, "stats", st.max_consumers, &cs), -RILL_EINVAL);
  CHECK_RC(rill_consumer_stats_get(R, "stats", UINT32_MAX, &cs), -RILL_EINVAL);
  CHECK_RC(rill_consumer_stats_get(R, "nope", 0, &cs), -RILL_ENOENT);
  CHECK_RC(rill_consumer_stats_get(R, "stats", 0, NULL), -RILL_EINVAL);
  CHECK_RC(rill_consumer_stats_get(NULL, "stats", 0, &cs), -RILL_EINVAL);
  CHECK_OK(rill_producer_leave(p));
  CHECK_OK(rill_channel_stats_get(R, "stats", &st));
  CHECK_EQ(st.producer_joined, 0);
  CHECK_EQ(st.seq, s0 + sent + 1);
  /* Counters survive a new producer. */
  CHECK_OK(rill_producer_join(R, "stats", &p));
  send_msg(p, 1, 10);
  CHECK_OK(rill_producer_flush(p));
  CHECK_OK(rill_channel_stats_get(R, "stats", &st));
  CHECK_EQ(st.msgs, sent + 2);
  CHECK_EQ(st.seq, s0 + sent + 2);
  rill_producer_leave(p);
  rill_consumer_leave(lc);
  checks_run += 81;
}

/* ---- producer restart ---------------------------------------------------------- */

static void drain_rejoin(rill_consumer *c, uint64_t *seq, uint64_t *next_sig) {
  uint8_t b[256];
  rill_meta m;
  int64_t r;
  while ((r = rill_recv(c, b, sizeof b, &m)) != -RILL_EAGAIN) {
    CHECKF(r >= 0, "recv: %s", rill_strerror((int)r));
    CHECK_EQ(m.sig, *next_sig);
    CHECK_EQ(m.seq, *seq);
    CHECK_EQ(m.lost, 0);
    CHECK_EQ((uint64_t)r, tu_msg_size(5, m.sig, 256));
    CHECK_PAYLOAD(b, (size_t)r, m.sig, 0);
    *seq += tu_frags((uint64_t)r, 64);
    (*next_sig)++;
  }
}

static void test_rejoin(void) {
  mkchan("rejoin", 64, 64, 2, 256);
  rill_producer *p;
  rill_consumer *c;
  CHECK_OK(rill_consumer_join(R, "rejoin", RILL_RELIABLE, &c));
  rill_channel_stats st;
  CHECK_OK(rill_channel_stats_get(R, "rejoin", &st));
  uint64_t seq = st.seq, sent = 0, next = 0;
  /* Leave and join again, with and without messages in between, read and
   * unread: the sequence goes on without gap or repeat. */
  for (int round = 0; round < 30; round++) {
    CHECK_OK(rill_producer_join(R, "rejoin", &p));
    int n = round % 6;
    for (int i = 0; i < n; i++, sent++) send_msg(p, sent, (size_t)tu_msg_size(5, sent, 256));
    CHECK_OK(rill_producer_leave(p));
    if (round % 3 != 0) drain_rejoin(c, &seq, &next);
  }
  drain_rejoin(c, &seq, &next);
  CHECK_EQ(next, sent);
  CHECK_OK(rill_channel_stats_get(R, "rejoin", &st));
  CHECK_EQ(st.seq, seq);
  rill_consumer_leave(c);
  checks_run += 5;
}

/* A producer that dies (kill -9) in the middle of a stream, at a random
 * point: a new producer resumes; the reliable consumer loses nothing that
 * was published, sees no repeat, and at most the fragments of the one
 * message being sent when it died. */
#define CRASH_SALT 7
#define CRASH_MAX 300

static void crash_producer(void *arg) {
  (void)arg;
  rill_region *r = tu_region_open(REGION);
  rill_producer *p;
  CHECK_OK(rill_producer_join(r, "crash", &p));
  static uint8_t buf[CRASH_MAX];
  for (uint64_t i = 0;; i++) {
    size_t n = (size_t)tu_msg_size(CRASH_SALT, i, CRASH_MAX);
    tu_fill(buf, n, tu_key(CRASH_SALT, i), 0);
    unsigned spins = 0;
    int rc;
    while ((rc = rill_send(p, buf, n, i)) == -RILL_EAGAIN) tu_relax(&spins);
    CHECK_OK(rc);
  }
}

static void test_crash(void) {
  const uint32_t mtu = 64;
  tu_rng rng = {tu_ns()};
  for (int round = 0; round < 5; round++) {
    char name[32];
    snprintf(name, sizeof name, "crash");
    mkchan(name, 64, mtu, 1, CRASH_MAX);
    rill_consumer *c;
    CHECK_OK(rill_consumer_join(R, "crash", RILL_RELIABLE, &c));
    rill_channel_stats st;
    CHECK_OK(rill_channel_stats_get(R, "crash", &st));
    tu_sched s;
    tu_sched_init(&s, CRASH_SALT, CRASH_MAX, mtu, st.seq);
    tu_pid pid = tu_spawn("producer to be killed", crash_producer, NULL);
    uint64_t kill_after = 100 + tu_below(&rng, 3000), got = 0;
    static uint8_t buf[CRASH_MAX];
    rill_meta m;
    int killed = 0;
    unsigned spins = 0;
    for (;;) {
      if (!killed && got == kill_after) {
        tu_kill(pid);
        CHECK_EQ(tu_wait_end(pid), TU_KILLED);
        killed = 1;
      }
      int64_t r = rill_recv(c, buf, sizeof buf, &m);
      if (r == -RILL_EAGAIN) {
        if (killed) break; /* everything the dead producer published */
        tu_relax(&spins);
        continue;
      }
      spins = 0;
      CHECKF(r >= 0, "recv: %s", rill_strerror((int)r));
      CHECK_EQ(m.sig, s.i);
      CHECK_EQ(m.seq, s.seq);
      CHECK_EQ(m.lost, 0);
      CHECK_EQ((uint64_t)r, s.sz);
      CHECK_PAYLOAD(buf, (size_t)r, tu_key(CRASH_SALT, s.i), 0);
      tu_sched_next(&s);
      got++;
    }
    /* A new producer takes over. */
    rill_producer *p;
    CHECK_OK(rill_producer_join(R, "crash", &p));
    for (uint64_t j = 0; j < 200; j++) {
      size_t n = (size_t)tu_msg_size(99, j, CRASH_MAX);
      tu_fill(buf, n, tu_key(99, j), 0);
      CHECK_OK(rill_send(p, buf, n, 1000000 + j));
      int64_t r = rill_recv(c, buf, sizeof buf, &m);
      CHECKF(r == (int64_t)n, "recv after restart: %" PRId64 " (%s), want %zu", r,
             r < 0 ? rill_strerror((int)r) : "ok", n);
      CHECK_EQ(m.sig, 1000000 + j);
      if (j == 0) {
        /* Only fragments of the message cut short may be skipped. */
        CHECKF(m.lost < s.nfrags, "lost %" PRIu64 " after restart", m.lost);
        CHECK_EQ(m.seq, s.seq + m.lost);
        s.seq = m.seq;
      } else {
        CHECK_EQ(m.lost, 0);
        CHECK_EQ(m.seq, s.seq);
      }
      CHECK_PAYLOAD(buf, n, tu_key(99, j), 0);
      s.seq += tu_frags(n, mtu);
    }
    rill_producer_leave(p);
    rill_consumer_leave(c);
    /* Next round on a fresh channel: rename by recreating the region part. */
    rill_region_close(R);
    CHECK_OK(rill_region_unlink(REGION, tu_dir()));
    rill_region_opts o = tu_opts(16 << 20);
    CHECK_OK(rill_region_create(REGION, &o, &R));
    checks_run += 10;
  }
}

/* A partial message left by a dead producer, made by hand. */
static void half_message_child(void *arg) {
  (void)arg;
  rill_region *r = tu_region_open(REGION);
  rill_producer *p;
  CHECK_OK(rill_producer_join(r, "half", &p));
  send_msg(p, 1, 10);
  void *b;
  CHECK_OK(rill_reserve(p, 64, &b));
  tu_fill(b, 64, 2, 0);
  CHECK_OK(rill_commit(p, 64, 2, RILL_CTL_SOM));
  CHECK_OK(rill_reserve(p, 64, &b));
  CHECK_OK(rill_commit(p, 64, 2, 0));
  tu_die();
}

static void test_half_message(void) {
  mkchan("half", 64, 64, 1, 256);
  rill_consumer *c;
  CHECK_OK(rill_consumer_join(R, "half", RILL_RELIABLE, &c));
  tu_pid pid = tu_spawn("half message", half_message_child, NULL);
  int end = tu_wait_end(pid);
  CHECKF(end == TU_KILLED, "the child did not get to its end");
  rill_producer *p;
  CHECK_OK(rill_producer_join(R, "half", &p));
  send_msg(p, 3, 100);
  rill_meta m = recv_msg(c, 1, 10);
  uint8_t b[256];
  CHECK_RC(rill_recv(c, b, sizeof b, &m), 100);
  CHECK_EQ(m.sig, 3);
  CHECK_EQ(m.lost, 2); /* the two orphan fragments */
  CHECK_PAYLOAD(b, 100, 3, 0);
  rill_producer_leave(p);
  rill_consumer_leave(c);
  checks_run += 4;
}

/* ---- lossy consumers never slow the producer ---------------------------------- */

static void test_lossy_no_backpressure(void) {
  mkchan("lossy", 64, 64, 2, 0);
  rill_consumer *lc;
  rill_producer *p;
  rill_view v;
  CHECK_OK(rill_consumer_join(R, "lossy", RILL_LOSSY, &lc));
  CHECK_OK(rill_producer_join(R, "lossy", &p));
  rill_channel_stats st;
  CHECK_OK(rill_channel_stats_get(R, "lossy", &st));
  const uint64_t s0 = st.seq;
  for (uint64_t i = 0; i < 64 * 10 + 5; i++) send_msg(p, i, (size_t)(i % 65));
  CHECK_OK(rill_producer_flush(p));
  CHECK_OK(rill_channel_stats_get(R, "lossy", &st));
  CHECK_EQ(st.backpressure, 0);
  /* Expecting s0, the slot holds s0 + 640: lost exactly 640. */
  CHECK_RC(rill_poll(lc, &v), -RILL_EOVERRUN);
  CHECK_EQ(v.lost, 640);
  for (uint64_t i = 640; i < 645; i++) {
    CHECK_OK(rill_poll(lc, &v));
    CHECK_EQ(v.seq, s0 + i);
    CHECK_EQ(v.sig, i);
    CHECK_EQ(v.sz, i % 65);
    CHECK_PAYLOAD(v.data, v.sz, i, 0);
    CHECK_OK(rill_check(lc, &v));
  }
  /* After a lap, rill_check() refuses a view whose slot was reused. */
  send_msg(p, 645, 10);
  CHECK_OK(rill_poll(lc, &v));
  CHECK_EQ(v.sig, 645);
  for (uint64_t i = 646; i < 646 + 64; i++) send_msg(p, i, 10);
  CHECK_RC(rill_check(lc, &v), -RILL_EOVERRUN);
  /* rill_recv on a lossy consumer: no overrun returned, lost counted. */
  for (uint64_t i = 710; i < 710 + 100; i++) send_msg(p, i, 10);
  rill_meta m;
  uint8_t b[64];
  CHECK_RC(rill_recv(lc, b, sizeof b, &m), 10);
  /* It was at 646 and 809 is the last published: the slot of 646 holds 774
   * (docs/PROTOCOL.md 3.2: resynchronise to the sequence number found).
   * lost counts every sequence number skipped since the last message
   * returned (645, whose read failed its check: so 646..773). */
  CHECK_EQ(m.sig, 774);
  CHECK_EQ(m.seq, s0 + 774);
  CHECK_EQ(m.lost, 128);
  CHECK_PAYLOAD(b, 10, 774, 0);
  CHECK_OK(rill_consumer_flush(lc));
  CHECK_OK(rill_channel_stats_get(R, "lossy", &st));
  rill_consumer_stats cs = find_mode("lossy", RILL_LOSSY);
  CHECK_EQ(cs.overrun_poll, 2);
  CHECK_EQ(cs.overrun_read, 1);
  CHECK_EQ(cs.lost, 640 + 128);
  rill_producer_leave(p);
  rill_consumer_leave(lc);
  checks_run += 30;
}

/* ---- rill_poll_spin -------------------------------------------------------------- */

static void test_poll_spin(void) {
  mkchan("spin", 64, 64, 1, 0);
  rill_consumer *c;
  rill_producer *p;
  rill_view v;
  CHECK_OK(rill_consumer_join(R, "spin", RILL_RELIABLE, &c));
  uint64_t t0 = tu_ns();
  CHECK_RC(rill_poll_spin(c, &v, 2000000), -RILL_ETIMEDOUT);
  uint64_t dt = tu_ns() - t0;
  CHECKF(dt >= 2000000, "timed out after %" PRIu64 " ns, before 2 ms", dt);
  CHECK_RC(rill_poll_spin(c, &v, 0), -RILL_EAGAIN);
  CHECK_OK(rill_producer_join(R, "spin", &p));
  send_msg(p, 5, 5);
  CHECK_OK(rill_poll_spin(c, &v, 1000000000));
  CHECK_EQ(v.sig, 5);
  rill_producer_leave(p);
  rill_consumer_leave(c);
  checks_run += 5;
}

/* ---- sequence numbers wrap -------------------------------------------------------
 * A channel whose seq0 is just below 2^64, set up exactly as creation would
 * (docs/PROTOCOL.md 2.1): reliable and lossy consumers across the wrap. */
static void test_wrap(void) {
  const uint32_t depth = 64, mtu = 64;
  mkchan("wrap", depth, mtu, 2, 256);
  /* Find the channel in the region file and rewrite its sequence state. */
  char path[256];
  tu_path(path, sizeof path, REGION);
  uint64_t flen;
  uint8_t *base = tu_map_file(path, &flen);
  const rill_region_hdr *h = (const rill_region_hdr *)base;
  const rill_obj_entry *t = (const rill_obj_entry *)(base + RILL_TABLE_OFF);
  uint64_t off = 0;
  for (uint32_t i = 0; i < h->obj_cnt; i++)
    if (!strcmp(t[i].name, "wrap")) off = t[i].off;
  CHECK(off != 0);
  rill_chan_hdr *ch = (rill_chan_hdr *)(base + off);
  const uint64_t S = 0ull - 40ull * depth; /* a multiple of depth */
  ch->seq0 = S;
  rill_prod_page *pp = (rill_prod_page *)(base + off + ch->prod_off);
  atomic_store(&pp->seq, S);
  rill_desc *meta = (rill_desc *)(base + off + ch->meta_off);
  for (uint64_t i = 0; i < depth; i++) atomic_store(&meta[i].seq, S + i - depth);
  tu_unmap_file(base, flen);

  rill_consumer *rc, *lc;
  rill_producer *p;
  CHECK_OK(rill_consumer_join(R, "wrap", RILL_RELIABLE, &rc));
  CHECK_OK(rill_consumer_join(R, "wrap", RILL_LOSSY, &lc));
  CHECK_OK(rill_producer_join(R, "wrap", &p));
  rill_channel_stats st;
  CHECK_OK(rill_channel_stats_get(R, "wrap", &st));
  CHECK_EQ(st.seq, S);

  tu_sched ps, rs, ls;
  tu_sched_init(&ps, 3, 256, mtu, S);
  tu_sched_init(&rs, 3, 256, mtu, S);
  tu_sched_init(&ls, 3, 256, mtu, S);
  uint64_t lend = S; /* the lossy consumer: end of its last message */
  uint64_t lost_total = 0, lossy_msgs = 0;
  static uint8_t buf[256];
  rill_meta m;
  for (int iter = 0; ps.i < 5000; iter++) {
    /* Produce until out of credit. */
    for (;;) {
      tu_fill(buf, ps.sz, tu_key(3, ps.i), 0);
      int r = rill_send(p, buf, ps.sz, ps.i);
      if (r == -RILL_EAGAIN) break;
      CHECK_OK(r);
      tu_sched_next(&ps);
    }
    /* The lossy consumer reads only now and then: it is lapped. */
    if (iter % 7 == 0) {
      int64_t r;
      while ((r = rill_recv(lc, buf, sizeof buf, &m)) != -RILL_EAGAIN) {
        CHECKF(r >= 0, "lossy recv: %s", rill_strerror((int)r));
        tu_sched_seek(&ls, m.seq);
        CHECK_EQ(m.seq, ls.seq); /* a message start */
        CHECK_EQ(m.sig, ls.i);
        CHECK_EQ(m.lost, m.seq - lend);
        CHECK_EQ((uint64_t)r, ls.sz);
        CHECK_PAYLOAD(buf, (size_t)r, tu_key(3, ls.i), 0);
        lost_total += m.lost;
        lossy_msgs++;
        lend = ls.seq + ls.nfrags;
      }
    }
    /* The reliable consumer reads everything. */
    int64_t r;
    while ((r = rill_recv(rc, buf, sizeof buf, &m)) != -RILL_EAGAIN) {
      CHECKF(r >= 0, "reliable recv: %s", rill_strerror((int)r));
      CHECK_EQ(m.seq, rs.seq);
      CHECK_EQ(m.sig, rs.i);
      CHECK_EQ(m.lost, 0);
      CHECK_EQ((uint64_t)r, rs.sz);
      CHECK_PAYLOAD(buf, (size_t)r, tu_key(3, rs.i), 0);
      tu_sched_next(&rs);
    }
    CHECK_EQ(rs.i, ps.i);
  }
  CHECKF((int64_t)(ps.seq - S) > 40 * (int64_t)depth, "did not cross the wrap");
  CHECK(lost_total > 0 && lossy_msgs > 0);
  rill_producer_leave(p);
  rill_consumer_leave(rc);
  rill_consumer_leave(lc);
  checks_run += 10;
}

/* rill_commit_at(): payloads built at the tail of a reservation (as
 * FlatBuffers builds) and published from a point inside it, at random
 * skips and sizes, over many laps of the ring, read by a reliable consumer
 * in place with rill_recv_view() and by a lossy one by copy.  Nothing may
 * be overwritten while its descriptor is live, so the reliable reader sees
 * every byte right. */
static void test_commit_at(void) {
  const uint32_t depth = 16, mtu = 1000; /* 16 chunks of 64, the last part-used */
  mkchan("tail", depth, mtu, 2, 3000);
  rill_producer *p;
  rill_consumer *rc, *lc;
  CHECK_OK(rill_producer_join(R, "tail", &p));
  CHECK_OK(rill_consumer_join(R, "tail", RILL_RELIABLE, &rc));
  CHECK_OK(rill_consumer_join(R, "tail", RILL_LOSSY, &lc));
  void *buf;
  CHECK_RC(rill_commit_at(p, &buf, 1, 0, RILL_CTL_MSG), -RILL_EINVAL); /* nothing reserved */
  CHECK_OK(rill_reserve(p, mtu, &buf));
  uint8_t *b = buf;
  CHECK_RC(rill_commit_at(p, b + 32, 8, 0, RILL_CTL_MSG), -RILL_EINVAL);  /* not on a chunk */
  CHECK_RC(rill_commit_at(p, b - 64, 8, 0, RILL_CTL_MSG), -RILL_EINVAL);  /* before it */
  CHECK_RC(rill_commit_at(p, b + 960, 41, 0, RILL_CTL_MSG), -RILL_EINVAL); /* past its end */
  CHECK_RC(rill_commit_at(p, b + 1024, 0, 0, RILL_CTL_MSG), -RILL_EINVAL);
  tu_rng rng = {77};
  uint8_t copy[3000];
  uint64_t sent = 0, got = 0, lossy = 0;
  while (got < 40 * depth) {
    for (;;) { /* fill the ring */
      if (rill_reserve(p, mtu, &buf) == -RILL_EAGAIN) break;
      b = buf;
      uint64_t skip = tu_below(&rng, mtu / 64 + 1) * 64;
      uint64_t n = tu_below(&rng, mtu - skip + 1);
      tu_fill(b + skip, n, sent, 0);
      CHECK_OK(rill_commit_at(p, b + skip, n, sent, RILL_CTL_MSG));
      sent++;
    }
    for (;;) {
      rill_meta m;
      const void *data;
      int64_t n = rill_recv_view(rc, copy, sizeof copy, &m, &data);
      if (n == -RILL_EAGAIN) break;
      CHECK(n >= 0);
      CHECK_EQ(m.sig, got);
      CHECK(data != copy); /* in place */
      CHECK_PAYLOAD(data, (size_t)n, got, 0);
      got++;
    }
    int64_t n;
    rill_meta m;
    const void *data;
    while ((n = rill_recv_view(lc, copy, sizeof copy, &m, &data)) != -RILL_EAGAIN) {
      CHECK(n >= 0 && data == copy); /* a lossy reader gets a checked copy */
      CHECK_PAYLOAD(copy, (size_t)n, m.sig, 0);
      lossy++;
    }
  }
  CHECK_EQ(got, sent);
  CHECK(lossy > 0);
  /* a message in fragments is gathered into the buffer */
  send_msg(p, 7, 2500);
  rill_meta m;
  const void *data;
  CHECK_EQ(rill_recv_view(rc, copy, sizeof copy, &m, &data), 2500);
  CHECK(data == copy && m.sig == 7);
  CHECK_PAYLOAD(copy, 2500, 7, 0);
  CHECK_RC(rill_recv_view(rc, copy, sizeof copy, &m, NULL), -RILL_EINVAL);
  rill_producer_leave(p);
  rill_consumer_leave(rc);
  rill_consumer_leave(lc);
  checks_run += 12;
}

static const tu_role roles[] = {
    TU_ROLE(recv_null_child), TU_ROLE(max_msg_overflow_child), TU_ROLE(child_join_busy),
    TU_ROLE(child_join_ok),   TU_ROLE(child_join_full),        TU_ROLE(crash_producer),
    TU_ROLE(half_message_child), {0}};

int main(int argc, char **argv) {
  tu_start_roles("channel", 120, argc, argv, roles);
  rill_region_opts o = tu_opts(16 << 20);
  CHECK_OK(rill_region_create(REGION, &o, &R));
  test_create();
  test_exclusive();
  test_roundtrip();
  test_fragments();
  test_slots();
  test_stats();
  test_rejoin();
  test_half_message();
  test_lossy_no_backpressure();
  test_poll_spin();
  test_wrap();
  test_commit_at();
  test_crash(); /* recreates the region */
  /* Checks that may crash or abort: each in a child, all of them run. */
  mkchan("null", 64, 64, 1, 0);
  int bad = tu_try("rill_recv(c, NULL, 0, &m) of an empty message", recv_null_child, NULL);
  bad += tu_try("max_msg near 2^64 must be invalid", max_msg_overflow_child, NULL);
  CHECKF(bad == 0, "%d of the checks above failed", bad);
  checks_run += 23;
  rill_region_close(R);
  return tu_pass("%d checks: create, exclusivity, zero copy, fragments, EMSGSIZE, "
                 "slots, stats, rejoin, kill -9 restart, lossy, wrap, commit_at", checks_run);
}
