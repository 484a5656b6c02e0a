/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* Sleeping waits, the consumer fd, liveness, eviction, rejoin and cleaning.
 *
 * - timeouts: 0 polls once; a wait on an empty channel times out, not
 *   sooner than asked;
 * - the lost wake-up race, both ways: a consumer that parks at once (spin
 *   0) receives a million messages published at random moments around its
 *   parking, each wait bounded by a 2 s timeout that must never fire; a
 *   producer that parks at once for credit in a depth-4 channel, the same;
 * - closed and dead: a parked consumer is woken by the producer's leave
 *   (-RILL_ECLOSED) and notices a killed producer (-RILL_EDEAD), both
 *   after reading everything; a new producer resumes the sequence;
 * - the fd (Windows: the event of rill_consumer_handle()): readable after a
 *   publish once armed; arm says 1 when there is something to read,
 *   ECLOSED after the producer left;
 * - eviction of a dead reliable consumer, then its rejoin (overrun
 *   reported); no eviction with RILL_FOREVER; eviction of one that leaves
 *   some credit, but less than a fragmented send needs;
 * - rejoin from the last flushed position after a crash, and its errors;
 * - rill_region_in_use / rill_region_clean remove only regions whose every
 *   user is dead, with their FIFOs;
 * - rill_wait_any(): its arguments and timeout, and the lost wake-up race
 *   on three channels at once (each message wakes it, on its channel).
 */
#include "testutil.h"

#include "layout.h"

#define MS 1000000ull
#define SEC 1000000000ull

typedef struct shared {
  _Atomic uint64_t step; /* handshakes between parent and child */
  _Atomic uint32_t slot;
  uint64_t n;
} shared;

static shared *sh_new(void) { return tu_shared(sizeof(shared)); }

/* Spins (yielding) until SH->step reaches WANT, for at most 10 s. */
static void step_wait(shared *s, uint64_t want) {
  uint64_t deadline = tu_ns() + 10 * SEC;
  unsigned spins = 0;
  while (atomic_load(&s->step) < want) {
    CHECKF(tu_ns() < deadline, "step %" PRIu64 " never came", want);
    tu_relax(&spins);
  }
}

static rill_region *chan_new(const char *region, const char *chan, uint32_t depth) {
  rill_channel_opts co = {.depth = depth, .mtu = 256, .max_consumers = 4};
  uint64_t seq0;
  return tu_channel_new(region, 16 << 20, chan, &co, &seq0);
}

/* ---- timeouts ------------------------------------------------------------ */

static void t_timeouts(void) {
  rill_region *r = chan_new("to", "c", 64);
  rill_consumer *c;
  CHECK_OK(rill_consumer_join(r, "c", RILL_RELIABLE, &c));
  rill_view v;
  rill_meta m;
  char buf[8];
  CHECK_RC(rill_poll_wait(c, &v, 0), -RILL_EAGAIN);
  CHECK_RC(rill_recv_wait(c, buf, sizeof buf, &m, 0), -RILL_EAGAIN);
  /* No producer ever joined: a wait is not "closed", it times out. */
  for (int spin = 0; spin < 2; spin++) {
    CHECK_OK(rill_consumer_set_spin(c, spin ? 5000 : 0));
    uint64_t t0 = tu_ns();
    CHECK_RC(rill_poll_wait(c, &v, 20 * MS), -RILL_ETIMEDOUT);
    CHECK(tu_ns() - t0 >= 20 * MS);
    t0 = tu_ns();
    CHECK_RC(rill_recv_wait(c, buf, sizeof buf, &m, 30 * MS), -RILL_ETIMEDOUT);
    CHECK(tu_ns() - t0 >= 30 * MS);
  }
  CHECK_RC(rill_poll_wait(NULL, &v, 0), -RILL_EINVAL);
  CHECK_RC(rill_poll_wait(c, NULL, 0), -RILL_EINVAL);
  CHECK_RC(rill_recv_wait(c, NULL, 8, &m, 0), -RILL_EINVAL);
  CHECK_RC(rill_send_wait(NULL, buf, 1, 0, 0), -RILL_EINVAL);
  CHECK_RC(rill_reserve_wait(NULL, 1, NULL, 0), -RILL_EINVAL);
  CHECK_RC(rill_consumer_set_spin(NULL, 0), -RILL_EINVAL);
  CHECK_RC(rill_producer_set_spin(NULL, 0), -RILL_EINVAL);
  CHECK_RC(rill_producer_set_evict(NULL, 0), -RILL_EINVAL);
  /* A producer out of credit times out too. */
  rill_producer *p;
  CHECK_OK(rill_producer_join(r, "c", &p));
  CHECK_OK(rill_producer_set_spin(p, 0));
  for (int i = 0; i < 64; i++) CHECK_OK(rill_send_wait(p, buf, 8, (uint64_t)i, 0));
  uint64_t t0 = tu_ns();
  CHECK_RC(rill_send_wait(p, buf, 8, 64, 20 * MS), -RILL_ETIMEDOUT);
  CHECK(tu_ns() - t0 >= 20 * MS);
  void *res;
  CHECK_RC(rill_reserve_wait(p, 8, &res, 0), -RILL_EAGAIN);
  rill_channel_stats st;
  CHECK_OK(rill_channel_stats_get(r, "c", &st));
  CHECK_EQ(st.backpressure, 2); /* each call counts once, a wait too */
  /* Reading frees credit: the reserve goes through. */
  CHECK_EQ(rill_recv_wait(c, buf, sizeof buf, &m, 0), 8);
  CHECK_OK(rill_consumer_flush(c));
  CHECK_OK(rill_reserve_wait(p, 8, &res, 10 * MS));
  CHECK_OK(rill_producer_leave(p));
  CHECK_OK(rill_consumer_leave(c));
  rill_region_close(r);
  CHECK_OK(rill_region_unlink("to", tu_dir()));
}

/* ---- the lost wake-up race ----------------------------------------------- */

typedef struct race {
  shared sh;
  uint64_t n, salt;
} race;

static race *race_new(uint64_t n, uint64_t salt) {
  race *x = tu_shared(sizeof *x);
  x->n = n;
  x->salt = salt;
  return x;
}

