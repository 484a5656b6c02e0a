/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill_bench: throughput and round-trip latency of rill against the hardware
 * floor, simple references and real peers (ZeroMQ, nng, iceoryx, when this
 * build has them), in one run, on the same pinned cores.
 *
 *   rill_bench [--quick] [--out PATH] [--runs N] [--cpus A,B]
 *              [--only NAME,...] [--sizes N,...] [--dir BASE]
 *              [--no-membarrier] [--huge]
 *
 * The same sources build for Linux and Windows (bench/os.h).
 *
 * See docs/benchmark.md.
 */
#include "bench.h"

#include <rill.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* One row of the report: every run of one transport at one size (and, for
 * the low-rate rows, one rate). */
typedef struct bench_result {
  const bench_transport *tr;
  const char *name;
  int kind;
  size_t size;
  unsigned rate_hz;          /* latency: messages per second; 0 otherwise     */
  int failed;
  char failure[300];
  uint64_t errors;
  unsigned runs;             /* runs done                                     */
  uint64_t warm;             /* warm-up messages / round trips of the last run */
  /* throughput */
  uint64_t msgs_per_run;     /* of the last run                               */
  double msgs_per_s;         /* median over runs                              */
  double gib_per_s;
  double run_msgs_per_s[BENCH_MAX_RUNS];
  /* round trip and latency */
  uint64_t *pool;            /* every run's samples                           */
  uint64_t samples;
  uint64_t p50, p99, p999, max;
  uint64_t run_p50[BENCH_MAX_RUNS];
  double spread;             /* (max - min) / median of the per-run values    */
  double run_probe_ns[BENCH_MAX_RUNS]; /* cache-line RTT before each run      */
  double probe_ns;           /* their median                                  */
  double seconds;            /* wall time of every run of the row             */
  uint64_t per_run;          /* rtt: round trips a run aims at; latency:
                                messages a run measures                       */
  /* latency: side 1's CPU time over the measured rounds' wall time */
  uint64_t cpu_ns, wall_ns;  /* summed over runs                              */
  double cpu_pct;            /* 100 * cpu_ns / wall_ns                        */
  double run_cpu_pct[BENCH_MAX_RUNS];
} bench_result;

/* ---- clean-up of the private region directory ------------------------------ */

static char g_dir[256];          /* "" when none was made                   */
static char g_region_path[512];  /* region of the running test, "" if none  */

void bench_cleanup_register_region(const char *dir, const char *name) {
  snprintf(g_region_path, sizeof g_region_path, "%s/%s", dir, name);
}

void bench_cleanup_unregister_region(void) { g_region_path[0] = 0; }

/* Removes everything left in the directory, then the directory. */
static void cleanup_dir(void) {
  if (!g_dir[0]) return;
  bench_os_remove_dir(g_dir);
  g_dir[0] = 0;
}

static void on_signal(int sig) {
  /* async-signal-safe calls only */
  bench_kill_children();
  if (g_region_path[0]) unlink(g_region_path);
  if (g_dir[0]) rmdir(g_dir);
  bench_os_reraise(sig);
}

/* ---- small helpers ------------------------------------------------------------ */

static void usage(FILE *f) {
  fprintf(f,
          "usage: rill_bench [--quick] [--out PATH] [--runs N] [--cpus A,B]\n"
          "                  [--only NAME,...] [--sizes N,...] [--dir BASE]\n"
          "                  [--no-membarrier] [--huge]\n"
          "  --quick      short smoke run (a few seconds)\n"
          "  --out PATH   write JSON results to PATH (directories are made)\n"
          "  --runs N     measured runs per row (default 5, quick 2)\n"
          "  --cpus A,B   CPUs of the two processes (default: the first two\n"
          "               CPUs this process may run on)\n"
          "  --only LIST  only these transports: rill-copy, rill-zerocopy,\n"
          "               rill-batch, rill-zcbatch, rill-alone,\n"
          "               ring, ring-batch, cacheline, rill-sleep, rill-lowrate;\n"
          "               on Linux\n"
          "               pipe, unix, futex and the peers built in:\n"
          "               zmq-pushpull, zmq-pair, nng-pushpull, nng-pair,\n"
          "               iceoryx; on Windows event (named events)\n"
          "  --sizes LIST throughput message sizes (multiples of 8, <= %u;\n"
          "               default 8,64,256,1024,4096)\n"
          "  --dir BASE   make the private region directory under BASE\n"
          "               (default /dev/shm, else /tmp; Windows: %%TEMP%%)\n"
          "  --no-membarrier  rill without its heavy barrier (Linux: membarrier\n"
          "               refused): the producer fences every publish, as on\n"
          "               Windows\n"
          "  --huge       rill's regions of huge pages (RILL_REGION_HUGE): --dir\n"
          "               BASE must be a hugetlbfs mount with enough free pages\n"
          "               (sysctl vm.nr_hugepages=64)\n",
          BENCH_MAX_SIZE);
}

static int mkdirs_for(const char *file) {
  char path[1024];
  snprintf(path, sizeof path, "%s", file);
  char *slash = NULL;
  for (char *p = path; *p; p++)
    if (*p == '/' || *p == '\\') slash = p;
  if (!slash) return 0;
  *slash = 0;
  for (char *p = path + 1; *p; p++) {
    if (*p != '/' && *p != '\\') continue;
    char c = *p;
    *p = 0;
    if (p[-1] != ':' && bench_os_mkdir(path) != 0) return -1; /* not "C:" */
    *p = c;
  }
  if (path[0] && bench_os_mkdir(path) != 0) return -1;
  return 0;
}

static void json_string(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\')
      fprintf(f, "\\%c", ch);
    else if (ch < 0x20)
      fprintf(f, "\\u%04x", ch);
    else
      fputc(ch, f);
  }
  fputc('"', f);
}

