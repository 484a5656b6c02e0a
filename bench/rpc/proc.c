/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill_bench's rpc suite: payloads and the closed loop's bookkeeping. */
#include "rpcbench.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rb_server_cpu = -1;
const char *rb_dir;

/* ---- payloads ------------------------------------------------------------- */

static uint64_t word(uint64_t seq, unsigned i) {
  uint64_t x = (seq + i) * 0x9e3779b97f4a7c15ull;
  return x ^ (x >> 29) ^ ((uint64_t)i << 56);
}

void rb_fill(void *buf, uint64_t seq) {
  unsigned char *p = buf;
  memcpy(p, &seq, 8);
  for (unsigned i = 1; i < RB_PAYLOAD / 8; i++) {
    uint64_t w = word(seq, i);
    memcpy(p + 8 * i, &w, 8);
  }
}

int rb_payload_ok(const void *buf, size_t n, uint64_t seq) {
  unsigned char want[RB_PAYLOAD];
  if (n != RB_PAYLOAD) return 0;
  rb_fill(want, seq);
  return memcmp(buf, want, RB_PAYLOAD) == 0;
}

uint64_t rb_payload_seq(const void *buf) {
  uint64_t s;
  memcpy(&s, buf, 8);
  return s;
}

/* ---- one run -------------------------------------------------------------- */

void rb_run_start(rb_run *r) {
  r->phase = 0;
  r->phase_start = r->last_progress = bench_now_ns();
  r->next_check = r->phase_start + 50000000ull;
  r->phase_done = r->t0 = r->t1 = r->seq = r->errors = 0;
  r->idle = 0;
  r->nrtt = 0;
  r->failure[0] = 0;
}

void rb_run_done(rb_run *r, uint64_t sent, uint64_t now) {
  r->last_progress = now;
  uint64_t done = ++r->phase_done, took = now - r->phase_start;
  if (r->phase == 1) {
    if (r->nrtt == r->cap) {
      size_t cap = r->cap ? 2 * r->cap : (size_t)1 << 22;
      uint64_t *p = realloc(r->rtt, cap * sizeof *p);
      if (!p) {
        rb_fail(r, "out of memory for %zu round-trip samples", cap);
        r->phase = 2;
        return;
      }
      r->rtt = p;
      r->cap = cap;
    }
    r->rtt[r->nrtt++] = now - sent;
    if (took >= r->meas_ns || (r->meas_n && done >= r->meas_n)) {
      r->phase = 2;
      r->t1 = now;
    }
  } else if (r->phase == 0 && (took >= r->warm_ns || (r->warm_n && done >= r->warm_n))) {
    r->phase = 1;
    r->phase_start = r->t0 = now;
    r->phase_done = 0;
  }
}

int rb_fail(rb_run *r, const char *fmt, ...) {
  if (!r->failure[0]) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->failure, sizeof r->failure, fmt, ap);
    va_end(ap);
  }
  r->phase = 2;
  return -1;
}

int rb_run_idle(rb_run *r) {
  if (++r->idle & 255u) return 0;
  uint64_t now = bench_now_ns();
  if (now < r->next_check) return 0;
  r->next_check = now + 50000000ull; /* look at the server every 50 ms */
  char why[120];
  if (r->server && !bench_proc_alive(r->server, why, sizeof why))
    return rb_fail(r, "the server %s", why);
  if (now - r->last_progress > RB_STALL_NS)
    return rb_fail(r, "no response for %llu s", (unsigned long long)(RB_STALL_NS / 1000000000ull));
  return 0;
}

