/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill clean, create, rm and bench: the operator's commands that change
 * what is in shared memory, and the way to the benchmark. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

/* ---- clean --------------------------------------------------------------------- */

static const char clean_usage[] =
    "Usage: rill clean [--dir DIR] [--dry-run] [--min-age DURATION] [DIR]\n"
    "\n"
    "Removes the regions of DIR (default $RILL_DIR, else " OS_DEFAULT_DIR_TEXT ") that nobody\n"
    "uses" OS_CLEAN_FIFOS_TEXT ", and the temporary files of creators that\n"
    "died before their region was in place.  A region that a live process has\n"
    "open is never touched: the removal happens under an exclusive lock that no\n"
    "live user can be holding.  Nor is one younger than the grace period, or\n"
    "whose creator is alive (made and not joined yet, by 'rill create' or an\n"
    "application that is starting).  Files that are not rill regions are left\n"
    "alone.  Prints a line per file removed (or, with --dry-run, that would be).\n"
    "\n"
    "      --dir DIR           the directory (as the argument)\n"
    "  -n, --dry-run           say what would be removed, remove nothing\n"
    "  -a, --min-age DURATION  the grace period: 90, 90s, 1.5m, 2h (default 1m;\n"
    "                          0: none)\n"
    "  -h, --help              this text\n";

struct clean_ctx {
  int dry_run, failed;
};

static void clean_cb(const char *name, int removed, int err, void *arg) {
  struct clean_ctx *k = arg;
  if (err) {
    cli_warn("%s: %s", name, rill_strerror(err));
    k->failed++;
    return;
  }
  printf("%s %s%s\n", k->dry_run ? "would remove" : removed ? "removed" : "kept", name,
         name[0] == '.' ? " (a region its creator did not finish: it died)" : "");
}

