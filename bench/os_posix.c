/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill_bench's OS layer on Linux (bench/os.h): fork, sched_setaffinity,
 * CLOCK_MONOTONIC, MAP_SHARED | MAP_ANONYMOUS. */
#include "bench.h"

#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

void bench_os_init(void) {
  /* SIGCHLD stays blocked in the parent: bench_os_children_wait() waits
   * for it with sigtimedwait (each side unblocks it in bench_os_child_init) */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigprocmask(SIG_BLOCK, &set, NULL);
}

uint64_t bench_os_clock_period_ns(void) {
  struct timespec ts;
  if (clock_getres(CLOCK_MONOTONIC, &ts) != 0) return 1;
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void bench_os_sleep_until(uint64_t deadline_ns) {
  struct timespec ts = bench_timespec(deadline_ns);
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
  }
}

void bench_os_yield(void) { sched_yield(); }

uint64_t bench_os_cpu_time_ns(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
  return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000ull +
         (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ull;
}

void bench_os_utc_date(char *buf, size_t len) {
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- memory -------------------------------------------------------------- */

void *bench_os_aligned_alloc(size_t n) {
  void *p = NULL;
  return posix_memalign(&p, 64, n ? n : 64) == 0 ? p : NULL;
}

void bench_os_aligned_free(void *p) { free(p); }

int bench_os_shared_new(bench_shared *s, size_t len) {
  memset(s, 0, sizeof *s);
  void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                 -1, 0);
  if (p == MAP_FAILED) return -1;
  memset(p, 0, len); /* every page allocated now */
  s->p = p;
  s->len = len;
  return 0;
}

int bench_os_shared_attach(bench_shared *s) {
  (void)s; /* the fork kept it mapped */
  return 0;
}

void bench_os_shared_free(bench_shared *s) {
  if (s->p) munmap(s->p, s->len);
  s->p = NULL;
}

/* ---- CPUs ---------------------------------------------------------------- */

long bench_os_cpus_online(void) { return sysconf(_SC_NPROCESSORS_ONLN); }

int bench_os_cpu_limit(void) { return CPU_SETSIZE; }

int bench_os_first_cpus(int cpu[2]) {
  cpu_set_t cs;
  int found = 0;
  if (sched_getaffinity(0, sizeof cs, &cs) == 0)
    for (int c = 0; c < CPU_SETSIZE && found < 2; c++)
      if (CPU_ISSET(c, &cs)) cpu[found++] = c;
  return found;
}

int bench_os_pin(int cpu, char *err, size_t errlen) {
  cpu_set_t cs;
  CPU_ZERO(&cs);
  CPU_SET(cpu, &cs);
  if (sched_setaffinity(0, sizeof cs, &cs) == 0) return 0;
  snprintf(err, errlen, "sched_setaffinity(CPU %d): %s", cpu, strerror(errno));
  return -1;
}

void bench_os_cpu_model(char *buf, size_t len) {
  snprintf(buf, len, "unknown");
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (!f) return;
  char line[512];
  while (fgets(line, sizeof line, f)) {
    /* x86: "model name"; some ARM kernels: "Model" or "Hardware" */
    if (strncmp(line, "model name", 10) && strncmp(line, "Model", 5) &&
        strncmp(line, "Hardware", 8))
      continue;
    char *c = strchr(line, ':');
    if (!c) continue;
    c++;
    while (*c == ' ' || *c == '\t') c++;
    c[strcspn(c, "\n")] = 0;
    if (*c) {
      snprintf(buf, len, "%s", c);
      break;
    }
  }
  fclose(f);
}

/* A seccomp filter that answers membarrier with ENOSYS and lets every
 * other system call through: rill's heavy barrier then fails to register,
 * as it does on Windows. */
int bench_os_no_heavy_barrier(char *err, size_t errlen) {
#if defined(__x86_64__)
#define BENCH_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define BENCH_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif
#if defined(BENCH_AUDIT_ARCH) && defined(SYS_membarrier)
  struct sock_filter f[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, BENCH_AUDIT_ARCH, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW), /* another ABI: untouched */
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_membarrier, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {(unsigned short)(sizeof f / sizeof f[0]), f};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
      prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) == 0)
    return 0;
  snprintf(err, errlen, "seccomp filter against membarrier: %s",
           strerror(errno));
  return -1;
