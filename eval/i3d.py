"""I3D (Inception-v1 inflated to 3D, Kinetics-400) for FVD features: the 400 logits before the softmax,
averaged over time, of 16 consecutive frames (StyleGAN-V `src/metrics/frechet_video_distance.py`).

Two published weight files load, and they give different numbers (report which one you used):
- StyleGAN-V's TorchScript `i3d_torchscript.pt` (the TF-Hub I3D of the original TF FVD; its weights differ
  from pytorch-i3d's) is called exactly as StyleGAN-V calls it: uint8 clips (B, 3, T, H, W) and
  `rescale=True, resize=True, return_features=True`, so the detector maps [0, 255] to [-1, 1] and resizes
  to 224x224 itself.
- pytorch-i3d's state dict `i3d_pretrained_400.pt` (TATS, cd-fvd) loads into `InceptionI3d` below, which
  has pytorch-i3d's parameter names; its input is prepared as cd-fvd's `preprocess_i3d` does: every frame
  resized to 224x224 (bilinear, align_corners=False, no antialiasing, aspect ratio not kept), values mapped
  from [0, 255] to [-1, 1].
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import List, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .batching import encode_clips, group_by_shape
from .weights import checked_weights, load_error

I3D_SIZE = 224
I3D_MIN_FRAMES = 9  # three stride-2 temporal poolings must leave 2 steps for the final 2x7x7 average


def _same_padding(size: int, kernel: int, stride: int) -> Tuple[int, int]:
    pad = max(kernel - stride, 0) if size % stride == 0 else max(kernel - size % stride, 0)
    return pad // 2, pad - pad // 2


def _pad_same(x: torch.Tensor, kernel: List[int], stride: List[int]) -> torch.Tensor:
    """TensorFlow "SAME" zero padding, computed from the input size (as pytorch-i3d does)."""
    pt = _same_padding(x.shape[2], kernel[0], stride[0])
    ph = _same_padding(x.shape[3], kernel[1], stride[1])
    pw = _same_padding(x.shape[4], kernel[2], stride[2])
    return F.pad(x, [pw[0], pw[1], ph[0], ph[1], pt[0], pt[1]])


class Unit3D(nn.Module):
    """Conv3d (SAME padding) + BatchNorm + ReLU."""

    def __init__(self, cin: int, cout: int, kernel: Sequence[int] = (1, 1, 1), stride: Sequence[int] = (1, 1, 1),
                 batch_norm: bool = True, relu: bool = True, bias: bool = False):
        super().__init__()
        self.kernel, self.stride, self.relu = list(kernel), list(stride), relu
        self.conv3d = nn.Conv3d(cin, cout, kernel_size=tuple(kernel), stride=tuple(stride), bias=bias)
        self.bn = nn.BatchNorm3d(cout, eps=1e-5, momentum=0.001) if batch_norm else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.conv3d(_pad_same(x, self.kernel, self.stride)))
        return F.relu(x) if self.relu else x


class MaxPool3dSame(nn.Module):
    """Max pooling with TF "SAME" zero padding."""

    def __init__(self, kernel: Sequence[int], stride: Sequence[int]):
        super().__init__()
        self.kernel, self.stride = list(kernel), list(stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool3d(_pad_same(x, self.kernel, self.stride), self.kernel, self.stride)


class InceptionModule(nn.Module):
    """Four branches: 1x1; 1x1 -> 3x3x3; 1x1 -> 3x3x3; 3x3x3 max-pool -> 1x1."""

    def __init__(self, cin: int, c: Sequence[int]):
        super().__init__()
        self.b0 = Unit3D(cin, c[0])
        self.b1a, self.b1b = Unit3D(cin, c[1]), Unit3D(c[1], c[2], (3, 3, 3))
        self.b2a, self.b2b = Unit3D(cin, c[3]), Unit3D(c[3], c[4], (3, 3, 3))
        self.b3a, self.b3b = MaxPool3dSame((3, 3, 3), (1, 1, 1)), Unit3D(cin, c[5])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x))], dim=1)


class InceptionI3d(nn.Module):
    """I3D up to the Kinetics logits; input (B, 3, T, 224, 224) in [-1, 1], output (B, num_classes)."""

    def __init__(self, num_classes: int = 400):
        super().__init__()
        self.Conv3d_1a_7x7 = Unit3D(3, 64, (7, 7, 7), (2, 2, 2))
        self.MaxPool3d_2a_3x3 = MaxPool3dSame((1, 3, 3), (1, 2, 2))
        self.Conv3d_2b_1x1 = Unit3D(64, 64)
        self.Conv3d_2c_3x3 = Unit3D(64, 192, (3, 3, 3))
        self.MaxPool3d_3a_3x3 = MaxPool3dSame((1, 3, 3), (1, 2, 2))
        self.Mixed_3b = InceptionModule(192, [64, 96, 128, 16, 32, 32])
        self.Mixed_3c = InceptionModule(256, [128, 128, 192, 32, 96, 64])
        self.MaxPool3d_4a_3x3 = MaxPool3dSame((3, 3, 3), (2, 2, 2))
        self.Mixed_4b = InceptionModule(480, [192, 96, 208, 16, 48, 64])
        self.Mixed_4c = InceptionModule(512, [160, 112, 224, 24, 64, 64])
        self.Mixed_4d = InceptionModule(512, [128, 128, 256, 24, 64, 64])
        self.Mixed_4e = InceptionModule(512, [112, 144, 288, 32, 64, 64])
        self.Mixed_4f = InceptionModule(528, [256, 160, 320, 32, 128, 128])
        self.MaxPool3d_5a_2x2 = MaxPool3dSame((2, 2, 2), (2, 2, 2))
        self.Mixed_5b = InceptionModule(832, [256, 160, 320, 32, 128, 128])
        self.Mixed_5c = InceptionModule(832, [384, 192, 384, 48, 128, 128])
        self.avg_pool = nn.AvgPool3d((2, 7, 7), stride=(1, 1, 1))
        self.logits = Unit3D(1024, num_classes, batch_norm=False, relu=False, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.MaxPool3d_2a_3x3(self.Conv3d_1a_7x7(x))
        x = self.MaxPool3d_3a_3x3(self.Conv3d_2c_3x3(self.Conv3d_2b_1x1(x)))
        x = self.MaxPool3d_4a_3x3(self.Mixed_3c(self.Mixed_3b(x)))
        x = self.Mixed_4f(self.Mixed_4e(self.Mixed_4d(self.Mixed_4c(self.Mixed_4b(x)))))
        x = self.Mixed_5c(self.Mixed_5b(self.MaxPool3d_5a_2x2(x)))
        x = self.logits(self.avg_pool(x))  # (B, classes, T', 1, 1); dropout is a no-op in eval
        return x.squeeze(4).squeeze(3).mean(dim=2)


@torch.no_grad()
def fold_batch_norm(network: nn.Module) -> nn.Module:
    """A copy of `network` with every Unit3D's inference-mode BatchNorm folded into its convolution
    (w * g / sqrt(v + eps), b' = beta + (b - mean) * g / sqrt(v + eps)): the same function, one pass
    over the activations fewer per layer."""
    import copy

    network = copy.deepcopy(network).eval()
    for unit in network.modules():
        if isinstance(unit, Unit3D) and isinstance(unit.bn, nn.BatchNorm3d):
            conv, bn = unit.conv3d, unit.bn
            scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            fused = nn.Conv3d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, bias=True)
            fused.weight.copy_(conv.weight * scale.reshape(-1, 1, 1, 1, 1))
            bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
            fused.bias.copy_(bn.bias + (bias - bn.running_mean) * scale)
            unit.conv3d, unit.bn = fused.to(conv.weight.device), nn.Identity()
    return network


def preprocess_i3d(videos: torch.Tensor) -> torch.Tensor:
    """uint8 (B, T, H, W, 3) -> float (B, 3, T, 224, 224) in [-1, 1] (cd-fvd `preprocess_i3d`)."""
    b, t, h, w, c = videos.shape
    frames = videos.reshape(b * t, h, w, c).permute(0, 3, 1, 2).float()
    frames = F.interpolate(frames, size=(I3D_SIZE, I3D_SIZE), mode="bilinear", align_corners=False)
    frames = frames.reshape(b, t, c, I3D_SIZE, I3D_SIZE).transpose(1, 2)
    return 2.0 * frames / 255.0 - 1.0


def _is_torchscript(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as zf:
        return any("/code/" in name for name in zf.namelist())


class I3D:
    """FVD feature extractor: `I3D.load(path)` or `I3D(network)`; `encode_videos(videos)` -> (N, 400)."""

    def __init__(self, network: nn.Module, torchscript: bool = False, device: str = "cpu",
                 batch_size: int = 8, fingerprint: str | None = None):
        self.network = network.eval().to(device)
        # inference copy of a state-dict network: BatchNorm folded into the convolutions and channels-last
        # memory layout (faster 3D convolutions; the same function up to float rounding)
        self._forward = self.network if torchscript else fold_batch_norm(self.network).to(
            memory_format=torch.channels_last_3d)
        self.torchscript, self.device, self.batch_size = torchscript, device, batch_size
        self.fingerprint = fingerprint
        self.num_features = 400
        self.weights_file: Path | None = None
        self.weights_sha256: str | None = None

    @classmethod
    def load(cls, path: str | Path | None = None, weights_dir: str | Path | None = None,
             device: str = "cpu", batch_size: int = 8) -> "I3D":
        """Load StyleGAN-V's `i3d_torchscript.pt` or pytorch-i3d's `i3d_pretrained_400.pt`."""
        path, sha = checked_weights("i3d", path, weights_dir)
        try:
            if _is_torchscript(path):
                model = cls(torch.jit.load(str(path), map_location=device), True, device, batch_size, "i3d-ts-" + sha)
            else:
                network = InceptionI3d()
                network.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
                model = cls(network, False, device, batch_size, "i3d-sd-" + sha)
        except Exception as err:  # any failure to read the file is the file's fault: one clear line
            raise load_error("i3d", path, err) from err
        model.weights_file, model.weights_sha256 = path, sha
        return model

    def describe_preprocessing(self, num_frames: int, stride: int) -> str:
        """How clips are taken and resized, for the provenance of a result."""
        resize = ("resized by StyleGAN-V's TorchScript detector itself (rescale=True, resize=True)" if self.torchscript
                  else "each video resized to 224x224 (bilinear, align_corners=False, no antialias, aspect ratio not "
                       "kept), values to [-1, 1] (cd-fvd preprocess_i3d)")
        return f"first {num_frames} frames at stride {stride} from frame 0; {resize}; I3D Kinetics-400 logits"

    def _torchscript_forward(self, clips: list[torch.Tensor]) -> torch.Tensor:
        """The detector resizes inside: clips of one size share a call, others get their own."""
        out: list[torch.Tensor | None] = [None] * len(clips)
        for members in group_by_shape(clips).values():
            x = torch.stack([clips[i] for i in members]).permute(0, 4, 1, 2, 3).contiguous().to(self.device)
            y = self.network(x, rescale=True, resize=True, return_features=True).float().cpu()
            for i, row in zip(members, y):
                out[i] = row
        return torch.stack(out)  # type: ignore[arg-type]

    @staticmethod
    def _preprocess(clips: list[torch.Tensor]) -> torch.Tensor:
        """cd-fvd's preprocessing of each clip on its own size; clips of one size in one call."""
        out: list[torch.Tensor | None] = [None] * len(clips)
        for members in group_by_shape(clips).values():
            for i, x in zip(members, preprocess_i3d(torch.stack([clips[i] for i in members]))):
                out[i] = x
        return torch.stack(out)  # type: ignore[arg-type]

    def _encode(self, clips: list[torch.Tensor]) -> torch.Tensor:
        if clips[0].shape[0] < I3D_MIN_FRAMES:
            raise ValueError(f"I3D needs at least {I3D_MIN_FRAMES} frames per clip, got {clips[0].shape[0]}")
        if self.torchscript:
            return self._torchscript_forward(clips)
        return self._forward(self._preprocess(clips).to(self.device).contiguous(memory_format=torch.channels_last_3d))

    @torch.no_grad()
    def encode_videos(self, videos: Sequence[np.ndarray | torch.Tensor]) -> np.ndarray:
        """I3D logits of each video (all with the same frame count, >= 9; 16 for standard FVD). Videos may
        differ in size: each is resized to 224x224 on its own before batching."""
        lengths = {len(v) for v in videos}
        if len(lengths) > 1:
            raise ValueError(f"I3D clips must have one frame count, got {sorted(lengths)}")
        return encode_clips(videos, self.batch_size, self._encode)
