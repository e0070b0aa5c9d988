//! The GGUF v2/v3 header reader. It trusts nothing: each read is bounds-checked, each count is
//! compared with the bytes left before it sizes anything, and each failure names the key or
//! tensor it was reading.

use super::{ArrayRef, Layout, TensorInfo, Value, ValueType};
use crate::dtype::FileDType;

const MAGIC: &[u8; 4] = b"GGUF";
const DEFAULT_ALIGNMENT: usize = 32;
const MAX_DIMS: usize = 4;
const MAX_ARRAY_NESTING: usize = 4;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum GgufError {
    #[error("not a GGUF file (magic bytes {0:02x?}, expected \"GGUF\")")]
    BadMagic([u8; 4]),
    #[error("unsupported GGUF version {0} (supported: 2, 3)")]
    UnsupportedVersion(u32),
    #[error("file ends at byte {file_len} while reading {what}")]
    Truncated { what: String, file_len: usize },
    #[error("{what} is {count}, more than the {left} bytes left in the file can hold")]
    CountTooLarge {
        what: String,
        count: u64,
        left: usize,
    },
    #[error("{what} is not valid UTF-8")]
    InvalidUtf8 { what: String },
    #[error("metadata {key}: unknown value type {id}")]
    UnknownValueType { key: String, id: u32 },
    #[error("metadata {key}: arrays nested more than {MAX_ARRAY_NESTING} deep")]
    NestingTooDeep { key: String },
    #[error("metadata key {0} appears twice")]
    DuplicateKey(String),
    #[error("general.alignment is {0}, expected a power of two")]
    BadAlignment(u64),
    #[error("tensor {0} appears twice")]
    DuplicateTensor(String),
    #[error("tensor {tensor}: {reason}")]
    BadShape { tensor: String, reason: String },
    #[error("tensor {tensor}: unknown type id {id}")]
    UnknownTensorType { tensor: String, id: u32 },
    #[error("unsupported tensor type {dtype} for tensor {tensor} (supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K..Q6_K)")]
    UnsupportedTensorType { tensor: String, dtype: &'static str },
    #[error("tensor {tensor}: offset {offset} is not a multiple of the alignment {alignment}")]
    MisalignedTensor {
        tensor: String,
        offset: u64,
        alignment: usize,
    },
    #[error("tensor {tensor}: bytes {start}..{end} lie outside the file of {file_len} bytes")]
    TensorOutOfBounds {
        tensor: String,
        start: u128,
        end: u128,
        file_len: usize,
    },
    #[error("missing metadata key {0}")]
    MissingKey(String),
    #[error("metadata {key}: expected {expected}, found {found}")]
    WrongType {
        key: String,
        expected: &'static str,
        found: &'static str,
    },
}

pub(super) struct Header {
    pub version: u32,
    pub alignment: usize,
    pub layout: Layout,
    pub metadata: Vec<(String, Value)>,
    pub tensors: Vec<TensorInfo>,
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn left(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn take(&mut self, n: usize, what: &dyn Fn() -> String) -> Result<&'a [u8], GgufError> {
        if n > self.left() {
            return Err(GgufError::Truncated {
                what: what(),
                file_len: self.bytes.len(),
            });
        }
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self, what: &dyn Fn() -> String) -> Result<[u8; N], GgufError> {
        Ok(self
            .take(N, what)?
            .try_into()
            .expect("take returns N bytes"))
    }

    fn u32(&mut self, what: &dyn Fn() -> String) -> Result<u32, GgufError> {
        self.array(what).map(u32::from_le_bytes)
    }

    fn u64(&mut self, what: &dyn Fn() -> String) -> Result<u64, GgufError> {
        self.array(what).map(u64::from_le_bytes)
    }

    /// A count of items that each take at least `min_bytes`, checked against what is left.
    fn count(&mut self, min_bytes: usize, what: &dyn Fn() -> String) -> Result<usize, GgufError> {
        let count = self.u64(what)?;
        let left = self.left();
        if count > (left / min_bytes.max(1)) as u64 {
            return Err(GgufError::CountTooLarge {
                what: what(),
                count,
                left,
            });
        }
        Ok(count as usize)
    }

    fn string(&mut self, what: &dyn Fn() -> String) -> Result<&'a str, GgufError> {
        let len = self.count(1, &|| format!("length of {}", what()))?;
        let bytes = self.take(len, what)?;
        std::str::from_utf8(bytes).map_err(|_| GgufError::InvalidUtf8 { what: what() })
    }
}

