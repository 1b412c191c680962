"""The layering of docs/architecture.md §1, checked on the source: no import cycle, the other packages use only
streamdit's public API, and only the loader reads a model directory's JSON."""

from __future__ import annotations

import ast
from pathlib import Path

import streamdit

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("streamdit", "demo", "eval", "human_eval")
CLIENTS = ("demo", "eval", "human_eval")
MODEL_FILES = ("pipeline.json", "model_index.json", "config.json", "streamdit.json")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def sources() -> dict[str, tuple[Path, ast.Module]]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            found[module_name(path)] = (path, ast.parse(path.read_text()))
    return found


def imports(tree: ast.Module, module: str, is_package: bool = False) -> list[tuple[str, list[str]]]:
    """(imported module, names taken from it) for every import in the file, lazy ones included."""
    package = module if is_package else module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved against this module's package
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1] + ([base] if base else []))
            found.append((base, [alias.name for alias in node.names]))
    return found


def test_no_module_imports_itself_back_through_others() -> None:
    modules = sources()
    graph = {name: {target for target, _ in imports(tree, name, path.name == "__init__.py")
                    if target in modules and target != name}
             for name, (path, tree) in modules.items()}
    for name, (path, tree) in modules.items():  # `from package import submodule` is an edge to the submodule
        for target, names in imports(tree, name, path.name == "__init__.py"):
            graph[name] |= {f"{target}.{n}" for n in names if f"{target}.{n}" in modules}
    packages = {name for name in modules if (ROOT / name.replace(".", "/") / "__init__.py").is_file()}
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        for nxt in graph[node]:
            if nxt in packages and any(p.startswith(nxt + ".") for p in path):
                continue  # a submodule reaching its own package's __init__: Python resolves this
            if nxt in path:
                cycles.append(path[path.index(nxt):] + [nxt])
            elif len(path) < 40:
                visit(nxt, path + [nxt])

    for name in graph:
        visit(name, [name])
    assert not cycles, cycles[:5]


def test_demo_eval_and_human_eval_use_only_streamdits_public_api() -> None:
    public = set(streamdit.__all__)
    subpackages = {name for name in public if (ROOT / "streamdit" / name / "__init__.py").is_file()}
    offenders = []
    for name, (path, tree) in sources().items():
        if not name.startswith(CLIENTS):
            continue
        for target, names in imports(tree, name, path.name == "__init__.py"):
            if target == "streamdit":
                offenders += [f"{path.name}: streamdit.{n}" for n in names if n not in public]
            elif target.startswith("streamdit."):
                sub = target.split(".")[1]
                exported = getattr(getattr(streamdit, sub, None), "__all__", ())
                if sub not in subpackages or target.count(".") > 1 or any(n not in exported for n in names):
                    offenders.append(f"{path.name}: {target} {names}")
    assert not offenders, offenders


def test_only_the_loader_parses_a_model_directorys_json() -> None:
    readers = []
    for name, (path, _) in sources().items():
        text = path.read_text()
        if name != "streamdit.loading" and "json.load" in text and any(f"\"{f}\"" in text for f in MODEL_FILES):
            readers.append(name)
    assert not readers, readers
