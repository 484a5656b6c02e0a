/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill_bench: throughput and round-trip latency of rill against the hardware
 * floor, simple references and real peers (ZeroMQ, nng, iceoryx, when this
 * build has them), in one run, on the same pinned cores.
 *
 *   rill_bench [--quick] [--out PATH] [--runs N] [--cpus A,B]
 *              [--only NAME,...] [--sizes N,...] [--dir BASE]
 *              [--no-membarrier] [--huge] [--suites LIST] [--workers DIR]
 *
 * The same sources build for Linux and Windows (bench/os.h).
 *
 * See docs/benchmark.md.
 */
#include "bench.h"
#include "suites.h"

#include <rill.h>

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

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
#ifndef _WIN32
  bench_bridge_on_signal();
#endif
  if (g_region_path[0]) unlink(g_region_path);
  if (g_dir[0]) rmdir(g_dir);
  bench_os_reraise(sig);
}

/* ---- small helpers ------------------------------------------------------------ */

static void usage(FILE *f) {
  fprintf(f,
          "usage: rill_bench [--quick] [--out PATH] [--runs N] [--cpus A,B]\n"
          "                  [--only NAME,...] [--sizes N,...] [--dir BASE]\n"
          "                  [--no-membarrier] [--huge] [--suites LIST] [--workers DIR]\n"
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
          "               default 8,64,256,1024,4096; none: no throughput\n"
          "               rows, round trips and latency only)\n"
          "  --dir BASE   make the private region directory under BASE\n"
          "               (default /dev/shm, else /tmp; Windows: %%TEMP%%)\n"
          "  --no-membarrier  rill without its heavy barrier (Linux: membarrier\n"
          "               refused): the producer fences every publish, as on\n"
          "               Windows\n"
          "  --huge       rill's regions of huge pages (RILL_REGION_HUGE): --dir\n"
          "               BASE must be a hugetlbfs mount with enough free pages\n"
          "               (sysctl vm.nr_hugepages=64)\n"
          "  --suites LIST  only these suites: core, lang, python, rpc, tango,\n"
          "               scale, bridge (default all; Windows: core; bridge\n"
          "               needs root)\n"
          "  --workers DIR  where the other languages' workers are (rill-goworker,\n"
          "               rill-pyworker, rill-tangoworker, rill-guest; make bench\n"
          "               builds them in its build directory)\n",
          BENCH_MAX_SIZE);
}

