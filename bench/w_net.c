/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill_bench worker: the two ends of the bridge suite's rows
 * (bench/s_bridge.c), each started in its network namespace:
 *
 *   net-send KIND SIZE WARM COUNT PERIOD_NS SYNC ARGS...
 *       first, unless SYNC is "-", sends a probe (a message numbered
 *       2^63 + k) every 5 ms until the file SYNC exists (the receiver
 *       makes it when a probe came: the whole path carries messages);
 *       then sends WARM + COUNT messages of SIZE bytes (below), as fast as
 *       the transport takes them (PERIOD_NS 0), or one every PERIOD_NS
 *       (absolute deadlines; a deadline missed is not made up with a
 *       burst), then "result ns NS count COUNT": its time for the COUNT
 *   net-recv KIND SIZE WARM COUNT tput|lat SYNC ARGS...
 *       says "ready" once it can receive, then receives and checks every
 *       message until message WARM + COUNT - 1 came (or nothing came for
 *       IDLE_NS), making the file SYNC when the first probe comes and
 *       skipping probes: "result ns NS count N errors E lost L bad B late R":
 *       NS from the arrival of the last warm-up message to the arrival of
 *       the last one, N the measured messages that arrived in it; E = L + B
 *       + R (lost: numbers skipped; bad: a wrong size or payload; late: a
 *       number already passed).  With lat, each measured message's one-way
 *       latency (arrival - its send time) on "samples" lines.
 *
 * KIND and ARGS:
 *
 *   nats URL SUBJECT       nats.c as `rill bridge` uses it in core mode:
 *                          its default options but 256 KiB I/O buffers,
 *                          natsConnection_Publish (buffered; the client's
 *                          flusher writes) / a synchronous subscription
 *                          (natsSubscription_NextMsg) holding up to 1 Mi
 *                          messages or 256 MiB; the sender flushes at the
 *                          end
 *   nats-asap URL SUBJECT  the same with natsOptions_SetSendAsap: each
 *                          publish written at once
 *   zmq URL                ZeroMQ PUSH connects / PULL binds (tcp://),
 *                          bench_zmq_socket()'s options, the sender
 *                          lingers until all is sent
 *   rill DIR REGION CHAN   a rill producer / a reliable consumer that
 *                          waits for the channel to exist (the bridge
 *                          makes it); both park at once when they must
 *                          wait (spin 0): each shares its CPU with a bridge
 *
 * The message: N/8 little-endian words, word 0 its number, word 1 its send
 * time (CLOCK_MONOTONIC ns, read just before the send call), the last word
 * number ^ send time ^ BENCH_MSG_KEY, every word k between
 * bench_msg_word(k).  The receiver reads every byte.
 */
#include "bench.h"
#include "peers.h"

#include <rill.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#ifdef RILL_HAVE_NATS
#include <nats/nats.h>
#endif
#ifdef RILL_HAVE_ZMQ
#include <zmq.h>
#endif

#define NET_WAIT_NS 30000000000ull /* no progress for this long: give up     */
#define IDLE_NS 5000000000ull      /* the receiver's end once messages came  */
#define PROBE (1ull << 63)         /* a probe's number: PROBE + k            */
#define PROBE_NS 5000000ull        /* one probe every 5 ms                   */

/* ---- the message ----------------------------------------------------------- */

static void msg_stamp(unsigned char *b, size_t n, uint64_t seq, uint64_t ts) {
  uint64_t last = seq ^ ts ^ BENCH_MSG_KEY;
  memcpy(b, &seq, 8);
  memcpy(b + 8, &ts, 8);
  memcpy(b + n - 8, &last, 8);
}

/* 1 if the N-byte message at B is whole; its number and send time in *SEQ,
 * *TS.  MID: the sum of its constant words. */
static int msg_whole(const unsigned char *b, size_t n, uint64_t mid, uint64_t *seq,
                     uint64_t *ts) {
  uint64_t sum = 0, last;
  for (size_t i = 16; i + 8 < n; i += 8) {
    uint64_t w;
    memcpy(&w, b + i, 8);
    sum += w;
  }
  memcpy(seq, b, 8);
  memcpy(ts, b + 8, 8);
  memcpy(&last, b + n - 8, 8);
  return sum == mid && last == (*seq ^ *ts ^ BENCH_MSG_KEY);
}

static uint64_t msg_midsum(size_t n) {
  uint64_t s = 0;
  for (size_t k = 2; k + 1 < n / 8; k++) s += bench_msg_word(k);
  return s;
}

/* ---- the endpoints ----------------------------------------------------------- */

enum { K_RILL, K_NATS, K_ZMQ, K_NATS_ASAP };

typedef struct net_ep {
  int kind;
  rill_region *r;
  rill_producer *p;
  rill_consumer *c;
  unsigned char *rbuf;
#ifdef RILL_HAVE_NATS
  natsConnection *nc;
  natsSubscription *sub;
  natsMsg *last;
  const char *subject;
#endif
#ifdef RILL_HAVE_ZMQ
  void *zctx, *zsock;
  zmq_msg_t zmsg;
#endif
} net_ep;

#ifdef RILL_HAVE_NATS
static void nats_check(natsStatus s, const char *what) {
  if (s != NATS_OK) bench_wfail("%s: %s (%s)", what, natsStatus_GetText(s), nats_GetLastError(NULL));
}
#endif

static int kind_of(const char *k, int nargs) {
  if (!strcmp(k, "rill") && nargs == 3) return K_RILL;
#ifdef RILL_HAVE_NATS
  if (!strcmp(k, "nats") && nargs == 2) return K_NATS;
  if (!strcmp(k, "nats-asap") && nargs == 2) return K_NATS_ASAP;
#endif
#ifdef RILL_HAVE_ZMQ
  if (!strcmp(k, "zmq") && nargs == 1) return K_ZMQ;
#endif
  bench_wfail("unknown KIND or wrong arguments: %s (this build: rill%s%s)", k,
#ifdef RILL_HAVE_NATS
        ", nats, nats-asap",
#else
        "",
#endif
#ifdef RILL_HAVE_ZMQ
        ", zmq"
#else
        ""
#endif
  );
}

static void ep_open(net_ep *e, const char *kind, char **a, int nargs, int send) {
  memset(e, 0, sizeof *e);
  e->kind = kind_of(kind, nargs);
  if (e->kind == K_RILL) {
    rill_region_opts o = {.dir = a[0]};
    uint64_t end = bench_now_ns() + NET_WAIT_NS;
    int rc;
    /* the receiving side's channel is made by `rill bridge in --create`:
     * wait for it */
    for (;;) {
      rc = rill_region_open(a[1], &o, &e->r);
      if (rc == 0) {
        rc = send ? rill_producer_join(e->r, a[2], &e->p)
                  : rill_consumer_join(e->r, a[2], RILL_RELIABLE, &e->c);
        if (rc == 0) break;
        rill_region_close(e->r);
        e->r = NULL;
      }
      if (send || bench_now_ns() > end)
        bench_wfail("join %s/%s %s: %s", a[0], a[1], a[2], rill_strerror(rc));
      struct timespec ts = {0, 2000000};
      nanosleep(&ts, NULL);
    }
    if (send) rill_producer_set_spin(e->p, 0);
    else rill_consumer_set_spin(e->c, 0);
    if (!send && !(e->rbuf = bench_os_aligned_alloc(BENCH_MAX_SIZE))) bench_wfail("out of memory");
    return;
  }
#ifdef RILL_HAVE_NATS
  if (e->kind == K_NATS || e->kind == K_NATS_ASAP) {
    natsOptions *o;
    nats_check(natsOptions_Create(&o), "natsOptions_Create");
    nats_check(natsOptions_SetURL(o, a[0]), "natsOptions_SetURL");
    nats_check(natsOptions_SetAllowReconnect(o, false), "natsOptions_SetAllowReconnect");
    /* the client options `rill bridge` uses that bear on the rate */
    nats_check(natsOptions_SetIOBufSize(o, 256 * 1024), "natsOptions_SetIOBufSize");
    if (e->kind == K_NATS_ASAP)
      nats_check(natsOptions_SetSendAsap(o, true), "natsOptions_SetSendAsap");
    e->kind = K_NATS;
    nats_check(natsConnection_Connect(&e->nc, o), "natsConnection_Connect");
    natsOptions_Destroy(o);
    e->subject = a[1];
    if (!send) {
      nats_check(natsConnection_SubscribeSync(&e->sub, e->nc, a[1]),
                 "natsConnection_SubscribeSync");
      /* as `rill bridge in` holds them: up to 1 Mi messages, 256 MiB */
      nats_check(natsSubscription_SetPendingLimits(e->sub, 1 << 20, 256 << 20),
                 "natsSubscription_SetPendingLimits");
      /* the server has the subscription once it answered a PING sent after it */
      nats_check(natsConnection_FlushTimeout(e->nc, 10000), "natsConnection_Flush");
    }
    return;
  }
#endif
#ifdef RILL_HAVE_ZMQ
  char err[600];
  if (bench_zmq_socket(a[0], send ? ZMQ_PUSH : ZMQ_PULL, !send, send ? 30000 : 0, &e->zctx,
                       &e->zsock, err, sizeof err))
    bench_wfail("%s", err);
  zmq_msg_init(&e->zmsg);
#endif
}

static void ep_send(net_ep *e, const unsigned char *b, size_t n, uint64_t seq) {
  if (e->kind == K_RILL) {
    int rc = rill_send(e->p, b, n, seq);
    uint64_t end = 0;
    while (rc == -RILL_EAGAIN || rc == -RILL_ETIMEDOUT) {
      if (!end) end = bench_now_ns() + NET_WAIT_NS;
      else if (bench_now_ns() > end) bench_wfail("rill_send: no room for 30 s");
      rc = rill_send_wait(e->p, b, n, seq, BENCH_WAIT_NS);
    }
    if (rc) bench_wfail("rill_send: %s", rill_strerror(rc));
    return;
  }
#ifdef RILL_HAVE_NATS
  if (e->kind == K_NATS) {
    nats_check(natsConnection_Publish(e->nc, e->subject, b, (int)n), "natsConnection_Publish");
    return;
  }
#endif
#ifdef RILL_HAVE_ZMQ
  uint64_t end = bench_now_ns() + NET_WAIT_NS;
  while (zmq_send(e->zsock, b, n, 0) != (int)n) {
    int er = zmq_errno();
    if ((er != EAGAIN && er != EINTR) || bench_now_ns() > end)
      bench_wfail("zmq_send: %s", zmq_strerror(er));
  }
#endif
}

/* The next message (valid until the next call) and its size in *N, or
 * NULL when none came before DEADLINE. */
static const unsigned char *ep_recv(net_ep *e, size_t *n, uint64_t deadline) {
  for (;;) {
    if (e->kind == K_RILL) {
      rill_meta m;
      int64_t got = rill_recv(e->c, e->rbuf, BENCH_MAX_SIZE, &m);
      if (got == -RILL_EAGAIN)
        got = rill_recv_wait(e->c, e->rbuf, BENCH_MAX_SIZE, &m, BENCH_WAIT_NS);
      if (got >= 0) {
        *n = (size_t)got;
        return e->rbuf;
      }
      if (got != -RILL_ETIMEDOUT && got != -RILL_EAGAIN)
        bench_wfail("rill_recv: %s", rill_strerror((int)got));
    }
#ifdef RILL_HAVE_NATS
    if (e->kind == K_NATS) {
      if (e->last) natsMsg_Destroy(e->last);
      e->last = NULL;
      natsStatus s = natsSubscription_NextMsg(&e->last, e->sub, 1000);
      if (s == NATS_OK) {
        *n = (size_t)natsMsg_GetDataLength(e->last);
        return (const unsigned char *)natsMsg_GetData(e->last);
      }
      /* NATS_SLOW_CONSUMER: messages were dropped; the gap shows them */
      if (s != NATS_TIMEOUT && s != NATS_SLOW_CONSUMER) nats_check(s, "natsSubscription_NextMsg");
    }
#endif
#ifdef RILL_HAVE_ZMQ
    if (e->kind == K_ZMQ) {
      int got = zmq_msg_recv(&e->zmsg, e->zsock, 0);
      if (got >= 0) {
        *n = (size_t)got;
        return zmq_msg_data(&e->zmsg);
      }
      if (zmq_errno() != EAGAIN && zmq_errno() != EINTR)
        bench_wfail("zmq_msg_recv: %s", zmq_strerror(zmq_errno()));
    }
#endif
    if (bench_now_ns() > deadline) return NULL;
  }
}

static void ep_close(net_ep *e, int send) {
  if (e->kind == K_RILL) {
    if (e->p) rill_producer_leave(e->p);
    if (e->c) rill_consumer_leave(e->c);
    rill_region_close(e->r);
    bench_os_aligned_free(e->rbuf);
    return;
  }
#ifdef RILL_HAVE_NATS
  if (e->kind == K_NATS) {
    if (send) nats_check(natsConnection_FlushTimeout(e->nc, 30000), "natsConnection_Flush");
    if (e->last) natsMsg_Destroy(e->last);
    if (e->sub) natsSubscription_Destroy(e->sub);
    natsConnection_Destroy(e->nc);
    return;
  }
#endif
#ifdef RILL_HAVE_ZMQ
  zmq_msg_close(&e->zmsg);
  zmq_close(e->zsock); /* the sender's linger (30 s) sends what is queued */
  zmq_ctx_term(e->zctx);
#endif
  (void)send;
}

/* ---- the commands ------------------------------------------------------------- */

static unsigned char *msg_buf(size_t size) {
  if (size < 24 || size % 8 || size > BENCH_MAX_SIZE)
    bench_wfail("SIZE must be 24..%u, a multiple of 8", BENCH_MAX_SIZE);
  unsigned char *b = bench_os_aligned_alloc(BENCH_MAX_SIZE);
  if (!b) bench_wfail("out of memory");
  bench_msg_template(b, size);
  return b;
}

static int cmd_send(char **a, int n) {
  size_t size = (size_t)bench_wnum(a[1]);
  uint64_t warm = bench_wnum(a[2]), count = bench_wnum(a[3]), period = bench_wnum(a[4]);
  const char *sync = a[5];
  unsigned char *b = msg_buf(size);
  net_ep e;
  ep_open(&e, a[0], a + 6, n - 6, 1);
  /* a paced sender wakes at its deadlines, not up to 50 us after them */
  if (period) prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  uint64_t end = bench_now_ns() + NET_WAIT_NS;
  for (uint64_t k = 0; strcmp(sync, "-") && access(sync, F_OK); k++) {
    if (bench_now_ns() > end) bench_wfail("no probe reached the receiver in 30 s");
    msg_stamp(b, size, PROBE + k, bench_now_ns());
    ep_send(&e, b, size, PROBE + k);
    struct timespec ts = {0, (long)PROBE_NS};
    nanosleep(&ts, NULL);
  }
  uint64_t t0 = bench_now_ns(), next = t0;
  for (uint64_t seq = 0; seq < warm + count; seq++) {
    if (period) {
      struct timespec ts = {(time_t)(next / 1000000000ull), (long)(next % 1000000000ull)};
      while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
      }
      uint64_t now = bench_now_ns();
      next = next + period > now ? next + period : now + period;
    }
    if (seq == warm) t0 = bench_now_ns();
    msg_stamp(b, size, seq, bench_now_ns());
    ep_send(&e, b, size, seq);
  }
  uint64_t t1 = bench_now_ns();
  ep_close(&e, 1);
  printf("result ns %" PRIu64 " count %" PRIu64 "\n", t1 - t0, count);
  bench_os_aligned_free(b);
  return 0;
}

