# SPDX-License-Identifier: Apache-2.0 OR MIT
"""Tests of the rill command line (tools/rill, docs/cli.md).

They run the `rill` binary against live channels made by a test producer,
rill_cli_fixture (tests/cli/fixture.c), which the tests drive line by line:
each fixture command answers once it is done, so the tests know what is in
shared memory when they run the command line.  Nothing here sleeps to wait
for something; the few loops that wait for another process watch its
output or its state, with a deadline.

ctest runs them with the paths of the build's programs in RILL_CLI and
RILL_CLI_FIXTURE.
"""

import json
import os
import pty
import re
import select
import shutil
import signal
import struct
import subprocess
import tempfile
import time
import fcntl
import termios

import pyte
import pytest
from prometheus_client.parser import text_string_to_metric_families

RILL = os.environ.get("RILL_CLI", "build/rill")
FIXTURE = os.environ.get("RILL_CLI_FIXTURE", "build/rill_cli_fixture")
DEADLINE = 20.0  # seconds any wait for another process may take


# ---- helpers ---------------------------------------------------------------


@pytest.fixture
def shm():
    """A private region directory under /dev/shm (tmpfs), removed after."""
    d = tempfile.mkdtemp(prefix="rill-cli-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def rill(d, *args, check=None):
    """Runs `rill --dir D ARGS`; CHECK: the exit status expected."""
    p = subprocess.run([RILL, "--dir", d, *args], capture_output=True, text=True, timeout=DEADLINE)
    if check is not None:
        assert p.returncode == check, f"rill {' '.join(args)} -> {p.returncode}\n{p.stdout}\n{p.stderr}"
    return p


def rill_json(d, *args):
    return json.loads(rill(d, *args, check=0).stdout)


class Peer:
    """A rill_cli_fixture process: live endpoints, driven line by line."""

    def __init__(self, d):
        self.p = subprocess.Popen([FIXTURE, d], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True, bufsize=1)
        self.pid = self.p.pid

    def do(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        ans = self.p.stdout.readline().split()
        assert ans and ans[0] == "ok", f"fixture: {line} -> {ans}"
        return [int(x) for x in ans[1:]]

    def exit(self):
        self.do("exit")
        assert self.p.wait(timeout=DEADLINE) == 0

    def kill(self):
        self.p.kill()
        self.p.wait(timeout=DEADLINE)

    def close(self):
        if self.p.poll() is None:
            self.kill()


@pytest.fixture
def peers():
    made = []

    def make(d):
        made.append(Peer(d))
        return made[-1]

    yield make
    for p in made:
        p.close()


def wait_for(pred, what):
    """Polls PRED, a look at another process's state, until it holds."""
    end = time.monotonic() + DEADLINE
    while not pred():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.01)


def channel_of(doc, name):
    for c in doc["channels"]:
        if c["name"] == name:
            return c
    raise KeyError(name)


def consumer_of(ch, slot):
    for c in ch["consumers"]:
        if c["slot"] == slot:
            return c
    raise KeyError(slot)


def quotes(peer, depth=64, mtu=128, slots=4, max_msg=1024):
    """Region md with channels quotes (producer 0, reliable consumer 0 in
    slot 0, lossy consumer 1 in slot 1) and trades (nobody)."""
    peer.do("region md 8388608")
    peer.do(f"channel md/quotes {depth} {mtu} {slots} {max_msg}")
    peer.do("channel md/trades 256 64 2 512")
    assert peer.do("producer md/quotes") == [0]
    assert peer.do("consumer md/quotes reliable") == [0, 0]
    assert peer.do("consumer md/quotes lossy") == [1, 1]


# ---- usage, help, errors ---------------------------------------------------


COMMANDS = ["ls", "info", "monitor", "tail", "clean", "create", "rm", "bench"]


def test_help_and_usage(shm):
    top = rill(shm, "--help", check=0).stdout
    for c in COMMANDS:
        assert re.search(rf"^  {c}\b", top, re.M), c
        out = rill(shm, c, "--help", check=0).stdout
        assert f"Usage: rill {c}" in out
        assert rill(shm, "help", c, check=0).stdout == out
    assert "usage: rill_bench" in rill(shm, "bench", "--help", check=0).stdout
    assert re.match(r"rill \d+\.\d+\.\d+ \(librill \d+\.\d+\.\d+\)$", rill(shm, "--version", check=0).stdout.strip())
    # usage errors: 2, with a pointer to --help
    for args in (["nosuch"], ["ls", "--bogus"], ["info"], ["info", "a/b/c"], ["info", ".hidden"],
                 ["tail", "md"], ["monitor", "--interval", "0"], ["monitor", "--once", "--prometheus"],
                 ["create", "md/ch", "--size", "1M"], ["create", "md", "--depth", "64"],
                 ["create", "md/ch", "--depth", "lots"], ["rm"], ["rm", "md/ch"],
                 ["tail", "md/ch", "--count", "0"]):
        p = rill(shm, *args, check=2)
        assert "Try 'rill" in p.stderr, args
    p = subprocess.run([RILL], capture_output=True, text=True)
    assert p.returncode == 2 and "Usage: rill" in p.stderr
    # help about help
    for args in (["help", "--help"], ["help", "-h"], ["help", "help"], ["help"]):
        assert rill(shm, *args, check=0).stdout == top
    rill(shm, "help", "nosuch", check=2)
    rill(shm, "help", "ls", "info", check=2)


def test_option_errors(shm):
    """An option error is said once (not by getopt and again by rill),
    naming the option."""
    for args, what in ((["ls", "--bogus"], "unknown option '--bogus'"),
                       (["ls", "-x"], "unknown option '-x'"),
                       (["tail", "-fz", "md/ch"], "unknown option '-z'"),
                       (["monitor", "--interval"], "option '--interval' needs a value"),
                       (["monitor", "-i"], "option '-i' needs a value"),
                       (["clean", "--dry-run=1"], "option '--dry-run=1' is unknown or takes no value"),
                       (["--bogus", "ls"], "unknown option '--bogus'")):
        p = rill(shm, *args, check=2)
        lines = p.stderr.splitlines()
        assert len(lines) == 2 and what in lines[0] and lines[1].startswith("Try 'rill"), (args, p.stderr)


def test_dir_has_no_short_option(shm):
    """--dir is the directory everywhere; -d is monitor's delay, as in top."""
    for c in COMMANDS[:-1]:
        assert "-d, --dir" not in rill(shm, c, "--help", check=0).stdout
    assert "-d, --dir" not in rill(shm, "--help", check=0).stdout
    for args in (["-d", shm, "ls"], ["ls", "-d", shm], ["info", "-d", shm, "x"], ["rm", "-d", shm, "x"],
                 ["clean", "-d", shm], ["create", "-d", shm, "x"], ["tail", "-d", shm, "x/y"]):
        p = subprocess.run([RILL, *args], capture_output=True, text=True, timeout=DEADLINE)
        assert p.returncode == 2 and "unknown option '-d'" in p.stderr, args
    rill(shm, "create", "md", "--size", "1M", check=0)
    out = subprocess.run([RILL, "monitor", "--dir", shm, "-d", "0.05", "-n", "2"],
                         capture_output=True, text=True, timeout=DEADLINE, check=True).stdout
    assert out.count("every 0.1s") == 2  # -d 0.05, shown to a tenth
    rill(shm, "monitor", "-d", "0", "-n", "1", check=2)


def test_failures_exit_1(shm):
    p = rill(shm, "info", "nosuch", check=1)
    assert "no such region" in p.stderr
    rill(shm, "tail", "nosuch/ch", check=1)
    rill(shm, "monitor", "--once", "-i", "0.05", "nosuch", check=1)
    # without --once too: it does not loop saying "no such region"
    p = rill(shm, "monitor", "-i", "0.05", "nosuch", check=1)
    assert p.stderr == "rill monitor: nosuch: no such region or channel\n"
    p = rill(shm, "monitor", "-i", "0.05", "--json", "nosuch/ch", check=1)
    assert p.stdout == ""
    rill(shm, "monitor", "--prometheus", "nosuch", check=1)
    rill(shm, "rm", "nosuch", check=1)
    p = rill(os.path.join(shm, "absent"), "ls", check=1)
    assert "directory" in p.stderr
    # a channel option the library refuses: max-msg beyond depth/2 fragments
    rill(shm, "create", "r", check=0)
    rill(shm, "create", "r/c", "--depth", "4", "--mtu", "64", "--max-msg", "1K", check=2)
    # not a region
    with open(os.path.join(shm, "junk"), "w") as f:
        f.write("x" * 5000)
    rill(shm, "info", "junk", check=1)


# ---- create, rm --------------------------------------------------------------


def test_create_and_rm(shm, peers):
    out = rill(shm, "create", "md", "--size", "6M", "--mode", "640", check=0).stdout
    assert "created region md" in out
    st = os.stat(os.path.join(shm, "md"))
    assert st.st_size == 6 << 20 and st.st_mode & 0o7777 == 0o640
    rill(shm, "create", "md/quotes", "--depth", "512", "--mtu", "200", "--consumers", "3",
         "--max-msg", "1000", check=0)
    rill(shm, "create", "md/plain", check=0)
    p = rill(shm, "create", "md/big", "--depth", "64K", check=1)
    assert re.search(r"not enough space .*: it needs 66\.0 MiB, the region has \d.* left", p.stderr)
    doc = rill_json(shm, "info", "--json", "md")
    q = channel_of(doc, "quotes")
    assert (q["depth"], q["mtu"], q["max_consumers"], q["max_msg"]) == (512, 200, 3, 1000)
    p = channel_of(doc, "plain")
    assert (p["depth"], p["mtu"], p["max_consumers"], p["max_msg"]) == (4096, 1024, 8, 16384)
    assert "already exists" in rill(shm, "create", "md/quotes", check=1).stderr
    assert "already exists" in rill(shm, "create", "md", check=1).stderr
    assert "make it first" in rill(shm, "create", "nope/ch", check=1).stderr
    # --huge: refused outside hugetlbfs, saying why, nothing left
    err = rill(shm, "create", "hp", "--huge", check=1).stderr
    assert "rill create: region hp in" in err and "not a hugetlbfs mount" in err
    assert not os.path.exists(os.path.join(shm, "hp"))
    assert "are for regions" in rill(shm, "create", "md/x", "--huge", check=2).stderr
    assert rill_json(shm, "info", "--json", "md")["page_size"] == os.sysconf("SC_PAGE_SIZE")

    # rm: refused while a live process has the region open, unless --force
    peer = peers(shm)
    peer.do("producer md/quotes")
    # it names who holds it: the processes that have it open
    err = rill(shm, "rm", "md", check=1).stderr
    assert err == f"rill rm: md is in use by pid {peer.pid} (rill_cli_fixtur) (--force removes it anyway)\n"
    assert os.path.exists(os.path.join(shm, "md"))
    if os.geteuid() == 0:
        # a user who may not read the holder's /proc entries is told so,
        # not shown a wrong pid
        os.chmod(shm, 0o755)
        os.chmod(os.path.join(shm, "md"), 0o666)
        p = subprocess.run([RILL, "--dir", shm, "rm", "md"], capture_output=True, text=True,
                           timeout=DEADLINE, preexec_fn=lambda: (os.setgid(4242), os.setuid(4242)))
        assert p.returncode == 1 and "in use by a live process that cannot be named" in p.stderr
        assert str(peer.pid) not in p.stderr
        os.chmod(os.path.join(shm, "md"), 0o640)
    peer.exit()
    assert rill(shm, "rm", "md", check=0).stdout == "removed md\n"
    assert not os.path.exists(os.path.join(shm, "md"))
    rill(shm, "create", "busy", check=0)
    rill(shm, "create", "busy/ch", check=0)
    peer = peers(shm)
    peer.do("producer busy/ch")
    assert "was in use" in rill(shm, "rm", "--force", "busy", check=0).stdout
    assert not os.path.exists(os.path.join(shm, "busy"))


def test_rm_only_fifos_of_the_owner(shm):
    """rm removes the region's FIFOs, not a file someone else named like
    one (as root, rm once removed any .rill-fifo@NAME@* entry)."""
    rill(shm, "create", "R", check=0)
    fifo = os.path.join(shm, ".rill-fifo@R@c@0")
    os.mkfifo(fifo, 0o600)
    plain = os.path.join(shm, ".rill-fifo@R@x@0")
    with open(plain, "w") as f:
        f.write("someone's notes\n")
    other = os.path.join(shm, ".rill-fifo@R@y@1")
    os.mkfifo(other, 0o600)
    if os.geteuid() == 0:
        os.chown(plain, 4242, -1)
        os.chown(other, 4242, -1)
    assert rill(shm, "rm", "R", check=0).stdout == "removed R\n"
    assert not os.path.exists(os.path.join(shm, "R")) and not os.path.exists(fifo)
    assert open(plain).read() == "someone's notes\n"
    if os.geteuid() == 0:
        assert os.path.exists(other)


# ---- ls ------------------------------------------------------------------------


def three_regions(shm, peers):
    """md, in use (quotes()); gone, whose producer and consumer died; idle,
    which everyone left; and a file that is not a region.  Returns md's
    peer."""
    live = peers(shm)
    quotes(live)
    dead = peers(shm)
    dead.do("region gone 4194304")
    dead.do("channel gone/ch 64 64 2 256")
    dead.do("producer gone/ch")
    dead.do("consumer gone/ch reliable")
    dead.kill()  # its endpoints stay joined, their locks gone
    idle = peers(shm)
    idle.do("region idle 4194304")
    idle.exit()
    with open(os.path.join(shm, "notes.txt"), "w") as f:
        f.write("not a region\n" * 1000)
    return live


def test_ls(shm, peers):
    assert "no regions" in rill(shm, "ls", check=0).stdout
    live = three_regions(shm, peers)

    doc = rill_json(shm, "ls", "--json")
    assert doc["dir"] == shm
    regions = {r["name"]: r for r in doc["regions"]}
    assert sorted(regions) == ["gone", "idle", "md"]
    md = regions["md"]
    assert md["status"] == "alive" and md["in_use"] is True
    assert (md["size"], md["channels"]) == (8 << 20, 2)
    assert (md["endpoints_alive"], md["endpoints_dead"]) == (3, 0)
    assert md["owner_uid"] == os.getuid() and md["creator_pid"] == live.pid
    assert 0 <= md["age_s"] < 600
    assert md["used"] > 4096 and md["used"] <= md["size"]
    g = regions["gone"]
    assert g["status"] == "dead" and g["in_use"] is False
    assert (g["endpoints_alive"], g["endpoints_dead"]) == (0, 2)
    i = regions["idle"]
    assert i["status"] == "idle" and (i["channels"], i["endpoints_dead"]) == (0, 0)

    text = rill(shm, "ls", check=0).stdout.splitlines()
    assert text[0].split()[:3] == ["REGION", "SIZE", "USED"]
    rows = {line.split()[0]: line for line in text[1:]}
    assert sorted(rows) == ["gone", "idle", "md"]
    assert "alive" in rows["md"] and "3 alive, 0 dead" in rows["md"]
    assert "dead" in rows["gone"] and "0 alive, 2 dead" in rows["gone"]
    # the directory as the argument
    assert rill_json("/nonexistent", "ls", "--json", shm)["dir"] == shm


def test_owner_is_the_files(shm, peers):
    """OWNER is the file's owner, not the header's creator_uid, which
    whoever can write the file can change (issue 18, item 12)."""
    peer = peers(shm)
    quotes(peer)
    path = os.path.join(shm, "md")
    with open(path, "r+b") as f:  # the header's creator_uid, at offset 36
        f.seek(36)
        f.write(struct.pack("=I", 4242))
    md = rill_json(shm, "ls", "--json")["regions"][0]
    assert (md["owner_uid"], md["creator_uid"]) == (os.getuid(), 4242)
    doc = rill_json(shm, "info", "--json", "md")
    assert (doc["owner_uid"], doc["creator_uid"]) == (os.getuid(), 4242)
    if os.getuid() == 0:
        os.chown(path, 4343, -1)
        assert rill_json(shm, "ls", "--json")["regions"][0]["owner_uid"] == 4343
        assert "4343" in rill(shm, "ls", check=0).stdout.splitlines()[1].split()


def test_read_only_user(shm, peers):
    """Another user looks at a region made readable to it (0644): ls, info
    and monitor open it read-only (issue 18, item 14)."""
    if os.getuid() != 0:
        pytest.skip("needs root, to act as another user")
    peer = peers(shm)
    quotes(peer)
    assert peer.do("send 0 5") == [5]
    peer.do("flush")
    os.chmod(shm, 0o755)
    os.chmod(os.path.join(shm, "md"), 0o644)

    def nobody():
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)

    def run(*args):
        p = subprocess.run([RILL, "--dir", shm, *args], capture_output=True, text=True,
                           timeout=DEADLINE, preexec_fn=nobody)
        assert p.returncode == 0, f"rill {' '.join(args)} -> {p.returncode}\n{p.stderr}"
        return p.stdout

    md = json.loads(run("ls", "--json"))["regions"][0]
    assert (md["name"], md["status"], md["owner_uid"]) == ("md", "alive", 0)
    assert md["endpoints_alive"] == 3
    ch = json.loads(run("info", "--json", "md/quotes"))["channel"]
    assert (ch["producer"]["state"], ch["producer"]["msgs"]) == ("alive", 5)
    assert "md/quotes" in run("info", "md/quotes")
    assert json.loads(run("monitor", "--once", "-i", "0.05", "--json"))


