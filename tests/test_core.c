/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* The freestanding core (include/rill_core.h, librill_core.a) on its own:
 * a channel laid out in memory the test owns (a static buffer), a
 * producer thread and three consumer threads over it, nothing but the
 * core's calls between them (no region, no file, no librill).
 *
 * The producer sends the schedule of tests/testutil.h (message i: a random
 * size up to three MTUs, so most are fragmented, sig i, a payload derived
 * from its key) by every way the core publishes: rill_core_send (with the
 * ERR bit and application bits in ctl), reserve/commit, commit_at,
 * send_many and reserve_many/commit_many, waiting out backpressure.  Its
 * clock hook counts readings, so the stamps the protocol requires can be
 * checked.  The consumers:
 *   - reliable, rill_core_recv: every message whole, in order, with its
 *     seq, sig, size, ctl, tsorig and every byte; no loss;
 *   - reliable, rill_core_poll_many (zero copy): every fragment in order,
 *     each with the seq, sig, size, ctl, tsorig and bytes of its place in
 *     the message; descriptors whose seq is a multiple of 64 stamped;
 *   - lossy, rill_core_recv: it stops now and then until the producer is
 *     two rings ahead (a shared counter tells it when), so it is lapped for
 *     sure; every message it gets is the right one, whole and intact, and
 *     the loss is exact: each message's seq is the end of the one before
 *     plus its meta.lost, and at the end what it got plus what it was told
 *     it lost is every descriptor published.
 * Then the counters each endpoint wrote into the channel are checked
 * against what the threads counted.  A single-threaded part first checks
 * the calls' errors and edge cases.  Threads share the memory: this is what
 * ThreadSanitizer sees (rill__copy_racy, named in tests/tsan.supp, is the
 * lossy copy the protocol lets race). */
#include "testutil.h"

#include <pthread.h>

#include "layout.h"
#include "rill_core.h"

#define DEPTH 256u
#define MTU 200u /* not a multiple of 64: fragments end inside a chunk */
#define MAXSZ (3 * MTU)
#define SLOTS 4u
#define FORCED_LAPS 40

static _Alignas(4096) uint8_t chan_mem[1u << 20];

/* ---- what message i is ---------------------------------------------------- */

typedef struct run {
  uint64_t salt, n;      /* messages 0 .. n - 1, then n, the last */
  uint64_t size;         /* the channel's bytes */
  _Atomic uint64_t published; /* the producer's next seq */
  _Atomic int sending_done;   /* messages 0 .. n - 1 are out */
  _Atomic uint64_t lossy_pos; /* the lossy consumer's seq when it found nothing */
  _Atomic uint64_t clock;     /* readings of the producer's clock */
  uint64_t eagain;            /* producer: sends refused for credit */
  uint64_t end_seq;           /* producer: seq after message n */
  uint64_t end_bytes;         /* producer: payload bytes of every descriptor */
  uint64_t lossy_got, lossy_lost, lossy_forced, lossy_desc;
  uint64_t poll_stamped;
} run;

/* ctl bits the application gives message I: its own bits, and ERR on
 * some. */
static uint16_t uctl_of(uint64_t i) {
  return (uint16_t)(RILL_CTL_USER(i & 0x1fff) | (i % 13 == 0 ? RILL_CTL_ERR : 0));
}

/* How message I goes out, in cycles of 16: 0-5 and 14-15 rill_core_send;
 * 6 reserve/commit (with tsorig) and 7 commit_at if it fits one MTU; 8-10
 * one send_many batch, 11-13 one reserve_many/commit_many batch if all
 * three fit one MTU, else send_many (both with tsorig). */
enum { BY_SEND, BY_COMMIT, BY_COMMIT_AT, BY_SEND_MANY, BY_COMMIT_MANY };

static int fits(const run *x, uint64_t i) { return tu_msg_size(x->salt, i, MAXSZ) <= MTU; }

