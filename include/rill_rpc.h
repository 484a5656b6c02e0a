/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill request/response (docs/rpc.md): a service of lanes of rill
 * channels, a server that answers on worker threads, clients that call.
 * Everything in rill.h holds here too: the error rule, the threading rule,
 * the ABI rule for structs. */
#ifndef RILL_RPC_H
#define RILL_RPC_H

#include "rill.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

/* A service S is LANES lanes; lane K is two reliable channels, S.q.K
 * (requests, client -> server) and S.r.K (responses, server -> client), each
 * with one writer.  The request id is the descriptor's sig, the method its
 * ctl application bits; an error response has RILL_CTL_ERR and a 4-byte
 * payload: the error code (int32, a negative RILL_E* code or the handler's
 * own). */

#define RILL_RPC_MAX_LANES 31   /* 62 objects in a region, 2 per lane */
#define RILL_RPC_NAME_MAX 34    /* "S.q.30" fits in RILL_NAME_MAX */
#define RILL_RPC_METHOD_MAX 8191 /* 13 application bits of ctl */

typedef struct rill_rpc_opts {
  uint32_t lanes;   /* 0 = 4, at most RILL_RPC_MAX_LANES               */
  uint32_t depth;   /* of each channel; 0 = 1024                        */
  uint32_t mtu;     /* 0 = 1024                                         */
  uint32_t flags;   /* none defined yet: must be 0                      */
  uint64_t max_msg; /* largest request or response; 0 = 4 * mtu         */
  uint64_t reserved[5]; /* must be 0                                    */
} rill_rpc_opts; /* 64 bytes */

/* Creates service NAME's channels in R: lane LANES-1 first, lane 0 last
 * and NAME.r.0 the very last, so that a service whose NAME.r.0 exists is
 * whole (rill_channel_wait() on it waits for a service; while it is being
 * made, lane 0 is missing and connect and serve say ENOENT).  Errors:
 * EINVAL, EEXIST, ENOSPC. */
int rill_rpc_service_create(rill_region *r, const char *name, const rill_rpc_opts *opts);

/* A handler answers one request: METHOD, REQ of N bytes.  It writes up to
 * CAP bytes of response into RESP and stores their count in *RESP_N, and
 * returns 0; or returns an error code (nonzero), sent back to the caller
 * as the call's status: -RILL_ENOMETHOD for a method it does not serve
 * (the library does not know the methods: the handler tells), its own
 * codes for the rest.  It runs on a worker thread.  The CAP bytes at RESP
 * are always initialised memory (zeroed when the worker starts, or holding
 * earlier responses), never uninitialised heap: a binding may hand them to
 * code that reads before it writes. */
typedef int (*rill_rpc_handler)(void *arg, uint16_t method, const void *req, size_t n,
                                void *resp, size_t cap, size_t *resp_n);

typedef struct rill_rpc_server rill_rpc_server;

/* Serves service NAME of R with WORKERS threads (1..lanes), which share
 * the lanes: whichever worker runs serves whichever lane has requests, one
 * worker at a time per lane, and at most as many wait on the lanes as the
 * process may use CPUs (docs/rpc.md, "Server workers").  It resumes each
 * lane where the lane's last server left it (it rejoins that server's
 * request slot): what that server answered before it stopped is not
 * answered again, what clients sent while no server ran is, and after a
 * crash at most the batch then in progress is answered again.  Errors: EINVAL
 * (WORKERS 0, a bad name), ENOENT (no such service), EWORKERS (more
 * workers than the service has lanes: more would never help), EBUSY
 * (another server holds a lane), ENOMEM, EIO. */
int rill_rpc_serve(rill_region *r, const char *name, uint32_t workers,
                   rill_rpc_handler fn, void *arg, rill_rpc_server **out);

/* Stops the workers (each within 50 ms), leaves the channels, frees.
 * Accepts NULL. */
int rill_rpc_server_stop(rill_rpc_server *s);

typedef struct rill_rpc_client rill_rpc_client;

/* Connects to service NAME: takes the first free lane.  One client is used
 * by one thread at a time; a thread each for more.  Errors: EINVAL, ENOENT,
 * EFULL (every lane is taken), ENOMEM. */
int rill_rpc_connect(rill_region *r, const char *name, rill_rpc_client **out);
int rill_rpc_close(rill_rpc_client *c); /* accepts NULL */

