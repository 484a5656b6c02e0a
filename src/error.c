/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* What the library says about itself: the text of an error code, its
 * version; and what the platforms share about OS errors: where the last
 * one is kept (rill_os_error) and how an errno value maps to a RILL_E*
 * code (rill__errno). */
#include "platform.h"

#include "rill.h"

#include <errno.h>

static const char *const messages[RILL_ERR_MAX_] = {
  [RILL_OK] = "success",
  [RILL_EAGAIN] = "nothing to read yet, or no credit to publish now",
  [RILL_EOVERRUN] = "consumer was overrun by the producer; messages were lost",
  [RILL_EINVAL] = "invalid argument",
  [RILL_ENOMEM] = "out of memory",
  [RILL_ENOENT] = "no such region or channel",
  [RILL_EEXIST] = "region or channel already exists",
  [RILL_EACCES] = "permission denied",
  [RILL_ENODIR] = "region directory does not exist",
  [RILL_ENOSPC] = "not enough space (file system or region)",
  [RILL_EBUSY] = "in use by a live endpoint (the producer, or that consumer slot), or locked for too long",
  [RILL_EFULL] = "every consumer slot of the channel is taken",
  [RILL_EEMPTY] = "region file is empty",
  [RILL_ETRUNC] = "region file is shorter than its header says",
  [RILL_EMAGIC] = "not a rill region or object (bad magic)",
  [RILL_EVERSION] = "unsupported rill layout version",
  [RILL_ECORRUPT] = "region or channel is corrupt (field out of range)",
  [RILL_EMSGSIZE] = "message too large",
  [RILL_ETIMEDOUT] = "timed out",
  [RILL_EIO] = "unexpected operating-system error",
  [RILL_ECLOSED] = "the producer left the channel",
  [RILL_EDEAD] = "the producer died",
  [RILL_ESRVDEAD] = "the request/response server died; the calls in flight are lost",
  [RILL_ESRVLEFT] = "the request/response server stopped; the calls in flight are lost",
  [RILL_ENOMETHOD] = "the request/response server has no such method",
  [RILL_EWORKERS] = "more server workers than the service has lanes",
  [RILL_ENOHUGE] = "no huge pages for the region: its directory is not a hugetlbfs mount, or too few huge pages are free (vm.nr_hugepages)",
};

const char *rill_strerror(int err) {
  /* Negated as unsigned: -INT_MIN would overflow. */
  unsigned e = err < 0 ? 0u - (unsigned)err : (unsigned)err;
  if (e >= RILL_ERR_MAX_ || !messages[e]) return "unknown rill error";
  return messages[e];
}

/* ---- operating-system errors ------------------------------------------------- */

/* The OS error behind the last failure of this thread: an errno value, or
 * on Windows a GetLastError() code (platform_win32.c's own mapping). */
_Thread_local int rill__os_error;

int rill_os_error(void) { return rill__os_error; }

/* The same on every platform: Linux's calls report errno, and Windows'
 * C runtime calls do too. */
int rill__errno(int e) {
  rill__os_error = e;
  switch (e) {
  case ENOENT: return -RILL_ENOENT;
  case EEXIST: return -RILL_EEXIST;
  case EACCES:
  case EPERM:
  case EROFS: return -RILL_EACCES;
  case ENOSPC:
  case EFBIG:
#ifdef EDQUOT /* not in mingw-w64's errno.h: Windows has no quotas by errno */
  case EDQUOT:
#endif
    return -RILL_ENOSPC;
  case ENOMEM: return -RILL_ENOMEM;
  case ENAMETOOLONG:
  case EINVAL: return -RILL_EINVAL;
  case ENOTDIR: return -RILL_ENODIR;
  default: return -RILL_EIO;
  }
}

/* ---- the library's version -------------------------------------------------- */

#define RILL_STR_(x) #x
#define RILL_STR(x) RILL_STR_(x)

int rill_version(void) { return RILL_VERSION; }

const char *rill_version_string(void) {
  return RILL_STR(RILL_VERSION_MAJOR) "." RILL_STR(RILL_VERSION_MINOR) "." RILL_STR(
      RILL_VERSION_PATCH);
}
