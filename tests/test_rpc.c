/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* Request/response (docs/rpc.md).
 *
 * - arguments: service names, lane counts, EFULL when every lane is taken;
 * - calls: echo, a computed answer, an error from the handler, an unknown
 *   method, a request in fragments, a response too large for its buffer,
 *   completion by callback;
 * - four client threads, each on its own lane, each keeping its lane's
 *   capacity of calls in flight, every id and payload checked, against a
 *   server of two workers and one of four (the workers share the lanes: a
 *   lane served by two at once would answer out of order, and races on its
 *   handles show under ThreadSanitizer);
 * - zero copy: requests built in the ring (at the tail of a reservation),
 *   read in place by the handler, answers built in the response ring and
 *   read in place by the callback; copies where messages need fragments;
 * - a call that times out is forgotten: its late response is dropped;
 * - a killed server: every call in flight fails with -RILL_ESRVDEAD
 *   ("the request/response server died"), nothing hangs; a stopped one
 *   with -RILL_ESRVLEFT; a killed client: the next client takes its lane
 *   and is served;
 * - an unknown method answers -RILL_ENOMETHOD; more workers than lanes is
 *   -RILL_EWORKERS;
 * - rill_rpc_wait_server(): a client connected before its server sleeps
 *   until a server joins its lane (no "ready" line needed), and times out
 *   without one;
 * - a server that restarts under a client that stays: every request is
 *   handled exactly once (the handler counts each payload), the calls sent
 *   while no server ran are answered by the next, a second server beside a
 *   live one is refused with -RILL_EBUSY and touches nothing, and a lossy
 *   consumer (`rill tail`) in a request channel's slot is passed over;
 *   after a kill, the next server takes over the dead server's slot (no
 *   request answered before its last flush runs again, and the dead slot
 *   does not hold the client back until it is evicted).
 */
#include "rill_rpc.h"
#include "testutil.h"

#include <pthread.h>

#define MS 1000000ull
#define SEC 1000000000ull

enum { M_ECHO = 1, M_SUM = 2, M_FAIL = 3, M_SLOW = 4, M_WHERE = 5 };

#define in_region tu_in_dir_mapping

static int handler(void *arg, uint16_t method, const void *req, size_t n, void *resp,
                   size_t cap, size_t *resp_n) {
  (void)arg;
  switch (method) {
  case M_ECHO:
    if (n > cap) return -RILL_EMSGSIZE;
    memcpy(resp, req, n);
    *resp_n = n;
    return 0;
  case M_SUM: {
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++) sum += ((const uint8_t *)req)[i];
    memcpy(resp, &sum, sizeof sum);
    *resp_n = sizeof sum;
    return 0;
  }
  case M_FAIL:
    return 42;
  case M_WHERE: /* where the server found the request and builds the answer */
    if (cap < 2) return -RILL_EMSGSIZE;
    ((uint8_t *)resp)[0] = (uint8_t)in_region(req);
    ((uint8_t *)resp)[1] = (uint8_t)in_region(resp);
    *resp_n = 2;
    return 0;
  case M_SLOW: { /* stands for slow work; the client's timeout is shorter */
    struct timespec ts = {0, 100 * (long)MS};
    nanosleep(&ts, NULL);
    *resp_n = 0;
    return 0;
  }
  }
  return -RILL_ENOMETHOD; /* unknown method */
}

static rill_region *svc_new(const char *region, uint32_t lanes) {
  rill_region_opts o = tu_opts(64 << 20);
  rill_region *r;
  CHECK_OK(rill_region_create(region, &o, &r));
  rill_rpc_opts so = {.lanes = lanes, .depth = 256, .mtu = 512, .max_msg = 2048};
  CHECK_OK(rill_rpc_service_create(r, "svc", &so));
  return r;
}

