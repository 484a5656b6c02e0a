/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill_bench harness: runs one test in two pinned child processes.
 *
 * The parent sets up the transport's shared resources, starts side 0
 * (producer / pinger) and side 1 (consumer / ponger) (bench_os_spawn: a
 * fork on Linux, this program again on Windows), and waits for both with a
 * deadline.  The children talk to each other only through the transport
 * under test and through the control block below, used between measured
 * intervals (never inside one).  The control block also carries the
 * configuration and the test to each side.
 */
#include "bench.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

_Atomic int *bench_abort_flag;
int bench_single_cpu;
int bench_warming;

enum { CMD_RUN = 1, CMD_STOP = 2 };

/* Shared by the parent and both children (MAP_SHARED, made before any fork).
 * Each atomic line has one writer. */
typedef struct bench_ctrl {
  /* barrier: side i stores the number of barriers it has reached */
  struct {
    _Alignas(64) _Atomic uint64_t phase;
  } side[2];
  _Alignas(64) _Atomic int abort; /* any process: "stop, something failed" */
  /* the probe's cache line: both sides write it, by design */
  _Alignas(64) _Atomic uint64_t probe;
  /* side 0 -> side 1, written before side 0 reaches a barrier */
  _Alignas(64) uint64_t cmd, count, seq, warming;
  /* side 1 -> side 0, written before side 1 reaches a barrier */
  _Alignas(64) uint64_t t_end;
  /* for the parent, read after both children were reaped */
  _Alignas(64) uint64_t errors[2];
  uint64_t done;      /* side 0 finished the measured interval */
  uint64_t run_count; /* throughput: messages measured         */
  uint64_t run_ns;    /* ... and their time                    */
  uint64_t warm;      /* messages or round trips of warm-up    */
  uint64_t probe_ns;  /* median cache-line round trip, this pair */
  uint64_t rtt_samples; /* round trips or latencies measured       */
  uint64_t cpu_ns;    /* latency: side 1's CPU time, measured round */
  uint64_t wall_ns;   /* ... and that round's wall time              */
  char err[2][256];
  /* parent -> sides, written before they start */
  bench_config cfg;
  bench_test test;     /* its tr is found again by TR_NAME in each side */
  char tr_name[32];
  bench_shared samples;
} bench_ctrl;

static bench_shared g_ctrl_sh;
static bench_ctrl *g_ctrl;
static int g_side = -1;                /* -1 in the parent */
static bench_child g_child[2];         /* children of the running test */

int bench_harness_init(void) {
  if (bench_os_shared_new(&g_ctrl_sh, sizeof(bench_ctrl)) != 0) return -1;
  g_ctrl = g_ctrl_sh.p;
  bench_abort_flag = &g_ctrl->abort;
  return 0;
}

int bench_fail(const char *fmt, ...) {
  if (g_side >= 0 && g_ctrl->err[g_side][0] == 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_ctrl->err[g_side], sizeof g_ctrl->err[g_side], fmt, ap);
    va_end(ap);
  }
  /* Relaxed: the flag only tells the other side to stop; the message above
   * is read by the parent after waitpid(), which orders it. */
  atomic_store_explicit(&g_ctrl->abort, 1, memory_order_relaxed);
  return -1;
}

void *bench_alloc(size_t n) {
  void *p = bench_os_aligned_alloc(n);
  if (!p) {
    bench_fail("out of memory (%zu bytes)", n);
    return NULL;
  }
  memset(p, 0, n);
  return p;
}

void bench_free(void *p) { bench_os_aligned_free(p); }

int bench_sleep_until(uint64_t deadline_ns) {
  bench_os_sleep_until(deadline_ns);
  if (atomic_load_explicit(bench_abort_flag, memory_order_relaxed))
    return bench_fail("stopped: the other side failed");
  return 0;
}

int bench_spin_slow(bench_spin *s) {
  if (bench_single_cpu) bench_os_yield();
  if (atomic_load_explicit(bench_abort_flag, memory_order_relaxed)) {
    bench_fail("stopped: the other side failed");
    return -1;
  }
  uint64_t now = bench_now_ns();
  if (s->deadline == 0) {
    s->deadline = now + BENCH_SPIN_TIMEOUT_NS;
  } else if (now > s->deadline) {
    bench_fail("timed out after %llu s waiting for the other side",
               (unsigned long long)(BENCH_SPIN_TIMEOUT_NS / 1000000000ull));
    return -1;
  }
  return 0;
}

/* Two-party barrier.  Everything a side wrote to the control block before
 * its barrier is visible to the other side after it. */
static uint64_t g_phase;

