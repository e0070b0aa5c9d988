//! SHA-256 of model files, for the platform downloaders: one implementation for Android and
//! iOS (neither CryptoKit nor a JDK digest is available to both), fed as bytes arrive so that a
//! download is verified before it is moved into place.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use sha2::Digest;

use crate::error::{Error, Result};

/// A SHA-256 being computed over bytes given in order.
#[derive(Clone, Default)]
pub struct Sha256(sha2::Sha256);

impl Sha256 {
    pub fn new() -> Sha256 {
        Sha256::default()
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// Feeds the first `limit` bytes of `path` (all of it when `None`); returns how many it read.
    pub fn update_from_file(&mut self, path: &Path, limit: Option<u64>) -> Result<u64> {
        let io = |source| Error::Io {
            path: path.to_owned(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        let mut reader = file.take(limit.unwrap_or(u64::MAX));
        let mut buf = vec![0u8; 1 << 20];
        let mut total = 0u64;
        loop {
            let n = reader.read(&mut buf).map_err(io)?;
            if n == 0 {
                return Ok(total);
            }
            self.0.update(&buf[..n]);
            total += n as u64;
        }
    }

    /// The digest as 64 lowercase hex digits.
    pub fn hex(&self) -> String {
        self.0
            .clone()
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// The SHA-256 of a whole file, as 64 lowercase hex digits.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut hasher = Sha256::new();
    hasher.update_from_file(path, None)?;
    Ok(hasher.hex())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors_and_chunking() {
        let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(Sha256::new().hex(), empty);
        let mut abc = Sha256::new();
        abc.update(b"ab");
        abc.update(b"c");
        let expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(abc.hex(), expected);
        // hex() does not consume: more bytes continue the same digest.
        abc.update(b"d");
        assert_ne!(abc.hex(), expected);
    }

    #[test]
    fn a_file_prefix_then_the_rest_equals_the_whole() {
        let dir = std::env::temp_dir().join(format!("gemkit-digest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("data");
        let data: Vec<u8> = (0..3_000_001u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let mut split = Sha256::new();
        assert_eq!(
            split.update_from_file(&path, Some(1_234_567)).unwrap(),
            1_234_567
        );
        split.update(&data[1_234_567..]);
        let mut whole = Sha256::new();
        whole.update(&data);
        assert_eq!(split.hex(), whole.hex());
        assert_eq!(sha256_file(&path).unwrap(), whole.hex());
        assert!(matches!(
            sha256_file(&dir.join("missing")),
            Err(Error::Io { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