static int way_of(const run *x, uint64_t i) {
  uint64_t k = i % 16, b = i - k;
  if (k == 6 && fits(x, i)) return BY_COMMIT;
  if (k == 7 && fits(x, i) && tu_msg_size(x->salt, i, MAXSZ) + 64 <= MTU) return BY_COMMIT_AT;
  if (k >= 8 && k <= 10) return BY_SEND_MANY;
  if (k >= 11 && k <= 13)
    return fits(x, b + 11) && fits(x, b + 12) && fits(x, b + 13) ? BY_COMMIT_MANY : BY_SEND_MANY;
  return BY_SEND;
}

static uint32_t tsorig_of(const run *x, uint64_t i) {
  int w = way_of(x, i);
  return w == BY_COMMIT || w == BY_SEND_MANY || w == BY_COMMIT_MANY ? (uint32_t)(i * 7 + 1) : 0;
}

/* ---- producer -------------------------------------------------------------- */

static uint64_t count_clock(void *arg) {
  return atomic_fetch_add_explicit((_Atomic uint64_t *)arg, 1, memory_order_relaxed) + 1000;
}

/* Retries CALL while it says EAGAIN (backpressure from the reliable
 * consumers), then checks it succeeded. */
#define PUBLISH(x, call, i)                                                        \
  do {                                                                             \
    unsigned spins_ = 0;                                                           \
    int rc_;                                                                       \
    while ((rc_ = (call)) == -RILL_EAGAIN) {                                       \
      (x)->eagain++;                                                               \
      tu_relax(&spins_);                                                           \
    }                                                                              \
    CHECKF(rc_ == 0, "publish of message %" PRIu64 ": %s", (uint64_t)(i), rill_strerror(rc_)); \
  } while (0)

static uint64_t send_one(run *x, rill_core_producer *p, uint8_t *buf, uint64_t i) {
  size_t n = (size_t)tu_msg_size(x->salt, i, MAXSZ);
  uint64_t key = tu_key(x->salt, i);
  uint16_t u = uctl_of(i);
  switch (way_of(x, i)) {
  case BY_COMMIT: {
    void *b;
    PUBLISH(x, rill_core_reserve(p, n, &b), i);
    tu_fill(b, n, key, 0);
    CHECK_OK(rill_core_commit(p, n, i, (uint16_t)(RILL_CTL_MSG | u), tsorig_of(x, i)));
    return 1;
  }
  case BY_COMMIT_AT: { /* built at the end of a reservation one chunk longer */
    void *b;
    PUBLISH(x, rill_core_reserve(p, n + 64, &b), i);
    tu_fill((uint8_t *)b + 64, n, key, 0);
    CHECK_RC(rill_core_commit_at(p, (uint8_t *)b + 32, n, i, RILL_CTL_MSG), -RILL_EINVAL);
    CHECK_OK(rill_core_commit_at(p, (uint8_t *)b + 64, n, i, (uint16_t)(RILL_CTL_MSG | u)));
    return 1;
  }
  case BY_SEND_MANY: {
    rill_msg m[3];
    static _Thread_local uint8_t bufs[3][MAXSZ];
    for (uint64_t k = 0; k < 3; k++) {
      uint64_t j = i + k;
      m[k] = (rill_msg){.data = bufs[k], .sz = (size_t)tu_msg_size(x->salt, j, MAXSZ),
                        .sig = j, .ctl = uctl_of(j), .tsorig = tsorig_of(x, j)};
      tu_fill(bufs[k], m[k].sz, tu_key(x->salt, j), 0);
    }
    PUBLISH(x, rill_core_send_many(p, m, 3), i);
    return 3;
  }
  case BY_COMMIT_MANY: {
    rill_msg m[3];
    void *b[3];
    size_t most = 0;
    for (uint64_t k = 0; k < 3; k++) {
      uint64_t j = i + k;
      m[k] = (rill_msg){.sz = (size_t)tu_msg_size(x->salt, j, MAXSZ), .sig = j,
                        .ctl = (uint16_t)(RILL_CTL_MSG | uctl_of(j)), .tsorig = tsorig_of(x, j)};
      if (m[k].sz > most) most = m[k].sz;
    }
    PUBLISH(x, rill_core_reserve_many(p, 3, most, b), i);
    for (uint64_t k = 0; k < 3; k++) tu_fill(b[k], m[k].sz, tu_key(x->salt, i + k), 0);
    CHECK_OK(rill_core_commit_many(p, m, 3));
    return 3;
  }
  default:
    tu_fill(buf, n, key, 0);
    PUBLISH(x, rill_core_send(p, buf, n, i, u), i);
    return 1;
  }
}