static void t_args(void) {
  rill_region *r = svc_new("args", 2);
  rill_rpc_opts so = {.lanes = 32};
  CHECK_RC(rill_rpc_service_create(r, "x", &so), -RILL_EINVAL);
  CHECK_RC(rill_rpc_service_create(r, "a-service-name-of-thirty-five-bytes", NULL), -RILL_EINVAL);
  CHECK_RC(rill_rpc_service_create(r, "svc", NULL), -RILL_EEXIST);
  /* made from the last lane to the first, svc.r.0 last: a service whose
   * svc.r.0 exists is whole (what a guest waits for) */
  rill_region_info ri;
  CHECK_OK(rill_region_info_get(r, &ri));
  rill_object_info oi;
  CHECK_OK(rill_region_object_get(r, ri.nobjects - 1, &oi));
  CHECK(!strcmp(oi.name, "svc.r.0"));
  CHECK_OK(rill_region_object_get(r, 0, &oi));
  CHECK(!strcmp(oi.name, "svc.q.1"));
  rill_rpc_client *c1, *c2, *c3;
  CHECK_RC(rill_rpc_connect(r, "none", &c1), -RILL_ENOENT);
  rill_rpc_server *s;
  CHECK_RC(rill_rpc_serve(r, "svc", 3, handler, NULL, &s), -RILL_EWORKERS); /* 2 lanes */
  CHECK_RC(rill_rpc_serve(r, "svc", 0, handler, NULL, &s), -RILL_EINVAL);
  CHECK(strstr(rill_strerror(-RILL_EWORKERS), "more server workers than the service has lanes"));
  CHECK(strstr(rill_strerror(-RILL_ESRVDEAD), "server died"));
  CHECK(strstr(rill_strerror(-RILL_ESRVLEFT), "server stopped"));
  CHECK(strstr(rill_strerror(-RILL_ENOMETHOD), "no such method"));
  CHECK_OK(rill_rpc_connect(r, "svc", &c1));
  CHECK_OK(rill_rpc_connect(r, "svc", &c2));
  CHECK_RC(rill_rpc_connect(r, "svc", &c3), -RILL_EFULL);
  CHECK_EQ(rill_rpc_capacity(c1), 256 / 4); /* max_msg is 4 fragments */
  rill_rpc_result res;
  CHECK_RC(rill_rpc_recv(c1, NULL, 0, &res, 0), -RILL_EAGAIN); /* nothing in flight */
  uint64_t id;
  CHECK_RC(rill_rpc_send(c1, RILL_RPC_METHOD_MAX + 1, "x", 1, &id), -RILL_EINVAL);
  static char big[4096];
  CHECK_RC(rill_rpc_send(c1, M_ECHO, big, sizeof big, &id), -RILL_EMSGSIZE);
  CHECK_OK(rill_rpc_close(c2));
  CHECK_OK(rill_rpc_connect(r, "svc", &c3)); /* the lane c2 left */
  rill_rpc_close(c1);
  rill_rpc_close(c3);
  rill_region_close(r);
}

typedef struct seen_calls {
  uint64_t ids[8];
  int n;
} seen_calls;

static void on_done(void *arg, const rill_rpc_result *res, const void *resp) {
  seen_calls *s = arg;
  CHECK(s->n < 8 && res->status == 0 && res->size == 1);
  CHECK_EQ(*(const uint8_t *)resp, (uint8_t)s->n);
  s->ids[s->n++] = res->id;
}

