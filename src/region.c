/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* Regions: named shared-memory files with a header and a table of objects. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RILL_DEFAULT_REGION_SIZE (64ull << 20)
#define RILL_DEFAULT_CLEAN_AGE_NS (60ull * 1000000000ull)

/* The rule is the core's (core/core.h), which checks the names it stores. */
int rill__name_ok(const char *name) { return rill_core__name_ok(name); }

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

/* Path of region NAME in DIR, if every path rill makes for the region fits
 * in RILL_PATH_MAX: the longest is a consumer's FIFO, for a channel name
 * of RILL_NAME_MAX bytes and slot 255 (strlen(DIR) + 95 bytes).  Checked
 * when the region is created or opened, so that no later join fails for
 * a path too long.  Returns 0 or -RILL_EINVAL. */
static int region_path(char *out, size_t cap, const char *dir, const char *name) {
  char fifo[RILL_PATH_MAX], chan[RILL_NAME_MAX + 1];
  memset(chan, 'c', RILL_NAME_MAX);
  chan[RILL_NAME_MAX] = 0;
  int rc = rill__fifo_path(fifo, sizeof fifo, dir, name, chan, 255);
  return rc ? rc : make_path(out, cap, dir, name);
}

struct fifo_rm {
  int dfd;
  const char *region;
  size_t len;
  uint32_t owner;
};

static int fifo_rm_one(const char *name, void *arg) {
  const struct fifo_rm *f = arg;
  size_t pl = sizeof FIFO_PREFIX - 1;
  if (strncmp(name, FIFO_PREFIX, pl) || strncmp(name + pl, f->region, f->len) ||
      name[pl + f->len] != '@')
    return 0;
  /* Only a FIFO, and only one owned by the region's owner or by us: a file
   * someone else put under such a name is not ours to remove.  Nobody
   * else can swap another file in under this name between the look and
   * the unlink in a sticky directory (/dev/shm, /tmp): only the FIFO's
   * owner may rename or remove it there. */
  rill__stat st;
  if (rill__stat_at(f->dfd, name, &st) == 0 && st.kind == RILL__KIND_FIFO &&
      (st.uid == f->owner || st.uid == rill__euid()))
    (void)rill__unlink_at(f->dfd, name);
  return 0;
}

/* Removes the consumers' FIFOs of region NAME, a file of OWNER, in the
 * directory DFD. */
static void fifos_unlink(int dfd, const char *name, uint32_t owner) {
  struct fifo_rm f = {dfd, name, strlen(name), owner};
  (void)rill__dir_each_at(dfd, fifo_rm_one, &f);
}

static int region_new(const char *name, const char *dir, int fd, uint64_t size,
                      int readonly, rill_region **out) {
  rill_region *r = calloc(1, sizeof *r);
  if (!r) return -RILL_ENOMEM;
  /* Shared lock for the handle's lifetime: the region has a live user.  It
   * waits out a cleaner's exclusive lock (for a bounded time: -RILL_EBUSY
   * if someone holds it longer); a region cleaned meanwhile is gone
   * (unlinked), which the caller checks. */
  int rc = rill__lock_shared(fd, 0);
  if (rc) { free(r); return rc; }
  void *base = NULL;
  if (!readonly && (rc = rill__map(fd, 0, size, 1, &base))) { free(r); return rc; }
  r->fd = fd;
  r->readonly = readonly;
  r->size = size;
  r->base = base;
  snprintf(r->name, sizeof r->name, "%s", name);
  snprintf(r->dir, sizeof r->dir, "%s", dir);
  *out = r;
  return 0;
}

int rill__region_read(rill_region *r, uint64_t off, void *buf, size_t n) {
  if (off > r->size || n > r->size - off) return -RILL_ECORRUPT;
  return rill__file_read(r->fd, off, buf, n);
}

