"""Training of :class:`~streamdit.video_autoencoder.VideoAutoencoder` on captioned clips.

Loss: L1 + MSE on pixels in [-1, 1], each pixel weighted by ``1 + foreground_weight * saturation``
(saturation = max - min over RGB, in [0, 1]): small saturated objects on grey backgrounds otherwise
drown in the background's share of the loss (an unweighted run lost the objects' colours). After training the latents are normalised to zero mean and unit
standard deviation (``latent_shift``/``latent_scale`` in the config, as diffusers' ``scaling_factor``),
which is what the flow-matching model assumes of its data. ``python -m streamdit train-autoencoder``.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from itertools import islice
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from streamdit.autoencoder import video_to_tensor
from streamdit.video_autoencoder import VideoAutoencoder, VideoAutoencoderConfig


def psnr(reference: torch.Tensor, estimate: torch.Tensor) -> float:
    """PSNR in dB of videos in [-1, 1] (peak-to-peak 2)."""
    mse = F.mse_loss(estimate.clamp(-1, 1), reference).item()
    return float("inf") if mse == 0 else 10 * math.log10(4.0 / mse)


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


def train_autoencoder(ae: VideoAutoencoder, train: Iterable[tuple[np.ndarray, str]], heldout: torch.Tensor,
                      steps: int, batch_size: int = 8, lr: float = 1e-3, foreground_weight: float = 10.0) -> dict:
    """Train ``ae`` in place; returns final loss and held-out PSNR."""
    opt = torch.optim.AdamW(ae.parameters(), lr=lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.05)
    start, loss_ema = time.perf_counter(), None
    bar = tqdm(zip(range(steps), batches(train, batch_size)), total=steps, desc="autoencoder", unit="step")
    for _, video in bar:
        ae.train()
        recon = ae.decode_raw(ae.encode_raw(video))
        loss = reconstruction_loss(recon, video, foreground_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(ae.parameters(), 1.0)
        opt.step()
        sched.step()
        loss_ema = loss.item() if loss_ema is None else 0.98 * loss_ema + 0.02 * loss.item()
        bar.set_postfix(loss=f"{loss_ema:.4f}")
    fit_latent_normalisation(ae, heldout)
    return {"steps": steps, "batch_size": batch_size, "lr": lr, "foreground_weight": foreground_weight,
            "final_loss_ema": loss_ema,
            "heldout_psnr_db": evaluate(ae, heldout), "seconds": time.perf_counter() - start}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streamdit train-autoencoder",
                                     description="Train the small video autoencoder on the synthetic domain.")
    parser.add_argument("--out", type=Path, required=True, help="output directory (config.json, model.safetensors, metrics.json)")
    parser.add_argument("--steps", type=int, default=3000, help="optimiser steps (default 3000)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--foreground-weight", type=float, default=10.0,
                        help="extra loss weight of saturated (object) pixels (default 10; 0: plain L1 + MSE)")
    parser.add_argument("--frames", type=int, default=8, help="frames per training clip (multiple of 4)")
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from streamdit import data

    torch.manual_seed(args.seed)
    ae = VideoAutoencoder(VideoAutoencoderConfig())
    heldout = next(batches(data.stream(seed=args.seed + 1000, num_frames=args.frames, split="heldout",
                                       resolution=args.resolution), 32))
    train = data.stream(seed=args.seed, num_frames=args.frames, resolution=args.resolution)
    metrics = train_autoencoder(ae, train, heldout, args.steps, args.batch_size, args.lr, args.foreground_weight)
    ae.save_pretrained(args.out)
    metrics["parameters"] = sum(p.numel() for p in ae.parameters())
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(json.dumps(metrics, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
