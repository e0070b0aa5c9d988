use crate::error::Result;
use crate::gguf::Gguf;
use crate::tokenizer::Tokenizer;
pub(crate) fn tokenizer_from_gguf<B: AsRef<[u8]>>(_g: &Gguf<B>) -> Result<Tokenizer> {
    Ok(Tokenizer)
}
pub(crate) fn stop_tokens<B: AsRef<[u8]>>(_g: &Gguf<B>, _t: &Tokenizer) -> Result<Vec<u32>> {
    Ok(vec![])
}
