/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill monitor: a live view of channels, like top; one snapshot as text or
 * JSON for scripts; the Prometheus text exposition format. */
#include "cli.h"

#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char monitor_usage[] =
    "Usage: rill monitor [OPTIONS] [REGION[/CHANNEL]...]\n"
    "\n"
    "Shows, for every channel of the regions named (default: every region in\n"
    "the directory) and each of its endpoints: liveness, messages/s, bytes/s,\n"
    "lag, the publish-to-consume latency p50 and p99 of the interval (from the\n"
    "consumers' samples of the descriptors' timestamps), overruns/s, messages\n"
    "lost/s and backpressure/s (times the producer found no credit).\n"
    "On a terminal it redraws every interval until you press q; otherwise it\n"
    "prints a table every interval (as top -b does).\n"
    "\n"
    "      --dir DIR         where regions are (default $RILL_DIR, else " OS_DEFAULT_DIR_TEXT ")\n"
    "  -i, -d, --interval SECS\n"
    "                        time between readings (default 1; -d as in top)\n"
    "  -n, --iterations N    stop after N readings\n"
    "  -1, --once            one reading: wait an interval, print the rates over it,\n"
    "                        exit\n"
    "  -j, --json            JSON instead of the table: one document with --once,\n"
    "                        else one line per interval\n"
    "  -p, --prometheus      print the counters now in the Prometheus text format\n"
    "                        (version 0.0.4) and exit; rates are Prometheus's job\n"
    "      --listen ADDR     serve the same at http://ADDR/metrics, read afresh at\n"
    "                        each scrape, until SIGINT or SIGTERM; ADDR is HOST:PORT\n"
    "                        (127.0.0.1:9464, [::1]:9464, :9464 for every interface);\n"
    "                        it goes alone (no screen, --interval or --iterations)\n"
    "  -h, --help            this text\n"
    "\n"
    "Counters are as of each endpoint's last flush (consumers flush every\n"
    "depth/8 to depth/4 polls and when idle; the producer every 512 to 1024\n"
    "messages and when it waits), so rates move in steps on slow channels.\n";

/* ---- what is shown ------------------------------------------------------------------ */

typedef struct filter {
  char region[RILL_NAME_MAX + 1], chan[RILL_NAME_MAX + 1];
} filter;

typedef struct mon {
  const char *dir;
  double interval;
  filter *f;
  int nf;
} mon;

static int wanted(const mon *m, const char *region, const char *chan) {
  if (!m->nf) return 1;
  for (int i = 0; i < m->nf; i++)
    if (!strcmp(m->f[i].region, region) && (!m->f[i].chan[0] || !strcmp(m->f[i].chan, chan)))
      return 1;
  return 0;
}

/* A snapshot of the regions asked for (all of DIR's when none). */
static int take(const mon *m, cli_snap *s) {
  char **names = NULL;
  int n;
  if (m->nf) {
    if (!(names = calloc((size_t)m->nf, sizeof *names))) return -RILL_ENOMEM;
    n = 0;
    for (int i = 0; i < m->nf; i++) {
      int dup = 0;
      for (int k = 0; k < n; k++) dup |= !strcmp(names[k], m->f[i].region);
      if (!dup && !(names[n++] = strdup(m->f[i].region))) {
        cli_names_free(names, n);
        return -RILL_ENOMEM;
      }
    }
  } else if ((n = cli_region_names(m->dir, &names)) < 0) {
    return n;
  }
  int rc = cli_snap_take(s, m->dir, names, n, 0);
  cli_names_free(names, n);
  return rc;
}

/* Errors in a snapshot of named regions and channels: what --once and
 * --prometheus refuse. */
static int snap_errors(const mon *m, const cli_snap *s) {
  int bad = 0;
  for (uint32_t i = 0; i < s->nregions; i++) {
    const cli_region *r = &s->r[i];
    if (r->err) {
      cli_warn("%s: %s", r->name, rill_strerror(r->err));
      bad = 1;
      continue;
    }
    for (int k = 0; k < m->nf; k++) {
      if (strcmp(m->f[k].region, r->name) || !m->f[k].chan[0]) continue;
      int found = 0;
      for (uint32_t c = 0; c < r->nchannels; c++) found |= !strcmp(r->ch[c].name, m->f[k].chan);
      if (!found) {
        cli_warn("%s/%s: %s", r->name, m->f[k].chan, rill_strerror(-RILL_ENOENT));
        bad = 1;
      }
    }
  }
  return bad;
}

/* ---- text in memory ---------------------------------------------------------------------- */

/* A screen's text, built before it is drawn (one write per refresh). */
typedef struct sbuf {
  char *p;
  size_t len, cap;
  int err; /* out of memory: the text is cut */
} sbuf;