/* Child: publishes message i at a random moment after the consumer
 * acknowledged i - 1 (so it lands before, during or after its parking). */
static void race_producer(void *arg) {
  race *x = arg;
  rill_region *r = tu_region_open("race");
  rill_producer *p;
  rill_consumer *ack;
  CHECK_OK(rill_producer_join(r, "ping", &p));
  CHECK_OK(rill_consumer_join(r, "ack", RILL_RELIABLE, &ack));
  atomic_store(&x->sh.step, 1);
  tu_rng rng = {x->salt};
  for (uint64_t i = 0; i < x->n; i++) {
    uint64_t d = tu_below(&rng, 4) ? tu_below(&rng, 3000) : 0;
    for (uint64_t k = 0; k < d; k++) __asm__ __volatile__("" ::: "memory");
    CHECK_OK(rill_send(p, &i, sizeof i, i));
    uint64_t a;
    rill_meta m;
    CHECKF(rill_recv_wait(ack, &a, sizeof a, &m, 2 * SEC) == sizeof a,
           "no ack for message %" PRIu64, i);
    CHECK_EQ(a, i);
  }
  CHECK_OK(rill_producer_leave(p));
  CHECK_OK(rill_consumer_leave(ack));
  rill_region_close(r);
}

static void t_race(void) {
  rill_channel_opts co = {.depth = 256, .mtu = 64, .max_consumers = 2};
  uint64_t seq0;
  rill_region *r = tu_channel_new("race", 8 << 20, "ping", &co, &seq0);
  CHECK_OK(rill_channel_create(r, "ack", &co));
  rill_consumer *c;
  rill_producer *ackp;
  CHECK_OK(rill_consumer_join(r, "ping", RILL_RELIABLE, &c));
  CHECK_OK(rill_consumer_set_spin(c, 0)); /* park at once: every wait races */
  CHECK_OK(rill_producer_join(r, "ack", &ackp));
  race *x = race_new(tu_scaled(1000000, 20000), tu_ns());
  tu_pid pid = tu_spawn("race producer", race_producer, x);
  uint64_t t0 = tu_ns(), worst = 0;
  for (uint64_t i = 0; i < x->n; i++) {
    uint64_t got, w0 = tu_ns();
    rill_meta m;
    int64_t rc = rill_recv_wait(c, &got, sizeof got, &m, 2 * SEC);
    CHECKF(rc == sizeof got, "message %" PRIu64 ": %s (a lost wake-up?)", i,
           rc < 0 ? rill_strerror((int)rc) : "short");
    CHECK_EQ(got, i);
    uint64_t w = tu_ns() - w0;
    if (w > worst) worst = w;
    CHECK_OK(rill_send(ackp, &i, sizeof i, i));
  }
  rill_meta m;
  uint64_t got;
  CHECK_RC(rill_recv_wait(c, &got, sizeof got, &m, 5 * SEC), -RILL_ECLOSED);
  tu_wait(pid);
  rill_channel_stats st;
  CHECK_OK(rill_channel_stats_get(r, "ping", &st));
  printf("race: %" PRIu64 " publish/park races in %.2f s, %" PRIu64
         " wake-ups sent, longest wait %.2f ms\n", x->n, (double)(tu_ns() - t0) / 1e9,
         st.wakes, (double)worst / 1e6);
  CHECK(st.wakes > 0); /* the consumer did park */
  CHECK_OK(rill_consumer_leave(c));
  CHECK_OK(rill_producer_leave(ackp));
  rill_region_close(r);
}

/* ---- waiting on several channels ----------------------------------------- */

#define ANY_N 3

/* Child: publishes message i on channel "any<k>" (k chosen at random, the
 * parent draws the same k) at a random moment after the ack of i - 1. */
static void any_producer(void *arg) {
  race *x = arg;
  rill_region *r = tu_region_open("any");
  rill_producer *p[ANY_N];
  rill_consumer *ack;
  for (int k = 0; k < ANY_N; k++) {
    char name[8];
    snprintf(name, sizeof name, "any%d", k);
    CHECK_OK(rill_producer_join(r, name, &p[k]));
  }
  CHECK_OK(rill_consumer_join(r, "ack", RILL_RELIABLE, &ack));
  atomic_store(&x->sh.step, 1);
  tu_rng rng = {x->salt}, pick = {x->salt ^ 0x5bd1e995};
  for (uint64_t i = 0; i < x->n; i++) {
    uint64_t d = tu_below(&rng, 4) ? tu_below(&rng, 3000) : 0;
    for (uint64_t k = 0; k < d; k++) __asm__ __volatile__("" ::: "memory");
    CHECK_OK(rill_send(p[tu_below(&pick, ANY_N)], &i, sizeof i, i));
    uint64_t a;
    rill_meta m;
    CHECKF(rill_recv_wait(ack, &a, sizeof a, &m, 2 * SEC) == sizeof a,
           "no ack for message %" PRIu64, i);
    CHECK_EQ(a, i);
  }
  for (int k = 0; k < ANY_N; k++) CHECK_OK(rill_producer_leave(p[k]));
  CHECK_OK(rill_consumer_leave(ack));
  rill_region_close(r);
}

/* rill_wait_any(): arguments, a timeout, then the lost wake-up race on
 * three channels at once: every message must wake the wait, on the right
 * channel, within 2 s. */
