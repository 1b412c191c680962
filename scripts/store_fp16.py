"""Rewrite the float32 tensors of safetensors files as float16, in place (halves the shipped weights).

Pipelines load them back into float32 models (``StreamDiTPipeline`` casts to its dtype), so only the
stored precision changes. Usage: python scripts/store_fp16.py FILE.safetensors [...]
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file


def store_fp16(path: Path) -> None:
    state = load_file(str(path))
    half = {k: v.half() if v.dtype == torch.float32 else v for k, v in state.items()}
    save_file(half, str(path), metadata={"format": "pt"})


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    for name in sys.argv[1:]:
        store_fp16(Path(name))
        print(f"{name}: {Path(name).stat().st_size / 1e6:.1f} MB")