static int barrier(void) {
  uint64_t mine = ++g_phase;
  /* Release: pairs with the acquire load of side[g_side].phase in the other
   * side's barrier(), so cmd/count/seq (side 0) or t_end (side 1) written
   * before it are visible there. */
  atomic_store_explicit(&g_ctrl->side[g_side].phase, mine,
                        memory_order_release);
  bench_spin sp = BENCH_SPIN_INIT;
  /* Acquire: pairs with the release store of the other side's phase just
   * above (in its own barrier()). */
  while (atomic_load_explicit(&g_ctrl->side[!g_side].phase,
                              memory_order_acquire) < mine) {
    if (bench_spin_step(&sp)) return -1;
  }
  return 0;
}

/* The machine's state right now: the median round trip of one cache line
 * between the two processes, over BENCH_PROBE_N round trips (side 0 stores
 * it in probe_ns).  A virtual machine's CPUs may move between physical cores
 * while the benchmark runs; this shows where they were for each run. */
#define BENCH_PROBE_N 2001u

static int probe(void) {
  uint64_t d[BENCH_PROBE_N];
  for (uint64_t i = 0; i < BENCH_PROBE_N; i++) {
    uint64_t v = 2 * i + 1;
    bench_spin sp = BENCH_SPIN_INIT;
    if (g_side == 0) {
      uint64_t t0 = bench_now_ns();
      /* Release: pairs with side 1's acquire load of probe below. */
      atomic_store_explicit(&g_ctrl->probe, v, memory_order_release);
      /* Acquire: pairs with side 1's release store of v + 1 below. */
      while (atomic_load_explicit(&g_ctrl->probe, memory_order_acquire) != v + 1)
        if (bench_spin_step(&sp)) return -1;
      d[i] = bench_now_ns() - t0;
    } else {
      /* Acquire: pairs with side 0's release store of v above. */
      while (atomic_load_explicit(&g_ctrl->probe, memory_order_acquire) != v)
        if (bench_spin_step(&sp)) return -1;
      /* Release: pairs with side 0's acquire load of probe above. */
      atomic_store_explicit(&g_ctrl->probe, v + 1, memory_order_release);
    }
  }
  if (g_side == 0) {
    bench_sort_u64(d, BENCH_PROBE_N);
    g_ctrl->probe_ns = d[BENCH_PROBE_N / 2];
  }
  return 0;
}

/* ---- the two sides' programs ----------------------------------------------- */

/* One round: side 0 publishes CMD, COUNT and whether it is warm-up, both
 * pass a barrier, then side 0 sends (throughput, latency) or pings (round
 * trips) while side 1 follows its commands in side1_loop().  For throughput
 * and latency, *NS is the time from side 0 starting to send to side 1
 * having read the last message. */
static int side0_round(bench_test *t, void *ep, uint64_t *seq, uint64_t count,
                       int warm, uint64_t *samples, uint64_t *errs,
                       uint64_t *ns) {
  g_ctrl->cmd = CMD_RUN;
  g_ctrl->count = count;
  g_ctrl->seq = *seq;
  g_ctrl->warming = (uint64_t)warm;
  bench_warming = warm;
  if (barrier()) return -1;
  uint64_t t0 = bench_now_ns();
  int rc = t->kind == BENCH_TPUT ? t->tr->send(ep, t->size, *seq, count)
           : t->kind == BENCH_RTT
               ? t->tr->ping(ep, *seq, count, samples, errs)
               : t->tr->pace(ep, *seq, count, warm ? 0 : t->period_ns);
  uint64_t t1 = bench_now_ns();
  if (rc || barrier()) return -1;
  if (t->kind != BENCH_RTT) t1 = g_ctrl->t_end;
  *ns = t1 > t0 ? t1 - t0 : 1;
  *seq += count;
  return 0;
}

/* Side 1 of a latency round: receives, and in the measured round stores the
 * latencies in SAMPLES and the CPU time it used over that round's wall
 * time (from its start to the last message read). */
static int lat_side1(bench_test *t, void *ep, uint64_t *samples,
                     uint64_t *errs) {
  if (bench_warming)
    return t->tr->lat(ep, g_ctrl->seq, g_ctrl->count, NULL, errs);
  uint64_t c0 = bench_os_cpu_time_ns(), t0 = bench_now_ns();
  int rc = t->tr->lat(ep, g_ctrl->seq, g_ctrl->count, samples, errs);
  uint64_t t1 = bench_now_ns(), c1 = bench_os_cpu_time_ns();
  g_ctrl->cpu_ns = c1 - c0;
  g_ctrl->wall_ns = t1 - t0;
  g_ctrl->rtt_samples = g_ctrl->count;
  return rc;
}

