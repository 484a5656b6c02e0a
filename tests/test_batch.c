/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* Batches (docs/PROTOCOL.md 3.1 "Batches", 3.4 "burst"):
 *   - rill_send_many(), rill_reserve_many()/rill_commit_many() refuse bad
 *     input and short credit as a whole: nothing is published;
 *   - what they publish is what single sends would publish: every
 *     message, fragment, sig, ctl bit, tsorig and payload byte, read by
 *     reliable and lossy consumers, with the ring wrapping under them;
 *   - rill_poll_many() hands out bursts of ready descriptors that stay put
 *     until the next call (the producer gets no credit for them before);
 *   - across processes, a batching producer and bursting consumers (one
 *     reliable, one lossy) agree on every byte of a long stream. */
#include "testutil.h"

#define REGION "batch"

static rill_region *R;
static int checks_run;

static void mkchan(const char *name, uint32_t depth, uint32_t mtu, uint32_t maxc,
                   uint64_t max_msg) {
  rill_channel_opts o = {.depth = depth, .mtu = mtu, .max_consumers = maxc, .max_msg = max_msg};
  CHECK_OK(rill_channel_create(R, name, &o));
}

/* ---- bad input and short credit publish nothing ---------------------------- */

static void test_refused(void) {
  mkchan("bad", 16, 128, 2, 1024);
  rill_producer *p;
  rill_consumer *c;
  CHECK_OK(rill_consumer_join(R, "bad", RILL_RELIABLE, &c));
  CHECK_OK(rill_producer_join(R, "bad", &p));
  const uint64_t s0 = rill_producer_seq(p);
  static uint8_t buf[2048];
  tu_fill(buf, sizeof buf, 1, 0);
  rill_msg m[17];
  for (int i = 0; i < 17; i++) m[i] = (rill_msg){.data = buf, .sz = 10, .sig = (uint64_t)i};

  CHECK_RC(rill_send_many(NULL, m, 1), -RILL_EINVAL);
  CHECK_RC(rill_send_many(p, NULL, 1), -RILL_EINVAL);
  CHECK_RC(rill_send_many(p, m, 0), -RILL_EINVAL);
  CHECK_RC(rill_send_many(p, m, 17), -RILL_EINVAL); /* over the depth */
  m[3].sz = 1025;                                  /* one over max_msg */
  CHECK_RC(rill_send_many(p, m, 5), -RILL_EMSGSIZE);
  m[3].sz = 10;
  m[4].data = NULL; /* bytes from nowhere */
  CHECK_RC(rill_send_many(p, m, 5), -RILL_EINVAL);
  m[4].data = buf;
  /* 16 messages of 2 fragments each: 32 descriptors, more than the ring */
  for (int i = 0; i < 16; i++) m[i].sz = 200;
  CHECK_RC(rill_send_many(p, m, 16), -RILL_EINVAL);
  for (int i = 0; i < 16; i++) m[i].sz = 10;

  void *bufs[17];
  CHECK_RC(rill_reserve_many(p, 0, 8, bufs), -RILL_EINVAL);
  CHECK_RC(rill_reserve_many(p, 17, 8, bufs), -RILL_EINVAL);
  CHECK_RC(rill_reserve_many(p, 2, 8, NULL), -RILL_EINVAL);
  CHECK_RC(rill_reserve_many(NULL, 2, 8, bufs), -RILL_EINVAL);
  CHECK_RC(rill_reserve_many(p, 2, 129, bufs), -RILL_EMSGSIZE);
  CHECK_RC(rill_commit_many(p, m, 1), -RILL_EINVAL); /* nothing reserved */
  CHECK_OK(rill_reserve_many(p, 4, 64, bufs));
  CHECK_RC(rill_commit_many(p, m, 0), -RILL_EINVAL);
  CHECK_RC(rill_commit_many(p, m, 5), -RILL_EINVAL); /* more than reserved */
  m[2].sz = 65;                                      /* over the reserved size */
  CHECK_RC(rill_commit_many(p, m, 3), -RILL_EINVAL);
  m[2].sz = 10;
  CHECK_RC(rill_commit_many(p, NULL, 3), -RILL_EINVAL);
  /* rill_send() drops the reservation: a commit after it has nothing */
  CHECK_OK(rill_send(p, buf, 5, 99));
  CHECK_RC(rill_commit_many(p, m, 1), -RILL_EINVAL);
  CHECK_EQ(rill_producer_seq(p), s0 + 1);
  rill_view v;
  CHECK_OK(rill_poll(c, &v));
  CHECK_EQ(v.sig, 99);
  CHECK_RC(rill_poll(c, &v), -RILL_EAGAIN); /* none of the refused batches */

  /* Short credit: 14 descriptors out, 2 free; a batch of 3 goes as a whole
   * or not at all, and counts one backpressure. */
  CHECK_OK(rill_send_many(p, m, 14));
  rill_channel_stats st;
  CHECK_OK(rill_channel_stats_get(R, "bad", &st));
  uint64_t bp = st.backpressure;
  CHECK_RC(rill_send_many(p, m, 3), -RILL_EAGAIN);
  CHECK_RC(rill_reserve_many(p, 3, 8, bufs), -RILL_EAGAIN);
  CHECK_OK(rill_producer_flush(p));
  CHECK_OK(rill_channel_stats_get(R, "bad", &st));
  CHECK_EQ(st.backpressure, bp + 2);
  CHECK_EQ(st.msgs, 15);
  m[0].sz = 400; /* 4 fragments, 2 credits */
  CHECK_RC(rill_send_many(p, m, 1), -RILL_EAGAIN);
  m[0].sz = 10;
  CHECK_OK(rill_send_many(p, m, 2)); /* exactly what is left */
  CHECK_RC(rill_send(p, buf, 1, 1), -RILL_EAGAIN);
  for (int i = 0; i < 16; i++) {
    CHECK_OK(rill_poll(c, &v));
    CHECK_EQ(v.sig, (uint64_t)(i < 14 ? i : i - 14));
  }
  CHECK_RC(rill_poll(c, &v), -RILL_EAGAIN);
  CHECK_OK(rill_send_many(p, m, 3));

  CHECK_RC(rill_poll_many(c, NULL, 4), -RILL_EINVAL);
  rill_view vs[4];
  CHECK_RC(rill_poll_many(c, vs, 0), -RILL_EINVAL);
  CHECK_RC(rill_poll_many(NULL, vs, 4), -RILL_EINVAL);
  CHECK_EQ(rill_poll_many(c, vs, 4), 3);
  rill_producer_leave(p);
  rill_consumer_leave(c);
  checks_run += 40;
}

