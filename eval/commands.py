"""What each `python -m eval` command does (`eval/cli.py` builds the parser): the metric commands, the
commands generated from the registry for frame-only metrics, the report, the paper run, the benchmark and
the weights downloader. User errors are exceptions that `cli.main` turns into one `error:` line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from .paper.settings import DRIFT_WINDOW_S, FULL, QUICK
from .weights import WEIGHTS, MissingWeightsError

if TYPE_CHECKING:  # the heavy imports happen inside the commands, so `--help` is fast
    import pandas as pd

    from .metric import MetricSpec


def _device(name: str) -> str:
    """`auto`, or a torch device that exists here (else a one-line error)."""
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"--device {name}: not a device name (cpu, cuda, cuda:1, mps, auto)") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"--device {name}: no CUDA GPU is visible to torch here (torch.cuda.is_available() "
                             "is False); use --device cpu (or auto)")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) here "
                             f"(cuda:0..cuda:{torch.cuda.device_count() - 1})")
    return name


def _cache(args: argparse.Namespace):
    from .features import FeatureCache

    return None if args.no_cache else FeatureCache(args.cache_dir)


def _load(args: argparse.Namespace, kind: str, loader):
    """Run `loader()`; with --download, fetch missing weights first and try again."""
    try:
        return loader()
    except MissingWeightsError:
        if not getattr(args, "download", False) or getattr(args, f"{kind}_weights", None) is not None:
            raise
    from .download import DownloadError, download_weights
    from .weights import how_to_get, weights_dir

    try:
        download_weights(kind, args.weights_dir, progress=not args.no_progress)
    except DownloadError as err:  # offline, or the server refused: say how to get the file by hand
        raise DownloadError(f"{err}\nWithout a network, download one of these elsewhere and put it here:\n"
                            + how_to_get(kind, weights_dir(args.weights_dir))) from None
    return loader()


def _videos(args: argparse.Namespace, directory: Path, num_frames: int | None, sampling: str, stride: int = 1,
            prompts: Path | None = None) -> tuple[list[Path], list[str] | None, dict[str, str]]:
    """The folder's videos in sorted() order (first --max-videos), their prompts, and the skipped ones."""
    from .prompts import read_prompt_file, read_prompts
    from .video_io import list_videos, split_usable

    videos = list_videos(directory)
    texts = read_prompts(prompts, videos) if prompts is not None else None
    if prompts is not None and isinstance(read_prompt_file(prompts), list):  # matched by order: show the pairing
        shown = "\n".join(f"  {v.name} <- {t!r}" for v, t in list(zip(videos, texts))[:10])
        more = f"\n  ... ({len(videos) - 10} more; all in --per-video)" if len(videos) > 10 else ""
        print(f"{prompts}: a list of prompts, matched to the videos in sorted() name order:\n{shown}{more}",
              file=sys.stderr)
    if args.max_videos is not None:
        if args.max_videos < 1:
            raise ValueError(f"--max-videos must be at least 1, got {args.max_videos}")
        videos = videos[:args.max_videos]
        texts = texts[:args.max_videos] if texts is not None else None
    skipped: dict[str, str] = {}
    if args.skip_bad:
        good, skipped = split_usable(videos, num_frames, sampling, stride)
        for name, why in skipped.items():
            print(f"skipped {directory / name}: {why}", file=sys.stderr)
        if texts is not None:
            keep = set(good)
            texts = [t for v, t in zip(videos, texts) if v in keep]
        videos = good
        if not videos:
            raise ValueError(f"{directory}: no usable videos left after --skip-bad")
    return videos, texts, skipped


def _finish(args: argparse.Namespace, table: "pd.DataFrame", per_video: "pd.DataFrame | None" = None,
            argv: Sequence[str] | None = None, **provenance: object) -> "pd.DataFrame":
    from .provenance import with_provenance
    from .results import format_table, write_table

    print(format_table(table))
    folder = getattr(args, "fake_dir", None) or args.video_dir
    table = with_provenance(table, argv, **provenance, source=str(Path(folder).resolve()), named=args.name is not None)
    if args.out:
        write_table(table, args.out)
    if per_video is not None and getattr(args, "per_video", None):
        common = {k: "; ".join(dict.fromkeys(x for x in v if x)) if isinstance(v, list) else v
                  for k, v in provenance.items() if k in ("skipped", "weights", "weights_sha256")}
        write_table(with_provenance(per_video, argv, **common), args.per_video)
    return table


