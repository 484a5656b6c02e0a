/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* Huge pages (RILL_REGION_HUGE): a region backed by the huge pages of a
 * hugetlbfs directory, or a clear error when it is made.
 *   - anyone: the flag in a directory that is not on hugetlbfs fails with
 *     -RILL_ENOHUGE and leaves no file; other flags still fail (EINVAL);
 *     rill_region_open() takes the flag and ignores it; a tmpfs region's
 *     page_size is the system's;
 *   - as root (skipped otherwise, saying why), in a private mount
 *     namespace with hugetlbfs mounted over the test's directory:
 *       - a system with no huge pages (vm.nr_hugepages 0): creation fails
 *         with -RILL_ENOHUGE (rill_os_error() ENOSPC), with the flag or
 *         without, and no file is left;
 *       - with a pool: the size is rounded up to the huge page size, the
 *         pages are taken from the pool at creation (HugePages_Free drops
 *         by as many), page_size says so; a channel that crosses a huge
 *         page's boundary carries messages from a producer process to a
 *         consumer process that parks (a futex in a huge page) and has an
 *         fd (a FIFO in hugetlbfs), every payload checked, and both
 *         processes' mappings of the ring are huge (KernelPageSize in
 *         /proc/self/smaps); so are this process's endpoints on another
 *         channel;
 *       - every mapping is undone: once the endpoints left and the region
 *         is closed and removed, every page is back in the pool (a part
 *         of a huge mapping left behind would hold its pages);
 *       - a region the pool cannot hold fails, leaving no file, and the
 *         pages it took back in the pool;
 *       - rill_clean() removes a dead creator's half-made file there.
 * vm.nr_hugepages and vm.nr_overcommit_hugepages are set, and put back as
 * they were, by the watchdog too when the test fails or is killed
 * (tu_sysctl_set()); the mount goes with the namespace, when the test's
 * last process ends.  Runs of this test take turns (make test runs ctest
 * one test at a time, and CI's builds one after the other, but two
 * build directories' make test may run at once): each holds an flock on
 * /proc/sys/vm/nr_hugepages from before its watchdog starts until the
 * watchdog, which inherits it, has put the values back. */
#include "testutil.h"

#include <sys/file.h>
#include <sys/mount.h>
#include <sys/vfs.h>

#define NR "/proc/sys/vm/nr_hugepages"
#define NR_OVER "/proc/sys/vm/nr_overcommit_hugepages"
#define HUGETLBFS_MAGIC_ 0x958458f6
#define REGION "hp"
#define MTU 1024u
#define DEPTH 1024u
#define SALT 21

typedef struct shared {
  uint64_t n;      /* messages on channel b */
  uint64_t seq0;   /* its first sequence number */
  uint64_t hpage;  /* the huge page size */
  tu_gate ready;   /* the consumer joined */
} shared;

static shared *sh;

/* ---- what the kernel says --------------------------------------------------- */

/* HugePages_Free of /proc/meminfo. */
static uint64_t huge_free(void) {
  FILE *f = fopen("/proc/meminfo", "r");
  CHECKF(f != NULL, "/proc/meminfo: %s", strerror(errno));
  char line[256];
  unsigned long long v = 0;
  int found = 0;
  while (!found && fgets(line, sizeof line, f))
    found = sscanf(line, "HugePages_Free: %llu", &v) == 1;
  fclose(f);
  CHECKF(found, "no HugePages_Free in /proc/meminfo");
  return v;
}

/* KernelPageSize (bytes) of the mapping of this process that holds P, from
 * /proc/self/smaps. */
static uint64_t page_of(const void *p) {
  FILE *f = fopen("/proc/self/smaps", "r");
  CHECKF(f != NULL, "/proc/self/smaps: %s", strerror(errno));
  char line[512];
  int in = 0;
  unsigned long long kb = 0;
  uintptr_t a = (uintptr_t)p;
  while (fgets(line, sizeof line, f)) {
    unsigned long long lo, hi;
    if (sscanf(line, "%llx-%llx ", &lo, &hi) == 2) { /* a mapping's first line */
      in = a >= lo && a < hi;
      continue;
    }
    if (in && sscanf(line, "KernelPageSize: %llu kB", &kb) == 1) break;
  }
  fclose(f);
  CHECKF(kb != 0, "no mapping holds %p in /proc/self/smaps", p);
  return (uint64_t)kb << 10;
}

/* ---- the two processes of channel b ------------------------------------------- */

static void producer(void *arg) {
  sh = arg;
  rill_region *r = tu_region_open(REGION);
  rill_producer *p;
  CHECK_OK(rill_producer_join(r, "b", &p));
  CHECK_RC(rill_producer_wait_consumers(p, 1, 10000000000ull), 1);
  void *buf;
  CHECK_OK(rill_reserve(p, 64, &buf));
  CHECKF(page_of(buf) == sh->hpage, "the producer's ring is mapped in pages of %" PRIu64
         " bytes, not %" PRIu64, page_of(buf), sh->hpage);
  static uint8_t msg[MTU];
  for (uint64_t i = 0; i < sh->n; i++) {
    size_t n = (size_t)tu_msg_size(SALT, i, MTU);
    tu_fill(msg, n, tu_key(SALT, i), 0);
    int rc = rill_send_wait(p, msg, n, i, 10000000000ull); /* parks when out of credit */
    CHECKF(rc == 0, "send %" PRIu64 ": %s", i, rill_strerror(rc));
  }
  CHECK_OK(rill_producer_leave(p));
  rill_region_close(r);
}

static void consumer(void *arg) {
  sh = arg;
  rill_region *r = tu_region_open(REGION);
  rill_region_info ri;
  CHECK_OK(rill_region_info_get(r, &ri));
  CHECK_EQ(ri.page_size, sh->hpage);
  rill_consumer *c;
  CHECK_OK(rill_consumer_join(r, "b", RILL_RELIABLE, &c));
  CHECKF(rill_consumer_fd(c) >= 0, "rill_consumer_fd: its FIFO in hugetlbfs");
  CHECK_OK(rill_consumer_set_spin(c, 0)); /* parks whenever the ring is empty */
  tu_gate_post(&sh->ready);
  int checked = 0;
  for (uint64_t i = 0; i < sh->n; i++) {
    rill_view v;
    int rc = rill_poll_wait(c, &v, 10000000000ull);
    CHECKF(rc == 0, "poll %" PRIu64 ": %s", i, rill_strerror(rc));
    CHECK_EQ(v.seq, sh->seq0 + i);
    CHECK_EQ(v.sig, i);
    CHECK_EQ(v.sz, tu_msg_size(SALT, i, MTU));
    CHECK_EQ(v.ctl, RILL_CTL_MSG);
    CHECK_PAYLOAD(v.data, v.sz, tu_key(SALT, i), 0);
    if (v.sz && !checked++)
      CHECKF(page_of(v.data) == sh->hpage, "the consumer's ring is mapped in pages of %" PRIu64
             " bytes, not %" PRIu64, page_of(v.data), sh->hpage);
  }
  CHECK(checked);
  rill_view v;
  CHECK_RC(rill_poll_wait(c, &v, 5000000000ull), -RILL_ECLOSED); /* and nothing more */
  CHECK_OK(rill_consumer_leave(c));
  rill_region_close(r);
}

static const tu_role roles[] = {TU_ROLE(producer), TU_ROLE(consumer), {0}};

/* ---- anyone ---------------------------------------------------------------------- */

static void not_hugetlbfs(void) {
  rill_region_opts o = tu_opts(1 << 20);
  rill_region *r;
  o.flags = RILL_REGION_HUGE;
  CHECK_RC(rill_region_create("nohuge", &o, &r), -RILL_ENOHUGE);
  CHECK_EQ(tu_dir_entries(tu_dir()), 0);
  CHECK(strstr(rill_strerror(-RILL_ENOHUGE), "huge") != NULL);
  o.flags = RILL_REGION_READONLY;
  CHECK_RC(rill_region_create("nohuge", &o, &r), -RILL_EINVAL);
  o.flags = 0x4;
  CHECK_RC(rill_region_create("nohuge", &o, &r), -RILL_EINVAL);
  CHECK_EQ(tu_dir_entries(tu_dir()), 0);

  o.flags = 0;
  CHECK_OK(rill_region_create("plain", &o, &r));
  rill_region_info ri;
  CHECK_OK(rill_region_info_get(r, &ri));
  CHECK_EQ(ri.page_size, (uint64_t)sysconf(_SC_PAGESIZE));
  CHECK_EQ(ri.size, 1 << 20);
  rill_region_close(r);
  o.flags = RILL_REGION_HUGE; /* ignored by open, as size and mode */
  CHECK_OK(rill_region_open("plain", &o, &r));
  rill_region_close(r);
  o.flags = RILL_REGION_HUGE | RILL_REGION_READONLY;
  CHECK_OK(rill_region_open("plain", &o, &r));
  CHECK_OK(rill_region_info_get(r, &ri));
  CHECK_EQ(ri.page_size, (uint64_t)sysconf(_SC_PAGESIZE));
  rill_region_close(r);
  CHECK_OK(rill_region_unlink("plain", tu_dir()));
}

/* ---- as root --------------------------------------------------------------------- */

/* Makes the test's directory a hugetlbfs mount of its own: NULL, or why it
 * cannot. */
static const char *mount_hugetlbfs(char *why, size_t cap) {
  if (geteuid() != 0) return "not root";
  if (access(NR, F_OK) != 0) return "this kernel has no huge pages (" NR ")";
  if (unshare(CLONE_NEWNS) != 0) {
    snprintf(why, cap, "no private mount namespace (unshare: %s)", strerror(errno));
    return why;
  }
  /* Nothing mounted here reaches the rest of the system. */
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
    snprintf(why, cap, "mount --make-rprivate /: %s", strerror(errno));
    return why;
  }
  if (mount("rill-test", tu_dir(), "hugetlbfs", 0, "mode=0700") != 0) {
    snprintf(why, cap, "mount -t hugetlbfs: %s", strerror(errno));
    return why;
  }
  return NULL;
}

