"""A small video autoencoder for real-time decoding on a CPU (the bundled model's latent space).

Each latent frame encodes a group of ``temporal_compression`` video frames, and groups are coded
independently: time is folded into channels (space-to-depth in time), ``patch_size`` pixels too, and
a 2D conv network compresses space further by ``2 ** len(widths)``. Independent groups make chunk-by-chunk streaming decode exact (no state
between chunks) and cheap; the price is possible seams between groups, which the eval's seam score
measures. diffusers has no tiny video autoencoder (NOTES.md), hence this module.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

AE_TYPE = "streamdit-video-ae"


@dataclass
class VideoAutoencoderConfig:
    latent_channels: int = 8
    temporal_compression: int = 4
    patch_size: int = 2  # pixels folded into channels at both ends (cheap full-resolution layers)
    widths: tuple[int, ...] = (32, 96)  # one stride-2 stage per entry, highest resolution first
    latent_scale: float = 1.0  # latents are (z - latent_shift) * latent_scale: unit variance for the DiT
    latent_shift: float = 0.0

    def __post_init__(self) -> None:
        self.widths = tuple(self.widths)


class ResBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.silu(self.conv1(F.silu(x))))


class VideoAutoencoder(nn.Module):
    """Encoder/decoder over groups of frames; implements the :class:`~streamdit.autoencoder.Autoencoder` protocol."""

    def __init__(self, config: VideoAutoencoderConfig) -> None:
        super().__init__()
        self.config = cfg = config
        group_channels = 3 * cfg.temporal_compression * cfg.patch_size ** 2
        w = cfg.widths
        enc: list[nn.Module] = [nn.PixelUnshuffle(cfg.patch_size), nn.Conv2d(group_channels, w[0], 3, padding=1)]
        for i, width in enumerate(w):
            nxt = w[i + 1] if i + 1 < len(w) else w[-1]
            enc += [nn.SiLU(), nn.Conv2d(width, nxt, 4, stride=2, padding=1)]
        enc += [ResBlock(w[-1]), nn.SiLU(), nn.Conv2d(w[-1], cfg.latent_channels, 3, padding=1)]
        self.encoder = nn.Sequential(*enc)
        dec: list[nn.Module] = [nn.Conv2d(cfg.latent_channels, w[-1], 3, padding=1), ResBlock(w[-1])]
        for i in reversed(range(len(w))):
            prev = w[i + 1] if i + 1 < len(w) else w[-1]
            dec += [nn.SiLU(), nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(prev, w[i], 3, padding=1)]
        dec += [nn.SiLU(), nn.Conv2d(w[0], group_channels, 3, padding=1), nn.PixelShuffle(cfg.patch_size)]
        self.decoder = nn.Sequential(*dec)

    # protocol attributes
    @property
    def latent_channels(self) -> int:
        return self.config.latent_channels

    @property
    def temporal_compression(self) -> int:
        return self.config.temporal_compression

    @property
    def spatial_compression(self) -> int:
        return self.config.patch_size * 2 ** len(self.config.widths)

    def _groups(self, video: torch.Tensor) -> tuple[torch.Tensor, int]:
        n, c, t, h, w = video.shape
        g = self.temporal_compression
        if c != 3 or t % g:
            raise ValueError(f"expected video (N, 3, T, H, W) with T a multiple of {g}, got {tuple(video.shape)}")
        if h % self.spatial_compression or w % self.spatial_compression:
            raise ValueError(f"video height/width {(h, w)} must be multiples of {self.spatial_compression}")
        # (N, 3, T/g, g, H, W) -> (N * T/g, 3 * g, H, W)
        x = video.view(n, 3, t // g, g, h, w).permute(0, 2, 1, 3, 4, 5).reshape(n * t // g, 3 * g, h, w)
        return x, n

    def encode_raw(self, video: torch.Tensor) -> torch.Tensor:
        x, n = self._groups(video)
        z = self.encoder(x)
        return z.view(n, -1, *z.shape[1:]).transpose(1, 2)

    def decode_raw(self, z: torch.Tensor) -> torch.Tensor:
        n, c, t, h, w = z.shape
        x = self.decoder(z.transpose(1, 2).reshape(n * t, c, h, w))
        g = self.temporal_compression
        x = x.view(n, t, 3, g, *x.shape[-2:]).permute(0, 2, 1, 3, 4, 5)
        return x.reshape(n, 3, t * g, *x.shape[-2:])

    def encode(self, video: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        return (self.encode_raw(video) - cfg.latent_shift) * cfg.latent_scale

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        return self.decode_raw(latents / cfg.latent_scale + cfg.latent_shift)

    def save_pretrained(self, directory: str | Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "config.json").write_text(json.dumps({"type": AE_TYPE, **asdict(self.config)}, indent=2) + "\n")
        save_file({k: v.contiguous() for k, v in self.state_dict().items()}, str(directory / "model.safetensors"))

    @classmethod
    def from_pretrained(cls, directory: str | Path, device: str | torch.device = "cpu") -> "VideoAutoencoder":
        directory = Path(directory)
        config = json.loads((directory / "config.json").read_text())
        if config.pop("type", None) != AE_TYPE:
            raise ValueError(f"{directory} is not a {AE_TYPE} directory")
        weights = directory / "model.safetensors"
        if not weights.is_file():
            raise FileNotFoundError(f"{weights} not found")
        model = cls(VideoAutoencoderConfig(**config))
        model.load_state_dict(load_file(str(weights)))
        return model.to(device).eval()
