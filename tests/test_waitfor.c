/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* Waiting for the other side: rill_region_open_wait(), rill_channel_wait(),
 * rill_producer_wait_consumers().
 *
 * - a region made by another process after the wait began wakes the
 *   waiter at once; before that the waiter sleeps in ppoll (inotify), it
 *   does not poll: /proc shows it blocked in that system call and making
 *   no context switches over a stretch of time, and an unrelated file
 *   appearing does not end the wait;
 * - a channel created later by another process wakes a waiter asleep on
 *   the futex of the region's object count; another channel does not end
 *   the wait; a full table without it is ENOENT at once;
 * - a producer waiting for two consumers sleeps on its futex through the
 *   first join and returns 2 at the second; a consumer that died does not
 *   count;
 * - timeouts (0 and short) return ETIMEDOUT, a region that never appears
 *   times out, a missing directory is ENODIR, bad arguments EINVAL.
 */
#include "testutil.h"

#include <sys/syscall.h>

#define MS 1000000ull
#define SEC 1000000000ull

/* What a waiting child tells the parent, in shared memory. */
typedef struct shared {
  _Atomic int started;     /* the child is about to wait */
  _Atomic int done;        /* the wait returned ... */
  _Atomic int64_t rc;      /* ... with this */
  _Atomic uint64_t t_done; /* CLOCK_MONOTONIC when it returned */
} shared;

static shared *shared_new(void) { return tu_shared(sizeof(shared)); }

static void report(shared *s, int64_t rc) {
  atomic_store(&s->rc, rc);
  atomic_store(&s->t_done, tu_ns());
  atomic_store(&s->done, 1);
}

/* The system call PID's main thread is blocked in (/proc/PID/syscall), or
 * -1 if it is running, or -2 if /proc does not say (not permitted). */
static long blocked_in(pid_t pid) {
  char path[64], buf[256];
  snprintf(path, sizeof path, "/proc/%d/syscall", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f) return -2;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  if (n == 0) return -2;
  buf[n] = 0;
  if (!strncmp(buf, "running", 7)) return -1;
  return strtol(buf, NULL, 10);
}

/* PID's voluntary context switches so far (/proc/PID/status). */
static long vol_switches(pid_t pid) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  FILE *f = fopen(path, "r");
  CHECK(f != NULL);
  long v = -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "voluntary_ctxt_switches: %ld", &v) == 1) break;
  fclose(f);
  CHECK(v >= 0);
  return v;
}

/* Waits until the child PID has started its wait and is blocked in system
 * call SYSNO, and has not returned.  Returns 0 if /proc lets us see
 * that, -2 if it does not (the caller then skips what needs it). */
static int await_blocked(pid_t pid, shared *s, long sysno) {
  unsigned spins = 0;
  while (!atomic_load(&s->started)) tu_relax(&spins);
  uint64_t t0 = tu_ns();
  for (;;) {
    CHECKF(!atomic_load(&s->done), "the wait returned %" PRId64 " (%s) before its event",
           (int64_t)atomic_load(&s->rc), rill_strerror((int)atomic_load(&s->rc)));
    long sc = blocked_in(pid);
    if (sc == -2) return -2;
    if (sc == sysno) return 0;
    CHECKF(tu_ns() - t0 < 20 * SEC, "child %d never blocked in syscall %ld (last %ld)",
           (int)pid, sysno, sc);
    tu_relax(&spins);
  }
}

/* After an event that must not end the wait: waits until the child PID
 * has woken (a voluntary switch since it counted V0) and is blocked in
 * SYSNO again, its wait not over.  Does nothing if /proc does not tell. */
static void await_rewait(pid_t pid, shared *s, long sysno, long v0) {
  if (v0 < 0) return;
  unsigned spins = 0;
  uint64_t t0 = tu_ns();
  while (vol_switches(pid) <= v0) {
    CHECKF(tu_ns() - t0 < 20 * SEC, "the waiter did not wake");
    tu_relax(&spins);
  }
  await_blocked(pid, s, sysno);
}

