use super::*;
use std::sync::Arc;

/// A small SentencePiece-like vocabulary: control tokens, 256 byte tokens, then `extra`
/// (text, score, type).
fn vocab(extra: &[(&str, f32, TokenType)]) -> Vocab {
    let mut tokens = vec![];
    let mut scores = vec![];
    let mut types = vec![];
    let mut add = |t: &str, s: f32, ty: TokenType| {
        tokens.push(t.to_string());
        scores.push(s);
        types.push(ty);
    };
    add("<pad>", 0.0, TokenType::Control); // 0
    add("<eos>", 0.0, TokenType::Control); // 1
    add("<bos>", 0.0, TokenType::Control); // 2
    add("<unk>", 0.0, TokenType::Unknown); // 3
    add("<start_of_turn>", 0.0, TokenType::Control); // 4
    add("<end_of_turn>", 0.0, TokenType::Control); // 5
    for b in 0..256 {
        add(&format!("<0x{b:02X}>"), 0.0, TokenType::Byte); // 6..=261
    }
    for &(t, s, ty) in extra {
        add(t, s, ty);
    }
    Vocab {
        tokens,
        scores,
        types,
        bos: Some(2),
        eos: Some(1),
        unk: Some(3),
        pad: Some(0),
        add_bos: true,
        add_eos: false,
        add_space_prefix: false,
    }
}

const N: TokenType = TokenType::Normal;
const U: TokenType = TokenType::UserDefined;

fn byte_id(b: u8) -> u32 {
    6 + b as u32
}

fn tok(extra: &[(&str, f32, TokenType)]) -> Tokenizer {
    Tokenizer::from_vocab(vocab(extra)).unwrap()
}

fn ids_of(t: &Tokenizer, pieces: &[&str]) -> Vec<u32> {
    pieces
        .iter()
        .map(|p| t.id_of(p).unwrap_or_else(|| panic!("no piece {p:?}")))
        .collect()
}

#[test]
fn merges_follow_scores() {
    let base = [("a", -10.0, N), ("b", -10.0, N), ("c", -10.0, N)];
    let mut v = base.to_vec();
    v.extend([("ab", -5.0, N), ("bc", -1.0, N)]);
    let t = tok(&v);
    assert_eq!(
        t.encode("abc", false, false).unwrap(),
        ids_of(&t, &["a", "bc"])
    );

    let mut v = base.to_vec();
    v.extend([("ab", -1.0, N), ("bc", -5.0, N), ("abc", -20.0, N)]);
    let t = tok(&v);
    // ab merges first, then "ab"+"c" forms "abc" even though its score is low.
    assert_eq!(t.encode("abc", false, false).unwrap(), ids_of(&t, &["abc"]));
}

#[test]
fn equal_scores_merge_leftmost_first() {
    let t = tok(&[("a", -10.0, N), ("aa", -1.0, N)]);
    assert_eq!(
        t.encode("aaa", false, false).unwrap(),
        ids_of(&t, &["aa", "a"])
    );
    assert_eq!(
        t.encode("aaaaa", false, false).unwrap(),
        ids_of(&t, &["aa", "aa", "a"])
    );
}

#[test]
fn spaces_become_u2581() {
    let t = tok(&[
        ("▁", -3.0, N),
        ("h", -9.0, N),
        ("i", -9.0, N),
        ("hi", -2.0, N),
        ("▁hi", -1.0, N),
    ]);
    assert_eq!(
        t.encode("hi hi", false, false).unwrap(),
        ids_of(&t, &["hi", "▁hi"])
    );
    assert_eq!(t.decode(&t.encode("hi hi", false, false).unwrap()), "hi hi");
    assert_eq!(
        t.encode("  ", false, false).unwrap(),
        ids_of(&t, &["▁", "▁"])
    );
}

#[test]
fn add_space_prefix_prepends_and_decode_strips() {
    let mut v = vocab(&[
        ("▁", -3.0, N),
        ("h", -9.0, N),
        ("i", -9.0, N),
        ("hi", -2.0, N),
        ("▁hi", -1.0, N),
    ]);
    v.add_space_prefix = true;
    let t = Tokenizer::from_vocab(v).unwrap();
    let ids = t.encode("hi", false, false).unwrap();
    assert_eq!(ids, ids_of(&t, &["▁hi"]));
    assert_eq!(t.decode(&ids), "hi");
    // After a special token the prefix is added again.
    let ids = t.encode("hi<end_of_turn>hi", false, true).unwrap();
    assert_eq!(
        ids,
        vec![t.id_of("▁hi").unwrap(), 5, t.id_of("▁hi").unwrap()]
    );
}