static int side1_loop(bench_test *t, void *ep, uint64_t *samples) {
  uint64_t errs = 0;
  for (;;) {
    if (barrier()) return -1;
    if (g_ctrl->cmd == CMD_STOP) return 0;
    bench_warming = (int)g_ctrl->warming;
    int rc = t->kind == BENCH_TPUT
                 ? t->tr->recv(ep, t->size, g_ctrl->seq, g_ctrl->count, &errs)
             : t->kind == BENCH_RTT
                 ? t->tr->pong(ep, g_ctrl->seq, g_ctrl->count, &errs)
                 : lat_side1(t, ep, samples, &errs);
    g_ctrl->t_end = bench_now_ns();
    g_ctrl->errors[1] = errs;
    if (rc) return -1;
    if (barrier()) return -1;
  }
}

static int side0_stop(void) {
  g_ctrl->cmd = CMD_STOP;
  return barrier();
}

/* How long a warm-up may last (see bench_transport.blocking). */
static uint64_t warm_cap(const bench_config *cfg, const bench_test *t) {
  return t->tr->blocking ? cfg->warm_cap_ns : 20 * cfg->warm_cap_ns;
}

static int tput_side0(const bench_config *cfg, bench_test *t, void *ep) {
  const uint64_t max_count = 1ull << 31;
  uint64_t seq = 1, count = cfg->quick ? 256 : 1024, ns = 0, warm = 0;
  uint64_t errs = 0, spent = 0;
  /* Warm-up: grow the batch until one lasts tput_warm_ns and warm_min
   * messages went through (a whole pass over the rings: every page is
   * faulted in), or warm_cap() passed; then one more batch of about
   * tput_warm_ns, whose rate sizes the measured run. */
  for (;;) {
    if (side0_round(t, ep, &seq, count, 1, NULL, &errs, &ns)) return -1;
    warm += count;
    spent += ns;
    if ((ns >= cfg->tput_warm_ns && warm >= cfg->warm_min) ||
        spent >= warm_cap(cfg, t) || count >= max_count)
      break;
    if (ns < cfg->tput_warm_ns) {
      double f = (double)cfg->tput_warm_ns * 1.2 / (double)ns;
      if (f < 2) f = 2;
      if (f > 8) f = 8;
      count = (uint64_t)((double)count * f);
    }
  }
  double per_ns = (double)count / (double)ns;
  double want = per_ns * (double)cfg->tput_warm_ns;
  count = want < 1000 ? 1000 : want > (double)max_count ? max_count
                                                        : (uint64_t)want;
  if (side0_round(t, ep, &seq, count, 1, NULL, &errs, &ns)) return -1;
  warm += count;
  per_ns = (double)count / (double)ns;
  want = per_ns * (double)cfg->tput_target_ns;
  count = want < 1000 ? 1000 : want > (double)max_count ? max_count
                                                        : (uint64_t)want;
  if (side0_round(t, ep, &seq, count, 0, NULL, &errs, &ns)) return -1;
  g_ctrl->run_count = count;
  g_ctrl->run_ns = ns;
  g_ctrl->warm = warm;
  g_ctrl->done = 1;
  return side0_stop();
}

uint64_t bench_rtt_per_run(const bench_config *cfg, const bench_transport *tr) {
  return tr->rtt_max && tr->rtt_max < cfg->rtt_per_run ? tr->rtt_max
                                                        : cfg->rtt_per_run;
}

static int rtt_side0(const bench_config *cfg, bench_test *t, void *ep,
                     uint64_t *samples) {
  uint64_t seq = 1, errs = 0, ns = 0, spent = 0, warm = 0;
  const uint64_t per_run = bench_rtt_per_run(cfg, t->tr);
  /* warm-up: batches of 1000 round trips until warm_min went through (every
   * page of the rings is faulted in) or warm_cap() passed */
  while (warm < cfg->warm_min && spent < warm_cap(cfg, t)) {
    int rc = side0_round(t, ep, &seq, 1000, 1, NULL, &errs, &ns);
    g_ctrl->errors[0] = errs;
    if (rc) return -1;
    spent += ns;
    warm += 1000;
  }
  /* measured: per_run round trips, in batches of 10,000, unless
   * rtt_run_max_ns pass first (slow kernel transports on a slow machine) */
  uint64_t done = 0;
  spent = 0;
  while (done < per_run && (done == 0 || spent < cfg->rtt_run_max_ns)) {
    uint64_t n = per_run - done;
    if (n > 10000) n = 10000;
    int rc = side0_round(t, ep, &seq, n, 0, samples + done, &errs, &ns);
    g_ctrl->errors[0] = errs;
    if (rc) return -1;
    done += n;
    spent += ns;
  }
  g_ctrl->rtt_samples = done;
  g_ctrl->warm = warm;
  g_ctrl->done = 1;
  return side0_stop();
}

