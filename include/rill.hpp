// SPDX-License-Identifier: Apache-2.0 OR MIT
// rill.hpp: the C++17 API of rill, header-only over the C library
// (include/rill.h, include/rill_rpc.h; docs/cpp.md is its guide).
//
// - Handles are RAII types (region, producer, consumer, rpc_client,
//   rpc_server): they move, they do not copy, and the destructor leaves or
//   closes.  A moved-from object is inert: every call on it fails with
//   rill::errc::inval (the C library's answer to a NULL handle), its
//   destructor does nothing.
// - Nothing throws unless asked: a call that can fail returns a
//   rill::result<T> (a T or a std::error_code).  result<T>::value() throws
//   rill::error (a std::system_error) on failure when exceptions are on;
//   check ok() / error() for the exception-free path.  Error codes are of
//   rill::category(), whose message() is rill_strerror(); rill::errc names
//   them (errc::timed_out is RILL_ETIMEDOUT, ...).
// - Zero copy: reserve() gives a writable rill::bytes in the ring; poll()
//   and recv_view() give a view of shared memory valid until the next call
//   on the consumer (a lossy consumer asks check() whether the payload was
//   overwritten while it read it).
// - Waits take std::chrono durations; rill::forever waits without limit,
//   zero or a negative duration looks once.
// - The threading rule of rill.h holds: an endpoint is used by one thread
//   at a time.
#ifndef RILL_HPP
#define RILL_HPP

#if !defined(_MSVC_LANG) && __cplusplus < 201703L
#error "rill.hpp needs C++17 or later (-std=c++17)"
#elif defined(_MSVC_LANG) && _MSVC_LANG < 201703L
#error "rill.hpp needs C++17 or later (/std:c++17)"
#endif

#include "rill.h"
#include "rill_rpc.h"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

#if defined(__cpp_exceptions) || defined(__EXCEPTIONS) || defined(_CPPUNWIND)
#define RILL_HPP_EXCEPTIONS 1
#else
#define RILL_HPP_EXCEPTIONS 0
#endif

namespace rill {

// ---- errors ---------------------------------------------------------------

// The RILL_E* codes, positive, as std::error_code values of rill::category().
enum class errc : int {
  again = RILL_EAGAIN,
  overrun = RILL_EOVERRUN,
  inval = RILL_EINVAL,
  nomem = RILL_ENOMEM,
  noent = RILL_ENOENT,
  exist = RILL_EEXIST,
  acces = RILL_EACCES,
  nodir = RILL_ENODIR,
  nospc = RILL_ENOSPC,
  busy = RILL_EBUSY,
  full = RILL_EFULL,
  empty = RILL_EEMPTY,
  trunc = RILL_ETRUNC,
  magic = RILL_EMAGIC,
  version = RILL_EVERSION,
  corrupt = RILL_ECORRUPT,
  msgsize = RILL_EMSGSIZE,
  timed_out = RILL_ETIMEDOUT,
  io = RILL_EIO,
  closed = RILL_ECLOSED,
  dead = RILL_EDEAD,
  server_dead = RILL_ESRVDEAD,
  server_left = RILL_ESRVLEFT,
  no_method = RILL_ENOMETHOD,
  workers = RILL_EWORKERS,
  no_huge = RILL_ENOHUGE,
};

namespace detail {
class category_impl final : public std::error_category {
 public:
  const char *name() const noexcept override { return "rill"; }
  std::string message(int ev) const override { return rill_strerror(ev); }
};
class rpc_category_impl final : public std::error_category {
 public:
  const char *name() const noexcept override { return "rill.rpc"; }
  std::string message(int ev) const override { return "status " + std::to_string(ev) + " of the server"; }
};
}  // namespace detail

// The category of rill's error codes: message(ev) is rill_strerror(ev).
inline const std::error_category &category() noexcept {
  static const detail::category_impl c;
  return c;
}

// The category of a request/response call's own statuses (rill_rpc.h: a
// handler's "own codes"), which are not rill's: a status S > 0 that a
// server answered reads as std::error_code(S, rpc_category())
// (rpc_reply::status_code()), and a C++ handler that returns such an
// error_code answers with status S as it is, as a C or Go handler that
// returns S does.
inline const std::error_category &rpc_category() noexcept {
  static const detail::rpc_category_impl c;
  return c;
}

inline std::error_code make_error_code(errc e) noexcept {
  return std::error_code(static_cast<int>(e), category());
}

}  // namespace rill

template <>
struct std::is_error_code_enum<rill::errc> : std::true_type {};

