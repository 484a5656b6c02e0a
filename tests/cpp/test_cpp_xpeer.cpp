// SPDX-License-Identifier: Apache-2.0 OR MIT
// The C++ API against the peers of the cross-language tests, in other
// processes: the C peer rill_xpeer ($RILL_XPEER, tests/xpeer.c) and the Go
// peer, the Go binding's test binary ($RILL_GOPEER, run with
// RILL_GO_PEER=1; bindings/go/peer_test.go).  Both speak the same commands
// and the same message streams (tests/vectors/README.md, "Message
// streams"); every case below runs against each peer in turn:
//   - create: the peer makes the region and its channels, C++ opens them
//     and reads their geometry;
//   - peer -> C++: the peer produces the stream; a reliable C++ consumer
//     checks every byte, sig, sequence number and ctl of every message, a
//     lossy one reading in place (poll/check) every byte of every fragment
//     it keeps, and a lossy one that starts only once the producer is gone
//     (lapped for sure) every message it takes;
//   - C++ -> peer: a C++ producer (copying and zero-copy sends) and the
//     peer's reliable, lossy and late lossy consumers, which check every
//     byte;
//   - echo: C++ sends, the peer echoes each message back, C++ checks it;
//   - rpc, C++ client: the peer serves the test service (rpc-serve); two
//     C++ clients call it (pipelined, zero-copy requests, replies read in
//     place), every id and byte checked, its error statuses; the server
//     stops (errc::server_left), then is killed (errc::server_dead);
//   - rpc, C++ server: the peer's client (rpc-call) calls a rill::rpc_server
//     that serves the same test service.
// A peer whose variable is not set is skipped with a message, or fails the
// test if RILL_REQUIRE_XPEER is set (ctest sets it when both are built).
// The region directory and its cleanup are the C tests' (tests/cpp/tu_cpp.h).
#include <rill.hpp>

#include "tu_cpp.h"

#include <array>
#include <atomic>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

constexpr std::uint64_t kSeed = 11, kEchoSeed = 13, kRpcSeed = 5;
constexpr std::uint32_t kDepth = 256, kMtu = 512, kMaxConsumers = 4;
constexpr std::uint64_t kMaxMsg = 4096, kRegionSize = 16 << 20;
constexpr std::uint32_t kRpcLanes = 4, kRpcDepth = 256, kRpcMtu = 512;
constexpr std::uint64_t kRpcMaxMsg = 2048;
constexpr auto kWait = 10s;  // every wait; a timeout is a failure

std::uint64_t g_count, g_echo_count, g_rpc_count;

// ---- the message streams (tests/vectors/README.md) ----

std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

struct stream {
  std::uint64_t seed, mtu, max_msg;
  std::uint64_t hash(std::uint64_t i) const { return mix(seed * 0x100000001b3ull + i); }
  std::uint64_t size(std::uint64_t i) const {
    std::uint64_t h = hash(i), cls = h & 15, r = h >> 8;
    return cls < 12 ? r % 129 : cls < 15 ? r % (mtu + 1) : r % (max_msg + 1);
  }
  static std::uint8_t byte(std::uint64_t h, std::uint64_t j) {
    return static_cast<std::uint8_t>((h >> (8 * (j & 7))) + (j >> 3));
  }
  // Message I's bytes.
  void make(std::uint64_t i, std::vector<std::uint8_t> &out) const {
    std::uint64_t h = hash(i);
    out.resize(size(i));
    for (std::uint64_t j = 0; j < out.size(); j++) out[j] = byte(h, j);
  }
  // Index of the first byte of P (bytes [OFF, OFF + P.size()) of message
  // I) that is wrong, or -1.
  std::int64_t bad(std::uint64_t i, rill::const_bytes p, std::uint64_t off = 0) const {
    std::uint64_t h = hash(i);
    const auto *b = reinterpret_cast<const std::uint8_t *>(p.data());
    for (std::size_t j = 0; j < p.size(); j++)
      if (b[j] != byte(h, off + j)) return static_cast<std::int64_t>(j);
    return -1;
  }
  std::uint64_t frags(std::uint64_t i) const {
    std::uint64_t n = size(i);
    return n ? (n + mtu - 1) / mtu : 1;
  }
  // The ctl of a whole message as recv() reports it (of its last fragment).
  std::uint16_t ctl(std::uint64_t i) const { return size(i) <= mtu ? RILL_CTL_MSG : RILL_CTL_EOM; }
};

// ---- peers ----

