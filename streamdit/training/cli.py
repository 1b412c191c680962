"""The ``train`` and ``distill`` commands: argparse wiring whose shared options come from :class:`TrainConfig`'s
fields (:func:`add_config_options`), the data source, the starting weights, and writing the pipelines."""

from __future__ import annotations

import argparse
from dataclasses import fields, replace
from functools import partial
from pathlib import Path
from typing import Callable, Iterable, Sequence

import torch

from streamdit.autoencoders.base import Autoencoder, PatchAutoencoder
from streamdit.inference.pipeline import PipelineConfig, StreamDiTPipeline
from streamdit.loading import class_name_of, load_autoencoder, load_transformer, model_directory, read_json
from streamdit.models.dit import StreamDiT, StreamDiTConfig
from streamdit.models.text import CachedTextEncoder, TextEncoder, TransformerTextEncoder
from streamdit.models.wan import WanStreamDiT
from streamdit.training.distillation import DistillationTrainer
from streamdit.training.latent_cache import LatentCache, encode_clips, is_latent_cache
from streamdit.training.trainer import Sample, TrainConfig, Trainer, make_accelerator

OBJECTIVE_OPTIONS = ("chunk_sizes", "chunk_weights", "shift", "cond_dropout", "foreground_weight",
                     "foreground_max_t")  # flow matching only
VIDEO_DATA_HELP = ("'synthetic' (world v1: the built-in shapes domain), 'synthetic-v2' (world v2: textured scenes) "
                   "or a video folder with metadata.csv (file_name, text)")
CACHE_DATA_HELP = ", or a latent cache made by `streamdit encode-latents` with the same autoencoder"
DISTILL_DEFAULTS = dict(steps=2000, lr=5e-5, warmup_steps=100, ema_decay=0.999)
TEXT_CACHE_PROMPTS = 1024  # prompt encodings kept when the captions come fresh (they rarely repeat)


def _int_list(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(","))


def _float_list(text: str) -> tuple[float, ...]:
    return tuple(float(x) for x in text.split(","))


def add_config_options(parser: argparse.ArgumentParser, defaults: dict | None = None,
                       exclude: Sequence[str] = ()) -> None:
    """One ``--field-name`` option per :class:`TrainConfig` field (its help and group from the field)."""
    groups: dict[str, argparse._ArgumentGroup] = {}
    for f in fields(TrainConfig):
        if f.name in exclude:
            continue
        if f.metadata["group"] not in groups:
            groups[f.metadata["group"]] = parser.add_argument_group(f.metadata["group"])
        group = groups[f.metadata["group"]]
        flag, default = "--" + f.name.replace("_", "-"), (defaults or {}).get(f.name, f.default)
        kind = str(f.type)
        if kind == "bool":
            group.add_argument(flag, action="store_true", help=f.metadata["help"])
            continue
        parse = (_int_list if "tuple[int" in kind else _float_list if "tuple[float" in kind
                 else {"int": int, "float": float, "str": str}[kind])
        group.add_argument(flag, type=parse, default=default, help=f.metadata["help"], choices=f.metadata["choices"])


def config_from_args(args: argparse.Namespace, **fixed: object) -> TrainConfig:
    """The :class:`TrainConfig` of parsed options (fields without an option keep ``fixed`` or their default)."""
    given = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if hasattr(args, f.name)}
    return TrainConfig(**{**given, **fixed})


