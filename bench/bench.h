/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill_bench: shared declarations of the benchmark program.
 *
 * The program runs every measurement in two fresh processes, side 0
 * (producer / pinger) and side 1 (consumer / ponger), each pinned to its own
 * CPU.  The parent only sets up the shared resources, waits, and reports.
 * What differs between Linux and Windows is in bench/os.h.
 * See docs/benchmark.md for what each row measures.
 */
#ifndef RILL_BENCH_H
#define RILL_BENCH_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "os.h"

/* ---- tunables ------------------------------------------------------------ */

#define BENCH_MAX_SIZE 4096u          /* largest message size measured      */
#define BENCH_BATCH_MAX 64u           /* most messages in a batch or burst  */
#define BENCH_MAX_RUNS 32u            /* upper bound for --runs             */
#define BENCH_SPIN_TIMEOUT_NS 30000000000ull /* a spin gives up after 30 s  */
#define BENCH_DEPTH 4096u             /* rill depth and ring slots          */
#define BENCH_WAIT_NS 1000000000ull   /* a sleeping wait this long is an error */
#define BENCH_RILL_SPIN_NS 20000ull   /* rill's default spin budget (rill.h) */
#define BENCH_SLEEP_RTT_PER_RUN 20000u /* round trips per run, sleeping rows */
#define BENCH_LOWRATE_SIZE 16u        /* rill-lowrate: sequence, send time  */

/* ---- time and spinning --------------------------------------------------- */
/* bench_now_ns(): os.h */

/* A pause hint for spin loops.  No compiler barrier is implied or needed:
 * every loop that spins re-reads an atomic. */
static inline void bench_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

/* Set in each child: the shared abort flag (another process failed) and
 * whether the two sides share one CPU (then spinning must yield). */
extern _Atomic int *bench_abort_flag;
extern int bench_single_cpu;

/* Set by the harness in both children before each round: 1 while the round
 * is warm-up, 0 while it is measured. */
extern int bench_warming;

typedef struct bench_spin {
  uint64_t deadline; /* 0 until the first slow-path check */
  uint32_t n;
} bench_spin;

#define BENCH_SPIN_INIT {0, 0}

/* Slow path of bench_spin_step(): checks the clock, the abort flag, and
 * yields the CPU when both sides share one.  Returns 0 to keep spinning,
 * -1 when the spin timed out or another process asked everyone to stop
 * (the reason is recorded with bench_fail()). */
int bench_spin_slow(bench_spin *s);

/* One iteration of a bounded spin loop: pause, and every 256 iterations look
 * at the clock.  Returns 0 to keep spinning, -1 to give up. */
static inline int bench_spin_step(bench_spin *s) {
  bench_cpu_relax();
  if ((++s->n & 255u) == 0 || bench_single_cpu)
    return bench_spin_slow(s);
  return 0;
}

/* ---- message contents ---------------------------------------------------- */

/* A message of N bytes (N a multiple of 8, N >= 8) is N/8 little words:
 * word 0 holds the message's sequence number, the last word (when N >= 16)
 * holds seq ^ BENCH_MSG_KEY, and every word k between holds the constant
 * bench_msg_word(k).  The consumer of every transport reads all N bytes,
 * adds up the words and compares the sum and word 0 with what it expects. */
#define BENCH_MSG_KEY 0x5a5aa5a5c3c33c3cull

static inline uint64_t bench_msg_word(size_t k) {
  return (uint64_t)(k + 1) * 0x9e3779b97f4a7c15ull;
}

/* Sum of the constant middle words of an N-byte message. */
static inline uint64_t bench_msg_midsum(size_t n) {
  uint64_t s = 0;
  for (size_t k = 1; k + 1 < n / 8; k++) s += bench_msg_word(k);
  return s;
}

/* Writes the constant middle words of an N-byte message into P. */
static inline void bench_msg_template(void *p, size_t n) {
  unsigned char *b = p;
  memset(b, 0, n);
  for (size_t k = 1; k + 1 < n / 8; k++) {
    uint64_t w = bench_msg_word(k);
    memcpy(b + 8 * k, &w, 8);
  }
}