/* ---- a batch is what single sends would be --------------------------------- */

static void test_send_many(void) {
  const uint32_t mtu = 128;
  mkchan("many", 64, mtu, 2, 1000);
  rill_producer *p;
  rill_consumer *rc, *lc;
  CHECK_OK(rill_consumer_join(R, "many", RILL_RELIABLE, &rc));
  CHECK_OK(rill_consumer_join(R, "many", RILL_LOSSY, &lc));
  CHECK_OK(rill_producer_join(R, "many", &p));
  static uint8_t src[8][1000], got[1000];
  uint64_t sig = 0;
  /* Many rounds, so that the data ring wraps under batches of every size. */
  for (int round = 0; round < 200; round++) {
    rill_msg m[8];
    size_t count = (size_t)(round % 8) + 1;
    for (size_t i = 0; i < count; i++) {
      size_t n = (size_t)tu_msg_size(7, sig + i, round % 3 ? mtu : 1000);
      tu_fill(src[i], n, tu_key(7, sig + i), 0);
      uint16_t ctl = (uint16_t)(RILL_CTL_USER((sig + i) & 0x1fff) |
                                ((sig + i) % 5 == 0 ? RILL_CTL_ERR : 0) |
                                (i % 2 ? RILL_CTL_SOM : 0)); /* SOM/EOM are the call's */
      m[i] = (rill_msg){.data = n ? src[i] : NULL, .sz = n, .sig = sig + i, .ctl = ctl,
                        .tsorig = (uint32_t)(sig + i) * 3u};
    }
    CHECK_OK(rill_send_many(p, m, count));
    for (size_t i = 0; i < count; i++, sig++) {
      rill_meta mt;
      int64_t n = rill_recv(rc, got, sizeof got, &mt);
      CHECKF(n == (int64_t)m[i].sz, "message %" PRIu64 ": %" PRId64, sig, n);
      CHECK_EQ(mt.sig, sig);
      CHECK_EQ(mt.lost, 0);
      CHECK_EQ(mt.tsorig, (uint32_t)sig * 3u);
      uint16_t user = (uint16_t)(m[i].ctl & ~RILL_CTL_MSG);
      CHECK_EQ(mt.ctl, (uint16_t)(user | (m[i].sz <= mtu ? RILL_CTL_MSG : RILL_CTL_EOM)));
      CHECK_PAYLOAD(got, (size_t)n, tu_key(7, sig), 0);
      /* the lossy reader gets the same, checked */
      n = rill_recv(lc, got, sizeof got, &mt);
      CHECK_EQ(n, (int64_t)m[i].sz);
      CHECK_EQ(mt.sig, sig);
      CHECK_PAYLOAD(got, (size_t)n, tu_key(7, sig), 0);
    }
    rill_meta mt;
    CHECK_RC(rill_recv(rc, got, sizeof got, &mt), -RILL_EAGAIN);
  }
  rill_producer_leave(p);
  rill_consumer_leave(rc);
  rill_consumer_leave(lc);
  checks_run += 10;
}

