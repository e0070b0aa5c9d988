#!/usr/bin/env python3
"""Writes a GGUF with Gemma 2B's exact shapes and random weights, for benchmarks.

    scripts/make-gemma2b-gguf.py [--out-dir DIR] [--types q4_0,q4_k_m,q8_0]

prints one path per line: the F16 file, then one file per requested type, made from the F16
file by llama.cpp's own `llama-quantize` (built by scripts/build-llama-cpp.sh). Files are
cached under $GEMKIT_CACHE/bench (default ~/.cache/gemkit/bench) and skipped when present;
each is written as `.part` and renamed when complete. The weights come from a fixed seed, so a
second machine makes the same bytes.

Why random weights: Gemma 2B's real weights sit behind a licence click-through, and speed does
not depend on the values. The shapes do, so they are Gemma 2B's (architecture `gemma`):
n_embd 2048, 18 layers, 8 query heads and 1 KV head of dim 256, n_ff 16384, vocab 256000,
context 8192, tied output (token_embd only). Tensor names and the norm convention are those of
llama.cpp's converter, which stores Gemma's RMSNorm weights with the +1 already added, so the
norms here are 1 + small noise and the matrices normal * 0.02: activations stay finite.

The tokenizer is a SentencePiece-style (`llama`) vocabulary of 256000 pieces that llama.cpp and
GemKit both load: <pad> <eos> <bos> <unk>, the 256 byte tokens, then filler pieces (single
characters, then short letter strings with and without the leading "▁").

Tensors are generated and written one row block at a time (GGUFWriter's header, KV and tensor
info, then the data by hand at the offsets it planned), so memory stays at a few tens of MB.
Needs numpy and gguf-py (taken from the llama.cpp sources that build-llama-cpp.sh unpacks, or
`pip install gguf`).
"""
from __future__ import annotations

import argparse
import itertools
import os
import string
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("GEMKIT_CACHE", str(Path.home() / ".cache" / "gemkit")))
NAME = "gemma-2b-shaped"
SEED = 2024

N_EMBD, N_LAYER, N_HEAD, N_HEAD_KV, HEAD_DIM = 2048, 18, 8, 1, 256
N_FF, N_VOCAB, N_CTX = 16384, 256000, 8192

# llama-quantize's names for the presets, by our lower-case file suffix.
QUANT_TYPES = {"q4_0": "Q4_0", "q4_k_m": "Q4_K_M", "q8_0": "Q8_0", "q4_k_s": "Q4_K_S",
               "q5_k_m": "Q5_K_M", "q6_k": "Q6_K"}


