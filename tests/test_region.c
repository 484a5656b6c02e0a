/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* Regions: create/open/close/unlink, directories, modes, names, errors, the
 * validation of damaged region files, and rill_strerror(). */
#include "layout.h"
#include "testutil.h"

#include <limits.h>
#if TU_POSIX
#include <grp.h>
#include <sys/statvfs.h>
#endif

static int checks_run;

/* ---- small file helpers ---------------------------------------------------- */

#define file_size tu_file_size
#define exists tu_exists
#define write_at tu_write_at
#define read_at tu_read_at
#define dir_entries tu_dir_entries

static void put32(const char *path, uint64_t off, uint32_t v) { write_at(path, off, &v, 4); }
static void put64(const char *path, uint64_t off, uint64_t v) { write_at(path, off, &v, 8); }

#if TU_POSIX
static unsigned file_mode(const char *path) {
  struct stat st;
  CHECKF(stat(path, &st) == 0, "stat %s: %s", path, strerror(errno));
  return (unsigned)(st.st_mode & 07777);
}
#endif

/* A directory that does not exist. */
static const char *missing_dir(void) {
  static char p[256];
  tu_path(p, sizeof p, "no-such-dir-at-all");
  return p;
}

static int open_rc(const char *name) {
  rill_region_opts o = tu_opts(0);
  rill_region *r = NULL;
  int rc = rill_region_open(name, &o, &r);
  if (rc == 0) {
    CHECK(r != NULL);
    rill_region_close(r);
  }
  return rc;
}

/* ---- names -------------------------------------------------------------------- */

static void test_names(void) {
  rill_region_opts o = tu_opts(1 << 16);
  rill_region *r = NULL;
  char long40[41], long39[40];
  memset(long40, 'a', 40);
  long40[40] = 0;
  memset(long39, 'b', 39);
  long39[39] = 0;
  const char *bad[] = {"", long40, "a/b", "/abs", ".hidden", ".", "..", "a b",
                       "tab\there", "uni\xc3\xa9", "star*", "new\nline",
                       /* path separators and drives, on either system */
                       "a\\b", "\\abs", "..\\up", "C:x", "c:", "a:b"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    CHECKF(rill_region_create(bad[i], &o, &r) == -RILL_EINVAL, "create '%s'", bad[i]);
    CHECKF(rill_region_open(bad[i], &o, &r) == -RILL_EINVAL, "open '%s'", bad[i]);
    CHECKF(rill_region_unlink(bad[i], tu_dir()) == -RILL_EINVAL, "unlink '%s'", bad[i]);
    checks_run += 3;
  }
  CHECK_RC(rill_region_create(NULL, &o, &r), -RILL_EINVAL);
  CHECK_RC(rill_region_open(NULL, &o, &r), -RILL_EINVAL);
  CHECK_RC(rill_region_unlink(NULL, tu_dir()), -RILL_EINVAL);
  CHECK_RC(rill_region_create("x", &o, NULL), -RILL_EINVAL);
  /* Nothing was created by the failed calls. */
  CHECK_EQ(dir_entries(tu_dir()), 0);

  /* The longest name and every allowed character work. */
  const char *good[] = {long39, "A-Za_z.09", "x", "a..b", "-dash"};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    CHECKF(rill_region_create(good[i], &o, &r) == 0, "create '%s'", good[i]);
    rill_region_close(r);
    CHECK_OK(rill_region_open(good[i], &o, &r));
    rill_region_close(r);
    CHECK_OK(rill_region_unlink(good[i], tu_dir()));
    checks_run += 3;
  }
  /* flags are reserved */
  rill_region_opts of = o;
  of.flags = 1;
  CHECK_RC(rill_region_create("flags", &of, &r), -RILL_EINVAL);
  CHECK_EQ(dir_entries(tu_dir()), 0);

  /* A name Windows keeps for a device is a plain file in the directory
   * on either system, never the device (creating "NUL" in any directory
   * of Windows opens the null device unless the path says otherwise), or
   * refused. */
  const char *devices[] = {"NUL", "con", "aux.x", "COM1", "lpt1"};
  for (size_t i = 0; i < sizeof devices / sizeof devices[0]; i++) {
    int rc = rill_region_create(devices[i], &o, &r);
    if (rc == -RILL_EINVAL) continue;
    CHECKF(rc == 0, "create '%s': %d (%s, OS error %d)", devices[i], rc, rill_strerror(rc),
           rill_os_error());
    CHECKF(dir_entries(tu_dir()) == 1, "'%s' made no file in the directory", devices[i]);
    rill_region_info info;
    CHECK_OK(rill_region_info_get(r, &info));
    CHECK_EQ(info.size, 1 << 16);
    rill_region_close(r);
    CHECK_OK(rill_region_open(devices[i], &o, &r));
    rill_region_close(r);
    CHECK_OK(rill_region_unlink(devices[i], tu_dir()));
    CHECK_EQ(dir_entries(tu_dir()), 0);
    checks_run += 4;
  }
}

