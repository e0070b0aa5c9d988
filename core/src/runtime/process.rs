//! What this process holds in memory, as the kernel counts it.

/// Resident memory of this process split as the kernel counts it (Linux and Android).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessMemory {
    /// Anonymous pages: heap, stacks. What a phone's low-memory killer counts.
    pub rss_anon: usize,
    /// File-backed pages, such as the mapped weights: clean, the OS can drop them.
    pub rss_file: usize,
}

impl ProcessMemory {
    /// Reads `/proc/self/status`; None where it does not exist.
    pub fn current() -> Option<ProcessMemory> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let kib = |key: &str| -> Option<usize> {
            let line = status.lines().find(|l| l.starts_with(key))?;
            let n: usize = line[key.len()..]
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .ok()?;
            Some(n * 1024)
        };
        Some(ProcessMemory {
            rss_anon: kib("RssAnon:")?,
            rss_file: kib("RssFile:")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_os = "linux")]
    fn reads_this_process() {
        let m = ProcessMemory::current().expect("linux has /proc/self/status");
        assert!(m.rss_anon > 0);
    }
}
