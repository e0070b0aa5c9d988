//! A loaded Gemma model: the mapped file, its config, where its weights are, shared RoPE
//! tables and the compute threads. It is immutable once loaded, so one `Model` can serve
//! many sequences, each with its own [`KvCache`].

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::gguf::Gguf;
use crate::model::config::Config;
use crate::model::cost::{CostModel, MemoryEstimate};
use crate::model::families::read_config;
use crate::model::forward::Network;
use crate::model::kv_cache::{KvCache, KvType};
use crate::model::rope::Rope;
use crate::model::tokenizer::tokenizer_from_gguf;
use crate::model::weights::Weights;
use crate::runtime::budget::{Budget, Scratch, ScratchMeter};
use crate::runtime::control::CancelToken;
use crate::runtime::dispatch::{Kernels, Precision};
use crate::runtime::threads::ThreadPool;
use crate::tokenizer::Tokenizer;

/// Tokens run through the network at once during prefill, by default. Sliding layers keep
/// this many extra KV slots beyond their window.
pub const DEFAULT_PREFILL_CHUNK: usize = 128;
/// More compute threads than any phone or desktop has cores.
pub const MAX_THREADS: usize = 256;
/// Context used when the caller names none and the model was trained with more.
pub const DEFAULT_CONTEXT: usize = 4096;
/// The longest prefill step: well past where larger chunks stop being faster, and small
/// enough that a chunk's activations and KV ring sizes cannot overflow.
pub const MAX_PREFILL_CHUNK: usize = 1 << 16;

#[derive(Debug, Clone, PartialEq)]
pub struct ModelOptions {
    /// Tokens a sequence can hold; defaults to the smaller of the training context and
    /// [`DEFAULT_CONTEXT`].
    pub context_length: Option<usize>,
    /// Compute threads; defaults to the performance cores (see [`crate::default_threads`]).
    pub threads: Option<usize>,
    pub kv_type: KvType,
    pub precision: Precision,
    /// Tokens per prefill step: larger is faster, smaller keeps sliding layers' KV rings
    /// closer to their window (each holds `window + prefill_chunk - 1` positions).
    pub prefill_chunk: usize,
    /// A Hugging Face `tokenizer.json` to use instead of the vocabulary in the GGUF file.
    pub tokenizer_json: Option<std::path::PathBuf>,
    /// Anonymous memory the model and all its chats and prefixes may take, in bytes. Loading
    /// and starting a chat fail with [`Error::MemoryBudget`] rather than exceed it.
    pub memory_budget: Option<u64>,
    /// With a budget: shrink the context until the model and one chat fit, instead of
    /// failing to load.
    pub fit_context_to_budget: bool,
}

impl Default for ModelOptions {
    fn default() -> Self {
        ModelOptions {
            context_length: None,
            threads: None,
            kv_type: KvType::F16,
            precision: Precision::Fast,
            prefill_chunk: DEFAULT_PREFILL_CHUNK,
            tokenizer_json: None,
            memory_budget: None,
            fit_context_to_budget: false,
        }
    }
}

impl ModelOptions {
    /// f32 everywhere: the reference path, to compare with other implementations.
    pub fn reference() -> Self {
        ModelOptions {
            kv_type: KvType::F32,
            precision: Precision::Exact,
            ..ModelOptions::default()
        }
    }
}

/// Which logits a forward pass returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logits {
    /// One row, for the last token: what generation needs.
    Last,
    /// One row per input token.
    All,
}

pub struct Model {
    net: Network,
    tokenizer: Tokenizer,
    context: usize,
    kv_type: KvType,
    prefill_chunk: usize,
    budget: Arc<Budget>,
    estimate: MemoryEstimate,
    /// The estimate's scratch by kind, in the order of [`Scratch::ALL`].
    scratch: [u64; Scratch::ALL.len()],
    /// Tokens run through the network so far: evidence of what was (not) prefilled again.
    forwarded: AtomicU64,
    load_time: Duration,
}

/// One kind of scratch memory: what the estimate reserved for it and the most the passes
/// have held so far (for all compute threads together).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScratchUse {
    pub kind: &'static str,
    pub estimated_bytes: u64,
    pub high_water_bytes: u64,
}

impl Model {
    /// What loading `path` with `options` would cost in memory, from the header alone. With
    /// `fit_context_to_budget`, the context is the one loading would choose.
    pub fn estimate_memory(path: &Path, options: &ModelOptions) -> Result<MemoryEstimate> {
        let file = Gguf::open(path)?;
        let mut config = read_config(&file)?;
        let weights = Weights::locate(&file, &mut config, &Kernels::for_cpu(options.precision))?;
        let context = checked_context(&config, options)?;
        let costs = cost_model(&file, &config, &weights, options, checked_threads(options)?);
        Ok(costs.estimate(fit_context(&costs, context, options)?))
    }

