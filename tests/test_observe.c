/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* What operators and tools read without disturbing the endpoints:
 *   - rill_region_object_get() lists a region's table;
 *   - rill_channel_stats_get() reports the channel's layout;
 *   - consumers sample publish-to-consume latency into their cursor page
 *     (one sample per heartbeat flush, never one per message), which
 *     rill_latency_get() reads and rill_latency_quantile() summarises;
 *   - rill_consumer_seek_last() moves a lossy consumer to the last N
 *     messages still in the ring, as `rill tail` needs. */
#include "layout.h"
#include "testutil.h"

static int checks_run;

static void test_names(void) {
  char longest[RILL_NAME_MAX + 2];
  memset(longest, 'n', sizeof longest);
  longest[RILL_NAME_MAX] = 0;
  CHECK_EQ(rill_name_valid(longest), 1);
  longest[RILL_NAME_MAX] = 'n';
  longest[RILL_NAME_MAX + 1] = 0;
  CHECK_EQ(rill_name_valid(longest), 0);
  CHECK_EQ(rill_name_valid("md.quotes_v2-a"), 1);
  const char *bad[] = {"", ".hidden", "a/b", "a b", "a@b", "caf\xc3\xa9", NULL};
  for (int i = 0; i < 7; i++) CHECKF(rill_name_valid(bad[i]) == 0, "'%s'", bad[i] ? bad[i] : "NULL");
  checks_run++;
}

static void test_objects(void) {
  rill_region_opts o = tu_opts(8 << 20);
  rill_region *r;
  CHECK_OK(rill_region_create("objs", &o, &r));
  rill_region_info ri;
  CHECK_OK(rill_region_info_get(r, &ri));
  CHECK_EQ(ri.nobjects, 0);
  rill_object_info oi;
  CHECK_RC(rill_region_object_get(r, 0, &oi), -RILL_ENOENT);
  CHECK_RC(rill_region_object_get(r, 0, NULL), -RILL_EINVAL);
  CHECK_RC(rill_region_object_get(NULL, 0, &oi), -RILL_EINVAL);

  const char *names[] = {"a", "quotes.v2", "x_y-z"};
  const rill_channel_opts co[] = {
      {.depth = 64, .mtu = 128}, {.depth = 1024, .mtu = 1024, .max_consumers = 3}, {0}};
  uint64_t off = RILL_PAGE;
  for (uint32_t i = 0; i < 3; i++) CHECK_OK(rill_channel_create(r, names[i], &co[i]));
  CHECK_OK(rill_region_info_get(r, &ri));
  CHECK_EQ(ri.nobjects, 3);
  for (uint32_t i = 0; i < 3; i++) {
    CHECK_OK(rill_region_object_get(r, i, &oi));
    CHECKF(strcmp(oi.name, names[i]) == 0, "object %u is %s", i, oi.name);
    CHECK_EQ(oi.type, RILL_OBJECT_CHANNEL);
    CHECK_EQ(oi.off, off);
    CHECK_EQ(oi.size, rill_channel_footprint(&co[i]));
    rill_channel_stats st;
    CHECK_OK(rill_channel_stats_get(r, names[i], &st));
    CHECK_EQ(st.off, oi.off);
    CHECK_EQ(st.size, oi.size);
    /* PROTOCOL.md section 2's formulas */
    uint64_t mtu_chunks = (st.mtu + 63) / 64;
    CHECK_EQ(st.data_chunks, (uint64_t)(st.depth + 2) * mtu_chunks);
    CHECK_EQ(st.meta_off, 12288 + (uint64_t)st.max_consumers * 4096);
    CHECK_EQ(st.data_off, st.meta_off + ((uint64_t)st.depth * 32 + 4095) / 4096 * 4096);
    CHECK_EQ(st.size, st.data_off + (st.data_chunks * 64 + 4095) / 4096 * 4096);
    CHECK_EQ(st.seq0, 0);
    CHECK(st.created_ns >= ri.created_ns);
    CHECK_EQ(st.producer_gen, 0);
    off += oi.size;
    checks_run++;
  }
  CHECK_RC(rill_region_object_get(r, 3, &oi), -RILL_ENOENT);
  /* A second handle sees the same table. */
  rill_region *r2 = tu_region_open("objs");
  CHECK_OK(rill_region_object_get(r2, 2, &oi));
  CHECK(strcmp(oi.name, "x_y-z") == 0);
  rill_region_close(r2);
  rill_region_close(r);
  CHECK_OK(rill_region_unlink("objs", tu_dir()));
}