struct peer {
  std::string lang;    // "C", "Go"
  std::string exe;
  std::string region;  // the region its cases use (made by the peer)
  std::vector<std::string> cmd(std::vector<std::string> args) const {
    args.insert(args.begin(), exe);
    return args;
  }
  std::string what(const char *c) const { return lang + " peer " + c; }
};

std::string g_dir;

std::string num(std::uint64_t v) { return std::to_string(v); }

bool fail(const peer &p, const std::string &msg) {
  std::fprintf(stderr, "  [%s] FAIL: %s\n", p.lang.c_str(), msg.c_str());
  return false;
}

bool fail_ec(const peer &p, const std::string &what, std::error_code ec) {
  return fail(p, what + ": " + ec.message());
}

// Waits for PROC; true if it exited 0, else says how it ended.
bool exited_ok(const peer &p, tucpp::proc &proc, const char *what) {
  int end = proc.wait();
  if (end == 0) return true;
  return fail(p, p.what(what) + " " + tucpp::end_str(end));
}

// Reads PROC's "ready" line.
bool ready(const peer &p, tucpp::proc &proc, const char *what) {
  std::string line;
  if (!proc) return fail(p, p.what(what) + ": not started");
  if (proc.read_line(line) && line == "ready") return true;
  return fail(p, p.what(what) + ": no \"ready\" line (got '" + line + "')");
}

// An "ok A B" line of a consumer: A and B, or false.
bool ok_line(const std::string &line, std::uint64_t &a, std::uint64_t &b) {
  unsigned long long x = 0, y = 0;
  if (std::sscanf(line.c_str(), "ok %llu %llu", &x, &y) != 2) return false;
  a = x, b = y;
  return true;
}

// ---- the cases ----

// The peer makes region NAME and its channels; C++ opens them.
bool case_create(const peer &p, rill::region &out) {
  const std::string &name = p.region;
  for (const char *ch : {"in", "out", "ping", "pong"}) {
    tucpp::proc c(p.what("create").c_str(),
                  p.cmd({"create", g_dir, name, ch, num(kDepth), num(kMtu), num(kMaxConsumers),
                         num(kMaxMsg), num(kRegionSize)}));
    if (!exited_ok(p, c, "create")) return false;
  }
  rill::region_options ro{};
  ro.dir = g_dir.c_str();
  auto r = rill::region::open(name.c_str(), ro);
  if (!r) return fail_ec(p, "open the peer's region", r.error());
  auto info = r->info();
  if (!info) return fail_ec(p, "region info", info.error());
  if (info->size < kRegionSize)
    return fail(p, "region size " + num(info->size) + ", asked " + num(kRegionSize));
  for (const char *ch : {"in", "out", "ping", "pong"}) {
    auto st = r->stats(ch);
    if (!st) return fail_ec(p, std::string("stats of ") + ch, st.error());
    if (st->depth != kDepth || st->mtu != kMtu || st->max_consumers != kMaxConsumers ||
        st->max_msg != kMaxMsg || st->nconsumers != 0)
      return fail(p, std::string("channel ") + ch + ": depth " + num(st->depth) + ", mtu " +
                         num(st->mtu) + ", max_consumers " + num(st->max_consumers) +
                         ", max_msg " + num(st->max_msg));
  }
  out = std::move(*r);
  std::printf("  [%s] create: the peer's region and 4 channels, opened by C++\n", p.lang.c_str());
  return true;
}

// Tracks where message NEXT of stream S starts as the sigs go up: the
// sequence number of message SIG's first fragment follows from the sizes
// of the messages before it (a descriptor taken for another sequence
// number's shows here).
struct seq_tracker {
  const stream &s;
  std::uint64_t next = 0, seq;  // message next starts at seq
  seq_tracker(const stream &st, std::uint64_t seq0) : s(st), seq(seq0) {}
  // The first sequence number of message SIG (>= every sig before).
  std::uint64_t first(std::uint64_t sig) {
    for (; next < sig; next++) seq += s.frags(next);
    return seq;
  }
};

// The last sequence number of the first COUNT messages of S from SEQ0.
std::uint64_t last_seq(const stream &s, std::uint64_t seq0, std::uint64_t count) {
  for (std::uint64_t i = 0; i < count; i++) seq0 += s.frags(i);
  return seq0 - 1;
}