# ---- info -----------------------------------------------------------------------


def test_info_channel(shm, peers):
    peer = peers(shm)
    quotes(peer, depth=64)
    assert peer.do("send 0 50") == [50]
    assert peer.do("recv 0 30") == [30]
    peer.do("flush")
    doc = rill_json(shm, "info", "--json", "md/quotes")
    assert doc["region"] == "md"
    ch = doc["channel"]
    assert (ch["name"], ch["depth"], ch["mtu"], ch["max_consumers"], ch["max_msg"]) == \
        ("quotes", 64, 128, 4, 1024)
    lay = ch["layout"]
    # PROTOCOL.md section 2
    assert lay["offset"] == 4096 and lay["seq0"] == 0
    assert lay["meta_off"] == 12288 + 4 * 4096
    assert lay["data_off"] == lay["meta_off"] + 4096
    assert lay["data_chunks"] == (64 + 2) * 2
    assert lay["size"] == lay["data_off"] + 12288
    pr = ch["producer"]
    assert (pr["state"], pr["pid"], pr["joins"], pr["seq"], pr["msgs"]) == ("alive", peer.pid, 1, 50, 50)
    assert pr["bytes"] == sum(len(f"msg {i}") for i in range(50))
    assert pr["backpressure"] == 0 and pr["evictions"] == 0
    assert 0 <= pr["heartbeat_age_s"] < 600
    rel, lossy = consumer_of(ch, 0), consumer_of(ch, 1)
    assert (rel["mode"], rel["state"], rel["pid"], rel["seq"], rel["lag"], rel["msgs"]) == \
        ("reliable", "alive", peer.pid, 30, 20, 30)
    assert (lossy["mode"], lossy["state"], lossy["seq"], lossy["lag"], lossy["msgs"]) == \
        ("lossy", "alive", 0, 50, 0)
    assert rel["evicted"] is False and rel["parked"] is False

    # backpressure: the reliable consumer holds the producer to a ring's worth
    assert peer.do("send 0 100") == [64 - 20]
    # the lossy consumer, still at 0, was lapped: slot 0 holds 64 now
    rc, lost = peer.do("poll 1")
    assert (rc, lost) == (-2, 64)  # -RILL_EOVERRUN
    peer.do("flush")
    ch = rill_json(shm, "info", "--json", "md/quotes")["channel"]
    assert ch["producer"]["backpressure"] >= 1 and ch["producer"]["seq"] == 94
    lossy = consumer_of(ch, 1)
    assert (lossy["overruns_poll"], lossy["lost"], lossy["seq"], lossy["lag"]) == (1, 64, 64, 30)

    # the text form carries the same
    text = rill(shm, "info", "md/quotes", check=0).stdout
    assert "channel md/quotes" in text and "meta ring: 64 descriptors" in text
    assert re.search(rf"producer\s+alive, pid {peer.pid}, 1 join, next seq 94", text)
    assert re.search(r"^\s+0 reliable\s+alive\s+\d+\s+30\s+64\s+30\b", text, re.M)
    assert re.search(r"^\s+1 lossy\s+alive\s+\d+\s+64\s+30\s+0\s+0 B\s+1\s+0\s+64\b", text, re.M)

    # a dead consumer and producer are shown as dead
    peer.kill()
    ch = rill_json(shm, "info", "--json", "md/quotes")["channel"]
    assert ch["producer"]["state"] == "dead"
    assert [c["state"] for c in ch["consumers"]] == ["dead", "dead"]
    reg = rill_json(shm, "info", "--json", "md")
    assert reg["status"] == "dead" and [c["name"] for c in reg["channels"]] == ["quotes", "trades"]


