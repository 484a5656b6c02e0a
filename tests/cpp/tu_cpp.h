// SPDX-License-Identifier: Apache-2.0 OR MIT
// The C tests' helpers (tests/testutil.h) for the C++ tests.  testutil.h
// is C11 (stdatomic, compound literals) and holds its state in one static
// per program, so tests/cpp/tu_cpp.c includes it, as C, and exports here
// what the C++ tests use:
//   - tucpp_start()/tucpp_end(): the same private region directory
//     (/dev/shm/rill-NAME-XXXXXX on Linux, RILL_TEST_TMP or %TEMP% on
//     Windows) and the same watchdog as the C tests: it kills a test that
//     runs past its time and removes the directory however the test ends
//     (passed, failed, crashed, killed), once every process it started has
//     ended;
//   - tucpp_proc_*(): peer programs (the C peer rill_xpeer, the Go peer)
//     started as children that die with the test (PR_SET_PDEATHSIG on
//     Linux, a job object on Windows), their stdin and stdout on pipes;
//   - in C++: tucpp::thread (std::thread on Linux; CreateThread on
//     Windows, where mingw-w64's win32 thread model has no std::thread
//     before GCC 13), tucpp::proc (a child killed and reaped when it goes
//     out of scope unwaited), tucpp::wakeup_ready() (a consumer's fd or
//     event).
// Exit codes as in every test: 0 pass, 1 fail, 77 skip.
#ifndef RILL_TU_CPP_H
#define RILL_TU_CPP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// Starts test NAME (tu_start_roles): the watchdog, the region directory.
// Call it first in main(): on Windows the watchdog is this program run
// again with "--tu-watchdog ...", which this call runs and never returns.
void tucpp_start(const char *name, unsigned seconds, int argc, char **argv);
// The test's region directory.
const char *tucpp_dir(void);
// Ends the test: "PASS NAME: MSG" (tu_pass) and 0 if OK, else "FAIL NAME:
// MSG" and 1; kills the children still running; on Linux waits for the
// watchdog to remove the directory.  main() returns what it returns.
int tucpp_end(int ok, const char *msg);
// Skips the whole test (exit 77) with "SKIP NAME: MSG".
void tucpp_skip(const char *msg);
// "  skipped on this system: WHAT: WHY" (tu_skip_part), for a case that
// cannot run here.
void tucpp_skip_part(const char *what, const char *why);
// N divided by RILL_TEST_SCALE (10 by default on Windows), at least MIN.
uint64_t tucpp_scaled(uint64_t n, uint64_t min);
// 1 under ASan or TSan.
int tucpp_sanitized(void);
// 1 if this library's producers join LAZY (docs/PROTOCOL.md §3.7a): on
// Windows always, on Linux with RILL_LAZY_FENCE=1.
int tucpp_lazy_fence(void);
// Sets an environment variable of this process (and of the children it
// starts after).
void tucpp_setenv(const char *name, const char *value);
// Seconds since tucpp_start().
double tucpp_elapsed(void);

// ---- children ----
#define TUCPP_STDIN 1u  /* the child's stdin is a pipe (else the null device) */
#define TUCPP_STDOUT 2u /* the child's stdout is a pipe (else the test's) */
// How a child ended (tucpp_proc_wait): its exit code, TUCPP_KILLED, or
// another negative value (a signal, a crash).
#define TUCPP_KILLED (-9)

typedef struct tucpp_proc tucpp_proc;
// Starts ARGV[0] (a path) with ARGV (NULL-terminated), from the thread
// that will outlive it (on Linux the child dies with the thread that made
// it: start children from main()).  NAME names it in messages.  NULL (and
// a message on stderr) if it could not be started.
tucpp_proc *tucpp_proc_start(const char *name, const char *const *argv, unsigned flags);
// Reads a line of its stdout (TUCPP_STDOUT) without the newline: 1, or 0
// at the end of its output.
int tucpp_proc_read_line(tucpp_proc *p, char *buf, size_t cap);
// Writes S on its stdin (TUCPP_STDIN); 0 or -1.
int tucpp_proc_write(tucpp_proc *p, const char *s);
// Closes its stdin: EOF for the child.
void tucpp_proc_close_stdin(tucpp_proc *p);
// Kills it at once (SIGKILL, TerminateProcess); wait for it after.
void tucpp_proc_kill(tucpp_proc *p);
// Waits for it to end, frees P: how it ended (its exit code, TUCPP_KILLED,
// < 0 for a signal or a crash).
int tucpp_proc_wait(tucpp_proc *p);
// "exited with 3", "killed by signal 11 (...)": how END reads.
void tucpp_end_str(int end, char *out, size_t cap);

