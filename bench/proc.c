/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill_bench: starting, reading and reaping the programs it runs (bench/proc.h).
 * Linux only: the workers of the other languages, request/response's
 * servers and the scaling rows' processes. */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* the workers that run, for bench_procs_kill_all() */
#define MAX_LIVE 64
static volatile pid_t g_live[MAX_LIVE];

static void live_add(pid_t pid) {
  for (int i = 0; i < MAX_LIVE; i++)
    if (!g_live[i]) {
      g_live[i] = pid;
      return;
    }
}

static void live_del(pid_t pid) {
  for (int i = 0; i < MAX_LIVE; i++)
    if (g_live[i] == pid) g_live[i] = 0;
}

void bench_procs_kill_all(void) {
  for (int i = 0; i < MAX_LIVE; i++)
    if (g_live[i] > 0) kill(g_live[i], SIGKILL);
}

static void describe(int st, char *err, size_t len) {
  if (WIFEXITED(st)) snprintf(err, len, "exited with status %d", WEXITSTATUS(st));
  else if (WIFSIGNALED(st))
    snprintf(err, len, "was killed by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
  else snprintf(err, len, "ended with wait status 0x%x", st);
}

int bench_proc_start(bench_proc *p, const char *what, int cpu, char *const argv[],
                     const char *dir, char *err, size_t len) {
  return bench_proc_start_in(p, what, cpu, NULL, argv, dir, err, len);
}

/* Enters the network namespace NAME (ip netns's, /run/netns/NAME): 0, or
 * -1 with ERR set. */
static int enter_netns(const char *name, char *err, size_t len) {
  char path[300];
  snprintf(path, sizeof path, "/run/netns/%s", name);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || setns(fd, CLONE_NEWNET)) {
    snprintf(err, len, "network namespace %s: %s", name, strerror(errno));
    if (fd >= 0) close(fd);
    return -1;
  }
  close(fd);
  return 0;
}

int bench_proc_start_in(bench_proc *p, const char *what, int cpu, const char *netns,
                        char *const argv[], const char *dir, char *err, size_t len) {
  static unsigned counter;
  int fds[2];
  memset(p, 0, sizeof *p);
  p->out_fd = -1;
  snprintf(p->what, sizeof p->what, "%s", what);
  if (dir) snprintf(p->errpath, sizeof p->errpath, "%s/stderr-%d-%u", dir, (int)getpid(), counter++);
  if (pipe2(fds, O_CLOEXEC)) {
    snprintf(err, len, "%s: pipe: %s", what, strerror(errno));
    return -1;
  }
  pid_t parent = getpid();
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) {
    snprintf(err, len, "%s: fork: %s", what, strerror(errno));
    close(fds[0]);
    close(fds[1]);
    return -1;
  }
  if (pid == 0) {
    /* it dies with rill_bench, whatever ends rill_bench */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent) _exit(126);
    int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGCHLD};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) signal(sigs[i], SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (dup2(fds[1], STDOUT_FILENO) < 0) _exit(126); /* dup2 clears O_CLOEXEC */
    if (p->errpath[0]) {
      int e = open(p->errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (e < 0 || dup2(e, STDERR_FILENO) < 0) _exit(126);
      close(e);
    }
    char why[360];
    if (cpu >= 0 && bench_os_pin(cpu, why, sizeof why)) {
      fprintf(stderr, "rill_bench: %s: %s\n", what, why);
      _exit(126);
    }
    if (netns && enter_netns(netns, why, sizeof why)) {
      fprintf(stderr, "rill_bench: %s: %s\n", what, why);
      _exit(126);
    }
    if (!argv) return 0;
    execv(argv[0], argv);
    fprintf(stderr, "rill_bench: exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  close(fds[1]);
  p->pid = pid;
  p->out_fd = fds[0];
  live_add(pid);
  return 1;
}

/* The last non-empty line of P's stderr into BUF ("" if none), and the
 * whole of it on our stderr. */
static void last_err_line(bench_proc *p, char *buf, size_t len) {
  buf[0] = 0;
  if (!p->errpath[0]) return;
  FILE *f = fopen(p->errpath, "r");
  if (!f) return;
  char line[512];
  while (fgets(line, sizeof line, f)) {
    fprintf(stderr, "  [%s] %s", p->what, line);
    line[strcspn(line, "\n")] = 0;
    if (line[0]) snprintf(buf, len, "%.160s", line);
  }
  fclose(f);
}

/* Reaps P within NS.  Returns 0 (status in *ST), 1 on timeout, -1 on error. */
static int reap_within(bench_proc *p, uint64_t ns, int *st) {
  uint64_t end = bench_now_ns() + ns;
  for (;;) {
    pid_t w = waitpid(p->pid, st, WNOHANG);
    if (w == p->pid) return 0;
    if (w < 0 && errno != EINTR) return -1;
    uint64_t now = bench_now_ns();
    if (now >= end) return 1;
    /* SIGCHLD stays blocked (bench_os_init): this waits for it */
    bench_os_children_wait(NULL, 0, end - now > 10000000ull ? 10000000ull : end - now);
  }
}

static void gone(bench_proc *p) {
  live_del(p->pid);
  p->pid = 0;
  if (p->out_fd >= 0) close(p->out_fd);
  p->out_fd = -1;
  if (p->errpath[0]) unlink(p->errpath);
}

void bench_proc_kill(bench_proc *p) {
  if (p->pid > 0) {
    int st;
    kill(p->pid, SIGKILL);
    while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR) {
    }
  }
  if (p->pid > 0 || p->out_fd >= 0) gone(p);
}

int bench_proc_stop(bench_proc *p, char *err, size_t len) {
  int st = 0, rc = 0;
  snprintf(err, len, "ended");
  if (p->pid > 0) {
    if (kill(p->pid, SIGTERM) && errno != ESRCH) {
      snprintf(err, len, "could not be signalled: %s", strerror(errno));
      rc = -1;
    }
    int got = reap_within(p, 5000000000ull, &st);
    if (got == 1) {
      kill(p->pid, SIGKILL);
      while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR) {
      }
      snprintf(err, len, "did not stop within 5 s of SIGTERM (killed)");
      rc = -1;
    } else if (got < 0) {
      snprintf(err, len, "could not be reaped: %s", strerror(errno));
      rc = -1;
    } else if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0) &&
               !(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM)) {
      describe(st, err, len);
      rc = -1;
    }
  }
  gone(p);
  return rc;
}

