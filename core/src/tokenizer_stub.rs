pub struct Tokenizer;
#[derive(Debug, thiserror::Error)]
#[error("stub")]
pub struct TokenizerError;
impl Tokenizer {
    pub fn encode(&self, _t: &str, _a: bool, _p: bool) -> Result<Vec<u32>, TokenizerError> {
        Ok(vec![])
    }
}
pub struct TextStream;
impl TextStream {
    pub fn new(_t: &Tokenizer) -> Self {
        TextStream
    }
    pub fn push(&mut self, _i: u32) -> String {
        String::new()
    }
    pub fn finish(self) -> String {
        String::new()
    }
}
