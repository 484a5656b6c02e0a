/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* Fencing on request (docs/PROTOCOL.md §3.7a): a LAZY producer runs no
 * fence after its publishes while its consumers busy-poll, starts when a
 * consumer that sleeps asks (fence_req), wakes everyone then, and from
 * then on wakes a parked consumer at the publish it waits for; a consumer
 * that arms its fd before the producer fences is told to look, not left
 * waiting.
 *
 * Producers are LAZY on Windows; on Linux the test sets RILL_LAZY_FENCE=1
 * before its first join (children inherit it).  It looks at the producer
 * page and the wait page through the producer handle (src/internal.h). */
#include "testutil.h"

#include "internal.h"

#define ROUNDS 40  /* wake-ups checked one by one */
#define RACES 2000 /* then published as soon as the sleeper took the last */
#define SLOW_NS (45ull * 1000000ull) /* a lost wake-up waits out 50 ms */

typedef struct shared {
  _Atomic uint32_t got;  /* messages the sleeper received */
  _Atomic uint32_t slow; /* of the RACES, waits of SLOW_NS or more */
} shared;

static uint32_t flags_of(rill_producer *p) {
  return atomic_load_explicit(&p->core.prod->flags, memory_order_acquire);
}

static uint32_t fence_req_of(rill_producer *p) {
  return atomic_load_explicit(&p->core.wait->fence_req, memory_order_acquire);
}

static void send_u64(rill_producer *p, uint64_t v) {
  CHECK_OK(rill_send(p, &v, sizeof v, v));
}

/* A consumer that only ever sleeps for its messages: message i is i. */
static void sleeper(void *arg) {
  shared *x = arg;
  rill_region *r = tu_region_open("lz");
  rill_consumer *c;
  CHECK_OK(rill_consumer_join(r, "sl", RILL_RELIABLE, &c));
  for (uint64_t i = 0; i < ROUNDS + RACES; i++) {
    uint64_t v = ~0ull;
    rill_meta m;
    uint64_t t0 = tu_ns();
    CHECK_RC(rill_recv_wait(c, &v, sizeof v, &m, 20ull * 1000000000ull), sizeof v);
    if (i >= ROUNDS && tu_ns() - t0 >= SLOW_NS) atomic_fetch_add(&x->slow, 1);
    CHECK_EQ(v, i);
    CHECK_EQ(m.sig, i);
    /* Release: the parent reads it with acquire before looking at our
     * cursor. */
    atomic_store_explicit(&x->got, (uint32_t)(i + 1), memory_order_release);
  }
  CHECK_OK(rill_consumer_leave(c));
  CHECK_OK(rill_region_close(r));
}

static const tu_role roles[] = {TU_ROLE(sleeper), {0}};

/* Busy-polling consumers never make the producer fence. */
static void t_busy(rill_region *r, rill_producer *p) {
  rill_consumer *c;
  CHECK_OK(rill_consumer_join(r, "ch", RILL_RELIABLE, &c));
  uint64_t n = tu_scaled(100000, 1000);
  for (uint64_t i = 0; i < n; i++) {
    send_u64(p, i);
    uint64_t v;
    rill_meta m;
    CHECK_RC(rill_recv(c, &v, sizeof v, &m), sizeof v);
    CHECK_EQ(v, i);
  }
  CHECK_EQ(fence_req_of(p), 0);
  CHECK_EQ(flags_of(p) & (RILL_PROD_F_LAZY | RILL_PROD_F_FENCING), RILL_PROD_F_LAZY);
  CHECK_EQ(p->fence_each, 0);
  CHECK_OK(rill_consumer_leave(c));
  printf("  busy: %" PRIu64 " messages, no fence asked for\n", n);
}

/* The active cursor of the sleeper (the only consumer). */
static const rill_cursor *sleeper_cursor(rill_producer *p) {
  for (uint32_t i = 0; i < p->core.max_consumers; i++) {
    const rill_cursor *k = rill__cursor_at(p->core.cursors, i);
    if (atomic_load_explicit(&k->state, memory_order_acquire) == RILL_CUR_ACTIVE) return k;
  }
  return NULL;
}

/* A consumer that sleeps first: it asks, the next publish starts the
 * fencing and wakes it; then every publish it sleeps for wakes it. */