    pub fn load(path: &Path, options: &ModelOptions) -> Result<Model> {
        let start = Instant::now();
        let file = Gguf::open(path)?;
        let mut config = read_config(&file)?;
        let kernels = Kernels::for_cpu(options.precision);
        let weights = Weights::locate(&file, &mut config, &kernels)?;
        let context = checked_context(&config, options)?;
        let threads = checked_threads(options)?;
        let costs = cost_model(&file, &config, &weights, options, threads);
        let context = fit_context(&costs, context, options)?;
        let estimate = costs.estimate(context);
        let scratch = Scratch::ALL.map(costs.scratch(context));
        let tokenizer = match &options.tokenizer_json {
            Some(json) => Tokenizer::from_tokenizer_json(json)?,
            None => tokenizer_from_gguf(&file)?,
        };
        let pool = ThreadPool::new(threads).map_err(|e| {
            Error::InvalidArgument(format!("cannot start {threads} compute threads: {e}"))
        })?;
        let ropes = config
            .ropes
            .iter()
            .map(|&r| Rope::new(r, config.head_dim))
            .collect();
        let budget = Budget::new(
            options.memory_budget,
            estimate.fixed_bytes + estimate.scratch_bytes,
        );
        let model = Model {
            net: Network {
                file,
                config,
                weights,
                ropes,
                pool,
                kernels,
                meter: ScratchMeter::default(),
            },
            tokenizer,
            context,
            kv_type: options.kv_type,
            prefill_chunk: options.prefill_chunk,
            budget,
            estimate,
            scratch,
            forwarded: AtomicU64::new(0),
            load_time: start.elapsed(),
        };
        log::info!(
            "loaded {} ({} layers, {} context, {} threads) in {:?}",
            path.display(),
            model.net.config.layers.len(),
            context,
            threads,
            model.load_time
        );
        Ok(model)
    }

    pub fn config(&self) -> &Config {
        &self.net.config
    }

    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// Whether `id` ends a generation: end of sequence or end of turn.
    pub fn is_stop_token(&self, id: u32) -> bool {
        self.tokenizer.is_eog(id)
    }

    pub fn context_length(&self) -> usize {
        self.context
    }

    pub fn threads(&self) -> usize {
        self.net.pool.n_threads()
    }

    pub fn load_time(&self) -> Duration {
        self.load_time
    }

    pub fn gguf(&self) -> &Gguf {
        &self.net.file
    }

    /// A new, empty KV cache sized for this model's context, taken from the memory budget.
    pub fn new_cache(&self) -> Result<KvCache> {
        let reservation = self.budget.reserve(self.estimate.kv_cache_bytes)?;
        KvCache::new(
            &self.net.config,
            self.kv_type,
            self.context,
            self.prefill_chunk,
            reservation,
        )
    }

    /// A new cache holding the same tokens as `cache`.
    pub fn clone_cache(&self, cache: &KvCache) -> Result<KvCache> {
        let mut copy = self.new_cache()?;
        copy.copy_from(cache);
        Ok(copy)
    }

    /// The memory this model costs with one chat (see [`Model::estimate_memory`]).
    pub fn memory_estimate(&self) -> &MemoryEstimate {
        &self.estimate
    }

    /// Each kind of scratch: the estimate against the most the passes have held. The estimate
    /// is computed from the sizes the allocating code uses, so a pass that reached every
    /// maximum (a full prefill chunk at the end of the context, then sampling) shows them equal.
    pub fn scratch_use(&self) -> Vec<ScratchUse> {
        let threads = self.threads() as u64;
        Scratch::ALL
            .into_iter()
            .zip(self.scratch)
            .map(|(kind, estimated_bytes)| {
                let held = self.net.meter.high_water(kind);
                ScratchUse {
                    kind: kind.name(),
                    estimated_bytes,
                    high_water_bytes: if kind.per_thread() {
                        threads * held
                    } else {
                        held
                    },
                }
            })
            .collect()
    }

    /// How many tokens have been run through the network since the model loaded.
    pub fn forwarded_tokens(&self) -> u64 {
        self.forwarded.load(Ordering::Relaxed)
    }

    /// Where the passes and the sampler report the scratch they hold.
    pub(crate) fn meter(&self) -> &ScratchMeter {
        &self.net.meter
    }

    /// Anonymous bytes the model and its live caches hold by the budget's count.
    pub fn memory_in_use(&self) -> u64 {
        self.budget.used()
    }

