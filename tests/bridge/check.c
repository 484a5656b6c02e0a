/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill_bridge_check: both ends of a stream that crosses `rill bridge`
 * (tests/bridge/test_bridge.py): a producer of messages that can be
 * checked byte by byte, and a consumer that checks them and counts what
 * came, what did not, and what came twice or out of order.
 *
 *   rill_bridge_check [--dir DIR] produce REGION/CHANNEL --count N --seed S
 *       --min-size A --max-size B [--rate MSGS_PER_S] [--start K]
 *       [--wait-consumers C] [--evict SECS|never] [--timeout SECS]
 *   rill_bridge_check [--dir DIR] consume REGION/CHANNEL --count N --seed S
 *       --min-size A --max-size B [--timeout SECS] [--idle SECS] [--until-last]
 *   rill_bridge_check message --seed S --index I --min-size A --max-size B
 *
 * Message I (I = 0, 1, ...) of seed S has a size drawn from (S, I) in
 * [A, B] (larger than the channel's mtu, it is sent in fragments), is sent
 * with sig = I, and its bytes are I as 8 bytes little-endian (cut short in
 * a message under 8 bytes) followed by a stream derived from (S, I).  The
 * consumer knows a message by its sig and checks its size and every byte
 * against that rule, so it must be given the same --seed, --min-size and
 * --max-size as the producer (sizes default to 0 .. 1024 on both sides).
 *
 * produce sends messages K .. K+N-1 with rill_send_wait() (a reliable
 * consumer holds it back: backpressure, never loss), after waiting for C
 * consumers to join (--wait-consumers, default 0), paced at MSGS_PER_S
 * when --rate is given, then leaves the channel and prints one JSON line:
 * {"sent": N, "seconds": T, "next_seq": SEQ}.  A send that waits longer
 * than --timeout (default 120 s) fails it (exit 1).  --evict sets how long
 * a dead reliable consumer holds it back (rill_producer_set_evict(),
 * default 1 s): a bridge killed and restarted within that time finds the
 * messages it missed still waiting for it.
 *
 * consume joins as a reliable consumer (waiting up to --timeout for the
 * region and the channel to appear), reads until it has seen every index
 * 0 .. N-1 (with --until-last: once it has seen index N-1, for a stream
 * that arrives in order but may have lost some), or nothing came for
 * --idle seconds (default 10), or --timeout seconds (default 600) passed;
 * having seen them all it takes what is already there too (a duplicate
 * right behind), then prints one JSON line:
 *   received    messages read
 *   distinct    indices seen (0 .. N-1)
 *   duplicates  messages whose index had been seen before
 *   reordered   first sightings of an index below the highest seen before
 *   corrupt     messages with a wrong size, byte or index (sig >= N, or
 *               first 8 bytes not the sig)
 *   missing     indices of 0 .. N-1 never seen; missing_first: the first
 *               of them (at most 16)
 *   max_index   the highest index seen (-1: none)
 *   lost        the sum of rill_meta.lost (0 for a reliable consumer)
 *   next_seq    the sequence number after the last message read
 *   frags       descriptors read (sum of each message's fragments)
 *   stopped     "all", "last" (--until-last), "idle" or "timeout"
 *   seconds     from the first message to the last
 * A producer that leaves or dies does not stop it (a bridge restarted
 * rejoins as the producer and carries on).  It exits 0 when it could run,
 * whatever it counted (the test judges the counts), 1 on an error, 2 on
 * a usage error.  The first corrupt messages are described on stderr.
 *
 * message writes the bytes of message I to stdout (for a test that sends
 * one on its own, as a NATS client). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rill.h"

/* ---- the messages ---------------------------------------------------------- */

static uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

static uint64_t msg_size(uint64_t seed, uint64_t i, uint64_t min, uint64_t max) {
  return min + mix(mix(seed) ^ (i * 0x2545f4914f6cdd1dull)) % (max - min + 1);
}

/* Word W of the stream of message I: bytes 8W .. 8W+7 of the message. */
static uint64_t msg_word(uint64_t seed, uint64_t i, uint64_t w) {
  return w == 0 ? i : mix(mix(seed + 0xd1342543de82ef95ull * i) + w);
}

static void msg_fill(uint8_t *p, size_t n, uint64_t seed, uint64_t i) {
  for (size_t off = 0; off < n; off += 8) {
    uint64_t v = msg_word(seed, i, off / 8);
    for (size_t b = 0; b < 8 && off + b < n; b++) p[off + b] = (uint8_t)(v >> (8 * b));
  }
}

/* -1 if P is message I, else the offset of its first wrong byte. */
static int64_t msg_verify(const uint8_t *p, size_t n, uint64_t seed, uint64_t i) {
  for (size_t off = 0; off < n; off += 8) {
    uint64_t v = msg_word(seed, i, off / 8);
    for (size_t b = 0; b < 8 && off + b < n; b++)
      if (p[off + b] != (uint8_t)(v >> (8 * b))) return (int64_t)(off + b);
  }
  return -1;
}

/* ---- small helpers -------------------------------------------------------- */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s) {
  if (s <= 0) return;
  struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9)};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

