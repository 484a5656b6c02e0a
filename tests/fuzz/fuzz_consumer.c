/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* Fuzz target: the consumer paths against a hostile producer.  A valid
 * channel is made normally, then the input is run as a little program of
 * one-byte operations, each with its operands:
 *
 *   legitimate:  a producer sends messages of any size up to max_msg (or
 *                reserves and commits one), leaves and rejoins; a reliable
 *                and a lossy consumer poll, check, receive (copied or in
 *                place, with small buffers too), wait with tiny timeouts,
 *                seek back, flush, leave and rejoin their slots;
 *   hostile:     bytes written anywhere in the region's first page, the
 *                channel header, the producer page, the wait page, the
 *                cursor pages, the meta ring and the data ring; or, to help
 *                the fuzzer, a descriptor's seq set near the producer's or
 *                a consumer's sequence number (a lap, a step or a far jump
 *                away), or its chunk, sz and ctl.
 *
 * The first four bytes choose the geometry (depth 2..64, mtu 1..256, 2..4
 * consumer slots, max_msg).  Every call must return a documented code and
 * every view lie in the data ring (fuzz.h).  While nothing hostile was
 * written, every payload is checked byte for byte against what was sent,
 * the reliable consumer never sees an overrun or a corrupt descriptor and
 * ends where the producer is.  At the end, with nothing written any more,
 * every poll and receive of each consumer must move it forward until it
 * says -RILL_EAGAIN: one that goes back or stands still would loop for
 * ever (drain(), fuzz_livelock()). */
#include "fuzz.h"

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#define REGION "fc"
#define CHAN "c"
#define MAX_SENT 512u

/* the program being run */
typedef struct input {
  const uint8_t *p, *end;
} input;

static uint32_t take(input *in, unsigned n) { /* N <= 4 bytes, little-endian; 0 past the end */
  uint32_t x = 0;
  for (unsigned i = 0; i < n; i++) x |= (uint32_t)(in->p < in->end ? *in->p++ : 0) << (8 * i);
  return x;
}

typedef struct world {
  rill_region *r;
  rill_producer *p;
  rill_consumer *c[2]; /* reliable, lossy */
  uint32_t slot[2];
  uint8_t *map;        /* the region file, read-write: the hostile side */
  size_t map_size;
  rill_channel_stats st;
  int clean;           /* nothing hostile written yet */
  uint32_t nsent;
  uint64_t size[MAX_SENT], first[MAX_SENT]; /* per message: bytes, first seq */
} world;

static uint8_t msg[1u << 16], out[1u << 16];

static uint8_t pattern(uint64_t m, uint64_t i) { return (uint8_t)(m * 131 + i * 7 + (i >> 8)); }

/* While clean: fragment SEQ of message SIG (from its descriptor) holds
 * the bytes sent. */
static void check_frag(world *w, const rill_view *v) {
  FUZZ_CHECK(v->sig < w->nsent, v->sig, w->nsent);
  uint64_t m = v->sig, k = v->seq - w->first[m], at = k * w->st.mtu;
  FUZZ_CHECK(at < w->size[m] || (at == 0 && w->size[m] == 0), v->seq, w->first[m]);
  uint64_t n = w->size[m] - at < w->st.mtu ? w->size[m] - at : w->st.mtu;
  FUZZ_CHECK(v->sz == n, v->sz, n);
  uint16_t want = (uint16_t)((k == 0 ? RILL_CTL_SOM : 0) | (at + n == w->size[m] ? RILL_CTL_EOM : 0));
  FUZZ_CHECK((v->ctl & RILL_CTL_MSG) == want, v->ctl, want);
  const uint8_t *d = v->data;
  for (uint64_t i = 0; i < n; i++) FUZZ_CHECK(d[i] == pattern(m, at + i), m, at + i);
}

static void check_msg(world *w, const rill_meta *meta, const uint8_t *d) {
  FUZZ_CHECK(meta->sig < w->nsent, meta->sig, w->nsent);
  uint64_t m = meta->sig;
  FUZZ_CHECK(meta->sz == w->size[m] && meta->seq == w->first[m], meta->sz, meta->seq);
  for (uint64_t i = 0; i < meta->sz; i++) FUZZ_CHECK(d[i] == pattern(m, i), m, i);
}

