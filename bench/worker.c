/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill_bench worker: the C side of the measurements rill_bench runs in
 * separate programs (bench/proc.h says how they are started and what they
 * write).  The Go and Python workers speak the same commands:
 *
 *   bsend DIR REGION CHAN SIZE WARM COUNT
 *       joins CHAN as producer, sends WARM + COUNT messages of SIZE bytes
 *       (bench_msg format, sig = sequence number), then leaves (the C
 *       worker then says "result ns NS count COUNT": its time for the
 *       COUNT after the warm-up)
 *   brecv DIR REGION CHAN SIZE WARM COUNT [lossy] [park]
 *       joins CHAN as a consumer (reliable, or lossy), says "ready",
 *       receives and checks WARM messages, then times COUNT more:
 *       "result ns NS count N errors E lost L" (a lossy consumer reads until
 *       the producer left, and counts what it got and what it lost)
 *   bping DIR REGION OUT IN SIZE WARM COUNT
 *       round trips over OUT and back on IN: "result errors E" and every
 *       measured round trip's ns on "samples" lines
 *   bpong DIR REGION IN OUT TOTAL
 *       says "ready", then echoes TOTAL messages from IN to OUT
 *
 * and, for the C side only:
 *
 *   wsend DIR REGION PREFIX N SIZE WARM COUNT
 *       produces WARM + COUNT messages round-robin on channels PREFIX0 ..
 *       PREFIX<N-1> (message k on channel k mod N)
 *   wrecv DIR REGION PREFIX N SIZE WARM COUNT
 *       one consumer of all N channels, waiting with rill_wait_any: "ready",
 *       then as brecv
 *   rpc-guest -w N --dir D --region R --service S
 *       the C request/response server (bench/rpc/t_rill.c)
 *   net-send KIND SIZE WARM COUNT PERIOD_NS SYNC ARGS...
 *   net-recv KIND SIZE WARM COUNT tput|lat SYNC ARGS...
 *       the bridge suite's ends over NATS, ZeroMQ or rill (bench/w_net.c)
 *
 * Every wait busy-spins (the spin budget is the whole 30 s timeout), except
 * a consumer told "park" and wrecv's, which use rill's default budget
 * (20 us) and then sleep.  Exit 0, or 1 with a line on stderr. */
#include "bench.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rill.h"
#ifndef _WIN32
#include "rpc/rpcbench.h"
#endif

#define WORKER_WAIT_NS 30000000000ull

void bench_wfail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "rill_bench worker: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(1);
}

uint64_t bench_wnum(const char *s) {
  char *end;
  unsigned long long v = strtoull(s, &end, 10);
  if (!*s || *end) bench_wfail("bad number '%s'", s);
  return (uint64_t)v;
}

static rill_region *wopen(const char *dir, const char *name) {
  rill_region *r;
  rill_region_opts o = {.dir = dir};
  int rc = rill_region_open(name, &o, &r);
  if (rc) bench_wfail("open %s/%s: %s", dir, name, rill_strerror(rc));
  return r;
}

static rill_producer *wproducer(rill_region *r, const char *chan) {
  rill_producer *p;
  int rc = rill_producer_join(r, chan, &p);
  if (rc) bench_wfail("join producer %s: %s", chan, rill_strerror(rc));
  rill_producer_set_spin(p, WORKER_WAIT_NS);
  return p;
}

static rill_consumer *wconsumer_mode(rill_region *r, const char *chan, int mode, int park) {
  rill_consumer *c;
  int rc = rill_consumer_join(r, chan, mode, &c);
  if (rc) bench_wfail("join consumer %s: %s", chan, rill_strerror(rc));
  if (!park) rill_consumer_set_spin(c, WORKER_WAIT_NS);
  return c;
}

static rill_consumer *wconsumer(rill_region *r, const char *chan) {
  return wconsumer_mode(r, chan, RILL_RELIABLE, 0);
}

static void wsend(rill_producer *p, const void *msg, size_t n, uint64_t sig) {
  int rc = rill_send(p, msg, n, sig);
  if (rc == -RILL_EAGAIN) rc = rill_send_wait(p, msg, n, sig, WORKER_WAIT_NS);
  if (rc) bench_wfail("send: %s", rill_strerror(rc));
}

