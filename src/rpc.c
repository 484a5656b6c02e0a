/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* Request/response over lanes of rill channels (docs/rpc.md). */
#include "internal.h"
#include "rill_rpc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RPC_BATCH 64             /* requests a worker takes from a lane per pass */
#define RPC_NAP_NS 50000000ull   /* a worker looks at its stop flag this often */
#define RPC_SEND_NS 2000000000ull /* a response waits this long for room */

static int lane_name(char *out, const char *svc, char dir, uint32_t k) {
  int n = snprintf(out, RILL_NAME_MAX + 1, "%s.%c.%u", svc, dir, k);
  return n < 0 || n > RILL_NAME_MAX ? -RILL_EINVAL : 0;
}

static int svc_name_ok(const char *name) {
  return rill__name_ok(name) && strlen(name) <= RILL_RPC_NAME_MAX;
}

static int opts_norm(const rill_rpc_opts *in, rill_rpc_opts *o) {
  *o = in ? *in : (rill_rpc_opts){0};
  if (o->flags || !rill__zeroed(o->reserved, sizeof o->reserved)) return -RILL_EINVAL;
  if (!o->lanes) o->lanes = 4;
  if (!o->depth) o->depth = 1024;
  if (!o->mtu) o->mtu = 1024;
  if (!o->max_msg) o->max_msg = 4ull * o->mtu;
  return o->lanes > RILL_RPC_MAX_LANES ? -RILL_EINVAL : 0;
}

int rill_rpc_service_create(rill_region *r, const char *name, const rill_rpc_opts *opts) {
  rill_rpc_opts o;
  if (!r || !svc_name_ok(name) || opts_norm(opts, &o)) return -RILL_EINVAL;
  /* two consumer slots: a client that reconnects while its dead
   * predecessor's slot is still held needs a second */
  rill_channel_opts co = {.depth = o.depth, .mtu = o.mtu, .max_consumers = 2,
                          .max_msg = o.max_msg};
  if (!rill_channel_footprint(&co)) return -RILL_EINVAL;
  /* None of its channels may exist: nothing is made then. */
  for (uint32_t k = 0; k < o.lanes; k++) {
    for (int d = 0; d < 2; d++) {
      char ch[RILL_NAME_MAX + 1];
      rill_chan_info ci;
      int rc = lane_name(ch, name, d ? 'r' : 'q', k);
      if (!rc) rc = rill__chan_find(r, ch, &ci);
      if (rc != -RILL_ENOENT) return rc ? rc : -RILL_EEXIST;
    }
  }
  /* Lane 0 last, its response channel the very last: a service whose
   * NAME.r.0 exists is whole, and lane_count() sees none of it before. */
  for (uint32_t k = o.lanes; k-- > 0;) {
    for (int d = 0; d < 2; d++) {
      char ch[RILL_NAME_MAX + 1];
      int rc = lane_name(ch, name, d ? 'r' : 'q', k);
      if (rc || (rc = rill_channel_create(r, ch, &co))) return rc;
    }
  }
  return 0;
}

/* Lanes of service NAME: how many request channels exist, 0..max. */
static uint32_t lane_count(rill_region *r, const char *name) {
  uint32_t k = 0;
  for (; k < RILL_RPC_MAX_LANES; k++) {
    char ch[RILL_NAME_MAX + 1];
    rill_chan_info ci;
    if (lane_name(ch, name, 'q', k) || rill__chan_find(r, ch, &ci)) break;
  }
  return k;
}

/* ---- server ----------------------------------------------------------- */

typedef struct rpc_worker {
  rill_rpc_server *s;
  pthread_t thread;
  uint32_t n;                 /* lanes it owns */
  rill_consumer *q[RILL_RPC_MAX_LANES];
  rill_producer *r[RILL_RPC_MAX_LANES];
  uint64_t resp_max[RILL_RPC_MAX_LANES]; /* largest response of each lane */
  uint8_t in_ring[RILL_RPC_MAX_LANES];   /* 1: its responses fit one fragment */
  uint8_t *req, *resp;        /* max_msg bytes each */
  size_t req_cap, resp_cap;
  int started;
} rpc_worker;

struct rill_rpc_server {
  rill_rpc_handler fn;
  void *arg;
  _Atomic int stop;
  uint32_t nworkers;
  rpc_worker *w;
};

static void send_error(rpc_worker *w, uint32_t i, uint64_t id, uint16_t method, int32_t code) {
  (void)rill__send_wait_ctl(w->r[i], &code, sizeof code, id,
                            (uint16_t)(RILL_CTL_ERR | RILL_CTL_USER(method)), RPC_SEND_NS);
}