__attribute__((format(printf, 2, 3))) static void sb_printf(sbuf *b, const char *fmt, ...) {
  for (int pass = 0; pass < 2 && !b->err; pass++) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
    va_end(ap);
    if (n < 0) { b->err = 1; return; }
    if (b->p && b->len + (size_t)n < b->cap) { b->len += (size_t)n; return; }
    size_t cap = b->cap ? b->cap : 4096;
    while (cap <= b->len + (size_t)n) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) { b->err = 1; return; }
    b->p = p;
    b->cap = cap;
  }
}

/* Writes B's text to F (as it is, or a line for a screen: NL) and frees
 * it: 0, or -RILL_ENOMEM if it was cut short (nothing written). */
static int sb_put(sbuf *b, FILE *f, int nl) {
  int rc = b->err ? -RILL_ENOMEM : 0;
  if (!rc) {
    fputs(b->p ? b->p : "", f);
    if (nl) fputc('\n', f), fflush(f);
  }
  free(b->p);
  *b = (sbuf){0};
  return rc;
}

/* ---- the table ------------------------------------------------------------------------- */

/* Table cells have no spaces in them (scripts split rows on blanks). */
static char *squeeze(char *b) {
  char *o = b;
  for (const char *i = b; *i; i++)
    if (*i != ' ') *o++ = *i;
  *o = 0;
  return b;
}

static const char *fmt_rate(char *b, double v, int bytes) {
  if (!isfinite(v)) return "-";
  if (bytes) {
    cli_bytes(b, v);
    strcat(b, "/s");
    return squeeze(b);
  }
  return cli_count(b, v);
}

static void lat_cells(const rill_latency *h, char *p50, char *p99) {
  strcpy(p50, "-");
  strcpy(p99, "-");
  if (!h || !h->count) return;
  squeeze((char *)cli_ns(p50, (double)rill_latency_quantile(h, 0.5)));
  squeeze((char *)cli_ns(p99, (double)rill_latency_quantile(h, 0.99)));
}

/* The latency columns come before the overrun, loss and backpressure
 * ones, and everything up to them fits in 80 columns: a terminal 80 wide
 * shows them (the screen cuts rows at its width). */
#define ROW_FMT "%-22s %-7s %7s %5s %9s %7s %7s %7s %6s %6s %6s\n"

/* The table of snapshot S, with rates over DT seconds from PREV (NULL:
 * rates unknown yet), into F. */
