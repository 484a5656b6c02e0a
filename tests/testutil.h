/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* Helpers shared by the rill tests.  Header-only: everything is static inline
 * (each test is one program built from one source file).
 *
 * What is here:
 *   - CHECK macros: print file:line and the failed expression, exit 1;
 *   - tu_start()/tu_pass(): a watchdog process that kills a test that runs
 *     past its time bound, and a private region directory under /dev/shm
 *     that the watchdog removes when the test ends however it ends;
 *   - tu_fork()/tu_wait(): children that die with their parent, and whose
 *     failure fails the test;
 *   - a splitmix64 PRNG, and payloads derived from a key (a message index or
 *     a sequence number) so any byte of any message can be verified;
 *   - tu_consumer_next(): the stats of each consumer of a channel in turn;
 *   - tu_sched: the deterministic schedule of message sizes a producer sends
 *     and a consumer expects, mapping sequence numbers to (message, fragment).
 *
 * Exit codes: 0 pass, 1 fail, 77 skip.
 */
#ifndef RILL_TESTUTIL_H
#define RILL_TESTUTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rill.h"

#define TU_SKIP 77
#define TU_MAX_KIDS 16

typedef struct tu_state {
  const char *name;     /* test name, for messages */
  pid_t main_pid;       /* the test's main process */
  char dir[128];        /* private region directory */
  int wd_fd;            /* write end of the watchdog pipe */
  pid_t wd_pid;
  double t0;
  pid_t kids[TU_MAX_KIDS];
  const char *kid_names[TU_MAX_KIDS];
  int nkids;
} tu_state;

static tu_state tu_g = {.wd_fd = -1};

/* ---- time ---------------------------------------------------------------- */

static inline uint64_t tu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline double tu_now(void) { return (double)tu_ns() / 1e9; }

/* ---- failing ------------------------------------------------------------- */

__attribute__((noreturn, format(printf, 3, 4)))
static inline void tu_failf(const char *file, int line, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (getpid() != tu_g.main_pid)
    fprintf(stderr, "%s:%d: [child %d] FAIL: %s\n", file, line, (int)getpid(), msg);
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
      char tu_why_[512];                                                \
      snprintf(tu_why_, sizeof tu_why_, __VA_ARGS__);                   \
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

/* A rill call returns WANT (0, a count or a negative RILL_E code). */
#define CHECK_RC(call, want)                                            \
  do {                                                                  \
    int64_t tu_r_ = (int64_t)(call), tu_w_ = (int64_t)(want);           \
    if (tu_r_ != tu_w_)                                                 \
      tu_failf(__FILE__, __LINE__, "%s returned %" PRId64 " (%s), "     \
               "expected %" PRId64 " (%s)", #call, tu_r_,               \
               tu_r_ < 0 ? rill_strerror((int)tu_r_) : "ok", tu_w_,     \
               tu_w_ < 0 ? rill_strerror((int)tu_w_) : "ok");           \
  } while (0)

#define CHECK_OK(call) CHECK_RC(call, 0)

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

/* RILL_TEST_SCALE: a divisor for message counts (default 1). */
static inline uint64_t tu_scale(void) {
  const char *s = getenv("RILL_TEST_SCALE");
  long v = s ? strtol(s, NULL, 10) : 1;
  return v >= 1 ? (uint64_t)v : 1;
}

/* N divided by the scale, at least MIN. */
static inline uint64_t tu_scaled(uint64_t n, uint64_t min) {
  uint64_t v = n / tu_scale();
  return v < min ? min : v;
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
    sched_yield();
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

/* ---- directories ----------------------------------------------------------- */

/* Removes DIR and the files in it (one level: tests make no subdirectories). */
static inline void tu_rmdir(const char *dir) {
  DIR *d = opendir(dir);
  if (d) {
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
      unlinkat(dirfd(d), e->d_name, 0);
    }
    closedir(d);
  }
  rmdir(dir);
}

/* Removes /dev/shm entries named "rt-<pid>-*": regions tests make in the
 * default directory. */
static inline void tu_clean_default(pid_t pid) {
  char pre[32];
  snprintf(pre, sizeof pre, "rt-%d-", (int)pid);
  DIR *d = opendir("/dev/shm");
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (!strncmp(e->d_name, pre, strlen(pre))) unlinkat(dirfd(d), e->d_name, 0);
  closedir(d);
}

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

/* ---- start, pass, watchdog -------------------------------------------------- */

/* Starts test NAME: it must end within SECONDS (more under sanitizers) or
 * the watchdog kills it (its children die with it) and fails it.  The
 * watchdog also removes the region directory when the test is gone. */
static inline void tu_start(const char *name, unsigned seconds) {
  tu_g.name = name;
  tu_g.main_pid = getpid();
  tu_g.t0 = tu_now();
  setvbuf(stdout, NULL, _IOLBF, 0);
  snprintf(tu_g.dir, sizeof tu_g.dir, "/dev/shm/rill-%s-XXXXXX", name);
  if (!mkdtemp(tu_g.dir)) {
    fprintf(stderr, "%s: mkdtemp(%s): %s\n", name, tu_g.dir, strerror(errno));
    exit(1);
  }
  if (tu_sanitized()) seconds *= 3;
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
              name, seconds);
      kill(parent, SIGKILL);
      /* Its children die with it (PR_SET_PDEATHSIG); wait for the pipe. */
      struct pollfd pf = {.fd = p[0], .events = POLLIN};
      poll(&pf, 1, 5000);
    }
    tu_rmdir(tu_g.dir);
    tu_clean_default(parent);
    _exit(0);
  }
  close(p[0]);
  tu_g.wd_fd = p[1];
  tu_g.wd_pid = w;
}

