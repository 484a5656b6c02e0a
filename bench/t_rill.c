/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill_bench: rill channels, copying (rill_send / rill_recv) and zero-copy
 * (rill_reserve + commit / rill_poll, reading the payload in place), and the
 * sleeping waits: round trips with both sides parked ("rill-sleep") and the
 * one-way latency of a paced producer ("rill-lowrate").
 *
 * Batches: rill_send_many ("rill-batch", the producer copies) and
 * rill_reserve_many + commit_many ("rill-zcbatch", it writes in place),
 * read in bursts with rill_poll_many, each payload checked where it lies;
 * "rill-alone" is the producer with no consumer.
 *
 * Throughput and latency use one channel "data" (side 0 produces, side 1
 * consumes, reliably).  Round trips use "ping" (side 0 -> side 1) and "pong"
 * (side 1 -> side 0).  Every channel: depth BENCH_DEPTH, mtu BENCH_MAX_SIZE
 * (every message is one fragment), one consumer slot.
 */
#include "bench.h"

#include <rill.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct rill_ep {
  rill_producer *p;
  rill_consumer *c;
  rill_region *r;      /* kept open by the producer-alone reader only   */
  uint64_t alone_seen; /* messages that reader has seen published       */
  unsigned char *bbuf; /* BENCH_BATCH_MAX messages (batched copying)   */
  unsigned char *sbuf; /* message being sent (copying mode)       */
  unsigned char *rbuf; /* message received (copying mode)         */
  unsigned char *tmpl; /* constant middle words (zero-copy mode)  */
} rill_ep;

uint32_t bench_rill_region_flags;

static rill_channel_opts chan_opts(void) {
  rill_channel_opts o = {0};
  o.depth = BENCH_DEPTH;
  o.mtu = BENCH_MAX_SIZE;
  o.max_consumers = 1;
  return o;
}

static int rb_setup(bench_test *t, char *err, size_t errlen) {
  static unsigned counter;
  snprintf(t->region, sizeof t->region, "bench-%d-%u", (int)getpid(),
           counter++);
  rill_channel_opts co = chan_opts();
  uint64_t fp = rill_channel_footprint(&co);
  if (fp == 0) {
    snprintf(err, errlen, "rill_channel_footprint: options refused");
    t->region[0] = 0;
    return -1;
  }
  int nchan = t->kind == BENCH_RTT ? 2 : 1;
  rill_region_opts ro = {0};
  ro.size = 4096 + (uint64_t)nchan * fp + (64u << 10);
  ro.dir = t->dir;
  ro.flags = bench_rill_region_flags; /* --huge: rounded up to huge pages */
  rill_region *r = NULL;
  bench_cleanup_register_region(t->dir, t->region);
  int rc = rill_region_create(t->region, &ro, &r);
  if (rc) {
    snprintf(err, errlen, "rill_region_create(%s/%s, %llu bytes): %s", t->dir,
             t->region, (unsigned long long)ro.size, rill_strerror(rc));
    return -1;
  }
  static const char *const names[2][2] = {{"data", NULL}, {"ping", "pong"}};
  for (int i = 0; i < nchan && rc == 0; i++) {
    const char *nm = names[t->kind == BENCH_RTT][i];
    rc = rill_channel_create(r, nm, &co);
    if (rc)
      snprintf(err, errlen, "rill_channel_create(%s): %s", nm,
               rill_strerror(rc));
  }
  rill_region_close(r);
  return rc ? -1 : 0;
}

static void rb_teardown(bench_test *t) {
  if (!t->region[0]) return;
  rill_region_unlink(t->region, t->dir);
  bench_cleanup_unregister_region();
  t->region[0] = 0;
}

static void rb_close(void *vep) {
  rill_ep *e = vep;
  if (!e) return;
  rill_producer_leave(e->p);
  rill_consumer_leave(e->c);
  rill_region_close(e->r);
  bench_free(e->bbuf);
  bench_free(e->sbuf);
  bench_free(e->rbuf);
  bench_free(e->tmpl);
  free(e);
}

