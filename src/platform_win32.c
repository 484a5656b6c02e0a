/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* Windows implementation of the platform layer (docs/PROTOCOL.md §5).
 *
 * The layer's "fds" stay ints: each is an index into a process-wide table
 * of handles (a region file, a directory, a consumer's event, a directory
 * watch), kept with what Windows cannot be asked later: the path a file
 * was opened by (for rill__file_linked() and the *_at calls) and the
 * region's identity (rill__file_tag()), which names the wait objects. */
#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0A00
#endif
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#include <aclapi.h>
#include <sddl.h>

#include "platform.h"

#include "rill.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

/* ---- errors --------------------------------------------------------------- */

/* Maps a Windows error code to a RILL_E* code, keeping it for
 * rill_os_error() (errno values, from the C runtime, go through
 * rill__errno() in src/error.c). */
static int win_err(DWORD e) {
  rill__os_error = (int)e;
  switch (e) {
  case ERROR_FILE_NOT_FOUND:
  case ERROR_INVALID_HANDLE: /* a named object that does not exist */
    return e == ERROR_FILE_NOT_FOUND ? -RILL_ENOENT : -RILL_EIO;
  case ERROR_PATH_NOT_FOUND:
  case ERROR_DIRECTORY:
  case ERROR_BAD_NETPATH:
    return -RILL_ENODIR;
  case ERROR_FILE_EXISTS:
  case ERROR_ALREADY_EXISTS: return -RILL_EEXIST;
  case ERROR_ACCESS_DENIED:
  case ERROR_SHARING_VIOLATION:
  case ERROR_WRITE_PROTECT:
  case ERROR_PRIVILEGE_NOT_HELD:
  case ERROR_CANT_ACCESS_FILE: return -RILL_EACCES;
  case ERROR_DISK_FULL:
  case ERROR_HANDLE_DISK_FULL:
  case ERROR_FILE_TOO_LARGE: return -RILL_ENOSPC;
  case ERROR_NOT_ENOUGH_MEMORY:
  case ERROR_OUTOFMEMORY:
  case ERROR_COMMITMENT_LIMIT:
  case ERROR_NO_SYSTEM_RESOURCES: return -RILL_ENOMEM;
  case ERROR_INVALID_NAME:
  case ERROR_FILENAME_EXCED_RANGE:
  case ERROR_BAD_PATHNAME:
  case ERROR_INVALID_PARAMETER: return -RILL_EINVAL;
  case ERROR_LOCK_VIOLATION: return -RILL_EBUSY;
  default: return -RILL_EIO;
  }
}

static int last_err(void) { return win_err(GetLastError()); }

/* ---- clocks and identity ------------------------------------------------- */

uint64_t rill__mono_ns(void) {
  static _Atomic uint64_t freq; /* counts per second; never changes */
  uint64_t f = atomic_load_explicit(&freq, memory_order_relaxed);
  if (!f) {
    LARGE_INTEGER q;
    QueryPerformanceFrequency(&q);
    f = q.QuadPart > 0 ? (uint64_t)q.QuadPart : 1;
    atomic_store_explicit(&freq, f, memory_order_relaxed);
  }
  LARGE_INTEGER c;
  QueryPerformanceCounter(&c);
  uint64_t t = (uint64_t)c.QuadPart;
  return t / f * 1000000000ull + t % f * 1000000000ull / f;
}

/* 100 ns units between 1601-01-01 (FILETIME) and 1970-01-01. */
#define EPOCH_DIFF_100NS 116444736000000000ull

static uint64_t filetime_ns(uint64_t ft) {
  return ft > EPOCH_DIFF_100NS ? (ft - EPOCH_DIFF_100NS) * 100ull : 0;
}

uint64_t rill__real_ns(void) {
  FILETIME ft;
  GetSystemTimePreciseAsFileTime(&ft);
  return filetime_ns(((uint64_t)ft.dwHighDateTime << 32) | ft.dwLowDateTime);
}

uint32_t rill__pid(void) { return (uint32_t)GetCurrentProcessId(); }

uint64_t rill__random(void) {
  LARGE_INTEGER c;
  QueryPerformanceCounter(&c);
  uint64_t x = rill__ticks() ^ (uint64_t)c.QuadPart ^
               ((uint64_t)GetCurrentProcessId() << 32) ^ ((uint64_t)GetCurrentThreadId() << 16);
  x ^= (uint64_t)(uintptr_t)&x;
  x += 0x9e3779b97f4a7c15ull; /* splitmix64 finaliser */
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/* The last sub-authority (RID) of SID: rill's "uid" (§5). */
static uint32_t sid_rid(PSID sid) {
  if (!sid || !IsValidSid(sid)) return UINT32_MAX;
  UCHAR n = *GetSidSubAuthorityCount(sid);
  return n ? (uint32_t)*GetSidSubAuthority(sid, n - 1u) : 0;
}

/* The process token's user SID, read once; NULL if it cannot be read. */
static INIT_ONCE user_once = INIT_ONCE_STATIC_INIT;
static PSID user_sid;
static wchar_t *user_sid_str; /* its SDDL form, for security descriptors */

static BOOL CALLBACK user_init(PINIT_ONCE once, PVOID param, PVOID *ctx) {
  (void)once, (void)param, (void)ctx;
  HANDLE tok;
  if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok)) return TRUE;
  DWORD n = 0;
  GetTokenInformation(tok, TokenUser, NULL, 0, &n);
  TOKEN_USER *tu = n ? malloc(n) : NULL;
  if (tu && GetTokenInformation(tok, TokenUser, tu, n, &n)) {
    DWORD len = GetLengthSid(tu->User.Sid);
    PSID s = malloc(len);
    if (s && CopySid(len, s, tu->User.Sid)) {
      user_sid = s;
      LPWSTR str = NULL;
      if (ConvertSidToStringSidW(s, &str)) {
        size_t k = wcslen(str) + 1;
        user_sid_str = malloc(k * sizeof(wchar_t));
        if (user_sid_str) memcpy(user_sid_str, str, k * sizeof(wchar_t));
        LocalFree(str);
      }
    } else {
      free(s);
    }
  }
  free(tu);
  CloseHandle(tok);
  return TRUE;
}

static PSID user(void) {
  InitOnceExecuteOnce(&user_once, user_init, NULL, NULL);
  return user_sid;
}

uint32_t rill__uid(void) { return sid_rid(user()); }
uint32_t rill__euid(void) { return rill__uid(); }

/* ---- paths ------------------------------------------------------------------ */

/* UTF-8 to UTF-16, '/' turned into '\' (both separate; "\\?\" paths take
 * only '\').  Returns a malloc'd string, or NULL (rill__os_error set). */
static wchar_t *wide(const char *s) {
  int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, NULL, 0);
  if (n <= 0) { win_err(GetLastError()); return NULL; }
  wchar_t *w = malloc((size_t)n * sizeof *w);
  if (!w) return NULL;
  if (MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, w, n) != n) {
    win_err(GetLastError());
    free(w);
    return NULL;
  }
  for (wchar_t *p = w; *p; p++)
    if (*p == L'/') *p = L'\\';
  return w;
}

/* A path as the OS should take it: wide(), absolute, with the "\\?\"
 * prefix, so that the last name is a plain file whatever it spells.
 * Without it Windows takes "NUL", "con", "COM1" or "aux.x" in any
 * directory for a device, and drops a name's trailing dots ("a."), all
 * of them valid rill names.  The directory part is made absolute with
 * GetFullPathNameW (which would turn a device name into "\\.\NUL" if it
 * were given the whole path); the name is appended as it is.  Returns a
 * malloc'd string, or NULL (rill__os_error set; 0 for out of memory). */
static wchar_t *wide_path(const char *s) {
  wchar_t *w = wide(s);
  if (!w) return NULL;
  if (!wcsncmp(w, L"\\\\?\\", 4) || !wcsncmp(w, L"\\\\.\\", 4)) return w;
  wchar_t *sep = wcsrchr(w, L'\\');
  const wchar_t *dir = L".", *name = w;
  wchar_t root[4] = {w[0], L':', L'\\', 0};
  if (sep) {
    *sep = 0;
    dir = w;
    if (sep == w) dir = L"\\"; /* "\\name": the current drive's root */
    else if (sep == w + 2 && w[1] == L':') dir = root; /* "C:\\name": C:'s root, not
                                                        * C:'s current directory */
    name = sep + 1;
  }
  wchar_t drive[3] = {w[0], L':', 0};
  if (!sep && w[0] && w[1] == L':') { /* "C:name": in C:'s current directory */
    dir = drive;
    name = w + 2;
  }
  DWORD n = GetFullPathNameW(dir, 0, NULL, NULL);
  size_t nl = wcslen(name);
  wchar_t *out = n ? malloc(((size_t)n + nl + 16) * sizeof *out) : NULL;
  if (!n) win_err(GetLastError());
  if (!out) { free(w); return NULL; }
  wchar_t *full = out + 8; /* room for the prefix, moved in below */
  DWORD m = GetFullPathNameW(dir, n, full, NULL);
  if (!m || m >= n) { win_err(m ? ERROR_BUFFER_OVERFLOW : GetLastError()); free(out); free(w); return NULL; }
  const wchar_t *pre = L"\\\\?\\";
  if (full[0] == L'\\' && full[1] == L'\\') { /* \\server\share: \\?\UNC\server\share */
    pre = L"\\\\?\\UNC";
    full += 1;
    m -= 1;
  }
  size_t pl = wcslen(pre);
  wmemmove(out + pl, full, m + 1);
  wmemcpy(out, pre, pl);
  wchar_t *end = out + pl + m;
  if (end[-1] != L'\\' && nl) *end++ = L'\\';
  wmemcpy(end, name, nl + 1);
  free(w);
  return out;
}

