#!/usr/bin/env python3
"""Reference data from llama.cpp for the real Gemma 3 270M model (GGUF, Q4_K_M).

Writes, under tests/fixtures/gemma3-270m/:
  tokenize.json  llama.cpp token ids for a varied corpus (add_bos / parse_special variants)
  detokenize.json  llama.cpp's text for the ids of that corpus and of literal `▁` markers
  greedy.json    greedy (argmax) continuations of raw-completion prompts, with the top1-top2
                 logit gap at every step, cross-checked with weight repacking on and off
  logits.json    llama.cpp's top-20 (id, logit) at every position of one short prompt

    python3 scripts/llama-reference.py [--model PATH] [--only tokenize,detokenize,greedy,logits]

llama.cpp is the one vendored in the llama-cpp-python sdist, built by scripts/build-llama-cpp.sh
(run automatically; instant when already built). It is driven through the ctypes bindings
(`llama_cpp.llama_cpp`) of the same sdist, imported from the unpacked source tree with
LLAMA_CPP_LIB_PATH pointing at the freshly built libllama.so, so bindings and library always
match. This file also holds that small driver (class LlamaModel / LlamaContext), which
scripts/make-tiny-models.py imports.
"""
from __future__ import annotations

import argparse
import ctypes
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("GEMKIT_CACHE", str(Path.home() / ".cache" / "gemkit")))
DEFAULT_MODEL = CACHE / "gemma-3-270m-q4_k_m.gguf"
OUT_DIR = REPO / "tests" / "fixtures" / "gemma3-270m"

# --------------------------------------------------------------------------------------------
# llama.cpp driver (ctypes, through llama-cpp-python's low-level bindings)
# --------------------------------------------------------------------------------------------

_L = None  # the llama_cpp.llama_cpp module once loaded
_LOG_CB = None  # keep the ctypes callback alive
BUILD_DIR: Path | None = None
SRC_DIR: Path | None = None