static uint64_t to_ns(double s) { return s <= 0 ? 0 : (uint64_t)(s * 1e9); }

__attribute__((noreturn, format(printf, 1, 2))) static void usage(const char *fmt, ...);
static void usage(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("rill_bridge_check: ", stderr);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputs("\nusage: rill_bridge_check [--dir DIR] produce REGION/CHANNEL --count N --seed S\n"
        "         [--min-size A] [--max-size B] [--rate MSGS_PER_S] [--start K]\n"
        "         [--wait-consumers C] [--evict SECS|never] [--timeout SECS]\n"
        "       rill_bridge_check [--dir DIR] consume REGION/CHANNEL --count N --seed S\n"
        "         [--min-size A] [--max-size B] [--timeout SECS] [--idle SECS] [--until-last]\n"
        "       rill_bridge_check message --seed S --index I [--min-size A] [--max-size B]\n",
        stderr);
  exit(2);
}

__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *fmt, ...);
static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("rill_bridge_check: ", stderr);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  exit(1);
}

static uint64_t parse_u64(const char *opt, const char *s) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 0);
  if (errno || end == s || *end || *s == '-') usage("%s: not a number: '%s'", opt, s);
  return (uint64_t)v;
}

static double parse_secs(const char *opt, const char *s) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end || !(v >= 0)) usage("%s: not a number of seconds: '%s'", opt, s);
  return v;
}

typedef struct opts {
  const char *dir;
  const char *cmd;
  char region[RILL_NAME_MAX + 1], channel[RILL_NAME_MAX + 1];
  uint64_t count, seed, min_size, max_size, start, wait_consumers, index;
  int have_count, have_seed, have_index, until_last;
  double rate, timeout, idle, evict;
} opts;

static void split_name(opts *o, const char *arg) {
  const char *s = strchr(arg, '/');
  size_t nr = s ? (size_t)(s - arg) : 0;
  if (!s || nr == 0 || nr > RILL_NAME_MAX || strlen(s + 1) > RILL_NAME_MAX)
    usage("not REGION/CHANNEL: '%s'", arg);
  memcpy(o->region, arg, nr);
  o->region[nr] = 0;
  strcpy(o->channel, s + 1);
  if (!rill_name_valid(o->region) || !rill_name_valid(o->channel))
    usage("bad region or channel name: '%s'", arg);
}

static void parse(int argc, char **argv, opts *o) {
  const char *name = NULL;
  memset(o, 0, sizeof *o);
  o->max_size = 1024;
  o->idle = 10;
  o->timeout = -1;
  o->evict = -1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (a[0] != '-' || !a[1]) {
      if (!o->cmd)
        o->cmd = a;
      else if (!name)
        name = a;
      else
        usage("one REGION/CHANNEL only: '%s'", a);
      continue;
    }
    if (!strcmp(a, "--until-last")) {
      o->until_last = 1;
      continue;
    }
    if (i + 1 >= argc) usage("%s needs a value", a);
    const char *v = argv[++i];
    if (!strcmp(a, "--dir")) o->dir = v;
    else if (!strcmp(a, "--count")) o->count = parse_u64(a, v), o->have_count = 1;
    else if (!strcmp(a, "--seed")) o->seed = parse_u64(a, v), o->have_seed = 1;
    else if (!strcmp(a, "--min-size")) o->min_size = parse_u64(a, v);
    else if (!strcmp(a, "--max-size")) o->max_size = parse_u64(a, v);
    else if (!strcmp(a, "--start")) o->start = parse_u64(a, v);
    else if (!strcmp(a, "--index")) o->index = parse_u64(a, v), o->have_index = 1;
    else if (!strcmp(a, "--wait-consumers")) o->wait_consumers = parse_u64(a, v);
    else if (!strcmp(a, "--rate")) o->rate = parse_secs(a, v);
    else if (!strcmp(a, "--timeout")) o->timeout = parse_secs(a, v);
    else if (!strcmp(a, "--idle")) o->idle = parse_secs(a, v);
    else if (!strcmp(a, "--evict")) o->evict = !strcmp(v, "never") ? -2 : parse_secs(a, v);
    else usage("unknown option '%s'", a);
  }
  if (!o->cmd || (strcmp(o->cmd, "produce") && strcmp(o->cmd, "consume") && strcmp(o->cmd, "message")))
    usage("produce, consume or message?");
  if (!strcmp(o->cmd, "message")) {
    if (name) usage("message takes no REGION/CHANNEL");
    if (!o->have_seed || !o->have_index) usage("--seed and --index are needed");
  } else {
    if (!name) usage("REGION/CHANNEL missing");
    split_name(o, name);
    if (!o->have_count || !o->have_seed) usage("--count and --seed are needed");
  }
  if (o->min_size > o->max_size) usage("--min-size is above --max-size");
  if (o->count > ((uint64_t)1 << 32)) usage("--count: at most 2^32");
}

