/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* Broadcast: one producer, two reliable consumers and one lossy consumer,
 * each in its own process, on one channel at once.
 *   - each reliable consumer sees every message exactly once, in order, with
 *     the right sig, sequence number, size and bytes;
 *   - the lossy consumer sees an increasing subsequence of whole messages
 *     with the right bytes, and the sequence numbers between two messages it
 *     gets are exactly the lost count reported with the second.  It pauses
 *     on purpose now and then (until the producer is two rings ahead) so
 *     that it does lose messages. */
#include "testutil.h"

#define REGION "bcast"
#define CHAN "fan"
#define MTU 256u
#define MAXSZ (4 * MTU)
#define DEPTH 512u
#define SALT 21
#define PAUSES 50

typedef struct shared {
  uint64_t n, seq0, descs;
  _Atomic uint64_t published; /* descriptors published so far */
  _Atomic int producer_done;
  /* what the lossy consumer saw, for the summary */
  _Atomic uint64_t lossy_msgs, lossy_lost, lossy_gaps, lossy_pauses;
  tu_gate ready; /* each consumer joined */
} shared;

static shared *sh;

static void producer(void *arg) {
  sh = arg;
  rill_region *r = tu_region_open(REGION);
  rill_producer *p;
  CHECK_OK(rill_producer_join(r, CHAN, &p));
  static uint8_t buf[MAXSZ];
  uint64_t descs = 0;
  for (uint64_t i = 0; i < sh->n; i++) {
    tu_send_sched(p, buf, SALT, MAXSZ, i);
    descs += tu_frags(tu_msg_size(SALT, i, MAXSZ), MTU);
    atomic_store_explicit(&sh->published, descs, memory_order_release);
  }
  CHECK_OK(rill_producer_leave(p));
  atomic_store(&sh->producer_done, 1);
  rill_region_close(r);
}

static void reliable(void *arg) {
  sh = arg;
  rill_region *r = tu_region_open(REGION);
  rill_consumer *c;
  CHECK_OK(rill_consumer_join(r, CHAN, RILL_RELIABLE, &c));
  tu_gate_post(&sh->ready);
  static uint8_t buf[MAXSZ];
  tu_sched s;
  tu_sched_init(&s, SALT, MAXSZ, MTU, sh->seq0);
  for (uint64_t i = 0; i < sh->n; i++) {
    tu_recv_sched(c, buf, sizeof buf, &s);
    tu_sched_next(&s);
  }
  /* Everything was read once: nothing is left after the producer is done. */
  while (!atomic_load(&sh->producer_done)) tu_yield();
  rill_meta m;
  CHECK_RC(rill_recv(c, buf, sizeof buf, &m), -RILL_EAGAIN);
  CHECK_OK(rill_consumer_leave(c));
  rill_region_close(r);
}

