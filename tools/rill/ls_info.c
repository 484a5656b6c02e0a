/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill ls and rill info: what is in shared memory, and who uses it. */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- shared pieces -------------------------------------------------------------- */

/* The account that owns a region file (on Windows, the RID of its owner's
 * SID: PROTOCOL.md §5), by name when it has one. */
static const char *owner(uint32_t uid, char *buf, size_t cap) {
  return os_user_name(uid, buf, cap);
}

/* alive: a live process has it open; dead: nobody does and endpoints died
 * in it; idle: nobody does and nothing died.  Clean removes the last two. */
static const char *region_status(const cli_region *r, uint32_t alive, uint32_t dead) {
  if (r->err) return "error";
  if (r->in_use == 1) return "alive";
  if (r->in_use < 0) return alive ? "alive" : dead ? "dead" : "unknown";
  return dead ? "dead" : "idle";
}

static void region_peers(const cli_region *r, uint32_t *alive, uint32_t *dead) {
  *alive = *dead = 0;
  for (uint32_t k = 0; k < r->nchannels; k++) {
    uint32_t a, d;
    cli_channel_peers(&r->ch[k], &a, &d);
    *alive += a;
    *dead += d;
  }
}

static double age_s(uint64_t now, uint64_t then) {
  return now > then ? (double)(now - then) / 1e9 : 0;
}

