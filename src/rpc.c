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
#define RPC_HANDOFF_NS 1000000ull /* a waiter without every lane looks again this often */
#define RPC_IDLE_NS 2000000ull   /* an idle worker first looks whether anyone waits after this */
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
  /* two consumer slots: on a response channel, a client that reconnects
   * while its dead predecessor's slot is still held needs a second; on a
   * request channel, a lossy observer (`rill tail`) may hold one beside
   * the server's (whose slot a restarted server rejoins: join_requests()) */
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

/* Workers and lanes.  No worker owns a lane: a worker takes a lane (its
 * flag), answers what is there, and lets it go, so whichever worker runs
 * serves whichever lane has requests, one worker at a time per lane (so a
 * lane's responses stay in the order of its requests).  A worker that
 * finds nothing waits on every lane no one holds (rill_wait_any: it spins,
 * then parks), unless as many workers wait already as the process has
 * CPUs: then it parks on the server's idle word, out of the way.  So on a
 * machine with fewer CPUs than workers the idle ones do not spin on the
 * CPU that the one with a request needs (with a worker per lane, -w 2 on
 * one CPU made 28 k calls/s where -w 1 made 3.3 M); a worker that wakes
 * with work while another could run on a free CPU wakes one idle worker. */
typedef struct rpc_lane {
  rill_consumer *q;           /* requests */
  rill_producer *r;           /* responses */
  uint64_t resp_max;          /* largest response */
  uint8_t in_ring;            /* 1: its responses fit one fragment */
  _Atomic uint32_t held;      /* 1 while a worker serves or waits on it */
} rpc_lane;

typedef struct rpc_worker {
  rill_rpc_server *s;
  pthread_t thread;
  uint32_t id;
  uint8_t *req, *resp;        /* max_msg bytes each, the largest of the lanes */
  int started;
} rpc_worker;

struct rill_rpc_server {
  rill_rpc_handler fn;
  void *arg;
  _Atomic int stop;
  uint32_t nworkers, nlanes;
  uint32_t cpus;              /* rill__cpus(): at most this many wait on lanes */
  size_t req_cap, resp_cap;
  rpc_worker *w;
  rpc_lane lane[RILL_RPC_MAX_LANES];
  _Atomic uint32_t waiting;   /* workers in rill_wait_any on the lanes */
  _Atomic uint32_t running;   /* workers not parked on idle */
  _Atomic uint32_t idle;      /* the word idle workers park on (bumped to wake one) */
};

/* Takes lane L: 1 if this worker holds it now. */
static int lane_take(rpc_lane *l) {
  /* Acquire: pairs with the release in lane_drop(): the worker that held
   * it before is done with its handles. */
  return atomic_load_explicit(&l->held, memory_order_relaxed) == 0 &&
         atomic_exchange_explicit(&l->held, 1, memory_order_acquire) == 0;
}

static void lane_drop(rpc_lane *l) {
  /* Release: pairs with the acquire exchange in lane_take(). */
  atomic_store_explicit(&l->held, 0, memory_order_release);
}

static void send_error(rpc_lane *l, uint64_t id, uint16_t method, int32_t code) {
  (void)rill__send_wait_ctl(l->r, &code, sizeof code, id,
                            (uint16_t)(RILL_CTL_ERR | RILL_CTL_USER(method)), RPC_SEND_NS);
}

/* Answers up to RPC_BATCH requests of lane L (held).  Returns how many.
 * Zero copy where it can: a request in one fragment is handed to the
 * handler where it lies in the ring, and on a lane whose responses fit one
 * fragment the handler writes its response straight into the reserved
 * space of the response ring. */
static int serve_lane(rpc_worker *w, rpc_lane *l) {
  int done = 0;
  for (; done < RPC_BATCH; done++) {
    rill_meta m;
    const void *req;
    int64_t n = rill_recv_view(l->q, w->req, w->s->req_cap, &m, &req);
    if (n == -RILL_EAGAIN) break;
    if (n < 0) continue; /* cannot happen with a max_msg buffer; skip */
    uint16_t method = (uint16_t)(m.ctl >> RILL_CTL_USER_SHIFT);
    size_t cap = l->resp_max, out = 0;
    void *resp = w->resp;
    /* A client keeps at most its capacity of calls in flight, so there is
     * room; the wait only covers a client that died with its ring full
     * (until it is evicted).  Without room, the response is copied later. */
    int zc = l->in_ring &&
             rill_reserve_wait(l->r, cap < sizeof(int32_t) ? sizeof(int32_t) : cap, &resp,
                               RPC_SEND_NS) == 0;
    if (!zc) resp = w->resp;
    int32_t rc = w->s->fn(w->s->arg, method, req, (size_t)n, resp, cap, &out);
    if (rc == 0 && out > cap) rc = -RILL_EMSGSIZE;
    uint16_t ctl = (uint16_t)(RILL_CTL_MSG | RILL_CTL_USER(method));
    if (rc && zc) {
      memcpy(resp, &rc, sizeof rc);
      (void)rill_commit(l->r, sizeof rc, m.sig, (uint16_t)(ctl | RILL_CTL_ERR));
    } else if (rc) {
      send_error(l, m.sig, method, rc);
    } else if (zc) {
      (void)rill_commit(l->r, out, m.sig, ctl);
    } else {
      (void)rill__send_wait_ctl(l->r, w->resp, out, m.sig, RILL_CTL_USER(method), RPC_SEND_NS);
    }
  }
  return done;
}

