# SPDX-License-Identifier: Apache-2.0 OR MIT
"""rill: lock-free shared-memory channels between processes on one host.

A thin, Pythonic layer over librill (compiled into the extension
``rill._rill``)::

    with rill.Region.create("demo", size=1 << 20, dir="/dev/shm") as region:
        region.create_channel("ticks", depth=1024, mtu=256)
        with region.producer("ticks") as p, region.consumer("ticks") as c:
            p.send(b"hello", sig=7)
            data, meta = c.recv_meta()

Errors are raised as :class:`rill.Error` subclasses carrying the RILL_E*
code (see :mod:`rill._errors`).  Timeouts are in seconds (float); ``None``
waits without limit, 0 looks once.  Blocking calls release the GIL.

Zero-copy views.  :meth:`Consumer.poll` returns a :class:`View` whose
``data`` is a read-only :class:`memoryview` over the ring in shared memory,
and :meth:`Producer.reserve` a writable one.  Such a memoryview is valid
until the next call on its endpoint, which releases it (``.release()``):
using it afterwards raises ``ValueError`` ("released memoryview"), never
reads reused memory.  Whatever else reads or writes those bytes (a slice
``view.data[2:]``, ``memoryview(view.data)``, ``numpy.frombuffer``,
``ffi.from_buffer``...) is counted (the bytes are exported by a
``rill._fast.Span``), and while any of it is alive the next call raises
:class:`BufferError` asking to delete it, and does nothing else (the view
itself is released).  So nothing made from a view can read the ring after
the endpoint moved on; the mapping under such leftovers stays alive until
they go (the endpoint's handle with it, even past ``close()``), so they
never crash the interpreter.  A lossy consumer's view may
be overwritten while it is read: :meth:`View.valid` (``rill_check``) tells,
and :meth:`View.tobytes` copies and checks at once, raising
:class:`Overrun` rather than returning overwritten bytes.

Threads: a handle is used by one thread at a time (the C rule); a second
thread calling into a handle that is in use gets :class:`RuntimeError`.
"""
from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, fields
from typing import Any, Iterator, NamedTuple, Optional, Tuple, Union

from ._errors import (  # noqa: F401
    Again, BadRegion, Busy, Closed, Dead, Error, Exists, Full, InvalidArgument,
    IOFailure, MessageTooLarge, NoDirectory, NoHugePages, NoMemory, NoMethod, NoSpace,
    NotFound, Overrun, PermissionDenied, ServerDead, ServerLeft, TimedOut, TooManyWorkers,
    error, strerror,
)
from ._rill import ffi, lib
from . import _rill


