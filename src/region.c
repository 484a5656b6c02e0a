/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* Regions: named shared-memory files with a header and a table of objects. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RILL_DEFAULT_REGION_SIZE (64ull << 20)

int rill__name_ok(const char *name) {
  if (!name || !name[0] || name[0] == '.') return 0;
  size_t n = 0;
  for (const char *p = name; *p; p++, n++) {
    char ch = *p;
    int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
             (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
    if (!ok || n >= RILL_NAME_MAX) return 0;
  }
  return 1;
}

int rill_name_valid(const char *name) { return rill__name_ok(name); }

static int make_path(char *out, size_t cap, const char *dir, const char *name) {
  int n = snprintf(out, cap, "%s/%s", dir, name);
  return (n < 0 || (size_t)n >= cap) ? -RILL_EINVAL : 0;
}

#define FIFO_PREFIX ".rill-fifo@"

int rill__fifo_path(char *out, size_t cap, const char *dir, const char *region,
                    const char *chan, uint32_t slot) {
  int n = snprintf(out, cap, "%s/" FIFO_PREFIX "%s@%s@%u", dir, region, chan, slot);
  return (n < 0 || (size_t)n >= cap) ? -RILL_EINVAL : 0;
}

struct fifo_rm {
  const char *dir, *region;
  size_t len;
};

static int fifo_rm_one(const char *name, void *arg) {
  const struct fifo_rm *f = arg;
  size_t pl = sizeof FIFO_PREFIX - 1;
  if (strncmp(name, FIFO_PREFIX, pl) || strncmp(name + pl, f->region, f->len) ||
      name[pl + f->len] != '@')
    return 0;
  char path[RILL_PATH_MAX];
  if (make_path(path, sizeof path, f->dir, name) == 0) rill__file_unlink(path);
  return 0;
}

/* Removes the consumers' FIFOs of region NAME in DIR. */
static void fifos_unlink(const char *dir, const char *name) {
  struct fifo_rm f = {dir, name, strlen(name)};
  (void)rill__dir_each(dir, fifo_rm_one, &f);
}

static int region_new(const char *name, const char *dir, int fd, uint64_t size,
                      rill_region **out) {
  rill_region *r = calloc(1, sizeof *r);
  if (!r) return -RILL_ENOMEM;
  /* Shared lock for the handle's lifetime: the region has a live user.  It
   * waits out a cleaner's exclusive lock; a region cleaned meanwhile is
   * gone (unlinked), which the caller checks. */
  int rc = rill__lock_shared(fd, 0);
  if (rc) { free(r); return rc; }
  void *base;
  if ((rc = rill__map(fd, 0, size, 1, &base))) { free(r); return rc; }
  r->fd = fd;
  r->size = size;
  r->base = base;
  snprintf(r->name, sizeof r->name, "%s", name);
  snprintf(r->dir, sizeof r->dir, "%s", dir);
  *out = r;
  return 0;
}

int rill_region_create(const char *name, const rill_region_opts *opts,
                       rill_region **out) {
  if (!out || !rill__name_ok(name)) return -RILL_EINVAL;
  rill_region_opts o = opts ? *opts : (rill_region_opts){0};
  if (o.flags || !rill__zeroed(o.reserved, sizeof o.reserved)) return -RILL_EINVAL;
  uint64_t size = o.size ? o.size : RILL_DEFAULT_REGION_SIZE;
  if (size < 2 * RILL_PAGE || size > (1ull << 62)) return -RILL_EINVAL;
  size = rill__align_up(size, RILL_PAGE);
  uint32_t mode = o.mode ? o.mode : 0600;
  if (mode & ~07777u) return -RILL_EINVAL;
  const char *dir = rill__dir(o.dir);

  char path[RILL_PATH_MAX], tmp[RILL_PATH_MAX];
  int rc = make_path(path, sizeof path, dir, name);
  if (rc) return rc;
  /* Built under a name no region can have (leading '.'), then linked into
   * place: nobody ever opens a half-made region. */
  char tname[96];
  snprintf(tname, sizeof tname, ".%s.%u.%016llx.tmp", name, rill__pid(),
           (unsigned long long)rill__random());
  if ((rc = make_path(tmp, sizeof tmp, dir, tname))) return rc;

  int fd;
  if ((rc = rill__file_create(tmp, size, mode, &fd))) return rc;
  rill_region *r;
  if ((rc = region_new(name, dir, fd, size, &r))) {
    rill__file_close(fd);
    rill__file_unlink(tmp);
    return rc;
  }
  rill_region_hdr *h = (rill_region_hdr *)r->base;
  h->version = RILL_LAYOUT_VERSION;
  h->hdr_size = RILL_PAGE;
  h->size = size;
  h->created_ns = rill__real_ns();
  h->creator_pid = rill__pid();
  h->creator_uid = rill__uid();
  h->obj_max = RILL_REGION_MAX_OBJECTS;
  atomic_store_explicit(&h->obj_cnt, 0, memory_order_relaxed);
  h->alloc_off = RILL_PAGE;
  /* Release: pairs with the acquire load of magic in rill_region_open(). */
  atomic_store_explicit(&h->magic, RILL_REGION_MAGIC, memory_order_release);
  if ((rc = rill__file_publish(tmp, path))) {
    rill_region_close(r);
    return rc;
  }
  *out = r;
  return 0;
}

static int entry_ok(const rill_obj_entry *e, uint64_t alloc_off) {
  if (memchr(e->name, 0, sizeof e->name) == NULL) return 0;
  if (!rill__name_ok(e->name) || e->type != RILL_OBJ_CHANNEL) return 0;
  if (e->off < RILL_PAGE || e->off % RILL_PAGE || e->size % RILL_PAGE) return 0;
  if (e->size == 0 || e->off > alloc_off || e->size > alloc_off - e->off) return 0;
  return 1;
}

/* Validates the header and table of a mapped region of FILE_SIZE bytes. */
static int region_validate(const uint8_t *base, uint64_t file_size) {
  const rill_region_hdr *h = (const rill_region_hdr *)base;
  /* Acquire: pairs with the release store of magic in rill_region_create(). */
  if (atomic_load_explicit(&h->magic, memory_order_acquire) != RILL_REGION_MAGIC)
    return -RILL_EMAGIC;
  if (file_size < RILL_PAGE) return -RILL_ETRUNC;
  if (h->version != RILL_LAYOUT_VERSION) return -RILL_EVERSION;
  if (h->size > file_size) return -RILL_ETRUNC;
  if (h->hdr_size != RILL_PAGE || h->obj_max != RILL_REGION_MAX_OBJECTS ||
      h->size < 2 * RILL_PAGE || h->size % RILL_PAGE)
    return -RILL_ECORRUPT;
  uint32_t cnt = atomic_load_explicit(&h->obj_cnt, memory_order_acquire);
  if (cnt > h->obj_max || h->alloc_off < RILL_PAGE || h->alloc_off > h->size ||
      h->alloc_off % RILL_PAGE)
    return -RILL_ECORRUPT;
  const rill_obj_entry *t = (const rill_obj_entry *)(base + RILL_TABLE_OFF);
  for (uint32_t i = 0; i < cnt; i++)
    if (!entry_ok(&t[i], h->alloc_off)) return -RILL_ECORRUPT;
  return 0;
}

int rill_region_open(const char *name, const rill_region_opts *opts,
                     rill_region **out) {
  if (!out || !rill__name_ok(name)) return -RILL_EINVAL;
  if (opts && (opts->flags || !rill__zeroed(opts->reserved, sizeof opts->reserved)))
    return -RILL_EINVAL;
  const char *dir = rill__dir(opts ? opts->dir : NULL);
  char path[RILL_PATH_MAX];
  int rc = make_path(path, sizeof path, dir, name);
  if (rc) return rc;
  int fd;
  uint64_t fsize;
  if ((rc = rill__file_open(path, &fd, &fsize))) return rc;
  if (fsize == 0) { rill__file_close(fd); return -RILL_EEMPTY; }
  if (fsize < sizeof(uint64_t)) { rill__file_close(fd); return -RILL_EMAGIC; }
  rill_region *r;
  if ((rc = region_new(name, dir, fd, fsize, &r))) { rill__file_close(fd); return rc; }
  if (rill__file_linked(fd) == 0) { /* removed by a cleaner while we came */
    rill_region_close(r);
    return -RILL_ENOENT;
  }
  if ((rc = region_validate(r->base, fsize))) {
    rill_region_close(r);
    return rc;
  }
  *out = r;
  return 0;
}

int rill_region_open_wait(const char *name, const rill_region_opts *opts,
                          uint64_t timeout_ns, rill_region **out) {
  if (!out || !rill__name_ok(name)) return -RILL_EINVAL;
  if (opts && (opts->flags || !rill__zeroed(opts->reserved, sizeof opts->reserved)))
    return -RILL_EINVAL;
  if (timeout_ns == 0) return rill_region_open(name, opts, out);
  uint64_t deadline = rill__add_sat(rill__mono_ns(), timeout_ns);
  /* The watch first, then the first look: a region linked into place
   * after the watch was set wakes the wait below, one linked before is
   * found by the look. */
  int w, rc = rill__dir_watch(rill__dir(opts ? opts->dir : NULL), &w);
  if (rc) return rc;
  for (;;) {
    /* ENOENT: not there yet, or removed by a cleaner as we came.  Every
     * other answer is final: a region appears fully formed. */
    rc = rill_region_open(name, opts, out);
    if (rc != -RILL_ENOENT) break;
    uint64_t now = rill__mono_ns();
    if (now >= deadline) { rc = -RILL_ETIMEDOUT; break; }
    rc = rill__dir_watch_wait(w, name, deadline == UINT64_MAX ? UINT64_MAX : deadline - now);
    if (rc && rc != -RILL_ETIMEDOUT) break;
  }
  rill__dir_watch_close(w);
  return rc;
}

int rill_region_close(rill_region *r) {
  if (!r) return 0;
  rill__unmap(r->base, r->size);
  rill__file_close(r->fd);
  free(r);
  return 0;
}

int rill_region_unlink(const char *name, const char *dir) {
  if (!rill__name_ok(name)) return -RILL_EINVAL;
  char path[RILL_PATH_MAX];
  const char *d = rill__dir(dir);
  int rc = make_path(path, sizeof path, d, name);
  if (rc || (rc = rill__file_unlink(path))) return rc;
  fifos_unlink(d, name);
  return 0;
}

/* Opens DIR/NAME if it is a rill region (by its magic; nothing else is
 * validated).  Returns 0 with *fd open, or an error (EMAGIC: not a region). */
static int region_file_open(const char *dir, const char *name, int *fd) {
  char path[RILL_PATH_MAX];
  int rc = make_path(path, sizeof path, dir, name);
  if (rc) return rc;
  int f;
  uint64_t size;
  if ((rc = rill__file_open(path, &f, &size))) return rc;
  if (size < RILL_PAGE) { rill__file_close(f); return -RILL_EMAGIC; }
  void *m;
  if ((rc = rill__map(f, 0, RILL_PAGE, 0, &m))) { rill__file_close(f); return rc; }
  const rill_region_hdr *h = m;
  /* Acquire: pairs with the release store of magic in rill_region_create(). */
  int magic = atomic_load_explicit(&h->magic, memory_order_acquire) == RILL_REGION_MAGIC;
  rill__unmap(m, RILL_PAGE);
  if (!magic) { rill__file_close(f); return -RILL_EMAGIC; }
  *fd = f;
  return 0;
}

/* Opens DIR/NAME if it is a rill region and tries the exclusive whole-file
 * lock.  Returns 0 with *fd locked (no user alive), -RILL_EBUSY (in use),
 * or an error (EMAGIC: not a region). */
static int region_lock_unused(const char *dir, const char *name, int *fd) {
  int f, rc = region_file_open(dir, name, &f);
  if (rc) return rc;
  if ((rc = rill__lock_all_try(f))) { rill__file_close(f); return rc; }
  *fd = f;
  return 0;
}

int rill_region_in_use(const char *name, const char *dir) {
  if (!rill__name_ok(name)) return -RILL_EINVAL;
  int fd, rc = region_lock_unused(rill__dir(dir), name, &fd);
  if (rc == -RILL_EBUSY) return 1;
  if (rc) return rc;
  rill__lock_release_all(fd);
  rill__file_close(fd);
  return 0;
}

struct clean_ctx {
  const char *dir;
  int dry_run, found;
  rill_clean_fn fn;
  void *arg;
};

static int clean_one(const char *name, void *arg) {
  struct clean_ctx *k = arg;
  if (!rill__name_ok(name)) return 0; /* temporary files, FIFOs, others */
  int fd;
  if (region_lock_unused(k->dir, name, &fd)) return 0; /* in use, or not ours */
  k->found++;
  int removed = 0, err = 0;
  if (!k->dry_run) {
    /* Under our exclusive lock nobody can be using it: a process that
     * opens it now waits for the lock, then finds it unlinked. */
    char path[RILL_PATH_MAX];
    err = make_path(path, sizeof path, k->dir, name);
    if (!err) err = rill__file_unlink(path);
    if (!err) {
      fifos_unlink(k->dir, name);
      removed = 1;
    }
  }
  rill__lock_release_all(fd);
  rill__file_close(fd);
  if (k->fn) k->fn(name, removed, err, k->arg);
  return 0;
}

int rill_region_clean(const char *dir, int dry_run, rill_clean_fn fn, void *arg) {
  struct clean_ctx k = {rill__dir(dir), dry_run, 0, fn, arg};
  int rc = rill__dir_each(k.dir, clean_one, &k);
  return rc ? rc : k.found;
}

struct list_ctx {
  const char *dir;
  int found;
  rill_list_fn fn;
  void *arg;
};

static int list_one(const char *name, void *arg) {
  struct list_ctx *k = arg;
  int f;
  /* temporary files and FIFOs (names with '.'), others, gone meanwhile,
   * or not ours to read */
  if (!rill__name_ok(name) || region_file_open(k->dir, name, &f)) return 0;
  rill__file_close(f);
  k->found++;
  return k->fn ? k->fn(name, k->arg) : 0;
}

int rill_region_list(const char *dir, rill_list_fn fn, void *arg) {
  struct list_ctx k = {rill__dir(dir), 0, fn, arg};
  int rc = rill__dir_each(k.dir, list_one, &k);
  return rc ? rc : k.found;
}

int rill_region_info_get(rill_region *r, rill_region_info *info) {
  if (!r || !info) return -RILL_EINVAL;
  const rill_region_hdr *h = (const rill_region_hdr *)r->base;
  uint32_t cnt = atomic_load_explicit(&h->obj_cnt, memory_order_acquire);
  memset(info, 0, sizeof *info);
  info->size = h->size;
  info->used = h->alloc_off;
  info->created_ns = h->created_ns;
  info->creator_pid = h->creator_pid;
  info->creator_uid = h->creator_uid;
  info->nobjects = cnt > RILL_REGION_MAX_OBJECTS ? RILL_REGION_MAX_OBJECTS : cnt;
  return 0;
}
