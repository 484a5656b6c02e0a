/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill replay: a recording (rill record, docs/recording.md) published
 * into a channel again, or checked. */
#include "cli.h"
#include "recfile.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char replay_usage[] =
    "Usage: rill replay [OPTIONS] FILE REGION/CHANNEL\n"
    "       rill replay --check [--dump] [--json] FILE\n"
    "\n"
    "Publishes a recording made by 'rill record' ('-': from standard input)\n"
    "into the channel, as its producer: each message with its sig, its ctl\n"
    "(ERR and the application's bits) and its tsorig; the channel gives it a\n"
    "new seq and tspub.  By default with the spacing it was recorded with;\n"
    "it waits for credit when a reliable consumer is behind, so it drops\n"
    "nothing.  What the recorder lost is not there to replay: the summary\n"
    "counts it.  A recording that is cut short or corrupt is replayed up to\n"
    "the bad record, then it fails, naming the record.\n"
    "\n"
    "With --check it publishes nothing: it reads the whole file, checks every\n"
    "record, and says what the file holds.\n"
    "\n"
    "      --dir DIR            where regions are (default $RILL_DIR, else " OS_DEFAULT_DIR_TEXT ")\n"
    "  -s, --speed X            X times as fast as recorded (0.5: half as fast)\n"
    "  -m, --max                as fast as the channel takes them\n"
    "  -C, --create             create the region and the channel when missing,\n"
    "                           with the recording's depth, mtu, consumer slots\n"
    "                           and largest message\n"
    "      --size BYTES         --create: the region's size (default: room for\n"
    "                           the channel)\n"
    "  -w, --wait-consumers N   first wait until N consumers are joined\n"
    "  -t, --timeout D          wait for them D at most (90, 1.5m; default: no\n"
    "                           limit)\n"
    "  -k, --check              check FILE only (no REGION/CHANNEL)\n"
    "  -D, --dump               with --check: each message as a JSON line, as\n"
    "                           'rill tail --json' prints it, and each loss as\n"
    "                           {\"lost\":N,\"seq\":FIRST}\n"
    "  -j, --json               the summary in JSON\n"
    "  -q, --quiet              no summary\n"
    "  -h, --help               this text\n"
    "\n"
    "Exit status: 0 when done (or interrupted), 1 on failure (a bad record\n"
    "too), 2 usage.\n";

enum { O_SIZE = 0x200 };

typedef struct rp_opts {
  const char *dir, *file;
  double speed;
  int max, create, check, dump, json, quiet;
  uint64_t size, consumers, timeout_ns;
} rp_opts;