/* Writes the first and last word of message SEQ (the middle is already there). */
static inline void bench_msg_stamp(void *p, size_t n, uint64_t seq) {
  unsigned char *b = p;
  memcpy(b, &seq, 8);
  if (n >= 16) {
    uint64_t x = seq ^ BENCH_MSG_KEY;
    memcpy(b + n - 8, &x, 8);
  }
}

/* Reads every byte of an N-byte message at P and checks it against *EXPECT
 * (the next sequence number).  Returns the number of errors it shows: 1 for
 * a damaged payload, the gap for lost messages, 1 for a stale or repeated
 * one.  Moves *EXPECT past the message it found. */
static inline uint64_t bench_msg_verify(const void *p, size_t n,
                                        uint64_t *expect, uint64_t midsum) {
  const unsigned char *b = p;
  uint64_t sum = 0, w0, errs = 0;
  for (size_t i = 0; i < n; i += 8) {
    uint64_t w;
    memcpy(&w, b + i, 8);
    sum += w;
  }
  memcpy(&w0, b, 8);
  if (sum != w0 + (n >= 16 ? (w0 ^ BENCH_MSG_KEY) : 0) + midsum) errs++;
  int64_t d = (int64_t)(w0 - *expect);
  if (d == 0) {
    *expect += 1;
  } else if (d > 0 && d < (1ll << 32)) {
    errs += (uint64_t)d; /* messages lost before this one */
    *expect = w0 + 1;
  } else {
    errs++;              /* stale, repeated or garbage sequence number */
    if (d > 0) *expect += 1;
  }
  return errs;
}

/* ---- tests and transports ------------------------------------------------ */

/* BENCH_LAT: one-way latency of messages sent at a low, paced rate. */
enum { BENCH_TPUT = 1, BENCH_RTT = 2, BENCH_LAT = 4 };

typedef struct bench_test {
  const struct bench_transport *tr;
  int kind;            /* BENCH_TPUT, BENCH_RTT or BENCH_LAT                  */
  size_t size;         /* message bytes                                        */
  uint64_t period_ns;  /* BENCH_LAT: one message every PERIOD_NS ...          */
  uint64_t lat_count;  /* ... LAT_COUNT of them in the measured round         */
  /* resources made by the transport's setup() in the parent; on Linux the
   * children inherit them through fork(), on Windows they open them by
   * name (the test is copied to each side through the control block) */
  char dir[256];       /* private directory for rill regions                   */
  char region[48];     /* rill region name (Windows: event name), "" if none  */
  int fd[4];           /* pipe / socket descriptors, -1 if unused (Linux)      */
  bench_shared shm;    /* shared memory of the ring / cache-line tests; the
                          harness frees it                                     */
  intptr_t h[2];       /* Windows: the parent's event handles (t_event.c)     */
} bench_test;

/* A transport.  Functions run in the parent (setup, teardown) or in one of
 * the two children (the rest).  Every child function returns 0 or -1; on -1
 * it has recorded why with bench_fail().  EP is the transport's per-process
 * endpoint made by open(). */
