/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* A user's program built against an installed rill's freestanding core
 * (tests/install): librill_core.a alone, a channel in a static buffer, a
 * message from its producer to its consumer. */
#include <rill_core.h>
#include <stdio.h>
#include <string.h>

static _Alignas(RILL_CORE_ALIGN) unsigned char mem[1 << 20];

int main(void) {
  rill_channel_opts o = {.depth = 64, .mtu = 64};
  uint64_t size = rill_core_channel_footprint(&o);
  rill_core_producer p;
  rill_core_consumer c;
  char buf[64];
  rill_meta m;
  int rc;
  if (!size || size > sizeof mem) return 1;
  if ((rc = rill_core_channel_new(mem, size, "c", &o, 0)) ||
      (rc = rill_core_consumer_join(&c, mem, size, 0, RILL_RELIABLE)) ||
      (rc = rill_core_producer_join(&p, mem, size)) ||
      (rc = rill_core_send(&p, "core", 4, 7, 0))) {
    fprintf(stderr, "core: error %d\n", rc);
    return 1;
  }
  int64_t n = rill_core_recv(&c, buf, sizeof buf, &m);
  rill_core_producer_leave(&p);
  rill_core_consumer_leave(&c);
  if (n != 4 || m.sig != 7 || memcmp(buf, "core", 4) != 0) {
    fprintf(stderr, "received %lld bytes, sig %llu\n", (long long)n, (unsigned long long)m.sig);
    return 1;
  }
  printf("rill core: one message through a channel in a static buffer\n");
  return 0;
}
