/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* Crash recovery under load: 100 rounds (divided by RILL_TEST_SCALE, at
 * least 20), each killing (SIGKILL; TerminateProcess on Windows) the
 * producer, the consumer or both at a random moment while messages of
 * random sizes (fragments included) flow, then restarting what was killed.
 *
 * Every message is derived from the sequence number of its first fragment
 * (size, sig and payload bytes), so a restarted producer needs no state:
 * it asks rill_producer_seq() where it resumes.  The reliable consumer
 * records in memory shared with this test the next sequence number it
 * expects, and after a restart rejoins its slot.  It checks:
 * - no gap: a message starts exactly where the last verified one ended,
 *   except after a producer crash in the middle of a multi-fragment message
 *   (the documented loss: a message is committed with its last fragment),
 *   where the skipped fragments must be reported as lost and be fewer than
 *   that message's fragments;
 * - no duplicate beyond the documented redelivery: after its own crash the
 *   consumer resumes at its last flush, so messages it had verified may
 *   come again, each whole and byte-identical, never overlapping a new one;
 * - no corruption: every size, sig and byte.
 * After every round the channel must carry messages again within 10 s; no
 * process may hang (the watchdog, and bounded waits everywhere).
 */
#include "testutil.h"

#define MS 1000000ull
#define SEC 1000000000ull
#define ROUNDS 100
#define MTU 256u
#define MAXSZ (4u * MTU)

typedef struct fshared {
  _Atomic uint64_t next;  /* consumer: the sequence number it expects   */
  _Atomic uint64_t msgs;  /* consumer: new messages verified            */
  _Atomic uint64_t dups;  /* consumer: redelivered messages (verified)  */
  _Atomic uint64_t cut;   /* consumer: messages cut by a producer crash  */
  _Atomic uint32_t slot, joined;
  _Atomic int stop;
  uint64_t salt;
} fshared;

static fshared *sh;
static rill_region *reg;

/* What the channel looks like, for a failure message. */
static void dump(void) {
  rill_channel_stats st;
  if (rill_channel_stats_get(reg, "c", &st)) return;
  fprintf(stderr, "producer: liveness %u seq %" PRIu64 " backpressure %" PRIu64 "\n",
          st.producer_liveness, st.seq, st.backpressure);
  for (uint32_t i = 0; i < st.max_consumers; i++) {
    rill_consumer_stats k;
    if (rill_consumer_stats_get(reg, "c", i, &k) || !k.mode) continue;
    fprintf(stderr, "consumer %u: liveness %u seq %" PRIu64 " parked %u evicted %u lost %" PRIu64 "\n",
            i, k.liveness, k.seq, k.parked, k.evicted, k.lost);
  }
  fprintf(stderr, "expected next %" PRIu64 "\n", atomic_load(&sh->next));
  tu_kids_poll(); /* a child that failed says how */
}

static uint64_t size_of(uint64_t seq) { return tu_mix(sh->salt ^ (seq * 0x9e37u)) % (MAXSZ + 1); }

static void producer_main(void *arg) {
  sh = arg;
  rill_region *r = tu_region_open("fault");
  rill_producer *p;
  CHECK_OK(rill_producer_join(r, "c", &p));
  /* The consumer is always restarted: never evict it. */
  CHECK_OK(rill_producer_set_evict(p, RILL_FOREVER));
  static uint8_t buf[MAXSZ];
  while (!atomic_load(&sh->stop)) {
    uint64_t s = rill_producer_seq(p);
    size_t n = (size_t)size_of(s);
    tu_fill(buf, n, tu_key(sh->salt, s), 0);
    int rc = rill_send_wait(p, buf, n, s, 100 * MS);
    if (rc == -RILL_ETIMEDOUT) continue; /* the consumer is being restarted */
    CHECKF(rc == 0, "send at %" PRIu64 ": %s", s, rill_strerror(rc));
  }
  CHECK_OK(rill_producer_leave(p));
  rill_region_close(r);
}

