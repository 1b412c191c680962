"""VBench dynamic degree: the share of videos that move, judged by RAFT optical flow.

Per video (VBench `dynamic_degree.py`): frames taken every round(fps / 8)-th (about 8 per second; every
frame for a frame folder or an array without fps); for each consecutive pair, RAFT's flow (20 refinement
iterations, frames replicate-padded to a multiple of 8) and the mean of its largest 5% magnitudes; the
video moves when at least round(4 * n / 16) of its n frames' pairs exceed 6 * min(H, W) / 256 pixels.
The dynamic degree of a set is the share of videos that move (a mean of booleans: bootstrap CI).

The network is torchvision's RAFT-large; `raft_large_C_T_V1` is the original RAFT-things checkpoint that
VBench loads, ported by torchvision. torchvision's RAFT refuses frames under 128 pixels a side, so a
smaller video is upsampled (bilinear) until its shorter side is 128 before flow; flow and threshold both
scale with the size, so the decision is unchanged to first order (recorded in the provenance).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import Metric

from .stats import Estimate, bootstrap_mean
from .video_io import VideoLike, load_any, video_fps
from .weights import checked_weights, load_error

RAFT_ITERS = 20
RAFT_MIN_SIDE = 128


def vbench_thresholds(height: int, width: int, frames: int) -> tuple[float, int]:
    """VBench's (flow threshold in pixels, number of pairs that must exceed it) for `frames` frames."""
    return 6.0 * min(height, width) / 256.0, round(4 * frames / 16.0)


def top_flow_magnitude(flow: np.ndarray | torch.Tensor) -> float:
    """Mean of the largest 5% flow magnitudes of one flow field (2, H, W) (VBench `get_score`)."""
    flow = torch.as_tensor(flow, dtype=torch.float64)
    rad = torch.sqrt(flow[0] ** 2 + flow[1] ** 2).flatten()
    cut = int(rad.numel() * 0.05)
    return float(torch.sort(rad, descending=True).values[:cut].mean()) if cut > 0 else float("nan")


def moves(scores: Sequence[float], threshold: float, count_needed: int) -> bool:
    """VBench's `check_move`: True once `count_needed` of the pair scores exceeded `threshold` (checked
    after each pair, so a count of 0 needs at least one pair)."""
    count = 0
    for score in scores:
        if score > threshold:
            count += 1
        if count >= count_needed:
            return True
    return False


def flows_move(flows: Sequence[np.ndarray | torch.Tensor], height: int, width: int) -> bool:
    """VBench's verdict from the flow fields (2, H, W) between the consecutive frames of a video of
    `len(flows) + 1` frames of `height` x `width` pixels."""
    threshold, needed = vbench_thresholds(height, width, len(flows) + 1)
    return moves([top_flow_magnitude(f) for f in flows], threshold, needed)


def vbench_frame_interval(fps: float | None) -> int:
    """Every round(fps / 8)-th frame (VBench), at least every frame."""
    return 1 if not fps else max(1, round(fps / 8))


