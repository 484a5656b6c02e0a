/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill epoll server: one event loop that serves two channels and a socket.
 *
 * A consumer's rill_consumer_fd() is a file descriptor that epoll (or poll,
 * select, a runtime's poller) can wait on beside sockets.  The protocol:
 *
 *   rill_consumer_arm(c) == 0   armed: wait until the fd is readable
 *                        == 1   something is there already: read it now
 *                        < 0    -RILL_ECLOSED / -RILL_EDEAD: the producer
 *                               left / died and everything was read
 *   readable -> rill_recv() until -RILL_EAGAIN, then arm again.
 *
 * A producer that dies signals nobody, so the loop also re-arms every
 * channel it has not looked at for 100 ms: that is when it would notice.
 *
 * The parent joins "alpha" and "beta" as a reliable consumer, then forks two
 * producers (one per channel) and a client that writes lines to a socket.
 * It serves all three in one epoll loop, checks that nothing is missing or
 * out of order, and exits 0. */
#include <rill.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define REGION "epoll-demo"
#define NMSG 2000       /* messages per channel */
#define BURST 25        /* messages (or lines) per burst, then a pause */
#define NLINES 200      /* lines the socket client writes */
#define TICK_MS 100     /* epoll timeout, and how often idle channels re-arm */
#define DEADLINE_S 20   /* the whole loop must end by then */
#define MS 1000000ull

