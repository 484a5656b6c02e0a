/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* Process-local handles.  Nothing here is shared memory. */
#ifndef RILL_INTERNAL_H
#define RILL_INTERNAL_H

#include "core/core.h"
#include "platform.h"
#include "rill.h"

struct rill_region {
  int fd;        /* holds a shared lock on byte 0 while the handle lives */
  int readonly;  /* RILL_REGION_READONLY: fd read-only, nothing mapped */
  uint64_t size; /* the file's length when it was opened */
  uint8_t *base; /* whole file, read-write; NULL if readonly.  Only
                  * endpoints' calls (create, join) touch it: what observers
                  * read comes through rill__region_read() */
  char name[RILL_OBJ_NAME_SZ];
  char dir[RILL_PATH_MAX];
};

/* A channel as found in a region: validated copies of its header fields
 * (core/core.h). */
typedef rill_core__chan rill_chan_info;

/* Copies N bytes at OFF of region R into BUF with pread, never through the
 * mapping: a file shrunk meanwhile (by anyone who can write it) gives
 * -RILL_ETRUNC, never a SIGBUS.  -RILL_ECORRUPT if OFF + N lies past the
 * length R was opened with. */
int rill__region_read(rill_region *r, uint64_t off, void *buf, size_t n);
/* rill__region_read() of N <= RILL_PAGE bytes that change under us (an
 * endpoint's page), read until two copies agree (a few tries; then the
 * last copy).  See region.c for what a copy guarantees. */
int rill__region_read_stable(rill_region *r, uint64_t off, void *buf, size_t n);

/* Validates name (1..RILL_NAME_MAX of [A-Za-z0-9._-], not starting '.'). */
int rill__name_ok(const char *name);
/* Path of the fd FIFO of consumer SLOT: DIR/.rill-fifo@REGION@CHANNEL@SLOT
 * ('@' cannot occur in a name).  0 or -RILL_EINVAL if it does not fit. */
int rill__fifo_path(char *out, size_t cap, const char *dir, const char *region,
                    const char *chan, uint32_t slot);

#define RILL_SPIN_DEFAULT_NS 20000ull     /* spin budget of waiting calls   */
#define RILL_EVICT_DEFAULT_NS 1000000000ull
#define RILL_LIVE_SLICE_NS 50000000ull    /* longest park between liveness checks */
/* Longest park of a wait for a channel or consumers, whose waker may use a
 * librill (0.2) that makes no wake-up there. */
#define RILL_NOWAKE_SLICE_NS 1000000000ull

static inline uint64_t rill__add_sat(uint64_t a, uint64_t b) {
  return a + b < a ? UINT64_MAX : a + b;
}
/* RILL_PEER_* of an endpoint whose lock byte is at OFF, queried through FD. */
uint32_t rill__liveness(int fd, uint64_t off, int joined);
/* Finds channel NAME in R and validates its header against the region. */
int rill__chan_find(rill_region *r, const char *name, rill_chan_info *ci);

/* CLOCK_MONOTONIC nanoseconds from the tick counter: the clock is read only
 * when a millisecond's worth of ticks has passed since the last reading, and
 * each reading re-measures the tick rate.  Costs a tick read per stamp. */
typedef struct rill_clock {
  uint64_t tk_base, ns_base;
  uint64_t mult;   /* ns per tick << 32; 0 until measured */
  uint64_t limit;  /* ticks after which the clock is read again */
} rill_clock;

void rill__clock_init(rill_clock *k);
uint64_t rill__clock_rebase(rill_clock *k, uint64_t tk);

static inline uint64_t rill__clock_ns(rill_clock *k) {
  uint64_t tk = rill__ticks();
  uint64_t d = tk - k->tk_base;
  if (d >= k->limit) return rill__clock_rebase(k, tk);
  return k->ns_base + ((d * k->mult) >> 32);
}

/* A producer: the core's handle (rill_core_producer, include/rill_core.h:
 * everything a publish touches but what follows) and what librill adds. */
struct rill_producer {
  rill_core_producer core; /* first: rill__prod_of() casts back */
  /* hot: touched by every publish */
  uint64_t hk_left;      /* publishes until housekeeping */
  const _Atomic uint32_t *arm_gen; /* the wait page's, loaded per publish */
  uint32_t arm_seen;     /* arm_gen when we last woke consumers */
  uint32_t fence_each;   /* 1: a fence after every publish (no asymmetric
                          * barriers, and not LAZY or FENCING already) */
  uint32_t lazy;         /* 1: LAZY and not yet FENCING: look at fence_req
                          * after every publish (docs/PROTOCOL.md §3.7a) */
  uint32_t pad_;
  const _Atomic uint32_t *fence_req; /* the wait page's */
  rill_clock clock;
  /* cold */
  uint64_t rng;
  int fd;
  uint64_t lock_off;
  uint64_t cursor_lock_off; /* lock byte of cursor slot 0 in the file */
  uint8_t *map;          /* the channel, read-write */
  uint64_t map_size;
  uint64_t spin_ns, evict_ns, evictions, wakes;
  uint64_t next_live_check; /* mono ns of the next dead-consumer check */
  int in_wait;              /* in rill_send_wait(): retries count no backpressure */
  struct rill_prod_slot {   /* per consumer slot, producer-local */
    uint32_t fd_seen;       /* its fd_gen when we last signalled it */
    uint32_t fifo_gen;      /* cursor gen the FIFO fd was opened for */
    int fifo_fd;            /* write end of its FIFO, or -1 */
    uint32_t dead_gen;      /* gen found dead at dead_since */
    uint64_t dead_since;    /* mono ns; 0 = not seen dead */
  } *slots;
  char region[RILL_OBJ_NAME_SZ], chan[RILL_OBJ_NAME_SZ];
  char dir[RILL_PATH_MAX];
};

