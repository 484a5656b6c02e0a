# SPDX-License-Identifier: Apache-2.0 OR MIT
import itertools
import os
import shutil
import subprocess
import tempfile

import pytest

import rill

_n = itertools.count()


@pytest.fixture
def rdir():
    """A region directory of its own (short: FIFO paths must fit)."""
    d = tempfile.mkdtemp(prefix="rill-py-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def region(rdir):
    with rill.Region.create(f"r{os.getpid()}-{next(_n)}", size=8 << 20, dir=rdir) as r:
        yield r


def _peer_path(var: str, what: str) -> str:
    """$VAR, the path of a peer program; a test without it is skipped, or
    fails when $RILL_REQUIRE_XPEER is set (make test sets both)."""
    p = os.environ.get(var)
    if not p:
        if os.environ.get("RILL_REQUIRE_XPEER"):
            pytest.fail(f"{var} ({what}) is not set")
        pytest.skip(f"{var} ({what}) is not set (make test sets it)")
    if not os.access(p, os.X_OK):
        pytest.fail(f"{var}={p} is not an executable")
    return p


@pytest.fixture
def xpeer():
    """The C peer (tests/xpeer.c): $RILL_XPEER, which make test sets."""
    return _peer_path("RILL_XPEER", "the C peer, build/rill_xpeer")


class Peer:
    """A peer program of the cross-process tests, in either language: the C
    peer (tests/xpeer.c) or the Go peer (the Go binding's test binary run
    with RILL_GO_PEER=1, bindings/go/peer_test.go).  Both take the same
    commands (create, produce, consume, echo, rpc-serve, rpc-call, vector
    write|check); only the C one has ping, only the Go one hold."""

    def __init__(self, name: str, prefix: list, env: dict = None) -> None:
        self.name = name
        self.prefix = prefix  # the command line before the command
        self.env = env  # None: this process's environment

    def argv(self, *args) -> list:
        return self.prefix + [str(a) for a in args]

    def run(self, *args, timeout: float = 120) -> subprocess.CompletedProcess:
        """Runs one command to its end (stdout and stderr captured)."""
        return subprocess.run(self.argv(*args), env=self.env, capture_output=True, text=True,
                              timeout=timeout)

    def popen(self, *args, **kw) -> subprocess.Popen:
        """Starts one command (Popen's keywords: stdin=, stdout=...)."""
        return subprocess.Popen(self.argv(*args), env=self.env, text=True, **kw)

    def __repr__(self) -> str:
        return f"<{self.name} peer {' '.join(self.prefix)}>"


@pytest.fixture
def gopeer():
    """The Go peer: $RILL_GOPEER (build/rill-gopeer, which make test sets).
    A build without Go sets $RILL_SKIP_GOPEER (the reason) instead."""
    why = os.environ.get("RILL_SKIP_GOPEER")
    if why:
        pytest.skip(f"no Go peer: {why}")
    path = _peer_path("RILL_GOPEER", "the Go peer, build/rill-gopeer")
    return Peer("go", [path], dict(os.environ, RILL_GO_PEER="1"))


@pytest.fixture(params=["c", "go"])
def peer(request):
    """Each peer in turn: the test runs once against C, once against Go."""
    if request.param == "c":
        return Peer("c", [request.getfixturevalue("xpeer")])
    return request.getfixturevalue("gopeer")


def rpc_pipeline(c, method, requests):
    """Sends REQUESTS as calls of METHOD on client C, up to c.capacity in
    flight, and returns the responses, checking that they come back in
    order with the ids the sends returned.  When a send says Again (the
    lane is full, or the server did not drain the request ring within 2 s
    on a loaded machine: rill_rpc_send), it receives one first, as the C
    peer's rpc-call does."""
    ids, out, nxt = [], [], 0
    while len(out) < len(requests):
        while nxt < len(requests) and nxt - len(out) < c.capacity:
            try:
                ids.append(c.send(method, requests[nxt]))
            except rill.Again:
                if nxt == len(out):
                    raise  # nothing in flight: not a full lane
                break
            nxt += 1
        rid, m, data = c.recv(10)
        assert (rid, m) == (ids[len(out)], method), f"response {len(out)}"
        out.append(data)
    return out


def reap(proc: subprocess.Popen) -> None:
    """Kills PROC if it still runs, waits for it, closes its pipes: the
    finally of every test that starts a process."""
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    for f in (proc.stdin, proc.stdout, proc.stderr):
        if f:
            f.close()
