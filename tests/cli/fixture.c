/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill_cli_fixture: live regions and endpoints for the tests of the rill
 * command line (tests/cli/test_cli.py), driven line by line on stdin.
 *
 *   rill_cli_fixture DIR
 *
 * Every command answers one line on stdout: "ok [VALUES]" or "err TEXT".
 * The test waits for the answer, so it knows the state of shared memory
 * when it runs the command line (no sleeps).
 *
 *   region NAME SIZE                   create a region
 *   channel REGION/CHAN DEPTH MTU SLOTS MAX_MSG
 *   producer REGION/CHAN               join as the producer -> ok P
 *   consumer REGION/CHAN reliable|lossy join as a consumer  -> ok C SLOT
 *   send P N [SIZE]                    N messages: sig = the producer's
 *                                      count so far; payload "msg SIG"
 *                                      (SIZE bytes of it repeated, if given)
 *                                      -> ok SENT (fewer: no credit)
 *   sendbin P N                        N messages of bytes 0..7 and 0xff
 *   sendx P N MAXSIZE                  N messages, each waiting for credit (20 s
 *                                      at most): message K (the producer's
 *                                      count) as xmsg() below -> ok SENT
 *   recv C N                           consume N messages -> ok GOT
 *   take C N                           consume up to N messages that are
 *                                      there -> ok GOT SIG:CTL:HEX... (CTL:
 *                                      the application bits; HEX: the bytes)
 *   expect C N [SIZE]                  consume N messages, waiting up to 10 s
 *                                      for each, and check every byte: sigs
 *                                      follow on, payloads are what send
 *                                      makes (SIZE bytes) -> ok GOT
 *   end C MS                           receive until nothing is left, waiting
 *                                      up to MS ms -> ok closed|dead|timeout
 *   pid                                -> ok PID (getpid(), in its namespace)
 *   poll C                             one poll -> ok RC LOST
 *   flush                              flush every endpoint
 *   flushc C                           flush consumer C alone
 *   leave C | leavep P                 leave an endpoint
 *   exit                               leave everything and exit 0
 *
 * Request/response (rill_rpc.h), for the service view of 'rill info':
 *   service REGION/SVC LANES DEPTH MTU create a service
 *   serve REGION/SVC                   serve it with one worker: method 0
 *                                      echoes; method 1 holds its call
 *                                      until 'release' (the worker waits)
 *   release                            let the held calls be answered
 *   connect REGION/SVC                 a client, on the first free lane
 *                                      -> ok K
 *   call K METHOD TEXT                 send a call, not waiting -> ok
 *   answer K TIMEOUT_MS                wait for a response -> ok RC
 *                                      [STATUS SIZE]
 *   close K                            close client K
 *
 * Killing it (SIGKILL) leaves its endpoints dead. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#include <process.h>
#define getpid _getpid
#else
#include <unistd.h>
#endif
#include <time.h>

#include "rill.h"
#include "rill_rpc.h"

#define MAXE 64

static const char *dir;
static struct prod { rill_region *r; rill_producer *p; uint64_t sent; } prods[MAXE];
static struct cons { rill_region *r; rill_consumer *c; uint64_t next; int started; } conss[MAXE];
static int nprods, nconss;

static rill_region *open_region(const char *name) {
  rill_region_opts o = {.dir = dir};
  rill_region *r;
  return rill_region_open(name, &o, &r) ? NULL : r;
}

static int split(char *arg, char **chan) {
  char *s = strchr(arg, '/');
  if (!s) return -1;
  *s = 0;
  *chan = s + 1;
  return 0;
}

/* ---- request/response ---- */

static struct { rill_region *r; rill_rpc_server *s; } server;
static struct rpc_client { rill_region *r; rill_rpc_client *c; } clients[MAXE];
static int nclients;
static pthread_mutex_t hold_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hold_cv = PTHREAD_COND_INITIALIZER;
static int released;