/* ---- zero copy: reserve many, commit some ---------------------------------- */

static void test_reserve_many(void) {
  const uint32_t mtu = 200, depth = 16;
  mkchan("zc", depth, mtu, 1, 0);
  rill_channel_stats st;
  CHECK_OK(rill_channel_stats_get(R, "zc", &st));
  rill_producer *p;
  rill_consumer *c;
  CHECK_OK(rill_consumer_join(R, "zc", RILL_RELIABLE, &c));
  CHECK_OK(rill_producer_join(R, "zc", &p));
  uint64_t sig = 0, seq = st.seq;
  const uint8_t *lo = NULL, *hi = NULL; /* the data ring, as the buffers show it */
  int wrapped = 0;
  for (int round = 0; round < 300; round++) {
    size_t count = (size_t)(round % 7) + 1, n = (size_t)(round % 4) * 50 + 1;
    void *bufs[8];
    CHECK_OK(rill_reserve_many(p, count, n, bufs));
    for (size_t i = 0; i < count; i++) {
      uint8_t *b = bufs[i];
      if (i && b < (uint8_t *)bufs[i - 1]) wrapped++;
      if (!lo || b < lo) lo = b;
      if (!hi || b + n > hi) hi = b + n;
      CHECK(((uintptr_t)b & 63) == 0);
      for (size_t j = 0; j < i; j++) /* no two buffers overlap */
        CHECK((uint8_t *)bufs[j] + n <= b || b + n <= (uint8_t *)bufs[j]);
      tu_fill(b, n, tu_key(9, sig + i), 0);
    }
    /* commit all but the last of a big reservation */
    size_t commit = count > 3 ? count - 1 : count;
    rill_msg m[8];
    for (size_t i = 0; i < commit; i++)
      m[i] = (rill_msg){.sz = n - i % 2, .sig = sig + i, .ctl = RILL_CTL_MSG, .tsorig = 5};
    CHECK_OK(rill_commit_many(p, m, commit));
    CHECK_RC(rill_commit_many(p, m, 1), -RILL_EINVAL); /* the reservation is used up */
    rill_view v[8];
    int k = rill_poll_many(c, v, 8);
    CHECKF(k == (int)commit, "round %d: burst of %d, committed %zu", round, k, commit);
    for (int i = 0; i < k; i++, sig++, seq++) {
      CHECK_EQ(v[i].seq, seq);
      CHECK_EQ(v[i].sig, sig);
      CHECK_EQ(v[i].sz, n - (size_t)i % 2);
      CHECK_EQ(v[i].ctl, RILL_CTL_MSG);
      CHECK_EQ(v[i].tsorig, 5);
      CHECK_PAYLOAD(v[i].data, v[i].sz, tu_key(9, sig), 0);
    }
    CHECK_RC(rill_poll_many(c, v, 8), -RILL_EAGAIN);
  }
  CHECK(wrapped > 0); /* the batches went round the ring's end */
  CHECK((uint64_t)(hi - lo) <= st.data_chunks * 64);
  /* rill_commit() publishes the first buffer of a reservation of many */
  void *bufs[3];
  CHECK_OK(rill_reserve_many(p, 3, 10, bufs));
  tu_fill(bufs[0], 10, 1234, 0);
  CHECK_OK(rill_commit(p, 10, 1234, RILL_CTL_MSG));
  rill_view v;
  CHECK_OK(rill_poll(c, &v));
  CHECK_EQ(v.sig, 1234);
  CHECK_PAYLOAD(v.data, 10, 1234, 0);
  CHECK_RC(rill_poll(c, &v), -RILL_EAGAIN);
  rill_producer_leave(p);
  rill_consumer_leave(c);
  checks_run += 12;
}

