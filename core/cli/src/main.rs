//! `gemkit`: inspect, tokenize, score and generate with a Gemma GGUF file. The commands and
//! their JSON fields are a contract that scripts and benchmarks rely on; keep them stable.
//! Every failure is one line on stderr and a non-zero exit.

mod args;
mod bench;
mod chat;
mod commands;
mod generation;
mod output;

use std::io::Write;
use std::process::ExitCode;

const USAGE: &str = "usage: gemkit <command> --model PATH [options]

commands:
  info      --model PATH [--json]
  tokenize  --model PATH --text TEXT [--no-bos] [--json]
  logits    --model PATH --ids 2,651,9 [--json]
  generate  --model PATH --prompt TEXT [--max-tokens N] [--temperature T] [--top-k K]
            [--top-p P] [--seed S] [--threads N] [--ctx N] [--json]
  chat      --model PATH [--system TEXT] [--stop TEXT]... [--max-tokens N] [--temperature T]
            [--seed S] [--ctx N] [--threads N] [--json]
  bench     --model PATH [--prompt-tokens 128] [--gen-tokens 128] [--threads N] [--repeat R] [--warmup 1]
            [--ctx N] [--json]";

fn main() -> ExitCode {
    // A bug must still end as one line, never a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown".into());
        eprintln!("error: internal error: {msg}");
    }));
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.is_empty() || argv[0] == "--help" || argv[0] == "help" {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    match std::panic::catch_unwind(|| commands::run(&argv)) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(message)) => {
            let _ = std::io::stdout().flush();
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
        Err(_) => ExitCode::from(101),
    }
}
