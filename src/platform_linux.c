/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* Linux implementation of the platform layer. */
#include "platform.h"

#include "rill.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <sched.h>
#include <signal.h>
#include <poll.h>
#include <linux/futex.h>
#include <linux/magic.h>
#include <linux/membarrier.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

const char *rill__dir(const char *dir) {
  if (dir && dir[0]) return dir;
  const char *env = getenv("RILL_DIR");
  if (env && env[0]) return env;
  return "/dev/shm";
}

static uint64_t clock_ns_mono(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Tells a missing directory apart from a missing file. */
static int dir_error(const char *path, int e) {
  if (e != ENOENT && e != ENOTDIR) return rill__errno(e);
  char dir[RILL_PATH_MAX];
  size_t n = strlen(path);
  if (n >= sizeof dir) return -RILL_EINVAL;
  memcpy(dir, path, n + 1);
  char *slash = strrchr(dir, '/');
  if (!slash) return rill__errno(e);
  if (slash == dir) slash[1] = 0; else *slash = 0;
  struct stat st;
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) return -RILL_ENODIR;
  return rill__errno(e);
}

/* The pages of the file system S: 1 with *PAGE its huge page size if it
 * is hugetlbfs (whose block size is its page size), else 0 with *PAGE the
 * system's page size. */
static int fs_page(const struct statfs *s, uint64_t *page) {
  long sys = sysconf(_SC_PAGESIZE);
  *page = sys > 0 ? (uint64_t)sys : 4096;
  if ((unsigned long)s->f_type != (unsigned long)HUGETLBFS_MAGIC || s->f_bsize <= 0 ||
      (uint64_t)s->f_bsize <= *page)
    return 0;
  *page = (uint64_t)s->f_bsize;
  return 1;
}

int rill__dir_page(const char *dir, uint64_t *page) {
  struct statfs s;
  if (statfs(dir, &s) != 0)
    return errno == ENOENT || errno == ENOTDIR ? -RILL_ENODIR : rill__errno(errno);
  return fs_page(&s, page);
}

int rill__file_page(int fd, uint64_t *page) {
  struct statfs s;
  if (fstatfs(fd, &s) != 0) return rill__errno(errno);
  return fs_page(&s, page);
}

int rill__file_create(const char *path, uint64_t size, uint32_t mode, int *fd) {
  int f = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (f < 0) return dir_error(path, errno);
  int rc = 0;
  /* umask may have cleared bits of MODE at open: set it exactly. */
  if (fchmod(f, (mode_t)mode) != 0) { rc = rill__errno(errno); goto fail; }
  uint64_t page;
  int huge = rill__file_page(f, &page);
  if (huge < 0) { rc = huge; goto fail; }
  /* hugetlbfs reports no free space unless mounted with a size limit: its
   * pool is checked below, by taking the pages. */
  struct statvfs vfs;
  if (!huge && fstatvfs(f, &vfs) == 0 && vfs.f_frsize > 0 &&
      (uint64_t)vfs.f_bavail < size / vfs.f_frsize + 1) {
    rc = -RILL_ENOSPC;
    goto fail;
  }
  if (ftruncate(f, (off_t)size) != 0) { rc = rill__errno(errno); goto fail; }
  /* Reserve every page now: running out of space is an error here, never a
   * SIGBUS on first touch later.  On hugetlbfs this takes the huge pages
   * from the pool (ENOSPC when it has too few), and nothing else would
   * before the first touch: no error is let pass there. */
  int e = posix_fallocate(f, 0, (off_t)size);
  if (huge && e != 0) {
    rc = rill__errno(e); /* kept for rill_os_error() */
    if (e == ENOSPC || e == ENOMEM) rc = -RILL_ENOHUGE;
    goto fail;
  }
  if (e != 0 && e != EOPNOTSUPP && e != EINVAL) { rc = rill__errno(e); goto fail; }
  *fd = f;
  return 0;
fail:
  close(f);
  unlink(path);
  return rc;
}

