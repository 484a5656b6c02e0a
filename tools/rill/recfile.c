/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* Recordings of a channel: the format of docs/recording.md (recfile.h). */
#include "recfile.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <fcntl.h>
#include <io.h>
#include <sys/stat.h>
#include <windows.h>
#else
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

#ifdef RILL_HAVE_ZSTD
#include <zstd.h>
#endif

/* ---- CRC-32C ------------------------------------------------------------------ */

static uint32_t crc_table[256];

static void crc_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
    crc_table[i] = c;
  }
}

uint32_t recfile_crc32c(uint32_t crc, const void *p, size_t n) {
  if (!crc_table[1]) crc_init(); /* one thread: the command's */
  const uint8_t *b = p;
  crc = ~crc;
  while (n--) crc = crc_table[(crc ^ *b++) & 0xff] ^ (crc >> 8);
  return ~crc;
}

int recfile_have_zstd(void) {
#ifdef RILL_HAVE_ZSTD
  return 1;
#else
  return 0;
#endif
}

/* ---- little-endian fields ------------------------------------------------------- */

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> 8 * i);
}
static void put64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> 8 * i);
}
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t get32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get64(const uint8_t *p) { return get32(p) | (uint64_t)get32(p + 4) << 32; }

/* A record's header for a body of LEN bytes at BODY. */
static void rec_header(uint8_t h[RECFILE_RECHDR], uint16_t type, const uint8_t *body, uint32_t len) {
  put32(h, len);
  put16(h + 4, type);
  put16(h + 6, 0);
  put32(h + 8, recfile_crc32c(0, h, 8));
  put32(h + 12, recfile_crc32c(0, body, len));
}

/* ---- files ---------------------------------------------------------------------- */

#ifdef _WIN32
/* Paths come in UTF-8 (os_init()): opened by their wide name. */
static wchar_t *wide(const char *path) {
  int n = MultiByteToWideChar(CP_UTF8, 0, path, -1, NULL, 0);
  wchar_t *w = n > 0 ? malloc((size_t)n * sizeof *w) : NULL;
  if (w && MultiByteToWideChar(CP_UTF8, 0, path, -1, w, n) <= 0) free(w), w = NULL;
  return w;
}
static int file_create(const char *path) {
  wchar_t *w = wide(path);
  if (!w) return errno = EINVAL, -1;
  int fd = _wopen(w, _O_WRONLY | _O_CREAT | _O_TRUNC | _O_BINARY, _S_IREAD | _S_IWRITE);
  free(w);
  return fd;
}
static FILE *file_read(const char *path) {
  wchar_t *w = wide(path);
  FILE *f = w ? _wfopen(w, L"rb") : NULL;
  free(w);
  return f;
}
static long file_write(int fd, const void *p, size_t n) {
  return _write(fd, p, n > 1u << 30 ? 1u << 30 : (unsigned)n);
}
static int file_cut(int fd, uint64_t n) { return _chsize_s(fd, (__int64)n) ? -1 : 0; }
static int file_seekable(int fd) {
  struct _stat64 st;
  return !_fstat64(fd, &st) && (st.st_mode & _S_IFMT) == _S_IFREG;
}
#define file_close _close
#define STDOUT_FD 1
#else
static int file_create(const char *path) {
  return open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
}
static FILE *file_read(const char *path) { return fopen(path, "rb"); }
static long file_write(int fd, const void *p, size_t n) { return (long)write(fd, p, n); }
static int file_cut(int fd, uint64_t n) { return ftruncate(fd, (off_t)n); }
static int file_seekable(int fd) {
  struct stat st;
  return !fstat(fd, &st) && S_ISREG(st.st_mode);
}
#define file_close close
#define STDOUT_FD STDOUT_FILENO
#endif

/* Writes all N bytes (a signal that interrupts a write to a pipe is not
 * a failure).  0, or -1 with errno. */
static int write_all(int fd, const uint8_t *p, size_t n) {
  while (n) {
    long k = file_write(fd, p, n);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) {
      if (k == 0) errno = EIO;
      return -1;
    }
    p += k;
    n -= (size_t)k;
  }
  return 0;
}

/* ---- writing ------------------------------------------------------------------- */

