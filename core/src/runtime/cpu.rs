//! How many compute threads to use by default: the performance cores. On a phone, a thread
//! on an efficiency core holds back every step (each waits for the slowest task), so counting
//! all cores is slower than counting the fast ones.

/// Performance cores where the OS says which they are (Linux/Android `cpu_capacity`, Apple
/// `hw.perflevel0.physicalcpu`), else physical cores, else the CPUs this process may use.
pub fn default_threads() -> usize {
    let available = std::thread::available_parallelism().map_or(1, |n| n.get());
    let cores = performance_cores()
        .or_else(physical_cores)
        .unwrap_or(available);
    cores.clamp(1, available)
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn performance_cores() -> Option<usize> {
    let capacities: Vec<u32> = (0..)
        .map_while(|cpu| {
            std::fs::read_to_string(format!("/sys/devices/system/cpu/cpu{cpu}/cpu_capacity")).ok()
        })
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    big_cores(&capacities)
}

/// Cores with at least half the largest capacity: the prime and big cores of a big.LITTLE
/// phone, not the little ones. `None` when the capacities say nothing (all equal or absent).
#[cfg(any(target_os = "linux", target_os = "android", test))]
fn big_cores(capacities: &[u32]) -> Option<usize> {
    let max = *capacities.iter().max()?;
    let big = capacities.iter().filter(|&&c| c * 2 >= max).count();
    (big < capacities.len()).then_some(big)
}

#[cfg(target_vendor = "apple")]
fn performance_cores() -> Option<usize> {
    apple::sysctl_u32(c"hw.perflevel0.physicalcpu").map(|n| n as usize)
}

#[cfg(not(any(target_os = "linux", target_os = "android", target_vendor = "apple")))]
fn performance_cores() -> Option<usize> {
    None
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn physical_cores() -> Option<usize> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let mut cores = std::collections::HashSet::new();
    let mut package = "";
    for line in info.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        match key.trim() {
            "physical id" => package = value.trim(),
            "core id" => {
                cores.insert((package.to_owned(), value.trim().to_owned()));
            }
            _ => {}
        }
    }
    (!cores.is_empty()).then_some(cores.len())
}

#[cfg(target_vendor = "apple")]
fn physical_cores() -> Option<usize> {
    apple::sysctl_u32(c"hw.physicalcpu").map(|n| n as usize)
}

#[cfg(not(any(target_os = "linux", target_os = "android", target_vendor = "apple")))]
fn physical_cores() -> Option<usize> {
    None
}

#[cfg(target_vendor = "apple")]
mod apple {
    use std::ffi::{c_char, c_int, c_void, CStr};

    extern "C" {
        fn sysctlbyname(
            name: *const c_char,
            oldp: *mut c_void,
            oldlenp: *mut usize,
            newp: *mut c_void,
            newlen: usize,
        ) -> c_int;
    }

    pub fn sysctl_u32(name: &CStr) -> Option<u32> {
        let mut value: u32 = 0;
        let mut len = std::mem::size_of::<u32>();
        // SAFETY: `value` is a writable u32 and `len` says so; no new value is set.
        let rc = unsafe {
            sysctlbyname(
                name.as_ptr(),
                (&mut value as *mut u32).cast(),
                &mut len,
                std::ptr::null_mut(),
                0,
            )
        };
        (rc == 0 && len == std::mem::size_of::<u32>() && value > 0).then_some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_cores_skip_little_ones() {
        // A 1 prime + 3 big + 4 little phone.
        assert_eq!(
            big_cores(&[1024, 870, 870, 870, 325, 325, 325, 325]),
            Some(4)
        );
        assert_eq!(big_cores(&[1024, 1024]), None);
        assert_eq!(big_cores(&[]), None);
    }

    #[test]
    fn default_is_within_the_cpus_available() {
        let n = default_threads();
        assert!(n >= 1 && n <= std::thread::available_parallelism().unwrap().get());
    }
}
