# SPDX-License-Identifier: Apache-2.0 OR MIT
"""Tests of the shell verbs of the rill command line: rill send, rill wait,
and rill info's view of a request/response service (docs/cli.md).

Messages sent are read back by a consumer of rill_cli_fixture
(tests/cli/fixture.c), every byte, sig and ctl compared.  Nothing sleeps
to wait for another process: each wait watches a state (a process's exit,
a channel's endpoints in `rill info --json`) with a deadline.
"""

import json
import struct
import subprocess

import pytest

from test_cli import DEADLINE, FIXTURE, RILL, channel_of, peers, rill, rill_json, shm, wait_for  # noqa: F401


def take(peer, c, n=100000):
    """Up to N messages there for fixture consumer C: [(sig, ctl, bytes)]."""
    peer.p.stdin.write(f"take {c} {n}\n")
    peer.p.stdin.flush()
    ans = peer.p.stdout.readline().split()
    assert ans and ans[0] == "ok", ans
    out = []
    for t in ans[2:]:
        sig, ctl, hexed = t.split(":")
        out.append((int(sig), int(ctl), bytes.fromhex(hexed)))
    assert len(out) == int(ans[1])
    return out


def chan(peer, depth=64, mtu=64, max_msg=256, slots=4):
    """Region md, channel md/c with nobody joined, and a second channel."""
    peer.do("region md 8388608")
    peer.do(f"channel md/c {depth} {mtu} {slots} {max_msg}")