/* Answers up to RPC_BATCH requests of lane I.  Returns how many.  Zero
 * copy where it can: a request in one fragment is handed to the handler
 * where it lies in the ring, and on a lane whose responses fit one
 * fragment the handler writes its response straight into the reserved
 * space of the response ring. */
static int serve_lane(rpc_worker *w, uint32_t i) {
  int done = 0;
  for (; done < RPC_BATCH; done++) {
    rill_meta m;
    const void *req;
    int64_t n = rill_recv_view(w->q[i], w->req, w->req_cap, &m, &req);
    if (n == -RILL_EAGAIN) break;
    if (n < 0) continue; /* cannot happen with a max_msg buffer; skip */
    uint16_t method = (uint16_t)(m.ctl >> RILL_CTL_USER_SHIFT);
    size_t cap = w->resp_max[i], out = 0;
    void *resp = w->resp;
    /* A client keeps at most its capacity of calls in flight, so there is
     * room; the wait only covers a client that died with its ring full
     * (until it is evicted).  Without room, the response is copied later. */
    int zc = w->in_ring[i] &&
             rill_reserve_wait(w->r[i], cap < sizeof(int32_t) ? sizeof(int32_t) : cap, &resp,
                               RPC_SEND_NS) == 0;
    if (!zc) resp = w->resp;
    int32_t rc = w->s->fn(w->s->arg, method, req, (size_t)n, resp, cap, &out);
    if (rc == 0 && out > cap) rc = -RILL_EMSGSIZE;
    uint16_t ctl = (uint16_t)(RILL_CTL_MSG | RILL_CTL_USER(method));
    if (rc && zc) {
      memcpy(resp, &rc, sizeof rc);
      (void)rill_commit(w->r[i], sizeof rc, m.sig, (uint16_t)(ctl | RILL_CTL_ERR));
    } else if (rc) {
      send_error(w, i, m.sig, method, rc);
    } else if (zc) {
      (void)rill_commit(w->r[i], out, m.sig, ctl);
    } else {
      (void)rill__send_wait_ctl(w->r[i], w->resp, out, m.sig, RILL_CTL_USER(method), RPC_SEND_NS);
    }
  }
  return done;
}

static void *worker_main(void *arg) {
  rpc_worker *w = arg;
  while (!atomic_load_explicit(&w->s->stop, memory_order_acquire)) {
    int busy = 0;
    for (uint32_t i = 0; i < w->n; i++) busy += serve_lane(w, i);
    if (busy) continue;
    (void)rill_wait_any(w->q, w->n, RPC_NAP_NS);
  }
  return NULL;
}

static void worker_free(rpc_worker *w) {
  for (uint32_t i = 0; i < w->n; i++) {
    rill_consumer_leave(w->q[i]);
    rill_producer_leave(w->r[i]);
  }
  free(w->req);
  free(w->resp);
}

int rill_rpc_server_stop(rill_rpc_server *s) {
  if (!s) return 0;
  atomic_store_explicit(&s->stop, 1, memory_order_release);
  for (uint32_t i = 0; i < s->nworkers; i++)
    if (s->w[i].started) pthread_join(s->w[i].thread, NULL);
  for (uint32_t i = 0; i < s->nworkers; i++) worker_free(&s->w[i]);
  free(s->w);
  free(s);
  return 0;
}