int rill__file_open(const char *path, int writable, int *fd, uint64_t *size) {
  /* O_NONBLOCK: a FIFO (anyone can make one under a region's name) opened
   * read-only would wait for a writer for ever.  Cleared once the file is
   * known to be a regular file. */
  int f = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (f < 0) return dir_error(path, errno);
  struct stat st;
  if (fstat(f, &st) != 0) { int rc = rill__errno(errno); close(f); return rc; }
  if (!S_ISREG(st.st_mode)) { close(f); return -RILL_EMAGIC; }
  int fl = fcntl(f, F_GETFL);
  if (fl < 0 || fcntl(f, F_SETFL, fl & ~O_NONBLOCK) != 0) {
    int rc = rill__errno(errno);
    close(f);
    return rc;
  }
  *fd = f;
  *size = (uint64_t)st.st_size;
  return 0;
}

int rill__file_read(int fd, uint64_t off, void *buf, size_t n) {
  uint8_t *b = buf;
  while (n) {
    ssize_t k = pread(fd, b, n, (off_t)off);
    if (k < 0) {
      if (errno == EINTR) continue;
      return rill__errno(errno);
    }
    if (k == 0) return -RILL_ETRUNC; /* end of file before OFF + N */
    b += k;
    off += (uint64_t)k;
    n -= (size_t)k;
  }
  return 0;
}

void rill__file_tag(int fd, uint64_t created_ns, uint32_t creator_pid) {
  (void)fd, (void)created_ns, (void)creator_pid;
}

int rill__file_reopen(int fd, int *newfd) {
  char p[64];
  snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
  int f = open(p, O_RDWR | O_CLOEXEC);
  if (f < 0) return rill__errno(errno);
  *newfd = f;
  return 0;
}

int rill__file_publish(const char *from, const char *to) {
  int rc = link(from, to) == 0 ? 0 : rill__errno(errno);
  unlink(from);
  return rc;
}

int rill__file_unlink(const char *path) {
  return unlink(path) == 0 ? 0 : dir_error(path, errno);
}

int rill__file_size(int fd, uint64_t *size) {
  struct stat st;
  if (fstat(fd, &st) != 0) return rill__errno(errno);
  *size = (uint64_t)st.st_size;
  return 0;
}

int rill__file_mode(int fd, uint32_t *mode) {
  struct stat st;
  if (fstat(fd, &st) != 0) return rill__errno(errno);
  *mode = (uint32_t)st.st_mode & 07777u;
  return 0;
}

int rill__file_owner(int fd, uint32_t *uid) {
  struct stat st;
  if (fstat(fd, &st) != 0) return rill__errno(errno);
  *uid = (uint32_t)st.st_uid;
  return 0;
}

void rill__file_close(int fd) {
  if (fd >= 0) close(fd);
}

/* Naps between tries of a lock that is held: 10 us doubling to 10 ms.
 * Returns 0 to try again, -RILL_EBUSY once RILL_LOCK_WAIT_NS have passed
 * since *DEADLINE was set (0: the first call sets it).  A lock may be held
 * by any process that can open the file, for as long as it likes: waiting
 * without a bound (F_OFD_SETLKW, flock without LOCK_NB) would let it hang
 * us.  The kernel has no lock wait with a timeout, hence the naps; they
 * only happen while someone else holds the lock. */
static int lock_nap(uint64_t *deadline, uint64_t *nap) {
  uint64_t now = clock_ns_mono();
  if (!*deadline) {
    *deadline = now + RILL_LOCK_WAIT_NS;
    *nap = 10000;
  }
  if (now >= *deadline) return -RILL_EBUSY;
  uint64_t d = *nap < *deadline - now ? *nap : *deadline - now;
  struct timespec ts = {(time_t)(d / 1000000000ull), (long)(d % 1000000000ull)};
  nanosleep(&ts, NULL);
  if (*nap < 10000000) *nap *= 2;
  return 0;
}

