"""How a result was made, written beside every number: weights file and SHA-256, code version,
preprocessing, videos per set, skipped videos, the command line, and the system's identity: the scored
folder (`source`, absolute) and whether `--name` named it (`named`), which `eval report` uses to keep
systems apart."""

from __future__ import annotations

import functools
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import pandas as pd

REPO = Path(__file__).resolve().parent.parent


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """`git describe --always --dirty` of this checkout (else "unknown"), with torch's version."""
    version = "unknown (not a git checkout)"
    if (REPO / ".git").exists():
        try:
            out = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty", "--tags"],
                                 capture_output=True, text=True, timeout=10)
            if out.returncode == 0 and out.stdout.strip():
                version = "git " + out.stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            pass
    from importlib.metadata import PackageNotFoundError, version as installed

    try:  # the installed version, without importing torch (frame-only metrics never load it)
        torch_version = installed("torch")
    except PackageNotFoundError:
        torch_version = "not installed"
    return f"streamdit eval {version}; torch {torch_version}"


def command_line(argv: Sequence[str] | None) -> str:
    """The command as typed (`python -m eval ...`)."""
    return "python -m eval " + shlex.join(sys.argv[1:] if argv is None else list(argv))


def weights_columns(models: Iterable[object]) -> dict[str, str]:
    """`weights` (file names) and `weights_sha256` of loaded models (those with `weights_file`)."""
    names, shas = [], []
    for model in models:
        path = getattr(model, "weights_file", None)
        if path is not None:
            names.append(Path(path).name)
            shas.append(str(getattr(model, "weights_sha256", "")))
    return {"weights": "; ".join(names), "weights_sha256": "; ".join(shas)}


def videos_column(counts: Mapping[str, int]) -> str:
    """"12" for one set, "real=2048; fake=2048" for two."""
    if len(counts) == 1:
        return str(next(iter(counts.values())))
    return "; ".join(f"{name}={n}" for name, n in counts.items())


def skipped_column(skipped: Mapping[str, str]) -> str:
    return "; ".join(f"{name} ({why})" for name, why in skipped.items())


def with_provenance(table: pd.DataFrame, argv: Sequence[str] | None, **columns: object) -> pd.DataFrame:
    """`table` with the provenance columns appended (same value on every row unless a list is given)."""
    table = table.copy()
    columns.setdefault("code_version", code_version())
    columns.setdefault("command", command_line(argv))
    for name in ("weights", "weights_sha256", "code_version", "preprocessing", "videos", "skipped", "command",
                 "source", "named"):
        if name in columns:
            table[name] = columns[name]
    return table
