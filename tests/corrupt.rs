//! Corrupted copies of real GGUF files, shared by the library's and the CLI's hostile-file
//! tests. Each corruption names the typed error it must give: the `gemkit::Error` variant and
//! a fragment of its message.
//!
//! A copy keeps the file's header as bytes and its tensor data as a hole of the same length
//! (a sparse file: zeros that take no disk), so an uncorrupted copy loads (zero weights are
//! weights) and each corruption fails for its own reason alone, even for the 270M model,
//! whose copies would otherwise be 250 MB each.

use std::path::{Path, PathBuf};

use gemkit::gguf::{Gguf, GgufError};
use gemkit::Error;

/// Offsets of the fields a corruption targets, read from the file's own header.
pub struct Map {
    /// The header: everything before the tensor data.
    header: Vec<u8>,
    /// The whole file's length.
    len: usize,
    tensor_infos_start: usize,
    data_start: usize,
    /// The first tensor info's fields.
    first_dims_count: usize,
    first_dim0: usize,
    first_type: usize,
    first_offset: usize,
}

/// A map of a valid file.
pub fn map(file: &[u8]) -> Map {
    let g = Gguf::parse(file).expect("the original file is valid");
    let data_start = g.layout.data_start;
    let header = file[..data_start].to_vec();
    let infos = g.layout.tensor_infos_start;
    let name_len = u64::from_le_bytes(header[infos..infos + 8].try_into().unwrap()) as usize;
    let first_dims_count = infos + 8 + name_len;
    let n_dims = u32::from_le_bytes(
        header[first_dims_count..first_dims_count + 4]
            .try_into()
            .unwrap(),
    ) as usize;
    let first_type = first_dims_count + 4 + 8 * n_dims;
    Map {
        tensor_infos_start: infos,
        data_start,
        first_dims_count,
        first_dim0: first_dims_count + 4,
        first_type,
        first_offset: first_type + 4,
        header,
        len: file.len(),
    }
}

impl Map {
    pub fn data_start(&self) -> usize {
        self.data_start
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The file as it is: its header and a hole for its data.
    pub fn intact(&self) -> FileImage {
        FileImage {
            header: self.header.clone(),
            len: self.len,
        }
    }
}

/// A file to write: `header` bytes, then zeros (a hole) up to `len`.
#[derive(Clone)]
pub struct FileImage {
    pub header: Vec<u8>,
    pub len: usize,
}

impl FileImage {
    /// Keeps the first `len` bytes.
    pub fn truncate(&mut self, len: usize) {
        self.header.truncate(len);
        self.len = len;
    }

    pub fn put(&mut self, at: usize, value: &[u8]) {
        self.header[at..at + value.len()].copy_from_slice(value);
    }

    pub fn find(&self, needle: &[u8]) -> usize {
        self.header
            .windows(needle.len())
            .position(|w| w == needle)
            .expect("needle in the header")
    }

