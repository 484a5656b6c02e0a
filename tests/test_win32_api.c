/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill's public API on Windows end to end, without tests/testutil.h: a
 * region and a channel made by this process, a reliable consumer in a
 * second process (this program started again) that receives every
 * message in order while both sides park and wake each other (a small
 * ring: the producer waits for credit, the consumer for data), the
 * consumer's event (rill_consumer_handle) signalled by a publish, the
 * region's listing, in-use test, removal and cleaning.
 * Windows only: cmake/windows-tests.cmake builds it. */
#include "rill.h"

#include <windows.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

#define CHECK(cond)                                                           \
  do {                                                                        \
    if (!(cond)) {                                                            \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      failures++;                                                             \
    }                                                                         \
  } while (0)

#define CHECK_RC(expr, want)                                                          \
  do {                                                                                \
    long long rc_ = (long long)(expr);                                                \
    if (rc_ != (long long)(want)) {                                                   \
      fprintf(stderr, "%s:%d: %s = %lld (%s, os error %d), wanted %lld\n", __FILE__,  \
              __LINE__, #expr, rc_, rill_strerror((int)rc_), rill_os_error(),         \
              (long long)(want));                                                     \
      failures++;                                                                     \
    }                                                                                 \
  } while (0)

#define MSGS 20000u
#define SEC 1000000000ull

/* The consumer process: test_win32_api.exe consume DIR */
static int consume(const char *dir) {
  rill_region_opts o = {.dir = dir};
  rill_region *r;
  int rc = rill_region_open_wait("w32api", &o, 10 * SEC, &r);
  if (rc) return fprintf(stderr, "consumer: open: %s\n", rill_strerror(rc)), 10;
  if ((rc = rill_channel_wait(r, "q", 10 * SEC)))
    return fprintf(stderr, "consumer: channel: %s\n", rill_strerror(rc)), 11;
  rill_consumer *c;
  if ((rc = rill_consumer_join(r, "q", RILL_RELIABLE, &c)))
    return fprintf(stderr, "consumer: join: %s\n", rill_strerror(rc)), 12;
  rill_consumer_set_spin(c, 0); /* park at once: the wake-up path is what is tested */
  for (uint32_t i = 0; i < MSGS; i++) {
    uint64_t buf[8];
    rill_meta m;
    int64_t n = rill_recv_wait(c, buf, sizeof buf, &m, 10 * SEC);
    if (n < 0) return fprintf(stderr, "consumer: recv %u: %s\n", i, rill_strerror((int)n)), 13;
    size_t want = 8 + (i % 7) * 8;
    if ((size_t)n != want || buf[0] != i || m.sig != i * 3u || m.lost)
      return fprintf(stderr, "consumer: message %u wrong (n %lld, first %llu)\n", i, (long long)n,
                     (unsigned long long)buf[0]), 14;
    for (size_t k = 1; k < want / 8; k++)
      if (buf[k] != i + k) return fprintf(stderr, "consumer: payload of %u wrong\n", i), 15;
  }
  rill_consumer_leave(c);
  rill_region_close(r);
  return 0;
}

static int spawn(const char *dir, PROCESS_INFORMATION *pi) {
  wchar_t exe[MAX_PATH], cmd[2 * MAX_PATH + 64], wdir[MAX_PATH];
  GetModuleFileNameW(NULL, exe, MAX_PATH);
  MultiByteToWideChar(CP_UTF8, 0, dir, -1, wdir, MAX_PATH);
  _snwprintf(cmd, sizeof cmd / sizeof *cmd, L"\"%ls\" consume \"%ls\"", exe, wdir);
  cmd[sizeof cmd / sizeof *cmd - 1] = 0;
  STARTUPINFOW si;
  memset(&si, 0, sizeof si);
  si.cb = sizeof si;
  return CreateProcessW(exe, cmd, NULL, NULL, FALSE, 0, NULL, NULL, &si, pi) ? 0 : -1;
}

static int listed(const char *name, void *arg) {
  if (!strcmp(name, "w32api")) ++*(int *)arg;
  return 0;
}

struct sender {
  rill_producer *p;
};

