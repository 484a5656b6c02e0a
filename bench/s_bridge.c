/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill_bench's bridge suite (issue 24; Linux, as root): rill channels
 * carried between two hosts over NATS by `rill bridge`, beside direct
 * NATS clients and ZeroMQ over TCP, the hosts being network namespaces of
 * this machine (tests/bridge/netns.sh):
 *
 *   host 1  PREFIX-1, SUBNET.1, CPU A   the sender; `rill bridge out`
 *   host 2  PREFIX-2, SUBNET.2, CPU B   nats-server
 *   host 3  PREFIX-3, SUBNET.3, CPU B   the receiver; `rill bridge in`
 *
 * Rows, at 64 and 1024 bytes, throughput (as fast as the sender goes) and
 * one-way latency (one message every PERIOD_NS):
 *
 *   nats-direct       nats.c publisher (host 1) -> nats-server -> nats.c
 *                     subscriber (host 3), the client options the bridge
 *                     uses
 *   nats-asap         latency only: the same, the publisher with
 *                     natsOptions_SetSendAsap (each publish written at
 *                     once, not by the client's flusher)
 *   bridge-core       rill producer -> bridge out -> nats-server -> bridge
 *                     in --create -> rill consumer, core NATS
 *   bridge-jetstream  the same with -j (JetStream, one server, replicas 1,
 *                     its file store on tmpfs)
 *   zmq-tcp           ZeroMQ PUSH (host 1) -> PULL (host 3), tcp://
 *
 * The ends are this program's workers net-send and net-recv
 * (bench/w_net.c); every process of a run is fresh (the server and its
 * store too), every payload checked.  docs/benchmark.md, "The NATS bridge".
 */
#include "proc.h"
#include "suites.h"

#include <rill.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef RILL_HAVE_NATS
#include <nats/nats.h>
#endif

#ifndef RILL_NATS_SERVER
#define RILL_NATS_SERVER "/usr/sbin/nats-server"
#endif

#define SUBNET "10.77.0"
#define NATS_PORT "4222"
#define PERIOD_NS 50000u /* latency rows: one message every 50 us */
/* both hosts' channels: depth and mtu (every message one fragment) */
#define CHAN_DEPTH 4096
#define CHAN_MTU 1024
#define STR_(x) #x
#define STR(x) STR_(x)

/* the rows' kinds */
enum { R_NATS, R_CORE, R_JS, R_ZMQ, R_ASAP };
typedef struct brow {
  int kind;
  const char *name;
  int peer;          /* another project's: its errors do not fail the run  */
  int at_most_once;  /* core NATS: a message may be lost, by design; what
                        was lost is detail.lost, not an error              */
  int lat_only;      /* a latency row only                                 */
  /* messages measured per throughput run at 64 and 1024 B (about 1 s on
   * the development VM); the warm-up is a fifth of it; --quick: a tenth */
  uint64_t count[2];
} brow;
#define NROWS 5
static const brow ROWS[NROWS] = {
    {R_NATS, "nats-direct", 1, 1, 0, {1000000, 200000}},
    {R_ASAP, "nats-asap", 1, 1, 1, {0, 0}},
    {R_CORE, "bridge-core", 0, 1, 0, {2000000, 300000}},
    {R_JS, "bridge-jetstream", 0, 0, 0, {800000, 150000}},
    {R_ZMQ, "zmq-tcp", 1, 0, 0, {2000000, 400000}},
};

/* what the suite made, for its end and for a signal */
static char g_prefix[24];    /* the namespaces: PREFIX-1, -2, -3, -sw; "" */
static char g_scratch[300];  /* its directory: logs, stores, hosts'; ""   */
static char g_hdir[2][320];   /* host 1's and host 3's region directories */
static char g_rill[1024];    /* the rill command                         */
static char g_ns[3][32];     /* the hosts' namespaces                    */
static int g_cpu_send, g_cpu_recv, g_cpu_server;
static unsigned g_id;        /* runs, for fresh names                    */
static bench_wres g_res[2];

/* detail values of the rows */
enum { D_SEND, D_LOST, D_BAD };

/* ---- counts ------------------------------------------------------------------ */

/* messages of a throughput run: WARM, then COUNT measured */
static void tput_counts(const bench_config *cfg, const bench_row *r, uint64_t *warm,
                        uint64_t *count) {
  const brow *b = r->ctx;
  *count = b->count[r->size > 256];
  *warm = *count / 5;
  if (cfg->quick) *count /= 10, *warm /= 10;
}

/* messages of a latency run, one every PERIOD_NS: WARM, then COUNT (1 s) */
static void lat_counts(const bench_config *cfg, uint64_t *warm, uint64_t *count) {
  *count = 1000000000ull / PERIOD_NS;
  *warm = *count / 5;
  if (cfg->quick) *count /= 10, *warm /= 10;
}

/* snprintf whose result is used (so GCC's -Wformat-truncation lets a text
 * cut short be) */
#define FMT(buf, len, ...) \
  do { \
    if (snprintf(buf, len, __VA_ARGS__) < 0) (buf)[0] = 0; \
  } while (0)

/* ---- commands, files and namespaces ----------------------------------------------- */

/* Runs ARGV (an absolute path) and waits: 0 if it exited with status 0. */
static int run_cmd(char *const argv[]) {
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    int null = open("/dev/null", O_WRONLY);
    if (null >= 0) dup2(null, STDOUT_FILENO);
    execv(argv[0], argv);
    _exit(127);
  }
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) return -1;
  return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *f) {
  (void)st, (void)f;
  if (flag == FTW_DP) rmdir(path);
  else unlink(path);
  return 0;
}

