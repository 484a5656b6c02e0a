/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill bridge: channels carried between hosts over NATS (docs/bridge.md).
 *
 *   out: a consumer of a local channel that publishes every message
 *        (reassembled) to a NATS subject;
 *   in:  a subscriber of a subject that puts every message into a local
 *        channel, with its original sig and ctl.
 *
 * Each bridged message is one NATS message: the payload is the message's
 * bytes, the header "Rill" carries "EPOCH SEQ FRAGS SIG CTL TSORIG TSPUB"
 * in decimal (EPOCH: the source channel's created_ns, which tells a
 * recreated channel from the old one; SEQ: the sequence number of its first
 * descriptor; FRAGS: how many it spans, so SEQ + FRAGS is the next one),
 * and in JetStream mode "Nats-Msg-Id: REGION/CHANNEL/EPOCH/SEQ", which the
 * stream uses to drop what a restarted `out` publishes again.
 *
 * One thread per bridged channel, one NATS connection for them all (the
 * client's reconnects move it across the cluster's servers).  Everything
 * a restart needs and every counter is in the bridge's file (bridge.h). */
#include "bridge.h"
#include "cli.h"

#ifndef RILL_HAVE_NATS

int cmd_bridge(int argc, char **argv) {
  (void)argc, (void)argv;
  return cli_fail("this rill was built without NATS: install nats.c (Debian: libnats-dev) and "
                  "build again (docs/bridge.md)");
}

#else

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <nats/nats.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
    "Usage: rill bridge out REGION/CHANNEL... [OPTIONS]\n"
    "       rill bridge in REGION/CHANNEL... [OPTIONS]\n"
    "       rill bridge --config FILE [OPTIONS]\n"
    "\n"
    "Carries channels between hosts over NATS: 'out' reads a local channel and\n"
    "publishes every message to a subject; 'in' puts every message of a subject\n"
    "into a local channel.  Runs until SIGINT or SIGTERM.\n"
    "\n"
    "Options:\n"
    "  -s, --server URLS     NATS servers, comma-separated (default nats://127.0.0.1:4222)\n"
    "      --subject SUBJ    the subject (one channel only; default rill.REGION.CHANNEL)\n"
    "  -j, --jetstream       through JetStream: nothing lost, nothing twice (default:\n"
    "                        core NATS, at most once, losses counted)\n"
    "      --replicas N      replicas of a stream the bridge creates (default 1)\n"
    "      --lossy           out: a lossy consumer, which never slows the producer\n"
    "                        (default reliable: a slow network holds the producer back)\n"
    "      --create          in: create the region and channel if missing, with\n"
    "                        --size BYTES (64M), --depth N (4096), --mtu N (1024),\n"
    "                        --max-msg N (1M)\n"
    "      --batch N         most messages in one NATS message (1024)\n"
    "      --linger TIME     how long a batch waits for more once the channel has\n"
    "                        nothing ready (default 0: it goes at once)\n"
    "      --spin TIME       out: how long it polls an idle channel before it sleeps\n"
    "                        (default 20us as 0.00002; longer: lower latency, more CPU)\n"
    "      --creds FILE      NATS credentials (JWT and NKey seed)\n"
    "      --nkey-seed FILE  an NKey seed\n"
    "      --user-file FILE  user:password, on the first line\n"
    "      --token-file FILE a token, on the first line\n"
    "      --tls             TLS, with the system's roots unless --tls-ca\n"
    "      --tls-ca FILE, --tls-cert FILE, --tls-key FILE\n"
    "      --config FILE     options and channels from FILE (docs/bridge.md)\n"
    "      --json            at exit, each channel's counters as a JSON line\n"
    "      --dir DIR         where regions are\n"
    "  -h, --help            this text\n"
    "\n"
    "rill info and rill monitor show each bridge beside the channel's endpoints.\n";

/* ---- configuration ------------------------------------------------------------ */

typedef struct blink blink;

typedef struct bridge_cfg {
  char *servers;
  int jetstream, replicas, lossy, create, json;
  uint64_t size, depth, mtu, max_msg, batch, linger_ns, spin_ns;
  char *creds, *nkey_seed, *user_file, *token_file, *tls_ca, *tls_cert, *tls_key;
  int tls;
  blink *links;
  int nlinks, cap;
} bridge_cfg;

struct blink {
  int direction;
  char region[RILL_NAME_MAX + 1], chan[RILL_NAME_MAX + 1];
  char subject[256];
  int lossy, create; /* per channel, or from the options */
  /* running */
  pthread_t thread;
  int started;
  int fd;
  bridge_file *f;
  char err[512];
  int failed;
  /* out: what stays open until the process ends (bridge out keeps its
   * slot: see out_main) */
  rill_region *keep_r;
  rill_consumer *keep_c;
};

/* Set by SIGINT/SIGTERM's handler and by a channel that fails; read by
 * every thread (lock-free, so the handler may store it). */
static atomic_int stopping;
static natsConnection *nc;
static const char *dir_arg;

static void on_signal(int sig) {
  (void)sig;
  atomic_store(&stopping, 1);
}

static char *dup_or_die(const char *s) {
  char *d = strdup(s);
  if (!d) {
    fputs("rill bridge: out of memory\n", stderr);
    exit(1);
  }
  return d;
}

static int add_link(bridge_cfg *c, int direction, const char *target, const char *subject,
                    int lossy, int create) {
  if (c->nlinks == c->cap) {
    int cap = c->cap ? c->cap * 2 : 4;
    blink *l = realloc(c->links, (size_t)cap * sizeof *l);
    if (!l) return cli_fail("out of memory");
    c->links = l, c->cap = cap;
  }
  blink *l = &c->links[c->nlinks];
  memset(l, 0, sizeof *l);
  l->direction = direction;
  l->fd = -1;
  if (cli_split(target, l->region, l->chan) || !l->chan[0])
    return cli_usage("'%s' is not REGION/CHANNEL", target);
  for (int i = 0; i < c->nlinks; i++)
    if (c->links[i].direction == direction && !strcmp(c->links[i].region, l->region) &&
        !strcmp(c->links[i].chan, l->chan))
      return cli_usage("%s is bridged %s twice", target, bridge_direction_name((uint32_t)direction));
  int n = subject && subject[0] ? snprintf(l->subject, sizeof l->subject, "%s", subject)
                                : snprintf(l->subject, sizeof l->subject, "rill.%s.%s", l->region,
                                           l->chan);
  if (n <= 0 || (size_t)n >= sizeof l->subject || strpbrk(l->subject, " \t\r\n*>"))
    return cli_usage("bad subject '%s' (no spaces or wildcards)", l->subject);
  l->lossy = lossy;
  l->create = create;
  c->nlinks++;
  return -1;
}

enum { O_SUBJECT = 0x200, O_REPLICAS, O_LOSSY, O_CREATE, O_SIZE, O_DEPTH, O_MTU, O_MAXMSG,
       O_BATCH, O_LINGER, O_SPIN, O_CREDS, O_NKEY, O_USERF, O_TOKENF, O_TLS, O_TLSCA, O_TLSCERT,
       O_TLSKEY, O_CONFIG, O_JSON };

static const struct option long_opts[] = {
    {"server", required_argument, 0, 's'},     {"subject", required_argument, 0, O_SUBJECT},
    {"jetstream", no_argument, 0, 'j'},        {"replicas", required_argument, 0, O_REPLICAS},
    {"lossy", no_argument, 0, O_LOSSY},        {"create", no_argument, 0, O_CREATE},
    {"size", required_argument, 0, O_SIZE},    {"depth", required_argument, 0, O_DEPTH},
    {"mtu", required_argument, 0, O_MTU},      {"max-msg", required_argument, 0, O_MAXMSG},
    {"batch", required_argument, 0, O_BATCH},  {"linger", required_argument, 0, O_LINGER},
    {"spin", required_argument, 0, O_SPIN},
    {"creds", required_argument, 0, O_CREDS},  {"nkey-seed", required_argument, 0, O_NKEY},
    {"user-file", required_argument, 0, O_USERF}, {"token-file", required_argument, 0, O_TOKENF},
    {"tls", no_argument, 0, O_TLS},            {"tls-ca", required_argument, 0, O_TLSCA},
    {"tls-cert", required_argument, 0, O_TLSCERT}, {"tls-key", required_argument, 0, O_TLSKEY},
    {"config", required_argument, 0, O_CONFIG}, {"json", no_argument, 0, O_JSON},
    {"dir", required_argument, 0, CLI_OPT_DIR}, {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0}};

/* Applies option O with value V (NULL for a flag).  -1 to go on, else an
 * exit status. */
