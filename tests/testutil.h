/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* Helpers shared by the rill tests, on Linux and on Windows (mingw-w64,
 * run under Wine or on Windows itself).  Header-only: everything is static
 * inline (each test is one program built from one source file).  What
 * differs between the two systems is here, and only here: a test says
 * TU_WINDOWS / TU_POSIX to keep a case for one system, and says so with
 * tu_skip_part() on the other.
 *
 * What is here:
 *   - CHECK macros: print file:line and the failed expression, exit 1;
 *   - tu_start_roles()/tu_pass(): a watchdog process that kills a test that
 *     runs past its time bound, and a private region directory (under
 *     /dev/shm on Linux, under RILL_TEST_TMP or %TEMP% on Windows) that the
 *     watchdog removes when the test ends however it ends;
 *   - tu_spawn()/tu_wait()/tu_wait_end()/tu_kill(): child processes that
 *     re-run the test program with "--tu-role NAME OFFSET" (fork+exec on
 *     Linux, CreateProcess on Windows), die with their parent
 *     (PR_SET_PDEATHSIG; a job object that kills on close), and whose
 *     failure fails the test.  A child shares nothing with its parent but
 *     the region directory and tu_shared() memory: its argument is a
 *     pointer into tu_shared() memory (or NULL), carried as an offset;
 *   - tu_gate: a "ready" counter in tu_shared() memory;
 *   - small portable file, environment and clock helpers for the tests
 *     that damage region files on purpose;
 *   - a splitmix64 PRNG, and payloads derived from a key (a message index or
 *     a sequence number) so any byte of any message can be verified;
 *   - tu_consumer_next(): the stats of each consumer of a channel in turn;
 *   - tu_sched: the deterministic schedule of message sizes a producer sends
 *     and a consumer expects, mapping sequence numbers to (message, fragment).
 *
 * Linux-only tests still use tu_start() and tu_fork() (a plain fork: the
 * child runs the function in a copy of the parent).
 *
 * Exit codes: 0 pass, 1 fail, 77 skip.
 */
#ifndef RILL_TESTUTIL_H
#define RILL_TESTUTIL_H

#if defined(_WIN32)
#define TU_WINDOWS 1
#define TU_POSIX 0
/* C99 printf (%zu, %llu) from mingw-w64's stdio, not msvcrt's */
#ifndef __USE_MINGW_ANSI_STDIO
#define __USE_MINGW_ANSI_STDIO 1
#endif
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#include <psapi.h> /* K32GetMappedFileNameA, in kernel32 */
#include <direct.h>
#include <io.h>
#include <process.h>
#else
#define TU_WINDOWS 0
#define TU_POSIX 1
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rill.h"

#if TU_WINDOWS
#define TU_PRINTF(f, a) __attribute__((format(gnu_printf, f, a)))
typedef int tu_pid; /* the Windows process id; its HANDLE is in tu_g */
#else
#define TU_PRINTF(f, a) __attribute__((format(printf, f, a)))
typedef pid_t tu_pid;
#endif

#define TU_SKIP 77
#define TU_MAX_KIDS 16
/* tu_wait_end(): a child killed by tu_kill() or ended by tu_die() (SIGKILL
 * on Linux, TerminateProcess with TU_KILL_CODE on Windows). */
#define TU_KILLED (-9)
#define TU_KILL_CODE 137u
/* tu_shared(): the size of the memory shared with children */
#define TU_SHARED_MAX (8u << 20)

/* A child's job: tu_spawn() runs FN(ARG) in a new process of the test
 * program, found by name in the table given to tu_start_roles(). */
typedef struct tu_role {
  const char *name;
  void (*fn)(void *arg);
} tu_role;
#define TU_ROLE(f) {#f, f}

typedef struct tu_state {
  const char *name;     /* test name, for messages */
  tu_pid main_pid;      /* the test's main process */
  int is_child;         /* a process run by tu_spawn() */
  char dir[160];        /* private region directory (short: tests add names to it) */
  const tu_role *roles; /* what tu_spawn() can run */
  const char *argv0;
  double t0;
  uint8_t *shm;         /* tu_shared() memory, mapped at tu_start() */
  tu_pid kids[TU_MAX_KIDS]; /* running: pid; reaped: -pid */
  const char *kid_names[TU_MAX_KIDS];
  int nkids;
#if TU_WINDOWS
  HANDLE kid_h[TU_MAX_KIDS];
  HANDLE job, shm_h, wd_h;
#else
  int wd_fd; /* write end of the watchdog pipe */
  pid_t wd_pid;
#endif
} tu_state;

#if TU_WINDOWS
static tu_state tu_g;
#else
static tu_state tu_g = {.wd_fd = -1};
#endif

/* ---- time and processes ---------------------------------------------------- */

static inline uint64_t tu_ns(void) {
#if TU_WINDOWS
  static LARGE_INTEGER f;
  LARGE_INTEGER c;
  if (!f.QuadPart) QueryPerformanceFrequency(&f);
  QueryPerformanceCounter(&c);
  uint64_t q = (uint64_t)c.QuadPart, hz = (uint64_t)f.QuadPart;
  return q / hz * 1000000000ull + q % hz * 1000000000ull / hz;
#else
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
#endif
}

static inline double tu_now(void) { return (double)tu_ns() / 1e9; }

/* Wall-clock time in ns since 1970 (what a region's created_ns holds). */
static inline uint64_t tu_real_ns(void) {
#if TU_WINDOWS
  FILETIME ft;
  GetSystemTimePreciseAsFileTime(&ft);
  uint64_t t = ((uint64_t)ft.dwHighDateTime << 32) | ft.dwLowDateTime;
  return (t - 116444736000000000ull) * 100u;
#else
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
#endif
}

/* Sleeps about MS milliseconds (for pacing and naps in polling loops, never
 * in place of waiting for what a test waits for). */
static inline void tu_sleep_ms(unsigned ms) {
#if TU_WINDOWS
  Sleep(ms);
#else
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
#endif
}

static inline void tu_yield(void) {
#if TU_WINDOWS
  SwitchToThread();
#else
  sched_yield();
#endif
}

static inline tu_pid tu_getpid(void) {
#if TU_WINDOWS
  return (tu_pid)GetCurrentProcessId();
#else
  return getpid();
#endif
}

/* ---- failing ------------------------------------------------------------- */

__attribute__((noreturn)) TU_PRINTF(3, 4)
static inline void tu_failf(const char *file, int line, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (tu_g.is_child || tu_getpid() != tu_g.main_pid)
    fprintf(stderr, "%s:%d: [child %d] FAIL: %s\n", file, line, (int)tu_getpid(), msg);
  else
    fprintf(stderr, "%s:%d: FAIL: %s\n", file, line, msg);
  fflush(NULL);
  exit(1);
}