static void rm_tree(const char *path) { nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

/* Removes the files of DIR that name region NAME between '@'s (the
 * bridges' own files, beside the region). */
static void rm_named(const char *dir, const char *name) {
  char at[64], path[700];
  FMT(at, sizeof at, "@%s@", name);
  DIR *d = opendir(dir);
  struct dirent *de;
  while (d && (de = readdir(d)))
    if (strstr(de->d_name, at)) {
      FMT(path, sizeof path, "%s/%s", dir, de->d_name);
      unlink(path);
    }
  if (d) closedir(d);
}

static void netns_down(void) {
  if (!g_prefix[0]) return;
  char *argv[] = {"/bin/sh", RILL_BENCH_NETNS, "down", g_prefix, NULL};
  run_cmd(argv);
  g_prefix[0] = 0;
}

/* Async-signal-safe: kills what runs, removes the namespaces (ip netns del
 * is this: a detached unmount and an unlink of /run/netns/NAME; the
 * namespace goes with its last process) and the suite's directory. */
void bench_bridge_on_signal(void) {
  if (!g_prefix[0] && !g_scratch[0]) return;
  bench_procs_kill_all();
  if (g_prefix[0]) {
    static const char *const tails[4] = {"-1", "-2", "-3", "-sw"};
    for (int i = 0; i < 4; i++) {
      char path[64] = "/run/netns/";
      size_t l = strlen(path);
      for (const char *s = g_prefix; *s && l < 50; s++) path[l++] = *s;
      for (const char *s = tails[i]; *s; s++) path[l++] = *s;
      path[l] = 0;
      umount2(path, MNT_DETACH);
      unlink(path);
    }
  }
  if (g_scratch[0]) {
    pid_t pid = fork();
    if (pid == 0) {
      char *argv[] = {"/bin/rm", "-rf", g_scratch, NULL};
      execv(argv[0], argv);
      _exit(127);
    }
    if (pid > 0) waitpid(pid, NULL, 0);
  }
}

/* Polls PATH (a log) for a line containing MARK while P runs, for up to
 * TIMEOUT_NS.  0, or -1 with ERR set. */
static int log_wait(bench_proc *p, const char *path, const char *mark, uint64_t timeout_ns,
                    char *err, size_t len) {
  uint64_t end = bench_now_ns() + timeout_ns;
  char line[512], how[160];
  for (;;) {
    FILE *f = fopen(path, "r");
    char last[256] = "";
    if (f) {
      while (fgets(line, sizeof line, f)) {
        if (strstr(line, mark)) {
          fclose(f);
          return 0;
        }
        line[strcspn(line, "\n")] = 0;
        snprintf(last, sizeof last, "%.200s", line);
      }
      fclose(f);
    }
    if (!bench_proc_alive(p, how, sizeof how)) {
      snprintf(err, len, "%s %s before it was ready%s%s", p->what, how, last[0] ? ": " : "", last);
      return -1;
    }
    if (bench_now_ns() > end) {
      snprintf(err, len, "%s not ready in %llu s%s%s", p->what,
               (unsigned long long)(timeout_ns / 1000000000ull), last[0] ? ": " : "", last);
      return -1;
    }
    struct timespec ts = {0, 5000000};
    nanosleep(&ts, NULL);
  }
}

/* ---- one run -------------------------------------------------------------------------- */

static void proc_none(bench_proc *p) {
  memset(p, 0, sizeof *p);
  p->out_fd = -1;
}

static void fail(bench_run_out *o, const char *why) {
  if (!o->failed) {
    o->failed = 1;
    FMT(o->failure, sizeof o->failure, "%s", why);
  }
}

/* Stops P with SIG (nats-server exits 0 after SIGINT, 1 after SIGTERM;
 * the bridges 0 after SIGTERM), SIGKILL after 5 s; fails the run O if P
 * did not exit with status 0 by then, with the last line of its stderr. */
static void stop(bench_proc *p, int sig, bench_run_out *o) {
  char how[160] = "", what[48], last[200] = "", line[512];
  if (p->pid <= 0) return;
  snprintf(what, sizeof what, "%s", p->what);
  kill(p->pid, sig);
  uint64_t end = bench_now_ns() + 5000000000ull;
  int alive;
  while ((alive = bench_proc_alive(p, how, sizeof how)) && bench_now_ns() < end) {
    struct timespec ts = {0, 2000000};
    nanosleep(&ts, NULL);
  }
  if (alive) snprintf(how, sizeof how, "did not stop within 5 s (killed)");
  FILE *f = p->errpath[0] ? fopen(p->errpath, "r") : NULL;
  while (f && fgets(line, sizeof line, f))
    if (line[strspn(line, " \n")]) FMT(last, sizeof last, "%.*s", (int)strcspn(line, "\n"), line);
  if (f) fclose(f);
  bench_proc_kill(p);
  if (alive || strcmp(how, "exited with status 0")) {
    char why[400];
    FMT(why, sizeof why, "%s %s%s%s", what, how, last[0] ? ": " : "", last);
    fail(o, why);
  }
}

static int bridge_run(const bench_config *cfg, bench_row *r, unsigned run, bench_run_out *o) {
  (void)run;
  const brow *b = r->ctx;
  int lat = r->kind == BENCH_LAT;
  uint64_t warm, count;
  if (lat) lat_counts(cfg, &warm, &count);
  else tput_counts(cfg, r, &warm, &count);
  unsigned id = g_id++;
  char size[16], warm_s[24], count_s[24], period[24], sync[400], url[64], subject[48];
  char reg[48], chan[64], log[400], store[400], zurl[64], err[300] = "";
  snprintf(size, sizeof size, "%zu", r->size);
  snprintf(warm_s, sizeof warm_s, "%llu", (unsigned long long)warm);
  snprintf(count_s, sizeof count_s, "%llu", (unsigned long long)count);
  snprintf(period, sizeof period, "%u", lat ? PERIOD_NS : 0u);
  snprintf(sync, sizeof sync, "%s/sync-%u", g_scratch, id);
  snprintf(url, sizeof url, "nats://" SUBNET ".2:" NATS_PORT);
  snprintf(subject, sizeof subject, "bench.%u", id);
  /* the channel has the same name on both hosts (so both bridges name its
   * stream alike); each host has its own directory, as its own /dev/shm */
  snprintf(reg, sizeof reg, "b%u", id);
  snprintf(chan, sizeof chan, "%s/c", reg);
  snprintf(log, sizeof log, "%s/nats-%u.log", g_scratch, id);
  snprintf(store, sizeof store, "%s/js-%u", g_scratch, id);
  snprintf(zurl, sizeof zurl, "tcp://" SUBNET ".3:%u", 20000 + id % 20000);
  const char *mode = lat ? "lat" : "tput";
  int bridged = b->kind == R_CORE || b->kind == R_JS, region = 0;
  bench_proc srv, bin, bout, ends[2]; /* ends: the receiver, the sender */
  proc_none(&srv), proc_none(&bin), proc_none(&bout), proc_none(&ends[0]), proc_none(&ends[1]);

  /* the server */
  if (b->kind != R_ZMQ) {
    char *argv[] = {RILL_NATS_SERVER, "-a", SUBNET ".2", "-p", NATS_PORT, "-l", log,
                    b->kind == R_JS ? "-js" : NULL, "-sd", store, NULL};
    if (bench_proc_start_in(&srv, "nats-server", g_cpu_server, g_ns[1], argv, g_scratch, err,
                            sizeof err) < 0 ||
        log_wait(&srv, log, "Server is ready", 10000000000ull, err, sizeof err))
      goto out;
  }
  /* the receiving host: bridge in (it makes the channel), the receiver */
  if (bridged) {
    char *argv[] = {g_rill,     "--dir",    g_hdir[1], "bridge",    "in",
                    chan,       "-s",       url,       "--create",  "--size",
                    "16M",      "--depth",  STR(CHAN_DEPTH), "--mtu", STR(CHAN_MTU),
                    "--max-msg", STR(CHAN_MTU), b->kind == R_JS ? "-j" : NULL, NULL};
    if (bench_proc_start_in(&bin, "bridge in", g_cpu_recv, g_ns[2], argv, g_scratch, err,
                            sizeof err) < 0)
      goto out;
  }
  {
    char *argv[12] = {(char *)cfg->self, "worker", "net-recv", NULL, size, warm_s, count_s,
                      (char *)mode, sync};
    if (bridged) argv[3] = "rill", argv[9] = g_hdir[1], argv[10] = reg, argv[11] = "c";
    else if (b->kind == R_NATS || b->kind == R_ASAP)
      argv[3] = "nats", argv[9] = url, argv[10] = subject;
    else argv[3] = "zmq", argv[9] = zurl;
    char *av[13];
    memcpy(av, argv, sizeof argv);
    av[12] = NULL;
    if (bench_proc_start_in(&ends[0], "receiver", g_cpu_recv, g_ns[2], av, g_scratch, err,
                            sizeof err) < 0 ||
        bench_proc_ready(&ends[0], "ready", 30000000000ull, err, sizeof err))
      goto out;
  }
  /* the sending host: its channel, bridge out, the sender */
  if (bridged) {
    bench_config c2 = *cfg;
    const char *chans[1] = {"c"};
    FMT(c2.dir, sizeof c2.dir, "%s", g_hdir[0]);
    if (bench_region_make(&c2, reg, 1, chans, CHAN_DEPTH, CHAN_MTU, 2, err, sizeof err)) goto out;
    region = 1;
    char *argv[] = {g_rill, "--dir", g_hdir[0], "bridge", "out", chan, "-s", url,
                    b->kind == R_JS ? "-j" : NULL, NULL};
    if (bench_proc_start_in(&bout, "bridge out", g_cpu_send, g_ns[0], argv, g_scratch, err,
                            sizeof err) < 0)
      goto out;
  }
  {
    char *argv[13] = {(char *)cfg->self, "worker", "net-send", NULL, size, warm_s, count_s,
                      period, sync};
    if (bridged) argv[3] = "rill", argv[9] = g_hdir[0], argv[10] = reg, argv[11] = "c";
    else if (b->kind == R_NATS || b->kind == R_ASAP)
      argv[3] = b->kind == R_ASAP ? "nats-asap" : "nats", argv[9] = url, argv[10] = subject;
    else argv[3] = "zmq", argv[9] = zurl;
    if (bench_proc_start_in(&ends[1], "sender", g_cpu_send, g_ns[0], argv, g_scratch, err,
                            sizeof err) < 0)
      goto out;
  }
  if (bench_proc_collect(ends, g_res, 2, cfg->child_deadline_ns, err, sizeof err)) goto out;

  /* the numbers */
  {
    const char *l = g_res[0].nlines ? g_res[0].lines[0] : "";
    const char *sl = g_res[1].nlines ? g_res[1].lines[0] : "";
    double ns = bench_kv_num(l, "ns"), n = bench_kv_num(l, "count"), e = bench_kv_num(l, "errors");
    double sns = bench_kv_num(sl, "ns");
    if (!isfinite(ns) || !(n > 0) || !isfinite(e)) {
      snprintf(err, sizeof err, "the receiver wrote no result");
      goto out;
    }
    o->det[D_LOST] = bench_kv_num(l, "lost");
    o->errors = (uint64_t)e;
    if (b->at_most_once && o->det[D_LOST] > 0) o->errors -= (uint64_t)o->det[D_LOST];
    o->warm = warm;
    o->det[D_BAD] = bench_kv_num(l, "bad") + bench_kv_num(l, "late");
    if (sns > 0) o->det[D_SEND] = (double)count * 1e9 / sns;
    if (lat) {
      o->samples = g_res[0].samples;
      o->nsamples = g_res[0].nsamples;
    } else {
      if (!(ns > 0)) {
        snprintf(err, sizeof err, "the receiver's run took no time");
        goto out;
      }
      o->count = (uint64_t)n;
      o->ns = (uint64_t)ns;
    }
  }
out:
  if (err[0]) fail(o, err);
  for (int i = 0; i < 2; i++) bench_proc_kill(&ends[i]);
  stop(&bout, SIGTERM, o);
  stop(&bin, SIGTERM, o);
  stop(&srv, SIGINT, o);
  if (region) {
    rill_region_unlink(reg, g_hdir[0]);
    bench_cleanup_unregister_region();
  }
  rill_region_unlink(reg, g_hdir[1]);
  rm_named(g_hdir[0], reg);
  rm_named(g_hdir[1], reg);
  rm_tree(store);
  unlink(log);
  unlink(sync);
  return o->failed ? -1 : 0;
}

/* ---- the suite ------------------------------------------------------------------------- */

/* The first line of ARGV's output (stdout and stderr) into BUF: 0 if it
 * exited with status 0. */
static int cmd_line(char *const argv[], char *buf, size_t len) {
  int fds[2];
  buf[0] = 0;
  if (pipe(fds)) return -1;
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return -1;
  }
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    dup2(fds[1], STDOUT_FILENO);
    dup2(fds[1], STDERR_FILENO);
    close(fds[0]);
    close(fds[1]);
    execv(argv[0], argv);
    _exit(127);
  }
  close(fds[1]);
  FILE *f = fdopen(fds[0], "r");
  char line[512];
  int first = 1;
  while (f && fgets(line, sizeof line, f))
    if (first) {
      line[strcspn(line, "\n")] = 0;
      FMT(buf, len, "%s", line);
      first = 0;
    }
  if (f) fclose(f);
  else close(fds[0]);
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) return -1;
  return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static void add_software(bench_skips *sk, const char *key, const char *v) {
  size_t l = strlen(sk->software);
  snprintf(sk->software + l, sizeof sk->software - l, "%s\"%s\": \"%s\"", l ? ", " : "", key, v);
}

