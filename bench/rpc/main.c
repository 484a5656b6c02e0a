/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill_rpcbench: request/response benchmark (docs/benchmark.md).
 *
 *   rill_rpcbench [--quick] [--reps N] [--time S] [--goguest PATH] [--out FILE]
 *   rill_rpcbench guest -w N --dir D --region R --service S   (the C guest)
 *
 * Runs every cell of the matrix (rill with the Go and the C guest at -w 1,
 * 2, 4; a UNIX socket; ZeroMQ) at 1, 16 and 256 requests in flight, the
 * repetitions interleaved across cells, then prints a table and the
 * project's three bars and writes JSON.  Exit status: 0, or 1 when a cell
 * failed or a response was wrong, 2 for a bad option.
 */
#include "rpcbench.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rill.h"
#ifdef RILL_HAVE_ZMQ
#include <zmq.h>
#endif

#define MAX_REPS 15
#define MAX_CELLS 32

static const uint32_t INFLIGHT[] = {1, 16, 256};
static const uint32_t WORKERS[] = {1, 2, 4};
static const char *TRANSPORT[] = {"rill", "unix", "zeromq"};

typedef struct cell {
  int tr, go;
  uint32_t w, inflight;
  int reps;
  double rps[MAX_REPS];
  uint32_t p50[MAX_REPS], p99[MAX_REPS], p999[MAX_REPS];
  size_t samples[MAX_REPS];
  uint64_t errors;
  char failure[200]; /* empty unless failed */
} cell;

static char tmpdir[PATH_MAX];
static pid_t main_pid;

static void remove_tmpdir(void) {
  if (!tmpdir[0] || getpid() != main_pid) return;
  DIR *d = opendir(tmpdir);
  if (d) { /* what a killed server left: regions, FIFOs, the ipc socket */
    struct dirent *e;
    while ((e = readdir(d)))
      if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
        char p[PATH_MAX + 256];
        snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
        if (unlink(p)) fprintf(stderr, "rill_rpcbench: unlink %s: %s\n", p, strerror(errno));
      }
    closedir(d);
  }
  if (rmdir(tmpdir)) fprintf(stderr, "rill_rpcbench: rmdir %s: %s\n", tmpdir, strerror(errno));
  tmpdir[0] = 0;
}

static void on_signal(int sig) {
  (void)sig;
  rb_stop = 1;
}

static int make_tmpdir(void) {
  const char *base = getenv("RILL_DIR");
  struct stat st;
  if (!base || !*base) base = stat("/dev/shm", &st) == 0 && access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  snprintf(tmpdir, sizeof tmpdir, "%s/rill-rpcbench-XXXXXX", base);
  if (!mkdtemp(tmpdir)) {
    fprintf(stderr, "rill_rpcbench: mkdtemp %s: %s\n", tmpdir, strerror(errno));
    tmpdir[0] = 0;
    return -1;
  }
  rb_dir = tmpdir;
  return 0;
}

/* Pins this process to the first allowed CPU and the servers to the
 * second.  Returns the host's CPU, or -1 if not pinned. */
static int pin_cpus(void) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set)) {
    fprintf(stderr, "rill_rpcbench: sched_getaffinity: %s; not pinning\n", strerror(errno));
    return -1;
  }
  int cpus[2], n = 0;
  for (int c = 0; c < CPU_SETSIZE && n < 2; c++)
    if (CPU_ISSET(c, &set)) cpus[n++] = c;
  if (n < 2) {
    printf("only one CPU may be used: host and servers not pinned (they share it; the "
           "busy-polling numbers mean little)\n");
    return -1;
  }
  CPU_ZERO(&set);
  CPU_SET(cpus[0], &set);
  if (sched_setaffinity(0, sizeof set, &set)) {
    fprintf(stderr, "rill_rpcbench: pin to CPU %d: %s; not pinning\n", cpus[0], strerror(errno));
    return -1;
  }
  rb_server_cpu = cpus[1];
  return cpus[0];
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}

/* Nearest-rank quantile of sorted V. */
static uint32_t quantile(const uint32_t *v, size_t n, double q) {
  size_t k = (size_t)ceil(q * (double)n);
  return n ? v[k ? k - 1 : 0] : 0;
}