static void time_text(char *buf, size_t cap, uint64_t real_ns) {
  time_t t = (time_t)(real_ns / 1000000000ull);
  struct tm tm;
  if (os_gmtime(t, &tm)) snprintf(buf, cap, "?");
  else strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- ls ------------------------------------------------------------------------------- */

static const char ls_usage[] =
    "Usage: rill ls [--dir DIR] [--json] [DIR]\n"
    "\n"
    "Lists the rill regions in DIR (default $RILL_DIR, else " OS_DEFAULT_DIR_TEXT "): size,\n"
    "bytes allocated, owner, age, number of channels, and their users:\n"
    "  alive  a live process has the region open\n"
    "  dead   nobody has it open, and endpoints died in it without leaving\n"
    "  idle   nobody has it open, and everyone left cleanly\n"
    "'rill clean' removes the dead and idle ones (past a grace period; one\n"
    "never joined, once its creator died).  ENDPOINTS counts the live and\n"
    "dead producers and consumers of its channels.  With --json, each region\n"
    "names its request/response services ('rill info REGION' shows them).\n"
    "\n"
    "      --dir DIR  the directory (as the argument)\n"
    "      --json     one JSON document instead of the table\n"
    "  -h, --help     this text\n";

int cmd_ls(int argc, char **argv) {
  const char *dir = cli_dir;
  int json = 0, rc = cli_opts_dir_json(argc, argv, ls_usage, &dir, &json);
  if (rc >= 0) return rc;
  if (optind < argc) dir = argv[optind++];
  if (optind < argc) return cli_usage("one directory at most");

  char **names;
  int n = cli_region_names(dir, &names);
  if (n < 0) return cli_fail("%s: %s", cli_dir_name(dir), rill_strerror(n));
  cli_snap s;
  rc = cli_snap_take(&s, dir, names, n, 1);
  cli_names_free(names, n);
  if (rc) { cli_snap_free(&s); return cli_fail("%s", rill_strerror(rc)); }

  char b1[16], b2[16], b3[16], who[64];
  cli_json j;
  if (json) {
    cli_json_init(&j, stdout);
    cli_json_obj(&j, NULL);
    cli_json_str(&j, "dir", cli_dir_name(dir));
    cli_json_arr(&j, "regions");
  } else if (s.nregions) {
    printf("%-24s %10s %10s %-10s %5s %8s  %-6s %s\n", "REGION", "SIZE", "USED", "OWNER",
           "AGE", "CHANNELS", "USERS", "ENDPOINTS");
  }
  for (uint32_t i = 0; i < s.nregions; i++) {
    const cli_region *r = &s.r[i];
    uint32_t alive, dead;
    region_peers(r, &alive, &dead);
    const char *status = region_status(r, alive, dead);
    if (json) {
      cli_json_obj(&j, NULL);
      cli_json_str(&j, "name", r->name);
      cli_json_str(&j, "status", status);
      if (r->err) {
        cli_json_str(&j, "error", rill_strerror(r->err));
        cli_json_end(&j, '}');
        continue;
      }
      cli_json_u64(&j, "size", r->info.size);
      cli_json_u64(&j, "used", r->info.used);
      cli_json_u64(&j, "owner_uid", r->info.owner_uid);
      cli_json_str(&j, "owner", owner(r->info.owner_uid, who, sizeof who));
      cli_json_u64(&j, "creator_uid", r->info.creator_uid);
      cli_json_u64(&j, "creator_pid", r->info.creator_pid);
      cli_json_u64(&j, "created_ns", r->info.created_ns);
      cli_json_num(&j, "age_s", age_s(s.real_ns, r->info.created_ns));
      cli_json_u64(&j, "channels", r->nchannels);
      cli_service *svcs;
      int nsvc = cli_services(r, &svcs);
      cli_json_arr(&j, "services");
      for (int k = 0; k < nsvc; k++) cli_json_str(&j, NULL, svcs[k].name);
      cli_json_end(&j, ']');
      free(svcs);
      if (r->in_use < 0) cli_json_null(&j, "in_use");
      else cli_json_bool(&j, "in_use", r->in_use);
      cli_json_u64(&j, "endpoints_alive", alive);
      cli_json_u64(&j, "endpoints_dead", dead);
      cli_json_end(&j, '}');
      continue;
    }
    if (r->err) {
      printf("%-24s %s: %s\n", r->name, status, rill_strerror(r->err));
      continue;
    }
    char eps[48];
    snprintf(eps, sizeof eps, "%u alive, %u dead", alive, dead);
    printf("%-24s %10s %10s %-10s %5s %8u  %-6s %s\n", r->name,
           cli_bytes(b1, (double)r->info.size), cli_bytes(b2, (double)r->info.used),
           owner(r->info.owner_uid, who, sizeof who),
           cli_age(b3, age_s(s.real_ns, r->info.created_ns)), r->nchannels, status, eps);
  }
  if (json) {
    cli_json_end(&j, ']');
    cli_json_end(&j, '}');
    cli_json_done(&j);
  } else if (!s.nregions) {
    printf("no regions in %s\n", cli_dir_name(dir));
  }
  cli_snap_free(&s);
  return 0;
}

/* ---- info ----------------------------------------------------------------------------- */

static const char info_usage[] =
    "Usage: rill info [--dir DIR] [--json] [--channels] REGION[/CHANNEL|/SERVICE]\n"
    "\n"
    "REGION: its header (size, bytes allocated, creator, age, users), its\n"
    "request/response services and a line per channel.  REGION/CHANNEL: the\n"
    "channel's layout (offsets and sizes of its rings), its producer (alive,\n"
    "dead or none; pid; position; counters) and each consumer (reliable or\n"
    "lossy; alive or dead; position; lag; counters; latency p50/p99 since it\n"
    "joined).  Counters are as of each endpoint's last flush.\n"
    "\n"
    "A service S (rill_rpc.h) is shown as one: its server (alive, dead or\n"
    "none; pid), and per lane its client, the requests and responses sent and\n"
    "the calls in flight (requests not answered yet; counted in descriptors,\n"
    "so calls larger than the mtu count once per fragment).  REGION/S shows\n"
    "it alone; its lanes' channels S.q.K and S.r.K are left out of the\n"
    "region's list of channels unless --channels, and REGION/S.q.0 shows one.\n"
    "\n"
    "      --dir DIR   where regions are (default $RILL_DIR, else " OS_DEFAULT_DIR_TEXT ")\n"
    "      --json      one JSON document instead of text (every channel in it)\n"
    "      --channels  list the channels of services' lanes too\n"
    "  -h, --help      this text\n";

/* An endpoint's pid as cli_snap_pids() found it, when it looked: its pid
 * here (the holder of its lock) and which PID namespace that is in. */
static void json_pid_seen(cli_json *j, const cli_channel *c, const cli_pid *p) {
  static const char *const ns[] = {NULL, "this", "other", "unknown"};
  if (!c->pids) return;
  if (p->seen == CLI_PID_HERE) cli_json_u64(j, "pid_here", p->here);
  else cli_json_null(j, "pid_here");
  if (p->seen == CLI_PID_NA) cli_json_null(j, "pid_namespace");
  else cli_json_str(j, "pid_namespace", p->seen == CLI_PID_HERE && p->inner ? "inner" : ns[p->seen]);
}

static void json_latency(cli_json *j, const char *key, const rill_latency *h) {
  cli_json_obj(j, key);
  cli_json_u64(j, "samples", h->count);
  if (h->count) {
    cli_json_u64(j, "p50_ns", rill_latency_quantile(h, 0.5));
    cli_json_u64(j, "p99_ns", rill_latency_quantile(h, 0.99));
    cli_json_num(j, "mean_ns", (double)h->sum_ns / (double)h->count);
  } else {
    cli_json_null(j, "p50_ns");
    cli_json_null(j, "p99_ns");
    cli_json_null(j, "mean_ns");
  }
  cli_json_end(j, '}');
}

void cli_json_channel(cli_json *j, const cli_channel *c, uint64_t mono_now,
                      const cli_channel *prev, double dt) {
  const rill_channel_stats *st = &c->st;
  cli_rates rt;
  cli_json_str(j, "name", c->name);
  cli_json_u64(j, "depth", st->depth);
  cli_json_u64(j, "mtu", st->mtu);
  cli_json_u64(j, "max_msg", st->max_msg);
  cli_json_u64(j, "max_consumers", st->max_consumers);
  cli_json_obj(j, "layout");
  cli_json_u64(j, "offset", st->off);
  cli_json_u64(j, "size", st->size);
  cli_json_u64(j, "meta_off", st->meta_off);
  cli_json_u64(j, "data_off", st->data_off);
  cli_json_u64(j, "data_chunks", st->data_chunks);
  cli_json_u64(j, "seq0", st->seq0);
  cli_json_u64(j, "created_ns", st->created_ns);
  cli_json_end(j, '}');
  cli_json_obj(j, "producer");
  cli_json_str(j, "state", cli_liveness(st->producer_liveness));
  cli_json_u64(j, "pid", st->producer_pid);
  json_pid_seen(j, c, &c->prod_pid);
  cli_json_u64(j, "joins", st->producer_gen);
  cli_json_u64(j, "seq", st->seq);
  cli_json_u64(j, "msgs", st->msgs);
  cli_json_u64(j, "bytes", st->bytes);
  cli_json_u64(j, "backpressure", st->backpressure);
  cli_json_u64(j, "evictions", st->evictions);
  cli_json_u64(j, "wakes", st->wakes);
  if (st->producer_heartbeat_ns) cli_json_num(j, "heartbeat_age_s", age_s(mono_now, st->producer_heartbeat_ns));
  else cli_json_null(j, "heartbeat_age_s");
  if (prev) {
    cli_producer_rates(c, prev, dt, &rt);
    cli_json_num(j, "msgs_per_s", rt.msgs);
    cli_json_num(j, "bytes_per_s", rt.bytes);
    cli_json_num(j, "backpressure_per_s", rt.backpressure);
  }
  cli_json_end(j, '}');
  cli_json_arr(j, "consumers");
  for (uint32_t k = 0; k < st->max_consumers; k++) {
    const rill_consumer_stats *cs = &c->cons[k];
    if (!cs->mode) continue;
    cli_json_obj(j, NULL);
    cli_json_u64(j, "slot", cs->slot);
    cli_json_str(j, "mode", cli_mode(cs->mode));
    cli_json_str(j, "state", cli_liveness(cs->liveness));
    cli_json_u64(j, "pid", cs->pid);
    json_pid_seen(j, c, &c->cons_pid[k]);
    cli_json_u64(j, "seq", cs->seq);
    cli_json_u64(j, "lag", cs->lag);
    cli_json_u64(j, "msgs", cs->msgs);
    cli_json_u64(j, "bytes", cs->bytes);
    cli_json_u64(j, "overruns_poll", cs->overrun_poll);
    cli_json_u64(j, "overruns_read", cs->overrun_read);
    cli_json_u64(j, "lost", cs->lost);
    cli_json_bool(j, "evicted", (int)cs->evicted);
    cli_json_bool(j, "parked", (int)cs->parked);
    cli_json_num(j, "heartbeat_age_s", age_s(mono_now, cs->heartbeat_ns));
    json_latency(j, "latency", &c->lat[k]);
    if (prev) {
      cli_consumer_rates(c, k, prev, dt, &rt);
      cli_json_num(j, "msgs_per_s", rt.msgs);
      cli_json_num(j, "bytes_per_s", rt.bytes);
      cli_json_num(j, "overruns_per_s", rt.overruns);
      cli_json_num(j, "lost_per_s", rt.lost);
      json_latency(j, "latency_window", &rt.window);
    }
    cli_json_end(j, '}');
  }
  cli_json_end(j, ']');
  cli_json_arr(j, "bridges");
  for (int k = 0; k < c->nbridges; k++) {
    const bridge_seen *b = &c->bridges[k];
    cli_json_obj(j, NULL);
    cli_json_str(j, "direction", bridge_direction_name(b->f.direction));
    cli_json_bool(j, "alive", b->alive);
    cli_json_u64(j, "pid", b->f.pid);
    cli_json_str(j, "mode", bridge_mode_name(b->f.mode));
    cli_json_str(j, "subject", b->f.subject);
    cli_json_str(j, "nats", b->alive ? bridge_nats_name(b->f.nats) : "stopped");
    cli_json_str(j, "server", b->f.server);
    if (b->f.direction == BRIDGE_OUT && b->f.slot) cli_json_u64(j, "slot", b->f.slot - 1);
    cli_json_u64(j, "msgs", b->f.msgs);
    cli_json_u64(j, "bytes", b->f.bytes);
    cli_json_u64(j, "lost", b->f.lost);
    cli_json_u64(j, "bad", b->f.bad);
    cli_json_u64(j, "dups", b->f.dups);
    cli_json_u64(j, "reconnects", b->f.reconnects);
    cli_json_u64(j, "republished", b->f.republished);
    cli_json_u64(j, "errors", b->f.errors);
    cli_json_u64(j, "seq", b->f.seq);
    /* out: its consumer's lag; in: what waits in NATS */
    uint64_t lag = b->f.lag;
    if (b->f.direction == BRIDGE_OUT && b->f.slot && b->f.slot <= st->max_consumers)
      lag = c->cons[b->f.slot - 1].lag;
    cli_json_u64(j, "lag", lag);
    const bridge_seen *pb = NULL;
    for (int n = 0; prev && n < prev->nbridges; n++)
      if (prev->bridges[n].f.direction == b->f.direction) pb = &prev->bridges[n];
    if (pb && dt > 0 && b->f.msgs >= pb->f.msgs) {
      cli_json_num(j, "msgs_per_s", (double)(b->f.msgs - pb->f.msgs) / dt);
      cli_json_num(j, "bytes_per_s", (double)(b->f.bytes - pb->f.bytes) / dt);
    }
    cli_json_end(j, '}');
  }
  cli_json_end(j, ']');
}

static void print_channel(const cli_region *r, const cli_channel *c, uint64_t mono_now) {
  const rill_channel_stats *st = &c->st;
  char b1[16], b2[16], b3[16], b4[16], ts[32], note[96];
  static const cli_pid none;
  time_text(ts, sizeof ts, st->created_ns);
  printf("channel %s/%s\n", r->name, c->name);
  printf("  created    %s\n", ts);
  printf("  layout     %s at offset %llu of the region\n", cli_bytes(b1, (double)st->size),
         (unsigned long long)st->off);
  printf("             meta ring: %u descriptors of 32 B at +%llu\n", st->depth,
         (unsigned long long)st->meta_off);
  printf("             data ring: %llu chunks of 64 B (%s) at +%llu\n",
         (unsigned long long)st->data_chunks, cli_bytes(b2, (double)st->data_chunks * 64),
         (unsigned long long)st->data_off);
  printf("             mtu %u B, largest message %s, %u consumer slots, first seq %llu\n",
         st->mtu, cli_bytes(b3, (double)st->max_msg), st->max_consumers,
         (unsigned long long)st->seq0);
  printf("  producer   %s", cli_liveness(st->producer_liveness));
  if (st->producer_pid)
    printf(", pid %u%s", cli_pid_shown(st->producer_pid, &c->prod_pid),
           cli_pid_note(st->producer_pid, &c->prod_pid, note, sizeof note));
  printf(", %u join%s, next seq %llu\n", st->producer_gen, st->producer_gen == 1 ? "" : "s",
         (unsigned long long)st->seq);
  printf("             %llu messages, %s, backpressure %llu, evictions %llu, wake-ups %llu",
         (unsigned long long)st->msgs, cli_bytes(b1, (double)st->bytes),
         (unsigned long long)st->backpressure, (unsigned long long)st->evictions,
         (unsigned long long)st->wakes);
  if (st->producer_heartbeat_ns)
    printf(", heartbeat %s ago", cli_ns(b4, (double)(mono_now > st->producer_heartbeat_ns
                                                         ? mono_now - st->producer_heartbeat_ns
                                                         : 0)));
  printf("\n  consumers  %u of %u slots\n", st->nconsumers, st->max_consumers);
  for (int k = 0; k < c->nbridges; k++) {
    const bridge_file *f = &c->bridges[k].f;
    int alive = c->bridges[k].alive;
    printf("  bridge %-3s %s, pid %u, %s %s, NATS %s%s%s", bridge_direction_name(f->direction),
           alive ? "alive" : "stopped", f->pid, bridge_mode_name(f->mode), f->subject,
           alive ? bridge_nats_name(f->nats) : "-", alive && f->server[0] ? " to " : "",
           alive ? f->server : "");
    if (f->direction == BRIDGE_OUT && f->slot) printf(", consumer slot %u", f->slot - 1);
    printf("\n             %llu messages, %s, lost %llu, bad %llu, duplicates %llu, "
           "reconnects %llu, errors %llu\n",
           (unsigned long long)f->msgs, cli_bytes(b1, (double)f->bytes),
           (unsigned long long)f->lost, (unsigned long long)f->bad, (unsigned long long)f->dups,
           (unsigned long long)f->reconnects, (unsigned long long)f->errors);
  }
  if (!st->nconsumers) return;
  printf("  %4s %-8s %-7s %7s %12s %8s %12s %10s %9s %9s %9s %-12s %9s %9s\n", "SLOT", "MODE",
         "STATE", "PID", "SEQ", "LAG", "MSGS", "BYTES", "OVR_POLL", "OVR_READ", "LOST", "FLAGS",
         "P50", "P99");
  for (uint32_t k = 0; k < st->max_consumers; k++) {
    const rill_consumer_stats *cs = &c->cons[k];
    if (!cs->mode) continue;
    const rill_latency *h = &c->lat[k];
    char flags[16] = "-", p50[16] = "-", p99[16] = "-";
    if (cs->evicted || cs->parked)
      snprintf(flags, sizeof flags, "%s%s%s", cs->evicted ? "evicted" : "",
               cs->evicted && cs->parked ? "," : "", cs->parked ? "parked" : "");
    if (h->count) {
      cli_ns(p50, (double)rill_latency_quantile(h, 0.5));
      cli_ns(p99, (double)rill_latency_quantile(h, 0.99));
    }
    printf("  %4u %-8s %-7s %7u %12llu %8llu %12llu %10s %9llu %9llu %9llu %-12s %9s %9s\n",
           cs->slot, cli_mode(cs->mode), cli_liveness(cs->liveness),
           cli_pid_shown(cs->pid, c->pids ? &c->cons_pid[k] : &none),
           (unsigned long long)cs->seq, (unsigned long long)cs->lag,
           (unsigned long long)cs->msgs, cli_bytes(b1, (double)cs->bytes),
           (unsigned long long)cs->overrun_poll, (unsigned long long)cs->overrun_read,
           (unsigned long long)cs->lost, flags, p50, p99);
  }
  for (uint32_t k = 0; k < st->max_consumers && c->pids; k++) /* pids of elsewhere */
    if (c->cons[k].mode && *cli_pid_note(c->cons[k].pid, &c->cons_pid[k], note, sizeof note))
      printf("  slot %u: pid %u%s\n", k, cli_pid_shown(c->cons[k].pid, &c->cons_pid[k]), note);
}

/* A service named by REGION/SERVICE, alone. */
static int info_service(const cli_region *r, const cli_service *svc, int json) {
  if (json) {
    cli_json j;
    cli_json_init(&j, stdout);
    cli_json_obj(&j, NULL);
    cli_json_str(&j, "region", r->name);
    cli_json_obj(&j, "service");
    cli_json_service(&j, svc);
    cli_json_end(&j, '}');
    cli_json_end(&j, '}');
    cli_json_done(&j);
  } else {
    printf("region %s\n", r->name);
    cli_print_service("", svc);
  }
  return 0;
}

int cmd_info(int argc, char **argv) {
  static const struct option opts[] = {{"dir", required_argument, 0, CLI_OPT_DIR},
                                       {"json", no_argument, 0, 'j'},
                                       {"channels", no_argument, 0, 'C'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  const char *dir = cli_dir;
  int json = 0, all_channels = 0, o, rc;
  while ((o = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    switch (o) {
    case CLI_OPT_DIR: dir = optarg; break;
    case 'j': json = 1; break;
    case 'C': all_channels = 1; break;
    case 'h': fputs(info_usage, stdout); return 0;
    default: return cli_bad_option(o, argv);
    }
  }
  if (optind != argc - 1) return cli_usage("one REGION or REGION/CHANNEL, please");
  char region[RILL_NAME_MAX + 1], chan[RILL_NAME_MAX + 1];
  if ((rc = cli_target(argv[optind], region, chan))) return rc;
  char *names[] = {region};
  cli_snap s;
  rc = cli_snap_take(&s, dir, names, 1, !chan[0]);
  if (!rc) rc = cli_snap_pids(&s);
  if (rc) { cli_snap_free(&s); return cli_fail("%s", rill_strerror(rc)); }
  const cli_region *r = &s.r[0];
  if (r->err) {
    rc = cli_fail("%s (in %s): %s", region, cli_dir_name(dir), rill_strerror(r->err));
    cli_snap_free(&s);
    return rc;
  }
  const cli_channel *c = NULL;
  if (chan[0]) {
    c = cli_snap_find(&s, region, chan);
    cli_service svc;
    if (!c && !cli_service_find(r, chan, &svc)) {
      rc = info_service(r, &svc, json);
      cli_snap_free(&s);
      return rc;
    }
    if (!c) {
      int err = -RILL_ENOENT;
      for (uint32_t k = 0; k < r->nchannels; k++)
        if (!strcmp(r->ch[k].name, chan)) err = r->ch[k].err;
      rc = cli_fail("%s/%s: %s", region, chan, rill_strerror(err));
      cli_snap_free(&s);
      return rc;
    }
  }
  char b1[16], b2[16], b3[16], who[64], ts[32];
  uint32_t alive, dead;
  region_peers(r, &alive, &dead);
  cli_service *svcs = NULL;
  int nsvc = c ? 0 : cli_services(r, &svcs);
  if (json) {
    cli_json j;
    cli_json_init(&j, stdout);
    cli_json_obj(&j, NULL);
    cli_json_str(&j, "region", r->name);
    if (c) {
      cli_json_obj(&j, "channel");
      cli_json_channel(&j, c, s.mono_ns, NULL, 0);
      cli_json_end(&j, '}');
    } else {
      cli_json_str(&j, "dir", cli_dir_name(dir));
      cli_json_str(&j, "status", region_status(r, alive, dead));
      cli_json_u64(&j, "size", r->info.size);
      cli_json_u64(&j, "used", r->info.used);
      cli_json_u64(&j, "owner_uid", r->info.owner_uid);
      cli_json_str(&j, "owner", owner(r->info.owner_uid, who, sizeof who));
      cli_json_u64(&j, "creator_uid", r->info.creator_uid);
      cli_json_u64(&j, "creator_pid", r->info.creator_pid);
      cli_json_u64(&j, "created_ns", r->info.created_ns);
      cli_json_u64(&j, "objects", r->info.nobjects);
      cli_json_u64(&j, "page_size", r->info.page_size);
      cli_json_arr(&j, "channels");
      for (uint32_t k = 0; k < r->nchannels; k++) {
        cli_json_obj(&j, NULL);
        if (r->ch[k].err) {
          cli_json_str(&j, "name", r->ch[k].name);
          cli_json_str(&j, "error", rill_strerror(r->ch[k].err));
        } else {
          cli_json_channel(&j, &r->ch[k], s.mono_ns, NULL, 0);
        }
        cli_json_end(&j, '}');
      }
      cli_json_end(&j, ']');
      cli_json_arr(&j, "services");
      for (int k = 0; k < nsvc; k++) {
        cli_json_obj(&j, NULL);
        cli_json_service(&j, &svcs[k]);
        cli_json_end(&j, '}');
      }
      cli_json_end(&j, ']');
    }
    cli_json_end(&j, '}');
    cli_json_done(&j);
  } else if (c) {
    print_channel(r, c, s.mono_ns);
  } else {
    time_text(ts, sizeof ts, r->info.created_ns);
    printf("region %s in %s\n", r->name, cli_dir_name(dir));
    printf("  size      %s, %s allocated to %u object%s (of 62)\n",
           cli_bytes(b1, (double)r->info.size), cli_bytes(b2, (double)r->info.used),
           r->info.nobjects, r->info.nobjects == 1 ? "" : "s");
    if (r->info.page_size > 4096)
      printf("  pages     huge, of %s (hugetlbfs)\n", cli_bytes(b1, (double)r->info.page_size));
    printf("  created   %s (%s ago) by pid %u, owner %s\n", ts,
           cli_age(b3, age_s(s.real_ns, r->info.created_ns)), r->info.creator_pid,
           owner(r->info.owner_uid, who, sizeof who));
    printf("  users     %s; endpoints %u alive, %u dead\n", region_status(r, alive, dead),
           alive, dead);
    uint32_t lanes = 0; /* lane channels left out of the list */
    for (int k = 0; k < nsvc; k++) {
      cli_print_service("  ", &svcs[k]);
      lanes += 2 * svcs[k].nlanes;
    }
    if (all_channels) lanes = 0;
    if (r->nchannels > lanes) {
      printf("  %-24s %8s %6s %10s %9s %10s %-8s %12s\n", "CHANNEL", "DEPTH", "MTU", "MAX_MSG",
             "CONSUMERS", "SIZE", "PRODUCER", "SEQ");
    }
    for (uint32_t k = 0; k < r->nchannels; k++) {
      const cli_channel *ch = &r->ch[k];
      if (lanes && cli_service_lane_of(svcs, (uint32_t)nsvc, ch)) continue;
      if (ch->err) {
        printf("  %-24s %s\n", ch->name, rill_strerror(ch->err));
        continue;
      }
      char cons[16];
      snprintf(cons, sizeof cons, "%u/%u", ch->st.nconsumers, ch->st.max_consumers);
      printf("  %-24s %8u %6u %10s %9s %10s %-8s %12llu\n", ch->name, ch->st.depth, ch->st.mtu,
             cli_bytes(b1, (double)ch->st.max_msg), cons, cli_bytes(b2, (double)ch->st.size),
             cli_liveness(ch->st.producer_liveness), (unsigned long long)ch->st.seq);
    }
    if (lanes)
      printf("  (%u channels of the services' lanes not listed: --channels lists them)\n",
             lanes);
  }
  free(svcs);
  cli_snap_free(&s);
  return 0;
}
