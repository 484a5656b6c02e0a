/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* rill_bench's OS layer on Windows (bench/os.h): the sides are this
 * program started again (--bench-side), in a job that dies with the
 * parent; shared blocks are named paging-file sections; the clock is
 * QueryPerformanceCounter; pinning is the process's and the thread's
 * affinity mask. */
#include "bench.h"

#include <cpuid.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t bench_os_qpc_hz = 1;

void bench_os_init(void) {
  LARGE_INTEGER f;
  if (QueryPerformanceFrequency(&f) && f.QuadPart > 0)
    bench_os_qpc_hz = (uint64_t)f.QuadPart;
  /* a crash ends the process with its code, never with a dialog box */
  SetErrorMode(SEM_FAILCRITICALERRORS | SEM_NOGPFAULTERRORBOX);
}

uint64_t bench_os_clock_period_ns(void) {
  uint64_t p = 1000000000ull / bench_os_qpc_hz;
  return p ? p : 1;
}

void bench_os_sleep_until(uint64_t deadline_ns) {
  for (;;) {
    uint64_t now = bench_now_ns();
    if (now >= deadline_ns) return;
    uint64_t left = deadline_ns - now;
    /* Sleep() for all but the last 2 ms, then yield until the deadline */
    if (left > 2000000ull)
      Sleep((DWORD)((left - 1000000ull) / 1000000ull));
    else
      SwitchToThread();
  }
}

void bench_os_yield(void) { SwitchToThread(); }

static uint64_t filetime_u64(FILETIME f) {
  return ((uint64_t)f.dwHighDateTime << 32) | f.dwLowDateTime;
}

uint64_t bench_os_cpu_time_ns(void) {
  FILETIME c, e, k, u;
  if (!GetProcessTimes(GetCurrentProcess(), &c, &e, &k, &u)) return 0;
  return (filetime_u64(k) + filetime_u64(u)) * 100ull; /* 100 ns units */
}

void bench_os_utc_date(char *buf, size_t len) {
  SYSTEMTIME st;
  GetSystemTime(&st);
  snprintf(buf, len, "%04u-%02u-%02uT%02u:%02u:%02uZ", st.wYear, st.wMonth,
           st.wDay, st.wHour, st.wMinute, st.wSecond);
}

/* ---- memory -------------------------------------------------------------- */

void *bench_os_aligned_alloc(size_t n) { return _aligned_malloc(n ? n : 64, 64); }

void bench_os_aligned_free(void *p) { _aligned_free(p); }

int bench_os_shared_new(bench_shared *s, size_t len) {
  static unsigned counter;
  memset(s, 0, sizeof *s);
  snprintf(s->name, sizeof s->name, "Local\\rill-bench-%lu-%u",
           (unsigned long)GetCurrentProcessId(), counter++);
  HANDLE h = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE,
                                (DWORD)((uint64_t)len >> 32), (DWORD)len,
                                s->name);
  if (!h) return -1;
  void *p = MapViewOfFile(h, FILE_MAP_ALL_ACCESS, 0, 0, len);
  if (!p) {
    CloseHandle(h);
    return -1;
  }
  memset(p, 0, len);
  s->p = p;
  s->len = len;
  s->handle = h;
  return 0;
}

int bench_os_shared_attach(bench_shared *s) {
  s->p = NULL;
  s->handle = NULL; /* the parent's, not ours */
  if (!s->name[0]) return -1;
  HANDLE h = OpenFileMappingA(FILE_MAP_ALL_ACCESS, FALSE, s->name);
  if (!h) return -1;
  s->p = MapViewOfFile(h, FILE_MAP_ALL_ACCESS, 0, 0, s->len);
  CloseHandle(h); /* the view keeps the section */
  return s->p ? 0 : -1;
}

void bench_os_shared_free(bench_shared *s) {
  if (s->p) UnmapViewOfFile(s->p);
  if (s->handle) CloseHandle(s->handle);
  s->p = NULL;
  s->handle = NULL;
}

/* ---- CPUs ---------------------------------------------------------------- */

