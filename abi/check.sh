#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 OR MIT
#
# librill's ABI (include/rill.h, "ABI"), checked against the lists in this
# directory, which change only on purpose:
#   abi/check.sh symbols LIB   LIB (a built librill.so) exports exactly the
#                              symbols of abi/librill.symbols, every one with
#                              a version, and every function that
#                              include/rill.h and include/rill_rpc.h declare
#   abi/check.sh layout PROG   PROG --layout (test_abi) prints the sizes,
#                              offsets and constants of abi/layout.txt
#   abi/check.sh -u ...        writes the list from LIB or PROG instead, then
#                              checks (after a change made on purpose)
# A difference fails (exit 1) and is printed, with the command that
# accepts it.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
update=0
if [ "${1:-}" = "-u" ]; then
  update=1
  shift
fi
if [ $# -ne 2 ] || { [ "$1" != symbols ] && [ "$1" != layout ]; }; then
  echo "usage: $0 [-u] symbols LIB | [-u] layout PROG" >&2
  exit 2
fi
what=$1
arg=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bad=0

# compare FILE WHAT HOW: compares the list FILE with the fresh one in
# $tmp/now (WHAT names the latter, HOW says how a change made on purpose
# is made); with -u, writes FILE first.
compare() {
  file=$1
  if [ $update = 1 ]; then
    cat "$tmp/now" >"$file"
    echo "wrote $file"
  fi
  [ -f "$file" ] || file=/dev/null
  diff -u "$file" "$tmp/now" >"$tmp/diff" && return 0
  echo "$2 differs from abi/$(basename "$1") (- the list, + the build):"
  tail -n +3 "$tmp/diff" # past the file names
  echo "If the change is meant ($3), accept it with:"
  echo "  sh $here/check.sh -u $what $arg"
  bad=1
}

# Function names that the public headers declare: the Windows-only
# branches of "#ifdef _WIN32" / "#ifndef _WIN32" dropped (this list is
# Linux's), comments dropped, then every lower-case rill_NAME followed by
# "(" (macros are upper case; a pointer typedef's "(*rill_x_fn)(" has ")"
# after the name).
declared() {
  awk '
    /^[ \t]*#[ \t]*if/ {
      d++; br[d] = 0; kind[d] = 0
      if ($0 ~ /^[ \t]*#[ \t]*ifdef[ \t]+_WIN32/) kind[d] = 1
      if ($0 ~ /^[ \t]*#[ \t]*ifndef[ \t]+_WIN32/) kind[d] = 2
      next
    }
    /^[ \t]*#[ \t]*el/ { br[d] = 1; next }
    /^[ \t]*#[ \t]*endif/ { d--; next }
    {
      for (i = 1; i <= d; i++)
        if ((kind[i] == 1 && !br[i]) || (kind[i] == 2 && br[i])) next
      print
    }' "$@" | awk '{
    s = $0; out = ""
    while (s != "") {
      if (incomment) {
        i = index(s, "*/")
        if (!i) { s = ""; break }
        s = substr(s, i + 2); incomment = 0
      } else {
        i = index(s, "/*")
        if (!i) { out = out s; s = ""; break }
        out = out substr(s, 1, i - 1); s = substr(s, i + 2); incomment = 1
      }
    }
    print out
  }' | grep -o 'rill_[a-z0-9_]*[[:space:]]*(' | sed 's/[[:space:]]*($//' | LC_ALL=C sort -u
}

case $what in
symbols)
  [ -f "$arg" ] || { echo "no library $arg" >&2; exit 2; }
  # Defined dynamic symbols as NAME@@VERSION (binutils before 2.35 needs
  # the option to show versions); the "A" lines are the version nodes.
  { nm -D --defined-only --with-symbol-versions "$arg" 2>/dev/null ||
      nm -D --defined-only "$arg"; } |
    awk '$2 != "A" { print $3 }' | LC_ALL=C sort >"$tmp/now"
  compare "$here/librill.symbols" "what $(basename "$arg") exports" \
    "a function added to rill.h, in a node of src/rill.map for the version that adds it"
  if grep -v '@' "$tmp/now" >"$tmp/unversioned"; then
    echo "exported without a version (add them to src/rill.map):"
    sed 's/^/  /' "$tmp/unversioned"
    bad=1
  fi
  declared "$here/../include/rill.h" "$here/../include/rill_rpc.h" >"$tmp/declared"
  sed 's/@.*//' "$tmp/now" | LC_ALL=C sort -u >"$tmp/names"
  if LC_ALL=C comm -23 "$tmp/declared" "$tmp/names" | grep . >"$tmp/missing"; then
    echo "declared in rill.h or rill_rpc.h but not exported (define them, list them in src/rill.map):"
    sed 's/^/  /' "$tmp/missing"
    bad=1
  fi
  [ $bad = 0 ] || exit 1
  echo "$(wc -l <"$tmp/now" | tr -d ' ') exported symbols, all versioned, as listed; every declared function among them"
  ;;
layout)
  "$arg" --layout >"$tmp/out"
  { echo "# SPDX-License-Identifier: Apache-2.0 OR MIT"
    echo "# librill's ABI on 64-bit Linux: each public struct's size and alignment,"
    echo "# each field's offset and size, the value of each constant."
    echo "# Written by: sh abi/check.sh -u layout build/test_abi"
    cat "$tmp/out"; } >"$tmp/now"
  compare "$here/layout.txt" "the layout $(basename "$arg") prints" \
    "a field carved out of a struct's reserved ones, all else in place"
  [ $bad = 0 ] || exit 1
  echo "$(grep -vc '^#' "$tmp/now") lines of layout, as listed"
  ;;
esac
