#!/usr/bin/env python3
"""The requests that the Kotlin and Swift tests repeat, and what the Rust CLI answers, printed as
shell `export` lines: a seeded completion, whose ids and text the bindings must stream exactly,
and the greedy completion of the listener-cost benchmark, which the tests time through their
own listener and through the CLI (GEMKIT_CLI), alternately.

Usage: eval "$(scripts/rust-reference.py path/to/gemkit model.gguf)"
"""
import json
import shlex
import subprocess
import sys

gemkit, model = sys.argv[1:3]
seeded = {"GEMKIT_SEEDED_PROMPT": "My favourite place is", "GEMKIT_SEEDED_SEED": "7",
          "GEMKIT_SEEDED_MAX_TOKENS": "24"}
out = subprocess.run([gemkit, "generate", "--model", model, "--prompt", seeded["GEMKIT_SEEDED_PROMPT"],
                      "--seed", seeded["GEMKIT_SEEDED_SEED"], "--max-tokens", seeded["GEMKIT_SEEDED_MAX_TOKENS"],
                      "--json"], check=True, capture_output=True, text=True).stdout
reply = json.loads(out)
env = {
    "GEMKIT_CLI": gemkit,
    **seeded,
    "GEMKIT_SEEDED_IDS": ",".join(map(str, reply["ids"])),
    "GEMKIT_SEEDED_TEXT": reply["text"],
    "GEMKIT_BENCH_PROMPT": "The history of the city",
    "GEMKIT_BENCH_TOKENS": "128",
}
for name, value in env.items():
    print(f"export {name}={shlex.quote(value)}")