static void consumer_main(void *arg) {
  sh = arg;
  rill_region *r = tu_region_open("fault");
  rill_consumer *c;
  if (!atomic_load(&sh->joined)) {
    CHECK_OK(rill_consumer_join(r, "c", RILL_RELIABLE, &c));
    atomic_store(&sh->slot, rill_consumer_slot(c));
    atomic_store(&sh->joined, 1);
  } else {
    CHECK_OK(rill_consumer_rejoin(r, "c", atomic_load(&sh->slot), &c));
  }
  static uint8_t buf[MAXSZ];
  for (uint64_t k = 1;; k++) {
    rill_meta m;
    int64_t n = rill_recv_wait(c, buf, sizeof buf, &m, 100 * MS);
    if (n == -RILL_ETIMEDOUT || n == -RILL_EDEAD) continue; /* producer restarting */
    if (n == -RILL_ECLOSED && atomic_load(&sh->stop)) break;
    CHECKF(n >= 0, "recv: %s", rill_strerror((int)n));
    uint64_t next = atomic_load(&sh->next);
    uint64_t end = m.seq + tu_frags(m.sz, MTU);
    CHECK_EQ(m.sig, m.seq);
    CHECK_EQ(m.sz, size_of(m.seq));
    CHECK_EQ((uint64_t)n, m.sz);
    CHECK_PAYLOAD(buf, (size_t)n, tu_key(sh->salt, m.seq), 0);
    if ((int64_t)(end - next) <= 0) { /* verified before our last crash */
      atomic_fetch_add(&sh->dups, 1);
      continue;
    }
    CHECKF((int64_t)(m.seq - next) >= 0, "message at %" PRIu64 " overlaps the one at %" PRIu64,
           m.seq, next);
    if (m.seq != next) { /* a message the producer died in the middle of */
      uint64_t skipped = m.seq - next;
      CHECKF(skipped < tu_frags(size_of(next), MTU),
             "gap: expected %" PRIu64 ", got %" PRIu64, next, m.seq);
      CHECK_EQ(m.lost, skipped);
      atomic_fetch_add(&sh->cut, 1);
    } else {
      CHECK_EQ(m.lost, 0);
    }
    atomic_store(&sh->next, end);
    atomic_fetch_add(&sh->msgs, 1);
    if (k % 16 == 0) CHECK_OK(rill_consumer_flush(c)); /* commit */
  }
  CHECK_OK(rill_consumer_leave(c));
  rill_region_close(r);
}

/* Waits until the consumer verified AT_LEAST more messages than FROM. */
static void progress(uint64_t from, uint64_t at_least, int round) {
  uint64_t deadline = tu_ns() + 10 * SEC;
  unsigned spins = 0;
  while (atomic_load(&sh->msgs) - from < at_least) {
    if (tu_ns() >= deadline) dump();
    CHECKF(tu_ns() < deadline, "round %d: no progress in 10 s (%" PRIu64 " messages)",
           round, atomic_load(&sh->msgs) - from);
    tu_relax(&spins);
  }
}

static const tu_role roles[] = {TU_ROLE(producer_main), TU_ROLE(consumer_main), {0}};

int main(int argc, char **argv) {
  tu_start_roles("test_fault", 300, argc, argv, roles);
  const int rounds = (int)tu_scaled(ROUNDS, 20);
  sh = tu_shared(sizeof *sh);
  sh->salt = tu_ns();
  rill_channel_opts co = {.depth = 1024, .mtu = MTU, .max_consumers = 2};
  uint64_t seq0;
  rill_region *r = tu_channel_new("fault", 16 << 20, "c", &co, &seq0);
  reg = r;
  atomic_store(&sh->next, seq0);

  tu_pid cons = tu_spawn("consumer", consumer_main, sh);
  uint64_t deadline = tu_ns() + 10 * SEC;
  unsigned spins = 0;
  while (!atomic_load(&sh->joined)) { /* it must see the first message */
    CHECK(tu_ns() < deadline);
    tu_relax(&spins);
  }
  tu_pid prod = tu_spawn("producer", producer_main, sh);
  tu_rng rng = {sh->salt};
  int pkills = 0, ckills = 0;
  for (int round = 0; round < rounds; round++) {
    progress(atomic_load(&sh->msgs), 100, round);
    /* A random moment under load. */
    uint64_t until = tu_ns() + tu_below(&rng, 5 * MS);
    while (tu_ns() < until) {}
    uint64_t what = tu_below(&rng, 10); /* 0-4 producer, 5-8 consumer, 9 both */
    if (what <= 4 || what == 9) {
      tu_kill(prod);
      CHECK_EQ(tu_wait_end(prod), TU_KILLED);
      pkills++;
    }
    if (what >= 5) {
      tu_kill(cons);
      CHECK_EQ(tu_wait_end(cons), TU_KILLED);
      ckills++;
    }
    if (what >= 5) cons = tu_spawn("consumer", consumer_main, sh);
    if (what <= 4 || what == 9) prod = tu_spawn("producer", producer_main, sh);
  }
  progress(atomic_load(&sh->msgs), 100, rounds);
  atomic_store(&sh->stop, 1);
  tu_wait(prod);
  tu_wait(cons);
  rill_channel_stats st;
  CHECK_OK(rill_channel_stats_get(r, "c", &st));
  CHECK_EQ(st.evictions, 0);
  CHECK(atomic_load(&sh->cut) <= (uint64_t)pkills);
  CHECK_EQ(atomic_load(&sh->next), st.seq); /* read up to the very end */
  rill_region_close(r);
  return tu_pass("%d rounds (%d producer kills, %d consumer kills): %" PRIu64
                 " messages verified, %" PRIu64 " redelivered after consumer crashes, %" PRIu64
                 " cut by producer crashes",
                 rounds, pkills, ckills, atomic_load(&sh->msgs), atomic_load(&sh->dups),
                 atomic_load(&sh->cut));
}
