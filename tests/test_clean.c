/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* Removing regions safely: rill_region_unlink() and the cleaner delete
 * only what they checked is theirs to delete.
 *
 * - the FIFOs removed with a region are FIFOs of the region's owner (or
 *   the caller's): a regular file, or another user's FIFO, that bears a
 *   FIFO's name survives;
 * - the cleaner works inside the directory it opened: a directory path
 *   swapped for a symlink while it runs redirects nothing, and a region
 *   name that is a symlink to a region elsewhere is not followed. */
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
  return rill_region_clean(dir, 0, fn, arg);
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

int main(void) {
  tu_start("test_clean", 120);
  t_fifos();
  t_symlink_name();
  t_dir_swap();
  return tu_pass("unlink and clean remove only what they checked");
}