#[test]
fn byte_fallback_for_unknown_characters() {
    let t = tok(&[("a", -1.0, N)]);
    let ids = t.encode("aé", false, false).unwrap();
    assert_eq!(
        ids,
        vec![t.id_of("a").unwrap(), byte_id(0xC3), byte_id(0xA9)]
    );
    assert_eq!(t.decode(&ids), "aé");
    assert_eq!(t.token_bytes(byte_id(0xC3)), Some(&[0xC3u8][..]));
}

#[test]
fn unknown_when_no_byte_tokens() {
    let v = Vocab {
        tokens: vec!["<unk>".into(), "a".into()],
        scores: vec![0.0, -1.0],
        types: vec![TokenType::Unknown, N],
        bos: None,
        eos: None,
        unk: Some(0),
        pad: None,
        add_bos: false,
        add_eos: false,
        add_space_prefix: false,
    };
    let t = Tokenizer::from_vocab(v.clone()).unwrap();
    assert_eq!(t.encode("aéa", false, false).unwrap(), vec![1, 0, 1]);
    // The unknown token is special: only matched literally with parse_special.
    assert_eq!(t.encode("<unk>", false, true).unwrap(), vec![0]);
    assert_eq!(t.decode(&[1, 0, 1]), "aa");

    let t = Tokenizer::from_vocab(Vocab { unk: None, ..v }).unwrap();
    let e = t.encode("aé", false, false).unwrap_err();
    assert!(
        matches!(e, TokenizerError::NoByteFallback { byte: 0xC3 }),
        "{e}"
    );
}

#[test]
fn control_tokens_only_with_parse_special() {
    let t = tok(&[
        ("u", -1.0, N),
        ("s", -1.0, N),
        ("e", -1.0, N),
        ("r", -1.0, N),
        ("us", -0.8, N),
        ("er", -0.9, N),
        ("user", -0.5, N),
    ]);
    assert_eq!(
        t.encode("<start_of_turn>user", false, true).unwrap(),
        vec![4, t.id_of("user").unwrap()]
    );
    let plain = t.encode("<start_of_turn>user", false, false).unwrap();
    assert!(!plain.contains(&4));
    assert_eq!(plain[0], byte_id(b'<'));
    assert_eq!(t.decode(&plain), "<start_of_turn>user");
    // Control tokens decode to nothing, or to their text with decode_special.
    assert_eq!(t.decode(&[4, t.id_of("user").unwrap(), 5]), "user");
    assert_eq!(
        t.decode_special(&[4, t.id_of("user").unwrap(), 5]),
        "<start_of_turn>user<end_of_turn>"
    );
    assert_eq!(t.token_bytes(4), Some(&[][..]));
}

#[test]
fn user_defined_tokens_split_even_without_parse_special() {
    let t = tok(&[
        ("\n", -1.0, U),
        ("\n\n", -1.0, U),
        ("<b>", -1.0, U),
        ("x", -1.0, N),
    ]);
    let nl = t.id_of("\n").unwrap();
    let nl2 = t.id_of("\n\n").unwrap();
    let b = t.id_of("<b>").unwrap();
    let x = t.id_of("x").unwrap();
    assert_eq!(
        t.encode("x\n\n\nx<b>", false, false).unwrap(),
        vec![x, nl2, nl, x, b]
    );
    assert_eq!(
        t.encode("\n\n\n\n\n", false, true).unwrap(),
        vec![nl2, nl2, nl]
    );
    // User-defined tokens decode verbatim.
    assert_eq!(t.decode(&[x, nl2, b]), "x\n\n<b>");
}

#[test]
fn special_partition_is_longest_first_not_leftmost() {
    // llama.cpp takes "bcd" (longer) before "ab", even though "ab" starts earlier.
    let t = tok(&[("a", -1.0, N), ("ab", -1.0, U), ("bcd", -1.0, U)]);
    let ids = t.encode("abcd", false, false).unwrap();
    assert_eq!(ids, vec![t.id_of("a").unwrap(), t.id_of("bcd").unwrap()]);
    // Non-overlapping leftmost occurrences of one token.
    let ab = t.id_of("ab").unwrap();
    assert_eq!(t.encode("ababab", false, false).unwrap(), vec![ab, ab, ab]);
}

