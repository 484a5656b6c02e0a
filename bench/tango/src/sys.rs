// SPDX-License-Identifier: Apache-2.0 OR MIT
//! The little the worker asks of the OS (Linux): pinning a thread to a CPU,
//! and, for the run between two processes (procs.rs), a file mapped shared,
//! the monotonic clock as a number, and dying with the parent.

use std::ffi::c_void;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::Instant;

/// Pins the calling thread to CPU.
pub fn pin(cpu: usize) -> Result<(), String> {
    // SAFETY: cpu_set_t is a plain bit array, all-zero valid (CPU_ZERO).
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    if cpu >= 8 * std::mem::size_of_val(&set) {
        return Err(format!("CPU {cpu} out of range"));
    }
    // SAFETY: cpu is within the set (checked above).
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: pid 0 is the calling thread; set is a whole cpu_set_t.
    if unsafe { libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set) } != 0 {
        return Err(format!(
            "sched_setaffinity(CPU {cpu}): {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// A file of LEN bytes mapped shared, read and write: what one process
/// stores there the others that map it see.  Unmapped on drop.
pub struct Mapping {
    ptr: *mut c_void,
    len: usize,
}

impl Mapping {
    /// Creates PATH (it must not exist; mode 0600) of LEN zero bytes and
    /// maps it.
    pub fn create(path: &Path, len: usize) -> Result<Mapping, String> {
        use std::os::unix::fs::OpenOptionsExt;
        let f = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        f.set_len(len as u64)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Mapping::map(&f, len, path)
    }

    /// Maps the first LEN bytes of PATH, which has at least that many.
    pub fn open(path: &Path, len: usize) -> Result<Mapping, String> {
        let f = File::options()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let have = f.metadata().map_err(|e| e.to_string())?.len();
        if have < len as u64 {
            return Err(format!("{}: {have} bytes, {len} wanted", path.display()));
        }
        Mapping::map(&f, len, path)
    }

    fn map(f: &File, len: usize, path: &Path) -> Result<Mapping, String> {
        // SAFETY: a new mapping of an open file at no fixed address; the
        // kernel checks the arguments.  The descriptor may be closed after.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                f.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(format!(
                "mmap {}: {}",
                path.display(),
                std::io::Error::last_os_error()
            ));
        }
        Ok(Mapping { ptr, len })
    }

    /// The first byte (page-aligned), valid for len() bytes while self
    /// lives.
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.cast()
    }

    /// The bytes mapped.
    pub fn len(&self) -> usize {
        self.len
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the mapping made by map(), unmapped once.
        unsafe { libc::munmap(self.ptr, self.len) };
    }
}

/// T, an instant of this process, as CLOCK_MONOTONIC nanoseconds, a clock
/// every process reads alike: the difference of two of them, taken in two
/// processes, is the time between.  (Rust's Instant is CLOCK_MONOTONIC on
/// Linux but does not show its value: T is placed by its distance to now,
/// which adds the ~20 ns between the two reads of the clock.)
pub fn monotonic_ns(t: Instant) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    let now = Instant::now();
    // SAFETY: ts is a valid timespec to fill; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    let mono = ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64;
    mono.saturating_sub(now.saturating_duration_since(t).as_nanos() as u64)
}

/// This process is killed when the thread that started it ends (as
/// rill_bench's workers die with rill_bench), and must have been started by
/// process PARENT, which must still be there.
pub fn die_with_parent(parent: u32) -> Result<(), String> {
    // SAFETY: PR_SET_PDEATHSIG takes a signal number; nothing else is read.
    if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) } != 0 {
        return Err(format!(
            "prctl(PR_SET_PDEATHSIG): {}",
            std::io::Error::last_os_error()
        ));
    }
    if std::os::unix::process::parent_id() != parent {
        return Err("the worker that started this process is gone".into());
    }
    Ok(())
}