#define FLUSH_PLAIN (64u << 10) /* what is written at once, uncompressed */
#define FLUSH_ZSTD (1u << 20)   /* the raw size of a compressed block */

/* Writes N bytes at P at the end of what the file holds.  A failure cuts
 * the file back to the last whole record (a full disk leaves part of a
 * write behind) and is kept in w->err: nothing more is written. */
static int emit(recfile_writer *w, const uint8_t *p, size_t n) {
  if (w->err) return -1;
  if (write_all(w->fd, p, n)) {
    w->err = errno ? errno : EIO;
    if (w->seekable) file_cut(w->fd, w->off);
    return -1;
  }
  w->off += n;
  return 0;
}

static int emit_record(recfile_writer *w, uint16_t type, const uint8_t *body, uint32_t len) {
  uint8_t h[RECFILE_RECHDR];
  rec_header(h, type, body, len);
  if (emit(w, h, sizeof h)) return -1;
  return emit(w, body, len);
}

/* Room for N more bytes in w->buf. */
static int reserve(recfile_writer *w, size_t n) {
  if (w->len + n <= w->cap) return 0;
  size_t cap = w->cap ? w->cap : 4096;
  while (cap < w->len + n) cap *= 2;
  uint8_t *b = realloc(w->buf, cap);
  if (!b) return w->err = ENOMEM, -1;
  w->buf = b, w->cap = cap;
  return 0;
}

int recfile_create(recfile_writer *w, const char *path, const recfile_info *info, int level) {
  memset(w, 0, sizeof *w);
  w->fd = -1;
  if (level && !recfile_have_zstd()) return ENOTSUP;
#ifdef RILL_HAVE_ZSTD
  if (level) {
    ZSTD_CCtx *z = ZSTD_createCCtx();
    if (!z) return ENOMEM;
    /* each frame checks its content too (a second line behind the
     * record's CRC, for a reader of the frame alone) */
    if (ZSTD_isError(ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel, level)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(z, ZSTD_c_checksumFlag, 1))) {
      ZSTD_freeCCtx(z);
      return EINVAL;
    }
    w->zctx = z;
  }
#endif
  w->level = level;
  w->flush_at = level ? FLUSH_ZSTD : FLUSH_PLAIN;
  if (!strcmp(path, "-")) {
    w->fd = STDOUT_FD;
#ifdef _WIN32
    _setmode(STDOUT_FD, _O_BINARY);
#endif
  } else {
    w->fd = file_create(path);
    w->own_fd = 1;
  }
  int err = 0;
  if (w->fd < 0) {
    err = errno;
    w->own_fd = 0;
    recfile_close(w, 0, 0);
    return err ? err : EIO;
  }
  w->seekable = file_seekable(w->fd);

  uint8_t pre[RECFILE_PREAMBLE];
  memcpy(pre, RECFILE_MAGIC, 8);
  put16(pre + 8, RECFILE_MAJOR);
  put16(pre + 10, RECFILE_MINOR);
  put32(pre + 12, recfile_crc32c(0, pre, 12));
  size_t rl = strlen(info->region), cl = strlen(info->channel);
  uint8_t h[RECFILE_HEADER_FIXED + 2 * (RILL_NAME_MAX + 1)] = {0};
  put64(h, info->start_real_ns);
  put64(h + 8, info->start_mono_ns);
  put64(h + 16, info->max_msg);
  put32(h + 24, info->depth);
  put32(h + 28, info->mtu);
  put32(h + 32, info->max_consumers);
  put16(h + 36, info->mode);
  put16(h + 38, level ? RECFILE_ZSTD : RECFILE_NONE);
  put16(h + 40, (uint16_t)rl);
  put16(h + 42, (uint16_t)cl);
  memcpy(h + RECFILE_HEADER_FIXED, info->region, rl);
  memcpy(h + RECFILE_HEADER_FIXED + rl, info->channel, cl);
  if (emit(w, pre, sizeof pre) ||
      emit_record(w, RECFILE_HEADER, h, (uint32_t)(RECFILE_HEADER_FIXED + rl + cl))) {
    err = w->err;
    recfile_close(w, 0, 0);
    return err;
  }
  return 0;
}

/* Appends a record to w->buf, counted as MSGS messages and LOST
 * sequence numbers lost (written once the buffer is), then writes what
 * is pending if it is a block's worth. */