static void *producer_main(void *arg) {
  run *x = arg;
  rill_core_producer p;
  CHECK_OK(rill_core_producer_join(&p, chan_mem, x->size));
  CHECK_OK(rill_core_producer_set_clock(&p, count_clock, &x->clock));
  static _Thread_local uint8_t buf[MAXSZ];
  uint64_t bytes = 0;
  for (uint64_t i = 0; i < x->n;) {
    uint64_t k = send_one(x, &p, buf, i);
    for (uint64_t j = i; j < i + k; j++) bytes += tu_msg_size(x->salt, j, MAXSZ);
    i += k;
    /* Release: the lossy consumer's acquire load sees the descriptors. */
    atomic_store_explicit(&x->published, rill_core_producer_seq(&p), memory_order_release);
  }
  /* The last message goes once the lossy consumer has caught up, so that
   * it gets it (and, with it, the count of everything it lost). */
  atomic_store_explicit(&x->sending_done, 1, memory_order_release);
  unsigned spins = 0;
  while (atomic_load_explicit(&x->lossy_pos, memory_order_acquire) != rill_core_producer_seq(&p))
    tu_relax(&spins);
  send_one(x, &p, buf, x->n); /* way_of(n) is BY_SEND: n is a multiple of 16 */
  bytes += tu_msg_size(x->salt, x->n, MAXSZ);
  x->end_seq = rill_core_producer_seq(&p);
  x->end_bytes = bytes;
  atomic_store_explicit(&x->published, x->end_seq, memory_order_release);
  CHECK_OK(rill_core_producer_leave(&p));
  return NULL;
}

/* ---- consumers --------------------------------------------------------------- */

static void check_meta(const run *x, const tu_sched *s, const rill_meta *m, int64_t got,
                       const uint8_t *buf) {
  CHECKF(m->sig == s->i, "message %" PRIu64 ": got sig %" PRIu64, s->i, m->sig);
  CHECK_EQ(m->seq, s->seq);
  CHECK_EQ(m->sz, s->sz);
  CHECK_EQ(got, s->sz);
  CHECK_EQ(m->ctl, (uint16_t)((s->nfrags == 1 ? RILL_CTL_MSG : RILL_CTL_EOM) | uctl_of(s->i)));
  CHECK_EQ(m->tsorig, tsorig_of(x, s->i));
  CHECK_PAYLOAD(buf, (size_t)got, tu_key(s->salt, s->i), 0);
}

static void *recv_main(void *arg) {
  run *x = arg;
  rill_core_consumer c;
  static _Thread_local uint8_t buf[MAXSZ], asm_buf[MAXSZ];
  CHECK_OK(rill_core_consumer_join(&c, chan_mem, x->size, 0, RILL_RELIABLE));
  CHECK_OK(rill_core_consumer_set_buffer(&c, asm_buf, sizeof asm_buf));
  tu_sched s;
  tu_sched_init(&s, x->salt, MAXSZ, MTU, 0);
  for (; s.i <= x->n; tu_sched_next(&s)) {
    rill_meta m;
    int64_t got;
    unsigned spins = 0;
    while ((got = rill_core_recv(&c, buf, sizeof buf, &m)) == -RILL_EAGAIN) tu_relax(&spins);
    CHECKF(got >= 0, "recv of message %" PRIu64 ": %s", s.i, rill_strerror((int)got));
    CHECK_EQ(m.lost, 0);
    check_meta(x, &s, &m, got, buf);
  }
  CHECK_OK(rill_core_consumer_leave(&c));
  return NULL;
}