int rill__file_lock(int fd) {
  uint64_t deadline = 0, nap = 0;
  for (;;) {
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) return 0;
    if (errno == EINTR) continue;
    if (errno != EWOULDBLOCK) return rill__errno(errno);
    int rc = lock_nap(&deadline, &nap);
    if (rc) return rc;
  }
}

void rill__file_unlock(int fd) { (void)flock(fd, LOCK_UN); }

/* ---- mappings, and the SIGBUS guard ------------------------------------
 * Whoever can write a region file can shrink it; touching a page of a
 * shared mapping past the end of its file raises SIGBUS.  The guard, asked
 * for by the application (rill_sigbus_guard()), turns that into an error:
 * it knows rill's mappings from a table that rill__map() fills and
 * rill__unmap() empties (lock-free: a slot is claimed with a CAS, its base
 * published last), and in the handler detaches the whole mapping from the
 * file: private anonymous pages (zeros, allocated only when written) are
 * mapped over it, and the access retries on them.  From then on this
 * process sees nothing its peers write and they see nothing it writes, so
 * at most the message being read or written when the pages went is
 * affected.  Zeros read as "nothing here" everywhere (no producer, free
 * consumer slots, descriptors of sequence number 0: behind every
 * consumer) except for a consumer that waits for sequence number 0, to
 * which slot 0 would read as published: so the page that holds slot 0
 * (rill__map_fill()) is filled with 0xff (sequence number 2^64 - 1).
 * The mapping is marked lost; the waiting calls and the flushes ask
 * rill__map_lost() and return -RILL_ETRUNC. */

#define MAP_TABLE 1024
#define NO_FILL UINT64_MAX

static struct map_rec {
  _Atomic uintptr_t base; /* 0: free; 1: being filled; else the address */
  _Atomic uint64_t len;
  _Atomic uintptr_t start; /* the mapping made: START, SPAN bytes, holding  */
  _Atomic uint64_t span;   /* BASE, LEN (wider on hugetlbfs: rill__map())   */
  _Atomic uint64_t fill;  /* offset of the page to fill with 0xff, or NO_FILL */
  _Atomic int writable;
  _Atomic int lost;       /* set by the handler */
} map_table[MAP_TABLE];

static _Atomic uint64_t maps_lost; /* mappings the handler detached, ever */

/* Records the mapping P, LEN (made as START, SPAN): 1, or 0 if the table
 * is full. */
static int map_record(void *p, uint64_t len, void *start, uint64_t span, int writable) {
  for (uint32_t i = 0; i < MAP_TABLE; i++) {
    struct map_rec *m = &map_table[i];
    uintptr_t want = 0;
    if (atomic_load_explicit(&m->base, memory_order_relaxed) != 0 ||
        !atomic_compare_exchange_strong_explicit(&m->base, &want, 1, memory_order_relaxed,
                                                 memory_order_relaxed))
      continue;
    atomic_store_explicit(&m->len, len, memory_order_relaxed);
    atomic_store_explicit(&m->start, (uintptr_t)start, memory_order_relaxed);
    atomic_store_explicit(&m->span, span, memory_order_relaxed);
    atomic_store_explicit(&m->fill, NO_FILL, memory_order_relaxed);
    atomic_store_explicit(&m->writable, writable, memory_order_relaxed);
    atomic_store_explicit(&m->lost, 0, memory_order_relaxed);
    /* Release: pairs with the acquire load of base in map_find() and in
     * sigbus_detach(): who sees the base sees len, the span and the flags. */
    atomic_store_explicit(&m->base, (uintptr_t)p, memory_order_release);
    return 1;
  }
  /* The table is full: this mapping is not guarded (rill.h says so). */
  return 0;
}

/* The record of the mapping that starts at P, or NULL. */
static struct map_rec *map_find(const void *p) {
  for (uint32_t i = 0; i < MAP_TABLE; i++)
    /* Acquire: pairs with the release store of base in map_record(). */
    if (atomic_load_explicit(&map_table[i].base, memory_order_acquire) == (uintptr_t)p)
      return &map_table[i];
  return NULL;
}

