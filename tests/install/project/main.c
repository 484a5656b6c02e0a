/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* A user's program built against an installed rill (tests/install): the
 * header and the library it links agree on the version, and a message goes
 * through a channel. */
#include <rill.h>
#include <stdio.h>
#include <string.h>

#if !RILL_CHECK_VERSION(0, 2, 0)
#error "rill 0.2.0 or newer is needed"
#endif

static int fail(const char *what, int rc) {
  fprintf(stderr, "%s: %s\n", what, rill_strerror(rc));
  return 1;
}

int main(void) {
  if (rill_version() != RILL_VERSION) {
    fprintf(stderr, "header %d, library %d (%s)\n", RILL_VERSION, rill_version(),
            rill_version_string());
    return 1;
  }
  rill_region *r;
  rill_region_opts ro = {.size = 1 << 20};
  int rc = rill_region_create("install-test", &ro, &r);
  if (rc) return fail("rill_region_create", rc);
  rill_channel_opts co = {.depth = 64, .mtu = 64};
  rill_consumer *c;
  rill_producer *p;
  char buf[64];
  rill_meta m;
  int64_t n = -1;
  if ((rc = rill_channel_create(r, "c", &co)) || (rc = rill_consumer_join(r, "c", RILL_RELIABLE, &c)) ||
      (rc = rill_producer_join(r, "c", &p)) || (rc = rill_send(p, "installed", 9, 7)))
    return fail("channel", rc);
  n = rill_recv(c, buf, sizeof buf, &m);
  rill_producer_leave(p);
  rill_consumer_leave(c);
  rill_region_close(r);
  rill_region_unlink("install-test", NULL);
  if (n != 9 || m.sig != 7 || memcmp(buf, "installed", 9) != 0) {
    fprintf(stderr, "received %lld bytes, sig %llu\n", (long long)n, (unsigned long long)m.sig);
    return 1;
  }
  printf("rill %s: one message through, as %s\n", rill_version_string(), "expected");
  return 0;
}
