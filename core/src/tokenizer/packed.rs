//! Many short byte strings in one buffer. A vocabulary of 262k tokens held as `Vec<String>`
//! costs a heap block and a 24-byte header per token (about 14 MB of anonymous memory for
//! Gemma 3); packed it costs its bytes plus four per token.

use super::error::TokenizerError;

#[derive(Debug, Default)]
pub(crate) struct Packed {
    data: Vec<u8>,
    /// End of each item in `data`; item `i` starts where item `i - 1` ends.
    ends: Vec<u32>,
}

impl Packed {
    /// Packs `items`; fails when they hold 4 GiB or more in all.
    pub fn new<'a>(
        items: impl ExactSizeIterator<Item = &'a [u8]>,
    ) -> Result<Packed, TokenizerError> {
        let mut packed = Packed {
            data: Vec::new(),
            ends: Vec::with_capacity(items.len()),
        };
        for item in items {
            packed.push_with(|data| data.extend_from_slice(item))?;
        }
        Ok(packed)
    }

    /// Appends one item written by `write` at the end of the buffer.
    pub fn push_with(&mut self, write: impl FnOnce(&mut Vec<u8>)) -> Result<(), TokenizerError> {
        write(&mut self.data);
        let end = u32::try_from(self.data.len())
            .map_err(|_| TokenizerError::TooLarge(self.ends.len()))?;
        self.ends.push(end);
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Item `i`, which must exist.
    pub fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.data[start..self.ends[i] as usize]
    }

    pub fn try_get(&self, i: usize) -> Option<&[u8]> {
        (i < self.len()).then(|| self.get(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_come_back_as_given() {
        let items: [&[u8]; 4] = [b"", b"ab", b"\xE2\x96\x81x", b""];
        let p = Packed::new(items.into_iter()).unwrap();
        assert_eq!(p.len(), 4);
        for (i, item) in items.iter().enumerate() {
            assert_eq!(p.get(i), *item);
        }
        assert_eq!(p.try_get(4), None);
    }
}