/* UTF-16 to UTF-8 into OUT (CAP bytes): 0 or -RILL_EINVAL. */
static int narrow(const wchar_t *w, char *out, size_t cap) {
  int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, out, (int)(cap > INT32_MAX ? INT32_MAX : cap),
                              NULL, NULL);
  return n > 0 ? 0 : -RILL_EINVAL;
}

/* A wide path or the error it could not be made with. */
#define WIDE_OR_FAIL(w, s)                                         \
  wchar_t *w = wide_path(s);                                       \
  if (!w) return rill__os_error ? -RILL_EINVAL : -RILL_ENOMEM

static int is_sep(char c) { return c == '/' || c == '\\'; }

/* DIR joined with NAME into OUT: 0 or -RILL_EINVAL (too long). */
static int join(char *out, size_t cap, const char *dir, const char *name) {
  size_t d = strlen(dir);
  int n = snprintf(out, cap, "%s%s%s", dir, d && is_sep(dir[d - 1]) ? "" : "\\", name);
  return n < 0 || (size_t)n >= cap ? -RILL_EINVAL : 0;
}

/* Where the last separator of PATH is, or NULL. */
static const char *last_sep(const char *path) {
  const char *s = NULL;
  for (const char *p = path; *p; p++)
    if (is_sep(*p)) s = p;
  return s;
}

/* The directory part of PATH into OUT ("." if none). */
static int dirname_of(const char *path, char *out, size_t cap) {
  const char *s = last_sep(path);
  if (!s) return snprintf(out, cap, ".") < (int)cap ? 0 : -RILL_EINVAL;
  size_t n = (size_t)(s - path);
  if (n == 0 || (n == 2 && path[1] == ':')) n++; /* "\x" or "C:\x": keep the root */
  if (n >= cap) return -RILL_EINVAL;
  memcpy(out, path, n);
  out[n] = 0;
  return 0;
}

static const char *basename_of(const char *path) {
  const char *s = last_sep(path);
  return s ? s + 1 : path;
}

/* %LOCALAPPDATA%\rill, found once. */
static INIT_ONCE dir_once = INIT_ONCE_STATIC_INIT;
static char default_dir[RILL_PATH_MAX];

static BOOL CALLBACK dir_init(PINIT_ONCE once, PVOID param, PVOID *ctx) {
  (void)once, (void)param, (void)ctx;
  wchar_t w[RILL_PATH_MAX];
  DWORD n = GetEnvironmentVariableW(L"LOCALAPPDATA", w, RILL_PATH_MAX);
  char base[RILL_PATH_MAX];
  if (n == 0 || n >= RILL_PATH_MAX || narrow(w, base, sizeof base) != 0)
    snprintf(base, sizeof base, "C:\\ProgramData"); /* no profile: still a path */
  if (join(default_dir, sizeof default_dir, base, "rill") != 0) default_dir[0] = 0;
  return TRUE;
}

static const char *dir_default(void) {
  InitOnceExecuteOnce(&dir_once, dir_init, NULL, NULL);
  return default_dir;
}

/* $RILL_DIR as UTF-8 (the environment is UTF-16 on Windows). */
static _Thread_local char env_dir[RILL_PATH_MAX];

const char *rill__dir(const char *dir) {
  if (dir && dir[0]) return dir;
  wchar_t w[RILL_PATH_MAX];
  DWORD n = GetEnvironmentVariableW(L"RILL_DIR", w, RILL_PATH_MAX);
  if (n > 0 && n < RILL_PATH_MAX && narrow(w, env_dir, sizeof env_dir) == 0 && env_dir[0])
    return env_dir;
  return dir_default();
}

/* ---- security descriptors ------------------------------------------------
 * What a file or wait object is made with (§5): GENERIC_ALL for the
 * creating user; group or other bits in MODE add Everyone (read, plus
 * write if a write bit is set; synchronise, to wait on a wait object).
 * Protected (no inherited entries): the DACL says exactly MODE. */
static int sd_make(uint32_t mode, int object, PSECURITY_DESCRIPTOR *sd) {
  user();
  if (!user_sid_str) return -RILL_EACCES;
  wchar_t s[512];
  const wchar_t *other = L"";
  if (mode & 0077) {
    if (object)
      other = (mode & 0022) ? L"(A;;GRGWGX;;;WD)" : L"(A;;GRGX;;;WD)";
    else
      other = (mode & 0022) ? L"(A;;GRGW;;;WD)" : L"(A;;GR;;;WD)";
  }
  _snwprintf(s, sizeof s / sizeof *s, L"O:%lsD:P(A;;GA;;;%ls)%ls", user_sid_str, user_sid_str,
             other);
  s[sizeof s / sizeof *s - 1] = 0;
  if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(s, SDDL_REVISION_1, sd, NULL))
    return last_err();
  return 0;
}

/* ---- the handle table ------------------------------------------------------ */

enum { E_FREE, E_FILE, E_DIR, E_EVENT, E_WATCH };

struct ent {
  HANDLE h;
  int kind;
  int writable;
  char *path;         /* E_FILE, E_DIR, E_WATCH: the UTF-8 path */
  int tagged;         /* rill__file_tag() was called (or inherited) */
  uint64_t created_ns;
  uint32_t creator_pid;
  uint64_t gen;       /* which opening of this fd number (mappings' records) */
};

static SRWLOCK tab_lock = SRWLOCK_INIT;
static struct ent *tab;
static int tab_cap;
static uint64_t tab_gen; /* counts entries made, under tab_lock */

/* A new entry; takes PATH (malloc'd) whatever happens.  Returns the fd or
 * -RILL_ENOMEM. */
static int ent_new(HANDLE h, int kind, int writable, char *path) {
  AcquireSRWLockExclusive(&tab_lock);
  int fd = -1;
  for (int i = 0; i < tab_cap; i++)
    if (tab[i].kind == E_FREE) { fd = i; break; }
  if (fd < 0) {
    int cap = tab_cap ? tab_cap * 2 : 64;
    struct ent *t = realloc(tab, (size_t)cap * sizeof *t);
    if (!t) {
      ReleaseSRWLockExclusive(&tab_lock);
      free(path);
      return -RILL_ENOMEM;
    }
    memset(t + tab_cap, 0, (size_t)(cap - tab_cap) * sizeof *t);
    fd = tab_cap;
    tab = t;
    tab_cap = cap;
  }
  tab[fd] = (struct ent){h, kind, writable, path, 0, 0, 0, ++tab_gen};
  ReleaseSRWLockExclusive(&tab_lock);
  return fd;
}

/* A copy of entry FD (its path is not copied: valid while FD is open). */
static int ent_get(int fd, struct ent *e) {
  int ok = 0;
  AcquireSRWLockShared(&tab_lock);
  if (fd >= 0 && fd < tab_cap && tab[fd].kind != E_FREE) {
    *e = tab[fd];
    ok = 1;
  }
  ReleaseSRWLockShared(&tab_lock);
  return ok ? 0 : -RILL_EINVAL;
}

/* The handle of a file entry, or INVALID_HANDLE_VALUE. */
static HANDLE fh(int fd) {
  struct ent e;
  return ent_get(fd, &e) == 0 && e.kind == E_FILE ? e.h : INVALID_HANDLE_VALUE;
}

void rill__file_close(int fd) {
  AcquireSRWLockExclusive(&tab_lock);
  if (fd < 0 || fd >= tab_cap || tab[fd].kind == E_FREE) {
    ReleaseSRWLockExclusive(&tab_lock);
    return;
  }
  struct ent e = tab[fd];
  tab[fd] = (struct ent){0};
  ReleaseSRWLockExclusive(&tab_lock);
  switch (e.kind) {
  case E_WATCH: FindCloseChangeNotification(e.h); break;
  default:
    if (e.h && e.h != INVALID_HANDLE_VALUE) CloseHandle(e.h);
  }
  free(e.path);
}