impl ValueType {
    fn from_id(id: u32) -> Option<ValueType> {
        use ValueType::*;
        Some(match id {
            0 => U8,
            1 => I8,
            2 => U16,
            3 => I16,
            4 => U32,
            5 => I32,
            6 => F32,
            7 => Bool,
            8 => String,
            9 => Array,
            10 => U64,
            11 => I64,
            12 => F64,
            _ => return None,
        })
    }

    /// Bytes per element for fixed-size types; the smallest encoding for the others.
    fn min_size(self) -> usize {
        match self {
            ValueType::U8 | ValueType::I8 | ValueType::Bool => 1,
            ValueType::U16 | ValueType::I16 => 2,
            ValueType::U32 | ValueType::I32 | ValueType::F32 => 4,
            ValueType::U64 | ValueType::I64 | ValueType::F64 | ValueType::String => 8,
            ValueType::Array => 12,
        }
    }

    fn is_fixed_size(self) -> bool {
        !matches!(self, ValueType::String | ValueType::Array)
    }
}

fn read_value_type(r: &mut Reader, key: &str) -> Result<ValueType, GgufError> {
    let id = r.u32(&|| format!("type of metadata {key}"))?;
    ValueType::from_id(id).ok_or_else(|| GgufError::UnknownValueType {
        key: key.to_owned(),
        id,
    })
}

fn read_value(r: &mut Reader, ty: ValueType, key: &str, depth: usize) -> Result<Value, GgufError> {
    let what = || format!("metadata {key}");
    Ok(match ty {
        ValueType::U8 => Value::U8(r.array::<1>(&what)?[0]),
        ValueType::I8 => Value::I8(r.array::<1>(&what)?[0] as i8),
        ValueType::U16 => Value::U16(u16::from_le_bytes(r.array(&what)?)),
        ValueType::I16 => Value::I16(i16::from_le_bytes(r.array(&what)?)),
        ValueType::U32 => Value::U32(r.u32(&what)?),
        ValueType::I32 => Value::I32(i32::from_le_bytes(r.array(&what)?)),
        ValueType::F32 => Value::F32(f32::from_le_bytes(r.array(&what)?)),
        ValueType::Bool => Value::Bool(r.array::<1>(&what)?[0] != 0),
        ValueType::U64 => Value::U64(r.u64(&what)?),
        ValueType::I64 => Value::I64(i64::from_le_bytes(r.array(&what)?)),
        ValueType::F64 => Value::F64(f64::from_le_bytes(r.array(&what)?)),
        ValueType::String => Value::String(r.string(&what)?.to_owned()),
        ValueType::Array => {
            if depth >= MAX_ARRAY_NESTING {
                return Err(GgufError::NestingTooDeep {
                    key: key.to_owned(),
                });
            }
            let elem = read_value_type(r, key)?;
            let len = r.count(elem.min_size(), &|| {
                format!("element count of metadata {key}")
            })?;
            let start = r.pos;
            if elem.is_fixed_size() {
                r.take(len * elem.min_size(), &what)?;
            } else {
                for _ in 0..len {
                    read_value(r, elem, key, depth + 1)?;
                }
            }
            Value::Array(ArrayRef { elem, len, start })
        }
    })
}

/// Decodes an array of strings that [`parse_header`] has already validated.
pub(super) fn read_string_array(
    bytes: &[u8],
    start: usize,
    len: usize,
) -> Result<Vec<String>, GgufError> {
    let mut r = Reader { bytes, pos: start };
    (0..len)
        .map(|i| {
            r.string(&|| format!("string {i} of an array"))
                .map(str::to_owned)
        })
        .collect()
}