/* Buffers reserved ahead are written before the descriptors before them
 * are published: the third of a batch of three overlaps the payload of
 * the message 8 back, still in the ring, which a lossy consumer holds.
 * Its check must fail once the application writes there. */
static void test_reserve_ahead(void) {
  const uint32_t depth = 8; /* mtu 64: 10 chunks, message x at chunk x mod 10 */
  mkchan("ahead", depth, 64, 1, 0);
  rill_producer *p;
  rill_consumer *lc;
  CHECK_OK(rill_consumer_join(R, "ahead", RILL_LOSSY, &lc));
  CHECK_OK(rill_producer_join(R, "ahead", &p));
  const uint64_t s0 = rill_producer_seq(p);
  CHECK_EQ(s0 % 10, 0); /* a new channel starts at 0 */
  uint8_t b[64];
  for (uint64_t i = 0; i < 2 * depth; i++) {
    tu_fill(b, 64, i, 0);
    CHECK_OK(rill_send(p, b, 64, i));
  }
  rill_view v;
  CHECK_RC(rill_poll(lc, &v), -RILL_EOVERRUN); /* resynced to message 8 */
  CHECK_OK(rill_poll(lc, &v));
  CHECK_EQ(v.sig, depth);
  void *bufs[3];
  CHECK_OK(rill_reserve_many(p, 3, 64, bufs));
  memset(bufs[2], 0xa5, 64); /* the chunk of message 8 */
  CHECKF(tu_verify(v.data, 64, depth, 0) >= 0, "the third buffer is not message 8's chunk");
  CHECK_RC(rill_check(lc, &v), -RILL_EOVERRUN);
  rill_producer_leave(p);
  rill_consumer_leave(lc);
  checks_run += 4;
}

/* ---- bursts stay put until the next call ----------------------------------- */

