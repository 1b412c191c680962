"""Training of :class:`~streamdit.autoencoders.video_autoencoder.VideoAutoencoder` on captioned clips.

Loss: L1 + MSE on pixels in [-1, 1], each pixel weighted by ``1 + foreground_weight * saturation``
(saturation = max - min over RGB, in [0, 1]): small saturated objects on grey backgrounds otherwise
drown in the background's share of the loss (an unweighted run lost the objects' colours). With
``motion_weight`` the same weighted L1 also compares the change between consecutive frames, so a decoder
that repeats one picture per group (a step every ``temporal_compression`` frames) pays for it.
After training the latents are normalised to zero mean and unit standard deviation
(``latent_shift``/``latent_scale`` in the config, as diffusers' ``scaling_factor``), which is what the
flow-matching model assumes of its data.

``--motion-from DIR`` adds a motion head to a trained autoencoder and trains only the head: the
encoder, decoder and latent normalisation stay, so models trained on that latent space keep working.
With ``--train decoder`` the decoder trains with it (the latent space stays); with ``--train all`` everything
does (a new latent space, whose decoder learns to draw the sharp keyframe the head moves instead of the
blurred mean of each group).
Its latents can be jittered with Gaussian noise (``latent_noise``, in normalised units) so the head
tolerates the small errors of generated latents. ``python -m streamdit train-autoencoder``.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import asdict
from itertools import islice
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from streamdit.autoencoders.base import video_to_tensor
from streamdit.autoencoders.video_autoencoder import VideoAutoencoder, VideoAutoencoderConfig
from streamdit.data.worlds import WORLDS, default_resolution
from streamdit.data.worlds import stream as world_stream


def psnr(reference: torch.Tensor, estimate: torch.Tensor) -> float:
    """PSNR in dB of videos in [-1, 1] (peak-to-peak 2)."""
    mse = F.mse_loss(estimate.clamp(-1, 1), reference).item()
    return float("inf") if mse == 0 else 10 * math.log10(4.0 / mse)


class WorldClips(torch.utils.data.IterableDataset):
    """A synthetic world's endless training clips for a DataLoader: each worker process renders its own
    stream (``worker_id``), so rendering runs beside the training step instead of before it (at 256x256,
    rendering a batch costs about as much as the step). One worker gives the main process's stream exactly."""

    def __init__(self, world: str, seed: int, num_frames: int, resolution: int) -> None:
        self.world, self.seed, self.num_frames, self.resolution = world, seed, num_frames, resolution

    def __iter__(self) -> Iterator[tuple[np.ndarray, str]]:
        info = torch.utils.data.get_worker_info()
        return world_stream(self.world, seed=self.seed, num_frames=self.num_frames, resolution=self.resolution,
                            worker_id=info.id if info is not None else 0)


def world_clips(world: str, seed: int, num_frames: int, resolution: int, workers: int,
                batch_size: int) -> Iterable[tuple[np.ndarray, str]]:
    """The training clips of ``world``, rendered in ``workers`` background processes (0: when asked for)."""
    clips = WorldClips(world, seed, num_frames, resolution)
    if workers == 0:
        return iter(clips)
    return torch.utils.data.DataLoader(clips, batch_size=None, num_workers=workers, prefetch_factor=2 * batch_size)


def batches(clips: Iterable[tuple[np.ndarray, str]], batch_size: int) -> Iterator[torch.Tensor]:
    """Float video batches ``(N, 3, T, H, W)`` in [-1, 1] from (uint8 video, caption) pairs."""
    it = iter(clips)
    while True:
        chunk = list(islice(it, batch_size))
        if len(chunk) < batch_size:
            return
        yield video_to_tensor(torch.from_numpy(np.stack([v for v, _ in chunk])))


@torch.no_grad()
def evaluate(ae: VideoAutoencoder, videos: torch.Tensor) -> float:
    ae.eval()
    return psnr(videos, ae.decode(ae.encode(videos)))


@torch.no_grad()
def fit_latent_normalisation(ae: VideoAutoencoder, videos: torch.Tensor) -> None:
    """Set ``latent_shift``/``latent_scale`` so encoded latents have zero mean and unit std."""
    z = ae.encode_raw(videos)
    ae.config.latent_shift = float(z.mean())
    ae.config.latent_scale = float(1.0 / z.std())


def pixel_weights(video: torch.Tensor, foreground_weight: float) -> torch.Tensor:
    """``1 + foreground_weight * saturation`` per pixel of a video ``(N, 3, T, H, W)`` in [-1, 1]."""
    rgb = (video + 1) / 2
    saturation = rgb.amax(dim=1, keepdim=True) - rgb.amin(dim=1, keepdim=True)
    return 1 + foreground_weight * saturation


