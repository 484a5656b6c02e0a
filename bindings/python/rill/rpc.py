# SPDX-License-Identifier: Apache-2.0 OR MIT
"""Request/response over rill (rill_rpc.h): a service of lanes, a server
whose handler is a Python function run on the library's worker threads,
and clients (one per thread).

    region.create_service("calc", lanes=4)
    def handler(method: int, request: bytes) -> bytes: ...
    with region.serve("calc", handler, workers=2), region.rpc_connect("calc") as c:
        c.wait_server(5)
        answer = c.call(1, b"request")

A handler returns the response (a bytes-like object, None for an empty
one) or raises: a :class:`rill.Error` sends its code back as the call's
status (``rill.NoMethod(...)`` for a method it does not serve),
:class:`Status` sends its own status, and any other exception is sent as
-RILL_EIO and kept in :attr:`Server.errors`.  The workers hold the GIL
while the handler runs, as any Python thread.
"""
from __future__ import annotations

import threading
from typing import Any, Callable, List, Optional, Tuple, Union

from ._errors import Error, error
from ._rill import ffi, lib

Handler = Callable[[int, bytes], Any]


class Status(Exception):
    """Raised by a handler to answer with status CODE (nonzero); raised by
    a client call whose response carries a status that is not a RILL_E*
    code."""

    def __init__(self, status: int) -> None:
        super().__init__(f"the call failed with status {status}")
        self.status = status


def _status_error(status: int) -> Exception:
    if -lib.RILL_ERR_MAX_ < status < 0:
        return error(status, "the server answered")
    return Status(status)


@ffi.def_extern()
def _rill_py_rpc_handler(arg, method, req, n, resp, cap, resp_n):  # type: ignore[no-redef]
    server: Server = ffi.from_handle(arg)
    try:
        out = server._fn(method, ffi.buffer(req, n)[:])
        if out is None:
            out = b""
        elif isinstance(out, str):
            raise TypeError("a handler returns bytes-like, not str")
        src = ffi.from_buffer(out)
        if len(src) > cap:
            return -lib.RILL_EMSGSIZE
        ffi.memmove(resp, src, len(src))
        resp_n[0] = len(src)
        return 0
    except Status as s:
        return s.status if s.status else -lib.RILL_EIO
    except Error as e:
        return -e.code
    except BaseException as e:  # noqa: BLE001 - reported, never lost
        with server._lock:
            server.errors.append(e)
        return -lib.RILL_EIO


class Server:
    """A running server of a service (Region.serve()); stop() or a with
    block ends it (its workers finish the call they are in)."""

    _p: Any = None  # set once serving: stop() and __del__ of a failed __init__ do nothing

    def __init__(self, region_ptr: Any, name: bytes, fn: Handler, workers: int) -> None:
        if not callable(fn):
            raise TypeError("handler must be callable")
        self._fn = fn
        self._lock = threading.Lock()
        self.errors: List[BaseException] = []
        self._handle = ffi.new_handle(self)
        out = ffi.new("rill_rpc_server **")
        rc = lib.rill_rpc_serve(region_ptr, name, workers, lib._rill_py_rpc_handler,
                                self._handle, out)
        if rc < 0:
            raise error(rc, f"serving {name.decode()!r}")
        self._p = out[0]

    def stop(self) -> None:
        """Stops the workers (waits for them; the GIL is released meanwhile)."""
        if self._p is not None:
            p, self._p = self._p, None
            lib.rill_rpc_server_stop(p)

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __del__(self) -> None:
        self.stop()


class Client:
    """A client of a service (Region.rpc_connect()), used by one thread at
    a time.  call() for one call; send()/recv() to keep up to capacity
    calls in flight."""

    def __init__(self, region_ptr: Any, name: bytes, max_msg: int) -> None:
        out = ffi.new("rill_rpc_client **")
        rc = lib.rill_rpc_connect(region_ptr, name, out)
        if rc < 0:
            raise error(rc, f"connecting to {name.decode()!r}")
        from . import _own, _fast
        self._owner = _own(out[0], _fast.RPC_CLIENT)  # closed when the last reference goes
        self._p = out[0]
        self._buf = ffi.new("char[]", max(max_msg, 8))
        self._res = ffi.new("rill_rpc_result *")
        self._busy = threading.Lock()
        self.max_msg = max_msg

    def _h(self) -> Any:
        if self._p is None:
            raise ValueError("the client is closed")
        return self._p

    def _enter(self) -> None:
        if not self._busy.acquire(False):
            raise RuntimeError("this client is in use by another thread")

    def close(self) -> None:
        if self._p is not None:
            self._enter()
            try:
                self._p = None
                owner, self._owner = self._owner, None
                owner.release()
            finally:
                self._busy.release()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def capacity(self) -> int:
        """How many calls may be in flight at once."""
        return lib.rill_rpc_capacity(self._h())

    def wait_server(self, timeout: Optional[float] = None) -> None:
        """Waits until a live server serves this client's lane."""
        from . import _wait
        h = self._h()
        rc = _wait(lambda ns: lib.rill_rpc_wait_server(h, ns), timeout)
        if rc < 0:
            raise error(rc)

    def call(self, method: int, request: Any = b"", timeout: Optional[float] = 10.0) -> bytes:
        """Calls METHOD with REQUEST and returns the response's bytes.  A
        failed call raises the rill.Error of its status (NoMethod, ...) or
        :class:`Status`; ServerDead/ServerLeft if the server went."""
        from . import _ns
        if isinstance(request, str):
            raise TypeError("request must be bytes-like, not str")
        req = ffi.from_buffer(request)
        self._enter()
        try:
            rc = lib.rill_rpc_call(self._h(), method, req, len(req), self._buf, len(self._buf),
                                   self._res, _ns(timeout))
            if rc < 0:
                raise error(rc)
            if self._res.status:
                raise _status_error(self._res.status)
            return ffi.buffer(self._buf, self._res.size)[:]
        finally:
            self._busy.release()

    def send(self, method: int, request: Any = b"") -> int:
        """Sends a call without waiting; returns its id (rill.Again when
        capacity calls are in flight)."""
        if isinstance(request, str):
            raise TypeError("request must be bytes-like, not str")
        req = ffi.from_buffer(request)
        idp = ffi.new("uint64_t *")
        self._enter()
        try:
            rc = lib.rill_rpc_send(self._h(), method, req, len(req), idp)
        finally:
            self._busy.release()
        if rc < 0:
            raise error(rc)
        return idp[0]

    def recv(self, timeout: Optional[float] = 10.0) -> Tuple[int, int, Union[bytes, Exception]]:
        """The next response: (id, method, bytes), or (id, method,
        exception) for a call that failed on the server."""
        from . import _ns
        self._enter()
        try:
            rc = lib.rill_rpc_recv(self._h(), self._buf, len(self._buf), self._res, _ns(timeout))
            if rc < 0:
                raise error(rc)
            r = self._res
            if r.status:
                return r.id, r.method, _status_error(r.status)
            return r.id, r.method, ffi.buffer(self._buf, r.size)[:]
        finally:
            self._busy.release()
