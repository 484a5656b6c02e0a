/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill tail: print a channel's messages as a lossy consumer, which can
 * never slow the producer down. */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#include <fcntl.h>
#include <io.h>
#endif

static const char tail_usage[] =
    "Usage: rill tail [OPTIONS] REGION/CHANNEL\n"
    "\n"
    "Joins the channel as a lossy consumer (it never slows the producer; it\n"
    "takes a consumer slot while it runs) and prints the last messages still\n"
    "in the ring, then, with --follow, every new one until interrupted.  Each\n"
    "message is a line 'seq S sig G size N ctl C' (and 'lost L' when messages\n"
    "were skipped because the producer lapped it), then its payload: as text\n"
    "if it is printable, else as a hex dump.\n"
    "\n"
    "With --json, one JSON object a line for each message: seq, sig, ctl,\n"
    "size, tsorig, tspub, lost, and payload (base64, always), with text too\n"
    "when the payload is printable UTF-8.  With --raw, each payload alone,\n"
    "framed: a 4-byte little-endian length, then that many bytes (what\n"
    "'rill send --raw' reads).\n"
    "\n"
    "      --dir DIR       where regions are (default $RILL_DIR, else " OS_DEFAULT_DIR_TEXT ")\n"
    "  -l, --last N        start with the last N messages in the ring (default\n"
    "                      10; 0: only new ones)\n"
    "  -f, --follow        then wait for new messages (until interrupted; when\n"
    "                      the producer is gone it says so and waits for another)\n"
    "  -c, --count N       exit after N messages\n"
    "  -x, --hex           always a hex dump\n"
    "  -t, --text          always text (bytes that are not printable as \\xNN)\n"
    "  -b, --max-bytes N   print at most N bytes of each payload (default 256;\n"
    "                      0: all; with --json, all unless given)\n"
    "  -j, --json          JSON lines, a message each (see above)\n"
    "  -r, --raw           length-prefixed payloads, binary (see above)\n"
    "  -h, --help          this text\n"
    "\n"
    "Exit status: 0 when done (or interrupted), 1 on failure, 2 usage.\n";

enum { AUTO, HEX, TEXT, JSON, RAW };

/* Length of the well-formed UTF-8 sequence of 2 to 4 bytes at P (N bytes
 * left), or 0 (RFC 3629: no overlong forms, no surrogates, <= U+10FFFF). */
static size_t utf8_len(const uint8_t *p, size_t n) {
  size_t len;
  uint32_t min, cp;
  if (p[0] >= 0xc2 && p[0] <= 0xdf) len = 2, min = 0x80, cp = p[0] & 0x1fu;
  else if (p[0] >= 0xe0 && p[0] <= 0xef) len = 3, min = 0x800, cp = p[0] & 0x0fu;
  else if (p[0] >= 0xf0 && p[0] <= 0xf4) len = 4, min = 0x10000, cp = p[0] & 0x07u;
  else return 0;
  if (len > n) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((p[i] & 0xc0) != 0x80) return 0;
    cp = cp << 6 | (p[i] & 0x3fu);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return len;
}

/* Text with nothing but printable characters, tabs and line ends. */
static int printable(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (p[i] >= 0x80) {
      size_t l = utf8_len(p + i, n - i);
      if (!l) return 0;
      i += l - 1;
    } else if ((p[i] < 0x20 && p[i] != '\n' && p[i] != '\t' && p[i] != '\r') || p[i] == 0x7f) {
      return 0;
    }
  }
  return 1;
}

/* On one line: UTF-8 as it is, everything else escaped C-style. */
static void print_text(const uint8_t *p, size_t n) {
  fputs("  ", stdout);
  for (size_t i = 0; i < n; i++) {
    uint8_t c = p[i];
    size_t l;
    if (c == '\\') fputs("\\\\", stdout);
    else if (c == '\n') fputs("\\n", stdout);
    else if (c == '\t') fputs("\\t", stdout);
    else if (c == '\r') fputs("\\r", stdout);
    else if (c >= 0x20 && c < 0x7f) putchar(c);
    else if (c >= 0x80 && (l = utf8_len(p + i, n - i))) fwrite(p + i, 1, l, stdout), i += l - 1;
    else printf("\\x%02x", c);
  }
  putchar('\n');
}

static void print_hex(const uint8_t *p, size_t n) {
  for (size_t off = 0; off < n; off += 16) {
    printf("  %08zx ", off);
    for (size_t i = 0; i < 16; i++) {
      if (i == 8) putchar(' ');
      if (off + i < n) printf(" %02x", p[off + i]);
      else fputs("   ", stdout);
    }
    fputs("  |", stdout);
    for (size_t i = 0; i < 16 && off + i < n; i++) {
      uint8_t c = p[off + i];
      putchar(c >= 0x20 && c < 0x7f ? c : '.');
    }
    puts("|");
  }
}

