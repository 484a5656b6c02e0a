/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill_bench: the real peers' shared parts: which peers this build has (and
 * how to install the others) and their versions.  Their ipc:// endpoints
 * are in bench/peers_ipc.c.  The peers run on Linux only: a Windows build
 * has none of them. */
#include "peers.h"

#include <stdio.h>

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
#ifdef _WIN32
  printf("the real peers (ZeroMQ, nng, iceoryx) are measured on Linux only\n");
#else
  for (size_t i = 0; i < NPEERS; i++)
    if (!peers[i].have)
      printf("%s: skipped, rows %s left out (apt-get install %s, or make "
             "bench-deps; then rebuild)\n",
             peers[i].name, peers[i].rows, peers[i].debs);
#endif
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
