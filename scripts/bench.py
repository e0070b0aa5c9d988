#!/usr/bin/env python3
"""`make bench`: GemKit against llama.cpp on the same GGUF files, run alternately on this machine.

    make bench                                        # all models, THREADS="1 2", REPEAT=3
    THREADS=2 REPEAT=1 MODELS="270m-q4_k_m" make bench

Prints one table (and writes it as markdown to target/bench/bench.md, raw samples to
target/bench/bench.json): for each model and thread count, GemKit's value, llama.cpp's, the
ratio GemKit / llama.cpp and the target, for
  decode tok/s      128 single-token steps from an empty context (llama-bench tg128; gemkit bench
                    --prompt-tokens 1 --gen-tokens 129, whose 128 decode steps are the same work)
  decode @ d2048    the 270M only: 64 single-token steps with 2,048 tokens already in the cache, where
                    attention weighs on a small model's step (llama-bench -p 0 -n 64 -d 2048; gemkit
                    bench --ctx 2112 --prompt-tokens 2048 --gen-tokens 65, prefill untimed for this)
  prefill tok/s     128- and 512-token prompts in one batch (llama-bench pp128, pp512; gemkit bench
                    --prompt-tokens 128 / 512 --gen-tokens 0)
  load ms           GemKit: `load_ms` from gemkit bench (Model::load + new_cache). llama.cpp:
                    llama_model_load_from_file + llama_init_from_model in a fresh process, timed by
                    this script through llama-cpp-python's ctypes bindings of the same build (its own
                    "load time" counter runs until the first decode, so it is not comparable)
  RssAnon, RssFile  GemKit's peaks over all its runs, from /proc/self/status, at the model's context
                    (2048 for the 2B-shaped files, 512 for the 270M). llama-bench reports no memory.
Targets: decode >= 1.2x (at depth 2048 too), prefill >= 1.0x, load <= 1.0x, RssAnon <= 100 MB (2B Q4_0, ctx 2048) and
<= 48 MB (270M, ctx 512).

Models (MODELS, space-separated; default all): 2b-q4_0 2b-q4_k_m 2b-q8_0 are Gemma-2B-shaped random
weights made by scripts/make-gemma2b-gguf.py (F16, then llama-quantize); 270m-q4_k_m is the real
Gemma 3 270M from scripts/fetch-model.sh. llama.cpp comes from scripts/build-llama-cpp.sh (the
llama-cpp-python sdist on PyPI). All are cached under ~/.cache/gemkit after the first run.

Method: for each of REPEAT rounds, for each model (its file read once so the page cache is warm)
and thread count, llama-bench (-p 128,512 -n 128 -r 1, with its usual warmup) and the three
gemkit bench runs alternate, the engine that goes first swapping every round; the table shows
medians over rounds. Each gemkit run has one untimed warm-up pass (--warmup 1), as
llama-bench has: it pays for the page faults of the freshly mapped weights. Other load on the
machine skews all of this; the header records the load average.

Environment: THREADS (default "1 2"), REPEAT (3), MODELS (all), GEMKIT (the binary; default
$CARGO_TARGET_DIR/release/gemkit or target/release/gemkit), GEMKIT_CACHE (~/.cache/gemkit).
Python standard library only, except the llama.cpp load timing, which runs in a subprocess
(`bench.py --llama-load-ms`) through scripts/llama-reference.py's driver (numpy, typing_extensions).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("GEMKIT_CACHE", str(Path.home() / ".cache" / "gemkit")))
OUT = REPO / "target" / "bench"
PROMPTS = (128, 512)
GEN = 128
DEPTH_GEN = 64


@dataclass
class Model:
    key: str
    label: str
    ctx: int
    rss_anon_target_mb: float | None
    quant: str | None  # the 2B-shaped file's type for make-gemma2b-gguf.py; None for the 270M
    depth: int | None = None  # also decode DEPTH_GEN tokens after this many (a long chat)
    path: Path | None = None


MODELS = {
    m.key: m
    for m in [
        Model("2b-q4_0", "2B-shaped Q4_0", 2048, 100.0, "q4_0"),
        Model("2b-q4_k_m", "2B-shaped Q4_K_M", 2048, None, "q4_k_m"),
        Model("2b-q8_0", "2B-shaped Q8_0", 2048, None, "q8_0"),
        Model("270m-q4_k_m", "Gemma 3 270M Q4_K_M", 512, 48.0, None, depth=2048),
    ]
}


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def run(cmd: list[str]) -> str:
    """Runs cmd, returns its stdout; on failure shows the tail of its stderr and stops."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        sys.exit(f"[bench] failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr[-4000:]}")
    return p.stdout


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def warm_page_cache(path: Path) -> None:
    with open(path, "rb") as f:
        while f.read(1 << 23):
            pass


