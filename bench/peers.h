/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill_bench: what the real peers (ZeroMQ, nng, iceoryx; bench/t_zmq.c,
 * bench/t_nng.c, bench/t_iceoryx.c) share.
 *
 * Each peer supplies two functions for one message, and the loops below make
 * the transport's send / recv / ping / pong of them, so that every peer does
 * exactly the same work per message around its own calls:
 *
 *   send1(ep, n, seq)                     builds message SEQ of N bytes and
 *                                         sends it; 0 or -1 (recorded)
 *   recv1(ep, n, &expect, midsum, &errs)  receives one message, checks every
 *                                         byte with bench_msg_verify() and
 *                                         adds what is wrong or lost to errs;
 *                                         0 or -1 (recorded)
 *
 * The loops are static inline and every caller passes a constant function,
 * so the compiler calls the peer's functions directly.
 */
#ifndef RILL_BENCH_PEERS_H
#define RILL_BENCH_PEERS_H

#include "bench.h"

typedef int (*bench_send1_fn)(void *ep, size_t n, uint64_t seq);
typedef int (*bench_recv1_fn)(void *ep, size_t n, uint64_t *expect,
                              uint64_t midsum, uint64_t *errs);

static inline int bench_peer_send(void *ep, bench_send1_fn send1, size_t n,
                                  uint64_t seq, uint64_t count) {
  for (uint64_t i = 0; i < count; i++)
    if (send1(ep, n, seq + i)) return -1;
  return 0;
}

/* Receives until message SEQ + COUNT - 1 (or a later one) was seen: a lost
 * message counts as an error, it is not waited for. */
static inline int bench_peer_recv(void *ep, bench_recv1_fn recv1, size_t n,
                                  uint64_t seq, uint64_t count,
                                  uint64_t *errors) {
  uint64_t expect = seq, end = seq + count, midsum = bench_msg_midsum(n);
  uint64_t errs = 0;
  int rc = 0;
  while ((int64_t)(end - expect) > 0)
    if ((rc = recv1(ep, n, &expect, midsum, &errs)) != 0) break;
  *errors += errs;
  return rc;
}

/* Round trips of 8-byte messages, as in bench/t_stream.c. */
static inline int bench_peer_ping(void *ep, bench_send1_fn send1,
                                  bench_recv1_fn recv1, uint64_t seq,
                                  uint64_t count, uint64_t *samples,
                                  uint64_t *errors) {
  uint64_t errs = 0;
  int rc = 0;
  for (uint64_t i = 0; i < count; i++) {
    uint64_t expect = seq + i;
    uint64_t t0 = bench_now_ns();
    if ((rc = send1(ep, 8, seq + i)) != 0) break;
    if ((rc = recv1(ep, 8, &expect, 0, &errs)) != 0) break;
    uint64_t t1 = bench_now_ns();
    if (samples) samples[i] = t1 - t0;
  }
  *errors += errs;
  return rc;
}

static inline int bench_peer_pong(void *ep, bench_send1_fn send1,
                                  bench_recv1_fn recv1, uint64_t seq,
                                  uint64_t count, uint64_t *errors) {
  uint64_t errs = 0;
  int rc = 0;
  for (uint64_t i = 0; i < count; i++) {
    uint64_t expect = seq + i;
    if ((rc = recv1(ep, 8, &expect, 0, &errs)) != 0) break;
    if ((rc = send1(ep, 8, seq + i)) != 0) break;
  }
  *errors += errs;
  return rc;
}

/* ipc:// endpoints (ZeroMQ, nng): a socket file in the run's private
 * directory, named PREFIX-<pid>-<n> in t->region and registered for the
 * clean-up after a signal.  bench_ipc_setup() fails if the path does not fit
 * in a sockaddr_un. */
int bench_ipc_setup(bench_test *t, const char *prefix, char *err,
                    size_t errlen);
void bench_ipc_teardown(bench_test *t);
void bench_ipc_url(const bench_test *t, char *buf, size_t len);

#ifdef RILL_HAVE_ZMQ
/* A ZeroMQ socket of TYPE in a context of its own, as the zmq rows use it
 * (bench/t_zmq.c): the high-water marks set to libzmq's defaults (1000
 * messages each way) explicitly, 1 s send and receive timeouts,
 * ZMQ_LINGER LINGER_MS; bound to URL (BIND) or connected to it.  0, or -1
 * with ERR set and nothing left open.  The bridge suite's zmq-tcp row
 * (bench/w_net.c) uses it too. */
int bench_zmq_socket(const char *url, int type, int bind, int linger_ms, void **ctx,
                     void **sock, char *err, size_t len);
#endif

/* Defines PREFIX_send, PREFIX_recv, PREFIX_ping and PREFIX_pong, the
 * transport's functions, from its SEND1 and RECV1. */
#define BENCH_PEER_OPS(prefix, send1, recv1)                                   \
  static int prefix##_send(void *ep, size_t n, uint64_t seq, uint64_t count) { \
    return bench_peer_send(ep, send1, n, seq, count);                          \
  }                                                                            \
  static int prefix##_recv(void *ep, size_t n, uint64_t seq, uint64_t count,   \
                           uint64_t *errors) {                                 \
    return bench_peer_recv(ep, recv1, n, seq, count, errors);                  \
  }                                                                            \
  static int prefix##_ping(void *ep, uint64_t seq, uint64_t count,             \
                           uint64_t *samples, uint64_t *errors) {              \
    return bench_peer_ping(ep, send1, recv1, seq, count, samples, errors);     \
  }                                                                            \
  static int prefix##_pong(void *ep, uint64_t seq, uint64_t count,             \
                           uint64_t *errors) {                                 \
    return bench_peer_pong(ep, send1, recv1, seq, count, errors);              \
  }

#endif
