/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill clean, create, rm and bench: the operator's commands that change
 * what is in shared memory, and the way to the benchmark. */
#include "cli.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* ---- clean --------------------------------------------------------------------- */

static const char clean_usage[] =
    "Usage: rill clean [--dir DIR] [--dry-run] [--min-age DURATION] [DIR]\n"
    "\n"
    "Removes the regions of DIR (default $RILL_DIR, else /dev/shm) that nobody\n"
    "uses, with their consumers' FIFOs, and the temporary files of creators that\n"
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
    "Usage: rill create [--dir DIR] [--size BYTES] [--mode MODE] REGION\n"
    "       rill create [--dir DIR] [--depth N] [--mtu BYTES] [--consumers N]\n"
    "                   [--max-msg BYTES] REGION/CHANNEL\n"
    "\n"
    "Makes region REGION (a file in DIR, its pages reserved up front), or\n"
    "channel CHANNEL in the existing region REGION.  Sizes take a K, M or G\n"
    "suffix (powers of 1024).  Options left out take the library's defaults.\n"
    "\n"
    "      --dir DIR        where regions are (default $RILL_DIR, else /dev/shm)\n"
    "  -s, --size BYTES     region: total size (default 64M)\n"
    "  -m, --mode MODE      region: file mode, octal (default 600; the umask\n"
    "                       is not applied)\n"
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
      {0, 0, 0, 0}};
  const char *dir = cli_dir;
  rill_region_opts ro = {0};
  rill_channel_opts co = {0};
  int region_opt = 0, chan_opt = 0, o, rc;
  uint64_t v;
  while ((o = getopt_long(argc, argv, ":s:m:D:u:c:M:h", opts, NULL)) != -1) {
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
    char b[16];
    printf("created region %s (%s) in %s\n", region, cli_bytes(b, (double)ri.size),
           cli_dir_name(dir));
    return 0;
  }
  if (region_opt) return cli_usage("--size and --mode are for regions");
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
    "Removes regions (and their consumers' FIFOs).  A region that a live\n"
    "process has open is refused unless --force, naming the processes that\n"
    "have it open (those this user may see in /proc): they keep using it, but\n"
    "nobody new can reach it.  Channels cannot be removed from a region;\n"
    "remove the region.\n"
    "\n"
    "      --dir DIR  where regions are (default $RILL_DIR, else /dev/shm)\n"
    "  -f, --force    remove regions that are in use too\n"
    "  -h, --help     this text\n";

/* Who holds a region.  Its users hold OFD locks, whose owner is an open
 * file description, not a process: /proc/locks names the process that
 * took a lock, which may have died since while a child it forked still
 * holds the description, and F_OFD_GETLK reports l_pid -1.  A description
 * lives while a file descriptor or a mapping refers to it, so the
 * processes holding a lock are among those that have the file open or
 * mapped, which /proc/PID/fd and /proc/PID/maps show: those are named.
 * What /proc does not show (processes of another user, to all but root;
 * of another PID namespace) is counted as unknown, not guessed. */

#define HOLDERS_MAX 8

typedef struct holders {
  dev_t dev;
  ino_t ino;
  pid_t pid[HOLDERS_MAX];
  int n, more, hidden;
} holders;

/* 1 if process PID has the file open, 0 if not, -1 if we may not look. */
static int has_fd(int pid, const holders *h) {
  char p[64];
  snprintf(p, sizeof p, "/proc/%d/fd", pid);
  DIR *d = opendir(p);
  if (!d) return errno == EACCES || errno == EPERM ? -1 : 0; /* else gone meanwhile */
  int found = 0;
  struct dirent *e;
  while (!found && (e = readdir(d)) != NULL) {
    if (!isdigit((unsigned char)e->d_name[0])) continue;
    char fp[96];
    struct stat st;
    snprintf(fp, sizeof fp, "%s/%.20s", p, e->d_name);
    found = stat(fp, &st) == 0 && st.st_dev == h->dev && st.st_ino == h->ino;
  }
  closedir(d);
  return found;
}