static void t_calls(void) {
  rill_region *r = svc_new("calls", 2);
  rill_rpc_server *s;
  CHECK_OK(rill_rpc_serve(r, "svc", 2, handler, NULL, &s));
  rill_rpc_client *c;
  CHECK_OK(rill_rpc_connect(r, "svc", &c));
  char out[2048];
  rill_rpc_result res;
  CHECK_OK(rill_rpc_call(c, M_ECHO, "hello", 5, out, sizeof out, &res, 5 * SEC));
  CHECK(res.status == 0 && res.size == 5 && res.method == M_ECHO && !memcmp(out, "hello", 5));
  uint8_t req[1500]; /* three fragments of 512 */
  uint64_t want = 0;
  for (size_t i = 0; i < sizeof req; i++) want += req[i] = (uint8_t)(i * 7);
  CHECK_OK(rill_rpc_call(c, M_SUM, req, sizeof req, out, sizeof out, &res, 5 * SEC));
  uint64_t sum;
  memcpy(&sum, out, sizeof sum);
  CHECK(res.status == 0 && res.size == 8 && sum == want);
  CHECK_OK(rill_rpc_call(c, M_ECHO, req, sizeof req, out, sizeof out, &res, 5 * SEC));
  CHECK(res.size == sizeof req && !memcmp(out, req, sizeof req));
  CHECK_OK(rill_rpc_call(c, M_FAIL, "x", 1, out, sizeof out, &res, 5 * SEC));
  CHECK(res.status == 42 && res.size == 0);
  CHECK_OK(rill_rpc_call(c, 999, "x", 1, out, sizeof out, &res, 5 * SEC));
  CHECK_EQ(res.status, -RILL_ENOMETHOD);
  /* a response larger than the buffer: kept, then received with room */
  CHECK_RC(rill_rpc_call(c, M_ECHO, req, 100, out, 10, &res, 5 * SEC), -RILL_EMSGSIZE);
  CHECK_EQ(res.size, 100);
  CHECK_OK(rill_rpc_recv(c, out, sizeof out, &res, 5 * SEC));
  CHECK(res.size == 100 && !memcmp(out, req, 100));
  /* completion by callback */
  seen_calls sc = {.n = 0};
  uint64_t ids[3];
  for (uint8_t i = 0; i < 3; i++) CHECK_OK(rill_rpc_send(c, M_ECHO, &i, 1, &ids[i]));
  uint64_t t0 = tu_ns();
  while (sc.n < 3) {
    int got = rill_rpc_poll(c, out, sizeof out, 8, on_done, &sc);
    CHECK(got >= 0);
    CHECKF(tu_ns() - t0 < 5 * SEC, "only %d of 3 completions", sc.n);
  }
  for (int i = 0; i < 3; i++) CHECK_EQ(sc.ids[i], ids[i]);
  /* a call that times out is forgotten; its late response is dropped */
  CHECK_RC(rill_rpc_call(c, M_SLOW, NULL, 0, out, sizeof out, &res, 10 * MS), -RILL_ETIMEDOUT);
  CHECK_OK(rill_rpc_call(c, M_ECHO, "again", 5, out, sizeof out, &res, 5 * SEC));
  CHECK(res.size == 5 && !memcmp(out, "again", 5));
  rill_rpc_close(c);
  CHECK_OK(rill_rpc_server_stop(s));
  rill_region_close(r);
}

/* ---- zero copy ------------------------------------------------------------ */

typedef struct where_seen {
  uint8_t req, resp, here; /* server's request, server's response, client's view */
  int n;
} where_seen;

static void on_where(void *arg, const rill_rpc_result *res, const void *resp) {
  where_seen *w = arg;
  CHECK(res->status == 0 && res->size == 2);
  w->req = ((const uint8_t *)resp)[0];
  w->resp = ((const uint8_t *)resp)[1];
  w->here = (uint8_t)in_region(resp);
  w->n++;
}

static where_seen where_call(rill_rpc_client *c, const void *req, size_t n) {
  uint64_t id;
  where_seen w = {0};
  CHECK_OK(rill_rpc_send(c, M_WHERE, req, n, &id));
  static uint8_t buf[2048];
  uint64_t t0 = tu_ns();
  while (!w.n) {
    CHECK(rill_rpc_poll(c, buf, sizeof buf, 1, on_where, &w) >= 0);
    CHECK(tu_ns() - t0 < 5 * SEC);
  }
  return w;
}

static void echo_seen(void *arg, const rill_rpc_result *res, const void *resp) {
  uint8_t *out = arg;
  CHECK(res->status == 0 && res->size == 64);
  memcpy(out, resp, 64);
}

/* A service whose messages fit one fragment runs without a copy: the
 * request is built in the request ring (at its tail, as FlatBuffers
 * builds), the handler reads it there and writes its answer into the
 * response ring, and the client's callback reads it there.  With larger
 * messages the server falls back to copies, and says so. */