void rill__dir_close(int dfd) { rill__file_close(dfd); }
void rill__dir_watch_close(int w) { rill__file_close(w); }

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  if (p) memcpy(p, s, n);
  return p;
}

/* ---- files ------------------------------------------------------------------ */

#define SHARE_ALL (FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE)

/* Opens PATH (wide) as §5 says: every sharing mode, a reparse point
 * itself rather than what it points to. */
static HANDLE open_w(const wchar_t *w, DWORD access, DWORD extra_flags) {
  return CreateFileW(w, access, SHARE_ALL, NULL, OPEN_EXISTING,
                     FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT | extra_flags, NULL);
}

/* What rill tells of a file from its handle. */
static int info_of(HANDLE h, BY_HANDLE_FILE_INFORMATION *bi) {
  return GetFileInformationByHandle(h, bi) ? 0 : last_err();
}

static int is_regular(const BY_HANDLE_FILE_INFORMATION *bi) {
  return !(bi->dwFileAttributes & (FILE_ATTRIBUTE_DIRECTORY | FILE_ATTRIBUTE_REPARSE_POINT |
                                   FILE_ATTRIBUTE_DEVICE));
}

/* Opens a region file at PATH (writable or not) into a new entry. */
static int file_open_path(const char *path, int writable, int *fd, uint64_t *size) {
  WIDE_OR_FAIL(w, path);
  HANDLE h = open_w(w, GENERIC_READ | (writable ? GENERIC_WRITE : 0), 0);
  if (h == INVALID_HANDLE_VALUE) {
    DWORD e = GetLastError();
    /* A directory cannot be opened without backup semantics: not a
     * region file, as on Linux. */
    DWORD a = GetFileAttributesW(w);
    free(w);
    if (e == ERROR_ACCESS_DENIED && a != INVALID_FILE_ATTRIBUTES && (a & FILE_ATTRIBUTE_DIRECTORY)) {
      rill__os_error = (int)e;
      return -RILL_EMAGIC;
    }
    return win_err(e);
  }
  free(w);
  BY_HANDLE_FILE_INFORMATION bi;
  int rc = info_of(h, &bi);
  if (!rc && !is_regular(&bi)) rc = -RILL_EMAGIC; /* a reparse point: as a symlink */
  char *p = rc ? NULL : dup_str(path);
  if (!rc && !p) rc = -RILL_ENOMEM;
  if (rc) { CloseHandle(h); return rc; }
  int f = ent_new(h, E_FILE, writable, p);
  if (f < 0) { CloseHandle(h); return f; }
  *fd = f;
  *size = ((uint64_t)bi.nFileSizeHigh << 32) | bi.nFileSizeLow;
  return 0;
}

int rill__file_open(const char *path, int writable, int *fd, uint64_t *size) {
  return file_open_path(path, writable, fd, size);
}

/* Makes the default directory, readable by its user only, if PATH lies
 * in it and it is not there yet. */
static void default_dir_make(const char *path) {
  const char *d = dir_default();
  size_t n = strlen(d);
  if (!n || strncmp(path, d, n) != 0 || !is_sep(path[n])) return;
  wchar_t *w = wide_path(d);
  if (!w) return;
  if (GetFileAttributesW(w) == INVALID_FILE_ATTRIBUTES) {
    PSECURITY_DESCRIPTOR sd = NULL;
    if (sd_make(0700, 0, &sd) == 0) {
      SECURITY_ATTRIBUTES sa = {sizeof sa, sd, FALSE};
      CreateDirectoryW(w, &sa);
      LocalFree(sd);
    }
  }
  free(w);
}

/* Windows has no huge pages for files: large pages (SEC_LARGE_PAGES) are
 * for sections of the paging file only, which have no name in a folder
 * (rill_region_create() answers RILL_REGION_HUGE with -RILL_ENOHUGE).
 * A page is 4 KiB; views start at multiples of the allocation granularity
 * (rill__map() rounds them). */
int rill__dir_page(const char *dir, uint64_t *page) {
  (void)dir;
  *page = 4096;
  return 0;
}

int rill__file_page(int fd, uint64_t *page) {
  (void)fd;
  *page = 4096;
  return 0;
}

int rill__file_create(const char *path, uint64_t size, uint32_t mode, int *fd) {
  default_dir_make(path);
  PSECURITY_DESCRIPTOR sd = NULL;
  int rc = sd_make(mode, 0, &sd);
  if (rc) return rc;
  WIDE_OR_FAIL(w, path);
  SECURITY_ATTRIBUTES sa = {sizeof sa, sd, FALSE};
  HANDLE h = CreateFileW(w, GENERIC_READ | GENERIC_WRITE | DELETE, SHARE_ALL, &sa, CREATE_NEW,
                         FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT, NULL);
  LocalFree(sd);
  if (h == INVALID_HANDLE_VALUE) { free(w); return last_err(); }
  /* Free space first: running out of it is an error here, never a fault
   * on first touch later. */
  char dir[RILL_PATH_MAX];
  ULARGE_INTEGER avail;
  if (dirname_of(path, dir, sizeof dir) == 0) {
    wchar_t *wd = wide_path(dir);
    if (wd && GetDiskFreeSpaceExW(wd, &avail, NULL, NULL) && avail.QuadPart < size) rc = -RILL_ENOSPC;
    free(wd);
  }
  FILE_END_OF_FILE_INFO eof;
  eof.EndOfFile.QuadPart = (LONGLONG)size;
  if (!rc && !SetFileInformationByHandle(h, FileEndOfFileInfo, &eof, sizeof eof)) rc = last_err();
  char *p = rc ? NULL : dup_str(path);
  if (!rc && !p) rc = -RILL_ENOMEM;
  int f = rc ? rc : ent_new(h, E_FILE, 1, p);
  if (f < 0) {
    CloseHandle(h);
    DeleteFileW(w);
    free(w);
    return f;
  }
  free(w);
  *fd = f;
  return 0;
}

int rill__file_read(int fd, uint64_t off, void *buf, size_t n) {
  HANDLE h = fh(fd);
  if (h == INVALID_HANDLE_VALUE) return -RILL_EINVAL;
  if (n == 0) return 0;
  LARGE_INTEGER sz;
  if (!GetFileSizeEx(h, &sz)) return last_err();
  if ((uint64_t)sz.QuadPart < off || (uint64_t)sz.QuadPart - off < n) return -RILL_ETRUNC;
  /* ReadFile at OFF (the handle's own position is not used).  It fails on
   * bytes that another handle has locked exclusively (§5: an endpoint's
   * byte), and then we read through a read-only mapping instead, which
   * locks do not stop.  Not the mapping every time: each makes a section,
   * and Wine keeps the Unix descriptor of every handle closed on a locked
   * file until the file has no lock left. */
  if (n <= 0xffffffffu) {
    OVERLAPPED ov;
    memset(&ov, 0, sizeof ov);
    ov.Offset = (DWORD)off;
    ov.OffsetHigh = (DWORD)(off >> 32);
    DWORD got = 0;
    if (ReadFile(h, buf, (DWORD)n, &got, &ov)) return got == n ? 0 : -RILL_ETRUNC;
    DWORD e = GetLastError();
    if (e == ERROR_HANDLE_EOF) return -RILL_ETRUNC;
    if (e != ERROR_LOCK_VIOLATION) return win_err(e);
  }
  /* The section stops the file shrinking meanwhile. */
  HANDLE m = CreateFileMappingW(h, NULL, PAGE_READONLY, 0, 0, NULL);
  if (!m) return last_err();
  int rc = 0;
  if (!GetFileSizeEx(h, &sz)) rc = last_err();
  else if ((uint64_t)sz.QuadPart < off || (uint64_t)sz.QuadPart - off < n) rc = -RILL_ETRUNC;
  if (!rc) {
    uint64_t base = off & ~(uint64_t)0xffff;
    uint8_t *v = MapViewOfFile(m, FILE_MAP_READ, (DWORD)(base >> 32), (DWORD)base,
                               (SIZE_T)(off - base + n));
    if (!v) rc = last_err();
    else {
      memcpy(buf, v + (off - base), n);
      UnmapViewOfFile(v);
    }
  }
  CloseHandle(m);
  return rc;
}

/* Records of mappings: see below. */
static void map_tag(int fd, uint64_t gen, uint64_t created_ns, uint32_t creator_pid);

void rill__file_tag(int fd, uint64_t created_ns, uint32_t creator_pid) {
  uint64_t gen = 0;
  AcquireSRWLockExclusive(&tab_lock);
  if (fd >= 0 && fd < tab_cap && tab[fd].kind == E_FILE) {
    tab[fd].tagged = 1;
    tab[fd].created_ns = created_ns;
    tab[fd].creator_pid = creator_pid;
    gen = tab[fd].gen;
  }
  ReleaseSRWLockExclusive(&tab_lock);
  /* A region's open maps before it validates and tags: its mappings learn
   * the tag now. */
  if (gen) map_tag(fd, gen, created_ns, creator_pid);
}