static int rb_open(bench_test *t, int side, void **out) {
  rill_ep *e = calloc(1, sizeof *e);
  if (!e) return bench_fail("out of memory");
  e->sbuf = bench_alloc(BENCH_MAX_SIZE);
  e->rbuf = bench_alloc(BENCH_MAX_SIZE);
  e->tmpl = bench_alloc(BENCH_MAX_SIZE);
  e->bbuf = bench_alloc((size_t)BENCH_BATCH_MAX * BENCH_MAX_SIZE);
  if (!e->sbuf || !e->rbuf || !e->tmpl || !e->bbuf) {
    rb_close(e);
    return -1;
  }
  bench_msg_template(e->sbuf, t->size);
  bench_msg_template(e->tmpl, t->size);
  for (unsigned i = 0; i < BENCH_BATCH_MAX; i++)
    bench_msg_template(e->bbuf + (size_t)i * t->size, t->size);

  rill_region_opts ro = {0};
  ro.dir = t->dir;
  rill_region *r = NULL;
  int rc = rill_region_open(t->region, &ro, &r);
  if (rc) {
    rb_close(e);
    return bench_fail("rill_region_open(%s): %s", t->region,
                      rill_strerror(rc));
  }
  const char *in, *outc; /* channel this side consumes / produces */
  if (t->kind != BENCH_RTT) {
    in = side == 1 ? "data" : NULL;
    outc = side == 0 ? "data" : NULL;
  } else {
    in = side == 0 ? "pong" : "ping";
    outc = side == 0 ? "ping" : "pong";
  }
  if (t->tr == &bench_rill_alone && in) {
    e->r = r; /* the reader watches the producer's flushed position */
    *out = e;
    return 0;
  }
  /* consumers first: a reliable consumer joined before the first message
   * sees every message */
  if (in && (rc = rill_consumer_join(r, in, RILL_RELIABLE, &e->c)) != 0) {
    rill_region_close(r);
    rb_close(e);
    return bench_fail("rill_consumer_join(%s): %s", in, rill_strerror(rc));
  }
  if (outc && (rc = rill_producer_join(r, outc, &e->p)) != 0) {
    rill_region_close(r);
    rb_close(e);
    return bench_fail("rill_producer_join(%s): %s", outc, rill_strerror(rc));
  }
  rill_region_close(r);
  *out = e;
  return 0;
}

/* ---- sending ------------------------------------------------------------- */

/* Sends the N bytes of sbuf with SIG, spinning while there is no credit. */
static inline int copy_send_buf(rill_ep *e, size_t n, uint64_t sig) {
  int rc = rill_send(e->p, e->sbuf, n, sig);
  if (rc == -RILL_EAGAIN) {
    bench_spin sp = BENCH_SPIN_INIT;
    do {
      if (bench_spin_step(&sp)) return -1;
      rc = rill_send(e->p, e->sbuf, n, sig);
    } while (rc == -RILL_EAGAIN);
  }
  if (rc) return bench_fail("rill_send: %s", rill_strerror(rc));
  return 0;
}

static inline int copy_send_one(rill_ep *e, size_t n, uint64_t seq) {
  bench_msg_stamp(e->sbuf, n, seq);
  return copy_send_buf(e, n, seq);
}

/* rill_send_wait(): parks (after the producer's spin budget) while there is
 * no credit.  A wait of BENCH_WAIT_NS counts as an error and waits again,
 * BENCH_SPIN_TIMEOUT_NS at most in all. */
static int sleep_send_one(rill_ep *e, size_t n, uint64_t seq, uint64_t *errs) {
  bench_msg_stamp(e->sbuf, n, seq);
  bench_spin sp = BENCH_SPIN_INIT;
  int rc;
  while ((rc = rill_send_wait(e->p, e->sbuf, n, seq, BENCH_WAIT_NS)) ==
         -RILL_ETIMEDOUT) {
    *errs += 1;
    if (bench_spin_slow(&sp)) return -1;
  }
  if (rc) return bench_fail("rill_send_wait: %s", rill_strerror(rc));
  return 0;
}

/* Builds message SEQ in place: every byte is written, as a producer that
 * builds its message in the ring would. */
