"""DINO ViT image features for subject consistency (VBench `subject_consistency.py`).

VBench loads facebookresearch/dino's ViT-B/16 and preprocesses each frame with `dino_transform(224)`:
resize the shorter side to 224 (bilinear, no antialiasing, no crop), scale to [0, 1], ImageNet mean/std;
the feature is the final-norm CLS token. The network here is timm's VisionTransformer, whose parameter
names equal DINO's, so `dino_vitbase16_pretrain.pth` (or timm's `model.safetensors` of
`vit_base_patch16_224.dino`) loads unchanged; positional embeddings are resampled for non-square frames.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import timm
import torch
import torchvision.transforms.v2.functional as TF
from safetensors.torch import load_file
from torch import nn

from .weights import DEFAULT_DINO_ARCH, file_fingerprint, resolve_weights

IMAGENET_MEAN, IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def dino_vit(arch: str = DEFAULT_DINO_ARCH) -> nn.Module:
    """A timm ViT with DINO's layout (CLS pooling, no head), accepting any frame size."""
    return timm.create_model(arch, pretrained=False, num_classes=0, dynamic_img_size=True)


class DINO:
    """DINO frame features: `DINO.load(path)` or `DINO(network)`; `encode_videos` gives (T, D) per video."""

    def __init__(self, network: nn.Module, device: str = "cpu", batch_size: int = 16, size: int = 224,
                 fingerprint: str | None = None):
        self.network = network.eval().to(device)
        self.device, self.batch_size, self.size = device, batch_size, size
        self.fingerprint = fingerprint

    @classmethod
    def load(cls, path: str | Path | None = None, arch: str = DEFAULT_DINO_ARCH, weights_dir: str | Path | None = None,
             device: str = "cpu", batch_size: int = 16) -> "DINO":
        """Load a DINO ViT backbone state dict (.pth/.pt/.bin, or .safetensors) from a local file."""
        if path is None and arch != DEFAULT_DINO_ARCH:
            raise ValueError(f"DINO architecture {arch} needs its checkpoint path (--dino-weights PATH)")
        path = resolve_weights("dino", path, weights_dir)
        if path.suffix == ".safetensors":
            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
        network = dino_vit(arch)
        try:
            network.load_state_dict(state)
        except RuntimeError as err:
            raise ValueError(f"{path} is not a {arch} DINO backbone state dict: {err}") from err
        return cls(network, device, batch_size, fingerprint=f"dino-{arch}-{file_fingerprint(path)}")

    def preprocess(self, frames: torch.Tensor) -> torch.Tensor:
        """uint8 (N, H, W, 3) -> float (N, 3, h, w), shorter side `size` (VBench `dino_transform`)."""
        x = TF.resize(frames.permute(0, 3, 1, 2), [self.size], antialias=False)
        return TF.normalize(x.float() / 255.0, IMAGENET_MEAN, IMAGENET_STD)

    @torch.no_grad()
    def image_features(self, frames: np.ndarray | torch.Tensor) -> torch.Tensor:
        """L2-normalized CLS features (N, D) of uint8 frames (N, H, W, 3)."""
        frames = torch.as_tensor(np.asarray(frames))
        out = [
            self.network(self.preprocess(frames[i:i + self.batch_size]).to(self.device)).float()
            for i in range(0, len(frames), self.batch_size)
        ]
        return nn.functional.normalize(torch.cat(out), dim=-1).cpu()

    def encode_videos(self, videos: list[np.ndarray]) -> list[np.ndarray]:
        """Per-frame features of each video; frames of all videos go through the network together."""
        feats = self.image_features(np.concatenate(videos)).numpy()
        return np.split(feats, np.cumsum([len(v) for v in videos])[:-1])
