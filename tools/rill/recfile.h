/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* Recordings of a channel (rill record, rill replay): the file format of
 * docs/recording.md, written and read.
 *
 * A file is a preamble, then records: each a 16-byte header (body length,
 * type, flags, a CRC-32C of the header, a CRC-32C of the body) and its
 * body.  The first record is the header of the recording, the last (when
 * the recorder closed it) the end record; messages and losses between,
 * either as records of their own or, compressed, inside zstd blocks (a
 * record whose body is one zstd frame of whole records).  Every integer
 * is little-endian.
 *
 * Neither side prints: errors come back as text (the reader) or errno
 * (the writer) for the command to say. */
#ifndef RILL_CLI_RECFILE_H
#define RILL_CLI_RECFILE_H

#include <stdint.h>
#include <stdio.h>

#include "rill.h"

#define RECFILE_MAGIC "RILLREC\n"
#define RECFILE_MAJOR 1
#define RECFILE_MINOR 0
#define RECFILE_PREAMBLE 16 /* magic, major, minor, CRC-32C of the first 12 bytes */
#define RECFILE_RECHDR 16   /* len, type, flags, header CRC, body CRC */

enum {
  RECFILE_HEADER = 1, /* the recording's header: the first record */
  RECFILE_MSG = 2,    /* one message */
  RECFILE_LOSS = 3,   /* sequence numbers the recorder did not get */
  RECFILE_END = 4,    /* the recorder closed the file: its totals */
  RECFILE_ZBLOCK = 5, /* a zstd frame of MSG and LOSS records */
};
#define RECFILE_F_SKIP 0x0001u /* a reader that does not know the type may skip it */

#define RECFILE_MSG_FIXED 40u    /* a MSG body before its payload */
#define RECFILE_LOSS_LEN 24u
#define RECFILE_END_LEN 40u
#define RECFILE_HEADER_FIXED 48u /* a HEADER body before the names */
#define RECFILE_ZBLOCK_FIXED 8u  /* raw length, records; then the frame */
/* The largest body a reader takes (a corrupt length is caught by the
 * header's CRC; this bounds what a valid-looking one can allocate), and
 * so the largest message that can be recorded. */
#define RECFILE_MAX_BODY ((uint32_t)1 << 30)
#define RECFILE_MAX_MSG (RECFILE_MAX_BODY - RECFILE_MSG_FIXED)

enum { RECFILE_NONE = 0, RECFILE_ZSTD = 1 }; /* compression */

/* CRC-32C (Castagnoli, reflected 0x82f63b78, initial and final ~0) of N
 * bytes, continued from CRC (0 to start): "123456789" -> 0xe3069283. */
uint32_t recfile_crc32c(uint32_t crc, const void *p, size_t n);

/* 1 if this rill was built with libzstd. */
int recfile_have_zstd(void);

/* What the HEADER record says. */
typedef struct recfile_info {
  uint64_t start_real_ns, start_mono_ns; /* when the recording started */
  uint64_t max_msg;
  uint32_t depth, mtu, max_consumers;
  uint16_t mode;        /* RILL_RELIABLE or RILL_LOSSY: how it was recorded */
  uint16_t compression; /* RECFILE_NONE, RECFILE_ZSTD */
  char region[RILL_NAME_MAX + 1], channel[RILL_NAME_MAX + 1];
} recfile_info;

/* One message or loss as read or to write. */
typedef struct recfile_rec {
  uint16_t type;          /* RECFILE_MSG, RECFILE_LOSS, RECFILE_END */
  uint64_t seq;           /* MSG: the message's; LOSS: the first one lost */
  uint64_t count;         /* LOSS: sequence numbers lost */
  uint64_t sig;
  uint64_t rx_ns;         /* when the recorder got it, from start_mono_ns */
  uint32_t tsorig, tspub;
  uint16_t ctl;
  uint32_t size;          /* MSG: payload bytes */
  const uint8_t *payload; /* MSG: valid until the next call */
  /* END: the totals the writer counted */
  uint64_t end_msgs, end_bytes, end_lost, end_real_ns, end_rx_ns;
} recfile_rec;

/* ---- writing ------------------------------------------------------------------ */

typedef struct recfile_writer {
  int fd, own_fd, seekable; /* seekable: a file that can be cut back on failure */
  uint8_t *buf;             /* whole records not written yet */
  size_t len, cap, flush_at;
  uint64_t pend_msgs, pend_bytes, pend_lost, pend_recs; /* in buf */
  uint64_t off;             /* bytes written, a record's end */
  uint64_t msgs, bytes, lost; /* written */
  int level;                /* zstd level; 0: not compressed */
  void *zctx;
  uint8_t *zbuf;
  size_t zcap;
  int err;                  /* errno of the first failure (then nothing more is written) */
} recfile_writer;

/* Creates PATH ("-": standard output) and writes the preamble and the
 * header.  LEVEL: 0, or a zstd level (1..22) to compress in blocks.
 * Returns 0, or an errno value (ENOTSUP: compression without libzstd). */
int recfile_create(recfile_writer *w, const char *path, const recfile_info *info, int level);
/* Adds a message, or a loss of COUNT sequence numbers from SEQ, to what
 * is written next (when a block's worth is there).  Returns 0 or -1
 * (w->err says why; the file holds what was written before). */
int recfile_put_msg(recfile_writer *w, const rill_meta *m, const void *payload, uint64_t rx_ns);
int recfile_put_loss(recfile_writer *w, uint64_t seq, uint64_t count, uint64_t rx_ns);
/* Writes what is pending (a block, compressed).  0 or -1. */
int recfile_flush(recfile_writer *w);
/* Flushes, writes the end record (unless a write failed) and closes.
 * 0 or -1 (w->err).  Frees everything either way. */
int recfile_close(recfile_writer *w, uint64_t end_real_ns, uint64_t end_rx_ns);

/* ---- reading ------------------------------------------------------------------ */

enum { RECFILE_OK = 0, RECFILE_TRUNCATED = 1, RECFILE_CORRUPT = 2, RECFILE_IOERR = 3 };

typedef struct recfile_reader {
  FILE *f;
  int own_f;
  recfile_info info;
  uint64_t off;        /* the next record's offset in the file */
  uint64_t index;      /* records read so far, those inside blocks included */
  uint8_t *body;       /* the current record's body */
  size_t bcap;
  uint8_t *raw;        /* a block's records */
  size_t rcap, rlen, rpos;
  uint32_t rleft;      /* records left in the block */
  uint64_t block_off;  /* where the block is */
  void *dctx;
  int ended;           /* the end record was read */
  uint64_t msgs, bytes, lost; /* read so far */
  int status;          /* RECFILE_OK or what stopped the reading */
  uint64_t bad_index, bad_off; /* the record it stopped at: its number
                                * (the header's is 0), and its offset
                                * (its block's, when in one) */
  int bad_in_block;
  char err[256];       /* why, in words */
} recfile_reader;

/* Opens PATH ("-": standard input), reads the preamble and the header
 * into r->info.  0, or -1 with r->status and r->err. */
int recfile_open(recfile_reader *r, const char *path);
/* The next message, loss or end record into *REC: 1; 0 at the end of the
 * file (after the end record, or where a record ends and the file does,
 * when the recorder did not close it); -1 at a truncated or corrupt
 * record or a read error (r->status, r->err, r->bad_index, r->bad_off):
 * every record before it was returned. */
int recfile_next(recfile_reader *r, recfile_rec *rec);
void recfile_close_reader(recfile_reader *r);

#endif