/* ---- life cycle ------------------------------------------------------------- */

#define real_ns tu_real_ns

static void test_lifecycle(void) {
  rill_region_opts o = tu_opts(1 << 20);
  char path[256];
  tu_path(path, sizeof path, "life");
  rill_region *r = NULL, *r2 = NULL;

  /* CLOCK_REALTIME itself: time() reads a coarse clock that may still show
   * the previous second after the region's stamp. */
  uint64_t t0 = real_ns();
  CHECK_OK(rill_region_create("life", &o, &r));
  uint64_t t1 = real_ns();
  CHECK(r != NULL);
  CHECK(exists(path));
  CHECK_EQ(file_size(path), 1 << 20);
  /* Built under a temporary name: only the region is in the directory. */
  CHECK_EQ(dir_entries(tu_dir()), 1);

  rill_region_info info;
  memset(&info, 0xa5, sizeof info);
  CHECK_OK(rill_region_info_get(r, &info));
  CHECK_EQ(info.size, 1 << 20);
  CHECK_EQ(info.used, RILL_PAGE);
  CHECK_EQ(info.nobjects, 0);
  CHECK_EQ(info.creator_pid, tu_getpid());
  CHECK_EQ(info.creator_uid, tu_uid());
  CHECKF(info.created_ns >= t0 && info.created_ns <= t1, "created_ns %" PRIu64, info.created_ns);
  CHECK_RC(rill_region_info_get(NULL, &info), -RILL_EINVAL);
  CHECK_RC(rill_region_info_get(r, NULL), -RILL_EINVAL);

  /* A second create of the same name fails and leaves the first intact. */
  CHECK_RC(rill_region_create("life", &o, &r2), -RILL_EEXIST);
  CHECK_EQ(dir_entries(tu_dir()), 1);

  /* Open sees what create made, including objects added later. */
  CHECK_OK(rill_region_open("life", &o, &r2));
  rill_region_info i2;
  CHECK_OK(rill_region_info_get(r2, &i2));
  CHECK_EQ(i2.size, info.size);
  CHECK_EQ(i2.created_ns, info.created_ns);
  CHECK_EQ(i2.creator_pid, info.creator_pid);
  rill_channel_opts co = {.depth = 64, .mtu = 128, .max_consumers = 2};
  CHECK_OK(rill_channel_create(r, "ch", &co));
  CHECK_OK(rill_region_info_get(r2, &i2));
  CHECK_EQ(i2.nobjects, 1);
  CHECK_EQ(i2.used, RILL_PAGE + rill_channel_footprint(&co));
  CHECK_OK(rill_region_close(r2));
  CHECK_OK(rill_region_close(NULL));

  /* Unlink removes the name; the open handle keeps working. */
  CHECK_OK(rill_region_unlink("life", tu_dir()));
  CHECK(!exists(path));
  CHECK_OK(rill_region_info_get(r, &info));
  CHECK_EQ(info.nobjects, 1);
  rill_producer *p;
  CHECK_OK(rill_producer_join(r, "ch", &p));
  rill_producer_leave(p);
  CHECK_OK(rill_region_close(r));

  CHECK_RC(rill_region_open("life", &o, &r), -RILL_ENOENT);
  CHECK_RC(rill_region_unlink("life", tu_dir()), -RILL_ENOENT);

  /* Sizes: rounded up to 4 KiB; 0 means 64 MiB. */
  o.size = 10000;
  CHECK_OK(rill_region_create("round", &o, &r));
  CHECK_OK(rill_region_info_get(r, &info));
  CHECK_EQ(info.size, 12288);
  tu_path(path, sizeof path, "round");
  CHECK_EQ(file_size(path), 12288);
  rill_region_close(r);
  CHECK_OK(rill_region_unlink("round", tu_dir()));
  o.size = 0;
  CHECK_OK(rill_region_create("dflt", &o, &r));
  CHECK_OK(rill_region_info_get(r, &info));
  CHECK_EQ(info.size, 64ull << 20);
  tu_path(path, sizeof path, "dflt");
  CHECK_EQ(file_size(path), 64ull << 20);
  rill_region_close(r);
  CHECK_OK(rill_region_unlink("dflt", tu_dir()));
  CHECK_EQ(dir_entries(tu_dir()), 0);
  checks_run += 30;
}

