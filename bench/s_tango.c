/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill_bench's tango suite: rill beside rust-tango between two threads of
 * one process (rust-tango cannot cross processes), by rill-tangoworker
 * (bench/tango), a start of it per run; bench/tango/README.md describes
 * the two methods.  Beside them, pinned, rill-proc: rill alone between two
 * processes, the worker's producer and consumer each in a process of its
 * own, by the same code.  The worker prints raw numbers (each sample's or
 * run's ns, messages and errors); the medians, percentiles and bars are
 * here.
 */
#include "proc.h"
#include "suites.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static char g_worker[512];
static bench_wres g_res;
static uint64_t *g_trip; /* README ping-pong: each sample's ns per round trip */

/* README method: SAMPLES samples of each run, after a warm-up of its own */
#define README_SAMPLES 200u
#define README_WARM 50u
#define README_TRIPS 100u

/* the detail values of the rows (bench_row.detail) */
enum { D_LOST, D_BAD, D_OVERRUNS, D_XFER, D_ITER };

static void cpus(const bench_config *cfg, char c0[16], char c1[16]) {
  snprintf(c0, 16, "%d", cfg->cpu[0]);
  snprintf(c1, 16, "%d", cfg->cpu[1]);
}

/* Starts the worker with ARGV (after "worker"); its lines into g_res. */
static int start(const bench_config *cfg, char **argv, bench_run_out *o) {
  char **av[1] = {argv};
  int cpu[1] = {-1}, ready[1] = {0}; /* it pins its threads itself */
  if (bench_workers_run(cfg, 1, av, cpu, ready, &g_res, o)) return -1;
  if (!g_res.nlines) {
    o->failed = 1;
    snprintf(o->failure, sizeof o->failure, "the worker wrote no result");
    return -1;
  }
  return 0;
}

/* The errors of result line L, added to O and to its detail values. */
static void errors(const char *l, bench_run_out *o) {
  double lost = bench_kv_num(l, "lost"), bad = bench_kv_num(l, "bad"),
         corrupt = bench_kv_num(l, "corrupt"), over = bench_kv_num(l, "overruns");
  o->errors += (uint64_t)(lost + bad + corrupt);
  o->det[D_LOST] = (isfinite(o->det[D_LOST]) ? o->det[D_LOST] : 0) + lost;
  o->det[D_BAD] = (isfinite(o->det[D_BAD]) ? o->det[D_BAD] : 0) + bad + corrupt;
  o->det[D_OVERRUNS] = (isfinite(o->det[D_OVERRUNS]) ? o->det[D_OVERRUNS] : 0) + over;
}

static unsigned per_run(const bench_config *cfg, unsigned n) {
  unsigned k = (cfg->quick ? n / 20 : n) / cfg->runs;
  return k ? k : 1;
}

/* README method, throughput and ping-pong: the run's value is the median
 * of its samples' (rate; ns per round trip). */
static int readme(const bench_config *cfg, bench_row *r, unsigned run, bench_run_out *o) {
  (void)run;
  char c0[16], c1[16], size[16], n[16], warm[16], samples[16];
  cpus(cfg, c0, c1);
  int tput = r->kind == BENCH_TPUT;
  snprintf(size, sizeof size, "%zu", r->size);
  snprintf(n, sizeof n, "%u", tput ? (r->size == 64 ? 10000u : 2048u) : README_TRIPS);
  snprintf(warm, sizeof warm, "%u", per_run(cfg, README_WARM));
  snprintf(samples, sizeof samples, "%u", per_run(cfg, README_SAMPLES));
  char *tp[] = {g_worker, "worker", "readme-tput", (char *)r->name, size, n, warm, samples,
                c0,       c1,       (char *)cfg->dir, NULL};
  char *pp[] = {g_worker, "worker", "readme-pingpong", (char *)r->name, n, warm, samples,
                c0,       c1,       (char *)cfg->dir,  NULL};
  if (start(cfg, tput ? tp : pp, o)) return -1;
  double *rate = calloc(g_res.nlines, sizeof *rate), *xfer = calloc(g_res.nlines, sizeof *xfer),
         *iter = calloc(g_res.nlines, sizeof *iter);
  free(g_trip);
  g_trip = calloc(g_res.nlines, sizeof *g_trip);
  size_t m = 0;
  for (size_t i = 0; rate && xfer && iter && g_trip && i < g_res.nlines; i++) {
    const char *l = g_res.lines[i];
    errors(l, o);
    if (bench_kv_num(l, "warm") != 0) continue;
    double it = bench_kv_num(l, "iter_ns"), xf = bench_kv_num(l, "xfer_ns"),
           ok = bench_kv_num(l, "ok");
    rate[m] = ok * 1e9 / (it > 0 ? it : 1);
    xfer[m] = ok * 1e9 / (xf > 0 ? xf : 1);
    iter[m] = it;
    g_trip[m++] = (uint64_t)(xf / atof(n));
  }
  if (m) {
    o->det[D_ITER] = bench_median(iter, m);
    if (tput) {
      o->rate = bench_median(rate, m);
      o->count = (uint64_t)atof(n);
      o->det[D_XFER] = bench_median(xfer, m);
    } else {
      o->samples = g_trip;
      o->nsamples = m;
    }
  }
  free(rate);
  free(xfer);
  free(iter);
  if (!m && !o->failed) {
    o->failed = 1;
    snprintf(o->failure, sizeof o->failure, "no measured samples");
  }
  return o->failed ? -1 : 0;
}

/* Pinned: one long run, or one run of round trips, per start. */
static int pinned(const bench_config *cfg, bench_row *r, unsigned run, bench_run_out *o) {
  (void)run;
  char c0[16], c1[16], size[16], a[16], b[16];
  cpus(cfg, c0, c1);
  int tput = r->kind == BENCH_TPUT;
  snprintf(size, sizeof size, "%zu", r->size);
  if (tput) { /* warm-up and run, ms */
    snprintf(a, sizeof a, "%u", cfg->quick ? 20u : 200u);
    snprintf(b, sizeof b, "%u", cfg->quick ? 50u : 1000u);
  } else { /* warm-up and measured round trips */
    snprintf(a, sizeof a, "%u", cfg->quick ? 1000u : 20000u);
    snprintf(b, sizeof b, "%u", cfg->quick ? 2000u : 20000u);
  }
  char *tp[] = {g_worker, "worker", "pinned-tput", (char *)r->name, size, a, b, c0, c1,
                (char *)cfg->dir, NULL};
  char *pp[] = {g_worker, "worker", "pingpong", (char *)r->name, a, b, c0, c1,
                (char *)cfg->dir, NULL};
  if (start(cfg, tput ? tp : pp, o)) return -1;
  const char *l = g_res.lines[0];
  errors(l, o);
  double probe = bench_kv_num(l, "probe_ns");
  o->probe_ns = isfinite(probe) ? (uint64_t)probe : 0;
  if (tput) {
    o->count = (uint64_t)bench_kv_num(l, "msgs");
    o->ns = (uint64_t)bench_kv_num(l, "ns");
    if (!o->ns) o->ns = 1;
  } else {
    o->samples = g_res.samples;
    o->nsamples = g_res.nsamples;
    o->warm = (uint64_t)atof(a);
  }
  return 0;
}

static void tango_row(bench_rows *rows, const char *method, const char *name, int kind,
                      size_t size) {
  bench_row *r = bench_row_new(rows);
  if (!r) return;
  *r = (bench_row){.suite = "tango", .name = name, .method = method, .kind = kind,
                   .size = size, .producer = "rust", .consumer = "rust",
                   .peer = !strncmp(name, "rust-tango", 10),
                   .run = !strcmp(method, "readme") ? readme : pinned,
                   .detail = {"lost", "bad", "overruns"},
                   .detail_sum = 1 << D_LOST | 1 << D_BAD | 1 << D_OVERRUNS};
  if (!strcmp(method, "readme")) {
    r->detail[D_ITER] = "iter_ns";
    if (kind == BENCH_TPUT) r->detail[D_XFER] = "xfer_msgs_per_s";
  }
}

void bench_suite_tango(const bench_config *cfg, bench_rows *rows, bench_skips *sk) {
  char why[300];
  if (bench_worker_path(cfg, "rill-tangoworker", g_worker, sizeof g_worker, why, sizeof why)) {
    bench_skip(sk, "tango", "of rill beside rust-tango left out (%s; make bench builds it with "
               "cargo 1.85 or newer: Rust from https://rustup.rs)", why);
    return;
  }
  bench_worker_version(cfg, g_worker, sk->software, sizeof sk->software);
  static const char *const readme_names[2] = {"rill", "rust-tango"};
  /* rill-proc, between two processes: throughput only, pinned only */
  static const char *const pinned_names[4] = {"rill", "rust-tango", "rust-tango+fctl",
                                               "rill-proc"};
  static const size_t sizes[2] = {64, 1024};
  for (int m = 0; m < 2; m++) {
    for (int s = 0; s < 3; s++) { /* 64 B, 1024 B, the 8-byte ping-pong */
      size_t first = rows->n;
      for (int i = 0; i < (m ? (s < 2 ? 4 : 2) : 2); i++)
        tango_row(rows, m ? "pinned" : "readme", m ? pinned_names[i] : readme_names[i],
                  s < 2 ? BENCH_TPUT : BENCH_RTT, s < 2 ? sizes[s] : 8);
      bench_rows_run(cfg, &rows->v[first], rows->n - first, cfg->runs, 1);
    }
  }
  free(g_trip);
  g_trip = NULL;
  bench_wres_free(&g_res);
}

static const bench_row *trow(const bench_rows *rows, const char *method, const char *name,
                             size_t size) {
  bench_row q = {.suite = "tango", .name = name, .method = method, .kind = BENCH_TPUT,
                 .size = size, .producer = "rust", .consumer = "rust"};
  return bench_row_find(rows, &q);
}

/* The bars.  Issue 18's: rill at least 2x rust-tango's throughput at 64
 * and 1024 bytes, by each method; pinned, against the faster of rust-tango
 * without and with its credits.  Issue 22's, for the Rust crate (the worker
 * runs on it): pinned, at least 2x rust-tango with its flow control (the
 * like-for-like contender: neither side loses a message) at 64 and 1024
 * bytes; by rust-tango's README method, at least rust-tango without flow
 * control at 64 bytes (which loses messages; rill loses none).  Beside
 * them, no bar: rill between processes / between threads, pinned. */
void bench_ratios_tango(const bench_rows *rows, bench_ratios *rt) {
  static const size_t sizes[2] = {64, 1024};
  for (int s = 0; s < 2; s++) {
    size_t z = sizes[s];
    const bench_row *r = trow(rows, "readme", "rill", z), *t = trow(rows, "readme", "rust-tango", z);
    bench_ratio *b = bench_ratio_add(rt, "tango", r, t, ">=", 2,
                                     "tango readme %zuB: rill / rust-tango msgs/s", z);
    if (b && r && t)
      snprintf(b->note, sizeof b->note, "by the transfer clock: %.2fx",
               r->det[D_XFER] / t->det[D_XFER]);
    r = trow(rows, "pinned", "rill", z);
    t = trow(rows, "pinned", "rust-tango", z);
    const bench_row *f = trow(rows, "pinned", "rust-tango+fctl", z);
    const bench_row *faster = !f || (t && t->msgs_per_s >= f->msgs_per_s) ? t : f;
    b = bench_ratio_add(rt, "tango", r, faster, ">=", 2,
                        "tango pinned %zuB: rill / the faster rust-tango msgs/s", z);
    if (b && r && t && f)
      snprintf(b->note, sizeof b->note, "%.2fx rust-tango, %.2fx rust-tango+fctl",
               r->msgs_per_s / t->msgs_per_s, r->msgs_per_s / f->msgs_per_s);
    bench_ratio_add(rt, "tango", r, f, ">=", 2,
                    "tango pinned %zuB: rill / rust-tango+fctl msgs/s (issue 22)", z);
    if (z == 64)
      bench_ratio_add(rt, "tango", trow(rows, "readme", "rill", z),
                      trow(rows, "readme", "rust-tango", z), ">=", 1,
                      "tango readme %zuB: rill / rust-tango msgs/s (issue 22)", z);
    bench_ratio_add(rt, "tango", trow(rows, "pinned", "rill-proc", z), r, NULL, 0,
                    "tango pinned %zuB: rill-proc / rill msgs/s", z);
  }
}