static void t_zero_copy(void) {
  rill_region_opts o = tu_opts(16 << 20);
  rill_region *r;
  CHECK_OK(rill_region_create("zc", &o, &r));
  rill_rpc_opts so = {.lanes = 1, .depth = 64, .mtu = 512, .max_msg = 512};
  CHECK_OK(rill_rpc_service_create(r, "svc", &so));
  rill_rpc_server *s;
  CHECK_OK(rill_rpc_serve(r, "svc", 1, handler, NULL, &s));
  rill_rpc_client *c;
  CHECK_OK(rill_rpc_connect(r, "svc", &c));
  where_seen w = where_call(c, "x", 1);
  CHECK(w.req == 1 && w.resp == 1 && w.here == 1);
  /* reserve, build at the tail, commit from there */
  void *buf;
  uint64_t id;
  CHECK_RC(rill_rpc_reserve(c, 513, &buf), -RILL_EMSGSIZE);
  CHECK_RC(rill_rpc_commit(c, M_ECHO, "x", 1, &id), -RILL_EINVAL); /* nothing reserved */
  CHECK_OK(rill_rpc_reserve(c, 512, &buf));
  uint8_t *b = buf, out[64] = {0};
  CHECK(in_region(b));
  CHECK_RC(rill_rpc_commit(c, M_ECHO, b + 100, 64, &id), -RILL_EINVAL); /* not on 64 */
  CHECK_RC(rill_rpc_commit(c, RILL_RPC_METHOD_MAX + 1, b, 64, &id), -RILL_EINVAL);
  tu_fill(b + 448, 64, 9, 0);
  CHECK_OK(rill_rpc_commit(c, M_ECHO, b + 448, 64, &id));
  uint64_t t0 = tu_ns();
  while (rill_rpc_poll(c, NULL, 0, 1, echo_seen, out) == 0) CHECK(tu_ns() - t0 < 5 * SEC);
  CHECK_PAYLOAD(out, 64, 9, 0);
  /* an error answer built in place */
  rill_rpc_result res;
  CHECK_OK(rill_rpc_call(c, M_FAIL, "x", 1, out, sizeof out, &res, 5 * SEC));
  CHECK(res.status == 42 && res.size == 0);
  /* capacity holds for reservations too */
  for (uint32_t i = 0; i < rill_rpc_capacity(c); i++)
    CHECK_OK(rill_rpc_send(c, M_SLOW + 100, "x", 1, &id)); /* unknown: quick errors */
  CHECK_RC(rill_rpc_reserve(c, 8, &buf), -RILL_EAGAIN);
  for (uint32_t i = 0; i < rill_rpc_capacity(c); i++) {
    CHECK_OK(rill_rpc_recv(c, out, sizeof out, &res, 5 * SEC));
    CHECK_EQ(res.status, -RILL_ENOMETHOD);
  }
  rill_rpc_close(c);
  CHECK_OK(rill_rpc_server_stop(s));
  rill_region_close(r);

  /* responses of up to 4 fragments: the handler writes into a buffer */
  r = svc_new("zc2", 1);
  CHECK_OK(rill_rpc_serve(r, "svc", 1, handler, NULL, &s));
  CHECK_OK(rill_rpc_connect(r, "svc", &c));
  w = where_call(c, "x", 1);
  CHECK(w.req == 1 && w.resp == 0 && w.here == 1);
  static uint8_t big[1500]; /* a request in fragments is gathered */
  w = where_call(c, big, sizeof big);
  CHECK(w.req == 0 && w.resp == 0 && w.here == 1);
  rill_rpc_close(c);
  CHECK_OK(rill_rpc_server_stop(s));
  rill_region_close(r);
}

/* ---- many calls from several threads ------------------------------------- */

typedef struct caller {
  rill_region *r;
  uint64_t n, salt;
} caller;

/* Keeps the lane's capacity of calls in flight; call i echoes a payload
 * made from (salt, i), checked with its id when its response comes. */
static void *caller_main(void *arg) {
  caller *k = arg;
  rill_rpc_client *c;
  CHECK_OK(rill_rpc_connect(k->r, "svc", &c));
  uint64_t cap = rill_rpc_capacity(c), sent = 0, done = 0, first = 0;
  uint8_t req[600], out[2048];
  while (done < k->n) {
    while (sent < k->n && sent - done < cap) {
      size_t len = (size_t)((k->salt + sent) % sizeof req);
      for (size_t j = 0; j < len; j++) req[j] = (uint8_t)(k->salt + sent + j);
      uint64_t id;
      int rc = rill_rpc_send(c, M_ECHO, req, len, &id);
      if (rc == -RILL_EAGAIN) break;
      CHECK_OK(rc);
      if (sent == 0) first = id;
      CHECK_EQ(id, first + sent);
      sent++;
    }
    rill_rpc_result res;
    CHECK_OK(rill_rpc_recv(c, out, sizeof out, &res, 5 * SEC));
    uint64_t i = res.id - first;
    CHECK_EQ(i, done); /* in call order */
    size_t len = (size_t)((k->salt + i) % sizeof req);
    CHECK(res.status == 0 && res.size == len);
    for (size_t j = 0; j < len; j++) CHECK_EQ(out[j], (uint8_t)(k->salt + i + j));
    done++;
  }
  rill_rpc_close(c);
  return NULL;
}

