// SPDX-License-Identifier: Apache-2.0 OR MIT
// The C++ host of the FlatBuffers example (examples/flatbuffers/README.md).
//
//   rill_fbhost --guest PATH [--calls N] [--inflight W]
//
// It starts the Go guest PATH, which waits for its region to appear, makes
// that private region holding the service "calc" (one lane whose messages
// fit one fragment), waits until the guest serves (rpc_client::wait_server:
// no output of the guest is parsed for it), and makes N Compute calls
// with W in flight, through rill.hpp (the C++ API).  Each request is a
// calc.Request that a FlatBufferBuilder builds directly in the space reserved in the request
// ring (rpc_client::reserve); FlatBuffers builds backwards, so the finished
// buffer lies at the tail of that space and is sent from there
// (rpc_client::commit).  The guest reads it in place and builds its
// calc.Response in the response ring; the host verifies it and reads it in
// place (rpc_client::poll).  No payload is copied on either side.  The request
// id is the descriptor's sig, not part of the message.
//
// Every answer is checked (id, result, count, label); the exit status is 0
// only if all N were right and the guest built every answer in place.
//
// The same source builds for Windows (mingw-w64; run under Wine by the
// Windows build's tests): only the guest process is handled differently
// (the Guest functions below), and there the guest is stopped by closing
// its standard input (-eof) rather than by SIGTERM.
#include <rill.hpp>

#include <flatbuffers/flatbuffers.h>

#include "calc_generated.h"

#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#define WIN32_LEAN_AND_MEAN
#include <fcntl.h>
#include <io.h>
#include <windows.h>
#else
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

namespace {

constexpr uint16_t kCompute = 1;
constexpr size_t kMsg = 1024;      // mtu and largest message of the service

using namespace std::chrono_literals;

// Hands a FlatBufferBuilder the space reserved in the ring, once per
// reservation.  Should a request outgrow it, the builder gets heap memory
// instead and the host sees that the buffer is no longer in the ring.
class RingSpace : public flatbuffers::Allocator {
 public:
  void give(uint8_t *p, size_t n) { next_ = p, next_n_ = n; }
  bool holds(const uint8_t *p) const { return cur_ && p >= cur_ && p < cur_ + cur_n_; }
  uint8_t *allocate(size_t n) override {
    if (next_ && n <= next_n_) {
      cur_ = next_, cur_n_ = next_n_, next_ = nullptr;
      return cur_;
    }
    return new uint8_t[n];
  }
  void deallocate(uint8_t *p, size_t) override {
    if (p == cur_) cur_ = nullptr;  // the ring's: not ours to free
    else delete[] p;
  }