class RAFTFlow:
    """torchvision RAFT-large as VBench calls RAFT: `RAFTFlow.load(path)` or `RAFTFlow(network)`."""

    def __init__(self, network: nn.Module, device: str = "cpu", iters: int = RAFT_ITERS, batch_size: int = 8,
                 fingerprint: str | None = None):
        self.network = network.eval().to(device)
        self.device, self.iters, self.batch_size, self.fingerprint = device, iters, batch_size, fingerprint
        self.weights_file: Path | None = None
        self.weights_sha256: str | None = None

    @classmethod
    def load(cls, path: str | Path | None = None, weights_dir: str | Path | None = None, device: str = "cpu",
             iters: int = RAFT_ITERS, batch_size: int = 8) -> "RAFTFlow":
        """Load torchvision's `raft_large_C_T_V1-22a6c225.pth` (or any RAFT-large state dict)."""
        from torchvision.models.optical_flow import raft_large

        path, sha = checked_weights("raft", path, weights_dir)
        network = raft_large(weights=None)
        try:
            network.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        except Exception as err:  # junk or another network's file: one clear line
            raise load_error("raft", path, err) from err
        model = cls(network, device, iters, batch_size, f"raft-large-{iters}-{sha}")
        model.weights_file, model.weights_sha256 = path, sha
        return model

    @staticmethod
    def flow_size(height: int, width: int) -> tuple[int, int]:
        """The frame size the flow is measured at (before padding): upsampled to a shorter side of 128."""
        if min(height, width) >= RAFT_MIN_SIDE:
            return height, width
        scale = RAFT_MIN_SIDE / min(height, width)
        return max(RAFT_MIN_SIDE, round(height * scale)), max(RAFT_MIN_SIDE, round(width * scale))

    @staticmethod
    def prepare(frames: torch.Tensor) -> torch.Tensor:
        """uint8 (T, H, W, 3) -> float (T, 3, H', W') in [-1, 1]: upsampled until the shorter side is at
        least 128 (torchvision RAFT's minimum), then replicate-padded to a multiple of 8 (VBench's
        `InputPadder`, "sintel" mode: split evenly)."""
        x = frames.permute(0, 3, 1, 2).float()
        size = RAFTFlow.flow_size(*x.shape[-2:])
        if size != tuple(x.shape[-2:]):
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        h, w = size
        pad_h, pad_w = (-h) % 8, (-w) % 8
        x = F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2], mode="replicate")
        return 2.0 * x / 255.0 - 1.0

    @torch.no_grad()
    def flows(self, video: np.ndarray | torch.Tensor) -> list[torch.Tensor]:
        """RAFT's flow (2, H', W') from each frame to the next (at the padded flow size)."""
        x = self.prepare(torch.as_tensor(np.asarray(video)))
        out: list[torch.Tensor] = []
        for i in range(0, len(x) - 1, self.batch_size):
            b = x[i + 1:i + 1 + self.batch_size]
            a = x[i:i + len(b)]
            out += list(self.network(a.to(self.device), b.to(self.device), num_flow_updates=self.iters)[-1].cpu())
        return out

    def video_moves(self, video: np.ndarray | torch.Tensor) -> bool:
        """VBench's verdict for one video (frames already taken at VBench's interval)."""
        video = np.asarray(video)
        return flows_move(self.flows(video), *self.flow_size(*video.shape[1:3]))

    def describe_preprocessing(self) -> str:
        return (f"frames every round(fps/8) (all for frame folders); shorter side upsampled to {RAFT_MIN_SIDE} if "
                f"smaller, replicate-padded to a multiple of 8; RAFT-large, {self.iters} iterations; VBench thresholds")


def _sampled(video: VideoLike, fps: float | None = None) -> np.ndarray:
    if isinstance(video, (str, Path)):
        fps = video_fps(video) if fps is None else fps
    return load_any(video, stride=vbench_frame_interval(fps))  # a file: only the frames taken are held


def dynamic_degree_per_video(videos: Sequence[VideoLike], model: RAFTFlow, fps: float | None = None) -> np.ndarray:
    """Per video: 1.0 if it moves (VBench), else 0.0. `fps` overrides file rates (arrays: every frame)."""
    return np.array([float(model.video_moves(_sampled(v, fps))) for v in videos])


def dynamic_degree(videos: Sequence[VideoLike], model: RAFTFlow, fps: float | None = None) -> Estimate:
    """VBench dynamic degree: the share of `videos` that move, with a bootstrap CI."""
    return bootstrap_mean(dynamic_degree_per_video(videos, model, fps))


class DynamicDegree(Metric):
    """torchmetrics-style dynamic degree: `update(videos)`, `compute()` -> share of videos that move."""

    higher_is_better = True
    full_state_update = False

    def __init__(self, model: RAFTFlow, fps: float | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.raft, self.fps = model, fps
        self.add_state("moving", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("total", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, videos: Sequence[VideoLike]) -> None:
        flags = dynamic_degree_per_video(videos, self.raft, self.fps)
        self.moving += float(flags.sum())
        self.total += len(flags)

    def compute(self) -> torch.Tensor:
        return self.moving / self.total
