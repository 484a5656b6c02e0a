/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill: lock-free shared-memory channels between processes on one host.
 *
 * One producer, any number of consumers per channel.  A channel is a ring of
 * 32-byte descriptors beside a ring of 64-byte payload chunks, living in a
 * named shared-memory region.  Every call returns 0 (or a non-negative count)
 * on success and a negative RILL_E* code on failure; rill_strerror() explains
 * a code.  No call prints, aborts or exits.
 *
 * The bytes in shared memory are specified in docs/PROTOCOL.md.
 *
 * Threading: a region handle may be shared by threads of one process for
 * create/open/join/stats calls.  A producer handle or a consumer handle is
 * used by one thread at a time (it is the endpoint, and holds its position
 * in registers).
 *
 * ABI: from 0.2 on, a program built against this header runs with the
 * librill of a later version (same soname, librill.so.1, which changes
 * only if a version has to break what follows), and with an earlier one
 * that has every function it uses (the dynamic loader checks).  Handles
 * are opaque.  Each function is exported with the version that added it
 * (RILL_0.2 for those of 0.2), and nothing else is exported.  The structs
 * keep their size and their fields' offsets: each one a later version may
 * grow ends in reserved fields, and its padding is named too (every field
 * whose name starts with "reserved"); a new field is carved out of them.
 * Zero in a reserved field means "not known to this version":
 *   - options (rill_region_opts, rill_clean_opts, rill_channel_opts,
 *     rill_rpc_opts) are read by the library: their reserved fields, and
 *     flags this version does not define, must be zero, or the call fails
 *     with -RILL_EINVAL.  Zero is the default of every
 *     option, now and later: a program that zero-initialises its options
 *     ({0}, designated initialisers, memset, C++ {}) gets the defaults of
 *     the options added after it was written, and one that sets an option
 *     its librill is too old to know gets -RILL_EINVAL, not a silent no;
 *   - results (rill_region_info, rill_object_info, rill_channel_stats,
 *     rill_consumer_stats, rill_rpc_result) are written by the library,
 *     which writes zero into their reserved fields: a field a later
 *     version adds reads 0, "not reported", when this version filled it;
 *   - rill_view and rill_meta, filled once per message, are not slowed
 *     down for this: this version does not write their reserved fields,
 *     whose contents are unspecified.
 * rill_latency does not grow: its buckets are the ones in shared memory.
 * Sizes on 64-bit Linux: rill_region_opts, rill_clean_opts,
 * rill_channel_opts, rill_rpc_opts, rill_region_info, rill_view and
 * rill_meta 64 bytes; rill_rpc_result 48; rill_object_info 96; rill_consumer_stats 128;
 * rill_channel_stats 256; rill_latency 1040.  abi/layout.txt lists every
 * offset and abi/librill.symbols every exported symbol; tests compare.
 */
#ifndef RILL_H
#define RILL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library is built with hidden visibility; what is declared here is
 * exported. */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

/* ---- version ------------------------------------------------------------ */

/* This header's version, MAJOR.MINOR.PATCH (the build reads it from these
 * three lines: it is written nowhere else), and the same as one number,
 * MAJOR * 10000 + MINOR * 100 + PATCH: 0.2.0 is 200 (MINOR and PATCH stay
 * below 100).  A later version may add calls and struct fields, as the ABI
 * rule above says; RILL_CHECK_VERSION() lets code use them when there. */
#define RILL_VERSION_MAJOR 0
#define RILL_VERSION_MINOR 3
#define RILL_VERSION_PATCH 0
#define RILL_VERSION \
  (RILL_VERSION_MAJOR * 10000 + RILL_VERSION_MINOR * 100 + RILL_VERSION_PATCH)

/* 1 if this header is version MAJOR.MINOR.PATCH or later, else 0; usable in
 * #if, for code that needs what a version added:
 *   #if RILL_CHECK_VERSION(0, 2, 0)
 *     ... rill_consumer_stats_get() ...
 *   #endif
 * It reads the natural way round: liburing's IO_URING_CHECK_VERSION(2, 5)
 * is true when the header is *older* than 2.5; this one is true when the
 * header is at least the version named.  It tells what the header
 * declares; rill_version() tells which librill the program runs with. */
#define RILL_CHECK_VERSION(major, minor, patch) \
  (RILL_VERSION >= (major) * 10000 + (minor) * 100 + (patch))

/* The version of the librill the program runs with, as RILL_VERSION
 * counts: the RILL_VERSION of the header librill was built from, which may
 * differ from the one the program was built against (the same soname
 * spans versions).  Assumes nothing; never fails. */
int rill_version(void);

/* The same version as text, "MAJOR.MINOR.PATCH" ("0.3.0"): a static
 * string, never NULL.  Assumes nothing; never fails. */
const char *rill_version_string(void);

/* ---- errors --------------------------------------------------------------
 * One rule for every call.  It returns 0 (or a count, or a size) on success
 * and a negative RILL_E* code on failure.  A handle or pointer argument
 * that is NULL where the call needs one fails with -RILL_EINVAL, hot paths
 * included (rill_poll, rill_send, rill_reserve, rill_commit, ...): no call
 * dereferences NULL.  A data buffer may be NULL only with a length of 0;
 * the leave and close calls accept NULL and return 0; a call that returns
 * a value rather than a code (rill_producer_seq, rill_consumer_slot,
 * rill_channel_footprint) returns 0 for NULL.
 *
 * An error that comes from the operating system is returned as the code
 * of its kind (EACCES for EACCES, EPERM and EROFS; ENOSPC for ENOSPC, EFBIG
 * and EDQUOT; ENOENT; ENODIR for a missing or non-directory region
 * directory; ENOMEM; EINVAL for EINVAL and ENAMETOOLONG), or as RILL_EIO
 * when it has none; rill_os_error() gives the errno value itself.  ENOENT
 * names a region, channel or slot that does not exist, and also a path
 * that vanished under the call: a region unlinked while it was opened, or
 * a region directory removed while a consumer made its fd's FIFO in it. */

/* The errno value of the last operating-system failure behind an error
 * code returned to this thread (EMFILE, ELOOP, EISDIR, ... when the code
 * was RILL_EIO), or 0 if none happened yet.  Calls that succeed, and
 * errors that do not come from the OS (a bad argument, a corrupt region),
 * leave it as it was: read it right after the failing call. */
int rill_os_error(void);

/* ---- error codes (returned negated) ------------------------------------ */