static void do_poll(world *w, int which, uint32_t n) {
  rill_consumer *c = w->c[which];
  if (!c) return;
  for (uint32_t i = 0; i < n; i++) {
    rill_view v;
    int rc = rill_poll(c, &v);
    fuzz_check_poll(c, rc, &v);
    if (w->clean && which == 0) FUZZ_CHECK(rc == 0 || rc == -RILL_EAGAIN, rc, 0);
    if (w->clean) FUZZ_CHECK(rc != -RILL_ECORRUPT, rc, which);
    if (rc == 0 && which == 1) {
      int k = rill_check(c, &v);
      FUZZ_CHECK(k == 0 || k == -RILL_EOVERRUN, k, 0);
      if (w->clean) FUZZ_CHECK(k == 0, k, 0); /* one thread: nothing overwrites it */
    }
    if (rc == 0 && w->clean) check_frag(w, &v);
    if (rc == -RILL_EAGAIN) return;
  }
}

static void do_recv(world *w, int which, uint32_t how) {
  rill_consumer *c = w->c[which];
  if (!c) return;
  size_t cap = how & 1 ? sizeof out : (how >> 1) % 200; /* small: EMSGSIZE */
  rill_meta m;
  const void *data = NULL;
  int64_t rc = how & 2 ? rill_recv_view(c, out, cap, &m, &data) : rill_recv(c, out, cap, &m);
  fuzz_check_recv(c, rc, cap, &m, data, out);
  if (rc >= 0 && w->clean) check_msg(w, &m, data ? data : out);
}

static void do_send(world *w, uint32_t len, uint32_t how) {
  if (!w->p) return;
  uint64_t n = len % (w->st.max_msg + 2); /* max_msg + 1: EMSGSIZE */
  if (n > sizeof msg) n = sizeof msg;
  uint64_t m = w->nsent;
  if (m == MAX_SENT) return;
  for (uint64_t i = 0; i < n; i++) msg[i] = pattern(m, i);
  uint64_t seq = rill_producer_seq(w->p);
  int rc;
  if (how & 1 && n <= w->st.mtu) { /* reserve and commit */
    void *buf;
    rc = rill_reserve(w->p, n, &buf);
    /* (EMSGSIZE: the mtu of a channel header rewritten before a rejoin) */
    FUZZ_CHECK(rc == 0 || rc == -RILL_EAGAIN || (!w->clean && rc == -RILL_EMSGSIZE), rc, n);
    if (rc == 0) {
      memcpy(buf, msg, n);
      FUZZ_CHECK(rill_commit(w->p, n, m, RILL_CTL_MSG) == 0, n, 0);
    }
  } else {
    rc = rill_send(w->p, msg, n, m);
    FUZZ_CHECK(rc == 0 || rc == -RILL_EAGAIN || rc == -RILL_EMSGSIZE, rc, n);
    /* (a producer that rejoined after a hostile write took mtu and max_msg
     * from the channel header as it found it) */
    if (w->clean) FUZZ_CHECK((rc == -RILL_EMSGSIZE) == (n > w->st.max_msg), rc, n);
  }
  if (rc) return;
  w->size[m] = n;
  w->first[m] = seq;
  w->nsent++;
}

/* The hostile areas, as offsets in the region file. */
static void area(const world *w, uint32_t which, uint64_t *off, uint64_t *len) {
  uint64_t ch = w->st.off;
  switch (which % 7) {
  case 0: *off = 0; *len = 4096; break;                          /* region header, table */
  case 1: *off = ch; *len = 4096; break;                         /* channel header */
  case 2: *off = ch + 4096; *len = 4096; break;                  /* producer page */
  case 3: *off = ch + 8192; *len = 4096; break;                  /* wait page */
  case 4: *off = ch + 12288; *len = 4096ull * w->st.max_consumers; break; /* cursors */
  case 5: *off = ch + w->st.meta_off; *len = 32ull * w->st.depth; break;  /* meta ring */
  default: *off = ch + w->st.data_off; *len = 64 * w->st.data_chunks; break; /* data ring */
  }
}

