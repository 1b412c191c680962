"""The metric contract (docs/architecture.md §6): every metric of `eval` is one `MetricSpec` in the registry
`eval.registry.METRICS`, which the command line, the Python API (`eval.__init__`), the report and the paper
run loop over.

A spec says what the metric is called, what it needs, whether it scores each video or a whole set, which
way is better and which function computes it (`"module:function"`, `".module"` inside `eval`, imported on
first use, so `import eval` and `python -m eval --help` stay fast). A per-video metric that needs only
frames, a prompt and/or a chunk size is *frame-only*: its function `f(video[, prompt][, chunk_size]) ->
float` scores one uint8 video (T, H, W, 3), and `score_videos` (the CLI's generated commands, the paper
run) calls it. Any other metric (a network, a reference set, the domain's detector) has a hand-written
command in `eval/cli.py`, and its function is the Python API that computes it.

How `score_videos` hands a video file to a frame-only function is the spec's `reads`: the whole array
("video", the default: loaded once per video, a one-line error when it cannot fit in memory), the path to
stream itself ("frames": the function reads `eval.video_io.iter_frames`, a window of frames in memory), or
the video's consecutive-frame differences ("differences": `eval.consistency.FrameDifferences`, computed once
per video from a stream of frames for every such metric). Long and large videos need the last two.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Literal, Sequence

if TYPE_CHECKING:
    import pandas as pd

Need = Literal["frames", "prompts", "chunk_size", "reference", "detector"]
Reads = Literal["video", "frames", "differences"]
Better = Literal["higher", "lower", "one"]
FRAME_ONLY_NEEDS = frozenset({"frames", "prompts", "chunk_size"})
BETTER_TEXT = {"higher": "higher is better", "lower": "lower is better", "one": "1 is best"}


@dataclass(frozen=True)
class MetricSpec:
    """One metric: `name` is its name in result tables; `summary` one line for help and reports; `compute`
    the `"module:function"` that computes it (`".consistency:temporal_flicker"`: a module of `eval`);
    `needs` its inputs (`frames`, `prompts`, `chunk_size`, `reference`: a real set, `detector`: the
    synthetic domain's); `weights` the pretrained
    network it loads (a kind of `eval.weights.WEIGHTS`), if any; `per_video` whether it scores each video
    (averaged with a bootstrap interval) or a whole set; `better` which way is better; `command` the
    `python -m eval` subcommand that reports it (default: the name with dashes; None: none); `option` its
    name in that command's `--metrics` where the command reports several; `note` a caveat printed whenever
    it is computed; `in_paper` whether the paper run reports it; `reads` what a frame-only function is given
    for a video file (module docstring: the whole array, the path to stream, or the frame differences)."""

    name: str
    summary: str
    compute: str
    needs: tuple[Need, ...] = ("frames",)
    weights: str | None = None
    per_video: bool = True
    better: Better = "higher"
    command: str | None = ""
    option: str = ""
    note: str = ""
    in_paper: bool = True
    reads: Reads = "video"

    def __post_init__(self) -> None:
        if self.command == "":
            object.__setattr__(self, "command", self.name.replace("_", "-"))
        if not self.option:
            object.__setattr__(self, "option", self.name)

    @property
    def function_name(self) -> str:
        return self.compute.split(":")[1]

    @property
    def function(self) -> Callable:
        """The function that computes the metric (imported now)."""
        module, name = self.compute.split(":")
        return getattr(importlib.import_module(module, "eval"), name)

    @property
    def frame_only(self) -> bool:
        """Whether `function(video[, prompt][, chunk_size])` scores one video with no network (module docstring)."""
        return self.per_video and self.weights is None and set(self.needs) <= FRAME_ONLY_NEEDS

    @property
    def direction(self) -> str:
        return BETTER_TEXT[self.better]

    def score(self, video: object, prompt: str | None = None, chunk_size: int | None = None,
              frames: int | None = None) -> float:
        """A frame-only metric's value on one video (what `reads` says: an array, a path or a
        `FrameDifferences`; `frames` its frame count, default `len(video)`); NaN where it needs a chunk size the
        video has none of (unknown, under 2 frames, or the video is shorter than two chunks: `chunk_scorable`)."""
        kwargs: dict[str, object] = {}
        if "prompts" in self.needs:
            kwargs["prompt"] = prompt
        if "chunk_size" in self.needs:
            if not chunk_scorable(len(video) if frames is None else frames, chunk_size):
                return float("nan")
            kwargs["chunk_size"] = chunk_size
        return float(self.function(video, **kwargs))


def chunk_scorable(frames: int, chunk_size: int | None) -> bool:
    """Whether a video of `frames` frames gets chunk metrics at `chunk_size`: a chunk size of at least 2 frames
    (a chunk needs an inner pair) and at least two whole chunks (a border between two full chunks)."""
    return chunk_size is not None and chunk_size >= 2 and frames >= 2 * chunk_size


class MetricRegistry:
    """The metrics by name, in registration order."""

    def __init__(self, *specs: MetricSpec) -> None:
        self._specs: dict[str, MetricSpec] = {}
        for spec in specs:
            self.register(spec)

    def register(self, spec: MetricSpec) -> MetricSpec:
        """Add a metric (a name already taken is an error)."""
        if spec.name in self._specs:
            raise ValueError(f"a metric named {spec.name!r} is already registered")
        self._specs[spec.name] = spec
        return spec

    def unregister(self, name: str) -> None:
        del self._specs[name]

    def __getitem__(self, name: str) -> MetricSpec:
        return self._specs[name]

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __iter__(self) -> Iterator[MetricSpec]:
        return iter(list(self._specs.values()))

    def commands(self) -> dict[str, list[MetricSpec]]:
        """Subcommand -> the metrics it reports, in registration order."""
        out: dict[str, list[MetricSpec]] = {}
        for spec in self:
            if spec.command is not None:
                out.setdefault(spec.command, []).append(spec)
        return out

    def lookup(self, metric: str) -> MetricSpec | None:
        """The spec of a result-table metric name: exact, else by its prefix (`fvd_videomae` is an `fvd`,
        `adherence_color` an `adherence`)."""
        if metric in self._specs:
            return self._specs[metric]
        return next((s for s in self if metric.startswith(s.name + "_")), None)


def score_videos(specs: Iterable[MetricSpec], videos: Sequence[object], prompts: Sequence[str] | None = None,
                 chunk_sizes: Sequence[int | None] | None = None) -> "pd.DataFrame":
    """One column per frame-only metric (`MetricSpec.score`), one row per video: uint8 arrays or paths (a
    file or a frame folder, read when its row is scored, as each spec `reads` it: the frame differences once
    for all the metrics that read them, the whole array once for those that need it); an error names the
    video. The table's `attrs["frames"]` holds each video's frame count."""
    import pandas as pd

    from .consistency import FrameDifferences
    from .video_io import VideoLoadError, count_frames, load_any

    specs = list(specs)
    if not specs:
        return pd.DataFrame(index=range(len(videos)))
    prompts = prompts if prompts is not None else [None] * len(videos)
    chunk_sizes = chunk_sizes if chunk_sizes is not None else [None] * len(videos)
    rows, lengths = [], []
    for i, (video, prompt, chunk_size) in enumerate(zip(videos, prompts, chunk_sizes)):
        is_path = isinstance(video, (str, Path))
        try:
            given: dict[str, object] = {}
            if any(spec.reads == "differences" for spec in specs):
                given["differences"] = FrameDifferences.of(video)
            if any(spec.reads == "video" for spec in specs) or not is_path:
                given["video"] = load_any(video)
            given["frames"] = video if is_path else given["video"]
            known = given.get("differences", given.get("video"))
            lengths.append(len(known) if known is not None else count_frames(video))
            rows.append([spec.score(given[spec.reads], prompt, chunk_size, lengths[-1]) for spec in specs])
        except ValueError as err:  # a video that cannot be read stays a VideoLoadError (--skip-bad's kind)
            name = video if is_path else f"video {i}"
            kind = VideoLoadError if isinstance(err, VideoLoadError) else ValueError
            raise kind(f"{name}: {str(err).removeprefix(f'{video}: ') if is_path else err}") from None
    table = pd.DataFrame(rows, columns=[spec.name for spec in specs], index=range(len(rows)), dtype=float)
    table.attrs["frames"] = lengths
    return table