#ifdef __cplusplus
}  // extern "C"

#include <rill.hpp>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#ifdef _WIN32
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>

#include <functional>
#else
#include <poll.h>

#include <cerrno>
#include <thread>
#endif

namespace tucpp {

// A thread that runs F; join() it before it goes out of scope.
class thread {
 public:
  template <class F>
  explicit thread(F &&f) {
#ifdef _WIN32
    auto *fn = new std::function<void()>(std::forward<F>(f));
    h_ = CreateThread(nullptr, 0, &run, fn, 0, nullptr);
    if (!h_) {  // run it here rather than not at all
      (*fn)();
      delete fn;
    }
#else
    t_ = std::thread(std::forward<F>(f));
#endif
  }
  thread(const thread &) = delete;
  thread &operator=(const thread &) = delete;
  ~thread() { join(); }
  void join() {
#ifdef _WIN32
    if (h_) {
      WaitForSingleObject(h_, INFINITE);
      CloseHandle(h_);
      h_ = nullptr;
    }
#else
    if (t_.joinable()) t_.join();
#endif
  }

 private:
#ifdef _WIN32
  static DWORD WINAPI run(LPVOID arg) {
    std::unique_ptr<std::function<void()>> fn(static_cast<std::function<void()> *>(arg));
    (*fn)();
    return 0;
  }
  HANDLE h_ = nullptr;
#else
  std::thread t_;
#endif
};

// A child process: killed and reaped if it goes out of scope unwaited.
class proc {
 public:
  proc() = default;
  proc(const char *name, const std::vector<std::string> &args, unsigned flags = 0) {
    std::vector<const char *> av;
    for (const auto &a : args) av.push_back(a.c_str());
    av.push_back(nullptr);
    p_ = tucpp_proc_start(name, av.data(), flags);
  }
  proc(proc &&o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  proc &operator=(proc &&o) noexcept {
    if (this != &o) {
      reset();
      p_ = std::exchange(o.p_, nullptr);
    }
    return *this;
  }
  ~proc() { reset(); }
  explicit operator bool() const { return p_ != nullptr; }
  // A line of its stdout, or false at its end.
  bool read_line(std::string &line) {
    char buf[512];
    if (!p_ || tucpp_proc_read_line(p_, buf, sizeof buf) != 1) return false;
    line = buf;
    return true;
  }
  bool write(const char *s) { return p_ && tucpp_proc_write(p_, s) == 0; }
  void close_stdin() {
    if (p_) tucpp_proc_close_stdin(p_);
  }
  void kill() {
    if (p_) tucpp_proc_kill(p_);
  }
  // How it ended (tucpp_proc_wait); -1000 if it never started.
  int wait() { return p_ ? tucpp_proc_wait(std::exchange(p_, nullptr)) : -1000; }

 private:
  void reset() {
    if (p_) {
      tucpp_proc_kill(p_);
      (void)tucpp_proc_wait(std::exchange(p_, nullptr));
    }
  }
  tucpp_proc *p_ = nullptr;
};

inline std::string end_str(int end) {
  char b[160];
  tucpp_end_str(end, b, sizeof b);
  return b;
}

// Whether C's wake-up object (its fd on Linux, its event on Windows) is, or
// becomes within MS milliseconds, signalled; errors are false.
inline bool wakeup_ready(rill::consumer &c, int ms) {
#ifdef _WIN32
  auto h = c.handle();
  return h.ok() && WaitForSingleObject(static_cast<HANDLE>(*h), static_cast<DWORD>(ms)) == WAIT_OBJECT_0;
#else
  auto fd = c.fd();
  if (!fd) return false;
  struct pollfd pf = {*fd, POLLIN, 0};
  int n;
  while ((n = ::poll(&pf, 1, ms)) < 0 && errno == EINTR) {
  }
  return n == 1 && (pf.revents & POLLIN);
#endif
}

}  // namespace tucpp

#endif  // __cplusplus
#endif
