/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* The Windows platform layer (src/platform_win32.c, docs/PROTOCOL.md §5) on
 * its own: files (create, publish, the file_linked rule, mode and owner,
 * unlink by renaming), byte-range locks and their probes, reads past other
 * handles' locks, mappings at offsets that are not multiples of 64 KiB,
 * parking and waking across two threads and across two processes (the
 * peer, started with tu_spawn()), the consumer's event, a directory watch,
 * process liveness.
 * Windows only: cmake/windows-tests.cmake builds it. */
#include "testutil.h"

#include "platform.h"

#if !TU_WINDOWS
#error "test_win32_platform is a Windows test (cmake/windows-tests.cmake)"
#endif

#define SIZE (256u * 1024u)
#define CREATED_NS 0x1234567890abcdefull
#define WORD_OFF (65536u + 8192u)    /* a word in a view that starts before it */
#define PEER_LOCK_OFF (3u * 4096u)   /* the peer's endpoint lock */
#define FIFO_NAME ".rill-fifo@smoke@chan@3"

static _Atomic uint32_t *word_at(void *map, uint64_t map_off, uint64_t off) {
  return (_Atomic uint32_t *)((uint8_t *)map + (off - map_off));
}

/* ---- the peer process: tools of the parent's test.  ARG: the creator's
 * pid (tu_shared() memory), which names the region's wait objects. */
static void peer(void *arg) {
  uint32_t creator_pid = *(const uint32_t *)arg;
  char path[RILL_PATH_MAX], fifo[RILL_PATH_MAX];
  snprintf(path, sizeof path, "%s\\smoke", tu_dir());
  snprintf(fifo, sizeof fifo, "%s\\" FIFO_NAME, tu_dir());
  int fd;
  uint64_t size;
  CHECK_OK(rill__file_open(path, 1, &fd, &size));
  CHECK_EQ(size, SIZE);
  rill__file_tag(fd, CREATED_NS, creator_pid);
  /* The parent holds its lock on byte 4096; we take ours and die with it. */
  CHECK(rill__lock_held(fd, 4096) == 1);
  CHECK_OK(rill__lock_try(fd, PEER_LOCK_OFF));
  void *m;
  CHECK_OK(rill__map(fd, 65536, 65536, 1, &m));
  _Atomic uint32_t *w = word_at(m, 65536, WORD_OFF);
  uint64_t end = rill__mono_ns() + 10000000000ull;
  while (atomic_load(w) != 2) { /* the parent stores 2, then wakes us */
    CHECKF(rill__mono_ns() <= end, "the parent's store of 2 never came");
    int rc = rill__park(w, 1, 1000000000ull);
    CHECKF(rc == 0 || rc == -RILL_ETIMEDOUT, "park: %s", rill_strerror(rc));
  }
  atomic_store(w, 3);
  rill__unpark(w);
  int ev;
  CHECK_OK(rill__fifo_writer(fd, fifo, &ev));
  rill__fifo_signal(ev);
  rill__file_close(ev);
  rill__unmap(m, 65536);
  /* Exits holding PEER_LOCK_OFF: Windows releases it. */
}

/* ---- two threads ------------------------------------------------------ */

struct parker {
  _Atomic uint32_t *w;
  int rc;
  uint32_t seen;
  uint64_t took_ns;
};

static DWORD WINAPI park_thread(LPVOID arg) {
  struct parker *p = arg;
  uint64_t t0 = rill__mono_ns();
  p->rc = 0;
  while (atomic_load(p->w) == 0 && p->rc == 0) p->rc = rill__park(p->w, 0, 5000000000ull);
  p->took_ns = rill__mono_ns() - t0;
  p->seen = atomic_load(p->w);
  return 0;
}

struct maker {
  char path[RILL_PATH_MAX];
};

static DWORD WINAPI make_thread(LPVOID arg) {
  struct maker *k = arg;
  Sleep(50);
  int fd;
  if (rill__file_create(k->path, 4096, 0600, &fd) == 0) rill__file_close(fd);
  return 0;
}

static int count_entries(const char *name, void *arg) {
  (void)name;
  (*(int *)arg)++;
  return 0;
}

static const tu_role roles[] = {TU_ROLE(peer), {0}};