/* The repetition whose req/s is the median (for an even count, the slower
 * of the middle two). */
static int median_rep(const cell *c) {
  int idx[MAX_REPS];
  for (int i = 0; i < c->reps; i++) idx[i] = i;
  for (int i = 1; i < c->reps; i++)
    for (int j = i; j > 0 && c->rps[idx[j]] < c->rps[idx[j - 1]]; j--) {
      int t = idx[j];
      idx[j] = idx[j - 1];
      idx[j - 1] = t;
    }
  return idx[(c->reps - 1) / 2];
}

static double spread(const cell *c) {
  double lo = c->rps[0], hi = c->rps[0];
  for (int i = 1; i < c->reps; i++) {
    lo = c->rps[i] < lo ? c->rps[i] : lo;
    hi = c->rps[i] > hi ? c->rps[i] : hi;
  }
  return (hi - lo) / c->rps[median_rep(c)];
}

static int ok(const cell *c) { return c && !c->failure[0] && c->reps > 0; }

/* The server's language: the baselines' servers are C. */
static const char *guest_name(const cell *c) { return c->tr == RB_RILL && c->go ? "go" : "c"; }

static void run_cell(cell *c, rb_run *r, const char *self, const char *goguest) {
  int rc = c->tr == RB_RILL ? rb_rill_run(r, c->go ? goguest : self, c->go, c->w)
           : c->tr == RB_UNIX ? rb_unix_run(r) : rb_zmq_run(r);
  c->errors += r->errors;
  if (rc || r->failure[0] || r->nrtt == 0 || r->t1 <= r->t0) {
    snprintf(c->failure, sizeof c->failure, "%s", r->failure[0] ? r->failure : "no measured requests");
    return;
  }
  int k = c->reps++;
  c->rps[k] = (double)r->nrtt * 1e9 / (double)(r->t1 - r->t0);
  qsort(r->rtt, r->nrtt, sizeof *r->rtt, cmp_u32);
  c->p50[k] = quantile(r->rtt, r->nrtt, 0.50);
  c->p99[k] = quantile(r->rtt, r->nrtt, 0.99);
  c->p999[k] = quantile(r->rtt, r->nrtt, 0.999);
  c->samples[k] = r->nrtt;
}

static int run_key(const cell *c) {
  int k = c->inflight == INFLIGHT[0] ? 0 : c->inflight == INFLIGHT[1] ? 1 : 2;
  return k * 100 + (c->tr == RB_RILL ? (int)c->w * 2 + !c->go : 50 + c->tr);
}

static cell *find(cell *cs, int n, int tr, int go, uint32_t w, uint32_t inflight) {
  for (int i = 0; i < n; i++)
    if (cs[i].tr == tr && cs[i].go == go && cs[i].w == w && cs[i].inflight == inflight) return &cs[i];
  return NULL;
}

typedef struct bar {
  int id;                         /* 1: rill / unix socket; 2: Go / C guest;
                                     3: -w 4 / -w 1 of one guest            */
  uint32_t w;                     /* -w of the rill cell (C or Go guest)    */
  char name[96];
  double value, paired, threshold; /* < 0: not available                   */
} bar;

/* A over B: the ratio of their median req/s, and the median of the
 * repetition-by-repetition ratios (repetition r of both ran within seconds
 * of each other, so a change of the machine's state cancels out). */
static void ratio(bar *b, const cell *a, const cell *c) {
  b->value = b->paired = -1;
  if (!ok(a) || !ok(c)) return;
  b->value = a->rps[median_rep(a)] / c->rps[median_rep(c)];
  if (a->reps != c->reps) return;
  cell q = {.reps = a->reps};
  for (int i = 0; i < a->reps; i++) q.rps[i] = a->rps[i] / c->rps[i];
  b->paired = q.rps[median_rep(&q)];
}