static rill_region *open_region(const opts *o, double timeout) {
  rill_region_opts ro = {.dir = o->dir};
  rill_region *r;
  int rc = rill_region_open_wait(o->region, &ro, to_ns(timeout), &r);
  if (rc) die("%s: %s", o->region, rill_strerror(rc));
  rc = rill_channel_wait(r, o->channel, to_ns(timeout));
  if (rc) die("%s/%s: %s", o->region, o->channel, rill_strerror(rc));
  return r;
}

/* ---- produce -------------------------------------------------------------- */

static int produce(const opts *o) {
  double timeout = o->timeout < 0 ? 120 : o->timeout;
  rill_region *r = open_region(o, timeout);
  rill_producer *p;
  int rc = rill_producer_join(r, o->channel, &p);
  if (rc) die("producer of %s/%s: %s", o->region, o->channel, rill_strerror(rc));
  if (o->evict != -1) {
    rc = rill_producer_set_evict(p, o->evict == -2 ? RILL_FOREVER : to_ns(o->evict));
    if (rc) die("--evict: %s", rill_strerror(rc));
  }
  if (o->wait_consumers) {
    rc = rill_producer_wait_consumers(p, (uint32_t)o->wait_consumers, to_ns(timeout));
    if (rc < 0) die("waiting for %" PRIu64 " consumers: %s", o->wait_consumers, rill_strerror(rc));
  }
  uint8_t *buf = malloc(o->max_size ? o->max_size : 1);
  if (!buf) die("out of memory");
  double t0 = now_s();
  for (uint64_t k = 0; k < o->count; k++) {
    uint64_t i = o->start + k;
    if (o->rate > 0) sleep_s(t0 + (double)k / o->rate - now_s());
    size_t n = (size_t)msg_size(o->seed, i, o->min_size, o->max_size);
    msg_fill(buf, n, o->seed, i);
    rc = rill_send_wait(p, buf, n, i, to_ns(timeout));
    if (rc) die("sending message %" PRIu64 " (%zu bytes): %s", i, n, rill_strerror(rc));
  }
  double t = now_s() - t0;
  uint64_t next = rill_producer_seq(p);
  rill_producer_leave(p);
  rill_region_close(r);
  free(buf);
  printf("{\"sent\": %" PRIu64 ", \"seconds\": %.6f, \"next_seq\": %" PRIu64 "}\n", o->count, t,
         next);
  return 0;
}

/* ---- consume -------------------------------------------------------------- */

#define MISSING_SHOWN 16
#define CORRUPT_SHOWN 8

