/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill_bench peer: iceoryx 2 through its C binding, true zero copy: the
 * publisher loans a chunk, writes the message into it and publishes it; the
 * subscriber takes the chunk, checks the message in place and releases it.
 *
 *   iceoryx  throughput: topic "data", side 0 publishes, side 1 subscribes
 *            round trips: topics "ping" (side 0 -> 1) and "pong" (1 -> 0),
 *            each subscriber busy-polls iox_sub_take_chunk()
 *
 * The publisher waits for a slow subscriber (ConsumerTooSlowPolicy_WAIT_FOR_
 * CONSUMER, with the subscriber's QueueFullPolicy_BLOCK_PRODUCER): like a
 * reliable rill consumer, nothing is dropped by design.  The subscriber
 * queue holds BENCH_IOX_QUEUE chunks, iceoryx's maximum.  Messages that
 * still come wrong or go missing are counted by the sequence check.
 *
 * iceoryx needs its daemon, RouDi.  setup() (in the parent) writes a config
 * into the run's private directory (one mempool of the run's message size,
 * BENCH_IOX_CHUNKS chunks), starts iox-roudi with it, its output going to a
 * log file beside it, and waits until RouDi says "RouDi is ready for
 * clients" (10 s at most; a RouDi that exits first fails the run with its
 * last log line).  teardown() stops it: SIGTERM, then SIGKILL if it has not
 * exited after 5 s, and waitpid.  RouDi also gets SIGTERM if rill_bench
 * dies (PR_SET_PDEATHSIG).  Each child registers with RouDi in open()
 * (iox_runtime_init, once per process: the children are fresh forks) and
 * unregisters in close().  RouDi's own files are iceoryx's fixed ones
 * (/dev/shm/iceoryx_mgmt, /dev/shm/<user>, /tmp/roudi*), so only one run of
 * iceoryx rows can be under way on a machine at a time.
 */
#include "peers.h"

#ifdef RILL_HAVE_ICEORYX

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "iceoryx_binding_c/chunk.h"
#include "iceoryx_binding_c/enums.h"
#include "iceoryx_binding_c/log.h"
#include "iceoryx_binding_c/publisher.h"
#include "iceoryx_binding_c/runtime.h"
#include "iceoryx_binding_c/subscriber.h"
#include "iceoryx_binding_c/types.h"

#ifndef RILL_IOX_ROUDI
#define RILL_IOX_ROUDI "iox-roudi"
#endif

/* Chunks one topic can have out at once: the subscriber's queue, the chunk
 * it holds, and what the publisher may loan at a time (iceoryx's
 * IOX_MAX_CHUNKS_ALLOCATED_PER_PUBLISHER_SIMULTANEOUSLY is 8). */
#define BENCH_IOX_QUEUE 256u  /* MAX_SUBSCRIBER_QUEUE_CAPACITY of iceoryx 2.0 */
#define BENCH_IOX_CHUNKS 1024u /* >= 2 topics x (256 + 1 + 8)               */
#define BENCH_IOX_READY "RouDi is ready for clients"
#define BENCH_IOX_START_NS 10000000000ull /* RouDi must be ready within 10 s */
#define BENCH_IOX_STOP_NS 5000000000ull   /* SIGKILL after 5 s               */
#define BENCH_IOX_CONNECT_NS 10000000000ull

/* ---- RouDi, in the parent ---------------------------------------------------- */

static pid_t g_roudi;          /* the running RouDi, 0 if none */

static void file_path(const bench_test *t, const char *name, char *buf,
                      size_t len) {
  snprintf(buf, len, "%s/%s", t->dir, name);
}

/* The runtime name of side SIDE of run T.  The runtime keeps a UNIX socket
 * and a lock file of that name in /tmp, and leaves them behind. */
static void runtime_name(const bench_test *t, int side, char *buf,
                         size_t len) {
  snprintf(buf, len, "rill-bench-%s-%d", t->region, side);
}

static void runtime_files_unlink(const char *name) {
  char path[160];
  snprintf(path, sizeof path, "/tmp/%.100s", name);
  unlink(path);
  snprintf(path, sizeof path, "/tmp/%.100s.lock", name);
  unlink(path);
}

static void nap_ms(long ms) {
  struct timespec ts = bench_timespec((uint64_t)ms * 1000000ull);
  nanosleep(&ts, NULL);
}

