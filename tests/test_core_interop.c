/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* The freestanding core (include/rill_core.h) and librill on the same
 * channels: one layout, one protocol.
 *   1. rill_core_channel_new() writes the very bytes rill_channel_create()
 *      writes into a region, for several sets of options (the region's
 *      channel, read through a mapping of the file, against a core channel
 *      of the same options, name and creation time), and
 *      rill_core_channel_get() reads what the region's stats say.
 *   2. A core producer over the region file (mapped by the test itself) and
 *      two rill_consumers: a reliable one that holds it back (its cursor
 *      gives the core its credits) and gets every message, whole and in
 *      order, and a lossy one that reads only every third round, so that
 *      it is lapped, and gets exact loss counts.  When the core producer
 *      leaves, the rill_consumers' waits say -RILL_ECLOSED once they have
 *      read everything, and rill_channel_stats_get() shows its counters.
 *   3. A rill_producer and core consumers (reliable and lossy) over the
 *      mapped file: the producer counts the core's reliable cursor in its
 *      credits, a rill_consumer joining takes a slot the core does not
 *      use, and rill_consumer_stats_get() shows the core consumer's
 *      counters.  The core holds no lock, so librill sees its consumer as
 *      dead (RILL_PEER_DEAD: include/rill_core.h says so) and the producer
 *      runs without eviction here.
 * One thread: the ends take turns, publishing until the credit runs out,
 * then reading. */
#include "testutil.h"

#include "rill_core.h"

#define REGION "coreio"
#define MTU 100u
#define MAXSZ 500u

static _Alignas(4096) uint8_t core_mem[8u << 20];

/* The application's ctl bits of message I: none on the even ones (which
 * librill sends with rill_send()), its own on the odd ones (rill_send_many()). */
static uint16_t uctl_of(uint64_t i) { return i & 1 ? RILL_CTL_USER(i & 0x1fff) : 0; }

static int lib_send(rill_producer *p, const void *buf, size_t sz, uint64_t i) {
  if (!(i & 1)) return rill_send(p, buf, sz, i);
  rill_msg m = {.data = buf, .sz = sz, .sig = i, .ctl = uctl_of(i)};
  return rill_send_many(p, &m, 1);
}

/* The region file, mapped here (not through the library's handles). */
static uint8_t *map_region(uint64_t *len) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", tu_dir(), REGION);
  return tu_map_file(path, len);
}

/* ---- 1. the same bytes --------------------------------------------------------- */

static void same_bytes(rill_region *r, const uint8_t *map, const char *name,
                       const rill_channel_opts *o) {
  CHECK_OK(rill_channel_create(r, name, o));
  rill_channel_stats st;
  CHECK_OK(rill_channel_stats_get(r, name, &st));
  CHECK_EQ(st.size, rill_core_channel_footprint(o));
  CHECK_EQ(st.size, rill_channel_footprint(o));
  CHECK(st.size <= sizeof core_mem);
  CHECK_OK(rill_core_channel_new(core_mem, st.size, name, o, st.created_ns));
  const uint8_t *ch = map + st.off;
  for (uint64_t k = 0; k < st.size; k++)
    CHECKF(ch[k] == core_mem[k], "channel %s: byte %" PRIu64 " is 0x%02x in the region, 0x%02x "
           "from the core", name, k, ch[k], core_mem[k]);
  rill_core_channel_info info;
  CHECK_OK(rill_core_channel_get(ch, st.size, &info));
  CHECK_EQ(info.size, st.size);
  CHECK_EQ(info.depth, st.depth);
  CHECK_EQ(info.mtu, st.mtu);
  CHECK_EQ(info.max_consumers, st.max_consumers);
  CHECK_EQ(info.max_msg, st.max_msg);
  CHECK_EQ(info.seq0, st.seq0);
  CHECK_EQ(info.created_ns, st.created_ns);
  CHECK_EQ(info.data_chunks, st.data_chunks);
  CHECK(!strcmp(info.name, name));
}

/* ---- receiving, with the checks of a reliable and of a lossy reader ------------ */