/* Volume serial number and file index: a file's identity.  A serial of 0
 * is "unknown": Wine reports it for a handle whose file was renamed after
 * it was opened (it finds the volume by the handle's old name), as every
 * region file is (rill__file_publish()); the index alone decides then. */
static int same_file(const BY_HANDLE_FILE_INFORMATION *a, const BY_HANDLE_FILE_INFORMATION *b) {
  return (a->dwVolumeSerialNumber == b->dwVolumeSerialNumber || !a->dwVolumeSerialNumber ||
          !b->dwVolumeSerialNumber) &&
         a->nFileIndexHigh == b->nFileIndexHigh && a->nFileIndexLow == b->nFileIndexLow;
}

/* A second handle of the region file for an endpoint.  Linux opens a new
 * description (each with its own OFD locks); here the handle is a
 * duplicate of FD's, sharing its file object, which is what locks belong
 * to on Windows.  That keeps what the protocol needs: an exclusive lock
 * request conflicts with every lock on an overlapping byte, whichever
 * handle of whichever file object took it, so a second producer, a taken
 * slot and a probe (§5) see an endpoint's lock just the same; an endpoint
 * releases its byte itself when it leaves, and the OS releases every lock
 * of a process that ends.  And it works when the file has no name any
 * more (unlinked while open: Linux's processes that have it keep using
 * it), which reopening by handle or by path cannot do.  It also opens no
 * new file: Wine keeps the Unix descriptor of every handle closed on a
 * locked file until no lock is left on it, so an open per join ran its
 * server out of descriptors in a few thousand joins. */
int rill__file_reopen(int fd, int *newfd) {
  struct ent e;
  if (ent_get(fd, &e) || e.kind != E_FILE || !e.writable) return -RILL_EINVAL;
  HANDLE h;
  if (!DuplicateHandle(GetCurrentProcess(), e.h, GetCurrentProcess(), &h, 0, FALSE,
                       DUPLICATE_SAME_ACCESS))
    return last_err();
  char *p = e.path ? dup_str(e.path) : NULL;
  if (e.path && !p) { CloseHandle(h); return -RILL_ENOMEM; }
  int f = ent_new(h, E_FILE, 1, p);
  if (f < 0) { CloseHandle(h); return f; }
  if (e.tagged) rill__file_tag(f, e.created_ns, e.creator_pid);
  *newfd = f;
  return 0;
}

/* The entries opened by FROM now have the name TO. */
static void paths_moved(const char *from, const char *to) {
  AcquireSRWLockExclusive(&tab_lock);
  for (int i = 0; i < tab_cap; i++) {
    if (tab[i].kind != E_FILE || !tab[i].path || strcmp(tab[i].path, from) != 0) continue;
    char *p = dup_str(to);
    if (p) { free(tab[i].path); tab[i].path = p; }
  }
  ReleaseSRWLockExclusive(&tab_lock);
}

/* Removes PATH as §5 says: renamed to DIR\.rill-gone.<pid>.<random>
 * first (a deleted file keeps its name while it is open or mapped), then
 * deleted. */
static int remove_path(const char *path) {
  char dir[RILL_PATH_MAX], gone[RILL_PATH_MAX], name[64];
  int rc = dirname_of(path, dir, sizeof dir);
  if (rc) return rc;
  snprintf(name, sizeof name, ".rill-gone.%lu.%016llx", (unsigned long)GetCurrentProcessId(),
           (unsigned long long)rill__random());
  if ((rc = join(gone, sizeof gone, dir, name))) return rc;
  WIDE_OR_FAIL(w, path);
  wchar_t *wg = wide_path(gone);
  if (!wg) { free(w); return -RILL_ENOMEM; }
  DWORD a = GetFileAttributesW(w);
  if (a != INVALID_FILE_ATTRIBUTES && (a & FILE_ATTRIBUTE_DIRECTORY) &&
      !(a & FILE_ATTRIBUTE_REPARSE_POINT)) {
    rc = -RILL_EACCES; /* unlink() of a directory: EISDIR */
    rill__os_error = (int)ERROR_ACCESS_DENIED;
  } else if (!MoveFileExW(w, wg, 0)) {
    rc = last_err();
  } else {
    /* The name is free now.  Deleting the renamed file fails only if
     * some handle lacks FILE_SHARE_DELETE: it then stays as .rill-gone.*
     * (rill clean may remove it later). */
    DeleteFileW(wg);
  }
  free(w);
  free(wg);
  return rc;
}

int rill__file_publish(const char *from, const char *to) {
  WIDE_OR_FAIL(wf, from);
  wchar_t *wt = wide_path(to);
  if (!wt) { free(wf); return -RILL_ENOMEM; }
  int rc = 0;
  /* No MOVEFILE_REPLACE_EXISTING: a name that exists is EEXIST. */
  if (MoveFileExW(wf, wt, 0)) paths_moved(from, to);
  else rc = last_err();
  free(wf);
  free(wt);
  if (rc) remove_path(from);
  return rc;
}

int rill__file_unlink(const char *path) { return remove_path(path); }

int rill__file_size(int fd, uint64_t *size) {
  HANDLE h = fh(fd);
  if (h == INVALID_HANDLE_VALUE) return -RILL_EINVAL;
  LARGE_INTEGER sz;
  if (!GetFileSizeEx(h, &sz)) return last_err();
  *size = (uint64_t)sz.QuadPart;
  return 0;
}

/* MODE of the object behind H from its DACL: 0600, or 0644/0666 when
 * Everyone may read (and write). */
static int mode_of(HANDLE h, SE_OBJECT_TYPE type, uint32_t *mode) {
  PACL dacl = NULL;
  PSECURITY_DESCRIPTOR sd = NULL;
  DWORD e = GetSecurityInfo(h, type, DACL_SECURITY_INFORMATION, NULL, NULL, &dacl, NULL, &sd);
  if (e != ERROR_SUCCESS) return win_err(e);
  uint32_t m = 0600;
  SID_IDENTIFIER_AUTHORITY world = {SECURITY_WORLD_SID_AUTHORITY};
  PSID everyone = NULL;
  if (dacl && AllocateAndInitializeSid(&world, 1, SECURITY_WORLD_RID, 0, 0, 0, 0, 0, 0, 0,
                                       &everyone)) {
    for (DWORD i = 0; i < dacl->AceCount; i++) {
      ACE_HEADER *a;
      if (!GetAce(dacl, i, (void **)&a) || a->AceType != ACCESS_ALLOWED_ACE_TYPE) continue;
      ACCESS_ALLOWED_ACE *aa = (ACCESS_ALLOWED_ACE *)a;
      if (!EqualSid((PSID)&aa->SidStart, everyone)) continue;
      ACCESS_MASK k = aa->Mask;
      if (k & (FILE_READ_DATA | GENERIC_READ | GENERIC_ALL)) m |= 0044;
      if (k & (FILE_WRITE_DATA | GENERIC_WRITE | GENERIC_ALL)) m |= 0022;
    }
    FreeSid(everyone);
  }
  LocalFree(sd);
  *mode = m;
  return 0;
}

int rill__file_mode(int fd, uint32_t *mode) {
  HANDLE h = fh(fd);
  if (h == INVALID_HANDLE_VALUE) return -RILL_EINVAL;
  return mode_of(h, SE_FILE_OBJECT, mode);
}

static int owner_of(HANDLE h, SE_OBJECT_TYPE type, uint32_t *uid) {
  PSID owner = NULL;
  PSECURITY_DESCRIPTOR sd = NULL;
  DWORD e = GetSecurityInfo(h, type, OWNER_SECURITY_INFORMATION, &owner, NULL, NULL, NULL, &sd);
  if (e != ERROR_SUCCESS) return win_err(e);
  *uid = sid_rid(owner);
  LocalFree(sd);
  return 0;
}

int rill__file_owner(int fd, uint32_t *uid) {
  HANDLE h = fh(fd);
  if (h == INVALID_HANDLE_VALUE) return -RILL_EINVAL;
  return owner_of(h, SE_FILE_OBJECT, uid);
}

int rill__file_linked(int fd) {
  struct ent e;
  if (ent_get(fd, &e) || e.kind != E_FILE || !e.path) return -RILL_EINVAL;
  BY_HANDLE_FILE_INFORMATION a, b;
  int rc = info_of(e.h, &a);
  if (rc) return rc;
  WIDE_OR_FAIL(w, e.path);
  HANDLE h = open_w(w, FILE_READ_ATTRIBUTES, FILE_FLAG_BACKUP_SEMANTICS);
  free(w);
  if (h == INVALID_HANDLE_VALUE) {
    DWORD err = GetLastError();
    /* Nothing there (or a file being deleted: access denied) */
    if (err == ERROR_FILE_NOT_FOUND || err == ERROR_PATH_NOT_FOUND ||
        err == ERROR_ACCESS_DENIED)
      return 0;
    return win_err(err);
  }
  rc = info_of(h, &b);
  CloseHandle(h);
  if (rc) return rc;
  return same_file(&a, &b);
}