static inline int zc_send_one(rill_ep *e, size_t n, uint64_t seq) {
  void *dst;
  int rc = rill_reserve(e->p, n, &dst);
  if (rc == -RILL_EAGAIN) {
    bench_spin sp = BENCH_SPIN_INIT;
    do {
      if (bench_spin_step(&sp)) return -1;
      rc = rill_reserve(e->p, n, &dst);
    } while (rc == -RILL_EAGAIN);
  }
  if (rc) return bench_fail("rill_reserve: %s", rill_strerror(rc));
  memcpy(dst, e->tmpl, n);
  bench_msg_stamp(dst, n, seq);
  rc = rill_commit(e->p, n, seq, RILL_CTL_MSG);
  if (rc) return bench_fail("rill_commit: %s", rill_strerror(rc));
  return 0;
}

static int copy_send(void *vep, size_t n, uint64_t seq, uint64_t count) {
  rill_ep *e = vep;
  for (uint64_t i = 0; i < count; i++)
    if (copy_send_one(e, n, seq + i)) return -1;
  return 0;
}

static int zc_send(void *vep, size_t n, uint64_t seq, uint64_t count) {
  rill_ep *e = vep;
  for (uint64_t i = 0; i < count; i++)
    if (zc_send_one(e, n, seq + i)) return -1;
  return 0;
}

/* ---- receiving ------------------------------------------------------------ */

/* Verifies the message of GOT bytes (or the error GOT) received into rbuf
 * by the call WHAT.  Returns 0 or -1. */
static inline int copy_check(rill_ep *e, int64_t got, const rill_meta *m,
                             const char *what, size_t n, uint64_t *expect,
                             uint64_t midsum, uint64_t *errs) {
  if (got < 0) return bench_fail("%s: %s", what, rill_strerror((int)got));
  *errs += m->lost;
  if ((size_t)got != n) {
    *errs += 1;
    *expect += 1;
    return 0;
  }
  *errs += bench_msg_verify(e->rbuf, n, expect, midsum);
  return 0;
}

/* Receives the next message into rbuf and verifies it.  Returns 0 or -1. */
static inline int copy_recv_one(rill_ep *e, size_t n, uint64_t *expect,
                                uint64_t midsum, uint64_t *errs) {
  rill_meta m;
  int64_t got = rill_recv(e->c, e->rbuf, BENCH_MAX_SIZE, &m);
  if (got == -RILL_EAGAIN) {
    bench_spin sp = BENCH_SPIN_INIT;
    do {
      if (bench_spin_step(&sp)) return -1;
      got = rill_recv(e->c, e->rbuf, BENCH_MAX_SIZE, &m);
    } while (got == -RILL_EAGAIN);
  }
  return copy_check(e, got, &m, "rill_recv", n, expect, midsum, errs);
}

/* rill_recv_wait() into rbuf: spins for the consumer's spin budget, then
 * parks.  A wait of BENCH_WAIT_NS (a wake-up lost, or very late) counts as
 * an error and waits again, BENCH_SPIN_TIMEOUT_NS at most in all. */
static int64_t sleep_recv(rill_ep *e, rill_meta *m, uint64_t *errs) {
  bench_spin sp = BENCH_SPIN_INIT;
  int64_t got;
  while ((got = rill_recv_wait(e->c, e->rbuf, BENCH_MAX_SIZE, m,
                               BENCH_WAIT_NS)) == -RILL_ETIMEDOUT) {
    *errs += 1;
    if (bench_spin_slow(&sp)) break;
  }
  return got;
}

static int sleep_recv_one(rill_ep *e, size_t n, uint64_t *expect,
                          uint64_t *errs) {
  rill_meta m;
  int64_t got = sleep_recv(e, &m, errs);
  return copy_check(e, got, &m, "rill_recv_wait", n, expect, 0, errs);
}

/* Polls the next descriptor and verifies its payload in shared memory.
 * On success *V is the view (valid until the next call on the consumer). */
