/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* Sleeping waits: consumers parked for messages, a producer parked for
 * credit, the producer's wake-up path, and the consumer's fd for event
 * loops.  The protocol is in docs/PROTOCOL.md ("Waiting"); why it is built
 * this way is in docs/waiting.md. */
#include "internal.h"

#define MS 1000000ull

/* ---- producer side: waking consumers ----------------------------------- */

static void fifo_signal(rill_producer *p, uint32_t i, uint32_t gen) {
  struct rill_prod_slot *ps = &p->slots[i];
  if (ps->fifo_fd < 0 || ps->fifo_gen != gen) { /* a new join: reopen */
    rill__file_close(ps->fifo_fd);
    ps->fifo_fd = -1;
    ps->fifo_gen = gen;
    char path[RILL_PATH_MAX];
    if (rill__fifo_path(path, sizeof path, p->dir, p->region, p->chan, i) ||
        rill__fifo_writer(p->fd, path, &ps->fifo_fd))
      return; /* nobody reads it: nothing to signal */
  }
  rill__fifo_signal(ps->fifo_fd);
}

void rill__wake_consumers(rill_producer *p, uint32_t gen, int force) {
  rill_prod_page *pp = p->core.prod;
  /* A LAZY producer, not fencing yet: did the consumer that moved arm_gen
   * ask us to (docs/PROTOCOL.md §3.7a)?  Relaxed: it stored fence_req
   * before its bump, which our acquire load of arm_gen saw. */
  if (__builtin_expect(p->lazy, 0) && atomic_load_explicit(p->fence_req, memory_order_relaxed)) {
    p->lazy = 0;
    p->fence_each = 1;
    /* Sequentially consistent RMW: a full barrier.  Every descriptor we
     * published is visible before FENCING is, so a consumer whose acquire
     * load of flags sees FENCING sees them (pairs with prod_flags()); every
     * later publish is followed by our fence.  Consumers that parked or
     * armed before could not rely on us: the path below runs forced, as at
     * leave. */
    atomic_fetch_or_explicit(&pp->flags, RILL_PROD_F_FENCING, memory_order_seq_cst);
    force = 1;
  }
  p->arm_seen = gen;
  p->wakes++;
  atomic_store_explicit(&pp->wakes, p->wakes, memory_order_relaxed);
  /* Release: pairs with the acquire load of wake in cons_wait(); the futex
   * compares this word, so a consumer that read the old value and parks
   * after our bump returns at once. */
  atomic_fetch_add_explicit(&pp->wake, 1, memory_order_release);
  /* Forced (at leave): our store of LEFT comes before the loads of fd_gen
   * below, against a consumer arming now, which stores fd_gen, fences and
   * then loads our state (rill_consumer_arm()): one of us sees the other,
   * or the fd of a first arm could stay quiet after we left.  This seq_cst
   * fence pairs with its arm_barrier().  x86's locked RMW above is one
   * already; C11's release RMW is not, and ARM may let the loads pass it. */
  if (force) atomic_thread_fence(memory_order_seq_cst);
  int parked = force;
  for (uint32_t i = 0; i < p->core.max_consumers; i++) {
    rill_cursor *k = rill__cursor_at(p->core.cursors, i);
    /* Acquire: pairs with the release store of ACTIVE at join. */
    if (atomic_load_explicit(&k->state, memory_order_acquire) == RILL_CUR_FREE) continue;
    if (atomic_load_explicit(&k->park, memory_order_relaxed)) parked = 1;
    uint32_t fg = atomic_load_explicit(&k->fd_gen, memory_order_relaxed);
    struct rill_prod_slot *ps = &p->slots[i];
    if (fg == ps->fd_seen && !(force && fg)) continue;
    ps->fd_seen = fg;
    fifo_signal(p, i, atomic_load_explicit(&k->gen, memory_order_relaxed));
  }
  if (parked) rill__unpark(&pp->wake);
}

/* ---- producer side: waiting for credit --------------------------------- */

typedef int (*prod_try_fn)(rill_producer *p, void *ctx);