#define CHECK(e)                                                        \
  do {                                                                  \
    if (!(e)) tu_failf(__FILE__, __LINE__, "CHECK(%s)", #e);            \
  } while (0)

/* Like CHECK, with a printf-style explanation. */
#define CHECKF(e, ...)                                                  \
  do {                                                                  \
    if (!(e)) {                                                         \
      char tu_why_[1024];                                               \
      /* a long explanation is cut, on purpose: the return value is     \
       * looked at so that gcc does not warn of it (-Wformat-truncation) */ \
      if (snprintf(tu_why_, sizeof tu_why_, __VA_ARGS__) < 0) tu_why_[0] = 0; \
      tu_failf(__FILE__, __LINE__, "CHECK(%s): %s", #e, tu_why_);       \
    }                                                                   \
  } while (0)

/* Integer equality, both values printed (as signed and hex). */
#define CHECK_EQ(a, b)                                                  \
  do {                                                                  \
    uint64_t tu_a_ = (uint64_t)(a), tu_b_ = (uint64_t)(b);              \
    if (tu_a_ != tu_b_)                                                 \
      tu_failf(__FILE__, __LINE__,                                      \
               "CHECK_EQ(%s, %s): %" PRId64 " (0x%" PRIx64 ") != %"     \
               PRId64 " (0x%" PRIx64 ")", #a, #b, (int64_t)tu_a_,       \
               tu_a_, (int64_t)tu_b_, tu_b_);                           \
  } while (0)

/* A rill call returns WANT (0, a count or a negative RILL_E code).  A
 * failure also prints rill_os_error() (an errno, or a Windows error code),
 * which says what an EIO was. */
#define CHECK_RC(call, want)                                            \
  do {                                                                  \
    int64_t tu_r_ = (int64_t)(call), tu_w_ = (int64_t)(want);           \
    if (tu_r_ != tu_w_)                                                 \
      tu_failf(__FILE__, __LINE__, "%s returned %" PRId64 " (%s, "      \
               "os error %d), expected %" PRId64 " (%s)", #call, tu_r_, \
               tu_r_ < 0 ? rill_strerror((int)tu_r_) : "ok",            \
               rill_os_error(), tu_w_,                                  \
               tu_w_ < 0 ? rill_strerror((int)tu_w_) : "ok");           \
  } while (0)

#define CHECK_OK(call) CHECK_RC(call, 0)

/* A part of a test that does not apply to this system: says so on one
 * line (a skipped case is never silent). */
TU_PRINTF(2, 3)
static inline void tu_skip_part(const char *what, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  printf("  skipped on this system: %s: %s\n", what, msg);
  fflush(stdout);
}

/* ---- sanitizers and scale ------------------------------------------------ */

static inline int tu_sanitized(void) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  return 1;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
  return 1;
#else
  return 0;
#endif
#else
  return 0;
#endif
}

/* RILL_TEST_SCALE: a divisor for message counts (default 1; on Windows
 * 10, for runs under Wine, where starting a process and every system call
 * cost more). */
static inline uint64_t tu_scale(void) {
  const char *s = getenv("RILL_TEST_SCALE");
  long v = s ? strtol(s, NULL, 10) : TU_WINDOWS ? 10 : 1;
  return v >= 1 ? (uint64_t)v : 1;
}

/* N divided by the scale, at least MIN. */
static inline uint64_t tu_scaled(uint64_t n, uint64_t min) {
  uint64_t v = n / tu_scale();
  return v < min ? min : v;
}

/* 1 if this library's producers join LAZY (docs/PROTOCOL.md §3.7a): on
 * Windows always, on Linux with RILL_LAZY_FENCE=1. */
static inline int tu_lazy_fence(void) {
#if TU_WINDOWS
  return 1;
#else
  const char *e = getenv("RILL_LAZY_FENCE");
  return e && !strcmp(e, "1");
#endif
}

/* ---- PRNG and payloads ----------------------------------------------------- */

static inline uint64_t tu_mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

typedef struct tu_rng {
  uint64_t s;
} tu_rng;

static inline uint64_t tu_rand(tu_rng *r) {
  r->s += 0x9e3779b97f4a7c15ull;
  uint64_t x = r->s;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/* Uniform in [0, n) (n > 0; the tiny modulo bias does not matter here). */
static inline uint64_t tu_below(tu_rng *r, uint64_t n) { return tu_rand(r) % n; }

/* Word W (8 bytes) of the payload of message KEY.  Random access, so a
 * fragment at any offset can be generated or checked on its own. */
static inline uint64_t tu_word(uint64_t key, uint64_t w) {
  return tu_mix(key * 0xd1342543de82ef95ull + w);
}

static inline uint8_t tu_byte(uint64_t key, uint64_t off) {
  return (uint8_t)(tu_word(key, off >> 3) >> ((off & 7) * 8));
}

/* Writes bytes [OFF, OFF+N) of the payload of message KEY into BUF. */
static inline void tu_fill(void *buf, size_t n, uint64_t key, uint64_t off) {
  uint8_t *p = buf;
  size_t i = 0;
  while (i < n && ((off + i) & 7)) { p[i] = tu_byte(key, off + i); i++; }
  for (; i + 8 <= n; i += 8) {
    uint64_t w = tu_word(key, (off + i) >> 3);
    for (int b = 0; b < 8; b++) p[i + (size_t)b] = (uint8_t)(w >> (8 * b));
  }
  for (; i < n; i++) p[i] = tu_byte(key, off + i);
}

/* Checks bytes [OFF, OFF+N) of message KEY.  Returns -1 if all are right,
 * else the index (in BUF) of the first wrong byte. */
static inline int64_t tu_verify(const void *buf, size_t n, uint64_t key, uint64_t off) {
  const uint8_t *p = buf;
  size_t i = 0;
  while (i < n && ((off + i) & 7)) {
    if (p[i] != tu_byte(key, off + i)) return (int64_t)i;
    i++;
  }
  for (; i + 8 <= n; i += 8) {
    uint64_t w = tu_word(key, (off + i) >> 3), got = 0;
    for (int b = 0; b < 8; b++) got |= (uint64_t)p[i + (size_t)b] << (8 * b);
    if (got != w) {
      for (int b = 0; b < 8; b++)
        if (p[i + (size_t)b] != (uint8_t)(w >> (8 * b))) return (int64_t)(i + (size_t)b);
    }
  }
  for (; i < n; i++)
    if (p[i] != tu_byte(key, off + i)) return (int64_t)i;
  return -1;
}

/* Fails with a precise message if BUF is not bytes [OFF, OFF+N) of KEY. */
#define CHECK_PAYLOAD(buf, n, key, off)                                       \
  do {                                                                        \
    int64_t tu_bad_ = tu_verify((buf), (n), (key), (off));                    \
    if (tu_bad_ >= 0)                                                         \
      tu_failf(__FILE__, __LINE__,                                            \
               "payload of key %" PRIu64 " wrong at byte %" PRId64            \
               " (offset %" PRIu64 "): got 0x%02x, want 0x%02x (n=%zu)",      \
               (uint64_t)(key), tu_bad_, (uint64_t)(off) + (uint64_t)tu_bad_, \
               ((const uint8_t *)(buf))[tu_bad_],                             \
               tu_byte((key), (uint64_t)(off) + (uint64_t)tu_bad_),           \
               (size_t)(n));                                                  \
  } while (0)

/* ---- message schedule -------------------------------------------------------
 * Message i (i = 0, 1, ...) has a size drawn from (salt, i) in [0, maxsz],
 * is sent with sig = i and a payload derived from key tu_key(salt, i), and
 * takes ceil(size / mtu) descriptors (1 for an empty message).  A consumer
 * walks the same schedule to know which message and fragment a sequence
 * number is. */

static inline uint64_t tu_key(uint64_t salt, uint64_t i) { return (salt << 40) ^ i; }

static inline uint64_t tu_msg_size(uint64_t salt, uint64_t i, uint64_t maxsz) {
  return tu_mix(salt * 0x2545f4914f6cdd1dull + i) % (maxsz + 1);
}

static inline uint64_t tu_frags(uint64_t sz, uint64_t mtu) {
  return sz ? (sz + mtu - 1) / mtu : 1;
}

typedef struct tu_sched {
  uint64_t salt, maxsz, mtu;
  uint64_t i;      /* current message */
  uint64_t seq;    /* sequence number of its first fragment */
  uint64_t sz;     /* its size */
  uint64_t nfrags; /* its descriptors */
} tu_sched;

static inline void tu_sched_init(tu_sched *s, uint64_t salt, uint64_t maxsz,
                                 uint64_t mtu, uint64_t seq0) {
  s->salt = salt;
  s->maxsz = maxsz;
  s->mtu = mtu;
  s->i = 0;
  s->seq = seq0;
  s->sz = tu_msg_size(salt, 0, maxsz);
  s->nfrags = tu_frags(s->sz, mtu);
}

static inline void tu_sched_next(tu_sched *s) {
  s->seq += s->nfrags;
  s->i++;
  s->sz = tu_msg_size(s->salt, s->i, s->maxsz);
  s->nfrags = tu_frags(s->sz, s->mtu);
}

/* Moves to the message holding sequence number SEQ (which must not be
 * before the current message); returns the fragment index within it. */
static inline uint64_t tu_sched_seek(tu_sched *s, uint64_t seq) {
  CHECKF((int64_t)(seq - s->seq) >= 0, "seek back: seq %" PRIu64 " < %" PRIu64,
         seq, s->seq);
  while (seq - s->seq >= s->nfrags) tu_sched_next(s);
  return seq - s->seq;
}

/* Size of fragment K of the current message. */
static inline uint64_t tu_sched_frag_sz(const tu_sched *s, uint64_t k) {
  if (s->sz == 0) return 0;
  uint64_t rest = s->sz - k * s->mtu;
  return rest < s->mtu ? rest : s->mtu;
}

/* ctl rill_send() gives fragment K of the current message. */
static inline uint16_t tu_sched_frag_ctl(const tu_sched *s, uint64_t k) {
  uint16_t ctl = 0;
  if (k == 0) ctl |= RILL_CTL_SOM;
  if (k + 1 == s->nfrags) ctl |= RILL_CTL_EOM;
  return ctl;
}

/* ---- waiting politely -------------------------------------------------------
 * Spin a little, then yield: the machine running the tests may have fewer
 * cores than the test has busy processes. */
static inline void tu_relax(unsigned *spins) {
  if (++*spins < 64) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#endif
  } else {
    tu_yield();
  }
}

/* ---- sending and receiving the random-size schedule ------------------------ */

/* Sends message I of the schedule SALT (random size up to MAXSZ, payload
 * derived from its key, sig I) from BUF, waiting out backpressure.  Returns
 * how many times rill_send() said EAGAIN. */
static inline uint64_t tu_send_sched(rill_producer *p, uint8_t *buf, uint64_t salt,
                                     uint64_t maxsz, uint64_t i) {
  size_t n = (size_t)tu_msg_size(salt, i, maxsz);
  tu_fill(buf, n, tu_key(salt, i), 0);
  unsigned spins = 0;
  uint64_t eagain = 0;
  int rc;
  while ((rc = rill_send(p, buf, n, i)) == -RILL_EAGAIN) {
    eagain++;
    tu_relax(&spins);
  }
  CHECKF(rc == 0, "send of message %" PRIu64 ": %s", i, rill_strerror(rc));
  return eagain;
}

/* Receives the schedule's current message into BUF (CAP bytes), waiting for
 * it, and checks everything a reliable consumer must see: sig, seq, no loss,
 * size, ctl and every payload byte.  Does not advance S. */
static inline void tu_recv_sched(rill_consumer *c, uint8_t *buf, size_t cap,
                                 const tu_sched *s) {
  rill_meta m;
  int64_t got;
  unsigned spins = 0;
  while ((got = rill_recv(c, buf, cap, &m)) == -RILL_EAGAIN) tu_relax(&spins);
  CHECKF(got >= 0, "recv of message %" PRIu64 ": %s", s->i, rill_strerror((int)got));
  CHECKF(m.sig == s->i, "message %" PRIu64 ": got sig %" PRIu64 " (seq %" PRIu64
         ", want %" PRIu64 ")", s->i, m.sig, m.seq, s->seq);
  CHECK_EQ(m.seq, s->seq);
  CHECK_EQ(m.lost, 0);
  CHECK_EQ(m.sz, s->sz);
  CHECK_EQ(got, s->sz);
  CHECK_EQ(m.ctl, s->nfrags == 1 ? RILL_CTL_MSG : RILL_CTL_EOM);
  CHECK_PAYLOAD(buf, (size_t)got, tu_key(s->salt, s->i), 0);
}

/* ---- files and directories ---------------------------------------------------- */

#if TU_WINDOWS
/* Opens PATH for reading and writing, shared as the library shares its
 * files (PROTOCOL.md §5), so a test can damage a region another handle has
 * open. */
static inline HANDLE tu_win_open(const char *path, DWORD disposition) {
  return CreateFileA(path, GENERIC_READ | GENERIC_WRITE,
                     FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                     disposition, FILE_ATTRIBUTE_NORMAL, NULL);
}
#endif

static inline int tu_exists(const char *path) {
#if TU_WINDOWS
  return GetFileAttributesA(path) != INVALID_FILE_ATTRIBUTES;
#else
  struct stat st;
  return stat(path, &st) == 0;
#endif
}

static inline uint64_t tu_file_size(const char *path) {
#if TU_WINDOWS
  WIN32_FILE_ATTRIBUTE_DATA a;
  CHECKF(GetFileAttributesExA(path, GetFileExInfoStandard, &a), "stat %s: error %lu", path,
         (unsigned long)GetLastError());
  return ((uint64_t)a.nFileSizeHigh << 32) | a.nFileSizeLow;
#else
  struct stat st;
  CHECKF(stat(path, &st) == 0, "stat %s: %s", path, strerror(errno));
  return (uint64_t)st.st_size;
#endif
}

/* Writes (WRITE) or reads N bytes at OFF of the existing file PATH. */
static inline void tu_io_at(const char *path, uint64_t off, void *p, size_t n, int write) {
  const char *what = write ? "write" : "read";
#if TU_WINDOWS
  HANDLE h = tu_win_open(path, OPEN_EXISTING);
  CHECKF(h != INVALID_HANDLE_VALUE, "open %s: error %lu", path, (unsigned long)GetLastError());
  OVERLAPPED ov = {0};
  ov.Offset = (DWORD)off;
  ov.OffsetHigh = (DWORD)(off >> 32);
  DWORD done = 0;
  BOOL ok = write ? WriteFile(h, p, (DWORD)n, &done, &ov) : ReadFile(h, p, (DWORD)n, &done, &ov);
  CHECKF(ok && done == n, "%s %s: error %lu", what, path, (unsigned long)GetLastError());
  CloseHandle(h);
#else
  int fd = open(path, write ? O_WRONLY : O_RDONLY);
  CHECKF(fd >= 0, "open %s: %s", path, strerror(errno));
  ssize_t done = write ? pwrite(fd, p, n, (off_t)off) : pread(fd, p, n, (off_t)off);
  CHECKF(done == (ssize_t)n, "%s %s: %s", what, path, done < 0 ? strerror(errno) : "short");
  close(fd);
#endif
}

static inline void tu_write_at(const char *path, uint64_t off, const void *p, size_t n) {
  tu_io_at(path, off, (void *)(uintptr_t)p, n, 1);
}

static inline void tu_read_at(const char *path, uint64_t off, void *p, size_t n) {
  tu_io_at(path, off, p, n, 0);
}

/* Sets the length of the existing file PATH (no view of it may exist on
 * Windows). */
static inline void tu_truncate(const char *path, uint64_t len) {
#if TU_WINDOWS
  HANDLE h = tu_win_open(path, OPEN_EXISTING);
  CHECKF(h != INVALID_HANDLE_VALUE, "open %s: error %lu", path, (unsigned long)GetLastError());
  FILE_END_OF_FILE_INFO eof;
  eof.EndOfFile.QuadPart = (LONGLONG)len;
  CHECKF(SetFileInformationByHandle(h, FileEndOfFileInfo, &eof, sizeof eof),
         "truncate %s to %" PRIu64 ": error %lu", path, len, (unsigned long)GetLastError());
  CloseHandle(h);
#else
  CHECKF(truncate(path, (off_t)len) == 0, "truncate %s to %" PRIu64 ": %s", path, len,
         strerror(errno));
#endif
}

/* Makes the empty file PATH, which must not exist. */
static inline void tu_create_file(const char *path) {
#if TU_WINDOWS
  HANDLE h = tu_win_open(path, CREATE_NEW);
  CHECKF(h != INVALID_HANDLE_VALUE, "create %s: error %lu", path, (unsigned long)GetLastError());
  CloseHandle(h);
#else
  int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0600);
  CHECKF(fd >= 0, "create %s: %s", path, strerror(errno));
  close(fd);
#endif
}

