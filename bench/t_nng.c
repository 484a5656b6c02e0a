/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill_bench peer: nng over ipc:// in the run's private directory.
 *
 *   nng-pushpull  throughput: side 0 push0 (dials), side 1 pull0 (listens)
 *   nng-pair      throughput and round trips: pair1 (mono) on both sides,
 *                 side 1 listens, side 0 dials; round trips use it both ways
 *
 * Each side opens its socket after the fork, in open(), so nng's threads
 * start there and run on the side's pinned CPU.  Side 0 dials with
 * NNG_FLAG_NONBLOCK: if side 1 is not listening yet, nng retries in the
 * background.  Both sockets queue up to 1000 messages each way
 * (NNG_OPT_SENDBUF, NNG_OPT_RECVBUF; nng's default is 0, i.e. each message
 * is handed over directly), the same as ZeroMQ's default high-water marks
 * in bench/t_zmq.c; push0 and pair1 wait for room, they never drop.
 * Sending copies the message from a local buffer (nng_send); receiving
 * takes nng's message (nng_recvmsg), checks the payload in it and frees it.
 * Blocking calls time out after 1 s (NNG_OPT_SENDTIMEO, NNG_OPT_RECVTIMEO)
 * so that a dead peer or the abort flag is noticed; 30 s without progress
 * fail the run.
 */
#include "peers.h"

#ifdef RILL_HAVE_NNG

#include <stdio.h>
#include <stdlib.h>
#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>

#define NN_TIMEO_MS 1000
#define NN_BUF 1000 /* messages queued in the socket, as ZeroMQ's default HWM */

typedef struct nn_ep {
  nng_socket sock;
  int sock_open;
  unsigned char *sbuf;
} nn_ep;

static int nn_setup(bench_test *t, char *err, size_t errlen) {
  return bench_ipc_setup(t, "nng", err, errlen);
}

static void nn_close(void *vep) {
  nn_ep *e = vep;
  if (!e) return;
  if (e->sock_open) nng_close(e->sock);
  bench_free(e->sbuf);
  free(e);
}

/* PAIR: 1 for pair1 on both sides, 0 for push0 (side 0) / pull0 (side 1). */
static int nn_open_kind(bench_test *t, int side, int pair, void **out) {
  nn_ep *e = calloc(1, sizeof *e);
  if (!e) return bench_fail("out of memory");
  char url[512];
  bench_ipc_url(t, url, sizeof url);
  e->sbuf = bench_alloc(BENCH_MAX_SIZE);
  if (!e->sbuf) goto fail;
  bench_msg_template(e->sbuf, t->size);
  int rc = pair ? nng_pair1_open(&e->sock)
           : side == 0 ? nng_push0_open(&e->sock)
                       : nng_pull0_open(&e->sock);
  if (rc != 0) {
    bench_fail("nng socket: %s", nng_strerror(rc));
    goto fail;
  }
  e->sock_open = 1;
  if ((rc = nng_socket_set_ms(e->sock, NNG_OPT_SENDTIMEO, NN_TIMEO_MS)) != 0 ||
      (rc = nng_socket_set_ms(e->sock, NNG_OPT_RECVTIMEO, NN_TIMEO_MS)) != 0) {
    bench_fail("nng_socket_set_ms: %s", nng_strerror(rc));
    goto fail;
  }
  if ((rc = nng_socket_set_int(e->sock, NNG_OPT_SENDBUF, NN_BUF)) != 0 ||
      (rc = nng_socket_set_int(e->sock, NNG_OPT_RECVBUF, NN_BUF)) != 0) {
    bench_fail("nng_socket_set_int(buffers): %s", nng_strerror(rc));
    goto fail;
  }
  rc = side == 0 ? nng_dial(e->sock, url, NULL, NNG_FLAG_NONBLOCK)
                 : nng_listen(e->sock, url, NULL, 0);
  if (rc != 0) {
    bench_fail("%s(%s): %s", side == 0 ? "nng_dial" : "nng_listen", url,
               nng_strerror(rc));
    goto fail;
  }
  *out = e;
  return 0;
fail:
  nn_close(e);
  return -1;
}

static int nn_open_pushpull(bench_test *t, int side, void **out) {
  return nn_open_kind(t, side, 0, out);
}

static int nn_open_pair(bench_test *t, int side, void **out) {
  return nn_open_kind(t, side, 1, out);
}

static inline int nn_send1(void *vep, size_t n, uint64_t seq) {
  nn_ep *e = vep;
  bench_msg_stamp(e->sbuf, n, seq);
  bench_spin sp = BENCH_SPIN_INIT;
  int rc;
  while ((rc = nng_send(e->sock, e->sbuf, n, 0)) != 0) {
    if (rc == NNG_EINTR) continue;
    if (rc != NNG_ETIMEDOUT) return bench_fail("nng_send: %s", nng_strerror(rc));
    if (bench_spin_slow(&sp)) return -1; /* 1 s without room */
  }
  return 0;
}

static inline int nn_recv1(void *vep, size_t n, uint64_t *expect,
                           uint64_t midsum, uint64_t *errs) {
  nn_ep *e = vep;
  bench_spin sp = BENCH_SPIN_INIT;
  nng_msg *m;
  int rc;
  while ((rc = nng_recvmsg(e->sock, &m, 0)) != 0) {
    if (rc == NNG_EINTR) continue;
    if (rc != NNG_ETIMEDOUT)
      return bench_fail("nng_recvmsg: %s", nng_strerror(rc));
    if (bench_spin_slow(&sp)) return -1; /* 1 s without a message */
  }
  if (nng_msg_len(m) != n) {
    *errs += 1;
    *expect += 1;
  } else {
    *errs += bench_msg_verify(nng_msg_body(m), n, expect, midsum);
  }
  nng_msg_free(m);
  return 0;
}

BENCH_PEER_OPS(nn, nn_send1, nn_recv1)

const bench_transport bench_nng_pushpull = {
    .name = "nng-pushpull",
    .kinds = BENCH_TPUT,
    .blocking = 1,
    .peer = 1,
    .setup = nn_setup,
    .teardown = bench_ipc_teardown,
    .open = nn_open_pushpull,
    .close = nn_close,
    .send = nn_send,
    .recv = nn_recv,
};

const bench_transport bench_nng_pair = {
    .name = "nng-pair",
    .kinds = BENCH_TPUT | BENCH_RTT,
    .blocking = 1,
    .peer = 1,
    .setup = nn_setup,
    .teardown = bench_ipc_teardown,
    .open = nn_open_pair,
    .close = nn_close,
    .send = nn_send,
    .recv = nn_recv,
    .ping = nn_ping,
    .pong = nn_pong,
};

#else
typedef int bench_nng_left_out; /* ISO C wants something in a file */
#endif
