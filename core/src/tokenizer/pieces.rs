//! What each token decodes to, worked out once when a tokenizer is built.

use super::error::TokenizerError;
use super::packed::Packed;
use super::vocab::{parse_byte_piece, A_BYTE, A_CONTROL, A_NORMAL, A_UNKNOWN, A_USER};

/// Decoded bytes for every token, as one arena plus offsets.
pub(super) fn build_pieces(tokens: &Packed, attrs: &[u8]) -> Result<Packed, TokenizerError> {
    let mut pieces = Packed::default();
    for (i, &a) in attrs.iter().enumerate() {
        let t = tokens.get(i);
        pieces.push_with(|data| {
            if a & (A_CONTROL | A_UNKNOWN) != 0 {
                // nothing
            } else if a & A_USER != 0 {
                data.extend_from_slice(t);
            } else if a & A_NORMAL != 0 {
                let mut i = 0;
                while i < t.len() {
                    if t[i] == 0xE2 && t.get(i + 1) == Some(&0x96) && t.get(i + 2) == Some(&0x81) {
                        data.push(b' ');
                        i += 3;
                    } else {
                        data.push(t[i]);
                        i += 1;
                    }
                }
            } else if a & A_BYTE != 0 {
                match parse_byte_piece(t) {
                    Some(byte) => data.push(byte),
                    None => log::warn!(
                        "tokenizer: byte token {:?} is not of the form <0xXX>; it decodes to nothing",
                        String::from_utf8_lossy(t)
                    ),
                }
            }
        })?;
    }
    Ok(pieces)
}
