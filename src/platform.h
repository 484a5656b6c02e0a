/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* The few operating-system services rill uses.  Everything above this layer
 * is OS-neutral; another OS is another platform_*.c file.  Every function
 * returns 0 or a negative RILL_E* code. */
#ifndef RILL_PLATFORM_H
#define RILL_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

#define RILL_PATH_MAX 4096

/* Region directory: explicit dir, else $RILL_DIR, else /dev/shm. */
const char *rill__dir(const char *dir);

/* The pages of the files in DIR, or of the open file FD: 1 if they are
 * huge pages (DIR is on hugetlbfs), 0 if not, or an error (ENODIR: no such
 * directory).  *PAGE is their size either way: the huge page size, else
 * the system's page size.  A file of huge pages has a length that is a
 * multiple of it; Windows has none (0, 4096). */
int rill__dir_page(const char *dir, uint64_t *page);
int rill__file_page(int fd, uint64_t *page);

/* Creates PATH exclusively with exactly MODE, checks free space for SIZE
 * bytes, sizes the file and reserves its pages.  *fd is open read-write.
 * On hugetlbfs (SIZE a multiple of its page size), the huge pages are
 * taken from the pool: a pool too small fails with -RILL_ENOHUGE. */
int rill__file_create(const char *path, uint64_t size, uint32_t mode, int *fd);
/* Opens PATH read-write, or read-only unless WRITABLE; *size is its length
 * now. */
int rill__file_open(const char *path, int writable, int *fd, uint64_t *size);
/* Reads N bytes at OFF into BUF (a private copy: never a fault, whatever
 * happens to the file).  0, -RILL_ETRUNC if the file ends before OFF + N
 * (it was shrunk), or an error. */
int rill__file_read(int fd, uint64_t off, void *buf, size_t n);
/* Tags the handle FD of a region file with the region's identity, from
 * its header: the names of the objects another OS waits on are derived
 * from it (docs/PROTOCOL.md §5); handles reopened from FD inherit it.
 * Linux needs nothing: its futexes are keyed by the mapping itself. */
void rill__file_tag(int fd, uint64_t created_ns, uint32_t creator_pid);
/* A new open file description of the same file (own locks). */
int rill__file_reopen(int fd, int *newfd);
/* Links FROM at TO (fails with EEXIST if TO exists), then removes FROM. */
int rill__file_publish(const char *from, const char *to);
int rill__file_unlink(const char *path);
int rill__file_size(int fd, uint64_t *size);
int rill__file_mode(int fd, uint32_t *mode); /* permission bits */
int rill__file_owner(int fd, uint32_t *uid);  /* the file's owner now */
void rill__file_close(int fd);
/* How long a lock wait lasts at most: a lock is held only for an instant
 * by a well-behaved peer (a cleaner, a channel's creation), and a process
 * that holds it longer (stopped, or hostile) must not hang the others. */
#define RILL_LOCK_WAIT_NS 1000000000ull
/* Whole-file lock serialising changes to a region's table, waiting at most
 * RILL_LOCK_WAIT_NS: 0, -RILL_EBUSY, or an error. */
int rill__file_lock(int fd);
void rill__file_unlock(int fd);

/* Maps LEN bytes at OFF (4 KiB aligned) shared, read-only or read-write.
 * The mapping made is rounded out to the pages of the file (a huge page
 * of a hugetlbfs file holds the 4 KiB page at OFF: the pages around it
 * are mapped too); *out points at OFF in it, and rill__unmap() takes that
 * pointer and LEN back.  Every mapping is recorded (a fixed table; beyond
 * it, unrecorded, but for a rounded one, refused: -RILL_ENOMEM) for the
 * SIGBUS guard below and for unmapping. */
int rill__map(int fd, uint64_t off, uint64_t len, int writable, void **out);
void rill__unmap(void *p, uint64_t len);

/* The SIGBUS guard (rill_sigbus_guard()): installs, once, a SIGBUS handler
 * that, for a fault on a recorded mapping past the end of its file (someone
 * shrank it), maps private zero pages over the whole mapping (the page at
 * the offset given to rill__map_fill() filled with 0xff), so the access
 * retries and the process lives; other faults go to the handler that was
 * there before.  Returns 0 or an error. */
int rill__sigbus_guard(void);
/* The page at OFF of the recorded mapping P reads 0xff if the guard
 * detaches it (where slot 0 of a meta ring lies: see platform_linux.c). */