static void lossy(void *arg) {
  sh = arg;
  rill_region *r = tu_region_open(REGION);
  rill_consumer *c;
  CHECK_OK(rill_consumer_join(r, CHAN, RILL_LOSSY, &c));
  tu_gate_post(&sh->ready);
  static uint8_t buf[MAXSZ];
  tu_sched s;
  tu_sched_init(&s, SALT, MAXSZ, MTU, sh->seq0);
  uint64_t end = sh->seq0; /* sequence number after the last message seen */
  uint64_t msgs = 0, lost = 0, gaps = 0, pauses = 0, last_sig = 0;
  const uint64_t pause_every = sh->n / (PAUSES + 1) + 1;
  tu_rng rng = {tu_ns()};
  for (;;) {
    rill_meta m;
    int64_t got = rill_recv(c, buf, sizeof buf, &m);
    if (got == -RILL_EAGAIN) {
      /* The producer is done and everything left was read. */
      if (atomic_load(&sh->producer_done)) {
        got = rill_recv(c, buf, sizeof buf, &m);
        if (got == -RILL_EAGAIN) break;
      } else {
        tu_yield();
        continue;
      }
    }
    CHECKF(got >= 0, "lossy recv: %s", rill_strerror((int)got));
    /* A whole message: the start of one in the schedule, after the last. */
    uint64_t k = tu_sched_seek(&s, m.seq);
    CHECKF(k == 0, "seq %" PRIu64 " is fragment %" PRIu64 " of message %" PRIu64 ", not a start",
           m.seq, k, s.i);
    CHECKF(msgs == 0 || m.sig > last_sig, "sig %" PRIu64 " after %" PRIu64, m.sig, last_sig);
    CHECKF(m.sig == s.i, "seq %" PRIu64 " should be message %" PRIu64 ", has sig %" PRIu64,
           m.seq, s.i, m.sig);
    CHECKF(m.lost == m.seq - end, "message %" PRIu64 " at seq %" PRIu64 ": lost %" PRIu64
           " but %" PRIu64 " sequence numbers were skipped", m.sig, m.seq, m.lost, m.seq - end);
    CHECK_EQ(got, s.sz);
    CHECK_EQ(m.sz, s.sz);
    CHECK_PAYLOAD(buf, (size_t)got, tu_key(SALT, s.i), 0);
    if (m.lost) gaps++;
    lost += m.lost;
    msgs++;
    last_sig = m.sig;
    end = s.seq + s.nfrags;
    /* Now and then, fall two rings behind on purpose. */
    if (msgs % pause_every == 0) {
      uint64_t target = (m.seq - sh->seq0) + 2 * DEPTH + tu_below(&rng, DEPTH);
      unsigned spins = 0;
      while (atomic_load_explicit(&sh->published, memory_order_acquire) < target &&
             !atomic_load(&sh->producer_done))
        tu_relax(&spins);
      pauses++;
    }
  }
  /* Every sequence number is accounted for: read or reported lost. */
  CHECK_EQ(end, sh->seq0 + sh->descs);
  CHECK_EQ(last_sig, sh->n - 1);
  atomic_store(&sh->lossy_msgs, msgs);
  atomic_store(&sh->lossy_lost, lost);
  atomic_store(&sh->lossy_gaps, gaps);
  atomic_store(&sh->lossy_pauses, pauses);
  CHECK_OK(rill_consumer_flush(c));
  rill_consumer_stats cs;
  for (uint32_t i = 0; tu_consumer_next(r, CHAN, &i, &cs); i++) {
    if (cs.mode != RILL_LOSSY) continue;
    /* Overruns are part of what rill_recv() reported lost. */
    CHECKF(cs.lost <= lost, "stats lost %" PRIu64 " > reported %" PRIu64, cs.lost, lost);
    CHECK(cs.overrun_poll > 0);
  }
  CHECK_OK(rill_consumer_leave(c));
  rill_region_close(r);
}

static const tu_role roles[] = {TU_ROLE(producer), TU_ROLE(reliable), TU_ROLE(lossy), {0}};

int main(int argc, char **argv) {
  tu_start_roles("broadcast", 120, argc, argv, roles);
  sh = tu_shared(sizeof *sh);
  sh->n = tu_scaled(1000000, 20000);
  for (uint64_t i = 0; i < sh->n; i++) sh->descs += tu_frags(tu_msg_size(SALT, i, MAXSZ), MTU);
  rill_channel_opts co = {.depth = DEPTH, .mtu = MTU, .max_consumers = 4, .max_msg = MAXSZ};
  rill_region *r = tu_channel_new(REGION, 16 << 20, CHAN, &co, &sh->seq0);
  rill_channel_stats st;

  tu_gate_init(&sh->ready);
  double t0 = tu_now();
  tu_spawn("reliable consumer 1", reliable, sh);
  tu_spawn("reliable consumer 2", reliable, sh);
  tu_spawn("lossy consumer", lossy, sh);
  tu_gate_wait(&sh->ready, 3);
  CHECK_OK(rill_channel_stats_get(r, CHAN, &st));
  CHECK_EQ(st.nconsumers, 3);
  tu_spawn("producer", producer, sh);
  tu_wait_all();
  double dt = tu_now() - t0;
  CHECK_OK(rill_channel_stats_get(r, CHAN, &st));
  CHECK_EQ(st.msgs, sh->descs);
  CHECK_EQ(st.nconsumers, 0);
  rill_region_close(r);
  CHECK(atomic_load(&sh->lossy_gaps) > 0);
  return tu_pass("%" PRIu64 " messages to 2 reliable + 1 lossy consumer in %.2f s; the lossy "
                 "one got %" PRIu64 ", lost %" PRIu64 " sequence numbers in %" PRIu64
                 " gaps (%" PRIu64 " pauses)",
                 sh->n, dt, (uint64_t)atomic_load(&sh->lossy_msgs),
                 (uint64_t)atomic_load(&sh->lossy_lost), (uint64_t)atomic_load(&sh->lossy_gaps),
                 (uint64_t)atomic_load(&sh->lossy_pauses));
}
