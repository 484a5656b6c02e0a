/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* The command line's OS calls on Windows 10 and later: see os.h.  The
 * monitor draws with the console API; keys, resizes and Ctrl-C come from
 * the console's input and its control handler. */
#ifdef _WIN32
#include "os.h"

#include <errno.h>
#include <fcntl.h>
#include <io.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <windows.h>
#include <shellapi.h>

/* UTF-16 to UTF-8, into BUF: 0, or -1 (BUF holds "" then). */
static int utf8_of(const wchar_t *w, char *buf, size_t cap) {
  int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, buf, (int)cap, NULL, NULL);
  if (n <= 0) {
    if (cap) buf[0] = 0;
    return -1;
  }
  return 0;
}

static UINT cp_saved;

static void cp_restore(void) { SetConsoleOutputCP(cp_saved); }

void os_init(int *argc, char ***argv) {
  /* The arguments in UTF-8, from the wide command line (the narrow argv
   * is in the ANSI code page, which cannot spell every path).  Kept
   * until exit, as argv is. */
  int n;
  wchar_t **w = CommandLineToArgvW(GetCommandLineW(), &n);
  if (w && n > 0) {
    char **v = calloc((size_t)n + 1, sizeof *v);
    int ok = v != NULL;
    for (int i = 0; ok && i < n; i++) {
      int len = WideCharToMultiByte(CP_UTF8, 0, w[i], -1, NULL, 0, NULL, NULL);
      ok = len > 0 && (v[i] = malloc((size_t)len)) != NULL &&
           WideCharToMultiByte(CP_UTF8, 0, w[i], -1, v[i], len, NULL, NULL) > 0;
    }
    if (ok) {
      *argc = n;
      *argv = v;
    }
  }
  if (w) LocalFree(w);
  /* Names and payloads are printed in UTF-8: the console shows them so
   * while rill runs, and gets its code page back at exit. */
  if ((cp_saved = GetConsoleOutputCP()) != 0 && cp_saved != CP_UTF8 &&
      SetConsoleOutputCP(CP_UTF8))
    atexit(cp_restore);
}

const char *os_getenv(const char *name) {
  static char buf[4 * MAX_PATH];
  wchar_t wname[64], *v;
  if (MultiByteToWideChar(CP_UTF8, 0, name, -1, wname, 64) <= 0) return NULL;
  if (!(v = _wgetenv(wname))) return NULL;
  return utf8_of(v, buf, sizeof buf) ? NULL : buf;
}

const char *os_default_dir(void) {
  static char dir[4 * MAX_PATH + 8];
  const char *base = os_getenv("LOCALAPPDATA");
  if (!base || !base[0]) return OS_DEFAULT_DIR_TEXT;
  snprintf(dir, sizeof dir, "%s\\rill", base);
  return dir;
}

/* ---- time ------------------------------------------------------------------ */

uint64_t os_mono_ns(void) {
  /* The library's CLOCK_MONOTONIC (PROTOCOL.md §5): the performance
   * counter in ns, whole seconds and the rest apart, so as not to overflow. */
  static LARGE_INTEGER freq;
  LARGE_INTEGER c;
  if (!freq.QuadPart) QueryPerformanceFrequency(&freq);
  QueryPerformanceCounter(&c);
  uint64_t f = (uint64_t)freq.QuadPart, t = (uint64_t)c.QuadPart;
  return t / f * 1000000000ull + t % f * 1000000000ull / f;
}

uint64_t os_real_ns(void) {
  FILETIME ft;
  GetSystemTimePreciseAsFileTime(&ft);
  uint64_t t = (uint64_t)ft.dwHighDateTime << 32 | ft.dwLowDateTime;
  return (t - 116444736000000000ull) * 100; /* 100 ns since 1601 -> ns since 1970 */
}

void os_sleep_ms(unsigned ms) { Sleep(ms); }

/* The CRT's gmtime and localtime keep their result per thread. */
int os_gmtime(time_t t, struct tm *tm) {
  struct tm *p = gmtime(&t);
  if (!p) return -1;
  *tm = *p;
  return 0;
}

int os_localtime(time_t t, struct tm *tm) {
  struct tm *p = localtime(&t);
  if (!p) return -1;
  *tm = *p;
  return 0;
}

/* ---- users and processes --------------------------------------------------- */

/* The name of the account of SID, into BUF: 0, or -1. */
static int sid_name(PSID sid, char *buf, size_t cap) {
  wchar_t name[256], dom[256];
  DWORD n = 256, dn = 256;
  SID_NAME_USE use;
  if (!LookupAccountSidW(NULL, sid, name, &n, dom, &dn, &use)) return -1;
  return utf8_of(name, buf, cap);
}

