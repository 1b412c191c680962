"""`python -m eval paper`: the paper's evaluation at our scale, in one run.

Systems, all sampled on the same held-out prompts of their synthetic world (pipeline.json `world`, v1 or v2,
the same for every system; `streamdit.data.worlds`) with the same seeds:
- `teacher`: StreamDiT trained with mixed chunk sizes, sampled with its own scheme and guidance;
- `single-scheme`: the ablation trained on one chunk size only;
- `student`: the distilled student (s = 1, no guidance);
- `fifo`: FIFO-Diffusion-style frame-wise diagonal denoising, the teacher's weights sampled with
  c = 1, s = 1 (docs/architecture.md §2.2);
- `chunk-ar`: chunk-autoregressive generation with the teacher's weights: each chunk is denoised from
  noise over all K * s steps behind clean earlier frames (`streamdit.inference.sampler.denoise_autoregressive`);
- `teacher-same-budget` (only with `--same-budget-teacher`): the teacher at the ablation's step count, so that
  mixed vs single-scheme training is also compared at equal budget when the shipped teacher trained longer;
- `ground-truth`: the world's own renders of the same prompts (the detector's ceiling; FD's reference).

Metrics per system: FD against the ground-truth renders (I3D FVD when I3D weights are found, else FD on
the teacher's video-autoencoder latents, `eval.ae_features`), CLIP score (only with local CLIP weights),
prompt adherence (the world's analytic detector: every prompted attribute right), temporal flicker, seam
score and the share of frame change inside chunks (at the system's chunk length; the ground truth is
scored at every chunk length a system uses, one row each), long streams whose prompt changes half-way
(`VideoStream.set_prompt`), scored by the detector against the old prompt before the change and the
new one once the buffer has turned over, and the long-stream drift: a stream of `Settings.drift_seconds`
per streaming system, once with one prompt and once with the prompt changed every 30 s, scored per 15 s
window (`eval.motion.window_scores`). Means carry 95% bootstrap intervals (`eval.stats`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from streamdit import BUNDLED_DIR, StreamDiTPipeline, write_video
from streamdit.data import worlds

from ..adherence import ATTRIBUTES, adherence_table
from ..ae_features import AutoencoderFeatures
from ..clip import CLIP, clip_scores
from ..dynamic_degree import RAFTFlow, dynamic_degree_per_video
from ..frechet import frechet_distance
from ..fvd import FVD_FRAMES, fvd_features
from ..i3d import I3D
from ..metric import MetricSpec, score_videos
from ..motion import window_scores
from ..registry import METRICS
from ..results import summary_row
from ..stats import bootstrap_mean
from ..weights import DEFAULT_CLIP_ARCH, MissingWeightsError, resolve_weights
from .report import write_outputs
from .settings import DRIFT_CHANGE_S, DRIFT_WINDOW_S, Settings
from .study import write_study

GROUND_TRUTH = "ground-truth"
METRIC_NOTES = (  # the figures that are neither frame-only metrics (the registry's, `metric_notes`) nor adherence
    ("switch_before / switch_after: detector match with the old prompt over the first frames and with the new "
     "prompt over the last frames, after the buffer turned over (paper_switch.csv)"),
    "gen_fps: frames per second of generating the held-out videos on this device (no interval)",
    "dynamic_degree: VBench's share of videos that move (RAFT optical flow)",
    "ground-truth-cN: the domain's own renders scored at N frames per chunk",
)
QUEUE_LAG_CHUNKS = 3  # chunks a stream may have made before a prompt change reaches the model (queue of 2 + 1)
DRIFT_SYSTEMS = ("teacher", "student")  # the streaming systems a visitor meets


@dataclass(frozen=True)
class System:
    """A system of the comparison: a pipeline directory sampled with some sampler settings changed."""

    name: str
    directory: Path
    sampler: tuple[tuple[str, object], ...] = ()
    description: str = ""


def paper_systems(teacher: Path, single_scheme: Path, student: Path,
                  same_budget_teacher: Path | None = None) -> list[System]:
    """The five systems of the comparison (module docstring), and the teacher at the ablation's budget if given."""
    same_budget = [] if same_budget_teacher is None else [
        System("teacher-same-budget", same_budget_teacher, (),
               "StreamDiT, mixed chunk-size training, as many steps as single-scheme (the ablation's reference)")]
    return [
        System("teacher", teacher, (), "StreamDiT, mixed chunk-size training"),
        System("single-scheme", single_scheme, (), "ablation: one chunk size in training"),
        System("student", student, (), "distilled student: one step per chunk, no guidance"),
        System("fifo", teacher, (("chunk_size", 1), ("micro_steps", 1)),
               "FIFO-style baseline: teacher weights, c = 1, s = 1"),
        System("chunk-ar", teacher, (("mode", "chunk-autoregressive"),),
               "chunk-autoregressive baseline: teacher weights, each chunk from noise behind clean frames"),
        *same_budget,
    ]


