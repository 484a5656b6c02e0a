// SPDX-License-Identifier: Apache-2.0 OR MIT
// The C++ API (include/rill.hpp): RAII, moves, error codes of every error
// path, zero-copy reserve/poll, typed send/receive, waits with durations,
// wait_any, the consumer's fd (its event on Windows), request/response,
// the throwing calls.  The region directory and its cleanup are the C
// tests' (tests/cpp/tu_cpp.h: testutil.h's, removed however the test ends).
#include <rill.hpp>

#include "tu_cpp.h"

#include <array>
#include <atomic>
#include <cstdio>
#include <string>
#include <vector>

using namespace std::chrono_literals;

// Copying is ill-formed (tests/cpp/no_copy.cpp checks the expressions too).
static_assert(!std::is_copy_constructible_v<rill::region>);
static_assert(!std::is_copy_assignable_v<rill::region>);
static_assert(!std::is_copy_constructible_v<rill::producer>);
static_assert(!std::is_copy_assignable_v<rill::producer>);
static_assert(!std::is_copy_constructible_v<rill::consumer>);
static_assert(!std::is_copy_assignable_v<rill::consumer>);
static_assert(!std::is_copy_constructible_v<rill::rpc_client>);
static_assert(!std::is_copy_constructible_v<rill::rpc_server>);
static_assert(!std::is_copy_assignable_v<rill::rpc_server>);
static_assert(std::is_nothrow_move_constructible_v<rill::region>);
static_assert(std::is_nothrow_move_constructible_v<rill::producer>);
static_assert(std::is_nothrow_move_constructible_v<rill::consumer>);
static_assert(std::is_nothrow_move_constructible_v<rill::rpc_client>);
static_assert(std::is_nothrow_move_constructible_v<rill::rpc_server>);
static_assert(std::is_error_code_enum_v<rill::errc>);

