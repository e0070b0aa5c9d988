#!/usr/bin/env python3
"""How far each fast path strays from exact arithmetic on the same file: GemKit's and llama.cpp's.

    scripts/accuracy.py [--tokens 300] [--models 270m,tiny]

The reference is GemKit's exact path (`gemkit logits --path exact`: f32 activations and KV cache
against the dequantized weights; it matches transformers within 2e-3 on the tiny models). Against
it, for the same token ids, position by position:
  gemkit prefill   `gemkit logits --path fast`: the quantized kernels, f16 KV cache, ids prefilled
                   in chunks as a prompt is
  gemkit decode    `--path decode`: the same kernels one id at a time, as generation runs
  llama prefill    llama.cpp (scripts/build-llama-cpp.sh, default settings: F16 KV, flash
                   attention auto, weights repacked) with every id in one batch
  llama decode     llama.cpp one id at a time (teacher forcing)
Each row gives the RMS and the largest |fast - exact| over every logit of every position, and how
often the fast path's argmax differs from the exact one's. Text: tests/fixtures/accuracy.txt (prose,
a chat turn, code, numbers, French, Japanese, SQL), tokenized by GemKit; the first --tokens ids (or
the model's context). tests/real_model.rs holds the 270M's fast path to its first 160. Prints a markdown table and writes it to
target/accuracy.md. Needs numpy, and llama.cpp's Python driver (see scripts/llama-reference.py).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
GEMKIT = Path(os.environ.get("GEMKIT", REPO / "target" / "release" / "gemkit"))

TEXT = (REPO / "tests" / "fixtures" / "accuracy.txt").read_text()


def gemkit(*args: str) -> dict:
    out = subprocess.run([str(GEMKIT), *args, "--json"], check=True, stdout=subprocess.PIPE).stdout
    return json.loads(out)


def gemkit_logits(model: Path, ids: list[int], path: str) -> np.ndarray:
    rows = gemkit("logits", "--model", str(model), "--ids", ",".join(map(str, ids)), "--path", path)
    return np.asarray(rows["logits"], dtype=np.float64)


def llama_reference():
    spec = importlib.util.spec_from_file_location("llama_reference", REPO / "scripts" / "llama-reference.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def llama_logits(ref, model: Path, ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
    m = ref.LlamaModel(model)
    ctx = ref.LlamaContext(m, n_ctx=max(64, len(ids)))
    prefill = ctx.logits_all(ids).astype(np.float64)
    ctx.reset()
    decode = np.stack([ctx.decode([t], i, [True])[0] for i, t in enumerate(ids)]).astype(np.float64)
    ctx.close()
    return prefill, decode


def compare(fast: np.ndarray, exact: np.ndarray) -> tuple[float, float, float]:
    d = fast - exact
    flips = float(np.mean(fast.argmax(axis=1) != exact.argmax(axis=1)))
    return float(np.sqrt(np.mean(d * d))), float(np.abs(d).max()), flips


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=300)
    ap.add_argument("--models", default="270m,tiny")
    args = ap.parse_args()
    models = []
    if "270m" in args.models:
        real = subprocess.run([str(REPO / "scripts" / "fetch-model.sh")], check=True,
                              stdout=subprocess.PIPE, text=True).stdout.strip()
        models.append(("Gemma 3 270M Q4_K_M", Path(real)))
    if "tiny" in args.models:
        for family in ("gemma", "gemma2", "gemma3"):
            models.append((f"tiny {family} Q8_0", REPO / "tests" / "fixtures" / "tiny" / f"{family}-q8_0.gguf"))
    ref = llama_reference()
    lines = [f"CPU: {cpu_model()}; {args.tokens} positions of varied text per model; "
             "RMS / max |fast - exact| over all logits, and argmax flips",
             "",
             "| model | GemKit prefill | GemKit decode | llama.cpp prefill | llama.cpp decode |",
             "|---|---|---|---|---|"]
    for label, path in models:
        context = gemkit("info", "--model", str(path))["train_context"]
        ids = gemkit("tokenize", "--model", str(path), "--text", TEXT)["ids"][: min(args.tokens, context)]
        exact = gemkit_logits(path, ids, "exact")
        cells = [compare(gemkit_logits(path, ids, p), exact) for p in ("fast", "decode")]
        cells += [compare(rows, exact) for rows in llama_logits(ref, path, ids)]
        fmt = lambda c: f"{c[0]:.4f} / {c[1]:.3f} / {100 * c[2]:.1f}%"
        lines.append(f"| {label} ({len(ids)} ids) | " + " | ".join(fmt(c) for c in cells) + " |")
        print(lines[-1], file=sys.stderr)
    table = "\n".join(lines)
    print(table)
    out = REPO / "target" / "accuracy.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(table + "\n")


if __name__ == "__main__":
    main()