/* Wakes one idle worker if fewer run than the CPUs allow. */
static void wake_idle(rill_rpc_server *s) {
  if (atomic_load_explicit(&s->running, memory_order_relaxed) >= s->cpus ||
      atomic_load_explicit(&s->running, memory_order_relaxed) >= s->nworkers)
    return;
  /* Release: pairs with the acquire load of idle in park_idle(). */
  atomic_fetch_add_explicit(&s->idle, 1, memory_order_release);
  rill__unpark((const void *)&s->idle);
}

/* Parks on the idle word until woken or stopped.  It looks whether a
 * worker waits on the lanes after RPC_IDLE_NS, then after twice as long
 * each time one does, up to RPC_NAP_NS, and goes back to the lanes when
 * none does (all that run are in handlers: one may be blocked in its). */
static void park_idle(rill_rpc_server *s) {
  /* Acquire: pairs with the release bump in wake_idle() and the stop. */
  uint32_t g = atomic_load_explicit(&s->idle, memory_order_acquire);
  uint64_t nap = RPC_IDLE_NS;
  atomic_fetch_sub_explicit(&s->running, 1, memory_order_relaxed);
  while (!atomic_load_explicit(&s->stop, memory_order_acquire) &&
         rill__park((const void *)&s->idle, g, nap) == -RILL_ETIMEDOUT &&
         atomic_load_explicit(&s->waiting, memory_order_relaxed) > 0)
    nap = nap < RPC_NAP_NS / 2 ? 2 * nap : RPC_NAP_NS;
  atomic_fetch_add_explicit(&s->running, 1, memory_order_relaxed);
}

/* Waits for a request on the lanes no one holds, or parks on idle when
 * enough workers wait (see above). */
static void worker_wait(rpc_worker *w) {
  rill_rpc_server *s = w->s;
  rill_consumer *qs[RILL_RPC_MAX_LANES];
  rpc_lane *held[RILL_RPC_MAX_LANES];
  uint32_t n = 0;
  if (atomic_fetch_add_explicit(&s->waiting, 1, memory_order_relaxed) < s->cpus)
    for (uint32_t k = 0; k < s->nlanes; k++)
      if (lane_take(&s->lane[k])) {
        held[n] = &s->lane[k];
        qs[n++] = s->lane[k].q;
      }
  if (n) {
    /* without every lane, another worker is serving one: it will not
     * watch it after, so look again soon */
    int ready = rill_wait_any(qs, n, n == s->nlanes ? RPC_NAP_NS : RPC_HANDOFF_NS);
    for (uint32_t i = 0; i < n; i++) lane_drop(held[i]);
    /* Nothing came, and another worker waits on the other lanes: leave
     * these to it (it takes them within RPC_HANDOFF_NS) rather than both
     * looking again every RPC_HANDOFF_NS while the server is idle. */
    int yield = ready < 0 && n < s->nlanes &&
                atomic_load_explicit(&s->waiting, memory_order_relaxed) > 1;
    atomic_fetch_sub_explicit(&s->waiting, 1, memory_order_relaxed);
    if (ready >= 0) wake_idle(s); /* work: a free CPU may take a share */
    if (yield) park_idle(s);
    return;
  }
  atomic_fetch_sub_explicit(&s->waiting, 1, memory_order_relaxed);
  park_idle(s);
}

static void *worker_main(void *arg) {
  rpc_worker *w = arg;
  rill_rpc_server *s = w->s;
  while (!atomic_load_explicit(&s->stop, memory_order_acquire)) {
    int busy = 0;
    for (uint32_t j = 0; j < s->nlanes; j++) {
      rpc_lane *l = &s->lane[(w->id + j) % s->nlanes];
      if (!lane_take(l)) continue;
      int done = serve_lane(w, l);
      /* The lane's position, for the next server should this one die
       * (join_requests()): the requests of this batch are answered, so a
       * successor answers again at most the batch in progress.  A batch
       * that drained the lane had its position written by the poll that
       * found it empty (consumer.c: an empty poll flushes the cursor); one
       * that stopped at RPC_BATCH with requests still waiting is flushed
       * here: one rill_consumer_flush (~24 ns) per 64 requests, none at
       * one call in flight. */
      if (done == RPC_BATCH) (void)rill_consumer_flush(l->q);
      /* The responses sent, for 'rill info' (calls in flight are requests
       * less responses): once per batch, two stores. */
      if (done) rill__producer_flush_counts(l->r);
      busy += done;
      lane_drop(l);
    }
    if (!busy) worker_wait(w);
  }
  return NULL;
}