static void table(sbuf *f, const mon *m, const cli_snap *s, const cli_snap *prev, double dt) {
  sb_printf(f, ROW_FMT, "CHANNEL / ENDPOINT", "STATE", "PID", "MSG/S", "BYTES/S", "LAG", "P50",
          "P99", "OVRN/S", "LOST/S", "BKPR/S");
  uint32_t shown = 0;
  for (uint32_t i = 0; i < s->nregions; i++) {
    const cli_region *r = &s->r[i];
    if (r->err) {
      sb_printf(f, "%s: %s\n", r->name, rill_strerror(r->err));
      continue;
    }
    for (uint32_t k = 0; k < r->nchannels; k++) {
      const cli_channel *c = &r->ch[k];
      if (!wanted(m, r->name, c->name)) continue;
      shown++;
      char title[96];
      snprintf(title, sizeof title, "%s/%s", r->name, c->name);
      if (c->err) {
        sb_printf(f, "%s: %s\n", title, rill_strerror(c->err));
        continue;
      }
      const rill_channel_stats *st = &c->st;
      const cli_channel *pc = cli_prev_channel(prev, r->name, c->name);
      cli_rates rt = {.msgs = NAN, .bytes = NAN, .backpressure = NAN};
      char pid[16], b1[24], b2[24], b3[24], b4[24];
      sb_printf(f, "%s\n", title);
      snprintf(pid, sizeof pid, "%u", st->producer_pid);
      if (pc) cli_producer_rates(c, pc, dt, &rt);
      sb_printf(f, ROW_FMT, "  producer", cli_liveness(st->producer_liveness),
              st->producer_pid ? pid : "-", fmt_rate(b1, rt.msgs, 0), fmt_rate(b2, rt.bytes, 1),
              "-", "-", "-", "-", "-", fmt_rate(b3, rt.backpressure, 0));
      for (uint32_t n = 0; n < st->max_consumers; n++) {
        const rill_consumer_stats *cs = &c->cons[n];
        if (!cs->mode) continue;
        char name[40], lag[24], p50[16], p99[16];
        snprintf(name, sizeof name, "  consumer %u %s", n, cli_mode(cs->mode));
        snprintf(pid, sizeof pid, "%u", cs->pid);
        snprintf(lag, sizeof lag, "%llu", (unsigned long long)cs->lag);
        rt = (cli_rates){.msgs = NAN, .bytes = NAN, .overruns = NAN, .lost = NAN};
        if (pc) cli_consumer_rates(c, n, pc, dt, &rt);
        lat_cells(pc ? &rt.window : NULL, p50, p99);
        const char *state = cs->evicted ? "evicted" : cli_liveness(cs->liveness);
        sb_printf(f, ROW_FMT, name, state, pid, fmt_rate(b1, rt.msgs, 0), fmt_rate(b2, rt.bytes, 1),
                lag, p50, p99, fmt_rate(b3, rt.overruns, 0), fmt_rate(b4, rt.lost, 0), "-");
      }
      for (int n = 0; n < c->nbridges; n++) {
        const bridge_seen *b = &c->bridges[n];
        const bridge_seen *pb = NULL;
        for (int q = 0; pc && q < pc->nbridges; q++)
          if (pc->bridges[q].f.direction == b->f.direction) pb = &pc->bridges[q];
        double msgs = NAN, bytes = NAN, lost = NAN;
        if (pb && dt > 0 && b->f.msgs >= pb->f.msgs) {
          msgs = (double)(b->f.msgs - pb->f.msgs) / dt;
          bytes = (double)(b->f.bytes - pb->f.bytes) / dt;
          lost = (double)(b->f.lost - pb->f.lost) / dt;
        }
        char name[40];
        snprintf(name, sizeof name, "  bridge %s %s", bridge_direction_name(b->f.direction),
                 bridge_mode_name(b->f.mode));
        snprintf(pid, sizeof pid, "%u", b->f.pid);
        const char *state = !b->alive ? "dead" : b->f.nats == BRIDGE_NATS_CONNECTED ? "alive"
                                                                                    : "nats?";
        char lag[24];
        uint64_t lv = b->f.lag; /* out: its consumer's lag; in: what waits in NATS */
        if (b->f.direction == BRIDGE_OUT && b->f.slot && b->f.slot <= st->max_consumers)
          lv = c->cons[b->f.slot - 1].lag;
        snprintf(lag, sizeof lag, "%llu", (unsigned long long)lv);
        sb_printf(f, ROW_FMT, name, state, pid, fmt_rate(b1, msgs, 0), fmt_rate(b2, bytes, 1),
                  lag, "-", "-", "-", fmt_rate(b4, lost, 0), "-");
      }
    }
  }
  if (!shown) sb_printf(f, "(no channels)\n");
}

/* ---- JSON --------------------------------------------------------------------------------- */

static void json_snap(FILE *f, int pretty, const mon *m, const cli_snap *s,
                      const cli_snap *prev, double dt) {
  cli_json j;
  cli_json_init(&j, f);
  j.pretty = pretty;
  cli_json_obj(&j, NULL);
  cli_json_str(&j, "dir", cli_dir_name(m->dir));
  cli_json_u64(&j, "time_ns", s->real_ns);
  if (prev) cli_json_num(&j, "interval_s", dt);
  cli_json_arr(&j, "regions");
  for (uint32_t i = 0; i < s->nregions; i++) {
    const cli_region *r = &s->r[i];
    cli_json_obj(&j, NULL);
    cli_json_str(&j, "name", r->name);
    if (r->err) {
      cli_json_str(&j, "error", rill_strerror(r->err));
      cli_json_end(&j, '}');
      continue;
    }
    cli_json_arr(&j, "channels");
    for (uint32_t k = 0; k < r->nchannels; k++) {
      const cli_channel *c = &r->ch[k];
      if (!wanted(m, r->name, c->name)) continue;
      cli_json_obj(&j, NULL);
      if (c->err) {
        cli_json_str(&j, "name", c->name);
        cli_json_str(&j, "error", rill_strerror(c->err));
      } else {
        cli_json_channel(&j, c, s->mono_ns, cli_prev_channel(prev, r->name, c->name), dt);
      }
      cli_json_end(&j, '}');
    }
    cli_json_end(&j, ']');
    cli_json_end(&j, '}');
  }
  cli_json_end(&j, ']');
  cli_json_end(&j, '}');
  cli_json_done(&j);
}

/* ---- Prometheus ---------------------------------------------------------------------------- */

/* One generator for --prometheus and --listen's /metrics: the text
 * exposition format, version 0.0.4.  Labels: region and channel; consumer
 * samples add slot and mode, bridge samples direction and mode. */

enum { P_CHANNEL, P_CONSUMER, P_BRIDGE };