namespace rill {

// What the throwing calls throw.
class error : public std::system_error {
 public:
  explicit error(std::error_code ec) : std::system_error(ec) {}
  error(std::error_code ec, const char *what) : std::system_error(ec, what) {}
};

namespace detail {
// A C return code (negative RILL_E*) as an error_code; 0 and counts: none.
inline std::error_code code(long long rc) noexcept {
  return rc < 0 ? std::error_code(static_cast<int>(-rc), category()) : std::error_code();
}

[[noreturn]] inline void raise(std::error_code ec) {
#if RILL_HPP_EXCEPTIONS
  throw error(ec);
#else
  (void)ec;
  std::abort();
#endif
}
}  // namespace detail

// Throws rill::error if EC holds an error (aborts when exceptions are off).
inline void throw_if(std::error_code ec) {
  if (ec) detail::raise(ec);
}

// A T, or the error_code of why there is none.
template <class T>
class [[nodiscard]] result {
  static_assert(!std::is_reference_v<T>, "result<T&> is not supported");

 public:
  result(const T &v) : ok_(true) { ::new (&v_) T(v); }
  result(T &&v) : ok_(true) { ::new (&v_) T(std::move(v)); }
  result(std::error_code ec) : ok_(false), ec_(ec) {}
  result(errc e) : ok_(false), ec_(make_error_code(e)) {}
  result(result &&o) noexcept(std::is_nothrow_move_constructible_v<T>) : ok_(o.ok_), ec_(o.ec_) {
    if (ok_) ::new (&v_) T(std::move(o.v_));
  }
  result(const result &o) : ok_(o.ok_), ec_(o.ec_) {
    if (ok_) ::new (&v_) T(o.v_);
  }
  result &operator=(result o) noexcept(std::is_nothrow_move_constructible_v<T>) {
    if (this != &o) {
      reset();
      ok_ = o.ok_, ec_ = o.ec_;
      if (ok_) ::new (&v_) T(std::move(o.v_));
    }
    return *this;
  }
  ~result() { reset(); }

  bool ok() const noexcept { return ok_; }
  explicit operator bool() const noexcept { return ok_; }
  // The error, or an empty error_code.
  std::error_code error() const noexcept { return ec_; }
  // The value; throws rill::error if there is none.
  T &value() & {
    if (!ok_) detail::raise(ec_);
    return v_;
  }
  const T &value() const & {
    if (!ok_) detail::raise(ec_);
    return v_;
  }
  T &&value() && {
    if (!ok_) detail::raise(ec_);
    return std::move(v_);
  }
  // Unchecked access: only when ok().
  T &operator*() & noexcept { return v_; }
  const T &operator*() const & noexcept { return v_; }
  T &&operator*() && noexcept { return std::move(v_); }
  T *operator->() noexcept { return &v_; }
  const T *operator->() const noexcept { return &v_; }
  template <class U>
  T value_or(U &&alt) const & {
    return ok_ ? v_ : static_cast<T>(std::forward<U>(alt));
  }

 private:
  void reset() noexcept {
    if (ok_) v_.~T();
    ok_ = false;
  }
  bool ok_;
  std::error_code ec_;
  union {
    T v_;
  };
};

// Success, or the error_code of the failure.
template <>
class [[nodiscard]] result<void> {
 public:
  result() noexcept = default;
  result(std::error_code ec) noexcept : ec_(ec) {}
  result(errc e) noexcept : ec_(make_error_code(e)) {}
  bool ok() const noexcept { return !ec_; }
  explicit operator bool() const noexcept { return !ec_; }
  std::error_code error() const noexcept { return ec_; }
  // Throws rill::error on failure.
  void value() const {
    if (ec_) detail::raise(ec_);
  }

 private:
  std::error_code ec_;
};

namespace detail {
inline result<void> status(long long rc) noexcept { return result<void>(code(rc)); }
}  // namespace detail

// ---- bytes ----------------------------------------------------------------

// A minimal span of bytes: B is std::byte (writable) or const std::byte.
// Made from a pointer and a size, or from a contiguous container of
// trivially copyable elements (std::string, std::vector, std::array, a
// C array, std::string_view ...), whose bytes it covers.
template <class B>
class basic_bytes {
  static_assert(std::is_same_v<std::remove_const_t<B>, std::byte>, "a span of std::byte");
  template <class C, class = void>
  struct range_of : std::false_type {};
  template <class C>
  struct range_of<C, std::void_t<decltype(std::data(std::declval<C &>())), decltype(std::size(std::declval<C &>()))>> {
    using elem = std::remove_pointer_t<decltype(std::data(std::declval<C &>()))>;
    static constexpr bool value =
        std::is_trivially_copyable_v<elem> && (std::is_const_v<B> || !std::is_const_v<elem>);
  };

 public:
  using element_type = B;
  using value_type = std::byte;
  using size_type = std::size_t;
  using pointer = B *;
  using iterator = B *;

