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
            // Past u64 is past any device, with or without a limit.
            let needed = used.checked_add(bytes).ok_or(Error::OutOfMemory {
                what: "a reservation",
                bytes,
            })?;
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

/// A fixed-length buffer of zeros in pages of its own, fresh from the OS: a page costs
/// resident memory only once written, and dropping the buffer gives every page back. (Zeroed
/// heap memory would not do: the allocator reuses freed blocks and must then clear them, so an
/// empty KV cache cost its whole size.) Reads and writes go through the slice it derefs to.
pub(crate) struct Zeroed<T: Zeroable> {
    /// None for an empty buffer: a mapping cannot be empty.
    map: Option<memmap2::MmapMut>,
    len: usize,
    _values: std::marker::PhantomData<T>,
}

impl<T: Zeroable> Zeroed<T> {
    /// `len` zeros; a failed mapping (or a size past `usize`) is an error, not an abort.
    pub fn new(len: usize, what: &'static str) -> Result<Zeroed<T>> {
        let bytes = len
            .checked_mul(std::mem::size_of::<T>())
            .filter(|&b| b <= isize::MAX as usize)
            .ok_or(Error::OutOfMemory {
                what,
                bytes: u64::MAX,
            })?;
        let map = match bytes {
            0 => None,
            _ => Some(
                memmap2::MmapMut::map_anon(bytes).map_err(|_| Error::OutOfMemory {
                    what,
                    bytes: bytes as u64,
                })?,
            ),
        };
        Ok(Zeroed {
            map,
            len,
            _values: std::marker::PhantomData,
        })
    }
}

impl<T: Zeroable> std::ops::Deref for Zeroed<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        match &self.map {
            // SAFETY: the mapping holds `len` values' bytes, page-aligned (so aligned for `T`),
            // all zero until written through `deref_mut`; zero bytes are a valid `T`
            // (`Zeroable`), as is anything a `&mut [T]` wrote. The slice borrows `self`.
            Some(map) => unsafe { std::slice::from_raw_parts(map.as_ptr().cast(), self.len) },
            None => &[],
        }
    }
}

impl<T: Zeroable> std::ops::DerefMut for Zeroed<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        match &mut self.map {
            // SAFETY: as in `deref`; the slice borrows `self` mutably, so it is the only one.
            Some(map) => unsafe {
                std::slice::from_raw_parts_mut(map.as_mut_ptr().cast(), self.len)
            },
            None => &mut [],
        }
    }
}

/// Types for which all-zero bytes are a valid value.
///
/// # Safety
/// Implement only for such types.
pub(crate) unsafe trait Zeroable {}
// SAFETY: zero bytes are 0.0 in the floats and 0 in u8.
unsafe impl Zeroable for f32 {}
unsafe impl Zeroable for half::f16 {}
#[cfg(test)]
unsafe impl Zeroable for u8 {}

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
    fn zeroed_is_zero_writable_and_huge_requests_fail() {
        let mut v: Zeroed<f32> = Zeroed::new(1000, "test").unwrap();
        assert_eq!(v.len(), 1000);
        assert!(v.iter().all(|&x| x == 0.0));
        v[999] = 2.5;
        assert_eq!(v[999], 2.5);
        assert!(Zeroed::<f32>::new(0, "test").unwrap().is_empty());
        for len in [usize::MAX / 2, usize::MAX / 8] {
            let err = Zeroed::<f32>::new(len, "test").err().expect("too large");
            assert!(
                matches!(err, Error::OutOfMemory { what: "test", .. }),
                "{err}"
            );
        }
    }

    /// The point of `Zeroed`: a buffer costs resident memory only for the pages written, and
    /// a new one after a dropped one starts untouched again.
    #[test]
    #[cfg(target_os = "linux")]
    fn only_written_pages_are_resident() {
        extern "C" {
            fn mincore(addr: *mut std::ffi::c_void, len: usize, vec: *mut u8) -> i32;
            fn getpagesize() -> i32;
        }
        let resident = |v: &Zeroed<u8>| -> usize {
            // SAFETY: no arguments; mincore writes one byte per page of the mapping into
            // `pages`, which has that many.
            let page = unsafe { getpagesize() } as usize;
            let mut pages = vec![0u8; v.len().div_ceil(page)];
            let rc = unsafe { mincore(v.as_ptr() as *mut _, v.len(), pages.as_mut_ptr()) };
            assert_eq!(rc, 0);
            pages.iter().filter(|&&p| p & 1 == 1).count()
        };
        for _ in 0..3 {
            let mut v: Zeroed<u8> = Zeroed::new(64 << 20, "test").unwrap();
            assert_eq!(resident(&v), 0, "a new buffer is untouched");
            v[5 << 20] = 1;
            assert_eq!(resident(&v), 1, "writing one byte brings in one page");
        }
    }
}
