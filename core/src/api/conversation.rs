//! What a conversation is made of: messages by role, and the options a chat is opened with.

/// What a chat does when its next turn does not fit in the context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ContextFullPolicy {
    /// Drop the oldest exchanges (keeping the system prompt) until the turn fits.
    #[default]
    DropOldest,
    /// Fail with [`Error::ContextFull`].
    Fail,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChatOptions {
    pub system: Option<String>,
    pub context_full: ContextFullPolicy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Model,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub role: Role,
    pub text: String,
}