/* Copies LINE without its terminal colour codes (ESC [ ... m). */
static void strip_colours(char *dst, size_t len, const char *line) {
  size_t k = 0;
  for (const char *c = line; *c && k + 1 < len; c++) {
    if (*c == '\033') {
      while (*c && *c != 'm') c++;
      if (!*c) break;
      continue;
    }
    if (*c != '\r' && *c != '\n') dst[k++] = *c;
  }
  dst[k] = 0;
}

/* Reads RouDi's log; returns 1 if RouDi said it is ready.  WHY gets its
 * first fatal or error line, else its last line. */
static int roudi_log_ready(const char *log, char *why, size_t whylen) {
  FILE *f = fopen(log, "r");
  if (!f) return 0;
  char raw[512], line[512];
  int ready = 0, have_err = 0;
  while (fgets(raw, sizeof raw, f)) {
    strip_colours(line, sizeof line, raw);
    if (strstr(line, BENCH_IOX_READY)) ready = 1;
    if (!why || !line[0] || have_err) continue;
    snprintf(why, whylen, "%.200s", line);
    have_err = strstr(line, "Fatal") || strstr(line, "Error");
  }
  fclose(f);
  return ready;
}

/* What RouDi leaves behind when it does not exit cleanly: its shared memory
 * (management, and the payload segment named after the user) and its
 * socket and lock files.  A RouDi started later would remove them too. */
static void roudi_files_unlink(void) {
  struct passwd *pw = getpwuid(geteuid());
  char path[300];
  unlink("/dev/shm/iceoryx_mgmt");
  if (pw && pw->pw_name) {
    snprintf(path, sizeof path, "/dev/shm/%.200s", pw->pw_name);
    unlink(path);
  }
  unlink("/tmp/roudi");
  unlink("/tmp/roudi.lock");
  unlink("/tmp/iox-unique-roudi.lock");
}

/* SIGTERM, then SIGKILL after BENCH_IOX_STOP_NS.  iceoryx 2.0's RouDi, on
 * SIGTERM, signals every process still registered with it, and aborts when
 * one is gone already: our children end with _exit(), and the C binding
 * has no call that unregisters (the runtime does it in a C++ destructor at
 * exit()).  So it usually ends by SIGABRT (no core: RLIMIT_CORE is 0), and
 * its files are removed here. */
static void roudi_stop(void) {
  if (g_roudi <= 0) return;
  int st = 0;
  kill(g_roudi, SIGTERM);
  uint64_t deadline = bench_now_ns() + BENCH_IOX_STOP_NS;
  while (waitpid(g_roudi, &st, WNOHANG) == 0) {
    if (bench_now_ns() > deadline) {
      kill(g_roudi, SIGKILL);
      waitpid(g_roudi, &st, 0);
      break;
    }
    nap_ms(1);
  }
  g_roudi = 0;
  if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) roudi_files_unlink();
}

static int iox_setup(bench_test *t, char *err, size_t errlen) {
  static unsigned counter;
  char cfg[400], log[400], last[300] = "";
  /* the run's name: the iceoryx service instance of its topics */
  snprintf(t->region, sizeof t->region, "iox-%d-%u", (int)getpid(),
           counter++);
  file_path(t, "roudi.toml", cfg, sizeof cfg);
  file_path(t, "roudi.log", log, sizeof log);
  FILE *f = fopen(cfg, "w");
  if (!f) {
    snprintf(err, errlen, "cannot write %s: %s", cfg, strerror(errno));
    return -1;
  }
  /* mempool "size" is the user payload; iceoryx adds its chunk header */
  fprintf(f,
          "# written by rill_bench for one run (docs/benchmark.md)\n"
          "[general]\nversion = 1\n\n[[segment]]\n\n[[segment.mempool]]\n"
          "size = %zu\ncount = %u\n",
          t->size, BENCH_IOX_CHUNKS);
  if (fclose(f) != 0) {
    snprintf(err, errlen, "cannot write %s: %s", cfg, strerror(errno));
    return -1;
  }
  int lfd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (lfd < 0) {
    snprintf(err, errlen, "cannot write %s: %s", log, strerror(errno));
    return -1;
  }
  fflush(stdout);
  fflush(stderr);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL); /* the parent blocks SIGCHLD */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(126);
    struct rlimit nocore = {0, 0};
    setrlimit(RLIMIT_CORE, &nocore); /* see roudi_stop() */
    int nul = open("/dev/null", O_RDONLY);
    if (nul >= 0) dup2(nul, 0);
    dup2(lfd, 1);
    dup2(lfd, 2);
    execlp(RILL_IOX_ROUDI, "iox-roudi", "-c", cfg, (char *)NULL);
    dprintf(2, "cannot run %s: %s\n", RILL_IOX_ROUDI, strerror(errno));
    _exit(127);
  }
  close(lfd);
  if (pid < 0) {
    snprintf(err, errlen, "fork: %s", strerror(errno));
    return -1;
  }
  g_roudi = pid;
  /* wait for its ready line: polled, bounded */
  uint64_t deadline = bench_now_ns() + BENCH_IOX_START_NS;
  for (;;) {
    if (roudi_log_ready(log, NULL, 0)) {
      /* RouDi has read its config, and its log is no longer needed: a run
       * stopped by a signal leaves neither behind */
      unlink(cfg);
      unlink(log);
      return 0;
    }
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid) {
      g_roudi = 0;
      roudi_log_ready(log, last, sizeof last);
      snprintf(err, errlen, "iox-roudi exited (status 0x%x) before it was "
               "ready (another RouDi running?): %s", (unsigned)st,
               last[0] ? last : "no output");
      return -1;
    }
    if (bench_now_ns() > deadline) {
      roudi_log_ready(log, last, sizeof last);
      snprintf(err, errlen, "iox-roudi not ready after %llu s: %s",
               (unsigned long long)(BENCH_IOX_START_NS / 1000000000ull),
               last[0] ? last : "no output");
      return -1; /* teardown stops it */
    }
    nap_ms(1);
  }
}