static void test_bursts(void) {
  const uint32_t depth = 8;
  mkchan("burst", depth, 64, 1, 0);
  rill_producer *p;
  rill_consumer *c;
  CHECK_OK(rill_consumer_join(R, "burst", RILL_RELIABLE, &c));
  CHECK_OK(rill_producer_join(R, "burst", &p));
  uint8_t b[64];
  rill_view v[16];
  /* 10 in, taken 4 + 4 + 2 */
  mkchan("burst10", 16, 64, 1, 0);
  rill_producer *p10;
  rill_consumer *c10;
  CHECK_OK(rill_consumer_join(R, "burst10", RILL_RELIABLE, &c10));
  CHECK_OK(rill_producer_join(R, "burst10", &p10));
  for (uint64_t i = 0; i < 10; i++) {
    tu_fill(b, 33, i, 0);
    CHECK_OK(rill_send(p10, b, 33, i));
  }
  CHECK_EQ(rill_poll_many(c10, v, 4), 4);
  CHECK_EQ(v[3].sig, 3);
  CHECK_EQ(rill_poll_many(c10, v, 4), 4);
  CHECK_EQ(v[0].sig, 4);
  CHECK_EQ(rill_poll_many(c10, v, 4), 2);
  CHECK_EQ(v[1].sig, 9);
  CHECK_PAYLOAD(v[1].data, 33, 9, 0);
  CHECK_RC(rill_poll_many(c10, v, 4), -RILL_EAGAIN);
  rill_consumer_stats cs;
  CHECK_OK(rill_consumer_flush(c10));
  CHECK_OK(rill_consumer_stats_get(R, "burst10", rill_consumer_slot(c10), &cs));
  CHECK_EQ(cs.msgs, 10);
  CHECK_EQ(cs.bytes, 330);
  rill_producer_leave(p10);
  rill_consumer_leave(c10);

  /* A whole ring in one burst: the producer has no credit until the next
   * call, so every view still holds its own payload after it tried. */
  for (int round = 0; round < 50; round++) {
    for (uint64_t i = 0; i < depth; i++) {
      uint64_t key = (uint64_t)round * depth + i;
      tu_fill(b, 64, key, 0);
      CHECK_OK(rill_send(p, b, 64, key));
    }
    int k = rill_poll_many(c, v, 16);
    CHECK_EQ(k, (int)depth);
    tu_fill(b, 64, 999, 0);
    CHECK_RC(rill_send(p, b, 64, 999), -RILL_EAGAIN);
    for (int i = 0; i < k; i++) {
      uint64_t key = (uint64_t)round * depth + (uint64_t)i;
      CHECK_EQ(v[i].sig, key);
      CHECK_PAYLOAD(v[i].data, 64, key, 0);
    }
    CHECK_RC(rill_poll_many(c, v, 16), -RILL_EAGAIN); /* releases them */
  }
  rill_producer_leave(p);
  rill_consumer_leave(c);

  /* A lapped lossy consumer: the burst reports the overrun first, then
   * takes the rest. */
  mkchan("lap", depth, 64, 1, 0);
  rill_consumer *lc;
  CHECK_OK(rill_consumer_join(R, "lap", RILL_LOSSY, &lc));
  CHECK_OK(rill_producer_join(R, "lap", &p));
  for (uint64_t i = 0; i < 3 * depth; i++) {
    tu_fill(b, 64, i, 0);
    CHECK_OK(rill_send(p, b, 64, i));
  }
  CHECK_RC(rill_poll_many(lc, v, 16), -RILL_EOVERRUN);
  CHECK(v[0].lost > 0);
  int k = rill_poll_many(lc, v, 16);
  CHECK(k >= 1 && k <= (int)depth);
  for (int i = 0; i < k; i++) {
    CHECK_EQ(v[i].sig, 3 * depth - (uint64_t)k + (uint64_t)i);
    CHECK_PAYLOAD(v[i].data, 64, v[i].sig, 0);
    CHECK_OK(rill_check(lc, &v[i]));
  }
  rill_producer_leave(p);
  rill_consumer_leave(lc);
  checks_run += 20;
}

/* A consumer that caught up after a streak of 64 or more waits its
 * hold-off before the empty poll returns (the producer gets its lines to
 * itself); only once per streak. */
