// SPDX-License-Identifier: Apache-2.0 OR MIT
//! The little the worker asks of the OS: pinning a thread to a CPU.

use std::ffi::c_int;

const CPU_WORDS: usize = 16; // a cpu_set_t: 1024 CPUs

unsafe extern "C" {
    fn sched_setaffinity(pid: c_int, size: usize, mask: *const u64) -> c_int;
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
