"""Writing samples of the domain to mp4 (with ``prompts.txt`` and ``metadata.csv``) and reading mp4 back."""

from __future__ import annotations

import csv
from pathlib import Path

import av
import numpy as np

from .dataset import evaluation_set
from .render import render


def write_mp4(video: np.ndarray, path: str | Path, fps: int = 16, crf: int = 18) -> None:
    """Encode a uint8 video (T, H, W, 3) as H.264 (yuv420p) mp4."""
    with av.open(str(path), mode="w") as container:
        out = container.add_stream("libx264", rate=fps, options={"crf": str(crf)})
        out.width, out.height, out.pix_fmt = video.shape[2], video.shape[1], "yuv420p"
        for frame in video:
            container.mux(out.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")))
        container.mux(out.encode())


def read_video(path: str | Path) -> np.ndarray:
    """Decode a video file to a uint8 array (T, H, W, 3)."""
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def write_sample(out_dir: str | Path, n: int = 8, split: str = "heldout", num_frames: int = 32,
                 fps: int = 16, seed: int = 0, resolution: int = 128) -> list[Path]:
    """Write ``evaluation_set(split, n, seed)`` as ``sample_000.mp4``... plus ``prompts.txt`` (one
    prompt per line, in file order) and ``metadata.csv``; return the video paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows, paths = [], []
    for i, (spec, prompt) in enumerate(evaluation_set(split, n, seed, resolution=resolution)):
        path = out / f"sample_{i:03d}.mp4"
        write_mp4(render(spec, num_frames), path, fps)
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