    pub fn write(&self, dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(format!("{}.gguf", name.replace(' ', "_")));
        std::fs::write(&path, &self.header).expect("writing a temp file");
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(self.len as u64)
            .expect("extending a temp file");
        path
    }
}

/// The typed error a corruption must give.
pub struct Expect {
    /// The pattern, as written: what a failure prints.
    pub variant: &'static str,
    pub is: fn(&Error) -> bool,
    /// Fragments (`a|b`), one of which the message must contain.
    pub fragment: &'static str,
}

impl Expect {
    /// Whether `e` is the expected variant and mentions the fragment.
    pub fn matches(&self, e: &Error) -> bool {
        (self.is)(e) && mentions(&e.to_string(), self.fragment)
    }
}

macro_rules! expect {
    ($pattern:pat, $fragment:expr) => {
        Expect {
            variant: stringify!($pattern),
            is: |e| matches!(e, $pattern),
            fragment: $fragment,
        }
    };
}

/// Whether `message` contains one of the `|`-separated fragments of `expect`.
pub fn mentions(message: &str, expect: &str) -> bool {
    expect.split('|').any(|e| message.contains(e))
}

pub struct Case {
    pub name: String,
    pub image: FileImage,
    pub expect: Expect,
}

/// Named corruptions of `m`, each with the error it must give.
pub fn corruptions(m: &Map) -> Vec<Case> {
    let mut out = Vec::new();
    let mut edit = |name: &str, expect: Expect, f: &dyn Fn(&mut FileImage)| {
        let mut image = m.intact();
        f(&mut image);
        out.push(Case {
            name: name.to_owned(),
            image,
            expect,
        });
    };
    for (name, len) in [
        ("empty", 0),
        ("in magic", 2),
        ("in version", 6),
        ("in tensor count", 12),
        ("in metadata count", 20),
        ("in first key", 30),
        ("in metadata", m.tensor_infos_start / 2),
        ("at tensor infos", m.tensor_infos_start),
        ("in tensor infos", (m.tensor_infos_start + m.data_start) / 2),
    ] {
        // Cut inside the counts, a count can also be caught as too large for what is left.
        let cut = expect!(
            Error::Gguf(GgufError::Truncated { .. } | GgufError::CountTooLarge { .. }),
            "file ends at byte|more than the"
        );
        edit(&format!("truncated {name}"), cut, &|c| c.truncate(len));
    }
    let outside = || {
        expect!(
            Error::Gguf(GgufError::TensorOutOfBounds { .. }),
            "outside the file"
        )
    };
    edit("truncated at data", outside(), &|c| {
        c.truncate(m.data_start)
    });
    edit("truncated in data", outside(), &|c| {
        c.truncate(m.data_start + (m.len - m.data_start) / 2)
    });
    edit("truncated by one byte", outside(), &|c| {
        c.truncate(m.len - 1)
    });
    edit(
        "bad magic",
        expect!(Error::Gguf(GgufError::BadMagic(_)), "not a GGUF file"),
        &|c| c.put(0, b"GGML"),
    );
    edit(
        "version 1",
        expect!(
            Error::Gguf(GgufError::UnsupportedVersion(1)),
            "unsupported GGUF version 1"
        ),
        &|c| c.put(4, &1u32.to_le_bytes()),
    );
    edit(
        "version 99",
        expect!(
            Error::Gguf(GgufError::UnsupportedVersion(99)),
            "unsupported GGUF version 99"
        ),
        &|c| c.put(4, &99u32.to_le_bytes()),
    );
    let too_many = |fragment| Expect {
        fragment,
        ..expect!(Error::Gguf(GgufError::CountTooLarge { .. }), "")
    };
    edit("huge tensor count", too_many("tensor count is"), &|c| {
        c.put(8, &u64::MAX.to_le_bytes())
    });
    edit("huge metadata count", too_many("metadata count is"), &|c| {
        c.put(16, &(1u64 << 40).to_le_bytes())
    });
    edit(
        "huge key length",
        too_many("length of key of metadata entry 0"),
        &|c| c.put(24, &(u64::MAX / 2).to_le_bytes()),
    );
    edit(
        "unknown value type",
        expect!(
            Error::Gguf(GgufError::UnknownValueType { id: 77, .. }),
            "unknown value type 77"
        ),
        &|c| {
            let key_len = u64::from_le_bytes(c.header[24..32].try_into().unwrap()) as usize;
            c.put(32 + key_len, &77u32.to_le_bytes())
        },
    );
    edit(
        "huge token array",
        too_many("element count of metadata tokenizer.ggml.tokens"),
        &|c| {
            let at = c.find(b"tokenizer.ggml.tokens") + "tokenizer.ggml.tokens".len() + 8;
            c.put(at, &(1u64 << 62).to_le_bytes())
        },
    );
    edit(
        "invalid UTF-8 key",
        expect!(
            Error::Gguf(GgufError::InvalidUtf8 { .. }),
            "not valid UTF-8"
        ),
        &|c| c.put(32, &[0xff, 0xfe]),
    );
    edit(
        "unsupported architecture",
        expect!(
            Error::UnsupportedArchitecture(_),
            "unsupported architecture \"llama"
        ),
        &|c| {
            let at = c.find(b"general.architecture") + "general.architecture".len() + 4 + 8;
            c.put(at, b"llama")
        },
    );
    edit(
        "missing tensor",
        expect!(
            Error::MissingTensor(_),
            "missing tensor blk.0.attn_q.weight"
        ),
        &|c| {
            let at = c.find(b"blk.0.attn_q.weight");
            c.put(at, b"blk.0.attn_X.weight")
        },
    );
    let shape = |fragment| Expect {
        fragment,
        ..expect!(Error::Gguf(GgufError::BadShape { .. }), "")
    };
    edit("zero dimensions", shape("0 dimensions"), &|c| {
        c.put(m.first_dims_count, &0u32.to_le_bytes())
    });
    edit("five dimensions", shape("5 dimensions"), &|c| {
        c.put(m.first_dims_count, &5u32.to_le_bytes())
    });
    edit("overflowing dimension", shape("overflows"), &|c| {
        c.put(m.first_dim0, &(u64::MAX / 3).to_le_bytes())
    });
    // Issue 13, finding 3: 2^62 F32 elements fit in an isize, their 2^64 bytes do not.
    edit(
        "row of 2^62 elements",
        shape("a row of 4611686018427387904 elements overflows"),
        &|c| {
            let at = c.find(b"output_norm.weight") + "output_norm.weight".len() + 4;
            c.put(at, &(1u64 << 62).to_le_bytes())
        },
    );
    edit(
        "unknown dtype",
        expect!(
            Error::Gguf(GgufError::UnknownTensorType { id: 99, .. }),
            "unknown type id 99"
        ),
        &|c| c.put(m.first_type, &99u32.to_le_bytes()),
    );
    edit(
        "unsupported dtype",
        expect!(
            Error::Gguf(GgufError::UnsupportedTensorType {
                dtype: "IQ2_XXS",
                ..
            }),
            "unsupported tensor type IQ2_XXS"
        ),
        &|c| c.put(m.first_type, &16u32.to_le_bytes()),
    );
    edit("offset past the end", outside(), &|c| {
        c.put(m.first_offset, &(1u64 << 50).to_le_bytes())
    });
    edit(
        "misaligned offset",
        expect!(
            Error::Gguf(GgufError::MisalignedTensor { .. }),
            "not a multiple of the alignment"
        ),
        &|c| {
            let at = m.first_offset;
            let off = u64::from_le_bytes(c.header[at..at + 8].try_into().unwrap());
            c.put(at, &(off + 4).to_le_bytes())
        },
    );
    out
}

pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gemkit-malformed-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A field of the header that sizes or places something: a length, a count, a dimension or an
/// offset, `width` bytes at `at`.
pub struct Field {
    pub at: usize,
    pub width: usize,
    pub what: String,
}

/// Every length, count, dimension and offset in `m`'s header, found by walking it as the
/// format lays it out (only the first and last few strings of each array of strings).
pub fn length_fields(m: &Map) -> Vec<Field> {
    let h = &m.header;
    let u64_at = |at: usize| u64::from_le_bytes(h[at..at + 8].try_into().unwrap()) as usize;
    let u32_at = |at: usize| u32::from_le_bytes(h[at..at + 4].try_into().unwrap());
    let mut fields = Vec::new();
    let mut field = |at, width, what: String| fields.push(Field { at, width, what });
    field(8, 8, "tensor count".into());
    field(16, 8, "metadata count".into());
    let fixed = |ty: u32| match ty {
        0 | 1 | 7 => 1,
        2 | 3 => 2,
        4..=6 => 4,
        10..=12 => 8,
        _ => 0,
    };
    let mut pos = 24;
    for _ in 0..u64_at(16) {
        let key_len = u64_at(pos);
        let key = String::from_utf8_lossy(&h[pos + 8..pos + 8 + key_len]).into_owned();
        field(pos, 8, format!("length of key {key}"));
        pos += 8 + key_len;
        let ty = u32_at(pos);
        pos += 4;
        match ty {
            8 => {
                field(pos, 8, format!("length of {key}"));
                pos += 8 + u64_at(pos);
            }
            9 => {
                let elem = u32_at(pos);
                let count = u64_at(pos + 4);
                field(pos + 4, 8, format!("element count of {key}"));
                pos += 12;
                for i in 0..count {
                    match elem {
                        8 => {
                            if i < 4 || i + 4 >= count {
                                field(pos, 8, format!("length of {key}[{i}]"));
                            }
                            pos += 8 + u64_at(pos);
                        }
                        _ => pos += fixed(elem),
                    }
                }
            }
            _ => pos += fixed(ty),
        }
    }
    assert_eq!(
        pos, m.tensor_infos_start,
        "the walk ends where the tensor infos begin"
    );
    for i in 0..u64_at(8) {
        field(pos, 8, format!("name length of tensor {i}"));
        pos += 8 + u64_at(pos);
        let n_dims = u32_at(pos) as usize;
        field(pos, 4, format!("dimension count of tensor {i}"));
        pos += 4;
        for d in 0..n_dims {
            field(pos, 8, format!("dimension {d} of tensor {i}"));
            pos += 8;
        }
        field(pos, 4, format!("type of tensor {i}"));
        field(pos + 4, 8, format!("offset of tensor {i}"));
        pos += 12;
    }
    fields
}