# ---- monitor -----------------------------------------------------------------------


def test_info_consumer_never_ahead(shm, peers):
    """The producer flushes its sequence number lazily, a consumer when
    asked: info must not show a consumer ahead of its producer."""
    peer = peers(shm)
    quotes(peer)
    peer.do("flush")
    assert peer.do("send 0 20") == [20]  # not flushed by the producer
    assert peer.do("recv 0 20") == [20]
    peer.do("flushc 0")
    ch = rill_json(shm, "info", "--json", "md/quotes")["channel"]
    c0 = consumer_of(ch, 0)
    assert c0["seq"] == 20
    assert ch["producer"]["seq"] >= 20 and c0["lag"] == ch["producer"]["seq"] - 20
    for c in ch["consumers"]:
        assert c["seq"] + c["lag"] == ch["producer"]["seq"]
    out = rill(shm, "info", "md/quotes", check=0).stdout
    assert re.search(r"next seq (\d+)", out)[1] == str(ch["producer"]["seq"])
    region = rill_json(shm, "info", "--json", "md")
    assert channel_of(region, "quotes")["producer"]["seq"] == ch["producer"]["seq"]


def test_monitor_once_json(shm, peers):
    peer = peers(shm)
    quotes(peer, depth=1024)
    assert peer.do("send 0 40") == [40]
    peer.do("flush")          # a heartbeat flush: the next message is sampled
    assert peer.do("recv 0 40") == [40]
    peer.do("flush")
    doc = rill_json(shm, "monitor", "--once", "--json", "-i", "0.1")
    assert doc["dir"] == shm and 0.09 < doc["interval_s"] < 10
    [md] = doc["regions"]
    q = channel_of(md, "quotes")
    assert (q["producer"]["msgs"], q["producer"]["msgs_per_s"]) == (40, 0)  # idle in the interval
    rel = consumer_of(q, 0)
    assert (rel["msgs"], rel["lag"], rel["msgs_per_s"], rel["overruns_per_s"]) == (40, 0, 0, 0)
    lat = rel["latency"]
    assert lat["samples"] == 1
    assert 0 < lat["p50_ns"] <= lat["p99_ns"] < 10**9
    assert rel["latency_window"]["samples"] == 0 and rel["latency_window"]["p50_ns"] is None
    assert consumer_of(q, 1)["latency"]["samples"] == 0
    # one channel only
    doc = rill_json(shm, "monitor", "--once", "--json", "-i", "0.05", "md/trades")
    assert [c["name"] for c in doc["regions"][0]["channels"]] == ["trades"]