def cmd_fvd(args: argparse.Namespace, argv: Sequence[str] | None = None) -> "pd.DataFrame":
    import pandas as pd

    from .fvd import FVD_FRAMES, check_set_sizes, fvd_features
    from .frechet import frechet_distance
    from .i3d import I3D
    from .kvd import kernel_distance
    from .provenance import skipped_column, videos_column, weights_columns
    from .real_stats import RealStats, real_stats_from
    from .results import summary_row
    from .videomae import VideoMAE

    device = _device(args.device)
    if args.features == "videomae":
        model = _load(args, "videomae", lambda: VideoMAE.load(args.videomae_weights, args.weights_dir, device, args.batch_size))
        num_frames, metric = args.num_frames or model.num_frames, "videomae"
    else:
        model = _load(args, "i3d", lambda: I3D.load(args.i3d_weights, args.weights_dir, device, args.batch_size))
        num_frames, metric = args.num_frames or FVD_FRAMES, ""
    preprocessing = model.describe_preprocessing(num_frames, args.stride)
    cache, progress = _cache(args), not args.no_progress
    skipped: dict[str, str] = {}
    stats_path = args.real_stats
    if stats_path is not None and stats_path.exists():
        stats = RealStats.load(stats_path)
        stats.check(stats_path, model.fingerprint, preprocessing)
        print(f"real set: {len(stats.videos)} videos' features from {stats_path}", file=sys.stderr)
    else:
        if str(args.real_dir) == "-":
            raise ValueError("REAL_DIR is - but there is no --real-stats file to read")
        real, _, bad = _videos(args, args.real_dir, num_frames, "consecutive", args.stride)
        skipped.update({f"real/{k}": v for k, v in bad.items()})
        feats = fvd_features(real, model, num_frames, args.stride, cache, progress, "real")
        stats = real_stats_from(feats, model.fingerprint or "", preprocessing, [v.name for v in real])
        if stats_path is not None:
            if model.fingerprint is None:
                raise ValueError("--real-stats needs a feature network loaded from a weights file")
            stats.save(stats_path)
            print(f"saved the real set's features to {stats_path}", file=sys.stderr)
    fake, _, bad = _videos(args, args.fake_dir, num_frames, "consecutive", args.stride)
    skipped.update({f"fake/{k}": v for k, v in bad.items()})
    fake_feats = fvd_features(fake, model, num_frames, args.stride, cache, progress, "fake")
    check_set_sizes({"real": len(stats.features), "fake": len(fake_feats)}, model.num_features)
    name = args.name or args.fake_dir.name
    suffix = f"_{metric}" if metric else ""
    table = pd.DataFrame([
        summary_row(name, "fvd" + suffix, frechet_distance(stats.features, fake_feats), len(fake)),
        summary_row(name, "kvd" + suffix, kernel_distance(stats.features, fake_feats, seed=0), len(fake)),
    ])
    return _finish(args, table, None, argv, **weights_columns([model]), preprocessing=preprocessing,
                   videos=videos_column({"real": len(stats.features), "fake": len(fake)}),
                   skipped=skipped_column(skipped))


def cmd_clip_score(args: argparse.Namespace, argv: Sequence[str] | None = None) -> "pd.DataFrame":
    import pandas as pd

    from .clip import CLIP, clip_scores
    from .provenance import weights_columns

    videos, prompts, skipped = _videos(args, args.video_dir, args.num_frames, "uniform", prompts=args.prompts)
    device = _device(args.device)
    model = _load(args, "clip", lambda: CLIP.load(args.clip_weights, args.clip_arch, args.weights_dir, device, args.batch_size))
    scores = clip_scores(videos, prompts, model, args.num_frames, _cache(args), not args.no_progress)
    per_video = pd.DataFrame({"video": [v.name for v in videos], "prompt": prompts, "clip_score": scores})
    provenance = {"clip_score": dict(**weights_columns([model]), preprocessing=model.describe_preprocessing(
        args.num_frames) + "; per frame 100 * max(cos, 0)")}
    return _finish_per_video(args, argv, per_video, provenance, skipped)


