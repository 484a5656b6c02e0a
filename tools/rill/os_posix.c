/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* The command line's OS calls on Linux (and POSIX systems with /proc):
 * see os.h. */
#ifndef _WIN32
#include "os.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

void os_init(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
}

const char *os_default_dir(void) { return "/dev/shm"; }

const char *os_getenv(const char *name) { return getenv(name); }

/* ---- time ------------------------------------------------------------------ */

static uint64_t clock_ns(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t os_mono_ns(void) { return clock_ns(CLOCK_MONOTONIC); }
uint64_t os_real_ns(void) { return clock_ns(CLOCK_REALTIME); }

void os_sleep_ms(unsigned ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

int os_gmtime(time_t t, struct tm *tm) { return gmtime_r(&t, tm) ? 0 : -1; }
int os_localtime(time_t t, struct tm *tm) { return localtime_r(&t, tm) ? 0 : -1; }

/* ---- users and processes --------------------------------------------------- */

const char *os_user_name(uint32_t uid, char *buf, size_t cap) {
  struct passwd *pw = getpwuid(uid);
  if (pw) snprintf(buf, cap, "%s", pw->pw_name);
  else snprintf(buf, cap, "%u", uid);
  return buf;
}

/* Who holds a region.  Its users hold OFD locks, whose owner is an open
 * file description, not a process: /proc/locks names the process that
 * took a lock, which may have died since while a child it forked still
 * holds the description, and F_OFD_GETLK reports l_pid -1.  A description
 * lives while a file descriptor or a mapping refers to it, so the
 * processes holding a lock are among those that have the file open or
 * mapped, which /proc/PID/fd and /proc/PID/maps show: those are named.
 * What /proc does not show (processes of another user, to all but root;
 * of another PID namespace) is counted as unknown, not guessed. */

#define HOLDERS_MAX 8

typedef struct holders {
  dev_t dev;
  ino_t ino;
  pid_t pid[HOLDERS_MAX];
  int n, more, hidden;
} holders;

/* 1 if process PID has the file open, 0 if not, -1 if we may not look. */
static int has_fd(int pid, const holders *h) {
  char p[64];
  snprintf(p, sizeof p, "/proc/%d/fd", pid);
  DIR *d = opendir(p);
  if (!d) return errno == EACCES || errno == EPERM ? -1 : 0; /* else gone meanwhile */
  int found = 0;
  struct dirent *e;
  while (!found && (e = readdir(d)) != NULL) {
    if (!isdigit((unsigned char)e->d_name[0])) continue;
    char fp[96];
    struct stat st;
    snprintf(fp, sizeof fp, "%s/%.20s", p, e->d_name);
    found = stat(fp, &st) == 0 && st.st_dev == h->dev && st.st_ino == h->ino;
  }
  closedir(d);
  return found;
}

/* 1 if process PID has the file mapped, 0 if not, -1 if we may not look. */
static int has_map(int pid, const holders *h) {
  char p[64], line[512];
  snprintf(p, sizeof p, "/proc/%d/maps", pid);
  FILE *f = fopen(p, "r");
  if (!f) return errno == EACCES || errno == EPERM ? -1 : 0;
  int found = 0;
  while (!found && fgets(line, sizeof line, f)) {
    unsigned maj, min;
    unsigned long long ino;
    /* address perms offset major:minor inode [path] */
    if (sscanf(line, "%*s %*s %*s %x:%x %llu", &maj, &min, &ino) == 3)
      found = maj == major(h->dev) && min == minor(h->dev) && ino == (unsigned long long)h->ino;
    if (!strchr(line, '\n')) { /* a long path: skip the rest of the line */
      int c;
      while ((c = fgetc(f)) != EOF && c != '\n') {}
    }
  }
  fclose(f);
  return found;
}

/* Fills H with the processes (other than this one) that have PATH open or
 * mapped.  0, or -1 if the file or /proc cannot be read. */
static int file_holders(const char *path, holders *h) {
  struct stat st;
  memset(h, 0, sizeof *h);
  if (lstat(path, &st) != 0) return -1;
  h->dev = st.st_dev;
  h->ino = st.st_ino;
  DIR *d = opendir("/proc");
  if (!d) return -1;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    int pid = atoi(e->d_name);
    if (!isdigit((unsigned char)e->d_name[0]) || pid <= 0 || pid == (int)getpid()) continue;
    /* A process whose maps we may not read but whose fds we may (pid 1
     * in some containers) is not counted as unknown: rill's handles keep
     * their descriptor open as long as their mapping. */
    int fd = has_fd(pid, h), map = fd == 1 ? 1 : has_map(pid, h);
    if (fd == 1 || map == 1) {
      if (h->n < HOLDERS_MAX) h->pid[h->n++] = (pid_t)pid;
      else h->more++;
    } else if (fd < 0) {
      h->hidden++;
    }
  }
  closedir(d);
  return 0;
}

/* "pid 12 (prog), pid 34 (prog) and 2 more" into BUF. */
static void holders_text(const holders *h, char *buf, size_t cap) {
  size_t len = 0;
  buf[0] = 0;
  for (int i = 0; i < h->n && len < cap; i++) {
    char p[64], comm[32] = "";
    snprintf(p, sizeof p, "/proc/%d/comm", (int)h->pid[i]);
    FILE *f = fopen(p, "r");
    if (f) {
      if (!fgets(comm, sizeof comm, f)) comm[0] = 0;
      fclose(f);
      comm[strcspn(comm, "\n")] = 0;
    }
    len += (size_t)snprintf(buf + len, cap - len, "%s%s %d%s%s%s", i ? ", " : "",
                            i ? "" : h->n + h->more > 1 ? "pids" : "pid", (int)h->pid[i],
                            comm[0] ? " (" : "", comm, comm[0] ? ")" : "");
  }
  if (h->more && len < cap) snprintf(buf + len, cap - len, " and %d more", h->more);
}

void os_file_users(const char *path, char *buf, size_t cap) {
  holders h;
  if (file_holders(path, &h) == 0 && h.n) {
    holders_text(&h, buf, cap);
    size_t len = strlen(buf);
    if (h.hidden && len < cap)
      snprintf(buf + len, cap - len,
               ", and maybe by processes whose /proc entries this user cannot read");
    return;
  }
  snprintf(buf, cap, "a live process that cannot be named: its /proc entries are not this "
                     "user's to read, or it is in another PID namespace");
}

/* Who holds which lock.  OFD locks have no owning process: F_OFD_GETLK
 * and F_GETLK report l_pid -1 for them, and so does /proc/locks on recent
 * kernels (older ones showed the pid that took the lock, translated into
 * the reader's PID namespace, 0 if not seen there).  /proc/PID/fdinfo/FD lists
 * the locks of the open file description behind FD, so a process's fds
 * say which locks it holds; the NSpid line of /proc/PID/status gives its
 * pid in each PID namespace from this /proc's down to its own, the last
 * one being what it records with getpid().  That /proc must be this PID
 * namespace's: /proc/self is then our pid. */

/* The pid of process PID in its own PID namespace: the last field of
 * NSpid (no line, a kernel before 4.1: PID). */
static uint32_t own_pid(int pid) {
  char p[64], line[256];
  snprintf(p, sizeof p, "/proc/%d/status", pid);
  FILE *f = fopen(p, "r");
  uint32_t own = (uint32_t)pid;
  if (!f) return own;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "NSpid:", 6)) continue;
    for (char *t = strtok(line + 6, " \t\n"); t; t = strtok(NULL, " \t\n"))
      own = (uint32_t)strtoul(t, NULL, 10);
    break;
  }
  fclose(f);
  return own;
}