def test_monitor_rates(shm, peers):
    """Every line's rates are the counters' differences over its interval,
    and they add up to what the fixture did after the first reading,
    however its work falls across the readings."""
    peer = peers(shm)
    quotes(peer, depth=1024)
    m = subprocess.Popen([RILL, "--dir", shm, "monitor", "--json", "-i", "0.1"],
                         stdout=subprocess.PIPE, text=True)
    sent_bytes = sum(len(f"msg {i}") for i in range(300))
    want = {"prod_msgs": 300, "prod_bytes": sent_bytes, "rel_msgs": 300, "lossy_msgs": 1}
    try:
        first = json.loads(m.stdout.readline())  # the first reading is taken
        assert "interval_s" not in first
        assert peer.do("send 0 300") == [300]
        peer.do("flush")          # a heartbeat flush: the next message is sampled
        assert peer.do("recv 0 300") == [300]
        assert peer.do("poll 1") == [0, 0]
        peer.do("flush")

        def counts(doc):
            q = channel_of(doc["regions"][0], "quotes")
            return q, {"prod_msgs": q["producer"]["msgs"], "prod_bytes": q["producer"]["bytes"],
                       "rel_msgs": consumer_of(q, 0)["msgs"], "lossy_msgs": consumer_of(q, 1)["msgs"]}
        prev, summed, samples = counts(first)[1], dict.fromkeys(want, 0), 0
        end = time.monotonic() + DEADLINE
        while summed != want:
            assert time.monotonic() < end, f"the rates add up to {summed}, not {want}"
            doc = json.loads(m.stdout.readline())
            dt = doc["interval_s"]
            q, now = counts(doc)
            rates = {"prod_msgs": q["producer"]["msgs_per_s"],
                     "prod_bytes": q["producer"]["bytes_per_s"],
                     "rel_msgs": consumer_of(q, 0)["msgs_per_s"],
                     "lossy_msgs": consumer_of(q, 1)["msgs_per_s"]}
            for k in want:
                assert round(rates[k] * dt) == now[k] - prev[k], (k, rates[k], dt, now[k], prev[k])
                summed[k] += now[k] - prev[k]
            samples += consumer_of(q, 0)["latency_window"]["samples"]
            prev = now
        assert samples >= 1
    finally:
        m.send_signal(signal.SIGTERM)
        assert m.wait(timeout=DEADLINE) == 0


