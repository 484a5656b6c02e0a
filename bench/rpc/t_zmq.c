/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill_bench rpc: the ZeroMQ baseline.  The host's DEALER sends each request
 * as one frame; the server's ROUTER receives it behind the routing frame of
 * its sender and sends both frames back (the echo), over ipc:// in the
 * private directory.  Each process makes its own context after the fork. */
#include "rpcbench.h"

#ifdef RILL_HAVE_ZMQ

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

const int rb_have_zmq = 1;

static int serve(const char *ep) {
  void *ctx = zmq_ctx_new(), *s = ctx ? zmq_socket(ctx, ZMQ_ROUTER) : NULL;
  if (!s || zmq_bind(s, ep)) {
    fprintf(stderr, "rill_bench zmq server: bind %s: %s\n", ep, zmq_strerror(zmq_errno()));
    return 1;
  }
  printf("zmq server: serving %s\n", ep);
  fflush(stdout);
  for (;;) { /* ended by SIGTERM */
    zmq_msg_t id, body;
    zmq_msg_init(&id);
    zmq_msg_init(&body);
    if (zmq_msg_recv(&id, s, 0) < 0 || !zmq_msg_more(&id) || zmq_msg_recv(&body, s, 0) < 0 ||
        zmq_msg_more(&body) || zmq_msg_send(&id, s, ZMQ_SNDMORE) < 0 ||
        zmq_msg_send(&body, s, 0) < 0) {
      fprintf(stderr, "rill_bench zmq server: %s\n",
              zmq_errno() ? zmq_strerror(zmq_errno()) : "unexpected frames");
      return 1;
    }
  }
}

static int send_req(rb_run *r, void *s, uint64_t *sent) {
  unsigned char req[RB_PAYLOAD];
  rb_fill(req, r->seq);
  sent[r->seq++ % RB_MAX_INFLIGHT] = bench_now_ns();
  if (zmq_send(s, req, sizeof req, 0) != (int)sizeof req)
    return rb_fail(r, "zmq_send: %s", zmq_strerror(zmq_errno()));
  return 0;
}

/* Responses come in the order of the requests (one connection, one
 * server thread). */
static int host_loop(rb_run *r, void *s) {
  uint64_t sent[RB_MAX_INFLIGHT];
  unsigned char buf[4096];
  uint32_t inflight = 0;
  rb_run_start(r);
  for (; inflight < r->inflight; inflight++)
    if (send_req(r, s, sent)) return -1;
  while (inflight) {
    int n = zmq_recv(s, buf, sizeof buf, 0);
    if (n < 0 && zmq_errno() == EINTR) continue;
    if (n < 0 && zmq_errno() == EAGAIN)
      return rb_fail(r, "no response for %llu s", (unsigned long long)(RB_STALL_NS / 1000000000ull));
    if (n < 0) return rb_fail(r, "zmq_recv: %s", zmq_strerror(zmq_errno()));
    uint64_t now = bench_now_ns(), seq = r->seq - inflight--;
    if (!rb_payload_ok(buf, (size_t)n, seq)) r->errors++;
    rb_run_done(r, sent[seq % RB_MAX_INFLIGHT], now);
    if (rb_run_sending(r)) {
      if (send_req(r, s, sent)) return -1;
      inflight++;
    }
  }
  return r->failure[0] ? -1 : 0;
}

int rb_zmq_run(rb_run *r) {
  char ep[512], err[200];
  bench_proc ch;
  snprintf(ep, sizeof ep, "ipc://%s/zmq", rb_dir);
  int rc = bench_proc_start(&ch, "zmq server", rb_server_cpu, NULL, rb_dir, err, sizeof err);
  if (rc == 0) _exit(serve(ep));
  if (rc < 0 || bench_proc_ready(&ch, ": serving", RB_READY_MS * 1000000ull, err, sizeof err))
    return rb_fail(r, "zmq server: %s", err);
  void *ctx = zmq_ctx_new(), *s = ctx ? zmq_socket(ctx, ZMQ_DEALER) : NULL;
  int linger = 0, timeout_ms = (int)(RB_STALL_NS / 1000000ull);
  if (!s || zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger) ||
      zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms) || zmq_connect(s, ep))
    rb_fail(r, "zmq DEALER on %s: %s", ep, zmq_strerror(zmq_errno()));
  else host_loop(r, s);
  if (s) zmq_close(s);
  while (ctx && zmq_ctx_term(ctx) && zmq_errno() == EINTR) {}
  if (bench_proc_stop(&ch, err, sizeof err)) rb_fail(r, "the zmq server %s", err);
  if (unlink(ep + strlen("ipc://")) && errno != ENOENT)
    rb_fail(r, "unlink %s: %s", ep + strlen("ipc://"), strerror(errno));
  return r->failure[0] ? -1 : 0;
}

#else

const int rb_have_zmq = 0;

int rb_zmq_run(rb_run *r) { return rb_fail(r, "built without libzmq"); }

#endif
