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
from conftest import reap
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
        reap(child)
    p.close()


def test_infinite_and_huge_timeouts_wait(region):
    """inf and timeouts past the clock's range wait (they timed out at once)."""
    region.create_channel("c", depth=64, mtu=128)
    p = region.producer("c")
    c = region.consumer("c")
    c.set_spin(0)
    for t in (float("inf"), 1e300, 2e10):
        got = []
        th = threading.Thread(target=lambda: got.append(c.recv(timeout=t)))
        th.start()
        deadline = time.monotonic() + 30
        while not region.consumer_stats("c", c.slot).parked:  # it waits, parked
            assert th.is_alive() and time.monotonic() < deadline, got
        p.send(b"late")
        th.join(30)
        assert got == [b"late"]
    p.close()
    c.close()


def test_send_many_takes_the_iterable_lazily(region):
    region.create_channel("c", depth=64, mtu=128)
    with region.producer("c") as p, region.consumer("c") as c:
        def gen():
            yield b"a"
            yield b"b"
            raise KeyError("the iterator's own error")

        with pytest.raises(KeyError) as e:
            p.send_many(gen(), sig=5)
        assert e.value.sent == 2
        got = [c.recv_meta(timeout=1) for _ in range(2)]
        assert [(d, m.sig) for d, m in got] == [(b"a", 5), (b"b", 6)]
        assert c.try_recv() is None
        # sigs wrap modulo 2**64
        assert p.send_many(iter([b"c", b"d"]), sig=2 ** 64 - 1) == 2
        assert [c.recv_meta(timeout=1)[1].sig for _ in range(2)] == [2 ** 64 - 1, 0]


def test_sig_takes_index_objects(region):
    """sig accepts what has __index__ (numpy's integers), as cffi did."""
    class Idx:
        def __index__(self):
            return 77

    region.create_channel("c", depth=64, mtu=128)
    with region.producer("c") as p, region.consumer("c") as c:
        p.send(b"x", sig=Idx())
        p.send_many([b"y"], sig=Idx())
        assert [c.recv_meta(timeout=1)[1].sig for _ in range(2)] == [77, 77]


def test_large_messages_round_trip(region):
    """Messages of 64 KiB and more go through the copy without the GIL."""
    region.create_channel("c", depth=512, mtu=4096, max_msg=1 << 20)
    with region.producer("c") as p, region.consumer("c") as c:
        sizes = [65535, 65536, 300000, 1 << 20]
        msgs = [bytes((i * 7 + j) & 255 for j in range(n)) for i, n in enumerate(sizes)]
        for i, m in enumerate(msgs):
            p.send(m, sig=i)
        for i, m in enumerate(msgs):
            assert c.recv(timeout=5) == m


def run_child(code, *args):
    r = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True,
                       text=True, timeout=120)
    return r.returncode, r.stdout, r.stderr


CYCLE = r"""
import gc, sys, rill
with rill.Region.open(sys.argv[1], dir=sys.argv[2]) as r:
    class F:
        def __del__(self):
            print("del", self.c.try_recv(), flush=True)
    for i in range(20):
        c = r.consumer("c"); f = F(); f.c = c; c.f = f; c.me = c
        del c, f
        gc.collect()
    print("left", r.channel_stats("c").nconsumers)
"""


def test_cycle_with_del_never_uses_a_freed_handle(region):
    """A __del__ in a reference cycle may use the consumer: the handle is
    freed when the last reference goes, after every finalizer (it was freed
    by cffi's finalizer first: use after free, seen under ASan)."""
    region.create_channel("c", depth=64, mtu=128, max_consumers=2)
    rc, out, err = run_child(CYCLE, region.name, region.dir)
    assert rc == 0, err
    assert out.split("\n")[-2] == "left 0" and out.count("del None") == 20


def test_private_calls_do_not_crash():
    rc, out, err = run_child(r"""
import rill
G = rill._fast.Guard
g = G.__new__(G)
g.__enter__()
try:
    g.__enter__()
except RuntimeError as e:
    print("refused:", e)
h = rill._fast.Handle.__new__(rill._fast.Handle)
print("addr", h.addr)
h.release()
try:
    rill._fast.Handle(0, rill._fast.CONSUMER)
except ValueError:
    print("null refused")
""")
    assert rc == 0, err
    assert "refused: this handle is in use" in out and "addr 0" in out and "null refused" in out


def test_attach_only_once(region):
    region.create_channel("c", depth=64, mtu=128)
    with region.consumer("c") as c:
        with pytest.raises(RuntimeError, match="attached already"):
            c._attach(c._owner, c._guard, 10)
        with pytest.raises(TypeError):
            rill.Consumer.__init__(c, 5, "c", region.channel_stats("c"), False)


def test_one_interpreter():
    """A second interpreter that imports rill gets ImportError (the C types
    and the error classes they raise are the first interpreter's)."""
    try:
        import _xxsubinterpreters as interpreters
    except ImportError:
        pytest.skip("no _xxsubinterpreters in this Python")
    i = interpreters.create()
    try:
        with pytest.raises(Exception, match="another interpreter"):
            interpreters.run_string(i, "import rill")
    finally:
        interpreters.destroy(i)
    assert isinstance(rill.TimedOut(), TimeoutError)
