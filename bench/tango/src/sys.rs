// SPDX-License-Identifier: Apache-2.0 OR MIT
//! The little the benchmark asks of the OS: CPU affinity, a private
//! directory for rill's regions (removed on exit and on SIGINT/SIGTERM/
//! SIGHUP), and a description of the machine.

use std::ffi::{CString, c_char, c_int};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const CPU_WORDS: usize = 16; // a cpu_set_t: 1024 CPUs

unsafe extern "C" {
    fn sched_setaffinity(pid: c_int, size: usize, mask: *const u64) -> c_int;
    fn sched_getaffinity(pid: c_int, size: usize, mask: *mut u64) -> c_int;
    fn signal(sig: c_int, handler: usize) -> usize;
    fn rmdir(path: *const c_char) -> c_int;
    fn raise(sig: c_int) -> c_int;
}

/// Pins the calling thread to CPU.
pub fn pin(cpu: usize) -> Result<(), String> {
    if cpu >= CPU_WORDS * 64 {
        return Err(format!("CPU {cpu} out of range"));
    }
    let mut mask = [0u64; CPU_WORDS];
    mask[cpu / 64] |= 1 << (cpu % 64);
    // SAFETY: pid 0 is the calling thread; the mask is a whole cpu_set_t.
    if unsafe { sched_setaffinity(0, std::mem::size_of_val(&mask), mask.as_ptr()) } != 0 {
        return Err(format!(
            "sched_setaffinity(CPU {cpu}): {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// The CPUs this process may run on.
pub fn allowed_cpus() -> Vec<usize> {
    let mut mask = [0u64; CPU_WORDS];
    // SAFETY: as in pin().
    if unsafe { sched_getaffinity(0, std::mem::size_of_val(&mask), mask.as_mut_ptr()) } != 0 {
        return Vec::new();
    }
    (0..CPU_WORDS * 64)
        .filter(|&c| mask[c / 64] >> (c % 64) & 1 == 1)
        .collect()
}

static DIR: OnceLock<CString> = OnceLock::new();

extern "C" fn on_signal(sig: c_int) {
    // async-signal-safe calls only: the directory is empty (every region is
    // unlinked as soon as its endpoints are joined).
    if let Some(d) = DIR.get() {
        // SAFETY: a NUL-terminated path that lives as long as the program.
        unsafe { rmdir(d.as_ptr()) };
    }
    // SAFETY: back to the default action, then die of the signal.
    unsafe {
        signal(sig, 0);
        raise(sig);
    }
}

/// Makes a private directory (mode 0700) under /dev/shm, else the temporary
/// directory, for rill's regions.
pub fn private_dir() -> Result<PathBuf, String> {
    use std::os::unix::fs::DirBuilderExt;
    let base = if Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = base.join(format!("rill-tangobench.{}.{stamp:x}", std::process::id()));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
    let c = CString::new(dir.as_os_str().as_encoded_bytes()).map_err(|e| e.to_string())?;
    let _ = DIR.set(c);
    let h = on_signal as extern "C" fn(c_int) as usize;
    // SAFETY: installing a handler that only makes async-signal-safe calls.
    unsafe {
        for sig in [1, 2, 15] {
            // SIGHUP, SIGINT, SIGTERM
            signal(sig, h);
        }
    }
    Ok(dir)
}

pub fn remove_dir(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
}

pub struct Machine {
    pub cpu_model: String,
    pub online_cpus: usize,
    pub allowed_cpus: Vec<usize>,
    pub kernel: String,
    pub hypervisor: bool,
}

pub fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |name: &str| {
        cpuinfo.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == name).then(|| v.trim().to_string())
        })
    };
    let cpu_model = field("model name")
        .or_else(|| field("Model"))
        .or_else(|| field("Hardware"));
    let online = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    let hypervisor = field("flags").is_some_and(|f| f.split(' ').any(|x| x == "hypervisor"));
    Machine {
        cpu_model: cpu_model.unwrap_or_else(|| "unknown".into()),
        online_cpus: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
            .max(online),
        allowed_cpus: allowed_cpus(),
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
            .to_string(),
        hypervisor,
    }
}

/// Now, as UTC "YYYY-MM-DDTHH:MM:SSZ".
pub fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0) as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // Days since 1970-01-01 to a civil date (proleptic Gregorian): count in
    // 400-year eras that start on March 1st, so leap days fall at the end.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097; // day of era, 0..146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of the March-based year
    let mp = (5 * doy + 2) / 153; // month, March = 0
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}
