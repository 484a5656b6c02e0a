/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* The HTTP server of rill monitor --listen (cli.h): one page, served by
 * libmicrohttpd when this rill was built with it (RILL_HAVE_MHD; Debian:
 * libmicrohttpd-dev), in the calling thread, so the page is made where
 * every other snapshot is.  Without it (and on Windows) --listen says how
 * to get it. */
#include "cli.h"

#ifndef RILL_HAVE_MHD

int cli_http_start(const char *addr, const char *path, const char *type, cli_http_page_fn fn,
                   void *ctx, cli_http **out) {
  (void)addr, (void)path, (void)type, (void)fn, (void)ctx;
  *out = NULL;
  return cli_fail("--listen: this rill was built without libmicrohttpd "
                  "(Debian: apt-get install libmicrohttpd-dev, then build it again)");
}
const char *cli_http_addr(const cli_http *h) { (void)h; return ""; }
void cli_http_serve(cli_http *h, int ms) { (void)h, (void)ms; }
void cli_http_stop(cli_http *h) { (void)h; }

#else
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

/* The handler's result type changed from int to an enum in 0.9.71. */
#if MHD_VERSION >= 0x00097002
typedef enum MHD_Result mhd_result;
#else
typedef int mhd_result;
#endif

struct cli_http {
  struct MHD_Daemon *d;
  const char *path, *type;
  cli_http_page_fn fn;
  void *ctx;
  char shown[80]; /* the address listened on, as a URL shows it */
};

/* Splits ADDR, "HOST:PORT", "[V6]:PORT" or ":PORT" (every interface),
 * into HOST (empty for every interface; CAP bytes) and PORT: 0, or -1 if
 * malformed.  The host must be numeric, or localhost (127.0.0.1): a name
 * may mean several addresses, and --listen binds one. */
static int split_addr(const char *addr, char *host, size_t cap, char *port) {
  const char *colon;
  if (addr[0] == '[') {
    const char *end = strchr(addr, ']');
    if (!end || end[1] != ':' || end == addr + 1) return -1;
    if ((size_t)(end - addr - 1) >= cap) return -1;
    memcpy(host, addr + 1, (size_t)(end - addr - 1));
    host[end - addr - 1] = 0;
    colon = end + 1;
  } else {
    if (!(colon = strchr(addr, ':')) || strchr(colon + 1, ':')) return -1;
    if ((size_t)(colon - addr) >= cap) return -1;
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = 0;
  }
  const char *p = colon + 1;
  size_t n = strlen(p);
  if (!n || n > 5 || strspn(p, "0123456789") != n || atoi(p) > 65535) return -1;
  strcpy(port, p);
  if (!strcmp(host, "localhost")) strcpy(host, "127.0.0.1");
  return 0;
}

/* A listening socket on ADDR: the fd, or -1 (errno set; -2 if ADDR is
 * malformed).  An empty host listens on every interface, IPv6 and IPv4
 * on one socket where the system has IPv6. */
static int listen_on(const char *addr) {
  char host[64], port[8];
  if (split_addr(addr, host, sizeof host, port)) return -2;
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                           .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV};
  hints.ai_family = host[0] ? AF_UNSPEC : AF_INET6;
  struct addrinfo *ai;
  int rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
  if (rc && !host[0]) { /* no IPv6 here: IPv4 alone */
    hints.ai_family = AF_INET;
    rc = getaddrinfo(NULL, port, &hints, &ai);
  }
  if (rc) return -2;
  int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0 && !host[0] && ai->ai_family == AF_INET6 && errno == EAFNOSUPPORT) {
    freeaddrinfo(ai);
    hints.ai_family = AF_INET;
    if (getaddrinfo(NULL, port, &hints, &ai)) return -2;
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  }
  if (fd >= 0) {
    int one = 1, zero = 0;
    /* A restart binds at once, past the last run's closing connections;
     * a port another socket listens on is still refused. */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ai->ai_family == AF_INET6 && !host[0])
      setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 64)) {
      int e = errno;
      close(fd);
      fd = -1;
      errno = e;
    }
  }
  freeaddrinfo(ai);
  return fd;
}

