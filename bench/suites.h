/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill_bench: the suites besides the harness's transports (Linux), each a
 * maker of rows (bench/rows.c) whose runs start workers (bench/proc.h):
 *
 *   lang, python  bench/s_lang.c   the Go and Python bindings beside C
 *   rpc           bench/rpc/       request/response, C and Go servers
 *   tango         bench/s_tango.c  rill beside rust-tango, in one process
 *   scale         bench/s_scale.c  1, 2, 4 consumers; 1, 4, 16 channels
 *   bridge        bench/s_bridge.c rill bridge over NATS between network
 *                                  namespaces, beside NATS and ZeroMQ
 *
 * A suite whose worker is not there is skipped with a line saying why and
 * how to get it, and the JSON's "skipped" says so too.
 */
#ifndef RILL_BENCH_SUITES_H
#define RILL_BENCH_SUITES_H

#include "bench.h"

typedef struct bench_skips {
  char json[1024];     /* JSON members "suite": "why"            */
  char software[512];  /* JSON members "name": "version"          */
} bench_skips;

/* Prints "SUITE: skipped, rows ..." (FMT says which and why) and records it. */
void bench_skip(bench_skips *s, const char *suite, const char *fmt, ...) BENCH_PRINTF(3, 4);

/* Creates region NAME in cfg->dir with the NCH channels CHANS (DEPTH, MTU,
 * max_msg MTU, CONSUMERS consumer slots), registered for removal on a
 * signal.  0, or -1 with ERR set. */
int bench_region_make(const bench_config *cfg, const char *name, int nch,
                      const char *const *chans, uint32_t depth, uint32_t mtu,
                      uint32_t consumers, char *err, size_t len);
void bench_region_unmake(const bench_config *cfg, const char *name);

/* The words of a run's worker command lines: a fresh region (PREFIX-pid-n,
 * made with bench_region_make), the message size, warm-up and count. */
typedef struct bench_wargs {
  char region[48], size[16], warm[24], count[24], total[24];
} bench_wargs;
int bench_wargs_make(const bench_config *cfg, const char *prefix, int nch,
                     const char *const *chans, uint32_t mtu, uint32_t consumers, size_t size,
                     uint64_t warm, uint64_t count, bench_wargs *a, bench_run_out *o);

/* Each suite makes and runs its rows, then adds its ratios and bars. */
void bench_suite_lang(const bench_config *cfg, bench_rows *rows, bench_skips *sk);
void bench_ratios_lang(const bench_rows *rows, bench_ratios *rt);
void bench_suite_rpc(const bench_config *cfg, bench_rows *rows, bench_skips *sk);
void bench_ratios_rpc(const bench_rows *rows, bench_ratios *rt);
void bench_suite_scale(const bench_config *cfg, bench_rows *rows, const char *only);
void bench_ratios_scale(const bench_rows *rows, bench_ratios *rt);
void bench_suite_tango(const bench_config *cfg, bench_rows *rows, bench_skips *sk);
void bench_ratios_tango(const bench_rows *rows, bench_ratios *rt);
void bench_suite_bridge(const bench_config *cfg, bench_rows *rows, bench_skips *sk);
void bench_ratios_bridge(const bench_rows *rows, bench_ratios *rt);
/* From a signal handler (async-signal-safe): kills the bridge suite's
 * processes and removes its network namespaces and its directory. */
void bench_bridge_on_signal(void);

#endif
