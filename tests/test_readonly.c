/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* Looking at a region needs only the right to read it, and tells the truth
 * about who owns it:
 *   - another user can open a region made readable to it (mode 0644)
 *     with RILL_REGION_READONLY, list it, ask whether it is in use, and
 *     read its info and every stats call; it cannot open it read-write,
 *     join it as producer or consumer, or create a channel (EACCES);
 *   - a region it may not read (0600) stays closed to it (EACCES);
 *   - rill_region_info.owner_uid is the file's owner as the kernel says,
 *     whatever the header's creator_uid (which the file's owner can
 *     write) claims.
 * Before RILL_REGION_READONLY every open was read-write: the other user
 * got EACCES from open, and rill_region_list() skipped the region.
 * Needs root (to act as another user); skips otherwise. */
#include "layout.h"
#include "testutil.h"

#include <grp.h>

#define OTHER 65534u /* "nobody": no file of the test is its */

static void as_other(void *arg) {
  (void)arg;
  CHECKF(setgroups(0, NULL) == 0 && setgid(OTHER) == 0 && setuid(OTHER) == 0,
         "dropping privileges: %s", strerror(errno));
  prctl(PR_SET_PDEATHSIG, SIGKILL); /* cleared by setuid */
  CHECK_EQ(geteuid(), OTHER);
  rill_region_opts o = tu_opts(0), ro = o;
  ro.flags = RILL_REGION_READONLY;
  rill_region *r;
  CHECK_RC(rill_region_open("shared", &o, &r), -RILL_EACCES);
  CHECK_RC(rill_region_open("private", &ro, &r), -RILL_EACCES);
  CHECK_OK(rill_region_open("shared", &ro, &r));

  rill_region_info ri;
  CHECK_OK(rill_region_info_get(r, &ri));
  CHECK_EQ(ri.size, 1u << 20);
  CHECK_EQ(ri.owner_uid, 0);
  CHECK_EQ(ri.nobjects, 1);
  rill_object_info oi;
  CHECK_OK(rill_region_object_get(r, 0, &oi));
  CHECK(!strcmp(oi.name, "c"));
  rill_channel_stats st;
  CHECK_OK(rill_channel_stats_get(r, "c", &st));
  CHECK_EQ(st.msgs, 10);
  CHECK_EQ(st.nconsumers, 1);
  CHECK_EQ(st.producer_liveness, RILL_PEER_ALIVE); /* lock queries work read-only */
  rill_consumer_stats cs;
  CHECK_OK(rill_consumer_stats_get(r, "c", 0, &cs));
  CHECK_EQ(cs.mode, RILL_RELIABLE);
  CHECK_EQ(cs.msgs, 10);
  CHECK_EQ(cs.liveness, RILL_PEER_ALIVE);
  rill_latency h;
  CHECK_OK(rill_latency_get(r, "c", 0, &h));
  /* Waiting for a channel works without a mapping (pread and naps). */
  CHECK_OK(rill_channel_wait(r, "c", 1000000000ull));
  CHECK_RC(rill_channel_wait(r, "nope", 30000000ull), -RILL_ETIMEDOUT);

  rill_producer *p;
  rill_consumer *c;
  CHECK_RC(rill_producer_join(r, "c", &p), -RILL_EACCES);
  CHECK_RC(rill_consumer_join(r, "c", RILL_LOSSY, &c), -RILL_EACCES);
  CHECK_RC(rill_consumer_rejoin(r, "c", 0, &c), -RILL_EACCES);
  CHECK_RC(rill_channel_create(r, "d", NULL), -RILL_EACCES);
  rill_region_close(r);

  /* It lists the one it may read (the other: no magic to be seen). */
  CHECK_EQ(rill_region_list(tu_dir(), NULL, NULL), 1);
  CHECK_EQ(rill_region_in_use("shared", tu_dir()), 1);
  CHECK_RC(rill_region_in_use("private", tu_dir()), -RILL_EACCES);
}

int main(void) {
  tu_start("readonly", 30);
  if (geteuid() != 0) tu_skip("needs root, to act as another user");
  CHECK(chmod(tu_dir(), 0755) == 0);
  rill_region_opts o = tu_opts(1 << 20);
  o.mode = 0644;
  rill_region *r, *q;
  CHECK_OK(rill_region_create("shared", &o, &r));
  o.mode = 0600;
  CHECK_OK(rill_region_create("private", &o, &q));
  rill_region_close(q);
  rill_channel_opts co = {.depth = 64, .mtu = 64, .max_consumers = 2};
  CHECK_OK(rill_channel_create(r, "c", &co));
  rill_producer *p;
  rill_consumer *c;
  CHECK_OK(rill_producer_join(r, "c", &p));
  CHECK_OK(rill_consumer_join(r, "c", RILL_RELIABLE, &c));
  uint8_t msg[8] = {0};
  rill_meta m;
  for (int i = 0; i < 10; i++) CHECK_OK(rill_send(p, msg, sizeof msg, 0));
  for (int i = 0; i < 10; i++) CHECK_EQ(rill_recv(c, msg, sizeof msg, &m), 8);
  CHECK_OK(rill_producer_flush(p));
  CHECK_OK(rill_consumer_flush(c));

  /* The owner is the file's, not what the header says. */
  char path[512];
  tu_path(path, sizeof path, "shared");
  int fd = open(path, O_RDWR);
  CHECK(fd >= 0);
  uint32_t fake = 4242;
  CHECK(pwrite(fd, &fake, sizeof fake, offsetof(rill_region_hdr, creator_uid)) == sizeof fake);
  close(fd);
  rill_region_info ri;
  CHECK_OK(rill_region_info_get(r, &ri));
  CHECK_EQ(ri.creator_uid, 4242);
  CHECK_EQ(ri.owner_uid, geteuid());
  CHECK(chown(path, 4343, (gid_t)-1) == 0);
  CHECK_OK(rill_region_info_get(r, &ri));
  CHECK_EQ(ri.owner_uid, 4343);
  CHECK(chown(path, 0, (gid_t)-1) == 0);

  tu_wait(tu_fork("another user", as_other, NULL));

  rill_consumer_leave(c);
  rill_producer_leave(p);
  rill_region_close(r);
  return tu_pass("another user looks at a 0644 region read-only; the owner is the file's");
}