static int set_opt(bridge_cfg *c, int o, const char *v, const char **subject, const char **config) {
  uint64_t n;
  switch (o) {
  case 's': free(c->servers); c->servers = dup_or_die(v); break;
  case O_SUBJECT: *subject = v; break;
  case 'j': c->jetstream = 1; break;
  case O_REPLICAS:
    if (cli_parse_u64(v, 1, &n) || n < 1 || n > 5) return cli_usage("--replicas: 1 to 5");
    c->replicas = (int)n;
    break;
  case O_LOSSY: c->lossy = 1; break;
  case O_CREATE: c->create = 1; break;
  case O_SIZE: if (cli_parse_u64(v, 0, &c->size) || !c->size) return cli_usage("bad --size '%s'", v); break;
  case O_DEPTH: if (cli_parse_u64(v, 0, &c->depth) || !c->depth) return cli_usage("bad --depth '%s'", v); break;
  case O_MTU: if (cli_parse_u64(v, 0, &c->mtu) || !c->mtu) return cli_usage("bad --mtu '%s'", v); break;
  case O_MAXMSG: if (cli_parse_u64(v, 0, &c->max_msg) || !c->max_msg) return cli_usage("bad --max-msg '%s'", v); break;
  case O_BATCH:
    if (cli_parse_u64(v, 1, &c->batch) || !c->batch || c->batch > 65536)
      return cli_usage("--batch: 1 to 65536");
    break;
  case O_LINGER:
    if (cli_parse_duration(v, &c->linger_ns) || c->linger_ns > 1000000000ull)
      return cli_usage("--linger: a duration up to 1 s (0, 2ms, 0.0005)");
    break;
  case O_SPIN:
    if (cli_parse_duration(v, &c->spin_ns) || c->spin_ns > 1000000000ull)
      return cli_usage("--spin: a duration up to 1 s (0, 1ms, 0.0001)");
    break;
  case O_CREDS: c->creds = dup_or_die(v); break;
  case O_NKEY: c->nkey_seed = dup_or_die(v); break;
  case O_USERF: c->user_file = dup_or_die(v); break;
  case O_TOKENF: c->token_file = dup_or_die(v); break;
  case O_TLS: c->tls = 1; break;
  case O_TLSCA: c->tls_ca = dup_or_die(v); c->tls = 1; break;
  case O_TLSCERT: c->tls_cert = dup_or_die(v); c->tls = 1; break;
  case O_TLSKEY: c->tls_key = dup_or_die(v); c->tls = 1; break;
  case O_CONFIG: *config = v; break;
  case O_JSON: c->json = 1; break;
  case CLI_OPT_DIR: dir_arg = v; break;
  default: return cli_usage("unknown option");
  }
  return -1;
}

/* The configuration file: "key = value" lines with the long options' names
 * (a flag takes yes/no), and one line per channel:
 *   out REGION/CHANNEL [subject=SUBJ] [lossy]
 *   in REGION/CHANNEL [subject=SUBJ] [create]
 * '#' starts a comment. */
static int read_config(bridge_cfg *c, const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return cli_fail("cannot read %s: %s", path, strerror(errno));
  char line[1024];
  int lineno = 0, rc = -1;
  while (rc < 0 && fgets(line, sizeof line, f)) {
    lineno++;
    char *hash = strchr(line, '#');
    if (hash) *hash = 0;
    char *w[8];
    int nw = 0;
    for (char *s = strtok(line, " \t\r\n"); s && nw < 8; s = strtok(NULL, " \t\r\n")) w[nw++] = s;
    if (!nw) continue;
    if (!strcmp(w[0], "out") || !strcmp(w[0], "in")) {
      if (nw < 2) { rc = cli_usage("%s:%d: '%s' needs REGION/CHANNEL", path, lineno, w[0]); break; }
      const char *subject = NULL;
      int lossy = c->lossy, create = c->create;
      for (int i = 2; i < nw && rc < 0; i++) {
        if (!strncmp(w[i], "subject=", 8)) subject = w[i] + 8;
        else if (!strcmp(w[i], "lossy") && w[0][0] == 'o') lossy = 1;
        else if (!strcmp(w[i], "create") && w[0][0] == 'i') create = 1;
        else rc = cli_usage("%s:%d: unknown word '%s'", path, lineno, w[i]);
      }
      if (rc < 0)
        rc = add_link(c, w[0][0] == 'o' ? BRIDGE_OUT : BRIDGE_IN, w[1], subject, lossy, create);
      continue;
    }
    /* key = value, or key value */
    char *key = w[0], *val = nw >= 3 && !strcmp(w[1], "=") ? w[2] : nw >= 2 ? w[1] : NULL;
    char *eq = strchr(key, '=');
    if (eq) *eq = 0, val = eq[1] ? eq + 1 : nw >= 2 ? w[1] : NULL;
    const struct option *o = long_opts;
    while (o->name && strcmp(o->name, key)) o++;
    if (!o->name || o->val == O_CONFIG || o->val == O_SUBJECT) {
      rc = cli_usage("%s:%d: unknown key '%s'", path, lineno, key);
      break;
    }
    if (o->has_arg == no_argument) {
      if (!val || !strcmp(val, "yes") || !strcmp(val, "true") || !strcmp(val, "1")) val = NULL;
      else if (!strcmp(val, "no") || !strcmp(val, "false") || !strcmp(val, "0")) continue;
      else { rc = cli_usage("%s:%d: %s takes yes or no", path, lineno, key); break; }
    } else if (!val) {
      rc = cli_usage("%s:%d: %s needs a value", path, lineno, key);
      break;
    }
    const char *unused = NULL;
    rc = set_opt(c, o->val, val, &unused, &unused);
  }
  fclose(f);
  return rc;
}

/* ---- the bridge's file ---------------------------------------------------------- */

static int file_open(blink *l, const bridge_cfg *c) {
  char path[4096];
  if (bridge_path(dir_arg, l->region, l->chan, l->direction, path, sizeof path))
    return cli_fail("path too long for %s/%s", l->region, l->chan);
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return cli_fail("cannot open %s: %s", path, strerror(errno));
  /* A bridge restarted at once after a crash may come before the dead
   * one's lock is dropped (the kernel drops it as the process ends). */
  int locked = 0;
  for (int i = 0; i < 300 && !(locked = flock(fd, LOCK_EX | LOCK_NB) == 0); i++) os_sleep_ms(10);
  if (!locked) {
    bridge_file old;
    uint32_t pid = pread(fd, &old, sizeof old, 0) == (ssize_t)sizeof old ? old.pid : 0;
    close(fd);
    return cli_fail("%s/%s is already bridged %s (by pid %u): %s", l->region, l->chan,
                    bridge_direction_name((uint32_t)l->direction), pid, path);
  }
  struct stat st;
  if (fstat(fd, &st) || (st.st_size != (off_t)sizeof(bridge_file) && ftruncate(fd, 0)) ||
      ftruncate(fd, sizeof(bridge_file))) {
    close(fd);
    return cli_fail("cannot size %s: %s", path, strerror(errno));
  }
  bridge_file *f = mmap(NULL, sizeof *f, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (f == MAP_FAILED) {
    close(fd);
    return cli_fail("cannot map %s: %s", path, strerror(errno));
  }
  int fresh = memcmp(f->magic, BRIDGE_MAGIC, 8) || f->version != BRIDGE_VERSION ||
              f->direction != (uint32_t)l->direction;
  uint32_t mode = c->jetstream ? BRIDGE_JETSTREAM : BRIDGE_CORE;
  if (fresh || strcmp(f->subject, l->subject) || f->mode != mode) {
    /* what a restart needs belongs to this subject and mode only */
    memset(f, 0, sizeof *f);
    memcpy(f->magic, BRIDGE_MAGIC, 8);
    f->version = BRIDGE_VERSION;
    f->direction = (uint32_t)l->direction;
    f->mode = mode;
    snprintf(f->subject, sizeof f->subject, "%s", l->subject);
  }
  /* The counters go on from the last run's: a restarted bridge adds to
   * them (the loss a core bridge finds after a restart belongs with what
   * came before it). */
  f->pid = (uint32_t)getpid();
  f->started_ns = cli_real_ns();
  l->fd = fd;
  l->f = f;
  return -1;
}

static void file_close(blink *l) {
  if (!l->f) return;
  char path[4096];
  munmap(l->f, sizeof *l->f);
  l->f = NULL;
  close(l->fd); /* the lock goes with it */
  l->fd = -1;
  (void)path;
}

/* ---- NATS ---------------------------------------------------------------------- */

static blink *g_links;
static int g_nlinks;

/* Called from nats.c's threads with their connection C (the global nc is
 * the main thread's until the channels' threads start). */
static void set_nats_state(natsConnection *c, uint32_t s, int reconnected) {
  char url[256] = "";
  if (s == BRIDGE_NATS_CONNECTED && c) natsConnection_GetConnectedUrl(c, url, sizeof url);
  /* user:password@ in a URL stays out of the file (rill info shows it) */
  char *sep = strstr(url, "://"), *at = sep ? strchr(sep + 3, '@') : NULL;
  if (at) memmove(sep + 3, at + 1, strlen(at + 1) + 1);
  for (int i = 0; i < g_nlinks; i++) {
    bridge_file *f = g_links[i].f;
    if (!f) continue;
    snprintf(f->server, sizeof f->server, "%s", url);
    atomic_store_explicit(&f->nats, s, memory_order_relaxed);
    if (reconnected) atomic_fetch_add_explicit(&f->reconnects, 1, memory_order_relaxed);
  }
}

static void on_connected(natsConnection *c, void *arg) {
  (void)arg;
  set_nats_state(c, BRIDGE_NATS_CONNECTED, 0);
  fprintf(stderr, "rill bridge: connected to NATS\n");
}
static void on_disconnected(natsConnection *c, void *arg) {
  (void)arg;
  if (!atomic_load(&stopping)) set_nats_state(c, BRIDGE_NATS_RECONNECTING, 0);
}
static void on_reconnected(natsConnection *c, void *arg) {
  (void)arg;
  set_nats_state(c, BRIDGE_NATS_CONNECTED, 1);
}
/* Why NATS closed the connection, when the bridge did not ask (set once,
 * before stopping: read after the threads are joined). */
static char closed_why[512];

static void on_closed(natsConnection *c, void *arg) {
  (void)arg;
  set_nats_state(c, BRIDGE_NATS_CLOSED, 0);
  if (atomic_load(&stopping)) return;
  /* Closed for good while running: the server turned the bridge away
   * (authorization, TLS) and nats.c gives up; retrying would not help. */
  const char *txt = NULL;
  natsStatus s = natsConnection_GetLastError(c, &txt);
  snprintf(closed_why, sizeof closed_why, "%s", txt && *txt ? txt : natsStatus_GetText(s));
  atomic_store(&stopping, 1);
}

/* The first line of FILE, into BUF (trailing blanks cut).  0 or -1. */
static int first_line(const char *path, char *buf, size_t cap) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  int ok = fgets(buf, (int)cap, f) != NULL;
  fclose(f);
  if (!ok) return -1;
  buf[strcspn(buf, "\r\n")] = 0;
  return buf[0] ? 0 : -1;
}