enum {
  M_DEPTH, M_MTU, M_CONSUMERS, M_CREDITS, M_PROD_UP, M_PROD_AGE, M_PROD_SEQ, M_PROD_MSGS,
  M_PROD_BYTES, M_PROD_BACKPRESSURE, M_PROD_EVICTIONS, M_CONS_UP, M_CONS_AGE, M_CONS_EVICTED,
  M_CONS_LAG, M_CONS_MSGS, M_CONS_BYTES, M_CONS_OVERRUNS, M_CONS_LOST, M_CONS_LATENCY, M_BR_UP,
  M_BR_NATS, M_BR_MSGS, M_BR_BYTES, M_BR_LAG, M_BR_LOST, M_BR_BAD, M_BR_DUPS, M_BR_RECONNECTS,
  M_BR_ERRORS, M_COUNT
};

typedef struct pmetric {
  const char *name, *type, *help;
  int scope;
} pmetric;

static const pmetric pmetrics[M_COUNT] = {
    [M_DEPTH] = {"rill_channel_depth", "gauge", "Descriptors in the channel's ring.", P_CHANNEL},
    [M_MTU] = {"rill_channel_mtu_bytes", "gauge", "Largest fragment payload.", P_CHANNEL},
    [M_CONSUMERS] = {"rill_channel_consumers", "gauge",
                     "Consumer slots in use, by liveness (state=alive|dead|unknown).", P_CHANNEL},
    [M_CREDITS] = {"rill_channel_credits_free", "gauge",
                   "Descriptors the producer may publish before it waits for a reliable "
                   "consumer (depth minus the largest lag of those not evicted), as flushed.",
                   P_CHANNEL},
    [M_PROD_UP] = {"rill_producer_up", "gauge", "1 if the channel's producer is alive.",
                   P_CHANNEL},
    [M_PROD_AGE] = {"rill_producer_heartbeat_age_seconds", "gauge",
                    "Time since the producer's last flush (absent if none ever joined).",
                    P_CHANNEL},
    [M_PROD_SEQ] = {"rill_producer_sequence", "gauge",
                    "Next sequence number, as flushed (at least every consumer's).", P_CHANNEL},
    [M_PROD_MSGS] = {"rill_producer_messages_total", "counter", "Descriptors published.",
                     P_CHANNEL},
    [M_PROD_BYTES] = {"rill_producer_bytes_total", "counter", "Payload bytes published.",
                      P_CHANNEL},
    [M_PROD_BACKPRESSURE] = {"rill_producer_backpressure_total", "counter",
                             "Times the producer found no credit.", P_CHANNEL},
    [M_PROD_EVICTIONS] = {"rill_producer_evictions_total", "counter",
                          "Dead reliable consumers evicted.", P_CHANNEL},
    [M_CONS_UP] = {"rill_consumer_up", "gauge", "1 if the consumer is alive.", P_CONSUMER},
    [M_CONS_AGE] = {"rill_consumer_heartbeat_age_seconds", "gauge",
                    "Time since the consumer's last housekeeping flush.", P_CONSUMER},
    [M_CONS_EVICTED] = {"rill_consumer_evicted", "gauge",
                        "1 if the producer no longer waits for this reliable consumer.",
                        P_CONSUMER},
    [M_CONS_LAG] = {"rill_consumer_lag_messages", "gauge",
                    "Producer sequence minus consumer sequence.", P_CONSUMER},
    [M_CONS_MSGS] = {"rill_consumer_messages_total", "counter", "Descriptors consumed.",
                     P_CONSUMER},
    [M_CONS_BYTES] = {"rill_consumer_bytes_total", "counter", "Payload bytes consumed.",
                      P_CONSUMER},
    [M_CONS_OVERRUNS] = {"rill_consumer_overruns_total", "counter",
                         "Overruns: kind=poll when lapped, kind=read when a payload was "
                         "overwritten while read.", P_CONSUMER},
    [M_CONS_LOST] = {"rill_consumer_lost_messages_total", "counter",
                     "Sequence numbers skipped by overruns.", P_CONSUMER},
    [M_CONS_LATENCY] = {"rill_consumer_latency_seconds", "histogram",
                        "Publish-to-consume latency, sampled once per consumer heartbeat flush.",
                        P_CONSUMER},
    [M_BR_UP] = {"rill_bridge_up", "gauge", "1 if the NATS bridge runs.", P_BRIDGE},
    [M_BR_NATS] = {"rill_bridge_nats_connected", "gauge",
                   "1 if the bridge is connected to a NATS server.", P_BRIDGE},
    [M_BR_MSGS] = {"rill_bridge_messages_total", "counter",
                   "Messages carried: out, published (JetStream: stored); in, put in the "
                   "channel.", P_BRIDGE},
    [M_BR_BYTES] = {"rill_bridge_bytes_total", "counter", "Payload bytes carried.", P_BRIDGE},
    [M_BR_LAG] = {"rill_bridge_lag_messages", "gauge",
                  "in: messages waiting in NATS (the stream, or the client).", P_BRIDGE},
    [M_BR_LOST] = {"rill_bridge_lost_messages_total", "counter",
                   "Sequence numbers lost: out, by a lossy bridge; in, gaps in the stream.",
                   P_BRIDGE},
    [M_BR_BAD] = {"rill_bridge_bad_messages_total", "counter",
                  "NATS messages on the subject that were not bridged messages.", P_BRIDGE},
    [M_BR_DUPS] = {"rill_bridge_duplicates_total", "counter",
                   "Messages the channel had already, skipped.", P_BRIDGE},
    [M_BR_RECONNECTS] = {"rill_bridge_reconnects_total", "counter", "NATS reconnections.",
                         P_BRIDGE},
    [M_BR_ERRORS] = {"rill_bridge_errors_total", "counter",
                     "NATS publish, subscribe or acknowledgement errors.", P_BRIDGE},
};