int bench_in_list(const char *list, const char *name) {
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

/* ---- main --------------------------------------------------------------------- */

static int parse_sizes(const char *s, size_t *sizes, size_t *n) {
  *n = 0;
  if (!strcmp(s, "none")) return 0; /* round trips and latency rows only */
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

void bench_skip(bench_skips *s, const char *suite, const char *fmt, ...) {
  char why[600];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  printf("%s: skipped, rows %s\n", suite, why);
  size_t l = strlen(s->json), room = sizeof s->json - l;
  char *o = s->json + l;
  if (room > strlen(suite) + 16) {
    /* the reason as a JSON string: no quote, backslash or control in it */
    size_t j = (size_t)snprintf(o, room, "%s\"%s\": \"", l ? ", " : "", suite);
    for (const char *c = why; *c && j + 2 < room; c++)
      if (*c != '"' && *c != '\\' && (unsigned char)*c >= 0x20) o[j++] = *c;
    o[j++] = '"';
    o[j] = 0;
  }
  fflush(stdout);
}

/* ---- the core suite: the transports of the harness ----------------------------- */

static const bench_shared *g_samples; /* side 0's (rtt) or side 1's (latency) */

/* One run of a row of the harness: a fresh pair of processes. */
static int core_run(const bench_config *cfg, bench_row *r, unsigned run, bench_run_out *o) {
  (void)run;
  bench_test t;
  memset(&t, 0, sizeof t);
  t.tr = r->ctx;
  t.kind = r->kind;
  t.size = r->size;
  if (r->kind == BENCH_LAT) {
    t.period_ns = 1000000000ull / r->rate_hz;
    t.lat_count = r->per_run;
  }
  snprintf(t.dir, sizeof t.dir, "%s", cfg->dir);
  int rc = bench_run_once(cfg, &t, g_samples, o);
  if (r->kind != BENCH_TPUT) o->samples = g_samples->p;
  return rc;
}

/* A group is every transport at one size and kind (the two low-rate rows
 * are one group).  Runs are interleaved (run 1 of each row, then run 2 of
 * each, ...) so that slow drifts of the machine touch every row alike. */
static void core_rows(const bench_config *cfg, bench_rows *rows,
                      const bench_transport *const *tput_tr, size_t ntput_tr,
                      const bench_transport *const *rtt_tr, size_t nrtt_tr,
                      const size_t *sizes, size_t nsizes, const char *only) {
  /* the low-rate rows: their rate, and how long all runs of the row send */
  static const struct {
    unsigned hz;
    uint64_t ns, quick_ns;
  } lowrate[2] = {{100, 3000000000ull, 300000000ull},
                  {10000, 2000000000ull, 200000000ull}};
  for (size_t g = 0; g < nsizes + 2; g++) {
    int kind = g < nsizes ? BENCH_TPUT : g == nsizes ? BENCH_RTT : BENCH_LAT;
    size_t first = rows->n;
    size_t nl = kind == BENCH_TPUT ? ntput_tr : kind == BENCH_RTT ? nrtt_tr : 2;
    for (size_t ti = 0; ti < nl; ti++) {
      const bench_transport *tr = kind == BENCH_TPUT ? tput_tr[ti]
                                  : kind == BENCH_RTT ? rtt_tr[ti]
                                                      : &bench_rill_lowrate;
      if (!bench_in_list(only, tr->name)) continue;
      bench_row *r = bench_row_new(rows);
      if (!r) break;
      r->suite = "core";
      r->name = tr->name;
      r->producer = r->consumer = "c";
      r->kind = kind;
      r->peer = tr->peer;
      r->run = core_run;
      r->ctx = tr;
      r->size = kind == BENCH_TPUT ? sizes[g] : kind == BENCH_RTT ? 8 : BENCH_LOWRATE_SIZE;
      if (kind == BENCH_RTT) r->per_run = bench_rtt_per_run(cfg, tr);
      if (kind == BENCH_LAT) {
        r->rate_hz = lowrate[ti].hz;
        uint64_t ns = cfg->quick ? lowrate[ti].quick_ns : lowrate[ti].ns;
        r->per_run = r->rate_hz * ns / 1000000000ull / cfg->runs;
        if (r->per_run < 10) r->per_run = 10;
        if (r->per_run > cfg->rtt_per_run) r->per_run = cfg->rtt_per_run;
      }
    }
    bench_rows_run(cfg, &rows->v[first], rows->n - first, cfg->runs, 0);
  }
}

/* A core row, for the ratios (NULL if it did not run or failed). */
static const bench_row *core_row(const bench_rows *rows, const char *name, int kind,
                                 size_t size, unsigned hz) {
  bench_row q = {.suite = "core", .name = name, .producer = "c", .consumer = "c",
                 .kind = kind, .size = size, .rate_hz = hz};
  return bench_row_find(rows, &q);
}

/* The ratios the project's bar is stated in.  The ring's own ratios show
 * what this machine allows: the ring is the ceiling the channel approaches.
 * Then rill against the real peers; the bars the README quotes: rill's 64 B
 * throughput at least 10 times ZeroMQ's (PUSH/PULL) and 20 times iceoryx's,
 * and rill's round-trip p50 at most 0.3 times iceoryx's busy-polling round
 * trip; each for copying and zero-copy rill.  The others are for reading. */
static void core_ratios(const bench_rows *rows, bench_ratios *rt) {
  static const char *const modes[5] = {"rill-copy", "rill-zerocopy", "ring", "rill-batch",
                                       "rill-zcbatch"};
  static const struct {
    const char *peer;
    size_t size;
  } q[5] = {{"ring", 64}, {"pipe", 64}, {"ring", 1024}, {"ring-batch", 64},
            {"ring-batch", 1024}};
  for (int m = 0; m < 5; m++)
    for (int i = 0; i < 5; i++) {
      /* a reference this OS's build has not (pipe on Windows): no ratio */
      if (!strcmp(modes[m], q[i].peer) || !bench_transport_find(q[i].peer)) continue;
      /* issue 21's bars against the ceiling, for rill's batches: copying
       * 0.9 at 64 B, zero-copy 0.8; both 0.9 at 1 KiB */
      int bar = m >= 3 && !strcmp(q[i].peer, "ring-batch");
      bench_ratio_add(rt, "core", core_row(rows, modes[m], BENCH_TPUT, q[i].size, 0),
                      core_row(rows, q[i].peer, BENCH_TPUT, q[i].size, 0), bar ? ">=" : NULL,
                      q[i].size == 64 && m == 4 ? 0.8 : 0.9, "%s %zuB / %s %zuB msgs/s",
                      modes[m], q[i].size, q[i].peer, q[i].size);
    }
  /* the producer alone: ns per 64-byte message, at most 8 */
  const bench_row *al = core_row(rows, "rill-alone", BENCH_TPUT, 64, 0);
  bench_ratio *c = bench_ratio_add(rt, "core", NULL, NULL, "<=", 8, "rill-alone 64B ns per message");
  if (c) {
    c->value = al && al->msgs_per_s > 0 ? 1e9 / al->msgs_per_s : NAN;
    c->single = 1;
  }
  /* round trips against the minimal ring, p50 and p99.9 */
  for (int m = 0; m < 2; m++) {
    const bench_row *a = core_row(rows, modes[m], BENCH_RTT, 8, 0);
    const bench_row *b = core_row(rows, "ring", BENCH_RTT, 8, 0);
    bench_ratio_add(rt, "core", a, b, "<=", 1.1, "%s RTT p50 / ring RTT p50", modes[m]);
    c = bench_ratio_add(rt, "core", NULL, NULL, "<=", 1.5, "%s RTT p99.9 / ring RTT p99.9",
                        modes[m]);
    if (c) {
      c->value = a && b && b->p999 > 0 ? (double)a->p999 / (double)b->p999 : NAN;
      c->single = 1;
    }
  }
  for (int m = 0; m < 3; m++)
    bench_ratio_add(rt, "core", core_row(rows, modes[m], BENCH_RTT, 8, 0),
                    core_row(rows, "cacheline", BENCH_RTT, 8, 0), NULL, 0,
                    "%s RTT p50 / cacheline RTT p50", modes[m]);
  /* sleeping round trips: rill parked on both sides against the kernel's
   * own futex round trip and a pipe (Linux), or two named events (Windows) */
  static const char *const sleep_peers[3] = {"futex", "pipe", "event"};
  for (int i = 0; i < 3; i++)
    if (bench_transport_find(sleep_peers[i]))
      bench_ratio_add(rt, "core", core_row(rows, "rill-sleep", BENCH_RTT, 8, 0),
                      core_row(rows, sleep_peers[i], BENCH_RTT, 8, 0), NULL, 0,
                      "rill-sleep RTT p50 / %s RTT p50", sleep_peers[i]);
  /* not a ratio of two rows: a CPU share, in percent; no paired value */
  const bench_row *lr = core_row(rows, "rill-lowrate", BENCH_LAT, BENCH_LOWRATE_SIZE, 100);
  c = bench_ratio_add(rt, "core", NULL, NULL, NULL, 0,
                                   "rill-lowrate 100 Hz consumer CPU %%");
  if (c) {
    c->value = lr ? lr->cpu_pct : NAN;
    c->single = 1;
  }
  static const struct {
    const char *peer;
    int kind;
    const char *op;
    double threshold;
  } p[] = {
      {"zmq-pushpull", BENCH_TPUT, ">=", 10}, {"iceoryx", BENCH_TPUT, ">=", 20},
      {"iceoryx", BENCH_RTT, "<=", 0.3},      {"nng-pushpull", BENCH_TPUT, NULL, 0},
      {"zmq-pair", BENCH_RTT, NULL, 0},       {"nng-pair", BENCH_RTT, NULL, 0},
  };
  for (size_t i = 0; i < sizeof p / sizeof p[0]; i++)
    for (int m = 0; m < 2; m++) {
      size_t size = p[i].kind == BENCH_TPUT ? 64 : 8;
      const bench_row *a = core_row(rows, modes[m], p[i].kind, size, 0);
      const bench_row *b = core_row(rows, p[i].peer, p[i].kind, size, 0);
      if (p[i].kind == BENCH_TPUT)
        bench_ratio_add(rt, "core", a, b, p[i].op, p[i].threshold, "%s 64B / %s 64B msgs/s",
                        modes[m], p[i].peer);
      else
        bench_ratio_add(rt, "core", a, b, p[i].op, p[i].threshold, "%s RTT p50 / %s RTT p50",
                        modes[m], p[i].peer);
    }
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
    } else if (!strcmp(a, "--suites") && val) {
      cfg.suites = val;
      i++;
    } else if (!strcmp(a, "--workers") && val) {
      cfg.workers = val;
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

  if (bench_rill_region_flags && !dir_base) {
    fprintf(stderr, "rill_bench: --huge needs --dir BASE, a hugetlbfs mount\n");
    return 2;
  }
  /* private directory for the regions */
  if (bench_os_private_dir(dir_base, g_dir, sizeof g_dir) != 0) {
    fprintf(stderr, "rill_bench: cannot make a private directory under %s: %s\n",
            dir_base ? dir_base : "the default places", strerror(errno));
    return 1;
  }
  snprintf(cfg.dir, sizeof cfg.dir, "%s", g_dir);
  char self[1024];
  cfg.self = bench_os_self(self, sizeof self) == 0 ? self : argv[0];
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
  if (bench_rill_region_flags)
    printf("--huge: rill's regions are of huge pages (RILL_REGION_HUGE, in %s)\n", dir_base);
  if (cfg.no_heavy_barrier)
    printf("--no-membarrier: rill's heavy barrier is refused; its producer "
           "fences after every publish (as on Windows)\n");
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
  static bench_rows rows;
  static bench_ratios rt;
  bench_shared samples_sh;
  if (bench_os_shared_new(&samples_sh, cfg.rtt_per_run * sizeof(uint64_t)) != 0) {
    fprintf(stderr, "rill_bench: out of memory\n");
    return 1;
  }
  g_samples = &samples_sh;
  uint64_t t_start = bench_now_ns();

  static bench_skips sk;
  if (bench_in_list(cfg.suites, "core")) bench_peers_print_skipped();
  bench_rows_print_header();
  if (bench_in_list(cfg.suites, "core"))
    core_rows(&cfg, &rows, tput_tr, ntput_tr, rtt_tr, nrtt_tr, sizes, nsizes, only);
  bench_os_shared_free(&samples_sh);
#ifndef _WIN32
  if (bench_in_list(cfg.suites, "scale")) bench_suite_scale(&cfg, &rows, only);
  if (bench_in_list(cfg.suites, "lang") || bench_in_list(cfg.suites, "python"))
    bench_suite_lang(&cfg, &rows, &sk);
  if (bench_in_list(cfg.suites, "rpc")) bench_suite_rpc(&cfg, &rows, &sk);
  if (bench_in_list(cfg.suites, "tango")) bench_suite_tango(&cfg, &rows, &sk);
  if (bench_in_list(cfg.suites, "bridge")) bench_suite_bridge(&cfg, &rows, &sk);
#endif
  if (bench_in_list(cfg.suites, "core")) core_ratios(&rows, &rt);
#ifndef _WIN32
  bench_ratios_scale(&rows, &rt);
  bench_ratios_lang(&rows, &rt);
  if (bench_in_list(cfg.suites, "rpc")) bench_ratios_rpc(&rows, &rt);
  if (bench_in_list(cfg.suites, "tango")) bench_ratios_tango(&rows, &rt);
  if (bench_in_list(cfg.suites, "bridge")) bench_ratios_bridge(&rows, &rt);
#endif
  double seconds = (double)(bench_now_ns() - t_start) / 1e9;

  printf("\nratios (from this run)                                           of medians  "
         "paired\n");
  for (size_t i = 0; i < rt.n; i++) {
    char v1[32] = "n/a", v2[32] = "n/a";
    if (isfinite(rt.v[i].value)) snprintf(v1, sizeof v1, "%.3f", rt.v[i].value);
    if (isfinite(rt.v[i].paired)) snprintf(v2, sizeof v2, "%.3f", rt.v[i].paired);
    else if (rt.v[i].single) snprintf(v2, sizeof v2, "-");
    printf("  %-62s %10s %7s\n", rt.v[i].label, v1, v2);
  }
  printf("  (paired: median over runs of run r / run r; the runs with the same "
         "index ran\n   one after the other, so this cancels slower drifts of "
         "the machine)\n");
  printf("\nbars (the README quotes them)                                     of medians  "
         "paired      bar\n");
  for (size_t i = 0; i < rt.n; i++) {
    const bench_ratio *b = &rt.v[i];
    if (!b->op) continue;
    char v1[32] = "n/a", v2[32] = "n/a", bar[32];
    if (isfinite(b->value)) snprintf(v1, sizeof v1, "%.2f", b->value);
    if (isfinite(b->paired)) snprintf(v2, sizeof v2, "%.2f", b->paired);
    snprintf(bar, sizeof bar, "%s %g", b->op, b->threshold);
    const char *met = bench_bar_met(b);
    printf("  %-62s %10s %7s %8s  %s\n", b->label, v1, v2, bar,
           !strcmp(met, "true") ? "met" : !strcmp(met, "false") ? "NOT met" : "n/a");
  }
  int failures = 0;
  uint64_t errors = 0, peer_errors = 0;
  for (size_t i = 0; i < rows.n; i++) {
    failures += rows.v[i].failed;
    if (rows.v[i].peer)
      peer_errors += rows.v[i].errors; /* shown, not fatal */
    else
      errors += rows.v[i].errors;
  }
  printf("\n%zu rows in %.1f s; %d failed; %llu errors; %llu wrong or lost "
         "messages from peers (reported only)\n",
         rows.n, seconds, failures, (unsigned long long)errors,
         (unsigned long long)peer_errors);

  int rc = failures || errors ? 1 : 0;
  if (out) {
    bench_info in = {.date = date, .model = model, .cores = cores,
                     .timer_ns = timer_ns, .seconds = seconds,
                     .skipped = sk.json, .software = sk.software};
    if (bench_json_write(out, &cfg, &in, &rows, &rt) != 0)
      rc = 1;
    else
      printf("results written to %s\n", out);
  }
  return rc;
}