# ------------------------------------------------------------------------------------------------
# one run of each engine
# ------------------------------------------------------------------------------------------------

def llama_bench(build: Path, m: Model, threads: int) -> dict[str, float]:
    out = run([str(build / "bin" / "llama-bench"), "-m", str(m.path), "-t", str(threads),
               "-p", ",".join(map(str, PROMPTS)), "-n", str(GEN), "-r", "1", "-o", "json"])
    res = {}
    for t in json.loads(out):
        if t["n_gen"] == 0:
            res[f"pp{t['n_prompt']}"] = statistics.median(t["samples_ts"])
        elif t["n_prompt"] == 0:
            res["decode"] = statistics.median(t["samples_ts"])
    if m.depth:
        out = run([str(build / "bin" / "llama-bench"), "-m", str(m.path), "-t", str(threads),
                   "-p", "0", "-n", str(DEPTH_GEN), "-d", str(m.depth), "-r", "1", "-o", "json"])
        res["decode_deep"] = statistics.median(json.loads(out)[0]["samples_ts"])
    res["load_ms"] = json.loads(run([sys.executable, __file__, "--llama-load-ms", str(m.path),
                                     "--threads", str(threads), "--ctx", str(m.ctx)]))["load_ms"]
    return res


def gemkit_bench(gemkit: Path, m: Model, threads: int) -> dict[str, float | list[float]]:
    def one(prompt: int, gen: int, ctx: int = m.ctx) -> dict:
        return json.loads(run([str(gemkit), "bench", "--model", str(m.path), "--threads", str(threads),
                               "--ctx", str(ctx), "--prompt-tokens", str(prompt),
                               "--gen-tokens", str(gen), "--warmup", "1", "--repeat", "1", "--json"]))

    runs = {"decode": one(1, GEN + 1)} | {f"pp{p}": one(p, 0) for p in PROMPTS}
    res: dict[str, float | list[float]] = {"decode": runs["decode"]["decode_tok_s"]}
    res |= {f"pp{p}": runs[f"pp{p}"]["prefill_tok_s"] for p in PROMPTS}
    if m.depth:
        # Its own context, so it stays out of the memory figures taken at the model's context.
        res["decode_deep"] = one(m.depth, DEPTH_GEN + 1, m.depth + DEPTH_GEN)["decode_tok_s"]
    res["load_ms"] = [r["load_ms"] for r in runs.values()]
    res["rss_anon_mb"] = max(r["rss_anon_mb_peak"] or 0.0 for r in runs.values())
    res["rss_file_mb"] = max(r["rss_file_mb_peak"] or 0.0 for r in runs.values())
    return res


def llama_load_ms(model: Path, threads: int, ctx: int) -> float:
    """llama.cpp's load as an app sees it: model from file, then a context (KV cache, compute
    buffers, repacked weights), with the defaults llama-bench uses. Timed in this process."""
    spec = importlib.util.spec_from_file_location("llama_reference", REPO / "scripts" / "llama-reference.py")
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)
    L = ref.load_llama_cpp()
    mparams = L.llama_model_default_params()
    cparams = L.llama_context_default_params()
    cparams.n_ctx = ctx
    cparams.n_threads = cparams.n_threads_batch = threads
    start = time.perf_counter()
    lm = L.llama_model_load_from_file(str(model).encode(), mparams)
    if not lm:
        sys.exit(f"llama.cpp failed to load {model}")
    lctx = L.llama_init_from_model(lm, cparams)
    if not lctx:
        sys.exit("llama_init_from_model failed")
    ms = (time.perf_counter() - start) * 1e3
    L.llama_free(lctx)
    L.llama_model_free(lm)
    return ms


