"""Writing samples of the domain to mp4 files with ``prompts.txt`` and ``metadata.csv``."""

from __future__ import annotations

import csv
from pathlib import Path

from streamdit.video_io import write_video

from .dataset import evaluation_set
from .render import render


def write_sample(out_dir: str | Path, n: int = 8, split: str = "heldout", num_frames: int = 32,
                 fps: int = 16, seed: int = 0, resolution: int = 128) -> list[Path]:
    """Write ``evaluation_set(split, n, seed)`` as ``sample_000.mp4``... plus ``prompts.txt`` (one
    prompt per line, in file order) and ``metadata.csv``; return the video paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows, paths = [], []
    for i, (spec, prompt) in enumerate(evaluation_set(split, n, seed, resolution=resolution)):
        path = out / f"sample_{i:03d}.mp4"
        write_video(path, render(spec, num_frames), fps, crf=18)
        paths.append(path)
        rows.append({
            "file": path.name, "prompt": prompt, "split": split, "background": spec.background,
            "colors": ";".join(o.color for o in spec.objects), "shapes": ";".join(o.shape for o in spec.objects),
            "directions": ";".join(o.direction for o in spec.objects),
            "frames": num_frames, "fps": fps, "resolution": resolution,
        })
    (out / "prompts.txt").write_text("".join(r["prompt"] + "\n" for r in rows))
    with open(out / "metadata.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return paths
