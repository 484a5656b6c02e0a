/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* The helpers of the fuzz targets (fuzz.h). */
#include "fuzz.h"

#include "internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256];

static void dir_remove(void) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  char path[512];
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    unlink(path);
  }
  closedir(d);
  rmdir(dir);
}

void fuzz_fail(const char *what, long long a, long long b) {
  fprintf(stderr, "rill fuzz: FAILED: %s [%lld, %lld]\n", what, a, b);
  dir_remove(); /* abort() runs no atexit() handler */
  abort();
}

const char *fuzz_dir(void) {
  if (dir[0]) return dir;
  const char *top = getenv("RILL_FUZZ_TMP");
  snprintf(dir, sizeof dir, "%s/rill-fuzz-XXXXXX", top && *top ? top : "/dev/shm");
  if (!mkdtemp(dir)) {
    perror("rill fuzz: mkdtemp");
    abort();
  }
  atexit(dir_remove);
  return dir;
}

int fuzz_write_file(const char *name, const uint8_t *data, size_t n) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", fuzz_dir(), name);
  unlink(path); /* a fresh inode: no lock or mapping of the last run on it */
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) return -1;
  while (n) {
    ssize_t w = write(fd, data, n);
    if (w <= 0) { close(fd); return -1; }
    data += w;
    n -= (size_t)w;
  }
  return close(fd);
}

uint8_t *fuzz_map_file(const char *name, size_t *size) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", fuzz_dir(), name);
  int fd = open(path, O_RDWR);
  if (fd < 0) return NULL;
  struct stat st;
  void *m = MAP_FAILED;
  if (fstat(fd, &st) == 0 && st.st_size > 0)
    m = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (m == MAP_FAILED) return NULL;
  *size = (size_t)st.st_size;
  return m;
}

/* Reads every byte of [P, P + N): a read out of bounds is the sanitizer's
 * to see, and the compiler may not drop it. */
static void touch(const void *p, size_t n) {
  const volatile uint8_t *b = p;
  uint8_t x = 0;
  for (size_t i = 0; i < n; i++) x ^= b[i];
  (void)x;
}

/* [P, P + N) lies inside C's data ring. */
static int in_ring(const rill_consumer *c, const void *p, uint64_t n) {
  const uint8_t *b = p;
  return b >= c->core.data && (uint64_t)(b - c->core.data) <= c->core.data_bytes &&
         n <= c->core.data_bytes - (uint64_t)(b - c->core.data);
}

void fuzz_check_poll(rill_consumer *c, int rc, const rill_view *v) {
  FUZZ_CHECK(rc == 0 || rc == -RILL_EAGAIN || rc == -RILL_EOVERRUN || rc == -RILL_ECORRUPT,
             rc, 0);
  if (rc == -RILL_EOVERRUN) FUZZ_CHECK(v->lost > 0, v->lost, 0);
  if (rc) return;
  FUZZ_CHECK(v->sz <= c->core.mtu, v->sz, c->core.mtu);
  FUZZ_CHECK(in_ring(c, v->data, v->sz), (const uint8_t *)v->data - c->core.data, v->sz);
  touch(v->data, v->sz);
}

void fuzz_check_recv(rill_consumer *c, int64_t rc, size_t cap, const rill_meta *m,
                     const void *data, const void *buf) {
  FUZZ_CHECK(rc >= 0 || rc == -RILL_EAGAIN || rc == -RILL_EMSGSIZE || rc == -RILL_ENOMEM,
             rc, 0);
  if (rc == -RILL_EMSGSIZE) FUZZ_CHECK(m->sz > cap && m->sz <= c->core.max_msg, m->sz, cap);
  if (rc < 0) return;
  FUZZ_CHECK((uint64_t)rc == m->sz && m->sz <= c->core.max_msg, rc, m->sz);
  if (data && data != buf) /* left in shared memory: a whole fragment, whatever CAP */
    FUZZ_CHECK(in_ring(c, data, (uint64_t)rc) && (uint64_t)rc <= c->core.mtu, rc, c->core.mtu);
  else
    FUZZ_CHECK(m->sz <= cap, m->sz, cap);
  if (data) touch(data, (size_t)rc);
}

uint64_t fuzz_consumer_seq(const rill_consumer *c) { return c->core.seq; }

void fuzz_livelock(const char *what, uint64_t seq, uint64_t polls) {
  static int warned;
  static uint64_t count;
  const char *e = getenv("RILL_FUZZ_LIVELOCK");
  int fatal = RILL_FUZZ_LIVELOCK_FATAL;
  if (e && !strcmp(e, "fatal")) fatal = 1;
  if (e && !strcmp(e, "warn")) fatal = 0;
  if (fatal) fuzz_fail(what, (long long)seq, (long long)polls);
  count++;
  if (!warned) {
    warned = 1;
    fprintf(stderr, "rill fuzz: warning (RILL_FUZZ_LIVELOCK=warn): %s at seq %llu after "
            "%llu polls; further ones are not printed\n", what, (unsigned long long)seq,
            (unsigned long long)polls);
  }
}
