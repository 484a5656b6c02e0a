/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* The rill command line: what its commands share.
 *
 * Exit codes: 0 ok, 1 failure (a message on stderr says why), 2 usage (a
 * message and a pointer to --help).  Every command reads shared memory
 * through the public API only (include/rill.h). */
#ifndef RILL_CLI_H
#define RILL_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "bridge.h"
#include "os.h"
#include "rill.h"
#include "rill_rpc.h"

#define EXIT_USAGE 2

/* ---- messages and exits ---------------------------------------------------- */

extern const char *cli_cmd; /* the command running, for messages */
extern const char *cli_dir; /* --dir before the command (NULL: $RILL_DIR or os_default_dir()) */

/* The directory regions are in, for messages. */
const char *cli_dir_name(const char *dir);

/* "rill CMD: MESSAGE" on stderr. */
__attribute__((format(printf, 1, 2))) void cli_warn(const char *fmt, ...);
/* cli_warn(), then 1. */
__attribute__((format(printf, 1, 2))) int cli_fail(const char *fmt, ...);
/* cli_warn() and a pointer to --help, then EXIT_USAGE. */
__attribute__((format(printf, 1, 2))) int cli_usage(const char *fmt, ...);

/* ---- arguments --------------------------------------------------------------- */

/* Parses a count: decimal, with an optional k/M/G suffix (powers of 1000
 * when SI, else of 1024, for sizes).  0 or -1 on bad input. */
int cli_parse_u64(const char *s, int si, uint64_t *out);
/* Parses seconds ("0.5", "2"), more than 0. */
int cli_parse_secs(const char *s, double *out);
/* Parses a duration: a number with an optional unit, ms, s, m, h or d
 * (none: seconds): "0", "90", "1.5m", "2h".  0, or -1 on bad input. */
int cli_parse_duration(const char *s, uint64_t *ns);
/* Splits "REGION[/CHANNEL]": REGION into region (RILL_NAME_MAX + 1
 * bytes), CHANNEL into chan ("" when absent).  0, or -1 if malformed. */
int cli_split(const char *arg, char *region, char *chan);

/* getopt_long()'s value for --dir, which has no short form (-d is
 * monitor's delay, as in top). */
#define CLI_OPT_DIR 0x100

/* The usage error for what getopt_long() returned, O ('?' an unknown
 * option, ':' a missing value; optstrings start with ':', and getopt's
 * own messages are off), naming the option: EXIT_USAGE. */
int cli_bad_option(int o, char **argv);

/* Parses the options of a command that takes only --dir, --json and
 * --help (USAGE is its help text).  Returns -1 to go on, else the exit
 * status to return (0 after --help, EXIT_USAGE). */
int cli_opts_dir_json(int argc, char **argv, const char *usage, const char **dir, int *json);
/* cli_split() of a command's argument, or a usage error (EXIT_USAGE). */
int cli_target(const char *arg, char *region, char *chan);

/* ---- formatting -------------------------------------------------------------- */

/* Human forms, into BUF (at least 16 bytes), returned for printf:
 * 1.5 KiB / 2.0 MiB; 1.23k / 4.56M; 850 ns / 1.2 us / 3.4 ms / 1.20 s;
 * an age as 45s / 12m / 3h / 2d. */
const char *cli_bytes(char *buf, double n);
const char *cli_count(char *buf, double n);
const char *cli_ns(char *buf, double ns);
const char *cli_age(char *buf, double secs);

/* Text of a liveness (RILL_PEER_*) and of a consumer mode. */
const char *cli_liveness(uint32_t l);
const char *cli_mode(uint32_t m);

/* ---- JSON output ------------------------------------------------------------- */

/* A small writer: it tracks nesting and commas; strings are escaped. */
typedef struct cli_json {
  FILE *f;
  int depth;
  int first[16]; /* nothing written yet at this depth */
  int pretty;
} cli_json;

void cli_json_init(cli_json *j, FILE *f);
void cli_json_obj(cli_json *j, const char *key);  /* { (key NULL in arrays) */
void cli_json_arr(cli_json *j, const char *key);  /* [ */
void cli_json_end(cli_json *j, char close);       /* } or ] */
void cli_json_str(cli_json *j, const char *key, const char *v);
void cli_json_u64(cli_json *j, const char *key, uint64_t v);
void cli_json_num(cli_json *j, const char *key, double v); /* NaN: null */
void cli_json_bool(cli_json *j, const char *key, int v);
void cli_json_null(cli_json *j, const char *key);
void cli_json_done(cli_json *j); /* the final newline */

