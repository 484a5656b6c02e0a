/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* Removing regions safely: rill_region_unlink() and the cleaner delete
 * only what they checked is theirs to delete.
 *
 * - the FIFOs removed with a region are FIFOs of the region's owner (or
 *   the caller's): a regular file, or another user's FIFO, that bears a
 *   FIFO's name survives;
 * - the cleaner works inside the directory it opened: a directory path
 *   swapped for a symlink while it runs redirects nothing, and a region
 *   name that is a symlink to a region elsewhere is not followed;
 * - it keeps a region younger than the grace period, or whose creator
 *   lives (made and not joined yet), whatever its header says; once an
 *   endpoint joined it, only its locks keep it;
 * - it removes the temporary files of creators that died before linking
 *   their region into place, and only those. */
#include "testutil.h"

/* ---- helpers --------------------------------------------------------------- */


/* tu_dir()/SUB, made empty. */
static const char *subdir(const char *sub) {
  static char p[4][512];
  static int i;
  char *out = p[i++ % 4];
  snprintf(out, sizeof p[0], "%s/%s", tu_dir(), sub);
  CHECKF(mkdir(out, 0700) == 0 || errno == EEXIST, "mkdir %s: %s", out, strerror(errno));
  return out;
}

static int exists_in(const char *dir, const char *name) {
  char p[1024];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  struct stat sb;
  return lstat(p, &sb) == 0;
}

static void touch(const char *dir, const char *name) {
  char p[1024];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  FILE *f = fopen(p, "w");
  CHECK(f && fputs("not a FIFO\n", f) >= 0 && fclose(f) == 0);
}

static void fifo(const char *dir, const char *name) {
  char p[1024];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  CHECKF(mkfifo(p, 0600) == 0, "mkfifo %s: %s", name, strerror(errno));
}

static void give(const char *dir, const char *name, uid_t uid) {
  char p[1024];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  CHECKF(lchown(p, uid, (gid_t)-1) == 0, "chown %s: %s", name, strerror(errno));
}

/* Region NAME in DIR, made by a child that has exited by the time this
 * returns: nobody uses it and its creator is dead. */
static const char *mk_dir, *mk_name;
static void maker_main(void *arg) {
  (void)arg;
  rill_region_opts o = {.size = 2 * 4096, .dir = mk_dir};
  rill_region *r;
  CHECK_OK(rill_region_create(mk_name, &o, &r));
  rill_region_close(r);
}

static void make_dead(const char *dir, const char *name) {
  mk_dir = dir, mk_name = name;
  tu_wait(tu_fork("maker", maker_main, NULL));
  CHECK(exists_in(dir, name));
}

/* Removes DIR's files and DIR (one level). */
static void rm_sub(const char *dir) { tu_rmdir(dir); }

/* Cleans DIR of every unused region at once. */
static int clean_now(const char *dir, rill_clean_fn fn, void *arg) {
  rill_clean_opts o = {.dir = dir, .flags = RILL_CLEAN_ANY_AGE};
  return rill_clean(&o, fn, arg);
}

static int clean_age(const char *dir, uint64_t min_age_ns) {
  rill_clean_opts o = {.dir = dir, .min_age_ns = min_age_ns};
  return rill_clean(&o, NULL, NULL);
}

/* ---- FIFOs: only FIFOs, only the owner's ------------------------------------ */

static void t_fifos(void) {
  const char *d = subdir("fifos");
  make_dead(d, "R");
  fifo(d, ".rill-fifo@R@c@0");          /* a consumer's: goes */
  touch(d, ".rill-fifo@R@x@1");         /* a regular file: stays */
  fifo(d, ".rill-fifo@Rx@c@0");         /* another region's: stays */
  int root = geteuid() == 0;
  if (root) {
    fifo(d, ".rill-fifo@R@y@2");        /* another user's FIFO: stays */
    give(d, ".rill-fifo@R@y@2", 4242);
    touch(d, ".rill-fifo@R@z@3");       /* another user's file: stays */
    give(d, ".rill-fifo@R@z@3", 4242);
  }
  CHECK_OK(rill_region_unlink("R", d));
  CHECK(!exists_in(d, "R"));
  CHECK(!exists_in(d, ".rill-fifo@R@c@0"));
  CHECK(exists_in(d, ".rill-fifo@R@x@1"));
  CHECK(exists_in(d, ".rill-fifo@Rx@c@0"));
  if (root) CHECK(exists_in(d, ".rill-fifo@R@y@2") && exists_in(d, ".rill-fifo@R@z@3"));

  /* The same through the cleaner. */
  make_dead(d, "R");
  fifo(d, ".rill-fifo@R@c@0");
  CHECK_EQ(clean_now(d, NULL, NULL), 1);
  CHECK(!exists_in(d, "R") && !exists_in(d, ".rill-fifo@R@c@0"));
  CHECK(exists_in(d, ".rill-fifo@R@x@1"));
  if (root) CHECK(exists_in(d, ".rill-fifo@R@y@2") && exists_in(d, ".rill-fifo@R@z@3"));

  /* A name that is not a regular file is not a region to unlink. */
  CHECK_RC(rill_region_unlink("nope", d), -RILL_ENOENT);
  char target[1024];
  snprintf(target, sizeof target, "%s/.rill-fifo@R@x@1", d);
  char link[1024];
  snprintf(link, sizeof link, "%s/L", d);
  CHECK(symlink(target, link) == 0);
  CHECK_RC(rill_region_unlink("L", d), -RILL_EMAGIC);
  CHECK(exists_in(d, "L") && exists_in(d, ".rill-fifo@R@x@1"));
  rm_sub(d);
}