static void pvalue(sbuf *f, const char *name, const char *labels, const char *extra, double v) {
  sb_printf(f, "%s{%s%s} %.17g\n", name, labels, extra, v);
}

/* Seconds from CLOCK_MONOTONIC stamp HB to NOW (0 if HB is later: the
 * endpoint flushed after the snapshot's clock was read). */
static double age_s(uint64_t now, uint64_t hb) { return now > hb ? (double)(now - hb) / 1e9 : 0; }

static void prom_bridge(sbuf *f, int metric, const char *labels, const bridge_seen *b) {
  double v = 0;
  switch (metric) {
  case M_BR_UP: v = b->alive; break;
  case M_BR_NATS: v = b->alive && b->f.nats == BRIDGE_NATS_CONNECTED; break;
  case M_BR_MSGS: v = (double)b->f.msgs; break;
  case M_BR_BYTES: v = (double)b->f.bytes; break;
  case M_BR_LAG: v = (double)b->f.lag; break;
  case M_BR_LOST: v = (double)b->f.lost; break;
  case M_BR_BAD: v = (double)b->f.bad; break;
  case M_BR_DUPS: v = (double)b->f.dups; break;
  case M_BR_RECONNECTS: v = (double)b->f.reconnects; break;
  case M_BR_ERRORS: v = (double)b->f.errors; break;
  }
  pvalue(f, pmetrics[metric].name, labels, "", v);
}

/* The producer's credit as consumer cursors give it: a dead reliable
 * consumer holds it back until it is evicted; lossy ones never do. */
static double credits_free(const cli_channel *c) {
  uint64_t lag = 0;
  for (uint32_t n = 0; n < c->st.max_consumers; n++) {
    const rill_consumer_stats *cs = &c->cons[n];
    if (cs->mode == RILL_RELIABLE && !cs->evicted && cs->lag > lag) lag = cs->lag;
  }
  return lag < c->st.depth ? (double)(c->st.depth - lag) : 0;
}

static void prom_channel(sbuf *f, int metric, const char *labels, const cli_channel *c,
                         uint64_t now) {
  const rill_channel_stats *st = &c->st;
  const char *name = pmetrics[metric].name;
  double v = 0;
  switch (metric) {
  case M_DEPTH: v = st->depth; break;
  case M_MTU: v = st->mtu; break;
  case M_CONSUMERS: {
    static const uint32_t states[] = {RILL_PEER_ALIVE, RILL_PEER_DEAD, RILL_PEER_UNKNOWN};
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++) {
      uint32_t n = 0;
      for (uint32_t k = 0; k < st->max_consumers; k++)
        n += c->cons[k].mode && c->cons[k].liveness == states[i];
      char extra[32];
      snprintf(extra, sizeof extra, ",state=\"%s\"", cli_liveness(states[i]));
      pvalue(f, name, labels, extra, n);
    }
    return;
  }
  case M_CREDITS: v = credits_free(c); break;
  case M_PROD_UP: v = st->producer_liveness == RILL_PEER_ALIVE; break;
  case M_PROD_AGE:
    if (!st->producer_heartbeat_ns) return;
    v = age_s(now, st->producer_heartbeat_ns);
    break;
  case M_PROD_SEQ: v = (double)st->seq; break;
  case M_PROD_MSGS: v = (double)st->msgs; break;
  case M_PROD_BYTES: v = (double)st->bytes; break;
  case M_PROD_BACKPRESSURE: v = (double)st->backpressure; break;
  case M_PROD_EVICTIONS: v = (double)st->evictions; break;
  }
  pvalue(f, name, labels, "", v);
}