static void t_threads(void) {
  rill_region *r = svc_new("threads", 4);
  for (uint32_t workers = 2; workers <= 4; workers += 2) {
    rill_rpc_server *s;
    CHECK_OK(rill_rpc_serve(r, "svc", workers, handler, NULL, &s));
    enum { T = 4 };
    pthread_t th[T];
    caller k[T];
    uint64_t t0 = tu_ns();
    for (int i = 0; i < T; i++) {
      k[i] = (caller){r, tu_scaled(50000, 2000), (uint64_t)i * 1000 + workers};
      CHECK(pthread_create(&th[i], NULL, caller_main, &k[i]) == 0);
    }
    for (int i = 0; i < T; i++) pthread_join(th[i], NULL);
    printf("rpc: %d threads x %" PRIu64 " calls, %u workers, in %.2f s\n", T, k[0].n, workers,
           (double)(tu_ns() - t0) / 1e9);
    CHECK_OK(rill_rpc_server_stop(s));
  }
  rill_region_close(r);
}

/* ---- faults --------------------------------------------------------------- */

typedef struct peer {
  _Atomic int ready;
} peer;

/* Serves until killed; says nothing: clients wait for it with
 * rill_rpc_wait_server(). */
static void server_main(void *arg) {
  (void)arg;
  rill_region *r = tu_region_open("faults");
  rill_rpc_server *s;
  CHECK_OK(rill_rpc_serve(r, "svc", 1, handler, NULL, &s));
  for (;;) tu_sleep_ms(1000);
}

/* A client that sends a call and dies without waiting for it. */
static void client_main(void *arg) {
  peer *x = arg;
  rill_region *r = tu_region_open("faults");
  rill_rpc_client *c;
  CHECK_OK(rill_rpc_connect(r, "svc", &c));
  uint64_t id;
  CHECK_OK(rill_rpc_send(c, M_ECHO, "bye", 3, &id));
  atomic_store(&x->ready, 2);
  tu_die();
}

static void t_faults(void) {
  rill_region *r = svc_new("faults", 1);
  peer *x = tu_shared(sizeof *x);
  /* connected before the server is there: the client waits for it */
  rill_rpc_client *c;
  CHECK_OK(rill_rpc_connect(r, "svc", &c));
  CHECK_RC(rill_rpc_wait_server(c, 0), -RILL_ETIMEDOUT);
  uint64_t t0 = tu_ns();
  CHECK_RC(rill_rpc_wait_server(c, 50 * MS), -RILL_ETIMEDOUT);
  CHECK(tu_ns() - t0 >= 50 * MS);
  tu_pid srv = tu_spawn("server", server_main, x);
  CHECK_OK(rill_rpc_wait_server(c, 30 * SEC));
  rill_rpc_close(c);
  /* a client dies with a call in flight; the next one gets its lane */
  tu_pid cl = tu_spawn("client", client_main, x);
  CHECK_EQ(tu_wait_end(cl), TU_KILLED);
  CHECK_OK(rill_rpc_connect(r, "svc", &c));
  CHECK_OK(rill_rpc_wait_server(c, 0)); /* served already */
  char out[64];
  rill_rpc_result res;
  CHECK_OK(rill_rpc_call(c, M_ECHO, "hi", 2, out, sizeof out, &res, 5 * SEC));
  CHECK(res.size == 2 && !memcmp(out, "hi", 2));
  /* the server dies; calls in flight then fail, nothing hangs */
  tu_kill(srv);
  CHECK_EQ(tu_wait_end(srv), TU_KILLED);
  uint64_t id;
  for (int i = 0; i < 3; i++) CHECK_OK(rill_rpc_send(c, M_ECHO, "x", 1, &id));
  t0 = tu_ns();
  int rc;
  rc = rill_rpc_recv(c, out, sizeof out, &res, 5 * SEC);
  CHECK_RC(rc, -RILL_ESRVDEAD); /* the server, not "the producer", died */
  CHECK(tu_ns() - t0 < 2 * SEC);
  CHECK_RC(rill_rpc_wait_server(c, 0), -RILL_ETIMEDOUT); /* a dead server does not serve */
  rill_rpc_close(c);
  rill_region_close(r);
}

