"""VideoMAE video features (transformers) as an alternative FVD feature network.

Loads a local transformers VideoMAE directory (`config.json` + weights, e.g. MCG-NJU's
videomae-base-finetuned-kinetics); a clip of `config.num_frames` frames is resized (shorter side, bilinear)
and center-cropped to `config.image_size`, scaled to [0, 1] and normalized with ImageNet mean/std (as
`VideoMAEImageProcessor`); the feature is the mean of the encoder's output tokens. cd-fvd's VideoMAE-v2
features come from a different network (ViT-g): its FVD numbers are not comparable with these.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torchvision.transforms.v2.functional as TF
from transformers import VideoMAEModel

from .batching import encode_clips
from .weights import file_fingerprint, load_error, resolve_weights

IMAGENET_MEAN, IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


class VideoMAE:
    """`VideoMAE.load(dir)` or `VideoMAE(model)`; `encode_videos(videos)` -> (N, hidden_size)."""

    def __init__(self, model: VideoMAEModel, device: str = "cpu", batch_size: int = 4, fingerprint: str | None = None):
        self.model = model.eval().to(device)
        self.device, self.batch_size, self.fingerprint = device, batch_size, fingerprint
        self.num_frames, self.size = model.config.num_frames, model.config.image_size
        self.num_features = model.config.hidden_size
        self.weights_file: Path | None = None
        self.weights_sha256: str | None = None

    @classmethod
    def load(cls, path: str | Path | None = None, weights_dir: str | Path | None = None, device: str = "cpu",
             batch_size: int = 4) -> "VideoMAE":
        """Load a local transformers VideoMAE directory (never the hub)."""
        path = resolve_weights("videomae", path, weights_dir)
        try:
            model = VideoMAEModel.from_pretrained(str(path), local_files_only=True)
        except Exception as err:  # not a transformers VideoMAE directory: one clear line
            raise load_error("videomae", path, err) from err
        weights = sorted(p for p in path.iterdir() if p.suffix in (".safetensors", ".bin"))
        shas = [file_fingerprint(w) for w in weights]
        videomae = cls(model, device, batch_size, "videomae-" + "-".join(shas))
        videomae.weights_file, videomae.weights_sha256 = path, "+".join(shas)
        return videomae

    def describe_preprocessing(self, num_frames: int, stride: int) -> str:
        """How clips are taken and resized, for the provenance of a result."""
        return (f"first {num_frames} frames at stride {stride} from frame 0; each video's shorter side resized to "
                f"{self.size} (bilinear, antialiased), center crop, ImageNet mean/std; mean of VideoMAE tokens")

    def preprocess(self, videos: torch.Tensor) -> torch.Tensor:
        """uint8 (B, T, H, W, 3) -> float (B, T, 3, size, size)."""
        b, t = videos.shape[:2]
        x = videos.reshape(b * t, *videos.shape[2:]).permute(0, 3, 1, 2)
        x = TF.center_crop(TF.resize(x, [self.size], antialias=True), [self.size, self.size])
        x = TF.normalize(x.float() / 255.0, IMAGENET_MEAN, IMAGENET_STD)
        return x.reshape(b, t, 3, self.size, self.size)

    def _encode(self, clips: list[torch.Tensor]) -> torch.Tensor:
        for clip in clips:
            if clip.shape[0] != self.num_frames:
                raise ValueError(f"this VideoMAE takes clips of {self.num_frames} frames, got {clip.shape[0]}")
        pixels = torch.cat([self.preprocess(clip[None]) for clip in clips])  # each clip resized on its own
        return self.model(pixel_values=pixels.to(self.device)).last_hidden_state.mean(dim=1)

    @torch.no_grad()
    def encode_videos(self, videos: Sequence[np.ndarray | torch.Tensor]) -> np.ndarray:
        """Mean-pooled encoder tokens of each clip (each exactly `num_frames` frames)."""
        return encode_clips(videos, self.batch_size, self._encode)
