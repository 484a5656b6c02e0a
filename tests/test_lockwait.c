/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* Every lock wait in the library is bounded.  A process that holds a lock
 * on a region file for good (stopped, or hostile: any process that can
 * open the file can take one) must not hang the others:
 *   - rill_region_open(), read-write and read-only, waits out an exclusive
 *     lock on byte 0 (a cleaner's, held for an instant) for about 1 s, then
 *     returns -RILL_EBUSY;
 *   - rill_channel_create() does the same for the table's lock (flock,
 *     which even a reader of a 0644 file can take);
 *   - a lock released within the bound is waited for: open succeeds.
 *   - a FIFO under a region's name is no region, and looking at it does
 *     not wait for a writer (list, in_use and a read-only open would).
 * Before the bound, these calls blocked forever (F_OFD_SETLKW, flock
 * without LOCK_NB) and the watchdog killed the test. */
#include "testutil.h"

#include <sys/file.h>

typedef struct holder {
  const char *path;
  int how;          /* 0: OFD write lock on byte 0; 1: flock LOCK_EX */
  tu_gate ready;    /* posted once the lock is held */
  tu_gate release;  /* release the lock when posted (or hold it until killed) */
} holder;

static void hold(void *arg) {
  holder *h = arg;
  int fd = open(h->path, O_RDWR);
  CHECKF(fd >= 0, "open: %s", strerror(errno));
  if (h->how == 0) {
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    CHECKF(fcntl(fd, F_OFD_SETLK, &fl) == 0, "F_OFD_SETLK: %s", strerror(errno));
  } else {
    CHECKF(flock(fd, LOCK_EX) == 0, "flock: %s", strerror(errno));
  }
  tu_gate_post(&h->ready);
  tu_gate_wait(&h->release, 1);
  close(fd); /* drops the lock */
}

/* Runs CALL and checks it returned WANT after roughly the bound (1 s). */
#define CHECK_BOUNDED(call, want)                                              \
  do {                                                                         \
    double t0_ = tu_now();                                                     \
    CHECK_RC(call, want);                                                      \
    double dt_ = tu_now() - t0_;                                               \
    CHECKF(dt_ >= 0.9 && dt_ < 5, #call " returned after %.2f s", dt_);        \
  } while (0)

int main(void) {
  tu_start("lockwait", 30);
  rill_region_opts o = tu_opts(1 << 20);
  rill_region *r;
  CHECK_OK(rill_region_create("locked", &o, &r));
  char path[512];
  tu_path(path, sizeof path, "locked");

  /* An exclusive lock on byte 0, held for good. */
  holder *h = tu_shared(sizeof *h); /* gates live in shared memory */
  h->path = path;
  tu_gate_init(&h->ready);
  tu_gate_init(&h->release);
  rill_region_close(r); /* our own shared lock would stop the holder's */
  pid_t k = tu_fork("byte-0 holder", hold, h);
  tu_gate_wait(&h->ready, 1);
  rill_region *x = NULL;
  CHECK_BOUNDED(rill_region_open("locked", &o, &x), -RILL_EBUSY);
  rill_region_opts ro = o;
  ro.flags = RILL_REGION_READONLY;
  CHECK_BOUNDED(rill_region_open("locked", &ro, &x), -RILL_EBUSY);
  CHECK_EQ(rill_region_in_use("locked", tu_dir()), 1);
  /* Released while we wait: the open gets the lock. */
  tu_gate_post(&h->release);
  tu_wait(k);
  CHECK_OK(rill_region_open("locked", &ro, &x));
  rill_region_close(x);
  tu_gate_close(&h->ready);
  tu_gate_close(&h->release);

  /* The table's lock, held for good: creating a channel gives up. */
  CHECK_OK(rill_region_open("locked", &o, &r));
  holder *f = tu_shared(sizeof *f);
  f->path = path;
  f->how = 1;
  tu_gate_init(&f->ready);
  tu_gate_init(&f->release);
  k = tu_fork("flock holder", hold, f);
  tu_gate_wait(&f->ready, 1);
  rill_channel_opts co = {.depth = 64, .mtu = 64};
  CHECK_BOUNDED(rill_channel_create(r, "c", &co), -RILL_EBUSY);
  tu_gate_post(&f->release);
  tu_wait(k);
  CHECK_OK(rill_channel_create(r, "c", &co));
  rill_region_close(r);
  tu_gate_close(&f->ready);
  tu_gate_close(&f->release);

  /* A FIFO under a region's name: opening it read-only would wait for a
   * writer for ever; it is no region. */
  char fifo[512];
  tu_path(fifo, sizeof fifo, "fifo");
  CHECK(mkfifo(fifo, 0644) == 0);
  CHECK_EQ(rill_region_list(tu_dir(), NULL, NULL), 1);
  CHECK_RC(rill_region_in_use("fifo", tu_dir()), -RILL_EMAGIC);
  CHECK_RC(rill_region_open("fifo", &ro, &x), -RILL_EMAGIC);
  CHECK_RC(rill_region_open("fifo", &o, &x), -RILL_EMAGIC);
  return tu_pass("opens and channel creation give up on a lock held for good");
}