static int prod_wait(rill_producer *p, uint64_t timeout, prod_try_fn try, void *ctx) {
  int rc = try(p, ctx);
  if (rc != -RILL_EAGAIN || timeout == 0) return rc;
  rill_prod_page *pp = p->core.prod;
  /* The whole wait counts once in backpressure (the try above counted
   * it): the retries do not count.  Counters only ever go up. */
  p->in_wait = 1;
  uint64_t now = rill__mono_ns(), deadline = rill__add_sat(now, timeout);
  if (p->spin_ns) {
    uint64_t end = rill__add_sat(now, p->spin_ns < timeout ? p->spin_ns : timeout);
    for (uint32_t i = 1;; i++) {
      rill__cpu_relax();
      if ((rc = try(p, ctx)) != -RILL_EAGAIN) goto out;
      if ((i & 63) == 0 && rill__mono_ns() >= end) break;
    }
  }
  for (;;) {
    now = rill__mono_ns();
    if (now >= deadline) { rc = -RILL_ETIMEDOUT; goto out; }
    /* Short naps: the retry looks for dead consumers to evict. */
    uint64_t slice = deadline - now < 10 * MS ? deadline - now : 10 * MS;
    /* Acquire: pairs with the release bump of cr_wake in credit_wake()
     * (consumer.c). */
    uint32_t w = atomic_load_explicit(&p->core.wait->cr_wake, memory_order_acquire);
    /* Sequentially consistent, then a heavy barrier: a consumer that
     * flushes its cursor after this sees cr_wait, or we see its cursor in
     * the retry below (consumers without asymmetric barriers fence). */
    atomic_store_explicit(&pp->cr_wait, 1, memory_order_seq_cst);
    if (rill__heavy_barrier()) slice = slice < MS ? slice : MS;
    rc = try(p, ctx);
    if (rc != -RILL_EAGAIN) {
      atomic_store_explicit(&pp->cr_wait, 0, memory_order_relaxed);
      goto out;
    }
    int pr = rill__park(&p->core.wait->cr_wake, w, slice);
    atomic_store_explicit(&pp->cr_wait, 0, memory_order_relaxed);
    if (pr < 0 && pr != -RILL_ETIMEDOUT) { rc = pr; goto out; }
    if ((rc = try(p, ctx)) != -RILL_EAGAIN) goto out;
    /* heartbeat while we wait; -RILL_ETRUNC if the file was shrunk */
    if ((rc = rill_producer_flush(p))) goto out;
  }
out:
  p->in_wait = 0;
  return rc;
}

struct send_args {
  const void *data;
  size_t n;
  uint64_t sig;
  void **buf;
  uint16_t uctl;
};

static int try_send(rill_producer *p, void *ctx) {
  struct send_args *a = ctx;
  return rill__send_ctl(p, a->data, a->n, a->sig, a->uctl);
}

static int try_reserve(rill_producer *p, void *ctx) {
  struct send_args *a = ctx;
  return rill_reserve(p, a->n, a->buf);
}

int rill__send_wait_ctl(rill_producer *p, const void *data, size_t n, uint64_t sig,
                        uint16_t uctl, uint64_t timeout_ns) {
  if (!p || (!data && n)) return -RILL_EINVAL;
  struct send_args a = {data, n, sig, NULL, uctl};
  return prod_wait(p, timeout_ns, try_send, &a);
}

int rill_send_wait(rill_producer *p, const void *data, size_t n, uint64_t sig,
                   uint64_t timeout_ns) {
  return rill__send_wait_ctl(p, data, n, sig, 0, timeout_ns);
}

int rill_reserve_wait(rill_producer *p, size_t n, void **buf, uint64_t timeout_ns) {
  if (!p || !buf) return -RILL_EINVAL;
  struct send_args a = {NULL, n, 0, buf, 0};
  return prod_wait(p, timeout_ns, try_reserve, &a);
}

/* ---- consumer side ------------------------------------------------------ */

/* 0 while the producer may still publish, -RILL_ECLOSED if it left,
 * -RILL_EDEAD if it died (asked of the kernel only with CHECK_LOCK: a
 * syscall), -RILL_ETRUNC if the file was shrunk under our mappings (the
 * SIGBUS guard replaced pages of them). */