_HOW_TO_GET = (f"Train the bundled models with `make train-bundled` (they go to {BUNDLED_DIR}/teacher, single-scheme, "
               "student), or pass --teacher / --single-scheme / --student DIR")


def pipeline_world(system: System) -> str:
    """The synthetic world the system's pipeline was trained on (pipeline.json `world`), read without loading it."""
    try:
        return StreamDiTPipeline.config_of(system.directory).world
    except FileNotFoundError as err:
        raise FileNotFoundError(f"{system.name}: {err}. {_HOW_TO_GET}") from None


def system_world(systems: list[System]) -> str:
    """The synthetic world of the systems' pipelines, which they must share."""
    named = {system.name: pipeline_world(system) for system in systems}
    if len(set(named.values())) > 1:
        raise ValueError("the systems come from different synthetic worlds ("
                         + ", ".join(f"{name}: {world}" for name, world in named.items())
                         + "): compare the models of one world")
    return named[systems[0].name]


def check_model_dirs(systems: list[System]) -> None:
    """Raise FileNotFoundError naming every missing pipeline directory and how to get one."""
    missing = sorted({str(s.directory) for s in systems if not s.directory.is_dir()})
    if missing:
        raise FileNotFoundError(f"no such pipeline directory: {', '.join(missing)}. {_HOW_TO_GET}")


def load_system(system: System, device: str) -> StreamDiTPipeline:
    """The system's pipeline, with its sampler settings applied to the loaded one."""
    try:
        pipe = StreamDiTPipeline.from_pretrained(system.directory, device=device)
    except FileNotFoundError as err:
        raise FileNotFoundError(f"{system.name}: {err}. {_HOW_TO_GET}") from None
    if not system.sampler:
        return pipe
    return StreamDiTPipeline(pipe.model, pipe.text_encoder, pipe.autoencoder, replace(pipe.config, **dict(system.sampler)),
                             device=pipe.device, dtype=pipe.dtype)


def generate(pipe: StreamDiTPipeline, prompts: list[str], frames: int, seed: int, progress: bool,
             desc: str) -> tuple[list[np.ndarray], float]:
    """One video per prompt (seed + i for prompt i) and the frames per second of generation."""
    start, videos = time.perf_counter(), []
    for i, prompt in enumerate(tqdm(prompts, desc=desc, unit="video", disable=not progress)):
        videos.append(pipe.generate(prompt, num_frames=frames, seed=seed + i))
    return videos, sum(map(len, videos)) / (time.perf_counter() - start)


def settle_frames(pipe: StreamDiTPipeline) -> int:
    """Frames after a requested prompt change that may still show the old prompt: the buffer's length in
    video frames plus the chunks already queued (the request reaches the model at its next evaluation)."""
    buffer = pipe.model.config.buffer_frames * pipe.autoencoder.temporal_compression
    return buffer + QUEUE_LAG_CHUNKS * pipe.frames_per_chunk


def long_stream(pipe: StreamDiTPipeline, prompts: list[tuple[int, str]], total: int, seed: int,
                progress: bool = False, desc: str = "") -> np.ndarray:
    """`total` frames of one stream; `prompts` lists (frame, prompt) in order: the stream starts with the
    first prompt (its frame is 0) and changes to each next one once that many frames were received."""
    got, pending, received = [], list(prompts[1:]), 0
    with pipe.stream(prompts[0][1], seed=seed) as stream, \
            tqdm(total=total, desc=desc, unit="frame", disable=not progress) as bar:
        for chunk in stream:
            got.append(chunk)
            received += len(chunk)
            bar.update(len(chunk))
            while pending and pending[0][0] <= received:
                stream.set_prompt(pending.pop(0)[1])
            if received >= total:
                break
    return np.concatenate(got)[:total]


def stream_with_switch(pipe: StreamDiTPipeline, first: str, second: str, frames: int, seed: int) -> np.ndarray:
    """A stream of `first` whose prompt changes to `second` after `frames` frames were received; it
    runs on for `settle_frames` + `frames` frames."""
    return long_stream(pipe, [(0, first), (frames, second)], 2 * frames + settle_frames(pipe), seed)


