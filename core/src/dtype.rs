//! Tensor element types as GGUF numbers them, with their block geometry. The parser needs the
//! geometry to check every tensor's byte size before a byte of it is used.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DType {
    F32,
    F16,
    BF16,
    Q4_0,
    Q4_1,
    Q5_0,
    Q5_1,
    Q8_0,
    Q2K,
    Q3K,
    Q4K,
    Q5K,
    Q6K,
}

/// What the file says about a tensor's type: one we run, or one we only know the name of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileDType {
    Supported(DType),
    Unsupported { id: u32, name: &'static str },
}

impl DType {
    /// Elements in one block, and bytes in one block.
    pub const fn block(self) -> (usize, usize) {
        match self {
            DType::F32 => (1, 4),
            DType::F16 | DType::BF16 => (1, 2),
            DType::Q4_0 => (32, 18),
            DType::Q4_1 => (32, 20),
            DType::Q5_0 => (32, 22),
            DType::Q5_1 => (32, 24),
            DType::Q8_0 => (32, 34),
            DType::Q2K => (256, 84),
            DType::Q3K => (256, 110),
            DType::Q4K => (256, 144),
            DType::Q5K => (256, 176),
            DType::Q6K => (256, 210),
        }
    }

    pub const fn block_len(self) -> usize {
        self.block().0
    }

    /// Alignment a borrowed slice of this type's blocks needs.
    pub const fn align(self) -> usize {
        match self {
            DType::F32 => 4,
            _ => 2,
        }
    }

    /// Bytes taken by a row of `n` elements, or None when `n` is not a whole number of blocks
    /// or the byte count does not fit in a `usize` (`n` comes from a file: 2^62 F32 elements
    /// would be 2^64 bytes).
    pub fn row_bytes(self, n: usize) -> Option<usize> {
        let (len, bytes) = self.block();
        n.is_multiple_of(len)
            .then(|| (n / len).checked_mul(bytes))
            .flatten()
    }

    pub const fn name(self) -> &'static str {
        match self {
            DType::F32 => "F32",
            DType::F16 => "F16",
            DType::BF16 => "BF16",
            DType::Q4_0 => "Q4_0",
            DType::Q4_1 => "Q4_1",
            DType::Q5_0 => "Q5_0",
            DType::Q5_1 => "Q5_1",
            DType::Q8_0 => "Q8_0",
            DType::Q2K => "Q2_K",
            DType::Q3K => "Q3_K",
            DType::Q4K => "Q4_K",
            DType::Q5K => "Q5_K",
            DType::Q6K => "Q6_K",
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FileDType {
    /// Maps ggml's type number; None for a number ggml never assigned.
    pub fn from_id(id: u32) -> Option<FileDType> {
        use FileDType::{Supported as S, Unsupported as U};
        Some(match id {
            0 => S(DType::F32),
            1 => S(DType::F16),
            2 => S(DType::Q4_0),
            3 => S(DType::Q4_1),
            6 => S(DType::Q5_0),
            7 => S(DType::Q5_1),
            8 => S(DType::Q8_0),
            10 => S(DType::Q2K),
            11 => S(DType::Q3K),
            12 => S(DType::Q4K),
            13 => S(DType::Q5K),
            14 => S(DType::Q6K),
            30 => S(DType::BF16),
            _ => {
                let name = match id {
                    9 => "Q8_1",
                    15 => "Q8_K",
                    16 => "IQ2_XXS",
                    17 => "IQ2_XS",
                    18 => "IQ3_XXS",
                    19 => "IQ1_S",
                    20 => "IQ4_NL",
                    21 => "IQ3_S",
                    22 => "IQ2_S",
                    23 => "IQ4_XS",
                    24 => "I8",
                    25 => "I16",
                    26 => "I32",
                    27 => "I64",
                    28 => "F64",
                    29 => "IQ1_M",
                    34 => "TQ1_0",
                    35 => "TQ2_0",
                    39 => "MXFP4",
                    _ => return None,
                };
                U { id, name }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_bytes_needs_whole_blocks() {
        assert_eq!(DType::Q4_0.row_bytes(64), Some(36));
        assert_eq!(DType::Q4_0.row_bytes(48), None);
        assert_eq!(DType::Q6K.row_bytes(512), Some(420));
        assert_eq!(DType::F16.row_bytes(3), Some(6));
    }

    #[test]
    fn row_bytes_of_a_huge_row_is_none_not_an_overflow() {
        assert_eq!(DType::F32.row_bytes(1 << 62), None);
        assert_eq!(DType::Q8_0.row_bytes(usize::MAX / 32 * 32), None);
        assert_eq!(
            DType::F32.row_bytes(usize::MAX / 4),
            Some(usize::MAX / 4 * 4)
        );
    }

    #[test]
    fn ids_map_to_types() {
        assert_eq!(
            FileDType::from_id(12),
            Some(FileDType::Supported(DType::Q4K))
        );
        assert!(matches!(
            FileDType::from_id(16),
            Some(FileDType::Unsupported {
                name: "IQ2_XXS",
                ..
            })
        ));
        assert_eq!(FileDType::from_id(4), None);
        assert_eq!(FileDType::from_id(1000), None);
    }
}