static int in_list(const char *list, const char *name) {
  if (!list) return 1;
  size_t n = strlen(name);
  for (const char *p = list; *p;) {
    size_t l = strcspn(p, ",");
    if (l == n && !strncmp(p, name, n)) return 1;
    p += l;
    if (*p == ',') p++;
  }
  return 0;
}

/* Medians, quantiles and spread of a row whose runs are done. */
static void finish_row(bench_result *r) {
  if (r->runs == 0) {
    free(r->pool);
    r->pool = NULL;
    return;
  }
  double v[BENCH_MAX_RUNS], lo, hi;
  for (unsigned i = 0; i < r->runs; i++)
    v[i] = r->kind == BENCH_TPUT ? r->run_msgs_per_s[i] : (double)r->run_p50[i];
  lo = hi = v[0];
  for (unsigned i = 1; i < r->runs; i++) {
    if (v[i] < lo) lo = v[i];
    if (v[i] > hi) hi = v[i];
  }
  double med = bench_median(v, r->runs);
  r->probe_ns = bench_median(r->run_probe_ns, r->runs);
  r->spread = med > 0 ? (hi - lo) / med : 0;
  if (r->kind == BENCH_TPUT) {
    r->msgs_per_s = med;
    r->gib_per_s = med * (double)r->size / (1024.0 * 1024 * 1024);
  } else if (r->pool && r->samples > 0) {
    if (r->kind == BENCH_LAT && r->wall_ns > 0)
      r->cpu_pct = 100.0 * (double)r->cpu_ns / (double)r->wall_ns;
    size_t n = r->samples;
    bench_sort_u64(r->pool, n);
    r->p50 = bench_quantile_sorted(r->pool, n, 0.50);
    r->p99 = bench_quantile_sorted(r->pool, n, 0.99);
    r->p999 = bench_quantile_sorted(r->pool, n, 0.999);
    r->max = r->pool[n - 1];
  }
  free(r->pool);
  r->pool = NULL;
}

/* ---- output ----------------------------------------------------------------- */

static const char *kind_name(int kind) {
  return kind == BENCH_TPUT ? "throughput" : kind == BENCH_RTT ? "rtt" : "latency";
}

static void print_header_row(void) {
  printf("%-14s %-10s %5s %10s %8s %7s %7s %8s %9s %6s %5s %6s\n", "name",
         "kind", "size", "msgs/s", "GiB/s", "p50 ns", "p99 ns", "p99.9 ns",
         "max ns", "spread", "line", "errors");
}

static void print_row(const bench_result *r) {
  char a[32] = "-", b[32] = "-", c[32] = "-", d[32] = "-", e[32] = "-",
       g[32] = "-", sp[32] = "-", ln[32] = "-";
  if (r->runs > 0) snprintf(ln, sizeof ln, "%.0f", r->probe_ns);
  if (!r->failed && r->runs > 1) snprintf(sp, sizeof sp, "%.0f%%", r->spread * 100);
  if (!r->failed && r->kind == BENCH_TPUT) {
    snprintf(a, sizeof a, "%.3fM", r->msgs_per_s / 1e6);
    snprintf(b, sizeof b, "%.3f", r->gib_per_s);
  } else if (!r->failed) {
    if (r->kind == BENCH_LAT) snprintf(a, sizeof a, "%u", r->rate_hz);
    snprintf(c, sizeof c, "%llu", (unsigned long long)r->p50);
    snprintf(d, sizeof d, "%llu", (unsigned long long)r->p99);
    snprintf(e, sizeof e, "%llu", (unsigned long long)r->p999);
    snprintf(g, sizeof g, "%llu", (unsigned long long)r->max);
  }
  printf("%-14s %-10s %5zu %10s %8s %7s %7s %8s %9s %6s %5s %6llu%s\n",
         r->name, kind_name(r->kind), r->size, a, b,
         c, d, e, g, sp, ln, (unsigned long long)r->errors,
         r->failed ? "  FAILED" : "");
  if (r->failed) printf("    failure: %s\n", r->failure);
  else if (r->kind == BENCH_LAT)
    printf("    (one-way, %u msgs/s paced; consumer CPU %.3f%% of its wall "
           "time, user+sys)\n", r->rate_hz, r->cpu_pct);
  else if (r->kind == BENCH_RTT && r->samples < (uint64_t)r->runs * r->per_run)
    printf("    (%llu round trips pooled: runs stopped at their time limit)\n",
           (unsigned long long)r->samples);
  if (r->tr->peer && r->errors)
    printf("    (%llu wrong or lost messages handed over by %s: counted and "
           "shown, they do not fail the run)\n",
           (unsigned long long)r->errors, r->name);
  fflush(stdout);
}

static const bench_result *find(const bench_result *res, size_t n,
                                const char *name, int kind, size_t size,
                                unsigned rate_hz) {
  for (size_t i = 0; i < n; i++)
    if (res[i].kind == kind && res[i].size == size &&
        res[i].rate_hz == rate_hz && !strcmp(res[i].name, name) &&
        !res[i].failed)
      return &res[i];
  return NULL;
}

typedef struct ratio {
  char label[64];
  double value;  /* ratio of the rows' medians; NAN when a side is missing */
  double paired; /* median over runs r of (run r of A) / (run r of B): runs
                    with the same index ran next to each other in time     */
  int single;    /* one row's value, not a ratio of two: no paired value   */
  const char *op;   /* a bar the README quotes: ">=" or "<=" THRESHOLD;  */
  double threshold; /* NULL for the other ratios                         */
} ratio;