int rill__map(int fd, uint64_t off, uint64_t len, int writable, void **out) {
  /* A file of huge pages is mapped in whole huge pages (the kernel refuses
   * an offset inside one, and would not unmap part of one): the pages
   * around [OFF, OFF + LEN) come with it. */
  uint64_t page = 0; /* set by rill__file_page() unless it fails; gcc -O3 cannot tell */
  int rc = rill__file_page(fd, &page);
  if (rc < 0) return rc;
  uint64_t start = off & ~(page - 1);
  if (off > UINT64_MAX - page || len > UINT64_MAX - page - off) return -RILL_EINVAL;
  uint64_t span = ((off + len + page - 1) & ~(page - 1)) - start;
  if (span > SIZE_MAX) return -RILL_ENOMEM;
  uint8_t *m = mmap(NULL, (size_t)span, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED,
                    fd, (off_t)start);
  if (m == MAP_FAILED) return rill__errno(errno);
  void *p = m + (off - start);
  if (!map_record(p, len, m, span, writable) && (p != (void *)m || span != len)) {
    munmap(m, (size_t)span); /* rill__unmap() could not find its start */
    return -RILL_ENOMEM;
  }
  *out = p;
  return 0;
}

void rill__map_fill(const void *p, uint64_t off) {
  struct map_rec *m = p ? map_find(p) : NULL;
  if (m) atomic_store_explicit(&m->fill, off, memory_order_relaxed);
}

void rill__unmap(void *p, uint64_t len) {
  if (!p) return;
  struct map_rec *m = map_find(p);
  void *start = p;
  uint64_t span = len;
  if (m) {
    start = (void *)atomic_load_explicit(&m->start, memory_order_relaxed);
    span = atomic_load_explicit(&m->span, memory_order_relaxed);
    atomic_store_explicit(&m->base, 0, memory_order_relaxed);
  }
  munmap(start, (size_t)span);
}

int rill__map_lost(const void *p) {
  if (!p || !atomic_load_explicit(&maps_lost, memory_order_relaxed)) return 0;
  struct map_rec *m = map_find(p);
  return m && atomic_load_explicit(&m->lost, memory_order_relaxed);
}

static struct sigaction sigbus_prev;
static size_t sigbus_page;
static _Atomic int sigbus_state; /* 0: not installed; 1: installing; 2: installed */

/* Runs in the signal handler: only async-signal-safe calls.  mmap and
 * mprotect are system calls without locks in libc (POSIX does not list
 * them; on Linux they are safe); memset is on POSIX's list. */