def train_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m streamdit train",
        description="Train StreamDiT with the mixed-scheme flow-matching buffer objective. Runs on one process, "
                    "or on many with `torchrun --nproc_per_node N -m streamdit.training ...` (DDP: gloo on CPU, "
                    "nccl on GPU; --batch-size is per process; add --fsdp to shard the model across them). "
                    "Writes OUT/checkpoints/step-XXXXXX (resumable), "
                    "OUT/log.jsonl, OUT/final (EMA weights) and OUT/pipeline (a pipeline directory for generate, "
                    "bench and the demo).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    io = parser.add_argument_group("model and data")
    io.add_argument("--out", type=Path, required=True, help="output directory")
    io.add_argument("--config", default="tiny", help="model preset (tiny, tiny-latent, paper-4b) or a StreamDiTConfig JSON file; "
                    "in_channels and text_dim follow the autoencoder and text encoder")
    io.add_argument("--data", default="synthetic", help=VIDEO_DATA_HELP + CACHE_DATA_HELP)
    io.add_argument("--autoencoder", default="patch:8", help="'patch:P' (pixel patches of P x P) or an autoencoder directory")
    io.add_argument("--text-encoder", type=Path, default=None, help="Hugging Face encoder directory (default: bundled all-MiniLM-L6-v2)")
    io.add_argument("--text-layers", type=_int_list, default=[-1],
                    help="the encoder's hidden states fed to the model, concatenated per token: -1 the last layer "
                         "(default), 0 the input embeddings, e.g. --text-layers=-1,0")
    io.add_argument("--text-max-tokens", type=int, default=None,
                    help="prompts are cut to this many tokens (default: 64 for world v2's data, whose captions of "
                         "three objects run to ~50, else 32)")
    io.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in OUT (if any)")
    io.add_argument("--init-from", type=Path, default=None,
                    help="fine-tune: start from these weights (a pipeline directory or its transformer/) instead of a "
                         "random initialisation; the model must match --config, which may add blocks (appended as "
                         "identities, so a trained model grows) or text layers; ignored once OUT holds checkpoints. "
                         "A diffusers-format Wan2.1 T2V checkpoint (or its transformer/) gives a Wan-based StreamDiT "
                         "over --config's buffer and windows")
    io.add_argument("--cpu", action="store_true", help="train on CPU even if a GPU is present")
    add_config_options(parser)
    sample = parser.add_argument_group("sampling settings written to OUT/pipeline/pipeline.json")
    sample.add_argument("--sample-chunk-size", type=int, default=2, help="chunk size c of the streaming scheme")
    sample.add_argument("--sample-micro-steps", type=int, default=4, help="micro-steps s per chunk (teacher)")
    sample.add_argument("--sample-shift", type=float, default=None,
                        help="time shift of the sampling grid (default: --shift); > 1 spends more steps at high noise")
    sample.add_argument("--sample-guidance", type=float, default=4.0, help="classifier-free guidance scale")
    sample.add_argument("--fps", type=int, default=16, help="frame rate of the generated video")
    return parser


def distill_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m streamdit distill",
        description="Distil a StreamDiT teacher pipeline (K chunks, s micro-steps, guidance) into a student that "
                    "streams with one evaluation per chunk and no guidance. Writes OUT/checkpoints (resumable), "
                    "OUT/log.jsonl, OUT/final (EMA student weights) and OUT/pipeline (the student pipeline).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--teacher", type=Path, required=True, help="teacher pipeline directory")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--data", default="synthetic", help=VIDEO_DATA_HELP + CACHE_DATA_HELP)
    parser.add_argument("--steady-fraction", type=float, default=0.75,
                        help="share of steps on the steady-state segment (the rest: start-up segments)")
    parser.add_argument("--rollout-fraction", type=float, default=0.0,
                        help="share of steady-state steps whose buffer the student first streams 1..K chunks "
                             "forward itself, so it learns from the states it meets while streaming")
    parser.add_argument("--dt-power", type=float, default=0.0,
                        help="weight each frame's loss by |segment length| ** P: 0 treats every segment alike, "
                             "2 is the end-point error (the long last segment, where frames get their final "
                             "shape, dominates)")
    parser.add_argument("--init-from", type=Path, default=None,
                        help="start from this student pipeline (e.g. one distilled from an earlier teacher) "
                             "instead of a copy of the teacher")
    parser.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in OUT")
    parser.add_argument("--cpu", action="store_true", help="run on CPU even if a GPU is present")
    add_config_options(parser, DISTILL_DEFAULTS, exclude=(*OBJECTIVE_OPTIONS, "fsdp"))
    return parser


