#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 OR MIT
# Builds tools/wine/processprng.c with mingw-w64 and installs it as
# bcryptprimitives.dll into the Wine prefix given (or $WINEPREFIX), so that
# Go 1.22+ Windows binaries start under Wine 8.0 (which has no ProcessPrng).
# The prefix must exist (wineboot made it).  Usage:
#   tools/wine/install-processprng.sh [WINEPREFIX]
set -eu
prefix=${1:-${WINEPREFIX:-}}
if [ -z "$prefix" ]; then
  echo "usage: $0 WINEPREFIX" >&2
  exit 2
fi
sys32=$prefix/drive_c/windows/system32
if [ ! -d "$sys32" ]; then
  echo "$0: $sys32: no such directory (make the prefix first: WINEPREFIX=$prefix wineboot -i)" >&2
  exit 1
fi
here=$(cd "$(dirname "$0")" && pwd)
cc=${MINGW_CC:-x86_64-w64-mingw32-gcc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$cc" -O2 -shared -s -o "$tmp/bcryptprimitives.dll" "$here/processprng.c" -ladvapi32
# Wine's own builtin stub (if any) must not win over ours.
cp "$tmp/bcryptprimitives.dll" "$sys32/bcryptprimitives.dll"
echo "installed $sys32/bcryptprimitives.dll"