int main(int argc, char **argv) {
  tu_start_roles("test_win32_platform", 240, argc, argv, roles);
  const char *dir = tu_dir();
  char tmpf[RILL_PATH_MAX], path[RILL_PATH_MAX];
  snprintf(tmpf, sizeof tmpf, "%s/.smoke.tmp", dir); /* '/' separates too */
  snprintf(path, sizeof path, "%s\\smoke", dir);

  /* ---- create, tag, map, publish */
  int fd1 = -1;
  CHECK_RC(rill__file_create(tmpf, SIZE, 0600, &fd1), 0);
  int fd0 = -1;
  CHECK_RC(rill__file_create(tmpf, SIZE, 0600, &fd0), -RILL_EEXIST);
  void *hdr = NULL;
  CHECK_RC(rill__map(fd1, 0, SIZE, 1, &hdr), 0); /* mapped before tagged, as region open does */
  rill__file_tag(fd1, CREATED_NS, rill__pid());
  memcpy(hdr, "rill-smoke", 10);
  CHECK_RC(rill__file_publish(tmpf, path), 0);
  CHECK(rill__file_linked(fd1) == 1);
  uint32_t mode = 0, uid = 0;
  CHECK_RC(rill__file_mode(fd1, &mode), 0);
  CHECK(mode == 0600);
  CHECK_RC(rill__file_owner(fd1, &uid), 0);
  CHECK(uid == rill__uid());
  uint64_t size = 0;
  CHECK_RC(rill__file_size(fd1, &size), 0);
  CHECK(size == SIZE);

  /* publishing over a name that exists: EEXIST, and the source removed */
  int fdx;
  char other[RILL_PATH_MAX];
  snprintf(other, sizeof other, "%s\\.other.tmp", dir);
  CHECK_RC(rill__file_create(other, 65536, 0644, &fdx), 0);
  CHECK_RC(rill__file_mode(fdx, &mode), 0);
  CHECK(mode == 0644);
  CHECK_RC(rill__file_publish(other, path), -RILL_EEXIST);
  CHECK(rill__file_linked(fdx) == 0);
  rill__file_close(fdx);

  /* ---- open by name: the same file, and what was written */
  int fd2 = -1;
  CHECK_RC(rill__file_open(path, 1, &fd2, &size), 0);
  CHECK(size == SIZE);
  rill__file_tag(fd2, CREATED_NS, rill__pid()); /* as region open does, from the header */
  char buf[16] = {0};
  CHECK_RC(rill__file_read(fd2, 0, buf, 10), 0);
  CHECK(!memcmp(buf, "rill-smoke", 10));
  CHECK_RC(rill__file_read(fd2, SIZE - 4, buf, 8), -RILL_ETRUNC);
  rill__stat s1, s2;
  CHECK_RC(rill__file_stat(fd1, &s1), 0);
  CHECK_RC(rill__file_stat(fd2, &s2), 0);
  CHECK(s1.dev == s2.dev && s1.ino == s2.ino && s1.kind == RILL__KIND_REG);

  /* ---- locks: each handle its own */
  int fd3 = -1;
  CHECK_RC(rill__file_reopen(fd1, &fd3), 0);
  CHECK_RC(rill__lock_shared(fd1, 0), 0);
  CHECK_RC(rill__lock_try(fd2, 4096), 0);
  CHECK(rill__lock_held(fd3, 4096) == 1);
  CHECK(rill__lock_held(fd3, 8192) == 0);
  CHECK_RC(rill__lock_try(fd3, 4096), -RILL_EBUSY);
  CHECK(rill__lock_any_held(fd3) == 1);
  CHECK_RC(rill__lock_all_try(fd3), -RILL_EBUSY);
  /* bytes another handle locked still read (through a mapping) */
  CHECK_RC(rill__file_read(fd3, 4096, buf, 8), 0);
  CHECK_RC(rill__file_lock(fd3), 0);
  rill__file_unlock(fd3);
  CHECK_RC(rill__file_lock(fd2), 0);
  rill__file_unlock(fd2);

  /* ---- the directory: stat, each, open_at */
  int dfd = -1;
  CHECK_RC(rill__dir_open(dir, &dfd), 0);
  rill__stat st;
  CHECK_RC(rill__stat_at(dfd, "smoke", &st), 0);
  CHECK(st.kind == RILL__KIND_REG && st.size == SIZE && st.ino == s1.ino && st.uid == rill__uid());
  CHECK(st.changed_ns > 1500000000ull * 1000000000ull);
  CHECK_RC(rill__stat_at(dfd, "nothing", &st), -RILL_ENOENT);
  int n = 0;
  CHECK_RC(rill__dir_each_at(dfd, count_entries, &n), 0);
  CHECK(n == 1); /* smoke; the .rill-gone files went */
  int fd4 = -1;
  CHECK_RC(rill__file_open_at(dfd, "smoke", &fd4, &size), 0);
  rill__file_close(fd4);

  /* ---- mappings at an offset inside a 64 KiB view, and parking */
  void *m2 = NULL, *m3 = NULL;
  CHECK_RC(rill__map(fd2, 65536 + 4096, 16384, 1, &m2), 0);
  CHECK_RC(rill__map(fd3, 65536, 65536, 1, &m3), 0);
  _Atomic uint32_t *w2 = word_at(m2, 65536 + 4096, WORD_OFF);
  _Atomic uint32_t *w3 = word_at(m3, 65536, WORD_OFF);
  _Atomic uint32_t *w1 = word_at(hdr, 0, WORD_OFF);
  atomic_store(w2, 0);
  CHECK(atomic_load(w3) == 0 && atomic_load(w1) == 0);
  /* a timeout, and a word that differs */
  uint64_t t0 = rill__mono_ns();
  CHECK_RC(rill__park(w2, 0, 20000000ull), -RILL_ETIMEDOUT);
  CHECK(rill__mono_ns() - t0 >= 15000000ull);
  CHECK_RC(rill__park(w2, 7, 1000000000ull), 0);
  /* a thread parks through one mapping, woken through another */
  struct parker p = {w2, 0, 0, 0};
  HANDLE th = CreateThread(NULL, 0, park_thread, &p, 0, NULL);
  Sleep(100);
  atomic_store(w3, 1);
  rill__unpark(w3);
  CHECK(WaitForSingleObject(th, 10000) == WAIT_OBJECT_0);
  CloseHandle(th);
  CHECK(p.rc == 0 && p.seen == 1 && p.took_ns < 4000000000ull);
  /* park_any over two words, one of them changed */
  const void *ws[2] = {w2, word_at(hdr, 0, WORD_OFF + 4)};
  uint32_t ex[2] = {1, 0};
  CHECK_RC(rill__park_any(ws, ex, 2, 20000000ull), -RILL_ETIMEDOUT);
  ex[0] = 5;
  CHECK_RC(rill__park_any(ws, ex, 2, 1000000000ull), 0);
  /* a private word: an in-process nap */
  uint32_t priv = 0;
  CHECK_RC(rill__park(&priv, 0, 10000000ull), -RILL_ETIMEDOUT);

  /* ---- another process: locks, parking, the event */
  char fifo[RILL_PATH_MAX];
  snprintf(fifo, sizeof fifo, "%s\\" FIFO_NAME, dir);
  int ev = -1, evw = -1;
  CHECK_RC(rill__fifo_writer(fd1, fifo, &evw), -RILL_ENOENT); /* nobody reads yet */
  CHECK_RC(rill__fifo_reader(fd1, fifo, 0600, &ev), 0);
  HANDLE evh = rill__fifo_handle(ev);
  CHECK(evh != NULL);
  rill__fifo_drain(ev);
  CHECK(WaitForSingleObject(evh, 0) == WAIT_TIMEOUT);
  atomic_store(w1, 1);
  uint32_t *creator = tu_shared(sizeof *creator);
  *creator = rill__pid();
  tu_pid pid = tu_spawn("peer", peer, creator);
  Sleep(200);
  CHECK(rill__pid_alive((uint32_t)pid) == 1);
  atomic_store(w1, 2);
  rill__unpark(w1);
  CHECK(WaitForSingleObject(evh, 10000) == WAIT_OBJECT_0);
  uint64_t end = rill__mono_ns() + 10000000000ull;
  while (atomic_load(w1) != 3 && rill__mono_ns() < end) (void)rill__park(w1, 2, 1000000000ull);
  CHECK(atomic_load(w1) == 3);
  tu_wait(pid); /* it must exit 0 */
  /* its lock went with it */
  CHECK(rill__lock_held(fd1, PEER_LOCK_OFF) == 0);
  CHECK(rill__pid_alive((uint32_t)pid) == 0); /* tu_wait closed its handle */
  CHECK(rill__pid_alive(rill__pid()) == 1);
  rill__file_close(ev);
  rill__unmap(m2, 16384);
  rill__unmap(m3, 65536);
  rill__lock_release(fd2, 4096);
  CHECK(rill__lock_held(fd3, 4096) == 0);
  CHECK(rill__lock_any_held(fd3) == 1); /* fd1's shared lock on byte 0 */

  /* ---- unlink: the name goes at once, the open handles stay valid */
  CHECK_RC(rill__file_unlink(path), 0);
  CHECK(rill__file_linked(fd1) == 0);
  CHECK_RC(rill__file_unlink(path), -RILL_ENOENT);
  int fd5 = -1;
  CHECK_RC(rill__file_create(path, 65536, 0600, &fd5), 0); /* the name is free */
  CHECK(rill__file_linked(fd1) == 0 && rill__file_linked(fd5) == 1);
  rill__file_close(fd5);
  CHECK_RC(rill__unlink_at(dfd, "smoke"), 0);

  /* ---- a directory watch wakes when a name appears */
  int w = -1;
  CHECK_RC(rill__dir_watch(dir, &w), 0);
  struct maker k;
  snprintf(k.path, sizeof k.path, "%s\\late", dir);
  th = CreateThread(NULL, 0, make_thread, &k, 0, NULL);
  t0 = rill__mono_ns();
  CHECK_RC(rill__dir_watch_wait(w, "late", 5000000000ull), 0);
  CHECK(rill__mono_ns() - t0 < 4000000000ull);
  WaitForSingleObject(th, INFINITE);
  CloseHandle(th);
  rill__dir_watch_close(w);
  CHECK_RC(rill__dir_watch("C:\\no\\such\\dir", &w), -RILL_ENODIR);
  CHECK_RC(rill__unlink_at(dfd, "late"), 0);

  rill__unmap(hdr, SIZE);
  rill__file_close(fd1);
  rill__file_close(fd2);
  rill__file_close(fd3);
  n = 0;
  CHECK_RC(rill__dir_each_at(dfd, count_entries, &n), 0);
  CHECK(n == 0);
  rill__dir_close(dfd);

  /* ---- the rest: no heavy barrier, clocks, the default directory */
  CHECK(rill__heavy_barrier_register() != 0);
  CHECK_RC(rill__heavy_barrier(), 0);
  uint64_t a = rill__mono_ns();
  Sleep(10);
  CHECK(rill__mono_ns() - a >= 9000000ull);
  CHECK(rill__real_ns() > 1600000000ull * 1000000000ull);
  CHECK(strstr(rill__dir(NULL), "rill") != NULL || getenv("RILL_DIR") != NULL);
  CHECK(rill__random() != rill__random());

  /* A path in a drive's root is in that root, not in the drive's current
   * directory (which "C:" alone names): made with the current directory
   * elsewhere on C:. */
  {
    char here[MAX_PATH], rootf[64], wrong[64];
    CHECK(GetCurrentDirectoryA(sizeof here, here) > 0);
    CHECK(SetCurrentDirectoryA("C:\\windows"));
    snprintf(rootf, sizeof rootf, "C:\\rill-root-%lu", (unsigned long)GetCurrentProcessId());
    snprintf(wrong, sizeof wrong, "C:\\windows\\rill-root-%lu", (unsigned long)GetCurrentProcessId());
    int fr;
    CHECK_RC(rill__file_create(rootf, 4096, 0600, &fr), 0);
    rill__file_close(fr);
    CHECK(GetFileAttributesA(rootf) != INVALID_FILE_ATTRIBUTES);
    CHECK(GetFileAttributesA(wrong) == INVALID_FILE_ATTRIBUTES);
    CHECK_RC(rill__file_unlink(rootf), 0);
    CHECK(SetCurrentDirectoryA(here));
  }

  /* nothing is left in the directory (the watchdog removes it) */
  CHECK_EQ(tu_dir_entries(dir), 0);
  return tu_pass("files, locks, mappings, parking across threads and processes, the event, "
                 "a directory watch");
}
