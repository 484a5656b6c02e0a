/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* tests/testutil.h for the C++ tests (tests/cpp/tu_cpp.h says what and
 * why): compiled as C into each of them. */
#include "tu_cpp.h"

#include "testutil.h"

#define TUCPP_MAX_PROCS 16

struct tucpp_proc {
  char name[64];
  char buf[1024]; /* stdout read ahead of the line asked for */
  size_t blen;
  int eof;
#if TU_WINDOWS
  HANDLE h, in_w, out_r;
  DWORD pid;
#else
  pid_t pid;
  int in_w, out_r;
#endif
};

/* Children started and not yet waited for: tucpp_end() kills them. */
static tucpp_proc *tucpp_live[TUCPP_MAX_PROCS];

void tucpp_start(const char *name, unsigned seconds, int argc, char **argv) {
  tu_start_roles(name, seconds, argc, argv, NULL);
}

const char *tucpp_dir(void) { return tu_dir(); }

uint64_t tucpp_scaled(uint64_t n, uint64_t min) { return tu_scaled(n, min); }

int tucpp_sanitized(void) { return tu_sanitized(); }

int tucpp_lazy_fence(void) { return tu_lazy_fence(); }

void tucpp_setenv(const char *name, const char *value) { tu_setenv(name, value); }

double tucpp_elapsed(void) { return tu_now() - tu_g.t0; }

void tucpp_skip(const char *msg) { tu_skip("%s", msg); }

void tucpp_skip_part(const char *what, const char *why) { tu_skip_part(what, "%s", why); }

void tucpp_end_str(int end, char *out, size_t cap) {
  tu_end_str(end == TUCPP_KILLED ? TU_KILLED : end, out, cap);
}

int tucpp_end(int ok, const char *msg) {
  for (int i = 0; i < TUCPP_MAX_PROCS; i++)
    if (tucpp_live[i]) {
      fprintf(stderr, "%s: %s still running: killed\n", tu_g.name, tucpp_live[i]->name);
      tucpp_proc_kill(tucpp_live[i]);
      (void)tucpp_proc_wait(tucpp_live[i]);
    }
  if (ok) return tu_pass("%s", msg);
  printf("FAIL %s: %s (%.2f s)\n", tu_g.name, msg, tu_now() - tu_g.t0);
  fflush(NULL);
  tu_watchdog_end();
  return 1;
}

static int tucpp_track(tucpp_proc *p, tucpp_proc *was) {
  for (int i = 0; i < TUCPP_MAX_PROCS; i++)
    if (tucpp_live[i] == was) {
      tucpp_live[i] = p;
      return 0;
    }
  return -1;
}

/* ---- starting a child ----------------------------------------------------- */

/* A child's record, tracked so that a failed test kills it: NULL (and a
 * line on stderr) when there are too many. */
static tucpp_proc *tucpp_proc_new(const char *name) {
  tucpp_proc *p = calloc(1, sizeof *p);
  if (!p || tucpp_track(p, NULL)) {
    fprintf(stderr, "%s: cannot start %s: too many children\n", tu_g.name, name);
    free(p);
    return NULL;
  }
  snprintf(p->name, sizeof p->name, "%s", name);
  return p;
}

#if TU_WINDOWS
/* Appends ARG to the command line CMD as CommandLineToArgvW and the C and
 * Go runtimes split it: quoted when it must be, backslashes before a quote
 * doubled. */
static int tucpp_quote(char *cmd, size_t cap, const char *arg) {
  size_t n = strlen(cmd);
  int plain = *arg && !strpbrk(arg, " \t\n\v\"");
  if (n && n + 1 < cap) cmd[n++] = ' ';
  if (plain) {
    if (n + strlen(arg) + 1 > cap) return -1;
    strcpy(cmd + n, arg);
    return 0;
  }
  if (n + 1 >= cap) return -1;
  cmd[n++] = '"';
  for (const char *s = arg;; s++) {
    size_t bs = 0;
    while (*s == '\\') s++, bs++;
    size_t need = !*s ? 2 * bs : *s == '"' ? 2 * bs + 2 : bs + 1;
    if (n + need + 2 > cap) return -1;
    if (!*s) {
      for (size_t k = 0; k < 2 * bs; k++) cmd[n++] = '\\';
      break;
    }
    if (*s == '"') {
      for (size_t k = 0; k < 2 * bs + 1; k++) cmd[n++] = '\\';
    } else {
      for (size_t k = 0; k < bs; k++) cmd[n++] = '\\';
    }
    cmd[n++] = *s;
  }
  cmd[n++] = '"';
  cmd[n] = 0;
  return 0;
}