static int put_record(recfile_writer *w, uint16_t type, const uint8_t *fixed, uint32_t flen,
                      const void *payload, uint32_t plen, uint64_t msgs, uint64_t lost) {
  if (w->err || reserve(w, RECFILE_RECHDR + (size_t)flen + plen)) return -1;
  uint8_t *h = w->buf + w->len, *body = h + RECFILE_RECHDR;
  memcpy(body, fixed, flen);
  if (plen) memcpy(body + flen, payload, plen);
  rec_header(h, type, body, flen + plen);
  w->len += RECFILE_RECHDR + (size_t)flen + plen;
  w->pend_recs++;
  w->pend_msgs += msgs, w->pend_bytes += msgs ? plen : 0, w->pend_lost += lost;
  return w->len >= w->flush_at ? recfile_flush(w) : 0;
}

int recfile_put_msg(recfile_writer *w, const rill_meta *m, const void *payload, uint64_t rx_ns) {
  if (m->sz > RECFILE_MAX_MSG) return w->err = EFBIG, -1;
  uint8_t b[RECFILE_MSG_FIXED] = {0};
  put64(b, m->seq);
  put64(b + 8, m->sig);
  put64(b + 16, rx_ns);
  put32(b + 24, m->tsorig);
  put32(b + 28, m->tspub);
  /* a whole message: SOM and EOM both (meta's ctl is the last fragment's) */
  put16(b + 32, (uint16_t)(m->ctl | RILL_CTL_MSG));
  put32(b + 36, (uint32_t)m->sz);
  if (put_record(w, RECFILE_MSG, b, sizeof b, payload, (uint32_t)m->sz, 1, 0)) return -1;
  return 0;
}

int recfile_put_loss(recfile_writer *w, uint64_t seq, uint64_t count, uint64_t rx_ns) {
  uint8_t b[RECFILE_LOSS_LEN];
  put64(b, seq);
  put64(b + 8, count);
  put64(b + 16, rx_ns);
  if (put_record(w, RECFILE_LOSS, b, sizeof b, NULL, 0, 0, count)) return -1;
  return 0;
}

/* w->buf as one ZBLOCK record. */
static int flush_zstd(recfile_writer *w) {
#ifdef RILL_HAVE_ZSTD
  size_t need = RECFILE_ZBLOCK_FIXED + ZSTD_compressBound(w->len);
  if (need > w->zcap) {
    uint8_t *z = realloc(w->zbuf, need);
    if (!z) return w->err = ENOMEM, -1;
    w->zbuf = z, w->zcap = need;
  }
  size_t n = ZSTD_compress2(w->zctx, w->zbuf + RECFILE_ZBLOCK_FIXED, need - RECFILE_ZBLOCK_FIXED,
                            w->buf, w->len);
  if (ZSTD_isError(n) || RECFILE_ZBLOCK_FIXED + n > RECFILE_MAX_BODY) return w->err = EIO, -1;
  put32(w->zbuf, (uint32_t)w->len);
  put32(w->zbuf + 4, (uint32_t)w->pend_recs);
  return emit_record(w, RECFILE_ZBLOCK, w->zbuf, (uint32_t)(RECFILE_ZBLOCK_FIXED + n));
#else
  return w->err = ENOTSUP, -1;
#endif
}

int recfile_flush(recfile_writer *w) {
  if (w->err) return -1;
  if (!w->len) return 0;
  /* a block holds less than RECFILE_MAX_BODY of records: one message
   * alone may be larger (then it is a block of its own) */
  if (w->level ? flush_zstd(w) : emit(w, w->buf, w->len)) return -1;
  w->msgs += w->pend_msgs, w->bytes += w->pend_bytes, w->lost += w->pend_lost;
  w->pend_msgs = w->pend_bytes = w->pend_lost = w->pend_recs = 0;
  w->len = 0;
  return 0;
}

