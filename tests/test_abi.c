/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* The promises of rill.h's "ABI" paragraph:
 *   - every public struct has the size the header states (checked at
 *     compile time, on 64-bit platforms, where the header states them);
 *   - a nonzero byte anywhere in the flags or reserved fields of an option
 *     struct makes every call that reads it fail with -RILL_EINVAL, and
 *     zeroed options ({0}, designated initialisers, NULL) work;
 *   - the calls that fill a result struct write zero into its reserved
 *     fields, whatever was there before;
 *   - the version: rill_version() is the header's RILL_VERSION,
 *     rill_version_string() its text, RILL_CHECK_VERSION() reads the
 *     natural way round.
 * With --layout it prints instead every public struct's size, alignment
 * and fields, and the constants, for abi/check.sh to compare with
 * abi/layout.txt (ctest abi_layout).
 */
#include "rill_rpc.h"
#include "testutil.h"

#include <stddef.h>

#if UINTPTR_MAX == UINT64_MAX
_Static_assert(sizeof(rill_region_opts) == 64, "rill_region_opts");
_Static_assert(sizeof(rill_clean_opts) == 64, "rill_clean_opts");
_Static_assert(sizeof(rill_channel_opts) == 64, "rill_channel_opts");
_Static_assert(sizeof(rill_rpc_opts) == 64, "rill_rpc_opts");
_Static_assert(sizeof(rill_region_info) == 64, "rill_region_info");
_Static_assert(sizeof(rill_object_info) == 96, "rill_object_info");
_Static_assert(sizeof(rill_channel_stats) == 256, "rill_channel_stats");
_Static_assert(sizeof(rill_consumer_stats) == 128, "rill_consumer_stats");
_Static_assert(sizeof(rill_rpc_result) == 48, "rill_rpc_result");
_Static_assert(sizeof(rill_view) == 64, "rill_view");
_Static_assert(sizeof(rill_meta) == 64, "rill_meta");
_Static_assert(sizeof(rill_msg) == 32, "rill_msg");
_Static_assert(sizeof(rill_latency) == 1040, "rill_latency");
#endif

/* Usable in #if, and true for this very version. */
#if !RILL_CHECK_VERSION(RILL_VERSION_MAJOR, RILL_VERSION_MINOR, RILL_VERSION_PATCH)
#error "RILL_CHECK_VERSION of the header's own version is false"
#endif
#if RILL_CHECK_VERSION(RILL_VERSION_MAJOR, RILL_VERSION_MINOR, RILL_VERSION_PATCH + 1)
#error "RILL_CHECK_VERSION of a later version is true"
#endif

static uint64_t checks_run;

/* 1 if the N bytes at P are zero. */
static int zeroed(const void *p, size_t n) {
  const uint8_t *b = p;
  for (size_t i = 0; i < n; i++)
    if (b[i]) return 0;
  return 1;
}

/* ---- options: nonzero reserved bytes refused -------------------------------- */

/* The calls that read each option struct, with options O; each returns 0
 * or a negative code (rill_channel_footprint()'s 0 is -RILL_EINVAL). */
static int region_calls(const rill_region_opts *o, int create) {
  rill_region *r = NULL;
  int rc = create ? rill_region_create("abi", o, &r) : rill_region_open("abi", o, &r);
  if (!rc) {
    rill_region_close(r);
    if (create) CHECK_OK(rill_region_unlink("abi", tu_dir()));
  }
  return rc;
}

static int channel_calls(rill_region *r, const rill_channel_opts *o, const char *name) {
  int rc = rill_channel_footprint(o) ? 0 : -RILL_EINVAL;
  int rc2 = rill_channel_create(r, name, o);
  CHECKF(rc == rc2, "footprint says %d, create %d", rc, rc2);
  return rc2;
}

/* Makes each of the N bytes at P nonzero in turn (the others zero) and
 * checks that CALL fails with -RILL_EINVAL each time; P is zero after. */
