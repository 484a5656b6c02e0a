/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* A lossy consumer lapped on purpose, hundreds of times, by a producer that
 * runs at full speed on a small ring (depth 64).
 *
 * The consumer pauses now and then until the producer is more than a ring
 * ahead (a shared counter of published descriptors tells it when), and
 * sometimes pauses in the middle of reading a payload.  It checks that:
 *   - every lap is reported as -RILL_EOVERRUN with v.lost > 0, and a pause
 *     of more than a ring is always reported;
 *   - lost counts exactly the sequence numbers skipped: the next sequence
 *     number polled is the last one polled + 1 + the lost reported between;
 *   - every descriptor polled has the seq, sig, size and ctl of its place in
 *     the stream, and every payload accepted by rill_check() has the right
 *     bytes (an accepted payload that is wrong is a failure of rill_check);
 *   - with rill_recv(): whole messages only, each with the right bytes, and
 *     m.lost equal to the sequence numbers between it and the one before.
 * Run across processes (tu_spawn) and as two threads of one process (which is
 * what ThreadSanitizer sees; lap_read_payload() is named in tests/tsan.supp:
 * its read races with the producer by design, and rill_check() decides). */
#include "testutil.h"

#include <pthread.h>

#define REGION "lap"
#define DEPTH 64u
#define MTU 128u
#define MAXSZ (3 * MTU)
#define LAPS_MIN 400

enum { MODE_POLL, MODE_RECV };

typedef struct lapctl {
  char chan[16];
  int mode;
  uint64_t salt, seq0, min_polls;
  rill_region *r;          /* threads: the region handle they share */
  _Atomic uint64_t published; /* descriptors published (count) */
  _Atomic int stop;        /* the consumer has seen enough */
  tu_gate ready;           /* processes: the consumer joined */
  /* results */
  uint64_t laps, polled, accepted, check_fail, lost, pauses, msgs_sent;
} lapctl;

/* ---- producer --------------------------------------------------------------- */

static void lap_producer(lapctl *x, rill_region *r) {
  rill_producer *p;
  CHECK_OK(rill_producer_join(r, x->chan, &p));
  static _Thread_local uint8_t buf[MAXSZ];
  uint64_t descs = 0, i;
  for (i = 0; !atomic_load_explicit(&x->stop, memory_order_relaxed); i++) {
    size_t n = (size_t)tu_msg_size(x->salt, i, MAXSZ);
    uint64_t key = tu_key(x->salt, i);
    if (n <= MTU && (i & 1)) {
      /* Zero copy: write the payload in place while consumers may read
       * the old one there. */
      void *b;
      CHECK_OK(rill_reserve(p, n, &b));
      tu_fill(b, n, key, 0);
      CHECK_OK(rill_commit(p, n, i, RILL_CTL_MSG));
    } else {
      tu_fill(buf, n, key, 0);
      int rc = rill_send(p, buf, n, i);
      /* Only a lossy consumer: the producer never waits. */
      CHECKF(rc == 0, "send %" PRIu64 ": %s", i, rill_strerror(rc));
    }
    descs += tu_frags(n, MTU);
    atomic_store_explicit(&x->published, descs, memory_order_release);
  }
  x->msgs_sent = i;
  rill_channel_stats st;
  CHECK_OK(rill_producer_flush(p));
  CHECK_OK(rill_channel_stats_get(r, x->chan, &st));
  CHECK_EQ(st.backpressure, 0);
  CHECK_EQ(st.seq, x->seq0 + descs);
  CHECK_OK(rill_producer_leave(p));
}

/* ---- consumer ----------------------------------------------------------------- */

/* Reads a payload the producer may be overwriting right now.  The race is
 * by design (rill_check() tells whether the copy is good); this function is
 * named in tests/tsan.supp.  Volatile byte reads: the compiler may not
 * assume the bytes stay put. */
__attribute__((noinline)) static void lap_read_payload(uint8_t *dst, const void *src, size_t n) {
  const volatile uint8_t *s = src;
  for (size_t i = 0; i < n; i++) dst[i] = s[i];
}

/* Waits until the producer has published AHEAD descriptors past position
 * POS (counted from seq0). */