static void test_holdoff(void) {
  mkchan("hold", 256, 64, 1, 0);
  rill_producer *p;
  rill_consumer *c;
  CHECK_OK(rill_consumer_join(R, "hold", RILL_RELIABLE, &c));
  CHECK_OK(rill_producer_join(R, "hold", &p));
  CHECK_RC(rill_consumer_set_holdoff(NULL, 1), -RILL_EINVAL);
  const uint64_t hold = 50000000; /* 50 ms, to be seen on any machine */
  CHECK_OK(rill_consumer_set_holdoff(c, hold));
  uint8_t b[64];
  rill_view v[64];
  for (int round = 0; round < 2; round++) {
    for (uint64_t i = 0; i < 100; i++) {
      tu_fill(b, 64, i, 0);
      CHECK_OK(rill_send(p, b, 64, i));
    }
    int got = 0;
    while (got < 100) {
      int k = round ? rill_poll_many(c, v, 64) : rill_poll(c, v);
      CHECKF(k >= 0, "poll: %s", rill_strerror(k));
      got += round ? k : 1;
    }
    uint64_t t0 = tu_ns();
    CHECK_RC(round ? rill_poll_many(c, v, 64) : rill_poll(c, v), -RILL_EAGAIN);
    uint64_t waited = tu_ns() - t0;
    CHECKF(waited >= hold,
           "the empty poll after a streak of 100 returned after %" PRIu64 " ns", waited);
  }
  rill_producer_leave(p);
  rill_consumer_leave(c);
  checks_run += 4;
}

/* ---- across processes ---------------------------------------------------------
 * A producer sends the schedule in batches of 1 to 32 on channel "x"
 * (fragmented messages, rill_send_many) and reserves/commits batches of
 * one-fragment messages on channel "y"; a reliable consumer reads "x" whole
 * and a reliable and a lossy consumer read "y" in bursts. */
#define XSALT 31
#define XMTU 256u
#define XMAX (3 * XMTU)
#define XDEPTH 256u

typedef struct shared {
  uint64_t n, seq0x, seq0y;
  tu_gate ready;
} shared;

static shared *sh;

static void x_producer(void *arg) {
  sh = arg;
  rill_region *r = tu_region_open(REGION);
  rill_producer *px, *py;
  CHECK_OK(rill_producer_join(r, "x", &px));
  CHECK_OK(rill_producer_join(r, "y", &py));
  static uint8_t buf[32][XMAX];
  tu_rng rng = {tu_ns()};
  for (uint64_t i = 0; i < sh->n;) {
    uint64_t count = 1 + tu_below(&rng, 32);
    if (count > sh->n - i) count = sh->n - i;
    rill_msg m[32];
    for (uint64_t k = 0; k < count; k++) {
      size_t sz = (size_t)tu_msg_size(XSALT, i + k, XMAX);
      tu_fill(buf[k], sz, tu_key(XSALT, i + k), 0);
      m[k] = (rill_msg){.data = buf[k], .sz = sz, .sig = i + k};
    }
    unsigned spins = 0;
    int rc;
    while ((rc = rill_send_many(px, m, (size_t)count)) == -RILL_EAGAIN) tu_relax(&spins);
    CHECK_OK(rc);
    /* the same messages, cut to one fragment, on "y" in place */
    void *bufs[32];
    spins = 0;
    while ((rc = rill_reserve_many(py, (size_t)count, XMTU, bufs)) == -RILL_EAGAIN)
      tu_relax(&spins);
    CHECK_OK(rc);
    for (uint64_t k = 0; k < count; k++) {
      m[k].sz = m[k].sz > XMTU ? XMTU : m[k].sz;
      m[k].ctl = RILL_CTL_MSG;
      tu_fill(bufs[k], m[k].sz, tu_key(XSALT, i + k), 0);
    }
    CHECK_OK(rill_commit_many(py, m, (size_t)count));
    i += count;
  }
  CHECK_OK(rill_producer_leave(px));
  CHECK_OK(rill_producer_leave(py));
  rill_region_close(r);
}

static void x_reader(void *arg) {
  sh = arg;
  rill_region *r = tu_region_open(REGION);
  rill_consumer *c;
  CHECK_OK(rill_consumer_join(r, "x", RILL_RELIABLE, &c));
  tu_gate_post(&sh->ready);
  static uint8_t buf[XMAX];
  tu_sched s;
  tu_sched_init(&s, XSALT, XMAX, XMTU, sh->seq0x);
  for (uint64_t i = 0; i < sh->n; i++) {
    tu_recv_sched(c, buf, sizeof buf, &s);
    tu_sched_next(&s);
  }
  CHECK_OK(rill_consumer_leave(c));
  rill_region_close(r);
}