typedef struct bench_transport {
  const char *name;
  int kinds;           /* BENCH_TPUT | BENCH_RTT | BENCH_LAT it supports      */
  int blocking;        /* 1: the kernel moves the bytes (pipe, socket); its
                          warm-up stops at cfg->warm_cap_ns.  0: shared
                          memory, whose warm-up always covers warm_min
                          messages so every page is faulted in before the
                          measurement                                         */
  uint64_t rtt_max;    /* round trips measured per run at most (the sleeping
                          transports); 0 = cfg->rtt_per_run                   */
  int peer;            /* 1: another project's transport (ZeroMQ, nng,
                          iceoryx): the wrong or lost messages it hands over
                          are counted and shown, but do not fail the program */
  int (*setup)(bench_test *t, char *err, size_t errlen);
  void (*teardown)(bench_test *t);
  int (*open)(bench_test *t, int side, void **ep);
  void (*close)(void *ep);
  /* throughput: side 0 sends COUNT messages of N bytes numbered SEQ...,
   * side 1 receives and verifies them, adding to *ERRORS */
  int (*send)(void *ep, size_t n, uint64_t seq, uint64_t count);
  int (*recv)(void *ep, size_t n, uint64_t seq, uint64_t count,
              uint64_t *errors);
  /* round trip: side 0 sends message SEQ and waits for the echo, COUNT
   * times, storing each round trip's ns in SAMPLES (NULL while warming
   * up); side 1 echoes */
  int (*ping)(void *ep, uint64_t seq, uint64_t count, uint64_t *samples,
              uint64_t *errors);
  int (*pong)(void *ep, uint64_t seq, uint64_t count, uint64_t *errors);
  /* low-rate latency: side 0 sends COUNT messages numbered SEQ..., one every
   * PERIOD_NS (absolute deadlines; 0 = as fast as it can, for the warm-up),
   * each carrying its CLOCK_MONOTONIC send time; side 1 receives and
   * verifies them, storing each one-way latency in SAMPLES (NULL while
   * warming up) */
  int (*pace)(void *ep, uint64_t seq, uint64_t count, uint64_t period_ns);
  int (*lat)(void *ep, uint64_t seq, uint64_t count, uint64_t *samples,
             uint64_t *errors);
} bench_transport;

/* rill_region_opts.flags of the regions the rill rows make (t_rill.c):
 * RILL_REGION_HUGE with --huge. */
extern uint32_t bench_rill_region_flags;
extern const bench_transport bench_rill_copy;
extern const bench_transport bench_rill_zerocopy;
extern const bench_transport bench_rill_batch;
extern const bench_transport bench_rill_zcbatch;
extern const bench_transport bench_rill_alone;
extern const bench_transport bench_rill_sleep;
extern const bench_transport bench_rill_lowrate;
extern const bench_transport bench_ring;
extern const bench_transport bench_ring_batch;
extern const bench_transport bench_cacheline;
/* the kernel's references: Linux (bench/t_futex.c, bench/t_stream.c) */
extern const bench_transport bench_futex;
extern const bench_transport bench_pipe;
extern const bench_transport bench_unix;
/* ... and Windows (bench/t_event.c) */
extern const bench_transport bench_event;

/* Setup of the transports that need one zeroed page shared by both sides
 * (in t->shm): cacheline, futex, event. */
int bench_page_setup(bench_test *t, char *err, size_t errlen);

/* The transport called NAME (each side of a Windows run finds its own
 * copy by name), or NULL. */
const bench_transport *bench_transport_find(const char *name);

/* The real peers (bench/t_zmq.c, t_nng.c, t_iceoryx.c), each built only when
 * its library was found (RILL_HAVE_ZMQ, RILL_HAVE_NNG, RILL_HAVE_ICEORYX). */
#ifdef RILL_HAVE_ZMQ
extern const bench_transport bench_zmq_pushpull;
extern const bench_transport bench_zmq_pair;
#endif
#ifdef RILL_HAVE_NNG
extern const bench_transport bench_nng_pushpull;
extern const bench_transport bench_nng_pair;
#endif
#ifdef RILL_HAVE_ICEORYX
extern const bench_transport bench_iceoryx;
#endif

/* Prints one line for each peer this build left out, saying how to install
 * it (bench/peers.c). */
void bench_peers_print_skipped(void);

/* Writes {"zeromq": "4.3.4", "nng": null, ...}: each peer's library version,
 * null when it was left out. */
void bench_peers_json(FILE *f);

/* Records the first failure of this process (printf-style) so the parent can
 * report it, raises the shared abort flag, and returns -1. */
int bench_fail(const char *fmt, ...) BENCH_PRINTF(1, 2);

/* Allocates N zeroed bytes aligned to 64 (freed with bench_free()), or
 * records a failure and returns NULL. */
