/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill send: publish messages from a shell, as the channel's producer. */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char send_usage[] =
    "Usage: rill send [OPTIONS] REGION/CHANNEL [MESSAGE...]\n"
    "\n"
    "Joins the channel as its producer and publishes each MESSAGE argument as\n"
    "one message; without arguments, standard input: one message per line\n"
    "(the newline is not part of it; a last line without a newline is a\n"
    "message too; an empty line is an empty message), or with --raw frames of\n"
    "a u32 little-endian length and that many bytes, until end of input.\n"
    "Reliable consumers are never overrun: it waits for their credit.  It\n"
    "leaves the channel when done (waiting consumers then see the producer\n"
    "gone) and prints nothing unless --json.\n"
    "\n"
    "A message over the channel's largest (max_msg) is refused, nothing of it\n"
    "sent, exit 1: with arguments, before any is sent; from standard input,\n"
    "after the messages before it, which were sent as they came.  A frame cut\n"
    "short by the end of input is refused the same way.  A channel has one\n"
    "producer at a time: one whose producer is alive is refused.\n"
    "\n"
    "      --dir DIR             where regions are (default $RILL_DIR, else " OS_DEFAULT_DIR_TEXT ")\n"
    "  -r, --raw                 standard input is length-prefixed frames\n"
    "  -s, --sig N               the sig of every message (default 0)\n"
    "  -c, --ctl N               the application bits of ctl, 0 to 8191\n"
    "                            (default 0)\n"
    "  -w, --wait-consumers N    first wait until N consumers are joined and\n"
    "                            alive, so that they see every message\n"
    "  -t, --timeout DURATION    give up (exit 1) when a wait for consumers or\n"
    "                            for a reliable consumer's credit takes longer:\n"
    "                            0.5, 10s, 2m (default: no limit)\n"
    "      --json                a summary: messages, bytes, first and last seq\n"
    "  -h, --help                this text\n"
    "\n"
    "Exit status: 0 all sent, 1 failure (what was sent before it stays\n"
    "sent), 2 usage.\n";

/* What is sent and how; the counts for the summary. */
struct sender {
  rill_producer *p;
  const char *target;  /* REGION/CHANNEL, for messages */
  uint64_t max_msg;
  uint32_t mtu;
  uint64_t sig;
  uint16_t uctl;       /* RILL_CTL_USER() bits */
  uint64_t timeout;    /* each wait; RILL_FOREVER: none */
  char timeout_text[16]; /* for messages: "2.00 s" */
  uint64_t msgs, bytes, first_seq, last_seq;
};

/* Waits are made of slices of 100 ms, so that Ctrl-C is noticed and the
 * producer leaves properly (consumers then see it gone, not dead). */
#define SLICE_NS 100000000ull

static uint64_t slice(uint64_t deadline) {
  if (deadline == RILL_FOREVER) return SLICE_NS;
  uint64_t now = os_mono_ns();
  if (now >= deadline) return 0;
  return deadline - now < SLICE_NS ? deadline - now : SLICE_NS;
}

static uint64_t deadline_of(uint64_t timeout) {
  return timeout == RILL_FOREVER ? RILL_FOREVER : os_mono_ns() + timeout;
}

/* One try at publishing, waiting up to NS for credit.  rill_send_wait()
 * parks until a consumer frees room; it has no ctl, so with application
 * bits rill_send_many() is retried, waiting for credit for one descriptor
 * between tries (for a message of several fragments, a nap when that is
 * not enough yet). */
static int try_send(struct sender *s, const void *data, size_t n, uint64_t ns) {
  if (!s->uctl) return rill_send_wait(s->p, data, n, s->sig, ns);
  rill_msg m = {.data = n ? data : NULL, .sz = n, .sig = s->sig, .ctl = s->uctl};
  int rc = rill_send_many(s->p, &m, 1);
  if (rc != -RILL_EAGAIN) return rc;
  if (!ns) return -RILL_ETIMEDOUT;
  void *buf;
  size_t one = n < s->mtu ? n : s->mtu;
  if ((rc = rill_reserve_wait(s->p, one, &buf, ns))) return rc;
  rc = rill_send_many(s->p, &m, 1);
  if (rc == -RILL_EAGAIN) os_sleep_ms(1);
  return rc == -RILL_EAGAIN ? -RILL_ETIMEDOUT : rc;
}

/* Publishes one message (its size checked by the caller), waiting for
 * credit as --timeout says.  0, or 1 after saying why. */
static int send_one(struct sender *s, const void *data, size_t n) {
  uint64_t seq = rill_producer_seq(s->p), end = deadline_of(s->timeout);
  for (;;) {
    int rc = try_send(s, data, n, slice(end));
    if (rc == 0) break;
    if (rc != -RILL_ETIMEDOUT) return cli_fail("%s: %s", s->target, rill_strerror(rc));
    if (os_stopped()) return cli_fail("interrupted");
    if (end != RILL_FOREVER && os_mono_ns() >= end)
      return cli_fail("%s: no credit for %s: a reliable consumer does not read "
                      "('rill info %s' shows which)", s->target, s->timeout_text, s->target);
  }
  if (!s->msgs) s->first_seq = seq;
  s->last_seq = seq;
  s->msgs++;
  s->bytes += n;
  return 0;
}

