//! Corrupted copies of real GGUF files, shared by the library's and the CLI's hostile-file
//! tests. Each corruption names the fragment its error message must contain.

use std::path::{Path, PathBuf};

use gemkit::gguf::Gguf;

/// Offsets of the fields a corruption targets, read from the file's own header.
pub struct Map {
    bytes: Vec<u8>,
    tensor_infos_start: usize,
    data_start: usize,
    /// The first tensor info's fields.
    first_dims_count: usize,
    first_dim0: usize,
    first_type: usize,
    first_offset: usize,
}

pub fn map(bytes: Vec<u8>) -> Map {
    map_prefix(&bytes, bytes.len())
}

/// A map of the first `keep` bytes of a valid file: its header and the start of its data.
pub fn map_prefix(file: &[u8], keep: usize) -> Map {
    let g = Gguf::parse(file).expect("the original file is valid");
    let bytes = file[..keep.min(file.len())].to_vec();
    let infos = g.layout.tensor_infos_start;
    let name_len = u64::from_le_bytes(bytes[infos..infos + 8].try_into().unwrap()) as usize;
    let first_dims_count = infos + 8 + name_len;
    let n_dims = u32::from_le_bytes(
        bytes[first_dims_count..first_dims_count + 4]
            .try_into()
            .unwrap(),
    ) as usize;
    let first_type = first_dims_count + 4 + 8 * n_dims;
    Map {
        tensor_infos_start: infos,
        data_start: g.layout.data_start,
        first_dims_count,
        first_dim0: first_dims_count + 4,
        first_type,
        first_offset: first_type + 4,
        bytes,
    }
}

fn put(bytes: &mut [u8], at: usize, value: &[u8]) {
    bytes[at..at + value.len()].copy_from_slice(value);
}

fn find(bytes: &[u8], needle: &[u8]) -> usize {
    bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("needle in file")
}

/// Whether `message` contains one of the `|`-separated fragments of `expect`.
pub fn mentions(message: &str, expect: &str) -> bool {
    expect.split('|').any(|e| message.contains(e))
}

/// Named corruptions of `m`, each with fragments (`a|b`) one of which its error must contain.
pub fn corruptions(m: &Map) -> Vec<(String, Vec<u8>, &'static str)> {
    let b = &m.bytes;
    let mut out: Vec<(String, Vec<u8>, &'static str)> = Vec::new();
    let mut edit = |name: &str, expect: &'static str, f: &dyn Fn(&mut Vec<u8>)| {
        let mut c = b.clone();
        f(&mut c);
        out.push((name.to_owned(), c, expect));
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
        edit(
            &format!("truncated {name}"),
            "file ends at byte|more than the",
            &|c| c.truncate(len),
        );
    }
    edit("truncated at data", "outside the file", &|c| {
        c.truncate(m.data_start)
    });
    edit("truncated in data", "outside the file", &|c| {
        c.truncate(m.data_start + (b.len() - m.data_start) / 2)
    });
    edit("truncated by one byte", "outside the file", &|c| {
        c.truncate(b.len() - 1)
    });
    edit("bad magic", "not a GGUF file", &|c| put(c, 0, b"GGML"));
    edit("version 1", "unsupported GGUF version 1", &|c| {
        put(c, 4, &1u32.to_le_bytes())
    });
    edit("version 99", "unsupported GGUF version 99", &|c| {
        put(c, 4, &99u32.to_le_bytes())
    });
    edit("huge tensor count", "tensor count is", &|c| {
        put(c, 8, &u64::MAX.to_le_bytes())
    });
    edit("huge metadata count", "metadata count is", &|c| {
        put(c, 16, &(1u64 << 40).to_le_bytes())
    });
    edit(
        "huge key length",
        "length of key of metadata entry 0",
        &|c| put(c, 24, &(u64::MAX / 2).to_le_bytes()),
    );
    edit("unknown value type", "unknown value type", &|c| {
        let key_len = u64::from_le_bytes(c[24..32].try_into().unwrap()) as usize;
        put(c, 32 + key_len, &77u32.to_le_bytes())
    });
    edit(
        "huge token array",
        "element count of metadata tokenizer.ggml.tokens",
        &|c| {
            let at = find(c, b"tokenizer.ggml.tokens") + "tokenizer.ggml.tokens".len() + 8;
            put(c, at, &(1u64 << 62).to_le_bytes())
        },
    );
    edit("invalid UTF-8 key", "not valid UTF-8", &|c| {
        put(c, 32, &[0xff, 0xfe])
    });
    edit(
        "unsupported architecture",
        "unsupported architecture",
        &|c| {
            let at = find(c, b"general.architecture") + "general.architecture".len() + 4 + 8;
            put(c, at, b"llama")
        },
    );
    edit("missing tensor", "missing tensor", &|c| {
        let at = find(c, b"blk.0.attn_q.weight");
        put(c, at, b"blk.0.attn_X.weight")
    });
    edit("zero dimensions", "0 dimensions", &|c| {
        put(c, m.first_dims_count, &0u32.to_le_bytes())
    });
    edit("five dimensions", "5 dimensions", &|c| {
        put(c, m.first_dims_count, &5u32.to_le_bytes())
    });
    edit("overflowing dimension", "tensor ", &|c| {
        put(c, m.first_dim0, &(u64::MAX / 3).to_le_bytes())
    });
    edit("unknown dtype", "unknown type id 99", &|c| {
        put(c, m.first_type, &99u32.to_le_bytes())
    });
    edit(
        "unsupported dtype",
        "unsupported tensor type IQ2_XXS",
        &|c| put(c, m.first_type, &16u32.to_le_bytes()),
    );
    edit("offset past the end", "outside the file", &|c| {
        put(c, m.first_offset, &(1u64 << 50).to_le_bytes())
    });
    edit(
        "misaligned offset",
        "not a multiple of the alignment",
        &|c| {
            let off = u64::from_le_bytes(c[m.first_offset..m.first_offset + 8].try_into().unwrap());
            put(c, m.first_offset, &(off + 4).to_le_bytes())
        },
    );
    out
}

pub fn write_temp(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(format!("{}.gguf", name.replace(' ', "_")));
    std::fs::write(&path, bytes).expect("writing a temp file");
    path
}

pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gemkit-malformed-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