  constexpr basic_bytes() noexcept = default;
  constexpr basic_bytes(B *p, std::size_t n) noexcept : p_(p), n_(n) {}
  template <class V, std::enable_if_t<std::is_void_v<V> && (std::is_const_v<B> || !std::is_const_v<V>), int> = 0>
  basic_bytes(V *p, std::size_t n) noexcept : p_(static_cast<B *>(p)), n_(n) {}
  // writable bytes convert to read-only ones
  template <class B2, class = std::enable_if_t<std::is_const_v<B> && !std::is_const_v<B2>>>
  constexpr basic_bytes(basic_bytes<B2> o) noexcept : p_(o.data()), n_(o.size()) {}
  template <class C, class R = std::remove_cv_t<std::remove_reference_t<C>>,
            std::enable_if_t<!std::is_same_v<R, basic_bytes> && !std::is_pointer_v<R> &&
                                 range_of<C>::value,
                             int> = 0>
  basic_bytes(C &&c) noexcept
      : p_(reinterpret_cast<B *>(std::data(c))),
        n_(std::size(c) * sizeof(typename range_of<C>::elem)) {}

  constexpr B *data() const noexcept { return p_; }
  constexpr std::size_t size() const noexcept { return n_; }
  constexpr std::size_t size_bytes() const noexcept { return n_; }
  constexpr bool empty() const noexcept { return n_ == 0; }
  constexpr B *begin() const noexcept { return p_; }
  constexpr B *end() const noexcept { return p_ + n_; }
  constexpr B &operator[](std::size_t i) const noexcept { return p_[i]; }
  // Bytes [off, off + n) (clamped to the span).
  constexpr basic_bytes subspan(std::size_t off, std::size_t n = SIZE_MAX) const noexcept {
    off = off < n_ ? off : n_;
    return basic_bytes(p_ + off, n < n_ - off ? n : n_ - off);
  }
  constexpr basic_bytes first(std::size_t n) const noexcept { return subspan(0, n); }
  // The bytes as characters (a view, no copy).
  std::string_view str() const noexcept {
    return std::string_view(reinterpret_cast<const char *>(p_), n_);
  }

 private:
  B *p_ = nullptr;
  std::size_t n_ = 0;
};

using bytes = basic_bytes<std::byte>;
using const_bytes = basic_bytes<const std::byte>;

// The bytes of a trivially copyable object.
template <class T>
const_bytes as_bytes(const T &v) noexcept {
  static_assert(std::is_trivially_copyable_v<T>, "T must be trivially copyable");
  return const_bytes(reinterpret_cast<const std::byte *>(std::addressof(v)), sizeof(T));
}
template <class T>
bytes as_writable_bytes(T &v) noexcept {
  static_assert(std::is_trivially_copyable_v<T>, "T must be trivially copyable");
  return bytes(reinterpret_cast<std::byte *>(std::addressof(v)), sizeof(T));
}

// ---- durations ------------------------------------------------------------

// No time limit.
inline constexpr std::chrono::nanoseconds forever = std::chrono::nanoseconds::max();

namespace detail {
// A duration as the C library's timeout: <= 0 looks once, forever (or more
// nanoseconds than 64 bits hold) is RILL_FOREVER.
template <class Rep, class Period>
std::uint64_t timeout_ns(std::chrono::duration<Rep, Period> d) noexcept {
  using namespace std::chrono;
  if (d <= d.zero()) return 0;
  if (duration<double, std::nano>(d).count() >= 9.2e18) return RILL_FOREVER;
  auto n = duration_cast<nanoseconds>(d).count();
  return n <= 0 ? 0 : static_cast<std::uint64_t>(n);
}
}  // namespace detail

// ---- options --------------------------------------------------------------
// The C structs: zero-initialised ({}) they are the defaults.
using region_options = rill_region_opts;
using channel_options = rill_channel_opts;
using rpc_options = rill_rpc_opts;
using channel_stats = rill_channel_stats;
using consumer_stats = rill_consumer_stats;
using region_info = rill_region_info;
using meta = rill_meta;

enum class mode : int { reliable = RILL_RELIABLE, lossy = RILL_LOSSY };

enum class peer : int {
  none = RILL_PEER_NONE,
  alive = RILL_PEER_ALIVE,
  dead = RILL_PEER_DEAD,
  unknown = RILL_PEER_UNKNOWN,
};

namespace detail {
template <class H, int (*F)(H *)>
struct closer {
  void operator()(H *h) const noexcept { (void)F(h); }
};
}  // namespace detail

class producer;
class consumer;
class rpc_client;
class rpc_server;

// ---- region ---------------------------------------------------------------

class region {
 public:
  region() noexcept = default;
  // Adopts a handle of the C API (closed by this object).
  explicit region(rill_region *r) noexcept : h_(r) {}

  static result<region> create(const char *name, const region_options &o = {}) noexcept {
    rill_region *r = nullptr;
    if (int rc = rill_region_create(name, &o, &r)) return detail::code(rc);
    return region(r);
  }
  static result<region> open(const char *name, const region_options &o = {}) noexcept {
    rill_region *r = nullptr;
    if (int rc = rill_region_open(name, &o, &r)) return detail::code(rc);
    return region(r);
  }
  // Waits up to D for region NAME to appear (rill_region_open_wait).
  template <class Rep, class Period>
  static result<region> open_wait(const char *name, std::chrono::duration<Rep, Period> d,
                                  const region_options &o = {}) noexcept {
    rill_region *r = nullptr;
    if (int rc = rill_region_open_wait(name, &o, detail::timeout_ns(d), &r))
      return detail::code(rc);
    return region(r);
  }
  // Removes region NAME from DIR (nullptr: $RILL_DIR or /dev/shm).
  static result<void> unlink(const char *name, const char *dir = nullptr) noexcept {
    return detail::status(rill_region_unlink(name, dir));
  }