// The lossy C++ consumer that reads in place while the producer writes:
// each fragment it keeps (check() says it was not overwritten while read)
// is exactly bytes [k * mtu, ...) of its message, with its ctl, at the
// sequence number the stream's sizes give; it sees the stream's last one.
struct lossy_reader {
  lossy_reader(rill::consumer &cons, const stream &st, std::uint64_t n, std::uint64_t q0)
      : c(cons), s(st), count(n), seq0(q0) {}
  rill::consumer &c;
  const stream &s;
  std::uint64_t count, seq0;
  bool ok = true;
  std::string why;
  std::uint64_t kept = 0, discarded = 0, overruns = 0, lost = 0;

  void run() {
    seq_tracker t(s, seq0);
    std::uint64_t prev = 0;
    bool any = false;
    for (;;) {
      auto v = c.poll_wait(kWait);
      if (!v) {
        if (v.error() == rill::errc::overrun) {
          overruns++, lost += c.lost();
          continue;
        }
        if (v.error() != rill::errc::closed) ok = false, why = "poll_wait: " + v.error().message();
        break;
      }
      std::uint64_t sig = v->sig(), seq = v->seq();
      if (sig >= count || sig < t.next || (any && std::int64_t(seq - prev) <= 0)) {
        ok = false, why = "a fragment of message " + num(sig) + " at seq " + num(seq) + " out of order";
        break;
      }
      std::uint64_t k = seq - t.first(sig), nfrag = s.frags(sig), size = s.size(sig);
      std::uint64_t off = k * s.mtu;
      std::uint64_t want_sz = off < size ? std::min<std::uint64_t>(s.mtu, size - off) : 0;
      auto want_ctl = static_cast<std::uint16_t>((k == 0 ? RILL_CTL_SOM : 0) | (k + 1 == nfrag ? RILL_CTL_EOM : 0));
      bool right = k < nfrag && v->size() == want_sz && v->ctl() == want_ctl && s.bad(sig, v->data(), off) < 0;
      if (c.check(*v)) {  // overwritten while read: what was read is void
        discarded++;
      } else if (!right) {
        ok = false, why = "message " + num(sig) + " fragment " + num(k) + " (seq " + num(seq) + ", " +
                          num(v->size()) + " bytes, ctl " + num(v->ctl()) + ") is wrong";
        break;
      } else {
        kept++;
      }
      any = true;
      prev = seq;
    }
    std::uint64_t end = last_seq(s, seq0, count);
    if (ok && (!any || prev != end))
      ok = false, why = "the stream's last fragment (seq " + num(end) + ") was not seen";
  }
};