enum {
  RILL_OK = 0,
  RILL_EAGAIN = 1,     /* nothing to read yet / no credit to publish now      */
  RILL_EOVERRUN,       /* consumer was lapped; rill_view.lost says how many   */
  RILL_EINVAL,         /* bad argument (name, size, option, handle)           */
  RILL_ENOMEM,         /* out of process memory                               */
  RILL_ENOENT,         /* no such region or channel                           */
  RILL_EEXIST,         /* region or channel already exists                    */
  RILL_EACCES,         /* permission denied on the region file                */
  RILL_ENODIR,         /* the region directory does not exist                 */
  RILL_ENOSPC,         /* not enough space in the file system or region       */
  RILL_EBUSY,          /* a live producer owns the channel / the slot is live /
                          a lock was held longer than the 1 s a call waits */
  RILL_EFULL,          /* every consumer slot of the channel is taken         */
  RILL_EEMPTY,         /* region file has length zero                         */
  RILL_ETRUNC,         /* region file shorter than its header says            */
  RILL_EMAGIC,         /* not a rill region or object (wrong magic)           */
  RILL_EVERSION,       /* rill layout version not supported                   */
  RILL_ECORRUPT,       /* header or table fields out of range                 */
  RILL_EMSGSIZE,       /* message larger than the channel allows / buffer cap */
  RILL_ETIMEDOUT,      /* a wait ran out of time                              */
  RILL_EIO,            /* an unexpected operating-system error                */
  RILL_ECLOSED,        /* the producer left the channel; everything was read  */
  RILL_EDEAD,          /* the producer died; everything it published was read */
  /* request/response (rill_rpc.h), since 0.3 */
  RILL_ESRVDEAD,       /* the server died; the calls in flight are lost       */
  RILL_ESRVLEFT,       /* the server stopped; the calls in flight are lost    */
  RILL_ENOMETHOD,      /* the server has no such method                       */
  RILL_EWORKERS,       /* more server workers than the service has lanes      */
  /* huge pages (RILL_REGION_HUGE), since 0.4 */
  RILL_ENOHUGE,        /* no huge pages for the region: its directory is not
                          on hugetlbfs, or too few huge pages are free        */
  RILL_ERR_MAX_
};

/* Text for a code, positive or negative.  Never NULL. */
const char *rill_strerror(int err);

/* ---- regions ------------------------------------------------------------ */

typedef struct rill_region rill_region;

typedef struct rill_region_opts {
  uint64_t size;   /* create: total bytes; 0 = 64 MiB.  Rounded up to 4 KiB
                      (to the huge page size on hugetlbfs: see below).     */
  const char *dir; /* NULL = $RILL_DIR, else "/dev/shm"                      */
  uint32_t mode;   /* create: file mode; 0 = 0600.  Set exactly, umask aside. */
  uint32_t flags;  /* RILL_REGION_* below: READONLY (open), HUGE (create)  */
  uint64_t reserved[5]; /* must be 0                                       */
} rill_region_opts; /* 64 bytes */

/* rill_region_opts.flags of rill_region_open() (0.3 and later):
 * RILL_REGION_READONLY opens the region to look at it only, as an
 * observer: the file is opened read-only (so a region that another user
 * made readable to us, mode 0644, can be inspected), nothing is mapped,
 * and the calls that read it (rill_region_info_get, rill_region_object_get,
 * rill_channel_stats_get, rill_consumer_stats_get, rill_latency_get) copy
 * what they need with pread.  Joining a producer or a consumer, or
 * creating a channel, through such a handle fails with -RILL_EACCES. */
#define RILL_REGION_READONLY 0x1u

/* rill_region_opts.flags of rill_region_create() (0.4 and later; librill
 * 0.3 refuses it with -RILL_EINVAL, as every flag it does not know):
 * RILL_REGION_HUGE backs the region with huge pages, or fails.  Linux
 * keeps reserved huge pages in hugetlbfs, so the region's directory
 * (opts->dir, or $RILL_DIR) must be a hugetlbfs mount, and the pool of
 * huge pages must hold the whole region:
 *   mount -t hugetlbfs -o mode=1777 none /dev/hugepages   (or pagesize=1G)
 *   sysctl vm.nr_hugepages=N      (N pages of 2 MiB; HugePages_Free in
 *                                  /proc/meminfo says how many are free)
 * The size is rounded up to a multiple of the huge page size (2 MiB, or
 * 1 GiB on a pagesize=1G mount), and every page is taken from the pool at
 * creation: a region that the pool cannot hold fails then, with
 * -RILL_ENOHUGE (rill_os_error() gives ENOSPC), never with a SIGBUS later.
 * A directory that is not on hugetlbfs fails with -RILL_ENOHUGE too, with
 * nothing left behind, as does the flag on Windows, which has no huge
 * pages for files.  A region created in a hugetlbfs directory without the
 * flag is backed by huge pages all the same (the file system decides); the
 * flag makes sure of it.  Nothing is recorded in the region: whoever opens
 * it maps it as its file system says, rill_region_open() ignores the flag
 * (as it ignores size and mode), and rill_region_info.page_size tells
 * which pages a region has.  Huge pages spare the TLB (one entry per
 * 2 MiB, not per 4 KiB) and are never swapped; transparent huge pages on
 * tmpfs are not used here: the kernel gives them when it can, with no
 * reservation and no error when it cannot (docs/api.md, "Huge pages"). */
#define RILL_REGION_HUGE 0x2u

#define RILL_NAME_MAX 39 /* longest region or channel name (bytes) */

/* 1 if NAME is a valid region or channel name (1..RILL_NAME_MAX bytes of
 * [A-Za-z0-9._-], not starting with '.'), else 0. */
int rill_name_valid(const char *name);

/* Timeouts are in nanoseconds: 0 = look once and return, RILL_FOREVER = no
 * limit. */
#define RILL_FOREVER UINT64_MAX

/* Creates region NAME (a file DIR/NAME) of opts->size bytes, reserving its
 * pages up front (free space is checked first), and returns a handle in *out.
 * The file appears fully formed: it is built under a temporary name and
 * linked into place.  Names are 1..RILL_NAME_MAX bytes of [A-Za-z0-9._-] and
 * do not start with '.'.  The directory's path must leave room for the
 * longest path rill makes in it, a consumer's FIFO (DIR/.rill-fifo@NAME@
 * CHANNEL@SLOT, strlen(DIR) + 95 bytes, under 4096): a longer one is
 * refused here and by rill_region_open() (EINVAL), so that no join fails
 * for it later.  Errors: EINVAL, EEXIST, ENODIR, EACCES, ENOSPC, ENOMEM,
 * ENOHUGE (RILL_REGION_HUGE above; also a hugetlbfs directory whose pool
 * is short), EIO. */
int rill_region_create(const char *name, const rill_region_opts *opts,
                       rill_region **out);