static int sigbus_detach(uintptr_t a) {
  for (uint32_t i = 0; a && i < MAP_TABLE; i++) {
    struct map_rec *m = &map_table[i];
    /* Acquire: pairs with the release store of base in map_record(). */
    uintptr_t b = atomic_load_explicit(&m->base, memory_order_acquire);
    if (b <= 1) continue;
    /* The whole mapping made (wider than BASE, LEN on hugetlbfs, which
     * unmaps nothing smaller than its huge pages). */
    uintptr_t s = atomic_load_explicit(&m->start, memory_order_relaxed);
    uint64_t span = atomic_load_explicit(&m->span, memory_order_relaxed);
    if (a < s || a - s >= span) continue;
    if (atomic_load_explicit(&m->lost, memory_order_relaxed)) return 0; /* not from the file */
    void *q = mmap((void *)s, (size_t)span, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
    if (q == MAP_FAILED) return 0;
    uint64_t len = atomic_load_explicit(&m->len, memory_order_relaxed);
    uint64_t fill = atomic_load_explicit(&m->fill, memory_order_relaxed);
    if (fill != NO_FILL && fill < len && len - fill >= sigbus_page)
      memset((uint8_t *)b + fill, 0xff, sigbus_page);
    if (!atomic_load_explicit(&m->writable, memory_order_relaxed))
      (void)mprotect(q, (size_t)span, PROT_READ);
    atomic_store_explicit(&m->lost, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&maps_lost, 1, memory_order_relaxed);
    return 1;
  }
  return 0;
}

static void sigbus_handler(int sig, siginfo_t *si, void *uc) {
  int saved = errno;
  if (si && si->si_code == BUS_ADRERR && sigbus_detach((uintptr_t)si->si_addr)) {
    errno = saved;
    return; /* the access retries, on our pages */
  }
  /* Not ours: as if we were not here. */
  if (sigbus_prev.sa_flags & SA_SIGINFO) {
    sigbus_prev.sa_sigaction(sig, si, uc);
  } else if (sigbus_prev.sa_handler != SIG_DFL && sigbus_prev.sa_handler != SIG_IGN) {
    sigbus_prev.sa_handler(sig);
  } else {
    /* The default action: a fault retries and meets it; a SIGBUS sent
     * by someone is sent again (blocked until we return). */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    (void)sigaction(SIGBUS, &dfl, NULL);
    if (!si || si->si_code <= 0) (void)raise(SIGBUS);
  }
  errno = saved;
}

int rill__sigbus_guard(void) {
  int st = 0;
  if (!atomic_compare_exchange_strong(&sigbus_state, &st, 1)) {
    while (atomic_load(&sigbus_state) == 1) sched_yield(); /* another thread installs */
    return atomic_load(&sigbus_state) == 2 ? 0 : -RILL_EIO;
  }
  long pg = sysconf(_SC_PAGESIZE);
  sigbus_page = pg > 0 ? (size_t)pg : 4096;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = sigbus_handler;
  sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGBUS, &sa, &sigbus_prev) != 0) {
    int rc = rill__errno(errno);
    atomic_store(&sigbus_state, 0);
    return rc;
  }
  atomic_store(&sigbus_state, 2);
  return 0;
}

static int ofd_lock(int fd, int cmd, short type, uint64_t off, struct flock *fl) {
  memset(fl, 0, sizeof *fl);
  fl->l_type = type;
  fl->l_whence = SEEK_SET;
  fl->l_start = (off_t)off;
  fl->l_len = 1;
  fl->l_pid = 0; /* required by OFD locks */
  return fcntl(fd, cmd, fl);
}

int rill__lock_try(int fd, uint64_t off) {
  struct flock fl;
  if (ofd_lock(fd, F_OFD_SETLK, F_WRLCK, off, &fl) == 0) return 0;
  if (errno == EAGAIN || errno == EACCES) return -RILL_EBUSY;
  return rill__errno(errno);
}

void rill__lock_release(int fd, uint64_t off) {
  struct flock fl;
  (void)ofd_lock(fd, F_OFD_SETLK, F_UNLCK, off, &fl);
}

int rill__lock_held(int fd, uint64_t off) {
  struct flock fl;
  if (ofd_lock(fd, F_OFD_GETLK, F_WRLCK, off, &fl) != 0) return rill__errno(errno);
  return fl.l_type != F_UNLCK;
}

int rill__lock_shared(int fd, uint64_t off) {
  struct flock fl;
  uint64_t deadline = 0, nap = 0;
  for (;;) {
    if (ofd_lock(fd, F_OFD_SETLK, F_RDLCK, off, &fl) == 0) return 0;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EACCES) return rill__errno(errno);
    int rc = lock_nap(&deadline, &nap);
    if (rc) return rc;
  }
}

int rill__lock_any_held(int fd) {
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = F_WRLCK; /* conflicts with every lock; the whole file */
  fl.l_whence = SEEK_SET;
  if (fcntl(fd, F_OFD_GETLK, &fl) != 0) return rill__errno(errno);
  return fl.l_type != F_UNLCK;
}

int rill__lock_all_try(int fd) {
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET; /* l_start 0, l_len 0: the whole file */
  if (fcntl(fd, F_OFD_SETLK, &fl) == 0) return 0;
  if (errno == EAGAIN || errno == EACCES) return -RILL_EBUSY;
  return rill__errno(errno);
}

