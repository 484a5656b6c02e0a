/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill_bench rpc: the UNIX-socket baseline.  A frame is a 4-byte length (host
 * order) and the payload; each side writes one frame per write() and reads
 * whatever has come into a buffer, taking every whole frame out of it. */
#include "rpcbench.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define FRAME (4 + RB_PAYLOAD)
#define MAX_LEN 4096u

typedef struct reader {
  unsigned char buf[64 * 1024];
  size_t have, at;
} reader;

/* The next whole frame of R (its payload in *P, its length in *N): 1; none
 * buffered: 0; a length beyond MAX_LEN: -1. */
static int next_frame(reader *r, const unsigned char **p, uint32_t *n) {
  if (r->have - r->at < 4) return 0;
  memcpy(n, r->buf + r->at, 4);
  if (*n > MAX_LEN) return -1;
  if (r->have - r->at < 4 + *n) return 0;
  *p = r->buf + r->at + 4;
  r->at += 4 + *n;
  return 1;
}

/* Reads more into R.  Returns bytes read, 0 at EOF, -1 with errno. */
static ssize_t fill(reader *r, int fd) {
  if (r->at) { /* keep the partial frame at the front */
    memmove(r->buf, r->buf + r->at, r->have - r->at);
    r->have -= r->at;
    r->at = 0;
  }
  return read(fd, r->buf + r->have, sizeof r->buf - r->have);
}

static int write_frame(int fd, const void *payload, uint32_t n) {
  unsigned char f[4 + MAX_LEN];
  memcpy(f, &n, 4);
  memcpy(f + 4, payload, n);
  for (size_t off = 0; off < 4 + n;) { /* one write(), unless it is cut short */
    ssize_t w = write(fd, f + off, 4 + n - off);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return -1;
    off += (size_t)w;
  }
  return 0;
}

/* The server: echoes every frame until EOF.  Returns an exit status. */
static int serve(int fd) {
  static reader rd;
  for (;;) {
    const unsigned char *p;
    uint32_t n;
    int got;
    while ((got = next_frame(&rd, &p, &n)) > 0)
      if (write_frame(fd, p, n)) {
        perror("rill_bench unix server: write");
        return 1;
      }
    if (got < 0) {
      fprintf(stderr, "rill_bench unix server: bad frame length %u\n", n);
      return 1;
    }
    ssize_t r = fill(&rd, fd);
    if (r == 0) return 0;
    if (r < 0 && errno != EINTR) {
      perror("rill_bench unix server: read");
      return 1;
    }
    if (r > 0) rd.have += (size_t)r;
  }
}

static int send_req(rb_run *r, int fd, uint64_t *sent) {
  unsigned char req[RB_PAYLOAD];
  rb_fill(req, r->seq);
  sent[r->seq++ % RB_MAX_INFLIGHT] = bench_now_ns();
  if (write_frame(fd, req, sizeof req)) return rb_fail(r, "write: %s", strerror(errno));
  return 0;
}

/* Frames come back in the order they were sent: the oldest in flight is
 * sequence number seq - inflight. */
static int host_loop(rb_run *r, int fd) {
  static reader rd;
  uint64_t sent[RB_MAX_INFLIGHT];
  uint32_t inflight = 0;
  rd.have = rd.at = 0;
  rb_run_start(r);
  for (; inflight < r->inflight; inflight++)
    if (send_req(r, fd, sent)) return -1;
  while (inflight) {
    ssize_t got = fill(&rd, fd);
    if (got == 0) return rb_fail(r, "the server closed the socket");
    if (got < 0 && errno == EINTR) continue;
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return rb_fail(r, "no response for %llu s", (unsigned long long)(RB_STALL_NS / 1000000000ull));
    if (got < 0) return rb_fail(r, "read: %s", strerror(errno));
    rd.have += (size_t)got;
    const unsigned char *p;
    uint32_t n;
    int f;
    while ((f = next_frame(&rd, &p, &n)) > 0) {
      uint64_t now = bench_now_ns(), seq = r->seq - inflight--;
      if (!rb_payload_ok(p, n, seq)) r->errors++;
      rb_run_done(r, sent[seq % RB_MAX_INFLIGHT], now);
      if (rb_run_sending(r)) {
        if (send_req(r, fd, sent)) return -1;
        inflight++;
      }
    }
    if (f < 0) return rb_fail(r, "bad frame length %u from the server", n);
  }
  return r->failure[0] ? -1 : 0;
}

int rb_unix_run(rb_run *r) {
  int sv[2];
  char err[200];
  bench_proc ch;
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
    return rb_fail(r, "socketpair: %s", strerror(errno));
  int rc = bench_proc_start(&ch, "unix server", rb_server_cpu, NULL, rb_dir, err, sizeof err);
  if (rc == 0) {
    close(sv[0]);
    printf("unix server: serving\n");
    fflush(stdout);
    _exit(serve(sv[1]));
  }
  close(sv[1]);
  if (rc < 0 || bench_proc_ready(&ch, ": serving", RB_READY_MS * 1000000ull, err, sizeof err)) {
    close(sv[0]);
    return rb_fail(r, "unix server: %s", err);
  }
  struct timeval tv = {(time_t)(RB_STALL_NS / 1000000000ull), 0};
  if (setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv))
    rb_fail(r, "setsockopt SO_RCVTIMEO: %s", strerror(errno));
  else host_loop(r, sv[0]);
  close(sv[0]); /* the server reads EOF and exits */
  if (bench_proc_stop(&ch, err, sizeof err)) rb_fail(r, "the unix server %s", err);
  return r->failure[0] ? -1 : 0;
}
