/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* Observers survive a region file that someone shrinks under them.
 *
 * Whoever can write a region file can ftruncate it; a process that reads a
 * shared mapping past the new end dies of SIGBUS.  The calls that only
 * look (rill_region_list, rill_region_in_use, rill_region_open, and on any
 * handle rill_region_info_get, rill_region_object_get,
 * rill_channel_stats_get, rill_consumer_stats_get, rill_latency_get) copy
 * what they read with pread instead, and report a shrunk file as an error.
 *
 * A child shrinks the file to random lengths (0 to all but a page) and
 * grows it back with its original bytes, over and over, while this process
 * runs every observer call thousands of times, through handles opened
 * before (read-write and read-only) and opened anew each round.  Each call
 * must return 0 with what the file held (its bytes, or the zeros of a file
 * grown back), or an error code; the test
 * checks that both happened (the race was run).  Before the calls copied
 * with pread, this process died of SIGBUS within a few rounds. */
#include "testutil.h"

#define SIZE (1u << 20)
#define SLOTS 4u

typedef struct shared {
  _Atomic int stop;
  _Atomic uint64_t rounds;
} shared;

typedef struct trunc_arg {
  const char *path;
  shared *sh;
  const uint8_t *orig; /* the file's bytes before */
} trunc_arg;

static void truncator(void *arg) {
  trunc_arg *a = arg;
  int fd = open(a->path, O_RDWR);
  CHECKF(fd >= 0, "open: %s", strerror(errno));
  tu_rng g = {0x5eed};
  const off_t lens[] = {0, 8, 100, 4096, 4096 + 200, 8192, 3 * 4096, 65536, SIZE / 2,
                        SIZE - 4096};
  while (!atomic_load(&a->sh->stop)) {
    off_t len = lens[tu_below(&g, sizeof lens / sizeof lens[0])];
    CHECK(ftruncate(fd, len) == 0);
    CHECK(ftruncate(fd, SIZE) == 0);
    CHECK(pwrite(fd, a->orig, SIZE, 0) == (ssize_t)SIZE);
    atomic_fetch_add(&a->sh->rounds, 1);
  }
  close(fd);
}

static uint64_t nok, nerr;

/* RC must be 0 or one of the codes a changed file may give. */
static int seen(int rc, const char *what) {
  if (rc == 0) { nok++; return 1; }
  CHECKF(rc == -RILL_ETRUNC || rc == -RILL_ECORRUPT || rc == -RILL_EMAGIC ||
             rc == -RILL_EEMPTY || rc == -RILL_EVERSION || rc == -RILL_ENOENT,
         "%s: unexpected %d (%s)", what, rc, rill_strerror(rc));
  nerr++;
  return 0;
}

static int count_one(const char *name, void *arg) {
  (void)name;
  (*(int *)arg)++;
  return 0;
}

/* Every observer call on handle R. */
static void look(rill_region *r) {
  rill_region_info ri;
  if (seen(rill_region_info_get(r, &ri), "info")) CHECK_EQ(ri.size, SIZE);
  rill_object_info oi;
  if (seen(rill_region_object_get(r, 0, &oi), "object"))
    CHECKF(!strcmp(oi.name, "c") && oi.off == 4096, "object 0: %s at %" PRIu64, oi.name, oi.off);
  rill_channel_stats st;
  if (seen(rill_channel_stats_get(r, "c", &st), "channel stats")) {
    CHECK_EQ(st.depth, 256);
    CHECK_EQ(st.max_consumers, SLOTS);
    /* what was read is what the file held: the counters, or zeros */
    CHECKF(st.msgs == 100 || st.msgs == 0, "msgs %" PRIu64, st.msgs);
  }
  for (uint32_t k = 0; k < SLOTS; k++) {
    rill_consumer_stats cs;
    if (seen(rill_consumer_stats_get(r, "c", k, &cs), "consumer stats")) {
      CHECK_EQ(cs.slot, k);
      CHECKF(cs.mode == (k == 0 ? RILL_RELIABLE : 0u) || cs.mode == 0, "mode %u", cs.mode);
    }
    rill_latency h;
    seen(rill_latency_get(r, "c", k, &h), "latency");
  }
}

int main(void) {
  tu_start("truncate", 120);
  rill_region_opts o = tu_opts(SIZE);
  rill_region *r;
  CHECK_OK(rill_region_create("t", &o, &r));
  rill_channel_opts co = {.depth = 256, .mtu = 256, .max_consumers = SLOTS};
  CHECK_OK(rill_channel_create(r, "c", &co));
  rill_producer *p;
  rill_consumer *c;
  CHECK_OK(rill_producer_join(r, "c", &p));
  CHECK_OK(rill_consumer_join(r, "c", RILL_RELIABLE, &c));
  uint8_t msg[64] = {1};
  for (int i = 0; i < 100; i++) CHECK_OK(rill_send(p, msg, sizeof msg, (uint64_t)i));
  rill_meta m;
  for (int i = 0; i < 100; i++) CHECK_EQ(rill_recv(c, msg, sizeof msg, &m), (int64_t)sizeof msg);
  CHECK_OK(rill_producer_flush(p));
  CHECK_OK(rill_consumer_flush(c));

  char path[512];
  tu_path(path, sizeof path, "t");
  uint8_t *orig = malloc(SIZE);
  CHECK(orig);
  int fd = open(path, O_RDONLY);
  CHECK(fd >= 0 && pread(fd, orig, SIZE, 0) == (ssize_t)SIZE);
  close(fd);

  /* Handles opened before the file starts to change. */
  rill_region *rw = tu_region_open("t");
  rill_region_opts ro = o;
  ro.flags = RILL_REGION_READONLY;
  rill_region *rd;
  CHECK_OK(rill_region_open("t", &ro, &rd));

  shared *sh = tu_shared(sizeof *sh);
  trunc_arg ta = {path, sh, orig};
  pid_t k = tu_fork("truncator", truncator, &ta);

  uint64_t rounds = tu_scaled(3000, 300);
  for (uint64_t i = 0; i < rounds; i++) {
    int n = 0;
    int rc = rill_region_list(tu_dir(), count_one, &n);
    CHECKF(rc >= 0 && rc <= 1 && n == rc, "list: %d (%d)", rc, n);
    rc = rill_region_in_use("t", tu_dir());
    CHECKF(rc == 1 || rc == -RILL_EMAGIC, "in_use: %d", rc);
    look(rw);
    look(rd);
    rill_region *x;
    if (seen(rill_region_open("t", &ro, &x), "open read-only")) {
      look(x);
      rill_region_close(x);
    }
    if (seen(rill_region_open("t", &o, &x), "open read-write")) {
      look(x);
      rill_region_close(x);
    }
  }
  atomic_store(&sh->stop, 1);
  tu_wait(k);
  uint64_t shrinks = atomic_load(&sh->rounds);
  CHECKF(nerr > 0 && nok > 0, "%" PRIu64 " calls succeeded, %" PRIu64 " failed", nok, nerr);
  /* The file is whole again: everything works as before. */
  look(rd);
  rill_consumer_stats cs;
  CHECK_OK(rill_consumer_stats_get(rd, "c", 0, &cs));
  CHECK_EQ(cs.msgs, 100);
  rill_region_close(rd);
  rill_region_close(rw);
  rill_consumer_leave(c);
  rill_producer_leave(p);
  rill_region_close(r);
  free(orig);
  return tu_pass("%" PRIu64 " rounds against %" PRIu64 " shrinks: %" PRIu64
                 " calls answered, %" PRIu64 " reported the change",
                 rounds, shrinks, nok, nerr);
}
