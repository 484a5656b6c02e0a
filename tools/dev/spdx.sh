#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 OR MIT
#
# Every source file of every language carries the project's license line.
#   tools/dev/spdx.sh          lists the source files that lack it (exit 1 if any)
#   tools/dev/spdx.sh --add    adds it to them, in each language's comment style
# Source files are the tracked files (git ls-files; every file when there is
# no git) that are code or build input, by name or extension, or that start
# with "#!".  Generated files ("Code generated ... DO NOT EDIT.", Cargo's
# "@generated") are left out: their source carries the line.
set -eu
cd "$(dirname "$0")/../.."
LINE='SPDX-License-Identifier: Apache-2.0 OR MIT'
add=0
[ "${1:-}" = "--add" ] && add=1

files() {
  if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files
  else
    find . -type f ! -path './build*' ! -path './.git/*' | sed 's|^\./||'
  fi
}

# The comment that carries LINE in FILE's language, or nothing if FILE is
# not a source file.
style() {
  case "$1" in
    *.c|*.h) echo c ;;
    *.cpp|*.hpp|*.cc|*.go|*.s|*.rs|*.fbs|go.mod|*/go.mod|go.work) echo slash ;;
    *.py|*.sh|*.cmake|*.in|*.toml|*.txt|*.supp|Makefile|*/Makefile|.gitignore|*/.gitignore) echo hash ;;
    *.png|*.json|*.md|*.vec|*.sum|*.lock|LICENSE*|CHANGELOG*) ;;
    *) if head -c 2 "$1" | grep -q '^#!'; then echo hash; fi ;;
  esac
}

missing=0
for f in $(files); do
  [ -f "$f" ] || continue
  s=$(style "$f")
  [ -n "$s" ] || continue
  head -n 5 "$f" | grep -q 'Code generated .* DO NOT EDIT\|@generated' && continue
  head -n 3 "$f" | grep -q "$LINE" && continue
  if [ $add = 0 ]; then
    echo "$f: no '$LINE' in its first lines"
    missing=$((missing + 1))
    continue
  fi
  case $s in
    c) text="/* $LINE */" ;;
    slash) text="// $LINE" ;;
    hash) text="# $LINE" ;;
  esac
  tmp=$(mktemp)
  if head -c 2 "$f" | grep -q '^#!'; then
    { head -n 1 "$f"; echo "$text"; tail -n +2 "$f"; } >"$tmp"
  elif [ "$s" = slash ] && case "$f" in *.go) true ;; *) false ;; esac; then
    # a blank line keeps it out of the package's doc comment
    { echo "$text"; echo; cat "$f"; } >"$tmp"
  else
    { echo "$text"; cat "$f"; } >"$tmp"
  fi
  cat "$tmp" >"$f" # keeps the file's mode
  rm -f "$tmp"
done
if [ $missing -gt 0 ]; then
  echo "$missing source file(s) without the license line: run tools/dev/spdx.sh --add"
  exit 1
fi
[ $add = 1 ] || echo "every source file carries '$LINE'"