static void t_wait_any(void) {
  rill_channel_opts co = {.depth = 256, .mtu = 64, .max_consumers = 2};
  uint64_t seq0;
  rill_region *r = tu_channel_new("any", 8 << 20, "ack", &co, &seq0);
  rill_consumer *cs[ANY_N];
  for (int k = 0; k < ANY_N; k++) {
    char name[8];
    snprintf(name, sizeof name, "any%d", k);
    CHECK_OK(rill_channel_create(r, name, &co));
    CHECK_OK(rill_consumer_join(r, name, RILL_RELIABLE, &cs[k]));
    CHECK_OK(rill_consumer_set_spin(cs[k], 0)); /* park at once: every wait races */
  }
  CHECK_RC(rill_wait_any(NULL, 1, 0), -RILL_EINVAL);
  CHECK_RC(rill_wait_any(cs, 0, 0), -RILL_EINVAL);
  CHECK_RC(rill_wait_any(cs, RILL_WAIT_ANY_MAX + 1, 0), -RILL_EINVAL);
  CHECK_RC(rill_wait_any(cs, ANY_N, 0), -RILL_ETIMEDOUT);
  uint64_t t0 = tu_ns();
  CHECK_RC(rill_wait_any(cs, ANY_N, 20 * MS), -RILL_ETIMEDOUT);
  CHECK(tu_ns() - t0 >= 20 * MS);

  rill_producer *ackp;
  CHECK_OK(rill_producer_join(r, "ack", &ackp));
  race *x = race_new(tu_scaled(200000, 20000), tu_ns());
  tu_pid pid = tu_spawn("any producer", any_producer, x);
  tu_rng pick = {x->salt ^ 0x5bd1e995};
  t0 = tu_ns();
  uint64_t slow = 0; /* waits of 40 ms or more: a lost wake-up costs a 50 ms nap */
  for (uint64_t i = 0; i < x->n; i++) {
    int want = (int)tu_below(&pick, ANY_N);
    uint64_t w0 = tu_ns();
    int k = rill_wait_any(cs, ANY_N, 2 * SEC);
    slow += tu_ns() - w0 >= 40 * MS;
    /* A lost wake-up shows as a wait that lasted a whole nap; a preempted
     * VM may make one or two. */
    CHECKF(slow <= 3, "%" PRIu64 " waits lasted 40 ms or more (lost wake-ups?)", slow);
    CHECKF(k == want, "message %" PRIu64 ": wait_any said %d, want %d (a lost wake-up?)",
           i, k, want);
    uint64_t got;
    rill_meta m;
    CHECK_EQ(rill_recv(cs[k], &got, sizeof got, &m), sizeof got);
    CHECK_EQ(got, i);
    CHECK_OK(rill_send(ackp, &i, sizeof i, i));
  }
  tu_wait(pid);
  uint64_t wakes = 0;
  for (int k = 0; k < ANY_N; k++) {
    char name[8];
    snprintf(name, sizeof name, "any%d", k);
    rill_channel_stats st;
    CHECK_OK(rill_channel_stats_get(r, name, &st));
    wakes += st.wakes;
    CHECK_OK(rill_consumer_leave(cs[k]));
  }
  printf("wait_any: %" PRIu64 " races over %d channels in %.2f s, %" PRIu64
         " wake-ups, %" PRIu64 " waits of 40 ms or more\n",
         x->n, ANY_N, (double)(tu_ns() - t0) / 1e9, wakes, slow);
  CHECK(wakes > ANY_N); /* beyond each producer's first publish: it parked */
  CHECK_OK(rill_producer_leave(ackp));
  rill_region_close(r);
  CHECK_OK(rill_region_unlink("any", tu_dir()));
}

/* The other way: a producer parking for credit in a depth-4 channel while
 * the consumer reads at random moments. */
static void credit_producer(void *arg) {
  race *x = arg;
  rill_region *r = tu_region_open("credit");
  rill_producer *p;
  CHECK_OK(rill_producer_join(r, "c", &p));
  CHECK_OK(rill_producer_set_spin(p, 0));
  for (uint64_t i = 0; i < x->n; i++) {
    int rc = rill_send_wait(p, &i, sizeof i, i, 2 * SEC);
    CHECKF(rc == 0, "send %" PRIu64 ": %s (a lost wake-up?)", i, rill_strerror(rc));
  }
  CHECK_OK(rill_producer_leave(p));
  rill_region_close(r);
}

static void t_credit_race(void) {
  rill_channel_opts co = {.depth = 4, .mtu = 64, .max_consumers = 1, .max_msg = 64};
  uint64_t seq0;
  rill_region *r = tu_channel_new("credit", 1 << 20, "c", &co, &seq0);
  rill_consumer *c;
  CHECK_OK(rill_consumer_join(r, "c", RILL_RELIABLE, &c));
  race *x = race_new(tu_scaled(200000, 5000), tu_ns() ^ 7);
  tu_pid pid = tu_spawn("credit producer", credit_producer, x);
  tu_rng rng = {x->salt};
  for (uint64_t i = 0; i < x->n; i++) {
    uint64_t d = tu_below(&rng, 3000);
    for (uint64_t k = 0; k < d; k++) __asm__ __volatile__("" ::: "memory");
    uint64_t got;
    rill_meta m;
    int64_t rc = rill_recv_wait(c, &got, sizeof got, &m, 5 * SEC);
    CHECKF(rc == sizeof got, "message %" PRIu64 ": %s", i, rc < 0 ? rill_strerror((int)rc) : "short");
    CHECK_EQ(got, i);
    /* Give the credit back at once, as a consumer that is done reading. */
    CHECK_OK(rill_consumer_flush(c));
  }
  tu_wait(pid);
  CHECK_OK(rill_consumer_leave(c));
  rill_region_close(r);
}

/* ---- closed and dead ----------------------------------------------------- */

typedef struct endgame {
  int die; /* 1: kill itself (SIGKILL, TerminateProcess) instead of leaving */
  uint64_t k;
} endgame;

static void end_producer(void *arg) {
  endgame *e = arg;
  rill_region *r = tu_region_open("end");
  rill_producer *p;
  CHECK_OK(rill_producer_join(r, "c", &p));
  for (uint64_t i = 0; i < e->k; i++) CHECK_OK(rill_send(p, &i, sizeof i, i));
  /* Wait until the consumer has parked, so the end must wake it. */
  uint64_t deadline = tu_ns() + 10 * SEC;
  rill_consumer_stats cs;
  unsigned spins = 0;
  for (;;) {
    CHECK_OK(rill_consumer_stats_get(r, "c", 0, &cs));
    if (cs.parked) break;
    CHECK(tu_ns() < deadline);
    tu_relax(&spins);
  }
  if (e->die) tu_die();
  CHECK_OK(rill_producer_leave(p));
  rill_region_close(r);
}