static int handler(void *arg, uint16_t method, const void *req, size_t n, void *resp,
                   size_t cap, size_t *resp_n) {
  (void)arg;
  if (method > 1) return -RILL_ENOMETHOD;
  if (method == 1) { /* held: a call in flight that is not answered */
    pthread_mutex_lock(&hold_mu);
    while (!released) pthread_cond_wait(&hold_cv, &hold_mu);
    pthread_mutex_unlock(&hold_mu);
  }
  if (n > cap) return -RILL_EMSGSIZE;
  memcpy(resp, req, n);
  *resp_n = n;
  return 0;
}

static void release(void) {
  pthread_mutex_lock(&hold_mu);
  released = 1;
  pthread_cond_broadcast(&hold_cv);
  pthread_mutex_unlock(&hold_mu);
}

static struct rpc_client *client_of(const char *arg) {
  int i = atoi(arg);
  return i >= 0 && i < nclients && clients[i].c ? &clients[i] : NULL;
}

/* Message K of sendx, for the recording tests (tests/cli/test_record.py
 * computes the same): sig, ctl (the application's bits, and ERR for
 * every fifth), tsorig, size and bytes all follow from K. */
static size_t xmsg(uint64_t k, size_t maxsize, rill_msg *m, uint8_t *buf) {
  size_t n = (size_t)(k * 7919 % (maxsize + 1));
  for (size_t j = 0; j < n; j++) buf[j] = (uint8_t)(k * 31 + j * 7 + j / 256);
  *m = (rill_msg){.data = n ? buf : NULL, .sz = n, .sig = 0xfedc000000000000ull + k,
                  .ctl = (uint16_t)(RILL_CTL_USER(k & 0x1fff) | (k % 5 ? 0 : RILL_CTL_ERR)),
                  .tsorig = (uint32_t)(k * 2654435761u)};
  return n;
}

/* Sends M, waiting for credit until DEADLINE_NS (CLOCK_MONOTONIC). */
static int send_waiting(rill_producer *p, const rill_msg *m, struct timespec *deadline) {
  for (;;) {
    int rc = rill_send_many(p, m, 1);
    if (rc != -RILL_EAGAIN) return rc;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec > deadline->tv_sec) return rc;
    void *buf;
    if (!rill_reserve_wait(p, 1, &buf, 10000000)) { /* room for one fragment; more may be needed */
      struct timespec ms = {0, 1000000};
      nanosleep(&ms, NULL);
    }
  }
}

#define ANSWER(...) (printf(__VA_ARGS__), putchar('\n'), fflush(stdout))

