# SPDX-License-Identifier: Apache-2.0 OR MIT
"""rill's error codes as Python exceptions.

Every failure of a call raises an instance of :class:`Error` (an
:class:`OSError`), whose ``code`` is the positive ``RILL_E*`` code, whose
``errno`` is the nearest POSIX errno (0 when there is none) and whose
``os_errno`` is what ``rill_os_error()`` said right after the call (the
operating system's own errno behind the failure, or 0).  Codes with a
natural Python counterpart get a subclass of both: :class:`NotFound` is a
:class:`FileNotFoundError`, :class:`TimedOut` a :class:`TimeoutError`, etc.
"""
from __future__ import annotations

import errno as _errno
from typing import Dict, Optional, Type

from ._rill import ffi, lib

__all__ = [
    "Error", "Again", "Overrun", "InvalidArgument", "NoMemory", "NotFound", "NoDirectory",
    "Exists", "PermissionDenied", "NoSpace", "Busy", "Full", "BadRegion", "MessageTooLarge",
    "TimedOut", "IOFailure", "Closed", "Dead", "ServerDead", "ServerLeft", "NoMethod",
    "TooManyWorkers", "NoHugePages", "strerror",
]


def strerror(code: int) -> str:
    """Text of a rill error code (positive or negative)."""
    return ffi.string(lib.rill_strerror(code)).decode()


class Error(OSError):
    """A rill call failed.  ``code`` is the positive RILL_E* code."""

    code: int = 0
    os_errno: int = 0
    _default_code: int = lib.RILL_EIO

    def __init__(self, code: Optional[int] = None, message: Optional[str] = None,
                 os_errno: int = 0) -> None:
        """CODE: the positive RILL_E* code (default: the class's own, so
        that ``raise rill.NoMethod()`` works)."""
        if code is None:
            code = self._default_code
        text = strerror(code)
        if message:
            text = f"{message}: {text}"
        super().__init__(_POSIX.get(code, 0), text)
        self.code = code
        self.os_errno = os_errno

    def __reduce__(self):  # pickling keeps the class and the code
        return (_make, (self.code, self.args[1] if len(self.args) > 1 else None, self.os_errno))

    def __str__(self) -> str:
        return f"[rill {_NAMES.get(self.code, self.code)}] {self.strerror}"


def _make(code: int, message: Optional[str], os_errno: int) -> Error:
    e = _CLASSES.get(code, Error)(code, None, os_errno)
    if message is not None:
        e.strerror = message
        e.args = (e.errno, message)
    return e


class Again(Error, BlockingIOError):
    """RILL_EAGAIN: nothing to read yet / no credit to publish now."""


class Overrun(Error):
    """RILL_EOVERRUN: a lossy consumer was lapped; ``lost`` says how many
    sequence numbers it skipped (0 when a view was found overwritten)."""

    lost: int = 0


class InvalidArgument(Error, ValueError):
    """RILL_EINVAL: a bad argument (name, size, option, handle)."""


class NoMemory(Error):
    """RILL_ENOMEM: out of process memory."""


class NotFound(Error, FileNotFoundError):
    """RILL_ENOENT: no such region, channel or slot."""


class NoDirectory(NotFound):
    """RILL_ENODIR: the region directory does not exist."""


class Exists(Error, FileExistsError):
    """RILL_EEXIST: the region or channel already exists."""


class PermissionDenied(Error, PermissionError):
    """RILL_EACCES: permission denied on the region file."""


class NoSpace(Error):
    """RILL_ENOSPC: not enough space in the file system or region."""


class Busy(Error):
    """RILL_EBUSY: a live producer owns the channel, the slot is live, or a
    lock was held too long."""


class Full(Error):
    """RILL_EFULL: every consumer slot of the channel is taken."""


class BadRegion(Error):
    """RILL_EEMPTY, ETRUNC, EMAGIC, EVERSION, ECORRUPT: the file is not a
    (valid, whole) rill region or object."""