static void wait_published(lapctl *x, uint64_t pos, uint64_t ahead) {
  unsigned spins = 0;
  uint64_t t0 = tu_ns();
  while (atomic_load_explicit(&x->published, memory_order_acquire) < pos + ahead) {
    tu_relax(&spins);
    CHECKF(tu_ns() - t0 < 20000000000ull, "the producer stopped publishing");
  }
}

static void consume_poll(lapctl *x, rill_consumer *c) {
  tu_sched s;
  tu_sched_init(&s, x->salt, MAXSZ, MTU, x->seq0);
  tu_rng rng = {tu_ns() ^ 0x5eed};
  uint64_t expect = x->seq0, lost_pending = 0;
  uint64_t next_pause = 10 + tu_below(&rng, 100);
  int must_overrun = 0;
  uint8_t copy[MTU];
  const uint64_t deadline = tu_ns() + 30000000000ull;
  while (x->laps < LAPS_MIN || x->polled < x->min_polls) {
    CHECKF(tu_ns() < deadline, "only %" PRIu64 " laps and %" PRIu64 " polls in 30 s", x->laps,
           x->polled);
    if (x->polled >= next_pause && !must_overrun) {
      /* Fall more than a ring behind: the next poll must say so. */
      wait_published(x, expect - x->seq0, DEPTH + 1 + tu_below(&rng, 2 * DEPTH));
      must_overrun = 1;
      x->pauses++;
      next_pause = x->polled + 1 + tu_below(&rng, 200);
    }
    rill_view v;
    memset(&v, 0, sizeof v);
    int rc = rill_poll(c, &v);
    if (rc == -RILL_EAGAIN) {
      CHECKF(!must_overrun, "lapped by more than a ring, poll says EAGAIN");
      unsigned spins = 0;
      tu_relax(&spins);
      continue;
    }
    if (rc == -RILL_EOVERRUN) {
      CHECKF(v.lost > 0 && v.lost < (1ull << 40), "overrun with lost %" PRIu64, v.lost);
      lost_pending += v.lost;
      x->lost += v.lost;
      x->laps++;
      must_overrun = 0;
      continue;
    }
    CHECKF(rc == 0, "poll: %d (%s)", rc, rill_strerror(rc));
    CHECKF(!must_overrun, "lapped by more than a ring, poll returned seq %" PRIu64
           " (expected %" PRIu64 ") without an overrun", v.seq, expect);
    CHECKF(v.seq == expect + lost_pending, "polled seq %" PRIu64 ", but the last was %" PRIu64
           " and %" PRIu64 " were reported lost since", v.seq, expect - 1, lost_pending);
    expect = v.seq + 1;
    lost_pending = 0;
    x->polled++;
    /* The descriptor itself was validated by poll: it must be exact. */
    uint64_t k = tu_sched_seek(&s, v.seq);
    CHECKF(v.sig == s.i, "seq %" PRIu64 ": sig %" PRIu64 ", want %" PRIu64, v.seq, v.sig, s.i);
    CHECK_EQ(v.sz, tu_sched_frag_sz(&s, k));
    CHECK_EQ(v.ctl, tu_sched_frag_ctl(&s, k));
    /* Read the payload, sometimes slowly: half, wait, the other half. */
    size_t half = v.sz / 2;
    lap_read_payload(copy, v.data, half);
    if (tu_below(&rng, 8) == 0)
      wait_published(x, v.seq - x->seq0, tu_below(&rng, 2 * DEPTH));
    lap_read_payload(copy + half, (const uint8_t *)v.data + half, v.sz - half);
    rc = rill_check(c, &v);
    if (rc == 0) {
      int64_t bad = tu_verify(copy, v.sz, tu_key(x->salt, s.i), k * MTU);
      CHECKF(bad < 0, "rill_check() accepted seq %" PRIu64 " (message %" PRIu64 " fragment %"
             PRIu64 ", %u bytes) whose payload is wrong at byte %" PRId64, v.seq, s.i, k, v.sz,
             bad);
      x->accepted++;
    } else {
      CHECKF(rc == -RILL_EOVERRUN, "check: %d (%s)", rc, rill_strerror(rc));
      x->check_fail++;
    }
  }
}