static int cmd_recv(char **a, int n) {
  size_t size = (size_t)bench_wnum(a[1]);
  uint64_t warm = bench_wnum(a[2]), count = bench_wnum(a[3]), total = warm + count;
  int lat = !strcmp(a[4], "lat");
  if (!lat && strcmp(a[4], "tput")) bench_wfail("net-recv: MODE is tput or lat, not %s", a[4]);
  if (!count) bench_wfail("COUNT must be > 0");
  uint64_t *samples = lat ? malloc(count * sizeof *samples) : NULL;
  if (lat && !samples) bench_wfail("out of memory");
  uint64_t mid = msg_midsum(size), expect = 0, lost = 0, bad = 0, late = 0, got = 0, ns = 0;
  uint64_t t0 = 0, t1 = 0;
  const char *sync = a[5];
  int synced = !strcmp(sync, "-");
  net_ep e;
  ep_open(&e, a[0], a + 6, n - 6, 0);
  printf("ready\n");
  fflush(stdout);
  /* the first message may take a while: the bridges' set-up */
  uint64_t deadline = bench_now_ns() + NET_WAIT_NS;
  while (expect < total) {
    size_t len;
    const unsigned char *m = ep_recv(&e, &len, deadline);
    uint64_t now = bench_now_ns(), seq, ts;
    if (!m) break;
    deadline = now + IDLE_NS;
    if (len != size || !msg_whole(m, len, mid, &seq, &ts)) {
      bad++;
      continue;
    }
    if (seq >= PROBE) {
      if (!synced) {
        int fd = open(sync, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0) bench_wfail("%s: %s", sync, strerror(errno));
        close(fd);
        synced = 1;
      }
      continue;
    }
    if (seq < expect) { /* repeated, or after a later one */
      late++;
      continue;
    }
    lost += seq - expect;
    expect = seq + 1;
    if (seq < warm) {
      t0 = now; /* the last warm-up message's arrival starts the clock */
      continue;
    }
    if (!t0) { /* the warm-up's end lost: the clock starts at this one */
      t0 = now;
      continue;
    }
    if (lat) samples[ns++] = now - ts;
    got++;
    t1 = now;
  }
  if (expect < total) lost += total - expect; /* the end never came */
  if (!expect) bench_wfail("no message came in %llu s", NET_WAIT_NS / 1000000000ull);
  printf("result ns %" PRIu64 " count %" PRIu64 " errors %" PRIu64 " lost %" PRIu64
         " bad %" PRIu64 " late %" PRIu64 "\n",
         t1 > t0 ? t1 - t0 : 0, got, lost + bad + late, lost, bad, late);
  for (uint64_t i = 0; i < ns; i += 512) {
    fputs("samples", stdout);
    for (uint64_t k = i; k < ns && k < i + 512; k++) printf(" %" PRIu64, samples[k]);
    fputc('\n', stdout);
  }
  fflush(stdout);
  ep_close(&e, 0);
  free(samples);
  return 0;
}

int bench_net_worker(const char *cmd, char **a, int n) {
  if (!strcmp(cmd, "net-send") && n >= 7) return cmd_send(a, n);
  if (!strcmp(cmd, "net-recv") && n >= 7) return cmd_recv(a, n);
  return -1;
}