/* Cumulative buckets at the octave bounds 64 ns .. 2^31 ns: bucket I of
 * the samples ends at 2^k exactly when I < 4(k - 1).  H's count is the
 * sum of its buckets (rill_latency_get()), so +Inf and _count agree. */
static void prom_histogram(sbuf *f, const char *name, const char *labels, const rill_latency *h) {
  uint64_t cum = 0;
  uint32_t i = 0;
  for (int k = 6; k <= 31; k++) {
    for (; i < 4u * (uint32_t)(k - 1); i++) cum += h->buckets[i];
    sb_printf(f, "%s_bucket{%s,le=\"%.9g\"} %llu\n", name, labels, ldexp(1, k) / 1e9,
              (unsigned long long)cum);
  }
  sb_printf(f, "%s_bucket{%s,le=\"+Inf\"} %llu\n", name, labels, (unsigned long long)h->count);
  sb_printf(f, "%s_sum{%s} %.9g\n", name, labels, (double)h->sum_ns / 1e9);
  sb_printf(f, "%s_count{%s} %llu\n", name, labels, (unsigned long long)h->count);
}

static void prom_consumer(sbuf *f, int metric, const char *labels, const rill_consumer_stats *cs,
                          const rill_latency *h, uint64_t now) {
  const char *name = pmetrics[metric].name;
  switch (metric) {
  case M_CONS_UP: pvalue(f, name, labels, "", cs->liveness == RILL_PEER_ALIVE); break;
  case M_CONS_AGE: pvalue(f, name, labels, "", age_s(now, cs->heartbeat_ns)); break;
  case M_CONS_EVICTED: pvalue(f, name, labels, "", cs->evicted != 0); break;
  case M_CONS_LAG: pvalue(f, name, labels, "", (double)cs->lag); break;
  case M_CONS_MSGS: pvalue(f, name, labels, "", (double)cs->msgs); break;
  case M_CONS_BYTES: pvalue(f, name, labels, "", (double)cs->bytes); break;
  case M_CONS_OVERRUNS:
    pvalue(f, name, labels, ",kind=\"poll\"", (double)cs->overrun_poll);
    pvalue(f, name, labels, ",kind=\"read\"", (double)cs->overrun_read);
    break;
  case M_CONS_LOST: pvalue(f, name, labels, "", (double)cs->lost); break;
  case M_CONS_LATENCY: prom_histogram(f, name, labels, h); break;
  }
}

/* Every family's HELP and TYPE, then its samples: a family with none (no
 * consumer yet) is still described, so a scraper sees every name. */
static void prometheus(sbuf *f, const mon *m, const cli_snap *s) {
  for (int metric = 0; metric < M_COUNT; metric++) {
    sb_printf(f, "# HELP %s %s\n# TYPE %s %s\n", pmetrics[metric].name, pmetrics[metric].help,
              pmetrics[metric].name, pmetrics[metric].type);
    for (uint32_t i = 0; i < s->nregions; i++) {
      const cli_region *r = &s->r[i];
      for (uint32_t k = 0; !r->err && k < r->nchannels; k++) {
        const cli_channel *c = &r->ch[k];
        if (c->err || !wanted(m, r->name, c->name)) continue;
        char labels[160];
        snprintf(labels, sizeof labels, "region=\"%s\",channel=\"%s\"", r->name, c->name);
        if (pmetrics[metric].scope == P_CHANNEL) {
          prom_channel(f, metric, labels, c, s->mono_ns);
          continue;
        }
        if (pmetrics[metric].scope == P_BRIDGE) {
          for (int n = 0; n < c->nbridges; n++) {
            char bl[224];
            snprintf(bl, sizeof bl, "%s,direction=\"%s\",mode=\"%s\"", labels,
                     bridge_direction_name(c->bridges[n].f.direction),
                     bridge_mode_name(c->bridges[n].f.mode));
            prom_bridge(f, metric, bl, &c->bridges[n]);
          }
          continue;
        }
        for (uint32_t n = 0; n < c->st.max_consumers; n++) {
          const rill_consumer_stats *cs = &c->cons[n];
          if (!cs->mode) continue;
          char cl[224];
          snprintf(cl, sizeof cl, "%s,slot=\"%u\",mode=\"%s\"", labels, n, cli_mode(cs->mode));
          prom_consumer(f, metric, cl, cs, &c->lat[n], s->mono_ns);
        }
      }
    }
  }
}

/* --listen's page: a snapshot taken for each scrape, so it is always
 * current; regions and channels that come and go are followed. */
static int metrics_page(void *ctx, char **body, size_t *len) {
  const mon *m = ctx;
  cli_snap s = {0};
  sbuf t = {0};
  if (!take(m, &s)) prometheus(&t, m, &s);
  cli_snap_free(&s);
  if (!t.p || t.err) {
    free(t.p);
    return -1;
  }
  *body = t.p;
  *len = t.len;
  return 0;
}