int rill_rpc_serve(rill_region *r, const char *name, uint32_t workers,
                   rill_rpc_handler fn, void *arg, rill_rpc_server **out) {
  if (!r || !fn || !out || !svc_name_ok(name)) return -RILL_EINVAL;
  uint32_t lanes = lane_count(r, name);
  if (!lanes) return -RILL_ENOENT;
  if (!workers) return -RILL_EINVAL;
  if (workers > lanes) return -RILL_EWORKERS; /* a worker would have no lane */
  rill_rpc_server *s = calloc(1, sizeof *s);
  if (!s || !(s->w = calloc(workers, sizeof *s->w))) {
    free(s);
    return -RILL_ENOMEM;
  }
  s->fn = fn;
  s->arg = arg;
  s->nworkers = workers;
  int rc = 0;
  for (uint32_t k = 0; k < lanes && !rc; k++) {
    rpc_worker *w = &s->w[k % workers];
    char q[RILL_NAME_MAX + 1], rr[RILL_NAME_MAX + 1];
    w->s = s;
    if ((rc = lane_name(q, name, 'q', k)) || (rc = lane_name(rr, name, 'r', k))) break;
    if ((rc = rill_consumer_join(r, q, RILL_RELIABLE, &w->q[w->n]))) break;
    if ((rc = rill_producer_join(r, rr, &w->r[w->n]))) {
      rill_consumer_leave(w->q[w->n]);
      break;
    }
    uint32_t j = w->n++;
    rill_channel_stats st;
    if (!(rc = rill_channel_stats_get(r, q, &st)) && st.max_msg > w->req_cap) w->req_cap = st.max_msg;
    if (!rc && !(rc = rill_channel_stats_get(r, rr, &st))) {
      if (st.max_msg > w->resp_cap) w->resp_cap = st.max_msg;
      w->resp_max[j] = st.max_msg;
      w->in_ring[j] = st.max_msg <= st.mtu && st.mtu >= sizeof(int32_t);
    }
  }
  for (uint32_t i = 0; i < workers && !rc; i++) {
    rpc_worker *w = &s->w[i];
    if (!(w->req = malloc(w->req_cap)) || !(w->resp = malloc(w->resp_cap))) rc = -RILL_ENOMEM;
  }
  for (uint32_t i = 0; i < workers && !rc; i++) {
    if (pthread_create(&s->w[i].thread, NULL, worker_main, &s->w[i])) rc = -RILL_EIO;
    else s->w[i].started = 1;
  }
  if (rc) {
    rill_rpc_server_stop(s);
    return rc;
  }
  *out = s;
  return 0;
}

/* ---- client ----------------------------------------------------------- */

struct rill_rpc_client {
  rill_producer *p;   /* the lane's requests */
  rill_consumer *c;   /* its responses */
  uint64_t next;      /* id of the next call */
  uint64_t head;      /* oldest id still in flight; next - head in flight */
  uint32_t cap;       /* calls in flight at most */
  uint64_t max_msg;
  uint8_t *scratch;   /* drops a stale response larger than the caller's buffer */
};

int rill_rpc_connect(rill_region *r, const char *name, rill_rpc_client **out) {
  if (!r || !out || !svc_name_ok(name)) return -RILL_EINVAL;
  uint32_t lanes = lane_count(r, name);
  if (!lanes) return -RILL_ENOENT;
  rill_rpc_client *c = calloc(1, sizeof *c);
  if (!c) return -RILL_ENOMEM;
  int rc = -RILL_EFULL;
  for (uint32_t k = 0; k < lanes; k++) {
    char q[RILL_NAME_MAX + 1], rr[RILL_NAME_MAX + 1];
    if ((rc = lane_name(q, name, 'q', k)) || (rc = lane_name(rr, name, 'r', k))) break;
    rc = rill_producer_join(r, q, &c->p); /* the lane's lock */
    if (rc == -RILL_EBUSY) { rc = -RILL_EFULL; continue; }
    if (rc) break;
    if ((rc = rill_consumer_join(r, rr, RILL_RELIABLE, &c->c))) {
      rill_producer_leave(c->p);
      break;
    }
    rill_channel_stats st;
    if ((rc = rill_channel_stats_get(r, rr, &st))) {
      rill_rpc_close(c);
      return rc;
    }
    /* responses never fill the ring: at most depth / (fragments of the
     * largest response) calls in flight */
    c->cap = (uint32_t)(st.depth / rill__frags(st.max_msg, st.mtu));
    c->max_msg = st.max_msg;
    /* ids start at random: a response an earlier client left in the lane
     * never matches one of ours */
    c->next = c->head = rill__random();
    *out = c;
    return 0;
  }
  free(c);
  return rc;
}

int rill_rpc_close(rill_rpc_client *c) {
  if (!c) return 0;
  rill_producer_leave(c->p);
  rill_consumer_leave(c->c);
  free(c->scratch);
  free(c);
  return 0;
}

uint32_t rill_rpc_capacity(const rill_rpc_client *c) { return c ? c->cap : 0; }

int rill_rpc_wait_server(rill_rpc_client *c, uint64_t timeout_ns) {
  if (!c) return -RILL_EINVAL;
  /* The request channel's consumers are the server's workers. */
  int rc = rill_producer_wait_consumers(c->p, 1, timeout_ns);
  return rc < 0 ? rc : 0;
}

int rill_rpc_send(rill_rpc_client *c, uint16_t method, const void *req, size_t n,
                  uint64_t *id) {
  if (!c || !id || method > RILL_RPC_METHOD_MAX || (!req && n)) return -RILL_EINVAL;
  if (c->next - c->head >= c->cap) return -RILL_EAGAIN;
  if (n > c->max_msg) return -RILL_EMSGSIZE;
  int rc = rill__send_wait_ctl(c->p, req, n, c->next, RILL_CTL_USER(method), RPC_SEND_NS);
  if (rc) return rc == -RILL_ETIMEDOUT ? -RILL_EAGAIN : rc;
  *id = c->next++;
  return 0;
}