// The peer produces the stream on "in"; three C++ consumers check it.
bool case_peer_produces(const peer &p, rill::region &r) {
  stream s{kSeed, kMtu, kMaxMsg};
  auto st = r.stats("in");
  if (!st) return fail_ec(p, "stats", st.error());
  const std::uint64_t seq0 = st->seq;
  auto rel = rill::consumer::join(r, "in", rill::mode::reliable);
  auto lossy = rill::consumer::join(r, "in", rill::mode::lossy);
  auto late = rill::consumer::join(r, "in", rill::mode::lossy);
  if (!rel || !lossy || !late)
    return fail_ec(p, "join", !rel ? rel.error() : !lossy ? lossy.error() : late.error());
  // started before the reader's thread: children are started from main()
  tucpp::proc prod(p.what("produce").c_str(),
                   p.cmd({"produce", g_dir, p.region, "in", num(g_count), num(kSeed)}));
  if (!prod) return fail(p, "cannot start the producer");
  lossy_reader lr(*lossy, s, g_count, seq0);
  tucpp::thread lt([&lr] { lr.run(); });

  // reliable: every message in order, nothing lost, every byte
  bool ok = true;
  std::vector<std::uint8_t> buf(kMaxMsg);
  seq_tracker t(s, seq0);
  std::uint64_t i = 0;
  for (;; i++) {
    auto m = rel->recv_wait(buf, kWait);
    if (!m) {
      if (m.error() != rill::errc::closed || i != g_count)
        ok = fail_ec(p, "reliable C++ consumer: after " + num(i) + " messages", m.error());
      break;
    }
    std::int64_t bad = s.bad(i, m->data);
    if (m->meta.sig != i || m->meta.lost || m->meta.seq != t.first(i) || m->meta.sz != s.size(i) ||
        m->data.size() != s.size(i) || m->meta.ctl != s.ctl(i) || bad >= 0) {
      ok = fail(p, "reliable C++ consumer: message " + num(i) + ": sig " + num(m->meta.sig) + ", seq " +
                       num(m->meta.seq) + " (want " + num(t.first(i)) + "), lost " + num(m->meta.lost) +
                       ", " + num(m->data.size()) + " bytes (want " + num(s.size(i)) + "), ctl " +
                       num(m->meta.ctl) + ", first wrong byte " + std::to_string(bad));
      prod.kill();
      break;
    }
  }
  ok &= exited_ok(p, prod, "produce");
  lt.join();
  if (!lr.ok) ok = fail(p, "lossy C++ consumer (in place): " + lr.why);

  // late: starts once the producer is gone, lapped for sure: what it takes
  // is exact and in order, the last message among it
  std::uint64_t got = 0, lost = 0, prev = 0;
  seq_tracker lt2(s, seq0);
  for (;;) {
    auto m = late->recv_wait(buf, kWait);
    if (!m) {
      if (m.error() == rill::errc::overrun) {
        lost++;
        continue;
      }
      if (m.error() != rill::errc::closed) ok = fail_ec(p, "late lossy C++ consumer", m.error());
      break;
    }
    std::uint64_t sig = m->meta.sig;
    if (sig >= g_count || (got && sig <= prev) || m->meta.seq != lt2.first(sig) ||
        m->data.size() != s.size(sig) || m->meta.ctl != s.ctl(sig) || s.bad(sig, m->data) >= 0) {
      ok = fail(p, "late lossy C++ consumer: message " + num(sig) + " (seq " + num(m->meta.seq) + ", " +
                       num(m->data.size()) + " bytes) is wrong");
      break;
    }
    got++, lost += m->meta.lost, prev = sig;
  }
  if (ok && (!got || prev != g_count - 1 || !lost))
    ok = fail(p, "late lossy C++ consumer: " + num(got) + " messages, the last " + num(prev) + ", lost " +
                     num(lost) + " (want the last message, and a lap)");
  if (ok)
    std::printf("  [%s] peer -> C++: %" PRIu64 " messages checked; lossy in place: %" PRIu64
                " fragments kept, %" PRIu64 " discarded by check(), %" PRIu64 " overruns (%" PRIu64
                " lost); late lossy: %" PRIu64 " messages, %" PRIu64 " lost\n",
                p.lang.c_str(), i, lr.kept, lr.discarded, lr.overruns, lr.lost, got, lost);
  return ok;
}

// A C++ producer sends the stream on "out"; the peer's consumers check it.
bool case_cpp_produces(const peer &p, rill::region &r) {
  stream s{kSeed, kMtu, kMaxMsg};
  const std::string &region = p.region;
  auto consume = [&](const char *mode, bool late, unsigned flags) {
    std::vector<std::string> a{"consume", g_dir, region, "out", num(g_count), num(kSeed), mode};
    if (late) a.push_back("late");
    return tucpp::proc(p.what("consume").c_str(), p.cmd(a), flags);
  };
  tucpp::proc rel = consume("reliable", false, TUCPP_STDOUT);
  if (!ready(p, rel, "consume reliable")) return false;
  tucpp::proc lossy = consume("lossy", false, TUCPP_STDOUT);
  if (!ready(p, lossy, "consume lossy")) return false;
  tucpp::proc late = consume("lossy", true, TUCPP_STDIN | TUCPP_STDOUT);
  if (!ready(p, late, "consume lossy late")) return false;

  bool ok = true;
  std::uint64_t copied = 0, zero_copy = 0, backwards = 0;
  {
    auto prod = rill::producer::join(r, "out");
    if (!prod) return fail_ec(p, "producer join", prod.error());
    auto n = prod->wait_consumers(3, kWait);
    if (!n) return fail_ec(p, "wait_consumers(3)", n.error());
    std::vector<std::uint8_t> msg;
    for (std::uint64_t i = 0; ok && i < g_count; i++) {
      s.make(i, msg);
      rill::result<void> rc;
      if (msg.size() + 64 <= kMtu && i % 5 == 0) {
        // zero copy, built backwards: 64 bytes into the reservation
        auto w = prod->reserve_wait(msg.size() + 64, kWait);
        if (w) {
          auto part = w->subspan(64, msg.size());
          if (!msg.empty()) std::memcpy(part.data(), msg.data(), msg.size());
          rc = prod->commit(part, i);
          backwards++;
        } else {
          rc = w.error();
        }
      } else if (msg.size() <= kMtu && (i & 1)) {
        auto w = prod->reserve_wait(msg.size(), kWait);  // zero copy
        if (w) {
          if (!msg.empty()) std::memcpy(w->data(), msg.data(), msg.size());
          rc = prod->commit(msg.size(), i);
          zero_copy++;
        } else {
          rc = w.error();
        }
      } else {
        rc = prod->send_wait(msg, i, kWait);
        copied++;
      }
      if (!rc) ok = fail_ec(p, "send " + num(i), rc.error());
    }
    if (auto rc = prod->leave(); !rc) ok = fail_ec(p, "producer leave", rc.error());
  }
  if (!ok) return false;
  // the late consumer starts now: the producer has lapped it
  if (!late.write("go\n")) ok = fail(p, "cannot write to the late consumer");
  late.close_stdin();
  std::string rl, ll, tl;
  std::uint64_t rgot = 0, rlost = 0, lgot = 0, llost = 0, tgot = 0, tlost = 0;
  // the C peer's reliable consumer prints nothing, the Go peer's "ok N 0"
  if (rel.read_line(rl) && (!ok_line(rl, rgot, rlost) || rgot != g_count || rlost))
    ok = fail(p, p.what("consume reliable") + ": '" + rl + "'");
  ok &= exited_ok(p, rel, "consume reliable");
  if (!lossy.read_line(ll) || !ok_line(ll, lgot, llost) || !lgot || lgot > g_count)
    ok = fail(p, p.what("consume lossy") + ": '" + ll + "'");
  ok &= exited_ok(p, lossy, "consume lossy");
  if (!late.read_line(tl) || !ok_line(tl, tgot, tlost) || !tgot || !tlost)
    ok = fail(p, p.what("consume lossy late") + ": '" + tl + "' (want a lap)");
  ok &= exited_ok(p, late, "consume lossy late");
  if (ok)
    std::printf("  [%s] C++ -> peer: %" PRIu64 " messages (%" PRIu64 " copied, %" PRIu64 " zero-copy, %" PRIu64
                " built backwards), checked by the reliable consumer; lossy got %" PRIu64 " (lost %" PRIu64
                "), late lossy got %" PRIu64 " (lost %" PRIu64 ")\n",
                p.lang.c_str(), g_count, copied, zero_copy, backwards, lgot, llost, tgot, tlost);
  return ok;
}