def drift_scores(system: str, pipe: StreamDiTPipeline, prompts: list[str], seconds: int, seed: int,
                 progress: bool) -> pd.DataFrame:
    """The drift measure of one system: a stream of `seconds` with `prompts[0]` throughout, and one whose
    prompt moves on through `prompts` every `DRIFT_CHANGE_S` seconds; `window_scores` per 15 s window
    (adherence by the detector of the pipeline's world, skipping `settle_frames` after each change)."""
    fps, chunk = pipe.config.fps, pipe.frames_per_chunk
    window, every, total = DRIFT_WINDOW_S * fps, DRIFT_CHANGE_S * fps, seconds * fps
    count = total // window
    tables = []
    for changes in (False, True):
        starts = list(range(0, total, every)) if changes else [0]
        schedule = [(frame, prompts[i % len(prompts)]) for i, frame in enumerate(starts)]
        video = long_stream(pipe, schedule, total, seed, progress,
                            f"{system} drift{' with prompt changes' if changes else ''}")
        active = [schedule[sum(f <= w * window for f in starts) - 1][1] for w in range(count)]
        skip = [settle_frames(pipe) if w and w * window in starts else 0 for w in range(count)]
        table = window_scores(video, active, chunk, window, skip, fps, pipe.config.world)
        table.insert(0, "system", system)
        table.insert(1, "prompt_changes", changes)
        tables.append(table)
    return pd.concat(tables, ignore_index=True)


def switch_scores(system: str, pipe: StreamDiTPipeline, pairs: list[tuple[str, str]], frames: int, seed: int,
                  progress: bool) -> list[dict]:
    """One row per prompt-change stream: match of the pipeline's world's detector with the old prompt over
    the first `frames` frames and with the new prompt over the last `frames` (after `settle_frames`)."""
    rows = []
    for i, (before, after) in enumerate(tqdm(pairs, desc=f"{system} prompt change", unit="stream", disable=not progress)):
        video = stream_with_switch(pipe, before, after, frames, seed + i)
        old = worlds.detect_adherence(pipe.config.world, video[:frames], before)
        new = worlds.detect_adherence(pipe.config.world, video[-frames:], after)
        rows.append({"system": system, "stream": i, "prompt_before": before, "prompt_after": after,
                     "switch_before": bool(old["match"]), "switch_after": bool(new["match"]),
                     "frames": len(video), "settle_frames": settle_frames(pipe)})
    return rows


def switch_prompts(world: str, n: int, resolution: int, seed: int) -> list[tuple[str, str]]:
    """`n` (before, after) canonical captions of held-out scenes of `world` in which an object's attributes
    change (not only the background or camera), from the world's long videos (`worlds.prompt_change`)."""
    rng, pairs = np.random.default_rng(seed), []
    while len(pairs) < n:
        a, b = worlds.prompt_change(world, rng, "heldout", resolution)
        if [o.attributes for o in a.objects] != [o.attributes for o in b.objects]:
            pairs.append((worlds.caption(world, a), worlds.caption(world, b)))
    return pairs


def load_fd_features(kind: str, teacher: StreamDiTPipeline, i3d_weights: Path | None, weights_dir: Path | None,
                     device: str) -> tuple[object, str, str]:
    """(feature model, metric name, description): I3D if asked for, given or found, else the teacher's
    autoencoder (`eval.ae_features`)."""
    if kind == "i3d" or (kind == "auto" and (i3d_weights is not None or _found("i3d", weights_dir))):
        model = I3D.load(i3d_weights, weights_dir, device)
        return model, "fvd", f"FVD: I3D Kinetics-400 logits ({resolve_weights('i3d', i3d_weights, weights_dir).name})"
    return (AutoencoderFeatures(teacher.autoencoder, device), "fd_ae",
            ("fd_ae: Fréchet distance on the teacher's video-autoencoder latents (eval/ae_features.py), the offline "
             "stand-in when no I3D weights are found: a domain proxy, not comparable with published FVD"))


def _found(kind: str, weights_dir: Path | None) -> bool:
    """Whether a weights file of `kind` is in the weights folder."""
    try:
        resolve_weights(kind, None, weights_dir)
    except MissingWeightsError:
        return False
    return True


def fd_frames(metric: str, frames: int, temporal_compression: int) -> int:
    """Frames per clip for FD: 16 for FVD, else the most (<= 16) that the autoencoder can encode."""
    n = min(FVD_FRAMES, frames)
    if metric == "fvd":
        if n < 9:
            raise ValueError(f"FVD needs videos of at least 9 frames, got {frames}")
        return n
    return n - n % temporal_compression


