"""Accuracy of the world-v2 detector on ground-truth renders: ``python -m streamdit.data.v2.validate``.

For each split and condition (clean; blurred and noisy like a small generative model's output; with
``--autoencoder DIR``, passed through that video autoencoder: what survives its latent space), random
scenes are rendered and scored by ``detect_adherence`` against their canonical caption, which states
every attribute of every object, the background and (on textured backgrounds) the camera. Prints
per-attribute accuracy with 95% Wilson intervals, the misses by attribute value, and throughput.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from typing import Callable

import numpy as np
from tqdm import tqdm

from ..validate import degrade, wilson_interval
from .captions import caption
from .detector import OBJECT_FIELDS, detect_adherence, detect_scene
from .domain import SPLITS, sample_scene
from .render import render

ATTRIBUTES = (*OBJECT_FIELDS, "background", "camera", "count", "match")


def validate(n: int = 100, seed: int = 0, num_frames: int = 32, resolution: int = 256, noise_std: float = 12.0,
             blur_sigma: float = 3.0, conditions: tuple[str, ...] = ("clean", "blur+noise"),
             reconstruct: Callable[[np.ndarray], np.ndarray] | None = None) -> tuple[list[dict], Counter]:
    """Rows (condition, split, attribute, correct, total, accuracy, ci_low, ci_high) over ``n`` scenes per
    split, and a count of the misses by (condition, attribute, true value). Condition "autoencoder" scores
    ``reconstruct(video)``."""
    rng = np.random.default_rng(seed)
    rows, misses = [], Counter()
    for split in SPLITS:
        specs = [sample_scene(rng, split, resolution=resolution) for _ in range(n)]
        for condition in conditions:
            results = []
            for spec in tqdm(specs, desc=f"{split} {condition}", leave=False):
                video = render(spec, num_frames)
                if condition == "autoencoder":
                    video = reconstruct(video)
                elif condition != "clean":
                    video = degrade(video, rng, noise_std, blur_sigma)
                result = detect_adherence(video, caption(spec))
                results.append(result)
                if not result["match"]:
                    _count_misses(misses, condition, spec, video)
            for attribute in ATTRIBUTES:
                scored = [r[attribute] for r in results if r[attribute] is not None]
                k = int(sum(scored))
                lo, hi = wilson_interval(k, len(scored))
                rows.append({"condition": condition, "split": split, "attribute": attribute, "correct": k,
                             "total": len(scored), "accuracy": k / len(scored), "ci_low": lo, "ci_high": hi})
    return rows, misses


def _count_misses(misses: Counter, condition: str, spec, video: np.ndarray) -> None:
    found = detect_scene(video)
    by_color = {d.color: d for d in found.objects}
    for obj in spec.objects:
        det = by_color.get(obj.color)
        for name, true in zip(OBJECT_FIELDS, obj.attributes):
            seen = None if det is None else getattr(det, name)
            if true is not None and seen != true:
                misses[(condition, name, f"{true} -> {seen}")] += 1
    if found.background != spec.background:
        misses[(condition, "background", f"{spec.background} -> {found.background}")] += 1
    if found.camera != spec.camera:
        misses[(condition, "camera", f"{spec.camera} -> {found.camera}")] += 1


def autoencoder_reconstruction(directory: str) -> Callable[[np.ndarray], np.ndarray]:
    """``video -> video`` through the autoencoder in ``directory`` (encode, then decode; fp32 on CPU)."""
    import torch

    from ...autoencoders.base import tensor_to_video, video_to_tensor
    from ...loading import load_autoencoder

    autoencoder = load_autoencoder(directory)

    def reconstruct(video: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            latents = autoencoder.encode(video_to_tensor(torch.from_numpy(video)[None]))
            return tensor_to_video(autoencoder.decode(latents))[0].numpy()

    return reconstruct


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m streamdit.data.v2.validate", description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=100, help="scenes per split (default 100)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--frames", type=int, default=32, help="frames per video (default 32, at least 24)")
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--noise", type=float, default=12.0, help="noise std of the degraded condition, 0-255 units")
    parser.add_argument("--blur", type=float, default=3.0, help="blur sigma of the degraded condition, pixels")
    parser.add_argument("--clean-only", action="store_true", help="score the clean renders only")
    parser.add_argument("--autoencoder", default=None, metavar="DIR",
                        help="also score reconstructions by this video autoencoder (frames: a multiple of its "
                             "temporal compression)")
    args = parser.parse_args(argv)
    conditions = ("clean",) if args.clean_only else ("clean", "blur+noise")
    reconstruct = None
    if args.autoencoder is not None:
        reconstruct, conditions = autoencoder_reconstruction(args.autoencoder), (*conditions, "autoencoder")
    start = time.perf_counter()
    rows, misses = validate(args.n, args.seed, args.frames, args.resolution, args.noise, args.blur, conditions,
                            reconstruct)
    print(f"{'condition':<11} {'split':<8} {'attribute':<11} {'accuracy':>8}  {'95% CI':<15} {'n':>4}")
    for r in rows:
        print(f"{r['condition']:<11} {r['split']:<8} {r['attribute']:<11} {r['accuracy']:>8.3f}  "
              f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}]  {r['total']:>4}")
    if misses:
        print("misses (condition, attribute, true -> detected):")
        for (condition, name, what), k in sorted(misses.items()):
            print(f"  {condition:<11} {name:<11} {what}: {k}")
    videos = 2 * args.n * len(conditions)
    print(f"{videos} videos of {args.frames} frames at {args.resolution}x{args.resolution} rendered and scored "
          f"in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