// C++ sends each message on "ping", the peer echoes it on "pong".
bool case_echo(const peer &p, rill::region &r) {
  stream s{kEchoSeed, kMtu, kMaxMsg};
  const std::string &region = p.region;
  auto pong = rill::consumer::join(r, "pong", rill::mode::reliable);  // before the echo sends
  if (!pong) return fail_ec(p, "join pong", pong.error());
  tucpp::proc echo(p.what("echo").c_str(),
                   p.cmd({"echo", g_dir, region, "ping", "pong", num(g_echo_count), "20000"}), TUCPP_STDOUT);
  if (!ready(p, echo, "echo")) return false;
  bool ok = true;
  {
    auto ping = rill::producer::join(r, "ping");
    if (!ping) return fail_ec(p, "join ping", ping.error());
    if (auto n = ping->wait_consumers(1, kWait); !n) return fail_ec(p, "wait for the echo", n.error());
    std::vector<std::uint8_t> msg, buf(kMaxMsg);
    for (std::uint64_t i = 0; ok && i < g_echo_count; i++) {
      s.make(i, msg);
      if (auto rc = ping->send_wait(msg, i, kWait); !rc) {
        ok = fail_ec(p, "ping " + num(i), rc.error());
        break;
      }
      // every other echo read in place where it can be
      auto m = (i & 1) ? pong->recv_view(buf) : pong->recv_wait(buf, kWait);
      if ((i & 1) && !m && m.error() == rill::errc::again) m = pong->recv_wait(buf, kWait);
      if (!m) {
        ok = fail_ec(p, "echo " + num(i), m.error());
      } else if (m->meta.sig != i || m->data.size() != msg.size() || s.bad(i, m->data) >= 0) {
        ok = fail(p, "echo " + num(i) + ": sig " + num(m->meta.sig) + ", " + num(m->data.size()) + " bytes");
      }
    }
    (void)ping->leave();
  }
  ok &= exited_ok(p, echo, "echo");
  if (ok) {
    std::array<std::byte, 8> b{};
    auto end = pong->recv_wait(b, kWait);  // the echo left
    if (end.error() != rill::errc::closed) ok = fail_ec(p, "after the last echo", end.error());
  }
  if (ok) std::printf("  [%s] echo: %" PRIu64 " round trips checked\n", p.lang.c_str(), g_echo_count);
  return ok;
}

