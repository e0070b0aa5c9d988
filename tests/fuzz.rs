//! The bodies of the fuzz targets (`fuzz/`, run by cargo-fuzz) and of the corpus replay in the
//! normal suite (`fuzz_corpus.rs`): one copy of each check. Each takes arbitrary bytes; any
//! error a hostile input can cause is fine as long as it is typed, and the invariants that must
//! hold are asserted, so a panic anywhere is a finding.

use std::path::PathBuf;
use std::sync::OnceLock;

use gemkit::gguf::Gguf;
use gemkit::{
    read_config, CancelToken, ChatOptions, Engine, Error, GenerateOptions, Logits, Model,
    ModelOptions, Role, SamplingParams, Tokenizer,
};

use crate::{fixture, real_model_path};

/// The fuzz targets, by the names of their corpus folders.
pub const TARGETS: [&str; 4] = ["gguf", "tokenizer", "chat", "restore"];

/// Runs target `name` on `data`.
pub fn run(name: &str, data: &[u8]) {
    match name {
        "gguf" => gguf(data),
        "tokenizer" => tokenizer(data),
        "chat" => chat(data),
        "restore" => restore(data),
        other => panic!("no fuzz target {other}"),
    }
}

/// A file of this process for inputs that must be read from a path.
fn scratch_file(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("gemkit-fuzz-{}-{name}", std::process::id()))
}

/// The parser, the config reader, the whole loader and one forward pass of whatever loads.
pub fn gguf(data: &[u8]) {
    let Ok(file) = Gguf::parse(data) else {
        return;
    };
    let Ok(config) = read_config(&file) else {
        return;
    };
    let path = scratch_file("model.gguf");
    std::fs::write(&path, data).expect("writing the scratch file");
    let options = ModelOptions {
        context_length: Some(config.train_context.min(32)),
        threads: Some(1),
        ..ModelOptions::default()
    };
    let estimate = Model::estimate_memory(&path, &options);
    match Model::load(&path, &options) {
        Ok(model) => {
            assert_eq!(Some(model.memory_estimate()), estimate.as_ref().ok());
            let mut cache = model.new_cache().expect("a cache within the estimate");
            let ids = [0, (model.config().vocab_size - 1) as u32];
            model
                .forward(&mut cache, &ids, Logits::All)
                .expect("a pass");
        }
        Err(e) => assert!(
            !matches!(
                e,
                Error::Internal(_) | Error::Open { .. } | Error::Io { .. }
            ),
            "{e:?}"
        ),
    }
}

/// The real model's tokenizer (262k tokens, user-defined HTML and whitespace tokens).
fn real_tokenizer() -> &'static Tokenizer {
    static MODEL: OnceLock<Model> = OnceLock::new();
    let options = ModelOptions {
        context_length: Some(16),
        threads: Some(1),
        ..ModelOptions::default()
    };
    MODEL
        .get_or_init(|| Model::load(&real_model_path(), &options).expect("the real model"))
        .tokenizer()
}

/// The first byte chooses: bit 0 `add_bos`, bit 1 `parse_special`, bit 2 ids (little-endian
/// u32s, some past the vocabulary) instead of text. Text is encoded; either way the ids are
/// decoded at once and streamed one by one, which must give the same text.
pub fn tokenizer(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let tok = real_tokenizer();
    let ids: Vec<u32> = if mode & 4 == 0 {
        let text = String::from_utf8_lossy(rest);
        match tok.encode(&text, mode & 1 != 0, mode & 2 != 0) {
            Ok(ids) => ids,
            Err(gemkit::tokenizer::TokenizerError::TextTooLong(_)) => return,
            Err(e) => panic!("encoding {text:?}: {e}"),
        }
    } else {
        let span = tok.vocab_size() as u32 + 16;
        rest.chunks_exact(4)
            .map(|c| u32::from_le_bytes(c.try_into().unwrap()) % span)
            .collect()
    };
    let whole = tok.decode(&ids);
    tok.decode_special(&ids);
    let mut stream = tok.stream();
    let mut streamed: String = ids.iter().map(|&id| stream.push(id)).collect();
    streamed.push_str(&stream.finish());
    assert_eq!(
        streamed, whole,
        "streamed and whole decodes of {ids:?} differ"
    );
}

/// The tiny Gemma 3 model, loaded once for the chat targets.
fn tiny_engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let options = ModelOptions {
            context_length: Some(64),
            threads: Some(1),
            ..ModelOptions::default()
        };
        Engine::load(&fixture("tiny/gemma3-q8_0.gguf"), &options).expect("the tiny model")
    })
}

fn one_token() -> GenerateOptions {
    GenerateOptions {
        max_tokens: 1,
        sampling: SamplingParams::greedy(),
        ..GenerateOptions::default()
    }
}