static void hostile_bytes(world *w, input *in) {
  uint64_t off, len;
  area(w, take(in, 1), &off, &len);
  uint64_t at = take(in, 2) % len;
  uint32_t n = take(in, 1) % 16 + 1;
  for (uint32_t i = 0; i < n && at + i < len; i++) w->map[off + at + i] = (uint8_t)take(in, 1);
  w->clean = 0;
}

static uint8_t *desc(world *w, uint32_t slot) {
  return w->map + w->st.off + w->st.meta_off + 32ull * (slot % w->st.depth);
}

/* A descriptor's seq near a sequence number that matters. */
static void hostile_seq(world *w, input *in) {
  uint32_t slot = take(in, 1), sel = take(in, 1);
  int16_t small = (int16_t)take(in, 2);
  uint64_t base;
  switch (sel & 3) {
  case 0: base = w->p ? rill_producer_seq(w->p) : 0; break;
  case 1: base = w->c[0] ? fuzz_consumer_seq(w->c[0]) : 0; break;
  case 2: base = w->c[1] ? fuzz_consumer_seq(w->c[1]) : 0; break;
  default: base = 0; break;
  }
  uint64_t v;
  switch ((sel >> 2) & 3) {
  case 0: v = base + (uint64_t)(int64_t)small; break;                 /* a step */
  case 1: v = base + (uint64_t)(int64_t)small * w->st.depth; break;    /* laps */
  case 2: v = base + ((uint64_t)1 << 62) * ((sel >> 4) & 3) + (uint64_t)(int64_t)small; break;
  default: v = base + ((uint64_t)1 << 63) + (uint64_t)(int64_t)small; break; /* half-way */
  }
  if (sel & 0x40) slot = (uint32_t)v; /* the slot that sequence number lives in */
  memcpy(desc(w, slot), &v, 8);
  w->clean = 0;
}

static void hostile_desc(world *w, input *in) {
  uint8_t *d = desc(w, take(in, 1));
  uint32_t what = take(in, 1);
  if (what & 1) { uint32_t x = take(in, 4); memcpy(d + 16, &x, 4); }   /* chunk */
  if (what & 2) { uint16_t x = (uint16_t)take(in, 2); memcpy(d + 20, &x, 2); } /* sz */
  if (what & 4) { uint16_t x = (uint16_t)take(in, 2); memcpy(d + 22, &x, 2); } /* ctl */
  if (what & 8) { uint64_t x = take(in, 4); memcpy(d + 8, &x, 8); }    /* sig */
  w->clean = 0;
}

static int find_err_ok(int rc) {
  return rc == -RILL_ENOENT || rc == -RILL_EMAGIC || rc == -RILL_EVERSION ||
         rc == -RILL_ECORRUPT;
}

static void producer_rejoin(world *w) {
  if (w->p) rill_producer_leave(w->p);
  w->p = NULL;
  int rc = rill_producer_join(w->r, CHAN, &w->p);
  FUZZ_CHECK(rc == 0 || (!w->clean && find_err_ok(rc)), rc, 0);
  if (rc) w->p = NULL;
}

static void consumer_rejoin(world *w, int which) {
  if (!w->c[which]) return;
  rill_consumer_leave(w->c[which]);
  w->c[which] = NULL;
  int rc = rill_consumer_rejoin(w->r, CHAN, w->slot[which], &w->c[which]);
  FUZZ_CHECK(rc == 0 || (!w->clean && (find_err_ok(rc) || rc == -RILL_EINVAL)), rc, which);
  if (rc) w->c[which] = NULL;
}