int bench_proc_alive(bench_proc *p, char *err, size_t len) {
  if (p->pid <= 0) {
    snprintf(err, len, "is not running");
    return 0;
  }
  int st;
  pid_t w = waitpid(p->pid, &st, WNOHANG);
  if (w == 0 || (w < 0 && errno == EINTR)) return 1;
  if (w < 0) snprintf(err, len, "could not be waited for: %s", strerror(errno));
  else describe(st, err, len);
  live_del(p->pid);
  p->pid = 0;
  return 0;
}

/* The next whole line of P into LINE (without its newline): 1; 0 at EOF;
 * -1 on timeout (DEADLINE) or error, with ERR set.  BLOCK 0: returns 2
 * at once when no whole line is buffered and nothing can be read now. */
static int next_line(bench_proc *p, char *line, size_t cap, uint64_t deadline, int block,
                     char *err, size_t len) {
  for (;;) {
    char *nl = memchr(p->buf, '\n', p->have);
    if (nl || p->have == BENCH_LINE_MAX) {
      size_t n = nl ? (size_t)(nl - p->buf) : p->have;
      size_t c = n < cap - 1 ? n : cap - 1;
      memcpy(line, p->buf, c);
      line[c] = 0;
      size_t used = nl ? n + 1 : n;
      p->have -= used;
      memmove(p->buf, p->buf + used, p->have);
      return 1;
    }
    if (p->out_fd < 0) {
      if (p->have) { /* a last line without its newline */
        memcpy(line, p->buf, p->have < cap - 1 ? p->have : cap - 1);
        line[p->have < cap - 1 ? p->have : cap - 1] = 0;
        p->have = 0;
        return 1;
      }
      return 0;
    }
    uint64_t now = bench_now_ns();
    if (block && now >= deadline) {
      snprintf(err, len, "%s: no answer in time", p->what);
      return -1;
    }
    struct pollfd pf = {.fd = p->out_fd, .events = POLLIN};
    int w = block ? (int)((deadline - now) / 1000000ull) + 1 : 0;
    int n = poll(&pf, 1, w > 1000 ? 1000 : w);
    if (n < 0 && errno != EINTR) {
      snprintf(err, len, "%s: poll: %s", p->what, strerror(errno));
      return -1;
    }
    if (n <= 0) {
      if (!block) return 2;
      continue;
    }
    ssize_t got = read(p->out_fd, p->buf + p->have, BENCH_LINE_MAX - p->have);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      snprintf(err, len, "%s: read: %s", p->what, strerror(errno));
      return -1;
    }
    if (got == 0) {
      close(p->out_fd);
      p->out_fd = -1;
      continue;
    }
    p->have += (size_t)got;
  }
}