def drive_quotes(peer):
    """quotes(), then: 30 sent and read by the reliable consumer, 64 more,
    the lossy one lapped (64 lost)."""
    quotes(peer, depth=64)
    assert peer.do("send 0 30") == [30]
    for _ in range(3):
        peer.do("flush")
        assert peer.do("recv 0 10") == [10]
    peer.do("flush")
    assert peer.do("send 0 100") == [64]   # 30 sent, 30 read: room for 64
    assert peer.do("poll 1")[1] == 64      # lapped: 64 lost
    peer.do("flush")


def test_prometheus(shm, peers):
    peer = peers(shm)
    drive_quotes(peer)
    text = rill(shm, "monitor", "--prometheus", check=0).stdout
    fams = {f.name: f for f in text_string_to_metric_families(text)}

    def value(name, **labels):
        found = [s.value for f in fams.values() for s in f.samples
                 if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]
        assert len(found) == 1, (name, labels, found)
        return found[0]

    qs = dict(region="md", channel="quotes")
    assert value("rill_channel_depth", **qs) == 64
    assert value("rill_channel_depth", region="md", channel="trades") == 256
    assert value("rill_producer_up", **qs) == 1
    assert value("rill_producer_up", region="md", channel="trades") == 0
    assert value("rill_producer_messages_total", **qs) == 94
    assert value("rill_producer_sequence", **qs) == 94
    assert value("rill_producer_backpressure_total", **qs) >= 1
    rel = dict(qs, slot="0", mode="reliable")
    assert value("rill_consumer_up", **rel) == 1
    assert value("rill_consumer_messages_total", **rel) == 30
    assert value("rill_consumer_lag_messages", **rel) == 64
    lossy = dict(qs, slot="1", mode="lossy")
    assert value("rill_consumer_overruns_total", kind="poll", **lossy) == 1
    assert value("rill_consumer_overruns_total", kind="read", **lossy) == 0
    assert value("rill_consumer_lost_messages_total", **lossy) == 64
    assert fams["rill_consumer_latency_seconds"].type == "histogram"
    # samples come from stamped messages only (docs/PROTOCOL.md 2.4): of
    # the 30 read, seq 0 alone carries a stamp (the producer's first publish,
    # and a multiple of 64); the flushes' asks stamp later publishes
    n = value("rill_consumer_latency_seconds_count", **rel)
    assert n == 1
    assert value("rill_consumer_latency_seconds_count", **lossy) == 0
    buckets = sorted((float(s.labels["le"]), s.value) for s in fams["rill_consumer_latency_seconds"].samples
                     if s.name.endswith("_bucket") and s.labels["slot"] == "0")
    assert buckets[-1] == (float("inf"), n) and len(buckets) == 27
    assert all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:]))
    assert 0 < value("rill_consumer_latency_seconds_sum", **rel) < 3
    assert fams["rill_producer_messages"].type == "counter"


