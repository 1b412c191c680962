"""The models the demo offers as its sampler setting (distilled student / teacher), each loaded once."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import torch

from streamdit import BUNDLED_DIR, StreamBatcher, StreamDiTPipeline, is_pipeline_directory
BUNDLED = (("student", "distilled student"), ("teacher", "teacher"))
UNTRAINED = "untrained tiny model (random weights)"


@dataclass(frozen=True)
class ModelOption:
    """A choice of the sampler-setting dropdown: a pipeline directory, or None for the random tiny model."""

    label: str
    path: Path | None
    title: str = field(default="", compare=False)  # the name the page shows, without the label's details


def steps_per_chunk(directory: Path) -> int:
    """Model evaluations a chunk passes through in the buffer (``K * s``), read from the saved configs."""
    return StreamDiTPipeline.scheme_of(directory).total_steps


def discover(model_dir: Path | None = None, bundled_dir: Path = BUNDLED_DIR) -> list[ModelOption]:
    """``--model DIR`` alone, else the bundled student and teacher that exist, else the untrained fallback."""
    if model_dir is not None:
        if not is_pipeline_directory(model_dir):
            raise FileNotFoundError(f"{model_dir} is not a StreamDiT pipeline directory (no pipeline.json)")
        return [ModelOption(f"{model_dir.name} ({steps_per_chunk(model_dir)} steps per chunk)", model_dir,
                            model_dir.name)]
    options = [ModelOption(f"{title} ({steps_per_chunk(bundled_dir / name)} steps per chunk)", bundled_dir / name,
                           title)
               for name, title in BUNDLED if is_pipeline_directory(bundled_dir / name)]
    return options or [ModelOption(UNTRAINED, None, UNTRAINED)]


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
        self._batchers: dict[str, StreamBatcher] = {}
        self.speeds: dict[str, float] = {}  # label -> frames generated per second here (see ``measure``)
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

    @cached_property
    def world(self) -> str:
        """The synthetic world the offered models were trained on (``PipelineConfig.world``; loads each): the page
        shows its examples, domain text and vocabulary. ``ValueError`` when they differ: a page serves one world."""
        worlds = {label: self.get(label).config.world for label in self.labels}
        if len(set(worlds.values())) > 1:
            found = ", ".join(f"{label}: world {world}" for label, world in worlds.items())
            raise ValueError(f"the models offered were trained on different worlds ({found}); a page serves the "
                             "models of one world: serve each on a page of its own (--model DIR)")
        return worlds[self.labels[0]]

    def ignored_tail(self, prompt: str) -> str:
        """The end of ``prompt`` that some offered model's text encoder cuts off (the longest such; "" if none)."""
        return max((self.get(label).text_encoder.ignored_tail(prompt) for label in self.labels), key=len)

    def batcher(self, label: str | None = None) -> StreamBatcher:
        """The stream batch of a model: all visitors' streams of it share its forwards (streamdit.inference.stream_batch)."""
        pipe = self.get(label)
        with self._lock:
            return self._batchers.setdefault(label or self.labels[0], StreamBatcher(pipe.model))

    def model_key(self, label: str | None = None) -> str:
        """Names a model's weights as they are now (its directory and when its transformer last changed)."""
        option = next((o for o in self.options if o.label == label), None) if label else self.options[0]
        if option is None or option.path is None:
            return UNTRAINED
        return f"{option.path.resolve()}@{(option.path / 'transformer').stat().st_mtime_ns}"

    def choices(self) -> list[tuple[str, str]]:
        """(shown name, value) pairs for the model dropdown: the name says how fast it runs here, if measured."""
        pairs = []
        for option in self.options:
            title = (option.title or option.label)[:1].upper() + (option.title or option.label)[1:]
            realtime = self.realtime(option.label)
            if realtime is None:
                pairs.append((title, option.label))
            elif realtime >= 1.0:
                pairs.append((f"{title} ({realtime:.1f}× real time)", option.label))
            else:
                pairs.append((f"{title} ({realtime:.2f}× real time: too slow, pauses)", option.label))
        return pairs

    def model_card(self) -> str | None:
        """The first served model's card (its README.md), or None when it has none."""
        path = self.options[0].path
        card = path / "README.md" if path is not None else None
        return card.read_text() if card is not None and card.is_file() else None

    def measure(self) -> dict[str, float]:
        """Load every option and time a short generation: frames per second each makes on this device."""
        for label in self.labels:
            self.speeds[label] = measure_speed(self.get(label))
        return dict(self.speeds)

    def realtime(self, label: str | None = None) -> float | None:
        """Measured speed over playback speed (> 1: faster than real time); None when not measured."""
        speed = self.speeds.get(label or self.labels[0])
        return None if speed is None else speed / self.get(label).config.fps


def measure_speed(pipe: StreamDiTPipeline, seconds: float = 1.5) -> float:
    """Frames per second ``pipe`` streams here: chunks timed for about ``seconds`` after an untimed first one."""
    stream = pipe.stream("a red circle moving left on a dark background", max_chunks=10_000)
    frames, started = 0, None
    for chunk in stream:
        if started is None:  # the first chunk pays first-call costs
            started = time.perf_counter()
            continue
        frames += len(chunk)
        elapsed = time.perf_counter() - started
        if elapsed >= seconds and frames >= 2 * pipe.frames_per_chunk:
            stream.stop()
            return frames / elapsed
    raise RuntimeError("the stream ended before its speed was measured")
