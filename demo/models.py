"""The models the demo offers as its sampler setting (distilled student / teacher), each loaded once."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

import torch

import streamdit
from streamdit import StreamDiTPipeline
from streamdit.pipeline import PIPELINE_CONFIG

BUNDLED_DIR = Path(streamdit.__file__).parent / "bundled"
BUNDLED = (("student", "distilled student"), ("teacher", "teacher"))
UNTRAINED = "untrained tiny model (random weights)"


@dataclass(frozen=True)
class ModelOption:
    """A choice of the sampler-setting dropdown: a pipeline directory, or None for the random tiny model."""

    label: str
    path: Path | None


def steps_per_chunk(directory: Path) -> int:
    """Model evaluations a chunk passes through in the buffer (``K * s``), read from the saved configs."""
    sampler = json.loads((directory / PIPELINE_CONFIG).read_text())
    buffer_frames = json.loads((directory / "transformer" / "config.json").read_text())["buffer_frames"]
    return buffer_frames // sampler.get("chunk_size", 2) * sampler.get("micro_steps", 1)


def discover(model_dir: Path | None = None, bundled_dir: Path = BUNDLED_DIR) -> list[ModelOption]:
    """``--model DIR`` alone, else the bundled student and teacher that exist, else the untrained fallback."""
    if model_dir is not None:
        if not (model_dir / PIPELINE_CONFIG).is_file():
            raise FileNotFoundError(f"{model_dir} is not a StreamDiT pipeline directory (no {PIPELINE_CONFIG})")
        return [ModelOption(f"{model_dir.name} ({steps_per_chunk(model_dir)} steps per chunk)", model_dir)]
    options = [ModelOption(f"{title} ({steps_per_chunk(bundled_dir / name)} steps per chunk)", bundled_dir / name)
               for name, title in BUNDLED if (bundled_dir / name / PIPELINE_CONFIG).is_file()]
    return options or [ModelOption(UNTRAINED, None)]


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when available, else ``cpu``; an unavailable ``cuda`` is an error."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for, but torch sees no CUDA device")
    return device


class ModelBank:
    """Loads each offered pipeline on first use and keeps it; safe to call from several sessions."""

    def __init__(self, options: list[ModelOption], device: str) -> None:
        if not options:
            raise ValueError("no model to offer")
        self.options, self.device = options, device
        self._loaded: dict[str, StreamDiTPipeline] = {}
        self._lock = threading.Lock()

    @property
    def labels(self) -> list[str]:
        return [option.label for option in self.options]

    @property
    def untrained(self) -> bool:
        return any(option.path is None for option in self.options)

    def get(self, label: str | None = None) -> StreamDiTPipeline:
        """The pipeline of a dropdown label (None: the first option)."""
        option = next((o for o in self.options if o.label == label), None) if label else self.options[0]
        if option is None:
            raise KeyError(f"unknown model {label!r}; choose one of {self.labels}")
        with self._lock:
            if option.label not in self._loaded:
                self._loaded[option.label] = (StreamDiTPipeline.from_config("tiny", device=self.device)
                                              if option.path is None
                                              else StreamDiTPipeline.from_pretrained(option.path, device=self.device))
            return self._loaded[option.label]