static void t_sleeper(rill_region *r) {
  rill_channel_opts co = {.depth = 64, .mtu = 64};
  CHECK_OK(rill_channel_create(r, "sl", &co));
  rill_producer *p;
  CHECK_OK(rill_producer_join(r, "sl", &p));
  shared *x = tu_shared(sizeof *x);
  tu_pid kid = tu_spawn("sleeper", sleeper, x);
  unsigned spins = 0;
  while (!fence_req_of(p)) tu_relax(&spins); /* it parked, and asked */
  CHECK_EQ(flags_of(p) & RILL_PROD_F_FENCING, 0);
  uint64_t wakes = p->wakes;
  send_u64(p, 0);
  CHECK(flags_of(p) & RILL_PROD_F_FENCING);
  CHECK_EQ(p->fence_each, 1);
  CHECK(p->wakes > wakes); /* the forced wake-up path ran */
  const rill_cursor *k = NULL;
  for (uint64_t i = 1; i < ROUNDS; i++) {
    /* Wait until the sleeper took message i - 1, parks for message i and
     * has bumped arm_gen: this publish must then run the wake-up path
     * (no wake-up lost, whatever the timing). */
    spins = 0;
    while (atomic_load_explicit(&x->got, memory_order_acquire) < i) tu_relax(&spins);
    if (!k) CHECK((k = sleeper_cursor(p)) != NULL);
    spins = 0;
    while (!atomic_load_explicit(&k->park, memory_order_acquire) ||
           atomic_load_explicit(p->arm_gen, memory_order_acquire) == p->arm_seen)
      tu_relax(&spins);
    wakes = p->wakes;
    send_u64(p, i);
    CHECK_EQ(p->wakes, wakes + 1);
  }
  /* Then the race itself: publish the moment the sleeper has taken the
   * last message, while it spins, parks or is about to.  A lost wake-up
   * would leave it asleep until its 50 ms slice ends; a loaded machine
   * may make a few waits that slow without losing anything. */
  for (uint64_t i = ROUNDS; i < ROUNDS + RACES; i++) {
    spins = 0;
    while (atomic_load_explicit(&x->got, memory_order_acquire) < i) tu_relax(&spins);
    send_u64(p, i);
  }
  tu_wait(kid);
  uint32_t slow = atomic_load(&x->slow);
  CHECKF(slow <= 3 + RACES / 100, "%u of %d waits took 45 ms or more", slow, RACES);
  CHECK_OK(rill_producer_leave(p));
  printf("  sleeper: asked, fenced from the next publish, %d wake-ups none lost; "
         "%d racing publishes, %u slow waits\n", ROUNDS, RACES, slow);
}

/* Arming before the producer fences says "look" (after a nap of at most
 * 1 ms), never "armed": the fd could miss the producer's publish. */
static void t_arm(rill_region *r) {
  rill_channel_opts co = {.depth = 64, .mtu = 64};
  CHECK_OK(rill_channel_create(r, "arm", &co));
  rill_consumer *c;
  CHECK_OK(rill_consumer_join(r, "arm", RILL_LOSSY, &c));
  rill_producer *p;
  CHECK_OK(rill_producer_join(r, "arm", &p));
  tu_wakeup w;
  CHECK_OK(tu_consumer_wakeup(c, &w));
  CHECK_RC(rill_consumer_arm(c), 1); /* not fencing: look */
  CHECK_EQ(fence_req_of(p), 1);
  rill_view v;
  CHECK_RC(rill_poll(c, &v), -RILL_EAGAIN);
  send_u64(p, 7); /* sees the request: fences from now on */
  CHECK(flags_of(p) & RILL_PROD_F_FENCING);
  CHECK_RC(rill_consumer_arm(c), 1); /* message 7 is there */
  uint64_t got;
  rill_meta m;
  CHECK_RC(rill_recv(c, &got, sizeof got, &m), sizeof got);
  CHECK_EQ(got, 7);
  CHECK_RC(rill_consumer_arm(c), 0); /* armed now */
  CHECK(!tu_wakeup_ready(w, 0));
  send_u64(p, 8);
  CHECK(tu_wakeup_ready(w, 10000));
  CHECK_RC(rill_recv(c, &got, sizeof got, &m), sizeof got);
  CHECK_EQ(got, 8);
  CHECK_OK(rill_producer_leave(p));
  /* A producer that joins later fences from its join: asked before. */
  CHECK_OK(rill_producer_join(r, "arm", &p));
  CHECK_EQ(flags_of(p) & (RILL_PROD_F_LAZY | RILL_PROD_F_FENCING),
           RILL_PROD_F_LAZY | RILL_PROD_F_FENCING);
  CHECK_EQ(p->fence_each, 1);
  CHECK_OK(rill_producer_leave(p));
  CHECK_OK(rill_consumer_leave(c));
  printf("  arm: \"look\" before the producer fenced, armed and signalled after\n");
}

int main(int argc, char **argv) {
  tu_start_roles("test_lazyfence", 120, argc, argv, roles);
#if !TU_WINDOWS
  CHECK(setenv("RILL_LAZY_FENCE", "1", 1) == 0);
#endif
  rill_channel_opts co = {.depth = 64, .mtu = 64};
  uint64_t seq0;
  rill_region *r = tu_channel_new("lz", 1 << 20, "ch", &co, &seq0);
  rill_producer *p;
  CHECK_OK(rill_producer_join(r, "ch", &p));
  CHECK_EQ(flags_of(p) & (RILL_PROD_F_ASYM | RILL_PROD_F_LAZY | RILL_PROD_F_FENCING),
           RILL_PROD_F_LAZY);
  t_busy(r, p);
  CHECK_OK(rill_producer_leave(p));
  t_sleeper(r);
  t_arm(r);
  CHECK_OK(rill_region_close(r));
  return tu_pass("LAZY producers fence only when asked, and lose no wake-up");
}
