/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill tail: print a channel's messages as a lossy consumer, which can
 * never slow the producer down. */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

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
    "      --dir DIR       where regions are (default $RILL_DIR, else " OS_DEFAULT_DIR_TEXT ")\n"
    "  -l, --last N        start with the last N messages in the ring (default\n"
    "                      10; 0: only new ones)\n"
    "  -f, --follow        then wait for new messages (until interrupted; when\n"
    "                      the producer is gone it says so and waits for another)\n"
    "  -c, --count N       exit after N messages\n"
    "  -x, --hex           always a hex dump\n"
    "  -t, --text          always text (bytes that are not printable as \\xNN)\n"
    "  -b, --max-bytes N   print at most N bytes of each payload (default 256;\n"
    "                      0: all)\n"
    "  -h, --help          this text\n"
    "\n"
    "Exit status: 0 when done (or interrupted), 1 on failure, 2 usage.\n";

enum { AUTO, HEX, TEXT };

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

int cmd_tail(int argc, char **argv) {
  static const struct option opts[] = {
      {"dir", required_argument, 0, CLI_OPT_DIR},   {"last", required_argument, 0, 'l'},
      {"follow", no_argument, 0, 'f'},      {"count", required_argument, 0, 'c'},
      {"hex", no_argument, 0, 'x'},         {"text", no_argument, 0, 't'},
      {"max-bytes", required_argument, 0, 'b'}, {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  const char *dir = cli_dir;
  uint64_t last = 10, count = 0, max_bytes = 256;
  int follow = 0, how = AUTO, o;
  while ((o = getopt_long(argc, argv, ":l:fc:xtb:h", opts, NULL)) != -1) {
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
    case 'x': how = HEX; break;
    case 't': how = TEXT; break;
    case 'b':
      if (cli_parse_u64(optarg, 0, &max_bytes))
        return cli_usage("--max-bytes: '%s' is not a size", optarg);
      break;
    case 'h': fputs(tail_usage, stdout); return 0;
    default: return cli_bad_option(o, argv);
    }
  }
  if (optind != argc - 1) return cli_usage("one REGION/CHANNEL, please");
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

  rill_consumer_seek_last(c, last);
  uint64_t printed = 0;
  int first = 1, gone_said = 0;
  rc = 0;
  while (!os_stopped() && (!count || printed < count)) {
    rill_meta m;
    /* Slices of 100 ms, so that a signal is noticed. */
    int64_t n = rill_recv_wait(c, buf, cap, &m, follow ? 100000000ull : 0);
    if (n >= 0) {
      print_msg(&m, buf, max_bytes, how, !first);
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
