"""Offline stand-in for FVD's feature network: features from a video autoencoder's encoder.

No pretrained video network (I3D, VideoMAE) ships offline (eval/README.md says where to put one), so
`python -m eval paper` falls back to the Fréchet distance on the latents of the evaluated pipeline's
own video autoencoder, trained on the synthetic domain ("FD-AE"). Per clip: the latents (C, t, h, w)
average-pooled to 2x2 positions and averaged over time (4 C values: where which channel is), plus the
mean absolute change between consecutive latent frames per channel (C values: motion). FD-AE is a
domain-specific proxy: it is not comparable with published FVD numbers.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from streamdit import video_to_tensor

from .batching import encode_clips

POOLED = (2, 2)


class AutoencoderFeatures:
    """FVD-style feature model (`eval.fvd.fvd_features` accepts it) over an autoencoder with
    `encode(video (N, 3, T, H, W) in [-1, 1]) -> latents (N, C, T / tc, h, w)` and `latent_channels`."""

    def __init__(self, autoencoder: object, device: str | torch.device = "cpu", batch_size: int = 8) -> None:
        self.autoencoder, self.device, self.batch_size = autoencoder, device, batch_size
        self.fingerprint = None  # in-memory weights: never cached
        self.num_features = autoencoder.latent_channels * (POOLED[0] * POOLED[1] + 1)

    def _encode(self, clips: list[torch.Tensor]) -> torch.Tensor:
        z = self.autoencoder.encode(video_to_tensor(torch.stack(clips)).to(self.device)).float().cpu()
        where = F.adaptive_avg_pool3d(z, (1, *POOLED)).flatten(1)
        motion = (z[:, :, 1:] - z[:, :, :-1]).abs().mean(dim=(2, 3, 4)) if z.shape[2] > 1 else torch.zeros(z.shape[:2])
        return torch.cat([where, motion], dim=1)

    @torch.no_grad()
    def encode_videos(self, videos: Sequence[np.ndarray | torch.Tensor]) -> np.ndarray:
        """Features (N, 5 C) of uint8 clips (T, H, W, 3), T a multiple of the temporal compression."""
        return encode_clips(videos, self.batch_size, self._encode)