rill::rpc_options rpc_opts() {
  rill::rpc_options o{};
  o.lanes = kRpcLanes, o.depth = kRpcDepth, o.mtu = kRpcMtu, o.max_msg = kRpcMaxMsg;
  return o;
}

// N pipelined echo calls of stream SEED on C: requests copied, zero-copy
// and built backwards; responses read in place by poll() or copied by
// recv(); every id, method, status and byte checked.  "" or what failed.
std::string rpc_pipeline(rill::rpc_client &c, std::uint64_t n, std::uint64_t seed) {
  stream s{seed, kRpcMtu, kRpcMaxMsg};
  std::vector<std::uint64_t> ids(n);
  std::vector<std::uint8_t> msg;
  std::vector<std::byte> gather(kRpcMaxMsg), out(kRpcMaxMsg);
  std::uint64_t sent = 0, done = 0;
  std::string err;
  auto check = [&](const rill::rpc_reply &rr) {
    if (!err.empty()) return;
    if (done >= sent) {
      err = "a response with nothing in flight";
      return;
    }
    if (rr.id != ids[done] || rr.method != 1 || rr.status != 0 || rr.data.size() != s.size(done) ||
        s.bad(done, rr.data) >= 0)
      err = "call " + num(done) + ": id " + num(rr.id) + " (want " + num(ids[done]) + "), method " +
            num(rr.method) + ", status " + std::to_string(rr.status) + ", " + num(rr.data.size()) + " bytes";
    done++;
  };
  while (done < n && err.empty()) {
    while (sent < n && sent - done < c.capacity()) {
      s.make(sent, msg);
      rill::result<std::uint64_t> id = rill::errc::again;
      if (!msg.empty() && msg.size() + 64 <= kRpcMtu && sent % 3 == 0) {
        auto b = c.reserve(msg.size() + 64);
        if (b) {
          std::memcpy(b->data() + 64, msg.data(), msg.size());
          id = c.commit(1, b->subspan(64, msg.size()));
        } else {
          id = b.error();
        }
      } else if (!msg.empty() && msg.size() <= kRpcMtu && sent % 3 == 1) {
        auto b = c.reserve(msg.size());
        if (b) {
          std::memcpy(b->data(), msg.data(), msg.size());
          id = c.commit(1, *b);
        } else {
          id = b.error();
        }
      } else {
        id = c.send(1, msg);
      }
      if (!id && id.error() == rill::errc::again) break;
      if (!id) return "send " + num(sent) + ": " + id.error().message();
      ids[sent++] = *id;
    }
    auto k = c.poll(check, UINT32_MAX, gather);
    if (!k) return "poll: " + k.error().message();
    if (*k == 0) {  // nothing yet: wait for one
      auto rr = c.recv(out, kWait);
      if (!rr) return "recv after " + num(done) + " responses: " + rr.error().message();
      check(*rr);
    }
  }
  return err;
}

// The test service's other methods (the same in every peer): 2 sums the
// bytes (u64), 3 fails with status 42, others fail with no_method.
std::string rpc_methods(rill::rpc_client &c) {
  std::array<std::byte, kRpcMaxMsg> out{};
  const std::uint8_t three[] = {1, 2, 3};
  auto sum = c.call(2, rill::const_bytes(three), out, kWait);
  std::uint64_t v = 0;
  if (sum && sum->data.size() == 8) std::memcpy(&v, sum->data.data(), 8);
  if (!sum || sum->status != 0 || sum->status_code() || v != 6)
    return "method 2 (sum): " + (sum ? "status " + std::to_string(sum->status) + ", " + num(v) : sum.error().message());
  auto m3 = c.call(3, std::string_view("x"), out, kWait);
  if (!m3 || m3->status != 42 || m3->status_code() != std::error_code(42, rill::rpc_category()) ||
      !m3->status_code())
    return "method 3: " + (m3 ? "status " + std::to_string(m3->status) + ", status_code() '" +
                                    m3->status_code().message() + "'"
                              : m3.error().message());
  auto m999 = c.call(999, std::string_view("x"), out, kWait);
  if (!m999 || m999->status_code() != rill::errc::no_method)
    return "method 999: " + (m999 ? "status " + std::to_string(m999->status) : m999.error().message());
  // a response larger than the buffer is kept: needed() says its size
  std::vector<std::uint8_t> big(100);
  for (std::size_t k = 0; k < big.size(); k++) big[k] = static_cast<std::uint8_t>(k * 7 + 1);
  std::array<std::byte, 10> tiny{};
  auto small = c.call(1, big, tiny, kWait);
  if (small.error() != rill::errc::msgsize || c.needed() != 100)
    return "echo into 10 bytes: " + small.error().message() + ", needed " + num(c.needed());
  auto again = c.recv(out, kWait);
  if (!again || again->data.size() != 100 || std::memcmp(again->data.data(), big.data(), 100) != 0)
    return "the kept response: " + (again ? num(again->data.size()) + " bytes" : again.error().message());
  if (c.call(RILL_RPC_METHOD_MAX + 1, std::string_view("x"), out, kWait).error() != rill::errc::inval)
    return "a method out of range was sent";
  return "";
}

