/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill_bench: what differs between operating systems, in one place.
 *
 * bench/os_posix.c (Linux) and bench/os_win32.c (Windows) implement it; the
 * rest of rill_bench calls no OS function that is not in ISO C or in rill.
 * The differences that shape the harness:
 *
 *   - Linux forks the two sides, which inherit every mapping; Windows
 *     starts this program again (rill_bench --bench-side SIDE CTRL), and
 *     each side maps the shared blocks by name (bench_shared.name).
 *   - the clock: CLOCK_MONOTONIC, or QueryPerformanceCounter (whose period
 *     is 100 ns on Windows and under Wine, which every RTT sample shows).
 *   - pinning: sched_setaffinity, or SetProcessAffinityMask and
 *     SetThreadAffinityMask (CPU n is the same CPU n under Wine).
 */
#ifndef RILL_BENCH_OS_H
#define RILL_BENCH_OS_H

#include <stddef.h>
#include <stdint.h>

#ifdef _WIN32
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#else
#include <time.h>
#endif

/* printf-style checks: on Windows rill_bench is built with
 * __USE_MINGW_ANSI_STDIO (cmake/bench.cmake), whose printf takes C99's
 * %zu and %llu, checked as gnu_printf. */
#ifdef __MINGW_PRINTF_FORMAT
#define BENCH_PRINTF(f, a) __attribute__((format(__MINGW_PRINTF_FORMAT, f, a)))
#else
#define BENCH_PRINTF(f, a) __attribute__((format(printf, f, a)))
#endif

/* "linux" or "windows": the "os" of the JSON results. */
#ifdef _WIN32
#define BENCH_OS_NAME "windows"
#else
#define BENCH_OS_NAME "linux"
#endif

/* ---- time ---------------------------------------------------------------- */

#ifdef _WIN32
extern uint64_t bench_os_qpc_hz; /* set by bench_os_init() */

static inline uint64_t bench_now_ns(void) {
  LARGE_INTEGER c;
  QueryPerformanceCounter(&c);
  uint64_t t = (uint64_t)c.QuadPart, hz = bench_os_qpc_hz;
  return t / hz * 1000000000ull + t % hz * 1000000000ull / hz;
}
#else
static inline uint64_t bench_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* NS nanoseconds as a struct timespec (a time or a timeout). */
static inline struct timespec bench_timespec(uint64_t ns) {
  struct timespec ts = {(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};
  return ts;
}
#endif

/* Once, first thing in main(): the clock's frequency (Windows). */
void bench_os_init(void);

/* The clock's period in ns (1 for CLOCK_MONOTONIC, 100 for a 10 MHz QPC). */
uint64_t bench_os_clock_period_ns(void);

/* Sleeps until bench_now_ns() reaches DEADLINE_NS (absolute). */
void bench_os_sleep_until(uint64_t deadline_ns);

/* Gives the CPU to another thread (both sides share one CPU). */
void bench_os_yield(void);

/* User + system CPU time of this process, in ns. */
uint64_t bench_os_cpu_time_ns(void);

/* "2026-12-06T10:00:00Z", now. */
void bench_os_utc_date(char *buf, size_t len);

/* ---- memory -------------------------------------------------------------- */

/* N bytes aligned to 64, freed with bench_os_aligned_free(); NULL if out
 * of memory. */
void *bench_os_aligned_alloc(size_t n);
void bench_os_aligned_free(void *p);

/* Memory shared by the parent and both sides: made (zeroed) by the parent,
 * before the sides start.  A side calls bench_os_shared_attach() on its
 * copy of the struct: on Linux the fork left it mapped at P already; on
 * Windows it maps NAME and sets P. */
typedef struct bench_shared {
  void *p;
  size_t len;
  char name[64]; /* Windows: the mapping's name; "" on Linux */
  void *handle;  /* Windows: the parent's mapping handle      */
} bench_shared;

int bench_os_shared_new(bench_shared *s, size_t len);
int bench_os_shared_attach(bench_shared *s);
void bench_os_shared_free(bench_shared *s);

/* ---- CPUs ---------------------------------------------------------------- */

long bench_os_cpus_online(void);
/* CPU numbers --cpus accepts are below this. */
int bench_os_cpu_limit(void);
/* The first two CPUs this process may run on, into CPU[0..1]; returns how
 * many it found (0, 1 or 2). */
int bench_os_first_cpus(int cpu[2]);
/* Pins this process (and its thread) to CPU.  0, or -1 with a message. */
int bench_os_pin(int cpu, char *err, size_t errlen);
void bench_os_cpu_model(char *buf, size_t len);

/* Makes this process's heavy barrier fail to register (Linux: membarrier
 * is refused with ENOSYS by a seccomp filter), so that rill's producer
 * fences after every publish and its consumer after every cursor flush,
 * as they always do on Windows (docs/PROTOCOL.md §5).  A no-op on Windows.
 * 0, or -1 with a message. */
int bench_os_no_heavy_barrier(char *err, size_t errlen);

/* ---- files --------------------------------------------------------------- */

/* Makes directory PATH; 0 also if it exists, else -1 (errno set). */
int bench_os_mkdir(const char *path);
/* Makes a private directory for the regions under BASE (NULL: /dev/shm,
 * else /tmp; on Windows the temporary directory) into OUT.  0 or -1. */
int bench_os_private_dir(const char *base, char *out, size_t len);
/* The path of this program into BUF.  0 or -1. */
int bench_os_self(char *buf, size_t len);
/* Removes every file in DIR, then DIR. */
void bench_os_remove_dir(const char *dir);
/* Renames FROM to TO, replacing TO.  0 or -1. */
int bench_os_replace(const char *from, const char *to);
/* FN on SIGINT, SIGTERM (and on Linux SIGHUP, SIGPIPE). */
void bench_os_on_signals(void (*fn)(int));
/* Restores the default action of SIG and raises it. */
void bench_os_reraise(int sig);

/* ---- the two sides ------------------------------------------------------- */

typedef struct bench_child {
  intptr_t id; /* pid, or process HANDLE; 0 when none */
} bench_child;

/* Starts side SIDE.  Linux: forks, and the child runs
 * bench_harness_child(SIDE) (which never returns).  Windows: starts this
 * program again with --bench-side SIDE CTRL_NAME.  0, or -1 with a
 * message. */
int bench_os_spawn(int side, const char *ctrl_name, bench_child *c,
                   char *err, size_t errlen);
/* Has child C ended?  BLOCK: wait until it has.  Returns 1 (and reaps it,
 * *OK = exited with status 0, HOW describes its end) or 0. */
int bench_os_child_ended(bench_child *c, int block, int *ok, char *how,
                         size_t howlen);
/* Kills child C (async-signal-safe on Linux). */
void bench_os_child_kill(const bench_child *c);
/* Sleeps until one of the N children may have ended, at most MAX_NS. */
void bench_os_children_wait(const bench_child *c, int n, uint64_t max_ns);
/* In a side, first: default signals, death with the parent. */
void bench_os_child_init(void);
/* Ends this process at once with STATUS (no atexit handlers). */
void bench_os_exit(int status) __attribute__((noreturn));

#endif