#[test]
fn end_of_generation_texts_become_control() {
    // Gemma 3 ships "</s>" as user-defined; llama.cpp promotes it to control.
    let t = tok(&[("</s>", -1.0, U), ("<td>", -1.0, U)]);
    let s = t.id_of("</s>").unwrap();
    assert!(t.is_control(s));
    assert_eq!(t.token_type(s), Some(U));
    assert!(!t.encode("</s>", false, false).unwrap().contains(&s));
    assert_eq!(t.encode("</s>", false, true).unwrap(), vec![s]);
    assert_eq!(t.decode(&[s]), "");
    assert!(t.is_eog(s) && t.is_eog(1) && t.is_eog(5) && !t.is_eog(4));
    assert_eq!(
        t.encode("<td>", false, false).unwrap(),
        vec![t.id_of("<td>").unwrap()]
    );
}

#[test]
fn add_bos_and_eos() {
    let t = tok(&[("a", -1.0, N)]);
    assert_eq!(t.encode("", true, false).unwrap(), vec![2]);
    assert_eq!(t.encode("", false, false).unwrap(), Vec::<u32>::new());
    assert_eq!(
        t.encode("a", true, false).unwrap(),
        vec![2, t.id_of("a").unwrap()]
    );
    let mut v = vocab(&[("a", -1.0, N)]);
    v.add_eos = true;
    let t = Tokenizer::from_vocab(v).unwrap();
    assert_eq!(
        t.encode("a", true, false).unwrap(),
        vec![2, t.id_of("a").unwrap(), 1]
    );
    let mut v = vocab(&[]);
    v.bos = None;
    let t = Tokenizer::from_vocab(v).unwrap();
    assert!(matches!(
        t.encode("a", true, false),
        Err(TokenizerError::MissingSpecial { which: "bos" })
    ));
    assert!(t.encode("a", false, false).is_ok());
}

#[test]
fn inconsistent_vocab_is_an_error() {
    let mut v = vocab(&[]);
    v.types.truncate(10);
    let e = Tokenizer::from_vocab(v).unwrap_err();
    assert_eq!(
        e.to_string(),
        "token_type has 10 entries but tokens has 262"
    );
    let mut v = vocab(&[]);
    v.scores.push(0.0);
    assert!(Tokenizer::from_vocab(v)
        .unwrap_err()
        .to_string()
        .starts_with("scores has 263 entries"));
    let mut v = vocab(&[]);
    v.eos = Some(1000);
    assert_eq!(
        Tokenizer::from_vocab(v).unwrap_err().to_string(),
        "eos token id 1000 is out of range (the vocabulary has 262 tokens)"
    );
    assert!(matches!(
        Tokenizer::from_vocab(Vocab::default()),
        Err(TokenizerError::EmptyVocab)
    ));
    assert!(TokenType::try_from(7).is_err());
    assert_eq!(TokenType::from_gguf(0), TokenType::Unused);
}

#[test]
fn gguf_defaults() {
    let m = GgufVocab {
        tokens: vec!["<unk>".into(), "<s>".into(), "</s>".into()],
        ..Default::default()
    };
    let v = Vocab::from_gguf(m).unwrap();
    assert_eq!(
        (v.bos, v.eos, v.unk, v.pad),
        (Some(1), Some(2), Some(0), None)
    );
    assert!(v.add_bos && !v.add_eos && v.add_space_prefix);
    assert_eq!(v.types, vec![N; 3]);
    let m = GgufVocab {
        tokens: vec!["a".into(), "b".into()],
        scores: Some(vec![0.0]),
        ..Default::default()
    };
    assert_eq!(
        Vocab::from_gguf(m).unwrap_err().to_string(),
        "scores has 1 entries but tokens has 2"
    );
    let m = GgufVocab {
        tokens: vec!["a".into(), "b".into()],
        bos_token_id: Some(9),
        eos_token_id: Some(0),
        ..Default::default()
    };
    let v = Vocab::from_gguf(m).unwrap();
    assert_eq!((v.bos, v.eos, v.unk), (Some(1), Some(0), Some(0)));
}

#[test]
fn text_stream_never_splits_a_character() {
    let t = tok(&[("a", -1.0, N)]);
    let ids = t.encode("a😀a", false, false).unwrap();
    assert_eq!(ids.len(), 6);
    let mut s = t.stream();
    let outs: Vec<String> = ids.iter().map(|&i| s.push(i)).collect();
    assert_eq!(outs, vec!["a", "", "", "", "😀", "a"]);
    assert_eq!(s.finish(), "");

    // Owned variant, incomplete tail flushed lossily.
    let t = Arc::new(t);
    let mut s = TextStream::new(t.clone());
    assert_eq!(s.push(byte_id(0xF0)), "");
    assert_eq!(s.push(byte_id(0x9F)), "");
    assert_eq!(s.pending_bytes(), &[0xF0, 0x9F]);
    assert_eq!(s.finish(), "\u{FFFD}");
}

