#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0 OR MIT
"""Every code block of the README, compiled, and run where it is a program.

    check.py run SRC BUILD SCRATCH     check every block of SRC/README.md
    check.py extract LANG [N]          print the Nth (0) LANG block (for tests/install)

A fenced block's language says what is done with it:

    c      built with $CC against BUILD's librill.a, then run
    cpp    built with $CXX the same way, then run
    go     built and run as a module of its own outside the repository,
           through a go.work, as a user would (tests/go_outside.sh)
    sh     checked by `sh -n`; with <!-- readme: run --> on the line
           before it, also run with `sh -e`, BUILD on PATH

Programs run in SCRATCH with RILL_DIR set there, so their regions go
nowhere else.  A block in any other language, or none, is an error: a
README block that no test reads can rot unseen.  Standard library only.
"""
import os
import re
import shutil
import subprocess
import sys

FENCE = re.compile(r"^```(\S*)\s*$")
RUN_MARK = "<!-- readme: run -->"


def blocks(path):
    """(language, text, line number, run mark) of each fenced block."""
    out = []
    lines = open(path, encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start = i
        mark = start > 0 and lines[start - 1].strip() == RUN_MARK
        i += 1
        body = []
        while i < len(lines) and lines[i].rstrip() != "```":
            body.append(lines[i])
            i += 1
        if i == len(lines):
            raise SystemExit(f"{path}:{start + 1}: block never closed")
        out.append((m.group(1), "\n".join(body) + "\n", start + 1, mark))
        i += 1
    return out


def sh(cmd, **kw):
    print("+ " + (cmd if isinstance(cmd, str) else " ".join(cmd)), flush=True)
    r = subprocess.run(cmd, shell=isinstance(cmd, str), **kw)
    return r.returncode


def flags(var):
    return os.environ.get(var, "").split()


def run(src, build, scratch):
    readme = os.path.join(src, "README.md")
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch)
    env = dict(os.environ, RILL_DIR=scratch, PATH=build + os.pathsep + os.environ["PATH"])
    lib = [os.path.join(build, "librill.a"), "-lpthread"]
    inc = ["-I" + os.path.join(src, "include")]
    failed = []
    seen = 0
    for k, (lang, text, line, mark) in enumerate(blocks(readme)):
        seen += 1
        where = f"README.md:{line} ({lang or 'no language'})"
        d = os.path.join(scratch, f"block{k}")
        os.makedirs(d)
        print(f"== {where}", flush=True)
        if lang in ("c", "cpp"):
            cc = os.environ.get("CC", "cc") if lang == "c" else os.environ.get("CXX", "c++")
            # rill.hpp is C++17: say so, as a user's build must (clang++
            # before 16 defaults to C++14)
            fl = flags("CFLAGS") if lang == "c" else flags("CXXFLAGS") + ["-std=c++17"]
            srcf = os.path.join(d, "main." + lang)
            exe = os.path.join(d, "main")
            open(srcf, "w").write(text)
            rc = sh([cc] + fl + ["-Wall", "-Wextra", "-Werror"] + inc + [srcf, "-o", exe] + lib)
            if rc == 0:
                rc = sh([exe], cwd=d, env=env)
        elif lang == "go":
            main = os.path.join(d, "main.go")
            open(main, "w").write(text)
            rc = sh(["sh", os.path.join(src, "tests", "go_outside.sh"), src, main,
                     os.path.join(d, "module")], env=env)
        elif lang == "sh":
            script = os.path.join(d, "block.sh")
            open(script, "w").write(text)
            rc = sh(["sh", "-n", script])
            if rc == 0 and mark:
                rc = sh(["sh", "-e", script], cwd=d, env=env)
        else:
            print(f"{where}: a block in a language this test does not check")
            rc = 1
        if rc != 0:
            failed.append(where)
    if seen == 0:
        print("no code block found in README.md")
        return 1
    for f in failed:
        print(f"FAILED: {f}")
    print(f"{seen - len(failed)} of {seen} README blocks passed")
    return 1 if failed else 0


def main(argv):
    if len(argv) == 5 and argv[1] == "run":
        return run(os.path.abspath(argv[2]), os.path.abspath(argv[3]), os.path.abspath(argv[4]))
    if len(argv) in (3, 4) and argv[1] == "extract":
        n = int(argv[3]) if len(argv) == 4 else 0
        src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
        found = [b for b in blocks(os.path.join(src, "README.md")) if b[0] == argv[2]]
        if n >= len(found):
            print(f"README.md has no {argv[2]} block number {n}", file=sys.stderr)
            return 1
        sys.stdout.write(found[n][1])
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