static inline int zc_recv_one(rill_ep *e, size_t n, uint64_t *expect,
                              uint64_t midsum, uint64_t *errs, rill_view *v) {
  bench_spin sp = BENCH_SPIN_INIT;
  for (;;) {
    int rc = rill_poll(e->c, v);
    if (rc == 0) break;
    if (rc == -RILL_EAGAIN) {
      if (bench_spin_step(&sp)) return -1;
    } else if (rc == -RILL_EOVERRUN) {
      *errs += v->lost; /* a reliable consumer is never lapped */
    } else if (rc == -RILL_ECORRUPT) {
      *errs += 1;
    } else {
      return bench_fail("rill_poll: %s", rill_strerror(rc));
    }
  }
  if (v->sz != n || (v->ctl & RILL_CTL_MSG) != RILL_CTL_MSG) {
    *errs += 1;
    *expect += 1;
    return 0;
  }
  *errs += bench_msg_verify(v->data, n, expect, midsum);
  return 0;
}

static int copy_recv(void *vep, size_t n, uint64_t seq, uint64_t count,
                     uint64_t *errors) {
  rill_ep *e = vep;
  uint64_t expect = seq, end = seq + count, midsum = bench_msg_midsum(n);
  uint64_t errs = 0;
  int rc = 0;
  while ((int64_t)(end - expect) > 0)
    if ((rc = copy_recv_one(e, n, &expect, midsum, &errs)) != 0) break;
  *errors += errs;
  return rc;
}

static int zc_recv(void *vep, size_t n, uint64_t seq, uint64_t count,
                   uint64_t *errors) {
  rill_ep *e = vep;
  uint64_t expect = seq, end = seq + count, midsum = bench_msg_midsum(n);
  uint64_t errs = 0;
  int rc = 0;
  rill_view v;
  while ((int64_t)(end - expect) > 0)
    if ((rc = zc_recv_one(e, n, &expect, midsum, &errs, &v)) != 0) break;
  *errors += errs;
  return rc;
}

/* ---- batches (rill_send_many, rill_reserve_many/commit_many, and
 * rill_poll_many) ------------------------------------------------------------
 * A batch is up to 4 KiB of messages (64 at most), as the batched ring
 * publishes its index: 64 messages of 8 or 64 bytes, 16 of 256, 4 of 1 KiB,
 * 1 of 4 KiB. */

static inline uint64_t batch_of(size_t n) {
  uint64_t b = BENCH_MAX_SIZE / n;
  return b > BENCH_BATCH_MAX ? BENCH_BATCH_MAX : b ? b : 1;
}

static int batch_send(void *vep, size_t n, uint64_t seq, uint64_t count) {
  rill_ep *e = vep;
  rill_msg m[BENCH_BATCH_MAX];
  const uint64_t b = batch_of(n);
  for (uint64_t i = 0; i < count;) {
    uint64_t k = count - i < b ? count - i : b;
    for (uint64_t j = 0; j < k; j++) {
      unsigned char *msg = e->bbuf + j * n;
      bench_msg_stamp(msg, n, seq + i + j);
      m[j] = (rill_msg){.data = msg, .sz = n, .sig = seq + i + j};
    }
    int rc = rill_send_many(e->p, m, (size_t)k);
    if (rc == -RILL_EAGAIN) {
      bench_spin sp = BENCH_SPIN_INIT;
      do {
        if (bench_spin_step(&sp)) return -1;
        rc = rill_send_many(e->p, m, (size_t)k);
      } while (rc == -RILL_EAGAIN);
    }
    if (rc) return bench_fail("rill_send_many: %s", rill_strerror(rc));
    i += k;
  }
  return 0;
}

static int zcbatch_send(void *vep, size_t n, uint64_t seq, uint64_t count) {
  rill_ep *e = vep;
  rill_msg m[BENCH_BATCH_MAX];
  void *bufs[BENCH_BATCH_MAX];
  const uint64_t b = batch_of(n);
  for (uint64_t j = 0; j < b; j++) m[j] = (rill_msg){.sz = n, .ctl = RILL_CTL_MSG};
  for (uint64_t i = 0; i < count;) {
    uint64_t k = count - i < b ? count - i : b;
    int rc = rill_reserve_many(e->p, (size_t)k, n, bufs);
    if (rc == -RILL_EAGAIN) {
      bench_spin sp = BENCH_SPIN_INIT;
      do {
        if (bench_spin_step(&sp)) return -1;
        rc = rill_reserve_many(e->p, (size_t)k, n, bufs);
      } while (rc == -RILL_EAGAIN);
    }
    if (rc) return bench_fail("rill_reserve_many: %s", rill_strerror(rc));
    for (uint64_t j = 0; j < k; j++) { /* every byte written in place */
      memcpy(bufs[j], e->tmpl, n);
      bench_msg_stamp(bufs[j], n, seq + i + j);
      m[j].sig = seq + i + j;
    }
    if ((rc = rill_commit_many(e->p, m, (size_t)k)) != 0)
      return bench_fail("rill_commit_many: %s", rill_strerror(rc));
    i += k;
  }
  return 0;
}