static double paired_ratio(const bench_result *a, const bench_result *b) {
  if (!a || !b || a->runs != b->runs || a->runs == 0) return NAN;
  double v[BENCH_MAX_RUNS];
  for (unsigned i = 0; i < a->runs; i++) {
    double x = a->kind == BENCH_TPUT ? a->run_msgs_per_s[i] : (double)a->run_p50[i];
    double y = b->kind == BENCH_TPUT ? b->run_msgs_per_s[i] : (double)b->run_p50[i];
    if (!(y > 0)) return NAN;
    v[i] = x / y;
  }
  return bench_median(v, a->runs);
}

/* One ratio of rows A and B (NAN where one is missing): msgs/s for
 * throughput rows, pooled p50 for round trips. */
static void row_ratio(ratio *o, const bench_result *a, const bench_result *b) {
  if (!a || !b) {
    o->value = o->paired = NAN;
    return;
  }
  double x = a->kind == BENCH_TPUT ? a->msgs_per_s : (double)a->p50;
  double y = b->kind == BENCH_TPUT ? b->msgs_per_s : (double)b->p50;
  o->value = y > 0 ? x / y : NAN;
  o->paired = paired_ratio(a, b);
}

/* rill against the real peers.  The bars the README quotes: rill's 64 B
 * throughput at least 10 times ZeroMQ's (PUSH/PULL) and 20 times iceoryx's,
 * and rill's round-trip p50 at most 0.3 times iceoryx's busy-polling round
 * trip; each for copying and zero-copy rill.  The others are for reading. */
static size_t peer_ratios(const bench_result *res, size_t n, ratio *out,
                          size_t max) {
  static const struct {
    const char *peer;
    int kind;
    const char *op;
    double threshold;
  } q[] = {
      {"zmq-pushpull", BENCH_TPUT, ">=", 10},
      {"iceoryx", BENCH_TPUT, ">=", 20},
      {"iceoryx", BENCH_RTT, "<=", 0.3},
      {"nng-pushpull", BENCH_TPUT, NULL, 0},
      {"zmq-pair", BENCH_RTT, NULL, 0},
      {"nng-pair", BENCH_RTT, NULL, 0},
  };
  static const char *const modes[2] = {"rill-copy", "rill-zerocopy"};
  size_t k = 0;
  for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
    for (int m = 0; m < 2 && k < max; m++, k++) {
      size_t size = q[i].kind == BENCH_TPUT ? 64 : 8;
      const bench_result *a = find(res, n, modes[m], q[i].kind, size, 0);
      const bench_result *b = find(res, n, q[i].peer, q[i].kind, size, 0);
      if (q[i].kind == BENCH_TPUT)
        snprintf(out[k].label, sizeof out[k].label, "%s 64B / %s 64B msgs/s",
                 modes[m], q[i].peer);
      else
        snprintf(out[k].label, sizeof out[k].label, "%s RTT p50 / %s RTT p50",
                 modes[m], q[i].peer);
      row_ratio(&out[k], a, b);
      out[k].op = q[i].op;
      out[k].threshold = q[i].threshold;
    }
  }
  return k;
}

static size_t compute_ratios(const bench_result *res, size_t n, ratio *out,
                             size_t max) {
  size_t k = 0;
  memset(out, 0, max * sizeof *out);
  /* The ring's own ratios show what this machine allows: the ring is the
   * ceiling the channel approaches. */
  static const char *const modes[5] = {"rill-copy", "rill-zerocopy", "ring", "rill-batch",
                                       "rill-zcbatch"};
  for (int m = 0; m < 5; m++) {
    struct {
      const char *peer;
      size_t size;
    } q[5] = {{"ring", 64}, {"pipe", 64}, {"ring", 1024}, {"ring-batch", 64},
              {"ring-batch", 1024}};
    for (int i = 0; i < 5; i++) {
      /* a reference this OS's build has not (pipe on Windows): no ratio */
      if (!strcmp(modes[m], q[i].peer) || !bench_transport_find(q[i].peer))
        continue;
      const bench_result *a = find(res, n, modes[m], BENCH_TPUT, q[i].size, 0);
      const bench_result *b = find(res, n, q[i].peer, BENCH_TPUT, q[i].size, 0);
      snprintf(out[k].label, sizeof out[k].label, "%s %zuB / %s %zuB msgs/s",
               modes[m], q[i].size, q[i].peer, q[i].size);
      out[k].value = a && b && b->msgs_per_s > 0 ? a->msgs_per_s / b->msgs_per_s
                                                 : NAN;
      out[k].paired = paired_ratio(a, b);
      /* issue 21's bars against the ceiling, for rill's batches: copying
       * 0.9 at 64 B, zero-copy 0.8; both 0.9 at 1 KiB */
      if (m >= 3 && !strcmp(q[i].peer, "ring-batch")) {
        out[k].op = ">=";
        out[k].threshold = q[i].size == 64 && m == 4 ? 0.8 : 0.9;
      }
      k++;
    }
  }
  /* the producer alone: ns per 64-byte message, at most 8 */
  const bench_result *al = find(res, n, "rill-alone", BENCH_TPUT, 64, 0);
  snprintf(out[k].label, sizeof out[k].label, "rill-alone 64B ns per message");
  out[k].value = al && al->msgs_per_s > 0 ? 1e9 / al->msgs_per_s : NAN;
  out[k].paired = NAN;
  out[k].single = 1;
  out[k].op = "<=";
  out[k].threshold = 8;
  k++;
  /* round trips against the minimal ring, p50 and p99.9 */
  for (int m = 0; m < 2; m++) {
    const bench_result *a = find(res, n, modes[m], BENCH_RTT, 8, 0);
    const bench_result *b = find(res, n, "ring", BENCH_RTT, 8, 0);
    snprintf(out[k].label, sizeof out[k].label, "%s RTT p50 / ring RTT p50", modes[m]);
    out[k].value = a && b && b->p50 > 0 ? (double)a->p50 / (double)b->p50 : NAN;
    out[k].paired = paired_ratio(a, b);
    out[k].op = "<=";
    out[k].threshold = 1.1;
    k++;
    snprintf(out[k].label, sizeof out[k].label, "%s RTT p99.9 / ring RTT p99.9", modes[m]);
    out[k].value = a && b && b->p999 > 0 ? (double)a->p999 / (double)b->p999 : NAN;
    out[k].paired = NAN;
    out[k].single = 1;
    out[k].op = "<=";
    out[k].threshold = 1.5;
    k++;
  }
  for (int m = 0; m < 3; m++) {
    const bench_result *a = find(res, n, modes[m], BENCH_RTT, 8, 0);
    const bench_result *b = find(res, n, "cacheline", BENCH_RTT, 8, 0);
    snprintf(out[k].label, sizeof out[k].label, "%s RTT p50 / cacheline RTT p50",
             modes[m]);
    out[k].value =
        a && b && b->p50 > 0 ? (double)a->p50 / (double)b->p50 : NAN;
    out[k].paired = paired_ratio(a, b);
    k++;
  }
  /* sleeping round trips: rill parked on both sides against the kernel's
   * own futex round trip and a pipe (Linux), or two named events (Windows) */
  static const char *const sleep_peers[3] = {"futex", "pipe", "event"};
  for (int i = 0; i < 3; i++) {
    if (!bench_transport_find(sleep_peers[i])) continue;
    const bench_result *a = find(res, n, "rill-sleep", BENCH_RTT, 8, 0);
    const bench_result *b = find(res, n, sleep_peers[i], BENCH_RTT, 8, 0);
    snprintf(out[k].label, sizeof out[k].label,
             "rill-sleep RTT p50 / %s RTT p50", sleep_peers[i]);
    out[k].value =
        a && b && b->p50 > 0 ? (double)a->p50 / (double)b->p50 : NAN;
    out[k].paired = paired_ratio(a, b);
    k++;
  }
  /* not a ratio of two rows: a CPU share, in percent; no paired value */
  const bench_result *lr =
      find(res, n, "rill-lowrate", BENCH_LAT, BENCH_LOWRATE_SIZE, 100);
  snprintf(out[k].label, sizeof out[k].label,
           "rill-lowrate 100 Hz consumer CPU %%");
  out[k].value = lr ? lr->cpu_pct : NAN;
  out[k].paired = NAN;
  out[k].single = 1;
  k++;
  k += peer_ratios(res, n, out + k, max - k);
  return k;
}