typedef struct reader {
  tu_sched s;
  uint64_t end;      /* the seq after the last message received */
  uint64_t got, lost, desc;
  int lossy;
} reader;

/* Checks message M (GOT bytes in BUF): for a reliable reader the next one
 * of the schedule, with nothing lost; for a lossy one some later message,
 * the loss reported exactly. */
static void reader_take(reader *d, const rill_meta *m, int64_t got, const uint8_t *buf) {
  tu_sched *s = &d->s;
  CHECKF(got >= 0, "recv: %s", rill_strerror((int)got));
  if (d->lossy) {
    CHECKF(m->sig >= s->i, "message %" PRIu64 " after message %" PRIu64, m->sig, s->i - 1);
    while (s->i < m->sig) tu_sched_next(s);
  }
  CHECKF(m->sig == s->i, "message %" PRIu64 ": got sig %" PRIu64, s->i, m->sig);
  CHECK_EQ(m->seq, s->seq);
  CHECK_EQ(m->seq, d->end + m->lost);
  if (!d->lossy) CHECK_EQ(m->lost, 0);
  CHECK_EQ(m->sz, s->sz);
  CHECK_EQ(got, s->sz);
  CHECK_EQ(m->ctl, (uint16_t)((s->nfrags == 1 ? RILL_CTL_MSG : RILL_CTL_EOM) | uctl_of(s->i)));
  CHECK_PAYLOAD(buf, (size_t)got, tu_key(s->salt, s->i), 0);
  d->end = s->seq + s->nfrags;
  d->got++;
  d->lost += m->lost;
  d->desc += s->nfrags;
  tu_sched_next(s);
}

/* ---- 2. a core producer, rill_consumers --------------------------------------- */

static void core_to_lib(rill_region *r, uint8_t *map, uint64_t n) {
  const char *name = "fromcore";
  rill_channel_opts o = {.depth = 64, .mtu = MTU, .max_consumers = 3, .max_msg = MAXSZ};
  CHECK_OK(rill_channel_create(r, name, &o));
  rill_channel_stats st;
  CHECK_OK(rill_channel_stats_get(r, name, &st));
  rill_consumer *rc, *lc;
  CHECK_OK(rill_consumer_join(r, name, RILL_RELIABLE, &rc));
  CHECK_OK(rill_consumer_join(r, name, RILL_LOSSY, &lc));

  rill_core_producer p;
  CHECK_OK(rill_core_producer_join(&p, map + st.off, st.size));
  reader rel = {.lossy = 0}, los = {.lossy = 1};
  tu_sched_init(&rel.s, 21, MAXSZ, MTU, 0);
  tu_sched_init(&los.s, 21, MAXSZ, MTU, 0);
  static uint8_t buf[MAXSZ];
  uint64_t i = 0, rounds = 0, refused = 0, bytes = 0;
  while (i < n || rel.s.i < n) {
    /* publish until the reliable consumer's credit runs out */
    for (; i < n; i++) {
      size_t sz = (size_t)tu_msg_size(21, i, MAXSZ);
      tu_fill(buf, sz, tu_key(21, i), 0);
      int e = rill_core_send(&p, buf, sz, i, uctl_of(i));
      if (e == -RILL_EAGAIN) {
        refused++;
        break;
      }
      CHECK_OK(e);
      bytes += sz;
    }
    rill_meta m;
    int64_t got;
    while ((got = rill_recv(rc, buf, sizeof buf, &m)) != -RILL_EAGAIN) reader_take(&rel, &m, got, buf);
    CHECK_EQ(rel.s.i, i); /* everything published so far */
    if (++rounds % 3 == 0)
      while ((got = rill_recv(lc, buf, sizeof buf, &m)) != -RILL_EAGAIN) reader_take(&los, &m, got, buf);
  }
  CHECK(refused > 0); /* the rill_consumer held the core producer back */
  uint64_t end = rill_core_producer_seq(&p);
  CHECK_EQ(rel.end, end);
  CHECK_OK(rill_core_producer_leave(&p));

  /* Closed: both read what is left, then hear it. */
  rill_meta m;
  int64_t got;
  CHECK_RC(rill_recv_wait(rc, buf, sizeof buf, &m, 1000000000ull), -RILL_ECLOSED);
  while ((got = rill_recv_wait(lc, buf, sizeof buf, &m, 1000000000ull)) != -RILL_ECLOSED)
    reader_take(&los, &m, got, buf);
  CHECK(los.lost > 0); /* it was lapped */
  CHECK_EQ(los.end, end); /* the last message was there to read */
  CHECK_EQ(los.desc + los.lost, end);

  CHECK_OK(rill_channel_stats_get(r, name, &st));
  CHECK_EQ(st.seq, end);
  CHECK_EQ(st.msgs, end);
  CHECK_EQ(st.bytes, bytes);
  CHECK_EQ(st.backpressure, refused);
  CHECK_EQ(st.producer_gen, 1);
  CHECK_EQ(st.producer_joined, 0); /* it left */
  CHECK_EQ(st.producer_liveness, RILL_PEER_NONE);
  rill_consumer_stats cs;
  CHECK_OK(rill_consumer_stats_get(r, name, rill_consumer_slot(lc), &cs));
  CHECK(cs.overrun_poll > 0);
  CHECK_OK(rill_consumer_leave(rc));
  CHECK_OK(rill_consumer_leave(lc));
  printf("  core producer -> rill_consumers: %" PRIu64 " messages (%" PRIu64 " descriptors), "
         "%" PRIu64 " refused for credit; the lossy one got %" PRIu64 ", lost %" PRIu64 "\n",
         n, end, refused, los.got, los.lost);
}