def cmd_consistency(args: argparse.Namespace, argv: Sequence[str] | None = None) -> "pd.DataFrame":
    specs = _selected(args)
    networked = [s for s in specs if s.weights]
    videos, _, skipped = _videos(args, args.video_dir, args.num_frames if networked else None, "uniform")
    per_video = _frame_scores(args, [s for s in specs if s.frame_only], videos)
    provenance = {s.name: {"preprocessing": _frame_preprocessing(args, s)} for s in specs if s.frame_only}
    if networked:  # torch and the networks load only here: flicker and seam score run without them
        _feature_consistencies(args, networked, videos, per_video, provenance)
    per_video = per_video[["video", *(s.name for s in specs), *(["chunk_size"] if "chunk_size" in per_video else [])]]
    return _finish_per_video(args, argv, per_video, provenance, skipped)


def _feature_consistencies(args: argparse.Namespace, networked: Sequence["MetricSpec"], videos: Sequence[Path],
                           per_video: "pd.DataFrame", provenance: dict[str, dict]) -> None:
    """Subject (DINO) and background (CLIP) consistency of each video, added to `per_video` and `provenance`."""
    from .clip import CLIP
    from .consistency import feature_consistencies
    from .dino import DINO
    from .provenance import weights_columns

    device = _device(args.device)
    by_network = {"dino": lambda: DINO.load(args.dino_weights, args.dino_arch, args.weights_dir, device),
                  "clip": lambda: CLIP.load(args.clip_weights, args.clip_arch, args.weights_dir, device)}
    for spec in networked:
        try:
            model = _load(args, spec.weights, by_network[spec.weights])
        except MissingWeightsError as err:
            free = ",".join(s.option for s in args.specs if s.frame_only)
            raise MissingWeightsError(f"{err}\n(--metrics {free} needs no weights)") from None
        per_video[spec.name] = feature_consistencies(model, videos, args.num_frames, _cache(args),
                                                     not args.no_progress, spec.weights.upper())
        provenance[spec.name] = dict(**weights_columns([model]), preprocessing=model.describe_preprocessing(args.num_frames))


def cmd_frame_metrics(args: argparse.Namespace, argv: Sequence[str] | None = None) -> "pd.DataFrame":
    """A command generated from the registry: frame-only metrics of each video of a folder."""
    specs = _selected(args)
    videos, prompts, skipped = _videos(args, args.video_dir, None, "consecutive", prompts=getattr(args, "prompts", None))
    per_video = _frame_scores(args, specs, videos, prompts)
    provenance = {s.name: {"preprocessing": _frame_preprocessing(args, s)} for s in specs}
    return _finish_per_video(args, argv, per_video, provenance, skipped)


def _selected(args: argparse.Namespace) -> list["MetricSpec"]:
    """The command's metrics that --metrics names (all of them without the option); notes printed."""
    specs = args.specs
    if getattr(args, "metrics", None):
        options = {s.option: s for s in specs}
        wanted = [m.strip() for m in args.metrics.split(",") if m.strip()]
        unknown = sorted(set(wanted) - set(options))
        if unknown:
            raise ValueError(f"unknown --metrics {unknown}; choose from {','.join(options)}")
        specs = [s for s in specs if s.option in wanted]
    for spec in specs:
        if spec.note:
            print(f"note: {spec.name}: {spec.note}", file=sys.stderr)
    return specs


def _frame_scores(args: argparse.Namespace, specs: Sequence["MetricSpec"], videos: Sequence[Path],
                  prompts: Sequence[str] | None = None) -> "pd.DataFrame":
    """Per-video values of frame-only metrics (`metric.score_videos`), each video read once; the chunk size is
    --chunk-size, else the video's sidecar JSON (column `chunk_size`); the videos that get no chunk metric are
    named in a note."""
    import pandas as pd

    from .metric import score_videos
    from .video_io import read_chunk_frames

    chunked = [s.name for s in specs if "chunk_size" in s.needs]
    chunks = [getattr(args, "chunk_size", None) or read_chunk_frames(v) for v in videos] if chunked else None
    table = score_videos(specs, videos, prompts, chunks)
    table.insert(0, "video", [v.name for v in videos])
    if prompts is not None:
        table.insert(1, "prompt", prompts)
    if chunked:
        _chunk_notes(", ".join(chunked), videos, chunks, table.attrs["frames"])
        table["chunk_size"] = pd.array(chunks, dtype="Int64")
    return table