/* The producer whose core handle is P (the core's hooks get that). */
static inline rill_producer *rill__prod_of(rill_core_producer *p) {
  return (rill_producer *)p;
}

/* rill_send() with the bits UCTL (application and ERR bits; SOM/EOM are
 * ignored) on every fragment; and its waiting form. */
int rill__send_ctl(rill_producer *p, const void *data, size_t n, uint64_t sig, uint16_t uctl);
int rill__send_wait_ctl(rill_producer *p, const void *data, size_t n, uint64_t sig,
                        uint16_t uctl, uint64_t timeout_ns);

/* Writes the producer's message and byte counters to its page, and
 * nothing else: not its position, which a consumer joining afresh starts
 * from (a request/response client's unanswered requests would be passed
 * over by a server that joins after it).  Two relaxed stores to the
 * producer's own line, cheap enough for once per call: what 'rill info'
 * counts a service's calls in flight from (rpc.c). */
void rill__producer_flush_counts(rill_producer *p);

/* The wake-up slow path: runs when arm_gen moved (a consumer parked or
 * armed its fd since the last look), or with FORCE when the producer
 * leaves. */
void rill__wake_consumers(rill_producer *p, uint32_t gen, int force);

/* A consumer that caught up after a streak of RILL_STREAM_STREAK messages
 * (core/consumer.h) waits this hold-off before it looks again (consumer.c;
 * local tuning, not part of the protocol: docs/PROTOCOL.md 3.2, "What a
 * consumer may do locally"). */
#define RILL_HOLDOFF_DEFAULT_NS 2000u

/* A consumer: the core's handle (rill_core_consumer, include/rill_core.h:
 * everything a poll and a receive touch) and what librill adds. */
struct rill_consumer {
  rill_core_consumer core; /* first: rill__cons_of() casts back */
  uint64_t stamp_asked_ns; /* mono ns of our last bump of stamp_req */
  uint64_t holdoff_ns;   /* rill_consumer_set_holdoff() */
  rill_clock clock;      /* for latency samples (the producer's kind) */
  int fd;
  uint64_t lock_off;
  uint64_t prod_lock_off; /* the producer's lock byte in the file */
  const uint8_t *map;    /* the channel, read-only */
  uint64_t map_size;
  uint64_t spin_ns;
  int fifo_fd;           /* read end of our FIFO, or -1 */
  int fence_flush;       /* 1 without asymmetric barriers */
  uint32_t mode;         /* file mode of the region, for the FIFO */
  char fifo[RILL_PATH_MAX];
  int manual;            /* rill_consumer_set_commit(): flushes write at most committed */
  uint64_t committed;    /* rill_consumer_commit()'s position */
};

/* The consumer whose core handle is C (the core's hooks get that). */
static inline rill_consumer *rill__cons_of(rill_core_consumer *c) {
  return (rill_consumer *)c;
}

/* 1 if the SIGBUS guard replaced pages of a mapping of C (its file was
 * shrunk): its calls that wait or flush then return -RILL_ETRUNC. */
static inline int rill__cons_lost(const rill_consumer *c) {
  return rill__map_lost(c->map) || rill__map_lost(c->core.cur) || rill__map_lost(c->core.wait);
}

/* Writes the cursor (and the heartbeat if HB) to shared memory, and wakes a
 * producer waiting for credit. */
/* rill_consumer_rejoin() resuming at the slot's cursor even where the
 * producer may not have counted the slot (docs/PROTOCOL.md §3.4 Rejoin):
 * for a request lane, whose clients never overwrite a request they have
 * not had answered (rpc.c). */
int rill__consumer_rejoin_at_cursor(rill_region *r, const char *name, uint32_t slot,
                                    rill_consumer **out);
void rill__cursor_flush(rill_consumer *c, int hb);
/* rill_recv_view() that waits as rill_recv_wait(). */
int64_t rill__recv_view_wait(rill_consumer *c, void *buf, size_t cap, rill_meta *meta,
                             const void **data, uint64_t timeout_ns);

#endif
