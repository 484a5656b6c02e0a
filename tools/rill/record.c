/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill record: a channel's messages into a file (docs/recording.md), for
 * rill replay to publish again. */
#include "cli.h"
#include "recfile.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char record_usage[] =
    "Usage: rill record [OPTIONS] REGION/CHANNEL FILE\n"
    "\n"
    "Records the channel's messages into FILE ('-': standard output) in the\n"
    "format of docs/recording.md: each message whole (its fragments put\n"
    "together) with its seq, sig, ctl, tsorig and tspub.  It joins as a lossy\n"
    "consumer, which never slows the producer: when the producer laps it, the\n"
    "file says which sequence numbers were lost.  With --reliable it loses\n"
    "nothing, and the producer waits for it when it falls behind.\n"
    "\n"
    "It stops after --count messages, after --duration, when interrupted\n"
    "(Ctrl-C, SIGTERM) or, with --until-closed, when the producer leaves; the\n"
    "file is closed properly each way.  A write that fails (a full disk) stops\n"
    "it with an error, and the file keeps every record written before: it is\n"
    "valid ('rill replay --check FILE').\n"
    "\n"
    "      --dir DIR        where regions are (default $RILL_DIR, else " OS_DEFAULT_DIR_TEXT ")\n"
    "  -r, --reliable       join as a reliable consumer (nothing lost; the\n"
    "                       producer waits for the recorder)\n"
    "  -l, --last N         begin with the last N messages still in the ring\n"
    "                       (lossy only; default 0: the new ones)\n"
    "  -c, --count N        stop after N messages\n"
    "  -d, --duration D     stop after D: 90, 1.5m, 2h (no unit: seconds)\n"
    "  -e, --until-closed   stop when the producer leaves or dies, once all it\n"
    "                       published is recorded (else wait for another)\n"
    "  -z, --compress       compress with zstd, level 3, in blocks of 1 MiB\n"
    "      --zstd[=LEVEL]   the same at LEVEL, 1 to 19\n"
    "  -j, --json           the summary at exit in JSON\n"
    "  -q, --quiet          no summary\n"
    "  -h, --help           this text\n"
    "\n"
    "The summary goes to standard output (to standard error when FILE is '-').\n"
    "Exit status: 0 when done (or interrupted), 1 on failure, 2 usage.\n";

enum { O_ZSTD = 0x200 };

typedef struct rec_opts {
  const char *dir, *file;
  int mode, until_closed, level, json, quiet;
  uint64_t last, count, duration_ns;
} rec_opts;

static int parse(int argc, char **argv, rec_opts *o, char *region, char *chan) {
  static const struct option opts[] = {
      {"dir", required_argument, 0, CLI_OPT_DIR}, {"reliable", no_argument, 0, 'r'},
      {"last", required_argument, 0, 'l'},        {"count", required_argument, 0, 'c'},
      {"duration", required_argument, 0, 'd'},    {"until-closed", no_argument, 0, 'e'},
      {"compress", no_argument, 0, 'z'},          {"zstd", optional_argument, 0, O_ZSTD},
      {"json", no_argument, 0, 'j'},              {"quiet", no_argument, 0, 'q'},
      {"help", no_argument, 0, 'h'},              {0, 0, 0, 0}};
  int c, last_given = 0;
  while ((c = getopt_long(argc, argv, ":rl:c:d:ezjqh", opts, NULL)) != -1) {
    uint64_t v;
    switch (c) {
    case CLI_OPT_DIR: o->dir = optarg; break;
    case 'r': o->mode = RILL_RELIABLE; break;
    case 'l':
      if (cli_parse_u64(optarg, 1, &o->last)) return cli_usage("--last: '%s' is not a count", optarg);
      last_given = 1;
      break;
    case 'c':
      if (cli_parse_u64(optarg, 1, &o->count) || !o->count)
        return cli_usage("--count: '%s' is not a count above 0", optarg);
      break;
    case 'd':
      if (cli_parse_duration(optarg, &o->duration_ns) || !o->duration_ns)
        return cli_usage("--duration: '%s' is not a duration above 0", optarg);
      break;
    case 'e': o->until_closed = 1; break;
    case 'z': o->level = 3; break;
    case O_ZSTD:
      o->level = 3;
      if (optarg && (cli_parse_u64(optarg, 1, &v) || v < 1 || v > 19))
        return cli_usage("--zstd: '%s' is not a level from 1 to 19", optarg);
      if (optarg) o->level = (int)v;
      break;
    case 'j': o->json = 1; break;
    case 'q': o->quiet = 1; break;
    case 'h': fputs(record_usage, stdout); return 0;
    default: return cli_bad_option(c, argv);
    }
  }
  if (optind != argc - 2) return cli_usage("REGION/CHANNEL and FILE, please");
  if (cli_split(argv[optind], region, chan) || !chan[0])
    return cli_usage("'%s' is not REGION/CHANNEL", argv[optind]);
  if (last_given && o->mode == RILL_RELIABLE)
    return cli_usage("--last is for a lossy recorder (a reliable one cannot go back)");
  o->file = argv[optind + 1];
  if (o->level && !recfile_have_zstd())
    return cli_fail("--compress: this rill was built without libzstd (Debian: apt-get install "
                    "libzstd-dev, then build rill again)");
  return -1;
}

