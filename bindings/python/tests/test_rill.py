# SPDX-License-Identifier: Apache-2.0 OR MIT
"""Tests of the Python binding (pytest); make test runs them (cmake/tests.cmake)."""
import asyncio
import gc
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

import rill
from conftest import reap
from stream import frags, message, size


def pattern(sig: int, n: int) -> bytes:
    return bytes((sig * 31 + j) & 255 for j in range(n))


# ---- round trips -------------------------------------------------------------

def test_send_recv_roundtrip(region):
    region.create_channel("c", depth=64, mtu=256, max_msg=4096)
    with region.producer("c") as p, region.consumer("c") as c:
        sizes = [0, 1, 63, 64, 255, 256, 257, 1000, 4096]
        for i, n in enumerate(sizes):
            p.send(pattern(i, n), sig=i)
        for i, n in enumerate(sizes):
            data, meta = c.recv_meta(timeout=1)
            assert data == pattern(i, n)
            assert (meta.sig, meta.size, meta.lost, meta.ctl & rill.CTL_EOM) == (i, n, 0, 2)


def test_recv_meta_and_iteration(region):
    region.create_channel("c", depth=64, mtu=128)
    p = region.producer("c")
    c = region.consumer("c")
    p.send(memoryview(b"--z--")[2:3], sig=5)
    data, meta = c.recv_meta()
    assert data == b"z" and meta.sig == 5 and meta.seq == 0
    for i in range(20):
        p.send(pattern(i, i * 7), sig=i)
    p.close()
    got = list(c)  # ends when the producer left and all was read
    assert got == [pattern(i, i * 7) for i in range(20)]
    with pytest.raises(rill.Closed) as e:
        c.recv(timeout=1)
    assert e.value.code == 20 and isinstance(e.value, rill.Error)
    assert c.try_recv is not None
    c.close()


def test_try_recv_and_timeouts(region):
    region.create_channel("c", depth=8, mtu=64)
    with region.producer("c") as p, region.consumer("c") as c:
        assert c.try_recv() is None
        assert c.poll() is None
        t0 = time.monotonic()
        with pytest.raises(rill.TimedOut) as e:
            c.recv(timeout=0.05)
        assert time.monotonic() - t0 >= 0.04
        assert isinstance(e.value, TimeoutError) and e.value.code == 18
        sent = 0
        with pytest.raises(rill.Again):  # the reliable consumer holds the ring
            while sent < 100:
                p.send(b"x", sig=sent, timeout=0)
                sent += 1
        assert 4 <= sent <= 8
        with pytest.raises(rill.TimedOut):
            p.send(b"x", timeout=0.02)
        assert [c.try_recv() for _ in range(sent + 1)] == [b"x"] * sent + [None]
        p.send(b"y", timeout=1)  # the consumer gave the credit back
        assert c.recv() == b"y"


def test_reserve_commit(region):
    region.create_channel("c", depth=64, mtu=256)
    with region.producer("c") as p, region.consumer("c") as c:
        for i in range(100):
            buf = p.reserve(200)
            assert len(buf) == 200 and not buf.readonly
            buf[: i + 1] = pattern(i, i + 1)
            p.commit(i + 1, sig=i, ctl=rill.CTL_MSG | rill.ctl_user(3))
            with pytest.raises(ValueError):
                buf[0] = 1  # released by commit
            data, meta = c.recv_meta()
            assert data == pattern(i, i + 1) and meta.sig == i and meta.ctl == 3 | (3 << 3)
        # fragments: SOM, middle, EOM make one message
        for k, ctl in enumerate((rill.CTL_SOM, 0, rill.CTL_EOM)):
            b = p.reserve(100)
            b[:] = bytes([k]) * 100
            p.commit(100, sig=9, ctl=ctl)
        assert c.recv() == bytes([0]) * 100 + bytes([1]) * 100 + bytes([2]) * 100
        with pytest.raises(rill.MessageTooLarge):
            p.reserve(257)
        with pytest.raises(rill.InvalidArgument):
            p.commit(10)  # nothing reserved
        with pytest.raises(TypeError):
            p.reserve("10")


# ---- poll views --------------------------------------------------------------