/* Opens an existing region, validating magic, version, sizes, alignment and
 * every table offset against the file's real length.  Of OPTS (NULL: the
 * defaults) it uses dir and flags (RILL_REGION_READONLY); size, mode and
 * RILL_REGION_HUGE are the creator's business.  The handle's shared lock (below) waits out a
 * cleaner's exclusive lock for at most 1 s: a process that holds the lock
 * longer (stopped, or hostile) gets -RILL_EBUSY, never a hang.
 * Errors: EINVAL (a bad name, an unknown flag, a nonzero reserved field),
 * ENOENT, ENODIR, EACCES, EBUSY, EEMPTY, ETRUNC, EMAGIC, EVERSION,
 * ECORRUPT, ENOMEM, EIO.
 *
 * A file shrunk under its users.  Whoever can write a region file can
 * truncate it (the kernel cannot forbid it for a file in a directory such
 * as /dev/shm).  The calls that only look (those that RILL_REGION_READONLY
 * lists, on any handle, and rill_region_list, rill_region_in_use) copy
 * with pread and report a shrunk file as -RILL_ETRUNC or -RILL_ECORRUPT:
 * they survive any file, whoever owns it.  Endpoints (producers,
 * consumers) read and write the file through a shared mapping, for
 * speed: a process that touches a page past the new end is killed by
 * SIGBUS, at its next poll or publish.  That is all a truncating peer can
 * do: the pages left read as they were, and no payload is accepted that
 * was not published (descriptors are validated as always).  Only grant
 * write access to a region to peers you trust not to crash you this way;
 * an application that hosts untrusted peers calls rill_sigbus_guard(). */
int rill_region_open(const char *name, const rill_region_opts *opts,
                     rill_region **out);

/* rill_region_open() that waits, up to TIMEOUT_NS (RILL_FOREVER: no
 * limit; 0: opens once), for region NAME to appear, for a process started
 * before the one that creates it.  It sleeps until the region's name is
 * linked into the directory (inotify(7) on Linux, set before the first
 * look, so a region made at any moment is not missed), not polling.  A
 * region appears fully formed (rill_region_create()), so any answer but
 * "not there" is final: a file that is not a valid region fails as
 * rill_region_open() says, at once.  The directory must exist.  Returns 0
 * with *OUT set, or -RILL_ETIMEDOUT, or an error of rill_region_open()
 * (ENODIR also if the directory is removed meanwhile).  Since 0.3. */
int rill_region_open_wait(const char *name, const rill_region_opts *opts,
                          uint64_t timeout_ns, rill_region **out);

/* Guards this process against peers that shrink a region file under it
 * (0.3 and later), for applications that host untrusted peers.  Installs,
 * once (later calls return 0 at once), a SIGBUS handler: a fault on a
 * mapping that rill made, past the end of its file, detaches that whole
 * mapping from the file (private zero pages are mapped over it, allocated
 * only when written), so the access is retried and the process lives;
 * any other SIGBUS goes to the handler installed before (or to the
 * default action: death).  The endpoint then sees an empty channel: no
 * producer, free consumer slots, descriptors that are not yet published
 * (slot 0's page reads 0xff, so that a consumer waiting for sequence
 * number 0 does not take it for a message); what it writes reaches
 * nobody.  At most the message being read when the pages went is
 * affected: its payload may read as zeros in a reliable consumer (a lossy
 * one's rill_check() reports it; a peer that can write the file can forge
 * any payload anyway).  Its calls that wait or flush (rill_poll_wait,
 * rill_recv_wait, rill_send_wait and rill_reserve_wait when they wait,
 * rill_consumer_arm, rill_consumer_producer, rill_consumer_flush,
 * rill_producer_flush) then return -RILL_ETRUNC: leave the endpoint and
 * close the region.  An endpoint that never touches a lost page is not
 * disturbed (and not told).  The handler is async-signal-safe; it covers
 * the first 1024 mappings alive at once (a region handle opened
 * read-write has 1, a producer 1, a consumer 3), beyond which a fault
 * kills as before.  Install it before other threads start, after your own
 * SIGBUS handler if you have one: rill's chains to it.  Returns 0, or an
 * error (EIO) if the handler could not be installed. */
int rill_sigbus_guard(void);

/* Unmaps and frees the handle.  Endpoints joined through it stay valid (each
 * keeps its own mapping).  Accepts NULL.  Returns 0.
 *
 * While a handle is open it holds a shared lock on the region file, and
 * every joined endpoint holds its own exclusive lock: the kernel drops them
 * when the process dies, which is how rill tells live users from dead ones
 * (across PID namespaces too). */
int rill_region_close(rill_region *r);

/* Removes region NAME from DIR (NULL = $RILL_DIR or /dev/shm), and the fd
 * FIFOs of its consumers.  Processes that have it mapped keep using it.
 * NAME must be a regular file (a symlink is removed by nobody but its
 * owner); of the entries named like its FIFOs, only FIFOs owned by the
 * region file's owner or by the caller are removed.  Every name is looked
 * up in the directory opened once, never through a symlink.
 * Errors: EINVAL, ENOENT, ENODIR, EACCES, EMAGIC (not a regular file). */
int rill_region_unlink(const char *name, const char *dir);

/* 1 if some live process has region NAME open or joined to one of its
 * channels, 0 if every user is dead (or it never had one), or an error. */
int rill_region_in_use(const char *name, const char *dir);

/* Called by rill_clean() and rill_region_clean() for each region it finds
 * unused, and for each temporary file a dead creator left (NAME starts
 * with '.': ".REGION.PID.RAND.tmp").  REMOVED is 1 if it was removed, 0 on
 * a dry run or if removal failed (ERR). */
typedef void (*rill_clean_fn)(const char *name, int removed, int err, void *arg);

typedef struct rill_clean_opts {
  const char *dir;      /* NULL = $RILL_DIR, else /dev/shm                   */
  uint64_t min_age_ns;  /* grace period: 0 = 60 s (RILL_CLEAN_ANY_AGE: none) */
  uint32_t flags;       /* RILL_CLEAN_*                                      */
  uint32_t reserved0;   /* must be 0                                         */
  uint64_t reserved[5]; /* must be 0                                         */
} rill_clean_opts; /* 64 bytes */

#define RILL_CLEAN_DRY_RUN 1u /* report what would go; remove nothing       */
#define RILL_CLEAN_ANY_AGE 2u /* no grace period (min_age_ns must be 0)     */

/* Finds the regions in opts->dir (OPTS NULL: the defaults) that nobody
 * uses and removes them, with their FIFOs, unless RILL_CLEAN_DRY_RUN.
 * A region is removed only if
 *   - no live process uses it: removal happens under an exclusive lock
 *     that no live user can be holding, and only if the name still
 *     refers to the file locked;
 *   - it is older than the grace period (min_age_ns, default 60 s), by
 *     the younger of the file's modification/change time and the creation
 *     time in its header;
 *   - the process that created it (its header's creator_pid) is dead,
 *     or an endpoint has joined one of its channels since: a region made
 *     and not yet joined (by 'rill create', by an application that is
 *     starting) is kept while its creator lives.  Once joined, the locks
 *     alone count: creator_pid is a pid in the creator's PID namespace,
 *     which the same number may name a live process in another (a
 *     container's init is pid 1).  The header is writable by the file's
 *     owner, so neither it nor the time can make a region go sooner than
 *     the grace period and its locks allow; they only keep one.
 * It also removes the temporary files (".REGION.PID.RAND.tmp", fully
 * reserved) of creators that died before linking their region into place,
 * if PID is dead and the file is older than the grace period; nothing
 * lists them otherwise.  Files that are neither are left alone, symlinks
 * are not followed, and every name is looked up in the directory opened
 * once (a path changed meanwhile redirects nothing).  FN, if not NULL, is
 * called for each.  Returns the number found (>= 0), or an error: EINVAL
 * (unknown flags, nonzero reserved fields, RILL_CLEAN_ANY_AGE with
 * min_age_ns), ENODIR, EACCES, EIO.  Since 0.3. */
