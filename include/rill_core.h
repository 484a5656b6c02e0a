/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill core: the data path of a rill channel over memory the caller
 * provides, with no heap, no system calls, no clock and no libc beyond
 * memcpy and memset (librill_core.a, built -ffreestanding: for a kernel,
 * firmware, a no_std runtime, or any address space the caller maps
 * itself).
 *
 * The core is the layer under librill (docs/PROTOCOL.md §6): it lays out a
 * channel in memory (the same bytes rill_channel_create() writes into a
 * region: a normal rill consumer reads a channel the core made, and the
 * other way round), publishes descriptors (credits from the consumers'
 * cursors, placement in the data ring, fragments, reserve/commit,
 * batches), and polls, checks and reassembles them.  librill runs this
 * very code: src/producer.c and src/consumer.c include the core's
 * implementation (src/core/) and inline it into rill_send(), rill_poll()
 * and rill_recv().  What needs the operating system stays in librill:
 * regions and files, locks, liveness and eviction, waiting (futexes,
 * membarrier, the consumer's fd), clocks, heartbeats and latency samples.
 *
 * Everything is in the vocabulary of rill.h (included): the error codes
 * (returned negated), rill_channel_opts, rill_view, rill_meta, rill_msg,
 * RILL_CTL_*, RILL_RELIABLE and RILL_LOSSY.  Every call returns 0 (or a
 * count, or a size) on success and a negative RILL_E* code on failure;
 * none prints, aborts, exits or allocates.  A NULL handle or pointer
 * where the call needs one is -RILL_EINVAL; a data buffer may be NULL
 * only with a length of 0.  The core has no rill_strerror(): link librill
 * for it, or map the codes yourself.
 *
 * Handles.  rill_core_producer and rill_core_consumer are plain structs
 * the caller allocates (on the stack, statically, anywhere): their fields
 * are private, and their size may change from one version to the next
 * (the core is a static library: rebuild with its header).  A handle is
 * used by one thread at a time; a channel has one producer and up to
 * max_consumers consumers, each in a slot of its own, in any threads or
 * processes that share the memory.
 *
 * What the core does not do, and librill does: it takes no lock, so it
 * cannot tell a live endpoint from a dead one, and it is the caller's job
 * to run one producer per channel and one consumer per slot.  A librill
 * endpoint sharing a channel with core endpoints sees them as endpoints
 * without a lock: its waiting calls report a core producer dead
 * (-RILL_EDEAD) rather than wait for it (poll instead), a librill producer
 * may evict a core reliable consumer that holds it back (after its
 * eviction timeout, 1 s by default; rill_producer_set_evict(p,
 * RILL_FOREVER) never does), and rill_producer_wait_consumers() does not
 * count core consumers.  A core producer makes no wake-up (no futex), and
 * a core consumer wakes no producer parked for credit (the producer looks
 * again every 10 ms).  Without a clock (rill_core_producer_set_clock())
 * a core producer stamps no descriptor (tspub 0) and consumers take no
 * latency sample from it; a core consumer writes no heartbeat.
 */
#ifndef RILL_CORE_H
#define RILL_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "rill.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The shared-memory structs (src/layout.h): the core's handles point into
 * the channel. */
struct rill_desc;
struct rill_prod_page;
struct rill_wait_page;
struct rill_cursor;

/* ---- channel layout ---------------------------------------------------- */

/* A channel's memory starts at a multiple of this (a page of the layout
 * is 4096 bytes, docs/PROTOCOL.md §2; the core needs the cache-line
 * alignment of its descriptors and counters, and the 8-byte alignment of
 * every atomic). */
#define RILL_CORE_ALIGN 64u

/* Bytes a channel with OPTS (NULL: the defaults) takes, as
 * rill_channel_footprint(): 0 if OPTS are invalid. */
uint64_t rill_core_channel_footprint(const rill_channel_opts *opts);

/* Lays out a channel with OPTS (NULL: the defaults; as
 * rill_channel_create() takes them) in the SIZE bytes at MEM: zeroes the
 * footprint, writes the header (its name NAME, or none if NULL; its
 * creation time CREATED_NS, CLOCK_REALTIME ns, or 0), the producer's
 * first sequence number and the meta ring's slots, and stores the magic
 * last, with release.  The bytes are those rill_channel_create() writes
 * for the same options, name and time.  Returns 0; -RILL_EINVAL for a
 * NULL or misaligned MEM (RILL_CORE_ALIGN), an invalid NAME or invalid
 * options; -RILL_ENOSPC if SIZE is smaller than the footprint. */
int rill_core_channel_new(void *mem, uint64_t size, const char *name,
                          const rill_channel_opts *opts, uint64_t created_ns);

/* What a channel's header says, as validated by rill_core_channel_get(). */
typedef struct rill_core_channel_info {
  uint64_t size;          /* footprint in bytes                        */
  uint32_t depth;         /* descriptors in the meta ring               */
  uint32_t mtu;           /* largest payload of one descriptor          */
  uint32_t max_consumers; /* cursor slots                               */
  uint32_t reserved0;
  uint64_t max_msg;       /* largest reassembled message                */
  uint64_t seq0;          /* first sequence number                      */
  uint64_t created_ns;    /* CLOCK_REALTIME ns, as written at creation  */
  uint64_t data_chunks;   /* 64-byte chunks in the data ring            */
  char name[40];          /* NUL-terminated                             */
} rill_core_channel_info; /* 96 bytes */

#ifndef __cplusplus
_Static_assert(sizeof(rill_core_channel_info) == 96, "rill_core_channel_info size");
_Static_assert(offsetof(rill_core_channel_info, depth) == 8, "info depth");
_Static_assert(offsetof(rill_core_channel_info, max_msg) == 24, "info max_msg");
_Static_assert(offsetof(rill_core_channel_info, data_chunks) == 48, "info data_chunks");
_Static_assert(offsetof(rill_core_channel_info, name) == 56, "info name");
#endif

/* Validates the channel in the SIZE bytes at MEM as a joiner does
 * (docs/PROTOCOL.md §2.1: magic, loaded with acquire; version; every
 * size and offset against the header's own options and against SIZE) and
 * fills *INFO if INFO is not NULL.  Returns 0; -RILL_EINVAL (NULL or
 * misaligned MEM); -RILL_ECORRUPT (SIZE smaller than a header, or a field
 * out of range); -RILL_EMAGIC; -RILL_EVERSION. */
int rill_core_channel_get(const void *mem, uint64_t size, rill_core_channel_info *info);

/* ---- producer ---------------------------------------------------------- */

typedef struct rill_core_producer {
  /* private: touched by every publish */
  struct rill_desc *meta;  /* the meta ring                               */
  uint8_t *data;           /* the data ring                               */
  uint64_t mask;           /* depth - 1                                   */
  uint64_t seq;            /* next sequence number                        */
  uint64_t chunk;          /* next free chunk of the data ring            */
  uint64_t data_chunks;
  uint64_t cr_avail;       /* descriptors it may publish before a refresh */
  uint64_t res_chunk;      /* reserved buffer: its chunk,                 */
  uint64_t res_cap;        /* its bytes (UINT64_MAX: nothing reserved),   */
  uint64_t res_count;      /* and how many (reserve_many)                 */
  uint32_t mtu;
  uint32_t stamp_seen;     /* stamp_req when it last stamped tspub        */
  uint64_t msgs, bytes, backpressure; /* written to the producer page by flushes */
  struct rill_wait_page *wait; /* its stamp_req is loaded per publish     */
  uint32_t stamp_all;      /* 1: stamp every publish                      */
  uint32_t stamp_every;    /* RILL_STAMP_EVERY was asked for              */
  /* private: cold */
  uint64_t depth, max_msg;
  uint64_t seq_flushed;    /* seq as last written to the producer page    */
  struct rill_prod_page *prod;
  uint8_t *cursors;        /* cursor page of slot 0                       */
  uint32_t max_consumers, reserved0;
  uint64_t (*clock)(void *arg); /* rill_core_producer_set_clock()         */
  void *clock_arg;
  /* per slot, the seq flushed by the last refresh that found it not
   * joining (docs/PROTOCOL.md §3.5 "seen"), valid where seen_ok's bit is */
  uint64_t seen[256];
  uint64_t seen_ok[4];
} rill_core_producer;

/* Joins the channel at MEM (SIZE bytes, validated as
 * rill_core_channel_get() does) as its producer, into *P: resumes the
 * sequence where an earlier producer stopped (docs/PROTOCOL.md §3.6),
 * marks the channel joined and flushes.  The core takes no lock: the
 * caller makes sure no other producer is joined.  Returns 0 or an error
 * of rill_core_channel_get(). */
int rill_core_producer_join(rill_core_producer *p, void *mem, uint64_t size);

/* Flushes, then marks the channel closed (state "left", release): a
 * consumer that waits with librill returns -RILL_ECLOSED once it has read
 * everything.  P may be joined again afterwards.  Accepts NULL; returns 0. */
int rill_core_producer_leave(rill_core_producer *p);

/* The clock a producer stamps descriptors with (docs/PROTOCOL.md §2.4):
 * NOW(ARG) returns CLOCK_MONOTONIC nanoseconds (or the same clock as the
 * consumers' latency samples), read only for the descriptors that must
 * carry a stamp.  NULL (the default): no stamps, tspub 0.  Returns 0 or
 * -RILL_EINVAL. */
int rill_core_producer_set_clock(rill_core_producer *p, uint64_t (*now)(void *arg),
                                 void *arg);

/* As rill_producer_set_stamp(): RILL_STAMP_SAMPLED or RILL_STAMP_EVERY
 * (needs a clock).  Returns 0 or -RILL_EINVAL. */
int rill_core_producer_set_stamp(rill_core_producer *p, uint32_t mode);

/* Writes the producer's counters and position to the producer page now
 * (otherwise done when its credit runs out).  Returns 0 or -RILL_EINVAL. */
int rill_core_producer_flush(rill_core_producer *p);

/* The sequence number the next descriptor gets; 0 for NULL. */
uint64_t rill_core_producer_seq(const rill_core_producer *p);

/* As rill_reserve(): N bytes (N <= mtu) in the data ring at *BUF.
 * Returns 0, -RILL_EAGAIN (no credit: a reliable consumer has not freed
 * room yet; counted as backpressure), -RILL_EMSGSIZE or -RILL_EINVAL. */
int rill_core_reserve(rill_core_producer *p, size_t n, void **buf);

/* As rill_commit_ts(): publishes the reserved buffer as a descriptor of N
 * bytes with SIG, CTL (RILL_CTL_MSG for a whole message) and TSORIG.
 * Returns 0, or -RILL_EINVAL if nothing is reserved or N is larger than
 * the reservation. */
int rill_core_commit(rill_core_producer *p, size_t n, uint64_t sig, uint16_t ctl,
                     uint32_t tsorig);

/* As rill_commit_at(): the N bytes at AT, a multiple of 64 bytes into the
 * reserved buffer.  Returns 0 or -RILL_EINVAL. */
int rill_core_commit_at(rill_core_producer *p, const void *at, size_t n, uint64_t sig,
                        uint16_t ctl);

/* As rill_send(), with CTL's ERR and application bits on every fragment
 * (SOM and EOM are the send's own): copies N bytes (N <= max_msg) and
 * publishes them as one message, in fragments of at most mtu bytes, all
 * or nothing.  Returns 0, -RILL_EAGAIN (no credit for every fragment:
 * nothing published), -RILL_EMSGSIZE or -RILL_EINVAL. */
int rill_core_send(rill_core_producer *p, const void *data, size_t n, uint64_t sig,
                   uint16_t ctl);

/* As rill_send_many(), rill_reserve_many() and rill_commit_many():
 * batches, all or nothing, with one credit check.  They return as those
 * do. */
int rill_core_send_many(rill_core_producer *p, const rill_msg *m, size_t count);
int rill_core_reserve_many(rill_core_producer *p, size_t count, size_t n, void **bufs);
int rill_core_commit_many(rill_core_producer *p, const rill_msg *m, size_t count);

/* ---- consumer ---------------------------------------------------------- */

typedef struct rill_core_consumer {
  /* private: touched by every poll */
  const struct rill_desc *meta; /* the meta ring                          */
  const uint8_t *data;     /* the data ring                               */
  uint64_t mask;           /* depth - 1                                   */
  uint64_t seq;            /* next sequence number to read                */
  uint64_t data_bytes;
  uint32_t mtu;
  uint16_t lossy;
  uint16_t lat_due;        /* librill: a latency sample is due            */
  uint64_t flush_left;     /* polls until the cursor is written           */
  uint32_t idle_left;      /* empty polls until one counts in flush_left  */
  uint32_t reserved0;
  uint64_t streak;         /* messages taken since the last empty poll    */
  uint64_t seq_flushed;    /* seq as last written to the cursor           */
  uint64_t next_off;       /* where the next payload likely starts        */
  uint64_t msgs, bytes, overrun_poll, overrun_read, lost; /* the cursor's counters */
  uint64_t jumped;         /* sequence numbers skipped by overruns since join */
  /* private: reassembly (rill_core_recv) */
  uint8_t *asm_buf;        /* max_msg bytes: rill_core_consumer_set_buffer() */
  uint64_t asm_len;        /* bytes gathered so far                       */
  uint64_t asm_frags;      /* fragments gathered (0: none in progress)    */
  uint64_t lost_acc;       /* sequence numbers skipped since the last message */
  int pend;                /* a whole message waits in asm_buf (EMSGSIZE) */
  uint32_t reserved1;
  rill_meta pend_meta;
  /* private: cold */
  uint64_t depth, max_msg;
  uint64_t rng;            /* jitter of the flushes                       */
  uint64_t flush_every, seq0;
  struct rill_cursor *cur; /* its own cursor page                         */
  const struct rill_prod_page *prod;
  struct rill_wait_page *wait;
  uint32_t slot, reserved2;
} rill_core_consumer;

/* Joins the channel at MEM (SIZE bytes, validated as
 * rill_core_channel_get() does) as a new consumer in slot SLOT, in MODE
 * (RILL_RELIABLE or RILL_LOSSY), into *C (docs/PROTOCOL.md §3.4,
 * joining): its counters start at zero and it starts at the producer's
 * flushed position, so a consumer that joins before the first message
 * sees every message.  The core takes no lock: the caller gives each
 * consumer a slot of its own.  Returns 0; -RILL_EINVAL (SLOT not below
 * max_consumers, a bad MODE); -RILL_EBUSY (the slot is not free: a
 * consumer is joined there, or one left it without leaving; rejoin it);
 * or an error of rill_core_channel_get(). */
int rill_core_consumer_join(rill_core_consumer *c, void *mem, uint64_t size, uint32_t slot,
                            int mode);

/* Takes slot SLOT back, in the mode it had, from the position it last
 * flushed, keeping its counters (docs/PROTOCOL.md §3.4, rejoin): for a
 * consumer that restarted, whose earlier self the caller knows is gone.
 * Returns 0; -RILL_EINVAL (no such slot); -RILL_ENOENT (the slot was
 * never used); -RILL_ECORRUPT (its mode is neither); or an error of
 * rill_core_channel_get(). */
int rill_core_consumer_rejoin(rill_core_consumer *c, void *mem, uint64_t size,
                              uint32_t slot);

/* Flushes the cursor and frees the slot.  Accepts NULL; returns 0. */
int rill_core_consumer_leave(rill_core_consumer *c);

/* The buffer rill_core_recv() reassembles messages of several fragments
 * in: BUF of CAP bytes, at least the channel's max_msg (the caller keeps
 * it for as long as the consumer is joined).  Without one, such a
 * message makes rill_core_recv() return -RILL_ENOMEM.  Returns 0 or
 * -RILL_EINVAL (CAP below max_msg). */
int rill_core_consumer_set_buffer(rill_core_consumer *c, void *buf, uint64_t cap);

/* Writes the consumer's counters and position to its cursor now (which
 * gives a reliable consumer's credit back to the producer); otherwise
 * done every so many polls and when a poll finds nothing.  Returns 0 or
 * -RILL_EINVAL. */
int rill_core_consumer_flush(rill_core_consumer *c);

/* The next sequence number the consumer will read; 0 for NULL. */
uint64_t rill_core_consumer_seq(const rill_core_consumer *c);

/* As rill_poll(): the next descriptor, 0 with *V filled (V->data points
 * into the data ring), -RILL_EAGAIN, -RILL_EOVERRUN with V->lost, or
 * -RILL_ECORRUPT; never reads outside the channel. */
int rill_core_poll(rill_core_consumer *c, rill_view *v);

/* As rill_poll_many(): up to MAX ready descriptors in order into
 * V[0..]; returns how many, or what rill_core_poll() returns for the
 * first. */
int rill_core_poll_many(rill_core_consumer *c, rill_view *v, size_t max);

/* As rill_check(): after reading V->data, 0 if the payload was not
 * overwritten meanwhile, -RILL_EOVERRUN if it may have been. */
int rill_core_check(rill_core_consumer *c, const rill_view *v);

/* As rill_recv(): the next whole message, its fragments reassembled, into
 * BUF (CAP bytes).  Returns its size; -RILL_EAGAIN; -RILL_EMSGSIZE with
 * META->sz set (kept for a call with a larger buffer); -RILL_ENOMEM (a
 * message of several fragments and no buffer: rill_core_consumer_set_buffer;
 * the fragment stays for a later call); -RILL_EINVAL. */
int64_t rill_core_recv(rill_core_consumer *c, void *buf, size_t cap, rill_meta *meta);

#ifdef __cplusplus
}
#endif
#endif