# ------------------------------------------------------------------------------------------------
# the table
# ------------------------------------------------------------------------------------------------

def fmt(v: float | None, unit: str = "") -> str:
    if v is None:
        return "–"
    digits = 0 if abs(v) >= 100 else 1 if abs(v) >= 10 else 2
    return f"{v:.{digits}f}{unit}"


def median_of(runs: list[dict], key: str) -> float:
    """The median over rounds; a run may hold several values for a key (GemKit's load times)."""
    return statistics.median(v for r in runs for v in (r[key] if isinstance(r[key], list) else [r[key]]))


def rows(models: list[Model], threads: list[int], samples: dict) -> list[list[str]]:
    """One row per metric: model, threads, metric, GemKit, llama.cpp, ratio, target, met."""
    out = []
    for m in models:
        for t in threads:
            g = samples[m.key][str(t)]["gemkit"]
            l = samples[m.key][str(t)]["llama"]
            metrics = [("decode", f"decode tok/s (tg{GEN})", 1.2, True)]
            if m.depth:
                metrics.append(("decode_deep", f"decode tok/s (tg{DEPTH_GEN} @ d{m.depth})", 1.2, True))
            metrics += [("pp128", "prefill tok/s (pp128)", 1.0, True),
                        ("pp512", "prefill tok/s (pp512)", 1.0, True),
                        ("load_ms", "load ms", 1.0, False)]
            for key, name, goal, higher in metrics:
                gv, lv = median_of(g, key), median_of(l, key)
                ratio = gv / lv if lv else None
                met = None if ratio is None else ratio >= goal if higher else ratio <= goal
                out.append([m.label, str(t), name, fmt(gv), fmt(lv), fmt(ratio, "×"),
                            f"{'≥' if higher else '≤'} {goal:.1f}×", {None: "", True: "yes", False: "no"}[met]])
            anon = max(r["rss_anon_mb"] for r in g)
            goal = m.rss_anon_target_mb
            out.append([m.label, str(t), f"RssAnon peak MB (ctx {m.ctx})", fmt(anon), "–", "",
                        f"≤ {goal:.0f} MB" if goal else "", ("yes" if anon <= goal else "no") if goal else ""])
            out.append([m.label, str(t), "RssFile peak MB", fmt(max(r["rss_file_mb"] for r in g)), "–", "", "", ""])
    return out


HEAD = ["model", "threads", "metric", "GemKit", "llama.cpp", "ratio", "target", "met"]
RIGHT = {1, 3, 4, 5}


