/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill_bench reference for sleeping round trips on Windows:
 *
 * "event": two processes ping-pong through two named auto-reset events, the
 * floor of any parked wake-up (rill's parked waits are named semaphores,
 * docs/PROTOCOL.md §5; under Wine each SetEvent and each wait is a round
 * trip to wineserver).  Side 0 stores an odd v in a shared word and sets
 * event A, then waits on event B; side 1 waits on A, checks the word is v,
 * stores v + 1 and sets B; side 0 checks it finds v + 1.  No spinning: each
 * side always waits in WaitForSingleObject.  The parent makes both events
 * (Local\rill-bench-ev-PID-N-a and -b) before the sides start, and each
 * side opens them by name.
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct ev_ep {
  HANDLE go, back;        /* side 0 sets go and waits on back; side 1 the reverse */
  _Atomic uint64_t *word; /* the payload: the exchange's sequence */
} ev_ep;

static void ev_name(const bench_test *t, char which, char *buf, size_t len) {
  snprintf(buf, len, "%s-%c", t->region, which);
}

static int ev_setup(bench_test *t, char *err, size_t errlen) {
  static unsigned counter;
  if (bench_page_setup(t, err, errlen)) return -1;
  snprintf(t->region, sizeof t->region, "Local\\rill-bench-ev-%lu-%u",
           (unsigned long)GetCurrentProcessId(), counter++);
  for (int i = 0; i < 2; i++) {
    char name[64];
    ev_name(t, i ? 'b' : 'a', name, sizeof name);
    HANDLE h = CreateEventA(NULL, FALSE, FALSE, name); /* auto-reset, unset */
    if (!h || GetLastError() == ERROR_ALREADY_EXISTS) {
      snprintf(err, errlen, "CreateEventA(%s): error %lu", name,
               (unsigned long)GetLastError());
      if (h) CloseHandle(h);
      return -1;
    }
    t->h[i] = (intptr_t)h;
  }
  return 0;
}

static void ev_teardown(bench_test *t) {
  for (int i = 0; i < 2; i++)
    if (t->h[i]) {
      CloseHandle((HANDLE)t->h[i]);
      t->h[i] = 0;
    }
}

static void ev_close(void *vep) {
  ev_ep *e = vep;
  if (!e) return;
  if (e->go) CloseHandle(e->go);
  if (e->back) CloseHandle(e->back);
  free(e);
}

static int ev_open(bench_test *t, int side, void **out) {
  ev_ep *e = calloc(1, sizeof *e);
  if (!e) return bench_fail("out of memory");
  char a[64], b[64];
  ev_name(t, 'a', a, sizeof a);
  ev_name(t, 'b', b, sizeof b);
  const DWORD access = SYNCHRONIZE | EVENT_MODIFY_STATE;
  e->go = OpenEventA(access, FALSE, side == 0 ? a : b);
  e->back = OpenEventA(access, FALSE, side == 0 ? b : a);
  e->word = t->shm.p;
  if (!e->go || !e->back) {
    ev_close(e);
    return bench_fail("OpenEventA(%s): error %lu", a,
                      (unsigned long)GetLastError());
  }
  *out = e;
  return 0;
}

/* Waits for the other side's event; then the word must be WANT (a wrong
 * word counts as an error).  A wait of BENCH_WAIT_NS counts as an error and
 * waits again, BENCH_SPIN_TIMEOUT_NS at most in all. */
static int ev_wait(ev_ep *e, uint64_t want, uint64_t *errs) {
  bench_spin sp = BENCH_SPIN_INIT;
  for (;;) {
    DWORD r = WaitForSingleObject(e->back, (DWORD)(BENCH_WAIT_NS / 1000000ull));
    if (r == WAIT_OBJECT_0) break;
    if (r != WAIT_TIMEOUT)
      return bench_fail("WaitForSingleObject: error %lu",
                        (unsigned long)GetLastError());
    *errs += 1;
    if (bench_spin_slow(&sp)) return -1;
  }
  /* Acquire: pairs with the other side's release store before SetEvent
   * (SetEvent and the wait order it too; the atomic says so in C). */
  if (atomic_load_explicit(e->word, memory_order_acquire) != want) *errs += 1;
  return 0;
}

static int ev_set(ev_ep *e, uint64_t v) {
  /* Release: pairs with the acquire load in the other side's ev_wait(). */
  atomic_store_explicit(e->word, v, memory_order_release);
  if (!SetEvent(e->go))
    return bench_fail("SetEvent: error %lu", (unsigned long)GetLastError());
  return 0;
}

static int ev_ping(void *vep, uint64_t seq, uint64_t count, uint64_t *samples,
                   uint64_t *errors) {
  ev_ep *e = vep;
  uint64_t errs = 0;
  int rc = 0;
  for (uint64_t i = 0; i < count; i++) {
    uint64_t v = 2 * (seq + i) + 1;
    uint64_t t0 = bench_now_ns();
    if ((rc = ev_set(e, v)) != 0 || (rc = ev_wait(e, v + 1, &errs)) != 0)
      break;
    uint64_t t1 = bench_now_ns();
    if (samples) samples[i] = t1 - t0;
  }
  *errors += errs;
  return rc;
}

static int ev_pong(void *vep, uint64_t seq, uint64_t count, uint64_t *errors) {
  ev_ep *e = vep;
  uint64_t errs = 0;
  int rc = 0;
  for (uint64_t i = 0; i < count; i++) {
    uint64_t v = 2 * (seq + i) + 1;
    if ((rc = ev_wait(e, v, &errs)) != 0 || (rc = ev_set(e, v + 1)) != 0)
      break;
  }
  *errors += errs;
  return rc;
}

const bench_transport bench_event = {
    .name = "event",
    .kinds = BENCH_RTT,
    .blocking = 1, /* the kernel (wineserver) wakes each side: short warm-up */
    .rtt_max = BENCH_SLEEP_RTT_PER_RUN,
    .setup = ev_setup,
    .teardown = ev_teardown,
    .open = ev_open,
    .close = ev_close,
    .ping = ev_ping,
    .pong = ev_pong,
};