static void t_end(int die) {
  rill_channel_opts co = {.depth = 64, .mtu = 64, .max_consumers = 2};
  uint64_t seq0;
  rill_region *r = tu_channel_new("end", 1 << 20, "c", &co, &seq0);
  rill_consumer *c;
  CHECK_OK(rill_consumer_join(r, "c", RILL_RELIABLE, &c));
  CHECK_EQ(rill_consumer_slot(c), 0);
  CHECK_OK(rill_consumer_set_spin(c, 0));
  CHECK_EQ(rill_consumer_producer(c), RILL_PEER_NONE);
  endgame *e = tu_shared(sizeof *e);
  e->die = die;
  e->k = 10;
  tu_pid pid = tu_spawn(die ? "dying producer" : "leaving producer", end_producer, e);
  uint64_t got;
  rill_meta m;
  for (uint64_t i = 0; i < e->k; i++) {
    CHECK_EQ(rill_recv_wait(c, &got, sizeof got, &m, 5 * SEC), sizeof got);
    CHECK_EQ(got, i);
  }
  uint64_t t0 = tu_ns();
  int rc = (int)rill_recv_wait(c, &got, sizeof got, &m, 10 * SEC);
  CHECK_RC(rc, die ? -RILL_EDEAD : -RILL_ECLOSED);
  uint64_t took = tu_ns() - t0;
  CHECKF(took < 5 * SEC, "the end took %.2f s to notice", (double)took / 1e9);
  CHECK_EQ(tu_wait_end(pid), die ? TU_KILLED : 0);
  /* Asking again gives the same answer at once. */
  CHECK_RC((int)rill_recv_wait(c, &got, sizeof got, &m, 10 * SEC), die ? -RILL_EDEAD : -RILL_ECLOSED);
  rill_channel_stats cst;
  rill_consumer_stats cs;
  CHECK_OK(rill_channel_stats_get(r, "c", &cst));
  CHECK_OK(rill_consumer_stats_get(r, "c", 0, &cs));
  CHECK_EQ(cst.producer_liveness, die ? RILL_PEER_DEAD : RILL_PEER_NONE);
  CHECK_EQ(rill_consumer_producer(c), die ? RILL_PEER_DEAD : RILL_PEER_NONE);
  CHECK_EQ(cs.liveness, RILL_PEER_ALIVE);
  CHECK(cs.heartbeat_ns > 0);
  /* A new producer resumes the sequence: no loss, no duplicate. */
  rill_producer *p;
  CHECK_OK(rill_producer_join(r, "c", &p));
  CHECK_EQ(rill_producer_seq(p), seq0 + e->k);
  CHECK_EQ(rill_consumer_producer(c), RILL_PEER_ALIVE);
  uint64_t x = 99;
  CHECK_OK(rill_send(p, &x, sizeof x, x));
  CHECK_EQ(rill_recv_wait(c, &got, sizeof got, &m, SEC), sizeof got);
  CHECK_EQ(m.seq, seq0 + e->k);
  CHECK_EQ(got, 99);
  CHECK_EQ(m.lost, 0);
  CHECK_OK(rill_producer_leave(p));
  CHECK_OK(rill_consumer_leave(c));
  rill_region_close(r);
  CHECK_OK(rill_region_unlink("end", tu_dir()));
}

/* ---- the fd -------------------------------------------------------------- */

#define readable tu_wakeup_ready

static void t_fd(void) {
  rill_region *r = chan_new("fdr", "c", 64);
  rill_consumer *c;
  rill_producer *p;
  CHECK_OK(rill_consumer_join(r, "c", RILL_LOSSY, &c));
  CHECK_RC(rill_consumer_arm(c), -RILL_EINVAL); /* no fd yet */
  tu_wakeup fd, again;
  CHECK_OK(tu_consumer_wakeup(c, &fd));
  CHECK_OK(tu_consumer_wakeup(c, &again));
  CHECK(tu_wakeup_same(fd, again)); /* the same one */
#if TU_POSIX
  char path[512];
  snprintf(path, sizeof path, "%s/.rill-fifo@fdr@c@%u", tu_dir(), rill_consumer_slot(c));
  struct stat sb;
  CHECK(stat(path, &sb) == 0 && S_ISFIFO(sb.st_mode));
  CHECK_EQ(sb.st_mode & 0777, 0600);
#else
  tu_skip_part("the FIFO's file", "a consumer's wake-up object is a named event on Windows, "
               "no file in the directory");
#endif
  CHECK_OK(rill_consumer_arm(c));
  CHECK(!readable(fd, 0));
  CHECK_OK(rill_producer_join(r, "c", &p));
  uint64_t x = 5, got;
  rill_meta m;
  for (int round = 0; round < 100; round++) {
    CHECK_OK(rill_send(p, &x, sizeof x, x));
    CHECK(readable(fd, 5000));
    CHECK_EQ(rill_recv(c, &got, sizeof got, &m), sizeof got);
    CHECK_RC(rill_recv(c, &got, sizeof got, &m), -RILL_EAGAIN);
    /* Drains the fd and arms again.  A LAZY producer (docs/PROTOCOL.md
     * §3.7a) that nobody asked to fence yet cannot promise a signal: the
     * first arm asks it, and says "look" (1); its next publish fences. */
    int armed = rill_consumer_arm(c);
    CHECKF(armed == 0 || (armed == 1 && round == 0 && tu_lazy_fence()), "arm: %d", armed);
    CHECK(!readable(fd, 0));
  }
  /* Published while not armed: arm says "read first". */
  CHECK_OK(rill_send(p, &x, sizeof x, x));
  CHECK_EQ(rill_consumer_arm(c), 1);
  CHECK_EQ(rill_recv(c, &got, sizeof got, &m), sizeof got);
  CHECK_OK(rill_consumer_arm(c));
  /* The producer leaves: the fd fires, and arm then says closed. */
  CHECK_OK(rill_producer_leave(p));
  CHECK(readable(fd, 5000));
  CHECK_RC(rill_consumer_arm(c), -RILL_ECLOSED);
  CHECK_OK(rill_consumer_leave(c));
  rill_region_close(r);
  CHECK_OK(rill_region_unlink("fdr", tu_dir()));
#if TU_POSIX
  CHECK(stat(path, &sb) != 0 && errno == ENOENT); /* the FIFO went with it */
#endif
}

/* ---- eviction and rejoin ------------------------------------------------- */

typedef struct victim {
  shared sh;
  char region[16];
  uint64_t read, flush_at; /* messages to read; flush after this many */
} victim;