/* Prints the one-line summary, lets the watchdog clean up, returns 0. */
__attribute__((format(printf, 1, 2)))
static inline int tu_pass(const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  printf("PASS %s: %s (%.2f s)\n", tu_g.name, msg, tu_now() - tu_g.t0);
  fflush(NULL);
  close(tu_g.wd_fd);
  tu_g.wd_fd = -1;
  int st;
  while (waitpid(tu_g.wd_pid, &st, 0) < 0 && errno == EINTR) {}
  return 0;
}

/* Skips the whole test (exit 77). */
__attribute__((noreturn, format(printf, 1, 2)))
static inline void tu_skip(const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  printf("SKIP %s: %s\n", tu_g.name, msg);
  fflush(NULL);
  close(tu_g.wd_fd);
  int st;
  while (waitpid(tu_g.wd_pid, &st, 0) < 0 && errno == EINTR) {}
  exit(TU_SKIP);
}

/* ---- children ---------------------------------------------------------------- */

/* Runs FN(ARG) in a child process that dies with its parent; the child
 * exits 0 when FN returns (a failed CHECK exits 1).  Returns its pid.
 * The child ends with _exit(): LeakSanitizer would otherwise report what it
 * inherited from the parent's heap (the parent's own exit checks leaks). */
static inline pid_t tu_fork(const char *what, void (*fn)(void *), void *arg) {
  fflush(NULL);
  pid_t parent = getpid();
  pid_t pid = fork();
  CHECKF(pid >= 0, "fork: %s", strerror(errno));
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    tu_g.nkids = 0;
    fn(arg);
    fflush(NULL);
    _exit(0);
  }
  if (tu_g.nkids < TU_MAX_KIDS) {
    tu_g.kids[tu_g.nkids] = pid;
    tu_g.kid_names[tu_g.nkids] = what;
    tu_g.nkids++;
  }
  return pid;
}

/* A child still running has kids[i] = pid; one reaped has -pid. */
static inline int tu_kid_index(pid_t pid) {
  for (int i = 0; i < tu_g.nkids; i++)
    if (tu_g.kids[i] == pid || tu_g.kids[i] == -pid) return i;
  return -1;
}

/* Fails the test (killing the other children) if STATUS is not a clean
 * exit of child PID. */
static inline void tu_kid_status(pid_t pid, int st) {
  int i = tu_kid_index(pid);
  const char *what = i >= 0 ? tu_g.kid_names[i] : "?";
  if (i >= 0) tu_g.kids[i] = -pid;
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return;
  for (int k = 0; k < tu_g.nkids; k++)
    if (tu_g.kids[k] > 0) kill(tu_g.kids[k], SIGKILL);
  if (WIFEXITED(st))
    tu_failf(__FILE__, __LINE__, "child '%s' (pid %d) exited with %d", what,
             (int)pid, WEXITSTATUS(st));
  tu_failf(__FILE__, __LINE__, "child '%s' (pid %d) killed by signal %d (%s)",
           what, (int)pid, WTERMSIG(st), strsignal(WTERMSIG(st)));
}

