//! What unit tests share.

use std::io::Write;

/// Says loudly that the calling test did not run its checks here, and why. The line goes to
/// the process's stderr itself, past the test harness's capture, so CI logs show it.
// Only the x86 kernel tests have paths a CPU may lack.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) fn skipped(reason: &str) {
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    let _ = writeln!(std::io::stderr(), "SKIPPED: {test}: {reason}");
}
