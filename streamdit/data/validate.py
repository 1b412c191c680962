"""Accuracy of the detector on ground-truth generator output: ``python -m streamdit.data.validate``.

For each split and condition (clean; blurred and noisy like a small generative model's output), random
videos are rendered, captioned with random templates and synonyms, and scored by ``detect_adherence``
against their own caption. Prints per-attribute accuracy with 95% Wilson intervals and throughput.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import ndimage

from .captions import caption
from .detector import detect_adherence
from .domain import SPLITS, sample_spec
from .render import render

ATTRIBUTES = ("color", "shape", "direction", "match", "count", "background")


def degrade(video: np.ndarray, rng: np.random.Generator, noise_std: float = 12.0,
            blur_sigma: float = 1.5) -> np.ndarray:
    """Spatial Gaussian blur then additive Gaussian noise (0-255 units), clipped back to uint8."""
    blurred = ndimage.gaussian_filter(video.astype(np.float32), sigma=(0, blur_sigma, blur_sigma, 0))
    noise = rng.standard_normal(video.shape, dtype=np.float32) * np.float32(noise_std)
    return np.clip(np.rint(blurred + noise), 0, 255).astype(np.uint8)


def wilson_interval(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion k / n."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def validate(n: int = 200, seed: int = 0, num_frames: int = 16, noise_std: float = 12.0,
             blur_sigma: float = 1.5) -> list[dict]:
    """Rows (condition, split, attribute, correct, total, accuracy, ci_low, ci_high), ``n`` videos per split.

    "background" is scored only on captions that name one.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for split in SPLITS:
        samples = []
        for _ in range(n):
            spec = sample_spec(rng, split)
            samples.append((render(spec, num_frames), caption(spec, rng)))
        for condition in ("clean", "blur+noise"):
            results = [detect_adherence(v if condition == "clean" else degrade(v, rng, noise_std, blur_sigma), c)
                       for v, c in samples]
            for attribute in ATTRIBUTES:
                scored = [r[attribute] for r in results if r[attribute] is not None]
                k = int(sum(scored))
                lo, hi = wilson_interval(k, len(scored))
                rows.append({"condition": condition, "split": split, "attribute": attribute, "correct": k,
                             "total": len(scored), "accuracy": k / len(scored), "ci_low": lo, "ci_high": hi})
    return rows


def throughput(num_frames: int = 16, resolution: int = 128, n: int = 50, seed: int = 0) -> tuple[float, float]:
    """(rendered videos per second, detected videos per second) on this machine."""
    rng = np.random.default_rng(seed)
    specs = [sample_spec(rng, resolution=resolution) for _ in range(n)]
    start = time.perf_counter()
    pairs = [(render(s, num_frames), caption(s, rng)) for s in specs]
    rendered = time.perf_counter()
    for video, text in pairs:
        detect_adherence(video, text)
    return n / (rendered - start), n / (time.perf_counter() - rendered)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200, help="videos per split")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--noise", type=float, default=12.0, help="noise std, 0-255 units")
    parser.add_argument("--blur", type=float, default=1.5, help="blur sigma, pixels")
    args = parser.parse_args(argv)
    print(f"{'condition':<11} {'split':<8} {'attribute':<10} {'accuracy':>8}  {'95% CI':<15} {'n':>4}")
    for r in validate(args.n, args.seed, args.frames, args.noise, args.blur):
        print(f"{r['condition']:<11} {r['split']:<8} {r['attribute']:<10} {r['accuracy']:>8.3f}  "
              f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}]  {r['total']:>4}")
    render_rate, detect_rate = throughput(args.frames)
    print(f"throughput ({args.frames} frames, 128x128): render {render_rate:.0f} videos/s, "
          f"detect_adherence {detect_rate:.0f} videos/s")


if __name__ == "__main__":
    main()
