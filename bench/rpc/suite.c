/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill_bench's rpc suite: its rows (cells) and bars.
 *
 * Every cell of the matrix: rill with the Go guest (rill-guest) and the C
 * guest (rill_bench worker rpc-guest) at -w 1, 2, 4; a UNIX socket; ZeroMQ;
 * each at 1, 16 and 256 requests in flight.  A run of a cell is one fresh
 * server (and region), a warm-up and a measured part; the runs are
 * interleaved across cells, every other one in the reverse order.  A row
 * reports the median run by req/s and the percentiles of that run.
 */
#include "rpcbench.h"

#include "../suites.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint32_t INFLIGHT[] = {1, 16, 256};
static const uint32_t WORKERS[] = {1, 2, 4};
static const char *TRANSPORT[] = {"rill", "unix", "zeromq"};

static char g_goguest[512]; /* "" if not there */
static rb_run g_run;

static int rpc_run(const bench_config *cfg, bench_row *row, unsigned run, bench_run_out *o) {
  (void)run;
  rb_run *r = &g_run;
  int tr = (int)(intptr_t)row->ctx;
  r->inflight = row->inflight;
  r->warm_ns = cfg->quick ? 50000000ull : 200000000ull;
  r->meas_ns = cfg->quick ? 300000000ull : 1000000000ull;
  r->warm_n = cfg->quick ? 1000 : 0;
  r->meas_n = cfg->quick ? 3000 : 0;
  int go = !strcmp(row->consumer, "go");
  int rc = tr == RB_RILL ? rb_rill_run(r, go ? g_goguest : cfg->self, go, row->workers)
           : tr == RB_UNIX ? rb_unix_run(r)
                           : rb_zmq_run(r);
  o->errors = r->errors;
  if (rc || r->failure[0] || r->nrtt == 0 || r->t1 <= r->t0) {
    o->failed = 1;
    snprintf(o->failure, sizeof o->failure, "%s",
             r->failure[0] ? r->failure : "no measured requests");
    return -1;
  }
  o->count = r->nrtt;
  o->ns = r->t1 - r->t0;
  o->samples = r->rtt;
  o->nsamples = r->nrtt;
  o->warm = r->warm_n;
  return 0;
}

/* The run order: by in-flight count, then -w with the Go and the C guest
 * side by side, then the baselines, so that the cells a bar divides run
 * seconds apart. */
static int run_key(int tr, int go, uint32_t w, uint32_t inflight) {
  int k = inflight == INFLIGHT[0] ? 0 : inflight == INFLIGHT[1] ? 1 : 2;
  return k * 100 + (tr == RB_RILL ? (int)w * 2 + !go : 50 + tr);
}

static int cmp_row(const void *a, const void *b) {
  const bench_row *x = a, *y = b;
  int kx = run_key((int)(intptr_t)x->ctx, !strcmp(x->consumer, "go"), x->workers, x->inflight);
  int ky = run_key((int)(intptr_t)y->ctx, !strcmp(y->consumer, "go"), y->workers, y->inflight);
  return (kx > ky) - (kx < ky);
}