/* Sets vm.nr_hugepages to N: 0, or why it cannot (the pool may come out
 * smaller than asked: memory too fragmented). */
static const char *pool(uint64_t n, char *why, size_t cap) {
  char v[32], got[64];
  snprintf(v, sizeof v, "%" PRIu64, n);
  int e = tu_sysctl_set(NR, v);
  if (e) {
    snprintf(why, cap, "cannot write " NR ": %s", strerror(e));
    return why;
  }
  CHECK(tu_sysctl_get(NR, got, sizeof got) == 0);
  if (strtoull(got, NULL, 10) != n) {
    snprintf(why, cap, "asked for %" PRIu64 " huge pages, the kernel made %s", n, got);
    return why;
  }
  return NULL;
}

static void no_file_left(void) {
  int n = tu_dir_entries(tu_dir());
  CHECKF(n == 0, "%d files left in %s", n, tu_dir());
}

/* A region of huge pages carries messages between processes; returns the
 * messages sent. */
static uint64_t carry(uint64_t hp) {
  uint64_t free0 = huge_free();
  rill_region_opts o = tu_opts(2 * hp + hp / 2);
  o.flags = RILL_REGION_HUGE;
  rill_region *r;
  CHECK_OK(rill_region_create(REGION, &o, &r));
  CHECK_EQ(huge_free(), free0 - 3); /* taken now, never at first touch */
  rill_region_info ri;
  CHECK_OK(rill_region_info_get(r, &ri));
  CHECK_EQ(ri.size, 3 * hp);
  CHECK_EQ(ri.page_size, hp);

  rill_channel_opts co = {.depth = DEPTH, .mtu = MTU, .max_consumers = 2};
  CHECK_OK(rill_channel_create(r, "a", &co));
  CHECK_OK(rill_channel_create(r, "b", &co));
  rill_object_info oi;
  CHECK_OK(rill_region_object_get(r, 1, &oi));
  CHECKF(oi.off % hp && oi.off < hp && oi.off + oi.size > hp,
         "channel b (%" PRIu64 " bytes at %" PRIu64 ") does not cross a huge page", oi.size, oi.off);
  rill_channel_stats st;
  CHECK_OK(rill_channel_stats_get(r, "b", &st));
  sh->seq0 = st.seq;

  tu_gate_init(&sh->ready);
  tu_spawn("consumer", consumer, sh);
  tu_gate_wait(&sh->ready, 1);
  tu_spawn("producer", producer, sh);
  tu_wait_all();

  /* This process's endpoints, on channel a (inside the first huge page). */
  rill_producer *p;
  rill_consumer *c;
  CHECK_OK(rill_consumer_join(r, "a", RILL_RELIABLE, &c));
  CHECK_OK(rill_producer_join(r, "a", &p));
  for (uint64_t i = 0; i < 1000; i++) {
    void *buf;
    CHECK_OK(rill_reserve(p, 100, &buf));
    if (i == 0) CHECK_EQ(page_of(buf), hp);
    tu_fill(buf, 100, tu_key(SALT, i), 0);
    CHECK_OK(rill_commit(p, 100, i, RILL_CTL_MSG));
    rill_view v;
    CHECK_OK(rill_poll(c, &v));
    CHECK_EQ(v.sig, i);
    CHECK_PAYLOAD(v.data, v.sz, tu_key(SALT, i), 0);
    if (i == 0) CHECK_EQ(page_of(v.data), hp);
  }
  CHECK_OK(rill_producer_leave(p));
  CHECK_OK(rill_consumer_leave(c));
  CHECK_EQ(huge_free(), free0 - 3);

  /* Every mapping undone: the pages go back to the pool with the file. */
  rill_region_close(r);
  CHECK_OK(rill_region_unlink(REGION, tu_dir()));
  no_file_left();
  CHECK_EQ(huge_free(), free0);
  return sh->n;
}