/* The address FD listens on, "127.0.0.1:9464" or "[::1]:9464", into BUF. */
static void shown_addr(int fd, char *buf, size_t cap) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  char host[64], port[8];
  if (getsockname(fd, (struct sockaddr *)&ss, &len) ||
      getnameinfo((struct sockaddr *)&ss, len, host, sizeof host, port, sizeof port,
                  NI_NUMERICHOST | NI_NUMERICSERV)) {
    snprintf(buf, cap, "?");
    return;
  }
  snprintf(buf, cap, ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
}

static mhd_result reply(struct MHD_Connection *conn, unsigned status, const char *text,
                        const char *allow) {
  struct MHD_Response *r =
      MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
  if (!r) return MHD_NO;
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
  if (allow) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
  mhd_result rc = MHD_queue_response(conn, status, r);
  MHD_destroy_response(r);
  return rc;
}

/* Every request, answered at once (none has a body that matters):
 * libmicrohttpd leaves out the body of the answer to a HEAD. */
static mhd_result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                             const char *method, const char *version, const char *upload,
                             size_t *upload_size, void **req) {
  (void)version, (void)upload, (void)upload_size, (void)req;
  cli_http *h = cls;
  if (strcmp(url, h->path)) return reply(conn, MHD_HTTP_NOT_FOUND, "not found\n", NULL);
  if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
    return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "GET or HEAD\n", "GET, HEAD");
  char *body;
  size_t len;
  if (h->fn(h->ctx, &body, &len))
    return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "the regions could not be read\n", NULL);
  struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(len, body, free);
  if (!r) {
    free(body);
    return MHD_NO;
  }
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, h->type);
  mhd_result rc = MHD_queue_response(conn, MHD_HTTP_OK, r);
  MHD_destroy_response(r);
  return rc;
}

int cli_http_start(const char *addr, const char *path, const char *type, cli_http_page_fn fn,
                   void *ctx, cli_http **out) {
  *out = NULL;
  int fd = listen_on(addr);
  if (fd == -2)
    return cli_usage("--listen: '%s' is not HOST:PORT (HOST an IP address, [IPv6], "
                     "localhost, or empty for every interface)", addr);
  if (fd < 0) return cli_fail("--listen %s: %s", addr, strerror(errno));
  cli_http *h = calloc(1, sizeof *h);
  if (!h) {
    close(fd);
    return cli_fail("%s", rill_strerror(-RILL_ENOMEM));
  }
  *h = (cli_http){.path = path, .type = type, .fn = fn, .ctx = ctx};
  shown_addr(fd, h->shown, sizeof h->shown);
  /* No internal thread: cli_http_serve() runs it, and a signal that stops
   * the monitor interrupts its select(). */
  h->d = MHD_start_daemon(0, 0, NULL, NULL, on_request, h, MHD_OPTION_LISTEN_SOCKET, fd,
                          MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_CONNECTION_LIMIT, 64u,
                          MHD_OPTION_END);
  if (!h->d) { /* fd left open: libmicrohttpd may have closed it, and the command ends */
    free(h);
    return cli_fail("--listen %s: libmicrohttpd would not start", addr);
  }
  *out = h;
  return 0;
}

const char *cli_http_addr(const cli_http *h) { return h->shown; }

void cli_http_serve(cli_http *h, int ms) {
  fd_set rs, ws, es;
  FD_ZERO(&rs);
  FD_ZERO(&ws);
  FD_ZERO(&es);
  MHD_socket max = -1;
  if (MHD_get_fdset(h->d, &rs, &ws, &es, &max) != MHD_YES) max = -1; /* a wait alone */
  MHD_UNSIGNED_LONG_LONG t;
  if (MHD_get_timeout(h->d, &t) == MHD_YES && t < (MHD_UNSIGNED_LONG_LONG)ms) ms = (int)t;
  struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
  /* EINTR: a signal, for the caller to look at; either way libmicrohttpd
   * does what is ready, and what timed out. */
  select(max + 1, &rs, &ws, &es, &tv);
  MHD_run(h->d);
}

void cli_http_stop(cli_http *h) {
  if (!h) return;
  MHD_stop_daemon(h->d); /* closes the listening socket too */
  free(h);
}
#endif
