/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill_rpcbench: payloads, the closed loop's bookkeeping, server processes. */
#include "rpcbench.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

volatile sig_atomic_t rb_stop;
int rb_server_cpu = -1;
const char *rb_dir;

/* ---- payloads ------------------------------------------------------------- */

static uint64_t word(uint64_t seq, unsigned i) {
  uint64_t x = (seq + i) * 0x9e3779b97f4a7c15ull;
  return x ^ (x >> 29) ^ ((uint64_t)i << 56);
}

void rb_fill(void *buf, uint64_t seq) {
  unsigned char *p = buf;
  memcpy(p, &seq, 8);
  for (unsigned i = 1; i < RB_PAYLOAD / 8; i++) {
    uint64_t w = word(seq, i);
    memcpy(p + 8 * i, &w, 8);
  }
}

int rb_payload_ok(const void *buf, size_t n, uint64_t seq) {
  unsigned char want[RB_PAYLOAD];
  if (n != RB_PAYLOAD) return 0;
  rb_fill(want, seq);
  return memcmp(buf, want, RB_PAYLOAD) == 0;
}

uint64_t rb_payload_seq(const void *buf) {
  uint64_t s;
  memcpy(&s, buf, 8);
  return s;
}

/* ---- one run -------------------------------------------------------------- */

void rb_run_start(rb_run *r) {
  r->phase = 0;
  r->phase_start = r->last_progress = rb_now();
  r->next_check = r->phase_start + 50000000ull;
  r->phase_done = r->t0 = r->t1 = r->seq = r->errors = 0;
  r->idle = 0;
  r->nrtt = 0;
  r->failure[0] = 0;
}

void rb_run_done(rb_run *r, uint64_t sent, uint64_t now) {
  r->last_progress = now;
  uint64_t done = ++r->phase_done, took = now - r->phase_start;
  if (r->phase == 1) {
    if (r->nrtt == r->cap) {
      size_t cap = r->cap ? 2 * r->cap : (size_t)1 << 22;
      uint32_t *p = realloc(r->rtt, cap * sizeof *p);
      if (!p) {
        rb_fail(r, "out of memory for %zu round-trip samples", cap);
        r->phase = 2;
        return;
      }
      r->rtt = p;
      r->cap = cap;
    }
    uint64_t d = now - sent;
    r->rtt[r->nrtt++] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
    if (took >= r->meas_ns || (r->meas_n && done >= r->meas_n)) {
      r->phase = 2;
      r->t1 = now;
    }
  } else if (r->phase == 0 && (took >= r->warm_ns || (r->warm_n && done >= r->warm_n))) {
    r->phase = 1;
    r->phase_start = r->t0 = now;
    r->phase_done = 0;
  }
}

int rb_fail(rb_run *r, const char *fmt, ...) {
  if (!r->failure[0]) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->failure, sizeof r->failure, fmt, ap);
    va_end(ap);
  }
  r->phase = 2;
  return -1;
}

int rb_run_idle(rb_run *r) {
  if (rb_stop) return rb_fail(r, "interrupted");
  if (++r->idle & 255u) return 0;
  uint64_t now = rb_now();
  if (now < r->next_check) return 0;
  r->next_check = now + 50000000ull; /* look at the server every 50 ms */
  char why[120];
  if (r->server && !rb_child_alive(r->server, why, sizeof why))
    return rb_fail(r, "the server %s", why);
  if (now - r->last_progress > RB_STALL_NS)
    return rb_fail(r, "no response for %llu s", (unsigned long long)(RB_STALL_NS / 1000000000ull));
  return 0;
}

/* ---- server processes ----------------------------------------------------- */

static void describe(int st, char *err, size_t len) {
  if (WIFEXITED(st)) snprintf(err, len, "exited with status %d", WEXITSTATUS(st));
  else if (WIFSIGNALED(st)) snprintf(err, len, "was killed by signal %d (%s)", WTERMSIG(st),
                                     strsignal(WTERMSIG(st)));
  else snprintf(err, len, "ended with wait status 0x%x", st);
}

