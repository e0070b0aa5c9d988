//! The header reader and the accessors, on GGUF bytes built by hand.

use super::{Gguf, GgufError};

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
    assert!(matches!(g.u64("nope"), Err(GgufError::MissingKey(k)) if k == "nope"));
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
    assert!(matches!(
        parse(bytes),
        Err(GgufError::UnsupportedVersion(1))
    ));
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
    // Issue 13: 2^62 F32 elements fit in an isize, but their 2^64 bytes do not.
    let huge_row = Builder::new().tensor("t", &[1 << 62], 0).build();
    assert_eq!(
        parse(huge_row).err().unwrap().to_string(),
        "tensor t: a row of 4611686018427387904 elements overflows"
    );
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
    assert!(matches!(parse(bytes), Err(GgufError::BadAlignment(24))));
}

#[test]
fn open_names_the_path() {
    let path = std::path::Path::new("/nonexistent/model.gguf");
    let e = Gguf::open(path).err().expect("no such file");
    assert!(matches!(&e, GgufError::Io { path: p, .. } if p == path));
    assert!(
        e.to_string()
            .starts_with("cannot open /nonexistent/model.gguf: "),
        "{e}"
    );
}
