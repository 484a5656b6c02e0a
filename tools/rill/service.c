/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* Request/response services (docs/rpc.md) as rill info shows them: a
 * service S is found by the names of its lanes' channels, S.q.K (requests,
 * written by the lane's client) and S.r.K (responses, written by the
 * server), K from 0 up to the first lane missing, as rill_rpc_connect()
 * finds them.  Nothing in shared memory marks a service: it is ordinary
 * channels with agreed names. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static const cli_channel *find(const cli_region *r, const char *name) {
  for (uint32_t k = 0; k < r->nchannels; k++)
    if (!strcmp(r->ch[k].name, name) && !r->ch[k].err) return &r->ch[k];
  return NULL;
}

static const cli_channel *lane_channel(const cli_region *r, const char *svc, char dir,
                                       uint32_t k) {
  char name[RILL_NAME_MAX + 8];
  snprintf(name, sizeof name, "%s.%c.%u", svc, dir, k);
  return find(r, name);
}

/* Fills S with service NAME of R: 0, or -1 if R has no such service (its
 * lane 0 is missing, as while it is being made: lane 0 comes last). */
static int service_get(const cli_region *r, const char *name, cli_service *s) {
  if (strlen(name) > RILL_RPC_NAME_MAX) return -1;
  memset(s, 0, sizeof *s);
  snprintf(s->name, sizeof s->name, "%s", name);
  for (uint32_t k = 0; k < RILL_RPC_MAX_LANES; k++) {
    const cli_channel *q = lane_channel(r, name, 'q', k), *p = lane_channel(r, name, 'r', k);
    if (!q || !p) break;
    s->q[k] = q;
    s->r[k] = p;
    s->nlanes++;
  }
  return s->nlanes ? 0 : -1;
}

int cli_services(const cli_region *r, cli_service **out) {
  cli_service *v = NULL;
  int n = 0;
  for (uint32_t k = 0; k < r->nchannels; k++) {
    const char *c = r->ch[k].name;
    size_t len = strlen(c);
    /* each service once: by its response channel of lane 0 */
    if (len < 5 || strcmp(c + len - 4, ".r.0")) continue;
    char name[RILL_NAME_MAX + 1];
    snprintf(name, sizeof name, "%.*s", (int)(len - 4), c);
    cli_service s;
    if (service_get(r, name, &s)) continue;
    cli_service *nv = realloc(v, (size_t)(n + 1) * sizeof *v);
    if (!nv) break; /* fewer services shown; their channels stay listed */
    v = nv;
    v[n++] = s;
  }
  *out = v;
  return n;
}

int cli_service_find(const cli_region *r, const char *name, cli_service *s) {
  return service_get(r, name, s);
}

int cli_service_lane_of(const cli_service *s, uint32_t n, const cli_channel *c) {
  for (uint32_t i = 0; i < n; i++)
    for (uint32_t k = 0; k < s[i].nlanes; k++)
      if (s[i].q[k] == c || s[i].r[k] == c) return 1;
  return 0;
}

/* ---- a lane's state ------------------------------------------------------------ */

/* Descriptors a channel's producer published, as far as anyone flushed:
 * its counter (C clients and servers write it when they wait, and after
 * each batch), its position, and what its consumers read. */
static uint64_t published(const cli_channel *c) {
  uint64_t by_seq = c->st.seq - c->st.seq0; /* at least every consumer's (cli_snap) */
  return c->st.msgs > by_seq ? c->st.msgs : by_seq;
}

typedef struct lane_state {
  uint32_t client, client_pid; /* RILL_PEER_*: the producer of S.q.K */
  uint32_t server, server_pid; /* the producer of S.r.K             */
  uint64_t requests, responses, in_flight;
} lane_state;

static void lane_get(const cli_service *s, uint32_t k, lane_state *l) {
  const rill_channel_stats *q = &s->q[k]->st, *r = &s->r[k]->st;
  l->client = q->producer_liveness;
  l->client_pid = q->producer_liveness == RILL_PEER_NONE ? 0 : q->producer_pid;
  l->server = r->producer_liveness;
  l->server_pid = r->producer_liveness == RILL_PEER_NONE ? 0 : r->producer_pid;
  l->requests = published(s->q[k]);
  l->responses = published(s->r[k]);
  /* a server that died mid-batch answers that batch again: never below 0 */
  l->in_flight = l->requests > l->responses ? l->requests - l->responses : 0;
}