// The peer serves the test service; C++ clients call it.
bool case_rpc_client(const peer &p, rill::region &r) {
  const std::string &region = p.region;
  if (auto rc = r.create_service("svc", rpc_opts()); !rc) return fail_ec(p, "create_service", rc.error());
  auto serve = [&] {
    return tucpp::proc(p.what("rpc-serve").c_str(), p.cmd({"rpc-serve", g_dir, region, "svc", "2"}),
                       TUCPP_STDIN | TUCPP_STDOUT);
  };
  tucpp::proc srv = serve();
  if (!ready(p, srv, "rpc-serve")) return false;
  bool ok = true;
  {
    auto a = rill::rpc_client::connect(r, "svc");
    auto b = rill::rpc_client::connect(r, "svc");  // another lane, the other worker
    if (!a || !b) return fail_ec(p, "connect", !a ? a.error() : b.error());
    if (auto w = a->wait_server(kWait); !w) return fail_ec(p, "wait_server", w.error());
    std::string berr;
    rill::rpc_client bc = std::move(*b);
    tucpp::thread bt([&berr, &bc] {
      auto w = bc.wait_server(kWait);
      berr = w ? rpc_pipeline(bc, g_rpc_count / 2, kRpcSeed + 1) : "wait_server: " + w.error().message();
      (void)bc.close();
    });
    std::string aerr = rpc_pipeline(*a, g_rpc_count, kRpcSeed);
    bt.join();
    if (!aerr.empty()) ok = fail(p, "C++ client: " + aerr);
    if (!berr.empty()) ok = fail(p, "second C++ client: " + berr);
    if (ok) {
      std::string merr = rpc_methods(*a);
      if (!merr.empty()) ok = fail(p, "C++ client: " + merr);
    }
    // the server stops: a call in flight fails with server_left
    srv.close_stdin();
    ok &= exited_ok(p, srv, "rpc-serve");
    std::array<std::byte, 16> out{};
    auto id = a->send(1, std::string_view("late"));
    auto left = a->recv(out, kWait);
    if (!id || left.error() != rill::errc::server_left)
      ok = fail(p, "after the server stopped: send " + id.error().message() + ", recv " + left.error().message());
  }
  if (!ok) return false;
  // a server killed: calls nobody will answer fail with server_dead
  srv = serve();
  if (!ready(p, srv, "rpc-serve (again)")) return false;
  auto c = rill::rpc_client::connect(r, "svc");
  if (!c) return fail_ec(p, "connect again", c.error());
  std::array<std::byte, 16> out{};
  auto w = c->wait_server(kWait);
  auto alive = c->call(1, std::string_view("alive"), out, kWait);
  if (!w || !alive || alive->data.str() != "alive")
    return fail(p, "the second server: " + (w ? alive.error() : w.error()).message());
  srv.kill();
  int end = srv.wait();
  if (end != TUCPP_KILLED) ok = fail(p, p.what("rpc-serve") + " (killed) " + tucpp::end_str(end));
  for (int k = 0; k < 3; k++)
    if (auto id = c->send(1, std::string_view("x")); !id) ok = fail_ec(p, "send to the dead server", id.error());
  auto dead = c->recv(out, kWait);
  if (dead.error() != rill::errc::server_dead)
    ok = fail(p, "a call to the killed server: " + (dead ? std::string("answered") : dead.error().message()));
  if (ok)
    std::printf("  [%s] rpc, C++ clients -> peer server: %" PRIu64 " + %" PRIu64
                " pipelined calls and every method checked; stopped: server_left; killed: server_dead\n",
                p.lang.c_str(), g_rpc_count, g_rpc_count / 2);
  return ok;
}