/* "true", "false", or "null" when the ratio is missing. */
static const char *bar_met(const ratio *r) {
  if (!isfinite(r->value)) return "null";
  int met = r->op[0] == '>' ? r->value >= r->threshold
                            : r->value <= r->threshold;
  return met ? "true" : "false";
}

static void json_u64_or_null(FILE *f, const char *key, int have, uint64_t v,
                             int comma) {
  if (have)
    fprintf(f, "\"%s\": %llu", key, (unsigned long long)v);
  else
    fprintf(f, "\"%s\": null", key);
  if (comma) fputs(", ", f);
}

static void json_num_or_null(FILE *f, const char *key, int have, double v,
                             const char *fmt, int comma) {
  fprintf(f, "\"%s\": ", key);
  if (have && isfinite(v))
    fprintf(f, fmt, v);
  else
    fputs("null", f);
  if (comma) fputs(", ", f);
}

static int write_json(const char *path, const char *date, long cores,
                      const char *model, const bench_config *cfg,
                      uint64_t timer_ns, const bench_result *res, size_t n,
                      const ratio *rt, size_t nrt, double seconds) {
  if (mkdirs_for(path) != 0) {
    fprintf(stderr, "rill_bench: cannot make the directory of %s: %s\n", path,
            strerror(errno));
    return -1;
  }
  char tmp[1100];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  if (!f) {
    fprintf(stderr, "rill_bench: cannot write %s: %s\n", tmp, strerror(errno));
    return -1;
  }
  fprintf(f, "{\n  \"date\": \"%s\",\n  \"cores\": %ld,\n  \"cpu_model\": ",
          date, cores);
  json_string(f, model);
  fprintf(f, ",\n  \"os\": \"%s\",\n  \"heavy_barrier\": %s,\n"
          "  \"clock_period_ns\": %llu,", BENCH_OS_NAME,
          cfg->no_heavy_barrier || !strcmp(BENCH_OS_NAME, "windows") ? "false"
                                                                    : "true",
          (unsigned long long)bench_os_clock_period_ns());
  fprintf(f, "\n  \"quick\": %s,\n", cfg->quick ? "true" : "false");
  fprintf(f, "  \"huge_pages\": %s,\n", bench_rill_region_flags ? "true" : "false");
  fprintf(f, "  \"pinned\": %s,\n", cfg->cpu[0] >= 0 ? "true" : "false");
  if (cfg->cpu[0] >= 0)
    fprintf(f, "  \"cpus\": [%d, %d],\n", cfg->cpu[0], cfg->cpu[1]);
  else
    fprintf(f, "  \"cpus\": null,\n");
  fprintf(f, "  \"runs\": %u,\n  \"timer_overhead_ns\": %llu,\n", cfg->runs,
          (unsigned long long)timer_ns);
  fprintf(f, "  \"rill_version\": \"%d.%d\",\n  \"seconds\": %.1f,\n",
          RILL_VERSION_MAJOR, RILL_VERSION_MINOR, seconds);
  fputs("  \"peers\": ", f);
  bench_peers_json(f);
  fputs(",\n", f);
  fprintf(f, "  \"results\": [\n");
  for (size_t i = 0; i < n; i++) {
    const bench_result *r = &res[i];
    int tp = r->kind == BENCH_TPUT && !r->failed;
    int rt_ok = r->kind != BENCH_TPUT && !r->failed;
    int lat = r->kind == BENCH_LAT;
    fprintf(f, "    {\"name\": \"%s\", \"kind\": \"%s\", \"size\": %zu, ",
            r->name, kind_name(r->kind), r->size);
    json_u64_or_null(f, "rate_hz", lat, r->rate_hz, 1);
    json_num_or_null(f, "msgs_per_s", tp, r->msgs_per_s, "%.0f", 1);
    json_num_or_null(f, "gib_per_s", tp, r->gib_per_s, "%.4f", 1);
    json_u64_or_null(f, "p50_ns", rt_ok, r->p50, 1);
    json_u64_or_null(f, "p99_ns", rt_ok, r->p99, 1);
    json_u64_or_null(f, "p999_ns", rt_ok, r->p999, 1);
    json_u64_or_null(f, "max_ns", rt_ok, r->max, 1);
    fprintf(f, "\"errors\": %llu, \"peer\": %s, ",
            (unsigned long long)r->errors, r->tr->peer ? "true" : "false");
    fprintf(f, "\"runs\": %u, \"warmup\": %llu, ", r->runs,
            (unsigned long long)r->warm);
    json_num_or_null(f, "spread", r->runs > 1 && !r->failed, r->spread, "%.4f", 1);
    if (r->kind == BENCH_TPUT) {
      json_u64_or_null(f, "msgs_per_run", r->runs > 0, r->msgs_per_run, 1);
      fputs("\"run_msgs_per_s\": [", f);
      for (unsigned k = 0; k < r->runs; k++)
        fprintf(f, "%s%.0f", k ? ", " : "", r->run_msgs_per_s[k]);
      fputs("], \"samples\": null, \"run_p50_ns\": null, ", f);
    } else {
      fputs("\"msgs_per_run\": null, \"run_msgs_per_s\": null, ", f);
      json_u64_or_null(f, "samples", !r->failed, r->samples, 1);
      fputs("\"run_p50_ns\": [", f);
      for (unsigned k = 0; k < r->runs; k++)
        fprintf(f, "%s%llu", k ? ", " : "", (unsigned long long)r->run_p50[k]);
      fputs("], ", f);
    }
    json_num_or_null(f, "cpu_pct", lat && !r->failed, r->cpu_pct, "%.4f", 1);
    if (lat) {
      fputs("\"run_cpu_pct\": [", f);
      for (unsigned k = 0; k < r->runs; k++)
        fprintf(f, "%s%.4f", k ? ", " : "", r->run_cpu_pct[k]);
      fputs("], ", f);
    } else {
      fputs("\"run_cpu_pct\": null, ", f);
    }
    json_num_or_null(f, "seconds", 1, r->seconds, "%.2f", 1);
    json_num_or_null(f, "probe_ns", r->runs > 0, r->probe_ns, "%.0f", 1);
    fputs("\"run_probe_ns\": [", f);
    for (unsigned k = 0; k < r->runs; k++)
      fprintf(f, "%s%.0f", k ? ", " : "", r->run_probe_ns[k]);
    fputs("], ", f);
    fprintf(f, "\"failed\": %s, \"failure\": ", r->failed ? "true" : "false");
    if (r->failed)
      json_string(f, r->failure);
    else
      fputs("null", f);
    fprintf(f, "}%s\n", i + 1 < n ? "," : "");
  }
  fprintf(f, "  ],\n  \"ratios\": {");
  for (size_t i = 0; i < nrt; i++) {
    fprintf(f, "%s\n    ", i ? "," : "");
    json_string(f, rt[i].label);
    if (isfinite(rt[i].value))
      fprintf(f, ": %.4f", rt[i].value);
    else
      fputs(": null", f);
  }
  fprintf(f, "\n  },\n  \"ratios_paired\": {");
  for (size_t i = 0; i < nrt; i++) {
    fprintf(f, "%s\n    ", i ? "," : "");
    json_string(f, rt[i].label);
    if (isfinite(rt[i].paired))
      fprintf(f, ": %.4f", rt[i].paired);
    else
      fputs(": null", f);
  }
  fprintf(f, "\n  },\n  \"bars\": [");
  int nb = 0;
  for (size_t i = 0; i < nrt; i++) {
    if (!rt[i].op) continue;
    fprintf(f, "%s\n    {\"name\": ", nb++ ? "," : "");
    json_string(f, rt[i].label);
    fputs(", ", f);
    json_num_or_null(f, "value", 1, rt[i].value, "%.4f", 1);
    json_num_or_null(f, "paired", 1, rt[i].paired, "%.4f", 1);
    fprintf(f, "\"op\": \"%s\", \"threshold\": %g, \"met\": %s}", rt[i].op,
            rt[i].threshold, bar_met(&rt[i]));
  }
  fprintf(f, "\n  ]\n}\n");
  if (fclose(f) != 0 || bench_os_replace(tmp, path) != 0) {
    fprintf(stderr, "rill_bench: cannot write %s: %s\n", path, strerror(errno));
    unlink(tmp);
    return -1;
  }
  return 0;
}

