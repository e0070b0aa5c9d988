//! Gemma's chat template as token ids. Gemma has no system role: the system prompt opens the
//! first user turn, as Gemma's own template does. User text is never parsed for control tokens.

use crate::api::conversation::{Message, Role};
use crate::error::{Error, Result};
use crate::tokenizer::Tokenizer;

/// Gemma's turn markers as token ids.
pub(crate) struct Template {
    bos: Option<u32>,
    /// `<start_of_turn>user\n`
    user: Vec<u32>,
    /// `<end_of_turn>\n<start_of_turn>model\n`
    model: Vec<u32>,
    /// `<end_of_turn>\n`
    pub end: Vec<u32>,
}

impl Template {
    pub fn new(tokenizer: &Tokenizer) -> Result<Template> {
        let id = |marker: &str| {
            tokenizer.id_of(marker).ok_or_else(|| {
                Error::InvalidArgument(format!("the model's vocabulary has no {marker} for chats"))
            })
        };
        let (start, end) = (id("<start_of_turn>")?, id("<end_of_turn>")?);
        let text = |s: &str| tokenizer.encode(s, false, false);
        let newline = text("\n")?;
        let user = [vec![start], text("user\n")?].concat();
        let end = [vec![end], newline].concat();
        let model = [end.clone(), vec![start], text("model\n")?].concat();
        Ok(Template {
            bos: tokenizer.bos(),
            user,
            model,
            end,
        })
    }

    /// The start of every chat: the first user turn's header and the system prompt.
    pub fn opening(&self, tokenizer: &Tokenizer, system: Option<&str>) -> Result<Vec<u32>> {
        let mut tokens: Vec<u32> = self.bos.into_iter().collect();
        tokens.extend(&self.user);
        if let Some(system) = system.filter(|s| !s.is_empty()) {
            tokens.extend(tokenizer.encode(&format!("{system}\n\n"), false, false)?);
        }
        Ok(tokens)
    }

    /// A user turn up to the model's header. The first one continues the opening. The text is
    /// never parsed for control tokens: a user cannot write `<end_of_turn>` into the template.
    pub fn user_turn(&self, tokenizer: &Tokenizer, first: bool, text: &str) -> Result<Vec<u32>> {
        let mut tokens = if first { Vec::new() } else { self.user.clone() };
        tokens.extend(tokenizer.encode(text, false, false)?);
        tokens.extend(&self.model);
        Ok(tokens)
    }

    /// A whole conversation, as a chat whose history is `messages` would hold it.
    pub fn render(
        &self,
        tokenizer: &Tokenizer,
        system: Option<&str>,
        messages: &[Message],
    ) -> Result<Vec<u32>> {
        let mut tokens = self.opening(tokenizer, system)?;
        for (i, m) in messages.iter().enumerate() {
            match m.role {
                Role::User => tokens.extend(self.user_turn(tokenizer, i == 0, &m.text)?),
                Role::Model => {
                    tokens.extend(tokenizer.encode(&m.text, false, false)?);
                    tokens.extend(&self.end);
                }
            }
        }
        Ok(tokens)
    }
}
