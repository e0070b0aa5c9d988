//! The GGUF v2/v3 header reader. It trusts nothing: each read is bounds-checked, each count is
//! compared with the bytes left before it sizes anything, and each failure names the key or
//! tensor it was reading.

use super::error::{GgufError, MAX_ARRAY_NESTING};
use super::value::{ArrayRef, Layout, TensorInfo, Value, ValueType};
use crate::dtype::FileDType;

const MAGIC: &[u8; 4] = b"GGUF";
const DEFAULT_ALIGNMENT: usize = 32;
const MAX_DIMS: usize = 4;

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
    // `elements` fits in an isize, so its first factor fits in a usize.
    let row_len = dims[0] as usize;
    if !row_len.is_multiple_of(dtype.block_len()) {
        return Err(bad_shape(format!(
            "row of {row_len} elements is not a whole number of {dtype} blocks of {}",
            dtype.block_len()
        )));
    }
    let row_bytes = dtype
        .row_bytes(row_len)
        .ok_or_else(|| bad_shape(format!("a row of {row_len} elements overflows")))?;
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