namespace {

int failures = 0;

#define CHECK(x)                                                          \
  do {                                                                    \
    if (!(x)) {                                                           \
      std::fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #x); \
      failures++;                                                         \
    }                                                                     \
  } while (0)

// EXPECT_ERR(expr, errc): expr's error is exactly that rill code
#define EXPECT_ERR(expr, e)                                                        \
  do {                                                                             \
    std::error_code ec_ = (expr).error();                                          \
    if (ec_ != rill::make_error_code(e)) {                                         \
      std::fprintf(stderr, "%s:%d: %s: expected %s, got %s (%s)\n", __FILE__, __LINE__, \
                   #expr, rill::make_error_code(e).message().c_str(),             \
                   ec_.message().c_str(), ec_.category().name());                  \
      failures++;                                                                  \
    }                                                                              \
  } while (0)

#define EXPECT_OK(expr)                                                              \
  do {                                                                               \
    std::error_code ec_ = (expr).error();                                            \
    if (ec_) {                                                                       \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #expr, ec_.message().c_str()); \
      failures++;                                                                    \
    }                                                                                \
  } while (0)

std::string g_dir;

rill::region_options ropts(std::uint64_t size = 4 << 20) {
  rill::region_options o{};
  o.size = size;
  o.dir = g_dir.c_str();
  return o;
}

rill::channel_options copts(std::uint32_t depth, std::uint32_t mtu, std::uint64_t max_msg = 0) {
  rill::channel_options o{};
  o.depth = depth;
  o.mtu = mtu;
  o.max_msg = max_msg;
  return o;
}

void test_errors_category() {
  std::error_code ec = rill::errc::timed_out;
  CHECK(ec.value() == RILL_ETIMEDOUT);
  CHECK(&ec.category() == &rill::category());
  CHECK(std::string(ec.category().name()) == "rill");
  // every code's message is rill_strerror's
  for (int i = 1; i < RILL_ERR_MAX_; i++) {
    std::error_code e(i, rill::category());
    CHECK(e.message() == rill_strerror(i));
    CHECK(e == static_cast<rill::errc>(i));
  }
  CHECK(rill::make_error_code(rill::errc::again) != std::make_error_code(std::errc::resource_unavailable_try_again));
#if RILL_HPP_EXCEPTIONS
  bool thrown = false;
  try {
    rill::region::open("no-such-region", ropts()).value();
  } catch (const rill::error &e) {
    thrown = e.code() == rill::errc::noent;
    const std::system_error &se = e;  // a std::system_error
    CHECK(std::string(se.what()).find(rill_strerror(RILL_ENOENT)) != std::string::npos);
  }
  CHECK(thrown);
  thrown = false;
  try {
    rill::throw_if(rill::errc::busy);
  } catch (const std::system_error &e) {
    thrown = e.code() == rill::errc::busy;
  }
  CHECK(thrown);
  rill::throw_if({});  // no error: no throw
#endif
}

void test_region_errors() {
  EXPECT_ERR(rill::region::open("no-such-region", ropts()), rill::errc::noent);
  EXPECT_ERR(rill::region::create("bad/name", ropts()), rill::errc::inval);
  EXPECT_ERR(rill::region::create(".hidden", ropts()), rill::errc::inval);
  rill::region_options bad = ropts();
  bad.reserved[0] = 1;
  EXPECT_ERR(rill::region::create("r-reserved", bad), rill::errc::inval);
  rill::region_options nodir = ropts();
  std::string missing = g_dir + "/missing";
  nodir.dir = missing.c_str();
  EXPECT_ERR(rill::region::create("r-nodir", nodir), rill::errc::nodir);
  rill::region_options huge = ropts();  // the test's directory is not on hugetlbfs
  huge.flags = RILL_REGION_HUGE;
  EXPECT_ERR(rill::region::create("r-huge", huge), rill::errc::no_huge);
  EXPECT_ERR(rill::region::open_wait("r-later", 20ms, ropts()), rill::errc::timed_out);

  auto r = rill::region::create("errs", ropts());
  EXPECT_OK(r);
  EXPECT_ERR(rill::region::create("errs", ropts()), rill::errc::exist);
  EXPECT_OK(r->create_channel("c", copts(8, 64, 128)));
  EXPECT_ERR(r->create_channel("c", copts(8, 64)), rill::errc::exist);
  EXPECT_ERR(r->create_channel("c2", copts(3, 64)), rill::errc::inval);
  EXPECT_ERR(r->wait_channel("not-yet", 10ms), rill::errc::timed_out);
  EXPECT_OK(r->wait_channel("c", 0s));
  EXPECT_ERR(r->stats("nope"), rill::errc::noent);
  EXPECT_ERR(rill::producer::join(*r, "nope"), rill::errc::noent);
  EXPECT_ERR(rill::consumer::join(*r, "nope"), rill::errc::noent);

  auto p = rill::producer::join(*r, "c");
  EXPECT_OK(p);
  EXPECT_ERR(rill::producer::join(*r, "c"), rill::errc::busy);
  EXPECT_ERR(p->reserve(65), rill::errc::msgsize);
  EXPECT_ERR(p->commit(8, 0), rill::errc::inval);  // nothing reserved
  std::array<std::byte, 200> big{};
  EXPECT_ERR(p->send(big, 0), rill::errc::msgsize);
  EXPECT_ERR(p->wait_consumers(1, 10ms), rill::errc::timed_out);
  EXPECT_ERR(p->wait_consumers(100, 0s), rill::errc::inval);

  auto c = rill::consumer::join(*r, "c", rill::mode::reliable);
  EXPECT_OK(c);
  EXPECT_ERR(c->poll(), rill::errc::again);
  EXPECT_ERR(c->poll_wait(5ms), rill::errc::timed_out);
  std::array<std::byte, 16> small{};
  EXPECT_ERR(c->recv(small), rill::errc::again);
  EXPECT_ERR(c->recv_wait(small, 5ms), rill::errc::timed_out);
  EXPECT_ERR(rill::consumer::rejoin(*r, "c", c->slot()), rill::errc::busy);
  EXPECT_ERR(rill::consumer::rejoin(*r, "c", 1000), rill::errc::inval);
  EXPECT_ERR(c->seek_last(1), rill::errc::inval);  // reliable: cannot go back

  // a message too large for the buffer is kept, needed() says its size
  std::array<std::byte, 100> msg{};
  EXPECT_OK(p->send(msg, 1));
  EXPECT_ERR(c->recv(small), rill::errc::msgsize);
  CHECK(c->needed() == 100);
  std::array<std::byte, 128> buf{};
  auto m = c->recv(buf);
  EXPECT_OK(m);
  CHECK(m->data.size() == 100 && m->meta.sig == 1);

  // typed receive of the wrong size
  EXPECT_OK(p->send_value(std::uint16_t{7}, 2));
  EXPECT_ERR(c->recv_value<std::uint32_t>(), rill::errc::msgsize);

  // the producer leaves: closed once everything was read
  EXPECT_OK(p->send_value(std::uint32_t{9}, 3));
  EXPECT_OK(p->leave());
  auto v = c->recv_value_wait<std::uint32_t>(1s);
  EXPECT_OK(v);
  CHECK(v.ok() && *v == 9);
  EXPECT_ERR(c->recv_wait(buf, 1s), rill::errc::closed);
  EXPECT_ERR(c->poll_wait(1s), rill::errc::closed);
  CHECK(c->producer_state() == rill::peer::none);

  // full: every consumer slot taken
  EXPECT_OK(r->create_channel("one", [] {
    auto o = copts(8, 64);
    o.max_consumers = 1;
    return o;
  }()));
  auto c1 = rill::consumer::join(*r, "one");
  EXPECT_OK(c1);
  EXPECT_ERR(rill::consumer::join(*r, "one"), rill::errc::full);

  // read-only regions refuse endpoints
  rill::region_options ro = ropts();
  ro.flags = RILL_REGION_READONLY;
  auto rr = rill::region::open("errs", ro);
  EXPECT_OK(rr);
  EXPECT_ERR(rill::producer::join(*rr, "one"), rill::errc::acces);

  EXPECT_OK(r->close());
  CHECK(!*r);
  EXPECT_OK(rill::region::unlink("errs", g_dir.c_str()));
  EXPECT_ERR(rill::region::unlink("errs", g_dir.c_str()), rill::errc::noent);
}

// A moved-from object is inert: every call says inval, destruction is a no-op.
void test_moved_from() {
  auto r0 = rill::region::create("moves", ropts());
  EXPECT_OK(r0);
  rill::region r = std::move(*r0);
  CHECK(!*r0 && r);
  EXPECT_ERR(r0->create_channel("x"), rill::errc::inval);
  EXPECT_ERR(r0->info(), rill::errc::inval);
  EXPECT_ERR(rill::producer::join(*r0, "x"), rill::errc::inval);
  EXPECT_OK(r0->close());  // closing nothing
  EXPECT_OK(r.create_channel("x", copts(16, 64)));

  rill::producer p = std::move(rill::producer::join(r, "x").value());
  rill::producer p2(std::move(p));
  CHECK(!p && p2);
  EXPECT_ERR(p.reserve(8), rill::errc::inval);
  EXPECT_ERR(p.send_value(1, 0), rill::errc::inval);
  EXPECT_ERR(p.send_wait(rill::const_bytes{}, 0, 1ms), rill::errc::inval);
  EXPECT_ERR(p.wait_consumers(0, 0s), rill::errc::inval);
  EXPECT_ERR(p.flush(), rill::errc::inval);
  CHECK(p.seq() == 0);
  EXPECT_OK(p.leave());

  rill::consumer c = std::move(rill::consumer::join(r, "x").value());
  rill::consumer c2;
  c2 = std::move(c);
  CHECK(!c && c2);
  EXPECT_ERR(c.poll(), rill::errc::inval);
  EXPECT_ERR(c.poll_wait(1ms), rill::errc::inval);
  std::array<std::byte, 8> b{};
  EXPECT_ERR(c.recv(b), rill::errc::inval);
  EXPECT_ERR(c.recv_value<int>(), rill::errc::inval);
#ifdef _WIN32
  EXPECT_ERR(c.handle(), rill::errc::inval);
#else
  EXPECT_ERR(c.fd(), rill::errc::inval);
#endif
  EXPECT_ERR(c.arm(), rill::errc::inval);
  EXPECT_ERR(c.flush(), rill::errc::inval);
  CHECK(c.check(rill::view{}) == rill::errc::inval);
  CHECK(c.slot() == 0);
  rill::consumer *both[] = {&c, &c2};
  EXPECT_ERR(rill::wait_any(both, 2, 0s), rill::errc::inval);

  // assigning over a live endpoint leaves it
  EXPECT_OK(p2.send_value(1, 1));
  p2 = rill::producer();
  CHECK(!p2);
  auto first = c2.poll_wait(1s);
  CHECK(first.ok() && first->sig() == 1);
  EXPECT_ERR(c2.poll_wait(1s), rill::errc::closed);
}

void test_stream_and_views() {
  auto r = std::move(rill::region::create("views", ropts()).value());
  EXPECT_OK(r.create_channel("s", copts(64, 256, 1024)));
  auto p = std::move(r.join_producer("s").value());
  auto c = std::move(r.join_consumer("s").value());
  auto lossy = std::move(r.join_consumer("s", rill::mode::lossy).value());

  // zero copy: reserve, write, commit; poll sees the bytes in place
  auto w = p.reserve(100);
  EXPECT_OK(w);
  CHECK(w->size() == 100);
  for (std::size_t i = 0; i < w->size(); i++) (*w)[i] = std::byte(i * 3);
  EXPECT_OK(p.commit(100, 42, RILL_CTL_MSG | RILL_CTL_USER(5)));
  auto v = c.poll();
  EXPECT_OK(v);
  CHECK(v->sig() == 42 && v->size() == 100 && v->whole());
  CHECK((v->ctl() >> RILL_CTL_USER_SHIFT) == 5);
  bool same = true;
  std::size_t i = 0;
  for (std::byte b : v->data()) same &= b == std::byte(i++ * 3);
  CHECK(same && i == 100);
  auto lv = lossy.poll();
  EXPECT_OK(lv);
  CHECK(!lossy.check(*lv));  // not overwritten

  // commit a part built backwards: 64 bytes in
  auto w2 = p.reserve(256);
  EXPECT_OK(w2);
  std::memcpy(w2->data() + 64, "tail", 4);
  EXPECT_OK(p.commit(w2->subspan(64, 4), 43));
  auto v2 = c.poll();
  EXPECT_OK(v2);
  CHECK(v2->data().str() == "tail");

  // a message larger than the mtu, fragmented, and received whole
  std::vector<std::uint8_t> big(900);
  for (std::size_t k = 0; k < big.size(); k++) big[k] = std::uint8_t(k * 7);
  EXPECT_OK(p.send_wait(big, 44, 1s));
  std::vector<std::uint8_t> got(1024);
  auto m = c.recv_wait(got, 1s);
  EXPECT_OK(m);
  CHECK(m.ok() && m->meta.sig == 44 && m->data.size() == 900 &&
        std::memcmp(m->data.data(), big.data(), 900) == 0);

  // recv_view: one fragment stays in place
  EXPECT_OK(p.send(std::string_view("in place"), 45));
  auto mv = c.recv_view(got);
  EXPECT_OK(mv);
  CHECK(mv.ok() && mv->data.str() == "in place" &&
        (const void *)mv->data.data() != (const void *)got.data());

  // typed values
  struct point {
    double x, y;
    std::uint32_t tag;
  };
  EXPECT_OK(p.send_value(point{1.5, -2, 7}, 46));
  rill::meta meta{};
  auto pt = c.recv_value<point>(&meta);
  EXPECT_OK(pt);
  CHECK(pt.ok() && pt->x == 1.5 && pt->y == -2 && pt->tag == 7 && meta.sig == 46);

  // the lossy consumer lapped: overrun with lost(), then resynchronised
  // (the reliable one holds the producer back: drained as we go)
  for (int k = 0; k < 200; k++) {
    EXPECT_OK(p.send_value(k, 100 + k));
    auto d = c.poll();
    CHECK(d.ok() && d->sig() == std::uint64_t(100 + k));
  }
  auto lp = lossy.poll();
  EXPECT_ERR(lp, rill::errc::overrun);
  CHECK(lossy.lost() > 0);
  EXPECT_OK(lossy.seek_last(1));

  // the consumer's wake-up object (fd on Linux, event HANDLE on Windows):
  // armed, it is not signalled; a publish signals it.  A LAZY producer
  // (every Windows one; docs/PROTOCOL.md §3.7a) that nobody asked to fence
  // yet cannot promise the signal: the first arm asks it and says "read
  // now" (true), and its next publish fences (tests/test_wait.c t_fd).
#ifdef _WIN32
  auto wake = c.handle();
#else
  auto wake = c.fd();
#endif
  EXPECT_OK(wake);
  for (int round = 0; round < 3; round++) {
    while (c.poll().ok()) {
    }
    auto armed = c.arm();
    EXPECT_OK(armed);
    CHECK(armed.ok() && (!*armed || (round == 0 && tucpp_lazy_fence())));
    if (armed.ok() && !*armed) CHECK(!tucpp::wakeup_ready(c, 0));
    EXPECT_OK(p.send_value(round, 1000 + round));
    CHECK(tucpp::wakeup_ready(c, 10000));
    auto last = c.poll();
    EXPECT_OK(last);
    CHECK(last.ok() && last->sig() == std::uint64_t(1000 + round));
  }

  // spin budgets and flushes take durations
  EXPECT_OK(c.set_spin(0s));
  EXPECT_OK(p.set_spin(5us));
  EXPECT_OK(p.set_evict(rill::forever));
  EXPECT_OK(p.flush());
  EXPECT_OK(c.flush());
  auto st = r.stats("s");
  EXPECT_OK(st);
  CHECK(st.ok() && st->mtu == 256 && st->nconsumers == 2);
  auto cs = r.stats("s", c.slot());
  EXPECT_OK(cs);
  CHECK(cs.ok() && cs->mode == RILL_RELIABLE);
}

void test_threads_wait_any() {
  auto r = std::move(rill::region::create("waits", ropts()).value());
  EXPECT_OK(r.create_channel("a", copts(16, 64)));
  EXPECT_OK(r.create_channel("b", copts(16, 64)));
  auto ca = std::move(rill::consumer::join(r, "a").value());
  auto cb = std::move(rill::consumer::join(r, "b").value());
  EXPECT_ERR(rill::wait_any({&ca, &cb}, 5ms), rill::errc::timed_out);
  tucpp::thread t([&r] {
    auto pb = rill::producer::join(r, "b");
    if (!pb) return;
    (void)pb->wait_consumers(1, 5s);
    for (std::uint64_t k = 0; k < 1000; k++) (void)pb->send_value_wait(k, k, 5s);
  });
  auto idx = rill::wait_any({&ca, &cb}, 5s);
  EXPECT_OK(idx);
  CHECK(idx.ok() && *idx == 1);
  std::uint64_t want = 0;
  bool ok = true;
  for (;;) {
    auto v = cb.recv_value_wait<std::uint64_t>(5s);
    if (!v) {
      CHECK(v.error() == rill::errc::closed);
      break;
    }
    ok &= *v == want++;
  }
  t.join();
  CHECK(ok && want == 1000);
}

void test_rpc() {
  auto r = std::move(rill::region::create("rpc", ropts(8 << 20)).value());
  rill::rpc_options so{};
  so.lanes = 2, so.depth = 64, so.mtu = 256;
  EXPECT_OK(r.create_service("svc", so));
  EXPECT_ERR(r.create_service("svc", so), rill::errc::exist);
  auto noh = [](std::uint16_t, rill::const_bytes, rill::bytes) -> rill::result<std::size_t> { return 0; };
  EXPECT_ERR(rill::rpc_server::serve(r, "nope", 1, noh), rill::errc::noent);
  EXPECT_ERR(rill::rpc_server::serve(r, "svc", 3, noh), rill::errc::workers);
  EXPECT_ERR(rill::rpc_server::serve(r, "svc", 0, noh), rill::errc::inval);
  EXPECT_ERR(rill::rpc_client::connect(r, "nope"), rill::errc::noent);

  std::atomic<int> calls{0};
  auto handler = [&calls](std::uint16_t method, rill::const_bytes req,
                          rill::bytes resp) -> rill::result<std::size_t> {
    calls++;
    if (method == 1) {  // echo, reversed
      std::size_t n = req.size();
      for (std::size_t k = 0; k < n; k++) resp[k] = req[n - 1 - k];
      return n;
    }
    if (method == 2) return rill::errc::busy;
    if (method == 3) return std::error_code(5, std::generic_category());
    if (method == 5) return std::error_code(42, rill::rpc_category());  // its own status
#if RILL_HPP_EXCEPTIONS
    if (method == 4) throw std::runtime_error("handler failed");
#endif
    return rill::errc::no_method;
  };
  auto s0 = rill::rpc_server::serve(r, "svc", 2, handler);
  EXPECT_OK(s0);
  rill::rpc_server s = std::move(*s0);
  CHECK(!*s0 && s);
  EXPECT_ERR(rill::rpc_server::serve(r, "svc", 1, noh), rill::errc::busy);

  auto c0 = rill::rpc_client::connect(r, "svc");
  EXPECT_OK(c0);
  rill::rpc_client c = std::move(*c0);
  EXPECT_OK(c.wait_server(5s));
  CHECK(c.capacity() > 0);
  std::array<std::byte, 256> resp{};
  auto rep = c.call(1, std::string_view("abc"), resp, 5s);
  EXPECT_OK(rep);
  CHECK(rep.ok() && rep->status == 0 && rep->data.str() == "cba" && !rep->status_code());
  rep = c.call(2, std::string_view("x"), resp, 5s);
  EXPECT_OK(rep);
  CHECK(rep.ok() && rep->status_code() == rill::errc::busy);
  rep = c.call(3, std::string_view("x"), resp, 5s);
  CHECK(rep.ok() && rep->status == -5);
  // a handler's own status goes as it is, and reads back in rpc_category()
  // (what a C or Go server's positive status reads as, too)
  rep = c.call(5, std::string_view("x"), resp, 5s);
  CHECK(rep.ok() && rep->status == 42 && rep->status_code() &&
        rep->status_code() == std::error_code(42, rill::rpc_category()));
  CHECK(std::string(rill::rpc_category().name()) == "rill.rpc");
#if RILL_HPP_EXCEPTIONS
  rep = c.call(4, std::string_view("x"), resp, 5s);
  CHECK(rep.ok() && rep->status_code() == rill::errc::io);
#endif
  rep = c.call(9, std::string_view("x"), resp, 5s);
  CHECK(rep.ok() && rep->status_code() == rill::errc::no_method);
  std::array<std::byte, 2> tiny{};
  EXPECT_ERR(c.call(1, std::string_view("abcdef"), tiny, 5s), rill::errc::msgsize);
  CHECK(c.needed() == 6);
  auto again = c.recv(resp, 5s);  // the response was kept: received with room
  CHECK(again.ok() && again->data.str() == "fedcba");
  EXPECT_ERR(c.call(RILL_RPC_METHOD_MAX + 1, std::string_view("x"), resp, 5s), rill::errc::inval);

  // asynchronous: zero-copy requests, replies by callback read in place
  const int n = 50;
  int sent = 0, done = 0;
  bool good = true;
  while (done < n) {
    while (sent < n && sent - done < 8) {
      auto buf = c.reserve(64);
      if (!buf) break;
      std::snprintf(reinterpret_cast<char *>(buf->data()), 64, "req%03d", sent);
      auto id = c.commit(1, buf->first(6));
      EXPECT_OK(id);
      sent++;
    }
    auto got = c.poll([&](const rill::rpc_reply &rr) {
      char fwd[8], want[8];
      std::snprintf(fwd, sizeof fwd, "req%03d", done);
      for (int k = 0; k < 6; k++) want[k] = fwd[5 - k];
      bool g = rr.status == 0 && rr.data.str() == std::string_view(want, 6);
      if (!g) std::fprintf(stderr, "reply %d: status %d, %.*s\n", done, rr.status, (int)rr.data.size(), (const char *)rr.data.data());
      good &= g;
      done++;
    });
    EXPECT_OK(got);
    if (!got) break;
  }
  CHECK(good);
  auto id = c.send(1, std::string_view("zz"));
  EXPECT_OK(id);
  auto rcv = c.recv(resp, 5s);
  EXPECT_OK(rcv);
  CHECK(rcv.ok() && rcv->id == *id && rcv->data.str() == "zz");
  EXPECT_ERR(c.recv(resp, 0s), rill::errc::again);  // nothing in flight

  // the server stops: calls fail with server_left
  EXPECT_OK(s.stop());
  CHECK(!s);
  EXPECT_OK(c.send(1, std::string_view("late")));
  EXPECT_ERR(c.recv(resp, 5s), rill::errc::server_left);

  // moved-from client is inert
  EXPECT_ERR(c0->call(1, std::string_view("x"), resp, 0s), rill::errc::inval);
  EXPECT_ERR(c0->wait_server(0s), rill::errc::inval);
  CHECK(c0->capacity() == 0);
  CHECK(calls.load() >= n);
}

void test_durations() {
  CHECK(rill::detail::timeout_ns(rill::forever) == RILL_FOREVER);
  CHECK(rill::detail::timeout_ns(std::chrono::hours::max()) == RILL_FOREVER);
  CHECK(rill::detail::timeout_ns(-5s) == 0);
  CHECK(rill::detail::timeout_ns(0ms) == 0);
  CHECK(rill::detail::timeout_ns(3ms) == 3000000);
  CHECK(rill::detail::timeout_ns(std::chrono::duration<double>(0.5)) == 500000000);
}

void test_bytes() {
  std::vector<std::uint32_t> v{1, 2, 3};
  rill::const_bytes b = v;
  CHECK(b.size() == 12 && (const void *)b.data() == (const void *)v.data());
  rill::bytes wb = v;
  rill::const_bytes cb = wb;
  CHECK(cb.size() == 12);
  std::string s = "hey";
  CHECK(rill::const_bytes(s).str() == "hey");
  CHECK(rill::const_bytes(std::string_view("hey")).size() == 3);
  char arr[5] = {};
  CHECK(rill::bytes(arr).size() == 5);
  static_assert(!std::is_constructible_v<rill::bytes, const std::string &>);
  static_assert(std::is_constructible_v<rill::const_bytes, const std::string &>);
  CHECK(b.subspan(4, 100).size() == 8 && b.subspan(20).empty() && b.first(2).size() == 2);
}

}  // namespace

int main(int argc, char **argv) {
  tucpp_start("test_cpp", 120, argc, argv);
  g_dir = tucpp_dir();
  test_errors_category();
  test_durations();
  test_bytes();
  test_region_errors();
  test_moved_from();
  test_stream_and_views();
  test_threads_wait_any();
  test_rpc();
  std::string msg = failures ? std::to_string(failures) + " checks failed" : "every check";
  return tucpp_end(failures == 0, msg.c_str());
}