void rill__map_fill(const void *p, uint64_t off);
/* 1 if the guard detached the recorded mapping that starts at P, else 0.
 * One load when it never detached any. */
int rill__map_lost(const void *p);

/* Exclusive lock on one byte at OFF, owned by this open file description,
 * released by the kernel when the description closes or the process dies.
 * Returns 0, -RILL_EBUSY if another description holds it, or an error. */
int rill__lock_try(int fd, uint64_t off);
void rill__lock_release(int fd, uint64_t off);
/* 1 if some description holds the lock at OFF, 0 if none, negative on error. */
int rill__lock_held(int fd, uint64_t off);

/* A shared (read) lock on byte OFF, waiting for it if an exclusive lock is
 * held (briefly, by a cleaner), at most RILL_LOCK_WAIT_NS: 0, -RILL_EBUSY,
 * or an error.  Works on a read-only FD.  Same ownership as
 * rill__lock_try(). */
int rill__lock_shared(int fd, uint64_t off);
/* 1 if another open file description holds a lock on any part of the file,
 * 0 if none does, or an error.  Works on a read-only FD. */
int rill__lock_any_held(int fd);
/* An exclusive lock on the whole file if nobody holds any lock on any part
 * of it: 0, -RILL_EBUSY, or an error.  Release with rill__lock_release_all. */
int rill__lock_all_try(int fd);
void rill__lock_release_all(int fd);
/* 1 if the open file still has a name, 0 if it was unlinked. */
int rill__file_linked(int fd);

/* ---- working inside one directory ----------------------------------------
 * Removing files safely: the directory is opened once (its path, given by
 * the user, is resolved then, symlinks included) and every name is looked
 * up relative to that descriptor, never following a symlink, so a path
 * that another user changes meanwhile redirects nothing. */
int rill__dir_open(const char *dir, int *dfd);
void rill__dir_close(int dfd);
/* rill__dir_each() over the directory DFD (a stream of its own: calls nest). */
int rill__dir_each_at(int dfd, int (*fn)(const char *name, void *arg), void *arg);
/* Calls FN for every entry name in DIR (not "." or ".."); stops early and
 * returns FN's value if it is nonzero.  Made of the calls above, so the
 * same on every OS. */
static inline int rill__dir_each(const char *dir, int (*fn)(const char *name, void *arg),
                                 void *arg) {
  int dfd = -1, rc = rill__dir_open(dir, &dfd);
  if (rc) return rc;
  rc = rill__dir_each_at(dfd, fn, arg);
  rill__dir_close(dfd);
  return rc;
}

enum { RILL__KIND_OTHER, RILL__KIND_REG, RILL__KIND_FIFO };

/* What rill looks at in a file's status. */
typedef struct rill__stat {
  uint64_t dev, ino;   /* the file's identity                                */
  uint64_t size;
  uint64_t changed_ns; /* the later of its modification and change times
                        * (CLOCK_REALTIME): when it was made, at the latest */
  uint32_t uid;        /* owner                                              */
  uint32_t kind;       /* RILL__KIND_*                                       */
} rill__stat;

/* The status of entry NAME of DFD itself (a symlink is not followed). */
int rill__stat_at(int dfd, const char *name, rill__stat *st);
int rill__file_stat(int fd, rill__stat *st);
/* rill__file_open() of entry NAME of DFD: a regular file, not reached
 * through a symlink (-RILL_EMAGIC otherwise). */
int rill__file_open_at(int dfd, const char *name, int *fd, uint64_t *size);
/* Removes entry NAME of DFD (not a directory). */
int rill__unlink_at(int dfd, const char *name);

/* 1 if a process PID exists (in this PID namespace), 0 if none does (or
 * PID is 0 or out of range), negative if that cannot be told. */
int rill__pid_alive(uint32_t pid);

/* Waiting for a name to appear in a directory (inotify on Linux).  Watch
 * the directory first, then look for the name, then wait: an entry made
 * after the watch was set is never missed.  rill__dir_watch() returns 0
 * with *W set, -RILL_ENODIR if DIR does not exist, or an error.
 * rill__dir_watch_wait() sleeps until an entry named NAME is created in
 * (or moved into) the watched directory, at most TIMEOUT_NS (UINT64_MAX:
 * no limit), and returns 0 (also when the kernel dropped events: look
 * again), -RILL_ETIMEDOUT, -RILL_ENODIR (the directory was removed), or an
 * error.  Other entries' events are read and ignored. */