def _model_config(spec: str, autoencoder: Autoencoder, text_encoder: TextEncoder) -> StreamDiTConfig:
    base = StreamDiTConfig.preset(spec) if not spec.endswith(".json") else \
        StreamDiTConfig.from_dict(read_json(spec, "a StreamDiTConfig JSON file"))
    return StreamDiTConfig.from_dict({**base.to_dict(), "in_channels": autoencoder.latent_channels,
                                      "text_dim": text_encoder.dim})


def _autoencoder(spec: str, device: torch.device) -> Autoencoder:
    if spec.startswith("patch:"):
        return PatchAutoencoder(int(spec.split(":", 1)[1]))
    return load_autoencoder(spec, device=device)


def initial_weights(directory: Path, config: StreamDiTConfig) -> StreamDiT | WanStreamDiT:
    """The float32 model stored in ``directory`` (a pipeline or a model directory, or a diffusers Wan
    transformer: :func:`wan_initial_weights`) to fine-tune; a StreamDiT must have ``config``'s architecture, except
    that a wider text input (more ``--text-layers``) is added with zero weights (:meth:`StreamDiT.widen_text_input`)
    and more blocks are appended as identities (:meth:`StreamDiT.deepen`)."""
    model_dir = model_directory(directory)
    if class_name_of(model_dir) == "WanStreamDiT":
        return wan_initial_weights(model_dir, config)
    model = StreamDiT.from_pretrained(model_dir, dtype=torch.float32)
    if model.config.text_dim < config.text_dim:
        model = model.widen_text_input(config.text_dim)
    if model.config.depth < config.depth:
        model = model.deepen(config.depth)
    if model.config.to_dict() != config.to_dict():
        differing = sorted(k for k, v in config.to_dict().items() if model.config.to_dict().get(k) != v)
        raise ValueError(f"--init-from {directory}: its model differs from --config in {', '.join(differing)}")
    return model.train()


def wan_initial_weights(directory: Path, config: StreamDiTConfig) -> WanStreamDiT:
    """A diffusers-format Wan transformer (``--init-from`` a Wan2.1 T2V checkpoint or a Wan-based run) as a
    :class:`WanStreamDiT` over ``config``'s buffer and windows; its own width and depth replace ``config``'s."""
    model = WanStreamDiT.from_wan(directory, config.buffer_frames, config.latent_height, config.latent_width,
                                  config.window_size, dtype=torch.float32)
    for field, source in (("in_channels", "the autoencoder's latent channels"), ("text_dim", "the text encoder's width")):
        if getattr(model.config, field) != getattr(config, field):
            raise ValueError(f"--init-from {directory}: the Wan model takes {field}={getattr(model.config, field)}, "
                             f"but {source} is {getattr(config, field)}")
    return model.train()


def training_data(spec: str, num_frames: int, size: tuple[int, int],
                  autoencoder: Autoencoder | None = None) -> Callable[[int], Iterable[Sample]]:
    """``seed -> endless (video, caption) stream`` for 'synthetic' (world v1), 'synthetic-v2', a video folder
    with metadata.csv, or ``(latents, caption)`` from a latent cache encoded by ``autoencoder`` (checked)."""
    if is_latent_cache(spec):
        cache = LatentCache(spec)
        if autoencoder is not None and not cache.encoded_by(autoencoder):
            raise SystemExit(f"error: --data {spec}: its latents were encoded by another encoder than the "
                             "autoencoder's this run uses")
        return cache.stream
    if spec in ("synthetic", "synthetic-v2"):
        if size[0] != size[1]:
            raise ValueError(f"the synthetic worlds render square videos; the model's size is {size}")
        from streamdit.data import worlds

        return partial(worlds.stream, "v1" if spec == "synthetic" else "v2", num_frames=num_frames,
                       resolution=size[0])
    from streamdit.training.video_folder import VideoFolder

    folder = VideoFolder(spec, num_frames, size)
    return folder.stream


def text_cache_size(spec: str) -> int:
    """How many prompt encodings the training keeps: every caption of a latent cache, which each epoch reads
    again (encoding them took ~7% of a world-v2 teacher step; ~0.1 MB each), else ``TEXT_CACHE_PROMPTS``."""
    return max(TEXT_CACHE_PROMPTS, LatentCache.clip_count(spec)) if is_latent_cache(spec) else TEXT_CACHE_PROMPTS