/* Adds the locks that fd FD of process PID holds on the file (DEV, INO)
 * to OUT (CAP entries, *N found so far); -1 if we may not look. */
static int fd_locks(int pid, const char *fd, dev_t dev, ino_t ino, os_lock_holder *out, int cap,
                    int *n) {
  char p[96], line[256];
  struct stat st;
  snprintf(p, sizeof p, "/proc/%d/fd/%.20s", pid, fd);
  if (stat(p, &st) != 0 || st.st_dev != dev || st.st_ino != ino) return 0;
  snprintf(p, sizeof p, "/proc/%d/fdinfo/%.20s", pid, fd);
  FILE *f = fopen(p, "r");
  if (!f) return errno == EACCES || errno == EPERM ? -1 : 0; /* else gone meanwhile */
  uint32_t own = 0;
  while (fgets(line, sizeof line, f)) {
    /* "lock:\t1: OFDLCK ADVISORY  WRITE -1 00:1b:239590 4096 4096"; a
     * request waiting for a lock has "->" after the number */
    unsigned long long start;
    if (strncmp(line, "lock:", 5) || strstr(line, "->") ||
        sscanf(line, "lock: %*d: %*s %*s %*s %*s %*s %llu", &start) != 1)
      continue;
    if (!own) own = own_pid(pid);
    if (*n < cap) out[*n] = (os_lock_holder){start, (uint32_t)pid, own};
    (*n)++;
  }
  fclose(f);
  return 0;
}