/* UID, the RID of a SID, in the domain of this process's user (local
 * accounts, or the same domain's), then among the built-in groups
 * (S-1-5-32-RID: Administrators, 544, owns what an elevated process
 * makes), then the NT authority's (S-1-5-RID: SYSTEM, 18). */
static int rid_name(uint32_t uid, char *buf, size_t cap) {
  HANDLE tok;
  if (OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok)) {
    union { TOKEN_USER u; char b[256]; } tu;
    DWORD len;
    int ok = GetTokenInformation(tok, TokenUser, &tu, sizeof tu, &len);
    CloseHandle(tok);
    if (ok) {
      char sid[SECURITY_MAX_SID_SIZE];
      PSID s = (PSID)sid;
      if (CopySid(sizeof sid, s, tu.u.User.Sid) && *GetSidSubAuthorityCount(s) > 0) {
        *GetSidSubAuthority(s, *GetSidSubAuthorityCount(s) - 1u) = uid;
        if (!sid_name(s, buf, cap)) return 0;
      }
    }
  }
  SID_IDENTIFIER_AUTHORITY nt = {SECURITY_NT_AUTHORITY};
  PSID s;
  if (AllocateAndInitializeSid(&nt, 2, SECURITY_BUILTIN_DOMAIN_RID, uid, 0, 0, 0, 0, 0, 0, &s)) {
    int rc = sid_name(s, buf, cap);
    FreeSid(s);
    if (!rc) return 0;
  }
  if (AllocateAndInitializeSid(&nt, 1, uid, 0, 0, 0, 0, 0, 0, 0, &s)) {
    int rc = sid_name(s, buf, cap);
    FreeSid(s);
    if (!rc) return 0;
  }
  return -1;
}

const char *os_user_name(uint32_t uid, char *buf, size_t cap) {
  /* ls asks once per region, mostly for the same owner. */
  static uint32_t last_uid;
  static char last[128];
  static int have;
  if (!have || last_uid != uid) {
    if (rid_name(uid, last, sizeof last)) snprintf(last, sizeof last, "%u", uid);
    last_uid = uid;
    have = 1;
  }
  snprintf(buf, cap, "%s", last);
  return buf;
}

void os_file_users(const char *path, char *buf, size_t cap) {
  /* Windows has no way to ask who holds a byte-range lock, and which
   * processes have a file open is not this user's to see in general. */
  (void)path;
  snprintf(buf, cap, "a live process (Windows does not say which)");
}

int os_lock_holders(const char *path, os_lock_holder *out, int cap, int *hidden) {
  /* Windows does not say who holds a byte-range lock (os_file_users()),
   * nor needs to: it has one space of pids, so the one recorded is it. */
  (void)path, (void)out, (void)cap;
  *hidden = 0;
  return OS_PIDS_GLOBAL;
}

/* Appends ARG to the command line at W (CAP wide characters, LEN used),
 * quoted as CommandLineToArgvW reads it back.  0, or -1 if it is full. */
static int arg_append(wchar_t *w, size_t cap, size_t *len, const char *arg) {
  wchar_t a[4096];
  if (MultiByteToWideChar(CP_UTF8, 0, arg, -1, a, 4096) <= 0) return -1;
  size_t n = *len;
#define PUT(c) do { if (n + 1 >= cap) return -1; w[n++] = (c); } while (0)
  if (n) PUT(L' ');
  PUT(L'"');
  for (const wchar_t *p = a;; p++) {
    size_t bs = 0;
    while (*p == L'\\') bs++, p++;
    /* Backslashes double before a quote and before the closing one. */
    size_t times = !*p || *p == L'"' ? 2 * bs : bs;
    for (size_t i = 0; i < times; i++) PUT(L'\\');
    if (!*p) break;
    if (*p == L'"') PUT(L'\\');
    PUT(*p);
  }
  PUT(L'"');
#undef PUT
  w[n] = 0;
  *len = n;
  return 0;
}

