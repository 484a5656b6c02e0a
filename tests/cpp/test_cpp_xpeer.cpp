// SPDX-License-Identifier: Apache-2.0 OR MIT
// The C++ API against the C peer rill_xpeer (tests/vectors/README.md,
// "Message streams"), in other processes:
//   - rill_xpeer produces the stream; a reliable C++ consumer checks every
//     byte of every message, a lossy one every byte of what it takes;
//   - a C++ producer sends the stream; rill_xpeer consumes it reliably and
//     lossily and checks every byte.
// The peer's path is $RILL_XPEER (set by ctest); without it the test skips.
#include <rill.hpp>

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

constexpr std::uint64_t kCount = 20000, kSeed = 11;
constexpr std::uint32_t kDepth = 256, kMtu = 512, kMaxMsg = 4096;

std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Message I of the stream SEED: its bytes (sig I).
void make(std::uint64_t seed, std::uint64_t i, std::uint64_t mtu, std::uint64_t max_msg,
          std::vector<std::uint8_t> &out) {
  std::uint64_t h = mix(seed * 0x100000001b3ull + i);
  std::uint64_t cls = h & 15, r = h >> 8;
  std::uint64_t size = cls < 12 ? r % 129 : cls < 15 ? r % (mtu + 1) : r % (max_msg + 1);
  out.resize(size);
  for (std::uint64_t j = 0; j < size; j++) out[j] = (std::uint8_t)((h >> (8 * (j & 7))) + (j >> 3));
}

bool same(rill::const_bytes got, const std::vector<std::uint8_t> &want) {
  return got.size() == want.size() && (want.empty() || std::memcmp(got.data(), want.data(), want.size()) == 0);
}

std::string g_xpeer, g_dir;