static void print_msg(const rill_meta *m, const uint8_t *p, uint64_t max_bytes, int how,
                      int show_lost) {
  printf("seq %llu sig %llu size %llu ctl 0x%04x", (unsigned long long)m->seq,
         (unsigned long long)m->sig, (unsigned long long)m->sz, m->ctl);
  if (show_lost && m->lost) printf(" lost %llu", (unsigned long long)m->lost);
  putchar('\n');
  size_t n = max_bytes && m->sz > max_bytes ? (size_t)max_bytes : (size_t)m->sz;
  if (n) {
    if (how == TEXT || (how == AUTO && printable(p, n))) print_text(p, n);
    else print_hex(p, n);
  }
  if (n < m->sz) printf("  ... %llu more bytes\n", (unsigned long long)(m->sz - n));
  fflush(stdout);
}

/* RFC 4648 base64, padded, of N bytes at P: a string to free, or NULL. */
static char *base64(const uint8_t *p, size_t n) {
  static const char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  char *s = malloc((n + 2) / 3 * 4 + 1), *o = s;
  if (!s) return NULL;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                 (i + 2 < n ? p[i + 2] : 0);
    *o++ = digits[v >> 18 & 63];
    *o++ = digits[v >> 12 & 63];
    *o++ = i + 1 < n ? digits[v >> 6 & 63] : '=';
    *o++ = i + 2 < n ? digits[v & 63] : '=';
  }
  *o = 0;
  return s;
}

int cli_msg_json(FILE *f, const rill_meta *m, const void *payload, size_t n) {
  const uint8_t *p = payload;
  char *b64 = base64(p, n), *text = NULL;
  /* text as well when it reads as text: printable() admits no NUL, so
   * the copy is a C string */
  if (b64 && printable(p, n) && (text = malloc(n + 1))) memcpy(text, p, n), text[n] = 0;
  if (!b64) return -RILL_ENOMEM;
  cli_json j;
  cli_json_init(&j, f);
  j.pretty = 0; /* one object a line */
  cli_json_obj(&j, NULL);
  cli_json_u64(&j, "seq", m->seq);
  cli_json_u64(&j, "sig", m->sig);
  cli_json_u64(&j, "ctl", m->ctl);
  cli_json_u64(&j, "size", m->sz);
  cli_json_u64(&j, "tsorig", m->tsorig);
  cli_json_u64(&j, "tspub", m->tspub);
  cli_json_u64(&j, "lost", m->lost);
  cli_json_str(&j, "payload", b64);
  if (text) cli_json_str(&j, "text", text);
  cli_json_end(&j, '}');
  cli_json_done(&j);
  free(b64);
  free(text);
  return 0;
}

int cli_msg_raw(FILE *f, const void *payload, size_t n) {
  if (n > UINT32_MAX) return -RILL_EMSGSIZE;
  uint8_t len[4] = {(uint8_t)n, (uint8_t)(n >> 8), (uint8_t)(n >> 16), (uint8_t)(n >> 24)};
  fwrite(len, 1, 4, f);
  if (n) fwrite(payload, 1, n, f);
  return 0;
}

/* A message as --json or --raw say, or as text: -1 if it cannot be. */
static int show_msg(rill_meta *m, const uint8_t *p, uint64_t max_bytes, int how, int first) {
  if (how != JSON && how != RAW) {
    print_msg(m, p, max_bytes, how, !first);
    return 0;
  }
  if (first) m->lost = 0; /* as the text shows: what was before tail came is not lost */
  size_t n = max_bytes && m->sz > max_bytes ? (size_t)max_bytes : (size_t)m->sz;
  int rc = how == JSON ? cli_msg_json(stdout, m, p, n) : cli_msg_raw(stdout, p, n);
  if (rc) return cli_fail("seq %llu: %s", (unsigned long long)m->seq, rill_strerror(rc)), -1;
  fflush(stdout);
  return 0;
}