/* Shows that the child is asleep: blocked in SYSNO over a stretch of time
 * without waking.  The stretch is the measurement itself (a poller would
 * wake many times in it), not a stand-in for synchronising.  Returns its
 * voluntary switches so far, or -1 if /proc does not tell. */
static long check_asleep(pid_t pid, shared *s, long sysno) {
  if (await_blocked(pid, s, sysno) == -2) {
    printf("  (cannot read /proc/%d/syscall: sleeping not checked)\n", (int)pid);
    return -1;
  }
  long v0 = vol_switches(pid);
  struct timespec ts = {0, 200 * (long)MS};
  nanosleep(&ts, NULL);
  long v1 = vol_switches(pid);
  CHECK(!atomic_load(&s->done));
  CHECKF(blocked_in(pid) == sysno, "no longer blocked in syscall %ld", sysno);
  /* a nap of 1 ms would be ~200 switches; the 1 s slices, at most 1 */
  CHECKF(v1 - v0 <= 1, "the waiter woke %ld times in 200 ms", v1 - v0);
  return v1;
}

/* Waits for the child's wait to return; returns its rc and checks that it
 * returned within 500 ms (sanitizers, a loaded machine) of T_EVENT: woken
 * by the event, not by the end of a 1 s slice (the event comes just after
 * the waiter went back to sleep, so a slice would end about 1 s later). */
static int64_t await_done(shared *s, uint64_t t_event) {
  unsigned spins = 0;
  uint64_t t0 = tu_ns();
  while (!atomic_load(&s->done)) {
    CHECKF(tu_ns() - t0 < 20 * SEC, "the wait did not return");
    tu_relax(&spins);
  }
  uint64_t t = atomic_load(&s->t_done);
  CHECKF(t < t_event + 500 * MS, "woke %.3f s after the event", (double)(t - t_event) / 1e9);
  return atomic_load(&s->rc);
}

/* ---- regions ---------------------------------------------------------------- */

static void region_waiter(void *arg) {
  shared *s = arg;
  rill_region_opts o = tu_opts(0);
  rill_region *r = NULL;
  atomic_store(&s->started, 1);
  int rc = rill_region_open_wait("late", &o, 30 * SEC, &r);
  if (rc == 0) { /* it is the region the parent made, and usable */
    rill_region_info info;
    CHECK_OK(rill_region_info_get(r, &info));
    CHECK_EQ(info.size, 1 << 20);
    CHECK_EQ(info.creator_pid, getppid());
    rill_region_close(r);
  }
  report(s, rc);
}

static void t_region(void) {
  rill_region_opts o = tu_opts(1 << 20);
  rill_region *r = NULL;
  /* arguments, and what is final at once */
  CHECK_RC(rill_region_open_wait("bad/name", &o, SEC, &r), -RILL_EINVAL);
  CHECK_RC(rill_region_open_wait("x", &o, SEC, NULL), -RILL_EINVAL);
  rill_region_opts flagged = o;
  flagged.flags = 0x100; /* no such flag (1 is RILL_REGION_READONLY) */
  CHECK_RC(rill_region_open_wait("x", &flagged, SEC, &r), -RILL_EINVAL);
  rill_region_opts nodir = {.dir = "/nonexistent-rill-dir"};
  CHECK_RC(rill_region_open_wait("x", &nodir, SEC, &r), -RILL_ENODIR);
  CHECK_RC(rill_region_open_wait("x", &o, 0, &r), -RILL_ENOENT); /* looks once */
  char path[512];
  tu_path(path, sizeof path, "notrill");
  FILE *f = fopen(path, "w");
  CHECK(f != NULL);
  fputs("not a region at all", f);
  fclose(f);
  CHECK_RC(rill_region_open_wait("notrill", &o, 10 * SEC, &r), -RILL_EMAGIC);
  /* one that exists opens at once */
  rill_region *made;
  CHECK_OK(rill_region_create("here", &o, &made));
  CHECK_OK(rill_region_open_wait("here", &o, RILL_FOREVER, &r));
  rill_region_close(r);
  rill_region_close(made);
  /* one that never appears times out, no sooner */
  uint64_t t0 = tu_ns();
  CHECK_RC(rill_region_open_wait("never", &o, 100 * MS, &r), -RILL_ETIMEDOUT);
  CHECK(tu_ns() - t0 >= 100 * MS);

  /* one made by another process while the waiter sleeps */
  shared *s = shared_new();
  pid_t kid = tu_fork("region waiter", region_waiter, s);
  long v = check_asleep(kid, s, SYS_ppoll);
  /* other names in the directory wake it, but do not end the wait */
  CHECK_OK(rill_region_create("late-not", &o, &made));
  rill_region_close(made);
  await_rewait(kid, s, SYS_ppoll, v);
  uint64_t t_event = tu_ns();
  CHECK_OK(rill_region_create("late", &o, &made));
  CHECK_RC(await_done(s, t_event), 0);
  tu_wait(kid);
  printf("  region: the waiter woke %.1f ms after the create began\n",
         (double)(atomic_load(&s->t_done) - t_event) / 1e6);
  rill_region_close(made);
  munmap(s, sizeof *s);
}