int bench_proc_ready(bench_proc *p, const char *mark, uint64_t timeout_ns, char *err,
                     size_t len) {
  uint64_t end = bench_now_ns() + timeout_ns;
  char line[512];
  for (;;) {
    int rc = next_line(p, line, sizeof line, end, 1, err, len);
    if (rc == 1 && strstr(line, mark)) return 0;
    if (rc == 1) {
      printf("    [%s] %s\n", p->what, line);
      continue;
    }
    if (rc == 0) { /* it ended: how, and its last words */
      char how[96] = "ended", last[256];
      int st;
      if (reap_within(p, 1000000000ull, &st) == 0) describe(st, how, sizeof how);
      last_err_line(p, last, sizeof last);
      snprintf(err, len, "%s %s before it was ready%s%s", p->what, how, last[0] ? ": " : "",
               last);
    }
    bench_proc_kill(p);
    return -1;
  }
}

void bench_wres_free(bench_wres *w) {
  for (size_t i = 0; i < w->nlines; i++) free(w->lines[i]);
  free(w->lines);
  free(w->samples);
  memset(w, 0, sizeof *w);
}

/* One line of a worker into W.  0, or -1 when out of memory. */
static int take(bench_wres *w, const char *line) {
  if (!strncmp(line, "result ", 7)) {
    char **l = realloc(w->lines, (w->nlines + 1) * sizeof *l);
    if (!l) return -1;
    w->lines = l;
    if (!(l[w->nlines] = strdup(line + 7))) return -1;
    w->nlines++;
  } else if (!strncmp(line, "samples", 7)) {
    for (const char *s = line + 7; *s;) {
      char *end;
      unsigned long long v = strtoull(s, &end, 10);
      if (end == s) break;
      if (w->nsamples == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 65536;
        uint64_t *p = realloc(w->samples, cap * sizeof *p);
        if (!p) return -1;
        w->samples = p;
        w->cap = cap;
      }
      w->samples[w->nsamples++] = v;
      s = end;
    }
  } else if (!strncmp(line, "info ", 5)) {
    char key[32];
    const char *v = line + 5;
    size_t k = strcspn(v, " ");
    snprintf(key, sizeof key, "%.*s", (int)(k < 31 ? k : 31), v);
    v += k + (v[k] == ' ');
    size_t l = strlen(w->info);
    if (l + strlen(key) + strlen(v) + 16 < sizeof w->info)
      snprintf(w->info + l, sizeof w->info - l, "%s\"%s\": \"%s\"", l ? ", " : "", key, v);
  }
  return 0;
}

int bench_proc_collect(bench_proc *p, bench_wres *res, int n, uint64_t timeout_ns,
                       char *err, size_t len) {
  uint64_t end = bench_now_ns() + timeout_ns;
  static char line[BENCH_LINE_MAX + 1];
  int open = 0, rc = 0;
  for (int i = 0; i < n; i++) {
    bench_wres_free(&res[i]);
    open += p[i].out_fd >= 0 || p[i].have;
  }
  /* read every stdout to its end: one worker may write much (samples) while
   * another waits for it */
  while (open > 0 && rc == 0) {
    struct pollfd pf[16];
    int k = 0, any = 0;
    for (int i = 0; i < n && i < 16 && rc == 0; i++) {
      int got;
      while ((got = next_line(&p[i], line, sizeof line, 0, 0, err, len)) == 1) {
        any = 1;
        if (take(&res[i], line)) {
          snprintf(err, len, "%s: out of memory", p[i].what);
          rc = -1;
        }
      }
      if (got == -1) rc = -1;
      if (p[i].out_fd >= 0) pf[k++] = (struct pollfd){.fd = p[i].out_fd, .events = POLLIN};
    }
    open = k;
    if (rc || !open || any) continue;
    uint64_t now = bench_now_ns();
    if (now >= end) {
      snprintf(err, len, "no end within %llu s", (unsigned long long)(timeout_ns / 1000000000ull));
      rc = -1;
      break;
    }
    uint64_t w = (end - now) / 1000000ull + 1;
    if (poll(pf, (nfds_t)k, w > 1000 ? 1000 : (int)w) < 0 && errno != EINTR) {
      snprintf(err, len, "poll: %s", strerror(errno));
      rc = -1;
    }
  }
  /* reap them: each must have exited with status 0 */
  for (int i = 0; i < n; i++) {
    if (p[i].pid <= 0) continue;
    int st = 0, got = rc ? 1 : reap_within(&p[i], end > bench_now_ns() ? end - bench_now_ns() : 1, &st);
    if (got != 0) {
      bench_proc_kill(&p[i]);
      if (!rc) snprintf(err, len, "%s: did not end in time (killed)", p[i].what);
      rc = -1;
      continue;
    }
    if (!rc && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
      char how[96], last[256];
      describe(st, how, sizeof how);
      last_err_line(&p[i], last, sizeof last);
      /* A message cut short is still an answer: the length is not checked,
       * but used, which GCC's -Wformat-truncation (Release, -O3) asks for. */
      if (snprintf(err, len, "%s %s%s%s", p[i].what, how, last[0] ? ": " : "", last) < 0)
        err[0] = 0;
      rc = -1;
    }
    gone(&p[i]);
  }
  return rc;
}