def screen_of(cols=150, rows=40):
    screen = pyte.Screen(cols, rows)
    return screen, pyte.ByteStream(screen)


def read_until(fd, stream, screen, pred, what):
    """Feeds the pty's output to the screen until PRED(screen) holds."""
    end = time.monotonic() + DEADLINE
    while not pred(screen):
        left = end - time.monotonic()
        assert left > 0, f"{what}; the screen shows:\n" + "\n".join(screen.display)
        r, _, _ = select.select([fd], [], [], left)
        if r:
            try:
                data = os.read(fd, 65536)
            except OSError:
                data = b""
            assert data, f"{what}: the monitor ended; the screen shows:\n" + "\n".join(screen.display)
            stream.feed(data)


def test_monitor_screen(shm, peers):
    """monitor draws its table on a terminal, refreshes it, and quits on q."""
    peer = peers(shm)
    quotes(peer, depth=1024)
    assert peer.do("send 0 25") == [25]
    assert peer.do("recv 0 5") == [5]
    peer.do("flush")
    pid, fd = pty.fork()
    if pid == 0:  # the child: a terminal of 40 rows of 150 columns
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 150, 0, 0))
        os.environ["TERM"] = "xterm"
        os.execv(RILL, [RILL, "--dir", shm, "monitor", "-i", "0.2"])
    try:
        screen, stream = screen_of()

        def row(screen, start):
            for line in screen.display:
                if line.strip().startswith(start):
                    return line.split()
            return None

        expected = ["md/quotes", "producer", "consumer 0 reliable", "consumer 1 lossy",
                    "md/trades", "producer"]

        def names(screen):
            return [line.strip().split("  ")[0] for line in screen.display[3:] if line.strip()]

        def drawn(screen):
            # A whole frame (the output comes in pieces), with the consumer's
            # CONSUMER N MODE STATE PID MSG/S BYTES/S LAG ...
            r = row(screen, "consumer 0 reliable")
            return names(screen) == expected and r[4] == str(peer.pid) and r[7] == "20"  # lag
        read_until(fd, stream, screen, drawn, "the rows")
        lines = [line.rstrip() for line in screen.display]
        assert lines[0].startswith(f"rill monitor  {shm}") and "(q quits)" in lines[0]
        assert "1 region, 2 channels" in lines[0]
        assert row(screen, "CHANNEL / ENDPOINT")[:5] == ["CHANNEL", "/", "ENDPOINT", "STATE", "PID"]
        assert row(screen, "producer")[1:3] == ["alive", str(peer.pid)]
        assert row(screen, "consumer 1 lossy")[3:5] == ["alive", str(peer.pid)]

        # the next refreshes show what changed
        assert peer.do("recv 0 20") == [20]
        peer.do("flush")
        read_until(fd, stream, screen, lambda s: row(s, "consumer 0 reliable")[7] == "0",
                   "the lag going to 0")
        peer.kill()
        read_until(fd, stream, screen, lambda s: row(s, "consumer 0 reliable")[3] == "dead",
                   "the consumer shown dead")
        assert row(screen, "producer")[1] == "dead"

        os.write(fd, b"q")
        end = time.monotonic() + DEADLINE
        while True:
            wpid, status = os.waitpid(pid, os.WNOHANG)
            if wpid:
                break
            assert time.monotonic() < end, "monitor did not quit on q"
            r, _, _ = select.select([fd], [], [], 0.1)
            if r:
                try:
                    stream.feed(os.read(fd, 65536))
                except OSError:
                    pass
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
        pid = 0
    finally:
        if pid:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)


