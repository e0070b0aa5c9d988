//! The command line, declared with clap: the commands, their flags, defaults and help. The
//! names, defaults and JSON switches are a contract (README, "The CLI"); keep them stable.
//!
//! Every flag's value is taken as given, even when it starts with `-` (`--prompt "-x"`,
//! `--temperature -1`), as the hand-written parser before clap did; a flag given twice is an
//! error, except the switches and `--stop`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use gemkit::SamplingParams;

/// Inspect, tokenize, score and generate with a Gemma GGUF file.
#[derive(Debug, Parser)]
#[command(name = "gemkit", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Architecture, sizes, quant types and memory of a model
    Info(InfoArgs),
    /// Text to token ids
    Tokenize(TokenizeArgs),
    /// The logits of every position: the f32 reference path, or the fast one (--path)
    Logits(LogitsArgs),
    /// Streams a raw completion of a prompt (no chat template)
    Generate(GenerateArgs),
    /// A conversation with Gemma's chat template; each line is a user turn, Ctrl-C stops a reply
    Chat(ChatArgs),
    /// Prefill and decode speed, time to first token, load time and memory
    Bench(BenchArgs),
}

/// How `generate` and `chat` load the model.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Tokens of context [default: the training context, at most 4096]
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub ctx: Option<usize>,
    /// Compute threads [default: the performance cores]
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub threads: Option<usize>,
}

/// How `generate` and `chat` pick tokens; the defaults are the library's.
#[derive(Debug, Args)]
pub struct SamplingArgs {
    /// Most tokens to generate
    #[arg(
        long,
        value_name = "N",
        default_value_t = 256,
        allow_hyphen_values = true
    )]
    pub max_tokens: usize,
    /// Sampling temperature; 0 is greedy
    #[arg(long, value_name = "T", default_value_t = SamplingParams::default().temperature,
          allow_hyphen_values = true)]
    pub temperature: f32,
    /// Sample from the K most likely tokens only
    #[arg(long, value_name = "K", default_value_t = SamplingParams::default().top_k,
          allow_hyphen_values = true)]
    pub top_k: usize,
    /// Sample from the most likely tokens that make up probability P
    #[arg(long, value_name = "P", default_value_t = SamplingParams::default().top_p,
          allow_hyphen_values = true)]
    pub top_p: f32,
    /// Random seed
    #[arg(long, value_name = "S", default_value_t = SamplingParams::default().seed,
          allow_hyphen_values = true)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// The GGUF file
    #[arg(long, value_name = "PATH", allow_hyphen_values = true)]
    pub model: PathBuf,
    /// Print one JSON object instead of text
    #[arg(long, overrides_with = "json")]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TokenizeArgs {
    /// The GGUF file
    #[arg(long, value_name = "PATH", allow_hyphen_values = true)]
    pub model: PathBuf,
    /// The text to tokenize; control tokens written in it (`<start_of_turn>`) are parsed
    #[arg(long, value_name = "TEXT", allow_hyphen_values = true)]
    pub text: String,
    /// Do not put the BOS token first
    #[arg(long, overrides_with = "no_bos")]
    pub no_bos: bool,
    /// Print one JSON object instead of text
    #[arg(long, overrides_with = "json")]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LogitsArgs {
    /// The GGUF file
    #[arg(long, value_name = "PATH", allow_hyphen_values = true)]
    pub model: PathBuf,
    /// Token ids, comma-separated: 2,651,9
    #[arg(long, value_name = "IDS", allow_hyphen_values = true)]
    pub ids: String,
    /// Compute threads [default: the performance cores]
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub threads: Option<usize>,
    /// exact: f32 activations and KV cache against dequantized weights (the reference);
    /// fast: the quantized kernels and f16 KV cache, all ids prefilled in chunks as a prompt is;
    /// decode: the same, one id at a time as generation runs
    #[arg(long, value_enum, default_value = "exact")]
    pub path: LogitsPath,
    /// Print one JSON object instead of text
    #[arg(long, overrides_with = "json")]
    pub json: bool,
}

/// How `logits` runs the ids through the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogitsPath {
    Exact,
    Fast,
    Decode,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// The GGUF file
    #[arg(long, value_name = "PATH", allow_hyphen_values = true)]
    pub model: PathBuf,
    /// The text to continue
    #[arg(long, value_name = "TEXT", allow_hyphen_values = true)]
    pub prompt: String,
    #[command(flatten)]
    pub sampling: SamplingArgs,
    #[command(flatten)]
    pub load: LoadArgs,
    /// Print one JSON object instead of text
    #[arg(long, overrides_with = "json")]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ChatArgs {
    /// The GGUF file
    #[arg(long, value_name = "PATH", allow_hyphen_values = true)]
    pub model: PathBuf,
    /// The system prompt
    #[arg(long, value_name = "TEXT", allow_hyphen_values = true)]
    pub system: Option<String>,
    /// End a reply at this text (may be given several times)
    #[arg(long, value_name = "TEXT", allow_hyphen_values = true)]
    pub stop: Vec<String>,
    #[command(flatten)]
    pub sampling: SamplingArgs,
    #[command(flatten)]
    pub load: LoadArgs,
    /// Print one JSON object instead of text
    #[arg(long, overrides_with = "json")]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The GGUF file
    #[arg(long, value_name = "PATH", allow_hyphen_values = true)]
    pub model: PathBuf,
    /// Tokens in the prompt
    #[arg(
        long,
        value_name = "N",
        default_value_t = 128,
        allow_hyphen_values = true
    )]
    pub prompt_tokens: usize,
    /// Tokens to generate after it
    #[arg(
        long,
        value_name = "N",
        default_value_t = 128,
        allow_hyphen_values = true
    )]
    pub gen_tokens: usize,
    /// Compute threads [default: the performance cores]
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub threads: Option<usize>,
    /// Timed runs; the report gives their median
    #[arg(
        long,
        value_name = "R",
        default_value_t = 3,
        allow_hyphen_values = true
    )]
    pub repeat: usize,
    /// Untimed runs first (the page faults of freshly mapped weights are a load cost)
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1,
        allow_hyphen_values = true
    )]
    pub warmup: usize,
    /// Tokens of context [default: prompt + generated tokens]
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub ctx: Option<usize>,
    /// Print one JSON object instead of text
    #[arg(long, overrides_with = "json")]
    pub json: bool,
}