static void do_wait(world *w, int which, uint32_t how) {
  rill_consumer *c = w->c[which];
  if (!c) return;
  rill_view v;
  switch (how % 4) {
  case 0: {
    int rc = rill_poll_wait(c, &v, how & 4 ? 2000 : 0); /* spins 2 us, parks briefly */
    FUZZ_CHECK(rc == 0 || rc == -RILL_EAGAIN || rc == -RILL_EOVERRUN || rc == -RILL_ECORRUPT ||
               rc == -RILL_ETIMEDOUT || rc == -RILL_ECLOSED || rc == -RILL_EDEAD, rc, 0);
    if (rc == 0 || rc == -RILL_EAGAIN || rc == -RILL_EOVERRUN || rc == -RILL_ECORRUPT)
      fuzz_check_poll(c, rc, &v);
    if (rc == 0 && w->clean) check_frag(w, &v);
    break;
  }
  case 1: {
    rill_consumer *const cs[2] = {w->c[0] ? w->c[0] : c, c};
    int rc = rill_wait_any(cs, 2, 0);
    FUZZ_CHECK(rc == 0 || rc == 1 || rc == -RILL_ETIMEDOUT, rc, 0);
    break;
  }
  case 2: {
    int rc = rill_consumer_producer(c);
    FUZZ_CHECK(rc >= RILL_PEER_NONE && rc <= RILL_PEER_UNKNOWN, rc, 0);
    break;
  }
  default:
    FUZZ_CHECK(rill_consumer_flush(c) == 0, 0, 0);
    if (w->p) FUZZ_CHECK(rill_producer_flush(w->p) == 0, 0, 0);
  }
}

static void stats(world *w) {
  rill_channel_stats st;
  int rc = rill_channel_stats_get(w->r, CHAN, &st);
  FUZZ_CHECK(rc == 0 || (!w->clean && find_err_ok(rc)), rc, 0);
  if (rc) return;
  for (uint32_t s = 0; s < st.max_consumers && s < 8; s++) {
    rill_consumer_stats cs;
    rill_latency h;
    FUZZ_CHECK(rill_consumer_stats_get(w->r, CHAN, s, &cs) == 0, s, 0);
    FUZZ_CHECK(rill_latency_get(w->r, CHAN, s, &h) == 0, s, 0);
  }
}

/* Nothing is written any more: every poll (and receive) that does not say
 * -RILL_EAGAIN must move the consumer forward from where this drain
 * started, never back nor nowhere, for 4 depth + 16 calls or until
 * -RILL_EAGAIN.  Then a consumer cannot loop: on a still ring a loop can
 * only come round 2^64 to sequence numbers it passed (the corpus's
 * seq-cycle*).  A call that only skips garbage (-RILL_ECORRUPT) is
 * progress too: a ring of slots far "ahead" keeps a consumer skipping. */
static void drain(world *w) {
  uint64_t bound = 4ull * w->st.depth + 16;
  for (int pass = 0; pass < 4; pass++) { /* polls, then receives; reliable, then lossy */
    int which = pass & 1, recv = pass >> 1;
    rill_consumer *c = w->c[which];
    if (!c) continue;
    if (recv && which == 1) (void)rill_consumer_seek_last(c, w->st.depth);
    if (recv) { /* a message kept after EMSGSIZE comes out without moving */
      rill_meta m;
      int64_t rc = rill_recv(c, out, sizeof out, &m);
      fuzz_check_recv(c, rc, sizeof out, &m, NULL, out);
      if (rc >= 0 && w->clean) check_msg(w, &m, out);
    }
    uint64_t s0 = fuzz_consumer_seq(c), moved = 0;
    for (uint64_t i = 0; i < bound; i++) {
      int64_t rc;
      if (recv) {
        rill_meta m;
        rc = rill_recv(c, out, sizeof out, &m);
        fuzz_check_recv(c, rc, sizeof out, &m, NULL, out);
        if (rc >= 0 && w->clean) check_msg(w, &m, out);
      } else {
        rill_view v;
        rc = rill_poll(c, &v);
        fuzz_check_poll(c, (int)rc, &v);
        if (rc == 0 && w->clean) check_frag(w, &v);
      }
      if (rc == -RILL_EAGAIN) break;
      uint64_t d = fuzz_consumer_seq(c) - s0; /* wraps if it came round 2^64 */
      if (d <= moved) {
        static const char *what[] = {
            "a reliable consumer's poll went back or stood still on a still ring",
            "a lossy consumer's poll went back or stood still on a still ring",
            "a reliable consumer's receive went back or stood still on a still ring",
            "a lossy consumer's receive went back or stood still on a still ring"};
        fuzz_livelock(what[pass], fuzz_consumer_seq(c), i);
        break;
      }
      moved = d;
    }
    if (!recv && w->clean && which == 0 && w->p) /* caught up with the producer */
      FUZZ_CHECK(fuzz_consumer_seq(c) == rill_producer_seq(w->p), fuzz_consumer_seq(c),
                 rill_producer_seq(w->p));
  }
}