int rill__dir_watch(const char *dir, int *w);
int rill__dir_watch_wait(int w, const char *name, uint64_t timeout_ns);
void rill__dir_watch_close(int w);

/* ---- waiting ------------------------------------------------------------
 * Parking: sleeps while the 32-bit word at ADDR (in a shared mapping, which
 * may be read-only) equals EXPECT, at most TIMEOUT_NS.  Returns 0 when woken
 * or when the word differed (spurious returns are allowed), -RILL_ETIMEDOUT,
 * or an error.  Another OS implements these with its own primitive (a
 * named event or semaphore keyed by the word's place in the region). */
int rill__park(const void *addr, uint32_t expect, uint64_t timeout_ns);
/* rill__park() on N words at once (N <= 128): 0 when any of them differs
 * from its EXPECT or is woken (or spuriously), -RILL_ETIMEDOUT, or -RILL_EIO
 * when the OS has no such wait (then the caller naps on one word). */
int rill__park_any(const void *const *addrs, const uint32_t *expect, uint32_t n,
                   uint64_t timeout_ns);
/* Wakes every thread parked on ADDR, in any process. */
void rill__unpark(const void *addr);

/* Asymmetric barrier.  A process that registers (producers do, at join)
 * may leave out the store-load fence between publishing and reading the
 * wait page: another process runs rill__heavy_barrier(), which makes every
 * registered thread pass a full barrier.  Register returns 0, or an error
 * when the OS cannot (then the producer fences every publish). */
int rill__heavy_barrier_register(void);
int rill__heavy_barrier(void);
/* 1 if producers join LAZY (docs/PROTOCOL.md §3.7a: they fence after a
 * publish only once a consumer that sleeps asks): where there is no heavy
 * barrier and no consumer older than that rule (Windows), or where the
 * environment says RILL_LAZY_FENCE=1 (tests, on Linux). */
int rill__lazy_fence(void);

/* CPUs this process may run on (its affinity), at least 1. */
uint32_t rill__cpus(void);

/* FIFOs for event loops.  RFD is an open handle of the region file (the
 * FIFO of another OS may be a named object keyed by the region: see
 * rill__file_tag()); Linux does not use it.  The reader end is opened read-write and
 * non-blocking (it never sees end-of-file); it is made with MODE if it does
 * not exist.  The writer end is non-blocking; opening it fails with
 * -RILL_ENOENT when the FIFO does not exist or nobody has it open to read. */
int rill__fifo_reader(int rfd, const char *path, uint32_t mode, int *fd);
int rill__fifo_writer(int rfd, const char *path, int *fd);
void rill__fifo_signal(int fd); /* writes one byte; a full FIFO is fine */
void rill__fifo_drain(int fd);  /* reads until empty */
#ifdef _WIN32
/* The event (a HANDLE) behind a reader end, for rill_consumer_handle(). */
void *rill__fifo_handle(int fd);
#endif

uint64_t rill__mono_ns(void);     /* CLOCK_MONOTONIC */
uint64_t rill__real_ns(void);     /* CLOCK_REALTIME  */
uint32_t rill__pid(void);
uint32_t rill__uid(void);
uint32_t rill__euid(void);  /* the effective uid: whose files are ours */
uint64_t rill__random(void);      /* a seed; not for cryptography */
/* Maps an errno value to a RILL_E* code (negative), keeping it for
 * rill_os_error() (src/error.c: the same on every platform). */
int rill__errno(int e);
/* What rill_os_error() returns: each platform stores the OS error behind a
 * failure here (src/error.c). */
extern _Thread_local int rill__os_error;

/* A cheap, monotonic CPU tick counter (TSC, the ARM virtual counter), or
 * nanoseconds where there is none.  Converted to ns by rill_clock. */
static inline uint64_t rill__ticks(void) {
#if defined(__x86_64__) || defined(__i386__)
  return __builtin_ia32_rdtsc();
#elif defined(__aarch64__)
  uint64_t t;
  __asm__ __volatile__("mrs %0, cntvct_el0" : "=r"(t));
  return t;
#else
  return rill__mono_ns();
#endif
}

/* Asks for the cache line at P ahead of a load (a hint: no fault, no
 * effect on what any load returns). */
static inline void rill__prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }

static inline void rill__cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield" ::: "memory");
#endif
}

#endif