/* What a copy made by pread gives: the kernel copies the bytes in some
 * order, in word-sized (or larger) moves from aligned places on the
 * machines we know, but promises neither: a field written while it is
 * copied may come out torn, and fields are not ordered with each other.
 * So: copy twice with an acquire fence between and keep the copy when
 * both agree.  The kernel's loads are this thread's loads, and the fence
 * orders the first copy's before the second's: a copy that agrees with
 * one taken before it is what memory held at one moment, and fields it
 * shows stored with release (an endpoint's state) carry what was stored
 * before them (pairs with the release stores that endpoints make: the
 * cursor's state at join, consumer.c; the producer's seq, producer.c).
 * A page that keeps changing (a consumer flushing without pause) gives up
 * after a few tries with the last copy: counters are informative. */
int rill__region_read_stable(rill_region *r, uint64_t off, void *buf, size_t n) {
  uint8_t again[RILL_PAGE];
  if (n > sizeof again) return -RILL_EINVAL;
  int rc = rill__region_read(r, off, buf, n);
  for (int i = 0; !rc && i < 8; i++) {
    atomic_thread_fence(memory_order_acquire);
    if ((rc = rill__region_read(r, off, again, n))) break;
    if (!memcmp(buf, again, n)) break;
    memcpy(buf, again, n);
  }
  return rc;
}

