//! Helpers shared by the tests in `main.rs`: fixture paths and a plain greedy loop.

use std::path::PathBuf;

pub mod corrupt;
pub mod fuzz;

use gemkit::{KvCache, Logits, Model};

pub fn fixture(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(path)
}

pub fn read_json(path: &str) -> serde_json::Value {
    let p = fixture(path);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

pub fn ids(v: &serde_json::Value) -> Vec<u32> {
    v.as_array()
        .expect("an array of ids")
        .iter()
        .map(|x| x.as_u64().expect("an id") as u32)
        .collect()
}

pub fn rows(v: &serde_json::Value) -> Vec<Vec<f32>> {
    v.as_array()
        .expect("an array of rows")
        .iter()
        .map(|r| {
            r.as_array()
                .expect("a row")
                .iter()
                .map(|x| x.as_f64().expect("a number") as f32)
                .collect()
        })
        .collect()
}

/// The real model's path: `GEMKIT_MODEL`, else the cache that `scripts/fetch-model.sh` fills.
pub fn real_model_path() -> PathBuf {
    if let Some(p) = std::env::var_os("GEMKIT_MODEL") {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("HOME").expect("HOME is set");
    let p = PathBuf::from(home).join(".cache/gemkit/gemma-3-270m-q4_k_m.gguf");
    assert!(
        p.exists(),
        "{} is missing: run scripts/fetch-model.sh (make test does)",
        p.display()
    );
    p
}

/// Says loudly that the calling test did not run its checks here, and why: written to the
/// process's stderr itself, past the test harness's capture, so CI logs show it (the core's
/// unit tests have the same helper, private to that crate).
pub fn skipped(reason: &str) {
    use std::io::Write;
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    let _ = writeln!(std::io::stderr(), "SKIPPED: {test}: {reason}");
}

/// Prints a figure a test measured where CI logs show it: to the process's stderr itself, past
/// the test harness's capture, which hides a passing test's `println!`.
pub fn report(line: std::fmt::Arguments) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Greedy continuation by argmax, one token at a time, with no stop tokens.
pub fn greedy(model: &Model, cache: &mut KvCache, prompt: &[u32], n: usize) -> Vec<u32> {
    let mut logits = model.forward(cache, prompt, Logits::Last).expect("prefill");
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let id = gemkit::argmax(&logits) as u32;
        out.push(id);
        if i + 1 < n {
            logits = model.forward(cache, &[id], Logits::Last).expect("decode");
        }
    }
    out
}

pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "row lengths differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// A small seeded generator (splitmix64) for tests that must be the same on every run.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}