/* What a recording did, for the summary. */
typedef struct rec_run {
  const char *stopped; /* count, duration, interrupted, closed, error */
  char error[320];
  uint64_t msgs, bytes, lost, size;
} rec_run;

static void summary(const rec_opts *o, const rec_run *run) {
  FILE *f = strcmp(o->file, "-") ? stdout : stderr;
  if (o->json) {
    cli_json j;
    cli_json_init(&j, f);
    cli_json_obj(&j, NULL);
    cli_json_str(&j, "file", o->file);
    cli_json_u64(&j, "messages", run->msgs);
    cli_json_u64(&j, "bytes", run->bytes);
    cli_json_u64(&j, "lost", run->lost);
    cli_json_u64(&j, "file_size", run->size);
    cli_json_str(&j, "compression", o->level ? "zstd" : "none");
    cli_json_str(&j, "mode", cli_mode((uint32_t)o->mode));
    cli_json_str(&j, "stopped", run->stopped);
    if (run->error[0]) cli_json_str(&j, "error", run->error);
    else cli_json_null(&j, "error");
    cli_json_end(&j, '}');
    cli_json_done(&j);
  } else if (!o->quiet) {
    char b1[16], b2[16];
    fprintf(f, "recorded %llu messages (%s), %llu lost, into %s (%s)\n",
            (unsigned long long)run->msgs, cli_bytes(b1, (double)run->bytes),
            (unsigned long long)run->lost, o->file, cli_bytes(b2, (double)run->size));
  }
  fflush(f);
}

/* Receives and writes until a stop; the reason in run->stopped (and
 * run->error when it failed). */
static void record(rill_consumer *c, recfile_writer *w, const rec_opts *o, const char *name,
                   uint64_t t0, uint8_t *buf, uint64_t cap, rec_run *run) {
  uint64_t deadline = o->duration_ns ? t0 + o->duration_ns : 0, last_flush = t0;
  int gone_said = 0;
  for (;;) {
    if (os_stopped()) {
      run->stopped = "interrupted";
      return;
    }
    if (o->count && w->msgs + w->pend_msgs >= o->count) {
      run->stopped = "count";
      return;
    }
    uint64_t now = os_mono_ns(), wait = 100000000ull; /* slices: a signal is noticed */
    if (deadline && now >= deadline) {
      run->stopped = "duration";
      return;
    }
    if (deadline && deadline - now < wait) wait = deadline - now;
    /* what a kill -9 could take is at most a second's worth */
    if (now - last_flush >= 1000000000ull) {
      if (recfile_flush(w)) break;
      last_flush = now;
    }
    rill_meta m;
    int64_t n = rill_recv_wait(c, buf, cap, &m, wait);
    if (n >= 0) {
      uint64_t rx = os_mono_ns() - t0;
      if (m.lost && recfile_put_loss(w, m.seq - m.lost, m.lost, rx)) break;
      if (recfile_put_msg(w, &m, buf, rx)) break;
      gone_said = 0;
      continue;
    }
    if (n == -RILL_EAGAIN || n == -RILL_ETIMEDOUT) {
      /* idle: what is pending goes to the file now */
      if (recfile_flush(w)) break;
      last_flush = os_mono_ns();
      continue;
    }
    if (n == -RILL_ECLOSED || n == -RILL_EDEAD) {
      if (o->until_closed) {
        run->stopped = "closed";
        return;
      }
      if (!gone_said)
        cli_warn("%s: the producer %s; waiting for another", name,
                 n == -RILL_ECLOSED ? "left" : "died");
      gone_said = 1;
      if (recfile_flush(w)) break;
      os_sleep_ms(100); /* nothing wakes us now: look again every 100 ms */
      continue;
    }
    run->stopped = "error";
    snprintf(run->error, sizeof run->error, "%s: %s", name, rill_strerror((int)n));
    return;
  }
  run->stopped = "error";
  snprintf(run->error, sizeof run->error, "%s: %s", o->file, strerror(w->err));
}