/* ---- snapshots of regions ------------------------------------------------------
 * What ls, info and monitor show: regions, their channels, every endpoint's
 * counters and liveness, and each active consumer's latency samples. */

/* A live endpoint's pid as this command's PID namespace sees it.  The
 * pid in shared memory is what the endpoint's getpid() said, in its own
 * PID namespace; the process that holds the endpoint's lock is looked
 * for here (os_lock_holders()). */
enum {
  CLI_PID_NA,      /* not alive, or not looked up: the pid recorded is all */
  CLI_PID_HERE,    /* the lock's holder is pid `here` in this namespace */
  CLI_PID_OTHER,   /* no process here holds it, and every one was seen:
                    * the endpoint lives in another PID namespace */
  CLI_PID_UNKNOWN, /* not found, but some processes could not be looked
                    * into, or /proc is not this namespace's */
};
typedef struct cli_pid {
  int seen;      /* CLI_PID_* */
  int inner;     /* HERE: the holder is in a PID namespace below this one */
  uint32_t here; /* HERE: its pid here */
  uint32_t own;  /* HERE: its pid in its own namespace */
} cli_pid;

typedef struct cli_channel {
  char name[RILL_NAME_MAX + 1];
  int err;                 /* rill_channel_stats_get()'s, or 0 */
  rill_channel_stats st;   /* nconsumers: the slots with a mode in cons */
  rill_consumer_stats *cons; /* [max_consumers]; mode 0: a free slot */
  rill_latency *lat;       /* [max_consumers], for active slots */
  int pids;                /* 1: cli_snap_pids() filled the two below */
  cli_pid prod_pid;
  cli_pid *cons_pid;       /* [max_consumers] */
  int nbridges;            /* NATS bridges of the channel (bridge.h)  */
  bridge_seen bridges[2];
} cli_channel;

typedef struct cli_region {
  char name[RILL_NAME_MAX + 1];
  int err;                 /* open's error, or 0 */
  int in_use;              /* 1 / 0 / -1 not asked */
  rill_region_info info;
  uint32_t nchannels;
  cli_channel *ch;
} cli_region;

typedef struct cli_snap {
  const char *dir;         /* as given (NULL: the default) */
  uint64_t mono_ns;        /* CLOCK_MONOTONIC when taken */
  uint64_t real_ns;        /* CLOCK_REALTIME when taken  */
  uint32_t nregions;
  cli_region *r;
} cli_snap;

/* Names of the regions in DIR, sorted, into *NAMES (free with
 * cli_names_free).  Returns the count, or a negative RILL_E code. */
int cli_region_names(const char *dir, char ***names);
void cli_names_free(char **names, int n);

/* Takes a snapshot of regions NAMES[0..N) of DIR; with ASK_IN_USE, asks
 * whether each is in use (before opening it).  Regions that cannot be
 * opened are kept with their error.  Returns 0 or -RILL_ENOMEM. */
int cli_snap_take(cli_snap *s, const char *dir, char *const *names, int n, int ask_in_use);
void cli_snap_free(cli_snap *s);
/* Looks up who holds the locks of the live endpoints of S's channels
 * (cli_pid).  Returns 0 or -RILL_ENOMEM. */
int cli_snap_pids(cli_snap *s);
/* An endpoint's pid to show, given PID (in shared memory) and P (from
 * cli_snap_pids()): its pid here when its lock's holder was found here
 * with PID as its own, else PID; and what to say after it, into BUF:
 * " (pid 1 in its PID namespace)", " (in another PID namespace)" and
 * the like, "" when PID is the pid here or nothing is known. */
uint32_t cli_pid_shown(uint32_t pid, const cli_pid *p);
const char *cli_pid_note(uint32_t pid, const cli_pid *p, char *buf, size_t cap);
/* The same channel in an earlier snapshot, or NULL. */
const cli_channel *cli_snap_find(const cli_snap *s, const char *region, const char *chan);

/* The channel to take rates from: REGION/CHAN in PREV; one with nothing
 * counted if it appeared since (everything it counted is new); NULL if
 * there is no earlier snapshot. */
const cli_channel *cli_prev_channel(const cli_snap *prev, const char *region, const char *chan);

/* An endpoint's rates over DT seconds, from the counters' differences. */
typedef struct cli_rates {
  double msgs, bytes;      /* per second                              */
  double backpressure;     /* producer: times it found no credit, /s  */
  double overruns, lost;   /* consumer: poll + read overruns; lost /s */
  rill_latency window;     /* consumer: the samples of the interval   */
} cli_rates;