fn read_tensor_info(r: &mut Reader, index: usize) -> Result<(TensorInfo, u64), GgufError> {
    let name = r.string(&|| format!("name of tensor {index}"))?.to_owned();
    let what = || format!("tensor {name}");
    let n_dims = r.u32(&what)? as usize;
    let bad_shape = |reason: String| GgufError::BadShape {
        tensor: name.clone(),
        reason,
    };
    if n_dims == 0 || n_dims > MAX_DIMS {
        return Err(bad_shape(format!(
            "{n_dims} dimensions, expected 1 to {MAX_DIMS}"
        )));
    }
    let mut dims = Vec::with_capacity(n_dims);
    for _ in 0..n_dims {
        dims.push(r.u64(&what)?);
    }
    let type_id = r.u32(&what)?;
    let offset = r.u64(&what)?;

    let dtype = match FileDType::from_id(type_id) {
        Some(FileDType::Supported(d)) => d,
        Some(FileDType::Unsupported { name: dtype, .. }) => {
            return Err(GgufError::UnsupportedTensorType {
                tensor: name,
                dtype,
            })
        }
        None => {
            return Err(GgufError::UnknownTensorType {
                tensor: name,
                id: type_id,
            })
        }
    };
    if let Some(d) = dims.iter().position(|&d| d == 0) {
        return Err(bad_shape(format!("dimension {d} is zero")));
    }
    let elements = dims
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d))
        .filter(|&n| n <= isize::MAX as u64)
        .ok_or_else(|| bad_shape(format!("element count of {dims:?} overflows")))?;
    let row_len = dims[0] as usize;
    let row_bytes = dtype.row_bytes(row_len).ok_or_else(|| {
        bad_shape(format!(
            "row of {row_len} elements is not a whole number of {dtype} blocks of {}",
            dtype.block_len()
        ))
    })?;
    let size = (elements / dims[0])
        .checked_mul(row_bytes as u64)
        .filter(|&n| n <= isize::MAX as u64)
        .ok_or_else(|| bad_shape("byte size overflows".to_owned()))?;
    let info = TensorInfo {
        name,
        dims,
        dtype,
        offset: 0,
        size: size as usize,
    };
    Ok((info, offset))
}