int cmd_record(int argc, char **argv) {
  rec_opts o = {.dir = cli_dir, .mode = RILL_LOSSY};
  char region[RILL_NAME_MAX + 1], chan[RILL_NAME_MAX + 1], name[2 * RILL_NAME_MAX + 2];
  int rc = parse(argc, argv, &o, region, chan);
  if (rc >= 0) return rc;
  snprintf(name, sizeof name, "%s/%s", region, chan);

  rill_region_opts ro = {.dir = o.dir};
  rill_region *r;
  rc = rill_region_open(region, &ro, &r);
  if (rc) return cli_fail("%s (in %s): %s", region, cli_dir_name(o.dir), rill_strerror(rc));
  rill_channel_stats st;
  rill_consumer *c = NULL;
  rc = rill_channel_stats_get(r, chan, &st);
  if (!rc && st.max_msg > RECFILE_MAX_MSG) {
    rill_region_close(r);
    return cli_fail("%s: messages of up to %llu bytes; a recording holds them up to %u", name,
                    (unsigned long long)st.max_msg, RECFILE_MAX_MSG);
  }
  if (!rc) rc = rill_consumer_join(r, chan, o.mode, &c);
  if (rc) {
    rill_region_close(r);
    return cli_fail("%s: %s%s", name, rill_strerror(rc),
                    rc == -RILL_EFULL ? " (every consumer slot is taken)" : "");
  }
  if (o.mode == RILL_LOSSY) rill_consumer_seek_last(c, o.last);
  uint8_t *buf = malloc(st.max_msg ? st.max_msg : 1);
  recfile_info info = {.start_real_ns = os_real_ns(), .start_mono_ns = os_mono_ns(),
                       .max_msg = st.max_msg, .depth = st.depth, .mtu = st.mtu,
                       .max_consumers = st.max_consumers, .mode = (uint16_t)o.mode};
  strcpy(info.region, region);
  strcpy(info.channel, chan);
  recfile_writer w;
  int err = buf ? recfile_create(&w, o.file, &info, o.level) : ENOMEM;
  if (err) {
    free(buf);
    rill_consumer_leave(c);
    rill_region_close(r);
    return cli_fail("%s: %s", o.file, strerror(err));
  }
  /* Interrupted: the file is closed with its end record, the slot left. */
  os_catch_stop();
  os_ignore_sigpipe();

  rec_run run = {0};
  record(c, &w, &o, name, info.start_mono_ns, buf, st.max_msg ? st.max_msg : 1, &run);
  /* a reliable recorder leaves first: its producer need not wait for the
   * file to be closed */
  free(buf);
  rill_consumer_leave(c);
  rill_region_close(r);
  uint64_t end_mono = os_mono_ns();
  if (recfile_close(&w, os_real_ns(), end_mono - info.start_mono_ns) && !run.error[0]) {
    run.stopped = "error";
    snprintf(run.error, sizeof run.error, "%s: %s", o.file, strerror(w.err));
  }
  run.msgs = w.msgs, run.bytes = w.bytes, run.lost = w.lost, run.size = w.off;
  summary(&o, &run);
  if (!run.error[0]) return 0;
  return cli_fail("%s; the file keeps the %llu messages recorded before (it is valid)", run.error,
                  (unsigned long long)run.msgs);
}
