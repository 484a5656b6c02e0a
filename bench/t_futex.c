/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill_bench reference for sleeping round trips on Linux:
 *
 * "futex": the cache-line exchange (bench/t_ring.c) through the kernel: one
 * 32-bit word at the start of a shared page.  Side 0 stores an odd v and
 * FUTEX_WAKEs, then FUTEX_WAITs until the word is v + 1; side 1 FUTEX_WAITs
 * until it is v, stores v + 1 and FUTEX_WAKEs.  Shared (not _PRIVATE)
 * futex ops: the word is shared between two processes.  No spinning: a
 * side that finds the word unchanged always parks.
 */
#include "bench.h"

#include <errno.h>
#include <linux/futex.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

static int fx_open(bench_test *t, int side, void **out) {
  (void)side;
  *out = t->shm.p;
  return 0;
}

static void fx_close(void *ep) { (void)ep; }

static int fx_wake(_Atomic uint32_t *w) {
  if (syscall(SYS_futex, (void *)w, FUTEX_WAKE, 1, NULL, NULL, 0) < 0)
    return bench_fail("FUTEX_WAKE: %s", strerror(errno));
  return 0;
}

/* Parks until the word is WANT.  A wait of BENCH_WAIT_NS counts as an error
 * and waits again, BENCH_SPIN_TIMEOUT_NS at most in all. */
static int fx_wait_for(_Atomic uint32_t *w, uint32_t want, uint64_t *errs) {
  const struct timespec slice = bench_timespec(BENCH_WAIT_NS);
  bench_spin sp = BENCH_SPIN_INIT;
  for (;;) {
    /* Acquire: pairs with the other side's release store of WANT in
     * fx_ping() / fx_pong(). */
    uint32_t x = atomic_load_explicit(w, memory_order_acquire);
    if (x == want) return 0;
    if (syscall(SYS_futex, (void *)w, FUTEX_WAIT, x, &slice, NULL, 0) == 0 ||
        errno == EAGAIN || errno == EINTR)
      continue;
    if (errno != ETIMEDOUT) return bench_fail("FUTEX_WAIT: %s", strerror(errno));
    *errs += 1;
    if (bench_spin_slow(&sp)) return -1;
  }
}

static int fx_ping(void *ep, uint64_t seq, uint64_t count, uint64_t *samples,
                   uint64_t *errors) {
  _Atomic uint32_t *w = ep;
  uint64_t errs = 0;
  int rc = 0;
  for (uint64_t i = 0; i < count; i++) {
    uint32_t v = (uint32_t)(2 * (seq + i) + 1);
    uint64_t t0 = bench_now_ns();
    /* Release: pairs with the acquire load in side 1's fx_wait_for(). */
    atomic_store_explicit(w, v, memory_order_release);
    if ((rc = fx_wake(w)) != 0 || (rc = fx_wait_for(w, v + 1, &errs)) != 0)
      break;
    uint64_t t1 = bench_now_ns();
    if (samples) samples[i] = t1 - t0;
  }
  *errors += errs;
  return rc;
}

static int fx_pong(void *ep, uint64_t seq, uint64_t count, uint64_t *errors) {
  _Atomic uint32_t *w = ep;
  uint64_t errs = 0;
  int rc = 0;
  for (uint64_t i = 0; i < count; i++) {
    uint32_t v = (uint32_t)(2 * (seq + i) + 1);
    if ((rc = fx_wait_for(w, v, &errs)) != 0) break;
    /* Release: pairs with the acquire load in side 0's fx_wait_for(). */
    atomic_store_explicit(w, v + 1, memory_order_release);
    if ((rc = fx_wake(w)) != 0) break;
  }
  *errors += errs;
  return rc;
}

const bench_transport bench_futex = {
    .name = "futex",
    .kinds = BENCH_RTT,
    .blocking = 1, /* the kernel wakes each side: short warm-up */
    .rtt_max = BENCH_SLEEP_RTT_PER_RUN,
    .setup = bench_page_setup, /* one zeroed shared page */
    .teardown = NULL,
    .open = fx_open,
    .close = fx_close,
    .ping = fx_ping,
    .pong = fx_pong,
};