int recfile_close(recfile_writer *w, uint64_t end_real_ns, uint64_t end_rx_ns) {
  int rc = 0;
  if (w->fd >= 0) {
    rc = recfile_flush(w);
    if (!rc) {
      uint8_t b[RECFILE_END_LEN];
      put64(b, w->msgs);
      put64(b + 8, w->bytes);
      put64(b + 16, w->lost);
      put64(b + 24, end_real_ns);
      put64(b + 32, end_rx_ns);
      rc = emit_record(w, RECFILE_END, b, sizeof b);
    }
    if (w->own_fd && file_close(w->fd) && !rc) w->err = errno, rc = -1;
  }
#ifdef RILL_HAVE_ZSTD
  ZSTD_freeCCtx(w->zctx);
#endif
  free(w->buf);
  free(w->zbuf);
  w->fd = -1, w->buf = w->zbuf = NULL, w->zctx = NULL;
  return rc ? -1 : 0;
}

/* ---- reading ------------------------------------------------------------------- */

__attribute__((format(printf, 3, 4))) static int bad(recfile_reader *r, int status,
                                                     const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->err, sizeof r->err, fmt, ap);
  va_end(ap);
  r->status = status;
  return -1;
}

/* Reads N bytes at r->off: 0; 1 if the file ends before any; -1 if it
 * ends within them or cannot be read (r->status says which). */
static int read_at(recfile_reader *r, void *p, size_t n, const char *what) {
  size_t k = fread(p, 1, n, r->f);
  if (k == n) return 0;
  if (ferror(r->f)) return bad(r, RECFILE_IOERR, "cannot read: %s", strerror(errno));
  if (!k) return 1;
  return bad(r, RECFILE_TRUNCATED, "the file ends within %s (%llu of %llu bytes)", what,
             (unsigned long long)k, (unsigned long long)n);
}

static int grow(uint8_t **buf, size_t *cap, size_t n) {
  if (n <= *cap) return 0;
  uint8_t *b = realloc(*buf, n ? n : 1);
  if (!b) return -1;
  *buf = b, *cap = n;
  return 0;
}

/* Checks a record's header H: 0 with its type and length, or -1. */
static int check_header(recfile_reader *r, const uint8_t *h, uint16_t *type, uint32_t *len) {
  if (get32(h + 8) != recfile_crc32c(0, h, 8))
    return bad(r, RECFILE_CORRUPT, "its header's checksum does not match");
  *len = get32(h);
  *type = get16(h + 4);
  if (*len > RECFILE_MAX_BODY) return bad(r, RECFILE_CORRUPT, "its length %u is too large", *len);
  return 0;
}

/* The next record of the file (not of a block) into r->body.  1, 0 at
 * the end of the file, or -1. */
static int read_record(recfile_reader *r, uint16_t *type, uint32_t *len, uint16_t *flags) {
  uint8_t h[RECFILE_RECHDR];
  r->bad_off = r->off, r->bad_index = r->index, r->bad_in_block = 0;
  int rc = read_at(r, h, sizeof h, "a record's header");
  if (rc) return rc > 0 ? 0 : -1;
  if (check_header(r, h, type, len)) return -1;
  *flags = get16(h + 6);
  if (grow(&r->body, &r->bcap, *len)) return bad(r, RECFILE_IOERR, "out of memory");
  if ((rc = read_at(r, r->body, *len, "a record's body"))) {
    if (rc > 0) bad(r, RECFILE_TRUNCATED, "the file ends before its body (%u bytes)", *len);
    return -1;
  }
  if (get32(h + 12) != recfile_crc32c(0, r->body, *len))
    return bad(r, RECFILE_CORRUPT, "its body's checksum does not match");
  r->off += RECFILE_RECHDR + *len;
  return 1;
}