/* ---- NKeys: the bridge signs the server's nonce itself -----------------------
 * A seed (as NATS's tools write it) is base32 (RFC 4648, no padding) of two
 * prefix bytes, the 32-byte Ed25519 seed and a CRC-16/XMODEM little-endian.
 * The connection carries the user's public key (prefix 'U', the key, the
 * CRC, base32) and the server's nonce signed with the seed (Ed25519,
 * OpenSSL).
 *
 * nats.c could sign with its own seed reader, but before 3.8 it sends no
 * signature at all when the signature's first byte is 0 (its base64 took
 * that byte for the end of an empty input; nats.c #705): the server turns
 * away one connection in 256, and Debian ships 3.4.  So the bridge signs,
 * and refuses such a signature itself when its nats.c has the fault; the
 * attempt fails, and the next one (nats_connect's loop at the start, the
 * next reconnect later) gets a new nonce. */
#define NKEY_PREFIX_SEED (18u << 3)
#define NKEY_PREFIX_USER (20u << 3)

static uint16_t nkey_crc16(const uint8_t *p, size_t n) {
  uint16_t crc = 0;
  while (n--) {
    crc ^= (uint16_t)(*p++ << 8);
    for (int i = 0; i < 8; i++) crc = crc & 0x8000 ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
  }
  return crc;
}

/* Base32 of N bytes at IN into OUT (room for 8 * ceil(N / 5) + 1). */
static void b32_encode(const uint8_t *in, size_t n, char *out) {
  static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  uint32_t buf = 0;
  int bits = 0;
  for (size_t i = 0; i < n; i++) {
    buf = (buf << 8) | in[i];
    bits += 8;
    while (bits >= 5) *out++ = abc[(buf >> (bits -= 5)) & 31];
  }
  if (bits) *out++ = abc[(buf << (5 - bits)) & 31];
  *out = 0;
}

/* Base32 text S into OUT (CAP bytes): the byte count, or -1. */
static int b32_decode(const char *s, uint8_t *out, size_t cap) {
  uint32_t buf = 0;
  int bits = 0;
  size_t n = 0;
  for (; *s; s++) {
    int v = *s >= 'A' && *s <= 'Z' ? *s - 'A' : *s >= '2' && *s <= '7' ? *s - '2' + 26 : -1;
    if (v < 0) return -1;
    buf = (buf << 5) | (uint32_t)v;
    bits += 5;
    if (bits >= 8) {
      if (n == cap) return -1;
      out[n++] = (uint8_t)(buf >> (bits -= 8));
    }
  }
  return (int)n;
}

/* The Ed25519 key of a user's seed SEED, or NULL if SEED is not one. */
static EVP_PKEY *nkey_key(const char *seed) {
  uint8_t raw[64];
  EVP_PKEY *k = NULL;
  int n = b32_decode(seed, raw, sizeof raw);
  if (n == 36 && (raw[0] & 0xf8) == NKEY_PREFIX_SEED &&
      (((raw[0] & 7u) << 5) | ((raw[1] & 0xf8u) >> 3)) == NKEY_PREFIX_USER &&
      nkey_crc16(raw, 34) == (uint16_t)(raw[34] | raw[35] << 8))
    k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, raw + 2, 32);
  memset(raw, 0, sizeof raw);
  return k;
}

/* The user public key of the seed SEED into PUB (at least 57 bytes).  0,
 * or -1 if SEED is not a user's seed. */
static int nkey_public(const char *seed, char *pub) {
  uint8_t key[35];
  size_t len = 32;
  EVP_PKEY *k = nkey_key(seed);
  int rc = -1;
  if (k && EVP_PKEY_get_raw_public_key(k, key + 1, &len) == 1 && len == 32) {
    key[0] = NKEY_PREFIX_USER;
    uint16_t crc = nkey_crc16(key, 33);
    key[33] = (uint8_t)crc, key[34] = (uint8_t)(crc >> 8);
    b32_encode(key, 35, pub);
    rc = 0;
  }
  EVP_PKEY_free(k);
  return rc;
}

/* The line after the one naming WHAT between "-----BEGIN" and "-----" in
 * the creds file PATH ("NATS USER JWT", "USER NKEY SEED"), blanks cut,
 * into BUF.  0 or -1. */
static int creds_part(const char *path, const char *what, char *buf, size_t cap) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  int rc = -1, found = 0;
  while (fgets(buf, (int)cap, f)) {
    if (strstr(buf, "-----BEGIN")) {
      found = strstr(buf, what) != NULL;
      continue;
    }
    char *b = buf + strspn(buf, " \t");
    b[strcspn(b, " \t\r\n")] = 0;
    if (found && *b) {
      memmove(buf, b, strlen(b) + 1);
      rc = 0;
      break;
    }
  }
  fclose(f);
  return rc;
}

/* Where the bridge's seed is: a seed file, or a creds file. */
typedef struct {
  const char *path;
  int creds;
} nkey_src;

static int nkey_seed(const nkey_src *src, char *buf, size_t cap) {
  return src->creds ? creds_part(src->path, "SEED", buf, cap) : first_line(src->path, buf, cap);
}

static natsStatus sign_fail(char **why, const char *fmt, const char *path) {
  char msg[512];
  snprintf(msg, sizeof msg, fmt, path);
  *why = strdup(msg);
  return NATS_ERR;
}

/* Set when the last signature was refused for its first byte. */
static atomic_int sig_zero;

/* natsSignatureHandler: the nonce signed with the seed of CLOSURE. */
static natsStatus sign_nonce(char **why, unsigned char **sig, int *len, const char *nonce,
                             void *closure) {
  const nkey_src *src = closure;
  char seed[4096];
  if (nkey_seed(src, seed, sizeof seed)) return sign_fail(why, "%s: no NKey seed", src->path);
  EVP_PKEY *k = nkey_key(seed);
  memset(seed, 0, sizeof seed);
  if (!k) return sign_fail(why, "%s: not a user's NKey seed", src->path);
  unsigned char *s = malloc(64);
  size_t n = 64;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  int ok = s && ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, k) == 1 &&
           EVP_DigestSign(ctx, s, &n, (const unsigned char *)nonce, strlen(nonce)) == 1 && n == 64;
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(k);
  if (!ok) {
    free(s);
    return sign_fail(why, "%s: cannot sign the server's nonce", src->path);
  }
  if (s[0] == 0 && nats_GetVersionNumber() < 0x030800) {
    free(s);
    atomic_store(&sig_zero, 1);
    return sign_fail(why, "%s: a signature nats.c before 3.8 would not send; a new nonce is needed",
                     src->path);
  }
  *sig = s;
  *len = 64;
  return NATS_OK;
}

/* natsUserJWTHandler: the user JWT of the creds file of CLOSURE. */
static natsStatus creds_jwt(char **jwt, char **why, void *closure) {
  const nkey_src *src = closure;
  char buf[8192];
  if (creds_part(src->path, "JWT", buf, sizeof buf)) return sign_fail(why, "%s: no user JWT", src->path);
  *jwt = strdup(buf);
  return *jwt ? NATS_OK : NATS_NO_MEMORY;
}

#define NATS_TRY(call, what)                                                             \
  do {                                                                                   \
    natsStatus s_ = (call);                                                              \
    if (s_ != NATS_OK) {                                                                 \
      rc = cli_fail("%s: %s (%s)", what, natsStatus_GetText(s_), nats_GetLastError(NULL)); \
      goto out;                                                                          \
    }                                                                                    \
  } while (0)