long bench_os_cpus_online(void) {
  SYSTEM_INFO si;
  GetSystemInfo(&si);
  return (long)si.dwNumberOfProcessors;
}

int bench_os_cpu_limit(void) { return 64; /* one processor group */ }

int bench_os_first_cpus(int cpu[2]) {
  DWORD_PTR pm = 0, sm = 0;
  int found = 0;
  if (GetProcessAffinityMask(GetCurrentProcess(), &pm, &sm))
    for (int c = 0; c < 64 && found < 2; c++)
      if (pm & ((DWORD_PTR)1 << c)) cpu[found++] = c;
  return found;
}

int bench_os_pin(int cpu, char *err, size_t errlen) {
  DWORD_PTR m = (DWORD_PTR)1 << cpu;
  if (SetProcessAffinityMask(GetCurrentProcess(), m) &&
      SetThreadAffinityMask(GetCurrentThread(), m))
    return 0;
  snprintf(err, errlen, "SetProcessAffinityMask(CPU %d): error %lu", cpu,
           (unsigned long)GetLastError());
  return -1;
}

void bench_os_cpu_model(char *buf, size_t len) {
  unsigned r[12], a, b, c, d;
  snprintf(buf, len, "unknown");
  if (!__get_cpuid(0x80000000u, &a, &b, &c, &d) || a < 0x80000004u) return;
  for (unsigned i = 0; i < 3; i++)
    __get_cpuid(0x80000002u + i, &r[4 * i], &r[4 * i + 1], &r[4 * i + 2],
                &r[4 * i + 3]);
  char s[49];
  memcpy(s, r, 48);
  s[48] = 0;
  char *p = s;
  while (*p == ' ') p++;
  snprintf(buf, len, "%s", p);
}

int bench_os_no_heavy_barrier(char *err, size_t errlen) {
  (void)err, (void)errlen; /* Windows has none (docs/PROTOCOL.md §5) */
  return 0;
}

/* ---- files --------------------------------------------------------------- */

int bench_os_mkdir(const char *path) {
  if (CreateDirectoryA(path, NULL) || GetLastError() == ERROR_ALREADY_EXISTS)
    return 0;
  errno = EACCES;
  return -1;
}

int bench_os_private_dir(const char *base, char *out, size_t len) {
  char tmp[MAX_PATH + 1];
  if (!base) {
    DWORD n = GetTempPathA(sizeof tmp, tmp);
    if (n == 0 || n >= sizeof tmp) return -1;
    if (n > 1 && (tmp[n - 1] == '\\' || tmp[n - 1] == '/')) tmp[n - 1] = 0;
    base = tmp;
  }
  for (unsigned i = 0; i < 100; i++) {
    snprintf(out, len, "%s\\rill-bench-%lu-%u", base,
             (unsigned long)GetCurrentProcessId(), i);
    if (CreateDirectoryA(out, NULL)) return 0;
    if (GetLastError() != ERROR_ALREADY_EXISTS) break;
  }
  out[0] = 0;
  errno = EACCES;
  return -1;
}

int bench_os_self(char *buf, size_t len) {
  DWORD n = GetModuleFileNameA(NULL, buf, (DWORD)len);
  return n == 0 || n >= len ? -1 : 0;
}

void bench_os_remove_dir(const char *dir) {
  char pat[1024], path[1024];
  snprintf(pat, sizeof pat, "%s\\*", dir);
  WIN32_FIND_DATAA fd;
  HANDLE h = FindFirstFileA(pat, &fd);
  if (h != INVALID_HANDLE_VALUE) {
    do {
      if (!strcmp(fd.cFileName, ".") || !strcmp(fd.cFileName, "..")) continue;
      snprintf(path, sizeof path, "%s\\%s", dir, fd.cFileName);
      DeleteFileA(path);
    } while (FindNextFileA(h, &fd));
    FindClose(h);
  }
  RemoveDirectoryA(dir);
}

int bench_os_replace(const char *from, const char *to) {
  if (MoveFileExA(from, to, MOVEFILE_REPLACE_EXISTING)) return 0;
  errno = EACCES;
  return -1;
}

