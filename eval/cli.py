"""`python -m eval`: FVD/KVD, CLIP score, consistency, VBench motion, prompt adherence, reports, a benchmark
against the reference implementations, and the weights downloader."""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from .paper.settings import DRIFT_WINDOW_S, FULL, QUICK
from .weights import DEFAULT_CLIP_ARCH, DEFAULT_DINO_ARCH, WEIGHTS, MissingWeightsError

if TYPE_CHECKING:  # the heavy imports happen inside the commands, so `--help` is fast
    import pandas as pd

DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "streamdit" / "eval-features"
CONSISTENCY_METRICS = ("subject", "background", "flicker", "seam", "inside", "frozen")


def _weights_help(kind: str) -> str:
    files = "; ".join(f"{w.relpath} from {w.url}" for w in WEIGHTS[kind])
    return (f"{kind} weights file (default: the first present in the weights dir of: {files}). "
            f"Downloaded only with --download or `python -m eval weights download {kind}`.")


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


def _common(parser: argparse.ArgumentParser, name_help: str = "system name in the results (default: the folder name)",
            bootstrap: bool = True) -> None:
    parser.add_argument("--out", type=Path, help="write the results table to FILE.json or FILE.csv")
    parser.add_argument("--name", help=name_help)
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, ... (default: cuda if present)")
    parser.add_argument("--weights-dir", type=Path,
                        help="folder with the weight files (default: $STREAMDIT_EVAL_WEIGHTS, else "
                             "$XDG_CACHE_HOME/streamdit/eval-weights, XDG_CACHE_HOME defaulting to ~/.cache)")
    parser.add_argument("--download", action="store_true",
                        help="download missing weights into the weights dir first (checksum-verified; off by default)")
    parser.add_argument("--max-videos", type=int, metavar="N",
                        help="use only the first N videos of each folder (in sorted() name order)")
    parser.add_argument("--skip-bad", action="store_true",
                        help="skip videos that cannot be decoded or are too short, and list them in the result "
                             "(default: stop at the first one)")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE,
                        help=f"feature cache, keyed by video file content (default: {DEFAULT_CACHE})")
    parser.add_argument("--no-cache", action="store_true", help="do not read or write cached features")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    if bootstrap:
        parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap resampling")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m eval", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("fvd", help="Frechet Video Distance between two folders of videos (I3D features)",
                       description="FVD with StyleGAN-V's protocol: the first --num-frames frames of every video, "
                                   "each video resized to 224x224 on its own, I3D Kinetics-400 logits, Frechet "
                                   "distance of Gaussians; KVD (polynomial-kernel MMD, StyleGAN-V's) beside it. "
                                   "Sets smaller than the feature dimension (400) give a warning: FVD is strongly "
                                   "biased there.")
    p.add_argument("real_dir", type=Path, help="folder of reference videos (files or frame folders); - with --real-stats")
    p.add_argument("fake_dir", type=Path, help="folder of generated videos")
    p.add_argument("--features", choices=["i3d", "videomae"], default="i3d",
                   help="feature network: i3d (standard FVD, default) or videomae (a local transformers VideoMAE dir)")
    p.add_argument("--i3d-weights", type=Path, help=_weights_help("i3d"))
    p.add_argument("--videomae-weights", type=Path, help=_weights_help("videomae"))
    p.add_argument("--num-frames", type=int,
                   help="frames per clip (default: 16 for I3D, as StyleGAN-V; the model's own length for VideoMAE)")
    p.add_argument("--stride", type=int, default=1, help="take every STRIDE-th frame (default 1)")
    p.add_argument("--batch-size", type=int, default=8, help="clips per I3D forward pass")
    p.add_argument("--real-stats", type=Path, metavar="FILE.npz",
                   help="real-set features: loaded from FILE if it exists (REAL_DIR is then not read; it may be "
                        "given as -), else computed from REAL_DIR and saved there. Refused if made with other "
                        "weights or preprocessing")
    _common(p, "system name in the results (default: the fake folder's name)", bootstrap=False)

    p = sub.add_parser("clip-score", help="CLIP score of videos against their prompts (open_clip)",
                       description="Per frame 100 * max(cos(image, text), 0), averaged over frames, then videos.")
    p.add_argument("video_dir", type=Path)
    p.add_argument("--prompts", type=Path, required=True,
                   help="explicit mapping (recommended): a .csv with columns video,prompt or a .json {video: prompt}, "
                        "keyed by file name or stem; or a .txt with one prompt per line, matched to the videos in "
                        "sorted() name order (clip10 before clip2, as ls lists them; the pairing is printed)")
    p.add_argument("--clip-weights", type=Path, help=_weights_help("clip"))
    p.add_argument("--clip-arch", default=DEFAULT_CLIP_ARCH, help="open_clip architecture of the checkpoint")
    p.add_argument("--num-frames", type=int, help="frames per video, spread uniformly (default: all)")
    p.add_argument("--batch-size", type=int, default=32, help="frames per CLIP forward pass")
    p.add_argument("--per-video", type=Path, help="also write per-video scores to this .csv/.json")
    _common(p)

    p = sub.add_parser("consistency", help="subject/background consistency, temporal flicker, seam score",
                       description="Subject consistency (DINO) and background consistency (CLIP) as VBench; "
                                   "temporal flicker (mean absolute frame difference, 0-255); seam score (frame "
                                   "difference across chunk boundaries / elsewhere, 1.0 = invisible seams); inside "
                                   "(share of all frame change inside chunks: real video about (c-1)/c, a stream "
                                   "that steps at its chunk borders near 0); frozen (share of consecutive frames "
                                   "that do not change). The chunk size is --chunk-size, else each video's sidecar "
                                   "`<video file>.json` (or `<stem>.json`) key `chunk_frames`; videos with neither get "
                                   "no seam score or inside share.")
    p.add_argument("video_dir", type=Path)
    p.add_argument("--chunk-size", type=int, help="frames per generated chunk (chunks start at frame 0)")
    p.add_argument("--metrics", default=",".join(CONSISTENCY_METRICS),
                   help=f"comma-separated subset of {','.join(CONSISTENCY_METRICS)} (all but subject and background "
                        "need no weights)")
    p.add_argument("--dino-weights", type=Path, help=_weights_help("dino"))
    p.add_argument("--dino-arch", default=DEFAULT_DINO_ARCH,
                   help="timm ViT architecture of the DINO checkpoint (e.g. vit_small_patch16_224 for dino_deitsmall16)")
    p.add_argument("--clip-weights", type=Path, help=_weights_help("clip"))
    p.add_argument("--clip-arch", default=DEFAULT_CLIP_ARCH, help="open_clip architecture of the checkpoint")
    p.add_argument("--num-frames", type=int, help="frames per video for DINO/CLIP, spread uniformly (default: all)")
    p.add_argument("--per-video", type=Path, help="also write per-video values to this .csv/.json")
    _common(p)

    p = sub.add_parser("dynamic-degree", help="VBench dynamic degree: share of videos that move (RAFT optical flow)",
                       description="VBench's dynamic degree: frames every round(fps/8), RAFT-large flow between "
                                   "consecutive frames (20 iterations), a video moves when round(4 n / 16) pairs "
                                   "have their top-5%% flow magnitude above 6 min(H, W) / 256 pixels; the value is "
                                   "the share of moving videos. Frames under 128 px a side are upsampled first "
                                   "(torchvision's RAFT minimum).")
    p.add_argument("video_dir", type=Path)
    p.add_argument("--raft-weights", type=Path, help=_weights_help("raft"))
    p.add_argument("--fps", type=float, help="frame rate of every video (default: each file's own; frame folders: "
                                             "every frame is used)")
    p.add_argument("--iters", type=int, default=20, help="RAFT refinement iterations (VBench: 20)")
    p.add_argument("--batch-size", type=int, default=8, help="frame pairs per RAFT forward pass")
    p.add_argument("--per-video", type=Path, help="also write per-video verdicts to this .csv/.json")
    _common(p)

    p = sub.add_parser("motion-smoothness", help="VBench motion smoothness: odd frames predicted from even ones",
                       description="VBench's motion smoothness: (255 - mean |odd frame - interpolation of its even "
                                   "neighbours|) / 255. VBench interpolates with AMT-S, which this package does not "
                                   "include: --interpolation linear (the only built-in) averages the neighbours and "
                                   "is reported as motion_smoothness_linear, a lower bound of the AMT-S score.")
    p.add_argument("video_dir", type=Path)
    p.add_argument("--interpolation", choices=["linear"], default="linear",
                   help="frame interpolator (AMT-S is not available here; see the description)")
    p.add_argument("--per-video", type=Path, help="also write per-video values to this .csv/.json")
    _common(p)

    p = sub.add_parser("adherence", help="prompt adherence on the synthetic domain (analytic detector)",
                       description="Fraction of videos whose detected colour, shape and motion direction match "
                                   "the prompt (streamdit.data.detect_adherence).")
    p.add_argument("video_dir", type=Path)
    p.add_argument("--prompts", type=Path, required=True, help="as for clip-score")
    p.add_argument("--per-video", type=Path, help="also write per-video booleans to this .csv/.json")
    _common(p)

    p = sub.add_parser("report", help="several systems side by side: markdown table + PNG bar chart",
                       description="Combine results files written with --out into DIR/report.md, DIR/report.png "
                                   "(error bars: bootstrap CIs) and DIR/summary.csv.")
    p.add_argument("results", type=Path, nargs="+", help="results .json/.csv files")
    p.add_argument("--out", type=Path, required=True, help="output folder")

    p = sub.add_parser("paper", help="the paper's evaluation in one run: systems side by side, intervals, a human-eval study",
                       description="Generate held-out videos and prompt-change streams with the StreamDiT teacher, the "
                                   "single-scheme ablation, the distilled student, a FIFO-style baseline (teacher, c = 1, "
                                   "s = 1) and a chunk-autoregressive baseline (teacher); score FD against the domain's "
                                   "ground truth, CLIP score (local weights only), detector adherence, flicker, seam score "
                                   "and adherence across the prompt change, with bootstrap intervals. Writes "
                                   "OUT/paper_table.md, CSVs, PNG plots and OUT/study/ for `python -m human_eval serve`.")
    p.add_argument("--out", type=Path, default=Path("results"), help="output folder (default: results)")
    p.add_argument("--quick", action="store_true",
                   help=f"few prompts and short videos, every step (CPU: minutes): {QUICK.describe()}; "
                        f"default: {FULL.describe()} (for a GPU)")
    p.add_argument("-n", "--prompts", type=int, help="held-out prompts per system (overrides the setting)")
    p.add_argument("--frames", type=int, help="frames per video and per scored window of a stream (overrides)")
    p.add_argument("--streams", type=int, help="long streams with a prompt change per system (overrides)")
    p.add_argument("--drift-seconds", type=int,
                   help="length of the drift streams of the teacher and the student, scored per 15 s window (overrides; 0: none)")
    for flag, name in (("--teacher", "teacher"), ("--single-scheme", "single-scheme"), ("--student", "student")):
        p.add_argument(flag, type=Path, help=f"pipeline directory (default: the bundled {name}, streamdit/bundled/{name})")
    p.add_argument("--same-budget-teacher", type=Path,
                   help="pipeline directory of the teacher at the single-scheme ablation's step count, compared as a sixth "
                        "system (teacher-same-budget) when the shipped teacher trained longer than the ablation")
    p.add_argument("--fd-features", choices=["auto", "i3d", "autoencoder"], default="auto",
                   help="FD feature network: i3d (FVD; weights from a local file), autoencoder (the teacher's video "
                        "autoencoder, offline), auto (default: i3d if its weights are found, else autoencoder)")
    p.add_argument("--i3d-weights", type=Path, help=_weights_help("i3d"))
    p.add_argument("--clip-weights", type=Path, help=_weights_help("clip") + " Without them: no CLIP score.")
    p.add_argument("--weights-dir", type=Path,
                   help="folder with the weight files (default: $STREAMDIT_EVAL_WEIGHTS or ~/.cache/streamdit/eval-weights)")
    p.add_argument("--device", default="auto", help="cpu, cuda, ... (default: cuda if present)")
    p.add_argument("--seed", type=int, default=0, help="seed of prompts, videos and the bootstrap")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")

    p = sub.add_parser("bench", help="speed and values against cd-fvd's I3D code and torchmetrics' CLIPScore",
                       description="Videos/s of our I3D features and CLIP score against cd-fvd's own I3D feature code "
                                   "and torchmetrics' CLIPScore, on the same random weights of the real architectures "
                                   "and the same videos in one run (ratio > 1: ours is faster), with the largest "
                                   "difference of the values.")
    p.add_argument("--videos", type=int, default=4, help="number of videos (default 4)")
    p.add_argument("--frames", type=int, default=16, help="frames per video (default 16)")
    p.add_argument("--size", type=int, default=128, help="frame height and width (default 128)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs per side; the best is kept (default 3)")
    p.add_argument("--device", default="auto")

    p = sub.add_parser("weights", help="list or download the pretrained networks (checksum-verified, resumable)",
                       description="`weights list` shows each network's files, URLs and whether they are in the "
                                   "weights dir; `weights download NAME` fetches NAME's first published file there "
                                   "(resuming a partial download, verifying the pinned SHA-256 where one is known).")
    p.add_argument("action", choices=["list", "download"])
    p.add_argument("names", nargs="*", metavar="NAME",
                   help=f"one of {', '.join(WEIGHTS)}, or an alternative's file name such as i3d_pretrained_400.pt")
    p.add_argument("--weights-dir", type=Path, help="target folder (default as for the metric commands)")
    return parser


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
    from .video_io import read_prompt_file, list_videos, read_prompts, split_usable

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
    table = with_provenance(table, argv, **provenance)
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
    from .provenance import skipped_column, videos_column, weights_columns
    from .results import summary_row
    from .stats import bootstrap_mean

    videos, prompts, skipped = _videos(args, args.video_dir, args.num_frames, "uniform", prompts=args.prompts)
    device = _device(args.device)
    model = _load(args, "clip", lambda: CLIP.load(args.clip_weights, args.clip_arch, args.weights_dir, device, args.batch_size))
    scores = clip_scores(videos, prompts, model, args.num_frames, _cache(args), not args.no_progress)
    name = args.name or args.video_dir.name
    per_video = pd.DataFrame({"video": [v.name for v in videos], "prompt": prompts, "clip_score": scores})
    table = pd.DataFrame([summary_row(name, "clip_score", bootstrap_mean(scores, seed=args.seed))])
    return _finish(args, table, per_video, argv, **weights_columns([model]),
                   preprocessing=model.describe_preprocessing(args.num_frames) + "; per frame 100 * max(cos, 0)",
                   videos=videos_column({"videos": len(videos)}), skipped=skipped_column(skipped))


