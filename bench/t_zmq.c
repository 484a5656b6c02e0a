/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill_bench peer: ZeroMQ (libzmq) over ipc:// in the run's private
 * directory.
 *
 *   zmq-pushpull  throughput: side 0 PUSH (connects), side 1 PULL (binds)
 *   zmq-pair      throughput and round trips: one PAIR socket each, side 1
 *                 binds, side 0 connects; round trips use it both ways
 *
 * Each side makes its own context after the fork, in open(); libzmq's I/O
 * thread is started there and so runs on the side's pinned CPU.  High-water
 * marks are set to libzmq's defaults (1000 messages each way) explicitly:
 * PUSH and PAIR block at the mark, they never drop.  Sending copies the
 * message from a local buffer (zmq_send); receiving reuses one zmq_msg_t
 * (zmq_msg_recv) and checks the payload where libzmq put it.  Blocking calls
 * time out after 1 s (ZMQ_SNDTIMEO, ZMQ_RCVTIMEO) so that a dead peer or the
 * abort flag is noticed; 30 s without progress fail the run.
 */
#include "peers.h"

#ifdef RILL_HAVE_ZMQ

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <zmq.h>

#define ZQ_HWM 1000     /* libzmq's default, ZMQ_SNDHWM and ZMQ_RCVHWM */
#define ZQ_TIMEO_MS 1000

typedef struct zq_ep {
  void *ctx, *sock;
  unsigned char *sbuf;
  zmq_msg_t msg;
  int msg_ready;
} zq_ep;

static int zq_setup(bench_test *t, char *err, size_t errlen) {
  return bench_ipc_setup(t, "zmq", err, errlen);
}

static void zq_close(void *vep) {
  zq_ep *e = vep;
  if (!e) return;
  if (e->msg_ready) zmq_msg_close(&e->msg);
  if (e->sock) zmq_close(e->sock);
  if (e->ctx) zmq_ctx_term(e->ctx);
  bench_free(e->sbuf);
  free(e);
}

int bench_zmq_socket(const char *url, int type, int bind, int linger_ms, void **ctx,
                     void **sock, char *err, size_t len) {
  static const struct {
    int opt;
    const char *name;
  } opts[5] = {{ZMQ_SNDHWM, "ZMQ_SNDHWM"}, {ZMQ_RCVHWM, "ZMQ_RCVHWM"},
               {ZMQ_SNDTIMEO, "ZMQ_SNDTIMEO"}, {ZMQ_RCVTIMEO, "ZMQ_RCVTIMEO"},
               {ZMQ_LINGER, "ZMQ_LINGER"}};
  const int vals[5] = {ZQ_HWM, ZQ_HWM, ZQ_TIMEO_MS, ZQ_TIMEO_MS, linger_ms};
  *sock = NULL;
  if (!(*ctx = zmq_ctx_new())) {
    snprintf(err, len, "zmq_ctx_new: %s", zmq_strerror(zmq_errno()));
    return -1;
  }
  if (!(*sock = zmq_socket(*ctx, type))) {
    snprintf(err, len, "zmq_socket: %s", zmq_strerror(zmq_errno()));
    goto fail;
  }
  for (int i = 0; i < 5; i++)
    if (zmq_setsockopt(*sock, opts[i].opt, &vals[i], sizeof vals[i]) != 0) {
      snprintf(err, len, "zmq_setsockopt(%s): %s", opts[i].name, zmq_strerror(zmq_errno()));
      goto fail;
    }
  if ((bind ? zmq_bind(*sock, url) : zmq_connect(*sock, url)) != 0) {
    snprintf(err, len, "%s(%s): %s", bind ? "zmq_bind" : "zmq_connect", url,
             zmq_strerror(zmq_errno()));
    goto fail;
  }
  return 0;
fail:
  if (*sock) zmq_close(*sock);
  zmq_ctx_term(*ctx);
  *ctx = *sock = NULL;
  return -1;
}

/* Side 0 makes a socket of TYPE0 and connects, side 1 one of TYPE1 and
 * binds (libzmq retries a connect made before the bind). */
static int zq_open_types(bench_test *t, int side, int type0, int type1,
                         void **out) {
  zq_ep *e = calloc(1, sizeof *e);
  if (!e) return bench_fail("out of memory");
  char url[512], err[600];
  bench_ipc_url(t, url, sizeof url);
  e->sbuf = bench_alloc(BENCH_MAX_SIZE);
  if (!e->sbuf) goto fail;
  bench_msg_template(e->sbuf, t->size);
  zmq_msg_init(&e->msg);
  e->msg_ready = 1;
  if (bench_zmq_socket(url, side == 0 ? type0 : type1, side == 1, 0, &e->ctx, &e->sock, err,
                       sizeof err)) {
    bench_fail("%s", err);
    goto fail;
  }
  *out = e;
  return 0;
fail:
  zq_close(e);
  return -1;
}

static int zq_open_pushpull(bench_test *t, int side, void **out) {
  return zq_open_types(t, side, ZMQ_PUSH, ZMQ_PULL, out);
}

static int zq_open_pair(bench_test *t, int side, void **out) {
  return zq_open_types(t, side, ZMQ_PAIR, ZMQ_PAIR, out);
}

static inline int zq_send1(void *vep, size_t n, uint64_t seq) {
  zq_ep *e = vep;
  bench_msg_stamp(e->sbuf, n, seq);
  bench_spin sp = BENCH_SPIN_INIT;
  while (zmq_send(e->sock, e->sbuf, n, 0) != (int)n) {
    int er = zmq_errno();
    if (er == EINTR) continue;
    if (er != EAGAIN) return bench_fail("zmq_send: %s", zmq_strerror(er));
    if (bench_spin_slow(&sp)) return -1; /* 1 s at the high-water mark */
  }
  return 0;
}

static inline int zq_recv1(void *vep, size_t n, uint64_t *expect,
                           uint64_t midsum, uint64_t *errs) {
  zq_ep *e = vep;
  bench_spin sp = BENCH_SPIN_INIT;
  int got;
  while ((got = zmq_msg_recv(&e->msg, e->sock, 0)) < 0) {
    int er = zmq_errno();
    if (er == EINTR) continue;
    if (er != EAGAIN) return bench_fail("zmq_msg_recv: %s", zmq_strerror(er));
    if (bench_spin_slow(&sp)) return -1; /* 1 s without a message */
  }
  if ((size_t)got != n || zmq_msg_more(&e->msg)) {
    *errs += 1; /* a wrong size, or a multi-part message nobody sent */
    *expect += 1;
    return 0;
  }
  *errs += bench_msg_verify(zmq_msg_data(&e->msg), n, expect, midsum);
  return 0;
}

BENCH_PEER_OPS(zq, zq_send1, zq_recv1)

const bench_transport bench_zmq_pushpull = {
    .name = "zmq-pushpull",
    .kinds = BENCH_TPUT,
    .blocking = 1,
    .peer = 1,
    .setup = zq_setup,
    .teardown = bench_ipc_teardown,
    .open = zq_open_pushpull,
    .close = zq_close,
    .send = zq_send,
    .recv = zq_recv,
};

const bench_transport bench_zmq_pair = {
    .name = "zmq-pair",
    .kinds = BENCH_TPUT | BENCH_RTT,
    .blocking = 1,
    .peer = 1,
    .setup = zq_setup,
    .teardown = bench_ipc_teardown,
    .open = zq_open_pair,
    .close = zq_close,
    .send = zq_send,
    .recv = zq_recv,
    .ping = zq_ping,
    .pong = zq_pong,
};

#else
typedef int bench_zmq_left_out; /* ISO C wants something in a file */
#endif
