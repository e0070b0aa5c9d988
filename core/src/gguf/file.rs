//! [`Gguf`]: a parsed file over its bytes, and typed access to its metadata and tensors.

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;

use memmap2::Mmap;

use super::error::GgufError;
use super::parse;
use super::value::{ArrayRef, Layout, TensorInfo, Value, ValueType};

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
    pub fn open(path: &Path) -> Result<Self, GgufError> {
        let open_error = |source| GgufError::Io {
            path: path.to_owned(),
            source,
        };
        let file = File::open(path).map_err(open_error)?;
        // SAFETY: the map is read-only and private to this process. A file truncated by another
        // process while mapped would fault on access; that is the one hazard a map cannot
        // check, and GemKit's own downloads only ever rename finished, verified files in place.
        let map = unsafe { Mmap::map(&file) }.map_err(open_error)?;
        Gguf::parse(map)
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