int os_exec_beside(const char *name, char **argv) {
  /* Windows has no exec: NAME.exe runs as a child with this console, and
   * this process exits with its status. */
  wchar_t self[MAX_PATH], path[MAX_PATH + 64], wname[64];
  DWORD n = GetModuleFileNameW(NULL, self, MAX_PATH);
  if (!n || n >= MAX_PATH || MultiByteToWideChar(CP_UTF8, 0, name, -1, wname, 64) <= 0) {
    errno = ENOENT;
    return -1;
  }
  wchar_t *slash = wcsrchr(self, L'\\');
  if (slash) *slash = 0;
  _snwprintf(path, MAX_PATH + 64, L"%ls\\%ls.exe", slash ? self : L".", wname);
  path[MAX_PATH + 63] = 0;
  const wchar_t *prog = GetFileAttributesW(path) != INVALID_FILE_ATTRIBUTES ? path : NULL;
  static wchar_t cmd[32768];
  size_t len = 0;
  if (arg_append(cmd, 32768, &len, name)) { errno = E2BIG; return -1; }
  for (int i = 1; argv[i]; i++)
    if (arg_append(cmd, 32768, &len, argv[i])) { errno = E2BIG; return -1; }
  STARTUPINFOW si = {.cb = sizeof si};
  PROCESS_INFORMATION pi;
  fflush(stdout);
  fflush(stderr);
  /* prog NULL: the first word of the command line, searched on PATH */
  if (!CreateProcessW(prog, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi)) {
    errno = ENOENT;
    return -1;
  }
  SetConsoleCtrlHandler(NULL, TRUE); /* Ctrl-C is the child's to handle */
  WaitForSingleObject(pi.hProcess, INFINITE);
  DWORD code = 1;
  GetExitCodeProcess(pi.hProcess, &code);
  exit((int)code);
}

/* ---- interruptions ---------------------------------------------------------- */

static volatile LONG stop_flag, resized_flag;
static HANDLE stop_event; /* set with the flag: wakes os_key_wait() */

static BOOL WINAPI on_ctrl(DWORD type) {
  switch (type) {
  case CTRL_C_EVENT:
  case CTRL_BREAK_EVENT:
  case CTRL_CLOSE_EVENT:
    InterlockedExchange(&stop_flag, 1);
    if (stop_event) SetEvent(stop_event);
    /* Closing the console ends the process once this returns: a moment
     * for the main thread to leave its endpoint and restore the screen. */
    if (type == CTRL_CLOSE_EVENT) Sleep(500);
    return TRUE;
  default: return FALSE;
  }
}

void os_catch_stop(void) {
  if (!stop_event) stop_event = CreateEventW(NULL, TRUE, FALSE, NULL);
  SetConsoleCtrlHandler(on_ctrl, TRUE);
}

int os_stopped(void) { return InterlockedCompareExchange(&stop_flag, 0, 0) != 0; }

void os_ignore_sigpipe(void) {}

int os_stdin_binary(void) { return _setmode(_fileno(stdin), _O_BINARY) == -1 ? -1 : 0; }

/* ---- the terminal ----------------------------------------------------------- */

/* The monitor draws with the console API on the console's own screen
 * buffer (a screen buffer of its own is not drawn by Wine's console on a
 * terminal), over the window's rows; what the window showed is saved
 * first and put back at the end, as a terminal's alternate screen does. */
static HANDLE scr;          /* standard output, while the monitor draws */
static CONSOLE_SCREEN_BUFFER_INFO scr_saved;
static CONSOLE_CURSOR_INFO cursor_saved;
static CHAR_INFO *cells_saved; /* the window's contents before */
static DWORD in_saved;
static int in_set;

int os_stdout_is_terminal(void) {
  DWORD mode;
  HANDLE h = GetStdHandle(STD_OUTPUT_HANDLE);
  return h != INVALID_HANDLE_VALUE && h != NULL && GetConsoleMode(h, &mode);
}

int os_term_size(int *rows, int *cols) {
  CONSOLE_SCREEN_BUFFER_INFO bi;
  if (!GetConsoleScreenBufferInfo(GetStdHandle(STD_OUTPUT_HANDLE), &bi)) return -1;
  int r = bi.srWindow.Bottom - bi.srWindow.Top + 1, c = bi.srWindow.Right - bi.srWindow.Left + 1;
  if (r <= 0 || c <= 0) return -1;
  *rows = r;
  *cols = c;
  return 0;
}