/* ---- channels --------------------------------------------------------------- */

static void channel_waiter(void *arg) {
  shared *s = arg;
  rill_region *r = tu_region_open("chans");
  atomic_store(&s->started, 1);
  int rc = rill_channel_wait(r, "late", 30 * SEC);
  if (rc == 0) { /* it is there: joinable */
    rill_consumer *c;
    CHECK_OK(rill_consumer_join(r, "late", RILL_RELIABLE, &c));
    rill_consumer_leave(c);
  }
  report(s, rc);
  rill_region_close(r);
}

static void t_channel(void) {
  rill_region_opts o = tu_opts(4 << 20);
  rill_region *r;
  CHECK_OK(rill_region_create("chans", &o, &r));
  rill_channel_opts co = {.depth = 64, .mtu = 64, .max_consumers = 2};
  CHECK_OK(rill_channel_create(r, "here", &co));
  CHECK_RC(rill_channel_wait(NULL, "here", SEC), -RILL_EINVAL);
  CHECK_RC(rill_channel_wait(r, "bad/name", SEC), -RILL_EINVAL);
  CHECK_OK(rill_channel_wait(r, "here", 0));
  CHECK_OK(rill_channel_wait(r, "here", RILL_FOREVER));
  CHECK_RC(rill_channel_wait(r, "late", 0), -RILL_ETIMEDOUT);
  uint64_t t0 = tu_ns();
  CHECK_RC(rill_channel_wait(r, "late", 100 * MS), -RILL_ETIMEDOUT);
  CHECK(tu_ns() - t0 >= 100 * MS);

  shared *s = shared_new();
  pid_t kid = tu_fork("channel waiter", channel_waiter, s);
  long v = check_asleep(kid, s, SYS_futex);
  CHECK_OK(rill_channel_create(r, "late-not", &co)); /* wakes it; it sleeps again */
  await_rewait(kid, s, SYS_futex, v);
  uint64_t t_event = tu_ns();
  CHECK_OK(rill_channel_create(r, "late", &co));
  CHECK_RC(await_done(s, t_event), 0);
  tu_wait(kid);
  printf("  channel: the waiter woke %.1f ms after the create began\n",
         (double)(atomic_load(&s->t_done) - t_event) / 1e6);
  munmap(s, sizeof *s);

  /* a full table without the channel: it can never appear */
  char name[16];
  int i = 3; /* here, late-not, late */
  while (i < 62) {
    snprintf(name, sizeof name, "fill%d", i++);
    CHECK_OK(rill_channel_create(r, name, &co));
  }
  CHECK_RC(rill_channel_create(r, "one-more", &co), -RILL_ENOSPC);
  t0 = tu_ns();
  CHECK_RC(rill_channel_wait(r, "one-more", 10 * SEC), -RILL_ENOENT);
  CHECK(tu_ns() - t0 < 5 * SEC);
  CHECK_OK(rill_channel_wait(r, "fill61", 0));
  rill_region_close(r);
}

/* ---- consumers -------------------------------------------------------------- */