/* ---- directories ---------------------------------------------------------- */

static void test_dirs(void) {
  rill_region *r = NULL;
  char name[64], path[600], ddir[512];
  snprintf(name, sizeof name, "rt-%d-default", (int)tu_getpid());
  tu_default_dir(ddir, sizeof ddir);
  snprintf(path, sizeof path, "%s/%s", ddir, name);

  /* No dir and no RILL_DIR: /dev/shm (Windows: %LOCALAPPDATA%\rill). */
  tu_unsetenv("RILL_DIR");
  rill_region_opts o = {.size = 1 << 16};
  CHECK_OK(rill_region_create(name, &o, &r));
  CHECK(exists(path));
#if TU_POSIX
  CHECK_EQ(file_mode(path), 0600);
#endif
  rill_region_close(r);
  CHECK_OK(rill_region_open(name, NULL, &r));
  rill_region_close(r);
  CHECK_OK(rill_region_unlink(name, NULL));
  CHECK(!exists(path));

  /* RILL_DIR is used when opts.dir is NULL. */
  tu_setenv("RILL_DIR", tu_dir());
  CHECK_OK(rill_region_create("envdir", &o, &r));
  char epath[256];
  tu_path(epath, sizeof epath, "envdir");
  CHECK(exists(epath));
  rill_region_close(r);
  CHECK_OK(rill_region_open("envdir", NULL, &r));
  rill_region_close(r);
  CHECK_OK(rill_region_unlink("envdir", NULL));
  CHECK(!exists(epath));

  /* opts.dir wins over RILL_DIR. */
  tu_setenv("RILL_DIR", missing_dir());
  rill_region_opts od = tu_opts(1 << 16);
  CHECK_OK(rill_region_create("explicit", &od, &r));
  rill_region_close(r);
  CHECK_OK(rill_region_open("explicit", &od, &r));
  rill_region_close(r);
  /* ... and with RILL_DIR naming a missing directory, NULL dir is ENODIR. */
  CHECK_RC(rill_region_create("explicit", &o, &r), -RILL_ENODIR);
  CHECK_RC(rill_region_open("explicit", &o, &r), -RILL_ENODIR);
  CHECK_RC(rill_region_unlink("explicit", NULL), -RILL_ENODIR);
  CHECK_OK(rill_region_unlink("explicit", tu_dir()));
  tu_unsetenv("RILL_DIR");

  /* A directory that does not exist, or is not a directory: ENODIR. */
  rill_region_opts nd = {.size = 1 << 16, .dir = missing_dir()};
  CHECK_RC(rill_region_create("x", &nd, &r), -RILL_ENODIR);
  CHECK_RC(rill_region_open("x", &nd, &r), -RILL_ENODIR);
  CHECK_RC(rill_region_unlink("x", nd.dir), -RILL_ENODIR);
  char fpath[256];
  tu_path(fpath, sizeof fpath, "plainfile");
  tu_create_file(fpath);
  nd.dir = fpath;
  CHECK_RC(rill_region_create("x", &nd, &r), -RILL_ENODIR);
  CHECK_RC(rill_region_open("x", &nd, &r), -RILL_ENODIR);
  CHECK_RC(rill_region_unlink("x", fpath), -RILL_ENODIR);
  CHECK(tu_remove_file(fpath) == 0);
  CHECK_EQ(dir_entries(tu_dir()), 0);
  checks_run += 25;
}

/* ---- modes ------------------------------------------------------------------ */

#if TU_POSIX