def build_llama_cpp() -> Path:
    """Runs scripts/build-llama-cpp.sh (a no-op when built) and returns the build dir."""
    out = subprocess.run(["bash", str(REPO / "scripts" / "build-llama-cpp.sh")], check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    return Path(out.strip().splitlines()[-1])


def load_llama_cpp():
    """Imports llama_cpp.llama_cpp from the sdist next to the build, bound to the built lib."""
    global _L, _LOG_CB, BUILD_DIR, SRC_DIR
    if _L is not None:
        return _L
    BUILD_DIR = build_llama_cpp()
    SRC_DIR = Path((BUILD_DIR / ".gemkit-src").read_text().strip())
    os.environ["LLAMA_CPP_LIB_PATH"] = str(BUILD_DIR / "bin")
    sys.path.insert(0, str(SRC_DIR))
    import llama_cpp.llama_cpp as L  # noqa: E402

    verbose = os.environ.get("GEMKIT_LLAMA_VERBOSE") == "1"

    def _log(level, text, user_data):  # drop llama.cpp's log chatter unless asked for it
        if verbose:
            sys.stderr.write(text.decode("utf-8", "replace"))

    _LOG_CB = L.llama_log_callback(_log)
    L.llama_log_set(_LOG_CB, ctypes.c_void_p())
    L.llama_backend_init()
    _L = L
    return L


def sdist_version() -> str:
    """The sdist version in the sources' dir name: src-<version>."""
    return SRC_DIR.name.removeprefix("src-")


def llama_cpp_info() -> dict:
    """Version facts for the fixtures' provenance."""
    load_llama_cpp()
    info = {"llama_cpp_python_sdist": sdist_version()}
    commit_file = BUILD_DIR / ".gemkit-llama-commit"
    if commit_file.is_file():
        info["llama_cpp_commit"] = commit_file.read_text().strip()
    return info


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def top2_gap(row: np.ndarray) -> float:
    second, first = np.partition(row, -2)[-2:]
    return float(first - second)


class LlamaModel:
    def __init__(self, path: Path | str, repack: bool = True, vocab_only: bool = False):
        L = load_llama_cpp()
        p = L.llama_model_default_params()
        p.n_gpu_layers = 0
        p.use_extra_bufts = repack  # False == llama.cpp's --no-repack
        p.vocab_only = vocab_only
        self.path = str(path)
        self.model = L.llama_model_load_from_file(self.path.encode(), p)
        if not self.model:
            raise RuntimeError(f"llama.cpp failed to load {path}")
        self.vocab = L.llama_model_get_vocab(self.model)
        self.n_vocab = L.llama_vocab_n_tokens(self.vocab)

    def close(self):
        if self.model:
            _L.llama_model_free(self.model)
            self.model = None

    def meta(self, key: str) -> str | None:
        buf = ctypes.create_string_buffer(4096)
        n = _L.llama_model_meta_val_str(self.model, key.encode(), buf, len(buf))
        return None if n < 0 else buf.value.decode("utf-8", "replace")

    def tokenize(self, text: str, add_special: bool, parse_special: bool) -> list[int]:
        data = text.encode("utf-8")
        cap = len(data) + 16
        buf = (_L.llama_token * cap)()
        n = _L.llama_tokenize(self.vocab, data, len(data), buf, cap, add_special, parse_special)
        if n < 0:
            cap = -n
            buf = (_L.llama_token * cap)()
            n = _L.llama_tokenize(self.vocab, data, len(data), buf, cap, add_special, parse_special)
        return list(buf[:n])

    def is_control(self, token: int) -> bool:
        """Control / end-of-generation tokens, plus Gemma's multimodal markers (user-defined)."""
        return (bool(_L.llama_vocab_is_control(self.vocab, token)) or bool(_L.llama_vocab_is_eog(self.vocab, token))
                or self.piece(token) in (b"<start_of_image>", b"<end_of_image>", b"[multimodal]"))

    def piece(self, token: int, special: bool = True) -> bytes:
        buf = ctypes.create_string_buffer(256)
        n = _L.llama_token_to_piece(self.vocab, token, buf, len(buf), 0, special)
        return buf.raw[:n]

    def detokenize(self, ids: list[int], render_special: bool = False) -> str:
        arr = (_L.llama_token * max(1, len(ids)))(*ids)
        cap = 64 + 64 * len(ids)
        buf = ctypes.create_string_buffer(cap)
        n = _L.llama_detokenize(self.vocab, arr, len(ids), buf, cap, False, render_special)
        return buf.raw[:n].decode("utf-8", "replace")


class LlamaContext:
    """One sequence, CPU, deterministic settings.

    kv_f32/flash_attn default to llama.cpp's own defaults (F16 KV cache, flash attention
    'auto'); the tiny-model references use kv_f32=True, flash_attn=False to compare with f32
    transformers.
    """

    def __init__(self, model: LlamaModel, n_ctx: int = 1024, n_batch: int | None = None,
                 kv_f32: bool = False, flash_attn: bool | None = None, n_threads: int = 2):
        L = load_llama_cpp()
        self.model = model
        p = L.llama_context_default_params()
        p.n_ctx = n_ctx
        p.n_batch = n_batch or n_ctx
        p.n_ubatch = n_batch or n_ctx
        p.n_seq_max = 1
        p.n_threads = n_threads
        p.n_threads_batch = n_threads
        if kv_f32:
            p.type_k = L.GGML_TYPE_F32
            p.type_v = L.GGML_TYPE_F32
        if flash_attn is not None:
            p.flash_attn_type = (L.LLAMA_FLASH_ATTN_TYPE_ENABLED if flash_attn
                                 else L.LLAMA_FLASH_ATTN_TYPE_DISABLED)
        self.ctx = L.llama_init_from_model(model.model, p)
        if not self.ctx:
            raise RuntimeError("llama_init_from_model failed")
        self.n_batch = p.n_batch
        self.batch = L.llama_batch_init(self.n_batch, 0, 1)

    def close(self):
        if self.ctx:
            _L.llama_batch_free(self.batch)
            _L.llama_free(self.ctx)
            self.ctx = None

    def reset(self):
        _L.llama_memory_clear(_L.llama_get_memory(self.ctx), True)

    def decode(self, ids: list[int], pos0: int, want_logits: list[bool]) -> list[np.ndarray]:
        assert len(ids) <= self.n_batch
        b = self.batch
        b.n_tokens = len(ids)
        for i, t in enumerate(ids):
            b.token[i] = t
            b.pos[i] = pos0 + i
            b.n_seq_id[i] = 1
            b.seq_id[i][0] = 0
            b.logits[i] = 1 if want_logits[i] else 0
        rc = _L.llama_decode(self.ctx, b)
        if rc != 0:
            raise RuntimeError(f"llama_decode returned {rc}")
        nv = self.model.n_vocab
        rows = []
        for i, w in enumerate(want_logits):
            if w:
                ptr = _L.llama_get_logits_ith(self.ctx, i)
                rows.append(np.ctypeslib.as_array(ptr, shape=(nv,)).copy())
        return rows

    def logits_all(self, ids: list[int]) -> np.ndarray:
        """Logits at every position for one prompt, from a fresh cache, in one batch."""
        self.reset()
        return np.stack(self.decode(ids, 0, [True] * len(ids)))

    def greedy(self, prompt_ids: list[int], n_new: int) -> tuple[list[int], list[float]]:
        """Prompt in one batch, then one token at a time through the KV cache."""
        self.reset()
        row = self.decode(prompt_ids, 0, [False] * (len(prompt_ids) - 1) + [True])[0]
        out, gaps = [], []
        pos = len(prompt_ids)
        for step in range(n_new):
            tok = int(np.argmax(row))
            out.append(tok)
            gaps.append(top2_gap(row))
            if step + 1 < n_new:
                row = self.decode([tok], pos, [True])[0]
                pos += 1
        return out, gaps


# --------------------------------------------------------------------------------------------
# transformers on the dequantized GGUF weights (independent cross-check of llama.cpp)
# --------------------------------------------------------------------------------------------

def vendored_gguf():
    load_llama_cpp()
    p = str(SRC_DIR / "vendor" / "llama.cpp" / "gguf-py")
    if p not in sys.path:
        sys.path.insert(0, p)
    import gguf

    return gguf


def hf_model_from_gguf(path: Path):
    """A float32 transformers Gemma3ForCausalLM holding the GGUF's weights, dequantized with the
    vendored gguf-py; norm weights get llama.cpp's +1 shift undone. This is 'exact f32 math on the
    quantized weights': an engine that dequantizes and computes in f32 should track it closely."""
    import torch
    import transformers

    gguf = vendored_gguf()
    from gguf.quants import dequantize

    r = gguf.GGUFReader(str(path))

    def f(key, default=None):
        return r.fields[key].contents() if key in r.fields else default

    arch = f("general.architecture")
    assert arch == "gemma3", arch
    n_layer = int(f("gemma3.block_count"))
    head_dim = int(f("gemma3.attention.key_length"))
    n_vocab = len(r.fields["tokenizer.ggml.tokens"].data)
    full = {"rope_type": "default", "rope_theta": float(f("gemma3.rope.freq_base", 1e6))}
    if f("gemma3.rope.scaling.type") == "linear":
        full = {"rope_type": "linear", "factor": float(f("gemma3.rope.scaling.factor")), "rope_theta": full["rope_theta"]}
    cfg = transformers.Gemma3TextConfig(
        vocab_size=n_vocab,
        hidden_size=int(f("gemma3.embedding_length")),
        intermediate_size=int(f("gemma3.feed_forward_length")),
        num_hidden_layers=n_layer,
        num_attention_heads=int(f("gemma3.attention.head_count")),
        num_key_value_heads=int(f("gemma3.attention.head_count_kv")),
        head_dim=head_dim,
        query_pre_attn_scalar=head_dim,
        sliding_window=int(f("gemma3.attention.sliding_window")),
        rms_norm_eps=float(f("gemma3.attention.layer_norm_rms_epsilon")),
        max_position_embeddings=int(f("gemma3.context_length")),
        final_logit_softcapping=f("gemma3.final_logit_softcapping"),
        rope_parameters={"full_attention": full,
                         "sliding_attention": {"rope_type": "default",
                                               "rope_theta": float(f("gemma3.rope.freq_base_swa", 10000.0))}},
        tie_word_embeddings=True,
        pad_token_id=0, eos_token_id=1, bos_token_id=2,
    )
    cfg._attn_implementation = "eager"
    with torch.device("meta"):
        model = transformers.Gemma3ForCausalLM(cfg)
    nmap = gguf.get_tensor_name_map(gguf.MODEL_ARCH.GEMMA3, n_layer)
    tensors = {t.name: t for t in r.tensors}
    state = {}
    for name, p in model.named_parameters():
        if name == "lm_head.weight":
            continue
        gname = nmap.get_name(name.removesuffix(".weight")) + ".weight"
        t = tensors[gname]
        a = np.asarray(dequantize(t.data, t.tensor_type), dtype=np.float32).reshape(tuple(p.shape))
        if name.endswith("norm.weight"):
            a = a - np.float32(1.0)  # the converter stored 1 + w
        state[name] = torch.from_numpy(a.copy())
    model = model.to_empty(device="cpu")  # buffers (embed scale, rotary inv_freq) are rebuilt below
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected and set(missing) <= {"lm_head.weight"}, (missing, unexpected)
    model.tie_weights()
    model.model.embed_tokens.embed_scale = torch.tensor(cfg.hidden_size ** 0.5, dtype=torch.float32)
    rot = model.model.rotary_emb
    for layer_type in rot.layer_types:
        fn = rot.compute_default_rope_parameters
        if rot.rope_type[layer_type] != "default":
            fn = transformers.modeling_rope_utils.ROPE_INIT_FUNCTIONS[rot.rope_type[layer_type]]
        inv, _ = fn(cfg, device=torch.device("cpu"), layer_type=layer_type)
        setattr(rot, f"{layer_type}_inv_freq", inv)
        setattr(rot, f"{layer_type}_original_inv_freq", inv.clone())
    return model.eval()


class HFGreedy:
    """Greedy decoding with a transformers model: prompt in one forward, then one token at a time
    through the KV cache (same schedule as LlamaContext.greedy)."""

    def __init__(self, model):
        self.model = model

    def logits_all(self, ids: list[int]) -> np.ndarray:
        import torch

        with torch.no_grad():
            return self.model(input_ids=torch.tensor([ids]), use_cache=False).logits[0].float().numpy()

    def greedy(self, prompt_ids: list[int], n_new: int) -> tuple[list[int], list[float]]:
        import torch

        out, gaps = [], []
        with torch.no_grad():
            res = self.model(input_ids=torch.tensor([prompt_ids]), use_cache=True)
            past = res.past_key_values
            row = res.logits[0, -1].float().numpy()
            for step in range(n_new):
                tok = int(np.argmax(row))
                out.append(tok)
                gaps.append(top2_gap(row))
                if step + 1 < n_new:
                    res = self.model(input_ids=torch.tensor([[tok]]), past_key_values=past, use_cache=True)
                    past = res.past_key_values
                    row = res.logits[0, -1].float().numpy()
        return out, gaps

    def close(self):
        pass


# --------------------------------------------------------------------------------------------
# Gemma 3 270M reference data
# --------------------------------------------------------------------------------------------

def tokenize_corpus() -> list[tuple[str, bool, bool]]:
    """(text, add_bos, parse_special) cases."""
    T, F = True, False
    cases: list[tuple[str, bool, bool]] = [
        # plain English
        ("Hello, world!", T, T),
        ("The quick brown fox jumps over the lazy dog.", T, T),
        ("It's 5 o'clock somewhere, isn't it? \"Yes,\" she said -- and left.", T, T),
        ("Hello, world!", F, T),
        ("", T, T),
        ("", F, T),
        (" ", F, T),
        ("\n", F, T),
        # code
        ("def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n", T, T),
        ("fn main() {\n    let v: Vec<u32> = (1..=10).map(|x| x * x).collect();\n    println!(\"{:?}\", v);\n}\n", T, T),
        ("{\n  \"name\": \"gemkit\",\n  \"version\": [0, 1, 2],\n  \"nested\": {\n    \"ok\": true,\n    \"pi\": 3.14159,\n    \"none\": null\n  }\n}", T, T),
        ("#include <stdio.h>\nint main(void) { printf(\"%d\\n\", 42); return 0; }", F, T),
        # whitespace runs
        ("a  b", F, T),
        ("a   b", F, T),
        ("a    b", F, T),
        ("a       b", F, T),
        ("x" + " " * 8 + "y" + " " * 15 + "z", F, T),
        (" " * 16, F, T),
        (" " * 20 + "end", T, T),
        ("\tindented\n\t\tdouble\tmid\t\t\tend\t", T, T),
        ("line1\nline2\n\nline3\n\n\nline4\n\n\n\n\n\n\n\nline5", T, T),
        ("windows\r\nline\r\n\r\nendings", F, T),
        ("   leading spaces", T, T),
        ("trailing spaces   ", T, T),
        ("  both sides  \n", F, T),
        # accents and combining marks
        ("café naïve résumé über Ärger ñandú São Paulo Crème brûlée", T, T),
        ("e\u0301 vs \u00e9, n\u0303 vs \u00f1, a\u0308\u0301 and Z\u0337\u0321a\u0336l\u0334g\u0335o", T, T),
        # scripts
        ("今日は良い天気ですね。我爱自然语言处理。", T, T),
        ("한국어 텍스트도 있어요", F, T),
        ("مرحبا بالعالم، كيف حالك؟", T, T),
        ("नमस्ते दुनिया, आप कैसे हैं?", T, T),
        ("Привет, мир! Γειά σου κόσμε!", F, T),
        # emoji: plain, ZWJ sequences, skin tones, flags, keycaps
        ("I love 🍕 and 🎉!", T, T),
        ("👨‍👩‍👧‍👦 family, 🧑🏽‍💻 coder, 🏳️‍🌈 flag, 👍🏿", T, T),
        ("🇺🇸🇯🇵🇫🇷🇧🇷 1️⃣ #️⃣", F, T),
        # unusual code points (byte fallback territory)
        ("\u200bzero\u200dwidth\ufeffBOM\u00a0nbsp", T, T),
        ("\U0001d11e \ue000 \U000f0000 \U00020b9f \ufffd \x7f\x01", T, T),
        # control tokens as text
        ("<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n", T, T),
        ("<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n", F, F),
        ("<bos>Hello<eos><pad>", F, T),
        ("<bos>Hello<eos><pad>", T, F),
        ("<bos>", T, T),
        ("<start_of_turn <end_of_turn> <start_of_image> <mask> <unused0>", F, T),
        # HTML-ish (Gemma has user-defined tokens for many tags: <html>, <ul>, <li>, <b>, <h1>, ...),
        # markdown, misc
        ("<div class=\"note\"><p>Fish &amp; chips</p><br/><!-- hi --></div>", T, T),
        ("<html><body><h1>Title</h1><ul><li>one</li></ul><b>bold</b></body></html>", T, T),
        ("<html><body><h1>Title</h1><ul><li>one</li></ul><b>bold</b></body></html>", F, F),
        ("<table><tr><td>1</td></tr></table> <start_of_image>[multimodal]<end_of_image>", F, F),
        ("# Title\n\n- item one\n- item two\n\n**bold** _italic_ `code` [link](https://example.com/a?b=1&c=two#frag)", T, T),
        # numbers
        ("12345678901234567890 3.14159 -42 1e-10 0x1F 1,000,000 2024-01-15T12:34:56Z", T, T),
        ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa !!!!!!!!!! ------------------------------", F, T),
        ("getHTTPResponseCode XMLHttpRequest snake_case_name CONSTANT_VALUE $\\int_0^1 x^2\\,dx = \\frac{1}{3}$", T, T),
    ]
    return cases


def write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(obj, ensure_ascii=False, indent=1)
    path.write_text(text + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(REPO)} ({path.stat().st_size} bytes)", file=sys.stderr)


def make_tokenize(model_path: Path, sha: str) -> None:
    m = LlamaModel(model_path, vocab_only=True)
    cases = []
    for text, add_bos, parse_special in tokenize_corpus():
        ids = m.tokenize(text, add_bos, parse_special)
        cases.append({"text": text, "add_bos": add_bos, "parse_special": parse_special, "ids": ids})
    m.close()
    write_json(OUT_DIR / "tokenize.json", {
        "model_sha256": sha,
        "llama_cpp": llama_cpp_info(),
        "note": "ids from llama_tokenize(vocab, text, add_special=add_bos, parse_special)",
        "cases": cases,
    })


def detokenize_corpus() -> list[str]:
    """Texts whose ids are decoded back: SentencePiece's space marker `▁` (U+2581) written
    literally, alone, in runs and beside spaces (issue 13: it decodes to a space), then the
    tokenize corpus."""
    marker = ["▁", "▁▁", "▁▁▁", "▁" * 16, "a▁b", " ▁ ", "▁hello", "hello▁", "x ▁▁ y", "▁\n▁",
              "<start_of_turn>▁user", "▁<b>▁", "日本▁語"]
    return marker + list(dict.fromkeys(text for text, _, _ in tokenize_corpus()))


def make_detokenize(model_path: Path, sha: str) -> None:
    m = LlamaModel(model_path, vocab_only=True)
    cases = []
    for text in detokenize_corpus():
        ids = m.tokenize(text, False, True)
        cases.append({"text": text, "ids": ids, "detokenized": m.detokenize(ids)})
    m.close()
    write_json(OUT_DIR / "detokenize.json", {
        "model_sha256": sha,
        "llama_cpp": llama_cpp_info(),
        "note": ("ids = llama_tokenize(vocab, text, add_special=false, parse_special=true); "
                 "detokenized = llama_detokenize(vocab, ids, remove_special=false, unparse_special=false)"),
        "cases": cases,
    })


GREEDY_PROMPTS = [
    "The capital of France is",
    "Once upon a time, in a small village by the sea,",
    "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n",
    "The three primary colors are",
    "Water boils at a temperature of",
    "Q: What is the largest planet in our solar system?\nA:",
    "fn main() {\n    println!(\"",
    "1, 2, 3, 4, 5,",
    "The following is a list of fruits:\n1. Apple\n2.",
    "In machine learning, a neural network is",
    "<html>\n<head>\n<title>",
    "Monday, Tuesday, Wednesday,",
    "import numpy as np\n\nx = np.",
    "Dear Sir or Madam,\n\nI am writing to",
    "Le chat est sur",
    "The recipe calls for two cups of flour,",
    "SELECT name, age FROM users WHERE",
    "My favorite season is autumn because",
    "January, February, March,",
    "The first ten prime numbers are 2, 3, 5, 7,",
    "#include <stdio.h>\n\nint main() {\n",
    "Roses are red,\nViolets are blue,",
    "Twinkle, twinkle, little star,",
    "for (int i = 0; i < n; i++) {\n",
    "{\n  \"name\": \"John\",\n  \"age\": 30,\n",
    "Mercury, Venus, Earth, Mars,",
    "class Dog:\n    def __init__(self, name):\n",
    "The Eiffel Tower is located in",
    "H2O is the chemical formula for",
    "<ul>\n  <li>",
    "A, B, C, D, E,",
    "The sun rises in the east and sets in the",
    "Die Hauptstadt von Deutschland ist",
    "10, 20, 30, 40,",
    "import os\nimport sys\nimport",
    "To make a cup of tea, first",
]

# Original text written for this fixture (about 480 Gemma tokens each).
_STORY = (
    "The old lighthouse on the northern cape had not guided a ship in more than forty years, "
    "but the people of the village still climbed the hill every autumn to paint its door. "
    "Nobody remembered exactly when the custom began. Some said it started after the great storm, "
    "when a fishing boat lost its way in the fog and the keeper's daughter lit every lamp in the house "
    "to bring the sailors home. Others insisted it was simply a way to mark the end of the harvest, "
    "a day when the fields were empty and there was finally time to think about something other than work.\n\n"
    "Whatever its origin, the ritual followed the same pattern each year. Early in the morning, the baker "
    "loaded a cart with bread and jars of plum jam. The carpenter brought ladders and brushes, and the "
    "schoolteacher carried a small notebook in which she wrote down the colour chosen for that year. "
    "Children ran ahead along the narrow path, racing each other to the top, while the older residents "
    "walked slowly and stopped often to look back at the harbour below.\n\n"
    "By noon the door had been scraped clean, and the debate about the colour would begin. It was always "
    "the same argument. The fishermen wanted blue, because blue was the colour of the sea and of luck. "
    "The farmers wanted yellow, like wheat in the sun. The children wanted red, because red could be seen "
    "from everywhere, even from the boats far out on the water. In the end the schoolteacher would open "
    "her notebook, read out the colours of the last ten years, and remind everyone that the decision "
    "belonged to the youngest child who had climbed the hill that day.\n\n"
    "This year the youngest child was a quiet boy named Tomas, who had arrived in the village only a few "
    "months earlier with his mother. He had spent most of the walk holding her hand and saying nothing. "
    "When the schoolteacher knelt beside him and asked which colour he wanted, the whole crowd fell silent. "
    "Tomas looked at the door, then at the sea, then at the faces around him. For a long moment he did not "
    "answer. Then he pointed at the sky, where the last clouds of the morning were drifting away, and "
)
LONG_TEXTS = {
    # ends in a counting run, so the 64-token continuation is (nearly) forced
    "story_counting": _STORY + (
        "said one word: blue. The crowd cheered, and the children, as they did every year, counted the "
        "brushstrokes out loud: one, two, three, four, five, six, seven, eight,"
    ),
    # open-ended natural continuation
    "story_open": _STORY + (
        "said one word that nobody expected. The schoolteacher smiled, wrote it down in her notebook, and "
        "told the carpenter to open the paint. Later, when the door was finished and the children were eating "
        "bread and jam on the grass, Tomas walked over to his mother and"
    ),
}


def run_greedy_case(models: dict, prompt: str, n_new: int, n_ctx: int, min_gap: float = 0.1) -> dict:
    tok_model = models["repack"][0]
    prompt_ids = tok_model.tokenize(prompt, True, False)
    res = {"prompt": prompt, "prompt_ids": prompt_ids}
    runs = {}
    for mode, (m, ctx) in models.items():
        ids, gaps = ctx.greedy(prompt_ids, n_new)
        runs[mode] = (ids, gaps)
    ids, gaps = runs["repack"]
    res["ids"] = ids
    res["text"] = tok_model.detokenize(ids)
    res["gaps"] = [round(g, 4) for g in gaps]
    res["min_gap"] = round(min(gaps), 4)
    res["ids_no_repack"] = runs["no_repack"][0]
    res["gaps_no_repack"] = [round(g, 4) for g in runs["no_repack"][1]]
    res["repack_agrees"] = runs["no_repack"][0] == ids
    # extra robustness check: F32 KV cache, no flash attention (closer to a plain f32 engine)
    res["f32_kv_agrees"] = runs["f32kv"][0] == ids
    res["generates_control"] = any(tok_model.is_control(t) for t in ids)
    if "hf_dequant" in runs:
        res["hf_dequant_agrees"] = runs["hf_dequant"][0] == ids
        res["hf_dequant_ids"] = runs["hf_dequant"][0]
        res["hf_dequant_gaps"] = [round(g, 4) for g in runs["hf_dequant"][1]]
        res["hf_dequant_min_gap"] = round(min(runs["hf_dequant"][1]), 4)
    # number of leading generated tokens that are safe to compare: all modes agree and every gap
    # (in every mode) up to and including that step is >= min_gap
    n_ok = 0
    for i in range(len(ids)):
        if any(runs[m][1][i] < min_gap or runs[m][0][i] != ids[i] for m in runs):
            break
        n_ok += 1
    res["agree_prefix_len"] = n_ok
    if not res["f32_kv_agrees"]:
        res["ids_f32_kv"] = runs["f32kv"][0]
    return res


def passes(r: dict, min_gap: float) -> bool:
    return bool(r["repack_agrees"] and r["f32_kv_agrees"] and r.get("hf_dequant_agrees", True)
                and r["min_gap"] >= min_gap and r.get("hf_dequant_min_gap", min_gap) >= min_gap
                and not r["generates_control"])


def make_greedy(model_path: Path, sha: str, n_new: int = 24, n_new_long: int = 64,
                min_gap: float = 0.1, hf_check: bool = True) -> None:
    n_ctx = 1024
    models = {}
    for mode, repack, kv_f32, fa in [("repack", True, False, None), ("no_repack", False, False, None),
                                     ("f32kv", True, True, False)]:
        m = LlamaModel(model_path, repack=repack)
        models[mode] = (m, LlamaContext(m, n_ctx=n_ctx, kv_f32=kv_f32, flash_attn=fa))
    if hf_check:
        models["hf_dequant"] = (None, HFGreedy(hf_model_from_gguf(model_path)))

    kept, rejected = [], []
    for prompt in GREEDY_PROMPTS:
        r = run_greedy_case(models, prompt, n_new, n_ctx, min_gap)
        ok = passes(r, min_gap)
        print(f"[greedy] {'KEEP' if ok else 'drop'} min_gap={r['min_gap']:.4f} repack_agrees={r['repack_agrees']} "
              f"f32kv_agrees={r['f32_kv_agrees']} hf_agrees={r.get('hf_dequant_agrees')} "
              f"hf_min_gap={r.get('hf_dequant_min_gap')} control={r['generates_control']} {prompt!r} -> {r['text']!r}", file=sys.stderr)
        (kept if ok else rejected).append(r)

    long_runs = []
    for key, text in LONG_TEXTS.items():
        r = run_greedy_case(models, text, n_new_long, n_ctx, min_gap)
        r["name"] = key
        r["n_prompt"] = len(r["prompt_ids"])
        r["n_total"] = r["n_prompt"] + n_new_long
        r["passes_filter"] = passes(r, min_gap)
        print(f"[greedy] long {key}: prompt={r['n_prompt']} total={r['n_total']} min_gap={r['min_gap']} "
              f"repack_agrees={r['repack_agrees']} f32kv_agrees={r['f32_kv_agrees']} "
              f"hf_agrees={r.get('hf_dequant_agrees')} hf_min_gap={r.get('hf_dequant_min_gap')} "
              f"agree_prefix={r['agree_prefix_len']} -> {r['text']!r}", file=sys.stderr)
        long_runs.append(r)
    # the committed "long" case: the first that passes the filter, else the longest reliable prefix
    passing = [r for r in long_runs if r["passes_filter"]]
    long = passing[0] if passing else max(long_runs, key=lambda r: r["agree_prefix_len"])

    swa = models["repack"][0].meta("gemma3.attention.sliding_window")
    for m, ctx in models.values():
        ctx.close()
        if m is not None:
            m.close()

    write_json(OUT_DIR / "greedy.json", {
        "model_sha256": sha,
        "llama_cpp": llama_cpp_info(),
        "n_ctx": n_ctx,
        "sliding_window": int(swa) if swa else None,
        "settings": ("bos added, prompt tokenized with parse_special=false, whole prompt in one batch "
                     "(n_batch=n_ubatch=n_ctx), then one token per decode; argmax, ties -> lowest id; "
                     "llama.cpp default context (F16 KV cache, flash_attn auto), 2 threads. 'ids'/'gaps' are with "
                     "weight repacking on (default), 'ids_no_repack'/'gaps_no_repack' with use_extra_bufts=false; "
                     "f32_kv_agrees: same ids with F32 KV cache and flash attention off; hf_dequant_*: transformers "
                     "(float32, eager) on the GGUF weights dequantized with gguf-py, i.e. exact f32 math with no "
                     "activation quantization. A case is kept only if all four runs give the same ids, the gap is "
                     ">= min_gap_filter at every step in both the llama.cpp (repack) and the transformers run, and "
                     "no control token is generated. agree_prefix_len: leading steps where all runs agree with every "
                     "gap >= min_gap_filter."),
        "min_gap_filter": min_gap,
        "cases": kept,
        "rejected": [{k: r.get(k) for k in ("prompt", "min_gap", "hf_dequant_min_gap", "repack_agrees", "f32_kv_agrees",
                                            "hf_dequant_agrees", "generates_control", "agree_prefix_len", "text")}
                     for r in rejected],
        "long": long,
        "long_candidates": [{k: r.get(k) for k in ("name", "n_prompt", "n_total", "min_gap", "hf_dequant_min_gap",
                                                    "repack_agrees", "f32_kv_agrees", "hf_dequant_agrees",
                                                    "passes_filter", "agree_prefix_len", "text")}
                            for r in long_runs],
        "other_long": [r for r in long_runs if r is not long],
    })


def make_logits(model_path: Path, sha: str, prompt: str = "The quick brown fox jumps over the lazy dog because it",
                top_k: int = 20, hf_check: bool = True) -> None:
    m = LlamaModel(model_path, repack=True)
    ctx = LlamaContext(m, n_ctx=256)
    ids = m.tokenize(prompt, True, False)
    logits = ctx.logits_all(ids)
    ctx.close()
    m.close()

    def top_rows(lg):
        out = []
        for row in lg:
            top = np.argsort(-row, kind="stable")[:top_k]
            out.append([[int(t), round(float(row[t]), 5)] for t in top])
        return out

    rows = top_rows(logits)
    hf_rows = top_rows(HFGreedy(hf_model_from_gguf(model_path)).logits_all(ids)) if hf_check else None
    write_json(OUT_DIR / "logits.json", {
        "model_sha256": sha,
        "llama_cpp": llama_cpp_info(),
        "settings": "logits for every position in one batch, llama.cpp default context (F16 KV, flash_attn auto), repack on",
        "prompt": prompt,
        "input_ids": ids,
        "top_k": top_k,
        "top": rows,
        "hf_dequant_top": hf_rows,
        "hf_dequant_note": ("transformers float32 on the dequantized GGUF weights (no activation quantization); "
                            "differs from llama.cpp by up to a few logits because llama.cpp quantizes activations "
                            "to Q8_0/Q8_K for its quantized matmuls"),
    })


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    ap.add_argument("--only", default="tokenize,detokenize,greedy,logits")
    ap.add_argument("--no-hf", action="store_true", help="skip the transformers cross-check on dequantized weights")
    args = ap.parse_args()
    if not args.model.is_file():
        sys.exit(f"model not found: {args.model} (run scripts/fetch-model.sh)")
    sha = sha256_file(args.model)
    load_llama_cpp()
    if not args.no_hf:
        import torch

        torch.set_num_threads(2)
    parts = set(args.only.split(","))
    if "tokenize" in parts:
        make_tokenize(args.model, sha)
    if "detokenize" in parts:
        make_detokenize(args.model, sha)
    if "logits" in parts:
        make_logits(args.model, sha, hf_check=not args.no_hf)
    if "greedy" in parts:
        make_greedy(args.model, sha, hf_check=not args.no_hf)


if __name__ == "__main__":
    main()
