# SPDX-License-Identifier: Apache-2.0 OR MIT
"""The per-message calls in C (rill_fast.c): send, send_many, recv,
recv_meta, try_recv, recv_many; their arguments, the guard they share with
the Python methods, and a blocking wait interrupted by a signal."""
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

import rill
from stream import message


def test_one_copy_of_librill():
    """rill._fast is the same shared object as rill._rill (one librill)."""
    from rill import _fast, _rill
    assert _fast.__file__ == _rill.__file__
    assert issubclass(rill.Producer, _fast.ProducerBase)
    assert issubclass(rill.Consumer, _fast.ConsumerBase)


def test_send_many_recv_many(region):
    region.create_channel("c", depth=64, mtu=128, max_msg=512)
    st = region.channel_stats("c")
    msgs = [message(5, i, st.mtu, st.max_msg) for i in range(40)]
    with region.producer("c") as p, region.consumer("c") as c:
        assert p.send_many(msgs[:30], sig=100) == 30
        # any iterable of bytes-like objects
        assert p.send_many((memoryview(bytearray(m)) for m in msgs[30:]), 130) == 10
        assert p.send_many([]) == 0
        got = c.recv_many(25, timeout=1)
        assert got == msgs[:25]
        rest = c.recv_many(100, timeout=0)
        assert rest == msgs[25:]
        p.send(b"last", sig=7)
        data, meta = c.recv_meta(timeout=1)
        assert data == b"last" and meta.sig == 7
        assert c.try_recv() is None
        with pytest.raises(rill.TimedOut):
            c.recv_many(10, timeout=0)
        p.send_many([b"a", b"b"], sig=1)
        for i, want in enumerate([b"a", b"b"]):
            d, m = c.recv_meta(timeout=1)
            assert (d, m.sig) == (want, 1 + i)


def test_recv_many_then_closed(region):
    """Closed after messages: recv_many returns them, the next call raises."""
    region.create_channel("c", depth=64, mtu=128)
    c = region.consumer("c")
    p = region.producer("c")
    p.send_many([b"x", b"y"])
    p.close()
    assert c.recv_many(10, timeout=1) == [b"x", b"y"]
    with pytest.raises(rill.Closed):
        c.recv_many(10, timeout=1)
    with pytest.raises(rill.Closed):
        c.recv(timeout=1)
    # looking once does not ask after the producer (as in C): nothing there
    with pytest.raises(rill.TimedOut):
        c.recv(timeout=0)
    assert c.try_recv() is None
    c.close()


def test_send_many_stops_at_the_first_error(region):
    region.create_channel("c", depth=64, mtu=128, max_msg=256)
    with region.producer("c") as p, region.consumer("c") as c:
        with pytest.raises(rill.MessageTooLarge):
            p.send_many([b"1", b"2", b"x" * 257, b"4"])
        assert c.recv_many(10, timeout=1) == [b"1", b"2"]  # those before it went
        with pytest.raises(TypeError):
            p.send_many([b"ok", "text"])
        assert c.recv(timeout=1) == b"ok"
        with pytest.raises(TypeError):
            p.send_many(5)
        # no credit: timeout 0 raises Again, saying how many fitted
        with pytest.raises(rill.Again) as e:
            p.send_many([b"z"] * 100, timeout=0)
        assert 0 < e.value.sent < 100
        assert c.recv_many(1000, timeout=1) == [b"z"] * e.value.sent
        with pytest.raises(rill.MessageTooLarge) as e:
            p.send_many([b"1", b"x" * 257])
        assert e.value.sent == 1