int cmd_clean(int argc, char **argv) {
  static const struct option opts[] = {{"dir", required_argument, 0, CLI_OPT_DIR},
                                       {"dry-run", no_argument, 0, 'n'},
                                       {"min-age", required_argument, 0, 'a'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  rill_clean_opts co = {.dir = cli_dir};
  struct clean_ctx k = {0, 0};
  uint64_t age = 0;
  int o, age_set = 0;
  while ((o = getopt_long(argc, argv, ":na:h", opts, NULL)) != -1) {
    switch (o) {
    case CLI_OPT_DIR: co.dir = optarg; break;
    case 'n': k.dry_run = 1; break;
    case 'a':
      if (cli_parse_duration(optarg, &age))
        return cli_usage("--min-age: '%s' is not a duration (90, 90s, 1.5m, 2h, 0)", optarg);
      age_set = 1;
      break;
    case 'h': fputs(clean_usage, stdout); return 0;
    default: return cli_bad_option(o, argv);
    }
  }
  if (optind < argc) co.dir = argv[optind++];
  if (optind < argc) return cli_usage("one directory at most");
  if (k.dry_run) co.flags |= RILL_CLEAN_DRY_RUN;
  if (age_set && age == 0) co.flags |= RILL_CLEAN_ANY_AGE;
  else co.min_age_ns = age; /* 0: the library's default */
  int n = rill_clean(&co, clean_cb, &k);
  if (n < 0) return cli_fail("%s: %s", cli_dir_name(co.dir), rill_strerror(n));
  if (n == 0) printf("nothing to clean in %s\n", cli_dir_name(co.dir));
  return k.failed ? 1 : 0;
}

/* ---- create -------------------------------------------------------------------- */

static const char create_usage[] =
    "Usage: rill create [--dir DIR] [--size BYTES] [--mode MODE] [--huge] REGION\n"
    "       rill create [--dir DIR] [--depth N] [--mtu BYTES] [--consumers N]\n"
    "                   [--max-msg BYTES] REGION/CHANNEL\n"
    "\n"
    "Makes region REGION (a file in DIR, its pages reserved up front), or\n"
    "channel CHANNEL in the existing region REGION.  Sizes take a K, M or G\n"
    "suffix (powers of 1024).  Options left out take the library's defaults.\n"
    "\n"
    "      --dir DIR        where regions are (default $RILL_DIR, else " OS_DEFAULT_DIR_TEXT ")\n"
    "  -s, --size BYTES     region: total size (default 64M)\n"
    "  -m, --mode MODE      region: file mode, octal (default 600; the umask\n"
    "                       is not applied)\n"
    "  -H, --huge           region: huge pages, or fail (DIR must be a hugetlbfs\n"
    "                       mount with enough free: sysctl vm.nr_hugepages=N;\n"
    "                       the size is rounded up to the huge page size)\n"
    "  -D, --depth N        channel: descriptors in the ring, a power of two\n"
    "                       (default 4096)\n"
    "  -u, --mtu BYTES      channel: largest fragment (default 1024)\n"
    "  -c, --consumers N    channel: consumer slots (default 8)\n"
    "  -M, --max-msg BYTES  channel: largest message, in fragments of mtu\n"
    "                       (default 16 fragments, at most depth/2)\n"
    "  -h, --help           this text\n";

static int num_arg(const char *opt, const char *s, int si, uint64_t max, uint64_t *out) {
  if (cli_parse_u64(s, si, out) || *out == 0 || *out > max)
    return cli_usage("--%s: '%s' is not a number from 1 to %llu", opt, s,
                     (unsigned long long)max);
  return 0;
}

int cmd_create(int argc, char **argv) {
  static const struct option opts[] = {
      {"dir", required_argument, 0, CLI_OPT_DIR},     {"size", required_argument, 0, 's'},
      {"mode", required_argument, 0, 'm'},    {"depth", required_argument, 0, 'D'},
      {"mtu", required_argument, 0, 'u'},     {"consumers", required_argument, 0, 'c'},
      {"max-msg", required_argument, 0, 'M'}, {"help", no_argument, 0, 'h'},
      {"huge", no_argument, 0, 'H'},          {0, 0, 0, 0}};
  const char *dir = cli_dir;
  rill_region_opts ro = {0};
  rill_channel_opts co = {0};
  int region_opt = 0, chan_opt = 0, o, rc;
  uint64_t v;
  while ((o = getopt_long(argc, argv, ":s:m:D:u:c:M:Hh", opts, NULL)) != -1) {
    switch (o) {
    case CLI_OPT_DIR: dir = optarg; break;
    case 's':
      if ((rc = num_arg("size", optarg, 0, UINT64_MAX, &ro.size))) return rc;
      region_opt = 1;
      break;
    case 'm': {
      char *end;
      errno = 0;
      unsigned long m = strtoul(optarg, &end, 8);
      if (errno || !*optarg || *end || m == 0 || m > 07777)
        return cli_usage("--mode: '%s' is not an octal file mode", optarg);
      ro.mode = (uint32_t)m;
      region_opt = 1;
      break;
    }
    case 'H':
      ro.flags |= RILL_REGION_HUGE;
      region_opt = 1;
      break;
    case 'D':
      if ((rc = num_arg("depth", optarg, 0, 1u << 24, &v))) return rc;
      co.depth = (uint32_t)v, chan_opt = 1;
      break;
    case 'u':
      if ((rc = num_arg("mtu", optarg, 0, 65535, &v))) return rc;
      co.mtu = (uint32_t)v, chan_opt = 1;
      break;
    case 'c':
      if ((rc = num_arg("consumers", optarg, 0, 256, &v))) return rc;
      co.max_consumers = (uint32_t)v, chan_opt = 1;
      break;
    case 'M':
      if ((rc = num_arg("max-msg", optarg, 0, UINT64_MAX, &co.max_msg))) return rc;
      chan_opt = 1;
      break;
    case 'h': fputs(create_usage, stdout); return 0;
    default: return cli_bad_option(o, argv);
    }
  }
  if (optind != argc - 1) return cli_usage("one REGION or REGION/CHANNEL, please");
  char region[RILL_NAME_MAX + 1], chan[RILL_NAME_MAX + 1];
  if ((rc = cli_target(argv[optind], region, chan))) return rc;
  ro.dir = dir;
  rill_region *r;
  if (!chan[0]) {
    if (chan_opt) return cli_usage("--depth, --mtu, --consumers and --max-msg are for channels");
    if ((rc = rill_region_create(region, &ro, &r)))
      return cli_fail("region %s in %s: %s", region, cli_dir_name(dir), rill_strerror(rc));
    rill_region_info ri;
    rill_region_info_get(r, &ri);
    rill_region_close(r);
    char b[16], p[16];
    printf("created region %s (%s", region, cli_bytes(b, (double)ri.size));
    if (ri.page_size > 4096) printf(", huge pages of %s", cli_bytes(p, (double)ri.page_size));
    printf(") in %s\n", cli_dir_name(dir));
    return 0;
  }
  if (region_opt) return cli_usage("--size, --mode and --huge are for regions");
  if (!rill_channel_footprint(&co))
    return cli_usage("those channel options do not go together (depth a power of two "
                     "from 2; max-msg at least mtu and at most depth/2 fragments)");
  if ((rc = rill_region_open(region, &ro, &r)))
    return cli_fail("region %s in %s: %s%s", region, cli_dir_name(dir), rill_strerror(rc),
                    rc == -RILL_ENOENT ? " (make it first: rill create REGION)" : "");
  rc = rill_channel_create(r, chan, &co);
  rill_channel_stats st;
  if (!rc && (rc = rill_channel_stats_get(r, chan, &st)) == 0) {
    char b1[16], b2[16];
    printf("created channel %s/%s: depth %u, mtu %u, %u consumer slots, largest message "
           "%s, %s of the region\n", region, chan, st.depth, st.mtu, st.max_consumers,
           cli_bytes(b1, (double)st.max_msg), cli_bytes(b2, (double)st.size));
  }
  rill_region_info ri;
  rill_region_info_get(r, &ri);
  rill_region_close(r);
  if (rc == -RILL_ENOSPC && ri.nobjects < 62) {
    char b1[16], b2[16];
    return cli_fail("channel %s/%s: %s: it needs %s, the region has %s left", region, chan,
                    rill_strerror(rc), cli_bytes(b1, (double)rill_channel_footprint(&co)),
                    cli_bytes(b2, (double)(ri.size - ri.used)));
  }
  if (rc) return cli_fail("channel %s/%s: %s", region, chan, rill_strerror(rc));
  return 0;
}

/* ---- rm ------------------------------------------------------------------------ */

static const char rm_usage[] =
    "Usage: rill rm [--dir DIR] [--force] REGION...\n"
    "\n"
    OS_RM_TEXT
    "\n"
    "      --dir DIR  where regions are (default $RILL_DIR, else " OS_DEFAULT_DIR_TEXT ")\n"
    "  -f, --force    remove regions that are in use too\n"
    "  -h, --help     this text\n";

int cmd_rm(int argc, char **argv) {
  static const struct option opts[] = {{"dir", required_argument, 0, CLI_OPT_DIR},
                                       {"force", no_argument, 0, 'f'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  const char *dir = cli_dir;
  int force = 0, o, failed = 0;
  while ((o = getopt_long(argc, argv, ":fh", opts, NULL)) != -1) {
    switch (o) {
    case CLI_OPT_DIR: dir = optarg; break;
    case 'f': force = 1; break;
    case 'h': fputs(rm_usage, stdout); return 0;
    default: return cli_bad_option(o, argv);
    }
  }
  if (optind >= argc) return cli_usage("which regions?");
  for (int i = optind; i < argc; i++) {
    char region[RILL_NAME_MAX + 1], chan[RILL_NAME_MAX + 1];
    if (cli_split(argv[i], region, chan)) return cli_usage("'%s' is not a region name", argv[i]);
    if (chan[0]) return cli_usage("%s: channels cannot be removed, only whole regions", argv[i]);
  }
  for (int i = optind; i < argc; i++) {
    const char *name = argv[i];
    int u = rill_region_in_use(name, dir);
    if (u < 0) {
      failed = cli_fail("%s: %s", name, rill_strerror(u));
      continue;
    }
    if (u && !force) {
      char path[4096], who[512];
      snprintf(path, sizeof path, "%s/%s", cli_dir_name(dir), name);
      os_file_users(path, who, sizeof who);
      failed = cli_fail("%s is in use by %s (--force removes it anyway)", name, who);
      continue;
    }
    int rc = rill_region_unlink(name, dir);
    if (rc) failed = cli_fail("%s: %s", name, rill_strerror(rc));
    else printf("removed %s%s\n", name, u ? " (it was in use)" : "");
  }
  return failed;
}

/* ---- bench --------------------------------------------------------------------- */

static const char bench_usage[] =
    "Usage: rill bench [ARGS...]\n"
    "\n"
    "Runs the benchmark, rill_bench, with ARGS: the one beside this program\n"
    "if there is one (make bench builds it in the build directory; it is not\n"
    "installed), else the first on PATH.  Its options follow;\n"
    "docs/benchmark.md describes it; 'make bench' runs it with --workers\n"
    "(the Go, Python and Rust workers it builds beside it).\n";

int cmd_bench(int argc, char **argv) {
  if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
    fputs(bench_usage, stdout); /* then rill_bench's own */
    putchar('\n');
  }
  os_exec_beside("rill_bench", argv);
  return cli_fail("cannot run rill_bench (%s): it is not installed; 'make bench' (or 'make "
                  "bench-build') builds it in rill's build directory, beside the rill to run",
                  strerror(errno));
}
