/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill quick start: a producer and a consumer in two processes. */
#include <rill.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
  rill_region *r;
  int rc = rill_region_create("quickstart", &(rill_region_opts){.size = 8 << 20}, &r);
  if (rc) { fprintf(stderr, "create: %s\n", rill_strerror(rc)); return 1; }
  rill_channel_create(r, "greetings", &(rill_channel_opts){.depth = 1024, .mtu = 256});
  rill_consumer *c; /* join before the first message so that none is missed */
  rill_consumer_join(r, "greetings", RILL_RELIABLE, &c);
  if (fork() == 0) { /* the producer */
    rill_producer *p;
    rill_producer_join(r, "greetings", &p);
    for (uint64_t i = 0; i < 5; i++) {
      char msg[64];
      int n = snprintf(msg, sizeof msg, "hello #%llu", (unsigned long long)i);
      while (rill_send(p, msg, (size_t)n, i) == -RILL_EAGAIN) {} /* backpressure */
    }
    rill_producer_leave(p);
    _exit(0);
  }
  char buf[256];
  rill_meta m;
  for (int got = 0; got < 5;) {
    int64_t n = rill_recv(c, buf, sizeof buf, &m);
    if (n >= 0) printf("sig %llu: %.*s\n", (unsigned long long)m.sig, (int)n, buf), got++;
  }
  wait(NULL);
  rill_consumer_leave(c);
  rill_region_close(r);
  return rill_region_unlink("quickstart", NULL) ? 1 : 0;
}