/* Removes the file PATH; returns 0 or -1. */
static inline int tu_remove_file(const char *path) {
#if TU_WINDOWS
  return DeleteFileA(path) ? 0 : -1;
#else
  return unlink(path);
#endif
}

/* Maps the whole of the file PATH, shared and writable; stores its length
 * in *LEN.  tu_unmap_file() undoes it. */
static inline void *tu_map_file(const char *path, uint64_t *len) {
  *len = tu_file_size(path);
#if TU_WINDOWS
  HANDLE h = tu_win_open(path, OPEN_EXISTING);
  CHECKF(h != INVALID_HANDLE_VALUE, "open %s: error %lu", path, (unsigned long)GetLastError());
  HANDLE m = CreateFileMappingA(h, NULL, PAGE_READWRITE, 0, 0, NULL);
  CHECKF(m != NULL, "CreateFileMapping %s: error %lu", path, (unsigned long)GetLastError());
  void *p = MapViewOfFile(m, FILE_MAP_READ | FILE_MAP_WRITE, 0, 0, (SIZE_T)*len);
  CHECKF(p != NULL, "MapViewOfFile %s: error %lu", path, (unsigned long)GetLastError());
  CloseHandle(m); /* the view keeps the mapping */
  CloseHandle(h);
  return p;
#else
  int fd = open(path, O_RDWR);
  CHECKF(fd >= 0, "open %s: %s", path, strerror(errno));
  void *p = mmap(NULL, (size_t)*len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECKF(p != MAP_FAILED, "mmap %s: %s", path, strerror(errno));
  close(fd);
  return p;
#endif
}

static inline void tu_unmap_file(void *p, uint64_t len) {
#if TU_WINDOWS
  (void)len;
  UnmapViewOfFile(p);
#else
  munmap(p, (size_t)len);
#endif
}

#if TU_WINDOWS
/* Whether [P, P+N) lies inside one view of a file mapped read-only in this
 * process (what a consumer's mapping of a channel is).  Windows does not
 * say at which file offset a view starts, so unlike Linux's
 * /proc/self/maps this cannot place P in the file. */
static inline int tu_in_readonly_view(const void *p, size_t n) {
  MEMORY_BASIC_INFORMATION mi;
  if (VirtualQuery(p, &mi, sizeof mi) != sizeof mi) return 0;
  if (mi.State != MEM_COMMIT || mi.Type != MEM_MAPPED) return 0;
  if ((mi.Protect & 0xff) != PAGE_READONLY) return 0;
  const uint8_t *lo = mi.BaseAddress, *b = p;
  return b >= lo && n <= mi.RegionSize - (size_t)(b - lo);
}
#endif

/* 1 if P lies in a mapping of a file of the test's region directory (a
 * ring), 0 elsewhere (the heap, a stack): from /proc/self/maps on Linux,
 * VirtualQuery and GetMappedFileName on Windows. */
static inline int tu_in_dir_mapping(const void *p) {
#if TU_WINDOWS
  MEMORY_BASIC_INFORMATION mi;
  if (VirtualQuery(p, &mi, sizeof mi) != sizeof mi || mi.Type != MEM_MAPPED) return 0;
  char name[1024];
  if (!K32GetMappedFileNameA(GetCurrentProcess(), (LPVOID)p, name, sizeof name)) return 0;
  /* a device path (\Device\HarddiskVolume1\...): look for the directory's
   * own name, which is unique */
  const char *d = tu_g.dir, *slash = strrchr(d, '\\');
  if (slash) d = slash + 1;
  return strstr(name, d) != NULL;
#else
  FILE *f = fopen("/proc/self/maps", "r");
  CHECK(f != NULL);
  char line[4096];
  int found = 0;
  while (fgets(line, sizeof line, f)) {
    unsigned long lo, hi;
    int at = 0;
    if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %n", &lo, &hi, &at) < 2 || !at) continue;
    if ((uintptr_t)p >= lo && (uintptr_t)p < hi) {
      found = strstr(line + at, tu_g.dir) != NULL;
      break;
    }
  }
  fclose(f);
  return found;
#endif
}

/* Calls FN(DIR, NAME, ARG) for each entry of DIR but "." and "..";
 * returns how many there were (-1 if DIR cannot be read). */
static inline int tu_dir_each(const char *dir, void (*fn)(const char *, const char *, void *),
                              void *arg) {
  int n = 0;
#if TU_WINDOWS
  char pat[600];
  snprintf(pat, sizeof pat, "%s\\*", dir);
  WIN32_FIND_DATAA fd;
  HANDLE f = FindFirstFileA(pat, &fd);
  if (f == INVALID_HANDLE_VALUE) return GetLastError() == ERROR_FILE_NOT_FOUND ? 0 : -1;
  do {
    if (!strcmp(fd.cFileName, ".") || !strcmp(fd.cFileName, "..")) continue;
    n++;
    if (fn) fn(dir, fd.cFileName, arg);
  } while (FindNextFileA(f, &fd));
  FindClose(f);
#else
  DIR *d = opendir(dir);
  if (!d) return -1;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    n++;
    if (fn) fn(dir, e->d_name, arg);
  }
  closedir(d);
#endif
  return n;
}

