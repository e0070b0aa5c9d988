//! Everything the commands print goes through `out`, which reports a closed stdout as an error
//! instead of panicking. Errors are strings: `main` prints each as one line.

use std::io::Write;

pub type CmdResult = Result<(), String>;

pub fn out(text: &str) -> CmdResult {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush())
        .map_err(|e| format!("writing output: {e}"))
}

pub fn out_json(value: &serde_json::Value) -> CmdResult {
    out(&format!("{value}\n"))
}

pub fn err(e: gemkit::Error) -> String {
    e.to_string()
}

/// A flat report as one JSON object, or as aligned `key value` lines for people.
pub fn out_report(report: &serde_json::Value, json: bool) -> CmdResult {
    if json {
        return out_json(report);
    }
    let mut text = String::new();
    for (key, value) in report.as_object().into_iter().flatten() {
        text.push_str(&format!("{key:<24} {value}\n"));
    }
    out(&text)
}
