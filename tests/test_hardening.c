/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* What an adversarial audit of rill found (issue 18), one case each:
 *
 * geometry   a channel whose data ring has more chunks than a descriptor's
 *            32-bit chunk field can address is refused at creation, by
 *            rill_channel_footprint(), and at join (a hand-made, sparse
 *            256 GiB region file);
 * cycle      two 8-byte stores of planted sequence numbers, which once made
 *            every consumer deliver the same messages again forever, now
 *            cost one skipped descriptor: the consumers go on with what the
 *            producer publishes next, and nothing is delivered twice;
 * counters   every counter of every endpoint, sampled from another process
 *            while the producer waits for credit, consumers park and a
 *            lossy consumer is lapped, never goes down (backpressure did);
 * max_msg    a producer refuses a channel header whose limits a consumer
 *            refuses; a consumer drops (as lost) a message larger than the
 *            max_msg it joined with, whatever the header says later;
 * fifo       a consumer's fd FIFO that another user made first, a file that
 *            is not a FIFO, or a symbolic link, is refused, never adopted;
 * deep       a directory too deep for a consumer's FIFO path is refused when
 *            the region is created or opened, not at a later join;
 * null       NULL handles and buffers give -RILL_EINVAL in every call;
 * os_error   the errno behind an operating-system error is kept. */
#include "layout.h"
#include "testutil.h"

#include <sys/mman.h>

static int cases;

/* ---- helpers ----------------------------------------------------------------- */

/* The region file REGION of the test directory, mapped read-write. */
typedef struct rmap {
  uint8_t *base;
  uint64_t size;
} rmap;

