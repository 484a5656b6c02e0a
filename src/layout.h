/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* The bytes in shared memory.  docs/PROTOCOL.md is the contract; every size
 * and offset it states is asserted here.  All integers are in the host's byte
 * order (a region never leaves its host).  Shared memory holds offsets only.
 */
#ifndef RILL_LAYOUT_H
#define RILL_LAYOUT_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define RILL_LAYOUT_VERSION 2u
#define RILL_PAGE 4096u  /* unit of every section of the layout */
#define RILL_LINE 64u    /* cache line                          */
#define RILL_CHUNK 64u   /* data ring allocation unit           */
#define RILL_CHUNK_SHIFT 6
/* Most chunks a data ring may have: a descriptor's chunk field (u32) must
 * address every one of them. */
#define RILL_MAX_DATA_CHUNKS (1ull << 32)

/* "rillregn" and "rillchan" read as little-endian u64 */
#define RILL_REGION_MAGIC 0x6e6765726c6c6972ull
#define RILL_CHANNEL_MAGIC 0x6e6168636c6c6972ull

#define RILL_OBJ_NAME_SZ 40 /* RILL_NAME_MAX + NUL */
#define RILL_REGION_MAX_OBJECTS 62
#define RILL_OBJ_CHANNEL 1u

/* ---- region header: offset 0, 128 bytes, then the object table --------- */
typedef struct rill_region_hdr {
  _Atomic uint64_t magic;   /*  0 written last (release)                  */
  uint32_t version;         /*  8 RILL_LAYOUT_VERSION                     */
  uint32_t hdr_size;        /* 12 header + table = 4096                   */
  uint64_t size;            /* 16 total bytes of the region file          */
  uint64_t created_ns;      /* 24 CLOCK_REALTIME                          */
  uint32_t creator_pid;     /* 32                                         */
  uint32_t creator_uid;     /* 36                                         */
  uint32_t obj_max;         /* 40 = 62                                    */
  _Atomic uint32_t obj_cnt; /* 44 entries in use (release after entry)    */
  uint64_t alloc_off;       /* 48 first free byte (page multiple)         */
  uint8_t pad[72];          /* 56                                         */
} rill_region_hdr;

typedef struct rill_obj_entry {
  char name[RILL_OBJ_NAME_SZ]; /*  0 NUL-terminated                 */
  uint32_t type;               /* 40 RILL_OBJ_CHANNEL               */
  uint32_t flags;              /* 44 0                              */
  uint64_t off;                /* 48 from region start, page aligned */
  uint64_t size;               /* 56 bytes, page multiple            */
} rill_obj_entry;

#define RILL_TABLE_OFF 128u

_Static_assert(sizeof(rill_region_hdr) == 128, "region header size");
_Static_assert(offsetof(rill_region_hdr, version) == 8, "version");
_Static_assert(offsetof(rill_region_hdr, hdr_size) == 12, "hdr_size");
_Static_assert(offsetof(rill_region_hdr, size) == 16, "size");
_Static_assert(offsetof(rill_region_hdr, created_ns) == 24, "created_ns");
_Static_assert(offsetof(rill_region_hdr, creator_pid) == 32, "creator_pid");
_Static_assert(offsetof(rill_region_hdr, creator_uid) == 36, "creator_uid");
_Static_assert(offsetof(rill_region_hdr, obj_max) == 40, "obj_max");
_Static_assert(offsetof(rill_region_hdr, obj_cnt) == 44, "obj_cnt");
_Static_assert(offsetof(rill_region_hdr, alloc_off) == 48, "alloc_off");
_Static_assert(sizeof(rill_obj_entry) == 64, "object entry size");
_Static_assert(offsetof(rill_obj_entry, type) == 40, "entry type");
_Static_assert(offsetof(rill_obj_entry, off) == 48, "entry off");
_Static_assert(offsetof(rill_obj_entry, size) == 56, "entry size");
_Static_assert(RILL_TABLE_OFF + RILL_REGION_MAX_OBJECTS * 64 == RILL_PAGE,
               "header and table fill the first page");