/* An inheritable copy of H (NULL if it cannot be made). */
static HANDLE tucpp_inheritable(HANDLE h) {
  HANDLE d = NULL;
  if (!h || h == INVALID_HANDLE_VALUE ||
      !DuplicateHandle(GetCurrentProcess(), h, GetCurrentProcess(), &d, 0, TRUE,
                       DUPLICATE_SAME_ACCESS))
    return NULL;
  return d;
}

tucpp_proc *tucpp_proc_start(const char *name, const char *const *argv, unsigned flags) {
  tucpp_proc *p = tucpp_proc_new(name);
  if (!p) return NULL;
  HANDLE in_r = NULL, out_w = NULL, err_w = NULL;
  char cmd[4096] = "";
  for (const char *const *a = argv; *a; a++)
    if (tucpp_quote(cmd, sizeof cmd, *a)) {
      fprintf(stderr, "%s: command line of %s too long\n", tu_g.name, name);
      goto fail;
    }
  if (!tu_g.job) { /* as tu_spawn(): the children die with this process */
    tu_g.job = CreateJobObjectA(NULL, NULL);
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION li;
    memset(&li, 0, sizeof li);
    li.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
    if (!tu_g.job ||
        !SetInformationJobObject(tu_g.job, JobObjectExtendedLimitInformation, &li, sizeof li)) {
      fprintf(stderr, "%s: job object: error %lu\n", tu_g.name, (unsigned long)GetLastError());
      goto fail;
    }
  }
  /* Pipes made uninheritable; only the child's ends, for this start, are
   * made inheritable (children are started from one thread), so no other
   * child holds an end that would keep a pipe open. */
  if (flags & TUCPP_STDIN) {
    if (!CreatePipe(&in_r, &p->in_w, NULL, 0)) goto fail;
    SetHandleInformation(in_r, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT);
  } else {
    SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, TRUE};
    in_r = CreateFileA("NUL", GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE, &sa, OPEN_EXISTING,
                       0, NULL);
    if (in_r == INVALID_HANDLE_VALUE) in_r = NULL;
  }
  if (flags & TUCPP_STDOUT) {
    if (!CreatePipe(&p->out_r, &out_w, NULL, 0)) goto fail;
    SetHandleInformation(out_w, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT);
  } else {
    out_w = tucpp_inheritable(GetStdHandle(STD_OUTPUT_HANDLE));
  }
  err_w = tucpp_inheritable(GetStdHandle(STD_ERROR_HANDLE));
  STARTUPINFOA si;
  memset(&si, 0, sizeof si);
  si.cb = sizeof si;
  si.dwFlags = STARTF_USESTDHANDLES;
  si.hStdInput = in_r;
  si.hStdOutput = out_w;
  si.hStdError = err_w;
  PROCESS_INFORMATION pi;
  BOOL started = tu_create_process(argv[0], cmd, CREATE_SUSPENDED, &si, &pi);
  DWORD err = GetLastError();
  if (in_r) CloseHandle(in_r);
  if (out_w) CloseHandle(out_w);
  if (err_w) CloseHandle(err_w);
  in_r = out_w = err_w = NULL;
  if (!started) {
    fprintf(stderr, "%s: CreateProcess(%s): error %lu\n", tu_g.name, cmd, (unsigned long)err);
    goto fail;
  }
  if (!AssignProcessToJobObject(tu_g.job, pi.hProcess)) {
    fprintf(stderr, "%s: AssignProcessToJobObject: error %lu\n", tu_g.name,
            (unsigned long)GetLastError());
    TerminateProcess(pi.hProcess, 1);
    CloseHandle(pi.hThread);
    CloseHandle(pi.hProcess);
    goto fail;
  }
  ResumeThread(pi.hThread);
  CloseHandle(pi.hThread);
  p->h = pi.hProcess;
  p->pid = pi.dwProcessId;
  return p;
fail:
  if (in_r) CloseHandle(in_r);
  if (out_w) CloseHandle(out_w);
  if (p->in_w) CloseHandle(p->in_w);
  if (p->out_r) CloseHandle(p->out_r);
  tucpp_track(NULL, p);
  free(p);
  return NULL;
}

static long tucpp_read(tucpp_proc *p, char *b, size_t n) {
  DWORD got = 0;
  if (!p->out_r || !ReadFile(p->out_r, b, (DWORD)n, &got, NULL)) return 0; /* broken pipe: EOF */
  return (long)got;
}

int tucpp_proc_write(tucpp_proc *p, const char *s) {
  DWORD n = (DWORD)strlen(s), done = 0;
  return p->in_w && WriteFile(p->in_w, s, n, &done, NULL) && done == n ? 0 : -1;
}