static int consume(const opts *o) {
  double timeout = o->timeout < 0 ? 600 : o->timeout;
  double start = now_s(), deadline = start + timeout;
  rill_region *r = open_region(o, timeout);
  rill_channel_stats st;
  int rc = rill_channel_stats_get(r, o->channel, &st);
  if (rc) die("%s/%s: %s", o->region, o->channel, rill_strerror(rc));
  rill_consumer *c;
  rc = rill_consumer_join(r, o->channel, RILL_RELIABLE, &c);
  if (rc) die("consumer of %s/%s: %s", o->region, o->channel, rill_strerror(rc));
  uint8_t *seen = calloc(o->count ? o->count : 1, 1);
  size_t cap = st.max_msg ? (size_t)st.max_msg : 1;
  uint8_t *buf = malloc(cap);
  if (!seen || !buf) die("out of memory");
  uint64_t received = 0, distinct = 0, dups = 0, reordered = 0, corrupt = 0, lost = 0;
  uint64_t frags = 0, next_seq = 0;
  int64_t max_index = -1;
  const char *stopped = NULL;
  double last = now_s(), first_t = 0, last_t = 0;
  int draining = 0;
  while (!stopped) {
    double t = now_s();
    double wait = draining ? 0 : last + o->idle - t;
    if (!draining && deadline - t < wait) wait = deadline - t;
    rill_meta m;
    int64_t n = rill_recv_wait(c, buf, cap, &m, to_ns(wait));
    if (n == -RILL_ETIMEDOUT || n == -RILL_EAGAIN || n == -RILL_ECLOSED || n == -RILL_EDEAD) {
      t = now_s();
      if (draining) stopped = "all";
      else if (t >= deadline) stopped = "timeout";
      else if (t >= last + o->idle) stopped = "idle";
      else if (n != -RILL_ETIMEDOUT) sleep_s(0.005); /* producer gone: look again soon */
      continue;
    }
    if (n < 0) die("receiving: %s", rill_strerror((int)n));
    last = now_s();
    if (!received) first_t = last;
    last_t = last;
    received++;
    lost += m.lost;
    uint64_t nf = m.sz ? (m.sz + st.mtu - 1) / st.mtu : 1;
    frags += nf;
    next_seq = m.seq + nf;
    uint64_t i = m.sig;
    const char *bad = NULL;
    int64_t at = -1;
    if (i >= o->count) {
      bad = "index out of range";
    } else if ((uint64_t)n != msg_size(o->seed, i, o->min_size, o->max_size)) {
      bad = "wrong size";
    } else if ((at = msg_verify(buf, (size_t)n, o->seed, i)) >= 0) {
      bad = "wrong byte";
    }
    if (bad) {
      if (corrupt < CORRUPT_SHOWN) {
        fprintf(stderr,
                "rill_bridge_check: corrupt message (seq %" PRIu64 ", sig %" PRIu64
                ", %" PRId64 " bytes): %s",
                m.seq, m.sig, n, bad);
        if (at >= 0) fprintf(stderr, " at offset %" PRId64, at);
        fputc('\n', stderr);
      }
      corrupt++;
      continue;
    }
    if (seen[i]) {
      dups++;
    } else {
      seen[i] = 1;
      distinct++;
      if ((int64_t)i < max_index) reordered++;
    }
    if ((int64_t)i > max_index) max_index = (int64_t)i;
    if (distinct == o->count) draining = 1;
    if (o->until_last && o->count && i == o->count - 1) stopped = "last";
  }
  if (!o->count) stopped = stopped ? stopped : "all";
  rill_consumer_leave(c);
  rill_region_close(r);
  printf("{\"received\": %" PRIu64 ", \"distinct\": %" PRIu64 ", \"duplicates\": %" PRIu64
         ", \"reordered\": %" PRIu64 ", \"corrupt\": %" PRIu64 ", \"missing\": %" PRIu64
         ", \"missing_first\": [",
         received, distinct, dups, reordered, corrupt, o->count - distinct);
  int shown = 0;
  for (uint64_t i = 0; i < o->count && shown < MISSING_SHOWN; i++)
    if (!seen[i]) printf("%s%" PRIu64, shown++ ? ", " : "", i);
  printf("], \"max_index\": %" PRId64 ", \"lost\": %" PRIu64 ", \"next_seq\": %" PRIu64
         ", \"frags\": %" PRIu64 ", \"stopped\": \"%s\", \"seconds\": %.6f}\n",
         max_index, lost, next_seq, frags, stopped, last_t - first_t);
  free(seen);
  free(buf);
  return 0;
}

/* ---- message ------------------------------------------------------------ */

static int message(const opts *o) {
  size_t n = (size_t)msg_size(o->seed, o->index, o->min_size, o->max_size);
  uint8_t *buf = malloc(n ? n : 1);
  if (!buf) die("out of memory");
  msg_fill(buf, n, o->seed, o->index);
  int ok = fwrite(buf, 1, n, stdout) == n && fflush(stdout) == 0;
  free(buf);
  if (!ok) die("writing to stdout: %s", strerror(errno));
  return 0;
}

int main(int argc, char **argv) {
  opts o;
  parse(argc, argv, &o);
  if (!strcmp(o.cmd, "produce")) return produce(&o);
  if (!strcmp(o.cmd, "consume")) return consume(&o);
  return message(&o);
}