/* ---- 3. a rill_producer, core consumers --------------------------------------- */

static void lib_to_core(rill_region *r, uint8_t *map, uint64_t n) {
  const char *name = "tocore";
  rill_channel_opts o = {.depth = 64, .mtu = MTU, .max_consumers = 4, .max_msg = MAXSZ};
  CHECK_OK(rill_channel_create(r, name, &o));
  rill_channel_stats st;
  CHECK_OK(rill_channel_stats_get(r, name, &st));
  rill_producer *p;
  CHECK_OK(rill_producer_join(r, name, &p));
  /* The core consumer holds no lock: librill would take it for dead and,
   * when it holds the producer back for a second, evict it. */
  CHECK_OK(rill_producer_set_evict(p, RILL_FOREVER));

  uint8_t *ch = map + st.off;
  rill_core_consumer rc, lc;
  static uint8_t asm_r[MAXSZ], asm_l[MAXSZ], buf[MAXSZ];
  CHECK_OK(rill_core_consumer_join(&rc, ch, st.size, 0, RILL_RELIABLE));
  CHECK_OK(rill_core_consumer_join(&lc, ch, st.size, 1, RILL_LOSSY));
  CHECK_OK(rill_core_consumer_set_buffer(&rc, asm_r, sizeof asm_r));
  CHECK_OK(rill_core_consumer_set_buffer(&lc, asm_l, sizeof asm_l));
  /* A rill_consumer takes a free slot, not the core's. */
  rill_consumer *other;
  CHECK_OK(rill_consumer_join(r, name, RILL_LOSSY, &other));
  CHECK_EQ(rill_consumer_slot(other), 2);
  CHECK_OK(rill_consumer_leave(other));

  reader rel = {.lossy = 0}, los = {.lossy = 1};
  tu_sched_init(&rel.s, 22, MAXSZ, MTU, 0);
  tu_sched_init(&los.s, 22, MAXSZ, MTU, 0);
  uint64_t i = 0, rounds = 0, refused = 0;
  while (i < n || rel.s.i < n) {
    for (; i < n; i++) {
      size_t sz = (size_t)tu_msg_size(22, i, MAXSZ);
      tu_fill(buf, sz, tu_key(22, i), 0);
      int e = lib_send(p, buf, sz, i);
      if (e == -RILL_EAGAIN) {
        refused++;
        break;
      }
      CHECK_OK(e);
    }
    rill_meta m;
    int64_t got;
    while ((got = rill_core_recv(&rc, buf, sizeof buf, &m)) != -RILL_EAGAIN) reader_take(&rel, &m, got, buf);
    CHECK_EQ(rel.s.i, i);
    if (++rounds % 3 == 0)
      while ((got = rill_core_recv(&lc, buf, sizeof buf, &m)) != -RILL_EAGAIN) reader_take(&los, &m, got, buf);
  }
  CHECK(refused > 0); /* the core consumer held the rill_producer back */
  uint64_t end = rill_producer_seq(p);
  CHECK_EQ(rel.end, end);
  rill_meta m;
  int64_t got;
  while ((got = rill_core_recv(&lc, buf, sizeof buf, &m)) != -RILL_EAGAIN) reader_take(&los, &m, got, buf);
  CHECK(los.lost > 0);
  CHECK_EQ(los.end, end);
  CHECK_EQ(los.desc + los.lost, end);

  /* librill reads the core consumer's cursor. */
  CHECK_OK(rill_core_consumer_flush(&rc));
  rill_consumer_stats cs;
  CHECK_OK(rill_consumer_stats_get(r, name, 0, &cs));
  CHECK_EQ(cs.mode, RILL_RELIABLE);
  CHECK_EQ(cs.seq, end);
  CHECK_EQ(cs.msgs, end);
  CHECK_EQ(cs.lost, 0);
  CHECK_EQ(cs.liveness, RILL_PEER_DEAD); /* no lock: the core's documented limit */
  CHECK_OK(rill_core_consumer_flush(&lc));
  CHECK_OK(rill_consumer_stats_get(r, name, 1, &cs));
  CHECK_EQ(cs.mode, RILL_LOSSY);
  CHECK_EQ(cs.msgs + cs.lost, end);
  CHECK(cs.overrun_poll > 0);

  CHECK_OK(rill_producer_leave(p));
  CHECK_OK(rill_core_consumer_leave(&rc));
  CHECK_OK(rill_core_consumer_leave(&lc));
  CHECK_OK(rill_consumer_stats_get(r, name, 0, &cs));
  CHECK_EQ(cs.mode, 0); /* the slot is free */
  printf("  rill_producer -> core consumers: %" PRIu64 " messages (%" PRIu64 " descriptors), "
         "%" PRIu64 " refused for credit; the lossy one got %" PRIu64 ", lost %" PRIu64 "\n",
         n, end, refused, los.got, los.lost);
}