void tucpp_proc_close_stdin(tucpp_proc *p) {
  if (p->in_w) CloseHandle(p->in_w);
  p->in_w = NULL;
}

void tucpp_proc_kill(tucpp_proc *p) { TerminateProcess(p->h, TU_KILL_CODE); }

int tucpp_proc_wait(tucpp_proc *p) {
  tucpp_proc_close_stdin(p);
  WaitForSingleObject(p->h, INFINITE);
  DWORD code = 1;
  GetExitCodeProcess(p->h, &code);
  CloseHandle(p->h);
  if (p->out_r) CloseHandle(p->out_r);
  int end = tu_end_of_code((tu_pid)p->pid, code);
  tucpp_track(NULL, p);
  free(p);
  return end == TU_KILLED ? TUCPP_KILLED : end;
}

#else /* Linux */

tucpp_proc *tucpp_proc_start(const char *name, const char *const *argv, unsigned flags) {
  tucpp_proc *p = tucpp_proc_new(name);
  if (!p) return NULL;
  p->in_w = p->out_r = -1;
  int in[2] = {-1, -1}, out[2] = {-1, -1};
  /* close-on-exec: no other child keeps these pipes open */
  if ((flags & TUCPP_STDIN) && pipe2(in, O_CLOEXEC)) goto fail;
  if ((flags & TUCPP_STDOUT) && pipe2(out, O_CLOEXEC)) goto fail;
  if (!(flags & TUCPP_STDIN) && (in[0] = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) goto fail;
  fflush(NULL);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) goto fail;
  if (pid == 0) {
    /* dies with the thread that started it, and so with the test (the
     * watchdog's pipe, inherited, keeps the region directory until then) */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    if (dup2(in[0], 0) < 0) _exit(127);
    if (out[1] >= 0 && dup2(out[1], 1) < 0) _exit(127);
    execv(argv[0], (char *const *)argv);
    fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  close(in[0]);
  if (out[1] >= 0) close(out[1]);
  p->pid = pid;
  p->in_w = in[1];
  p->out_r = out[0];
  return p;
fail:
  fprintf(stderr, "%s: cannot start %s: %s\n", tu_g.name, name, strerror(errno));
  for (int k = 0; k < 2; k++) {
    if (in[k] >= 0) close(in[k]);
    if (out[k] >= 0) close(out[k]);
  }
  tucpp_track(NULL, p);
  free(p);
  return NULL;
}

static long tucpp_read(tucpp_proc *p, char *b, size_t n) {
  ssize_t r;
  while ((r = read(p->out_r, b, n)) < 0 && errno == EINTR) {}
  return r < 0 ? 0 : (long)r;
}

int tucpp_proc_write(tucpp_proc *p, const char *s) {
  size_t n = strlen(s);
  while (n) {
    ssize_t w = write(p->in_w, s, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    s += w, n -= (size_t)w;
  }
  return 0;
}

void tucpp_proc_close_stdin(tucpp_proc *p) {
  if (p->in_w >= 0) close(p->in_w);
  p->in_w = -1;
}

void tucpp_proc_kill(tucpp_proc *p) { kill(p->pid, SIGKILL); }

int tucpp_proc_wait(tucpp_proc *p) {
  tucpp_proc_close_stdin(p);
  int st = 0;
  pid_t r;
  while ((r = waitpid(p->pid, &st, 0)) < 0 && errno == EINTR) {}
  if (p->out_r >= 0) close(p->out_r);
  int end = r == p->pid ? tu_end_of_status(st) : TU_CRASHED;
  tucpp_track(NULL, p);
  free(p);
  return end == -SIGKILL ? TUCPP_KILLED : end;
}
#endif

int tucpp_proc_read_line(tucpp_proc *p, char *line, size_t cap) {
  for (;;) {
    char *nl = memchr(p->buf, '\n', p->blen);
    if (nl || p->eof || p->blen == sizeof p->buf) {
      if (!p->blen) return 0;
      size_t n = nl ? (size_t)(nl - p->buf) : p->blen, used = nl ? n + 1 : n;
      if (n && p->buf[n - 1] == '\r') n--; /* a Windows line end */
      size_t c = n < cap - 1 ? n : cap - 1;
      memcpy(line, p->buf, c);
      line[c] = 0;
      memmove(p->buf, p->buf + used, p->blen - used);
      p->blen -= used;
      return 1;
    }
    long r = tucpp_read(p, p->buf + p->blen, sizeof p->buf - p->blen);
    if (r <= 0) p->eof = 1;
    else p->blen += (size_t)r;
  }
}