/* The bucket map and the quantiles, on made-up histograms. */
static void test_latency_math(void) {
  for (uint32_t i = 0; i < 124; i++) {
    uint64_t lo = rill_latency_bucket_ns(i), hi = rill_latency_bucket_ns(i + 1);
    CHECKF(lo < hi, "bucket %u: %" PRIu64 " .. %" PRIu64, i, lo, hi);
    CHECK_EQ(rill__lat_bucket((uint32_t)lo), i);
    CHECK_EQ(rill__lat_bucket((uint32_t)(hi - 1)), i);
    /* a quarter of an octave: no bucket wider than a quarter of its start */
    if (i >= 4) CHECKF((hi - lo) * 4 <= lo, "bucket %u too wide", i);
  }
  CHECK_EQ(rill_latency_bucket_ns(124), 1ull << 32);
  CHECK_EQ(rill__lat_bucket(UINT32_MAX), 123);

  rill_latency h;
  memset(&h, 0, sizeof h);
  CHECK_EQ(rill_latency_quantile(&h, 0.5), 0);
  CHECK_EQ(rill_latency_quantile(NULL, 0.5), 0);
  /* 100 samples: 90 of 1000 ns, 10 of 1 ms */
  h.buckets[rill__lat_bucket(1000)] = 90;
  h.buckets[rill__lat_bucket(1000000)] = 10;
  h.count = 100;
  uint64_t p50 = rill_latency_quantile(&h, 0.5), p99 = rill_latency_quantile(&h, 0.99);
  CHECKF(p50 >= 896 && p50 < 1024, "p50 %" PRIu64, p50); /* 1000's bucket: [896, 1024) */
  CHECKF(p99 >= 917504 && p99 < 1048576, "p99 %" PRIu64, p99);
  CHECK(rill_latency_quantile(&h, 0.9) < 1024);
  CHECK(rill_latency_quantile(&h, 0.91) >= 917504);
  CHECK_EQ(rill_latency_quantile(&h, 0), rill_latency_quantile(&h, 0.001));
  CHECK(rill_latency_quantile(&h, 1) < 1048576);
  memset(&h, 0, sizeof h);
  h.buckets[0] = h.count = 5; /* all exactly 0 */
  CHECK_EQ(rill_latency_quantile(&h, 0.99), 0);
  /* buckets no sample can reach (a broken writer): the end of the range */
  h.buckets[126] = 5;
  h.count = 10;
  CHECK_EQ(rill_latency_quantile(&h, 1), 1ull << 32);
  CHECK_EQ(rill_latency_quantile(&h, 0.5), 0);
  checks_run++;
}