  result<void> create_channel(const char *name, const channel_options &o = {}) noexcept {
    return detail::status(rill_channel_create(h_.get(), name, &o));
  }
  template <class Rep, class Period>
  result<void> wait_channel(const char *name, std::chrono::duration<Rep, Period> d) noexcept {
    return detail::status(rill_channel_wait(h_.get(), name, detail::timeout_ns(d)));
  }
  result<void> create_service(const char *name, const rpc_options &o = {}) noexcept {
    return detail::status(rill_rpc_service_create(h_.get(), name, &o));
  }
  result<region_info> info() noexcept {
    region_info i{};
    if (int rc = rill_region_info_get(h_.get(), &i)) return detail::code(rc);
    return i;
  }
  result<channel_stats> stats(const char *channel) noexcept {
    channel_stats s{};
    if (int rc = rill_channel_stats_get(h_.get(), channel, &s)) return detail::code(rc);
    return s;
  }
  result<consumer_stats> stats(const char *channel, std::uint32_t slot) noexcept {
    consumer_stats s{};
    if (int rc = rill_consumer_stats_get(h_.get(), channel, slot, &s)) return detail::code(rc);
    return s;
  }

  // Joins channel NAME as producer / consumer (also producer::join, ...).
  result<producer> join_producer(const char *name) noexcept;
  result<consumer> join_consumer(const char *name, mode m = mode::reliable) noexcept;

  // Closes now (the destructor does it otherwise).  Endpoints joined
  // through the region stay valid.
  result<void> close() noexcept { return detail::status(rill_region_close(h_.release())); }
  rill_region *get() const noexcept { return h_.get(); }
  rill_region *release() noexcept { return h_.release(); }
  explicit operator bool() const noexcept { return h_ != nullptr; }

 private:
  std::unique_ptr<rill_region, detail::closer<rill_region, rill_region_close>> h_;
};

// ---- producer -------------------------------------------------------------

class producer {
 public:
  producer() noexcept = default;
  explicit producer(rill_producer *p) noexcept : h_(p) {}

  static result<producer> join(region &r, const char *name) noexcept {
    rill_producer *p = nullptr;
    if (int rc = rill_producer_join(r.get(), name, &p)) return detail::code(rc);
    return producer(p);
  }

  // Reserves N bytes (N <= mtu) in the ring: write the payload there, then
  // commit().  errc::again when a reliable consumer has not freed room.
  result<bytes> reserve(std::size_t n) noexcept {
    void *b = nullptr;
    if (int rc = rill_reserve(h_.get(), n, &b)) return detail::code(rc);
    return bytes(static_cast<std::byte *>(b), n);
  }
  template <class Rep, class Period>
  result<bytes> reserve_wait(std::size_t n, std::chrono::duration<Rep, Period> d) noexcept {
    void *b = nullptr;
    if (int rc = rill_reserve_wait(h_.get(), n, &b, detail::timeout_ns(d))) return detail::code(rc);
    return bytes(static_cast<std::byte *>(b), n);
  }
  // Publishes the first N reserved bytes.
  result<void> commit(std::size_t n, std::uint64_t sig, std::uint16_t ctl = RILL_CTL_MSG) noexcept {
    return detail::status(rill_commit(h_.get(), n, sig, ctl));
  }
  // Publishes PART, a part of the reserved bytes that starts a multiple of
  // 64 bytes into them (a payload built backwards from the end).
  result<void> commit(const_bytes part, std::uint64_t sig, std::uint16_t ctl = RILL_CTL_MSG) noexcept {
    return detail::status(rill_commit_at(h_.get(), part.data(), part.size(), sig, ctl));
  }
  result<void> commit_ts(std::size_t n, std::uint64_t sig, std::uint16_t ctl,
                         std::uint32_t tsorig) noexcept {
    return detail::status(rill_commit_ts(h_.get(), n, sig, ctl, tsorig));
  }
  // Copies and publishes one message (fragmented above the mtu).
  result<void> send(const_bytes msg, std::uint64_t sig) noexcept {
    return detail::status(rill_send(h_.get(), msg.data(), msg.size(), sig));
  }
  template <class Rep, class Period>
  result<void> send_wait(const_bytes msg, std::uint64_t sig,
                         std::chrono::duration<Rep, Period> d) noexcept {
    return detail::status(rill_send_wait(h_.get(), msg.data(), msg.size(), sig, detail::timeout_ns(d)));
  }
  // Typed: the bytes of V as one message.
  template <class T>
  result<void> send_value(const T &v, std::uint64_t sig) noexcept {
    static_assert(std::is_trivially_copyable_v<T>, "send_value: T must be trivially copyable");
    return send(as_bytes(v), sig);
  }
  template <class T, class Rep, class Period>
  result<void> send_value_wait(const T &v, std::uint64_t sig,
                               std::chrono::duration<Rep, Period> d) noexcept {
    static_assert(std::is_trivially_copyable_v<T>, "send_value_wait: T must be trivially copyable");
    return send_wait(as_bytes(v), sig, d);
  }
  // Waits until N live consumers are joined; the number joined.
  template <class Rep, class Period>
  result<std::uint32_t> wait_consumers(std::uint32_t n, std::chrono::duration<Rep, Period> d) noexcept {
    int rc = rill_producer_wait_consumers(h_.get(), n, detail::timeout_ns(d));
    if (rc < 0) return detail::code(rc);
    return static_cast<std::uint32_t>(rc);
  }
  template <class Rep, class Period>
  result<void> set_spin(std::chrono::duration<Rep, Period> d) noexcept {
    return detail::status(rill_producer_set_spin(h_.get(), detail::timeout_ns(d)));
  }
  template <class Rep, class Period>
  result<void> set_evict(std::chrono::duration<Rep, Period> d) noexcept {
    return detail::status(rill_producer_set_evict(h_.get(), detail::timeout_ns(d)));
  }
  std::uint64_t seq() const noexcept { return rill_producer_seq(h_.get()); }
  result<void> flush() noexcept { return detail::status(rill_producer_flush(h_.get())); }
  // Leaves now (consumers see errc::closed once they read everything).
  result<void> leave() noexcept { return detail::status(rill_producer_leave(h_.release())); }

