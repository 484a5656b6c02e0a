/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill_bench: the programs it starts (Linux) and the one protocol they speak.
 *
 * A worker is a program started as
 *
 *     PROGRAM worker COMMAND ARGS...
 *
 * (rill_bench itself for C, rill-goworker, rill-pyworker, rill-tangoworker),
 * pinned to a CPU before exec, its stdout on a pipe, its stderr in a file of
 * the private directory.  It writes lines of words, at most 8 KiB each:
 *
 *     ready                     its endpoints are joined: start the others
 *     result KEY VALUE ...      raw numbers of a measurement (ns, counts,
 *                               errors); a command may write several
 *     samples NS NS ...         raw latencies, any number of such lines
 *     info KEY TEXT...          a version, for the JSON's "software"
 *
 * and exits 0, or 1 with a line on stderr.  It computes no median, no
 * quantile, writes no JSON: rill_bench does (bench/rows.c).
 * docs/benchmark.md, "The worker protocol", lists the commands.
 */
#ifndef RILL_BENCH_PROC_H
#define RILL_BENCH_PROC_H

#include "bench.h"

#include <sys/types.h>

#define BENCH_LINE_MAX 8192

typedef struct bench_proc {
  pid_t pid;             /* 0: none                                     */
  int out_fd;            /* read end of its stdout, -1 when closed       */
  char buf[BENCH_LINE_MAX + 1];
  size_t have;
  char errpath[300];     /* its stderr, "" if not captured               */
  char what[48];         /* for messages ("go brecv")                    */
} bench_proc;

/* What a worker wrote. */
typedef struct bench_wres {
  char **lines;          /* its result lines, without the word "result"  */
  size_t nlines;
  uint64_t *samples;     /* its samples, in order                        */
  size_t nsamples, cap;
  char info[512];        /* its info lines as JSON members, or ""        */
} bench_wres;

/* Starts ARGV[0] with ARGV pinned to CPU (-1: not pinned) with its stdout
 * on a pipe and its stderr in a file of DIR (NULL: inherited), dying with
 * this process.  Without ARGV it returns 0 in the child, which must end with
 * _exit().  Returns 1 in the parent, -1 with ERR set. */
int bench_proc_start(bench_proc *p, const char *what, int cpu, char *const argv[],
                     const char *dir, char *err, size_t len);
/* The same, run in network namespace NETNS (ip netns's name; NULL: this
 * process's): the child enters it (setns) after pinning, before exec. */
int bench_proc_start_in(bench_proc *p, const char *what, int cpu, const char *netns,
                        char *const argv[], const char *dir, char *err, size_t len);
/* Waits up to TIMEOUT_NS for a line containing MARK ("ready"; ": serving"
 * for the rpc servers); other lines are printed.  0, or -1 with ERR set. */
int bench_proc_ready(bench_proc *p, const char *mark, uint64_t timeout_ns, char *err,
                     size_t len);
/* Reads what the N workers write until they all end, for at most
 * TIMEOUT_NS, into RES[i] (freed first), and reaps them.  0 when each
 * exited with status 0; else -1 with ERR set (the first failure, with the
 * last line of its stderr), every worker killed. */
int bench_proc_collect(bench_proc *p, bench_wres *res, int n, uint64_t timeout_ns,
                       char *err, size_t len);
/* SIGTERM, up to 5 s, SIGKILL; reaps.  0 if it exited with status 0 or by
 * SIGTERM, else -1 with ERR set. */
int bench_proc_stop(bench_proc *p, char *err, size_t len);
/* Kills and reaps P, if it runs. */
void bench_proc_kill(bench_proc *p);
/* 1 if it runs; 0 (reaped, how it ended in ERR) if not. */
int bench_proc_alive(bench_proc *p, char *err, size_t len);
/* Kills every worker that runs (async-signal-safe: from a signal handler). */
void bench_procs_kill_all(void);

void bench_wres_free(bench_wres *w);
/* The number after KEY in result line LINE, or NAN. */
double bench_kv_num(const char *line, const char *key);
/* The word after KEY in LINE into BUF: 0, or -1 if there is none. */
int bench_kv_str(const char *line, const char *key, char *buf, size_t len);

/* Starts the N workers ARGV[i] on CPU[i], in order; those with READY[i]
 * must say "ready" (within 30 s) before the next one starts.  Then collects
 * them all (bench_proc_collect, at most CFG's child deadline).  0, or -1
 * with O->failure set and everything stopped. */
int bench_workers_run(const bench_config *cfg, int n, char **const argv[], const int cpu[],
                      const int ready[], bench_wres *res, bench_run_out *o);

/* The path of worker NAME in cfg->workers into BUF: 0, or -1 (with a
 * reason in WHY) when there is none. */
int bench_worker_path(const bench_config *cfg, const char *name, char *buf, size_t len,
                      char *why, size_t wlen);
/* Runs "WORKER worker version" and appends its info lines to SOFTWARE (JSON
 * members).  0 or -1. */
int bench_worker_version(const bench_config *cfg, const char *worker, char *software,
                         size_t len);

#endif