/* rill_clean() on hugetlbfs: a file a creator that died left half-made
 * (its pages taken) goes, and its pages come back. */
static void clean_dead_creator(uint64_t hp) {
  fflush(NULL);
  pid_t k = fork();
  CHECK(k >= 0);
  if (k == 0) _exit(0);
  int st;
  CHECK(waitpid(k, &st, 0) == k); /* pid K is dead: its creator */
  char name[96], path[512];
  snprintf(name, sizeof name, "." REGION ".%d.0123456789abcdef.tmp", (int)k);
  tu_path(path, sizeof path, name);
  uint64_t free0 = huge_free();
  int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  CHECKF(fd >= 0, "%s: %s", name, strerror(errno));
  CHECK(ftruncate(fd, (off_t)hp) == 0);
  CHECK(posix_fallocate(fd, 0, (off_t)hp) == 0);
  close(fd);
  CHECK_EQ(huge_free(), free0 - 1);
  rill_clean_opts co = {.dir = tu_dir(), .flags = RILL_CLEAN_ANY_AGE};
  CHECK_RC(rill_clean(&co, NULL, NULL), 1);
  no_file_left();
  CHECK_EQ(huge_free(), free0); /* its mapping (a look at its header) undone */
}

static void as_root(void) {
  char why[256];
  const char *no = mount_hugetlbfs(why, sizeof why);
  if (no) tu_skip("the flag outside hugetlbfs passed; huge pages themselves not tested: %s", no);
  struct statfs fs;
  CHECK(statfs(tu_dir(), &fs) == 0);
  CHECK_EQ((unsigned long)fs.f_type, (unsigned long)HUGETLBFS_MAGIC_);
  uint64_t hp = (uint64_t)fs.f_bsize;
  if (hp != 2u << 20)
    tu_skip("the default huge page size is %" PRIu64 " KiB; this test counts in 2 MiB pages",
            hp >> 10);
  sh->hpage = hp;

  /* No huge pages: no surplus ones either. */
  int e = tu_sysctl_set(NR_OVER, "0");
  if (e) tu_skip("cannot write " NR_OVER ": %s", strerror(e));
  if ((no = pool(0, why, sizeof why))) tu_skip("%s", no);
  CHECK_EQ(huge_free(), 0);
  rill_region_opts o = tu_opts(4 << 20);
  rill_region *r;
  o.flags = RILL_REGION_HUGE;
  CHECK_RC(rill_region_create(REGION, &o, &r), -RILL_ENOHUGE);
  CHECK_EQ(rill_os_error(), ENOSPC);
  no_file_left();
  o.flags = 0; /* the directory decides: huge pages, or none */
  CHECK_RC(rill_region_create(REGION, &o, &r), -RILL_ENOHUGE);
  no_file_left();

  /* A pool. */
  if ((no = pool(8, why, sizeof why))) tu_skip("%s", no);
  CHECK_EQ(huge_free(), 8);
  uint64_t n = carry(hp);

  /* One page more than the pool has free. */
  o = tu_opts(9 * hp);
  o.flags = RILL_REGION_HUGE;
  CHECK_RC(rill_region_create(REGION, &o, &r), -RILL_ENOHUGE);
  CHECK_EQ(rill_os_error(), ENOSPC);
  no_file_left();
  CHECK_EQ(huge_free(), 8);
  o = tu_opts(8 * hp); /* exactly the pool */
  o.flags = RILL_REGION_HUGE;
  CHECK_OK(rill_region_create(REGION, &o, &r));
  CHECK_EQ(huge_free(), 0);
  rill_region_close(r);
  CHECK_OK(rill_region_unlink(REGION, tu_dir()));
  CHECK_EQ(huge_free(), 8);

  clean_dead_creator(hp);

  CHECK(umount2(tu_dir(), 0) == 0);
  tu_sysctl_restore();
  char v[64];
  CHECK(tu_sysctl_get(NR, v, sizeof v) == 0);
  printf("  vm.nr_hugepages back to %s\n", v);
  tu_pass("RILL_REGION_HUGE: ENOHUGE outside hugetlbfs and with no pool, every page taken at "
          "creation, %" PRIu64 " messages between processes through 2 MiB pages", n);
  exit(0);
}

int main(int argc, char **argv) {
  /* Take turns with other runs of this test (see above), before the
   * watchdog starts: it inherits the lock and holds it until it has put
   * the settings back.  Not in a child of tu_spawn(), which runs its role
   * in tu_start_roles(). */
  if (!(argc >= 2 && !strcmp(argv[1], "--tu-role"))) {
    int lock = open(NR, O_RDONLY | O_CLOEXEC);
    while (lock >= 0 && flock(lock, LOCK_EX) != 0 && errno == EINTR) {}
  }
  tu_start_roles("huge", 120, argc, argv, roles);
  sh = tu_shared(sizeof *sh);
  sh->n = tu_scaled(200000, 2000);
  not_hugetlbfs();
  as_root();
  return 1;
}