static int nats_connect(const bridge_cfg *c) {
  natsOptions *o = NULL;
  int rc = -1;
  NATS_TRY(natsOptions_Create(&o), "NATS options");
  const char *servers = c->servers ? c->servers : "nats://127.0.0.1:4222";
  char *list = dup_or_die(servers), *urls[64];
  int n = 0;
  for (char *s = strtok(list, ","); s && n < 64; s = strtok(NULL, ",")) urls[n++] = s;
  natsStatus st = natsOptions_SetServers(o, (const char **)urls, n);
  if (st != NATS_OK) {
    free(list);
    rc = cli_usage("--server '%s': %s", servers, nats_GetLastError(NULL));
    goto out;
  }
  free(list);
  NATS_TRY(natsOptions_SetName(o, "rill bridge"), "NATS options");
  NATS_TRY(natsOptions_SetMaxReconnect(o, -1), "NATS options");
  NATS_TRY(natsOptions_SetReconnectWait(o, 250), "NATS options");
  NATS_TRY(natsOptions_SetReconnectJitter(o, 100, 1000), "NATS options");
  NATS_TRY(natsOptions_SetTimeout(o, 2000), "NATS options");
  NATS_TRY(natsOptions_SetPingInterval(o, 2000), "NATS options");
  NATS_TRY(natsOptions_SetMaxPingsOut(o, 2), "NATS options");
  NATS_TRY(natsOptions_SetIOBufSize(o, 256 * 1024), "NATS options");
  /* Every publish is written at once: the bridge batches messages itself
   * (a NATS message carries what the channel had ready), and nats.c's
   * own batching waits for its flusher, a millisecond later. */
  NATS_TRY(natsOptions_SetSendAsap(o, true), "NATS options");
  NATS_TRY(natsOptions_SetReconnectBufSize(o, 32 * 1024 * 1024), "NATS options");
  NATS_TRY(natsOptions_SetDisconnectedCB(o, on_disconnected, NULL), "NATS options");
  NATS_TRY(natsOptions_SetReconnectedCB(o, on_reconnected, NULL), "NATS options");
  NATS_TRY(natsOptions_SetClosedCB(o, on_closed, NULL), "NATS options");

  /* nats.c keeps the callbacks' closure for the connection's life */
  static nkey_src key;
  char secret[4096];
  if (c->creds || c->nkey_seed) {
    char pub[64];
    key = (nkey_src){c->creds ? c->creds : c->nkey_seed, c->creds != NULL};
    if (c->creds && creds_part(c->creds, "JWT", secret, sizeof secret)) {
      rc = cli_fail("%s: no user JWT (-----BEGIN NATS USER JWT-----, as nsc writes it)", c->creds);
      goto out;
    }
    if (nkey_seed(&key, secret, sizeof secret) || nkey_public(secret, pub)) {
      memset(secret, 0, sizeof secret);
      rc = cli_fail("%s: no user's NKey seed (SU..., as nk -gen user writes it)", key.path);
      goto out;
    }
    if (c->creds)
      NATS_TRY(natsOptions_SetUserCredentialsCallbacks(o, creds_jwt, &key, sign_nonce, &key), c->creds);
    else
      NATS_TRY(natsOptions_SetNKey(o, pub, sign_nonce, &key), c->nkey_seed);
  }
  if (c->user_file) {
    char *colon;
    if (first_line(c->user_file, secret, sizeof secret) || !(colon = strchr(secret, ':'))) {
      rc = cli_fail("%s: expected user:password on its first line", c->user_file);
      goto out;
    }
    *colon = 0;
    NATS_TRY(natsOptions_SetUserInfo(o, secret, colon + 1), c->user_file);
  }
  if (c->token_file) {
    if (first_line(c->token_file, secret, sizeof secret)) { rc = cli_fail("cannot read a token from %s", c->token_file); goto out; }
    NATS_TRY(natsOptions_SetToken(o, secret), c->token_file);
  }
  memset(secret, 0, sizeof secret);
  if (c->tls) {
    NATS_TRY(natsOptions_SetSecure(o, true), "TLS");
    if (c->tls_ca) NATS_TRY(natsOptions_LoadCATrustedCertificates(o, c->tls_ca), c->tls_ca);
    if (c->tls_cert || c->tls_key) {
      if (!c->tls_cert || !c->tls_key) { rc = cli_usage("--tls-cert and --tls-key go together"); goto out; }
      NATS_TRY(natsOptions_LoadCertificatesChain(o, c->tls_cert, c->tls_key), c->tls_cert);
    }
  }
  /* One attempt first: a server that turns the bridge away (credentials,
   * TLS) says why, and retrying would not help; none answering is worth
   * retrying, in the background (the bridge starts before its servers). */
  natsConnection *conn = NULL;
  for (int tries = 0; tries < 16; tries++) {  /* 16 zero first bytes in a row: 2^-128 */
    atomic_store(&sig_zero, 0);
    st = natsConnection_Connect(&conn, o);
    if (st == NATS_OK || !atomic_load(&sig_zero)) break;
  }
  if (st != NATS_OK && st != NATS_NO_SERVER) {
    const char *why = nats_GetLastError(NULL);
    rc = cli_fail("NATS at %s turned the bridge away: %s%s%s", servers, natsStatus_GetText(st),
                  why && *why ? ": " : "", why && *why ? why : "");
    goto out;
  }
  if (st == NATS_NO_SERVER) {
    NATS_TRY(natsOptions_SetRetryOnFailedConnect(o, true, on_connected, NULL), "NATS options");
    st = natsConnection_Connect(&conn, o);
  }
  if (st == NATS_NOT_YET_CONNECTED) {
    /* retried in the background until a server answers */
    cli_warn("cannot reach NATS at %s yet; retrying until a server answers", servers);
    nc = conn;
  } else if (st != NATS_OK) {
    rc = cli_fail("cannot connect to NATS at %s: %s", servers, nats_GetLastError(NULL));
    goto out;
  } else {
    nc = conn;
    set_nats_state(conn, BRIDGE_NATS_CONNECTED, 0);
  }
out:
  natsOptions_Destroy(o);
  return rc;
}

/* The stream of a JetStream channel: RILL_<region>_<channel>, '.' and '-'
 * turned into '_' (stream names take neither '.' nor wildcards). */
static void stream_name(const blink *l, char *buf, size_t cap) {
  snprintf(buf, cap, "RILL_%s_%s", l->region, l->chan);
  for (char *p = buf; *p; p++)
    if (*p == '.' || *p == '-') *p = '_';
}

/* Makes sure the channel's stream is there (creates it with the replicas
 * asked for; an existing stream is used as it is). */
static int ensure_stream(blink *l, jsCtx *js, int replicas) {
  char name[128];
  stream_name(l, name, sizeof name);
  jsStreamInfo *si = NULL;
  jsErrCode jerr = 0;
  natsStatus s = js_GetStreamInfo(&si, js, name, NULL, &jerr);
  if (s == NATS_OK) {
    jsStreamInfo_Destroy(si);
    return 0;
  }
  jsStreamConfig sc;
  jsStreamConfig_Init(&sc);
  const char *subj[1] = {l->subject};
  sc.Name = name;
  sc.Subjects = subj;
  sc.SubjectsLen = 1;
  sc.Storage = js_FileStorage;
  sc.Replicas = replicas;
  s = js_AddStream(&si, js, &sc, NULL, &jerr);
  if (s == NATS_OK) {
    jsStreamInfo_Destroy(si);
    return 0;
  }
  /* made meanwhile by the other side */
  if (jerr == JSStreamNameExistErr) return 0;
  snprintf(l->err, sizeof l->err, "stream %s: %s (%s, %d)", name, natsStatus_GetText(s),
           nats_GetLastError(NULL), (int)jerr);
  return -1;
}

/* Sleeps up to MS, less if the bridge is stopping. */
static void nap(unsigned ms) {
  for (unsigned i = 0; i < ms && !stopping; i += 10) os_sleep_ms(10);
}

/* ---- the local side ------------------------------------------------------------ */

static const bridge_cfg *g_cfg;

/* Opens the bridged channel's region, waiting for it (and, for `in` with --create,
 * creating it and the channel).  0, or -1 with l->err set (or stopping). */
static int local_open(blink *l, rill_region **r, rill_channel_stats *st) {
  rill_region_opts o = {.dir = dir_arg};
  int said = 0, rc;
  for (;;) {
    if (stopping) return -1;
    rc = rill_region_open(l->region, &o, r);
    if (rc == -RILL_ENOENT && l->create) {
      rill_region_opts co = {.dir = dir_arg, .size = g_cfg->size};
      rc = rill_region_create(l->region, &co, r);
      if (rc == -RILL_EEXIST) continue;
    }
    if (rc == 0) {
      rc = rill_channel_wait(*r, l->chan, 0);
      if (rc == -RILL_ETIMEDOUT && l->create) {
        rill_channel_opts cc = {.depth = (uint32_t)g_cfg->depth, .mtu = (uint32_t)g_cfg->mtu,
                                .max_msg = g_cfg->max_msg};
        rc = rill_channel_create(*r, l->chan, &cc);
        if (rc == -RILL_EEXIST) rc = 0;
      }
      if (rc == 0) rc = rill_channel_stats_get(*r, l->chan, st);
      if (rc == 0) return 0;
      rill_region_close(*r);
      *r = NULL;
    }
    if (rc != -RILL_ENOENT && rc != -RILL_ETIMEDOUT) {
      snprintf(l->err, sizeof l->err, "%s/%s: %s", l->region, l->chan, rill_strerror(rc));
      return -1;
    }
    if (!said++) cli_warn("waiting for %s/%s to appear", l->region, l->chan);
    nap(100);
  }
}

/* The JetStream context of a bridged channel, with its stream there: retried until
 * NATS answers.  0, or -1 (stopping, or l->err set). */
static int js_open(blink *l, jsCtx **js, jsOptions *jo) {
  int said = 0;
  for (;;) {
    if (stopping) return -1;
    if (!*js && natsConnection_JetStream(js, nc, jo) != NATS_OK) {
      snprintf(l->err, sizeof l->err, "JetStream: %s", nats_GetLastError(NULL));
      return -1;
    }
    if (ensure_stream(l, *js, g_cfg->replicas) == 0) return 0;
    atomic_fetch_add_explicit(&l->f->errors, 1, memory_order_relaxed);
    if (!said++) cli_warn("%s/%s: %s; retrying", l->region, l->chan, l->err);
    l->err[0] = 0;
    nap(500);
  }
}

static void count(bridge_file *f, uint64_t msgs, uint64_t bytes) {
  atomic_fetch_add_explicit(&f->msgs, msgs, memory_order_relaxed);
  atomic_fetch_add_explicit(&f->bytes, bytes, memory_order_relaxed);
}

/* ---- out: a local channel to NATS --------------------------------------------------- */

