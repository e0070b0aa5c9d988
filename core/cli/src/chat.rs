//! `gemkit chat`: a conversation on the terminal. With a TTY it prompts; otherwise each line
//! of stdin is one user turn. Ctrl-C cancels the reply in progress, not the program.

use std::io::{BufRead, IsTerminal};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gemkit::{CancelToken, ChatOptions};
use serde_json::json;

use crate::cli::ChatArgs;
use crate::generation::{generate_options, load_engine, stream_reply};
use crate::output::{err, out, out_json, CmdResult};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

#[cfg(unix)]
fn catch_ctrl_c() {
    extern "C" fn on_sigint(_: std::ffi::c_int) {
        INTERRUPTED.store(true, Ordering::Release);
    }
    extern "C" {
        fn signal(signum: std::ffi::c_int, handler: extern "C" fn(std::ffi::c_int)) -> usize;
    }
    const SIGINT: std::ffi::c_int = 2;
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        signal(SIGINT, on_sigint);
    }
}

#[cfg(not(unix))]
fn catch_ctrl_c() {}

/// Cancels the reply in progress whenever Ctrl-C arrives.
fn watch_ctrl_c(current: Arc<Mutex<CancelToken>>) {
    catch_ctrl_c();
    std::thread::spawn(move || loop {
        std::thread::sleep(Duration::from_millis(20));
        if INTERRUPTED.swap(false, Ordering::AcqRel) {
            current.lock().unwrap_or_else(|e| e.into_inner()).cancel();
        }
    });
}

pub fn chat(args: &ChatArgs) -> CmdResult {
    let options = generate_options(&args.sampling, &args.stop);
    let json_mode = args.json;
    let (engine, _) = load_engine(&args.model, &args.load)?;
    let chat = engine
        .new_chat(&ChatOptions {
            system: args.system.clone(),
            ..ChatOptions::default()
        })
        .map_err(err)?;
    let current = Arc::new(Mutex::new(CancelToken::new()));
    watch_ctrl_c(Arc::clone(&current));

    let stdin = std::io::stdin();
    let interactive = stdin.is_terminal();
    if interactive {
        out("Chat with the model. Ctrl-C stops a reply, Ctrl-D ends.\n> ")?;
    }
    for line in stdin.lock().lines() {
        let line = line.map_err(|e| format!("reading stdin: {e}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let cancel = CancelToken::new();
        *current.lock().unwrap_or_else(|e| e.into_inner()) = cancel.clone();
        let reply = stream_reply(!json_mode, |on_text| {
            chat.send(&line, &options, &cancel, on_text)
        })?;
        if json_mode {
            let s = &reply.stats;
            out_json(&json!({
                "reply": reply.text,
                "finish_reason": reply.finish_reason.as_str(),
                "stats": {
                    "prompt_tokens": s.prompt_tokens,
                    "context_tokens": s.context_tokens,
                    "generated_tokens": s.generated_tokens,
                    "ttft_ms": s.ttft_ms,
                    "prefill_tok_s": s.prefill_tok_s,
                    "decode_tok_s": s.decode_tok_s,
                }
            }))?;
        } else {
            out("\n")?;
        }
        if interactive {
            out("> ")?;
        }
    }
    Ok(())
}