void bench_suite_bridge(const bench_config *cfg, bench_rows *rows, bench_skips *sk) {
  const char *all = "nats-direct, nats-asap, bridge-core, bridge-jetstream, zmq-tcp";
#ifndef RILL_HAVE_NATS
  bench_skip(sk, "bridge", "%s left out (this build has no NATS: apt-get install libnats-dev "
             "nats-server, or make bench-deps; then rebuild)", all);
  (void)rows;
  return;
#else
  if (geteuid() != 0) {
    bench_skip(sk, "bridge", "%s left out (its hosts are network namespaces, which need root: "
               "run as root, as CI does)", all);
    return;
  }
  if (access(RILL_NATS_SERVER, X_OK)) {
    bench_skip(sk, "bridge", "%s left out (%s: %s; apt-get install nats-server)", all,
               RILL_NATS_SERVER, strerror(errno));
    return;
  }
  /* the rill command beside this program, and its bridge */
  int have_bridge = 0;
  char why[400] = "";
  snprintf(g_rill, sizeof g_rill, "%s", cfg->self);
  char *slash = strrchr(g_rill, '/');
  snprintf(slash ? slash + 1 : g_rill, sizeof g_rill - (size_t)(slash ? slash + 1 - g_rill : 0),
           "rill");
  {
    char line[300];
    char *argv[] = {g_rill, "bridge", "--help", NULL};
    if (access(g_rill, X_OK)) FMT(why, sizeof why, "%s: %s", g_rill, strerror(errno));
    else if (cmd_line(argv, line, sizeof line))
      FMT(why, sizeof why, "%s bridge --help failed: %s", g_rill, line);
    else have_bridge = 1;
  }
  /* the hosts */
  snprintf(g_prefix, sizeof g_prefix, "rbb%d", (int)getpid() % 100000);
  for (int i = 0; i < 3; i++) snprintf(g_ns[i], sizeof g_ns[i], "%s-%d", g_prefix, i + 1);
  snprintf(g_scratch, sizeof g_scratch, "%s/bridge", cfg->dir);
  FMT(g_hdir[0], sizeof g_hdir[0], "%s/host1", g_scratch);
  FMT(g_hdir[1], sizeof g_hdir[1], "%s/host3", g_scratch);
  if (mkdir(g_scratch, 0700) || mkdir(g_hdir[0], 0700) || mkdir(g_hdir[1], 0700)) {
    bench_skip(sk, "bridge", "%s left out (mkdir %s: %s)", all, g_scratch, strerror(errno));
    rm_tree(g_scratch);
    g_scratch[0] = g_prefix[0] = 0;
    return;
  }
  {
    char *argv[] = {"/bin/sh", RILL_BENCH_NETNS, "up", g_prefix, "3", SUBNET, NULL};
    if (run_cmd(argv)) {
      netns_down();
      rm_tree(g_scratch);
      g_scratch[0] = 0;
      bench_skip(sk, "bridge", "%s left out (%s up failed: it needs ip, from iproute2)", all,
                 RILL_BENCH_NETNS);
      return;
    }
  }
  /* versions */
  {
    char line[300], v[64] = "?";
    char *argv[] = {RILL_NATS_SERVER, "--version", NULL};
    if (!cmd_line(argv, line, sizeof line)) {
      const char *p = strstr(line, " v"); /* "nats-server: v2.9.10" */
      if (p) p++;
      FMT(v, sizeof v, "%s", p ? p + 1 : line);
    }
    add_software(sk, "nats_server", v);
    add_software(sk, "nats_c", nats_GetVersion());
  }
  if (!have_bridge)
    bench_skip(sk, "bridge-rill", "bridge-core, bridge-jetstream left out (%s; make builds it)",
               why);
  /* CPUs: host 1 on A, host 3 and the server on B */
  g_cpu_send = cfg->cpu[0];
  g_cpu_recv = g_cpu_server = cfg->cpu[1];
  printf("bridge: hosts are network namespaces %s-1 (" SUBNET ".1, CPU %d: sender, bridge out), "
         "%s-2 (" SUBNET ".2, CPU %d: nats-server), %s-3 (" SUBNET ".3, CPU %d: receiver, "
         "bridge in)\n",
         g_prefix, g_cpu_send, g_prefix, g_cpu_server, g_prefix, g_cpu_recv);
  fflush(stdout);

  static const size_t sizes[2] = {64, 1024};
  for (int lat = 0; lat < 2; lat++)
    for (int s = 0; s < 2; s++) {
      size_t first = rows->n;
      for (int k = 0; k < NROWS; k++) {
        if ((ROWS[k].kind == R_CORE || ROWS[k].kind == R_JS) && !have_bridge) continue;
        if (ROWS[k].lat_only && !lat) continue;
#ifndef RILL_HAVE_ZMQ
        if (ROWS[k].kind == R_ZMQ) continue;
#endif
        bench_row *r = bench_row_new(rows);
        if (!r) break;
        *r = (bench_row){.suite = "bridge", .name = ROWS[k].name, .producer = "c",
                         .consumer = "c", .kind = lat ? BENCH_LAT : BENCH_TPUT,
                         .size = sizes[s], .peer = ROWS[k].peer, .run = bridge_run,
                         .ctx = &ROWS[k], .detail = {"send_msgs_per_s", "lost", "bad"},
                         .detail_sum = (1 << D_LOST) | (1 << D_BAD)};
        if (lat) r->rate_hz = 1000000000u / PERIOD_NS;
      }
      bench_rows_run(cfg, &rows->v[first], rows->n - first, cfg->runs, 1);
      for (size_t i = first; i < rows->n; i++)
        if (((const brow *)rows->v[i].ctx)->at_most_once && rows->v[i].det[D_LOST] > 0)
          printf("    (%s: %.0f messages lost over the runs: core NATS delivers at most once; "
                 "detail.lost, not errors)\n",
                 rows->v[i].name, rows->v[i].det[D_LOST]);
    }
#ifndef RILL_HAVE_ZMQ
  bench_skip(sk, "bridge-zmq", "zmq-tcp left out (apt-get install libzmq3-dev; then rebuild)");
#endif
  netns_down();
  rm_tree(g_scratch);
  g_scratch[0] = 0;
  for (int i = 0; i < 2; i++) bench_wres_free(&g_res[i]);
#endif
}