def test_poll_views_released(region):
    region.create_channel("c", depth=64, mtu=256)
    with region.producer("c") as p, region.consumer("c") as c:
        p.send(b"first", sig=1)
        p.send(b"second", sig=2)
        v = c.poll()
        assert v.data.readonly and bytes(v.data) == b"first" and v.sig == 1 and v.valid()
        assert len(v) == 5 and v.tobytes() == b"first"
        with pytest.raises(TypeError):
            v.data[0] = 0
        sl = v.data[1:3]  # a slice reads the ring too: it blocks the next call
        with pytest.raises(BufferError, match="delete them"):
            c.poll()
        with pytest.raises(ValueError):
            v.data[0]  # the view itself was released
        assert bytes(sl) == b"ir"
        del sl
        v2 = c.poll()  # nothing read the ring any more: it goes on
        assert bytes(v2.data) == b"second"
        # an export of the view (and memoryview(view)) blocks the next poll too
        p.send(b"third")
        from rill._rill import ffi
        held = ffi.from_buffer(v2.data)  # a buffer export of the view itself
        with pytest.raises(BufferError, match="release it"):
            c.poll()
        ffi.release(held)
        again = memoryview(v2.data)
        with pytest.raises(BufferError, match="delete them"):
            c.poll()
        again.release()
        assert bytes(c.poll().data) == b"third"
        assert c.poll() is None
        p.send(b"fourth")
        sl = c.poll().data[2:]
    # the consumer left with the slice alive: the slice keeps the mapping,
    # reading it is safe
    assert bytes(sl) == b"urth"
    del sl
    gc.collect()


def test_view_outlives_close_without_crash(region):
    region.create_channel("c", depth=64, mtu=256)
    p = region.producer("c")
    c = region.consumer("c")
    p.send(b"abcdef")
    v = c.poll()
    piece = v.data[2:]
    c.close()
    with pytest.raises(ValueError):
        v.data[0]
    assert bytes(piece) == b"cdef"  # mapping kept alive by the slice
    with pytest.raises(ValueError, match="closed"):
        c.poll()
    with pytest.raises(ValueError, match="closed"):
        c.recv()
    # the slot is freed once the last slice goes
    del piece
    gc.collect()
    assert region.channel_stats("c").nconsumers == 0
    p.close()
    with pytest.raises(ValueError, match="closed"):
        p.send(b"x")
    region.close()
    with pytest.raises(ValueError, match="closed"):
        region.channel_stats("c")


def test_lossy_lapping_every_byte_checked(region):
    depth = 64
    region.create_channel("c", depth=depth, mtu=128, max_msg=512)
    with region.producer("c") as p:
        c = region.consumer("c", lossy=True)
        total = 5000
        received = lost = 0
        last = -1
        i = 0
        while i < total:
            burst = 1 + (i * 7919) % (3 * depth)  # sometimes within the ring, often past it
            for _ in range(burst):
                if i >= total:
                    break
                p.send(pattern(i, i % 513), sig=i)
                i += 1
            while True:
                try:
                    data, meta = c.recv_meta(timeout=0)
                except rill.TimedOut:
                    break
                assert meta.sig > last
                assert data == pattern(meta.sig, meta.sig % 513)
                lost += meta.lost
                last = meta.sig
                received += 1
        assert last == total - 1
        assert lost > 0 and received < total
        # a view overwritten after poll is reported, never silently returned
        p.send(b"A" * 100, sig=1)
        v = c.poll()
        assert v.valid() and bytes(v.data[:1]) == b"A"
        for k in range(2 * depth):
            p.send(b"B" * 100, sig=2)
        assert not v.valid()
        with pytest.raises(rill.Overrun):
            v.tobytes()
        with pytest.raises(rill.Overrun) as e:
            c.poll()
        assert e.value.lost > 0
        c.close()


# ---- errors and arguments ------------------------------------------------------

def test_errors(region, rdir):
    region.create_channel("c", depth=64, mtu=128, max_msg=1024)
    with pytest.raises(rill.Exists) as e:
        region.create_channel("c")
    assert isinstance(e.value, FileExistsError) and e.value.code == 6
    with pytest.raises(rill.NotFound) as e:
        region.producer("nope")
    assert isinstance(e.value, FileNotFoundError)
    with pytest.raises(rill.InvalidArgument):
        region.create_channel("bad name!")
    with pytest.raises(rill.InvalidArgument):
        region.create_channel("d", depth=3)
    with pytest.raises(TypeError):
        region.create_channel(5)
    with pytest.raises(rill.Exists):
        rill.Region.create(region.name, dir=rdir)
    with pytest.raises(rill.NoDirectory):
        rill.Region.open("x", dir=rdir + "/missing")
    with region.producer("c") as p:
        with pytest.raises(rill.Busy):
            region.producer("c")
        with pytest.raises(TypeError):
            p.send("text")
        with pytest.raises(TypeError):
            p.send(12)
        with pytest.raises(rill.MessageTooLarge) as e:
            p.send(b"x" * 1025)
        assert e.value.code == 17
    assert "RILL_ENOENT" in str(rill.NotFound(5))
    assert rill.strerror(-18) == rill.strerror(18)
    import pickle
    err = pickle.loads(pickle.dumps(rill.Dead(21)))
    assert type(err) is rill.Dead and err.code == 21


