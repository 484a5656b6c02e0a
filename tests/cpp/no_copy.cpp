// SPDX-License-Identifier: Apache-2.0 OR MIT
// Compiled by tests/cpp/no_copy.sh once per CASE: each case copies a
// handle of rill.hpp and must not compile; CASE 0 must.
#include <rill.hpp>

#include <utility>

#ifndef CASE
#define CASE 0
#endif

void f(rill::region &r, rill::producer &p, rill::consumer &c, rill::rpc_client &k, rill::rpc_server &s) {
#if CASE == 0
  rill::region r2 = std::move(r);
  rill::producer p2 = std::move(p);
  rill::consumer c2 = std::move(c);
  rill::rpc_client k2 = std::move(k);
  rill::rpc_server s2 = std::move(s);
#elif CASE == 1
  rill::region r2 = r;
#elif CASE == 2
  rill::producer p2 = p;
#elif CASE == 3
  rill::consumer c2 = c;
#elif CASE == 4
  rill::rpc_client k2 = k;
#elif CASE == 5
  rill::rpc_server s2 = s;
#elif CASE == 6
  rill::region r2;
  r2 = r;
#elif CASE == 7
  rill::consumer c2;
  c2 = c;
#endif
  (void)r, (void)p, (void)c, (void)k, (void)s;
}
