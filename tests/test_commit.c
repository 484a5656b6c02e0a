/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* Commits by hand (rill_consumer_set_commit(), rill_consumer_commit()):
 * the cursor a reliable consumer writes stops at what it committed, so
 * the producer never reuses what it read but did not commit, and a
 * consumer that dies and rejoins resumes at its last commit, whatever it
 * flushed meanwhile (a bridge that forwards what it reads, issue 24). */
#include "testutil.h"

#define DEPTH 64u

/* Sends message I (sig I, 16 bytes of key I). */
static int send_one(rill_producer *p, uint64_t i) {
  uint8_t b[16];
  tu_fill(b, sizeof b, i, 0);
  return rill_send(p, b, sizeof b, i);
}

static uint64_t recv_one(rill_consumer *c) {
  uint8_t b[64];
  rill_meta m;
  int64_t n = rill_recv_wait(c, b, sizeof b, &m, 5000000000ull);
  CHECKF(n == 16, "recv: %s", n < 0 ? rill_strerror((int)n) : "short");
  CHECK_PAYLOAD(b, 16, m.sig, 0);
  return m.sig;
}

/* The rules of the calls, in one process. */
static void t_calls(void) {
  rill_channel_opts co = {.depth = DEPTH, .mtu = 64};
  uint64_t s0;
  rill_region *r = tu_channel_new("calls", 1 << 20, "c", &co, &s0);
  rill_producer *p;
  rill_consumer *c;
  CHECK_OK(rill_producer_join(r, "c", &p));
  CHECK_OK(rill_consumer_join(r, "c", RILL_RELIABLE, &c));
  CHECK_RC(rill_consumer_commit(c, s0), -RILL_EINVAL); /* not by hand */
  CHECK_RC(rill_consumer_set_commit(c, 2), -RILL_EINVAL);
  CHECK_RC(rill_consumer_set_commit(NULL, 1), -RILL_EINVAL);
  CHECK_OK(rill_consumer_set_commit(c, 1));
  CHECK(rill_consumer_seq(c) == s0);
  for (uint64_t i = 0; i < 10; i++) CHECK_OK(send_one(p, i));
  for (uint64_t i = 0; i < 5; i++) CHECK(recv_one(c) == i);
  CHECK(rill_consumer_seq(c) == s0 + 5);
  CHECK_RC(rill_consumer_commit(c, s0 + 6), -RILL_EINVAL); /* past what was read */
  CHECK_OK(rill_consumer_commit(c, s0 + 3));
  CHECK_RC(rill_consumer_commit(c, s0 + 2), -RILL_EINVAL); /* back */
  rill_consumer_stats cs;
  CHECK_OK(rill_consumer_flush(c)); /* a flush writes no further than the commit */
  CHECK_OK(rill_consumer_stats_get(r, "c", rill_consumer_slot(c), &cs));
  CHECK(cs.seq == s0 + 3);
  /* The producer gets credit up to the commit plus depth, no further. */
  uint64_t sent = 10;
  while (send_one(p, sent) == 0) sent++;
  CHECKF(sent == 3 + DEPTH, "sent %llu, credit to %u", (unsigned long long)sent, 3 + DEPTH);
  CHECK_OK(rill_consumer_commit(c, s0 + 5));
  CHECK_OK(send_one(p, sent));
  CHECK_OK(send_one(p, sent + 1));
  CHECK_RC(send_one(p, sent + 2), -RILL_EAGAIN);
  /* Back to committing at every flush: the next flush writes where it read. */
  CHECK_OK(rill_consumer_set_commit(c, 0));
  CHECK(recv_one(c) == 5);
  CHECK_OK(rill_consumer_flush(c));
  CHECK_OK(rill_consumer_stats_get(r, "c", rill_consumer_slot(c), &cs));
  CHECK(cs.seq == s0 + 6);
  rill_consumer_leave(c);
  rill_producer_leave(p);
  rill_region_close(r);
}

#if TU_POSIX
typedef struct {
  _Atomic uint32_t slot;
} shared_t;

/* Reads 200 messages, commits at 100, flushes at 200 (as the automatic
 * flushes of a long run would), and dies without leaving. */
static void reader_dies(void *arg) {
  shared_t *sh = arg;
  rill_region *r = tu_region_open("death");
  rill_consumer *c;
  CHECK_OK(rill_consumer_join(r, "c", RILL_RELIABLE, &c));
  atomic_store(&sh->slot, rill_consumer_slot(c) + 1);
  CHECK_OK(rill_consumer_set_commit(c, 1));
  uint64_t at = 0;
  for (uint64_t i = 0; i < 200; i++) {
    CHECK(recv_one(c) == i);
    if (i == 99) at = rill_consumer_seq(c);
  }
  CHECK_OK(rill_consumer_commit(c, at));
  CHECK_OK(rill_consumer_flush(c));
  _exit(0); /* dies: no leave, its lock drops */
}

/* A consumer that dies after reading past its commit resumes at the
 * commit when it rejoins: the messages it read but had not committed come
 * again, and the producer kept them. */
static void t_death(void) {
  rill_channel_opts co = {.depth = 1024, .mtu = 64};
  uint64_t s0;
  rill_region *r = tu_channel_new("death", 1 << 20, "c", &co, &s0);
  rill_producer *p;
  CHECK_OK(rill_producer_join(r, "c", &p));
  shared_t *sh = tu_shared(sizeof *sh);
  pid_t kid = tu_fork("reader", reader_dies, sh);
  while (!atomic_load(&sh->slot)) tu_yield();
  for (uint64_t i = 0; i < 300; i++) CHECK_OK(send_one(p, i));
  CHECK_OK(rill_producer_flush(p));
  tu_kid_status(kid, tu_wait_status(kid));
  rill_consumer *c;
  CHECK_OK(rill_consumer_rejoin(r, "c", atomic_load(&sh->slot) - 1, &c));
  for (uint64_t i = 100; i < 300; i++) CHECK(recv_one(c) == i);
  rill_consumer_leave(c);
  rill_producer_leave(p);
  rill_region_close(r);
}
#endif

int main(void) {
  tu_start("commit", 60);
  t_calls();
#if TU_POSIX
  t_death();
#else
  tu_skip_part("death", "fork: Linux only");
#endif
  return tu_pass("commit by hand: its rules, credit up to the commit, a rejoin after a death");
}
