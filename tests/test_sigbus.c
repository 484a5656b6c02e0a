/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* What a peer that shrinks a region file does to the endpoints, and the
 * guard against it (rill_sigbus_guard()).
 *
 * A producer and two consumers, each in its own process: a reliable
 * consumer that reads N messages of channel "c" and checks every byte,
 * and one that waits on channel "idle", where nothing is ever published
 * (it waits for sequence number 0).  Then this process, a third party
 * with write access, truncates the file and lets the producer publish
 * more.  Three runs:
 *   - the file cut to its first page (every channel page gone), no guard:
 *     the producer and both consumers die of SIGBUS, the hazard that
 *     rill.h and docs/waiting.md describe;
 *   - the same with the guard: all three live; the producer's flush and
 *     the consumers' waits return -RILL_ETRUNC; the reliable consumer
 *     accepted exactly its N messages with their bytes, and the idle one
 *     nothing (slot 0's page reads 0xff after the cut: with zeros it read
 *     as a message of sequence number 0, seen when the guard filled
 *     zeros);
 *   - the file cut in the middle of c's data ring, where the producer's
 *     next payload goes, with the guard: the producer's mapping is
 *     detached from the file at its first fault, so the descriptors it
 *     publishes after reach nobody, and the consumer, whose pages are all
 *     still there, accepts no message after the cut.
 * Before the guard existed, the guarded runs died of SIGBUS like the first
 * (seen, with rill_sigbus_guard() made a no-op). */
#include "testutil.h"

#define N 40
#define SZ 200

typedef struct run {
  int guard;
  int whole;  /* 1: every channel page is cut; 0: channel c keeps its meta ring */
  tu_gate joined, sent, got, go, done;
} run;

static rill_region *open_rw(void) {
  rill_region_opts o = tu_opts(0);
  rill_region *r;
  CHECK_OK(rill_region_open("victim", &o, &r));
  return r;
}

static void consumer(void *arg) {
  run *a = arg;
  if (a->guard) CHECK_OK(rill_sigbus_guard());
  rill_region *r = open_rw();
  rill_consumer *c;
  CHECK_OK(rill_consumer_join(r, "c", RILL_RELIABLE, &c));
  tu_gate_post(&a->joined);
  uint8_t buf[SZ];
  rill_meta m;
  for (uint64_t got = 0; got < N; got++) {
    int64_t n = rill_recv_wait(c, buf, sizeof buf, &m, 10000000000ull);
    CHECKF(n == SZ, "recv: %" PRId64 " (%s)", n, n < 0 ? rill_strerror((int)n) : "size");
    CHECKF(m.sig == got, "message %" PRIu64 " where %" PRIu64 " was due", m.sig, got);
    CHECK_PAYLOAD(buf, SZ, tu_key(7, got), 0);
  }
  tu_gate_post(&a->got);
  /* The file is cut, and the producer has published more since. */
  tu_gate_wait(&a->done, 1);
  int64_t n = rill_recv_wait(c, buf, sizeof buf, &m, 200000000ull);
  CHECKF(n < 0, "a message after the cut: seq %" PRIu64 ", %" PRId64 " bytes, first 0x%02x",
         m.seq, n, buf[0]);
  CHECK(a->guard); /* without it, we died of SIGBUS */
  if (a->whole) {
    CHECK_RC((int)n, -RILL_ETRUNC);
    CHECK_RC(rill_consumer_flush(c), -RILL_ETRUNC);
    CHECK_RC(rill_consumer_producer(c), -RILL_ETRUNC);
  } else {
    /* Our pages are all still in the file: we see nothing new, as the
     * producer, detached from the file, publishes nothing we can see
     * (not even that it left: once it is gone, it looks dead). */
    CHECKF(n == -RILL_ETIMEDOUT || n == -RILL_EDEAD, "recv: %s", rill_strerror((int)n));
  }
  rill_consumer_leave(c);
  rill_region_close(r);
}

static void idle(void *arg) {
  run *a = arg;
  if (a->guard) CHECK_OK(rill_sigbus_guard());
  rill_region *r = open_rw();
  rill_consumer *c;
  CHECK_OK(rill_consumer_join(r, "idle", RILL_LOSSY, &c));
  tu_gate_post(&a->joined);
  rill_view v;
  int rc = rill_poll_wait(c, &v, 10000000000ull);
  CHECKF(rc == -RILL_ETRUNC, "poll_wait: %d (%s): seq %" PRIu64 " sz %u", rc, rill_strerror(rc),
         rc == 0 ? v.seq : 0, rc == 0 ? v.sz : 0);
  CHECK(a->guard);
  rill_consumer_leave(c);
  rill_region_close(r);
}

