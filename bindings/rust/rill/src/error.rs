// SPDX-License-Identifier: Apache-2.0 OR MIT
//! [`Error`]: the `RILL_E*` codes of rill.h as a Rust enum.
use core::ffi::{CStr, c_int};
use core::fmt;
use rill_sys as sys;

/// What went wrong in a rill call: one variant per `RILL_E*` code of
/// `rill.h` (the C name is in each variant's documentation).
///
/// "Nothing to read yet" is not an error in this crate: the calls that can
/// find nothing return `Ok(None)`. [`Error::Again`] remains for the calls
/// where "not now" is a refusal (a send without credit, a full batch).
///
/// ```
/// let e = rill::Error::from_code(-i64::from(rill::sys::RILL_ENOENT));
/// assert_eq!(e, rill::Error::NotFound);
/// assert_eq!(e.code(), rill::sys::RILL_ENOENT);
/// assert_eq!(e.to_string(), "no such region or channel");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// `RILL_EAGAIN`: no credit to publish now (a reliable consumer is a
    /// ring behind), or nothing in flight to wait for.
    Again,
    /// `RILL_EOVERRUN`: a lossy consumer was lapped, or the bytes it read
    /// were overwritten while it read them. `lost` counts the sequence
    /// numbers skipped (0 when the overrun was found by a check).
    Overrun {
        /// Sequence numbers skipped.
        lost: u64,
    },
    /// `RILL_EINVAL`: a bad argument (name, size, option, handle).
    Invalid,
    /// `RILL_ENOMEM`: out of process memory.
    NoMemory,
    /// `RILL_ENOENT`: no such region or channel.
    NotFound,
    /// `RILL_EEXIST`: the region or channel already exists.
    Exists,
    /// `RILL_EACCES`: permission denied on the region file (or a FIFO).
    PermissionDenied,
    /// `RILL_ENODIR`: the region directory does not exist.
    NoDirectory,
    /// `RILL_ENOSPC`: not enough space in the file system or the region.
    NoSpace,
    /// `RILL_EBUSY`: a live producer owns the channel, the slot is live, or
    /// a lock was held longer than a call waits.
    Busy,
    /// `RILL_EFULL`: every consumer slot of the channel (every lane of a
    /// service) is taken.
    Full,
    /// `RILL_EEMPTY`: the region file has length zero.
    EmptyFile,
    /// `RILL_ETRUNC`: the region file is shorter than its header says.
    Truncated,
    /// `RILL_EMAGIC`: not a rill region or object.
    BadMagic,
    /// `RILL_EVERSION`: a rill layout version this library does not read.
    BadVersion,
    /// `RILL_ECORRUPT`: header or table fields out of range, or a
    /// descriptor from a broken producer (skipped, its payload not read).
    Corrupt,
    /// `RILL_EMSGSIZE`: a message larger than the channel allows or than
    /// the buffer given. `size` is the message's size when a receive
    /// reports it (call again with that much room), else 0.
    MessageSize {
        /// The message's size in bytes, when known.
        size: u64,
    },
    /// `RILL_ETIMEDOUT`: a wait ran out of time.
    TimedOut,
    /// `RILL_EIO`: an unexpected operating-system error; `errno` is the
    /// one behind it (`rill_os_error()`), 0 if unknown.
    Io {
        /// The OS error number.
        errno: i32,
    },
    /// `RILL_ECLOSED`: the producer left the channel and everything it
    /// published was read.
    Closed,
    /// `RILL_EDEAD`: the producer died and everything it published was read.
    ProducerDead,
    /// `RILL_ESRVDEAD`: the server died; the calls in flight are lost.
    ServerDead,
    /// `RILL_ESRVLEFT`: the server stopped; the calls in flight are lost.
    ServerLeft,
    /// `RILL_ENOMETHOD`: the server has no such method.
    NoMethod,
    /// `RILL_EWORKERS`: more server workers than the service has lanes.
    TooManyWorkers,
    /// `RILL_ENOHUGE`: no huge pages for the region.
    NoHugePages,
    /// A request/response call's status that is the handler's own code,
    /// not one of rill's (`rill_rpc.h`: rill's codes travel negated, a
    /// handler's own are positive by convention): the status as the server
    /// sent it. A Rust handler answers with `Err(Error::Status(42))`, and
    /// the caller's call fails with `Error::Status(42)`, whatever the
    /// language of either side; rill's codes read as their own variants
    /// ([`Error::NoMethod`], ...). [`code`](Error::code) is the status
    /// itself; [`from_code`](Error::from_code) never makes it, as a return
    /// code is always rill's.
    ///
    /// ```
    /// let e = rill::Error::Status(42);
    /// assert_eq!(e.code(), 42);
    /// assert_eq!(e.to_string(), "status 42 of the server");
    /// assert_ne!(rill::Error::from_code(42), e);
    /// ```
    Status(i32),
    /// A code this version of the crate does not know (a newer librill's
    /// code), as a positive number.
    Other(i32),
}