def text_table(body: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [HEAD] + body) for i in range(len(HEAD))]

    def line(r: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in RIGHT else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()

    return "\n".join([line(HEAD), line(["-" * w for w in widths])] + [line(r) for r in body])


def markdown_table(body: list[list[str]]) -> str:
    sep = ["---:" if i in RIGHT else "---" for i in range(len(HEAD))]
    return "\n".join("| " + " | ".join(r) + " |" for r in [HEAD, sep] + body)


# ------------------------------------------------------------------------------------------------

def main() -> None:
    ap = argparse.ArgumentParser(description="GemKit vs llama.cpp; see the header of this file.")
    ap.add_argument("--llama-load-ms", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--ctx", type=int, default=512, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.llama_load_ms:
        print(json.dumps({"load_ms": llama_load_ms(args.llama_load_ms, args.threads, args.ctx)}))
        return

    threads = [int(t) for t in os.environ.get("THREADS", "1 2").split()]
    repeat = int(os.environ.get("REPEAT", "3"))
    keys = os.environ.get("MODELS", " ".join(MODELS)).split()
    unknown = [k for k in keys if k not in MODELS]
    if unknown or not keys or not threads or repeat < 1:
        sys.exit(f"[bench] MODELS must be some of: {' '.join(MODELS)}; THREADS a list; REPEAT >= 1")
    models = [MODELS[k] for k in keys]
    target_dir = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    gemkit = Path(os.environ.get("GEMKIT", target_dir / "release" / "gemkit"))
    if not gemkit.is_file():
        sys.exit(f"[bench] no gemkit binary at {gemkit}; run `make build` (or set GEMKIT)")

    phases: list[tuple[str, float]] = []
    load_start = loadavg()

    t0 = time.monotonic()
    build = Path(run(["bash", str(REPO / "scripts" / "build-llama-cpp.sh")]).strip().splitlines()[-1])
    phases.append(("llama.cpp build (cached after the first)", time.monotonic() - t0))

    t0 = time.monotonic()
    quants = [m.quant for m in models if m.quant]
    if quants:
        made = run([sys.executable, str(REPO / "scripts" / "make-gemma2b-gguf.py"), "--types", ",".join(quants)])
        by_type = {Path(p).stem.rsplit("-", 1)[-1]: Path(p) for p in made.split()}
        for m in models:
            if m.quant:
                m.path = by_type[m.quant]
    for m in models:
        if not m.quant:
            m.path = Path(run(["bash", str(REPO / "scripts" / "fetch-model.sh")]).strip())
    phases.append(("models (made and cached after the first)", time.monotonic() - t0))

    samples = {m.key: {str(t): {"gemkit": [], "llama": []} for t in threads} for m in models}
    per_model = {m.key: 0.0 for m in models}
    t_measure = time.monotonic()
    for rnd in range(repeat):
        for m in models:
            t_model = time.monotonic()
            warm_page_cache(m.path)
            for t in threads:
                engines = [("llama", lambda: llama_bench(build, m, t)), ("gemkit", lambda: gemkit_bench(gemkit, m, t))]
                for name, fn in engines if rnd % 2 == 0 else reversed(engines):
                    started, avg = time.monotonic(), loadavg()
                    res = fn()
                    samples[m.key][str(t)][name].append(res)
                    shown = "  ".join(f"{k} {fmt(statistics.median(v) if isinstance(v, list) else v)}"
                                      for k, v in res.items())
                    log(f"round {rnd + 1}/{repeat}  {m.key}  threads {t}  {name:6}  {shown}  "
                        f"({time.monotonic() - started:.0f} s, load average {avg})")
            per_model[m.key] += time.monotonic() - t_model
    for m in models:
        phases.append((f"measure {m.key}", per_model[m.key]))
    phases.append(("measure, all models", time.monotonic() - t_measure))

    body = rows(models, threads, samples)
    commit = run(["git", "-C", str(REPO), "describe", "--always", "--dirty"]).strip()
    llama_commit_file = build / ".gemkit-llama-commit"
    llama_commit = llama_commit_file.read_text().strip() if llama_commit_file.is_file() else "?"
    header = (f"{cpu_name()}, {os.cpu_count()} CPUs; load average {load_start} at start, {loadavg()} at end. "
              f"GemKit {commit}; llama.cpp {llama_commit} ({build.name}). "
              f"Medians of {repeat} alternating round(s); ratio = GemKit / llama.cpp; methods in scripts/bench.py.")
    timing = "; ".join(f"{name} {secs:.0f} s" for name, secs in phases)

    print(header)
    print(text_table(body))
    print(f"Time: {timing}")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "bench.md").write_text(f"{header}\n\n{markdown_table(body)}\n\nTime: {timing}\n")
    (OUT / "bench.json").write_text(json.dumps({
        "header": header, "threads": threads, "repeat": repeat,
        "models": {m.key: {"path": str(m.path), "ctx": m.ctx} for m in models},
        "samples": samples, "phases_s": dict(phases)}, indent=1) + "\n")
    log(f"wrote {OUT / 'bench.md'} and {OUT / 'bench.json'}")


if __name__ == "__main__":
    main()