void *bench_alloc(size_t n);
void bench_free(void *p);

/* ---- configuration and results ----------------------------------------- */

typedef struct bench_config {
  int quick;
  unsigned runs;             /* measured runs per row, each in fresh processes */
  uint64_t tput_target_ns;   /* duration aimed at by one throughput run        */
  uint64_t tput_warm_ns;     /* a warm-up batch must last at least this long   */
  uint64_t rtt_per_run;      /* round trips measured per RTT run               */
  uint64_t rtt_run_max_ns;   /* ... unless a run has lasted this long          */
  uint64_t warm_min;         /* warm up with at least this many messages or    */
  uint64_t warm_cap_ns;      /* ... round trips; blocking transports stop at
                                this time, shared-memory ones at 20 times it  */
  int cpu[2];                /* CPUs of side 0 and side 1, -1 = unpinned       */
  int single_cpu;            /* both sides on one CPU, or unpinned: spinners
                                yield                                         */
  int no_heavy_barrier;      /* --no-membarrier: rill without its heavy
                                barrier, fencing each publish (as on Windows) */
  uint64_t child_deadline_ns;/* parent kills a run's children after this       */
  char dir[256];             /* the private directory of regions and sockets   */
  const char *self;          /* this program (its worker mode, bench/worker.c) */
  const char *workers;       /* --workers: directory of the other languages'
                                workers, or NULL                               */
  const char *suites;        /* --suites: the suites to run, or NULL: all      */
} bench_config;

/* What one run of a row measured: one pair of processes of the harness, or
 * one start of a suite's workers (bench/proc.c). */
#define BENCH_MAX_DETAIL 6
typedef struct bench_run_out {
  int failed;
  char failure[256];
  uint64_t errors;   /* wrong or lost messages, warm-up included             */
  uint64_t count;    /* throughput, rpc: messages (requests) measured        */
  uint64_t ns;       /* throughput, rpc: time for them                       */
  double rate;       /* ... or the run's rate itself (msgs/s), when > 0      */
  uint64_t warm;     /* messages or round trips of warm-up                   */
  uint64_t probe_ns; /* cache-line round trip of this pair, just before; 0   */
  uint64_t nsamples; /* round trips / latencies measured ...                 */
  uint64_t *samples; /* ... in ns (the caller's memory); NULL if none        */
  uint64_t cpu_ns;   /* latency: side 1's user + sys CPU time while measured */
  uint64_t wall_ns;  /* ... and the wall time of that interval               */
  double det[BENCH_MAX_DETAIL]; /* the row's detail values (NAN: none)       */
} bench_run_out;

/* Runs one measurement of test T in two fresh child processes: warm-up, then
 * one measured interval.  For round trips, side 0 stores OUT->samples (at
 * most bench_rtt_per_run()) samples in SAMPLES (shared, made by the caller
 * with bench_os_shared_new()); for latencies side 1 stores t->lat_count of
 * them (at most cfg->rtt_per_run).  Returns 0, or -1 if the run failed
 * (OUT->failure says why). */
int bench_run_once(const bench_config *cfg, bench_test *t,
                   const bench_shared *samples, bench_run_out *out);

/* Round trips a run of transport TR measures (before its time limit). */
uint64_t bench_rtt_per_run(const bench_config *cfg, const bench_transport *tr);

/* Sleeps until bench_now_ns() reaches DEADLINE_NS (absolute).  Returns 0,
 * or -1 (recorded) if another process asked everyone to stop. */
int bench_sleep_until(uint64_t deadline_ns);

/* Creates the shared control block; once, in the parent, before any test. */
int bench_harness_init(void);

/* Side SIDE of the test in the control block: runs it and ends the
 * process (bench_os_spawn's child on Linux). */
void bench_harness_child(int side) __attribute__((noreturn));

/* "rill_bench --bench-side SIDE CTRL" (Windows): maps the control block
 * named CTRL and runs side SIDE.  Returns only on a bad command line. */