static void iox_teardown(bench_test *t) {
  roudi_stop();
  char path[400];
  file_path(t, "roudi.toml", path, sizeof path);
  unlink(path);
  file_path(t, "roudi.log", path, sizeof path);
  unlink(path);
  for (int side = 0; side < 2 && t->region[0]; side++) {
    runtime_name(t, side, path, sizeof path); /* a side that was killed */
    runtime_files_unlink(path);
  }
  t->region[0] = 0;
}

/* ---- the two sides ------------------------------------------------------------ */

typedef struct iox_ep {
  iox_pub_storage_t pub_mem;
  iox_sub_storage_t sub_mem;
  iox_pub_t pub;
  iox_sub_t sub;
  int runtime;
  char name[100];      /* the runtime's name */
  unsigned char *tmpl; /* the constant middle words, copied into each chunk */
} iox_ep;

static void iox_close(void *vep) {
  iox_ep *e = vep;
  if (!e) return;
  if (e->sub) iox_sub_deinit(e->sub);
  if (e->pub) iox_pub_deinit(e->pub);
  if (e->runtime) {
    iox_runtime_shutdown();
    runtime_files_unlink(e->name);
  }
  bench_free(e->tmpl);
  free(e);
}

/* Waits until the publisher has its subscriber and the subscriber is
 * subscribed: RouDi connects them a little after both exist. */
static int iox_wait_connected(iox_ep *e) {
  uint64_t deadline = bench_now_ns() + BENCH_IOX_CONNECT_NS;
  for (;;) {
    int ok = (!e->pub || iox_pub_has_subscribers(e->pub)) &&
             (!e->sub || iox_sub_get_subscription_state(e->sub) ==
                             SubscribeState_SUBSCRIBED);
    if (ok) return 0;
    if (atomic_load_explicit(bench_abort_flag, memory_order_relaxed))
      return bench_fail("stopped: the other side failed");
    if (bench_now_ns() > deadline)
      return bench_fail("iceoryx: publisher and subscriber not connected "
                        "after %llu s",
                        (unsigned long long)(BENCH_IOX_CONNECT_NS /
                                             1000000000ull));
    nap_ms(1);
  }
}