def test_arguments(region):
    region.create_channel("c", depth=64, mtu=128)
    with region.producer("c") as p, region.consumer("c") as c:
        p.send(data=b"k", sig=3, timeout=1.5)
        p.send(b"k", 4, None)
        assert [m.sig for _, m in (c.recv_meta(timeout=1), c.recv_meta(1))] == [3, 4]
        for bad, exc in (((b"x", -1), OverflowError), ((b"x", 2 ** 64), OverflowError),
                         ((b"x", 1.5), TypeError), ((b"x", 0, "soon"), TypeError),
                         ((b"x", 0, -1), ValueError), ((b"x", 0, 1, 2), TypeError), ((), TypeError)):
            with pytest.raises(exc):
                p.send(*bad)
        with pytest.raises(TypeError):
            p.send(b"x", siggy=1)
        with pytest.raises(TypeError):
            p.send(b"x", data=b"y")
        p.send(b"big sig", sig=2 ** 64 - 1)
        assert c.recv_meta(timeout=1)[1].sig == 2 ** 64 - 1
        with pytest.raises(TypeError):
            c.recv(1, 2)
        with pytest.raises(TypeError):
            c.recv(wait=1)
        with pytest.raises(ValueError):
            c.recv(timeout=-0.5)
        with pytest.raises(TypeError):
            c.recv(timeout="1")
        with pytest.raises(ValueError):
            c.recv_many(0)
        with pytest.raises(TypeError):
            c.recv_many("3")
    with pytest.raises(ValueError, match="closed"):
        p.send(b"x")
    with pytest.raises(ValueError, match="closed"):
        p.send_many([b"x"])
    for call in (c.recv, c.try_recv, c.recv_meta, lambda: c.recv_many(3)):
        with pytest.raises(ValueError, match="consumer is closed"):
            call()


def test_guard_shared_with_python_methods(region):
    """A thread blocked in recv() (C, GIL released) holds the guard that
    the Python methods check, and the other way round."""
    region.create_channel("c", depth=64, mtu=128)
    p = region.producer("c")
    c = region.consumer("c")
    c.set_spin(0)
    got, started = [], threading.Event()

    def reader():
        started.set()
        got.append(c.recv(timeout=10))

    t = threading.Thread(target=reader)
    t.start()
    started.wait()
    # until the reader is inside recv, calls may still get in: retry until one is refused
    refused = None
    for _ in range(1000000):
        try:
            c.flush()  # a Python method: the same guard
        except RuntimeError as e:
            refused = e
            break
    assert refused is not None and "another thread" in str(refused)
    with pytest.raises(RuntimeError, match="another thread"):
        c.try_recv()
    p.send(b"wake")
    t.join(10)
    assert got == [b"wake"]
    # a view out: the next recv releases it first
    p.send(b"one")
    p.send(b"two")
    v = c.poll(timeout=1)
    assert bytes(v.data) == b"one"
    assert c.recv(timeout=1) == b"two"
    with pytest.raises(ValueError):
        v.data.tobytes()  # released by recv()
    p.close()
    c.close()


def test_reserve_view_released_by_send(region):
    region.create_channel("c", depth=64, mtu=128)
    with region.producer("c") as p, region.consumer("c") as c:
        from rill._rill import ffi
        mv = p.reserve(4)
        held = ffi.from_buffer(mv)  # an export of it: send must refuse, not write
        with pytest.raises(BufferError, match="release it"):
            p.send(b"no")
        ffi.release(held)
        p.send(b"yes")  # releases the reserved view (nothing committed)
        with pytest.raises(ValueError):
            mv[0] = 1
        assert c.recv(timeout=1) == b"yes"
        assert c.try_recv() is None


INTERRUPTED = r"""
import sys, rill
with rill.Region.open(sys.argv[1], dir=sys.argv[2]) as r:
    c = r.consumer("c")
    c.set_spin(0)
    try:
        print("waiting", flush=True)
        c.recv()
    except KeyboardInterrupt:
        print("interrupted", flush=True)
"""


def test_blocking_recv_interrupted_by_signal(region):
    """Ctrl-C reaches a recv() without timeout (the wait is sliced)."""
    region.create_channel("c", depth=64, mtu=128)
    p = region.producer("c")  # alive: recv waits rather than raising Closed
    child = subprocess.Popen([sys.executable, "-c", INTERRUPTED, region.name, region.dir],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "waiting"
        # the signal comes while recv() is parked (in the GIL-free wait)
        deadline = time.monotonic() + 30
        while not region.consumer_stats("c", 0).parked:
            assert time.monotonic() < deadline, "the child never parked"
        os.kill(child.pid, signal.SIGINT)
        out, _ = child.communicate(timeout=30)
        assert out.strip() == "interrupted" and child.returncode == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    p.close()
