/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* The Windows platform layer (src/platform_win32.c, docs/PROTOCOL.md §5) on
 * its own, without tests/testutil.h: files (create, publish, the
 * file_linked rule, mode and owner, unlink by renaming), byte-range locks
 * and their probes, reads past other handles' locks, mappings at offsets
 * that are not multiples of 64 KiB, parking and waking across two threads
 * and across two processes (this program started again as the peer), the
 * consumer's event, a directory watch, process liveness.
 * Windows only: cmake/windows-tests.cmake builds it. */
#include "platform.h"
#include "rill.h"

#include <windows.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

#define CHECK(cond)                                                       \
  do {                                                                    \
    if (!(cond)) {                                                        \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      failures++;                                                         \
    }                                                                     \
  } while (0)

#define CHECK_RC(expr, want)                                                          \
  do {                                                                                \
    int rc_ = (expr);                                                                 \
    if (rc_ != (want)) {                                                              \
      fprintf(stderr, "%s:%d: %s = %d (%s, os error %d), wanted %d\n", __FILE__,      \
              __LINE__, #expr, rc_, rill_strerror(rc_), rill_os_error(), (int)(want)); \
      failures++;                                                                     \
    }                                                                                 \
  } while (0)

#define SIZE (256u * 1024u)
#define CREATED_NS 0x1234567890abcdefull
#define WORD_OFF (65536u + 8192u)    /* a word in a view that starts before it */
#define PEER_LOCK_OFF (3u * 4096u)   /* the peer's endpoint lock */
#define FIFO_NAME ".rill-fifo@smoke@chan@3"

static _Atomic uint32_t *word_at(void *map, uint64_t map_off, uint64_t off) {
  return (_Atomic uint32_t *)((uint8_t *)map + (off - map_off));
}

/* ---- the peer process: tools of the parent's test, run as
 * test_win32_platform.exe peer DIR CREATOR_PID */
static int peer(const char *dir, uint32_t creator_pid) {
  char path[RILL_PATH_MAX], fifo[RILL_PATH_MAX];
  snprintf(path, sizeof path, "%s\\smoke", dir);
  snprintf(fifo, sizeof fifo, "%s\\" FIFO_NAME, dir);
  int fd;
  uint64_t size;
  if (rill__file_open(path, 1, &fd, &size) || size != SIZE) return 10;
  rill__file_tag(fd, CREATED_NS, creator_pid);
  /* The parent holds its lock on byte 4096; we take ours and die with it. */
  if (rill__lock_held(fd, 4096) != 1) return 11;
  if (rill__lock_try(fd, PEER_LOCK_OFF) != 0) return 12;
  void *m;
  if (rill__map(fd, 65536, 65536, 1, &m)) return 13;
  _Atomic uint32_t *w = word_at(m, 65536, WORD_OFF);
  uint64_t end = rill__mono_ns() + 10000000000ull;
  while (atomic_load(w) != 2) { /* the parent stores 2, then wakes us */
    if (rill__mono_ns() > end) return 14;
    int rc = rill__park(w, 1, 1000000000ull);
    if (rc && rc != -RILL_ETIMEDOUT) return 15;
  }
  atomic_store(w, 3);
  rill__unpark(w);
  int ev;
  if (rill__fifo_writer(fd, fifo, &ev)) return 16;
  rill__fifo_signal(ev);
  rill__file_close(ev);
  rill__unmap(m, 65536);
  /* Exits holding PEER_LOCK_OFF: Windows releases it. */
  return 0;
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

static int spawn_peer(const char *dir, PROCESS_INFORMATION *pi) {
  wchar_t exe[MAX_PATH], cmd[2 * MAX_PATH + 128], wdir[MAX_PATH];
  GetModuleFileNameW(NULL, exe, MAX_PATH);
  MultiByteToWideChar(CP_UTF8, 0, dir, -1, wdir, MAX_PATH);
  _snwprintf(cmd, sizeof cmd / sizeof *cmd, L"\"%ls\" peer \"%ls\" %lu", exe, wdir,
             (unsigned long)GetCurrentProcessId());
  cmd[sizeof cmd / sizeof *cmd - 1] = 0;
  STARTUPINFOW si;
  memset(&si, 0, sizeof si);
  si.cb = sizeof si;
  return CreateProcessW(exe, cmd, NULL, NULL, FALSE, 0, NULL, NULL, &si, pi) ? 0 : -1;
}

int main(int argc, char **argv) {
  if (argc == 4 && !strcmp(argv[1], "peer")) return peer(argv[2], (uint32_t)strtoul(argv[3], 0, 10));

  char tmp[MAX_PATH], dir[RILL_PATH_MAX], tmpf[RILL_PATH_MAX], path[RILL_PATH_MAX];
  GetTempPathA(sizeof tmp, tmp);
  snprintf(dir, sizeof dir, "%srill-smoke-%lu", tmp, (unsigned long)GetCurrentProcessId());
  if (!CreateDirectoryA(dir, NULL)) {
    fprintf(stderr, "cannot make %s\n", dir);
    return 1;
  }
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
  if (m2 && m3 && hdr) {
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
    PROCESS_INFORMATION pi;
    if (spawn_peer(dir, &pi) == 0) {
      Sleep(200);
      CHECK(rill__pid_alive((uint32_t)pi.dwProcessId) == 1);
      atomic_store(w1, 2);
      rill__unpark(w1);
      CHECK(WaitForSingleObject(evh, 10000) == WAIT_OBJECT_0);
      uint64_t end = rill__mono_ns() + 10000000000ull;
      while (atomic_load(w1) != 3 && rill__mono_ns() < end) (void)rill__park(w1, 2, 1000000000ull);
      CHECK(atomic_load(w1) == 3);
      CHECK(WaitForSingleObject(pi.hProcess, 10000) == WAIT_OBJECT_0);
      DWORD code = 99;
      GetExitCodeProcess(pi.hProcess, &code);
      if (code != 0) fprintf(stderr, "the peer exited with %lu\n", (unsigned long)code);
      CHECK(code == 0);
      /* its lock went with it */
      CHECK(rill__lock_held(fd1, PEER_LOCK_OFF) == 0);
      CloseHandle(pi.hThread);
      CloseHandle(pi.hProcess);
      CHECK(rill__pid_alive((uint32_t)pi.dwProcessId) == 0);
    } else {
      fprintf(stderr, "CreateProcess failed: %lu\n", (unsigned long)GetLastError());
      failures++;
    }
    CHECK(rill__pid_alive(rill__pid()) == 1);
    rill__file_close(ev);
  }
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
  HANDLE th = CreateThread(NULL, 0, make_thread, &k, 0, NULL);
  uint64_t t0 = rill__mono_ns();
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

  if (!RemoveDirectoryA(dir)) {
    fprintf(stderr, "%s not empty (error %lu)\n", dir, (unsigned long)GetLastError());
    failures++;
  }
  if (failures) fprintf(stderr, "%d checks failed\n", failures);
  else printf("ok\n");
  return failures ? 1 : 0;
}