class MessageTooLarge(Error, ValueError):
    """RILL_EMSGSIZE: the message is larger than the channel allows."""


class TimedOut(Error, TimeoutError):
    """RILL_ETIMEDOUT: a wait ran out of time."""


class IOFailure(Error):
    """RILL_EIO: an unexpected operating-system error (see ``os_errno``)."""


class Closed(Error):
    """RILL_ECLOSED: the producer left the channel and everything was read."""


class Dead(Error):
    """RILL_EDEAD: the producer died; everything it published was read."""


class ServerDead(Error):
    """RILL_ESRVDEAD: the server died; the calls in flight are lost."""


class ServerLeft(Error):
    """RILL_ESRVLEFT: the server stopped; the calls in flight are lost."""


class NoMethod(Error):
    """RILL_ENOMETHOD: the server has no such method."""


class TooManyWorkers(Error):
    """RILL_EWORKERS: more server workers than the service has lanes."""


class NoHugePages(Error):
    """RILL_ENOHUGE: no huge pages for the region (``Region.create(huge=True)``):
    its directory is not a hugetlbfs mount, or too few huge pages are free."""


_CLASSES: Dict[int, Type[Error]] = {
    lib.RILL_EAGAIN: Again, lib.RILL_EOVERRUN: Overrun, lib.RILL_EINVAL: InvalidArgument,
    lib.RILL_ENOMEM: NoMemory, lib.RILL_ENOENT: NotFound, lib.RILL_EEXIST: Exists,
    lib.RILL_EACCES: PermissionDenied, lib.RILL_ENODIR: NoDirectory, lib.RILL_ENOSPC: NoSpace,
    lib.RILL_EBUSY: Busy, lib.RILL_EFULL: Full, lib.RILL_EEMPTY: BadRegion,
    lib.RILL_ETRUNC: BadRegion, lib.RILL_EMAGIC: BadRegion, lib.RILL_EVERSION: BadRegion,
    lib.RILL_ECORRUPT: BadRegion, lib.RILL_EMSGSIZE: MessageTooLarge,
    lib.RILL_ETIMEDOUT: TimedOut, lib.RILL_EIO: IOFailure, lib.RILL_ECLOSED: Closed,
    lib.RILL_EDEAD: Dead, lib.RILL_ESRVDEAD: ServerDead, lib.RILL_ESRVLEFT: ServerLeft,
    lib.RILL_ENOMETHOD: NoMethod, lib.RILL_EWORKERS: TooManyWorkers,
    lib.RILL_ENOHUGE: NoHugePages,
}

for _code, _cls in sorted(_CLASSES.items(), reverse=True):
    _cls._default_code = _code  # the lowest code of a class that has several
BadRegion._default_code = lib.RILL_ECORRUPT

_POSIX: Dict[int, int] = {
    lib.RILL_EAGAIN: _errno.EAGAIN, lib.RILL_EINVAL: _errno.EINVAL,
    lib.RILL_ENOMEM: _errno.ENOMEM, lib.RILL_ENOENT: _errno.ENOENT,
    lib.RILL_EEXIST: _errno.EEXIST, lib.RILL_EACCES: _errno.EACCES,
    lib.RILL_ENODIR: _errno.ENOENT, lib.RILL_ENOSPC: _errno.ENOSPC,
    lib.RILL_EBUSY: _errno.EBUSY, lib.RILL_EMSGSIZE: _errno.EMSGSIZE,
    lib.RILL_ETIMEDOUT: _errno.ETIMEDOUT, lib.RILL_EIO: _errno.EIO,
}

_NAMES: Dict[int, str] = {
    getattr(lib, n): n for n in dir(lib) if n.startswith("RILL_E") and n != "RILL_ERR_MAX_"
}


def error(rc: int, message: Optional[str] = None) -> Error:
    """The exception for a negative return code RC of a rill call."""
    code = -rc if rc < 0 else rc
    return _CLASSES.get(code, Error)(code, message, lib.rill_os_error())