int cmd_tail(int argc, char **argv) {
  static const struct option opts[] = {
      {"dir", required_argument, 0, CLI_OPT_DIR},   {"last", required_argument, 0, 'l'},
      {"follow", no_argument, 0, 'f'},      {"count", required_argument, 0, 'c'},
      {"hex", no_argument, 0, 'x'},         {"text", no_argument, 0, 't'},
      {"max-bytes", required_argument, 0, 'b'}, {"help", no_argument, 0, 'h'},
      {"json", no_argument, 0, 'j'},        {"raw", no_argument, 0, 'r'},
      {0, 0, 0, 0}};
  const char *dir = cli_dir;
  uint64_t last = 10, count = 0, max_bytes = 256;
  int follow = 0, how = AUTO, o, hows = 0, max_given = 0;
  while ((o = getopt_long(argc, argv, ":l:fc:xtb:hjr", opts, NULL)) != -1) {
    switch (o) {
    case CLI_OPT_DIR: dir = optarg; break;
    case 'l':
      if (cli_parse_u64(optarg, 1, &last)) return cli_usage("--last: '%s' is not a count", optarg);
      break;
    case 'f': follow = 1; break;
    case 'c':
      if (cli_parse_u64(optarg, 1, &count) || !count)
        return cli_usage("--count: '%s' is not a count above 0", optarg);
      break;
    case 'x': how = HEX, hows |= 1 << HEX; break;
    case 't': how = TEXT, hows |= 1 << TEXT; break;
    case 'j': how = JSON, hows |= 1 << JSON; break;
    case 'r': how = RAW, hows |= 1 << RAW; break;
    case 'b':
      if (cli_parse_u64(optarg, 0, &max_bytes))
        return cli_usage("--max-bytes: '%s' is not a size", optarg);
      max_given = 1;
      break;
    case 'h': fputs(tail_usage, stdout); return 0;
    default: return cli_bad_option(o, argv);
    }
  }
  if (optind != argc - 1) return cli_usage("one REGION/CHANNEL, please");
  if (hows & (hows - 1)) return cli_usage("one of --hex, --text, --json and --raw, please");
  /* --raw frames whole payloads (a cut one would read as a whole one);
   * --json's are whole unless asked, the text's are for a screen */
  if (how == RAW && max_given) return cli_usage("--raw writes whole payloads: no --max-bytes");
  if ((how == JSON && !max_given) || how == RAW) max_bytes = 0;
  char region[RILL_NAME_MAX + 1], chan[RILL_NAME_MAX + 1];
  if (cli_split(argv[optind], region, chan) || !chan[0])
    return cli_usage("'%s' is not REGION/CHANNEL", argv[optind]);

  rill_region_opts ro = {.dir = dir};
  rill_region *r;
  int rc = rill_region_open(region, &ro, &r);
  if (rc) return cli_fail("%s (in %s): %s", region, cli_dir_name(dir), rill_strerror(rc));
  rill_channel_stats st;
  rc = rill_channel_stats_get(r, chan, &st);
  uint64_t cap = rc ? 0 : st.max_msg;
  rill_consumer *c = NULL;
  if (!rc) rc = rill_consumer_join(r, chan, RILL_LOSSY, &c);
  if (rc) {
    rill_region_close(r);
    return cli_fail("%s/%s: %s%s", region, chan, rill_strerror(rc),
                    rc == -RILL_EFULL ? " (every consumer slot is taken)" : "");
  }
  uint8_t *buf = malloc(cap ? cap : 1);
  if (!buf) {
    rill_consumer_leave(c);
    rill_region_close(r);
    return cli_fail("%s", rill_strerror(-RILL_ENOMEM));
  }
  /* Interrupted: leave the slot properly (a lossy consumer holds nobody
   * back, but its slot is better freed than found dead). */
  os_catch_stop();
  os_ignore_sigpipe();
#ifdef _WIN32
  if (how == RAW) _setmode(_fileno(stdout), _O_BINARY); /* no \n to \r\n */
#endif

  rill_consumer_seek_last(c, last);
  uint64_t printed = 0;
  int first = 1, gone_said = 0;
  rc = 0;
  while (!os_stopped() && (!count || printed < count)) {
    rill_meta m;
    /* Slices of 100 ms, so that a signal is noticed. */
    int64_t n = rill_recv_wait(c, buf, cap, &m, follow ? 100000000ull : 0);
    if (n >= 0) {
      if (show_msg(&m, buf, max_bytes, how, first)) {
        rc = 1;
        break;
      }
      if (ferror(stdout)) break; /* the reader went away (a closed pipe) */
      first = 0;
      gone_said = 0;
      printed++;
      continue;
    }
    if (n == -RILL_EAGAIN || n == -RILL_ETIMEDOUT) {
      if (!follow) break; /* the last ones are printed */
      continue;
    }
    if (n == -RILL_ECLOSED || n == -RILL_EDEAD) {
      if (!follow) break;
      if (!gone_said)
        cli_warn("%s/%s: the producer %s; waiting for another", region, chan,
                 n == -RILL_ECLOSED ? "left" : "died");
      gone_said = 1;
      /* Nothing wakes us now: look again every 100 ms. */
      os_sleep_ms(100);
      continue;
    }
    rc = cli_fail("%s/%s: %s", region, chan, rill_strerror((int)n));
    break;
  }
  free(buf);
  rill_consumer_leave(c);
  rill_region_close(r);
  return rc;
}
