/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* Reading the NATS bridge's files (bridge.h) for info, monitor and
 * --prometheus: built on every POSIX system, whether this rill was built
 * with NATS or not.  On Windows there are no bridges: none are found. */
#include "bridge.h"
#include "cli.h"

#include <stdio.h>
#include <string.h>

int bridge_path(const char *dir, const char *region, const char *chan, int direction, char *buf,
                size_t cap) {
  int n = snprintf(buf, cap, "%s/.rill-bridge@%s@%s@%s", cli_dir_name(dir), region, chan,
                   direction == BRIDGE_OUT ? "out" : "in");
  return n < 0 || (size_t)n >= cap ? -1 : 0;
}

const char *bridge_direction_name(uint32_t d) {
  return d == BRIDGE_OUT ? "out" : d == BRIDGE_IN ? "in" : "?";
}
const char *bridge_mode_name(uint32_t m) {
  return m == BRIDGE_CORE ? "core" : m == BRIDGE_JETSTREAM ? "jetstream" : "?";
}
const char *bridge_nats_name(uint32_t s) {
  switch (s) {
  case BRIDGE_NATS_CONNECTING: return "connecting";
  case BRIDGE_NATS_CONNECTED: return "connected";
  case BRIDGE_NATS_RECONNECTING: return "reconnecting";
  case BRIDGE_NATS_CLOSED: return "closed";
  default: return "?";
  }
}

#ifdef _WIN32
int bridge_read(const char *dir, const char *region, const char *chan, bridge_seen *out, int max) {
  (void)dir, (void)region, (void)chan, (void)out, (void)max;
  return 0;
}
#else
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

int bridge_read(const char *dir, const char *region, const char *chan, bridge_seen *out, int max) {
  int n = 0;
  for (int d = BRIDGE_OUT; d <= BRIDGE_IN && n < max; d++) {
    char path[4096];
    if (bridge_path(dir, region, chan, d, path, sizeof path)) continue;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) continue;
    bridge_seen *s = &out[n];
    ssize_t got = pread(fd, &s->f, sizeof s->f, 0);
    if (got == (ssize_t)sizeof s->f && !memcmp(s->f.magic, BRIDGE_MAGIC, 8) &&
        s->f.version == BRIDGE_VERSION && s->f.direction == (uint32_t)d) {
      s->f.subject[sizeof s->f.subject - 1] = 0;
      s->f.server[sizeof s->f.server - 1] = 0;
      /* The bridge holds an exclusive lock while it runs. */
      if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
        s->alive = 0;
        flock(fd, LOCK_UN);
      } else {
        s->alive = errno == EWOULDBLOCK;
      }
      n++;
    }
    close(fd);
  }
  return n;
}
#endif