int rill_clean(const rill_clean_opts *opts, rill_clean_fn fn, void *arg);

/* rill_clean() of DIR with the default grace period, and
 * RILL_CLEAN_DRY_RUN if DRY_RUN. */
int rill_region_clean(const char *dir, int dry_run, rill_clean_fn fn, void *arg);

/* Called by rill_region_list() for each region.  A nonzero return stops
 * the listing, and rill_region_list() returns it. */
typedef int (*rill_list_fn)(const char *name, void *arg);

/* Calls FN for each rill region in DIR (NULL = $RILL_DIR or /dev/shm): each
 * file with a valid name that starts with a region's magic, in directory
 * order.  Nothing is locked or opened for long: a region may be gone by
 * the time FN opens it.  Returns the number of regions found (>= 0), FN's
 * nonzero return, or an error (ENODIR, EACCES, EIO). */
int rill_region_list(const char *dir, rill_list_fn fn, void *arg);

typedef struct rill_region_info {
  uint64_t size;       /* total bytes                                   */
  uint64_t used;       /* bytes allocated to objects (header included)  */
  uint64_t created_ns; /* CLOCK_REALTIME at creation                    */
  uint32_t creator_pid;
  uint32_t creator_uid;
  uint32_t nobjects;   /* objects in the table                          */
  uint32_t owner_uid;  /* the file's owner, now (0.3 and later)         */
  uint64_t page_size;  /* the pages backing the file: the huge page size
                          on hugetlbfs (RILL_REGION_HUGE), else the
                          system's (4096); 0.4's: librill 0.3 leaves
                          it 0                                          */
  uint64_t reserved[2];
} rill_region_info; /* 64 bytes */

/* Fills *INFO from the region's header, read as a private copy (pread).
 * creator_pid and creator_uid are what the creator wrote in the header:
 * anyone who can write the file can change them.  owner_uid is the file's
 * owner as the kernel says (fstat): trust that one.  It is 0.3's; librill
 * 0.2 leaves it 0, which reads as root: a program that may run with an
 * older librill checks rill_version() >= 300 first.  Returns 0, or
 * -RILL_EINVAL, -RILL_ETRUNC (the file was shrunk), -RILL_EMAGIC,
 * -RILL_EVERSION, -RILL_ECORRUPT (its header was overwritten since it was
 * opened: it is checked again, as open checks it), -RILL_EIO. */
int rill_region_info_get(rill_region *r, rill_region_info *info);

/* An object of a region's table (docs/PROTOCOL.md section 1.2). */
#define RILL_OBJECT_CHANNEL 1u

typedef struct rill_object_info {
  char name[RILL_NAME_MAX + 1];
  uint32_t type;  /* RILL_OBJECT_CHANNEL                  */
  uint32_t reserved0;
  uint64_t off;   /* from the start of the region, bytes */
  uint64_t size;  /* bytes                               */
  uint64_t reserved[4];
} rill_object_info; /* 96 bytes */

/* Fills *O with object I (0 <= I < rill_region_info.nobjects) of the
 * region's table, in the order they were created.  Returns 0, -RILL_ENOENT
 * past the last object, -RILL_EINVAL, -RILL_ETRUNC (the file was shrunk)
 * or -RILL_ECORRUPT (the entry was overwritten with garbage). */
int rill_region_object_get(rill_region *r, uint32_t i, rill_object_info *o);

/* ---- channels ----------------------------------------------------------- */

typedef struct rill_channel_opts {
  uint32_t depth;         /* descriptors in the ring, power of 2; 0 = 4096 */
  uint32_t mtu;           /* largest fragment payload, bytes; 0 = 1024     */
  uint32_t max_consumers; /* consumer slots; 0 = 8                         */
  uint32_t flags;         /* none defined yet: must be 0                   */
  uint64_t max_msg;       /* largest message (fragmented); 0 = 16 * mtu    */
  uint64_t reserved[5];   /* must be 0                                     */
} rill_channel_opts; /* 64 bytes */

/* Bytes a channel with these options (NULL: the defaults) takes in a
 * region (page multiple), or 0 if the options are invalid.  depth: 2..2^24
 * power of two; mtu: 1..65535; max_consumers: 1..256; max_msg >= mtu and
 * at most depth/2 fragments; a data ring of at most 2^32 chunks of 64
 * bytes, (depth + 2) * ceil(mtu / 64) (a descriptor addresses a chunk
 * with 32 bits: depth 2^24 allows an mtu up to 16320, 2^23 up to 32704,
 * 2^22 up to 65472); flags and reserved fields zero. */
uint64_t rill_channel_footprint(const rill_channel_opts *opts);

/* Creates channel NAME in region R.  Errors: EINVAL, EEXIST, ENOSPC (the
 * region has no room or its object table is full), EACCES (R was opened
 * RILL_REGION_READONLY), EBUSY (another process held the region's table
 * lock for more than 1 s), EIO. */
int rill_channel_create(rill_region *r, const char *name,
                        const rill_channel_opts *opts);

/* Waits up to TIMEOUT_NS (RILL_FOREVER: no limit; 0: looks once) until
 * channel NAME exists in R, for a process that may start before the one
 * that creates it.  It sleeps on a futex on the region's object count,
 * which rill_channel_create() wakes (a creator using librill 0.2 does not
 * wake it: then it is seen within a second; through a handle opened
 * RILL_REGION_READONLY, which maps nothing, it looks every 10 ms instead
 * of sleeping on the word).  Returns 0 once the channel is
 * in the table (join it next), -RILL_ETIMEDOUT, -RILL_ENOENT if the table
 * is full without it (it cannot appear), -RILL_EINVAL.  Since 0.3. */
int rill_channel_wait(rill_region *r, const char *name, uint64_t timeout_ns);

/* ---- ctl bits of a descriptor ------------------------------------------- */