    /// Appends `tokens` to the sequence in `cache` and returns logits (`vocab_size` per row).
    /// Long inputs are prefilled in chunks. Fails, leaving `cache` untouched, on an unknown
    /// token id or when the tokens would not fit in the context.
    pub fn forward(&self, cache: &mut KvCache, tokens: &[u32], logits: Logits) -> Result<Vec<f32>> {
        let never = CancelToken::new();
        let out = self.forward_cancellable(cache, tokens, logits, &never)?;
        Ok(out.expect("a token nobody can cancel"))
    }

    /// [`Model::forward`] that checks `cancel` before each prefill chunk and returns `None`
    /// when it is set; the chunks already run stay in `cache`.
    pub fn forward_cancellable(
        &self,
        cache: &mut KvCache,
        tokens: &[u32],
        logits: Logits,
        cancel: &CancelToken,
    ) -> Result<Option<Vec<f32>>> {
        if tokens.is_empty() {
            return Err(Error::InvalidArgument("no tokens to run".into()));
        }
        let vocab_size = self.net.config.vocab_size;
        if let Some(&id) = tokens.iter().find(|&&id| id as usize >= vocab_size) {
            return Err(Error::InvalidToken { id, vocab_size });
        }
        let needed = cache.len() + tokens.len();
        if needed > cache.context() {
            return Err(Error::ContextFull {
                needed,
                limit: cache.context(),
            });
        }
        let mut activations = self.net.activations(tokens.len().min(self.prefill_chunk))?;
        let mut out = Vec::new();
        let chunks = tokens.chunks(self.prefill_chunk);
        let n_chunks = chunks.len();
        for (i, chunk) in chunks.enumerate() {
            if cancel.is_cancelled() {
                return Ok(None);
            }
            let n_logits = match logits {
                Logits::All => chunk.len(),
                Logits::Last if i + 1 == n_chunks => 1,
                Logits::Last => 0,
            };
            let rows = self
                .net
                .forward_chunk(cache, chunk, n_logits, &mut activations);
            self.forwarded
                .fetch_add(chunk.len() as u64, Ordering::Relaxed);
            if out.is_empty() {
                out = rows;
            } else {
                out.extend_from_slice(&rows);
            }
        }
        Ok(Some(out))
    }
}

/// The context the options ask for, checked against what the model was trained with.
fn checked_context(config: &Config, options: &ModelOptions) -> Result<usize> {
    if !(1..=MAX_PREFILL_CHUNK).contains(&options.prefill_chunk) {
        return Err(Error::out_of_range(
            "prefill_chunk",
            &format!("1 to {MAX_PREFILL_CHUNK}"),
            options.prefill_chunk,
        ));
    }
    let context = match options.context_length {
        Some(0) => {
            return Err(Error::InvalidArgument(
                "context length must be at least 1".into(),
            ))
        }
        Some(n) => n,
        None => config.train_context.min(DEFAULT_CONTEXT),
    };
    if context > config.train_context {
        return Err(Error::InvalidArgument(format!(
            "context length {context} exceeds the {} tokens the model was trained with",
            config.train_context
        )));
    }
    Ok(context)
}

/// The compute threads `options` ask for, or the performance cores.
fn checked_threads(options: &ModelOptions) -> Result<usize> {
    match options.threads {
        Some(n) if (1..=MAX_THREADS).contains(&n) => Ok(n),
        Some(n) => Err(Error::out_of_range(
            "threads",
            &format!("1 to {MAX_THREADS}"),
            n,
        )),
        None => Ok(crate::runtime::cpu::default_threads()),
    }
}

fn cost_model<'a>(
    file: &Gguf,
    config: &'a Config,
    weights: &'a Weights,
    options: &ModelOptions,
    threads: usize,
) -> CostModel<'a> {
    CostModel {
        config,
        weights,
        threads,
        kv_type: options.kv_type,
        prefill_chunk: options.prefill_chunk,
        tokenizer_bytes: CostModel::tokenizer_bytes(file, config.vocab_size),
        // Tensors may overlap in a hostile file, so their sizes' sum is not bounded by its length.
        weights_bytes: file
            .tensors()
            .iter()
            .fold(0, |sum, t| sum.saturating_add(t.size as u64)),
    }
}

/// `context`, or with a budget the largest context up to it that fits (when allowed to
/// shrink); fails when even that does not fit.
fn fit_context(costs: &CostModel, context: usize, options: &ModelOptions) -> Result<usize> {
    let Some(budget) = options.memory_budget else {
        return Ok(context);
    };
    let needed = costs.estimate(context).anonymous_bytes;
    if needed <= budget {
        return Ok(context);
    }
    let refuse = || Error::MemoryBudget {
        needed,
        available: budget,
    };
    if !options.fit_context_to_budget {
        return Err(refuse());
    }
    let fitted = costs.max_context(budget, context).ok_or_else(refuse)?;
    log::info!(
        "context shrunk from {context} to {fitted} tokens to fit a budget of {budget} bytes"
    );
    Ok(fitted)
}
