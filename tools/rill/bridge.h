/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* The NATS bridge's file (docs/bridge.md): one per bridged channel and
 * direction, DIR/.rill-bridge@REGION@CHANNEL@out (or @in) beside the
 * region, written only by the bridge that runs it, which holds an
 * exclusive flock() on it for as long as it runs (a second bridge for the
 * same channel and direction is refused; readers tell a live one from a
 * dead one by the lock).  It holds two things:
 *   - what a restarted bridge needs (the consumer slot it rejoins; where
 *     the stream it puts into the channel stands), kept across restarts;
 *   - its counters and state, which `rill info`, `rill monitor` and
 *     `--prometheus` show beside the channel's own endpoints.
 * The bridge maps it shared and stores into it as it goes (a bridge killed
 * with kill -9 leaves its last stores in the file); readers pread() it.
 * Only rill's own command reads it: no other language depends on it. */
#ifndef RILL_CLI_BRIDGE_H
#define RILL_CLI_BRIDGE_H

#include <stdatomic.h>
#include <stdint.h>

#include "rill.h"

#define BRIDGE_MAGIC "RILLBRG1"
#define BRIDGE_VERSION 1u

enum { BRIDGE_OUT = 1, BRIDGE_IN = 2 };
enum { BRIDGE_CORE = 1, BRIDGE_JETSTREAM = 2 };
enum { BRIDGE_NATS_CONNECTING = 0, BRIDGE_NATS_CONNECTED, BRIDGE_NATS_RECONNECTING,
       BRIDGE_NATS_CLOSED };

typedef struct bridge_file {
  char magic[8];
  uint32_t version, direction, mode, pid;
  uint64_t started_ns;            /* CLOCK_REALTIME the bridge started     */
  char subject[256];
  char server[256];               /* the URL it is connected to, or ""     */
  /* ---- kept across restarts ---- */
  uint32_t slot;                  /* out: consumer slot + 1 (0: none yet)  */
  uint32_t pend;                  /* in: messages are being put (a chunk)  */
  uint64_t epoch;                 /* in: the source channel's created_ns   */
  uint64_t next;                  /* in: the source seq expected next      */
  uint64_t pend_from, pend_to;    /* in: the chunk's source seqs [from, to) */
  uint64_t pend_lseq;             /* in: the local producer's seq before it */
  uint64_t sseq;                  /* in, JetStream: the stream seq done last */
  uint64_t skip_from, skip;       /* in, after a crash: descriptors of the chunk
                                     from skip_from already in the channel */
  /* ---- counters, each stored by the bridge as it counts (relaxed) ---- */
  _Atomic uint32_t nats;          /* BRIDGE_NATS_*                         */
  uint32_t reserved0;
  _Atomic uint64_t msgs, bytes;   /* out: published (JetStream: acknowledged); in: put in the channel */
  _Atomic uint64_t lost;          /* sequence numbers lost: out, by its lossy consumer; in, gaps */
  _Atomic uint64_t bad;           /* in: NATS messages that were not bridged messages */
  _Atomic uint64_t dups;          /* in: messages already put, skipped     */
  _Atomic uint64_t reconnects;
  _Atomic uint64_t republished;   /* out, JetStream: batches sent again    */
  _Atomic uint64_t errors;        /* publish or fetch errors               */
  _Atomic uint64_t seq;           /* out: next local seq; in: next source seq */
  _Atomic uint64_t lag;           /* in: messages waiting in NATS (JetStream: in the
                                     stream past this one; core: in the client) */
  uint64_t reserved[15];
} bridge_file;

_Static_assert(sizeof(bridge_file) == 824, "bridge_file layout");

/* The file's path for REGION/CHAN and DIRECTION in DIR (NULL: the
 * default), into BUF.  0, or -1 if it does not fit. */
int bridge_path(const char *dir, const char *region, const char *chan, int direction, char *buf,
                size_t cap);

/* A bridge's file as a reader sees it. */
typedef struct bridge_seen {
  bridge_file f;
  int alive; /* 1: its bridge holds the lock */
} bridge_seen;

/* Reads the bridges of REGION/CHAN in DIR (at most MAX, out then in).
 * Returns how many were found (0 without any, or where files cannot be
 * locked: Windows). */
int bridge_read(const char *dir, const char *region, const char *chan, bridge_seen *out, int max);

/* Text of a direction, a mode, a NATS state. */
const char *bridge_direction_name(uint32_t d);
const char *bridge_mode_name(uint32_t m);
const char *bridge_nats_name(uint32_t s);

/* `rill bridge` (bridge.c; without NATS it says how to get it). */
int cmd_bridge(int argc, char **argv);

#endif