def test_stats_and_latency(region):
    region.create_channel("c", depth=64, mtu=128)
    with region.producer("c") as p, region.consumer("c") as c:
        for i in range(200):
            p.send(b"m" * 10, sig=i)
            c.recv()
        p.flush()
        c.flush()
        st = region.channel_stats("c")
        assert isinstance(st, rill.ChannelStats)
        assert (st.depth, st.mtu, st.nconsumers, st.msgs, st.bytes) == (64, 128, 1, 200, 2000)
        assert st.producer_liveness == rill.PEER_ALIVE and st.producer_pid == os.getpid()
        cs = region.consumer_stats("c", c.slot)
        assert cs.mode == rill.RELIABLE and cs.msgs == 200 and cs.lag == 0
        lat = region.latency("c", c.slot)
        assert lat.count > 0 and lat.count == sum(lat.buckets)
        # A sample may be 0 ns: taken in the clock tick it was stamped in.
        assert 0 <= lat.quantile(0.5) <= lat.quantile(0.99) and lat.mean_ns >= 0
        assert (lat - lat).count == 0
        assert region.info().nobjects == 1
        assert region.info().page_size == os.sysconf("SC_PAGE_SIZE")  # not on hugetlbfs
        assert c.producer_state() == rill.PEER_ALIVE
    assert rill.version() == "0.3.0"


# ---- threads and the GIL ----------------------------------------------------------

def test_blocking_recv_releases_gil(region):
    region.create_channel("c", depth=64, mtu=128)
    with region.producer("c") as p, region.consumer("c") as c:
        got = []
        t = threading.Thread(target=lambda: got.append(c.recv(timeout=5)))
        t.start()
        time.sleep(0.05)
        n = 0
        end = time.monotonic() + 0.2
        while time.monotonic() < end:  # runs only if the waiting thread let the GIL go
            n += 1
        with pytest.raises(RuntimeError, match="another thread"):
            c.poll()
        p.send(b"wake")
        t.join(5)
        assert got == [b"wake"] and n > 10000


# ---- other processes -----------------------------------------------------------

def check_stream(c, seed, count, mtu, max_msg, reliable):
    """Receives the stream SEED of COUNT messages on C, checking every byte,
    every sig and every sequence number (a descriptor of another sequence
    number taken for a message's shows as a wrong seq), until the producer
    left.  Reliable: all of them, in order.  Returns (received, lost)."""
    got = lost = 0
    nxt = seq = 0  # the next message expected, and its first descriptor's seq
    while True:
        try:
            data, meta = c.recv_meta(timeout=10)
        except rill.Closed:
            break
        assert nxt <= meta.sig < count, f"message {meta.sig} after {nxt - 1}"
        if reliable:
            assert (meta.sig, meta.lost) == (nxt, 0)
        while nxt < meta.sig:
            seq += frags(size(seed, nxt, mtu, max_msg), mtu)
            nxt += 1
        assert meta.seq == seq, f"message {meta.sig}: seq {meta.seq}, want {seq}"
        assert data == message(seed, meta.sig, mtu, max_msg), f"message {meta.sig}"
        want_ctl = rill.CTL_MSG if len(data) <= mtu else rill.CTL_EOM
        assert meta.ctl == want_ctl and meta.size == len(data)
        seq += frags(len(data), mtu)
        nxt += 1
        got += 1
        lost += meta.lost
    assert nxt == count, "the last message was not received"  # nothing overwrites it
    return got, lost


# "lapped": the lossy consumer reads only once the producer has left, after
# it sent over ten times what the ring holds: lapped for sure.
@pytest.mark.parametrize("mode", ["reliable", "lossy", "lapped"])
def test_python_consumer_of_xpeer_stream(peer, rdir, mode):
    """A C or Go producer sends the stream of tests/vectors/README.md into
    a channel Python made; a Python consumer checks every byte."""
    count, seed = (20000 if mode == "reliable" else 5000), 11
    with rill.Region.create("xr", size=8 << 20, dir=rdir) as region:
        region.create_channel("xc", depth=256, mtu=512, max_consumers=4, max_msg=4096)
        st = region.channel_stats("xc")
        c = region.consumer("xc", lossy=mode != "reliable")
        prod = peer.popen("produce", rdir, "xr", "xc", count, seed, stderr=subprocess.PIPE)
        try:
            if mode == "lapped":
                assert prod.wait(60) == 0, prod.stderr.read()
                assert region.channel_stats("xc").seq > 10 * st.depth
            got, lost = check_stream(c, seed, count, st.mtu, st.max_msg, mode == "reliable")
            assert prod.wait(60) == 0, prod.stderr.read()
        finally:
            reap(prod)
        if mode == "reliable":
            assert got == count and lost == 0
        if mode == "lapped":
            assert lost > 0 and got < count
            cs = region.consumer_stats("xc", c.slot)
            assert cs.overrun_poll + cs.overrun_read > 0
        with pytest.raises(rill.Closed):  # a wait sees it (rill_recv alone says EAGAIN)
            c.recv(timeout=1)
        c.close()


