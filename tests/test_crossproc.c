/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* Across processes: a producer process sends 10,000,000 messages (divided by
 * RILL_TEST_SCALE) of random sizes from 0 to 4 x MTU with rill_send(); a
 * reliable consumer process receives them with rill_recv() and checks every
 * byte, the sig, the sequence number and the size of each: nothing lost,
 * duplicated or reordered.  Each side is a process of its own (tu_spawn():
 * a fresh start of this program on Linux and on Windows alike), sharing
 * only the region and tu_shared() memory. */
#include "testutil.h"

#define REGION "xproc"
#define CHAN "stream"
#define MTU 256u
#define MAXSZ (4 * MTU)
#define DEPTH 1024u
#define SALT 11

typedef struct shared {
  uint64_t n;        /* messages */
  uint64_t seq0;     /* first sequence number */
  _Atomic uint64_t eagain;   /* producer: rill_send() out of credit */
  _Atomic uint64_t received; /* consumer: messages checked */
  tu_gate ready;             /* the consumer joined */
} shared;

static shared *sh;

static void producer(void *arg) {
  sh = arg;
  rill_region *r = tu_region_open(REGION);
  rill_producer *p;
  CHECK_OK(rill_producer_join(r, CHAN, &p));
  static uint8_t buf[MAXSZ];
  uint64_t eagain = 0;
  for (uint64_t i = 0; i < sh->n; i++) eagain += tu_send_sched(p, buf, SALT, MAXSZ, i);
  atomic_store(&sh->eagain, eagain);
  CHECK_OK(rill_producer_leave(p));
  rill_region_close(r);
}

static void consumer(void *arg) {
  sh = arg;
  rill_region *r = tu_region_open(REGION);
  rill_consumer *c;
  CHECK_OK(rill_consumer_join(r, CHAN, RILL_RELIABLE, &c));
  tu_gate_post(&sh->ready);
  static uint8_t buf[MAXSZ + 64];
  tu_sched s;
  tu_sched_init(&s, SALT, MAXSZ, MTU, sh->seq0);
  uint64_t descs = 0, bytes = 0;
  for (uint64_t i = 0; i < sh->n; i++) {
    tu_recv_sched(c, buf, sizeof buf, &s);
    descs += s.nfrags;
    bytes += s.sz;
    tu_sched_next(&s);
    if ((i & 0xffff) == 0) atomic_store_explicit(&sh->received, i, memory_order_relaxed);
  }
  atomic_store(&sh->received, sh->n);
  /* Nothing more: no duplicate at the end. */
  rill_meta m;
  CHECK_RC(rill_recv(c, buf, sizeof buf, &m), -RILL_EAGAIN);
  /* Its own counters, as flushed. */
  CHECK_OK(rill_consumer_flush(c));
  int found = 0;
  rill_consumer_stats cs;
  for (uint32_t k = 0; tu_consumer_next(r, CHAN, &k, &cs); k++) {
    if (cs.mode != RILL_RELIABLE) continue;
    found++;
    CHECK_EQ(cs.seq, sh->seq0 + descs);
    CHECK_EQ(cs.msgs, descs);
    CHECK_EQ(cs.bytes, bytes);
    CHECK_EQ(cs.lost, 0);
    CHECK_EQ(cs.overrun_poll, 0);
    CHECK_EQ(cs.overrun_read, 0);
  }
  CHECK_EQ(found, 1);
  CHECK_OK(rill_consumer_leave(c));
  rill_region_close(r);
}

static const tu_role roles[] = {TU_ROLE(producer), TU_ROLE(consumer), {0}};

int main(int argc, char **argv) {
  tu_start_roles("crossproc", 120, argc, argv, roles);
  sh = tu_shared(sizeof *sh);
  sh->n = tu_scaled(10000000, 1000);
  rill_channel_opts co = {.depth = DEPTH, .mtu = MTU, .max_consumers = 2, .max_msg = MAXSZ};
  rill_region *r = tu_channel_new(REGION, 16 << 20, CHAN, &co, &sh->seq0);
  rill_channel_stats st;

  /* The consumer joins before the first message is sent. */
  tu_gate_init(&sh->ready);
  double t0 = tu_now();
  tu_spawn("consumer", consumer, sh);
  tu_gate_wait(&sh->ready, 1);
  tu_spawn("producer", producer, sh);
  tu_wait_all();
  double dt = tu_now() - t0;

  /* The producer's counters, flushed when it left. */
  uint64_t descs = 0, bytes = 0;
  for (uint64_t i = 0; i < sh->n; i++) {
    uint64_t sz = tu_msg_size(SALT, i, MAXSZ);
    descs += tu_frags(sz, MTU);
    bytes += sz;
  }
  CHECK_OK(rill_channel_stats_get(r, CHAN, &st));
  CHECK_EQ(st.seq, sh->seq0 + descs);
  CHECK_EQ(st.msgs, descs);
  CHECK_EQ(st.bytes, bytes);
  CHECK_EQ(st.producer_joined, 0);
  CHECK_EQ(st.nconsumers, 0);
  CHECK_EQ(atomic_load(&sh->received), sh->n);
  uint64_t bp = st.backpressure;
  rill_region_close(r);
  return tu_pass("%" PRIu64 " messages (%" PRIu64 " fragments, %.1f MB) in %.2f s, "
                 "%.2f M msg/s; producer out of credit %" PRIu64 " times (stats %" PRIu64 ")",
                 sh->n, descs, (double)bytes / 1e6, dt, (double)sh->n / dt / 1e6,
                 (uint64_t)atomic_load(&sh->eagain), bp);
}