void bench_os_on_signals(void (*fn)(int)) {
  signal(SIGINT, fn);
  signal(SIGTERM, fn);
#ifdef SIGBREAK
  signal(SIGBREAK, fn);
#endif
}

void bench_os_reraise(int sig) {
  signal(sig, SIG_DFL);
  raise(sig);
}

/* ---- the two sides ------------------------------------------------------- */

/* Every side is in this job, which kills them when the parent's handle to
 * it closes (the parent ended, however it ended). */
static HANDLE job(void) {
  static HANDLE j;
  if (j) return j;
  j = CreateJobObjectA(NULL, NULL);
  if (j) {
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION li;
    memset(&li, 0, sizeof li);
    li.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
    SetInformationJobObject(j, JobObjectExtendedLimitInformation, &li,
                            sizeof li);
  }
  return j;
}

int bench_os_spawn(int side, const char *ctrl_name, bench_child *c, char *err,
                   size_t errlen) {
  wchar_t exe[MAX_PATH + 1], cmd[2 * MAX_PATH];
  DWORD n = GetModuleFileNameW(NULL, exe, MAX_PATH);
  if (n == 0 || n >= MAX_PATH) {
    snprintf(err, errlen, "GetModuleFileNameW: error %lu",
             (unsigned long)GetLastError());
    return -1;
  }
  exe[n] = 0;
  size_t k = 0;
  cmd[k++] = L'"';
  for (size_t i = 0; exe[i]; i++) cmd[k++] = exe[i];
  const char *tail[3] = {"\" --bench-side ", side ? "1 " : "0 ", ctrl_name};
  for (int t = 0; t < 3; t++)
    for (const char *p = tail[t]; *p && k + 1 < sizeof cmd / sizeof cmd[0]; p++)
      cmd[k++] = (wchar_t)(unsigned char)*p;
  cmd[k] = 0;
  STARTUPINFOW si;
  PROCESS_INFORMATION pi;
  memset(&si, 0, sizeof si);
  si.cb = sizeof si;
  fflush(stdout);
  fflush(stderr);
  if (!CreateProcessW(exe, cmd, NULL, NULL, FALSE, CREATE_SUSPENDED, NULL,
                      NULL, &si, &pi)) {
    snprintf(err, errlen, "CreateProcessW: error %lu",
             (unsigned long)GetLastError());
    return -1;
  }
  HANDLE j = job();
  if (j) AssignProcessToJobObject(j, pi.hProcess);
  ResumeThread(pi.hThread);
  CloseHandle(pi.hThread);
  c->id = (intptr_t)pi.hProcess;
  return 0;
}

int bench_os_child_ended(bench_child *c, int block, int *ok, char *how,
                         size_t howlen) {
  HANDLE h = (HANDLE)c->id;
  if (!h) return 0;
  if (WaitForSingleObject(h, block ? INFINITE : 0) != WAIT_OBJECT_0) return 0;
  DWORD code = 1;
  GetExitCodeProcess(h, &code);
  CloseHandle(h);
  c->id = 0;
  *ok = code == 0;
  if (code >= 0xC0000000u)
    snprintf(how, howlen, "crashed, exception 0x%08lx", (unsigned long)code);
  else
    snprintf(how, howlen, "exited with status %lu", (unsigned long)code);
  return 1;
}

void bench_os_child_kill(const bench_child *c) {
  if (c->id) TerminateProcess((HANDLE)c->id, 137);
}

void bench_os_children_wait(const bench_child *c, int n, uint64_t max_ns) {
  HANDLE hs[2];
  DWORD k = 0;
  for (int i = 0; i < n && i < 2; i++)
    if (c[i].id) hs[k++] = (HANDLE)c[i].id;
  if (max_ns > 1000000000ull) max_ns = 1000000000ull;
  DWORD ms = (DWORD)((max_ns + 999999ull) / 1000000ull);
  if (k == 0)
    Sleep(ms);
  else
    WaitForMultipleObjects(k, hs, FALSE, ms);
}

void bench_os_child_init(void) {
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
}

void bench_os_exit(int status) {
  fflush(stdout);
  fflush(stderr);
  _Exit(status);
}
