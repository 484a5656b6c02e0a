/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill's public API on Windows end to end: a region and a channel made by
 * this process, a reliable consumer in a second process (tu_spawn()) that
 * receives every message in order while both sides park and wake each
 * other (a small ring: the producer waits for credit, the consumer for
 * data), the consumer's event (rill_consumer_handle) signalled by a
 * publish, the region's listing, in-use test, removal and cleaning, the
 * default directory, and RILL_REGION_HUGE refused (-RILL_ENOHUGE).
 * Windows only: cmake/windows-tests.cmake builds it (the portable tests
 * check the same API on both systems; this one checks what only Windows
 * has: the event HANDLE, %LOCALAPPDATA%\rill). */
#include "testutil.h"

#if !TU_WINDOWS
#error "test_win32_api is a Windows test (cmake/windows-tests.cmake)"
#endif

#define MSGS 20000u
#define SEC 1000000000ull

/* The consumer process: receives and checks every message. */
static void consume(void *arg) {
  (void)arg;
  rill_region_opts o = {.dir = tu_dir()};
  rill_region *r;
  CHECK_OK(rill_region_open_wait("w32api", &o, 10 * SEC, &r));
  CHECK_OK(rill_channel_wait(r, "q", 10 * SEC));
  rill_consumer *c;
  CHECK_OK(rill_consumer_join(r, "q", RILL_RELIABLE, &c));
  rill_consumer_set_spin(c, 0); /* park at once: the wake-up path is what is tested */
  for (uint32_t i = 0; i < MSGS; i++) {
    uint64_t buf[8];
    rill_meta m;
    int64_t n = rill_recv_wait(c, buf, sizeof buf, &m, 10 * SEC);
    CHECKF(n >= 0, "recv %u: %s", i, rill_strerror((int)n));
    size_t want = 8 + (i % 7) * 8;
    CHECKF((size_t)n == want && buf[0] == i && m.sig == i * 3u && !m.lost,
           "message %u wrong (n %lld, first %llu)", i, (long long)n,
           (unsigned long long)buf[0]);
    for (size_t k = 1; k < want / 8; k++) CHECKF(buf[k] == i + k, "payload of %u wrong", i);
  }
  rill_consumer_leave(c);
  rill_region_close(r);
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

static const tu_role roles[] = {TU_ROLE(consume), {0}};

int main(int argc, char **argv) {
  tu_start_roles("test_win32_api", 240, argc, argv, roles);
  const char *dir = tu_dir();

  rill_region_opts o = {.size = 4u << 20, .dir = dir};
  rill_region *r = NULL;
  /* No huge pages for files on Windows: refused at once, nothing left. */
  o.flags = RILL_REGION_HUGE;
  CHECK_RC(rill_region_create("w32api", &o, &r), -RILL_ENOHUGE);
  CHECK(tu_dir_entries(dir) == 0);
  o.flags = 0;
  CHECK_OK(rill_region_create("w32api", &o, &r));
  rill_region *r2 = NULL;
  CHECK_RC(rill_region_create("w32api", &o, &r2), -RILL_EEXIST);
  /* a small ring: the producer runs out of credit and waits */
  rill_channel_opts co = {.depth = 64, .mtu = 64, .max_consumers = 4};
  CHECK_OK(rill_channel_create(r, "q", &co));
  rill_producer *p = NULL;
  CHECK_OK(rill_producer_join(r, "q", &p));
  rill_producer *p2 = NULL;
  CHECK_RC(rill_producer_join(r, "q", &p2), -RILL_EBUSY); /* the producer's lock */
  rill_producer_set_spin(p, 0);

  /* ---- the consumer's event, in this process, on a channel of its own */
  rill_producer *pe = NULL;
  CHECK_OK(rill_channel_create(r, "e", &co));
  CHECK_OK(rill_producer_join(r, "e", &pe));
  rill_region *ro = NULL;
  CHECK_OK(rill_region_open("w32api", &o, &ro));
  rill_consumer *c = NULL;
  CHECK_OK(rill_consumer_join(ro, "e", RILL_LOSSY, &c));
  void *h = NULL;
  CHECK_OK(rill_consumer_handle(c, &h));
  /* The producer is LAZY and nobody asked it to fence yet (PROTOCOL.md
   * §3.7a): the first arm asks, and says "look"; the producer's next
   * publish fences and signals the event. */
  CHECK_RC(rill_consumer_arm(c), 1);
  CHECK(WaitForSingleObject(h, 0) == WAIT_TIMEOUT);
  struct sender s = {pe};
  HANDLE th = CreateThread(NULL, 0, send_later, &s, 0, NULL);
  CHECK(th != NULL);
  CHECK(WaitForSingleObject(h, 5000) == WAIT_OBJECT_0);
  WaitForSingleObject(th, INFINITE);
  CloseHandle(th);
  uint64_t v = 0;
  rill_meta m;
  CHECK_RC(rill_recv(c, &v, sizeof v, &m), 8);
  CHECK(v == 42 && m.sig == 7);
  CHECK_OK(rill_consumer_arm(c));
  CHECK(WaitForSingleObject(h, 0) == WAIT_TIMEOUT);
  CHECK_OK(rill_consumer_leave(c));
  CHECK_OK(rill_producer_leave(pe));

  /* ---- a reliable consumer in another process */
  tu_pid kid = tu_spawn("consumer", consume, NULL);
  CHECK_RC(rill_producer_wait_consumers(p, 1, 20 * SEC), 1);
  uint64_t buf[8];
  for (uint32_t i = 0; i < MSGS; i++) {
    size_t n = 8 + (i % 7) * 8;
    for (size_t k = 0; k < n / 8; k++) buf[k] = i + k;
    int rc = rill_send_wait(p, buf, n, (uint64_t)i * 3u, 10 * SEC);
    CHECKF(rc == 0, "send %u: %s", i, rill_strerror(rc));
  }
  tu_wait(kid); /* it must exit 0: every message arrived, in order */

  /* ---- listing, in use, info */
  int seen = 0;
  CHECK_RC(rill_region_list(dir, listed, &seen), 1);
  CHECK(seen == 1);
  CHECK(rill_region_in_use("w32api", dir) == 1);
  rill_region_info info;
  CHECK_OK(rill_region_info_get(ro, &info));
  CHECK(info.size == 4u << 20);
  CHECK(info.page_size == 4096);

  CHECK_OK(rill_producer_leave(p));
  CHECK_OK(rill_region_close(ro));
  CHECK_OK(rill_region_close(r));
  CHECK(rill_region_in_use("w32api", dir) == 0);

  /* ---- removal: the name is free at once; cleaning finds nothing left */
  CHECK_OK(rill_region_unlink("w32api", dir));
  CHECK_RC(rill_region_unlink("w32api", dir), -RILL_ENOENT);
  CHECK_RC(rill_region_open("w32api", &o, &r), -RILL_ENOENT);
  CHECK_OK(rill_region_create("w32api", &o, &r));
  CHECK_OK(rill_region_close(r));
  CHECK_OK(rill_region_clean(dir, 0, NULL, NULL));
  CHECK_OK(rill_region_unlink("w32api", dir));

  /* ---- the default directory, %LOCALAPPDATA%\rill, made on first use.
   * The name is "rt-PID-...": the watchdog removes it if a check fails
   * before the test does (tu_clean_default). */
  char dname[64];
  snprintf(dname, sizeof dname, "rt-%d-w32default", (int)tu_getpid());
  tu_unsetenv("RILL_DIR");
  rill_region_opts od = {.size = 1u << 20};
  CHECK_OK(rill_region_create(dname, &od, &r));
  CHECK_OK(rill_region_close(r));
  char ladir[MAX_PATH], dpath[MAX_PATH + 64];
  DWORD ln = GetEnvironmentVariableA("LOCALAPPDATA", ladir, sizeof ladir);
  CHECK(ln > 0 && ln < sizeof ladir);
  snprintf(dpath, sizeof dpath, "%s\\rill\\%s", ladir, dname);
  CHECK(GetFileAttributesA(dpath) != INVALID_FILE_ATTRIBUTES);
  CHECK_OK(rill_region_unlink(dname, NULL));
  CHECK(GetFileAttributesA(dpath) == INVALID_FILE_ATTRIBUTES);

  /* nothing is left in the directory (the watchdog removes it) */
  CHECK_EQ(tu_dir_entries(dir), 0);
  return tu_pass("a consumer process, the event, listing, removal, the default directory");
}