def start(d, *args, stdin=subprocess.DEVNULL):
    return subprocess.Popen([RILL, "--dir", d, *args], stdin=stdin, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def producer_seq(d):
    return rill_json(d, "info", "--json", "md/c")["channel"]["producer"]["seq"]


# ---- send --------------------------------------------------------------------


def test_send_arguments(shm, peers):
    f = peers(shm)
    chan(f)
    assert f.do("consumer md/c reliable") == [0, 0]
    big = "é" * 100  # 200 bytes: 4 fragments of the mtu of 64
    p = rill(shm, "send", "--json", "--sig", "42", "--ctl", "5", "md/c", "hello", "", big, check=0)
    s = json.loads(p.stdout)
    assert s == {"channel": "md/c", "messages": 3, "bytes": 5 + 0 + 200,
                 "first_seq": 0, "last_seq": 2}  # seqs of the messages' first fragments
    assert take(f, 0) == [(42, 5, b"hello"), (42, 5, b""), (42, 5, big.encode())]
    # it left: the channel's producer is gone, its position exact
    doc = rill_json(shm, "info", "--json", "md/c")["channel"]["producer"]
    assert doc["state"] == "none" and doc["seq"] == 6


def test_send_lines(shm, peers):
    f = peers(shm)
    chan(f)
    f.do("consumer md/c reliable")
    data = b"one\n\nthree \x00\xff\nlast without newline"
    p = subprocess.run([RILL, "--dir", shm, "send", "md/c"], input=data, capture_output=True,
                       timeout=DEADLINE)
    assert p.returncode == 0 and p.stdout == b"" and p.stderr == b""
    assert take(f, 0) == [(0, 0, b"one"), (0, 0, b""), (0, 0, b"three \x00\xff"),
                          (0, 0, b"last without newline")]


def test_send_raw(shm, peers):
    f = peers(shm)
    chan(f)
    f.do("consumer md/c reliable")
    msgs = [bytes(range(256)), b"", b"\n\r\x00", b"x" * 64]
    data = b"".join(struct.pack("<I", len(m)) + m for m in msgs)
    p = subprocess.run([RILL, "--dir", shm, "send", "--raw", "--sig", "7", "md/c"], input=data,
                       capture_output=True, timeout=DEADLINE)
    assert p.returncode == 0, p.stderr
    assert take(f, 0) == [(7, 0, m) for m in msgs]


def test_send_raw_truncated(shm, peers):
    f = peers(shm)
    chan(f)
    f.do("consumer md/c reliable")
    # a whole frame, then one whose length says 10 bytes and 3 follow
    data = struct.pack("<I", 2) + b"ok" + struct.pack("<I", 10) + b"abc"
    p = subprocess.run([RILL, "--dir", shm, "send", "--raw", "md/c"], input=data,
                       capture_output=True, text=False, timeout=DEADLINE)
    assert p.returncode == 1
    assert b"truncated frame at byte offset 6" in p.stderr and b"10 bytes, 3 follow" in p.stderr
    assert take(f, 0) == [(0, 0, b"ok")]  # what came before it was sent
    # a length cut short
    p = subprocess.run([RILL, "--dir", shm, "send", "--raw", "md/c"], input=b"\x01\x00",
                       capture_output=True, timeout=DEADLINE)
    assert p.returncode == 1 and b"byte offset 0: 2 of the 4 bytes" in p.stderr
    assert take(f, 0) == []


def test_send_over_max_msg(shm, peers):
    f = peers(shm)
    chan(f, max_msg=256)
    f.do("consumer md/c reliable")
    before = producer_seq(shm)
    # arguments: all are checked first, none is sent
    p = rill(shm, "send", "md/c", "fine", "y" * 257, check=1)
    assert "message 2 is 257 bytes, over the channel's max_msg of 256" in p.stderr
    assert producer_seq(shm) == before
    assert take(f, 0) == []
    # exactly max_msg goes
    rill(shm, "send", "md/c", "z" * 256, check=0)
    assert [m[2] for m in take(f, 0)] == [b"z" * 256]
    before = producer_seq(shm)
    # lines: those before it are sent, nothing of it, nothing after it
    p = subprocess.run([RILL, "--dir", shm, "send", "md/c"],
                       input=b"a\n" + b"q" * 1000 + b"\nnot sent\n", capture_output=True,
                       timeout=DEADLINE)
    assert p.returncode == 1 and b"line 2 is 1000 bytes" in p.stderr
    assert [m[2] for m in take(f, 0)] == [b"a"]
    assert producer_seq(shm) == before + 1
    # a frame: refused from its length, before its bytes are read
    p = subprocess.run([RILL, "--dir", shm, "send", "--raw", "md/c"],
                       input=struct.pack("<I", 300) + b"w" * 300, capture_output=True,
                       timeout=DEADLINE)
    assert p.returncode == 1 and b"the frame at byte offset 0 is 300 bytes" in p.stderr
    assert producer_seq(shm) == before + 1


def test_send_producer_alive(shm, peers):
    f = peers(shm)
    chan(f)
    f.do("producer md/c")
    p = rill(shm, "send", "md/c", "x", check=1)
    assert f"has a live producer already (pid {f.pid})" in p.stderr
    p = rill(shm, "send", "md/nope", "x", check=1)
    assert "md/nope" in p.stderr


def test_send_usage(shm):
    assert "--wait-consumers" in rill(shm, "send", "--help", check=0).stdout
    rill(shm, "send", check=2)
    rill(shm, "send", "md", "x", check=2)  # no channel
    rill(shm, "send", "--ctl", "8192", "md/c", "x", check=2)
    rill(shm, "send", "--raw", "md/c", "x", check=2)
    rill(shm, "send", "--timeout", "soon", "md/c", check=2)


def test_send_wait_consumers(shm, peers):
    f = peers(shm)
    chan(f)
    s = start(shm, "send", "--wait-consumers", "1", "md/c", "first", "second")
    # synchronised on its join: it waits, as producer, for a consumer
    wait_for(lambda: rill_json(shm, "info", "--json", "md/c")["channel"]["producer"]["state"] == "alive",
             "rill send to join")
    assert s.poll() is None
    f.do("consumer md/c reliable")
    assert s.wait(timeout=DEADLINE) == 0, s.stderr.read()
    assert [m[2] for m in take(f, 0)] == [b"first", b"second"]
    # nobody comes: it gives up, having sent nothing
    p = rill(shm, "send", "--wait-consumers", "2", "--timeout", "0.2", "md/c", "x", check=1)
    assert "fewer than 2 consumers joined" in p.stderr
    assert take(f, 0) == []


@pytest.mark.parametrize("ctl", [0, 9])  # rill_send_wait, or sends with ctl bits
def test_send_backpressure(shm, peers, ctl):
    """A reliable consumer that reads slowly loses nothing: rill send waits
    for its credit (a ring of 8, 300 messages, every third in 2 fragments)."""
    f = peers(shm)
    chan(f, depth=8, mtu=64, max_msg=128)
    f.do("consumer md/c reliable")
    n = 300
    msgs = [b"message %d" % i + (b"." * 90 if i % 3 == 0 else b"") for i in range(n)]
    lines = b"".join(m + b"\n" for m in msgs)
    s = start(shm, "send", "--json", "--ctl", str(ctl), "md/c", stdin=subprocess.PIPE)
    s.stdin.write(lines)
    s.stdin.close()
    got = []

    def more():
        got.extend(take(f, 0, 5))  # a few at a time: the sender waits between
        return len(got) >= n

    wait_for(more, "every message")
    assert s.wait(timeout=DEADLINE) == 0, s.stderr.read()
    assert got == [(0, ctl, m) for m in msgs]
    bp = rill_json(shm, "info", "--json", "md/c")["channel"]["producer"]["backpressure"]
    assert bp > 0  # it did wait for credit


# ---- wait --------------------------------------------------------------------


def test_wait_region_and_channel(shm):
    w = start(shm, "wait", "md/c")
    assert w.poll() is None
    rill(shm, "create", "md", check=0)
    assert w.poll() is None  # no channel yet: it cannot have exited
    rill(shm, "create", "--depth", "64", "md/c", check=0)
    assert w.wait(timeout=DEADLINE) == 0, w.stderr.read()
    r = start(shm, "wait", "other")
    assert r.poll() is None
    rill(shm, "create", "other", check=0)
    assert r.wait(timeout=DEADLINE) == 0


def test_wait_usage(shm):
    assert "--producer" in rill(shm, "wait", "--help", check=0).stdout
    assert "--wait-consumers" in rill(shm, "help", "send", check=0).stdout
    assert "send REGION/CHANNEL" in rill(shm, "--help", check=0).stdout
    rill(shm, "wait", check=2)
    rill(shm, "wait", "--consumers", "0", "md/c", check=2)


def test_wait_timeout(shm):
    p = rill(shm, "wait", "--timeout", "0.2", "md", check=1)
    assert "timed out after 200.0 ms: no region md" in p.stderr
    rill(shm, "create", "md", check=0)
    rill(shm, "wait", "--timeout", "0", "md", check=0)
    p = rill(shm, "wait", "--timeout", "0.1", "md/c", check=1)
    assert "no channel c in region md" in p.stderr
    rill(shm, "wait", "--producer", "md", check=2)
    rill(shm, "wait", "--timeout", "soon", "md", check=2)


def test_wait_producer_and_consumers(shm, peers):
    f = peers(shm)
    chan(f)
    p = rill(shm, "wait", "--producer", "--timeout", "0.1", "md/c", check=1)
    assert "md/c has no live producer (none)" in p.stderr
    w = start(shm, "wait", "--producer", "--consumers", "1", "md/c")
    f.do("producer md/c")
    assert w.poll() is None  # no consumer yet
    f.do("consumer md/c lossy")
    assert w.wait(timeout=DEADLINE) == 0, w.stderr.read()
    # a dead producer is not there
    f.kill()
    p = rill(shm, "wait", "--producer", "--timeout", "0.1", "md/c", check=1)
    assert "no live producer (dead)" in p.stderr


# ---- info on a request/response service ---------------------------------------


def test_info_service(shm, peers):
    srv, cli = peers(shm), peers(shm)
    srv.do("region md 8388608")
    srv.do("channel md/plain 64 64 2 256")
    srv.do("service md/svc 2 64 128")
    srv.do("serve md/svc")
    assert cli.do("connect md/svc") == [0]
    cli.do("call 0 0 hello")
    assert cli.do("answer 0 2000") == [0, 0, 5]
    # a call the server holds: sent, not answered
    cli.do("call 0 1 held")
    assert cli.do("answer 0 1") == [-18]  # RILL_ETIMEDOUT
    doc = rill_json(shm, "info", "--json", "md/svc")
    s = doc["service"]
    assert s["name"] == "svc" and s["server"] == {"state": "alive", "pid": srv.pid}
    assert s["clients"] == 1 and s["in_flight"] == 1
    l0, l1 = s["lanes"]
    assert l0["requests_channel"] == "svc.q.0" and l0["responses_channel"] == "svc.r.0"
    assert l0["client"] == {"state": "alive", "pid": cli.pid}
    assert (l0["requests"], l0["responses"], l0["in_flight"]) == (2, 1, 1)
    assert l1["client"] == {"state": "none", "pid": None} and l1["in_flight"] == 0
    # the region: the service, its lanes' channels left out of the text list
    text = rill(shm, "info", "md", check=0).stdout
    assert f"service svc: 2 lanes, server alive (pid {srv.pid}), 1 client, 1 call in flight" in text
    assert "svc.q.0" not in text and "plain" in text and "4 channels of the services' lanes" in text
    assert "svc.q.0" in rill(shm, "info", "--channels", "md", check=0).stdout
    region = rill_json(shm, "info", "--json", "md")
    assert [x["name"] for x in region["services"]] == ["svc"]
    assert len(region["channels"]) == 5  # JSON keeps every channel
    assert rill_json(shm, "ls", "--json")["regions"][0]["services"] == ["svc"]
    # a lane's channel is still a channel
    lane = rill_json(shm, "info", "--json", "md/svc.q.0")["channel"]
    assert lane["producer"]["pid"] == cli.pid
    # answered: nothing in flight (the server writes its count after the batch)
    srv.do("release")
    assert cli.do("answer 0 2000") == [0, 0, 4]
    wait_for(lambda: rill_json(shm, "info", "--json", "md/svc")["service"]["in_flight"] == 0,
             "the held call answered")
    # a second client takes lane 1; the first leaves
    assert cli.do("connect md/svc") == [1]
    cli.do("close 0")
    s = rill_json(shm, "info", "--json", "md/svc")["service"]
    assert s["clients"] == 1
    assert [x["client"]["state"] for x in s["lanes"]] == ["none", "alive"]
    # the server dies: shown dead
    srv.kill()
    s = rill_json(shm, "info", "--json", "md/svc")["service"]
    assert s["server"] == {"state": "dead", "pid": srv.pid}