/* Latency: a warm-up round of warm_min messages sent as fast as they go
 * (every page of the channel is faulted in), then the measured round of
 * t->lat_count paced messages. */
static int lat_side0(const bench_config *cfg, bench_test *t, void *ep) {
  uint64_t seq = 1, errs = 0, ns = 0;
  if (side0_round(t, ep, &seq, cfg->warm_min, 1, NULL, &errs, &ns) ||
      side0_round(t, ep, &seq, t->lat_count, 0, NULL, &errs, &ns))
    return -1;
  g_ctrl->warm = cfg->warm_min;
  g_ctrl->done = 1;
  return side0_stop();
}

/* ---- children ---------------------------------------------------------- */

static __attribute__((noreturn)) void child_main(const bench_config *cfg,
                                                bench_test *t, int side,
                                                uint64_t *samples) {
  g_side = side;
  g_phase = 0;
  bench_single_cpu = cfg->single_cpu;
  bench_os_child_init();

  int rc = 0;
  char err[256];
  if (cfg->cpu[side] >= 0 && bench_os_pin(cfg->cpu[side], err, sizeof err))
    rc = bench_fail("%s", err);
  /* before rill's endpoints are joined: they register the heavy barrier */
  if (rc == 0 && cfg->no_heavy_barrier &&
      bench_os_no_heavy_barrier(err, sizeof err))
    rc = bench_fail("%s", err);
  if (rc == 0 && ((t->kind == BENCH_RTT && side == 0) ||
                  (t->kind == BENCH_LAT && side == 1))) /* fault pages in now */
    memset(samples, 0, (size_t)cfg->rtt_per_run * sizeof *samples);

  void *ep = NULL;
  if (rc == 0) rc = t->tr->open(t, side, &ep);
  if (rc == 0) rc = barrier(); /* both endpoints are joined */
  if (rc == 0) rc = probe();
  if (rc == 0) {
    if (side == 1)
      rc = side1_loop(t, ep, samples);
    else if (t->kind == BENCH_TPUT)
      rc = tput_side0(cfg, t, ep);
    else if (t->kind == BENCH_RTT)
      rc = rtt_side0(cfg, t, ep, samples);
    else
      rc = lat_side0(cfg, t, ep);
  }
  if (ep) t->tr->close(ep);
  if (rc) bench_fail("failed"); /* makes sure abort is raised */
  bench_os_exit(rc == 0 ? 0 : 1);
}

/* A side's own copies of what the parent put in the control block. */
void bench_harness_child(int side) {
  static bench_config cfg;
  static bench_test t;
  static bench_shared samples;
  g_side = side; /* bench_fail() records for this side from now on */
  cfg = g_ctrl->cfg;
  t = g_ctrl->test;
  samples = g_ctrl->samples;
  t.tr = bench_transport_find(g_ctrl->tr_name);
  if (!t.tr) {
    bench_fail("no transport %s in this program", g_ctrl->tr_name);
    bench_os_exit(1);
  }
  if ((t.shm.len && bench_os_shared_attach(&t.shm)) ||
      bench_os_shared_attach(&samples)) {
    bench_fail("cannot map the shared memory of the run");
    bench_os_exit(1);
  }
  child_main(&cfg, &t, side, samples.p);
}

int bench_harness_child_main(int argc, char **argv) {
  if (argc != 4 || (strcmp(argv[2], "0") && strcmp(argv[2], "1"))) return 2;
  snprintf(g_ctrl_sh.name, sizeof g_ctrl_sh.name, "%s", argv[3]);
  g_ctrl_sh.len = sizeof(bench_ctrl);
  if (bench_os_shared_attach(&g_ctrl_sh) != 0) return 1;
  g_ctrl = g_ctrl_sh.p;
  bench_abort_flag = &g_ctrl->abort;
  bench_harness_child(argv[2][0] - '0');
}

void bench_kill_children(void) {
  for (int i = 0; i < 2; i++) bench_os_child_kill(&g_child[i]);
}

/* Waits for both children; kills them at the deadline, or a while after the
 * first one failed.  Fills OK and HOW and returns a mask of the sides
 * killed. */