/* ---- locks ---------------------------------------------------------------- */

/* LockFileEx on LEN bytes at OFF (LEN 0: [0, 2^64 - 1)).  0, or the
 * Windows error. */
static DWORD lock_range(HANDLE h, DWORD flags, uint64_t off, uint64_t len) {
  OVERLAPPED ov;
  memset(&ov, 0, sizeof ov);
  ov.Offset = (DWORD)off;
  ov.OffsetHigh = (DWORD)(off >> 32);
  if (!len) len = UINT64_MAX;
  if (LockFileEx(h, flags | LOCKFILE_FAIL_IMMEDIATELY, 0, (DWORD)len, (DWORD)(len >> 32), &ov))
    return 0;
  DWORD e = GetLastError();
  return e ? e : ERROR_LOCK_VIOLATION;
}

static void unlock_range(HANDLE h, uint64_t off, uint64_t len) {
  OVERLAPPED ov;
  memset(&ov, 0, sizeof ov);
  ov.Offset = (DWORD)off;
  ov.OffsetHigh = (DWORD)(off >> 32);
  if (!len) len = UINT64_MAX;
  (void)UnlockFileEx(h, 0, (DWORD)len, (DWORD)(len >> 32), &ov);
}

static int held(DWORD e) { return e == ERROR_LOCK_VIOLATION || e == ERROR_IO_PENDING; }

/* Takes the lock, retrying while it is held for at most WAIT_NS (every
 * millisecond, or spinning with a yield when WAIT_NS is short).  0,
 * -RILL_EBUSY, or an error. */
static int lock_wait(HANDLE h, DWORD flags, uint64_t off, uint64_t len, uint64_t wait_ns) {
  if (h == INVALID_HANDLE_VALUE) return -RILL_EINVAL;
  uint64_t deadline = 0;
  for (;;) {
    DWORD e = lock_range(h, flags, off, len);
    if (!e) return 0;
    if (!held(e)) return win_err(e);
    uint64_t now = rill__mono_ns();
    if (!deadline) deadline = now + wait_ns;
    if (now >= deadline) return -RILL_EBUSY;
    if (wait_ns < 10000000ull) SwitchToThread();
    else Sleep(1);
  }
}

/* A prober holds a lock for an instant (§5): who takes an endpoint's lock
 * retries this long before it says EBUSY. */
#define PROBE_WAIT_NS 2000000ull
#define TABLE_LOCK_OFF (1ull << 63)

int rill__lock_try(int fd, uint64_t off) {
  return lock_wait(fh(fd), LOCKFILE_EXCLUSIVE_LOCK, off, 1, PROBE_WAIT_NS);
}

void rill__lock_release(int fd, uint64_t off) {
  HANDLE h = fh(fd);
  if (h != INVALID_HANDLE_VALUE) unlock_range(h, off, 1);
}

/* Whether someone holds a lock on LEN bytes at OFF: a probe, released at
 * once (Windows has no query). */
static int probe(int fd, uint64_t off, uint64_t len) {
  HANDLE h = fh(fd);
  if (h == INVALID_HANDLE_VALUE) return -RILL_EINVAL;
  DWORD e = lock_range(h, LOCKFILE_EXCLUSIVE_LOCK, off, len);
  if (!e) {
    unlock_range(h, off, len);
    return 0;
  }
  return held(e) ? 1 : win_err(e);
}

int rill__lock_held(int fd, uint64_t off) { return probe(fd, off, 1); }

int rill__lock_shared(int fd, uint64_t off) {
  return lock_wait(fh(fd), 0, off, 1, RILL_LOCK_WAIT_NS);
}

int rill__lock_any_held(int fd) { return probe(fd, 0, 0); }

int rill__lock_all_try(int fd) {
  HANDLE h = fh(fd);
  if (h == INVALID_HANDLE_VALUE) return -RILL_EINVAL;
  DWORD e = lock_range(h, LOCKFILE_EXCLUSIVE_LOCK, 0, 0);
  return !e ? 0 : held(e) ? -RILL_EBUSY : win_err(e);
}

void rill__lock_release_all(int fd) {
  HANDLE h = fh(fd);
  if (h != INVALID_HANDLE_VALUE) unlock_range(h, 0, 0);
}

int rill__file_lock(int fd) {
  return lock_wait(fh(fd), LOCKFILE_EXCLUSIVE_LOCK, TABLE_LOCK_OFF, 1, RILL_LOCK_WAIT_NS);
}

void rill__file_unlock(int fd) {
  HANDLE h = fh(fd);
  if (h != INVALID_HANDLE_VALUE) unlock_range(h, TABLE_LOCK_OFF, 1);
}

/* ---- mappings -------------------------------------------------------------
 * A record per mapping: where it is, what file offset it shows, the
 * region's key (from the fd's tag) and the wait objects opened for its
 * words, so that a park or a wake-up finds them without opening named
 * objects again. */

struct sem_ent {
  uint64_t off;  /* file offset of the word */
  HANDLE sem;
};

struct map_rec {
  uint8_t *ptr;        /* what rill__map() returned */
  void *view;          /* the view's base (64 KiB aligned file offset) */
  uint64_t len, off;   /* LEN and OFF given to rill__map() */
  int fd;
  uint64_t gen;        /* fd's entry when mapped (an fd number is reused) */
  uint32_t mode;       /* the file's mode: what wait objects are made with */
  int tagged;
  char key[25];        /* K: created_ns, creator_pid in hex (§5) */
  HANDLE counts_map;   /* Local\rill-K-n, or NULL until used */
  _Atomic uint32_t *counts;
  struct sem_ent *sems;
  uint32_t nsems, capsems;
};

static SRWLOCK maps_lock = SRWLOCK_INIT;
static struct map_rec **maps;
static uint32_t nmaps, capmaps;

static void key_of(char key[25], uint64_t created_ns, uint32_t creator_pid) {
  snprintf(key, 25, "%016llx%08lx", (unsigned long long)created_ns, (unsigned long)creator_pid);
}

static void map_tag(int fd, uint64_t gen, uint64_t created_ns, uint32_t creator_pid) {
  AcquireSRWLockExclusive(&maps_lock);
  for (uint32_t i = 0; i < nmaps; i++) {
    if (maps[i]->fd != fd || maps[i]->gen != gen) continue;
    maps[i]->tagged = 1;
    key_of(maps[i]->key, created_ns, creator_pid);
  }
  ReleaseSRWLockExclusive(&maps_lock);
}

int rill__map(int fd, uint64_t off, uint64_t len, int writable, void **out) {
  struct ent e;
  if (ent_get(fd, &e) || e.kind != E_FILE || !len) return -RILL_EINVAL;
  LARGE_INTEGER sz;
  if (!GetFileSizeEx(e.h, &sz)) return last_err();
  if ((uint64_t)sz.QuadPart < off || (uint64_t)sz.QuadPart - off < len) return -RILL_ETRUNC;
  struct map_rec *m = calloc(1, sizeof *m);
  if (!m) return -RILL_ENOMEM;
  if (mode_of(e.h, SE_FILE_OBJECT, &m->mode)) m->mode = 0600;
  HANDLE s = CreateFileMappingW(e.h, NULL, writable ? PAGE_READWRITE : PAGE_READONLY, 0, 0, NULL);
  if (!s) { free(m); return last_err(); }
  uint64_t base = off & ~(uint64_t)0xffff; /* the allocation granularity */
  void *v = MapViewOfFile(s, FILE_MAP_READ | (writable ? FILE_MAP_WRITE : 0), (DWORD)(base >> 32),
                          (DWORD)base, (SIZE_T)(off - base + len));
  int rc = v ? 0 : last_err();
  CloseHandle(s); /* the view keeps the section */
  if (rc) { free(m); return rc; }
  m->ptr = (uint8_t *)v + (off - base);
  m->view = v;
  m->len = len;
  m->off = off;
  m->fd = fd;
  m->gen = e.gen;
  m->tagged = e.tagged;
  if (e.tagged) key_of(m->key, e.created_ns, e.creator_pid);
  AcquireSRWLockExclusive(&maps_lock);
  if (nmaps == capmaps) {
    uint32_t cap = capmaps ? capmaps * 2 : 32;
    struct map_rec **t = realloc(maps, cap * sizeof *t);
    if (!t) {
      ReleaseSRWLockExclusive(&maps_lock);
      UnmapViewOfFile(v);
      free(m);
      return -RILL_ENOMEM;
    }
    maps = t;
    capmaps = cap;
  }
  maps[nmaps++] = m;
  ReleaseSRWLockExclusive(&maps_lock);
  *out = m->ptr;
  return 0;
}