#define RILL_CTL_SOM 0x0001u /* first fragment of a message      */
#define RILL_CTL_EOM 0x0002u /* last fragment of a message       */
#define RILL_CTL_ERR 0x0004u /* the message carries an error     */
#define RILL_CTL_MSG (RILL_CTL_SOM | RILL_CTL_EOM) /* a whole message */
/* bits 3..15 are free for the application (an origin id, a type tag) */
#define RILL_CTL_USER_SHIFT 3
#define RILL_CTL_USER(x) ((uint16_t)((x) << RILL_CTL_USER_SHIFT))

/* ---- producer ----------------------------------------------------------- */

typedef struct rill_producer rill_producer;

/* Joins channel NAME as its producer.  Only one producer may be joined at a
 * time: a second join, from any process, fails with EBUSY while the first
 * is alive (an OFD lock held on the producer's page; released by the kernel
 * if the process dies).  A producer that joins a channel used before resumes
 * its sequence.  Errors: EINVAL, ENOENT, EBUSY, EMAGIC, EVERSION, ECORRUPT,
 * ENOMEM, EIO, and EACCES when R was opened RILL_REGION_READONLY.  The
 * producer maps the channel: see rill_region_open() for what a peer that
 * shrinks the file can do to it. */
int rill_producer_join(rill_region *r, const char *name, rill_producer **out);

/* Flushes counters and position, marks the channel closed (waiting
 * consumers return -RILL_ECLOSED once they have read everything) and
 * releases it.  Accepts NULL. */
int rill_producer_leave(rill_producer *p);

/* Busy-spin budget of the waiting calls before they park (default 20 us;
 * 0 parks at once).  Returns 0 or -RILL_EINVAL. */
int rill_producer_set_spin(rill_producer *p, uint64_t ns);

/* A reliable consumer whose process died stops holding the producer back
 * after NS of being found dead (default 1 s; RILL_FOREVER: never).  The
 * eviction is counted in the metrics; a consumer that rejoins its slot is
 * counted again.  Returns 0 or -RILL_EINVAL. */
int rill_producer_set_evict(rill_producer *p, uint64_t ns);

/* Reserves N bytes (N <= mtu) in the data ring and points *buf at them.
 * Write the payload there, then rill_commit().  A second reserve without a
 * commit returns the same space (resized).  Returns 0, -RILL_EAGAIN when a
 * reliable consumer has not freed room yet (counted as backpressure), or
 * -RILL_EMSGSIZE. */
int rill_reserve(rill_producer *p, size_t n, void **buf);

/* Publishes the reserved buffer as a descriptor of N bytes (N <= the
 * reserved size) with SIG and CTL (pass RILL_CTL_MSG for a whole message;
 * SOM/EOM mark fragments of a longer one).  tsorig is 0; tspub is
 * stamped as rill_producer_set_stamp() says.
 * Returns 0, or -RILL_EINVAL if nothing was reserved or N is too large. */
int rill_commit(rill_producer *p, size_t n, uint64_t sig, uint16_t ctl);

/* rill_commit() of the N bytes at AT, a point in the reserved buffer a
 * multiple of 64 bytes from its start (AT + N within it), for a payload
 * built backwards from the buffer's end (FlatBuffers): the bytes before AT
 * are skipped, not sent.  Returns 0 or -RILL_EINVAL. */
int rill_commit_at(rill_producer *p, const void *at, size_t n, uint64_t sig, uint16_t ctl);

/* rill_commit() with an application timestamp in tsorig. */
int rill_commit_ts(rill_producer *p, size_t n, uint64_t sig, uint16_t ctl,
                   uint32_t tsorig);

/* Copies N bytes (N <= max_msg) and publishes them as one message, split in
 * fragments of at most mtu bytes when larger.  All or nothing: returns
 * -RILL_EAGAIN without publishing anything if the credit for every fragment
 * is not there.  Returns 0, -RILL_EAGAIN or -RILL_EMSGSIZE. */
int rill_send(rill_producer *p, const void *data, size_t n, uint64_t sig);

/* ---- batches (0.4 and later) ----
 * A batch publishes COUNT messages with one credit check, one wake-up
 * check and at most one clock read: consecutive descriptors, exactly as
 * COUNT single publishes would write them (a consumer may see any prefix
 * before the rest).  A batch is all or nothing: a bad argument or too
 * little credit for the whole batch publishes none of it. */
typedef struct rill_msg {
  const void *data; /* rill_send_many: the bytes (NULL if sz is 0);
                     * rill_commit_many: ignored                         */
  size_t sz;        /* bytes                                             */
  uint64_t sig;
  uint16_t ctl;     /* rill_send_many: RILL_CTL_ERR and user bits (SOM
                     * and EOM are its own); rill_commit_many: as
                     * rill_commit()'s CTL (RILL_CTL_MSG: a whole message) */
  uint16_t reserved0;
  uint32_t tsorig;  /* the application's timestamp, as rill_commit_ts()  */
} rill_msg; /* 32 bytes on 64-bit targets */

/* Copies and publishes COUNT messages (each <= max_msg, split in fragments
 * of at most mtu bytes like rill_send()).  Returns 0; -RILL_EAGAIN if the
 * credit for every fragment of the batch is not there (nothing published,
 * counted as backpressure once); -RILL_EMSGSIZE if a message is over
 * max_msg; -RILL_EINVAL for a NULL P or M, COUNT 0, a NULL data with a
 * nonzero sz, or more fragments than the ring's depth (a batch that could
 * never be published). */
int rill_send_many(rill_producer *p, const rill_msg *m, size_t count);

/* Reserves COUNT buffers of N bytes (N <= mtu) and points BUFS[0..COUNT-1]
 * at them: write the payloads, then rill_commit_many() (or rill_commit()
 * for the first alone).  A later reserve replaces the reservation.
 * Returns 0, -RILL_EAGAIN (no credit for COUNT descriptors), -RILL_EMSGSIZE
 * (N over mtu), or -RILL_EINVAL (NULL, COUNT 0 or over the depth). */
int rill_reserve_many(rill_producer *p, size_t count, size_t n, void **bufs);

/* Publishes the first COUNT buffers of rill_reserve_many(), the I-th as a
 * descriptor of M[I].sz bytes (<= the reserved N) with M[I].sig, .ctl and
 * .tsorig.  Returns 0, or -RILL_EINVAL (nothing reserved, COUNT 0 or over
 * the buffers reserved, a size over N): nothing is published then. */
int rill_commit_many(rill_producer *p, const rill_msg *m, size_t count);

/* Which descriptors carry a publish stamp in tspub (0.4 and later).
 * RILL_STAMP_SAMPLED (the default): those a consumer's latency sample
 * needs (it asks at each heartbeat), and every one while a consumer older
 * than 0.4 is joined; the rest carry tspub 0, "not stamped", and cost no
 * clock read.  RILL_STAMP_EVERY: every descriptor, as before 0.4 (for an
 * application that reads tspub itself).  Returns 0 or -RILL_EINVAL. */
#define RILL_STAMP_SAMPLED 0u
#define RILL_STAMP_EVERY 1u
int rill_producer_set_stamp(rill_producer *p, uint32_t mode);

