/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill_bench: the real peers' shared parts: which peers this build has (and
 * how to install the others), their versions, and ipc:// endpoints. */
#include "peers.h"

#include <stdio.h>
#include <sys/un.h>
#include <unistd.h>

#ifdef RILL_HAVE_ZMQ
#include <zmq.h>
#endif
#ifdef RILL_HAVE_NNG
#include <nng/nng.h>
#endif

typedef struct peer_info {
  const char *name;  /* as in the skipped line and the JSON "peers" */
  int have;          /* built with it                               */
  const char *rows;  /* its rows                                    */
  const char *debs;  /* Debian packages that bring it               */
} peer_info;

static const peer_info peers[] = {
#ifdef RILL_HAVE_ZMQ
    {"zeromq", 1, "zmq-pushpull, zmq-pair", "libzmq3-dev"},
#else
    {"zeromq", 0, "zmq-pushpull, zmq-pair", "libzmq3-dev"},
#endif
#ifdef RILL_HAVE_NNG
    {"nng", 1, "nng-pushpull, nng-pair", "libnng-dev"},
#else
    {"nng", 0, "nng-pushpull, nng-pair", "libnng-dev"},
#endif
#ifdef RILL_HAVE_ICEORYX
    {"iceoryx", 1, "iceoryx", "iceoryx libiceoryx-binding-c-dev"},
#else
    {"iceoryx", 0, "iceoryx", "iceoryx libiceoryx-binding-c-dev"},
#endif
};

#define NPEERS (sizeof peers / sizeof peers[0])

void bench_peers_print_skipped(void) {
  for (size_t i = 0; i < NPEERS; i++)
    if (!peers[i].have)
      printf("%s: skipped, rows %s left out (apt-get install %s, or make "
             "bench-deps; then rebuild)\n",
             peers[i].name, peers[i].rows, peers[i].debs);
}

/* The library version this build runs with, or NULL when it is left out. */
static const char *peer_version(size_t i, char *buf, size_t len) {
  if (!peers[i].have) return NULL;
  snprintf(buf, len, "unknown");
#ifdef RILL_HAVE_ZMQ
  if (i == 0) {
    int a, b, c;
    zmq_version(&a, &b, &c);
    snprintf(buf, len, "%d.%d.%d", a, b, c);
  }
#endif
#ifdef RILL_HAVE_NNG
  if (i == 1) snprintf(buf, len, "%s", nng_version());
#endif
#if defined(RILL_HAVE_ICEORYX) && defined(RILL_ICEORYX_VERSION)
  if (i == 2) snprintf(buf, len, "%s", RILL_ICEORYX_VERSION);
#endif
  return buf;
}

void bench_peers_json(FILE *f) {
  fputs("{", f);
  for (size_t i = 0; i < NPEERS; i++) {
    char v[64];
    const char *ver = peer_version(i, v, sizeof v);
    fprintf(f, "%s\"%s\": ", i ? ", " : "", peers[i].name);
    if (ver)
      fprintf(f, "\"%s\"", ver);
    else
      fputs("null", f);
  }
  fputs("}", f);
}

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
