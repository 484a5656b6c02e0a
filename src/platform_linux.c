/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* Linux implementation of the platform layer. */
#include "platform.h"

#include "rill.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <poll.h>
#include <linux/futex.h>
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
#include <time.h>
#include <unistd.h>

const char *rill__dir(const char *dir) {
  if (dir && dir[0]) return dir;
  const char *env = getenv("RILL_DIR");
  if (env && env[0]) return env;
  return "/dev/shm";
}

/* The errno behind the last OS error of this thread (rill_os_error). */
static _Thread_local int os_error;

int rill_os_error(void) { return os_error; }

int rill__errno(int e) {
  os_error = e;
  switch (e) {
  case ENOENT: return -RILL_ENOENT;
  case EEXIST: return -RILL_EEXIST;
  case EACCES:
  case EPERM:
  case EROFS: return -RILL_EACCES;
  case ENOSPC:
  case EFBIG:
  case EDQUOT: return -RILL_ENOSPC;
  case ENOMEM: return -RILL_ENOMEM;
  case ENAMETOOLONG:
  case EINVAL: return -RILL_EINVAL;
  case ENOTDIR: return -RILL_ENODIR;
  default: return -RILL_EIO;
  }
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

int rill__file_create(const char *path, uint64_t size, uint32_t mode, int *fd) {
  int f = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (f < 0) return dir_error(path, errno);
  int rc = 0;
  /* umask may have cleared bits of MODE at open: set it exactly. */
  if (fchmod(f, (mode_t)mode) != 0) { rc = rill__errno(errno); goto fail; }
  struct statvfs vfs;
  if (fstatvfs(f, &vfs) == 0 && vfs.f_frsize > 0 &&
      (uint64_t)vfs.f_bavail < size / vfs.f_frsize + 1) {
    rc = -RILL_ENOSPC;
    goto fail;
  }
  if (ftruncate(f, (off_t)size) != 0) { rc = rill__errno(errno); goto fail; }
  /* Reserve every page now: running out of space is an error here, never a
   * SIGBUS on first touch later. */
  int e = posix_fallocate(f, 0, (off_t)size);
  if (e != 0 && e != EOPNOTSUPP && e != EINVAL) { rc = rill__errno(e); goto fail; }
  *fd = f;
  return 0;
fail:
  close(f);
  unlink(path);
  return rc;
}

int rill__file_open(const char *path, int *fd, uint64_t *size) {
  int f = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
  if (f < 0) return dir_error(path, errno);
  struct stat st;
  if (fstat(f, &st) != 0) { int rc = rill__errno(errno); close(f); return rc; }
  if (!S_ISREG(st.st_mode)) { close(f); return -RILL_EMAGIC; }
  *fd = f;
  *size = (uint64_t)st.st_size;
  return 0;
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

void rill__file_close(int fd) {
  if (fd >= 0) close(fd);
}

int rill__file_lock(int fd) {
  while (flock(fd, LOCK_EX) != 0)
    if (errno != EINTR) return rill__errno(errno);
  return 0;
}

void rill__file_unlock(int fd) { (void)flock(fd, LOCK_UN); }

int rill__map(int fd, uint64_t off, uint64_t len, int writable, void **out) {
  void *p = mmap(NULL, (size_t)len, PROT_READ | (writable ? PROT_WRITE : 0),
                 MAP_SHARED, fd, (off_t)off);
  if (p == MAP_FAILED) return rill__errno(errno);
  *out = p;
  return 0;
}

void rill__unmap(void *p, uint64_t len) {
  if (p) munmap(p, (size_t)len);
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
  while (ofd_lock(fd, F_OFD_SETLKW, F_RDLCK, off, &fl) != 0)
    if (errno != EINTR) return rill__errno(errno);
  return 0;
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

int rill__dir_each(const char *dir, int (*fn)(const char *name, void *arg), void *arg) {
  DIR *d = opendir(dir);
  if (!d) return errno == ENOENT || errno == ENOTDIR ? -RILL_ENODIR : rill__errno(errno);
  int rc = 0;
  struct dirent *e;
  while (!rc && (e = readdir(d)) != NULL) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    rc = fn(e->d_name, arg);
  }
  closedir(d);
  return rc;
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

int rill__heavy_barrier(void) {
  if (syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0) == 0) return 0;
  return rill__errno(errno);
}

int rill__fifo_reader(const char *path, uint32_t mode, int *fd) {
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

int rill__fifo_writer(const char *path, int *fd) {
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