/* The next message, or -RILL_ECLOSED when the producer left and it was
 * all read (only if CLOSED_OK). */
static int64_t wrecv_or_closed(rill_consumer *c, void *buf, rill_meta *m, int closed_ok) {
  int64_t got = rill_recv(c, buf, BENCH_MAX_SIZE, m);
  if (got == -RILL_EAGAIN) got = rill_recv_wait(c, buf, BENCH_MAX_SIZE, m, WORKER_WAIT_NS);
  if (got == -RILL_ECLOSED && closed_ok) return got;
  if (got < 0) bench_wfail("recv: %s", rill_strerror((int)got));
  return got;
}

static size_t wrecv(rill_consumer *c, void *buf, rill_meta *m) {
  return (size_t)wrecv_or_closed(c, buf, m, 0);
}

static void *wbuf(size_t size) {
  if (size < 8 || size % 8 || size > BENCH_MAX_SIZE) bench_wfail("SIZE must be 8..%u, a multiple of 8", BENCH_MAX_SIZE);
  void *b = bench_os_aligned_alloc(BENCH_MAX_SIZE);
  if (!b) bench_wfail("out of memory");
  bench_msg_template(b, size);
  return b;
}

/* The end of a command: closes R, frees A and B (aligned buffers). */
static int wdone(rill_region *r, void *a, void *b) {
  bench_os_aligned_free(a);
  bench_os_aligned_free(b);
  rill_region_close(r);
  return 0;
}

static void ready(void) {
  printf("ready\n");
  fflush(stdout);
}

/* "samples NS NS ..." lines of at most 512 values. */
static void print_samples(const uint64_t *v, uint64_t n) {
  for (uint64_t i = 0; i < n; i += 512) {
    fputs("samples", stdout);
    for (uint64_t k = i; k < n && k < i + 512; k++) printf(" %" PRIu64, v[k]);
    fputc('\n', stdout);
  }
}

/* 1 if the N-byte message at BUF is whole (its words add up), whatever its
 * sequence number. */
static int msg_whole(const void *buf, size_t n, uint64_t mid) {
  uint64_t seq;
  memcpy(&seq, buf, 8);
  return bench_msg_verify(buf, n, &seq, mid) == 0;
}

/* brecv: a reliable consumer checks every message against the next number;
 * a lossy one checks each message it gets whole and counts the numbers it
 * skipped as lost, reading until the producer left. */
static int cmd_brecv(char **a, int n) {
  int lossy = 0, park = 0;
  for (int i = 6; i < n; i++) {
    if (!strcmp(a[i], "lossy")) lossy = 1;
    else if (!strcmp(a[i], "park")) park = 1;
    else bench_wfail("brecv: unknown option %s", a[i]);
  }
  rill_region *r = wopen(a[0], a[1]);
  rill_consumer *c = wconsumer_mode(r, a[2], lossy ? RILL_LOSSY : RILL_RELIABLE, park);
  size_t size = (size_t)bench_wnum(a[3]);
  uint64_t warm = bench_wnum(a[4]), count = bench_wnum(a[5]);
  void *buf = wbuf(size);
  uint64_t mid = bench_msg_midsum(size), expect = 0, errs = 0, lost = 0, got_n = 0;
  uint64_t t0 = 0, t1 = 0;
  ready();
  for (uint64_t i = 0; lossy || i < warm + count; i++) {
    if (!lossy && i == warm) t0 = bench_now_ns();
    rill_meta m;
    int64_t got = wrecv_or_closed(c, buf, &m, lossy);
    if (got == -RILL_ECLOSED) break;
    if (!lossy) {
      errs += m.lost + ((size_t)got != size);
      if ((size_t)got == size) errs += bench_msg_verify(buf, size, &expect, mid);
      continue;
    }
    uint64_t seq;
    memcpy(&seq, buf, 8);
    if ((size_t)got != size || !msg_whole(buf, size, mid) || (int64_t)(seq - expect) < 0) {
      errs++; /* damaged, or not after the last one */
      continue;
    }
    lost += seq - expect;
    expect = seq + 1;
    if (seq >= warm) {
      if (!got_n++) t0 = bench_now_ns();
      t1 = bench_now_ns();
    }
  }
  if (!lossy) t1 = bench_now_ns(), got_n = count;
  printf("result ns %" PRIu64 " count %" PRIu64 " errors %" PRIu64 " lost %" PRIu64 "\n",
         t1 > t0 ? t1 - t0 : 0, got_n > 0 ? got_n - lossy : 0, errs, lost);
  rill_consumer_leave(c);
  return wdone(r, buf, NULL);
}