static int make_bars(cell *cs, int n, int have_go, bar *b) {
  int nb = 0;
  cell *u = find(cs, n, RB_UNIX, 0, 1, 16), *best = NULL;
  for (size_t i = 0; i < 3; i++) {
    cell *c = find(cs, n, RB_RILL, 0, WORKERS[i], 16);
    if (ok(c) && (!best || c->rps[median_rep(c)] > best->rps[median_rep(best)])) best = c;
  }
  for (int k = 0; k < 2; k++) {
    cell *c = k ? best : find(cs, n, RB_RILL, 0, 1, 16);
    b[nb] = (bar){.id = 1, .w = c ? c->w : 0, .threshold = 10};
    snprintf(b[nb].name, sizeof b[nb].name, "rill C guest -w %u / unix socket, at 16 in flight%s",
             b[nb].w, k ? " (best -w)" : "");
    ratio(&b[nb++], c, u);
  }
  for (size_t i = 0; i < 3 && have_go; i++) {
    b[nb] = (bar){.id = 2, .w = WORKERS[i], .threshold = 0.5};
    snprintf(b[nb].name, sizeof b[nb].name, "rill Go guest / C guest, -w %u, at 16 in flight",
             WORKERS[i]);
    ratio(&b[nb++], find(cs, n, RB_RILL, 1, WORKERS[i], 16), find(cs, n, RB_RILL, 0, WORKERS[i], 16));
  }
  /* more workers than the guest's one CPU must not cost much (issue 21):
   * -w 4 against -w 1 of the same guest, at 16 and at 1 in flight */
  for (int go = 0; go < 1 + have_go; go++)
    for (int k = 0; k < 2; k++) {
      uint32_t inflight = k ? 1 : 16;
      b[nb] = (bar){.id = 3, .w = 4, .threshold = k ? 0.5 : 0.8};
      snprintf(b[nb].name, sizeof b[nb].name, "rill %s guest -w 4 / -w 1, at %u in flight",
               go ? "Go" : "C", inflight);
      ratio(&b[nb++], find(cs, n, RB_RILL, go, 4, inflight), find(cs, n, RB_RILL, go, 1, inflight));
    }
  return nb;
}

static void print_table(cell *cs, int n) {
  printf("\n%-7s %-5s %2s %8s %12s %9s %9s %9s %7s %6s %4s\n", "", "guest", "w", "inflight",
         "req/s", "p50 ns", "p99 ns", "p99.9 ns", "spread", "errors", "reps");
  for (int i = 0; i < n; i++) {
    cell *c = &cs[i];
    printf("%-7s %-5s %2u %8u ", TRANSPORT[c->tr], guest_name(c), c->w, c->inflight);
    if (ok(c)) {
      int m = median_rep(c);
      printf("%12.0f %9u %9u %9u %6.1f%% %6llu %4d\n", c->rps[m], c->p50[m], c->p99[m], c->p999[m],
             100 * spread(c), (unsigned long long)c->errors, c->reps);
    } else {
      printf("%12s %9s %9s %9s %7s %6llu %4d  %s\n", c->failure[0] ? "FAILED" : "not run", "-",
             "-", "-", "-", (unsigned long long)c->errors, c->reps, c->failure);
    }
  }
}

static void json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
    else if (ch < 0x20) fprintf(f, "\\u%04x", ch);
    else fputc(ch, f);
  }
  fputc('"', f);
}

static int mkdirs_for(const char *path) {
  char p[PATH_MAX];
  snprintf(p, sizeof p, "%s", path);
  for (char *s = p + 1; (s = strchr(s, '/')); s++) {
    *s = 0;
    if (mkdir(p, 0777) && errno != EEXIST) return -1;
    *s = '/';
  }
  return 0;
}

typedef struct info {
  char date[32], cpu[128];
  int quick, reps, host_cpu;
  double warm_s, time_s, seconds;
  const char *goguest;
} info;