  rill_producer *get() const noexcept { return h_.get(); }
  rill_producer *release() noexcept { return h_.release(); }
  explicit operator bool() const noexcept { return h_ != nullptr; }

 private:
  std::unique_ptr<rill_producer, detail::closer<rill_producer, rill_producer_leave>> h_;
};

// ---- consumer -------------------------------------------------------------

// What poll() sees: a descriptor and its payload, in shared memory, valid
// until the next call on the consumer.
class view {
 public:
  view() noexcept = default;
  explicit view(const rill_view &v) noexcept : v_(v) {}
  const_bytes data() const noexcept { return const_bytes(v_.data, v_.sz); }
  std::size_t size() const noexcept { return v_.sz; }
  std::uint64_t seq() const noexcept { return v_.seq; }
  std::uint64_t sig() const noexcept { return v_.sig; }
  std::uint16_t ctl() const noexcept { return v_.ctl; }
  std::uint32_t tsorig() const noexcept { return v_.tsorig; }
  std::uint32_t tspub() const noexcept { return v_.tspub; }
  bool whole() const noexcept { return (v_.ctl & RILL_CTL_MSG) == RILL_CTL_MSG; }
  const rill_view &raw() const noexcept { return v_; }

 private:
  rill_view v_{};
};

// What recv() gives: the message's bytes (in the caller's buffer, or in
// shared memory for recv_view()) and its metadata.
struct message {
  const_bytes data;
  rill::meta meta;
};

class consumer {
 public:
  consumer() noexcept = default;
  explicit consumer(rill_consumer *c) noexcept : h_(c) {}

  static result<consumer> join(region &r, const char *name, mode m = mode::reliable) noexcept {
    rill_consumer *c = nullptr;
    if (int rc = rill_consumer_join(r.get(), name, static_cast<int>(m), &c)) return detail::code(rc);
    return consumer(c);
  }
  static result<consumer> rejoin(region &r, const char *name, std::uint32_t slot) noexcept {
    rill_consumer *c = nullptr;
    if (int rc = rill_consumer_rejoin(r.get(), name, slot, &c)) return detail::code(rc);
    return consumer(c);
  }

  // The next descriptor.  errc::again: nothing yet; errc::overrun: lapped,
  // lost() says how many sequence numbers were skipped.
  result<view> poll() noexcept {
    rill_view v{};
    int rc = rill_poll(h_.get(), &v);
    return finish(rc, v);
  }
  template <class Rep, class Period>
  result<view> poll_wait(std::chrono::duration<Rep, Period> d) noexcept {
    rill_view v{};
    int rc = rill_poll_wait(h_.get(), &v, detail::timeout_ns(d));
    return finish(rc, v);
  }
  // After reading V's payload: an empty error_code if it was not
  // overwritten meanwhile, errc::overrun if it may have been (true: discard
  // what was read).  Reliable consumers need not ask.
  std::error_code check(const view &v) noexcept { return detail::code(rill_check(h_.get(), &v.raw())); }
  // Sequence numbers skipped at the last errc::overrun of poll().
  std::uint64_t lost() const noexcept { return lost_; }

