/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill_bench worker: one side of a measurement driven by another program
 * (the Go binding's bench, bench/go/cmd/rill-gobench), which starts a C
 * or a Go worker on each side, pinned with taskset.  The Go workers speak the
 * same commands:
 *
 *   rill_bench worker bsend DIR REGION CHAN SIZE WARM COUNT
 *       joins CHAN as producer and sends WARM + COUNT messages of SIZE bytes
 *       (bench_msg format, sig = sequence number), then leaves
 *   rill_bench worker brecv DIR REGION CHAN SIZE WARM COUNT
 *       joins CHAN as a reliable consumer, prints "ready", receives and
 *       verifies WARM messages, then times COUNT more: "ns NS errors E"
 *   rill_bench worker bping DIR REGION OUT IN SIZE WARM COUNT
 *       round trips over OUT and back on IN: "p50 NS p99 NS errors E"
 *   rill_bench worker bpong DIR REGION IN OUT TOTAL
 *       prints "ready", then echoes TOTAL messages from IN to OUT
 *
 * Every wait busy-spins (the spin budget is the whole 30 s timeout).  Exit
 * 0, or 1 with a line on stderr. */
#include "bench.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rill.h"

#define WORKER_WAIT_NS 30000000000ull

__attribute__((noreturn)) BENCH_PRINTF(1, 2)
static void wfail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "rill_bench worker: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(1);
}

static uint64_t wnum(const char *s) {
  char *end;
  unsigned long long v = strtoull(s, &end, 10);
  if (!*s || *end) wfail("bad number '%s'", s);
  return (uint64_t)v;
}

static rill_region *wopen(const char *dir, const char *name) {
  rill_region *r;
  rill_region_opts o = {.dir = dir};
  int rc = rill_region_open(name, &o, &r);
  if (rc) wfail("open %s/%s: %s", dir, name, rill_strerror(rc));
  return r;
}

static rill_producer *wproducer(rill_region *r, const char *chan) {
  rill_producer *p;
  int rc = rill_producer_join(r, chan, &p);
  if (rc) wfail("join producer %s: %s", chan, rill_strerror(rc));
  rill_producer_set_spin(p, WORKER_WAIT_NS);
  return p;
}

static rill_consumer *wconsumer(rill_region *r, const char *chan) {
  rill_consumer *c;
  int rc = rill_consumer_join(r, chan, RILL_RELIABLE, &c);
  if (rc) wfail("join consumer %s: %s", chan, rill_strerror(rc));
  rill_consumer_set_spin(c, WORKER_WAIT_NS);
  return c;
}

static void wsend(rill_producer *p, const void *msg, size_t n, uint64_t sig) {
  int rc = rill_send(p, msg, n, sig);
  if (rc == -RILL_EAGAIN) rc = rill_send_wait(p, msg, n, sig, WORKER_WAIT_NS);
  if (rc) wfail("send: %s", rill_strerror(rc));
}

static size_t wrecv(rill_consumer *c, void *buf, rill_meta *m) {
  int64_t got = rill_recv(c, buf, BENCH_MAX_SIZE, m);
  if (got == -RILL_EAGAIN) got = rill_recv_wait(c, buf, BENCH_MAX_SIZE, m, WORKER_WAIT_NS);
  if (got < 0) wfail("recv: %s", rill_strerror((int)got));
  return (size_t)got;
}

static void *wbuf(size_t size) {
  if (size < 8 || size % 8 || size > BENCH_MAX_SIZE) wfail("SIZE must be 8..%u, a multiple of 8", BENCH_MAX_SIZE);
  void *b = bench_os_aligned_alloc(BENCH_MAX_SIZE);
  if (!b) wfail("out of memory");
  bench_msg_template(b, size);
  return b;
}

static void ready(void) {
  printf("ready\n");
  fflush(stdout);
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

int bench_worker_main(int argc, char **argv) {
  if (argc < 3) wfail("usage: rill_bench worker bsend|brecv|bping|bpong ...");
  const char *cmd = argv[2];
  char **a = argv + 3;
  int n = argc - 3;
  if (!strcmp(cmd, "bsend") && n == 6) {
    rill_region *r = wopen(a[0], a[1]);
    rill_producer *p = wproducer(r, a[2]);
    size_t size = (size_t)wnum(a[3]);
    uint64_t total = wnum(a[4]) + wnum(a[5]);
    void *msg = wbuf(size);
    for (uint64_t seq = 0; seq < total; seq++) {
      bench_msg_stamp(msg, size, seq);
      wsend(p, msg, size, seq);
    }
    rill_producer_leave(p);
    return 0;
  }
  if (!strcmp(cmd, "brecv") && n == 6) {
    rill_region *r = wopen(a[0], a[1]);
    rill_consumer *c = wconsumer(r, a[2]);
    size_t size = (size_t)wnum(a[3]);
    uint64_t warm = wnum(a[4]), count = wnum(a[5]);
    void *buf = wbuf(size);
    uint64_t mid = bench_msg_midsum(size), expect = 0, errs = 0, t0 = 0;
    ready();
    for (uint64_t i = 0; i < warm + count; i++) {
      if (i == warm) t0 = bench_now_ns();
      rill_meta m;
      size_t got = wrecv(c, buf, &m);
      errs += m.lost + (got != size);
      if (got == size) errs += bench_msg_verify(buf, size, &expect, mid);
    }
    uint64_t ns = bench_now_ns() - t0;
    printf("ns %" PRIu64 " errors %" PRIu64 "\n", ns, errs);
    rill_consumer_leave(c);
    return 0;
  }
  if (!strcmp(cmd, "bping") && n == 7) {
    rill_region *r = wopen(a[0], a[1]);
    rill_consumer *c = wconsumer(r, a[3]);
    rill_producer *p = wproducer(r, a[2]);
    size_t size = (size_t)wnum(a[4]);
    uint64_t warm = wnum(a[5]), count = wnum(a[6]);
    if (!count) wfail("COUNT must be > 0");
    void *msg = wbuf(size), *buf = wbuf(size);
    uint64_t *samples = malloc(count * sizeof *samples);
    if (!samples) wfail("out of memory");
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
    qsort(samples, count, sizeof *samples, cmp_u64);
    printf("p50 %" PRIu64 " p99 %" PRIu64 " errors %" PRIu64 "\n", samples[count / 2],
           samples[count * 99 / 100], errs);
    rill_producer_leave(p);
    rill_consumer_leave(c);
    return 0;
  }
  if (!strcmp(cmd, "bpong") && n == 5) {
    rill_region *r = wopen(a[0], a[1]);
    rill_consumer *c = wconsumer(r, a[2]);
    rill_producer *p = wproducer(r, a[3]);
    uint64_t total = wnum(a[4]);
    void *buf = wbuf(8);
    ready();
    for (uint64_t i = 0; i < total; i++) {
      rill_meta m;
      size_t got = wrecv(c, buf, &m);
      wsend(p, buf, got, m.sig);
    }
    rill_producer_leave(p);
    rill_consumer_leave(c);
    return 0;
  }
  wfail("unknown command or wrong arguments: %s", cmd);
}