static rmap rmap_open(const char *region) {
  char path[512];
  tu_path(path, sizeof path, region);
  int fd = open(path, O_RDWR);
  CHECKF(fd >= 0, "open: %s", strerror(errno));
  struct stat st;
  CHECK(fstat(fd, &st) == 0);
  rmap m = {NULL, (uint64_t)st.st_size};
  m.base = mmap(NULL, (size_t)m.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(m.base != MAP_FAILED);
  close(fd);
  return m;
}

static void rmap_close(rmap *m) { munmap(m->base, (size_t)m->size); }

/* Channel CHAN's header in the mapped region. */
static rill_chan_hdr *rmap_chan(const rmap *m, const char *chan) {
  const rill_region_hdr *h = (const rill_region_hdr *)m->base;
  const rill_obj_entry *e = (const rill_obj_entry *)(m->base + RILL_TABLE_OFF);
  for (uint32_t i = 0; i < h->obj_cnt; i++)
    if (!strcmp(e[i].name, chan)) return (rill_chan_hdr *)(m->base + e[i].off);
  CHECKF(0, "no channel %s", chan);
  return NULL;
}

static rill_desc *slot_of(rill_chan_hdr *ch, uint64_t seq) {
  return (rill_desc *)((uint8_t *)ch + ch->meta_off) + (seq & (ch->depth - 1));
}

/* ---- geometry ---------------------------------------------------------------- */

static void t_geometry(void) {
  /* 2^22 descriptors of up to 65535 bytes: (2^22 + 2) * 1024 chunks */
  rill_channel_opts big = {.depth = 1u << 22, .mtu = 65535};
  CHECK_EQ(rill_channel_footprint(&big), 0);
  rill_channel_opts fits = {.depth = 1u << 22, .mtu = 65472};
  CHECK(rill_channel_footprint(&fits) > 0);
  rill_channel_opts deep = {.depth = 1u << 24, .mtu = 16320};
  CHECK(rill_channel_footprint(&deep) > 0);
  deep.mtu = 16321;
  CHECK_EQ(rill_channel_footprint(&deep), 0);

  rill_region_opts ro = tu_opts(1 << 20);
  rill_region *r;
  CHECK_OK(rill_region_create("geom", &ro, &r));
  CHECK_RC(rill_channel_create(r, "big", &big), -RILL_EINVAL);
  CHECK_OK(rill_region_close(r));

  /* A region file made by hand around a channel of that geometry, as a
   * writer of the file could make it: sparse, so it costs a few pages. */
  rill_chan_geom g;
  rill__chan_geom(big.depth, big.mtu, 1, &g);
  CHECK(g.data_chunks > RILL_MAX_DATA_CHUNKS);
  uint64_t choff = RILL_PAGE, total = choff + g.size;
  char path[512];
  tu_path(path, sizeof path, "huge");
  int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
  CHECK(fd >= 0);
  CHECKF(ftruncate(fd, (off_t)total) == 0, "ftruncate %llu: %s",
         (unsigned long long)total, strerror(errno));
  rill_region_hdr h = {.version = RILL_LAYOUT_VERSION, .hdr_size = RILL_PAGE,
                       .size = total, .obj_max = RILL_REGION_MAX_OBJECTS,
                       .obj_cnt = 1, .alloc_off = total};
  h.magic = RILL_REGION_MAGIC;
  rill_obj_entry e = {.name = "c", .type = RILL_OBJ_CHANNEL, .off = choff, .size = g.size};
  rill_chan_hdr ch = {.version = RILL_LAYOUT_VERSION, .hdr_size = RILL_PAGE,
                      .size = g.size, .depth = big.depth, .mtu = big.mtu,
                      .max_consumers = 1, .max_msg = big.mtu, .data_chunks = g.data_chunks,
                      .prod_off = g.prod_off, .cursor_off = g.cursor_off,
                      .cursor_stride = RILL_PAGE, .meta_off = g.meta_off,
                      .data_off = g.data_off, .name = "c"};
  ch.magic = RILL_CHANNEL_MAGIC;
  CHECK(pwrite(fd, &h, sizeof h, 0) == (ssize_t)sizeof h);
  CHECK(pwrite(fd, &e, sizeof e, RILL_TABLE_OFF) == (ssize_t)sizeof e);
  CHECK(pwrite(fd, &ch, sizeof ch, (off_t)choff) == (ssize_t)sizeof ch);
  close(fd);
  r = tu_region_open("huge");
  rill_producer *p = NULL;
  rill_consumer *c = NULL;
  CHECK_RC(rill_producer_join(r, "c", &p), -RILL_ECORRUPT);
  CHECK_RC(rill_consumer_join(r, "c", RILL_RELIABLE, &c), -RILL_ECORRUPT);
  CHECK_RC(rill_consumer_join(r, "c", RILL_LOSSY, &c), -RILL_ECORRUPT);
  rill_channel_stats st;
  CHECK_RC(rill_channel_stats_get(r, "c", &st), -RILL_ECORRUPT);
  CHECK_OK(rill_region_close(r));
  CHECK(unlink(path) == 0);
  cases++;
}

/* ---- cycle ------------------------------------------------------------------- */

/* Receives whatever there is now (at most LIMIT messages): every payload
 * must be the one sent with its sequence number (tu_fill with the seq as
 * key), none may be delivered twice.  Returns how many were received. */
static int drain(rill_consumer *c, uint64_t *next, int limit) {
  uint8_t buf[64];
  int n = 0;
  for (; n < limit; n++) {
    rill_meta m;
    int64_t rc = rill_recv(c, buf, sizeof buf, &m);
    if (rc == -RILL_EAGAIN) break;
    CHECKF(rc >= 0, "recv: %s", rill_strerror((int)rc));
    CHECKF((int64_t)(m.seq - *next) >= 0, "seq %llu delivered again (next %llu)",
           (unsigned long long)m.seq, (unsigned long long)*next);
    CHECK_EQ(rc, 16);
    CHECK_PAYLOAD(buf, 16, m.seq, 0);
    *next = m.seq + 1;
  }
  return n;
}

static void send_seq(rill_producer *p) {
  uint8_t buf[16];
  uint64_t s = rill_producer_seq(p);
  tu_fill(buf, sizeof buf, s, 0);
  CHECK_OK(rill_send(p, buf, sizeof buf, s));
}

static void t_cycle(void) {
  rill_channel_opts co = {.depth = 8, .mtu = 64};
  uint64_t s0;
  rill_region *r = tu_channel_new("cycle", 1 << 20, "c", &co, &s0);
  rill_producer *p;
  rill_consumer *rel, *lossy;
  CHECK_OK(rill_producer_join(r, "c", &p));
  CHECK_OK(rill_consumer_join(r, "c", RILL_RELIABLE, &rel));
  CHECK_OK(rill_consumer_join(r, "c", RILL_LOSSY, &lossy));
  uint64_t nrel = s0, nlossy = s0;
  for (int i = 0; i < 4; i++) send_seq(p);
  CHECK_EQ(drain(rel, &nrel, 100), 4);
  CHECK_EQ(drain(lossy, &nlossy, 100), 4);
  /* Both wait for s0 + 4.  Its slot gets s0 + 4 + 2^62, the next one
   * s0 + 5 + 2^63: each ahead of what a consumer wants there, and
   * together a cycle round the sequence space back to the slots of
   * s0 .. s0 + 3. */
  rmap m = rmap_open("cycle");
  rill_chan_hdr *ch = rmap_chan(&m, "c");
  uint64_t w = s0 + 4;
  atomic_store(&slot_of(ch, w)->seq, w + (1ull << 62));
  atomic_store(&slot_of(ch, w + 1)->seq, w + 1 + (1ull << 63));
  /* Bounded: before the fix each of these calls delivered for ever. */
  CHECK_EQ(drain(rel, &nrel, 1000), 0);
  CHECK_EQ(drain(lossy, &nlossy, 1000), 0);
  rill_consumer_stats cs;
  CHECK_OK(rill_consumer_flush(rel));
  CHECK_OK(rill_consumer_stats_get(r, "c", rill_consumer_slot(rel), &cs));
  CHECKF(cs.lost < 8, "lost %llu", (unsigned long long)cs.lost);
  /* The producer goes on (over the planted slots): both consumers get
   * what it publishes after the slot they skipped. */
  for (int i = 0; i < 6; i++) send_seq(p);
  CHECK(drain(rel, &nrel, 100) >= 5);
  CHECK(drain(lossy, &nlossy, 100) >= 5);
  CHECK_EQ(nrel, s0 + 10);
  CHECK_EQ(nlossy, s0 + 10);
  rmap_close(&m);
  rill_consumer_leave(rel);
  rill_consumer_leave(lossy);
  rill_producer_leave(p);
  rill_region_close(r);
  cases++;
}

/* ---- counters ---------------------------------------------------------------- */

#define CNT_CONS 3
typedef struct snap {
  uint64_t ch[5];              /* msgs bytes backpressure evictions wakes */
  uint64_t cs[CNT_CONS][5];    /* msgs bytes overrun_poll overrun_read lost */
  uint64_t lat[CNT_CONS];      /* latency samples */
  uint32_t mode[CNT_CONS];     /* 0: the slot is free (its counters are not kept) */
} snap;

static void take(rill_region *r, snap *s) {
  rill_channel_stats st;
  CHECK_OK(rill_channel_stats_get(r, "c", &st));
  uint64_t ch[5] = {st.msgs, st.bytes, st.backpressure, st.evictions, st.wakes};
  memcpy(s->ch, ch, sizeof ch);
  for (uint32_t i = 0; i < CNT_CONS; i++) {
    rill_consumer_stats cs;
    CHECK_OK(rill_consumer_stats_get(r, "c", i, &cs));
    uint64_t v[5] = {cs.msgs, cs.bytes, cs.overrun_poll, cs.overrun_read, cs.lost};
    memcpy(s->cs[i], v, sizeof v);
    rill_latency h;
    CHECK_OK(rill_latency_get(r, "c", i, &h));
    s->lat[i] = h.count;
    s->mode[i] = cs.mode;
  }
}

static const char *const ch_names[5] = {"msgs", "bytes", "backpressure", "evictions", "wakes"};
static const char *const cs_names[5] = {"msgs", "bytes", "overrun_poll", "overrun_read", "lost"};

typedef struct shared_flags {
  _Atomic int stop;  /* main -> sampler: the run is over */
  _Atomic int ready; /* reader -> main: slot 0 is joined again */
} shared_flags;
static shared_flags *flags; /* shared with the children */

/* The sampler: another process, reading every counter as fast as it can
 * until told to stop; fails on any decrease. */
static void sampler(void *arg) {
  (void)arg;
  rill_region *r = tu_region_open("counters");
  snap a, b;
  take(r, &a);
  uint64_t n = 0;
  while (!atomic_load(&flags->stop)) {
    take(r, &b);
    for (int k = 0; k < 5; k++)
      CHECKF(b.ch[k] >= a.ch[k], "channel %s went down: %llu -> %llu (sample %llu)",
             ch_names[k], (unsigned long long)a.ch[k], (unsigned long long)b.ch[k],
             (unsigned long long)n);
    for (int i = 0; i < CNT_CONS; i++) {
      if (!a.mode[i] || !b.mode[i]) continue; /* left (or not yet back) */
      for (int k = 0; k < 5; k++)
        CHECKF(b.cs[i][k] >= a.cs[i][k], "consumer %d %s went down: %llu -> %llu", i,
               cs_names[k], (unsigned long long)a.cs[i][k], (unsigned long long)b.cs[i][k]);
      CHECKF(b.lat[i] >= a.lat[i], "consumer %d latency samples went down", i);
    }
    a = b;
    n++;
  }
  CHECK(n > 100);
  CHECK(a.ch[2] > 0); /* the producer did wait for credit */
  rill_region_close(r);
}

/* A slow reliable consumer (slot 0) that parks in its waits. */
static void slow_reader(void *arg) {
  uint64_t total = *(uint64_t *)arg;
  rill_region *r = tu_region_open("counters");
  rill_consumer *c;
  CHECK_OK(rill_consumer_rejoin(r, "c", 0, &c));
  CHECK_OK(rill_consumer_set_spin(c, 0));
  atomic_store(&flags->ready, 1);
  /* Read nothing until the producer found no credit: it waits for us. */
  uint64_t end = tu_ns() + 10000000000ull;
  unsigned spins = 0;
  for (;;) {
    rill_channel_stats st;
    CHECK_OK(rill_channel_stats_get(r, "c", &st));
    if (st.backpressure) break;
    CHECKF(tu_ns() < end, "the producer never waited for the slow reader");
    tu_relax(&spins);
  }
  uint8_t buf[256];
  for (uint64_t i = 0; i < total; i++) {
    rill_meta m;
    int64_t rc = rill_recv_wait(c, buf, sizeof buf, &m, 5000000000ull);
    CHECKF(rc >= 0, "recv_wait: %s", rill_strerror((int)rc));
    if ((i & 63) == 0) usleep(200); /* fall behind: the producer waits */
  }
  rill_consumer_leave(c);
  rill_region_close(r);
}

static void t_counters(void) {
  rill_channel_opts co = {.depth = 64, .mtu = 128};
  uint64_t s0;
  rill_region *r = tu_channel_new("counters", 1 << 20, "c", &co, &s0);
  /* Three slots taken: 0 reliable (the slow reader), 1 lossy (lapped),
   * 2 reliable, read here in bursts. */
  rill_consumer *c0, *lossy, *fast;
  CHECK_OK(rill_consumer_join(r, "c", RILL_RELIABLE, &c0));
  CHECK_OK(rill_consumer_join(r, "c", RILL_LOSSY, &lossy));
  CHECK_OK(rill_consumer_join(r, "c", RILL_RELIABLE, &fast));
  CHECK_EQ(rill_consumer_slot(c0), 0);
  CHECK_EQ(rill_consumer_slot(lossy), 1);
  CHECK_EQ(rill_consumer_slot(fast), 2);
  flags = tu_shared(sizeof *flags);
  uint64_t total = tu_scaled(20000, 2000);
  rill_producer *p;
  CHECK_OK(rill_producer_join(r, "c", &p));
  rill_consumer_leave(c0); /* its slot keeps its position for the rejoin */
  pid_t rd = tu_fork("slow reader", slow_reader, &total);
  unsigned spins = 0;
  while (!atomic_load(&flags->ready)) tu_relax(&spins); /* before we publish */
  pid_t sm = tu_fork("sampler", sampler, NULL);
  uint8_t buf[128] = {0};
  for (uint64_t i = 0; i < total; i++) {
    int rc;
    while ((rc = rill_send_wait(p, buf, 1 + i % 128, i, 2000000)) == -RILL_ETIMEDOUT) {}
    CHECKF(rc == 0, "send_wait: %s", rill_strerror(rc));
    if ((i & 31) == 0) {
      rill_meta m;
      uint8_t in[128];
      while (rill_recv(fast, in, sizeof in, &m) >= 0) {}
      rill_consumer_flush(fast);
    }
    if ((i & 255) == 0) { /* lapped in between */
      rill_meta m;
      uint8_t in[128];
      (void)rill_recv(lossy, in, sizeof in, &m);
      rill_consumer_flush(lossy);
    }
  }
  tu_wait(rd);
  atomic_store(&flags->stop, 1);
  tu_wait(sm);
  rill_channel_stats st;
  CHECK_OK(rill_producer_flush(p));
  CHECK_OK(rill_channel_stats_get(r, "c", &st));
  CHECKF(st.backpressure > 0, "the producer never waited");
  rill_consumer_leave(lossy);
  rill_consumer_leave(fast);
  rill_producer_leave(p);
  rill_region_close(r);
  munmap(flags, sizeof *flags);
  cases++;
}

/* ---- max_msg ----------------------------------------------------------------- */

static void t_max_msg(void) {
  rill_channel_opts co = {.depth = 16, .mtu = 64, .max_msg = 128};
  uint64_t s0;
  rill_region *r = tu_channel_new("maxmsg", 1 << 20, "c", &co, &s0);
  rill_consumer *early;
  CHECK_OK(rill_consumer_join(r, "c", RILL_RELIABLE, &early));
  rmap m = rmap_open("maxmsg");
  rill_chan_hdr *ch = rmap_chan(&m, "c");
  /* Out of range (more than depth / 2 fragments, or under one mtu): the
   * producer refuses the header as the consumers do. */
  uint64_t bad[] = {9 * 64, 63, 1ull << 40};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ch->max_msg = bad[i];
    rill_producer *p = NULL;
    rill_consumer *c = NULL;
    CHECK_RC(rill_producer_join(r, "c", &p), -RILL_ECORRUPT);
    CHECK_RC(rill_consumer_join(r, "c", RILL_LOSSY, &c), -RILL_ECORRUPT);
  }
  /* In range but larger than the creator set: the consumer that joined
   * before keeps its own limit and drops a longer message as lost. */
  ch->max_msg = 8 * 64;
  rill_producer *p;
  CHECK_OK(rill_producer_join(r, "c", &p));
  uint8_t big[512], out[512];
  tu_fill(big, sizeof big, 7, 0);
  CHECK_OK(rill_send(p, big, 256, 1));
  tu_fill(big, 100, 8, 0);
  CHECK_OK(rill_send(p, big, 100, 2));
  rill_meta mt;
  int64_t n = rill_recv(early, out, sizeof out, &mt);
  CHECK_EQ(n, 100);
  CHECK_EQ(mt.sig, 2);
  CHECK_EQ(mt.lost, 4); /* the four fragments of the 256-byte message */
  CHECK_PAYLOAD(out, 100, 8, 0);
  rmap_close(&m);
  rill_producer_leave(p);
  rill_consumer_leave(early);
  rill_region_close(r);
  cases++;
}