/* 1 if process PID has the file mapped, 0 if not, -1 if we may not look. */
static int has_map(int pid, const holders *h) {
  char p[64], line[512];
  snprintf(p, sizeof p, "/proc/%d/maps", pid);
  FILE *f = fopen(p, "r");
  if (!f) return errno == EACCES || errno == EPERM ? -1 : 0;
  int found = 0;
  while (!found && fgets(line, sizeof line, f)) {
    unsigned maj, min;
    unsigned long long ino;
    /* address perms offset major:minor inode [path] */
    if (sscanf(line, "%*s %*s %*s %x:%x %llu", &maj, &min, &ino) == 3)
      found = maj == major(h->dev) && min == minor(h->dev) && ino == (unsigned long long)h->ino;
    if (!strchr(line, '\n')) { /* a long path: skip the rest of the line */
      int c;
      while ((c = fgetc(f)) != EOF && c != '\n') {}
    }
  }
  fclose(f);
  return found;
}

/* Fills H with the processes (other than this one) that have DIR/NAME
 * open or mapped.  0, or -1 if the file or /proc cannot be read. */
static int region_holders(const char *dir, const char *name, holders *h) {
  char path[PATH_MAX];
  struct stat st;
  memset(h, 0, sizeof *h);
  snprintf(path, sizeof path, "%s/%s", cli_dir_name(dir), name);
  if (lstat(path, &st) != 0) return -1;
  h->dev = st.st_dev;
  h->ino = st.st_ino;
  DIR *d = opendir("/proc");
  if (!d) return -1;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    int pid = atoi(e->d_name);
    if (!isdigit((unsigned char)e->d_name[0]) || pid <= 0 || pid == (int)getpid()) continue;
    /* A process whose maps we may not read but whose fds we may (pid 1
     * in some containers) is not counted as unknown: rill's handles keep
     * their descriptor open as long as their mapping. */
    int fd = has_fd(pid, h), map = fd == 1 ? 1 : has_map(pid, h);
    if (fd == 1 || map == 1) {
      if (h->n < HOLDERS_MAX) h->pid[h->n++] = (pid_t)pid;
      else h->more++;
    } else if (fd < 0) {
      h->hidden++;
    }
  }
  closedir(d);
  return 0;
}

/* "pid 12 (prog), pid 34 (prog) and 2 more" into BUF. */
static void holders_text(const holders *h, char *buf, size_t cap) {
  size_t len = 0;
  buf[0] = 0;
  for (int i = 0; i < h->n && len < cap; i++) {
    char p[64], comm[32] = "";
    snprintf(p, sizeof p, "/proc/%d/comm", (int)h->pid[i]);
    FILE *f = fopen(p, "r");
    if (f) {
      if (!fgets(comm, sizeof comm, f)) comm[0] = 0;
      fclose(f);
      comm[strcspn(comm, "\n")] = 0;
    }
    len += (size_t)snprintf(buf + len, cap - len, "%s%s %d%s%s%s", i ? ", " : "",
                            i ? "" : h->n + h->more > 1 ? "pids" : "pid", (int)h->pid[i],
                            comm[0] ? " (" : "", comm, comm[0] ? ")" : "");
  }
  if (h->more && len < cap) snprintf(buf + len, cap - len, " and %d more", h->more);
}

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
      holders h;
      char who[512];
      if (region_holders(dir, name, &h) == 0 && h.n) {
        holders_text(&h, who, sizeof who);
        failed = cli_fail("%s is in use by %s%s (--force removes it anyway)", name, who,
                          h.hidden ? ", and maybe by processes whose /proc entries this user "
                                     "cannot read" : "");
      } else {
        failed = cli_fail("%s is in use by a live process that cannot be named: its /proc "
                          "entries are not this user's to read, or it is in another PID "
                          "namespace (--force removes it anyway)", name);
      }
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
    "docs/benchmark.md describes it, and 'make bench' runs it with the Go,\n"
    "request/response and peer benchmarks.\n";

int cmd_bench(int argc, char **argv) {
  if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
    fputs(bench_usage, stdout); /* then rill_bench's own */
    putchar('\n');
  }
  char self[PATH_MAX], path[PATH_MAX + 16];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  const char *prog = "rill_bench";
  if (n > 0) {
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (slash) {
      *slash = 0;
      snprintf(path, sizeof path, "%s/rill_bench", self);
      if (access(path, X_OK) == 0) prog = path;
    }
  }
  argv[0] = (char *)"rill_bench";
  fflush(stdout);
  if (prog == path) execv(prog, argv);
  else execvp(prog, argv);
  return cli_fail("cannot run rill_bench (%s): it is not installed; 'make bench' (or 'make "
                  "bench-build') builds it in rill's build directory, beside the rill to run",
                  strerror(errno));
}