/* ---- channel ------------------------------------------------------------
 * page 0          channel header (immutable after creation)
 * page 1          producer page (written by the producer only)
 * page 2          wait page (two counters every consumer may bump)
 * pages 3..       one cursor page per consumer slot (each written by its
 *                 consumer only)
 * meta ring       depth descriptors of 32 bytes, page aligned
 * data ring       data_chunks chunks of 64 bytes, page aligned
 */
typedef struct rill_chan_hdr {
  _Atomic uint64_t magic;  /*   0 written last (release)                    */
  uint32_t version;        /*   8                                           */
  uint32_t hdr_size;       /*  12 = 4096                                    */
  uint64_t size;           /*  16 footprint in bytes                        */
  uint32_t depth;          /*  24 power of 2                                */
  uint32_t mtu;            /*  28 1..65535                                  */
  uint32_t max_consumers;  /*  32 1..256                                    */
  uint32_t flags;          /*  36 0                                         */
  uint64_t max_msg;        /*  40                                           */
  uint64_t seq0;           /*  48 first sequence number                     */
  uint64_t data_chunks;    /*  56 (depth + 2) * ceil(mtu / 64)              */
  uint64_t prod_off;       /*  64 = 4096 (offsets from the channel start)   */
  uint64_t cursor_off;     /*  72 = 12288 (the wait page is at 8192)        */
  uint64_t cursor_stride;  /*  80 = 4096                                    */
  uint64_t meta_off;       /*  88                                           */
  uint64_t data_off;       /*  96                                           */
  uint64_t created_ns;     /* 104 CLOCK_REALTIME                            */
  char name[RILL_OBJ_NAME_SZ]; /* 112                                       */
} rill_chan_hdr;

_Static_assert(sizeof(rill_chan_hdr) == 152, "channel header size");
_Static_assert(offsetof(rill_chan_hdr, depth) == 24, "depth");
_Static_assert(offsetof(rill_chan_hdr, mtu) == 28, "mtu");
_Static_assert(offsetof(rill_chan_hdr, max_consumers) == 32, "max_consumers");
_Static_assert(offsetof(rill_chan_hdr, max_msg) == 40, "max_msg");
_Static_assert(offsetof(rill_chan_hdr, seq0) == 48, "seq0");
_Static_assert(offsetof(rill_chan_hdr, data_chunks) == 56, "data_chunks");
_Static_assert(offsetof(rill_chan_hdr, prod_off) == 64, "prod_off");
_Static_assert(offsetof(rill_chan_hdr, cursor_off) == 72, "cursor_off");
_Static_assert(offsetof(rill_chan_hdr, cursor_stride) == 80, "cursor_stride");
_Static_assert(offsetof(rill_chan_hdr, meta_off) == 88, "meta_off");
_Static_assert(offsetof(rill_chan_hdr, data_off) == 96, "data_off");
_Static_assert(offsetof(rill_chan_hdr, created_ns) == 104, "created_ns");
_Static_assert(offsetof(rill_chan_hdr, name) == 112, "name");

/* Producer page.  Line 0: position, state and wake word (read by every
 * consumer); line 1: counters; then the eviction table. */
typedef struct rill_prod_page {
  _Atomic uint64_t seq;     /*   0 next sequence number, as flushed       */
  _Atomic uint32_t state;   /*   8 RILL_PROD_NONE / JOINED / LEFT          */
  _Atomic uint32_t pid;     /*  12 pid of the producer (informative)       */
  _Atomic uint32_t wake;    /*  16 futex word: bumped to wake consumers    */
  _Atomic uint32_t flags;   /*  20 RILL_PROD_F_* of the joined producer    */
  _Atomic uint32_t cr_wait; /*  24 nonzero while it waits for credit       */
  _Atomic uint32_t gen;     /*  28 producer joins so far                   */
  _Atomic uint64_t hb_ns;   /*  32 heartbeat, CLOCK_MONOTONIC ns           */
  uint8_t pad0[24];
  _Atomic uint64_t msgs;    /*  64 descriptors published                  */
  _Atomic uint64_t bytes;   /*  72 payload bytes published                */
  _Atomic uint64_t backpressure; /* 80 times no credit was found          */
  _Atomic uint64_t evictions;    /* 88 dead reliable consumers evicted    */
  _Atomic uint64_t wakes;        /* 96 wake-ups sent (slow path runs)     */
  uint8_t pad1[24];
  /* 128: for each consumer slot, the cursor gen of the join the producer
   * evicted (0: none).  A slot is left out of flow control while its gen
   * equals this value; a new join bumps gen and is counted again. */
  _Atomic uint32_t evicted[256];
} rill_prod_page;

