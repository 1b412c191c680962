"""CLIP (open_clip) image/text features and the CLIP score (torchmetrics' CLIPScore definition).

Per frame: 100 * max(cos(image, text), 0), as torchmetrics `clip_score`; averaged over the frames of a
video, then over videos (with a bootstrap CI). Frames are preprocessed as open_clip's eval transform
(resize the shorter side to the model's size with bicubic antialiased resampling, center crop, CLIP mean
and std), on uint8 tensors so the resize rounds to uint8 like PIL does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import open_clip
import torch
import torchvision.transforms.v2.functional as TF
from torch import nn
from torchmetrics import Metric
from torchmetrics.utilities.data import dim_zero_cat

from .batching import embed_frames
from .features import FeatureCache, video_features
from .stats import Estimate, bootstrap_mean
from .video_io import VideoLike, VideoLoadError
from .weights import DEFAULT_CLIP_ARCH, checked_weights, load_error


class CLIP:
    """An open_clip model with its tokenizer and preprocessing; `CLIP.load(path)` or `CLIP(model, arch)`."""

    def __init__(self, model: nn.Module, arch: str, device: str = "cpu", batch_size: int = 32,
                 fingerprint: str | None = None):
        self.model = model.eval().to(device)
        self.tokenizer = open_clip.get_tokenizer(arch)
        cfg = open_clip.get_model_preprocess_cfg(model)
        size = cfg["size"]
        self.size = size if isinstance(size, int) else size[0]
        self.mean, self.std = list(cfg["mean"]), list(cfg["std"])
        self.device, self.batch_size = device, batch_size
        self.weights_file: Path | None = None
        self.weights_sha256: str | None = None
        self.fingerprint = None if fingerprint is None else f"clip-{arch}-{fingerprint}-{self.size}"

    @classmethod
    def load(cls, path: str | Path | None = None, arch: str = DEFAULT_CLIP_ARCH, weights_dir: str | Path | None = None,
             device: str = "cpu", batch_size: int = 32) -> "CLIP":
        """Load an open_clip checkpoint (.safetensors/.bin/.pt state dict) from a local file."""
        path, sha = checked_weights("clip", path, weights_dir, arch)
        try:
            model = open_clip.create_model(arch, pretrained=str(path), device=device)
        except Exception as err:  # junk, truncated or another architecture's file: one clear line
            raise load_error("clip", path, err) from err
        clip = cls(model, arch, device, batch_size, sha)
        clip.weights_file, clip.weights_sha256 = path, sha
        return clip

    def describe_preprocessing(self, num_frames: int | None) -> str:
        """How frames are taken and resized, for the provenance of a result."""
        frames = f"{num_frames} frames spread uniformly" if num_frames else "all frames"
        return (f"{frames}; each video's shorter side resized to {self.size} (bicubic, antialiased), center crop "
                f"{self.size}x{self.size}, CLIP mean/std (open_clip eval transform)")

    def preprocess(self, frames: torch.Tensor) -> torch.Tensor:
        """uint8 (N, H, W, 3) -> normalized float (N, 3, size, size)."""
        x = frames.permute(0, 3, 1, 2)
        x = TF.resize(x, [self.size], interpolation=TF.InterpolationMode.BICUBIC, antialias=True)
        x = TF.center_crop(x, [self.size, self.size])
        return TF.normalize(x.float() / 255.0, self.mean, self.std)

    def _forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.model.encode_image(pixels.to(self.device))

    @torch.no_grad()
    def image_features(self, frames: np.ndarray | torch.Tensor) -> torch.Tensor:
        """L2-normalized image features (N, D) of uint8 frames (N, H, W, 3), `batch_size` per call."""
        feats = embed_frames([frames], self.preprocess, self._forward, self.batch_size)[0]
        return nn.functional.normalize(torch.from_numpy(feats), dim=-1)

    @torch.no_grad()
    def text_features(self, prompts: Sequence[str]) -> torch.Tensor:
        """L2-normalized text features (P, D)."""
        tokens = self.tokenizer(list(prompts)).to(self.device)
        return nn.functional.normalize(self.model.encode_text(tokens).float(), dim=-1).cpu()

    @torch.no_grad()
    def encode_videos(self, videos: list[np.ndarray]) -> list[np.ndarray]:
        """Per-frame L2-normalized features of each video (videos may differ in size: each is resized and
        cropped on its own); frames of all videos go through the network together."""
        feats = embed_frames(videos, self.preprocess, self._forward, self.batch_size)
        return [nn.functional.normalize(torch.from_numpy(f), dim=-1).numpy() for f in feats]


def clip_score_per_frame(image_features: torch.Tensor, text_features: torch.Tensor) -> torch.Tensor:
    """torchmetrics' CLIPScore of each row pair: 100 * max(cos, 0)."""
    image_features = nn.functional.normalize(image_features.float(), dim=-1)
    text_features = nn.functional.normalize(text_features.float(), dim=-1)
    return (100 * (image_features * text_features).sum(-1)).clamp_min(0.0)


def clip_scores(videos: Sequence[VideoLike], prompts: Sequence[str], model: CLIP, num_frames: int | None = None,
                cache: FeatureCache | None = None, progress: bool = False) -> np.ndarray:
    """CLIP score of each video against its prompt (frame scores averaged over the video)."""
    if len(videos) != len(prompts):
        raise VideoLoadError(f"{len(prompts)} prompts for {len(videos)} videos: give exactly one prompt per video")
    frame_feats = video_features(model, videos, num_frames, "uniform", cache=cache, progress=progress, desc="CLIP")
    text = model.text_features(prompts)
    return np.array([
        float(clip_score_per_frame(torch.as_tensor(f), text[i].expand(len(f), -1)).mean())
        for i, f in enumerate(frame_feats)
    ])


def clip_score(videos: Sequence[VideoLike], prompts: Sequence[str], model: CLIP, num_frames: int | None = None,
               cache: FeatureCache | None = None, progress: bool = False) -> Estimate:
    """Mean CLIP score over videos with a bootstrap CI."""
    return bootstrap_mean(clip_scores(videos, prompts, model, num_frames, cache, progress))


class VideoCLIPScore(Metric):
    """torchmetrics-style CLIP score for videos: `update(videos, prompts)`, `compute()` -> mean score."""

    higher_is_better = True
    full_state_update = False

    def __init__(self, model: CLIP, num_frames: int | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.clip, self.num_frames = model, num_frames
        self.add_state("scores", default=[], dist_reduce_fx="cat")

    def update(self, videos: Sequence[VideoLike], prompts: Sequence[str]) -> None:
        self.scores.append(torch.as_tensor(clip_scores(videos, prompts, self.clip, self.num_frames)))

    def compute(self) -> torch.Tensor:
        return dim_zero_cat(self.scores).mean()