static void one_mode(mode_t umask_v, uint32_t ask, unsigned want) {
  mode_t old = umask(umask_v);
  rill_region_opts o = tu_opts(1 << 16);
  o.mode = ask;
  rill_region *r = NULL;
  CHECKF(rill_region_create("mode", &o, &r) == 0, "umask %03o mode %03o", (unsigned)umask_v, ask);
  umask(old);
  char path[256];
  tu_path(path, sizeof path, "mode");
  CHECKF(file_mode(path) == want, "umask %03o, asked %03o: file has %03o, want %03o",
         (unsigned)umask_v, ask, file_mode(path), want);
  rill_region_close(r);
  CHECK_OK(rill_region_unlink("mode", tu_dir()));
  checks_run++;
}

static void test_modes(void) {
  one_mode(077, 0, 0600);
  one_mode(0, 0, 0600);
  one_mode(022, 0, 0600);
  one_mode(077, 0640, 0640);
  one_mode(0, 0640, 0640);
  one_mode(077, 0666, 0666);
  one_mode(0777, 0660, 0660);
  one_mode(0, 0400, 0400);
#else
static void test_modes(void) {
  tu_skip_part("modes", "file modes and the umask are POSIX: Windows gives a region a DACL "
               "(PROTOCOL.md section 5); only the invalid mode is checked");
#endif
  /* Bits outside 07777 are not a mode. */
  rill_region_opts o = tu_opts(1 << 16);
  o.mode = 0100600;
  rill_region *r;
  CHECK_RC(rill_region_create("badmode", &o, &r), -RILL_EINVAL);
  CHECK_EQ(dir_entries(tu_dir()), 0);
}

/* ---- space ------------------------------------------------------------------ */

/* Bytes free for us on DIR's file system (GetDiskFreeSpaceEx on Windows,
 * which is what the library checks there; Wine asks statfs). */
static uint64_t free_space(const char *dir) {
#if TU_WINDOWS
  ULARGE_INTEGER avail;
  CHECK(GetDiskFreeSpaceExA(dir, &avail, NULL, NULL));
  return (uint64_t)avail.QuadPart;
#else
  struct statvfs v;
  CHECK(statvfs(dir, &v) == 0);
  return (uint64_t)v.f_bavail * v.f_frsize;
#endif
}

static void test_space(void) {
  rill_region *r = NULL;
  rill_region_opts o = tu_opts(1ull << 50); /* 1 PiB */
  CHECK_RC(rill_region_create("huge", &o, &r), -RILL_ENOSPC);
  /* Neither the region nor its temporary file is left behind. */
  CHECK_EQ(dir_entries(tu_dir()), 0);
  /* More than the file system has free, but not absurd: still ENOSPC. */
  uint64_t avail = free_space(tu_dir());
  o.size = avail + (1ull << 30);
  CHECK_RC(rill_region_create("huge", &o, &r), -RILL_ENOSPC);
  CHECK_EQ(dir_entries(tu_dir()), 0);
  checks_run += 2;
}

/* ---- rill_strerror ------------------------------------------------------------ */

static void test_strerror(void) {
  const char *txt[RILL_ERR_MAX_];
  for (int c = 0; c < RILL_ERR_MAX_; c++) {
    txt[c] = rill_strerror(c);
    CHECKF(txt[c] != NULL && txt[c][0] != 0, "rill_strerror(%d)", c);
    const char *neg = rill_strerror(-c);
    CHECKF(neg != NULL && neg[0] != 0, "rill_strerror(%d)", -c);
    CHECKF(strcmp(neg, txt[c]) == 0, "rill_strerror(%d) \"%s\" != rill_strerror(%d) \"%s\"",
           -c, neg, c, txt[c]);
    for (int k = 0; k < c; k++)
      CHECKF(strcmp(txt[k], txt[c]) != 0, "codes %d and %d share the text \"%s\"", k, c, txt[c]);
  }
  checks_run += 3 * RILL_ERR_MAX_;
}

/* Unknown codes, down to INT_MIN (whose negation overflows an int): run in a
 * child so that a crash is reported as such. */
static void strerror_unknown_child(void *arg) {
  (void)arg;
  const int unknown[] = {RILL_ERR_MAX_, -RILL_ERR_MAX_, 1000, -1000,
                         INT_MAX, INT_MIN + 1, INT_MIN};
  for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
    const char *u = rill_strerror(unknown[i]);
    CHECKF(u != NULL && u[0] != 0, "rill_strerror(%d)", unknown[i]);
    for (int c = 0; c < RILL_ERR_MAX_; c++)
      CHECKF(strcmp(u, rill_strerror(c)) != 0, "unknown code %d reads like code %d: \"%s\"",
             unknown[i], c, u);
  }
}