#define PROM_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Serves /metrics on ADDR until a signal stops it: 0, else the exit status. */
static int listen_metrics(mon *m, const char *addr) {
  cli_http *h;
  int rc = cli_http_start(addr, "/metrics", PROM_TYPE, metrics_page, m, &h);
  if (rc) return rc;
  /* What is named must exist at the start, as for every other reading. */
  cli_snap s = {0};
  if ((rc = take(m, &s))) {
    rc = cli_fail("%s: %s", cli_dir_name(m->dir), rill_strerror(rc));
  } else if (m->nf && snap_errors(m, &s)) {
    rc = 1;
  }
  cli_snap_free(&s);
  if (!rc) {
    os_catch_stop();
    os_ignore_sigpipe();
    printf("rill monitor: serving http://%s/metrics\n", cli_http_addr(h));
    fflush(stdout);
    /* 250 ms at most: a signal that comes just before the wait starts
     * ends it this late. */
    while (!os_stopped()) cli_http_serve(h, 250);
  }
  cli_http_stop(h);
  return rc;
}

/* ---- the terminal ----------------------------------------------------------------------------- */

/* Draws TEXT (lines) from the top left, each cut to the terminal's width,
 * as many as fit; the rest of the screen is cleared. */
static void screen_draw(const char *text) {
  int rows = 24, cols = 80;
  if (os_term_size(&rows, &cols)) rows = 24, cols = 80;
  int row = 0;
  const char *p = text;
  while (*p && row < rows) {
    const char *nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    if (row == rows - 1 && nl && nl[1]) { /* the last row: say what is cut */
      int left = 0;
      char more[32];
      for (const char *q = nl; *q; q++) left += *q == '\n' && q[1];
      snprintf(more, sizeof more, "(%d more rows)", left + 1);
      os_screen_line(row++, more, strlen(more));
      break;
    }
    os_screen_line(row++, p, len < (size_t)cols ? len : (size_t)cols);
    if (!nl) break;
    p = nl + 1;
  }
  os_screen_done(row);
}

/* Waits up to SECS for the interval to pass; 1 if the user asked to quit. */
static int wait_key(double secs, int keys) {
  uint64_t deadline = cli_mono_ns() + (uint64_t)(secs * 1e9);
  for (;;) {
    if (os_stopped()) return 1;
    uint64_t now = cli_mono_ns();
    if (now >= deadline || os_resized()) return 0;
    int ms = (int)((deadline - now + 999999) / 1000000);
    int c = os_key_wait(ms, keys);
    if (c == 'q' || c == 'Q' || c == 3 /* ^C */) return 1;
    if (c < 0) keys = 0; /* stdin closed: the interval alone */
  }
}

static void header(sbuf *f, const mon *m, const cli_snap *s, int live) {
  char ts[16] = "?";
  time_t t = (time_t)(s->real_ns / 1000000000ull);
  struct tm tm;
  if (!os_localtime(t, &tm)) strftime(ts, sizeof ts, "%H:%M:%S", &tm);
  uint32_t nch = 0;
  for (uint32_t i = 0; i < s->nregions; i++)
    for (uint32_t k = 0; k < s->r[i].nchannels; k++) nch += wanted(m, s->r[i].name, s->r[i].ch[k].name);
  sb_printf(f, "rill monitor  %s  %s  every %.1fs  %u region%s, %u channel%s%s\n\n",
          cli_dir_name(m->dir), ts, m->interval, s->nregions, s->nregions == 1 ? "" : "s", nch,
          nch == 1 ? "" : "s", live ? "  (q quits)" : "");
}

/* ---- the command -------------------------------------------------------------------------------- */

#define OPT_LISTEN 0x101 /* --listen, long only */