/* Entries of DIR other than "." and ".." (the test fails if DIR cannot
 * be read). */
static inline int tu_dir_entries(const char *dir) {
  int n = tu_dir_each(dir, NULL, NULL);
  CHECKF(n >= 0, "cannot read directory %s", dir);
  return n;
}

/* Removes DIR/NAME if NAME starts with the prefix ARG (NULL: any name). */
static inline void tu_rm_entry(const char *dir, const char *name, void *arg) {
  const char *pre = arg;
  if (pre && strncmp(name, pre, strlen(pre))) return;
  char p[1024];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  tu_remove_file(p);
}

/* Removes DIR and the files in it (one level: tests make no subdirectories).
 * On Windows a file still open elsewhere keeps the directory until its
 * last handle closes: the watchdog tries again. */
static inline void tu_rmdir(const char *dir) {
  tu_dir_each(dir, tu_rm_entry, NULL);
#if TU_WINDOWS
  RemoveDirectoryA(dir);
#else
  rmdir(dir);
#endif
}

/* The directory regions go to when neither opts.dir nor RILL_DIR is given:
 * /dev/shm on Linux, %LOCALAPPDATA%\rill on Windows (PROTOCOL.md §5). */
static inline void tu_default_dir(char *out, size_t cap) {
#if TU_WINDOWS
  const char *l = getenv("LOCALAPPDATA");
  snprintf(out, cap, "%s\\rill", l ? l : ".");
#else
  snprintf(out, cap, "/dev/shm");
#endif
}

/* Removes regions named "rt-<pid>-*" that tests make in the default
 * directory. */
static inline void tu_clean_default(tu_pid pid) {
  char pre[32], dir[512];
  snprintf(pre, sizeof pre, "rt-%d-", (int)pid);
  tu_default_dir(dir, sizeof dir);
  tu_dir_each(dir, tu_rm_entry, pre);
}

/* ---- environment and identity --------------------------------------------------- */

static inline void tu_setenv(const char *name, const char *value) {
#if TU_WINDOWS
  SetEnvironmentVariableA(name, value);
  CHECK(_putenv_s(name, value) == 0);
#else
  CHECK(setenv(name, value, 1) == 0);
#endif
}

static inline void tu_unsetenv(const char *name) {
#if TU_WINDOWS
  SetEnvironmentVariableA(name, NULL);
  _putenv_s(name, ""); /* "" removes it from the C runtime's copy */
#else
  unsetenv(name);
#endif
}

/* This process's uid as rill reports it: getuid() on Linux, the last
 * sub-authority (RID) of the token's user SID on Windows (§5). */
static inline uint32_t tu_uid(void) {
#if TU_WINDOWS
  HANDLE tok;
  CHECK(OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok));
  union { TOKEN_USER tu; char buf[256]; } u;
  DWORD n = 0;
  CHECK(GetTokenInformation(tok, TokenUser, &u, sizeof u, &n));
  CloseHandle(tok);
  PSID sid = u.tu.User.Sid;
  UCHAR k = *GetSidSubAuthorityCount(sid);
  return k ? (uint32_t)*GetSidSubAuthority(sid, (DWORD)k - 1) : 0;
#else
  return (uint32_t)getuid();
#endif
}

/* ---- regions of the test's directory ------------------------------------------------ */

/* The directory to put regions in (made by tu_start). */
static inline const char *tu_dir(void) { return tu_g.dir; }

static inline rill_region_opts tu_opts(uint64_t size) {
  return (rill_region_opts){.size = size, .dir = tu_g.dir};
}

/* Opens region NAME of the test's directory; fails the test if it can't. */
static inline rill_region *tu_region_open(const char *name) {
  rill_region_opts o = tu_opts(0);
  rill_region *r;
  CHECK_OK(rill_region_open(name, &o, &r));
  return r;
}

/* Creates region REGION of SIZE bytes holding channel CHAN made with CO, and
 * stores in *SEQ0 the sequence number its first message will have. */
static inline rill_region *tu_channel_new(const char *region, uint64_t size,
                                          const char *chan,
                                          const rill_channel_opts *co,
                                          uint64_t *seq0) {
  rill_region_opts o = tu_opts(size);
  rill_region *r;
  CHECK_OK(rill_region_create(region, &o, &r));
  CHECK_OK(rill_channel_create(r, chan, co));
  rill_channel_stats st;
  CHECK_OK(rill_channel_stats_get(r, chan, &st));
  *seq0 = st.seq;
  return r;
}

/* Walks the consumers of channel CHAN of R: from slot *SLOT on, finds the
 * first slot a consumer holds, stores its number in *SLOT and its stats in
 * *CS, and returns 1; returns 0 past the channel's last slot.  Every
 * consumer, in slot order:
 *   for (uint32_t i = 0; tu_consumer_next(r, chan, &i, &cs); i++) ... */
static inline int tu_consumer_next(rill_region *r, const char *chan, uint32_t *slot,
                                   rill_consumer_stats *cs) {
  for (;; (*slot)++) {
    int rc = rill_consumer_stats_get(r, chan, *slot, cs);
    if (rc == -RILL_EINVAL && *slot > 0) return 0; /* past the last slot */
    CHECK_OK(rc);
    CHECK_EQ(cs->slot, *slot);
    if (cs->mode) return 1;
  }
}

static inline void tu_path(char *out, size_t cap, const char *name) {
  snprintf(out, cap, "%s/%s", tu_g.dir, name);
}

/* ---- memory shared with children ------------------------------------------------------
 * One mapping of TU_SHARED_MAX bytes made by tu_start(): a memfd on Linux
 * (its fd number in TU_SHM), a paging-file section on Windows (its name in
 * TU_SHM), mapped again by every child tu_spawn() starts.  Its first 64
 * bytes hold the allocation offset. */