/* Messages travel in batches: one NATS message carries the messages the
 * channel had ready, one after the other in its payload, and their
 * descriptors in its headers (docs/bridge.md, "The messages on the
 * wire").  A batch goes when the channel has nothing more ready (a
 * stream's pause: a sparse stream's messages go one by one, at once), or
 * when it is full (--batch messages, or the NATS server's largest
 * payload).  NATS costs per message sent (the client builds, encodes and
 * frees each one; the server routes each one): per batch, it is paid
 * once for many of rill's. */
typedef struct batch {
  uint8_t *data;      /* the payloads, one after the other */
  uint64_t len, cap;  /* cap: room for one more max_msg */
  char *meta;         /* "FRAGS SIG CTL TSORIG TSPUB SIZE" per message */
  uint64_t mlen, mcap;
  uint64_t n;         /* messages */
  uint64_t first;     /* seq of the first message's first descriptor */
  uint64_t end;       /* seq after the last message's last descriptor */
  uint64_t lost;      /* seqs lost right before the first message     */
} batch;

typedef struct out_state {
  blink *l;
  rill_consumer *c;
  uint64_t epoch, max_msg;
  uint64_t max_bytes;  /* payload bytes a batch may hold */
  batch b;
  /* a message read after a gap (a lossy bridge lapped), at the end of
   * b.data: it starts the next batch, whose seqs follow on from it */
  int carry;
  rill_meta carry_meta;
  uint64_t carry_len, carry_end;
  _Atomic uint64_t pub_errors;
} out_state;

/* V in decimal at P, then C; returns the end.  (snprintf() was a tenth
 * of bridge out's time at 64-byte messages.) */
static char *put_u64(char *p, uint64_t v, char c) {
  char t[20];
  int n = 0;
  do t[n++] = (char)('0' + v % 10); while ((v /= 10));
  while (n) *p++ = t[--n];
  *p = c;
  return p + 1;
}

/* Room for a batch: payloads up to max_bytes plus a max_msg, and six
 * numbers per message.  0 or -1. */
static int batch_alloc(out_state *o) {
  batch *b = &o->b;
  b->cap = o->max_bytes + o->max_msg;
  b->mcap = g_cfg->batch * 6 * 21 + 1;
  b->data = malloc(b->cap ? b->cap : 1);
  b->meta = malloc(b->mcap);
  return b->data && b->meta ? 0 : -1;
}

/* The NATS message of the batch. */
static natsStatus batch_msg(const out_state *o, int js, natsMsg **m) {
  const batch *b = &o->b;
  char hdr[4 * 21], id[256];
  natsStatus s = natsMsg_Create(m, o->l->subject, NULL, (const char *)b->data, (int)b->len);
  if (s != NATS_OK) return s;
  char *h = put_u64(hdr, o->epoch, ' ');
  h = put_u64(h, b->first, ' ');
  h = put_u64(h, b->n, ' ');
  put_u64(h, b->lost, 0);
  s = natsMsgHeader_Set(*m, "Rill", hdr);
  if (s == NATS_OK) {
    b->meta[b->mlen - 1] = 0; /* the last number's space */
    s = natsMsgHeader_Set(*m, "Rill-Msgs", b->meta);
    b->meta[b->mlen - 1] = ' ';
  }
  if (s == NATS_OK && js) {
    /* the same batch published again (after a failure, or by a
     * restarted bridge) has the same id: the stream stores it once */
    snprintf(id, sizeof id, "%s/%s/%" PRIu64 "/%" PRIu64 "-%" PRIu64, o->l->region, o->l->chan,
             o->epoch, b->first, b->end);
    s = natsMsgHeader_Set(*m, "Nats-Msg-Id", id);
  }
  if (s != NATS_OK) natsMsg_Destroy(*m), *m = NULL;
  return s;
}

static void on_pub_err(jsCtx *js, jsPubAckErr *pae, void *closure) {
  (void)js, (void)pae;
  out_state *o = closure;
  atomic_fetch_add_explicit(&o->pub_errors, 1, memory_order_relaxed);
}

/* Joins the channel: rejoins the slot it had (so a restarted bridge goes
 * on where it stopped), else a new one. */
static int out_join(out_state *o, rill_region *r) {
  blink *l = o->l;
  int rc;
  if (l->f->slot) {
    /* EBUSY: the consumer in it is alive; ours ended with the last bridge
     * (whose lock we hold), so another took the slot: join afresh after
     * a while. */
    for (int i = 0; i < 100; i++) {
      rc = rill_consumer_rejoin(r, l->chan, l->f->slot - 1, &o->c);
      if (rc == 0) return 0;
      if (rc != -RILL_EBUSY) break;
      nap(30);
    }
    if (rc != -RILL_EBUSY && rc != -RILL_ENOENT && rc != -RILL_EINVAL) return rc;
    cli_warn("%s/%s: slot %u is not ours any more; joining afresh", l->region, l->chan,
             l->f->slot - 1);
  }
  rc = rill_consumer_join(r, l->chan, l->lossy ? RILL_LOSSY : RILL_RELIABLE, &o->c);
  if (rc) return rc;
  l->f->slot = rill_consumer_slot(o->c) + 1;
  return 0;
}

static void batch_add(batch *b, const rill_meta *m, uint64_t n, uint64_t end);

/* Adds the next message to the batch, waiting up to TIMEOUT_NS for it:
 * 1 if one was added, 2 if one came after a gap (kept for the next
 * batch), 0 if none came (or the producer left or died: it may come
 * back, the bridge waits), or a negative error. */
static int out_next(out_state *o, uint64_t timeout_ns) {
  batch *b = &o->b;
  rill_meta m;
  int64_t n = rill_recv_wait(o->c, b->data + b->len, o->max_msg, &m, timeout_ns);
  if (n == -RILL_EAGAIN || n == -RILL_ETIMEDOUT) return 0;
  if (n == -RILL_ECLOSED || n == -RILL_EDEAD) {
    if (!b->n) nap(timeout_ns / 1000000 ? (unsigned)(timeout_ns / 1000000) : 1);
    return 0;
  }
  if (n < 0) return (int)n;
  bridge_file *f = o->l->f;
  if (m.lost) atomic_fetch_add_explicit(&f->lost, m.lost, memory_order_relaxed);
  uint64_t end = rill_consumer_seq(o->c);
  atomic_store_explicit(&f->seq, end, memory_order_relaxed);
  if (b->n && m.seq != b->end) {
    o->carry = 1, o->carry_meta = m, o->carry_len = (uint64_t)n, o->carry_end = end;
    return 2;
  }
  batch_add(b, &m, (uint64_t)n, end);
  return 1;
}

static void batch_add(batch *b, const rill_meta *mp, uint64_t n, uint64_t end) {
  rill_meta m = *mp;
  if (!b->n) b->first = m.seq, b->lost = m.lost;
  char *p = b->meta + b->mlen;
  p = put_u64(p, end - m.seq, ' ');
  p = put_u64(p, m.sig, ' ');
  p = put_u64(p, m.ctl, ' ');
  p = put_u64(p, m.tsorig, ' ');
  p = put_u64(p, m.tspub, ' ');
  p = put_u64(p, n, ' ');
  b->mlen = (uint64_t)(p - b->meta);
  b->len += n;
  b->n++;
  b->end = end;
}

static int batch_full(const out_state *o) {
  return o->b.n >= g_cfg->batch || o->b.len >= o->max_bytes;
}

/* Empties the batch, but for the message carried over, which starts the
 * next one. */
static void batch_reset(out_state *o) {
  batch *b = &o->b;
  uint64_t at = b->len;
  b->n = b->len = b->mlen = 0;
  if (!o->carry) return;
  memmove(b->data, b->data + at, (size_t)o->carry_len);
  batch_add(b, &o->carry_meta, o->carry_len, o->carry_end);
  o->carry = 0;
}

/* Collects a batch: waits up to 100 ms for a first message, then takes
 * what is ready, and what comes within --linger of the first.  A lossy
 * bridge's gap ends a batch (the seqs of a batch follow on).  0, or a
 * negative error. */
static int out_collect(out_state *o) {
  uint64_t until = 0;
  for (;;) {
    if (stopping) return 0;
    int had = o->b.n > 0;
    uint64_t wait = 100000000;
    if (had) {
      uint64_t now = g_cfg->linger_ns ? cli_mono_ns() : 0;
      if (!until) until = now + g_cfg->linger_ns;
      wait = until > now ? until - now : 0;
    }
    int rc = out_next(o, wait);
    if (rc < 0) return rc;
    if (rc == 2) return 0; /* a gap: the batch goes, the message waits */
    if (rc == 0) {
      if (had) return 0;   /* a pause: the batch goes */
      continue;
    }
    if (batch_full(o)) return 0;
  }
}

/* Core NATS: each batch published when collected, written to the socket
 * at once (the connection sends as soon as asked: batches are what
 * gathers messages, not the client's buffer).  A publish that fails (the
 * client's reconnect buffer full while it has no server) is tried again:
 * a reliable bridge holds its producer back. */
static void out_core(out_state *o) {
  bridge_file *f = o->l->f;
  while (!stopping) {
    int rc = out_collect(o);
    if (rc < 0) {
      snprintf(o->l->err, sizeof o->l->err, "%s/%s: %s", o->l->region, o->l->chan,
               rill_strerror(rc));
      return;
    }
    if (!o->b.n) continue;
    for (;;) {
      natsMsg *msg = NULL;
      natsStatus s = batch_msg(o, 0, &msg);
      if (s == NATS_OK) s = natsConnection_PublishMsg(nc, msg);
      natsMsg_Destroy(msg);
      if (s == NATS_OK) break;
      atomic_fetch_add_explicit(&f->errors, 1, memory_order_relaxed);
      if (stopping) return;
      nap(20);
    }
    count(f, o->b.n, o->b.len);
    batch_reset(o);
  }
}