static void y_reader(void *arg, int mode) {
  sh = arg;
  rill_region *r = tu_region_open(REGION);
  rill_consumer *c;
  CHECK_OK(rill_consumer_join(r, "y", mode, &c));
  tu_gate_post(&sh->ready);
  uint64_t next = 0, got = 0, lost = 0;
  rill_view v[64];
  unsigned spins = 0;
  while (next < sh->n) {
    int k = rill_poll_many(c, v, 64);
    if (k == -RILL_EAGAIN) {
      tu_relax(&spins);
      continue;
    }
    if (k == -RILL_EOVERRUN) {
      CHECK(mode == RILL_LOSSY);
      lost += v[0].lost;
      next += v[0].lost;
      continue;
    }
    CHECKF(k > 0, "poll_many: %s", rill_strerror(k));
    spins = 0;
    for (int i = 0; i < k; i++, next++) {
      CHECK_EQ(v[i].seq, sh->seq0y + next);
      CHECK_EQ(v[i].sig, next);
      uint64_t sz = tu_msg_size(XSALT, next, XMAX);
      CHECK_EQ(v[i].sz, sz > XMTU ? XMTU : sz);
      int64_t bad = tu_verify(v[i].data, v[i].sz, tu_key(XSALT, next), 0);
      if (mode == RILL_LOSSY && rill_check(c, &v[i]) != 0) {
        lost++; /* overwritten while read: whatever was read is void */
        continue;
      }
      CHECKF(bad < 0, "message %" PRIu64 " wrong at byte %" PRId64, next, bad);
      got++;
    }
  }
  CHECK_EQ(next, sh->n);
  if (mode == RILL_RELIABLE) CHECK_EQ(got, sh->n);
  CHECK_OK(rill_consumer_leave(c));
  rill_region_close(r);
}

static void y_reliable(void *arg) { y_reader(arg, RILL_RELIABLE); }
static void y_lossy(void *arg) { y_reader(arg, RILL_LOSSY); }

static void test_crossproc(void) {
  sh = tu_shared(sizeof *sh);
  sh->n = tu_scaled(400000, 20000);
  rill_channel_opts co = {.depth = XDEPTH, .mtu = XMTU, .max_consumers = 2, .max_msg = XMAX};
  CHECK_OK(rill_channel_create(R, "x", &co));
  CHECK_OK(rill_channel_create(R, "y", &co));
  rill_channel_stats st;
  CHECK_OK(rill_channel_stats_get(R, "x", &st));
  sh->seq0x = st.seq;
  CHECK_OK(rill_channel_stats_get(R, "y", &st));
  sh->seq0y = st.seq;
  tu_gate_init(&sh->ready);
  tu_spawn("reader of x", x_reader, sh);
  tu_spawn("reliable reader of y", y_reliable, sh);
  tu_spawn("lossy reader of y", y_lossy, sh);
  tu_gate_wait(&sh->ready, 3);
  tu_spawn("producer", x_producer, sh);
  tu_wait_all();
  checks_run += 3;
}

static const tu_role roles[] = {TU_ROLE(x_producer), TU_ROLE(x_reader), TU_ROLE(y_reliable),
                                TU_ROLE(y_lossy), {0}};

int main(int argc, char **argv) {
  tu_start_roles("batch", 120, argc, argv, roles);
  rill_region_opts o = tu_opts(16 << 20);
  CHECK_OK(rill_region_create(REGION, &o, &R));
  test_refused();
  test_send_many();
  test_reserve_many();
  test_reserve_ahead();
  test_bursts();
  test_holdoff();
  test_crossproc();
  rill_region_close(R);
  return tu_pass("%d checks: batches refused whole, send_many, reserve/commit_many with "
                 "wrap, bursts kept until the next call, %" PRIu64 " messages across processes",
                 checks_run, sh->n);
}