pub(super) fn parse_header(bytes: &[u8]) -> Result<Header, GgufError> {
    let mut r = Reader { bytes, pos: 0 };
    let magic: [u8; 4] = r.array(&|| "magic".to_owned())?;
    if &magic != MAGIC {
        return Err(GgufError::BadMagic(magic));
    }
    let version = r.u32(&|| "version".to_owned())?;
    if !(2..=3).contains(&version) {
        return Err(GgufError::UnsupportedVersion(version));
    }
    // Smallest tensor info: name length, one dim count, type, offset.
    let tensor_count = r.count(24, &|| "tensor count".to_owned())?;
    // Smallest key/value: key length, value type, one byte.
    let kv_count = r.count(13, &|| "metadata count".to_owned())?;

    let mut metadata: Vec<(String, Value)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for i in 0..kv_count {
        let key = r
            .string(&|| format!("key of metadata entry {i}"))?
            .to_owned();
        let ty = read_value_type(&mut r, &key)?;
        let value = read_value(&mut r, ty, &key, 0)?;
        if !seen.insert(key.clone()) {
            return Err(GgufError::DuplicateKey(key));
        }
        metadata.push((key, value));
    }

    let alignment = match metadata.iter().find(|(k, _)| k == "general.alignment") {
        None => DEFAULT_ALIGNMENT,
        Some((_, v)) => match v.as_u64() {
            Some(a) if a.is_power_of_two() && a <= 1 << 20 => a as usize,
            Some(a) => return Err(GgufError::BadAlignment(a)),
            None => {
                return Err(GgufError::WrongType {
                    key: "general.alignment".to_owned(),
                    expected: "unsigned integer",
                    found: v.type_name(),
                })
            }
        },
    };

    let tensor_infos_start = r.pos;
    let mut tensors = Vec::new();
    let mut offsets = Vec::new();
    let mut names = std::collections::HashSet::new();
    for i in 0..tensor_count {
        let (info, offset) = read_tensor_info(&mut r, i)?;
        if !names.insert(info.name.clone()) {
            return Err(GgufError::DuplicateTensor(info.name));
        }
        tensors.push(info);
        offsets.push(offset);
    }

    // Tensor data starts at the next multiple of the alignment after the header.
    let data_start = r.pos.div_ceil(alignment) * alignment;
    for (info, offset) in tensors.iter_mut().zip(offsets) {
        if offset % alignment as u64 != 0 {
            return Err(GgufError::MisalignedTensor {
                tensor: info.name.clone(),
                offset,
                alignment,
            });
        }
        let start = data_start as u128 + offset as u128;
        let end = start + info.size as u128;
        if end > bytes.len() as u128 {
            return Err(GgufError::TensorOutOfBounds {
                tensor: info.name.clone(),
                start,
                end,
                file_len: bytes.len(),
            });
        }
        info.offset = start as usize;
        // Blocks are borrowed in place, so the file offset must suit the block's alignment.
        if info.offset % info.dtype.align() != 0 {
            return Err(GgufError::MisalignedTensor {
                tensor: info.name.clone(),
                offset,
                alignment: info.dtype.align(),
            });
        }
    }

    Ok(Header {
        version,
        alignment,
        layout: Layout {
            metadata_start: 24,
            tensor_infos_start,
            data_start,
        },
        metadata,
        tensors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::Gguf;

    /// Builds GGUF bytes by hand: enough to test every check.
    struct Builder {
        kv: Vec<u8>,
        n_kv: u64,
        infos: Vec<u8>,
        n_tensors: u64,
        data: Vec<u8>,
    }

    fn string(out: &mut Vec<u8>, s: &str) {
        out.extend((s.len() as u64).to_le_bytes());
        out.extend(s.as_bytes());
    }

    impl Builder {
        fn new() -> Builder {
            Builder {
                kv: vec![],
                n_kv: 0,
                infos: vec![],
                n_tensors: 0,
                data: vec![],
            }
        }

        fn kv_u32(mut self, key: &str, v: u32) -> Builder {
            string(&mut self.kv, key);
            self.kv.extend(4u32.to_le_bytes());
            self.kv.extend(v.to_le_bytes());
            self.n_kv += 1;
            self
        }

        fn kv_str(mut self, key: &str, v: &str) -> Builder {
            string(&mut self.kv, key);
            self.kv.extend(8u32.to_le_bytes());
            string(&mut self.kv, v);
            self.n_kv += 1;
            self
        }

        fn kv_strings(mut self, key: &str, vs: &[&str]) -> Builder {
            string(&mut self.kv, key);
            self.kv.extend(9u32.to_le_bytes());
            self.kv.extend(8u32.to_le_bytes());
            self.kv.extend((vs.len() as u64).to_le_bytes());
            vs.iter().for_each(|v| string(&mut self.kv, v));
            self.n_kv += 1;
            self
        }

        fn kv_f32s(mut self, key: &str, vs: &[f32]) -> Builder {
            string(&mut self.kv, key);
            self.kv.extend(9u32.to_le_bytes());
            self.kv.extend(6u32.to_le_bytes());
            self.kv.extend((vs.len() as u64).to_le_bytes());
            vs.iter().for_each(|v| self.kv.extend(v.to_le_bytes()));
            self.n_kv += 1;
            self
        }

        /// An F32 tensor with the given dims, appended to the data section.
        fn tensor(mut self, name: &str, dims: &[u64], type_id: u32) -> Builder {
            string(&mut self.infos, name);
            self.infos.extend((dims.len() as u32).to_le_bytes());
            dims.iter().for_each(|d| self.infos.extend(d.to_le_bytes()));
            self.infos.extend(type_id.to_le_bytes());
            self.infos.extend((self.data.len() as u64).to_le_bytes());
            // Shapes too large to hold are for overflow tests: give them no data.
            let n = dims
                .iter()
                .try_fold(1u64, |a, &d| a.checked_mul(d))
                .filter(|&n| n < 1 << 20);
            self.data.extend(vec![0u8; n.unwrap_or(0) as usize * 4]);
            self.data.resize(self.data.len().div_ceil(32) * 32, 0);
            self.n_tensors += 1;
            self
        }

        fn build(&self) -> Vec<u8> {
            let mut out = b"GGUF".to_vec();
            out.extend(3u32.to_le_bytes());
            out.extend(self.n_tensors.to_le_bytes());
            out.extend(self.n_kv.to_le_bytes());
            out.extend(&self.kv);
            out.extend(&self.infos);
            out.resize(out.len().div_ceil(32) * 32, 0);
            out.extend(&self.data);
            out
        }
    }

    fn sample() -> Builder {
        Builder::new()
            .kv_str("general.architecture", "gemma")
            .kv_u32("gemma.block_count", 2)
            .kv_strings("tokenizer.ggml.tokens", &["<pad>", "a", "bc"])
            .kv_f32s("tokenizer.ggml.scores", &[0.0, -1.0, -2.5])
            .tensor("w", &[8, 2], 0)
            .tensor("v", &[8], 0)
    }

    fn parse(bytes: Vec<u8>) -> Result<Gguf<Vec<u8>>, GgufError> {
        Gguf::parse(bytes)
    }

    #[test]
    fn reads_metadata_and_tensors() {
        let g = parse(sample().build()).unwrap();
        assert_eq!(g.str("general.architecture").unwrap(), "gemma");
        assert_eq!(g.u64("gemma.block_count").unwrap(), 2);
        assert_eq!(
            g.string_array("tokenizer.ggml.tokens").unwrap(),
            ["<pad>", "a", "bc"]
        );
        assert_eq!(
            g.f32_array("tokenizer.ggml.scores").unwrap(),
            [0.0, -1.0, -2.5]
        );
        let w = g.tensor("w").unwrap();
        assert_eq!((w.dims.clone(), w.size), (vec![8, 2], 64));
        assert_eq!(g.tensor_data(w).len(), 64);
        assert_eq!(g.tensor("v").unwrap().offset % 32, 0);
    }

    #[test]
    fn accessors_name_the_key() {
        let g = parse(sample().build()).unwrap();
        assert_eq!(g.u64("nope"), Err(GgufError::MissingKey("nope".into())));
        let e = g.u64("general.architecture").unwrap_err();
        assert_eq!(
            e.to_string(),
            "metadata general.architecture: expected unsigned integer, found string"
        );
        assert!(g.f32_array("tokenizer.ggml.tokens").is_err());
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = sample().build();
        for len in 0..bytes.len() {
            let r = parse(bytes[..len].to_vec());
            assert!(r.is_err(), "truncated at {len} of {} parsed", bytes.len());
        }
    }

    #[test]
    fn rejects_bad_magic_and_version() {
        let mut bytes = sample().build();
        bytes[0] = b'X';
        assert!(matches!(parse(bytes), Err(GgufError::BadMagic(_))));
        let mut bytes = sample().build();
        bytes[4] = 1;
        assert_eq!(parse(bytes).err(), Some(GgufError::UnsupportedVersion(1)));
    }

    #[test]
    fn huge_counts_fail_before_allocating() {
        for at in [8, 16] {
            let mut bytes = sample().build();
            bytes[at..at + 8].copy_from_slice(&u64::MAX.to_le_bytes());
            assert!(
                matches!(parse(bytes), Err(GgufError::CountTooLarge { .. })),
                "count at {at}"
            );
        }
        // The token array's element count, right after its key and two type ids.
        let bytes = sample().build();
        let key = b"tokenizer.ggml.tokens";
        let at = bytes.windows(key.len()).position(|w| w == key).unwrap() + key.len() + 8;
        let mut bad = bytes.clone();
        bad[at..at + 8].copy_from_slice(&(1u64 << 60).to_le_bytes());
        assert!(matches!(parse(bad), Err(GgufError::CountTooLarge { .. })));
    }

    #[test]
    fn tensor_checks() {
        let unknown = Builder::new().tensor("t", &[8], 99).build();
        assert_eq!(
            parse(unknown).err().unwrap().to_string(),
            "tensor t: unknown type id 99"
        );
        let iq = Builder::new().tensor("t", &[256], 16).build();
        assert!(parse(iq).err().unwrap().to_string().contains("IQ2_XXS"));
        let partial_block = Builder::new().tensor("t", &[40, 2], 2).build();
        assert!(matches!(
            parse(partial_block),
            Err(GgufError::BadShape { .. })
        ));
        let overflow = Builder::new()
            .tensor("t", &[1 << 32, 1 << 32, 1 << 32], 0)
            .build();
        assert!(matches!(parse(overflow), Err(GgufError::BadShape { .. })));
        let zero = Builder::new().tensor("t", &[0], 0).build();
        assert!(matches!(parse(zero), Err(GgufError::BadShape { .. })));
        let dup = Builder::new()
            .tensor("t", &[8], 0)
            .tensor("t", &[8], 0)
            .build();
        assert!(matches!(parse(dup), Err(GgufError::DuplicateTensor(_))));
    }

    #[test]
    fn offsets_must_be_aligned_and_inside_the_file() {
        let b = sample();
        let mut bytes = b.build();
        // The offset of tensor "v" is the last 8 bytes of the tensor infos.
        let info_end = bytes.len() - b.data.len();
        let infos_end = {
            let mut header = b"GGUF".to_vec();
            header.extend([0u8; 20]);
            header.len() + b.kv.len() + b.infos.len()
        };
        assert!(infos_end <= info_end);
        let at = infos_end - 8;
        bytes[at..at + 8].copy_from_slice(&4u64.to_le_bytes());
        assert!(matches!(
            parse(bytes.clone()),
            Err(GgufError::MisalignedTensor { .. })
        ));
        bytes[at..at + 8].copy_from_slice(&(1u64 << 40).to_le_bytes());
        assert!(matches!(
            parse(bytes),
            Err(GgufError::TensorOutOfBounds { .. })
        ));
    }

    #[test]
    fn alignment_must_be_a_power_of_two() {
        let bytes = Builder::new().kv_u32("general.alignment", 24).build();
        assert_eq!(parse(bytes).err(), Some(GgufError::BadAlignment(24)));
    }
}
