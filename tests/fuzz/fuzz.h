/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* What the fuzz targets (tests/fuzz/fuzz_*.c) share: a private directory
 * for their region files, the checks every returned view must pass, and
 * the policy for a consumer that makes no progress.  docs/testing.md says
 * how to run them. */
#ifndef RILL_FUZZ_H
#define RILL_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "rill.h"

/* The libFuzzer entry point, defined by each target (and called by
 * replay.c where there is no libFuzzer). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Stops the process with MSG: a finding.  abort(), so that libFuzzer
 * saves the input and the sanitizers print the stack. */
__attribute__((noreturn)) void fuzz_fail(const char *what, long long a, long long b);

#define FUZZ_CHECK(cond, a, b) \
  do { if (!(cond)) fuzz_fail(#cond " (" __FILE__ ")", (long long)(a), (long long)(b)); } while (0)

/* A private directory under $RILL_FUZZ_TMP (default /dev/shm), made at the
 * first call and removed with what is in it when the process exits. */
const char *fuzz_dir(void);

/* Writes N bytes to fuzz_dir()/NAME (replacing it).  Returns 0 or -1. */
int fuzz_write_file(const char *name, const uint8_t *data, size_t n);

/* Maps fuzz_dir()/NAME read-write and shared, as a hostile peer would.
 * Returns the base (and *SIZE) or NULL. */
uint8_t *fuzz_map_file(const char *name, size_t *size);

/* Checks what rill_poll() returned: a documented code and, on 0, a view
 * that lies inside C's data ring and within its mtu; every byte of the
 * payload is read (AddressSanitizer sees a read out of bounds). */
void fuzz_check_poll(rill_consumer *c, int rc, const rill_view *v);

/* Checks what rill_recv()/rill_recv_view() returned (CAP: the buffer's
 * size; DATA: the pointer rill_recv_view() gave, else NULL). */
void fuzz_check_recv(rill_consumer *c, int64_t rc, size_t cap, const rill_meta *m,
                     const void *data, const void *buf);

/* The consumer's next sequence number (read from its handle). */
uint64_t fuzz_consumer_seq(const rill_consumer *c);

/* A consumer that, on memory nobody writes any more, went back to a
 * sequence number it had passed or did not move (without saying
 * -RILL_EAGAIN): it would loop forever.  Fatal
 * when RILL_FUZZ_LIVELOCK_FATAL is 1 (the default) or the environment has
 * RILL_FUZZ_LIVELOCK=fatal; RILL_FUZZ_LIVELOCK=warn prints the first one
 * and goes on (to look for other findings while one is being fixed).
 * corpus/consumer/seq-cycle* are such loops: descriptors whose sequence
 * numbers go round 2^64, each "ahead" of the last, which consumers
 * delivered again for ever until they bounded their jumps
 * (docs/PROTOCOL.md 3.2). */
#ifndef RILL_FUZZ_LIVELOCK_FATAL
#define RILL_FUZZ_LIVELOCK_FATAL 1
#endif
void fuzz_livelock(const char *what, uint64_t seq, uint64_t polls);

#endif