static void sleep_ns(uint64_t ns) {
  struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

/* Real samples: a message left waiting for D ns before it is consumed
 * gives a sample of at least D; messages consumed between heartbeat
 * flushes are not sampled. */
static void test_latency_samples(void) {
  rill_channel_opts co = {.depth = 1024, .mtu = 256};
  uint64_t seq0;
  rill_region *r = tu_channel_new("lat", 8 << 20, "ch", &co, &seq0);
  rill_producer *p;
  rill_consumer *c;
  CHECK_OK(rill_producer_join(r, "ch", &p));
  CHECK_OK(rill_consumer_join(r, "ch", RILL_RELIABLE, &c));
  uint32_t slot = rill_consumer_slot(c);
  rill_latency h;
  CHECK_OK(rill_latency_get(r, "ch", slot, &h));
  CHECK_EQ(h.count, 0);
  CHECK_RC(rill_latency_get(r, "ch", co.max_consumers ? co.max_consumers : 8, &h), -RILL_EINVAL);
  CHECK_RC(rill_latency_get(r, "nope", 0, &h), -RILL_ENOENT);

  const uint64_t delay = 3000000; /* 3 ms */
  char buf[256];
  rill_meta m;
  for (int round = 1; round <= 3; round++) {
    rill_latency before = h;
    uint64_t t0 = tu_ns();
    CHECK_OK(rill_send(p, "x", 1, (uint64_t)round));
    sleep_ns(delay);
    CHECK_OK(rill_consumer_flush(c)); /* a heartbeat flush: sample the next */
    CHECK_EQ(rill_recv(c, buf, sizeof buf, &m), 1);
    uint64_t waited = tu_ns() - t0;
    CHECK_OK(rill_latency_get(r, "ch", slot, &h));
    CHECK_EQ(h.count, (uint64_t)round);
    /* this round's sample alone: the one bucket that moved, and the sum */
    uint32_t moved = RILL_LATENCY_BUCKETS;
    for (uint32_t i = 0; i < RILL_LATENCY_BUCKETS; i++)
      if (h.buckets[i] != before.buckets[i]) {
        CHECK_EQ(moved, RILL_LATENCY_BUCKETS);
        CHECK_EQ(h.buckets[i], before.buckets[i] + 1);
        moved = i;
      }
    uint64_t d = h.sum_ns - before.sum_ns;
    CHECK_EQ(rill__lat_bucket((uint32_t)d), moved);
    /* the stamp comes from the producer's tick-counter clock: allow it a
     * few microseconds against CLOCK_MONOTONIC */
    CHECKF(d + 10000 >= delay, "sample %" PRIu64 " ns after a %" PRIu64 " ns wait", d, delay);
    CHECKF(d <= waited + 10000, "sample %" PRIu64 " ns, %" PRIu64 " ns from send to receive",
           d, waited);
  }
  /* 100 messages consumed with no heartbeat flush among them (the first
   * periodic flush comes after depth/8 polls at the earliest): no sample. */
  for (uint64_t i = 0; i < 100; i++) CHECK_OK(rill_send(p, "y", 1, i));
  for (uint64_t i = 0; i < 100; i++) CHECK_EQ(rill_recv(c, buf, sizeof buf, &m), 1);
  CHECK_OK(rill_latency_get(r, "ch", slot, &h));
  CHECK_EQ(h.count, 3);
  /* Polls count towards the periodic flush, so a busy consumer keeps
   * sampling: 20 rings' worth of messages give at least 20*4 samples, and
   * no more than one per depth/8 polls. */
  uint64_t n = 20 * co.depth;
  for (uint64_t i = 0; i < n; i++) {
    CHECK_OK(rill_send(p, "z", 1, i));
    CHECK_EQ(rill_recv(c, buf, sizeof buf, &m), 1);
  }
  CHECK_OK(rill_latency_get(r, "ch", slot, &h));
  CHECKF(h.count >= 3 + n / (co.depth / 4) && h.count <= 3 + 1 + n / (co.depth / 8),
         "%" PRIu64 " samples over %" PRIu64 " messages", h.count, n);

  /* A rejoin keeps the samples; a new join starts from none. */
  rill_consumer_leave(c);
  CHECK_OK(rill_consumer_rejoin(r, "ch", slot, &c));
  rill_latency h2;
  CHECK_OK(rill_latency_get(r, "ch", slot, &h2));
  CHECK_EQ(h2.count, h.count);
  CHECK_EQ(h2.sum_ns, h.sum_ns);
  rill_consumer_leave(c);
  CHECK_OK(rill_consumer_join(r, "ch", RILL_LOSSY, &c));
  CHECK_EQ(rill_consumer_slot(c), slot);
  CHECK_OK(rill_latency_get(r, "ch", slot, &h2));
  CHECK_EQ(h2.count, 0);
  CHECK_EQ(h2.sum_ns, 0);
  rill_consumer_leave(c);
  rill_producer_leave(p);
  rill_region_close(r);
  CHECK_OK(rill_region_unlink("lat", tu_dir()));
  checks_run++;
}

/* tspub of the next message consumer C polls (which must be there). */
static uint32_t next_tspub(rill_consumer *c) {
  rill_view v;
  CHECK_OK(rill_poll(c, &v));
  return v.tspub;
}

/* Sends two messages, the second at a seq that is not a multiple of 64,
 * and returns the second's tspub.  The first takes any request the
 * consumer's polls made before (its heartbeats come every 128 to 256 polls
 * at depth 1024); none is made between the two sends. */
static uint32_t second_tspub(rill_producer *p, rill_consumer *c) {
  if ((rill_producer_seq(p) + 1) % 64 == 0) {
    CHECK_OK(rill_send(p, "s", 1, 0));
    (void)next_tspub(c);
  }
  CHECK_OK(rill_send(p, "s", 1, 0));
  CHECK_OK(rill_send(p, "s", 1, 1));
  (void)next_tspub(c);
  return next_tspub(c);
}

/* Which descriptors carry a stamp (docs/PROTOCOL.md 2.4): seq multiples of
 * 64, the first publish after a consumer asked, all of them while an
 * older consumer is joined or when the application asks; no others.  And
 * the sample a due consumer takes after a stall comes from its backlog. */
static void test_stamps(void) {
  rill_channel_opts co = {.depth = 1024, .mtu = 64, .max_consumers = 2};
  uint64_t seq0;
  rill_region *r = tu_channel_new("stamps", 8 << 20, "ch", &co, &seq0);
  CHECK_EQ(seq0, 0);
  rill_producer *p;
  rill_consumer *c;
  CHECK_OK(rill_consumer_join(r, "ch", RILL_LOSSY, &c));
  CHECK_OK(rill_producer_join(r, "ch", &p));
  /* seq 0: the first publish and a multiple of 64; 1..63 none (fewer
   * polls than the first periodic flush, which comes after 128) */
  for (uint64_t i = 0; i < 64; i++) CHECK_OK(rill_send(p, "s", 1, i));
  CHECK(next_tspub(c) != 0);
  for (uint64_t i = 1; i < 64; i++) CHECKF(next_tspub(c) == 0, "seq %" PRIu64 " stamped", i);
  CHECK_OK(rill_send(p, "s", 1, 64)); /* seq 64: a multiple */
  CHECK(next_tspub(c) != 0);
  /* a consumer's heartbeat asks for one: the next publish, only */
  uint64_t t_ask = tu_ns();
  CHECK_OK(rill_consumer_flush(c));
  CHECK_OK(rill_send(p, "s", 1, 65));
  CHECK_OK(rill_send(p, "s", 1, 66));
  CHECK(next_tspub(c) != 0);
  CHECK_EQ(next_tspub(c), 0);
  /* a consumer asks at most once a millisecond: a heartbeat sooner does
   * not ask (its sample waits for a stamp of the period) */
  CHECK_OK(rill_consumer_flush(c));
  CHECK_OK(rill_send(p, "s", 1, 67));
  uint32_t t67 = next_tspub(c);
  if (tu_ns() - t_ask < 1000000) /* else this machine paused: cannot tell */
    CHECK_EQ(t67, 0);
  /* a batch shares one stamp */
  sleep_ns(1100000);
  CHECK_OK(rill_consumer_flush(c));
  rill_msg m[3] = {{.data = "a", .sz = 1}, {.data = "b", .sz = 1}, {.data = "c", .sz = 1}};
  CHECK_OK(rill_send_many(p, m, 3)); /* one stamp for the whole batch */
  uint32_t t1 = next_tspub(c), t2 = next_tspub(c), t3 = next_tspub(c);
  CHECK(t1 != 0 && t1 == t2 && t2 == t3);
  CHECK_OK(rill_send(p, "s", 1, 71));
  CHECK_EQ(next_tspub(c), 0);
  /* RILL_STAMP_EVERY */
  CHECK_OK(rill_producer_set_stamp(p, RILL_STAMP_EVERY));
  for (uint64_t i = 0; i < 10; i++) CHECK_OK(rill_send(p, "s", 1, i));
  for (uint64_t i = 0; i < 10; i++) CHECK(next_tspub(c) != 0);
  CHECK_OK(rill_producer_set_stamp(p, RILL_STAMP_SAMPLED));
  /* Still every one until the next credit refresh (at most depth away). */
  for (uint64_t i = 0; i < co.depth; i++) CHECK_OK(rill_send(p, "s", 1, i));
  for (uint64_t i = 0; i < co.depth; i++) (void)next_tspub(c);
  CHECK_EQ(second_tspub(p, c), 0);

  /* An older consumer (simulated: its stamp_gen is not its gen) gets every
   * message stamped from the producer's next credit refresh on. */
  rill_consumer *old;
  CHECK_OK(rill_consumer_join(r, "ch", RILL_LOSSY, &old));
  char path[256];
  tu_path(path, sizeof path, "stamps");
  rill_channel_stats st;
  CHECK_OK(rill_channel_stats_get(r, "ch", &st));
  uint64_t cur_off = st.off + 3 * RILL_PAGE + (uint64_t)rill_consumer_slot(old) * RILL_PAGE;
  uint32_t gen, zero = 0;
  tu_read_at(path, cur_off + offsetof(rill_cursor, gen), &gen, 4);
  CHECK(gen != 0);
  tu_write_at(path, cur_off + offsetof(rill_cursor, stamp_gen), &zero, 4);
  for (uint64_t i = 0; i < co.depth; i++) CHECK_OK(rill_send(p, "s", 1, i));
  for (uint64_t i = 0; i < co.depth; i++) (void)next_tspub(c);
  for (uint64_t i = 0; i < 200; i++) CHECK_OK(rill_send(p, "s", 1, i));
  for (uint64_t i = 0; i < 200; i++) CHECK(next_tspub(c) != 0);
  rill_consumer_leave(old); /* gone: sampled stamps again after a refresh */
  for (uint64_t i = 0; i < co.depth; i++) CHECK_OK(rill_send(p, "s", 1, i));
  for (uint64_t i = 0; i < co.depth; i++) (void)next_tspub(c);
  CHECK_EQ(second_tspub(p, c), 0);

  /* A stall: 100 messages wait 3 ms, then a sample becomes due.  The
   * stamp it asks for goes to a message not yet published, but the
   * backlog holds messages of the period: the sample is one of them, and
   * says at least 3 ms. */
  rill_consumer_leave(c);
  rill_consumer *rc;
  CHECK_OK(rill_consumer_join(r, "ch", RILL_RELIABLE, &rc));
  uint32_t slot = rill_consumer_slot(rc);
  rill_latency h0, h1;
  CHECK_OK(rill_latency_get(r, "ch", slot, &h0));
  /* 100: a multiple of 64 among them, and fewer polls than the first
   * periodic flush (128 at the earliest) */
  for (uint64_t i = 0; i < 100; i++) CHECK_OK(rill_send(p, "t", 1, i));
  const uint64_t delay = 3000000;
  sleep_ns(delay);
  CHECK_OK(rill_consumer_flush(rc)); /* due now */
  char buf[8];
  rill_meta mt;
  for (uint64_t i = 0; i < 100; i++) CHECK_EQ(rill_recv(rc, buf, sizeof buf, &mt), 1);
  CHECK_OK(rill_latency_get(r, "ch", slot, &h1));
  CHECK_EQ(h1.count, h0.count + 1);
  uint64_t d = h1.sum_ns - h0.sum_ns;
  CHECKF(d + 10000 >= delay, "sample %" PRIu64 " ns after a %" PRIu64 " ns stall", d, delay);
  rill_consumer_leave(rc);
  rill_producer_leave(p);
  rill_region_close(r);
  CHECK_OK(rill_region_unlink("stamps", tu_dir()));
  checks_run++;
}

/* Sends message SIG of SIZE bytes, byte j = SIG * 31 + j. */
static void send_msg(rill_producer *p, uint64_t sig, size_t size) {
  uint8_t buf[1024];
  for (size_t j = 0; j < size; j++) buf[j] = (uint8_t)(sig * 31 + j);
  CHECK_OK(rill_send(p, buf, size, sig));
}

static void recv_msg(rill_consumer *c, uint64_t sig, size_t size) {
  uint8_t buf[1024];
  rill_meta m;
  int64_t n = rill_recv(c, buf, sizeof buf, &m);
  CHECKF(n == (int64_t)size && m.sig == sig, "got %" PRId64 " bytes of sig %" PRIu64
         ", want %zu of %" PRIu64, n, m.sig, size, sig);
  for (size_t j = 0; j < size; j++) CHECK_EQ(buf[j], (uint8_t)(sig * 31 + j));
}

static size_t msg_size(uint64_t sig) { return sig % 3 == 0 ? 300 : sig % 50; } /* 300: 3 fragments */

static void test_seek_last(void) {
  rill_channel_opts co = {.depth = 64, .mtu = 128, .max_msg = 1024};
  uint64_t seq0;
  rill_region *r = tu_channel_new("seek", 8 << 20, "ch", &co, &seq0);
  rill_producer *p;
  CHECK_OK(rill_producer_join(r, "ch", &p));
  for (uint64_t s = 0; s < 10; s++) send_msg(p, s, msg_size(s));
  rill_consumer *c, *rc;
  CHECK_OK(rill_consumer_join(r, "ch", RILL_RELIABLE, &rc));
  CHECK_RC(rill_consumer_seek_last(rc, 3), -RILL_EINVAL);
  CHECK_RC(rill_consumer_seek_last(NULL, 3), -RILL_EINVAL);
  rill_consumer_leave(rc);

  /* The producer has not flushed its seq: the consumer joins at the start,
   * and seeking finds the newest end anyway. */
  CHECK_OK(rill_consumer_join(r, "ch", RILL_LOSSY, &c));
  CHECK_EQ(rill_consumer_seek_last(c, 3), 3);
  for (uint64_t s = 7; s < 10; s++) recv_msg(c, s, msg_size(s));
  uint8_t buf[1024];
  rill_meta m;
  CHECK_EQ(rill_recv(c, buf, sizeof buf, &m), -RILL_EAGAIN);
  /* Further back than the channel goes: back to its first message. */
  CHECK_EQ(rill_consumer_seek_last(c, 100), 10);
  for (uint64_t s = 0; s < 10; s++) recv_msg(c, s, msg_size(s));
  /* 0: only what comes next. */
  CHECK_EQ(rill_consumer_seek_last(c, 0), 0);
  CHECK_EQ(rill_recv(c, buf, sizeof buf, &m), -RILL_EAGAIN);
  send_msg(p, 10, 5);
  recv_msg(c, 10, 5);

  /* After several laps only the descriptors still in the ring count: the
   * consumer gets whole messages, consecutive, up to the newest. */
  uint64_t last = 10;
  for (uint64_t s = 11; s < 11 + 5 * co.depth; s++) send_msg(p, last = s, msg_size(s));
  int64_t got = rill_consumer_seek_last(c, 1000);
  CHECKF(got > 0 && got < co.depth, "went back %" PRId64, got);
  uint64_t first = UINT64_MAX, prev = 0, n = 0;
  int64_t sz;
  while ((sz = rill_recv(c, buf, sizeof buf, &m)) >= 0) {
    if (first == UINT64_MAX) first = m.sig;
    else CHECK_EQ(m.sig, prev + 1);
    CHECK_EQ((uint64_t)sz, msg_size(m.sig));
    for (int64_t j = 0; j < sz; j++) CHECK_EQ(buf[j], (uint8_t)(m.sig * 31 + (uint64_t)j));
    prev = m.sig;
    n++;
  }
  CHECK_EQ(sz, -RILL_EAGAIN);
  CHECK_EQ(prev, last);
  CHECKF(n == (uint64_t)got || n + 1 == (uint64_t)got, "went back %" PRId64 ", got %" PRIu64,
         got, n); /* the oldest may be overwritten while we read */
  rill_consumer_leave(c);
  rill_producer_leave(p);
  rill_region_close(r);
  CHECK_OK(rill_region_unlink("seek", tu_dir()));
  checks_run++;
}

int main(void) {
  tu_start("observe", 60);
  test_names();
  test_objects();
  test_latency_math();
  test_latency_samples();
  test_stamps();
  test_seek_last();
  return tu_pass("%d checks: names, object table, layout in stats, latency samples and "
                 "quantiles, stamps, seek to the last messages", checks_run);
}
