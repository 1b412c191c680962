"""Command line: ``python -m streamdit {generate,bench,train} ...``."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

import torch
from tqdm import tqdm

from streamdit.inference.pipeline import BUNDLED_DIR, StreamDiTPipeline
from streamdit.inference.precision import DTYPES
from streamdit.loading import ROLES, convert, share_component
from streamdit.video_io import Mp4Writer, iter_video_frames, write_video


def _default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model")
    group.add_argument("--model", type=Path, default=None,
                       help="pipeline directory (pipeline.json, transformer/, autoencoder/); default: the bundled student")
    group.add_argument("--random-init", metavar="PRESET", default=None,
                       help="use a randomly initialised model of this preset (tiny, paper-4b) instead: plumbing only")
    group.add_argument("--device", default=_default_device(), help="cpu or cuda (default: cuda if available)")


def load_pipeline(args: argparse.Namespace) -> StreamDiTPipeline:
    if args.random_init:
        if args.model:
            raise SystemExit("error: give either --model or --random-init, not both")
        return StreamDiTPipeline.from_config(args.random_init, device=args.device)
    try:
        return StreamDiTPipeline.from_pretrained(args.model, device=args.device)
    except FileNotFoundError as exc:
        raise SystemExit(f"error: {exc}\n(use --model DIR, or --random-init tiny for an untrained model)") from exc


def _parse_switch(text: str) -> tuple[float, str]:
    at, sep, prompt = text.partition("=")
    try:
        seconds = float(at)
    except ValueError:
        seconds = -1.0
    if not sep or seconds < 0 or not prompt.strip():
        raise argparse.ArgumentTypeError(f"expected SECONDS=PROMPT, got {text!r}")
    return seconds, prompt


def cmd_generate(args: argparse.Namespace) -> int:
    pipe = load_pipeline(args)
    fps = pipe.config.fps
    total = max(1, round(args.seconds * fps))
    video = iter_video_frames(args.input) if args.input else None
    switches = sorted(args.switch)
    stream = pipe.stream(args.prompt, seed=args.seed, guidance=args.guidance, video=video, strength=args.strength,
                         max_chunks=-(-total // pipe.frames_per_chunk), steer_strength=args.steer_strength)
    written = 0
    with stream, Mp4Writer(args.out, fps, crf=args.crf) as writer, tqdm(total=total, unit="frame", desc="generating") as bar:
        for chunk in stream:
            while switches and written >= switches[0][0] * fps:
                stream.set_prompt(switches.pop(0)[1])
            chunk = chunk[: total - written]
            writer.write(chunk)
            written += len(chunk)
            bar.update(len(chunk))
            if written >= total:
                break
    if written == 0:
        raise SystemExit("error: no frames were generated (is the input video shorter than one chunk?)")
    meta = {"prompt": args.prompt, "switches": [[s, p] for s, p in sorted(args.switch)],
            "steer_strength": stream.steer_strength, "seed": args.seed,
            "fps": fps, "crf": args.crf, "frames": written, "chunk_frames": pipe.frames_per_chunk,
            "model": str(args.model) if args.model else (f"random-init:{args.random_init}" if args.random_init else "bundled")}
    Path(str(args.out) + ".json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"wrote {args.out}: {written} frames at {fps} fps, {pipe.resolution[1]}x{pipe.resolution[0]}, "
          f"first chunk after {stream.stats.first_chunk_s:.2f} s")
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    """Generate one video per prompt of the synthetic domain's evaluation set (or a prompts file)."""
    pipe = load_pipeline(args)
    world = args.world or pipe.config.world
    if args.prompts:
        prompts = [line.strip() for line in args.prompts.read_text().splitlines() if line.strip()]
        if not prompts:
            raise SystemExit(f"error: {args.prompts} holds no prompts")
    else:
        from streamdit.data import worlds

        prompts = worlds.eval_prompts(world, args.split, args.n, seed=args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    fps = pipe.config.fps
    frames = max(1, round(args.seconds * fps))
    names = []
    for i, prompt in enumerate(tqdm(prompts, desc="sampling", unit="video")):
        video = pipe.generate(prompt, num_frames=frames, seed=args.seed + i)
        name = f"video_{i:04d}.mp4"
        write_video(args.out / name, video, fps, crf=args.crf)
        meta = {"prompt": prompt, "world": world, "seed": args.seed + i, "fps": fps,
                "frames": len(video), "crf": args.crf,
                "chunk_frames": pipe.frames_per_chunk, "model": str(args.model or "bundled")}
        (args.out / f"{name}.json").write_text(json.dumps(meta) + "\n")
        names.append(name)
    (args.out / "prompts.txt").write_text("".join(p + "\n" for p in prompts))
    print(f"wrote {len(names)} videos of {frames} frames and prompts.txt to {args.out}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from streamdit.inference.bench import bench_pipeline, benchmark_autoencoder, format_results, matmul_peaks
    from streamdit.inference.precision import resolve_dtype

    if args.autoencoder and not args.random_init:
        raise SystemExit("error: --autoencoder pairs with --random-init (a pipeline directory has its own)")
    if args.random_init:
        named = [(f"random-{args.random_init}" + (f"+{Path(args.autoencoder).name}" if args.autoencoder else ""), None)]
    elif args.model:
        named = [(path.name, path) for path in args.model]
    else:
        named = [(name, BUNDLED_DIR / name) for name in ("teacher", "student") if (BUNDLED_DIR / name).is_dir()]
        if not named:
            raise SystemExit(f"error: no bundled models in {BUNDLED_DIR}; use --model DIR or --random-init tiny")
    results, resolution = [], None
    print("measuring the matmul peak of float32 and bfloat16 ...", file=sys.stderr)
    peaks = matmul_peaks(args.device)
    dtype = resolve_dtype(args.dtype, args.device, peaks)
    for name, path in named:
        if path is None:
            autoencoder = benchmark_autoencoder(args.autoencoder, args.device, dtype) \
                if args.autoencoder else None
            pipe = StreamDiTPipeline.from_config(args.random_init, autoencoder=autoencoder, device=args.device,
                                                 dtype=dtype)
        else:
            pipe = StreamDiTPipeline.from_pretrained(path, device=args.device, dtype=dtype)
        if args.compile:
            print(f"compiling {name}, mode {args.compile} (a two-chunk warm-up stream, not measured) ...",
                  file=sys.stderr)
            pipe.compile(mode=args.compile)
            pipe.generate(args.prompt, num_frames=2 * pipe.frames_per_chunk, guidance=args.guidance)
        print(f"benchmarking {name} ...", file=sys.stderr)
        results.append(bench_pipeline(pipe, name, args.prompt, args.chunks, args.guidance, peaks))
        resolution = pipe.resolution
    print(format_results(results, args.device, resolution, peaks))
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    for directory in args.directories:
        print(f"{directory}: {'wrote model_index.json' if convert(directory) else 'already has model_index.json'}")
    return 0


def cmd_share(args: argparse.Namespace) -> int:
    before = folder_bytes(args.directories)
    shared = share_component(args.directories, args.component, args.name)
    for directory in args.directories:
        print(f"{directory}: {args.component} in ../{shared.name}")
    count = len(args.directories)
    print(f"{shared}: shared by {count} pipeline{'s' if count > 1 else ''}; "
          f"{(before - folder_bytes(args.directories)) / 1e6:.1f} MB freed in them")
    return 0


def folder_bytes(directories: list[Path]) -> int:
    """The bytes of the files inside ``directories``."""
    return sum(f.stat().st_size for d in directories for f in d.rglob("*") if f.is_file())


SUBPROGRAMS = {
    "train": "train a StreamDiT model with mixed-scheme flow matching",
    "distill": "distil a teacher into a one-step-per-chunk student",
    "train-autoencoder": "train the small video autoencoder on the synthetic domain",
    "encode-latents": "encode training clips once into a latent cache for train/distill --data",
}
SUBPROGRAM_MAINS = {"train": "streamdit.training.cli:train_main", "distill": "streamdit.training.cli:distill_main",
                    "train-autoencoder": "streamdit.training.autoencoder:main",
                    "encode-latents": "streamdit.training.cli:encode_main"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m streamdit",
                                     description="StreamDiT: real-time streaming text-to-video generation.")
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="stream a video from a prompt into an mp4 file",
                         description="Generate a video by streaming chunks from the moving buffer into an mp4 "
                                     "(plus FILE.mp4.json with the settings and chunk length).")
    gen.add_argument("--prompt", required=True, help="text prompt")
    gen.add_argument("--seconds", type=float, default=4.0, help="length of the video (default 4)")
    gen.add_argument("--out", type=Path, required=True, help="output .mp4 file")
    gen.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    gen.add_argument("--guidance", type=float, default=None,
                     help="classifier-free guidance scale (default: the model's; 0 disables)")
    gen.add_argument("--switch", type=_parse_switch, action="append", default=[], metavar="SECONDS=PROMPT",
                     help="interactive generation: switch to PROMPT at SECONDS (repeatable)")
    gen.add_argument("--steer-strength", type=float, default=None, metavar="T",
                     help="what a --switch does to the frames in flight: in [0, 1]; 0 lets them finish under the new "
                          "prompt (a gradual change, seconds), T > 0 noises them back to level T and remakes them, so "
                          "the change shows at once (default: the model's pipeline.json, 0.95 for the bundled models)")
    gen.add_argument("--input", type=Path, default=None, help="video-to-video: transform this video file")
    gen.add_argument("--strength", type=float, default=0.7, help="video-to-video noise strength in (0, 1] (default 0.7)")
    gen.add_argument("--crf", type=int, default=20, choices=range(0, 52), metavar="0-51",
                     help="H.264 quality: 20 (default) for viewing; 0 is lossless, the frames exactly as generated")
    add_model_arguments(gen)
    gen.set_defaults(func=cmd_generate)

    sample = sub.add_parser("sample", help="generate a folder of videos for evaluation (one per prompt)",
                            description="Generate one video per prompt into OUT (video_0000.mp4 ..., a .json sidecar "
                                        "each with the chunk length, and prompts.txt in file order), ready for "
                                        "`python -m eval adherence|consistency|fvd`.")
    sample.add_argument("--out", type=Path, required=True, help="output folder")
    sample.add_argument("--prompts", type=Path, default=None, help="text file, one prompt per line "
                        "(default: the evaluation prompts of the model's synthetic world)")
    sample.add_argument("--split", choices=("train", "heldout"), default="heldout",
                        help="which attribute combinations the default prompts use (default heldout)")
    sample.add_argument("-n", type=int, default=48, help="number of default prompts (default 48)")
    sample.add_argument("--world", choices=("v1", "v2"), default=None,
                        help="whose evaluation prompts (default: the world the model was trained on, pipeline.json)")
    sample.add_argument("--seconds", type=float, default=2.0, help="length of each video (default 2)")
    sample.add_argument("--seed", type=int, default=0, help="seed of the first video (then +1 per video)")
    sample.add_argument("--crf", type=int, default=0, choices=range(0, 52), metavar="0-51",
                        help="H.264 quality: 0 (default) is lossless, so that metrics see the generated frames; lossy "
                             "values smooth small frame-to-frame changes away (at 20 the seam score of 8 of the bundled "
                             "student's videos rose from 8.6 to 49.6)")
    add_model_arguments(sample)
    sample.set_defaults(func=cmd_sample)

    bench = sub.add_parser("bench", help="measure streaming FPS, first-frame latency and time shares",
                           description="Stream a few chunks and print throughput, latency and where the time goes.")
    bench.add_argument("--prompt", default="a red circle moving left on a dark background")
    bench.add_argument("--chunks", type=int, default=12, help="chunks to stream (default 12)")
    bench.add_argument("--guidance", type=float, default=None, help="override the models' guidance scale")
    bench.add_argument("--model", type=Path, action="append", default=[],
                       help="pipeline directory to measure (repeatable; the first is the reference of the ratio); "
                            "default: the bundled teacher and student")
    bench.add_argument("--random-init", metavar="PRESET", default=None,
                       help="measure a randomly initialised model of this preset (speed does not depend on weights)")
    bench.add_argument("--autoencoder", metavar="SPEC", default=None,
                       help="with --random-init: the autoencoder to decode with, random-wan2.1 (Wan2.1's VAE), "
                            "random-taew2.1 (its tiny decoder TAEW2.1), both randomly initialised at the real "
                            "architecture, or an autoencoder directory (default: 8x8 pixel patches, no real decode)")
    bench.add_argument("--device", default=_default_device(), help="cpu or cuda (default: cuda if available)")
    bench.add_argument("--dtype", choices=("auto", *DTYPES), default="auto",
                       help="model weights and activations (default auto: bfloat16 where its matrix products run at "
                            "least 1.5x float32's, as on CPUs with AMX or AVX512-BF16 and on GPUs, else float32)")
    bench.add_argument("--compile", nargs="?", const="default", default=None, metavar="MODE",
                       choices=("default", "reduce-overhead", "max-autotune"),
                       help="torch.compile the model first, in torch.compile's MODE (default; reduce-overhead "
                            "replays CUDA graphs on a GPU; max-autotune also tunes kernels); compilation runs in "
                            "an unmeasured warm-up stream")
    bench.set_defaults(func=cmd_bench)

    convert = sub.add_parser("convert", help="write model_index.json into pipeline directories saved without one",
                             description="Pipelines saved before model_index.json existed still load; this writes "
                                         "their index (each component's class and folder) so they load without "
                                         "recognising the folders. Directories that have one are only checked.")
    convert.add_argument("directories", type=Path, nargs="+", metavar="DIR", help="pipeline directories")
    convert.set_defaults(func=cmd_convert)

    share = sub.add_parser("share", help="keep one copy of a component that pipelines in one folder hold alike",
                           description="Pipelines in one parent folder that hold the same component (byte for byte, "
                                       "usually the autoencoder) keep one copy of it beside them, PARENT/NAME, which "
                                       "their model_index.json names as ../NAME; their own copies are deleted. An "
                                       "existing PARENT/NAME must hold the same files. Copy the shared folder along "
                                       "when you copy such a pipeline elsewhere.")
    share.add_argument("directories", type=Path, nargs="+", metavar="DIR", help="pipeline directories in one folder")
    share.add_argument("--component", choices=ROLES, default="autoencoder", help="the component to share (default: "
                       "autoencoder)")
    share.add_argument("--name", default=None, help="the shared folder's name beside the pipelines (default: the "
                       "component's name)")
    share.set_defaults(func=cmd_share)

    for name, text in SUBPROGRAMS.items():
        sub.add_parser(name, help=f"{text}; see `{name} --help`", add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in SUBPROGRAMS:
        module, function = SUBPROGRAM_MAINS[argv[0]].split(":")
        return getattr(importlib.import_module(module), function)(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as exc:
        raise SystemExit(f"error: {exc}") from exc
