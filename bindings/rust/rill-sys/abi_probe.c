/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* The C side of tests/abi.rs: what the C compiler makes of include/rill.h
 * and include/rill_rpc.h, for the Rust test to compare with lib.rs.
 * rill_sys_abi_probe[] holds, one entry each, with the names of
 * abi/layout.txt:
 *   "T size", "T align"            sizeof and _Alignof of each struct T
 *   "T.F offset", "T.F size"       offsetof and sizeof of each field F
 *   "NAME"                         the value of each integer constant
 * (as uint64_t: none is negative), and a few values of the function-like
 * macros.  The list follows rill.h, then rill_rpc.h; tests/abi.rs checks
 * that it covers every line of abi/layout.txt, so that a field or constant
 * added there and forgotten here fails the test. */
#include "rill_rpc.h" /* and rill.h */

#include <stddef.h>
#include <stdint.h>

typedef struct rill_sys_abi_entry {
  const char *name;
  uint64_t value;
} rill_sys_abi_entry;

#define STRUCT(T) {#T " size", sizeof(T)}, {#T " align", _Alignof(T)}
#define FIELD(T, F) {#T "." #F " offset", offsetof(T, F)}, \
                    {#T "." #F " size", sizeof(((T *)0)->F)}
#define CONST(N) {#N, (uint64_t)(N)}

/* Exported (the headers' visibility pragmas are popped by now). */
#if defined(__GNUC__)
#define PROBE_API __attribute__((visibility("default")))
#else
#define PROBE_API
#endif

PROBE_API extern const rill_sys_abi_entry rill_sys_abi_probe[];
PROBE_API extern const size_t rill_sys_abi_probe_len;

const rill_sys_abi_entry rill_sys_abi_probe[] = {
    /* version */
    CONST(RILL_VERSION_MAJOR),
    CONST(RILL_VERSION_MINOR),
    CONST(RILL_VERSION_PATCH),
    CONST(RILL_VERSION),
    {"RILL_CHECK_VERSION(0, 2, 0)", RILL_CHECK_VERSION(0, 2, 0)},
    {"RILL_CHECK_VERSION(RILL_VERSION_MAJOR, RILL_VERSION_MINOR, RILL_VERSION_PATCH)",
     RILL_CHECK_VERSION(RILL_VERSION_MAJOR, RILL_VERSION_MINOR, RILL_VERSION_PATCH)},
    {"RILL_CHECK_VERSION(RILL_VERSION_MAJOR, RILL_VERSION_MINOR, RILL_VERSION_PATCH + 1)",
     RILL_CHECK_VERSION(RILL_VERSION_MAJOR, RILL_VERSION_MINOR, RILL_VERSION_PATCH + 1)},
    {"RILL_CHECK_VERSION(RILL_VERSION_MAJOR + 1, 0, 0)",
     RILL_CHECK_VERSION(RILL_VERSION_MAJOR + 1, 0, 0)},
    CONST(RILL_ERR_MAX_),
    {"RILL_CTL_USER(5)", RILL_CTL_USER(5)},
    {"RILL_CTL_USER(0x1fff)", RILL_CTL_USER(0x1fff)},
    /* the structs and constants, from the lists tests/test_abi.c expands too */
#include "../../../abi/rill_h_structs.inc"
#include "../../../abi/rill_h_consts.inc"
#include "../../../abi/rill_rpc_h_structs.inc"
#include "../../../abi/rill_rpc_h_consts.inc"
};

const size_t rill_sys_abi_probe_len = sizeof rill_sys_abi_probe / sizeof rill_sys_abi_probe[0];