static inline void tu_shm_make(void) {
#if TU_WINDOWS
  char name[96];
  snprintf(name, sizeof name, "Local\\rill-tu-%d-%" PRIu64, (int)tu_getpid(), tu_ns());
  tu_g.shm_h = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0,
                                  TU_SHARED_MAX, name);
  CHECKF(tu_g.shm_h != NULL, "CreateFileMapping: error %lu", (unsigned long)GetLastError());
  tu_g.shm = MapViewOfFile(tu_g.shm_h, FILE_MAP_READ | FILE_MAP_WRITE, 0, 0, TU_SHARED_MAX);
  CHECKF(tu_g.shm != NULL, "MapViewOfFile: error %lu", (unsigned long)GetLastError());
  tu_setenv("TU_SHM", name);
#else
  int fd = memfd_create("rill-tu-shared", 0); /* no CLOEXEC: children exec */
  CHECKF(fd >= 0, "memfd_create: %s", strerror(errno));
  CHECKF(ftruncate(fd, TU_SHARED_MAX) == 0, "ftruncate: %s", strerror(errno));
  void *p = mmap(NULL, TU_SHARED_MAX, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECKF(p != MAP_FAILED, "mmap: %s", strerror(errno));
  tu_g.shm = p;
  char v[16];
  snprintf(v, sizeof v, "%d", fd);
  tu_setenv("TU_SHM", v);
#endif
  atomic_store((_Atomic uint64_t *)(void *)tu_g.shm, 64);
}

static inline void tu_shm_attach(void) {
  const char *v = getenv("TU_SHM");
  CHECKF(v != NULL, "TU_SHM is not set: not started by tu_spawn()");
#if TU_WINDOWS
  HANDLE h = OpenFileMappingA(FILE_MAP_READ | FILE_MAP_WRITE, FALSE, v);
  CHECKF(h != NULL, "OpenFileMapping %s: error %lu", v, (unsigned long)GetLastError());
  tu_g.shm = MapViewOfFile(h, FILE_MAP_READ | FILE_MAP_WRITE, 0, 0, TU_SHARED_MAX);
  CHECKF(tu_g.shm != NULL, "MapViewOfFile: error %lu", (unsigned long)GetLastError());
  tu_g.shm_h = h;
#else
  void *p = mmap(NULL, TU_SHARED_MAX, PROT_READ | PROT_WRITE, MAP_SHARED, atoi(v), 0);
  CHECKF(p != MAP_FAILED, "mmap of TU_SHM %s: %s", v, strerror(errno));
  tu_g.shm = p;
#endif
}

/* N zeroed bytes (64-byte aligned) that the test's processes share: the
 * only memory a child of tu_spawn() sees its parent's writes in.  It must
 * hold no pointers (each process maps it at its own address). */
static inline void *tu_shared(size_t n) {
  CHECKF(tu_g.shm != NULL, "tu_shared() before tu_start()");
  uint64_t sz = ((uint64_t)n + 63) & ~63ull;
  uint64_t off = atomic_fetch_add((_Atomic uint64_t *)(void *)tu_g.shm, sz);
  CHECKF(off + sz <= TU_SHARED_MAX, "tu_shared(%zu): more than %u bytes shared", n,
         TU_SHARED_MAX);
  memset(tu_g.shm + off, 0, (size_t)sz);
  return tu_g.shm + off;
}

static inline int tu_is_shared(const void *p) {
  const uint8_t *b = p;
  return tu_g.shm && b >= tu_g.shm + 64 && b < tu_g.shm + TU_SHARED_MAX;
}

#if TU_POSIX
/* ---- system settings a test changes (Linux, as root) ------------------------
 * tu_sysctl_set(PATH, VALUE) writes VALUE into the /proc/sys or /sys file
 * PATH after noting the value it had.  The notes are put back, the last
 * first, by tu_sysctl_restore(), and by the watchdog when the test ends,
 * however it ends (a failed CHECK, a crash, a kill at its time bound),
 * before it removes the region directory: a machine is never left as a
 * test set it.  The notes live in tu_shared() memory, which the watchdog
 * (forked before they are made) maps too; their offset is at byte 8 of
 * the shared memory's header.  Runs of a test that change the same setting
 * must take turns (an flock taken before tu_start(), which the watchdog
 * inherits and holds until it has put the values back: test_huge.c). */
#define TU_UNDO_MAX 8
typedef struct tu_undo {
  uint32_t n;
  struct {
    char path[120];
    char old[64];
    int live; /* to put back */
  } e[TU_UNDO_MAX];
} tu_undo;

/* The notes; made if MAKE, else NULL when there are none. */
static inline tu_undo *tu_undo_table(int make) {
  if (!tu_g.shm) return NULL;
  _Atomic uint64_t *at = (_Atomic uint64_t *)(void *)(tu_g.shm + 8);
  uint64_t off = atomic_load(at);
  if (!off && make) {
    off = (uint64_t)((uint8_t *)tu_shared(sizeof(tu_undo)) - tu_g.shm);
    atomic_store(at, off);
  }
  return off ? (tu_undo *)(void *)(tu_g.shm + off) : NULL;
}

/* Reads the first line of PATH into BUF (no newline): 0 or an errno. */
static inline int tu_sysctl_get(const char *path, char *buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  ssize_t n = read(fd, buf, cap - 1);
  int e = n < 0 ? errno : 0;
  close(fd);
  if (e) return e;
  buf[n] = 0;
  buf[strcspn(buf, "\n")] = 0;
  return 0;
}

/* Writes VALUE into PATH: 0 or an errno. */
static inline int tu_sysctl_put(const char *path, const char *value) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  size_t n = strlen(value);
  ssize_t w = write(fd, value, n);
  int e = w < 0 ? errno : (size_t)w != n ? EIO : 0;
  if (close(fd) != 0 && !e) e = errno;
  return e;
}

/* Sets PATH to VALUE, noting its value before (put back at the end, see
 * above).  Returns 0, or the errno of the failure (EACCES, EROFS: not
 * allowed here), having changed nothing. */
static inline int tu_sysctl_set(const char *path, const char *value) {
  tu_undo *u = tu_undo_table(1);
  CHECKF(u->n < TU_UNDO_MAX, "tu_sysctl_set(%s): more than %d settings", path, TU_UNDO_MAX);
  CHECKF(strlen(path) < sizeof u->e[0].path, "tu_sysctl_set(%s): path too long", path);
  char old[64];
  int e = tu_sysctl_get(path, old, sizeof old);
  if (e) return e;
  if ((e = tu_sysctl_put(path, value)) != 0) return e;
  snprintf(u->e[u->n].path, sizeof u->e[0].path, "%s", path);
  snprintf(u->e[u->n].old, sizeof u->e[0].old, "%s", old);
  u->e[u->n].live = 1;
  u->n++;
  return 0;
}

/* Puts back every setting tu_sysctl_set() changed, the last first. */
static inline void tu_sysctl_restore(void) {
  tu_undo *u = tu_undo_table(0);
  for (uint32_t i = u ? u->n : 0; i-- > 0;) {
    if (!u->e[i].live) continue;
    int e = tu_sysctl_put(u->e[i].path, u->e[i].old);
    if (e) fprintf(stderr, "%s: putting %s back to %s: %s\n", tu_g.name, u->e[i].path,
                   u->e[i].old, strerror(e));
    u->e[i].live = 0;
  }
}
#endif

/* ---- start, pass, watchdog -------------------------------------------------- */

/* Makes the private region directory: /dev/shm/rill-NAME-XXXXXX on Linux,
 * RILL_TEST_TMP (else %TEMP%)\rill-NAME-PID-N on Windows. */
static inline void tu_make_dir(const char *name) {
#if TU_WINDOWS
  char base[MAX_PATH + 1];
  const char *e = getenv("RILL_TEST_TMP");
  if (e && *e) snprintf(base, sizeof base, "%s", e);
  else if (!GetTempPathA(sizeof base, base)) snprintf(base, sizeof base, ".");
  size_t bl = strlen(base);
  while (bl > 0 && (base[bl - 1] == '\\' || base[bl - 1] == '/')) base[--bl] = 0;
  for (unsigned k = 0;; k++) {
    snprintf(tu_g.dir, sizeof tu_g.dir, "%s\\rill-%s-%d-%u", base, name, (int)tu_getpid(), k);
    if (CreateDirectoryA(tu_g.dir, NULL)) break;
    if (GetLastError() != ERROR_ALREADY_EXISTS || k > 1000) {
      fprintf(stderr, "%s: CreateDirectory(%s): error %lu\n", name, tu_g.dir,
              (unsigned long)GetLastError());
      exit(1);
    }
  }
#else
  snprintf(tu_g.dir, sizeof tu_g.dir, "/dev/shm/rill-%s-XXXXXX", name);
  if (!mkdtemp(tu_g.dir)) {
    fprintf(stderr, "%s: mkdtemp(%s): %s\n", name, tu_g.dir, strerror(errno));
    exit(1);
  }
#endif
  tu_setenv("TU_DIR", tu_g.dir);
}

