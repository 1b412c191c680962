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

from .batching import embed_frames
from .weights import DEFAULT_DINO_ARCH, checked_weights, load_error

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
        patch = getattr(getattr(network, "patch_embed", None), "patch_size", 16)
        self.patch_size = int(patch[0] if isinstance(patch, (tuple, list)) else patch)
        self.fingerprint = fingerprint
        self.weights_file: Path | None = None
        self.weights_sha256: str | None = None

    @classmethod
    def load(cls, path: str | Path | None = None, arch: str = DEFAULT_DINO_ARCH, weights_dir: str | Path | None = None,
             device: str = "cpu", batch_size: int = 16) -> "DINO":
        """Load a DINO ViT backbone state dict (.pth/.pt/.bin, or .safetensors) from a local file."""
        path, sha = checked_weights("dino", path, weights_dir, arch)
        network = dino_vit(arch)
        try:
            if path.suffix == ".safetensors":
                state = load_file(str(path))
            else:
                state = torch.load(path, map_location="cpu", weights_only=True)
            network.load_state_dict(state)
        except Exception as err:  # junk file or another architecture's weights: one clear line
            raise load_error("dino", path, err) from err
        model = cls(network, device, batch_size, fingerprint=f"dino-{arch}-{sha}")
        model.weights_file, model.weights_sha256 = path, sha
        return model

    def describe_preprocessing(self, num_frames: int | None) -> str:
        """How frames are taken and resized, for the provenance of a result."""
        frames = f"{num_frames} frames spread uniformly" if num_frames else "all frames"
        return (f"{frames}; each video's shorter side resized to {self.size} (bilinear, no antialias, no crop), "
                "ImageNet mean/std (VBench dino_transform)")

    def preprocess(self, frames: torch.Tensor) -> torch.Tensor:
        """uint8 (N, H, W, 3) -> float (N, 3, h, w), shorter side `size` (VBench `dino_transform`). The
        bottom/right pixels beyond a multiple of the patch size are dropped, as DINO's stride-16 patch
        convolution ignores them (timm's ViT would refuse such a frame: 16:9 video gives 224x398)."""
        x = TF.resize(frames.permute(0, 3, 1, 2), [self.size], antialias=False)
        patch = self.patch_size
        x = x[..., : x.shape[-2] // patch * patch, : x.shape[-1] // patch * patch]
        return TF.normalize(x.float() / 255.0, IMAGENET_MEAN, IMAGENET_STD)

    def _forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.network(pixels.to(self.device))

    @torch.no_grad()
    def image_features(self, frames: np.ndarray | torch.Tensor) -> torch.Tensor:
        """L2-normalized CLS features (N, D) of uint8 frames (N, H, W, 3)."""
        feats = embed_frames([frames], self.preprocess, self._forward, self.batch_size)[0]
        return nn.functional.normalize(torch.from_numpy(feats), dim=-1)

    @torch.no_grad()
    def encode_videos(self, videos: list[np.ndarray]) -> list[np.ndarray]:
        """Per-frame L2-normalized features of each video (videos may differ in size: each is resized on
        its own); frames of videos with the same resized shape go through the network together."""
        feats = embed_frames(videos, self.preprocess, self._forward, self.batch_size)
        return [nn.functional.normalize(torch.from_numpy(f), dim=-1).numpy() for f in feats]
