/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill_bench: the bindings beside C (suites "lang" and "python"; Linux).
 *
 * lang: a reliable channel between a producer and a consumer process, each
 * in C (this program's worker mode), Go (rill-goworker) or Python
 * (rill-pyworker), every pairing, at 64 and 1024 bytes; and the busy
 * round trip of C <-> C and Go <-> Go.  python: what a Python user has
 * besides (pyzmq, multiprocessing.Queue, a shared_memory ring with a Lock)
 * and rill's batch calls, Python to Python, measured by one Python worker
 * that starts both sides.  Every worker speaks bench/proc.h's protocol;
 * docs/benchmark.md describes the rows.
 */
#include "proc.h"
#include "suites.h"

#include <rill.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static const char *const LANGS[3] = {"c", "go", "python"};
static const char *const WORKER[3] = {NULL, "rill-goworker", "rill-pyworker"};
static char g_path[3][512]; /* each language's worker, "" if not there */
static bench_wres g_res[2];

int bench_region_make(const bench_config *cfg, const char *name, int nch,
                      const char *const *chans, uint32_t depth, uint32_t mtu,
                      uint32_t consumers, char *err, size_t len) {
  rill_channel_opts co = {0};
  co.depth = depth;
  co.mtu = mtu;
  co.max_msg = mtu;
  co.max_consumers = consumers;
  rill_region_opts ro = {0};
  ro.size = 4096 + (uint64_t)nch * rill_channel_footprint(&co) + (64u << 10) * (uint64_t)nch;
  ro.dir = cfg->dir;
  rill_region *r = NULL;
  bench_cleanup_register_region(cfg->dir, name);
  int rc = rill_region_create(name, &ro, &r);
  for (int i = 0; i < nch && rc == 0; i++) rc = rill_channel_create(r, chans[i], &co);
  if (r) rill_region_close(r);
  if (rc) {
    snprintf(err, len, "region %s/%s: %s", cfg->dir, name, rill_strerror(rc));
    bench_region_unmake(cfg, name);
  }
  return rc ? -1 : 0;
}

void bench_region_unmake(const bench_config *cfg, const char *name) {
  rill_region_unlink(name, cfg->dir);
  bench_cleanup_unregister_region();
}

int bench_wargs_make(const bench_config *cfg, const char *prefix, int nch,
                     const char *const *chans, uint32_t mtu, uint32_t consumers, size_t size,
                     uint64_t warm, uint64_t count, bench_wargs *a, bench_run_out *o) {
  static unsigned counter;
  snprintf(a->region, sizeof a->region, "%s-%d-%u", prefix, (int)getpid(), counter++);
  snprintf(a->size, sizeof a->size, "%zu", size);
  snprintf(a->warm, sizeof a->warm, "%llu", (unsigned long long)warm);
  snprintf(a->count, sizeof a->count, "%llu", (unsigned long long)count);
  snprintf(a->total, sizeof a->total, "%llu", (unsigned long long)(warm + count));
  return bench_region_make(cfg, a->region, nch, chans, BENCH_DEPTH, mtu, consumers, o->failure,
                           sizeof o->failure);
}

static int lang_of(const char *l) {
  for (int i = 0; i < 3; i++)
    if (!strcmp(LANGS[i], l)) return i;
  return 0;
}

static char *worker_of(const bench_config *cfg, const char *lang) {
  int i = lang_of(lang);
  return i ? g_path[i] : (char *)cfg->self;
}

/* messages of a throughput run: WARM, then COUNT timed; a Python side
 * makes a tenth of them in the time */
static void tput_counts(const bench_config *cfg, const bench_row *r, uint64_t *warm,
                        uint64_t *count) {
  int py = !strcmp(r->producer, "python") || !strcmp(r->consumer, "python");
  int big = r->size > 256;
  *count = py ? 2000000 : big ? 2000000 : 8000000;
  *warm = py ? *count / 10 : big ? 500000 : 2000000;
  if (cfg->quick) *count /= 20, *warm /= 20;
}

static int lang_tput(const bench_config *cfg, bench_row *r, unsigned run, bench_run_out *o) {
  uint64_t warm, count;
  const char *chans[1] = {"c"};
  bench_wargs w;
  (void)run;
  tput_counts(cfg, r, &warm, &count);
  if (bench_wargs_make(cfg, "lang", 1, chans, BENCH_MAX_SIZE, 1, r->size, warm, count, &w, o))
    return -1;
  char *cons[] = {worker_of(cfg, r->consumer), "worker", "brecv", (char *)cfg->dir, w.region,
                  "c", w.size, w.warm, w.count, NULL};
  char *prod[] = {worker_of(cfg, r->producer), "worker", "bsend", (char *)cfg->dir, w.region,
                  "c", w.size, w.warm, w.count, NULL};
  char **argv[2] = {cons, prod};
  int cpu[2] = {cfg->cpu[1], cfg->cpu[0]}, ready[2] = {1, 0};
  int rc = bench_workers_run(cfg, 2, argv, cpu, ready, g_res, o);
  bench_region_unmake(cfg, w.region);
  if (rc) return -1;
  double ns = g_res[0].nlines ? bench_kv_num(g_res[0].lines[0], "ns") : NAN;
  double errs = g_res[0].nlines ? bench_kv_num(g_res[0].lines[0], "errors") : NAN;
  if (!(ns > 0) || !isfinite(errs)) {
    o->failed = 1;
    snprintf(o->failure, sizeof o->failure, "the consumer wrote no result");
    return -1;
  }
  o->count = count;
  o->ns = (uint64_t)ns;
  o->errors = (uint64_t)errs;
  o->warm = warm;
  return 0;
}

static int lang_rtt(const bench_config *cfg, bench_row *r, unsigned run, bench_run_out *o) {
  uint64_t warm = cfg->quick ? 2000 : 20000, count = cfg->quick ? 20000 : 200000;
  const char *chans[2] = {"ping", "pong"};
  bench_wargs a;
  (void)run;
  if (bench_wargs_make(cfg, "lrtt", 2, chans, BENCH_MAX_SIZE, 1, r->size, warm, count, &a, o))
    return -1;
  char *w = worker_of(cfg, r->producer);
  char *pong[] = {w, "worker", "bpong", (char *)cfg->dir, a.region, "ping", "pong", a.total,
                  NULL};
  char *ping[] = {w,      "worker", "bping", (char *)cfg->dir, a.region, "ping",
                  "pong", a.size,   a.warm,  a.count,          NULL};
  char **argv[2] = {pong, ping};
  int cpu[2] = {cfg->cpu[1], cfg->cpu[0]}, ready[2] = {1, 0};
  int rc = bench_workers_run(cfg, 2, argv, cpu, ready, g_res, o);
  bench_region_unmake(cfg, a.region);
  if (rc) return -1;
  double errs = g_res[1].nlines ? bench_kv_num(g_res[1].lines[0], "errors") : NAN;
  if (g_res[1].nsamples != count || !isfinite(errs)) {
    o->failed = 1;
    snprintf(o->failure, sizeof o->failure, "the pinger wrote %zu samples of %llu",
             g_res[1].nsamples, (unsigned long long)count);
    return -1;
  }
  o->errors = (uint64_t)errs;
  o->samples = g_res[1].samples;
  o->nsamples = g_res[1].nsamples;
  o->warm = warm;
  return 0;
}

/* python: one worker runs both sides ("pair"), and says how long its
 * consumer took for how many messages */
static const char *const PY_KINDS[4] = {"rill-batch", "zmq", "mpqueue", "shmlock"};

static int py_pair(const bench_config *cfg, bench_row *r, unsigned run, bench_run_out *o) {
  static const unsigned long counts[4] = {2000000, 500000, 200000, 300000};
  char size[16], warm_s[24], count_s[24], c0[16], c1[16];
  int k = 0;
  (void)run;
  while (k < 3 && strcmp(PY_KINDS[k], r->name)) k++;
  unsigned long count = counts[k] / (cfg->quick ? 10 : 1);
  snprintf(size, sizeof size, "%zu", r->size);
  snprintf(warm_s, sizeof warm_s, "%lu", count / 10);
  snprintf(count_s, sizeof count_s, "%lu", count);
  snprintf(c0, sizeof c0, "%d", cfg->cpu[0]);
  snprintf(c1, sizeof c1, "%d", cfg->cpu[1]);
  char *pair[] = {g_path[2], "worker", "pair", (char *)r->name, (char *)cfg->dir, size,
                  warm_s,    count_s,  c0,     c1,              NULL};
  char **argv[1] = {pair};
  int cpu[1] = {-1}, ready[1] = {0}; /* it pins its two sides itself */
  if (bench_workers_run(cfg, 1, argv, cpu, ready, g_res, o)) return -1;
  const char *l = g_res[0].nlines ? g_res[0].lines[0] : "";
  double ns = bench_kv_num(l, "ns"), n = bench_kv_num(l, "count"), e = bench_kv_num(l, "errors");
  if (!(ns > 0) || !(n > 0) || !isfinite(e)) {
    o->failed = 1;
    snprintf(o->failure, sizeof o->failure, "the worker wrote no result");
    return -1;
  }
  o->count = (uint64_t)n;
  o->ns = (uint64_t)ns;
  o->errors = (uint64_t)e;
  o->warm = count / 10;
  return 0;
}

static bench_row *lang_row(bench_rows *rows, const char *suite, const char *name, int kind,
                           size_t size, const char *prod, const char *cons, bench_run_fn fn) {
  bench_row *r = bench_row_new(rows);
  if (!r) return NULL;
  r->suite = suite;
  r->name = name;
  r->kind = kind;
  r->size = size;
  r->producer = prod;
  r->consumer = cons;
  r->run = fn;
  return r;
}

void bench_suite_lang(const bench_config *cfg, bench_rows *rows, bench_skips *sk) {
  int have[3] = {1, 0, 0};
  for (int i = 1; i < 3; i++) {
    char why[300];
    if (bench_worker_path(cfg, WORKER[i], g_path[i], sizeof g_path[i], why, sizeof why)) {
      bench_skip(sk, i == 1 ? "go" : "python", "%s rows left out (%s; make bench builds it: %s)",
                 i == 1 ? "the Go binding's" : "the Python binding's", why,
                 i == 1 ? "Go 1.22 or newer, https://go.dev/dl"
                        : "python3 with venv and its headers, apt-get install python3-venv "
                          "python3-dev");
      continue;
    }
    have[i] = 1;
    bench_worker_version(cfg, g_path[i], sk->software, sizeof sk->software);
  }
  if (!have[1] && !have[2]) return; /* C -> C alone is the core suite's rill-copy */
  static const size_t sizes[2] = {64, 1024};
  for (int s = 0; s < 2; s++) {
    size_t first = rows->n;
    for (int p = 0; p < 3; p++)
      for (int c = 0; c < 3; c++)
        if (have[p] && have[c])
          lang_row(rows, "lang", "rill", BENCH_TPUT, sizes[s], LANGS[p], LANGS[c], lang_tput);
    for (int k = 0; k < 4 && have[2]; k++)
      lang_row(rows, "python", PY_KINDS[k], BENCH_TPUT, sizes[s], "python", "python", py_pair);
    bench_rows_run(cfg, &rows->v[first], rows->n - first, cfg->runs, 0);
  }
  size_t first = rows->n;
  for (int l = 0; l < 2; l++)
    if (have[l]) lang_row(rows, "lang", "rill", BENCH_RTT, 64, LANGS[l], LANGS[l], lang_rtt);
  bench_rows_run(cfg, &rows->v[first], rows->n - first, cfg->runs, 0);
}

static const bench_row *lrow(const bench_rows *rows, const char *suite, const char *name,
                             int kind, size_t size, const char *p, const char *c) {
  bench_row q = {.suite = suite, .name = name, .kind = kind, .size = size, .producer = p,
                 .consumer = c};
  return bench_row_find(rows, &q);
}

void bench_ratios_lang(const bench_rows *rows, bench_ratios *rt) {
  /* each Go or Python side against C -> C of the same size and run; the
   * bars, at 64 B: the Go consumer at least half of the C consumer (issue
   * 18), the Go producer at least 0.8 of the C producer (issue 21) */
  static const size_t sizes[2] = {64, 1024};
  for (int s = 0; s < 2; s++) {
    const bench_row *cc = lrow(rows, "lang", "rill", BENCH_TPUT, sizes[s], "c", "c");
    for (int p = 0; p < 3; p++)
      for (int c = 0; c < 3; c++) {
        const bench_row *a = lrow(rows, "lang", "rill", BENCH_TPUT, sizes[s], LANGS[p], LANGS[c]);
        if ((p || c) && a) {
          int gocons = sizes[s] == 64 && p == 0 && c == 1;
          int goprod = sizes[s] == 64 && p == 1 && c == 0;
          bench_ratio_add(rt, "lang", a, cc, gocons || goprod ? ">=" : NULL, goprod ? 0.8 : 0.5,
                          "lang %s->%s %zuB / c->c %zuB msgs/s", LANGS[p], LANGS[c], sizes[s],
                          sizes[s]);
        }
      }
  }
  const bench_row *go = lrow(rows, "lang", "rill", BENCH_RTT, 64, "go", "go");
  if (go)
    bench_ratio_add(rt, "lang", go, lrow(rows, "lang", "rill", BENCH_RTT, 64, "c", "c"), NULL,
                    0, "lang go<->go RTT p50 / c<->c RTT p50");
  /* issue 20: Python to Python, one message per call, at 64 B: rill at
   * least 3x pyzmq PUSH/PULL and 10x multiprocessing.Queue */
  const bench_row *py = lrow(rows, "lang", "rill", BENCH_TPUT, 64, "python", "python");
  if (!py) return;
  bench_ratio_add(rt, "python", py, lrow(rows, "python", "zmq", BENCH_TPUT, 64, "python", "python"),
                  ">=", 3, "python rill 64B / pyzmq 64B msgs/s");
  bench_ratio_add(rt, "python", py,
                  lrow(rows, "python", "mpqueue", BENCH_TPUT, 64, "python", "python"), ">=", 10,
                  "python rill 64B / multiprocessing.Queue 64B msgs/s");
}
