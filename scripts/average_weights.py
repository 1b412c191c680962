"""Average the transformer weights of pipelines fine-tuned one from another (a "model soup").

Wortsman et al. (2022) average fine-tuned models that share a starting point; here it averages two
successive fine-tune stages of the bundled teacher. Weight averaging is a few lines over safetensors
files and no installed library offers it for a pipeline directory, hence this script.

The first pipeline is copied to OUT (sampler settings, autoencoder) and its transformer weights are
replaced by the float32 mean of all of them. Every pipeline must have the same ``pipeline.json`` and
transformer ``config.json``.

Usage: python scripts/average_weights.py --out OUT PIPELINE PIPELINE [...]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

WEIGHTS = Path("transformer") / "model.safetensors"
CONFIGS = (Path("pipeline.json"), Path("transformer") / "config.json")


def _check_same(sources: list[Path]) -> None:
    for source in sources:
        for needed in (*CONFIGS, WEIGHTS):
            if not (source / needed).is_file():
                raise ValueError(f"{source}: no {needed} (not a StreamDiT pipeline directory)")
    for config in CONFIGS:
        first = json.loads((sources[0] / config).read_text())
        for other in sources[1:]:
            if json.loads((other / config).read_text()) != first:
                raise ValueError(f"{other / config} differs from {sources[0] / config}: only pipelines of one "
                                 "architecture and sampler can be averaged")


def average_state(paths: list[Path]) -> dict[str, torch.Tensor]:
    """The float32 mean of the tensors of several safetensors files with the same keys and shapes."""
    total: dict[str, torch.Tensor] = {}
    for path in paths:
        state = load_file(str(path))
        if total and state.keys() != total.keys():
            raise ValueError(f"{path}: its tensor names differ from {paths[0]}'s")
        for key, value in state.items():
            if key in total and value.shape != total[key].shape:
                raise ValueError(f"{path}: {key} has shape {tuple(value.shape)}, not {tuple(total[key].shape)}")
            total[key] = total[key] + value.float() if key in total else value.float()
    return {key: value / len(paths) for key, value in total.items()}


def average_pipelines(sources: list[Path], out: Path) -> None:
    """Write to ``out`` the first pipeline with its transformer weights averaged over all ``sources``."""
    if len(sources) < 2:
        raise ValueError("give at least two pipelines to average")
    if out.exists():
        raise FileExistsError(f"{out} exists: choose a new output directory")
    _check_same(sources)
    state = average_state([source / WEIGHTS for source in sources])
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:  # nothing half-written at OUT on failure
        staged = Path(tmp) / out.name
        shutil.copytree(sources[0], staged, ignore=shutil.ignore_patterns("README.md"))
        save_file(state, str(staged / WEIGHTS), metadata={"format": "pt"})
        staged.rename(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="e.g. --out runs/bundled/teacher-soup runs/bundled/teacher-ft2/pipeline "
                                            "runs/bundled/teacher-ft3/pipeline")
    parser.add_argument("pipelines", type=Path, nargs="+", help="pipeline directories (at least two)")
    parser.add_argument("--out", type=Path, required=True, help="new pipeline directory to write")
    args = parser.parse_args(argv)
    try:
        average_pipelines(args.pipelines, args.out)
    except (ValueError, FileExistsError) as exc:
        parser.error(str(exc))
    print(f"wrote {args.out}: the transformer weights averaged over {len(args.pipelines)} pipelines")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