def cmd_consistency(args: argparse.Namespace, argv: Sequence[str] | None = None) -> "pd.DataFrame":
    import numpy as np
    import pandas as pd

    from .clip import CLIP
    from .consistency import feature_consistency, seam_score, temporal_flicker
    from .motion import frozen_share, inside_chunk_share
    from .dino import DINO
    from .features import load_any, video_features
    from .provenance import skipped_column, videos_column, weights_columns
    from .results import summary_row
    from .stats import bootstrap_mean
    from .video_io import read_chunk_frames

    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
    unknown = set(metrics) - set(CONSISTENCY_METRICS)
    if unknown:
        raise ValueError(f"unknown --metrics {sorted(unknown)}; choose from {','.join(CONSISTENCY_METRICS)}")
    uses_features = "subject" in metrics or "background" in metrics
    videos, _, skipped = _videos(args, args.video_dir, args.num_frames if uses_features else None, "uniform")
    device, cache, progress = _device(args.device) if uses_features else "cpu", _cache(args), not args.no_progress
    per_video = pd.DataFrame({"video": [v.name for v in videos]})
    provenance: dict[str, dict] = {}
    if "subject" in metrics:
        try:
            dino = _load(args, "dino", lambda: DINO.load(args.dino_weights, args.dino_arch, args.weights_dir, device))
        except MissingWeightsError as err:
            raise MissingWeightsError(f"{err}\n(--metrics flicker,seam,inside,frozen needs no weights)") from None
        feats = video_features(dino, videos, args.num_frames, "uniform", cache=cache, progress=progress, desc="DINO")
        per_video["subject_consistency"] = [feature_consistency(f) for f in feats]
        provenance["subject_consistency"] = dict(**weights_columns([dino]), preprocessing=dino.describe_preprocessing(args.num_frames))
    if "background" in metrics:
        clip = _load(args, "clip", lambda: CLIP.load(args.clip_weights, args.clip_arch, args.weights_dir, device))
        feats = video_features(clip, videos, args.num_frames, "uniform", cache=cache, progress=progress, desc="CLIP")
        per_video["background_consistency"] = [feature_consistency(f) for f in feats]
        provenance["background_consistency"] = dict(**weights_columns([clip]), preprocessing=clip.describe_preprocessing(args.num_frames))
    if {"flicker", "seam", "inside", "frozen"} & set(metrics):
        flicker, seams, inside, frozen, chunks = [], [], [], [], []
        for path in videos:
            video = load_any(path)
            flicker.append(temporal_flicker(video))
            frozen.append(frozen_share(video))
            chunk = args.chunk_size or read_chunk_frames(path)
            chunks.append(chunk)
            seams.append(seam_score(video, chunk) if chunk else np.nan)
            inside.append(inside_chunk_share(video, chunk) if chunk else np.nan)
        raw = "all frames at their own size, no resize"
        source = f"--chunk-size {args.chunk_size}" if args.chunk_size else "chunk_frames of each video's sidecar JSON"
        if "flicker" in metrics:
            per_video["temporal_flicker"] = flicker
            provenance["temporal_flicker"] = {"preprocessing": raw + "; mean |frame difference| in 0-255"}
        if "seam" in metrics:
            per_video["seam_score"] = seams
            provenance["seam_score"] = {"preprocessing": f"{raw}; chunk size from {source}; capped at 1000"}
        if "inside" in metrics:
            per_video["inside_share"] = inside
            provenance["inside_share"] = {"preprocessing": f"{raw}; chunk size from {source}"}
        if "frozen" in metrics:
            per_video["frozen_share"] = frozen
            provenance["frozen_share"] = {"preprocessing": raw + "; pairs with no change at all"}
        if ("seam" in metrics or "inside" in metrics) and np.isnan(seams).all():
            print("note: no seam score or inside share: give --chunk-size or write <video>.json with chunk_frames",
                  file=sys.stderr)
    name = args.name or args.video_dir.name
    rows, columns = [], []
    for column in per_video.columns[1:]:
        if per_video[column].notna().any():
            rows.append(summary_row(name, column, bootstrap_mean(per_video[column].dropna().to_numpy(), seed=args.seed)))
            columns.append(column)
    table = pd.DataFrame(rows)
    extra = {key: [provenance[c].get(key, "") for c in columns] for key in ("weights", "weights_sha256", "preprocessing")}
    return _finish(args, table, per_video, argv, **extra, videos=videos_column({"videos": len(videos)}),
                   skipped=skipped_column(skipped))