/* ---- main --------------------------------------------------------------------- */

static int parse_sizes(const char *s, size_t *sizes, size_t *n) {
  *n = 0;
  while (*s) {
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (end == s || v < 8 || v > BENCH_MAX_SIZE || v % 8 || *n >= 16) return -1;
    sizes[(*n)++] = v;
    s = end;
    if (*s == ',') s++;
    else if (*s) return -1;
  }
  return *n ? 0 : -1;
}

/* Every transport of this build, for bench_transport_find(). */
static const bench_transport *const all_tr[] = {
    &bench_rill_copy, &bench_rill_zerocopy, &bench_rill_batch, &bench_rill_zcbatch,
    &bench_rill_alone, &bench_rill_sleep,
    &bench_rill_lowrate, &bench_ring, &bench_ring_batch, &bench_cacheline,
#ifdef _WIN32
    &bench_event,
#else
    &bench_pipe, &bench_unix, &bench_futex,
#endif
#ifdef RILL_HAVE_ZMQ
    &bench_zmq_pushpull, &bench_zmq_pair,
#endif
#ifdef RILL_HAVE_NNG
    &bench_nng_pushpull, &bench_nng_pair,
#endif
#ifdef RILL_HAVE_ICEORYX
    &bench_iceoryx,
#endif
};