#define RILL_PROD_NONE 0u   /* no producer has joined yet */
#define RILL_PROD_JOINED 1u
#define RILL_PROD_LEFT 2u   /* the producer left: the channel is closed */
/* The producer registered for asymmetric barriers (Linux membarrier,
 * MEMBARRIER_CMD_GLOBAL_EXPEDITED): a consumer runs one before its last
 * look before parking, and the producer needs no fence per publish.
 * Without the flag the producer fences every publish. */
#define RILL_PROD_F_ASYM 1u
/* The producer fences after a publish only once a consumer asked it to
 * (wait page fence_req), and then sets FENCING (docs/PROTOCOL.md §3.7a). */
#define RILL_PROD_F_LAZY 2u
#define RILL_PROD_F_FENCING 4u

_Static_assert(sizeof(rill_prod_page) == 1152, "producer page used bytes");
_Static_assert(offsetof(rill_prod_page, state) == 8, "prod state");
_Static_assert(offsetof(rill_prod_page, pid) == 12, "prod pid");
_Static_assert(offsetof(rill_prod_page, wake) == 16, "prod wake");
_Static_assert(offsetof(rill_prod_page, flags) == 20, "prod flags");
_Static_assert(offsetof(rill_prod_page, cr_wait) == 24, "prod cr_wait");
_Static_assert(offsetof(rill_prod_page, gen) == 28, "prod gen");
_Static_assert(offsetof(rill_prod_page, hb_ns) == 32, "prod hb_ns");
_Static_assert(offsetof(rill_prod_page, msgs) == 64, "prod msgs");
_Static_assert(offsetof(rill_prod_page, bytes) == 72, "prod bytes");
_Static_assert(offsetof(rill_prod_page, backpressure) == 80, "prod bp");
_Static_assert(offsetof(rill_prod_page, evictions) == 88, "prod evictions");
_Static_assert(offsetof(rill_prod_page, wakes) == 96, "prod wakes");
_Static_assert(offsetof(rill_prod_page, evicted) == 128, "prod evicted");

/* Wait page: the only page every endpoint writes.  Line 0 is loaded by the
 * producer on every publish and changes only when a consumer parks or arms
 * its fd; line 1 is bumped by consumers to wake a producer waiting for
 * credit. */
typedef struct rill_wait_page {
  _Atomic uint32_t arm_gen;   /*   0 bumped by a consumer about to park/arm */
  _Atomic uint32_t fence_req; /*   4 1: a consumer asked a LAZY producer to fence */
  _Atomic uint32_t stamp_req; /*   8 bumped by a consumer that wants a tspub stamp */
  uint8_t pad0[52];
  _Atomic uint32_t cr_wake; /*  64 futex word of a producer out of credit */
  uint8_t pad1[60];
} rill_wait_page;

_Static_assert(sizeof(rill_wait_page) == 128, "wait page used bytes");
_Static_assert(offsetof(rill_wait_page, fence_req) == 4, "wait fence_req");
_Static_assert(offsetof(rill_wait_page, stamp_req) == 8, "wait stamp_req");
_Static_assert(offsetof(rill_wait_page, cr_wake) == 64, "wait cr_wake");

/* A producer stamps tspub on every descriptor whose seq is a multiple of
 * this, among others (docs/PROTOCOL.md §2.4). */
#define RILL_STAMP_PERIOD_SHIFT 6
#define RILL_STAMP_PERIOD (1u << RILL_STAMP_PERIOD_SHIFT)
/* An empty poll counts one in this many toward a consumer's periodic
 * flush (docs/PROTOCOL.md 3.4). */
#define RILL_IDLE_POLLS 16u