static int producer_gone(rill_consumer *c, int check_lock) {
  if (rill__cons_lost(c)) return -RILL_ETRUNC;
  /* Acquire: pairs with the release store of LEFT in rill_producer_leave():
   * a poll after this sees everything published before it. */
  uint32_t st = atomic_load_explicit(&c->core.prod->state, memory_order_acquire);
  if (st == RILL_PROD_LEFT) return -RILL_ECLOSED;
  if (st == RILL_PROD_JOINED && check_lock && rill__lock_held(c->fd, c->prod_lock_off) == 0) {
    /* A producer that left cleanly stored LEFT before it dropped its lock:
     * look again, so that it is not taken for dead. */
    st = atomic_load_explicit(&c->core.prod->state, memory_order_acquire);
    if (st == RILL_PROD_LEFT) return -RILL_ECLOSED;
    if (st == RILL_PROD_JOINED) return -RILL_EDEAD;
  }
  return 0;
}

int rill_consumer_producer(rill_consumer *c) {
  if (!c) return -RILL_EINVAL;
  if (rill__cons_lost(c)) return -RILL_ETRUNC;
  uint32_t st = atomic_load_explicit(&c->core.prod->state, memory_order_acquire);
  return (int)rill__liveness(c->fd, c->prod_lock_off, st == RILL_PROD_JOINED);
}

/* 1 if FLAGS (the producer's, loaded with acquire) are LAZY without
 * FENCING (docs/PROTOCOL.md §3.7a): the producer runs no fence after its
 * publishes, so a consumer about to park or arm cannot rely on a wake-up.
 * Then asks it to fence: sets fence_req, before the caller's seq_cst bump
 * of arm_gen (the producer looks at fence_req when it sees the bump, in
 * rill__wake_consumers()).  Seq_cst RMW, once only: the line is the one
 * the producer loads arm_gen from on every publish. */
static int lazy_ask(rill_consumer *c, uint32_t flags) {
  if ((flags & (RILL_PROD_F_LAZY | RILL_PROD_F_FENCING)) != RILL_PROD_F_LAZY) return 0;
  if (!atomic_load_explicit(&c->core.wait->fence_req, memory_order_relaxed))
    atomic_fetch_or_explicit(&c->core.wait->fence_req, 1, memory_order_seq_cst);
  return 1;
}

/* The full barrier between a consumer's bump of arm_gen and its next look
 * at the ring (docs/PROTOCOL.md §3.7), for the producer's FLAGS.  With
 * ASYM the heavy barrier is it (the syscall is a full barrier for its
 * caller too, and makes the producer's threads pass one); without, a
 * seq_cst fence, which pairs with the producer's seq_cst fence between its
 * seq store and its load of arm_gen after a publish (rill_core__published()
 * in producer.c).  The RMW
 * alone is not enough in C11: nothing orders it before a later acquire
 * load of another word (ARMv8.3 compilers emit LDAPR for that load, which
 * may pass the RMW's store).  Returns 0 or the heavy barrier's error. */
static int arm_barrier(uint32_t flags) {
  if (flags & RILL_PROD_F_ASYM) return rill__heavy_barrier();
  atomic_thread_fence(memory_order_seq_cst);
  return 0;
}

/* The producer's flags, read with acquire: pairs with its seq_cst RMW that
 * sets FENCING (rill__wake_consumers()), after which every descriptor it
 * published before is visible to our polls. */
static uint32_t prod_flags(const rill_consumer *c) {
  return atomic_load_explicit(&c->core.prod->flags, memory_order_acquire);
}

typedef int64_t (*cons_try_fn)(rill_consumer *c, void *ctx);

