# SPDX-License-Identifier: Apache-2.0 OR MIT
"""cffi build script (API, out-of-line mode) of the extension rill._rill.

librill is compiled into the extension from the repository's own sources
(src/*.c with the Linux platform file, src/core/*.h, the freestanding core's
implementation they include, and include/*.h), referenced where they are:
nothing is copied, and no installed librill is needed.  The sources
are found two directories up from this file, or in $RILL_SOURCE_DIR.
"""
import glob
import os

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.environ.get("RILL_SOURCE_DIR") or os.path.join(HERE, "..", ".."))
SRC = os.path.join(ROOT, "src")
INCLUDE = os.path.join(ROOT, "include")
if not os.path.isfile(os.path.join(INCLUDE, "rill.h")):
    raise RuntimeError(f"rill's sources are not at {ROOT} (set RILL_SOURCE_DIR)")

SOURCES = sorted(
    p for p in glob.glob(os.path.join(SRC, "*.c")) if not p.endswith("platform_win32.c")
)
DEPENDS = sorted(
    glob.glob(os.path.join(SRC, "*.h"))
    + glob.glob(os.path.join(SRC, "core", "*.h"))
    + glob.glob(os.path.join(INCLUDE, "*.h"))
)

CDEF = """
#define RILL_NAME_MAX 39
#define RILL_LATENCY_BUCKETS 128
#define RILL_REGION_READONLY 1
#define RILL_REGION_HUGE 2
#define RILL_CTL_SOM 1
#define RILL_CTL_EOM 2
#define RILL_CTL_ERR 4
#define RILL_CTL_MSG 3
enum {
  RILL_OK = 0, RILL_EAGAIN = 1, RILL_EOVERRUN, RILL_EINVAL, RILL_ENOMEM,
  RILL_ENOENT, RILL_EEXIST, RILL_EACCES, RILL_ENODIR, RILL_ENOSPC, RILL_EBUSY,
  RILL_EFULL, RILL_EEMPTY, RILL_ETRUNC, RILL_EMAGIC, RILL_EVERSION,
  RILL_ECORRUPT, RILL_EMSGSIZE, RILL_ETIMEDOUT, RILL_EIO, RILL_ECLOSED,
  RILL_EDEAD, RILL_ESRVDEAD, RILL_ESRVLEFT, RILL_ENOMETHOD, RILL_EWORKERS,
  RILL_ENOHUGE, RILL_ERR_MAX_
};
enum { RILL_RELIABLE = 1, RILL_LOSSY = 2 };
enum { RILL_PEER_NONE = 0, RILL_PEER_ALIVE = 1, RILL_PEER_DEAD = 2, RILL_PEER_UNKNOWN = 3 };

int rill_version(void);
const char *rill_version_string(void);
int rill_os_error(void);
const char *rill_strerror(int err);
int rill_name_valid(const char *name);

typedef struct rill_region rill_region;
typedef struct rill_producer rill_producer;
typedef struct rill_consumer rill_consumer;

typedef struct {
  uint64_t size; const char *dir; uint32_t mode; uint32_t flags; ...;
} rill_region_opts;
typedef struct {
  uint64_t size, used, created_ns;
  uint32_t creator_pid, creator_uid, nobjects, owner_uid;
  uint64_t page_size; ...;
} rill_region_info;
typedef struct {
  uint32_t depth, mtu, max_consumers, flags; uint64_t max_msg; ...;
} rill_channel_opts;
typedef struct {
  const void *data; uint64_t seq; uint64_t sig; uint32_t sz; uint16_t ctl;
  uint32_t tsorig; uint32_t tspub; uint64_t lost; ...;
} rill_view;
typedef struct {
  uint64_t seq, sig, sz, lost; uint16_t ctl; uint32_t tsorig, tspub; ...;
} rill_meta;
typedef struct {
  uint32_t depth, mtu, max_consumers, nconsumers;
  uint64_t max_msg, off, size, meta_off, data_off, data_chunks, seq0, created_ns,
           seq, msgs, bytes, backpressure;
  uint32_t producer_joined, producer_liveness, producer_pid, producer_gen;
  uint64_t producer_heartbeat_ns, evictions, wakes; ...;
} rill_channel_stats;
typedef struct {
  uint32_t slot, mode;
  uint64_t seq, lag, msgs, bytes, overrun_poll, overrun_read, lost;
  uint32_t liveness, evicted, parked, pid;
  uint64_t heartbeat_ns; ...;
} rill_consumer_stats;
typedef struct {
  uint64_t count; uint64_t sum_ns; uint64_t buckets[128];
} rill_latency;

int rill_region_create(const char *name, const rill_region_opts *opts, rill_region **out);
int rill_region_open(const char *name, const rill_region_opts *opts, rill_region **out);
int rill_region_open_wait(const char *name, const rill_region_opts *opts,
                          uint64_t timeout_ns, rill_region **out);
int rill_region_close(rill_region *r);
int rill_region_unlink(const char *name, const char *dir);
int rill_region_in_use(const char *name, const char *dir);
int rill_region_info_get(rill_region *r, rill_region_info *info);

uint64_t rill_channel_footprint(const rill_channel_opts *opts);
int rill_channel_create(rill_region *r, const char *name, const rill_channel_opts *opts);
int rill_channel_wait(rill_region *r, const char *name, uint64_t timeout_ns);

int rill_producer_join(rill_region *r, const char *name, rill_producer **out);
int rill_producer_leave(rill_producer *p);
int rill_producer_set_spin(rill_producer *p, uint64_t ns);
int rill_reserve(rill_producer *p, size_t n, void **buf);
int rill_reserve_wait(rill_producer *p, size_t n, void **buf, uint64_t timeout_ns);
int rill_commit(rill_producer *p, size_t n, uint64_t sig, uint16_t ctl);
int rill_commit_ts(rill_producer *p, size_t n, uint64_t sig, uint16_t ctl, uint32_t tsorig);
int rill_send(rill_producer *p, const void *data, size_t n, uint64_t sig);
int rill_send_wait(rill_producer *p, const void *data, size_t n, uint64_t sig,
                   uint64_t timeout_ns);
int rill_producer_wait_consumers(rill_producer *p, uint32_t n, uint64_t timeout_ns);
uint64_t rill_producer_seq(const rill_producer *p);
int rill_producer_flush(rill_producer *p);

int rill_consumer_join(rill_region *r, const char *name, int mode, rill_consumer **out);
int rill_consumer_rejoin(rill_region *r, const char *name, uint32_t slot, rill_consumer **out);
uint32_t rill_consumer_slot(const rill_consumer *c);
int rill_consumer_leave(rill_consumer *c);
int rill_consumer_set_spin(rill_consumer *c, uint64_t ns);
int rill_poll(rill_consumer *c, rill_view *v);
int rill_check(rill_consumer *c, const rill_view *v);
int64_t rill_recv(rill_consumer *c, void *buf, size_t cap, rill_meta *meta);
int64_t rill_recv_view(rill_consumer *c, void *buf, size_t cap, rill_meta *meta,
                       const void **data);
int rill_poll_wait(rill_consumer *c, rill_view *v, uint64_t timeout_ns);
int64_t rill_recv_wait(rill_consumer *c, void *buf, size_t cap, rill_meta *meta,
                       uint64_t timeout_ns);
int rill_consumer_fd(rill_consumer *c);
int rill_consumer_arm(rill_consumer *c);
int rill_consumer_flush(rill_consumer *c);
int rill_consumer_producer(rill_consumer *c);
int64_t rill_consumer_seek_last(rill_consumer *c, uint64_t n);

int rill_channel_stats_get(rill_region *r, const char *name, rill_channel_stats *st);
int rill_consumer_stats_get(rill_region *r, const char *name, uint32_t slot,
                            rill_consumer_stats *cs);
int rill_latency_get(rill_region *r, const char *name, uint32_t slot, rill_latency *h);
uint64_t rill_latency_bucket_ns(uint32_t i);
uint64_t rill_latency_quantile(const rill_latency *h, double q);

/* rill_rpc.h */
#define RILL_RPC_MAX_LANES 31
#define RILL_RPC_METHOD_MAX 8191
typedef struct {
  uint32_t lanes, depth, mtu, flags; uint64_t max_msg; ...;
} rill_rpc_opts;
typedef struct {
  uint64_t id; uint16_t method; int32_t status; uint64_t size; ...;
} rill_rpc_result;
typedef struct rill_rpc_server rill_rpc_server;
typedef struct rill_rpc_client rill_rpc_client;
typedef int (*rill_rpc_handler)(void *arg, uint16_t method, const void *req, size_t n,
                                void *resp, size_t cap, size_t *resp_n);
extern "Python" int _rill_py_rpc_handler(void *, uint16_t, const void *, size_t, void *,
                                         size_t, size_t *);
int rill_rpc_service_create(rill_region *r, const char *name, const rill_rpc_opts *opts);
int rill_rpc_serve(rill_region *r, const char *name, uint32_t workers,
                   rill_rpc_handler fn, void *arg, rill_rpc_server **out);
int rill_rpc_server_stop(rill_rpc_server *s);
int rill_rpc_connect(rill_region *r, const char *name, rill_rpc_client **out);
int rill_rpc_close(rill_rpc_client *c);
int rill_rpc_wait_server(rill_rpc_client *c, uint64_t timeout_ns);
uint32_t rill_rpc_capacity(const rill_rpc_client *c);
int rill_rpc_send(rill_rpc_client *c, uint16_t method, const void *req, size_t n,
                  uint64_t *id);
int rill_rpc_recv(rill_rpc_client *c, void *resp, size_t cap, rill_rpc_result *res,
                  uint64_t timeout_ns);
int rill_rpc_call(rill_rpc_client *c, uint16_t method, const void *req, size_t n,
                  void *resp, size_t cap, rill_rpc_result *res, uint64_t timeout_ns);
"""

ffibuilder = FFI()
ffibuilder.cdef(CDEF)
# rill_fast.c (the per-message calls as C methods, loaded as rill._fast) is
# compiled into the same extension, so that one copy of librill serves both.
ffibuilder.set_source(
    "rill._rill",
    '#include "rill.h"\n#include "rill_rpc.h"\n',
    sources=["rill_fast.c"],
    py_limited_api=False,  # rill_fast.c uses the full C API
    include_dirs=[INCLUDE, SRC],
    define_macros=[("_GNU_SOURCE", None)],
    extra_compile_args=["-std=c11", "-O2", "-fvisibility=hidden"],
    libraries=["pthread"],
)

if __name__ == "__main__":
    # a build in place, for a quick look (pip install is the real way)
    ffibuilder.set_source("rill._rill", '#include "rill.h"\n#include "rill_rpc.h"\n',
                          sources=[os.path.join(HERE, "rill_fast.c")] + SOURCES,
                          include_dirs=[INCLUDE, SRC], define_macros=[("_GNU_SOURCE", None)],
                          extra_compile_args=["-std=c11", "-O2", "-fvisibility=hidden"])
    ffibuilder.compile(verbose=True)