/// A chat turn through Gemma's template: up to the first 0xff byte is the system prompt (none
/// without one), the rest the message. A turn that runs is in the history as sent; one that
/// fails (the context is 64 tokens) leaves the history empty.
pub fn chat(data: &[u8]) {
    let (system, message) = match data.iter().position(|&b| b == 0xff) {
        Some(at) => (Some(&data[..at]), &data[at + 1..]),
        None => (None, data),
    };
    let options = ChatOptions {
        system: system.map(|s| String::from_utf8_lossy(s).into_owned()),
        ..ChatOptions::default()
    };
    let message = String::from_utf8_lossy(message);
    let chat = tiny_engine().new_chat(&options).expect("a chat");
    let sent = chat.send(&message, &one_token(), &CancelToken::new(), &mut |_| {});
    let history = chat.history().expect("history");
    match sent {
        Ok(reply) => {
            assert_eq!(history.len(), 2);
            assert_eq!(
                (history[0].role, history[0].text.as_str()),
                (Role::User, &*message)
            );
            assert_eq!(history[1].text, reply.text);
        }
        Err(e) => {
            assert!(
                matches!(e, Error::ContextFull { .. } | Error::Tokenizer(_)),
                "{e:?}"
            );
            assert!(history.is_empty());
        }
    }
}

/// A saved chat restored from arbitrary bytes: refused as an invalid chat file, or restored
/// into a chat whose next turn runs (or finds the context full).
pub fn restore(data: &[u8]) {
    let path = scratch_file("chat.gkchat");
    std::fs::write(&path, data).expect("writing the scratch file");
    let chat = match tiny_engine().restore_chat(&path) {
        Ok(chat) => chat,
        Err(Error::InvalidChatFile { .. }) => return,
        Err(e) => panic!("not an InvalidChatFile: {e:?}"),
    };
    let before = chat.history().expect("history").len();
    match chat.send("Hi", &one_token(), &CancelToken::new(), &mut |_| {}) {
        Ok(_) => assert!(chat.history().unwrap().len() >= 2),
        Err(Error::ContextFull { .. }) => assert_eq!(chat.history().unwrap().len(), before),
        Err(e) => panic!("a restored chat's turn failed: {e:?}"),
    }
}

/// A valid GGUF of `arch` as small as a model gets (8 tokens, width 32, Q8_0 matrices of
/// zeros): a seed the fuzzer can mutate field by field.
pub fn minimal_gguf(arch: &str) -> Vec<u8> {
    fn string(out: &mut Vec<u8>, s: &str) {
        out.extend((s.len() as u64).to_le_bytes());
        out.extend(s.as_bytes());
    }
    fn array(ty: u32, items: &[Vec<u8>]) -> Vec<u8> {
        let mut out = ty.to_le_bytes().to_vec();
        out.extend((items.len() as u64).to_le_bytes());
        items.iter().for_each(|i| out.extend(i));
        out
    }
    let (u32_ty, i32_ty, f32_ty, string_ty, array_ty) = (4u32, 5u32, 6u32, 8u32, 9u32);
    let (mut kv, mut n_kv) = (Vec::new(), 0u64);
    let mut key = |name: &str, ty: u32, value: &[u8]| {
        string(&mut kv, name);
        kv.extend(ty.to_le_bytes());
        kv.extend(value);
        n_kv += 1;
    };
    let mut name = Vec::new();
    string(&mut name, arch);
    key("general.architecture", string_ty, &name);
    let layers = if arch == "gemma" { 1 } else { 2 };
    for (name, v) in [
        ("block_count", layers),
        ("embedding_length", 32),
        ("attention.head_count", 1),
        ("attention.head_count_kv", 1),
        ("attention.key_length", 32),
        ("feed_forward_length", 32),
        ("context_length", 64),
        ("attention.sliding_window", 8),
        // Layer 0 slides, layer 1 is global.
        ("attention.sliding_window_pattern", 2),
    ] {
        key(&format!("{arch}.{name}"), u32_ty, &(v as u32).to_le_bytes());
    }
    let tokens = [
        "<pad>",
        "<eos>",
        "<bos>",
        "<unk>",
        "<start_of_turn>",
        "<end_of_turn>",
        "\u{2581}a",
        "b",
    ];
    let strings: Vec<Vec<u8>> = tokens
        .iter()
        .map(|t| {
            let mut out = Vec::new();
            string(&mut out, t);
            out
        })
        .collect();
    key(
        "tokenizer.ggml.tokens",
        array_ty,
        &array(string_ty, &strings),
    );
    let scores: Vec<Vec<u8>> = (0..8)
        .map(|i| (-(i as f32)).to_le_bytes().to_vec())
        .collect();
    key("tokenizer.ggml.scores", array_ty, &array(f32_ty, &scores));
    // Control (3), unknown (2), user-defined (4) and normal (1) tokens.
    let types: Vec<Vec<u8>> = [3i32, 3, 3, 2, 4, 4, 1, 1]
        .iter()
        .map(|t| t.to_le_bytes().to_vec())
        .collect();
    key(
        "tokenizer.ggml.token_type",
        array_ty,
        &array(i32_ty, &types),
    );
    key("tokenizer.ggml.bos_token_id", u32_ty, &2u32.to_le_bytes());
    key("tokenizer.ggml.eos_token_id", u32_ty, &1u32.to_le_bytes());

    let mut tensors: Vec<(String, Vec<u64>)> = vec![
        ("token_embd.weight".into(), vec![32, 8]),
        ("output_norm.weight".into(), vec![32]),
    ];
    for il in 0..layers {
        let mut vectors = vec!["attn_norm", "ffn_norm"];
        if arch != "gemma" {
            vectors.extend(["post_attention_norm", "post_ffw_norm"]);
        }
        if arch == "gemma3" {
            vectors.extend(["attn_q_norm", "attn_k_norm"]);
        }
        let matrices = [
            "attn_q",
            "attn_k",
            "attn_v",
            "attn_output",
            "ffn_gate",
            "ffn_up",
            "ffn_down",
        ];
        tensors.extend(
            vectors
                .iter()
                .map(|n| (format!("blk.{il}.{n}.weight"), vec![32])),
        );
        tensors.extend(
            matrices
                .iter()
                .map(|n| (format!("blk.{il}.{n}.weight"), vec![32, 32])),
        );
    }
    let (mut infos, mut data_len) = (Vec::new(), 0usize);
    for (name, dims) in &tensors {
        string(&mut infos, name);
        infos.extend((dims.len() as u32).to_le_bytes());
        dims.iter().for_each(|d| infos.extend(d.to_le_bytes()));
        // Vectors F32 (type 0), matrices Q8_0 (type 8: 34 bytes per 32 values).
        let (ty, bytes) = match dims[..] {
            [n] => (0u32, n as usize * 4),
            [cols, rows] => (8u32, (cols * rows) as usize / 32 * 34),
            _ => unreachable!("vectors and matrices only"),
        };
        infos.extend(ty.to_le_bytes());
        infos.extend((data_len as u64).to_le_bytes());
        data_len = (data_len + bytes).div_ceil(32) * 32;
    }
    let mut out = b"GGUF".to_vec();
    out.extend(3u32.to_le_bytes());
    out.extend((tensors.len() as u64).to_le_bytes());
    out.extend(n_kv.to_le_bytes());
    out.extend(kv);
    out.extend(infos);
    out.resize(out.len().div_ceil(32) * 32 + data_len, 0);
    out
}