static void setup(world *w, input *in) {
  uint32_t g = take(in, 4);
  rill_channel_opts o = {0};
  o.depth = 2u << (g % 6);                 /* 2..64 */
  o.mtu = ((g >> 8) & 0xff) + 1;           /* 1..256 */
  o.max_consumers = 2 + (g >> 16) % 3;     /* 2..4 */
  o.max_msg = (uint64_t)o.mtu * (1 + (g >> 24) % (o.depth / 2)); /* 1..depth/2 fragments */
  uint64_t fp = rill_channel_footprint(&o);
  FUZZ_CHECK(fp != 0, o.depth, o.mtu);
  rill_region_unlink(REGION, fuzz_dir());
  rill_region_opts ro = {.size = 4096 + fp, .dir = fuzz_dir()};
  int rc = rill_region_create(REGION, &ro, &w->r);
  FUZZ_CHECK(rc == 0, rc, ro.size);
  FUZZ_CHECK(rill_channel_create(w->r, CHAN, &o) == 0, 0, 0);
  FUZZ_CHECK(rill_channel_stats_get(w->r, CHAN, &w->st) == 0, 0, 0);
  FUZZ_CHECK(rill_producer_join(w->r, CHAN, &w->p) == 0, 0, 0);
  FUZZ_CHECK(rill_consumer_join(w->r, CHAN, RILL_RELIABLE, &w->c[0]) == 0, 0, 0);
  FUZZ_CHECK(rill_consumer_join(w->r, CHAN, RILL_LOSSY, &w->c[1]) == 0, 0, 0);
  w->slot[0] = rill_consumer_slot(w->c[0]);
  w->slot[1] = rill_consumer_slot(w->c[1]);
  w->map = fuzz_map_file(REGION, &w->map_size);
  FUZZ_CHECK(w->map && w->map_size >= w->st.off + w->st.size, w->map_size, 0);
  w->clean = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static world w;
  input in = {data, data + size};
  memset(&w, 0, sizeof w);
  setup(&w, &in);
  for (uint32_t ops = 0; in.p < in.end && ops < 4096; ops++) {
    uint32_t op = take(&in, 1);
    switch (op % 16) {
    case 0: case 1: case 2: { uint32_t len = take(&in, 2); do_send(&w, len, op >> 4); break; }
    case 3: do_poll(&w, 0, take(&in, 1) % 16 + 1); break;
    case 4: do_poll(&w, 1, take(&in, 1) % 16 + 1); break;
    case 5: do_recv(&w, 0, take(&in, 1)); break;
    case 6: do_recv(&w, 1, take(&in, 1)); break;
    case 7: hostile_bytes(&w, &in); break;
    case 8: hostile_seq(&w, &in); break;
    case 9: hostile_desc(&w, &in); break;
    case 10: producer_rejoin(&w); break;
    case 11: consumer_rejoin(&w, (op >> 4) & 1); break;
    case 12:
      if (w.c[1]) {
        int64_t k = rill_consumer_seek_last(w.c[1], op >> 4);
        FUZZ_CHECK(k >= 0 && k <= (op >> 4), k, op >> 4);
      }
      break;
    case 13: do_wait(&w, (op >> 4) & 1, op >> 5); break;
    case 14: stats(&w); break;
    default: drain(&w); break;
    }
  }
  drain(&w);
  rill_consumer_leave(w.c[0]);
  rill_consumer_leave(w.c[1]);
  rill_producer_leave(w.p);
  rill_region_close(w.r);
  munmap(w.map, w.map_size);
  return 0;
}