/* ---- symlinks ------------------------------------------------------------- */

/* A region name that is a symlink to a region elsewhere: not followed. */
static void t_symlink_name(void) {
  const char *d = subdir("links"), *o = subdir("elsewhere");
  make_dead(o, "S");
  char target[1024], link[1024];
  snprintf(target, sizeof target, "%s/S", o);
  snprintf(link, sizeof link, "%s/S", d);
  CHECK(symlink(target, link) == 0);
  CHECK_EQ(clean_now(d, NULL, NULL), 0);
  CHECK(exists_in(o, "S") && exists_in(d, "S"));
  CHECK_EQ(rill_region_in_use("S", d) < 0, 1);
  rm_sub(d);
  rm_sub(o);
}

/* The directory's path is swapped for a symlink to another directory while
 * the cleaner runs (from its callback, after the first region it removes):
 * it goes on in the directory it opened, and the other directory's regions
 * of the same names survive. */
typedef struct swap {
  const char *dir, *moved, *other;
  int calls;
} swap;

static void swap_on_first(const char *name, int removed, int err, void *arg) {
  swap *s = arg;
  (void)name;
  CHECK_EQ(err, 0);
  CHECK(removed);
  if (s->calls++) return;
  CHECKF(rename(s->dir, s->moved) == 0, "rename: %s", strerror(errno));
  CHECKF(symlink(s->other, s->dir) == 0, "symlink: %s", strerror(errno));
}

static void t_dir_swap(void) {
  const char *d = subdir("swapped"), *o = subdir("victim");
  char moved[512];
  snprintf(moved, sizeof moved, "%s/swapped.old", tu_dir());
  const char *names[] = {"a", "b", "c"};
  for (int i = 0; i < 3; i++) {
    make_dead(d, names[i]);
    make_dead(o, names[i]);
  }
  swap s = {d, moved, o, 0};
  CHECK_EQ(clean_now(d, swap_on_first, &s), 3);
  CHECK_EQ(s.calls, 3);
  for (int i = 0; i < 3; i++) {
    CHECKF(exists_in(o, names[i]), "%s/%s was removed through the swapped path", o, names[i]);
    CHECK(!exists_in(moved, names[i]));
  }
  CHECK(unlink(d) == 0);
  rm_sub(moved);
  rm_sub(o);
}

/* ---- the grace period and the creator ------------------------------------- */

static void t_grace(void) {
  const char *d = subdir("grace");
  /* Made by a process that has exited, never joined: too young to go. */
  make_dead(d, "young");
  CHECK_EQ(rill_region_clean(d, 0, NULL, NULL), 0);
  CHECK_EQ(rill_clean(&(rill_clean_opts){.dir = d}, NULL, NULL), 0);
  CHECK_EQ(clean_age(d, 3600ull * 1000000000ull), 0);
  CHECK(exists_in(d, "young"));
  /* A header that says it was made in an hour: still young then. */
  char p[1024];
  snprintf(p, sizeof p, "%s/young", d);
  int fd = open(p, O_RDWR);
  CHECK(fd >= 0);
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  uint64_t future = ((uint64_t)now.tv_sec + 3600) * 1000000000ull;
  CHECK(pwrite(fd, &future, sizeof future, 24) == (ssize_t)sizeof future); /* created_ns */
  close(fd);
  CHECK_EQ(clean_age(d, 1000000), 0);
  CHECK(exists_in(d, "young"));
  /* Older than a grace period of 1 ns: goes. */
  make_dead(d, "older");
  CHECK_EQ(clean_age(d, 1), 1);
  CHECK(!exists_in(d, "older"));
  /* No grace period, but its creator (this process) lives: kept. */
  rill_region_opts ro = {.size = 2 * 4096, .dir = d};
  rill_region *r;
  CHECK_OK(rill_region_create("mine", &ro, &r));
  CHECK_OK(rill_region_close(r));
  CHECK_EQ(clean_now(d, NULL, NULL), 1); /* "young", the made-up header aside */
  CHECK(exists_in(d, "mine") && !exists_in(d, "young"));
  /* Options this version does not know. */
  CHECK_RC(rill_clean(&(rill_clean_opts){.dir = d, .flags = 4}, NULL, NULL), -RILL_EINVAL);
  CHECK_RC(rill_clean(&(rill_clean_opts){.dir = d, .reserved0 = 1}, NULL, NULL), -RILL_EINVAL);
  CHECK_RC(rill_clean(&(rill_clean_opts){.dir = d, .reserved[4] = 1}, NULL, NULL), -RILL_EINVAL);
  CHECK_RC(rill_clean(&(rill_clean_opts){.dir = d, .min_age_ns = 1, .flags = RILL_CLEAN_ANY_AGE},
                      NULL, NULL), -RILL_EINVAL);
  CHECK_RC(rill_clean(&(rill_clean_opts){.dir = "/nonexistent-rill-dir"}, NULL, NULL),
           -RILL_ENODIR);
  CHECK(exists_in(d, "mine"));
  /* Joined once, then left by everyone: its locks alone count now (the
   * creator's pid may be another PID namespace's), so it goes although
   * its creator lives. */
  ro.size = 1 << 20;
  CHECK_OK(rill_region_create("joined", &ro, &r));
  CHECK_OK(rill_channel_create(r, "ch", &(rill_channel_opts){.depth = 64, .mtu = 64}));
  rill_consumer *c;
  CHECK_OK(rill_consumer_join(r, "ch", RILL_LOSSY, &c));
  CHECK_OK(rill_consumer_leave(c));
  CHECK_OK(rill_region_close(r));
  CHECK_EQ(clean_now(d, NULL, NULL), 1);
  CHECK(exists_in(d, "mine") && !exists_in(d, "joined"));
  rm_sub(d);
}

