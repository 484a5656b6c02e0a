/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill_bench: rows, the one shape of every measurement.
 *
 * Every suite (the in-process transports of the harness, the other
 * languages' workers, request/response, rust-tango, scaling) makes rows
 * and a function that runs one run of a row.  This file runs them
 * interleaved, takes the medians and percentiles (the one set of
 * statistics), prints the table, divides rows into ratios and bars, and
 * writes the JSON (docs/benchmark.md, "JSON").
 */
#include "bench.h"

#include <rill.h>

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* ---- statistics ------------------------------------------------------------ */

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

void bench_sort_u64(uint64_t *v, size_t n) { qsort(v, n, sizeof *v, cmp_u64); }

uint64_t bench_quantile_sorted(const uint64_t *v, size_t n, double q) {
  if (n == 0) return 0;
  size_t rank = (size_t)ceil(q * (double)n); /* nearest rank, 1-based */
  if (rank < 1) rank = 1;
  if (rank > n) rank = n;
  return v[rank - 1];
}

double bench_median(const double *v, size_t n) {
  if (n == 0) return NAN;
  double *tmp = malloc(n * sizeof *tmp);
  if (!tmp) return NAN;
  memcpy(tmp, v, n * sizeof *v);
  qsort(tmp, n, sizeof *tmp, cmp_double);
  double m = n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
  free(tmp);
  return m;
}

/* ---- one row's runs ---------------------------------------------------------- */

bench_row *bench_row_new(bench_rows *s) {
  if (s->n == BENCH_MAX_ROWS) return NULL;
  bench_row *r = &s->v[s->n++];
  memset(r, 0, sizeof *r);
  return r;
}

static int pool_add(bench_row *r, const uint64_t *v, size_t n) {
  if (r->npool + n > r->cap) {
    size_t cap = r->cap ? r->cap : 4096;
    while (cap < r->npool + n) cap *= 2;
    uint64_t *p = realloc(r->pool, cap * sizeof *p);
    if (!p) return -1;
    r->pool = p;
    r->cap = cap;
  }
  memcpy(r->pool + r->npool, v, n * sizeof *v);
  r->npool += n;
  return 0;
}

/* The run's samples, sorted: its own percentiles, then pooled (or, for a
 * median_run row, kept only as percentiles). */
static int add_samples(bench_row *r, bench_run_out *o) {
  uint64_t *v = o->samples;
  size_t n = o->nsamples;
  if (!r->median_run) {
    size_t from = r->npool;
    if (pool_add(r, o->samples, o->nsamples)) return -1;
    v = r->pool + from;
  }
  bench_sort_u64(v, n);
  unsigned k = r->runs;
  r->run_p50[k] = bench_quantile_sorted(v, n, 0.50);
  r->run_p99[k] = bench_quantile_sorted(v, n, 0.99);
  r->run_p999[k] = bench_quantile_sorted(v, n, 0.999);
  r->run_max[k] = n ? v[n - 1] : 0;
  r->run_samples[k] = n;
  return 0;
}

/* Adds one run's result to R. */
static void row_add(bench_row *r, unsigned run, bench_run_out *o) {
  r->errors += o->errors;
  if (o->failed) {
    r->failed = 1;
    snprintf(r->failure, sizeof r->failure, "run %u: %s", run + 1, o->failure);
    return;
  }
  unsigned k = r->runs;
  r->warm = o->warm;
  r->run_probe_ns[k] = o->probe_ns ? (double)o->probe_ns : NAN;
  if (o->ns || o->rate > 0) {
    r->msgs_per_run = o->count;
    r->run_msgs_per_s[k] = o->rate > 0 ? o->rate : (double)o->count * 1e9 / (double)o->ns;
  }
  if (o->samples && add_samples(r, o)) {
    r->failed = 1;
    snprintf(r->failure, sizeof r->failure, "run %u: out of memory for samples", run + 1);
    return;
  }
  if (r->kind == BENCH_LAT) {
    r->cpu_ns += o->cpu_ns;
    r->wall_ns += o->wall_ns;
    r->run_cpu_pct[k] = o->wall_ns ? 100.0 * (double)o->cpu_ns / (double)o->wall_ns : 0;
  }
  for (int i = 0; i < BENCH_MAX_DETAIL; i++) r->run_det[i][k] = o->det[i];
  r->runs++;
}

/* The value the row is known by in run K: its rate, or its p50. */
static double run_value(const bench_row *r, unsigned k) {
  return r->kind == BENCH_TPUT || r->kind == BENCH_RPC ? r->run_msgs_per_s[k]
                                                      : (double)r->run_p50[k];
}

static double median_of_finite(const double *v, unsigned n) {
  double t[BENCH_MAX_RUNS];
  unsigned m = 0;
  for (unsigned i = 0; i < n; i++)
    if (isfinite(v[i])) t[m++] = v[i];
  return bench_median(t, m);
}

/* Medians, percentiles and spread of a row whose runs are done. */
static void row_finish(bench_row *r) {
  if (r->runs > 0) {
    double v[BENCH_MAX_RUNS], lo, hi;
    for (unsigned i = 0; i < r->runs; i++) v[i] = run_value(r, i);
    lo = hi = v[0];
    for (unsigned i = 1; i < r->runs; i++) {
      if (v[i] < lo) lo = v[i];
      if (v[i] > hi) hi = v[i];
    }
    double med = bench_median(v, r->runs);
    r->spread = med > 0 ? (hi - lo) / med : 0;
    r->probe_ns = median_of_finite(r->run_probe_ns, r->runs);
    if (r->kind == BENCH_TPUT || r->kind == BENCH_RPC) {
      r->msgs_per_s = med;
      r->gib_per_s = med * (double)r->size / (1024.0 * 1024 * 1024);
    }
    if (r->median_run) {
      /* the run whose rate is the median (the slower of the middle two) */
      unsigned m = 0, below;
      for (unsigned i = 0; i < r->runs; i++) {
        below = 0;
        for (unsigned j = 0; j < r->runs; j++)
          below += run_value(r, j) < run_value(r, i) ||
                   (run_value(r, j) == run_value(r, i) && j < i);
        if (below == (r->runs - 1) / 2) m = i;
      }
      r->p50 = r->run_p50[m], r->p99 = r->run_p99[m], r->p999 = r->run_p999[m];
      r->max = r->run_max[m], r->samples = r->run_samples[m];
    } else if (r->npool > 0) {
      bench_sort_u64(r->pool, r->npool);
      r->samples = r->npool;
      r->p50 = bench_quantile_sorted(r->pool, r->npool, 0.50);
      r->p99 = bench_quantile_sorted(r->pool, r->npool, 0.99);
      r->p999 = bench_quantile_sorted(r->pool, r->npool, 0.999);
      r->max = r->pool[r->npool - 1];
    }
    if (r->kind == BENCH_LAT && r->wall_ns > 0)
      r->cpu_pct = 100.0 * (double)r->cpu_ns / (double)r->wall_ns;
    for (int i = 0; i < BENCH_MAX_DETAIL; i++) {
      if (!r->detail[i]) continue;
      if ((r->detail_sum >> i) & 1) {
        double s = 0;
        for (unsigned k = 0; k < r->runs; k++)
          if (isfinite(r->run_det[i][k])) s += r->run_det[i][k];
        r->det[i] = s;
      } else {
        r->det[i] = median_of_finite(r->run_det[i], r->runs);
      }
    }
  }
  free(r->pool);
  r->pool = NULL;
  r->npool = r->cap = 0;
}

void bench_rows_run(const bench_config *cfg, bench_row *first, size_t n,
                    unsigned runs, int alternate) {
  for (unsigned run = 0; run < runs; run++) {
    for (size_t j = 0; j < n; j++) {
      bench_row *r = &first[alternate && run % 2 ? n - 1 - j : j];
      if (r->failed) continue;
      bench_run_out o;
      memset(&o, 0, sizeof o);
      for (int i = 0; i < BENCH_MAX_DETAIL; i++) o.det[i] = NAN;
      uint64_t t0 = bench_now_ns();
      if (r->run(cfg, r, run, &o) && !o.failed) {
        o.failed = 1;
        snprintf(o.failure, sizeof o.failure, "failed");
      }
      r->seconds += (double)(bench_now_ns() - t0) / 1e9;
      row_add(r, run, &o);
    }
  }
  for (size_t i = 0; i < n; i++) {
    row_finish(&first[i]);
    bench_row_print(&first[i]);
  }
}

/* ---- finding rows ---------------------------------------------------------- */

static int same_str(const char *a, const char *b) {
  return a == b || (a && b && !strcmp(a, b));
}

const bench_row *bench_row_find(const bench_rows *s, const bench_row *q) {
  for (size_t i = 0; i < s->n; i++) {
    const bench_row *r = &s->v[i];
    if (!r->failed && r->runs > 0 && r->kind == q->kind && r->size == q->size &&
        r->rate_hz == q->rate_hz && r->consumers == q->consumers &&
        r->channels == q->channels && r->inflight == q->inflight &&
        r->workers == q->workers && r->lossy == q->lossy && same_str(r->suite, q->suite) &&
        same_str(r->name, q->name) && same_str(r->method, q->method) &&
        same_str(r->producer, q->producer) && same_str(r->consumer, q->consumer))
      return r;
  }
  return NULL;
}

/* ---- the printed table ------------------------------------------------------- */

static const char *kind_name(int kind) {
  return kind == BENCH_TPUT ? "throughput" : kind == BENCH_RTT ? "rtt"
                                           : kind == BENCH_LAT ? "latency"
                                                               : "rpc";
}

void bench_row_label(const bench_row *r, char *buf, size_t len) {
  size_t l = (size_t)snprintf(buf, len, "%s%s%s", strcmp(r->suite, "core") ? r->suite : "",
                              strcmp(r->suite, "core") ? " " : "", r->name);
#define ADD(...) \
  do { \
    if (l < len) l += (size_t)snprintf(buf + l, len - l, __VA_ARGS__); \
  } while (0)
  if (r->method) ADD(" %s", r->method);
  if (r->producer && (!strcmp(r->suite, "lang") || !strcmp(r->suite, "rpc")))
    ADD(" %s%s%s", r->producer, r->kind == BENCH_TPUT ? "->" : "<->", r->consumer);
  if (r->consumers) ADD(" x%u%s", r->consumers, r->lossy ? " lossy" : "");
  if (r->channels) ADD(" %uch", r->channels);
  if (r->workers) ADD(" -w%u @%u", r->workers, r->inflight);
  else if (r->inflight) ADD(" @%u", r->inflight);
#undef ADD
}

void bench_rows_print_header(void) {
  printf("%-30s %-10s %5s %10s %8s %7s %7s %8s %9s %6s %5s %6s\n", "name", "kind",
         "size", "msgs/s", "GiB/s", "p50 ns", "p99 ns", "p99.9 ns", "max ns", "spread",
         "line", "errors");
}

void bench_row_print(const bench_row *r) {
  char a[32] = "-", b[32] = "-", c[32] = "-", d[32] = "-", e[32] = "-", g[32] = "-",
       sp[32] = "-", ln[32] = "-", name[64];
  bench_row_label(r, name, sizeof name);
  int rate = r->kind == BENCH_TPUT || r->kind == BENCH_RPC;
  if (r->runs > 0 && isfinite(r->probe_ns)) snprintf(ln, sizeof ln, "%.0f", r->probe_ns);
  if (!r->failed && r->runs > 1) snprintf(sp, sizeof sp, "%.0f%%", r->spread * 100);
  if (!r->failed && rate) {
    snprintf(a, sizeof a, "%.3fM", r->msgs_per_s / 1e6);
    if (r->kind == BENCH_TPUT) snprintf(b, sizeof b, "%.3f", r->gib_per_s);
  }
  if (!r->failed && r->kind == BENCH_LAT) snprintf(a, sizeof a, "%u", r->rate_hz);
  if (!r->failed && r->samples) {
    snprintf(c, sizeof c, "%llu", (unsigned long long)r->p50);
    snprintf(d, sizeof d, "%llu", (unsigned long long)r->p99);
    snprintf(e, sizeof e, "%llu", (unsigned long long)r->p999);
    snprintf(g, sizeof g, "%llu", (unsigned long long)r->max);
  }
  printf("%-30s %-10s %5zu %10s %8s %7s %7s %8s %9s %6s %5s %6llu%s\n", name,
         kind_name(r->kind), r->size, a, b, c, d, e, g, sp, ln,
         (unsigned long long)r->errors, r->failed ? "  FAILED" : "");
  if (r->failed) printf("    failure: %s\n", r->failure);
  else if (r->kind == BENCH_LAT && r->wall_ns)
    printf("    (one-way, %u msgs/s paced; consumer CPU %.3f%% of its wall "
           "time, user+sys)\n", r->rate_hz, r->cpu_pct);
  else if (r->kind == BENCH_LAT)
    printf("    (one-way, %u msgs/s paced)\n", r->rate_hz);
  else if (r->kind == BENCH_RTT && r->per_run && r->samples < (uint64_t)r->runs * r->per_run)
    printf("    (%llu round trips pooled: runs stopped at their time limit)\n",
           (unsigned long long)r->samples);
  if (r->peer && r->errors)
    printf("    (%llu wrong or lost messages handed over by %s: counted and "
           "shown, they do not fail the run)\n",
           (unsigned long long)r->errors, r->name);
  fflush(stdout);
}

/* ---- ratios and bars ------------------------------------------------------- */

static double row_value(const bench_row *r) {
  return r->kind == BENCH_TPUT || r->kind == BENCH_RPC ? r->msgs_per_s : (double)r->p50;
}

bench_ratio *bench_ratio_add(bench_ratios *s, const char *suite, const bench_row *a,
                             const bench_row *b, const char *op, double threshold,
                             const char *fmt, ...) {
  if (s->n == BENCH_MAX_RATIOS) return NULL;
  bench_ratio *o = &s->v[s->n++];
  memset(o, 0, sizeof *o);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(o->label, sizeof o->label, fmt, ap);
  va_end(ap);
  o->suite = suite;
  o->op = op;
  o->threshold = threshold;
  o->value = o->paired = NAN;
  if (!a || !b) return o;
  double y = row_value(b);
  o->value = y > 0 ? row_value(a) / y : NAN;
  /* paired: the median over r of (run r of A) / (run r of B); runs with the
   * same index ran next to each other in time */
  if (a->runs != b->runs || a->runs == 0) return o;
  double v[BENCH_MAX_RUNS];
  for (unsigned i = 0; i < a->runs; i++) {
    if (!(run_value(b, i) > 0)) return o;
    v[i] = run_value(a, i) / run_value(b, i);
  }
  o->paired = bench_median(v, a->runs);
  return o;
}

/* A bar is judged on the paired ratio where there is one: run r of each row
 * ran next to the other's run r, and this host has slow phases that last a
 * few runs, which the ratio of two medians taken at different times mixes
 * in.  Without one (a row of one value, or runs missing), on the ratio of
 * the medians. */
const char *bench_bar_met(const bench_ratio *r) {
  double v = isfinite(r->paired) ? r->paired : r->value;
  if (!isfinite(v)) return "null";
  int met = r->op[0] == '>' ? v >= r->threshold : v <= r->threshold;
  return met ? "true" : "false";
}

/* ---- JSON ------------------------------------------------------------------- */

void bench_json_string(FILE *f, const char *s) {
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

/* "KEY": value, (or null); then ", " */
static void j_str(FILE *f, const char *key, const char *v) {
  fprintf(f, "\"%s\": ", key);
  if (v) bench_json_string(f, v);
  else fputs("null", f);
  fputs(", ", f);
}

static void j_u64(FILE *f, const char *key, int have, uint64_t v) {
  if (have) fprintf(f, "\"%s\": %llu, ", key, (unsigned long long)v);
  else fprintf(f, "\"%s\": null, ", key);
}

static void j_num(FILE *f, const char *key, int have, double v, const char *fmt) {
  fprintf(f, "\"%s\": ", key);
  if (have && isfinite(v)) fprintf(f, fmt, v);
  else fputs("null", f);
  fputs(", ", f);
}

/* "KEY": [v, ...] of the row's runs, or null */
static void j_runs_d(FILE *f, const char *key, int have, const double *v, unsigned n,
                     const char *fmt) {
  fprintf(f, "\"%s\": ", key);
  if (!have) {
    fputs("null, ", f);
    return;
  }
  fputc('[', f);
  for (unsigned k = 0; k < n; k++) {
    if (k) fputs(", ", f);
    if (isfinite(v[k])) fprintf(f, fmt, v[k]);
    else fputs("null", f);
  }
  fputs("], ", f);
}

static void j_runs_u(FILE *f, const char *key, int have, const uint64_t *v, unsigned n) {
  fprintf(f, "\"%s\": ", key);
  if (!have) {
    fputs("null, ", f);
    return;
  }
  fputc('[', f);
  for (unsigned k = 0; k < n; k++) fprintf(f, "%s%llu", k ? ", " : "", (unsigned long long)v[k]);
  fputs("], ", f);
}

static void j_row(FILE *f, const bench_row *r) {
  int ok = !r->failed && r->runs > 0;
  int rate = r->kind == BENCH_TPUT || r->kind == BENCH_RPC;
  int pct = ok && r->samples > 0, lat = r->kind == BENCH_LAT;
  fputs("    {", f);
  j_str(f, "suite", r->suite);
  j_str(f, "name", r->name);
  j_str(f, "kind", kind_name(r->kind));
  j_str(f, "method", r->method);
  j_str(f, "producer", r->producer);
  j_str(f, "consumer", r->consumer);
  fprintf(f, "\"size\": %zu, ", r->size);
  j_u64(f, "rate_hz", lat, r->rate_hz);
  j_u64(f, "consumers", r->consumers > 0, r->consumers);
  j_u64(f, "channels", r->channels > 0, r->channels);
  j_u64(f, "inflight", r->inflight > 0, r->inflight);
  j_u64(f, "workers", r->workers > 0, r->workers);
  fprintf(f, "\"lossy\": %s, ", r->lossy ? "true" : "false");
  j_num(f, "msgs_per_s", ok && rate, r->msgs_per_s, "%.0f");
  j_num(f, "gib_per_s", ok && r->kind == BENCH_TPUT, r->gib_per_s, "%.4f");
  j_u64(f, "p50_ns", pct, r->p50);
  j_u64(f, "p99_ns", pct, r->p99);
  j_u64(f, "p999_ns", pct, r->p999);
  j_u64(f, "max_ns", pct, r->max);
  fprintf(f, "\"errors\": %llu, \"peer\": %s, \"runs\": %u, ", (unsigned long long)r->errors,
          r->peer ? "true" : "false", r->runs);
  j_u64(f, "warmup", r->runs > 0, r->warm);
  j_num(f, "spread", ok && r->runs > 1, r->spread, "%.4f");
  j_u64(f, "msgs_per_run", rate && r->runs > 0, r->msgs_per_run);
  j_runs_d(f, "run_msgs_per_s", rate, r->run_msgs_per_s, r->runs, "%.0f");
  j_u64(f, "samples", pct, r->samples);
  j_runs_u(f, "run_p50_ns", r->kind != BENCH_TPUT, r->run_p50, r->runs);
  j_num(f, "cpu_pct", ok && lat && r->wall_ns, r->cpu_pct, "%.4f");
  j_runs_d(f, "run_cpu_pct", lat && r->wall_ns, r->run_cpu_pct, r->runs, "%.4f");
  j_num(f, "seconds", 1, r->seconds, "%.2f");
  j_num(f, "probe_ns", r->runs > 0, r->probe_ns, "%.0f");
  j_runs_d(f, "run_probe_ns", 1, r->run_probe_ns, r->runs, "%.0f");
  fputs("\"detail\": ", f);
  int nd = 0;
  for (int i = 0; i < BENCH_MAX_DETAIL; i++) {
    if (!r->detail[i]) continue;
    fprintf(f, "%s\"%s\": ", nd++ ? ", " : "{", r->detail[i]);
    double v = r->det[i];
    /* A count (lost, bad, ...) whole, not rounded to 6 digits; the rest
     * (ns, ratios) to 6 significant digits. */
    if (!ok || !isfinite(v)) fputs("null", f);
    else if (v == floor(v) && fabs(v) < 9007199254740992.0) fprintf(f, "%.0f", v);
    else fprintf(f, "%.6g", v);
  }
  fputs(nd ? "}, " : "null, ", f);
  fprintf(f, "\"failed\": %s, \"failure\": ", r->failed ? "true" : "false");
  if (r->failed) bench_json_string(f, r->failure);
  else fputs("null", f);
  fputc('}', f);
}

static void j_ratios(FILE *f, const bench_ratios *rt, int paired) {
  for (size_t i = 0; i < rt->n; i++) {
    fprintf(f, "%s\n    ", i ? "," : "");
    bench_json_string(f, rt->v[i].label);
    double v = paired ? rt->v[i].paired : rt->v[i].value;
    if (isfinite(v)) fprintf(f, ": %.4f", v);
    else fputs(": null", f);
  }
}

int bench_json_write(const char *path, const bench_config *cfg, const bench_info *in,
                     const bench_rows *rows, const bench_ratios *rt) {
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
  fprintf(f, "{\n  \"format\": 2,\n  \"date\": \"%s\",\n  \"cores\": %ld,\n  \"cpu_model\": ",
          in->date, in->cores);
  bench_json_string(f, in->model);
  fprintf(f, ",\n  \"os\": \"%s\",\n  \"heavy_barrier\": %s,\n  \"clock_period_ns\": %llu,",
          BENCH_OS_NAME,
          cfg->no_heavy_barrier || !strcmp(BENCH_OS_NAME, "windows") ? "false" : "true",
          (unsigned long long)bench_os_clock_period_ns());
  fprintf(f, "\n  \"quick\": %s,\n", cfg->quick ? "true" : "false");
  fprintf(f, "  \"huge_pages\": %s,\n", bench_rill_region_flags ? "true" : "false");
  fprintf(f, "  \"pinned\": %s,\n", cfg->cpu[0] >= 0 ? "true" : "false");
  if (cfg->cpu[0] >= 0) fprintf(f, "  \"cpus\": [%d, %d],\n", cfg->cpu[0], cfg->cpu[1]);
  else fprintf(f, "  \"cpus\": null,\n");
  fprintf(f, "  \"runs\": %u,\n  \"timer_overhead_ns\": %llu,\n", cfg->runs,
          (unsigned long long)in->timer_ns);
  fprintf(f, "  \"rill_version\": \"%d.%d\",\n  \"seconds\": %.1f,\n", RILL_VERSION_MAJOR,
          RILL_VERSION_MINOR, in->seconds);
  fputs("  \"peers\": ", f);
  bench_peers_json(f);
  fprintf(f, ",\n  \"software\": {%s},\n  \"skipped\": {%s},\n  \"results\": [\n",
          in->software, in->skipped);
  for (size_t i = 0; i < rows->n; i++) {
    j_row(f, &rows->v[i]);
    fputs(i + 1 < rows->n ? ",\n" : "\n", f);
  }
  fputs("  ],\n  \"ratios\": {", f);
  j_ratios(f, rt, 0);
  fputs("\n  },\n  \"ratios_paired\": {", f);
  j_ratios(f, rt, 1);
  fputs("\n  },\n  \"bars\": [", f);
  int nb = 0;
  for (size_t i = 0; i < rt->n; i++) {
    const bench_ratio *b = &rt->v[i];
    if (!b->op) continue;
    fprintf(f, "%s\n    {\"suite\": \"%s\", \"name\": ", nb++ ? "," : "", b->suite);
    bench_json_string(f, b->label);
    fputs(", ", f);
    j_num(f, "value", 1, b->value, "%.4f");
    j_num(f, "paired", 1, b->paired, "%.4f");
    fprintf(f, "\"op\": \"%s\", \"threshold\": %g, \"met\": %s, \"note\": ", b->op,
            b->threshold, bench_bar_met(b));
    if (b->note[0]) bench_json_string(f, b->note);
    else fputs("null", f);
    fputc('}', f);
  }
  fputs("\n  ]\n}\n", f);
  if (fclose(f) != 0 || bench_os_replace(tmp, path) != 0) {
    fprintf(stderr, "rill_bench: cannot write %s: %s\n", path, strerror(errno));
    unlink(tmp);
    return -1;
  }
  return 0;
}
