/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill_xpeer: the C side of the cross-language tests (tests/vectors/README.md).
 *
 * Commands (exit 0: success; 1: failure, with a one-line reason on stderr;
 * 2: usage error):
 *
 *   rill_xpeer vector write FILE DIR   run the lines of FILE before "check"
 *   rill_xpeer vector check FILE DIR   run the lines after "check"
 *   rill_xpeer create DIR REGION CHAN DEPTH MTU MAX_CONSUMERS MAX_MSG REGION_SIZE [huge]
 *   rill_xpeer produce DIR REGION CHAN COUNT SEED [SPIN_NS]
 *   rill_xpeer produce-many DIR REGION CHAN COUNT SEED BATCH
 *   rill_xpeer consume DIR REGION CHAN COUNT SEED reliable|lossy [SPIN_NS] [slow] [late]
 *   rill_xpeer echo DIR REGION IN OUT COUNT SPIN_NS
 *   rill_xpeer ping DIR REGION OUT IN COUNT SPIN_NS SIZE
 *   rill_xpeer rpc-serve DIR REGION SERVICE WORKERS   (until stdin closes)
 *   rill_xpeer rpc-call DIR REGION SERVICE COUNT
 *
 * Numbers are decimal.  The waits of produce, consume, echo and ping time
 * out after 10 s (a timeout is a failure).  produce-many sends the stream
 * of produce with rill_send_many(), in batches of 1 to BATCH messages (the
 * k-th batch has 1 + k % BATCH), retrying a batch refused for credit for
 * up to 10 s.
 *
 * Message streams (produce, consume, ping), shared with the Go binding.
 * All arithmetic is on uint64 and wraps:
 *
 *   mix(x): x += 0x9e3779b97f4a7c15; x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9;
 *           x = (x ^ (x >> 27)) * 0x94d049bb133111eb; return x ^ (x >> 31)
 *   h_i    = mix(SEED * 0x100000001b3 + i)            (i = 0, 1, ... message index)
 *   class  = h_i & 15;  r = h_i >> 8
 *   size_i = class < 12 ? r % 129 : class < 15 ? r % (mtu + 1) : r % (max_msg + 1)
 *   sig_i  = i
 *   payload byte j of message i = (uint8_t)((h_i >> (8 * (j & 7))) + (j >> 3))
 *
 * mtu and max_msg are the channel's (rill_channel_stats_get).  ping sends
 * message i of SEED 1 cut (or extended by the same formula) to exactly SIZE
 * bytes.
 *
 * The vector files (tests/vectors/basic.vec) describe their own format in
 * their header comment.  Payload of a message with sig S: byte j is
 * (uint8_t)(S * 31 + j).  A descriptor carries bytes [OFFSET, OFFSET + SIZE)
 * of its message: a commit with SOM in its ctl starts at 0, the next commits
 * on the channel go on where the one before ended, until one with EOM.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rill_rpc.h"

/* printf-style checks: on Windows the peer is built with
 * __USE_MINGW_ANSI_STDIO (cmake/windows-tests.cmake), whose printf takes
 * C99's %zu, checked as gnu_printf. */
#ifdef __MINGW_PRINTF_FORMAT
#define XPEER_PRINTF(f, a) __attribute__((format(__MINGW_PRINTF_FORMAT, f, a)))
#else
#define XPEER_PRINTF(f, a) __attribute__((format(printf, f, a)))
#endif

#define SEC 1000000000ull
#define WAIT_NS (10 * SEC)       /* every wait of the stream commands */
#define VEC_WAIT_NS (5 * SEC)    /* "wait" lines of a vector */
#define VEC_BUF 65536u           /* receive buffer of "recv" and "wait" lines */
#define MAX_SLOTS 256u

/* ---- failing -------------------------------------------------------------- */

/* Prints one line on stderr and exits 1. */
__attribute__((noreturn)) XPEER_PRINTF(1, 2)
static void die(const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  fflush(stdout);
  fprintf(stderr, "%s\n", msg);
  fflush(stderr);
  exit(1);
}

static void usage_all(void) {
  fprintf(stderr,
          "usage: rill_xpeer vector write|check FILE DIR\n"
          "       rill_xpeer create DIR REGION CHAN DEPTH MTU MAX_CONSUMERS MAX_MSG REGION_SIZE\n"
          "       rill_xpeer produce DIR REGION CHAN COUNT SEED [SPIN_NS]\n"
          "       rill_xpeer produce-many DIR REGION CHAN COUNT SEED BATCH\n"
          "       rill_xpeer consume DIR REGION CHAN COUNT SEED reliable|lossy [SPIN_NS] [slow] [late]\n"
          "       rill_xpeer echo DIR REGION IN OUT COUNT SPIN_NS\n"
          "       rill_xpeer ping DIR REGION OUT IN COUNT SPIN_NS SIZE\n"
          "       rill_xpeer rpc-serve DIR REGION SERVICE WORKERS\n"
          "       rill_xpeer rpc-call DIR REGION SERVICE COUNT\n");
}

__attribute__((noreturn))
static void usage(const char *line) {
  if (line) fprintf(stderr, "usage: rill_xpeer %s\n", line);
  else usage_all();
  exit(2);
}

/* Short names of the error codes, as the vector files spell them. */
static const char *code_name(int64_t rc) {
  static const char *names[] = {
    [RILL_OK] = "ok",           [RILL_EAGAIN] = "again",
    [RILL_EOVERRUN] = "overrun", [RILL_EINVAL] = "inval",
    [RILL_ENOMEM] = "nomem",    [RILL_ENOENT] = "noent",
    [RILL_EEXIST] = "exist",    [RILL_EACCES] = "acces",
    [RILL_ENODIR] = "nodir",    [RILL_ENOSPC] = "nospc",
    [RILL_EBUSY] = "busy",      [RILL_EFULL] = "full",
    [RILL_EEMPTY] = "empty",    [RILL_ETRUNC] = "trunc",
    [RILL_EMAGIC] = "magic",    [RILL_EVERSION] = "version",
    [RILL_ECORRUPT] = "corrupt", [RILL_EMSGSIZE] = "msgsize",
    [RILL_ETIMEDOUT] = "timedout", [RILL_EIO] = "io",
    [RILL_ECLOSED] = "closed",  [RILL_EDEAD] = "dead",
  };
  int64_t k = rc < 0 ? -rc : rc;
  if (k < (int64_t)(sizeof names / sizeof names[0]) && names[k]) return names[k];
  return "unknown error";
}

/* ---- numbers and time ----------------------------------------------------- */

/* Strict decimal; 0 on success. */
static int parse_u64(const char *s, uint64_t *out) {
  if (!s || *s < '0' || *s > '9') return -1;
  errno = 0;
  char *end;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end) return -1;
  *out = (uint64_t)v;
  return 0;
}

