//! The memory budget that keeps a phone app within its limit: anonymous memory in use,
//! counted against an optional limit, and allocation whose failure is an error.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::error::{Error, Result};

/// Anonymous memory in use against an optional limit, shared by a model and its caches.
#[derive(Debug)]
pub(crate) struct Budget {
    limit: Option<u64>,
    used: AtomicU64,
}

/// Bytes taken from a [`Budget`], given back on drop.
#[derive(Debug)]
pub(crate) struct Reservation {
    budget: Arc<Budget>,
    bytes: u64,
}

impl Budget {
    pub fn new(limit: Option<u64>, used: u64) -> Arc<Budget> {
        Arc::new(Budget {
            limit,
            used: AtomicU64::new(used),
        })
    }

    pub fn reserve(self: &Arc<Budget>, bytes: u64) -> Result<Reservation> {
        let mut used = self.used.load(Ordering::Relaxed);
        loop {
            let needed = used + bytes;
            if let Some(limit) = self.limit {
                if needed > limit {
                    return Err(Error::MemoryBudget {
                        needed,
                        available: limit,
                    });
                }
            }
            match self
                .used
                .compare_exchange(used, needed, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => {
                    return Ok(Reservation {
                        budget: Arc::clone(self),
                        bytes,
                    })
                }
                Err(now) => used = now,
            }
        }
    }

    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }
}

impl Reservation {
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

/// The kinds of scratch memory a model's passes hold. Each is sized by the code that
/// allocates it, and the memory estimate adds up the same sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scratch {
    /// A prefill chunk's activations.
    Activations,
    /// A chunk's RoPE angles.
    Rope,
    /// One matrix product's input in the forms its kernels read (quantized, prepared).
    Input,
    /// The last token's normalized state and its logits.
    Logits,
    /// The sampler's candidates and probabilities.
    Sampler,
    /// Per compute thread: one attention task's keys' scores.
    Attention,
    /// Per compute thread: weight rows made ready for a product (the lane kernels' transposed
    /// blocks, or the exact path's dequantized row).
    WeightRows,
}

impl Scratch {
    pub const ALL: [Scratch; 7] = [
        Scratch::Activations,
        Scratch::Rope,
        Scratch::Input,
        Scratch::Logits,
        Scratch::Sampler,
        Scratch::Attention,
        Scratch::WeightRows,
    ];

    /// Whether each compute thread holds its own (the estimate counts it once per thread).
    pub fn per_thread(self) -> bool {
        matches!(self, Scratch::Attention | Scratch::WeightRows)
    }

    pub fn name(self) -> &'static str {
        match self {
            Scratch::Activations => "activations",
            Scratch::Rope => "rope",
            Scratch::Input => "input",
            Scratch::Logits => "logits",
            Scratch::Sampler => "sampler",
            Scratch::Attention => "attention",
            Scratch::WeightRows => "weight rows",
        }
    }
}

/// The most scratch of each kind a model's passes have held (per thread for the per-thread
/// kinds), so tests can hold the estimate to what the code really allocates.
#[derive(Debug, Default)]
pub(crate) struct ScratchMeter {
    high_water: [AtomicU64; Scratch::ALL.len()],
}

impl ScratchMeter {
    pub fn record(&self, kind: Scratch, bytes: u64) {
        self.high_water[kind as usize].fetch_max(bytes, Ordering::Relaxed);
    }

    pub fn high_water(&self, kind: Scratch) -> u64 {
        self.high_water[kind as usize].load(Ordering::Relaxed)
    }
}

/// A vector of `len` zeros whose allocation failure is an error, not an abort. Zeroed pages
/// come from the OS untouched, so a large cache costs resident memory only as it fills.
pub(crate) fn zeroed_vec<T: Zeroable>(len: usize, what: &'static str) -> Result<Vec<T>> {
    let layout = std::alloc::Layout::array::<T>(len).map_err(|_| Error::OutOfMemory {
        what,
        bytes: u64::MAX,
    })?;
    if layout.size() == 0 {
        return Ok(Vec::new());
    }
    // SAFETY: the layout is non-zero; an all-zero bit pattern is a valid `T` (see `Zeroable`); the
    // vector takes ownership of an allocation made with exactly this layout.
    unsafe {
        let ptr = std::alloc::alloc_zeroed(layout) as *mut T;
        if ptr.is_null() {
            return Err(Error::OutOfMemory {
                what,
                bytes: layout.size() as u64,
            });
        }
        Ok(Vec::from_raw_parts(ptr, len, len))
    }
}

/// Types for which all-zero bytes are a valid value.
///
/// # Safety
/// Implement only for such types.
pub(crate) unsafe trait Zeroable {}
// SAFETY: zero bytes are 0.0 in both.
unsafe impl Zeroable for f32 {}
unsafe impl Zeroable for half::f16 {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_refuses_past_its_limit_and_frees_on_drop() {
        let budget = Budget::new(Some(100), 40);
        let a = budget.reserve(50).unwrap();
        let err = budget.reserve(20).unwrap_err();
        assert_eq!(
            err.to_string(),
            "memory budget exceeded: needs 110 bytes, 100 available"
        );
        drop(a);
        assert_eq!(budget.used(), 40);
        budget.reserve(60).unwrap();
    }

    #[test]
    fn zeroed_vec_is_zero_and_huge_requests_fail() {
        let v: Vec<f32> = zeroed_vec(1000, "test").unwrap();
        assert!(v.iter().all(|&x| x == 0.0));
        assert!(zeroed_vec::<f32>(usize::MAX / 2, "test").is_err());
    }
}
