//! The CLI's contract: commands, JSON fields, and errors as one line with a non-zero exit.

use std::process::Command;

use gemkit_tests::corrupt::{corruptions, map, mentions, temp_dir};
use gemkit_tests::fixture;

#[test]
fn cli_reports_each_corruption_in_one_line() {
    let m = map(&std::fs::read(fixture("tiny/gemma2-f32.gguf")).expect("fixture"));
    let dir = temp_dir("cli");
    for case in corruptions(&m) {
        let (name, expect) = (&case.name, case.expect.fragment);
        let path = case.image.write(&dir, name);
        let path = path.to_str().unwrap();
        for args in [
            vec!["info", "--model", path],
            vec![
                "generate",
                "--max-tokens",
                "2",
                "--prompt",
                "hi",
                "--model",
                path,
            ],
        ] {
            let stderr = one_line_error(&args);
            assert!(mentions(&stderr, expect), "{name}: {stderr}");
        }
    }
    std::fs::remove_dir_all(dir).ok();
}

/// Runs gemkit expecting exit code 1 and exactly one `error: ` line on stderr; returns it.
fn one_line_error(args: &[&str]) -> String {
    let (code, _, stderr) = gemkit(args);
    assert_eq!(code, Some(1), "{args:?}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
    stderr
}

fn gemkit(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gemkit"))
        .args(args)
        .output()
        .expect("gemkit runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json_of(args: &[&str]) -> serde_json::Value {
    let (code, stdout, stderr) = gemkit(args);
    assert_eq!(code, Some(0), "{args:?}: {stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {stdout}"))
}

#[test]
fn json_outputs_keep_their_fields() {
    let model = fixture("tiny/gemma3-q8_0.gguf");
    let model = model.to_str().unwrap();

    let info = json_of(&["info", "--model", model, "--json"]);
    for key in [
        "architecture",
        "n_layer",
        "n_embd",
        "n_head",
        "n_head_kv",
        "head_dim",
        "n_ff",
        "vocab_size",
        "context_length",
        "quant_types",
        "file_bytes",
        "kv_cache_bytes",
        "rss_anon_bytes",
        "rss_file_bytes",
        "load_ms",
    ] {
        assert!(info.get(key).is_some(), "info lacks {key}: {info}");
    }
    assert_eq!(info["architecture"], "gemma3");

    let with_bos = json_of(&[
        "tokenize",
        "--model",
        model,
        "--text",
        "hello world",
        "--json",
    ]);
    let without = json_of(&[
        "tokenize",
        "--model",
        model,
        "--text",
        "hello world",
        "--no-bos",
        "--json",
    ]);
    let (with_bos, without) = (
        with_bos["ids"].as_array().unwrap(),
        without["ids"].as_array().unwrap(),
    );
    assert_eq!(with_bos[0], 2);
    assert_eq!(&with_bos[1..], &without[..]);

    let logits = json_of(&["logits", "--model", model, "--ids", "2,10,11", "--json"]);
    let rows = logits["logits"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows[0].as_array().unwrap().len(),
        info["vocab_size"].as_u64().unwrap() as usize
    );

    let gen = json_of(&[
        "generate",
        "--model",
        model,
        "--prompt",
        "hello",
        "--max-tokens",
        "5",
        "--temperature",
        "0",
        "--json",
    ]);
    for key in ["prompt_ids", "ids", "text"] {
        assert!(gen.get(key).is_some(), "generate lacks {key}: {gen}");
    }
    for key in [
        "prompt_tokens",
        "generated_tokens",
        "load_ms",
        "ttft_ms",
        "prefill_tok_s",
        "decode_tok_s",
    ] {
        assert!(
            gen["stats"].get(key).is_some(),
            "generate stats lack {key}: {gen}"
        );
    }
    assert!(gen["ids"].as_array().unwrap().len() <= 5);
}

#[test]
fn generate_streams_the_same_text_it_reports() {
    let model = fixture("tiny/gemma2-q8_0.gguf");
    let model = model.to_str().unwrap();
    let args = [
        "generate",
        "--model",
        model,
        "--prompt",
        "a b c",
        "--max-tokens",
        "12",
        "--temperature",
        "0",
    ];
    let (code, streamed, stderr) = gemkit(&args);
    assert_eq!(code, Some(0), "{stderr}");
    let json = json_of(&[&args[..], &["--json"]].concat());
    assert_eq!(
        streamed.trim_end_matches('\n'),
        json["text"].as_str().unwrap()
    );
}

#[test]
fn bad_arguments_are_one_line_errors() {
    let model = fixture("tiny/gemma-f32.gguf");
    let model = model.to_str().unwrap();
    for args in [
        vec!["frobnicate"],
        vec!["help", "frobnicate"],
        vec!["--json"],
        vec!["info"],
        vec!["info", "--model"],
        vec!["info", "--model", "/nonexistent/model.gguf"],
        vec!["info", "--model", model, "--bogus", "1"],
        vec!["logits", "--model", model, "--ids", "2,x"],
        vec!["logits", "--model", model, "--ids", "2,99999"],
        vec![
            "generate",
            "--model",
            model,
            "--prompt",
            "hi",
            "--max-tokens",
            "many",
        ],
        vec!["generate", "--model", model, "--prompt", "hi", "--ctx", "0"],
        vec![
            "generate",
            "--model",
            model,
            "--prompt",
            "hi",
            "--ctx",
            "99999999999",
        ],
        vec![
            "generate",
            "--model",
            model,
            "--prompt",
            "hi",
            "--threads",
            "100000",
        ],
        vec![
            "generate",
            "--model",
            model,
            "--prompt",
            "hi",
            "--max-tokens",
        ],
        vec![
            "generate", "--model", model, "--prompt", "hi", "--seed", "1", "--seed", "2",
        ],
    ] {
        one_line_error(&args);
    }
}

/// Every command and its flags, as the README lists them: the contract `--help` must show.
const COMMANDS: &[(&str, &[&str])] = &[
    ("info", &["--model", "--json"]),
    ("tokenize", &["--model", "--text", "--no-bos", "--json"]),
    (
        "logits",
        &["--model", "--ids", "--path", "--threads", "--json"],
    ),
    (
        "generate",
        &[
            "--model",
            "--prompt",
            "--max-tokens",
            "--temperature",
            "--top-k",
            "--top-p",
            "--seed",
            "--threads",
            "--ctx",
            "--json",
        ],
    ),
    (
        "chat",
        &[
            "--model",
            "--system",
            "--stop",
            "--max-tokens",
            "--temperature",
            "--top-k",
            "--top-p",
            "--seed",
            "--ctx",
            "--threads",
            "--json",
        ],
    ),
    (
        "bench",
        &[
            "--model",
            "--prompt-tokens",
            "--gen-tokens",
            "--threads",
            "--repeat",
            "--warmup",
            "--ctx",
            "--json",
        ],
    ),
];

/// Runs gemkit expecting exit code 0, help on stdout and nothing on stderr; returns stdout.
fn help_of(args: &[&str]) -> String {
    let (code, stdout, stderr) = gemkit(args);
    assert_eq!(code, Some(0), "{args:?}: {stderr}");
    assert!(stderr.is_empty(), "{args:?}: {stderr}");
    stdout
}

#[test]
fn help_of_each_command_lists_its_flags_and_exits_0() {
    for &(command, flags) in COMMANDS {
        for args in [
            vec![command, "--help"],
            vec![command, "-h"],
            vec!["help", command],
            // Help wins over the rest of the line: nothing is loaded, nothing else is required.
            vec![command, "--model", "nonexistent.gguf", "--help"],
        ] {
            let help = help_of(&args);
            assert!(
                help.contains(&format!("Usage: gemkit {command} ")),
                "{args:?}: {help}"
            );
            // Option lines start with the flag (`-h, --help` with its short form first).
            let mut listed: Vec<&str> = help
                .lines()
                .map(|l| l.trim_start())
                .map(|l| l.strip_prefix("-h, ").unwrap_or(l))
                .filter_map(|l| l.split_whitespace().next())
                .filter(|w| w.starts_with("--"))
                .collect();
            listed.sort_unstable();
            listed.dedup();
            let mut expected: Vec<&str> = flags.iter().copied().chain(["--help"]).collect();
            expected.sort_unstable();
            assert_eq!(listed, expected, "{args:?}: {help}");
        }
    }
}

#[test]
fn defaults_in_help_are_the_documented_ones() {
    for (command, flag, default) in [
        ("generate", "--max-tokens", "256"),
        ("chat", "--max-tokens", "256"),
        ("bench", "--prompt-tokens", "128"),
        ("bench", "--gen-tokens", "128"),
        ("bench", "--repeat", "3"),
        ("bench", "--warmup", "1"),
    ] {
        let help = help_of(&[command, "--help"]);
        let line = help
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{flag} ")))
            .unwrap_or_else(|| panic!("{command} --help lacks {flag}: {help}"));
        assert!(
            line.contains(&format!("[default: {default}]")),
            "{command} {flag}: {line}"
        );
    }
}

#[test]
fn top_level_help_lists_the_commands_and_exits_0() {
    for args in [vec!["--help"], vec!["-h"], vec!["help"], vec![]] {
        let help = help_of(&args);
        assert!(help.contains("Usage: gemkit <COMMAND>"), "{args:?}: {help}");
        for &(command, _) in COMMANDS {
            assert!(
                help.lines()
                    .any(|l| l.trim_start().starts_with(&format!("{command} "))),
                "{args:?} lacks {command}: {help}"
            );
        }
    }
}

#[test]
fn chat_prints_one_json_object_per_stdin_line() {
    use std::io::Write;
    use std::process::Stdio;

    let model = gemkit_tests::real_model_path();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gemkit"))
        .args(["chat", "--model", model.to_str().unwrap(), "--json"])
        .args([
            "--system",
            "Be brief.",
            "--temperature",
            "0",
            "--max-tokens",
            "8",
        ])
        .args(["--stop", "never", "--stop", "appears"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("gemkit runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"Hello!\n\nWhat is two plus two?\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let turns: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(turns.len(), 2, "the empty line is not a turn");
    for turn in &turns {
        assert!(
            turn["reply"].is_string() && turn["finish_reason"].is_string(),
            "{turn}"
        );
        for key in [
            "prompt_tokens",
            "context_tokens",
            "generated_tokens",
            "ttft_ms",
            "prefill_tok_s",
            "decode_tok_s",
        ] {
            assert!(
                turn["stats"][key].is_number(),
                "chat stats lack {key}: {turn}"
            );
        }
    }
    // The second turn prefills only its own tokens.
    let context = turns[0]["stats"]["context_tokens"].as_u64().unwrap();
    assert!(turns[1]["stats"]["prompt_tokens"].as_u64().unwrap() < context);
}

#[cfg(unix)]
#[test]
fn ctrl_c_cancels_the_reply_not_the_chat() {
    use std::io::{BufRead, BufReader, Write};
    use std::process::Stdio;

    let model = gemkit_tests::real_model_path();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gemkit"))
        .args(["chat", "--model", model.to_str().unwrap(), "--json"])
        .args(["--temperature", "0", "--max-tokens", "3000"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("gemkit runs");
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // Counting goes on long past the moment of the interrupt; the chat survives each one.
    for message in ["Count from 1 to 1000: 1, 2, 3,\n", "Go on: 4, 5, 6,\n"] {
        stdin.write_all(message.as_bytes()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1500));
        let kill = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(kill.success());
        let turn: serde_json::Value =
            serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
        assert_eq!(turn["finish_reason"], "cancelled", "{turn}");
    }
    drop(stdin);
    assert!(child.wait().unwrap().success());
}