 private:
  uint8_t *next_ = nullptr, *cur_ = nullptr;
  size_t next_n_ = 0, cur_n_ = 0;
};

// What call i asks, and what its answer must be.
struct Expect {
  uint64_t id;
  double result;
  uint32_t count;
  std::string label;
};

Expect make_call(uint64_t i, std::vector<double> &vals, calc::Op &op) {
  Expect e{};
  vals.clear();
  uint32_t n = (uint32_t)(i % 17);
  for (uint32_t k = 0; k < n; k++) vals.push_back((double)((i * 31 + k * 7) % 1000) / 4);
  op = (calc::Op)(i % 3);
  double r = op == calc::Op_Max ? -INFINITY : 0;
  for (double v : vals) r = op == calc::Op_Max ? std::fmax(r, v) : r + v;
  if (op == calc::Op_Mean && n) r /= n;
  e.result = r;
  e.count = n;
  e.label = "call-" + std::to_string(i);
  return e;
}

struct State {
  std::vector<Expect> want;  // by id, modulo its size
  uint64_t done = 0, bad = 0;
};

void on_done(State *st, const rill::rpc_reply &res) {
  const Expect &e = st->want[res.id % st->want.size()];
  st->done++;
  if (res.status || res.id != e.id) {
    fprintf(stderr, "call %llu: status %d\n", (unsigned long long)res.id, res.status);
    st->bad++;
    return;
  }
  // The guest is another program: verify before reading in place.
  const uint8_t *data = reinterpret_cast<const uint8_t *>(res.data.data());
  flatbuffers::Verifier v(data, res.data.size());
  if (!v.VerifyBuffer<calc::Response>(nullptr)) {
    fprintf(stderr, "call %llu: the response does not verify\n", (unsigned long long)res.id);
    st->bad++;
    return;
  }
  const calc::Response *r = flatbuffers::GetRoot<calc::Response>(data);
  bool same = r->count() == e.count && r->label() && r->label()->str() == e.label &&
              (r->result() == e.result || (std::isinf(e.result) && std::isinf(r->result())));
  if (!same) {
    fprintf(stderr, "call %llu: wrong answer %g/%u (want %g/%u)\n", (unsigned long long)res.id,
            r->result(), r->count(), e.result, e.count);
    st->bad++;
  }
}

uint64_t now_ns() {
  return (uint64_t)std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int fail(const char *what, std::error_code ec) {
  fprintf(stderr, "rill_fbhost: %s: %s\n", what, ec.message().c_str());
  return 1;
}

// The guest process: started with its stdout on a pipe (OUT), where it says
// at the end how many answers it built in place; it waits for the region
// and the service to appear.
#ifdef _WIN32
struct Guest {
  HANDLE proc = nullptr, in = nullptr;  // its process, the write end of its stdin
  FILE *out = nullptr;
};

// Windows has no SIGTERM for a console program: the guest runs with -eof
// and stops when its standard input (a pipe held here) is closed.
bool start_guest(const char *path, const char *dir, Guest *g) {
  SECURITY_ATTRIBUTES sa{sizeof sa, nullptr, TRUE};
  HANDLE out_r, out_w, in_r, in_w;
  if (!CreatePipe(&out_r, &out_w, &sa, 0)) return false;
  if (!CreatePipe(&in_r, &in_w, &sa, 0)) {
    CloseHandle(out_r), CloseHandle(out_w);
    return false;
  }
  SetHandleInformation(out_r, HANDLE_FLAG_INHERIT, 0);  // ours alone
  SetHandleInformation(in_w, HANDLE_FLAG_INHERIT, 0);
  STARTUPINFOA si{};
  si.cb = sizeof si;
  si.dwFlags = STARTF_USESTDHANDLES;
  si.hStdInput = in_r, si.hStdOutput = out_w, si.hStdError = GetStdHandle(STD_ERROR_HANDLE);
  std::string cmd = std::string("\"") + path + "\" -w 1 -eof -dir \"" + dir +
                    "\" -region fbdemo -service calc";
  std::vector<char> line(cmd.begin(), cmd.end());
  line.push_back('\0');
  PROCESS_INFORMATION pi{};
  bool ok = CreateProcessA(path, line.data(), nullptr, nullptr, TRUE, 0, nullptr, nullptr, &si, &pi);
  CloseHandle(out_w), CloseHandle(in_r);  // the guest's ends
  int fd = ok ? _open_osfhandle((intptr_t)out_r, _O_RDONLY) : -1;
  g->out = fd >= 0 ? _fdopen(fd, "r") : nullptr;
  if (!g->out) {
    if (fd >= 0) _close(fd);
    else CloseHandle(out_r);
    CloseHandle(in_w);
    if (ok) TerminateProcess(pi.hProcess, 1), CloseHandle(pi.hProcess), CloseHandle(pi.hThread);
    return false;
  }
  CloseHandle(pi.hThread);
  g->proc = pi.hProcess, g->in = in_w;
  return true;
}

bool guest_exited(const Guest &g) { return WaitForSingleObject(g.proc, 0) == WAIT_OBJECT_0; }

void guest_stop(Guest *g) {
  CloseHandle(g->in);  // end of file on its stdin
  g->in = nullptr;
}

// Waits for its end (at most 30 s): its exit status, or -1.
int guest_wait(Guest *g) {
  DWORD code = 1;
  if (WaitForSingleObject(g->proc, 30000) != WAIT_OBJECT_0) {
    TerminateProcess(g->proc, 1);
    WaitForSingleObject(g->proc, INFINITE);
    code = (DWORD)-1;
  } else {
    GetExitCodeProcess(g->proc, &code);
  }
  CloseHandle(g->proc);
  g->proc = nullptr;
  return (int)code;
}

// A private directory for the region: under RILL_DIR, else the temporary
// directory.
bool make_private_dir(std::vector<char> *dir) {
  const char *base = getenv("RILL_DIR");
  char tmp[MAX_PATH + 1];
  std::string b;
  if (base && *base) b = base;
  else if (DWORD n = GetTempPathA(sizeof tmp, tmp); n > 0 && n < sizeof tmp) b.assign(tmp, n);
  else return false;
  if (!b.empty() && (b.back() == '\\' || b.back() == '/')) b.pop_back();
  for (unsigned i = 0; i < 100; i++) {
    std::string d = b + "\\rill-fbdemo-" + std::to_string(GetCurrentProcessId()) + "-" +
                    std::to_string(i);
    if (CreateDirectoryA(d.c_str(), nullptr)) {
      dir->assign(d.begin(), d.end());
      dir->push_back('\0');
      return true;
    }
  }
  return false;
}

void remove_private_dir(const char *dir) { RemoveDirectoryA(dir); }
#else
struct Guest {
  pid_t pid = -1;
  FILE *out = nullptr;
};

bool start_guest(const char *path, const char *dir, Guest *g) {
  int fds[2];
  if (pipe(fds)) return false;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    execl(path, path, "-w", "1", "-dir", dir, "-region", "fbdemo", "-service", "calc",
          (char *)nullptr);
    perror(path);
    _exit(127);
  }
  close(fds[1]);
  FILE *f = pid > 0 ? fdopen(fds[0], "r") : nullptr;
  if (!f) close(fds[0]);
  if (pid > 0 && !f) {
    kill(pid, SIGTERM);
    waitpid(pid, nullptr, 0);
    pid = -1;
  }
  g->out = f;
  g->pid = pid;
  return pid > 0;
}

// Exited?  (Left unreaped: guest_wait() reaps it.)
bool guest_exited(const Guest &g) {
  siginfo_t si{};
  return waitid(P_PID, (id_t)g.pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == g.pid;
}

void guest_stop(Guest *g) { kill(g->pid, SIGTERM); }

// Its exit status, or -1 if it did not exit normally.
int guest_wait(Guest *g) {
  int ws = 0;
  waitpid(g->pid, &ws, 0);
  g->pid = -1;
  return WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
}

bool make_private_dir(std::vector<char> *dir) {
  const char *base = getenv("RILL_DIR");
  std::string tmpl = std::string(base && *base ? base : "/dev/shm") + "/rill-fbdemo-XXXXXX";
  dir->assign(tmpl.begin(), tmpl.end());
  dir->push_back('\0');
  return mkdtemp(dir->data()) != nullptr;
}

void remove_private_dir(const char *dir) { rmdir(dir); }
#endif

// Waits until the guest serves the client's lane, at most 30 s: 0, or 1
// (said why) if it did not or exited first.
int await_guest(rill::rpc_client &c, const Guest &g) {
  for (int i = 0; i < 300; i++) {
    // Asleep until the guest's worker joins the lane; the slices only look
    // after the guest process (one that died joins nothing).
    auto rc = c.wait_server(100ms);
    if (rc) return 0;
    if (rc.error() != rill::errc::timed_out) return fail("wait for the guest", rc.error());
    if (guest_exited(g)) {
      fprintf(stderr, "rill_fbhost: the guest exited before serving\n");
      return 1;
    }
  }
  fprintf(stderr, "rill_fbhost: the guest did not serve within 30 s\n");
  return 1;
}

// Stops the guest; 0 if it ended well and built every answer in place.
int stop_guest(Guest *g) {
  guest_stop(g);
  char line[256] = "";
  unsigned long long built = 0, copied = 1;
  while (fgets(line, sizeof line, g->out))
    if (sscanf(line, "fbguest: %llu answers built in place, %llu copied", &built, &copied) == 2)
      printf("%s", line);
  fclose(g->out);
  g->out = nullptr;
  int st = guest_wait(g);
  if (st || copied) {
    fprintf(stderr, "rill_fbhost: the guest ended badly (status %d) or copied %llu answers\n",
            st, copied);
    return 1;
  }
  return 0;
}

int run(rill::rpc_client &c, uint64_t calls, uint32_t inflight) {
  State st;
  st.want.resize(inflight);
  RingSpace ring;
  flatbuffers::FlatBufferBuilder fbb(kMsg, &ring, false);
  std::vector<double> vals;
  uint64_t sent = 0, in_place = 0, t0 = now_ns(), deadline = t0 + 60000000000ull;
  while (st.done < calls) {
    if (now_ns() > deadline) {
      fprintf(stderr, "rill_fbhost: only %llu of %llu answers in 60 s\n",
              (unsigned long long)st.done, (unsigned long long)calls);
      return 1;
    }
    while (sent < calls && sent - st.done < inflight) {
      auto space = c.reserve(kMsg);
      if (space.error() == rill::errc::again) break;
      if (!space) return fail("reserve", space.error());
      calc::Op op;
      Expect e = make_call(sent, vals, op);
      fbb.Reset();  // gives back the last space, takes the new one
      ring.give(reinterpret_cast<uint8_t *>(space->data()), space->size());
      auto label = fbb.CreateString(e.label);
      auto values = fbb.CreateVector(vals);
      auto req = calc::CreateRequest(fbb, op, values, label);
      // Pad so that the finished buffer is whole 64-byte chunks: it then
      // starts on a chunk boundary of the reserved space.
      fbb.PreAlign(sizeof(flatbuffers::uoffset_t), 64);
      fbb.Finish(req);
      const uint8_t *at = fbb.GetBufferPointer();
      if (!ring.holds(at)) {
        fprintf(stderr, "rill_fbhost: request %llu outgrew the ring's space\n",
                (unsigned long long)sent);
        return 1;
      }
      in_place++;
      auto id = c.commit(kCompute, rill::const_bytes(static_cast<const void *>(at), fbb.GetSize()));
      if (!id) return fail("commit", id.error());
      e.id = *id;
      st.want[e.id % inflight] = e;
      sent++;
    }
    // Completions, read in place: no buffer, as every answer fits the mtu.
    auto rc = c.poll([&st](const rill::rpc_reply &res) { on_done(&st, res); }, inflight);
    if (!rc) return fail("poll", rc.error());
  }
  double s = (double)(now_ns() - t0) / 1e9;
  // A malformed request gets an error answer; the guest goes on.
  uint8_t junk[64], resp[kMsg];
  memset(junk, 0xee, sizeof junk);
  auto res = c.call(kCompute, junk, resp, 5s);
  if (!res || res->status_code() != rill::errc::inval) {
    fprintf(stderr, "rill_fbhost: a malformed request got %s, status %d\n",
            res.error().message().c_str(), res ? res->status : 0);
    return 1;
  }
  // A method the guest does not serve has its own answer.
  res = c.call(kCompute + 1, junk, resp, 5s);
  if (!res || res->status_code() != rill::errc::no_method) {
    fprintf(stderr, "rill_fbhost: an unknown method got %s, status %d (%s)\n",
            res.error().message().c_str(), res ? res->status : 0,
            res ? res->status_code().message().c_str() : "");
    return 1;
  }
  printf("rill_fbhost: %llu calls, %u in flight, %llu wrong, in %.3f s (%.0f calls/s); "
         "%llu requests built in the ring, every answer read in place\n",
         (unsigned long long)calls, inflight, (unsigned long long)st.bad, s, (double)calls / s,
         (unsigned long long)in_place);
  return st.bad ? 1 : 0;
}

}  // namespace

int main(int argc, char **argv) {
  const char *guest_path = nullptr;
  uint64_t calls = 100000;
  uint32_t inflight = 16;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--guest")) guest_path = argv[i + 1];
    else if (!strcmp(argv[i], "--calls")) calls = strtoull(argv[i + 1], nullptr, 10);
    else if (!strcmp(argv[i], "--inflight")) inflight = (uint32_t)strtoul(argv[i + 1], nullptr, 10);
    else guest_path = nullptr, i = argc;
  }
  if (!guest_path || argc % 2 == 0 || !calls || !inflight || inflight > 256) {
    fprintf(stderr, "usage: rill_fbhost --guest PATH [--calls N] [--inflight 1..256]\n");
    return 2;
  }
  std::vector<char> dir;
  if (!make_private_dir(&dir)) {
    perror("rill_fbhost: cannot make a private directory");
    return 1;
  }
  rill::region_options ro{};
  ro.size = 16 << 20;
  ro.dir = dir.data();
  rill::rpc_options so{};
  so.lanes = 1, so.depth = 256, so.mtu = kMsg, so.max_msg = kMsg;
  Guest guest;
  int status = 1;
  // The guest first: it waits for the region and the service.
  bool started = start_guest(guest_path, dir.data(), &guest);
  if (!started) {
    fprintf(stderr, "rill_fbhost: the guest %s did not start\n", guest_path);
  } else if (auto r = rill::region::create("fbdemo", ro); !r) {
    status = fail("create region", r.error());
  } else if (auto sv = r->create_service("calc", so); !sv) {
    status = fail("create service", sv.error());
  } else if (auto c = rill::rpc_client::connect(*r, "calc"); !c) {
    status = fail("connect", c.error());
  } else {
    if (!await_guest(*c, guest)) status = run(*c, calls, inflight);
    (void)c->close();  // before the guest stops
  }  // the region is closed here
  if (started && stop_guest(&guest)) status = 1;
  (void)rill::region::unlink("fbdemo", dir.data());
  remove_private_dir(dir.data());
  return status;
}