#define EACH_BYTE_REFUSED(p, n, call)                                     \
  do {                                                                    \
    uint8_t *bytes_ = (uint8_t *)(p);                                     \
    for (size_t b_ = 0; b_ < (n); b_++) {                                 \
      bytes_[b_] = (uint8_t)(0x80 >> (b_ % 8));                           \
      CHECKF((call) == -RILL_EINVAL, "byte %zu of " #p " set: accepted", b_); \
      bytes_[b_] = 0;                                                     \
      checks_run++;                                                       \
    }                                                                     \
  } while (0)

static void test_options(void) {
  rill_region_opts ro = tu_opts(16 << 20); /* room for a channel of the defaults */
  EACH_BYTE_REFUSED(&ro.flags, sizeof ro.flags, region_calls(&ro, 1));
  EACH_BYTE_REFUSED(ro.reserved, sizeof ro.reserved, region_calls(&ro, 1));
  CHECK_OK(region_calls(&ro, 1));
  /* Zero-initialised by designated initialisers: fine. */
  CHECK_OK(region_calls(&(rill_region_opts){.size = 16 << 20, .dir = tu_dir()}, 1));

  rill_region *r;
  CHECK_OK(rill_region_create("abi", &ro, &r));
  EACH_BYTE_REFUSED(&ro.flags, sizeof ro.flags, region_calls(&ro, 0));
  EACH_BYTE_REFUSED(ro.reserved, sizeof ro.reserved, region_calls(&ro, 0));
  CHECK_OK(region_calls(&ro, 0));

  rill_channel_opts co = {.depth = 64, .mtu = 64};
  EACH_BYTE_REFUSED(&co.flags, sizeof co.flags, channel_calls(r, &co, "c"));
  EACH_BYTE_REFUSED(co.reserved, sizeof co.reserved, channel_calls(r, &co, "c"));
  CHECK_OK(channel_calls(r, &co, "c"));
  CHECK_OK(channel_calls(r, &(rill_channel_opts){0}, "c0"));
  CHECK_OK(channel_calls(r, NULL, "cnull"));

  rill_rpc_opts so = {.lanes = 1, .depth = 64, .mtu = 64};
  EACH_BYTE_REFUSED(&so.flags, sizeof so.flags, rill_rpc_service_create(r, "s", &so));
  EACH_BYTE_REFUSED(so.reserved, sizeof so.reserved, rill_rpc_service_create(r, "s", &so));
  CHECK_OK(rill_rpc_service_create(r, "s", &so));
  rill_region_close(r);
  CHECK_OK(rill_region_unlink("abi", tu_dir()));
}

/* ---- results: reserved fields written as zero -------------------------------- */

static int echo(void *arg, uint16_t method, const void *req, size_t n, void *resp, size_t cap,
                size_t *resp_n) {
  (void)arg;
  (void)method;
  if (n > cap) return -RILL_EMSGSIZE;
  memcpy(resp, req, n);
  *resp_n = n;
  return 0;
}

static void on_done(void *arg, const rill_rpc_result *res, const void *resp) {
  (void)resp;
  CHECK_EQ(res->reserved0, 0);
  CHECK(zeroed(res->reserved, sizeof res->reserved));
  ++*(int *)arg;
}

static void test_results(void) {
  rill_region_opts ro = tu_opts(4 << 20);
  rill_region *r;
  CHECK_OK(rill_region_create("res", &ro, &r));
  rill_channel_opts co = {.depth = 64, .mtu = 64, .max_consumers = 2};
  CHECK_OK(rill_channel_create(r, "c", &co));
  rill_consumer *c;
  CHECK_OK(rill_consumer_join(r, "c", RILL_RELIABLE, &c));

  rill_region_info ri;
  memset(&ri, 0xa5, sizeof ri);
  CHECK_OK(rill_region_info_get(r, &ri));
  CHECK_EQ(ri.owner_uid, (uint32_t)getuid());
  CHECK_EQ(ri.page_size, (uint64_t)sysconf(_SC_PAGESIZE)); /* 0.4's; tmpfs */
  CHECK(zeroed(ri.reserved, sizeof ri.reserved));

  rill_object_info oi;
  memset(&oi, 0xa5, sizeof oi);
  CHECK_OK(rill_region_object_get(r, 0, &oi));
  CHECK_EQ(oi.reserved0, 0);
  CHECK(zeroed(oi.reserved, sizeof oi.reserved));

  rill_channel_stats st;
  memset(&st, 0xa5, sizeof st);
  CHECK_OK(rill_channel_stats_get(r, "c", &st));
  CHECK(zeroed(st.reserved, sizeof st.reserved));

  for (uint32_t slot = 0; slot < 2; slot++) { /* a consumer's, a free one */
    rill_consumer_stats cs;
    memset(&cs, 0xa5, sizeof cs);
    CHECK_OK(rill_consumer_stats_get(r, "c", slot, &cs));
    CHECK_EQ(cs.mode, slot == 0 ? RILL_RELIABLE : 0);
    CHECK(zeroed(cs.reserved, sizeof cs.reserved));
  }
  rill_consumer_leave(c);

  rill_rpc_opts so = {.lanes = 1, .depth = 64, .mtu = 64};
  CHECK_OK(rill_rpc_service_create(r, "s", &so));
  rill_rpc_server *srv;
  CHECK_OK(rill_rpc_serve(r, "s", 1, echo, NULL, &srv));
  rill_rpc_client *cl;
  CHECK_OK(rill_rpc_connect(r, "s", &cl));
  rill_rpc_result res;
  memset(&res, 0xa5, sizeof res);
  char out[8];
  CHECK_OK(rill_rpc_call(cl, 3, "ping", 4, out, sizeof out, &res, 5000000000ull));
  CHECK_EQ(res.method, 3);
  CHECK_EQ(res.status, 0);
  CHECK_EQ(res.size, 4);
  CHECK_EQ(res.reserved0, 0);
  CHECK(zeroed(res.reserved, sizeof res.reserved));
  uint64_t id;
  CHECK_OK(rill_rpc_send(cl, 4, "pong", 4, &id));
  int done = 0;
  uint64_t deadline = tu_ns() + 5000000000ull;
  while (!done && tu_ns() < deadline) CHECK(rill_rpc_poll(cl, NULL, 0, 1, on_done, &done) >= 0);
  CHECK_EQ(done, 1);
  rill_rpc_close(cl);
  rill_rpc_server_stop(srv);
  rill_region_close(r);
  CHECK_OK(rill_region_unlink("res", tu_dir()));
  checks_run += 12;
}

/* ---- layout, for abi/check.sh ------------------------------------------------ */

/* Every public struct and its fields, in order: a struct's fields tile it
 * (its padding is named), which test_tiles() checks. */
typedef struct item {
  const char *name;
  size_t off, size, align; /* align: 0 for a field */
} item;
#define STRUCT(t) {#t, 0, sizeof(t), _Alignof(t)}
#define FIELD(t, f) {#t "." #f, offsetof(t, f), sizeof(((t *)0)->f), 0}

static const item layout[] = {
#include "../abi/rill_h_structs.inc"
#include "../abi/rill_rpc_h_structs.inc"
};

/* Values that programs compile in (RILL_VERSION is not one: it changes). */
#define CONST(c) {#c, (unsigned long long)(c)}
static const struct {
  const char *name;
  unsigned long long value;
} constants[] = {
#include "../abi/rill_h_consts.inc"
#include "../abi/rill_rpc_h_consts.inc"
};

static void print_layout(void) {
  for (size_t i = 0; i < sizeof layout / sizeof layout[0]; i++) {
    const item *t = &layout[i];
    if (t->align) printf("%-36s size %zu align %zu\n", t->name, t->size, t->align);
    else printf("%-36s offset %zu size %zu\n", t->name, t->off, t->size);
  }
  for (size_t i = 0; i < sizeof constants / sizeof constants[0]; i++)
    printf("%-36s %llu\n", constants[i].name, constants[i].value);
}

/* Each struct's fields follow one another with no gap, up to its end. */
static void test_tiles(void) {
  const item *st = NULL;
  size_t end = 0;
  for (size_t i = 0; i <= sizeof layout / sizeof layout[0]; i++) {
    const item *t = i < sizeof layout / sizeof layout[0] ? &layout[i] : NULL;
    if (!t || t->align) { /* a struct starts: the one before is complete */
      if (st) CHECKF(end == st->size, "%s: fields end at %zu, size %zu", st->name, end, st->size);
      st = t;
      end = 0;
      continue;
    }
    CHECKF(t->off == end, "%s at offset %zu, the field before ends at %zu", t->name, t->off, end);
    end = t->off + t->size;
    checks_run++;
  }
}

/* ---- version ---------------------------------------------------------------- */

static void test_version(void) {
  const int major = RILL_VERSION_MAJOR, minor = RILL_VERSION_MINOR, patch = RILL_VERSION_PATCH;
  CHECK(minor >= 0 && minor < 100 && patch >= 0 && patch < 100);
  CHECK_EQ(RILL_VERSION, major * 10000 + minor * 100 + patch);
  CHECK_EQ(rill_version(), RILL_VERSION);
  char want[32];
  snprintf(want, sizeof want, "%d.%d.%d", major, minor, patch);
  CHECKF(rill_version_string() != NULL && strcmp(rill_version_string(), want) == 0,
         "rill_version_string() is \"%s\", the header says %s", rill_version_string(), want);
  /* at least the version named: this one and earlier ones, not later ones */
  CHECK(RILL_CHECK_VERSION(major, minor, patch));
  CHECK(RILL_CHECK_VERSION(0, 0, 0));
  CHECK(RILL_CHECK_VERSION(0, 1, 99)); /* 0.2.0 introduced the macro */
  CHECK(!RILL_CHECK_VERSION(major, minor, patch + 1));
  CHECK(!RILL_CHECK_VERSION(major, minor + 1, 0));
  CHECK(!RILL_CHECK_VERSION(major + 1, 0, 0));
  if (patch) CHECK(RILL_CHECK_VERSION(major, minor, patch - 1));
  if (minor) CHECK(RILL_CHECK_VERSION(major, minor - 1, 99));
  checks_run += 12;
}

int main(int argc, char **argv) {
  if (argc == 2 && !strcmp(argv[1], "--layout")) {
    print_layout();
    return fflush(stdout) ? 1 : 0;
  }
  tu_start("abi", 60);
  test_tiles();
  test_version();
  test_options();
  test_results();
  return tu_pass("%" PRIu64 " checks: version %s, structs without gaps, option reserved bytes "
                 "refused, result reserved fields zero",
                 checks_run, rill_version_string());
}