def _chunk_notes(metrics: str, videos: Sequence[Path], chunks: Sequence[int | None], frames: Sequence[int]) -> None:
    """Name the videos that got no chunk metric, and why: no chunk size, or shorter than two chunks."""
    from .metric import chunk_scorable

    def shown(names: list[str]) -> str:
        return ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")

    unknown = [v.name for v, c in zip(videos, chunks) if c is None]
    if unknown:
        print(f"note: {metrics}: no chunk size for {shown(unknown)}: give --chunk-size or write <video>.json with "
              "chunk_frames", file=sys.stderr)
    short = [f"{v.name} ({n} frames, chunk size {c})" for v, c, n in zip(videos, chunks, frames)
             if c is not None and not chunk_scorable(n, c)]
    if short:
        print(f"note: {metrics}: no value for {shown(short)}: a video needs two whole chunks of at least 2 "
              "frames", file=sys.stderr)


def _frame_preprocessing(args: argparse.Namespace, spec: "MetricSpec") -> str:
    """How a frame-only metric read the videos, for the provenance of a result."""
    text = f"all frames at their own size, no resize; {spec.summary}"
    if "chunk_size" in spec.needs:
        text += "; chunk size from " + (f"--chunk-size {args.chunk_size}" if getattr(args, "chunk_size", None)
                                         else "chunk_frames of each video's sidecar JSON")
    return text


def _finish_per_video(args: argparse.Namespace, argv: Sequence[str] | None, per_video: "pd.DataFrame",
                      provenance: dict[str, dict], skipped: dict[str, str]) -> "pd.DataFrame":
    """Summary rows (bootstrap means over videos) of every metric column with a value, written with provenance."""
    import pandas as pd

    from .provenance import skipped_column, videos_column
    from .results import summary_row
    from .stats import bootstrap_mean

    name = args.name or args.video_dir.name
    columns = [c for c in per_video.columns if c in provenance and per_video[c].notna().any()]
    table = pd.DataFrame([summary_row(name, c, bootstrap_mean(per_video[c].dropna().to_numpy(float), seed=args.seed))
                          for c in columns])
    if "chunk_size" in per_video.columns:  # the chunk size(s) each chunk metric's value was scored at
        table.insert(len(table.columns), "chunk_size", [_chunk_sizes(per_video, c) for c in columns])
    extra = {key: [provenance[c].get(key, "") for c in columns] for key in ("weights", "weights_sha256", "preprocessing")}
    return _finish(args, table, per_video, argv, **extra, videos=videos_column({"videos": len(per_video)}),
                   skipped=skipped_column(skipped))


def _chunk_sizes(per_video: "pd.DataFrame", column: str) -> str:
    """The chunk sizes of the videos that have a value in a chunk metric's column ("8", or "4/8" for a folder
    whose sidecars differ); "" for a metric that has no chunk size."""
    from .registry import METRICS

    spec = METRICS.lookup(column)
    if spec is None or "chunk_size" not in spec.needs:
        return ""
    sizes = per_video.loc[per_video[column].notna(), "chunk_size"].dropna()
    return "/".join(str(int(c)) for c in sorted(set(sizes)))


def cmd_adherence(args: argparse.Namespace, argv: Sequence[str] | None = None) -> "pd.DataFrame":
    import pandas as pd

    from .adherence import adherence_table, summarise, world_of
    from .provenance import skipped_column, videos_column
    from .results import summary_row

    videos, prompts, skipped = _videos(args, args.video_dir, None, "consecutive", prompts=args.prompts)
    world = world_of(videos) if args.world == "auto" else args.world
    per_video = adherence_table(videos, prompts, world)
    name = args.name or args.video_dir.name
    rows = [summary_row(name, f"adherence_{key}", estimate) for key, estimate in summarise(per_video, args.seed).items()]
    per_video.insert(0, "video", [v.name for v in videos])
    per_video.insert(1, "prompt", prompts)
    detector = "streamdit.data.detect_adherence" if world == "v1" else "streamdit.data.v2.detect_adherence"
    return _finish(args, pd.DataFrame(rows), per_video, argv,
                   preprocessing=f"all frames, no resize; world {world}: {detector} detector",
                   videos=videos_column({"videos": len(videos)}), skipped=skipped_column(skipped))