double bench_kv_num(const char *line, const char *key) {
  char buf[64];
  if (bench_kv_str(line, key, buf, sizeof buf)) return NAN;
  char *end;
  double v = strtod(buf, &end);
  return *end ? NAN : v;
}

int bench_kv_str(const char *line, const char *key, char *buf, size_t len) {
  size_t kl = strlen(key);
  for (const char *s = line; *s;) {
    while (*s == ' ') s++;
    size_t w = strcspn(s, " ");
    const char *v = s + w;
    while (*v == ' ') v++;
    size_t vl = strcspn(v, " ");
    if (w == kl && !strncmp(s, key, kl) && vl) {
      snprintf(buf, len, "%.*s", (int)vl, v);
      return 0;
    }
    s = v + vl; /* words come in pairs: KEY VALUE */
  }
  return -1;
}

int bench_workers_run(const bench_config *cfg, int n, char **const argv[], const int cpu[],
                      const int ready[], bench_wres *res, bench_run_out *o) {
  bench_proc p[16];
  char err[256] = "";
  int started = 0, rc = 0;
  for (int i = 0; i < n && i < 16; i++) {
    char what[48];
    const char *base = strrchr(argv[i][0], '/');
    snprintf(what, sizeof what, "%s %s", base ? base + 1 : argv[i][0], argv[i][2] ? argv[i][2] : "");
    if (bench_proc_start(&p[i], what, cpu[i], argv[i], cfg->dir, err, sizeof err) < 0) {
      rc = -1;
      break;
    }
    started++;
    if (ready[i] && bench_proc_ready(&p[i], "ready", 30000000000ull, err, sizeof err)) {
      rc = -1;
      break;
    }
  }
  if (rc == 0) rc = bench_proc_collect(p, res, started, cfg->child_deadline_ns, err, sizeof err);
  for (int i = 0; i < started; i++) bench_proc_kill(&p[i]);
  if (rc) {
    o->failed = 1;
    snprintf(o->failure, sizeof o->failure, "%s", err);
  }
  return rc;
}

int bench_worker_path(const bench_config *cfg, const char *name, char *buf, size_t len,
                      char *why, size_t wlen) {
  if (!cfg->workers) {
    snprintf(why, wlen, "no --workers DIR given");
    return -1;
  }
  snprintf(buf, len, "%s/%s", cfg->workers, name);
  if (access(buf, X_OK) == 0) return 0;
  snprintf(why, wlen, "%s: %s", buf, strerror(errno));
  return -1;
}

int bench_worker_version(const bench_config *cfg, const char *worker, char *software,
                         size_t len) {
  char *argv[] = {(char *)worker, "worker", "version", NULL};
  char **av[1] = {argv};
  int cpu[1] = {-1}, ready[1] = {0};
  bench_wres w = {0};
  bench_run_out o;
  memset(&o, 0, sizeof o);
  int rc = bench_workers_run(cfg, 1, av, cpu, ready, &w, &o);
  if (rc == 0 && w.info[0]) {
    size_t l = strlen(software);
    snprintf(software + l, len - l, "%s%s", l ? ", " : "", w.info);
  }
  bench_wres_free(&w);
  return rc;
}
