/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill_bench's scale suite (issue 21, item 8): throughput as consumers and
 * channels are added, measured by C workers (bench/worker.c).
 *
 *   rill-fanout   one producer, 1, 2 or 4 consumers of one channel, all
 *                 reliable or all lossy
 *   rill-waitany  one producer publishing round-robin on 1, 4 or 16
 *                 channels, one consumer waiting on all of them with
 *                 rill_wait_any
 *
 * The producer has the first CPU to itself; the consumers take the others
 * in turn, so on a machine of two CPUs all of them share the second.  They
 * spin for rill's default budget (20 us) and then park, so that a consumer
 * with nothing to read gives its CPU to one that has: the rows measure how
 * the channel's cost grows with consumers and channels, not how well the
 * scheduler shares a CPU among spinners (docs/benchmark.md, "Scaling").
 */
#include "proc.h"
#include "suites.h"

#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define SCALE_SIZE 64u
#define SCALE_MTU 64u
#define MAX_CONSUMERS 4

static bench_wres g_res[MAX_CONSUMERS + 1];
static int g_cpus[CPU_SETSIZE]; /* the consumers' CPUs, in turn */
static int g_ncpus;

/* the detail values of the rows */
enum { D_DELIVERIES, D_PUBLISH, D_DELIVERED_PCT, D_MSGS_PER_WAIT };

/* messages of warm-up, and measured */
#define WARM(cfg) ((cfg)->quick ? 50000u : 1000000u)
#define COUNT(cfg) ((cfg)->quick ? 200000u : 4000000u)

static int fanout(const bench_config *cfg, bench_row *r, unsigned run, bench_run_out *o) {
  (void)run;
  const char *chans[1] = {"c"};
  unsigned k = r->consumers;
  bench_wargs a;
  if (bench_wargs_make(cfg, "fan", 1, chans, SCALE_MTU, k, SCALE_SIZE, WARM(cfg), COUNT(cfg), &a,
                       o))
    return -1;
  char *cons[] = {(char *)cfg->self, "worker", "brecv", (char *)cfg->dir, a.region, "c", a.size,
                  a.warm, a.count, "park", r->lossy ? "lossy" : NULL, NULL};
  char *prod[] = {(char *)cfg->self, "worker", "bsend", (char *)cfg->dir, a.region, "c", a.size,
                  a.warm, a.count, NULL};
  char **argv[MAX_CONSUMERS + 1];
  int cpu[MAX_CONSUMERS + 1], ready[MAX_CONSUMERS + 1];
  for (unsigned i = 0; i < k; i++) {
    argv[i] = cons;
    cpu[i] = g_ncpus ? g_cpus[i % (unsigned)g_ncpus] : -1;
    ready[i] = 1;
  }
  argv[k] = prod;
  cpu[k] = cfg->cpu[0];
  ready[k] = 0;
  int rc = bench_workers_run(cfg, (int)k + 1, argv, cpu, ready, g_res, o);
  bench_region_unmake(cfg, a.region);
  if (rc) return -1;
  /* the producer's rate over the measured messages; reliable: the channel's
   * rate is its slowest consumer's; lossy: the producer's, which lossy
   * consumers never slow, and each consumer gets a share of it */
  const char *pl = g_res[k].nlines ? g_res[k].lines[0] : "";
  double pns = bench_kv_num(pl, "ns"), c = COUNT(cfg), worst = 0, got = 0;
  if (!(pns > 0)) {
    o->failed = 1;
    snprintf(o->failure, sizeof o->failure, "the producer wrote no result");
    return -1;
  }
  for (unsigned i = 0; i < k; i++) {
    const char *l = g_res[i].nlines ? g_res[i].lines[0] : "";
    double ns = bench_kv_num(l, "ns"), n = bench_kv_num(l, "count"), e = bench_kv_num(l, "errors");
    if (!(ns > 0) || !(n > 0) || !isfinite(e)) {
      o->failed = 1;
      snprintf(o->failure, sizeof o->failure, "consumer %u wrote no result", i + 1);
      return -1;
    }
    o->errors += (uint64_t)e;
    if (ns > worst) worst = ns;
    got += n;
  }
  o->count = (uint64_t)c;
  o->warm = WARM(cfg);
  o->det[D_PUBLISH] = c * 1e9 / pns;
  o->rate = r->lossy ? o->det[D_PUBLISH] : c * 1e9 / worst;
  o->det[D_DELIVERIES] = r->lossy ? got * 1e9 / pns : o->rate * k;
  if (r->lossy) o->det[D_DELIVERED_PCT] = 100 * got / (c * k);
  return 0;
}