int rb_child_start(rb_child *c, char *const argv[], char *err, size_t len) {
  int p[2];
  c->pid = 0;
  c->out_fd = -1;
  if (pipe2(p, O_CLOEXEC)) {
    snprintf(err, len, "pipe: %s", strerror(errno));
    return -1;
  }
  pid_t parent = getpid();
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) {
    snprintf(err, len, "fork: %s", strerror(errno));
    close(p[0]);
    close(p[1]);
    return -1;
  }
  if (pid == 0) {
    /* The server dies with the host, whatever ends the host. */
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) || getppid() != parent) _exit(126);
    int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGCHLD};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) signal(sigs[i], SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (dup2(p[1], STDOUT_FILENO) < 0) _exit(126); /* dup2 clears O_CLOEXEC */
    close(p[0]);
    if (p[1] != STDOUT_FILENO) close(p[1]);
    if (rb_server_cpu >= 0) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(rb_server_cpu, &set);
      if (sched_setaffinity(0, sizeof set, &set)) {
        fprintf(stderr, "rill_rpcbench: server: pin to CPU %d: %s\n", rb_server_cpu, strerror(errno));
        _exit(126);
      }
    }
    if (!argv) return 0;
    execv(argv[0], argv);
    fprintf(stderr, "rill_rpcbench: exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  close(p[1]);
  c->pid = pid;
  c->out_fd = p[0];
  return 1;
}

int rb_child_ready(rb_child *c, char *err, size_t len) {
  char line[512];
  size_t have = 0;
  uint64_t end = rb_now() + (uint64_t)RB_READY_MS * 1000000ull;
  for (;;) {
    char *nl;
    while ((nl = memchr(line, '\n', have))) {
      *nl = 0;
      if (strstr(line, ": serving")) return 0;
      fprintf(stderr, "rill_rpcbench: server said: %s\n", line);
      have -= (size_t)(nl + 1 - line);
      memmove(line, nl + 1, have);
    }
    if (have == sizeof line) have = 0; /* a very long line: forget it */
    uint64_t now = rb_now();
    if (rb_stop) snprintf(err, len, "interrupted");
    else if (now >= end) snprintf(err, len, "not ready within %d ms", RB_READY_MS);
    else {
      struct pollfd pf = {.fd = c->out_fd, .events = POLLIN};
      int n = poll(&pf, 1, (int)((end - now) / 1000000ull) + 1);
      if (n < 0 && errno != EINTR) snprintf(err, len, "poll: %s", strerror(errno));
      else if (n <= 0) continue;
      else {
        ssize_t got = read(c->out_fd, line + have, sizeof line - have);
        if (got > 0) {
          have += (size_t)got;
          continue;
        }
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) snprintf(err, len, "read: %s", strerror(errno));
        else snprintf(err, len, "closed its output before it was ready");
      }
    }
    char why[120];
    if (rb_child_stop(c, why, sizeof why)) snprintf(err + strlen(err), len - strlen(err), "; it %s", why);
    return -1;
  }
}

/* Reaps C within NS.  Returns 0 (status in *ST), 1 on timeout, -1 on error. */
static int reap_within(rb_child *c, uint64_t ns, int *st) {
  uint64_t end = rb_now() + ns;
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD); /* blocked in main(): sigtimedwait takes it */
  for (;;) {
    pid_t w = waitpid(c->pid, st, WNOHANG);
    if (w == c->pid) return 0;
    if (w < 0 && errno != EINTR) return -1;
    uint64_t now = rb_now();
    if (now >= end) return 1;
    struct timespec ts = {(time_t)((end - now) / 1000000000ull), (long)((end - now) % 1000000000ull)};
    (void)sigtimedwait(&chld, NULL, &ts); /* a SIGCHLD, the timeout, or EINTR */
  }
}

int rb_child_stop(rb_child *c, char *err, size_t len) {
  int st = 0, rc = 0;
  snprintf(err, len, "ended");
  if (c->pid > 0) {
    if (kill(c->pid, SIGTERM) && errno != ESRCH) {
      snprintf(err, len, "could not be signalled: %s", strerror(errno));
      rc = -1;
    }
    int got = reap_within(c, 5000000000ull, &st);
    if (got == 1) {
      kill(c->pid, SIGKILL);
      while (waitpid(c->pid, &st, 0) < 0 && errno == EINTR) {}
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
    c->pid = 0;
  }
  if (c->out_fd >= 0) close(c->out_fd);
  c->out_fd = -1;
  return rc;
}

int rb_child_alive(rb_child *c, char *err, size_t len) {
  if (c->pid <= 0) {
    snprintf(err, len, "is not running");
    return 0;
  }
  int st;
  pid_t w = waitpid(c->pid, &st, WNOHANG);
  if (w == 0 || (w < 0 && errno == EINTR)) return 1;
  if (w < 0) snprintf(err, len, "could not be waited for: %s", strerror(errno));
  else describe(st, err, len);
  c->pid = 0;
  return 0;
}