/* Joins as reliable, reads, commits, dies. */
static void victim_main(void *arg) {
  victim *v = arg;
  rill_region *r = tu_region_open(v->region);
  rill_consumer *c;
  CHECK_OK(rill_consumer_join(r, "c", RILL_RELIABLE, &c));
  atomic_store(&v->sh.slot, rill_consumer_slot(c));
  atomic_store(&v->sh.step, 1);
  for (uint64_t i = 0; i < v->read; i++) {
    uint64_t got;
    rill_meta m;
    CHECK_EQ(rill_recv_wait(c, &got, sizeof got, &m, 10 * SEC), sizeof got);
    CHECK_EQ(got, i);
    if (i + 1 == v->flush_at) CHECK_OK(rill_consumer_flush(c));
  }
  tu_die();
}

static victim *victim_new(const char *region, uint64_t read, uint64_t flush_at) {
  victim *v = tu_shared(sizeof *v);
  snprintf(v->region, sizeof v->region, "%s", region);
  v->read = read;
  v->flush_at = flush_at;
  return v;
}

/* Starts a reliable consumer of REGION's channel "c" that joins and dies
 * (SIGKILL, TerminateProcess) without reading; returns its slot. */
static uint32_t dead_consumer(const char *region) {
  victim *v = victim_new(region, 0, 0);
  tu_pid pid = tu_spawn("victim", victim_main, v);
  step_wait(&v->sh, 1);
  CHECK_EQ(tu_wait_end(pid), TU_KILLED);
  return atomic_load(&v->sh.slot);
}

static void t_evict(void) {
  rill_region *r = chan_new("ev", "c", 16);
  rill_producer *p;
  CHECK_OK(rill_producer_join(r, "c", &p));
  CHECK_OK(rill_producer_set_evict(p, 50 * MS));
  uint32_t slot = dead_consumer("ev");
  /* Sends fill the ring, then the wait finds the dead consumer and, after
   * 50 ms, stops waiting for it. */
  uint64_t t0 = tu_ns();
  for (uint64_t i = 0; i < 40; i++) CHECK_OK(rill_send_wait(p, &i, sizeof i, i, 5 * SEC));
  CHECK(tu_ns() - t0 >= 50 * MS);
  rill_channel_stats st;
  rill_consumer_stats cs;
  CHECK_OK(rill_producer_flush(p));
  CHECK_OK(rill_channel_stats_get(r, "c", &st));
  CHECK_EQ(st.evictions, 1);
  CHECK_OK(rill_consumer_stats_get(r, "c", slot, &cs));
  CHECK_EQ(cs.liveness, RILL_PEER_DEAD);
  CHECK_EQ(cs.evicted, 1);
  CHECK_EQ(cs.mode, RILL_RELIABLE);
  /* The dead consumer rejoins: counted again, told of its loss. */
  rill_consumer *c;
  CHECK_RC(rill_consumer_rejoin(r, "c", 4, &c), -RILL_EINVAL);
  CHECK_RC(rill_consumer_rejoin(r, "c", slot + 1, &c), -RILL_ENOENT);
  CHECK_OK(rill_consumer_rejoin(r, "c", slot, &c));
  CHECK_EQ(rill_consumer_slot(c), slot);
  rill_consumer *c2;
  CHECK_RC(rill_consumer_rejoin(r, "c", slot, &c2), -RILL_EBUSY);
  /* It resumes at the producer's flushed seq, not at the older message
   * its slot still holds: the producer's credits, computed while it was
   * evicted, could reach it there while it reads (docs/PROTOCOL.md §3.4
   * Rejoin; model/join.pml, FINDING 3).  What it passed over counts as
   * lost at once, in its cursor. */
  CHECK_OK(rill_channel_stats_get(r, "c", &st));
  CHECK_OK(rill_consumer_stats_get(r, "c", slot, &cs));
  CHECK_EQ(cs.evicted, 0);
  CHECK_EQ(cs.liveness, RILL_PEER_ALIVE);
  CHECK_EQ(cs.seq, st.seq);
  CHECK_EQ(cs.lost, st.seq - st.seq0);
  CHECK_EQ(cs.overrun_poll, 1);
  rill_view view;
  CHECK_RC(rill_poll(c, &view), -RILL_EAGAIN);
  CHECK_OK(rill_consumer_flush(c));
  CHECK_OK(rill_consumer_stats_get(r, "c", slot, &cs));
  CHECK_EQ(cs.seq, st.seq);
  CHECK_EQ(cs.lost, st.seq - st.seq0);
  CHECK_OK(rill_consumer_leave(c));

  /* RILL_FOREVER: a dead consumer holds the producer back for good. */
  CHECK_OK(rill_producer_set_evict(p, RILL_FOREVER));
  (void)dead_consumer("ev");
  int rc = 0;
  for (uint64_t i = 0; i < 40 && rc == 0; i++) rc = rill_send_wait(p, &i, sizeof i, i, 100 * MS);
  CHECK_RC(rc, -RILL_ETIMEDOUT);
  CHECK_OK(rill_producer_flush(p));
  CHECK_OK(rill_channel_stats_get(r, "c", &st));
  CHECK_EQ(st.evictions, 1);
  CHECK_OK(rill_producer_leave(p));
  rill_region_close(r);
  CHECK_OK(rill_region_unlink("ev", tu_dir()));
}

/* A dead consumer that leaves the producer some credit, but less than a
 * fragmented message needs, is evicted too (it once held the send back
 * until it timed out). */
static void t_evict_frags(void) {
  rill_region *r = chan_new("evf", "c", 8); /* mtu 256, max_msg 1024 */
  rill_producer *p;
  CHECK_OK(rill_producer_join(r, "c", &p));
  CHECK_OK(rill_producer_set_evict(p, 50 * MS));
  (void)dead_consumer("evf");
  for (uint64_t i = 0; i < 6; i++) CHECK_OK(rill_send(p, &i, sizeof i, i));
  static char big[1024]; /* four fragments; two credits are left */
  CHECK_OK(rill_send_wait(p, big, sizeof big, 7, 5 * SEC));
  rill_channel_stats st;
  CHECK_OK(rill_producer_flush(p));
  CHECK_OK(rill_channel_stats_get(r, "c", &st));
  CHECK_EQ(st.evictions, 1);
  CHECK_OK(rill_producer_leave(p));
  rill_region_close(r);
  CHECK_OK(rill_region_unlink("evf", tu_dir()));
}

