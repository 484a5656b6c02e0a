/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* The rill command line: messages, argument parsing, human formats, JSON,
 * and snapshots of regions. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

const char *cli_cmd = NULL;
const char *cli_dir = NULL;

static void vwarn(const char *fmt, va_list ap) {
  fprintf(stderr, cli_cmd ? "rill %s: " : "rill: ", cli_cmd);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
}

void cli_warn(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vwarn(fmt, ap);
  va_end(ap);
}

int cli_fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vwarn(fmt, ap);
  va_end(ap);
  return 1;
}

int cli_usage(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vwarn(fmt, ap);
  va_end(ap);
  if (cli_cmd) fprintf(stderr, "Try 'rill %s --help'.\n", cli_cmd);
  else fprintf(stderr, "Try 'rill --help'.\n");
  return EXIT_USAGE;
}

/* ---- arguments ----------------------------------------------------------------- */

int cli_parse_u64(const char *s, int si, uint64_t *out) {
  if (!s || !*s || *s == '-' || *s == '+') return -1;
  errno = 0;
  char *end;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || end == s) return -1;
  uint64_t mul = 1, base = si ? 1000 : 1024;
  switch (*end) {
  case 0: break;
  case 'k': case 'K': mul = base; end++; break;
  case 'm': case 'M': mul = base * base; end++; break;
  case 'g': case 'G': mul = base * base * base; end++; break;
  default: return -1;
  }
  if (!si && mul > 1 && (*end == 'i' || *end == 'I')) end++;   /* KiB */
  if (!si && (*end == 'b' || *end == 'B')) end++;
  if (*end) return -1;
  if (v > UINT64_MAX / mul) return -1;
  *out = (uint64_t)v * mul;
  return 0;
}

int cli_parse_secs(const char *s, double *out) {
  if (!s || !*s) return -1;
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end || !(v > 0) || v > 86400) return -1;
  *out = v;
  return 0;
}

int cli_parse_duration(const char *s, uint64_t *ns) {
  if (!s || !*s || *s == '-' || *s == '+') return -1;
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || !(v >= 0)) return -1;
  double unit = 1e9;
  if (!strcmp(end, "ms")) unit = 1e6;
  else if (!strcmp(end, "m")) unit = 60e9;
  else if (!strcmp(end, "h")) unit = 3600e9;
  else if (!strcmp(end, "d")) unit = 86400e9;
  else if (*end && strcmp(end, "s")) return -1;
  if (v * unit > 3.2e18) return -1; /* a century, about */
  *ns = (uint64_t)(v * unit);
  return 0;
}

int cli_split(const char *arg, char *region, char *chan) {
  const char *slash = strchr(arg, '/');
  size_t rn = slash ? (size_t)(slash - arg) : strlen(arg);
  if (rn > RILL_NAME_MAX) return -1;
  memcpy(region, arg, rn);
  region[rn] = 0;
  chan[0] = 0;
  if (!rill_name_valid(region)) return -1;
  if (!slash) return 0;
  if (strlen(slash + 1) > RILL_NAME_MAX) return -1;
  strcpy(chan, slash + 1);
  return rill_name_valid(chan) ? 0 : -1;
}

int cli_bad_option(int o, char **argv) {
  /* A long option is named as written (argv[optind - 1]: getopt has
   * stepped past it); a short one by optopt, as it may sit in a cluster. */
  const char *arg = optind > 0 ? argv[optind - 1] : "";
  char s[3] = {'-', (char)optopt, 0};
  int is_long = !strncmp(arg, "--", 2) || optopt <= 0 || optopt > 0x7f;
  const char *name = is_long ? arg : s;
  size_t n = strcspn(name, "="); /* --opt=value: the option alone */
  if (o == ':') return cli_usage("option '%.*s' needs a value", (int)n, name);
  if (is_long && name[n]) return cli_usage("option '%s' is unknown or takes no value", name);
  return cli_usage("unknown option '%.*s'", (int)n, name);
}

