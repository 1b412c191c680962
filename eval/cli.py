"""`python -m eval`: FVD, CLIP score, consistency, prompt adherence, reports and a throughput benchmark."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from .paper_settings import FULL, QUICK
from .weights import DEFAULT_CLIP_ARCH, DEFAULT_DINO_ARCH, WEIGHTS, MissingWeightsError

DEFAULT_CACHE = Path.home() / ".cache" / "streamdit" / "eval-features"
CONSISTENCY_METRICS = ("subject", "background", "flicker", "seam")


def _weights_help(kind: str) -> str:
    files = "; ".join(f"{w.relpath} from {w.url}" for w in WEIGHTS[kind])
    return (f"{kind} weights file (default: the first present in the weights dir of: {files}). "
            "Nothing is downloaded by this tool.")


def _device(name: str) -> str:
    return ("cuda" if torch.cuda.is_available() else "cpu") if name == "auto" else name


def _common(parser: argparse.ArgumentParser, name_help: str = "system name in the results (default: the folder name)",
            bootstrap: bool = True) -> None:
    parser.add_argument("--out", type=Path, help="write the results table to FILE.json or FILE.csv")
    parser.add_argument("--name", help=name_help)
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, ... (default: cuda if present)")
    parser.add_argument("--weights-dir", type=Path,
                        help="folder with the weight files (default: $STREAMDIT_EVAL_WEIGHTS or ~/.cache/streamdit/eval-weights)")
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
                                   "resized to 224x224, I3D Kinetics-400 logits, Frechet distance of Gaussians.")
    p.add_argument("real_dir", type=Path, help="folder of reference videos (files or frame folders)")
    p.add_argument("fake_dir", type=Path, help="folder of generated videos")
    p.add_argument("--features", choices=["i3d", "videomae"], default="i3d",
                   help="feature network: i3d (standard FVD, default) or videomae (a local transformers VideoMAE dir)")
    p.add_argument("--i3d-weights", type=Path, help=_weights_help("i3d"))
    p.add_argument("--videomae-weights", type=Path, help=_weights_help("videomae"))
    p.add_argument("--num-frames", type=int,
                   help="frames per clip (default: 16 for I3D, as StyleGAN-V; the model's own length for VideoMAE)")
    p.add_argument("--stride", type=int, default=1, help="take every STRIDE-th frame (default 1)")
    p.add_argument("--batch-size", type=int, default=8, help="clips per I3D forward pass")
    _common(p, "system name in the results (default: the fake folder's name)", bootstrap=False)

    p = sub.add_parser("clip-score", help="CLIP score of videos against their prompts (open_clip)",
                       description="Per frame 100 * max(cos(image, text), 0), averaged over frames, then videos.")
    p.add_argument("video_dir", type=Path)
    p.add_argument("--prompts", type=Path, required=True,
                   help="a .txt with one prompt per line in sorted video-name order, a .csv with columns "
                        "video,prompt, or a .json {video file name: prompt}")
    p.add_argument("--clip-weights", type=Path, help=_weights_help("clip"))
    p.add_argument("--clip-arch", default=DEFAULT_CLIP_ARCH, help="open_clip architecture of the checkpoint")
    p.add_argument("--num-frames", type=int, help="frames per video, spread uniformly (default: all)")
    p.add_argument("--batch-size", type=int, default=32, help="frames per CLIP forward pass")
    p.add_argument("--per-video", type=Path, help="also write per-video scores to this .csv/.json")
    _common(p)

    p = sub.add_parser("consistency", help="subject/background consistency, temporal flicker, seam score",
                       description="Subject consistency (DINO) and background consistency (CLIP) as VBench; "
                                   "temporal flicker (mean absolute frame difference, 0-255); seam score (frame "
                                   "difference across chunk boundaries / elsewhere, 1.0 = invisible seams). The "
                                   "chunk size is --chunk-size, else each video's sidecar `<video file>.json` "
                                   "(or `<stem>.json`) key `chunk_frames`; videos with neither get no seam score.")
    p.add_argument("video_dir", type=Path)
    p.add_argument("--chunk-size", type=int, help="frames per generated chunk (chunks start at frame 0)")
    p.add_argument("--metrics", default=",".join(CONSISTENCY_METRICS),
                   help=f"comma-separated subset of {','.join(CONSISTENCY_METRICS)} (flicker and seam need no weights)")
    p.add_argument("--dino-weights", type=Path, help=_weights_help("dino"))
    p.add_argument("--dino-arch", default=DEFAULT_DINO_ARCH,
                   help="timm ViT architecture of the DINO checkpoint (e.g. vit_small_patch16_224 for dino_deitsmall16)")
    p.add_argument("--clip-weights", type=Path, help=_weights_help("clip"))
    p.add_argument("--clip-arch", default=DEFAULT_CLIP_ARCH, help="open_clip architecture of the checkpoint")
    p.add_argument("--num-frames", type=int, help="frames per video for DINO/CLIP, spread uniformly (default: all)")
    p.add_argument("--per-video", type=Path, help="also write per-video values to this .csv/.json")
    _common(p)

    p = sub.add_parser("adherence", help="prompt adherence on the synthetic domain (analytic detector)",
                       description="Fraction of videos whose detected colour, shape and motion direction match "
                                   "the prompt (streamdit.data.prompt_adherence).")
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

    p = sub.add_parser("bench", help="feature-extraction throughput, batched vs a naive per-video loop",
                       description="Videos/s of I3D and CLIP feature extraction with random weights of the real "
                                   "architectures (speed only), batched vs one video (CLIP: one frame) per call.")
    p.add_argument("--videos", type=int, default=4, help="number of videos (default 4)")
    p.add_argument("--frames", type=int, default=16, help="frames per video (default 16)")
    p.add_argument("--size", type=int, default=128, help="frame height and width (default 128)")
    p.add_argument("--device", default="auto")
    return parser


def _cache(args: argparse.Namespace):
    from .features import FeatureCache

    return None if args.no_cache else FeatureCache(args.cache_dir)


def _finish(args: argparse.Namespace, table: pd.DataFrame, per_video: pd.DataFrame | None = None) -> pd.DataFrame:
    from .results import format_table, write_table

    print(format_table(table))
    if args.out:
        write_table(table, args.out)
    if per_video is not None and getattr(args, "per_video", None):
        write_table(per_video, args.per_video)
    return table


def cmd_fvd(args: argparse.Namespace) -> pd.DataFrame:
    from .fvd import FVD_FRAMES, fvd
    from .i3d import I3D
    from .results import summary_row
    from .video_io import list_videos
    from .videomae import VideoMAE

    real, fake = list_videos(args.real_dir), list_videos(args.fake_dir)
    device = _device(args.device)
    if args.features == "videomae":
        model = VideoMAE.load(args.videomae_weights, args.weights_dir, device, args.batch_size)
        num_frames, metric = args.num_frames or model.num_frames, "fvd_videomae"
    else:
        model = I3D.load(args.i3d_weights, args.weights_dir, device, args.batch_size)
        num_frames, metric = args.num_frames or FVD_FRAMES, "fvd"
    value = fvd(real, fake, model, num_frames, args.stride, _cache(args), not args.no_progress)
    name = args.name or args.fake_dir.name
    return _finish(args, pd.DataFrame([summary_row(name, metric, value, len(fake))]))


def cmd_clip_score(args: argparse.Namespace) -> pd.DataFrame:
    from .clip import CLIP, clip_scores
    from .results import summary_row
    from .stats import bootstrap_mean
    from .video_io import list_videos, read_prompts

    videos = list_videos(args.video_dir)
    prompts = read_prompts(args.prompts, videos)
    model = CLIP.load(args.clip_weights, args.clip_arch, args.weights_dir, _device(args.device), args.batch_size)
    scores = clip_scores(videos, prompts, model, args.num_frames, _cache(args), not args.no_progress)
    name = args.name or args.video_dir.name
    per_video = pd.DataFrame({"video": [v.name for v in videos], "prompt": prompts, "clip_score": scores})
    return _finish(args, pd.DataFrame([summary_row(name, "clip_score", bootstrap_mean(scores, seed=args.seed))]), per_video)


def cmd_consistency(args: argparse.Namespace) -> pd.DataFrame:
    from .clip import CLIP
    from .consistency import feature_consistency, seam_score, temporal_flicker
    from .dino import DINO
    from .features import load_any, video_features
    from .results import summary_row
    from .stats import bootstrap_mean
    from .video_io import list_videos, read_chunk_frames

    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
    unknown = set(metrics) - set(CONSISTENCY_METRICS)
    if unknown:
        raise ValueError(f"unknown --metrics {sorted(unknown)}; choose from {','.join(CONSISTENCY_METRICS)}")
    videos = list_videos(args.video_dir)
    device, cache, progress = _device(args.device), _cache(args), not args.no_progress
    per_video = pd.DataFrame({"video": [v.name for v in videos]})
    if "subject" in metrics:
        try:
            dino = DINO.load(args.dino_weights, args.dino_arch, args.weights_dir, device)
        except MissingWeightsError as err:
            raise MissingWeightsError(f"{err}\n(--metrics flicker,seam needs no weights)") from None
        feats = video_features(dino, videos, args.num_frames, "uniform", cache=cache, progress=progress, desc="DINO")
        per_video["subject_consistency"] = [feature_consistency(f) for f in feats]
    if "background" in metrics:
        clip = CLIP.load(args.clip_weights, args.clip_arch, args.weights_dir, device)
        feats = video_features(clip, videos, args.num_frames, "uniform", cache=cache, progress=progress, desc="CLIP")
        per_video["background_consistency"] = [feature_consistency(f) for f in feats]
    if "flicker" in metrics or "seam" in metrics:
        flicker, seams = [], []
        for path in videos:
            video = load_any(path)
            flicker.append(temporal_flicker(video))
            chunk = args.chunk_size or read_chunk_frames(path)
            seams.append(seam_score(video, chunk) if chunk else np.nan)
        if "flicker" in metrics:
            per_video["temporal_flicker"] = flicker
        if "seam" in metrics:
            per_video["seam_score"] = seams
            if np.isnan(seams).all():
                print("note: no seam score: give --chunk-size or write <video>.json with chunk_frames", file=sys.stderr)
    name = args.name or args.video_dir.name
    rows = [
        summary_row(name, column, bootstrap_mean(per_video[column].dropna().to_numpy(), seed=args.seed))
        for column in per_video.columns[1:] if per_video[column].notna().any()
    ]
    return _finish(args, pd.DataFrame(rows), per_video)


def cmd_adherence(args: argparse.Namespace) -> pd.DataFrame:
    from .adherence import ATTRIBUTES, adherence_table
    from .results import summary_row
    from .stats import bootstrap_mean
    from .video_io import list_videos, read_prompts

    videos = list_videos(args.video_dir)
    prompts = read_prompts(args.prompts, videos)
    per_video = adherence_table(videos, prompts)
    name = args.name or args.video_dir.name
    rows = [summary_row(name, f"adherence_{key}", bootstrap_mean(per_video[key].to_numpy(float), seed=args.seed))
            for key in ATTRIBUTES]
    per_video.insert(0, "video", [v.name for v in videos])
    per_video.insert(1, "prompt", prompts)
    return _finish(args, pd.DataFrame(rows), per_video)


def cmd_report(args: argparse.Namespace) -> pd.DataFrame:
    from .report import make_report

    table = make_report(args.results, args.out)
    print((args.out / "report.md").read_text())
    print(f"wrote {args.out / 'report.md'}, {args.out / 'report.png'}, {args.out / 'summary.csv'}")
    return table


def cmd_paper(args: argparse.Namespace) -> Path:
    from dataclasses import replace

    from streamdit.pipeline import BUNDLED_DIR

    from .paper import run_paper

    settings = QUICK if args.quick else FULL
    overrides = {k: v for k, v in (("prompts", args.prompts), ("frames", args.frames), ("streams", args.streams)) if v}
    teacher, single, student = (path or BUNDLED_DIR / name for path, name in (
        (args.teacher, "teacher"), (args.single_scheme, "single-scheme"), (args.student, "student")))
    table = run_paper(args.out, replace(settings, **overrides), teacher, single, student,
                      _device(args.device), args.fd_features, args.i3d_weights, args.clip_weights, args.weights_dir,
                      args.seed, not args.no_progress, args.same_budget_teacher)
    print(table.read_text())
    print(f"wrote {table}, CSVs and plots in {args.out}, human-eval study in {args.out / 'study'}")
    return table


def cmd_bench(args: argparse.Namespace) -> pd.DataFrame:
    from .bench import run_bench

    device = _device(args.device)
    print(f"feature extraction on {device} ({torch.get_num_threads()} threads), {args.videos} videos x "
          f"{args.frames} frames x {args.size}x{args.size}; random weights of the real architectures "
          "(speed only, features meaningless); decoding not timed")
    table = run_bench(args.videos, args.frames, args.size, device)
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3g}"))
    return table


COMMANDS = {"fvd": cmd_fvd, "clip-score": cmd_clip_score, "consistency": cmd_consistency,
            "adherence": cmd_adherence, "report": cmd_report, "paper": cmd_paper, "bench": cmd_bench}


def main(argv: Sequence[str] | None = None) -> int:
    from .video_io import VideoLoadError

    args = build_parser().parse_args(argv)
    try:
        COMMANDS[args.command](args)
    except (VideoLoadError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
