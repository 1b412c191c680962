"""`python -m eval`: the metrics of the registry (`eval/registry.py`: FVD/KVD, CLIP score, consistency, VBench
motion, prompt adherence, and any metric added there), reports, the paper run, a benchmark against the
reference implementations, and the weights downloader. A registered metric that needs only frames (and a
prompt or a chunk size) gets a generated command; the others have a hand-written argparse block below."""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path
from typing import Callable, Sequence

from . import commands
from .metric import MetricSpec
from .paper.settings import FULL, QUICK
from .registry import METRICS
from .weights import DEFAULT_ARCHS, WEIGHTS

DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "streamdit" / "eval-features"
PROMPTS_HELP = ("explicit mapping (recommended): a .csv with columns video,prompt or a .json {video: prompt}, keyed by "
                "file name or stem; or a .txt with one prompt per line, matched to the videos in sorted() name order "
                "(clip10 before clip2, as ls lists them; the pairing is printed)")
CHUNK_HELP = ("frames per generated chunk, a whole number >= 2 (chunks start at frame 0; default: each video's sidecar "
              "`<video file>.json` (or `<stem>.json`) key `chunk_frames`; videos with neither, or shorter than two "
              "chunks, get no value and are named in a note)")


def chunk_size(text: str) -> int:
    """argparse type of --chunk-size: a whole number of frames >= 2 (a chunk of one frame has no inner pair)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number of frames, not {text!r}") from None
    if value < 2:
        raise argparse.ArgumentTypeError(f"must be at least 2 frames (a chunk needs a pair of frames inside it), "
                                         f"not {value}")
    return value


def _weights_help(kind: str) -> str:
    files = "; ".join(f"{w.relpath} from {w.url}" for w in WEIGHTS[kind])
    return (f"{kind} weights file (default: the first present in the weights dir of: {files}). "
            f"Downloaded only with --download or `python -m eval weights download {kind}`.")


def _add_network(parser: argparse.ArgumentParser, kind: str, arch_help: str) -> None:
    """--KIND-weights and --KIND-arch of a network whose checkpoints come in several architectures."""
    parser.add_argument(f"--{kind}-weights", type=Path, help=_weights_help(kind))
    parser.add_argument(f"--{kind}-arch", default=DEFAULT_ARCHS[kind], help=arch_help)


def _common(parser: argparse.ArgumentParser, name_help: str = "system name in the results (default: the folder name)",
            bootstrap: bool = True, networks: bool = True) -> None:
    """The options every metric command has; `networks`: also those of pretrained networks (device,
    weights, feature cache)."""
    parser.add_argument("--out", type=Path, help="write the results table to FILE.json or FILE.csv")
    parser.add_argument("--name", help=name_help)
    if networks:
        parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, ... (default: cuda if present)")
        parser.add_argument("--weights-dir", type=Path,
                            help="folder with the weight files (default: $STREAMDIT_EVAL_WEIGHTS, else "
                                 "$XDG_CACHE_HOME/streamdit/eval-weights, XDG_CACHE_HOME defaulting to ~/.cache)")
        parser.add_argument("--download", action="store_true",
                            help="download missing weights into the weights dir first (checksum-verified; off by default)")
        parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE,
                            help=f"feature cache, keyed by video file content (default: {DEFAULT_CACHE})")
        parser.add_argument("--no-cache", action="store_true", help="do not read or write cached features")
    parser.add_argument("--max-videos", type=int, metavar="N",
                        help="use only the first N videos of each folder (in sorted() name order)")
    parser.add_argument("--skip-bad", action="store_true",
                        help="skip videos that cannot be decoded or are too short, and list them in the result "
                             "(default: stop at the first one)")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    if bootstrap:
        parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap resampling")


def _add_metrics_option(parser: argparse.ArgumentParser, specs: list[MetricSpec]) -> None:
    """--metrics: a subset of the command's metrics, by their registry `option` names."""
    options = ",".join(s.option for s in specs)
    free = ",".join(s.option for s in specs if s.frame_only)
    parser.add_argument("--metrics", default=options,
                        help=f"comma-separated subset of {options} ({free} need no weights)")