static void producer(void *arg) {
  run *a = arg;
  if (a->guard) CHECK_OK(rill_sigbus_guard());
  rill_region *r = open_rw();
  rill_producer *p;
  CHECK_OK(rill_producer_join(r, "c", &p));
  uint8_t buf[SZ];
  for (uint64_t i = 0; i < N; i++) {
    tu_fill(buf, SZ, tu_key(7, i), 0);
    CHECK_OK(rill_send_wait(p, buf, SZ, i, 10000000000ull));
  }
  CHECK_OK(rill_producer_flush(p));
  tu_gate_post(&a->sent);
  tu_gate_wait(&a->go, 1);
  /* The file is cut under us: publish into nothing. */
  for (uint64_t i = 0; i < 10; i++) {
    tu_fill(buf, SZ, tu_key(7, N + i), 0);
    CHECK_OK(rill_send(p, buf, SZ, N + i));
  }
  CHECK(a->guard); /* without it, we died of SIGBUS */
  tu_gate_post(&a->done);
  CHECK_RC(rill_producer_flush(p), -RILL_ETRUNC);
  rill_producer_leave(p);
  rill_region_close(r);
}

/* GUARD: whether the endpoints install the guard.  WHOLE: the file is cut
 * to its first page (else in the middle of channel c's data ring, past
 * the payloads already read: its meta ring and the pages read so far stay,
 * and the producer's next payload faults). */
static void one_run(int guard, int whole) {
  rill_region_opts o = tu_opts(1 << 20);
  rill_region *r;
  CHECK_OK(rill_region_create("victim", &o, &r));
  rill_channel_opts co = {.depth = 64, .mtu = 256, .max_consumers = 2};
  CHECK_OK(rill_channel_create(r, "c", &co));
  CHECK_OK(rill_channel_create(r, "idle", &co));
  rill_channel_stats st;
  CHECK_OK(rill_channel_stats_get(r, "c", &st));
  rill_region_close(r); /* this process touches the file only through syscalls */
  /* N payloads of 256 bytes (4 chunks each) fill the ring's first N / 16
   * pages and part of the next, where the next payload goes: cut there. */
  off_t cut = whole ? 4096 : (off_t)(st.off + st.data_off + 4096 * (N / 16));
  CHECK((uint64_t)cut < st.off + st.size);

  run *a = tu_shared(sizeof *a);
  a->guard = guard;
  a->whole = whole;
  tu_gate_init(&a->joined);
  tu_gate_init(&a->sent);
  tu_gate_init(&a->got);
  tu_gate_init(&a->go);
  tu_gate_init(&a->done);
  pid_t kc = tu_fork("consumer", consumer, a);
  pid_t ki = tu_fork("idle consumer", idle, a);
  tu_gate_wait(&a->joined, 2);
  pid_t kp = tu_fork("producer", producer, a);
  tu_gate_wait(&a->sent, 1);
  tu_gate_wait(&a->got, 1);

  char path[512];
  tu_path(path, sizeof path, "victim");
  int fd = open(path, O_RDWR);
  CHECK(fd >= 0);
  CHECK(ftruncate(fd, cut) == 0);
  close(fd);
  tu_gate_post(&a->go);
  if (!guard) tu_gate_post(&a->done); /* the producer dies before it can */

  pid_t kids[3] = {kp, kc, ki};
  for (int i = 0; i < 3; i++) {
    int ws = tu_wait_status(kids[i]);
    if (guard)
      CHECKF(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "guarded child %d: %s %d", i,
             WIFSIGNALED(ws) ? "killed by signal" : "exit status",
             WIFSIGNALED(ws) ? WTERMSIG(ws) : WEXITSTATUS(ws));
    else if (tu_sanitized() && WIFEXITED(ws) &&
             (WEXITSTATUS(ws) == 1 || WEXITSTATUS(ws) == 66))
      continue; /* AddressSanitizer reports the SIGBUS and exits 1, ThreadSanitizer 66 */
    else
      CHECKF(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGBUS, "unguarded child %d: %s %d", i,
             WIFSIGNALED(ws) ? "killed by signal" : "exit status",
             WIFSIGNALED(ws) ? WTERMSIG(ws) : WEXITSTATUS(ws));
  }
  tu_gate_close(&a->joined);
  tu_gate_close(&a->sent);
  tu_gate_close(&a->got);
  tu_gate_close(&a->go);
  tu_gate_close(&a->done);
  CHECK_OK(rill_region_unlink("victim", tu_dir()));
}

int main(void) {
  tu_start("sigbus", 60);
  one_run(0, 1);
  one_run(1, 1);
  one_run(1, 0);
  return tu_pass("a truncated file kills unguarded endpoints; guarded ones get ETRUNC");
}