// The test service in C++: 1 echoes, 2 sums the bytes, 3 fails with 42.
struct test_service {
  std::atomic<std::uint64_t> *calls;
  rill::result<std::size_t> operator()(std::uint16_t method, rill::const_bytes req, rill::bytes resp) const {
    calls->fetch_add(1, std::memory_order_relaxed);
    switch (method) {
      case 1:
        if (req.size() > resp.size()) return rill::errc::msgsize;
        if (!req.empty()) std::memcpy(resp.data(), req.data(), req.size());
        return req.size();
      case 2: {
        std::uint64_t sum = 0;
        for (std::byte b : req) sum += static_cast<std::uint8_t>(b);
        if (resp.size() < sizeof sum) return rill::errc::msgsize;
        std::memcpy(resp.data(), &sum, sizeof sum);
        return sizeof sum;
      }
      case 3:
        return std::error_code(42, rill::rpc_category());  // the handler's own status
    }
    return rill::errc::no_method;
  }
};

// The peer's client (rpc-call) calls a C++ server.
bool case_rpc_server(const peer &p, rill::region &r) {
  const std::string &region = p.region;
  if (auto rc = r.create_service("svc2", rpc_opts()); !rc) return fail_ec(p, "create_service", rc.error());
  // the client first: it waits for the server (rill_rpc_wait_server)
  tucpp::proc call(p.what("rpc-call").c_str(), p.cmd({"rpc-call", g_dir, region, "svc2", num(g_rpc_count)}),
                   TUCPP_STDOUT);
  if (!call) return fail(p, "cannot start rpc-call");
  std::atomic<std::uint64_t> calls{0};
  auto srv = rill::rpc_server::serve(r, "svc2", 2, test_service{&calls});
  if (!srv) return fail_ec(p, "serve", srv.error());
  bool ok = true;
  std::string line;
  if (!call.read_line(line) || line != "ok " + num(g_rpc_count))
    ok = fail(p, p.what("rpc-call") + ": '" + line + "'");
  ok &= exited_ok(p, call, "rpc-call");
  if (auto rc = srv->stop(); !rc) ok = fail_ec(p, "stop", rc.error());
  if (ok && calls.load() != g_rpc_count + 3)
    ok = fail(p, "the C++ server answered " + num(calls.load()) + " calls, want " + num(g_rpc_count + 3));
  if (ok)
    std::printf("  [%s] rpc, peer client -> C++ server: %" PRIu64 " calls answered\n", p.lang.c_str(),
                calls.load());
  return ok;
}

}  // namespace

int main(int argc, char **argv) {
  tucpp_start("test_cpp_xpeer", 180, argc, argv);
  g_dir = tucpp_dir();
  tucpp_setenv("RILL_GO_PEER", "1");  // the Go peer's switch; the C peer ignores it
  g_count = tucpp_scaled(20000, 1000);
  g_echo_count = tucpp_scaled(2000, 200);
  g_rpc_count = tucpp_scaled(20000, 1000);
  const char *req = std::getenv("RILL_REQUIRE_XPEER");
  bool require = req && *req;
  std::vector<peer> peers;
  bool ok = true;
  std::string done;
  for (auto [lang, var] : {std::pair<const char *, const char *>{"C", "RILL_XPEER"}, {"Go", "RILL_GOPEER"}}) {
    const char *exe = std::getenv(var);
    if (exe && *exe) {
      peers.push_back({lang, exe, std::string("xp-") + lang});
    } else if (require) {
      std::fprintf(stderr, "  FAIL: %s is not set, and RILL_REQUIRE_XPEER is\n", var);
      done += (done.empty() ? "" : ", ") + std::string(lang) + " MISSING";
      ok = false;
    } else {
      std::printf("  skipped: the %s peer's cases: %s is not set (ctest sets it when the peer is built)\n",
                  lang, var);
    }
  }
  if (peers.empty() && ok) tucpp_skip("no peer: neither RILL_XPEER nor RILL_GOPEER is set");
  for (const peer &p : peers) {
    std::printf("%s peer: %s\n", p.lang.c_str(), p.exe.c_str());
    rill::region r;
    if (!case_create(p, r)) {
      ok = false;
      continue;
    }
    bool pok = case_peer_produces(p, r);
    pok &= case_cpp_produces(p, r);
    pok &= case_echo(p, r);
    pok &= case_rpc_client(p, r);
    pok &= case_rpc_server(p, r);
    ok &= pok;
    done += (done.empty() ? "" : ", ") + p.lang + (pok ? " ok" : " FAILED");
  }
  return tucpp_end(ok, ("peers: " + done).c_str());
}