/* JetStream: each batch is published, and its acknowledgement awaited;
 * only then is its end committed to the cursor (rill_consumer_commit),
 * so the producer keeps what is not stored yet and a bridge killed
 * meanwhile publishes it again when restarted (the stream drops an exact
 * copy by its Nats-Msg-Id; `in` skips what it had by seq).  A batch that
 * fails (a server lost, no acknowledgement within 5 s) is published
 * again. */
static int out_js_batch(out_state *o, jsCtx *js) {
  bridge_file *f = o->l->f;
  for (;;) {
    if (stopping) return -1;
    uint64_t errs = atomic_load(&o->pub_errors);
    natsMsg *msg = NULL;
    natsStatus s = batch_msg(o, 1, &msg);
    if (s == NATS_OK) s = js_PublishMsgAsync(js, &msg, NULL);
    natsMsg_Destroy(msg);
    if (s == NATS_OK) {
      jsPubOptions po;
      jsPubOptions_Init(&po);
      po.MaxWait = 5000;
      s = js_PublishAsyncComplete(js, &po);
    }
    if (s == NATS_OK && atomic_load(&o->pub_errors) == errs) break;
    /* Take back what still waits for an acknowledgement, then again. */
    natsMsgList left = {0};
    if (js_PublishAsyncGetPendingList(&left, js) == NATS_OK) natsMsgList_Destroy(&left);
    atomic_fetch_add_explicit(&f->errors, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&f->republished, 1, memory_order_relaxed);
    nap(100);
  }
  int rc = rill_consumer_commit(o->c, o->b.end);
  if (rc) {
    snprintf(o->l->err, sizeof o->l->err, "commit: %s", rill_strerror(rc));
    return -1;
  }
  count(f, o->b.n, o->b.len);
  batch_reset(o);
  return 0;
}

static void out_js(out_state *o, jsCtx *js) {
  while (!stopping) {
    int rc = out_collect(o);
    if (rc < 0) {
      snprintf(o->l->err, sizeof o->l->err, "%s/%s: %s", o->l->region, o->l->chan,
               rill_strerror(rc));
      return;
    }
    if (o->b.n && out_js_batch(o, js)) return;
  }
}

static void *out_main(void *arg) {
  blink *l = arg;
  out_state o = {.l = l};
  rill_region *r = NULL;
  rill_channel_stats st;
  jsCtx *js = NULL;
  if (local_open(l, &r, &st)) goto out;
  o.epoch = st.created_ns;
  o.max_msg = st.max_msg;
  /* A batch's payloads and headers fit in the server's largest payload
   * (1 MiB by default; known once connected, 1 MiB until then). */
  int64_t maxp = nc && natsConnection_Status(nc) == NATS_CONN_STATUS_CONNECTED
                     ? natsConnection_GetMaxPayload(nc) : 0;
  uint64_t room = maxp > 0 ? (uint64_t)maxp : 1u << 20, hdrs = g_cfg->batch * 6 * 21 + 512;
  if (room < hdrs + st.max_msg) {
    snprintf(l->err, sizeof l->err,
             "%s/%s: its largest message (%" PRIu64 " B) and a batch's headers do not fit in "
             "NATS's largest payload (%" PRIu64 " B): a smaller --batch, or max_payload "
             "raised on the servers", l->region, l->chan, st.max_msg, room);
    goto out;
  }
  o.max_bytes = room - hdrs - st.max_msg;
  if (o.max_bytes > (512u << 10)) o.max_bytes = 512u << 10;
  if (batch_alloc(&o)) {
    snprintf(l->err, sizeof l->err, "out of memory");
    goto out;
  }
  int rc = out_join(&o, r);
  if (rc) {
    snprintf(l->err, sizeof l->err, "%s/%s: cannot join: %s", l->region, l->chan,
             rill_strerror(rc));
    goto out;
  }
  rill_consumer_set_spin(o.c, g_cfg->spin_ns);
  if (g_cfg->jetstream) {
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = 5000;
    jo.PublishAsync.MaxPending = (int64_t)g_cfg->batch * 2;
    jo.PublishAsync.ErrHandler = on_pub_err;
    jo.PublishAsync.ErrHandlerClosure = &o;
    if (js_open(l, &js, &jo)) goto out;
    rill_consumer_set_commit(o.c, 1);
    out_js(&o, js);
  } else {
    out_core(&o);
  }
out:
  /* A bridge that stops keeps its slot: the producer waits for it (up to
   * its eviction timeout) and a restart goes on from its cursor.  What
   * core NATS has in its buffer is flushed at exit (cmd_bridge). */
  if (o.c) rill_consumer_flush(o.c);
  jsCtx_Destroy(js);
  free(o.b.data);
  free(o.b.meta);
  /* the region and the consumer stay open (and with them the slot's
   * lock) until the process ends */
  l->keep_r = r;
  l->keep_c = o.c;
  if (l->err[0]) l->failed = 1, atomic_store(&stopping, 1); /* one channel failing stops them all */
  return NULL;
}

/* ---- in: NATS to a local channel ------------------------------------------------------ */

typedef struct in_state {
  blink *l;
  rill_producer *p;
  uint64_t max_msg, mtu, depth;
  uint64_t *meta, meta_cap; /* a batch's numbers */
  rill_msg chunk[64];       /* what one rill_send_many() puts */
} in_state;

/* Parses N decimal numbers, one space apart, from V (no more, no less)
 * into OUT.  0 or -1. */
static int parse_nums(const char *v, uint64_t *out, uint64_t n) {
  const char *s = v;
  for (uint64_t i = 0; i < n; i++) {
    if (*s < '0' || *s > '9') return -1;
    uint64_t x = 0;
    do {
      uint64_t d = (uint64_t)(*s - '0');
      if (x > (UINT64_MAX - d) / 10) return -1; /* past 2^64 */
      x = x * 10 + d;
      s++;
    } while (*s >= '0' && *s <= '9');
    out[i] = x;
    if (i + 1 < n) {
      if (*s != ' ') return -1;
      s++;
    }
  }
  return *s ? -1 : 0;
}

#define BATCH_MAX 65536u /* messages in one NATS message, at most */

/* A NATS message's batch, checked: its header, and six numbers a message
 * (FRAGS SIG CTL TSORIG TSPUB SIZE) whose sizes add up to the payload.
 * Returns the count, or 0 if it is not a bridged message. */
static uint64_t parse_batch(in_state *s, natsMsg *msg, uint64_t h[4], uint64_t **meta) {
  const char *hv = NULL, *mv = NULL;
  int len = natsMsg_GetDataLength(msg);
  if (len < 0 || natsMsgHeader_Get(msg, "Rill", &hv) != NATS_OK || !hv ||
      parse_nums(hv, h, 4) || !h[2] || h[2] > BATCH_MAX ||
      natsMsgHeader_Get(msg, "Rill-Msgs", &mv) != NATS_OK || !mv)
    return 0;
  if (h[2] * 6 > s->meta_cap) {
    uint64_t *m = realloc(s->meta, (size_t)(h[2] * 6) * sizeof *m);
    if (!m) return 0;
    s->meta = m, s->meta_cap = h[2] * 6;
  }
  uint64_t *m = s->meta, sum = 0;
  if (parse_nums(mv, m, h[2] * 6)) return 0;
  for (uint64_t i = 0; i < h[2]; i++, m += 6) {
    if (!m[0] || m[0] > (1u << 30) || m[2] > 0xffff || m[3] > 0xffffffffu ||
        m[4] > 0xffffffffu || m[5] > s->max_msg)
      return 0;
    sum += m[5];
  }
  if (sum != (uint64_t)len) return 0;
  *meta = s->meta;
  return h[2];
}

/* Descriptors a message of N bytes takes in the local channel. */
static uint64_t local_frags(const in_state *s, uint64_t n) {
  return n <= s->mtu ? 1 : (n + s->mtu - 1) / s->mtu;
}

/* Puts the chunk s->chunk[0..n) (source seqs [f->next, to), LOST of them
 * missing before it) into the channel, all or nothing.  What a restart
 * needs to tell how much of it went in is written first: the producer's
 * seq before it and the chunk's source seqs, then the flag (release: a
 * restart that sees it sees the rest, in the file's page).  0, or -1 if
 * the bridge stopped first (nothing was put). */
static int in_chunk(in_state *s, uint64_t n, uint64_t to, uint64_t lost, uint64_t bytes) {
  bridge_file *f = s->l->f;
  f->pend_lseq = rill_producer_seq(s->p);
  f->pend_from = f->next;
  f->pend_to = to;
  atomic_store_explicit((_Atomic uint32_t *)&f->pend, 1, memory_order_release);
  for (;;) {
    int rc = rill_send_many(s->p, s->chunk, n);
    if (rc == 0) break;
    if (rc != -RILL_EAGAIN) { /* cannot be put (checked before: not expected) */
      atomic_fetch_add_explicit(&f->bad, n, memory_order_relaxed);
      break;
    }
    if (stopping) {
      atomic_store_explicit((_Atomic uint32_t *)&f->pend, 0, memory_order_relaxed);
      return -1;
    }
    /* no credit: a slow reliable consumer; wait for room for a fragment,
     * then try the whole chunk again */
    void *buf;
    rill_reserve_wait(s->p, 1, &buf, 20000000);
  }
  f->next = to;
  atomic_store_explicit((_Atomic uint32_t *)&f->pend, 0, memory_order_release);
  atomic_store_explicit(&f->seq, to, memory_order_relaxed);
  if (lost) atomic_fetch_add_explicit(&f->lost, lost, memory_order_relaxed);
  count(f, n, bytes);
  return 0;
}