def cmd_dynamic_degree(args: argparse.Namespace, argv: Sequence[str] | None = None) -> "pd.DataFrame":
    import pandas as pd

    from .dynamic_degree import RAFTFlow, dynamic_degree_per_video
    from .provenance import skipped_column, videos_column, weights_columns
    from .results import summary_row
    from .stats import bootstrap_mean

    videos, _, skipped = _videos(args, args.video_dir, None, "consecutive")
    device = _device(args.device)
    model = _load(args, "raft", lambda: RAFTFlow.load(args.raft_weights, args.weights_dir, device, args.iters,
                                                      args.batch_size))
    flags = dynamic_degree_per_video(videos, model, args.fps)
    name = args.name or args.video_dir.name
    per_video = pd.DataFrame({"video": [v.name for v in videos], "moves": flags.astype(bool)})
    table = pd.DataFrame([summary_row(name, "dynamic_degree", bootstrap_mean(flags, seed=args.seed))])
    fps = f"--fps {args.fps}" if args.fps else "each file's fps"
    return _finish(args, table, per_video, argv, **weights_columns([model]),
                   preprocessing=f"{model.describe_preprocessing()} ({fps})",
                   videos=videos_column({"videos": len(videos)}), skipped=skipped_column(skipped))


def cmd_report(args: argparse.Namespace, argv: Sequence[str] | None = None) -> "pd.DataFrame":
    from .report import make_report

    table = make_report(args.results, args.out)
    print((args.out / "report.md").read_text())
    print(f"wrote {args.out / 'report.md'}, {args.out / 'report.png'}, {args.out / 'summary.csv'}")
    return table


def cmd_paper(args: argparse.Namespace, argv: Sequence[str] | None = None) -> Path:
    from dataclasses import replace

    from streamdit import BUNDLED_DIR

    from .paper.run import run_paper

    settings = QUICK if args.quick else FULL
    overrides = {k: v for k, v in (("prompts", args.prompts), ("frames", args.frames), ("streams", args.streams)) if v}
    if args.drift_seconds is not None:
        if args.drift_seconds and args.drift_seconds < DRIFT_WINDOW_S:
            raise ValueError(f"--drift-seconds must be 0 (no drift streams) or at least one {DRIFT_WINDOW_S} s window, "
                             f"got {args.drift_seconds}")
        overrides["drift_seconds"] = args.drift_seconds
    teacher, single, student = (path or BUNDLED_DIR / name for path, name in (
        (args.teacher, "teacher"), (args.single_scheme, "single-scheme"), (args.student, "student")))
    table = run_paper(args.out, replace(settings, **overrides), teacher, single, student,
                      _device(args.device), args.fd_features, args.i3d_weights, args.clip_weights, args.weights_dir,
                      args.seed, not args.no_progress, args.same_budget_teacher)
    print(table.read_text())
    print(f"wrote {table}, CSVs and plots in {args.out}, human-eval study in {args.out / 'study'}")
    return table


def cmd_bench(args: argparse.Namespace, argv: Sequence[str] | None = None) -> "pd.DataFrame":
    import torch

    from .bench import run_bench

    device = _device(args.device)
    print(f"on {device} ({torch.get_num_threads()} threads), {args.videos} videos x {args.frames} frames x "
          f"{args.size}x{args.size}; random weights of the real architectures, the same for both sides (speed "
          "real, values meaningless but compared); decoding not timed; best of "
          f"{args.repeats}")
    table = run_bench(args.videos, args.frames, args.size, device, repeats=args.repeats)
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3g}"))
    return table


def cmd_weights(args: argparse.Namespace, argv: Sequence[str] | None = None) -> None:
    from .weights import weights_dir

    root = weights_dir(args.weights_dir)
    if args.action == "list":
        for kind, files in WEIGHTS.items():
            for i, w in enumerate(files):
                here = "present" if (root / w.relpath).exists() else "missing"
                pinned = f"sha256 {w.sha256}" if w.sha256 else "no pinned sha256"
                print(f"{kind}{'' if i == 0 else f' (alternative {i})'}: {root / w.relpath} [{here}]\n"
                      f"    <- {w.url} ({pinned})\n    {w.source}")
        return
    if not args.names:
        raise ValueError(f"weights download needs NAME(s): {', '.join(WEIGHTS)}")
    from .download import download_weights

    for name in args.names:
        print(f"{name}: {download_weights(name, root)}")