int os_screen_enter(int *keys) {
  HANDLE out = GetStdHandle(STD_OUTPUT_HANDLE), in = GetStdHandle(STD_INPUT_HANDLE);
  *keys = 0;
  if (!GetConsoleScreenBufferInfo(out, &scr_saved)) return -1;
  fflush(stdout);
  SMALL_RECT win = scr_saved.srWindow;
  COORD size = {(SHORT)(win.Right - win.Left + 1), (SHORT)(win.Bottom - win.Top + 1)};
  cells_saved = calloc((size_t)size.X * (size_t)size.Y, sizeof *cells_saved);
  if (cells_saved && !ReadConsoleOutputW(out, cells_saved, size, (COORD){0, 0}, &win)) {
    free(cells_saved);
    cells_saved = NULL;
  }
  scr = out;
  if (GetConsoleCursorInfo(out, &cursor_saved)) {
    CONSOLE_CURSOR_INFO ci = cursor_saved;
    ci.bVisible = FALSE;
    SetConsoleCursorInfo(out, &ci);
  }
  if (GetConsoleMode(in, &in_saved)) {
    /* Keys one at a time, unechoed; Ctrl-C still goes to on_ctrl
     * (ENABLE_PROCESSED_INPUT); resizes come as events. */
    DWORD m = (in_saved & ~(DWORD)(ENABLE_LINE_INPUT | ENABLE_ECHO_INPUT)) |
              ENABLE_PROCESSED_INPUT | ENABLE_WINDOW_INPUT;
    if (SetConsoleMode(in, m)) {
      in_set = 1;
      *keys = 1;
    }
  }
  if (!stop_event) stop_event = CreateEventW(NULL, TRUE, FALSE, NULL);
  return 0;
}

/* TEXT (LEN bytes of UTF-8), then blanks, over row ROW of the window. */
static void put_row(int row, const char *text, size_t len) {
  CONSOLE_SCREEN_BUFFER_INFO bi;
  if (!scr || !GetConsoleScreenBufferInfo(scr, &bi)) return;
  int cols = bi.srWindow.Right - bi.srWindow.Left + 1;
  if (cols <= 0 || cols > 4096) return;
  wchar_t w[4096];
  int n = len ? MultiByteToWideChar(CP_UTF8, 0, text, (int)len, w, cols) : 0;
  if (n < 0) n = 0;
  for (int i = n; i < cols; i++) w[i] = L' ';
  COORD at = {bi.srWindow.Left, (SHORT)(bi.srWindow.Top + row)};
  DWORD done;
  WriteConsoleOutputCharacterW(scr, w, (DWORD)cols, at, &done);
  FillConsoleOutputAttribute(scr, scr_saved.wAttributes, (DWORD)cols, at, &done);
}

void os_screen_line(int row, const char *text, size_t len) { put_row(row, text, len); }

void os_screen_done(int rows) {
  CONSOLE_SCREEN_BUFFER_INFO bi;
  if (!scr || !GetConsoleScreenBufferInfo(scr, &bi)) return;
  for (int r = rows; bi.srWindow.Top + r <= bi.srWindow.Bottom; r++) put_row(r, "", 0);
}

void os_screen_leave(void) {
  if (in_set) {
    HANDLE in = GetStdHandle(STD_INPUT_HANDLE);
    FlushConsoleInputBuffer(in);
    SetConsoleMode(in, in_saved);
  }
  in_set = 0;
  if (!scr) return;
  if (cells_saved) { /* what the window showed, where it was */
    SMALL_RECT win = scr_saved.srWindow;
    COORD size = {(SHORT)(win.Right - win.Left + 1), (SHORT)(win.Bottom - win.Top + 1)};
    WriteConsoleOutputW(scr, cells_saved, size, (COORD){0, 0}, &win);
    free(cells_saved);
    cells_saved = NULL;
  }
  SetConsoleCursorInfo(scr, &cursor_saved);
  SetConsoleCursorPosition(scr, scr_saved.dwCursorPosition);
  scr = NULL;
}

int os_resized(void) { return InterlockedExchange(&resized_flag, 0) != 0; }

int os_key_wait(int ms, int keys) {
  if (os_stopped() || InterlockedCompareExchange(&resized_flag, 0, 0)) return 0;
  HANDLE h[2];
  DWORD n = 0;
  if (keys) h[n++] = GetStdHandle(STD_INPUT_HANDLE);
  if (stop_event) h[n++] = stop_event;
  DWORD t = ms < 0 ? 0 : (DWORD)ms;
  if (!n) {
    Sleep(t);
    return 0;
  }
  DWORD w = WaitForMultipleObjects(n, h, FALSE, t);
  if (w == WAIT_FAILED) return keys ? -1 : 0;
  if (!keys || w != WAIT_OBJECT_0) return 0; /* the time, or a stop */
  INPUT_RECORD rec[16];
  DWORD got = 0;
  if (!ReadConsoleInputW(h[0], rec, 16, &got)) return -1;
  int key = 0;
  for (DWORD i = 0; i < got; i++) {
    if (rec[i].EventType == WINDOW_BUFFER_SIZE_EVENT) InterlockedExchange(&resized_flag, 1);
    if (rec[i].EventType != KEY_EVENT || !rec[i].Event.KeyEvent.bKeyDown) continue;
    WCHAR c = rec[i].Event.KeyEvent.uChar.UnicodeChar;
    if (!key && c > 0 && c < 0x80) key = (int)c;
  }
  return key;
}
#endif