static int iox_open(bench_test *t, int side, void **out) {
  iox_ep *e = calloc(1, sizeof *e);
  if (!e) return bench_fail("out of memory");
  e->tmpl = bench_alloc(BENCH_MAX_SIZE);
  if (!e->tmpl) {
    iox_close(e);
    return -1;
  }
  bench_msg_template(e->tmpl, t->size);
  runtime_name(t, side, e->name, sizeof e->name);
  iox_set_loglevel(Iceoryx_LogLevel_Warn); /* not a line per registration */
  iox_runtime_init(e->name); /* registers with RouDi; aborts if it cannot */
  e->runtime = 1;

  const char *in, *outt; /* topic this side takes / publishes */
  if (t->kind != BENCH_RTT) {
    in = side == 1 ? "data" : NULL;
    outt = side == 0 ? "data" : NULL;
  } else {
    in = side == 0 ? "pong" : "ping";
    outt = side == 0 ? "ping" : "pong";
  }
  if (in) {
    iox_sub_options_t so;
    iox_sub_options_init(&so);
    so.queueCapacity = BENCH_IOX_QUEUE;
    so.historyRequest = 0;
    so.queueFullPolicy = QueueFullPolicy_BLOCK_PRODUCER;
    so.subscribeOnCreate = true;
    e->sub = iox_sub_init(&e->sub_mem, "rill-bench", t->region, in, &so);
  }
  if (outt) {
    iox_pub_options_t po;
    iox_pub_options_init(&po);
    po.historyCapacity = 0;
    po.offerOnCreate = true;
    po.subscriberTooSlowPolicy = ConsumerTooSlowPolicy_WAIT_FOR_CONSUMER;
    e->pub = iox_pub_init(&e->pub_mem, "rill-bench", t->region, outt, &po);
  }
  if ((in && !e->sub) || (outt && !e->pub)) {
    iox_close(e);
    return bench_fail("iceoryx: cannot make the %s", e->sub || !in
                                                         ? "publisher"
                                                         : "subscriber");
  }
  if (iox_wait_connected(e)) {
    iox_close(e);
    return -1;
  }
  *out = e;
  return 0;
}

static const char *alloc_name(enum iox_AllocationResult r) {
  switch (r) {
  case AllocationResult_NO_MEMPOOLS_AVAILABLE: return "no mempool fits";
  case AllocationResult_RUNNING_OUT_OF_CHUNKS: return "out of chunks";
  case AllocationResult_TOO_MANY_CHUNKS_ALLOCATED_IN_PARALLEL:
    return "too many chunks loaned";
  case AllocationResult_INVALID_CHUNK: return "invalid chunk";
  default: return "error";
  }
}

/* Loans a chunk, writes message SEQ into it (every byte), publishes it. */
static inline int iox_send1(void *vep, size_t n, uint64_t seq) {
  iox_ep *e = vep;
  void *p;
  enum iox_AllocationResult r = iox_pub_loan_chunk(e->pub, &p, (uint32_t)n);
  if (r != AllocationResult_SUCCESS) {
    bench_spin sp = BENCH_SPIN_INIT;
    while (r == AllocationResult_RUNNING_OUT_OF_CHUNKS) {
      if (bench_spin_step(&sp)) return -1;
      r = iox_pub_loan_chunk(e->pub, &p, (uint32_t)n);
    }
    if (r != AllocationResult_SUCCESS)
      return bench_fail("iox_pub_loan_chunk(%zu bytes): %s", n, alloc_name(r));
  }
  memcpy(p, e->tmpl, n);
  bench_msg_stamp(p, n, seq);
  iox_pub_publish_chunk(e->pub, p);
  return 0;
}

/* Busy-polls for the next chunk, checks it in place, releases it.  (The C
 * binding does not give the chunk's payload size; the check reads the N
 * bytes the message should have.) */
static inline int iox_recv1(void *vep, size_t n, uint64_t *expect,
                            uint64_t midsum, uint64_t *errs) {
  iox_ep *e = vep;
  const void *p;
  enum iox_ChunkReceiveResult r = iox_sub_take_chunk(e->sub, &p);
  if (r != ChunkReceiveResult_SUCCESS) {
    bench_spin sp = BENCH_SPIN_INIT;
    while (r == ChunkReceiveResult_NO_CHUNK_AVAILABLE) {
      if (bench_spin_step(&sp)) return -1;
      r = iox_sub_take_chunk(e->sub, &p);
    }
    if (r != ChunkReceiveResult_SUCCESS)
      return bench_fail("iox_sub_take_chunk: %s",
                        r == ChunkReceiveResult_TOO_MANY_CHUNKS_HELD_IN_PARALLEL
                            ? "too many chunks held"
                            : "error");
  }
  *errs += bench_msg_verify(p, n, expect, midsum);
  iox_sub_release_chunk(e->sub, p);
  return 0;
}

BENCH_PEER_OPS(iox, iox_send1, iox_recv1)

const bench_transport bench_iceoryx = {
    .name = "iceoryx",
    .kinds = BENCH_TPUT | BENCH_RTT,
    .blocking = 0, /* shared memory: its warm-up touches every chunk */
    .peer = 1,
    .setup = iox_setup,
    .teardown = iox_teardown,
    .open = iox_open,
    .close = iox_close,
    .send = iox_send,
    .recv = iox_recv,
    .ping = iox_ping,
    .pong = iox_pong,
};

#else
typedef int bench_iceoryx_left_out; /* ISO C wants something in a file */
#endif