def frame_metrics() -> list[MetricSpec]:
    """The registry's frame-only metrics that the paper run reports (`MetricSpec.in_paper`)."""
    return [spec for spec in METRICS if spec.frame_only and spec.in_paper]


def attribute_words(world: str) -> str:
    """The attributes that `world`'s detector reads for "match", in words: "colour, shape and direction" (v1)."""
    names = ["colour" if name == "color" else name for name in ATTRIBUTES[world] if name not in ("match", "count")]
    return f"{', '.join(names[:-1])} and {names[-1]}"  # count is reported, not part of match


def adherence_note(world: str) -> str:
    """What the adherence column means for `world`."""
    return (f"adherence: fraction of videos whose {attribute_words(world)} the analytic detector of world {world} "
            "reads as prompted (an attribute the prompt does not give is not scored)")


def metric_notes(world: str) -> list[str]:
    """What each column means: adherence in `world`, the registry's summaries of the frame-only metrics, then
    `METRIC_NOTES`."""
    frame_only = [f"{spec.name} ({spec.direction}): {spec.summary}" + (f"; {spec.note}" if spec.note else "")
                  for spec in frame_metrics()]
    return [adherence_note(world), *frame_only, *METRIC_NOTES]


def video_metrics(system: str, videos: list[np.ndarray], prompts: list[str], chunk_frames: int | None,
                  paths: list[str], raft: RAFTFlow | None = None, fps: float = 16, world: str = "v1") -> pd.DataFrame:
    """Per-video booleans of `world`'s detector, the frame-only metrics (NaN where a chunk has no inner frame
    pair or no border), and dynamic degree where RAFT weights are given."""
    table = adherence_table(videos, prompts, world)
    table.insert(0, "system", system)
    table.insert(1, "video", paths)
    table.insert(2, "prompt", prompts)
    table = table.join(score_videos(frame_metrics(), videos, prompts, [chunk_frames] * len(videos)))
    table["dynamic_degree"] = dynamic_degree_per_video(videos, raft, fps) if raft is not None else np.nan
    return table


def truth_motion(videos: list[np.ndarray], chunk_frames: int) -> pd.DataFrame:
    """The ground truth's chunk metrics (seam score, inside share) at `chunk_frames` per chunk (row
    `ground-truth-cN`)."""
    chunked = [spec for spec in frame_metrics() if "chunk_size" in spec.needs]
    table = score_videos(chunked, videos, chunk_sizes=[chunk_frames] * len(videos))
    table.insert(0, "system", f"{GROUND_TRUTH}-c{chunk_frames}")
    table.insert(1, "video", "")
    return table


def summarise(per_video: pd.DataFrame, switches: pd.DataFrame, fd: dict[str, float], fd_metric: str,
              fps: dict[str, float], clip: pd.DataFrame | None, seed: int) -> pd.DataFrame:
    """One (system, metric) row each, in table order, with bootstrap intervals on the means."""
    rows = []
    for system, group in per_video.groupby("system", sort=False):
        if system in fd:
            rows.append(summary_row(system, fd_metric, fd[system], len(group)))
        if clip is not None and system in set(clip["system"]):
            rows.append(summary_row(system, "clip_score", bootstrap_mean(clip.loc[clip["system"] == system, "clip_score"], seed=seed)))
        for column in ("match", *(spec.name for spec in frame_metrics()), "dynamic_degree"):
            values = group[column].dropna().to_numpy(float)
            if values.size:
                rows.append(summary_row(system, "adherence" if column == "match" else column,
                                        bootstrap_mean(values, seed=seed)))
        streams = switches[switches["system"] == system]
        for column in ("switch_before", "switch_after"):
            if len(streams):
                rows.append(summary_row(system, column, bootstrap_mean(streams[column].to_numpy(float), seed=seed)))
        if system in fps:
            rows.append(summary_row(system, "gen_fps", fps[system]))
    return pd.DataFrame(rows)