/* rill_reserve() and rill_send() that wait for credit up to TIMEOUT_NS
 * (spinning for the spin budget, then parked on a futex until a reliable
 * consumer advances, leaves, or is evicted as dead).  Return as the calls
 * they wrap, with -RILL_ETIMEDOUT instead of -RILL_EAGAIN. */
int rill_reserve_wait(rill_producer *p, size_t n, void **buf, uint64_t timeout_ns);
int rill_send_wait(rill_producer *p, const void *data, size_t n, uint64_t sig,
                   uint64_t timeout_ns);

/* Waits up to TIMEOUT_NS (RILL_FOREVER: no limit; 0: looks once) until
 * at least N consumers are joined to P's channel and alive (a slot whose
 * consumer died does not count), so that what P publishes next reaches
 * them all: a consumer sees every message published after its join.
 * It sleeps on the futex word a producer out of credit parks on (the wait
 * page's cr_wake), which every join bumps and wakes; a consumer using
 * librill 0.2 does not: it is seen within a second.  Returns the number of
 * live consumers (>= N), -RILL_ETIMEDOUT, or -RILL_EINVAL (N above the
 * channel's consumer slots).  Since 0.3. */
int rill_producer_wait_consumers(rill_producer *p, uint32_t n, uint64_t timeout_ns);

/* The sequence number the next descriptor will get (after a restart, the
 * one after the last descriptor committed before). */
uint64_t rill_producer_seq(const rill_producer *p);

/* Writes the producer's counters, position and heartbeat to shared memory
 * now (otherwise done every so many messages and when out of credit). */
int rill_producer_flush(rill_producer *p);

/* ---- consumer ----------------------------------------------------------- */

typedef struct rill_consumer rill_consumer;

enum {
  RILL_RELIABLE = 1, /* the producer never laps it: backpressure instead  */
  RILL_LOSSY = 2,    /* never slows the producer; may see overruns         */
};

/* Joins channel NAME as a consumer in MODE.  It starts at the producer's
 * last flushed position, so a consumer that joins before the first message
 * sees every message.  The consumer maps the channel read-only except for
 * its own cursor page.  Errors: EINVAL, ENOENT, EFULL, EMAGIC, EVERSION,
 * ECORRUPT, ENOMEM, EIO. */
int rill_consumer_join(rill_region *r, const char *name, int mode,
                       rill_consumer **out);

/* Rejoins consumer slot SLOT of channel NAME, in the mode it had, from the
 * position it last flushed (rill_consumer_flush() commits a position; a
 * consumer that died delivers again what it read after its last flush).
 * For a consumer restarted after a crash.  If the producer lapped the slot
 * meanwhile (it was lossy or evicted), the first poll reports the loss as
 * an overrun.  Errors: EINVAL (no such slot), ENOENT (slot never used),
 * EBUSY (its consumer is alive), and those of rill_consumer_join(). */
int rill_consumer_rejoin(rill_region *r, const char *name, uint32_t slot,
                         rill_consumer **out);

/* The slot this consumer occupies (for rill_consumer_rejoin()). */
uint32_t rill_consumer_slot(const rill_consumer *c);

/* Flushes the cursor and frees the slot.  Accepts NULL. */
int rill_consumer_leave(rill_consumer *c);

/* Busy-spin budget of the waiting calls before they park (default 20 us;
 * 0 parks at once).  Returns 0 or -RILL_EINVAL. */
int rill_consumer_set_spin(rill_consumer *c, uint64_t ns);

/* How long a consumer that has just caught up with a streaming producer
 * waits before it looks again (0.4 and later; default 2 us, 0: never).
 * After a streak of 64 or more messages, the first rill_poll(),
 * rill_poll_many() or rill_recv() that finds nothing waits up to NS,
 * looks once more and returns: looking at once would read the cache line
 * the producer is writing, and every such look costs the producer that
 * line (measured: a 64-byte stream read in bursts went from 0.73 to 0.98
 * times the batched ring's rate, docs/benchmark.md).  A message published
 * meanwhile is returned at the end of the wait; one that comes after a
 * gap, or in a sparse stream, is seen at once.  NS above 1 s is 1 s.
 * Returns 0 or -RILL_EINVAL. */
int rill_consumer_set_holdoff(rill_consumer *c, uint64_t ns);

/* What a poll sees.  data points into shared memory and stays valid until
 * the next call on this consumer (for a lossy consumer, only as long as
 * rill_check() says so). */
typedef struct rill_view {
  const void *data;
  uint64_t seq;
  uint64_t sig;
  uint32_t sz;
  uint16_t ctl;
  uint16_t reserved0;
  uint32_t tsorig;
  uint32_t tspub; /* 0: not stamped (see rill_producer_set_stamp()) */
  uint64_t lost; /* with -RILL_EOVERRUN: sequence numbers skipped */
  uint64_t reserved[2]; /* not written by this version: unspecified */
} rill_view; /* 64 bytes */

/* Looks at the next descriptor.  Returns 0 with *v filled and the consumer
 * moved past it; -RILL_EAGAIN if nothing is published yet; -RILL_EOVERRUN
 * with v->lost set if the consumer was lapped (it resynchronises to the
 * sequence number found in the slot, the newest message the producer wrote
 * there, and the next poll returns that message).  Fragments are returned one
 * by one.  -RILL_ECORRUPT if the descriptor points outside the data ring,
 * exceeds the mtu or holds a sequence number behind ours (a broken
 * producer): it is skipped, its payload never read.
 * Never reads outside the channel, whatever the descriptor says. */
int rill_poll(rill_consumer *c, rill_view *v);

/* After reading v->data: 0 if the payload was not overwritten meanwhile,
 * -RILL_EOVERRUN if it may have been (discard what was read).  Reliable
 * consumers need not call it. */
int rill_check(rill_consumer *c, const rill_view *v);

/* Takes up to MAX descriptors that are ready, in order, into V[0..]
 * (0.4 and later): a burst of rill_poll()s that writes the cursor at most
 * once, at the start of the call.  Every view stays valid until the next
 * call on this consumer (a lossy consumer's only as long as rill_check()
 * says so, each checked on its own).  Returns the number of views filled
 * (1..MAX); otherwise what rill_poll() returns for the first descriptor
 * (-RILL_EAGAIN, -RILL_EOVERRUN with v[0].lost, -RILL_ECORRUPT).  A burst
 * ends before a descriptor that is not ready, lapped or corrupt: the next
 * call reports it.  -RILL_EINVAL for NULL or MAX 0. */
int rill_poll_many(rill_consumer *c, rill_view *v, size_t max);