def test_monitor_batch(shm, peers):
    """Not on a terminal: a plain table per interval, no escape codes."""
    peer = peers(shm)
    quotes(peer)
    out = rill(shm, "monitor", "-i", "0.05", "-n", "2", check=0).stdout
    assert "\x1b" not in out
    assert out.count("rill monitor") == 2 and out.count("consumer 1 lossy") == 2
    # a terminal 80 wide (rows cut at 80) shows every column up to P99
    header = [line for line in out.splitlines() if line.startswith("CHANNEL / ENDPOINT")][0]
    assert header[:80].split()[8:10] == ["P50", "P99"], header
    rows = [line for line in out.splitlines() if line.startswith("  consumer ")]
    assert rows
    for row in rows:
        assert row[:80].split()[:10] == row.split()[:10], row  # "consumer N MODE" and 7 cells


# ---- tail --------------------------------------------------------------------------


def tail_messages(out):
    """(seq, sig, size, payload text) of each message tail printed."""
    msgs = []
    for line in out.splitlines():
        m = re.match(r"seq (\d+) sig (\d+) size (\d+) ctl 0x([0-9a-f]{4})", line)
        if m:
            msgs.append([int(m[1]), int(m[2]), int(m[3]), None])
        elif line.startswith("  ") and msgs and msgs[-1][3] is None:
            msgs[-1][3] = line[2:]
    return [tuple(x) for x in msgs]


def test_tail(shm, peers):
    peer = peers(shm)
    quotes(peer, depth=64, mtu=128, max_msg=1024)
    assert peer.do("send 0 20") == [20]
    out = rill(shm, "tail", "md/quotes", check=0).stdout  # the last 10
    assert tail_messages(out) == [(i, i, len(f"msg {i}"), f"msg {i}") for i in range(10, 20)]
    out = rill(shm, "tail", "--last", "3", "md/quotes", check=0).stdout
    assert [m[1] for m in tail_messages(out)] == [17, 18, 19]
    out = rill(shm, "tail", "-l", "5", "-c", "2", "md/quotes", check=0).stdout
    assert [m[1] for m in tail_messages(out)] == [15, 16]
    assert rill(shm, "tail", "-l", "0", "md/quotes", check=0).stdout == ""
    # a message of several fragments comes whole; --max-bytes cuts the print
    assert peer.do("send 0 1 300") == [1]
    out = rill(shm, "tail", "-l", "1", "-b", "16", "md/quotes", check=0).stdout
    [(seq, sig, size, text)] = tail_messages(out)
    assert (sig, size, text) == (20, 300, "msg 20msg 20msg ")
    assert "... 284 more bytes" in out
    # binary payloads come as a hex dump; --text forces text
    peer.do("sendbin 0 1")
    out = rill(shm, "tail", "-l", "1", "md/quotes", check=0).stdout
    assert "00 01 02 03 04 05 06 07  ff" in out and "|........." in out
    out = rill(shm, "tail", "-l", "1", "--text", "md/quotes", check=0).stdout
    assert tail_messages(out)[0][3] == "\\x00\\x01\\x02\\x03\\x04\\x05\\x06\\x07\\xff"
    out = rill(shm, "tail", "-l", "2", "--hex", "md/quotes", check=0).stdout
    assert "6d 73 67 20 32 30" in out  # "msg 20"
    # tail never slows the producer: it is a lossy consumer, and it left
    ch = rill_json(shm, "info", "--json", "md/quotes")["channel"]
    assert [c["slot"] for c in ch["consumers"]] == [0, 1]