#if TU_WINDOWS
/* The Windows watchdog: a thread of the test that ends it (exit code 1)
 * when its time is up, and a process of its own (not in the children's
 * job), started with an inherited handle of the test process, that removes
 * the region directory once the test has ended and the files in it are
 * closed (the test's children die with the job).  The process kills the
 * test too if the thread could not, 10 s later, but its TerminateProcess
 * reaches a shell as exit status 0 under Wine 8: the thread's own
 * TerminateProcess gives 1. */
static DWORD WINAPI tu_watchdog_thread(LPVOID arg) {
  unsigned seconds = (unsigned)(uintptr_t)arg;
  Sleep(seconds * 1000u);
  fprintf(stderr, "%s: TIMEOUT: still running after %u s; killing it\n", tu_g.name, seconds);
  fflush(NULL);
  TerminateProcess(GetCurrentProcess(), 1);
  return 0;
}

__attribute__((noreturn))
static inline void tu_watchdog_main(const char *hv, const char *pidv, const char *secv) {
  HANDLE h = (HANDLE)(uintptr_t)strtoull(hv, NULL, 10);
  tu_pid parent = (tu_pid)atoi(pidv);
  unsigned seconds = (unsigned)atoi(secv);
  const char *d = getenv("TU_DIR");
  if (!d) ExitProcess(1);
  snprintf(tu_g.dir, sizeof tu_g.dir, "%s", d);
  if (WaitForSingleObject(h, (seconds + 10) * 1000u) == WAIT_TIMEOUT) {
    fprintf(stderr, "%s: TIMEOUT: still running after %u s; killing it\n", tu_g.name,
            seconds + 10);
    fflush(stderr);
    TerminateProcess(h, 1);
    WaitForSingleObject(h, 5000);
  }
  for (int i = 0; i < 1000 && tu_exists(tu_g.dir); i++) {
    tu_rmdir(tu_g.dir);
    if (tu_exists(tu_g.dir)) Sleep(10);
  }
  tu_clean_default(parent);
  ExitProcess(0);
}

/* CreateProcessA of EXE with the command line CMD (handles inherited),
 * FLAGS as given.  Wine's server, busy with many processes on a loaded
 * machine, now and then fails a start with ERROR_INTERNAL_ERROR (1359)
 * that the next attempt does not: up to 5 attempts then, 10 ms apart.
 * Any other failure is returned at once.  TRUE if started. */
static inline BOOL tu_create_process(const char *exe, char *cmd, DWORD flags, STARTUPINFOA *si,
                                     PROCESS_INFORMATION *pi) {
  for (int attempt = 1;; attempt++) {
    if (CreateProcessA(exe, cmd, NULL, NULL, TRUE, flags, NULL, NULL, si, pi)) return TRUE;
    if (GetLastError() != ERROR_INTERNAL_ERROR || attempt == 5) return FALSE;
    Sleep(10);
  }
}

static inline void tu_watchdog_start(unsigned seconds) {
  HANDLE self;
  CHECK(DuplicateHandle(GetCurrentProcess(), GetCurrentProcess(), GetCurrentProcess(), &self,
                        SYNCHRONIZE | PROCESS_TERMINATE, TRUE, 0));
  char exe[MAX_PATH + 1], cmd[2 * MAX_PATH];
  DWORD n = GetModuleFileNameA(NULL, exe, sizeof exe);
  CHECK(n > 0 && n < sizeof exe);
  snprintf(cmd, sizeof cmd, "\"%s\" --tu-watchdog %" PRIu64 " %d %u", exe,
           (uint64_t)(uintptr_t)self, (int)tu_getpid(), seconds);
  STARTUPINFOA si;
  memset(&si, 0, sizeof si);
  si.cb = sizeof si;
  PROCESS_INFORMATION pi;
  CHECKF(tu_create_process(exe, cmd, 0, &si, &pi), "CreateProcess (watchdog): error %lu",
         (unsigned long)GetLastError());
  CloseHandle(pi.hThread);
  tu_g.wd_h = pi.hProcess;
  CloseHandle(self);
  HANDLE t = CreateThread(NULL, 0, tu_watchdog_thread, (LPVOID)(uintptr_t)seconds, 0, NULL);
  CHECKF(t != NULL, "CreateThread (watchdog): error %lu", (unsigned long)GetLastError());
  CloseHandle(t);
}
#else
static inline void tu_watchdog_start(unsigned seconds) {
  int p[2];
  if (pipe(p) != 0) { perror("pipe"); exit(1); }
  fflush(NULL);
  pid_t w = fork();
  if (w < 0) { perror("fork"); exit(1); }
  if (w == 0) {
    close(p[1]);
    pid_t parent = getppid();
    uint64_t deadline = tu_ns() + (uint64_t)seconds * 1000000000ull;
    int timed_out = 0;
    for (;;) {
      uint64_t now = tu_ns();
      if (now >= deadline) { timed_out = 1; break; }
      struct pollfd pf = {.fd = p[0], .events = POLLIN};
      int ms = (int)((deadline - now) / 1000000u) + 1;
      int n = poll(&pf, 1, ms);
      if (n < 0 && errno == EINTR) continue;
      if (n > 0) break; /* EOF: the test (and its children) ended */
    }
    if (timed_out) {
      fprintf(stderr, "%s: TIMEOUT: still running after %u s; killing it\n",
              tu_g.name, seconds);
      kill(parent, SIGKILL);
      /* Its children die with it (PR_SET_PDEATHSIG); wait for the pipe. */
      struct pollfd pf = {.fd = p[0], .events = POLLIN};
      poll(&pf, 1, 5000);
    }
    tu_sysctl_restore(); /* what the test changed and did not put back */
    tu_rmdir(tu_g.dir);
    tu_clean_default(parent);
    _exit(0);
  }
  close(p[0]);
  /* Children (fork and exec alike) inherit the write end: the watchdog
   * sees EOF when the test and all its children are gone. */
  tu_g.wd_fd = p[1];
  tu_g.wd_pid = w;
}
#endif

__attribute__((noreturn)) static inline void tu_child_main(const char *role, const char *off);

/* Starts test NAME: it must end within SECONDS (more under sanitizers) or
 * the watchdog kills it (its children die with it) and fails it.  The
 * watchdog also removes the region directory when the test is gone.
 * ROLES (NULL-terminated, may be NULL) lists the functions tu_spawn() can
 * run in a child; a process started by tu_spawn() runs its role here and
 * never returns. */
static inline void tu_start_roles(const char *name, unsigned seconds, int argc, char **argv,
                                  const tu_role *roles) {
  tu_g.name = name;
  tu_g.roles = roles;
  tu_g.argv0 = argc > 0 ? argv[0] : name;
  if (argc >= 4 && !strcmp(argv[1], "--tu-role")) tu_child_main(argv[2], argv[3]);
#if TU_WINDOWS
  if (argc >= 5 && !strcmp(argv[1], "--tu-watchdog"))
    tu_watchdog_main(argv[2], argv[3], argv[4]);
  setvbuf(stdout, NULL, _IONBF, 0); /* msvcrt has no line buffering */
#else
  setvbuf(stdout, NULL, _IOLBF, 0);
#endif
  tu_g.main_pid = tu_getpid();
  tu_g.t0 = tu_now();
  tu_make_dir(name);
  tu_shm_make();
  if (tu_sanitized()) seconds *= 3;
  tu_watchdog_start(seconds);
}

/* tu_start_roles() for a test that starts no child with tu_spawn(). */
static inline void tu_start(const char *name, unsigned seconds) {
  tu_start_roles(name, seconds, 0, NULL, NULL);
}

static inline void tu_watchdog_end(void) {
#if TU_WINDOWS
  /* It waits for this process to end, then cleans up. */
  if (tu_g.wd_h) CloseHandle(tu_g.wd_h);
  tu_g.wd_h = NULL;
#else
  close(tu_g.wd_fd);
  tu_g.wd_fd = -1;
  int st;
  while (waitpid(tu_g.wd_pid, &st, 0) < 0 && errno == EINTR) {}
#endif
}

/* Prints the one-line summary, lets the watchdog clean up, returns 0. */
TU_PRINTF(1, 2)
static inline int tu_pass(const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  printf("PASS %s: %s (%.2f s)\n", tu_g.name, msg, tu_now() - tu_g.t0);
  fflush(NULL);
  tu_watchdog_end();
  return 0;
}

/* Skips the whole test (exit 77). */
__attribute__((noreturn)) TU_PRINTF(1, 2)
static inline void tu_skip(const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  printf("SKIP %s: %s\n", tu_g.name, msg);
  fflush(NULL);
  tu_watchdog_end();
  exit(TU_SKIP);
}