  // The next whole message, copied into BUF.  errc::msgsize: BUF is too
  // small, needed() says how large it must be (the message is kept).
  result<message> recv(bytes buf) noexcept {
    rill_meta m{};
    std::int64_t n = rill_recv(h_.get(), buf.data(), buf.size(), &m);
    return finish(n, buf.data(), m);
  }
  template <class Rep, class Period>
  result<message> recv_wait(bytes buf, std::chrono::duration<Rep, Period> d) noexcept {
    rill_meta m{};
    std::int64_t n = rill_recv_wait(h_.get(), buf.data(), buf.size(), &m, detail::timeout_ns(d));
    return finish(n, buf.data(), m);
  }
  // recv() without the copy where it can: the data may lie in shared
  // memory (valid until the next call on this consumer) or in BUF.
  result<message> recv_view(bytes buf) noexcept {
    rill_meta m{};
    const void *p = nullptr;
    std::int64_t n = rill_recv_view(h_.get(), buf.data(), buf.size(), &m, &p);
    return finish(n, p, m);
  }
  // Bytes the message refused with errc::msgsize needs.
  std::uint64_t needed() const noexcept { return needed_; }

  // Typed: a message of exactly sizeof(T) bytes.  errc::msgsize if the
  // next message is larger (it is kept) or smaller (it is consumed).
  template <class T>
  result<T> recv_value(rill::meta *m = nullptr) noexcept {
    static_assert(std::is_trivially_copyable_v<T>, "recv_value: T must be trivially copyable");
    static_assert(std::is_default_constructible_v<T>, "recv_value: T must be default-constructible");
    T v{};
    return value_of(recv(as_writable_bytes(v)), v, m);
  }
  template <class T, class Rep, class Period>
  result<T> recv_value_wait(std::chrono::duration<Rep, Period> d, rill::meta *m = nullptr) noexcept {
    static_assert(std::is_trivially_copyable_v<T>, "recv_value_wait: T must be trivially copyable");
    static_assert(std::is_default_constructible_v<T>, "recv_value_wait: T must be default-constructible");
    T v{};
    return value_of(recv_wait(as_writable_bytes(v), d), v, m);
  }

#ifndef _WIN32
  // A file descriptor for poll/epoll, readable when this consumer should
  // look again (owned by the consumer: do not close it).  Then arm().
  result<int> fd() noexcept {
    int rc = rill_consumer_fd(h_.get());
    if (rc < 0) return detail::code(rc);
    return rc;
  }
#else
  // Windows: an event HANDLE to wait for, in place of fd().
  result<void *> handle() noexcept {
    void *h = nullptr;
    if (int rc = rill_consumer_handle(h_.get(), &h)) return detail::code(rc);
    return h;
  }
#endif
  // false: armed (wait for the fd or handle); true: read now.
  result<bool> arm() noexcept {
    int rc = rill_consumer_arm(h_.get());
    if (rc < 0) return detail::code(rc);
    return rc == 1;
  }
  // Moves a lossy consumer back over the last N messages in the ring.
  result<std::uint64_t> seek_last(std::uint64_t n) noexcept {
    std::int64_t rc = rill_consumer_seek_last(h_.get(), n);
    if (rc < 0) return detail::code(rc);
    return static_cast<std::uint64_t>(rc);
  }
  template <class Rep, class Period>
  result<void> set_spin(std::chrono::duration<Rep, Period> d) noexcept {
    return detail::status(rill_consumer_set_spin(h_.get(), detail::timeout_ns(d)));
  }
  result<void> flush() noexcept { return detail::status(rill_consumer_flush(h_.get())); }
  peer producer_state() noexcept { return static_cast<peer>(rill_consumer_producer(h_.get())); }
  std::uint32_t slot() const noexcept { return rill_consumer_slot(h_.get()); }
  result<void> leave() noexcept { return detail::status(rill_consumer_leave(h_.release())); }

  rill_consumer *get() const noexcept { return h_.get(); }
  rill_consumer *release() noexcept { return h_.release(); }
  explicit operator bool() const noexcept { return h_ != nullptr; }

 private:
  result<view> finish(int rc, const rill_view &v) noexcept {
    if (rc == -RILL_EOVERRUN) lost_ = v.lost;
    if (rc) return detail::code(rc);
    return view(v);
  }
  result<message> finish(std::int64_t n, const void *p, const rill_meta &m) noexcept {
    if (n == -RILL_EMSGSIZE) needed_ = m.sz;
    if (n < 0) return detail::code(n);
    return message{const_bytes(p, static_cast<std::size_t>(n)), m};
  }
  template <class T>
  result<T> value_of(const result<message> &r, const T &v, rill::meta *m) noexcept {
    if (!r) return r.error();
    if (m) *m = r->meta;
    if (r->data.size() != sizeof(T)) return errc::msgsize;
    return v;
  }