def _load_fast() -> Any:
    """rill._fast (rill_fast.c): the per-message calls, compiled into the
    same shared object as rill._rill and loaded from it under its own name
    (PEP 489), so that both use the one copy of librill."""
    import importlib.machinery
    import importlib.util
    import sys
    loader = importlib.machinery.ExtensionFileLoader("rill._fast", _rill.__file__)
    spec = importlib.util.spec_from_file_location("rill._fast", _rill.__file__, loader=loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    sys.modules["rill._fast"] = mod
    return mod


_fast = _load_fast()

from . import rpc  # noqa: E402

__all__ = [
    "Region", "Producer", "Consumer", "View", "Meta", "ChannelStats", "ConsumerStats",
    "Latency", "RegionInfo", "version", "RELIABLE", "LOSSY", "CTL_SOM", "CTL_EOM",
    "CTL_ERR", "CTL_MSG", "ctl_user", "PEER_NONE", "PEER_ALIVE", "PEER_DEAD",
    "PEER_UNKNOWN", "Error", "Again", "Overrun", "InvalidArgument", "NoMemory", "NotFound",
    "NoDirectory", "Exists", "PermissionDenied", "NoSpace", "Busy", "Full", "BadRegion",
    "MessageTooLarge", "TimedOut", "IOFailure", "Closed", "Dead", "ServerDead",
    "ServerLeft", "NoMethod", "TooManyWorkers", "NoHugePages", "strerror", "rpc",
]

__version__ = "0.3.0"

RELIABLE = lib.RILL_RELIABLE
LOSSY = lib.RILL_LOSSY
CTL_SOM = lib.RILL_CTL_SOM
CTL_EOM = lib.RILL_CTL_EOM
CTL_ERR = lib.RILL_CTL_ERR
CTL_MSG = lib.RILL_CTL_MSG
PEER_NONE = lib.RILL_PEER_NONE
PEER_ALIVE = lib.RILL_PEER_ALIVE
PEER_DEAD = lib.RILL_PEER_DEAD
PEER_UNKNOWN = lib.RILL_PEER_UNKNOWN

_FOREVER = 0xFFFFFFFFFFFFFFFF
# blocking waits are cut in slices this long, so that signals (Ctrl-C) are
# handled while a thread waits with the GIL released
_SLICE = 0.25

Timeout = Optional[float]


def version() -> str:
    """The version of librill compiled into this extension ("0.3.0")."""
    return ffi.string(lib.rill_version_string()).decode()


def ctl_user(x: int) -> int:
    """ctl bits for application value X (bits 3..15 of a descriptor's ctl)."""
    return (x << 3) & 0xFFFF


def _check(rc: int, what: Optional[str] = None) -> int:
    if rc < 0:
        raise error(rc, what)
    return rc


def _name(name: Union[str, bytes], what: str = "name") -> bytes:
    if isinstance(name, str):
        name = name.encode()
    if not isinstance(name, bytes):
        raise TypeError(f"{what} must be str or bytes, not {type(name).__name__}")
    if b"\0" in name:  # C would cut it there
        raise InvalidArgument(lib.RILL_EINVAL, f"{what} {name!r} has a NUL byte")
    return name


def _dir(d: Union[str, bytes, "os.PathLike[str]", None]) -> Any:
    """DIR as a C string (a cdata the caller keeps alive), NULL for None."""
    if d is None:
        return ffi.NULL
    b = os.fsencode(d)
    if b"\0" in b:
        raise InvalidArgument(lib.RILL_EINVAL, f"dir {b!r} has a NUL byte")
    return ffi.new("char[]", b)


def _seconds(timeout: Timeout) -> Timeout:
    """TIMEOUT checked: None, or a number of seconds >= 0 (inf: None)."""
    if timeout is None:
        return None
    if isinstance(timeout, (str, bytes, bytearray)):  # float() would parse them
        raise TypeError(f"timeout must be a number or None, not {type(timeout).__name__}")
    t = float(timeout)  # TypeError for what is not a number
    if not t >= 0:  # NaN too
        raise ValueError("timeout must be >= 0 or None")
    return None if t >= 3.2e9 else t  # beyond a century: no limit, as in rill._fast


def _ns(timeout: Timeout) -> int:
    t = _seconds(timeout)
    return _FOREVER if t is None else int(t * 1e9)


def _wait(call, timeout: Timeout) -> int:
    """Runs CALL(ns) (a waiting C call) for at most TIMEOUT seconds, in
    slices so that signals are seen between them.  Returns its result."""
    timeout = _seconds(timeout)
    if timeout is not None and timeout <= _SLICE:
        return call(_ns(timeout))
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        left = _SLICE if deadline is None else min(_SLICE, deadline - time.monotonic())
        rc = call(int(max(left, 0) * 1e9))
        if rc != -lib.RILL_ETIMEDOUT or (deadline is not None and time.monotonic() >= deadline):
            return rc


def _struct_dict(c: Any, cls: Any) -> dict:
    return {f.name: getattr(c, f.name) for f in fields(cls)}


@dataclass(frozen=True)
class RegionInfo:
    """rill_region_info: a region's header."""

    size: int
    used: int
    created_ns: int
    creator_pid: int
    creator_uid: int
    nobjects: int
    owner_uid: int
    page_size: int


@dataclass(frozen=True)
class ChannelStats:
    """rill_channel_stats: a channel's layout and producer counters."""

    depth: int
    mtu: int
    max_consumers: int
    nconsumers: int
    max_msg: int
    off: int
    size: int
    meta_off: int
    data_off: int
    data_chunks: int
    seq0: int
    created_ns: int
    seq: int
    msgs: int
    bytes: int
    backpressure: int
    producer_joined: int
    producer_liveness: int
    producer_pid: int
    producer_gen: int
    producer_heartbeat_ns: int
    evictions: int
    wakes: int


@dataclass(frozen=True)
class ConsumerStats:
    """rill_consumer_stats: one consumer slot's counters (mode 0: free)."""

    slot: int
    mode: int
    seq: int
    lag: int
    msgs: int
    bytes: int
    overrun_poll: int
    overrun_read: int
    lost: int
    liveness: int
    evicted: int
    parked: int
    pid: int
    heartbeat_ns: int


@dataclass(frozen=True)
class Latency:
    """rill_latency: publish-to-consume latency samples of a consumer slot."""

    count: int
    sum_ns: int
    buckets: Tuple[int, ...]

    def quantile(self, q: float) -> int:
        """The Q quantile (0 <= Q <= 1) in ns, 0 if there are no samples."""
        if not 0.0 <= q <= 1.0:
            raise ValueError("q must be in [0, 1]")
        h = ffi.new("rill_latency *")
        h.count, h.sum_ns = self.count, self.sum_ns
        for i, b in enumerate(self.buckets):
            h.buckets[i] = b
        return lib.rill_latency_quantile(h, q)

    @property
    def mean_ns(self) -> float:
        return self.sum_ns / self.count if self.count else 0.0

    def __sub__(self, other: "Latency") -> "Latency":
        """The samples taken between two readings."""
        return Latency(self.count - other.count, self.sum_ns - other.sum_ns,
                       tuple(a - b for a, b in zip(self.buckets, other.buckets)))

    @staticmethod
    def bucket_ns(i: int) -> int:
        """Lower bound of bucket I in ns."""
        return lib.rill_latency_bucket_ns(i)


class Meta(NamedTuple):
    """rill_meta: what came with a received message."""

    seq: int
    sig: int
    size: int
    lost: int
    ctl: int
    tsorig: int
    tspub: int


_fast._setup(error, Meta)

# One thread at a time in a handle: "with guard:" raises RuntimeError if
# another thread is in it.  In C (rill_fast.c), because the per-message
# calls there check the same flag.
_Guard = _fast.Guard


def _own(ptr: Any, kind: int) -> Any:
    """A _fast.Handle owning librill handle PTR: freed (closed, left) when
    the last reference to it goes, in its deallocation, never in a
    finalizer, so that no __del__ can use it after."""
    return _fast.Handle(int(ffi.cast("uintptr_t", ptr)), kind)


class Region:
    """A rill region: a named shared-memory file holding channels.

    Made by :meth:`create` or :meth:`open`; a context manager (``close()``
    on exit).  Endpoints joined through a region stay valid after it is
    closed.
    """

    def __init__(self, _owner: Any, name: bytes, dir: Any) -> None:
        self._owner = _owner
        self._p = ffi.cast("rill_region *", _owner.addr)
        self.name = name.decode()
        self.dir = dir

    @classmethod
    def create(cls, name: Union[str, bytes], size: int = 0,
               dir: Union[str, "os.PathLike[str]", None] = None, mode: int = 0o600,
               huge: bool = False) -> "Region":
        """Creates region NAME (file DIR/NAME) of SIZE bytes (0: 64 MiB).
        DIR None: $RILL_DIR, else /dev/shm.  HUGE (RILL_REGION_HUGE): backed
        by huge pages, DIR a hugetlbfs mount whose pool holds the region
        (SIZE rounded up to the huge page size, every page taken now), else
        :class:`NoHugePages`.  Raises :class:`Exists`..."""
        n = _name(name)
        opts = ffi.new("rill_region_opts *")
        opts.size = size
        d = _dir(dir)
        opts.dir = d
        opts.mode = mode
        opts.flags = lib.RILL_REGION_HUGE if huge else 0
        out = ffi.new("rill_region **")
        _check(lib.rill_region_create(n, opts, out), f"creating region {n.decode()!r}")
        return cls(_own(out[0], _fast.REGION), n, dir)

    @classmethod
    def open(cls, name: Union[str, bytes], dir: Union[str, "os.PathLike[str]", None] = None,
             readonly: bool = False, timeout: Timeout = 0) -> "Region":
        """Opens existing region NAME; with TIMEOUT (seconds, None: no
        limit) waits for it to appear.  READONLY opens it as an observer
        (stats only).  Raises :class:`NotFound` if it is not there."""
        n = _name(name)
        opts = ffi.new("rill_region_opts *")
        d = _dir(dir)
        opts.dir = d
        opts.flags = lib.RILL_REGION_READONLY if readonly else 0
        out = ffi.new("rill_region **")
        if timeout == 0:
            rc = lib.rill_region_open(n, opts, out)
        else:
            rc = _wait(lambda ns: lib.rill_region_open_wait(n, opts, ns, out), timeout)
        _check(rc, f"opening region {n.decode()!r}")
        return cls(_own(out[0], _fast.REGION), n, dir)

    @staticmethod
    def unlink(name: Union[str, bytes], dir: Union[str, "os.PathLike[str]", None] = None) -> None:
        """Removes region NAME (and its consumers' FIFOs) from DIR."""
        _check(lib.rill_region_unlink(_name(name), _dir(dir)), "unlinking region")

    @staticmethod
    def in_use(name: Union[str, bytes], dir: Union[str, "os.PathLike[str]", None] = None) -> bool:
        """Whether a live process has region NAME open or joined."""
        return bool(_check(lib.rill_region_in_use(_name(name), _dir(dir))))

    def _h(self) -> Any:
        if self._p is None:
            raise ValueError("the region is closed")
        return self._p

    @property
    def closed(self) -> bool:
        return self._p is None

    def close(self) -> None:
        """Closes the handle (endpoints joined through it stay valid)."""
        if self._p is not None:
            self._p = None
            owner, self._owner = self._owner, None
            owner.release()

    def __enter__(self) -> "Region":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<rill.Region {self.name!r}{' closed' if self._p is None else ''}>"

    def info(self) -> RegionInfo:
        """The region's header (rill_region_info_get)."""
        i = ffi.new("rill_region_info *")
        _check(lib.rill_region_info_get(self._h(), i))
        return RegionInfo(**_struct_dict(i, RegionInfo))

    def create_channel(self, name: Union[str, bytes], depth: int = 0, mtu: int = 0,
                       max_consumers: int = 0, max_msg: int = 0) -> None:
        """Creates channel NAME (0 = the library's default for an option:
        depth 4096, mtu 1024, 8 consumers, max_msg 16 * mtu)."""
        n = _name(name)
        o = ffi.new("rill_channel_opts *")
        o.depth, o.mtu, o.max_consumers, o.max_msg = depth, mtu, max_consumers, max_msg
        _check(lib.rill_channel_create(self._h(), n, o), f"creating channel {n.decode()!r}")

    def wait_channel(self, name: Union[str, bytes], timeout: Timeout = None) -> None:
        """Waits until channel NAME exists (raises :class:`TimedOut`)."""
        n = _name(name)
        h = self._h()
        _check(_wait(lambda ns: lib.rill_channel_wait(h, n, ns), timeout))

    def producer(self, channel: Union[str, bytes]) -> "Producer":
        """Joins CHANNEL as its producer (raises :class:`Busy` if a live
        one is joined)."""
        n = _name(channel)
        out = ffi.new("rill_producer **")
        _check(lib.rill_producer_join(self._h(), n, out), f"joining channel {n.decode()!r}")
        owner = _own(out[0], _fast.PRODUCER)  # leaves if what follows fails
        return Producer(owner, n.decode(), self.channel_stats(channel))

    def consumer(self, channel: Union[str, bytes], lossy: bool = False,
                 slot: Optional[int] = None) -> "Consumer":
        """Joins CHANNEL as a consumer, reliable (the producer waits for
        it) or LOSSY (it may be lapped).  With SLOT, rejoins that slot from
        its last flushed position (its mode is kept)."""
        n = _name(channel)
        out = ffi.new("rill_consumer **")
        if slot is None:
            rc = lib.rill_consumer_join(self._h(), n, LOSSY if lossy else RELIABLE, out)
        else:
            rc = lib.rill_consumer_rejoin(self._h(), n, slot, out)
        _check(rc, f"joining channel {n.decode()!r}")
        owner = _own(out[0], _fast.CONSUMER)  # leaves if what follows fails
        return Consumer(owner, n.decode(), self.channel_stats(channel), lossy)

    def channel_stats(self, channel: Union[str, bytes]) -> ChannelStats:
        """Layout and producer counters of CHANNEL (rill_channel_stats_get)."""
        st = ffi.new("rill_channel_stats *")
        _check(lib.rill_channel_stats_get(self._h(), _name(channel), st))
        return ChannelStats(**_struct_dict(st, ChannelStats))

    def consumer_stats(self, channel: Union[str, bytes], slot: int) -> ConsumerStats:
        """Counters of consumer SLOT of CHANNEL (mode 0: a free slot)."""
        cs = ffi.new("rill_consumer_stats *")
        _check(lib.rill_consumer_stats_get(self._h(), _name(channel), slot, cs))
        return ConsumerStats(**_struct_dict(cs, ConsumerStats))

    # ---- request/response (rill.rpc)

    def create_service(self, name: Union[str, bytes], lanes: int = 0, depth: int = 0,
                       mtu: int = 0, max_msg: int = 0) -> None:
        """Creates request/response service NAME (0: the defaults, 4 lanes
        of depth 1024, mtu 1024, max_msg 4 * mtu)."""
        o = ffi.new("rill_rpc_opts *")
        o.lanes, o.depth, o.mtu, o.max_msg = lanes, depth, mtu, max_msg
        _check(lib.rill_rpc_service_create(self._h(), _name(name), o))

    def serve(self, name: Union[str, bytes], handler: "rpc.Handler",
              workers: int = 1) -> "rpc.Server":
        """Serves NAME with HANDLER(method, request) -> response on WORKERS
        threads (see rill.rpc)."""
        return rpc.Server(self._h(), _name(name), handler, workers)

    def rpc_connect(self, name: Union[str, bytes]) -> "rpc.Client":
        """A client of service NAME (one lane of it)."""
        n = _name(name)
        st = self.channel_stats(n + b".q.0")
        return rpc.Client(self._h(), n, st.max_msg)

    def latency(self, channel: Union[str, bytes], slot: int) -> Latency:
        """Latency samples of consumer SLOT of CHANNEL since it joined."""
        h = ffi.new("rill_latency *")
        _check(lib.rill_latency_get(self._h(), _name(channel), slot, h))
        return Latency(h.count, h.sum_ns, tuple(h.buckets))


class _Endpoint:
    _what = "endpoint"

    _ctype = "void *"

    def __init__(self, owner: Any, channel: str, st: ChannelStats) -> None:
        guard = _Guard(self._what)
        self._attach(owner, guard, st.max_msg)  # first: refuses a second __init__
        self._guard = guard
        self._span: Any = None
        self._owner = owner
        self._p = ffi.cast(self._ctype, owner.addr)
        self._mv: Optional[memoryview] = None
        self.channel = channel
        self.mtu = st.mtu
        self.max_msg = st.max_msg
        self.depth = st.depth

    def _h(self) -> Any:
        if self._p is None:
            raise ValueError(f"the {self._what} is closed")
        return self._p

    def _release_view(self) -> None:
        """Releases the memoryview handed out last, or raises BufferError
        if something still uses its bytes (see the module's doc)."""
        mv = self._mv
        if mv is not None:
            try:
                mv.release()
            except BufferError:
                raise BufferError(
                    f"a memoryview from this {self._what} is still exported (numpy.frombuffer, "
                    "ffi.from_buffer...): release it before the next call") from None
            self._mv = None
        sp = self._span
        if sp is not None:
            if sp.exports:
                raise BufferError(
                    f"the bytes of the last view of this {self._what} are still in use (a "
                    "slice of it, memoryview(view), a numpy array...): delete them before "
                    "the next call")
            self._span = None
        self._view_out = 0

    def _export(self, ptr: Any, n: int, readonly: bool) -> memoryview:
        # the Span keeps the endpoint's handle, so the mapping, alive and
        # counts what reads through it (_release_view)
        sp = _fast.Span(self._owner, int(ffi.cast("uintptr_t", ptr)), n, readonly)
        self._mv = memoryview(sp)
        self._span = sp
        self._view_out = 1
        return self._mv

    @property
    def closed(self) -> bool:
        return self._p is None

    def close(self) -> None:
        """Leaves the channel.  A memoryview still exported elsewhere (or a
        slice of one) keeps the mapping, and the endpoint, until it goes."""
        if self._p is None:
            return
        with self._guard:
            try:
                self._release_view()
            except BufferError:
                pass  # what uses it keeps the mapping alive (the Span's handle)
            self._mv = None
            self._span = None
            self._view_out = 0
            self._detach()
            self._p = None
            self._owner = None  # leaves now, or when the last view goes

    def __enter__(self):
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<rill.{type(self).__name__} {self.channel!r}{' closed' if self._p is None else ''}>"


class Producer(_Endpoint, _fast.ProducerBase):
    """The producer of a channel (one at a time per channel).  send() and
    send_many() are in C (rill_fast.c, inherited from _fast.ProducerBase)."""

    _what = "producer"
    _ctype = "rill_producer *"

    def reserve(self, n: int, timeout: Timeout = None) -> memoryview:
        """Reserves N bytes (N <= mtu) in the ring and returns a writable
        memoryview over them, valid until the next call on this producer;
        then :meth:`commit`."""
        if not isinstance(n, int) or n < 0:
            raise TypeError("reserve() takes a size >= 0")
        if n > self.mtu:
            raise MessageTooLarge(lib.RILL_EMSGSIZE, f"{n} bytes, mtu is {self.mtu}")
        with self._guard:
            self._release_view()
            h = self._h()
            out = ffi.new("void **")
            if timeout == 0:
                rc = lib.rill_reserve(h, n, out)
            else:
                rc = _wait(lambda ns: lib.rill_reserve_wait(h, n, out, ns), timeout)
            _check(rc)
            return self._export(out[0], n, readonly=False)

    def commit(self, n: int, sig: int = 0, ctl: int = CTL_MSG, tsorig: int = 0) -> None:
        """Publishes the first N bytes of the reserved buffer with SIG and
        CTL (CTL_MSG, the default: a whole message; CTL_SOM/CTL_EOM mark
        fragments; ctl_user() bits for the application) and TSORIG (an
        application timestamp, 32 bits, in the descriptor's tsorig;
        rill_commit_ts).  The memoryview of reserve() is released."""
        with self._guard:
            self._release_view()
            _check(lib.rill_commit_ts(self._h(), n, sig, ctl, tsorig))

    def wait_consumers(self, n: int = 1, timeout: Timeout = None) -> int:
        """Waits until N live consumers are joined; returns how many are."""
        with self._guard:
            h = self._h()
            return _check(_wait(lambda ns: lib.rill_producer_wait_consumers(h, n, ns), timeout))

    def set_spin(self, seconds: float) -> None:
        """Busy-spin budget of the waiting calls before they park."""
        with self._guard:
            _check(lib.rill_producer_set_spin(self._h(), int(seconds * 1e9)))

    @property
    def seq(self) -> int:
        """The sequence number the next descriptor will get."""
        return lib.rill_producer_seq(self._h())

    def flush(self) -> None:
        """Writes counters, position and heartbeat to shared memory now."""
        with self._guard:
            _check(lib.rill_producer_flush(self._h()))


class View:
    """What :meth:`Consumer.poll` saw: one descriptor (a fragment, or a
    whole message when ``ctl & CTL_MSG == CTL_MSG``).  ``data`` is a
    read-only memoryview over the ring, released at the consumer's next
    call.  For a lossy consumer, check :meth:`valid` after reading it, or
    use :meth:`tobytes`."""

    __slots__ = ("data", "seq", "sig", "size", "ctl", "tsorig", "tspub", "_v", "_c")

    def __init__(self, data: memoryview, v: Any, consumer: "Consumer") -> None:
        self.data = data
        self.seq, self.sig, self.size = v.seq, v.sig, v.sz
        self.ctl, self.tsorig, self.tspub = v.ctl, v.tsorig, v.tspub
        self._v = v
        self._c = consumer

    def valid(self) -> bool:
        """True if the payload was not overwritten since poll() (rill_check);
        a reliable consumer's view is always valid until the next call."""
        return self._c.check(self)

    def tobytes(self) -> bytes:
        """A copy of the payload, checked: raises :class:`Overrun` if it was
        overwritten before the copy finished."""
        b = self.data.tobytes()
        if not self.valid():
            raise Overrun(lib.RILL_EOVERRUN, f"message {self.seq} was overwritten while read")
        return b

    def __bytes__(self) -> bytes:
        return self.tobytes()

    def __len__(self) -> int:
        return self.size

    def __repr__(self) -> str:
        return f"<rill.View seq={self.seq} sig={self.sig} size={self.size} ctl={self.ctl:#x}>"


class Consumer(_Endpoint, _fast.ConsumerBase):
    """A consumer of a channel, reliable or lossy.  Iterating over it
    yields each message's bytes until the producer leaves (a producer that
    died raises :class:`Dead`).  recv(), recv_meta(), try_recv() and
    recv_many() are in C (rill_fast.c, inherited from _fast.ConsumerBase)."""

    _what = "consumer"
    _ctype = "rill_consumer *"

    def __init__(self, owner: Any, channel: str, st: ChannelStats, lossy: bool) -> None:
        super().__init__(owner, channel, st)
        self.lossy = lossy
        self._fd: Optional[int] = None

    @property
    def slot(self) -> int:
        """The slot this consumer occupies (for Region.consumer(slot=...))."""
        return lib.rill_consumer_slot(self._h())

    def __iter__(self) -> Iterator[bytes]:
        while True:
            try:
                yield self.recv()
            except Closed:
                return

    def poll(self, timeout: Timeout = 0) -> Optional[View]:
        """The next descriptor as a zero-copy :class:`View`, or None if
        nothing came within TIMEOUT (0: look once).  Releases the view of
        the poll before (BufferError if it is still exported).  A lossy
        consumer that was lapped raises :class:`Overrun` with ``lost`` set;
        the next poll returns the newest message."""
        with self._guard:
            self._release_view()
            h = self._h()
            v = ffi.new("rill_view *")
            if timeout == 0:
                rc = lib.rill_poll(h, v)
            else:
                rc = _wait(lambda ns: lib.rill_poll_wait(h, v, ns), timeout)
            if rc in (-lib.RILL_EAGAIN, -lib.RILL_ETIMEDOUT):
                return None
            if rc == -lib.RILL_EOVERRUN:
                e = Overrun(lib.RILL_EOVERRUN, f"lapped: {v.lost} lost")
                e.lost = v.lost
                raise e
            _check(rc)
            mv = self._export(v.data, v.sz, readonly=True)
            return View(mv, v, self)

    def check(self, view: View) -> bool:
        """Whether VIEW's payload is still intact (rill_check)."""
        if view._c is not self:
            raise ValueError("the view belongs to another consumer")
        with self._guard:
            rc = lib.rill_check(self._h(), view._v)
        if rc == -lib.RILL_EOVERRUN:
            return False
        _check(rc)
        return True

    def fileno(self) -> int:
        """rill_consumer_fd(): a fd that becomes readable when this consumer
        should look again (after :meth:`arm`).  Owned by the consumer."""
        with self._guard:
            h = self._h()  # closed: ValueError (its fd went with it)
            if self._fd is None:
                self._fd = _check(lib.rill_consumer_fd(h))
            return self._fd

    def arm(self) -> bool:
        """rill_consumer_arm(): True when armed (wait for fileno()), False if
        there is something to read now.  Raises Closed/Dead."""
        self.fileno()
        with self._guard:
            return _check(lib.rill_consumer_arm(self._h())) == 0

    async def recv_async(self, timeout: Timeout = None) -> bytes:
        """recv() for asyncio: waits on the consumer's fd in the running
        loop (loop.add_reader), re-arming at least every 100 ms so that a
        producer's death is noticed."""
        return (await self._recv_async(timeout, False))

    async def recv_meta_async(self, timeout: Timeout = None) -> Tuple[bytes, Meta]:
        """recv_meta() for asyncio."""
        return (await self._recv_async(timeout, True))

    async def _recv_async(self, timeout: Timeout, meta: bool) -> Any:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        fd = self.fileno()
        while True:
            try:
                return self.recv_meta(0) if meta else self.recv(0)
            except TimedOut:
                pass
            if not self.arm():
                continue
            left = 0.1 if deadline is None else min(0.1, deadline - loop.time())
            if left <= 0:
                raise TimedOut(lib.RILL_ETIMEDOUT, "nothing to receive")
            fut = loop.create_future()
            loop.add_reader(fd, lambda: fut.done() or fut.set_result(None))
            try:
                await asyncio.wait_for(fut, left)
            except asyncio.TimeoutError:
                pass
            finally:
                loop.remove_reader(fd)

    def __aiter__(self):
        return self

    async def __anext__(self) -> bytes:
        try:
            return await self.recv_async()
        except Closed:
            raise StopAsyncIteration from None

    def seek_last(self, n: int) -> int:
        """Moves a lossy consumer back to the last N messages in the ring."""
        with self._guard:
            self._release_view()
            return _check(lib.rill_consumer_seek_last(self._h(), n))

    def set_spin(self, seconds: float) -> None:
        """Busy-spin budget of the waiting calls before they park."""
        with self._guard:
            _check(lib.rill_consumer_set_spin(self._h(), int(seconds * 1e9)))

    def flush(self) -> None:
        """Writes cursor, counters and heartbeat now (commits the position
        for a rejoin)."""
        with self._guard:
            _check(lib.rill_consumer_flush(self._h()))

    def producer_state(self) -> int:
        """Whether the producer is alive: PEER_NONE/ALIVE/DEAD/UNKNOWN."""
        with self._guard:
            return _check(lib.rill_consumer_producer(self._h()))