def reconstruction_loss(recon: torch.Tensor, video: torch.Tensor, foreground_weight: float) -> torch.Tensor:
    weights = pixel_weights(video, foreground_weight)
    error = recon - video
    return ((error.abs() + error.square()) * weights).mean() / weights.mean()


def object_crops(video: torch.Tensor, size: int) -> torch.Tensor:
    """``size`` x ``size`` crops of videos ``(N, 3, T, H, W)``, each centred near the most saturated pixel of
    its first frame (the object), with a random offset of up to a quarter crop. The domain's frames wrap
    around (objects cross the borders), so the crop rolls the frame instead of clamping at the edges."""
    n, _, _, h, w = video.shape
    if size > min(h, w):
        raise ValueError(f"crop {size} is larger than the frames {h}x{w}")
    first = (video[:, :, 0] + 1) / 2
    saturation = (first.amax(dim=1) - first.amin(dim=1)).flatten(1).argmax(dim=1)
    jitter = torch.randint(-size // 4, size // 4 + 1, (n, 2))
    crops = []
    for i in range(n):
        y, x = int(saturation[i]) // w + int(jitter[i, 0]), int(saturation[i]) % w + int(jitter[i, 1])
        rolled = video[i].roll((h // 2 - y, w // 2 - x), dims=(-2, -1))
        crops.append(rolled[..., (h - size) // 2:(h + size) // 2, (w - size) // 2:(w + size) // 2])
    return torch.stack(crops)


def motion_loss(recon: torch.Tensor, video: torch.Tensor, foreground_weight: float) -> torch.Tensor:
    """Weighted L1 between the frame-to-frame changes of ``recon`` and ``video`` ``(N, 3, T, H, W)``."""
    weights = pixel_weights(video, foreground_weight)
    weights = torch.maximum(weights[:, :, 1:], weights[:, :, :-1])  # the object's place in either frame
    error = recon.diff(dim=2) - video.diff(dim=2)
    return (error.abs() * weights).mean() / weights.mean()


def with_motion_head(source: VideoAutoencoder, context_latents: int) -> VideoAutoencoder:
    """A copy of ``source`` (same encoder, decoder and latent normalisation) with a new motion head that
    reads ``context_latents`` earlier latents. The head starts at zero velocity; a source that has a motion
    head reading as many latents keeps it (training goes on from it)."""
    if context_latents < 1:
        raise ValueError(f"a motion head needs at least one earlier latent, got context_latents={context_latents}")
    config = VideoAutoencoderConfig(**{**asdict(source.config), "context_latents": context_latents})
    ae = VideoAutoencoder(config)
    state = source.state_dict()
    if source.config.context_latents != context_latents:
        state = {k: v for k, v in state.items() if not k.startswith("motion.")}
    missing, unexpected = ae.load_state_dict(state, strict=False)
    assert not unexpected and all(k.startswith("motion.") for k in missing), (missing, unexpected)
    return ae


PARTS = ("all", "decoder", "head")  # what train_autoencoder trains


def train_autoencoder(ae: VideoAutoencoder, train: Iterable[tuple[np.ndarray, str]], heldout: torch.Tensor,
                      steps: int, batch_size: int = 8, lr: float = 1e-3, foreground_weight: float = 10.0,
                      motion_weight: float = 0.0, parts: str = "all", latent_noise: float = 0.0,
                      crop: int | None = None, mixed_precision: str = "no", checkpoint: Path | None = None,
                      checkpoint_every: int = 500) -> dict:
    """Train ``ae`` in place; returns final loss and held-out PSNR. ``parts`` (:data:`PARTS`): what trains,
    "all", "decoder" (the decoder and any motion head: the encoder and latent normalisation stay, and with
    them the latent space models were trained on) or "head" (the motion head alone); ``latent_noise``
    jitters the latents by up to that standard deviation; ``crop`` trains on crops around the object
    (:func:`object_crops`), a fraction of the cost per step. The first group of each clip, which has no
    earlier latent (the head reads it repeated), is scored too: the head learns to read its velocity from
    that one latent, into which the encoder folded the group's frames (a stream's first frames would
    otherwise stand still; with the encoder frozen the head barely learns it, with ``parts="all"`` it does).
    ``mixed_precision="bf16"`` runs forward and loss under bf16 autocast (the weights and optimiser stay
    fp32). With ``checkpoint``, the model, optimiser, schedule and step are saved there every
    ``checkpoint_every`` steps, and a run finding one there goes on from it (give it a ``train`` stream seeded
    by :func:`checkpoint_step`, so that it does not replay the clips already seen)."""
    if parts not in PARTS:
        raise ValueError(f"parts must be one of {PARTS}, got {parts!r}")
    if parts == "head" and ae.motion is None:
        raise ValueError("training the head alone needs an autoencoder with a motion head (context_latents > 0)")
    if mixed_precision not in ("no", "bf16"):
        raise ValueError(f"mixed_precision must be 'no' or 'bf16', got {mixed_precision!r}")
    trained = {"all": [ae], "decoder": [ae.decoder, ae.motion], "head": [ae.motion]}[parts]
    ae.requires_grad_(False)
    params = [p for module in trained if module is not None for p in module.parameters()]
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.05)
    first, loss_ema = 0, None
    if checkpoint is not None and checkpoint.is_file():
        state = torch.load(checkpoint, weights_only=True)
        ae.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        first, loss_ema = int(state["step"]), float(state["loss_ema"])
    start = time.perf_counter()
    bar = tqdm(zip(range(first, steps), batches(train, batch_size)), initial=first, total=steps, desc="autoencoder",
               unit="step")
    for step, video in bar:
        ae.train()
        if crop:
            video = object_crops(video, crop)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=mixed_precision == "bf16"):
            z = ae.encode_raw(video)
            if latent_noise:
                sigma = latent_noise * torch.rand(z.shape[0], 1, 1, 1, 1) / ae.config.latent_scale
                z = z + sigma * torch.randn_like(z)
            recon = ae.decode_raw(z).float()
        loss = reconstruction_loss(recon, video, foreground_weight)
        if motion_weight:
            loss = loss + motion_weight * motion_loss(recon, video, foreground_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        loss_ema = loss.item() if loss_ema is None else 0.98 * loss_ema + 0.02 * loss.item()
        bar.set_postfix(loss=f"{loss_ema:.4f}")
        if checkpoint is not None and (step + 1) % checkpoint_every == 0 and step + 1 < steps:
            save_checkpoint(checkpoint, ae, opt, sched, step + 1, loss_ema)
    ae.requires_grad_(True)
    if parts == "all":
        fit_latent_normalisation(ae, heldout)
    return {"steps": steps, "batch_size": batch_size, "lr": lr, "foreground_weight": foreground_weight,
            "motion_weight": motion_weight, "parts": parts, "latent_noise": latent_noise, "crop": crop,
            "final_loss_ema": loss_ema,
            "heldout_psnr_db": evaluate(ae, heldout), "seconds": time.perf_counter() - start}


def save_checkpoint(path: Path, ae: VideoAutoencoder, opt: torch.optim.Optimizer,
                    sched: torch.optim.lr_scheduler.LRScheduler, step: int, loss_ema: float) -> None:
    """Write the training state atomically (a crash while writing leaves the previous checkpoint)."""
    partial = path.with_suffix(".partial")
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": ae.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                "step": step, "loss_ema": loss_ema}, partial)
    partial.replace(path)


def checkpoint_step(path: Path) -> int:
    """The step a checkpoint file was saved at (0 if there is none)."""
    return int(torch.load(path, weights_only=True)["step"]) if path.is_file() else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streamdit train-autoencoder",
                                     description="Train the small video autoencoder on the synthetic domain.")
    parser.add_argument("--out", type=Path, required=True, help="output directory (config.json, model.safetensors, metrics.json)")
    parser.add_argument("--steps", type=int, default=3000, help="optimiser steps (default 3000)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--foreground-weight", type=float, default=10.0,
                        help="extra loss weight of saturated (object) pixels (default 10; 0: plain L1 + MSE)")
    parser.add_argument("--motion-weight", type=float, default=0.0,
                        help="weight of the loss on frame-to-frame changes (default 0: frames only)")
    parser.add_argument("--motion-from", type=Path, metavar="DIR",
                        help="add a motion head to the autoencoder in DIR and train it (alone by default: the "
                             "encoder, decoder and latent space stay as they are, so models trained on it keep "
                             "working; see --train)")
    parser.add_argument("--train", choices=PARTS, default=None,
                        help="with --motion-from, what trains besides the new head: 'head' (default: nothing else; "
                             "the latent space stays), 'decoder' (the decoder too; the latent space stays) or 'all' "
                             "(encoder and decoder, so the decoder learns the sharp keyframe the head moves and the "
                             "encoder puts the motion where the head reads it; a new latent space, for one no model "
                             "was trained on yet)")
    parser.add_argument("--context-latents", type=int, default=1,
                        help="earlier latents the motion head reads (default 1; with --motion-from)")
    parser.add_argument("--carry-keyframe", action="store_true",
                        help="save the autoencoder with each group fading in from the previous group's keyframe "
                             "(a fixed fade at decoding; the head trains without it)")
    parser.add_argument("--latent-noise", type=float, default=0.0,
                        help="jitter latents by Gaussian noise of up to this std (normalised units) in training")
    parser.add_argument("--crop", type=int, metavar="PIXELS",
                        help="train on square crops of this size around the object (a multiple of 8; "
                             "default: whole frames)")
    parser.add_argument("--frames", type=int, default=8, help="frames per training clip (multiple of 4)")
    parser.add_argument("--world", choices=WORLDS, default="v1",
                        help="the synthetic world to train on (default v1: 128x128 shapes; v2: 256x256 scenes)")
    parser.add_argument("--resolution", type=int, help="frame side (default: the world's, 128 for v1, 256 for v2)")
    parser.add_argument("--latent-channels", type=int, default=8, help="channels per latent pixel (default 8)")
    parser.add_argument("--patch-size", type=int, default=2,
                        help="pixels folded into channels at both ends (default 2)")
    parser.add_argument("--widths", type=int, nargs="+", default=[32, 96],
                        help="one stride-2 stage per width, highest resolution first (default 32 96): the "
                             "spatial compression is the patch size times 2 per stage")
    parser.add_argument("--stage-blocks", type=int, default=0,
                        help="residual blocks in each stage of encoder and decoder, for more capacity at each "
                             "resolution (default 0: only the one at the latent's resolution)")
    parser.add_argument("--mixed-precision", choices=("no", "bf16"), default="no",
                        help="bf16 autocast for forward and loss (fast on CPUs with AMX; default no)")
    parser.add_argument("--checkpoint-every", type=int, default=500,
                        help="steps between training-state checkpoints (OUT/checkpoint.pt; default 500)")
    parser.add_argument("--resume", action="store_true",
                        help="go on from OUT/checkpoint.pt (the settings must be the same as the run that wrote it)")
    parser.add_argument("--data-workers", type=int, default=1,
                        help="processes rendering training clips beside the training step (default 1; 0: the "
                             "training process renders each batch before its step; 1 gives the same clips as 0)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.data_workers < 0:
        parser.error(f"--data-workers must be >= 0, got {args.data_workers}")
    if args.context_latents < 1:
        parser.error("--context-latents must be >= 1")
    if args.train is not None and args.motion_from is None:
        parser.error("--train needs --motion-from (without it every part trains)")
    if args.carry_keyframe and args.motion_from is None:
        parser.error("--carry-keyframe needs a motion head: give --motion-from")
    if args.crop is not None and (args.crop <= 0 or args.crop % 8):
        parser.error(f"--crop must be a positive multiple of 8, got {args.crop}")
    if args.stage_blocks < 0:
        parser.error(f"--stage-blocks must be >= 0, got {args.stage_blocks}")
    if args.frames % 4 or args.frames <= 0:
        parser.error(f"--frames must be a positive multiple of 4, got {args.frames}")

    if args.checkpoint_every < 1:
        parser.error(f"--checkpoint-every must be >= 1, got {args.checkpoint_every}")
    checkpoint = args.out / "checkpoint.pt"
    if checkpoint.is_file() and not args.resume:
        parser.error(f"{checkpoint} exists: add --resume to go on from it, or choose a new --out")
    resolution = args.resolution or default_resolution(args.world)
    if args.crop is not None and args.crop > resolution:
        parser.error(f"--crop must be at most the resolution ({resolution}), got {args.crop}")

    torch.manual_seed(args.seed)
    if args.motion_from is None:
        ae = VideoAutoencoder(VideoAutoencoderConfig(latent_channels=args.latent_channels, patch_size=args.patch_size,
                                                     widths=tuple(args.widths), stage_blocks=args.stage_blocks))
        if resolution % ae.spatial_compression:
            parser.error(f"the resolution {resolution} is not a multiple of the spatial compression "
                         f"{ae.spatial_compression} (patch size x 2 per width)")
    else:
        try:
            source = VideoAutoencoder.from_pretrained(args.motion_from)
        except (FileNotFoundError, ValueError) as error:
            parser.error(f"--motion-from: {error}")
        ae = with_motion_head(source, args.context_latents)
    heldout = next(batches(world_stream(args.world, seed=args.seed + 1000, num_frames=args.frames, split="heldout",
                                        resolution=resolution), 32))
    start = checkpoint_step(checkpoint)  # a resumed run draws clips it has not seen
    train = world_clips(args.world, args.seed + 1_000_003 * start, args.frames, resolution, args.data_workers,
                        args.batch_size)
    metrics = train_autoencoder(ae, train, heldout, args.steps, args.batch_size, args.lr, args.foreground_weight,
                                args.motion_weight, "all" if args.motion_from is None else args.train or "head",
                                args.latent_noise, args.crop,
                                args.mixed_precision, checkpoint, args.checkpoint_every)
    if args.carry_keyframe:
        ae.config.carry_keyframe = True
        metrics["heldout_psnr_db"] = evaluate(ae, heldout)  # of the decoder as saved
    ae.save_pretrained(args.out)
    metrics["parameters"] = sum(p.numel() for p in ae.parameters())
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(json.dumps(metrics, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