int cli_opts_dir_json(int argc, char **argv, const char *usage, const char **dir, int *json) {
  static const struct option opts[] = {{"dir", required_argument, 0, CLI_OPT_DIR},
                                       {"json", no_argument, 0, 'j'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  int o;
  while ((o = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    switch (o) {
    case CLI_OPT_DIR: *dir = optarg; break;
    case 'j': *json = 1; break;
    case 'h': fputs(usage, stdout); return 0;
    default: return cli_bad_option(o, argv);
    }
  }
  return -1;
}

int cli_target(const char *arg, char *region, char *chan) {
  if (!cli_split(arg, region, chan)) return 0;
  return cli_usage("'%s' is not REGION or REGION/CHANNEL (names are 1 to %d of "
                   "[A-Za-z0-9._-], not starting with '.')", arg, RILL_NAME_MAX);
}

/* ---- formatting ----------------------------------------------------------------- */

static const char *scaled(char *buf, double n, double base, const char *const *units,
                          int nunits, const char *unit0) {
  int u = 0;
  while (u < nunits && fabs(n) >= base * 0.9995) n /= base, u++;
  if (u == 0) snprintf(buf, 16, "%.0f%s", n, unit0);
  else snprintf(buf, 16, n < 9.995 ? "%.2f%s" : n < 99.95 ? "%.1f%s" : "%.0f%s", n,
                units[u - 1]);
  return buf;
}

const char *cli_bytes(char *buf, double n) {
  static const char *const u[] = {" KiB", " MiB", " GiB", " TiB"};
  return scaled(buf, n, 1024, u, 4, " B");
}

const char *cli_count(char *buf, double n) {
  static const char *const u[] = {"k", "M", "G", "T"};
  return scaled(buf, n, 1000, u, 4, "");
}

const char *cli_ns(char *buf, double ns) {
  if (ns < 1000) snprintf(buf, 16, "%.0f ns", ns);
  else if (ns < 1e6) snprintf(buf, 16, "%.1f us", ns / 1e3);
  else if (ns < 1e9) snprintf(buf, 16, "%.1f ms", ns / 1e6);
  else snprintf(buf, 16, "%.2f s", ns / 1e9);
  return buf;
}

const char *cli_age(char *buf, double s) {
  if (s < 0) s = 0;
  if (s < 120) snprintf(buf, 16, "%.0fs", s);
  else if (s < 7200) snprintf(buf, 16, "%.0fm", s / 60);
  else if (s < 172800) snprintf(buf, 16, "%.0fh", s / 3600);
  else snprintf(buf, 16, "%.0fd", s / 86400);
  return buf;
}

const char *cli_liveness(uint32_t l) {
  switch (l) {
  case RILL_PEER_NONE: return "none";
  case RILL_PEER_ALIVE: return "alive";
  case RILL_PEER_DEAD: return "dead";
  default: return "unknown";
  }
}

const char *cli_mode(uint32_t m) {
  return m == RILL_RELIABLE ? "reliable" : m == RILL_LOSSY ? "lossy" : "free";
}

/* ---- JSON ------------------------------------------------------------------------ */

void cli_json_init(cli_json *j, FILE *f) {
  memset(j, 0, sizeof *j);
  j->f = f;
  j->first[0] = 1;
  j->pretty = 1;
}

static void jstring(FILE *f, const char *s) {
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    switch (*p) {
    case '"': fputs("\\\"", f); break;
    case '\\': fputs("\\\\", f); break;
    case '\n': fputs("\\n", f); break;
    case '\t': fputs("\\t", f); break;
    case '\r': fputs("\\r", f); break;
    default:
      if (*p < 0x20) fprintf(f, "\\u%04x", *p);
      else fputc(*p, f);
    }
  }
  fputc('"', f);
}

/* The separator and key before a value. */
static void jkey(cli_json *j, const char *key) {
  if (!j->first[j->depth]) fputc(',', j->f);
  j->first[j->depth] = 0;
  if (j->pretty && j->depth) {
    fputc('\n', j->f);
    for (int i = 0; i < j->depth; i++) fputs("  ", j->f);
  }
  if (key) {
    jstring(j->f, key);
    fputs(j->pretty ? ": " : ":", j->f);
  }
}

static void jopen(cli_json *j, const char *key, char c) {
  jkey(j, key);
  fputc(c, j->f);
  if (j->depth < 15) j->depth++;
  j->first[j->depth] = 1;
}

void cli_json_obj(cli_json *j, const char *key) { jopen(j, key, '{'); }
void cli_json_arr(cli_json *j, const char *key) { jopen(j, key, '['); }

void cli_json_end(cli_json *j, char close) {
  int empty = j->first[j->depth];
  if (j->depth) j->depth--;
  if (j->pretty && !empty) {
    fputc('\n', j->f);
    for (int i = 0; i < j->depth; i++) fputs("  ", j->f);
  }
  fputc(close, j->f);
}

void cli_json_str(cli_json *j, const char *key, const char *v) {
  jkey(j, key);
  jstring(j->f, v);
}

void cli_json_u64(cli_json *j, const char *key, uint64_t v) {
  jkey(j, key);
  fprintf(j->f, "%llu", (unsigned long long)v);
}

void cli_json_num(cli_json *j, const char *key, double v) {
  jkey(j, key);
  if (isfinite(v)) fprintf(j->f, "%.10g", v);
  else fputs("null", j->f);
}

void cli_json_bool(cli_json *j, const char *key, int v) {
  jkey(j, key);
  fputs(v ? "true" : "false", j->f);
}

void cli_json_null(cli_json *j, const char *key) {
  jkey(j, key);
  fputs("null", j->f);
}

void cli_json_done(cli_json *j) {
  fputc('\n', j->f);
  fflush(j->f);
}

/* ---- clocks ------------------------------------------------------------------------ */

uint64_t cli_mono_ns(void) { return os_mono_ns(); }
uint64_t cli_real_ns(void) { return os_real_ns(); }

/* ---- snapshots ------------------------------------------------------------------------ */

struct names {
  char **v;
  int n, cap;
};

static int name_add(const char *name, void *arg) {
  struct names *k = arg;
  if (k->n == k->cap) {
    int cap = k->cap ? 2 * k->cap : 16;
    char **v = realloc(k->v, (size_t)cap * sizeof *v);
    if (!v) return -RILL_ENOMEM;
    k->v = v;
    k->cap = cap;
  }
  if (!(k->v[k->n] = strdup(name))) return -RILL_ENOMEM;
  k->n++;
  return 0;
}

static int name_cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int cli_region_names(const char *dir, char ***names) {
  struct names k = {0};
  int rc = rill_region_list(dir, name_add, &k);
  /* The default directory is made with the first region (on Windows,
   * %LOCALAPPDATA%\rill): until then it holds none.  One named is
   * expected to be there. */
  const char *env = os_getenv("RILL_DIR");
  if (rc == -RILL_ENODIR && !(dir && dir[0]) && !(env && env[0])) rc = 0;
  if (rc < 0) {
    cli_names_free(k.v, k.n);
    return rc;
  }
  if (k.n) qsort(k.v, (size_t)k.n, sizeof *k.v, name_cmp);
  *names = k.v;
  return k.n;
}

void cli_names_free(char **names, int n) {
  for (int i = 0; i < n; i++) free(names[i]);
  free(names);
}

/* The producer flushes its next sequence number lazily (every 512 to 1024
 * messages, and when it waits), a consumer its own when it flushes: read
 * as they are, a consumer can be ahead of its producer, which it never is.
 * What a consumer has read was published, so the producer is shown at the
 * furthest of its flushed seq, of each consumer's seq, and of the producer
 * seq each consumer's lag was counted from (read after the channel's);
 * lags are counted again from there, and no consumer is ever ahead. */
static void producer_at_least_consumers(cli_channel *c) {
  uint64_t seq = c->st.seq;
  for (uint32_t k = 0; k < c->st.max_consumers; k++) {
    const rill_consumer_stats *cs = &c->cons[k];
    if (!cs->mode) continue;
    uint64_t seen = cs->seq + cs->lag; /* lag is 0 when it was ahead */
    if ((int64_t)(seen - seq) > 0) seq = seen; /* wrap-safe */
  }
  c->st.seq = seq;
  for (uint32_t k = 0; k < c->st.max_consumers; k++)
    if (c->cons[k].mode) c->cons[k].lag = seq - c->cons[k].seq;
}

static int snap_region(cli_region *cr, const char *dir, int ask_in_use) {
  cr->in_use = -1;
  if (ask_in_use) {
    /* Before we open it: our own handle's lock would count as a user. */
    int u = rill_region_in_use(cr->name, dir);
    cr->in_use = u < 0 ? -1 : u;
  }
  rill_region *r;
  /* Read-only: an observer needs no right to write the region, maps
   * nothing, and survives a file shrunk under it (an error, not SIGBUS). */
  rill_region_opts o = {.dir = dir, .flags = RILL_REGION_READONLY};
  if ((cr->err = rill_region_open(cr->name, &o, &r))) return 0;
  if ((cr->err = rill_region_info_get(r, &cr->info))) {
    rill_region_close(r);
    return 0;
  }
  cr->ch = calloc(cr->info.nobjects ? cr->info.nobjects : 1, sizeof *cr->ch);
  if (!cr->ch) { rill_region_close(r); return -RILL_ENOMEM; }
  for (uint32_t i = 0; i < cr->info.nobjects; i++) {
    rill_object_info oi;
    if (rill_region_object_get(r, i, &oi) || oi.type != RILL_OBJECT_CHANNEL) continue;
    cli_channel *c = &cr->ch[cr->nchannels++];
    memcpy(c->name, oi.name, sizeof c->name);
    if ((c->err = rill_channel_stats_get(r, c->name, &c->st))) continue;
    c->cons = calloc(c->st.max_consumers, sizeof *c->cons);
    c->lat = calloc(c->st.max_consumers, sizeof *c->lat);
    if (!c->cons || !c->lat) { rill_region_close(r); return -RILL_ENOMEM; }
    c->st.nconsumers = 0; /* counted again below, to agree with the slots read */
    for (uint32_t k = 0; k < c->st.max_consumers && !c->err; k++) {
      c->err = rill_consumer_stats_get(r, c->name, k, &c->cons[k]);
      if (c->err || !c->cons[k].mode) continue;
      c->st.nconsumers++;
      rill_latency_get(r, c->name, k, &c->lat[k]);
    }
    producer_at_least_consumers(c);
    c->nbridges = bridge_read(dir, cr->name, c->name, c->bridges, 2);
  }
  rill_region_close(r);
  return 0;
}

int cli_snap_take(cli_snap *s, const char *dir, char *const *names, int n, int ask_in_use) {
  memset(s, 0, sizeof *s);
  s->dir = dir;
  s->mono_ns = cli_mono_ns();
  s->real_ns = cli_real_ns();
  if (n && !(s->r = calloc((size_t)n, sizeof *s->r))) return -RILL_ENOMEM;
  for (int i = 0; i < n; i++) {
    cli_region *cr = &s->r[s->nregions++];
    snprintf(cr->name, sizeof cr->name, "%s", names[i]);
    int rc = snap_region(cr, dir, ask_in_use);
    if (rc) return rc;
  }
  return 0;
}

/* Where endpoint locks are (PROTOCOL.md §2.1-§2.3): the byte of the
 * producer page, and of each cursor page, from the region's start. */
#define PROD_LOCK_OFF 4096u
#define CURSOR_LOCK_OFF(k) (12288u + (uint64_t)(k) * 4096u)

/* The pid of a live endpoint whose lock is byte OFF and whose pid in
 * shared memory is PID, from the N holders H (-1: unknown; OS_PIDS_GLOBAL:
 * PID is the pid here) of which HIDDEN processes could not be looked into. */
static cli_pid pid_seen(uint32_t liveness, uint32_t pid, uint64_t off, const os_lock_holder *h,
                        int n, int hidden) {
  cli_pid p = {CLI_PID_NA, 0, 0, 0};
  if (liveness != RILL_PEER_ALIVE) return p;
  if (n == OS_PIDS_GLOBAL) return (cli_pid){.seen = CLI_PID_HERE, .here = pid, .own = pid};
  const os_lock_holder *found = NULL;
  for (int i = 0; i < n; i++) /* several: a description shared by fork; the recorder first */
    if (h[i].off == off && (!found || (h[i].ns_pid == pid && found->ns_pid != pid))) found = &h[i];
  if (found) {
    p.seen = CLI_PID_HERE;
    p.here = found->pid;
    p.own = found->ns_pid;
    p.inner = found->pid != found->ns_pid;
  } else {
    p.seen = n < 0 || hidden ? CLI_PID_UNKNOWN : CLI_PID_OTHER;
  }
  return p;
}

int cli_snap_pids(cli_snap *s) {
  for (uint32_t i = 0; i < s->nregions; i++) {
    cli_region *r = &s->r[i];
    os_lock_holder *h = NULL;
    int n = -1, hidden = 0, any = 0;
    for (uint32_t k = 0; k < r->nchannels; k++) {
      cli_channel *c = &r->ch[k];
      if (c->err) continue;
      free(c->cons_pid);
      if (!(c->cons_pid = calloc(c->st.max_consumers, sizeof *c->cons_pid))) return -RILL_ENOMEM;
      any |= c->st.producer_liveness == RILL_PEER_ALIVE;
      for (uint32_t j = 0; j < c->st.max_consumers; j++)
        any |= c->cons[j].mode && c->cons[j].liveness == RILL_PEER_ALIVE;
    }
    if (any) { /* a lock per endpoint, one per open handle, room for more */
      char path[4096];
      snprintf(path, sizeof path, "%s/%s", cli_dir_name(s->dir), r->name);
      int cap = 64;
      for (;;) {
        os_lock_holder *more = realloc(h, (size_t)cap * sizeof *h);
        if (!more) { free(h); return -RILL_ENOMEM; }
        h = more;
        if ((n = os_lock_holders(path, h, cap, &hidden)) <= cap) break;
        cap = n + 64; /* more came meanwhile */
      }
    }
    for (uint32_t k = 0; k < r->nchannels; k++) {
      cli_channel *c = &r->ch[k];
      if (c->err) continue;
      c->pids = 1;
      c->prod_pid = pid_seen(c->st.producer_liveness, c->st.producer_pid,
                             c->st.off + PROD_LOCK_OFF, h, n, hidden);
      for (uint32_t j = 0; j < c->st.max_consumers; j++)
        if (c->cons[j].mode)
          c->cons_pid[j] = pid_seen(c->cons[j].liveness, c->cons[j].pid,
                                    c->st.off + CURSOR_LOCK_OFF(j), h, n, hidden);
    }
    free(h);
  }
  return 0;
}

uint32_t cli_pid_shown(uint32_t pid, const cli_pid *p) {
  return p->seen == CLI_PID_HERE && p->own == pid ? p->here : pid;
}

const char *cli_pid_note(uint32_t pid, const cli_pid *p, char *buf, size_t cap) {
  buf[0] = 0;
  if (p->seen == CLI_PID_HERE && p->here != pid && p->own == pid)
    snprintf(buf, cap, " (pid %u in its PID namespace)", pid);
  else if (p->seen == CLI_PID_HERE && p->here != pid)
    snprintf(buf, cap, " (its lock held by pid %u here)", p->here);
  else if (p->seen == CLI_PID_OTHER)
    snprintf(buf, cap, " (in another PID namespace)");
  else if (p->seen == CLI_PID_UNKNOWN)
    snprintf(buf, cap, " (not seen here: another PID namespace, or a process this user "
                       "cannot look into)");
  return buf;
}

void cli_snap_free(cli_snap *s) {
  for (uint32_t i = 0; i < s->nregions; i++) {
    for (uint32_t k = 0; k < s->r[i].nchannels; k++) {
      free(s->r[i].ch[k].cons);
      free(s->r[i].ch[k].lat);
      free(s->r[i].ch[k].cons_pid);
    }
    free(s->r[i].ch);
  }
  free(s->r);
  memset(s, 0, sizeof *s);
}

const cli_channel *cli_snap_find(const cli_snap *s, const char *region, const char *chan) {
  if (!s) return NULL;
  for (uint32_t i = 0; i < s->nregions; i++) {
    if (strcmp(s->r[i].name, region)) continue;
    for (uint32_t k = 0; k < s->r[i].nchannels; k++)
      if (!strcmp(s->r[i].ch[k].name, chan) && !s->r[i].ch[k].err) return &s->r[i].ch[k];
  }
  return NULL;
}

void cli_channel_peers(const cli_channel *c, uint32_t *alive, uint32_t *dead) {
  *alive = *dead = 0;
  if (c->err) return;
  uint32_t l = c->st.producer_liveness;
  *alive += l == RILL_PEER_ALIVE;
  *dead += l == RILL_PEER_DEAD;
  for (uint32_t k = 0; k < c->st.max_consumers; k++) {
    if (!c->cons[k].mode) continue;
    l = c->cons[k].liveness;
    *alive += l == RILL_PEER_ALIVE;
    *dead += l == RILL_PEER_DEAD;
  }
}

/* The difference NOW - BEFORE of a counter that may have been reset (a new
 * join starts from 0): NOW itself then. */
static uint64_t delta(uint64_t now, uint64_t before) {
  return now >= before ? now - before : now;
}

/* NOW - BEFORE of two latency readings of the same slot (BEFORE NULL:
 * NOW); a slot rejoined afresh in between gives NOW. */
static void latency_delta(const rill_latency *now, const rill_latency *before, rill_latency *out) {
  *out = *now;
  if (!before || before->count > now->count) return;
  for (uint32_t i = 0; i < RILL_LATENCY_BUCKETS; i++) {
    if (before->buckets[i] > now->buckets[i]) { *out = *now; return; } /* reset */
    out->buckets[i] = now->buckets[i] - before->buckets[i];
  }
  out->count = now->count - before->count;
  out->sum_ns = delta(now->sum_ns, before->sum_ns);
}

const cli_channel *cli_prev_channel(const cli_snap *prev, const char *region, const char *chan) {
  static const cli_channel appeared; /* max_consumers 0: no slot counted */
  if (!prev) return NULL;
  const cli_channel *c = cli_snap_find(prev, region, chan);
  return c ? c : &appeared;
}

void cli_producer_rates(const cli_channel *c, const cli_channel *prev, double dt, cli_rates *out) {
  const rill_channel_stats *st = &c->st, *ps = &prev->st;
  memset(out, 0, sizeof *out);
  out->msgs = (double)delta(st->msgs, ps->msgs) / dt;
  out->bytes = (double)delta(st->bytes, ps->bytes) / dt;
  out->backpressure = (double)delta(st->backpressure, ps->backpressure) / dt;
}

void cli_consumer_rates(const cli_channel *c, uint32_t slot, const cli_channel *prev, double dt,
                        cli_rates *out) {
  static const rill_consumer_stats none;
  const rill_consumer_stats *cs = &c->cons[slot];
  /* the slot's earlier reading, if a consumer held it then */
  int held = slot < prev->st.max_consumers && prev->cons[slot].mode;
  const rill_consumer_stats *b = held ? &prev->cons[slot] : &none;
  memset(out, 0, sizeof *out);
  out->msgs = (double)delta(cs->msgs, b->msgs) / dt;
  out->bytes = (double)delta(cs->bytes, b->bytes) / dt;
  out->overruns = (double)delta(cs->overrun_poll + cs->overrun_read,
                                b->overrun_poll + b->overrun_read) / dt;
  out->lost = (double)delta(cs->lost, b->lost) / dt;
  latency_delta(&c->lat[slot], held ? &prev->lat[slot] : NULL, &out->window);
}

const char *cli_dir_name(const char *dir) {
  if (dir && dir[0]) return dir;
  const char *env = os_getenv("RILL_DIR");
  return env && env[0] ? env : os_default_dir();
}