/* tu_start_roles() with ARGV, not tu_start(): on Windows the watchdog is
 * this program run again with its own arguments. */
int main(int argc, char **argv) {
  tu_start_roles("core_interop", 300, argc, argv, NULL);
  rill_region_opts ro = tu_opts(32u << 20);
  rill_region *r;
  CHECK_OK(rill_region_create(REGION, &ro, &r));
  uint64_t len;
  uint8_t *map = map_region(&len);
  CHECK_EQ(len, 32u << 20);

  const rill_channel_opts sets[] = {
      {0}, /* the defaults */
      {.depth = 64, .mtu = MTU, .max_consumers = 3, .max_msg = MAXSZ},
      {.depth = 2, .mtu = 1, .max_consumers = 1},
      {.depth = 128, .mtu = 4000, .max_consumers = 256, .max_msg = 64000},
  };
  for (size_t k = 0; k < sizeof sets / sizeof sets[0]; k++) {
    char name[16];
    snprintf(name, sizeof name, "same%zu", k);
    same_bytes(r, map, name, &sets[k]);
  }

  uint64_t n = tu_scaled(20000, 2000);
  core_to_lib(r, map, n);
  lib_to_core(r, map, n);

  tu_unmap_file(map, len);
  CHECK_OK(rill_region_close(r));
  return tu_pass("the core's channels are librill's byte for byte (4 option sets); "
                 "%" PRIu64 " messages each way between core and librill endpoints", n);
}
