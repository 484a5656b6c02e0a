/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill_bench: ipc:// endpoints of the real peers (ZeroMQ, nng): a UNIX
 * socket file in the run's private directory.  Linux only, as the peers. */
#include "peers.h"

#include <stdio.h>
#include <sys/un.h>
#include <unistd.h>

int bench_ipc_setup(bench_test *t, const char *prefix, char *err,
                    size_t errlen) {
  static unsigned counter;
  struct sockaddr_un sa;
  char path[sizeof t->dir + sizeof t->region + 1];
  snprintf(t->region, sizeof t->region, "%s-%d-%u", prefix, (int)getpid(),
           counter++);
  snprintf(path, sizeof path, "%s/%s", t->dir, t->region);
  if (strlen(path) >= sizeof sa.sun_path) {
    snprintf(err, errlen, "ipc path %s is longer than a UNIX socket allows",
             path);
    t->region[0] = 0;
    return -1;
  }
  unlink(path);
  bench_cleanup_register_region(t->dir, t->region);
  return 0;
}

void bench_ipc_teardown(bench_test *t) {
  if (!t->region[0]) return;
  char path[sizeof t->dir + sizeof t->region + 1];
  snprintf(path, sizeof path, "%s/%s", t->dir, t->region);
  unlink(path); /* whichever library made it may have removed it already */
  bench_cleanup_unregister_region();
  t->region[0] = 0;
}

void bench_ipc_url(const bench_test *t, char *buf, size_t len) {
  snprintf(buf, len, "ipc://%s/%s", t->dir, t->region);
}