/* ---- fifo -------------------------------------------------------------------- */

static void t_fifo(void) {
  rill_channel_opts co = {.depth = 16, .mtu = 64};
  uint64_t s0;
  rill_region *r = tu_channel_new("fifo", 1 << 20, "c", &co, &s0);
  char path[512];
  snprintf(path, sizeof path, "%s/.rill-fifo@fifo@c@0", tu_dir());
  int root = geteuid() == 0;
  for (int kind = 0; kind < 3; kind++) {
    if (kind == 0 && !root) continue; /* needs chown to another user */
    unlink(path);
    if (kind == 0) { /* a FIFO another user made first */
      CHECK(mkfifo(path, 0666) == 0);
      CHECK(chown(path, 65534, 65534) == 0);
    } else if (kind == 1) { /* a regular file */
      int fd = open(path, O_CREAT | O_WRONLY, 0600);
      CHECK(fd >= 0);
      close(fd);
    } else { /* a symbolic link to a FIFO of ours elsewhere */
      char target[512];
      snprintf(target, sizeof target, "%s/elsewhere", tu_dir());
      unlink(target);
      CHECK(mkfifo(target, 0600) == 0);
      CHECK(symlink(target, path) == 0);
    }
    rill_consumer *c;
    CHECK_OK(rill_consumer_join(r, "c", RILL_RELIABLE, &c));
    CHECK_EQ(rill_consumer_slot(c), 0);
    int fd = rill_consumer_fd(c);
    CHECKF(fd == -RILL_EACCES, "kind %d: rill_consumer_fd gave %d, not EACCES", kind, fd);
    rill_consumer_leave(c);
  }
  /* Our own FIFO, left by an earlier consumer, is taken. */
  unlink(path);
  rill_consumer *c;
  CHECK_OK(rill_consumer_join(r, "c", RILL_RELIABLE, &c));
  CHECK(rill_consumer_fd(c) >= 0);
  rill_consumer_leave(c);
  CHECK_OK(rill_consumer_join(r, "c", RILL_RELIABLE, &c));
  CHECK(rill_consumer_fd(c) >= 0);
  rill_consumer_leave(c);
  rill_region_close(r);
  cases++;
}