/* Waits up to TIMEOUT_NS (RILL_FOREVER: no limit; 0: looks once) until a
 * server serves the client's lane: a live server worker has joined its
 * request channel, so a call sent now will be answered.  For a host that
 * starts its guest itself (rather than reading a "ready" line from it).
 * It sleeps as rill_producer_wait_consumers() does.  Returns 0,
 * -RILL_ETIMEDOUT, -RILL_EINVAL.  Since 0.3. */
int rill_rpc_wait_server(rill_rpc_client *c, uint64_t timeout_ns);

/* Calls in flight a client allows (the lane's capacity for responses). */
uint32_t rill_rpc_capacity(const rill_rpc_client *c);

typedef struct rill_rpc_result {
  uint64_t id;
  uint16_t method;
  uint16_t reserved0;
  int32_t status; /* 0, or the error code of an error response */
  uint64_t size;  /* response bytes (0 for an error)            */
  uint64_t reserved[3];
} rill_rpc_result; /* 48 bytes */

/* Sends a request and returns its id in *ID without waiting for its
 * response (it may wait, at most 2 s, for room in the request ring while
 * the server catches up: -RILL_EAGAIN then).  Returns 0,
 * -RILL_EAGAIN (capacity calls are in flight: receive some), -RILL_EMSGSIZE,
 * -RILL_EINVAL (method out of range). */
int rill_rpc_send(rill_rpc_client *c, uint16_t method, const void *req, size_t n,
                  uint64_t *id);

/* Zero-copy send, in two steps: rill_rpc_reserve() points *BUF at N bytes
 * (N <= the service's mtu) of the request ring, where the caller builds
 * the request; rill_rpc_commit() sends the N bytes at AT as a call of
 * METHOD and returns its id.  AT is BUF, or a point a multiple of 64 bytes
 * into it for a request built backwards from the end of the buffer
 * (FlatBuffers); AT + N must lie within the reserved N bytes.  Reserve
 * returns 0, -RILL_EAGAIN (capacity calls in flight, or no room in the
 * ring within 2 s), -RILL_EMSGSIZE (N > mtu); commit returns 0,
 * -RILL_EAGAIN, -RILL_EINVAL (nothing reserved, AT or N out of bounds,
 * method out of range).  A rill_rpc_send() in between drops the
 * reservation. */
int rill_rpc_reserve(rill_rpc_client *c, size_t n, void **buf);
int rill_rpc_commit(rill_rpc_client *c, uint16_t method, const void *at, size_t n,
                    uint64_t *id);

/* Receives the next response of a call in flight into RESP (CAP bytes),
 * waiting up to TIMEOUT_NS.  Returns 0 with *RES filled (res->status says
 * whether the call failed, e.g. -RILL_ENOMETHOD), -RILL_ETIMEDOUT,
 * -RILL_EAGAIN (nothing in flight), -RILL_EMSGSIZE (res->size set; call
 * again with more room), or -RILL_ESRVDEAD / -RILL_ESRVLEFT: the server
 * died or stopped, and no call in flight is answered until a server serves
 * the lane again (which answers them: the client may keep its lane).
 * (Before 0.3 these two were -RILL_EDEAD and -RILL_ECLOSED, the codes of
 * the response channel's producer.) */
int rill_rpc_recv(rill_rpc_client *c, void *resp, size_t cap, rill_rpc_result *res,
                  uint64_t timeout_ns);

/* Completion by callback: receives, without waiting, up to MAX responses
 * that have come, calling FN for each with its bytes (valid during the
 * call).  Zero-copy: a response in one fragment is read where it lies in
 * the ring; one in several is gathered into BUF (CAP bytes, which should
 * hold the service's largest response; NULL and 0 will do when every
 * response fits the mtu).  Returns how many (>= 0), or an error as
 * rill_rpc_recv(). */
typedef void (*rill_rpc_done_fn)(void *arg, const rill_rpc_result *res, const void *resp);
int rill_rpc_poll(rill_rpc_client *c, void *buf, size_t cap, uint32_t max,
                  rill_rpc_done_fn fn, void *arg);

/* One call, waiting up to TIMEOUT_NS for its response (no other call may be
 * in flight: -RILL_EBUSY).  Returns 0 with *RES filled, or as send/recv. A
 * call that timed out is forgotten: its response is dropped if it comes. */
int rill_rpc_call(rill_rpc_client *c, uint16_t method, const void *req, size_t n,
                  void *resp, size_t cap, rill_rpc_result *res, uint64_t timeout_ns);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif
#endif