static int too_large(const struct sender *s, const char *what, uint64_t n) {
  return cli_fail("%s: %s is %llu bytes, over the channel's max_msg of %llu: nothing of it "
                  "was sent", s->target, what, (unsigned long long)n,
                  (unsigned long long)s->max_msg);
}

/* ---- the three sources --------------------------------------------------------- */

/* All are checked before any is sent: a bad argument sends nothing. */
static int send_args(struct sender *s, int argc, char **argv) {
  for (int i = 0; i < argc; i++) {
    if (strlen(argv[i]) <= s->max_msg) continue;
    char what[32];
    snprintf(what, sizeof what, "message %d", i + 1);
    return too_large(s, what, strlen(argv[i]));
  }
  for (int i = 0; i < argc; i++)
    if (send_one(s, argv[i], strlen(argv[i]))) return 1;
  return 0;
}

/* A line of F into BUF (room for max_msg bytes), the newline dropped; its
 * length in *N, which may exceed max_msg (the rest is read and dropped).
 * Returns 1, or 0 at the end of input with nothing read. */
static int read_line(FILE *f, uint8_t *buf, uint64_t max, uint64_t *n) {
  int c;
  *n = 0;
  while ((c = getc(f)) != EOF && c != '\n') {
    if (*n < max) buf[*n] = (uint8_t)c;
    (*n)++;
  }
  if (c == EOF && ferror(f)) return 0; /* a part of a line is not sent */
  return c != EOF || *n > 0;
}

/* Each line is sent as soon as it is read: a producer feeding a pipe is
 * followed as it goes. */
static int send_lines(struct sender *s, uint8_t *buf) {
  uint64_t n, line = 0;
  while (read_line(stdin, buf, s->max_msg, &n)) {
    line++;
    if (n > s->max_msg) {
      char what[40];
      snprintf(what, sizeof what, "line %llu", (unsigned long long)line);
      return too_large(s, what, n);
    }
    if (send_one(s, buf, (size_t)n)) return 1;
  }
  if (os_stopped()) return cli_fail("interrupted");
  if (ferror(stdin)) return cli_fail("standard input: read error");
  return 0;
}

/* Frames: u32 little-endian length, then that many bytes (what 'rill tail
 * --raw' writes).  A frame is read whole before it is sent. */
static int send_frames(struct sender *s, uint8_t *buf) {
  uint64_t off = 0;
  for (;;) {
    uint8_t h[4];
    size_t got = fread(h, 1, sizeof h, stdin);
    if (got == 0 && !ferror(stdin)) break;
    if (got < sizeof h) {
      if (ferror(stdin)) break;
      return cli_fail("standard input: truncated frame at byte offset %llu: %u of the "
                      "4 bytes of its length", (unsigned long long)off, (unsigned)got);
    }
    uint64_t n = (uint64_t)h[0] | (uint64_t)h[1] << 8 | (uint64_t)h[2] << 16 |
                 (uint64_t)h[3] << 24;
    if (n > s->max_msg) {
      char what[64];
      snprintf(what, sizeof what, "the frame at byte offset %llu", (unsigned long long)off);
      return too_large(s, what, n);
    }
    if ((got = fread(buf, 1, (size_t)n, stdin)) < n) {
      if (ferror(stdin)) break;
      return cli_fail("standard input: truncated frame at byte offset %llu: its length says "
                      "%llu bytes, %llu follow", (unsigned long long)off,
                      (unsigned long long)n, (unsigned long long)got);
    }
    if (send_one(s, buf, (size_t)n)) return 1;
    off += 4 + n;
  }
  if (os_stopped()) return cli_fail("interrupted");
  if (ferror(stdin)) return cli_fail("standard input: read error");
  return 0;
}

/* ---- joining ------------------------------------------------------------------- */

/* Waits for N live consumers, in slices (Ctrl-C).  0, or 1 after saying
 * why. */
static int wait_consumers(struct sender *s, uint32_t n) {
  uint64_t end = deadline_of(s->timeout);
  for (;;) {
    int rc = rill_producer_wait_consumers(s->p, n, slice(end));
    if (rc >= 0) return 0;
    if (rc != -RILL_ETIMEDOUT) return cli_fail("%s: %s", s->target, rill_strerror(rc));
    if (os_stopped()) return cli_fail("interrupted");
    if (end != RILL_FOREVER && os_mono_ns() >= end)
      return cli_fail("%s: fewer than %u consumers joined in %s", s->target, n,
                      s->timeout_text);
  }
}

/* The producer's place: why it is taken, naming its process. */
static int busy(rill_region *r, const char *chan, const char *target) {
  rill_channel_stats st;
  if (rill_channel_stats_get(r, chan, &st) == 0 && st.producer_pid)
    return cli_fail("%s has a live producer already (pid %u): a channel has one producer at "
                    "a time", target, st.producer_pid);
  return cli_fail("%s has a live producer already: a channel has one producer at a time",
                  target);
}