/* A consumer asks for a stamp (bumps stamp_req) at most this often. */
#define RILL_STAMP_ASK_NS 1000000u

/* Latency buckets: a quarter of an octave each.  Values 0..3 have a bucket
 * each; a value v >= 4 with top bit e goes in 4(e-1) + the two bits below
 * the top one.  Any u32 maps to 0..123 (bucket 123 ends at 2^32), but a
 * sample is below 2^31 (a difference past 2^31 counts as 0), so bucket 119
 * ([7 * 2^28, 2^31) ns) is the highest a consumer fills; 120..127 stay zero
 * (docs/PROTOCOL.md §2.3). */
#define RILL_LAT_BUCKETS 128u

static inline uint32_t rill__lat_bucket(uint32_t ns) {
  if (ns < 4) return ns;
  uint32_t e = 31u - (uint32_t)__builtin_clz(ns);
  return 4u * (e - 1u) + ((ns >> (e - 2u)) & 3u);
}

/* Cursor page, one per consumer slot.  Line 0: position and wait state;
 * line 1: counters; lines 2..18: latency samples; the rest reserved (zero). */
typedef struct rill_cursor {
  _Atomic uint32_t state;   /*   0 RILL_CUR_FREE / JOINING / ACTIVE        */
  _Atomic uint32_t mode;    /*   4 RILL_RELIABLE or RILL_LOSSY             */
  _Atomic uint64_t seq;     /*   8 next sequence number it will read       */
  _Atomic uint32_t pid;     /*  16 informative                             */
  _Atomic uint32_t gen;     /*  20 joins of this slot so far               */
  _Atomic uint32_t park;    /*  24 1 while parked (or parking) on wake     */
  _Atomic uint32_t fd_gen;  /*  28 bumped each time its fd is armed        */
  _Atomic uint64_t hb_ns;   /*  32 heartbeat, CLOCK_MONOTONIC ns           */
  _Atomic uint32_t stamp_gen; /* 40 = gen: this join asks for stamps (0.4) */
  uint8_t pad0[20];
  _Atomic uint64_t msgs;         /*  64 */
  _Atomic uint64_t bytes;        /*  72 */
  _Atomic uint64_t overrun_poll; /*  80 */
  _Atomic uint64_t overrun_read; /*  88 */
  _Atomic uint64_t lost;         /*  96 */
  uint8_t pad1[24];
  /* Lines 2..18: publish-to-consume latency samples (now - tspub, ns),
   * one taken at the first message consumed after each heartbeat flush. */
  _Atomic uint64_t lat_sum;      /* 128 sum of the samples, ns            */
  uint8_t pad2[56];
  _Atomic uint64_t lat[RILL_LAT_BUCKETS]; /* 192 samples per bucket       */
} rill_cursor;

#define RILL_CUR_FREE 0u
#define RILL_CUR_JOINING 1u
#define RILL_CUR_ACTIVE 2u

_Static_assert(sizeof(rill_cursor) == 1216, "cursor used bytes");
_Static_assert(offsetof(rill_cursor, mode) == 4, "cursor mode");
_Static_assert(offsetof(rill_cursor, seq) == 8, "cursor seq");
_Static_assert(offsetof(rill_cursor, pid) == 16, "cursor pid");
_Static_assert(offsetof(rill_cursor, gen) == 20, "cursor gen");
_Static_assert(offsetof(rill_cursor, park) == 24, "cursor park");
_Static_assert(offsetof(rill_cursor, fd_gen) == 28, "cursor fd_gen");
_Static_assert(offsetof(rill_cursor, hb_ns) == 32, "cursor hb_ns");
_Static_assert(offsetof(rill_cursor, stamp_gen) == 40, "cursor stamp_gen");
_Static_assert(offsetof(rill_cursor, msgs) == 64, "cursor msgs");
_Static_assert(offsetof(rill_cursor, bytes) == 72, "cursor bytes");
_Static_assert(offsetof(rill_cursor, overrun_poll) == 80, "cursor ovr poll");
_Static_assert(offsetof(rill_cursor, overrun_read) == 88, "cursor ovr read");
_Static_assert(offsetof(rill_cursor, lost) == 96, "cursor lost");
_Static_assert(offsetof(rill_cursor, lat_sum) == 128, "cursor lat_sum");
_Static_assert(offsetof(rill_cursor, lat) == 192, "cursor lat");
_Static_assert(sizeof(rill_cursor) <= RILL_PAGE, "cursor fits its page");