static void rec_free(struct map_rec *m) {
  for (uint32_t i = 0; i < m->nsems; i++) CloseHandle(m->sems[i].sem);
  free(m->sems);
  if (m->counts) UnmapViewOfFile((void *)m->counts);
  if (m->counts_map) CloseHandle(m->counts_map);
  UnmapViewOfFile(m->view);
  free(m);
}

void rill__unmap(void *p, uint64_t len) {
  (void)len;
  if (!p) return;
  struct map_rec *m = NULL;
  AcquireSRWLockExclusive(&maps_lock);
  for (uint32_t i = 0; i < nmaps; i++) {
    if (maps[i]->ptr != p) continue;
    m = maps[i];
    maps[i] = maps[--nmaps];
    break;
  }
  ReleaseSRWLockExclusive(&maps_lock);
  if (m) rec_free(m);
}

/* A mapped file cannot be shortened on Windows (SetEndOfFile fails while a
 * view exists): there is no fault to guard against. */
int rill__sigbus_guard(void) { return 0; }
void rill__map_fill(const void *p, uint64_t off) { (void)p, (void)off; }
int rill__map_lost(const void *p) {
  (void)p;
  return 0;
}

/* ---- parking (§5: named semaphores and a section of waiter counts) ------- */

#define NCOUNTS 16384u

static uint32_t count_slot(uint64_t o) {
  return (uint32_t)(((uint32_t)(o >> 2) * 0x9E3779B1u) >> 18);
}

/* The wait objects of one word, found under maps_lock. */
struct wobj {
  _Atomic uint32_t *count; /* its count in the section, or NULL */
  HANDLE sem;              /* its semaphore, or NULL */
};

/* The record holding ADDR (under maps_lock), or NULL. */
static struct map_rec *rec_find(const void *addr) {
  const uint8_t *a = addr;
  for (uint32_t i = 0; i < nmaps; i++) {
    struct map_rec *m = maps[i];
    if (a >= m->ptr && (uint64_t)(a - m->ptr) < m->len) return m;
  }
  return NULL;
}

static void obj_name(wchar_t *out, size_t cap, const char *key, const char *what) {
  _snwprintf(out, cap, L"Local\\rill-%hs-%hs", key, what);
  out[cap - 1] = 0;
}

/* The objects of the word at ADDR, opened (and cached in its record) if
 * needed: its count, and its semaphore if SEM.  CREATE: a sleeper, which
 * makes what is missing; else a waker, which only opens what exists
 * (absent: nobody sleeps, and W's member stays NULL).  Returns 1 with *W
 * set, 0 if ADDR is in no tagged mapping (a private word), or a negative
 * error. */
static int wobj_get(const void *addr, int create, int sem, struct wobj *w) {
  w->count = NULL;
  w->sem = NULL;
  AcquireSRWLockShared(&maps_lock);
  struct map_rec *m = rec_find(addr);
  if (!m || !m->tagged) {
    ReleaseSRWLockShared(&maps_lock);
    return 0;
  }
  uint64_t o = m->off + (uint64_t)((const uint8_t *)addr - m->ptr);
  int found = m->counts != NULL;
  if (found) {
    w->count = &m->counts[count_slot(o)];
    for (uint32_t i = 0; i < m->nsems; i++)
      if (m->sems[i].off == o) { w->sem = m->sems[i].sem; break; }
  }
  ReleaseSRWLockShared(&maps_lock);
  if (w->count && (w->sem || !sem)) return 1;

  /* Open what is missing, outside the lock, then record it under it. */
  AcquireSRWLockExclusive(&maps_lock);
  m = rec_find(addr);
  if (!m || !m->tagged) {
    ReleaseSRWLockExclusive(&maps_lock);
    return 0;
  }
  int rc = 1;
  wchar_t name[96];
  PSECURITY_DESCRIPTOR sd = NULL;
  SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, FALSE};
  if (create) {
    if ((rc = sd_make(m->mode, 1, &sd)) != 0) goto out;
    sa.lpSecurityDescriptor = sd;
    rc = 1;
  }
  if (!m->counts) {
    obj_name(name, 96, m->key, "n");
    HANDLE s = create ? CreateFileMappingW(INVALID_HANDLE_VALUE, &sa, PAGE_READWRITE, 0,
                                           NCOUNTS * 4u, name)
                      : OpenFileMappingW(FILE_MAP_READ | FILE_MAP_WRITE, FALSE, name);
    if (!s) {
      DWORD e = GetLastError();
      rc = !create && e == ERROR_FILE_NOT_FOUND ? 1 : win_err(e);
      goto out;
    }
    void *v = MapViewOfFile(s, FILE_MAP_READ | FILE_MAP_WRITE, 0, 0, NCOUNTS * 4u);
    if (!v) { rc = last_err(); CloseHandle(s); goto out; }
    m->counts_map = s;
    m->counts = v;
  }
  w->count = &m->counts[count_slot(o)];
  for (uint32_t i = 0; i < m->nsems; i++)
    if (m->sems[i].off == o) { w->sem = m->sems[i].sem; break; }
  if (!w->sem && sem) {
    char what[24];
    snprintf(what, sizeof what, "w%llx", (unsigned long long)o);
    obj_name(name, 96, m->key, what);
    HANDLE s = create ? CreateSemaphoreW(&sa, 0, 0x7fffffff, name)
                      : OpenSemaphoreW(SEMAPHORE_MODIFY_STATE | SYNCHRONIZE, FALSE, name);
    if (!s) {
      DWORD e = GetLastError();
      rc = !create && e == ERROR_FILE_NOT_FOUND ? 1 : win_err(e);
      goto out;
    }
    if (m->nsems == m->capsems) {
      uint32_t cap = m->capsems ? m->capsems * 2 : 8;
      struct sem_ent *t = realloc(m->sems, cap * sizeof *t);
      if (!t) { CloseHandle(s); rc = -RILL_ENOMEM; goto out; }
      m->sems = t;
      m->capsems = cap;
    }
    m->sems[m->nsems++] = (struct sem_ent){o, s};
    w->sem = s;
  }
out:
  ReleaseSRWLockExclusive(&maps_lock);
  if (sd) LocalFree(sd);
  return rc;
}

/* Milliseconds to wait for TIMEOUT_NS, rounded up (INFINITE for none). */
static DWORD ms_of(uint64_t timeout_ns) {
  if (timeout_ns == UINT64_MAX) return INFINITE;
  uint64_t ms = timeout_ns / 1000000ull + (timeout_ns % 1000000ull != 0);
  return ms >= INFINITE ? INFINITE - 1 : (DWORD)ms;
}

static uint32_t word_load(const void *addr) {
  /* seq_cst: pairs with the seq_cst RMW of the count before it (the
   * sleeper's side of §5's Dekker pair with the waker's fence). */
  return atomic_load_explicit((_Atomic uint32_t *)(uintptr_t)addr, memory_order_seq_cst);
}

/* A word in no recorded mapping (a private variable): WaitOnAddress, which
 * reaches the threads of this process. */
static int park_private(const void *addr, uint32_t expect, uint64_t timeout_ns) {
  if (WaitOnAddress((volatile void *)(uintptr_t)addr, &expect, sizeof expect, ms_of(timeout_ns)))
    return 0;
  DWORD e = GetLastError();
  return e == ERROR_TIMEOUT ? -RILL_ETIMEDOUT : win_err(e);
}

int rill__park(const void *addr, uint32_t expect, uint64_t timeout_ns) {
  struct wobj w;
  int rc = wobj_get(addr, 1, 1, &w);
  if (rc < 0) return rc;
  if (rc == 0) return park_private(addr, expect, timeout_ns);
  /* seq_cst RMW: the sleeper's half of the pair with the waker's fence
   * (rill__unpark): either our load below sees the waker's store, or its
   * load of the count sees this increment and it releases a token. */
  atomic_fetch_add_explicit(w.count, 1, memory_order_seq_cst);
  if (word_load(addr) != expect) {
    atomic_fetch_sub_explicit(w.count, 1, memory_order_seq_cst);
    return 0;
  }
  DWORD r = WaitForSingleObject(w.sem, ms_of(timeout_ns));
  /* seq_cst, as the increment (a plain decrement would do for the
   * protocol: it only makes a later wake-up cheaper). */
  atomic_fetch_sub_explicit(w.count, 1, memory_order_seq_cst);
  if (r == WAIT_OBJECT_0) return 0;
  if (r == WAIT_TIMEOUT) return timeout_ns == UINT64_MAX ? 0 : -RILL_ETIMEDOUT;
  return last_err();
}

