/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill wait: block until a region, a channel, its producer or its
 * consumers are there, for scripts and the start-up order of containers. */
#include "cli.h"

#include <getopt.h>
#include <string.h>

static const char wait_usage[] =
    "Usage: rill wait [--dir DIR] [--timeout DURATION] [--producer] [--consumers N]\n"
    "                 REGION[/CHANNEL]\n"
    "\n"
    "Waits until region REGION exists and opens (a region appears whole), and\n"
    "with CHANNEL until the channel exists in it; with --producer, also until\n"
    "the channel has a live producer; with --consumers N, until N consumers\n"
    "are joined and alive.  Exits 0 as soon as that holds, printing nothing.\n"
    "It sleeps until the region's file appears (inotify on Linux, a change\n"
    "notification on Windows; while DIR itself does not exist, a look every\n"
    "100 ms), then on the region's object count until the channel appears; a\n"
    "producer or consumers are looked for every 20 ms.\n"
    "\n"
    "      --dir DIR              where regions are (default $RILL_DIR, else " OS_DEFAULT_DIR_TEXT ")\n"
    "  -t, --timeout DURATION     give up after it, exit 1: 0.5, 10s, 2m, 0 (look\n"
    "                             once; default: no limit)\n"
    "  -p, --producer             also wait for a live producer (CHANNEL only)\n"
    "  -c, --consumers N          also wait for N live consumers (CHANNEL only)\n"
    "  -h, --help                 this text\n"
    "\n"
    "Exit status: 0 it holds, 1 timed out or failed (a file that is not a\n"
    "region, a channel that cannot appear: the region's table is full), 2 usage.\n";

/* How the endpoints are looked for: no call sleeps until one joins. */
#define PEER_POLL_MS 20
/* How a missing directory is looked for. */
#define DIR_POLL_MS 100

struct waiter {
  uint64_t end;          /* os_mono_ns() deadline, or RILL_FOREVER */
  char timeout[16];      /* for messages: "2.00 s" */
};

static uint64_t left(const struct waiter *w) {
  if (w->end == RILL_FOREVER) return RILL_FOREVER;
  uint64_t now = os_mono_ns();
  return now < w->end ? w->end - now : 0;
}

static void nap(const struct waiter *w, unsigned ms) {
  uint64_t l = left(w);
  if (l < (uint64_t)ms * 1000000) ms = (unsigned)(l / 1000000);
  os_sleep_ms(ms);
}

/* Opens REGION once it is there: read-write where we may (a channel is
 * then waited for on a futex), else read-only (looks every 10 ms). */
static int open_region(const struct waiter *w, const char *dir, const char *region,
                       rill_region **r) {
  for (;;) {
    rill_region_opts ro = {.dir = dir};
    int rc = rill_region_open_wait(region, &ro, left(w), r);
    if (rc == -RILL_EACCES) {
      ro.flags = RILL_REGION_READONLY;
      rc = rill_region_open_wait(region, &ro, left(w), r);
    }
    if (rc == -RILL_ETIMEDOUT)
      return cli_fail("timed out after %s: no region %s in %s", w->timeout, region,
                      cli_dir_name(dir));
    if (rc != -RILL_ENODIR) {
      if (rc) return cli_fail("%s (in %s): %s", region, cli_dir_name(dir), rill_strerror(rc));
      return 0;
    }
    /* The directory is not there yet (a volume not mounted yet): nothing
     * to watch, so look again. */
    if (!left(w))
      return cli_fail("timed out after %s: no directory %s", w->timeout, cli_dir_name(dir));
    nap(w, DIR_POLL_MS);
  }
}

/* Live consumers of CHAN, or a negative code. */
static int live_consumers(rill_region *r, const char *chan, const rill_channel_stats *st) {
  int n = 0;
  for (uint32_t k = 0; k < st->max_consumers; k++) {
    rill_consumer_stats cs;
    int rc = rill_consumer_stats_get(r, chan, k, &cs);
    if (rc) return rc;
    n += cs.mode && cs.liveness == RILL_PEER_ALIVE;
  }
  return n;
}