def cmd_adherence(args: argparse.Namespace, argv: Sequence[str] | None = None) -> "pd.DataFrame":
    import pandas as pd

    from .adherence import ATTRIBUTES, adherence_table
    from .provenance import skipped_column, videos_column
    from .results import summary_row
    from .stats import bootstrap_mean

    videos, prompts, skipped = _videos(args, args.video_dir, None, "consecutive", prompts=args.prompts)
    per_video = adherence_table(videos, prompts)
    name = args.name or args.video_dir.name
    rows = [summary_row(name, f"adherence_{key}", bootstrap_mean(per_video[key].to_numpy(float), seed=args.seed))
            for key in ATTRIBUTES]
    per_video.insert(0, "video", [v.name for v in videos])
    per_video.insert(1, "prompt", prompts)
    return _finish(args, pd.DataFrame(rows), per_video, argv,
                   preprocessing="all frames, no resize; streamdit.data.detect_adherence detector",
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


def cmd_motion_smoothness(args: argparse.Namespace, argv: Sequence[str] | None = None) -> "pd.DataFrame":
    import pandas as pd

    from .motion_smoothness import INTERPOLATORS, motion_smoothness_per_video
    from .provenance import skipped_column, videos_column
    from .results import summary_row
    from .stats import bootstrap_mean

    videos, _, skipped = _videos(args, args.video_dir, None, "consecutive")
    values = motion_smoothness_per_video(videos, INTERPOLATORS[args.interpolation])
    metric = f"motion_smoothness_{args.interpolation}"
    print(f"note: {metric}: VBench interpolates with AMT-S, not available here; {args.interpolation} "
          "interpolation gives a lower bound", file=sys.stderr)
    name = args.name or args.video_dir.name
    per_video = pd.DataFrame({"video": [v.name for v in videos], metric: values})
    table = pd.DataFrame([summary_row(name, metric, bootstrap_mean(values, seed=args.seed))])
    return _finish(args, table, per_video, argv, weights="", weights_sha256="",
                   preprocessing=f"all frames at their own size; odd frames vs {args.interpolation} interpolation "
                                 "of their even neighbours (VBench definition; VBench uses AMT-S)",
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


COMMANDS = {"fvd": cmd_fvd, "clip-score": cmd_clip_score, "consistency": cmd_consistency,
            "adherence": cmd_adherence, "report": cmd_report, "paper": cmd_paper, "bench": cmd_bench,
            "weights": cmd_weights, "dynamic-degree": cmd_dynamic_degree,
            "motion-smoothness": cmd_motion_smoothness}


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; user errors (bad input, missing or corrupt weights, no GPU, failed download) are
    one `error:` line on stderr and exit status 2."""
    args = build_parser().parse_args(argv)  # before the heavy imports: --help stays fast
    from .download import DownloadError
    from .video_io import PromptsError, VideoLoadError

    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            COMMANDS[args.command](args, argv)
        except VideoLoadError as err:
            hint = " (--skip-bad skips such videos and lists them in the result)" if (
                hasattr(args, "skip_bad") and not args.skip_bad and not isinstance(err, PromptsError)) else ""
            print(f"error: {err}{hint}", file=sys.stderr)
            return 2
        except (FileNotFoundError, ValueError, DownloadError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    return 0