static int parse(int argc, char **argv, rp_opts *o, char *region, char *chan) {
  static const struct option opts[] = {
      {"dir", required_argument, 0, CLI_OPT_DIR}, {"speed", required_argument, 0, 's'},
      {"max", no_argument, 0, 'm'},               {"create", no_argument, 0, 'C'},
      {"size", required_argument, 0, O_SIZE},     {"wait-consumers", required_argument, 0, 'w'},
      {"timeout", required_argument, 0, 't'},     {"check", no_argument, 0, 'k'},
      {"dump", no_argument, 0, 'D'},              {"json", no_argument, 0, 'j'},
      {"quiet", no_argument, 0, 'q'},             {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  int c, speed_given = 0;
  while ((c = getopt_long(argc, argv, ":s:mCw:t:kDjqh", opts, NULL)) != -1) {
    switch (c) {
    case CLI_OPT_DIR: o->dir = optarg; break;
    case 's':
      if (cli_parse_secs(optarg, &o->speed))
        return cli_usage("--speed: '%s' is not a number above 0", optarg);
      speed_given = 1;
      break;
    case 'm': o->max = 1; break;
    case 'C': o->create = 1; break;
    case O_SIZE:
      if (cli_parse_u64(optarg, 0, &o->size) || !o->size)
        return cli_usage("--size: '%s' is not a size", optarg);
      break;
    case 'w':
      if (cli_parse_u64(optarg, 1, &o->consumers) || !o->consumers || o->consumers > 256)
        return cli_usage("--wait-consumers: '%s' is not a count from 1 to 256", optarg);
      break;
    case 't':
      if (cli_parse_duration(optarg, &o->timeout_ns))
        return cli_usage("--timeout: '%s' is not a duration", optarg);
      break;
    case 'k': o->check = 1; break;
    case 'D': o->dump = 1; break;
    case 'j': o->json = 1; break;
    case 'q': o->quiet = 1; break;
    case 'h': fputs(replay_usage, stdout); return 0;
    default: return cli_bad_option(c, argv);
    }
  }
  if (o->dump && !o->check) return cli_usage("--dump goes with --check");
  if (o->check) {
    if (optind != argc - 1) return cli_usage("--check reads one FILE, and publishes nothing");
    if (speed_given || o->max || o->create || o->size || o->consumers)
      return cli_usage("--check publishes nothing: no --speed, --max, --create, --wait-consumers");
    o->file = argv[optind];
    return -1;
  }
  if (optind != argc - 2) return cli_usage("FILE and REGION/CHANNEL, please");
  if (speed_given && o->max) return cli_usage("--speed or --max, not both");
  if (o->size && !o->create) return cli_usage("--size goes with --create");
  o->file = argv[optind];
  if (cli_split(argv[optind + 1], region, chan) || !chan[0])
    return cli_usage("'%s' is not REGION/CHANNEL", argv[optind + 1]);
  return -1;
}

/* ---- what was read -------------------------------------------------------------- */

typedef struct rp_count {
  uint64_t msgs, bytes, lost, losses, first_seq, last_seq, last_rx;
  int complete;
} rp_count;

static void count(rp_count *n, const recfile_rec *rec) {
  if (rec->type == RECFILE_MSG) {
    if (!n->msgs) n->first_seq = rec->seq;
    n->last_seq = rec->seq;
    n->msgs++, n->bytes += rec->size;
  } else if (rec->type == RECFILE_LOSS) {
    n->lost += rec->count, n->losses++;
  } else {
    n->complete = 1;
  }
  if (rec->type != RECFILE_END) n->last_rx = rec->rx_ns;
  else n->last_rx = rec->end_rx_ns;
}

/* "FILE: record N (at byte X): WHY" for a reading that stopped. */
static void bad_record(const recfile_reader *r, const char *file, char *buf, size_t cap) {
  const char *kind = r->status == RECFILE_TRUNCATED ? "cut short"
                     : r->status == RECFILE_CORRUPT ? "corrupt"
                                                    : "cannot be read";
  if (r->bad_in_block) /* the offset is the block's */
    snprintf(buf, cap, "%s: record %llu (in the block at byte %llu) %s: %s", file,
             (unsigned long long)r->bad_index, (unsigned long long)r->bad_off, kind, r->err);
  else
    snprintf(buf, cap, "%s: record %llu (at byte %llu) %s: %s", file,
             (unsigned long long)r->bad_index, (unsigned long long)r->bad_off, kind, r->err);
}

static const char *compression_name(uint16_t c) {
  return c == RECFILE_NONE ? "none" : c == RECFILE_ZSTD ? "zstd" : "unknown";
}

static void json_header(cli_json *j, const recfile_info *i) {
  cli_json_str(j, "region", i->region);
  cli_json_str(j, "channel", i->channel);
  cli_json_u64(j, "depth", i->depth);
  cli_json_u64(j, "mtu", i->mtu);
  cli_json_u64(j, "max_msg", i->max_msg);
  cli_json_u64(j, "max_consumers", i->max_consumers);
  cli_json_str(j, "mode", cli_mode(i->mode));
  cli_json_str(j, "compression", compression_name(i->compression));
  cli_json_u64(j, "start_real_ns", i->start_real_ns);
}

/* The summary of a check or a replay: BAD is the failure, or "". */
static void summary(const rp_opts *o, const recfile_reader *r, const rp_count *n, const char *bad,
                    const char *target, double secs) {
  if (o->quiet) return;
  const recfile_info *i = &r->info;
  if (o->json) {
    cli_json j;
    cli_json_init(&j, stdout);
    cli_json_obj(&j, NULL);
    cli_json_str(&j, "file", o->file);
    if (target) cli_json_str(&j, "target", target);
    json_header(&j, i);
    cli_json_u64(&j, "records", r->index);
    cli_json_u64(&j, "messages", n->msgs);
    cli_json_u64(&j, "bytes", n->bytes);
    cli_json_u64(&j, "lost", n->lost);
    cli_json_u64(&j, "losses", n->losses);
    if (n->msgs) cli_json_u64(&j, "first_seq", n->first_seq), cli_json_u64(&j, "last_seq", n->last_seq);
    else cli_json_null(&j, "first_seq"), cli_json_null(&j, "last_seq");
    cli_json_u64(&j, "duration_ns", n->last_rx);
    cli_json_bool(&j, "complete", n->complete);
    cli_json_bool(&j, "valid", !bad[0]);
    if (target) cli_json_num(&j, "seconds", secs);
    if (bad[0]) {
      cli_json_str(&j, "error", bad);
      cli_json_bool(&j, "truncated", r->status == RECFILE_TRUNCATED);
      cli_json_u64(&j, "error_record", r->bad_index);
      cli_json_u64(&j, "error_offset", r->bad_off);
    } else {
      cli_json_null(&j, "error");
    }
    cli_json_end(&j, '}');
    cli_json_done(&j);
  } else {
    char b[16], when[32], d[16];
    struct tm tm;
    time_t t = (time_t)(i->start_real_ns / 1000000000u);
    if (os_gmtime(t, &tm)) snprintf(when, sizeof when, "?");
    else strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (target) {
      printf("replayed %llu messages (%s) into %s in %s", (unsigned long long)n->msgs,
             cli_bytes(b, (double)n->bytes), target, cli_ns(d, secs * 1e9));
      if (n->lost) printf("; %llu lost when recorded", (unsigned long long)n->lost);
      putchar('\n');
    } else {
      printf("%s: a recording of %s/%s (depth %u, mtu %u, messages up to %llu bytes, %u "
             "consumer slots), %s, compression %s\n",
             o->file, i->region, i->channel, i->depth, i->mtu, (unsigned long long)i->max_msg,
             i->max_consumers, cli_mode(i->mode), compression_name(i->compression));
      printf("started %s, %s long: %llu messages (%s)", when, cli_ns(d, (double)n->last_rx),
             (unsigned long long)n->msgs, cli_bytes(b, (double)n->bytes));
      if (n->msgs)
        printf(", seq %llu to %llu", (unsigned long long)n->first_seq,
               (unsigned long long)n->last_seq);
      printf(", %llu lost in %llu gaps\n", (unsigned long long)n->lost,
             (unsigned long long)n->losses);
      if (!bad[0])
        puts(n->complete ? "every record intact; closed by the recorder"
                         : "every record intact; not closed by the recorder (it was killed, "
                           "its disk was full, or the file was cut where a record ends)");
    }
  }
  fflush(stdout);
}

/* ---- check ----------------------------------------------------------------------- */

static int check(const rp_opts *o) {
  recfile_reader r;
  char bad[512] = "";
  int rc;
  if (recfile_open(&r, o->file)) {
    rc = cli_fail("%s: %s", o->file, r.err);
    recfile_close_reader(&r);
    return rc;
  }
  rp_count n = {0};
  recfile_rec rec;
  while ((rc = recfile_next(&r, &rec)) > 0) {
    count(&n, &rec);
    if (!o->dump) continue;
    if (rec.type == RECFILE_MSG) {
      rill_meta m = {.seq = rec.seq, .sig = rec.sig, .sz = rec.size, .ctl = rec.ctl,
                     .tsorig = rec.tsorig, .tspub = rec.tspub};
      cli_msg_json(stdout, &m, rec.payload, rec.size);
    } else if (rec.type == RECFILE_LOSS) {
      printf("{\"lost\":%llu,\"seq\":%llu}\n", (unsigned long long)rec.count,
             (unsigned long long)rec.seq);
    }
  }
  if (rc < 0) bad_record(&r, o->file, bad, sizeof bad);
  if (!o->dump) summary(o, &r, &n, bad, NULL, 0);
  recfile_close_reader(&r);
  if (!bad[0]) return 0;
  return cli_fail("%s; the %llu messages before it are intact", bad, (unsigned long long)n.msgs);
}

/* ---- replay ---------------------------------------------------------------------- */

/* The channel to publish into, made with --create if missing. */
static int open_target(const rp_opts *o, const recfile_info *i, const char *region,
                       const char *chan, rill_region **out) {
  rill_region_opts ro = {.dir = o->dir};
  rill_channel_opts co = {.depth = i->depth, .mtu = i->mtu, .max_consumers = i->max_consumers,
                          .max_msg = i->max_msg};
  int rc = rill_region_open(region, &ro, out);
  if (rc == -RILL_ENOENT && o->create) {
    uint64_t fp = rill_channel_footprint(&co);
    if (!fp) return cli_fail("%s: the recording's channel geometry is not valid", o->file);
    /* the channel, and room for the region's header and table */
    ro.size = o->size ? o->size : fp + (1u << 20);
    rc = rill_region_create(region, &ro, out);
    if (rc == -RILL_EEXIST) rc = rill_region_open(region, &ro, out); /* made meanwhile */
  }
  if (rc) return cli_fail("%s (in %s): %s", region, cli_dir_name(o->dir), rill_strerror(rc));
  if (o->create) {
    rc = rill_channel_create(*out, chan, &co);
    if (rc && rc != -RILL_EEXIST) {
      rill_region_close(*out);
      return cli_fail("%s/%s: %s", region, chan, rill_strerror(rc));
    }
  }
  return 0;
}

/* Waits until the recording's time for a message RX ns in (scaled), or
 * a stop.  Sleeps in slices, so that a signal is noticed. */
static void pace(uint64_t t0, double due_ns) {
  for (;;) {
    double now = (double)(os_mono_ns() - t0);
    if (now + 1e6 > due_ns || os_stopped()) return; /* within a millisecond */
    double ms = (due_ns - now) / 1e6;
    os_sleep_ms(ms > 100 ? 100u : (unsigned)ms);
  }
}

/* Publishes M, waiting for credit (a reliable consumer behind).  0, or a
 * negative RILL_E code (-RILL_EAGAIN: stopped while waiting). */
static int publish(rill_producer *p, const rill_msg *m) {
  for (int tries = 0;; tries++) {
    int rc = rill_send_many(p, m, 1);
    if (rc != -RILL_EAGAIN || os_stopped()) return rc;
    /* room for one fragment: wait for it; a message of many may need
     * more, so later tries pause a millisecond rather than spin */
    void *buf;
    if (!rill_reserve_wait(p, 1, &buf, 100000000ull) && tries) os_sleep_ms(1);
  }
}

/* The gap to the message before: its tspub's when both were stamped
 * (the producer's own clock) and near enough for 32 bits to tell; else
 * the recorder's. */
static uint64_t gap(const recfile_rec *prev, const recfile_rec *cur) {
  uint64_t rx = cur->rx_ns - prev->rx_ns;
  if (prev->tspub && cur->tspub && rx < (1ull << 31)) return (uint32_t)(cur->tspub - prev->tspub);
  return rx;
}

static int replay(const rp_opts *o, const char *region, const char *chan) {
  recfile_reader r;
  int rc;
  if (recfile_open(&r, o->file)) {
    rc = cli_fail("%s: %s", o->file, r.err);
    recfile_close_reader(&r);
    return rc;
  }
  char target[2 * RILL_NAME_MAX + 2], bad[512] = "";
  snprintf(target, sizeof target, "%s/%s", region, chan);
  rill_region *reg;
  rill_producer *p = NULL;
  rc = open_target(o, &r.info, region, chan, &reg);
  if (rc) {
    recfile_close_reader(&r);
    return rc;
  }
  rc = rill_producer_join(reg, chan, &p);
  if (rc) {
    rill_region_close(reg);
    recfile_close_reader(&r);
    return cli_fail("%s: %s%s", target, rill_strerror(rc),
                    rc == -RILL_EBUSY ? " (it has a producer)" : "");
  }
  os_catch_stop();
  if (o->consumers) {
    uint64_t end = o->timeout_ns ? os_mono_ns() + o->timeout_ns : 0;
    while (!os_stopped()) {
      uint64_t now = os_mono_ns(), slice = 100000000ull;
      if (end && now >= end) {
        snprintf(bad, sizeof bad, "%s: %llu consumers did not come", target,
                 (unsigned long long)o->consumers);
        break;
      }
      if (end && end - now < slice) slice = end - now;
      rc = rill_producer_wait_consumers(p, (uint32_t)o->consumers, slice);
      if (rc >= 0) break;
      if (rc != -RILL_ETIMEDOUT) {
        snprintf(bad, sizeof bad, "%s: %s", target, rill_strerror(rc));
        break;
      }
    }
  }
  rp_count n = {0};
  recfile_rec rec, prev = {0};
  uint64_t t0 = os_mono_ns();
  double due = 0;
  int got_prev = 0;
  while (!bad[0] && !os_stopped()) {
    rc = recfile_next(&r, &rec);
    if (rc < 0) bad_record(&r, o->file, bad, sizeof bad);
    if (rc <= 0) break;
    if (rec.type == RECFILE_MSG) {
      if (!o->max && got_prev) {
        due += (double)gap(&prev, &rec) / o->speed;
        pace(t0, due);
      }
      rill_msg m = {.data = rec.payload, .sz = rec.size, .sig = rec.sig,
                    .ctl = (uint16_t)(rec.ctl & ~RILL_CTL_MSG), .tsorig = rec.tsorig};
      rc = publish(p, &m);
      if (rc == -RILL_EAGAIN) break; /* stopped */
      if (rc) {
        snprintf(bad, sizeof bad, "%s: record %llu, a message of %u bytes: %s", target,
                 (unsigned long long)(r.index - 1), rec.size, rill_strerror(rc));
        break;
      }
      prev = rec, got_prev = 1;
    }
    count(&n, &rec);
  }
  double secs = (double)(os_mono_ns() - t0) / 1e9;
  /* leaving says "closed" to the consumers once they have read it all */
  rill_producer_leave(p);
  rill_region_close(reg);
  summary(o, &r, &n, bad, target, secs);
  recfile_close_reader(&r);
  if (!bad[0]) return 0;
  return cli_fail("%s; the %llu messages before it were replayed", bad, (unsigned long long)n.msgs);
}

int cmd_replay(int argc, char **argv) {
  rp_opts o = {.dir = cli_dir, .speed = 1};
  char region[RILL_NAME_MAX + 1], chan[RILL_NAME_MAX + 1];
  int rc = parse(argc, argv, &o, region, chan);
  if (rc >= 0) return rc;
  return o.check ? check(&o) : replay(&o, region, chan);
}
