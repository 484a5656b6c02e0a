/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill_bench rpc: the host over rill lanes (rill_rpc_*), and the C guest. */
#include "rpcbench.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rill_rpc.h"

#define REGION "rpcbench"
#define SERVICE "echo"
#define DEPTH 1024u
#define MTU 1024u
#define SLOTS 256u /* ids in flight per lane, at most; a power of 2 */

/* A lane's calls in flight: ids [lo, hi), consecutive (a client numbers its
 * calls), each with the sequence number of its payload and its send time. */
typedef struct lane {
  rill_rpc_client *c;
  uint64_t lo, hi;
  int based; /* lo and hi set from the first id */
  uint64_t seq[SLOTS], sent[SLOTS];
} lane;

typedef struct host {
  rb_run *r;
  lane *l;
  uint32_t done; /* completions (lost ones too) of the current pass */
} host;

static void on_done(void *arg, const rill_rpc_result *res, const void *resp) {
  host *h = arg;
  lane *l = h->l;
  uint64_t now = bench_now_ns();
  if ((int64_t)(res->id - l->lo) < 0 || (int64_t)(res->id - l->hi) >= 0) {
    h->r->errors++; /* an id we have not sent, or have seen already */
    return;
  }
  for (; l->lo != res->id; l->lo++, h->done++) h->r->errors++; /* skipped: lost */
  uint32_t i = (uint32_t)(res->id & (SLOTS - 1));
  if (res->status || !rb_payload_ok(resp, res->size, l->seq[i])) h->r->errors++;
  l->lo++;
  h->done++;
  rb_run_done(h->r, l->sent[i], now);
}

static int send_one(rb_run *r, lane *l) {
  unsigned char req[RB_PAYLOAD];
  uint64_t seq = r->seq++, id;
  rb_fill(req, seq);
  uint64_t t = bench_now_ns();
  int rc = rill_rpc_send(l->c, RB_METHOD_ECHO, req, sizeof req, &id);
  if (rc) return rb_fail(r, "rill_rpc_send: %s", rill_strerror(rc));
  if (!l->based) {
    l->lo = l->hi = id;
    l->based = 1;
  }
  if (id != l->hi)
    return rb_fail(r, "rill_rpc_send gave id %llu, expected %llu", (unsigned long long)id,
                   (unsigned long long)l->hi);
  l->seq[id & (SLOTS - 1)] = seq;
  l->sent[id & (SLOTS - 1)] = t;
  l->hi++;
  return 0;
}

/* Keeps r->inflight calls in flight over the lanes, sending round-robin,
 * busy-polling every lane for completions, until the run is over and
 * every call has completed. */
static int host_loop(rb_run *r, lane *ln) {
  static unsigned char buf[4 * MTU];
  host h = {.r = r};
  uint32_t owed = r->inflight, inflight = 0, next = 0;
  rb_run_start(r);
  while (owed || inflight) {
    for (; owed && rb_run_sending(r); owed--, inflight++) {
      lane *l = &ln[next++ % RB_LANES];
      if (l->hi - l->lo >= SLOTS) return rb_fail(r, "a lane has %u calls in flight", SLOTS);
      if (send_one(r, l)) return -1;
    }
    owed = 0;
    h.done = 0;
    for (uint32_t k = 0; k < RB_LANES; k++) {
      h.l = &ln[k];
      int n = rill_rpc_poll(ln[k].c, buf, sizeof buf, 64, on_done, &h);
      if (n < 0) return rb_fail(r, "rill_rpc_poll: %s", rill_strerror(n));
    }
    inflight -= h.done;
    if (rb_run_sending(r)) owed = h.done;
    if (!h.done && rb_run_idle(r)) return -1;
    if (h.done) r->idle = 0;
  }
  return r->failure[0] ? -1 : 0;
}