/// Writes the seed corpus into `dir/<target>/`: a minimal GGUF of each family, texts and ids
/// for the tokenizer and chat targets, and saved chats of the tiny model for the restore target.
pub fn write_seeds(dir: &std::path::Path) {
    let put = |target: &str, name: &str, bytes: &[u8]| {
        let folder = dir.join(target);
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join(name), bytes).unwrap();
    };
    for arch in ["gemma", "gemma2", "gemma3"] {
        let bytes = minimal_gguf(arch);
        let path = scratch_file("seed.gguf");
        std::fs::write(&path, &bytes).unwrap();
        let loads = Model::load(&path, &ModelOptions::default());
        assert!(
            loads.is_ok(),
            "the {arch} seed does not load: {:?}",
            loads.err()
        );
        put("gguf", arch, &bytes);
    }
    let texts: [&[u8]; 5] = [
        b"Hello, world!",
        "  tabs\tand\nnewlines\n\n<b>bold</b> caf\u{e9} \u{1f600} \u{2581}\u{2581}".as_bytes(),
        b"<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n",
        b"\xf0\x9f\x98",
        b"",
    ];
    for (i, text) in texts.iter().enumerate() {
        put(
            "tokenizer",
            &format!("text-{i}"),
            &[&[3u8][..], text].concat(),
        );
        put("chat", &format!("message-{i}"), text);
    }
    put("chat", "system", b"Be brief.\xffWhy is the sky blue?");
    let ids: Vec<u8> = [2u32, 105, 2364, 107, 9259, 236743, 262_143, 300_000]
        .iter()
        .flat_map(|id| id.to_le_bytes())
        .collect();
    put("tokenizer", "ids", &[&[4u8][..], &ids].concat());
    let engine = tiny_engine();
    for (name, system, turns) in [("empty", Some("Be brief."), 0), ("one-turn", None, 1)] {
        let options = ChatOptions {
            system: system.map(Into::into),
            ..ChatOptions::default()
        };
        let chat = engine.new_chat(&options).unwrap();
        for _ in 0..turns {
            chat.send("Hi", &one_token(), &CancelToken::new(), &mut |_| {})
                .unwrap();
        }
        let path = scratch_file("seed.gkchat");
        chat.save(&path).unwrap();
        put("restore", name, &std::fs::read(&path).unwrap());
    }
}