int rill_rpc_server_stop(rill_rpc_server *s) {
  if (!s) return 0;
  atomic_store_explicit(&s->stop, 1, memory_order_release);
  /* Release: the parked workers see the stop (park_idle's acquire). */
  atomic_fetch_add_explicit(&s->idle, 1, memory_order_release);
  rill__unpark((const void *)&s->idle);
  for (uint32_t i = 0; i < s->nworkers; i++)
    if (s->w[i].started) pthread_join(s->w[i].thread, NULL);
  for (uint32_t i = 0; i < s->nworkers; i++) {
    free(s->w[i].req);
    free(s->w[i].resp);
  }
  for (uint32_t k = 0; k < s->nlanes; k++) {
    rill_consumer_leave(s->lane[k].q);
    rill_producer_leave(s->lane[k].r);
  }
  free(s->w);
  free(s);
  return 0;
}

/* Joins request channel Q as the lane's reliable consumer, resuming where
 * the lane's last server left it: it rejoins that server's consumer slot,
 * whose cursor is exact after a clean stop (leaving flushes it) and after a
 * crash is the dead server's last flush (after its last whole batch,
 * worker_main()).  A fresh join would start at the client's last flushed
 * position, behind what the last server answered, and answer those
 * requests again; and a dead server's slot left in place would hold the
 * client back until it is evicted.  The slots in order: one never used
 * (ENOENT) had no server; a live one (EBUSY) is an observer's (the lane's
 * live server was refused before, by the lock of its response channel);
 * a lossy one is an observer's that left or died (left again: freed).
 * The first reliable one is the last server's.  None: a fresh join. */
static int join_requests(rill_region *r, const char *q, rill_consumer **out) {
  rill_channel_stats st;
  int rc = rill_channel_stats_get(r, q, &st);
  if (rc) return rc;
  for (uint32_t slot = 0; slot < st.max_consumers; slot++) {
    rill_consumer *c;
    /* At the slot's cursor even if the client did not count the slot
     * meanwhile: a client has at most its capacity of calls unanswered,
     * and they fit in the ring, so it never overwrote one. */
    rc = rill__consumer_rejoin_at_cursor(r, q, slot, &c);
    if (rc == -RILL_ENOENT || rc == -RILL_EBUSY) continue;
    if (rc) return rc;
    if (c->core.lossy) { /* an observer's */
      rill_consumer_leave(c);
      continue;
    }
    *out = c;
    return 0;
  }
  return rill_consumer_join(r, q, RILL_RELIABLE, out);
}

int rill_rpc_serve(rill_region *r, const char *name, uint32_t workers,
                   rill_rpc_handler fn, void *arg, rill_rpc_server **out) {
  if (!r || !fn || !out || !svc_name_ok(name)) return -RILL_EINVAL;
  uint32_t lanes = lane_count(r, name);
  if (!lanes) return -RILL_ENOENT;
  if (!workers) return -RILL_EINVAL;
  if (workers > lanes) return -RILL_EWORKERS; /* more workers than lanes never help */
  rill_rpc_server *s = calloc(1, sizeof *s);
  if (!s || !(s->w = calloc(workers, sizeof *s->w))) {
    free(s);
    return -RILL_ENOMEM;
  }
  s->fn = fn;
  s->arg = arg;
  s->nworkers = workers;
  s->cpus = rill__cpus();
  atomic_init(&s->running, workers);
  int rc = 0;
  for (uint32_t k = 0; k < lanes && !rc; k++) {
    rpc_lane *l = &s->lane[k];
    char q[RILL_NAME_MAX + 1], rr[RILL_NAME_MAX + 1];
    if ((rc = lane_name(q, name, 'q', k)) || (rc = lane_name(rr, name, 'r', k))) break;
    /* The response channel's producer first: its lock says EBUSY while
     * another server lives, before any request slot is touched. */
    if ((rc = rill_producer_join(r, rr, &l->r))) break;
    if ((rc = join_requests(r, q, &l->q))) {
      rill_producer_leave(l->r);
      l->r = NULL;
      break;
    }
    s->nlanes++;
    rill_channel_stats st;
    if (!(rc = rill_channel_stats_get(r, q, &st)) && st.max_msg > s->req_cap) s->req_cap = st.max_msg;
    if (!rc && !(rc = rill_channel_stats_get(r, rr, &st))) {
      if (st.max_msg > s->resp_cap) s->resp_cap = st.max_msg;
      l->resp_max = st.max_msg;
      l->in_ring = st.max_msg <= st.mtu && st.mtu >= sizeof(int32_t);
    }
  }
  for (uint32_t i = 0; i < workers && !rc; i++) {
    rpc_worker *w = &s->w[i];
    w->s = s;
    w->id = i;
    /* resp zeroed: a handler is promised initialised bytes at RESP
     * (rill_rpc.h), which a language that may read its buffer needs */
    if (!(w->req = malloc(s->req_cap)) || !(w->resp = calloc(1, s->resp_cap))) rc = -RILL_ENOMEM;
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
  /* Before it waits, the client's request count goes to shared memory
   * (its position is left alone: rill__producer_flush_counts()), so that
   * 'rill info' sees the calls it waits for as in flight. */
  if (timeout_ns && c->next != c->head) rill__producer_flush_counts(c->p);
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
    const void *data = NULL; /* set when rpc_recv() returns 0; gcc -O3 cannot tell */
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