/* Puts a NATS message's messages into the channel, those the channel has
 * not had yet, in chunks of at most 64 messages (and half the ring).
 * SSEQ: its JetStream stream seq (0 in core mode).  Returns 0, or -1 if
 * the bridge is stopping (what was not put comes again, JetStream). */
static int in_put(in_state *s, natsMsg *msg, uint64_t sseq) {
  bridge_file *f = s->l->f;
  if (sseq && sseq <= f->sseq) { /* JetStream delivers it again */
    atomic_fetch_add_explicit(&f->dups, 1, memory_order_relaxed);
    return 0;
  }
  uint64_t h[4], *m;
  uint64_t count_ = parse_batch(s, msg, h, &m);
  if (!count_) {
    atomic_fetch_add_explicit(&f->bad, 1, memory_order_relaxed);
    if (sseq) f->sseq = sseq;
    return 0;
  }
  if (h[0] != f->epoch) {
    /* another source channel (or the first): its numbers start here, but
     * for what bridge out lost right before (a lossy one lapped before
     * its first batch: no earlier seq shows that gap) */
    f->epoch = h[0];
    f->next = h[1] - h[3];
    f->skip = 0;
  }
  const uint8_t *data = (const uint8_t *)natsMsg_GetData(msg);
  uint64_t seq = h[1], off = 0, n = 0, lfr = 0, want = f->next, lost = 0, bytes = 0;
  uint64_t lmax = s->depth / 2 ? s->depth / 2 : 1;
  for (uint64_t i = 0; i < count_; i++, m += 6) {
    uint64_t frags = m[0], size = m[5], mseq = seq;
    seq += frags;
    off += size;
    if (!n && (int64_t)(mseq - f->next) < 0) { /* had it */
      atomic_fetch_add_explicit(&f->dups, 1, memory_order_relaxed);
      continue;
    }
    if (!n && f->skip && mseq >= f->skip_from && mseq < f->pend_to) {
      /* put before a crash: the producer had its descriptors */
      uint64_t lf = local_frags(s, size);
      if (lf <= f->skip) {
        f->skip -= lf;
        f->next = want = mseq + frags;
        atomic_fetch_add_explicit(&f->dups, 1, memory_order_relaxed);
        continue;
      }
    }
    f->skip = 0;
    uint64_t lf = local_frags(s, size);
    if (n && (n == 64 || lfr + lf > lmax)) {
      if (in_chunk(s, n, want, lost, bytes)) return -1;
      n = lfr = lost = bytes = 0;
    }
    if (mseq != want) lost += mseq - want; /* a gap (core, lossy out) */
    s->chunk[n++] = (rill_msg){.data = size ? data + off - size : NULL, .sz = (size_t)size,
                               .sig = m[1], .ctl = (uint16_t)(m[2] & ~RILL_CTL_MSG),
                               .tsorig = (uint32_t)m[3]};
    lfr += lf;
    bytes += size;
    want = mseq + frags;
  }
  if (n && in_chunk(s, n, want, lost, bytes)) return -1;
  if (sseq) f->sseq = sseq;
  return 0;
}

/* A bridge killed while it put a chunk: how much went in?  The producer
 * (which resumes its sequence after a crash) tells how many descriptors it
 * published since; JetStream delivers the chunk's NATS message again, and
 * in_put() skips the messages those descriptors hold.  Core NATS delivers
 * nothing again: the chunk counts as put. */
static void in_settle(in_state *s) {
  bridge_file *f = s->l->f;
  if (!atomic_load_explicit((_Atomic uint32_t *)&f->pend, memory_order_acquire)) return;
  uint64_t done = rill_producer_seq(s->p) - f->pend_lseq;
  if (!g_cfg->jetstream) {
    if (done) f->next = f->pend_to;
  } else {
    f->skip = done;
    f->skip_from = f->pend_from;
  }
  atomic_store_explicit((_Atomic uint32_t *)&f->pend, 0, memory_order_relaxed);
}

static void in_core(in_state *s) {
  bridge_file *f = s->l->f;
  natsSubscription *sub = NULL;
  while (!stopping && natsConnection_SubscribeSync(&sub, nc, s->l->subject) != NATS_OK) {
    atomic_fetch_add_explicit(&f->errors, 1, memory_order_relaxed);
    nap(250);
  }
  if (!sub) return;
  /* what the client holds while the channel is full (beyond: dropped by
   * the client, counted as lost from the gaps) */
  natsSubscription_SetPendingLimits(sub, 1 << 20, 256 << 20);
  while (!stopping) {
    natsMsg *msg = NULL;
    natsStatus st = natsSubscription_NextMsg(&msg, sub, 100);
    int waiting = 0;
    natsSubscription_GetPending(sub, &waiting, NULL);
    atomic_store_explicit(&f->lag, waiting > 0 ? (uint64_t)waiting : 0, memory_order_relaxed);
    if (st == NATS_TIMEOUT) continue;
    if (st != NATS_OK) {
      /* NATS_SLOW_CONSUMER: messages were dropped; the gap counts them */
      if (st != NATS_SLOW_CONSUMER) atomic_fetch_add_explicit(&f->errors, 1, memory_order_relaxed);
      if (st != NATS_SLOW_CONSUMER) nap(50);
      continue;
    }
    in_put(s, msg, 0);
    natsMsg_Destroy(msg);
  }
  natsSubscription_Destroy(sub);
}

/* The durable consumer's name: rill-in-REGION-CHANNEL (no '.'). */
static void durable_name(const blink *l, char *buf, size_t cap) {
  snprintf(buf, cap, "rill-in-%s-%s", l->region, l->chan);
  for (char *p = buf; *p; p++)
    if (*p == '.') *p = '_';
}

/* JetStream: a durable push consumer with manual acknowledgements,
 * acknowledged all at once (AckAll) every few hundred messages put and
 * when the stream pauses; at most MaxAckPending messages are out
 * unacknowledged, so a bridge held back by a slow channel stops the
 * server rather than piling messages up.  The bridge's file records the
 * stream seq of the last message done; at start the durable consumer is
 * made again to deliver from the one after it (the server would deliver
 * what a killed bridge took but did not acknowledge only after AckWait),
 * and a message delivered twice is skipped by its stream seq.  (A pull
 * consumer would do as well, but nats.c 3.4's natsSubscription_Fetch()
 * writes past its list when messages of an earlier fetch are pending.) */
/* How long the server waits for an acknowledgement before it delivers a
 * message again (what the bridge put is acknowledged within ms; a
 * message dropped on the way comes again after this). */
#define IN_ACK_WAIT_NS 5000000000ull

/* (Re)makes the durable consumer to deliver from the stream seq after the
 * last one done, and subscribes to it.  Retried until it works; NULL if
 * the bridge is stopping. */
static natsSubscription *in_js_subscribe(in_state *s, jsCtx *js, const char *stream,
                                         const char *durable) {
  blink *l = s->l;
  bridge_file *f = l->f;
  int said = 0;
  while (!stopping) {
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    if (js_GetStreamInfo(&si, js, stream, NULL, &jerr) != NATS_OK) {
      atomic_fetch_add_explicit(&f->errors, 1, memory_order_relaxed);
      nap(500);
      continue;
    }
    /* a stream made again since: its seqs start afresh */
    if (si->State.LastSeq < f->sseq) f->sseq = 0;
    jsStreamInfo_Destroy(si);
    /* A bridge whose file is new takes over where the durable consumer's
     * acknowledgements stand (a first bridge: from the stream's start). */
    jsConsumerInfo *ci = NULL;
    if (js_GetConsumerInfo(&ci, js, stream, durable, NULL, &jerr) == NATS_OK) {
      if (!f->sseq) f->sseq = ci->AckFloor.Stream;
      jsConsumerInfo_Destroy(ci);
      js_DeleteConsumer(js, stream, durable, NULL, &jerr);
    }
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = stream;
    so.ManualAck = true;
    so.Config.Durable = durable;
    so.Config.AckPolicy = js_AckAll;
    so.Config.MaxAckPending = 8192;
    so.Config.AckWait = (int64_t)IN_ACK_WAIT_NS;
    if (f->sseq) {
      so.Config.DeliverPolicy = js_DeliverByStartSequence;
      so.Config.OptStartSeq = f->sseq + 1;
    }
    natsSubscription *sub = NULL;
    if (js_SubscribeSync(&sub, js, l->subject, NULL, &so, &jerr) == NATS_OK) {
      natsSubscription_SetPendingLimits(sub, -1, -1); /* MaxAckPending bounds it */
      return sub;
    }
    atomic_fetch_add_explicit(&f->errors, 1, memory_order_relaxed);
    if (!said++)
      cli_warn("%s/%s: cannot subscribe to %s (%d); retrying", l->region, l->chan, stream,
               (int)jerr);
    nap(500);
  }
  return NULL;
}

/* JetStream: a durable push consumer with manual acknowledgements,
 * acknowledged all at once (AckAll) every 16 NATS messages put and when
 * the stream pauses; at most MaxAckPending messages are out
 * unacknowledged, so a bridge held back by a slow channel stops the
 * server rather than piling messages up.  The bridge's file records the
 * stream seq of the last message done; at start the durable consumer is
 * made again to deliver from the one after it (the server would deliver
 * what a killed bridge took but did not acknowledge only after AckWait),
 * and a message delivered twice is skipped by its stream seq.  The stream
 * seqs of a subject's stream follow on: a message past a gap means
 * messages pushed while the connection moved to another server were
 * dropped on the way; acknowledging it would acknowledge them (AckAll),
 * so it is left unacknowledged and the server delivers the missing ones
 * again after AckWait (5 s).  (Making the consumer again instead stalled
 * while the cluster elected new leaders after a server's death.)  (A
 * pull consumer would do as well, but nats.c 3.4's
 * natsSubscription_Fetch() writes past its list when messages of an
 * earlier fetch are pending.) */