@pytest.mark.parametrize("mode", ["reliable", "lossy"])
def test_python_producer_checked_by_xpeer(peer, rdir, mode):
    """A Python producer sends the stream; a C or Go consumer checks every
    byte.  The lossy one reads only when told ("late"), after the whole
    stream was sent: it is lapped for sure."""
    count, seed = 20000 if mode == "reliable" else 3000, 23
    with rill.Region.create("pr", size=8 << 20, dir=rdir) as region:
        region.create_channel("pc", depth=128, mtu=512, max_msg=4096)
        st = region.channel_stats("pc")
        extra = ["0", "late"] if mode == "lossy" else []
        cons = peer.popen("consume", rdir, "pr", "pc", count, seed, mode, *extra,
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE)
        try:
            assert cons.stdout.readline().strip() == "ready"
            with region.producer("pc") as p:
                for i in range(count):
                    p.send(message(seed, i, st.mtu, st.max_msg), sig=i, timeout=10)
            out, err = cons.communicate("go\n" if mode == "lossy" else "", timeout=60)
        finally:
            reap(cons)
        assert cons.returncode == 0, err
        if mode == "lossy" or peer.name == "go":  # the C peer says "ok" of lossy runs only
            ok, received, lost = out.split()[-3:]
            assert ok == "ok" and int(received) > 0
            if mode == "lossy":
                assert int(lost) > 0  # lapped for sure (late), every byte checked
            else:
                assert (int(received), int(lost)) == (count, 0)


PRODUCER = r"""
import sys, time, rill
with rill.Region.open(sys.argv[1], dir=sys.argv[2]) as r:
    p = r.producer("c")
    for i in range(10):
        p.send(bytes([i]) * 100, sig=i)
    print("sent", flush=True)
    time.sleep(60)
"""


def test_killed_producer_is_dead(region):
    region.create_channel("c", depth=64, mtu=128)
    c = region.consumer("c")
    child = subprocess.Popen([sys.executable, "-c", PRODUCER, region.name, region.dir],
                             stdout=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        assert child.stdout.readline().strip() == "sent"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        for i in range(10):  # everything it published is read first
            data, meta = c.recv_meta(timeout=5)
            assert data == bytes([i]) * 100 and meta.sig == i
        t0 = time.monotonic()
        with pytest.raises(rill.Dead) as e:
            c.recv(timeout=5)
        assert e.value.code == 21 and time.monotonic() - t0 < 2
        with pytest.raises(rill.Dead):
            list(c)
        assert region.channel_stats("c").producer_liveness == rill.PEER_DEAD
        assert c.producer_state() == rill.PEER_DEAD
    finally:
        reap(child)
    c.close()


# ---- asyncio ------------------------------------------------------------------

def test_asyncio_recv(region):
    region.create_channel("c", depth=64, mtu=128)
    p = region.producer("c")
    c = region.consumer("c")
    c.set_spin(0)

    def produce():
        for i in range(50):
            time.sleep(0.002 if i % 5 else 0.03)  # the consumer parks on its fd between
            p.send(pattern(i, i), sig=i)
        p.close()

    async def main():
        with pytest.raises(rill.TimedOut):
            await c.recv_async(timeout=0.05)
        t = threading.Thread(target=produce)
        t.start()
        got = []
        ticks = 0

        async def ticker():  # the loop stays free while the consumer waits
            nonlocal ticks
            while True:
                await asyncio.sleep(0.001)
                ticks += 1

        tk = asyncio.ensure_future(ticker())
        data, meta = await c.recv_meta_async(timeout=5)
        got.append(data)
        async for data in c:
            got.append(data)
        tk.cancel()
        t.join()
        return got, ticks

    got, ticks = asyncio.run(main())
    assert got == [pattern(i, i) for i in range(50)]
    assert ticks > 20
    c.close()


def test_asyncio_dead_producer(region):
    region.create_channel("c", depth=64, mtu=128)
    c = region.consumer("c")
    child = subprocess.Popen([sys.executable, "-c", PRODUCER, region.name, region.dir],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "sent"

        async def main():
            out = [await c.recv_async(timeout=5) for _ in range(10)]
            os.kill(child.pid, signal.SIGKILL)
            with pytest.raises(rill.Dead):
                await c.recv_async(timeout=5)
            return out

        assert asyncio.run(main()) == [bytes([i]) * 100 for i in range(10)]
    finally:
        reap(child)
    c.close()