  std::unique_ptr<rill_consumer, detail::closer<rill_consumer, rill_consumer_leave>> h_;
  std::uint64_t lost_ = 0, needed_ = 0;
};

// Waits until one of CS (1..RILL_WAIT_ANY_MAX consumers, each used by this
// thread only) has something to read; its index.
template <class Rep, class Period>
result<std::size_t> wait_any(consumer *const *cs, std::size_t n,
                             std::chrono::duration<Rep, Period> d) noexcept {
  rill_consumer *h[RILL_WAIT_ANY_MAX];
  if (!cs || n == 0 || n > RILL_WAIT_ANY_MAX) return errc::inval;
  for (std::size_t i = 0; i < n; i++) h[i] = cs[i] ? cs[i]->get() : nullptr;
  int rc = rill_wait_any(h, static_cast<std::uint32_t>(n), detail::timeout_ns(d));
  if (rc < 0) return detail::code(rc);
  return static_cast<std::size_t>(rc);
}
template <class Rep, class Period>
result<std::size_t> wait_any(std::initializer_list<consumer *> cs,
                             std::chrono::duration<Rep, Period> d) noexcept {
  return wait_any(cs.begin(), cs.size(), d);
}

inline result<producer> region::join_producer(const char *name) noexcept {
  return producer::join(*this, name);
}
inline result<consumer> region::join_consumer(const char *name, mode m) noexcept {
  return consumer::join(*this, name, m);
}

// ---- request/response -----------------------------------------------------

// A response (rill_rpc_result with its bytes): status is 0 or the error
// code the server answered with (status_code() as an error_code).
struct rpc_reply {
  std::uint64_t id = 0;
  std::uint16_t method = 0;
  std::int32_t status = 0;
  const_bytes data;
  // The server's error as an error_code, empty for status 0: a negative
  // status -E (a RILL_E* code, or a C++ handler's error_code of another
  // category, sent negated) is E of rill::category(); a positive one S, a
  // handler's own status (the C and Go test services' 42, say), is S of
  // rill::rpc_category().
  std::error_code status_code() const noexcept {
    if (status > 0) return std::error_code(status, rpc_category());
    return detail::code(status);
  }
};

class rpc_client {
 public:
  rpc_client() noexcept = default;
  explicit rpc_client(rill_rpc_client *c) noexcept : h_(c) {}

  // Takes the first free lane of service NAME.
  static result<rpc_client> connect(region &r, const char *name) noexcept {
    rill_rpc_client *c = nullptr;
    if (int rc = rill_rpc_connect(r.get(), name, &c)) return detail::code(rc);
    return rpc_client(c);
  }
  template <class Rep, class Period>
  result<void> wait_server(std::chrono::duration<Rep, Period> d) noexcept {
    return detail::status(rill_rpc_wait_server(h_.get(), detail::timeout_ns(d)));
  }
  std::uint32_t capacity() const noexcept { return rill_rpc_capacity(h_.get()); }

  // Sends a request; its id.
  result<std::uint64_t> send(std::uint16_t method, const_bytes req) noexcept {
    std::uint64_t id = 0;
    if (int rc = rill_rpc_send(h_.get(), method, req.data(), req.size(), &id)) return detail::code(rc);
    return id;
  }
  // Zero copy: N bytes of the request ring, then commit() the request
  // built in them (or in a part that starts a multiple of 64 bytes in).
  result<bytes> reserve(std::size_t n) noexcept {
    void *b = nullptr;
    if (int rc = rill_rpc_reserve(h_.get(), n, &b)) return detail::code(rc);
    return bytes(static_cast<std::byte *>(b), n);
  }
  result<std::uint64_t> commit(std::uint16_t method, const_bytes req) noexcept {
    std::uint64_t id = 0;
    if (int rc = rill_rpc_commit(h_.get(), method, req.data(), req.size(), &id))
      return detail::code(rc);
    return id;
  }
  // The next response of a call in flight, into BUF.
  template <class Rep, class Period>
  result<rpc_reply> recv(bytes buf, std::chrono::duration<Rep, Period> d) noexcept {
    rill_rpc_result res{};
    int rc = rill_rpc_recv(h_.get(), buf.data(), buf.size(), &res, detail::timeout_ns(d));
    if (rc == -RILL_EMSGSIZE) needed_ = res.size;
    if (rc) return detail::code(rc);
    return reply(res, buf.data());
  }
  // Responses that have come (up to MAX), without waiting: FN(const
  // rpc_reply &) for each, its data read in place (valid during the call)
  // or gathered in BUF.  How many.
  template <class F>
  result<std::uint32_t> poll(F &&fn, std::uint32_t max = UINT32_MAX, bytes buf = {}) noexcept(
      noexcept(fn(std::declval<const rpc_reply &>()))) {
    using Fn = std::remove_reference_t<F>;
    int rc = rill_rpc_poll(
        h_.get(), buf.data(), buf.size(), max,
        [](void *arg, const rill_rpc_result *res, const void *data) {
          (*static_cast<Fn *>(arg))(reply(*res, data));
        },
        static_cast<void *>(std::addressof(fn)));
    if (rc < 0) return detail::code(rc);
    return static_cast<std::uint32_t>(rc);
  }
  // One call, waiting up to D for its response (in RESP).
  template <class Rep, class Period>
  result<rpc_reply> call(std::uint16_t method, const_bytes req, bytes resp,
                         std::chrono::duration<Rep, Period> d) noexcept {
    rill_rpc_result res{};
    int rc = rill_rpc_call(h_.get(), method, req.data(), req.size(), resp.data(), resp.size(), &res,
                           detail::timeout_ns(d));
    if (rc == -RILL_EMSGSIZE) needed_ = res.size;
    if (rc) return detail::code(rc);
    return reply(res, resp.data());
  }
  // Bytes the response refused with errc::msgsize needs.
  std::uint64_t needed() const noexcept { return needed_; }
  result<void> close() noexcept { return detail::status(rill_rpc_close(h_.release())); }