def data_world(spec: str) -> str:
    """The synthetic world of a ``--data`` source ('v2' for 'synthetic-v2' or a latent cache of it, else 'v1')."""
    if is_latent_cache(spec):
        spec = LatentCache.source(spec)
    return "v2" if spec == "synthetic-v2" else "v1"


def encode_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m streamdit encode-latents",
        description="Encode a fixed set of training clips with the frozen autoencoder once, into a latent cache "
                    "that `train --data OUT` and `distill --data OUT` read epoch after epoch instead of rendering "
                    "and encoding every clip of every step. Resumable: run it again after an interruption.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="output directory (the cache)")
    parser.add_argument("--data", default="synthetic", help=VIDEO_DATA_HELP)
    parser.add_argument("--autoencoder", required=True, help="the autoencoder directory training will use")
    parser.add_argument("--config", default="tiny-latent", help="model preset or StreamDiTConfig JSON: clips get its "
                        "buffer's frames and pixel size")
    parser.add_argument("--clips", type=int, default=12000, help="clips to encode")
    parser.add_argument("--seed", type=int, default=0, help="data seed")
    parser.add_argument("--batch-size", type=int, default=8, help="clips per encoder call")
    parser.add_argument("--shard-clips", type=int, default=500, help="clips per shard file (the unit of resuming)")
    parser.add_argument("--mixed-precision", choices=("no", "bf16"), default="no", help="bf16 autocast for the encoder")
    parser.add_argument("--cpu", action="store_true", help="encode on CPU even if a GPU is present")
    parser.add_argument("--extend", action="store_true", help="grow the finished cache in OUT to --clips clips (same "
                        "--data, --seed and encoder): it becomes the cache a run of --clips clips would write; with "
                        "its own number of clips, only its index is rewritten (a cache written before the encoder "
                        "digest then stays valid for this autoencoder with a fine-tuned decoder)")
    return parser


def encode_main(argv: Sequence[str] | None = None) -> int:
    args = encode_parser().parse_args(argv)
    device = torch.device("cuda" if torch.cuda.is_available() and not args.cpu else "cpu")
    autoencoder = _autoencoder(args.autoencoder, device)
    base = StreamDiTConfig.preset(args.config) if not args.config.endswith(".json") else \
        StreamDiTConfig.from_dict(read_json(args.config, "a StreamDiTConfig JSON file"))
    frames = base.buffer_frames * autoencoder.temporal_compression
    size = (base.latent_height * autoencoder.spatial_compression, base.latent_width * autoencoder.spatial_compression)
    from streamdit.data import object_pixels

    # the synthetic worlds' clips also get their objects' latent pixels (for `train --foreground-weight`)
    foreground = object_pixels if args.data in ("synthetic", "synthetic-v2") else None
    try:
        out = encode_clips(training_data(args.data, frames, size), autoencoder, args.out, args.clips,
                           args.data, args.seed, args.batch_size, args.shard_clips,
                           bf16=args.mixed_precision == "bf16", foreground=foreground, extend=args.extend)
    except (FileExistsError, ValueError, TypeError) as exc:
        raise SystemExit(f"error: {exc}") from exc
    print(f"wrote {args.clips} clips' latents of {frames} frames of {size[1]}x{size[0]} to {out}")
    return 0