int rb_rill_run(rb_run *r, const char *guest_exe, int go, uint32_t workers) {
  rill_region *reg = NULL;
  lane *ln = calloc(RB_LANES, sizeof *ln);
  bench_proc ch = {.pid = 0, .out_fd = -1};
  char err[200], w[16];
  int rc;
  if (!ln) return rb_fail(r, "out of memory");
  rill_channel_opts co = {.depth = DEPTH, .mtu = MTU, .max_consumers = 2, .max_msg = 4 * MTU};
  rill_region_opts ro = {.size = 2 * RB_LANES * rill_channel_footprint(&co) + (4u << 20),
                         .dir = rb_dir};
  rill_rpc_opts so = {.lanes = RB_LANES, .depth = DEPTH, .mtu = MTU};
  if ((rc = rill_region_create(REGION, &ro, &reg))) {
    rb_fail(r, "rill_region_create %s/%s: %s", rb_dir, REGION, rill_strerror(rc));
    goto out;
  }
  if ((rc = rill_rpc_service_create(reg, SERVICE, &so))) {
    rb_fail(r, "rill_rpc_service_create: %s", rill_strerror(rc));
    goto out;
  }
  snprintf(w, sizeof w, "%u", workers);
  char *gargv[] = {(char *)guest_exe, "-w", w, "-dir", (char *)rb_dir, "-region", REGION,
                   "-service", SERVICE, NULL};
  char *cargv[] = {(char *)guest_exe, "worker", "rpc-guest", "-w", w, "--dir", (char *)rb_dir,
                   "--region", REGION, "--service", SERVICE, NULL};
  if (bench_proc_start(&ch, go ? "Go guest" : "C guest", rb_server_cpu, go ? gargv : cargv,
                       rb_dir, err, sizeof err) < 0) {
    rb_fail(r, "%s guest %s: %s", go ? "Go" : "C", guest_exe, err);
    goto out;
  }
  uint64_t ready_end = bench_now_ns() + (uint64_t)RB_READY_MS * 1000000ull;
  for (uint32_t k = 0; k < RB_LANES; k++) {
    if ((rc = rill_rpc_connect(reg, SERVICE, &ln[k].c))) {
      rb_fail(r, "rill_rpc_connect (lane %u): %s", k, rill_strerror(rc));
      goto out;
    }
    /* The guest serves the lane when its worker has joined it: wait for
     * that rather than for its output; the slices only look after it. */
    while ((rc = rill_rpc_wait_server(ln[k].c, 100000000ull)) == -RILL_ETIMEDOUT) {
      if (!bench_proc_alive(&ch, err, sizeof err) || bench_now_ns() >= ready_end) {
        rb_fail(r, "%s guest %s: %s", go ? "Go" : "C", guest_exe,
                ch.pid <= 0 ? err : "not serving within the time");
        goto out;
      }
    }
    if (rc) {
      rb_fail(r, "rill_rpc_wait_server (lane %u): %s", k, rill_strerror(rc));
      goto out;
    }
    if (rill_rpc_capacity(ln[k].c) < r->inflight) {
      rb_fail(r, "a lane allows %u calls in flight, fewer than %u", rill_rpc_capacity(ln[k].c),
              r->inflight);
      goto out;
    }
  }
  r->server = &ch;
  host_loop(r, ln);
out:
  r->server = NULL;
  for (uint32_t k = 0; k < RB_LANES; k++) rill_rpc_close(ln[k].c);
  if ((ch.pid > 0 || ch.out_fd >= 0) && bench_proc_stop(&ch, err, sizeof err))
    rb_fail(r, "the guest %s", err);
  if (reg) {
    rill_region_close(reg);
    if ((rc = rill_region_unlink(REGION, rb_dir)))
      rb_fail(r, "rill_region_unlink: %s", rill_strerror(rc));
  }
  free(ln);
  return r->failure[0] ? -1 : 0;
}

/* ---- the C guest ------------------------------------------------------------ */

static int echo(void *arg, uint16_t method, const void *req, size_t n, void *resp, size_t cap,
                size_t *resp_n) {
  (void)arg;
  if (method != RB_METHOD_ECHO) return -RILL_ENOMETHOD;
  if (n > cap) return -RILL_EMSGSIZE;
  memcpy(resp, req, n);
  *resp_n = n;
  return 0;
}

int rb_guest_main(int argc, char **argv) {
  const char *dir = NULL, *region = "guest", *service = "guest";
  long workers = 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i] + (argv[i][0] == '-' && argv[i][1] == '-'); /* -x or --x */
    if (i + 1 >= argc) goto usage;
    if (!strcmp(a, "-w")) {
      char *end;
      workers = strtol(argv[++i], &end, 10);
      if (*end || workers < 1 || workers > RILL_RPC_MAX_LANES) goto usage;
    } else if (!strcmp(a, "-dir")) dir = argv[++i];
    else if (!strcmp(a, "-region")) region = argv[++i];
    else if (!strcmp(a, "-service")) service = argv[++i];
    else goto usage;
  }
  /* Blocked before the workers start, so that they inherit the mask and
   * sigwait() below is the only taker of SIGINT and SIGTERM. */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int rc = pthread_sigmask(SIG_BLOCK, &set, NULL), sig;
  if (rc) {
    fprintf(stderr, "rill_bench rpc-guest: pthread_sigmask: %s\n", strerror(rc));
    return 1;
  }
  rill_region *r;
  rill_rpc_server *srv;
  if ((rc = rill_region_open(region, &(rill_region_opts){.dir = dir}, &r))) {
    fprintf(stderr, "rill_bench rpc-guest: region %s: %s\n", region, rill_strerror(rc));
    return 1;
  }
  if ((rc = rill_rpc_serve(r, service, (uint32_t)workers, echo, NULL, &srv))) {
    fprintf(stderr, "rill_bench rpc-guest: serve %s: %s\n", service, rill_strerror(rc));
    rill_region_close(r);
    return 1;
  }
  printf("rill_bench rpc-guest: serving %s in region %s with %ld workers\n", service, region,
         workers);
  fflush(stdout);
  if ((rc = sigwait(&set, &sig)))
    fprintf(stderr, "rill_bench rpc-guest: sigwait: %s\n", strerror(rc));
  rill_rpc_server_stop(srv);
  rill_region_close(r);
  return rc ? 1 : 0;
usage:
  fprintf(stderr, "usage: rill_bench worker rpc-guest [-w N] [--dir DIR] [--region NAME] [--service NAME]\n");
  return 2;
}