int bench_harness_child_main(int argc, char **argv);

/* Kills the children of the running test, if any (async-signal-safe). */
void bench_kill_children(void);

/* Nanoseconds one bench_now_ns() call adds to a measured interval (median of
 * back-to-back calls). */
uint64_t bench_timer_overhead_ns(void);

/* ---- statistics: the one set of helpers every row uses (bench/rows.c) ---- */

void bench_sort_u64(uint64_t *v, size_t n);
/* Nearest-rank quantile Q (0..1) of sorted V; 0 when N is 0. */
uint64_t bench_quantile_sorted(const uint64_t *v, size_t n, double q);
/* Median of N values (the mean of the middle two for an even N); NAN if none. */
double bench_median(const double *v, size_t n);

/* ---- rows: every measurement, in one shape (docs/benchmark.md, "JSON") ---- */

/* BENCH_RPC: requests per second and round trips of calls kept in flight. */
enum { BENCH_RPC = 8 };

typedef struct bench_row bench_row;
/* Runs run RUN (0-based) of row R: fills O (zeroed, det NAN) and returns 0,
 * or -1 with O->failure set. */
typedef int (*bench_run_fn)(const bench_config *cfg, bench_row *r, unsigned run,
                            bench_run_out *o);

struct bench_row {
  /* what it is: set by its suite; the JSON's identifying fields */
  const char *suite;     /* "core", "lang", "python", "rpc", "tango", "scale" */
  const char *name;      /* transport or contender                            */
  const char *method;    /* a variant of the suite's (tango), or NULL          */
  const char *producer;  /* language of side 0 (producer, pinger, host) ...    */
  const char *consumer;  /* ... and of side 1 (consumer, ponger, server)       */
  int kind;              /* BENCH_TPUT, BENCH_RTT, BENCH_LAT or BENCH_RPC      */
  size_t size;           /* message bytes                                       */
  unsigned rate_hz;      /* latency: messages per second sent                   */
  unsigned consumers;    /* consumers of the channel (scale); 0: one            */
  unsigned channels;     /* channels waited on at once (scale); 0: one          */
  unsigned inflight;     /* rpc: calls kept in flight                           */
  unsigned workers;      /* rpc: the server's workers                           */
  int lossy;             /* the consumers are RILL_LOSSY                        */
  int peer;              /* another project's: its errors do not fail the run  */
  int median_run;        /* percentiles of the run with the median rate (rpc),
                            not of all runs' samples pooled                     */
  const char *detail[BENCH_MAX_DETAIL]; /* names of the row's own values       */
  int detail_sum;        /* bit i: detail i is summed over runs, else median   */
  /* how it runs */
  bench_run_fn run;
  const void *ctx;       /* the suite's (a transport, a worker's name, ...)    */
  uint64_t per_run;      /* samples a run measures at most (rtt, latency); 0   */
  /* results: bench_row_add() and bench_row_finish() */
  int failed;
  char failure[300];
  uint64_t errors;
  unsigned runs;         /* runs done                                          */
  uint64_t warm;         /* warm-up of the last run                            */
  uint64_t msgs_per_run; /* throughput: messages of the last run               */
  double msgs_per_s, gib_per_s;
  double run_msgs_per_s[BENCH_MAX_RUNS];
  uint64_t *pool;        /* samples of every run (or of the current one)       */
  size_t npool, cap;
  uint64_t samples, p50, p99, p999, max;
  uint64_t run_p50[BENCH_MAX_RUNS], run_p99[BENCH_MAX_RUNS],
      run_p999[BENCH_MAX_RUNS], run_max[BENCH_MAX_RUNS], run_samples[BENCH_MAX_RUNS];
  double spread;         /* (max - min) / median of the runs' rate or p50     */
  double run_probe_ns[BENCH_MAX_RUNS], probe_ns;
  double seconds;        /* wall time of every run of the row                 */
  uint64_t cpu_ns, wall_ns;
  double cpu_pct, run_cpu_pct[BENCH_MAX_RUNS];
  double run_det[BENCH_MAX_DETAIL][BENCH_MAX_RUNS], det[BENCH_MAX_DETAIL];
};