static void summary(const struct sender *s) {
  cli_json j;
  cli_json_init(&j, stdout);
  cli_json_obj(&j, NULL);
  cli_json_str(&j, "channel", s->target);
  cli_json_u64(&j, "messages", s->msgs);
  cli_json_u64(&j, "bytes", s->bytes);
  if (s->msgs) {
    cli_json_u64(&j, "first_seq", s->first_seq);
    cli_json_u64(&j, "last_seq", s->last_seq);
  } else {
    cli_json_null(&j, "first_seq");
    cli_json_null(&j, "last_seq");
  }
  cli_json_end(&j, '}');
  cli_json_done(&j);
}

int cmd_send(int argc, char **argv) {
  static const struct option opts[] = {
      {"dir", required_argument, 0, CLI_OPT_DIR}, {"raw", no_argument, 0, 'r'},
      {"sig", required_argument, 0, 's'},         {"ctl", required_argument, 0, 'c'},
      {"wait-consumers", required_argument, 0, 'w'},
      {"timeout", required_argument, 0, 't'},     {"json", no_argument, 0, 'j'},
      {"help", no_argument, 0, 'h'},              {0, 0, 0, 0}};
  const char *dir = cli_dir;
  struct sender s = {.timeout = RILL_FOREVER};
  int raw = 0, json = 0, o;
  uint64_t v, want = 0;
  while ((o = getopt_long(argc, argv, ":rs:c:w:t:h", opts, NULL)) != -1) {
    switch (o) {
    case CLI_OPT_DIR: dir = optarg; break;
    case 'r': raw = 1; break;
    case 's':
      if (cli_parse_u64(optarg, 1, &s.sig) || strpbrk(optarg, "kKmMgG"))
        return cli_usage("--sig: '%s' is not a number from 0 to 2^64-1", optarg);
      break;
    case 'c':
      if (cli_parse_u64(optarg, 1, &v) || v > 8191 || strpbrk(optarg, "kKmMgG"))
        return cli_usage("--ctl: '%s' is not a number from 0 to 8191", optarg);
      s.uctl = RILL_CTL_USER(v);
      break;
    case 'w':
      if (cli_parse_u64(optarg, 1, &want) || want == 0 || want > 256)
        return cli_usage("--wait-consumers: '%s' is not a number from 1 to 256", optarg);
      break;
    case 't':
      if (cli_parse_duration(optarg, &s.timeout))
        return cli_usage("--timeout: '%s' is not a duration (0.5, 10s, 2m)", optarg);
      cli_ns(s.timeout_text, (double)s.timeout);
      break;
    case 'j': json = 1; break;
    case 'h': fputs(send_usage, stdout); return 0;
    default: return cli_bad_option(o, argv);
    }
  }
  if (optind >= argc) return cli_usage("which REGION/CHANNEL?");
  char region[RILL_NAME_MAX + 1], chan[RILL_NAME_MAX + 1];
  if (cli_split(argv[optind], region, chan) || !chan[0])
    return cli_usage("'%s' is not REGION/CHANNEL", argv[optind]);
  s.target = argv[optind++];
  if (raw && optind < argc) return cli_usage("--raw reads standard input: no MESSAGE arguments");

  rill_region_opts ro = {.dir = dir};
  rill_region *r;
  int rc = rill_region_open(region, &ro, &r);
  if (rc) return cli_fail("%s (in %s): %s", region, cli_dir_name(dir), rill_strerror(rc));
  rill_channel_stats st;
  if (!(rc = rill_channel_stats_get(r, chan, &st))) rc = rill_producer_join(r, chan, &s.p);
  if (rc) {
    rc = rc == -RILL_EBUSY ? busy(r, chan, s.target)
                           : cli_fail("%s: %s", s.target, rill_strerror(rc));
    rill_region_close(r);
    return rc;
  }
  s.max_msg = st.max_msg;
  s.mtu = st.mtu;
  os_catch_stop();
  if (want > st.max_consumers) {
    rc = cli_fail("%s: --wait-consumers %llu, but the channel has %u consumer slots", s.target,
                  (unsigned long long)want, st.max_consumers);
  } else if (!want || !(rc = wait_consumers(&s, (uint32_t)want))) {
    uint8_t *buf = optind < argc ? NULL : malloc(s.max_msg ? s.max_msg : 1);
    if (optind < argc) rc = send_args(&s, argc - optind, argv + optind);
    else if (!buf) rc = cli_fail("%s", rill_strerror(-RILL_ENOMEM));
    else if (raw && os_stdin_binary()) rc = cli_fail("standard input: cannot read it as bytes");
    else rc = raw ? send_frames(&s, buf) : send_lines(&s, buf);
    free(buf);
  }
  rill_producer_leave(s.p);
  rill_region_close(r);
  if (json) summary(&s);
  return rc;
}