static void t_rejoin(void) {
  rill_region *r = chan_new("rj", "c", 256);
  rill_producer *p;
  CHECK_OK(rill_producer_join(r, "c", &p));
  victim *v = victim_new("rj", 110, 100);
  tu_pid pid = tu_spawn("crashing consumer", victim_main, v);
  step_wait(&v->sh, 1);
  for (uint64_t i = 0; i < 200; i++) CHECK_OK(rill_send_wait(p, &i, sizeof i, i, 5 * SEC));
  CHECK_EQ(tu_wait_end(pid), TU_KILLED);
  uint32_t slot = atomic_load(&v->sh.slot);
  rill_consumer_stats cs;
  CHECK_OK(rill_consumer_stats_get(r, "c", slot, &cs));
  CHECK_EQ(cs.liveness, RILL_PEER_DEAD);
  /* A fresh join takes a free slot, not the dead one. */
  rill_consumer *other, *c;
  CHECK_OK(rill_consumer_join(r, "c", RILL_LOSSY, &other));
  CHECK(rill_consumer_slot(other) != slot);
  CHECK_OK(rill_consumer_rejoin(r, "c", slot, &c));
  /* Resumes at its last flush: at or after its explicit one (100), at or
   * before what it had read (110); from there on nothing is lost. */
  uint64_t got;
  rill_meta m;
  CHECK_EQ(rill_recv_wait(c, &got, sizeof got, &m, SEC), sizeof got);
  CHECKF(got >= 100 && got <= 110, "resumed at %" PRIu64, got);
  for (uint64_t i = got + 1; i < 200; i++) {
    CHECK_EQ(rill_recv_wait(c, &got, sizeof got, &m, SEC), sizeof got);
    CHECK_EQ(got, i);
    CHECK_EQ(m.lost, 0);
  }
  CHECK_OK(rill_consumer_leave(other));
  CHECK_OK(rill_consumer_leave(c));
  CHECK_OK(rill_producer_leave(p));
  rill_region_close(r);
  CHECK_OK(rill_region_unlink("rj", tu_dir()));
}

/* ---- joins and rejoins against the producer's credits ---------------------
 * The three findings of the join model (model/join.pml, model/README.md),
 * played out in order: the racy interleavings are set up by writing the
 * cursor page by hand, or by a reservation that takes the producer's
 * credits without publishing, as a process stopped between two steps would
 * leave them.  Messages are 8 bytes, sig = seq - seq0 = the payload. */

/* The cursor page of slot SLOT of channel "c" in the region file MAP. */
static rill_cursor *cursor_in(uint8_t *map, uint32_t slot) {
  const rill_region_hdr *h = (const rill_region_hdr *)map;
  const rill_obj_entry *e = (const rill_obj_entry *)(map + RILL_TABLE_OFF);
  for (uint32_t i = 0; i < h->obj_cnt; i++)
    if (!strcmp(e[i].name, "c")) {
      const rill_chan_hdr *ch = (const rill_chan_hdr *)(map + e[i].off);
      return (rill_cursor *)(map + e[i].off + ch->cursor_off + (uint64_t)slot * RILL_PAGE);
    }
  CHECKF(0, "no channel c");
  return NULL;
}

/* Sends 8-byte messages i, i + 1, ... without waiting until the producer
 * has no credit; returns the next i. */
static uint64_t send_until_again(rill_producer *p, uint64_t i) {
  for (;; i++) {
    int rc = rill_send(p, &i, sizeof i, i);
    if (rc == -RILL_EAGAIN) return i;
    CHECK_OK(rc);
  }
}

/* Receives message I (a copy, checked) and asserts it lost LOST before it. */
static void recv_is(rill_consumer *c, uint64_t i, uint64_t lost) {
  uint64_t got;
  rill_meta m;
  CHECK_EQ(rill_recv(c, &got, sizeof got, &m), sizeof got);
  CHECK_EQ(got, i);
  CHECK_EQ(m.sig, i);
  CHECK_EQ(m.lost, lost);
}

/* FINDING 1: a joiner caught between its load of producer.seq (s0) and
 * its ACTIVE store, for as long as the producer refreshes and flushes.  Up
 * to 0.3 the producer counted it at its flush before each refresh, which a
 * flush made after the joiner's load moves past s0: it published s0 +
 * depth and lapped the joiner. */
static void t_joining_not_lapped(void) {
  rill_region *r = chan_new("jn", "c", 8);
  rill_producer *p;
  rill_consumer *c, *j;
  CHECK_OK(rill_producer_join(r, "c", &p));
  CHECK_OK(rill_consumer_join(r, "c", RILL_RELIABLE, &c));
  uint64_t i = send_until_again(p, 0); /* its refresh at 8 flushed 8 */
  CHECK_EQ(i, 8);
  for (uint64_t k = 0; k < 8; k++) recv_is(c, k, 0);
  CHECK_OK(rill_consumer_leave(c));
  /* A new reliable consumer loads s0 = 8, the producer's flushed seq; it
   * is stopped there, its slot left JOINING. */
  CHECK_OK(rill_consumer_join(r, "c", RILL_RELIABLE, &j));
  rill_channel_stats st;
  CHECK_OK(rill_channel_stats_get(r, "c", &st));
  uint64_t s0 = st.seq0 + 8;
  char path[512];
  tu_path(path, sizeof path, "jn");
  uint64_t len;
  uint8_t *map = tu_map_file(path, &len);
  rill_cursor *k = cursor_in(map, rill_consumer_slot(j));
  CHECK_EQ(atomic_load(&k->seq), s0);
  atomic_store(&k->state, RILL_CUR_JOINING);
  /* The producer refreshes, flushes, refreshes again ... */
  for (int round = 0; round < 3; round++) {
    i = send_until_again(p, i);
    CHECK_OK(rill_producer_flush(p));
    CHECKF(st.seq0 + i <= s0 + 8,
           "round %d: published up to %" PRIu64 ": lapped the joiner at %" PRIu64, round,
           st.seq0 + i - 1, s0);
  }
  CHECK_EQ(i, 16);
  atomic_store(&k->state, RILL_CUR_ACTIVE); /* the join ends */
  for (uint64_t n = 8; n < i; n++) recv_is(j, n, 0);
  CHECK_OK(rill_consumer_flush(j));
  i = send_until_again(p, i); /* counted at its cursor */
  CHECK_EQ(i, 24);
  tu_unmap_file(map, len);
  CHECK_OK(rill_consumer_leave(j));
  CHECK_OK(rill_producer_leave(p));
  rill_region_close(r);
  CHECK_OK(rill_region_unlink("jn", tu_dir()));
}