/* ---- ratios and the bars ------------------------------------------------------------------ */

static const bench_row *brow_find(const bench_rows *rows, const char *name, int kind,
                                  size_t size) {
  bench_row q = {.suite = "bridge", .name = name, .kind = kind, .size = size, .producer = "c",
                 .consumer = "c", .rate_hz = kind == BENCH_LAT ? 1000000000u / PERIOD_NS : 0};
  return bench_row_find(rows, &q);
}

/* A - B of the rows' p50s, in us, as a ratio of RT (LABEL takes the size
 * twice): of the pooled p50s, and paired (the median of run r's
 * differences); a bar of at most 20 us if OP. */
static void p50_diff(bench_ratios *rt, const bench_row *a, const bench_row *b, const char *op,
                     const char *label, size_t z) {
  char l[96];
  FMT(l, sizeof l, label, z, z);
  bench_ratio *c = bench_ratio_add(rt, "bridge", NULL, NULL, op, 20, "%s", l);
  if (!c) return;
  c->single = 1;
  if (!a || !b) return;
  c->value = ((double)a->p50 - (double)b->p50) / 1000;
  if (a->runs != b->runs || a->runs == 0) return;
  double v[BENCH_MAX_RUNS];
  for (unsigned i = 0; i < a->runs; i++)
    v[i] = ((double)a->run_p50[i] - (double)b->run_p50[i]) / 1000;
  c->paired = bench_median(v, a->runs);
}