/* A server that stops: the calls in flight fail with ESRVLEFT. */
static void t_stopped(void) {
  rill_region *r = svc_new("stopped", 1);
  rill_rpc_server *s;
  CHECK_OK(rill_rpc_serve(r, "svc", 1, handler, NULL, &s));
  rill_rpc_client *c;
  CHECK_OK(rill_rpc_connect(r, "svc", &c));
  CHECK_OK(rill_rpc_wait_server(c, 0));
  char out[64];
  rill_rpc_result res;
  CHECK_OK(rill_rpc_call(c, M_ECHO, "hi", 2, out, sizeof out, &res, 5 * SEC));
  CHECK_OK(rill_rpc_server_stop(s));
  uint64_t id;
  CHECK_OK(rill_rpc_send(c, M_ECHO, "x", 1, &id));
  CHECK_RC(rill_rpc_recv(c, out, sizeof out, &res, 5 * SEC), -RILL_ESRVLEFT);
  CHECK_RC(rill_rpc_wait_server(c, 0), -RILL_ETIMEDOUT);
  rill_rpc_close(c);
  rill_region_close(r);
}


/* ---- a server that restarts ---------------------------------------------- */

/* Request I (a uint32 payload, I < RESTART_MAX) is counted each time a
 * handler runs it, and echoed. */
#define RESTART_MAX 1024
typedef struct call_counts {
  _Atomic uint32_t n[RESTART_MAX];
} call_counts;

static int counting(void *arg, uint16_t method, const void *req, size_t n, void *resp,
                    size_t cap, size_t *resp_n) {
  call_counts *k = arg;
  uint32_t i;
  if (method != M_ECHO) return -RILL_ENOMETHOD;
  if (n != sizeof i || cap < sizeof i) return -RILL_EMSGSIZE;
  memcpy(&i, req, sizeof i);
  if (i >= RESTART_MAX) return -RILL_EINVAL;
  atomic_fetch_add(&k->n[i], 1);
  memcpy(resp, &i, sizeof i);
  *resp_n = sizeof i;
  return 0;
}

/* Requests [FROM, TO) as one call each, every answer checked. */
static void counted_calls(rill_rpc_client *c, uint32_t from, uint32_t to) {
  for (uint32_t i = from; i < to; i++) {
    uint32_t out = ~0u;
    rill_rpc_result res;
    CHECK_OK(rill_rpc_call(c, M_ECHO, &i, sizeof i, &out, sizeof out, &res, 5 * SEC));
    CHECK(res.status == 0 && res.size == sizeof out);
    CHECK_EQ(out, i);
  }
}

/* Sends requests [FROM, TO) without waiting (no server may run). */
static void counted_sends(rill_rpc_client *c, uint32_t from, uint32_t to, uint64_t *ids) {
  for (uint32_t i = from; i < to; i++) CHECK_OK(rill_rpc_send(c, M_ECHO, &i, sizeof i, &ids[i - from]));
}

/* Receives the answers of requests [FROM, TO), sent with IDS, in order. */
static void counted_recvs(rill_rpc_client *c, uint32_t from, uint32_t to, const uint64_t *ids) {
  for (uint32_t i = from; i < to; i++) {
    uint32_t out = ~0u;
    rill_rpc_result res;
    int rc = rill_rpc_recv(c, &out, sizeof out, &res, 5 * SEC);
    CHECKF(rc == 0, "answer of request %u (sent while no server ran): %s", i, rill_strerror(rc));
    CHECK(res.status == 0 && res.size == sizeof out);
    CHECK_EQ(res.id, ids[i - from]);
    CHECK_EQ(out, i);
  }
}