int recfile_open(recfile_reader *r, const char *path) {
  memset(r, 0, sizeof *r);
  if (!strcmp(path, "-")) {
    r->f = stdin;
#ifdef _WIN32
    _setmode(_fileno(stdin), _O_BINARY);
#endif
  } else {
    r->f = file_read(path);
    r->own_f = 1;
  }
  if (!r->f) return bad(r, RECFILE_IOERR, "%s", strerror(errno));
  uint8_t pre[RECFILE_PREAMBLE];
  int rc = read_at(r, pre, sizeof pre, "the preamble");
  if (rc > 0) return bad(r, RECFILE_TRUNCATED, "the file is empty");
  if (rc) return -1;
  if (memcmp(pre, RECFILE_MAGIC, 8)) return bad(r, RECFILE_CORRUPT, "not a rill recording");
  if (get32(pre + 12) != recfile_crc32c(0, pre, 12))
    return bad(r, RECFILE_CORRUPT, "the preamble's checksum does not match");
  if (get16(pre + 8) != RECFILE_MAJOR)
    return bad(r, RECFILE_CORRUPT, "format version %u.%u, this rill reads %u.x", get16(pre + 8),
               get16(pre + 10), RECFILE_MAJOR);
  r->off = RECFILE_PREAMBLE;
  uint16_t type, flags;
  uint32_t len;
  rc = read_record(r, &type, &len, &flags);
  if (rc == 0) return bad(r, RECFILE_TRUNCATED, "the file ends before its header");
  if (rc < 0) return -1;
  const uint8_t *b = r->body;
  if (type != RECFILE_HEADER || len < RECFILE_HEADER_FIXED)
    return bad(r, RECFILE_CORRUPT, "the first record is not a header");
  recfile_info *i = &r->info;
  i->start_real_ns = get64(b), i->start_mono_ns = get64(b + 8), i->max_msg = get64(b + 16);
  i->depth = get32(b + 24), i->mtu = get32(b + 28), i->max_consumers = get32(b + 32);
  i->mode = get16(b + 36), i->compression = get16(b + 38);
  uint32_t rl = get16(b + 40), cl = get16(b + 42);
  if (rl > RILL_NAME_MAX || cl > RILL_NAME_MAX || RECFILE_HEADER_FIXED + rl + cl > len)
    return bad(r, RECFILE_CORRUPT, "the header's names do not fit");
  memcpy(i->region, b + RECFILE_HEADER_FIXED, rl);
  memcpy(i->channel, b + RECFILE_HEADER_FIXED + rl, cl);
  i->region[rl] = i->channel[cl] = 0;
  r->index = 1;
  return 0;
}

/* Decompresses the ZBLOCK in r->body (LEN bytes) into r->raw. */
static int open_block(recfile_reader *r, uint32_t len) {
  r->bad_in_block = 1;
  if (len < RECFILE_ZBLOCK_FIXED) return bad(r, RECFILE_CORRUPT, "a block too short");
  uint32_t raw = get32(r->body), recs = get32(r->body + 4);
  if (raw > RECFILE_MAX_BODY + (size_t)(64u << 20))
    return bad(r, RECFILE_CORRUPT, "a block of %u bytes is too large", raw);
#ifdef RILL_HAVE_ZSTD
  if (!r->dctx && !(r->dctx = ZSTD_createDCtx())) return bad(r, RECFILE_IOERR, "out of memory");
  if (grow(&r->raw, &r->rcap, raw)) return bad(r, RECFILE_IOERR, "out of memory");
  size_t n = ZSTD_decompressDCtx(r->dctx, r->raw, raw, r->body + RECFILE_ZBLOCK_FIXED,
                                 len - RECFILE_ZBLOCK_FIXED);
  if (ZSTD_isError(n)) return bad(r, RECFILE_CORRUPT, "zstd: %s", ZSTD_getErrorName(n));
  if (n != raw) return bad(r, RECFILE_CORRUPT, "the block holds %llu bytes, not %u",
                               (unsigned long long)n, raw);
  r->rlen = raw, r->rpos = 0, r->rleft = recs;
  return 0;
#else
  (void)recs;
  return bad(r, RECFILE_IOERR,
             "the recording is compressed with zstd, and this rill was built without "
             "libzstd (Debian: apt-get install libzstd-dev, then build rill again)");
#endif
}

/* The next record of the current block: its body in *BODY. */
static int block_record(recfile_reader *r, uint16_t *type, uint32_t *len, const uint8_t **body) {
  r->bad_index = r->index, r->bad_in_block = 1;
  size_t left = r->rlen - r->rpos;
  if (left < RECFILE_RECHDR)
    return bad(r, RECFILE_CORRUPT, "the block ends within a record's header");
  const uint8_t *h = r->raw + r->rpos;
  if (check_header(r, h, type, len)) return -1;
  if (*len > left - RECFILE_RECHDR) return bad(r, RECFILE_CORRUPT, "the block ends within a record");
  if (get32(h + 12) != recfile_crc32c(0, h + RECFILE_RECHDR, *len))
    return bad(r, RECFILE_CORRUPT, "its body's checksum does not match");
  if (*type != RECFILE_MSG && *type != RECFILE_LOSS)
    return bad(r, RECFILE_CORRUPT, "a record of type %u in a block", *type);
  *body = h + RECFILE_RECHDR;
  r->rpos += RECFILE_RECHDR + *len;
  r->rleft--;
  if (!r->rleft && r->rpos != r->rlen)
    return bad(r, RECFILE_CORRUPT, "the block holds more than its records");
  return 0;
}