void rill__lock_release_all(int fd) {
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = F_UNLCK;
  fl.l_whence = SEEK_SET;
  (void)fcntl(fd, F_OFD_SETLK, &fl);
}

int rill__file_linked(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) return rill__errno(errno);
  return st.st_nlink > 0;
}

int rill__dir_open(const char *dir, int *dfd) {
  int f = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (f < 0) return errno == ENOENT || errno == ENOTDIR ? -RILL_ENODIR : rill__errno(errno);
  *dfd = f;
  return 0;
}

void rill__dir_close(int dfd) {
  if (dfd >= 0) close(dfd);
}

int rill__dir_each_at(int dfd, int (*fn)(const char *name, void *arg), void *arg) {
  /* A description of its own ("." reopened, not dup()ed, which would share
   * the position), so that FN may walk the same directory. */
  int f = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (f < 0) return rill__errno(errno);
  DIR *d = fdopendir(f);
  if (!d) { int rc = rill__errno(errno); close(f); return rc; }
  int rc = 0;
  struct dirent *e;
  while (!rc && (e = readdir(d)) != NULL) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    rc = fn(e->d_name, arg);
  }
  closedir(d);
  return rc;
}

static void stat_fill(const struct stat *s, rill__stat *st) {
  memset(st, 0, sizeof *st);
  st->dev = (uint64_t)s->st_dev;
  st->ino = (uint64_t)s->st_ino;
  st->size = (uint64_t)s->st_size;
  uint64_t m = (uint64_t)s->st_mtim.tv_sec * 1000000000ull + (uint64_t)s->st_mtim.tv_nsec;
  uint64_t c = (uint64_t)s->st_ctim.tv_sec * 1000000000ull + (uint64_t)s->st_ctim.tv_nsec;
  st->changed_ns = m > c ? m : c;
  st->uid = (uint32_t)s->st_uid;
  st->kind = S_ISREG(s->st_mode) ? RILL__KIND_REG : S_ISFIFO(s->st_mode) ? RILL__KIND_FIFO
                                                                          : RILL__KIND_OTHER;
}

int rill__stat_at(int dfd, const char *name, rill__stat *st) {
  struct stat s;
  if (fstatat(dfd, name, &s, AT_SYMLINK_NOFOLLOW) != 0) return rill__errno(errno);
  stat_fill(&s, st);
  return 0;
}

int rill__file_stat(int fd, rill__stat *st) {
  struct stat s;
  if (fstat(fd, &s) != 0) return rill__errno(errno);
  stat_fill(&s, st);
  return 0;
}