/* ---- deep -------------------------------------------------------------------- */

static void t_deep(void) {
  /* A directory whose path leaves room for a region's own path (NAME, 39
   * bytes) but not for its consumers' FIFOs. */
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", tu_dir());
  size_t want = 4096 - 80;
  while (strlen(dir) + 201 < want) {
    size_t n = strlen(dir);
    dir[n] = '/';
    memset(dir + n + 1, 'd', 200);
    dir[n + 201] = 0;
    CHECKF(mkdir(dir, 0700) == 0, "mkdir: %s", strerror(errno));
  }
  size_t n = strlen(dir);
  dir[n] = '/';
  memset(dir + n + 1, 'e', want - n - 1);
  dir[want] = 0;
  CHECKF(mkdir(dir, 0700) == 0, "mkdir: %s", strerror(errno));
  const char *name = "rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr"; /* 39 bytes */
  CHECK_EQ(strlen(name), RILL_NAME_MAX);
  rill_region_opts o = {.size = 1 << 20, .dir = dir};
  rill_region *r = NULL;
  CHECK_RC(rill_region_create(name, &o, &r), -RILL_EINVAL);
  CHECK_RC(rill_region_open(name, &o, &r), -RILL_EINVAL);
  /* a short name fits */
  CHECK_OK(rill_region_create("r", &o, &r));
  rill_channel_opts co = {.depth = 16, .mtu = 64};
  CHECK_OK(rill_channel_create(r, "ccccccccccccccccccccccccccccccccccccccc", &co));
  rill_consumer *c;
  CHECK_OK(rill_consumer_join(r, "ccccccccccccccccccccccccccccccccccccccc", RILL_RELIABLE, &c));
  CHECK(rill_consumer_fd(c) >= 0);
  rill_consumer_leave(c);
  rill_region_close(r);
  CHECK_OK(rill_region_unlink("r", dir));
  /* The watchdog removes the test's directory, not the ones made in it. */
  size_t top = strlen(tu_dir());
  while (strlen(dir) > top) {
    CHECKF(rmdir(dir) == 0, "rmdir: %s", strerror(errno));
    *strrchr(dir, '/') = 0;
  }
  cases++;
}