void bench_suite_rpc(const bench_config *cfg, bench_rows *rows, bench_skips *sk) {
  char why[300];
  if (bench_worker_path(cfg, "rill-guest", g_goguest, sizeof g_goguest, why, sizeof why)) {
    g_goguest[0] = 0;
    bench_skip(sk, "rpc-go", "of the Go guest left out (%s; make bench builds it with Go 1.22 "
               "or newer: https://go.dev/dl)", why);
  }
  if (!rb_have_zmq)
    bench_skip(sk, "rpc-zeromq", "of ZeroMQ DEALER/ROUTER left out (apt-get install "
               "libzmq3-dev, then rebuild)");
  /* the host is this process: pinned to the first CPU while the suite runs,
   * the servers to the second (they inherit it, so all of a guest's
   * workers share that CPU) */
  cpu_set_t saved;
  int pinned = cfg->cpu[0] >= 0 && cfg->cpu[0] != cfg->cpu[1] &&
               sched_getaffinity(0, sizeof saved, &saved) == 0;
  if (pinned && bench_os_pin(cfg->cpu[0], why, sizeof why)) {
    printf("rpc: %s; host and servers not pinned\n", why);
    pinned = 0;
  }
  rb_server_cpu = pinned ? cfg->cpu[1] : -1;
  rb_dir = cfg->dir;
  size_t first = rows->n;
  for (int go = g_goguest[0] ? 1 : 0; go >= 0; go--)
    for (size_t w = 0; w < 3; w++)
      for (size_t k = 0; k < 3; k++) {
        bench_row *r = bench_row_new(rows);
        if (!r) break;
        *r = (bench_row){.suite = "rpc", .name = "rill", .kind = BENCH_RPC, .size = RB_PAYLOAD,
                         .producer = "c", .consumer = go ? "go" : "c", .workers = WORKERS[w],
                         .inflight = INFLIGHT[k], .median_run = 1, .run = rpc_run,
                         .ctx = (void *)(intptr_t)RB_RILL};
      }
  for (int tr = RB_UNIX; tr <= (rb_have_zmq ? RB_ZMQ : RB_UNIX); tr++)
    for (size_t k = 0; k < 3; k++) {
      bench_row *r = bench_row_new(rows);
      if (!r) break;
      *r = (bench_row){.suite = "rpc", .name = TRANSPORT[tr], .kind = BENCH_RPC,
                       .size = RB_PAYLOAD, .producer = "c", .consumer = "c", .workers = 1,
                       .inflight = INFLIGHT[k], .median_run = 1, .run = rpc_run,
                       .ctx = (void *)(intptr_t)tr};
    }
  qsort(&rows->v[first], rows->n - first, sizeof rows->v[0], cmp_row);
  /* 3 runs of 1 s per cell (fewer if --runs says so; 1 with --quick) */
  unsigned runs = cfg->quick ? 1 : cfg->runs < 3 ? cfg->runs : 3;
  bench_rows_run(cfg, &rows->v[first], rows->n - first, runs, 1);
  free(g_run.rtt);
  memset(&g_run, 0, sizeof g_run);
  if (pinned) sched_setaffinity(0, sizeof saved, &saved);
}

static const bench_row *cell(const bench_rows *rows, const char *name, const char *guest,
                             uint32_t w, uint32_t inflight) {
  bench_row q = {.suite = "rpc", .name = name, .kind = BENCH_RPC, .size = RB_PAYLOAD,
                 .producer = "c", .consumer = guest, .workers = w, .inflight = inflight};
  return bench_row_find(rows, &q);
}

void bench_ratios_rpc(const bench_rows *rows, bench_ratios *rt) {
  /* 1: rill with the C guest / the UNIX socket, at 16 in flight (>= 10),
   * at -w 1 and at the C guest's best -w */
  const bench_row *u = cell(rows, "unix", "c", 1, 16), *best = NULL;
  for (size_t i = 0; i < 3; i++) {
    const bench_row *c = cell(rows, "rill", "c", WORKERS[i], 16);
    if (c && (!best || c->msgs_per_s > best->msgs_per_s)) best = c;
  }
  bench_ratio_add(rt, "rpc", cell(rows, "rill", "c", 1, 16), u, ">=", 10,
                  "rpc rill C guest -w 1 / unix socket, at 16 in flight");
  bench_ratio_add(rt, "rpc", best, u, ">=", 10,
                  "rpc rill C guest -w %u / unix socket, at 16 in flight (best -w)",
                  best ? best->workers : 0);
  /* 2: the Go guest / the C guest, at each -w, at 16 in flight (>= 0.5) */
  int go = cell(rows, "rill", "go", 1, 16) != NULL;
  for (size_t i = 0; i < 3 && go; i++)
    bench_ratio_add(rt, "rpc", cell(rows, "rill", "go", WORKERS[i], 16),
                    cell(rows, "rill", "c", WORKERS[i], 16), ">=", 0.5,
                    "rpc rill Go guest / C guest, -w %u, at 16 in flight", WORKERS[i]);
  /* 3: more workers than the guest's one CPU must not cost much (issue
   * 21): -w 4 / -w 1 of one guest, at 16 (>= 0.8) and at 1 (>= 0.5) */
  for (int g = 0; g < 1 + go; g++)
    for (int k = 0; k < 2; k++) {
      uint32_t inflight = k ? 1 : 16;
      const char *guest = g ? "go" : "c";
      bench_ratio_add(rt, "rpc", cell(rows, "rill", guest, 4, inflight),
                      cell(rows, "rill", guest, 1, inflight), ">=", k ? 0.5 : 0.8,
                      "rpc rill %s guest -w 4 / -w 1, at %u in flight", g ? "Go" : "C", inflight);
    }
}