static void *poll_main(void *arg) {
  run *x = arg;
  rill_core_consumer c;
  CHECK_OK(rill_core_consumer_join(&c, chan_mem, x->size, 1, RILL_RELIABLE));
  tu_sched s;
  tu_sched_init(&s, x->salt, MAXSZ, MTU, 0);
  rill_view v[16];
  for (uint64_t next = 0, done = 0; !done;) {
    int rc;
    unsigned spins = 0;
    while ((rc = rill_core_poll_many(&c, v, 16)) == -RILL_EAGAIN) tu_relax(&spins);
    CHECKF(rc > 0, "poll at %" PRIu64 ": %s", next, rill_strerror(rc));
    for (int k = 0; k < rc; k++, next++) {
      const rill_view *w = &v[k];
      CHECK_EQ(w->seq, next);
      uint64_t f = tu_sched_seek(&s, w->seq);
      CHECK(s.i <= x->n && !done);
      CHECK_EQ(w->sig, s.i);
      CHECK_EQ(w->sz, tu_sched_frag_sz(&s, f));
      CHECK_EQ(w->ctl, (uint16_t)(tu_sched_frag_ctl(&s, f) | uctl_of(s.i)));
      CHECK_EQ(w->tsorig, tsorig_of(x, s.i));
      CHECK_PAYLOAD(w->data, w->sz, tu_key(s.salt, s.i), f * MTU);
      /* Stamped where docs/PROTOCOL.md §2.4 says it must be (the clock's
       * readings start at 1000), and only with a reading. */
      if (w->seq % RILL_STAMP_PERIOD == 0 || w->seq == 0)
        CHECKF(w->tspub >= 1000, "seq %" PRIu64 " not stamped (tspub %u)", w->seq, w->tspub);
      CHECK(w->tspub == 0 || w->tspub >= 1000);
      x->poll_stamped += w->tspub != 0;
      done = s.i == x->n && f + 1 == s.nfrags; /* the last fragment of the last message */
    }
  }
  CHECK_OK(rill_core_consumer_leave(&c));
  return NULL;
}

static void *lossy_main(void *arg) {
  run *x = arg;
  rill_core_consumer c;
  static _Thread_local uint8_t buf[MAXSZ], asm_buf[MAXSZ];
  CHECK_OK(rill_core_consumer_join(&c, chan_mem, x->size, 2, RILL_LOSSY));
  CHECK_OK(rill_core_consumer_set_buffer(&c, asm_buf, sizeof asm_buf));
  tu_sched s;
  tu_sched_init(&s, x->salt, MAXSZ, MTU, 0);
  uint64_t end = 0; /* the seq after the last message received */
  int want_loss = 0;
  for (;;) {
    /* Now and then, stand still until the producer is two rings ahead:
     * the slot of our next sequence number has been written over since,
     * so the next message comes after a reported loss. */
    if (x->lossy_forced < FORCED_LAPS && x->lossy_got % 20 == 19 && !want_loss) {
      uint64_t me = rill_core_consumer_seq(&c);
      unsigned spins = 0;
      for (;;) {
        /* Acquire: pairs with the producer's release store. */
        uint64_t pub = atomic_load_explicit(&x->published, memory_order_acquire);
        if ((int64_t)(pub - me) >= 2 * (int64_t)DEPTH) {
          x->lossy_forced++;
          want_loss = 1;
          break;
        }
        if (atomic_load_explicit(&x->sending_done, memory_order_acquire)) break;
        tu_relax(&spins);
      }
    }
    rill_meta m;
    int64_t got = rill_core_recv(&c, buf, sizeof buf, &m);
    if (got == -RILL_EAGAIN) {
      atomic_store_explicit(&x->lossy_pos, rill_core_consumer_seq(&c), memory_order_release);
      tu_yield();
      continue;
    }
    CHECKF(got >= 0, "lossy recv: %s", rill_strerror((int)got));
    /* Some later message: the right one, whole, where the schedule puts
     * it, and exactly what it skipped reported. */
    CHECKF(m.sig >= s.i, "message %" PRIu64 " after message %" PRIu64, m.sig, s.i - 1);
    while (s.i < m.sig) tu_sched_next(&s);
    check_meta(x, &s, &m, got, buf);
    CHECKF(m.seq == end + m.lost, "message %" PRIu64 " at seq %" PRIu64 ": the one before ended at %"
           PRIu64 ", %" PRIu64 " reported lost", m.sig, m.seq, end, m.lost);
    if (want_loss) CHECKF(m.lost > 0, "a lap of two rings reported no loss (message %" PRIu64 ")", m.sig);
    want_loss = 0;
    end = s.seq + s.nfrags;
    x->lossy_got++;
    x->lossy_lost += m.lost;
    x->lossy_desc += s.nfrags;
    if (m.sig == x->n) break;
    tu_sched_next(&s);
  }
  CHECK_EQ(end, rill_core_consumer_seq(&c));
  CHECK_OK(rill_core_consumer_leave(&c));
  return NULL;
}