static void consume_recv(lapctl *x, rill_consumer *c) {
  tu_sched s;
  tu_sched_init(&s, x->salt, MAXSZ, MTU, x->seq0);
  tu_rng rng = {tu_ns() ^ 0xfeed};
  uint64_t end = x->seq0;
  uint64_t next_pause = 10 + tu_below(&rng, 100);
  int must_lose = 0;
  static _Thread_local uint8_t buf[MAXSZ];
  const uint64_t deadline = tu_ns() + 30000000000ull;
  while (x->laps < LAPS_MIN || x->polled < x->min_polls) {
    CHECKF(tu_ns() < deadline, "only %" PRIu64 " gaps and %" PRIu64 " messages in 30 s",
           x->laps, x->polled);
    if (x->polled >= next_pause && !must_lose) {
      wait_published(x, end - x->seq0, DEPTH + 1 + tu_below(&rng, 2 * DEPTH));
      must_lose = 1;
      x->pauses++;
      next_pause = x->polled + 1 + tu_below(&rng, 100);
    }
    rill_meta m;
    int64_t got = rill_recv(c, buf, sizeof buf, &m);
    if (got == -RILL_EAGAIN) {
      unsigned spins = 0;
      tu_relax(&spins);
      continue;
    }
    CHECKF(got >= 0, "recv: %s", rill_strerror((int)got));
    uint64_t k = tu_sched_seek(&s, m.seq);
    CHECKF(k == 0, "recv returned seq %" PRIu64 ", fragment %" PRIu64 " of message %" PRIu64,
           m.seq, k, s.i);
    CHECKF(m.sig == s.i, "seq %" PRIu64 ": sig %" PRIu64 ", want %" PRIu64, m.seq, m.sig, s.i);
    CHECKF(m.lost == m.seq - end, "message at seq %" PRIu64 ": lost %" PRIu64 ", but %" PRIu64
           " sequence numbers since the last", m.seq, m.lost, m.seq - end);
    CHECKF(!must_lose || m.lost > 0, "lapped by more than a ring, no loss reported");
    CHECK_EQ(got, s.sz);
    CHECK_EQ(m.sz, s.sz);
    CHECK_EQ(m.ctl, s.nfrags == 1 ? RILL_CTL_MSG : RILL_CTL_EOM);
    CHECK_PAYLOAD(buf, (size_t)got, tu_key(x->salt, s.i), 0);
    if (m.lost) x->laps++;
    must_lose = 0;
    x->lost += m.lost;
    x->polled++;
    x->accepted++;
    end = s.seq + s.nfrags;
  }
}

static void lap_consumer(lapctl *x, rill_region *r, rill_consumer *c) {
  if (x->mode == MODE_POLL) consume_poll(x, c);
  else consume_recv(x, c);
  atomic_store(&x->stop, 1);
  CHECK_OK(rill_consumer_flush(c));
  rill_consumer_stats cs;
  for (uint32_t i = 0; tu_consumer_next(r, x->chan, &i, &cs); i++) {
    if (cs.mode != RILL_LOSSY) continue;
    if (x->mode == MODE_POLL) {
      CHECK_EQ(cs.overrun_poll, x->laps);
      CHECK_EQ(cs.lost, x->lost);
      CHECK_EQ(cs.overrun_read, x->check_fail);
      CHECK_EQ(cs.msgs, x->polled);
    } else {
      CHECK(cs.overrun_poll > 0 && cs.lost <= x->lost);
    }
  }
}

/* ---- across processes ----------------------------------------------------------- */

static lapctl *X; /* shared memory */

static void proc_producer(void *arg) {
  X = arg;
  rill_region_opts o = tu_opts(0);
  rill_region *r;
  CHECK_OK(rill_region_open(REGION, &o, &r));
  lap_producer(X, r);
  rill_region_close(r);
}

static void proc_consumer(void *arg) {
  X = arg;
  rill_region_opts o = tu_opts(0);
  rill_region *r;
  CHECK_OK(rill_region_open(REGION, &o, &r));
  rill_consumer *c;
  CHECK_OK(rill_consumer_join(r, X->chan, RILL_LOSSY, &c));
  tu_gate_post(&X->ready);
  lap_consumer(X, r, c);
  CHECK_OK(rill_consumer_leave(c));
  rill_region_close(r);
}