static DWORD WINAPI send_later(LPVOID arg) {
  struct sender *s = arg;
  Sleep(100);
  uint64_t v = 42;
  rill_send(s->p, &v, sizeof v, 7);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "consume")) return consume(argv[2]);

  char tmp[MAX_PATH], dir[MAX_PATH + 64];
  GetTempPathA(sizeof tmp, tmp);
  snprintf(dir, sizeof dir, "%srill-api-%lu", tmp, (unsigned long)GetCurrentProcessId());
  if (!CreateDirectoryA(dir, NULL)) return fprintf(stderr, "cannot make %s\n", dir), 1;

  rill_region_opts o = {.size = 4u << 20, .dir = dir};
  rill_region *r = NULL;
  CHECK_RC(rill_region_create("w32api", &o, &r), 0);
  if (!r) return 1;
  rill_region *r2 = NULL;
  CHECK_RC(rill_region_create("w32api", &o, &r2), -RILL_EEXIST);
  /* a small ring: the producer runs out of credit and waits */
  rill_channel_opts co = {.depth = 64, .mtu = 64, .max_consumers = 4};
  CHECK_RC(rill_channel_create(r, "q", &co), 0);
  rill_producer *p = NULL;
  CHECK_RC(rill_producer_join(r, "q", &p), 0);
  rill_producer *p2 = NULL;
  CHECK_RC(rill_producer_join(r, "q", &p2), -RILL_EBUSY); /* the producer's lock */
  rill_producer_set_spin(p, 0);

  /* ---- the consumer's event, in this process, on a channel of its own */
  rill_producer *pe = NULL;
  CHECK_RC(rill_channel_create(r, "e", &co), 0);
  CHECK_RC(rill_producer_join(r, "e", &pe), 0);
  rill_region *ro = NULL;
  CHECK_RC(rill_region_open("w32api", &o, &ro), 0);
  rill_consumer *c = NULL;
  CHECK_RC(rill_consumer_join(ro, "e", RILL_LOSSY, &c), 0);
  if (pe && c) {
    void *h = NULL;
    CHECK_RC(rill_consumer_handle(c, &h), 0);
    CHECK_RC(rill_consumer_arm(c), 0);
    CHECK(WaitForSingleObject(h, 0) == WAIT_TIMEOUT);
    struct sender s = {pe};
    HANDLE th = CreateThread(NULL, 0, send_later, &s, 0, NULL);
    CHECK(WaitForSingleObject(h, 5000) == WAIT_OBJECT_0);
    WaitForSingleObject(th, INFINITE);
    CloseHandle(th);
    uint64_t v = 0;
    rill_meta m;
    CHECK_RC(rill_recv(c, &v, sizeof v, &m), 8);
    CHECK(v == 42 && m.sig == 7);
    CHECK_RC(rill_consumer_arm(c), 0);
    CHECK(WaitForSingleObject(h, 0) == WAIT_TIMEOUT);
  }
  CHECK_RC(rill_consumer_leave(c), 0);
  CHECK_RC(rill_producer_leave(pe), 0);

  /* ---- a reliable consumer in another process */
  PROCESS_INFORMATION pi;
  if (p && spawn(dir, &pi) == 0) {
    CHECK_RC(rill_producer_wait_consumers(p, 1, 20 * SEC), 1);
    uint64_t buf[8];
    for (uint32_t i = 0; i < MSGS; i++) {
      size_t n = 8 + (i % 7) * 8;
      for (size_t k = 0; k < n / 8; k++) buf[k] = i + k;
      int rc = rill_send_wait(p, buf, n, (uint64_t)i * 3u, 10 * SEC);
      if (rc) {
        fprintf(stderr, "send %u: %s\n", i, rill_strerror(rc));
        failures++;
        break;
      }
    }
    CHECK(WaitForSingleObject(pi.hProcess, 60000) == WAIT_OBJECT_0);
    DWORD code = 99;
    GetExitCodeProcess(pi.hProcess, &code);
    if (code) fprintf(stderr, "the consumer process exited with %lu\n", (unsigned long)code);
    CHECK(code == 0);
    CloseHandle(pi.hThread);
    CloseHandle(pi.hProcess);
  } else {
    failures++;
  }

  /* ---- listing, in use, info */
  int seen = 0;
  CHECK_RC(rill_region_list(dir, listed, &seen), 1);
  CHECK(seen == 1);
  CHECK(rill_region_in_use("w32api", dir) == 1);
  rill_region_info info;
  CHECK_RC(rill_region_info_get(ro, &info), 0);
  CHECK(info.size == 4u << 20);

  CHECK_RC(rill_producer_leave(p), 0);
  CHECK_RC(rill_region_close(ro), 0);
  CHECK_RC(rill_region_close(r), 0);
  CHECK(rill_region_in_use("w32api", dir) == 0);

  /* ---- removal: the name is free at once; cleaning finds nothing left */
  CHECK_RC(rill_region_unlink("w32api", dir), 0);
  CHECK_RC(rill_region_unlink("w32api", dir), -RILL_ENOENT);
  CHECK_RC(rill_region_open("w32api", &o, &r), -RILL_ENOENT);
  CHECK_RC(rill_region_create("w32api", &o, &r), 0);
  CHECK_RC(rill_region_close(r), 0);
  CHECK_RC(rill_region_clean(dir, 0, NULL, NULL), 0);
  CHECK_RC(rill_region_unlink("w32api", dir), 0);

  /* ---- the default directory, %LOCALAPPDATA%\rill, made on first use */
  SetEnvironmentVariableW(L"RILL_DIR", NULL);
  rill_region_opts od = {.size = 1u << 20};
  CHECK_RC(rill_region_create("w32default", &od, &r), 0);
  CHECK_RC(rill_region_close(r), 0);
  char ladir[MAX_PATH], dpath[MAX_PATH + 64];
  DWORD ln = GetEnvironmentVariableA("LOCALAPPDATA", ladir, sizeof ladir);
  CHECK(ln > 0 && ln < sizeof ladir);
  snprintf(dpath, sizeof dpath, "%s\\rill\\w32default", ladir);
  CHECK(GetFileAttributesA(dpath) != INVALID_FILE_ATTRIBUTES);
  CHECK_RC(rill_region_unlink("w32default", NULL), 0);
  CHECK(GetFileAttributesA(dpath) == INVALID_FILE_ATTRIBUTES);

  if (!RemoveDirectoryA(dir)) {
    fprintf(stderr, "%s not empty (error %lu)\n", dir, (unsigned long)GetLastError());
    failures++;
  }
  if (failures) fprintf(stderr, "%d checks failed\n", failures);
  else printf("ok\n");
  return failures ? 1 : 0;
}