/* Waits for the channel's endpoints.  0, or 1 after saying why. */
static int wait_peers(const struct waiter *w, rill_region *r, const char *target,
                      const char *chan, int producer, uint32_t consumers) {
  for (;;) {
    rill_channel_stats st;
    int rc = rill_channel_stats_get(r, chan, &st), n = 0;
    if (!rc && consumers && (n = live_consumers(r, chan, &st)) < 0) rc = n;
    if (rc) return cli_fail("%s: %s", target, rill_strerror(rc));
    if (consumers > st.max_consumers)
      return cli_fail("%s: --consumers %u, but the channel has %u consumer slots", target,
                      consumers, st.max_consumers);
    int has_producer = st.producer_liveness == RILL_PEER_ALIVE;
    if ((!producer || has_producer) && (uint32_t)n >= consumers) return 0;
    if (!left(w)) {
      if (producer && !has_producer)
        return cli_fail("timed out after %s: %s has no live producer (%s)", w->timeout, target,
                        cli_liveness(st.producer_liveness));
      return cli_fail("timed out after %s: %s has %d live consumer%s of the %u awaited",
                      w->timeout, target, n, n == 1 ? "" : "s", consumers);
    }
    nap(w, PEER_POLL_MS);
  }
}

int cmd_wait(int argc, char **argv) {
  static const struct option opts[] = {{"dir", required_argument, 0, CLI_OPT_DIR},
                                       {"timeout", required_argument, 0, 't'},
                                       {"producer", no_argument, 0, 'p'},
                                       {"consumers", required_argument, 0, 'c'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  const char *dir = cli_dir;
  struct waiter w = {RILL_FOREVER, "forever"};
  uint64_t timeout = RILL_FOREVER, consumers = 0;
  int producer = 0, o;
  while ((o = getopt_long(argc, argv, ":t:pc:h", opts, NULL)) != -1) {
    switch (o) {
    case CLI_OPT_DIR: dir = optarg; break;
    case 't':
      if (cli_parse_duration(optarg, &timeout))
        return cli_usage("--timeout: '%s' is not a duration (0.5, 10s, 2m, 0)", optarg);
      cli_ns(w.timeout, (double)timeout);
      break;
    case 'p': producer = 1; break;
    case 'c':
      if (cli_parse_u64(optarg, 1, &consumers) || consumers == 0 || consumers > 256)
        return cli_usage("--consumers: '%s' is not a number from 1 to 256", optarg);
      break;
    case 'h': fputs(wait_usage, stdout); return 0;
    default: return cli_bad_option(o, argv);
    }
  }
  if (optind != argc - 1) return cli_usage("one REGION or REGION/CHANNEL, please");
  char region[RILL_NAME_MAX + 1], chan[RILL_NAME_MAX + 1];
  int rc = cli_target(argv[optind], region, chan);
  if (rc) return rc;
  if (!chan[0] && (producer || consumers))
    return cli_usage("--producer and --consumers are for REGION/CHANNEL");
  if (timeout != RILL_FOREVER) w.end = os_mono_ns() + timeout;

  rill_region *r;
  if ((rc = open_region(&w, dir, region, &r))) return rc;
  if (chan[0]) {
    int err = rill_channel_wait(r, chan, left(&w));
    if (err == -RILL_ETIMEDOUT)
      rc = cli_fail("timed out after %s: no channel %s in region %s", w.timeout, chan, region);
    else if (err == -RILL_ENOENT)
      rc = cli_fail("%s: the region's object table is full without it: it cannot appear",
                    argv[optind]);
    else if (err)
      rc = cli_fail("%s: %s", argv[optind], rill_strerror(err));
    else
      rc = wait_peers(&w, r, argv[optind], chan, producer, (uint32_t)consumers);
  }
  rill_region_close(r);
  return rc;
}