static int64_t cons_wait(rill_consumer *c, uint64_t timeout, cons_try_fn try, void *ctx) {
  int64_t rc = try(c, ctx);
  if (rc != -RILL_EAGAIN || timeout == 0) return rc;
  uint64_t now = rill__mono_ns(), deadline = rill__add_sat(now, timeout);
  if (c->spin_ns) {
    uint64_t end = rill__add_sat(now, c->spin_ns < timeout ? c->spin_ns : timeout);
    for (uint32_t i = 1;; i++) {
      rill__cpu_relax();
      if ((rc = try(c, ctx)) != -RILL_EAGAIN) return rc;
      if ((i & 63) == 0 && rill__mono_ns() >= end) break;
    }
  }
  /* The producer's lock is asked about only after a nap ran out: parking
   * itself costs no such syscall. */
  int check_lock = 0;
  uint64_t next_live = rill__add_sat(now, RILL_LIVE_SLICE_NS);
  for (;;) {
    /* Acquire: pairs with the release bumps of wake in
     * rill__wake_consumers() and rill_producer_join().  Read before the
     * producer's state and flags: a producer that leaves stores LEFT and
     * then bumps wake (forced, §3.6), so either producer_gone() below sees
     * LEFT or the park below finds wake moved.  Read after the state
     * check, a leave in between would go unnoticed until the slice ran out
     * (found by model/park.pml, bug_state_before_wake). */
    uint32_t w = atomic_load_explicit(&c->core.prod->wake, memory_order_acquire);
    int gone = producer_gone(c, check_lock);
    check_lock = 0;
    if (gone) {
      rc = try(c, ctx);
      return rc != -RILL_EAGAIN ? rc : gone;
    }
    now = rill__mono_ns();
    if (now >= deadline) return -RILL_ETIMEDOUT;
    uint64_t slice = deadline - now < RILL_LIVE_SLICE_NS ? deadline - now : RILL_LIVE_SLICE_NS;
    uint32_t flags = prod_flags(c);
    int unsure = lazy_ask(c, flags);
    atomic_store_explicit(&c->core.cur->park, 1, memory_order_relaxed);
    /* Sequentially consistent: the producer's acquire load of arm_gen in
     * publish() sees park (and fence_req) with the bump.  Then the heavy
     * barrier: the producer's last seq store is visible to the poll below,
     * or its next load of arm_gen sees our bump and it wakes us. */
    atomic_fetch_add_explicit(&c->core.wait->arm_gen, 1, memory_order_seq_cst);
    if (arm_barrier(flags) || unsure) slice = slice < MS ? slice : MS; /* cannot be sure: nap briefly */
    rc = try(c, ctx);
    if (rc != -RILL_EAGAIN) {
      atomic_store_explicit(&c->core.cur->park, 0, memory_order_relaxed);
      return rc;
    }
    int pr = rill__park(&c->core.prod->wake, w, slice);
    atomic_store_explicit(&c->core.cur->park, 0, memory_order_relaxed);
    if (pr < 0 && pr != -RILL_ETIMEDOUT) return pr;
    if ((rc = try(c, ctx)) != -RILL_EAGAIN) return rc;
    now = rill__mono_ns();
    if (now >= next_live) { /* a dead producer wakes nobody: ask */
      check_lock = 1;
      next_live = rill__add_sat(now, RILL_LIVE_SLICE_NS);
      rill__cursor_flush(c, 1); /* heartbeat while we wait */
    }
  }
}

static int64_t try_poll(rill_consumer *c, void *ctx) { return rill_poll(c, ctx); }

struct recv_args {
  void *buf;
  size_t cap;
  rill_meta *meta;
  const void **data;
};

static int64_t try_recv(rill_consumer *c, void *ctx) {
  struct recv_args *a = ctx;
  return a->data ? rill_recv_view(c, a->buf, a->cap, a->meta, a->data)
                 : rill_recv(c, a->buf, a->cap, a->meta);
}

int rill_poll_wait(rill_consumer *c, rill_view *v, uint64_t timeout_ns) {
  if (!c || !v) return -RILL_EINVAL;
  return (int)cons_wait(c, timeout_ns, try_poll, v);
}

int64_t rill_recv_wait(rill_consumer *c, void *buf, size_t cap, rill_meta *meta,
                       uint64_t timeout_ns) {
  if (!c || !meta || (!buf && cap)) return -RILL_EINVAL;
  struct recv_args a = {buf, cap, meta, NULL};
  return cons_wait(c, timeout_ns, try_recv, &a);
}

int64_t rill__recv_view_wait(rill_consumer *c, void *buf, size_t cap, rill_meta *meta,
                             const void **data, uint64_t timeout_ns) {
  if (!c || !meta || !data || (!buf && cap)) return -RILL_EINVAL;
  struct recv_args a = {buf, cap, meta, data};
  return cons_wait(c, timeout_ns, try_recv, &a);
}

/* ---- consumer side: the fd ---------------------------------------------- */

/* Makes the consumer's FIFO (its event on Windows) on first use. */
static int fifo_get(rill_consumer *c) {
  if (c->fifo_fd < 0) {
    int rc = rill__fifo_reader(c->fd, c->fifo, c->mode, &c->fifo_fd);
    if (rc) {
      c->fifo_fd = -1;
      return rc;
    }
  }
  return c->fifo_fd;
}