/* Every request in [0, N) was handled exactly once. */
static void counted_once(const call_counts *k, uint32_t n) {
  uint32_t again = 0, first = n, missing = 0;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t x = atomic_load(&k->n[i]);
    if (x > 1 && again++ == 0) first = i;
    missing += x == 0;
  }
  CHECKF(again == 0, "%u of %u requests handled more than once (the first: request %u, %u times)",
         again, n, first, first < n ? atomic_load(&k->n[first]) : 0);
  CHECKF(missing == 0, "%u of %u requests never handled", missing, n);
  for (uint32_t i = n; i < RESTART_MAX; i++) CHECK_EQ(atomic_load(&k->n[i]), 0);
}

/* The mode of each slot of channel NAME (0: free) and how many are in use. */
static uint32_t slot_modes(rill_region *r, const char *name, uint32_t mode[2]) {
  rill_channel_stats st;
  CHECK_OK(rill_channel_stats_get(r, name, &st));
  CHECK_EQ(st.max_consumers, 2);
  for (uint32_t i = 0; i < 2; i++) {
    rill_consumer_stats cs;
    CHECK_OK(rill_consumer_stats_get(r, name, i, &cs));
    mode[i] = cs.mode;
  }
  return st.nconsumers;
}

/* A server stops and another starts while the client keeps its lane: the
 * next server goes on from where the last one left the lane, so nothing
 * the first answered is handled again and what was sent in between is
 * answered.  A lossy consumer in a request channel (a `rill tail`) holds a
 * slot the servers pass over, live or gone. */
static void t_restart(void) {
  rill_region *r = svc_new("restart", 2);
  static call_counts k;
  enum { N = 100, M = 40 };
  static uint64_t ids[M];
  uint32_t mode[2];
  /* a tail on the lane before any server: it has slot 0 */
  rill_consumer *tail;
  CHECK_OK(rill_consumer_join(r, "svc.q.0", RILL_LOSSY, &tail));
  rill_rpc_server *s;
  CHECK_OK(rill_rpc_serve(r, "svc", 2, counting, &k, &s));
  rill_rpc_client *c;
  CHECK_OK(rill_rpc_connect(r, "svc", &c));
  CHECK_OK(rill_rpc_wait_server(c, 5 * SEC));
  counted_calls(c, 0, N);
  CHECK_EQ(slot_modes(r, "svc.q.0", mode), 2);
  CHECK(mode[0] == RILL_LOSSY && mode[1] == RILL_RELIABLE);

  /* stopped; calls sent meanwhile; the tail leaves; the next server
   * rejoins the last one's slot (slot 0 is the tail's, and lossy) */
  CHECK_OK(rill_rpc_server_stop(s));
  counted_sends(c, N, N + M, ids);
  CHECK_OK(rill_consumer_leave(tail));
  CHECK_OK(rill_rpc_serve(r, "svc", 1, counting, &k, &s));
  counted_recvs(c, N, N + M, ids);
  counted_once(&k, N + M);
  CHECK_EQ(slot_modes(r, "svc.q.0", mode), 1);
  CHECK(mode[0] == 0 && mode[1] == RILL_RELIABLE); /* the tail's slot is free */

  /* a second server beside a live one is refused and takes no slot */
  rill_rpc_server *s2;
  CHECK_RC(rill_rpc_serve(r, "svc", 1, counting, &k, &s2), -RILL_EBUSY);
  CHECK_EQ(slot_modes(r, "svc.q.0", mode), 1);
  CHECK(mode[0] == 0 && mode[1] == RILL_RELIABLE);
  CHECK_EQ(slot_modes(r, "svc.q.1", mode), 1);
  counted_calls(c, N + M, N + M + 10); /* still served */

  /* again with the tail back in slot 0, live: passed over */
  CHECK_OK(rill_consumer_join(r, "svc.q.0", RILL_LOSSY, &tail));
  CHECK_OK(rill_rpc_server_stop(s));
  uint32_t at = N + M + 10;
  counted_sends(c, at, at + M, ids);
  CHECK_OK(rill_rpc_serve(r, "svc", 2, counting, &k, &s));
  counted_recvs(c, at, at + M, ids);
  counted_calls(c, at + M, at + M + 10);
  CHECK_EQ(slot_modes(r, "svc.q.0", mode), 2);
  CHECK(mode[0] == RILL_LOSSY && mode[1] == RILL_RELIABLE);
  CHECK_OK(rill_rpc_server_stop(s));
  counted_once(&k, at + M + 10);
  rill_consumer_leave(tail);
  rill_rpc_close(c);
  rill_region_close(r);
}

