//! What `generate` and `chat` share: the options read from their flags, loading the engine, and
//! streaming a reply to stdout.

use std::path::Path;
use std::time::Instant;

use gemkit::{Engine, GenerateOptions, ModelOptions, Reply, SamplingParams};

use crate::cli::{LoadArgs, SamplingArgs};
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
pub fn generate_options(s: &SamplingArgs, stop: &[String]) -> GenerateOptions {
    GenerateOptions {
        max_tokens: s.max_tokens,
        sampling: SamplingParams {
            temperature: s.temperature,
            top_k: s.top_k,
            top_p: s.top_p,
            seed: s.seed,
            ..SamplingParams::default()
        },
        stop: stop.to_vec(),
        ..GenerateOptions::default()
    }
}

/// Loads the model for `generate` and `chat`; returns it with the load time in ms.
pub fn load_engine(path: &Path, load: &LoadArgs) -> Result<(Engine, f64), String> {
    let options = ModelOptions {
        context_length: load.ctx,
        threads: load.threads,
        ..ModelOptions::default()
    };
    let start = Instant::now();
    let engine = Engine::load(path, &options).map_err(err)?;
    Ok((engine, start.elapsed().as_secs_f64() * 1e3))
}