/* Issue 24's bars, in core mode: the bridge makes at least 0.8 times the
 * direct clients' messages/s (their publisher buffering, as nats.c does by
 * default: their best rate), and adds at most 20 us to their one-way p50
 * (their publisher writing each message at once: their best latency).
 * For reading: the p50 beside the buffered publisher's, JetStream and
 * ZeroMQ beside the direct clients. */
void bench_ratios_bridge(const bench_rows *rows, bench_ratios *rt) {
  static const size_t sizes[2] = {64, 1024};
  for (int s = 0; s < 2; s++) {
    size_t z = sizes[s];
    const bench_row *nd = brow_find(rows, "nats-direct", BENCH_TPUT, z);
    if (!nd && !brow_find(rows, "nats-direct", BENCH_LAT, z)) continue;
    bench_ratio_add(rt, "bridge", brow_find(rows, "bridge-core", BENCH_TPUT, z), nd, ">=", 0.8,
                    "bridge bridge-core %zuB / nats-direct %zuB msgs/s", z, z);
    bench_ratio_add(rt, "bridge", brow_find(rows, "bridge-jetstream", BENCH_TPUT, z), nd, NULL,
                    0, "bridge bridge-jetstream %zuB / nats-direct %zuB msgs/s", z, z);
    bench_ratio_add(rt, "bridge", brow_find(rows, "zmq-tcp", BENCH_TPUT, z), nd, NULL, 0,
                    "bridge zmq-tcp %zuB / nats-direct %zuB msgs/s", z, z);
    /* the latency bar: against the direct clients at their lowest
     * latency (each publish written at once); against the buffered
     * publisher for reading */
    const bench_row *a = brow_find(rows, "bridge-core", BENCH_LAT, z);
    const bench_row *d = brow_find(rows, "nats-direct", BENCH_LAT, z);
    p50_diff(rt, a, brow_find(rows, "nats-asap", BENCH_LAT, z), "<=",
             "bridge bridge-core %zuB p50 - nats-asap %zuB p50, us", z);
    p50_diff(rt, a, d, NULL, "bridge bridge-core %zuB p50 - nats-direct %zuB p50, us", z);
    bench_ratio_add(rt, "bridge", brow_find(rows, "bridge-jetstream", BENCH_LAT, z), d, NULL, 0,
                    "bridge bridge-jetstream %zuB p50 / nats-direct %zuB p50", z, z);
    bench_ratio_add(rt, "bridge", brow_find(rows, "zmq-tcp", BENCH_LAT, z), d, NULL, 0,
                    "bridge zmq-tcp %zuB p50 / nats-direct %zuB p50", z, z);
    bench_ratio_add(rt, "bridge", brow_find(rows, "nats-asap", BENCH_LAT, z), d, NULL, 0,
                    "bridge nats-asap %zuB p50 / nats-direct %zuB p50", z, z);
  }
}
