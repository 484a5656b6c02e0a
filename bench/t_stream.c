/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill_bench references through the kernel: a pipe and a UNIX stream socket
 * (socketpair).  Blocking descriptors with their default buffer sizes; the
 * sender writes whole messages, the receiver reads exactly N bytes per
 * message.  Round trips use two pipes, or the one socketpair both ways.
 */
#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct stream_ep {
  int rfd, wfd;
  unsigned char *sbuf, *rbuf;
} stream_ep;

static int pipe_setup(bench_test *t, char *err, size_t errlen) {
  if (pipe(t->fd) != 0) goto fail;
  if (t->kind == BENCH_RTT && pipe(t->fd + 2) != 0) goto fail;
  return 0;
fail:
  snprintf(err, errlen, "pipe: %s", strerror(errno));
  return -1;
}

static int unix_setup(bench_test *t, char *err, size_t errlen) {
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, t->fd) != 0) {
    snprintf(err, errlen, "socketpair: %s", strerror(errno));
    return -1;
  }
  return 0;
}

static void stream_close(void *vep) {
  stream_ep *e = vep;
  if (!e) return;
  if (e->rfd >= 0) close(e->rfd);
  if (e->wfd >= 0 && e->wfd != e->rfd) close(e->wfd);
  bench_free(e->sbuf);
  bench_free(e->rbuf);
  free(e);
}

/* Keeps descriptors KEEP_R and KEEP_W of t->fd, closes the rest (so that a
 * peer's death shows up as EOF or EPIPE). */
static int stream_open_fds(bench_test *t, int keep_r, int keep_w, void **out) {
  stream_ep *e = calloc(1, sizeof *e);
  if (!e) return bench_fail("out of memory");
  e->rfd = keep_r >= 0 ? t->fd[keep_r] : -1;
  e->wfd = keep_w >= 0 ? t->fd[keep_w] : -1;
  for (int i = 0; i < 4; i++)
    if (i != keep_r && i != keep_w && t->fd[i] >= 0) close(t->fd[i]);
  e->sbuf = bench_alloc(BENCH_MAX_SIZE);
  e->rbuf = bench_alloc(BENCH_MAX_SIZE);
  if (!e->sbuf || !e->rbuf) {
    stream_close(e);
    return -1;
  }
  bench_msg_template(e->sbuf, t->size);
  *out = e;
  return 0;
}

static int pipe_open(bench_test *t, int side, void **out) {
  /* fd[0..1]: side 0 -> side 1; fd[2..3] (round trips): side 1 -> side 0 */
  if (t->kind == BENCH_TPUT)
    return side == 0 ? stream_open_fds(t, -1, 1, out)
                     : stream_open_fds(t, 0, -1, out);
  return side == 0 ? stream_open_fds(t, 2, 1, out)
                   : stream_open_fds(t, 0, 3, out);
}

static int unix_open(bench_test *t, int side, void **out) {
  return stream_open_fds(t, side, side, out);
}

static int write_all(int fd, const void *buf, size_t n) {
  const unsigned char *p = buf;
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return bench_fail("write: %s", strerror(errno));
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static int read_all(int fd, void *buf, size_t n) {
  unsigned char *p = buf;
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r < 0) {
      if (errno == EINTR) continue;
      return bench_fail("read: %s", strerror(errno));
    }
    if (r == 0) return bench_fail("read: the other side closed");
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

static inline int stream_send_one(stream_ep *e, size_t n, uint64_t seq) {
  bench_msg_stamp(e->sbuf, n, seq);
  return write_all(e->wfd, e->sbuf, n);
}

static inline int stream_recv_one(stream_ep *e, size_t n, uint64_t *expect,
                                  uint64_t midsum, uint64_t *errs) {
  if (read_all(e->rfd, e->rbuf, n)) return -1;
  *errs += bench_msg_verify(e->rbuf, n, expect, midsum);
  return 0;
}

static int stream_send(void *vep, size_t n, uint64_t seq, uint64_t count) {
  stream_ep *e = vep;
  for (uint64_t i = 0; i < count; i++)
    if (stream_send_one(e, n, seq + i)) return -1;
  return 0;
}

static int stream_recv(void *vep, size_t n, uint64_t seq, uint64_t count,
                       uint64_t *errors) {
  stream_ep *e = vep;
  uint64_t expect = seq, end = seq + count, midsum = bench_msg_midsum(n);
  uint64_t errs = 0;
  int rc = 0;
  while ((int64_t)(end - expect) > 0)
    if ((rc = stream_recv_one(e, n, &expect, midsum, &errs)) != 0) break;
  *errors += errs;
  return rc;
}

static int stream_ping(void *vep, uint64_t seq, uint64_t count,
                       uint64_t *samples, uint64_t *errors) {
  stream_ep *e = vep;
  uint64_t errs = 0;
  int rc = 0;
  for (uint64_t i = 0; i < count; i++) {
    uint64_t expect = seq + i;
    uint64_t t0 = bench_now_ns();
    if ((rc = stream_send_one(e, 8, seq + i)) != 0) break;
    if ((rc = stream_recv_one(e, 8, &expect, 0, &errs)) != 0) break;
    uint64_t t1 = bench_now_ns();
    if (samples) samples[i] = t1 - t0;
  }
  *errors += errs;
  return rc;
}

static int stream_pong(void *vep, uint64_t seq, uint64_t count,
                       uint64_t *errors) {
  stream_ep *e = vep;
  uint64_t errs = 0;
  int rc = 0;
  for (uint64_t i = 0; i < count; i++) {
    uint64_t expect = seq + i;
    if ((rc = stream_recv_one(e, 8, &expect, 0, &errs)) != 0) break;
    if ((rc = stream_send_one(e, 8, seq + i)) != 0) break;
  }
  *errors += errs;
  return rc;
}

const bench_transport bench_pipe = {
    .name = "pipe",
    .kinds = BENCH_TPUT | BENCH_RTT,
    .blocking = 1,
    .setup = pipe_setup,
    .teardown = NULL, /* the harness closes t->fd */
    .open = pipe_open,
    .close = stream_close,
    .send = stream_send,
    .recv = stream_recv,
    .ping = stream_ping,
    .pong = stream_pong,
};

const bench_transport bench_unix = {
    .name = "unix",
    .kinds = BENCH_TPUT | BENCH_RTT,
    .blocking = 1,
    .setup = unix_setup,
    .teardown = NULL,
    .open = unix_open,
    .close = stream_close,
    .send = stream_send,
    .recv = stream_recv,
    .ping = stream_ping,
    .pong = stream_pong,
};