/* Serves with the counting handler (its counts in tu_shared() memory)
 * until killed. */
static void counting_server_main(void *arg) {
  rill_region *r = tu_region_open("killed");
  rill_rpc_server *s;
  CHECK_OK(rill_rpc_serve(r, "svc", 1, counting, arg, &s));
  for (;;) tu_sleep_ms(1000);
}

/* A server killed, and another started while its client keeps its lane:
 * the next server takes over the dead server's slot from its last flushed
 * position (after its last batch: no request answered before runs again)
 * and answers what was sent in between; the dead slot no longer holds the
 * client back, so it is not waited for until it is evicted. */
static void t_restart_killed(void) {
  rill_region *r = svc_new("killed", 1);
  call_counts *k = tu_shared(sizeof *k);
  enum { N = 100, M = 40, MORE = 600 };
  static uint64_t ids[M];
  tu_pid srv = tu_spawn("counting server", counting_server_main, k);
  rill_rpc_client *c;
  CHECK_OK(rill_rpc_connect(r, "svc", &c));
  CHECK_OK(rill_rpc_wait_server(c, 30 * SEC));
  counted_calls(c, 0, N);
  /* the server flushes its position after each batch it serves: wait for
   * the last one's to land before the kill */
  rill_channel_stats st;
  CHECK_OK(rill_channel_stats_get(r, "svc.q.0", &st));
  rill_consumer_stats cs;
  uint64_t t0 = tu_ns();
  for (;;) {
    CHECK_OK(rill_consumer_stats_get(r, "svc.q.0", 0, &cs));
    if (cs.seq == st.seq0 + N) break;
    CHECKF(tu_ns() - t0 < 5 * SEC, "the server's position: %" PRIu64 " of %" PRIu64,
           cs.seq - st.seq0, (uint64_t)N);
    tu_sleep_ms(1);
  }
  tu_kill(srv);
  CHECK_EQ(tu_wait_end(srv), TU_KILLED);
  counted_sends(c, N, N + M, ids);
  srv = tu_spawn("counting server", counting_server_main, k);
  CHECK_OK(rill_rpc_wait_server(c, 30 * SEC));
  t0 = tu_ns();
  for (;;) { /* its response producer too */
    CHECK_OK(rill_channel_stats_get(r, "svc.r.0", &st));
    if (st.producer_liveness == RILL_PEER_ALIVE) break;
    CHECK(tu_ns() - t0 < 30 * SEC);
    tu_sleep_ms(1);
  }
  counted_recvs(c, N, N + M, ids);
  counted_once(k, N + M);
  /* the dead server's slot is the new server's: one slot in use */
  CHECK_OK(rill_channel_stats_get(r, "svc.q.0", &st));
  CHECK_OK(rill_consumer_stats_get(r, "svc.q.0", 0, &cs));
  CHECKF(st.nconsumers == 1 && cs.pid == (uint32_t)srv,
         "%u slots in use, slot 0 held by pid %u (the new server: %u)", st.nconsumers, cs.pid,
         (uint32_t)srv);
  /* more than a ring's worth: nothing waits for an eviction */
  counted_calls(c, N + M, N + M + MORE);
  CHECK_OK(rill_channel_stats_get(r, "svc.q.0", &st));
  CHECK_EQ(st.evictions, 0);
  counted_once(k, N + M + MORE);
  tu_kill(srv);
  CHECK_EQ(tu_wait_end(srv), TU_KILLED);
  rill_rpc_close(c);
  rill_region_close(r);
}

static const tu_role roles[] = {TU_ROLE(server_main), TU_ROLE(client_main),
                                   TU_ROLE(counting_server_main), {0}};

int main(int argc, char **argv) {
  tu_start_roles("test_rpc", 240, argc, argv, roles);
  t_args();
  t_calls();
  t_zero_copy();
  t_threads();
  t_faults();
  t_stopped();
  t_restart();
  t_restart_killed();
  return tu_pass("request/response: calls, zero copy, threads, faults, waiting for the server, "
                 "restarts");
}