static uint64_t arg_u64(const char *s, uint64_t max, const char *use) {
  uint64_t v;
  if (parse_u64(s, &v) || v > max) usage(use);
  return v;
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

/* Busy-waits NS nanoseconds. */
static void spin_for(uint64_t ns) {
  uint64_t end = now_ns() + ns;
  while (now_ns() < end) {}
}

/* ---- message streams (see the top of the file) ----------------------------- */

static uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

static uint64_t stream_hash(uint64_t seed, uint64_t i) {
  return mix(seed * 0x100000001b3ull + i);
}

static uint64_t stream_size(uint64_t h, uint64_t mtu, uint64_t max_msg) {
  uint64_t cls = h & 15, r = h >> 8;
  if (cls < 12) return r % 129;
  if (cls < 15) return r % (mtu + 1);
  return r % (max_msg + 1);
}

static uint8_t stream_byte(uint64_t h, uint64_t j) {
  return (uint8_t)((h >> (8 * (j & 7))) + (j >> 3));
}

static void stream_fill(uint8_t *p, uint64_t n, uint64_t h) {
  for (uint64_t j = 0; j < n; j++) p[j] = stream_byte(h, j);
}

/* Index of the first byte of P that is wrong, or -1. */
static int64_t stream_bad(const uint8_t *p, uint64_t n, uint64_t h) {
  for (uint64_t j = 0; j < n; j++)
    if (p[j] != stream_byte(h, j)) return (int64_t)j;
  return -1;
}

/* ---- endpoints of the stream commands ------------------------------------------
 * Kept in globals: a failure exits with them still reachable. */

static struct {
  const char *cmd;
  rill_region *r;
  rill_producer *p;
  rill_consumer *c;
  uint8_t *buf, *buf2;
  uint64_t *rtt;
  rill_channel_stats st;
} S;

static void s_open(const char *dir, const char *region) {
  rill_region_opts o = {.dir = dir};
  int rc = rill_region_open(region, &o, &S.r);
  if (rc) die("rill_xpeer %s: open region %s in %s: %s", S.cmd, region, dir, rill_strerror(rc));
}

/* The channel's stats (mtu, max_msg, nconsumers) into S.st. */
static void s_stats(const char *chan) {
  int rc = rill_channel_stats_get(S.r, chan, &S.st);
  if (rc) die("rill_xpeer %s: stats of channel %s: %s", S.cmd, chan, rill_strerror(rc));
}

static rill_producer *s_producer(const char *chan) {
  rill_producer *p;
  int rc = rill_producer_join(S.r, chan, &p);
  if (rc) die("rill_xpeer %s: join %s as producer: %s", S.cmd, chan, rill_strerror(rc));
  return p;
}

static rill_consumer *s_consumer(const char *chan, int mode) {
  rill_consumer *c;
  int rc = rill_consumer_join(S.r, chan, mode, &c);
  if (rc) die("rill_xpeer %s: join %s as consumer: %s", S.cmd, chan, rill_strerror(rc));
  return c;
}

static void s_ready(void) {
  printf("ready\n");
  fflush(stdout);
}

static uint8_t *s_alloc(uint64_t n) {
  uint8_t *b = malloc(n ? n : 1);
  if (!b) die("rill_xpeer %s: out of memory (%" PRIu64 " bytes)", S.cmd, n);
  return b;
}

/* ---- create ------------------------------------------------------------------ */

static int cmd_create(int argc, char **argv) {
  static const char *use =
      "create DIR REGION CHAN DEPTH MTU MAX_CONSUMERS MAX_MSG REGION_SIZE [huge]";
  if (argc != 10 && !(argc == 11 && !strcmp(argv[10], "huge"))) usage(use);
  const char *dir = argv[2], *region = argv[3], *chan = argv[4];
  rill_channel_opts co = {
    .depth = (uint32_t)arg_u64(argv[5], UINT32_MAX, use),
    .mtu = (uint32_t)arg_u64(argv[6], UINT32_MAX, use),
    .max_consumers = (uint32_t)arg_u64(argv[7], UINT32_MAX, use),
    .max_msg = arg_u64(argv[8], UINT64_MAX, use),
  };
  rill_region_opts o = {.size = arg_u64(argv[9], UINT64_MAX, use), .dir = dir,
                        .flags = argc == 11 ? RILL_REGION_HUGE : 0}; /* huge: RILL_REGION_HUGE */
  int rc = rill_region_create(region, &o, &S.r);
  if (rc == -RILL_EEXIST) rc = rill_region_open(region, &o, &S.r);
  if (rc) die("rill_xpeer create: region %s in %s: %s", region, dir, rill_strerror(rc));
  rc = rill_channel_create(S.r, chan, &co);
  if (rc) die("rill_xpeer create: channel %s: %s", chan, rill_strerror(rc));
  rill_region_close(S.r);
  return 0;
}

/* ---- produce ----------------------------------------------------------------- */

static int cmd_produce(int argc, char **argv) {
  static const char *use = "produce DIR REGION CHAN COUNT SEED [SPIN_NS]";
  if (argc != 7 && argc != 8) usage(use);
  const char *chan = argv[4];
  uint64_t count = arg_u64(argv[5], UINT64_MAX, use);
  uint64_t seed = arg_u64(argv[6], UINT64_MAX, use);
  s_open(argv[2], argv[3]);
  s_stats(chan);
  uint64_t mtu = S.st.mtu, max_msg = S.st.max_msg;
  S.p = s_producer(chan);
  if (argc == 8) rill_producer_set_spin(S.p, arg_u64(argv[7], UINT64_MAX, use));
  S.buf = s_alloc(max_msg);
  for (uint64_t i = 0; i < count; i++) {
    uint64_t h = stream_hash(seed, i), n = stream_size(h, mtu, max_msg);
    stream_fill(S.buf, n, h);
    int rc = rill_send_wait(S.p, S.buf, (size_t)n, i, WAIT_NS);
    if (rc)
      die("rill_xpeer produce: message %" PRIu64 " (%" PRIu64 " bytes): %s", i, n,
          rill_strerror(rc));
  }
  rill_producer_leave(S.p);
  free(S.buf);
  rill_region_close(S.r);
  return 0;
}

/* ---- produce-many ------------------------------------------------------------ */

static int cmd_produce_many(int argc, char **argv) {
  static const char *use = "produce-many DIR REGION CHAN COUNT SEED BATCH";
  if (argc != 8) usage(use);
  const char *chan = argv[4];
  uint64_t count = arg_u64(argv[5], UINT64_MAX, use);
  uint64_t seed = arg_u64(argv[6], UINT64_MAX, use);
  uint64_t batch = arg_u64(argv[7], 1024, use);
  if (!batch) usage(use);
  s_open(argv[2], argv[3]);
  s_stats(chan);
  uint64_t mtu = S.st.mtu, max_msg = S.st.max_msg;
  S.p = s_producer(chan);
  S.buf = s_alloc(batch * max_msg);
  rill_msg m[1024];
  for (uint64_t i = 0, k = 0; i < count; k++) {
    size_t n = 0;
    for (; n < 1 + k % batch && i < count; n++, i++) {
      uint64_t h = stream_hash(seed, i);
      uint8_t *b = S.buf + n * max_msg;
      m[n] = (rill_msg){.data = b, .sz = (size_t)stream_size(h, mtu, max_msg), .sig = i};
      stream_fill(b, m[n].sz, h);
    }
    /* No waiting form of rill_send_many(): retry (spinning) until the
     * consumers free the credit for the whole batch. */
    uint64_t deadline = now_ns() + WAIT_NS;
    int rc;
    while ((rc = rill_send_many(S.p, m, n)) == -RILL_EAGAIN && now_ns() < deadline) {}
    if (rc)
      die("rill_xpeer produce-many: batch of %zu from message %" PRIu64 ": %s", n, m[0].sig,
          rill_strerror(rc));
  }
  rill_producer_leave(S.p);
  free(S.buf);
  rill_region_close(S.r);
  return 0;
}

/* ---- consume ----------------------------------------------------------------- */

static int cmd_consume(int argc, char **argv) {
  static const char *use =
      "consume DIR REGION CHAN COUNT SEED reliable|lossy [SPIN_NS] [slow] [late]";
  if (argc < 8 || argc > 11) usage(use);
  const char *chan = argv[4];
  uint64_t count = arg_u64(argv[5], UINT64_MAX, use);
  uint64_t seed = arg_u64(argv[6], UINT64_MAX, use);
  int mode;
  if (!strcmp(argv[7], "reliable")) mode = RILL_RELIABLE;
  else if (!strcmp(argv[7], "lossy")) mode = RILL_LOSSY;
  else usage(use);
  int slow = 0, late = 0, have_spin = 0;
  uint64_t spin = 0;
  for (int k = 8; k < argc; k++) {
    if (!strcmp(argv[k], "slow") && !slow) slow = 1;
    else if (!strcmp(argv[k], "late") && !late) late = 1;
    else if (!have_spin && parse_u64(argv[k], &spin) == 0) have_spin = 1;
    else usage(use);
  }
  s_open(argv[2], argv[3]);
  s_stats(chan);
  uint64_t mtu = S.st.mtu, max_msg = S.st.max_msg;
  S.c = s_consumer(chan, mode);
  if (have_spin) rill_consumer_set_spin(S.c, spin);
  S.buf = s_alloc(max_msg);
  s_ready();
  if (late) { /* start reading only when told: a lossy one is lapped for sure */
    char go[16];
    if (!fgets(go, sizeof go, stdin)) die("rill_xpeer consume: no line on stdin");
  }

  uint64_t received = 0, lost = 0, last = 0;
  for (uint64_t i = 0;; i++) {
    rill_meta m;
    int64_t n = rill_recv_wait(S.c, S.buf, (size_t)max_msg, &m, WAIT_NS);
    if (mode == RILL_RELIABLE && i == count) {
      if (n != -RILL_ECLOSED)
        die("rill_xpeer consume: after message %" PRIu64 ": expected closed, got %s",
            count ? count - 1 : 0, n >= 0 ? "a message" : rill_strerror((int)n));
      break;
    }
    if (n == -RILL_ECLOSED && mode == RILL_LOSSY) break;
    if (n < 0)
      die("rill_xpeer consume: after %" PRIu64 " messages: %s", received,
          rill_strerror((int)n));
    uint64_t sig = m.sig;
    if (mode == RILL_RELIABLE) {
      if (sig != i) die("rill_xpeer consume: message %" PRIu64 ": got sig %" PRIu64, i, sig);
      if (m.lost)
        die("rill_xpeer consume: message %" PRIu64 ": lost %" PRIu64 " before it", i, m.lost);
    } else {
      if (sig >= count)
        die("rill_xpeer consume: got sig %" PRIu64 ", beyond the %" PRIu64 " messages sent",
            sig, count);
      if (received && sig <= last)
        die("rill_xpeer consume: got sig %" PRIu64 " after sig %" PRIu64, sig, last);
    }
    uint64_t h = stream_hash(seed, sig), want = stream_size(h, mtu, max_msg);
    if ((uint64_t)n != want || m.sz != want)
      die("rill_xpeer consume: message %" PRIu64 ": got %" PRId64 " bytes, want %" PRIu64,
          sig, n, want);
    uint16_t ctl = want <= mtu ? RILL_CTL_MSG : RILL_CTL_EOM;
    if (m.ctl != ctl)
      die("rill_xpeer consume: message %" PRIu64 ": got ctl %u, want %u", sig,
          (unsigned)m.ctl, (unsigned)ctl);
    int64_t bad = stream_bad(S.buf, want, h);
    if (bad >= 0)
      die("rill_xpeer consume: message %" PRIu64 " byte %" PRId64 ": got 0x%02x, want 0x%02x",
          sig, bad, S.buf[bad], stream_byte(h, (uint64_t)bad));
    received++;
    lost += m.lost;
    last = sig;
    if (slow) spin_for(2000);
  }
  if (mode == RILL_LOSSY) {
    /* Nothing overwrites the last message once the producer left. */
    if (count && (!received || last != count - 1))
      die("rill_xpeer consume: the last message (sig %" PRIu64 ") was not received",
          count - 1);
    printf("ok %" PRIu64 " %" PRIu64 "\n", received, lost);
    fflush(stdout);
  }
  rill_consumer_leave(S.c);
  free(S.buf);
  rill_region_close(S.r);
  return 0;
}

/* ---- request/response (docs/rpc.md) --------------------------------------------
 * Methods of the test service, the same in the Go peer: 1 echo, 2 the sum of
 * the request's bytes (u64), 3 fails with status 42; others fail with
 * -RILL_ENOMETHOD. */

static int rpc_handler(void *arg, uint16_t method, const void *req, size_t n, void *resp,
                       size_t cap, size_t *resp_n) {
  (void)arg;
  if (method == 1) {
    if (n > cap) return -RILL_EMSGSIZE;
    if (n) memcpy(resp, req, n);
    *resp_n = n;
    return 0;
  }
  if (method == 2) {
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++) sum += ((const uint8_t *)req)[i];
    memcpy(resp, &sum, sizeof sum);
    *resp_n = sizeof sum;
    return 0;
  }
  return method == 3 ? 42 : -RILL_ENOMETHOD;
}