/* wsend: message k (bench_msg number k) on channel k mod N. */
static int cmd_wsend(char **a) {
  rill_region *r = wopen(a[0], a[1]);
  uint32_t nch = (uint32_t)bench_wnum(a[3]);
  if (nch < 1 || nch > RILL_WAIT_ANY_MAX) bench_wfail("N must be 1..%d", RILL_WAIT_ANY_MAX);
  rill_producer *p[RILL_WAIT_ANY_MAX];
  for (uint32_t i = 0; i < nch; i++) {
    char name[64];
    snprintf(name, sizeof name, "%s%u", a[2], i);
    p[i] = wproducer(r, name);
  }
  size_t size = (size_t)bench_wnum(a[4]);
  uint64_t total = bench_wnum(a[5]) + bench_wnum(a[6]);
  void *msg = wbuf(size);
  for (uint64_t k = 0; k < total; k++) {
    bench_msg_stamp(msg, size, k);
    wsend(p[k % nch], msg, size, k);
  }
  for (uint32_t i = 0; i < nch; i++) rill_producer_leave(p[i]);
  return wdone(r, msg, NULL);
}

/* wrecv: one consumer of N channels; when rill_wait_any says one has
 * something, it drains every channel once from there (at most 64 messages
 * each), and waits again. */
static int cmd_wrecv(char **a) {
  rill_region *r = wopen(a[0], a[1]);
  uint32_t nch = (uint32_t)bench_wnum(a[3]);
  if (nch < 1 || nch > RILL_WAIT_ANY_MAX) bench_wfail("N must be 1..%d", RILL_WAIT_ANY_MAX);
  rill_consumer *c[RILL_WAIT_ANY_MAX];
  uint64_t expect[RILL_WAIT_ANY_MAX];
  for (uint32_t i = 0; i < nch; i++) {
    char name[64];
    snprintf(name, sizeof name, "%s%u", a[2], i);
    c[i] = wconsumer_mode(r, name, RILL_RELIABLE, 1);
    expect[i] = i;
  }
  size_t size = (size_t)bench_wnum(a[4]);
  uint64_t warm = bench_wnum(a[5]), count = bench_wnum(a[6]), total = warm + count;
  void *buf = wbuf(size);
  uint64_t mid = bench_msg_midsum(size), errs = 0, got_n = 0, t0 = 0, waited = 0;
  ready();
  uint64_t deadline = bench_now_ns() + WORKER_WAIT_NS;
  while (got_n < total) {
    int w = rill_wait_any(c, nch, BENCH_WAIT_NS);
    if (w == -RILL_ETIMEDOUT) {
      if (bench_now_ns() > deadline) bench_wfail("wrecv: no message for 30 s");
      continue;
    }
    if (w < 0) bench_wfail("rill_wait_any: %s", rill_strerror(w));
    waited++;
    for (uint32_t k = 0; k < nch && got_n < total; k++) {
      uint32_t i = ((uint32_t)w + k) % nch;
      for (int b = 0; b < 64 && got_n < total; b++) {
        rill_meta m;
        int64_t got = rill_recv(c[i], buf, BENCH_MAX_SIZE, &m);
        if (got == -RILL_EAGAIN) break;
        if (got < 0) bench_wfail("recv: %s", rill_strerror((int)got));
        uint64_t want = expect[i];
        errs += m.lost + ((size_t)got != size);
        if ((size_t)got == size && bench_msg_verify(buf, size, &want, mid)) errs++;
        expect[i] += nch;
        if (++got_n == warm) t0 = bench_now_ns();
      }
    }
    deadline = bench_now_ns() + WORKER_WAIT_NS;
  }
  uint64_t t1 = bench_now_ns();
  printf("result ns %" PRIu64 " count %" PRIu64 " errors %" PRIu64 " waits %" PRIu64 "\n",
         t1 - t0, count, errs, waited);
  for (uint32_t i = 0; i < nch; i++) rill_consumer_leave(c[i]);
  return wdone(r, buf, NULL);
}