/// `Result<T, rill::Error>`.
pub type Result<T> = core::result::Result<T, Error>;

impl Error {
    /// The error of a rill return code, negative (as calls return them) or
    /// positive: a `RILL_E*` variant, or [`Error::Other`] for a code this
    /// crate does not know (never [`Error::Status`]). Reads
    /// `rill_os_error()` for [`Error::Io`], so make it right after the
    /// failing call, on its thread. 0 is success, not an error: it gives
    /// `Other(0)`.
    #[inline]
    pub fn from_code(rc: i64) -> Error {
        let code = rc.unsigned_abs().min(i32::MAX as u64) as c_int;
        match code {
            sys::RILL_EAGAIN => Error::Again,
            sys::RILL_EOVERRUN => Error::Overrun { lost: 0 },
            sys::RILL_EINVAL => Error::Invalid,
            sys::RILL_ENOMEM => Error::NoMemory,
            sys::RILL_ENOENT => Error::NotFound,
            sys::RILL_EEXIST => Error::Exists,
            sys::RILL_EACCES => Error::PermissionDenied,
            sys::RILL_ENODIR => Error::NoDirectory,
            sys::RILL_ENOSPC => Error::NoSpace,
            sys::RILL_EBUSY => Error::Busy,
            sys::RILL_EFULL => Error::Full,
            sys::RILL_EEMPTY => Error::EmptyFile,
            sys::RILL_ETRUNC => Error::Truncated,
            sys::RILL_EMAGIC => Error::BadMagic,
            sys::RILL_EVERSION => Error::BadVersion,
            sys::RILL_ECORRUPT => Error::Corrupt,
            sys::RILL_EMSGSIZE => Error::MessageSize { size: 0 },
            sys::RILL_ETIMEDOUT => Error::TimedOut,
            sys::RILL_EIO => Error::Io {
                // SAFETY: rill_os_error() only reads a thread-local.
                errno: unsafe { sys::rill_os_error() },
            },
            sys::RILL_ECLOSED => Error::Closed,
            sys::RILL_EDEAD => Error::ProducerDead,
            sys::RILL_ESRVDEAD => Error::ServerDead,
            sys::RILL_ESRVLEFT => Error::ServerLeft,
            sys::RILL_ENOMETHOD => Error::NoMethod,
            sys::RILL_EWORKERS => Error::TooManyWorkers,
            sys::RILL_ENOHUGE => Error::NoHugePages,
            other => Error::Other(other),
        }
    }