/* Takes bursts of up to BENCH_BATCH_MAX with rill_poll_many() and checks
 * every payload where it lies, as ring-batch's consumer does: the batch
 * rows differ from it, and from each other, in the producer only. */
static int burst_recv(void *vep, size_t n, uint64_t seq, uint64_t count, uint64_t *errors) {
  rill_ep *e = vep;
  uint64_t expect = seq, end = seq + count, midsum = bench_msg_midsum(n), errs = 0;
  rill_view v[BENCH_BATCH_MAX];
  bench_spin sp = BENCH_SPIN_INIT;
  while ((int64_t)(end - expect) > 0) {
    int k = rill_poll_many(e->c, v, BENCH_BATCH_MAX);
    if (k == -RILL_EAGAIN) {
      if (bench_spin_step(&sp)) return -1;
      continue;
    }
    if (k == -RILL_EOVERRUN || k == -RILL_ECORRUPT) {
      errs += k == -RILL_EOVERRUN ? v[0].lost : 1; /* a reliable consumer is never lapped */
      continue;
    }
    if (k < 0) return bench_fail("rill_poll_many: %s", rill_strerror(k));
    sp = (bench_spin)BENCH_SPIN_INIT;
    for (int i = 0; i < k; i++) {
      if (v[i].sz != n || (v[i].ctl & RILL_CTL_MSG) != RILL_CTL_MSG) {
        errs += 1;
        expect += 1;
        continue;
      }
      errs += bench_msg_verify(v[i].data, n, &expect, midsum);
    }
  }
  *errors += errs;
  return 0;
}


/* ---- the producer alone ----------------------------------------------------
 * rill_send() into a channel nobody reads (no consumer joined: credits never
 * run out), the producer's own cost per message.  The reader only watches
 * the producer's flushed position (written at housekeeping, and at the end
 * of each round), so the round ends when the last message is out. */

static int alone_send(void *vep, size_t n, uint64_t seq, uint64_t count) {
  rill_ep *e = vep;
  for (uint64_t i = 0; i < count; i++)
    if (copy_send_one(e, n, seq + i)) return -1;
  int rc = rill_producer_flush(e->p);
  return rc ? bench_fail("rill_producer_flush: %s", rill_strerror(rc)) : 0;
}

static int alone_recv(void *vep, size_t n, uint64_t seq, uint64_t count, uint64_t *errors) {
  rill_ep *e = vep;
  (void)n;
  (void)seq;
  (void)errors;
  rill_channel_stats st;
  bench_spin sp = BENCH_SPIN_INIT;
  for (;;) { /* the rounds follow each other: the count adds up */
    int rc = rill_channel_stats_get(e->r, "data", &st);
    if (rc) return bench_fail("rill_channel_stats_get: %s", rill_strerror(rc));
    if (st.msgs >= e->alone_seen + count) break;
    if (bench_spin_step(&sp)) return -1;
  }
  e->alone_seen += count;
  return 0;
}

/* ---- round trips ---------------------------------------------------------- */

/* Copying round trips, busy-polling (WAITS 0) or with the waiting calls
 * (WAITS 1); WAITS is a constant in every caller. */
static inline int copy_ping_loop(rill_ep *e, int waits, uint64_t seq,
                                 uint64_t count, uint64_t *samples,
                                 uint64_t *errors) {
  const size_t n = 8;
  uint64_t errs = 0;
  int rc = 0;
  for (uint64_t i = 0; i < count; i++) {
    uint64_t expect = seq + i;
    uint64_t t0 = bench_now_ns();
    if ((rc = waits ? sleep_send_one(e, n, seq + i, &errs)
                    : copy_send_one(e, n, seq + i)) != 0)
      break;
    if ((rc = waits ? sleep_recv_one(e, n, &expect, &errs)
                    : copy_recv_one(e, n, &expect, 0, &errs)) != 0)
      break;
    uint64_t t1 = bench_now_ns();
    if (samples) samples[i] = t1 - t0;
  }
  *errors += errs;
  return rc;
}