static int write_json(const char *out, const info *in, cell *cs, int n, bar *b, int nb) {
  FILE *f = NULL;
  if (mkdirs_for(out) || !(f = fopen(out, "w"))) {
    fprintf(stderr, "rill_rpcbench: cannot write %s: %s\n", out, strerror(errno));
    return -1;
  }
  fprintf(f, "{\n  \"date\": \"%s\",\n  \"nproc\": %ld,\n  \"cpu_model\": ", in->date,
          sysconf(_SC_NPROCESSORS_ONLN));
  json_str(f, in->cpu);
  fprintf(f, ",\n  \"quick\": %s,\n  \"reps\": %d,\n  \"warmup_s\": %g,\n  \"run_s\": %g,\n",
          in->quick ? "true" : "false", in->reps, in->warm_s, in->time_s);
  if (in->host_cpu >= 0) fprintf(f, "  \"pinned\": true,\n  \"cpus\": [%d, %d],\n", in->host_cpu, rb_server_cpu);
  else fprintf(f, "  \"pinned\": false,\n  \"cpus\": null,\n");
  fprintf(f, "  \"payload_bytes\": %u,\n  \"lanes\": %u,\n  \"percentiles\": \"median repetition\",\n",
          RB_PAYLOAD, RB_LANES);
  fprintf(f, "  \"go_guest\": ");
  if (in->goguest) json_str(f, in->goguest);
  else fprintf(f, "null");
#ifdef RILL_HAVE_ZMQ
  int ma, mi, pa;
  zmq_version(&ma, &mi, &pa);
  fprintf(f, ",\n  \"zmq_version\": \"%d.%d.%d\"", ma, mi, pa);
#else
  fprintf(f, ",\n  \"zmq_version\": null");
#endif
  const char *gmp = getenv("GOMAXPROCS"); /* the Go guest inherits it */
  fprintf(f, ",\n  \"gomaxprocs_env\": ");
  if (gmp) json_str(f, gmp);
  else fprintf(f, "null");
  fprintf(f, ",\n  \"seconds\": %.1f,\n  \"cells\": [\n", in->seconds);
  for (int i = 0; i < n; i++) {
    cell *c = &cs[i];
    int m = ok(c) ? median_rep(c) : -1;
    fprintf(f, "    {\"transport\": \"%s\", \"guest\": \"%s\", \"workers\": %u, \"inflight\": %u, ",
            TRANSPORT[c->tr], guest_name(c), c->w, c->inflight);
    if (m >= 0)
      fprintf(f, "\"req_per_s\": %.0f, \"p50_ns\": %u, \"p99_ns\": %u, \"p999_ns\": %u, \"samples\": %zu, ",
              c->rps[m], c->p50[m], c->p99[m], c->p999[m], c->samples[m]);
    else
      fprintf(f, "\"req_per_s\": null, \"p50_ns\": null, \"p99_ns\": null, \"p999_ns\": null, \"samples\": null, ");
    fprintf(f, "\"errors\": %llu, \"reps\": %d, \"run_req_per_s\": [", (unsigned long long)c->errors, c->reps);
    for (int k = 0; k < c->reps; k++) fprintf(f, "%s%.0f", k ? ", " : "", c->rps[k]);
    fprintf(f, "], \"failed\": %s, \"failure\": ", c->failure[0] ? "true" : "false");
    if (c->failure[0]) json_str(f, c->failure);
    else fprintf(f, "null");
    fprintf(f, "}%s\n", i + 1 < n ? "," : "");
  }
  fprintf(f, "  ],\n  \"bars\": [\n");
  for (int i = 0; i < nb; i++) {
    fprintf(f, "    {\"bar\": %d, \"workers\": %u, \"name\": ", b[i].id, b[i].w);
    json_str(f, b[i].name);
    if (b[i].value >= 0)
      fprintf(f, ", \"value\": %.3f, \"threshold\": %g, \"met\": %s", b[i].value, b[i].threshold,
              b[i].value >= b[i].threshold ? "true" : "false");
    else fprintf(f, ", \"value\": null, \"threshold\": %g, \"met\": null", b[i].threshold);
    if (b[i].paired >= 0) fprintf(f, ", \"paired\": %.3f}", b[i].paired);
    else fprintf(f, ", \"paired\": null}");
    fprintf(f, "%s\n", i + 1 < nb ? "," : "");
  }
  fprintf(f, "  ]\n}\n");
  if (fclose(f)) {
    fprintf(stderr, "rill_rpcbench: writing %s: %s\n", out, strerror(errno));
    return -1;
  }
  return 0;
}