def run_paper(out: Path, settings: Settings, teacher: Path, single_scheme: Path, student: Path,
              device: str = "cpu", fd_kind: str = "auto", i3d_weights: Path | None = None,
              clip_weights: Path | None = None, weights_dir: Path | None = None, seed: int = 0,
              progress: bool = True, same_budget_teacher: Path | None = None) -> Path:
    """Generate, score and write everything under `out` (module docstring); returns paper_table.md."""
    systems = paper_systems(teacher, single_scheme, student, same_budget_teacher)
    check_model_dirs(systems)
    world = system_world(systems)
    study = out / "study"
    first = load_system(systems[0], device)
    resolution = first.resolution[0]
    items = worlds.evaluation_set(world, "heldout", settings.prompts, seed, resolution)
    prompts = [text for _, text in items]
    truth = [worlds.render(world, spec, settings.frames) for spec, _ in items]
    fd_model, fd_metric, fd_note = load_fd_features(fd_kind, first, i3d_weights, weights_dir, device)
    n_fd = fd_frames(fd_metric, settings.frames, first.autoencoder.temporal_compression)
    real = fvd_features(truth, fd_model, n_fd, desc="FD ground truth", progress=progress)
    use_clip = clip_weights is not None or _found("clip", weights_dir)  # a path given must exist
    clip_model = CLIP.load(clip_weights, DEFAULT_CLIP_ARCH, weights_dir, device) if use_clip else None
    raft = RAFTFlow.load(None, weights_dir, device) if _found("raft", weights_dir) else None
    pairs = switch_prompts(world, settings.streams, resolution, seed)
    drift_prompts = [before for before, _ in switch_prompts(world, max(1, settings.drift_seconds // DRIFT_CHANGE_S),
                                                            resolution, seed + 1)]
    tables, switches, drift, fd, fps, clip_rows, study_videos, notes = [], [], [], {}, {}, [], {}, []
    chunk_lengths: set[int] = set()
    for system in systems:
        pipe = first if system is systems[0] else load_system(system, device)
        videos, fps[system.name] = generate(pipe, prompts, settings.frames, seed, progress, system.name)
        paths = [f"videos/{system.name}/video_{i:04d}.mp4" for i in range(len(videos))]
        for path, video in zip(paths, videos):
            write_video(study / path, video, pipe.config.fps)
        study_videos[system.name] = paths
        tables.append(video_metrics(system.name, videos, prompts, pipe.frames_per_chunk, paths, raft, pipe.config.fps,
                                    world))
        chunk_lengths.add(pipe.frames_per_chunk)
        fd[system.name] = frechet_distance(real, fvd_features(videos, fd_model, n_fd, desc=f"FD {system.name}", progress=progress))
        if clip_model is not None:
            scores = clip_scores(videos, prompts, clip_model, progress=progress)
            clip_rows += [{"system": system.name, "clip_score": s} for s in scores]
        switches += switch_scores(system.name, pipe, pairs, settings.frames, seed, progress)
        if system.name in DRIFT_SYSTEMS and settings.drift_seconds:
            drift.append(drift_scores(system.name, pipe, drift_prompts, settings.drift_seconds, seed, progress))
        s = pipe.schedule.scheme
        notes.append(f"{system.name}: {system.description}; K = {s.num_chunks}, c = {s.chunk_size}, s = {s.micro_steps}, "
                     f"guidance {pipe.config.guidance}, {pipe.frames_per_chunk} frames per chunk, mode {pipe.config.mode}")
    tables.append(video_metrics(GROUND_TRUTH, truth, prompts, None, [""] * len(truth), raft, first.config.fps, world))
    tables += [truth_motion(truth, c) for c in sorted(chunk_lengths) if 2 <= c < settings.frames]
    write_study(study, prompts, study_videos)
    per_video = pd.concat(tables, ignore_index=True)
    summary = summarise(per_video, pd.DataFrame(switches), fd, fd_metric, fps,
                        pd.DataFrame(clip_rows) if clip_rows else None, seed)
    missing = {} if clip_model is not None else {"clip_score": "n/a: no CLIP weights"}
    if raft is None:
        missing["dynamic_degree"] = "n/a: no RAFT weights (python -m eval weights download raft)"
    header = (f"Data: {worlds.describe(world)}, adherence read on {attribute_words(world)}. "
              f"{settings.prompts} held-out prompts x {settings.frames} frames at "
              f"{resolution}x{resolution} per system (seed {seed}), {settings.streams} long streams with a prompt change "
              f"per system, a {settings.drift_seconds} s drift stream with and without prompt changes for "
              f"{', '.join(DRIFT_SYSTEMS)}; device {device}.")
    notes = [fd_note, *metric_notes(world), *notes,
             f"human-eval study: {study / 'pairs.csv'} (`python -m human_eval serve --study {study} --db votes.sqlite`)"]
    return write_outputs(out, summary, per_video, pd.DataFrame(switches), missing, header, notes,
                         pd.concat(drift, ignore_index=True) if drift else None)