/* ---- threads -------------------------------------------------------------------- */

typedef struct thr_arg {
  lapctl *x;
  rill_consumer *c;
} thr_arg;

static void *thr_producer(void *arg) {
  thr_arg *a = arg;
  lap_producer(a->x, a->x->r);
  return NULL;
}

static void *thr_consumer(void *arg) {
  thr_arg *a = arg;
  lap_consumer(a->x, a->x->r, a->c);
  return NULL;
}

static void setup(rill_region *r, lapctl *x, const char *name, int mode, uint64_t salt) {
  memset(x, 0, sizeof *x);
  snprintf(x->chan, sizeof x->chan, "%s", name);
  x->mode = mode;
  x->salt = salt;
  x->min_polls = tu_scaled(300000, 20000);
  rill_channel_opts co = {.depth = DEPTH, .mtu = MTU, .max_consumers = 2, .max_msg = MAXSZ};
  CHECK_OK(rill_channel_create(r, name, &co));
  rill_channel_stats st;
  CHECK_OK(rill_channel_stats_get(r, name, &st));
  x->seq0 = st.seq;
}

static void report(const char *what, const lapctl *x, double dt) {
  printf("  %-22s %7" PRIu64 " laps (%" PRIu64 " forced), %8" PRIu64 " polled, %8" PRIu64
         " accepted, %6" PRIu64 " failed checks, %9" PRIu64 " lost; %" PRIu64
         " messages sent (%.2f s)\n",
         what, x->laps, x->pauses, x->polled, x->accepted, x->check_fail, x->lost, x->msgs_sent,
         dt);
}

static const tu_role roles[] = {TU_ROLE(proc_producer), TU_ROLE(proc_consumer), {0}};

int main(int argc, char **argv) {
  tu_start_roles("lapping", 120, argc, argv, roles);
  rill_region_opts o = tu_opts(8 << 20);
  rill_region *r;
  CHECK_OK(rill_region_create(REGION, &o, &r));
  X = tu_shared(sizeof *X);
  uint64_t total_laps = 0;

  const char *names[2] = {"poll+check", "recv"};
  for (int mode = MODE_POLL; mode <= MODE_RECV; mode++) {
    /* Processes. */
    char chan[16];
    snprintf(chan, sizeof chan, "proc%d", mode);
    setup(r, X, chan, mode, 100 + (uint64_t)mode);
    double t0 = tu_now();
    tu_gate_init(&X->ready);
    tu_spawn("lossy consumer", proc_consumer, X);
    tu_gate_wait(&X->ready, 1);
    tu_spawn("producer", proc_producer, X);
    tu_wait_all();
    char what[64];
    snprintf(what, sizeof what, "processes, %s:", names[mode]);
    report(what, X, tu_now() - t0);
    CHECK(X->laps >= LAPS_MIN);
    total_laps += X->laps;

    /* Threads. */
    lapctl *x = calloc(1, sizeof *x);
    CHECK(x != NULL);
    snprintf(chan, sizeof chan, "thr%d", mode);
    setup(r, x, chan, mode, 200 + (uint64_t)mode);
    x->r = r;
    thr_arg a = {.x = x};
    CHECK_OK(rill_consumer_join(r, chan, RILL_LOSSY, &a.c));
    t0 = tu_now();
    pthread_t tp, tc;
    CHECK(pthread_create(&tc, NULL, thr_consumer, &a) == 0);
    CHECK(pthread_create(&tp, NULL, thr_producer, &a) == 0);
    CHECK(pthread_join(tc, NULL) == 0);
    CHECK(pthread_join(tp, NULL) == 0);
    CHECK_OK(rill_consumer_leave(a.c));
    snprintf(what, sizeof what, "threads, %s:", names[mode]);
    report(what, x, tu_now() - t0);
    CHECK(x->laps >= LAPS_MIN);
    total_laps += x->laps;
    free(x);
  }
  rill_region_close(r);
  return tu_pass("%" PRIu64 " laps in 4 runs (processes and threads, poll+check and recv), "
                 "every accepted byte checked", total_laps);
}