static void test_strerror_unknown(void) {
  CHECKF(tu_try("rill_strerror() of unknown codes, INT_MIN included", strerror_unknown_child,
                NULL) == 0, "rill_strerror() failed on an unknown code");
  checks_run += 7;
}

/* ---- damaged regions ------------------------------------------------------------ */

/* Builds region NAME (1 MiB, one channel) and returns its first page. */
static void make_good(const char *name, uint8_t page[RILL_PAGE]) {
  rill_region_opts o = tu_opts(1 << 20);
  rill_region *r;
  rill_region_unlink(name, tu_dir());
  CHECK_OK(rill_region_create(name, &o, &r));
  rill_channel_opts co = {.depth = 64, .mtu = 256, .max_consumers = 2};
  CHECK_OK(rill_channel_create(r, "chan", &co));
  rill_region_close(r);
  char path[256];
  tu_path(path, sizeof path, name);
  read_at(path, 0, page, RILL_PAGE);
  CHECK_OK(open_rc(name));
}

typedef struct corruption {
  const char *what;
  uint64_t off;
  int width; /* 4 or 8 */
  uint64_t val;
  int want;
} corruption;

static void test_bad_regions(void) {
  char path[256];
  tu_path(path, sizeof path, "bad");
  uint8_t good[RILL_PAGE];
  make_good("bad", good);
  const rill_region_hdr *gh = (const rill_region_hdr *)good;
  const uint64_t size = gh->size, alloc = gh->alloc_off;
  CHECK_EQ(size, 1 << 20);
  const uint64_t e0 = RILL_TABLE_OFF; /* the channel's table entry */
  rill_obj_entry ge;
  memcpy(&ge, good + e0, sizeof ge);
  CHECK_EQ(ge.off, RILL_PAGE);

  const corruption cases[] = {
    {"magic", offsetof(rill_region_hdr, magic), 8, RILL_REGION_MAGIC ^ 1, -RILL_EMAGIC},
    {"magic=channel magic", 0, 8, RILL_CHANNEL_MAGIC, -RILL_EMAGIC},
    {"magic=0", 0, 8, 0, -RILL_EMAGIC},
    {"version next", offsetof(rill_region_hdr, version), 4, RILL_LAYOUT_VERSION + 1, -RILL_EVERSION},
    {"version 0", offsetof(rill_region_hdr, version), 4, 0, -RILL_EVERSION},
    {"version max", offsetof(rill_region_hdr, version), 4, UINT32_MAX, -RILL_EVERSION},
    {"size > file", offsetof(rill_region_hdr, size), 8, size + RILL_PAGE, -RILL_ETRUNC},
    {"size huge", offsetof(rill_region_hdr, size), 8, UINT64_MAX, -RILL_ETRUNC},
    {"hdr_size", offsetof(rill_region_hdr, hdr_size), 4, 128, -RILL_ECORRUPT},
    {"obj_max", offsetof(rill_region_hdr, obj_max), 4, 63, -RILL_ECORRUPT},
    {"size unaligned", offsetof(rill_region_hdr, size), 8, size - 1, -RILL_ECORRUPT},
    {"size 4096", offsetof(rill_region_hdr, size), 8, 4096, -RILL_ECORRUPT},
    {"size 0", offsetof(rill_region_hdr, size), 8, 0, -RILL_ECORRUPT},
    {"obj_cnt 63", offsetof(rill_region_hdr, obj_cnt), 4, 63, -RILL_ECORRUPT},
    {"obj_cnt huge", offsetof(rill_region_hdr, obj_cnt), 4, UINT32_MAX, -RILL_ECORRUPT},
    {"alloc_off > size", offsetof(rill_region_hdr, alloc_off), 8, size + RILL_PAGE, -RILL_ECORRUPT},
    {"alloc_off unaligned", offsetof(rill_region_hdr, alloc_off), 8, alloc + 8, -RILL_ECORRUPT},
    {"alloc_off 0", offsetof(rill_region_hdr, alloc_off), 8, 0, -RILL_ECORRUPT},
    {"alloc_off below entry end", offsetof(rill_region_hdr, alloc_off), 8, alloc - RILL_PAGE, -RILL_ECORRUPT},
    {"entry off past end", e0 + offsetof(rill_obj_entry, off), 8, size + RILL_PAGE, -RILL_ECORRUPT},
    {"entry off huge", e0 + offsetof(rill_obj_entry, off), 8, UINT64_MAX & ~4095ull, -RILL_ECORRUPT},
    {"entry off unaligned", e0 + offsetof(rill_obj_entry, off), 8, ge.off + 64, -RILL_ECORRUPT},
    {"entry off 0 (header)", e0 + offsetof(rill_obj_entry, off), 8, 0, -RILL_ECORRUPT},
    {"entry size past end", e0 + offsetof(rill_obj_entry, size), 8, size, -RILL_ECORRUPT},
    {"entry size wraps", e0 + offsetof(rill_obj_entry, size), 8, UINT64_MAX & ~4095ull, -RILL_ECORRUPT},
    {"entry size unaligned", e0 + offsetof(rill_obj_entry, size), 8, ge.size - 1, -RILL_ECORRUPT},
    {"entry size 0", e0 + offsetof(rill_obj_entry, size), 8, 0, -RILL_ECORRUPT},
    {"entry type", e0 + offsetof(rill_obj_entry, type), 4, 7, -RILL_ECORRUPT},
    {"entry name bad char", e0, 4, 0x2f2f2f2f /* "////" */, -RILL_ECORRUPT},
    {"entry name empty", e0, 8, 0, -RILL_ECORRUPT},
    {"entry name leading dot", e0, 4, 0x6168632e /* ".cha" */, -RILL_ECORRUPT},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const corruption *c = &cases[i];
    write_at(path, 0, good, RILL_PAGE);
    CHECK_OK(open_rc("bad"));
    if (c->width == 4) put32(path, c->off, (uint32_t)c->val);
    else put64(path, c->off, c->val);
    int rc = open_rc("bad");
    CHECKF(rc == c->want, "%s: open returned %d (%s), want %d (%s)", c->what, rc,
           rill_strerror(rc), c->want, rill_strerror(c->want));
    checks_run++;
  }
  /* An entry name that is not NUL-terminated (40 letters). */
  write_at(path, 0, good, RILL_PAGE);
  uint8_t letters[RILL_OBJ_NAME_SZ];
  memset(letters, 'n', sizeof letters);
  write_at(path, e0, letters, sizeof letters);
  CHECK_RC(open_rc("bad"), -RILL_ECORRUPT);
  /* An entry beyond obj_cnt is not looked at. */
  write_at(path, 0, good, RILL_PAGE);
  write_at(path, e0 + 64, letters, sizeof letters);
  CHECK_OK(open_rc("bad"));

  /* Truncated to half: ETRUNC.  Cut inside the first page: ETRUNC too. */
  write_at(path, 0, good, RILL_PAGE);
  tu_truncate(path, size / 2);
  CHECK_RC(open_rc("bad"), -RILL_ETRUNC);
  tu_truncate(path, 100);
  CHECK_RC(open_rc("bad"), -RILL_ETRUNC);
  tu_truncate(path, 4095);
  CHECK_RC(open_rc("bad"), -RILL_ETRUNC);
  /* Shorter than a magic: EMAGIC.  Empty: EEMPTY. */
  tu_truncate(path, 5);
  CHECK_RC(open_rc("bad"), -RILL_EMAGIC);
  tu_truncate(path, 0);
  CHECK_RC(open_rc("bad"), -RILL_EEMPTY);
  /* A file grown past the header's size is still fine. */
  make_good("bad", good);
  tu_truncate(path, size * 2);
  CHECK_OK(open_rc("bad"));

  /* Files that were never regions. */
  char zpath[256];
  tu_path(zpath, sizeof zpath, "zero");
  tu_create_file(zpath);
  CHECK_RC(open_rc("zero"), -RILL_EEMPTY);
  uint8_t junk[3 * RILL_PAGE];
  tu_rng rng = {42};
  for (size_t i = 0; i < sizeof junk; i++) junk[i] = (uint8_t)tu_rand(&rng);
  write_at(zpath, 0, junk, sizeof junk);
  CHECK_RC(open_rc("zero"), -RILL_EMAGIC);
  memset(junk, 0, sizeof junk);
  write_at(zpath, 0, junk, sizeof junk);
  CHECK_RC(open_rc("zero"), -RILL_EMAGIC);
  CHECK_OK(rill_region_unlink("zero", tu_dir()));

  /* Missing file and missing directory. */
  CHECK_RC(open_rc("missing"), -RILL_ENOENT);
  rill_region_opts nd = {.dir = missing_dir()};
  rill_region *r;
  CHECK_RC(rill_region_open("bad", &nd, &r), -RILL_ENODIR);

  CHECK_OK(rill_region_unlink("bad", tu_dir()));
  checks_run += 16;
}