    /// The positive `RILL_E*` code (for [`Error::Other`], its number; for
    /// [`Error::Status`], the status as the server sent it).
    pub fn code(&self) -> i32 {
        match *self {
            Error::Again => sys::RILL_EAGAIN,
            Error::Overrun { .. } => sys::RILL_EOVERRUN,
            Error::Invalid => sys::RILL_EINVAL,
            Error::NoMemory => sys::RILL_ENOMEM,
            Error::NotFound => sys::RILL_ENOENT,
            Error::Exists => sys::RILL_EEXIST,
            Error::PermissionDenied => sys::RILL_EACCES,
            Error::NoDirectory => sys::RILL_ENODIR,
            Error::NoSpace => sys::RILL_ENOSPC,
            Error::Busy => sys::RILL_EBUSY,
            Error::Full => sys::RILL_EFULL,
            Error::EmptyFile => sys::RILL_EEMPTY,
            Error::Truncated => sys::RILL_ETRUNC,
            Error::BadMagic => sys::RILL_EMAGIC,
            Error::BadVersion => sys::RILL_EVERSION,
            Error::Corrupt => sys::RILL_ECORRUPT,
            Error::MessageSize { .. } => sys::RILL_EMSGSIZE,
            Error::TimedOut => sys::RILL_ETIMEDOUT,
            Error::Io { .. } => sys::RILL_EIO,
            Error::Closed => sys::RILL_ECLOSED,
            Error::ProducerDead => sys::RILL_EDEAD,
            Error::ServerDead => sys::RILL_ESRVDEAD,
            Error::ServerLeft => sys::RILL_ESRVLEFT,
            Error::NoMethod => sys::RILL_ENOMETHOD,
            Error::TooManyWorkers => sys::RILL_EWORKERS,
            Error::NoHugePages => sys::RILL_ENOHUGE,
            Error::Status(c) | Error::Other(c) => c,
        }
    }

    /// True for the two ends of a stream: [`Error::Closed`] and
    /// [`Error::ProducerDead`] (everything the producer published was read).
    pub fn is_end(&self) -> bool {
        matches!(self, Error::Closed | Error::ProducerDead)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Error::Status(c) = *self {
            // not rill's code: rill_strerror would call it unknown
            return write!(f, "status {c} of the server");
        }
        // SAFETY: rill_strerror takes any code and returns a static,
        // NUL-terminated string, never NULL (rill.h).
        let text = unsafe { CStr::from_ptr(sys::rill_strerror(self.code())) };
        f.write_str(&text.to_string_lossy())?;
        match *self {
            Error::Overrun { lost } if lost > 0 => write!(f, " ({lost} lost)"),
            Error::MessageSize { size } if size > 0 => write!(f, " (message of {size} bytes)"),
            Error::Io { errno } if errno != 0 => {
                write!(f, ": {}", std::io::Error::from_raw_os_error(errno))
            }
            Error::Other(c) => write!(f, " (code {c})"),
            _ => Ok(()),
        }
    }
}

impl std::error::Error for Error {}

impl From<Error> for std::io::Error {
    /// An [`Error::Io`] with its errno becomes that OS error; the others
    /// keep the rill error as their source, with the closest `ErrorKind`.
    fn from(e: Error) -> std::io::Error {
        use std::io::ErrorKind as K;
        let kind = match e {
            Error::Io { errno } if errno != 0 => return std::io::Error::from_raw_os_error(errno),
            Error::Again => K::WouldBlock,
            Error::Invalid => K::InvalidInput,
            Error::NoMemory => K::OutOfMemory,
            Error::NotFound | Error::NoDirectory => K::NotFound,
            Error::Exists => K::AlreadyExists,
            Error::PermissionDenied => K::PermissionDenied,
            Error::TimedOut => K::TimedOut,
            Error::Closed | Error::ProducerDead => K::UnexpectedEof,
            Error::EmptyFile
            | Error::Truncated
            | Error::BadMagic
            | Error::BadVersion
            | Error::Corrupt => K::InvalidData,
            _ => K::Other,
        };
        std::io::Error::new(kind, e)
    }
}

/// `Ok(rc)` for a return code >= 0, the error otherwise.
#[inline]
pub(crate) fn check(rc: c_int) -> Result<c_int> {
    if rc >= 0 {
        Ok(rc)
    } else {
        Err(Error::from_code(rc.into()))
    }
}

/// [`check`] for the calls that return sizes.
#[inline]
pub(crate) fn check64(rc: i64) -> Result<u64> {
    if rc >= 0 {
        Ok(rc as u64)
    } else {
        Err(Error::from_code(rc))
    }
}