#[test]
fn text_stream_matches_decode() {
    let t = tok(&[("a", -1.0, N), ("▁b", -1.0, N), ("\n", -1.0, U)]);
    let mut rng = 0x1234_5678_9abc_def0u64;
    for _ in 0..500 {
        let len = (next(&mut rng) % 12) as usize;
        let ids: Vec<u32> = (0..len).map(|_| (next(&mut rng) % 268) as u32).collect();
        let mut s = t.stream();
        let mut out = String::new();
        for &i in &ids {
            out += &s.push(i);
        }
        out += &s.finish();
        assert_eq!(out, t.decode(&ids), "{ids:?}");
    }
}

#[test]
fn never_panics() {
    let t = tok(&[("a", -1.0, N), ("\n\n", -1.0, U), ("▁", -1.0, N)]);
    assert_eq!(t.decode(&[u32::MAX, 999_999, 7]), "\u{1}");
    assert_eq!(t.token_bytes(u32::MAX), None);
    assert_eq!(t.id_of(""), None);
    assert_eq!(t.id_of("nope"), None);
    let big = "a\n\n<start_of_turn>é ".repeat(20_000);
    let ids = t.encode(&big, true, true).unwrap();
    assert_eq!(t.decode(&ids), big.replace("<start_of_turn>", ""));
    let nl = "\n".repeat(100_001);
    assert_eq!(t.encode(&nl, false, false).unwrap().len(), 50_001);
}

fn next(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

/// llama.cpp's partition, transcribed naively: each special token in order, over each raw
/// fragment, taking leftmost occurrences.
fn naive_partition(text: &str, specials: &[(u32, String)]) -> Vec<Fragment> {
    let mut frags = vec![Fragment::Text(0, text.len())];
    for (id, s) in specials {
        let mut next_frags = Vec::new();
        for f in frags {
            match f {
                Fragment::Token(_) => next_frags.push(f),
                Fragment::Text(mut a, b) => {
                    while let Some(p) = text[a..b].find(s.as_str()) {
                        if p > 0 {
                            next_frags.push(Fragment::Text(a, a + p));
                        }
                        next_frags.push(Fragment::Token(*id));
                        a += p + s.len();
                    }
                    if a < b {
                        next_frags.push(Fragment::Text(a, b));
                    }
                }
            }
        }
        frags = next_frags;
    }
    frags
}

#[test]
fn partition_matches_naive_llama_cpp_order() {
    let mut rng = 42u64;
    let alphabet = ['a', 'b', 'c', '\n'];
    for round in 0..300 {
        // Random special tokens of length 1..5 over a tiny alphabet (distinct texts).
        let mut specials: Vec<(u32, String)> = Vec::new();
        let k = 1 + next(&mut rng) % 8;
        for _ in 0..k {
            let len = 1 + next(&mut rng) % 5;
            let s: String = (0..len)
                .map(|_| alphabet[(next(&mut rng) % 4) as usize])
                .collect();
            if !specials.iter().any(|x| x.1 == s) {
                specials.push((0, s));
            }
        }
        let extra: Vec<(&str, f32, TokenType)> =
            specials.iter().map(|s| (s.1.as_str(), -1.0, U)).collect();
        let t = tok(&extra);
        for s in &mut specials {
            s.0 = t.id_of(&s.1).unwrap();
        }
        // llama.cpp's order: longest first; ties by id here.
        specials.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
        let spm = match &t.engine {
            Engine::Spm(s) => s,
            _ => unreachable!(),
        };
        for _ in 0..20 {
            let len = next(&mut rng) % 40;
            let text: String = (0..len)
                .map(|_| alphabet[(next(&mut rng) % 4) as usize])
                .collect();
            let got = spm.specials.partition(text.as_bytes(), false);
            let want = naive_partition(&text, &specials);
            assert_eq!(
                got, want,
                "round {round} text {text:?} specials {specials:?}"
            );
        }
    }
}

/// A Gemma-style tokenizer.json: BPE with byte fallback, spaces as U+2581, `<bos>` added by the
/// post-processor.
fn hf_json() -> String {
    let mut vocab = vec![
        "<pad>".to_string(),
        "<eos>".into(),
        "<bos>".into(),
        "<unk>".into(),
        "<start_of_turn>".into(),
    ];
    vocab.extend((0..256).map(|b| format!("<0x{b:02X}>")));
    vocab.extend(["▁", "h", "i", "hi", "▁hi", "\n"].map(String::from));
    let entries: Vec<String> = vocab
        .iter()
        .enumerate()
        .map(|(i, t)| format!("\"{}\": {i}", t.replace('\n', "\\n")))
        .collect();
    let added = |id: usize, content: &str, special: bool| {
        format!(
            r#"{{"id": {id}, "content": "{content}", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": {special}}}"#
        )
    };
    let added_tokens = [
        added(0, "<pad>", true),
        added(1, "<eos>", true),
        added(2, "<bos>", true),
        added(3, "<unk>", true),
        added(4, "<start_of_turn>", true),
        added(vocab.len() - 1, "\\n", false),
    ]
    .join(", ");
    format!(
        r#"{{
  "version": "1.0",
  "truncation": null,
  "padding": null,
  "added_tokens": [{added_tokens}],
  "normalizer": {{"type": "Replace", "pattern": {{"String": " "}}, "content": "▁"}},
  "pre_tokenizer": null,
  "post_processor": {{
    "type": "TemplateProcessing",
    "single": [{{"SpecialToken": {{"id": "<bos>", "type_id": 0}}}}, {{"Sequence": {{"id": "A", "type_id": 0}}}}],
    "pair": [{{"SpecialToken": {{"id": "<bos>", "type_id": 0}}}}, {{"Sequence": {{"id": "A", "type_id": 0}}}}, {{"Sequence": {{"id": "B", "type_id": 1}}}}],
    "special_tokens": {{"<bos>": {{"id": "<bos>", "ids": [2], "tokens": ["<bos>"]}}}}
  }},
  "decoder": {{"type": "Sequence", "decoders": [
    {{"type": "Replace", "pattern": {{"String": "▁"}}, "content": " "}},
    {{"type": "ByteFallback"}},
    {{"type": "Fuse"}}
  ]}},
  "model": {{
    "type": "BPE", "dropout": null, "unk_token": "<unk>", "continuing_subword_prefix": null,
    "end_of_word_suffix": null, "fuse_unk": true, "byte_fallback": true, "ignore_merges": false,
    "vocab": {{{}}},
    "merges": ["h i", "▁ hi"]
  }}
}}"#,
        entries.join(", ")
    )
}