static void in_js(in_state *s, jsCtx *js) {
  blink *l = s->l;
  bridge_file *f = l->f;
  char stream[128], durable[128];
  stream_name(l, stream, sizeof stream);
  durable_name(l, durable, sizeof durable);
  natsSubscription *sub = in_js_subscribe(s, js, stream, durable);
  if (!sub) return;
  natsMsg *last = NULL; /* the last message done, not acknowledged yet */
  unsigned unacked = 0;
  int fresh = 1; /* its first message may come after a gap: the stream's */
  uint64_t gap_ns = 0; /* since when messages past a gap are refused */
  while (!stopping) {
    natsMsg *msg = NULL;
    natsStatus st = natsSubscription_NextMsg(&msg, sub, unacked ? 1 : 100);
    if (st == NATS_OK) {
      jsMsgMetaData *md = NULL;
      uint64_t sseq = 0;
      if (natsMsg_GetMetaData(&md, msg) == NATS_OK) {
        sseq = md->Sequence.Stream;
        atomic_store_explicit(&f->lag, md->NumPending, memory_order_relaxed);
      }
      jsMsgMetaData_Destroy(md);
      if (!fresh && f->sseq && sseq > f->sseq + 1 &&
          !(gap_ns && cli_mono_ns() - gap_ns > 3 * IN_ACK_WAIT_NS)) {
        /* Past a gap: not taken, not acknowledged; what came before is
         * acknowledged, and the server delivers the missing ones again
         * after the acknowledgement wait (a gap that outlasts three of
         * them is the stream's own: messages it no longer has). */
        natsMsg_Destroy(msg);
        if (!gap_ns) {
          gap_ns = cli_mono_ns();
          atomic_fetch_add_explicit(&f->errors, 1, memory_order_relaxed);
          if (last) natsMsg_Ack(last, NULL);
          natsMsg_Destroy(last);
          last = NULL;
          unacked = 0;
        }
        continue;
      }
      fresh = 0;
      gap_ns = 0;
      if (in_put(s, msg, sseq)) {
        natsMsg_Destroy(msg);
        break;
      }
      natsMsg_Destroy(last);
      last = msg;
      if (++unacked < 16) continue; /* NATS messages: batches of rill's */
    } else if (st != NATS_TIMEOUT) {
      atomic_fetch_add_explicit(&f->errors, 1, memory_order_relaxed);
      nap(50);
    }
    /* AckAll: the last one done acknowledges those before it */
    if (last) natsMsg_Ack(last, NULL);
    natsMsg_Destroy(last);
    last = NULL;
    unacked = 0;
  }
  if (last) natsMsg_Ack(last, NULL);
  natsMsg_Destroy(last);
  natsSubscription_Destroy(sub);
}

static void *in_main(void *arg) {
  blink *l = arg;
  in_state s = {.l = l};
  rill_region *r = NULL;
  rill_channel_stats st;
  jsCtx *js = NULL;
  if (local_open(l, &r, &st)) goto out;
  s.max_msg = st.max_msg;
  s.mtu = st.mtu;
  s.depth = st.depth;
  int rc = rill_producer_join(r, l->chan, &s.p);
  if (rc) {
    snprintf(l->err, sizeof l->err, "%s/%s: cannot produce: %s", l->region, l->chan,
             rill_strerror(rc));
    goto out;
  }
  in_settle(&s);
  if (g_cfg->jetstream) {
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = 5000;
    if (js_open(l, &js, &jo)) goto out;
    in_js(&s, js);
  } else {
    in_core(&s);
  }
out:
  /* the bridge leaves: its consumers see the producer gone (ECLOSED)
   * until a bridge comes back and carries on the sequence */
  rill_producer_leave(s.p);
  rill_region_close(r);
  jsCtx_Destroy(js);
  free(s.meta);
  if (l->err[0]) l->failed = 1, atomic_store(&stopping, 1);
  return NULL;
}

/* ---- the command -------------------------------------------------------------------- */

static void print_json(const blink *l) {
  const bridge_file *f = l->f;
  cli_json j;
  cli_json_init(&j, stdout);
  j.pretty = 0; /* one line per channel */
  cli_json_obj(&j, NULL);
  cli_json_str(&j, "direction", bridge_direction_name((uint32_t)l->direction));
  cli_json_str(&j, "region", l->region);
  cli_json_str(&j, "channel", l->chan);
  cli_json_str(&j, "subject", l->subject);
  cli_json_str(&j, "mode", bridge_mode_name(f->mode));
  cli_json_u64(&j, "msgs", atomic_load(&f->msgs));
  cli_json_u64(&j, "bytes", atomic_load(&f->bytes));
  cli_json_u64(&j, "lost", atomic_load(&f->lost));
  cli_json_u64(&j, "bad", atomic_load(&f->bad));
  cli_json_u64(&j, "dups", atomic_load(&f->dups));
  cli_json_u64(&j, "reconnects", atomic_load(&f->reconnects));
  cli_json_u64(&j, "republished", atomic_load(&f->republished));
  cli_json_u64(&j, "errors", atomic_load(&f->errors));
  cli_json_end(&j, '}');
  cli_json_done(&j);
}

int cmd_bridge(int argc, char **argv) {
  /* Static: what it holds (the options' strings, the channels, and what
   * bridge out keeps open until the process ends) stays reachable to the
   * end, whatever the way out; cmd_bridge runs once a process. */
  static bridge_cfg c;
  c = (bridge_cfg){.replicas = 1, .size = 64u << 20, .depth = 4096, .mtu = 1024,
                   .max_msg = 1u << 20, .batch = 1024, .linger_ns = 0, .spin_ns = 20000};
  const char *subject = NULL, *config = NULL;
  int o, rc = -1;
  dir_arg = cli_dir; /* rill --dir DIR bridge ..., or bridge --dir DIR */
  opterr = 0;
  while ((o = getopt_long(argc, argv, ":s:jh", long_opts, NULL)) != -1) {
    if (o == 'h') {
      fputs(usage, stdout);
      return 0;
    }
    if (o == '?' || o == ':') return cli_bad_option(o, argv);
    if ((rc = set_opt(&c, o, optarg, &subject, &config)) >= 0) return rc;
  }
  if (config && (rc = read_config(&c, config)) >= 0) return rc;
  if (optind < argc) {
    const char *dir = argv[optind];
    int d = !strcmp(dir, "out") ? BRIDGE_OUT : !strcmp(dir, "in") ? BRIDGE_IN : 0;
    if (!d) return cli_usage("'%s': out or in", dir);
    if (optind + 1 >= argc) return cli_usage("%s needs REGION/CHANNEL", dir);
    if (subject && optind + 2 < argc) return cli_usage("--subject goes with one channel");
    for (int i = optind + 1; i < argc; i++)
      if ((rc = add_link(&c, d, argv[i], subject, c.lossy, c.create)) >= 0) return rc;
  } else if (subject) {
    return cli_usage("--subject goes with a channel on the command line");
  }
  if (!c.nlinks) return cli_usage("nothing to bridge: out or in, and REGION/CHANNEL");
  if (c.jetstream && c.lossy) cli_warn("--lossy: a lossy bridge may lose messages even through JetStream");
  g_cfg = &c;
  g_links = c.links;
  for (int i = 0; i < c.nlinks; i++)
    if ((rc = file_open(&c.links[i], &c)) >= 0) goto done;
  g_nlinks = c.nlinks;
  /* SIGINT/SIGTERM stop it; SIGPIPE is the client's business */
  struct sigaction sa = {.sa_handler = on_signal};
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  if (nats_Open(-1) != NATS_OK) {
    rc = cli_fail("cannot start the NATS client: %s", nats_GetLastError(NULL));
    goto done;
  }
  if ((rc = nats_connect(&c)) >= 0) goto close;
  for (int i = 0; i < c.nlinks; i++) {
    blink *l = &c.links[i];
    if (pthread_create(&l->thread, NULL, l->direction == BRIDGE_OUT ? out_main : in_main, l)) {
      atomic_store(&stopping, 1);
      rc = cli_fail("cannot start a thread");
      break;
    }
    l->started = 1;
  }
  int failed = 0;
  for (int i = 0; i < c.nlinks; i++) {
    blink *l = &c.links[i];
    if (!l->started) continue;
    pthread_join(l->thread, NULL);
    if (l->failed) {
      cli_warn("%s", l->err);
      failed = 1;
    }
  }
  if (closed_why[0]) {
    cli_warn("NATS closed the connection: %s", closed_why);
    failed = 1;
  }
  /* what core NATS still buffers goes out before the connection closes */
  if (nc && natsConnection_Status(nc) == NATS_CONN_STATUS_CONNECTED)
    natsConnection_FlushTimeout(nc, 2000);
  if (rc < 0) rc = failed ? 1 : 0;
close:
  natsConnection_Destroy(nc);
  nc = NULL;
  nats_CloseAndWait(2000); /* its threads (our callbacks) done before the files go */
done:
  for (int i = 0; i < c.nlinks; i++) {
    if (c.json && c.links[i].f) print_json(&c.links[i]);
    file_close(&c.links[i]);
  }
  return rc < 0 ? 0 : rc;
}

#endif