/* The service's server: the live producer of a response channel (one
 * server holds them all), else a dead one, else none. */
static void server_of(const cli_service *s, uint32_t *state, uint32_t *pid) {
  *state = RILL_PEER_NONE;
  *pid = 0;
  for (uint32_t k = 0; k < s->nlanes; k++) {
    lane_state l;
    lane_get(s, k, &l);
    if (l.server == RILL_PEER_ALIVE || (l.server == RILL_PEER_DEAD && *state == RILL_PEER_NONE)) {
      *state = l.server;
      *pid = l.server_pid;
      if (l.server == RILL_PEER_ALIVE) return;
    }
  }
}

static void totals(const cli_service *s, uint32_t *clients, uint64_t *in_flight) {
  *clients = 0;
  *in_flight = 0;
  for (uint32_t k = 0; k < s->nlanes; k++) {
    lane_state l;
    lane_get(s, k, &l);
    *clients += l.client == RILL_PEER_ALIVE;
    *in_flight += l.in_flight;
  }
}

static const char *peer_text(char *buf, size_t cap, uint32_t state, uint32_t pid) {
  if (pid) snprintf(buf, cap, "%s (pid %u)", cli_liveness(state), pid);
  else snprintf(buf, cap, "%s", cli_liveness(state));
  return buf;
}

/* ---- output ---------------------------------------------------------------------- */

void cli_print_service(const char *indent, const cli_service *s) {
  uint32_t state, pid, clients;
  uint64_t in_flight;
  char b1[48], b2[48];
  server_of(s, &state, &pid);
  totals(s, &clients, &in_flight);
  printf("%sservice %s: %u lane%s, server %s, %u client%s, %llu call%s in flight\n", indent,
         s->name, s->nlanes, s->nlanes == 1 ? "" : "s", peer_text(b1, sizeof b1, state, pid),
         clients, clients == 1 ? "" : "s", (unsigned long long)in_flight,
         in_flight == 1 ? "" : "s");
  printf("%s  %4s %-20s %-20s %10s %10s %9s\n", indent, "LANE", "CLIENT", "SERVER", "REQUESTS",
         "RESPONSES", "IN_FLIGHT");
  for (uint32_t k = 0; k < s->nlanes; k++) {
    lane_state l;
    lane_get(s, k, &l);
    printf("%s  %4u %-20s %-20s %10llu %10llu %9llu\n", indent, k,
           peer_text(b1, sizeof b1, l.client, l.client_pid),
           peer_text(b2, sizeof b2, l.server, l.server_pid), (unsigned long long)l.requests,
           (unsigned long long)l.responses, (unsigned long long)l.in_flight);
  }
}

static void json_peer(cli_json *j, const char *key, uint32_t state, uint32_t pid) {
  cli_json_obj(j, key);
  cli_json_str(j, "state", cli_liveness(state));
  if (pid) cli_json_u64(j, "pid", pid);
  else cli_json_null(j, "pid");
  cli_json_end(j, '}');
}

void cli_json_service(cli_json *j, const cli_service *s) {
  uint32_t state, pid, clients;
  uint64_t in_flight;
  server_of(s, &state, &pid);
  totals(s, &clients, &in_flight);
  cli_json_str(j, "name", s->name);
  json_peer(j, "server", state, pid);
  cli_json_u64(j, "clients", clients);
  cli_json_u64(j, "in_flight", in_flight);
  cli_json_arr(j, "lanes");
  for (uint32_t k = 0; k < s->nlanes; k++) {
    lane_state l;
    lane_get(s, k, &l);
    cli_json_obj(j, NULL);
    cli_json_u64(j, "lane", k);
    cli_json_str(j, "requests_channel", s->q[k]->name);
    cli_json_str(j, "responses_channel", s->r[k]->name);
    json_peer(j, "client", l.client, l.client_pid);
    json_peer(j, "server", l.server, l.server_pid);
    cli_json_u64(j, "requests", l.requests);
    cli_json_u64(j, "responses", l.responses);
    cli_json_u64(j, "in_flight", l.in_flight);
    cli_json_end(j, '}');
  }
  cli_json_end(j, ']');
}
