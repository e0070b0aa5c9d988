#!/usr/bin/env python3
"""Checks the core's layering (ARCHITECTURE.md): every `use` between files points down.

    scripts/check-layers.py [ROOT...]

Each ROOT is a crate's source folder, its root file `lib.rs` or else `main.rs`; by default the
core (`core/src`, with the layer order below) and the CLI (`core/cli/src`, no layer order: its
files need only not import each other in a circle).

Builds the graph of files that name each other's items (`use` trees, inline `crate::`/`super::`
paths, and inherent `impl T` blocks, which count as using T's file) and fails when
  - two files reach each other (a cycle, however long), or
  - a file imports from a layer above its own (order below), or
  - a type's inherent methods are spread over files (an `impl T` outside the file defining T).
An import through a parent's re-export counts as an import of the parent file, so inside the
crate items are named by the file that defines them. Test modules and files (`#[cfg(test)]`)
are left out: nothing imports them. Prints the offending edges and exits 1, else one OK line
for each crate.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

# Lowest first: a file may use its own folder and the layers before it.
LAYERS = ["dtype", "sampling", "gguf", "tokenizer", "error", "digest", "kernels", "runtime", "model",
          "generate", "api", "lib"]

ITEM = re.compile(r"^(?:pub(?:\([^)]*\))?\s+)?(?:unsafe\s+)?(?:struct|enum|trait|fn|type|const|static|union)\s+([A-Za-z_][A-Za-z0-9_]*)", re.M)
MACRO = re.compile(r"^macro_rules!\s*([A-Za-z_][A-Za-z0-9_]*)", re.M)
MOD_DECL = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+([a-z_0-9]+)\s*;", re.M)
USE = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?use\s+([^;]+);", re.M)
INLINE = re.compile(r"(?<![:\w])((?:crate|super|self|[a-z_][a-z0-9_]*)(?:::[A-Za-z_][A-Za-z0-9_]*)+)")
IMPL = re.compile(r"^\s*impl(?:<[^>{]*>)?\s+([A-Z][A-Za-z0-9_]*)(?:<[^>{]*>)?\s*\{", re.M)
TEST_MOD = re.compile(r"#\[cfg\(test\)\]\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+[a-z_0-9]+\s*\{")
TEST_DECL = re.compile(r"#\[cfg\(test\)\]\s*(?:#\[[^\]]*\]\s*)*(?:pub(?:\([^)]*\))?\s+)?mod\s+([a-z_0-9]+)\s*;")


INLINE_MOD = re.compile(r"\bmod\s+\$?[a-z_0-9]+\s*\{")


def inline_depth(text: str) -> list[int]:
    """For each character, how many inline `mod x { ... }` blocks enclose it (their `super`
    stays in the same file)."""
    depth = [0] * (len(text) + 1)
    for m in INLINE_MOD.finditer(text):
        level, i = 1, m.end()
        while i < len(text) and level:
            level += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        for j in range(m.end(), i):
            depth[j] += 1
    return depth


def strip(text: str) -> str:
    """Source without comments, string literals and inline test modules."""
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r'r#*"(?:.|\n)*?"#*|"(?:\\.|[^"\\])*"', '""', text)
    m = TEST_MOD.search(text)
    return text[: m.start()] if m else text


def expand(tree: str, prefix: list[str]) -> list[list[str]]:
    """`a::{b, c::{d, e as f}}` into [[a, b], [a, c, d], [a, c, e]]."""
    tree = tree.strip()
    if not tree:
        return []
    if tree.endswith("}") and "{" in tree:
        head, body = tree.split("{", 1)
        head = [p for p in head.strip().rstrip(":").split("::") if p]
        body = body[:-1]
        parts, depth, cur = [], 0, ""
        for ch in body:
            if ch == "," and depth == 0:
                parts.append(cur)
                cur = ""
                continue
            depth += ch == "{"
            depth -= ch == "}"
            cur += ch
        parts.append(cur)
        out = []
        for p in parts:
            out += expand(p, prefix + head)
        return out
    path = tree.split(" as ")[0].strip()
    return [prefix + [p for p in path.split("::") if p]]


class Crate:
    def __init__(self, root_file: Path):
        self.root = root_file.parent
        self.files: dict[tuple[str, ...], Path] = {}  # module path -> file
        self.tests: set[tuple[str, ...]] = set()
        self.walk(root_file, ())

    def walk(self, file: Path, module: tuple[str, ...]):
        self.files[module] = file
        text = file.read_text()
        test_mods = set(TEST_DECL.findall(text))
        for name in MOD_DECL.findall(strip(text)) + sorted(test_mods):
            base = file.parent if not module or file.name == "mod.rs" else file.parent / file.stem
            child = base / f"{name}.rs"
            if not child.exists():
                child = base / name / "mod.rs"
            if name in test_mods or module and module[-1] == "tests" or (module + (name,)) in self.tests:
                self.tests.add(module + (name,))
            self.walk(child, module + (name,))

    def layer(self, module: tuple[str, ...]) -> str:
        return module[0] if module else "lib"

    def resolve(self, segments: list[str], at: tuple[str, ...], inline: int = 0) -> tuple[str, ...] | None:
        """The module (file) a path names or takes an item from, or None outside the crate.
        `inline` is how many inline modules enclose the path: their `super`s stay here."""
        if not segments:
            return None
        while inline and len(segments) > 1 and segments[0] == "super":
            segments, inline = ["self"] + segments[1:] if segments[1] != "super" else segments[1:], inline - 1
        first, rest = segments[0], segments[1:]
        if first == "crate":
            module = ()
        elif first == "super":
            module = at[:-1]
            while rest and rest[0] == "super":
                module, rest = module[:-1], rest[1:]
        elif first == "self":
            module = at
        elif at + (first,) in self.files:
            module, rest = at + (first,), rest  # a child module named directly
            return self.descend(module, rest)
        else:
            return None
        return self.descend(module, rest)

    def descend(self, module: tuple[str, ...], rest: list[str]) -> tuple[str, ...]:
        while rest and module + (rest[0],) in self.files:
            module, rest = module + (rest[0],), rest[1:]
        return module


def check(root_file: Path, layers: list[str] | None) -> bool:
    """Prints the problems of one crate and a summary line; `layers` None: no layer order."""
    crate = Crate(root_file)
    root = crate.root
    defined: dict[str, set[tuple[str, ...]]] = {}
    edges: dict[tuple[str, ...], set[tuple[str, ...]]] = {m: set() for m in crate.files}
    problems: list[str] = []
    name = lambda m: str(crate.files[m].relative_to(root))
    for module, file in crate.files.items():
        text = strip(file.read_text())
        for item in ITEM.findall(text) + MACRO.findall(text):
            defined.setdefault(item, set()).add(module)
    for module, file in crate.files.items():
        if module in crate.tests:
            continue
        text = strip(file.read_text())
        depth = inline_depth(text)
        paths = []
        for m in USE.finditer(text):
            paths += [(p, depth[m.start()]) for p in expand(" ".join(m.group(1).split()), [])]
        # Paths written in the code; `use` trees were read whole above.
        code = USE.sub(lambda m: " " * len(m.group(0)), text)
        paths += [(m.group(1).split("::"), depth[m.start()]) for m in INLINE.finditer(code)]
        for segments, inline in paths:
            target = crate.resolve(segments, module, inline)
            if target is not None and target != module and target not in crate.tests:
                # `use a::b` of a child module `b` declared here is a declaration, not a use.
                if target[:-1] == module and len(segments) == 2 and segments[0] == "self":
                    continue
                edges[module].add(target)
        for ty in IMPL.findall(text):
            homes = defined.get(ty, set())
            if homes and module not in homes:
                for home in homes:
                    problems.append(f"inherent impl of {ty} in {name(module)}, defined in {name(home)}")
                    edges[module].add(home)
    for src, targets in edges.items():
        for dst in targets if layers is not None else ():
            ls, ld = layers.index(crate.layer(src)), layers.index(crate.layer(dst))
            if ld > ls:
                problems.append(f"upward import: {name(src)} ({crate.layer(src)}) uses {name(dst)} ({crate.layer(dst)})")
    # Cycles: strongly connected components of more than one file (Tarjan).
    index, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(comp)

    sys.setrecursionlimit(10000)
    for v in edges:
        if v not in index:
            visit(v)
    for comp in comps:
        members = set(comp)
        detail = "; ".join(f"{name(a)} -> {name(b)}" for a in comp for b in sorted(edges[a]) if b in members)
        problems.append(f"import cycle among {', '.join(sorted(name(m) for m in comp))}: {detail}")
    if problems:
        print("\n".join(sorted(set(problems))))
        print(f"check-layers: {len(set(problems))} problems in {root}")
        return False
    n_edges = sum(len(t) for t in edges.values())
    down = ", all pointing down" if layers is not None else ""
    print(f"check-layers: OK, {len(crate.files)} files, {n_edges} imports{down}, no cycle in {root}")
    return True


def main() -> int:
    repo = Path(__file__).resolve().parent.parent
    roots = [Path(a) for a in sys.argv[1:]] or [repo / "core" / "src", repo / "core" / "cli" / "src"]
    ok = True
    for root in roots:
        # A library is layered; a binary's files need only not import each other in a circle.
        if (root / "lib.rs").exists():
            ok &= check(root / "lib.rs", LAYERS)
        else:
            ok &= check(root / "main.rs", None)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