typedef struct rill_meta {
  uint64_t seq;   /* sequence number of the first fragment    */
  uint64_t sig;
  uint64_t sz;    /* bytes in the whole message               */
  uint64_t lost;  /* sequence numbers skipped before this one */
  uint16_t ctl;   /* ctl of the last fragment                 */
  uint16_t reserved0;
  uint32_t tsorig;
  uint32_t tspub;
  uint32_t reserved[5]; /* not written by this version: unspecified */
} rill_meta; /* 64 bytes */

/* Copies the next whole message (fragments reassembled) into BUF.  Returns
 * the message size (>= 0); -RILL_EAGAIN if no whole message is there yet
 * (fragments read so far are kept); -RILL_EMSGSIZE with meta->sz set if CAP is
 * too small (the message is kept: call again with a larger buffer).
 * Overruns are not returned: the lossy consumer skips to the next whole
 * message and adds the skipped count to meta->lost; so are corrupt
 * descriptors.  Each call looks at no more than two laps of the ring, so it
 * returns even if a broken producer fills the ring with garbage. */
int64_t rill_recv(rill_consumer *c, void *buf, size_t cap, rill_meta *meta);

/* rill_recv() without the copy where it can: a reliable consumer's whole
 * message in one fragment is left in shared memory and *DATA points at it
 * (valid until the next call on this consumer, like rill_poll()'s view);
 * otherwise the message is copied into BUF as by rill_recv() and *DATA is
 * BUF.  Returns as rill_recv(). */
int64_t rill_recv_view(rill_consumer *c, void *buf, size_t cap, rill_meta *meta,
                       const void **data);

/* Polls until a descriptor arrives or TIMEOUT_NS pass (busy spin with a
 * pause instruction).  Returns as rill_poll(), or -RILL_ETIMEDOUT. */
int rill_poll_spin(rill_consumer *c, rill_view *v, uint64_t timeout_ns);

/* rill_poll() and rill_recv() that wait up to TIMEOUT_NS: they spin for
 * the spin budget, then park on a futex in shared memory (the producer
 * makes the wake-up syscall only when a consumer has parked, so a busy
 * channel costs no syscall per message).  Besides what the wrapped call
 * returns: -RILL_ETIMEDOUT; -RILL_ECLOSED when the producer left and
 * everything was read; -RILL_EDEAD when the producer died and everything it
 * published was read (noticed within 50 ms; a producer that rejoins carries
 * on).  Timeout 0 polls once. */
int rill_poll_wait(rill_consumer *c, rill_view *v, uint64_t timeout_ns);
int64_t rill_recv_wait(rill_consumer *c, void *buf, size_t cap, rill_meta *meta,
                       uint64_t timeout_ns);

/* A file descriptor for poll/epoll/select (or a runtime's poller) that
 * becomes readable when this consumer should look again.  It is a FIFO
 * next to the region (DIR/.rill-fifo@REGION@CHANNEL@SLOT), owned by the
 * consumer handle: do not close it.  Use it as:
 *   rill_consumer_arm(c) == 0  ->  wait until the fd is readable
 *   then rill_poll()/rill_recv() until -RILL_EAGAIN, and arm again.
 * The FIFO is made with the region file's mode by the consumer; a path
 * that is already there is used only if it is a FIFO owned by this
 * process's effective uid (not a symbolic link, not another user's FIFO
 * planted to steal the wake-ups): otherwise -RILL_EACCES.
 * Returns the fd (>= 0) or an error (EACCES, EIO, ...). */
#ifndef _WIN32
int rill_consumer_fd(rill_consumer *c);
#else
/* Windows, in place of rill_consumer_fd(): stores in *HANDLE an event (a
 * HANDLE) for WaitForSingleObject/WaitForMultipleObjects (or a runtime's
 * waiter) that is signalled when this consumer should look again, with the
 * same contract: rill_consumer_arm(c) == 0, wait for the handle, then
 * rill_poll()/rill_recv() until -RILL_EAGAIN, and arm again.  The event is
 * owned by the consumer handle: do not close it.  Returns 0 or an error. */
int rill_consumer_handle(rill_consumer *c, void **handle);
#endif

/* Drains the fd and asks the producer to signal it at its next publish.
 * Returns 0 when armed (wait for the fd), 1 if something can be read now
 * (do not wait; on Windows also, after a sleep of at most 1 ms, or one
 * timer tick, 15.6 ms by default, while the producer has not published
 * since the first consumer of its channel waited: until then it cannot
 * promise the signal, docs/PROTOCOL.md §3.7a), -RILL_ECLOSED or -RILL_EDEAD (nothing left to read and the
 * producer left or died), -RILL_EINVAL if rill_consumer_fd() was not
 * called.  The producer's death does not make the fd readable: an event
 * loop notices it when it arms again, so arm at least every so often (the
 * example uses a 100 ms epoll timeout). */
int rill_consumer_arm(rill_consumer *c);

/* Waits until one of the N consumers in CS (1 <= N <= RILL_WAIT_ANY_MAX,
 * each used by this thread only) has something to read, for a thread that
 * serves several channels.  It spins for the first consumer's spin budget,
 * then parks on all the channels at once (futex_waitv on Linux 5.16 and
 * later; short naps before).  Returns the index of a consumer whose next
 * poll has something to say (a message, an overrun, a kept message), or
 * -RILL_ETIMEDOUT, or -RILL_EINVAL.  It does not report producers that left
 * or died: rill_consumer_producer() tells.  Timeout 0 looks once. */
#define RILL_WAIT_ANY_MAX 128
int rill_wait_any(rill_consumer *const *cs, uint32_t n, uint64_t timeout_ns);

/* Moves a lossy consumer to the last N messages still in the ring: to the
 * newest descriptor published, then back over N starts of messages (SOM),
 * no further than descriptors that were overwritten or the channel's
 * first.  Its next polls return those messages, then the new ones, as
 * `tail` shows the end of a file (N = 0: only what comes next).  Returns
 * how many messages it went back over (<= N), or -RILL_EINVAL (reliable
 * consumers cannot go back: the producer may have reused that room). */
int64_t rill_consumer_seek_last(rill_consumer *c, uint64_t n);

/* Writes the consumer's cursor, counters and heartbeat to shared memory
 * now.  This is also how a reliable consumer commits its position for
 * rill_consumer_rejoin(). */
int rill_consumer_flush(rill_consumer *c);

/* Commits by hand (0.4 and later), for a consumer that passes what it
 * reads on (to a network, to a file) and must not lose it if it dies
 * before that is done.  After rill_consumer_set_commit(c, 1), the position
 * the consumer writes to its cursor (what a reliable consumer's producer
 * may reuse, and where rill_consumer_rejoin() resumes) stops where the
 * consumer had read, and moves only when rill_consumer_commit(c, SEQ)
 * moves it to SEQ: every sequence number before SEQ is done with.  SEQ is
 * a position rill_consumer_seq() gave, no further than the consumer has
 * read and not behind the last commit; commit writes the cursor at once
 * (and wakes a producer waiting for credit).  A reliable producer gets no
 * credit past the committed position plus the channel's depth: commit
 * before waiting for more.  rill_consumer_set_commit(c, 0) goes back to
 * committing at every flush.  Returns 0, -RILL_EINVAL (NULL, MANUAL not
 * 0 or 1, commit when not by hand or SEQ out of range), -RILL_ETRUNC. */
