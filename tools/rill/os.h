/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* The rill command line's few calls to the OS, one file per OS behind this
 * header: os_posix.c (Linux and other POSIX systems) and os_win32.c
 * (Windows 10 and later).  The commands call nothing else of the OS: what
 * the library does not do for them is here.
 *
 * No call here exits or prints; each says what it returns on failure. */
#ifndef RILL_CLI_OS_H
#define RILL_CLI_OS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* What the help texts say differently per OS (the one place that says
 * which OS this is, for string literals): the default directory of
 * regions; what 'rill clean' and 'rill rm' remove, and how rm names who
 * uses a region. */
#ifdef _WIN32
#define OS_DEFAULT_DIR_TEXT "%LOCALAPPDATA%\\rill"
#define OS_CLEAN_FIFOS_TEXT "" /* a consumer's wake-up is an event, not a file */
#define OS_RM_TEXT                                                                 \
  "Removes regions.  A region that a live process has open is refused\n"           \
  "unless --force (Windows does not say which process): its users keep\n"          \
  "using it, but nobody new can reach it.  Channels cannot be removed from\n"       \
  "a region; remove the region.\n"
#else
#define OS_DEFAULT_DIR_TEXT "/dev/shm"
#define OS_CLEAN_FIFOS_TEXT ", with their consumers' FIFOs"
#define OS_RM_TEXT                                                                 \
  "Removes regions (and their consumers' FIFOs).  A region that a live\n"          \
  "process has open is refused unless --force, naming the processes that\n"       \
  "have it open (those this user may see in /proc): they keep using it, but\n"     \
  "nobody new can reach it.  Channels cannot be removed from a region;\n"          \
  "remove the region.\n"
#endif

/* First thing in main().  Windows: the arguments again, in UTF-8 (from
 * the wide command line; the library takes UTF-8 paths), and console
 * output in UTF-8 until exit.  POSIX: nothing. */
void os_init(int *argc, char ***argv);

/* The directory regions are in when neither --dir nor RILL_DIR says:
 * /dev/shm; %LOCALAPPDATA%\rill on Windows (the text above if the
 * variable is not set). */
const char *os_default_dir(void);
/* An environment variable's value in UTF-8, or NULL if unset.  The
 * value may be overwritten by the next call. */
const char *os_getenv(const char *name);

/* ---- time ------------------------------------------------------------------ */

/* The clocks the library stamps shared memory with (heartbeats, creation
 * times): CLOCK_MONOTONIC and CLOCK_REALTIME, in ns. */
uint64_t os_mono_ns(void);
uint64_t os_real_ns(void);
void os_sleep_ms(unsigned ms);
/* T as UTC / local time into *TM: 0, or -1. */
int os_gmtime(time_t t, struct tm *tm);
int os_localtime(time_t t, struct tm *tm);

/* ---- users and processes --------------------------------------------------- */

/* The name of the account UID into BUF (CAP bytes), else UID as a number;
 * returns BUF.  A uid on Windows is the RID of a SID (PROTOCOL.md §5):
 * it is looked up in this user's domain, then among the built-in ones. */
const char *os_user_name(uint32_t uid, char *buf, size_t cap);

/* Who has the file PATH open, for 'rill rm': what follows "in use by"
 * ("pid 12 (feed)", "a live process that cannot be named: ..."), into BUF. */
void os_file_users(const char *path, char *buf, size_t cap);

/* A lock on a file and a process that holds it, as os_lock_holders()
 * finds them. */
typedef struct os_lock_holder {
  uint64_t off;    /* the lock's first byte                                */
  uint32_t pid;    /* the holder's pid in this process's PID namespace     */
  uint32_t ns_pid; /* its pid in its own PID namespace (= pid if the same) */
} os_lock_holder;

/* The locks held on the file PATH by the processes this one can see, into
 * OUT (CAP entries): the pid of a process in its own PID namespace is
 * what rill records in shared memory, and its pid here is what the kernel
 * can say.  Returns the count found (which may exceed CAP), *HIDDEN the
 * processes that could not be looked into; -1 if it cannot be told (no
 * /proc of this PID namespace); or OS_PIDS_GLOBAL where every process
 * sees the same pids (Windows), so the pid recorded is the pid here. */
#define OS_PIDS_GLOBAL (-2)
int os_lock_holders(const char *path, os_lock_holder *out, int cap, int *hidden);

/* Runs program NAME found beside this one, else on PATH, with ARGV
 * (ARGV[0] is NAME's): in place of this process (exec); on Windows, as a
 * child, and exits with its status.  Returns only on failure: -1, errno. */
int os_exec_beside(const char *name, char **argv);

/* Standard input read as bytes, as they are: on Windows, out of the
 * text mode that turns CR LF into LF and stops at Ctrl-Z (POSIX: nothing
 * to do).  0, or -1. */
int os_stdin_binary(void);

/* ---- interruptions ---------------------------------------------------------- */

/* From now on, what would end the process from outside (Ctrl-C, SIGTERM,
 * SIGHUP; on Windows Ctrl-C, Ctrl-Break, closing the console) only sets a
 * flag, which os_stopped() returns, and wakes os_key_wait(). */
void os_catch_stop(void);
int os_stopped(void);
/* Writing to a pipe nobody reads fails (ferror) instead of killing the
 * process (SIGPIPE; nothing to do on Windows). */
void os_ignore_sigpipe(void);

/* ---- the terminal ----------------------------------------------------------- */

/* 1 if standard output is a terminal (a console, on Windows). */
int os_stdout_is_terminal(void);
/* The terminal's size, in rows and columns: 0, or -1 if unknown. */
int os_term_size(int *rows, int *cols);

/* A full screen on the terminal of standard output, as top draws: the
 * terminal's alternate screen (the scrollback stays as it was; on Windows,
 * a console screen buffer of its own), the cursor hidden.  When standard
 * input is a terminal too, keys come one at a time, unechoed, and *KEYS
 * is set to 1 (else 0).  Resizes are watched.  Returns 0, or -1 if there
 * is no screen to draw on (nothing changed then). */
int os_screen_enter(int *keys);
/* Draws row ROW (from 0, the top) of the screen: TEXT, LEN bytes of UTF-8
 * that fit in its width, then blanks to its end. */
void os_screen_line(int row, const char *text, size_t len);
/* Blanks the rows from ROWS (the count drawn) down; the screen shows. */
void os_screen_done(int rows);
/* Back to the screen, cursor and keys as they were. */
void os_screen_leave(void);
/* 1 if the terminal changed size since the last call, else 0. */
int os_resized(void);
/* Waits up to MS ms for a key on standard input (when KEYS; else for the
 * time alone), returning early on os_catch_stop()'s events and resizes.
 * Returns the key (a byte, above 0), 0 if none came (the time passed, or
 * the wait was interrupted), or -1 if standard input is closed. */
int os_key_wait(int ms, int keys);

#endif