const bench_transport *bench_transport_find(const char *name) {
  for (size_t i = 0; i < sizeof all_tr / sizeof all_tr[0]; i++)
    if (!strcmp(all_tr[i]->name, name)) return all_tr[i];
  return NULL;
}

int main(int argc, char **argv) {
  bench_os_init();
  if (argc > 1 && !strcmp(argv[1], "--bench-side"))
    return bench_harness_child_main(argc, argv); /* Windows: one side */
  if (argc > 1 && !strcmp(argv[1], "worker")) return bench_worker_main(argc, argv);
  bench_config cfg;
  memset(&cfg, 0, sizeof cfg);
  const char *out = NULL, *only = NULL, *dir_base = NULL;
  int runs_opt = 0, cpus_opt = 0;
  size_t sizes[16] = {8, 64, 256, 1024, 4096}, nsizes = 5;

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *val = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--quick")) {
      cfg.quick = 1;
    } else if (!strcmp(a, "--out") && val) {
      out = val;
      i++;
    } else if (!strcmp(a, "--runs") && val) {
      runs_opt = atoi(val);
      if (runs_opt < 1 || runs_opt > (int)BENCH_MAX_RUNS) {
        fprintf(stderr, "rill_bench: --runs must be 1..%u\n", BENCH_MAX_RUNS);
        return 2;
      }
      i++;
    } else if (!strcmp(a, "--cpus") && val) {
      if (sscanf(val, "%d,%d", &cfg.cpu[0], &cfg.cpu[1]) != 2 ||
          cfg.cpu[0] < 0 || cfg.cpu[1] < 0 ||
          cfg.cpu[0] >= bench_os_cpu_limit() ||
          cfg.cpu[1] >= bench_os_cpu_limit()) {
        fprintf(stderr, "rill_bench: --cpus wants two CPU numbers, A,B\n");
        return 2;
      }
      cpus_opt = 1;
      i++;
    } else if (!strcmp(a, "--dir") && val) {
      dir_base = val;
      i++;
    } else if (!strcmp(a, "--no-membarrier")) {
      cfg.no_heavy_barrier = 1;
    } else if (!strcmp(a, "--huge")) {
      bench_rill_region_flags |= RILL_REGION_HUGE;
    } else if (!strcmp(a, "--only") && val) {
      only = val;
      i++;
    } else if (!strcmp(a, "--sizes") && val) {
      if (parse_sizes(val, sizes, &nsizes)) {
        fprintf(stderr, "rill_bench: bad --sizes %s\n", val);
        return 2;
      }
      i++;
    } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      return 0;
    } else {
      usage(stderr);
      return 2;
    }
  }

  if (bench_rill_region_flags && !dir_base) {
    fprintf(stderr, "rill_bench: --huge needs --dir BASE, a hugetlbfs mount\n");
    return 2;
  }
  if (cfg.quick) {
    cfg.runs = 2;
    cfg.tput_target_ns = 10000000ull;    /* 10 ms per run    */
    cfg.tput_warm_ns = 4000000ull;       /* 4 ms batch       */
    cfg.rtt_per_run = 3000;
    cfg.rtt_run_max_ns = 500000000ull;   /* 0.5 s            */
    cfg.warm_min = 2000;
    cfg.warm_cap_ns = 5000000ull;        /* 5 ms             */
  } else {
    cfg.runs = 5;
    cfg.tput_target_ns = 200000000ull;   /* 200 ms per run   */
    cfg.tput_warm_ns = 30000000ull;      /* 30 ms batch      */
    cfg.rtt_per_run = 200000;            /* 5 x 200k = 1M    */
    cfg.rtt_run_max_ns = 5000000000ull;  /* 5 s              */
    /* rill's data ring holds (4096 + 2) * 4096 bytes: 8-byte messages take
     * 262,272 messages to touch every page of it once */
    cfg.warm_min = 300000;
    cfg.warm_cap_ns = 500000000ull;      /* 0.5 s            */
  }
  if (runs_opt) cfg.runs = (unsigned)runs_opt;
  cfg.child_deadline_ns = 120000000000ull; /* 2 min per run, at worst */

  /* CPUs: the first two this process may use, unless told */
  long cores = bench_os_cpus_online();
  if (!cpus_opt) {
    cfg.cpu[0] = cfg.cpu[1] = -1;
    if (bench_os_first_cpus(cfg.cpu) < 2) cfg.cpu[0] = cfg.cpu[1] = -1;
  }
  if (cfg.cpu[0] < 0) bench_single_cpu = 1;
  else if (cfg.cpu[0] == cfg.cpu[1]) bench_single_cpu = 1;
  cfg.single_cpu = bench_single_cpu;

  /* private directory for the regions */
  if (bench_os_private_dir(dir_base, g_dir, sizeof g_dir) != 0) {
    fprintf(stderr, "rill_bench: cannot make a private directory under %s: %s\n",
            dir_base ? dir_base : "the default places", strerror(errno));
    return 1;
  }
  atexit(cleanup_dir);
  bench_os_on_signals(on_signal);

  if (bench_harness_init() != 0) {
    fprintf(stderr, "rill_bench: cannot map the control block: %s\n",
            strerror(errno));
    return 1;
  }

  char date[32];
  bench_os_utc_date(date, sizeof date);
  char model[256];
  bench_os_cpu_model(model, sizeof model);
  uint64_t timer_ns = bench_timer_overhead_ns();

  printf("rill_bench %d.%d (%s)  %s  %s%s\n", RILL_VERSION_MAJOR,
         RILL_VERSION_MINOR, BENCH_OS_NAME, date, model,
         cfg.quick ? "  (quick)" : "");
  if (bench_os_clock_period_ns() > 1)
    printf("the clock ticks every %llu ns: round-trip samples are multiples "
           "of it\n", (unsigned long long)bench_os_clock_period_ns());
  if (cfg.no_heavy_barrier)
    printf("--no-membarrier: rill's heavy barrier is refused; its producer "
           "fences after every publish (as on Windows)\n");
  if (bench_rill_region_flags)
    printf("--huge: rill's regions are of huge pages (RILL_REGION_HUGE, in %s)\n", dir_base);
  if (cfg.cpu[0] >= 0 && cfg.cpu[0] != cfg.cpu[1])
    printf("%ld CPUs online; side 0 (producer/pinger) on CPU %d, side 1 "
           "(consumer/ponger) on CPU %d\n",
           cores, cfg.cpu[0], cfg.cpu[1]);
  else if (cfg.cpu[0] >= 0)
    printf("%ld CPUs online; both sides on CPU %d: busy-polling numbers are "
           "not meaningful\n", cores, cfg.cpu[0]);
  else
    printf("%ld CPU(s) online, fewer than two usable: running UNPINNED, "
           "spinners yield; busy-polling numbers are not meaningful\n",
           cores);
  printf("%u runs per row, interleaved across transports, each in a fresh pair "
         "of processes with its own warm-up.\n"
         "throughput: median of the runs (~%llu ms each).  rtt: %u x %llu "
         "round trips pooled (a run stops after %.1f s);\n"
         "rill-sleep and the kernel's reference (both sides parked): %u x %llu.  latency: "
         "one-way, sent at the msgs/s shown.\n"
         "timer overhead %llu ns (inside every RTT sample).  spread = (max - "
         "min) / median of the runs.\n"
         "line = median cache-line round trip (ns) of each run's two "
         "processes, measured just before the run.\n\n",
         cfg.runs, (unsigned long long)(cfg.tput_target_ns / 1000000), cfg.runs,
         (unsigned long long)cfg.rtt_per_run, (double)cfg.rtt_run_max_ns / 1e9,
         cfg.runs, (unsigned long long)bench_rtt_per_run(&cfg, &bench_rill_sleep),
         (unsigned long long)timer_ns);

  /* the real peers come after rill and the references; a peer this build
   * does not have is left out (bench_peers_print_skipped() said so) */
  const bench_transport *tput_tr[] = {&bench_rill_copy, &bench_rill_zerocopy,
                                      &bench_rill_batch, &bench_rill_zcbatch,
                                      &bench_ring, &bench_ring_batch, &bench_rill_alone,
#ifndef _WIN32
                                      &bench_pipe, &bench_unix,
#endif
#ifdef RILL_HAVE_ZMQ
                                      &bench_zmq_pushpull, &bench_zmq_pair,
#endif
#ifdef RILL_HAVE_NNG
                                      &bench_nng_pushpull, &bench_nng_pair,
#endif
#ifdef RILL_HAVE_ICEORYX
                                      &bench_iceoryx,
#endif
  };
  const bench_transport *rtt_tr[] = {&bench_cacheline, &bench_ring,
                                     &bench_rill_copy, &bench_rill_zerocopy,
#ifdef _WIN32
                                     &bench_rill_sleep, &bench_event,
#else
                                     &bench_pipe, &bench_unix,
                                     &bench_rill_sleep, &bench_futex,
#endif
#ifdef RILL_HAVE_ZMQ
                                     &bench_zmq_pair,
#endif
#ifdef RILL_HAVE_NNG
                                     &bench_nng_pair,
#endif
#ifdef RILL_HAVE_ICEORYX
                                     &bench_iceoryx,
#endif
  };
  const size_t ntput_tr = sizeof tput_tr / sizeof tput_tr[0];
  const size_t nrtt_tr = sizeof rtt_tr / sizeof rtt_tr[0];
  /* the low-rate rows: their rate, and how long all runs of the row send */
  static const struct {
    unsigned hz;
    uint64_t ns, quick_ns;
  } lowrate[2] = {{100, 3000000000ull, 300000000ull},
                  {10000, 2000000000ull, 200000000ull}};
  size_t ntests_max = nsizes * ntput_tr + nrtt_tr + 2;
  bench_result *res = calloc(ntests_max, sizeof *res);
  bench_shared samples_sh;
  if (!res || bench_os_shared_new(&samples_sh,
                                  cfg.rtt_per_run * sizeof(uint64_t)) != 0) {
    fprintf(stderr, "rill_bench: out of memory\n");
    return 1;
  }
  size_t nres = 0;
  int failures = 0;
  uint64_t errors = 0, peer_errors = 0;
  uint64_t *shared_samples = samples_sh.p;
  uint64_t t_start = bench_now_ns();

  bench_peers_print_skipped();
  print_header_row();
  /* A group is every transport at one size and kind (the two low-rate rows
   * are one group).  Runs are interleaved (run 1 of each row, then run 2 of
   * each, ...) so that slow drifts of the machine touch every row alike. */
  for (size_t g = 0; g < nsizes + 2; g++) {
    int kind = g < nsizes ? BENCH_TPUT : g == nsizes ? BENCH_RTT : BENCH_LAT;
    size_t first = nres;
    size_t nl = kind == BENCH_TPUT ? ntput_tr : kind == BENCH_RTT ? nrtt_tr : 2;
    for (size_t ti = 0; ti < nl; ti++) {
      const bench_transport *tr = kind == BENCH_TPUT ? tput_tr[ti]
                                  : kind == BENCH_RTT ? rtt_tr[ti]
                                                      : &bench_rill_lowrate;
      if (!in_list(only, tr->name)) continue;
      bench_result *r = &res[nres++];
      r->tr = tr;
      r->name = tr->name;
      r->kind = kind;
      r->size = kind == BENCH_TPUT ? sizes[g]
                : kind == BENCH_RTT ? 8 : BENCH_LOWRATE_SIZE;
      if (kind == BENCH_RTT) r->per_run = bench_rtt_per_run(&cfg, tr);
      if (kind == BENCH_LAT) {
        r->rate_hz = lowrate[ti].hz;
        uint64_t ns = cfg.quick ? lowrate[ti].quick_ns : lowrate[ti].ns;
        r->per_run = r->rate_hz * ns / 1000000000ull / cfg.runs;
        if (r->per_run < 10) r->per_run = 10;
        if (r->per_run > cfg.rtt_per_run) r->per_run = cfg.rtt_per_run;
      }
      if (kind != BENCH_TPUT) {
        r->pool = malloc((size_t)cfg.runs * r->per_run * sizeof(uint64_t));
        if (!r->pool) {
          fprintf(stderr, "rill_bench: out of memory\n");
          return 1;
        }
      }
    }
    for (unsigned run = 0; run < cfg.runs; run++) {
      for (size_t i = first; i < nres; i++) {
        bench_result *r = &res[i];
        if (r->failed) continue;
        bench_test t;
        memset(&t, 0, sizeof t);
        t.tr = r->tr;
        t.kind = kind;
        t.size = r->size;
        if (kind == BENCH_LAT) {
          t.period_ns = 1000000000ull / r->rate_hz;
          t.lat_count = r->per_run;
        }
        snprintf(t.dir, sizeof t.dir, "%s", g_dir);
        bench_run_out o;
        uint64_t t_run = bench_now_ns();
        int rc = bench_run_once(&cfg, &t, &samples_sh, &o);
        r->seconds += (double)(bench_now_ns() - t_run) / 1e9;
        r->errors += o.errors;
        if (rc != 0) {
          r->failed = 1;
          snprintf(r->failure, sizeof r->failure, "run %u: %s", run + 1,
                   o.failure);
          continue;
        }
        r->warm = o.warm;
        r->run_probe_ns[r->runs] = (double)o.probe_ns;
        if (kind == BENCH_TPUT) {
          r->msgs_per_run = o.count;
          r->run_msgs_per_s[r->runs] = (double)o.count * 1e9 / (double)o.ns;
        } else {
          uint64_t *dst = r->pool + r->samples;
          memcpy(dst, shared_samples, o.samples * sizeof(uint64_t));
          bench_sort_u64(dst, o.samples);
          r->run_p50[r->runs] = bench_quantile_sorted(dst, o.samples, 0.5);
          r->samples += o.samples;
          if (kind == BENCH_LAT) {
            r->cpu_ns += o.cpu_ns;
            r->wall_ns += o.wall_ns;
            r->run_cpu_pct[r->runs] =
                o.wall_ns ? 100.0 * (double)o.cpu_ns / (double)o.wall_ns : 0;
          }
        }
        r->runs++;
      }
    }
    for (size_t i = first; i < nres; i++) {
      finish_row(&res[i]);
      if (res[i].failed) failures++;
      if (res[i].tr->peer)
        peer_errors += res[i].errors; /* shown, not fatal: see print_row() */
      else
        errors += res[i].errors;
      print_row(&res[i]);
    }
  }
  bench_os_shared_free(&samples_sh);
  double seconds = (double)(bench_now_ns() - t_start) / 1e9;

  ratio rt[64];
  size_t nrt = compute_ratios(res, nres, rt, sizeof rt / sizeof rt[0]);
  printf("\nratios (from this run)                             of medians  "
         "paired\n");
  for (size_t i = 0; i < nrt; i++) {
    char v1[32] = "n/a", v2[32] = "n/a";
    if (isfinite(rt[i].value)) snprintf(v1, sizeof v1, "%.3f", rt[i].value);
    if (isfinite(rt[i].paired)) snprintf(v2, sizeof v2, "%.3f", rt[i].paired);
    else if (rt[i].single) snprintf(v2, sizeof v2, "-");
    printf("  %-48s %10s %7s\n", rt[i].label, v1, v2);
  }
  printf("  (paired: median over runs of run r / run r; the runs with the same "
         "index ran\n   one after the other, so this cancels slower drifts of "
         "the machine)\n");
  printf("\nbars (the README quotes them)                    of medians  "
         "paired      bar\n");
  for (size_t i = 0; i < nrt; i++) {
    if (!rt[i].op) continue;
    char v1[32] = "n/a", v2[32] = "n/a", bar[32];
    if (isfinite(rt[i].value)) snprintf(v1, sizeof v1, "%.2f", rt[i].value);
    if (isfinite(rt[i].paired)) snprintf(v2, sizeof v2, "%.2f", rt[i].paired);
    snprintf(bar, sizeof bar, "%s %g", rt[i].op, rt[i].threshold);
    const char *met = bar_met(&rt[i]);
    printf("  %-48s %10s %7s %8s  %s\n", rt[i].label, v1, v2, bar,
           !strcmp(met, "true") ? "met" : !strcmp(met, "false") ? "NOT met"
                                                                : "n/a");
  }
  printf("\n%zu rows in %.1f s; %d failed; %llu errors; %llu wrong or lost "
         "messages from peers (reported only)\n",
         nres, seconds, failures, (unsigned long long)errors,
         (unsigned long long)peer_errors);

  int rc = failures || errors ? 1 : 0;
  if (out) {
    if (write_json(out, date, cores, model, &cfg, timer_ns, res, nres, rt, nrt,
                   seconds) != 0)
      rc = 1;
    else
      printf("results written to %s\n", out);
  }
  free(res);
  return rc;
}
