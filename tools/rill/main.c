/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill: see, watch and manage rill regions and channels from a shell.
 * docs/cli.md is the manual. */
#include "bridge.h"
#include "cli.h"

#include <getopt.h>
#include <string.h>

static const char usage[] =
    "Usage: rill [--dir DIR] COMMAND [OPTIONS] [ARGS]\n"
    "\n"
    "See and manage rill's shared-memory regions and channels.\n"
    "\n"
    "Commands:\n"
    "  ls [DIR]                      regions: size, owner, age, channels, users\n"
    "  info REGION[/CHANNEL]         layout, producer and consumers\n"
    "  monitor [REGION[/CHANNEL]...] live rates, lag, overruns, latency (like top)\n"
    "  tail REGION/CHANNEL           print messages as a lossy consumer (or as JSON)\n"
    "  send REGION/CHANNEL [MSG...]  publish arguments or standard input\n"
    "  wait REGION[/CHANNEL]         wait until it exists (and has a producer)\n"
    "  record REGION/CHANNEL FILE    record a channel's messages into a file\n"
    "  replay FILE REGION/CHANNEL    publish a recording again (--check: check it)\n"
    "  clean [--dry-run]             remove regions nobody uses, past a grace period\n"
    "  create REGION | REGION/CHANNEL\n"
    "                                make a region, or a channel in one\n"
    "  rm REGION...                  remove regions that nobody uses\n"
    "  bench [ARGS]                  run the benchmark (rill_bench)\n"
    "  bridge out|in REGION/CHANNEL...\n"
    "                                carry channels between hosts over NATS\n"
    "  help [COMMAND]                this text, or a command's\n"
    "\n"
    "Options:\n"
    "      --dir DIR   where regions are (default $RILL_DIR, else " OS_DEFAULT_DIR_TEXT ");\n"
    "                  every command takes it too\n"
    "  -h, --help      this text; 'rill COMMAND --help' for a command's\n"
    "  -V, --version   the version\n"
    "\n"
    "Exit status: 0 ok, 1 failure, 2 usage error.  Manual: docs/cli.md.\n";

static const struct {
  const char *name;
  int (*fn)(int, char **);
} cmds[] = {
    {"ls", cmd_ls},           {"info", cmd_info},     {"monitor", cmd_monitor},
    {"tail", cmd_tail},       {"clean", cmd_clean},   {"create", cmd_create},
    {"rm", cmd_rm},           {"bench", cmd_bench},   {"bridge", cmd_bridge},
    {"send", cmd_send},       {"wait", cmd_wait},
    {"record", cmd_record},   {"replay", cmd_replay},
};

static int run(const char *name, int argc, char **argv) {
  for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
    if (strcmp(cmds[i].name, name)) continue;
    cli_cmd = name;
    optind = 0; /* 0: glibc starts afresh (the main parse stopped at the command) */
    return cmds[i].fn(argc, argv);
  }
  return cli_usage("no command '%s'", name);
}

int main(int argc, char **argv) {
  os_init(&argc, &argv);
  static const struct option opts[] = {{"dir", required_argument, 0, CLI_OPT_DIR},
                                       {"help", no_argument, 0, 'h'},
                                       {"version", no_argument, 0, 'V'},
                                       {0, 0, 0, 0}};
  /* '+': stop at the command; its options are its own.  getopt's own
   * messages are off: cli_bad_option() says it once. */
  opterr = 0;
  int o;
  while ((o = getopt_long(argc, argv, "+:hV", opts, NULL)) != -1) {
    switch (o) {
    case CLI_OPT_DIR: cli_dir = optarg; break;
    case 'h': fputs(usage, stdout); return 0;
    case 'V': /* this program's version, and the librill it runs with */
      printf("rill %d.%d.%d (librill %s)\n", RILL_VERSION_MAJOR, RILL_VERSION_MINOR,
             RILL_VERSION_PATCH, rill_version_string());
      return 0;
    default: return cli_bad_option(o, argv);
    }
  }
  if (optind >= argc) {
    fputs(usage, stderr);
    return EXIT_USAGE;
  }
  const char *name = argv[optind];
  if (!strcmp(name, "help")) {
    const char *what = optind + 1 < argc ? argv[optind + 1] : NULL;
    /* rill help, rill help --help, rill help help: this text */
    if (!what || !strcmp(what, "--help") || !strcmp(what, "-h") || !strcmp(what, "help")) {
      if (what && optind + 2 < argc) return cli_usage("help takes one COMMAND at most");
      fputs(usage, stdout);
      return 0;
    }
    if (optind + 2 < argc) return cli_usage("help takes one COMMAND at most");
    char *hargv[] = {argv[optind + 1], "--help", NULL};
    return run(argv[optind + 1], 2, hargv);
  }
  return run(name, argc - optind, argv + optind);
}