/* FINDING 2: a reliable consumer that left at 3 rejoins while the producer
 * holds credits computed without it, up to its flush (8) + depth - 1.  Up
 * to 0.3 it resumed at 3, and those credits lapped it: now it resumes at
 * 8 and counts 3 .. 7 as lost. */
static void t_rejoin_after_leave(void) {
  rill_region *r = chan_new("jl", "c", 8);
  rill_producer *p;
  rill_consumer *c;
  CHECK_OK(rill_producer_join(r, "c", &p));
  CHECK_OK(rill_consumer_join(r, "c", RILL_RELIABLE, &c));
  uint32_t slot = rill_consumer_slot(c);
  uint64_t i = send_until_again(p, 0);
  for (uint64_t k = 0; k < 3; k++) recv_is(c, k, 0);
  CHECK_OK(rill_consumer_leave(c)); /* cursor at 3 */
  CHECK_OK(rill_send(p, &i, sizeof i, i)); /* refreshes without it: credits to 15 */
  i++;
  CHECK_OK(rill_send(p, &i, sizeof i, i));
  i++;
  CHECK_OK(rill_consumer_rejoin(r, "c", slot, &c));
  rill_consumer_stats cs;
  CHECK_OK(rill_consumer_stats_get(r, "c", slot, &cs));
  rill_channel_stats st;
  CHECK_OK(rill_channel_stats_get(r, "c", &st));
  CHECK_EQ(cs.seq, st.seq0 + 8);
  CHECK_EQ(cs.lost, 5);
  CHECK_EQ(cs.overrun_poll, 1);
  i = send_until_again(p, i); /* the credits it held */
  CHECK_EQ(i, 16);
  recv_is(c, 8, 5);
  for (uint64_t n = 9; n < i; n++) recv_is(c, n, 0);
  CHECK_OK(rill_consumer_leave(c));
  CHECK_OK(rill_producer_leave(p));
  rill_region_close(r);
  CHECK_OK(rill_region_unlink("jl", tu_dir()));
}

/* FINDING 3: a consumer that read 3 messages and died is evicted while its
 * slot still holds message 3; the producer takes credits computed without
 * it (a reservation: nothing published yet) and a restarted consumer
 * rejoins in place.  Up to 0.3 it resumed at 3 and its first poll found 3
 * still there, while those credits let the producer write over its
 * payload: now it resumes at the producer's flush (11) and counts the gap. */
static void t_rejoin_evicted(void) {
  rill_region *r = chan_new("je", "c", 8);
  rill_producer *p;
  CHECK_OK(rill_producer_join(r, "c", &p));
  CHECK_OK(rill_producer_set_evict(p, 1)); /* at the first look */
  victim *v = victim_new("je", 3, 3);
  tu_pid pid = tu_spawn("consumer that dies", victim_main, v);
  step_wait(&v->sh, 1);
  uint64_t i;
  for (i = 0; i < 3; i++) CHECK_OK(rill_send(p, &i, sizeof i, i));
  CHECK_EQ(tu_wait_end(pid), TU_KILLED);
  uint32_t slot = atomic_load(&v->sh.slot);
  rill_consumer_stats cs;
  CHECK_OK(rill_consumer_stats_get(r, "c", slot, &cs));
  rill_channel_stats st;
  CHECK_OK(rill_channel_stats_get(r, "c", &st));
  CHECK_EQ(cs.seq, st.seq0 + 3);
  i = send_until_again(p, i); /* the dead slot's credit */
  CHECK_EQ(i, 11);
  /* A reservation finds no credit, evicts the dead slot, refreshes. */
  void *buf;
  uint64_t t0 = tu_ns();
  int rc;
  while ((rc = rill_reserve(p, sizeof i, &buf)) == -RILL_EAGAIN)
    CHECKF(tu_ns() - t0 < 5 * SEC, "the dead consumer was not evicted");
  CHECK_OK(rc);
  CHECK_OK(rill_channel_stats_get(r, "c", &st));
  CHECK_EQ(st.evictions, 1);
  rill_consumer *c;
  CHECK_OK(rill_consumer_rejoin(r, "c", slot, &c));
  CHECK_OK(rill_consumer_stats_get(r, "c", slot, &cs));
  CHECK_EQ(cs.seq, st.seq0 + 11);
  CHECK_EQ(cs.lost, 8);
  CHECK_EQ(cs.overrun_poll, 1);
  rill_view view;
  CHECK_RC(rill_poll(c, &view), -RILL_EAGAIN);
  memcpy(buf, &i, sizeof i);
  CHECK_OK(rill_commit(p, sizeof i, i, RILL_CTL_MSG));
  i++;
  i = send_until_again(p, i); /* the credits it took without the slot */
  CHECK_EQ(i, 19);
  recv_is(c, 11, 8);
  for (uint64_t n = 12; n < i; n++) recv_is(c, n, 0);
  CHECK_OK(rill_consumer_leave(c));
  CHECK_OK(rill_producer_leave(p));
  rill_region_close(r);
  CHECK_OK(rill_region_unlink("je", tu_dir()));
}

/* ---- cleaning ------------------------------------------------------------ */

static void holder_main(void *arg) {
  shared *s = arg;
  rill_region_opts o = tu_opts(1 << 20);
  rill_region *r;
  CHECK_OK(rill_region_create("live-kid", &o, &r));
  atomic_store(&s->step, 1);
  step_wait(s, 2); /* killed before that */
  rill_region_close(r);
}