void rill__unpark(const void *addr) {
  /* seq_cst fence: pairs with the sleeper's seq_cst increment of the
   * count and load of the word (rill__park): the caller's store of the
   * word is ordered before our load of the count. */
  atomic_thread_fence(memory_order_seq_cst);
  struct wobj w;
  int rc = wobj_get(addr, 0, 0, &w);
  if (rc == 0) {
    WakeByAddressAll((void *)(uintptr_t)addr);
    return;
  }
  if (rc < 0 || !w.count) return; /* no section: nobody sleeps */
  uint32_t n = atomic_load_explicit(w.count, memory_order_seq_cst);
  if (n == 0) return; /* the common case: no system call */
  /* Now the semaphore (absent: the sleepers counted are on other words
   * of the same count, or left already). */
  if (wobj_get(addr, 0, 1, &w) == 1 && w.sem)
    (void)ReleaseSemaphore(w.sem, (LONG)(n > 0x7fffffffu ? 0x7fffffffu : n), NULL);
}

int rill__park_any(const void *const *addrs, const uint32_t *expect, uint32_t n,
                   uint64_t timeout_ns) {
  if (n == 0 || n > 128) return -RILL_EINVAL;
  struct wobj w[128];
  for (uint32_t i = 0; i < n; i++) {
    int rc = wobj_get(addrs[i], 1, 1, &w[i]);
    if (rc < 0) return rc;
    if (rc == 0) return -RILL_EIO; /* a private word: the caller naps on one */
  }
  /* The same seq_cst pairs as in rill__park(), on each word. */
  for (uint32_t i = 0; i < n; i++) atomic_fetch_add_explicit(w[i].count, 1, memory_order_seq_cst);
  HANDLE hs[MAXIMUM_WAIT_OBJECTS];
  DWORD nh = 0;
  for (uint32_t i = 0; i < n && nh < MAXIMUM_WAIT_OBJECTS; i++) {
    DWORD j = 0; /* a handle once: WaitForMultipleObjects refuses copies */
    while (j < nh && hs[j] != w[i].sem) j++;
    if (j == nh) hs[nh++] = w[i].sem;
  }
  int rc = 0;
  uint64_t deadline = timeout_ns == UINT64_MAX ? UINT64_MAX : rill__mono_ns() + timeout_ns;
  if (deadline < timeout_ns) deadline = UINT64_MAX;
  for (;;) {
    int changed = 0;
    for (uint32_t i = 0; i < n && !changed; i++) changed = word_load(addrs[i]) != expect[i];
    if (changed) break;
    uint64_t left = UINT64_MAX;
    if (deadline != UINT64_MAX) {
      uint64_t now = rill__mono_ns();
      if (now >= deadline) { rc = -RILL_ETIMEDOUT; break; }
      left = deadline - now;
    }
    /* Past 64 words: naps of at most 1 ms, looking at the others between. */
    if (n > MAXIMUM_WAIT_OBJECTS && left > 1000000ull) left = 1000000ull;
    DWORD r = WaitForMultipleObjects(nh, hs, FALSE, ms_of(left));
    if (r < WAIT_OBJECT_0 + nh) break;
    if (r == WAIT_TIMEOUT) continue; /* a nap ended, or the deadline: looked at above */
    rc = last_err();
    break;
  }
  for (uint32_t i = 0; i < n; i++) atomic_fetch_sub_explicit(w[i].count, 1, memory_order_seq_cst);
  return rc;
}

/* No cross-process asymmetric barrier on Windows (§5): a producer fences
 * every publish, a consumer every cursor flush. */
int rill__heavy_barrier_register(void) { return -RILL_EIO; }

/* Every producer joins LAZY (§3.7a): no Windows consumer predates it. */
int rill__lazy_fence(void) { return 1; }

uint32_t rill__cpus(void) {
  DWORD_PTR mine, sys;
  if (!GetProcessAffinityMask(GetCurrentProcess(), &mine, &sys) || !mine) return 1;
  uint32_t n = 0;
  for (; mine; mine &= mine - 1) n++;
  return n;
}

int rill__heavy_barrier(void) {
  /* seq_cst fence: pairs with the seq_cst fence that every Windows
   * producer runs after a publish and every consumer after a cursor
   * flush (register failed for them), as §5 says. */
  atomic_thread_fence(memory_order_seq_cst);
  return 0;
}

/* ---- directories -------------------------------------------------------- */

int rill__dir_open(const char *dir, int *dfd) {
  WIDE_OR_FAIL(w, dir);
  HANDLE h = CreateFileW(w, FILE_LIST_DIRECTORY | FILE_READ_ATTRIBUTES, SHARE_ALL, NULL,
                         OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS, NULL);
  free(w);
  if (h == INVALID_HANDLE_VALUE) {
    DWORD e = GetLastError();
    int rc = win_err(e);
    return e == ERROR_FILE_NOT_FOUND || e == ERROR_PATH_NOT_FOUND || e == ERROR_DIRECTORY
               ? -RILL_ENODIR
               : rc;
  }
  BY_HANDLE_FILE_INFORMATION bi;
  if (info_of(h, &bi) || !(bi.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY)) {
    CloseHandle(h);
    return -RILL_ENODIR;
  }
  /* The path resolved now (links included): later lookups are relative
   * to what the directory was when opened. */
  wchar_t fw[RILL_PATH_MAX];
  char path[RILL_PATH_MAX];
  DWORD n = GetFinalPathNameByHandleW(h, fw, RILL_PATH_MAX, FILE_NAME_NORMALIZED);
  if (n == 0 || n >= RILL_PATH_MAX || narrow(fw, path, sizeof path) != 0)
    snprintf(path, sizeof path, "%s", dir);
  char *p = dup_str(path);
  if (!p) { CloseHandle(h); return -RILL_ENOMEM; }
  int f = ent_new(h, E_DIR, 0, p);
  if (f < 0) { CloseHandle(h); return f; }
  *dfd = f;
  return 0;
}

/* DFD's path joined with NAME. */
static int at_path(int dfd, const char *name, char *out, size_t cap) {
  struct ent e;
  if (ent_get(dfd, &e) || e.kind != E_DIR || !e.path) return -RILL_EINVAL;
  if (!name[0] || strchr(name, '/') || strchr(name, '\\')) return -RILL_EINVAL;
  return join(out, cap, e.path, name);
}

static int dir_each_path(const char *dir, int (*fn)(const char *name, void *arg), void *arg) {
  char pat[RILL_PATH_MAX];
  int rc = join(pat, sizeof pat, dir, "*");
  if (rc) return rc;
  WIDE_OR_FAIL(w, pat);
  WIN32_FIND_DATAW fd;
  HANDLE h = FindFirstFileExW(w, FindExInfoBasic, &fd, FindExSearchNameMatch, NULL, 0);
  free(w);
  if (h == INVALID_HANDLE_VALUE) {
    DWORD e = GetLastError();
    if (e == ERROR_FILE_NOT_FOUND || e == ERROR_NO_MORE_FILES) return 0; /* empty */
    return e == ERROR_PATH_NOT_FOUND || e == ERROR_DIRECTORY ? -RILL_ENODIR : win_err(e);
  }
  do {
    if (!wcscmp(fd.cFileName, L".") || !wcscmp(fd.cFileName, L"..")) continue;
    char name[MAX_PATH * 3 + 1];
    if (narrow(fd.cFileName, name, sizeof name) != 0) continue;
    rc = fn(name, arg);
  } while (!rc && FindNextFileW(h, &fd));
  FindClose(h);
  return rc;
}

int rill__dir_each_at(int dfd, int (*fn)(const char *name, void *arg), void *arg) {
  struct ent e;
  if (ent_get(dfd, &e) || e.kind != E_DIR || !e.path) return -RILL_EINVAL;
  /* FN may close or open entries (the table may grow): a copy of the path. */
  char dir[RILL_PATH_MAX];
  snprintf(dir, sizeof dir, "%s", e.path);
  return dir_each_path(dir, fn, arg);
}

static uint64_t li64(LARGE_INTEGER x) { return (uint64_t)x.QuadPart; }

static int stat_handle(HANDLE h, rill__stat *st) {
  BY_HANDLE_FILE_INFORMATION bi;
  int rc = info_of(h, &bi);
  if (rc) return rc;
  memset(st, 0, sizeof *st);
  st->dev = bi.dwVolumeSerialNumber;
  st->ino = ((uint64_t)bi.nFileIndexHigh << 32) | bi.nFileIndexLow;
  st->size = ((uint64_t)bi.nFileSizeHigh << 32) | bi.nFileSizeLow;
  FILE_BASIC_INFO b;
  uint64_t t = ((uint64_t)bi.ftLastWriteTime.dwHighDateTime << 32) | bi.ftLastWriteTime.dwLowDateTime;
  if (GetFileInformationByHandleEx(h, FileBasicInfo, &b, sizeof b)) {
    if (li64(b.ChangeTime) > t) t = li64(b.ChangeTime);
    if (li64(b.LastWriteTime) > t) t = li64(b.LastWriteTime);
  }
  st->changed_ns = filetime_ns(t);
  st->kind = is_regular(&bi) ? RILL__KIND_REG : RILL__KIND_OTHER;
  if (owner_of(h, SE_FILE_OBJECT, &st->uid)) st->uid = UINT32_MAX;
  return 0;
}

