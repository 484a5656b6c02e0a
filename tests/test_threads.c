/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* Producer and reliable consumers as threads of one process (what
 * ThreadSanitizer checks for ordering bugs).
 *   1. rill_send() / rill_recv(): a few hundred thousand messages of 0 to
 *      4 x MTU bytes (fragments), read by two reliable consumer threads;
 *      every byte, sig, sequence number and size checked.
 *   2. Zero copy: rill_reserve() / rill_commit_ts() by the producer, payload
 *      read in place after rill_poll() (and rill_poll_spin()) by two
 *      reliable consumers; sig, ctl, tsorig, size and bytes checked, and
 *      rill_check() must accept every reliable view. */
#include "testutil.h"

#include <pthread.h>

#define REGION "thr"

typedef struct job {
  rill_region *r;
  const char *chan;
  uint64_t n, salt, seq0, maxsz;
  uint32_t mtu;
  int spin;              /* phase 2: use rill_poll_spin() */
  rill_consumer *c;
  uint64_t eagain;
} job;

/* ---- phase 1 ----------------------------------------------------------------- */

static void *send_thread(void *arg) {
  job *j = arg;
  rill_producer *p;
  CHECK_OK(rill_producer_join(j->r, j->chan, &p));
  uint8_t *buf = malloc(j->maxsz + 1);
  CHECK(buf != NULL);
  for (uint64_t i = 0; i < j->n; i++) {
    size_t n = (size_t)tu_msg_size(j->salt, i, j->maxsz);
    tu_fill(buf, n, tu_key(j->salt, i), 0);
    unsigned spins = 0;
    int rc;
    while ((rc = rill_send(p, buf, n, i)) == -RILL_EAGAIN) {
      j->eagain++;
      tu_relax(&spins);
    }
    CHECKF(rc == 0, "send %" PRIu64 ": %s", i, rill_strerror(rc));
  }
  free(buf);
  CHECK_OK(rill_producer_leave(p));
  return NULL;
}

static void *recv_thread(void *arg) {
  job *j = arg;
  uint8_t *buf = malloc(j->maxsz + 1);
  CHECK(buf != NULL);
  tu_sched s;
  tu_sched_init(&s, j->salt, j->maxsz, j->mtu, j->seq0);
  for (uint64_t i = 0; i < j->n; i++) {
    rill_meta m;
    int64_t got;
    unsigned spins = 0;
    while ((got = rill_recv(j->c, buf, j->maxsz + 1, &m)) == -RILL_EAGAIN) tu_relax(&spins);
    CHECKF(got >= 0, "recv %" PRIu64 ": %s", i, rill_strerror((int)got));
    CHECKF(m.sig == i, "message %" PRIu64 ": sig %" PRIu64, i, m.sig);
    CHECK_EQ(m.seq, s.seq);
    CHECK_EQ(m.lost, 0);
    CHECK_EQ(got, s.sz);
    CHECK_EQ(m.ctl, s.nfrags == 1 ? RILL_CTL_MSG : RILL_CTL_EOM);
    CHECK_PAYLOAD(buf, (size_t)got, tu_key(j->salt, i), 0);
    tu_sched_next(&s);
  }
  rill_meta m;
  CHECK_RC(rill_recv(j->c, buf, j->maxsz, &m), -RILL_EAGAIN);
  free(buf);
  return NULL;
}

/* ---- phase 2 ----------------------------------------------------------------- */

static uint16_t zc_ctl(uint64_t i) {
  return (uint16_t)(RILL_CTL_MSG | RILL_CTL_USER(i & 0x1fff));
}

static void *reserve_thread(void *arg) {
  job *j = arg;
  rill_producer *p;
  CHECK_OK(rill_producer_join(j->r, j->chan, &p));
  for (uint64_t i = 0; i < j->n; i++) {
    size_t n = (size_t)tu_msg_size(j->salt, i, j->maxsz);
    void *b;
    unsigned spins = 0;
    int rc;
    while ((rc = rill_reserve(p, n, &b)) == -RILL_EAGAIN) {
      j->eagain++;
      tu_relax(&spins);
    }
    CHECKF(rc == 0, "reserve %" PRIu64 ": %s", i, rill_strerror(rc));
    tu_fill(b, n, tu_key(j->salt, i), 0);
    CHECK_OK(rill_commit_ts(p, n, i, zc_ctl(i), (uint32_t)(i * 7)));
  }
  CHECK_OK(rill_producer_leave(p));
  return NULL;
}