def llama_build_dir() -> Path:
    out = subprocess.run(["bash", str(REPO / "scripts" / "build-llama-cpp.sh")], check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    return Path(out.strip().splitlines()[-1])


def import_gguf(build: Path | None):
    """gguf-py from the same llama.cpp sources as llama-quantize when unpacked, else pip's."""
    if build is not None:
        src = Path((build / ".gemkit-src").read_text().strip())
        vendored = src / "vendor" / "llama.cpp" / "gguf-py"
        if vendored.is_dir():
            sys.path.insert(0, str(vendored))
    import gguf  # noqa: E402
    return gguf


def tensors() -> list[tuple[str, tuple[int, ...]]]:
    """(name, numpy shape = (rows, cols)) in the converter's order; GGUF stores it reversed."""
    out = [("token_embd.weight", (N_VOCAB, N_EMBD))]
    q, kv = N_HEAD * HEAD_DIM, N_HEAD_KV * HEAD_DIM
    for i in range(N_LAYER):
        b = f"blk.{i}."
        out += [
            (b + "attn_norm.weight", (N_EMBD,)),
            (b + "attn_q.weight", (q, N_EMBD)),
            (b + "attn_k.weight", (kv, N_EMBD)),
            (b + "attn_v.weight", (kv, N_EMBD)),
            (b + "attn_output.weight", (N_EMBD, q)),
            (b + "ffn_norm.weight", (N_EMBD,)),
            (b + "ffn_gate.weight", (N_FF, N_EMBD)),
            (b + "ffn_up.weight", (N_FF, N_EMBD)),
            (b + "ffn_down.weight", (N_EMBD, N_FF)),
        ]
    out.append(("output_norm.weight", (N_EMBD,)))
    return out


def is_norm(name: str) -> bool:
    return name.endswith("norm.weight")


def vocabulary(gguf) -> tuple[list[str], list[float], list[int]]:
    T = gguf.TokenType
    tokens = ["<pad>", "<eos>", "<bos>", "<unk>"]
    types = [T.CONTROL, T.CONTROL, T.CONTROL, T.UNKNOWN]
    tokens += [f"<0x{b:02X}>" for b in range(256)]
    types += [T.BYTE] * 256
    n_special = len(tokens)

    def fillers():
        yield "\u2581"
        yield from (c for c in string.printable if c.strip())
        for n in itertools.count(2):
            for letters in itertools.product(string.ascii_lowercase, repeat=n):
                w = "".join(letters)
                yield "\u2581" + w
                yield w

    tokens += list(itertools.islice(fillers(), N_VOCAB - n_special))
    types += [T.NORMAL] * (N_VOCAB - n_special)
    # SentencePiece scores: 0 for special and byte pieces, then falling with the rank.
    scores = [0.0] * n_special + [-float(i) for i in range(N_VOCAB - n_special)]
    assert len(set(tokens)) == N_VOCAB
    return tokens, scores, [int(t) for t in types]


def write_f16(path: Path, gguf) -> None:
    part = path.with_name(path.name + ".part")
    w = gguf.GGUFWriter(str(part), arch="gemma")
    w.add_name("Gemma 2B shaped (random weights)")
    w.add_context_length(N_CTX)
    w.add_embedding_length(N_EMBD)
    w.add_block_count(N_LAYER)
    w.add_feed_forward_length(N_FF)
    w.add_head_count(N_HEAD)
    w.add_head_count_kv(N_HEAD_KV)
    w.add_key_length(HEAD_DIM)
    w.add_value_length(HEAD_DIM)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_rope_freq_base(10000.0)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16)

    tokens, scores, types = vocabulary(gguf)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_pad_token_id(0)
    w.add_eos_token_id(1)
    w.add_bos_token_id(2)
    w.add_unk_token_id(3)
    w.add_add_bos_token(True)
    w.add_add_space_prefix(False)

    plan = tensors()
    for name, shape in plan:
        dtype = np.float32 if is_norm(name) else np.float16
        nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
        w.add_tensor_info(name, shape, np.dtype(dtype), nbytes)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()

    # The data section, as GGUFWriter.write_tensor_data lays it out (each tensor starts at an
    # aligned offset), but filled a row block at a time instead of from one whole array.
    f = w.fout[0]

    def pad(n: int) -> int:
        return (-n) % w.data_alignment

    f.write(bytes(pad(f.tell())))
    total = 0
    for index, (name, shape) in enumerate(plan):
        rng = np.random.default_rng([SEED, index])
        if is_norm(name):
            block = 1.0 + 0.02 * rng.standard_normal(shape, dtype=np.float32)
            block.astype(np.float32).tofile(f)
            nbytes = block.nbytes
        else:
            rows, cols = shape
            step = max(1, (1 << 22) // cols)
            nbytes = 0
            for r in range(0, rows, step):
                n = min(step, rows - r)
                block = (0.02 * rng.standard_normal((n, cols), dtype=np.float32)).astype(np.float16)
                block.tofile(f)
                nbytes += block.nbytes
        f.write(bytes(pad(nbytes)))
        total += nbytes
        if index % 20 == 0:
            print(f"[make-gemma2b-gguf] {index + 1}/{len(plan)} tensors, {total / 2**30:.2f} GiB",
                  file=sys.stderr)
    w.close()
    part.rename(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out-dir", type=Path, default=CACHE / "bench")
    ap.add_argument("--types", default="q4_0,q4_k_m,q8_0",
                    help=f"comma-separated quantizations to make from the F16 file ({', '.join(QUANT_TYPES)}), or ''")
    args = ap.parse_args()
    wanted = [t.strip().lower() for t in args.types.split(",") if t.strip()]
    for t in wanted:
        if t not in QUANT_TYPES:
            ap.error(f"unknown type {t!r}; known: {', '.join(QUANT_TYPES)}")

    args.out_dir.mkdir(parents=True, exist_ok=True)
    f16 = args.out_dir / f"{NAME}-f16.gguf"
    outputs = [(t, args.out_dir / f"{NAME}-{t}.gguf") for t in wanted]
    missing = [p for _, p in outputs if not p.exists()]
    build = llama_build_dir() if missing or not f16.exists() else None

    if not f16.exists():
        print(f"[make-gemma2b-gguf] writing {f16}", file=sys.stderr)
        write_f16(f16, import_gguf(build))
    print(f16)
    for t, path in outputs:
        if not path.exists():
            print(f"[make-gemma2b-gguf] llama-quantize {QUANT_TYPES[t]} -> {path}", file=sys.stderr)
            part = path.with_name(path.name + ".part")
            run = subprocess.run([str(build / "bin" / "llama-quantize"), str(f16), str(part), QUANT_TYPES[t]],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            if run.returncode != 0:
                sys.exit(f"llama-quantize failed:\n{run.stderr[-3000:]}")
            part.rename(path)
        print(path)


if __name__ == "__main__":
    main()