/* Of channel C's producer, and of its consumer in SLOT, since PREV (from
 * cli_prev_channel(), not NULL) DT seconds earlier. */
void cli_producer_rates(const cli_channel *c, const cli_channel *prev, double dt, cli_rates *out);
void cli_consumer_rates(const cli_channel *c, uint32_t slot, const cli_channel *prev, double dt,
                        cli_rates *out);

/* Endpoints of a channel: live, dead. */
void cli_channel_peers(const cli_channel *c, uint32_t *alive, uint32_t *dead);

uint64_t cli_mono_ns(void);
uint64_t cli_real_ns(void);

/* A channel's members in JSON: configuration, layout, producer and
 * consumers with their counters and latency since they joined; with PREV,
 * the same channel DT seconds earlier, also rates and the latency of the
 * window ("latency_window"). */
void cli_json_channel(cli_json *j, const cli_channel *c, uint64_t mono_now,
                      const cli_channel *prev, double dt);

/* ---- request/response services (service.c) ----------------------------------------
 * A service S of a region is its lanes' channels S.q.K and S.r.K
 * (docs/rpc.md), found by their names in a snapshot. */

typedef struct cli_service {
  char name[RILL_NAME_MAX + 1];
  uint32_t nlanes;
  const cli_channel *q[RILL_RPC_MAX_LANES], *r[RILL_RPC_MAX_LANES]; /* in R's snapshot */
} cli_service;

/* The services of R into *OUT (free it), by name of their lane 0: their
 * count. */
int cli_services(const cli_region *r, cli_service **out);
/* Service NAME of R into *S: 0, or -1 if there is none. */
int cli_service_find(const cli_region *r, const char *name, cli_service *s);
/* 1 if C is a lane's channel of one of the N services S. */
int cli_service_lane_of(const cli_service *s, uint32_t n, const cli_channel *c);
/* The service's server, clients and calls in flight, and a line per lane:
 * as text (each line after INDENT), or as the members of a JSON object. */
void cli_print_service(const char *indent, const cli_service *s);
void cli_json_service(cli_json *j, const cli_service *s);

/* ---- an HTTP server (http.c) ------------------------------------------------------
 * monitor --listen's: one page, through libmicrohttpd when this rill was
 * built with it; without it, cli_http_start() says how to get it. */

typedef struct cli_http cli_http;
/* The body of the page, made at each request: 0 and *BODY (malloc'ed;
 * the server frees it) of *LEN bytes, or -1 (the client gets 500). */
typedef int (*cli_http_page_fn)(void *ctx, char **body, size_t *len);

/* Listens on ADDR ("HOST:PORT", "[IPV6]:PORT", ":PORT" for every
 * interface; port 0: one the system picks) and serves PATH, of content
 * type TYPE, from FN (other paths 404; GET and HEAD only).  Returns 0 and
 * *OUT; else says why and returns the exit status: EXIT_USAGE if ADDR is
 * malformed, 1 if it cannot listen there (the address named) or
 * libmicrohttpd is not built in. */
int cli_http_start(const char *addr, const char *path, const char *type, cli_http_page_fn fn,
                   void *ctx, cli_http **out);
/* The address listened on: "127.0.0.1:9464", "[::]:9464". */
const char *cli_http_addr(const cli_http *h);
/* Answers requests for up to MS ms; returns early on a signal. */
void cli_http_serve(cli_http *h, int ms);
void cli_http_stop(cli_http *h); /* closes everything; NULL: nothing */

/* ---- messages as data (tail --json and --raw, replay --dump) ----------------------
 * One JSON object a line: seq, sig, ctl, size, tsorig, tspub, lost, payload
 * (N bytes of it, base64), text (when printable UTF-8).  Raw: a u32
 * little-endian length, then the N bytes.  0, or a negative RILL_E code. */
int cli_msg_json(FILE *f, const rill_meta *m, const void *payload, size_t n);
int cli_msg_raw(FILE *f, const void *payload, size_t n);

/* ---- commands ------------------------------------------------------------------ */

int cmd_ls(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_monitor(int argc, char **argv);
int cmd_tail(int argc, char **argv);
int cmd_clean(int argc, char **argv);
int cmd_create(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_send(int argc, char **argv);
int cmd_wait(int argc, char **argv);

int cmd_record(int argc, char **argv);
int cmd_replay(int argc, char **argv);

#endif
