"""Short preview clips of the example prompts, made once by the served model and kept in a cache folder.

Each clip is an animated GIF (plays in any ``<img>``, no controls), named by a hash of the model, prompt, seed
and length, so a later start with the same model reuses it and a different model makes its own.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from PIL import Image

from streamdit import StreamDiTPipeline


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/streamdit/previews`` (``~/.cache/...`` when unset)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "streamdit" / "previews"


def preview_clip(pipe: StreamDiTPipeline, model_key: str, prompt: str, folder: Path, seconds: float = 1.5,
                 seed: int = 0) -> Path:
    """The cached GIF of ``prompt`` (``seconds`` of video made by ``pipe``), made now if missing."""
    frames = max(1, round(seconds * pipe.config.fps))
    name = hashlib.sha256(f"{model_key}\n{prompt}\n{seed}\n{frames}".encode()).hexdigest()[:24]
    path = folder / f"{name}.gif"
    if not path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        video = pipe.generate(prompt, frames, seed=seed)
        images = [Image.fromarray(frame) for frame in video]
        partial = path.with_suffix(".tmp")
        images[0].save(partial, format="GIF", save_all=True, append_images=images[1:],
                       duration=round(1000 / pipe.config.fps), loop=0)
        partial.replace(path)  # whole or absent, also when two servers start at once
    return path


def preview_clips(pipe: StreamDiTPipeline, model_key: str, prompts: list[str], folder: Path) -> list[Path]:
    """One cached clip per prompt, in order."""
    return [preview_clip(pipe, model_key, prompt, folder) for prompt in prompts]