/* ---- the calls one by one ----------------------------------------------------- */

static const rill_cursor *cursor(uint64_t slot) {
  const rill_chan_hdr *h = (const rill_chan_hdr *)chan_mem;
  return (const rill_cursor *)(chan_mem + h->cursor_off + slot * RILL_PAGE);
}

static const rill_prod_page *prod_page(void) {
  const rill_chan_hdr *h = (const rill_chan_hdr *)chan_mem;
  return (const rill_prod_page *)(chan_mem + h->prod_off);
}

#define LOAD(field) atomic_load_explicit(&(field), memory_order_relaxed)

static void calls(const rill_channel_opts *o, uint64_t size) {
  rill_channel_opts bad = *o;
  bad.depth = 3;
  CHECK_EQ(rill_core_channel_footprint(&bad), 0);
  CHECK_EQ(rill_core_channel_footprint(NULL), rill_core_channel_footprint(&(rill_channel_opts){0}));
  CHECK_RC(rill_core_channel_new(NULL, size, "core", o, 0), -RILL_EINVAL);
  CHECK_RC(rill_core_channel_new(chan_mem + 8, size, "core", o, 0), -RILL_EINVAL);
  CHECK_RC(rill_core_channel_new(chan_mem, size, "no/slash", o, 0), -RILL_EINVAL);
  CHECK_RC(rill_core_channel_new(chan_mem, size, "core", &bad, 0), -RILL_EINVAL);
  CHECK_RC(rill_core_channel_new(chan_mem, size - 1, "core", o, 0), -RILL_ENOSPC);
  memset(chan_mem, 0xa5, size); /* whatever the memory held */
  CHECK_OK(rill_core_channel_new(chan_mem, size, "core", o, 12345));

  rill_core_channel_info info;
  CHECK_OK(rill_core_channel_get(chan_mem, size, &info));
  CHECK_EQ(info.size, size);
  CHECK_EQ(info.depth, DEPTH);
  CHECK_EQ(info.mtu, MTU);
  CHECK_EQ(info.max_consumers, SLOTS);
  CHECK_EQ(info.max_msg, MAXSZ);
  CHECK_EQ(info.seq0, 0);
  CHECK_EQ(info.created_ns, 12345);
  CHECK_EQ(info.data_chunks, (DEPTH + 2) * ((MTU + 63) / 64));
  CHECK(!strcmp(info.name, "core"));
  CHECK_RC(rill_core_channel_get(chan_mem, size - 4096, &info), -RILL_ECORRUPT);
  CHECK_RC(rill_core_channel_get(chan_mem + 64, size, &info), -RILL_EMAGIC);
  chan_mem[8]++; /* the version */
  CHECK_RC(rill_core_channel_get(chan_mem, size, &info), -RILL_EVERSION);
  chan_mem[8]--;
  chan_mem[24]++; /* the depth: not a power of two */
  CHECK_RC(rill_core_channel_get(chan_mem, size, &info), -RILL_ECORRUPT);
  chan_mem[24]--;
  CHECK_OK(rill_core_channel_get(chan_mem, size, NULL));

  rill_core_consumer r, l, l2;
  CHECK_RC(rill_core_consumer_join(&r, chan_mem, size, SLOTS, RILL_RELIABLE), -RILL_EINVAL);
  CHECK_RC(rill_core_consumer_join(&r, chan_mem, size, 0, 0), -RILL_EINVAL);
  CHECK_RC(rill_core_consumer_rejoin(&r, chan_mem, size, 0), -RILL_ENOENT);
  CHECK_OK(rill_core_consumer_join(&r, chan_mem, size, 0, RILL_RELIABLE));
  CHECK_OK(rill_core_consumer_join(&l, chan_mem, size, 1, RILL_LOSSY));
  CHECK_RC(rill_core_consumer_join(&l2, chan_mem, size, 1, RILL_LOSSY), -RILL_EBUSY);
  CHECK_EQ(LOAD(cursor(0)->state), RILL_CUR_ACTIVE);
  CHECK_EQ(LOAD(cursor(1)->mode), RILL_LOSSY);
  rill_view v;
  rill_meta m;
  uint8_t buf[MAXSZ], small[8], asm_buf[MAXSZ];
  CHECK_RC(rill_core_poll(&r, &v), -RILL_EAGAIN);
  CHECK_RC(rill_core_recv(&l, buf, sizeof buf, &m), -RILL_EAGAIN);

  rill_core_producer p;
  CHECK_OK(rill_core_producer_join(&p, chan_mem, size));
  CHECK_EQ(LOAD(prod_page()->state), RILL_PROD_JOINED);
  CHECK_RC(rill_core_send(&p, NULL, 5, 0, 0), -RILL_EINVAL);
  CHECK_RC(rill_core_send(&p, buf, MAXSZ + 1, 0, 0), -RILL_EMSGSIZE);
  void *b;
  CHECK_RC(rill_core_reserve(&p, MTU + 1, &b), -RILL_EMSGSIZE);
  CHECK_RC(rill_core_commit(&p, 1, 0, RILL_CTL_MSG, 0), -RILL_EINVAL); /* nothing reserved */

  /* Credits: the reliable consumer at 0 lets DEPTH descriptors go, and
   * one more for each it gives back. */
  uint64_t i;
  for (i = 0; rill_core_send(&p, &i, sizeof i, i, 0) == 0; i++) {}
  CHECK_EQ(i, DEPTH);
  CHECK_EQ(LOAD(prod_page()->backpressure), 1);
  CHECK_OK(rill_core_poll(&r, &v));
  CHECK_EQ(v.seq, 0);
  CHECK_EQ(v.tspub, 0); /* no clock: no stamp */
  CHECK_OK(rill_core_check(&r, &v));
  CHECK_RC(rill_core_send(&p, &i, sizeof i, i, 0), -RILL_EAGAIN); /* not flushed yet */
  CHECK_OK(rill_core_consumer_flush(&r));
  CHECK_EQ(LOAD(cursor(0)->seq), 1);
  CHECK_EQ(LOAD(cursor(0)->msgs), 1);
  CHECK_OK(rill_core_send(&p, &i, sizeof i, i, 0));
  CHECK_RC(rill_core_send(&p, &i, sizeof i, i, 0), -RILL_EAGAIN);
  CHECK_EQ(LOAD(prod_page()->backpressure), 3);
  CHECK_OK(rill_core_consumer_leave(&r)); /* it no longer holds the producer back */
  CHECK_EQ(LOAD(cursor(0)->state), RILL_CUR_FREE);

  /* DEPTH + 2 published: the lossy consumer, still at 0, finds DEPTH in
   * its slot (an overrun) and resynchronises to it. */
  i++;
  CHECK_OK(rill_core_send(&p, &i, sizeof i, i, 0));
  CHECK_RC(rill_core_poll(&l, &v), -RILL_EOVERRUN);
  CHECK_EQ(v.lost, DEPTH);
  CHECK_EQ(rill_core_consumer_seq(&l), DEPTH);
  for (uint64_t k = DEPTH; k < DEPTH + 2; k++) {
    CHECK_OK(rill_core_poll(&l, &v));
    CHECK_EQ(v.seq, k);
    CHECK_EQ(v.sig, k);
    CHECK_EQ(v.sz, sizeof k);
    CHECK_EQ(*(const uint64_t *)v.data, k);
    CHECK_OK(rill_core_check(&l, &v));
  }
  CHECK_EQ(LOAD(cursor(1)->lost), 0); /* not flushed yet */
  CHECK_OK(rill_core_consumer_flush(&l));
  CHECK_EQ(LOAD(cursor(1)->lost), DEPTH);
  CHECK_EQ(LOAD(cursor(1)->overrun_poll), 1);

  /* Two fragments: no reassembly buffer, then one too small, then one. */
  tu_fill(buf, MTU + 1, 7, 0);
  CHECK_OK(rill_core_send(&p, buf, MTU + 1, 7, RILL_CTL_ERR));
  CHECK_RC(rill_core_recv(&l, buf, sizeof buf, &m), -RILL_ENOMEM);
  CHECK_RC(rill_core_recv(&l, buf, sizeof buf, &m), -RILL_ENOMEM); /* the fragment stays */
  CHECK_RC(rill_core_consumer_set_buffer(&l, asm_buf, MAXSZ - 1), -RILL_EINVAL);
  CHECK_OK(rill_core_consumer_set_buffer(&l, asm_buf, sizeof asm_buf));
  CHECK_RC(rill_core_recv(&l, small, sizeof small, &m), -RILL_EMSGSIZE);
  CHECK_EQ(m.sz, MTU + 1);
  memset(buf, 0, sizeof buf);
  CHECK_EQ(rill_core_recv(&l, buf, sizeof buf, &m), MTU + 1); /* kept for a larger buffer */
  CHECK_EQ(m.sig, 7);
  CHECK_EQ(m.lost, 0);
  CHECK_EQ(m.ctl, RILL_CTL_EOM | RILL_CTL_ERR);
  CHECK_PAYLOAD(buf, MTU + 1, 7, 0);

  /* The consumer leaves and rejoins: from where it flushed, counters kept. */
  uint64_t at = rill_core_consumer_seq(&l), msgs = l.msgs;
  CHECK_OK(rill_core_consumer_leave(&l));
  CHECK_OK(rill_core_consumer_leave(&l)); /* again: nothing */
  CHECK_OK(rill_core_consumer_rejoin(&l, chan_mem, size, 1));
  CHECK_EQ(rill_core_consumer_seq(&l), at);
  CHECK_EQ(l.msgs, msgs);
  CHECK_EQ(LOAD(cursor(1)->mode), RILL_LOSSY);
  CHECK_RC(rill_core_poll(&l, &v), -RILL_EAGAIN);
  CHECK_OK(rill_core_consumer_leave(&l));

  /* A producer that rejoins resumes the sequence. */
  uint64_t seq = rill_core_producer_seq(&p);
  CHECK_OK(rill_core_producer_leave(&p));
  CHECK_EQ(LOAD(prod_page()->state), RILL_PROD_LEFT);
  CHECK_EQ(LOAD(prod_page()->seq), seq);
  CHECK_OK(rill_core_producer_join(&p, chan_mem, size));
  CHECK_EQ(rill_core_producer_seq(&p), seq);
  CHECK_EQ(LOAD(prod_page()->gen), 2);
  CHECK_OK(rill_core_producer_leave(&p));
}