static int cmd_rpc_serve(int argc, char **argv) {
  static const char *use = "rpc-serve DIR REGION SERVICE WORKERS";
  if (argc != 6) usage(use);
  s_open(argv[2], argv[3]);
  rill_rpc_server *srv;
  int rc = rill_rpc_serve(S.r, argv[4], (uint32_t)arg_u64(argv[5], 1024, use), rpc_handler,
                          NULL, &srv);
  if (rc) die("rill_xpeer rpc-serve: %s", rill_strerror(rc));
  s_ready();
  char line[64];
  while (fgets(line, sizeof line, stdin)) {} /* serves until stdin closes */
  rill_rpc_server_stop(srv);
  rill_region_close(S.r);
  return 0;
}

/* COUNT echo calls of stream messages (SEED 5, the sizes of the service's
 * request channel), the lane's capacity of them in flight, every id and byte
 * checked; then a sum, a failing and an unknown method. */
static int cmd_rpc_call(int argc, char **argv) {
  static const char *use = "rpc-call DIR REGION SERVICE COUNT";
  if (argc != 6) usage(use);
  uint64_t count = arg_u64(argv[5], UINT64_MAX, use);
  s_open(argv[2], argv[3]);
  char q0[RILL_NAME_MAX + 1];
  snprintf(q0, sizeof q0, "%s.q.0", argv[4]);
  s_stats(q0);
  uint64_t mtu = S.st.mtu, max_msg = S.st.max_msg;
  rill_rpc_client *c;
  int rc = rill_rpc_connect(S.r, argv[4], &c);
  if (rc) die("rill_xpeer rpc-call: connect: %s", rill_strerror(rc));
  /* the server may still be starting: wait for it rather than for a line */
  if ((rc = rill_rpc_wait_server(c, WAIT_NS)))
    die("rill_xpeer rpc-call: no server: %s", rill_strerror(rc));
  uint8_t *req = s_alloc(max_msg), *out = s_alloc(max_msg);
  uint64_t cap = rill_rpc_capacity(c), sent = 0, done = 0, first = 0;
  while (done < count) {
    while (sent < count && sent - done < cap) {
      uint64_t h = stream_hash(5, sent), n = stream_size(h, mtu, max_msg), id;
      stream_fill(req, n, h);
      rc = rill_rpc_send(c, 1, req, (size_t)n, &id);
      if (rc == -RILL_EAGAIN) break;
      if (rc) die("rill_xpeer rpc-call: send %" PRIu64 ": %s", sent, rill_strerror(rc));
      if (!sent) first = id;
      sent++;
    }
    rill_rpc_result res;
    rc = rill_rpc_recv(c, out, (size_t)max_msg, &res, WAIT_NS);
    if (rc) die("rill_xpeer rpc-call: receive %" PRIu64 ": %s", done, rill_strerror(rc));
    uint64_t h = stream_hash(5, done), n = stream_size(h, mtu, max_msg);
    if (res.id != first + done || res.status || res.method != 1 || res.size != n ||
        stream_bad(out, n, h) >= 0)
      die("rill_xpeer rpc-call: call %" PRIu64 ": wrong response (id %+" PRId64
          ", status %d, size %" PRIu64 ")", done, (int64_t)(res.id - first - done),
          res.status, res.size);
    done++;
  }
  rill_rpc_result res;
  rc = rill_rpc_call(c, 2, "\x01\x02\x03", 3, out, (size_t)max_msg, &res, WAIT_NS);
  uint64_t sum = 0;
  memcpy(&sum, out, sizeof sum);
  if (rc || res.status || res.size != 8 || sum != 6) die("rill_xpeer rpc-call: sum is wrong");
  rc = rill_rpc_call(c, 3, "x", 1, out, (size_t)max_msg, &res, WAIT_NS);
  if (rc || res.status != 42) die("rill_xpeer rpc-call: method 3: status %d", res.status);
  rc = rill_rpc_call(c, 999, "x", 1, out, (size_t)max_msg, &res, WAIT_NS);
  if (rc || res.status != -RILL_ENOMETHOD)
    die("rill_xpeer rpc-call: method 999: status %d", res.status);
  printf("ok %" PRIu64 "\n", done);
  free(req);
  free(out);
  rill_rpc_close(c);
  rill_region_close(S.r);
  return 0;
}