/* ---- what dead creators leave ------------------------------------------------ */

/* A temporary file made the way rill_region_create() makes one, by a
 * process killed after reserving its pages (before it wrote a header):
 * ".NAME.PID.RAND.tmp", mode 0600, SIZE bytes reserved. */
static char tmp_made[128];
static const char *tmp_dir;
static uint64_t tmp_size;

static void tmp_make(const char *dir, const char *region, pid_t pid, uint64_t size, char *name) {
  snprintf(name, 96, ".%s.%u.%016llx.tmp", region, (unsigned)pid, 0x0123456789abcdefull);
  char p[1024];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  int fd = open(p, O_RDWR | O_CREAT | O_EXCL, 0600);
  CHECK(fd >= 0);
  CHECK(ftruncate(fd, (off_t)size) == 0);
  CHECK(size == 0 || posix_fallocate(fd, 0, (off_t)size) == 0);
  close(fd);
}

static void tmp_maker_main(void *arg) {
  (void)arg;
  tmp_make(tmp_dir, "R", getpid(), tmp_size, tmp_made);
  raise(SIGKILL); /* between fallocate and link */
}

static int seen_n;
static void on_seen(const char *name, int removed, int err, void *arg) {
  (void)arg;
  CHECK_EQ(err, 0);
  CHECK(removed && name[0] == '.' && strstr(name, ".tmp"));
  seen_n++;
}

static void t_tmp(void) {
  const char *d = subdir("tmp");
  /* Its creator is SIGKILLed; the name is known from the child's pid. */
  tmp_dir = d, tmp_size = 16 * 4096;
  pid_t kid = tu_fork("tmp maker", tmp_maker_main, NULL);
  CHECK(WIFSIGNALED(tu_wait_status(kid)));
  char dead[96], dead0[96], live[96], odd[96];
  snprintf(dead, sizeof dead, ".R.%u.%016llx.tmp", (unsigned)kid, 0x0123456789abcdefull);
  CHECK(exists_in(d, dead));
  /* Another one, killed before sizing: empty. */
  tmp_size = 0;
  kid = tu_fork("tmp maker", tmp_maker_main, NULL);
  CHECK(WIFSIGNALED(tu_wait_status(kid)));
  snprintf(dead0, sizeof dead0, ".R.%u.%016llx.tmp", (unsigned)kid, 0x0123456789abcdefull);
  CHECK(exists_in(d, dead0));
  /* Its creator lives (this process): kept. */
  tmp_make(d, "R.2", getpid(), 4 * 4096, live);
  /* A dead pid's name, but not a region in the making: kept. */
  tmp_make(d, "S", kid, 3 * 4096, odd);
  char p[1024];
  snprintf(p, sizeof p, "%s/%s", d, odd);
  int fd = open(p, O_RDWR);
  CHECK(fd >= 0 && pwrite(fd, "not rill", 8, 0) == 8);
  close(fd);
  touch(d, ".R.1.tmp"); /* not the shape of one */

  CHECK_EQ(rill_region_list(d, NULL, NULL), 0); /* nobody lists them */
  CHECK_EQ(clean_age(d, 0), 0); /* younger than the grace period */
  CHECK(exists_in(d, dead) && exists_in(d, dead0));
  CHECK_EQ(clean_now(d, on_seen, NULL), 2);
  CHECK_EQ(seen_n, 2);
  CHECK(!exists_in(d, dead) && !exists_in(d, dead0));
  CHECK(exists_in(d, live) && exists_in(d, odd) && exists_in(d, ".R.1.tmp"));
  rm_sub(d);
}

int main(void) {
  tu_start("test_clean", 120);
  t_fifos();
  t_symlink_name();
  t_dir_swap();
  t_grace();
  t_tmp();
  return tu_pass("unlink and clean remove only what they checked");
}
