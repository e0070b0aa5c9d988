//! What `generate` and `chat` share: the options read from their flags, loading the engine, and
//! streaming a reply to stdout.

use std::path::Path;
use std::time::Instant;

use gemkit::{Engine, GenerateOptions, ModelOptions, Reply, SamplingParams};

use crate::args::Args;
use crate::output::{err, out};

/// Runs a generation, writing its text to stdout as it comes when `print` is set. A closed
/// stdout ends the command with an error once the reply is done.
pub fn stream_reply(
    print: bool,
    generate: impl FnOnce(&mut dyn FnMut(&str)) -> Result<Reply, gemkit::Error>,
) -> Result<Reply, String> {
    let mut write_error = None;
    let reply = generate(&mut |piece| {
        if print && write_error.is_none() {
            write_error = out(piece).err();
        }
    })
    .map_err(err)?;
    write_error.map_or(Ok(reply), Err)
}

/// Generation options from the flags shared by `generate` and `chat`.
pub fn generate_options(args: &Args) -> Result<GenerateOptions, String> {
    let defaults = SamplingParams::default();
    Ok(GenerateOptions {
        max_tokens: args.get("max-tokens", 256)?,
        sampling: SamplingParams {
            temperature: args.get("temperature", defaults.temperature)?,
            top_k: args.get("top-k", defaults.top_k)?,
            top_p: args.get("top-p", defaults.top_p)?,
            seed: args.get("seed", defaults.seed)?,
            ..defaults
        },
        stop: args.all("stop").to_vec(),
        ..GenerateOptions::default()
    })
}

/// Loads the model for `generate` and `chat`; returns it with the load time in ms.
pub fn load_engine(args: &Args) -> Result<(Engine, f64), String> {
    let options = ModelOptions {
        context_length: args.opt("ctx")?,
        threads: args.opt("threads")?,
        ..ModelOptions::default()
    };
    let start = Instant::now();
    let engine = Engine::load(Path::new(args.required("model")?), &options).map_err(err)?;
    Ok((engine, start.elapsed().as_secs_f64() * 1e3))
}