int rill_rpc_reserve(rill_rpc_client *c, size_t n, void **buf) {
  if (!c || !buf) return -RILL_EINVAL;
  if (c->next - c->head >= c->cap) return -RILL_EAGAIN;
  int rc = rill_reserve_wait(c->p, n, buf, RPC_SEND_NS);
  return rc == -RILL_ETIMEDOUT ? -RILL_EAGAIN : rc;
}

int rill_rpc_commit(rill_rpc_client *c, uint16_t method, const void *at, size_t n,
                    uint64_t *id) {
  if (!c || !id || method > RILL_RPC_METHOD_MAX) return -RILL_EINVAL;
  if (c->next - c->head >= c->cap) return -RILL_EAGAIN;
  int rc = rill_commit_at(c->p, at, n, c->next, (uint16_t)(RILL_CTL_MSG | RILL_CTL_USER(method)));
  if (rc) return rc;
  *id = c->next++;
  return 0;
}

/* The next completion; with DATA, a response in one fragment is left in
 * the ring and *DATA points at it (else at RESP). */
static int rpc_recv(rill_rpc_client *c, void *resp, size_t cap, rill_rpc_result *res,
                    uint64_t timeout_ns, const void **data) {
  for (;;) {
    if (c->next == c->head) return -RILL_EAGAIN;
    rill_meta m = {0};
    const void *at = resp;
    int64_t n = data ? rill__recv_view_wait(c->c, resp, cap, &m, &at, timeout_ns)
                     : rill_recv_wait(c->c, resp, cap, &m, timeout_ns);
    /* responses come in the order of the calls (one worker per lane);
     * others were left by an earlier client of the lane */
    int stale = (int64_t)(m.sig - c->head) < 0 || (int64_t)(m.sig - c->next) >= 0;
    if (n == -RILL_EMSGSIZE && stale) { /* drop it whatever its size */
      if (!c->scratch && !(c->scratch = malloc(c->max_msg))) return -RILL_ENOMEM;
      (void)rill_recv(c->c, c->scratch, c->max_msg, &m);
      continue;
    }
    if (n == -RILL_EMSGSIZE) {
      res->size = m.sz;
      return (int)n;
    }
    /* The response channel's producer is the server: name it. */
    if (n == -RILL_EDEAD) return -RILL_ESRVDEAD;
    if (n == -RILL_ECLOSED) return -RILL_ESRVLEFT;
    if (n < 0) return (int)n;
    if (stale) continue;
    c->head = m.sig + 1;
    *res = (rill_rpc_result){.id = m.sig, .method = (uint16_t)(m.ctl >> RILL_CTL_USER_SHIFT),
                             .size = (uint64_t)n};
    if (data) *data = at;
    if (m.ctl & RILL_CTL_ERR) {
      int32_t code = -RILL_EIO;
      if (n == sizeof code) memcpy(&code, at, sizeof code);
      res->status = code ? code : -RILL_EIO;
      res->size = 0;
    }
    return 0;
  }
}

int rill_rpc_recv(rill_rpc_client *c, void *resp, size_t cap, rill_rpc_result *res,
                  uint64_t timeout_ns) {
  if (!c || !res || (!resp && cap)) return -RILL_EINVAL;
  return rpc_recv(c, resp, cap, res, timeout_ns, NULL);
}

int rill_rpc_poll(rill_rpc_client *c, void *buf, size_t cap, uint32_t max,
                  rill_rpc_done_fn fn, void *arg) {
  if (!c || !fn || (!buf && cap)) return -RILL_EINVAL;
  int done = 0;
  for (; (uint32_t)done < max; done++) {
    rill_rpc_result res;
    const void *data;
    int rc = rpc_recv(c, buf, cap, &res, 0, &data);
    if (rc == -RILL_EAGAIN) break;
    if (rc) return done ? done : rc;
    fn(arg, &res, data);
  }
  return done;
}

int rill_rpc_call(rill_rpc_client *c, uint16_t method, const void *req, size_t n,
                  void *resp, size_t cap, rill_rpc_result *res, uint64_t timeout_ns) {
  if (!c || !res) return -RILL_EINVAL;
  if (c->next != c->head) return -RILL_EBUSY;
  uint64_t id;
  int rc = rill_rpc_send(c, method, req, n, &id);
  if (rc) return rc;
  rc = rill_rpc_recv(c, resp, cap, res, timeout_ns);
  if (rc == -RILL_ETIMEDOUT) c->head = c->next; /* forget it */
  return rc;
}
