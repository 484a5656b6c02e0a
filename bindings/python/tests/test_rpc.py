# SPDX-License-Identifier: Apache-2.0 OR MIT
"""Request/response (rill.rpc): Python servers and clients, and both
against the C peer (rill_xpeer rpc-serve / rpc-call)."""
import struct
import subprocess
import threading

import pytest

import rill
from rill import rpc
from conftest import reap, rpc_pipeline
from stream import message


def handler(method: int, req: bytes):
    """The handler of tests/xpeer.c: 1 echoes, 2 sums the bytes (uint64),
    3 answers status 42, anything else ENOMETHOD."""
    if method == 1:
        return req
    if method == 2:
        return struct.pack("<Q", sum(req))
    if method == 3:
        raise rpc.Status(42)
    raise rill.NoMethod()


def check_methods(c):
    """Method 2 sums bytes, 3 answers status 42, 999 does not exist: the
    same handler whichever side serves it."""
    assert struct.unpack("<Q", c.call(2, b"\x01\x02\x03"))[0] == 6
    with pytest.raises(rpc.Status) as e:
        c.call(3, b"x")
    assert e.value.status == 42
    with pytest.raises(rill.NoMethod):
        c.call(999, b"x")


def test_python_server_and_client(region):
    region.create_service("svc", lanes=4, mtu=256, max_msg=1024)
    seen = set()

    def h(method, req):
        seen.add(threading.get_ident())
        if method == 7:
            raise KeyError("boom")
        return handler(method, req)

    with region.serve("svc", h, workers=2) as srv:
        with region.rpc_connect("svc") as c:
            c.wait_server(5)
            assert c.call(1, b"hello") == b"hello"
            assert c.call(1, b"") == b""
            assert c.call(1, bytes(range(256)) * 4) == bytes(range(256)) * 4
            check_methods(c)
            with pytest.raises(rill.IOFailure):
                c.call(7)
            assert isinstance(srv.errors[0], KeyError)
            with pytest.raises(TypeError):
                c.call(1, "text")
            # pipelined: capacity calls in flight
            reqs = [bytes([i]) * i for i in range(c.capacity)]
            assert rpc_pipeline(c, 1, reqs) == reqs
            assert threading.get_ident() not in seen  # the handler ran on the workers
    with pytest.raises(ValueError, match="closed"):
        c.call(1, b"x")


def test_server_stopped_is_reported(region):
    region.create_service("svc", lanes=1)
    srv = region.serve("svc", handler)
    c = region.rpc_connect("svc")
    c.wait_server(5)
    assert c.call(1, b"a") == b"a"
    srv.stop()
    with pytest.raises((rill.ServerLeft, rill.TimedOut)):
        c.call(1, b"a", timeout=1)
    c.close()


def test_xpeer_client_of_python_server(peer, region):
    """A C or Go client (rpc-call: 3000 pipelined echo calls of stream
    messages, every id and byte checked, then methods 2, 3 and 999) of a
    Python server."""
    region.create_service("svc", lanes=2, mtu=512, max_msg=2048)
    with region.serve("svc", handler, workers=2) as srv:
        r = peer.run("rpc-call", region.dir, region.name, "svc", 3000)
        assert r.returncode == 0, r.stderr
        assert r.stdout.split() == ["ok", "3000"]
        assert srv.errors == []


def test_python_client_of_xpeer_server(peer, region):
    """A Python client of a C or Go server (rpc-serve), every byte checked."""
    region.create_service("svc", lanes=2, mtu=512, max_msg=2048)
    st = region.channel_stats("svc.q.0")
    srv = peer.popen("rpc-serve", region.dir, region.name, "svc", 2, stdin=subprocess.PIPE,
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert srv.stdout.readline().strip() == "ready"
        with region.rpc_connect("svc") as c:
            c.wait_server(10)
            for i in range(2000):
                req = message(5, i, st.mtu, st.max_msg)
                assert c.call(1, req) == req, f"call {i}"
            check_methods(c)
    finally:
        srv.stdin.close()
        try:
            assert srv.wait(30) == 0, srv.stderr.read()
        finally:
            reap(srv)