#else
  snprintf(err, errlen, "--no-membarrier: not supported on this CPU");
  return -1;
#endif
}

/* ---- files --------------------------------------------------------------- */

int bench_os_mkdir(const char *path) {
  return mkdir(path, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

int bench_os_private_dir(const char *base, char *out, size_t len) {
  const char *bases[2] = {"/dev/shm", "/tmp"};
  for (int i = 0; i < 2; i++) {
    const char *b = base ? base : bases[i];
    snprintf(out, len, "%s/rill-bench-XXXXXX", b);
    if (mkdtemp(out)) return 0;
    if (base) break;
  }
  out[0] = 0;
  return -1;
}

int bench_os_self(char *buf, size_t len) {
  ssize_t n = readlink("/proc/self/exe", buf, len - 1);
  if (n < 0) return -1;
  buf[n] = 0;
  return 0;
}

void bench_os_remove_dir(const char *dir) {
  DIR *d = opendir(dir);
  if (d) {
    struct dirent *de;
    char path[1024];
    while ((de = readdir(d)) != NULL) {
      if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
      snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
      unlink(path);
    }
    closedir(d);
  }
  rmdir(dir);
}

int bench_os_replace(const char *from, const char *to) {
  return rename(from, to);
}

void bench_os_on_signals(void (*fn)(int)) {
  signal(SIGINT, fn);
  signal(SIGTERM, fn);
  signal(SIGHUP, fn);
  signal(SIGPIPE, fn); /* e.g. stdout piped into head */
}

void bench_os_reraise(int sig) {
  signal(sig, SIG_DFL);
  raise(sig);
}

/* ---- the two sides ------------------------------------------------------- */

static pid_t g_parent;

int bench_os_spawn(int side, const char *ctrl_name, bench_child *c, char *err,
                   size_t errlen) {
  (void)ctrl_name; /* the fork inherits the control block */
  fflush(stdout);
  fflush(stderr);
  g_parent = getpid();
  pid_t pid = fork();
  if (pid == 0) bench_harness_child(side);
  if (pid < 0) {
    snprintf(err, errlen, "fork: %s", strerror(errno));
    return -1;
  }
  c->id = pid;
  return 0;
}

static void describe_status(int st, char *buf, size_t len) {
  if (WIFEXITED(st))
    snprintf(buf, len, "exited with status %d", WEXITSTATUS(st));
  else if (WIFSIGNALED(st))
    snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(st),
             strsignal(WTERMSIG(st)));
  else
    snprintf(buf, len, "status 0x%x", (unsigned)st);
}

int bench_os_child_ended(bench_child *c, int block, int *ok, char *how,
                         size_t howlen) {
  int st = 0;
  pid_t w = waitpid((pid_t)c->id, &st, block ? 0 : WNOHANG);
  if (w == 0) return 0;
  if (w < 0 && errno != ECHILD) return 0;
  if (w < 0) {
    *ok = 0;
    snprintf(how, howlen, "lost (waitpid: ECHILD)");
  } else {
    *ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    describe_status(st, how, howlen);
  }
  c->id = 0;
  return 1;
}

void bench_os_child_kill(const bench_child *c) {
  if (c->id > 0) kill((pid_t)c->id, SIGKILL);
}

void bench_os_children_wait(const bench_child *c, int n, uint64_t max_ns) {
  (void)c, (void)n;
  if (max_ns > 1000000000ull) max_ns = 1000000000ull;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  struct timespec ts = bench_timespec(max_ns);
  sigtimedwait(&set, NULL, &ts);
}

void bench_os_child_init(void) {
  sigset_t set;
  sigemptyset(&set);
  sigprocmask(SIG_SETMASK, &set, NULL);
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  signal(SIGHUP, SIG_DFL);
  signal(SIGPIPE, SIG_IGN); /* a dead peer shows as EPIPE */
#ifdef PR_SET_PDEATHSIG
  prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
  if (getppid() != g_parent) _exit(1);
}

void bench_os_exit(int status) { _exit(status); }
