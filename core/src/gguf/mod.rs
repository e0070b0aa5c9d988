//! GGUF files, memory-mapped and validated before any value or tensor is used.
//!
//! [`Gguf::parse`] walks the whole header once: every count is checked against the bytes that
//! remain before anything is sized by it, every tensor's range is checked against the file, and
//! large metadata arrays (the tokenizer's 262k strings) stay in the file as ranges that are
//! decoded only when asked for. Tensor bytes are borrowed from the map, never copied.

mod parse;

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;

use memmap2::Mmap;

use crate::dtype::DType;
use crate::error::{Error, Result};

pub use parse::GgufError;

/// A GGUF metadata value. Arrays are kept as a range of the file (see [`ArrayRef`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    U64(u64),
    I64(i64),
    F32(f32),
    F64(f64),
    Bool(bool),
    String(String),
    Array(ArrayRef),
}

/// The element types GGUF numbers 0 to 12.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    U8,
    I8,
    U16,
    I16,
    U32,
    I32,
    F32,
    Bool,
    String,
    Array,
    U64,
    I64,
    F64,
}

/// A validated array in the file: `len` elements of `elem` starting at byte `start`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ArrayRef {
    pub elem: ValueType,
    pub len: usize,
    start: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    pub name: String,
    /// ggml order: `dims[0]` is the contiguous (row) dimension.
    pub dims: Vec<u64>,
    pub dtype: DType,
    /// Absolute byte offset of the tensor's data in the file.
    pub offset: usize,
    pub size: usize,
}

impl TensorInfo {
    pub fn elements(&self) -> u64 {
        self.dims.iter().product()
    }
}

/// Where the sections of a file begin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub metadata_start: usize,
    pub tensor_infos_start: usize,
    pub data_start: usize,
}

/// A parsed GGUF file over any bytes: a memory map in use, a `Vec` in tests.
pub struct Gguf<B: AsRef<[u8]> = Mmap> {
    bytes: B,
    pub version: u32,
    pub alignment: usize,
    pub layout: Layout,
    metadata: Vec<(String, Value)>,
    metadata_index: HashMap<String, usize>,
    tensors: Vec<TensorInfo>,
    tensor_index: HashMap<String, usize>,
}

impl Gguf<Mmap> {
    /// Maps `path` read-only and validates it. The weights stay in the page cache as clean,
    /// file-backed memory that the OS may drop and reload.
    pub fn open(path: &Path) -> Result<Self> {
        let open_error = |source| Error::Open {
            path: path.to_owned(),
            source,
        };
        let file = File::open(path).map_err(open_error)?;
        // SAFETY: the map is read-only and private to this process. A file truncated by another
        // process while mapped would fault on access; that is the one hazard a map cannot
        // check, and GemKit's own downloads only ever rename finished, verified files in place.
        let map = unsafe { Mmap::map(&file) }.map_err(open_error)?;
        Ok(Gguf::parse(map)?)
    }
}