int os_lock_holders(const char *path, os_lock_holder *out, int cap, int *hidden) {
  char self[32];
  struct stat st;
  ssize_t len = readlink("/proc/self", self, sizeof self - 1);
  *hidden = 0;
  if (len <= 0) return -1;
  self[len] = 0;
  if (strtol(self, NULL, 10) != (long)getpid() || stat(path, &st) != 0) return -1;
  DIR *d = opendir("/proc");
  if (!d) return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    int pid = atoi(e->d_name);
    if (!isdigit((unsigned char)e->d_name[0]) || pid <= 0 || pid == (int)getpid()) continue;
    char p[64];
    snprintf(p, sizeof p, "/proc/%d/fd", pid);
    DIR *fds = opendir(p);
    if (!fds) {
      if (errno == EACCES || errno == EPERM) (*hidden)++;
      continue;
    }
    struct dirent *fe;
    int denied = 0;
    while ((fe = readdir(fds)) != NULL)
      if (isdigit((unsigned char)fe->d_name[0]) &&
          fd_locks(pid, fe->d_name, st.st_dev, st.st_ino, out, cap, &n) < 0)
        denied = 1;
    closedir(fds);
    *hidden += denied;
  }
  closedir(d);
  return n;
}

int os_exec_beside(const char *name, char **argv) {
  char self[PATH_MAX], path[PATH_MAX + 64];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  const char *prog = name;
  if (n > 0) {
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (slash) {
      *slash = 0;
      snprintf(path, sizeof path, "%s/%s", self, name);
      if (access(path, X_OK) == 0) prog = path;
    }
  }
  argv[0] = (char *)name;
  fflush(stdout);
  if (prog == path) execv(prog, argv);
  else execvp(prog, argv);
  return -1;
}

/* ---- interruptions ---------------------------------------------------------- */

static volatile sig_atomic_t stop_sig, resized;

static void on_stop(int sig) { stop_sig = sig; }
static void on_winch(int sig) { (void)sig; resized = 1; }

void os_catch_stop(void) {
  struct sigaction sa = {0};
  sa.sa_handler = on_stop; /* no SA_RESTART: a wait returns EINTR */
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
}

int os_stopped(void) { return stop_sig != 0; }

void os_ignore_sigpipe(void) { signal(SIGPIPE, SIG_IGN); }

int os_stdin_binary(void) { return 0; }

/* ---- the terminal ----------------------------------------------------------- */

static struct termios tty_saved;
static int tty_raw;

int os_stdout_is_terminal(void) { return isatty(STDOUT_FILENO); }

int os_term_size(int *rows, int *cols) {
  struct winsize ws = {0};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) != 0 || !ws.ws_row || !ws.ws_col) return -1;
  *rows = ws.ws_row;
  *cols = ws.ws_col;
  return 0;
}

int os_screen_enter(int *keys) {
  struct sigaction sa = {0};
  sa.sa_handler = on_winch;
  sigaction(SIGWINCH, &sa, NULL);
  if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &tty_saved) == 0) {
    struct termios t = tty_saved;
    t.c_lflag &= (tcflag_t) ~(ICANON | ECHO);
    t.c_cc[VMIN] = 0;
    t.c_cc[VTIME] = 0;
    if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &t) == 0) tty_raw = 1;
  }
  *keys = tty_raw;
  /* the alternate screen, cursor hidden */
  fputs("\x1b[?1049h\x1b[?25l", stdout);
  fflush(stdout);
  return 0;
}

/* VT (ANSI) sequences: home, erase to the end of the line, erase below. */
void os_screen_line(int row, const char *text, size_t len) {
  fputs(row ? "\r\n" : "\x1b[H", stdout);
  fwrite(text, 1, len, stdout);
  fputs("\x1b[K", stdout);
}

void os_screen_done(int rows) {
  fputs(rows ? "\x1b[J" : "\x1b[H\x1b[J", stdout);
  fflush(stdout);
}

void os_screen_leave(void) {
  /* cursor back, main screen back */
  fputs("\x1b[?25h\x1b[?1049l", stdout);
  fflush(stdout);
  if (tty_raw) tcsetattr(STDIN_FILENO, TCSAFLUSH, &tty_saved);
  tty_raw = 0;
}

int os_resized(void) {
  int r = resized;
  resized = 0;
  return r;
}

int os_key_wait(int ms, int keys) {
  if (stop_sig || resized) return 0;
  struct pollfd pf = {.fd = STDIN_FILENO, .events = POLLIN};
  int n = poll(&pf, keys ? 1 : 0, ms);
  if (n < 0) return errno == EINTR ? 0 : -1;
  if (n > 0 && keys) {
    unsigned char c;
    ssize_t got = read(STDIN_FILENO, &c, 1);
    if (got == 1) return c;
    if (got == 0) return -1; /* stdin closed */
  }
  return 0;
}
#endif