static int waitany(const bench_config *cfg, bench_row *r, unsigned run, bench_run_out *o) {
  (void)run;
  char nch[16], names[16][16];
  const char *chans[16];
  bench_wargs a;
  for (unsigned i = 0; i < r->channels; i++) {
    snprintf(names[i], sizeof names[i], "w%u", i);
    chans[i] = names[i];
  }
  snprintf(nch, sizeof nch, "%u", r->channels);
  if (bench_wargs_make(cfg, "any", (int)r->channels, chans, SCALE_MTU, 1, SCALE_SIZE, WARM(cfg),
                       COUNT(cfg), &a, o))
    return -1;
  char *cons[] = {(char *)cfg->self, "worker", "wrecv", (char *)cfg->dir, a.region, "w", nch,
                  a.size, a.warm, a.count, NULL};
  char *prod[] = {(char *)cfg->self, "worker", "wsend", (char *)cfg->dir, a.region, "w", nch,
                  a.size, a.warm, a.count, NULL};
  char **argv[2] = {cons, prod};
  int cpu[2] = {g_ncpus ? g_cpus[0] : -1, cfg->cpu[0]}, ready[2] = {1, 0};
  int rc = bench_workers_run(cfg, 2, argv, cpu, ready, g_res, o);
  bench_region_unmake(cfg, a.region);
  if (rc) return -1;
  const char *l = g_res[0].nlines ? g_res[0].lines[0] : "";
  double ns = bench_kv_num(l, "ns"), n = bench_kv_num(l, "count"), e = bench_kv_num(l, "errors"),
         waits = bench_kv_num(l, "waits");
  if (!(ns > 0) || !(n > 0) || !isfinite(e)) {
    o->failed = 1;
    snprintf(o->failure, sizeof o->failure, "the consumer wrote no result");
    return -1;
  }
  o->count = (uint64_t)n;
  o->ns = (uint64_t)ns;
  o->errors = (uint64_t)e;
  o->warm = WARM(cfg);
  if (waits > 0) o->det[D_MSGS_PER_WAIT] = (n + o->warm) / waits;
  return 0;
}

/* The consumers' CPUs: every CPU this process may use but the producer's,
 * starting with the consumer's of the other rows. */
static void consumer_cpus(const bench_config *cfg) {
  cpu_set_t set;
  g_ncpus = 0;
  if (cfg->cpu[0] < 0 || cfg->cpu[0] == cfg->cpu[1] || sched_getaffinity(0, sizeof set, &set))
    return; /* unpinned: every worker where the kernel puts it */
  g_cpus[g_ncpus++] = cfg->cpu[1];
  for (int c = 0; c < CPU_SETSIZE; c++)
    if (CPU_ISSET(c, &set) && c != cfg->cpu[0] && c != cfg->cpu[1]) g_cpus[g_ncpus++] = c;
}

void bench_suite_scale(const bench_config *cfg, bench_rows *rows, const char *only) {
  static const unsigned consumers[3] = {1, 2, 4}, channels[3] = {1, 4, 16};
  consumer_cpus(cfg);
  if (bench_in_list(only, "rill-fanout")) {
    size_t first = rows->n;
    for (int lossy = 0; lossy < 2; lossy++)
      for (int i = 0; i < 3; i++) {
        bench_row *r = bench_row_new(rows);
        if (!r) break;
        *r = (bench_row){.suite = "scale", .name = "rill-fanout", .kind = BENCH_TPUT,
                         .size = SCALE_SIZE, .producer = "c", .consumer = "c",
                         .consumers = consumers[i], .lossy = lossy, .run = fanout,
                         .detail = {"deliveries_per_s", "publish_per_s",
                                    lossy ? "delivered_pct" : NULL}};
      }
    bench_rows_run(cfg, &rows->v[first], rows->n - first, cfg->runs, 0);
  }
  if (bench_in_list(only, "rill-waitany")) {
    size_t first = rows->n;
    for (int i = 0; i < 3; i++) {
      bench_row *r = bench_row_new(rows);
      if (!r) break;
      *r = (bench_row){.suite = "scale", .name = "rill-waitany", .kind = BENCH_TPUT,
                       .size = SCALE_SIZE, .producer = "c", .consumer = "c",
                       .channels = channels[i], .run = waitany,
                       .detail = {[D_MSGS_PER_WAIT] = "msgs_per_wait"}};
    }
    bench_rows_run(cfg, &rows->v[first], rows->n - first, cfg->runs, 0);
  }
}

static const bench_row *srow(const bench_rows *rows, const char *name, unsigned consumers,
                             unsigned channels, int lossy) {
  bench_row q = {.suite = "scale", .name = name, .kind = BENCH_TPUT, .size = SCALE_SIZE,
                 .producer = "c", .consumer = "c", .consumers = consumers,
                 .channels = channels, .lossy = lossy};
  return bench_row_find(rows, &q);
}

/* For reading: each row against its one-consumer, one-channel row. */
void bench_ratios_scale(const bench_rows *rows, bench_ratios *rt) {
  for (int lossy = 0; lossy < 2; lossy++)
    for (unsigned k = 2; k <= 4; k *= 2)
      if (srow(rows, "rill-fanout", k, 0, lossy))
        bench_ratio_add(rt, "scale", srow(rows, "rill-fanout", k, 0, lossy),
                        srow(rows, "rill-fanout", 1, 0, lossy), NULL, 0,
                        "scale %s %u consumers / 1 consumer msgs/s", lossy ? "lossy" : "reliable",
                        k);
  for (unsigned n = 4; n <= 16; n *= 4)
    if (srow(rows, "rill-waitany", 0, n, 0))
      bench_ratio_add(rt, "scale", srow(rows, "rill-waitany", 0, n, 0),
                      srow(rows, "rill-waitany", 0, 1, 0), NULL, 0,
                      "scale wait_any %u channels / 1 channel msgs/s", n);
}