#ifdef _WIN32
int rill_consumer_handle(rill_consumer *c, void **handle) {
  if (!c || !handle) return -RILL_EINVAL;
  int rc = fifo_get(c);
  if (rc < 0) return rc;
  *handle = rill__fifo_handle(rc);
  return 0;
}
#else
int rill_consumer_fd(rill_consumer *c) {
  if (!c) return -RILL_EINVAL;
  return fifo_get(c);
}
#endif

/* 1 if the next poll has something to say: a descriptor at or past our
 * sequence number (a message, an overrun, garbage), or a kept message. */
static int ready(rill_consumer *c) {
  if (c->core.pend) return 1;
  /* Acquire: pairs with the release store of seq in
   * rill_core__publish_desc() (core/producer.h). */
  const rill_core_consumer *k = &c->core;
  uint64_t s = atomic_load_explicit(&k->meta[k->seq & k->mask].seq, memory_order_acquire);
  return (int64_t)(s - k->seq) >= 0;
}

int rill_consumer_arm(rill_consumer *c) {
  if (!c || c->fifo_fd < 0) return -RILL_EINVAL;
  rill__fifo_drain(c->fifo_fd);
  if (c->core.seq != c->core.seq_flushed) rill__cursor_flush(c, 0); /* credit for the producer */
  if (ready(c)) return 1;
  /* Acquire: pairs with the release bumps of wake (a nap below parks on
   * it); read before flags. */
  uint32_t w = atomic_load_explicit(&c->core.prod->wake, memory_order_acquire);
  uint32_t flags = prod_flags(c);
  int unsure = lazy_ask(c, flags);
  rill_cursor *k = c->core.cur;
  atomic_store_explicit(&k->fd_gen, atomic_load_explicit(&k->fd_gen, memory_order_relaxed) + 1,
                        memory_order_relaxed);
  /* As in cons_wait(): the producer sees fd_gen with the bump, and after
   * the heavy barrier either we see its publish or it sees our bump. */
  atomic_fetch_add_explicit(&c->core.wait->arm_gen, 1, memory_order_seq_cst);
  int rc = arm_barrier(flags);
  if (rc) return rc;
  if (unsure) {
    /* A LAZY producer that does not fence yet (§3.7a) may not signal the
     * fd: sleep at most 1 ms (its first publish from now on wakes us: it
     * sets FENCING and runs the wake-up path forced), then say "look". */
    (void)rill__park(&c->core.prod->wake, w, MS);
    if (ready(c)) return 1;
    int gone = producer_gone(c, 1); /* a closed channel says so, not "look" */
    if (gone) return ready(c) ? 1 : gone;
    return 1;
  }
  if (ready(c)) return 1;
  int gone = producer_gone(c, 1);
  if (gone) return ready(c) ? 1 : gone;
  return 0;
}

/* ---- consumer side: waiting on several channels ------------------------- */