int run(const std::string &args) {
  std::string cmd = "'" + g_xpeer + "' " + args;
  int st = std::system(cmd.c_str());
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

// xpeer produces on channel "in"; a reliable and a lossy C++ consumer check.
bool consume_from_c(rill::region &r) {
  auto rel = rill::consumer::join(r, "in", rill::mode::reliable);
  auto lossy = rill::consumer::join(r, "in", rill::mode::lossy);
  if (!rel || !lossy) {
    std::fprintf(stderr, "join: %s\n", (rel ? lossy.error() : rel.error()).message().c_str());
    return false;
  }
  int prc = -1;
  std::thread producer([&] {
    prc = run("produce '" + g_dir + "' xp in " + std::to_string(kCount) + " " + std::to_string(kSeed));
  });
  // The lossy consumer on a thread of its own: every message it takes is
  // exactly right, sigs increase, the last one is among them.
  bool lossy_ok = true;
  std::uint64_t lossy_got = 0, lossy_last = 0, lossy_lost = 0;
  std::thread lt([&] {
    std::vector<std::uint8_t> want, buf(kMaxMsg);
    bool first = true;
    for (;;) {
      auto m = lossy->recv_wait(buf, 10s);
      if (!m) {
        if (m.error() != rill::errc::closed) {
          std::fprintf(stderr, "lossy: %s\n", m.error().message().c_str());
          lossy_ok = false;
        }
        break;
      }
      std::uint64_t sig = m->meta.sig;
      make(kSeed, sig, kMtu, kMaxMsg, want);
      if (!same(m->data, want) || (!first && sig <= lossy_last)) {
        std::fprintf(stderr, "lossy: message %llu wrong\n", (unsigned long long)sig);
        lossy_ok = false;
        break;
      }
      first = false;
      lossy_last = sig;
      lossy_lost += m->meta.lost;
      lossy_got++;
    }
  });
  std::vector<std::uint8_t> want, buf(kMaxMsg);
  bool ok = true;
  std::uint64_t i = 0;
  for (;; i++) {
    auto m = rel->recv_wait(buf, 10s);
    if (!m) {
      if (m.error() != rill::errc::closed || i != kCount) {
        std::fprintf(stderr, "reliable: at %llu: %s\n", (unsigned long long)i, m.error().message().c_str());
        ok = false;
      }
      break;
    }
    make(kSeed, i, kMtu, kMaxMsg, want);
    if (m->meta.sig != i || m->meta.lost || !same(m->data, want)) {
      std::fprintf(stderr, "reliable: message %llu wrong (sig %llu, %zu bytes)\n",
                   (unsigned long long)i, (unsigned long long)m->meta.sig, m->data.size());
      ok = false;
      break;
    }
  }
  producer.join();
  lt.join();
  if (prc != 0) std::fprintf(stderr, "rill_xpeer produce exited %d\n", prc);
  if (lossy_last != kCount - 1) {
    std::fprintf(stderr, "lossy: last message %llu\n", (unsigned long long)lossy_last);
    lossy_ok = false;
  }
  std::printf("C -> C++: %llu messages checked; lossy got %llu, lost %llu\n",
              (unsigned long long)i, (unsigned long long)lossy_got, (unsigned long long)lossy_lost);
  return ok && lossy_ok && prc == 0;
}

// Starts "rill_xpeer consume ..." with its stdout on a pipe and reads its
// "ready" line.
FILE *start_consumer(const std::string &mode) {
  std::string cmd = "'" + g_xpeer + "' consume '" + g_dir + "' xp out " + std::to_string(kCount) +
                    " " + std::to_string(kSeed) + " " + mode;
  FILE *f = popen(cmd.c_str(), "r");
  if (!f) return nullptr;
  char line[64] = "";
  if (!fgets(line, sizeof line, f) || std::strcmp(line, "ready\n") != 0) {
    std::fprintf(stderr, "rill_xpeer consume %s: no ready line ('%s')\n", mode.c_str(), line);
    pclose(f);
    return nullptr;
  }
  return f;
}

// A C++ producer sends the stream on "out"; xpeer consumers check it.
bool produce_for_c(rill::region &r) {
  FILE *rel = start_consumer("reliable");
  FILE *lossy = rel ? start_consumer("lossy") : nullptr;
  if (!rel || !lossy) {
    if (rel) pclose(rel);
    return false;
  }
  bool ok = true;
  {
    auto p = rill::producer::join(r, "out");
    if (!p) {
      std::fprintf(stderr, "producer join: %s\n", p.error().message().c_str());
      ok = false;
    } else {
      auto n = p->wait_consumers(2, 10s);
      if (!n) std::fprintf(stderr, "wait_consumers: %s\n", n.error().message().c_str()), ok = false;
      std::vector<std::uint8_t> msg;
      for (std::uint64_t i = 0; ok && i < kCount; i++) {
        make(kSeed, i, kMtu, kMaxMsg, msg);
        rill::result<void> rc;
        if (msg.size() <= kMtu && (i & 1)) {
          // zero copy for every other message that fits a fragment
          auto w = p->reserve_wait(msg.size(), 10s);
          if (!w) {
            rc = w.error();
          } else {
            if (!msg.empty()) std::memcpy(w->data(), msg.data(), msg.size());
            rc = p->commit(msg.size(), i);
          }
        } else {
          rc = p->send_wait(msg, i, 10s);
        }
        if (!rc) {
          std::fprintf(stderr, "send %llu: %s\n", (unsigned long long)i, rc.error().message().c_str());
          ok = false;
        }
      }
      (void)p->leave();
    }
  }
  char line[128] = "";
  bool got_line = fgets(line, sizeof line, lossy) != nullptr;
  int rs = pclose(rel), ls = pclose(lossy);
  if (rs != 0) std::fprintf(stderr, "rill_xpeer consume reliable: status %d\n", rs), ok = false;
  if (ls != 0 || !got_line || std::strncmp(line, "ok ", 3) != 0)
    std::fprintf(stderr, "rill_xpeer consume lossy: status %d, '%s'\n", ls, line), ok = false;
  if (ok) std::printf("C++ -> C: %llu messages; the lossy C consumer: %s", (unsigned long long)kCount, line);
  return ok;
}

}  // namespace

int main() {
  const char *x = std::getenv("RILL_XPEER");
  if (!x || !*x) {
    std::fprintf(stderr, "test_cpp_xpeer: RILL_XPEER not set: skipped\n");
    return 77;
  }
  g_xpeer = x;
  char tmpl[] = "/dev/shm/rill-cppx-XXXXXX";
  if (!mkdtemp(tmpl)) {
    std::perror("mkdtemp");
    return 1;
  }
  g_dir = tmpl;
  rill::region_options ro{};
  ro.size = 4 << 20;
  ro.dir = g_dir.c_str();
  rill::channel_options co{};
  co.depth = kDepth, co.mtu = kMtu, co.max_consumers = 4, co.max_msg = kMaxMsg;
  bool ok = false;
  if (auto r = rill::region::create("xp", ro); !r) {
    std::fprintf(stderr, "create: %s\n", r.error().message().c_str());
  } else if (auto a = r->create_channel("in", co), b = r->create_channel("out", co); !a || !b) {
    std::fprintf(stderr, "create channels: %s\n", (a ? b.error() : a.error()).message().c_str());
  } else {
    bool c1 = consume_from_c(*r);
    bool c2 = produce_for_c(*r);
    ok = c1 && c2;
  }
  std::string cmd = "rm -rf '" + g_dir + "'";
  if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "could not remove %s\n", g_dir.c_str());
  std::printf("test_cpp_xpeer: %s\n", ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
