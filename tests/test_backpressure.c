/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* Backpressure: a slow reliable consumer (it does work for every message)
 * makes the producer run out of credit.  The producer gets -RILL_EAGAIN
 * from rill_send() and rill_reserve() and waits; it never gets more than a
 * ring ahead of what the consumer has read, and nothing is lost: every
 * message arrives, in order, every byte checked.  The stats count the
 * backpressure. */
#include "testutil.h"

#define REGION "bp"
#define CHAN "slow"
#define DEPTH 64u
#define MTU 256u
#define MAXSZ (2 * MTU)
#define SALT 31

typedef struct shared {
  uint64_t n, seq0;
  _Atomic uint64_t consumed; /* descriptors the consumer is done with */
  _Atomic uint64_t work;     /* keeps the consumer's busy work alive */
  tu_gate ready;             /* the consumer joined */
} shared;

static shared *sh;

static void consumer(void *arg) {
  sh = arg;
  rill_region_opts o = tu_opts(0);
  rill_region *r;
  CHECK_OK(rill_region_open(REGION, &o, &r));
  rill_consumer *c;
  CHECK_OK(rill_consumer_join(r, CHAN, RILL_RELIABLE, &c));
  tu_gate_post(&sh->ready);
  static uint8_t buf[MAXSZ];
  tu_sched s;
  tu_sched_init(&s, SALT, MAXSZ, MTU, sh->seq0);
  uint64_t acc = 0;
  for (uint64_t i = 0; i < sh->n; i++) {
    rill_meta m;
    int64_t got;
    unsigned spins = 0;
    while ((got = rill_recv(c, buf, sizeof buf, &m)) == -RILL_EAGAIN) tu_relax(&spins);
    CHECKF(got >= 0, "recv of message %" PRIu64 ": %s", i, rill_strerror((int)got));
    CHECKF(m.sig == i, "message %" PRIu64 ": got sig %" PRIu64, i, m.sig);
    CHECK_EQ(m.seq, s.seq);
    CHECK_EQ(m.lost, 0);
    CHECK_EQ(got, s.sz);
    CHECK_PAYLOAD(buf, (size_t)got, tu_key(SALT, i), 0);
    /* The slow part: some work per message. */
    for (int k = 0; k < 1500; k++) acc = tu_mix(acc + (uint64_t)k);
    tu_sched_next(&s);
    atomic_store_explicit(&sh->consumed, s.seq - sh->seq0, memory_order_release);
  }
  atomic_store(&sh->work, acc);
  CHECK_OK(rill_consumer_leave(c));
  rill_region_close(r);
}

/* Waits out an EAGAIN; fails if the consumer died meanwhile. */
static void wait_credit(unsigned *spins) {
  tu_relax(spins);
  if ((*spins & 4095) == 0) tu_kids_poll();
}

static const tu_role roles[] = {TU_ROLE(consumer), {0}};

int main(int argc, char **argv) {
  tu_start_roles("backpressure", 120, argc, argv, roles);
  sh = tu_shared(sizeof *sh);
  sh->n = tu_scaled(100000, 5000);
  rill_channel_opts co = {.depth = DEPTH, .mtu = MTU, .max_consumers = 2, .max_msg = MAXSZ};
  rill_region *r = tu_channel_new(REGION, 4 << 20, CHAN, &co, &sh->seq0);
  rill_channel_stats st;

  tu_gate_init(&sh->ready);
  double t0 = tu_now();
  tu_spawn("slow consumer", consumer, sh);
  tu_gate_wait(&sh->ready, 1);

  rill_producer *p;
  CHECK_OK(rill_producer_join(r, CHAN, &p));
  static uint8_t buf[MAXSZ];
  uint64_t eagain_send = 0, eagain_reserve = 0, published = 0, max_ahead = 0;
  tu_sched s;
  tu_sched_init(&s, SALT, MAXSZ, MTU, sh->seq0);
  for (uint64_t i = 0; i < sh->n; i++, tu_sched_next(&s)) {
    uint64_t key = tu_key(SALT, i);
    if (i & 1) {
      tu_fill(buf, s.sz, key, 0);
      unsigned spins = 0;
      int rc;
      while ((rc = rill_send(p, buf, s.sz, i)) == -RILL_EAGAIN) {
        eagain_send++;
        wait_credit(&spins);
      }
      CHECKF(rc == 0, "send: %s", rill_strerror(rc));
      published += s.nfrags;
    } else {
      /* Fragments by hand, each reserved, written in place, committed. */
      for (uint64_t k = 0; k < s.nfrags; k++) {
        size_t fsz = (size_t)tu_sched_frag_sz(&s, k);
        void *b;
        unsigned spins = 0;
        int rc;
        while ((rc = rill_reserve(p, fsz, &b)) == -RILL_EAGAIN) {
          eagain_reserve++;
          wait_credit(&spins);
        }
        CHECKF(rc == 0, "reserve: %s", rill_strerror(rc));
        tu_fill(b, fsz, key, k * MTU);
        CHECK_OK(rill_commit(p, fsz, i, tu_sched_frag_ctl(&s, k)));
        published++;
      }
    }
    /* Never more than a ring ahead of what the consumer has read (+ the
     * fragments of the message it is in the middle of). */
    uint64_t done = atomic_load_explicit(&sh->consumed, memory_order_acquire);
    uint64_t ahead = published - done;
    if (ahead > max_ahead) max_ahead = ahead;
    CHECKF(ahead <= DEPTH + MAXSZ / MTU, "producer %" PRIu64 " descriptors ahead of a reliable "
           "consumer (depth %u)", ahead, DEPTH);
  }
  CHECK_OK(rill_producer_flush(p));
  CHECK_OK(rill_channel_stats_get(r, CHAN, &st));
  tu_wait_all();
  double dt = tu_now() - t0;
  CHECK_OK(rill_producer_leave(p));

  uint64_t eagain = eagain_send + eagain_reserve;
  CHECKF(eagain_send > 0 && eagain_reserve > 0, "the producer never waited (send %" PRIu64
         ", reserve %" PRIu64 ")", eagain_send, eagain_reserve);
  CHECK_EQ(st.seq, sh->seq0 + published);
  CHECK_EQ(st.msgs, published);
  CHECKF(st.backpressure > 0 && st.backpressure <= eagain,
         "stats backpressure %" PRIu64 ", the producer saw EAGAIN %" PRIu64 " times",
         st.backpressure, eagain);
  CHECK_EQ(atomic_load(&sh->consumed), published);
  rill_region_close(r);
  return tu_pass("%" PRIu64 " messages through a slow consumer in %.2f s: EAGAIN %" PRIu64
                 " (send) + %" PRIu64 " (reserve), at most %" PRIu64 " descriptors ahead",
                 sh->n, dt, eagain_send, eagain_reserve, max_ahead);
}