static void cpu_model(char *out, size_t len) {
  char line[256];
  FILE *f = fopen("/proc/cpuinfo", "r");
  snprintf(out, len, "unknown");
  while (f && fgets(line, sizeof line, f)) {
    char *v = strchr(line, ':');
    if (!strncmp(line, "model name", 10) && v) {
      v += 1 + (v[1] == ' ');
      v[strcspn(v, "\n")] = 0;
      snprintf(out, len, "%s", v);
      break;
    }
  }
  if (f) fclose(f);
}

static int usage(void) {
  fprintf(stderr,
          "usage: rill_rpcbench [--quick] [--reps N] [--time S] [--goguest PATH] [--out FILE]\n"
          "       rill_rpcbench guest [-w N] [--dir DIR] [--region NAME] [--service NAME]\n");
  return 2;
}

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "guest")) return rb_guest_main(argc, argv);
  setvbuf(stdout, NULL, _IOLBF, 0); /* lines in order with stderr's progress */
  const char *out = "bench/results/rpc.json", *goguest = NULL;
  info in = {.reps = 3, .warm_s = 0.2, .time_s = 1.0};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v;
    char *end = NULL;
    if (!strcmp(a, "--quick")) {
      in.quick = 1;
      continue;
    }
    if (i + 1 >= argc) return usage();
    v = argv[++i];
    if (!strcmp(a, "--out")) out = v;
    else if (!strcmp(a, "--goguest")) goguest = v;
    else if (!strcmp(a, "--reps")) in.reps = (int)strtol(v, &end, 10);
    else if (!strcmp(a, "--time")) in.time_s = strtod(v, &end);
    else return usage();
    if ((end && *end) || in.reps < 1 || in.reps > MAX_REPS || !(in.time_s > 0 && in.time_s <= 60))
      return usage();
  }
  if (in.quick) {
    in.reps = 1;
    in.warm_s = 0.05;
    in.time_s = 0.3;
  }
  char self[PATH_MAX];
  ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
  if (sl < 0) {
    fprintf(stderr, "rill_rpcbench: readlink /proc/self/exe: %s\n", strerror(errno));
    return 1;
  }
  self[sl] = 0;
  main_pid = getpid();

  /* SIGCHLD stays blocked: rb_child_stop() takes it with sigtimedwait.
   * The others stop the run (no SA_RESTART: blocking calls return EINTR). */
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  struct sigaction sa = {.sa_handler = on_signal};
  sigemptyset(&sa.sa_mask);
  if (sigprocmask(SIG_BLOCK, &chld, NULL) || sigaction(SIGINT, &sa, NULL) ||
      sigaction(SIGTERM, &sa, NULL) || sigaction(SIGHUP, &sa, NULL) ||
      signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
    fprintf(stderr, "rill_rpcbench: signals: %s\n", strerror(errno));
    return 1;
  }
  in.host_cpu = pin_cpus();
  if (make_tmpdir()) return 1;
  atexit(remove_tmpdir);
  time_t now = time(NULL);
  strftime(in.date, sizeof in.date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
  cpu_model(in.cpu, sizeof in.cpu);

  if (goguest && access(goguest, X_OK)) {
    printf("Go guest %s: %s; ", goguest, strerror(errno));
    goguest = NULL;
  }
  if (!goguest)
    printf("Go guest left out: build it (cd bindings/go && go build -o ../../build/rill-guest "
           "./cmd/rill-guest) and pass --goguest build/rill-guest, or run make rpcbench\n");
  if (!rb_have_zmq)
    printf("zeromq: skipped (install libzmq3-dev: apt-get install libzmq3-dev, then rebuild)\n");
  in.goguest = goguest;

  static cell cs[MAX_CELLS];
  int n = 0;
  for (int go = goguest ? 1 : 0; go >= 0; go--)
    for (size_t w = 0; w < 3; w++)
      for (size_t k = 0; k < 3; k++)
        cs[n++] = (cell){.tr = RB_RILL, .go = go, .w = WORKERS[w], .inflight = INFLIGHT[k]};
  for (int tr = RB_UNIX; tr <= (rb_have_zmq ? RB_ZMQ : RB_UNIX); tr++)
    for (size_t k = 0; k < 3; k++) cs[n++] = (cell){.tr = tr, .w = 1, .inflight = INFLIGHT[k]};

  char pin[64] = "not pinned";
  if (in.host_cpu >= 0)
    snprintf(pin, sizeof pin, "host on CPU %d, servers on CPU %d", in.host_cpu, rb_server_cpu);
  printf("rill_rpcbench: %s, %ld CPUs, %s; %d cells x %d reps (%.2f s warm-up + %.2f s%s each), "
         "%u-byte echo, dir %s\n",
         in.cpu, sysconf(_SC_NPROCESSORS_ONLN), pin, n, in.reps, in.warm_s, in.time_s,
         in.quick ? " or 3000 requests" : "", RB_PAYLOAD, rb_dir);
  if (goguest && getenv("GOMAXPROCS"))
    printf("GOMAXPROCS=%s (the Go guest inherits it)\n", getenv("GOMAXPROCS"));
  rb_run r = {0};
  uint64_t t_start = rb_now();
  /* Run order: by in-flight count, then -w with the Go and the C guest
   * side by side, then the baselines, so that the cells a bar divides run
   * seconds apart; every other repetition backwards, so that neither of a
   * pair always runs first. */
  int order[MAX_CELLS];
  for (int i = 0; i < n; i++) {
    int j = i;
    for (; j > 0 && run_key(&cs[order[j - 1]]) > run_key(&cs[i]); j--) order[j] = order[j - 1];
    order[j] = i;
  }
  for (int rep = 0; rep < in.reps && !rb_stop; rep++) {
    fprintf(stderr, "rep %d/%d ", rep + 1, in.reps);
    for (int j = 0; j < n && !rb_stop; j++) {
      int i = order[rep % 2 ? n - 1 - j : j];
      if (cs[i].failure[0]) continue;
      r.inflight = cs[i].inflight;
      r.warm_ns = (uint64_t)(in.warm_s * 1e9);
      r.meas_ns = (uint64_t)(in.time_s * 1e9);
      r.warm_n = in.quick ? 1000 : 0;
      r.meas_n = in.quick ? 3000 : 0;
      run_cell(&cs[i], &r, self, goguest);
      fputc(cs[i].failure[0] ? 'F' : cs[i].errors ? 'E' : '.', stderr);
    }
    fprintf(stderr, " %.0f s\n", (double)(rb_now() - t_start) / 1e9);
  }
  free(r.rtt);
  in.seconds = (double)(rb_now() - t_start) / 1e9;

  print_table(cs, n);
  bar b[12];
  int nb = make_bars(cs, n, goguest != NULL, b), bad = 0;
  printf("\nbars: req/s of the median repetitions, divided (paired: the median of the "
         "repetitions' own ratios)\n");
  for (int i = 0; i < nb; i++) {
    if (b[i].value < 0) printf("  %d. %-62s     n/a (a cell failed)\n", b[i].id, b[i].name);
    else {
      char pr[32] = "n/a";
      if (b[i].paired >= 0) snprintf(pr, sizeof pr, "%.2f", b[i].paired);
      printf("  %d. %-62s %7.2f  (paired %s)  >= %g: %s\n", b[i].id, b[i].name, b[i].value, pr,
             b[i].threshold, b[i].value >= b[i].threshold ? "met" : "NOT met");
    }
  }
  printf("p50/p99/p99.9: nearest rank over the round trips of each cell's median repetition; "
         "spread: (max - min) / median of the repetitions' req/s\n");
  for (int i = 0; i < n; i++) bad |= cs[i].failure[0] || cs[i].errors;
  if (rb_stop) {
    fprintf(stderr, "rill_rpcbench: interrupted; no JSON written\n");
    return 1;
  }
  if (write_json(out, &in, cs, n, b, nb)) return 1;
  printf("JSON: %s\n", out);
  if (bad) fprintf(stderr, "rill_rpcbench: some cells failed or saw wrong responses (see the table)\n");
  return bad ? 1 : 0;
}