/* Fills *REC from a MSG, LOSS or END body. */
static int decode(recfile_reader *r, uint16_t type, const uint8_t *b, uint32_t len,
                  recfile_rec *rec) {
  memset(rec, 0, sizeof *rec);
  rec->type = type;
  if (type == RECFILE_MSG) {
    if (len < RECFILE_MSG_FIXED || get32(b + 36) != len - RECFILE_MSG_FIXED)
      return bad(r, RECFILE_CORRUPT, "a message whose size does not match its record");
    rec->seq = get64(b), rec->sig = get64(b + 8), rec->rx_ns = get64(b + 16);
    rec->tsorig = get32(b + 24), rec->tspub = get32(b + 28), rec->ctl = get16(b + 32);
    rec->size = len - RECFILE_MSG_FIXED;
    rec->payload = b + RECFILE_MSG_FIXED;
    r->msgs++, r->bytes += rec->size;
  } else if (type == RECFILE_LOSS) {
    if (len < RECFILE_LOSS_LEN) return bad(r, RECFILE_CORRUPT, "a loss record too short");
    rec->seq = get64(b), rec->count = get64(b + 8), rec->rx_ns = get64(b + 16);
    r->lost += rec->count;
  } else { /* END */
    if (len < RECFILE_END_LEN) return bad(r, RECFILE_CORRUPT, "an end record too short");
    rec->end_msgs = get64(b), rec->end_bytes = get64(b + 8), rec->end_lost = get64(b + 16);
    rec->end_real_ns = get64(b + 24), rec->end_rx_ns = get64(b + 32);
    if (rec->end_msgs != r->msgs || rec->end_bytes != r->bytes || rec->end_lost != r->lost)
      return bad(r, RECFILE_CORRUPT,
                 "the end record counts %llu messages, %llu bytes, %llu lost; the file holds "
                 "%llu, %llu, %llu",
                 (unsigned long long)rec->end_msgs, (unsigned long long)rec->end_bytes,
                 (unsigned long long)rec->end_lost, (unsigned long long)r->msgs,
                 (unsigned long long)r->bytes, (unsigned long long)r->lost);
    r->ended = 1;
  }
  r->index++;
  return 1;
}

int recfile_next(recfile_reader *r, recfile_rec *rec) {
  if (r->status) return -1;
  uint16_t type, flags;
  uint32_t len;
  const uint8_t *body = NULL;
  for (;;) {
    if (r->rleft) {
      if (block_record(r, &type, &len, &body)) return -1;
      return decode(r, type, body, len, rec);
    }
    if (r->rpos != r->rlen) return bad(r, RECFILE_CORRUPT, "the block holds more than its records");
    int rc = read_record(r, &type, &len, &flags);
    if (rc <= 0) return rc;
    if (r->ended) return bad(r, RECFILE_CORRUPT, "a record after the end record");
    switch (type) {
    case RECFILE_MSG:
    case RECFILE_LOSS:
    case RECFILE_END: return decode(r, type, r->body, len, rec);
    case RECFILE_ZBLOCK:
      r->block_off = r->bad_off;
      if (open_block(r, len)) return -1;
      continue; /* an empty block: on to the next record */
    case RECFILE_HEADER: return bad(r, RECFILE_CORRUPT, "a second header");
    default:
      if (flags & RECFILE_F_SKIP) continue; /* a later minor version's, which may be passed over */
      return bad(r, RECFILE_CORRUPT, "a record of unknown type %u", type);
    }
  }
}

void recfile_close_reader(recfile_reader *r) {
  if (r->own_f && r->f) fclose(r->f);
#ifdef RILL_HAVE_ZSTD
  ZSTD_freeDCtx(r->dctx);
#endif
  free(r->body);
  free(r->raw);
  memset(r, 0, sizeof *r);
}