int rill_region_create(const char *name, const rill_region_opts *opts,
                       rill_region **out) {
  if (!out || !rill__name_ok(name)) return -RILL_EINVAL;
  rill_region_opts o = opts ? *opts : (rill_region_opts){0};
  if ((o.flags & ~RILL_REGION_HUGE) || !rill__zeroed(o.reserved, sizeof o.reserved))
    return -RILL_EINVAL;
  uint64_t size = o.size ? o.size : RILL_DEFAULT_REGION_SIZE;
  if (size < 2 * RILL_PAGE || size > (1ull << 62)) return -RILL_EINVAL;
  uint32_t mode = o.mode ? o.mode : 0600;
  if (mode & ~07777u) return -RILL_EINVAL;
  const char *dir = rill__dir(o.dir);

  char path[RILL_PATH_MAX], tmp[RILL_PATH_MAX];
  int rc = region_path(path, sizeof path, dir, name);
  if (rc) return rc;
  /* The directory's file system decides the pages: on hugetlbfs huge
   * ones, whose multiple the file's length must be.  RILL_REGION_HUGE
   * asks for them; elsewhere a directory rill cannot look at is left for
   * the creation below to report. */
  uint64_t page = RILL_PAGE;
  int huge = rill__dir_page(dir, &page);
  if (huge < 0 && (o.flags & RILL_REGION_HUGE)) return huge;
  if (huge < 0 || page < RILL_PAGE) page = RILL_PAGE;
  if ((o.flags & RILL_REGION_HUGE) && huge != 1) return -RILL_ENOHUGE;
  size = rill__align_up(size, page);
  /* Built under a name no region can have (leading '.'), then linked into
   * place: nobody ever opens a half-made region. */
  char tname[96];
  snprintf(tname, sizeof tname, ".%s.%u.%016llx.tmp", name, rill__pid(),
           (unsigned long long)rill__random());
  if ((rc = make_path(tmp, sizeof tmp, dir, tname))) return rc;

  int fd;
  if ((rc = rill__file_create(tmp, size, mode, &fd))) return rc;
  rill_region *r;
  if ((rc = region_new(name, dir, fd, size, 0, &r))) {
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
  rill__file_tag(fd, h->created_ns, h->creator_pid);
  /* Release: pairs with the acquire load of magic by a reader of the
   * mapping (the Go binding's open).  rill_region_open() copies the header
   * with pread after finding the file by the name it gets below (link):
   * the syscalls order it. */
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

/* The header and the object table: one page, copied whole (pread). */
typedef union {
  rill_region_hdr h;
  struct {
    uint8_t hdr[RILL_TABLE_OFF];
    rill_obj_entry t[RILL_REGION_MAX_OBJECTS];
  } p;
} hdr_page;

/* Checks the fields of header H (a private copy; its magic checked) of a
 * file of FILE_SIZE bytes: 0, EVERSION, ETRUNC or ECORRUPT. */
static int hdr_check(const rill_region_hdr *h, uint64_t file_size) {
  if (h->version != RILL_LAYOUT_VERSION) return -RILL_EVERSION;
  if (h->size > file_size) return -RILL_ETRUNC;
  if (h->hdr_size != RILL_PAGE || h->obj_max != RILL_REGION_MAX_OBJECTS ||
      h->size < 2 * RILL_PAGE || h->size % RILL_PAGE)
    return -RILL_ECORRUPT;
  uint32_t cnt = atomic_load_explicit(&h->obj_cnt, memory_order_relaxed);
  if (cnt > h->obj_max || h->alloc_off < RILL_PAGE || h->alloc_off > h->size ||
      h->alloc_off % RILL_PAGE)
    return -RILL_ECORRUPT;
  return 0;
}

/* Validates the header and table of region R, whose file had FILE_SIZE
 * bytes at open; reads a private copy (rill__region_read), never the
 * mapping. */
static int region_validate(rill_region *r, uint64_t file_size) {
  uint64_t magic;
  int rc = rill__file_read(r->fd, 0, &magic, sizeof magic);
  if (rc) return rc == -RILL_ETRUNC ? -RILL_EMAGIC : rc; /* not 8 bytes now */
  /* The magic is written before the file is linked into place (create):
   * a region found by its name is whole.  A plain copy suffices. */
  if (magic != RILL_REGION_MAGIC) return -RILL_EMAGIC;
  if (file_size < RILL_PAGE) return -RILL_ETRUNC;
  hdr_page u;
  _Static_assert(sizeof u == RILL_PAGE, "header and table copy");
  const rill_region_hdr *h = &u.h;
  if ((rc = rill__region_read(r, 0, &u.h, sizeof u.h))) return rc;
  if ((rc = hdr_check(h, file_size))) return rc;
  uint32_t cnt = atomic_load_explicit(&h->obj_cnt, memory_order_relaxed);
  /* The table again, after obj_cnt: an acquire fence orders the copy of
   * obj_cnt above before this one (pairs with the release increment in
   * rill_channel_create()), so the CNT entries are whole. */
  atomic_thread_fence(memory_order_acquire);
  const rill_obj_entry *t = u.p.t;
  if (cnt && (rc = rill__region_read(r, RILL_TABLE_OFF, u.p.t, (size_t)cnt * sizeof *t)))
    return rc;
  for (uint32_t i = 0; i < cnt; i++)
    if (!entry_ok(&t[i], h->alloc_off)) return -RILL_ECORRUPT;
  rill__file_tag(r->fd, h->created_ns, h->creator_pid);
  return 0;
}

int rill_region_open(const char *name, const rill_region_opts *opts,
                     rill_region **out) {
  if (!out || !rill__name_ok(name)) return -RILL_EINVAL;
  if (opts && ((opts->flags & ~(RILL_REGION_READONLY | RILL_REGION_HUGE)) ||
               !rill__zeroed(opts->reserved, sizeof opts->reserved)))
    return -RILL_EINVAL;
  int readonly = opts && (opts->flags & RILL_REGION_READONLY);
  const char *dir = rill__dir(opts ? opts->dir : NULL);
  char path[RILL_PATH_MAX];
  int rc = region_path(path, sizeof path, dir, name);
  if (rc) return rc;
  int fd;
  uint64_t fsize;
  if ((rc = rill__file_open(path, !readonly, &fd, &fsize))) return rc;
  if (fsize == 0) { rill__file_close(fd); return -RILL_EEMPTY; }
  if (fsize < sizeof(uint64_t)) { rill__file_close(fd); return -RILL_EMAGIC; }
  rill_region *r;
  if ((rc = region_new(name, dir, fd, fsize, readonly, &r))) { rill__file_close(fd); return rc; }
  if (rill__file_linked(fd) == 0) { /* removed by a cleaner while we came */
    rill_region_close(r);
    return -RILL_ENOENT;
  }
  if ((rc = region_validate(r, fsize))) {
    rill_region_close(r);
    return rc;
  }
  *out = r;
  return 0;
}

int rill_region_open_wait(const char *name, const rill_region_opts *opts,
                          uint64_t timeout_ns, rill_region **out) {
  if (!out || !rill__name_ok(name)) return -RILL_EINVAL;
  if (opts && ((opts->flags & ~(RILL_REGION_READONLY | RILL_REGION_HUGE)) ||
               !rill__zeroed(opts->reserved, sizeof opts->reserved)))
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

int rill_sigbus_guard(void) { return rill__sigbus_guard(); }

int rill_region_close(rill_region *r) {
  if (!r) return 0;
  if (r->base) rill__unmap(r->base, r->size);
  rill__file_close(r->fd);
  free(r);
  return 0;
}

int rill_region_unlink(const char *name, const char *dir) {
  if (!rill__name_ok(name)) return -RILL_EINVAL;
  int dfd, rc = rill__dir_open(rill__dir(dir), &dfd);
  if (rc) return rc;
  rill__stat st;
  if ((rc = rill__stat_at(dfd, name, &st)) == 0) {
    if (st.kind != RILL__KIND_REG) rc = -RILL_EMAGIC; /* a symlink, a FIFO... */
    else if ((rc = rill__unlink_at(dfd, name)) == 0) fifos_unlink(dfd, name, st.uid);
  }
  rill__dir_close(dfd);
  return rc;
}

/* Keeps the open file F if it starts with a region's magic (nothing else
 * is validated): 0, or an error (EMAGIC: not a region) with F closed.
 * With HDR, copies the header there (its fields as the file has them).
 * A copy made with pread, not a mapping: the file may be any file, shrunk
 * at any moment by whoever can write it.  The magic is in place before a
 * region is linked under its name (rill_region_create()). */
static int region_file_check(int f, uint64_t size, rill_region_hdr *hdr) {
  rill_region_hdr h;
  int rc = size < RILL_PAGE ? -RILL_EMAGIC : rill__file_read(f, 0, &h, sizeof h);
  if (rc == 0 && atomic_load_explicit(&h.magic, memory_order_relaxed) != RILL_REGION_MAGIC)
    rc = -RILL_EMAGIC;
  if (rc) {
    rill__file_close(f);
    return rc == -RILL_ETRUNC ? -RILL_EMAGIC : rc;
  }
  if (hdr) {
    hdr->created_ns = h.created_ns;
    hdr->creator_pid = h.creator_pid;
  }
  return 0;
}

/* Opens DIR/NAME (read-write if WRITABLE, else read-only) if it is a rill
 * region (by its magic; nothing else is validated).  Returns 0 with *fd
 * open, or an error (EMAGIC: not a region). */
static int region_file_open(const char *dir, const char *name, int writable, int *fd) {
  char path[RILL_PATH_MAX];
  int rc = make_path(path, sizeof path, dir, name);
  if (rc) return rc;
  int f;
  uint64_t size;
  if ((rc = rill__file_open(path, writable, &f, &size)) || (rc = region_file_check(f, size, NULL)))
    return rc;
  *fd = f;
  return 0;
}

/* region_file_open() of entry NAME of the directory DFD (not through a
 * symlink), copying the header's creation time and creator into HDR. */
static int region_file_open_at(int dfd, const char *name, int *fd, rill_region_hdr *hdr) {
  int f, rc;
  uint64_t size;
  if ((rc = rill__file_open_at(dfd, name, &f, &size)) || (rc = region_file_check(f, size, hdr)))
    return rc;
  *fd = f;
  return 0;
}

int rill_region_in_use(const char *name, const char *dir) {
  if (!rill__name_ok(name)) return -RILL_EINVAL;
  /* Read-only: asking needs no right to write the file.  Any lock held by
   * another open file description is a user's (a cleaner's is held for an
   * instant). */
  int fd, rc = region_file_open(rill__dir(dir), name, 0, &fd);
  if (rc) return rc;
  rc = rill__lock_any_held(fd);
  rill__file_close(fd);
  return rc;
}

struct clean_ctx {
  int dfd; /* the directory, opened once: every name is looked up in it */
  int dry_run, found;
  uint64_t min_age_ns, now_ns; /* min_age_ns 0: any age */
  rill_clean_fn fn;
  void *arg;
};

/* 1 if entry NAME of DFD is still the file ST describes (the one we opened
 * and locked), else 0: unlinking NAME then removes what we checked. */
static int still_same(int dfd, const char *name, const rill__stat *st) {
  rill__stat now;
  return rill__stat_at(dfd, name, &now) == 0 && now.dev == st->dev && now.ino == st->ino;
}

/* 1 if a file last changed at CHANGED_NS, made at CREATED_NS by its own
 * account (0: none), is past the grace period.  The younger of the two
 * counts: the header is the file owner's to write, and the file's change
 * time only says when it was last touched. */
static int old_enough(const struct clean_ctx *k, uint64_t changed_ns, uint64_t created_ns) {
  if (!k->min_age_ns) return 1;
  uint64_t t = changed_ns > created_ns ? changed_ns : created_ns;
  return k->now_ns > t && k->now_ns - t >= k->min_age_ns;
}

/* Removes entry NAME of the cleaner's directory, the file FD (stat ST)
 * that we hold the exclusive lock of, with its FIFOs if FIFOS; reports
 * it; releases and closes FD. */
static void remove_locked(struct clean_ctx *k, const char *name, int fd, const rill__stat *st,
                          int fifos) {
  int removed = 0, err = 0, same = still_same(k->dfd, name, st);
  if (same) k->found++;
  if (same && !k->dry_run) {
    /* Under our exclusive lock nobody can be using it: a process that
     * opens it now waits for the lock, then finds it unlinked.  NAME is
     * still what we locked: only its owner could have swapped another
     * file in since in a sticky directory. */
    if (!(err = rill__unlink_at(k->dfd, name))) {
      if (fifos) fifos_unlink(k->dfd, name, st->uid);
      removed = 1;
    }
  }
  rill__lock_release_all(fd);
  rill__file_close(fd);
  if (same && k->fn) k->fn(name, removed, err, k->arg);
}

/* 1 if an endpoint ever joined a channel of the region file F of SIZE
 * bytes (its producer page's gen, or a cursor's, is not 0); 0 if none did,
 * or if the file does not say (not a well-formed region now).  Copies
 * made with pread, every offset checked against the object's bounds: the
 * file is anyone's to write who may write it. */
static int joined_ever(int f, uint64_t size) {
  hdr_page u;
  if (rill__file_read(f, 0, &u, sizeof u) || hdr_check(&u.h, size)) return 0;
  uint32_t cnt = atomic_load_explicit(&u.h.obj_cnt, memory_order_relaxed);
  for (uint32_t i = 0; i < cnt; i++) {
    const rill_obj_entry *e = &u.p.t[i];
    rill_chan_hdr ch;
    if (!entry_ok(e, u.h.alloc_off) || e->size < sizeof ch ||
        rill__file_read(f, e->off, &ch, sizeof ch) ||
        atomic_load_explicit(&ch.magic, memory_order_relaxed) != RILL_CHANNEL_MAGIC ||
        ch.max_consumers > 256 || ch.cursor_stride < sizeof(rill_cursor))
      continue;
    uint32_t gen = 0;
    if (ch.prod_off <= e->size - sizeof(rill_prod_page) &&
        !rill__file_read(f, e->off + ch.prod_off + offsetof(rill_prod_page, gen), &gen, sizeof gen) &&
        gen)
      return 1;
    for (uint32_t k = 0; k < ch.max_consumers; k++) {
      uint64_t at = ch.cursor_off + (uint64_t)k * ch.cursor_stride;
      if (ch.cursor_off > e->size || at > e->size - sizeof(rill_cursor)) break;
      if (!rill__file_read(f, e->off + at + offsetof(rill_cursor, gen), &gen, sizeof gen) && gen)
        return 1;
    }
  }
  return 0;
}

static void clean_region(struct clean_ctx *k, const char *name) {
  int fd;
  rill_region_hdr h = {0};
  if (region_file_open_at(k->dfd, name, &fd, &h)) return; /* not a region, or not ours */
  rill__stat st;
  /* Kept: a region younger than the grace period, or whose creator lives
   * while no endpoint ever joined it (made and not joined yet: by rill
   * create, or by an application that is starting), or in use.  The
   * creator's pid is the file owner's to write, so it is only ever a
   * reason to keep a region; and it is a pid in the creator's PID
   * namespace, which may be another one than ours (a container's) where
   * the same number is a live process: once the region was joined, its
   * locks alone say whether it is used (PROTOCOL.md §3.9). */
  if (rill__file_stat(fd, &st) || !old_enough(k, st.changed_ns, h.created_ns) ||
      (rill__pid_alive(h.creator_pid) != 0 && !joined_ever(fd, st.size)) ||
      rill__lock_all_try(fd)) {
    rill__file_close(fd);
    return;
  }
  remove_locked(k, name, fd, &st, 1);
}

/* The creator's pid if NAME is a temporary file of rill_region_create(),
 * ".REGION.PID.RAND.tmp" (RAND 16 hex digits), else 0. */
static uint32_t tmp_creator(const char *name) {
  size_t n = strlen(name);
  if (n < 2 + 2 + 17 + 4 || name[0] != '.' || strcmp(name + n - 4, ".tmp")) return 0;
  const char *rnd = name + n - 4 - 16;
  for (int i = 0; i < 16; i++)
    if (!((rnd[i] >= '0' && rnd[i] <= '9') || (rnd[i] >= 'a' && rnd[i] <= 'f'))) return 0;
  const char *end = rnd - 1, *p = end; /* end: the '.' after PID */
  if (*end != '.') return 0;
  while (p > name + 1 && p[-1] >= '0' && p[-1] <= '9') p--;
  if (p == end || end - p > 10 || p[-1] != '.') return 0;
  uint64_t pid = 0;
  for (const char *q = p; q < end; q++) pid = pid * 10 + (uint64_t)(*q - '0');
  size_t rn = (size_t)(p - 1 - (name + 1));
  char region[RILL_NAME_MAX + 1];
  if (rn == 0 || rn > RILL_NAME_MAX || pid == 0 || pid > UINT32_MAX) return 0;
  memcpy(region, name + 1, rn);
  region[rn] = 0;
  return rill__name_ok(region) ? (uint32_t)pid : 0;
}

/* 1 if the open file F of SIZE bytes looks like a region being made: not
 * sized yet, or sized in pages with a header page that is blank so far or
 * starts with the magic. */
static int tmp_looks_made(int f, uint64_t size) {
  if (size == 0) return 1;
  if (size < 2 * RILL_PAGE || size % RILL_PAGE) return 0;
  void *m;
  if (rill__map(f, 0, RILL_PAGE, 0, &m)) return 0;
  /* Acquire: pairs with the release store of magic in rill_region_create(). */
  uint64_t magic = atomic_load_explicit(&((const rill_region_hdr *)m)->magic,
                                        memory_order_acquire);
  rill__unmap(m, RILL_PAGE);
  return magic == 0 || magic == RILL_REGION_MAGIC;
}

/* A temporary file left by a creator that died between making it and
 * linking it into place (fully reserved: as big as the region). */
static void clean_tmp(struct clean_ctx *k, const char *name, uint32_t pid) {
  int fd;
  uint64_t size;
  if (rill__file_open_at(k->dfd, name, &fd, &size)) return;
  rill__stat st;
  /* Its creator is dead (from the time it opened the file, the lock of
   * region_new() says so too, once it gets that far) and it is older than
   * the grace period: a creator in another PID namespace is alive
   * whatever its pid says here, but does not take that long. */
  if (rill__file_stat(fd, &st) || !tmp_looks_made(fd, size) || !old_enough(k, st.changed_ns, 0) ||
      rill__pid_alive(pid) != 0 || rill__lock_all_try(fd)) {
    rill__file_close(fd);
    return;
  }
  remove_locked(k, name, fd, &st, 0);
}

static int clean_one(const char *name, void *arg) {
  struct clean_ctx *k = arg;
  uint32_t pid;
  if (rill__name_ok(name)) clean_region(k, name);
  else if ((pid = tmp_creator(name)) != 0) clean_tmp(k, name, pid);
  return 0; /* FIFOs and others: left alone */
}

int rill_clean(const rill_clean_opts *opts, rill_clean_fn fn, void *arg) {
  rill_clean_opts o = opts ? *opts : (rill_clean_opts){0};
  if ((o.flags & ~(RILL_CLEAN_DRY_RUN | RILL_CLEAN_ANY_AGE)) || o.reserved0 ||
      !rill__zeroed(o.reserved, sizeof o.reserved) ||
      ((o.flags & RILL_CLEAN_ANY_AGE) && o.min_age_ns))
    return -RILL_EINVAL;
  struct clean_ctx k = {-1, !!(o.flags & RILL_CLEAN_DRY_RUN), 0,
                        o.min_age_ns ? o.min_age_ns : RILL_DEFAULT_CLEAN_AGE_NS,
                        rill__real_ns(), fn, arg};
  if (o.flags & RILL_CLEAN_ANY_AGE) k.min_age_ns = 0;
  int rc = rill__dir_open(rill__dir(o.dir), &k.dfd);
  if (rc) return rc;
  rc = rill__dir_each_at(k.dfd, clean_one, &k);
  rill__dir_close(k.dfd);
  return rc ? rc : k.found;
}

int rill_region_clean(const char *dir, int dry_run, rill_clean_fn fn, void *arg) {
  rill_clean_opts o = {.dir = dir, .flags = dry_run ? RILL_CLEAN_DRY_RUN : 0};
  return rill_clean(&o, fn, arg);
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
  if (!rill__name_ok(name) || region_file_open(k->dir, name, 0, &f)) return 0;
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
  rill_region_hdr h;
  uint32_t owner;
  uint64_t page;
  int rc = rill__region_read_stable(r, 0, &h, sizeof h);
  if (rc || (rc = rill__file_owner(r->fd, &owner))) return rc;
  if ((rc = rill__file_page(r->fd, &page)) < 0) return rc;
  /* Valid at open; whoever can write the file may have changed it since
   * (or be writing it now): check it again, as open did. */
  if (atomic_load_explicit(&h.magic, memory_order_relaxed) != RILL_REGION_MAGIC)
    return -RILL_EMAGIC;
  if ((rc = hdr_check(&h, r->size))) return rc;
  uint32_t cnt = atomic_load_explicit(&h.obj_cnt, memory_order_relaxed);
  memset(info, 0, sizeof *info);
  info->size = h.size;
  info->used = h.alloc_off;
  info->created_ns = h.created_ns;
  info->creator_pid = h.creator_pid;
  info->creator_uid = h.creator_uid;
  info->nobjects = cnt > RILL_REGION_MAX_OBJECTS ? RILL_REGION_MAX_OBJECTS : cnt;
  info->owner_uid = owner;
  info->page_size = page;
  return 0;
}