int rill__file_open_at(int dfd, const char *name, int *fd, uint64_t *size) {
  struct stat s;
  /* Look first: opening a FIFO or a device has effects of its own. */
  if (fstatat(dfd, name, &s, AT_SYMLINK_NOFOLLOW) != 0) return rill__errno(errno);
  if (!S_ISREG(s.st_mode)) return -RILL_EMAGIC;
  int f = openat(dfd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
  if (f < 0) return errno == ELOOP ? -RILL_EMAGIC : rill__errno(errno);
  if (fstat(f, &s) != 0) { int rc = rill__errno(errno); close(f); return rc; }
  if (!S_ISREG(s.st_mode)) { close(f); return -RILL_EMAGIC; }
  *fd = f;
  *size = (uint64_t)s.st_size;
  return 0;
}

int rill__unlink_at(int dfd, const char *name) {
  return unlinkat(dfd, name, 0) == 0 ? 0 : rill__errno(errno);
}

int rill__pid_alive(uint32_t pid) {
  /* 0 and values above INT_MAX would name process groups to kill(). */
  if (pid == 0 || pid > (uint32_t)INT_MAX) return 0;
  if (kill((pid_t)pid, 0) == 0 || errno == EPERM) return 1;
  return errno == ESRCH ? 0 : rill__errno(errno);
}

int rill__dir_watch(const char *dir, int *w) {
  int f = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (f < 0) return rill__errno(errno);
  /* IN_CREATE: a region linked into place (rill_region_create links it
   * under its name); IN_MOVED_TO: one renamed there; *_SELF: the
   * directory itself went away. */
  if (inotify_add_watch(f, dir, IN_CREATE | IN_MOVED_TO | IN_DELETE_SELF |
                                    IN_MOVE_SELF | IN_ONLYDIR) < 0) {
    int e = errno;
    close(f);
    return e == ENOENT || e == ENOTDIR ? -RILL_ENODIR : rill__errno(e);
  }
  *w = f;
  return 0;
}

/* Reads the events queued on W: 1 if one names NAME (or events were
 * lost), 0 if none does, negative if the directory went away or on an
 * error. */
static int dir_watch_read(int w, const char *name) {
  /* Aligned for struct inotify_event, as inotify(7) asks. */
  char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
  int hit = 0;
  for (;;) {
    ssize_t n = read(w, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return hit;
    if (n < 0) return rill__errno(errno);
    if (n == 0) return hit;
    for (char *p = buf; p < buf + n;) {
      const struct inotify_event *ev = (const struct inotify_event *)(void *)p;
      if (ev->mask & IN_Q_OVERFLOW) hit = 1;
      else if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) return -RILL_ENODIR;
      else if (ev->len && strcmp(ev->name, name) == 0) hit = 1;
      p += sizeof *ev + ev->len;
    }
  }
}

int rill__dir_watch_wait(int w, const char *name, uint64_t timeout_ns) {
  uint64_t deadline = timeout_ns == UINT64_MAX ? UINT64_MAX : rill__mono_ns() + timeout_ns;
  if (deadline < timeout_ns) deadline = UINT64_MAX;
  for (;;) {
    int rc = dir_watch_read(w, name);
    if (rc) return rc < 0 ? rc : 0;
    struct timespec ts, *tp = NULL;
    if (deadline != UINT64_MAX) {
      uint64_t now = rill__mono_ns();
      if (now >= deadline) return -RILL_ETIMEDOUT;
      ts.tv_sec = (time_t)((deadline - now) / 1000000000ull);
      ts.tv_nsec = (long)((deadline - now) % 1000000000ull);
      tp = &ts;
    }
    struct pollfd pf = {.fd = w, .events = POLLIN};
    if (ppoll(&pf, 1, tp, NULL) < 0 && errno != EINTR) return rill__errno(errno);
  }
}

void rill__dir_watch_close(int w) {
  if (w >= 0) close(w);
}

int rill__park(const void *addr, uint32_t expect, uint64_t timeout_ns) {
  struct timespec ts, *tp = NULL;
  if (timeout_ns != UINT64_MAX) {
    ts.tv_sec = (time_t)(timeout_ns / 1000000000ull);
    ts.tv_nsec = (long)(timeout_ns % 1000000000ull);
    tp = &ts;
  }
  /* Not FUTEX_PRIVATE: the word is shared between processes. */
  if (syscall(SYS_futex, addr, FUTEX_WAIT, expect, tp, NULL, 0) == 0) return 0;
  switch (errno) {
  case EAGAIN: /* the word had changed */
  case EINTR: return 0;
  case ETIMEDOUT: return -RILL_ETIMEDOUT;
  default: return rill__errno(errno);
  }
}

int rill__park_any(const void *const *addrs, const uint32_t *expect, uint32_t n,
                   uint64_t timeout_ns) {
#if defined(SYS_futex_waitv) && defined(FUTEX_32)
  struct futex_waitv w[128];
  if (n == 0 || n > 128) return -RILL_EINVAL;
  for (uint32_t i = 0; i < n; i++) {
    w[i].val = expect[i];
    w[i].uaddr = (uint64_t)(uintptr_t)addrs[i];
    w[i].flags = FUTEX_32; /* shared between processes: not private */
    w[i].__reserved = 0;
  }
  struct timespec ts, *tp = NULL;
  if (timeout_ns != UINT64_MAX) { /* futex_waitv takes an absolute time */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t ns = (uint64_t)ts.tv_nsec + timeout_ns % 1000000000ull;
    ts.tv_sec += (time_t)(timeout_ns / 1000000000ull + ns / 1000000000ull);
    ts.tv_nsec = (long)(ns % 1000000000ull);
    tp = &ts;
  }
  if (syscall(SYS_futex_waitv, w, n, 0, tp, CLOCK_MONOTONIC) >= 0) return 0;
  switch (errno) {
  case EAGAIN: /* a word had changed */
  case EINTR: return 0;
  case ETIMEDOUT: return -RILL_ETIMEDOUT;
  default: return -RILL_EIO;
  }
#else
  (void)addrs, (void)expect, (void)n, (void)timeout_ns;
  return -RILL_EIO;
#endif
}

void rill__unpark(const void *addr) {
  (void)syscall(SYS_futex, addr, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

int rill__heavy_barrier_register(void) {
  if (syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0) == 0) return 0;
  return rill__errno(errno);
}

int rill__lazy_fence(void) {
  const char *e = getenv("RILL_LAZY_FENCE");
  return e && e[0] == '1' && !e[1];
}

uint32_t rill__cpus(void) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
  int n = CPU_COUNT(&set);
  return n > 0 ? (uint32_t)n : 1;
}

int rill__heavy_barrier(void) {
  if (syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0) == 0) return 0;
  return rill__errno(errno);
}

