//! What the engine tells an app: plain records copied out of the core's types. Counts that
//! the core keeps as `usize` cross as `u32` (they are bounded by a context or a vocabulary).

/// What a loaded model is and the memory it takes.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ModelInfo {
    /// `gemma`, `gemma2` or `gemma3`.
    pub architecture: String,
    pub layers: u32,
    pub embedding_length: u32,
    pub heads: u32,
    pub kv_heads: u32,
    pub head_dim: u32,
    pub feed_forward_length: u32,
    pub vocab_size: u32,
    /// Context the model was trained with.
    pub train_context: u32,
    /// Context this load allows per chat.
    pub context_length: u32,
    /// Window of the sliding-window layers, if the model has any.
    pub sliding_window: Option<u32>,
    pub sliding_layers: u32,
    pub threads: u32,
    pub file_bytes: u64,
    /// Weights, mapped from the file: clean memory the OS can drop and reload.
    pub tensor_bytes: u64,
    /// KV cache of one chat at `context_length` (the app's own memory).
    pub kv_cache_bytes: u64,
    pub load_ms: f64,
}

impl ModelInfo {
    pub(crate) fn of(i: gemkit::ModelInfo) -> ModelInfo {
        ModelInfo {
            architecture: i.architecture.to_owned(),
            layers: count(i.n_layer),
            embedding_length: count(i.n_embd),
            heads: count(i.n_head),
            kv_heads: count(i.n_head_kv),
            head_dim: count(i.head_dim),
            feed_forward_length: count(i.n_ff),
            vocab_size: count(i.vocab_size),
            train_context: count(i.train_context),
            context_length: count(i.context_length),
            sliding_window: i.sliding_window.map(count),
            sliding_layers: count(i.sliding_layers),
            threads: count(i.threads),
            file_bytes: i.file_bytes as u64,
            tensor_bytes: i.tensor_bytes() as u64,
            kv_cache_bytes: i.kv_cache_bytes as u64,
            load_ms: i.load_ms,
        }
    }
}

/// What a model costs in memory, known from its file's header before loading.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct MemoryEstimate {
    /// Weights, read from the mapped file: file-backed, not counted against an app.
    pub weights_bytes: u64,
    pub context_length: u32,
    /// The KV cache of one chat at `context_length`.
    pub kv_cache_bytes: u64,
    /// The tokenizer: held once per loaded model.
    pub fixed_bytes: u64,
    /// Activations of one prefill step and the logits of one token.
    pub scratch_bytes: u64,
    /// `fixed_bytes + scratch_bytes + kv_cache_bytes`: a loaded model with one chat, the
    /// figure a memory budget is checked against.
    pub anonymous_bytes: u64,
}

impl From<gemkit::MemoryEstimate> for MemoryEstimate {
    fn from(m: gemkit::MemoryEstimate) -> Self {
        MemoryEstimate {
            weights_bytes: m.weights_bytes,
            context_length: count(m.context_length),
            kv_cache_bytes: m.kv_cache_bytes,
            fixed_bytes: m.fixed_bytes,
            scratch_bytes: m.scratch_bytes,
            anonymous_bytes: m.anonymous_bytes,
        }
    }
}

/// What `Engine.release_memory` freed.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ReleasedMemory {
    /// Anonymous bytes given back, as the memory budget counts them.
    pub bytes: u64,
    pub chats_offloaded: u32,
    pub prefixes_freed: u32,
    /// Chats left as they were because a request was running on them.
    pub chats_busy: u32,
}

impl From<gemkit::Released> for ReleasedMemory {
    fn from(r: gemkit::Released) -> Self {
        ReleasedMemory {
            bytes: r.bytes,
            chats_offloaded: count(r.chats_offloaded),
            prefixes_freed: count(r.prefixes_freed),
            chats_busy: count(r.chats_busy),
        }
    }
}

#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Reply {
    pub text: String,
    /// The generated token ids, without a final stop token.
    pub ids: Vec<u32>,
    pub finish_reason: FinishReason,
    pub stats: Stats,
}

impl From<gemkit::Reply> for Reply {
    fn from(r: gemkit::Reply) -> Self {
        Reply {
            text: r.text,
            ids: r.ids,
            finish_reason: r.finish_reason.into(),
            stats: r.stats.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum FinishReason {
    /// The model ended its turn (the stop token is not part of the reply).
    StopToken,
    /// The reply reached one of the stop strings (not part of the reply).
    StopString,
    /// `max_tokens` were generated.
    Length,
    /// The request was cancelled; the reply holds what came before.
    Cancelled,
    /// The context has no room for another token.
    ContextFull,
}

impl From<gemkit::FinishReason> for FinishReason {
    fn from(f: gemkit::FinishReason) -> Self {
        match f {
            gemkit::FinishReason::StopToken => FinishReason::StopToken,
            gemkit::FinishReason::StopString => FinishReason::StopString,
            gemkit::FinishReason::Length => FinishReason::Length,
            gemkit::FinishReason::Cancelled => FinishReason::Cancelled,
            gemkit::FinishReason::ContextFull => FinishReason::ContextFull,
        }
    }
}

#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Stats {
    /// Tokens prefilled by this request (a chat turn prefills only its own).
    pub prompt_tokens: u32,
    /// Tokens in the sequence after the reply.
    pub context_tokens: u32,
    pub generated_tokens: u32,
    /// From the call to the first generated token, in milliseconds.
    pub ttft_ms: f64,
    pub prefill_tok_s: f64,
    /// Decode speed, including the time the listener takes.
    pub decode_tok_s: f64,
}

impl From<gemkit::Stats> for Stats {
    fn from(s: gemkit::Stats) -> Self {
        Stats {
            prompt_tokens: count(s.prompt_tokens),
            context_tokens: count(s.context_tokens),
            generated_tokens: count(s.generated_tokens),
            ttft_ms: s.ttft_ms,
            prefill_tok_s: s.prefill_tok_s,
            decode_tok_s: s.decode_tok_s,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Message {
    pub role: Role,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Role {
    User,
    Model,
}

impl From<gemkit::Message> for Message {
    fn from(m: gemkit::Message) -> Self {
        Message {
            role: match m.role {
                gemkit::Role::User => Role::User,
                gemkit::Role::Model => Role::Model,
            },
            text: m.text,
        }
    }
}

/// A corrected text and what changed, word by word, ready to underline.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ProofreadResult {
    /// The correction; the original text when the reply did not finish (cancelled, cut off).
    pub corrected: String,
    /// Unchanged and deleted segments spell the original; unchanged and inserted ones spell
    /// the correction.
    pub segments: Vec<Segment>,
    pub finish_reason: FinishReason,
    pub stats: Stats,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Segment {
    pub kind: SegmentKind,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum SegmentKind {
    Unchanged,
    Inserted,
    Deleted,
}

impl From<gemkit::Proofread> for ProofreadResult {
    fn from(p: gemkit::Proofread) -> Self {
        ProofreadResult {
            corrected: p.corrected,
            segments: p
                .segments
                .into_iter()
                .map(|s| Segment {
                    kind: match s.kind {
                        gemkit::SegmentKind::Unchanged => SegmentKind::Unchanged,
                        gemkit::SegmentKind::Inserted => SegmentKind::Inserted,
                        gemkit::SegmentKind::Deleted => SegmentKind::Deleted,
                    },
                    text: s.text,
                })
                .collect(),
            finish_reason: p.finish_reason.into(),
            stats: p.stats.into(),
        }
    }
}

/// Counts from a validated file fit in 32 bits; saturate rather than wrap if one ever does not.
pub(crate) fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