static inline int copy_pong_loop(rill_ep *e, int waits, uint64_t seq,
                                 uint64_t count, uint64_t *errors) {
  const size_t n = 8;
  uint64_t errs = 0;
  int rc = 0;
  for (uint64_t i = 0; i < count; i++) {
    uint64_t expect = seq + i;
    if ((rc = waits ? sleep_recv_one(e, n, &expect, &errs)
                    : copy_recv_one(e, n, &expect, 0, &errs)) != 0)
      break;
    if ((rc = waits ? sleep_send_one(e, n, seq + i, &errs)
                    : copy_send_one(e, n, seq + i)) != 0)
      break;
  }
  *errors += errs;
  return rc;
}

static int copy_ping(void *vep, uint64_t seq, uint64_t count,
                     uint64_t *samples, uint64_t *errors) {
  return copy_ping_loop(vep, 0, seq, count, samples, errors);
}

static int copy_pong(void *vep, uint64_t seq, uint64_t count,
                     uint64_t *errors) {
  return copy_pong_loop(vep, 0, seq, count, errors);
}

/* rill-sleep parks at once (spin budget 0) when measuring.  Its warm-up
 * spins for the default budget instead, so that its 300,000 round trips go
 * at busy-polling speed and fault in every page of the two channels. */
static int sleep_set_spin(rill_ep *e) {
  uint64_t ns = bench_warming ? BENCH_RILL_SPIN_NS : 0;
  int rc = rill_consumer_set_spin(e->c, ns);
  if (rc) return bench_fail("rill_consumer_set_spin: %s", rill_strerror(rc));
  rc = rill_producer_set_spin(e->p, ns);
  if (rc) return bench_fail("rill_producer_set_spin: %s", rill_strerror(rc));
  return 0;
}

static int sleep_ping(void *vep, uint64_t seq, uint64_t count,
                      uint64_t *samples, uint64_t *errors) {
  if (sleep_set_spin(vep)) return -1;
  return copy_ping_loop(vep, 1, seq, count, samples, errors);
}

static int sleep_pong(void *vep, uint64_t seq, uint64_t count,
                      uint64_t *errors) {
  if (sleep_set_spin(vep)) return -1;
  return copy_pong_loop(vep, 1, seq, count, errors);
}

static int zc_ping(void *vep, uint64_t seq, uint64_t count, uint64_t *samples,
                   uint64_t *errors) {
  rill_ep *e = vep;
  const size_t n = 8;
  uint64_t errs = 0;
  int rc = 0;
  rill_view v;
  for (uint64_t i = 0; i < count; i++) {
    uint64_t expect = seq + i;
    uint64_t t0 = bench_now_ns();
    if ((rc = zc_send_one(e, n, seq + i)) != 0) break;
    if ((rc = zc_recv_one(e, n, &expect, 0, &errs, &v)) != 0) break;
    uint64_t t1 = bench_now_ns();
    if (samples) samples[i] = t1 - t0;
  }
  *errors += errs;
  return rc;
}

static int zc_pong(void *vep, uint64_t seq, uint64_t count, uint64_t *errors) {
  rill_ep *e = vep;
  const size_t n = 8;
  uint64_t errs = 0;
  int rc = 0;
  rill_view v;
  for (uint64_t i = 0; i < count; i++) {
    uint64_t expect = seq + i;
    if ((rc = zc_recv_one(e, n, &expect, 0, &errs, &v)) != 0) break;
    if ((rc = zc_send_one(e, n, seq + i)) != 0) break;
  }
  *errors += errs;
  return rc;
}

/* ---- low rate: one-way latency ------------------------------------------ */

/* Message SEQ is 16 bytes: SEQ, then the producer's CLOCK_MONOTONIC taken
 * just before rill_send(); its sig is SEQ.  The consumer keeps the default
 * spin budget. */
