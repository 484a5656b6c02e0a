/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill_bench's rpc suite: request/response over rill lanes next to a UNIX
 * socket and ZeroMQ (docs/benchmark.md, "Request/response").
 *
 * The host (rill_bench, pinned to one CPU while the suite runs) keeps W
 * requests in flight against a server process pinned to another CPU,
 * checks every response against its request, and records every round
 * trip.  The closed loop and its bookkeeping are shared here (proc.c); each
 * transport (t_rill.c, t_sock.c, t_zmq.c) only moves the bytes; suite.c
 * makes the rows and the bars.
 */
#ifndef RILL_RPCBENCH_H
#define RILL_RPCBENCH_H

#include <stddef.h>
#include <stdint.h>

#include "../proc.h"

#define RB_PAYLOAD 64u              /* request and response bytes          */
#define RB_MAX_INFLIGHT 256u        /* most requests in flight in a run    */
#define RB_LANES 4u                 /* lanes of the rill service           */
#define RB_STALL_NS 10000000000ull  /* no response for this long: failed   */
#define RB_READY_MS 10000           /* a server must be ready within this  */
#define RB_METHOD_ECHO 1

enum { RB_RILL, RB_UNIX, RB_ZMQ };

/* The payload of request SEQ: word 0 is SEQ, word i a mix of SEQ and i. */
void rb_fill(void *buf, uint64_t seq);
/* 1 if BUF (N bytes) is exactly the payload of SEQ. */
int rb_payload_ok(const void *buf, size_t n, uint64_t seq);
/* Word 0 of a payload (the sequence number it claims). */
uint64_t rb_payload_seq(const void *buf);

/* ---- one run: warm-up, measured part, drain ------------------------------- */

typedef struct rb_run {
  /* set by the caller */
  uint32_t inflight;
  uint64_t warm_ns, warm_n;  /* warm-up: until either is reached (n 0: none) */
  uint64_t meas_ns, meas_n;  /* measured part, likewise                      */
  bench_proc *server;        /* checked for life when responses stop        */
  /* kept by the loop */
  int phase;                 /* 0 warm-up, 1 measured, 2 draining            */
  uint64_t phase_start, phase_done, t0, t1, last_progress, next_check;
  uint32_t idle;             /* passes that found nothing, since a check     */
  uint64_t seq;              /* next request's sequence number               */
  /* results */
  uint64_t *rtt;             /* measured round trips, ns                     */
  size_t nrtt, cap;
  uint64_t errors;
  char failure[200];         /* empty unless the run failed                  */
} rb_run;

/* Called once before the first send. */
void rb_run_start(rb_run *r);
/* Records one completed request sent at SENT, received at NOW. */
void rb_run_done(rb_run *r, uint64_t sent, uint64_t now);
/* 1 while new requests should be sent (not yet draining). */
static inline int rb_run_sending(const rb_run *r) { return r->phase < 2; }
/* Call when a pass found nothing: checks for a stop signal, a dead server
 * and a stall.  Returns 0 to go on, -1 when the run failed (reason set). */
int rb_run_idle(rb_run *r);
/* Records a failure (printf-style) unless one is recorded; returns -1. */
int rb_fail(rb_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- the servers' processes ---------------------------------------------- */

extern int rb_server_cpu;             /* -1 if not pinning                  */
extern const char *rb_dir;            /* the private directory              */

/* ---- transports: each runs one measured run against a fresh server -------- */

int rb_rill_run(rb_run *r, const char *guest_exe, int go, uint32_t workers);
int rb_unix_run(rb_run *r);
int rb_zmq_run(rb_run *r);     /* t_zmq.c; fails when built without libzmq */
extern const int rb_have_zmq;

/* The C guest: `rill_bench worker rpc-guest -w N --dir D --region R
 * --service S` (ARGV[0] is "rpc-guest"). */
int rb_guest_main(int argc, char **argv);

/* The suite (suites.h): its rows, run and summed up by bench/rows.c. */

#endif