static int wait_children(const bench_config *cfg, int ok[2], char how[2][96]) {
  uint64_t deadline = bench_now_ns() + cfg->child_deadline_ns;
  int alive[2] = {1, 1}, killed = 0;
  for (;;) {
    for (int i = 0; i < 2; i++) {
      if (!alive[i] || !bench_os_child_ended(&g_child[i], 0, &ok[i], how[i], 96))
        continue;
      alive[i] = 0;
      if (!ok[i]) {
        /* tell the other side to give up; allow it 10 s to notice */
        atomic_store_explicit(&g_ctrl->abort, 1, memory_order_relaxed);
        uint64_t grace = bench_now_ns() + 10000000000ull;
        if (grace < deadline) deadline = grace;
      }
    }
    if (!alive[0] && !alive[1]) return killed;
    uint64_t now = bench_now_ns();
    if (now >= deadline) {
      bench_kill_children();
      for (int i = 0; i < 2; i++)
        if (alive[i]) {
          killed |= 1 << i;
          bench_os_child_ended(&g_child[i], 1, &ok[i], how[i], 96);
          alive[i] = 0;
        }
      return killed;
    }
    bench_os_children_wait(g_child, 2, deadline - now);
  }
}

uint64_t bench_timer_overhead_ns(void) {
  uint64_t d[1001];
  for (int i = 0; i < 1001; i++) {
    uint64_t a = bench_now_ns();
    uint64_t b = bench_now_ns();
    d[i] = b - a;
  }
  bench_sort_u64(d, 1001);
  return d[500];
}

int bench_run_once(const bench_config *cfg, bench_test *t,
                   const bench_shared *samples, bench_run_out *out) {
  memset(out, 0, sizeof *out);
  memset(g_ctrl, 0, sizeof *g_ctrl);
  for (int i = 0; i < 4; i++) t->fd[i] = -1;
  memset(&t->shm, 0, sizeof t->shm);
  t->h[0] = t->h[1] = 0;
  t->region[0] = 0;

  char err[256] = "", how[2][96] = {"", ""};
  int rc = t->tr->setup(t, err, sizeof err);
  int ok[2] = {0, 0}, killed = 0, started = 0;
  if (rc == 0) {
    g_ctrl->cfg = *cfg;
    g_ctrl->test = *t;
    snprintf(g_ctrl->tr_name, sizeof g_ctrl->tr_name, "%s", t->tr->name);
    g_ctrl->samples = *samples;
    for (int side = 0; side < 2; side++) {
      if (bench_os_spawn(side, g_ctrl_sh.name, &g_child[side], err,
                         sizeof err) != 0) {
        atomic_store_explicit(&g_ctrl->abort, 1, memory_order_relaxed);
        rc = -1;
        break;
      }
      started++;
    }
    /* the parent's copies would keep a dead peer's pipe open */
    for (int i = 0; i < 4; i++)
      if (t->fd[i] >= 0) {
        close(t->fd[i]);
        t->fd[i] = -1;
      }
    if (started == 2) {
      killed = wait_children(cfg, ok, how);
    } else if (started == 1) { /* it sees the abort flag and leaves */
      bench_os_child_ended(&g_child[0], 1, &ok[0], how[0], sizeof how[0]);
    }
  }

  /* teardown runs whatever happened */
  if (t->tr->teardown) t->tr->teardown(t);
  for (int i = 0; i < 4; i++)
    if (t->fd[i] >= 0) {
      close(t->fd[i]);
      t->fd[i] = -1;
    }
  bench_os_shared_free(&t->shm);

  out->errors = g_ctrl->errors[0] + g_ctrl->errors[1];
  out->count = g_ctrl->run_count;
  out->ns = g_ctrl->run_ns;
  out->warm = g_ctrl->warm;
  out->probe_ns = g_ctrl->probe_ns;
  out->nsamples = g_ctrl->rtt_samples;
  out->cpu_ns = g_ctrl->cpu_ns;
  out->wall_ns = g_ctrl->wall_ns;
  if (rc != 0) {
    out->failed = 1;
    snprintf(out->failure, sizeof out->failure, "%s", err);
    return -1;
  }
  size_t l = 0;
  for (int i = 0; i < 2; i++) {
    if (ok[i] && !g_ctrl->err[i][0]) continue;
    out->failed = 1;
    if (l < sizeof out->failure)
      l += (size_t)snprintf(out->failure + l, sizeof out->failure - l,
                            "%sside %d: %s (%s%s)", l ? "; " : "", i,
                            g_ctrl->err[i][0] ? g_ctrl->err[i] : "no message",
                            how[i], (killed >> i) & 1 ? ", killed by the parent" : "");
  }
  if (!out->failed && !g_ctrl->done) {
    out->failed = 1;
    snprintf(out->failure, sizeof out->failure, "the run did not finish");
  }
  return out->failed ? -1 : 0;
}