static void cmd(char *line) {
  char *argv[8] = {0};
  int argc = 0;
  for (char *t = strtok(line, " \t\n"); t && argc < 8; t = strtok(NULL, " \t\n")) argv[argc++] = t;
  if (!argc) return;
  const char *c0 = argv[0];
  char *chan;
  int rc;
  if (!strcmp(c0, "region") && argc == 3) {
    rill_region_opts o = {.dir = dir, .size = strtoull(argv[2], NULL, 10)};
    rill_region *r;
    if ((rc = rill_region_create(argv[1], &o, &r))) { ANSWER("err %s", rill_strerror(rc)); return; }
    rill_region_close(r);
    ANSWER("ok");
  } else if (!strcmp(c0, "channel") && argc == 6 && !split(argv[1], &chan)) {
    rill_region *r = open_region(argv[1]);
    if (!r) { ANSWER("err no region"); return; }
    rill_channel_opts co = {.depth = (uint32_t)atoi(argv[2]), .mtu = (uint32_t)atoi(argv[3]),
                            .max_consumers = (uint32_t)atoi(argv[4]),
                            .max_msg = strtoull(argv[5], NULL, 10)};
    rc = rill_channel_create(r, chan, &co);
    rill_region_close(r);
    if (rc) ANSWER("err %s", rill_strerror(rc));
    else ANSWER("ok");
  } else if (!strcmp(c0, "producer") && argc == 2 && !split(argv[1], &chan) && nprods < MAXE) {
    struct prod *p = &prods[nprods];
    if (!(p->r = open_region(argv[1]))) { ANSWER("err no region"); return; }
    if ((rc = rill_producer_join(p->r, chan, &p->p))) { ANSWER("err %s", rill_strerror(rc)); return; }
    p->sent = rill_producer_seq(p->p);
    ANSWER("ok %d", nprods++);
  } else if (!strcmp(c0, "consumer") && argc == 3 && !split(argv[1], &chan) && nconss < MAXE) {
    struct cons *k = &conss[nconss];
    if (!(k->r = open_region(argv[1]))) { ANSWER("err no region"); return; }
    int mode = !strcmp(argv[2], "lossy") ? RILL_LOSSY : RILL_RELIABLE;
    if ((rc = rill_consumer_join(k->r, chan, mode, &k->c))) { ANSWER("err %s", rill_strerror(rc)); return; }
    ANSWER("ok %d %u", nconss++, rill_consumer_slot(k->c));
  } else if ((!strcmp(c0, "send") || !strcmp(c0, "sendbin")) && argc >= 3) {
    int i = atoi(argv[1]);
    if (i < 0 || i >= nprods || !prods[i].p) { ANSWER("err no producer"); return; }
    struct prod *p = &prods[i];
    uint64_t n = strtoull(argv[2], NULL, 10), sent = 0;
    size_t size = argc > 3 ? strtoull(argv[3], NULL, 10) : 0;
    static char buf[1 << 20];
    for (; sent < n; sent++) {
      size_t len;
      if (!strcmp(c0, "sendbin")) {
        static const char bin[] = {0, 1, 2, 3, 4, 5, 6, 7, (char)0xff};
        memcpy(buf, bin, len = sizeof bin);
      } else {
        char word[32];
        int w = snprintf(word, sizeof word, "msg %llu", (unsigned long long)p->sent);
        len = size ? size : (size_t)w;
        if (len > sizeof buf) len = sizeof buf;
        for (size_t j = 0; j < len; j++) buf[j] = word[j % (size_t)w];
      }
      if ((rc = rill_send(p->p, buf, len, p->sent))) break;
      p->sent++;
    }
    ANSWER("ok %llu", (unsigned long long)sent);
  } else if (!strcmp(c0, "sendx") && argc == 4) {
    int i = atoi(argv[1]);
    if (i < 0 || i >= nprods || !prods[i].p) { ANSWER("err no producer"); return; }
    struct prod *p = &prods[i];
    uint64_t n = strtoull(argv[2], NULL, 10), sent = 0;
    size_t maxsize = strtoull(argv[3], NULL, 10);
    static uint8_t buf[1 << 20];
    if (maxsize >= sizeof buf) { ANSWER("err MAXSIZE too large"); return; }
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += 20;
    for (; sent < n; sent++) {
      rill_msg m;
      xmsg(p->sent, maxsize, &m, buf);
      if ((rc = send_waiting(p->p, &m, &deadline))) break;
      p->sent++;
    }
    ANSWER("ok %llu", (unsigned long long)sent);
  } else if (!strcmp(c0, "recv") && argc == 3) {
    int i = atoi(argv[1]);
    if (i < 0 || i >= nconss || !conss[i].c) { ANSWER("err no consumer"); return; }
    uint64_t n = strtoull(argv[2], NULL, 10), got = 0;
    static char buf[1 << 20];
    rill_meta m;
    while (got < n && rill_recv(conss[i].c, buf, sizeof buf, &m) >= 0) got++;
    ANSWER("ok %llu", (unsigned long long)got);
  } else if (!strcmp(c0, "take") && argc == 3) {
    int i = atoi(argv[1]);
    if (i < 0 || i >= nconss || !conss[i].c) { ANSWER("err no consumer"); return; }
    uint64_t n = strtoull(argv[2], NULL, 10), got = 0;
    static unsigned char buf[1 << 20];
    static char out[1 << 22];
    size_t at = 0;
    rill_meta m;
    int64_t len;
    while (got < n && (len = rill_recv(conss[i].c, buf, sizeof buf, &m)) >= 0) {
      if (at + 64 + 2 * (size_t)len >= sizeof out) { ANSWER("err too much to take at once"); return; }
      at += (size_t)snprintf(out + at, sizeof out - at, " %llu:%u:", (unsigned long long)m.sig,
                             (unsigned)(m.ctl >> RILL_CTL_USER_SHIFT));
      for (int64_t b = 0; b < len; b++) at += (size_t)snprintf(out + at, 3, "%02x", buf[b]);
      got++;
    }
    out[at] = 0;
    ANSWER("ok %llu%s", (unsigned long long)got, out);
  } else if (!strcmp(c0, "expect") && argc >= 3) {
    int i = atoi(argv[1]);
    if (i < 0 || i >= nconss || !conss[i].c) { ANSWER("err no consumer"); return; }
    struct cons *k = &conss[i];
    uint64_t n = strtoull(argv[2], NULL, 10), got = 0;
    size_t size = argc > 3 ? strtoull(argv[3], NULL, 10) : 0;
    static char buf[1 << 20];
    rill_meta m;
    for (; got < n; got++) {
      int64_t len = rill_recv_wait(k->c, buf, sizeof buf, &m, 10000000000ull);
      if (len < 0) { ANSWER("err message %llu: %s", (unsigned long long)got, rill_strerror((int)len)); return; }
      if (k->started && m.sig != k->next) {
        ANSWER("err message %llu: sig %llu, expected %llu", (unsigned long long)got,
               (unsigned long long)m.sig, (unsigned long long)k->next);
        return;
      }
      char word[32];
      int w = snprintf(word, sizeof word, "msg %llu", (unsigned long long)m.sig);
      size_t want = size ? size : (size_t)w;
      int bad = (uint64_t)len != want;
      for (size_t j = 0; !bad && j < want; j++) bad = buf[j] != word[j % (size_t)w];
      if (bad) { ANSWER("err message %llu (sig %llu): wrong payload", (unsigned long long)got, (unsigned long long)m.sig); return; }
      k->started = 1;
      k->next = m.sig + 1;
    }
    ANSWER("ok %llu", (unsigned long long)got);
  } else if (!strcmp(c0, "end") && argc == 3) {
    int i = atoi(argv[1]);
    if (i < 0 || i >= nconss || !conss[i].c) { ANSWER("err no consumer"); return; }
    static char buf[1 << 20];
    rill_meta m;
    int64_t len;
    while ((len = rill_recv_wait(conss[i].c, buf, sizeof buf, &m,
                                 strtoull(argv[2], NULL, 10) * 1000000ull)) >= 0) {}
    if (len == -RILL_ECLOSED) ANSWER("ok closed");
    else if (len == -RILL_EDEAD) ANSWER("ok dead");
    else if (len == -RILL_ETIMEDOUT) ANSWER("ok timeout");
    else ANSWER("err %s", rill_strerror((int)len));
  } else if (!strcmp(c0, "pid")) {
    ANSWER("ok %ld", (long)getpid());
  } else if (!strcmp(c0, "poll") && argc == 2) {
    int i = atoi(argv[1]);
    if (i < 0 || i >= nconss || !conss[i].c) { ANSWER("err no consumer"); return; }
    rill_view v = {0};
    rc = rill_poll(conss[i].c, &v);
    ANSWER("ok %d %llu", rc, (unsigned long long)v.lost);
  } else if (!strcmp(c0, "flush")) {
    for (int i = 0; i < nprods; i++) if (prods[i].p) rill_producer_flush(prods[i].p);
    for (int i = 0; i < nconss; i++) if (conss[i].c) rill_consumer_flush(conss[i].c);
    ANSWER("ok");
  } else if (!strcmp(c0, "flushc") && argc == 2) {
    int i = atoi(argv[1]);
    if (i < 0 || i >= nconss || !conss[i].c) { ANSWER("err no consumer"); return; }
    rill_consumer_flush(conss[i].c);
    ANSWER("ok");
  } else if (!strcmp(c0, "leave") && argc == 2) {
    int i = atoi(argv[1]);
    if (i < 0 || i >= nconss || !conss[i].c) { ANSWER("err no consumer"); return; }
    rill_consumer_leave(conss[i].c);
    rill_region_close(conss[i].r);
    conss[i].c = NULL;
    ANSWER("ok");
  } else if (!strcmp(c0, "leavep") && argc == 2) {
    int i = atoi(argv[1]);
    if (i < 0 || i >= nprods || !prods[i].p) { ANSWER("err no producer"); return; }
    rill_producer_leave(prods[i].p);
    rill_region_close(prods[i].r);
    prods[i].p = NULL;
    ANSWER("ok");
  } else if (!strcmp(c0, "service") && argc == 5 && !split(argv[1], &chan)) {
    rill_region *r = open_region(argv[1]);
    if (!r) { ANSWER("err no region"); return; }
    rill_rpc_opts o = {.lanes = (uint32_t)atoi(argv[2]), .depth = (uint32_t)atoi(argv[3]),
                       .mtu = (uint32_t)atoi(argv[4])};
    rc = rill_rpc_service_create(r, chan, &o);
    rill_region_close(r);
    if (rc) ANSWER("err %s", rill_strerror(rc));
    else ANSWER("ok");
  } else if (!strcmp(c0, "serve") && argc == 2 && !split(argv[1], &chan) && !server.s) {
    if (!(server.r = open_region(argv[1]))) { ANSWER("err no region"); return; }
    if ((rc = rill_rpc_serve(server.r, chan, 1, handler, NULL, &server.s))) {
      ANSWER("err %s", rill_strerror(rc));
      return;
    }
    ANSWER("ok");
  } else if (!strcmp(c0, "release")) {
    release();
    ANSWER("ok");
  } else if (!strcmp(c0, "connect") && argc == 2 && !split(argv[1], &chan) && nclients < MAXE) {
    struct rpc_client *k = &clients[nclients];
    if (!(k->r = open_region(argv[1]))) { ANSWER("err no region"); return; }
    if ((rc = rill_rpc_connect(k->r, chan, &k->c))) { ANSWER("err %s", rill_strerror(rc)); return; }
    ANSWER("ok %d", nclients++);
  } else if (!strcmp(c0, "call") && argc == 4) {
    struct rpc_client *k = client_of(argv[1]);
    if (!k) { ANSWER("err no client"); return; }
    uint64_t id;
    rc = rill_rpc_send(k->c, (uint16_t)atoi(argv[2]), argv[3], strlen(argv[3]), &id);
    if (rc) ANSWER("err %s", rill_strerror(rc));
    else ANSWER("ok");
  } else if (!strcmp(c0, "answer") && argc == 3) {
    struct rpc_client *k = client_of(argv[1]);
    if (!k) { ANSWER("err no client"); return; }
    char buf[1024];
    rill_rpc_result res;
    rc = rill_rpc_recv(k->c, buf, sizeof buf, &res, strtoull(argv[2], NULL, 10) * 1000000);
    if (rc) ANSWER("ok %d", rc);
    else ANSWER("ok 0 %d %llu", res.status, (unsigned long long)res.size);
  } else if (!strcmp(c0, "close") && argc == 2) {
    struct rpc_client *k = client_of(argv[1]);
    if (!k) { ANSWER("err no client"); return; }
    rill_rpc_close(k->c);
    rill_region_close(k->r);
    k->c = NULL;
    ANSWER("ok");
  } else if (!strcmp(c0, "exit")) {
    release(); /* a held call would keep the server from stopping */
    rill_rpc_server_stop(server.s);
    rill_region_close(server.r);
    for (int i = 0; i < nclients; i++)
      if (clients[i].c) rill_rpc_close(clients[i].c), rill_region_close(clients[i].r);
    for (int i = 0; i < nconss; i++)
      if (conss[i].c) rill_consumer_leave(conss[i].c), rill_region_close(conss[i].r);
    for (int i = 0; i < nprods; i++)
      if (prods[i].p) rill_producer_leave(prods[i].p), rill_region_close(prods[i].r);
    ANSWER("ok");
    exit(0);
  } else {
    ANSWER("err bad command: %s", c0);
  }
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: rill_cli_fixture DIR\n");
    return 2;
  }
  dir = argv[1];
  char line[512];
  while (fgets(line, sizeof line, stdin)) cmd(line);
  return 0; /* stdin closed: exit without leaving (endpoints stay, dead) */
}