/* Waits for child PID and returns its raw wait status, whatever it is (for
 * children that are meant to die). */
static inline int tu_wait_status(pid_t pid) {
  int st;
  pid_t r;
  while ((r = waitpid(pid, &st, 0)) < 0 && errno == EINTR) {}
  CHECKF(r == pid, "waitpid(%d): %s", (int)pid, strerror(errno));
  int i = tu_kid_index(pid);
  if (i >= 0) tu_g.kids[i] = -pid;
  return st;
}

/* Waits for child PID; it must exit 0. */
static inline void tu_wait(pid_t pid) {
  int st;
  pid_t r;
  while ((r = waitpid(pid, &st, 0)) < 0 && errno == EINTR) {}
  CHECKF(r == pid, "waitpid(%d): %s", (int)pid, strerror(errno));
  tu_kid_status(pid, st);
}

/* Waits for every child still running; each must exit 0 (the first that
 * fails kills the others and fails the test). */
static inline void tu_wait_all(void) {
  for (;;) {
    int left = 0;
    for (int i = 0; i < tu_g.nkids; i++) left += tu_g.kids[i] > 0;
    if (!left) return;
    int st;
    pid_t r = waitpid(-1, &st, 0);
    if (r < 0 && errno == EINTR) continue;
    CHECKF(r > 0, "waitpid: %s", strerror(errno));
    if (tu_kid_index(r) < 0) continue; /* not one of ours */
    tu_kid_status(r, st);
  }
}

/* Runs FN(ARG) in a child and reports how it ended without failing the
 * test: 0 if it exited 0, else 1 (with a message).  For checks that may
 * crash or abort (sanitizers) while the other checks should still run;
 * the caller fails the test at the end if any returned 1. */
static inline int tu_try(const char *what, void (*fn)(void *), void *arg) {
  pid_t pid = tu_fork(what, fn, arg);
  int st = tu_wait_status(pid);
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return 0;
  if (WIFSIGNALED(st))
    fprintf(stderr, "FAIL: %s: killed by signal %d (%s)\n", what, WTERMSIG(st),
            strsignal(WTERMSIG(st)));
  else
    fprintf(stderr, "FAIL: %s: exit status %d\n", what, WEXITSTATUS(st));
  return 1;
}

/* Without blocking: fails the test if a child has exited with an error.
 * Returns 1 if some child ended (successfully) since the last call. */
static inline int tu_kids_poll(void) {
  int any = 0;
  for (int i = 0; i < tu_g.nkids; i++) {
    if (tu_g.kids[i] <= 0) continue;
    int st;
    pid_t r = waitpid(tu_g.kids[i], &st, WNOHANG);
    if (r == tu_g.kids[i]) {
      tu_kid_status(r, st);
      any = 1;
    }
  }
  return any;
}

/* A one-way "ready" signal between processes: a pipe. */
typedef struct tu_gate {
  int fd[2];
} tu_gate;

static inline void tu_gate_init(tu_gate *g) { CHECK(pipe(g->fd) == 0); }

static inline void tu_gate_post(tu_gate *g) {
  char c = 1;
  ssize_t n;
  while ((n = write(g->fd[1], &c, 1)) < 0 && errno == EINTR) {}
  CHECK(n == 1);
}

/* Waits for N posts; fails if a child dies first. */
static inline void tu_gate_wait(tu_gate *g, int n) {
  while (n > 0) {
    struct pollfd pf = {.fd = g->fd[0], .events = POLLIN};
    int r = poll(&pf, 1, 50);
    if (r > 0) {
      char c;
      ssize_t k = read(g->fd[0], &c, 1);
      if (k == 1) n--;
    }
    tu_kids_poll();
  }
}

static inline void tu_gate_close(tu_gate *g) {
  close(g->fd[0]);
  close(g->fd[1]);
}

/* Shared anonymous memory, inherited by children. */
static inline void *tu_shared(size_t n) {
  void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  CHECK(p != MAP_FAILED);
  memset(p, 0, n);
  return p;
}

#endif