/* Descriptor: 32 bytes, two per cache line. */
typedef struct rill_desc {
  _Atomic uint64_t seq;    /*  0 */
  _Atomic uint64_t sig;    /*  8 */
  _Atomic uint32_t chunk;  /* 16 payload offset from the data ring, 64 B units */
  _Atomic uint16_t sz;     /* 20 payload bytes                           */
  _Atomic uint16_t ctl;    /* 22 RILL_CTL_* bits                         */
  _Atomic uint32_t tsorig; /* 24 application timestamp (ns, low 32 bits) */
  _Atomic uint32_t tspub;  /* 28 publish time (CLOCK_MONOTONIC ns, low 32) */
} rill_desc;

_Static_assert(sizeof(rill_desc) == 32, "descriptor size");
_Static_assert(offsetof(rill_desc, sig) == 8, "desc sig");
_Static_assert(offsetof(rill_desc, chunk) == 16, "desc chunk");
_Static_assert(offsetof(rill_desc, sz) == 20, "desc sz");
_Static_assert(offsetof(rill_desc, ctl) == 22, "desc ctl");
_Static_assert(offsetof(rill_desc, tsorig) == 24, "desc tsorig");
_Static_assert(offsetof(rill_desc, tspub) == 28, "desc tspub");
_Static_assert(sizeof(_Atomic uint64_t) == 8 && sizeof(_Atomic uint32_t) == 4 &&
               sizeof(_Atomic uint16_t) == 2, "atomics are plain-sized");

/* Overrun plausibility (docs/PROTOCOL.md 3.2).  The producer page's seq
 * lags what was published by at most a housekeeping interval (rill: 1024
 * descriptors); a sequence number found further ahead of it than
 * RILL_MAX_FLUSH_LAG is garbage.  A consumer's overruns since it joined
 * skip fewer than RILL_MAX_JUMPED sequence numbers in all (a century of
 * messages at a billion a second), so no series of jumps takes it round
 * the 2^64 sequence space. */
#define RILL_MAX_FLUSH_LAG (1ull << 32)
#define RILL_MAX_JUMPED (1ull << 62)

static inline uint64_t rill__align_up(uint64_t x, uint64_t a) {
  return (x + a - 1) & ~(a - 1);
}

/* Chunks a payload of n bytes takes (0 for an empty payload). */
/* Fragments of an N-byte message (a 0-byte message is one fragment);
 * written so that it cannot overflow near 2^64. */
static inline uint64_t rill__frags(uint64_t n, uint32_t mtu) {
  return n ? (n - 1) / mtu + 1 : 1;
}

static inline uint64_t rill__chunks(uint64_t n) {
  return (n + RILL_CHUNK - 1) >> RILL_CHUNK_SHIFT;
}

/* The whole channel layout, derived from its options (docs/PROTOCOL.md). */
typedef struct rill_chan_geom {
  uint64_t prod_off, wait_off, cursor_off, meta_off, data_off, data_chunks, size;
} rill_chan_geom;

static inline void rill__chan_geom(uint32_t depth, uint32_t mtu,
                                   uint32_t max_consumers, rill_chan_geom *g) {
  g->prod_off = RILL_PAGE;
  g->wait_off = 2 * RILL_PAGE;
  g->cursor_off = 3 * RILL_PAGE;
  g->meta_off = g->cursor_off + (uint64_t)max_consumers * RILL_PAGE;
  g->data_off = g->meta_off + rill__align_up((uint64_t)depth * sizeof(rill_desc), RILL_PAGE);
  g->data_chunks = ((uint64_t)depth + 2) * rill__chunks(mtu);
  g->size = g->data_off + rill__align_up(g->data_chunks * RILL_CHUNK, RILL_PAGE);
}

#endif