  rill_rpc_client *get() const noexcept { return h_.get(); }
  rill_rpc_client *release() noexcept { return h_.release(); }
  explicit operator bool() const noexcept { return h_ != nullptr; }

 private:
  static rpc_reply reply(const rill_rpc_result &res, const void *data) noexcept {
    rpc_reply r;
    r.id = res.id, r.method = res.method, r.status = res.status;
    r.data = const_bytes(data, static_cast<std::size_t>(res.size));
    return r;
  }
  std::unique_ptr<rill_rpc_client, detail::closer<rill_rpc_client, rill_rpc_close>> h_;
  std::uint64_t needed_ = 0;
};

// A server of a service: worker threads that call a handler.
//
// The handler is called as  result<std::size_t> h(std::uint16_t method,
// const_bytes request, bytes response)  on a worker thread (several at
// once with several workers): it writes the response into RESPONSE and
// returns its size, or an error sent back to the caller as the call's
// status: errc::no_method for a method it does not serve; an error_code of
// rill::category() is sent as the negative RILL_E* code; one of
// rill::rpc_category() as its value, unchanged (the handler's own status,
// e.g. std::error_code(42, rill::rpc_category()) answers status 42); one
// of another category as the negation of its value.  An exception that
// escapes the handler is answered with errc::io.
class rpc_server {
 public:
  rpc_server() noexcept = default;

  template <class F>
  static result<rpc_server> serve(region &r, const char *name, std::uint32_t workers, F &&handler) noexcept {
    using Fn = std::decay_t<F>;
    static_assert(std::is_invocable_r_v<result<std::size_t>, Fn &, std::uint16_t, const_bytes, bytes>,
                  "handler: result<std::size_t>(std::uint16_t, const_bytes, bytes)");
    std::unique_ptr<holder> h(new (std::nothrow) model<Fn>(std::forward<F>(handler)));
    if (!h) return errc::nomem;
    rill_rpc_server *s = nullptr;
    if (int rc = rill_rpc_serve(r.get(), name, workers, &holder::call, h.get(), &s))
      return detail::code(rc);
    rpc_server out;
    out.s_.reset(s);
    out.h_ = std::move(h);
    return out;
  }
  // Stops the workers (each within 50 ms); the handler is destroyed after.
  result<void> stop() noexcept {
    auto rc = detail::status(rill_rpc_server_stop(s_.release()));
    h_.reset();
    return rc;
  }
  rpc_server(rpc_server &&) noexcept = default;
  rpc_server &operator=(rpc_server &&o) noexcept {
    if (this != &o) {
      (void)stop();
      s_ = std::move(o.s_);
      h_ = std::move(o.h_);
    }
    return *this;
  }
  ~rpc_server() { (void)stop(); }
  rill_rpc_server *get() const noexcept { return s_.get(); }
  explicit operator bool() const noexcept { return s_ != nullptr; }

 private:
  struct holder {
    virtual ~holder() = default;
    virtual result<std::size_t> run(std::uint16_t, const_bytes, bytes) = 0;
    static int call(void *arg, std::uint16_t method, const void *req, std::size_t n, void *resp,
                    std::size_t cap, std::size_t *resp_n) noexcept {
#if RILL_HPP_EXCEPTIONS
      try {
#endif
        result<std::size_t> r = static_cast<holder *>(arg)->run(
            method, const_bytes(req, n), bytes(resp, cap));
        if (!r) {
          int v = r.error().value();
          if (r.error().category() == rpc_category()) return v ? v : -RILL_EIO;
          return v > 0 ? -v : v ? v : -RILL_EIO;
        }
        if (*r > cap) return -RILL_EMSGSIZE;
        *resp_n = *r;
        return 0;
#if RILL_HPP_EXCEPTIONS
      } catch (...) {
        return -RILL_EIO;
      }
#endif
    }
  };
  template <class Fn>
  struct model final : holder {
    template <class G>
    explicit model(G &&g) : fn(std::forward<G>(g)) {}
    result<std::size_t> run(std::uint16_t m, const_bytes q, bytes a) override { return fn(m, q, a); }
    Fn fn;
  };
  std::unique_ptr<rill_rpc_server, detail::closer<rill_rpc_server, rill_rpc_server_stop>> s_;
  std::unique_ptr<holder> h_;
};

}  // namespace rill

#endif