struct chan {
  const char *name;
  rill_consumer *c;
  int fd;             /* rill_consumer_fd(): owned by the consumer */
  uint64_t next;      /* sequence number expected next */
  uint64_t last_ns;   /* when it was last drained and armed */
  int closed;         /* arm returned -RILL_ECLOSED */
};

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void pause_ms(long ms) { /* pacing only: never to wait for data */
  struct timespec ts = {0, ms * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

/* ---- the children ------------------------------------------------------ */

/* Sends NMSG messages, each carrying its sequence number (as payload and
 * sig), in bursts.  rill_send_wait() waits for credit if the ring is full. */
static int producer(rill_region *r, const char *name) {
  rill_producer *p;
  int rc = rill_producer_join(r, name, &p);
  if (rc) { fprintf(stderr, "%s: producer join: %s\n", name, rill_strerror(rc)); return 1; }
  for (uint64_t i = 0; i < NMSG; i++) {
    if ((rc = rill_send_wait(p, &i, sizeof i, i, 5000 * MS))) {
      fprintf(stderr, "%s: send #%llu: %s\n", name, (unsigned long long)i, rill_strerror(rc));
      rill_producer_leave(p);
      return 1;
    }
    if (i % BURST == BURST - 1) pause_ms(1);
  }
  return rill_producer_leave(p) ? 1 : 0; /* the consumer then sees ECLOSED */
}

/* Writes lines "0\n" to "199\n", then closes its end of the socket. */
static int client(int s) {
  for (int i = 0; i < NLINES; i++) {
    if (dprintf(s, "%d\n", i) < 0) { perror("client: write"); return 1; }
    if (i % BURST == BURST - 1) pause_ms(2);
  }
  return close(s) ? 1 : 0; /* the server sees EOF */
}

/* ---- the server: one channel ------------------------------------------- */

/* Reads every message there now and checks it is the one expected next. */
static int drain(struct chan *ch) {
  for (;;) {
    uint64_t v;
    rill_meta m;
    int64_t n = rill_recv(ch->c, &v, sizeof v, &m);
    if (n == -RILL_EAGAIN) return 0; /* all read */
    if (n < 0) return fprintf(stderr, "%s: recv: %s\n", ch->name, rill_strerror((int)n)), -1;
    if (n != (int64_t)sizeof v || v != ch->next || m.sig != ch->next || m.lost) {
      fprintf(stderr, "%s: expected #%llu, got sig %llu (%lld bytes, %llu lost)\n", ch->name,
              (unsigned long long)ch->next, (unsigned long long)m.sig, (long long)n,
              (unsigned long long)m.lost);
      return -1;
    }
    ch->next++;
  }
}

/* Drains, then arms; if arm says a message slipped in meanwhile, drains
 * again.  Returns 0 once armed (or closed), -1 on error. */
static int service(int ep, struct chan *ch) {
  ch->last_ns = now_ns();
  for (;;) {
    if (drain(ch)) return -1;
    int rc = rill_consumer_arm(ch->c);
    if (rc == 0) return 0; /* armed: epoll reports the next publish */
    if (rc == 1) continue; /* do not wait: there is something to read */
    if (rc == -RILL_ECLOSED) {
      ch->closed = 1; /* the fd stays the consumer's: unregister, not close */
      if (epoll_ctl(ep, EPOLL_CTL_DEL, ch->fd, NULL)) { perror("epoll_ctl del"); return -1; }
      return 0;
    }
    fprintf(stderr, "%s: arm: %s\n", ch->name, rill_strerror(rc)); /* EDEAD */
    return -1;
  }
}

/* ---- the server: the socket -------------------------------------------- */

struct sock {
  int fd, eof;
  int lines;   /* complete lines received */
  int val, nd; /* the number of the line being read, and its digits so far */
};

/* One read per readiness report (epoll is level-triggered: it reports again
 * if more is buffered).  Each line must be the decimal number of the line. */
static int sock_read(int ep, struct sock *s) {
  char buf[256];
  ssize_t n = read(s->fd, buf, sizeof buf);
  if (n < 0) { if (errno == EINTR) return 0; perror("socket read"); return -1; }
  if (n == 0) { /* EOF: the client closed its end */
    if (s->nd) { fprintf(stderr, "socket: partial last line\n"); return -1; }
    s->eof = 1;
    if (epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, NULL)) { perror("epoll_ctl del"); return -1; }
    return 0;
  }
  for (ssize_t i = 0; i < n; i++) {
    if (buf[i] >= '0' && buf[i] <= '9' && s->nd < 9) {
      s->val = s->val * 10 + (buf[i] - '0'), s->nd++;
    } else if (buf[i] == '\n' && s->nd && s->val == s->lines) {
      s->lines++, s->val = 0, s->nd = 0;
    } else {
      fprintf(stderr, "socket: line %d is wrong (byte 0x%02x)\n", s->lines, (unsigned char)buf[i]);
      return -1;
    }
  }
  return 0;
}

/* ---- the loop ----------------------------------------------------------- */

static const char *const who[3] = {"alpha producer", "beta producer", "socket client"};

/* Waits for child I (FLAGS: 0 or WNOHANG).  0 if it exited 0 (or was reaped
 * before), 1 if it is still running, -1 (said on stderr) if it failed. */
static int reap(pid_t *pid, int i, int flags) {
  int st;
  pid_t w;
  if (*pid < 0) return 0;
  while ((w = waitpid(*pid, &st, flags)) < 0 && errno == EINTR) {}
  if (w == 0) return 1;
  *pid = -1;
  if (w < 0) { perror("waitpid"); return -1; }
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return 0;
  fprintf(stderr, "%s: %s %d\n", who[i], WIFSIGNALED(st) ? "killed by signal" : "exit status",
          WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
  return -1;
}

/* Serves both channels and the socket until all three are finished. */
static int serve(int ep, struct chan ch[2], struct sock *s, pid_t pid[3]) {
  uint64_t start = now_ns(), deadline = start + DEADLINE_S * 1000 * MS;
  unsigned wakeups = 0;
  while (!(ch[0].closed && ch[1].closed && s->eof)) {
    if (now_ns() > deadline) {
      fprintf(stderr, "timed out: alpha got %llu, beta %llu, socket %d lines (done: %d%d%d)\n",
              (unsigned long long)ch[0].next, (unsigned long long)ch[1].next, s->lines,
              ch[0].closed, ch[1].closed, s->eof);
      return -1;
    }
    struct epoll_event evs[8];
    int n = epoll_wait(ep, evs, 8, TICK_MS);
    if (n < 0 && errno != EINTR) { perror("epoll_wait"); return -1; }
    wakeups++;
    for (int i = 0; i < n; i++) {
      if (evs[i].data.ptr == s) {
        if (sock_read(ep, s)) return -1;
      } else {
        struct chan *c = evs[i].data.ptr;
        if (!c->closed && service(ep, c)) return -1;
      }
    }
    /* A dead producer makes no fd readable: re-arm channels idle 100 ms. */
    for (int i = 0; i < 2; i++)
      if (!ch[i].closed && now_ns() - ch[i].last_ns >= TICK_MS * MS && service(ep, &ch[i]))
        return -1;
    if (n == 0) /* all quiet: has a child failed? */
      for (int i = 0; i < 3; i++)
        if (reap(&pid[i], i, WNOHANG) < 0) return -1;
  }
  printf("epoll_server: alpha %d + beta %d messages in order, %d socket lines, "
         "%u epoll wakeups in %.0f ms\n", NMSG, NMSG, NLINES, wakeups,
         (double)(now_ns() - start) / 1e6);
  return 0;
}

int main(void) {
  struct chan ch[2] = {{.name = "alpha"}, {.name = "beta"}};
  struct sock s = {.fd = -1};
  pid_t pid[3] = {-1, -1, -1};
  int ep = -1, sv[2] = {-1, -1}, ok = 0, rc;
  rill_region *r = NULL;

  if ((rc = rill_region_create(REGION, NULL, &r))) { /* NULL dir: $RILL_DIR */
    fprintf(stderr, "region create: %s\n", rill_strerror(rc));
    return 1;
  }
  for (int i = 0; i < 2; i++) { /* join before the producers start: miss nothing */
    if ((rc = rill_channel_create(r, ch[i].name, NULL)) ||
        (rc = rill_consumer_join(r, ch[i].name, RILL_RELIABLE, &ch[i].c))) {
      fprintf(stderr, "%s: %s\n", ch[i].name, rill_strerror(rc));
      goto out;
    }
  }
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) { perror("socketpair"); goto out; }

  fflush(NULL); /* nothing buffered twice */
  for (int i = 0; i < 3; i++) {
    if ((pid[i] = fork()) < 0) { perror("fork"); goto out; }
    if (pid[i] == 0) { /* children use the inherited region handle, never ch[] */
      close(sv[0]);
      if (i == 2) _exit(client(sv[1]));
      close(sv[1]);
      _exit(producer(r, ch[i].name));
    }
  }
  close(sv[1]);
  sv[1] = -1;
  s.fd = sv[0];

  if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0) { perror("epoll_create1"); goto out; }
  for (int i = 0; i < 2; i++) {
    if ((ch[i].fd = rill_consumer_fd(ch[i].c)) < 0) {
      fprintf(stderr, "%s: consumer fd: %s\n", ch[i].name, rill_strerror(ch[i].fd));
      goto out;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &ch[i]};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, ch[i].fd, &ev)) { perror("epoll_ctl add"); goto out; }
    if (service(ep, &ch[i])) goto out; /* the first arm */
  }
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &s};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, s.fd, &ev)) { perror("epoll_ctl add"); goto out; }

  if (serve(ep, ch, &s, pid)) goto out;
  for (int i = 0; i < 3; i++) /* every child must have exited 0 */
    if (reap(&pid[i], i, 0)) goto out;
  if (ch[0].next != NMSG || ch[1].next != NMSG || s.lines != NLINES) {
    fprintf(stderr, "missing: alpha %llu, beta %llu, lines %d\n",
            (unsigned long long)ch[0].next, (unsigned long long)ch[1].next, s.lines);
    goto out;
  }
  ok = 1;
out: /* on failure: say how the children ended, stop those still running */
  for (int i = 0; i < 3; i++)
    if (reap(&pid[i], i, WNOHANG) == 1) {
      kill(pid[i], SIGKILL);
      while (waitpid(pid[i], NULL, 0) < 0 && errno == EINTR) {}
    }
  if (ep >= 0) close(ep);
  if (sv[0] >= 0) close(sv[0]);
  if (sv[1] >= 0) close(sv[1]);
  for (int i = 0; i < 2; i++) /* leave (frees the slot and its fd), then remove */
    if ((rc = rill_consumer_leave(ch[i].c)))
      ok = 0, fprintf(stderr, "%s: consumer leave: %s\n", ch[i].name, rill_strerror(rc));
  rill_region_close(r); /* always 0 */
  if ((rc = rill_region_unlink(REGION, NULL)))
    ok = 0, fprintf(stderr, "region unlink: %s\n", rill_strerror(rc));
  return ok ? 0 : 1;
}