int rill_consumer_set_commit(rill_consumer *c, int manual);
int rill_consumer_commit(rill_consumer *c, uint64_t seq);

/* The next sequence number this consumer will read: after a message is
 * received, the position just past it (for rill_consumer_commit()). */
uint64_t rill_consumer_seq(const rill_consumer *c);

/* Whether the channel's producer is alive: RILL_PEER_* below. */
int rill_consumer_producer(rill_consumer *c);

/* ---- metrics and liveness ----------------------------------------------- */

/* Liveness of an endpoint, from the lock it holds while it lives. */
enum {
  RILL_PEER_NONE = 0,    /* nobody in that place (never joined, or left)   */
  RILL_PEER_ALIVE = 1,   /* its process holds the endpoint's lock          */
  RILL_PEER_DEAD = 2,    /* joined, never left, and its lock is gone       */
  RILL_PEER_UNKNOWN = 3, /* the lock could not be queried                  */
};

typedef struct rill_channel_stats {
  uint32_t depth, mtu, max_consumers;
  uint32_t nconsumers;   /* consumer slots in use                        */
  uint64_t max_msg;
  /* layout (docs/PROTOCOL.md section 2): the channel's place in the
   * region, and its rings' offsets from the channel's start */
  uint64_t off, size, meta_off, data_off, data_chunks;
  uint64_t seq0;         /* first sequence number                         */
  uint64_t created_ns;   /* CLOCK_REALTIME at creation                    */
  uint64_t seq;          /* producer's next sequence number (as flushed)  */
  uint64_t msgs;         /* descriptors published                         */
  uint64_t bytes;
  uint64_t backpressure; /* times the producer found no credit            */
  uint32_t producer_joined; /* 1 if a producer was joined at last flush   */
  uint32_t producer_liveness; /* RILL_PEER_*                              */
  uint32_t producer_pid;
  uint32_t producer_gen;    /* producer joins so far                      */
  uint64_t producer_heartbeat_ns; /* CLOCK_MONOTONIC of its last flush     */
  uint64_t evictions;    /* dead reliable consumers evicted               */
  uint64_t wakes;        /* times the producer woke parked consumers      */
  uint64_t reserved[13];
} rill_channel_stats; /* 256 bytes */

/* Reads the layout of channel NAME and its producer's counters from shared
 * memory without disturbing the endpoints (counters are as of each
 * endpoint's last flush).  Its consumers are read one slot at a time with
 * rill_consumer_stats_get().  Everything is read as a private copy (pread),
 * never through the mapping: a file shrunk meanwhile is an error, not a
 * SIGBUS.  Returns 0 with *ST filled, or an error: EINVAL (a NULL
 * argument, a bad name), ENOENT (no such channel), EMAGIC, EVERSION,
 * ECORRUPT (its header is not a valid channel's), ETRUNC (the file was
 * shrunk). */
int rill_channel_stats_get(rill_region *r, const char *name,
                           rill_channel_stats *st);

typedef struct rill_consumer_stats {
  uint32_t slot;
  uint32_t mode;     /* RILL_RELIABLE, RILL_LOSSY; 0 = slot free          */
  uint64_t seq;      /* next sequence number it will read (as flushed)    */
  uint64_t lag;      /* producer seq - consumer seq (0 if ahead)          */
  uint64_t msgs;     /* descriptors consumed                              */
  uint64_t bytes;
  uint64_t overrun_poll; /* overruns seen by poll                         */
  uint64_t overrun_read; /* rill_check() failures                         */
  uint64_t lost;         /* sequence numbers skipped                      */
  uint32_t liveness;     /* RILL_PEER_*                                   */
  uint32_t evicted;      /* 1: the producer no longer waits for it        */
  uint32_t parked;       /* 1: parked in a wait (a futex sleep)           */
  uint32_t pid;          /* informative (from its own PID namespace)      */
  uint64_t heartbeat_ns; /* CLOCK_MONOTONIC of its last housekeeping      */
  uint64_t reserved[5];
} rill_consumer_stats; /* 128 bytes */

/* Reads consumer slot SLOT (0 <= SLOT < rill_channel_stats.max_consumers)
 * of channel NAME, as rill_channel_stats_get() reads the producer: without
 * disturbing it, its counters as of its last flush, its lag against the
 * producer's flushed position.  A free slot gives 0 with *CS zero but for
 * cs->slot (mode 0).  To see every consumer, call it for each slot; each
 * call is a reading of its own, so consumers may join or leave between
 * calls (and disagree with an earlier nconsumers).  Errors: as
 * rill_channel_stats_get(), and EINVAL for a NULL CS or a slot past the
 * channel's last. */
int rill_consumer_stats_get(rill_region *r, const char *name, uint32_t slot,
                            rill_consumer_stats *cs);

/* Publish-to-consume latency, sampled by each consumer: at each heartbeat
 * flush (every depth/8 to depth/4 polls, on rill_consumer_flush() and
 * while it waits) the consumer asks the producer for a stamp, and at the
 * first stamped message (tspub != 0) it consumes after that, it adds
 * (CLOCK_MONOTONIC now - the descriptor's tspub) to a histogram in its
 * cursor page.  Buckets are a quarter of an octave wide: bucket I holds
 * samples in [rill_latency_bucket_ns(I), rill_latency_bucket_ns(I + 1)).
 * Samples are taken modulo 2^32 ns like the stamps, so they are good up to
 * 2.1 s. */
#define RILL_LATENCY_BUCKETS 128

typedef struct rill_latency {
  uint64_t count;   /* samples (the sum of the buckets) */
  uint64_t sum_ns;  /* sum of the samples               */
  uint64_t buckets[RILL_LATENCY_BUCKETS];
} rill_latency; /* 1040 bytes, fixed: the buckets are the cursor page's */

/* Reads consumer slot SLOT's samples since it joined (a rejoin keeps them)
 * without disturbing it.  The difference of two readings is the samples
 * taken between them.  Errors: as rill_channel_stats_get(), EINVAL (no
 * such slot). */
int rill_latency_get(rill_region *r, const char *name, uint32_t slot, rill_latency *h);

/* Lower bound of bucket I in ns (I >= 124: 2^32, the end of the last). */
uint64_t rill_latency_bucket_ns(uint32_t i);

/* The Q quantile (0 <= Q <= 1) of the samples in H, in ns, interpolated
 * within its bucket (within 19% of the truth); 0 if H is empty. */
uint64_t rill_latency_quantile(const rill_latency *h, double q);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif
#endif