/* ---- children ---------------------------------------------------------------- */

/* How a child ended, the same on both systems: its exit code (>= 0),
 * TU_KILLED (tu_kill(), tu_die()), or another negative value: -signal on
 * Linux, TU_CRASHED on Windows (an exception ended it). */
#define TU_CRASHED (-1000)

static inline void tu_end_str(int end, char *out, size_t cap) {
  if (end >= 0) snprintf(out, cap, "exited with %d", end);
  else if (end == TU_KILLED) snprintf(out, cap, "was killed (SIGKILL / TerminateProcess)");
#if TU_POSIX
  else if (end > TU_CRASHED) snprintf(out, cap, "killed by signal %d (%s)", -end, strsignal(-end));
#endif
  else snprintf(out, cap, "crashed");
}

#if TU_POSIX
static inline int tu_end_of_status(int st) {
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  if (WIFSIGNALED(st)) return -WTERMSIG(st);
  return TU_CRASHED;
}
#else
static inline int tu_end_of_code(tu_pid pid, DWORD code) {
  if (code == TU_KILL_CODE) return TU_KILLED;
  if (code <= 255) return (int)code;
  fprintf(stderr, "child %d ended with status 0x%08lx\n", (int)pid, (unsigned long)code);
  return TU_CRASHED;
}
#endif

static inline int tu_kid_index(tu_pid pid) {
  for (int i = 0; i < tu_g.nkids; i++)
    if (tu_g.kids[i] == pid || tu_g.kids[i] == -pid) return i;
  return -1;
}

static inline void tu_kid_add(tu_pid pid, const char *what) {
  if (tu_g.nkids < TU_MAX_KIDS) {
    tu_g.kids[tu_g.nkids] = pid;
    tu_g.kid_names[tu_g.nkids] = what;
    tu_g.nkids++;
    return;
  }
  /* reuse the slot of a child already reaped */
  for (int i = 0; i < TU_MAX_KIDS; i++)
    if (tu_g.kids[i] < 0) {
      tu_g.kids[i] = pid;
      tu_g.kid_names[i] = what;
      return;
    }
  tu_failf(__FILE__, __LINE__, "more than %d children running", TU_MAX_KIDS);
}

/* Kills child PID at once (SIGKILL, TerminateProcess); tu_wait_end()
 * then says TU_KILLED. */
static inline void tu_kill(tu_pid pid) {
#if TU_WINDOWS
  int i = tu_kid_index(pid);
  CHECKF(i >= 0 && tu_g.kid_h[i] != NULL, "tu_kill(%d): not a running child", (int)pid);
  TerminateProcess(tu_g.kid_h[i], TU_KILL_CODE);
#else
  CHECKF(kill(pid, SIGKILL) == 0, "kill(%d): %s", (int)pid, strerror(errno));
#endif
}

/* Ends the calling process at once, as tu_kill() would: no exit handler,
 * no flush, nothing the library could notice. */
__attribute__((noreturn)) static inline void tu_die(void) {
  fflush(NULL);
#if TU_WINDOWS
  TerminateProcess(GetCurrentProcess(), TU_KILL_CODE);
#else
  raise(SIGKILL);
#endif
  abort();
}

/* Marks child PID reaped and, unless END is a clean exit, kills the
 * other children and fails the test. */
static inline void tu_kid_end(tu_pid pid, int end) {
  int i = tu_kid_index(pid);
  const char *what = i >= 0 ? tu_g.kid_names[i] : "?";
  if (i >= 0) tu_g.kids[i] = -pid;
  if (end == 0) return;
  for (int k = 0; k < tu_g.nkids; k++)
    if (tu_g.kids[k] > 0) tu_kill(tu_g.kids[k]);
  char how[128];
  tu_end_str(end, how, sizeof how);
  tu_failf(__FILE__, __LINE__, "child '%s' (pid %d) %s", what, (int)pid, how);
}

/* Waits for child PID and returns how it ended (tu_end_str()), whatever
 * that is: for children that are meant to die. */
static inline int tu_wait_end(tu_pid pid) {
  int i = tu_kid_index(pid);
#if TU_WINDOWS
  CHECKF(i >= 0 && tu_g.kid_h[i] != NULL, "tu_wait(%d): not a running child", (int)pid);
  CHECK(WaitForSingleObject(tu_g.kid_h[i], INFINITE) == WAIT_OBJECT_0);
  DWORD code = 0;
  CHECK(GetExitCodeProcess(tu_g.kid_h[i], &code));
  CloseHandle(tu_g.kid_h[i]);
  tu_g.kid_h[i] = NULL;
  tu_g.kids[i] = -pid;
  return tu_end_of_code(pid, code);
#else
  int st;
  pid_t r;
  while ((r = waitpid(pid, &st, 0)) < 0 && errno == EINTR) {}
  CHECKF(r == pid, "waitpid(%d): %s", (int)pid, strerror(errno));
  if (i >= 0) tu_g.kids[i] = -pid;
  return tu_end_of_status(st);
#endif
}

/* Waits for child PID; it must exit 0. */
static inline void tu_wait(tu_pid pid) {
  int end = tu_wait_end(pid);
  tu_kid_end(pid, end);
}

/* Waits for every child still running; each must exit 0 (the first that
 * fails kills the others and fails the test). */
static inline void tu_wait_all(void) {
  for (;;) {
#if TU_WINDOWS
    HANDLE hs[TU_MAX_KIDS];
    int idx[TU_MAX_KIDS], n = 0;
    for (int i = 0; i < tu_g.nkids; i++)
      if (tu_g.kids[i] > 0) { hs[n] = tu_g.kid_h[i]; idx[n++] = i; }
    if (!n) return;
    DWORD w = WaitForMultipleObjects((DWORD)n, hs, FALSE, INFINITE);
    CHECKF(w < WAIT_OBJECT_0 + (DWORD)n, "WaitForMultipleObjects: error %lu",
           (unsigned long)GetLastError());
    tu_pid pid = tu_g.kids[idx[w - WAIT_OBJECT_0]];
    tu_kid_end(pid, tu_wait_end(pid));
#else
    int left = 0;
    for (int i = 0; i < tu_g.nkids; i++) left += tu_g.kids[i] > 0;
    if (!left) return;
    int st;
    pid_t r = waitpid(-1, &st, 0);
    if (r < 0 && errno == EINTR) continue;
    CHECKF(r > 0, "waitpid: %s", strerror(errno));
    if (tu_kid_index(r) < 0) continue; /* not one of ours */
    tu_kid_end(r, tu_end_of_status(st));
#endif
  }
}

/* Without blocking: fails the test if a child has exited with an error.
 * Returns 1 if some child ended (successfully) since the last call. */
static inline int tu_kids_poll(void) {
  int any = 0;
  for (int i = 0; i < tu_g.nkids; i++) {
    if (tu_g.kids[i] <= 0) continue;
    tu_pid pid = tu_g.kids[i];
#if TU_WINDOWS
    if (WaitForSingleObject(tu_g.kid_h[i], 0) != WAIT_OBJECT_0) continue;
    tu_kid_end(pid, tu_wait_end(pid));
#else
    int st;
    if (waitpid(pid, &st, WNOHANG) != pid) continue;
    tu_g.kids[i] = -pid;
    tu_kid_end(pid, tu_end_of_status(st));
#endif
    any = 1;
  }
  return any;
}

/* Runs FN(ARG) in a new process of the test program: fork and exec of
 * /proc/self/exe on Linux, CreateProcess on Windows, with the command line
 * "--tu-role NAME OFFSET".  FN must be in the roles given to
 * tu_start_roles(), ARG NULL or tu_shared() memory.  The child dies with
 * its parent, exits 0 when FN returns (a failed CHECK exits 1) and starts
 * with nothing of its parent but the test directory and tu_shared()
 * memory.  Returns its pid. */