static int lr_pace(void *vep, uint64_t seq, uint64_t count,
                   uint64_t period_ns) {
  rill_ep *e = vep;
  uint64_t next = bench_now_ns();
  for (uint64_t i = 0; i < count; i++) {
    if (period_ns) {
      next += period_ns; /* absolute deadlines: no drift */
      if (bench_sleep_until(next)) return -1;
    }
    uint64_t s = seq + i, now = bench_now_ns();
    memcpy(e->sbuf, &s, 8);
    memcpy(e->sbuf + 8, &now, 8);
    if (copy_send_buf(e, BENCH_LOWRATE_SIZE, s)) return -1;
  }
  return 0;
}

static int lr_lat(void *vep, uint64_t seq, uint64_t count, uint64_t *samples,
                  uint64_t *errors) {
  rill_ep *e = vep;
  uint64_t expect = seq, end = seq + count, errs = 0;
  int rc = 0;
  for (uint64_t i = 0; (int64_t)(end - expect) > 0; i++) {
    rill_meta m;
    int64_t got = sleep_recv(e, &m, &errs);
    uint64_t now = bench_now_ns(), s, ts;
    if (got < 0) {
      rc = bench_fail("rill_recv_wait: %s", rill_strerror((int)got));
      break;
    }
    memcpy(&s, e->rbuf, 8);
    memcpy(&ts, e->rbuf + 8, 8);
    errs += m.lost;
    if ((size_t)got != BENCH_LOWRATE_SIZE || m.sig != s || ts > now) {
      errs += 1;
      expect += 1;
    } else {
      errs += bench_msg_verify(e->rbuf, 8, &expect, 0); /* the sequence */
    }
    if (samples && i < count) samples[i] = ts <= now ? now - ts : 0;
  }
  *errors += errs;
  return rc;
}

const bench_transport bench_rill_copy = {
    .name = "rill-copy",
    .kinds = BENCH_TPUT | BENCH_RTT,
    .blocking = 0,
    .setup = rb_setup,
    .teardown = rb_teardown,
    .open = rb_open,
    .close = rb_close,
    .send = copy_send,
    .recv = copy_recv,
    .ping = copy_ping,
    .pong = copy_pong,
};

const bench_transport bench_rill_zerocopy = {
    .name = "rill-zerocopy",
    .kinds = BENCH_TPUT | BENCH_RTT,
    .blocking = 0,
    .setup = rb_setup,
    .teardown = rb_teardown,
    .open = rb_open,
    .close = rb_close,
    .send = zc_send,
    .recv = zc_recv,
    .ping = zc_ping,
    .pong = zc_pong,
};

const bench_transport bench_rill_batch = {
    .name = "rill-batch",
    .kinds = BENCH_TPUT,
    .blocking = 0,
    .setup = rb_setup,
    .teardown = rb_teardown,
    .open = rb_open,
    .close = rb_close,
    .send = batch_send,
    .recv = burst_recv,
};

const bench_transport bench_rill_zcbatch = {
    .name = "rill-zcbatch",
    .kinds = BENCH_TPUT,
    .blocking = 0,
    .setup = rb_setup,
    .teardown = rb_teardown,
    .open = rb_open,
    .close = rb_close,
    .send = zcbatch_send,
    .recv = burst_recv,
};

const bench_transport bench_rill_alone = {
    .name = "rill-alone",
    .kinds = BENCH_TPUT,
    .blocking = 0,
    .setup = rb_setup,
    .teardown = rb_teardown,
    .open = rb_open,
    .close = rb_close,
    .send = alone_send,
    .recv = alone_recv,
};

const bench_transport bench_rill_sleep = {
    .name = "rill-sleep",
    .kinds = BENCH_RTT,
    .blocking = 0, /* its warm-up spins: see sleep_set_spin() */
    .rtt_max = BENCH_SLEEP_RTT_PER_RUN,
    .setup = rb_setup,
    .teardown = rb_teardown,
    .open = rb_open,
    .close = rb_close,
    .ping = sleep_ping,
    .pong = sleep_pong,
};

const bench_transport bench_rill_lowrate = {
    .name = "rill-lowrate",
    .kinds = BENCH_LAT,
    .blocking = 0,
    .setup = rb_setup,
    .teardown = rb_teardown,
    .open = rb_open,
    .close = rb_close,
    .pace = lr_pace,
    .lat = lr_lat,
};