/* ---- permissions ----------------------------------------------------------- */

#if TU_POSIX

static void expect_eacces(const char *why) {
  rill_region_opts o = tu_opts(1 << 16);
  rill_region *r = NULL;
  int rc = rill_region_open("priv", &o, &r);
  CHECKF(rc == -RILL_EACCES, "%s: open of a 0600 file not ours: %d (%s)", why, rc,
         rill_strerror(rc));
  rc = rill_region_create("other", &o, &r);
  CHECKF(rc == -RILL_EACCES, "%s: create in a directory we cannot write: %d (%s)",
         why, rc, rill_strerror(rc));
  rc = rill_region_unlink("priv", tu_dir());
  CHECKF(rc == -RILL_EACCES, "%s: unlink in a directory we cannot write: %d (%s)",
         why, rc, rill_strerror(rc));
}

static int setgroups_none(void) { return setgroups(0, NULL); }

static void nobody_child(void *arg) {
  (void)arg;
  if (setgroups_none() != 0 || setgid(65534) != 0 || setuid(65534) != 0) {
    printf("  permission check skipped: cannot become uid 65534: %s\n", strerror(errno));
    exit(TU_SKIP);
  }
  CHECK(geteuid() == 65534);
  expect_eacces("as uid 65534");
}

static void test_permissions(void) {
  rill_region_opts o = tu_opts(1 << 16);
  rill_region *r;
  CHECK_OK(rill_region_create("priv", &o, &r));
  rill_region_close(r);
  char path[256];
  tu_path(path, sizeof path, "priv");
  if (geteuid() != 0) {
    /* The file unreadable, the directory not writable. */
    CHECK(chmod(path, 0) == 0);
    CHECK(chmod(tu_dir(), 0500) == 0);
    expect_eacces("chmod 000");
    CHECK(chmod(tu_dir(), 0700) == 0);
    CHECK(chmod(path, 0600) == 0);
    checks_run += 3;
  } else {
    /* Root ignores modes: check from a child that drops to nobody.  The
     * directory must be searchable so the file's own mode is what fails. */
    CHECK(chown(path, 0, 0) == 0 && chmod(path, 0600) == 0);
    CHECK(chmod(tu_dir(), 0711) == 0);
    tu_pid pid = tu_spawn("nobody", nobody_child, NULL);
    int end = tu_wait_end(pid);
    CHECK(chmod(tu_dir(), 0700) == 0);
    if (end == TU_SKIP) {
      printf("  (permission check skipped)\n");
    } else {
      tu_kid_end(pid, end);
      checks_run += 3;
    }
  }
  CHECK_OK(rill_region_unlink("priv", tu_dir()));
}
#else
static void nobody_child(void *arg) { (void)arg; }

static void test_permissions(void) {
  tu_skip_part("permissions", "chmod and another uid are POSIX; a region's DACL (its creator "
               "only) is not checked from another account here");
}
#endif

static const tu_role roles[] = {TU_ROLE(strerror_unknown_child), TU_ROLE(nobody_child), {0}};

int main(int argc, char **argv) {
  tu_start_roles("region", 60, argc, argv, roles);
  test_strerror();
  test_names();
  test_lifecycle();
  test_dirs();
  test_modes();
  test_space();
  test_bad_regions();
  test_permissions();
  test_strerror_unknown();
  CHECK_EQ(dir_entries(tu_dir()), 0);
  return tu_pass("%d checks: names, dirs, modes, ENOSPC, damaged files, permissions, strerror",
                 checks_run);
}