/* ---- null -------------------------------------------------------------------- */

static void t_null(void) {
  rill_channel_opts co = {.depth = 16, .mtu = 64};
  uint64_t s0;
  rill_region *r = tu_channel_new("null", 1 << 20, "c", &co, &s0);
  rill_producer *p;
  rill_consumer *c;
  CHECK_OK(rill_producer_join(r, "c", &p));
  CHECK_OK(rill_consumer_join(r, "c", RILL_LOSSY, &c));
  void *buf;
  rill_view v;
  rill_meta m;
  uint8_t b[8];
  CHECK_RC(rill_send(NULL, b, 1, 0), -RILL_EINVAL);
  CHECK_RC(rill_send(p, NULL, 1, 0), -RILL_EINVAL);
  CHECK_OK(rill_send(p, NULL, 0, 0)); /* an empty message */
  CHECK_RC(rill_send_wait(NULL, b, 1, 0, 0), -RILL_EINVAL);
  CHECK_RC(rill_reserve(NULL, 1, &buf), -RILL_EINVAL);
  CHECK_RC(rill_reserve(p, 1, NULL), -RILL_EINVAL);
  CHECK_RC(rill_reserve_wait(NULL, 1, &buf, 0), -RILL_EINVAL);
  CHECK_RC(rill_commit(NULL, 1, 0, 0), -RILL_EINVAL);
  CHECK_RC(rill_commit_ts(NULL, 1, 0, 0, 0), -RILL_EINVAL);
  CHECK_RC(rill_commit_at(NULL, b, 1, 0, 0), -RILL_EINVAL);
  CHECK_RC(rill_producer_flush(NULL), -RILL_EINVAL);
  CHECK_EQ(rill_producer_seq(NULL), 0);
  CHECK_RC(rill_poll(NULL, &v), -RILL_EINVAL);
  CHECK_RC(rill_poll(c, NULL), -RILL_EINVAL);
  CHECK_RC(rill_poll_spin(NULL, &v, 0), -RILL_EINVAL);
  CHECK_RC(rill_poll_wait(NULL, &v, 0), -RILL_EINVAL);
  CHECK_RC(rill_check(NULL, &v), -RILL_EINVAL);
  CHECK_RC(rill_check(c, NULL), -RILL_EINVAL);
  CHECK_RC(rill_recv(NULL, b, sizeof b, &m), -RILL_EINVAL);
  CHECK_RC(rill_recv(c, NULL, 8, &m), -RILL_EINVAL);
  CHECK_RC(rill_recv(c, b, sizeof b, NULL), -RILL_EINVAL);
  CHECK_RC(rill_recv_wait(NULL, b, sizeof b, &m, 0), -RILL_EINVAL);
  CHECK_RC(rill_consumer_fd(NULL), -RILL_EINVAL);
  CHECK_RC(rill_consumer_arm(NULL), -RILL_EINVAL);
  CHECK_RC(rill_consumer_flush(NULL), -RILL_EINVAL);
  CHECK_RC(rill_consumer_producer(NULL), -RILL_EINVAL);
  CHECK_RC(rill_consumer_seek_last(NULL, 1), -RILL_EINVAL);
  CHECK_RC(rill_wait_any(NULL, 1, 0), -RILL_EINVAL);
  CHECK_RC(rill_producer_join(NULL, "c", &p), -RILL_EINVAL);
  CHECK_RC(rill_producer_join(r, NULL, &p), -RILL_EINVAL);
  CHECK_RC(rill_consumer_join(NULL, "c", RILL_LOSSY, &c), -RILL_EINVAL);
  CHECK_RC(rill_consumer_join(r, "c", RILL_LOSSY, NULL), -RILL_EINVAL);
  CHECK_RC(rill_channel_create(NULL, "d", NULL), -RILL_EINVAL);
  rill_channel_stats st;
  CHECK_RC(rill_channel_stats_get(NULL, "c", &st), -RILL_EINVAL);
  CHECK_RC(rill_channel_stats_get(r, NULL, &st), -RILL_EINVAL);
  CHECK_RC(rill_region_info_get(NULL, NULL), -RILL_EINVAL);
  CHECK_RC(rill_region_create(NULL, NULL, &r), -RILL_EINVAL);
  CHECK_RC(rill_region_open("null", NULL, NULL), -RILL_EINVAL);
  CHECK_OK(rill_producer_leave(NULL));
  CHECK_OK(rill_consumer_leave(NULL));
  CHECK_OK(rill_region_close(NULL));
  rill_consumer_leave(c);
  rill_producer_leave(p);
  rill_region_close(r);
  cases++;
}

/* ---- os_error ---------------------------------------------------------------- */

static void t_os_error(void) {
  char path[512];
  tu_path(path, sizeof path, "adir");
  CHECK(mkdir(path, 0700) == 0);
  rill_region_opts o = tu_opts(0);
  rill_region *r;
  /* a directory where the region file should be: no code of its own */
  CHECK_RC(rill_region_open("adir", &o, &r), -RILL_EIO);
  CHECK_EQ(rill_os_error(), EISDIR);
  /* a code of its kind keeps its errno too */
  CHECK_RC(rill_region_open("nosuch", &o, &r), -RILL_ENOENT);
  CHECK_EQ(rill_os_error(), ENOENT);
  CHECK(rmdir(path) == 0);
  cases++;
}

int main(void) {
  tu_start("test_hardening", 120);
  t_geometry();
  t_cycle();
  t_counters();
  t_max_msg();
  t_fifo();
  t_deep();
  t_null();
  t_os_error();
  return tu_pass("%d cases", cases);
}