/* Every row of a run, in the order they were made. */
#define BENCH_MAX_ROWS 512
typedef struct bench_rows {
  bench_row v[BENCH_MAX_ROWS];
  size_t n;
} bench_rows;

/* A new zeroed row at the end of S, or NULL when S is full. */
bench_row *bench_row_new(bench_rows *s);
/* Runs the N rows from FIRST RUNS times, interleaved (run 1 of every row,
 * then run 2, ...; ALTERNATE: every other run in the reverse order), skips
 * the rest of a row after a failed run, then finishes and prints each. */
void bench_rows_run(const bench_config *cfg, bench_row *first, size_t n,
                    unsigned runs, int alternate);
/* The row of S that has Q's identifying fields, not failed; else NULL. */
const bench_row *bench_row_find(const bench_rows *s, const bench_row *q);
/* The row's label in the printed table ("rill-copy", "lang rill c->go"). */
void bench_row_label(const bench_row *r, char *buf, size_t len);
void bench_rows_print_header(void);
void bench_row_print(const bench_row *r);

/* A ratio of two rows' values (msgs/s; the p50 of round trips), of their
 * medians and paired run by run; or one row's value (SINGLE); a bar when OP
 * is set.  NAN where a row is missing. */
typedef struct bench_ratio {
  const char *suite;
  char label[96];
  double value, paired;
  int single;
  const char *op;     /* ">=" or "<=": a bar the README quotes; else NULL     */
  double threshold;
  char note[96];      /* said beside the bar, or ""                          */
} bench_ratio;

#define BENCH_MAX_RATIOS 96
typedef struct bench_ratios {
  bench_ratio v[BENCH_MAX_RATIOS];
  size_t n;
} bench_ratios;

/* Adds A / B to S as LABEL (printf-style): a bar if OP is not NULL. */
bench_ratio *bench_ratio_add(bench_ratios *s, const char *suite, const bench_row *a,
                             const bench_row *b, const char *op, double threshold,
                             const char *fmt, ...) BENCH_PRINTF(7, 8);
/* "true", "false", or "null" when the ratio is missing. */
const char *bench_bar_met(const bench_ratio *r);

/* What the JSON's header says besides the rows. */
typedef struct bench_info {
  const char *date, *model;
  long cores;
  uint64_t timer_ns;
  double seconds;
  const char *skipped;  /* JSON members "suite": "why", or "" */
  const char *software; /* JSON members "name": "version", or "" */
} bench_info;

/* Writes the results (docs/benchmark.md, "JSON") to PATH, atomically, making
 * its directories.  0, or -1 with a line on stderr. */
int bench_json_write(const char *path, const bench_config *cfg, const bench_info *in,
                     const bench_rows *rows, const bench_ratios *rt);
/* S as a JSON string. */
void bench_json_string(FILE *f, const char *s);

/* 1 if NAME is in the comma-separated LIST, or LIST is NULL. */
int bench_in_list(const char *list, const char *name);

/* "rill_bench worker ...": one side of a measurement driven by another
 * program (bench/worker.c). */
int bench_worker_main(int argc, char **argv);
/* A worker's failure: "rill_bench worker: MESSAGE" on stderr, exit 1. */
__attribute__((noreturn)) BENCH_PRINTF(1, 2) void bench_wfail(const char *fmt, ...);
/* A worker's numeric argument, or bench_wfail(). */
uint64_t bench_wnum(const char *s);
/* Its commands net-send and net-recv (bench/w_net.c, Linux): the exit
 * status, or -1 when CMD is not one of them or its arguments are wrong. */
int bench_net_worker(const char *cmd, char **args, int nargs);

/* Region bookkeeping for clean-up after a failure or a signal. */
void bench_cleanup_register_region(const char *dir, const char *name);
void bench_cleanup_unregister_region(void);

#endif
