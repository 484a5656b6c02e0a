# SPDX-License-Identifier: Apache-2.0 OR MIT
"""NumPy over the zero-copy views: numpy.frombuffer(view.data) reads the
ring itself, read-only; numpy.frombuffer(producer.reserve(n)) writes it.

An array made from a view reads the ring through the view's Span (the
module doc), so while it is alive the endpoint's next call raises
BufferError rather than let it read or write reused memory; kept past
close(), it keeps the mapping alive and never crashes."""
import subprocess
import sys

import pytest

import rill

np = pytest.importorskip("numpy")


def u64s(first: int, n: int) -> bytes:
    return np.arange(first, first + n, dtype="<u8").tobytes()


def test_numpy_reads_the_ring_without_a_copy(region):
    depth = 16
    region.create_channel("c", depth=depth, mtu=128, max_msg=512)
    with region.producer("c") as p, region.consumer("c", lossy=True) as c:
        p.send(u64s(100, 8), sig=1)
        v = c.poll()
        a = np.frombuffer(v.data, dtype="<u8")
        assert a.tolist() == list(range(100, 108))
        # the array's memory is the ring's: the C view's data pointer
        # (rill_view.data, inside the consumer's mapping of the region)
        from rill._rill import ffi
        ring = int(ffi.cast("uintptr_t", v._v.data))
        assert a.__array_interface__["data"] == (ring, True)  # (address, read-only)
        assert np.shares_memory(a, np.frombuffer(v.data, dtype=np.uint8))
        # read-only, and it cannot be made writable
        assert not a.flags.writeable and not a.flags.owndata
        with pytest.raises(ValueError, match="read-only"):
            a[0] = 1
        with pytest.raises(ValueError):
            a.setflags(write=True)
        # the producer laps the lossy consumer: the array shows the new
        # bytes (it is the ring, not a copy), and the view reports it
        for k in range(4 * depth):  # 64 chunks through a data ring of (depth + 2) * 2
            p.send(u64s(1000 + 8 * k, 8), sig=2)
        assert a.tolist() != list(range(100, 108))
        assert a[0] >= 1000 and a[0] % 8 == 0
        assert not v.valid()
        with pytest.raises(rill.Overrun):
            v.tobytes()
        # the next poll sees the array: it refuses until the array goes
        with pytest.raises(BufferError, match="numpy"):
            c.poll()
        with pytest.raises(ValueError, match="released"):
            v.data[0]
        assert len(a.tolist()) == 8
        del a
        with pytest.raises(rill.Overrun) as e:  # then the lap is reported
            c.poll()
        assert e.value.lost > 0
        v2 = c.poll()  # where it resynchronised: a message of the lap, intact
        b = np.frombuffer(v2.data, dtype="<u8").tolist()
        assert v2.sig == 2 and b == list(range(b[0], b[0] + 8)) and (b[0] - 1000) % 8 == 0
        assert v2.valid()


def test_numpy_writes_through_reserve(region):
    region.create_channel("c", depth=64, mtu=256)
    with region.producer("c") as p, region.consumer("c") as c:
        for i in range(50):
            buf = p.reserve(256)
            a = np.frombuffer(buf, dtype="<u4")
            assert a.flags.writeable and a.size == 64
            a[:] = np.arange(i, i + 64, dtype="<u4")  # straight into the ring
            del a  # before commit (which releases buf)
            p.commit(4 * (i + 1), sig=i)
            data, meta = c.recv_meta(timeout=1)
            assert meta.sig == i and np.frombuffer(data, dtype="<u4").tolist() == list(range(i, 2 * i + 1))
        # a structured record, read in place by the consumer
        rec = np.dtype([("id", "<u8"), ("px", "<f8"), ("qty", "<i4"), ("pad", "<i4")])
        buf = p.reserve(rec.itemsize * 3)
        r = np.frombuffer(buf, dtype=rec)
        r["id"], r["px"], r["qty"], r["pad"] = [1, 2, 3], [1.5, 2.5, 3.5], [-1, -2, -3], 0
        del r
        p.commit(rec.itemsize * 3, sig=99)
        v = c.poll()
        got = np.frombuffer(v.data, dtype=rec)
        assert got["id"].tolist() == [1, 2, 3] and got["px"].tolist() == [1.5, 2.5, 3.5]
        assert got["qty"].tolist() == [-1, -2, -3] and v.sig == 99
        del got


def test_numpy_array_blocks_the_next_call(region):
    region.create_channel("c", depth=16, mtu=64)
    with region.producer("c") as p, region.consumer("c") as c:
        p.send(b"12345678", sig=1)
        p.send(b"abcdefgh", sig=2)
        v = c.poll()
        a = np.frombuffer(v.data, dtype=np.uint8)
        with pytest.raises(BufferError):
            c.poll()
        with pytest.raises(BufferError):
            c.recv(timeout=0)  # the calls in C check it too
        del a
        assert bytes(c.poll().data) == b"abcdefgh"  # nothing was taken meanwhile
        w = p.reserve(8)
        b = np.frombuffer(w, dtype=np.uint8)
        b[:] = 9
        with pytest.raises(BufferError):
            p.commit(8)  # would leave b writing into a published message
        with pytest.raises(BufferError):
            p.send(b"x")
        del b
        p.send(b"x")  # the reservation was dropped, uncommitted
        assert c.recv(timeout=1) == b"x" and c.try_recv() is None


CHILD = r"""
import gc, sys
import numpy as np
import rill
region = rill.Region.create("n", size=1 << 20, dir=sys.argv[1])
region.create_channel("c", depth=8, mtu=64)
p = region.producer("c")
c = region.consumer("c", lossy=True)
p.send(bytes(range(64)), sig=1)
v = c.poll()
whole = np.frombuffer(v.data, dtype=np.uint8)
part = np.frombuffer(v.data[8:], dtype=np.uint8)    # of a slice
w = np.frombuffer(p.reserve(64), dtype=np.uint8)    # writable
try:
    p.commit(64, sig=2)
except BufferError:
    print("commit refused", flush=True)
c.close(); p.close(); region.close()                # the arrays keep the mapping
assert region.closed and c.closed and p.closed
w[:] = 7                                            # writes the ring: no crash
s = int(whole.sum()) + int(part.sum()) + int(w.sum())
del v; gc.collect()
s += int(whole.sum())
late = whole                                        # still alive at exit
print("ok", s > 0, flush=True)
"""


def test_numpy_arrays_outliving_everything_do_not_crash(rdir):
    """Arrays over views kept past the next call, past close() of the
    endpoints and the region, and alive at interpreter exit: readable, no
    crash (in a child interpreter, so that a crash fails this test)."""
    r = subprocess.run([sys.executable, "-c", CHILD, rdir], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["commit", "refused", "ok", "True"] and r.stderr == ""