int rill__fifo_reader(int rfd, const char *path, uint32_t mode, int *fd) {
  (void)rfd;
  int made = mkfifo(path, 0600) == 0;
  if (!made && errno != EEXIST) return dir_error(path, errno);
  /* Not a symbolic link (O_NOFOLLOW), and, below, a FIFO of our own: one
   * that another user made first (planted, to steal our wake-ups) or a
   * file of another kind is refused, never adopted. */
  int f = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
  if (f < 0) return errno == ELOOP ? -RILL_EACCES : rill__errno(errno);
  struct stat st;
  if (fstat(f, &st) != 0 || !S_ISFIFO(st.st_mode) || st.st_uid != geteuid()) {
    close(f);
    return -RILL_EACCES;
  }
  /* Set exactly (umask aside), on the FIFO we opened, not on the path. */
  if (made && fchmod(f, (mode_t)mode) != 0) {
    int rc = rill__errno(errno);
    close(f);
    unlink(path);
    return rc;
  }
  *fd = f;
  return 0;
}

int rill__fifo_writer(int rfd, const char *path, int *fd) {
  (void)rfd;
  int f = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
  if (f < 0) return errno == ENXIO ? -RILL_ENOENT : rill__errno(errno);
  struct stat st;
  if (fstat(f, &st) != 0 || !S_ISFIFO(st.st_mode)) { close(f); return -RILL_EACCES; }
  *fd = f;
  return 0;
}

void rill__fifo_signal(int fd) {
  char b = 1;
  while (write(fd, &b, 1) < 0 && errno == EINTR) {}
}

void rill__fifo_drain(int fd) {
  char b[256];
  for (;;) {
    ssize_t n = read(fd, b, sizeof b);
    if (n > 0) continue;
    if (n < 0 && errno == EINTR) continue;
    return;
  }
}

static uint64_t clock_ns(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t rill__mono_ns(void) { return clock_ns(CLOCK_MONOTONIC); }
uint64_t rill__real_ns(void) { return clock_ns(CLOCK_REALTIME); }
uint32_t rill__pid(void) { return (uint32_t)getpid(); }
uint32_t rill__uid(void) { return (uint32_t)getuid(); }
uint32_t rill__euid(void) { return (uint32_t)geteuid(); }

uint64_t rill__random(void) {
  uint64_t x = clock_ns(CLOCK_MONOTONIC) ^ ((uint64_t)getpid() << 32);
  x ^= (uint64_t)(uintptr_t)&x;
  x += 0x9e3779b97f4a7c15ull; /* splitmix64 finaliser */
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