static void dead_producer_main(void *arg) {
  (void)arg;
  rill_region *r = tu_region_open("ended");
  rill_producer *p;
  CHECK_OK(rill_producer_join(r, "c", &p));
  rill_region_close(r); /* the producer alone keeps it in use */
  tu_die();
}

/* Makes t_clean's unused regions, in a child: their creator is dead once
 * it exits (rill_clean() keeps a region whose creator lives). */
static void clean_maker_main(void *arg) {
  (void)arg;
  rill_region_opts o = tu_opts(1 << 20);
  rill_region *r;
  CHECK_OK(rill_region_create("dead1", &o, &r));
  rill_region_close(r);
  rill_region *ended = chan_new("ended", "c", 16);
  rill_consumer *fc;
  CHECK_OK(rill_consumer_join(ended, "c", RILL_LOSSY, &fc));
  tu_wakeup w;
  CHECK_OK(tu_consumer_wakeup(fc, &w)); /* Linux: leaves a FIFO behind */
  CHECK_OK(rill_consumer_leave(fc));
  rill_region_close(ended);
}

/* rill_clean() of the test's directory without a grace period. */
static int clean_now(int dry_run, rill_clean_fn fn, void *arg) {
  rill_clean_opts o = {.dir = tu_dir(),
                       .flags = RILL_CLEAN_ANY_AGE | (dry_run ? RILL_CLEAN_DRY_RUN : 0)};
  return rill_clean(&o, fn, arg);
}

typedef struct seen {
  char names[8][48];
  int removed[8], n;
} seen;

static void on_clean(const char *name, int removed, int err, void *arg) {
  seen *s = arg;
  CHECK_EQ(err, 0);
  CHECK(s->n < 8);
  snprintf(s->names[s->n], sizeof s->names[0], "%s", name);
  s->removed[s->n++] = removed;
}

static int seen_has(const seen *s, const char *name) {
  for (int i = 0; i < s->n; i++)
    if (!strcmp(s->names[i], name)) return 1;
  return 0;
}

static int exists(const char *name) {
  char path[512];
  tu_path(path, sizeof path, name);
  return tu_exists(path);
}

static void t_clean(void) {
  tu_wait(tu_spawn("maker", clean_maker_main, NULL));
  rill_region *mine = chan_new("live-me", "c", 16);
  CHECK(!TU_POSIX || exists(".rill-fifo@ended@c@0"));
  tu_pid dp = tu_spawn("dead producer", dead_producer_main, NULL);
  CHECK_EQ(tu_wait_end(dp), TU_KILLED);
  shared *s = sh_new();
  tu_pid kid = tu_spawn("holder", holder_main, s);
  step_wait(s, 1);
  char path[512];
  tu_path(path, sizeof path, "notes.txt");
  FILE *f = fopen(path, "w");
  CHECK(f && fputs("not a region\n", f) >= 0 && fclose(f) == 0);

  CHECK_EQ(rill_region_in_use("dead1", tu_dir()), 0);
  CHECK_EQ(rill_region_in_use("ended", tu_dir()), 0);
  CHECK_EQ(rill_region_in_use("live-me", tu_dir()), 1);
  CHECK_EQ(rill_region_in_use("live-kid", tu_dir()), 1);
  CHECK_RC(rill_region_in_use("notes.txt", tu_dir()), -RILL_EMAGIC);
  CHECK_RC(rill_region_in_use("nope", tu_dir()), -RILL_ENOENT);
  CHECK_RC(rill_region_in_use("../x", tu_dir()), -RILL_EINVAL);

  /* Younger than the default grace period: kept. */
  CHECK_EQ(rill_region_clean(tu_dir(), 0, NULL, NULL), 0);
  CHECK(exists("dead1") && exists("ended"));
  seen dry = {0};
  CHECK_EQ(clean_now(1, on_clean, &dry), 2);
  CHECK(seen_has(&dry, "dead1") && seen_has(&dry, "ended") && !dry.removed[0] && !dry.removed[1]);
  CHECK(exists("dead1") && exists("ended"));
  seen wet = {0};
  CHECK_EQ(clean_now(0, on_clean, &wet), 2);
  CHECK(wet.removed[0] && wet.removed[1]);
  CHECK(!exists("dead1") && !exists("ended") && !exists(".rill-fifo@ended@c@0"));
  CHECK(exists("live-me") && exists("live-kid") && exists("notes.txt"));
  /* A live region is still usable. */
  rill_producer *p;
  CHECK_OK(rill_producer_join(mine, "c", &p));
  CHECK_OK(rill_producer_leave(p));
  /* Its last user dies: now it goes. */
  tu_kill(kid);
  CHECK_EQ(tu_wait_end(kid), TU_KILLED);
  seen last = {0};
  CHECK_EQ(clean_now(0, on_clean, &last), 1);
  CHECK(seen_has(&last, "live-kid") && !exists("live-kid") && exists("live-me"));
  CHECK_EQ(clean_now(0, NULL, NULL), 0);
  /* Unused now: its creator (this process) lives, but endpoints joined
   * it, so its locks alone count (a creator's pid may be another PID
   * namespace's): it goes. */
  rill_region_close(mine);
  CHECK_EQ(clean_now(0, NULL, NULL), 1);
  CHECK(!exists("live-me"));
  CHECK_RC(rill_region_clean("/nonexistent-rill-dir", 1, NULL, NULL), -RILL_ENODIR);
}

static const tu_role roles[] = {
    TU_ROLE(race_producer), TU_ROLE(any_producer), TU_ROLE(credit_producer),
    TU_ROLE(end_producer),  TU_ROLE(victim_main),  TU_ROLE(holder_main),
    TU_ROLE(dead_producer_main), TU_ROLE(clean_maker_main), {0}};

int main(int argc, char **argv) {
  tu_start_roles("test_wait", 240, argc, argv, roles);
  t_timeouts();
  t_end(0);
  t_end(1);
  t_fd();
  t_evict();
  t_evict_frags();
  t_rejoin();
  t_joining_not_lapped();
  t_rejoin_after_leave();
  t_rejoin_evicted();
  t_clean();
  t_credit_race();
  t_race();
  t_wait_any();
  return tu_pass("waits, fd, liveness, eviction, rejoin, cleaning");
}