int rill__stat_at(int dfd, const char *name, rill__stat *st) {
  char path[RILL_PATH_MAX];
  int rc = at_path(dfd, name, path, sizeof path);
  if (rc) return rc;
  WIDE_OR_FAIL(w, path);
  HANDLE h = open_w(w, FILE_READ_ATTRIBUTES | READ_CONTROL, FILE_FLAG_BACKUP_SEMANTICS);
  free(w);
  if (h == INVALID_HANDLE_VALUE) return last_err();
  rc = stat_handle(h, st);
  CloseHandle(h);
  return rc;
}

/* The serial number of the volume PATH lies on, or 0. */
static uint32_t path_volume(const char *path) {
  wchar_t *w = wide_path(path), root[MAX_PATH];
  DWORD serial = 0;
  if (w && GetVolumePathNameW(w, root, MAX_PATH))
    (void)GetVolumeInformationW(root, NULL, 0, &serial, NULL, NULL, NULL, 0);
  free(w);
  return serial;
}

int rill__file_stat(int fd, rill__stat *st) {
  struct ent e;
  if (ent_get(fd, &e) || e.kind != E_FILE) return -RILL_EINVAL;
  int rc = stat_handle(e.h, st);
  /* Wine: no serial for a handle whose file was renamed (same_file()) */
  if (!rc && !st->dev && e.path) st->dev = path_volume(e.path);
  return rc;
}

int rill__file_open_at(int dfd, const char *name, int *fd, uint64_t *size) {
  char path[RILL_PATH_MAX];
  int rc = at_path(dfd, name, path, sizeof path);
  if (rc) return rc;
  rill__stat st;
  /* Look first: a reparse point or directory is refused unopened. */
  if ((rc = rill__stat_at(dfd, name, &st))) return rc;
  if (st.kind != RILL__KIND_REG) return -RILL_EMAGIC;
  return file_open_path(path, 1, fd, size);
}

int rill__unlink_at(int dfd, const char *name) {
  char path[RILL_PATH_MAX];
  int rc = at_path(dfd, name, path, sizeof path);
  return rc ? rc : remove_path(path);
}

/* ---- processes ------------------------------------------------------------ */

int rill__pid_alive(uint32_t pid) {
  if (pid == 0) return 0;
  HANDLE h = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, (DWORD)pid);
  if (!h) {
    DWORD e = GetLastError();
    if (e == ERROR_INVALID_PARAMETER) return 0; /* no such process */
    if (e == ERROR_ACCESS_DENIED) return 1;     /* someone else's, alive */
    return win_err(e);
  }
  DWORD code = 0;
  int alive = GetExitCodeProcess(h, &code) ? code == STILL_ACTIVE : -1;
  DWORD e = GetLastError();
  CloseHandle(h);
  return alive >= 0 ? alive : win_err(e);
}

/* ---- waiting for a name in a directory ---------------------------------- */

int rill__dir_watch(const char *dir, int *w) {
  WIDE_OR_FAIL(wd, dir);
  DWORD a = GetFileAttributesW(wd);
  if (a == INVALID_FILE_ATTRIBUTES || !(a & FILE_ATTRIBUTE_DIRECTORY)) {
    free(wd);
    return -RILL_ENODIR;
  }
  HANDLE h = FindFirstChangeNotificationW(wd, FALSE, FILE_NOTIFY_CHANGE_FILE_NAME);
  free(wd);
  if (h == INVALID_HANDLE_VALUE) {
    DWORD e = GetLastError();
    int rc = win_err(e);
    return e == ERROR_FILE_NOT_FOUND || e == ERROR_PATH_NOT_FOUND ? -RILL_ENODIR : rc;
  }
  char *p = dup_str(dir);
  if (!p) { FindCloseChangeNotification(h); return -RILL_ENOMEM; }
  int f = ent_new(h, E_WATCH, 0, p);
  if (f < 0) { FindCloseChangeNotification(h); return f; }
  *w = f;
  return 0;
}

int rill__dir_watch_wait(int w, const char *name, uint64_t timeout_ns) {
  (void)name; /* any change wakes: the caller looks again */
  struct ent e;
  if (ent_get(w, &e) || e.kind != E_WATCH) return -RILL_EINVAL;
  DWORD r = WaitForSingleObject(e.h, ms_of(timeout_ns));
  WIDE_OR_FAIL(wd, e.path);
  DWORD a = GetFileAttributesW(wd);
  free(wd);
  if (a == INVALID_FILE_ATTRIBUTES || !(a & FILE_ATTRIBUTE_DIRECTORY)) return -RILL_ENODIR;
  if (r == WAIT_OBJECT_0) {
    if (!FindNextChangeNotification(e.h)) return last_err();
    return 0;
  }
  if (r == WAIT_TIMEOUT) return timeout_ns == UINT64_MAX ? 0 : -RILL_ETIMEDOUT;
  return last_err();
}

/* ---- the consumer's event (its "FIFO", §3.8 and §5) ---------------------- */

/* Local\rill-K-f@C@i from the FIFO path DIR\.rill-fifo@R@C@i and the
 * region handle RFD's tag. */
static int event_name(int rfd, const char *path, wchar_t *out, size_t cap) {
  struct ent e;
  if (ent_get(rfd, &e) || e.kind != E_FILE || !e.tagged) return -RILL_EINVAL;
  const char *b = basename_of(path);
  static const char prefix[] = ".rill-fifo@";
  if (strncmp(b, prefix, sizeof prefix - 1) != 0) return -RILL_EINVAL;
  const char *ci = strchr(b + sizeof prefix - 1, '@'); /* after R: "@C@i" */
  if (!ci) return -RILL_EINVAL;
  char key[25];
  key_of(key, e.created_ns, e.creator_pid);
  int n = _snwprintf(out, cap, L"Local\\rill-%hs-f%hs", key, ci);
  return n < 0 || (size_t)n >= cap ? -RILL_EINVAL : 0;
}

int rill__fifo_reader(int rfd, const char *path, uint32_t mode, int *fd) {
  wchar_t name[160];
  int rc = event_name(rfd, path, name, sizeof name / sizeof *name);
  if (rc) return rc;
  PSECURITY_DESCRIPTOR sd = NULL;
  if ((rc = sd_make(mode, 1, &sd))) return rc;
  SECURITY_ATTRIBUTES sa = {sizeof sa, sd, FALSE};
  HANDLE h = CreateEventW(&sa, TRUE, FALSE, name);
  DWORD e = GetLastError();
  LocalFree(sd);
  if (!h) {
    /* A named object of another kind holds the name (made to stop our
     * wake-ups): refused as a file that is not a FIFO is on Linux. */
    if (e == ERROR_INVALID_HANDLE) {
      rill__os_error = (int)e;
      return -RILL_EACCES;
    }
    return win_err(e);
  }
  if (e == ERROR_ALREADY_EXISTS) {
    /* Adopted only if it is ours: another user's event, planted to steal
     * the wake-ups, is refused (as a FIFO on Linux). */
    uint32_t uid;
    if (owner_of(h, SE_KERNEL_OBJECT, &uid) || uid != rill__euid()) {
      CloseHandle(h);
      return -RILL_EACCES;
    }
  }
  int f = ent_new(h, E_EVENT, 1, NULL);
  if (f < 0) { CloseHandle(h); return f; }
  *fd = f;
  return 0;
}

int rill__fifo_writer(int rfd, const char *path, int *fd) {
  wchar_t name[160];
  int rc = event_name(rfd, path, name, sizeof name / sizeof *name);
  if (rc) return rc;
  HANDLE h = OpenEventW(EVENT_MODIFY_STATE, FALSE, name);
  if (!h) {
    DWORD e = GetLastError();
    return e == ERROR_FILE_NOT_FOUND ? (rill__os_error = (int)e, -RILL_ENOENT) : win_err(e);
  }
  int f = ent_new(h, E_EVENT, 1, NULL);
  if (f < 0) { CloseHandle(h); return f; }
  *fd = f;
  return 0;
}

static HANDLE event_of(int fd) {
  struct ent e;
  return ent_get(fd, &e) == 0 && e.kind == E_EVENT ? e.h : NULL;
}

void rill__fifo_signal(int fd) {
  HANDLE h = event_of(fd);
  if (h) SetEvent(h);
}

void rill__fifo_drain(int fd) {
  HANDLE h = event_of(fd);
  if (h) ResetEvent(h);
}

void *rill__fifo_handle(int fd) { return event_of(fd); }