def _add_frame_metrics(sub: argparse._SubParsersAction, command: str, specs: list[MetricSpec]) -> argparse.ArgumentParser:
    """The generated command of frame-only metrics: their summaries, and the options their needs ask for."""
    lines = [f"{s.name} ({s.direction}): {s.summary}" + (f". Note: {s.note}" if s.note else "") for s in specs]
    p = sub.add_parser(command, help="; ".join(s.summary for s in specs), description="\n".join(lines),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("video_dir", type=Path)
    if any("prompts" in s.needs for s in specs):
        p.add_argument("--prompts", type=Path, required=True, help=PROMPTS_HELP)
    if any("chunk_size" in s.needs for s in specs):
        p.add_argument("--chunk-size", type=chunk_size, help=CHUNK_HELP)
    if len(specs) > 1:
        _add_metrics_option(p, specs)
    p.add_argument("--per-video", type=Path, help="also write per-video values to this .csv/.json")
    _common(p, networks=False)
    return p


def _add_fvd(sub: argparse._SubParsersAction, specs: list[MetricSpec]) -> argparse.ArgumentParser:
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
    return p


def _add_clip_score(sub: argparse._SubParsersAction, specs: list[MetricSpec]) -> argparse.ArgumentParser:
    p = sub.add_parser("clip-score", help="CLIP score of videos against their prompts (open_clip)",
                       description="Per frame 100 * max(cos(image, text), 0), averaged over frames, then videos.")
    p.add_argument("video_dir", type=Path)
    p.add_argument("--prompts", type=Path, required=True, help=PROMPTS_HELP)
    _add_network(p, "clip", "open_clip architecture of the checkpoint")
    p.add_argument("--num-frames", type=int, help="frames per video, spread uniformly (default: all)")
    p.add_argument("--batch-size", type=int, default=32, help="frames per CLIP forward pass")
    p.add_argument("--per-video", type=Path, help="also write per-video scores to this .csv/.json")
    _common(p)
    return p


def _add_consistency(sub: argparse._SubParsersAction, specs: list[MetricSpec]) -> argparse.ArgumentParser:
    p = sub.add_parser("consistency", help="subject/background consistency, temporal flicker, seam score",
                       description="; ".join(f"{s.option}: {s.summary} ({s.direction})" for s in specs)
                                   + ". The chunk size is --chunk-size, else each video's sidecar `<video file>.json` "
                                     "(or `<stem>.json`) key `chunk_frames`; videos with neither get no chunk metric.")
    p.add_argument("video_dir", type=Path)
    p.add_argument("--chunk-size", type=chunk_size, help=CHUNK_HELP)
    _add_metrics_option(p, specs)
    _add_network(p, "dino", "timm ViT architecture of the DINO checkpoint (e.g. vit_small_patch16_224 for dino_deitsmall16)")
    _add_network(p, "clip", "open_clip architecture of the checkpoint")
    p.add_argument("--num-frames", type=int, help="frames per video for DINO/CLIP, spread uniformly (default: all)")
    p.add_argument("--per-video", type=Path, help="also write per-video values to this .csv/.json")
    _common(p)
    return p


def _add_dynamic_degree(sub: argparse._SubParsersAction, specs: list[MetricSpec]) -> argparse.ArgumentParser:
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
    return p


def _add_adherence(sub: argparse._SubParsersAction, specs: list[MetricSpec]) -> argparse.ArgumentParser:
    p = sub.add_parser("adherence", help="prompt adherence on the synthetic worlds (analytic detector)",
                       description="Share of videos whose every prompted attribute the world's detector reads "
                                   "back, and the share per attribute (world v1: colour, shape, direction; world "
                                   "v2: colour, shape, motion, size, speed, background, camera), each over the "
                                   "videos whose prompt states it, with bootstrap intervals.")
    p.add_argument("video_dir", type=Path)
    p.add_argument("--prompts", type=Path, required=True, help="as for clip-score")
    p.add_argument("--world", choices=("auto", "v1", "v2"), default="auto",
                   help="the prompts' world (default auto: as the videos' sidecars from `python -m streamdit "
                        "sample` say, else v1)")
    p.add_argument("--per-video", type=Path, help="also write per-video booleans to this .csv/.json")
    _common(p)
    return p


def _add_tools(sub: argparse._SubParsersAction) -> None:
    """The commands that are not metrics: report, paper, bench, weights."""
    p = sub.add_parser("report", help="several systems side by side: markdown table + PNG bar chart",
                       description="Combine results files written with --out into DIR/report.md, DIR/report.png "
                                   "(error bars: bootstrap CIs) and DIR/summary.csv.")
    p.add_argument("results", type=Path, nargs="+", help="results .json/.csv files")
    p.add_argument("--out", type=Path, required=True, help="output folder")

    p = sub.add_parser("paper", help="the paper's evaluation in one run: systems side by side, intervals, a human-eval study",
                       description="Generate held-out videos and prompt-change streams with the StreamDiT teacher, the "
                                   "single-scheme ablation, the distilled student, a FIFO-style baseline (teacher, c = 1, "
                                   "s = 1) and a chunk-autoregressive baseline (teacher); score FD against the ground "
                                   "truth of their synthetic world (pipeline.json `world`: v1 or v2), CLIP score (local "
                                   "weights only), detector adherence, flicker, seam score and adherence across the "
                                   "prompt change, with bootstrap intervals. Writes "
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
    for name, run in TOOLS.items():
        sub.choices[name].set_defaults(run=run)


HANDWRITTEN: dict[str, tuple[Callable, Callable]] = {  # command -> (argparse block, what it runs)
    "fvd": (_add_fvd, commands.cmd_fvd), "clip-score": (_add_clip_score, commands.cmd_clip_score),
    "consistency": (_add_consistency, commands.cmd_consistency),
    "dynamic-degree": (_add_dynamic_degree, commands.cmd_dynamic_degree),
    "adherence": (_add_adherence, commands.cmd_adherence),
}
TOOLS = {"report": commands.cmd_report, "paper": commands.cmd_paper, "bench": commands.cmd_bench,
         "weights": commands.cmd_weights}


def build_parser() -> argparse.ArgumentParser:
    """One subcommand per command of the registry's metrics (hand-written or generated), then the tools."""
    parser = argparse.ArgumentParser(prog="python -m eval", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for command, specs in METRICS.commands().items():
        if command in HANDWRITTEN:
            add, run = HANDWRITTEN[command]
            p = add(sub, specs)
        else:
            p, run = _add_frame_metrics(sub, command, specs), commands.cmd_frame_metrics
        p.set_defaults(run=run, specs=specs)
    _add_tools(sub)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; user errors (bad input, missing or corrupt weights, no GPU, failed download, not
    enough memory) are one `error:` line on stderr and exit status 2."""
    args = build_parser().parse_args(argv)  # before the heavy imports: --help stays fast
    from .download import DownloadError
    from .video_io import VideoLoadError

    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            args.run(args, argv)
        except VideoLoadError as err:
            hint = " (--skip-bad skips such videos and lists them in the result)" if (
                hasattr(args, "skip_bad") and not args.skip_bad and err.skip_bad_helps) else ""
            print(f"error: {err}{hint}", file=sys.stderr)
            return 2
        except (FileNotFoundError, ValueError, DownloadError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        except MemoryError as err:  # videos are checked before they are held; this is any other allocation
            print(f"error: out of memory{f' ({err})' if str(err) else ''}: use fewer or smaller videos "
                  "(--num-frames, --max-videos) or a machine with more memory", file=sys.stderr)
            return 2
    return 0