/* ---- main ---------------------------------------------------------------------- */

/* tu_start_roles() with ARGV, not tu_start(): on Windows the watchdog is
 * this program run again with its own arguments. */
int main(int argc, char **argv) {
  tu_start_roles("core", 300, argc, argv, NULL);
  rill_channel_opts o = {.depth = DEPTH, .mtu = MTU, .max_consumers = SLOTS, .max_msg = MAXSZ};
  uint64_t size = rill_core_channel_footprint(&o);
  CHECK(size > 0 && size <= sizeof chan_mem);
  calls(&o, size);

  run x = {.salt = 0xc0e, .n = tu_scaled(300000, 20000) / 16 * 16, .size = size};
  CHECK_OK(rill_core_channel_new(chan_mem, size, "core", &o, 0));
  /* The consumers join before the producer publishes anything: they see
   * every message. */
  pthread_t t[4];
  void *(*fn[4])(void *) = {recv_main, poll_main, lossy_main, producer_main};
  for (int k = 0; k < 4; k++) {
    if (k == 3) {
      unsigned spins = 0;
      while (LOAD(cursor(0)->state) != RILL_CUR_ACTIVE || LOAD(cursor(1)->state) != RILL_CUR_ACTIVE ||
             LOAD(cursor(2)->state) != RILL_CUR_ACTIVE)
        tu_relax(&spins);
    }
    CHECK_EQ(pthread_create(&t[k], NULL, fn[k], &x), 0);
  }
  for (int k = 0; k < 4; k++) CHECK_EQ(pthread_join(t[k], NULL), 0);

  /* What each endpoint wrote into the channel (flushed as it left). */
  const rill_prod_page *pp = prod_page();
  CHECK_EQ(LOAD(pp->state), RILL_PROD_LEFT);
  CHECK_EQ(LOAD(pp->seq), x.end_seq);
  CHECK_EQ(LOAD(pp->msgs), x.end_seq);
  CHECK_EQ(LOAD(pp->bytes), x.end_bytes);
  CHECK_EQ(LOAD(pp->backpressure), x.eagain);
  for (uint64_t k = 0; k < 2; k++) { /* the reliable ones: everything */
    const rill_cursor *c = cursor(k);
    CHECK_EQ(LOAD(c->state), RILL_CUR_FREE);
    CHECK_EQ(LOAD(c->seq), x.end_seq);
    CHECK_EQ(LOAD(c->msgs), x.end_seq);
    CHECK_EQ(LOAD(c->bytes), x.end_bytes);
    CHECK_EQ(LOAD(c->lost) + LOAD(c->overrun_poll) + LOAD(c->overrun_read), 0);
  }
  /* The lossy one: each descriptor either taken or skipped by an overrun;
   * what the messages reported lost is every descriptor not delivered. */
  const rill_cursor *c = cursor(2);
  CHECK_EQ(LOAD(c->seq), x.end_seq);
  CHECK_EQ(LOAD(c->msgs) + LOAD(c->lost), x.end_seq);
  CHECK(LOAD(c->overrun_poll) >= x.lossy_forced);
  CHECK(LOAD(c->lost) > 0 && LOAD(c->lost) <= x.lossy_lost);
  CHECK_EQ(x.lossy_desc + x.lossy_lost, x.end_seq);
  CHECKF(x.lossy_forced >= FORCED_LAPS / 4, "only %" PRIu64 " forced laps", x.lossy_forced);
  CHECK(x.poll_stamped >= x.end_seq / RILL_STAMP_PERIOD);
  CHECK(atomic_load(&x.clock) > 0);
  return tu_pass("%" PRIu64 " messages (%" PRIu64 " descriptors) to 2 reliable consumers "
                 "(recv, poll_many), %" PRIu64 " backpressure; the lossy one got %" PRIu64
                 " and lost %" PRIu64 " descriptors, lapped on purpose %" PRIu64 " times",
                 x.n + 1, x.end_seq, x.eagain, x.lossy_got, x.lossy_lost, x.lossy_forced);
}