static inline tu_pid tu_spawn(const char *what, void (*fn)(void *), void *arg) {
  CHECKF(!tu_g.is_child, "tu_spawn(%s) from a child", what);
  const char *role = NULL;
  for (const tu_role *r = tu_g.roles; r && r->name; r++)
    if (r->fn == fn) role = r->name;
  CHECKF(role != NULL, "tu_spawn(%s): its function is not in the roles of tu_start_roles()", what);
  CHECKF(arg == NULL || tu_is_shared(arg), "tu_spawn(%s): the argument is not tu_shared() memory",
         what);
  char off[32];
  if (arg) snprintf(off, sizeof off, "%" PRIu64, (uint64_t)((uint8_t *)arg - tu_g.shm));
  else snprintf(off, sizeof off, "-");
  fflush(NULL);
#if TU_WINDOWS
  char exe[MAX_PATH + 1], cmd[2 * MAX_PATH];
  DWORD n = GetModuleFileNameA(NULL, exe, sizeof exe);
  CHECK(n > 0 && n < sizeof exe);
  snprintf(cmd, sizeof cmd, "\"%s\" --tu-role %s %s", exe, role, off);
  if (!tu_g.job) {
    /* The children's job: closed when this process ends, however it ends,
     * which kills every process in it. */
    tu_g.job = CreateJobObjectA(NULL, NULL);
    CHECKF(tu_g.job != NULL, "CreateJobObject: error %lu", (unsigned long)GetLastError());
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION li;
    memset(&li, 0, sizeof li);
    li.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
    CHECKF(SetInformationJobObject(tu_g.job, JobObjectExtendedLimitInformation, &li, sizeof li),
           "SetInformationJobObject: error %lu", (unsigned long)GetLastError());
  }
  STARTUPINFOA si;
  memset(&si, 0, sizeof si);
  si.cb = sizeof si;
  PROCESS_INFORMATION pi;
  CHECKF(tu_create_process(exe, cmd, CREATE_SUSPENDED, &si, &pi), "CreateProcess(%s): error %lu",
         cmd, (unsigned long)GetLastError());
  if (!AssignProcessToJobObject(tu_g.job, pi.hProcess)) {
    DWORD e = GetLastError();
    TerminateProcess(pi.hProcess, 1);
    tu_failf(__FILE__, __LINE__, "AssignProcessToJobObject: error %lu", (unsigned long)e);
  }
  ResumeThread(pi.hThread);
  CloseHandle(pi.hThread);
  tu_pid pid = (tu_pid)pi.dwProcessId;
  tu_kid_add(pid, what);
  tu_g.kid_h[tu_kid_index(pid)] = pi.hProcess;
  return pid;
#else
  char *av[] = {(char *)tu_g.argv0, "--tu-role", (char *)role, off, NULL};
  pid_t parent = getpid();
  pid_t pid = fork();
  CHECKF(pid >= 0, "fork: %s", strerror(errno));
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* kept across execve */
    if (getppid() != parent) _exit(1);
    execv("/proc/self/exe", av);
    _exit(127);
  }
  tu_kid_add(pid, what);
  return pid;
#endif
}

/* A process started by tu_spawn(): runs its role, exits 0 when it returns.
 * It ends with _exit(): LeakSanitizer would otherwise report what a role
 * left open on purpose (a consumer that is to be evicted, say). */
__attribute__((noreturn)) static inline void tu_child_main(const char *role, const char *off) {
  tu_g.is_child = 1;
#if TU_WINDOWS
  setvbuf(stdout, NULL, _IONBF, 0);
#else
  setvbuf(stdout, NULL, _IOLBF, 0);
#endif
  tu_g.t0 = tu_now();
  const char *d = getenv("TU_DIR");
  CHECKF(d != NULL, "TU_DIR is not set: not started by tu_spawn()");
  snprintf(tu_g.dir, sizeof tu_g.dir, "%s", d);
  tu_shm_attach();
  void (*fn)(void *) = NULL;
  for (const tu_role *r = tu_g.roles; r && r->name; r++)
    if (!strcmp(r->name, role)) fn = r->fn;
  CHECKF(fn != NULL, "no role '%s' in this test", role);
  void *arg = NULL;
  if (strcmp(off, "-")) {
    uint64_t o = strtoull(off, NULL, 10);
    CHECKF(o >= 64 && o < TU_SHARED_MAX, "bad offset %s", off);
    arg = tu_g.shm + o;
  }
  fn(arg);
  fflush(NULL);
  _exit(0);
}

/* Runs FN(ARG) in a child (tu_spawn()) and reports how it ended without
 * failing the test: 0 if it exited 0, else 1 (with a message).  For checks
 * that may crash or abort (sanitizers) while the other checks should still
 * run; the caller fails the test at the end if any returned 1. */
static inline int tu_try(const char *what, void (*fn)(void *), void *arg) {
  tu_pid pid = tu_spawn(what, fn, arg);
  int end = tu_wait_end(pid);
  if (end == 0) return 0;
  char how[128];
  tu_end_str(end, how, sizeof how);
  fprintf(stderr, "FAIL: %s: %s\n", what, how);
  return 1;
}

#if TU_POSIX
/* Linux-only tests: runs FN(ARG) in a forked child (a copy of the parent)
 * that dies with its parent; the child exits 0 when FN returns (a failed
 * CHECK exits 1).  Returns its pid.  The child ends with _exit():
 * LeakSanitizer would otherwise report what it inherited from the
 * parent's heap (the parent's own exit checks leaks). */
static inline pid_t tu_fork(const char *what, void (*fn)(void *), void *arg) {
  fflush(NULL);
  pid_t parent = getpid();
  pid_t pid = fork();
  CHECKF(pid >= 0, "fork: %s", strerror(errno));
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    tu_g.nkids = 0;
    tu_g.is_child = 1;
    fn(arg);
    fflush(NULL);
    _exit(0);
  }
  tu_kid_add(pid, what);
  return pid;
}

/* Waits for child PID and returns its raw wait status (Linux-only tests). */
static inline int tu_wait_status(pid_t pid) {
  int st;
  pid_t r;
  while ((r = waitpid(pid, &st, 0)) < 0 && errno == EINTR) {}
  CHECKF(r == pid, "waitpid(%d): %s", (int)pid, strerror(errno));
  int i = tu_kid_index(pid);
  if (i >= 0) tu_g.kids[i] = -pid;
  return st;
}

/* Fails the test (killing the other children) if the raw wait STATUS is
 * not a clean exit of child PID. */
static inline void tu_kid_status(pid_t pid, int st) { tu_kid_end(pid, tu_end_of_status(st)); }
#endif

/* ---- a consumer's wake-up object ------------------------------------------------------
 * rill_consumer_fd() (a FIFO, for poll) on Linux, rill_consumer_handle() (an
 * event, for WaitForSingleObject) on Windows: the same contract (rill.h),
 * so a test checks it once for both. */
typedef struct tu_wakeup {
#if TU_WINDOWS
  void *h;
#else
  int fd;
#endif
} tu_wakeup;

/* Gets C's wake-up object; returns 0 or a negative RILL_E code. */
static inline int tu_consumer_wakeup(rill_consumer *c, tu_wakeup *w) {
#if TU_WINDOWS
  return rill_consumer_handle(c, &w->h);
#else
  int fd = rill_consumer_fd(c);
  if (fd < 0) return fd;
  w->fd = fd;
  return 0;
#endif
}

static inline int tu_wakeup_same(tu_wakeup a, tu_wakeup b) {
#if TU_WINDOWS
  return a.h == b.h;
#else
  return a.fd == b.fd;
#endif
}

/* Whether W is (or becomes within MS milliseconds) signalled: the fd
 * readable, the event set.  Neither consumes anything. */
static inline int tu_wakeup_ready(tu_wakeup w, int ms) {
#if TU_WINDOWS
  DWORD r = WaitForSingleObject((HANDLE)w.h, (DWORD)ms);
  CHECKF(r == WAIT_OBJECT_0 || r == WAIT_TIMEOUT, "WaitForSingleObject: %lu (error %lu)",
         (unsigned long)r, (unsigned long)GetLastError());
  return r == WAIT_OBJECT_0;
#else
  struct pollfd pf = {.fd = w.fd, .events = POLLIN};
  int n;
  while ((n = poll(&pf, 1, ms)) < 0 && errno == EINTR) {}
  CHECK(n >= 0);
  return n > 0 && (pf.revents & POLLIN);
#endif
}

/* ---- gates ---------------------------------------------------------------------------
 * A one-way "ready" signal between processes, in tu_shared() memory: posts
 * are tokens, each wait takes some. */
typedef struct tu_gate {
  _Atomic uint64_t posted, taken;
} tu_gate;

static inline void tu_gate_init(tu_gate *g) {
  CHECKF(tu_is_shared(g), "a tu_gate must be in tu_shared() memory");
  atomic_store(&g->posted, 0);
  atomic_store(&g->taken, 0);
}

static inline void tu_gate_post(tu_gate *g) { atomic_fetch_add(&g->posted, 1); }

/* Waits for N posts and takes them; fails if a child dies first. */
static inline void tu_gate_wait(tu_gate *g, int n) {
  unsigned spins = 0;
  while (n > 0) {
    uint64_t t = atomic_load(&g->taken);
    if (atomic_load(&g->posted) > t) {
      if (atomic_compare_exchange_weak(&g->taken, &t, t + 1)) n--;
      continue;
    }
    if (++spins < 64) {
      tu_yield();
    } else {
      tu_kids_poll();
      tu_sleep_ms(1);
    }
  }
}

static inline void tu_gate_close(tu_gate *g) { (void)g; }

#endif