static void *poll_thread(void *arg) {
  job *j = arg;
  for (uint64_t i = 0; i < j->n; i++) {
    rill_view v;
    int rc;
    if (j->spin) {
      while ((rc = rill_poll_spin(j->c, &v, 1000000)) == -RILL_ETIMEDOUT) {}
    } else {
      unsigned spins = 0;
      while ((rc = rill_poll(j->c, &v)) == -RILL_EAGAIN) tu_relax(&spins);
    }
    CHECKF(rc == 0, "poll %" PRIu64 ": %d (%s)", i, rc, rill_strerror(rc));
    CHECK_EQ(v.seq, j->seq0 + i);
    CHECK_EQ(v.sig, i);
    CHECK_EQ(v.sz, tu_msg_size(j->salt, i, j->maxsz));
    CHECK_EQ(v.ctl, zc_ctl(i));
    CHECK_EQ(v.tsorig, (uint32_t)(i * 7));
    CHECK_PAYLOAD(v.data, v.sz, tu_key(j->salt, i), 0);
    /* A reliable consumer's payload is never overwritten under it. */
    CHECK_OK(rill_check(j->c, &v));
  }
  return NULL;
}

/* Runs one producer thread and two consumer threads on channel CHAN. */
static double run(rill_region *r, const char *chan, uint32_t depth, uint32_t mtu, uint64_t maxsz,
                  uint64_t n, uint64_t salt, void *(*prod)(void *), void *(*cons)(void *),
                  uint64_t *eagain) {
  rill_channel_opts co = {.depth = depth, .mtu = mtu, .max_consumers = 4, .max_msg = maxsz};
  if (maxsz < mtu) co.max_msg = mtu;
  CHECK_OK(rill_channel_create(r, chan, &co));
  rill_channel_stats st;
  CHECK_OK(rill_channel_stats_get(r, chan, &st));
  job pj = {.r = r, .chan = chan, .n = n, .salt = salt, .seq0 = st.seq, .maxsz = maxsz, .mtu = mtu};
  job cj[2];
  for (int k = 0; k < 2; k++) {
    cj[k] = pj;
    cj[k].spin = k;
    CHECK_OK(rill_consumer_join(r, chan, RILL_RELIABLE, &cj[k].c));
  }
  double t0 = tu_now();
  pthread_t tp, tc[2];
  for (int k = 0; k < 2; k++) CHECK(pthread_create(&tc[k], NULL, cons, &cj[k]) == 0);
  CHECK(pthread_create(&tp, NULL, prod, &pj) == 0);
  CHECK(pthread_join(tp, NULL) == 0);
  for (int k = 0; k < 2; k++) CHECK(pthread_join(tc[k], NULL) == 0);
  double dt = tu_now() - t0;
  for (int k = 0; k < 2; k++) CHECK_OK(rill_consumer_leave(cj[k].c));
  CHECK_OK(rill_channel_stats_get(r, chan, &st));
  CHECK_EQ(st.producer_joined, 0);
  CHECK_EQ(st.nconsumers, 0);
  *eagain = pj.eagain;
  return dt;
}

int main(void) {
  tu_start("threads", 120);
  rill_region_opts o = tu_opts(16 << 20);
  rill_region *r;
  CHECK_OK(rill_region_create(REGION, &o, &r));
  uint64_t n1 = tu_scaled(300000, 10000), n2 = tu_scaled(300000, 10000), e1, e2;
  double d1 = run(r, "frag", 256, 256, 4 * 256, n1, 41, send_thread, recv_thread, &e1);
  double d2 = run(r, "zc", 128, 512, 512, n2, 42, reserve_thread, poll_thread, &e2);
  rill_region_close(r);
  return tu_pass("send/recv %" PRIu64 " msgs with fragments to 2 consumers in %.2f s (EAGAIN %"
                 PRIu64 "); reserve/commit/poll %" PRIu64 " msgs in %.2f s (EAGAIN %" PRIu64 ")",
                 n1, d1, e1, n2, d2, e2);
}