static void producer_waiter(void *arg) {
  shared *s = arg;
  rill_region *r = tu_region_open("cons");
  rill_producer *p;
  CHECK_OK(rill_producer_join(r, "ch", &p));
  atomic_store(&s->started, 1);
  int rc = rill_producer_wait_consumers(p, 2, 30 * SEC);
  if (rc >= 0) CHECK_OK(rill_send(p, "hello", 5, 7)); /* both get it */
  report(s, rc);
  rill_producer_leave(p);
  rill_region_close(r);
}

/* A consumer that joins and dies without leaving. */
static void dying_consumer(void *arg) {
  (void)arg;
  rill_region *r = tu_region_open("cons");
  rill_consumer *c;
  CHECK_OK(rill_consumer_join(r, "ch", RILL_RELIABLE, &c));
  _exit(0);
}

static void t_consumers(void) {
  rill_region_opts o = tu_opts(4 << 20);
  rill_region *r;
  CHECK_OK(rill_region_create("cons", &o, &r));
  rill_channel_opts co = {.depth = 64, .mtu = 64, .max_consumers = 4};
  CHECK_OK(rill_channel_create(r, "ch", &co));
  rill_producer *p;
  CHECK_OK(rill_producer_join(r, "ch", &p));
  CHECK_RC(rill_producer_wait_consumers(NULL, 1, 0), -RILL_EINVAL);
  CHECK_RC(rill_producer_wait_consumers(p, 5, 0), -RILL_EINVAL); /* 4 slots */
  CHECK_RC(rill_producer_wait_consumers(p, 0, 0), 0);
  CHECK_RC(rill_producer_wait_consumers(p, 1, 0), -RILL_ETIMEDOUT);
  /* a consumer that died leaves its slot active: it does not count */
  tu_wait(tu_fork("dying consumer", dying_consumer, NULL));
  rill_consumer_stats cs;
  uint32_t slot = 0;
  CHECK(tu_consumer_next(r, "ch", &slot, &cs));
  CHECK_EQ(cs.liveness, RILL_PEER_DEAD);
  uint64_t t0 = tu_ns();
  CHECK_RC(rill_producer_wait_consumers(p, 1, 100 * MS), -RILL_ETIMEDOUT);
  CHECK(tu_ns() - t0 >= 100 * MS);
  rill_consumer *c1;
  CHECK_OK(rill_consumer_join(r, "ch", RILL_LOSSY, &c1));
  CHECK_RC(rill_producer_wait_consumers(p, 1, 0), 1);
  rill_consumer_leave(c1);
  CHECK_RC(rill_producer_wait_consumers(p, 1, 0), -RILL_ETIMEDOUT);
  rill_producer_leave(p);

  /* a producer in another process sleeps until the second join */
  shared *s = shared_new();
  pid_t kid = tu_fork("producer waiter", producer_waiter, s);
  long v = check_asleep(kid, s, SYS_futex);
  rill_consumer *a, *b;
  CHECK_OK(rill_consumer_join(r, "ch", RILL_RELIABLE, &a));
  await_rewait(kid, s, SYS_futex, v); /* woke, counted one, sleeps again */
  uint64_t t_event = tu_ns();
  CHECK_OK(rill_consumer_join(r, "ch", RILL_RELIABLE, &b));
  CHECK_RC(await_done(s, t_event), 2);
  tu_wait(kid);
  printf("  consumers: the producer woke %.1f ms after the second join began\n",
         (double)(atomic_load(&s->t_done) - t_event) / 1e6);
  char buf[16];
  rill_meta m;
  CHECK_RC(rill_recv_wait(a, buf, sizeof buf, &m, 5 * SEC), 5);
  CHECK_EQ(m.sig, 7);
  CHECK_RC(rill_recv_wait(b, buf, sizeof buf, &m, 5 * SEC), 5);
  CHECK_EQ(m.sig, 7);
  rill_consumer_leave(a);
  rill_consumer_leave(b);
  munmap(s, sizeof *s);
  rill_region_close(r);
}

int main(void) {
  tu_start("test_waitfor", 120);
  t_region();
  t_channel();
  t_consumers();
  return tu_pass("waits for a region, a channel, consumers: woken, not polling");
}