int cmd_monitor(int argc, char **argv) {
  static const struct option opts[] = {
      {"dir", required_argument, 0, CLI_OPT_DIR},        {"interval", required_argument, 0, 'i'},
      {"iterations", required_argument, 0, 'n'}, {"once", no_argument, 0, '1'},
      {"json", no_argument, 0, 'j'},             {"prometheus", no_argument, 0, 'p'},
      {"listen", required_argument, 0, OPT_LISTEN}, {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  mon m = {.dir = cli_dir, .interval = 1};
  int once = 0, json = 0, prom = 0, timed = 0, o;
  const char *listen = NULL;
  uint64_t iterations = 0;
  while ((o = getopt_long(argc, argv, ":d:i:n:1jph", opts, NULL)) != -1) {
    switch (o) {
    case CLI_OPT_DIR: m.dir = optarg; break;
    case 'd': /* the delay, as in top */
    case 'i':
      if (cli_parse_secs(optarg, &m.interval))
        return cli_usage("--interval: '%s' is not a number of seconds above 0", optarg);
      timed = 1;
      break;
    case 'n':
      if (cli_parse_u64(optarg, 1, &iterations) || !iterations)
        return cli_usage("--iterations: '%s' is not a count above 0", optarg);
      timed = 1;
      break;
    case '1': once = 1; break;
    case 'j': json = 1; break;
    case 'p': prom = 1; break;
    case OPT_LISTEN: listen = optarg; break;
    case 'h': fputs(monitor_usage, stdout); return 0;
    default: return cli_bad_option(o, argv);
    }
  }
  if (prom && (json || once)) return cli_usage("--prometheus goes alone (it is one reading)");
  /* Each scrape is a reading: no screen, and no interval of its own. */
  if (listen && (prom || json || once || timed))
    return cli_usage("--listen goes alone (each scrape of /metrics is a reading)");
  int nf = argc - optind;
  filter *f = nf ? calloc((size_t)nf, sizeof *f) : NULL;
  if (nf && !f) return cli_fail("%s", rill_strerror(-RILL_ENOMEM));
  for (int i = 0; i < nf; i++)
    if (cli_split(argv[optind + i], f[i].region, f[i].chan)) {
      free(f);
      return cli_usage("'%s' is not REGION or REGION/CHANNEL", argv[optind + i]);
    }
  m.f = f;
  m.nf = nf;

  int rc = 0;
  cli_snap prev = {0}, cur = {0};
  int have_prev = 0;
  if (listen) {
    rc = listen_metrics(&m, listen);
    goto out;
  }
  if (prom || once) {
    if ((rc = take(&m, &cur))) goto fail;
    if (snap_errors(&m, &cur)) { rc = 1; goto out; }
    if (prom) {
      sbuf text = {0};
      prometheus(&text, &m, &cur);
      if ((rc = sb_put(&text, stdout, 0))) goto fail;
      goto out;
    }
    prev = cur;
    have_prev = 1;
    memset(&cur, 0, sizeof cur);
    wait_key(m.interval, 0);
    if ((rc = take(&m, &cur))) goto fail;
    double dt = (double)(cur.mono_ns - prev.mono_ns) / 1e9;
    if (json) {
      json_snap(stdout, 1, &m, &cur, &prev, dt);
    } else {
      sbuf text = {0};
      header(&text, &m, &cur, 0);
      table(&text, &m, &cur, &prev, dt);
      if ((rc = sb_put(&text, stdout, 0))) goto fail;
    }
    rc = snap_errors(&m, &cur);
    goto out;
  }

  /* What is named must exist at the start, as with --once: a screen that
   * only ever says "no such region" helps nobody.  Later, regions and
   * channels may come and go. */
  if ((rc = take(&m, &cur))) goto fail;
  if (m.nf && snap_errors(&m, &cur)) { rc = 1; goto out; }
  int live = !json && os_stdout_is_terminal(), keys = 0;
  os_catch_stop();
  /* A terminal that cannot be drawn on gets a table per interval, as a
   * pipe does. */
  if (live && os_screen_enter(&keys)) live = 0;
  for (uint64_t it = 0; !os_stopped(); it++) {
    if (it && (rc = take(&m, &cur))) break; /* the first was taken above */
    double dt = have_prev ? (double)(cur.mono_ns - prev.mono_ns) / 1e9 : 0;
    const cli_snap *pp = have_prev && dt > 0 ? &prev : NULL;
    if (json) {
      json_snap(stdout, 0, &m, &cur, pp, dt);
    } else {
      sbuf text = {0};
      header(&text, &m, &cur, live);
      table(&text, &m, &cur, pp, dt);
      if (text.err) {
        free(text.p);
        rc = -RILL_ENOMEM;
        break;
      }
      if (live) screen_draw(text.p);
      else printf("%s\n", text.p), fflush(stdout);
      free(text.p);
    }
    if (have_prev) cli_snap_free(&prev);
    prev = cur;
    have_prev = 1;
    memset(&cur, 0, sizeof cur);
    if (iterations && it + 1 >= iterations) break;
    os_resized(); /* this screen was drawn at the size of now */
    if (wait_key(m.interval, live && keys)) break;
  }
  if (live) os_screen_leave();
  if (rc) goto fail;
  goto out;
fail:
  rc = cli_fail("%s: %s", cli_dir_name(m.dir), rill_strerror(rc));
out:
  if (have_prev) cli_snap_free(&prev);
  cli_snap_free(&cur);
  free(f);
  return rc;
}
