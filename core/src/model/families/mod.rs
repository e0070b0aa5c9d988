//! The three families' configs, read from the file's metadata: what differs between them is
//! data in [`Config`], so the forward pass has one copy of the arithmetic.

mod gemma;
mod gemma2;
mod gemma3;

use crate::error::{Error, Result};
use crate::gguf::Gguf;
use crate::model::config::{Arch, Config, Keys};

/// Reads the architecture and its config from a parsed file.
pub fn read_config<B: AsRef<[u8]>>(file: &Gguf<B>) -> Result<Config> {
    let arch_name = file.str("general.architecture")?;
    let arch = match arch_name {
        "gemma" => Arch::Gemma,
        "gemma2" => Arch::Gemma2,
        "gemma3" => Arch::Gemma3,
        other => return Err(Error::UnsupportedArchitecture(other.to_owned())),
    };
    let keys = Keys { gguf: file, arch };
    match arch {
        Arch::Gemma => gemma::config(&keys),
        Arch::Gemma2 => gemma2::config(&keys),
        Arch::Gemma3 => gemma3::config(&keys),
    }
}