def train_main(argv: Sequence[str] | None = None) -> int:
    parser = train_parser()
    args = parser.parse_args(argv)
    if args.text_max_tokens is not None and args.text_max_tokens < 1:
        parser.error(f"--text-max-tokens must be >= 1, got {args.text_max_tokens}")
    config = config_from_args(args)
    accelerator = make_accelerator(config, cpu=args.cpu)
    autoencoder = _autoencoder(args.autoencoder, accelerator.device)
    world = data_world(args.data)
    max_tokens = args.text_max_tokens if args.text_max_tokens is not None else (64 if world == "v2" else 32)
    text_encoder = CachedTextEncoder(TransformerTextEncoder(args.text_encoder, device=accelerator.device,
                                                            layers=args.text_layers, max_tokens=max_tokens),
                                     max_items=text_cache_size(args.data))
    model_config = _model_config(args.config, autoencoder, text_encoder)
    frames = model_config.buffer_frames * autoencoder.temporal_compression
    size = (model_config.latent_height * autoencoder.spatial_compression,
            model_config.latent_width * autoencoder.spatial_compression)
    data = training_data(args.data, frames, size, autoencoder)
    torch.manual_seed(config.seed)  # identical initial weights on every rank
    model = StreamDiT(model_config) if args.init_from is None else initial_weights(args.init_from, model_config)
    accelerator.print(f"StreamDiT {model.num_parameters() / 1e6:.2f}M parameters, {frames} frames of "
                      f"{size[1]}x{size[0]} per clip, {accelerator.num_processes} process(es) on {accelerator.device}")
    pipeline_config = PipelineConfig(chunk_size=args.sample_chunk_size, micro_steps=args.sample_micro_steps,
                            shift=args.shift if args.sample_shift is None else args.sample_shift,
                            guidance=args.sample_guidance, fps=args.fps,
                            text_encoder=str(args.text_encoder) if args.text_encoder else None,
                            text_layers=tuple(args.text_layers), text_max_tokens=max_tokens, world=world)
    pipeline_config.scheme(model_config.buffer_frames)  # fail before training if c does not divide the buffer
    trainer = Trainer(model, autoencoder, text_encoder, data, config, args.out, accelerator=accelerator)
    ema = trainer.train(resume=args.resume)
    if accelerator.is_main_process:
        StreamDiTPipeline(ema, text_encoder, autoencoder, pipeline_config).save_pretrained(args.out / "pipeline")
    accelerator.print(f"wrote {args.out / 'final'} (EMA weights) and {args.out / 'pipeline'} after {trainer.step} steps")
    accelerator.end_training()
    return 0



def distill_main(argv: Sequence[str] | None = None) -> int:
    parser = distill_parser()
    args = parser.parse_args(argv)
    for flag, value in (("--steady-fraction", args.steady_fraction), ("--rollout-fraction", args.rollout_fraction)):
        if not 0.0 <= value <= 1.0:
            parser.error(f"{flag} must be in [0, 1], got {value}")
    config = config_from_args(args, cond_dropout=0.0)
    accelerator = make_accelerator(config, cpu=args.cpu)
    teacher = StreamDiTPipeline.from_pretrained(args.teacher, device=accelerator.device)
    if teacher.schedule.scheme.micro_steps == 1 and not teacher.config.guidance:
        raise SystemExit("error: the teacher already streams with s = 1 and no guidance: nothing to distil")
    cfg = teacher.model.config
    frames = cfg.buffer_frames * teacher.autoencoder.temporal_compression
    height, width = teacher.resolution
    data = training_data(args.data, frames, (height, width), teacher.autoencoder)
    initial = None
    if args.init_from is not None:
        model_dir = model_directory(args.init_from)
        if not model_dir.is_dir():
            raise SystemExit(f"error: --init-from {args.init_from}: no such student pipeline or model directory")
        initial = load_transformer(model_dir, device=accelerator.device, dtype=torch.float32)
    try:
        trainer = DistillationTrainer(teacher, data, config, args.out, accelerator, args.steady_fraction,
                                      args.rollout_fraction, initial, args.dt_power)
    except ValueError as exc:  # e.g. an --init-from student of another architecture
        raise SystemExit(f"error: {exc}") from exc
    student = trainer.train(resume=args.resume)
    student_config = replace(teacher.config, micro_steps=1, guidance=None, guidance_min_t=0.0)  # guidance built in
    if accelerator.is_main_process:
        StreamDiTPipeline(student, teacher.text_encoder, teacher.autoencoder, student_config).save_pretrained(args.out / "pipeline")
    accelerator.print(f"wrote {args.out / 'pipeline'} (student: s = 1, no guidance) after {trainer.step} steps")
    accelerator.end_training()
    return 0