def test_tail_follow(shm, peers):
    peer = peers(shm)
    quotes(peer, depth=64)
    assert peer.do("send 0 5") == [5]
    t = subprocess.Popen([RILL, "--dir", shm, "tail", "--follow", "--last", "2", "--count", "6",
                          "md/quotes"], stdout=subprocess.PIPE, text=True)
    try:
        # the two last messages come first, then it waits
        assert t.stdout.readline().startswith("seq 3 sig 3 ")
        t.stdout.readline()
        assert t.stdout.readline().startswith("seq 4 sig 4 ")
        t.stdout.readline()
        # it holds a lossy slot: the producer is not held back by it
        ch = rill_json(shm, "info", "--json", "md/quotes")["channel"]
        mine = [c for c in ch["consumers"] if c["pid"] == t.pid]
        assert len(mine) == 1 and mine[0]["mode"] == "lossy" and mine[0]["state"] == "alive"
        assert peer.do("recv 0 5") == [5]
        peer.do("flush")
        assert peer.do("send 0 100") == [64]  # the reliable consumer's ring, nothing less
        out, _ = t.communicate(timeout=DEADLINE)
    finally:
        if t.poll() is None:
            t.kill()
    assert t.returncode == 0
    msgs = tail_messages(out)
    assert [m[1] for m in msgs] == [5, 6, 7, 8]
    ch = rill_json(shm, "info", "--json", "md/quotes")["channel"]
    assert not [c for c in ch["consumers"] if c["pid"] == t.pid]


def test_tail_interrupted(shm, peers):
    peer = peers(shm)
    quotes(peer)
    t = subprocess.Popen([RILL, "--dir", shm, "tail", "-f", "-l", "0", "md/quotes"],
                         stdout=subprocess.PIPE, text=True)
    try:
        # -l 0: only what comes after it joined
        wait_for(lambda: any(c["pid"] == t.pid for c in
                             rill_json(shm, "info", "--json", "md/quotes")["channel"]["consumers"]),
                 "tail joining")
        assert peer.do("send 0 1") == [1]
        assert t.stdout.readline().startswith("seq 0 sig 0 ")  # it is following
        t.send_signal(signal.SIGINT)
        assert t.wait(timeout=DEADLINE) == 0
    finally:
        if t.poll() is None:
            t.kill()
    ch = rill_json(shm, "info", "--json", "md/quotes")["channel"]
    assert [c["slot"] for c in ch["consumers"]] == [0, 1]  # its slot is free again


# ---- clean -------------------------------------------------------------------------


def test_clean(shm, peers):
    live = three_regions(shm, peers)
    before = sorted(os.listdir(shm))
    # younger than the grace period (default a minute): kept
    assert "nothing to clean" in rill(shm, "clean", check=0).stdout
    assert "nothing to clean" in rill(shm, "clean", "--min-age", "1h", check=0).stdout
    assert sorted(os.listdir(shm)) == before
    out = rill(shm, "clean", "--dry-run", "--min-age", "0", check=0).stdout
    assert sorted(out.splitlines()) == ["would remove gone", "would remove idle"]
    assert sorted(os.listdir(shm)) == before
    out = rill(shm, "clean", "--min-age", "0", check=0).stdout
    assert sorted(out.splitlines()) == ["removed gone", "removed idle"]
    assert sorted(os.listdir(shm)) == ["md", "notes.txt"]
    assert "nothing to clean" in rill(shm, "clean", "--min-age", "0", check=0).stdout
    # the live region is untouched and still works
    assert live.do("send 0 3") == [3]
    assert [r["name"] for r in rill_json(shm, "ls", "--json")["regions"]] == ["md"]


def test_clean_keeps_new_regions(shm):
    """A region made by `rill create` is idle at once (nobody has joined
    yet); clean must not remove it before the grace period."""
    rill(shm, "create", "fresh", "--size", "1M", check=0)
    assert "nothing to clean" in rill(shm, "clean", check=0).stdout
    assert os.path.exists(os.path.join(shm, "fresh"))
    # no grace period, and `rill create` has exited: it goes
    assert rill(shm, "clean", "--min-age", "0", check=0).stdout == "removed fresh\n"
    for bad in ("-1", "soon", "5x"):
        rill(shm, "clean", "--min-age", bad, check=2)


def test_clean_unfinished_regions(shm):
    """A creator killed after reserving the pages of .NAME.PID.RAND.tmp and
    before linking it leaves it behind: ls never shows it, clean removes it
    once PID is dead."""
    p = subprocess.Popen(["sleep", "60"])
    p.kill()
    p.wait()
    name = f".R.{p.pid}.0123456789abcdef.tmp"
    with open(os.path.join(shm, name), "wb") as f:
        os.posix_fallocate(f.fileno(), 0, 8 << 12)
    mine = f".R.{os.getpid()}.0123456789abcdef.tmp"  # its creator lives
    with open(os.path.join(shm, mine), "wb") as f:
        os.posix_fallocate(f.fileno(), 0, 8 << 12)
    assert "no regions" in rill(shm, "ls", check=0).stdout
    assert "nothing to clean" in rill(shm, "clean", check=0).stdout
    out = rill(shm, "clean", "--min-age", "0", check=0).stdout
    assert out == f"removed {name} (a region its creator did not finish: it died)\n"
    assert os.listdir(shm) == [mine]