impl<B: AsRef<[u8]>> Gguf<B> {
    pub fn parse(bytes: B) -> Result<Self, GgufError> {
        let header = parse::parse_header(bytes.as_ref())?;
        let metadata_index = header
            .metadata
            .iter()
            .enumerate()
            .map(|(i, (k, _))| (k.clone(), i))
            .collect();
        let tensor_index = header
            .tensors
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.clone(), i))
            .collect();
        Ok(Gguf {
            bytes,
            version: header.version,
            alignment: header.alignment,
            layout: header.layout,
            metadata: header.metadata,
            metadata_index,
            tensors: header.tensors,
            tensor_index,
        })
    }

    pub fn file_len(&self) -> usize {
        self.bytes.as_ref().len()
    }

    pub fn metadata(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.metadata.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.metadata_index.get(key).map(|&i| &self.metadata[i].1)
    }

    pub fn tensors(&self) -> &[TensorInfo] {
        &self.tensors
    }

    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensor_index.get(name).map(|&i| &self.tensors[i])
    }

    /// The tensor's bytes, borrowed from the file (validated at parse time to lie inside it).
    pub fn tensor_data(&self, info: &TensorInfo) -> &[u8] {
        &self.bytes.as_ref()[info.offset..info.offset + info.size]
    }

    pub fn bytes(&self) -> &[u8] {
        self.bytes.as_ref()
    }

    fn require(&self, key: &str) -> Result<&Value, GgufError> {
        self.get(key)
            .ok_or_else(|| GgufError::MissingKey(key.to_owned()))
    }

    fn wrong_type(key: &str, expected: &'static str, found: &Value) -> GgufError {
        GgufError::WrongType {
            key: key.to_owned(),
            expected,
            found: found.type_name(),
        }
    }

    /// An unsigned integer of any width and signedness, if it fits in u64.
    pub fn u64(&self, key: &str) -> Result<u64, GgufError> {
        let v = self.require(key)?;
        v.as_u64()
            .ok_or_else(|| Self::wrong_type(key, "unsigned integer", v))
    }

    pub fn opt_u64(&self, key: &str) -> Result<Option<u64>, GgufError> {
        self.get(key).map(|_| self.u64(key)).transpose()
    }

    pub fn f32(&self, key: &str) -> Result<f32, GgufError> {
        match self.require(key)? {
            Value::F32(x) => Ok(*x),
            Value::F64(x) => Ok(*x as f32),
            v => Err(Self::wrong_type(key, "float", v)),
        }
    }

    pub fn opt_f32(&self, key: &str) -> Result<Option<f32>, GgufError> {
        self.get(key).map(|_| self.f32(key)).transpose()
    }

    pub fn bool(&self, key: &str) -> Result<bool, GgufError> {
        match self.require(key)? {
            Value::Bool(b) => Ok(*b),
            v => Err(Self::wrong_type(key, "bool", v)),
        }
    }

    pub fn opt_bool(&self, key: &str) -> Result<Option<bool>, GgufError> {
        self.get(key).map(|_| self.bool(key)).transpose()
    }

    pub fn str(&self, key: &str) -> Result<&str, GgufError> {
        match self.require(key)? {
            Value::String(s) => Ok(s),
            v => Err(Self::wrong_type(key, "string", v)),
        }
    }

    pub fn opt_str(&self, key: &str) -> Result<Option<&str>, GgufError> {
        self.get(key).map(|_| self.str(key)).transpose()
    }

    fn array(&self, key: &str, elem: ValueType) -> Result<ArrayRef, GgufError> {
        match self.require(key)? {
            Value::Array(a) if a.elem == elem => Ok(*a),
            v => Err(Self::wrong_type(key, elem.array_name(), v)),
        }
    }

    pub fn string_array(&self, key: &str) -> Result<Vec<String>, GgufError> {
        let a = self.array(key, ValueType::String)?;
        parse::read_string_array(self.bytes.as_ref(), a.start, a.len)
    }

    pub fn f32_array(&self, key: &str) -> Result<Vec<f32>, GgufError> {
        let a = self.array(key, ValueType::F32)?;
        Ok(self
            .fixed_elements::<4>(a)
            .map(f32::from_le_bytes)
            .collect())
    }

    pub fn i32_array(&self, key: &str) -> Result<Vec<i32>, GgufError> {
        let a = self.array(key, ValueType::I32)?;
        Ok(self
            .fixed_elements::<4>(a)
            .map(i32::from_le_bytes)
            .collect())
    }

    fn fixed_elements<const N: usize>(&self, a: ArrayRef) -> impl Iterator<Item = [u8; N]> + '_ {
        self.bytes.as_ref()[a.start..a.start + a.len * N]
            .chunks_exact(N)
            .map(|c| c.try_into().expect("chunks_exact yields N bytes"))
    }
}

impl Value {
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::U8(x) => Some(x.into()),
            Value::U16(x) => Some(x.into()),
            Value::U32(x) => Some(x.into()),
            Value::U64(x) => Some(x),
            Value::I8(x) => u64::try_from(x).ok(),
            Value::I16(x) => u64::try_from(x).ok(),
            Value::I32(x) => u64::try_from(x).ok(),
            Value::I64(x) => u64::try_from(x).ok(),
            _ => None,
        }
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Value::U8(_) => "u8",
            Value::I8(_) => "i8",
            Value::U16(_) => "u16",
            Value::I16(_) => "i16",
            Value::U32(_) => "u32",
            Value::I32(_) => "i32",
            Value::U64(_) => "u64",
            Value::I64(_) => "i64",
            Value::F32(_) => "f32",
            Value::F64(_) => "f64",
            Value::Bool(_) => "bool",
            Value::String(_) => "string",
            Value::Array(a) => a.elem.array_name(),
        }
    }
}

impl ValueType {
    fn array_name(self) -> &'static str {
        match self {
            ValueType::U8 => "array of u8",
            ValueType::I8 => "array of i8",
            ValueType::U16 => "array of u16",
            ValueType::I16 => "array of i16",
            ValueType::U32 => "array of u32",
            ValueType::I32 => "array of i32",
            ValueType::F32 => "array of f32",
            ValueType::Bool => "array of bool",
            ValueType::String => "array of string",
            ValueType::Array => "array of arrays",
            ValueType::U64 => "array of u64",
            ValueType::I64 => "array of i64",
            ValueType::F64 => "array of f64",
        }
    }
}
