#!/usr/bin/env python3
"""The table of scripts/bench-arm.sh: millions of guest instructions per prefill token and per
decode token, GemKit against llama.cpp, for each -cpu, with ratios (GemKit / llama.cpp, lower is
better for GemKit), then the functions that take the most per token in each phase.

A results dir holds <cpu>/<program>-<run>.txt from scripts/arm/insncount.c, with the runs
long-1 (the long prompt, 1 token generated), short-1 and short-17. Prefill per token is
(long-1 - short-1) / (long tokens - short tokens); decode per token is (short-17 - short-1) / 16.
"""

import argparse
import datetime
import subprocess
from pathlib import Path

PROGRAMS = {"gemkit": "GemKit", "llama": "llama.cpp"}
GENERATED = 17


def read(path):
    """(totals by class, instructions by function) of one run."""
    totals, funcs = {}, {}
    for line in path.read_text().splitlines():
        parts = line.split(" ", 4)
        if parts[0] == "func":
            funcs[parts[4]] = int(parts[1])
        else:
            totals[parts[0]] = int(parts[1])
    return totals, funcs


def per_token(a, b, tokens):
    return {k: (a.get(k, 0) - b.get(k, 0)) / tokens for k in set(a) | set(b)}


def demangle(names):
    try:
        out = subprocess.run(["c++filt"], input="\n".join(names), capture_output=True, text=True)
        return out.stdout.splitlines()
    except OSError:
        return names


def short(name):
    # Rust names: drop the crate's kernel path and the hash.
    name = name.replace("gemkit::kernels::", "").split("(")[0]
    if "::h" in name and len(name.rsplit("::h", 1)[1]) == 16:
        name = name.rsplit("::h", 1)[0]
    return name


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results", type=Path)
    ap.add_argument("--cpus", nargs="+", required=True)
    ap.add_argument("--tokens", nargs=2, type=int, required=True, metavar=("LONG", "SHORT"))
    ap.add_argument("--commit", default="?")
    ap.add_argument("--top", type=int, default=4)
    args = ap.parse_args()
    n_prefill = args.tokens[0] - args.tokens[1]

    rows, details = [], []
    for cpu in args.cpus:
        phases = {}
        for prog in PROGRAMS:
            runs = {r: read(args.results / cpu / f"{prog}-{r}.txt") for r in ("long-1", "short-1", "short-17")}
            phases[prog] = {
                "prefill": [per_token(runs["long-1"][i], runs["short-1"][i], n_prefill) for i in (0, 1)],
                "decode": [per_token(runs["short-17"][i], runs["short-1"][i], GENERATED - 1) for i in (0, 1)],
            }
        m = lambda prog, phase: phases[prog][phase][0]["total"] / 1e6
        pg, pl, dg, dl = m("gemkit", "prefill"), m("llama", "prefill"), m("gemkit", "decode"), m("llama", "decode")
        rows.append(f"| {cpu} | {pg:.1f} / {pl:.1f} | {pg / pl:.2f} | {dg:.1f} / {dl:.1f} | {dg / dl:.2f} |")
        for phase in ("prefill", "decode"):
            for prog, label in PROGRAMS.items():
                totals, funcs = phases[prog][phase]
                top = sorted(funcs.items(), key=lambda kv: -kv[1])[: args.top]
                names = demangle([n for n, _ in top])
                cells = ", ".join(f"`{short(n)}` {v / 1e6:.1f}" for n, (_, v) in zip(names, top))
                dots = f"SDOT {totals.get('dot', 0) / 1e6:.2f}, SMMLA {totals.get('mmla', 0) / 1e6:.2f}"
                details.append(f"| {cpu} | {phase} | {label} | {dots} | {cells} |")

    print(f"aarch64 guest instructions per token (millions), {datetime.date.today()}, GemKit "
          f"{args.commit} against llama.cpp (llama-cpp-python 0.3.36), Gemma 3 270M Q4_K_M, "
          "one thread, qemu-user 7.2; ratio = GemKit / llama.cpp\n")
    print("| -cpu | prefill GemKit / llama.cpp | ratio | decode GemKit / llama.cpp | ratio |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))
    print("\nPer token: int8 dot-product instructions (millions) and the largest functions\n")
    print("| -cpu | phase | program | SDOT, SMMLA | largest functions (M) |")
    print("|---|---|---|---|---|")
    print("\n".join(details))


if __name__ == "__main__":
    main()