int bench_worker_main(int argc, char **argv) {
  if (argc < 3) bench_wfail("usage: rill_bench worker bsend|brecv|bping|bpong|wsend|wrecv|rpc-guest|net-send|net-recv|version ...");
  const char *cmd = argv[2];
  char **a = argv + 3;
  int n = argc - 3;
  if (!strcmp(cmd, "bsend") && n == 6) {
    rill_region *r = wopen(a[0], a[1]);
    rill_producer *p = wproducer(r, a[2]);
    size_t size = (size_t)bench_wnum(a[3]);
    uint64_t warm = bench_wnum(a[4]), count = bench_wnum(a[5]), t0 = bench_now_ns();
    void *msg = wbuf(size);
    for (uint64_t seq = 0; seq < warm + count; seq++) {
      if (seq == warm) t0 = bench_now_ns();
      bench_msg_stamp(msg, size, seq);
      wsend(p, msg, size, seq);
    }
    printf("result ns %" PRIu64 " count %" PRIu64 "\n", bench_now_ns() - t0, count);
    rill_producer_leave(p);
    return wdone(r, msg, NULL);
  }
  if (!strcmp(cmd, "brecv") && n >= 6 && n <= 8) return cmd_brecv(a, n);
  if (!strcmp(cmd, "wsend") && n == 7) return cmd_wsend(a);
  if (!strcmp(cmd, "wrecv") && n == 7) return cmd_wrecv(a);
#ifndef _WIN32
  if (!strcmp(cmd, "rpc-guest")) return rb_guest_main(argc - 2, argv + 2);
  if (!strncmp(cmd, "net-", 4)) {
    int rc = bench_net_worker(cmd, a, n);
    if (rc >= 0) return rc;
  }
#endif
  if (!strcmp(cmd, "version") && n == 0) {
    printf("info rill %d.%d\n", RILL_VERSION_MAJOR, RILL_VERSION_MINOR);
    return 0;
  }
  if (!strcmp(cmd, "bping") && n == 7) {
    rill_region *r = wopen(a[0], a[1]);
    rill_consumer *c = wconsumer(r, a[3]);
    rill_producer *p = wproducer(r, a[2]);
    size_t size = (size_t)bench_wnum(a[4]);
    uint64_t warm = bench_wnum(a[5]), count = bench_wnum(a[6]);
    if (!count) bench_wfail("COUNT must be > 0");
    void *msg = wbuf(size), *buf = wbuf(size);
    uint64_t *samples = malloc(count * sizeof *samples);
    if (!samples) bench_wfail("out of memory");
    uint64_t mid = bench_msg_midsum(size), errs = 0;
    for (uint64_t seq = 0; seq < warm + count; seq++) {
      bench_msg_stamp(msg, size, seq);
      uint64_t t0 = bench_now_ns();
      wsend(p, msg, size, seq);
      rill_meta m;
      size_t got = wrecv(c, buf, &m);
      uint64_t d = bench_now_ns() - t0, expect = seq;
      errs += got != size ? 1 : bench_msg_verify(buf, size, &expect, mid);
      if (seq >= warm) samples[seq - warm] = d;
    }
    printf("result errors %" PRIu64 "\n", errs);
    print_samples(samples, count);
    rill_producer_leave(p);
    rill_consumer_leave(c);
    free(samples);
    return wdone(r, msg, buf);
  }
  if (!strcmp(cmd, "bpong") && n == 5) {
    rill_region *r = wopen(a[0], a[1]);
    rill_consumer *c = wconsumer(r, a[2]);
    rill_producer *p = wproducer(r, a[3]);
    uint64_t total = bench_wnum(a[4]);
    void *buf = wbuf(8);
    ready();
    for (uint64_t i = 0; i < total; i++) {
      rill_meta m;
      size_t got = wrecv(c, buf, &m);
      wsend(p, buf, got, m.sig);
    }
    rill_producer_leave(p);
    rill_consumer_leave(c);
    return wdone(r, buf, NULL);
  }
  bench_wfail("unknown command or wrong arguments: %s", cmd);
}