int rill_wait_any(rill_consumer *const *cs, uint32_t n, uint64_t timeout_ns) {
  if (!cs || n == 0 || n > RILL_WAIT_ANY_MAX) return -RILL_EINVAL;
  for (uint32_t i = 0; i < n; i++)
    if (!cs[i]) return -RILL_EINVAL;
  for (uint32_t i = 0; i < n; i++)
    if (ready(cs[i])) return (int)i;
  if (timeout_ns == 0) return -RILL_ETIMEDOUT;
  uint64_t now = rill__mono_ns(), deadline = rill__add_sat(now, timeout_ns);
  uint64_t spin = cs[0]->spin_ns;
  if (spin) {
    uint64_t end = rill__add_sat(now, spin < timeout_ns ? spin : timeout_ns);
    for (uint32_t k = 1;; k++) {
      rill__cpu_relax();
      for (uint32_t i = 0; i < n; i++)
        if (ready(cs[i])) return (int)i;
      if ((k & 63) == 0 && rill__mono_ns() >= end) break;
    }
  }
  const void *addrs[RILL_WAIT_ANY_MAX];
  uint32_t expect[RILL_WAIT_ANY_MAX];
  uint64_t next_hb = rill__add_sat(now, RILL_LIVE_SLICE_NS);
  int found = -RILL_ETIMEDOUT;
  for (;;) {
    now = rill__mono_ns();
    if (now >= deadline) break;
    uint64_t slice = deadline - now < RILL_LIVE_SLICE_NS ? deadline - now : RILL_LIVE_SLICE_NS;
    /* The parking protocol of cons_wait() on every consumer, with one
     * heavy barrier for all of them. */
    int asym = 0, unsure = 0;
    for (uint32_t i = 0; i < n; i++) {
      rill_consumer *c = cs[i];
      /* Our position is the producer's credit: tell it before sleeping. */
      if (c->core.seq != c->core.seq_flushed) rill__cursor_flush(c, 0);
      /* Acquire: pairs with the release bumps of wake in
       * rill__wake_consumers() and rill_producer_join(); read before flags. */
      expect[i] = atomic_load_explicit(&c->core.prod->wake, memory_order_acquire);
      addrs[i] = &c->core.prod->wake;
      uint32_t flags = prod_flags(c);
      asym |= (flags & RILL_PROD_F_ASYM) != 0;
      unsure |= lazy_ask(c, flags); /* then nap (§3.7a) */
      atomic_store_explicit(&c->core.cur->park, 1, memory_order_relaxed);
      /* Sequentially consistent, as in cons_wait(). */
      atomic_fetch_add_explicit(&c->core.wait->arm_gen, 1, memory_order_seq_cst);
    }
    if (arm_barrier(asym ? RILL_PROD_F_ASYM : 0) || unsure) slice = slice < MS ? slice : MS;
    for (uint32_t i = 0; i < n && found < 0; i++)
      if (ready(cs[i])) found = (int)i;
    if (found < 0) {
      if (rill__park_any(addrs, expect, n, slice) == -RILL_EIO) /* no vectored wait */
        (void)rill__park(addrs[0], expect[0], slice < MS ? slice : MS); /* nap */
      for (uint32_t i = 0; i < n && found < 0; i++)
        if (ready(cs[i])) found = (int)i;
    }
    for (uint32_t i = 0; i < n; i++)
      atomic_store_explicit(&cs[i]->core.cur->park, 0, memory_order_relaxed);
    if (found >= 0) break;
    now = rill__mono_ns();
    if (now >= next_hb) { /* heartbeats while we wait */
      next_hb = rill__add_sat(now, RILL_LIVE_SLICE_NS);
      for (uint32_t i = 0; i < n; i++) rill__cursor_flush(cs[i], 1);
    }
  }
  return found;
}

/* ---- producer side: waiting for consumers to join ----------------------- */

/* Consumers alive on the channel: active slots whose lock is held (the
 * slot of a consumer that died stays active until it is rejoined). */
static uint32_t live_consumers(rill_producer *p) {
  uint32_t n = 0;
  for (uint32_t i = 0; i < p->core.max_consumers; i++) {
    const rill_cursor *k = rill__cursor_at(p->core.cursors, i);
    /* Acquire: pairs with the release store of ACTIVE at join. */
    if (atomic_load_explicit(&k->state, memory_order_acquire) != RILL_CUR_ACTIVE) continue;
    /* held, or cannot tell (then it counts as alive) */
    if (rill__lock_held(p->fd, p->cursor_lock_off + (uint64_t)i * RILL_PAGE) != 0) n++;
  }
  return n;
}

int rill_producer_wait_consumers(rill_producer *p, uint32_t n, uint64_t timeout_ns) {
  if (!p || n > p->core.max_consumers) return -RILL_EINVAL;
  uint64_t deadline = rill__add_sat(rill__mono_ns(), timeout_ns);
  for (;;) {
    /* Acquire: pairs with the release bump of cr_wake a consumer makes
     * after storing ACTIVE at join (consumer.c).  Loaded before the count:
     * a join the count misses changes the word, and the park returns. */
    uint32_t w = atomic_load_explicit(&p->core.wait->cr_wake, memory_order_acquire);
    uint32_t have = live_consumers(p);
    if (have >= n) return (int)have;
    uint64_t now = rill__mono_ns();
    if (now >= deadline) return -RILL_ETIMEDOUT;
    /* The slices bound the wait for a consumer that joins without waking
     * (librill 0.2), and keep the heartbeat going. */
    uint64_t slice = deadline - now < RILL_NOWAKE_SLICE_NS ? deadline - now : RILL_NOWAKE_SLICE_NS;
    int rc = rill__park(&p->core.wait->cr_wake, w, slice);
    if (rc < 0 && rc != -RILL_ETIMEDOUT) return rc;
    if (rc == -RILL_ETIMEDOUT) rill_producer_flush(p); /* heartbeat while we wait */
  }
}