/* ---- echo and ping ------------------------------------------------------------ */

static int cmd_echo(int argc, char **argv) {
  static const char *use = "echo DIR REGION IN OUT COUNT SPIN_NS";
  if (argc != 8) usage(use);
  const char *in = argv[4], *out = argv[5];
  uint64_t count = arg_u64(argv[6], UINT64_MAX, use);
  uint64_t spin = arg_u64(argv[7], UINT64_MAX, use);
  s_open(argv[2], argv[3]);
  s_stats(in);
  uint64_t cap = S.st.max_msg;
  S.c = s_consumer(in, RILL_RELIABLE);
  S.p = s_producer(out);
  rill_consumer_set_spin(S.c, spin);
  rill_producer_set_spin(S.p, spin);
  S.buf = s_alloc(cap);
  s_ready();
  for (uint64_t i = 0; i < count; i++) {
    rill_meta m;
    int64_t n = rill_recv_wait(S.c, S.buf, (size_t)cap, &m, WAIT_NS);
    if (n < 0) die("rill_xpeer echo: receive %" PRIu64 ": %s", i, rill_strerror((int)n));
    int rc = rill_send_wait(S.p, S.buf, (size_t)n, m.sig, WAIT_NS);
    if (rc) die("rill_xpeer echo: send %" PRIu64 ": %s", i, rill_strerror(rc));
  }
  rill_consumer_leave(S.c);
  rill_producer_leave(S.p);
  free(S.buf);
  rill_region_close(S.r);
  return 0;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Nearest-rank percentile Q of the N sorted values V. */
static uint64_t percentile(const uint64_t *v, uint64_t n, unsigned q) {
  uint64_t rank = (n * q + 99) / 100;
  return v[rank ? rank - 1 : 0];
}

static int cmd_ping(int argc, char **argv) {
  static const char *use = "ping DIR REGION OUT IN COUNT SPIN_NS SIZE";
  if (argc != 9) usage(use);
  const char *out = argv[4], *in = argv[5];
  uint64_t count = arg_u64(argv[6], UINT64_MAX / 8, use);
  uint64_t spin = arg_u64(argv[7], UINT64_MAX, use);
  uint64_t size = arg_u64(argv[8], UINT64_MAX, use);
  s_open(argv[2], argv[3]);
  s_stats(in);
  uint64_t cap = S.st.max_msg;
  s_stats(out);
  if (size > S.st.max_msg || size > cap)
    die("rill_xpeer ping: SIZE %" PRIu64 " exceeds max_msg (%" PRIu64 " on %s, %" PRIu64
        " on %s)", size, (uint64_t)S.st.max_msg, out, cap, in);
  S.c = s_consumer(in, RILL_RELIABLE);
  S.p = s_producer(out);
  rill_consumer_set_spin(S.c, spin);
  rill_producer_set_spin(S.p, spin);
  S.buf = s_alloc(size);
  S.buf2 = s_alloc(cap);
  S.rtt = (uint64_t *)s_alloc(count * sizeof(uint64_t));
  s_ready();
  /* If we were started first, the echo joins OUT after our "ready": a
   * message sent before it joined would never reach it. */
  for (uint64_t deadline = now_ns() + WAIT_NS;;) {
    s_stats(out);
    if (S.st.nconsumers) break;
    if (now_ns() >= deadline) die("rill_xpeer ping: no consumer joined %s in 10 s", out);
    nanosleep(&(struct timespec){.tv_nsec = 100000}, NULL);
  }
  for (uint64_t i = 0; i < count; i++) {
    uint64_t h = stream_hash(1, i);
    stream_fill(S.buf, size, h);
    uint64_t t0 = now_ns();
    int rc = rill_send_wait(S.p, S.buf, (size_t)size, i, WAIT_NS);
    if (rc) die("rill_xpeer ping: send %" PRIu64 ": %s", i, rill_strerror(rc));
    rill_meta m;
    int64_t n = rill_recv_wait(S.c, S.buf2, (size_t)cap, &m, WAIT_NS);
    uint64_t t1 = now_ns();
    if (n < 0) die("rill_xpeer ping: echo of %" PRIu64 ": %s", i, rill_strerror((int)n));
    if (m.sig != i) die("rill_xpeer ping: echo of %" PRIu64 ": got sig %" PRIu64, i, m.sig);
    if ((uint64_t)n != size)
      die("rill_xpeer ping: echo of %" PRIu64 ": got %" PRId64 " bytes, want %" PRIu64, i,
          n, size);
    int64_t bad = stream_bad(S.buf2, size, h);
    if (bad >= 0)
      die("rill_xpeer ping: echo of %" PRIu64 " byte %" PRId64 ": got 0x%02x, want 0x%02x",
          i, bad, S.buf2[bad], stream_byte(h, (uint64_t)bad));
    S.rtt[i] = t1 - t0;
  }
  uint64_t p50 = 0, p99 = 0;
  if (count) {
    qsort(S.rtt, (size_t)count, sizeof *S.rtt, cmp_u64);
    p50 = percentile(S.rtt, count, 50);
    p99 = percentile(S.rtt, count, 99);
  }
  printf("rtt p50 %" PRIu64 " p99 %" PRIu64 "\n", p50, p99);
  fflush(stdout);
  rill_consumer_leave(S.c);
  rill_producer_leave(S.p);
  free(S.buf);
  free(S.buf2);
  free(S.rtt);
  rill_region_close(S.r);
  return 0;
}

/* ---- vectors: parsing ------------------------------------------------------------ */

enum vkind {
  V_REGION, V_CHANNEL, V_CONSUMER, V_REJOIN, V_PRODUCER, V_COMMIT, V_SEND,
  V_RECV, V_POLL, V_WAIT, V_FLUSH, V_LEAVE, V_STATS, V_SLOT, V_CHECK
};

/* What a line expects. */
enum vexpect { X_OK, X_AGAIN, X_MSGSIZE, X_MSG, X_OVERRUN, X_EMPTY, X_CLOSED, X_DEAD };

/* Keys of "stats" (S) and "slot" (C) lines, and how their values read. */
enum vkey {
  K_SEQ, K_MSGS, K_BYTES, K_BACKPRESSURE, K_CONSUMERS, K_EVICTIONS, K_PRODUCER,
  K_MODE, K_OVERRUN_POLL, K_OVERRUN_READ, K_LOST, K_LIVENESS, K_EVICTED
};
enum { KV_NUM, KV_PEER, KV_MODE };

static const struct vkey_def {
  const char *name;
  int key, in_stats, in_slot, type;
} vkeys[] = {
  {"seq", K_SEQ, 1, 1, KV_NUM},
  {"msgs", K_MSGS, 1, 1, KV_NUM},
  {"bytes", K_BYTES, 1, 1, KV_NUM},
  {"backpressure", K_BACKPRESSURE, 1, 0, KV_NUM},
  {"consumers", K_CONSUMERS, 1, 0, KV_NUM},
  {"evictions", K_EVICTIONS, 1, 0, KV_NUM},
  {"producer", K_PRODUCER, 1, 0, KV_PEER},
  {"mode", K_MODE, 0, 1, KV_MODE},
  {"overrun_poll", K_OVERRUN_POLL, 0, 1, KV_NUM},
  {"overrun_read", K_OVERRUN_READ, 0, 1, KV_NUM},
  {"lost", K_LOST, 0, 1, KV_NUM},
  {"liveness", K_LIVENESS, 0, 1, KV_PEER},
  {"evicted", K_EVICTED, 0, 1, KV_NUM},
};
#define NVKEYS (sizeof vkeys / sizeof vkeys[0])

static const char *peer_names[] = {
  [RILL_PEER_NONE] = "none", [RILL_PEER_ALIVE] = "alive",
  [RILL_PEER_DEAD] = "dead", [RILL_PEER_UNKNOWN] = "unknown",
};

#define VMAXTOK 32
#define VMAXKV 16

typedef struct vop {
  int kind, line, expect;
  char chan[RILL_NAME_MAX + 1]; /* channel, or region for "region" */
  int64_t slot;                 /* consumer slot; -1: the producer */
  int mode;
  uint64_t n[6];                /* the numbers of the line, in order */
  int nkv;
  struct { const struct vkey_def *k; uint64_t v; } kv[VMAXKV];
} vop;

static struct {
  const char *file;
  vop *ops;
  size_t nops;
} VF;

/* "FILE:LINE: expected X, got Y" and exit 1. */
__attribute__((noreturn)) XPEER_PRINTF(2, 3)
static void vfail(int line, const char *fmt, ...) {
  char msg[900];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  die("%s:%d: %s", VF.file, line, msg);
}

static uint64_t vnum(int line, const char *tok, const char *what, uint64_t max) {
  uint64_t v;
  if (parse_u64(tok, &v)) vfail(line, "expected %s (a decimal number), got '%s'", what, tok);
  if (v > max) vfail(line, "expected %s <= %" PRIu64 ", got %" PRIu64, what, max, v);
  return v;
}

static void vname(vop *op, const char *tok) {
  if (strlen(tok) > RILL_NAME_MAX)
    vfail(op->line, "expected a name of at most %d bytes, got '%s'", RILL_NAME_MAX, tok);
  snprintf(op->chan, sizeof op->chan, "%s", tok);
}

static void vcount(int line, const char *verb, int ntok, int want) {
  if (ntok != want) vfail(line, "expected %d tokens for '%s', got %d", want, verb, ntok);
}

/* [expect again|msgsize] at TOK[K]. */
static int vopt_expect(vop *op, char **tok, int ntok, int k, const char *verb) {
  if (ntok == k) return X_OK;
  if (ntok != k + 2 || strcmp(tok[k], "expect"))
    vfail(op->line, "expected '%s ... [expect again|msgsize]', got extra tokens", verb);
  if (!strcmp(tok[k + 1], "again")) return X_AGAIN;
  if (!strcmp(tok[k + 1], "msgsize")) return X_MSGSIZE;
  vfail(op->line, "expected again or msgsize, got '%s'", tok[k + 1]);
}

static int64_t vslot(vop *op, const char *tok, int producer_ok) {
  if (producer_ok && !strcmp(tok, "producer")) return -1;
  return (int64_t)vnum(op->line, tok, "a consumer slot", MAX_SLOTS - 1);
}

static void vparse_kv(vop *op, char **tok, int ntok, int first, int stats) {
  for (int k = first; k < ntok; k++) {
    if (op->nkv == VMAXKV) vfail(op->line, "expected at most %d keys, got more", VMAXKV);
    char *eq = strchr(tok[k], '=');
    if (!eq) vfail(op->line, "expected key=value, got '%s'", tok[k]);
    *eq = 0;
    const char *val = eq + 1;
    const struct vkey_def *d = NULL;
    for (size_t i = 0; i < NVKEYS; i++)
      if (!strcmp(vkeys[i].name, tok[k]) && (stats ? vkeys[i].in_stats : vkeys[i].in_slot))
        d = &vkeys[i];
    if (!d) vfail(op->line, "expected a %s key, got '%s'", stats ? "stats" : "slot", tok[k]);
    uint64_t v = 0;
    if (d->type == KV_NUM) {
      v = vnum(op->line, val, d->name, UINT64_MAX);
    } else if (d->type == KV_PEER) {
      if (!strcmp(val, "none")) v = RILL_PEER_NONE;
      else if (!strcmp(val, "alive")) v = RILL_PEER_ALIVE;
      else if (!strcmp(val, "dead")) v = RILL_PEER_DEAD;
      else vfail(op->line, "expected %s=none|alive|dead, got '%s'", d->name, val);
    } else {
      if (!strcmp(val, "reliable")) v = RILL_RELIABLE;
      else if (!strcmp(val, "lossy")) v = RILL_LOSSY;
      else vfail(op->line, "expected mode=reliable|lossy, got '%s'", val);
    }
    op->kv[op->nkv].k = d;
    op->kv[op->nkv].v = v;
    op->nkv++;
  }
}

static void vparse(vop *op, char **tok, int ntok) {
  const char *verb = tok[0];
  op->slot = 0;
  op->expect = X_OK;
  if (!strcmp(verb, "check")) {
    op->kind = V_CHECK;
    vcount(op->line, verb, ntok, 1);
    return;
  }
  if (ntok < 2) vfail(op->line, "expected a name after '%s', got nothing", verb);
  vname(op, tok[1]);
  if (!strcmp(verb, "region")) {
    op->kind = V_REGION;
    vcount(op->line, verb, ntok, 3);
    op->n[0] = vnum(op->line, tok[2], "SIZE", UINT64_MAX);
  } else if (!strcmp(verb, "channel")) {
    op->kind = V_CHANNEL;
    vcount(op->line, verb, ntok, 6);
    op->n[0] = vnum(op->line, tok[2], "DEPTH", UINT32_MAX);
    op->n[1] = vnum(op->line, tok[3], "MTU", UINT32_MAX);
    op->n[2] = vnum(op->line, tok[4], "MAX_CONSUMERS", UINT32_MAX);
    op->n[3] = vnum(op->line, tok[5], "MAX_MSG", UINT64_MAX);
  } else if (!strcmp(verb, "consumer")) {
    op->kind = V_CONSUMER;
    vcount(op->line, verb, ntok, 3);
    if (!strcmp(tok[2], "reliable")) op->mode = RILL_RELIABLE;
    else if (!strcmp(tok[2], "lossy")) op->mode = RILL_LOSSY;
    else vfail(op->line, "expected reliable or lossy, got '%s'", tok[2]);
  } else if (!strcmp(verb, "rejoin")) {
    op->kind = V_REJOIN;
    vcount(op->line, verb, ntok, 3);
    op->slot = vslot(op, tok[2], 0);
  } else if (!strcmp(verb, "producer")) {
    op->kind = V_PRODUCER;
    vcount(op->line, verb, ntok, 2);
  } else if (!strcmp(verb, "commit")) {
    op->kind = V_COMMIT;
    if (ntok < 6) vcount(op->line, verb, ntok, 6);
    op->n[0] = vnum(op->line, tok[2], "SIZE", UINT16_MAX + 1u);
    op->n[1] = vnum(op->line, tok[3], "SIG", UINT64_MAX);
    op->n[2] = vnum(op->line, tok[4], "CTL", UINT16_MAX);
    op->n[3] = vnum(op->line, tok[5], "TSORIG", UINT32_MAX);
    op->expect = vopt_expect(op, tok, ntok, 6, verb);
  } else if (!strcmp(verb, "send")) {
    op->kind = V_SEND;
    if (ntok < 4) vcount(op->line, verb, ntok, 4);
    op->n[0] = vnum(op->line, tok[2], "SIZE", 1u << 30);
    op->n[1] = vnum(op->line, tok[3], "SIG", UINT64_MAX);
    op->expect = vopt_expect(op, tok, ntok, 4, verb);
  } else if (!strcmp(verb, "recv") || !strcmp(verb, "poll") || !strcmp(verb, "wait")) {
    op->kind = verb[0] == 'r' ? V_RECV : verb[0] == 'p' ? V_POLL : V_WAIT;
    if (ntok < 5 || strcmp(tok[3], "expect"))
      vfail(op->line, "expected '%s CHAN SLOT expect ...', got %d tokens", verb, ntok);
    op->slot = vslot(op, tok[2], 0);
    const char *x = tok[4];
    if (op->kind == V_RECV && !strcmp(x, "again")) {
      op->expect = X_AGAIN;
      vcount(op->line, verb, ntok, 5);
    } else if (op->kind == V_RECV) {
      op->expect = X_MSG;
      vcount(op->line, verb, ntok, 9);
      op->n[0] = vnum(op->line, tok[4], "SIZE", VEC_BUF);
      op->n[1] = vnum(op->line, tok[5], "SIG", UINT64_MAX);
      op->n[2] = vnum(op->line, tok[6], "CTL", UINT16_MAX);
      op->n[3] = vnum(op->line, tok[7], "TSORIG", UINT32_MAX);
      op->n[4] = vnum(op->line, tok[8], "LOST", UINT64_MAX);
    } else if (op->kind == V_POLL && !strcmp(x, "msg")) {
      op->expect = X_MSG;
      vcount(op->line, verb, ntok, 11);
      op->n[0] = vnum(op->line, tok[5], "SEQ", UINT64_MAX);
      op->n[1] = vnum(op->line, tok[6], "SIZE", UINT16_MAX);
      op->n[2] = vnum(op->line, tok[7], "SIG", UINT64_MAX);
      op->n[3] = vnum(op->line, tok[8], "CTL", UINT16_MAX);
      op->n[4] = vnum(op->line, tok[9], "TSORIG", UINT32_MAX);
      op->n[5] = vnum(op->line, tok[10], "OFFSET", UINT64_MAX);
    } else if (op->kind == V_POLL && !strcmp(x, "overrun")) {
      op->expect = X_OVERRUN;
      vcount(op->line, verb, ntok, 6);
      op->n[0] = vnum(op->line, tok[5], "LOST", UINT64_MAX);
    } else if (op->kind == V_POLL && !strcmp(x, "empty")) {
      op->expect = X_EMPTY;
      vcount(op->line, verb, ntok, 5);
    } else if (op->kind == V_WAIT && (!strcmp(x, "closed") || !strcmp(x, "dead"))) {
      op->expect = x[0] == 'c' ? X_CLOSED : X_DEAD;
      vcount(op->line, verb, ntok, 5);
    } else {
      vfail(op->line, "expected %s, got 'expect %s'",
            op->kind == V_RECV ? "expect SIZE ... or expect again"
            : op->kind == V_POLL ? "expect msg|overrun|empty" : "expect closed|dead", x);
    }
  } else if (!strcmp(verb, "flush") || !strcmp(verb, "leave")) {
    op->kind = verb[0] == 'f' ? V_FLUSH : V_LEAVE;
    vcount(op->line, verb, ntok, 3);
    op->slot = vslot(op, tok[2], 1);
  } else if (!strcmp(verb, "stats")) {
    op->kind = V_STATS;
    vparse_kv(op, tok, ntok, 2, 1);
  } else if (!strcmp(verb, "slot")) {
    op->kind = V_SLOT;
    if (ntok < 3) vcount(op->line, verb, ntok, 3);
    op->slot = vslot(op, tok[2], 0);
    vparse_kv(op, tok, ntok, 3, 0);
  } else {
    vfail(op->line, "expected a known verb, got '%s'", verb);
  }
}

/* Reads and parses the whole file: a mistake anywhere fails before
 * anything runs. */
static void vload(const char *path) {
  VF.file = path;
  FILE *f = fopen(path, "r");
  if (!f) die("%s: cannot open: %s", path, strerror(errno));
  char line[4096];
  size_t cap = 0;
  for (int lineno = 1; fgets(line, sizeof line, f); lineno++) {
    size_t len = strlen(line);
    if (len == sizeof line - 1 && line[len - 1] != '\n')
      vfail(lineno, "expected a line shorter than %zu bytes, got a longer one", sizeof line);
    char *hash = strchr(line, '#');
    if (hash) *hash = 0;
    char *tok[VMAXTOK];
    int ntok = 0;
    for (char *s = line;;) {
      while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') s++;
      if (!*s) break;
      if (ntok == VMAXTOK) vfail(lineno, "expected at most %d tokens, got more", VMAXTOK);
      tok[ntok++] = s;
      while (*s && *s != ' ' && *s != '\t' && *s != '\r' && *s != '\n') s++;
      if (*s) *s++ = 0;
    }
    if (!ntok) continue;
    if (VF.nops == cap) {
      cap = cap ? 2 * cap : 64;
      vop *n = realloc(VF.ops, cap * sizeof *n);
      if (!n) die("%s: out of memory", path);
      VF.ops = n;
    }
    vop *op = &VF.ops[VF.nops++];
    memset(op, 0, sizeof *op);
    op->line = lineno;
    vparse(op, tok, ntok);
  }
  if (ferror(f)) die("%s: read error", path);
  fclose(f);
}

/* ---- vectors: running ------------------------------------------------------------ */

/* A channel as the interpreter knows it (endpoints of this process). */
typedef struct vchan {
  char name[RILL_NAME_MAX + 1];
  rill_producer *prod;
  rill_consumer *cons[MAX_SLOTS];
  uint64_t frag_off;            /* offset in its message of the next commit */
} vchan;

static struct {
  const char *dir;
  rill_region *r;
  vchan ch[64];
  int nch;
  uint8_t buf[VEC_BUF];
  rill_channel_stats st;
  rill_consumer_stats cs;
} V;

static vchan *vch(const vop *op) {
  for (int i = 0; i < V.nch; i++)
    if (!strcmp(V.ch[i].name, op->chan)) return &V.ch[i];
  if (V.nch == (int)(sizeof V.ch / sizeof V.ch[0]))
    vfail(op->line, "expected at most %d channels, got more", V.nch);
  vchan *c = &V.ch[V.nch++];
  snprintf(c->name, sizeof c->name, "%s", op->chan);
  return c;
}

static void vneed_region(const vop *op) {
  if (!V.r) vfail(op->line, "expected a region line before this one, got none");
}

static rill_consumer *vcons(const vop *op, vchan *c) {
  rill_consumer *k = c->cons[op->slot];
  if (!k)
    vfail(op->line, "expected a consumer of this process in slot %" PRId64 " of %s, got none",
          op->slot, c->name);
  return k;
}

static void vcall(const vop *op, const char *what, int64_t rc) {
  if (rc < 0) vfail(op->line, "expected %s to succeed, got %s (%s)", what, code_name(rc),
                    rill_strerror((int)rc));
}

static uint8_t vpat(uint64_t sig, uint64_t j) { return (uint8_t)(sig * 31 + j); }

/* Compares P with bytes [OFF, OFF+N) of the message with sig SIG. */
static void vcheck_payload(const vop *op, const uint8_t *p, uint64_t n, uint64_t sig,
                           uint64_t off) {
  for (uint64_t j = 0; j < n; j++)
    if (p[j] != vpat(sig, off + j))
      vfail(op->line, "expected payload byte %" PRIu64 " = 0x%02x, got 0x%02x", j,
            vpat(sig, off + j), p[j]);
}

static void veq(const vop *op, const char *what, uint64_t want, uint64_t got) {
  if (want != got)
    vfail(op->line, "expected %s %" PRIu64 ", got %" PRIu64, what, want, got);
}

/* A call that must return WANT (X_OK, X_AGAIN or X_MSGSIZE). */
static void vexpect_rc(const vop *op, const char *what, int expect, int rc) {
  int want = expect == X_AGAIN ? -RILL_EAGAIN : expect == X_MSGSIZE ? -RILL_EMSGSIZE : 0;
  if (rc != want)
    vfail(op->line, "expected %s %s, got %s", what, code_name(want), code_name(rc));
}

static void vrun_commit(const vop *op, vchan *c) {
  if (!c->prod) vfail(op->line, "expected a producer of this process on %s, got none", c->name);
  uint64_t n = op->n[0], sig = op->n[1];
  uint16_t ctl = (uint16_t)op->n[2];
  void *buf = NULL;
  int rc = rill_reserve(c->prod, (size_t)n, &buf);
  vexpect_rc(op, "reserve", op->expect, rc);
  if (rc) return;
  uint64_t off = (ctl & RILL_CTL_SOM) ? 0 : c->frag_off;
  for (uint64_t j = 0; j < n; j++) ((uint8_t *)buf)[j] = vpat(sig, off + j);
  rc = rill_commit_ts(c->prod, (size_t)n, sig, ctl, (uint32_t)op->n[3]);
  vexpect_rc(op, "commit", X_OK, rc);
  c->frag_off = (ctl & RILL_CTL_EOM) ? 0 : off + n;
}

static void vrun_send(const vop *op, vchan *c) {
  if (!c->prod) vfail(op->line, "expected a producer of this process on %s, got none", c->name);
  uint64_t n = op->n[0], sig = op->n[1];
  uint8_t *buf = malloc(n ? n : 1);
  if (!buf) vfail(op->line, "expected %" PRIu64 " bytes of memory, got none", n);
  for (uint64_t j = 0; j < n; j++) buf[j] = vpat(sig, j);
  int rc = rill_send(c->prod, buf, (size_t)n, sig);
  free(buf);
  vexpect_rc(op, "send", op->expect, rc);
}

static void vrun_recv(const vop *op, vchan *c) {
  rill_consumer *k = vcons(op, c);
  rill_meta m;
  memset(&m, 0, sizeof m);
  int64_t n = rill_recv(k, V.buf, sizeof V.buf, &m);
  if (op->expect == X_AGAIN) {
    if (n >= 0)
      vfail(op->line, "expected again, got a message of %" PRId64 " bytes (sig %" PRIu64 ")",
            n, m.sig);
    if (n != -RILL_EAGAIN) vfail(op->line, "expected again, got %s", code_name(n));
    return;
  }
  if (n < 0) vfail(op->line, "expected a message of %" PRIu64 " bytes, got %s", op->n[0],
                   code_name(n));
  veq(op, "size", op->n[0], (uint64_t)n);
  veq(op, "meta.sz", op->n[0], m.sz);
  veq(op, "sig", op->n[1], m.sig);
  veq(op, "ctl", op->n[2], m.ctl);
  veq(op, "tsorig", op->n[3], m.tsorig);
  veq(op, "lost", op->n[4], m.lost);
  vcheck_payload(op, V.buf, (uint64_t)n, m.sig, 0);
}

static void vrun_poll(const vop *op, vchan *c) {
  rill_consumer *k = vcons(op, c);
  rill_view v;
  memset(&v, 0, sizeof v);
  int rc = rill_poll(k, &v);
  if (op->expect == X_EMPTY) {
    if (rc == 0) vfail(op->line, "expected empty, got a descriptor (seq %" PRIu64 ")", v.seq);
    if (rc != -RILL_EAGAIN) vfail(op->line, "expected empty, got %s", code_name(rc));
    return;
  }
  if (op->expect == X_OVERRUN) {
    if (rc == 0) vfail(op->line, "expected overrun, got a descriptor (seq %" PRIu64 ")", v.seq);
    if (rc != -RILL_EOVERRUN) vfail(op->line, "expected overrun, got %s", code_name(rc));
    veq(op, "lost", op->n[0], v.lost);
    return;
  }
  if (rc) vfail(op->line, "expected msg, got %s", code_name(rc));
  veq(op, "seq", op->n[0], v.seq);
  veq(op, "size", op->n[1], v.sz);
  veq(op, "sig", op->n[2], v.sig);
  veq(op, "ctl", op->n[3], v.ctl);
  veq(op, "tsorig", op->n[4], v.tsorig);
  vcheck_payload(op, v.data, v.sz, v.sig, op->n[5]);
  rc = rill_check(k, &v);
  if (rc) vfail(op->line, "expected the payload intact (rill_check), got %s", code_name(rc));
}

static void vrun_wait(const vop *op, vchan *c) {
  rill_consumer *k = vcons(op, c);
  rill_meta m;
  memset(&m, 0, sizeof m);
  int64_t n = rill_recv_wait(k, V.buf, sizeof V.buf, &m, VEC_WAIT_NS);
  int64_t want = op->expect == X_CLOSED ? -RILL_ECLOSED : -RILL_EDEAD;
  if (n >= 0)
    vfail(op->line, "expected %s, got a message of %" PRId64 " bytes (sig %" PRIu64 ")",
          code_name(want), n, m.sig);
  if (n != want) vfail(op->line, "expected %s, got %s", code_name(want), code_name(n));
}

static void vkv_fail(const vop *op, const struct vkey_def *d, uint64_t want, uint64_t got) {
  if (d->type == KV_NUM)
    vfail(op->line, "expected %s=%" PRIu64 ", got %s=%" PRIu64, d->name, want, d->name, got);
  const char *w, *g;
  if (d->type == KV_PEER) {
    w = peer_names[want];
    g = got < 4 ? peer_names[got] : "?";
  } else {
    w = want == RILL_RELIABLE ? "reliable" : "lossy";
    g = got == RILL_RELIABLE ? "reliable" : got == RILL_LOSSY ? "lossy" : "free";
  }
  vfail(op->line, "expected %s=%s, got %s=%s", d->name, w, d->name, g);
}

static void vrun_stats(const vop *op, vchan *c) {
  int rc = rill_channel_stats_get(V.r, c->name, &V.st);
  vcall(op, "rill_channel_stats_get", rc);
  const rill_channel_stats *s = &V.st;
  const rill_consumer_stats *k = NULL;
  if (op->kind == V_SLOT) {
    if ((uint64_t)op->slot >= s->max_consumers)
      vfail(op->line, "expected a slot below max_consumers %u, got %" PRId64,
            s->max_consumers, op->slot);
    rc = rill_consumer_stats_get(V.r, c->name, (uint32_t)op->slot, &V.cs);
    vcall(op, "rill_consumer_stats_get", rc);
    k = &V.cs;
  }
  for (int i = 0; i < op->nkv; i++) {
    const struct vkey_def *d = op->kv[i].k;
    uint64_t got = 0;
    switch (d->key) {
    case K_SEQ: got = k ? k->seq : s->seq; break;
    case K_MSGS: got = k ? k->msgs : s->msgs; break;
    case K_BYTES: got = k ? k->bytes : s->bytes; break;
    case K_BACKPRESSURE: got = s->backpressure; break;
    case K_CONSUMERS: got = s->nconsumers; break;
    case K_EVICTIONS: got = s->evictions; break;
    case K_PRODUCER: got = s->producer_liveness; break;
    case K_MODE: got = k->mode; break;
    case K_OVERRUN_POLL: got = k->overrun_poll; break;
    case K_OVERRUN_READ: got = k->overrun_read; break;
    case K_LOST: got = k->lost; break;
    case K_LIVENESS: got = k->liveness; break;
    case K_EVICTED: got = k->evicted; break;
    }
    if (got != op->kv[i].v) vkv_fail(op, d, op->kv[i].v, got);
  }
}

static void vrun(const vop *op, int checker) {
  if (op->kind == V_REGION) {
    if (checker) vfail(op->line, "expected no region line after check, got one");
    if (V.r) vfail(op->line, "expected one region line, got a second one");
    rill_region_opts o = {.size = op->n[0], .dir = V.dir};
    vcall(op, "rill_region_create", rill_region_create(op->chan, &o, &V.r));
    return;
  }
  vneed_region(op);
  vchan *c = vch(op);
  switch (op->kind) {
  case V_CHANNEL: {
    rill_channel_opts co = {.depth = (uint32_t)op->n[0], .mtu = (uint32_t)op->n[1],
                            .max_consumers = (uint32_t)op->n[2], .max_msg = op->n[3]};
    vcall(op, "rill_channel_create", rill_channel_create(V.r, c->name, &co));
    break;
  }
  case V_CONSUMER:
  case V_REJOIN: {
    rill_consumer *k;
    int rc = op->kind == V_CONSUMER
                 ? rill_consumer_join(V.r, c->name, op->mode, &k)
                 : rill_consumer_rejoin(V.r, c->name, (uint32_t)op->slot, &k);
    vcall(op, op->kind == V_CONSUMER ? "rill_consumer_join" : "rill_consumer_rejoin", rc);
    uint32_t slot = rill_consumer_slot(k);
    if (op->kind == V_REJOIN) veq(op, "slot", (uint64_t)op->slot, slot);
    if (slot >= MAX_SLOTS || c->cons[slot])
      vfail(op->line, "expected a slot not held here, got slot %u", slot);
    c->cons[slot] = k;
    break;
  }
  case V_PRODUCER:
    if (c->prod) vfail(op->line, "expected no producer of this process on %s, got one", c->name);
    vcall(op, "rill_producer_join", rill_producer_join(V.r, c->name, &c->prod));
    c->frag_off = 0;
    break;
  case V_COMMIT: vrun_commit(op, c); break;
  case V_SEND: vrun_send(op, c); break;
  case V_RECV: vrun_recv(op, c); break;
  case V_POLL: vrun_poll(op, c); break;
  case V_WAIT: vrun_wait(op, c); break;
  case V_FLUSH:
  case V_LEAVE:
    if (op->slot < 0) {
      if (!c->prod) vfail(op->line, "expected a producer of this process on %s, got none", c->name);
      if (op->kind == V_FLUSH) {
        vcall(op, "rill_producer_flush", rill_producer_flush(c->prod));
      } else {
        vcall(op, "rill_producer_leave", rill_producer_leave(c->prod));
        c->prod = NULL;
      }
    } else {
      rill_consumer *k = vcons(op, c);
      if (op->kind == V_FLUSH) {
        vcall(op, "rill_consumer_flush", rill_consumer_flush(k));
      } else {
        vcall(op, "rill_consumer_leave", rill_consumer_leave(k));
        c->cons[op->slot] = NULL;
      }
    }
    break;
  case V_STATS:
  case V_SLOT: vrun_stats(op, c); break;
  }
}

static int cmd_vector(int argc, char **argv) {
  static const char *use = "vector write|check FILE DIR";
  if (argc != 5) usage(use);
  int checker;
  if (!strcmp(argv[2], "write")) checker = 0;
  else if (!strcmp(argv[2], "check")) checker = 1;
  else usage(use);
  V.dir = argv[4];
  vload(argv[3]);
  size_t split = VF.nops;
  for (size_t i = 0; i < VF.nops; i++) {
    if (VF.ops[i].kind != V_CHECK) continue;
    if (split != VF.nops) vfail(VF.ops[i].line, "expected one check line, got a second one");
    split = i;
  }
  if (split == VF.nops) vfail(0, "expected a line 'check', got none");
  if (checker) {
    const vop *reg = NULL;
    for (size_t i = 0; i < split; i++)
      if (VF.ops[i].kind == V_REGION) reg = &VF.ops[i];
    if (!reg) vfail(VF.ops[split].line, "expected a region line before check, got none");
    rill_region_opts o = {.dir = V.dir};
    vcall(reg, "rill_region_open", rill_region_open(reg->chan, &o, &V.r));
    for (size_t i = split + 1; i < VF.nops; i++) vrun(&VF.ops[i], 1);
  } else {
    for (size_t i = 0; i < split; i++) vrun(&VF.ops[i], 0);
  }
  /* Exit with every endpoint not left explicitly still joined: the kernel
   * drops their locks, and the checker finds them dead. */
  fflush(NULL);
  exit(0);
}

/* ---- main ---------------------------------------------------------------------- */

int main(int argc, char **argv) {
  if (argc < 2) usage(NULL);
  S.cmd = argv[1];
  if (!strcmp(argv[1], "vector")) return cmd_vector(argc, argv);
  if (!strcmp(argv[1], "create")) return cmd_create(argc, argv);
  if (!strcmp(argv[1], "produce")) return cmd_produce(argc, argv);
  if (!strcmp(argv[1], "produce-many")) return cmd_produce_many(argc, argv);
  if (!strcmp(argv[1], "consume")) return cmd_consume(argc, argv);
  if (!strcmp(argv[1], "echo")) return cmd_echo(argc, argv);
  if (!strcmp(argv[1], "ping")) return cmd_ping(argc, argv);
  if (!strcmp(argv[1], "rpc-serve")) return cmd_rpc_serve(argc, argv);
  if (!strcmp(argv[1], "rpc-call")) return cmd_rpc_call(argc, argv);
  usage(NULL);
}
