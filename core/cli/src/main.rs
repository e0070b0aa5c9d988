//! `gemkit`: inspect, tokenize, score and generate with a Gemma GGUF file. The commands and
//! their JSON fields are a contract that scripts and benchmarks rely on; keep them stable.
//! Every failure is one line on stderr and exit code 1; `--help` prints usage and exits 0.

mod bench;
mod chat;
mod cli;
mod commands;
mod generation;
mod output;

use std::io::Write;
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};

use crate::cli::{Cli, Command};
use crate::output::{out, out_report, CmdResult};

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
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return parse_failure(&e),
    };
    match std::panic::catch_unwind(|| run(cli)) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(message)) => {
            let _ = std::io::stdout().flush();
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
        Err(_) => ExitCode::from(101),
    }
}

fn run(cli: Cli) -> CmdResult {
    match cli.command {
        Command::Info(args) => commands::info(&args),
        Command::Tokenize(args) => commands::tokenize(&args),
        Command::Logits(args) => commands::logits(&args),
        Command::Generate(args) => commands::generate(&args),
        Command::Chat(args) => chat::chat(&args),
        Command::Bench(args) => out_report(&bench::bench(&args)?, args.json),
    }
}

/// Help and version go to stdout with exit code 0 (so does `gemkit` alone); anything else is
/// one line on stderr and exit code 1, like every other error.
fn parse_failure(e: &clap::Error) -> ExitCode {
    let printed = match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => out(&e.to_string()),
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            out(&Cli::command().render_help().to_string())
        }
        _ => Err(one_line(e)),
    };
    match printed {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// clap's message without its usage and tips, on one line, naming where to find help.
fn one_line(e: &clap::Error) -> String {
    let text = e.to_string();
    let first = text.split("\n\n").next().unwrap_or_default();
    let message = first
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let message = message.strip_prefix("error: ").unwrap_or(&message);
    let command = std::env::args()
        .nth(1)
        .filter(|c| Cli::command().find_subcommand(c).is_some());
    match command {
        Some(c) => format!("{message} (see gemkit {c} --help)"),
        None => format!("{message} (see gemkit --help)"),
    }
}
