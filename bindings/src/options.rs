//! What an app asks for: load, chat and generation options, each field defaulted in Kotlin and
//! Swift so that `EngineOptions()` or `GenerateOptions(maxTokens = 64u)` is a whole request.
//! Defaults that are plain numbers repeat the core's (a test below reads them back from UniFFI's
//! metadata and compares them with the core's defaults); an enum field is optional, `null` /
//! `nil` meaning the core's choice, since UniFFI's proc-macros have no enum default literal.

/// How to load a model. Unset fields take the core's default.
#[derive(Debug, Clone, Default, uniffi::Record)]
pub struct EngineOptions {
    /// Tokens a chat can hold (default: the training context, at most 4096).
    #[uniffi(default = None)]
    pub context_length: Option<u32>,
    /// Compute threads (default: the performance cores).
    #[uniffi(default = None)]
    pub threads: Option<u32>,
    /// Element type of the KV caches (default: F16).
    #[uniffi(default = None)]
    pub kv_type: Option<KvType>,
    /// Arithmetic of the matrix products (default: FAST).
    #[uniffi(default = None)]
    pub precision: Option<Precision>,
    /// Tokens per prefill step (default: 128). Larger is faster; sliding-window layers keep
    /// this many positions beyond their window.
    #[uniffi(default = None)]
    pub prefill_chunk: Option<u32>,
    /// A Hugging Face `tokenizer.json` to use instead of the vocabulary in the GGUF file.
    #[uniffi(default = None)]
    pub tokenizer_json: Option<String>,
    /// Anonymous memory, in bytes, that the model and all its chats and prefixes may take.
    /// Loading, and starting a chat, fail with `OutOfMemory` rather than exceed it.
    #[uniffi(default = None)]
    pub memory_budget: Option<u64>,
    /// With a budget: shrink the context until the model and one chat fit, instead of failing.
    #[uniffi(default = false)]
    pub fit_context_to_budget: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum KvType {
    /// Half the memory of F32; what phones want.
    F16,
    F32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Precision {
    /// Quantized activations and integer dot products: the speed path.
    Fast,
    /// f32 activations against dequantized weights: the reference path, for comparisons.
    Exact,
}

impl From<EngineOptions> for gemkit::ModelOptions {
    fn from(o: EngineOptions) -> Self {
        let d = gemkit::ModelOptions::default();
        gemkit::ModelOptions {
            context_length: o.context_length.map(|n| n as usize),
            threads: o.threads.map(|n| n as usize),
            kv_type: o.kv_type.map_or(d.kv_type, |k| match k {
                KvType::F16 => gemkit::KvType::F16,
                KvType::F32 => gemkit::KvType::F32,
            }),
            precision: o.precision.map_or(d.precision, |p| match p {
                Precision::Fast => gemkit::Precision::Fast,
                Precision::Exact => gemkit::Precision::Exact,
            }),
            prefill_chunk: o.prefill_chunk.map_or(d.prefill_chunk, |n| n as usize),
            tokenizer_json: o.tokenizer_json.map(Into::into),
            memory_budget: o.memory_budget,
            fit_context_to_budget: o.fit_context_to_budget,
        }
    }
}

#[derive(Debug, Clone, uniffi::Record)]
pub struct ChatOptions {
    /// Instructions that open the conversation (Gemma puts them in the first user turn).
    #[uniffi(default = None)]
    pub system: Option<String>,
    /// What a turn that does not fit in the context does (default: DROP_OLDEST).
    #[uniffi(default = None)]
    pub context_full: Option<ContextFullPolicy>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ContextFullPolicy {
    /// Drop the oldest exchanges (keeping the system prompt) until the turn fits.
    DropOldest,
    /// Fail with `ContextFull`.
    Fail,
}

impl From<ChatOptions> for gemkit::ChatOptions {
    fn from(o: ChatOptions) -> Self {
        gemkit::ChatOptions {
            system: o.system,
            context_full: o.context_full.map_or_else(Default::default, |p| match p {
                ContextFullPolicy::DropOldest => gemkit::ContextFullPolicy::DropOldest,
                ContextFullPolicy::Fail => gemkit::ContextFullPolicy::Fail,
            }),
        }
    }
}

#[derive(Debug, Clone, uniffi::Record)]
pub struct GenerateOptions {
    /// Tokens the reply may have; reaching it finishes with `LENGTH`.
    #[uniffi(default = 256)]
    pub max_tokens: u32,
    #[uniffi(default)]
    pub sampling: Sampling,
    /// Text that ends the reply (and is not part of it).
    #[uniffi(default = [])]
    pub stop: Vec<String>,
    /// What a request does when the model or its chat is busy (default: WAIT).
    #[uniffi(default = None)]
    pub when_busy: Option<WhenBusy>,
}

/// How the next token is chosen. Temperature 0 is greedy; the same seed and input give the
/// same reply on every platform.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Sampling {
    #[uniffi(default = 0.8)]
    pub temperature: f32,
    /// Keep the k most likely tokens; 0 keeps all.
    #[uniffi(default = 40)]
    pub top_k: u32,
    /// Keep the fewest tokens whose probability reaches p; 1 keeps all.
    #[uniffi(default = 0.95)]
    pub top_p: f32,
    /// Drop tokens less likely than `min_p` times the most likely one; 0 keeps all.
    #[uniffi(default = 0.05)]
    pub min_p: f32,
    /// Penalizes tokens seen in the last `repetition_window` tokens; 1 is off.
    #[uniffi(default = 1.0)]
    pub repetition_penalty: f32,
    #[uniffi(default = 64)]
    pub repetition_window: u32,
    #[uniffi(default = 0)]
    pub seed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum WhenBusy {
    /// Wait for the running request to finish.
    Wait,
    /// Fail at once with `Busy`.
    Fail,
}

/// What `Engine.release_memory` frees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum MemoryRelease {
    /// Idle chats' KV caches (to disk) and prefixes' caches; a running request goes on.
    Caches,
    /// Also every request, and the model itself until its next use.
    Model,
}

impl From<MemoryRelease> for gemkit::Release {
    fn from(r: MemoryRelease) -> Self {
        match r {
            MemoryRelease::Caches => gemkit::Release::Caches,
            MemoryRelease::Model => gemkit::Release::Model,
        }
    }
}

impl From<GenerateOptions> for gemkit::GenerateOptions {
    fn from(o: GenerateOptions) -> Self {
        let s = o.sampling;
        gemkit::GenerateOptions {
            max_tokens: o.max_tokens as usize,
            sampling: gemkit::SamplingParams {
                temperature: s.temperature,
                top_k: s.top_k as usize,
                top_p: s.top_p,
                min_p: s.min_p,
                repetition_penalty: s.repetition_penalty,
                repetition_window: s.repetition_window as usize,
                seed: s.seed,
            },
            stop: o.stop,
            when_busy: o.when_busy.map_or_else(Default::default, |w| match w {
                WhenBusy::Wait => gemkit::WhenBusy::Wait,
                WhenBusy::Fail => gemkit::WhenBusy::Fail,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    //! The defaults the generated Kotlin and Swift constructors carry are the literals in the
    //! `#[uniffi(default = ...)]` attributes above, which UniFFI compiles into metadata. Read
    //! them back from there and check that a record built only from them is the core's default.
    use std::collections::HashMap;

    use uniffi_meta::{DefaultValueMetadata, LiteralMetadata, Metadata};

    use super::*;

    /// Each field's declared default; fails if a field has none (the foreign constructor could
    /// not be called without it).
    fn defaults(meta: &[u8]) -> HashMap<String, DefaultValueMetadata> {
        let Metadata::Record(record) = uniffi_meta::read_metadata(meta).unwrap() else {
            panic!("not a record's metadata");
        };
        record
            .fields
            .into_iter()
            .map(|f| match f.default {
                Some(d) => (f.name, d),
                None => panic!("{}.{} has no default", record.name, f.name),
            })
            .collect()
    }

    fn literal(d: &HashMap<String, DefaultValueMetadata>, field: &str) -> LiteralMetadata {
        match &d[field] {
            DefaultValueMetadata::Literal(l) => l.clone(),
            DefaultValueMetadata::Default => panic!("{field}: not a literal"),
        }
    }

    fn uint(d: &HashMap<String, DefaultValueMetadata>, field: &str) -> u64 {
        match literal(d, field) {
            LiteralMetadata::UInt(v, ..) => v,
            other => panic!("{field}: {other:?}"),
        }
    }

    fn float(d: &HashMap<String, DefaultValueMetadata>, field: &str) -> f32 {
        match literal(d, field) {
            LiteralMetadata::Float(v, _) => v.parse().unwrap(),
            other => panic!("{field}: {other:?}"),
        }
    }

    fn none(d: &HashMap<String, DefaultValueMetadata>, field: &str) {
        assert_eq!(literal(d, field), LiteralMetadata::None, "{field}");
    }

    #[test]
    fn the_generated_constructors_defaults_are_the_cores() {
        let s = defaults(&UNIFFI_META_GEMKIT_FFI_RECORD_SAMPLING);
        let g = defaults(&UNIFFI_META_GEMKIT_FFI_RECORD_GENERATEOPTIONS);
        assert_eq!(literal(&g, "stop"), LiteralMetadata::EmptySequence);
        none(&g, "when_busy");
        // `sampling`'s default is Sampling's own constructor, checked through `s`.
        assert_eq!(g["sampling"], DefaultValueMetadata::Default);
        let generate = GenerateOptions {
            max_tokens: uint(&g, "max_tokens") as u32,
            sampling: Sampling {
                temperature: float(&s, "temperature"),
                top_k: uint(&s, "top_k") as u32,
                top_p: float(&s, "top_p"),
                min_p: float(&s, "min_p"),
                repetition_penalty: float(&s, "repetition_penalty"),
                repetition_window: uint(&s, "repetition_window") as u32,
                seed: uint(&s, "seed"),
            },
            stop: Vec::new(),
            when_busy: None,
        };
        assert_eq!(
            format!("{:?}", gemkit::GenerateOptions::from(generate)),
            format!("{:?}", gemkit::GenerateOptions::default())
        );

        let e = defaults(&UNIFFI_META_GEMKIT_FFI_RECORD_ENGINEOPTIONS);
        for field in [
            "context_length",
            "threads",
            "kv_type",
            "precision",
            "prefill_chunk",
            "tokenizer_json",
            "memory_budget",
        ] {
            none(&e, field);
        }
        assert_eq!(
            literal(&e, "fit_context_to_budget"),
            LiteralMetadata::Boolean(false)
        );
        assert_eq!(
            format!("{:?}", gemkit::ModelOptions::from(EngineOptions::default())),
            format!("{:?}", gemkit::ModelOptions::default())
        );

        let c = defaults(&UNIFFI_META_GEMKIT_FFI_RECORD_CHATOPTIONS);
        none(&c, "system");
        none(&c, "context_full");
        let chat = ChatOptions {
            system: None,
            context_full: None,
        };
        assert_eq!(
            format!("{:?}", gemkit::ChatOptions::from(chat)),
            format!("{:?}", gemkit::ChatOptions::default())
        );
    }
}