#[test]
fn tokenizer_json_backend() {
    let dir = std::env::temp_dir().join(format!("gemkit-tok-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("tokenizer.json");
    std::fs::write(&path, hf_json()).unwrap();
    let t = Tokenizer::from_tokenizer_json(&path).unwrap();
    std::fs::remove_dir_all(&dir).ok();

    assert_eq!(t.vocab_size(), 5 + 256 + 6);
    assert_eq!((t.bos(), t.eos()), (Some(2), Some(1)));
    assert!(t.add_bos() && !t.add_eos());
    let hi = t.id_of("hi").unwrap();
    let shi = t.id_of("▁hi").unwrap();
    let nl = t.id_of("\n").unwrap();
    assert_eq!(t.encode("hi hi", true, false).unwrap(), vec![2, hi, shi]);
    assert_eq!(t.encode("hi\nhi", false, false).unwrap(), vec![hi, nl, hi]);
    assert_eq!(
        t.encode("<start_of_turn>hi", false, true).unwrap(),
        vec![4, hi]
    );
    let plain = t.encode("<start_of_turn>hi", false, false).unwrap();
    assert_eq!(plain[0], byte_id(b'<') - 1, "{plain:?}"); // this vocab has one control token fewer before the bytes
    let ids = t.encode("hé hi", false, false).unwrap();
    assert_eq!(t.decode(&ids), "hé hi");
    assert_eq!(t.decode_special(&[4, hi]), "<start_of_turn>hi");
    assert_eq!(t.decode(&[4, hi, 1]), "hi");
    assert!(t.is_eog(1));
    let mut s = t.stream();
    let out: String = ids.iter().map(|&i| s.push(i)).collect();
    assert_eq!(out + &s.finish(), "hé hi");
    assert!(matches!(
        Tokenizer::from_tokenizer_json(Path::new("/nonexistent/tokenizer.json")),
        Err(TokenizerError::Load { .. })
    ));
}
