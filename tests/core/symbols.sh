#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 OR MIT
#
# tests/core/symbols.sh NM LIB HEADER [SANITIZE]: librill_core.a is
# freestanding (include/rill_core.h, docs/PROTOCOL.md §6):
#   - the only symbols its objects leave undefined are memcpy and memset
#     (no __stack_chk_fail, no other libc call, no libgcc helper, no system
#     call wrapper), besides _GLOBAL_OFFSET_TABLE_, which position-
#     independent code may name and the linker itself defines; in a
#     sanitizer build (SANITIZE, the -fsanitize= list, not empty) the
#     sanitizers' runtime entry points (__asan_*, __ubsan_*, __tsan_*,
#     __sanitizer_*) too, which the instrumented core calls;
#   - it defines every function HEADER declares, and no other global
#     symbol (nothing but rill_core_*): a program can link it beside
#     librill.a.
# NM is the toolchain's nm (x86_64-w64-mingw32-nm for the Windows build).
set -eu
nm=$1 lib=$2 header=$3 sanitize=${4:-}
fail() { echo "FAIL: $*"; exit 1; }
[ -s "$lib" ] || fail "no library $lib"

und=$("$nm" -u "$lib" | awk '$1 == "U" || $1 == "w" || $1 == "v" { print $2 }' | sort -u)
echo "undefined in $(basename "$lib"):" $und
allowed='^(memcpy|memset|_GLOBAL_OFFSET_TABLE_)$'
[ -n "$sanitize" ] &&
  allowed='^(memcpy|memset|_GLOBAL_OFFSET_TABLE_|__(asan|ubsan|tsan|sanitizer)_[A-Za-z0-9_]*)$'
bad=$(printf '%s\n' $und | grep -Ev "$allowed" || true)
[ -z "$bad" ] || fail "librill_core.a needs more than memcpy and memset:" $bad

def=$("$nm" -g --defined-only "$lib" | awk 'NF == 3 { print $3 }' | sort -u)
want=$(sed -n 's/^[a-z].*[ *]\(rill_core_[a-z_]*\)(.*/\1/p' "$header" | sort -u)
[ -n "$want" ] || fail "no function declared in $header"
missing=$(printf '%s\n' $want | grep -vxF "$(printf '%s\n' $def)" || true)
[ -z "$missing" ] || fail "declared in $(basename "$header") and not defined:" $missing
extra=$(printf '%s\n' $def | grep -v '^rill_core_' || true)
[ -z "$extra" ] || fail "global symbols outside rill_core_*:" $extra
echo "core symbols: $(printf '%s\n' $want | wc -l) functions defined, nothing undefined but what is allowed"
