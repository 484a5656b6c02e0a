# SPDX-License-Identifier: Apache-2.0 OR MIT
"""The rill command line built for Windows, run under Wine (docs/cli.md,
"On Windows").  ctest runs it in the Windows build:

    wine_cli.py RILL.exe FIXTURE.exe [RUNNER...]

RUNNER (default: wine) runs a Windows program: tools/wine/run in the
build.  A producer and a consumer live in rill_cli_fixture.exe
(tests/cli/fixture.c), driven line by line as tests/cli/test_cli.py does
on Linux; every command of `rill` that makes sense on Windows runs
against them: create, ls, info, monitor --once --json, --prometheus,
tail (the last messages, --follow woken by new ones, stopped by Ctrl-C),
rm (refused while in use, forced, then done), clean (a dead region and
an idle one) and bench.
Exit status 0 pass, 1 fail, 77 skip (no Wine).
"""

import fcntl
import json
import os
import pty
import re
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import termios
import time

DEADLINE = 60.0  # seconds a wait for another process may take (Wine starts slowly)


def fail(msg):
    print("FAIL:", msg, file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


if len(sys.argv) < 3:
    print(__doc__, file=sys.stderr)
    sys.exit(2)
RILL, FIXTURE = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
RUNNER = sys.argv[3:] or ["wine"]
if not shutil.which(RUNNER[0]):
    print(f"SKIP: {RUNNER[0]} not found", file=sys.stderr)
    sys.exit(77)

ENV = dict(os.environ, WINEDEBUG="-all")
ENV.pop("DISPLAY", None)
ENV.pop("WAYLAND_DISPLAY", None)
ENV.pop("RILL_DIR", None)

TMP = tempfile.mkdtemp(prefix="rill-cli-wine-")
# Wine shows the Unix root as drive Z:.
DIR = "Z:" + TMP.replace("/", "\\")


def rill(*args, check_rc=0, dir_=True, env=None):
    """Runs `rill --dir DIR ARGS` under Wine: (stdout, stderr), with \\r\\n
    read as \\n (the CRT writes text mode)."""
    cmd = [*RUNNER, RILL, *(["--dir", DIR] if dir_ else []), *args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=DEADLINE, env=env or ENV)
    out, err = p.stdout.replace("\r\n", "\n"), p.stderr.replace("\r\n", "\n")
    if check_rc is not None and p.returncode != check_rc:
        fail(f"rill {' '.join(args)} -> {p.returncode}, expected {check_rc}\n{out}\n{err}")
    return out, err


def rill_json(*args, **kw):
    return json.loads(rill(*args, **kw)[0])


class Peer:
    """A rill_cli_fixture.exe: live endpoints, driven line by line."""

    def __init__(self):
        self.p = subprocess.Popen([*RUNNER, FIXTURE, DIR], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True, bufsize=1, env=ENV)

    def do(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        ans = self.p.stdout.readline().split()
        check(ans and ans[0] == "ok", f"fixture: {line} -> {ans}")
        return [int(x) for x in ans[1:]]

    def exit(self):
        self.do("exit")
        check(self.p.wait(timeout=DEADLINE) == 0, "fixture exit status")

    def drop(self):
        """Closes its input: it exits without leaving, its endpoints dead."""
        self.p.stdin.close()
        self.p.wait(timeout=DEADLINE)


def wait_for(pred, what):
    end = time.monotonic() + DEADLINE
    while not pred():
        check(time.monotonic() < end, f"timed out waiting for {what}")
        time.sleep(0.05)


def main():
    # ---- the help names the Windows default directory; usage errors are 2
    out, _ = rill("--help", dir_=False)
    check("%LOCALAPPDATA%\\rill" in out, "--help names %LOCALAPPDATA%\\rill\n" + out)
    _, err = rill("ls", "--bogus", check_rc=2)
    check("unknown option '--bogus'" in err, err)

    # ---- create: a region, then a channel in it
    out, _ = rill("create", "md", "--size", "4M")
    check(out == f"created region md (4.00 MiB) in {DIR}\n", out)
    out, _ = rill("create", "md/quotes", "--depth", "256", "--consumers", "4")
    check(out.startswith("created channel md/quotes: depth 256, mtu 1024, 4 consumer slots"), out)
    _, err = rill("create", "md", check_rc=1)
    check("already exists" in err, err)

    # ---- a producer that sent 50, a reliable consumer that read 20
    peer = Peer()
    check(peer.do("producer md/quotes") == [0], "producer")
    check(peer.do("send 0 50") == [50], "send")
    check(peer.do("consumer md/quotes reliable") == [0, 0], "consumer")
    check(peer.do("recv 0 20") == [20], "recv")
    peer.do("flush")

    # ---- ls: the region, alive, with its owner (the RID of the file
    # owner's SID, and the account's name)
    doc = rill_json("ls", "--json")
    check(doc["dir"] == DIR, doc)
    check([r["name"] for r in doc["regions"]] == ["md"], doc)
    r = doc["regions"][0]
    check(r["status"] == "alive" and r["in_use"] is True, r)
    check(r["channels"] == 1 and r["endpoints_alive"] == 2 and r["endpoints_dead"] == 0, r)
    check(r["size"] == 4 << 20 and r["owner_uid"] > 0 and r["owner"], r)
    check(r["owner"] != str(r["owner_uid"]), f"owner not named: {r}")
    out, _ = rill("ls")
    rows = out.splitlines()
    check(rows[0].split()[:3] == ["REGION", "SIZE", "USED"], out)
    check(re.match(r"md +4\.00 MiB .* 1 +alive +2 alive, 0 dead$", rows[1]), out)
    check(r["owner"] in rows[1], out)

    # ---- info: the channel's producer and consumer, as flushed
    ch = rill_json("info", "--json", "md/quotes")["channel"]
    prod = ch["producer"]
    check(ch["depth"] == 256 and ch["max_consumers"] == 4, ch)
    check(prod["state"] == "alive" and prod["seq"] == 50 and prod["msgs"] == 50, prod)
    check(prod["pid"] > 0, prod)
    check(len(ch["consumers"]) == 1, ch)
    c = ch["consumers"][0]
    check(c["slot"] == 0 and c["mode"] == "reliable" and c["state"] == "alive", c)
    check(c["seq"] == 20 and c["lag"] == 30 and c["msgs"] == 20, c)
    out, _ = rill("info", "md/quotes")
    check("producer   alive, pid %d, 1 join, next seq 50" % prod["pid"] in out, out)
    check(re.search(r"\n +0 reliable alive +%d +20 +30 +20 " % c["pid"], out), out)
    out, _ = rill("info", "md")
    check(out.startswith(f"region md in {DIR}\n"), out)
    check(f"owner {r['owner']}" in out, out)

    # ---- monitor --once --json: the same counters; nothing moved during
    # the interval, so every rate is 0
    doc = rill_json("monitor", "--once", "--json", "-i", "0.3", "md/quotes")
    check(doc["dir"] == DIR and doc["interval_s"] >= 0.3, doc)
    mc = doc["regions"][0]["channels"][0]
    check(mc["name"] == "quotes" and mc["producer"]["msgs"] == 50, mc)
    check(mc["producer"]["msgs_per_s"] == 0 and mc["consumers"][0]["msgs_per_s"] == 0, mc)
    check(mc["consumers"][0]["lag"] == 30, mc)
    # the table of --once
    out, _ = rill("monitor", "--once", "-i", "0.2")
    check(re.search(r"\n  producer +alive +\d+ +0 +0B/s +- ", out), out)
    check(re.search(r"\n  consumer 0 reliable +alive +\d+ +0 +0B/s +30 ", out), out)

    # ---- --prometheus: the counters now
    out, _ = rill("monitor", "--prometheus")
    labels = 'region="md",channel="quotes"'
    samples = {}
    for line in out.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    check(samples.get(f"rill_producer_messages_total{{{labels}}}") == 50, out)
    check(samples.get(f"rill_producer_up{{{labels}}}") == 1, out)
    cl = labels + ',slot="0",mode="reliable"'
    check(samples.get(f"rill_consumer_lag_messages{{{cl}}}") == 30, out)
    check(samples.get(f'rill_consumer_latency_seconds_bucket{{{cl},le="+Inf"}}') is not None, out)
    check(samples.get(f"rill_channel_credits_free{{{labels}}}") == 256 - 30, out)
    # --listen: there is no libmicrohttpd in a Windows build, and it says so
    _, err = rill("monitor", "--listen", "127.0.0.1:9464", check_rc=1)
    check("libmicrohttpd" in err, err)

    # ---- tail: the last 3 messages, then --follow woken by new ones
    out, _ = rill("tail", "--last", "3", "md/quotes")
    want = "".join(f"seq {s} sig {s} size {len(f'msg {s}')} ctl 0x0003\n  msg {s}\n"
                   for s in (47, 48, 49))
    check(out == want, out)
    tail = subprocess.Popen([*RUNNER, RILL, "--dir", DIR, "tail", "-f", "-l", "0", "-c", "2",
                             "md/quotes"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=ENV)

    def tail_joined():
        cs = rill_json("info", "--json", "md/quotes")["channel"]["consumers"]
        return any(x["mode"] == "lossy" and x["state"] == "alive" for x in cs)

    wait_for(tail_joined, "tail to join")
    check(peer.do("send 0 2") == [2], "send 2")
    tout, terr = tail.communicate(timeout=DEADLINE)
    check(tail.returncode == 0, f"tail -f -> {tail.returncode}: {terr}")
    tout = tout.replace("\r\n", "\n")
    check(tout == "seq 50 sig 50 size 6 ctl 0x0003\n  msg 50\n"
                  "seq 51 sig 51 size 6 ctl 0x0003\n  msg 51\n", tout)
    # it left its slot
    cs = rill_json("info", "--json", "md/quotes")["channel"]["consumers"]
    check([x["mode"] for x in cs] == ["reliable"], cs)

    # ---- monitor on a terminal (Wine's console over a pseudo-terminal):
    # it draws the screen, and quits on q read from the console's input
    pid, fd = pty.fork()
    if pid == 0:  # a window of 30 rows of 100 columns
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        os.environ.update(ENV)
        os.execvp(RUNNER[0], [*RUNNER, RILL, "--dir", DIR, "monitor", "-i", "0.3"])
    seen, quit_sent, status = b"", False, None
    end = time.monotonic() + DEADLINE
    while status is None:
        check(time.monotonic() < end, f"monitor did not quit on q: {seen[-400:]!r}")
        if select.select([fd], [], [], 0.1)[0]:
            try:
                seen += os.read(fd, 65536)
            except OSError:
                pass
        text = re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]", b"", seen)
        if not quit_sent and b"(q quits)" in text and b"md/quotes" in text:
            os.write(fd, b"q")
            quit_sent = True
        wpid, st = os.waitpid(pid, os.WNOHANG)
        if wpid:
            status = os.waitstatus_to_exitcode(st)
    os.close(fd)
    check(quit_sent and status == 0, f"monitor exit {status}: {seen[-400:]!r}")

    # ---- rm: refused while in use, done once nobody uses the region
    _, err = rill("rm", "md", check_rc=1)
    check("md is in use by a live process (Windows does not say which)" in err, err)
    # --force: removed while in use (its users keep it; nobody new finds it)
    rill("create", "busy", "--size", "1M")
    rill("create", "busy/c", "--depth", "64")
    peer.do("producer busy/c")
    _, err = rill("rm", "busy", check_rc=1)
    check("busy is in use by a live process" in err, err)
    out, _ = rill("rm", "--force", "busy")
    check(out == "removed busy (it was in use)\n", out)
    check([r["name"] for r in rill_json("ls", "--json")["regions"]] == ["md"], "busy listed")

    # ---- Ctrl-C on the console stops tail --follow, which leaves its slot
    pid, fd = pty.fork()
    if pid == 0:
        os.environ.update(ENV)
        os.execvp(RUNNER[0], [*RUNNER, RILL, "--dir", DIR, "tail", "-f", "-l", "1", "md/quotes"])
    seen, status, sent = b"", None, False
    end = time.monotonic() + DEADLINE
    while status is None:
        check(time.monotonic() < end, f"tail did not stop on Ctrl-C: {seen[-400:]!r}")
        if select.select([fd], [], [], 0.1)[0]:
            try:
                seen += os.read(fd, 65536)
            except OSError:
                pass
        # Wine's console draws blanks as cursor moves: look at the letters
        text = re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]", b"", seen).replace(b" ", b"")
        if not sent and b"msg51" in text:
            os.write(fd, b"\x03")
            sent = True
        wpid, st = os.waitpid(pid, os.WNOHANG)
        if wpid:
            status = os.waitstatus_to_exitcode(st)
    os.close(fd)
    check(sent and status == 0, f"tail exit {status} after Ctrl-C: {seen[-400:]!r}")
    cs = rill_json("info", "--json", "md/quotes")["channel"]["consumers"]
    check([x["mode"] for x in cs] == ["reliable"], f"tail's slot after Ctrl-C: {cs}")

    peer.exit()
    out, _ = rill("rm", "md")
    check(out == "removed md\n", out)
    out, _ = rill("ls")
    check(out == f"no regions in {DIR}\n", out)

    # ---- clean: a region whose endpoints died, and an idle one
    rill("create", "gone", "--size", "1M")
    rill("create", "gone/c", "--depth", "64")
    rill("create", "idle", "--size", "1M")
    peer = Peer()
    peer.do("producer gone/c")
    peer.do("send 0 3")
    peer.drop()  # dies without leaving
    doc = rill_json("ls", "--json")
    st = {x["name"]: x["status"] for x in doc["regions"]}
    check(st == {"gone": "dead", "idle": "idle"}, doc)
    out, _ = rill("clean", "--dry-run", "--min-age", "0")
    check(sorted(out.splitlines()) == ["would remove gone", "would remove idle"], out)
    out, _ = rill("clean", "--min-age", "0")
    check(sorted(out.splitlines()) == ["removed gone", "removed idle"], out)
    out, _ = rill("ls")
    check(out == f"no regions in {DIR}\n", out)
    check(os.listdir(TMP) == [], os.listdir(TMP))

    # ---- the default directory: %LOCALAPPDATA%\rill
    doc = rill_json("ls", "--json", dir_=False)
    check(re.search(r"\\AppData\\Local\\rill$", doc["dir"], re.I), doc)

    # ---- bench: rill_bench.exe beside rill.exe runs as a child, its exit
    # status passed on (make bench-build makes it); else a clear failure
    if os.path.exists(os.path.join(os.path.dirname(RILL), "rill_bench.exe")):
        out, _ = rill("bench", "--help")
        check("Usage: rill bench" in out and "usage: rill_bench" in out, out)
        _, err = rill("bench", "--bogus", check_rc=2)
        check("usage: rill_bench" in err, err)
    else:
        _, err = rill("bench", check_rc=1)
        check("cannot run rill_bench" in err, err)
    print("wine_cli: all passed")


try:
    main()
finally:
    shutil.rmtree(TMP, ignore_errors=True)
